/*
 * wb.h - the write-back buffer and the read-ahead of one inode (wb.c).
 *
 * Everything here works on one struct dnode (n->wb, n->ra, under n->lock
 * or ra->lock as said); nothing here knows the inode table.  The
 * contracts of the buffer (close-to-open: durable before flush, fsync and
 * release return) are in struct wbuf and struct rdahead (daemon.h).
 */
#ifndef DRFSD_WB_H
#define DRFSD_WB_H

#include "daemon.h"

/*
 * Buffer @len bytes at @off for @n (whole stripes stream out as they
 * fill).  Returns 0, or the error of an earlier write-back of @n (handed
 * out once), -EIO when fenced, -ENOMEM.
 */
int drfsd_wb_write(struct drfsd *d, struct dnode *n, uint64_t off,
		   const char *buf, size_t len);
/*
 * The SHA-1 of @n's content as this node wrote it (struct wbuf): true and
 * the hash in @out if every byte of the @size bytes stored was written
 * here, in order from 0, everything is stored, and nothing else changed
 * the data since (a write elsewhere, a truncate, a failed write-back,
 * another node's change, a lost watch).  truncated: a truncate of @n
 * went out (voids the hash).
 */
bool drfsd_wb_sha(struct drfsd *d, struct dnode *n, uint64_t size,
		  char out[41]);
void drfsd_wb_truncated(struct dnode *n);
/* Whether @n holds writes not yet stored (buffer, pieces, in flight). */
bool drfsd_wb_dirty(struct dnode *n);
/* Flush and hand out (and clear) the pending error. */
int drfsd_wb_sync(struct drfsd *d, struct dnode *n);
/* Flush; returns the pending error but leaves it for the writer's next
 * write, fsync or close (for callers that are not the writer). */
int drfsd_wb_sync_keep(struct drfsd *d, struct dnode *n);
/* Make everything buffered durable; caller holds n->lock.  Returns the
 * pending error (kept in wb->err). */
int drfsd_wb_flush_locked(struct drfsd *d, struct dnode *n);
/* Show buffered writes in @a: the size they reach, their mtime. */
void drfsd_wb_apply(struct dnode *n, struct drfs_attr *a);
/* The last handle here was released: free the buffer memory.  Caller
 * holds the table lock. */
void drfsd_wb_drop_buf(struct dnode *n);
/* Rejoin (conn_lock held for writing): forget what is buffered and read
 * ahead, waiting for the old session's ops in flight.  True if @n had
 * unsaved data. */
bool drfsd_wb_discard(struct dnode *n);
/* @n is being freed: free its buffer, stream and read-ahead (waits for
 * writes still in flight). */
void drfsd_wb_release(struct dnode *n);

/*
 * Read [off, off + size) of shared file @n through handle @fh into @buf,
 * with read-ahead for a sequential reader: bytes read, or -errno.  A read
 * inside one stripe read ahead is answered from its buffer without a copy:
 * then @req has been replied and *replied is set.
 */
ssize_t drfsd_ra_read(struct drfsd *d, struct dnode *n, const void *fh,
		      uint64_t off, size_t size, char *buf, fuse_req_t req,
		      bool *replied);
/*
 * Before a read of @n: with scattered writes buffered, read [off, off +
 * size) into @buf with them laid over what is stored (*done set; bytes
 * or -errno); else flush what is buffered and leave the read to the
 * caller (0; an error of the flush stays for the writer).
 */
ssize_t drfsd_wb_read(struct drfsd *d, struct dnode *n, uint64_t off,
		      size_t size, char *buf, bool *done);
/* Before the connection goes at exit: wait until every background flush
 * thread is gone (they are waited for one by one by the flushes and
 * drfsd_wb_release; this waits for their last steps). */
void drfsd_wb_threads_wait(struct drfsd *d);
/* Drop @n's read-ahead, e.g. before its connection goes. */
void drfsd_ra_drop(struct dnode *n);
/* Handle @fh is released: drop the read-ahead it started. */
void drfsd_ra_release(struct dnode *n, const void *fh);

#endif
