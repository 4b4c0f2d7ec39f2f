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
 * blocks are verified before they are merged: corruption is never copied.
 *
 * Stripe 0 is the inode object, so for small files the new size, times,
 * data and checksums change in one compound op.  For writes beyond stripe
 * 0 the size is raised first (then the data): a crash leaves a hole of
 * zeros inside the size, never stored bytes beyond it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "log.h"

#define BLK_END "b.g" /* sorts after every "b.<8 hex digits>" key */

/* One stripe's part of a read or write. */
struct sio {
	uint64_t stripe;
	uint32_t o0, o1; /* object byte range of the request */
	uint32_t b0, b1; /* block range, inclusive */
	char oid[DRFS_OID_MAX];
	/* read side */
	rados_read_op_t rop;
	rados_completion_t c;
	char *buf; /* blocks b0..b1 as stored */
	size_t got;
	int rval, prval_read, prval_keys, prval_x;
	rados_omap_iter_t keys_it;
	rados_xattrs_iter_t xattrs_it;
	struct drfs_block rec[DRFS_BLOCKS_PER_STRIPE];
	bool have[DRFS_BLOCKS_PER_STRIPE];
	uint64_t ver;
	uint64_t osize;
	bool exists;
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
	if (s->keys_it)
		rados_omap_get_end(s->keys_it);
	if (s->xattrs_it)
		rados_getxattrs_end(s->xattrs_it);
	if (s->rop)
		rados_release_read_op(s->rop);
	if (s->wop)
		rados_release_write_op(s->wop);
	if (s->c)
		rados_aio_release(s->c);
	free(s->buf);
	free(s->wbuf);
	s->keys_it = NULL;
	s->xattrs_it = NULL;
	s->rop = NULL;
	s->wop = NULL;
	s->c = NULL;
	s->buf = NULL;
	s->wbuf = NULL;
}

/*
 * Queue a read of blocks [rb0, rb1] (and their records) of stripe @s;
 * @xattrs also fetches the inode attributes (stripe 0 only).
 */
static int sio_read_submit(struct drfs_fs *fs, struct sio *s, uint32_t rb0,
			   uint32_t rb1, bool want_data, bool xattrs)
{
	char keybuf[DRFS_BLOCKS_PER_STRIPE][16];
	const char *keys[DRFS_BLOCKS_PER_STRIPE];
	size_t klens[DRFS_BLOCKS_PER_STRIPE];
	unsigned n = 0;
	int ret;

	s->rop = rados_create_read_op();
	if (!xattrs && !want_data) /* only the version is wanted */
		rados_read_op_stat(s->rop, &s->osize, NULL, &s->prval_x);
	if (xattrs)
		rados_read_op_getxattrs(s->rop, &s->xattrs_it, &s->prval_x);
	if (want_data) {
		size_t len = (size_t)(rb1 - rb0 + 1) * DRFS_BLOCK;

		s->buf = calloc(1, len);
		if (!s->buf)
			return -ENOMEM;
		rados_read_op_read(s->rop, (uint64_t)rb0 * DRFS_BLOCK, len,
				   s->buf, &s->got, &s->prval_read);
		for (uint32_t b = rb0; b <= rb1; b++) {
			drfs_block_key(keybuf[n], b);
			keys[n] = keybuf[n];
			klens[n] = strlen(keybuf[n]);
			n++;
		}
		rados_read_op_omap_get_vals_by_keys2(
			s->rop, keys, n, klens, &s->keys_it, &s->prval_keys);
	}
	ret = rados_aio_create_completion2(NULL, NULL, &s->c);
	if (ret < 0)
		return ret;
	drfs_stat_add(fs, DRFS_ST_RADOS_READ, 1);
	return rados_aio_read_op_operate(s->rop, fs->io, s->c, s->oid, 0);
}

/* Wait for a queued read, parse records.  0, -ENOENT (no object), -errno */
static int sio_read_wait(struct sio *s)
{
	char *k, *v;
	size_t kl, vl;

	rados_aio_wait_for_complete(s->c);
	s->rval = rados_aio_get_return_value(s->c);
	s->ver = rados_aio_get_version(s->c);
	if (s->rval < 0)
		return s->rval;
	s->exists = true;
	while (s->keys_it &&
	       rados_omap_get_next2(s->keys_it, &k, &v, &kl, &vl) == 0 && k) {
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
	return 0;
}

/*
 * Verify block @b of a completed read (whose buffer starts at block
 * @rb0) and zero what lies beyond its stored length.  0 or -EIO.
 */
static int sio_verify_block(struct drfs_fs *fs, struct sio *s, uint32_t rb0,
			    uint32_t b)
{
	char *p = s->buf + (size_t)(b - rb0) * DRFS_BLOCK;
	size_t avail = 0, start = (size_t)(b - rb0) * DRFS_BLOCK;

	if (s->got > start)
		avail = s->got - start;
	if (!s->have[b]) {
		memset(p, 0, DRFS_BLOCK); /* hole */
		return 0;
	}
	if (avail < s->rec[b].len ||
	    drfs_hash(p, s->rec[b].len) != s->rec[b].hash) {
		drfs_stat_add(fs, DRFS_ST_CSUM_ERR, 1);
		drfs_err("checksum mismatch in object %s block %u (offset %u, "
			 "%u bytes): returning EIO",
			 s->oid, b, b * DRFS_BLOCK, s->rec[b].len);
		return -EIO;
	}
	memset(p + s->rec[b].len, 0, DRFS_BLOCK - s->rec[b].len);
	return 0;
}

static int attrs_from(struct sio *s, uint64_t ino, struct drfs_attr *a,
		      char *raw_a, bool *have_t)
{
	const char *name, *val;
	size_t len;
	bool ok = false;

	*have_t = false;
	while (rados_getxattrs_next(s->xattrs_it, &name, &val, &len) == 0 &&
	       name) {
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

ssize_t drfs_read(struct drfs_fs *fs, uint64_t ino, uint64_t off, size_t len,
		  char *buf)
{
	uint64_t s0, s1, n;
	struct sio *io;
	struct drfs_attr a;
	bool have_t;
	ssize_t ret = 0;

	if (len == 0)
		return 0;
	s0 = drfs_stripe_of(off);
	s1 = drfs_stripe_of(off + len - 1);
	n = s1 - s0 + 1 + (s0 > 0); /* + the inode object for attrs */
	io = calloc(n, sizeof(*io));
	if (!io)
		return -ENOMEM;
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
	if (!S_ISREG(a.mode)) {
		ret = -EISDIR;
		goto out;
	}
	if (off >= a.size) {
		ret = 0;
		goto out;
	}
	if (off + len > a.size)
		len = (size_t)(a.size - off);
	for (uint64_t i = (s0 > 0); i < n; i++) {
		struct sio *s = &io[i];
		uint64_t a0 = s->stripe * DRFS_STRIPE;

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
			ret = sio_verify_block(fs, s, s->b0, b);
			if (ret < 0)
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
	return ret;
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
		struct drfs_block rec = {
			be - bs, drfs_hash(s->wbuf + (bs - wstart), be - bs)};

		drfs_block_key(keybuf[n], b);
		drfs_block_encode(&rec, recbuf[n]);
		keys[n] = keybuf[n];
		kl[n] = strlen(keybuf[n]);
		vals[n] = recbuf[n];
		vl[n] = DRFS_BLOCK_LEN;
		n++;
	}
	rados_write_op_write(op, s->wbuf, wend - wstart, wstart);
	rados_write_op_omap_set2(op, keys, vals, kl, vl, n);
	return 0;
}

/* Write one stripe >= 1 (or all of stripe 0 when @attr is set). */
struct wattr {
	uint64_t ino;
	uint64_t end;
	int64_t mtime_ns;
};

static int write_stripe(struct drfs_fs *fs, struct sio *s, const char *src,
			const struct wattr *wa)
{
	bool head = s->o0 % DRFS_BLOCK != 0;
	bool tail = s->o1 % DRFS_BLOCK != 0;
	bool is0 = s->stripe == 0;

	for (;;) {
		char raw_a[DRFS_ATTR_LEN];
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
					memcpy(nb + (size_t)(rb0 - s->b0) *
							       DRFS_BLOCK,
					       s->buf, s->got);
					s->got += (size_t)(rb0 - s->b0) *
						  DRFS_BLOCK;
					free(s->buf);
					s->buf = nb;
				}
			}
			if (ret == -ENOENT && !is0) {
				s->exists = false;
				ret = 0;
			}
			if (ret < 0)
				goto fail;
		}
		s->wop = rados_create_write_op();
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
			rados_write_op_assert_version(s->wop, s->ver);
			if (wa->end > a.size) {
				char abuf[DRFS_ATTR_LEN];

				a.size = wa->end;
				drfs_attr_encode(&a, abuf);
				rados_write_op_setxattr(s->wop, "a", abuf,
							sizeof(abuf));
			}
			{
				char tbuf[DRFS_TIMES_LEN];

				drfs_times_encode(wa->mtime_ns, wa->mtime_ns,
						  tbuf);
				rados_write_op_setxattr(s->wop, "t", tbuf,
							sizeof(tbuf));
			}
		} else if (s->exists) {
			if (head || tail)
				rados_write_op_assert_version(s->wop, s->ver);
		} else {
			rados_write_op_create(s->wop, LIBRADOS_CREATE_EXCLUSIVE,
					      NULL);
		}
		if (src) {
			ret = sio_merge(fs, s, src, head, tail, s->wop);
			if (ret < 0)
				goto fail;
		}
		ret = drfs_wop(fs, s->oid, s->wop, 0);
		if (ret == -ERANGE || ret == -EOVERFLOW || ret == -EEXIST) {
			drfs_stat_add(fs, DRFS_ST_RADOS_RETRY, 1);
			sio_release(s);
			memset(s->rec, 0, sizeof(s->rec));
			memset(s->have, 0, sizeof(s->have));
			s->exists = false;
			s->got = 0;
			continue;
		}
fail:
		sio_release(s);
		return ret;
	}
}

int drfs_write(struct drfs_fs *fs, uint64_t ino, uint64_t off, const char *buf,
	       size_t len, int64_t mtime_ns)
{
	struct wattr wa = {ino, off + len, mtime_ns};
	uint64_t s0, s1;
	int ret = 0;

	if (len == 0)
		return 0;
	if (off + len < off || off + len > (1ull << 60))
		return -EFBIG;
	s0 = drfs_stripe_of(off);
	s1 = drfs_stripe_of(off + len - 1);

	/* Stage A: the inode object.  Holds stripe 0 data if touched, and
	 * raises the size before any other stripe is written. */
	{
		struct sio s;

		if (s0 == 0) {
			uint32_t o1 = off + len < DRFS_STRIPE
					      ? (uint32_t)(off + len)
					      : DRFS_STRIPE;

			sio_init(&s, ino, 0, (uint32_t)off, o1);
			ret = write_stripe(fs, &s, buf, &wa);
		} else {
			sio_init(&s, ino, 0, 0, 1);
			s.o0 = s.o1 = 0;
			s.b0 = s.b1 = 0;
			ret = write_stripe(fs, &s, NULL, &wa);
		}
		if (ret < 0)
			return ret;
	}
	if (s1 == 0)
		goto done;

	/* Stage B: stripes >= 1, each an independent guarded op, in
	 * parallel threads of librados via aio where no read is needed. */
	{
		uint64_t first = s0 > 0 ? s0 : 1;
		uint64_t n = s1 - first + 1;
		struct sio *io = calloc(n, sizeof(*io));

		if (!io)
			return -ENOMEM;
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
			if (s->o0 % DRFS_BLOCK || s->o1 % DRFS_BLOCK)
				continue;
			s->exists = true; /* blind full-block write */
			s->wop = rados_create_write_op();
			ret = sio_merge(fs, s, buf + (r0 - off), false, false,
					s->wop);
			if (ret == 0)
				ret = rados_aio_create_completion2(NULL, NULL,
								   &s->c);
			if (ret == 0) {
				drfs_stat_add(fs, DRFS_ST_RADOS_WRITE, 1);
				ret = rados_aio_write_op_operate(
					s->wop, fs->io, s->c, s->oid, NULL,
					LIBRADOS_OPERATION_FULL_TRY);
			}
			if (ret < 0)
				break;
		}
		for (uint64_t i = 0; i < n; i++) {
			struct sio *s = &io[i];
			uint64_t a0 = s->stripe * DRFS_STRIPE;

			if (s->c) {
				int r;

				rados_aio_wait_for_complete(s->c);
				r = drfs_ret(fs,
					     rados_aio_get_return_value(s->c));
				if (r < 0 && ret == 0)
					ret = r;
			} else if (ret == 0 && s->oid[0]) {
				ret = write_stripe(
					fs, s, buf + (a0 + s->o0 - off), &wa);
			}
			sio_release(s);
		}
		free(io);
	}
done:
	if (ret == 0)
		drfs_stat_add(fs, DRFS_ST_BYTES_WRITTEN, len);
	return ret;
}

/* ---- truncate ---- */

int drfs_trim(struct drfs_fs *fs, uint64_t ino, uint64_t old_size,
	      uint64_t size)
{
	uint64_t k = drfs_stripe_of(size), last = drfs_stripes_for(old_size);
	uint32_t off_in = drfs_stripe_off(size);
	int ret = 0;

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
			s.wop = rados_create_write_op();
			rados_write_op_assert_version(s.wop, s.ver);
			if (boff > 0 && s.have[b] && s.rec[b].len > boff) {
				struct drfs_block rec;
				char key[16], val[DRFS_BLOCK_LEN];

				ret = sio_verify_block(fs, &s, b, b);
				if (ret < 0) {
					sio_release(&s);
					return ret;
				}
				rec.len = boff;
				rec.hash = drfs_hash(s.buf, boff);
				drfs_block_key(key, b);
				drfs_block_encode(&rec, val);
				drfs_op_set(s.wop, key, val, sizeof(val));
			}
			drfs_block_key(first, boff > 0 ? b + 1 : b);
			rados_write_op_omap_rm_range2(s.wop, first,
						      strlen(first), BLK_END,
						      strlen(BLK_END));
			rados_write_op_truncate(s.wop, off_in);
			ret = drfs_wop(fs, s.oid, s.wop,
				       LIBRADOS_OPERATION_FULL_FORCE);
			sio_release(&s);
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
	/* Whole stripes beyond: remove, many in flight. */
	for (uint64_t base = k; base < last; base += 64) {
		rados_completion_t c[64];
		unsigned n = 0;

		for (uint64_t st = base; st < last && n < 64; st++, n++) {
			char oid[DRFS_OID_MAX];

			drfs_oid(oid, ino, st);
			rados_aio_create_completion2(NULL, NULL, &c[n]);
			drfs_stat_add(fs, DRFS_ST_RADOS_WRITE, 1);
			rados_aio_remove(fs->io, oid, c[n]);
		}
		for (unsigned i = 0; i < n; i++) {
			int r;

			rados_aio_wait_for_complete(c[i]);
			r = rados_aio_get_return_value(c[i]);
			if (r < 0 && r != -ENOENT && ret == 0)
				ret = r;
			rados_aio_release(c[i]);
		}
	}
	return ret;
}
