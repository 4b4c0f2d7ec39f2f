/* Unit tests of the counters' published names (fs/store.c). */
#include <criterion/criterion.h>
#include <string.h>

#include "fs.h"

/*
 * Every counter has its own published name: `datarootctl status` reads
 * other nodes' counters by name, so a missing or repeated one would show
 * a neighbour's value under the wrong heading.
 */
Test(stats, every_counter_has_a_unique_name)
{
	char a[64], b[64];

	for (int i = 0; i < DRFS_ST__COUNT; i++) {
		drfs_stat_name(i, a, sizeof(a));
		cr_expect(strncmp(a, "counter_", 8) != 0,
			  "counter %d has no name", i);
		cr_expect(strchr(a, ' ') == NULL && strchr(a, '=') == NULL,
			  "counter %d: \"%s\"", i, a);
		for (int j = 0; j < i; j++)
			cr_expect_str_neq(drfs_stat_name(j, b, sizeof(b)), a,
					  "counters %d and %d share \"%s\"", j,
					  i, a);
	}
	cr_expect_str_eq(drfs_stat_name(DRFS_ST_LOCK_HANDED, a, sizeof(a)),
			 "lock_handed");
	cr_expect_str_eq(drfs_stat_name(DRFS_ST_LOCK_READS, a, sizeof(a)),
			 "lock_reads");
	cr_expect_str_eq(drfs_stat_name(DRFS_ST_INV_P99_US, a, sizeof(a)),
			 "invalidation_wait_p99_us");
}
