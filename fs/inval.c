/*
 * inval.c - cache coherence between nodes: every change to an inode object
 * is announced to every mounted node, and acknowledged, before the node
 * that made it goes on.
 *
 * Channel: DRFS_INV_SHARDS fixed objects "inv.<k>" that every mounted node
 * watches.  A change is published as one notify on one shard (any shard
 * reaches every node; the shard is picked by inode number only to spread
 * the load over PGs).  Per-directory objects were the alternative: a node
 * would then watch every directory it caches (thousands of watches, each
 * pinged, re-armed after every OSD change) and a writer would notify each
 * object it changed; the fixed set costs every node a few watches and
 * every change one notify, which for the 2-20 web nodes of a Moodle site
 * is the cheaper and simpler contract.  (doc/design.md, "Coherent
 * metadata cache".)
 *
 * The unit of invalidation is an inode number: one RADOS object i.<ino>
 * holds an inode's attributes, its stripe-0 data and, for a directory,
 * all its entries, and the backend (backend.c) calls drfs_inval_note()
 * after every successful write to or removal of such an object.
 * Receivers drop all they cache of that inode (mdcache.h, rule 1) and
 * tell the kernel (hooks).
 *
 * Guarantee: when drfs_inval_end() (or a note outside a batch) returns 0,
 * every node that watched the shard has dropped what it cached about the
 * inodes, or has been blocklisted: a watcher that does not acknowledge
 * within the notify timeout is fenced (its client address, recorded by
 * the node in the "watchers" omap before it armed its watches, goes on
 * the OSD blocklist) before the writer continues.
 *
 * A node trusts its cache only while it knows it hears every notify: all
 * shard watches armed and confirmed by the OSDs within INV_TRUST_MS (the
 * objecter pings them every second, see backend.c).  The health thread
 * checks that every INV_TICK_MS; when it fails (watch error, OSD restart,
 * partition, the node was frozen) the cache is switched off and emptied
 * and the "lost" hook drops the kernel's caches, before anything is
 * served from a cache again.  The OSDs drop a watch they have not heard
 * from in INV_WATCH_S; a node frozen that long has stopped trusting its
 * cache long before (INV_TRUST_MS), and its kernel's entries expired
 * (the daemon gives them at most a second, less than the notify timeout).
 *
 * Callbacks run in librados threads and take no lock but the cache's own
 * (a leaf): a writer holds its request's locks while it waits for acks,
 * so an ack must never wait for a request of its own node.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs.h"
#include "internal.h"
#include "log.h"
#include "mdcache.h"

#define INV_MAGIC "DRI1"
#define INV_TICK_MS 200
/* must stay below the notify timeout (a writer gives up on a frozen node
 * only after the node's trust has run out) */
#define INV_TRUST_MS 4000
#define INV_WATCH_S 10
#define INV_BATCH 32
#define INV_HIST 128

struct inv_watch {
	struct drfs_inval *inv;
	char oid[16];
	struct drfs_watch w; /* health thread (conn_lock held) */
};

struct drfs_inval {
	struct drfs_fs *fs;
	const struct drfs_inval_hooks *hooks;
	void *ctx;
	int timeout_ms;
	uint64_t gid; /* our instance id as registered in "watchers" */
	struct inv_watch w[DRFS_INV_SHARDS];
	bool trusted; /* atomic */
	bool was_lost; /* a loss was logged: log the recovery too */
	int64_t trusted_until_us; /* atomic, CLOCK_MONOTONIC: see below */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop; /* protected by lock */
	bool kick; /* protected by lock: a watch failed, check now */
	uint64_t hist[INV_HIST]; /* atomic: ack waits, 4 buckets per 2x */
};

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- latency histogram (ack wait) ---- */

static int hist_bucket(uint64_t us)
{
	int b = 0;

	/* 4 buckets per power of two: b = 4*log2(us) roughly */
	while (us >= 2 && b < INV_HIST - 4) {
		b += 4;
		us >>= 1;
	}
	return b;
}

static uint64_t hist_upper(int b)
{
	return 2ull << (b / 4);
}

uint64_t drfs_inval_wait_p99_us(struct drfs_fs *fs)
{
	struct drfs_inval *inv = fs->inv;
	uint64_t total = 0, seen = 0, h[INV_HIST];

	if (!inv)
		return 0;
	for (int i = 0; i < INV_HIST; i++) {
		h[i] = __atomic_load_n(&inv->hist[i], __ATOMIC_RELAXED);
		total += h[i];
	}
	if (!total)
		return 0;
	for (int i = 0; i < INV_HIST; i++) {
		seen += h[i];
		if (seen * 100 >= total * 99)
			return hist_upper(i);
	}
	return hist_upper(INV_HIST - 1);
}

/* ---- sending ---- */

static __thread struct {
	int depth;
	size_t n;
	uint64_t ino[INV_BATCH];
} tb;

static uint64_t mix(uint64_t x)
{
	x ^= x >> 31;
	x *= 0x9E3779B97F4A7C15ull;
	return x ^ (x >> 29);
}

/*
 * Fence the watcher @gid that did not acknowledge: blocklist the client
 * address it recorded.  0 when fenced (or it is gone), -errno when we
 * cannot tell who it is (then the writer must not go on as if it had
 * acknowledged).
 */
static int fence_watcher(struct drfs_fs *fs, uint64_t gid)
{
	char key[32], val[256];
	size_t len = 0;
	int ret;

	snprintf(key, sizeof(key), "%" PRIu64, gid);
	ret = drfs_omap_get(fs, "watchers", key, val, sizeof(val) - 1, &len);
	if (ret < 0) {
		drfs_err("a node (client %" PRIu64 ") did not acknowledge a "
			 "cache invalidation and is not in the watcher "
			 "list: cannot fence it: %s",
			 gid, strerror(-ret));
		return -EIO;
	}
	val[len < sizeof(val) ? len : sizeof(val) - 1] = 0;
	{
		char addr[200] = "", node[40] = "";

		if (sscanf(val, "%199s %39s", addr, node) < 1)
			return -EIO;
		ret = drfs_blocklist(fs, addr, 3600);
		if (ret < 0) {
			drfs_err("cannot fence node %s (%s), which did not "
				 "acknowledge a cache invalidation: %s",
				 node, addr, strerror(-ret));
			return ret;
		}
		drfs_stat_add(fs, DRFS_ST_INV_FENCED, 1);
		drfs_warn("node %s (%s) did not acknowledge a cache "
			  "invalidation within %d ms: blocklisted (fenced)",
			  node, addr, fs->inv ? fs->inv->timeout_ms : 0);
	}
	/* the OSDs drop the watches of a blocklisted client once they have
	 * the new map; ours must be at least as new for the next notify */
	drfs_osdmap_wait(fs);
	return 0;
}

/* Acks missing from a notify reply: fence each watcher that gave none. */
static int check_reply(struct drfs_fs *fs, const struct drfs_notify_out *r)
{
	uint64_t self = drfs_instance_id(fs);
	int ret = 0;

	if (r->bad_reply)
		return -EIO;
	for (size_t i = 0; i < r->ntimedout && ret == 0; i++) {
		if (r->timedout[i] == self) {
			/* our own watch: never blocked (see above), but a
			 * stuck librados thread would be: stop trusting */
			drfs_warn("this node's own invalidation watch did not "
				  "acknowledge in time");
			continue;
		}
		ret = fence_watcher(fs, r->timedout[i]);
	}
	return ret;
}

static int send_batch(struct drfs_fs *fs, const uint64_t *inos, size_t n)
{
	char buf[4 + 37 + 8 + 4 + INV_BATCH * 8], oid[16];
	uint32_t n32 = (uint32_t)n;
	int64_t now = drfs_now_ns(), t0;
	int timeout_ms = fs->inv ? fs->inv->timeout_ms : DRFS_INV_TIMEOUT_MS;
	size_t len = 0;
	int ret = -EIO;

	memcpy(buf, INV_MAGIC, 4);
	len = 4;
	memset(buf + len, 0, 37);
	memcpy(buf + len, fs->node, strnlen(fs->node, 36));
	len += 37;
	memcpy(buf + len, &now, 8);
	len += 8;
	memcpy(buf + len, &n32, 4);
	len += 4;
	memcpy(buf + len, inos, n * 8);
	len += n * 8;
	snprintf(oid, sizeof(oid), "inv.%u",
		 (unsigned)(mix(inos[0]) % DRFS_INV_SHARDS));
	t0 = mono_us();
	for (int attempt = 0; attempt < 3; attempt++) {
		struct drfs_notify_out r;

		if (drfs_is_fenced(fs))
			return -EIO;
		drfs_stat_add(fs, DRFS_ST_INV_SENT, 1);
		/* (a refusal as blocklisted marks us fenced: -EIO) */
		ret = drfs_notify(fs, oid, buf, len, (uint64_t)timeout_ms, &r);
		if (ret == 0 || ret == -ETIMEDOUT)
			ret = check_reply(fs, &r);
		else if (ret == -ENOENT)
			ret = 0; /* no shard object: nobody watches */
		free(r.timedout);
		if (ret < 0 && drfs_is_fenced(fs))
			return -EIO;
		if (ret == 0)
			break;
	}
	if (ret < 0) {
		drfs_err("cannot announce a change of inode %" PRIx64
			 " to the other nodes: %s",
			 inos[0], strerror(-ret));
		return -EIO;
	}
	if (fs->inv) {
		uint64_t us = (uint64_t)(mono_us() - t0);

		uint64_t cnt = __atomic_add_fetch(
			&fs->inv->hist[hist_bucket(us)], 1, __ATOMIC_RELAXED);

		/* the gauge published with the node's counters */
		if (cnt % 16 == 1)
			__atomic_store_n(&fs->stats[DRFS_ST_INV_P99_US],
					 drfs_inval_wait_p99_us(fs),
					 __ATOMIC_RELAXED);
	}
	return 0;
}

static int flush_batch(struct drfs_fs *fs)
{
	int ret = 0;

	if (tb.n)
		ret = send_batch(fs, tb.ino, tb.n);
	tb.n = 0;
	return ret;
}

void drfs_inval_begin(struct drfs_fs *fs)
{
	(void)fs;
	tb.depth++;
}

int drfs_inval_end(struct drfs_fs *fs)
{
	if (--tb.depth > 0)
		return 0;
	tb.depth = 0;
	return flush_batch(fs);
}

/*
 * Own writes: a thread that knows what it wrote may store it in the cache
 * (saving the read that would follow) if the only invalidations since it
 * took its ticket were its own (mdcache.h, drfs_mdc_inval).
 */
static __thread struct {
	uint64_t last; /* count after this thread's last own invalidation */
	uint64_t bumps; /* own invalidations since drfs_own_begin */
} own;

uint64_t drfs_own_begin(struct drfs_fs *fs)
{
	own.bumps = 0;
	return fs->mdc && drfs_inval_trusted(fs) ? drfs_mdc_ticket(fs->mdc) : 0;
}

uint64_t drfs_own_ticket(struct drfs_fs *fs, uint64_t t0)
{
	if (!t0 || !fs->mdc || !own.bumps || own.last != t0 + own.bumps)
		return 0;
	return own.last;
}

int drfs_inval_note(struct drfs_fs *fs, uint64_t ino)
{
	/* our own cache first: this thread's next read must not hit it */
	if (fs->mdc) {
		own.last = drfs_mdc_inval(fs->mdc, ino);
		own.bumps++;
	}
	for (size_t i = 0; i < tb.n; i++)
		if (tb.ino[i] == ino)
			goto added;
	if (tb.n == INV_BATCH) {
		int ret = flush_batch(fs);

		if (ret < 0)
			return ret;
	}
	tb.ino[tb.n++] = ino;
added:
	return tb.depth > 0 ? 0 : flush_batch(fs);
}

int drfs_inval_note_oid(struct drfs_fs *fs, const char *oid)
{
	uint64_t ino;
	char *end;

	/* inode objects only: "i.<16 hex>" (stripes have a suffix) */
	if (oid[0] != 'i' || oid[1] != '.' || strlen(oid) != 18)
		return 0;
	ino = strtoull(oid + 2, &end, 16);
	if (*end)
		return 0;
	return drfs_inval_note(fs, ino);
}

/* ---- receiving ---- */

static void watch_cb(void *arg, const struct drfs_notify_in *in)
{
	struct inv_watch *w = arg;
	struct drfs_inval *inv = w->inv;
	struct drfs_fs *fs = inv->fs;
	const char *p = in->data;
	size_t len = in->len;
	uint64_t notifier = in->notifier;
	uint32_t n = 0;

	if (len >= 53 && !memcmp(p, INV_MAGIC, 4)) {
		memcpy(&n, p + 49, 4);
		if (53 + (size_t)n * 8 > len)
			n = 0;
	}
	if (n && notifier != __atomic_load_n(&inv->gid, __ATOMIC_RELAXED)) {
		uint64_t inos[INV_BATCH];

		if (n > INV_BATCH)
			n = INV_BATCH;
		memcpy(inos, p + 53, (size_t)n * 8);
		for (uint32_t i = 0; i < n; i++)
			drfs_mdc_inval(fs->mdc, inos[i]);
		drfs_stat_add(fs, DRFS_ST_INV_RECV, 1);
		if (inv->hooks && inv->hooks->changed)
			inv->hooks->changed(inv->ctx, inos, n);
	}
	drfs_notify_ack(in);
}

/*
 * Stop trusting the cache.  @loud: a watch failed (worth a warning); else
 * a confirmation came late (a loaded machine, a stalled node): counted
 * (mdcache_lost), logged at debug level only.
 */
static void untrust(struct drfs_inval *inv, const char *why, bool loud)
{
	if (!__atomic_exchange_n(&inv->trusted, false, __ATOMIC_SEQ_CST))
		return;
	inv->was_lost = loud;
	drfs_mdc_enable(inv->fs->mdc, false);
	drfs_stat_add(inv->fs, DRFS_ST_INV_LOST, 1);
	if (loud)
		drfs_warn("metadata cache off: %s; everything is read from "
			  "the cluster until the invalidation watches are "
			  "confirmed again",
			  why);
	else
		drfs_dbg("metadata cache off: %s", why);
	if (inv->hooks && inv->hooks->lost)
		inv->hooks->lost(inv->ctx);
}

static void watch_err(void *arg, int err)
{
	struct inv_watch *w = arg;
	struct drfs_inval *inv = w->inv;
	char why[96];

	snprintf(why, sizeof(why), "watch on %s lost (%s)", w->oid,
		 strerror(-err));
	untrust(inv, why, true);
	pthread_mutex_lock(&inv->lock);
	inv->kick = true;
	pthread_cond_signal(&inv->cond);
	pthread_mutex_unlock(&inv->lock);
}

/* Record our client address under our instance id (before watching). */
static int register_gid(struct drfs_inval *inv)
{
	struct drfs_fs *fs = inv->fs;
	uint64_t gid = drfs_instance_id(fs);
	char key[32], val[256];
	rados_write_op_t op;
	int ret;

	if (gid == inv->gid)
		return 0;
	snprintf(key, sizeof(key), "%" PRIu64, gid);
	snprintf(val, sizeof(val), "%s %s", fs->addr, fs->node);
	op = drfs_wop_new();
	drfs_op_create(op, false);
	drfs_op_set(op, key, val, strlen(val));
	if (inv->gid) {
		snprintf(key, sizeof(key), "%" PRIu64, inv->gid);
		drfs_op_rm(op, key);
	}
	ret = drfs_wop(fs, "watchers", op, LIBRADOS_OPERATION_FULL_FORCE);
	drfs_wop_free(op);
	if (ret == 0)
		__atomic_store_n(&inv->gid, gid, __ATOMIC_RELAXED);
	return ret;
}

static void unwatch_all(struct drfs_inval *inv)
{
	for (int i = 0; i < DRFS_INV_SHARDS; i++)
		drfs_unwatch(&inv->w[i].w);
}

/*
 * One health check (conn_lock held for reading): arm missing watches,
 * check armed ones.  True if every watch is armed and confirmed.
 */
static bool check_watches(struct drfs_inval *inv, int *max_age_ms)
{
	struct drfs_fs *fs = inv->fs;
	bool ok = true;

	*max_age_ms = 0;

	if (drfs_is_fenced(fs))
		return false;
	for (int i = 0; i < DRFS_INV_SHARDS; i++)
		/* a rejoin replaced the client: the old watches are gone */
		if (!drfs_watch_current(fs, &inv->w[i].w))
			drfs_watch_forget(&inv->w[i].w);
	if (register_gid(inv) < 0)
		return false;
	for (int i = 0; i < DRFS_INV_SHARDS; i++) {
		struct inv_watch *w = &inv->w[i];
		int r;

		if (!drfs_watch_armed(&w->w)) {
			rados_write_op_t op = drfs_wop_new();

			drfs_op_create(op, false);
			drfs_wop(fs, w->oid, op, LIBRADOS_OPERATION_FULL_FORCE);
			drfs_wop_free(op);
			r = drfs_watch(fs, &w->w, w->oid, INV_WATCH_S, watch_cb,
				       watch_err, w);
			if (r < 0) {
				ok = false;
				continue;
			}
		}
		r = drfs_watch_check(&w->w);
		if (r < 0) {
			drfs_unwatch(&w->w);
			ok = false;
		} else if (r > INV_TRUST_MS) {
			ok = false;
		} else if (r > *max_age_ms) {
			*max_age_ms = r;
		}
	}
	return ok;
}

/*
 * The cache may be used until INV_TRUST_MS after the oldest confirmation
 * of our watches: a node that stalls (SIGSTOP, a frozen VM) finds its
 * trust expired when it runs again, before the health thread has looked,
 * so no request serves from the cache meanwhile.  A lapse is a loss: the
 * caches are emptied before they are trusted again (notifies may have
 * been missed while we could not tell).
 */
static void health_tick(struct drfs_inval *inv)
{
	int age = 0;
	bool ok;
	int64_t now;

	drfs_conn_rdlock(inv->fs);
	ok = check_watches(inv, &age);
	drfs_conn_unlock(inv->fs);
	now = mono_us();
	if (ok && __atomic_load_n(&inv->trusted, __ATOMIC_SEQ_CST) &&
	    now > __atomic_load_n(&inv->trusted_until_us, __ATOMIC_SEQ_CST))
		untrust(inv, "cache trust lapsed (this node stalled?)", false);
	if (!ok) {
		untrust(inv, "invalidation watches not confirmed", false);
		return;
	}
	__atomic_store_n(&inv->trusted_until_us,
			 now + (INV_TRUST_MS - age) * 1000ll, __ATOMIC_SEQ_CST);
	if (!__atomic_load_n(&inv->trusted, __ATOMIC_SEQ_CST)) {
		/* enable first: it is a barrier for fills that ran while we
		 * were deaf (mdcache.c) */
		drfs_mdc_enable(inv->fs->mdc, true);
		__atomic_store_n(&inv->trusted, true, __ATOMIC_SEQ_CST);
		if (inv->was_lost)
			drfs_info("metadata cache on again: invalidation "
				  "watches confirmed");
	}
}

static void *health_main(void *arg)
{
	struct drfs_inval *inv = arg;

	pthread_mutex_lock(&inv->lock);
	while (!inv->stop) {
		struct timespec ts;

		inv->kick = false;
		pthread_mutex_unlock(&inv->lock);
		health_tick(inv);
		pthread_mutex_lock(&inv->lock);
		if (inv->stop || inv->kick)
			continue;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += INV_TICK_MS * 1000000l;
		if (ts.tv_nsec >= 1000000000l) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000l;
		}
		pthread_cond_timedwait(&inv->cond, &inv->lock, &ts);
	}
	pthread_mutex_unlock(&inv->lock);
	return NULL;
}

bool drfs_inval_trusted(struct drfs_fs *fs)
{
	struct drfs_inval *inv = fs->inv;

	return inv && __atomic_load_n(&inv->trusted, __ATOMIC_SEQ_CST) &&
	       mono_us() < __atomic_load_n(&inv->trusted_until_us,
					   __ATOMIC_SEQ_CST);
}

int drfs_inval_start(struct drfs_fs *fs, const struct drfs_inval_hooks *hooks,
		     void *ctx, int timeout_ms)
{
	struct drfs_inval *inv = calloc(1, sizeof(*inv));

	if (!inv)
		return -ENOMEM;
	fs->mdc = drfs_mdc_new(0);
	if (!fs->mdc) {
		free(inv);
		return -ENOMEM;
	}
	drfs_mdc_enable(fs->mdc, false);
	inv->fs = fs;
	inv->hooks = hooks;
	inv->ctx = ctx;
	inv->timeout_ms = timeout_ms > 0 ? timeout_ms : DRFS_INV_TIMEOUT_MS;
	for (int i = 0; i < DRFS_INV_SHARDS; i++) {
		inv->w[i].inv = inv;
		snprintf(inv->w[i].oid, sizeof(inv->w[i].oid), "inv.%d", i);
	}
	pthread_mutex_init(&inv->lock, NULL);
	pthread_cond_init(&inv->cond, NULL);
	fs->inv = inv;
	health_tick(inv);
	if (!drfs_inval_trusted(fs))
		drfs_warn("cannot watch the invalidation objects yet: the "
			  "metadata cache stays off until it can");
	if (pthread_create(&inv->thread, NULL, health_main, inv) != 0) {
		drfs_inval_stop(fs);
		return -EAGAIN;
	}
	return 0;
}

void drfs_inval_detach(struct drfs_fs *fs)
{
	struct drfs_inval *inv = fs->inv;

	if (!inv)
		return;
	untrust(inv, "rejoining the cluster", false);
	unwatch_all(inv);
}

void drfs_inval_stop(struct drfs_fs *fs)
{
	struct drfs_inval *inv = fs->inv;

	if (!inv)
		return;
	pthread_mutex_lock(&inv->lock);
	inv->stop = true;
	pthread_cond_signal(&inv->cond);
	pthread_mutex_unlock(&inv->lock);
	if (inv->thread)
		pthread_join(inv->thread, NULL);
	__atomic_store_n(&inv->trusted, false, __ATOMIC_SEQ_CST);
	unwatch_all(inv);
	drfs_watch_flush(fs);
	if (inv->gid) {
		char key[32];
		rados_write_op_t op = drfs_wop_new();

		snprintf(key, sizeof(key), "%" PRIu64, inv->gid);
		drfs_op_rm(op, key);
		drfs_wop(fs, "watchers", op, LIBRADOS_OPERATION_FULL_FORCE);
		drfs_wop_free(op);
	}
	fs->inv = NULL;
	pthread_mutex_destroy(&inv->lock);
	pthread_cond_destroy(&inv->cond);
	free(inv);
	drfs_mdc_free(fs->mdc);
	fs->mdc = NULL;
}
