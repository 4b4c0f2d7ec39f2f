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
	static char data[DRFS_PIECE * DRFS_PIECES];
	struct drfs_block b, c;
	char buf[DRFS_BLOCK_LEN];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7 + 3);
	drfs_block_make(&b, data, 10000); /* three pieces, the last short */
	cr_assert_eq(b.piece[0], drfs_hash(data, 4096));
	cr_assert_eq(b.piece[2], drfs_hash(data + 8192, 10000 - 8192));
	cr_assert_eq(b.piece[3], 0);
	drfs_block_encode(&b, buf);
	cr_assert_eq(drfs_block_decode(buf, sizeof(buf), &c), 0);
	cr_assert_eq(c.len, 10000);
	cr_assert(!c.v1);
	cr_assert_eq(memcmp(c.piece, b.piece, sizeof(b.piece)), 0);
	/* every byte of the record is covered: a cut length included */
	for (size_t i = 0; i < sizeof(buf); i++) {
		buf[i] ^= 0x10;
		cr_assert_eq(drfs_block_decode(buf, sizeof(buf), &c), -EIO,
			     "byte %zu", i);
		buf[i] ^= 0x10;
	}
	cr_assert_eq(drfs_block_decode(buf, sizeof(buf) - 1, &c), -EIO);
	/* a hash beyond the length is refused even when sealed */
	b.piece[5] = 1;
	drfs_block_encode(&b, buf);
	cr_assert_eq(drfs_block_decode(buf, sizeof(buf), &c), -EIO);
	b.piece[5] = 0;
	b.len = DRFS_PIECE * DRFS_PIECES + 1;
	drfs_block_encode(&b, buf);
	cr_assert_eq(drfs_block_decode(buf, sizeof(buf), &c), -EIO);
}

Test(codec, block_record_v1)
{
	struct drfs_block b = {.len = 65536, .hash = 0xdeadbeefcafef00dull}, c;
	char buf[DRFS_BLOCK_V1_LEN];

	drfs_block_encode_v1(&b, buf);
	cr_assert_eq(drfs_block_decode(buf, sizeof(buf), &c), 0);
	cr_assert(c.v1);
	cr_assert_eq(c.len, b.len);
	cr_assert_eq(c.hash, b.hash);
	buf[0] ^= 1;
	cr_assert_eq(drfs_block_decode(buf, sizeof(buf), &c), -EIO);
	buf[0] ^= 1;
	b.len = 65537;
	drfs_block_encode_v1(&b, buf);
	cr_assert_eq(drfs_block_decode(buf, sizeof(buf), &c), -EIO);
}

Test(codec, block_need_and_check)
{
	static char data[DRFS_PIECE * DRFS_PIECES];
	struct drfs_block b, v1;
	uint32_t n0, n1;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 13 + 1);
	drfs_block_make(&b, data, 30000);
	drfs_block_need(&b, 5000, 5001, &n0, &n1);
	cr_assert_eq(n0, 4096);
	cr_assert_eq(n1, 8192);
	drfs_block_need(&b, 8192, 12288, &n0, &n1); /* aligned: one piece */
	cr_assert_eq(n0, 8192);
	cr_assert_eq(n1, 12288);
	drfs_block_need(&b, 29000, 40000, &n0, &n1); /* clipped to len */
	cr_assert_eq(n0, 28672);
	cr_assert_eq(n1, 30000);
	drfs_block_need(&b, 30000, 40000, &n0, &n1); /* beyond: nothing */
	cr_assert_eq(n0, n1);
	cr_assert_eq(drfs_block_check(&b, data, 4096, 8192, 5000, 6000), 0);
	/* the bytes needed were not (all) read */
	cr_assert_eq(drfs_block_check(&b, data, 4097, 8192, 5000, 6000), -EIO);
	cr_assert_eq(drfs_block_check(&b, data, 4096, 8191, 5000, 6000), -EIO);
	/* a flipped byte in the piece read, not in another */
	data[4100] ^= 1;
	cr_assert_eq(drfs_block_check(&b, data, 0, 30000, 5000, 6000), -EIO);
	cr_assert_eq(drfs_block_check(&b, data, 0, 30000, 8192, 9000), 0);
	data[4100] ^= 1;
	/* v1: the whole stored length, whatever is asked */
	v1 = (struct drfs_block){
		.len = 30000, .v1 = true, .hash = drfs_hash(data, 30000)};
	drfs_block_need(&v1, 8192, 8193, &n0, &n1);
	cr_assert_eq(n0, 0);
	cr_assert_eq(n1, 30000);
	cr_assert_eq(drfs_block_check(&v1, data, 0, 30000, 8192, 8193), 0);
	cr_assert_eq(drfs_block_check(&v1, data, 4096, 30000, 8192, 8193),
		     -EIO);
	data[29999] ^= 1;
	cr_assert_eq(drfs_block_check(&v1, data, 0, 30000, 8192, 8193), -EIO);
	data[29999] ^= 1;
}

Test(codec, block_plan)
{
	struct drfs_block full, half, v1;
	uint32_t cov[DRFS_PIECES] = {0}, len;
	uint16_t w, need;
	static char z[DRFS_PIECE * DRFS_PIECES];

	drfs_block_make(&full, z, 65536);
	drfs_block_make(&half, z, 10000); /* pieces 0..2, the last short */
	v1 = (struct drfs_block){.len = 65536, .v1 = true};

	/* an aligned 4 KiB write into a full block: that piece, no read */
	cov[3] = 4096;
	drfs_block_plan(&full, cov, 16384, &len, &w, &need);
	cr_assert_eq(len, 65536);
	cr_assert_eq(w, 1u << 3);
	cr_assert_eq(need, 0);
	/* the same under a v1 record: every piece is read */
	drfs_block_plan(&v1, cov, 16384, &len, &w, &need);
	cr_assert_eq(w, 1u << 3);
	cr_assert_eq(need, 0xffff);
	/* an unaligned write keeps old bytes of its piece */
	cov[3] = 100;
	drfs_block_plan(&full, cov, 12388, &len, &w, &need);
	cr_assert_eq(w, 1u << 3);
	cr_assert_eq(need, 1u << 3);
	/* into a hole: nothing to read; the length grows to the end */
	drfs_block_plan(NULL, cov, 12388, &len, &w, &need);
	cr_assert_eq(len, 12388);
	cr_assert_eq(w, 0xf); /* pieces 0..2 become zeros */
	cr_assert_eq(need, 0);
	/* past the stored length: the piece holding it keeps its old
	 * bytes, the pieces between become zeros, none beyond the end */
	cov[3] = 0;
	cov[5] = 4096;
	drfs_block_plan(&half, cov, 24576, &len, &w, &need);
	cr_assert_eq(len, 24576);
	cr_assert_eq(w, (1u << 2) | (1u << 3) | (1u << 4) | (1u << 5));
	cr_assert_eq(need, 1u << 2);
	/* [9000, 10050): past the old length, old bytes kept before it */
	memset(cov, 0, sizeof(cov));
	cov[2] = 10050 - 9000;
	drfs_block_plan(&half, cov, 10050, &len, &w, &need);
	cr_assert_eq(len, 10050);
	cr_assert_eq(w, 1u << 2);
	cr_assert_eq(need, 1u << 2);
	/* all of [8192, 10050): covers the stored part, needs nothing */
	cov[2] = 10050 - 8192;
	drfs_block_plan(&half, cov, 10050, &len, &w, &need);
	cr_assert_eq(need, 0);
	/* a write ending short of the old length keeps the tail */
	memset(cov, 0, sizeof(cov));
	cov[0] = 4000;
	drfs_block_plan(&half, cov, 4000, &len, &w, &need);
	cr_assert_eq(len, 10000);
	cr_assert_eq(w, 1u << 0);
	cr_assert_eq(need, 1u << 0);
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

Test(codec, block_rehash)
{
	static char data[DRFS_PIECE * DRFS_PIECES];
	struct drfs_block b, want;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 5 + 2);
	drfs_block_make(&b, data, 20000);
	data[4096] ^= 1;
	data[19000] ^= 1;
	memset(data + 20000, 0, sizeof(data) - 20000);
	data[25000] = 9;
	drfs_block_make(&want, data, 30000);
	/* pieces 1 and 4 changed, 5..7 grown into */
	drfs_block_rehash(&b, data, 30000, 0xf2);
	cr_assert_eq(b.len, 30000);
	cr_assert_eq(memcmp(b.piece, want.piece, sizeof(b.piece)), 0);
	/* a piece left out keeps its old hash */
	drfs_block_make(&b, data, 30000);
	data[0] ^= 1;
	drfs_block_rehash(&b, data, 30000, 0);
	cr_assert_eq(b.piece[0], want.piece[0]);
}
