/*
 * codec.h - on-RADOS encodings of datarootfs metadata.
 *
 * Every metadata value we store is a small fixed little-endian record that
 * ends in an XXH3-64 of the bytes before it, so a flipped byte in a
 * directory entry or inode attribute is detected (-EIO) instead of being
 * served.  Encoders never fail; decoders return 0 or -EIO.
 *
 * Records:
 *   attr   xattr "a" of an inode object: everything but mtime/ctime.
 *   times  xattr "t" of an inode object: mtime and ctime.  Kept apart so
 *          that a directory's times can be set blindly inside the same
 *          compound op that changes one of its entries (no extra read).
 *   dentry omap value of a directory entry: inode number and type.
 *   block  omap value "b.XXXXXXXX" of a data object: stored length of one
 *          64 KiB checksum block and an XXH3-64 of each 4 KiB piece of it,
 *          so a 4 KiB read or write touches 4 KiB, not the block.  The
 *          first format (one XXH3-64 of the whole block) still decodes;
 *          every write stores the new one.
 *   stripe omap value "s.<16 hex>" of an inode object: stripe object n
 *          was written (see layout.h).  The key is the information; the
 *          value repeats the stripe number.
 */
#ifndef DRFS_CODEC_H
#define DRFS_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DRFS_ATTR_LEN 92
#define DRFS_TIMES_LEN 28
#define DRFS_DENTRY_LEN 24
#define DRFS_BLOCK_LEN 144
#define DRFS_BLOCK_V1_LEN 16
#define DRFS_PIECE 4096u /* bytes under one checksum of a block record */
#define DRFS_PIECES 16 /* pieces in a 64 KiB block */
#define DRFS_STRIPE_REC_LEN 20

struct drfs_attr {
	uint64_t ino;
	uint64_t size;
	uint64_t parent; /* directories: parent dir; others: creating dir */
	uint64_t rdev;
	uint64_t gen;
	int64_t atime_ns;
	int64_t mtime_ns;
	int64_t ctime_ns;
	int64_t btime_ns;
	uint32_t mode;
	uint32_t uid;
	uint32_t gid;
	uint32_t nlink;
	uint32_t flags; /* DRFS_IF_* */
};

/* Inode flags. */
#define DRFS_IF_IMMUTABLE 0x1 /* filedir content: no writes, no truncate */
#define DRFS_IF_KEEP 0x2 /* sealed under filedir_nodelete: never freed */

struct drfs_dentry {
	uint64_t ino;
	uint8_t type; /* DT_* from dirent.h */
};

struct drfs_block {
	uint32_t len; /* bytes stored for this block (<= block size) */
	bool v1; /* decoded from the first format: only @hash is set */
	uint64_t hash; /* v1: XXH3-64 of the len bytes */
	/* XXH3-64 of the stored bytes of each piece: [p * DRFS_PIECE,
	 * min((p + 1) * DRFS_PIECE, len)); 0 for pieces at or beyond len */
	uint64_t piece[DRFS_PIECES];
};

/* attr "a": mtime/ctime are *not* encoded here (see times). */
void drfs_attr_encode(const struct drfs_attr *a, char out[DRFS_ATTR_LEN]);
int drfs_attr_decode(const char *buf, size_t len, struct drfs_attr *a);

void drfs_times_encode(int64_t mtime_ns, int64_t ctime_ns,
		       char out[DRFS_TIMES_LEN]);
int drfs_times_decode(const char *buf, size_t len, int64_t *mtime_ns,
		      int64_t *ctime_ns);

void drfs_dentry_encode(const struct drfs_dentry *d, char out[DRFS_DENTRY_LEN]);
int drfs_dentry_decode(const char *buf, size_t len, struct drfs_dentry *d);

/* Encodes the piece format (b->v1 is ignored); decodes both. */
void drfs_block_encode(const struct drfs_block *b, char out[DRFS_BLOCK_LEN]);
int drfs_block_decode(const char *buf, size_t len, struct drfs_block *b);
/* The first format, for tests of old data and nothing else. */
void drfs_block_encode_v1(const struct drfs_block *b,
			  char out[DRFS_BLOCK_V1_LEN]);

/* The record of the @len bytes at @blk (a block's start). */
void drfs_block_make(struct drfs_block *b, const char *blk, uint32_t len);

/* Set @b's length to @len (>= its old one) and hash the pieces in @mask
 * again from @blk: a v2 record after a write of those pieces. */
void drfs_block_rehash(struct drfs_block *b, const char *blk, uint32_t len,
		       uint16_t mask);

/*
 * Bytes [*n0, *n1) of the block that must be read to verify bytes
 * [lo, hi) of it under record @b: the pieces they touch, or the whole
 * stored length of a v1 record.  Empty (*n0 == *n1) beyond the length.
 */
void drfs_block_need(const struct drfs_block *b, uint32_t lo, uint32_t hi,
		     uint32_t *n0, uint32_t *n1);

/*
 * Verify what bytes [lo, hi) need (drfs_block_need) against @blk, of which
 * bytes [have0, have1) were read.  0, or -EIO: a mismatch, or needed bytes
 * the read did not return (the object is shorter than its record says).
 */
int drfs_block_check(const struct drfs_block *b, const char *blk,
		     uint32_t have0, uint32_t have1, uint32_t lo, uint32_t hi);

/*
 * A write into one block, planned from its old record (@old NULL: a hole,
 * nothing stored) and the bytes it writes: @cov[p] of piece p, ending at
 * @dend (block offset).  *newlen: the new stored length.  *write: pieces
 * to store (bytes [ps, min(pe, newlen))) and hash again: those written,
 * and those the length grows into (zeros where not written).  *need:
 * pieces whose old bytes must be read and verified first - a written
 * piece that keeps old bytes, or, for a v1 record, every stored piece (its
 * one hash covers them all; the new record is then made whole).
 */
void drfs_block_plan(const struct drfs_block *old,
		     const uint32_t cov[DRFS_PIECES], uint32_t dend,
		     uint32_t *newlen, uint16_t *write, uint16_t *need);

void drfs_stripe_rec_encode(uint64_t stripe, char out[DRFS_STRIPE_REC_LEN]);
/* 0, or -EIO if corrupt or not the record of @stripe. */
int drfs_stripe_rec_decode(const char *buf, size_t len, uint64_t stripe);

uint64_t drfs_hash(const void *buf, size_t len);

/* Names: 1..255 bytes, no '/', no NUL, not "." or "..".  0 or -errno. */
int drfs_name_check(const char *name);

#endif
