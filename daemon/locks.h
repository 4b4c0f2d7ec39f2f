/*
 * locks.h - cluster-wide fcntl and flock locks, FUSE side (locks.c).
 */
#ifndef DRFSD_LOCKS_H
#define DRFSD_LOCKS_H

#include "daemon.h"

int drfsd_locks_start(struct drfsd *d);
void drfsd_locks_stop(struct drfsd *d);
void drfs_op_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		   struct flock *lock);
void drfs_op_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		   struct flock *lock, int sleep);
void drfs_op_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		   int op);
/* Called from ops.c: a file is being closed by @owner. */
void drfsd_locks_on_flush(struct drfsd *d, struct dnode *n, uint64_t owner);
void drfsd_locks_on_release(struct drfsd *d, struct dnode *n, uint64_t owner);
/* Rejoin (rejoin.c, fs->conn_lock held for writing): undo the lock
 * watches and answer parked waiters EIO. */
void drfsd_locks_detach(struct drfsd *d);

#endif
