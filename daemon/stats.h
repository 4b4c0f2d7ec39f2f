/*
 * stats.h - request counters by area and the statistics files (stats.c).
 */
#ifndef DRFSD_STATS_H
#define DRFSD_STATS_H

#include "daemon.h"

#define DRFSD_STATS_PROM ".datarootfs-stats.prom"
#define DRFSD_STATS_TXT ".datarootfs-stats.txt"

/* Count a request of @op in area @area. */
void drfsd_count(struct drfsd *d, enum drfsd_op op, int area);
/* Area of a known inode, and of the entry @name of @parent. */
int drfsd_area_of(struct drfsd *d, uint64_t ino);
int drfsd_area_at(struct drfsd *d, uint64_t parent, const char *name);
int drfsd_stats_ino(const char *name); /* 0 if not a stats file */
void drfsd_stats_entry(struct drfsd *d, int which, struct fuse_entry_param *e);
void drfsd_stats_open(fuse_req_t req, uint64_t ino, struct fuse_file_info *fi);
void drfsd_stats_read(fuse_req_t req, size_t size, off_t off,
		      struct fuse_file_info *fi);
void drfsd_stats_release(fuse_req_t req, struct fuse_file_info *fi);

#endif
