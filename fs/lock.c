/*
 * lock.c - cluster-wide fcntl/flock locks and node sessions (see lock.h).
 *
 * Lock records: omap of "l.<ino>", key "<node>:<kind>:<owner 16 hex>:<start
 * 16 hex>", value: end (8), type (4), pid (4), XXH3 (8).  An owner's ranges
 * are kept split and merged exactly as Linux does for one process, so the
 * records always describe the owner's locks without overlap.
 *
 * Session records: omap of "sessions", key node UUID, value
 * "<expire_ns> <client address> <info>".
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "lock.h"
#include "log.h"

#define LK_VAL_LEN 24
#define MAX_LOCKS 4096

struct rec {
	char node[37];
	int kind;
	uint64_t owner;
	struct drfs_lk lk;
	char key[96];
};

bool drfs_lk_overlap(const struct drfs_lk *a, const struct drfs_lk *b)
{
	return a->start <= b->end && b->start <= a->end;
}

void drfs_lock_oid(char out[DRFS_OID_MAX], uint64_t ino)
{
	snprintf(out, DRFS_OID_MAX, "l.%016" PRIx64, ino);
}

static void rec_key(struct rec *r)
{
	snprintf(r->key, sizeof(r->key), "%s:%d:%016" PRIx64 ":%016" PRIx64,
		 r->node, r->kind, r->owner, r->lk.start);
}

static void rec_val(const struct rec *r, char out[LK_VAL_LEN])
{
	uint32_t t = (uint32_t)r->lk.type;
	uint64_t h;

	memcpy(out, &r->lk.end, 8);
	memcpy(out + 8, &t, 4);
	memcpy(out + 12, &r->lk.pid, 4);
	h = drfs_hash(out, 16);
	memcpy(out + 16, &h, 8);
}

static int rec_parse(const char *k, size_t kl, const char *v, size_t vl,
		     struct rec *r)
{
	char key[96];
	uint32_t t;
	uint64_t h;

	if (kl >= sizeof(key) || vl != LK_VAL_LEN)
		return -EIO;
	memcpy(key, k, kl);
	key[kl] = 0;
	memcpy(&h, v + 16, 8);
	if (h != drfs_hash(v, 16))
		return -EIO;
	if (sscanf(key, "%36[0-9a-f-]:%d:%16" SCNx64 ":%16" SCNx64, r->node,
		   &r->kind, &r->owner, &r->lk.start) != 4)
		return -EIO;
	memcpy(&r->lk.end, v, 8);
	memcpy(&t, v + 8, 4);
	memcpy(&r->lk.pid, v + 12, 4);
	r->lk.type = (int)t;
	snprintf(r->key, sizeof(r->key), "%s", key);
	return 0;
}

/* Read every lock record of @oid; returns count, version in *ver. */
static int locks_read(struct drfs_fs *fs, const char *oid, struct rec *recs,
		      uint64_t *ver)
{
	rados_read_op_t op = rados_create_read_op();
	rados_omap_iter_t it = NULL;
	unsigned char more = 0;
	char *k, *v;
	size_t kl, vl;
	int prval = 0, ret, n = 0;

	rados_read_op_omap_get_vals2(op, "", "", MAX_LOCKS, &it, &more, &prval);
	ret = drfs_rop(fs, oid, op, ver);
	while (ret == 0 && rados_omap_get_next2(it, &k, &v, &kl, &vl) == 0 &&
	       k) {
		if (n == MAX_LOCKS) {
			ret = -ENOLCK;
			break;
		}
		if (rec_parse(k, kl, v, vl, &recs[n]) < 0) {
			drfs_err("lock object %s: record %.*s is corrupt; "
				 "ignored",
				 oid, (int)kl, k);
			continue;
		}
		n++;
	}
	if (it)
		rados_omap_get_end(it);
	rados_release_read_op(op);
	if (ret == -ENOENT) {
		*ver = 0;
		return 0;
	}
	return ret < 0 ? ret : n;
}

/* ---- sessions ---- */

struct session {
	int64_t expire_ns;
	char addr[128];
};

static int session_get(struct drfs_fs *fs, const char *node, struct session *s)
{
	char buf[256];
	size_t len = 0;
	int ret =
		drfs_omap_get(fs, "sessions", node, buf, sizeof(buf) - 1, &len);

	if (ret < 0)
		return ret;
	buf[len < sizeof(buf) - 1 ? len : sizeof(buf) - 1] = 0;
	s->addr[0] = 0;
	if (sscanf(buf, "%" SCNd64 " %127s", &s->expire_ns, s->addr) < 1)
		return -ENOENT;
	return 0;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * May this node judge other nodes' leases?  Only if its own renewals have
 * gone through, without a gap longer than LEASE_GAP, for a whole lease
 * period (so also not in its first DRFS_LEASE seconds).  After an outage that stopped everybody's renewals (OSDs below
 * min_size, monitors and OSDs restarting, a full cluster) every lease
 * looks expired; the other nodes renew within DRFS_LEASE_RENEW seconds of
 * the cluster's return and must not be fenced for the cluster's fault.
 * (Waiting longer before breaking a dead node's locks is always safe.)
 */
#define LEASE_GAP (2 * DRFS_LEASE_RENEW * 1000000000ll)
static bool lease_judge_ok(struct drfs_fs *fs)
{
	int64_t now = mono_ns();
	int64_t last = __atomic_load_n(&fs->lease_ok_last, __ATOMIC_RELAXED);
	int64_t since = __atomic_load_n(&fs->lease_ok_since, __ATOMIC_RELAXED);
	static int64_t logged;

	if (last && now - last <= LEASE_GAP &&
	    now - since >= DRFS_LEASE * 1000000000ll)
		return true;
	if (now - __atomic_load_n(&logged, __ATOMIC_RELAXED) > 10000000000ll) {
		__atomic_store_n(&logged, now, __ATOMIC_RELAXED);
		drfs_info("a node holding a lock missed its lease, but this "
			  "node's own lease renewals were interrupted "
			  "too (cluster unavailable?): it is not fenced "
			  "until this node has renewed for %d s",
			  DRFS_LEASE);
	}
	return false;
}

/*
 * Is @node's session dead (missing or expired)?  If so, fence it: add its
 * address to the OSD blocklist, then remove its session.  Returns 1 when
 * the node is dead and fenced, 0 when alive (or expired while this node
 * cannot tell, see lease_judge_ok), -errno.
 */
static int fence_if_dead(struct drfs_fs *fs, const char *node)
{
	struct session s;
	int64_t now = drfs_now_ns();
	int ret;

	if (!strcmp(node, fs->node))
		return 0;
	ret = session_get(fs, node, &s);
	if (ret == 0 && s.expire_ns + 1000000000ll > now)
		return 0; /* alive (1 s of clock skew allowed) */
	if (ret < 0 && ret != -ENOENT)
		return ret;
	if (ret == 0 && !lease_judge_ok(fs))
		return 0; /* (a missing session was fenced or unmounted) */
	if (ret == 0 && s.addr[0]) {
		ret = rados_blocklist_add(fs->cluster, s.addr, 3600);
		if (ret < 0) {
			drfs_err("cannot fence node %s (%s): %s; its locks "
				 "stay",
				 node, s.addr, strerror(-ret));
			return ret;
		}
		drfs_warn("node %s (%s) missed its lease: blocklisted, its "
			  "locks are released",
			  node, s.addr);
		{
			rados_write_op_t op = rados_create_write_op();

			drfs_op_rm(op, node);
			drfs_wop(fs, "sessions", op,
				 LIBRADOS_OPERATION_FULL_FORCE);
			rados_release_write_op(op);
		}
	}
	return 1;
}

/* ---- locks ---- */

static bool same_owner(const struct drfs_fs *fs, const struct rec *r, int kind,
		       uint64_t owner)
{
	return r->kind == kind && r->owner == owner &&
	       !strcmp(r->node, fs->node);
}

static bool conflicts(const struct drfs_lk *a, const struct drfs_lk *b)
{
	return drfs_lk_overlap(a, b) &&
	       (a->type == F_WRLCK || b->type == F_WRLCK);
}

/*
 * New set of @owner's records after applying @lk to @mine (n entries);
 * writes at most n + 2 entries into @out.
 */
static int apply_range(const struct rec *mine, int n, const struct drfs_lk *lk,
		       struct rec *out)
{
	int m = 0;

	for (int i = 0; i < n; i++) {
		const struct drfs_lk *o = &mine[i].lk;

		if (!drfs_lk_overlap(o, lk)) {
			out[m++] = mine[i];
			continue;
		}
		if (o->start < lk->start) {
			out[m] = mine[i];
			out[m].lk.end = lk->start - 1;
			m++;
		}
		if (o->end > lk->end) {
			out[m] = mine[i];
			out[m].lk.start = lk->end + 1;
			m++;
		}
	}
	if (lk->type != F_UNLCK) {
		struct rec r = mine[0];

		r.lk = *lk;
		/* merge with adjacent or overlapping same-type ranges */
		for (int i = 0; i < m; i++) {
			struct drfs_lk *o = &out[i].lk;
			bool touch = (o->end != UINT64_MAX &&
				      o->end + 1 == r.lk.start) ||
				     (r.lk.end != UINT64_MAX &&
				      r.lk.end + 1 == o->start);

			if (o->type == r.lk.type &&
			    (touch || drfs_lk_overlap(o, &r.lk))) {
				if (o->start < r.lk.start)
					r.lk.start = o->start;
				if (o->end > r.lk.end)
					r.lk.end = o->end;
				out[i] = out[--m];
				i = -1;
			}
		}
		out[m++] = r;
	}
	return m;
}

int drfs_lock_set(struct drfs_fs *fs, uint64_t ino, int kind, uint64_t owner,
		  const struct drfs_lk *lk, struct drfs_lk *conflict)
{
	char oid[DRFS_OID_MAX];
	struct rec *recs = calloc(2 * MAX_LOCKS + 4, sizeof(*recs));
	int ret;

	if (!recs)
		return -ENOMEM;
	if (__atomic_load_n(&fs->fenced, __ATOMIC_RELAXED)) {
		free(recs);
		return -EIO;
	}
	drfs_stat_add(fs, DRFS_ST_LOCK_OPS, 1);
	drfs_lock_oid(oid, ino);
	for (;;) {
		struct rec *mine = recs + MAX_LOCKS, *out;
		char(*vals)[LK_VAL_LEN];
		const char **keys, **vptr;
		size_t *kl, *vl;
		rados_write_op_t op;
		uint64_t ver = 0;
		int n, nm = 0, nout, nrm = 0, dead = 0;

		n = locks_read(fs, oid, recs, &ver);
		if (n < 0) {
			ret = n;
			break;
		}
		ret = 0;
		for (int i = 0; i < n; i++) {
			if (same_owner(fs, &recs[i], kind, owner)) {
				mine[nm++] = recs[i];
				continue;
			}
			if (lk->type == F_UNLCK || recs[i].kind != kind ||
			    !conflicts(&recs[i].lk, lk))
				continue;
			ret = fence_if_dead(fs, recs[i].node);
			if (ret == 1) {
				dead = 1;
				continue;
			}
			if (ret == 0)
				ret = -EAGAIN;
			if (conflict)
				*conflict = recs[i].lk;
			break;
		}
		if (ret == -EAGAIN)
			drfs_stat_add(fs, DRFS_ST_LOCK_CONFLICTS, 1);
		if (ret < 0)
			break;
		if (nm == 0 && lk->type == F_UNLCK && !dead)
			break; /* nothing to release */
		if (nm == 0) {
			snprintf(mine[0].node, sizeof(mine[0].node), "%s",
				 fs->node);
			mine[0].kind = kind;
			mine[0].owner = owner;
		}
		out = malloc((size_t)(nm + 2) * sizeof(*out));
		keys = malloc((size_t)(n + nm + 2) * sizeof(*keys));
		kl = malloc((size_t)(n + nm + 2) * sizeof(*kl));
		vptr = malloc((size_t)(nm + 2) * sizeof(*vptr));
		vl = malloc((size_t)(nm + 2) * sizeof(*vl));
		vals = malloc((size_t)(nm + 2) * LK_VAL_LEN);
		if (!out || !keys || !kl || !vptr || !vl || !vals) {
			ret = -ENOMEM;
			goto next_free;
		}
		nout = apply_range(mine, nm, lk, out);
		/* remove the owner's old records and any dead node's */
		for (int i = 0; i < n; i++) {
			bool drop = same_owner(fs, &recs[i], kind, owner);

			if (!drop && dead && strcmp(recs[i].node, fs->node)) {
				struct session s;

				drop = session_get(fs, recs[i].node, &s) ==
				       -ENOENT;
			}
			if (drop) {
				if (!same_owner(fs, &recs[i], kind, owner))
					drfs_stat_add(fs, DRFS_ST_LOCKS_BROKEN,
						      1);
				keys[nrm] = recs[i].key;
				kl[nrm] = strlen(recs[i].key);
				nrm++;
			}
		}
		op = rados_create_write_op();
		if (ver)
			rados_write_op_assert_version(op, ver);
		else
			rados_write_op_create(op, LIBRADOS_CREATE_EXCLUSIVE,
					      NULL);
		if (nrm)
			rados_write_op_omap_rm_keys2(op, keys, kl, (size_t)nrm);
		for (int i = 0; i < nout; i++) {
			rec_key(&out[i]);
			rec_val(&out[i], vals[i]);
			keys[i] = out[i].key;
			kl[i] = strlen(out[i].key);
			vptr[i] = vals[i];
			vl[i] = LK_VAL_LEN;
		}
		if (nout)
			rados_write_op_omap_set2(op, keys, vptr, kl, vl,
						 (size_t)nout);
		ret = drfs_wop(fs, oid, op, LIBRADOS_OPERATION_FULL_FORCE);
		rados_release_write_op(op);
next_free:
		free(out);
		free(keys);
		free(kl);
		free(vptr);
		free(vl);
		free(vals);
		if (ret == -ERANGE || ret == -EOVERFLOW || ret == -EEXIST) {
			drfs_stat_add(fs, DRFS_ST_RADOS_RETRY, 1);
			continue;
		}
		if (ret == 0 && (lk->type == F_UNLCK || nrm > 0)) {
			/* wake waiters on other nodes (no need to wait) */
			rados_completion_t c;

			if (rados_aio_create_completion2(NULL, NULL, &c) == 0) {
				rados_aio_notify(fs->io, oid, c, "u", 1, 2000,
						 NULL, NULL);
				rados_aio_release(c);
			}
		}
		break;
	}
	free(recs);
	return ret;
}

int drfs_lock_get(struct drfs_fs *fs, uint64_t ino, int kind, uint64_t owner,
		  struct drfs_lk *lk)
{
	char oid[DRFS_OID_MAX];
	struct rec *recs = calloc(MAX_LOCKS, sizeof(*recs));
	uint64_t ver;
	int n;

	if (!recs)
		return -ENOMEM;
	drfs_lock_oid(oid, ino);
	n = locks_read(fs, oid, recs, &ver);
	if (n < 0) {
		free(recs);
		return n;
	}
	for (int i = 0; i < n; i++) {
		if (same_owner(fs, &recs[i], kind, owner) ||
		    recs[i].kind != kind || !conflicts(&recs[i].lk, lk))
			continue;
		if (fence_if_dead(fs, recs[i].node) == 1)
			continue;
		*lk = recs[i].lk;
		free(recs);
		return 0;
	}
	lk->type = F_UNLCK;
	free(recs);
	return 0;
}

int drfs_lock_release(struct drfs_fs *fs, uint64_t ino, int kind,
		      uint64_t owner)
{
	struct drfs_lk all = {0, UINT64_MAX, F_UNLCK, 0};

	return drfs_lock_set(fs, ino, kind, owner, &all, NULL);
}

/* ---- session lifecycle ---- */

static int session_put(struct drfs_fs *fs, bool first)
{
	char val[256];
	int n, pr = 0, ret;
	rados_write_op_t op = rados_create_write_op();

	n = snprintf(val, sizeof(val), "%" PRId64 " %s datarootfs-%s",
		     drfs_now_ns() + (int64_t)DRFS_LEASE * 1000000000, fs->addr,
		     DRFS_VERSION);
	rados_write_op_create(op, LIBRADOS_CREATE_IDEMPOTENT, NULL);
	if (!first) /* still ours? (absent or changed: we were fenced) */
		drfs_op_cmp(op, fs->node, fs->session_val, fs->session_vlen,
			    &pr);
	drfs_op_set(op, fs->node, val, (size_t)n);
	ret = drfs_wop(fs, "sessions", op, LIBRADOS_OPERATION_FULL_FORCE);
	rados_release_write_op(op);
	if (ret == 0) {
		memcpy(fs->session_val, val, (size_t)n);
		fs->session_vlen = (size_t)n;
	}
	return ret;
}

/*
 * Publish this node's counters next to its session (object "nodestats",
 * key: node), so `datarootctl status` can show every node's activity.
 */
static void stats_publish(struct drfs_fs *fs)
{
	char val[4096], name[64];
	size_t n = 0;
	rados_write_op_t op;

	for (int i = 0; i < DRFS_ST__COUNT && n < sizeof(val); i++)
		n += (size_t)snprintf(
			val + n, sizeof(val) - n, "%s=%" PRIu64 " ",
			drfs_stat_name(i, name, sizeof(name)),
			__atomic_load_n(&fs->stats[i], __ATOMIC_RELAXED));
	if (n > sizeof(val))
		n = sizeof(val);
	op = rados_create_write_op();
	rados_write_op_create(op, LIBRADOS_CREATE_IDEMPOTENT, NULL);
	drfs_op_set(op, fs->node, val, n);
	drfs_wop(fs, "nodestats", op, LIBRADOS_OPERATION_FULL_FORCE);
	rados_release_write_op(op);
}

/* A successful renewal at @now: extend (or, after a gap, restart) the
 * period of uninterrupted renewals. */
static void lease_renewed(struct drfs_fs *fs, int64_t now)
{
	int64_t last = __atomic_load_n(&fs->lease_ok_last, __ATOMIC_RELAXED);

	if (!last || now - last > LEASE_GAP)
		__atomic_store_n(&fs->lease_ok_since, now, __ATOMIC_RELAXED);
	__atomic_store_n(&fs->lease_ok_last, now, __ATOMIC_RELAXED);
}

/* Run the on_fenced hook (the daemon's rejoin), unless stopping. */
static void rejoin_run(struct drfs_fs *fs)
{
	void (*cb)(void *ctx);
	void *ctx;

	pthread_mutex_lock(&fs->session_lock);
	cb = fs->on_fenced;
	ctx = fs->on_fenced_ctx;
	if (!cb || fs->session_stop) {
		pthread_mutex_unlock(&fs->session_lock);
		return;
	}
	fs->rejoining = true;
	pthread_mutex_unlock(&fs->session_lock);
	cb(ctx);
	pthread_mutex_lock(&fs->session_lock);
	fs->rejoining = false;
	pthread_cond_broadcast(&fs->session_cond);
	pthread_mutex_unlock(&fs->session_lock);
}

/* Renew the lease; conn_lock is held. */
static void session_renew(struct drfs_fs *fs, int64_t *last_ok)
{
	int64_t t0 = drfs_now_ns(), now, gap;
	int ret = session_put(fs, false);

	if (ret == -ECANCELED)
		drfs_set_fenced(fs, "its session record was removed");
	else if (ret < 0 && !drfs_is_fenced(fs))
		drfs_warn("cannot renew the node lease: %s", strerror(-ret));
	/* A renewal that hung (network partition) has come back: the call
	 * itself took more than a renewal period and half the lease had
	 * gone (a slow reaper or a loaded host alone does not say so). */
	now = drfs_now_ns();
	gap = now - *last_ok;
	if ((ret == 0 || drfs_is_fenced(fs)) &&
	    now - t0 > (int64_t)DRFS_LEASE_RENEW * 1000000000 &&
	    gap > (int64_t)DRFS_LEASE * 1000000000 / 2)
		drfs_warn("the cluster answers again after %.1f s without a "
			  "lease renewal (lease %d s)%s",
			  gap / 1e9, DRFS_LEASE,
			  ret == 0 ? ": lease renewed, no node broke it" : "");
	/* the expiry it wrote was computed before it hung: renew again */
	if (ret == 0 && now - t0 > (int64_t)DRFS_LEASE_RENEW * 1000000000)
		ret = session_put(fs, false);
	if (ret == -ECANCELED)
		drfs_set_fenced(fs, "its session record was removed");
	if (ret < 0)
		return;
	*last_ok = drfs_now_ns();
	lease_renewed(fs, mono_ns());
	stats_publish(fs);
}

/*
 * The lease thread: renews every DRFS_LEASE_RENEW s; once fenced, calls
 * the on_fenced hook every second until it has rejoined.
 */
static void *session_main(void *arg)
{
	struct drfs_fs *fs = arg;
	int64_t last_ok = drfs_now_ns();

	pthread_mutex_lock(&fs->session_lock);
	while (!fs->session_stop) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += drfs_is_fenced(fs) ? 1 : DRFS_LEASE_RENEW;
		pthread_cond_timedwait(&fs->session_cond, &fs->session_lock,
				       &ts);
		if (fs->session_stop)
			break;
		pthread_mutex_unlock(&fs->session_lock);
		if (!drfs_is_fenced(fs)) {
			drfs_conn_rdlock(fs);
			session_renew(fs, &last_ok);
			drfs_conn_unlock(fs);
		}
		if (drfs_is_fenced(fs)) {
			rejoin_run(fs);
			if (!drfs_is_fenced(fs))
				last_ok = drfs_now_ns();
		}
		pthread_mutex_lock(&fs->session_lock);
	}
	pthread_mutex_unlock(&fs->session_lock);
	return NULL;
}

/*
 * Frees unlinked inodes whose grace period is over, every ~20 s
 * (idempotent if several nodes do it).  Its own thread: freeing a backlog
 * of thousands of inodes on a slow (recovering) cluster takes longer than
 * a lease, and the renewals must not wait behind it.
 */
static void *reaper_main(void *arg)
{
	struct drfs_fs *fs = arg;

	pthread_mutex_lock(&fs->session_lock);
	while (!fs->session_stop) {
		struct timespec ts;
		int n;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 5 * DRFS_LEASE_RENEW;
		pthread_cond_timedwait(&fs->session_cond, &fs->session_lock,
				       &ts);
		if (fs->session_stop)
			break;
		pthread_mutex_unlock(&fs->session_lock);
		drfs_conn_rdlock(fs);
		if (!drfs_is_fenced(fs)) {
			n = drfs_orphans_reap(fs, DRFS_ORPHAN_GRACE);
			if (n > 0)
				drfs_dbg("reaped %d unlinked inode(s)", n);
		}
		drfs_conn_unlock(fs);
		pthread_mutex_lock(&fs->session_lock);
	}
	pthread_mutex_unlock(&fs->session_lock);
	return NULL;
}

/* Learn our client address and write our session record. */
static int session_register(struct drfs_fs *fs)
{
	char *addrs = NULL;
	int ret;

	ret = rados_getaddrs(fs->cluster, &addrs);
	if (ret < 0)
		return ret;
	/* "[v2:127.0.0.1:0/123,v1:...]": keep the first address. */
	{
		const char *p = addrs + (addrs[0] == '[');
		size_t n = strcspn(p, ",]");

		snprintf(fs->addr, sizeof(fs->addr), "%.*s", (int)n, p);
	}
	rados_buffer_free(addrs);
	return session_put(fs, true);
}

int drfs_session_start(struct drfs_fs *fs)
{
	int ret = session_register(fs);

	if (ret < 0)
		return ret;
	lease_renewed(fs, mono_ns());
	pthread_mutex_init(&fs->session_lock, NULL);
	pthread_cond_init(&fs->session_cond, NULL);
	ret = -pthread_create(&fs->session_thread, NULL, session_main, fs);
	if (ret < 0)
		return ret;
	ret = -pthread_create(&fs->reaper_thread, NULL, reaper_main, fs);
	if (ret < 0) {
		pthread_mutex_lock(&fs->session_lock);
		fs->session_stop = true;
		pthread_cond_broadcast(&fs->session_cond);
		pthread_mutex_unlock(&fs->session_lock);
		pthread_join(fs->session_thread, NULL);
		return ret;
	}
	fs->session_up = true;
	return 0;
}

void drfs_session_on_fenced(struct drfs_fs *fs, void (*cb)(void *ctx),
			    void *ctx)
{
	if (!fs->session_up)
		return;
	pthread_mutex_lock(&fs->session_lock);
	fs->on_fenced = cb;
	fs->on_fenced_ctx = ctx;
	while (!cb && fs->rejoining)
		pthread_cond_wait(&fs->session_cond, &fs->session_lock);
	pthread_mutex_unlock(&fs->session_lock);
}

static void omap_rm_key(struct drfs_fs *fs, const char *oid, const char *key)
{
	rados_write_op_t op = rados_create_write_op();

	drfs_op_rm(op, key);
	drfs_wop(fs, oid, op, LIBRADOS_OPERATION_FULL_FORCE);
	rados_release_write_op(op);
}

int drfs_rejoin_locked(struct drfs_fs *fs, char *err, size_t errlen)
{
	char old[sizeof(fs->node)];
	int ret;

	memcpy(old, fs->node, sizeof(old));
	ret = drfs_reconnect_locked(fs, err, errlen);
	if (ret < 0)
		return ret;
	__atomic_store_n(&fs->fenced, false, __ATOMIC_SEQ_CST);
	ret = session_register(fs);
	if (ret < 0) {
		__atomic_store_n(&fs->fenced, true, __ATOMIC_SEQ_CST);
		snprintf(err, errlen, "cannot register a new session: %s",
			 strerror(-ret));
		return ret;
	}
	/* Our old identity is dead (its client instance is shut down):
	 * its leftover locks become breakable at once, like a crashed
	 * node's. */
	omap_rm_key(fs, "sessions", old);
	omap_rm_key(fs, "nodestats", old);
	return 0;
}

void drfs_session_stop(struct drfs_fs *fs)
{
	rados_write_op_t op;

	if (!fs->session_up)
		return;
	pthread_mutex_lock(&fs->session_lock);
	fs->session_stop = true;
	pthread_cond_broadcast(&fs->session_cond);
	pthread_mutex_unlock(&fs->session_lock);
	pthread_join(fs->session_thread, NULL);
	pthread_join(fs->reaper_thread, NULL);
	fs->session_up = false;
	op = rados_create_write_op();
	drfs_op_rm(op, fs->node);
	drfs_wop(fs, "sessions", op, LIBRADOS_OPERATION_FULL_FORCE);
	rados_release_write_op(op);
	op = rados_create_write_op();
	drfs_op_rm(op, fs->node);
	drfs_wop(fs, "nodestats", op, LIBRADOS_OPERATION_FULL_FORCE);
	rados_release_write_op(op);
}

int drfs_nodestats_get(struct drfs_fs *fs, const char *node, char *buf,
		       size_t size)
{
	size_t len = 0;
	int ret = drfs_omap_get(fs, "nodestats", node, buf, size - 1, &len);

	buf[ret == 0 ? (len < size - 1 ? len : size - 1) : 0] = 0;
	return ret;
}

int drfs_sessions_list(struct drfs_fs *fs,
		       void (*cb)(void *ctx, const char *node, const char *addr,
				  int64_t expire_ns, const char *info),
		       void *ctx)
{
	rados_read_op_t op = rados_create_read_op();
	rados_omap_iter_t it = NULL;
	unsigned char more = 0;
	char *k, *v;
	size_t kl, vl;
	int prval = 0, ret, n = 0;

	rados_read_op_omap_get_vals2(op, "", "", 1024, &it, &more, &prval);
	ret = drfs_rop(fs, "sessions", op, NULL);
	while (ret == 0 && rados_omap_get_next2(it, &k, &v, &kl, &vl) == 0 &&
	       k) {
		char node[64], buf[256], addr[128] = "", info[64] = "";
		int64_t exp = 0;

		snprintf(node, sizeof(node), "%.*s", (int)kl, k);
		snprintf(buf, sizeof(buf), "%.*s", (int)vl, v);
		sscanf(buf, "%" SCNd64 " %127s %63s", &exp, addr, info);
		cb(ctx, node, addr, exp, info);
		n++;
	}
	if (it)
		rados_omap_get_end(it);
	rados_release_read_op(op);
	if (ret == -ENOENT)
		return 0;
	return ret < 0 ? ret : n;
}
