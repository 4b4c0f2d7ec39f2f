/* Unit tests of the byte -> object mapping (fs/layout.h). */
#include <criterion/criterion.h>
#include <string.h>

#include "layout.h"

Test(layout, stripes)
{
	cr_assert_eq(drfs_stripe_of(0), 0);
	cr_assert_eq(drfs_stripe_of(DRFS_STRIPE - 1), 0);
	cr_assert_eq(drfs_stripe_of(DRFS_STRIPE), 1);
	cr_assert_eq(drfs_stripe_off(DRFS_STRIPE + 5), 5);
	cr_assert_eq(drfs_stripes_for(0), 0);
	cr_assert_eq(drfs_stripes_for(1), 1);
	cr_assert_eq(drfs_stripes_for(DRFS_STRIPE), 1);
	cr_assert_eq(drfs_stripes_for(DRFS_STRIPE + 1), 2);
	/* 5 GiB + 1: beyond 32-bit offsets */
	cr_assert_eq(drfs_stripe_of(5ull << 30), (5ull << 30) / DRFS_STRIPE);
	cr_assert_eq(DRFS_STRIPE % DRFS_BLOCK, 0);
}

Test(layout, object_names)
{
	char oid[DRFS_OID_MAX], key[16];

	drfs_oid(oid, 1, 0);
	cr_assert_str_eq(oid, "i.0000000000000001");
	drfs_oid(oid, 0xabc, 1280);
	cr_assert_str_eq(oid, "i.0000000000000abc.00000500");
	drfs_block_key(key, 63);
	cr_assert_str_eq(key, "b.0000003f");
	/* "b.g" must sort after every block key (used as range end) */
	cr_assert(strcmp(key, "b.g") < 0);
	drfs_block_key(key, 0xffffffffu);
	cr_assert(strcmp(key, "b.g") < 0);
}

Test(layout, stripe_record_keys)
{
	char k1[DRFS_STRIPE_KEY_MAX], k2[DRFS_STRIPE_KEY_MAX];

	drfs_stripe_key(k1, 1);
	cr_assert_str_eq(k1, "s.0000000000000001");
	/* fixed width: key order is stripe order, also beyond 32 bits,
	 * and "s.g" ends every range */
	drfs_stripe_key(k2, 0x100000000ull);
	cr_assert(strcmp(k1, k2) < 0);
	drfs_stripe_key(k1, 0xffffffffull);
	cr_assert(strcmp(k1, k2) < 0);
	drfs_stripe_key(k2, (1ull << 60) / DRFS_STRIPE);
	cr_assert(strcmp(k2, DRFS_STRIPE_KEY_END) < 0);
	cr_assert(strncmp(k2, DRFS_STRIPE_KEY_PREFIX, 2) == 0);
}
