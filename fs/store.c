/*
 * store.c - the filesystem handle (connect, reconnect after fencing),
 * counters, fencing state, superblock, mkfs, purge epochs and inode
 * number allocation.
 *
 * Every RADOS call is made by the backend (backend.c): it counts, checks
 * fencing and maps errors; this file only decides what to send.
 */
#include <errno.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "fs.h"
#include "internal.h"
#include "lock.h"
#include "log.h"

#define INO_BATCH 1024
#define INO_FIRST 16 /* 1 is the root; 2..15 reserved */

int64_t drfs_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void drfs_fault(const char *point)
{
	static const char *armed;
	static int checked;

	if (!__atomic_load_n(&checked, __ATOMIC_ACQUIRE)) {
		armed = getenv("DRFS_FAULT");
		__atomic_store_n(&checked, 1, __ATOMIC_RELEASE);
	}
	if (armed && !strcmp(armed, point)) {
		drfs_err("fault injection: dying at '%s'", point);
		_exit(99);
	}
}

void drfs_stat_add(struct drfs_fs *fs, enum drfs_stat s, uint64_t n)
{
	__atomic_add_fetch(&fs->stats[s], n, __ATOMIC_RELAXED);
}

const char *drfs_stat_name(int i, char *buf, size_t size)
{
	/* by enum value, so a counter added to fs.h without a name here
	 * shows up as "counter_<n>" (and fails test_stats), never as the
	 * next counter's name */
	static const char *const names[DRFS_ST_AREA_OPS] = {
		[DRFS_ST_RADOS_READ] = "rados_reads",
		[DRFS_ST_RADOS_WRITE] = "rados_writes",
		[DRFS_ST_RADOS_RETRY] = "rados_retries",
		[DRFS_ST_CSUM_ERR] = "checksum_errors",
		[DRFS_ST_BYTES_READ] = "bytes_read",
		[DRFS_ST_BYTES_WRITTEN] = "bytes_written",
		[DRFS_ST_WB_BG] = "writeback_bg_flushes",
		[DRFS_ST_LOCK_OPS] = "lock_ops",
		[DRFS_ST_LOCK_CONFLICTS] = "lock_conflicts",
		[DRFS_ST_LOCKS_BROKEN] = "locks_broken",
		[DRFS_ST_LOCK_LOCAL] = "lock_local_grants",
		[DRFS_ST_LOCK_RECALLS] = "lock_recalls",
		[DRFS_ST_LOCK_DELEGS] = "lock_delegations",
		[DRFS_ST_LOCK_HINTS] = "lock_hints",
		[DRFS_ST_LOCK_PARKED] = "lock_parked",
		[DRFS_ST_LOCK_HANDED] = "lock_handed",
		[DRFS_ST_LOCK_READS] = "lock_reads",
		[DRFS_ST_LC_BREACH] = "lc_breach_rewrite",
		[DRFS_ST_LC_BREACH_TRUNCATE] = "lc_breach_truncate",
		[DRFS_ST_LC_BREACH_RENAME] = "lc_breach_rename_over",
		[DRFS_ST_CAS_DEDUP] = "filedir_dedup",
		[DRFS_ST_CAS_HASH_WRITTEN] = "filedir_hash_written",
		[DRFS_ST_CAS_HASH_REREAD] = "filedir_hash_reread",
		[DRFS_ST_RC_HIT] = "read_cache_hits",
		[DRFS_ST_RC_MISS] = "read_cache_misses",
		[DRFS_ST_RC_FILL] = "read_cache_fills",
		[DRFS_ST_RC_EVICT] = "read_cache_evictions",
		[DRFS_ST_RC_CORRUPT] = "read_cache_corrupt",
		[DRFS_ST_RC_BYTES] = "read_cache_bytes",
		[DRFS_ST_MDC_HIT] = "mdcache_hits",
		[DRFS_ST_MDC_MISS] = "mdcache_misses",
		[DRFS_ST_INV_SENT] = "invalidations_sent",
		[DRFS_ST_INV_RECV] = "invalidations_received",
		[DRFS_ST_INV_FENCED] = "invalidation_fenced",
		[DRFS_ST_INV_LOST] = "mdcache_lost",
		[DRFS_ST_INV_P99_US] = "invalidation_wait_p99_us",
	};
	static const char *const per_area[3] = {"ops", "area_bytes_read",
						"area_bytes_written"};

	if (i < 0 || i >= DRFS_ST__COUNT || (i < DRFS_ST_AREA_OPS && !names[i]))
		snprintf(buf, size, "counter_%d", i);
	else if (i < DRFS_ST_AREA_OPS)
		snprintf(buf, size, "%s", names[i]);
	else
		snprintf(
			buf, size, "%s_%s",
			per_area[(i - DRFS_ST_AREA_OPS) / DRFS_AREA__N],
			drfs_area_kinds[(i - DRFS_ST_AREA_OPS) % DRFS_AREA__N]);
	return buf;
}

bool drfs_is_fenced(struct drfs_fs *fs)
{
	return __atomic_load_n(&fs->fenced, __ATOMIC_ACQUIRE);
}

void drfs_set_fenced(struct drfs_fs *fs, const char *why)
{
	if (__atomic_exchange_n(&fs->fenced, true, __ATOMIC_SEQ_CST))
		return;
	__atomic_store_n(&fs->fenced_ns, drfs_now_ns(), __ATOMIC_RELAXED);
	drfs_err("THIS NODE HAS BEEN FENCED (%s): another node broke its "
		 "locks after its lease expired.  Writes not yet made durable "
		 "are dropped, open files fail with EIO; rejoining the "
		 "cluster with a new session.",
		 why);
	/* the lease thread rejoins: wake it now rather than at its next
	 * renewal (lock order: conn_lock, then session_lock) */
	if (fs->session_up) {
		pthread_mutex_lock(&fs->session_lock);
		/* the lease thread and the reaper wait on it */
		pthread_cond_broadcast(&fs->session_cond);
		pthread_mutex_unlock(&fs->session_lock);
	}
}

static char *dup_opt(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void new_node_id(struct drfs_fs *fs)
{
	uuid_t u;

	uuid_generate(u);
	uuid_unparse_lower(u, fs->node);
}

static void fs_free(struct drfs_fs *fs)
{
	pthread_mutex_destroy(&fs->ino_lock);
	pthread_rwlock_destroy(&fs->conn_lock);
	free(fs->pool);
	free(fs->fsname);
	free((char *)fs->copts.conf);
	free((char *)fs->copts.id);
	free((char *)fs->copts.keyring);
	free((char *)fs->copts.mon_host);
	free(fs);
}

int drfs_connect(const struct drfs_conn_opts *o, struct drfs_fs **out,
		 char *err, size_t errlen)
{
	struct drfs_fs *fs = calloc(1, sizeof(*fs));
	int ret;

	if (!fs)
		return -ENOMEM;
	pthread_mutex_init(&fs->ino_lock, NULL);
	pthread_rwlock_init(&fs->conn_lock, NULL); /* prefers readers */
	new_node_id(fs);
	fs->pool = strdup(o->pool ? o->pool : DRFS_DEFAULT_POOL);
	fs->fsname = strdup(o->fsname ? o->fsname : DRFS_DEFAULT_FS);
	fs->copts.conf = dup_opt(o->conf);
	fs->copts.id = dup_opt(o->id);
	fs->copts.keyring = dup_opt(o->keyring);
	fs->copts.mon_host = dup_opt(o->mon_host);
	fs->copts.timeout = o->timeout;
	ret = drfs_conn_open(fs, &fs->conn, err, errlen);
	if (ret < 0) {
		fs_free(fs);
		return ret;
	}
	*out = fs;
	return 0;
}

void drfs_disconnect(struct drfs_fs *fs)
{
	if (!fs)
		return;
	drfs_conn_close(fs->conn);
	fs_free(fs);
}

void drfs_conn_rdlock(struct drfs_fs *fs)
{
	pthread_rwlock_rdlock(&fs->conn_lock);
}

void drfs_conn_wrlock(struct drfs_fs *fs)
{
	pthread_rwlock_wrlock(&fs->conn_lock);
}

void drfs_conn_unlock(struct drfs_fs *fs)
{
	pthread_rwlock_unlock(&fs->conn_lock);
}

int drfs_reconnect_locked(struct drfs_fs *fs, char *err, size_t errlen)
{
	struct drfs_conn *c;
	int ret = drfs_conn_open(fs, &c, err, errlen);

	if (ret < 0)
		return ret;
	drfs_conn_close(fs->conn);
	fs->conn = c;
	fs->conn_gen++;
	new_node_id(fs);
	return 0;
}

/* ---- superblock ---- */

static int sb_write(struct drfs_fs *fs, bool exclusive)
{
	enum { NFIX = 6, NKEYS = NFIX + DRFS_AREA__N - 1 };
	char created[32], format[16], epoch[32], repoch[32];
	char akeys[DRFS_AREA__N][32];
	const char *keys[NKEYS] = {"magic",   "format",	  "uuid",
				   "created", "lc_epoch", "rc_epoch"};
	const char *vals[NKEYS];
	size_t klen[NKEYS], vlen[NKEYS];
	rados_write_op_t op = drfs_wop_new();
	int ret;

	snprintf(format, sizeof(format), "%u", fs->sb.format);
	snprintf(created, sizeof(created), "%" PRId64, fs->sb.created_ns);
	snprintf(epoch, sizeof(epoch), "%" PRIu64, fs->sb.lc_epoch);
	snprintf(repoch, sizeof(repoch), "%" PRIu64, fs->sb.rc_epoch);
	vals[0] = DRFS_MAGIC;
	vals[1] = format;
	vals[2] = fs->sb.uuid;
	vals[3] = created;
	vals[4] = epoch;
	vals[5] = repoch;
	for (int a = 1; a < DRFS_AREA__N; a++) {
		snprintf(akeys[a], sizeof(akeys[a]), "area.%s",
			 drfs_area_kinds[a]);
		keys[NFIX + a - 1] = akeys[a];
		vals[NFIX + a - 1] = fs->sb.area[a];
	}
	for (int i = 0; i < NKEYS; i++) {
		klen[i] = strlen(keys[i]);
		vlen[i] = strlen(vals[i]);
	}
	if (exclusive)
		drfs_op_create(op, true);
	drfs_op_setn(op, keys, vals, klen, vlen, NKEYS);
	ret = drfs_wop(fs, "sb", op, 0);
	drfs_wop_free(op);
	return ret;
}

struct sb_read {
	struct drfs_sb sb;
	bool magic;
};

/* One superblock key. */
static int sb_key(void *arg, const char *key, size_t klen, const char *val,
		  size_t vlen)
{
	struct sb_read *r = arg;
	struct drfs_sb *sb = &r->sb;
	char v[64];

	(void)klen;
	snprintf(v, sizeof(v), "%.*s", (int)vlen, val);
	if (!strcmp(key, "magic"))
		r->magic = !strcmp(v, DRFS_MAGIC);
	else if (!strcmp(key, "format"))
		sb->format = (uint32_t)strtoul(v, NULL, 10);
	else if (!strcmp(key, "uuid"))
		snprintf(sb->uuid, sizeof(sb->uuid), "%.36s", v);
	else if (!strcmp(key, "created"))
		sb->created_ns = strtoll(v, NULL, 10);
	else if (!strcmp(key, "lc_epoch"))
		sb->lc_epoch = strtoull(v, NULL, 10);
	else if (!strcmp(key, "rc_epoch"))
		sb->rc_epoch = strtoull(v, NULL, 10);
	for (int a = 1; a < DRFS_AREA__N; a++)
		if (!strncmp(key, "area.", 5) &&
		    !strcmp(key + 5, drfs_area_kinds[a]))
			snprintf(sb->area[a], sizeof(sb->area[a]), "%s", v);
	return 0;
}

int drfs_sb_load(struct drfs_fs *fs, char *err, size_t errlen)
{
	const struct drfs_omap_list l = {.page = 64};
	struct sb_read r;
	int ret;

	memset(&r, 0, sizeof(r));
	ret = drfs_omap_list(fs, "sb", &l, sb_key, &r);
	if (ret == -ENOENT) {
		drfs_seterr(err, errlen,
			    "no datarootfs filesystem '%s' in pool '%s' (run "
			    "datarootctl mkfs first)",
			    fs->fsname, fs->pool);
		return ret;
	}
	if (ret == -EPERM || ret == -EACCES) {
		drfs_seterr(err, errlen,
			    "client.%s may not read filesystem '%s' (namespace "
			    "'%s' of pool '%s'): %s (its osd caps do not cover "
			    "it: see 'ceph auth get client.%s')",
			    fs->copts.id ? fs->copts.id : "admin", fs->fsname,
			    fs->fsname, fs->pool, strerror(-ret),
			    fs->copts.id ? fs->copts.id : "admin");
		return ret;
	}
	if (ret < 0) {
		drfs_seterr(err, errlen,
			    "cannot read superblock of '%s' in pool "
			    "'%s': %s",
			    fs->fsname, fs->pool, strerror(-ret));
		return ret;
	}
	/* filesystems made before area names were recorded */
	for (int a = 1; a < DRFS_AREA__N; a++)
		if (!r.sb.area[a][0])
			snprintf(r.sb.area[a], sizeof(r.sb.area[a]), "%s",
				 drfs_area_kinds[a]);
	/* one copy, after the whole read: a failed read leaves fs->sb as
	 * it was (the daemon's area names point into it) */
	fs->sb = r.sb;
	if (!r.magic) {
		drfs_seterr(err, errlen,
			    "object 'sb' in namespace '%s' of pool "
			    "'%s' is not a datarootfs superblock",
			    fs->fsname, fs->pool);
		ret = -EINVAL;
	} else if (fs->sb.format > DRFS_FORMAT || fs->sb.format == 0) {
		drfs_seterr(err, errlen,
			    "filesystem '%s' has format version %u; "
			    "this datarootfs supports up to %u (upgrade it)",
			    fs->fsname, fs->sb.format, DRFS_FORMAT);
		ret = -EPROTO;
	}
	return ret;
}

/* ---- format upgrade ---- */

struct old_nodes {
	const char *self;
	int64_t now;
	int n;
	char first[160];
};

/* The format a node's session says its daemon stores ("datarootfs-<ver>
 * /f<format>"; none before format 2). */
static unsigned session_format(const char *info)
{
	const char *f = strstr(info, "/f");

	return f ? (unsigned)strtoul(f + 2, NULL, 10) : 1;
}

static void old_node(void *ctx, const char *node, const char *addr,
		     int64_t expire_ns, const char *info)
{
	struct old_nodes *o = ctx;

	if (!strcmp(node, o->self) || expire_ns <= o->now ||
	    session_format(info) >= DRFS_FORMAT)
		return;
	if (o->n++ == 0)
		snprintf(o->first, sizeof(o->first), "%s at %s (%s)", node,
			 addr, info);
}

int drfs_format_upgrade(struct drfs_fs *fs, char *err, size_t errlen)
{
	char want[16], to[16];
	struct old_nodes o = {fs->node, drfs_now_ns(), 0, ""};
	rados_write_op_t op;
	int pr = 0, ret;

	if (fs->sb.format >= DRFS_FORMAT)
		return 0;
	ret = drfs_sessions_list(fs, old_node, &o);
	if (ret < 0) {
		drfs_seterr(err, errlen, "cannot list the nodes of '%s': %s",
			    fs->fsname, strerror(-ret));
		return ret;
	}
	if (o.n) {
		drfs_seterr(err, errlen,
			    "filesystem '%s' has format version %u and %d "
			    "node(s) mount it with a datarootfs that cannot "
			    "read format %u, first %s: upgrade or unmount "
			    "them, then mount here",
			    fs->fsname, fs->sb.format, o.n, DRFS_FORMAT,
			    o.first);
		return -EBUSY;
	}
	snprintf(want, sizeof(want), "%u", fs->sb.format);
	snprintf(to, sizeof(to), "%u", DRFS_FORMAT);
	op = drfs_wop_new();
	drfs_op_assert_exists(op);
	drfs_op_cmp(op, "format", want, strlen(want), &pr);
	drfs_op_set(op, "format", to, strlen(to));
	ret = drfs_wop(fs, "sb", op, 0);
	drfs_wop_free(op);
	if (ret == -ECANCELED) /* raised meanwhile (or changed): look again */
		return drfs_sb_load(fs, err, errlen);
	if (ret < 0) {
		drfs_seterr(err, errlen,
			    "cannot raise the format of '%s' to %u: %s",
			    fs->fsname, DRFS_FORMAT, strerror(-ret));
		return ret;
	}
	drfs_info("filesystem '%s': format version %u raised to %u", fs->fsname,
		  fs->sb.format, DRFS_FORMAT);
	fs->sb.format = DRFS_FORMAT;
	return 0;
}

int drfs_mkfs(struct drfs_fs *fs, const struct drfs_mkfs_opts *o, char *err,
	      size_t errlen)
{
	struct drfs_attr root = {0};
	char abuf[DRFS_ATTR_LEN], tbuf[DRFS_TIMES_LEN], oid[DRFS_OID_MAX];
	char next[32];
	rados_write_op_t op;
	uint64_t size;
	uuid_t u;
	int64_t now = drfs_now_ns();
	int ret;

	ret = drfs_obj_stat(fs, "sb", &size);
	if (ret == 0 && !o->force) {
		drfs_seterr(
			err, errlen,
			"a filesystem '%s' already exists in pool "
			"'%s' (use --force to destroy it and make a new one)",
			fs->fsname, fs->pool);
		return -EEXIST;
	}
	if (ret < 0 && ret != -ENOENT) {
		drfs_seterr(err, errlen, "cannot check pool '%s': %s", fs->pool,
			    strerror(-ret));
		return ret;
	}
	if (o->force) {
		ret = drfs_wipe_namespace(fs);
		if (ret < 0) {
			drfs_seterr(err, errlen,
				    "cannot remove old filesystem: %s",
				    strerror(-ret));
			return ret;
		}
	}

	root.ino = DRFS_ROOT_INO;
	root.parent = DRFS_ROOT_INO;
	root.mode = S_IFDIR | (o->root_mode ? o->root_mode : 0755);
	root.nlink = 2;
	root.atime_ns = root.btime_ns = now;
	drfs_attr_encode(&root, abuf);
	drfs_times_encode(now, now, tbuf);
	drfs_oid(oid, DRFS_ROOT_INO, 0);
	op = drfs_wop_new();
	drfs_op_create(op, true);
	drfs_op_setxattr(op, "a", abuf, sizeof(abuf));
	drfs_op_setxattr(op, "t", tbuf, sizeof(tbuf));
	ret = drfs_wop(fs, oid, op, 0);
	drfs_wop_free(op);
	if (ret < 0)
		goto fail;

	snprintf(next, sizeof(next), "%u", INO_FIRST);
	op = drfs_wop_new();
	drfs_op_create(op, true);
	drfs_op_setxattr(op, "next", next, strlen(next));
	ret = drfs_wop(fs, "inoctr", op, 0);
	drfs_wop_free(op);
	if (ret < 0)
		goto fail;

	/* The superblock goes last: its presence means "a filesystem". */
	uuid_generate(u);
	uuid_unparse_lower(u, fs->sb.uuid);
	fs->sb.format = DRFS_FORMAT;
	fs->sb.created_ns = now;
	fs->sb.lc_epoch = 1;
	fs->sb.rc_epoch = 1;
	for (int a = 1; a < DRFS_AREA__N; a++)
		snprintf(fs->sb.area[a], sizeof(fs->sb.area[a]), "%s",
			 o->area[a] ? o->area[a] : drfs_area_kinds[a]);
	ret = sb_write(fs, true);
	if (ret < 0)
		goto fail;
	return 0;
fail:
	drfs_seterr(err, errlen, "mkfs of '%s' in pool '%s' failed: %s",
		    fs->fsname, fs->pool, strerror(-ret));
	return ret;
}

/* ---- inode numbers ---- */

/* Reserve a batch from "inoctr" with compare-and-swap on its xattr. */
static int ino_reserve(struct drfs_fs *fs, uint64_t *first)
{
	for (;;) {
		char cur[32] = "", next[32];
		rados_write_op_t op;
		uint64_t v;
		int ret;

		ret = drfs_obj_getxattr(fs, "inoctr", "next", cur,
					sizeof(cur) - 1);
		if (ret < 0)
			return ret;
		cur[ret] = 0;
		v = strtoull(cur, NULL, 10);
		if (v < INO_FIRST)
			return -EIO;
		snprintf(next, sizeof(next), "%" PRIu64, v + INO_BATCH);
		op = drfs_wop_new();
		drfs_op_cmpxattr(op, "next", cur, strlen(cur));
		drfs_op_setxattr(op, "next", next, strlen(next));
		ret = drfs_wop(fs, "inoctr", op, 0);
		drfs_wop_free(op);
		if (ret == -ECANCELED) {
			drfs_stat_add(fs, DRFS_ST_RADOS_RETRY, 1);
			continue;
		}
		if (ret < 0)
			return ret;
		*first = v;
		return 0;
	}
}

int drfs_ino_alloc(struct drfs_fs *fs, uint64_t *ino)
{
	int ret = 0;

	pthread_mutex_lock(&fs->ino_lock);
	if (fs->ino_next >= fs->ino_end) {
		uint64_t first;

		ret = ino_reserve(fs, &first);
		if (ret < 0)
			goto out;
		fs->ino_next = first;
		fs->ino_end = first + INO_BATCH;
	}
	*ino = fs->ino_next++;
out:
	pthread_mutex_unlock(&fs->ino_lock);
	return ret;
}

/*
 * Bump the purge epoch @key ("lc_epoch": localcache, "rc_epoch": filedir
 * read cache) and tell every mounted node ("lc N" / "rc N" on the
 * superblock): each switches before it acknowledges.
 */
static int epoch_purge(struct drfs_fs *fs, const char *key, uint64_t *epoch,
		       size_t *acked, size_t *timedout)
{
	struct drfs_notify_out r;
	int ret;

	for (;;) {
		char old[32], new[32], msg[48];
		rados_write_op_t op;
		uint64_t cur;
		int pr = 0;

		ret = drfs_sb_load(fs, NULL, 0);
		if (ret < 0)
			return ret;
		cur = key[0] == 'l' ? fs->sb.lc_epoch : fs->sb.rc_epoch;
		snprintf(old, sizeof(old), "%" PRIu64, cur);
		snprintf(new, sizeof(new), "%" PRIu64, cur + 1);
		op = drfs_wop_new();
		/* an old superblock has no rc_epoch: absent compares "" */
		drfs_op_cmp(op, key, cur ? old : "", cur ? strlen(old) : 0,
			    &pr);
		drfs_op_set(op, key, new, strlen(new));
		ret = drfs_wop(fs, "sb", op, 0);
		drfs_wop_free(op);
		if (ret == -ECANCELED)
			continue; /* a concurrent purge: bump again */
		if (ret < 0)
			return ret;
		*epoch = cur + 1;
		snprintf(msg, sizeof(msg), "%.2s %" PRIu64, key, *epoch);
		ret = drfs_notify(fs, "sb", msg, strlen(msg), 15000, &r);
		break;
	}
	*acked = r.acked;
	*timedout = r.ntimedout;
	free(r.timedout);
	return ret == -ETIMEDOUT ? 0 : ret;
}

int drfs_lc_purge(struct drfs_fs *fs, uint64_t *epoch, size_t *acked,
		  size_t *timedout)
{
	return epoch_purge(fs, "lc_epoch", epoch, acked, timedout);
}

int drfs_rc_purge(struct drfs_fs *fs, uint64_t *epoch, size_t *acked,
		  size_t *timedout)
{
	return epoch_purge(fs, "rc_epoch", epoch, acked, timedout);
}
