/*
 * reply.h - replies of the shared-area handlers (reply.c).
 */
#ifndef DRFSD_REPLY_H
#define DRFSD_REPLY_H

#include <sys/stat.h>

#include "daemon.h"

/* Answer @req with @ret: 0 or -errno (the one place it is negated). */
void drfsd_reply_err(fuse_req_t req, int ret);

/*
 * Timeouts: take a ticket when a request starts (per thread; see
 * coherence.h), then the entry or attribute timeout of its reply depends
 * on whether another node changed something since.
 */
void drfsd_take_ticket(struct drfsd *d);
double drfsd_entry_timeout(struct drfsd *d);
double drfsd_attr_timeout(struct drfsd *d, const struct drfs_attr *a);

void drfsd_to_stat(const struct drfs_attr *a, struct stat *st);
/* An entry of @a, with the timeouts of this request's ticket. */
void drfsd_fill_entry(struct drfsd *d, const struct drfs_attr *a,
		      struct fuse_entry_param *e);
/* Reply the entry of @a (in area @area), counting one lookup of it. */
void drfsd_reply_entry(fuse_req_t req, const struct drfs_attr *a, int area);

/* This worker thread's reply buffer of at least @size bytes, or NULL. */
char *drfsd_rdbuf_get(size_t size);

#endif
