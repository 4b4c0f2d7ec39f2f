/*
 * local.h - the localcache area, served from this node's tmpfs (local.c).
 */
#ifndef DRFSD_LOCAL_H
#define DRFSD_LOCAL_H

#include "daemon.h"

/* Handlers of localcache inodes (ops.c hands their requests on). */
extern const struct fuse_lowlevel_ops drfsd_local_ops;
int drfsd_local_start(struct drfsd *d);
void drfsd_local_stop(struct drfsd *d);
/* lookup of the area root itself (parent is the mount root) */
void drfsd_local_root_lookup(fuse_req_t req);
bool drfsd_local_is_area(struct drfsd *d, uint64_t parent, const char *name);
/* Rejoin (rejoin.c, fs->conn_lock held for writing): move the superblock
 * watch to the new client; attach returns whether the area root changed. */
void drfsd_local_detach(struct drfsd *d);
bool drfsd_local_attach(struct drfsd *d);

#endif
