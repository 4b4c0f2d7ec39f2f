/*
 * ops.c - FUSE low-level request handlers (drfs_op_<op>).
 *
 * Glue only: each handler turns its arguments into a call of the fs/
 * library and its result into exactly one reply.  Errors travel as -errno
 * and are negated once, in reply_err().
 *
 * Coherence in the shared areas: fs/ keeps a metadata cache that other
 * nodes invalidate before their changes return (fs/inval.c); the kernel
 * gets short entry and attribute timeouts that coherence.c invalidates
 * the same way, and keeps pages across opens unless another node changed
 * the data since.  Writes are gathered per inode in a write-back buffer
 * (struct wbuf), whose whole stripes stream out with aio as they fill,
 * and made durable before flush (close), fsync and release return, which
 * gives close-to-open consistency between nodes.  A handle reading
 * sequentially is served from stripes read ahead (struct rdahead), which
 * a new open, a write or truncate here, or a cluster lock on the inode
 * makes us drop or bypass.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

static struct drfsd *ctx_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void reply_err(fuse_req_t req, int ret)
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

static void take_ticket(struct drfsd *d)
{
	tl_ticket = drfsd_coh_ticket(d);
}

static double entry_timeout(struct drfsd *d)
{
	return drfsd_coh_timeout(d, tl_ticket, true);
}

static double attr_timeout_of(struct drfsd *d, const struct drfs_attr *a)
{
	double t = drfsd_coh_timeout(d, tl_ticket, false);

	if (a->flags & DRFS_IF_IMMUTABLE)
		return IMMUTABLE_ATTR_TIMEOUT;
	if (a->ino == FUSE_ROOT_ID && t < ROOT_ATTR_TIMEOUT)
		return ROOT_ATTR_TIMEOUT;
	return t;
}

static void to_stat(const struct drfs_attr *a, struct stat *st)
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

/* ---- inode table ---- */

static struct dnode **bucket(struct drfsd *d, uint64_t ino)
{
	return &d->table[(ino * 0x9E3779B97F4A7C15ull) % d->nbuckets];
}

static struct dnode *node_find_locked(struct drfsd *d, uint64_t ino)
{
	for (struct dnode *n = *bucket(d, ino); n; n = n->next)
		if (n->ino == ino)
			return n;
	return NULL;
}

/* Find or add the node for @ino; adds @lookups to its lookup count. */
struct dnode *drfsd_node_get(struct drfsd *d, uint64_t ino, uint64_t lookups)
{
	struct dnode *n;

	pthread_mutex_lock(&d->table_lock);
	n = node_find_locked(d, ino);
	if (!n) {
		n = calloc(1, sizeof(*n));
		if (!n) {
			pthread_mutex_unlock(&d->table_lock);
			return NULL;
		}
		n->ino = ino;
		pthread_mutex_init(&n->lock, NULL);
		n->next = *bucket(d, ino);
		*bucket(d, ino) = n;
		d->nnodes++;
	}
	n->nlookup += lookups;
	pthread_mutex_unlock(&d->table_lock);
	return n;
}

/* The node of @ino if the kernel knows it, without taking a reference. */
struct dnode *drfsd_node(struct drfsd *d, uint64_t ino)
{
	struct dnode *n;

	pthread_mutex_lock(&d->table_lock);
	n = node_find_locked(d, ino);
	pthread_mutex_unlock(&d->table_lock);
	return n;
}

/* ---- read-ahead (struct rdahead) ---- */

/*
 * Stripes read ahead of a sequential reader (4 MiB each): as deep as the
 * write stream, rados bench's 16 MiB in flight.  RA_BUDGET bounds the
 * memory of all read-aheads of the node together (a hundred PHP
 * downloads must not take 2 GiB): beyond it reads go without.
 */
#define RA_DEPTH 4
#define RA_BUDGET (256ull << 20)
#define RA_WINDOW (3ull * DRFS_STRIPE) /* see ra_read */
#define RA_MIN_REQ (64u << 10)
static uint64_t ra_bytes; /* atomic: stripe buffers held, all inodes */

static void ra_drop_slot(struct rdahead *ra, int i)
{
	if (!ra->slot[i])
		return;
	drfs_ra_free(ra->slot[i]); /* waits if still in flight */
	ra->slot[i] = NULL;
	__atomic_sub_fetch(&ra_bytes, DRFS_STRIPE, __ATOMIC_RELAXED);
}

/* Forget everything read ahead.  Caller holds ra->lock. */
static void ra_reset(struct rdahead *ra)
{
	for (int i = 0; i < RA_SLOTS; i++)
		ra_drop_slot(ra, i);
	ra->fh = NULL;
	ra->have_size = false;
	ra->seq = 0;
	ra->hi = 0;
}

static void ra_free(struct rdahead *ra)
{
	if (!ra)
		return;
	ra_reset(ra);
	pthread_mutex_destroy(&ra->lock);
	free(ra);
}

/* Drop @n's read-ahead, e.g. before its connection goes. */
static void ra_drop(struct dnode *n)
{
	struct rdahead *ra = __atomic_load_n(&n->ra, __ATOMIC_ACQUIRE);

	if (!ra)
		return;
	pthread_mutex_lock(&ra->lock);
	ra_reset(ra);
	pthread_mutex_unlock(&ra->lock);
}

/*
 * The slot holding stripe @st; with @start, a read of it is started if
 * none is (evicting the lowest stripe if all slots are taken).  NULL: not
 * there (or over budget, or the read could not start).
 */
static struct drfs_rahead *ra_slot(struct drfsd *d, struct dnode *n,
				   struct rdahead *ra, uint64_t st, bool start)
{
	int free_i = -1, low_i = -1;

	for (int i = 0; i < RA_SLOTS; i++) {
		if (ra->slot[i] && ra->slot_stripe[i] == st)
			return ra->slot[i];
		if (!ra->slot[i] && free_i < 0)
			free_i = i;
		if (ra->slot[i] &&
		    (low_i < 0 || ra->slot_stripe[i] < ra->slot_stripe[low_i]))
			low_i = i;
	}
	if (!start)
		return NULL;
	if (free_i < 0) {
		ra_drop_slot(ra, low_i);
		free_i = low_i;
	}
	if (__atomic_add_fetch(&ra_bytes, DRFS_STRIPE, __ATOMIC_RELAXED) >
		    RA_BUDGET ||
	    drfs_ra_start(d->fs, n->ino, st, &ra->slot[free_i]) < 0) {
		__atomic_sub_fetch(&ra_bytes, DRFS_STRIPE, __ATOMIC_RELAXED);
		ra->slot[free_i] = NULL;
		return NULL;
	}
	ra->slot_stripe[free_i] = st;
	return ra->slot[free_i];
}

static struct rdahead *ra_of(struct dnode *n)
{
	struct rdahead *ra = __atomic_load_n(&n->ra, __ATOMIC_ACQUIRE);

	if (ra)
		return ra;
	pthread_mutex_lock(&n->lock);
	if (!n->ra) {
		ra = calloc(1, sizeof(*ra));
		if (ra) {
			pthread_mutex_init(&ra->lock, NULL);
			__atomic_store_n(&n->ra, ra, __ATOMIC_RELEASE);
		}
	}
	ra = n->ra;
	pthread_mutex_unlock(&n->lock);
	return ra;
}

/*
 * Serve [off, off + size) from read-ahead slots: bytes, or -EAGAIN.  A
 * request inside one stripe is answered from the slot's buffer (@req
 * replied, *replied set) without a copy; caller holds ra->lock.
 */
static ssize_t ra_copy(struct drfsd *d, struct dnode *n, struct rdahead *ra,
		       uint64_t off, size_t size, char *buf, bool start,
		       fuse_req_t req, bool *replied)
{
	size_t done = 0;

	if (off / DRFS_STRIPE == (off + size - 1) / DRFS_STRIPE) {
		struct drfs_rahead *r =
			ra_slot(d, n, ra, off / DRFS_STRIPE, start);
		const char *p;
		ssize_t k;

		if (!r)
			return -EAGAIN;
		k = drfs_ra_peek(r, ra->size, off, size, &p);
		if (k < 0)
			return k;
		fuse_reply_buf(req, k ? p : NULL, (size_t)k);
		*replied = true;
		return k;
	}

	for (uint64_t st = off / DRFS_STRIPE; done < size; st++) {
		uint64_t a = off + done;
		uint64_t b = (st + 1) * DRFS_STRIPE;
		struct drfs_rahead *r = ra_slot(d, n, ra, st, start);
		ssize_t k;

		if (b > off + size)
			b = off + size;
		if (!r)
			return -EAGAIN;
		k = drfs_ra_copy(r, ra->size, a, (size_t)(b - a), buf + done);
		if (k < 0)
			return k;
		done += (size_t)k;
		if ((uint64_t)k < b - a)
			break; /* end of file */
	}
	return (ssize_t)done;
}

/*
 * A read of a shared file through read-ahead (see struct rdahead).
 * Stripe 0 and reads the read-ahead cannot answer go to drfs_read, which
 * reads the inode's attributes in the same round trip and refreshes the
 * size the slots are clipped at.
 */
static ssize_t ra_read(struct drfsd *d, struct dnode *n, const void *fh,
		       uint64_t off, size_t size, char *buf, fuse_req_t req,
		       bool *replied)
{
	struct rdahead *ra = ra_of(n);
	uint64_t gen = __atomic_load_n(&n->wb.gen, __ATOMIC_ACQUIRE);
	bool locked = __atomic_load_n(&n->locked, __ATOMIC_RELAXED);
	ssize_t ret = -EAGAIN;
	bool near;

	if (!ra || size == 0)
		return drfs_read(d->fs, n->ino, off, size, buf);
	pthread_mutex_lock(&ra->lock);
	if (ra->fh != fh || ra->gen != gen || locked) {
		ra_reset(ra);
		ra->fh = fh;
		ra->gen = gen;
	}
	/* The kernel's read-ahead sends several large requests at once,
	 * out of order by up to ~3 stripes (fio: a request at 7 MiB after
	 * one ending at 17 MiB): a request within RA_WINDOW behind the
	 * furthest end seen, or a stripe beyond it, counts as sequential.
	 * Small requests never do (random 4 KiB reads reach us as such). */
	near = size >= RA_MIN_REQ && off <= ra->hi + DRFS_STRIPE &&
	       off + RA_WINDOW >= ra->hi;
	ra->seq = near ? ra->seq + 1 : 0;
	if (!locked && ra->have_size && off >= DRFS_STRIPE)
		ret = ra_copy(d, n, ra, off, size, buf, ra->seq >= 2, req,
			      replied);
	if (ret == -EAGAIN) {
		uint64_t fsize;

		ret = drfs_read_size(d->fs, n->ino, off, size, buf, &fsize);
		if (ret >= 0) {
			ra->size = fsize;
			ra->have_size = true;
		}
	}
	if (ret >= 0) {
		uint64_t last;

		if (off + (uint64_t)ret > ra->hi)
			ra->hi = off + (uint64_t)ret;
		last = ra->hi ? (ra->hi - 1) / DRFS_STRIPE : 0;
		/* what lies well behind the reader is done with (late
		 * requests of the kernel's read-ahead still come for the
		 * stripes just behind: dropping those made them read again,
		 * 0.9 stripe reads per MiB instead of 0.25) */
		for (int i = 0; i < RA_SLOTS; i++)
			if (ra->slot[i] &&
			    (ra->slot_stripe[i] + 1) * DRFS_STRIPE +
					    RA_WINDOW <=
				    ra->hi)
				ra_drop_slot(ra, i);
		for (uint64_t st = last + 1;
		     !locked && ra->seq >= 2 && st <= last + RA_DEPTH &&
		     st * DRFS_STRIPE < ra->size;
		     st++)
			if (!ra_slot(d, n, ra, st, true))
				break;
	}
	pthread_mutex_unlock(&ra->lock);
	return ret;
}

static void node_free_locked(struct drfsd *d, struct dnode *n)
{
	struct dnode **pp = bucket(d, n->ino);

	while (*pp != n)
		pp = &(*pp)->next;
	*pp = n->next;
	d->nnodes--;
	if (n->has_lfd)
		close(n->lfd);
	pthread_mutex_destroy(&n->lock);
	drfs_ws_free(n->wb.ws); /* waits for writes still in flight */
	ra_free(n->ra);
	free(n->wb.buf);
	free(n);
}

/* At exit: the kernel does not forget every inode before an unmount. */
void drfsd_nodes_free(struct drfsd *d)
{
	pthread_mutex_lock(&d->table_lock);
	for (size_t b = 0; b < d->nbuckets; b++)
		while (d->table[b])
			node_free_locked(d, d->table[b]);
	pthread_mutex_unlock(&d->table_lock);
}

void drfsd_node_forget(struct drfsd *d, uint64_t ino, uint64_t nlookup)
{
	struct dnode *n;

	pthread_mutex_lock(&d->table_lock);
	n = node_find_locked(d, ino);
	if (n) {
		if (n->nlookup < nlookup) {
			drfs_err("forget of inode %" PRIx64 " below zero", ino);
			abort();
		}
		n->nlookup -= nlookup;
		if (n->nlookup == 0 && n->nopen == 0 && !n->wb.len)
			node_free_locked(d, n);
	}
	pthread_mutex_unlock(&d->table_lock);
}

/* ---- write-back buffer ---- */

/*
 * Whole stripes in flight per inode (4 MiB each).  rados bench keeps 16
 * MiB in flight with 16 1 MiB ops; 4 stripes are as much, in 4 ops.
 */
#define WB_DEPTH 4

static void wb_note_err(struct dnode *n, int ret, size_t len, uint64_t off)
{
	struct wbuf *wb = &n->wb;

	if (ret >= 0)
		return;
	/* EPERM: the file became immutable pool content (filedir) while
	 * open here: the writer is told at close, it is not a fault of
	 * ours.  ENOSPC: the pool is full (quota), the writer's problem. */
	drfs_log(ret == -EPERM || ret == -ENOSPC ? LOG_INFO : LOG_ERR,
		 "write-back of inode %" PRIx64 " (%zu bytes at %" PRIu64
		 ") failed: %s",
		 n->ino, len, off, strerror(-ret));
	if (!wb->err)
		wb->err = ret;
	/* the kernel's pages may hold what never landed: no keep_cache at
	 * the next open (coherence.c) */
	__atomic_store_n(&n->dgen_seen, UINT64_MAX, __ATOMIC_RELAXED);
}

/* Write out buf[0..len) synchronously and drop it from the buffer. */
static void wb_write_head(struct drfsd *d, struct dnode *n, size_t len)
{
	struct wbuf *wb = &n->wb;
	int ret =
		drfs_write(d->fs, n->ino, wb->off, wb->buf, len, wb->mtime_ns);

	wb_note_err(n, drfs_ret(d->fs, ret), len, wb->off);
	memmove(wb->buf, wb->buf + len, wb->len - len);
	wb->off += len;
	wb->len -= len;
}

/*
 * Hand whole stripes >= 1 of the buffer to the stream.  What precedes the
 * first stripe boundary (stripe 0, or the start of an append in the
 * middle of a stripe) is written synchronously once it reaches the
 * boundary; from then on the buffer starts on a boundary and each stripe
 * it fills leaves with aio.  Caller holds n->lock.
 */
static void wb_stream(struct drfsd *d, struct dnode *n)
{
	struct wbuf *wb = &n->wb;

	while (!wb->err) {
		uint64_t end = wb->off + wb->len;
		uint64_t next = (wb->off / DRFS_STRIPE + 1) * DRFS_STRIPE;
		size_t cap = DRFS_SBUF_SIZE;
		char *nb;
		int ret;

		if (wb->off == 0 || wb->off % DRFS_STRIPE) {
			if (end < next)
				return;
			wb_write_head(d, n, (size_t)(next - wb->off));
			continue;
		}
		if (end < next)
			return;
		if (!wb->ws) {
			ret = drfs_ws_new(d->fs, n->ino, WB_DEPTH, &wb->ws);
			if (ret < 0) {
				wb_note_err(n, ret, wb->len, wb->off);
				return;
			}
		}
		/* the stream takes the buffer; the rest moves to a new one */
		if (cap < wb->len - DRFS_STRIPE)
			cap = wb->len - DRFS_STRIPE;
		nb = cap == DRFS_SBUF_SIZE ? drfs_sbuf_get() : malloc(cap);
		if (!nb) {
			wb_note_err(n, -ENOMEM, wb->len, wb->off);
			return;
		}
		memcpy(nb, wb->buf + DRFS_STRIPE, wb->len - DRFS_STRIPE);
		ret = drfs_ws_put(wb->ws, wb->off / DRFS_STRIPE, wb->buf,
				  wb->cap, end, wb->mtime_ns);
		wb_note_err(n, ret, DRFS_STRIPE, wb->off);
		wb->buf = nb;
		wb->cap = cap;
		wb->off += DRFS_STRIPE;
		wb->len -= DRFS_STRIPE;
	}
}

/*
 * Make everything buffered for @n durable: wait for the stream (and
 * record its stripes), then write what is left in the buffer.  Caller
 * holds n->lock.  Returns the pending error (kept in wb->err).
 */
static int wb_flush_locked(struct drfsd *d, struct dnode *n)
{
	struct wbuf *wb = &n->wb;
	int ret;

	if (wb->ws) {
		ret = drfs_ws_sync(wb->ws, wb->mtime_ns);
		wb_note_err(n, drfs_ret(d->fs, ret), 0, wb->off);
	}
	if (wb->len) {
		ret = drfs_write(d->fs, n->ino, wb->off, wb->buf, wb->len,
				 wb->mtime_ns);
		wb_note_err(n, drfs_ret(d->fs, ret), wb->len, wb->off);
		wb->len = 0;
		__atomic_add_fetch(&wb->gen, 1, __ATOMIC_RELEASE);
	}
	if (wb->cap > d->wb_max / 4) {
		drfs_sbuf_put(wb->buf, wb->cap);
		wb->buf = NULL;
		wb->cap = 0;
	}
	return wb->err;
}

/*
 * Free the buffer memory of an inode no longer open here.  The kernel may
 * keep the inode (and so our node) for hours; kept buffers (64 KiB to
 * 2 MiB per file written) added up to 128 MB in a 10-minute soak (t1030)
 * and grow with the number of files a node writes.  Caller holds the
 * table lock.
 */
static void wb_drop_buf(struct dnode *n)
{
	pthread_mutex_lock(&n->lock);
	if (!n->wb.len) {
		free(n->wb.buf);
		n->wb.buf = NULL;
		n->wb.cap = 0;
	}
	if (n->wb.ws && !drfs_ws_busy(n->wb.ws)) {
		n->wb.err = n->wb.err ? n->wb.err : drfs_ws_take_err(n->wb.ws);
		drfs_ws_free(n->wb.ws);
		n->wb.ws = NULL;
	}
	pthread_mutex_unlock(&n->lock);
}

/* Flush and hand out (and clear) the pending error. */
int drfsd_wb_sync(struct drfsd *d, struct dnode *n)
{
	int ret;

	pthread_mutex_lock(&n->lock);
	wb_flush_locked(d, n);
	ret = n->wb.err;
	n->wb.err = 0;
	pthread_mutex_unlock(&n->lock);
	return ret;
}

static int wb_write(struct drfsd *d, struct dnode *n, uint64_t off,
		    const char *buf, size_t len)
{
	struct wbuf *wb = &n->wb;
	int ret = 0;

	pthread_mutex_lock(&n->lock);
	/* an earlier flush (or a stripe that failed in flight) failed */
	if (!wb->err && wb->ws)
		wb->err = drfs_ret(d->fs, drfs_ws_take_err(wb->ws));
	if (wb->err) {
		ret = wb->err;
		wb->err = 0;
		goto out;
	}
	/* fenced: nothing may be buffered for a session that is gone */
	if (drfs_is_fenced(d->fs)) {
		ret = -EIO;
		goto out;
	}
	/* Only extend the buffer contiguously (or rewrite inside it): a
	 * write anywhere else, also into stripes in flight, waits for all
	 * of it first. */
	if ((wb->len || (wb->ws && drfs_ws_busy(wb->ws))) &&
	    (off < wb->off || off > wb->off + wb->len ||
	     off + len - wb->off > d->wb_max)) {
		ret = wb_flush_locked(d, n);
		if (ret < 0) {
			wb->err = 0;
			goto out;
		}
	}
	if (!wb->len)
		wb->off = off;
	if (off + len - wb->off > wb->cap) {
		size_t cap = wb->cap ? wb->cap : 65536;
		char *nb;

		while (cap < off + len - wb->off)
			cap *= 2;
		nb = realloc(wb->buf, cap);
		if (!nb) {
			ret = -ENOMEM;
			goto out;
		}
		wb->buf = nb;
		wb->cap = cap;
	}
	memcpy(wb->buf + (off - wb->off), buf, len);
	if (off + len - wb->off > wb->len)
		wb->len = off + len - wb->off;
	wb->mtime_ns = drfs_now_ns();
	__atomic_add_fetch(&wb->gen, 1, __ATOMIC_RELEASE);
	wb_stream(d, n);
	if (wb->len >= d->wb_max)
		wb_flush_locked(d, n);
out:
	pthread_mutex_unlock(&n->lock);
	return ret;
}

size_t drfsd_wb_drop_all(struct drfsd *d)
{
	size_t dirty = 0;

	pthread_mutex_lock(&d->table_lock);
	for (size_t i = 0; i < d->nbuckets; i++)
		for (struct dnode *n = d->table[i]; n; n = n->next) {
			pthread_mutex_lock(&n->lock);
			if (n->wb.len || (n->wb.ws && drfs_ws_busy(n->wb.ws)))
				dirty++;
			/* waits for the old session's ops in flight, keeps
			 * nothing of them */
			drfs_ws_free(n->wb.ws);
			n->wb.ws = NULL;
			ra_drop(n);
			free(n->wb.buf);
			n->wb.buf = NULL;
			n->wb.len = n->wb.cap = 0;
			n->wb.err = 0;
			__atomic_store_n(&n->locked, false, __ATOMIC_RELAXED);
			pthread_mutex_unlock(&n->lock);
		}
	pthread_mutex_unlock(&d->table_lock);
	return dirty;
}

/* Show buffered writes in @a: the size they reach, their mtime. */
static void wb_apply(struct dnode *n, struct drfs_attr *a)
{
	pthread_mutex_lock(&n->lock);
	if (n->wb.len) {
		if (n->wb.off + n->wb.len > a->size)
			a->size = n->wb.off + n->wb.len;
		a->mtime_ns = a->ctime_ns = n->wb.mtime_ns;
	}
	pthread_mutex_unlock(&n->lock);
}

/* ---- replies ---- */

static void fill_entry(struct drfsd *d, const struct drfs_attr *a,
		       struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = a->ino;
	e->generation = 0;
	e->attr_timeout = attr_timeout_of(d, a);
	e->entry_timeout = entry_timeout(d);
	if (S_ISDIR(a->mode))
		drfsd_coh_dir_seen(d, a->ino);
	to_stat(a, &e->attr);
}

static void reply_entry(fuse_req_t req, const struct drfs_attr *a, int area)
{
	struct drfsd *d = ctx_of(req);
	struct fuse_entry_param e;
	struct dnode *n = drfsd_node_get(d, a->ino, 1);

	if (!n) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n->area = (uint8_t)area;
	fill_entry(d, a, &e);
	if (fuse_reply_entry(req, &e) == -ENOENT)
		drfsd_node_forget(d, a->ino, 1); /* interrupted: undo */
}

/* ---- handlers ---- */

struct dnode *drfsd_fh(struct drfsd *d, const struct fuse_file_info *fi)
{
	const struct dfile *f = (const struct dfile *)(uintptr_t)fi->fh;

	return f->gen == d->gen ? f->n : NULL;
}

/* Requests on localcache inodes go to local.c. */
#define LOCAL(ino, op, ...)                              \
	do {                                             \
		if (drfsd_is_local(ino)) {               \
			drfsd_local_ops.op(__VA_ARGS__); \
			return;                          \
		}                                        \
	} while (0)

/*
 * The localcache area root cannot be replaced or removed (@err); the
 * read-only statistics files neither (EPERM, or EEXIST for a create).
 */
static bool area_name(fuse_req_t req, fuse_ino_t parent, const char *name,
		      int err)
{
	if (drfsd_local_is_area(ctx_of(req), parent, name)) {
		fuse_reply_err(req, err);
		return true;
	}
	if (parent == FUSE_ROOT_ID && drfsd_stats_ino(name)) {
		fuse_reply_err(req, err == EEXIST ? EEXIST : EPERM);
		return true;
	}
	return false;
}

static void drfs_op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
	/* Coherence is close-to-open (the page cache is dropped at every
	 * open of a shared file): no attribute round trip before each
	 * cached read. */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	/* Cluster-wide locks: the kernel must ask us, not lock locally. */
	if (conn->capable & FUSE_CAP_POSIX_LOCKS)
		conn->want |= FUSE_CAP_POSIX_LOCKS;
	if (conn->capable & FUSE_CAP_FLOCK_LOCKS)
		conn->want |= FUSE_CAP_FLOCK_LOCKS;
	if (conn->capable & FUSE_CAP_EXPORT_SUPPORT)
		conn->want |= FUSE_CAP_EXPORT_SUPPORT;
	conn->max_write = 1u << 20;
	conn->max_readahead = 4u << 20;
	conn->time_gran = 1;
}

static void drfs_op_destroy(void *userdata)
{
	struct drfsd *d = userdata;

	/* Unmount with files still open: make everything durable. */
	drfs_conn_rdlock(d->fs);
	pthread_mutex_lock(&d->table_lock);
	for (size_t i = 0; i < d->nbuckets; i++)
		for (struct dnode *n = d->table[i]; n; n = n->next) {
			pthread_mutex_lock(&n->lock);
			wb_flush_locked(d, n);
			pthread_mutex_unlock(&n->lock);
			ra_drop(n); /* no read in flight past the unmount */
		}
	pthread_mutex_unlock(&d->table_lock);
	drfs_conn_unlock(d->fs);
}

static void drfs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	drfsd_coh_probe(ctx_of(req));
	drfsd_count(ctx_of(req), DRFSD_OP_LOOKUP,
		    drfsd_area_at(ctx_of(req), parent, name));
	if (parent == FUSE_ROOT_ID && drfsd_stats_ino(name)) {
		struct fuse_entry_param e;

		drfsd_stats_entry(ctx_of(req), drfsd_stats_ino(name), &e);
		fuse_reply_entry(req, &e);
		return;
	}
	if (drfsd_local_is_area(ctx_of(req), parent, name)) {
		drfsd_local_root_lookup(req);
		return;
	}
	LOCAL(parent, lookup, req, parent, name);
	struct drfs_attr a;
	int ret;

	take_ticket(ctx_of(req));
	ret = drfs_lookup(ctx_of(req)->fs, parent, name, &a);
	if (ret == -ENOENT) {
		/* Negative entry: cached as long as a positive one (a
		 * create anywhere invalidates it) */
		struct fuse_entry_param e;

		memset(&e, 0, sizeof(e));
		e.entry_timeout = entry_timeout(ctx_of(req));
		fuse_reply_entry(req, &e);
		return;
	}
	if (ret < 0)
		reply_err(req, ret);
	else
		reply_entry(req, &a, drfsd_area_at(ctx_of(req), parent, name));
}

static void drfs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	drfsd_node_forget(ctx_of(req), ino, nlookup);
	fuse_reply_none(req);
}

static void drfs_op_forget_multi(fuse_req_t req, size_t count,
				 struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		drfsd_node_forget(ctx_of(req), forgets[i].ino,
				  forgets[i].nlookup);
	fuse_reply_none(req);
}

static void drfs_op_getattr(fuse_req_t req, fuse_ino_t ino,
			    struct fuse_file_info *fi)
{
	drfsd_count(ctx_of(req), DRFSD_OP_GETATTR,
		    drfsd_area_of(ctx_of(req), ino));
	if (drfsd_is_stats(ino)) {
		struct fuse_entry_param e;

		drfsd_stats_entry(ctx_of(req), (int)(ino & 3), &e);
		fuse_reply_attr(req, &e.attr, 1.0);
		return;
	}
	LOCAL(ino, getattr, req, ino, fi);
	struct drfsd *d = ctx_of(req);
	struct drfs_attr a;
	struct stat st;
	struct dnode *n;
	int ret;

	take_ticket(d);
	ret = drfs_getattr(d->fs, ino, &a);

	(void)fi;
	if (ret < 0) {
		reply_err(req, ret);
		return;
	}
	n = drfsd_node(d, ino);
	if (n)
		wb_apply(n, &a);
	to_stat(&a, &st);
	fuse_reply_attr(req, &st, attr_timeout_of(d, &a));
}

static void drfs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			    int to_set, struct fuse_file_info *fi)
{
	drfsd_count(ctx_of(req), DRFSD_OP_SETATTR,
		    drfsd_area_of(ctx_of(req), ino));
	if (drfsd_is_stats(ino)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	LOCAL(ino, setattr, req, ino, attr, to_set, fi);
	struct drfsd *d = ctx_of(req);
	struct drfs_setattr sa = {0};
	struct drfs_attr a;
	struct stat st;
	struct dnode *n;
	int ret;

	take_ticket(d);
	/* ftruncate() through a handle opened before a rejoin */
	if (fi && !drfsd_fh(d, fi)) {
		reply_err(req, -EIO);
		return;
	}
	if (to_set & FUSE_SET_ATTR_MODE) {
		sa.valid |= DRFS_SA_MODE;
		sa.mode = attr->st_mode;
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		sa.valid |= DRFS_SA_UID;
		sa.uid = attr->st_uid;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		sa.valid |= DRFS_SA_GID;
		sa.gid = attr->st_gid;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		sa.valid |= DRFS_SA_SIZE;
		sa.size = (uint64_t)attr->st_size;
	}
	/* Buffered writes land first: a truncate or an explicit mtime must
	 * not be overtaken by them. */
	n = drfsd_node(d, ino);
	if (n) {
		ret = drfsd_wb_sync(d, n);
		if (ret < 0) {
			reply_err(req, ret);
			return;
		}
	}
	if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
		sa.valid |= DRFS_SA_ATIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_ATIME) {
		sa.valid |= DRFS_SA_ATIME;
		sa.atime_ns = attr->st_atim.tv_sec * 1000000000ll +
			      attr->st_atim.tv_nsec;
	}
	if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
		sa.valid |= DRFS_SA_MTIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_MTIME) {
		sa.valid |= DRFS_SA_MTIME;
		sa.mtime_ns = attr->st_mtim.tv_sec * 1000000000ll +
			      attr->st_mtim.tv_nsec;
	}
	ret = drfs_setattr(d->fs, ino, &sa, &a);
	if (n && (sa.valid & DRFS_SA_SIZE)) /* read-ahead taken is stale */
		__atomic_add_fetch(&n->wb.gen, 1, __ATOMIC_RELEASE);
	if (ret < 0) {
		reply_err(req, ret);
		return;
	}
	to_stat(&a, &st);
	fuse_reply_attr(req, &st, attr_timeout_of(d, &a));
}

static void drfs_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	LOCAL(ino, readlink, req, ino);
	char buf[4097];
	int ret = drfs_readlink(ctx_of(req)->fs, ino, buf, sizeof(buf));

	if (ret < 0)
		reply_err(req, ret);
	else
		fuse_reply_readlink(req, buf);
}

static int make_node(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev, const char *target, bool excl,
		     struct drfs_attr *a, bool *created)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);

	take_ticket(ctx_of(req));
	return drfs_create(ctx_of(req)->fs, parent, name, mode, rdev, c->uid,
			   c->gid, target, excl, a, created);
}

static void drfs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
			  mode_t mode, dev_t rdev)
{
	drfsd_count(ctx_of(req), DRFSD_OP_CREATE,
		    drfsd_area_at(ctx_of(req), parent, name));
	if (area_name(req, parent, name, EEXIST))
		return;
	LOCAL(parent, mknod, req, parent, name, mode, rdev);
	struct drfs_attr a;
	bool created;
	int ret = make_node(req, parent, name, mode, rdev, NULL, true, &a,
			    &created);

	if (ret < 0)
		reply_err(req, ret);
	else
		reply_entry(req, &a, drfsd_area_at(ctx_of(req), parent, name));
}

static void drfs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
			  mode_t mode)
{
	drfsd_count(ctx_of(req), DRFSD_OP_MKDIR,
		    drfsd_area_at(ctx_of(req), parent, name));
	LOCAL(parent, mkdir, req, parent, name, mode);
	drfs_op_mknod(req, parent, name, S_IFDIR | (mode & 07777), 0);
}

static void drfs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			    const char *name)
{
	if (area_name(req, parent, name, EEXIST))
		return;
	LOCAL(parent, symlink, req, link, parent, name);
	struct drfs_attr a;
	bool created;
	int ret = make_node(req, parent, name, S_IFLNK | 0777, 0, link, true,
			    &a, &created);

	if (ret < 0)
		reply_err(req, ret);
	else
		reply_entry(req, &a, drfsd_area_at(ctx_of(req), parent, name));
}

/* A name went away; free the inode unless it is still open here. */
static void release_gone(struct drfsd *d, uint64_t ino, uint32_t nlink)
{
	struct dnode *n;
	bool open_here = false;

	if (!ino || nlink > 0)
		return;
	pthread_mutex_lock(&d->table_lock);
	n = node_find_locked(d, ino);
	if (n && n->nopen > 0) {
		n->doomed = true;
		open_here = true;
	}
	pthread_mutex_unlock(&d->table_lock);
	if (!open_here) {
		/* freed after a grace period: other nodes may have it
		 * open */
		int ret = drfs_orphan_add(d->fs, ino);

		if (ret < 0)
			drfs_warn("cannot record unlinked inode %" PRIx64
				  ": %s (fsck will reclaim it)",
				  ino, strerror(-ret));
	}
}

static void drfs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	drfsd_count(ctx_of(req), DRFSD_OP_UNLINK,
		    drfsd_area_at(ctx_of(req), parent, name));
	if (area_name(req, parent, name, EISDIR))
		return;
	LOCAL(parent, unlink, req, parent, name);
	struct drfsd *d = ctx_of(req);
	uint64_t ino = 0;
	uint32_t nlink = 1;
	int ret = drfs_unlink(d->fs, parent, name, &ino, &nlink);

	if (ret == 0)
		release_gone(d, ino, nlink);
	reply_err(req, ret);
}

static void drfs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	drfsd_count(ctx_of(req), DRFSD_OP_RMDIR,
		    drfsd_area_at(ctx_of(req), parent, name));
	if (area_name(req, parent, name, EBUSY))
		return;
	LOCAL(parent, rmdir, req, parent, name);
	reply_err(req, drfs_rmdir(ctx_of(req)->fs, parent, name));
}

static void drfs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			   fuse_ino_t newparent, const char *newname,
			   unsigned int flags)
{
	drfsd_count(ctx_of(req), DRFSD_OP_RENAME,
		    drfsd_area_at(ctx_of(req), newparent, newname));
	if (area_name(req, parent, name, EBUSY) ||
	    area_name(req, newparent, newname, EBUSY))
		return;
	if (drfsd_is_local(parent) || drfsd_is_local(newparent)) {
		drfsd_local_ops.rename(req, parent, name, newparent, newname,
				       flags);
		return;
	}
	struct drfsd *d = ctx_of(req);
	uint64_t ino = 0, kept = 0, dropped = 0;
	uint32_t nlink = 1;
	struct drfs_attr src;
	char sha[41] = "";
	int cas = 0, ret;

	/* into the content-addressed pool: the content must match the name */
	if (d->filedir_name && !(flags & RENAME_EXCHANGE))
		cas = drfs_filedir_match(d->fs, d->filedir_name, newparent,
					 newname);
	if (cas > 0) {
		ret = drfs_lookup(d->fs, parent, name, &src);
		if (ret == 0 &&
		    (!S_ISREG(src.mode) || (src.flags & DRFS_IF_IMMUTABLE)))
			cas = 0; /* already pool content (back from trash) */
		if (ret == 0 && cas > 0) {
			ret = drfs_sha1_hex(d->fs, src.ino, sha);
			if (ret == 0 && strcmp(sha, newname)) {
				drfs_warn("filedir: content of '%s' has SHA-1 "
					  "%s, not its new name %s: %s",
					  name, sha, newname,
					  d->filedir_reject ? "rename refused"
							    : "allowed (log)");
				ret = d->filedir_reject ? -EPERM : 0;
			}
		}
		if (ret < 0) {
			reply_err(req, ret);
			return;
		}
	}
	ret = drfs_rename(d->fs, parent, name, newparent, newname, flags, &ino,
			  &nlink);
	if (ret == 0 && cas > 0) {
		int r = drfs_filedir_seal(d->fs, src.ino, sha, d->filedir_keep,
					  src.size);

		/* changed after it was hashed (another node truncated the
		 * same tmp name to write it again): not pool content yet */
		if (r == -ESTALE)
			drfs_info("filedir: %s changed while it was stored "
				  "(another node writing the same tmp file): "
				  "left unsealed",
				  newname);

		/* stored once: content already held by another inode (a
		 * trashdir copy, another node's upload) is linked instead */
		if (r == 0 && !strcmp(sha, newname))
			r = drfs_cas_adopt(d->fs, newparent, newname, src.ino,
					   &kept, &dropped);
		if (r < 0 && r != -ESTALE)
			drfs_warn("filedir: cannot seal or index inode %" PRIx64
				  " (%s): %s",
				  src.ino, newname, strerror(-r));
	}
	if (ret == 0) {
		release_gone(d, ino, nlink);
		release_gone(d, dropped, 0);
	}
	reply_err(req, ret);
	/* the kernel thinks the name holds the inode it renamed */
	if (dropped)
		fuse_lowlevel_notify_inval_entry(d->se, newparent, newname,
						 strlen(newname));
}

static void drfs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
			 const char *newname)
{
	drfsd_count(ctx_of(req), DRFSD_OP_LINK,
		    drfsd_area_at(ctx_of(req), newparent, newname));
	if (area_name(req, newparent, newname, EEXIST))
		return;
	if (drfsd_is_stats(ino)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (drfsd_is_local(ino) != drfsd_is_local(newparent)) {
		fuse_reply_err(req, EXDEV);
		return;
	}
	LOCAL(ino, link, req, ino, newparent, newname);
	struct drfs_attr a;
	int ret;

	take_ticket(ctx_of(req));
	ret = drfs_link(ctx_of(req)->fs, ino, newparent, newname, &a);

	if (ret < 0)
		reply_err(req, ret);
	else
		reply_entry(req, &a,
			    drfsd_area_at(ctx_of(req), newparent, newname));
}

/*
 * Count an open; @cfd (or -1) is a read cache fd for the node, kept until
 * its last close here (so a read never sees it change or go).
 */
static int open_common(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi, int cfd)
{
	struct drfsd *d = ctx_of(req);
	struct dfile *f = malloc(sizeof(*f));
	struct dnode *n = f ? drfsd_node_get(d, ino, 0) : NULL;
	bool keep;

	if (!n) {
		free(f);
		if (cfd >= 0)
			close(cfd);
		return -ENOMEM;
	}
	pthread_mutex_lock(&d->table_lock);
	n->nopen++;
	/* pages cached here stay if nobody changed the data since this
	 * node last opened the file (coherence.c) */
	{
		uint64_t g = drfsd_coh_dgen(d, ino);

		keep = n->dgen_seen == g && drfs_inval_trusted(d->fs);
		n->dgen_seen = g;
	}
	if (cfd >= 0 && !n->rcfd1) {
		__atomic_store_n(&n->rcfd1, cfd + 1, __ATOMIC_RELEASE);
		cfd = -1;
	}
	pthread_mutex_unlock(&d->table_lock);
	if (cfd >= 0)
		close(cfd); /* another open installed one first */
	f->n = n;
	f->gen = d->gen;
	fi->fh = (uint64_t)(uintptr_t)f;
	fi->keep_cache = keep;
	fi->direct_io = 0;
	return 0;
}

static void drfs_op_open(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	drfsd_count(ctx_of(req), DRFSD_OP_OPEN,
		    drfsd_area_of(ctx_of(req), ino));
	if (drfsd_is_stats(ino)) {
		drfsd_stats_open(req, ino, fi);
		return;
	}
	LOCAL(ino, open, req, ino, fi);
	struct drfsd *d = ctx_of(req);
	struct drfs_attr a;
	char sha[41];
	int ret = drfs_getattr_hash(d->fs, ino, &a, sha);
	int cfd = -1;

	if (ret == 0 && S_ISDIR(a.mode))
		ret = -EISDIR;
	if (ret == 0 && (a.flags & DRFS_IF_IMMUTABLE) &&
	    (fi->flags & O_ACCMODE) != O_RDONLY)
		ret = -EPERM;
	if (ret == 0 && (a.flags & DRFS_IF_IMMUTABLE) && d->rc) {
		struct dnode *n = drfsd_node(d, ino);

		/* pool content: from the node's read cache if it is there,
		 * else fetched into it in the background */
		if (!n || !__atomic_load_n(&n->rcfd1, __ATOMIC_ACQUIRE)) {
			cfd = drfsd_rc_open(d, sha, a.size);
			if (cfd < 0)
				drfsd_rc_want(d, sha, ino, a.size);
		}
	}
	if (ret == 0)
		ret = open_common(req, ino, fi, cfd);
	else if (cfd >= 0)
		close(cfd);
	if (ret < 0) {
		reply_err(req, ret);
		return;
	}
	/* pool content never changes: keep its pages across opens */
	if (a.flags & DRFS_IF_IMMUTABLE)
		fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

static void drfs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
			   mode_t mode, struct fuse_file_info *fi)
{
	drfsd_count(ctx_of(req), DRFSD_OP_CREATE,
		    drfsd_area_at(ctx_of(req), parent, name));
	if (area_name(req, parent, name, EISDIR))
		return;
	LOCAL(parent, create, req, parent, name, mode, fi);
	struct drfsd *d = ctx_of(req);
	struct fuse_entry_param e;
	struct dnode *n;
	struct drfs_attr a;
	bool created;
	int ret;

	do {
		ret = make_node(req, parent, name, S_IFREG | (mode & 07777), 0,
				NULL, fi->flags & O_EXCL, &a, &created);
	} while (ret == -EAGAIN);
	if (ret == 0 && !created && (fi->flags & O_TRUNC)) {
		struct drfs_setattr sa = {.valid = DRFS_SA_SIZE, .size = 0};

		ret = drfs_setattr(d->fs, a.ino, &sa, &a);
	}
	if (ret < 0) {
		reply_err(req, ret);
		return;
	}
	n = drfsd_node_get(d, a.ino, 1);
	if (!n) {
		reply_err(req, -ENOMEM);
		return;
	}
	n->area = (uint8_t)drfsd_area_at(d, parent, name);
	ret = open_common(req, a.ino, fi, -1);
	if (ret < 0) {
		drfsd_node_forget(d, a.ino, 1);
		reply_err(req, ret);
		return;
	}
	fill_entry(d, &a, &e);
	if (fuse_reply_create(req, &e, fi) == -ENOENT) {
		/* interrupted: nobody will release or forget it */
		struct dfile *f = (struct dfile *)(uintptr_t)fi->fh;

		pthread_mutex_lock(&d->table_lock);
		f->n->nopen--;
		pthread_mutex_unlock(&d->table_lock);
		free(f);
		drfsd_node_forget(d, a.ino, 1);
	}
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

static char *rdbuf_get(size_t size)
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

static void drfs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			 struct fuse_file_info *fi)
{
	drfsd_count(ctx_of(req), DRFSD_OP_READ,
		    drfsd_area_of(ctx_of(req), ino));
	if (drfsd_is_stats(ino)) {
		drfsd_stats_read(req, size, off, fi);
		return;
	}
	LOCAL(ino, read, req, ino, size, off, fi);
	struct drfsd *d = ctx_of(req);
	struct dnode *n = drfsd_fh(d, fi);
	bool replied = false;
	char *buf;
	ssize_t ret;
	int cfd1;

	if (!n) {
		reply_err(req, -EIO);
		return;
	}
	cfd1 = __atomic_load_n(&n->rcfd1, __ATOMIC_ACQUIRE);
	if (cfd1) {
		/* pool content from the node's read cache (no write-back
		 * buffer to sync: it is immutable) */
		struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);

		bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		bv.buf[0].fd = cfd1 - 1;
		bv.buf[0].pos = off;
		drfs_stat_add(d->fs, DRFS_ST_RC_BYTES, size);
		drfs_stat_add(d->fs, DRFS_ST_AREA_RBYTES + n->area, size);
		fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
		return;
	}
	ret = drfsd_wb_sync(d, n);
	if (ret < 0) {
		reply_err(req, (int)ret);
		return;
	}
	buf = rdbuf_get(size ? size : 1);
	if (!buf) {
		reply_err(req, -ENOMEM);
		return;
	}
	ret = ra_read(d, n, fi ? (const void *)(uintptr_t)fi->fh : NULL,
		      (uint64_t)off, size, buf, req, &replied);
	if (replied) {
		if (ret > 0)
			drfs_stat_add(d->fs, DRFS_ST_AREA_RBYTES + n->area,
				      (uint64_t)ret);
	} else if (ret < 0) {
		reply_err(req, (int)ret);
	} else {
		drfs_stat_add(d->fs, DRFS_ST_AREA_RBYTES + n->area,
			      (uint64_t)ret);
		fuse_reply_buf(req, buf, (size_t)ret);
	}
}

static void drfs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
			  size_t size, off_t off, struct fuse_file_info *fi)
{
	drfsd_count(ctx_of(req), DRFSD_OP_WRITE,
		    drfsd_area_of(ctx_of(req), ino));
	LOCAL(ino, write, req, ino, buf, size, off, fi);
	struct drfsd *d = ctx_of(req);
	struct dnode *n = drfsd_fh(d, fi);
	int ret;

	(void)ino;
	if (!n) {
		reply_err(req, -EIO);
		return;
	}
	if (off < 0 || (uint64_t)off + size > (1ull << 60)) {
		reply_err(req, -EFBIG);
		return;
	}
	ret = wb_write(d, n, (uint64_t)off, buf, size);
	if (ret < 0) {
		reply_err(req, ret);
		return;
	}
	drfs_stat_add(d->fs, DRFS_ST_AREA_WBYTES + n->area, size);
	fuse_reply_write(req, size);
}

static void drfs_op_flush(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	drfsd_count(ctx_of(req), DRFSD_OP_FLUSH,
		    drfsd_area_of(ctx_of(req), ino));
	if (drfsd_is_stats(ino)) {
		fuse_reply_err(req, 0);
		return;
	}
	LOCAL(ino, flush, req, ino, fi);
	struct drfsd *d = ctx_of(req);
	struct dnode *n = drfsd_fh(d, fi);
	int ret;

	(void)ino;
	if (!n) { /* opened before a rejoin: its data was dropped */
		reply_err(req, -EIO);
		return;
	}
	ret = drfsd_wb_sync(d, n);
	/* close() drops the closing process's fcntl locks on the file */
	drfsd_locks_on_flush(d, n, fi->lock_owner);
	reply_err(req, ret);
}

static void drfs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
			  struct fuse_file_info *fi)
{
	drfsd_count(ctx_of(req), DRFSD_OP_FSYNC,
		    drfsd_area_of(ctx_of(req), ino));
	LOCAL(ino, fsync, req, ino, datasync, fi);
	struct dnode *n = drfsd_fh(ctx_of(req), fi);

	(void)ino;
	(void)datasync;
	reply_err(req, n ? drfsd_wb_sync(ctx_of(req), n) : -EIO);
}

static void drfs_op_release(fuse_req_t req, fuse_ino_t ino,
			    struct fuse_file_info *fi)
{
	if (drfsd_is_stats(ino)) {
		drfsd_stats_release(req, fi);
		return;
	}
	LOCAL(ino, release, req, ino, fi);
	struct drfsd *d = ctx_of(req);
	struct dfile *f = (struct dfile *)(uintptr_t)fi->fh;
	struct dnode *n = f->n;
	bool free_it = false;
	int ret = -EIO;

	/* A stale handle (opened before a rejoin) flushes nothing: the
	 * buffer may now hold data of handles opened since; its locks died
	 * with the old session. */
	if (f->gen == d->gen) {
		ret = drfsd_wb_sync(d, n);
		if (fi->flock_release)
			drfsd_locks_on_release(d, n, fi->lock_owner);
	}
	if (n->ra) {
		pthread_mutex_lock(&n->ra->lock);
		if (n->ra->fh == f)
			ra_reset(n->ra); /* its buffers are of no more use */
		pthread_mutex_unlock(&n->ra->lock);
	}
	free(f);
	pthread_mutex_lock(&d->table_lock);
	n->nopen--;
	if (n->nopen == 0 && n->rcfd1) {
		close(n->rcfd1 - 1);
		__atomic_store_n(&n->rcfd1, 0, __ATOMIC_RELEASE);
	}
	if (n->nopen == 0 && n->doomed) {
		n->doomed = false;
		free_it = true;
	}
	if (n->nopen == 0 && n->nlookup == 0)
		node_free_locked(d, n);
	else if (n->nopen == 0)
		wb_drop_buf(n);
	pthread_mutex_unlock(&d->table_lock);
	if (free_it)
		release_gone(d, ino, 0);
	reply_err(req, ret);
}

/* ---- directories ---- */

/* Directory handle: names by offset, so a seekdir() can resume anywhere. */
struct dirh {
	pthread_mutex_t lock;
	char **names; /* names[i] was returned at offset i + 3 */
	size_t n, cap;
	bool eof;
};

static void drfs_op_opendir(fuse_req_t req, fuse_ino_t ino,
			    struct fuse_file_info *fi)
{
	LOCAL(ino, opendir, req, ino, fi);
	struct drfs_attr a;
	struct dirh *h;
	int ret = drfs_getattr(ctx_of(req)->fs, ino, &a);

	if (ret == 0 && !S_ISDIR(a.mode))
		ret = -ENOTDIR;
	if (ret < 0) {
		reply_err(req, ret);
		return;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		reply_err(req, -ENOMEM);
		return;
	}
	pthread_mutex_init(&h->lock, NULL);
	fi->fh = (uint64_t)(uintptr_t)h;
	fuse_reply_open(req, fi);
}

struct fill_ctx {
	fuse_req_t req;
	struct dirh *h;
	char *buf;
	size_t size, used;
	bool full;
	const char *shadow; /* a name not to list (the localcache area) */
};

static int fill_one(struct fill_ctx *f, const char *name, uint64_t ino,
		    uint8_t type, off_t next_off)
{
	struct stat st = {0};
	size_t need;

	st.st_ino = ino;
	st.st_mode = (mode_t)type << 12;
	need = fuse_add_direntry(f->req, f->buf + f->used, f->size - f->used,
				 name, &st, next_off);
	if (need > f->size - f->used) {
		f->full = true;
		return 1;
	}
	f->used += need;
	return 0;
}

static int dir_cb(void *vctx, const char *name, uint64_t ino, uint8_t type)
{
	struct fill_ctx *f = vctx;
	struct dirh *h = f->h;

	if (f->shadow && !strcmp(name, f->shadow))
		return 0;
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		char **nn = realloc(h->names, cap * sizeof(*nn));

		if (!nn)
			return 1;
		h->names = nn;
		h->cap = cap;
	}
	if (fill_one(f, name, ino, type, (off_t)(h->n + 4)))
		return 1;
	h->names[h->n++] = strdup(name);
	return 0;
}

static void drfs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			    off_t off, struct fuse_file_info *fi)
{
	drfsd_count(ctx_of(req), DRFSD_OP_READDIR,
		    drfsd_area_of(ctx_of(req), ino));
	LOCAL(ino, readdir, req, ino, size, off, fi);
	struct drfsd *d = ctx_of(req);
	struct dirh *h = (struct dirh *)(uintptr_t)fi->fh;
	struct fill_ctx f = {req, h, NULL, size, 0, false, NULL};
	struct drfs_attr a;
	int ret = 0;

	f.buf = malloc(size);
	if (!f.buf) {
		reply_err(req, -ENOMEM);
		return;
	}
	pthread_mutex_lock(&h->lock);
	if (off == 0) {
		/* (re)start: forget what was listed before */
		for (size_t i = 0; i < h->n; i++)
			free(h->names[i]);
		h->n = 0;
		h->eof = false;
	}
	if (off < 1 && fill_one(&f, ".", ino, DT_DIR, 1))
		goto reply;
	if (off < 2) {
		ret = drfs_getattr(d->fs, ino, &a);
		if (ret < 0)
			goto reply;
		if (fill_one(&f, "..", a.parent, DT_DIR, 2))
			goto reply;
	}
	if (off < 3 && ino == FUSE_ROOT_ID && d->lc_name) {
		/* the localcache area, served from this node's tmpfs */
		struct stat st;
		int ok;

		pthread_rwlock_rdlock(&d->lc_lock);
		ok = fstat(d->lc_root_fd, &st);
		pthread_rwlock_unlock(&d->lc_lock);
		if (ok == 0 && fill_one(&f, d->lc_name,
					DRFSD_LOCAL_BIT | st.st_ino, DT_DIR, 3))
			goto reply;
	}
	if (ino == FUSE_ROOT_ID)
		f.shadow = d->lc_name;
	/* Offsets 3.. are names; 3 + i means "after names[i - 1]". */
	if (off > 3 && (size_t)(off - 3) < h->n) {
		/* seekdir() back: drop what came after */
		for (size_t i = (size_t)(off - 3); i < h->n; i++)
			free(h->names[i]);
		h->n = (size_t)(off - 3);
		h->eof = false;
	}
	while (!f.full && !h->eof) {
		bool more = false;
		const char *after = h->n ? h->names[h->n - 1] : NULL;

		ret = drfs_readdir(d->fs, ino, after, 256, dir_cb, &f, &more);
		if (ret < 0)
			break;
		if (!more)
			h->eof = true;
		ret = 0;
	}
reply:
	pthread_mutex_unlock(&h->lock);
	if (ret < 0 && f.used == 0)
		reply_err(req, ret);
	else
		fuse_reply_buf(req, f.buf, f.used);
	free(f.buf);
}

static void drfs_op_releasedir(fuse_req_t req, fuse_ino_t ino,
			       struct fuse_file_info *fi)
{
	LOCAL(ino, releasedir, req, ino, fi);
	struct dirh *h = (struct dirh *)(uintptr_t)fi->fh;

	(void)ino;
	for (size_t i = 0; i < h->n; i++)
		free(h->names[i]);
	free(h->names);
	pthread_mutex_destroy(&h->lock);
	free(h);
	fuse_reply_err(req, 0);
}

static void drfs_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			     struct fuse_file_info *fi)
{
	LOCAL(ino, fsyncdir, req, ino, datasync, fi);
	/* Every namespace change is acknowledged by RADOS before we reply. */
	(void)ino;
	(void)datasync;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void drfs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	LOCAL(ino, statfs, req, ino);
	struct statvfs sv = {0};
	uint64_t total, avail, objects;
	int ret = drfs_statfs(ctx_of(req)->fs, &total, &avail, &objects);

	(void)ino;
	if (ret < 0) {
		reply_err(req, ret);
		return;
	}
	sv.f_bsize = 65536;
	sv.f_frsize = 65536;
	sv.f_blocks = total / 65536;
	sv.f_bfree = avail / 65536;
	sv.f_bavail = avail / 65536;
	sv.f_files = objects + avail / 65536;
	sv.f_ffree = avail / 65536;
	sv.f_favail = sv.f_ffree;
	sv.f_namemax = 255;
	fuse_reply_statfs(req, &sv);
}

/* ---- xattrs ---- */

static bool xattr_supported(const char *name)
{
	/*
	 * No POSIX ACLs and no security.* (file capabilities, LSM labels):
	 * tools like cp -a then skip them cleanly, and the kernel's
	 * security.capability query before every write() costs nothing.
	 */
	return strncmp(name, "system.", 7) != 0 &&
	       strncmp(name, "security.", 9) != 0;
}

static void drfs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			     const char *value, size_t size, int flags)
{
	LOCAL(ino, setxattr, req, ino, name, value, size, flags);
	if (drfsd_is_stats(ino)) { /* read-only */
		fuse_reply_err(req, EPERM);
		return;
	}
	if (!xattr_supported(name)) {
		reply_err(req, -EOPNOTSUPP);
		return;
	}
	reply_err(req, drfs_setxattr(ctx_of(req)->fs, ino, name, value, size,
				     flags));
}

static void drfs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			     size_t size)
{
	LOCAL(ino, getxattr, req, ino, name, size);
	char *buf = NULL;
	int ret;

	if (!xattr_supported(name) || drfsd_is_stats(ino)) {
		reply_err(req, -ENODATA);
		return;
	}
	if (size) {
		buf = malloc(size);
		if (!buf) {
			reply_err(req, -ENOMEM);
			return;
		}
	}
	ret = drfs_getxattr(ctx_of(req)->fs, ino, name, buf, size);
	if (ret < 0)
		reply_err(req, ret);
	else if (size)
		fuse_reply_buf(req, buf, (size_t)ret);
	else
		fuse_reply_xattr(req, (size_t)ret);
	free(buf);
}

static void drfs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	LOCAL(ino, listxattr, req, ino, size);
	if (drfsd_is_stats(ino)) { /* no attributes */
		if (size)
			fuse_reply_buf(req, NULL, 0);
		else
			fuse_reply_xattr(req, 0);
		return;
	}
	char *buf = NULL;
	int ret;

	if (size) {
		buf = malloc(size);
		if (!buf) {
			reply_err(req, -ENOMEM);
			return;
		}
	}
	ret = drfs_listxattr(ctx_of(req)->fs, ino, buf, size);
	if (ret < 0)
		reply_err(req, ret);
	else if (size)
		fuse_reply_buf(req, buf, (size_t)ret);
	else
		fuse_reply_xattr(req, (size_t)ret);
	free(buf);
}

static void drfs_op_removexattr(fuse_req_t req, fuse_ino_t ino,
				const char *name)
{
	if (drfsd_is_local(ino)) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	if (drfsd_is_stats(ino)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (!xattr_supported(name)) {
		reply_err(req, -ENODATA);
		return;
	}
	reply_err(req, drfs_removexattr(ctx_of(req)->fs, ino, name));
}

static void drfs_op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	LOCAL(ino, access, req, ino, mask);
	/* Permissions are checked by the kernel (default_permissions); we
	 * only confirm the inode still exists. */
	struct drfs_attr a;

	(void)mask;
	reply_err(req, drfs_getattr(ctx_of(req)->fs, ino, &a));
}

/*
 * Every request holds the cluster connection for reading for its whole
 * duration (see struct drfs_fs): a rejoin after fencing swaps the
 * connection only between requests, so a request never starts with the
 * old (blocklisted) client and goes on with the new one, and the rejoin
 * sees no request half-way through a write-back buffer.  @req may be
 * freed by the reply: the fs pointer is taken first.
 */
#define HELD(op, params, args)                        \
	static void held_##op params                  \
	{                                             \
		struct drfs_fs *fs = ctx_of(req)->fs; \
                                                      \
		drfs_conn_rdlock(fs);                 \
		drfs_op_##op args;                    \
		drfs_conn_unlock(fs);                 \
	}

HELD(lookup, (fuse_req_t req, fuse_ino_t parent, const char *name),
     (req, parent, name))
HELD(getattr, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
     (req, ino, fi))
HELD(setattr,
     (fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
      struct fuse_file_info *fi),
     (req, ino, attr, to_set, fi))
HELD(readlink, (fuse_req_t req, fuse_ino_t ino), (req, ino))
HELD(mknod,
     (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
      dev_t rdev),
     (req, parent, name, mode, rdev))
HELD(mkdir, (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode),
     (req, parent, name, mode))
HELD(symlink,
     (fuse_req_t req, const char *link, fuse_ino_t parent, const char *name),
     (req, link, parent, name))
HELD(unlink, (fuse_req_t req, fuse_ino_t parent, const char *name),
     (req, parent, name))
HELD(rmdir, (fuse_req_t req, fuse_ino_t parent, const char *name),
     (req, parent, name))
HELD(rename,
     (fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
      const char *newname, unsigned int flags),
     (req, parent, name, newparent, newname, flags))
HELD(link,
     (fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
      const char *newname),
     (req, ino, newparent, newname))
HELD(open, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
     (req, ino, fi))
HELD(create,
     (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
      struct fuse_file_info *fi),
     (req, parent, name, mode, fi))
HELD(read,
     (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
      struct fuse_file_info *fi),
     (req, ino, size, off, fi))
HELD(write,
     (fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
      struct fuse_file_info *fi),
     (req, ino, buf, size, off, fi))
HELD(flush, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
     (req, ino, fi))
HELD(fsync,
     (fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi),
     (req, ino, datasync, fi))
HELD(release, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
     (req, ino, fi))
HELD(opendir, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
     (req, ino, fi))
HELD(readdir,
     (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
      struct fuse_file_info *fi),
     (req, ino, size, off, fi))
HELD(releasedir, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
     (req, ino, fi))
HELD(fsyncdir,
     (fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi),
     (req, ino, datasync, fi))
HELD(statfs, (fuse_req_t req, fuse_ino_t ino), (req, ino))
HELD(setxattr,
     (fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
      size_t size, int flags),
     (req, ino, name, value, size, flags))
HELD(getxattr, (fuse_req_t req, fuse_ino_t ino, const char *name, size_t size),
     (req, ino, name, size))
HELD(listxattr, (fuse_req_t req, fuse_ino_t ino, size_t size), (req, ino, size))
HELD(removexattr, (fuse_req_t req, fuse_ino_t ino, const char *name),
     (req, ino, name))
HELD(access, (fuse_req_t req, fuse_ino_t ino, int mask), (req, ino, mask))
HELD(getlk,
     (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
      struct flock *lock),
     (req, ino, fi, lock))
HELD(setlk,
     (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
      struct flock *lock, int sleep),
     (req, ino, fi, lock, sleep))
HELD(flock, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int op),
     (req, ino, fi, op))

const struct fuse_lowlevel_ops drfsd_ops = {
	.init = drfs_op_init,
	.destroy = drfs_op_destroy,
	.lookup = held_lookup,
	.forget = drfs_op_forget,
	.forget_multi = drfs_op_forget_multi,
	.getattr = held_getattr,
	.setattr = held_setattr,
	.readlink = held_readlink,
	.mknod = held_mknod,
	.mkdir = held_mkdir,
	.symlink = held_symlink,
	.unlink = held_unlink,
	.rmdir = held_rmdir,
	.rename = held_rename,
	.link = held_link,
	.open = held_open,
	.create = held_create,
	.read = held_read,
	.write = held_write,
	.flush = held_flush,
	.fsync = held_fsync,
	.release = held_release,
	.opendir = held_opendir,
	.readdir = held_readdir,
	.releasedir = held_releasedir,
	.fsyncdir = held_fsyncdir,
	.statfs = held_statfs,
	.setxattr = held_setxattr,
	.getxattr = held_getxattr,
	.listxattr = held_listxattr,
	.removexattr = held_removexattr,
	.access = held_access,
	.getlk = held_getlk,
	.setlk = held_setlk,
	.flock = held_flock,
};
