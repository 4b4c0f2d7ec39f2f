/*
 * internal.h - helpers shared by the fs/ modules; not part of the API.
 */
#ifndef DRFS_INTERNAL_H
#define DRFS_INTERNAL_H

#include <string.h>
#include "backend.h"

#define DRFS_DEAD_KEY "/dead"
#define DRFS_XATTR_PREFIX "/x/"

/*
 * End an invalidation batch opened by drfs_inval_begin() around an
 * operation that returned @ret: the operation's error wins; else the
 * announcement's (inval.c).
 */
static inline int drfs_inval_finish(struct drfs_fs *fs, int ret)
{
	int r = drfs_inval_end(fs);

	return ret < 0 ? ret : r;
}

/*
 * Fault injection for crash tests: when the environment variable
 * DRFS_FAULT names @point, the process dies on the spot (like kill -9).
 */
void drfs_fault(const char *point);

/* inval.c */
/*
 * Store what this thread just wrote in the metadata cache: take t0 =
 * drfs_own_begin() before the write(s); afterwards drfs_own_ticket(t0) is
 * a ticket valid for storing the written values, or 0 (do not store) if
 * any invalidation other than this thread's own happened in between.
 */
uint64_t drfs_own_begin(struct drfs_fs *fs);
uint64_t drfs_own_ticket(struct drfs_fs *fs, uint64_t t0);

/* store.c */
/*
 * Replace the client instance (conn_lock held for writing; the caller has
 * undone every watch of the old one): new cluster handle and ioctx, new
 * node UUID.  The old instance is shut down.  On failure nothing changes.
 */
int drfs_reconnect_locked(struct drfs_fs *fs, char *err, size_t errlen);

/* data.c */
/*
 * A truncate from @old_size down to @na->size that also sets the
 * attributes @na (size, times: what setattr makes of them) in the same op
 * as the first cut, only if the inode object is still at version @ver
 * (what the caller read @old_size from), else -EAGAIN and nothing is cut.
 * Nobody ever sees the old size over cut data (see data.c).
 */
int drfs_trim_at(struct drfs_fs *fs, uint64_t ino, uint64_t old_size,
		 const struct drfs_attr *na, uint64_t ver);
/*
 * Stripe @stripe >= 1 of @ino was found missing although the inode
 * records it as written: look again, as a read racing a truncate or a
 * write can see that for a moment.  1: the object exists now (read it
 * again); 0: the record is gone too (truncated: a hole); -EIO: the object
 * is lost; -errno.  @quick: look once (nothing else is running).
 */
int drfs_stripe_check(struct drfs_fs *fs, uint64_t ino, uint64_t stripe,
		      bool quick);

/*
 * Add to @op the removal of the stripe records from the smaller of two
 * sizes on, when a size change crosses a stripe boundary: a truncate
 * leaves none beyond the size (layout.h), and a grow none that nodes older
 * than stripe records left behind.
 */
void drfs_op_drop_records(rados_write_op_t op, uint64_t from_size,
			  uint64_t to_size);

/* ns.c */
/* Read and verify entry @name of directory @dir (-ENOENT if absent). */
/* Attributes of @ino read from its object (never the cache), with the
 * object's version. */
int drfs_inode_read_ver(struct drfs_fs *fs, uint64_t ino, struct drfs_attr *a,
			uint64_t *ver);
int drfs_entry_get(struct drfs_fs *fs, uint64_t dir, const char *name,
		   char raw[DRFS_DENTRY_LEN], struct drfs_dentry *d);
int drfs_dir_kill(struct drfs_fs *fs, uint64_t dir);
void drfs_dir_revive(struct drfs_fs *fs, uint64_t dir);
int drfs_dir_is_alive(struct drfs_fs *fs, uint64_t dir);
int drfs_nlink_add(struct drfs_fs *fs, uint64_t ino, int delta, bool no_ctime,
		   struct drfs_attr *out);
int drfs_set_parent(struct drfs_fs *fs, uint64_t ino, uint64_t parent);
/* Free an inode nothing points to, whatever its link count says. */
int drfs_inode_orphan_free(struct drfs_fs *fs, uint64_t ino);

/* Compare-and-swap edit of an inode's attributes (see attr_update). */
int drfs_attr_edit(struct drfs_fs *fs, uint64_t ino,
		   int (*fn)(struct drfs_attr *a, void *ctx), void *ctx);

/* orphan.c */
int drfs_orphans_scan(struct drfs_fs *fs, int grace_s, bool reap,
		      void (*is_pending)(void *ctx, uint64_t ino), void *ctx);

/* rename.c: number of intents at least @min_age_s old. */
int drfs_intents_count(struct drfs_fs *fs, int min_age_s);

#endif
