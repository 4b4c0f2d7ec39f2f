/*
 * backend.c - the one door to RADOS: every librados call of datarootfs is
 * in this file (backend.h says what each function promises; the rule is
 * checked by tests/check-backend.sh).
 *
 * Written once here, so that no caller can forget it:
 *   - fencing: once this node is fenced nothing is sent (-EIO), and an
 *     OSD refusing us as blocklisted (ESHUTDOWN) marks us fenced (EIO);
 *   - counting: data ops count as DRFS_ST_RADOS_READ or _WRITE when they
 *     are sent (control traffic - watch, notify, blocklist - is not);
 *   - errors: EDQUOT (pool quota, the ioctx is pool_full_try) is ENOSPC;
 *   - coherence: a successful write or removal of an inode object is
 *     announced to the other nodes (drfs_inval_note_oid) before the
 *     caller goes on (doc/design.md, "Coherent metadata cache").
 *
 * Synchronous reads use aio so the object version comes back with the
 * completion (the ioctx's "last version" is shared by all threads and
 * would race).  Watches remember the ioctx they were made on: after a
 * rejoin acknowledgements and unwatches of the old watches still go to
 * the old client, which is closed only after rados_watch_flush().
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <rados/rados_types.h>

#include "internal.h"
#include "log.h"

#define OMAP_PAGE 256

void drfs_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- results ---- */

static bool fenced(struct drfs_fs *fs)
{
	return __atomic_load_n(&fs->fenced, __ATOMIC_RELAXED);
}

/*
 * The OSDs refuse a blocklisted client with ESHUTDOWN: another node fenced
 * us after our lease expired.  From then on nothing is written with this
 * connection (it never works again: the lease thread replaces it).
 */
static int fenced_check(struct drfs_fs *fs, int ret)
{
	if (ret == -ESHUTDOWN) {
		drfs_set_fenced(fs, "blocklisted: the OSDs refuse this client");
		return -EIO;
	}
	return ret;
}

int drfs_ret(struct drfs_fs *fs, int ret)
{
	if (ret == -EDQUOT)
		ret = -ENOSPC;
	return fenced_check(fs, ret);
}

/* A write or removal of @oid returned @ret: announce it if it landed. */
static int landed(struct drfs_fs *fs, const char *oid, int ret)
{
	ret = drfs_ret(fs, ret);
	/* every node caching this inode drops it before we go on */
	if (ret == 0)
		ret = drfs_inval_note_oid(fs, oid);
	return ret;
}

/* ---- connection ---- */

/* Log where librados would print (stderr), and settings every client has. */
static void conf_base(rados_t cl)
{
	/* Keep librados quiet on our stderr; its own errors are turned into
	 * our one-line messages. */
	rados_conf_set(cl, "log_to_stderr", "false");
	rados_conf_set(cl, "err_to_stderr", "false");
}

/* Our one line for a failed rados_connect(). */
static void connect_err(const struct drfs_conn_opts *o, int ret,
			const char *name, const char *mon, bool have_mon,
			const char *tmo, char *err, size_t errlen)
{
	if (ret == -ETIMEDOUT || ret == -EINVAL ||
	    (ret == -ENOENT && !have_mon))
		drfs_seterr(err, errlen,
			    "cannot reach the Ceph monitors at %s within "
			    "%s s: %s",
			    mon, tmo, strerror(-ret));
	else if (ret == -EACCES || ret == -EPERM)
		drfs_seterr(err, errlen,
			    "authentication as %s refused by the monitors "
			    "at %s: %s (check the client id and keyring)",
			    name, mon, strerror(-ret));
	else if (ret == -ENOENT) /* librados found no key */
		drfs_seterr(err, errlen, "no key for %s in keyring %s: %s",
			    name, o->keyring ? o->keyring : "(from ceph.conf)",
			    strerror(-ret));
	else if (o->keyring) /* EIO: cannot parse it, EISDIR... */
		drfs_seterr(err, errlen,
			    "cannot authenticate as %s with keyring %s: %s",
			    name, o->keyring, strerror(-ret));
	else
		drfs_seterr(err, errlen,
			    "cannot connect to the Ceph monitors at %s as "
			    "%s: %s",
			    mon, name, strerror(-ret));
}

/* Create, configure and connect a client instance as fs->copts say. */
static int cluster_open(struct drfs_fs *fs, rados_t *out, char *err,
			size_t errlen)
{
	const struct drfs_conn_opts *o = &fs->copts;
	char name[128], tmo[16], mon[512] = "";
	bool have_mon;
	rados_t cl;
	int ret;

	snprintf(name, sizeof(name), "client.%s", o->id ? o->id : "admin");
	ret = rados_create2(&cl, "ceph", name, 0);
	if (ret < 0) {
		drfs_seterr(err, errlen, "cannot create cluster handle: %s",
			    strerror(-ret));
		return ret;
	}
	conf_base(cl);
	rados_conf_set(cl, "log_file", "");
	if (o->conf) {
		ret = rados_conf_read_file(cl, o->conf);
		if (ret < 0) {
			drfs_seterr(err, errlen,
				    "cannot read ceph config %s: %s", o->conf,
				    strerror(-ret));
			goto out_shutdown;
		}
	} else {
		rados_conf_read_file(cl, NULL);
	}
	conf_base(cl);
	if (o->keyring)
		rados_conf_set(cl, "keyring", o->keyring);
	if (o->mon_host)
		rados_conf_set(cl, "mon_host", o->mon_host);
	snprintf(tmo, sizeof(tmo), "%d", o->timeout > 0 ? o->timeout : 10);
	rados_conf_set(cl, "client_mount_timeout", tmo);
	/* watches are pinged every tick: inval.c trusts its cache only
	 * while they were confirmed within a few ticks */
	rados_conf_set(cl, "objecter_tick_interval", "1");
	have_mon = rados_conf_get(cl, "mon_host", mon, sizeof(mon)) >= 0;
	if (!have_mon || !mon[0]) {
		have_mon = false;
		snprintf(mon, sizeof(mon), "(none configured)");
	}
	ret = rados_connect(cl);
	if (ret < 0) {
		connect_err(o, ret, name, mon, have_mon, tmo, err, errlen);
		goto out_shutdown;
	}
	*out = cl;
	return 0;

out_shutdown:
	rados_shutdown(cl);
	return ret;
}

int drfs_conn_open(struct drfs_fs *fs, struct drfs_conn **out, char *err,
		   size_t errlen)
{
	struct drfs_conn *c = calloc(1, sizeof(*c));
	int ret;

	if (!c)
		return -ENOMEM;
	ret = cluster_open(fs, &c->cluster, err, errlen);
	if (ret < 0)
		goto out_free;
	ret = rados_ioctx_create(c->cluster, fs->pool, &c->io);
	if (ret < 0) {
		if (ret == -ENOENT)
			drfs_seterr(err, errlen, "pool '%s' does not exist",
				    fs->pool);
		else
			drfs_seterr(err, errlen, "cannot open pool '%s': %s",
				    fs->pool, strerror(-ret));
		rados_shutdown(c->cluster);
		goto out_free;
	}
	rados_ioctx_set_namespace(c->io, fs->fsname);
	/* On a full pool (quota) fail writes with EDQUOT instead of
	 * blocking forever; deletes still go through. */
	rados_set_pool_full_try(c->io);
	*out = c;
	return 0;

out_free:
	free(c);
	return ret;
}

void drfs_conn_close(struct drfs_conn *c)
{
	if (!c)
		return;
	if (c->io) {
		rados_watch_flush(c->cluster);
		rados_aio_flush(c->io);
		rados_ioctx_destroy(c->io);
	}
	rados_shutdown(c->cluster);
	free(c);
}

/* ---- building write ops ---- */

rados_write_op_t drfs_wop_new(void)
{
	return rados_create_write_op();
}

void drfs_wop_free(rados_write_op_t op)
{
	if (op)
		rados_release_write_op(op);
}

void drfs_op_create(rados_write_op_t op, bool exclusive)
{
	rados_write_op_create(op,
			      exclusive ? LIBRADOS_CREATE_EXCLUSIVE
					: LIBRADOS_CREATE_IDEMPOTENT,
			      NULL);
}

void drfs_op_assert_exists(rados_write_op_t op)
{
	rados_write_op_assert_exists(op);
}

void drfs_op_assert_version(rados_write_op_t op, uint64_t ver)
{
	rados_write_op_assert_version(op, ver);
}

void drfs_op_write(rados_write_op_t op, const char *buf, size_t len,
		   uint64_t off)
{
	rados_write_op_write(op, buf, len, off);
}

void drfs_op_truncate(rados_write_op_t op, uint64_t off)
{
	rados_write_op_truncate(op, off);
}

void drfs_op_setxattr(rados_write_op_t op, const char *name, const char *val,
		      size_t len)
{
	rados_write_op_setxattr(op, name, val, len);
}

void drfs_op_cmpxattr(rados_write_op_t op, const char *name, const char *val,
		      size_t len)
{
	rados_write_op_cmpxattr(op, name, LIBRADOS_CMPXATTR_OP_EQ, val, len);
}

void drfs_op_cmp(rados_write_op_t op, const char *key, const char *val,
		 size_t vlen, int *prval)
{
	rados_write_op_omap_cmp2(op, key, LIBRADOS_CMPXATTR_OP_EQ, val,
				 strlen(key), vlen, prval);
}

void drfs_op_setn(rados_write_op_t op, const char *const *keys,
		  const char *const *vals, const size_t *klens,
		  const size_t *vlens, size_t n)
{
	rados_write_op_omap_set2(op, (char const *const *)keys,
				 (char const *const *)vals, klens, vlens, n);
}

void drfs_op_set(rados_write_op_t op, const char *key, const char *val,
		 size_t vlen)
{
	const char *keys[1] = {key};
	const char *vals[1] = {val};
	size_t kl[1] = {strlen(key)}, vl[1] = {vlen};

	drfs_op_setn(op, keys, vals, kl, vl, 1);
}

void drfs_op_rmn(rados_write_op_t op, const char *const *keys,
		 const size_t *klens, size_t n)
{
	rados_write_op_omap_rm_keys2(op, (char const *const *)keys, klens, n);
}

void drfs_op_rm(rados_write_op_t op, const char *key)
{
	const char *keys[1] = {key};
	size_t kl[1] = {strlen(key)};

	drfs_op_rmn(op, keys, kl, 1);
}

void drfs_op_rm_range(rados_write_op_t op, const char *from, const char *to)
{
	rados_write_op_omap_rm_range2(op, from, strlen(from), to, strlen(to));
}

void drfs_op_times(rados_write_op_t op, int64_t now)
{
	char tbuf[DRFS_TIMES_LEN];

	drfs_times_encode(now, now, tbuf);
	rados_write_op_setxattr(op, "t", tbuf, sizeof(tbuf));
}

/* ---- building read ops ---- */

rados_read_op_t drfs_rd_new(void)
{
	return rados_create_read_op();
}

void drfs_rd_free(rados_read_op_t op)
{
	if (op)
		rados_release_read_op(op);
}

void drfs_rd_stat(rados_read_op_t op, uint64_t *size, int *prval)
{
	rados_read_op_stat(op, size, NULL, prval);
}

void drfs_rd_read(rados_read_op_t op, uint64_t off, size_t len, char *buf,
		  size_t *got, int *prval)
{
	rados_read_op_read(op, off, len, buf, got, prval);
}

void drfs_rd_xattrs(rados_read_op_t op, rados_xattrs_iter_t *it, int *prval)
{
	rados_read_op_getxattrs(op, it, prval);
}

void drfs_rd_omap(rados_read_op_t op, const char *after, const char *prefix,
		  uint64_t max, rados_omap_iter_t *it, unsigned char *more,
		  int *prval)
{
	rados_read_op_omap_get_vals2(op, after, prefix, max, it, more, prval);
}

void drfs_rd_omap_keys(rados_read_op_t op, const char *const *keys, size_t n,
		       const size_t *klens, rados_omap_iter_t *it, int *prval)
{
	rados_read_op_omap_get_vals_by_keys2(op, (char const *const *)keys, n,
					     klens, it, prval);
}

int drfs_omap_next(rados_omap_iter_t it, char **key, char **val, size_t *klen,
		   size_t *vlen)
{
	return rados_omap_get_next2(it, key, val, klen, vlen);
}

void drfs_omap_end(rados_omap_iter_t it)
{
	if (it)
		rados_omap_get_end(it);
}

int drfs_xattrs_next(rados_xattrs_iter_t it, const char **name,
		     const char **val, size_t *len)
{
	return rados_getxattrs_next(it, name, val, len);
}

void drfs_xattrs_end(rados_xattrs_iter_t it)
{
	if (it)
		rados_getxattrs_end(it);
}

/* ---- running ops ---- */

int drfs_wop(struct drfs_fs *fs, const char *oid, rados_write_op_t op,
	     int flags)
{
	int ret;

	if (fenced(fs))
		return -EIO;
	drfs_stat_add(fs, DRFS_ST_RADOS_WRITE, 1);
	ret = rados_write_op_operate2(op, fs->conn->io, oid, NULL,
				      flags | LIBRADOS_OPERATION_FULL_TRY);
	return landed(fs, oid, ret);
}

int drfs_wop_ver(struct drfs_fs *fs, const char *oid, rados_write_op_t op,
		 int flags, uint64_t *ver)
{
	struct drfs_aio *a;
	int ret;

	*ver = 0;
	ret = drfs_aio_write(fs, oid, op, flags, NULL, NULL, &a);
	if (ret < 0)
		return ret;
	ret = drfs_aio_wait(a, ver);
	drfs_aio_release(a);
	return ret;
}

int drfs_remove(struct drfs_fs *fs, const char *oid)
{
	if (fenced(fs))
		return -EIO;
	drfs_stat_add(fs, DRFS_ST_RADOS_WRITE, 1);
	return landed(fs, oid, rados_remove(fs->conn->io, oid));
}

int drfs_rop(struct drfs_fs *fs, const char *oid, rados_read_op_t op,
	     uint64_t *ver)
{
	struct drfs_aio *a;
	int ret = drfs_aio_read(fs, oid, op, &a);

	if (ret < 0)
		return ret;
	ret = drfs_aio_wait(a, ver);
	drfs_aio_release(a);
	return ret;
}

int drfs_obj_stat(struct drfs_fs *fs, const char *oid, uint64_t *size)
{
	time_t mtime;

	if (fenced(fs))
		return -EIO;
	drfs_stat_add(fs, DRFS_ST_RADOS_READ, 1);
	return drfs_ret(fs, rados_stat(fs->conn->io, oid, size, &mtime));
}

int drfs_obj_getxattr(struct drfs_fs *fs, const char *oid, const char *name,
		      char *buf, size_t size)
{
	if (fenced(fs))
		return -EIO;
	drfs_stat_add(fs, DRFS_ST_RADOS_READ, 1);
	return drfs_ret(fs, rados_getxattr(fs->conn->io, oid, name, buf, size));
}

int drfs_omap_get(struct drfs_fs *fs, const char *oid, const char *key,
		  char *val, size_t size, size_t *len)
{
	rados_read_op_t op = rados_create_read_op();
	rados_omap_iter_t it = NULL;
	const char *keys[1] = {key};
	size_t klens[1] = {strlen(key)};
	char *k, *v;
	size_t kl, vl;
	int prval = 0, ret;

	rados_read_op_omap_get_vals_by_keys2(op, keys, 1, klens, &it, &prval);
	ret = drfs_rop(fs, oid, op, NULL);
	if (ret == 0) {
		ret = -ENOENT;
		if (rados_omap_get_next2(it, &k, &v, &kl, &vl) == 0 && k) {
			*len = vl;
			memcpy(val, v, vl < size ? vl : size);
			ret = 0;
		}
	}
	drfs_omap_end(it);
	rados_release_read_op(op);
	return ret;
}

/* ---- aio ---- */

enum aio_kind { AIO_READ, AIO_WRITE };

struct drfs_aio {
	struct drfs_fs *fs;
	rados_completion_t c;
	enum aio_kind kind;
	bool waited;
	int ret; /* once waited */
	uint64_t ver;
	drfs_aio_fn cb;
	void *arg;
	char oid[DRFS_OID_MAX];
};

/* Touches @a only before the caller's callback: that may free it. */
static void aio_done(rados_completion_t c, void *arg)
{
	struct drfs_aio *a = arg;

	(void)c;
	a->cb(a->arg);
}

/* A completion for an op on @oid, counted as @kind; NULL when fenced. */
static int aio_new(struct drfs_fs *fs, const char *oid, enum aio_kind kind,
		   drfs_aio_fn cb, void *arg, struct drfs_aio **out)
{
	struct drfs_aio *a;
	int ret;

	*out = NULL;
	if (fenced(fs))
		return -EIO;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->fs = fs;
	a->kind = kind;
	a->cb = cb;
	a->arg = arg;
	snprintf(a->oid, sizeof(a->oid), "%s", oid);
	/* no callback unless asked for: librados runs it after waiters
	 * wake, possibly after the caller released @a */
	ret = rados_aio_create_completion2(a, cb ? aio_done : NULL, &a->c);
	if (ret < 0) {
		free(a);
		return ret;
	}
	drfs_stat_add(
		fs, kind == AIO_READ ? DRFS_ST_RADOS_READ : DRFS_ST_RADOS_WRITE,
		1);
	*out = a;
	return 0;
}

/* Submitting failed with @ret: nothing is in flight. */
static int aio_unsent(struct drfs_fs *fs, struct drfs_aio **out, int ret)
{
	struct drfs_aio *a = *out;

	rados_aio_release(a->c);
	free(a);
	*out = NULL;
	return drfs_ret(fs, ret);
}

int drfs_aio_read(struct drfs_fs *fs, const char *oid, rados_read_op_t op,
		  struct drfs_aio **out)
{
	int ret = aio_new(fs, oid, AIO_READ, NULL, NULL, out);

	if (ret < 0)
		return ret;
	ret = rados_aio_read_op_operate(op, fs->conn->io, (*out)->c, oid, 0);
	return ret < 0 ? aio_unsent(fs, out, ret) : 0;
}

int drfs_aio_write(struct drfs_fs *fs, const char *oid, rados_write_op_t op,
		   int flags, drfs_aio_fn cb, void *arg, struct drfs_aio **out)
{
	int ret = aio_new(fs, oid, AIO_WRITE, cb, arg, out);

	if (ret < 0)
		return ret;
	ret = rados_aio_write_op_operate(op, fs->conn->io, (*out)->c, oid, NULL,
					 flags | LIBRADOS_OPERATION_FULL_TRY);
	return ret < 0 ? aio_unsent(fs, out, ret) : 0;
}

int drfs_aio_remove(struct drfs_fs *fs, const char *oid, struct drfs_aio **out)
{
	int ret = aio_new(fs, oid, AIO_WRITE, NULL, NULL, out);

	if (ret < 0)
		return ret;
	ret = rados_aio_remove(fs->conn->io, oid, (*out)->c);
	return ret < 0 ? aio_unsent(fs, out, ret) : 0;
}

static int aio_wait(struct drfs_aio *a, uint64_t *ver, bool announce)
{
	if (!a->waited) {
		int ret;

		rados_aio_wait_for_complete(a->c);
		ret = rados_aio_get_return_value(a->c);
		a->ver = rados_aio_get_version(a->c);
		a->ret = a->kind == AIO_READ || !announce
				 ? drfs_ret(a->fs, ret)
				 : landed(a->fs, a->oid, ret);
		if (a->kind == AIO_WRITE && ret < 0)
			a->ver = 0; /* did not land */
		a->waited = true;
	}
	if (ver)
		*ver = a->ver;
	return a->ret;
}

int drfs_aio_wait(struct drfs_aio *a, uint64_t *ver)
{
	return aio_wait(a, ver, true);
}

int drfs_aio_wait_unannounced(struct drfs_aio *a, uint64_t *ver)
{
	return aio_wait(a, ver, false);
}

void drfs_aio_release(struct drfs_aio *a)
{
	if (!a)
		return;
	if (!a->waited)
		rados_aio_wait_for_complete(a->c); /* teardown waits */
	rados_aio_release(a->c);
	free(a);
}

/* ---- omap listings ---- */

/* Copy @key (@klen bytes) into the cursor *@cur of capacity *@cap. */
static int cursor_set(char **cur, size_t *cap, const char *key, size_t klen)
{
	if (memchr(key, 0, klen))
		return -EIO; /* not a C string: cannot list after it */
	if (klen + 1 > *cap) {
		size_t ncap = klen + 1 > 2 * *cap ? klen + 1 : 2 * *cap;
		char *n = realloc(*cur, ncap);

		if (!n)
			return -ENOMEM;
		*cur = n;
		*cap = ncap;
	}
	memcpy(*cur, key, klen);
	(*cur)[klen] = 0;
	return 0;
}

/* Read one page after @cur and hand its keys to @fn; *@more if any left. */
static int list_page(struct drfs_fs *fs, const char *oid,
		     const struct drfs_omap_list *l, drfs_omap_fn fn, void *ctx,
		     char **cur, size_t *cap, bool *more)
{
	rados_read_op_t op = rados_create_read_op();
	rados_omap_iter_t it = NULL;
	unsigned char pmore = 0;
	char *k, *v;
	size_t kl, vl;
	int prval = 0, ret;

	if (!op)
		return -ENOMEM;
	if (l->add)
		l->add(ctx, op);
	rados_read_op_omap_get_vals2(op, *cur, l->prefix ? l->prefix : "",
				     l->page ? l->page : OMAP_PAGE, &it, &pmore,
				     &prval);
	ret = drfs_rop(fs, oid, op, l->ver);
	if (ret == 0 && prval < 0)
		ret = prval;
	if (l->more)
		*l->more = pmore;
	if (l->got) {
		int r2 = l->got(ctx, ret);

		if (r2)
			ret = r2;
	}
	while (ret == 0 && rados_omap_get_next2(it, &k, &v, &kl, &vl) == 0 &&
	       k) {
		ret = cursor_set(cur, cap, k, kl);
		if (ret == 0)
			ret = fn(ctx, *cur, kl, v, vl);
	}
	*more = ret == 0 && pmore;
	drfs_omap_end(it);
	rados_release_read_op(op);
	return ret;
}

int drfs_omap_list(struct drfs_fs *fs, const char *oid,
		   const struct drfs_omap_list *l, drfs_omap_fn fn, void *ctx)
{
	char *cur = NULL;
	size_t cap = 0;
	bool more = true;
	const char *after = l->after ? l->after : "";
	int ret = cursor_set(&cur, &cap, after, strlen(after));

	for (unsigned n = 0; ret == 0 && more && (!l->pages || n < l->pages);
	     n++)
		ret = list_page(fs, oid, l, fn, ctx, &cur, &cap, &more);
	free(cur);
	return ret;
}

/* ---- objects, cluster ---- */

int drfs_objects_list(struct drfs_fs *fs, int (*fn)(void *ctx, const char *oid),
		      void *ctx)
{
	rados_list_ctx_t lc;
	const char *oid, *key, *ns;
	int ret;

	if (fenced(fs))
		return -EIO;
	ret = rados_nobjects_list_open(fs->conn->io, &lc);
	if (ret < 0)
		return drfs_ret(fs, ret);
	while ((ret = rados_nobjects_list_next(lc, &oid, &key, &ns)) == 0) {
		ret = fn(ctx, oid);
		if (ret)
			break;
	}
	rados_nobjects_list_close(lc);
	return ret == -ENOENT ? 0 : drfs_ret(fs, ret);
}

struct wipe {
	struct drfs_fs *fs;
	int n;
};

static int wipe_one(void *ctx, const char *oid)
{
	struct wipe *w = ctx;
	int ret;

	drfs_stat_add(w->fs, DRFS_ST_RADOS_WRITE, 1);
	ret = rados_remove(w->fs->conn->io, oid);
	if (ret < 0 && ret != -ENOENT)
		return ret;
	w->n++;
	return 0;
}

int drfs_wipe_namespace(struct drfs_fs *fs)
{
	struct wipe w = {fs, 0};
	int ret = drfs_objects_list(fs, wipe_one, &w);

	return ret < 0 ? ret : w.n;
}

int drfs_lock_take(struct drfs_fs *fs, const char *oid, const char *name,
		   const char *cookie, const char *desc, unsigned secs)
{
	struct timeval tv = {(time_t)secs, 0};
	int ret;

	if (fenced(fs))
		return -EIO;
	ret = rados_lock_exclusive(fs->conn->io, oid, name, cookie, desc, &tv,
				   0);
	drfs_stat_add(fs, DRFS_ST_RADOS_WRITE, 1);
	return drfs_ret(fs, ret);
}

int drfs_lock_drop(struct drfs_fs *fs, const char *oid, const char *name,
		   const char *cookie)
{
	if (fenced(fs))
		return -EIO;
	drfs_stat_add(fs, DRFS_ST_RADOS_WRITE, 1);
	return drfs_ret(fs, rados_unlock(fs->conn->io, oid, name, cookie));
}

int drfs_pool_usage(struct drfs_fs *fs, uint64_t *kb, uint64_t *kb_avail,
		    uint64_t *objects)
{
	struct rados_cluster_stat_t cs;
	struct rados_pool_stat_t ps;
	int ret;

	if (fenced(fs))
		return -EIO;
	ret = rados_cluster_stat(fs->conn->cluster, &cs);
	if (ret < 0)
		return drfs_ret(fs, ret);
	ret = rados_ioctx_pool_stat(fs->conn->io, &ps);
	if (ret < 0)
		return drfs_ret(fs, ret);
	*kb = cs.kb;
	*kb_avail = cs.kb_avail;
	*objects = ps.num_objects;
	return 0;
}

int drfs_blocklist(struct drfs_fs *fs, const char *addr, unsigned secs)
{
	if (fenced(fs))
		return -EIO;
	return drfs_ret(
		fs, rados_blocklist_add(fs->conn->cluster, (char *)addr, secs));
}

int drfs_osdmap_wait(struct drfs_fs *fs)
{
	if (fenced(fs))
		return -EIO;
	return drfs_ret(fs, rados_wait_for_latest_osdmap(fs->conn->cluster));
}

uint64_t drfs_instance_id(struct drfs_fs *fs)
{
	return rados_get_instance_id(fs->conn->cluster);
}

int drfs_client_addr(struct drfs_fs *fs, char *buf, size_t size)
{
	char *addrs = NULL;
	int ret = rados_getaddrs(fs->conn->cluster, &addrs);

	if (ret < 0)
		return ret;
	/* "[v2:127.0.0.1:0/123,v1:...]": keep the first address. */
	{
		const char *p = addrs + (addrs[0] == '[');
		size_t n = strcspn(p, ",]");

		snprintf(buf, size, "%.*s", (int)n, p);
	}
	rados_buffer_free(addrs);
	return 0;
}

int drfs_mon_command(struct drfs_fs *fs, const char *cmd, char **out)
{
	const char *cmds[1] = {cmd};
	char *buf = NULL, *st = NULL;
	size_t blen = 0, slen = 0;
	int ret;

	*out = NULL;
	if (fenced(fs))
		return -EIO;
	ret = rados_mon_command(fs->conn->cluster, cmds, 1, "", 0, &buf, &blen,
				&st, &slen);
	if (ret == 0) {
		*out = malloc(blen + 1);
		if (*out) {
			memcpy(*out, buf ? buf : "", blen);
			(*out)[blen] = 0;
		} else {
			ret = -ENOMEM;
		}
	}
	rados_buffer_free(buf);
	rados_buffer_free(st);
	return drfs_ret(fs, ret);
}

/* ---- watch, notify ---- */

static void watch_cb(void *arg, uint64_t notify_id, uint64_t handle,
		     uint64_t notifier, void *data, size_t len)
{
	struct drfs_watch *w = arg;
	struct drfs_notify_in n = {w, notify_id, handle, notifier, data, len};

	w->cb(w->ctx, &n);
}

static void watch_err_cb(void *arg, uint64_t cookie, int err)
{
	struct drfs_watch *w = arg;

	(void)cookie;
	if (w->err)
		w->err(w->ctx, err);
}

int drfs_watch(struct drfs_fs *fs, struct drfs_watch *w, const char *oid,
	       unsigned timeout_s, drfs_watch_fn cb, drfs_watch_err_fn err,
	       void *ctx)
{
	rados_ioctx_t io = fs->conn->io;
	int ret;

	w->cookie = 0;
	if (fenced(fs))
		return -EIO;
	w->io = io;
	w->gen = fs->conn_gen;
	w->cb = cb;
	w->err = err;
	w->ctx = ctx;
	snprintf(w->oid, sizeof(w->oid), "%s", oid);
	if (timeout_s)
		ret = rados_watch3(io, w->oid, &w->cookie, watch_cb,
				   watch_err_cb, timeout_s, w);
	else
		ret = rados_watch2(io, w->oid, &w->cookie, watch_cb,
				   watch_err_cb, w);
	if (ret < 0)
		w->cookie = 0;
	return drfs_ret(fs, ret);
}

bool drfs_watch_armed(const struct drfs_watch *w)
{
	return w->cookie != 0;
}

bool drfs_watch_current(struct drfs_fs *fs, const struct drfs_watch *w)
{
	return w->gen == fs->conn_gen;
}

int drfs_watch_check(struct drfs_watch *w)
{
	return rados_watch_check(w->io, w->cookie);
}

/*
 * Undoing and acknowledging are not refused when fenced: they only tidy
 * up the old client (its linger ops), which the rejoin then closes.
 */
void drfs_unwatch(struct drfs_watch *w)
{
	if (!w->cookie)
		return;
	rados_unwatch2(w->io, w->cookie);
	w->cookie = 0;
}

void drfs_watch_forget(struct drfs_watch *w)
{
	w->cookie = 0;
}

void drfs_notify_ack(const struct drfs_notify_in *n)
{
	rados_notify_ack(n->w->io, n->w->oid, n->id, n->handle, NULL, 0);
}

void drfs_watch_flush(struct drfs_fs *fs)
{
	rados_watch_flush(fs->conn->cluster);
}

/* Who acknowledged a notify, from its reply. */
static void notify_decode(char *reply, size_t rlen, struct drfs_notify_out *o)
{
	struct notify_ack_t *acks = NULL;
	struct notify_timeout_t *tmo = NULL;
	size_t nacks = 0, ntmo = 0;

	if (rados_decode_notify_response(reply, rlen, &acks, &nacks, &tmo,
					 &ntmo) < 0) {
		o->bad_reply = true;
		return;
	}
	o->acked = nacks;
	o->timedout = ntmo ? calloc(ntmo, sizeof(*o->timedout)) : NULL;
	if (o->timedout || !ntmo) {
		o->ntimedout = ntmo;
		for (size_t i = 0; i < ntmo; i++)
			o->timedout[i] = tmo[i].notifier_id;
	} else {
		o->bad_reply = true; /* cannot tell who: as undecodable */
	}
	rados_free_notify_response(acks, nacks, tmo);
}

int drfs_notify(struct drfs_fs *fs, const char *oid, const void *buf,
		size_t len, uint64_t timeout_ms, struct drfs_notify_out *out)
{
	char *reply = NULL;
	size_t rlen = 0;
	int ret;

	if (out)
		memset(out, 0, sizeof(*out));
	if (fenced(fs))
		return -EIO;
	ret = rados_notify2(fs->conn->io, oid, buf, (int)len, timeout_ms,
			    &reply, &rlen);
	if (reply && out)
		notify_decode(reply, rlen, out);
	if (reply)
		rados_buffer_free(reply);
	return fenced_check(fs, ret);
}

void drfs_notify_async(struct drfs_fs *fs, const char *oid, const void *buf,
		       size_t len, uint64_t timeout_ms)
{
	rados_completion_t c;

	if (fenced(fs))
		return;
	if (rados_aio_create_completion2(NULL, NULL, &c) == 0) {
		rados_aio_notify(fs->conn->io, oid, c, buf, (int)len,
				 timeout_ms, NULL, NULL);
		rados_aio_release(c);
	}
}
