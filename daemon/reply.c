/*
 * reply.c - what the request handlers of the shared areas (ops.c) answer
 * with: -errno replies, entries and attributes with their timeouts, and
 * the reply buffer of each worker thread.
 *
 * Errors travel as -errno and are negated once, in drfsd_reply_err().  An
 * entry reply adds one lookup to the node (nodes.c) and undoes it if the
 * request was interrupted.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "coherence.h"
#include "nodes.h"
#include "reply.h"

static struct drfsd *ctx_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

void drfsd_reply_err(fuse_req_t req, int ret)
{
	fuse_reply_err(req, ret < 0 ? -drfs_ret(ctx_of(req)->fs, ret) : 0);
}

/*
 * Entry and attribute timeouts of shared inodes: md_timeout (1 s by
 * default) while this node's metadata cache is coherent (coherence.c), 0
 * when it is not or when another node changed something while the
 * request ran: the ticket is taken when a request starts (per thread: a
 * handler that forgets to take one uses an older ticket, which can only
 * give 0).  The mount root keeps ROOT_ATTR_TIMEOUT even then: the kernel
 * checks its permissions on every path walk, also into the node-local
 * localcache.  Pool content (filedir) never changes size or data: its
 * attributes may be cached IMMUTABLE_ATTR_TIMEOUT s, so reads from the
 * page cache and opens need no round trip (a chmod or unlink elsewhere
 * still invalidates them).
 */
#define ROOT_ATTR_TIMEOUT 1.0
#define IMMUTABLE_ATTR_TIMEOUT 60.0
static __thread uint64_t tl_ticket;

void drfsd_take_ticket(struct drfsd *d)
{
	tl_ticket = drfsd_coh_ticket(d);
}

double drfsd_entry_timeout(struct drfsd *d)
{
	return drfsd_coh_timeout(d, tl_ticket, true);
}

double drfsd_attr_timeout(struct drfsd *d, const struct drfs_attr *a)
{
	double t = drfsd_coh_timeout(d, tl_ticket, false);

	if (a->flags & DRFS_IF_IMMUTABLE)
		return IMMUTABLE_ATTR_TIMEOUT;
	if (a->ino == FUSE_ROOT_ID && t < ROOT_ATTR_TIMEOUT)
		return ROOT_ATTR_TIMEOUT;
	return t;
}

void drfsd_to_stat(const struct drfs_attr *a, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = a->ino;
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_rdev = a->rdev;
	st->st_size = (off_t)a->size;
	st->st_blksize = 65536;
	st->st_blocks = (blkcnt_t)((a->size + 511) / 512);
	st->st_atim.tv_sec = a->atime_ns / 1000000000;
	st->st_atim.tv_nsec = a->atime_ns % 1000000000;
	st->st_mtim.tv_sec = a->mtime_ns / 1000000000;
	st->st_mtim.tv_nsec = a->mtime_ns % 1000000000;
	st->st_ctim.tv_sec = a->ctime_ns / 1000000000;
	st->st_ctim.tv_nsec = a->ctime_ns % 1000000000;
}

void drfsd_fill_entry(struct drfsd *d, const struct drfs_attr *a,
		      struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = a->ino;
	e->generation = 0;
	e->attr_timeout = drfsd_attr_timeout(d, a);
	e->entry_timeout = drfsd_entry_timeout(d);
	if (S_ISDIR(a->mode))
		drfsd_coh_dir_seen(d, a->ino);
	drfsd_to_stat(a, &e->attr);
}

void drfsd_reply_entry(fuse_req_t req, const struct drfs_attr *a, int area)
{
	struct drfsd *d = ctx_of(req);
	struct fuse_entry_param e;
	struct dnode *n = drfsd_node_get(d, a->ino, 1);

	if (!n) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n->area = (uint8_t)area;
	drfsd_fill_entry(d, a, &e);
	if (fuse_reply_entry(req, &e) == -ENOENT)
		drfsd_node_forget(d, a->ino, 1); /* interrupted: undo */
}

/*
 * Reply buffer of each worker thread (max_read bytes), freed when the
 * thread ends (libfuse ends idle workers): a fresh 1 MiB buffer per
 * request faults in page by page (perf: a third of a sequential read).
 */
struct rdbuf {
	char *buf;
	size_t cap;
};
static pthread_key_t rdbuf_key;
static pthread_once_t rdbuf_once = PTHREAD_ONCE_INIT;

static void rdbuf_free(void *p)
{
	struct rdbuf *r = p;

	free(r->buf);
	free(r);
}

static void rdbuf_init(void)
{
	pthread_key_create(&rdbuf_key, rdbuf_free);
}

char *drfsd_rdbuf_get(size_t size)
{
	struct rdbuf *r;

	pthread_once(&rdbuf_once, rdbuf_init);
	r = pthread_getspecific(rdbuf_key);
	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r || pthread_setspecific(rdbuf_key, r)) {
			free(r);
			return NULL;
		}
	}
	if (size > r->cap) {
		free(r->buf);
		r->cap = 0;
		r->buf = malloc(size);
		if (!r->buf)
			return NULL;
		r->cap = size;
	}
	return r->buf;
}
