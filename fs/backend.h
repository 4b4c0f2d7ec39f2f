/*
 * backend.h - the one door to RADOS (backend.c); internal to fs/.
 *
 * Rule: no file but backend.c calls librados (tests/check-backend.sh
 * fails the build's tests otherwise).  Everything that reaches the cluster
 * - read, write, remove, stat, xattr and omap ops, exec-like class calls
 * (cls_lock), watch, notify, acknowledgements, aio, blocklist - goes
 * through a function here, which:
 *   - refuses to send anything once this node is fenced (-EIO);
 *   - counts the op (DRFS_ST_RADOS_READ / _WRITE: what the stats and
 *     the lock fast path's op budget show; watch, notify and blocklist
 *     are control traffic and are not counted there, as before);
 *   - maps errors once: EDQUOT (pool quota) is ENOSPC; ESHUTDOWN (the
 *     OSDs refuse us as blocklisted) marks the node fenced and is EIO;
 *   - announces every successful write or removal of an inode object
 *     "i.<16 hex>" to the other nodes (drfs_inval_note, inval.c).
 *
 * Compound ops are still built with librados' op types, through the thin
 * drfs_op_* (write) and drfs_rd_* (read) wrappers below, so a module's
 * guards and the version it checks are visible where the op is made.
 * The daemon and datarootctl never see librados: they use the watch API
 * and drfs_mon_command() of fs.h.
 */
#ifndef DRFS_BACKEND_H
#define DRFS_BACKEND_H

#include <rados/librados.h>
#include "fs.h"

/* The connection: one client instance and its ioctx (fs.h, conn_lock). */
struct drfs_conn {
	rados_t cluster;
	rados_ioctx_t io;
};

/* Open fs->conn with fs->copts (@err: one line for the user), close it. */
int drfs_conn_open(struct drfs_fs *fs, struct drfs_conn **out, char *err,
		   size_t errlen);
/* Close a connection whose watches the caller has undone (NULL: none). */
void drfs_conn_close(struct drfs_conn *c);
/* snprintf into @err unless it is NULL. */
void drfs_seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- building write ops ---- */

rados_write_op_t drfs_wop_new(void);
void drfs_wop_free(rados_write_op_t op); /* NULL: nothing */
/* Create the object: @exclusive fails the op if it exists (-EEXIST). */
void drfs_op_create(rados_write_op_t op, bool exclusive);
void drfs_op_assert_exists(rados_write_op_t op);
/* Guard: the object is still at version @ver (else -ERANGE/-EOVERFLOW). */
void drfs_op_assert_version(rados_write_op_t op, uint64_t ver);
void drfs_op_write(rados_write_op_t op, const char *buf, size_t len,
		   uint64_t off);
void drfs_op_truncate(rados_write_op_t op, uint64_t off);
void drfs_op_setxattr(rados_write_op_t op, const char *name, const char *val,
		      size_t len);
/* Guard: xattr @name equals @val (absent compares equal to ""). */
void drfs_op_cmpxattr(rados_write_op_t op, const char *name, const char *val,
		      size_t len);
/* Guard: omap value of @key equals @val ("" with vlen 0: key absent). */
void drfs_op_cmp(rados_write_op_t op, const char *key, const char *val,
		 size_t vlen, int *prval);
void drfs_op_set(rados_write_op_t op, const char *key, const char *val,
		 size_t vlen);
void drfs_op_setn(rados_write_op_t op, const char *const *keys,
		  const char *const *vals, const size_t *klens,
		  const size_t *vlens, size_t n);
void drfs_op_rm(rados_write_op_t op, const char *key);
void drfs_op_rmn(rados_write_op_t op, const char *const *keys,
		 const size_t *klens, size_t n);
/* Remove omap keys in [@from, @to). */
void drfs_op_rm_range(rados_write_op_t op, const char *from, const char *to);
/* Set a directory's mtime and ctime to @now, blindly (see codec.h). */
void drfs_op_times(rados_write_op_t op, int64_t now);

/* ---- building read ops ---- */

rados_read_op_t drfs_rd_new(void);
void drfs_rd_free(rados_read_op_t op); /* NULL: nothing */
void drfs_rd_stat(rados_read_op_t op, uint64_t *size, int *prval);
void drfs_rd_read(rados_read_op_t op, uint64_t off, size_t len, char *buf,
		  size_t *got, int *prval);
void drfs_rd_xattrs(rados_read_op_t op, rados_xattrs_iter_t *it, int *prval);
/* Up to @max omap keys after @after starting with @prefix. */
void drfs_rd_omap(rados_read_op_t op, const char *after, const char *prefix,
		  uint64_t max, rados_omap_iter_t *it, unsigned char *more,
		  int *prval);
void drfs_rd_omap_keys(rados_read_op_t op, const char *const *keys, size_t n,
		       const size_t *klens, rados_omap_iter_t *it, int *prval);
/* Next entry (0 and *key NULL at the end); end accepts NULL. */
int drfs_omap_next(rados_omap_iter_t it, char **key, char **val, size_t *klen,
		   size_t *vlen);
void drfs_omap_end(rados_omap_iter_t it);
int drfs_xattrs_next(rados_xattrs_iter_t it, const char **name,
		     const char **val, size_t *len);
void drfs_xattrs_end(rados_xattrs_iter_t it);

/* ---- running ops (counted, fencing-checked, errors mapped) ---- */

/*
 * Run a write op; @flags: LIBRADOS_OPERATION_* (FULL_TRY is always
 * added: a full pool fails with ENOSPC instead of blocking).  An inode
 * object written is announced before this returns (its result then
 * wins if the op succeeded).
 */
int drfs_wop(struct drfs_fs *fs, const char *oid, rados_write_op_t op,
	     int flags);
/* drfs_wop() that also tells the version the op left: *@ver is 0 when
 * the op did not land. */
int drfs_wop_ver(struct drfs_fs *fs, const char *oid, rados_write_op_t op,
		 int flags, uint64_t *ver);
/* Run a read op; *@ver (may be NULL): the object version it saw. */
int drfs_rop(struct drfs_fs *fs, const char *oid, rados_read_op_t op,
	     uint64_t *ver);
/* Remove object @oid (announced like drfs_wop). */
int drfs_remove(struct drfs_fs *fs, const char *oid);
/* Size of object @oid, or -ENOENT. */
int drfs_obj_stat(struct drfs_fs *fs, const char *oid, uint64_t *size);
/* Object xattr @name into @buf: its length, or -errno. */
int drfs_obj_getxattr(struct drfs_fs *fs, const char *oid, const char *name,
		      char *buf, size_t size);
/*
 * Read one omap value of object @oid: 0 (at most @size bytes copied to
 * @val, full length in *len) or -ENOENT if the key or the object is absent.
 */
int drfs_omap_get(struct drfs_fs *fs, const char *oid, const char *key,
		  char *val, size_t size, size_t *len);

/*
 * aio: an op in flight.  Submitting counts it and checks fencing (-EIO:
 * nothing was sent, @cb never runs).  @cb (may be NULL) runs in a librados
 * thread when the op completes: it may only mark and signal.  *@out is set
 * before the op is sent.  drfs_aio_wait() waits and returns the op's
 * result, mapped, and *@ver (may be NULL) its version; an inode object
 * written or removed is announced there.  drfs_aio_release() waits for an
 * op still in flight, then frees it (NULL: nothing).
 */
struct drfs_aio;
typedef void (*drfs_aio_fn)(void *arg);
int drfs_aio_read(struct drfs_fs *fs, const char *oid, rados_read_op_t op,
		  struct drfs_aio **out);
int drfs_aio_write(struct drfs_fs *fs, const char *oid, rados_write_op_t op,
		   int flags, drfs_aio_fn cb, void *arg, struct drfs_aio **out);
int drfs_aio_remove(struct drfs_fs *fs, const char *oid, struct drfs_aio **out);
int drfs_aio_wait(struct drfs_aio *a, uint64_t *ver);
/*
 * drfs_aio_wait() without the announcement, for a writer that announces
 * the inode itself (drfs_inval_note) before anyone is told the change
 * is done: the stream's size raises, announced once at its sync.
 */
int drfs_aio_wait_unannounced(struct drfs_aio *a, uint64_t *ver);
void drfs_aio_release(struct drfs_aio *a);

/* ---- omap listings ---- */

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
	unsigned pages; /* read at most this many pages (0: all) */
	/*
	 * Optional, for reads that must see the same object version as
	 * each page: @add puts them into the page's op, @got (may be NULL)
	 * is called once the op ran, with its result, before the page's
	 * keys; non-zero from @got stops the listing with that value.
	 */
	void (*add)(void *ctx, rados_read_op_t op);
	int (*got)(void *ctx, int ret);
	bool *more; /* out (may be NULL): keys remain after the last page */
	uint64_t *ver; /* out (may be NULL): version the last page saw */
};

/*
 * The one paged omap listing: reads @oid's omap page by page (one counted
 * read op each, drfs_rop) and calls @fn for every key.  Returns 0 when
 * every key was seen (or @pages were read), what @fn or @got returned to
 * stop, -ENOENT if the object does not exist, -EIO for a key it cannot
 * page after (a NUL in the key), or -errno.  Holds no lock; the caller
 * holds conn_lock as for any RADOS call.
 */
int drfs_omap_list(struct drfs_fs *fs, const char *oid,
		   const struct drfs_omap_list *l, drfs_omap_fn fn, void *ctx);

/* ---- objects, cluster ---- */

/*
 * Call @fn for every object of the namespace (its name); non-zero from
 * @fn stops the listing with that value.  0 at the end, or -errno.
 */
int drfs_objects_list(struct drfs_fs *fs, int (*fn)(void *ctx, const char *oid),
		      void *ctx);
/* Remove every object of the namespace, unannounced: count, or -errno. */
int drfs_wipe_namespace(struct drfs_fs *fs);
/* cls_lock exclusive lock @name on @oid for @secs (counted as a write). */
int drfs_lock_take(struct drfs_fs *fs, const char *oid, const char *name,
		   const char *cookie, const char *desc, unsigned secs);
int drfs_lock_drop(struct drfs_fs *fs, const char *oid, const char *name,
		   const char *cookie);
/* Raw capacity and available space of the cluster, objects of the pool. */
int drfs_pool_usage(struct drfs_fs *fs, uint64_t *kb, uint64_t *kb_avail,
		    uint64_t *objects);
/* Fence client @addr for @secs; returns once our OSD map has the entry. */
int drfs_blocklist(struct drfs_fs *fs, const char *addr, unsigned secs);
/* Wait until we have the newest OSD map. */
int drfs_osdmap_wait(struct drfs_fs *fs);
/* Our client instance id (the notifier id others see). */
uint64_t drfs_instance_id(struct drfs_fs *fs);
/* Our client address ("v2:ip:port/nonce", the first one) into @buf. */
int drfs_client_addr(struct drfs_fs *fs, char *buf, size_t size);

/* ---- notify ---- */

struct drfs_notify_out {
	size_t acked; /* watchers that acknowledged */
	size_t ntimedout; /* watchers that did not: */
	uint64_t *timedout; /* their instance ids (malloc'd; free()) */
	bool bad_reply; /* a reply came and could not be decoded */
};

/*
 * Notify the watchers of @oid and wait up to @timeout_ms for their
 * acknowledgements; @out (may be NULL) tells who answered.  The notify's
 * own result: 0, -ETIMEDOUT (some did not answer), -ENOENT (no object),
 * -errno.
 */
int drfs_notify(struct drfs_fs *fs, const char *oid, const void *buf,
		size_t len, uint64_t timeout_ms, struct drfs_notify_out *out);
/* The same, not waited for (nor its result). */
void drfs_notify_async(struct drfs_fs *fs, const char *oid, const void *buf,
		       size_t len, uint64_t timeout_ms);

#endif
