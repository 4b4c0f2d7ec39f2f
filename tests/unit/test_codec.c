/* Unit tests of the metadata records (fs/codec.c). */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "codec.h"

static struct drfs_attr sample(void)
{
	struct drfs_attr a = {0};

	a.ino = 0x123456789abcull;
	a.size = 5ull << 30;
	a.parent = 1;
	a.rdev = 7;
	a.gen = 3;
	a.atime_ns = -5;
	a.btime_ns = 1700000000123456789ll;
	a.mode = S_IFREG | 02755;
	a.uid = 33;
	a.gid = 65534;
	a.nlink = 2;
	a.flags = DRFS_IF_IMMUTABLE;
	return a;
}

Test(codec, attr_roundtrip)
{
	struct drfs_attr a = sample(), b;
	char buf[DRFS_ATTR_LEN];

	drfs_attr_encode(&a, buf);
	cr_assert_eq(drfs_attr_decode(buf, sizeof(buf), &b), 0);
	cr_assert_eq(b.ino, a.ino);
	cr_assert_eq(b.size, a.size);
	cr_assert_eq(b.atime_ns, a.atime_ns);
	cr_assert_eq(b.btime_ns, a.btime_ns);
	cr_assert_eq(b.mode, a.mode);
	cr_assert_eq(b.uid, a.uid);
	cr_assert_eq(b.gid, a.gid);
	cr_assert_eq(b.nlink, a.nlink);
	cr_assert_eq(b.flags, a.flags);
	cr_assert_eq(b.parent, a.parent);
	cr_assert_eq(b.rdev, a.rdev);
}

Test(codec, attr_every_flipped_bit_is_detected)
{
	struct drfs_attr a = sample(), b;
	char buf[DRFS_ATTR_LEN];

	drfs_attr_encode(&a, buf);
	for (size_t i = 0; i < sizeof(buf) * 8; i++) {
		buf[i / 8] ^= (char)(1 << (i % 8));
		cr_assert_eq(drfs_attr_decode(buf, sizeof(buf), &b), -EIO,
			     "bit %zu", i);
		buf[i / 8] ^= (char)(1 << (i % 8));
	}
	cr_assert_eq(drfs_attr_decode(buf, sizeof(buf) - 1, &b), -EIO);
}

Test(codec, times_and_dentry_roundtrip)
{
	char t[DRFS_TIMES_LEN], d[DRFS_DENTRY_LEN];
	struct drfs_dentry de = {42, 4}, de2;
	int64_t m, c;

	drfs_times_encode(1, -2, t);
	cr_assert_eq(drfs_times_decode(t, sizeof(t), &m, &c), 0);
	cr_assert_eq(m, 1);
	cr_assert_eq(c, -2);
	t[5] ^= 1;
	cr_assert_eq(drfs_times_decode(t, sizeof(t), &m, &c), -EIO);

	drfs_dentry_encode(&de, d);
	cr_assert_eq(drfs_dentry_decode(d, sizeof(d), &de2), 0);
	cr_assert_eq(de2.ino, 42);
	cr_assert_eq(de2.type, 4);
	d[10] ^= 0x40;
	cr_assert_eq(drfs_dentry_decode(d, sizeof(d), &de2), -EIO);
	cr_assert_eq(drfs_dentry_decode("1", 1, &de2), -EIO);
}

Test(codec, block_record)
{
	struct drfs_block b = {65536, 0xdeadbeefcafef00dull}, c;
	char buf[DRFS_BLOCK_LEN];

	drfs_block_encode(&b, buf);
	cr_assert_eq(drfs_block_decode(buf, sizeof(buf), &c), 0);
	cr_assert_eq(c.len, b.len);
	cr_assert_eq(c.hash, b.hash);
	buf[0] ^= 1;
	cr_assert_eq(drfs_block_decode(buf, sizeof(buf), &c), -EIO);
}

Test(codec, stripe_record)
{
	char buf[DRFS_STRIPE_REC_LEN];

	drfs_stripe_rec_encode(0x123456789ull, buf);
	cr_assert_eq(drfs_stripe_rec_decode(buf, sizeof(buf), 0x123456789ull),
		     0);
	/* the record of another stripe, a short one, a flipped bit */
	cr_assert_eq(drfs_stripe_rec_decode(buf, sizeof(buf), 7), -EIO);
	cr_assert_eq(
		drfs_stripe_rec_decode(buf, sizeof(buf) - 1, 0x123456789ull),
		-EIO);
	buf[6] ^= 0x10;
	cr_assert_eq(drfs_stripe_rec_decode(buf, sizeof(buf), 0x123456789ull),
		     -EIO);
}

Test(codec, names)
{
	char n255[256], n256[257];

	memset(n255, 'a', 255);
	n255[255] = 0;
	memset(n256, 'a', 256);
	n256[256] = 0;
	cr_assert_eq(drfs_name_check(n255), 0);
	cr_assert_eq(drfs_name_check(n256), -ENAMETOOLONG);
	cr_assert_eq(drfs_name_check(""), -ENOENT);
	cr_assert_eq(drfs_name_check("a/b"), -EINVAL);
	cr_assert_eq(drfs_name_check("."), -EINVAL);
	cr_assert_eq(drfs_name_check(".."), -EINVAL);
	cr_assert_eq(drfs_name_check("...\x01\xff"), 0);
}
