/*
 * lock.c - cluster-wide fcntl/flock locks and node sessions (see lock.h).
 *
 * Lock records: omap of "l.<ino>", key "<node>:<kind>:<owner 16 hex>:<start
 * 16 hex>", value: end (8), type (4), pid (4), XXH3 (8).  An owner's ranges
 * are kept split and merged exactly as Linux does for one process
 * (drfs_lk_apply), so the records always describe the owner's locks
 * without overlap.  Xattr "v" of the object is its change token
 * ("<node>.<counter>", unique): every change is one compound op guarded by
 * cmpxattr("v" == the token it was computed from) that sets a new token,
 * or an exclusive create when the object does not exist yet.
 *
 * The fast path.  Each node caches, per lock object it used, the records
 * and token its last operation read or left (struct lkobj).  A lock or
 * unlock on a known object is one guarded write, no read first: a stale
 * entry (another node changed the object since) fails the guard
 * (-ECANCELED) and costs a read and a retry, never a wrong grant.  A
 * conflict seen only in the cache is looked at again (the other node may
 * have unlocked since); our own node's records are exact in the cache
 * (nobody else adds or drops them while our session lives).  An
 * uncontended flock pair is two writes and, after the unlock, a notify
 * that is not waited for.
 *
 * Parked requests.  A blocking request that meets a conflict writes a
 * waiter record ("<node>:<kind + 2>:<owner>:<start>:<since>", the value of
 * a lock record), guarded like any change, and notifies the new state.
 * Every later write on the object grants, in the same op, the waiters it
 * leaves free of conflicts, oldest first (lk_grant_pass): the record goes
 * and the lock is written in the waiter's name.  Its notify carries the
 * state to the waiter's node, whose retry then finds the lock its own
 * without a RADOS call: a handoff between nodes is the unlock's write and
 * a notify, not an unlock, a notify and a lock.  So another node may add
 * records of ours (never remove them): our cache can miss a grant (the
 * guard catches that), never show a lock we lost.  A waiter answered
 * without the lock (signal, error, unmount) takes its record back
 * (LKF_CANCEL: if it was granted first, it keeps the lock and says so);
 * the close of its file takes it with its locks.  A node killed while it
 * waits may be granted a lock; it holds it like a dead holder, until its
 * lease ends.
 *
 * Unlocks wait for their write.  Sending it and returning at once would
 * save nothing on a lock that follows (the OSD applies the two writes on
 * the object one after the other anyway), and would break what a single
 * Linux host guarantees: once flock(LOCK_UN) has returned, a LOCK_NB by
 * anyone told so (through a pipe, a database row, an HTTP request) must
 * succeed.  t0710 checks that across nodes.
 *
 * Session records: omap of "sessions", key node UUID, value
 * "<expire_ns> <client address> <info>".
 *
 * Locking: conn_lock (read) before lkobj.m before lkcache.lock; lkobj.m
 * is held across the RADOS calls of one operation on that object,
 * lkcache.lock never.
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
#define LK_TOKEN_XATTR "v"
#define LK_TOKEN_MAX 64
#define LK_KEY_MAX 112 /* a record's key, with its NUL */

/* a waiter record's kind in its key: the request's kind + LK_WAIT_KIND */
#define LK_WAIT_KIND 2

struct rec {
	char node[37];
	int kind; /* DRFS_LK_POSIX or DRFS_LK_FLOCK (a waiter's too) */
	uint64_t owner;
	struct drfs_lk lk;
	bool wait; /* a parked request, not a lock (holds nothing) */
	bool put; /* lk_change_locked: written by the op being built */
	int64_t since; /* a waiter's: when it was parked (wall clock ns) */
	char key[LK_KEY_MAX];
};

void drfs_lock_oid(char out[DRFS_OID_MAX], uint64_t ino)
{
	snprintf(out, DRFS_OID_MAX, "l.%016" PRIx64, ino);
}

/* ---- pure logic (lock.h; tests/unit/test_lock.c) ---- */

bool drfs_lk_overlap(const struct drfs_lk *a, const struct drfs_lk *b)
{
	return a->start <= b->end && b->start <= a->end;
}

bool drfs_lk_conflict(const struct drfs_lk *a, const struct drfs_lk *b)
{
	return drfs_lk_overlap(a, b) &&
	       (a->type == F_WRLCK || b->type == F_WRLCK);
}

/* Do @a and @b touch end to start (no byte between them)? */
static bool lk_adjacent(const struct drfs_lk *a, const struct drfs_lk *b)
{
	return (a->end != UINT64_MAX && a->end + 1 == b->start) ||
	       (b->end != UINT64_MAX && b->end + 1 == a->start);
}

int drfs_lk_apply(const struct drfs_lk *mine, int n, const struct drfs_lk *lk,
		  struct drfs_lk *out)
{
	struct drfs_lk r = *lk;
	int m = 0;

	/* cut @lk's bytes out of every range (a range may split in two) */
	for (int i = 0; i < n; i++) {
		const struct drfs_lk *o = &mine[i];

		if (!drfs_lk_overlap(o, lk)) {
			out[m++] = *o;
			continue;
		}
		if (o->start < lk->start) {
			out[m] = *o;
			out[m].end = lk->start - 1;
			m++;
		}
		if (o->end > lk->end) {
			out[m] = *o;
			out[m].start = lk->end + 1;
			m++;
		}
	}
	if (lk->type == F_UNLCK)
		return m;
	/* merge with adjacent ranges of the same type, as Linux does: the
	 * merged range may touch others in turn, so scan again */
	for (int i = 0; i < m; i++) {
		struct drfs_lk *o = &out[i];

		if (o->type != r.type ||
		    (!lk_adjacent(o, &r) && !drfs_lk_overlap(o, &r)))
			continue;
		if (o->start < r.start)
			r.start = o->start;
		if (o->end > r.end)
			r.end = o->end;
		out[i] = out[--m];
		i = -1;
	}
	out[m++] = r;
	return m;
}

int drfs_lk_grant(struct drfs_lkown *held, int *nh, int cap,
		  const struct drfs_lkown *w, int nw, bool *granted)
{
	struct drfs_lk *mine = malloc(((size_t)*nh + 1) * sizeof(*mine));
	struct drfs_lk *out = malloc(((size_t)*nh + 3) * sizeof(*out));
	int count = 0, ret = 0;
	bool again = true;

	if (!mine || !out) {
		ret = -ENOMEM;
		goto done;
	}
	for (int i = 0; i < nw; i++)
		granted[i] = false;
	while (again) {
		again = false;
		for (int i = 0; i < nw; i++) {
			bool free_ = true;
			int nm = 0, nout, k = 0;

			if (granted[i])
				continue;
			for (int j = 0; j < *nh && free_; j++) {
				if (held[j].kind != w[i].kind)
					continue;
				if (held[j].id == w[i].id)
					mine[nm++] = held[j].lk;
				else if (drfs_lk_conflict(&held[j].lk,
							  &w[i].lk))
					free_ = false;
			}
			if (!free_)
				continue;
			nout = drfs_lk_apply(mine, nm, &w[i].lk, out);
			if (*nh - nm + nout > cap) {
				ret = -ENOSPC;
				goto done;
			}
			/* the owner's ranges of the kind make way for nout */
			for (int j = 0; j < *nh; j++)
				if (held[j].kind != w[i].kind ||
				    held[j].id != w[i].id)
					held[k++] = held[j];
			for (int j = 0; j < nout; j++) {
				held[k].id = w[i].id;
				held[k].kind = w[i].kind;
				held[k].lk = out[j];
				k++;
			}
			*nh = k;
			{
				struct drfs_lk *m2, *o2;

				m2 = realloc(mine,
					     ((size_t)k + 1) * sizeof(*mine));
				if (m2)
					mine = m2;
				o2 = realloc(out,
					     ((size_t)k + 3) * sizeof(*out));
				if (o2)
					out = o2;
				if (!m2 || !o2) {
					ret = -ENOMEM;
					goto done;
				}
			}
			granted[i] = true;
			count++;
			again = true;
		}
	}
	ret = count;
done:
	free(mine);
	free(out);
	return ret;
}

bool drfs_lease_expired(int64_t expire_ns, int64_t now_ns)
{
	return expire_ns + DRFS_LEASE_SKEW_NS <= now_ns;
}

bool drfs_lease_judge(int64_t now, int64_t ok_last, int64_t ok_since)
{
	return ok_last && now - ok_last <= DRFS_LEASE_GAP_NS &&
	       now - ok_since >= (int64_t)DRFS_LEASE * 1000000000;
}

bool drfs_deleg_local_ok(int64_t now, int64_t lease_until, bool fenced,
			 int watch_ms)
{
	return !fenced && lease_until && now < lease_until && watch_ms >= 0;
}

int64_t drfs_lease_local_after(bool first, int64_t sent, int64_t done,
			       int64_t *bound, int64_t *off)
{
	int64_t prev = *bound;

	/* other nodes judge the expiry it wrote (computed after @sent) with
	 * DRFS_LEASE_SKEW_NS of slack; local grants stop a margin before */
	*bound = sent + (int64_t)DRFS_LEASE * 1000000000 - DRFS_DELEG_MARGIN_NS;
	/* landed after the bound of the one before: another node may have
	 * judged us dead meanwhile and be fencing us, so none for a lease
	 * (its fencing reaches us first) */
	if (first)
		*off = 0;
	else if (done >= prev)
		*off = done + (int64_t)DRFS_LEASE * 1000000000;
	return done >= *off ? *bound : 0;
}

bool drfs_deleg_may_take(int streak, int64_t now, int64_t cool_since, int held,
			 int max, int min_streak, int64_t cool_ns)
{
	return streak >= min_streak && held < max &&
	       (!cool_since || now - cool_since >= cool_ns);
}

static void rec_key(struct rec *r)
{
	if (r->wait)
		snprintf(r->key, sizeof(r->key),
			 "%s:%d:%016" PRIx64 ":%016" PRIx64 ":%016" PRIx64,
			 r->node, r->kind + LK_WAIT_KIND, r->owner, r->lk.start,
			 (uint64_t)r->since);
	else
		snprintf(r->key, sizeof(r->key),
			 "%s:%d:%016" PRIx64 ":%016" PRIx64, r->node, r->kind,
			 r->owner, r->lk.start);
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
	char key[LK_KEY_MAX];
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
		   &r->kind, &r->owner, &r->lk.start) != 4 ||
	    r->kind < 0 || r->kind > DRFS_LK_FLOCK + LK_WAIT_KIND)
		return -EIO;
	r->wait = r->kind >= LK_WAIT_KIND;
	r->put = false;
	r->since = 0;
	if (r->wait) {
		const char *c = strrchr(key, ':');
		uint64_t since;
		char *end;

		r->kind -= LK_WAIT_KIND;
		/* node:kind:owner:start:since - the fifth field */
		if (!c || c - key != 36 + 3 + 16 + 1 + 16 ||
		    strlen(c + 1) != 16)
			return -EIO;
		since = strtoull(c + 1, &end, 16);
		if (*end)
			return -EIO;
		r->since = (int64_t)since;
	}
	memcpy(&r->lk.end, v, 8);
	memcpy(&t, v + 8, 4);
	memcpy(&r->lk.pid, v + 12, 4);
	r->lk.type = (int)t;
	snprintf(r->key, sizeof(r->key), "%s", key);
	return 0;
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
 * May this node judge other nodes' leases?  See drfs_lease_judge (lock.h);
 * this reads the inputs and logs a refusal now and then.
 */
static bool lease_judge_ok(struct drfs_fs *fs)
{
	int64_t now = mono_ns();
	static int64_t logged;

	if (drfs_lease_judge(
		    now, __atomic_load_n(&fs->lease_ok_last, __ATOMIC_RELAXED),
		    __atomic_load_n(&fs->lease_ok_since, __ATOMIC_RELAXED)))
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
	if (ret == 0 && !drfs_lease_expired(s.expire_ns, now))
		return 0; /* alive */
	if (ret < 0 && ret != -ENOENT)
		return ret;
	if (ret == 0 && !lease_judge_ok(fs))
		return 0; /* (a missing session was fenced or unmounted) */
	if (ret == 0 && s.addr[0]) {
		ret = drfs_blocklist(fs, s.addr, 3600);
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
			rados_write_op_t op = drfs_wop_new();

			drfs_op_rm(op, node);
			drfs_wop(fs, "sessions", op,
				 LIBRADOS_OPERATION_FULL_FORCE);
			drfs_wop_free(op);
		}
	}
	return 1;
}
/* ---- the lock object cache ---- */

/* A notified state kept until its object's entry is free to take it. */
#define LK_PEND 4
struct lkhint {
	int64_t at_ns; /* mono: when it came */
	size_t len;
	unsigned char data[];
};

/*
 * What this node knows of one lock object: the records and the token its
 * last operation on the object read or left.  A guarded write computed
 * from that state (cmpxattr "v" == token) either applies to exactly that
 * state or fails as a whole (-ECANCELED): a stale entry costs a read and
 * a retry, never a wrong grant.  m serialises this node's operations on
 * the object (they would be serialised by the OSD anyway) and protects
 * every field below it; no librados callback takes it.
 */
struct lkobj {
	uint64_t ino;
	struct lkobj *next; /* hash chain: lkcache.lock */
	int refs; /* lkcache.lock: threads using it */
	pthread_mutex_t m;
	uint64_t gen; /* fs->conn_gen the state belongs to */
	bool known, exists;
	char token[LK_TOKEN_MAX];
	size_t toklen;
	struct rec *recs;
	int nrecs, caprecs;
	/* delegation: the object's "d" key as last read or left ("" none) */
	char dnode[37];
	bool deleg; /* we hold it: recs are exact, the object's are not */
	int slot; /* lkcache.slots index of its watch while deleg */
	int streak; /* uncontended writes in a row (see deleg_may_take) */
	int64_t cool_ns; /* mono: last contention seen (0: never) */
	int64_t used_ns; /* mono: last local grant or release */
	int64_t recall_ns; /* mono: last recall sent for a parked waiter */
	bool missed; /* atomic: a notify's state could not be kept */
	bool raced; /* atomic: another node's write beat ours (a guard
		     * failed): the object is worth a watch (drfs_lock_raced) */
	int64_t state_ns; /* mono: start of the op that read or left it */
	/* notified states that came while m was held (lk_pending_take) */
	pthread_mutex_t hm; /* protects pend, npend, nadd; taken after m */
	pthread_cond_t hc; /* a state was kept */
	struct lkhint *pend[LK_PEND];
	int npend;
	uint64_t nadd;
};

#define LK_BUCKETS 1024
#define LK_KEEP 4096 /* entries kept before idle ones are evicted */

/* Delegations (design.md, "Node-local grants"). */
#define DELEG_MAX 128 /* held at once (each has a watch) */
#define DELEG_STREAK 2 /* uncontended writes in a row before one is taken */
#define DELEG_COOL_NS (30 * 1000000000ll) /* none this long after contention */
#define DELEG_IDLE_NS (20 * 1000000000ll) /* unused this long: given back */
#define DELEG_SCAN_MS 2000 /* the recaller looks for idle ones this often */
#define RECALL_MS 3000 /* how long a recall waits for the holder */
#define RECALL_TRIES 3
#define RECALL_GAP_NS 500000000ll /* between recalls for parked waiters */

/*
 * A watch on the lock object of a delegation, armed before the "d" key is
 * written: other nodes recall through it.  Fixed slots, so that librados
 * callbacks can keep pointers to them.
 */
struct dslot {
	struct drfs_watch w;
	struct drfs_lkcache *lc;
	uint64_t ino;
	bool used; /* lkcache.lock */
};

/* A recall to answer (the notify's ids and a copy of its watch). */
struct recall {
	uint64_t ino, gen;
	struct drfs_notify_in n;
	struct drfs_watch w;
	struct recall *next;
};

struct drfs_lkcache {
	pthread_mutex_t lock; /* table and refs; never held over a RADOS call */
	struct lkobj *table[LK_BUCKETS];
	size_t count;
	uint64_t seq; /* atomic: token counter */
	struct dslot slots[DELEG_MAX]; /* used: lock */
	int ndeleg; /* lock: slots in use */
	/* recalls to answer, for the recaller thread (rq_lock) */
	pthread_mutex_t rq_lock;
	pthread_cond_t rq_cond;
	struct recall *rq;
	bool rq_stop;
	bool rq_started;
	pthread_t recaller;
};

static void lkobj_free(struct lkobj *o)
{
	for (int i = 0; i < o->npend; i++)
		free(o->pend[i]);
	pthread_cond_destroy(&o->hc);
	pthread_mutex_destroy(&o->hm);
	pthread_mutex_destroy(&o->m);
	free(o->recs);
	free(o);
}

static struct lkobj *lkobj_get(struct drfs_lkcache *lc, uint64_t ino)
{
	size_t b = (size_t)(ino % LK_BUCKETS);
	struct lkobj *o;

	pthread_mutex_lock(&lc->lock);
	for (o = lc->table[b]; o; o = o->next)
		if (o->ino == ino)
			break;
	if (!o && lc->count >= LK_KEEP) {
		/* evict the idle entries of this bucket: only a cache */
		for (struct lkobj **pp = &lc->table[b]; *pp;) {
			struct lkobj *e = *pp;

			if (e->refs || e->deleg) {
				pp = &e->next;
				continue;
			}
			*pp = e->next;
			lkobj_free(e);
			lc->count--;
		}
	}
	if (!o) {
		o = calloc(1, sizeof(*o));
		if (o) {
			o->ino = ino;
			o->slot = -1;
			pthread_mutex_init(&o->m, NULL);
			pthread_condattr_t ca;

			pthread_condattr_init(&ca);
			pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
			pthread_cond_init(&o->hc, &ca);
			pthread_condattr_destroy(&ca);
			pthread_mutex_init(&o->hm, NULL);
			o->next = lc->table[b];
			lc->table[b] = o;
			lc->count++;
		}
	}
	if (o)
		o->refs++;
	pthread_mutex_unlock(&lc->lock);
	return o;
}

static void lkobj_put(struct drfs_lkcache *lc, struct lkobj *o)
{
	pthread_mutex_lock(&lc->lock);
	o->refs--;
	pthread_mutex_unlock(&lc->lock);
}

struct lk_read_ctx {
	struct lkobj *o;
	const char *oid;
	rados_xattrs_iter_t xi;
	int xprval;
	int n;
};

static void lk_read_add(void *arg, rados_read_op_t op)
{
	struct lk_read_ctx *c = arg;

	drfs_rd_xattrs(op, &c->xi, &c->xprval);
}

/* The token, read in the same op as the records. */
static int lk_read_got(void *arg, int ret)
{
	struct lk_read_ctx *c = arg;
	const char *xn, *xv;
	size_t xl;

	c->o->toklen = 0;
	while (ret == 0 && drfs_xattrs_next(c->xi, &xn, &xv, &xl) == 0 && xn)
		if (!strcmp(xn, LK_TOKEN_XATTR) && xl <= sizeof(c->o->token)) {
			memcpy(c->o->token, xv, xl);
			c->o->toklen = xl;
		}
	drfs_xattrs_end(c->xi);
	c->xi = NULL;
	return 0;
}

static int lk_read_rec(void *arg, const char *k, size_t kl, const char *v,
		       size_t vl)
{
	struct lk_read_ctx *c = arg;
	struct lkobj *o = c->o;

	if (kl == strlen(DRFS_LK_DELEG_KEY) &&
	    !memcmp(k, DRFS_LK_DELEG_KEY, kl)) {
		size_t n =
			vl < sizeof(o->dnode) - 1 ? vl : sizeof(o->dnode) - 1;

		memcpy(o->dnode, v, n);
		o->dnode[n] = 0;
		return 0;
	}
	if (c->n == MAX_LOCKS)
		return -ENOLCK;
	if (c->n == o->caprecs) {
		int cap = o->caprecs ? 2 * o->caprecs : 8;
		struct rec *nr = realloc(o->recs, (size_t)cap * sizeof(*nr));

		if (!nr)
			return -ENOMEM;
		o->recs = nr;
		o->caprecs = cap;
	}
	if (rec_parse(k, kl, v, vl, &o->recs[c->n]) < 0) {
		drfs_err("lock object %s: record %.*s is corrupt; ignored",
			 c->oid, (int)kl, k);
		return 0;
	}
	c->n++;
	return 0;
}

/*
 * Read every record and the token of @o's object, in one op (at most
 * MAX_LOCKS records, as they were written).  o->m held.
 */
static int lk_read(struct drfs_fs *fs, struct lkobj *o, const char *oid)
{
	struct lk_read_ctx c = {o, oid, NULL, 0, 0};
	const struct drfs_omap_list l = {.page = MAX_LOCKS + 1,
					 .pages = 1,
					 .add = lk_read_add,
					 .got = lk_read_got};
	int64_t start = mono_ns();
	int ret;

	o->dnode[0] = 0;
	drfs_stat_add(fs, DRFS_ST_LOCK_READS, 1);
	ret = drfs_omap_list(fs, oid, &l, lk_read_rec, &c);
	o->state_ns = start;

	drfs_xattrs_end(c.xi); /* (ended by lk_read_got once the op ran) */
	if (ret == -ENOENT) {
		o->exists = false;
		o->toklen = 0;
		ret = 0;
	} else {
		o->exists = true;
	}
	o->nrecs = ret < 0 ? 0 : c.n;
	o->known = ret == 0;
	return ret;
}

/* Replace @o's records by @recs (n), the state our op leaves. */
static int lk_remember(struct lkobj *o, const struct rec *recs, int n,
		       const char *tok, size_t toklen)
{
	if (n > o->caprecs) {
		struct rec *nr = realloc(o->recs, (size_t)n * sizeof(*nr));

		if (!nr) {
			o->known = false;
			return -ENOMEM;
		}
		o->recs = nr;
		o->caprecs = n;
	}
	if (recs != o->recs)
		memcpy(o->recs, recs, (size_t)n * sizeof(*recs));
	o->nrecs = n;
	if (tok != o->token)
		memcpy(o->token, tok, toklen);
	o->toklen = toklen;
	o->exists = true;
	o->known = true;
	return 0;
}

static void lk_notify(struct drfs_fs *fs, const char *oid)
{
	/* wake waiters on other nodes (no need to wait) */
	drfs_notify_async(fs, oid, "u", 1, 2000);
}

/*
 * The same, telling the change: the token it was guarded by (@ptok), the
 * one it left (@tok) and the records now there (at most HINT_RECS; else a
 * plain "u").  A waiter whose state of the object is the one @ptok names
 * takes the new state (drfs_lock_hint) and tries its write at once, not a
 * read first.  "U" plen ptok tlen tok n, then n times: kl key LK_VAL_LEN.
 */
#define HINT_RECS 8
static void lk_notify_state(struct drfs_fs *fs, const char *oid,
			    const char *ptok, size_t plen, const char *tok,
			    size_t tlen, const struct rec *recs, int n)
{
	char buf[4 + 2 * LK_TOKEN_MAX +
		 HINT_RECS * (1 + LK_KEY_MAX + LK_VAL_LEN)];
	size_t len = 0;

	if (n > HINT_RECS || plen >= LK_TOKEN_MAX || tlen >= LK_TOKEN_MAX) {
		lk_notify(fs, oid);
		return;
	}
	buf[len++] = 'U';
	buf[len++] = (char)plen;
	memcpy(buf + len, ptok, plen);
	len += plen;
	buf[len++] = (char)tlen;
	memcpy(buf + len, tok, tlen);
	len += tlen;
	buf[len++] = (char)n;
	for (int i = 0; i < n; i++) {
		size_t kl = strlen(recs[i].key);

		buf[len++] = (char)kl;
		memcpy(buf + len, recs[i].key, kl);
		len += kl;
		rec_val(&recs[i], buf + len);
		len += LK_VAL_LEN;
	}
	drfs_notify_async(fs, oid, buf, len, 2000);
}

static bool lk_hint_parse(const void *data, size_t len, struct rec *recs,
			  int *np, const unsigned char **ptok, size_t *plen,
			  const unsigned char **tok, size_t *tlen)
{
	const unsigned char *p = data, *end = p + len;
	int n;

	if (len < 4 || *p++ != 'U')
		return false;
	*plen = *p++;
	*ptok = p;
	p += *plen;
	if (p >= end || *plen == 0 || *plen >= LK_TOKEN_MAX)
		return false;
	*tlen = *p++;
	*tok = p;
	p += *tlen;
	if (p >= end || *tlen == 0 || *tlen >= LK_TOKEN_MAX)
		return false;
	n = *p++;
	if (n > HINT_RECS)
		return false;
	for (int i = 0; i < n; i++) {
		size_t kl;

		if (p >= end)
			return false;
		kl = *p++;
		if ((size_t)(end - p) < kl + LK_VAL_LEN ||
		    rec_parse((const char *)p, kl, (const char *)p + kl,
			      LK_VAL_LEN, &recs[i]) < 0)
			return false;
		p += kl + LK_VAL_LEN;
	}
	*np = n;
	return true;
}

/*
 * Take the notified state @data into @o, o->m held: 1 taken, 0 we have
 * it (our own op's), -1 it does not follow from our state (or is not one
 * to keep: delegated, unknown), -2 not a state.  A guard token names one
 * state, and only one write guarded by it can succeed: a state notified
 * as following ours is the object's, until the next write.
 */
static int lk_hint_apply(struct drfs_fs *fs, struct lkobj *o, const void *data,
			 size_t len)
{
	struct rec recs[HINT_RECS];
	const unsigned char *ptok, *tok;
	size_t plen, tlen;
	int n = 0;

	if (!lk_hint_parse(data, len, recs, &n, &ptok, &plen, &tok, &tlen))
		return -2;
	if (!o->known || !o->exists || o->gen != fs->conn_gen)
		return -1;
	if (o->toklen == tlen && !memcmp(o->token, tok, tlen))
		return 0;
	if (o->deleg || o->dnode[0] || o->toklen != plen ||
	    memcmp(o->token, ptok, plen) ||
	    lk_remember(o, recs, n, (const char *)tok, tlen) < 0)
		return -1;
	drfs_stat_add(fs, DRFS_ST_LOCK_HINTS, 1);
	return 1;
}

/* Keep a notified state that could not be taken at once; false: no room
 * (the oldest is dropped). */
static bool lk_pending_add(struct lkobj *o, const void *data, size_t len)
{
	struct lkhint *h = malloc(sizeof(*h) + len);
	bool room;

	if (!h)
		return false;
	h->at_ns = mono_ns();
	h->len = len;
	memcpy(h->data, data, len);
	pthread_mutex_lock(&o->hm);
	room = o->npend < LK_PEND;
	if (!room) {
		free(o->pend[0]);
		memmove(o->pend, o->pend + 1,
			(LK_PEND - 1) * sizeof(o->pend[0]));
		o->npend--;
	}
	o->pend[o->npend++] = h;
	o->nadd++;
	pthread_cond_broadcast(&o->hc);
	pthread_mutex_unlock(&o->hm);
	return room;
}

/*
 * Take the kept states that follow from ours, in chain order (notifies
 * of two nodes may come out of order), o->m held.  With @final the rest
 * is settled: a state that came before the op which gave us ours is in
 * it (a notify is sent once its write landed), any other means we may be
 * behind: the next op reads first.
 */
static void lk_pending_take(struct drfs_fs *fs, struct lkobj *o, bool final)
{
	bool again = true, behind = false;

	if (!__atomic_load_n(&o->npend, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&o->hm);
	while (again) {
		again = false;
		for (int i = 0; i < o->npend; i++) {
			int r = lk_hint_apply(fs, o, o->pend[i]->data,
					      o->pend[i]->len);

			if (r == -1)
				continue;
			again = again || r == 1;
			free(o->pend[i]);
			o->pend[i--] = o->pend[--o->npend];
		}
	}
	if (final) {
		for (int i = 0; i < o->npend; i++) {
			behind = behind || o->pend[i]->at_ns >= o->state_ns;
			free(o->pend[i]);
		}
		o->npend = 0;
	}
	pthread_mutex_unlock(&o->hm);
	if (behind)
		o->known = false;
}

/*
 * Our guarded write failed: another node's write got there first.  Its
 * notify is sent once it landed, so it often comes just after our
 * failure: wait for it as long as a read would take (LK_CATCHUP_NS), take
 * it and go on without a read; true if so.  A write that does not notify
 * costs that wait and the read.
 */
#define LK_CATCHUP_NS 1500000ll
static bool lk_catch_up(struct drfs_fs *fs, struct lkobj *o)
{
	char tok[LK_TOKEN_MAX];
	size_t tl = o->toklen;
	int64_t until = mono_ns() + LK_CATCHUP_NS;
	struct timespec ts = {(time_t)(until / 1000000000ll),
			      (long)(until % 1000000000ll)};

	if (!o->known)
		return false;
	memcpy(tok, o->token, tl);
	for (;;) {
		uint64_t seen;
		int r = 0;

		pthread_mutex_lock(&o->hm);
		seen = o->nadd;
		pthread_mutex_unlock(&o->hm);
		lk_pending_take(fs, o, false);
		if (!o->known)
			return false;
		if (o->toklen != tl || memcmp(o->token, tok, tl))
			return true;
		pthread_mutex_lock(&o->hm);
		while (o->nadd == seen && r == 0)
			r = pthread_cond_timedwait(&o->hc, &o->hm, &ts);
		pthread_mutex_unlock(&o->hm);
		if (r != 0)
			break;
	}
	o->known = false;
	return false;
}

/* The arrays one attempt of lk_change_locked() builds its op in, sized
 * for @n records in the object: the records it leaves (up to 3n + 8:
 * grants to parked requests add some), the keys it removes or sets. */
struct lk_scratch {
	struct rec *nrecs;
	int cap; /* of nrecs, vals, vptr, vl */
	struct drfs_lk *ranges, *out;
	char (*vals)[LK_VAL_LEN];
	char (*rmk)
		[LK_KEY_MAX]; /* keys removed by grants (their records move) */
	const char **keys, **vptr;
	size_t *kl, *vl;
};

static void lk_scratch_free(struct lk_scratch *sc)
{
	free(sc->nrecs);
	free(sc->ranges);
	free(sc->out);
	free(sc->keys);
	free(sc->kl);
	free(sc->vptr);
	free(sc->vl);
	free(sc->vals);
	free(sc->rmk);
	memset(sc, 0, sizeof(*sc));
}

static int lk_scratch_alloc(struct lk_scratch *sc, int n)
{
	size_t m = 3 * (size_t)n + 8, k = 4 * (size_t)n + 8;

	lk_scratch_free(sc);
	sc->cap = (int)m;
	sc->ranges = malloc(((size_t)n + 1) * sizeof(*sc->ranges));
	sc->out = malloc(((size_t)n + 3) * sizeof(*sc->out));
	sc->nrecs = malloc(m * sizeof(*sc->nrecs));
	sc->keys = malloc(k * sizeof(*sc->keys));
	sc->kl = malloc(k * sizeof(*sc->kl));
	sc->vptr = malloc(m * sizeof(*sc->vptr));
	sc->vl = malloc(m * sizeof(*sc->vl));
	sc->vals = malloc(m * LK_VAL_LEN);
	sc->rmk = malloc(m * sizeof(*sc->rmk));
	if (!sc->ranges || !sc->out || !sc->nrecs || !sc->keys || !sc->kl ||
	    !sc->vptr || !sc->vl || !sc->vals || !sc->rmk)
		return -ENOMEM;
	return 0;
}

/* ---- node-local grants (delegations) ---- */

static bool deleg_usable(struct drfs_fs *fs, struct lkobj *o)
{
	struct drfs_lkcache *lc = fs->lkcache;

	return o->deleg && o->gen == fs->conn_gen && o->slot >= 0 &&
	       drfs_deleg_local_ok(mono_ns(),
				   __atomic_load_n(&fs->lease_local_until,
						   __ATOMIC_RELAXED),
				   drfs_is_fenced(fs),
				   drfs_watch_check(&lc->slots[o->slot].w));
}

/* Wake the recaller (a recall queued, or a watch lost). */
static void recaller_kick(struct drfs_lkcache *lc)
{
	pthread_mutex_lock(&lc->rq_lock);
	pthread_cond_signal(&lc->rq_cond);
	pthread_mutex_unlock(&lc->rq_lock);
}

/*
 * librados thread: a notify on a delegated lock object.  A recall ("r") is
 * answered by the recaller once the delegation is given back (the notifier
 * waits for that); anything else at once.  Only queues: no RADOS call.
 */
static void deleg_watch_cb(void *arg, const struct drfs_notify_in *n)
{
	struct dslot *sl = arg;
	struct drfs_lkcache *lc = sl->lc;
	struct recall *r;

	if (n->len != 1 || *(const char *)n->data != 'r' ||
	    !(r = calloc(1, sizeof(*r)))) {
		drfs_notify_ack(n);
		return;
	}
	r->ino = __atomic_load_n(&sl->ino, __ATOMIC_RELAXED);
	r->w = *n->w;
	r->gen = r->w.gen;
	r->n = *n;
	r->n.w = &r->w;
	r->n.data = NULL;
	r->n.len = 0;
	pthread_mutex_lock(&lc->rq_lock);
	r->next = lc->rq;
	lc->rq = r;
	pthread_cond_signal(&lc->rq_cond);
	pthread_mutex_unlock(&lc->rq_lock);
}

static void deleg_watch_err(void *arg, int err)
{
	struct dslot *sl = arg;

	drfs_warn("watch of lock object l.%016" PRIx64 " lost (%s): its "
		  "delegation is given back",
		  sl->ino, strerror(-err));
	recaller_kick(sl->lc); /* its scan sees the broken watch */
}

/* A slot with its watch armed on @o's object, or -1. */
static int deleg_arm(struct drfs_fs *fs, struct lkobj *o, const char *oid)
{
	struct drfs_lkcache *lc = fs->lkcache;
	int i;

	pthread_mutex_lock(&lc->lock);
	for (i = 0; i < DELEG_MAX && lc->slots[i].used; i++)
		;
	if (i < DELEG_MAX) {
		lc->slots[i].used = true;
		lc->slots[i].lc = lc;
		__atomic_store_n(&lc->slots[i].ino, o->ino, __ATOMIC_RELAXED);
		lc->ndeleg++;
	}
	pthread_mutex_unlock(&lc->lock);
	if (i == DELEG_MAX)
		return -1;
	if (drfs_watch(fs, &lc->slots[i].w, oid, 0, deleg_watch_cb,
		       deleg_watch_err, &lc->slots[i]) < 0) {
		pthread_mutex_lock(&lc->lock);
		lc->slots[i].used = false;
		lc->ndeleg--;
		pthread_mutex_unlock(&lc->lock);
		return -1;
	}
	return i;
}

static void deleg_disarm(struct drfs_fs *fs, int slot)
{
	struct drfs_lkcache *lc = fs->lkcache;

	drfs_unwatch(&lc->slots[slot].w);
	pthread_mutex_lock(&lc->lock);
	lc->slots[slot].used = false;
	lc->ndeleg--;
	pthread_mutex_unlock(&lc->lock);
}

static void deleg_drop(struct drfs_fs *fs, struct lkobj *o)
{
	if (o->slot >= 0)
		deleg_disarm(fs, o->slot);
	o->slot = -1;
	o->deleg = false;
}

static void next_token(struct drfs_fs *fs, char tok[LK_TOKEN_MAX], size_t *len)
{
	*len = (size_t)snprintf(
		tok, LK_TOKEN_MAX, "%s.%" PRIx64, fs->node,
		__atomic_add_fetch(&fs->lkcache->seq, 1, __ATOMIC_RELAXED));
}

/*
 * Give @o's delegation back, o->m held: one op guarded by the token we
 * left writes our exact records in place of the ones the object has,
 * removes "d" and sets a new token.  If the guard fails, another node
 * broke the delegation (it judged us dead: we are fenced by now) and our
 * locks on the object are gone.  Other errors keep the delegation.
 */
static int lk_surrender(struct drfs_fs *fs, struct lkobj *o)
{
	char oid[DRFS_OID_MAX], tok[LK_TOKEN_MAX], from[48], to[48];
	struct lk_scratch sc = {0};
	int n = o->nrecs, ret;
	size_t toklen;
	rados_write_op_t op;

	drfs_lock_oid(oid, o->ino);
	ret = lk_scratch_alloc(&sc, n);
	if (ret < 0)
		goto out;
	for (int i = 0; i < n; i++) {
		rec_val(&o->recs[i], sc.vals[i]);
		sc.keys[i] = o->recs[i].key;
		sc.kl[i] = strlen(o->recs[i].key);
		sc.vptr[i] = sc.vals[i];
		sc.vl[i] = LK_VAL_LEN;
	}
	snprintf(from, sizeof(from), "%s:", fs->node);
	snprintf(to, sizeof(to), "%s;", fs->node); /* ';' follows ':' */
	next_token(fs, tok, &toklen);
	op = drfs_wop_new();
	drfs_op_cmpxattr(op, LK_TOKEN_XATTR, o->token, o->toklen);
	drfs_op_rm_range(op, from, to);
	drfs_op_rm(op, DRFS_LK_DELEG_KEY);
	if (n)
		drfs_op_setn(op, sc.keys, sc.vptr, sc.kl, sc.vl, (size_t)n);
	drfs_op_setxattr(op, LK_TOKEN_XATTR, tok, toklen);
	ret = drfs_wop(fs, oid, op, LIBRADOS_OPERATION_FULL_FORCE);
	drfs_wop_free(op);
	if (ret == 0) {
		lk_remember(o, o->recs, n, tok, toklen);
		o->dnode[0] = 0;
		deleg_drop(fs, o);
		lk_notify(fs, oid); /* waiters that met the delegation */
	} else if (ret == -ECANCELED || ret == -ENOENT) {
		drfs_warn("the delegation of lock object %s was broken by "
			  "another node (this node missed its lease): its %d "
			  "lock record(s) here are lost",
			  oid, n);
		deleg_drop(fs, o);
		o->known = false;
		o->nrecs = 0;
		ret = 0;
	}
out:
	lk_scratch_free(&sc);
	return ret;
}

/*
 * Ask the holder of @oid's delegation to give it back.  @wait: for its
 * answer (-ETIMEDOUT: it did not answer within RECALL_MS); else at once
 * (its give-back notifies the object, which wakes our waiters).
 */
static int lk_recall(struct drfs_fs *fs, const char *oid, bool wait)
{
	drfs_stat_add(fs, DRFS_ST_LOCK_RECALLS, 1);
	if (!wait) {
		drfs_notify_async(fs, oid, "r", 1, RECALL_MS);
		return 0;
	}
	return drfs_notify(fs, oid, "r", 1, RECALL_MS, NULL);
}

/* A recall for a waiter tried again, not waited for: at most one per
 * RECALL_GAP_NS per object (the waiter is tried again on every notify of
 * the object and every poll). */
static void recall_async(struct drfs_fs *fs, struct lkobj *o, const char *oid)
{
	int64_t now = mono_ns();

	if (o->recall_ns && now - o->recall_ns < RECALL_GAP_NS)
		return;
	o->recall_ns = now;
	lk_recall(fs, oid, false);
}

/* Give back the delegation of @ino, if we hold it; conn_lock held. */
static void deleg_give_back(struct drfs_fs *fs, uint64_t ino, bool recalled,
			    bool idle_only)
{
	struct drfs_lkcache *lc = fs->lkcache;
	struct lkobj *o = lkobj_get(lc, ino);
	int64_t now = mono_ns();

	if (!o)
		return;
	pthread_mutex_lock(&o->m);
	/* fenced: the others drop our "d" keys as a dead node's, and the
	 * rejoin forgets them here */
	if (o->deleg && o->gen == fs->conn_gen && !drfs_is_fenced(fs) &&
	    (!idle_only || now - o->used_ns > DELEG_IDLE_NS ||
	     drfs_watch_check(&lc->slots[o->slot].w) < 0)) {
		int ret = lk_surrender(fs, o);

		if (ret < 0 && !drfs_is_fenced(fs)) /* (fenced: see above) */
			drfs_warn("cannot give back the delegation of lock "
				  "object l.%016" PRIx64 ": %s",
				  ino, strerror(-ret));
	}
	if (recalled) {
		o->cool_ns = now;
		o->streak = 0;
	}
	pthread_mutex_unlock(&o->m);
	lkobj_put(lc, o);
}

/*
 * The recaller thread: answers recalls (give back, then acknowledge), and
 * every DELEG_SCAN_MS gives back delegations idle for DELEG_IDLE_NS or
 * whose watch broke.
 */
static void *recaller_main(void *arg)
{
	struct drfs_fs *fs = arg;
	struct drfs_lkcache *lc = fs->lkcache;
	int64_t last_scan = mono_ns();

	pthread_mutex_lock(&lc->rq_lock);
	while (!lc->rq_stop) {
		struct recall *list;
		uint64_t inos[DELEG_MAX];
		int ninos = 0;

		if (!lc->rq) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += DELEG_SCAN_MS * 1000000L;
			ts.tv_sec += ts.tv_nsec / 1000000000L;
			ts.tv_nsec %= 1000000000L;
			pthread_cond_timedwait(&lc->rq_cond, &lc->rq_lock, &ts);
		}
		if (lc->rq_stop)
			break;
		list = lc->rq;
		lc->rq = NULL;
		pthread_mutex_unlock(&lc->rq_lock);
		drfs_conn_rdlock(fs);
		while (list) {
			struct recall *r = list;

			list = r->next;
			if (r->gen == fs->conn_gen) {
				deleg_give_back(fs, r->ino, true, false);
				drfs_notify_ack(&r->n);
			}
			free(r);
		}
		if (mono_ns() - last_scan >= DELEG_SCAN_MS * 1000000ll) {
			last_scan = mono_ns();
			pthread_mutex_lock(&lc->lock);
			for (int i = 0; i < DELEG_MAX; i++)
				if (lc->slots[i].used)
					inos[ninos++] = lc->slots[i].ino;
			pthread_mutex_unlock(&lc->lock);
			for (int i = 0; i < ninos; i++)
				deleg_give_back(fs, inos[i], false, true);
		}
		drfs_conn_unlock(fs);
		pthread_mutex_lock(&lc->rq_lock);
	}
	pthread_mutex_unlock(&lc->rq_lock);
	return NULL;
}

/* ---- locks ---- */

static bool same_owner(const struct drfs_fs *fs, const struct rec *r, int kind,
		       uint64_t owner)
{
	return r->kind == kind && r->owner == owner &&
	       !strcmp(r->node, fs->node);
}

/* After a rejoin we are a new node: what we knew of the object, and any
 * delegation of the old identity (whose slots the rejoin freed), is gone. */
static void lk_gen_check(struct drfs_fs *fs, struct lkobj *o)
{
	if (o->gen == fs->conn_gen)
		return;
	o->gen = fs->conn_gen;
	o->known = false;
	o->deleg = false;
	o->slot = -1;
	o->streak = 0;
}

/* Do @recs (n) hold a record of another node? */
static bool others_hold(const struct drfs_fs *fs, const struct rec *recs, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(recs[i].node, fs->node))
			return true;
	return false;
}

/* Take the delegation with this write?  (See "node-local grants".) */
static bool deleg_wanted(struct drfs_fs *fs, struct lkobj *o, bool contended,
			 const struct rec *recs, int n)
{
	int64_t now = mono_ns();

	for (int i = 0; i < n; i++)
		if (recs[i].wait)
			return false; /* parked requests are granted by writes */
	return fs->lkcache->rq_started && !contended &&
	       !others_hold(fs, recs, n) &&
	       drfs_deleg_local_ok(now,
				   __atomic_load_n(&fs->lease_local_until,
						   __ATOMIC_RELAXED),
				   drfs_is_fenced(fs), 0) &&
	       drfs_deleg_may_take(
		       o->streak, now, o->cool_ns,
		       __atomic_load_n(&fs->lkcache->ndeleg, __ATOMIC_RELAXED),
		       DELEG_MAX, DELEG_STREAK, DELEG_COOL_NS);
}

/* lk_change_locked()'s @how */
#define LKF_WAIT 1 /* wait for the answer to a recall */
#define LKF_QUEUE 2 /* a conflict parks the request in the object */
#define LKF_CANCEL 4 /* take the request's waiter record away */
#define LKF_RELEASE 8 /* all of the owner's waiter records go too */
#define LKF_POLL 16 /* a parked request's periodic look at the object */

static bool same_identity(const struct rec *a, const struct rec *b)
{
	return a->kind == b->kind && a->owner == b->owner &&
	       !strcmp(a->node, b->node);
}

/* Do @a (na) and @b (nb) hold the same ranges (as sets)? */
static bool same_ranges(const struct drfs_lk *a, int na,
			const struct drfs_lk *b, int nb)
{
	if (na != nb)
		return false;
	for (int i = 0; i < na; i++) {
		int j = 0;

		while (j < nb &&
		       (a[i].start != b[j].start || a[i].end != b[j].end ||
			a[i].type != b[j].type || a[i].pid != b[j].pid))
			j++;
		if (j == nb)
			return false;
	}
	return true;
}

/*
 * Park a blocked request in the object, o->m held: one op guarded by the
 * token of the state that showed the conflict writes its waiter record
 * (an older one of the same request keeps its place in the queue).  If
 * the guard holds, the conflict was there at that moment, so whoever ends
 * it grants the request in its own write.  The new state is notified, so
 * that the holder's next write is computed with the waiter in it.
 * 1: the object changed since, look again.
 */
static int lk_park(struct drfs_fs *fs, struct lkobj *o, const char *oid,
		   struct lk_scratch *sc, int kind, uint64_t owner,
		   const struct drfs_lk *lk, int mywait)
{
	struct rec w = {.kind = kind, .owner = owner, .lk = *lk, .wait = true};
	char tok[LK_TOKEN_MAX], val[LK_VAL_LEN];
	int n = o->nrecs, ret;
	int64_t start;
	size_t toklen;
	rados_write_op_t op;

	if (!o->exists)
		return 1;
	snprintf(w.node, sizeof(w.node), "%s", fs->node);
	w.since = mywait >= 0 ? o->recs[mywait].since : drfs_now_ns();
	rec_key(&w);
	rec_val(&w, val);
	next_token(fs, tok, &toklen);
	op = drfs_wop_new();
	drfs_op_cmpxattr(op, LK_TOKEN_XATTR, o->token, o->toklen);
	drfs_op_set(op, w.key, val, LK_VAL_LEN);
	drfs_op_setxattr(op, LK_TOKEN_XATTR, tok, toklen);
	start = mono_ns();
	ret = drfs_wop(fs, oid, op, LIBRADOS_OPERATION_FULL_FORCE);
	drfs_wop_free(op);
	if (ret == -ECANCELED || ret == -ENOENT) {
		drfs_stat_add(fs, DRFS_ST_RADOS_RETRY, 1);
		return 1;
	}
	if (ret < 0) {
		o->known = false;
		return ret;
	}
	memcpy(sc->nrecs, o->recs, (size_t)n * sizeof(*o->recs));
	if (mywait >= 0)
		sc->nrecs[mywait] = w;
	else
		sc->nrecs[n++] = w;
	lk_notify_state(fs, oid, o->token, o->toklen, tok, toklen, sc->nrecs,
			n);
	lk_remember(o, sc->nrecs, n, tok, toklen);
	o->state_ns = start;
	drfs_stat_add(fs, DRFS_ST_LOCK_PARKED, 1);
	return 0;
}

/*
 * The parked requests that the op being built frees, granted in the same
 * op (drfs_lk_grant: oldest first, each seeing the ones before it).
 * sc->nrecs (*ntot) is the state the op leaves; a granted waiter's record
 * goes, and its owner's locks of the kind are written anew (their old
 * keys removed: sc->keys from *nrm on).  The requester's own waiters are
 * left to their requests.  Returns the number granted, -errno.
 */
static int lk_grant_pass(struct drfs_fs *fs, struct lk_scratch *sc, int *ntot,
			 int kind, uint64_t owner, int *nrm)
{
	struct rec *r = sc->nrecs, *old = NULL;
	int n = *ntot, nh = 0, nw = 0, ng, k = 0, nk = 0;
	struct drfs_lkown *held = NULL, *w = NULL;
	int *ids = NULL, *widx = NULL;
	bool *granted = NULL, *moved = NULL;

	for (int i = 0; i < n; i++)
		if (r[i].wait && !same_owner(fs, &r[i], kind, owner))
			nw++;
	if (nw == 0)
		return 0;
	held = malloc((size_t)sc->cap * sizeof(*held));
	w = malloc((size_t)nw * sizeof(*w));
	widx = malloc((size_t)nw * sizeof(*widx));
	granted = malloc((size_t)nw * sizeof(*granted));
	ids = malloc((size_t)n * sizeof(*ids));
	moved = calloc((size_t)n, sizeof(*moved));
	old = malloc((size_t)n * sizeof(*old));
	ng = -ENOMEM;
	if (!held || !w || !widx || !granted || !ids || !moved || !old)
		goto out;
	/* an owner's id: the index of its first record */
	for (int i = 0; i < n; i++) {
		ids[i] = i;
		for (int j = 0; j < i; j++)
			if (same_identity(&r[i], &r[j])) {
				ids[i] = ids[j];
				break;
			}
	}
	for (int i = 0; i < n; i++) {
		if (!r[i].wait) {
			held[nh++] = (struct drfs_lkown){(uint64_t)ids[i],
							 r[i].kind, r[i].lk};
			continue;
		}
		if (same_owner(fs, &r[i], kind, owner))
			continue;
		/* oldest first */
		int j = k++;

		while (j > 0 && r[widx[j - 1]].since > r[i].since) {
			widx[j] = widx[j - 1];
			j--;
		}
		widx[j] = i;
	}
	for (int j = 0; j < nw; j++)
		w[j] = (struct drfs_lkown){(uint64_t)ids[widx[j]],
					   r[widx[j]].kind, r[widx[j]].lk};
	ng = drfs_lk_grant(held, &nh, sc->cap, w, nw, granted);
	if (ng <= 0)
		goto out;
	/* the granted waiters and every old lock of their owners go ... */
	for (int j = 0; j < nw; j++) {
		if (!granted[j])
			continue;
		for (int i = 0; i < n; i++)
			if (ids[i] == (int)w[j].id &&
			    (!r[i].wait || i == widx[j]))
				moved[i] = true;
	}
	memcpy(old, r, (size_t)n * sizeof(*r));
	for (int i = 0; i < n; i++) {
		if (!moved[i]) {
			r[nk++] = old[i];
			continue;
		}
		snprintf(sc->rmk[i], sizeof(sc->rmk[0]), "%s", old[i].key);
	}
	for (int i = 0; i < n; i++)
		if (moved[i]) {
			sc->keys[*nrm] = sc->rmk[i];
			sc->kl[*nrm] = strlen(sc->rmk[i]);
			(*nrm)++;
		}
	/* ... and the owners' ranges after the grants are put */
	for (int h = 0; h < nh; h++) {
		const struct rec *tmpl = &old[held[h].id];
		bool touched = false;

		for (int j = 0; j < nw && !touched; j++)
			touched = granted[j] && w[j].id == held[h].id;
		if (!touched)
			continue;
		r[nk] = *tmpl;
		r[nk].wait = false;
		r[nk].since = 0;
		r[nk].put = true;
		r[nk].lk = held[h].lk;
		rec_key(&r[nk]);
		nk++;
	}
	*ntot = nk;
out:
	free(held);
	free(w);
	free(widx);
	free(granted);
	free(ids);
	free(moved);
	free(old);
	return ng;
}

/*
 * Apply @lk for (kind, owner) to the lock object of @o, o->m held: the
 * work of drfs_lock_set() and its blocking variants (@how, LKF_*).  In
 * memory under our delegation; otherwise one guarded write when the state
 * of the object is known and shows no conflict, a read first if not.
 * Every write also grants the parked requests it frees (lk_grant_pass).
 * Another live node's delegation is recalled first (at most RECALL_TRIES
 * times, then -EAGAIN: a node that does not answer counts as holding a
 * conflicting lock until its lease ends).
 */
static int lk_change_locked(struct drfs_fs *fs, struct lkobj *o, int kind,
			    uint64_t owner, const struct drfs_lk *lk,
			    struct drfs_lk *conflict, int how)
{
	char oid[DRFS_OID_MAX], tok[LK_TOKEN_MAX];
	struct lk_scratch sc = {0};
	int ret = 0, recalls = 0;
	bool contended = false, unanswered = false, wait = how & LKF_WAIT;

	drfs_lock_oid(oid, o->ino);
	lk_gen_check(fs, o);
	/* a change was notified that our state could not follow */
	if (__atomic_exchange_n(&o->missed, false, __ATOMIC_ACQ_REL))
		o->known = false;
	lk_pending_take(fs, o, true);
	for (;;) {
		rados_write_op_t op;
		bool fresh = false, dead = false, wake, local, drop_d = false;
		bool take;
		int64_t wstart;
		int n, nm = 0, nout, nrm = 0, nn = 0, nset, slot = -1;
		int mywait = -1, nwait = 0, ntot, ng = 0;
		size_t toklen;

		if (o->deleg && !deleg_usable(fs, o)) {
			/* lease near its end, fenced or watch broken: give
			 * it back and go the cluster's way */
			ret = lk_surrender(fs, o);
			if (ret < 0)
				break;
		}
		local = o->deleg;
		if (!o->known) {
			ret = lk_read(fs, o, oid);
			if (ret < 0)
				break;
			lk_pending_take(fs, o, false);
			fresh = true;
		}
		if (!local && o->dnode[0]) {
			if (strcmp(o->dnode, fs->node)) {
				contended = true;
				if (!fresh) {
					o->known = false;
					continue;
				}
				/* its holder took it when no other node had
				 * a record, and only it changes the object
				 * since: nothing of ours to release */
				if (lk->type == F_UNLCK || (how & LKF_CANCEL))
					break;
				ret = fence_if_dead(fs, o->dnode);
				if (ret < 0)
					break;
				if (ret == 0) {
					/* alive: it gives back, then we
					 * look again; a holder that did
					 * not answer holds a conflict */
					if (recalls == RECALL_TRIES ||
					    unanswered || !wait) {
						if (!wait)
							recall_async(fs, o,
								     oid);
						drfs_stat_add(
							fs,
							DRFS_ST_LOCK_CONFLICTS,
							1);
						o->known = false;
						ret = -EAGAIN;
						break;
					}
					recalls++;
					unanswered = lk_recall(fs, oid, true) ==
						     -ETIMEDOUT;
					o->known = false;
					continue;
				}
				dead = true; /* its records go too */
			}
			drop_d = true;
			ret = 0;
		}
		n = o->nrecs;
		ret = lk_scratch_alloc(&sc, n);
		if (ret < 0)
			break;
		struct rec *nrecs = sc.nrecs;
		struct drfs_lk *ranges = sc.ranges, *out = sc.out;
		char(*vals)[LK_VAL_LEN] = sc.vals;
		const char **keys = sc.keys, **vptr = sc.vptr;
		size_t *kl = sc.kl, *vl = sc.vl;

		/* the owner's parked requests; this one's, if parked */
		for (int i = 0; i < n; i++) {
			const struct rec *r = &o->recs[i];

			if (!r->wait || !same_owner(fs, r, kind, owner))
				continue;
			nwait++;
			if (r->lk.start == lk->start && lk->type != F_UNLCK)
				mywait = i;
		}
		if ((how & LKF_CANCEL) && mywait < 0) {
			/* not parked (any more): granted if the owner now
			 * holds what it asked for (only a grant, which
			 * took the record away, can have done that) */
			for (int i = 0; i < n; i++)
				if (!o->recs[i].wait &&
				    same_owner(fs, &o->recs[i], kind, owner))
					ranges[nm++] = o->recs[i].lk;
			nout = drfs_lk_apply(ranges, nm, lk, out);
			ret = same_ranges(ranges, nm, out, nout) ? 1 : 0;
			break;
		}
		ret = 0;
		for (int i = 0; i < n; i++) {
			const struct rec *r = &o->recs[i];

			if (r->wait)
				continue; /* a parked request holds nothing */
			if (same_owner(fs, r, kind, owner)) {
				ranges[nm++] = r->lk;
				continue;
			}
			if (lk->type == F_UNLCK || (how & LKF_CANCEL) ||
			    r->kind != kind || !drfs_lk_conflict(&r->lk, lk))
				continue;
			/* Our own node's records are exact in the cache
			 * (only we drop them; another node's grant may add
			 * one, which the guard catches); another node's may
			 * be gone: look again before refusing - or park at
			 * once, which the guard also proves.  A parked
			 * request woken by a notify whose state we took
			 * knows the object as it is: every change notifies
			 * (the poll looks, and breaks dead nodes' locks). */
			if (!fresh && strcmp(r->node, fs->node)) {
				if ((how & LKF_QUEUE) && !local && mywait < 0)
					ret = 2;
				else if ((how & LKF_QUEUE) && !local &&
					 !(how & LKF_POLL) && mywait >= 0 &&
					 same_ranges(&o->recs[mywait].lk, 1, lk,
						     1))
					ret = -EAGAIN;
				else
					ret = 1;
				break;
			}
			ret = fresh ? fence_if_dead(fs, r->node) : 0;
			if (ret == 1) {
				dead = true;
				ret = 0;
				continue;
			}
			if (ret == 0)
				ret = -EAGAIN;
			if (conflict)
				*conflict = r->lk;
			break;
		}
		if (ret == 1) {
			o->known = false;
			continue;
		}
		if (ret == -EAGAIN || ret == 2)
			drfs_stat_add(fs, DRFS_ST_LOCK_CONFLICTS, 1);
		if ((ret == -EAGAIN || ret == 2) && (how & LKF_QUEUE) &&
		    !local &&
		    (mywait < 0 ||
		     !same_ranges(&o->recs[mywait].lk, 1, lk, 1))) {
			ret = lk_park(fs, o, oid, &sc, kind, owner, lk, mywait);
			if (ret == 1) {
				contended = true;
				lk_catch_up(fs, o);
				continue;
			}
			if (ret == 0)
				ret = -EAGAIN;
			break;
		}
		if (ret < 0)
			break;
		if (how & LKF_CANCEL) {
			memcpy(out, ranges, (size_t)nm * sizeof(*out));
			nout = nm;
		} else {
			nout = drfs_lk_apply(ranges, nm, lk, out);
		}
		if (!dead && !drop_d && nwait == 0 &&
		    same_ranges(ranges, nm, out, nout)) {
			/* so already (nothing to release, or granted by
			 * another node's op): nothing to write */
			if (local)
				o->used_ns = mono_ns();
			break;
		}
		/* the records that stay; the owner's old ones (and its
		 * waiter record), and any dead node's, go */
		for (int i = 0; i < n; i++) {
			const struct rec *r = &o->recs[i];
			bool drop = same_owner(fs, r, kind, owner) &&
				    (!r->wait || i == mywait ||
				     (how & LKF_RELEASE));

			if (!drop && dead && strcmp(r->node, fs->node)) {
				struct session s;

				drop = session_get(fs, r->node, &s) == -ENOENT;
				if (drop && !r->wait)
					drfs_stat_add(fs, DRFS_ST_LOCKS_BROKEN,
						      1);
			}
			if (drop) {
				keys[nrm] = r->key;
				kl[nrm] = strlen(r->key);
				nrm++;
			} else {
				nrecs[nn] = *r;
				nrecs[nn].put = false;
				nn++;
			}
		}
		for (int i = 0; i < nout; i++) {
			struct rec *r = &nrecs[nn + i];

			memset(r, 0, sizeof(*r));
			snprintf(r->node, sizeof(r->node), "%s", fs->node);
			r->kind = kind;
			r->owner = owner;
			r->lk = out[i];
			r->put = true;
			rec_key(r);
		}
		ntot = nn + nout;
		if (local) {
			/* under our delegation: exact in memory, written
			 * out when it is given back */
			lk_remember(o, nrecs, ntot, o->token, o->toklen);
			o->used_ns = mono_ns();
			drfs_stat_add(fs, DRFS_ST_LOCK_LOCAL, 1);
			break;
		}
		ng = lk_grant_pass(fs, &sc, &ntot, kind, owner, &nrm);
		if (ng < 0) {
			ret = ng;
			break;
		}
		next_token(fs, tok, &toklen);
		op = drfs_wop_new();
		if (o->exists)
			drfs_op_cmpxattr(op, LK_TOKEN_XATTR, o->token,
					 o->toklen);
		else
			drfs_op_create(op, true);
		if (drop_d) {
			keys[nrm] = DRFS_LK_DELEG_KEY;
			kl[nrm] = strlen(DRFS_LK_DELEG_KEY);
			nrm++;
		}
		if (nrm)
			drfs_op_rmn(op, keys, kl, (size_t)nrm);
		nset = 0;
		for (int i = 0; i < ntot; i++) {
			struct rec *r = &nrecs[i];

			if (!r->put)
				continue;
			rec_val(r, vals[nset]);
			keys[nset] = r->key;
			kl[nset] = strlen(r->key);
			vptr[nset] = vals[nset];
			vl[nset] = LK_VAL_LEN;
			nset++;
		}
		take = o->exists && ng == 0 &&
		       deleg_wanted(fs, o, contended, nrecs, ntot);
		if (take && (slot = deleg_arm(fs, o, oid)) >= 0) {
			/* the watch is in place before "d" is */
			keys[nset] = DRFS_LK_DELEG_KEY;
			kl[nset] = strlen(DRFS_LK_DELEG_KEY);
			vptr[nset] = fs->node;
			vl[nset] = strlen(fs->node);
			nset++;
		} else {
			take = false;
		}
		if (nset)
			drfs_op_setn(op, keys, vptr, kl, vl, (size_t)nset);
		drfs_op_setxattr(op, LK_TOKEN_XATTR, tok, toklen);
		/* who frees or grants something wakes the waiters; under
		 * contention every write tells its state, so that the other
		 * nodes' next op is computed with it (a lock taken after a
		 * lost race, untold, made theirs fail and read) */
		wake = lk->type == F_UNLCK || nrm > 0 || contended ||
		       (o->cool_ns && mono_ns() - o->cool_ns < DELEG_COOL_NS);
		wstart = mono_ns();
		ret = drfs_wop(fs, oid, op, LIBRADOS_OPERATION_FULL_FORCE);
		drfs_wop_free(op);
		if (ret < 0 && take)
			deleg_disarm(fs, slot);
		if (ret == -ECANCELED || ret == -EEXIST || ret == -ENOENT) {
			/* another node changed it since we looked (or
			 * created or removed it): look again */
			drfs_stat_add(fs, DRFS_ST_RADOS_RETRY, 1);
			contended = true;
			__atomic_store_n(&o->raced, true, __ATOMIC_RELEASE);
			if (ret == -ECANCELED)
				lk_catch_up(fs, o);
			else
				o->known = false;
			continue;
		}
		if (ret < 0) {
			o->known = false;
			break;
		}
		if (wake && !take && o->exists) /* (before o->token changes) */
			lk_notify_state(fs, oid, o->token, o->toklen, tok,
					toklen, nrecs, ntot);
		else if (wake)
			lk_notify(fs, oid);
		lk_remember(o, nrecs, ntot, tok, toklen);
		o->state_ns = wstart;
		o->dnode[0] = 0;
		if (ng > 0)
			drfs_stat_add(fs, DRFS_ST_LOCK_HANDED, (uint64_t)ng);
		if (take) {
			o->deleg = true;
			o->slot = slot;
			o->used_ns = mono_ns();
			snprintf(o->dnode, sizeof(o->dnode), "%s", fs->node);
			drfs_stat_add(fs, DRFS_ST_LOCK_DELEGS, 1);
		}
		if (contended || others_hold(fs, o->recs, o->nrecs))
			o->streak = 0;
		else
			o->streak++;
		if (contended)
			o->cool_ns = mono_ns();
		break;
	}
	lk_scratch_free(&sc);
	return ret;
}

static int lk_change(struct drfs_fs *fs, uint64_t ino, int kind, uint64_t owner,
		     const struct drfs_lk *lk, struct drfs_lk *conflict,
		     int how)
{
	struct drfs_lkcache *lc = fs->lkcache;
	struct lkobj *o;
	int ret;

	if (!lc)
		return -ENOLCK; /* no session: drfs_session_start first */
	o = lkobj_get(lc, ino);
	if (!o)
		return -ENOMEM;
	pthread_mutex_lock(&o->m);
	ret = lk_change_locked(fs, o, kind, owner, lk, conflict, how);
	pthread_mutex_unlock(&o->m);
	lkobj_put(lc, o);
	return ret;
}

int drfs_lock_set(struct drfs_fs *fs, uint64_t ino, int kind, uint64_t owner,
		  const struct drfs_lk *lk, struct drfs_lk *conflict)
{
	if (__atomic_load_n(&fs->fenced, __ATOMIC_RELAXED))
		return -EIO;
	drfs_stat_add(fs, DRFS_ST_LOCK_OPS, 1);
	return lk_change(fs, ino, kind, owner, lk, conflict, LKF_WAIT);
}

int drfs_lock_wait(struct drfs_fs *fs, uint64_t ino, int kind, uint64_t owner,
		   const struct drfs_lk *lk)
{
	if (__atomic_load_n(&fs->fenced, __ATOMIC_RELAXED))
		return -EIO;
	drfs_stat_add(fs, DRFS_ST_LOCK_OPS, 1);
	return lk_change(fs, ino, kind, owner, lk, NULL, LKF_WAIT | LKF_QUEUE);
}

int drfs_lock_retry(struct drfs_fs *fs, uint64_t ino, int kind, uint64_t owner,
		    const struct drfs_lk *lk, bool poll)
{
	if (__atomic_load_n(&fs->fenced, __ATOMIC_RELAXED))
		return -EIO;
	drfs_stat_add(fs, DRFS_ST_LOCK_OPS, 1);
	return lk_change(fs, ino, kind, owner, lk, NULL,
			 LKF_QUEUE | (poll ? LKF_POLL : 0));
}

int drfs_lock_cancel(struct drfs_fs *fs, uint64_t ino, int kind, uint64_t owner,
		     const struct drfs_lk *lk)
{
	if (__atomic_load_n(&fs->fenced, __ATOMIC_RELAXED))
		return -EIO;
	return lk_change(fs, ino, kind, owner, lk, NULL, LKF_CANCEL);
}

bool drfs_lock_raced(struct drfs_fs *fs, uint64_t ino)
{
	struct drfs_lkcache *lc = fs->lkcache;
	struct lkobj *o;
	bool raced = false;

	if (!lc)
		return false;
	pthread_mutex_lock(&lc->lock);
	for (o = lc->table[ino % LK_BUCKETS]; o; o = o->next)
		if (o->ino == ino) {
			raced = __atomic_exchange_n(&o->raced, false,
						    __ATOMIC_ACQ_REL);
			break;
		}
	pthread_mutex_unlock(&lc->lock);
	return raced;
}

/* Decode a "U" notify (lk_notify_state); false if it is not one. */
int drfs_lock_hint(struct drfs_fs *fs, uint64_t ino, uint64_t notifier,
		   const void *data, size_t len)
{
	struct drfs_lkcache *lc = fs->lkcache;
	size_t b = (size_t)(ino % LK_BUCKETS);
	struct lkobj *o;
	int ret = -1;

	if (lc && notifier == drfs_instance_id(fs))
		return 0;
	/* a recall changes nothing in the object */
	if (!lc || (len == 1 && *(const char *)data == 'r'))
		return -1;
	/* only an entry we have; one in use (a librados thread does not
	 * wait for a lock held over RADOS calls) keeps it for its user */
	pthread_mutex_lock(&lc->lock);
	for (o = lc->table[b]; o; o = o->next)
		if (o->ino == ino)
			break;
	if (o)
		o->refs++;
	pthread_mutex_unlock(&lc->lock);
	if (!o)
		return -1;
	if (pthread_mutex_trylock(&o->m) == 0) {
		ret = lk_hint_apply(fs, o, data, len);
		if (ret == -1 && !lk_pending_add(o, data, len))
			ret = -2;
		else if (ret == 1) /* one kept before may follow it */
			lk_pending_take(fs, o, false);
		pthread_mutex_unlock(&o->m);
	} else if (len > 1 && !lk_pending_add(o, data, len)) {
		ret = -2;
	} else if (len == 1) {
		ret = -2; /* a plain "u": the state is not told */
	}
	if (ret == -2) { /* the next op on it reads it first */
		__atomic_store_n(&o->missed, true, __ATOMIC_RELEASE);
		ret = -1;
	}
	lkobj_put(lc, o);
	return ret;
}

int drfs_lock_get(struct drfs_fs *fs, uint64_t ino, int kind, uint64_t owner,
		  struct drfs_lk *lk)
{
	struct drfs_lkcache *lc = fs->lkcache;
	char oid[DRFS_OID_MAX];
	struct lkobj *o;
	bool unanswered = false;
	int ret;

	if (!lc)
		return -ENOLCK;
	o = lkobj_get(lc, ino);
	if (!o)
		return -ENOMEM;
	drfs_lock_oid(oid, ino);
	pthread_mutex_lock(&o->m);
	lk_gen_check(fs, o);
	if (o->deleg && !deleg_usable(fs, o)) {
		ret = lk_surrender(fs, o);
		if (ret < 0)
			goto out;
	}
	/* a question about other nodes: ask the object, unless we hold its
	 * delegation (then our records are all there is); another live
	 * node's delegation is recalled first */
	ret = 0;
	for (int tries = 0; !o->deleg; tries++) {
		ret = lk_read(fs, o, oid);
		if (ret < 0 || !o->dnode[0] || !strcmp(o->dnode, fs->node))
			break;
		ret = fence_if_dead(fs, o->dnode);
		if (ret != 0)
			break; /* dead: its records are ignored below */
		if (tries == RECALL_TRIES || unanswered) {
			/* a live holder that does not give back: its locks
			 * are not known here; the range asked about is
			 * reported write-locked, as a lock request finds it */
			lk->type = F_WRLCK;
			goto out;
		}
		unanswered = lk_recall(fs, oid, true) == -ETIMEDOUT;
	}
	if (ret == 1)
		ret = 0;
	if (ret == 0)
		lk->type = F_UNLCK;
	for (int i = 0; ret == 0 && i < o->nrecs; i++) {
		const struct rec *r = &o->recs[i];

		if (r->wait || same_owner(fs, r, kind, owner) ||
		    r->kind != kind || !drfs_lk_conflict(&r->lk, lk))
			continue;
		if (!o->deleg && fence_if_dead(fs, r->node) == 1)
			continue;
		*lk = r->lk;
		break;
	}
out:
	pthread_mutex_unlock(&o->m);
	lkobj_put(lc, o);
	return ret;
}

int drfs_lock_release(struct drfs_fs *fs, uint64_t ino, int kind,
		      uint64_t owner)
{
	struct drfs_lk all = {0, UINT64_MAX, F_UNLCK, 0};

	if (__atomic_load_n(&fs->fenced, __ATOMIC_RELAXED))
		return -EIO;
	drfs_stat_add(fs, DRFS_ST_LOCK_OPS, 1);
	return lk_change(fs, ino, kind, owner, &all, NULL,
			 LKF_WAIT | LKF_RELEASE);
}

/* ---- cache lifecycle ---- */

static int lkcache_start(struct drfs_fs *fs)
{
	struct drfs_lkcache *lc = calloc(1, sizeof(*lc));

	if (!lc)
		return -ENOMEM;
	pthread_mutex_init(&lc->lock, NULL);
	pthread_mutex_init(&lc->rq_lock, NULL);
	pthread_cond_init(&lc->rq_cond, NULL);
	fs->lkcache = lc;
	if (pthread_create(&lc->recaller, NULL, recaller_main, fs) == 0)
		lc->rq_started = true;
	else
		drfs_warn("no recaller thread: lock delegations are off");
	return 0;
}

/* Drop queued recalls unanswered (their client is going away). */
static void recalls_free(struct recall *list)
{
	while (list) {
		struct recall *r = list;

		list = r->next;
		free(r);
	}
}

/*
 * Before a rejoin (conn_lock held for writing): the old identity's
 * delegations die with it (its session goes, so other nodes drop its "d"
 * keys as a dead node's); their watches are undone on the old client and
 * queued recalls dropped (they would be answered on it).
 */
static void deleg_forget_all(struct drfs_fs *fs)
{
	struct drfs_lkcache *lc = fs->lkcache;
	struct drfs_watch w[DELEG_MAX];
	struct recall *list;
	int n = 0;

	if (!lc)
		return;
	pthread_mutex_lock(&lc->lock);
	for (int i = 0; i < DELEG_MAX; i++)
		if (lc->slots[i].used) {
			w[n++] = lc->slots[i].w;
			drfs_watch_forget(&lc->slots[i].w);
			lc->slots[i].used = false;
		}
	lc->ndeleg = 0;
	/* (no lock operation runs: they hold conn_lock for reading) so the
	 * entries can be told at once, and become evictable again */
	for (int b = 0; b < LK_BUCKETS; b++)
		for (struct lkobj *e = lc->table[b]; e; e = e->next) {
			e->deleg = false;
			e->slot = -1;
		}
	pthread_mutex_unlock(&lc->lock);
	for (int i = 0; i < n; i++)
		drfs_unwatch(&w[i]);
	pthread_mutex_lock(&lc->rq_lock);
	list = lc->rq;
	lc->rq = NULL;
	pthread_mutex_unlock(&lc->rq_lock);
	recalls_free(list);
}

/* At unmount (no lock operation running): every delegation is given
 * back, its watch undone. */
static void deleg_stop(struct drfs_fs *fs)
{
	struct drfs_lkcache *lc = fs->lkcache;
	uint64_t inos[DELEG_MAX];
	int n = 0;

	if (!lc || !lc->rq_started)
		return;
	pthread_mutex_lock(&lc->rq_lock);
	lc->rq_stop = true;
	pthread_cond_signal(&lc->rq_cond);
	pthread_mutex_unlock(&lc->rq_lock);
	pthread_join(lc->recaller, NULL);
	lc->rq_started = false;
	pthread_mutex_lock(&lc->lock);
	for (int i = 0; i < DELEG_MAX; i++)
		if (lc->slots[i].used)
			inos[n++] = lc->slots[i].ino;
	pthread_mutex_unlock(&lc->lock);
	drfs_conn_rdlock(fs);
	for (int i = 0; i < n; i++)
		deleg_give_back(fs, inos[i], false, false);
	/* (one whose give-back failed keeps its watch until here) */
	for (int i = 0; i < DELEG_MAX; i++)
		if (lc->slots[i].used)
			deleg_disarm(fs, i);
	drfs_conn_unlock(fs);
	drfs_watch_flush(fs);
	recalls_free(lc->rq);
	lc->rq = NULL;
}

/* No lock operation may be running (the FUSE loop has ended). */
static void lkcache_stop(struct drfs_fs *fs)
{
	struct drfs_lkcache *lc = fs->lkcache;

	if (!lc)
		return;
	fs->lkcache = NULL;
	for (size_t b = 0; b < LK_BUCKETS; b++)
		while (lc->table[b]) {
			struct lkobj *o = lc->table[b];

			lc->table[b] = o->next;
			lkobj_free(o);
		}
	pthread_mutex_destroy(&lc->lock);
	pthread_mutex_destroy(&lc->rq_lock);
	pthread_cond_destroy(&lc->rq_cond);
	free(lc);
}

/* ---- session lifecycle ---- */

static int session_put(struct drfs_fs *fs, bool first)
{
	char val[256];
	int n, pr = 0, ret;
	rados_write_op_t op = drfs_wop_new();
	int64_t sent = mono_ns(); /* before the expiry is computed */

	/* "/f<format>": what this daemon stores (drfs_format_upgrade) */
	n = snprintf(val, sizeof(val), "%" PRId64 " %s datarootfs-%s/f%u",
		     drfs_now_ns() + (int64_t)DRFS_LEASE * 1000000000, fs->addr,
		     DRFS_VERSION, DRFS_FORMAT);
	drfs_op_create(op, false);
	if (!first) /* still ours? (absent or changed: we were fenced) */
		drfs_op_cmp(op, fs->node, fs->session_val, fs->session_vlen,
			    &pr);
	drfs_op_set(op, fs->node, val, (size_t)n);
	ret = drfs_wop(fs, "sessions", op, LIBRADOS_OPERATION_FULL_FORCE);
	drfs_wop_free(op);
	if (ret == 0) {
		memcpy(fs->session_val, val, (size_t)n);
		fs->session_vlen = (size_t)n;
		__atomic_store_n(&fs->lease_local_until,
				 drfs_lease_local_after(first, sent, mono_ns(),
							&fs->lease_bound,
							&fs->lease_local_off),
				 __ATOMIC_RELAXED);
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
	op = drfs_wop_new();
	drfs_op_create(op, false);
	drfs_op_set(op, fs->node, val, n);
	drfs_wop(fs, "nodestats", op, LIBRADOS_OPERATION_FULL_FORCE);
	drfs_wop_free(op);
}

/* A successful renewal at @now: extend (or, after a gap, restart) the
 * period of uninterrupted renewals. */
static void lease_renewed(struct drfs_fs *fs, int64_t now)
{
	int64_t last = __atomic_load_n(&fs->lease_ok_last, __ATOMIC_RELAXED);

	if (!last || now - last > DRFS_LEASE_GAP_NS)
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
	int ret = drfs_client_addr(fs, fs->addr, sizeof(fs->addr));

	if (ret < 0)
		return ret;
	return session_put(fs, true);
}

int drfs_session_start(struct drfs_fs *fs)
{
	int ret = lkcache_start(fs);

	if (ret < 0)
		return ret;
	ret = session_register(fs);
	if (ret < 0)
		goto out_cache;
	lease_renewed(fs, mono_ns());
	pthread_mutex_init(&fs->session_lock, NULL);
	pthread_cond_init(&fs->session_cond, NULL);
	ret = -pthread_create(&fs->session_thread, NULL, session_main, fs);
	if (ret < 0)
		goto out_cache;
	ret = -pthread_create(&fs->reaper_thread, NULL, reaper_main, fs);
	if (ret < 0)
		goto out_session;
	fs->session_up = true;
	return 0;

out_session:
	pthread_mutex_lock(&fs->session_lock);
	fs->session_stop = true;
	pthread_cond_broadcast(&fs->session_cond);
	pthread_mutex_unlock(&fs->session_lock);
	pthread_join(fs->session_thread, NULL);
out_cache:
	deleg_stop(fs);
	lkcache_stop(fs);
	return ret;
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
	rados_write_op_t op = drfs_wop_new();

	drfs_op_rm(op, key);
	drfs_wop(fs, oid, op, LIBRADOS_OPERATION_FULL_FORCE);
	drfs_wop_free(op);
}

int drfs_rejoin_locked(struct drfs_fs *fs, char *err, size_t errlen)
{
	char old[sizeof(fs->node)];
	int ret;

	memcpy(old, fs->node, sizeof(old));
	__atomic_store_n(&fs->lease_local_until, 0, __ATOMIC_RELAXED);
	deleg_forget_all(fs);
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
	deleg_stop(fs);
	lkcache_stop(fs);
	op = drfs_wop_new();
	drfs_op_rm(op, fs->node);
	drfs_wop(fs, "sessions", op, LIBRADOS_OPERATION_FULL_FORCE);
	drfs_wop_free(op);
	op = drfs_wop_new();
	drfs_op_rm(op, fs->node);
	drfs_wop(fs, "nodestats", op, LIBRADOS_OPERATION_FULL_FORCE);
	drfs_wop_free(op);
}

int drfs_nodestats_get(struct drfs_fs *fs, const char *node, char *buf,
		       size_t size)
{
	size_t len = 0;
	int ret = drfs_omap_get(fs, "nodestats", node, buf, size - 1, &len);

	buf[ret == 0 ? (len < size - 1 ? len : size - 1) : 0] = 0;
	return ret;
}

struct sessions_ctx {
	void (*cb)(void *ctx, const char *node, const char *addr,
		   int64_t expire_ns, const char *info);
	void *ctx;
	int n;
};

static int session_one(void *arg, const char *k, size_t kl, const char *v,
		       size_t vl)
{
	struct sessions_ctx *c = arg;
	char node[64], buf[256], addr[128] = "", info[64] = "";
	int64_t exp = 0;

	snprintf(node, sizeof(node), "%.*s", (int)kl, k);
	snprintf(buf, sizeof(buf), "%.*s", (int)vl, v);
	sscanf(buf, "%" SCNd64 " %127s %63s", &exp, addr, info);
	c->cb(c->ctx, node, addr, exp, info);
	c->n++;
	return 0;
}

int drfs_sessions_list(struct drfs_fs *fs,
		       void (*cb)(void *ctx, const char *node, const char *addr,
				  int64_t expire_ns, const char *info),
		       void *ctx)
{
	/* one page: the sessions of every node mounted */
	const struct drfs_omap_list l = {.page = 1024, .pages = 1};
	struct sessions_ctx c = {cb, ctx, 0};
	int ret = drfs_omap_list(fs, "sessions", &l, session_one, &c);
	int n = c.n;

	if (ret == -ENOENT)
		return 0;
	return ret < 0 ? ret : n;
}
