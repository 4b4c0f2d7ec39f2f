/*
 * Unit tests of the pure lock logic (fs/lock.h): range split and merge
 * (drfs_lk_apply) against a byte-map model, conflict detection, the
 * lease judgement, when a delegation may be taken and used (node-local
 * grants), and which parked requests a write grants (drfs_lk_grant).  No
 * cluster needed.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "lock.h"

#define EOFB UINT64_MAX

static struct drfs_lk L(uint64_t s, uint64_t e, int type) {
	struct drfs_lk lk = {s, e, type, 0};

	return lk;
}

/* Is @lk in out[0..n)? */
static bool
has(const struct drfs_lk *out, int n, struct drfs_lk lk)
{
	for (int i = 0; i < n; i++)
		if (out[i].start == lk.start && out[i].end == lk.end &&
		    out[i].type == lk.type)
			return true;
	return false;
}

Test(lock, overlap_and_conflict)
{
	struct drfs_lk a = L(10, 19, F_RDLCK), b = L(19, 30, F_RDLCK);
	struct drfs_lk c = L(20, 30, F_WRLCK), d = L(0, EOFB, F_WRLCK);

	cr_assert(drfs_lk_overlap(&a, &b)); /* one shared byte: 19 */
	cr_assert(!drfs_lk_overlap(&a, &c)); /* adjacent is not overlap */
	cr_assert(drfs_lk_overlap(&d, &c));
	cr_assert(!drfs_lk_conflict(&a, &b)); /* two readers */
	cr_assert(drfs_lk_conflict(&b, &c)); /* reader vs writer */
	cr_assert(drfs_lk_conflict(&c, &b));
	cr_assert(!drfs_lk_conflict(&a, &c)); /* writer, but disjoint */
	cr_assert(drfs_lk_conflict(&d, &d));
	b = L(EOFB, EOFB, F_RDLCK);
	cr_assert(drfs_lk_conflict(&d, &b)); /* the last byte */
}

Test(lock, split_unlock_in_the_middle)
{
	struct drfs_lk mine[1] = {L(0, 99, F_WRLCK)}, out[3];
	struct drfs_lk un = L(40, 59, F_UNLCK);
	int n = drfs_lk_apply(mine, 1, &un, out);

	cr_assert_eq(n, 2);
	cr_assert(has(out, n, L(0, 39, F_WRLCK)));
	cr_assert(has(out, n, L(60, 99, F_WRLCK)));
}

Test(lock, downgrade_part_splits_in_three)
{
	struct drfs_lk mine[1] = {L(0, EOFB, F_WRLCK)}, out[3];
	struct drfs_lk rd = L(10, 19, F_RDLCK);
	int n = drfs_lk_apply(mine, 1, &rd, out);

	cr_assert_eq(n, 3);
	cr_assert(has(out, n, L(0, 9, F_WRLCK)));
	cr_assert(has(out, n, L(10, 19, F_RDLCK)));
	cr_assert(has(out, n, L(20, EOFB, F_WRLCK)));
}

Test(lock, merge_adjacent_same_type)
{
	struct drfs_lk mine[2] = {L(0, 9, F_RDLCK), L(20, 29, F_RDLCK)};
	struct drfs_lk out[4], lk = L(10, 19, F_RDLCK);
	int n = drfs_lk_apply(mine, 2, &lk, out);

	cr_assert_eq(n, 1);
	cr_assert(has(out, n, L(0, 29, F_RDLCK)));
	/* a different type next door is not merged */
	lk = L(10, 19, F_WRLCK);
	n = drfs_lk_apply(mine, 2, &lk, out);
	cr_assert_eq(n, 3);
	cr_assert(has(out, n, L(10, 19, F_WRLCK)));
}

Test(lock, unlock_all_and_nothing)
{
	struct drfs_lk mine[2] = {L(0, 9, F_RDLCK), L(20, EOFB, F_WRLCK)};
	struct drfs_lk out[4], all = L(0, EOFB, F_UNLCK);

	cr_assert_eq(drfs_lk_apply(mine, 2, &all, out), 0);
	cr_assert_eq(drfs_lk_apply(NULL, 0, &all, out), 0);
	/* flock: a whole-file lock on nothing is one range */
	all.type = F_WRLCK;
	cr_assert_eq(drfs_lk_apply(NULL, 0, &all, out), 1);
	cr_assert(has(out, 1, L(0, EOFB, F_WRLCK)));
}

/*
 * Random sequences against a model: one type per byte for bytes 0..M-2,
 * byte M-1 standing for every byte from M-1 to EOF.
 */
#define M 48
static void model_apply(int *bytes, const struct drfs_lk *lk)
{
	for (uint64_t b = 0; b < M; b++) {
		uint64_t pos = b == M - 1 ? EOFB : b;

		if (b == M - 1 ? lk->end == EOFB
			       : (lk->start <= pos && pos <= lk->end))
			bytes[b] = lk->type;
	}
}

static void check_against(const int *bytes, const struct drfs_lk *r, int n)
{
	int seen[M];

	for (int b = 0; b < M; b++)
		seen[b] = F_UNLCK;
	for (int i = 0; i < n; i++) {
		cr_assert(r[i].start <= r[i].end);
		cr_assert(r[i].type == F_RDLCK || r[i].type == F_WRLCK);
		cr_assert(r[i].end == EOFB || r[i].end < M - 1);
		for (int j = 0; j < n; j++) {
			if (i == j)
				continue;
			cr_assert(!drfs_lk_overlap(&r[i], &r[j]),
				  "ranges %d and %d overlap", i, j);
			/* merged as far as Linux merges */
			cr_assert(r[i].type != r[j].type || r[i].end == EOFB ||
					  r[i].end + 1 != r[j].start,
				  "same-type ranges left touching");
		}
		for (int b = 0; b < M; b++) {
			uint64_t pos = b == M - 1 ? EOFB : (uint64_t)b;

			if (r[i].start <= pos && pos <= r[i].end)
				seen[b] = r[i].type;
		}
	}
	for (int b = 0; b < M; b++)
		cr_assert_eq(seen[b], bytes[b], "byte %d: %d, model %d", b,
			     seen[b], bytes[b]);
}

Test(lock, random_against_byte_model)
{
	static const int types[3] = {F_RDLCK, F_WRLCK, F_UNLCK};

	srand(14);
	for (int round = 0; round < 2000; round++) {
		struct drfs_lk cur[M + 2], out[M + 4];
		int bytes[M], n = 0;

		for (int b = 0; b < M; b++)
			bytes[b] = F_UNLCK;
		for (int step = 0; step < 12; step++) {
			struct drfs_lk lk;
			uint64_t s = (uint64_t)(rand() % (M - 1));

			lk.start = s;
			lk.end = rand() % 4 == 0
					 ? EOFB
					 : s + (uint64_t)(rand() %
							  (int)(M - 1 - s));
			lk.type = types[rand() % 3];
			lk.pid = (uint32_t)step;
			n = drfs_lk_apply(cur, n, &lk, out);
			cr_assert(n <= M + 2);
			memcpy(cur, out, (size_t)n * sizeof(*out));
			model_apply(bytes, &lk);
			check_against(bytes, cur, n);
		}
	}
}

Test(lock, lease_expiry_allows_skew)
{
	int64_t exp = 100 * 1000000000ll;

	cr_assert(!drfs_lease_expired(exp, exp));
	cr_assert(!drfs_lease_expired(exp, exp + DRFS_LEASE_SKEW_NS - 1));
	cr_assert(drfs_lease_expired(exp, exp + DRFS_LEASE_SKEW_NS));
	cr_assert(!drfs_lease_expired(exp, exp - 5 * 1000000000ll));
}

Test(lock, lease_judge)
{
	const int64_t s = 1000000000ll, lease = DRFS_LEASE * s;
	int64_t since = 1000 * s;

	/* never renewed */
	cr_assert(!drfs_lease_judge(since + 2 * lease, 0, since));
	/* renewing, but not yet for a whole lease (e.g. just mounted) */
	cr_assert(
		!drfs_lease_judge(since + lease - 1, since + lease - s, since));
	/* a whole lease of renewals, the last one recent */
	cr_assert(drfs_lease_judge(since + lease, since + lease - s, since));
	/* the last renewal is older than the allowed gap: the cluster may
	 * have been away for us too */
	cr_assert(!drfs_lease_judge(since + lease + DRFS_LEASE_GAP_NS + 1,
				    since + lease, since));
	cr_assert(drfs_lease_judge(since + lease + DRFS_LEASE_GAP_NS,
				   since + lease, since));
}

Test(lock, deleg_local_ok_until_lease_margin)
{
	const int64_t s = 1000000000ll, until = 1000 * s;

	cr_assert(drfs_deleg_local_ok(until - 1, until, false, 0));
	cr_assert(drfs_deleg_local_ok(until - DRFS_LEASE * s, until, false, 0));
	/* at lease_until other nodes may be about to judge us: no more */
	cr_assert(!drfs_deleg_local_ok(until, until, false, 0));
	cr_assert(!drfs_deleg_local_ok(until + 1, until, false, 0));
	/* 0: no renewal has landed yet (just mounted, or rejoining), whatever
	 * the clock says */
	cr_assert(!drfs_deleg_local_ok(1, 0, false, 0));
	cr_assert(!drfs_deleg_local_ok(0, 0, false, 0));
	cr_assert(!drfs_deleg_local_ok(-1, 0, false, 0));
	cr_assert(!drfs_deleg_local_ok(INT64_MIN, 0, false, 0));
}

Test(lock, deleg_local_ok_fenced_or_watch_broken)
{
	const int64_t s = 1000000000ll, until = 1000 * s, now = until - s;

	cr_assert(!drfs_deleg_local_ok(now, until, true, 0));
	cr_assert(!drfs_deleg_local_ok(now, until, true, 1000));
	/* drfs_watch_check: ms since the last confirmation, or -errno */
	cr_assert(drfs_deleg_local_ok(now, until, false, 0));
	cr_assert(drfs_deleg_local_ok(now, until, false, 1));
	cr_assert(drfs_deleg_local_ok(now, until, false, 25000));
	cr_assert(!drfs_deleg_local_ok(now, until, false, -1));
	cr_assert(!drfs_deleg_local_ok(now, until, false, -ENOTCONN));
	cr_assert(!drfs_deleg_local_ok(now, until, false, INT_MIN));
}

Test(lock, deleg_may_take_streak_and_max)
{
	const int64_t s = 1000000000ll, cool = 30 * s, now = 5 * s;
	const int min = 2, max = 128;

	/* cool_since 0: never contended, even while now < cool */
	cr_assert(drfs_deleg_may_take(min, now, 0, 0, max, min, cool));
	cr_assert(drfs_deleg_may_take(min + 1, now, 0, 0, max, min, cool));
	cr_assert(!drfs_deleg_may_take(min - 1, now, 0, 0, max, min, cool));
	cr_assert(!drfs_deleg_may_take(0, now, 0, 0, max, min, cool));
	/* each one held has a watch: no more than max */
	cr_assert(drfs_deleg_may_take(min, now, 0, max - 1, max, min, cool));
	cr_assert(!drfs_deleg_may_take(min, now, 0, max, max, min, cool));
	cr_assert(!drfs_deleg_may_take(min, now, 0, max + 1, max, min, cool));
	cr_assert(!drfs_deleg_may_take(min, now, 0, 0, 0, min, cool));
}

Test(lock, deleg_may_take_cool_down)
{
	const int64_t s = 1000000000ll, cool = 30 * s, since = 1000 * s;
	const int min = 2, max = 128;

	cr_assert(!drfs_deleg_may_take(min, since, since, 0, max, min, cool));
	cr_assert(!drfs_deleg_may_take(min, since + cool - 1, since, 0, max,
				       min, cool));
	cr_assert(drfs_deleg_may_take(min, since + cool, since, 0, max, min,
				      cool));
	cr_assert(drfs_deleg_may_take(min, since + 2 * cool, since, 0, max, min,
				      cool));
	/* a long streak does not shorten the cool-down, nor does it lift
	 * the cap */
	cr_assert(!drfs_deleg_may_take(100, since + cool - 1, since, 0, max,
				       min, cool));
	cr_assert(!drfs_deleg_may_take(100, since + cool, since, max, max, min,
				       cool));
}

/* The lease bound of local grants, renewal after renewal (seconds). */
#define S(x) ((int64_t)(x)*1000000000)

Test(lock, lease_local_after_on_time_and_late)
{
	int64_t bound = 0, off = 0;
	const int64_t until = S(DRFS_LEASE) - DRFS_DELEG_MARGIN_NS;

	/* the first renewal of a session sets the bound from its send time */
	cr_assert_eq(
		drfs_lease_local_after(true, S(100), S(100) + 5, &bound, &off),
		S(100) + until);
	/* on time: landed before the bound the one before gave */
	cr_assert_eq(
		drfs_lease_local_after(false, S(104), S(105), &bound, &off),
		S(104) + until);
	/* late: sent before the bound, landed at it: off for a lease */
	cr_assert_eq(drfs_lease_local_after(false, S(108), S(104) + until,
					    &bound, &off),
		     0);
	cr_assert_eq(off, S(104) + until + S(DRFS_LEASE));
	/* renewals on time (every 4 s) within that lease keep them off */
	for (int64_t t = S(122); t < off; t += S(4))
		cr_assert_eq(drfs_lease_local_after(false, t, t + S(1) / 10,
						    &bound, &off),
			     0, "renewal sent at %lld ns", (long long)t);
	/* the first one landing after it turns them on again */
	{
		int64_t at = off, got;

		got = drfs_lease_local_after(false, at, at + 1, &bound, &off);
		cr_assert_eq(got, at + until);
		cr_assert_eq(bound, at + until);
	}
	/* a new session (rejoin) starts afresh */
	drfs_lease_local_after(false, S(900), S(900), &bound, &off);
	cr_assert_eq(drfs_lease_local_after(true, S(901), S(901), &bound, &off),
		     S(901) + until);
	cr_assert_eq(off, 0);
}

/* ---- drfs_lk_grant: which parked requests an op frees ---- */

static struct drfs_lkown O(uint64_t id, int kind, struct drfs_lk lk) {
	struct drfs_lkown o = {id, kind, lk};

	return o;
}

/* Does owner @id hold exactly @lk (of @kind) in held[0..n)? */
static bool
holds(const struct drfs_lkown *held, int n, uint64_t id, int kind,
      struct drfs_lk lk)
{
	for (int i = 0; i < n; i++)
		if (held[i].id == id && held[i].kind == kind &&
		    held[i].lk.start == lk.start && held[i].lk.end == lk.end &&
		    held[i].lk.type == lk.type)
			return true;
	return false;
}

Test(lock, grant_frees_only_what_conflicts_with_nobody)
{
	/* owner 1 holds a read lock of the file; 2 waits for a write lock
	 * of it, 3 for a read lock of bytes 0-9 */
	struct drfs_lkown held[16] = {O(1, DRFS_LK_FLOCK, L(0, EOFB, F_RDLCK))};
	struct drfs_lkown w[2] = {O(2, DRFS_LK_FLOCK, L(0, EOFB, F_WRLCK)),
				  O(3, DRFS_LK_FLOCK, L(0, 9, F_RDLCK))};
	bool g[2];
	int nh = 1;

	cr_assert_eq(drfs_lk_grant(held, &nh, 16, w, 2, g), 1);
	cr_assert(!g[0]); /* the writer still meets the reader */
	cr_assert(g[1]); /* readers share */
	cr_assert_eq(nh, 2);
	cr_assert(holds(held, nh, 3, DRFS_LK_FLOCK, L(0, 9, F_RDLCK)));
}

Test(lock, grant_in_order_each_sees_the_ones_before)
{
	/* nothing held any more (the unlock): two writers wait, the older
	 * first; only it is granted, the other now meets it */
	struct drfs_lkown held[16];
	struct drfs_lkown w[2] = {O(7, DRFS_LK_FLOCK, L(0, EOFB, F_WRLCK)),
				  O(5, DRFS_LK_FLOCK, L(0, EOFB, F_WRLCK))};
	bool g[2];
	int nh = 0;

	cr_assert_eq(drfs_lk_grant(held, &nh, 16, w, 2, g), 1);
	cr_assert(g[0] && !g[1]);
	cr_assert_eq(nh, 1);
	cr_assert(holds(held, nh, 7, DRFS_LK_FLOCK, L(0, EOFB, F_WRLCK)));
}

Test(lock, grant_kinds_do_not_conflict_and_ranges_merge)
{
	/* owner 1 holds fcntl write 0-99; owner 2 waits for flock (another
	 * kind: free) and owner 3, which holds fcntl write 200-299, waits
	 * for write 100-199 (free): its ranges merge into 100-299 */
	struct drfs_lkown held[16] = {
		O(1, DRFS_LK_POSIX, L(0, 99, F_WRLCK)),
		O(3, DRFS_LK_POSIX, L(200, 299, F_WRLCK))};
	struct drfs_lkown w[2] = {O(2, DRFS_LK_FLOCK, L(0, EOFB, F_WRLCK)),
				  O(3, DRFS_LK_POSIX, L(100, 199, F_WRLCK))};
	bool g[2];
	int nh = 2;

	cr_assert_eq(drfs_lk_grant(held, &nh, 16, w, 2, g), 2);
	cr_assert(g[0] && g[1]);
	cr_assert_eq(nh, 3);
	cr_assert(holds(held, nh, 1, DRFS_LK_POSIX, L(0, 99, F_WRLCK)));
	cr_assert(holds(held, nh, 2, DRFS_LK_FLOCK, L(0, EOFB, F_WRLCK)));
	cr_assert(holds(held, nh, 3, DRFS_LK_POSIX, L(100, 299, F_WRLCK)));
}

Test(lock, grant_that_shrinks_a_range_frees_an_earlier_waiter)
{
	/* owner 1 holds write 0-99 and waits for read 50-150 (owner 2's
	 * read 120-130 is no conflict for a read); owner 3 waits for read
	 * 60-70, which meets 1's write - until 1's grant turns 50-99 into a
	 * read lock: the next pass frees 3 too */
	struct drfs_lkown held[16] = {
		O(1, DRFS_LK_POSIX, L(0, 99, F_WRLCK)),
		O(2, DRFS_LK_POSIX, L(120, 130, F_RDLCK))};
	struct drfs_lkown w[2] = {O(3, DRFS_LK_POSIX, L(60, 70, F_RDLCK)),
				  O(1, DRFS_LK_POSIX, L(50, 150, F_RDLCK))};
	bool g[2];
	int nh = 2;

	cr_assert_eq(drfs_lk_grant(held, &nh, 16, w, 2, g), 2);
	cr_assert(g[0] && g[1]);
	cr_assert(holds(held, nh, 1, DRFS_LK_POSIX, L(0, 49, F_WRLCK)));
	cr_assert(holds(held, nh, 1, DRFS_LK_POSIX, L(50, 150, F_RDLCK)));
	cr_assert(holds(held, nh, 3, DRFS_LK_POSIX, L(60, 70, F_RDLCK)));
	cr_assert(holds(held, nh, 2, DRFS_LK_POSIX, L(120, 130, F_RDLCK)));
	cr_assert_eq(nh, 4);
}

Test(lock, grant_refuses_to_outgrow_the_room)
{
	struct drfs_lkown held[1] = {O(1, DRFS_LK_POSIX, L(0, 99, F_WRLCK))};
	/* owner 1 downgrades the middle: three ranges, room for one */
	struct drfs_lkown w[1] = {O(1, DRFS_LK_POSIX, L(40, 59, F_RDLCK))};
	bool g[1];
	int nh = 1;

	cr_assert_eq(drfs_lk_grant(held, &nh, 1, w, 1, g), -ENOSPC);
}
