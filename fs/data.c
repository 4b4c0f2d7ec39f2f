/*
 * data.c - file contents: striping, per-block checksums, holes, truncate.
 *
 * See layout.h for the mapping.  Every stripe touched by one call is read
 * or written with its own aio op, all in flight at once, so a large read
 * or write costs about one round trip.
 *
 * Partial blocks are read-modify-written under assert_version (or an
 * exclusive create when the object does not exist yet), so two nodes
 * writing different bytes of one block never lose each other's update and
 * the checksum always matches the bytes stored.  The checksums of old
 * bytes are verified before they are merged: corruption is never copied.
 * Each block record holds a checksum per 4 KiB piece (codec.h): reads
 * fetch and verify only the pieces asked for, and writes into stripes >= 1
 * read, verify and write only the pieces that change (write_pieces, the
 * scattered writes' xst_*); stripe 0 merges whole blocks.  A record of the
 * first format (one checksum per block) makes a read ask for the whole
 * block (sio_verify: -EAGAIN) and a write store the block's record anew.
 *
 * Stripe 0 is the inode object, so for small files the new size, times,
 * data and checksums change in one compound op.  For writes beyond stripe
 * 0 the size is raised first (then the data): a crash leaves a hole of
 * zeros inside the size, never stored bytes beyond it.
 *
 * Stripe records (layout.h) tell a hole from a lost stripe object.  Their
 * life cycle keeps "a record means the object exists" true under races
 * and crashes:
 *   - set (stage C of a write) only after the stripe object was written,
 *     under a compare of the inode's attributes as stage A left them, and
 *     only for stripes below the size;
 *   - removed before a truncate removes whole stripe objects (drfs_trim),
 *     and again in the same op that lowers the size (ns.c attr_update),
 *     so none is left beyond the size.
 * A read or a partial write that finds a recorded stripe object missing
 * looks again (drfs_stripe_check) and fails with EIO: never zeros, and
 * never new bytes merged with zeros in place of the lost ones.  Files
 * written before stripe records existed have none: for them a lost stripe
 * still reads as a hole.
 *
 * Streaming (the daemon's write-back and read-ahead, fs.h): drfs_ws_*
 * writes whole stripes >= 1 with aio, several in flight, under the same
 * rules - the size raised (in one version-guarded op on the inode, with
 * the records of stripes completed meanwhile) before any stripe beyond it
 * is sent, records only for completed stripes below the size.  drfs_ra_*
 * reads whole stripes ahead with aio and verifies blocks as they are
 * served; a missing stripe object falls back to drfs_read.  Completion
 * callbacks only mark and signal; the caller reaps and releases.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "log.h"
#include "mdcache.h"

#define BLK_END "b.g" /* sorts after every "b.<8 hex digits>" key */

/* One stripe's part of a read or write. */
struct sio {
	uint64_t stripe;
	uint32_t o0, o1; /* object byte range of the request */
	uint32_t b0, b1; /* block range, inclusive */
	char oid[DRFS_OID_MAX];
	/* read side */
	rados_read_op_t rop;
	struct drfs_aio *c;
	char *buf; /* blocks b0..b1 as stored */
	uint32_t rd0,
		rd1; /* object bytes asked for (rd0 in buf at its place) */
	size_t got; /* bytes read from rd0 on */
	bool narrow; /* read only the 4 KiB pieces of [o0, o1) */
	int rval, prval_read, prval_keys, prval_x;
	rados_omap_iter_t keys_it;
	rados_xattrs_iter_t xattrs_it;
	struct drfs_block rec[DRFS_BLOCKS_PER_STRIPE];
	bool have[DRFS_BLOCKS_PER_STRIPE];
	uint64_t ver;
	uint64_t osize;
	bool exists;
	/* stripe records (reads of the inode object): stripes mk0.. */
	uint64_t mk0, mkn;
	bool *marks; /* the caller's array of mkn, set by sio_read_wait */
	rados_omap_iter_t marks_it;
	unsigned char marks_more;
	int prval_marks;
	bool marked; /* stripe >= 1: the inode records it as written */
	/* write side */
	rados_write_op_t wop;
	char *wbuf;
	uint32_t wstart, wend;
};

static void sio_init(struct sio *s, uint64_t ino, uint64_t stripe, uint32_t o0,
		     uint32_t o1)
{
	memset(s, 0, sizeof(*s));
	s->stripe = stripe;
	s->o0 = o0;
	s->o1 = o1;
	s->b0 = o0 / DRFS_BLOCK;
	s->b1 = (o1 - 1) / DRFS_BLOCK;
	drfs_oid(s->oid, ino, stripe);
}

static void sio_release(struct sio *s)
{
	drfs_aio_release(s->c); /* first: waits for an op in flight */
	drfs_omap_end(s->keys_it);
	drfs_omap_end(s->marks_it);
	drfs_xattrs_end(s->xattrs_it);
	drfs_rd_free(s->rop);
	drfs_wop_free(s->wop);
	free(s->buf);
	free(s->wbuf);
	s->keys_it = NULL;
	s->marks_it = NULL;
	s->xattrs_it = NULL;
	s->rop = NULL;
	s->wop = NULL;
	s->c = NULL;
	s->buf = NULL;
	s->wbuf = NULL;
}

/*
 * Queue a read of blocks [rb0, rb1] (and their records) of stripe @s;
 * @xattrs also fetches the inode attributes (stripe 0 only), and s->mkn
 * > 0 the stripe records of s->mk0.. (s->mk0 >= 1).
 */
static int sio_read_submit(struct drfs_fs *fs, struct sio *s, uint32_t rb0,
			   uint32_t rb1, bool want_data, bool xattrs)
{
	char keybuf[DRFS_BLOCKS_PER_STRIPE][16];
	const char *keys[DRFS_BLOCKS_PER_STRIPE];
	size_t klens[DRFS_BLOCKS_PER_STRIPE];
	unsigned n = 0;

	s->rop = drfs_rd_new();
	if (!xattrs && !want_data) /* only the version is wanted */
		drfs_rd_stat(s->rop, &s->osize, &s->prval_x);
	if (xattrs)
		drfs_rd_xattrs(s->rop, &s->xattrs_it, &s->prval_x);
	if (s->mkn) {
		char after[DRFS_STRIPE_KEY_MAX];

		drfs_stripe_key(after, s->mk0 - 1);
		drfs_rd_omap(s->rop, after, DRFS_STRIPE_KEY_PREFIX, s->mkn,
			     &s->marks_it, &s->marks_more, &s->prval_marks);
	}
	if (want_data) {
		size_t len = (size_t)(rb1 - rb0 + 1) * DRFS_BLOCK;
		uint32_t r0 = rb0 * DRFS_BLOCK, r1 = (rb1 + 1) * DRFS_BLOCK;

		if (s->narrow) { /* the pieces of [o0, o1) within them */
			uint32_t n0 = s->o0 / DRFS_PIECE * DRFS_PIECE;
			uint32_t n1 = (s->o1 + DRFS_PIECE - 1) / DRFS_PIECE *
				      DRFS_PIECE;

			r0 = n0 > r0 ? n0 : r0;
			r1 = n1 < r1 ? n1 : r1;
		}
		s->rd0 = r0;
		s->rd1 = r1;
		if (!s->buf) /* (read-ahead brings a pool buffer) */
			s->buf = calloc(1, len);
		if (!s->buf)
			return -ENOMEM;
		drfs_rd_read(s->rop, r0, r1 - r0,
			     s->buf + (r0 - rb0 * DRFS_BLOCK), &s->got,
			     &s->prval_read);
		for (uint32_t b = rb0; b <= rb1; b++) {
			drfs_block_key(keybuf[n], b);
			keys[n] = keybuf[n];
			klens[n] = strlen(keybuf[n]);
			n++;
		}
		drfs_rd_omap_keys(s->rop, keys, n, klens, &s->keys_it,
				  &s->prval_keys);
	}
	return drfs_aio_read(fs, s->oid, s->rop, &s->c);
}

/* Wait for a queued read, parse records.  0, -ENOENT (no object), -errno */
static int sio_read_wait(struct sio *s)
{
	char *k, *v;
	size_t kl, vl;

	s->rval = drfs_aio_wait(s->c, &s->ver);
	if (s->rval < 0)
		return s->rval;
	s->exists = true;
	while (s->keys_it &&
	       drfs_omap_next(s->keys_it, &k, &v, &kl, &vl) == 0 && k) {
		struct drfs_block rec;
		unsigned long b;

		if (kl != 10 || strncmp(k, "b.", 2))
			continue;
		b = strtoul(k + 2, NULL, 16);
		if (b >= DRFS_BLOCKS_PER_STRIPE ||
		    drfs_block_decode(v, vl, &rec) < 0 || rec.len > DRFS_BLOCK)
			return -EIO;
		s->rec[b] = rec;
		s->have[b] = true;
	}
	if (s->marks_it) {
		memset(s->marks, 0, s->mkn * sizeof(*s->marks));
		while (drfs_omap_next(s->marks_it, &k, &v, &kl, &vl) == 0 &&
		       k) {
			uint64_t st;

			if (kl != DRFS_STRIPE_KEY_MAX - 6)
				continue;
			st = strtoull(k + 2, NULL, 16);
			if (st >= s->mk0 && st - s->mk0 < s->mkn)
				s->marks[st - s->mk0] = true;
		}
	}
	return 0;
}

int drfs_stripe_check(struct drfs_fs *fs, uint64_t ino, uint64_t stripe,
		      bool quick)
{
	char ioid[DRFS_OID_MAX], soid[DRFS_OID_MAX], key[DRFS_STRIPE_KEY_MAX];
	char val[DRFS_STRIPE_REC_LEN];
	unsigned delay_ms = 50;

	drfs_oid(ioid, ino, 0);
	drfs_oid(soid, ino, stripe);
	drfs_stripe_key(key, stripe);
	for (int round = 0;; round++) {
		uint64_t size;
		size_t len;
		int ret = drfs_omap_get(fs, ioid, key, val, sizeof(val), &len);

		if (ret == -ENOENT)
			return 0; /* record (or inode) gone: a truncate */
		if (ret < 0)
			return ret;
		ret = drfs_obj_stat(fs, soid, &size);
		if (ret == 0)
			return 1; /* a writer made it meanwhile */
		if (ret != -ENOENT)
			return ret;
		/* A truncate drops the record before the object; a write
		 * records the object after it made it.  A record and no
		 * object for a while more is a loss, not a race. */
		if (quick || round == 3)
			return -EIO;
		usleep(delay_ms * 1000);
		delay_ms *= 2;
	}
}

void drfs_op_drop_records(rados_write_op_t op, uint64_t from_size,
			  uint64_t to_size)
{
	uint64_t lo = from_size < to_size ? from_size : to_size;
	uint64_t hi = from_size < to_size ? to_size : from_size;
	uint64_t k = drfs_stripes_for(lo);
	char from[DRFS_STRIPE_KEY_MAX];

	if (drfs_stripes_for(hi) <= k || hi <= DRFS_STRIPE)
		return;
	drfs_stripe_key(from, k > 1 ? k : 1);
	drfs_op_rm_range(op, from, DRFS_STRIPE_KEY_END);
}

/* Forget what a read of @s found, to read it again. */
static void sio_reset(struct sio *s)
{
	sio_release(s);
	memset(s->rec, 0, sizeof(s->rec));
	memset(s->have, 0, sizeof(s->have));
	s->exists = false;
	s->got = 0;
}

/* A lost stripe: counted with checksum errors (what operators alert on). */
static void log_lost(struct drfs_fs *fs, const struct sio *s, uint64_t ino)
{
	drfs_stat_add(fs, DRFS_ST_CSUM_ERR, 1);
	drfs_err("stripe object %s is missing, but inode %" PRIx64
		 " records data in it (bytes %" PRIu64 "-%" PRIu64
		 " of the file): returning EIO",
		 s->oid, ino, s->stripe * DRFS_STRIPE,
		 (s->stripe + 1) * DRFS_STRIPE - 1);
}

/* @v clamped to the block that starts at @bs: a block offset. */
static uint32_t in_block(uint64_t v, uint64_t bs)
{
	if (v <= bs)
		return 0;
	return v - bs >= DRFS_BLOCK ? DRFS_BLOCK : (uint32_t)(v - bs);
}

static void log_mismatch(struct drfs_fs *fs, const char *oid, uint32_t b,
			 uint32_t len)
{
	drfs_stat_add(fs, DRFS_ST_CSUM_ERR, 1);
	drfs_err("checksum mismatch in object %s block %u (offset %u, %u "
		 "bytes): returning EIO",
		 oid, b, b * DRFS_BLOCK, len);
}

/*
 * Verify what bytes [lo, hi) of block @b need of a completed read (whose
 * buffer starts at block @rb0), and zero what lies beyond the block's
 * stored length.  0, -EIO, or -EAGAIN: the record is of the first format
 * and wants bytes the read did not ask for (read the whole block).
 */
static int sio_verify(struct drfs_fs *fs, struct sio *s, uint32_t rb0,
		      uint32_t b, uint32_t lo, uint32_t hi)
{
	char *p = s->buf + (size_t)(b - rb0) * DRFS_BLOCK;
	uint64_t bs = (uint64_t)b * DRFS_BLOCK;
	uint32_t n0, n1;

	if (!s->have[b]) {
		memset(p, 0, DRFS_BLOCK); /* hole */
		return 0;
	}
	drfs_block_need(&s->rec[b], lo, hi, &n0, &n1);
	if (n0 < n1 && (n0 < in_block(s->rd0, bs) || n1 > in_block(s->rd1, bs)))
		return -EAGAIN;
	if (drfs_block_check(&s->rec[b], p, in_block(s->rd0, bs),
			     in_block(s->rd0 + s->got, bs), lo, hi) < 0) {
		log_mismatch(fs, s->oid, b, s->rec[b].len);
		return -EIO;
	}
	memset(p + s->rec[b].len, 0, DRFS_BLOCK - s->rec[b].len);
	return 0;
}

/* All of block @b (read whole). */
static int sio_verify_block(struct drfs_fs *fs, struct sio *s, uint32_t rb0,
			    uint32_t b)
{
	int ret = sio_verify(fs, s, rb0, b, 0, DRFS_BLOCK);

	return ret == -EAGAIN ? -EIO : ret;
}

static int attrs_from(struct sio *s, uint64_t ino, struct drfs_attr *a,
		      char *raw_a, bool *have_t)
{
	const char *name, *val;
	size_t len;
	bool ok = false;

	*have_t = false;
	while (drfs_xattrs_next(s->xattrs_it, &name, &val, &len) == 0 && name) {
		if (!strcmp(name, "a")) {
			if (drfs_attr_decode(val, len, a) < 0)
				goto bad;
			if (raw_a)
				memcpy(raw_a, val, DRFS_ATTR_LEN);
			ok = true;
		} else if (!strcmp(name, "t")) {
			if (drfs_times_decode(val, len, &a->mtime_ns,
					      &a->ctime_ns) < 0)
				goto bad;
			*have_t = true;
		}
	}
	if (ok && a->ino == ino)
		return 0;
bad:
	drfs_err("inode %" PRIx64 ": attributes unreadable or corrupt", ino);
	return -EIO;
}

/* One attempt of drfs_read(); *again: a racing writer, try again. */
static ssize_t read_once(struct drfs_fs *fs, uint64_t ino, uint64_t off,
			 size_t len, char *buf, bool *again, bool *whole,
			 uint64_t *size)
{
	uint64_t s0, s1, n, mk0, mkn;
	struct sio *io;
	struct drfs_attr a;
	bool have_t, *marks = NULL;
	/* the attributes it reads go to the cache (ticket: before) */
	bool cache = fs->mdc && drfs_inval_trusted(fs);
	uint64_t ticket = cache ? drfs_mdc_ticket(fs->mdc) : 0;
	ssize_t ret = 0;

	s0 = drfs_stripe_of(off);
	s1 = drfs_stripe_of(off + len - 1);
	n = s1 - s0 + 1 + (s0 > 0); /* + the inode object for attrs */
	/* the records of the stripes >= 1 read come with the attributes */
	mk0 = s0 > 0 ? s0 : 1;
	mkn = s1 >= mk0 ? s1 - mk0 + 1 : 0;
	io = calloc(n, sizeof(*io));
	if (mkn)
		marks = calloc(mkn, sizeof(*marks));
	if (!io || (mkn && !marks)) {
		free(io);
		free(marks);
		return -ENOMEM;
	}
	for (uint64_t i = 0; i < n; i++) {
		uint64_t st = s0 > 0 ? (i == 0 ? 0 : s0 + i - 1) : s0 + i;
		uint64_t a0 = st * DRFS_STRIPE, a1 = a0 + DRFS_STRIPE;
		uint64_t r0 = off > a0 ? off : a0;
		uint64_t r1 = off + len < a1 ? off + len : a1;
		bool data = !(s0 > 0 && i == 0);

		if (!data) /* attrs only */
			r0 = a0, r1 = a0 + 1;
		sio_init(&io[i], ino, st, (uint32_t)(r0 - a0),
			 (uint32_t)(r1 - a0));
		io[i].narrow = !*whole;
		if (st == 0) {
			io[i].mk0 = mk0;
			io[i].mkn = mkn;
			io[i].marks = marks;
		}
		ret = sio_read_submit(fs, &io[i], io[i].b0, io[i].b1, data,
				      st == 0);
		if (ret < 0)
			goto out;
	}
	for (uint64_t i = 0; i < n; i++) {
		int r = sio_read_wait(&io[i]);

		if (r == -ENOENT && io[i].stripe > 0)
			r = 0; /* a stripe never written: all holes */
		if (r < 0 && ret == 0)
			ret = r;
	}
	if (ret < 0)
		goto out;
	ret = attrs_from(&io[0], ino, &a, NULL, &have_t);
	if (ret < 0)
		goto out;
	if (cache && have_t)
		drfs_mdc_attr_put(fs->mdc, ticket, &a, NULL);
	if (!S_ISREG(a.mode)) {
		ret = -EISDIR;
		goto out;
	}
	*size = a.size;
	if (off >= a.size) {
		ret = 0;
		goto out;
	}
	if (off + len > a.size)
		len = (size_t)(a.size - off);
	for (uint64_t i = (s0 > 0); i < n; i++) {
		struct sio *s = &io[i];
		uint64_t a0 = s->stripe * DRFS_STRIPE;

		if (!s->exists && s->stripe > 0 && marks[s->stripe - mk0] &&
		    a0 + s->o0 < off + len) {
			int r = drfs_stripe_check(fs, ino, s->stripe, false);

			if (r == 1) {
				*again = true;
				goto out;
			}
			if (r == -EIO)
				log_lost(fs, s, ino);
			if (r < 0) {
				ret = r;
				goto out;
			}
		}
		for (uint32_t b = s->b0; b <= s->b1; b++) {
			uint64_t bstart = a0 + (uint64_t)b * DRFS_BLOCK;

			if (bstart >= off + len)
				break;
			if (!s->exists) {
				memset(s->buf +
					       (size_t)(b - s->b0) * DRFS_BLOCK,
				       0, DRFS_BLOCK);
				continue;
			}
			ret = sio_verify(
				fs, s, s->b0, b, in_block(a0 + s->o0, bstart),
				in_block(off + len < a0 + s->o1 ? off + len
								: a0 + s->o1,
					 bstart));
			if (ret == -EAGAIN) { /* a first-format record */
				*whole = true;
				*again = true;
				ret = 0;
			}
			if (ret < 0 || *again)
				goto out;
		}
		/* copy the requested part */
		{
			uint64_t r0 = a0 + s->o0, r1 = a0 + s->o1;

			if (r1 > off + len)
				r1 = off + len;
			if (r0 < r1)
				memcpy(buf + (r0 - off),
				       s->buf + (s->o0 - s->b0 * DRFS_BLOCK),
				       r1 - r0);
		}
	}
	ret = (ssize_t)len;
	drfs_stat_add(fs, DRFS_ST_BYTES_READ, len);
out:
	for (uint64_t i = 0; i < n; i++)
		sio_release(&io[i]);
	free(io);
	free(marks);
	return ret;
}

/*
 * A read of stripes >= 1 with the attributes from the node's metadata
 * cache (as coherent as a getattr: another node's change invalidates it
 * before it returns): only the stripe objects are read - one RADOS op for
 * a 4 KiB random read, not two.  -EAGAIN: read the full way (no trusted
 * cached attributes, or a stripe object missing: a hole or a lost object,
 * which only the inode's stripe records tell apart).
 */
static ssize_t read_cached(struct drfs_fs *fs, uint64_t ino, uint64_t off,
			   size_t len, char *buf, uint64_t *size, bool *whole)
{
	uint64_t s0 = drfs_stripe_of(off), s1, n;
	struct drfs_attr a;
	struct sio *io;
	ssize_t ret = 0;

	if (s0 == 0 || !fs->mdc || !drfs_inval_trusted(fs) ||
	    !drfs_mdc_attr_get(fs->mdc, ino, &a, NULL) || !S_ISREG(a.mode))
		return -EAGAIN;
	drfs_stat_add(fs, DRFS_ST_MDC_HIT, 1);
	*size = a.size;
	if (off >= a.size)
		return 0;
	if (off + len > a.size)
		len = (size_t)(a.size - off);
	s1 = drfs_stripe_of(off + len - 1);
	n = s1 - s0 + 1;
	io = calloc(n, sizeof(*io));
	if (!io)
		return -ENOMEM;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t a0 = (s0 + i) * DRFS_STRIPE, a1 = a0 + DRFS_STRIPE;
		uint64_t r0 = off > a0 ? off : a0;
		uint64_t r1 = off + len < a1 ? off + len : a1;

		sio_init(&io[i], ino, s0 + i, (uint32_t)(r0 - a0),
			 (uint32_t)(r1 - a0));
		io[i].narrow = true;
		ret = sio_read_submit(fs, &io[i], io[i].b0, io[i].b1, true,
				      false);
		if (ret < 0)
			goto out;
	}
	for (uint64_t i = 0; i < n; i++) {
		int r = sio_read_wait(&io[i]);

		if (r < 0 && ret == 0)
			ret = r == -ENOENT ? -EAGAIN : r;
	}
	for (uint64_t i = 0; ret == 0 && i < n; i++) {
		struct sio *s = &io[i];
		uint64_t a0 = s->stripe * DRFS_STRIPE;

		for (uint32_t b = s->b0; ret == 0 && b <= s->b1; b++) {
			uint64_t bs = a0 + (uint64_t)b * DRFS_BLOCK;

			/* -EAGAIN (first-format record): the full way,
			 * whole blocks */
			ret = sio_verify(fs, s, s->b0, b,
					 in_block(a0 + s->o0, bs),
					 in_block(a0 + s->o1, bs));
			if (ret == -EAGAIN)
				*whole = true;
		}
		if (ret == 0)
			memcpy(buf + (a0 + s->o0 - off),
			       s->buf + (s->o0 - s->b0 * DRFS_BLOCK),
			       s->o1 - s->o0);
	}
	if (ret == 0) {
		ret = (ssize_t)len;
		drfs_stat_add(fs, DRFS_ST_BYTES_READ, len);
	}
out:
	for (uint64_t i = 0; i < n; i++)
		sio_release(&io[i]);
	free(io);
	return ret;
}

ssize_t drfs_read(struct drfs_fs *fs, uint64_t ino, uint64_t off, size_t len,
		  char *buf)
{
	uint64_t size;

	if (len == 0)
		return 0;
	return drfs_read_size(fs, ino, off, len, buf, &size);
}

ssize_t drfs_read_size(struct drfs_fs *fs, uint64_t ino, uint64_t off,
		       size_t len, char *buf, uint64_t *size)
{
	bool whole = false; /* once a first-format record asks for it */
	ssize_t ret;

	if (len == 0)
		return -EINVAL;
	ret = read_cached(fs, ino, off, len, buf, size, &whole);
	if (ret != -EAGAIN)
		return ret;
	for (int i = 0; i < 5; i++) {
		bool again = false;

		ret = read_once(fs, ino, off, len, buf, &again, &whole, size);

		if (!again)
			return ret;
		drfs_stat_add(fs, DRFS_ST_RADOS_RETRY, 1);
	}
	drfs_err("inode %" PRIx64 ": stripe objects keep appearing and "
		 "vanishing under a read at %" PRIu64 ": returning EIO",
		 ino, off);
	return -EIO;
}

/* ---- write ---- */

/*
 * Build the write for stripe @s from the request bytes @src (which start
 * at object offset s->o0) merged with the old edge blocks read into s->buf
 * (starting at block s->b0), and add data + block records to @op.
 */
static int sio_merge(struct drfs_fs *fs, struct sio *s, const char *src,
		     bool head_partial, bool tail_partial, rados_write_op_t op)
{
	uint32_t wstart = s->b0 * DRFS_BLOCK;
	uint32_t wend = s->o1;
	char keybuf[DRFS_BLOCKS_PER_STRIPE][16],
		recbuf[DRFS_BLOCKS_PER_STRIPE][DRFS_BLOCK_LEN];
	const char *keys[DRFS_BLOCKS_PER_STRIPE], *vals[DRFS_BLOCKS_PER_STRIPE];
	size_t kl[DRFS_BLOCKS_PER_STRIPE], vl[DRFS_BLOCKS_PER_STRIPE];
	unsigned n = 0;
	int ret;

	if (head_partial && s->exists) {
		ret = sio_verify_block(fs, s, s->b0, s->b0);
		if (ret < 0)
			return ret;
	}
	if (tail_partial && s->exists && (s->b1 != s->b0 || !head_partial)) {
		ret = sio_verify_block(fs, s, s->b0, s->b1);
		if (ret < 0)
			return ret;
	}
	if (tail_partial && s->exists && s->have[s->b1]) {
		uint32_t old_end = s->b1 * DRFS_BLOCK + s->rec[s->b1].len;

		if (old_end > wend)
			wend = old_end;
	}
	s->wbuf = calloc(1, wend - wstart);
	if (!s->wbuf)
		return -ENOMEM;
	if (head_partial && s->exists)
		memcpy(s->wbuf, s->buf,
		       DRFS_BLOCK < wend - wstart ? DRFS_BLOCK : wend - wstart);
	if (tail_partial && s->exists && (s->b1 != s->b0 || !head_partial)) {
		uint32_t t0 = s->b1 * DRFS_BLOCK;

		memcpy(s->wbuf + (t0 - wstart),
		       s->buf + (size_t)(s->b1 - s->b0) * DRFS_BLOCK,
		       wend - t0);
	}
	memcpy(s->wbuf + (s->o0 - wstart), src, s->o1 - s->o0);
	for (uint32_t b = s->b0; b <= s->b1; b++) {
		uint32_t bs = b * DRFS_BLOCK;
		uint32_t be = bs + DRFS_BLOCK < wend ? bs + DRFS_BLOCK : wend;
		struct drfs_block rec;

		drfs_block_make(&rec, s->wbuf + (bs - wstart), be - bs);
		drfs_block_key(keybuf[n], b);
		drfs_block_encode(&rec, recbuf[n]);
		keys[n] = keybuf[n];
		kl[n] = strlen(keybuf[n]);
		vals[n] = recbuf[n];
		vl[n] = DRFS_BLOCK_LEN;
		n++;
	}
	drfs_op_write(op, s->wbuf, wend - wstart, wstart);
	drfs_op_setn(op, keys, vals, kl, vl, n);
	return 0;
}

/* Write one stripe >= 1 (or all of stripe 0 when @attr is set). */
struct wattr {
	uint64_t ino;
	uint64_t end;
	int64_t mtime_ns;
	char *a_out; /* stage A: the inode's "a" record as the op left it */
	uint64_t *old_size; /* stage A: the size before */
};

static int write_stripe(struct drfs_fs *fs, struct sio *s, const char *src,
			const struct wattr *wa)
{
	bool head = s->o0 % DRFS_BLOCK != 0;
	bool tail = s->o1 % DRFS_BLOCK != 0;
	bool is0 = s->stripe == 0;

	for (;;) {
		char raw_a[DRFS_ATTR_LEN], abuf[DRFS_ATTR_LEN];
		const char *a_now = raw_a;
		struct drfs_attr a;
		bool have_t;
		int ret;

		if (head || tail || is0) {
			uint32_t rb0 = head ? s->b0 : s->b1;
			uint32_t rb1 = tail ? s->b1 : s->b0;

			ret = sio_read_submit(fs, s, rb0, rb1, head || tail,
					      is0);
			if (ret == 0)
				ret = sio_read_wait(s);
			/* the buffer must start at b0 for sio_merge */
			if (ret == 0 && rb0 != s->b0 && (head || tail)) {
				char *nb =
					calloc(1, (size_t)(s->b1 - s->b0 + 1) *
							  DRFS_BLOCK);

				if (!nb) {
					ret = -ENOMEM;
				} else {
					/* (s->rd0 still says where the
					 * bytes read start) */
					memcpy(nb + (size_t)(rb0 - s->b0) *
							       DRFS_BLOCK,
					       s->buf, s->got);
					free(s->buf);
					s->buf = nb;
				}
			}
			if (ret == -ENOENT && !is0 && s->marked) {
				ret = drfs_stripe_check(fs, wa->ino, s->stripe,
							false);
				if (ret == 1) { /* made meanwhile: read again */
					sio_reset(s);
					continue;
				}
				if (ret == -EIO)
					log_lost(fs, s, wa->ino);
				if (ret < 0)
					goto fail;
				s->marked = false; /* truncated: a hole */
				ret = -ENOENT;
			}
			if (ret == -ENOENT && !is0) {
				s->exists = false;
				ret = 0;
			}
			if (ret < 0)
				goto fail;
		}
		s->wop = drfs_wop_new();
		if (is0) {
			ret = attrs_from(s, wa->ino, &a, raw_a, &have_t);
			if (ret < 0)
				goto fail;
			if (!S_ISREG(a.mode)) {
				ret = -EISDIR;
				goto fail;
			}
			if (a.flags & DRFS_IF_IMMUTABLE) {
				ret = -EPERM;
				goto fail;
			}
			drfs_op_assert_version(s->wop, s->ver);
			if (wa->old_size)
				*wa->old_size = a.size;
			if (wa->end > a.size) {
				drfs_op_drop_records(s->wop, a.size, wa->end);
				a.size = wa->end;
				drfs_attr_encode(&a, abuf);
				drfs_op_setxattr(s->wop, "a", abuf,
						 sizeof(abuf));
				a_now = abuf;
			}
			{
				char tbuf[DRFS_TIMES_LEN];

				drfs_times_encode(wa->mtime_ns, wa->mtime_ns,
						  tbuf);
				drfs_op_setxattr(s->wop, "t", tbuf,
						 sizeof(tbuf));
			}
		} else if (s->exists) {
			/* a recorded stripe must not be made anew from zeros */
			if (s->marked)
				drfs_op_assert_exists(s->wop);
			if (head || tail)
				drfs_op_assert_version(s->wop, s->ver);
		} else {
			drfs_op_create(s->wop, true);
		}
		if (src) {
			ret = sio_merge(fs, s, src, head, tail, s->wop);
			if (ret < 0)
				goto fail;
		}
		ret = drfs_wop(fs, s->oid, s->wop, 0);
		if (ret == 0 && is0 && wa->a_out)
			memcpy(wa->a_out, a_now, DRFS_ATTR_LEN);
		if (ret == -ENOENT && !is0 && s->marked) {
			/* a recorded stripe object vanished since we read it
			 * (or, for a blind write, was not there) */
			ret = drfs_stripe_check(fs, wa->ino, s->stripe, false);
			if (ret == -EIO)
				log_lost(fs, s, wa->ino);
			if (ret < 0)
				goto fail;
			if (ret == 0)
				s->marked = false; /* truncated: a hole */
			ret = -ENOENT;
		}
		if (ret == -ERANGE || ret == -EOVERFLOW || ret == -EEXIST ||
		    (ret == -ENOENT && !is0)) {
			drfs_stat_add(fs, DRFS_ST_RADOS_RETRY, 1);
			if (head || tail || is0) {
				sio_reset(s); /* read again */
			} else {
				sio_release(s); /* blind: write again */
			}
			continue;
		}
fail:
		sio_release(s);
		return ret;
	}
}

/*
 * Stage C of a write: record stripes [first, first + n) whose @marks are
 * false as written, now that their objects are.  Guarded by the inode's
 * attributes as stage A left them (@raw_a0): a truncate meanwhile changed
 * them, and only stripes below the size (read again) are recorded, so no
 * record outlives its object.
 */
static int record_stripes(struct drfs_fs *fs, uint64_t ino, uint64_t first,
			  uint64_t n, const bool *marks, const char *raw_a0)
{
	char oid[DRFS_OID_MAX], raw_a[DRFS_ATTR_LEN];
	int ret;

	drfs_oid(oid, ino, 0);
	memcpy(raw_a, raw_a0, sizeof(raw_a));
	for (;;) {
		rados_write_op_t op;
		struct drfs_attr a;
		unsigned k = 0;

		if (drfs_attr_decode(raw_a, sizeof(raw_a), &a) < 0)
			return -EIO;
		op = drfs_wop_new();
		drfs_op_cmpxattr(op, "a", raw_a, sizeof(raw_a));
		for (uint64_t i = 0; i < n; i++) {
			char key[DRFS_STRIPE_KEY_MAX], val[DRFS_STRIPE_REC_LEN];
			uint64_t st = first + i;

			if (marks[i] || st * DRFS_STRIPE >= a.size)
				continue;
			drfs_stripe_key(key, st);
			drfs_stripe_rec_encode(st, val);
			drfs_op_set(op, key, val, sizeof(val));
			k++;
		}
		ret = k ? drfs_wop(fs, oid, op, 0) : 0;
		drfs_wop_free(op);
		if (ret != -ECANCELED)
			break;
		drfs_stat_add(fs, DRFS_ST_RADOS_RETRY, 1);
		ret = drfs_obj_getxattr(fs, oid, "a", raw_a, sizeof(raw_a));
		if (ret < 0)
			break;
		if (ret != DRFS_ATTR_LEN) {
			ret = -EIO;
			break;
		}
	}
	return ret == -ENOENT ? 0 : drfs_ret(fs, ret);
}

static int write_pieces(struct drfs_fs *fs, uint64_t ino, uint64_t stripe,
			const struct drfs_wext *x, bool *marked);

static int write_do(struct drfs_fs *fs, uint64_t ino, uint64_t off,
		    const char *buf, size_t len, int64_t mtime_ns)
{
	char raw_a[DRFS_ATTR_LEN];
	uint64_t s0, s1, first, n, old_size = 0;
	struct wattr wa = {ino, off + len, mtime_ns, raw_a, &old_size};
	bool *marks = NULL;
	int ret = 0;

	if (len == 0)
		return 0;
	if (off + len < off || off + len > (1ull << 60))
		return -EFBIG;
	s0 = drfs_stripe_of(off);
	s1 = drfs_stripe_of(off + len - 1);
	first = s0 > 0 ? s0 : 1; /* stripes >= 1 written: first..s1 */
	n = s1 >= first ? s1 - first + 1 : 0;
	if (n) {
		marks = calloc(n, sizeof(*marks));
		if (!marks)
			return -ENOMEM;
	}

	/* Stage A: the inode object.  Holds stripe 0 data if touched, and
	 * raises the size before any other stripe is written; reads the
	 * records of the stripes about to be written. */
	{
		struct sio s;

		if (s0 == 0) {
			uint32_t o1 = off + len < DRFS_STRIPE
					      ? (uint32_t)(off + len)
					      : DRFS_STRIPE;

			sio_init(&s, ino, 0, (uint32_t)off, o1);
		} else {
			sio_init(&s, ino, 0, 0, 1);
			s.o0 = s.o1 = 0;
			s.b0 = s.b1 = 0;
		}
		s.mk0 = first;
		s.mkn = n;
		s.marks = marks;
		ret = write_stripe(fs, &s, s0 == 0 ? buf : NULL, &wa);
		if (ret < 0)
			goto done;
		wa.a_out = NULL;
		wa.old_size = NULL;
		/* records beyond the old size were dropped with it */
		for (uint64_t i = 0; i < n; i++)
			if ((first + i) * DRFS_STRIPE >= old_size &&
			    off + len > old_size)
				marks[i] = false;
	}
	if (s1 == 0)
		goto done;

	/* Stage B: stripes >= 1, each an independent guarded op, in
	 * parallel threads of librados via aio where no read is needed. */
	{
		struct sio *io = calloc(n, sizeof(*io));

		if (!io) {
			ret = -ENOMEM;
			goto done;
		}
		/* Full-stripe-aligned pieces need no read: submit them all
		 * first, then do the partial ones synchronously. */
		for (uint64_t i = 0; i < n; i++) {
			uint64_t st = first + i, a0 = st * DRFS_STRIPE;
			uint64_t r0 = off > a0 ? off : a0;
			uint64_t r1 = off + len < a0 + DRFS_STRIPE
					      ? off + len
					      : a0 + DRFS_STRIPE;
			struct sio *s = &io[i];

			sio_init(s, ino, st, (uint32_t)(r0 - a0),
				 (uint32_t)(r1 - a0));
			s->marked = marks[i];
			if (s->o0 % DRFS_BLOCK || s->o1 % DRFS_BLOCK)
				continue;
			s->exists = true; /* blind full-block write */
			s->wop = drfs_wop_new();
			if (s->marked) /* never made anew around lost data */
				drfs_op_assert_exists(s->wop);
			ret = sio_merge(fs, s, buf + (r0 - off), false, false,
					s->wop);
			if (ret == 0)
				ret = drfs_aio_write(fs, s->oid, s->wop, 0,
						     NULL, NULL, &s->c);
			if (ret < 0)
				break;
		}
		for (uint64_t i = 0; i < n; i++) {
			struct sio *s = &io[i];
			uint64_t a0 = s->stripe * DRFS_STRIPE;

			if (s->c) {
				int r;

				r = drfs_aio_wait(s->c, NULL);
				if (r == -ENOENT && s->marked && ret == 0) {
					/* recorded but absent: lost, or
					 * truncated meanwhile; sort it out */
					sio_release(s);
					r = write_stripe(
						fs, s, buf + (a0 + s->o0 - off),
						&wa);
				}
				if (r < 0 && ret == 0)
					ret = r;
			} else if (ret == 0 && s->oid[0]) {
				/* partial blocks: by 4 KiB piece */
				struct drfs_wext x = {off, len, buf};

				ret = write_pieces(fs, ino, s->stripe, &x,
						   &s->marked);
			}
			marks[i] = s->marked;
			sio_release(s);
		}
		free(io);
	}
	/* Stage C: record the stripes written for the first time. */
	if (ret == 0)
		ret = record_stripes(fs, ino, first, n, marks, raw_a);
done:
	free(marks);
	if (ret == 0)
		drfs_stat_add(fs, DRFS_ST_BYTES_WRITTEN, len);
	return ret;
}

int drfs_write(struct drfs_fs *fs, uint64_t ino, uint64_t off, const char *buf,
	       size_t len, int64_t mtime_ns)
{
	drfs_inval_begin(fs);
	return drfs_inval_finish(fs,
				 write_do(fs, ino, off, buf, len, mtime_ns));
}

/* ---- scattered write (drfs_write_ext) ---- */

/*
 * One stripe's part of a scattered write: the blocks the extents touch,
 * each with its own 64 KiB slot.  A block the extents cover whole is
 * written blind.  For a partial one the record is read, with the old
 * bytes of the 4 KiB pieces that keep some (drfs_block_plan; a first
 * guess, then what the record says), verified; only the pieces that
 * change are written, with the record, and the op is guarded by the
 * object version that read saw, as a partial block of drfs_write is.  A
 * 4 KiB write at a 4 KiB boundary so reads 144 bytes and writes 4 KiB.
 */
struct xst {
	uint64_t stripe;
	char oid[DRFS_OID_MAX];
	const struct drfs_wext *x; /* the extents reaching into it */
	unsigned nx;
	bool marked; /* stripe >= 1: the inode records it */
	unsigned nb; /* dirty blocks */
	uint32_t blk[DRFS_BLOCKS_PER_STRIPE]; /* their numbers, ascending */
	uint32_t cov[DRFS_BLOCKS_PER_STRIPE]; /* bytes covered, by slot */
	uint32_t pcov[DRFS_BLOCKS_PER_STRIPE][DRFS_PIECES]; /* ... by piece */
	uint32_t dend[DRFS_BLOCKS_PER_STRIPE]; /* end of dirty bytes, by slot */
	uint16_t rmask[DRFS_BLOCKS_PER_STRIPE]; /* pieces to read, by slot */
	uint32_t rd0[DRFS_BLOCKS_PER_STRIPE], rd1[DRFS_BLOCKS_PER_STRIPE];
	bool partial; /* some block needs its old bytes */
	char *buf; /* nb slots of DRFS_BLOCK */
	/* the read */
	rados_read_op_t rop;
	struct drfs_aio *c;
	rados_omap_iter_t keys_it;
	rados_xattrs_iter_t xattrs_it;
	int prval_keys, prval_x;
	size_t got[DRFS_BLOCKS_PER_STRIPE];
	int prval[DRFS_BLOCKS_PER_STRIPE];
	/* the plan, by slot (drfs_block_plan) */
	struct drfs_block orec[DRFS_BLOCKS_PER_STRIPE];
	bool ohave[DRFS_BLOCKS_PER_STRIPE]; /* orec is a record read */
	uint32_t newlen[DRFS_BLOCKS_PER_STRIPE];
	uint16_t wmask[DRFS_BLOCKS_PER_STRIPE];
	uint64_t ver, osize;
	bool exists;
	/* the write */
	rados_write_op_t wop;
};

static void xst_release(struct xst *s)
{
	drfs_aio_release(s->c);
	drfs_omap_end(s->keys_it);
	drfs_xattrs_end(s->xattrs_it);
	drfs_rd_free(s->rop);
	drfs_wop_free(s->wop);
	s->c = NULL;
	s->keys_it = NULL;
	s->xattrs_it = NULL;
	s->rop = NULL;
	s->wop = NULL;
}

/* Which blocks of the stripe the extents dirty, and how much of each. */
static int xst_init(struct xst *s, uint64_t ino, uint64_t stripe,
		    const struct drfs_wext *x, unsigned nx)
{
	uint64_t a0 = stripe * DRFS_STRIPE, a1 = a0 + DRFS_STRIPE;
	int slot[DRFS_BLOCKS_PER_STRIPE];

	memset(s, 0, sizeof(*s));
	s->stripe = stripe;
	s->x = x;
	s->nx = nx;
	drfs_oid(s->oid, ino, stripe);
	for (unsigned b = 0; b < DRFS_BLOCKS_PER_STRIPE; b++)
		slot[b] = -1;
	/* two passes: the slots in block order, then the coverage */
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < nx; i++) {
			uint64_t r0 = x[i].off > a0 ? x[i].off : a0;
			uint64_t e = x[i].off + x[i].len;
			uint64_t r1 = e < a1 ? e : a1;

			for (uint64_t p = r0; p < r1;) {
				uint32_t b = (uint32_t)((p - a0) / DRFS_BLOCK);
				uint64_t be =
					a0 + (uint64_t)(b + 1) * DRFS_BLOCK;
				uint64_t q = r1 < be ? r1 : be;

				if (pass == 0) {
					slot[b] = 0;
				} else {
					int k = slot[b];
					uint64_t bs = be - DRFS_BLOCK;

					for (uint64_t u = p; u < q;) {
						uint32_t pi =
							(uint32_t)((u - bs) /
								   DRFS_PIECE);
						uint64_t pe =
							bs +
							(uint64_t)(pi + 1) *
								DRFS_PIECE;
						uint64_t v = q < pe ? q : pe;

						s->pcov[k][pi] +=
							(uint32_t)(v - u);
						u = v;
					}
					s->cov[k] += (uint32_t)(q - p);
					if (q - (be - DRFS_BLOCK) > s->dend[k])
						s->dend[k] =
							(uint32_t)(q -
								   (be -
								    DRFS_BLOCK));
				}
				p = q;
			}
		}
		if (pass == 0)
			for (unsigned b = 0; b < DRFS_BLOCKS_PER_STRIPE; b++)
				if (slot[b] == 0) {
					slot[b] = (int)s->nb;
					s->blk[s->nb++] = b;
				}
	}
	for (unsigned k = 0; k < s->nb; k++) {
		if (s->cov[k] < DRFS_BLOCK)
			s->partial = true;
		/* first guess: the pieces written in part */
		for (unsigned i = 0; i < DRFS_PIECES; i++)
			if (s->pcov[k][i] && s->pcov[k][i] < DRFS_PIECE)
				s->rmask[k] |= (uint16_t)(1u << i);
	}
	s->buf = calloc(s->nb ? s->nb : 1, DRFS_BLOCK);
	return s->buf ? 0 : -ENOMEM;
}

/* Queue the read of the partial blocks and their records (and, for the
 * inode object, its attributes); no read is needed for a stripe >= 1
 * written whole blocks only. */
static int xst_read_submit(struct drfs_fs *fs, struct xst *s)
{
	char keybuf[DRFS_BLOCKS_PER_STRIPE][16];
	const char *keys[DRFS_BLOCKS_PER_STRIPE];
	size_t klens[DRFS_BLOCKS_PER_STRIPE];
	unsigned n = 0;

	if (!s->partial && s->stripe > 0)
		return 0;
	s->rop = drfs_rd_new();
	if (s->stripe == 0)
		drfs_rd_xattrs(s->rop, &s->xattrs_it, &s->prval_x);
	else
		drfs_rd_stat(s->rop, &s->osize, &s->prval_x); /* version */
	for (unsigned k = 0; k < s->nb; k++) {
		char *slot = s->buf + (size_t)k * DRFS_BLOCK;

		if (s->cov[k] == DRFS_BLOCK)
			continue;
		s->rd0[k] = s->rd1[k] = 0;
		s->got[k] = 0;
		if (s->rmask[k]) { /* one extent: first to last piece */
			unsigned lo = (unsigned)__builtin_ctz(s->rmask[k]);
			unsigned hi =
				32u - (unsigned)__builtin_clz(s->rmask[k]);

			s->rd0[k] = lo * DRFS_PIECE;
			s->rd1[k] = hi * DRFS_PIECE;
			memset(slot + s->rd0[k], 0, s->rd1[k] - s->rd0[k]);
			drfs_rd_read(s->rop,
				     (uint64_t)s->blk[k] * DRFS_BLOCK +
					     s->rd0[k],
				     s->rd1[k] - s->rd0[k], slot + s->rd0[k],
				     &s->got[k], &s->prval[k]);
		}
		drfs_block_key(keybuf[n], s->blk[k]);
		keys[n] = keybuf[n];
		klens[n] = strlen(keybuf[n]);
		n++;
	}
	if (n)
		drfs_rd_omap_keys(s->rop, keys, n, klens, &s->keys_it,
				  &s->prval_keys);
	return drfs_aio_read(fs, s->oid, s->rop, &s->c);
}

/* The slot of block @b, or -1. */
static int xst_slot(const struct xst *s, uint32_t b)
{
	for (unsigned k = 0; k < s->nb; k++)
		if (s->blk[k] == b)
			return (int)k;
	return -1;
}

/*
 * Plan each slot's write from the records read (drfs_block_plan), verify
 * the old pieces it keeps and zero the slot beyond the old length.  0, 1
 * (the record wants old bytes not read yet: read again, more), or -EIO.
 */
static int xst_plan(struct drfs_fs *fs, struct xst *s)
{
	bool more = false;

	for (unsigned k = 0; k < s->nb; k++) {
		char *slot = s->buf + (size_t)k * DRFS_BLOCK;
		const struct drfs_block *old = s->ohave[k] ? &s->orec[k] : NULL;
		uint32_t oldlen = old ? old->len : 0;
		uint32_t h0 = s->rd0[k], h1 = s->rd0[k] + (uint32_t)s->got[k];
		uint16_t need;
		int ret = 0;

		if (s->cov[k] == DRFS_BLOCK) {
			s->newlen[k] = DRFS_BLOCK;
			s->wmask[k] = 0xffff;
			continue;
		}
		drfs_block_plan(old, s->pcov[k], s->dend[k], &s->newlen[k],
				&s->wmask[k], &need);
		if (need & ~s->rmask[k]) {
			s->rmask[k] |= need;
			more = true;
			continue;
		}
		if (need && old->v1)
			ret = drfs_block_check(old, slot, h0, h1, 0, oldlen);
		for (unsigned i = 0;
		     need && !old->v1 && i < DRFS_PIECES && ret == 0; i++)
			if (need & (1u << i))
				ret = drfs_block_check(old, slot, h0, h1,
						       i * DRFS_PIECE,
						       i * DRFS_PIECE + 1);
		if (ret < 0) {
			log_mismatch(fs, s->oid, s->blk[k], oldlen);
			return -EIO;
		}
		memset(slot + oldlen, 0, DRFS_BLOCK - oldlen);
	}
	return more ? 1 : 0;
}

/*
 * Wait for the read, take the records, plan and verify (xst_plan).  0, 1
 * (read again), or -errno.
 */
static int xst_read_finish(struct drfs_fs *fs, struct xst *s, uint64_t ino)
{
	char *k, *v;
	size_t kl, vl;
	int ret;

	s->exists = true; /* blind: we did not look */
	memset(s->ohave, 0, sizeof(s->ohave));
	if (!s->c)
		return xst_plan(fs, s);
	ret = drfs_aio_wait(s->c, &s->ver);
	if (ret == -ENOENT && s->stripe > 0) {
		if (s->marked) {
			ret = drfs_stripe_check(fs, ino, s->stripe, false);
			if (ret == 1)
				return 1; /* made meanwhile */
			if (ret == -EIO) {
				drfs_stat_add(fs, DRFS_ST_CSUM_ERR, 1);
				drfs_err("stripe object %s is missing, but "
					 "inode "
					 "%" PRIx64 " records data in it: "
					 "returning EIO",
					 s->oid, ino);
			}
			if (ret < 0)
				return ret;
			s->marked = false; /* truncated: a hole */
		}
		s->exists = false;
		for (unsigned i = 0; i < s->nb; i++)
			memset(s->buf + (size_t)i * DRFS_BLOCK, 0, DRFS_BLOCK);
		return xst_plan(fs, s);
	}
	if (ret < 0)
		return ret;
	if (s->stripe == 0) {
		struct drfs_attr a;
		bool have_t;
		struct sio tmp;

		memset(&tmp, 0, sizeof(tmp));
		tmp.xattrs_it = s->xattrs_it;
		ret = attrs_from(&tmp, ino, &a, NULL, &have_t);
		if (ret < 0)
			return ret;
		if (!S_ISREG(a.mode))
			return -EISDIR;
		if (a.flags & DRFS_IF_IMMUTABLE)
			return -EPERM;
	}
	while (s->keys_it &&
	       drfs_omap_next(s->keys_it, &k, &v, &kl, &vl) == 0 && k) {
		unsigned long b;
		int slot;

		if (kl != 10 || strncmp(k, "b.", 2))
			continue;
		b = strtoul(k + 2, NULL, 16);
		slot = b < DRFS_BLOCKS_PER_STRIPE ? xst_slot(s, (uint32_t)b)
						  : -1;
		if (slot < 0 || drfs_block_decode(v, vl, &s->orec[slot]) < 0)
			return -EIO;
		s->ohave[slot] = true;
	}
	return xst_plan(fs, s);
}

/* Merge the extents into the slots and build the guarded write. */
static void xst_build(struct xst *s)
{
	uint64_t a0 = s->stripe * DRFS_STRIPE, a1 = a0 + DRFS_STRIPE;
	char keybuf[DRFS_BLOCKS_PER_STRIPE][16],
		recbuf[DRFS_BLOCKS_PER_STRIPE][DRFS_BLOCK_LEN];
	const char *keys[DRFS_BLOCKS_PER_STRIPE], *vals[DRFS_BLOCKS_PER_STRIPE];
	size_t kl[DRFS_BLOCKS_PER_STRIPE], vl[DRFS_BLOCKS_PER_STRIPE];

	for (unsigned i = 0; i < s->nx; i++) {
		uint64_t e = s->x[i].off + s->x[i].len;
		uint64_t r0 = s->x[i].off > a0 ? s->x[i].off : a0;
		uint64_t r1 = e < a1 ? e : a1;

		for (uint64_t p = r0; p < r1;) {
			uint32_t b = (uint32_t)((p - a0) / DRFS_BLOCK);
			uint64_t bs = a0 + (uint64_t)b * DRFS_BLOCK;
			uint64_t q =
				r1 < bs + DRFS_BLOCK ? r1 : bs + DRFS_BLOCK;
			int k = xst_slot(s, b);

			memcpy(s->buf + (size_t)k * DRFS_BLOCK + (p - bs),
			       s->x[i].buf + (p - s->x[i].off), q - p);
			p = q;
		}
	}
	s->wop = drfs_wop_new();
	if (s->stripe == 0 || (s->exists && s->partial)) {
		drfs_op_assert_version(s->wop, s->ver);
	} else if (!s->exists) {
		drfs_op_create(s->wop, true);
	}
	/* a recorded stripe must not be made anew around lost data */
	if (s->stripe > 0 && s->exists && s->marked)
		drfs_op_assert_exists(s->wop);
	for (unsigned i = 0; i < s->nb; i++) {
		const char *p = s->buf + (size_t)i * DRFS_BLOCK;
		uint64_t bo = (uint64_t)s->blk[i] * DRFS_BLOCK;
		uint32_t len = s->newlen[i];
		struct drfs_block rec;

		/* the pieces that change, in runs */
		for (unsigned j = 0; j < DRFS_PIECES;) {
			unsigned e = j;
			uint32_t w0 = j * DRFS_PIECE, w1;

			if (!(s->wmask[i] & (1u << j))) {
				j++;
				continue;
			}
			while (e < DRFS_PIECES && (s->wmask[i] & (1u << e)))
				e++;
			w1 = e * DRFS_PIECE < len ? e * DRFS_PIECE : len;
			drfs_op_write(s->wop, p + w0, w1 - w0, bo + w0);
			j = e;
		}
		if (s->ohave[i] && !s->orec[i].v1 && s->cov[i] < DRFS_BLOCK) {
			/* the old record, with the pieces written hashed */
			rec = s->orec[i];
			drfs_block_rehash(&rec, p, len, s->wmask[i]);
		} else { /* all of it is in the slot */
			drfs_block_make(&rec, p, len);
		}
		drfs_block_key(keybuf[i], s->blk[i]);
		drfs_block_encode(&rec, recbuf[i]);
		keys[i] = keybuf[i];
		kl[i] = strlen(keybuf[i]);
		vals[i] = recbuf[i];
		vl[i] = DRFS_BLOCK_LEN;
	}
	drfs_op_setn(s->wop, keys, vals, kl, vl, s->nb);
}

/* A write result worth a fresh read and another try. */
static bool xst_retry(int ret, const struct xst *s)
{
	return ret == -ERANGE || ret == -EOVERFLOW || ret == -EEXIST ||
	       (ret == -ENOENT && s->stripe > 0);
}

/* The whole stripe, synchronously, until it lands or fails for good. */
static int xst_write_sync(struct drfs_fs *fs, struct xst *s, uint64_t ino)
{
	for (;;) {
		int ret = xst_read_submit(fs, s);

		if (ret == 0)
			ret = xst_read_finish(fs, s, ino);
		if (ret == 1) {
			xst_release(s);
			continue;
		}
		if (ret == 0) {
			xst_build(s);
			ret = drfs_wop(fs, s->oid, s->wop, 0);
		}
		xst_release(s);
		if (ret == -ENOENT && s->stripe > 0 && s->marked) {
			/* a recorded stripe object vanished since we read
			 * it (or, blind, was not there): sort it out */
			ret = drfs_stripe_check(fs, ino, s->stripe, false);
			if (ret < 0)
				return ret;
			if (ret == 0)
				s->marked = false;
			ret = -ENOENT;
		}
		if (!xst_retry(ret, s))
			return ret;
		drfs_stat_add(fs, DRFS_ST_RADOS_RETRY, 1);
	}
}

/* Stripe @stripe >= 1's part of extent @x, alone (drfs_write's partial
 * stripes); *marked as for write_stripe. */
static int write_pieces(struct drfs_fs *fs, uint64_t ino, uint64_t stripe,
			const struct drfs_wext *x, bool *marked)
{
	struct xst s;
	int ret = xst_init(&s, ino, stripe, x, 1);

	if (ret == 0) {
		s.marked = *marked;
		ret = xst_write_sync(fs, &s, ino);
		*marked = s.marked;
	}
	xst_release(&s);
	free(s.buf);
	return ret;
}

#define XST_INFLIGHT 8 /* stripes in flight at once (4 MiB of slots each) */

static int write_ext_do(struct drfs_fs *fs, uint64_t ino,
			const struct drfs_wext *x, unsigned nx,
			int64_t mtime_ns)
{
	char raw_a[DRFS_ATTR_LEN];
	uint64_t end = 0, lo, hi, first, n, old_size = 0, total = 0;
	struct wattr wa = {ino, 0, mtime_ns, raw_a, &old_size};
	struct xst *io = NULL;
	bool *marks = NULL, *touched = NULL;
	uint64_t st_next = 0;
	unsigned ix = 0;
	int ret;

	if (nx == 0)
		return 0;
	for (unsigned i = 0; i < nx; i++) {
		uint64_t e = x[i].off + x[i].len;

		if (e < x[i].off || e > (1ull << 60) ||
		    (i > 0 && x[i].off < x[i - 1].off + x[i - 1].len))
			return -EINVAL;
		if (e > end)
			end = e;
		total += x[i].len;
	}
	wa.end = end;
	lo = drfs_stripe_of(x[0].off);
	hi = drfs_stripe_of(end - 1);
	first = lo > 0 ? lo : 1;
	n = hi >= first ? hi - first + 1 : 0;
	if (n && (!(marks = calloc(n, sizeof(*marks))) ||
		  !(touched = calloc(n, sizeof(*touched))))) {
		free(marks);
		return -ENOMEM;
	}

	/* Stage A: raise the size and set the times (no data), reading
	 * the records of the stripes about to be written. */
	{
		struct sio s;

		sio_init(&s, ino, 0, 0, 1);
		s.o0 = s.o1 = 0;
		s.b0 = s.b1 = 0;
		s.mk0 = first;
		s.mkn = n;
		s.marks = marks;
		ret = write_stripe(fs, &s, NULL, &wa);
		if (ret < 0)
			goto done;
		for (uint64_t i = 0; i < n; i++)
			if ((first + i) * DRFS_STRIPE >= old_size &&
			    end > old_size)
				marks[i] = false;
	}

	/* Stage B: each stripe touched, XST_INFLIGHT at a time: reads all
	 * sent, then writes all sent; a stripe that must be read again is
	 * finished on its own. */
	io = calloc(XST_INFLIGHT, sizeof(*io));
	if (!io) {
		ret = -ENOMEM;
		goto done;
	}
	while (ret == 0 && ix < nx) {
		unsigned k = 0;

		/* the next stripes touched, with the extents reaching into
		 * each: [ix, j) (x[ix] ends inside or beyond this stripe) */
		while (k < XST_INFLIGHT && ix < nx) {
			uint64_t st = drfs_stripe_of(x[ix].off);
			uint64_t a1;
			unsigned j = ix;

			if (st < st_next)
				st = st_next; /* x[ix] goes on from before */
			a1 = (st + 1) * DRFS_STRIPE;
			while (j < nx && x[j].off < a1)
				j++;
			ret = xst_init(&io[k], ino, st, x + ix, j - ix);
			if (ret < 0)
				break;
			if (st >= first && st - first < n) {
				io[k].marked = marks[st - first];
				touched[st - first] = true;
			}
			k++;
			st_next = st + 1;
			while (ix < nx && x[ix].off + x[ix].len <= a1)
				ix++;
		}
		for (unsigned i = 0; i < k && ret == 0; i++)
			ret = xst_read_submit(fs, &io[i]);
		for (unsigned i = 0; i < k; i++) {
			int r = ret < 0 ? ret
					: xst_read_finish(fs, &io[i], ino);

			if (r == 0) {
				xst_build(&io[i]);
				drfs_rd_free(io[i].rop);
				io[i].rop = NULL;
				drfs_aio_release(io[i].c);
				io[i].c = NULL;
				r = drfs_aio_write(fs, io[i].oid, io[i].wop, 0,
						   NULL, NULL, &io[i].c);
			}
			if (r == 1) { /* read it again, alone, below */
				xst_release(&io[i]);
				io[i].wop = NULL;
				continue;
			}
			if (r < 0 && ret == 0)
				ret = r;
		}
		for (unsigned i = 0; i < k; i++) {
			struct xst *s = &io[i];
			int r = 0;

			if (s->c && s->wop) {
				r = drfs_aio_wait(s->c, NULL);
				xst_release(s);
				if (ret == 0 &&
				    (xst_retry(r, s) || r == -ENOENT)) {
					r = xst_write_sync(fs, s, ino);
				}
			} else if (ret == 0 && !s->wop && !s->c) {
				r = xst_write_sync(fs, s, ino);
			}
			xst_release(s);
			if (r < 0 && ret == 0)
				ret = r;
			if (s->stripe >= first && s->stripe - first < n)
				marks[s->stripe - first] = s->marked;
			free(s->buf);
			memset(s, 0, sizeof(*s));
		}
	}
	free(io);
	/* Stage C: record the stripes written for the first time (not
	 * those between the extents: "written" marks them as skipped). */
	for (uint64_t i = 0; i < n; i++)
		if (!touched[i])
			marks[i] = true;
	if (ret == 0)
		ret = record_stripes(fs, ino, first, n, marks, raw_a);
done:
	free(marks);
	free(touched);
	if (ret == 0)
		drfs_stat_add(fs, DRFS_ST_BYTES_WRITTEN, total);
	return ret;
}

int drfs_write_ext(struct drfs_fs *fs, uint64_t ino, const struct drfs_wext *x,
		   unsigned nx, int64_t mtime_ns)
{
	drfs_inval_begin(fs);
	return drfs_inval_finish(fs, write_ext_do(fs, ino, x, nx, mtime_ns));
}

/* ---- truncate ---- */

/* Remove the records of stripes >= @from from the inode object. */
static int drop_records(struct drfs_fs *fs, uint64_t ino, uint64_t from)
{
	char oid[DRFS_OID_MAX], key[DRFS_STRIPE_KEY_MAX];
	rados_write_op_t op = drfs_wop_new();
	int ret;

	drfs_oid(oid, ino, 0);
	drfs_stripe_key(key, from);
	drfs_op_assert_exists(op);
	drfs_op_rm_range(op, key, DRFS_STRIPE_KEY_END);
	ret = drfs_wop(fs, oid, op, LIBRADOS_OPERATION_FULL_FORCE);
	drfs_wop_free(op);
	return ret == -ENOENT ? 0 : ret; /* stripes of a freed inode */
}

/* The attributes @na (new size and times) into the inode object's @op,
 * with the stripe records beyond the new size dropped. */
static void op_new_attrs(rados_write_op_t op, const struct drfs_attr *na,
			 uint64_t old_size)
{
	char abuf[DRFS_ATTR_LEN], tbuf[DRFS_TIMES_LEN];

	drfs_attr_encode(na, abuf);
	drfs_op_setxattr(op, "a", abuf, sizeof(abuf));
	drfs_times_encode(na->mtime_ns, na->ctime_ns, tbuf);
	drfs_op_setxattr(op, "t", tbuf, sizeof(tbuf));
	drfs_op_drop_records(op, old_size, na->size);
}

/*
 * Cut @ino from @old_size to @size.  With @na (drfs_trim_at): the new
 * size goes in the same op as the first cut, guarded by the inode
 * object's version @want_ver, so nobody ever sees the old size over cut
 * data: a filedir seal on another node, which checks the size it hashed,
 * sealed such a file with its bytes gone (Moodle's fixed tmp name per
 * hash, truncated by one node while the other renamed it).  Stripe
 * objects beyond the size are removed after that.
 */
static int trim_do(struct drfs_fs *fs, uint64_t ino, uint64_t old_size,
		   uint64_t size, uint64_t want_ver, const struct drfs_attr *na)
{
	uint64_t k = drfs_stripe_of(size), last = drfs_stripes_for(old_size);
	uint32_t off_in = drfs_stripe_off(size);
	int ret = 0;

	if (na && k > 0) {
		char oid[DRFS_OID_MAX];
		rados_write_op_t op = drfs_wop_new();

		drfs_oid(oid, ino, 0);
		drfs_op_assert_version(op, want_ver);
		op_new_attrs(op, na, old_size);
		ret = drfs_wop(fs, oid, op, LIBRADOS_OPERATION_FULL_FORCE);
		drfs_wop_free(op);
		if (ret == -ERANGE || ret == -EOVERFLOW) {
			drfs_stat_add(fs, DRFS_ST_RADOS_RETRY, 1);
			return -EAGAIN;
		}
		if (ret < 0)
			return ret;
	}

	/* The stripe that holds the new end: cut it at the new size. */
	if (k == 0 || off_in > 0) {
		for (;;) {
			struct sio s;
			uint32_t b = off_in / DRFS_BLOCK;
			uint32_t boff = off_in % DRFS_BLOCK;
			char first[16];

			sio_init(&s, ino, k, off_in, off_in + 1);
			ret = sio_read_submit(fs, &s, b, b, boff > 0, false);
			if (ret == 0)
				ret = sio_read_wait(&s);
			if (ret == -ENOENT && k > 0) {
				sio_release(&s);
				ret = 0;
				break;
			}
			if (ret < 0) {
				sio_release(&s);
				return ret;
			}
			if (k == 0 && want_ver && s.ver != want_ver) {
				/* the inode changed since the caller looked */
				sio_release(&s);
				return -EAGAIN;
			}
			s.wop = drfs_wop_new();
			drfs_op_assert_version(s.wop, s.ver);
			if (na && k == 0)
				op_new_attrs(s.wop, na, old_size);
			if (boff > 0 && s.have[b] && s.rec[b].len > boff) {
				struct drfs_block rec;
				char key[16], val[DRFS_BLOCK_LEN];

				ret = sio_verify_block(fs, &s, b, b);
				if (ret < 0) {
					sio_release(&s);
					return ret;
				}
				drfs_block_make(&rec, s.buf, boff);
				drfs_block_key(key, b);
				drfs_block_encode(&rec, val);
				drfs_op_set(s.wop, key, val, sizeof(val));
			}
			drfs_block_key(first, boff > 0 ? b + 1 : b);
			drfs_op_rm_range(s.wop, first, BLK_END);
			drfs_op_truncate(s.wop, off_in);
			ret = drfs_wop(fs, s.oid, s.wop,
				       LIBRADOS_OPERATION_FULL_FORCE);
			sio_release(&s);
			if ((ret == -ERANGE || ret == -EOVERFLOW) && k == 0 &&
			    want_ver) {
				drfs_stat_add(fs, DRFS_ST_RADOS_RETRY, 1);
				return -EAGAIN;
			}
			if (ret == -ERANGE || ret == -EOVERFLOW) {
				drfs_stat_add(fs, DRFS_ST_RADOS_RETRY, 1);
				continue;
			}
			if (ret < 0)
				return ret;
			break;
		}
		k++;
	}
	if (k == 0)
		k = 1;
	/* Whole stripes beyond: their records first (layout.h), so that no
	 * reader takes a stripe being removed for a lost one... */
	if (k < last && !na) {
		ret = drop_records(fs, ino, k);
		if (ret < 0)
			return ret;
	}
	/* ...then the objects, many in flight. */
	for (uint64_t base = k; base < last; base += 64) {
		struct drfs_aio *c[64];
		int sent[64];
		unsigned n = 0;

		for (uint64_t st = base; st < last && n < 64; st++, n++) {
			char oid[DRFS_OID_MAX];

			drfs_oid(oid, ino, st);
			sent[n] = drfs_aio_remove(fs, oid, &c[n]);
		}
		for (unsigned i = 0; i < n; i++) {
			int r = sent[i] < 0 ? sent[i]
					    : drfs_aio_wait(c[i], NULL);

			if (r < 0 && r != -ENOENT && ret == 0)
				ret = r;
			drfs_aio_release(c[i]);
		}
	}
	return ret;
}

int drfs_trim(struct drfs_fs *fs, uint64_t ino, uint64_t old_size,
	      uint64_t size)
{
	drfs_inval_begin(fs);
	return drfs_inval_finish(fs, trim_do(fs, ino, old_size, size, 0, NULL));
}

int drfs_trim_at(struct drfs_fs *fs, uint64_t ino, uint64_t old_size,
		 const struct drfs_attr *na, uint64_t ver)
{
	drfs_inval_begin(fs);
	return drfs_inval_finish(fs,
				 trim_do(fs, ino, old_size, na->size, ver, na));
}

/* ---- stripe buffers (drfs_sbuf_*, see fs.h) ---- */

/*
 * Streaming moves 4 MiB buffers at a high rate.  Fresh ones come from
 * mmap and fault in page by page (perf on a 1 MiB sequential read: half
 * of the daemon's time in page faults of new buffers); a few kept for
 * reuse stay mapped.  SBUF_KEEP bounds the idle memory (40 MiB).
 */
#define SBUF_KEEP 8
static pthread_mutex_t sbuf_lock = PTHREAD_MUTEX_INITIALIZER;
static char *sbuf_free[SBUF_KEEP]; /* protected by sbuf_lock */
static unsigned sbuf_nfree;

char *drfs_sbuf_get(void)
{
	char *b = NULL;

	pthread_mutex_lock(&sbuf_lock);
	if (sbuf_nfree)
		b = sbuf_free[--sbuf_nfree];
	pthread_mutex_unlock(&sbuf_lock);
	return b ? b : malloc(DRFS_SBUF_SIZE);
}

void drfs_sbuf_put(char *b, size_t cap)
{
	if (!b)
		return;
	pthread_mutex_lock(&sbuf_lock);
	if (sbuf_nfree < SBUF_KEEP && cap >= DRFS_SBUF_SIZE) {
		sbuf_free[sbuf_nfree++] = b;
		b = NULL;
	}
	pthread_mutex_unlock(&sbuf_lock);
	free(b);
}

/* ---- streaming write-back (drfs_ws_*, see fs.h) ---- */

/*
 * One whole stripe >= 1 in flight.  The completion callback only marks it
 * done and signals (fio's engines/rados.c pattern): everything else -
 * return value, release of the op, the completion and the buffer - is
 * done by ws_reap() in a caller's thread, exactly once.
 */
struct wsop {
	struct drfs_wstream *ws;
	uint64_t stripe;
	char *buf; /* DRFS_STRIPE bytes, owned (a drfs_sbuf) */
	size_t cap; /* of buf */
	rados_write_op_t wop;
	struct drfs_aio *c;
	bool done; /* protected by ws->lock */
	struct wsop *next; /* in ws->ops (ws->lock) or in ws->pend */
};

struct drfs_wstream {
	struct drfs_fs *fs;
	uint64_t ino;
	unsigned depth; /* at most this many stripes queued or in flight */
	pthread_mutex_t lock; /* protects ops, inflight, events, cdone */
	pthread_cond_t cond;
	struct wsop *ops;
	unsigned inflight; /* submitted and not completed */
	uint64_t events; /* completions so far (a waiter's wake-up) */
	bool cdone; /* the size raise in flight completed */
	/* The rest belongs to the stream's (serialised) caller. */
	struct wsop *pend, **pend_tail; /* FIFO: waiting for the size */
	unsigned npend;
	uint64_t want; /* the end of everything handed to us */
	int64_t mtime_ns; /* the newest the caller gave */
	struct drfs_aio *cc; /* the size raise in flight, or NULL */
	rados_write_op_t cwop;
	char cabuf[DRFS_ATTR_LEN]; /* its attributes */
	uint64_t csize; /* the size it sets */
	size_t crec; /* the first crec of unrec ride in it */
	bool unannounced; /* a raise landed that nobody was told of */
	uint64_t raised; /* the size is known to be at least this */
	bool have_a; /* raw_a/ver: the inode as our last op left it */
	char raw_a[DRFS_ATTR_LEN];
	uint64_t ver;
	uint64_t *unrec; /* stripes written, not yet recorded (stage C) */
	size_t nunrec, capunrec;
	int err; /* first error, until drfs_ws_take_err() */
};

static void ws_complete(void *arg)
{
	struct wsop *o = arg;
	struct drfs_wstream *ws = o->ws;

	pthread_mutex_lock(&ws->lock);
	o->done = true;
	ws->inflight--;
	ws->events++;
	pthread_cond_broadcast(&ws->cond);
	pthread_mutex_unlock(&ws->lock);
}

static void ws_ccomplete(void *arg)
{
	struct drfs_wstream *ws = arg;

	pthread_mutex_lock(&ws->lock);
	ws->cdone = true;
	ws->events++;
	pthread_cond_broadcast(&ws->cond);
	pthread_mutex_unlock(&ws->lock);
}

int drfs_ws_new(struct drfs_fs *fs, uint64_t ino, unsigned depth,
		struct drfs_wstream **out)
{
	struct drfs_wstream *ws = calloc(1, sizeof(*ws));

	if (!ws)
		return -ENOMEM;
	ws->fs = fs;
	ws->ino = ino;
	ws->depth = depth ? depth : 1;
	ws->pend_tail = &ws->pend;
	pthread_mutex_init(&ws->lock, NULL);
	pthread_cond_init(&ws->cond, NULL);
	*out = ws;
	return 0;
}

static void ws_note_err(struct drfs_wstream *ws, int ret)
{
	if (ret < 0 && !ws->err)
		ws->err = ret;
}

static void wsop_free(struct wsop *o)
{
	drfs_aio_release(o->c);
	drfs_wop_free(o->wop);
	drfs_sbuf_put(o->buf, o->cap);
	free(o);
}

/* Release completed ops (all of them with @wait); note results. */
static void ws_reap(struct drfs_wstream *ws, bool wait)
{
	struct wsop **pp, *o, *done = NULL;

	pthread_mutex_lock(&ws->lock);
	while (wait && ws->inflight)
		pthread_cond_wait(&ws->cond, &ws->lock);
	for (pp = &ws->ops; (o = *pp);) {
		if (o->done) {
			*pp = o->next;
			o->next = done;
			done = o;
		} else {
			pp = &o->next;
		}
	}
	pthread_mutex_unlock(&ws->lock);
	while ((o = done)) {
		int ret = drfs_aio_wait(o->c, NULL); /* (completed) */

		done = o->next;
		if (ret < 0) {
			drfs_log(ret == -ENOSPC ? LOG_WARNING : LOG_ERR,
				 "write-back of stripe %" PRIu64
				 " of inode %" PRIx64 " failed: %s",
				 o->stripe, ws->ino, strerror(-ret));
			ws_note_err(ws, ret);
		} else if (ws->nunrec < ws->capunrec) {
			ws->unrec[ws->nunrec++] = o->stripe;
		}
		wsop_free(o);
	}
}

/* Read the inode's attributes and version for the next guarded op. */
static int ws_load(struct drfs_wstream *ws)
{
	struct sio s;
	int ret;

	sio_init(&s, ws->ino, 0, 0, 1);
	ret = sio_read_submit(ws->fs, &s, 0, 0, false, true);
	if (ret == 0)
		ret = sio_read_wait(&s);
	if (ret == 0) {
		struct drfs_attr a;
		bool have_t;

		ret = attrs_from(&s, ws->ino, &a, ws->raw_a, &have_t);
		ws->ver = s.ver;
	}
	sio_release(&s);
	ws->have_a = ret == 0;
	return drfs_ret(ws->fs, ret);
}

/*
 * Stages A and C of the stream in one op on the inode object: raise the
 * size to @end (if below), set mtime = ctime = @mtime_ns and record the
 * stripes written since the last such op (ws->unrec).  Guarded by the
 * version our last op left (no read first); a change by anyone else fails
 * it with -ERANGE, and we read the inode and try again.  Built from what
 * we know of the inode (ws_load first when we know nothing); *@size is
 * the size it sets, @abuf its attributes.
 */
static int ws_commit_op(struct drfs_wstream *ws, uint64_t end, int64_t mtime_ns,
			char *abuf, uint64_t *size, rados_write_op_t *out)
{
	char tbuf[DRFS_TIMES_LEN];
	rados_write_op_t op;
	struct drfs_attr a;
	uint64_t old_size;
	int ret;

	if (!ws->have_a) {
		ret = ws_load(ws);
		if (ret < 0)
			return ret;
	}
	if (drfs_attr_decode(ws->raw_a, sizeof(ws->raw_a), &a) < 0)
		return -EIO;
	if (!S_ISREG(a.mode))
		return -EISDIR;
	if (a.flags & DRFS_IF_IMMUTABLE)
		return -EPERM;
	old_size = a.size;
	op = drfs_wop_new();
	drfs_op_assert_version(op, ws->ver);
	if (end > a.size) {
		drfs_op_drop_records(op, a.size, end);
		a.size = end;
	}
	drfs_attr_encode(&a, abuf);
	if (a.size != old_size)
		drfs_op_setxattr(op, "a", abuf, DRFS_ATTR_LEN);
	drfs_times_encode(mtime_ns, mtime_ns, tbuf);
	drfs_op_setxattr(op, "t", tbuf, sizeof(tbuf));
	/* records go after the drop above: they are below the size */
	for (size_t i = 0; i < ws->nunrec; i++) {
		char key[DRFS_STRIPE_KEY_MAX], val[DRFS_STRIPE_REC_LEN];
		uint64_t st = ws->unrec[i];

		if (st * DRFS_STRIPE >= a.size)
			continue; /* truncated meanwhile */
		drfs_stripe_key(key, st);
		drfs_stripe_rec_encode(st, val);
		drfs_op_set(op, key, val, sizeof(val));
	}
	*size = a.size;
	*out = op;
	return 0;
}

/* A commit built with the first @nrec unrecorded stripes landed at @ver. */
static void ws_landed(struct drfs_wstream *ws, const char *abuf, uint64_t size,
		      size_t nrec, uint64_t ver)
{
	ws->ver = ver;
	memcpy(ws->raw_a, abuf, sizeof(ws->raw_a));
	ws->nunrec -= nrec;
	memmove(ws->unrec, ws->unrec + nrec, ws->nunrec * sizeof(*ws->unrec));
	if (size > ws->raised)
		ws->raised = size;
}

/* A commit, waited for and announced (size, times, records: other nodes
 * drop their copy - this is after every byte it records landed). */
static int ws_commit(struct drfs_wstream *ws, uint64_t end, int64_t mtime_ns)
{
	char oid[DRFS_OID_MAX];
	int ret;

	drfs_oid(oid, ws->ino, 0);
	for (;;) {
		char abuf[DRFS_ATTR_LEN];
		rados_write_op_t op;
		size_t nrec = ws->nunrec;
		uint64_t size, ver;

		ret = ws_commit_op(ws, end, mtime_ns, abuf, &size, &op);
		if (ret < 0)
			return ret;
		ret = drfs_wop_ver(ws->fs, oid, op, 0, &ver);
		if (ver) /* landed (ret: of the announcement) */
			ws_landed(ws, abuf, size, nrec, ver);
		drfs_wop_free(op);
		if (ret == -ERANGE || ret == -EOVERFLOW) {
			drfs_stat_add(ws->fs, DRFS_ST_RADOS_RETRY, 1);
			ws->have_a = false;
			continue;
		}
		if (ret < 0)
			ws->have_a = false;
		else /* announced the inode, so every raise before too */
			ws->unannounced = false;
		return drfs_ret(ws->fs, ret);
	}
}

/* Start a size raise to ws->want, with aio (at most one in flight: the
 * next is guarded by the version this one leaves). */
static void ws_commit_start(struct drfs_wstream *ws)
{
	char oid[DRFS_OID_MAX];
	rados_write_op_t op;
	int ret;

	ret = ws_commit_op(ws, ws->want, ws->mtime_ns, ws->cabuf, &ws->csize,
			   &op);
	if (ret < 0) {
		ws_note_err(ws, drfs_ret(ws->fs, ret));
		return;
	}
	ws->crec = ws->nunrec;
	pthread_mutex_lock(&ws->lock);
	ws->cdone = false;
	pthread_mutex_unlock(&ws->lock);
	drfs_oid(oid, ws->ino, 0);
	ret = drfs_aio_write(ws->fs, oid, op, 0, ws_ccomplete, ws, &ws->cc);
	if (ret < 0) { /* not sent */
		drfs_wop_free(op);
		ws_note_err(ws, ret);
		return;
	}
	ws->cwop = op;
}

/*
 * The size raise in flight completed: take what it left.  It is not
 * announced here (that would be a notify round trip per stripe in the
 * writer's way): our own cache drops the inode now, the other nodes are
 * told once, by drfs_ws_sync() - before the flush that makes these
 * bytes anyone's business returns.
 */
static void ws_commit_finish(struct drfs_wstream *ws)
{
	uint64_t ver;
	int ret = drfs_aio_wait_unannounced(ws->cc, &ver);

	if (ver) {
		ws_landed(ws, ws->cabuf, ws->csize, ws->crec, ver);
		ws->unannounced = true;
		if (ws->fs->mdc)
			drfs_mdc_inval(ws->fs->mdc, ws->ino);
	}
	drfs_aio_release(ws->cc);
	drfs_wop_free(ws->cwop);
	ws->cc = NULL;
	ws->cwop = NULL;
	if (ret == -ERANGE || ret == -EOVERFLOW) {
		drfs_stat_add(ws->fs, DRFS_ST_RADOS_RETRY, 1);
		ws->have_a = false; /* read and raise again */
	} else if (ret < 0) {
		ws->have_a = false;
		ws_note_err(ws, ret);
	}
}

/* Wait for the size raise in flight (its callback has run) and take it. */
static void ws_commit_wait(struct drfs_wstream *ws)
{
	pthread_mutex_lock(&ws->lock);
	while (!ws->cdone)
		pthread_cond_wait(&ws->cond, &ws->lock);
	pthread_mutex_unlock(&ws->lock);
	ws_commit_finish(ws);
}

/* Send stripe @o: data and its 64 block records in one op. */
static void ws_submit(struct drfs_wstream *ws, struct wsop *o)
{
	char keybuf[DRFS_BLOCKS_PER_STRIPE][16],
		recbuf[DRFS_BLOCKS_PER_STRIPE][DRFS_BLOCK_LEN];
	const char *keys[DRFS_BLOCKS_PER_STRIPE], *vals[DRFS_BLOCKS_PER_STRIPE];
	size_t kl[DRFS_BLOCKS_PER_STRIPE], vl[DRFS_BLOCKS_PER_STRIPE];
	char oid[DRFS_OID_MAX];
	int ret;

	/* A whole stripe replaces every block: no read, no guard.  (A
	 * recorded object that was lost is made anew in full, which loses
	 * nothing.) */
	for (unsigned b = 0; b < DRFS_BLOCKS_PER_STRIPE; b++) {
		struct drfs_block rec;

		drfs_block_make(&rec, o->buf + (size_t)b * DRFS_BLOCK,
				DRFS_BLOCK);
		drfs_block_key(keybuf[b], b);
		drfs_block_encode(&rec, recbuf[b]);
		keys[b] = keybuf[b];
		kl[b] = strlen(keybuf[b]);
		vals[b] = recbuf[b];
		vl[b] = DRFS_BLOCK_LEN;
	}
	o->wop = drfs_wop_new();
	drfs_op_write(o->wop, o->buf, DRFS_STRIPE, 0);
	drfs_op_setn(o->wop, keys, vals, kl, vl, DRFS_BLOCKS_PER_STRIPE);
	drfs_oid(oid, ws->ino, o->stripe);
	pthread_mutex_lock(&ws->lock);
	ws->inflight++;
	o->next = ws->ops;
	ws->ops = o;
	pthread_mutex_unlock(&ws->lock);
	ret = drfs_aio_write(ws->fs, oid, o->wop, 0, ws_complete, o, &o->c);
	if (ret < 0) {
		/* not submitted: the callback never runs; undo by hand */
		pthread_mutex_lock(&ws->lock);
		ws->inflight--;
		ws->ops = o->next;
		pthread_mutex_unlock(&ws->lock);
		ws_note_err(ws, ret);
		wsop_free(o);
		return;
	}
	drfs_stat_add(ws->fs, DRFS_ST_BYTES_WRITTEN, DRFS_STRIPE);
}

/* After an error nothing more is sent: the queued stripes are dropped
 * (the error reaches the writer). */
static void ws_drop_pend(struct drfs_wstream *ws)
{
	struct wsop *o;

	while ((o = ws->pend)) {
		ws->pend = o->next;
		wsop_free(o);
	}
	ws->pend_tail = &ws->pend;
	ws->npend = 0;
}

/*
 * Move the stream on without waiting: reap what completed, take a size
 * raise that completed, send every queued stripe the size now covers,
 * and start the next raise if stripes still wait for one.
 */
static void ws_pump(struct drfs_wstream *ws)
{
	ws_reap(ws, false);
	if (ws->cc) {
		bool cdone;

		pthread_mutex_lock(&ws->lock);
		cdone = ws->cdone;
		pthread_mutex_unlock(&ws->lock);
		if (cdone)
			ws_commit_finish(ws);
	}
	while (!ws->err && ws->pend &&
	       (ws->pend->stripe + 1) * DRFS_STRIPE <= ws->raised) {
		struct wsop *o = ws->pend;

		ws->pend = o->next;
		if (!ws->pend)
			ws->pend_tail = &ws->pend;
		ws->npend--;
		ws_submit(ws, o);
	}
	if (!ws->err && ws->pend && !ws->cc)
		ws_commit_start(ws);
	if (ws->err)
		ws_drop_pend(ws);
}

/* Pump until @done(ws) holds (checked under ws->lock) or an error
 * stops it, waiting for completions in between. */
static void ws_pump_until(struct drfs_wstream *ws,
			  bool (*done)(const struct drfs_wstream *ws))
{
	for (;;) {
		uint64_t ev;

		pthread_mutex_lock(&ws->lock);
		ev = ws->events;
		pthread_mutex_unlock(&ws->lock);
		ws_pump(ws);
		if (ws->err)
			return;
		pthread_mutex_lock(&ws->lock);
		if (done(ws)) {
			pthread_mutex_unlock(&ws->lock);
			return;
		}
		/* something is in flight (the pump sent or raised what it
		 * could), so a completion will come */
		while (ws->events == ev)
			pthread_cond_wait(&ws->cond, &ws->lock);
		pthread_mutex_unlock(&ws->lock);
	}
}

static bool ws_has_slot(const struct drfs_wstream *ws)
{
	return ws->inflight + ws->npend < ws->depth;
}

static bool ws_drained(const struct drfs_wstream *ws)
{
	return !ws->pend && !ws->cc;
}

int drfs_ws_put(struct drfs_wstream *ws, uint64_t stripe, char *buf, size_t cap,
		uint64_t end, int64_t mtime_ns)
{
	struct wsop *o;
	int ret;

	if (stripe == 0 || end < (stripe + 1) * DRFS_STRIPE) {
		ret = -EINVAL;
		goto fail;
	}
	/* Bounded: wait for a slot (our own callbacks free them). */
	ws_pump_until(ws, ws_has_slot);
	if (ws->err) {
		ret = ws->err;
		goto fail;
	}
	if (ws->nunrec + ws->npend + ws->depth + 1 > ws->capunrec) {
		size_t ncap = ws->capunrec ? ws->capunrec * 2 : 16;
		uint64_t *nu;

		while (ncap < ws->nunrec + ws->npend + ws->depth + 1)
			ncap *= 2;
		nu = realloc(ws->unrec, ncap * sizeof(*nu));
		if (!nu) {
			ret = -ENOMEM;
			goto fail;
		}
		ws->unrec = nu;
		ws->capunrec = ncap;
	}
	o = calloc(1, sizeof(*o));
	if (!o) {
		ret = -ENOMEM;
		goto fail;
	}
	o->ws = ws;
	o->stripe = stripe;
	o->buf = buf;
	o->cap = cap;
	/* Stage A before the data (fs.h: never bytes beyond the size): the
	 * stripe waits in the queue until a raise covers it. */
	*ws->pend_tail = o;
	ws->pend_tail = &o->next;
	ws->npend++;
	if (end > ws->want)
		ws->want = end;
	ws->mtime_ns = mtime_ns;
	ws_pump(ws);
	return 0;
fail:
	drfs_sbuf_put(buf, cap);
	return drfs_ret(ws->fs, ret);
}

int drfs_ws_sync(struct drfs_wstream *ws, int64_t mtime_ns)
{
	int ret;

	ws_pump_until(ws, ws_drained);
	if (ws->cc) /* (an error stopped the pump) */
		ws_commit_wait(ws);
	ws_reap(ws, true);
	if (ws->nunrec && !ws->err)
		ws_note_err(ws, ws_commit(ws, 0, mtime_ns));
	if (ws->unannounced) /* raises that landed, told now */
		ws_note_err(ws, drfs_inval_note(ws->fs, ws->ino));
	ws->unannounced = false;
	/* (after an error the stripes that made it stay unrecorded: a
	 * record is only ever a promise that the object exists) */
	ws->nunrec = 0;
	/* anyone may change the inode before our next batch */
	ws->have_a = false;
	ws->raised = 0;
	ws->want = 0;
	ret = ws->err;
	ws->err = 0;
	return ret;
}

int drfs_ws_take_err(struct drfs_wstream *ws)
{
	int ret;

	ws_pump(ws);
	ret = ws->err;
	ws->err = 0;
	return ret;
}

bool drfs_ws_busy(struct drfs_wstream *ws)
{
	bool busy;

	pthread_mutex_lock(&ws->lock);
	busy = ws->ops != NULL;
	pthread_mutex_unlock(&ws->lock);
	return busy || ws->pend || ws->cc;
}

uint64_t drfs_ws_end(struct drfs_wstream *ws)
{
	return ws->want;
}

void drfs_ws_free(struct drfs_wstream *ws)
{
	if (!ws)
		return;
	ws_drop_pend(ws); /* never sent: dropped */
	ws_reap(ws, true); /* teardown waits for every op in flight */
	if (ws->cc)
		ws_commit_wait(ws);
	pthread_mutex_destroy(&ws->lock);
	pthread_cond_destroy(&ws->cond);
	free(ws->unrec);
	free(ws);
}

/* ---- read-ahead (drfs_ra_*, see fs.h) ---- */

struct drfs_rahead {
	struct drfs_fs *fs;
	uint64_t ino;
	struct sio s; /* all blocks of the stripe and their records */
	bool waited;
	int ret; /* of the read, once waited */
	uint64_t verified; /* bit b: block b checked (and its tail zeroed) */
};

int drfs_ra_start(struct drfs_fs *fs, uint64_t ino, uint64_t stripe,
		  struct drfs_rahead **out)
{
	struct drfs_rahead *ra;
	int ret;

	if (stripe == 0)
		return -EINVAL;
	if (drfs_is_fenced(fs))
		return -EIO;
	ra = calloc(1, sizeof(*ra));
	if (!ra)
		return -ENOMEM;
	ra->fs = fs;
	ra->ino = ino;
	sio_init(&ra->s, ino, stripe, 0, DRFS_STRIPE);
	ra->s.buf = drfs_sbuf_get(); /* not zeroed: verify zeroes the tails */
	ret = sio_read_submit(fs, &ra->s, 0, DRFS_BLOCKS_PER_STRIPE - 1, true,
			      false);
	if (ret < 0) { /* not submitted: nothing to wait for */
		drfs_sbuf_put(ra->s.buf, DRFS_SBUF_SIZE);
		ra->s.buf = NULL;
		sio_release(&ra->s);
		free(ra);
		return drfs_ret(fs, ret);
	}
	*out = ra;
	return 0;
}

ssize_t drfs_ra_copy(struct drfs_rahead *ra, uint64_t size, uint64_t off,
		     size_t len, char *buf)
{
	const char *p;
	ssize_t ret = drfs_ra_peek(ra, size, off, len, &p);

	if (ret > 0)
		memcpy(buf, p, (size_t)ret);
	return ret;
}

ssize_t drfs_ra_peek(struct drfs_rahead *ra, uint64_t size, uint64_t off,
		     size_t len, const char **p)
{
	struct sio *s = &ra->s;
	uint64_t a0 = s->stripe * DRFS_STRIPE;
	uint32_t o0, o1;

	if (!ra->waited) {
		ra->ret = sio_read_wait(s);
		ra->waited = true;
		if (ra->ret == 0)
			drfs_stat_add(ra->fs, DRFS_ST_BYTES_READ, s->got);
	}
	if (ra->ret == -ENOENT)
		return -EAGAIN; /* a hole or a lost stripe: drfs_read knows */
	if (ra->ret < 0)
		return drfs_ret(ra->fs, ra->ret);
	if (off < a0 || off + len > a0 + DRFS_STRIPE)
		return -EINVAL;
	if (off >= size)
		return 0;
	if (off + len > size)
		len = (size_t)(size - off);
	if (len == 0)
		return 0;
	o0 = (uint32_t)(off - a0);
	o1 = (uint32_t)(o0 + len);
	for (uint32_t b = o0 / DRFS_BLOCK; b <= (o1 - 1) / DRFS_BLOCK; b++) {
		int ret;

		if (ra->verified & (1ull << b))
			continue;
		ret = sio_verify_block(ra->fs, s, 0, b);
		if (ret < 0)
			return ret;
		ra->verified |= 1ull << b;
	}
	*p = s->buf + o0;
	return (ssize_t)len;
}

void drfs_ra_free(struct drfs_rahead *ra)
{
	if (!ra)
		return;
	drfs_aio_release(ra->s.c); /* teardown waits for a read in flight */
	ra->s.c = NULL;
	drfs_sbuf_put(ra->s.buf, DRFS_SBUF_SIZE);
	ra->s.buf = NULL;
	sio_release(&ra->s);
	free(ra);
}
