/* Unit tests of the read cache's LRU policy (fs/lru.h). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "lru.h"

/* A 40-hex key made from a small number. */
static const char *key(unsigned i)
{
	static char k[8][DRFS_LRU_KEY];
	static unsigned slot;
	char *p = k[slot++ % 8];

	snprintf(p, DRFS_LRU_KEY, "%040x", i);
	return p;
}

struct log {
	char keys[16][DRFS_LRU_KEY];
	size_t n;
};

static void record(void *ctx, const struct drfs_lru_entry *e)
{
	struct log *g = ctx;

	cr_assert_lt(g->n, 16);
	strcpy(g->keys[g->n++], e->key);
}

Test(lru, accounting)
{
	struct drfs_lru l;
	struct drfs_lru_entry *e;

	drfs_lru_init(&l, 1000);
	cr_assert_eq(l.used, 0);
	cr_assert_not_null(drfs_lru_insert(&l, key(1), 100));
	cr_assert_not_null(e = drfs_lru_insert(&l, key(2), 250));
	cr_assert_eq(l.used, 350);
	cr_assert_eq(l.n, 2);
	/* a key is there once: a second insert changes nothing */
	cr_assert_null(drfs_lru_insert(&l, key(2), 999));
	cr_assert_eq(l.used, 350);
	cr_assert_eq(drfs_lru_find(&l, key(2)), e);
	cr_assert_eq(drfs_lru_find(&l, key(2))->size, 250);
	cr_assert_null(drfs_lru_find(&l, key(3)));
	drfs_lru_remove(&l, e);
	cr_assert_eq(l.used, 100);
	cr_assert_eq(l.n, 1);
	cr_assert_null(drfs_lru_find(&l, key(2)));
	drfs_lru_release(&l);
	cr_assert_eq(l.n, 0);
	cr_assert_eq(l.used, 0);
	cr_assert_null(l.oldest);
}

Test(lru, evicts_least_recently_used_first)
{
	struct drfs_lru l;
	struct log g = {0};

	drfs_lru_init(&l, 400);
	for (unsigned i = 1; i <= 4; i++)
		drfs_lru_insert(&l, key(i), 100);
	/* a hit on the oldest makes it the newest: 2 goes first */
	drfs_lru_touch(&l, drfs_lru_find(&l, key(1)));
	cr_assert_eq(drfs_lru_evict(&l, 150, record, &g), 2);
	cr_assert_eq(g.n, 2);
	cr_assert_str_eq(g.keys[0], key(2));
	cr_assert_str_eq(g.keys[1], key(3));
	cr_assert_eq(l.used, 200);
	cr_assert_not_null(drfs_lru_find(&l, key(1)));
	cr_assert_not_null(drfs_lru_find(&l, key(4)));
	cr_assert_str_eq(l.newest->key, key(1));
	cr_assert_str_eq(l.oldest->key, key(4));
	drfs_lru_release(&l);
}

Test(lru, size_limit)
{
	struct drfs_lru l;

	drfs_lru_init(&l, 1000);
	/* nothing to do while within the limit, room included */
	drfs_lru_insert(&l, key(1), 600);
	cr_assert_eq(drfs_lru_evict(&l, 400, NULL, NULL), 0);
	cr_assert_eq(l.used, 600);
	/* one byte over: the oldest goes */
	drfs_lru_insert(&l, key(2), 401);
	cr_assert_eq(drfs_lru_evict(&l, 0, NULL, NULL), 1);
	cr_assert_eq(l.used, 401);
	cr_assert_null(drfs_lru_find(&l, key(1)));
	/* a shrunk limit (restart with a smaller cache_size) */
	l.limit = 100;
	cr_assert_eq(drfs_lru_evict(&l, 0, NULL, NULL), 1);
	cr_assert_eq(l.n, 0);
	cr_assert_eq(l.used, 0);
	drfs_lru_release(&l);
}

Test(lru, admits_up_to_a_quarter)
{
	struct drfs_lru l;

	drfs_lru_init(&l, 4096);
	cr_assert(drfs_lru_admit(&l, 1));
	cr_assert(drfs_lru_admit(&l, 1024));
	cr_assert_not(drfs_lru_admit(&l, 1025));
	cr_assert_not(drfs_lru_admit(&l, 0)); /* empty: nothing to cache */
	drfs_lru_init(&l, 3); /* a quarter rounds down to nothing */
	cr_assert_not(drfs_lru_admit(&l, 1));
}

Test(lru, order_restored_from_mtimes)
{
	struct drfs_lru l;
	struct drfs_lru_seed v[4] = {
		{"", 10, 3000}, {"", 10, 1000}, {"", 10, 4000}, {"", 10, 2000}};
	struct log g = {0};

	for (unsigned i = 0; i < 4; i++)
		strcpy(v[i].key, key(i + 1));
	drfs_lru_init(&l, 25);
	cr_assert_eq(drfs_lru_restore(&l, v, 4), 4);
	/* the file used last (mtime 4000: key 3) is the newest */
	cr_assert_str_eq(l.newest->key, key(3));
	cr_assert_str_eq(l.oldest->key, key(2));
	/* over the limit after a restart: oldest by mtime go first */
	cr_assert_eq(drfs_lru_evict(&l, 0, record, &g), 2);
	cr_assert_str_eq(g.keys[0], key(2));
	cr_assert_str_eq(g.keys[1], key(4));
	cr_assert_eq(l.used, 20);
	drfs_lru_release(&l);
}

Test(lru, restore_ties_and_duplicates)
{
	struct drfs_lru l;
	struct drfs_lru_seed v[3] = {{"", 1, 5}, {"", 1, 5}, {"", 7, 9}};

	strcpy(v[0].key, key(9));
	strcpy(v[1].key, key(8));
	strcpy(v[2].key, key(9)); /* the same content twice */
	drfs_lru_init(&l, 100);
	cr_assert_eq(drfs_lru_restore(&l, v, 3), 2);
	cr_assert_eq(l.n, 2);
	/* equal mtimes: ordered by key, so the run is reproducible */
	cr_assert_str_eq(l.newest->key, key(9));
	cr_assert_str_eq(l.oldest->key, key(8));
	cr_assert_eq(drfs_lru_restore(&l, NULL, 0), 0);
	drfs_lru_release(&l);
}

Test(lru, clear_reports_every_entry)
{
	struct drfs_lru l;
	struct log g = {0};

	drfs_lru_init(&l, 1 << 20);
	for (unsigned i = 1; i <= 5; i++)
		drfs_lru_insert(&l, key(i), i);
	cr_assert_eq(drfs_lru_clear(&l, record, &g), 5);
	cr_assert_eq(g.n, 5);
	cr_assert_str_eq(g.keys[0], key(1)); /* oldest first */
	cr_assert_str_eq(g.keys[4], key(5));
	cr_assert_eq(l.used, 0);
	cr_assert_null(l.newest);
	cr_assert_null(drfs_lru_find(&l, key(3)));
}

Test(lru, many_entries_share_buckets)
{
	struct drfs_lru l;

	drfs_lru_init(&l, UINT64_MAX);
	for (unsigned i = 0; i < 3 * DRFS_LRU_BUCKETS; i++)
		cr_assert_not_null(drfs_lru_insert(&l, key(i), 1));
	/* chains hold keys that differ in one digit: each finds itself */
	for (unsigned i = 0; i < 3 * DRFS_LRU_BUCKETS; i++)
		cr_assert_str_eq(drfs_lru_find(&l, key(i))->key, key(i));
	for (unsigned i = 0; i < 3 * DRFS_LRU_BUCKETS; i += 7) {
		struct drfs_lru_entry *e = drfs_lru_find(&l, key(i));

		cr_assert_not_null(e);
		cr_assert_str_eq(e->key, key(i));
		drfs_lru_remove(&l, e);
		cr_assert_null(drfs_lru_find(&l, key(i)));
	}
	cr_assert_eq(l.used, l.n);
	drfs_lru_release(&l);
}
