/*
 * rcache.h - the filedir read cache on local disk (rcache.c).
 */
#ifndef DRFSD_RCACHE_H
#define DRFSD_RCACHE_H

#include "daemon.h"

int drfsd_rc_start(struct drfsd *d, const char *dir, uint64_t limit);
void drfsd_rc_stop(struct drfsd *d);
/* An fd of cached content @sha of @size bytes, or -1 (a miss). */
int drfsd_rc_open(struct drfsd *d, const char *sha, uint64_t size);
/* Cache content @sha of inode @ino in the background. */
void drfsd_rc_want(struct drfsd *d, const char *sha, uint64_t ino,
		   uint64_t size);
/* A purge epoch announced (or found at start): empty the cache if new. */
void drfsd_rc_epoch(struct drfsd *d, uint64_t epoch);
void drfsd_rc_usage(struct drfsd *d, uint64_t *used, uint64_t *limit,
		    size_t *files);

#endif
