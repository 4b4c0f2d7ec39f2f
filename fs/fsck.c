/*
 * fsck.c - check (and repair) a datarootfs filesystem, online or offline.
 *
 * Three passes:
 *   1. list every object of the namespace: inode objects, stripe objects,
 *      the rest (superblock, allocator, intents);
 *   2. walk the tree from the root: every entry must decode and point to an
 *      inode object whose attributes decode; count references and
 *      subdirectories; compare each file's stripe records with its stripe
 *      objects (lost and extra stripes); optionally read every file to
 *      verify the block checksums, and hash filedir content (SHA-1 must
 *      be its name);
 *   3. compare: link counts, orphaned inodes and stripes, stale intents.
 *
 * Online safety: objects younger than DRFS_FSCK_GRACE seconds are left
 * alone (a create or rename may be in flight), and repairs use the same
 * guarded operations as the daemon.  What pass 1 listed may have changed
 * by the time pass 2 looks: a stripe object is checked again (stat, or
 * drfs_stripe_check) before it is reported.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "fsck.h"
#include "internal.h"
#include "lock.h"
#include "log.h"

#define GRACE_NS ((int64_t)DRFS_FSCK_GRACE * 1000000000)

struct ient {
	uint64_t ino;
	uint32_t refs; /* entries pointing here */
	uint32_t subdirs; /* for directories */
	uint32_t stripes_max; /* highest stripe object seen + 1 */
	uint64_t *stripes; /* stripe objects >= 1 listed (unsorted) */
	uint32_t nstripes, capstripes;
	bool has_object;
	bool pending; /* unlinked, waiting for its grace period */
	bool visited;
	bool is_dir;
	bool indexed; /* the content index names it */
};

struct imap {
	struct ient *v;
	size_t cap, n;
};

static struct ient *imap_get(struct imap *m, uint64_t ino)
{
	size_t i;

	if (m->n * 2 >= m->cap) {
		struct imap nm = {0};

		nm.cap = m->cap ? m->cap * 2 : 4096;
		nm.v = calloc(nm.cap, sizeof(*nm.v));
		if (!nm.v)
			return NULL;
		for (size_t j = 0; j < m->cap; j++)
			if (m->v[j].ino) {
				struct ient *e;

				i = (m->v[j].ino * 0x9E3779B97F4A7C15ull) %
				    nm.cap;
				while (nm.v[i].ino)
					i = (i + 1) % nm.cap;
				e = &nm.v[i];
				*e = m->v[j];
				nm.n++;
			}
		free(m->v);
		*m = nm;
	}
	i = (ino * 0x9E3779B97F4A7C15ull) % m->cap;
	while (m->v[i].ino && m->v[i].ino != ino)
		i = (i + 1) % m->cap;
	if (!m->v[i].ino) {
		m->v[i].ino = ino;
		m->n++;
	}
	return &m->v[i];
}

struct ctx {
	struct drfs_fs *fs;
	const struct drfs_fsck_opts *o;
	struct drfs_fsck_result *r;
	struct imap map;
	int64_t now;
	uint64_t *lockobjs; /* inodes with an l.<ino> object */
	size_t nlockobjs, caplockobjs;
	char (*live)[37]; /* nodes with an unexpired lease */
	size_t nlive;
	uint64_t data_csum_errs; /* checksum errors met reading file data */
};

static void problem(struct ctx *c, bool repaired, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void problem(struct ctx *c, bool repaired, const char *fmt, ...)
{
	va_list ap;

	c->r->problems++;
	if (repaired)
		c->r->repaired++;
	va_start(ap, fmt);
	fprintf(c->o->out, "%s", repaired ? "REPAIRED: " : "");
	vfprintf(c->o->out, fmt, ap);
	fputc('\n', c->o->out);
	va_end(ap);
}

static void progress(struct ctx *c, const char *what, uint64_t n)
{
	if (c->o->progress && (n % 256) == 0) {
		fprintf(stderr, "\rfsck: %s %" PRIu64 "...", what, n);
		fflush(stderr);
	}
}

/* ---- pass 1: objects ---- */

/* One listed object: remember stripes, lock objects and inode objects. */
static int list_one(void *arg, const char *oid)
{
	struct ctx *c = arg;
	uint64_t ino;
	unsigned long long stripe;
	char tail;

	c->r->objects++;
	progress(c, "listed objects", c->r->objects);
	if (sscanf(oid, "i.%16" SCNx64 ".%llx%c", &ino, &stripe, &tail) == 2) {
		struct ient *e = imap_get(&c->map, ino);

		if (!e)
			return -ENOMEM;
		if (stripe + 1 > e->stripes_max)
			e->stripes_max = (uint32_t)(stripe + 1);
		if (e->nstripes == e->capstripes) {
			uint32_t cap = e->capstripes * 2 + 4;
			uint64_t *v = realloc(e->stripes, cap * sizeof(*v));

			if (!v)
				return -ENOMEM;
			e->stripes = v;
			e->capstripes = cap;
		}
		e->stripes[e->nstripes++] = stripe;
	} else if (sscanf(oid, "l.%16" SCNx64 "%c", &ino, &tail) == 1) {
		if (c->nlockobjs == c->caplockobjs) {
			size_t cap = c->caplockobjs * 2 + 64;
			uint64_t *v = realloc(c->lockobjs, cap * sizeof(*v));

			if (!v)
				return -ENOMEM;
			c->lockobjs = v;
			c->caplockobjs = cap;
		}
		c->lockobjs[c->nlockobjs++] = ino;
	} else if (sscanf(oid, "i.%16" SCNx64 "%c", &ino, &tail) == 1) {
		struct ient *e = imap_get(&c->map, ino);

		if (!e)
			return -ENOMEM;
		e->has_object = true;
	}
	return 0;
}

static int list_objects(struct ctx *c)
{
	return drfs_objects_list(c->fs, list_one, c);
}

/* ---- pass 2: tree walk ---- */

struct qitem {
	uint64_t ino;
	char *path;
};

struct queue {
	struct qitem *v;
	size_t head, tail, cap;
};

static int q_push(struct queue *q, uint64_t ino, const char *path)
{
	if (q->tail == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 256;
		struct qitem *nv = realloc(q->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		q->v = nv;
		q->cap = cap;
	}
	q->v[q->tail].ino = ino;
	q->v[q->tail].path = strdup(path);
	q->tail++;
	return 0;
}

static void remove_entry(struct ctx *c, uint64_t dir, const char *name,
			 const char *val, size_t vlen)
{
	char oid[DRFS_OID_MAX];
	rados_write_op_t op = drfs_wop_new();
	int pr = 0;

	drfs_oid(oid, dir, 0);
	drfs_op_cmp(op, name, val, vlen, &pr);
	drfs_op_rm(op, name);
	drfs_wop(c->fs, oid, op, LIBRADOS_OPERATION_FULL_FORCE);
	drfs_wop_free(op);
}

/*
 * Read a whole file, verifying its block checksums; with @sha_name (a
 * filedir file), also check that its SHA-1 is its name.
 */
static void verify_data(struct ctx *c, const char *path,
			const struct drfs_attr *a, const char *sha_name)
{
	size_t chunk = DRFS_STRIPE;
	char *buf = malloc(chunk);
	EVP_MD_CTX *md = sha_name ? EVP_MD_CTX_new() : NULL;
	uint64_t bad0 = __atomic_load_n(&c->fs->stats[DRFS_ST_CSUM_ERR],
					__ATOMIC_RELAXED);
	uint64_t off = 0;

	if (!buf || (sha_name && !md))
		goto out;
	if (md)
		EVP_DigestInit_ex(md, EVP_sha1(), NULL);
	while (off < a->size) {
		ssize_t n = drfs_read(c->fs, a->ino, off, chunk, buf);

		if (n == -EIO) {
			problem(c, false,
				"checksum mismatch in %s (inode %" PRIx64
				") at offset %" PRIu64
				" (see the log for the object)",
				path, a->ino, off);
			break;
		}
		if (n < 0)
			problem(c, false,
				"cannot read %s (inode %" PRIx64
				") at offset %" PRIu64 ": %s",
				path, a->ino, off, strerror((int)-n));
		if (n <= 0)
			break;
		if (md)
			EVP_DigestUpdate(md, buf, (size_t)n);
		c->r->bytes_verified += (uint64_t)n;
		off += (uint64_t)n;
	}
	if (md && off >= a->size) {
		unsigned char h[EVP_MAX_MD_SIZE];
		unsigned hlen = 0;
		char hex[41];

		EVP_DigestFinal_ex(md, h, &hlen);
		for (unsigned i = 0; i < 20 && i < hlen; i++)
			snprintf(hex + 2 * i, 3, "%02x", h[i]);
		if (strcmp(hex, sha_name))
			problem(c, false,
				"content of %s does not match its name: its "
				"SHA-1 is %s (left in place)",
				path, hex);
	}
out:
	/* data errors are not the directory's (see walk) */
	c->data_csum_errs += __atomic_load_n(&c->fs->stats[DRFS_ST_CSUM_ERR],
					     __ATOMIC_RELAXED) -
			     bad0;
	EVP_MD_CTX_free(md);
	free(buf);
}

/* Is @dpath/@name pool content: <root>/<filedir>/ab/cd/abcd...? */
static bool filedir_file(struct ctx *c, const char *dpath, const char *name)
{
	return drfs_filedir_path(c->o->filedir_name, dpath, name);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Has the inode changed within the grace period (a write may be on)? */
static bool young(struct ctx *c, const struct drfs_attr *a)
{
	int64_t t = a->ctime_ns > a->mtime_ns ? a->ctime_ns : a->mtime_ns;

	return !c->o->offline && c->now - t < GRACE_NS;
}

/*
 * Read the stripe records of a file (paged), each page with the size it
 * was read with.  Calls @fn for each record; 0 or -errno.
 */
typedef void (*record_fn)(struct ctx *c, uint64_t stripe, uint64_t size,
			  void *arg);

/* A listing of stripe records, with the inode's size read in each page. */
struct records {
	struct ctx *c;
	record_fn fn;
	void *arg;
	rados_xattrs_iter_t xit;
	int prval;
	struct drfs_attr a;
};

static void records_add(void *arg, rados_read_op_t op)
{
	struct records *r = arg;

	r->xit = NULL;
	drfs_rd_xattrs(op, &r->xit, &r->prval);
}

/* The attributes as of this page: the records are judged by that size. */
static int records_got(void *arg, int ret)
{
	struct records *r = arg;
	const char *name, *val;
	size_t len;

	memset(&r->a, 0, sizeof(r->a));
	while (ret == 0 && drfs_xattrs_next(r->xit, &name, &val, &len) == 0 &&
	       name)
		if (!strcmp(name, "a"))
			ret = drfs_attr_decode(val, len, &r->a);
	if (r->xit)
		drfs_xattrs_end(r->xit);
	r->xit = NULL;
	return ret;
}

static int records_one(void *arg, const char *key, size_t klen, const char *val,
		       size_t vlen)
{
	struct records *r = arg;

	(void)val;
	(void)vlen;
	if (klen == DRFS_STRIPE_KEY_MAX - 6)
		r->fn(r->c, strtoull(key + 2, NULL, 16), r->a.size, r->arg);
	return 0;
}

/* Call @fn for each stripe record "s.<n>" of @ino, with the inode's size. */
static int read_records(struct ctx *c, uint64_t ino, record_fn fn, void *arg)
{
	char oid[DRFS_OID_MAX];
	struct records r = {c, fn, arg, NULL, 0, {0}};
	const struct drfs_omap_list l = {.prefix = DRFS_STRIPE_KEY_PREFIX,
					 .page = 1024,
					 .add = records_add,
					 .got = records_got};

	drfs_oid(oid, ino, 0);
	return drfs_omap_list(c->fs, oid, &l, records_one, &r);
}

struct rec_ctx {
	const char *path;
	const struct ient *e;
	uint64_t ino;
	unsigned lost;
	uint64_t stale_max; /* highest record beyond the size + 1 */
	unsigned stale;
};

static void check_record(struct ctx *c, uint64_t st, uint64_t size, void *arg)
{
	struct rec_ctx *rc = arg;
	char oid[DRFS_OID_MAX];
	int ret;

	if (st == 0)
		return;
	if (st * DRFS_STRIPE >= size) {
		rc->stale++;
		if (st + 1 > rc->stale_max)
			rc->stale_max = st + 1;
		return;
	}
	if (bsearch(&st, rc->e->stripes, rc->e->nstripes, sizeof(st), cmp_u64))
		return;
	/* recorded, inside the size, not listed: look again */
	ret = drfs_stripe_check(c->fs, rc->ino, st, c->o->offline);
	if (ret == 0 || ret == 1)
		return;
	drfs_oid(oid, rc->ino, st);
	rc->lost++;
	if (ret == -EIO)
		problem(c, false,
			"missing stripe object %s of %s (bytes %" PRIu64
			"-%" PRIu64 "): its data is lost, reads of it fail "
			"with EIO; restore the file or remove it",
			oid, rc->path, st * DRFS_STRIPE,
			(st + 1) * DRFS_STRIPE - 1);
	else
		problem(c, false, "cannot check stripe object %s of %s: %s",
			oid, rc->path, strerror(-ret));
}

/*
 * Compare a file's stripe records with its stripe objects: recorded but
 * missing (lost data: reported, never "repaired"), objects beyond the
 * size (repair: removed), records beyond the size (repair: removed).
 * Returns the number of lost stripes.
 */
static unsigned check_stripes(struct ctx *c, const char *path, struct ient *e,
			      const struct drfs_attr *a)
{
	struct rec_ctx rc = {path, e, a->ino, 0, 0, 0};
	uint64_t want = drfs_stripes_for(a->size), extra = 0, first = 0;
	int ret;

	if (e->nstripes) /* qsort(NULL, 0) is undefined */
		qsort(e->stripes, e->nstripes, sizeof(*e->stripes), cmp_u64);
	if (want > 1 || e->nstripes) {
		ret = read_records(c, a->ino, check_record, &rc);
		if (ret < 0 && ret != -ENOENT)
			problem(c, false, "stripe records of %s unreadable: %s",
				path, strerror(-ret));
	}
	/* listed objects beyond the size that still exist */
	for (uint32_t i = 0; i < e->nstripes; i++) {
		char oid[DRFS_OID_MAX];
		uint64_t osize;

		if (e->stripes[i] < want)
			continue;
		drfs_oid(oid, a->ino, e->stripes[i]);
		if (drfs_obj_stat(c->fs, oid, &osize) < 0)
			continue;
		if (!extra++)
			first = e->stripes[i];
	}
	if ((extra || rc.stale) && !young(c, a)) {
		uint64_t top = e->stripes_max > rc.stale_max ? e->stripes_max
							     : rc.stale_max;
		bool fix = c->o->repair &&
			   drfs_trim(c->fs, a->ino, top * DRFS_STRIPE,
				     a->size) == 0;
		char oid[DRFS_OID_MAX];

		drfs_oid(oid, a->ino, first);
		if (extra)
			problem(c, fix,
				"extra stripe object%s %s%s beyond the size of "
				"%s (%" PRIu64 " bytes)%s",
				extra > 1 ? "s" : "", oid,
				extra > 1 ? " and more" : "", path, a->size,
				fix ? ": removed" : "");
		if (rc.stale)
			problem(c, fix,
				"%u stripe record%s of %s beyond its size "
				"(%" PRIu64 " bytes)%s",
				rc.stale, rc.stale > 1 ? "s" : "", path,
				a->size, fix ? ": removed" : "");
	}
	return rc.lost;
}

struct entry_ctx {
	struct ctx *c;
	struct queue *q;
	uint64_t dir;
	const char *dpath;
	int err;
	char last[256]; /* paging cursor: last name seen */
};

static int check_entry(void *vctx, const char *name, uint64_t ino, uint8_t type)
{
	struct entry_ctx *ec = vctx;
	struct ctx *c = ec->c;
	struct ient *e = imap_get(&c->map, ino);
	struct drfs_attr a;
	char path[4096];
	int ret;

	if (!e) {
		ec->err = -ENOMEM;
		return 1;
	}
	snprintf(ec->last, sizeof(ec->last), "%s", name);
	snprintf(path, sizeof(path), "%s/%s",
		 strcmp(ec->dpath, "/") ? ec->dpath : "", name);
	c->r->entries++;
	progress(c, "checked entries", c->r->entries);
	if (!e->has_object) {
		bool fix = c->o->repair;

		if (fix) {
			struct drfs_dentry d = {ino, type};
			char v[DRFS_DENTRY_LEN];

			drfs_dentry_encode(&d, v);
			remove_entry(c, ec->dir, name, v, sizeof(v));
		}
		problem(c, fix,
			"dangling entry %s -> inode %" PRIx64
			" (no inode object)%s",
			path, ino, fix ? ": entry removed" : "");
		return 0;
	}
	ret = drfs_getattr(c->fs, ino, &a);
	if (ret < 0) {
		problem(c, false, "inode %" PRIx64 " of %s unreadable: %s", ino,
			path, strerror(-ret));
		return 0;
	}
	if (((a.mode & S_IFMT) >> 12) != type)
		problem(c, false,
			"entry %s has type %u but inode %" PRIx64
			" has mode %o",
			path, type, ino, a.mode);
	e->refs++;
	if (S_ISDIR(a.mode)) {
		struct ient *pe = imap_get(&c->map, ec->dir);

		if (e->visited || e->refs > 1) {
			problem(c, false,
				"directory inode %" PRIx64
				" linked more than once (at %s)",
				ino, path);
			return 0;
		}
		e->is_dir = true;
		if (pe)
			pe->subdirs++;
		if (a.parent != ec->dir) {
			bool fix = c->o->repair &&
				   drfs_set_parent(c->fs, ino, ec->dir) == 0;

			problem(c, fix,
				"directory %s records parent %" PRIx64
				" instead of %" PRIx64 "%s",
				path, a.parent, ec->dir, fix ? ": fixed" : "");
		}
		if (q_push(ec->q, ino, path) < 0) {
			ec->err = -ENOMEM;
			return 1;
		}
	} else if (S_ISREG(a.mode) && !e->visited) {
		/* a file with lost stripes is not read (already reported) */
		if (!check_stripes(c, path, e, &a) && c->o->verify_data)
			verify_data(c, path, &a,
				    filedir_file(c, ec->dpath, name) ? name
								     : NULL);
	}
	e->visited = true;
	return 0;
}

static int walk(struct ctx *c)
{
	struct queue q = {0};
	int ret = q_push(&q, DRFS_ROOT_INO, "/");
	struct ient *root = imap_get(&c->map, DRFS_ROOT_INO);

	if (!root || ret < 0)
		return -ENOMEM;
	if (!root->has_object) {
		problem(c, false, "root directory object is missing");
		return -EIO;
	}
	root->visited = true;
	root->is_dir = true;
	root->refs = 1;
	while (q.head < q.tail) {
		struct qitem it = q.v[q.head++];
		struct entry_ctx ec = {c, &q, it.ino, it.path, 0, ""};
		bool more = true;

		uint64_t bad0 = __atomic_load_n(&c->fs->stats[DRFS_ST_CSUM_ERR],
						__ATOMIC_RELAXED) -
				c->data_csum_errs;

		c->r->dirs++;
		if (drfs_dir_is_alive(c->fs, it.ino) == -ENOENT) {
			bool fix = c->o->repair;

			/* An rmdir in flight holds the mark for milliseconds:
			 * online, look again before undoing it.  The rmdir
			 * never returned, so keeping the directory is as
			 * right as removing it. */
			if (fix && !c->o->offline) {
				sleep(2);
				fix = drfs_dir_is_alive(c->fs, it.ino) ==
				      -ENOENT;
			}
			if (fix)
				drfs_dir_revive(c->fs, it.ino);
			problem(c, fix,
				"directory %s is marked dead but "
				"still linked (interrupted rmdir)%s",
				it.path, fix ? ": kept (mark removed)" : "");
		}
		while (more) {
			int n = drfs_readdir(c->fs, it.ino,
					     ec.last[0] ? ec.last : NULL, 512,
					     check_entry, &ec, &more);

			if (n < 0) {
				problem(c, false, "directory %s unreadable: %s",
					it.path, strerror(-n));
				break;
			}
			if (ec.err < 0) {
				ret = ec.err;
				break;
			}
		}
		if (__atomic_load_n(&c->fs->stats[DRFS_ST_CSUM_ERR],
				    __ATOMIC_RELAXED) -
			    c->data_csum_errs !=
		    bad0)
			problem(c, false,
				"directory %s holds entries that fail "
				"their checksum (named in the log above)",
				it.path);
		free(it.path);
		if (ret < 0)
			break;
	}
	for (size_t i = q.head; i < q.tail; i++)
		free(q.v[i].path);
	free(q.v);
	return ret < 0 ? ret : 0;
}

static void mark_pending(void *vctx, uint64_t ino)
{
	struct ctx *c = vctx;
	struct ient *e = imap_get(&c->map, ino);

	if (e)
		e->pending = true;
}

/* ---- pass 3: counts and orphans ---- */

/* ---- pass 2b: the content index (filedir) ---- */

static void check_index_entry(struct ctx *c, const char *oid, const char *sha,
			      const char *v, size_t vl)
{
	struct drfs_dentry d;
	struct drfs_attr a;
	struct ient *e;
	char h[41] = "";
	const char *why = NULL;
	bool fix;

	if (!drfs_filedir_name(sha) || strncmp(oid + 4, sha, 2))
		why = "a malformed key";
	else if (drfs_dentry_decode(v, vl, &d) < 0)
		why = "a value that fails its checksum";
	else if (!(e = imap_get(&c->map, d.ino)) || !e->has_object ||
		 drfs_getattr_hash(c->fs, d.ino, &a, h) < 0)
		why = "a missing inode";
	else if (strcmp(h, sha) || !(a.flags & DRFS_IF_IMMUTABLE))
		why = "an inode holding other content";
	else
		e->indexed = true;
	if (!why)
		return;
	fix = false;
	if (c->o->repair) {
		rados_write_op_t w = drfs_wop_new();

		drfs_op_rm(w, sha);
		fix = drfs_wop(c->fs, oid, w, LIBRADOS_OPERATION_FULL_FORCE) ==
		      0;
		drfs_wop_free(w);
	}
	problem(c, fix, "content index entry %s (%s) names %s%s", sha, oid, why,
		fix ? ": removed" : "");
}

struct index_ctx {
	struct ctx *c;
	const char *oid;
};

static int index_one(void *arg, const char *key, size_t klen, const char *val,
		     size_t vlen)
{
	struct index_ctx *x = arg;

	(void)klen;
	check_index_entry(x->c, x->oid, key, val, vlen);
	return 0;
}

static int check_index(struct ctx *c)
{
	const struct drfs_omap_list l = {.page = 512};

	for (unsigned s = 0; s < 256; s++) {
		char oid[16];
		struct index_ctx x = {c, oid};
		int ret;

		snprintf(oid, sizeof(oid), "cas.%02x", s);
		ret = drfs_omap_list(c->fs, oid, &l, index_one, &x);
		if (ret < 0 && ret != -ENOENT)
			return ret;
	}
	return 0;
}

/* -1: the inode is gone (freed since it was listed). */
static int64_t inode_age_ns(struct ctx *c, uint64_t ino)
{
	struct drfs_attr a;
	int ret = drfs_getattr(c->fs, ino, &a);

	if (ret == -ENOENT)
		return -1;
	if (ret < 0)
		return INT64_MAX;
	return c->now - (a.ctime_ns > a.btime_ns ? a.ctime_ns : a.btime_ns);
}

/* Unreachable but kept: pool content sealed under filedir_nodelete. */
static bool kept_content(struct ctx *c, const struct ient *e)
{
	struct drfs_attr a;

	if (!e->indexed || drfs_getattr(c->fs, e->ino, &a) < 0 ||
	    !(a.flags & DRFS_IF_KEEP))
		return false;
	c->r->kept++;
	return true;
}

/* A sealed pool file (reachable, SHA-1 @sha) missing from the index. */
static void check_indexed(struct ctx *c, const struct ient *e, const char *sha)
{
	uint64_t cur = 0;
	bool fix;
	int ret;

	if (e->indexed || !drfs_filedir_name(sha))
		return;
	ret = drfs_cas_get(c->fs, sha, &cur);
	if (ret == 0 && cur != e->ino) {
		/* another live copy is indexed: stored twice, not lost */
		c->r->duplicates++;
		return;
	}
	if (ret == 0)
		return; /* indexed since the index pass */
	fix = c->o->repair && drfs_cas_index(c->fs, sha, e->ino) == 0;
	problem(c, fix,
		"pool content %s (inode %" PRIx64
		") is missing from the content index%s",
		sha, e->ino, fix ? ": indexed" : "");
}

static void check_counts(struct ctx *c)
{
	for (size_t i = 0; i < c->map.cap; i++) {
		struct ient *e = &c->map.v[i];
		struct drfs_attr a;
		char sha[41];
		uint32_t want;

		if (!e->ino)
			continue;
		if (!e->has_object && !e->stripes_max)
			continue; /* a freed orphan still on the list */
		if (!e->has_object) {
			/* stripes without an inode (still there?) */
			char oid[DRFS_OID_MAX];
			uint64_t osize;
			unsigned left = 0;
			bool fix;

			for (uint32_t j = 0; j < e->nstripes; j++) {
				drfs_oid(oid, e->ino, e->stripes[j]);
				if (drfs_obj_stat(c->fs, oid, &osize) == 0)
					left++;
			}
			if (!left)
				continue;
			fix = c->o->repair &&
			      drfs_trim(c->fs, e->ino,
					(uint64_t)e->stripes_max * DRFS_STRIPE,
					DRFS_STRIPE) == 0;
			problem(c, fix,
				"extra stripe object%s i.%016" PRIx64
				".* (%u) of inode %" PRIx64
				", which does not exist%s",
				left > 1 ? "s" : "", e->ino, left, e->ino,
				fix ? ": removed" : "");
			continue;
		}
		if (!e->visited && kept_content(c, e))
			continue;
		if (!e->visited && e->pending) {
			c->r->pending++;
			if (c->o->repair && c->o->offline) {
				/* no node is mounted: nobody has it open */
				drfs_inode_orphan_free(c->fs, e->ino);
			}
			continue;
		}
		if (!e->visited) {
			int64_t age = inode_age_ns(c, e->ino);
			bool fix;

			/* Freed since it was listed: a node's reaper took
			 * it (and its orphan record) meanwhile.  After a
			 * cluster outage the reapers work off a backlog:
			 * 622 false reports in one run (t1000 long). */
			if (age < 0)
				continue;
			if (!c->o->offline && age < GRACE_NS)
				continue; /* may be a create in flight */
			fix = c->o->repair &&
			      drfs_inode_orphan_free(c->fs, e->ino) == 0;
			problem(c, fix,
				"orphaned inode %" PRIx64
				" (no entry points to it)%s",
				e->ino, fix ? ": freed" : "");
			continue;
		}
		if (drfs_getattr_hash(c->fs, e->ino, &a, sha) < 0)
			continue;
		if (sha[0] && (a.flags & DRFS_IF_IMMUTABLE))
			check_indexed(c, e, sha);
		want = e->is_dir ? 2 + e->subdirs : e->refs;
		if (a.nlink != want) {
			bool fix = c->o->repair &&
				   drfs_nlink_add(c->fs, e->ino,
						  (int)want - (int)a.nlink,
						  true, NULL) == 0;

			problem(c, fix,
				"inode %" PRIx64 " has link count %u, "
				"%u expected%s",
				e->ino, a.nlink, want, fix ? ": fixed" : "");
		}
	}
}

/* ---- node sessions and their locks ---- */

static void session_cb(void *vctx, const char *node, const char *addr,
		       int64_t expire_ns, const char *info)
{
	struct ctx *c = vctx;

	(void)info;
	if (expire_ns + 1000000000ll > c->now) {
		char(*v)[37] = realloc(c->live, (c->nlive + 1) * sizeof(*v));

		if (v) {
			c->live = v;
			snprintf(c->live[c->nlive++], 37, "%s", node);
		}
		return;
	}
	{
		bool fix = false;

		if (c->o->repair) {
			rados_write_op_t op = drfs_wop_new();

			/* fence it first: it must not come back writing */
			fix = !addr[0] ||
			      drfs_blocklist(c->fs, addr, 3600) == 0;
			if (fix) {
				drfs_op_rm(op, node);
				fix = drfs_wop(c->fs, "sessions", op,
					       LIBRADOS_OPERATION_FULL_FORCE) ==
				      0;
			}
			drfs_wop_free(op);
		}
		problem(c, fix, "node session %s (%s) expired %.0f s ago%s",
			node, addr, (c->now - expire_ns) / 1e9,
			fix ? ": blocklisted and removed" : "");
	}
}

static bool node_live(struct ctx *c, const char *node)
{
	for (size_t i = 0; i < c->nlive; i++)
		if (!strcmp(c->live[i], node))
			return true;
	return false;
}

struct locks_ctx {
	struct ctx *c;
	const char *oid;
	uint64_t ino;
};

/* One lock record "<node uuid>...": held by a node that is not live? */
static int lock_one(void *arg, const char *key, size_t klen, const char *val,
		    size_t vlen)
{
	struct locks_ctx *x = arg;
	struct ctx *c = x->c;
	char node[37];
	bool fix = false, parked;
	bool deleg = klen == strlen(DRFS_LK_DELEG_KEY) &&
		     !memcmp(key, DRFS_LK_DELEG_KEY, klen);

	/* a delegation names its node in the value, a record in the key */
	snprintf(node, sizeof(node), "%.*s",
		 deleg ? (int)(vlen < 36 ? vlen : 36) : 36, deleg ? val : key);
	if (node_live(c, node))
		return 0;
	if (c->o->repair) {
		rados_write_op_t w = drfs_wop_new();

		drfs_op_rm(w, key);
		fix = drfs_wop(c->fs, x->oid, w,
			       LIBRADOS_OPERATION_FULL_FORCE) == 0;
		drfs_wop_free(w);
	}
	/* a parked request's record: "<node>:<kind + 2>:..." */
	parked = !deleg && klen > 38 && key[36] == ':' &&
		 (key[37] == '2' || key[37] == '3') && key[38] == ':';
	problem(c, fix, "%s held by dead node %s on inode %" PRIx64 "%s",
		deleg	 ? "lock delegation"
		: parked ? "parked lock request"
			 : "lock",
		node, x->ino, fix ? ": released" : "");
	return 0;
}

static void check_locks(struct ctx *c)
{
	const struct drfs_omap_list l = {.page = 4096};

	for (size_t i = 0; i < c->nlockobjs; i++) {
		char oid[DRFS_OID_MAX];
		struct locks_ctx x = {c, oid, c->lockobjs[i]};

		drfs_lock_oid(oid, c->lockobjs[i]);
		drfs_omap_list(c->fs, oid, &l, lock_one, &x);
	}
}

int drfs_fsck(struct drfs_fs *fs, const struct drfs_fsck_opts *o,
	      struct drfs_fsck_result *r)
{
	struct ctx c = {fs, o, r, {0}, drfs_now_ns(), NULL, 0, 0, NULL, 0};
	int ret, n;

	memset(r, 0, sizeof(*r));
	n = drfs_intents_count(fs, o->offline ? 0 : DRFS_FSCK_GRACE);
	if (n > 0) {
		int done = o->repair ? drfs_intents_recover(
					       fs,
					       o->offline ? 0 : DRFS_FSCK_GRACE)
				     : 0;

		for (int i = 0; i < n; i++)
			problem(&c, done > i, "stale rename intent%s",
				done > i ? ": rolled forward or back" : "");
	}
	ret = list_objects(&c);
	if (ret < 0)
		goto out;
	ret = walk(&c);
	if (ret < 0)
		goto out;
	ret = drfs_orphans_scan(fs, 0, false, mark_pending, &c);
	if (ret < 0)
		goto out;
	ret = check_index(&c);
	if (ret < 0)
		goto out;
	check_counts(&c);
	r->inodes = c.map.n;
	ret = drfs_sessions_list(fs, session_cb, &c);
	if (ret < 0)
		goto out;
	ret = 0;
	check_locks(&c);
out:
	if (o->progress)
		fprintf(stderr, "\r\033[K");
	for (size_t i = 0; i < c.map.cap; i++)
		free(c.map.v[i].stripes);
	free(c.map.v);
	free(c.lockobjs);
	free(c.live);
	return ret;
}
