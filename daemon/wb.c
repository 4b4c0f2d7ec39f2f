/*
 * wb.c - the write-back buffer (struct wbuf) and read-ahead (struct
 * rdahead) of one inode.
 *
 * Writes are gathered per inode in the buffer, whose whole stripes stream
 * out with aio as they fill, and made durable before flush (close), fsync
 * and release return (the handlers call drfsd_wb_sync), which gives
 * close-to-open consistency between nodes.  Random writes elsewhere are
 * kept as scattered pieces (pieces.c), laid over reads of this node and
 * written in one batch per flush (drfs_write_ext).  A handle reading sequentially
 * is served from stripes read ahead, which a new open, a write or
 * truncate here, or a cluster lock on the inode makes us drop or bypass.
 *
 * This layer sees one struct dnode at a time and never the inode table:
 * nodes.c frees what is here when it frees a node (drfsd_wb_release),
 * rejoin.c walks the table to discard it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coherence.h"
#include "log.h"
#include "wb.h"

/* ---- read-ahead (struct rdahead) ---- */

/*
 * Stripes read ahead of a sequential reader (4 MiB each): as deep as the
 * write stream, rados bench's 16 MiB in flight.  RA_BUDGET bounds the
 * memory of all read-aheads of the node together (a hundred PHP
 * downloads must not take 2 GiB): beyond it reads go without.
 */
#define RA_DEPTH 4
#define RA_BUDGET (256ull << 20)
#define RA_WINDOW (3ull * DRFS_STRIPE) /* see drfsd_ra_read */
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
void drfsd_ra_drop(struct dnode *n)
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
ssize_t drfsd_ra_read(struct drfsd *d, struct dnode *n, const void *fh,
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

void drfsd_ra_release(struct dnode *n, const void *fh)
{
	if (n->ra) {
		pthread_mutex_lock(&n->ra->lock);
		if (n->ra->fh == fh)
			ra_reset(n->ra); /* its buffers are of no more use */
		pthread_mutex_unlock(&n->ra->lock);
	}
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
	wb->sha_ok = false; /* what is stored is not what was hashed */
	/* the kernel's pages may hold what never landed: no keep_cache at
	 * the next open (coherence.c) */
	__atomic_store_n(&n->dgen_seen, UINT64_MAX, __ATOMIC_RELAXED);
}

/* Wait for the background flush of the pieces (below), if any.  Caller
 * holds n->lock. */
static void x_wait(struct dnode *n)
{
	while (n->wb.xf_busy)
		pthread_cond_wait(&n->wb.xf_cond, &n->lock);
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

		if (end < next)
			return;
		/* newer than the background batch: after it (n->lock is
		 * let go meanwhile, so a flush may have taken the buffer:
		 * look again) */
		if (wb->xf_busy) {
			x_wait(n);
			continue;
		}
		if (wb->off == 0 || wb->off % DRFS_STRIPE) {
			wb_write_head(d, n, (size_t)(next - wb->off));
			continue;
		}
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

/* ---- scattered writes (struct wbuf x) ---- */

/*
 * Random writes: a write that neither extends nor rewrites the buffer
 * becomes a piece (or the buffer, if small, becomes one and the write
 * starts a new buffer).  Pieces are written all at once at flush, each
 * stripe read and written once (drfs_write_ext), so N random 4 KiB
 * writes cost a few round trips per stripe instead of ~4 each.
 * At d->wb_pieces pieces (mount option writeback_pieces=), or when they
 * and the buffer reach d->wb_max, they are flushed in the background
 * (below).
 * WB_XMOVE: a buffer up to this size is moved into the pieces when the
 * writer jumps; a larger one is a sequential stream, flushed first.
 */
#define WB_XMOVE (1u << 20)

/* Write the pieces of @s in one batch (drfs_write_ext). */
static int x_write(struct drfsd *d, struct dnode *n, const struct wpieces *s,
		   int64_t mtime_ns)
{
	struct drfs_wext *e = malloc(s->n * sizeof(*e));
	int ret;

	if (!e)
		return -ENOMEM;
	for (unsigned i = 0; i < s->n; i++)
		e[i] = (struct drfs_wext){s->x[i].off, s->x[i].len,
					  s->x[i].buf};
	ret = drfs_write_ext(d->fs, n->ino, e, s->n, mtime_ns);
	free(e);
	return drfs_ret(d->fs, ret);
}

/* Write out every piece (one batch, after the background one) and forget
 * them.  Caller holds n->lock. */
static void x_flush(struct drfsd *d, struct dnode *n)
{
	struct wbuf *wb = &n->wb;

	x_wait(n);
	if (!wb->x.n)
		return;
	wb_note_err(n, x_write(d, n, &wb->x, wb->mtime_ns), wb->x.bytes,
		    wb->x.x[0].off);
	wp_free(&wb->x);
	__atomic_add_fetch(&wb->gen, 1, __ATOMIC_RELEASE);
}

/* ---- background flush of the pieces ---- */

/*
 * When the pieces reach their bound, they move to wb->xf and a thread
 * writes them while the writer goes on into an empty wb->x: the write
 * that filled them does not wait for the batch (~2,000 stripe blocks
 * read and written), only one that fills the next set before the first
 * is done does (two sets at most: the memory stays bounded).  Reads lay
 * xf, then x, then the buffer over what they read from RADOS, so what
 * they see does not depend on how far the batch got; every other write
 * of the inode's data (the buffer, the stream, a sync flush) waits for xf
 * first, so an older byte never lands after a newer one.  close, fsync,
 * a cluster lock's release and truncate wait too (drfsd_wb_flush_locked),
 * and an error of the batch is kept in wb->err for the next write, close
 * or fsync, as for the stream.
 *
 * The thread holds conn_lock for reading while it writes, like a request.
 * A rejoin (conn_lock held for writing) can therefore only meet a flush
 * that has not started: it marks it cancelled, and the thread drops the
 * pieces of the old session unwritten.
 */
struct xjob {
	struct drfsd *d;
	struct dnode *n;
	int64_t mtime_ns;
};

static void *x_bg_main(void *arg)
{
	struct xjob *j = arg;
	struct drfsd *d = j->d;
	struct dnode *n = j->n;
	struct wbuf *wb = &n->wb;
	bool cancel;
	int ret = 0;

	drfs_conn_rdlock(d->fs);
	pthread_mutex_lock(&n->lock);
	cancel = wb->xf_cancel;
	pthread_mutex_unlock(&n->lock);
	if (!cancel) /* xf is not changed by anyone while xf_busy */
		ret = x_write(d, n, &wb->xf, j->mtime_ns);
	pthread_mutex_lock(&n->lock);
	if (!cancel)
		wb_note_err(n, ret, wb->xf.bytes, wb->xf.x[0].off);
	wp_free(&wb->xf);
	wb->xf_busy = wb->xf_cancel = false;
	__atomic_add_fetch(&wb->gen, 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&wb->xf_cond);
	pthread_mutex_unlock(&n->lock); /* n may be freed from here on */
	drfs_conn_unlock(d->fs);
	free(j);
	__atomic_sub_fetch(&d->xf_threads, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Hand the pieces to a background flush (after the one before is done);
 * without a thread, write them here.  Caller holds n->lock. */
static void x_start(struct drfsd *d, struct dnode *n)
{
	struct wbuf *wb = &n->wb;
	struct xjob *j;
	pthread_attr_t at;
	pthread_t t;
	int ret;

	x_wait(n);
	if (!wb->x.n)
		return;
	j = malloc(sizeof(*j));
	if (!j) {
		x_flush(d, n);
		return;
	}
	*j = (struct xjob){d, n, wb->mtime_ns};
	wb->xf = wb->x;
	memset(&wb->x, 0, sizeof(wb->x));
	wb->xf_busy = true;
	__atomic_add_fetch(&d->xf_threads, 1, __ATOMIC_ACQ_REL);
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	ret = pthread_create(&t, &at, x_bg_main, j);
	pthread_attr_destroy(&at);
	if (ret != 0) { /* as before: the writer waits */
		__atomic_sub_fetch(&d->xf_threads, 1, __ATOMIC_RELEASE);
		free(j);
		wb->xf_busy = false;
		wb->x = wb->xf;
		memset(&wb->xf, 0, sizeof(wb->xf));
		x_flush(d, n);
		return;
	}
	drfs_stat_add(d->fs, DRFS_ST_WB_BG, 1);
}

void drfsd_wb_threads_wait(struct drfsd *d)
{
	while (__atomic_load_n(&d->xf_threads, __ATOMIC_ACQUIRE))
		usleep(1000);
}

/*
 * Make everything buffered for @n durable: wait for the stream (and
 * record its stripes), then write what is left in the buffer.  Caller
 * holds n->lock.  Returns the pending error (kept in wb->err).
 */
int drfsd_wb_flush_locked(struct drfsd *d, struct dnode *n)
{
	struct wbuf *wb = &n->wb;
	int ret;

	x_wait(n); /* older than anything here */
	if (wb->ws) {
		ret = drfs_ws_sync(wb->ws, wb->mtime_ns);
		wb_note_err(n, drfs_ret(d->fs, ret), 0, wb->off);
	}
	x_flush(d, n); /* after the stream: newer than what it carried */
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
void drfsd_wb_drop_buf(struct dnode *n)
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

int drfsd_wb_sync_keep(struct drfsd *d, struct dnode *n)
{
	int ret;

	pthread_mutex_lock(&n->lock);
	ret = drfsd_wb_flush_locked(d, n);
	pthread_mutex_unlock(&n->lock);
	return ret;
}

/* Flush and hand out (and clear) the pending error. */
int drfsd_wb_sync(struct drfsd *d, struct dnode *n)
{
	int ret;

	pthread_mutex_lock(&n->lock);
	drfsd_wb_flush_locked(d, n);
	ret = n->wb.err;
	n->wb.err = 0;
	pthread_mutex_unlock(&n->lock);
	return ret;
}

static bool wb_dirty_locked(struct dnode *n);

/*
 * Hash a write of a filedir file (struct wbuf): one at 0 starts anew
 * (whatever was there is rewritten from the start), one at the end of
 * what was hashed goes on, any other voids the hash.  Caller holds
 * n->lock; the write is in the buffer.
 */
static void wb_hash(struct drfsd *d, struct dnode *n, uint64_t off,
		    const char *buf, size_t len)
{
	struct wbuf *wb = &n->wb;

	if (off == 0) {
		if (!wb->sha)
			wb->sha = drfs_sha1_new();
		if (!wb->sha)
			return; /* (sha_ok stays false: read back) */
		drfs_sha1_reset(wb->sha);
		wb->sha_len = 0;
		wb->sha_dgen = drfsd_coh_dgen(d, n->ino);
		wb->sha_ok = true;
	} else if (!wb->sha_ok || off != wb->sha_len) {
		wb->sha_ok = false;
		return;
	}
	drfs_sha1_update(wb->sha, buf, len);
	wb->sha_len += len;
}

bool drfsd_wb_sha(struct drfsd *d, struct dnode *n, uint64_t size, char out[41])
{
	struct wbuf *wb = &n->wb;
	bool ok;

	pthread_mutex_lock(&n->lock);
	ok = wb->sha_ok && wb->sha_len == size && !wb->err &&
	     !wb_dirty_locked(n) && drfs_inval_trusted(d->fs) &&
	     drfsd_coh_dgen(d, n->ino) == wb->sha_dgen &&
	     drfs_sha1_hex_of(wb->sha, out) == 0;
	pthread_mutex_unlock(&n->lock);
	return ok;
}

void drfsd_wb_truncated(struct dnode *n)
{
	pthread_mutex_lock(&n->lock);
	n->wb.sha_ok = false;
	pthread_mutex_unlock(&n->lock);
}

int drfsd_wb_write(struct drfsd *d, struct dnode *n, uint64_t off,
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
	/* The buffer only grows contiguously (or is rewritten inside).  A
	 * write elsewhere: while a stream is in flight, or the buffer is a
	 * long sequential run, or the write overlaps its start, everything
	 * is written out first; else the (short) buffer becomes a piece and
	 * the write starts a new buffer. */
	if ((wb->len || (wb->ws && drfs_ws_busy(wb->ws))) &&
	    (off < wb->off || off > wb->off + wb->len ||
	     off + len - wb->off > d->wb_max)) {
		bool apart = off + len <= wb->off || off > wb->off + wb->len;

		if (apart && wb->len <= WB_XMOVE &&
		    !(wb->ws && drfs_ws_busy(wb->ws))) {
			ret = wp_put(&wb->x, wb->off, wb->buf, wb->len);
			if (ret < 0)
				goto out;
			wb->len = 0;
		} else {
			ret = drfsd_wb_flush_locked(d, n);
			if (ret < 0) {
				wb->err = 0;
				goto out;
			}
		}
	}
	/* newer than any piece there */
	if (wb->x.n) {
		ret = wp_punch(&wb->x, off, len);
		if (ret < 0)
			goto out;
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
	if (n->area == DRFS_AREA_FILEDIR)
		wb_hash(d, n, off, buf, len);
	wb->mtime_ns = drfs_now_ns();
	__atomic_add_fetch(&wb->gen, 1, __ATOMIC_RELEASE);
	wb_stream(d, n);
	if (wb->x.n &&
	    (wb->x.n >= d->wb_pieces || wb->x.bytes + wb->len >= d->wb_max))
		x_start(d, n);
	if (wb->len >= d->wb_max)
		drfsd_wb_flush_locked(d, n);
out:
	if (ret < 0) /* (a write-back error handed out: not stored) */
		wb->sha_ok = false;
	pthread_mutex_unlock(&n->lock);
	return ret;
}

/* Show buffered writes in @a: the size they reach, their mtime. */
void drfsd_wb_apply(struct dnode *n, struct drfs_attr *a)
{
	uint64_t ws_end;

	pthread_mutex_lock(&n->lock);
	/* (a stream's stripes may wait for their size raise, and other
	 * nodes hear of the raises at its sync) */
	ws_end = n->wb.ws ? drfs_ws_end(n->wb.ws) : 0;
	if (n->wb.len || n->wb.x.n || n->wb.xf_busy || ws_end) {
		if (ws_end > a->size)
			a->size = ws_end;
		if (n->wb.len && n->wb.off + n->wb.len > a->size)
			a->size = n->wb.off + n->wb.len;
		if (wp_end(&n->wb.x) > a->size)
			a->size = wp_end(&n->wb.x);
		if (wp_end(&n->wb.xf) > a->size)
			a->size = wp_end(&n->wb.xf);
		a->mtime_ns = a->ctime_ns = n->wb.mtime_ns;
	}
	pthread_mutex_unlock(&n->lock);
}

/* Writes of @n not yet stored: buffer, pieces, batch or stream in
 * flight.  Caller holds n->lock. */
static bool wb_dirty_locked(struct dnode *n)
{
	return n->wb.len || n->wb.x.n || n->wb.xf_busy ||
	       (n->wb.ws && drfs_ws_busy(n->wb.ws));
}

bool drfsd_wb_dirty(struct dnode *n)
{
	bool dirty;

	pthread_mutex_lock(&n->lock);
	dirty = wb_dirty_locked(n);
	pthread_mutex_unlock(&n->lock);
	return dirty;
}

bool drfsd_wb_discard(struct dnode *n)
{
	bool dirty;

	pthread_mutex_lock(&n->lock);
	dirty = wb_dirty_locked(n);
	/* a background flush cannot be running (it holds conn_lock): it
	 * drops the old session's pieces when it gets to run */
	if (n->wb.xf_busy) {
		n->wb.xf_cancel = true;
		wp_free(&n->wb.xf); /* the thread will not look at it */
	}
	wp_free(&n->wb.x);
	/* waits for the old session's ops in flight, keeps nothing of them */
	drfs_ws_free(n->wb.ws);
	n->wb.ws = NULL;
	drfsd_ra_drop(n);
	free(n->wb.buf);
	n->wb.buf = NULL;
	n->wb.len = n->wb.cap = 0;
	n->wb.err = 0;
	n->wb.sha_ok = false;
	pthread_mutex_unlock(&n->lock);
	return dirty;
}

void drfsd_wb_release(struct dnode *n)
{
	pthread_mutex_lock(&n->lock);
	x_wait(n);
	pthread_mutex_unlock(&n->lock);
	drfs_ws_free(n->wb.ws); /* waits for writes still in flight */
	ra_free(n->ra);
	free(n->wb.buf);
	wp_free(&n->wb.x);
	drfs_sha1_free(n->wb.sha);
}

/*
 * A read of @n while pieces are buffered: read what is stored, then lay
 * the buffered bytes over it (up to the size they reach), all under
 * n->lock so no flush slips between.  *@done false: nothing is buffered
 * apart from what a flush made durable just now (the caller reads as
 * usual); else the bytes read, or -errno.
 */
ssize_t drfsd_wb_read(struct drfsd *d, struct dnode *n, uint64_t off,
		      size_t size, char *buf, bool *done)
{
	struct wbuf *wb = &n->wb;
	uint64_t rsize = 0, vend, end, xend;
	ssize_t ret = 0, r;

	*done = false;
	pthread_mutex_lock(&n->lock);
	if (!wb->err && wb->ws)
		wb->err = drfs_ret(d->fs, drfs_ws_take_err(wb->ws));
	if (wb->err ||
	    (!wb->x.n && !wb->xf_busy && (!wb->len || wb->len > WB_XMOVE)) ||
	    (wb->ws && drfs_ws_busy(wb->ws))) {
		/* nothing buffered but a long run, or a stream in flight:
		 * flush, and the caller reads as usual.  An error of the
		 * write-back is the writer's: it stays for its next write,
		 * fsync or close (a reader is not the one to be told). */
		drfsd_wb_flush_locked(d, n);
		pthread_mutex_unlock(&n->lock);
		return 0;
	}
	*done = true;
	r = size ? drfs_read_size(d->fs, n->ino, off, size, buf, &rsize) : 0;
	if (r < 0) {
		ret = drfs_ret(d->fs, (int)r);
		goto out;
	}
	xend = wp_end(&wb->x);
	if (wp_end(&wb->xf) > xend)
		xend = wp_end(&wb->xf);
	vend = rsize > xend ? rsize : xend;
	if (wb->len && wb->off + wb->len > vend)
		vend = wb->off + wb->len;
	end = off >= vend ? off : (off + size < vend ? off + size : vend);
	if (end - off > (uint64_t)r)
		memset(buf + r, 0, end - off - (uint64_t)r);
	wp_overlay(&wb->xf, off, buf, (size_t)(end - off)); /* older */
	wp_overlay(&wb->x, off, buf, (size_t)(end - off));
	if (wb->len && wb->off < end && wb->off + wb->len > off) {
		uint64_t a = wb->off > off ? wb->off : off;
		uint64_t b = wb->off + wb->len < end ? wb->off + wb->len : end;

		memcpy(buf + (a - off), wb->buf + (a - wb->off), b - a);
	}
	ret = (ssize_t)(end - off);
out:
	pthread_mutex_unlock(&n->lock);
	return ret;
}
