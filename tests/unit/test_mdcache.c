/*
 * test_mdcache.c - the metadata cache's two coherence rules (mdcache.h):
 * one invalidation drops everything about an inode, and a fill that raced
 * any invalidation is never stored; plus negative entries, the on/off
 * barrier and the size bound.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <string.h>

#include "mdcache.h"

static struct drfs_attr attr_of(uint64_t ino, uint64_t size)
{
	struct drfs_attr a;

	memset(&a, 0, sizeof(a));
	a.ino = ino;
	a.size = size;
	a.mode = 0100644;
	a.nlink = 1;
	return a;
}

Test(mdcache, attr_hit_after_fill)
{
	struct drfs_mdc *c = drfs_mdc_new(16);
	struct drfs_attr a = attr_of(7, 123), got;
	uint64_t t = drfs_mdc_ticket(c);

	cr_assert_not(drfs_mdc_attr_get(c, 7, &got, NULL));
	drfs_mdc_attr_put(c, t, &a, NULL);
	cr_assert(drfs_mdc_attr_get(c, 7, &got, NULL));
	cr_assert_eq(got.size, 123);
	drfs_mdc_free(c);
}

Test(mdcache, fill_racing_an_invalidation_is_refused)
{
	struct drfs_mdc *c = drfs_mdc_new(16);
	struct drfs_attr a = attr_of(7, 1), got;
	uint64_t t = drfs_mdc_ticket(c);

	/* another node changed inode 7 and directory 1 while we read */
	drfs_mdc_inval(c, 7);
	drfs_mdc_inval(c, 1);
	drfs_mdc_attr_put(c, t, &a, NULL);
	cr_assert_not(drfs_mdc_attr_get(c, 7, &got, NULL));
	drfs_mdc_entry_put(c, t, 1, "x", 7, DT_REG);
	{
		uint64_t ino;
		uint8_t type;

		cr_assert_not(drfs_mdc_entry_get(c, 1, "x", &ino, &type));
	}
	/* an invalidation before the ticket does not count */
	t = drfs_mdc_ticket(c);
	drfs_mdc_attr_put(c, t, &a, NULL);
	cr_assert(drfs_mdc_attr_get(c, 7, &got, NULL));
	drfs_mdc_free(c);
}

Test(mdcache, a_change_elsewhere_does_not_refuse_a_fill)
{
	struct drfs_mdc *c = drfs_mdc_new(16);
	struct drfs_attr a = attr_of(7, 1), got;
	uint64_t t = drfs_mdc_ticket(c), ino;
	uint8_t type;

	/* a stream of invalidations of other inodes (a reaper elsewhere) */
	for (uint64_t x = 100; x < 110; x++)
		drfs_mdc_inval(c, x);
	drfs_mdc_attr_put(c, t, &a, NULL);
	cr_assert(drfs_mdc_attr_get(c, 7, &got, NULL));
	drfs_mdc_entry_put(c, t, 1, "climaintenance.html", 0, 0);
	cr_assert(drfs_mdc_entry_get(c, 1, "climaintenance.html", &ino, &type));
	cr_assert_eq(ino, 0);
	drfs_mdc_free(c);
}

Test(mdcache, a_clear_refuses_every_fill_in_flight)
{
	struct drfs_mdc *c = drfs_mdc_new(16);
	struct drfs_attr a = attr_of(7, 1), got;
	uint64_t t = drfs_mdc_ticket(c), ino;
	uint8_t type;

	/* the watch was lost while we read: we may have missed anything */
	drfs_mdc_clear(c);
	drfs_mdc_attr_put(c, t, &a, NULL);
	cr_assert_not(drfs_mdc_attr_get(c, 7, &got, NULL));
	drfs_mdc_entry_put(c, t, 1, "x", 0, 0);
	cr_assert_not(drfs_mdc_entry_get(c, 1, "x", &ino, &type));
	drfs_mdc_free(c);
}

Test(mdcache, inval_drops_attrs_and_entries_of_the_inode)
{
	struct drfs_mdc *c = drfs_mdc_new(16);
	struct drfs_attr d = attr_of(5, 0), f = attr_of(6, 9), got;
	uint64_t t = drfs_mdc_ticket(c), ino;
	uint8_t type;

	drfs_mdc_attr_put(c, t, &d, NULL);
	drfs_mdc_attr_put(c, t, &f, NULL);
	drfs_mdc_entry_put(c, t, 5, "a", 6, DT_REG);
	drfs_mdc_entry_put(c, t, 5, "b", 0, 0);
	drfs_mdc_entry_put(c, t, 6, "unrelated", 8, DT_REG);
	drfs_mdc_inval(c, 5);
	cr_assert_not(drfs_mdc_attr_get(c, 5, &got, NULL));
	cr_assert_not(drfs_mdc_entry_get(c, 5, "a", &ino, &type));
	cr_assert_not(drfs_mdc_entry_get(c, 5, "b", &ino, &type));
	/* other inodes stay */
	cr_assert(drfs_mdc_attr_get(c, 6, &got, NULL));
	cr_assert(drfs_mdc_entry_get(c, 6, "unrelated", &ino, &type));
	cr_assert_eq(ino, 8);
	drfs_mdc_free(c);
}

Test(mdcache, negative_entries)
{
	struct drfs_mdc *c = drfs_mdc_new(16);
	uint64_t t = drfs_mdc_ticket(c), ino = 42;
	uint8_t type;
	struct drfs_mdc_stats st;

	drfs_mdc_entry_put(c, t, 1, "climaintenance.html", 0, 0);
	cr_assert(drfs_mdc_entry_get(c, 1, "climaintenance.html", &ino, &type));
	cr_assert_eq(ino, 0);
	drfs_mdc_stats(c, &st);
	cr_assert_eq(st.neg_hits, 1);
	/* a create in the directory invalidates it */
	drfs_mdc_inval(c, 1);
	cr_assert_not(
		drfs_mdc_entry_get(c, 1, "climaintenance.html", &ino, &type));
	drfs_mdc_free(c);
}

Test(mdcache, own_write_ticket)
{
	struct drfs_mdc *c = drfs_mdc_new(16);
	struct drfs_attr a = attr_of(7, 5), got;
	uint64_t t0 = drfs_mdc_ticket(c), s1;

	/* our own write's invalidation is the only one: T + 1 */
	s1 = drfs_mdc_inval(c, 7);
	cr_assert_eq(s1, t0 + 1);
	drfs_mdc_attr_put(c, s1, &a, NULL);
	cr_assert(drfs_mdc_attr_get(c, 7, &got, NULL));
	/* another one in between: the count says so */
	t0 = drfs_mdc_ticket(c);
	drfs_mdc_inval(c, 3);
	s1 = drfs_mdc_inval(c, 7);
	cr_assert_neq(s1, t0 + 1);
	drfs_mdc_free(c);
}

Test(mdcache, off_is_empty_and_a_barrier)
{
	struct drfs_mdc *c = drfs_mdc_new(16);
	struct drfs_attr a = attr_of(7, 5), got;
	uint64_t t;

	drfs_mdc_attr_put(c, drfs_mdc_ticket(c), &a, NULL);
	drfs_mdc_enable(c, false);
	cr_assert_not(drfs_mdc_attr_get(c, 7, &got, NULL));
	t = drfs_mdc_ticket(c);
	drfs_mdc_attr_put(c, t, &a, NULL);
	cr_assert_not(drfs_mdc_attr_get(c, 7, &got, NULL));
	/* read while off, stored after on: may have missed invalidations */
	drfs_mdc_enable(c, true);
	drfs_mdc_attr_put(c, t, &a, NULL);
	cr_assert_not(drfs_mdc_attr_get(c, 7, &got, NULL));
	drfs_mdc_attr_put(c, drfs_mdc_ticket(c), &a, NULL);
	cr_assert(drfs_mdc_attr_get(c, 7, &got, NULL));
	drfs_mdc_free(c);
}

Test(mdcache, bounded_lru)
{
	struct drfs_mdc *c = drfs_mdc_new(100);
	struct drfs_mdc_stats st;
	struct drfs_attr got;

	for (uint64_t i = 1; i <= 1000; i++) {
		struct drfs_attr a = attr_of(i, i);

		drfs_mdc_attr_put(c, drfs_mdc_ticket(c), &a, NULL);
		/* inode 1 is used all the time: it must stay */
		cr_assert(drfs_mdc_attr_get(c, 1, &got, NULL));
	}
	drfs_mdc_stats(c, &st);
	cr_assert_leq(st.inodes, 100);
	cr_assert_geq(st.evictions, 900);
	cr_assert(drfs_mdc_attr_get(c, 1000, &got, NULL));
	cr_assert_not(drfs_mdc_attr_get(c, 2, &got, NULL));
	drfs_mdc_free(c);
}
