/*
 * codec.c - fixed little-endian metadata records with a trailing XXH3-64.
 *
 * The layout of each record is written out field by field (no struct
 * punning), so it is the same on every architecture.  The first four bytes
 * of every record are a magic that also carries the record version.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>
#include <xxhash.h>

#include "codec.h"

#define ATTR_MAGIC 0x31415244u /* "DRA1" */
#define TIMES_MAGIC 0x31545244u /* "DRT1" */
#define DENTRY_MAGIC 0x31455244u /* "DRE1" */
#define BLOCK_MAGIC 0x31425244u /* "DRB1" */
#define BLOCK2_MAGIC 0x32425244u /* "DRB2" */
#define STRIPE_MAGIC 0x31535244u /* "DRS1" */

uint64_t drfs_hash(const void *buf, size_t len)
{
	return XXH3_64bits(buf, len);
}

static void put32(char **p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		*(*p)++ = (char)(v >> (8 * i));
}

static void put64(char **p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		*(*p)++ = (char)(v >> (8 * i));
}

static uint32_t get32(const char **p)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v |= (uint32_t)(unsigned char)*(*p)++ << (8 * i);
	return v;
}

static uint64_t get64(const char **p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t)(unsigned char)*(*p)++ << (8 * i);
	return v;
}

/* Append the hash of [start, *p) at *p; the record must end at @len. */
static void seal(const char *start, char **p, size_t len)
{
	assert((size_t)(*p - start) + 8 == len);
	put64(p, drfs_hash(start, (size_t)(*p - start)));
}

/* Check magic, length and trailing hash of a record. */
static int check(const char *buf, size_t len, size_t want, uint32_t magic)
{
	const char *p = buf;
	const char *h;

	if (len != want)
		return -EIO;
	if (get32(&p) != magic)
		return -EIO;
	h = buf + want - 8;
	if (get64(&h) != drfs_hash(buf, want - 8))
		return -EIO;
	return 0;
}

void drfs_attr_encode(const struct drfs_attr *a, char out[DRFS_ATTR_LEN])
{
	char *p = out;

	put32(&p, ATTR_MAGIC);
	put64(&p, a->ino);
	put64(&p, a->size);
	put64(&p, a->parent);
	put64(&p, a->rdev);
	put64(&p, a->gen);
	put64(&p, (uint64_t)a->atime_ns);
	put64(&p, (uint64_t)a->btime_ns);
	put32(&p, a->mode);
	put32(&p, a->uid);
	put32(&p, a->gid);
	put32(&p, a->nlink);
	put32(&p, a->flags);
	put32(&p, 0); /* reserved */
	seal(out, &p, DRFS_ATTR_LEN);
}

int drfs_attr_decode(const char *buf, size_t len, struct drfs_attr *a)
{
	const char *p = buf + 4;
	int ret = check(buf, len, DRFS_ATTR_LEN, ATTR_MAGIC);

	if (ret < 0)
		return ret;
	memset(a, 0, sizeof(*a));
	a->ino = get64(&p);
	a->size = get64(&p);
	a->parent = get64(&p);
	a->rdev = get64(&p);
	a->gen = get64(&p);
	a->atime_ns = (int64_t)get64(&p);
	a->btime_ns = (int64_t)get64(&p);
	a->mode = get32(&p);
	a->uid = get32(&p);
	a->gid = get32(&p);
	a->nlink = get32(&p);
	a->flags = get32(&p);
	return 0;
}

void drfs_times_encode(int64_t mtime_ns, int64_t ctime_ns,
		       char out[DRFS_TIMES_LEN])
{
	char *p = out;

	put32(&p, TIMES_MAGIC);
	put64(&p, (uint64_t)mtime_ns);
	put64(&p, (uint64_t)ctime_ns);
	seal(out, &p, DRFS_TIMES_LEN);
}

int drfs_times_decode(const char *buf, size_t len, int64_t *mtime_ns,
		      int64_t *ctime_ns)
{
	const char *p = buf + 4;
	int ret = check(buf, len, DRFS_TIMES_LEN, TIMES_MAGIC);

	if (ret < 0)
		return ret;
	*mtime_ns = (int64_t)get64(&p);
	*ctime_ns = (int64_t)get64(&p);
	return 0;
}

void drfs_dentry_encode(const struct drfs_dentry *d, char out[DRFS_DENTRY_LEN])
{
	char *p = out;

	put32(&p, DENTRY_MAGIC);
	put32(&p, d->type);
	put64(&p, d->ino);
	seal(out, &p, DRFS_DENTRY_LEN);
}

int drfs_dentry_decode(const char *buf, size_t len, struct drfs_dentry *d)
{
	const char *p = buf + 4;
	int ret = check(buf, len, DRFS_DENTRY_LEN, DENTRY_MAGIC);

	if (ret < 0)
		return ret;
	d->type = (uint8_t)get32(&p);
	d->ino = get64(&p);
	return 0;
}

void drfs_block_encode(const struct drfs_block *b, char out[DRFS_BLOCK_LEN])
{
	char *p = out;

	/* 144 bytes: magic, len, 16 piece hashes, hash of the record.  The
	 * record needs its own hash here: a length cut by a flipped bit
	 * would otherwise drop whole pieces unnoticed. */
	put32(&p, BLOCK2_MAGIC);
	put32(&p, b->len);
	for (unsigned i = 0; i < DRFS_PIECES; i++)
		put64(&p, b->piece[i]);
	seal(out, &p, DRFS_BLOCK_LEN);
}

void drfs_block_encode_v1(const struct drfs_block *b,
			  char out[DRFS_BLOCK_V1_LEN])
{
	char *p = out;

	put32(&p, BLOCK_MAGIC);
	put32(&p, b->len);
	put64(&p, b->hash);
}

/* Pieces holding stored bytes of a block of @len bytes. */
static unsigned pieces_of(uint32_t len)
{
	return (len + DRFS_PIECE - 1) / DRFS_PIECE;
}

int drfs_block_decode(const char *buf, size_t len, struct drfs_block *b)
{
	const char *p = buf;

	memset(b, 0, sizeof(*b));
	if (len == DRFS_BLOCK_V1_LEN) {
		/* 16 bytes: magic, len, hash.  The hash is the data's own
		 * checksum: a flipped bit in the record shows up as a data
		 * mismatch, reported the same way. */
		if (get32(&p) != BLOCK_MAGIC)
			return -EIO;
		b->v1 = true;
		b->len = get32(&p);
		b->hash = get64(&p);
		return b->len <= DRFS_PIECE * DRFS_PIECES ? 0 : -EIO;
	}
	if (check(buf, len, DRFS_BLOCK_LEN, BLOCK2_MAGIC) < 0)
		return -EIO;
	p = buf + 4;
	b->len = get32(&p);
	for (unsigned i = 0; i < DRFS_PIECES; i++)
		b->piece[i] = get64(&p);
	if (b->len > DRFS_PIECE * DRFS_PIECES)
		return -EIO;
	for (unsigned i = pieces_of(b->len); i < DRFS_PIECES; i++)
		if (b->piece[i])
			return -EIO;
	return 0;
}

/* Hash of piece @i of a block of @len stored bytes at @blk. */
static uint64_t piece_hash(const char *blk, uint32_t len, unsigned i)
{
	uint32_t ps = i * DRFS_PIECE;
	uint32_t pe = ps + DRFS_PIECE < len ? ps + DRFS_PIECE : len;

	return drfs_hash(blk + ps, pe - ps);
}

void drfs_block_make(struct drfs_block *b, const char *blk, uint32_t len)
{
	unsigned n = pieces_of(len);

	memset(b, 0, sizeof(*b));
	b->len = len;
	for (unsigned i = 0; i < n; i++)
		b->piece[i] = piece_hash(blk, len, i);
}

void drfs_block_rehash(struct drfs_block *b, const char *blk, uint32_t len,
		       uint16_t mask)
{
	unsigned n = pieces_of(len);

	b->len = len;
	for (unsigned i = 0; i < DRFS_PIECES; i++)
		if (i >= n)
			b->piece[i] = 0;
		else if (mask & (1u << i))
			b->piece[i] = piece_hash(blk, len, i);
}

void drfs_block_need(const struct drfs_block *b, uint32_t lo, uint32_t hi,
		     uint32_t *n0, uint32_t *n1)
{
	if (hi > b->len)
		hi = b->len;
	if (lo >= hi) {
		*n0 = *n1 = 0;
		return;
	}
	if (b->v1) {
		*n0 = 0;
		*n1 = b->len;
		return;
	}
	*n0 = lo / DRFS_PIECE * DRFS_PIECE;
	*n1 = (hi + DRFS_PIECE - 1) / DRFS_PIECE * DRFS_PIECE;
	if (*n1 > b->len)
		*n1 = b->len;
}

int drfs_block_check(const struct drfs_block *b, const char *blk,
		     uint32_t have0, uint32_t have1, uint32_t lo, uint32_t hi)
{
	uint32_t n0, n1;

	drfs_block_need(b, lo, hi, &n0, &n1);
	if (n0 == n1)
		return 0;
	if (n0 < have0 || n1 > have1)
		return -EIO;
	if (b->v1)
		return drfs_hash(blk, b->len) == b->hash ? 0 : -EIO;
	for (unsigned i = n0 / DRFS_PIECE; i * DRFS_PIECE < n1; i++)
		if (piece_hash(blk, b->len, i) != b->piece[i])
			return -EIO;
	return 0;
}

void drfs_block_plan(const struct drfs_block *old,
		     const uint32_t cov[DRFS_PIECES], uint32_t dend,
		     uint32_t *newlen, uint16_t *write, uint16_t *need)
{
	uint32_t oldlen = old ? old->len : 0;
	uint32_t len = dend > oldlen ? dend : oldlen;

	*newlen = len;
	*write = *need = 0;
	for (unsigned i = 0; i < DRFS_PIECES; i++) {
		uint32_t ps = i * DRFS_PIECE, pe = ps + DRFS_PIECE;
		uint32_t end = pe < len ? pe : len;
		bool grows = ps < len && pe > oldlen && len > oldlen;

		if (ps >= len)
			break;
		if (cov[i] || grows)
			*write |= (uint16_t)(1u << i);
		if (ps >= oldlen)
			continue; /* no old bytes in it */
		if (old && old->v1)
			*need |= (uint16_t)(1u << i);
		else if ((*write & (1u << i)) && cov[i] < end - ps)
			*need |= (uint16_t)(1u << i);
	}
}

void drfs_stripe_rec_encode(uint64_t stripe, char out[DRFS_STRIPE_REC_LEN])
{
	char *p = out;

	/* 20 bytes: magic, stripe number, hash */
	put32(&p, STRIPE_MAGIC);
	put64(&p, stripe);
	seal(out, &p, DRFS_STRIPE_REC_LEN);
}

int drfs_stripe_rec_decode(const char *buf, size_t len, uint64_t stripe)
{
	const char *p = buf + 4;
	int ret = check(buf, len, DRFS_STRIPE_REC_LEN, STRIPE_MAGIC);

	if (ret < 0)
		return ret;
	return get64(&p) == stripe ? 0 : -EIO;
}

int drfs_name_check(const char *name)
{
	size_t len = strlen(name);

	if (len == 0)
		return -ENOENT;
	if (len > 255)
		return -ENAMETOOLONG;
	if (strchr(name, '/'))
		return -EINVAL;
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	return 0;
}
