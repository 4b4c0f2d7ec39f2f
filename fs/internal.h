/*
 * internal.h - helpers shared by the fs/ modules; not part of the API.
 */
#ifndef DRFS_INTERNAL_H
#define DRFS_INTERNAL_H

#include <string.h>
#include "fs.h"

#define DRFS_DEAD_KEY "/dead"
#define DRFS_XATTR_PREFIX "/x/"

/* Guard: omap value of @key equals @val ("" with vlen 0: key absent). */
static inline void drfs_op_cmp(rados_write_op_t op, const char *key,
			       const char *val, size_t vlen, int *prval)
{
	rados_write_op_omap_cmp2(op, key, LIBRADOS_CMPXATTR_OP_EQ, val,
				 strlen(key), vlen, prval);
}

static inline void drfs_op_set(rados_write_op_t op, const char *key,
			       const char *val, size_t vlen)
{
	const char *keys[1] = {key};
	const char *vals[1] = {val};
	size_t kl[1] = {strlen(key)}, vl[1] = {vlen};

	rados_write_op_omap_set2(op, keys, vals, kl, vl, 1);
}

static inline void drfs_op_rm(rados_write_op_t op, const char *key)
{
	const char *keys[1] = {key};
	size_t kl[1] = {strlen(key)};

	rados_write_op_omap_rm_keys2(op, keys, kl, 1);
}

/* Set a directory's mtime and ctime to @now, blindly (see codec.h). */
static inline void drfs_op_times(rados_write_op_t op, int64_t now)
{
	char tbuf[DRFS_TIMES_LEN];

	drfs_times_encode(now, now, tbuf);
	rados_write_op_setxattr(op, "t", tbuf, sizeof(tbuf));
}

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

/* omap.c */
/*
 * Called for each key of an omap listing, in key order (@key is
 * NUL-terminated, @klen its length; @val is not).  Return 0 to go on, or
 * non-zero to stop: drfs_omap_list() then returns that value.  The
 * callback may change the object (remove or add keys): the listing goes
 * on after the last key it was given.
 */
typedef int (*drfs_omap_fn)(void *ctx, const char *key, size_t klen,
			    const char *val, size_t vlen);

struct drfs_omap_list {
	const char *after; /* list keys after this one (NULL or "": all) */
	const char *prefix; /* only keys beginning with this (NULL: all) */
	unsigned page; /* keys per read op (0: 256) */
	/*
	 * Optional, for reads that must see the same object version as
	 * each page: @add puts them into the page's op, @got (may be NULL)
	 * is called once the op ran, with its result, before the page's
	 * keys; non-zero from @got stops the listing with that value.
	 */
	void (*add)(void *ctx, rados_read_op_t op);
	int (*got)(void *ctx, int ret);
};

/*
 * The one paged omap listing: reads @oid's omap page by page (one counted
 * read op each, drfs_rop) and calls @fn for every key.  Returns 0 when
 * every key was seen, what @fn or @got returned to stop, -ENOENT if the
 * object does not exist, -EIO for a key it cannot page after (a NUL in
 * the key), or -errno.  Holds no lock; the caller holds conn_lock as for
 * any RADOS call.
 */
int drfs_omap_list(struct drfs_fs *fs, const char *oid,
		   const struct drfs_omap_list *l, drfs_omap_fn fn, void *ctx);

/* store.c */
/* Remove object @oid (counted, fenced check, announced like drfs_wop). */
int drfs_remove(struct drfs_fs *fs, const char *oid);
/*
 * Read one omap value of object @oid: 0 (at most @size bytes copied to
 * @val, full length in *len) or -ENOENT if the key or the object is absent.
 */
int drfs_omap_get(struct drfs_fs *fs, const char *oid, const char *key,
		  char *val, size_t size, size_t *len);
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
