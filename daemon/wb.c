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

/* ---- scattered writes (struct wbuf x) ---- */

/*
 * Random writes: a write that neither extends nor rewrites the buffer
 * becomes a piece (or the buffer, if small, becomes one and the write
 * starts a new buffer).  Pieces are written all at once at flush, each
 * stripe read and written once (drfs_write_ext), so N random 4 KiB
 * writes cost a few round trips per stripe instead of ~4 each.
 * WB_XMOVE: a buffer up to this size is moved into the pieces when the
 * writer jumps; a larger one is a sequential stream, flushed first.
 */
#define WB_XMAX 4096 /* pieces per inode; beyond, flush */
#define WB_XMOVE (1u << 20)

/* Write out every piece (one batch) and forget them. */
static void x_flush(struct drfsd *d, struct dnode *n)
{
	struct wbuf *wb = &n->wb;
	struct drfs_wext *e;
	int ret;

	if (!wb->x.n)
		return;
	e = malloc(wb->x.n * sizeof(*e));
	if (!e) {
		ret = -ENOMEM;
	} else {
		for (unsigned i = 0; i < wb->x.n; i++)
			e[i] = (struct drfs_wext){
				wb->x.x[i].off, wb->x.x[i].len, wb->x.x[i].buf};
		ret = drfs_write_ext(d->fs, n->ino, e, wb->x.n, wb->mtime_ns);
		free(e);
	}
	wb_note_err(n, drfs_ret(d->fs, ret), wb->x.bytes, wb->x.x[0].off);
	wp_free(&wb->x);
	__atomic_add_fetch(&wb->gen, 1, __ATOMIC_RELEASE);
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
	wb->mtime_ns = drfs_now_ns();
	__atomic_add_fetch(&wb->gen, 1, __ATOMIC_RELEASE);
	wb_stream(d, n);
	if (wb->len >= d->wb_max || wb->x.bytes + wb->len >= d->wb_max ||
	    wb->x.n >= WB_XMAX)
		drfsd_wb_flush_locked(d, n);
out:
	pthread_mutex_unlock(&n->lock);
	return ret;
}

/* Show buffered writes in @a: the size they reach, their mtime. */
void drfsd_wb_apply(struct dnode *n, struct drfs_attr *a)
{
	pthread_mutex_lock(&n->lock);
	if (n->wb.len || n->wb.x.n) {
		if (n->wb.len && n->wb.off + n->wb.len > a->size)
			a->size = n->wb.off + n->wb.len;
		if (wp_end(&n->wb.x) > a->size)
			a->size = wp_end(&n->wb.x);
		a->mtime_ns = a->ctime_ns = n->wb.mtime_ns;
	}
	pthread_mutex_unlock(&n->lock);
}

bool drfsd_wb_discard(struct dnode *n)
{
	bool dirty;

	pthread_mutex_lock(&n->lock);
	dirty = n->wb.len || n->wb.x.n || (n->wb.ws && drfs_ws_busy(n->wb.ws));
	wp_free(&n->wb.x);
	/* waits for the old session's ops in flight, keeps nothing of them */
	drfs_ws_free(n->wb.ws);
	n->wb.ws = NULL;
	drfsd_ra_drop(n);
	free(n->wb.buf);
	n->wb.buf = NULL;
	n->wb.len = n->wb.cap = 0;
	n->wb.err = 0;
	pthread_mutex_unlock(&n->lock);
	return dirty;
}

void drfsd_wb_release(struct dnode *n)
{
	drfs_ws_free(n->wb.ws); /* waits for writes still in flight */
	ra_free(n->ra);
	free(n->wb.buf);
	wp_free(&n->wb.x);
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
	if (wb->err || (!wb->x.n && (!wb->len || wb->len > WB_XMOVE)) ||
	    (wb->ws && drfs_ws_busy(wb->ws))) {
		/* nothing buffered but a long run, or a stream in flight:
		 * as a sync */
		drfsd_wb_flush_locked(d, n);
		ret = wb->err;
		wb->err = 0;
		pthread_mutex_unlock(&n->lock);
		return ret;
	}
	*done = true;
	r = size ? drfs_read_size(d->fs, n->ino, off, size, buf, &rsize) : 0;
	if (r < 0) {
		ret = drfs_ret(d->fs, (int)r);
		goto out;
	}
	xend = wp_end(&wb->x);
	vend = rsize > xend ? rsize : xend;
	if (wb->len && wb->off + wb->len > vend)
		vend = wb->off + wb->len;
	end = off >= vend ? off : (off + size < vend ? off + size : vend);
	if (end - off > (uint64_t)r)
		memset(buf + r, 0, end - off - (uint64_t)r);
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
