/* Unit tests of the write-back buffer's scattered pieces (daemon/pieces.h). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "pieces.h"

/* The set is sorted, disjoint, and its byte count and end are right. */
static void check_shape(const struct wpieces *s)
{
	size_t bytes = 0;

	for (unsigned i = 0; i < s->n; i++) {
		cr_assert_gt(s->x[i].len, 0, "piece %u is empty", i);
		if (i > 0)
			cr_assert_leq(s->x[i - 1].off + s->x[i - 1].len,
				      s->x[i].off, "pieces %u and %u overlap",
				      i - 1, i);
		cr_assert_leq(s->x[i].off + s->x[i].len, wp_end(s));
		bytes += s->x[i].len;
	}
	cr_assert_eq(bytes, s->bytes);
}

Test(pieces, put_merges_adjacent_and_overwrites)
{
	struct wpieces s = {0};
	char b[16];

	cr_assert_eq(wp_put(&s, 100, "aaaa", 4), 0);
	cr_assert_eq(wp_put(&s, 104, "bbbb", 4), 0); /* grows the first */
	cr_assert_eq(s.n, 1);
	cr_assert_eq(s.x[0].len, 8);
	cr_assert_eq(wp_put(&s, 50, "cc", 2), 0);
	cr_assert_eq(s.n, 2);
	cr_assert_eq(wp_put(&s, 102, "XX", 2), 0); /* inside: split + new */
	check_shape(&s);
	memset(b, '.', sizeof(b));
	wp_overlay(&s, 98, b, 12);
	cr_assert_arr_eq(b, "..aaXXbbbb..", 12);
	cr_assert_eq(wp_end(&s), 108);
	wp_free(&s);
	cr_assert_eq(s.n, 0);
	cr_assert_eq(s.bytes, 0);
	cr_assert_eq(wp_end(&s), 0);
}

Test(pieces, punch_cuts_heads_tails_and_wholes)
{
	struct wpieces s = {0};
	char b[32];

	wp_put(&s, 0, "0123456789", 10);
	wp_put(&s, 20, "abcdefghij", 10);
	cr_assert_eq(wp_punch(&s, 5, 20), 0); /* tail of one, head of next */
	check_shape(&s);
	cr_assert_eq(s.n, 2);
	cr_assert_eq(s.bytes, 10);
	memset(b, '.', sizeof(b));
	wp_overlay(&s, 0, b, 30);
	cr_assert_arr_eq(b, "01234....................fghij", 30);
	cr_assert_eq(wp_punch(&s, 0, 100), 0); /* everything */
	cr_assert_eq(s.n, 0);
	cr_assert_eq(s.bytes, 0);
	cr_assert_eq(wp_end(&s), 0,
		     "no pieces, no end (a stale one raised the "
		     "size of a file truncated since: fsx seed 44)");
	wp_free(&s);
}

/* Random puts and punches against a byte array, the newest byte winning. */
Test(pieces, model)
{
	enum { SIZE = 1 << 16 };
	static char model[SIZE], have[SIZE], got[SIZE], data[4096];
	struct wpieces s = {0};
	unsigned seed = 12345;

	for (int round = 0; round < 20000; round++) {
		uint64_t off = (uint64_t)rand_r(&seed) % (SIZE - 4096);
		size_t len = 1 + (size_t)rand_r(&seed) %
					 (rand_r(&seed) % 4 ? 64 : 4096);

		if (round % 3001 == 3000) { /* everything, now and then */
			off = 0;
			len = SIZE;
		}
		if (len == SIZE || rand_r(&seed) % 5 == 0) {
			cr_assert_eq(wp_punch(&s, off, len), 0);
			memset(have + off, 0, len);
		} else {
			for (size_t i = 0; i < len; i++)
				data[i] = (char)rand_r(&seed);
			cr_assert_eq(wp_put(&s, off, data, len), 0);
			memcpy(model + off, data, len);
			memset(have + off, 1, len);
		}
		if (round % 500 == 0 || round % 3001 == 3000 ||
		    round == 19999) {
			size_t end = SIZE;

			while (end > 0 && !have[end - 1])
				end--;
			cr_assert_eq(wp_end(&s), end, "round %d: the end",
				     round);
			check_shape(&s);
			memset(got, 0, sizeof(got));
			wp_overlay(&s, 0, got, SIZE);
			for (size_t i = 0; i < SIZE; i++)
				cr_assert_eq(got[i], have[i] ? model[i] : 0,
					     "round %d byte %zu", round, i);
			/* and pieces only where something was put */
			for (unsigned i = 0; i < s.n; i++)
				for (size_t k = 0; k < s.x[i].len; k++)
					cr_assert(have[s.x[i].off + k]);
		}
	}
	/* an overlay of a window inside */
	memset(got, 0, sizeof(got));
	wp_overlay(&s, 1000, got, 3000);
	for (size_t i = 0; i < 3000; i++)
		cr_assert_eq(got[i], have[1000 + i] ? model[1000 + i] : 0);
	wp_free(&s);
}
