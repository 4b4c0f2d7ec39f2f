/*
 * daemon.h - the FUSE side of datarootfs: state shared by main.c and the
 * request handlers in ops.c.
 */
#ifndef DRFSD_DAEMON_H
#define DRFSD_DAEMON_H

#include <fuse_lowlevel.h>
#include <pthread.h>

#include "fs.h"

/* Write-back buffer of one inode (daemon-local, flushed on close/fsync). */
struct wbuf {
	char *buf;
	uint64_t off; /* file offset of buf[0] */
	size_t len, cap;
	int64_t mtime_ns; /* time of the last write() into it */
	int err; /* first flush error, reported at flush/fsync/close */
};

/*
 * One inode the kernel knows about.  Lock order: table lock, then
 * node->lock.  nlookup, nopen and doomed are protected by the table lock;
 * wb by node->lock.
 */
struct dnode {
	uint64_t ino;
	uint64_t nlookup;
	unsigned nopen;
	bool doomed; /* link count reached 0 while open here */
	pthread_mutex_t lock;
	struct wbuf wb;
	struct dnode *next; /* hash chain */
};

struct drfsd {
	struct drfs_fs *fs;
	struct fuse_session *se;
	pthread_mutex_t table_lock;
	struct dnode **table;
	size_t nbuckets;
	size_t nnodes;
	double attr_timeout; /* shared areas: 0 (always ask) */
	size_t wb_max; /* flush the write buffer beyond this */
};

extern const struct fuse_lowlevel_ops drfsd_ops;

#endif
