/* Unit tests of the localcache append-only judgements (fs/appendonly.h). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>

#include "appendonly.h"

Test(appendonly, open_of_a_sealed_file_for_writing_is_a_rewrite)
{
	cr_assert_eq(drfs_ao_open(true, O_WRONLY), DRFS_AO_REWRITE);
	cr_assert_eq(drfs_ao_open(true, O_RDWR), DRFS_AO_REWRITE);
	cr_assert_eq(drfs_ao_open(true, O_WRONLY | O_APPEND), DRFS_AO_REWRITE);
	/* HTMLPurifier's .ser written in place */
	cr_assert_eq(drfs_ao_open(true, O_WRONLY | O_TRUNC), DRFS_AO_REWRITE);
	/* reading is what the area is for */
	cr_assert_eq(drfs_ao_open(true, O_RDONLY), DRFS_AO_NONE);
	cr_assert_eq(drfs_ao_open(true, O_RDONLY | O_NOATIME), DRFS_AO_NONE);
	/* the creating handle, or another one before it is released */
	cr_assert_eq(drfs_ao_open(false, O_WRONLY), DRFS_AO_NONE);
	cr_assert_eq(drfs_ao_open(false, O_RDWR), DRFS_AO_NONE);
}

Test(appendonly, create_over_an_existing_name)
{
	/* Moodle's *.error markers: open(O_CREAT|O_TRUNC) of a name that
	 * may exist */
	cr_assert_eq(drfs_ao_create(true, O_CREAT | O_WRONLY | O_TRUNC),
		     DRFS_AO_REWRITE);
	cr_assert_eq(drfs_ao_create(true, O_CREAT | O_WRONLY), DRFS_AO_REWRITE);
	/* O_EXCL fails with EEXIST and changes nothing */
	cr_assert_eq(drfs_ao_create(true, O_CREAT | O_EXCL | O_WRONLY),
		     DRFS_AO_NONE);
	/* a new file is what the contract is about */
	cr_assert_eq(drfs_ao_create(false, O_CREAT | O_WRONLY | O_TRUNC),
		     DRFS_AO_NONE);
	cr_assert_eq(drfs_ao_create(false, O_CREAT | O_EXCL | O_RDWR),
		     DRFS_AO_NONE);
}

Test(appendonly, truncate_of_a_sealed_file)
{
	cr_assert_eq(drfs_ao_truncate(true), DRFS_AO_TRUNCATE);
	/* tempnam + ftruncate before the creating handle is closed */
	cr_assert_eq(drfs_ao_truncate(false), DRFS_AO_NONE);
}

Test(appendonly, rename_over_an_existing_file)
{
	/* tmp renamed over a final name that exists already */
	cr_assert_eq(drfs_ao_rename(true, false, 0), DRFS_AO_RENAME_OVER);
	/* into a free name: the normal create-only path */
	cr_assert_eq(drfs_ao_rename(false, false, 0), DRFS_AO_NONE);
	/* over an (empty) directory: rename(2) decides, not a file lost */
	cr_assert_eq(drfs_ao_rename(true, true, 0), DRFS_AO_NONE);
	/* these replace nothing */
	cr_assert_eq(drfs_ao_rename(true, false, RENAME_NOREPLACE),
		     DRFS_AO_NONE);
	cr_assert_eq(drfs_ao_rename(true, false, RENAME_EXCHANGE),
		     DRFS_AO_NONE);
	cr_assert_eq(drfs_ao_rename(true, false, RENAME_WHITEOUT),
		     DRFS_AO_RENAME_OVER);
}

Test(appendonly, compat_allows_strict_refuses)
{
	for (int b = DRFS_AO_REWRITE; b < DRFS_AO__N; b++) {
		cr_assert_eq(drfs_ao_verdict(false, (enum drfs_ao_breach)b), 0);
		cr_assert_eq(drfs_ao_verdict(true, (enum drfs_ao_breach)b),
			     -EPERM);
	}
	/* what is not a breach is never refused */
	cr_assert_eq(drfs_ao_verdict(true, DRFS_AO_NONE), 0);
	cr_assert_eq(drfs_ao_verdict(false, DRFS_AO_NONE), 0);
}

Test(appendonly, mode_option)
{
	bool strict = true;

	cr_assert_eq(drfs_ao_parse_mode(NULL, &strict), 0);
	cr_assert_not(strict); /* compat is the default */
	cr_assert_eq(drfs_ao_parse_mode("strict", &strict), 0);
	cr_assert(strict);
	cr_assert_eq(drfs_ao_parse_mode("compat", &strict), 0);
	cr_assert_not(strict);
	strict = true;
	cr_assert_eq(drfs_ao_parse_mode("Strict", &strict), -EINVAL);
	cr_assert_eq(drfs_ao_parse_mode("", &strict), -EINVAL);
	cr_assert_eq(drfs_ao_parse_mode("audit", &strict), -EINVAL);
	cr_assert(strict); /* unchanged on error */
}

Test(appendonly, breach_names)
{
	cr_assert_str_eq(drfs_ao_breach_name(DRFS_AO_REWRITE),
			 "in-place rewrite of a sealed file");
	cr_assert_str_eq(drfs_ao_breach_name(DRFS_AO_TRUNCATE),
			 "truncate of a sealed file");
	cr_assert_str_eq(drfs_ao_breach_name(DRFS_AO_RENAME_OVER),
			 "rename over an existing file");
	cr_assert_str_eq(drfs_ao_breach_name(DRFS_AO_NONE), "none");
}

Test(appendonly, log_rate_limit)
{
	const int64_t s = 1000000000ll;
	int64_t last = 0;

	cr_assert(drfs_ao_log_due(&last, 100 * s)); /* the first is logged */
	cr_assert_eq(last, 100 * s);
	cr_assert_not(drfs_ao_log_due(&last, 101 * s));
	cr_assert_not(drfs_ao_log_due(&last, 110 * s)); /* not yet: 10 s */
	cr_assert_eq(last, 100 * s);
	cr_assert(drfs_ao_log_due(&last, 110 * s + 1));
	cr_assert_eq(last, 110 * s + 1);
	/* a clock that went back does not log a burst */
	cr_assert_not(drfs_ao_log_due(&last, 50 * s));
}
