/*
 * stats.c - live statistics of this node, as two hidden read-only files in
 * the mount root (not listed by readdir):
 *
 *   .datarootfs-stats.prom   Prometheus text format (node_exporter's
 *                            textfile collector or any scraper)
 *   .datarootfs-stats.txt    the same, for people
 *
 * Each open takes a snapshot; reads serve it (direct_io, so the size 0 in
 * the attributes does not hide the content).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "area.h"
#include "lock.h"
#include "mdcache.h"
#include "nodes.h"
#include "rcache.h"
#include "stats.h"

static const char *const op_names[] = {
	"lookup",  "getattr", "setattr", "create", "mkdir", "unlink",
	"rmdir",   "rename",  "link",	 "open",   "read",  "write",
	"readdir", "flush",   "fsync",	 "lock",
};

_Static_assert(sizeof(op_names) / sizeof(op_names[0]) == DRFSD_OP__N,
	       "op_names");

void drfsd_count(struct drfsd *d, enum drfsd_op op, int area)
{
	__atomic_add_fetch(&d->ops[op], 1, __ATOMIC_RELAXED);
	drfs_stat_add(d->fs, DRFS_ST_AREA_OPS + area, 1);
}

int drfsd_area_of(struct drfsd *d, uint64_t ino)
{
	struct dnode *n;

	if (drfsd_is_local(ino))
		return DRFS_AREA_LOCALCACHE;
	if (ino == FUSE_ROOT_ID || drfsd_is_stats(ino))
		return DRFS_AREA_OTHER;
	n = drfsd_node(d, ino);
	return n ? n->area : DRFS_AREA_OTHER;
}

int drfsd_area_at(struct drfsd *d, uint64_t parent, const char *name)
{
	bool root = parent == FUSE_ROOT_ID;

	return drfs_area_child(
		d->area, root,
		root ? DRFS_AREA_OTHER : drfsd_area_of(d, parent), name);
}

int drfsd_stats_ino(const char *name)
{
	if (!strcmp(name, DRFSD_STATS_PROM))
		return 1;
	if (!strcmp(name, DRFSD_STATS_TXT))
		return 2;
	return 0;
}

struct sbuf {
	char *p;
	size_t len, cap;
};

static void put(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void put(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		b->cap = b->cap * 2 + 4096;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
}

static uint64_t ld(const uint64_t *v)
{
	return __atomic_load_n(v, __ATOMIC_RELAXED);
}

static const char *const rc_events[] = {"hit", "miss", "fill", "eviction",
					"corrupt"};

/* Requests and bytes by area; filedir dedup and read cache. */
static void render_areas_prom(struct drfsd *d, struct sbuf *b)
{
	static const char *const what[3] = {"requests", "bytes_read",
					    "bytes_written"};
	struct drfs_fs *fs = d->fs;
	uint64_t used, limit;
	size_t files;

	for (int w = 0; w < 3; w++) {
		put(b, "# TYPE datarootfs_area_%s_total counter\n", what[w]);
		for (int a = 0; a < DRFS_AREA__N; a++)
			put(b,
			    "datarootfs_area_%s_total{fs=\"%s\",area=\"%s\"} "
			    "%" PRIu64 "\n",
			    what[w], fs->fsname, drfs_area_kinds[a],
			    ld(&fs->stats[DRFS_ST_AREA_OPS + w * DRFS_AREA__N +
					  a]));
	}
	put(b, "datarootfs_filedir_dedup_total{fs=\"%s\"} %" PRIu64 "\n",
	    fs->fsname, ld(&fs->stats[DRFS_ST_CAS_DEDUP]));
	put(b,
	    "datarootfs_filedir_hash_total{fs=\"%s\",how=\"written\"} "
	    "%" PRIu64 "\n"
	    "datarootfs_filedir_hash_total{fs=\"%s\",how=\"reread\"} "
	    "%" PRIu64 "\n",
	    fs->fsname, ld(&fs->stats[DRFS_ST_CAS_HASH_WRITTEN]), fs->fsname,
	    ld(&fs->stats[DRFS_ST_CAS_HASH_REREAD]));
	put(b, "# TYPE datarootfs_read_cache_events_total counter\n");
	for (int i = 0; i < 5; i++)
		put(b,
		    "datarootfs_read_cache_events_total{fs=\"%s\","
		    "event=\"%s\"} %" PRIu64 "\n",
		    fs->fsname, rc_events[i],
		    ld(&fs->stats[DRFS_ST_RC_HIT + i]));
	drfsd_rc_usage(d, &used, &limit, &files);
	put(b,
	    "datarootfs_read_cache_bytes{fs=\"%s\"} %" PRIu64 "\n"
	    "datarootfs_read_cache_limit_bytes{fs=\"%s\"} %" PRIu64 "\n"
	    "datarootfs_read_cache_files{fs=\"%s\"} %zu\n",
	    fs->fsname, used, fs->fsname, limit, fs->fsname, files);
}

static void render_areas_txt(struct drfsd *d, struct sbuf *b)
{
	struct drfs_fs *fs = d->fs;
	uint64_t used, limit, hit, miss;
	size_t files;

	for (int a = 0; a < DRFS_AREA__N; a++) {
		const uint64_t *st = &fs->stats[DRFS_ST_AREA_OPS + a];

		put(b,
		    "area %-11s %-12s requests=%" PRIu64 " read=%" PRIu64
		    " written=%" PRIu64 "\n",
		    drfs_area_kinds[a], a ? d->area[a] : "(rest)", ld(st),
		    ld(st + DRFS_AREA__N), ld(st + 2 * DRFS_AREA__N));
	}
	drfsd_rc_usage(d, &used, &limit, &files);
	hit = ld(&fs->stats[DRFS_ST_RC_HIT]);
	miss = ld(&fs->stats[DRFS_ST_RC_MISS]);
	put(b,
	    "filedir      dedup=%" PRIu64 " hashed-as-written=%" PRIu64
	    " read-back=%" PRIu64 "\n",
	    ld(&fs->stats[DRFS_ST_CAS_DEDUP]),
	    ld(&fs->stats[DRFS_ST_CAS_HASH_WRITTEN]),
	    ld(&fs->stats[DRFS_ST_CAS_HASH_REREAD]));
	if (!d->rc) {
		put(b, "read cache   (disabled: no cache_path)\n");
		return;
	}
	put(b,
	    "read cache   %zu files, %.1f of %.1f MiB, hit rate %.1f%%:", files,
	    used / 1048576.0, limit / 1048576.0,
	    hit + miss ? 100.0 * (double)hit / (double)(hit + miss) : 0.0);
	for (int i = 0; i < 5; i++)
		put(b, " %s=%" PRIu64, rc_events[i],
		    ld(&fs->stats[DRFS_ST_RC_HIT + i]));
	put(b, "\n");
}

/* The coherent metadata cache (fs/mdcache.c, fs/inval.c). */
static void render_mdc(struct drfsd *d, struct sbuf *b, bool prom)
{
	static const char *const names[] = {
		"mdcache_hits",	       "mdcache_misses",
		"invalidations_sent",  "invalidations_received",
		"invalidation_fenced", "mdcache_lost"};
	struct drfs_fs *fs = d->fs;
	struct drfs_mdc_stats ms = {0};
	uint64_t p99 = drfs_inval_wait_p99_us(fs);
	uint64_t hit = ld(&fs->stats[DRFS_ST_MDC_HIT]);
	uint64_t miss = ld(&fs->stats[DRFS_ST_MDC_MISS]);
	bool on = drfs_inval_trusted(fs);

	if (fs->mdc)
		drfs_mdc_stats(fs->mdc, &ms);
	if (prom) {
		for (int i = 0; i < 6; i++)
			put(b, "datarootfs_%s_total{fs=\"%s\"} %" PRIu64 "\n",
			    names[i], fs->fsname,
			    ld(&fs->stats[DRFS_ST_MDC_HIT + i]));
		put(b,
		    "datarootfs_mdcache_on{fs=\"%s\"} %d\n"
		    "datarootfs_mdcache_entries{fs=\"%s\"} %zu\n"
		    "datarootfs_mdcache_inodes{fs=\"%s\"} %zu\n"
		    "datarootfs_invalidation_wait_p99_seconds{fs=\"%s\"} "
		    "%.6f\n",
		    fs->fsname, on ? 1 : 0, fs->fsname, ms.entries, fs->fsname,
		    ms.inodes, fs->fsname, p99 / 1e6);
		return;
	}
	put(b,
	    "mdcache      %s, timeout %.1f s%s, hit rate %.1f%%: hits=%" PRIu64
	    " misses=%" PRIu64 " inodes=%zu entries=%zu evictions=%" PRIu64
	    " stale_fills=%" PRIu64 " lost=%" PRIu64 "\n",
	    on ? "on" : "OFF", d->md_timeout,
	    __atomic_load_n(&d->epoch_ok, __ATOMIC_RELAXED)
		    ? ""
		    : " (attributes only: kernel without epoch)",
	    hit + miss ? 100.0 * (double)hit / (double)(hit + miss) : 0.0, hit,
	    miss, ms.inodes, ms.entries, ms.evictions, ms.stale_fills,
	    ld(&fs->stats[DRFS_ST_INV_LOST]));
	put(b,
	    "invalidation sent=%" PRIu64 " received=%" PRIu64 " fenced=%" PRIu64
	    " ack_wait_p99=%" PRIu64 "us\n",
	    ld(&fs->stats[DRFS_ST_INV_SENT]), ld(&fs->stats[DRFS_ST_INV_RECV]),
	    ld(&fs->stats[DRFS_ST_INV_FENCED]), p99);
}

/* The Prometheus text format of the statistics. */
static void render_prom(struct drfsd *d, struct sbuf *b)
{
	struct drfs_fs *fs = d->fs;
	const char *lbl = fs->fsname;
	static const char *const breach[] = {"rewrite", "truncate",
					     "rename_over"};

	put(b, "# HELP datarootfs_requests_total FUSE requests by "
	       "operation\n# TYPE datarootfs_requests_total counter\n");
	for (int i = 0; i < DRFSD_OP__N; i++)
		put(b,
		    "datarootfs_requests_total{fs=\"%s\",op=\"%s\"} "
		    "%" PRIu64 "\n",
		    lbl, op_names[i], ld(&d->ops[i]));
	put(b, "# HELP datarootfs_rados_ops_total RADOS operations "
	       "sent\n# TYPE datarootfs_rados_ops_total counter\n");
	put(b,
	    "datarootfs_rados_ops_total{fs=\"%s\",kind=\"read\"} "
	    "%" PRIu64 "\n",
	    lbl, ld(&fs->stats[DRFS_ST_RADOS_READ]));
	put(b,
	    "datarootfs_rados_ops_total{fs=\"%s\",kind=\"write\"} "
	    "%" PRIu64 "\n",
	    lbl, ld(&fs->stats[DRFS_ST_RADOS_WRITE]));
	put(b, "datarootfs_rados_retries_total{fs=\"%s\"} %" PRIu64 "\n", lbl,
	    ld(&fs->stats[DRFS_ST_RADOS_RETRY]));
	put(b, "datarootfs_checksum_errors_total{fs=\"%s\"} %" PRIu64 "\n", lbl,
	    ld(&fs->stats[DRFS_ST_CSUM_ERR]));
	put(b, "datarootfs_bytes_read_total{fs=\"%s\"} %" PRIu64 "\n", lbl,
	    ld(&fs->stats[DRFS_ST_BYTES_READ]));
	put(b, "datarootfs_bytes_written_total{fs=\"%s\"} %" PRIu64 "\n", lbl,
	    ld(&fs->stats[DRFS_ST_BYTES_WRITTEN]));
	put(b, "datarootfs_writeback_bg_flushes_total{fs=\"%s\"} %" PRIu64 "\n",
	    lbl, ld(&fs->stats[DRFS_ST_WB_BG]));
	put(b, "datarootfs_lock_requests_total{fs=\"%s\"} %" PRIu64 "\n", lbl,
	    ld(&fs->stats[DRFS_ST_LOCK_OPS]));
	put(b, "datarootfs_lock_conflicts_total{fs=\"%s\"} %" PRIu64 "\n", lbl,
	    ld(&fs->stats[DRFS_ST_LOCK_CONFLICTS]));
	put(b, "datarootfs_locks_broken_total{fs=\"%s\"} %" PRIu64 "\n", lbl,
	    ld(&fs->stats[DRFS_ST_LOCKS_BROKEN]));
	put(b, "datarootfs_lock_delegations_total{fs=\"%s\"} %" PRIu64 "\n",
	    lbl, ld(&fs->stats[DRFS_ST_LOCK_DELEGS]));
	put(b, "datarootfs_lock_local_grants_total{fs=\"%s\"} %" PRIu64 "\n",
	    lbl, ld(&fs->stats[DRFS_ST_LOCK_LOCAL]));
	put(b, "datarootfs_lock_recalls_total{fs=\"%s\"} %" PRIu64 "\n", lbl,
	    ld(&fs->stats[DRFS_ST_LOCK_RECALLS]));
	put(b, "datarootfs_lock_hints_total{fs=\"%s\"} %" PRIu64 "\n", lbl,
	    ld(&fs->stats[DRFS_ST_LOCK_HINTS]));
	put(b, "datarootfs_lock_parked_total{fs=\"%s\"} %" PRIu64 "\n", lbl,
	    ld(&fs->stats[DRFS_ST_LOCK_PARKED]));
	put(b, "datarootfs_lock_handed_total{fs=\"%s\"} %" PRIu64 "\n", lbl,
	    ld(&fs->stats[DRFS_ST_LOCK_HANDED]));
	put(b, "datarootfs_lock_reads_total{fs=\"%s\"} %" PRIu64 "\n", lbl,
	    ld(&fs->stats[DRFS_ST_LOCK_READS]));
	for (int i = 0; i < 3; i++)
		put(b,
		    "datarootfs_localcache_breaches_total{fs=\"%s\","
		    "kind=\"%s\"} %" PRIu64 "\n",
		    lbl, breach[i], ld(&fs->stats[DRFS_ST_LC_BREACH + i]));
	put(b, "datarootfs_localcache_epoch{fs=\"%s\"} %" PRIu64 "\n", lbl,
	    d->lc_epoch);
	put(b, "datarootfs_inodes_known{fs=\"%s\"} %zu\n", lbl, d->nnodes);
	put(b, "datarootfs_fenced{fs=\"%s\"} %d\n", lbl,
	    __atomic_load_n(&fs->fenced, __ATOMIC_RELAXED) ? 1 : 0);
	put(b, "datarootfs_rejoins_total{fs=\"%s\"} %" PRIu64 "\n", lbl,
	    ld(&d->rejoins));
	render_areas_prom(d, b);
	render_mdc(d, b, true);
}

/* The statistics for people. */
static void render_txt(struct drfsd *d, struct sbuf *b)
{
	struct drfs_fs *fs = d->fs;
	const char *lbl = fs->fsname;

	put(b, "filesystem   %s (pool %s), node %s\n", lbl, fs->pool, fs->node);
	put(b, "fenced       %s (rejoined %" PRIu64 " time(s))\n",
	    __atomic_load_n(&fs->fenced, __ATOMIC_RELAXED) ? "YES" : "no",
	    ld(&d->rejoins));
	put(b, "requests    ");
	for (int i = 0; i < DRFSD_OP__N; i++)
		put(b, " %s=%" PRIu64, op_names[i], ld(&d->ops[i]));
	put(b,
	    "\nrados ops    read=%" PRIu64 " write=%" PRIu64 " retries=%" PRIu64
	    "\n",
	    ld(&fs->stats[DRFS_ST_RADOS_READ]),
	    ld(&fs->stats[DRFS_ST_RADOS_WRITE]),
	    ld(&fs->stats[DRFS_ST_RADOS_RETRY]));
	put(b,
	    "bytes        read=%" PRIu64 " written=%" PRIu64
	    " (background flushes %" PRIu64 ")\n",
	    ld(&fs->stats[DRFS_ST_BYTES_READ]),
	    ld(&fs->stats[DRFS_ST_BYTES_WRITTEN]),
	    ld(&fs->stats[DRFS_ST_WB_BG]));
	put(b, "checksums    errors=%" PRIu64 "\n",
	    ld(&fs->stats[DRFS_ST_CSUM_ERR]));
	put(b,
	    "locks        requests=%" PRIu64 " conflicts=%" PRIu64
	    " broken=%" PRIu64 " (lease %d s)\n",
	    ld(&fs->stats[DRFS_ST_LOCK_OPS]),
	    ld(&fs->stats[DRFS_ST_LOCK_CONFLICTS]),
	    ld(&fs->stats[DRFS_ST_LOCKS_BROKEN]), DRFS_LEASE);
	put(b,
	    "delegations  taken=%" PRIu64 " local=%" PRIu64
	    " recalls_sent=%" PRIu64 " hints_used=%" PRIu64 "\n",
	    ld(&fs->stats[DRFS_ST_LOCK_DELEGS]),
	    ld(&fs->stats[DRFS_ST_LOCK_LOCAL]),
	    ld(&fs->stats[DRFS_ST_LOCK_RECALLS]),
	    ld(&fs->stats[DRFS_ST_LOCK_HINTS]));
	put(b,
	    "waiters      parked=%" PRIu64 " handed=%" PRIu64
	    " lock_object_reads=%" PRIu64 "\n",
	    ld(&fs->stats[DRFS_ST_LOCK_PARKED]),
	    ld(&fs->stats[DRFS_ST_LOCK_HANDED]),
	    ld(&fs->stats[DRFS_ST_LOCK_READS]));
	put(b,
	    "localcache   %s, %s, epoch %" PRIu64 ", breaches rewrite=%" PRIu64
	    " truncate=%" PRIu64 " rename_over=%" PRIu64 "\n",
	    d->lc_path ? d->lc_path : "(disabled)",
	    d->lc_strict ? "strict" : "compat", d->lc_epoch,
	    ld(&fs->stats[DRFS_ST_LC_BREACH]),
	    ld(&fs->stats[DRFS_ST_LC_BREACH_TRUNCATE]),
	    ld(&fs->stats[DRFS_ST_LC_BREACH_RENAME]));
	put(b, "inodes       %zu known to the kernel\n", d->nnodes);
	render_areas_txt(d, b);
	render_mdc(d, b, false);
}

static char *render(struct drfsd *d, bool prom, size_t *len)
{
	struct sbuf b = {NULL, 0, 0};

	put(&b, "%s", "");
	if (prom)
		render_prom(d, &b);
	else
		render_txt(d, &b);
	*len = b.len;
	return b.p;
}

void drfsd_stats_entry(struct drfsd *d, int which, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = DRFSD_STATS_BIT | (uint64_t)which;
	e->attr.st_ino = e->ino;
	e->attr.st_mode = S_IFREG | 0444;
	e->attr.st_nlink = 1;
	e->attr.st_mtime = time(NULL);
	(void)d;
}

struct snap {
	char *buf;
	size_t len;
};

void drfsd_stats_open(fuse_req_t req, uint64_t ino, struct fuse_file_info *fi)
{
	struct drfsd *d = fuse_req_userdata(req);
	struct snap *s;

	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EACCES);
		return;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	s->buf = render(d, (ino & 3) == 1, &s->len);
	fi->fh = (uint64_t)(uintptr_t)s;
	fi->direct_io = 1;
	fuse_reply_open(req, fi);
}

void drfsd_stats_read(fuse_req_t req, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	struct snap *s = (struct snap *)(uintptr_t)fi->fh;

	if ((size_t)off >= s->len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, s->buf + off,
			       s->len - (size_t)off < size
				       ? s->len - (size_t)off
				       : size);
}

void drfsd_stats_release(fuse_req_t req, struct fuse_file_info *fi)
{
	struct snap *s = (struct snap *)(uintptr_t)fi->fh;

	free(s->buf);
	free(s);
	fuse_reply_err(req, 0);
}
