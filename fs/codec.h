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
 *   block  omap value "b.XXXXXXXX" of a data object: stored length and
 *          XXH3-64 of one 64 KiB checksum block.
 *   stripe omap value "s.<16 hex>" of an inode object: stripe object n
 *          was written (see layout.h).  The key is the information; the
 *          value repeats the stripe number.
 */
#ifndef DRFS_CODEC_H
#define DRFS_CODEC_H

#include <stddef.h>
#include <stdint.h>

#define DRFS_ATTR_LEN 92
#define DRFS_TIMES_LEN 28
#define DRFS_DENTRY_LEN 24
#define DRFS_BLOCK_LEN 16
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
	uint64_t hash; /* XXH3-64 of those bytes */
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

void drfs_block_encode(const struct drfs_block *b, char out[DRFS_BLOCK_LEN]);
int drfs_block_decode(const char *buf, size_t len, struct drfs_block *b);

void drfs_stripe_rec_encode(uint64_t stripe, char out[DRFS_STRIPE_REC_LEN]);
/* 0, or -EIO if corrupt or not the record of @stripe. */
int drfs_stripe_rec_decode(const char *buf, size_t len, uint64_t stripe);

uint64_t drfs_hash(const void *buf, size_t len);

/* Names: 1..255 bytes, no '/', no NUL, not "." or "..".  0 or -errno. */
int drfs_name_check(const char *name);

#endif
