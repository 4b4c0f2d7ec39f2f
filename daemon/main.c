/*
 * main.c - datarootfs: command line, cluster connection, mount, loop.
 *
 *   datarootfs [-f] [-o opt,...] SOURCE MOUNTPOINT
 *
 * SOURCE is the filesystem name (its RADOS namespace), as in an fstab line
 * "moodle /var/moodledata fuse.datarootfs ...".  Without -f the daemon
 * forks before it touches librados (whose threads do not survive fork);
 * the parent waits until the child has mounted or failed and exits with
 * its status, so "mount" and fstab see the real outcome.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "appendonly.h"
#include "area.h"
#include "coherence.h"
#include "local.h"
#include "lock.h"
#include "locks.h"
#include "log.h"
#include "nodes.h"
#include "ops.h"
#include "rcache.h"
#include "rejoin.h"
#include "wb.h"

struct options {
	char *conf;
	char *id;
	char *keyring;
	char *mon_host;
	char *pool;
	char *fs;
	int timeout;
	int retry;
	int debug;
	char *lc_name;
	char *lc_path;
	char *lc_mode;
	char *fd_name;
	char *fd_verify;
	int fd_nodelete;
	char *cache_path;
	char *cache_size;
	char *md_timeout;
	int inval_timeout_ms;
	int wb_pieces;
	char *area_name[DRFS_AREA__N]; /* trashdir_name=, cache_name=, ... */
	char *source;
	int nonopt;
	/* parsed from the strings above (check_*_opts) */
	bool lc_strict;
	double md_timeout_s;
	uint64_t cache_bytes;
};

#define OPT(t, p)                                 \
	{                                         \
		t, offsetof(struct options, p), 1 \
	}
static const struct fuse_opt opt_spec[] = {
	OPT("conf=%s", conf),
	OPT("id=%s", id),
	OPT("keyring=%s", keyring),
	OPT("mon_host=%s", mon_host),
	OPT("pool=%s", pool),
	OPT("fs=%s", fs),
	OPT("timeout=%d", timeout),
	OPT("retry=%d", retry),
	OPT("localcache_name=%s", lc_name),
	OPT("localcache_path=%s", lc_path),
	OPT("localcache=%s", lc_mode),
	OPT("filedir_name=%s", fd_name),
	OPT("filedir_verify=%s", fd_verify),
	OPT("filedir_nodelete", fd_nodelete),
	OPT("cache_path=%s", cache_path),
	OPT("cache_size=%s", cache_size),
	OPT("md_timeout=%s", md_timeout),
	OPT("inval_timeout=%d", inval_timeout_ms),
	OPT("writeback_pieces=%d", wb_pieces),
	OPT("trashdir_name=%s", area_name[DRFS_AREA_TRASHDIR]),
	OPT("cache_name=%s", area_name[DRFS_AREA_CACHE]),
	OPT("temp_name=%s", area_name[DRFS_AREA_TEMP]),
	OPT("debug", debug),
	FUSE_OPT_KEY("debug", FUSE_OPT_KEY_KEEP),
	FUSE_OPT_END};

static void usage(const char *prog)
{
	printf("usage: %s [options] SOURCE MOUNTPOINT\n"
	       "\n"
	       "Mount the datarootfs filesystem SOURCE (its name in the pool)\n"
	       "on MOUNTPOINT.  See datarootfs(8).\n"
	       "\n"
	       "datarootfs options:\n"
	       "    -o conf=PATH        ceph.conf (default: librados search)\n"
	       "    -o id=NAME          cephx client id (default: admin)\n"
	       "    -o keyring=PATH     keyring (default: from ceph.conf)\n"
	       "    -o mon_host=ADDRS   monitors (default: from ceph.conf)\n"
	       "    -o pool=NAME        RADOS pool (default: %s)\n"
	       "    -o fs=NAME          filesystem name (default: SOURCE)\n"
	       "    -o timeout=SECONDS  give up reaching the cluster after "
	       "this (10)\n"
	       "    -o retry=SECONDS    keep retrying an unreachable cluster "
	       "this long (boot)\n"
	       "    -o localcache_name=NAME  node-local area under the root "
	       "(localcache;\n"
	       "                        'none' disables it)\n"
	       "    -o localcache_path=DIR   its local directory (tmpfs; "
	       "default /dev/shm/datarootfs-FS)\n"
	       "    -o localcache=compat|strict  append-only breaches logged "
	       "or refused\n"
	       "    -o filedir_name=NAME     content-addressed area (filedir; "
	       "'none' disables)\n"
	       "    -o filedir_verify=reject|log  SHA-1 mismatch at rename\n"
	       "    -o filedir_nodelete  pool content stored from this node is "
	       "never freed\n"
	       "    -o cache_path=DIR    local on-disk read cache of filedir "
	       "content (off)\n"
	       "    -o cache_size=SIZE   its size limit, e.g. 512M, 20G "
	       "(default 1G)\n"
	       "    -o md_timeout=SECONDS  kernel entry/attribute cache of "
	       "shared inodes,\n"
	       "                        kept coherent across nodes (default "
	       "1, 0: off)\n"
	       "    -o inval_timeout=MS  wait this long for other nodes to "
	       "acknowledge a\n"
	       "                        change before fencing them (default "
	       "5000)\n"
	       "    -o writeback_pieces=N  random writes buffered per file "
	       "before they are\n"
	       "                        written out in the background "
	       "(2-65536, default 4096)\n"
	       "    -o trashdir_name=NAME, cache_name=NAME, temp_name=NAME\n"
	       "                        where Moodle's $CFG->trashdir, "
	       "cachedir, "
	       "tempdir are\n"
	       "                        (defaults: as given to mkfs --area)\n"
	       "    -o debug            debug logging (implies -f)\n"
	       "\n",
	       prog, DRFS_DEFAULT_POOL);
}

/* "512M", "20G", "1048576": bytes, at least 1 MiB. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	int shift = 0;

	if (end == s)
		return -1;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	case 't':
	case 'T':
		shift = 40;
		end++;
		break;
	}
	if (*end == 'i' && shift)
		end++;
	if ((*end == 'b' || *end == 'B') && shift)
		end++;
	if (*end || v > (1ull << (63 - shift)) || (v << shift) < (1u << 20))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

static int opt_proc(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	struct options *o = data;

	(void)outargs;
	if (key == FUSE_OPT_KEY_NONOPT && o->nonopt++ == 0) {
		o->source = strdup(arg);
		return 0; /* consume SOURCE; MOUNTPOINT goes on to libfuse */
	}
	return 1;
}

/* libfuse prints some messages in pieces: gather them into one line. */
static void fuse_log_sink(enum fuse_log_level level, const char *fmt,
			  va_list ap)
{
	static __thread char line[1024];
	static __thread size_t used;
	size_t n;

	vsnprintf(line + used, sizeof(line) - used, fmt, ap);
	used = strlen(line);
	n = used;
	if (n == 0 || (line[n - 1] != '\n' && n < sizeof(line) - 1))
		return;
	if (line[n - 1] == '\n')
		line[n - 1] = 0;
	drfs_log((int)level, "%s", line);
	used = 0;
	line[0] = 0;
}

/*
 * FUSE mounts get the kernel's default read-ahead (128 KiB), so a stream
 * is read one small request at a time.  Raise it for our mount through
 * sysfs (the mount's device number comes from mountinfo: a stat of the
 * mount point would need the loop, which is not running yet).
 */
static void set_readahead(const char *mountpoint, unsigned kb)
{
	char line[4096], path[128];
	FILE *f = fopen("/proc/self/mountinfo", "r");
	unsigned maj = 0, min = 0;
	bool found = false;

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char mp[4096];

		if (sscanf(line, "%*d %*d %u:%u %*s %4095s", &maj, &min, mp) ==
			    3 &&
		    !strcmp(mp, mountpoint) && strstr(line, "fuse.datarootfs"))
			found = true;
	}
	fclose(f);
	if (!found)
		return;
	snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb", maj,
		 min);
	f = fopen(path, "w");
	if (!f)
		return;
	fprintf(f, "%u\n", kb);
	fclose(f);
}

/* Fork; the parent exits with the status the child reports on @fd. */
static int daemonize(int *report_fd)
{
	int pfd[2];
	pid_t pid;

	if (pipe(pfd) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		char status = 1;

		close(pfd[1]);
		if (read(pfd[0], &status, 1) != 1)
			status = 1;
		_exit(status);
	}
	close(pfd[0]);
	setsid();
	*report_fd = pfd[1];
	return 0;
}

static void report(int *fd, char status)
{
	if (*fd < 0)
		return;
	if (write(*fd, &status, 1) != 1)
		(void)0;
	close(*fd);
	*fd = -1;
}

static void detach_stdio(void)
{
	int fd = open("/dev/null", O_RDWR);

	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

/*
 * Connect; with retry > 0 (boot, network not up yet) keep trying an
 * unreachable cluster for that many seconds, logging each attempt.
 * Missing pools and refused credentials are not retried.
 */
static int connect_retry(const struct drfs_conn_opts *conn, struct drfs_fs **fs,
			 int retry)
{
	time_t deadline = time(NULL) + retry;
	unsigned delay = 1;
	char err[512];

	for (;;) {
		int ret = drfs_connect(conn, fs, err, sizeof(err));

		if (ret == 0)
			return 0;
		if (retry <= 0 || time(NULL) >= deadline ||
		    (ret != -ETIMEDOUT && ret != -ENOTCONN &&
		     ret != -ECONNREFUSED && ret != -EHOSTUNREACH)) {
			fprintf(stderr, "datarootfs: %s\n", err);
			return ret;
		}
		drfs_warn("%s; retrying in %u s (giving up in %ld s)", err,
			  delay, (long)(deadline - time(NULL)));
		sleep(delay);
		if (delay < 10)
			delay *= 2;
	}
}

/* How glibc's malloc should treat our large buffers (see inside). */
static void tune_malloc(void)
{
	/*
	 * Write-back buffers (up to 8 MiB) and read buffers (up to 4 MiB,
	 * the readahead) are large, short-lived and allocated by many
	 * threads.  glibc raises
	 * its mmap threshold to the size of each such block freed, after
	 * which they come from the per-thread arenas, which keep the freed
	 * memory: RSS grew to 650 MB in a 90 s soak (t1030).  A fixed
	 * threshold maps and unmaps them: about 100 MB.
	 * But streaming reads at a high rate: every 4 MiB stripe read
	 * makes librados allocate a 4 MiB receive buffer, and mapping each
	 * one anew faulted it in page by page (a 1 MiB sequential read
	 * spent half the daemon's CPU in page faults).  So blocks up to 8
	 * MiB (stripes, the streaming buffers) come from the arenas, which
	 * may keep 16 MiB free each (a fixed threshold also fixes the trim
	 * threshold, unlike glibc's sliding one that grew with every 8 MiB
	 * block freed): 128 MiB sequential read, 2.6 s -> 1.2 s, page
	 * faults 42k -> 23k, daemon CPU 1.3 s -> 0.7 s.
	 */
	mallopt(M_MMAP_THRESHOLD, 8 << 20);
	mallopt(M_TRIM_THRESHOLD, 16 << 20);
	/* ...and few arenas, so the memory they may keep stays bounded
	 * (glibc makes up to 8 per core, each keeping its trim threshold:
	 * RSS grew by 50 MiB after the warm-up of t1030 with them) */
	mallopt(M_ARENA_MAX, 2);
}

/*
 * The trimmer: every TRIM_MS, malloc_trim(0) hands the arenas' free pages
 * back to the kernel, also those between live blocks, which the trim
 * threshold never reaches (it only cuts the top of a heap).  Without it
 * the daemon's RSS is what the busiest moment so far left behind, not what
 * it uses: in t1030 it wandered between 93 and 145 MB under a steady
 * load.  One pass over a 100 MB heap takes well under a millisecond of a
 * thread that holds no lock of ours.
 */
#define TRIM_MS 2000

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool started, stop; /* protected by lock */
} trimmer = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};

static void *trim_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&trimmer.lock);
	while (!trimmer.stop) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += TRIM_MS * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		if (pthread_cond_timedwait(&trimmer.cond, &trimmer.lock, &ts) !=
		    ETIMEDOUT)
			continue;
		pthread_mutex_unlock(&trimmer.lock);
		malloc_trim(0);
		pthread_mutex_lock(&trimmer.lock);
	}
	pthread_mutex_unlock(&trimmer.lock);
	return NULL;
}

static void trimmer_start(void)
{
	/* without it the daemon works, only its RSS says less */
	trimmer.started =
		pthread_create(&trimmer.thread, NULL, trim_main, NULL) == 0;
	if (!trimmer.started)
		drfs_warn("cannot start the memory trimmer thread");
}

static void trimmer_stop(void)
{
	if (!trimmer.started)
		return;
	pthread_mutex_lock(&trimmer.lock);
	trimmer.stop = true;
	pthread_cond_signal(&trimmer.cond);
	pthread_mutex_unlock(&trimmer.lock);
	pthread_join(trimmer.thread, NULL);
	trimmer.started = false;
}

/* retry= and timeout=: 0, or -1 (reported). */
static int check_connection_opts(const struct options *o)
{
	if (o->retry < 0 || o->retry > 86400) {
		fprintf(stderr, "datarootfs: retry=%d: must be 0..86400\n",
			o->retry);
		return -1;
	}
	if (o->timeout < 0 || o->timeout > 3600) {
		fprintf(stderr, "datarootfs: timeout=%d: must be 0..3600\n",
			o->timeout);
		return -1;
	}
	return 0;
}

/* localcache=, the area names and the local paths: 0, or -1 (reported). */
static int check_area_opts(struct options *o)
{
	if (drfs_ao_parse_mode(o->lc_mode, &o->lc_strict) < 0) {
		fprintf(stderr,
			"datarootfs: localcache=%s: must be compat or "
			"strict\n",
			o->lc_mode);
		return -1;
	}
	o->area_name[DRFS_AREA_FILEDIR] = o->fd_name;
	o->area_name[DRFS_AREA_LOCALCACHE] = o->lc_name;
	for (int a = 1; a < DRFS_AREA__N; a++) {
		const char *n = o->area_name[a];

		if (n && !drfs_area_name_ok(n)) {
			fprintf(stderr,
				"datarootfs: %s_name=%s: must be one "
				"directory name\n",
				drfs_area_kinds[a], n);
			return -1;
		}
	}
	if (o->lc_path && o->lc_path[0] != '/') {
		fprintf(stderr,
			"datarootfs: localcache_path=%s: must be an "
			"absolute path\n",
			o->lc_path);
		return -1;
	}
	if (o->cache_path && o->cache_path[0] != '/') {
		fprintf(stderr,
			"datarootfs: cache_path=%s: must be an absolute "
			"path\n",
			o->cache_path);
		return -1;
	}
	return 0;
}

/* md_timeout=, inval_timeout=, cache_size=, filedir_verify=: 0, or -1. */
static int check_cache_opts(struct options *o)
{
	o->md_timeout_s = 1.0;
	o->cache_bytes = 1ull << 30;
	if (o->md_timeout) {
		char *end;

		o->md_timeout_s = strtod(o->md_timeout, &end);
		if (*end || end == o->md_timeout || !(o->md_timeout_s >= 0) ||
		    o->md_timeout_s > 2.0) {
			fprintf(stderr,
				"datarootfs: md_timeout=%s: must be seconds "
				"from 0 to 2 (it must stay below the time a "
				"frozen node needs to stop trusting its "
				"cache)\n",
				o->md_timeout);
			return -1;
		}
	}
	if (o->inval_timeout_ms < 0 ||
	    (o->inval_timeout_ms &&
	     (o->inval_timeout_ms < 5000 || o->inval_timeout_ms > 120000))) {
		fprintf(stderr,
			"datarootfs: inval_timeout=%d: must be milliseconds "
			"from 5000 to 120000 (above the 4 s a node\n"
			"trusts its cache without hearing from the cluster)\n",
			o->inval_timeout_ms);
		return -1;
	}
	if (o->wb_pieces < 0 ||
	    (o->wb_pieces && (o->wb_pieces < 2 || o->wb_pieces > 65536))) {
		fprintf(stderr,
			"datarootfs: writeback_pieces=%d: must be from 2 to "
			"65536\n",
			o->wb_pieces);
		return -1;
	}
	if (o->cache_size && parse_size(o->cache_size, &o->cache_bytes) < 0) {
		fprintf(stderr,
			"datarootfs: cache_size=%s: must be a size such as "
			"512M or 20G (at least 1M)\n",
			o->cache_size);
		return -1;
	}
	if (o->fd_verify && strcmp(o->fd_verify, "reject") &&
	    strcmp(o->fd_verify, "log")) {
		fprintf(stderr,
			"datarootfs: filedir_verify=%s: must be reject "
			"or log\n",
			o->fd_verify);
		return -1;
	}
	return 0;
}

/*
 * Parse and check the command line: 0 to go on, 1 to exit 0 (--help,
 * --version), -1 to exit 1 (reported).
 */
static int parse_cmdline(struct fuse_args *args, struct options *o,
			 struct fuse_cmdline_opts *co, const char *prog)
{
	struct stat st;

	if (fuse_opt_parse(args, o, opt_spec, opt_proc) < 0)
		return -1;
	if (fuse_parse_cmdline(args, co) != 0)
		return -1;
	if (co->show_help) {
		usage(prog);
		fuse_cmdline_help();
		fuse_lowlevel_help();
		return 1;
	}
	if (co->show_version) {
		printf("datarootfs %s (FUSE %s)\n", DRFS_VERSION,
		       fuse_pkgversion());
		return 1;
	}
	if (!o->source || !co->mountpoint) {
		fprintf(stderr, "datarootfs: usage: datarootfs [options] "
				"SOURCE MOUNTPOINT (see --help)\n");
		return -1;
	}
	if (stat(co->mountpoint, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "datarootfs: mount point %s: %s\n",
			co->mountpoint,
			errno ? strerror(errno) : "not a directory");
		return -1;
	}
	if (check_connection_opts(o) < 0 || check_area_opts(o) < 0 ||
	    check_cache_opts(o) < 0)
		return -1;
	if (o->debug || co->debug) {
		drfs_log_level = LOG_DEBUG;
		co->foreground = 1;
	}
	return 0;
}

/* The FUSE session, with our mount options added; NULL: refused. */
static struct fuse_session *
new_session(struct fuse_args *args, const struct options *o, struct drfsd *d)
{
	char fsn[300];

	/* Options are checked (by libfuse) before the cluster is contacted. */
	fuse_opt_add_arg(args, "-odefault_permissions");
	fuse_opt_add_arg(args, "-osubtype=datarootfs");
	snprintf(fsn, sizeof(fsn), "-ofsname=%s", o->source);
	fuse_opt_add_arg(args, fsn);
	return fuse_session_new(args, &drfsd_ops, sizeof(drfsd_ops), d);
}

/*
 * Connect to the cluster and load the superblock (d->fs); on failure
 * nothing stays connected.
 */
static int connect_fs(const struct options *o, struct drfsd *d)
{
	struct drfs_conn_opts conn = {0};
	char err[512];
	int ret;

	conn.conf = o->conf;
	conn.id = o->id;
	conn.keyring = o->keyring;
	conn.mon_host = o->mon_host;
	conn.pool = o->pool;
	conn.fsname = o->fs ? o->fs : o->source;
	conn.timeout = o->timeout ? o->timeout : 10;
	ret = connect_retry(&conn, &d->fs, o->retry);
	if (ret < 0)
		return ret;
	ret = drfs_sb_load(d->fs, err, sizeof(err));
	if (ret == 0)
		ret = drfs_format_upgrade(d->fs, err, sizeof(err));
	if (ret < 0) {
		fprintf(stderr, "datarootfs: %s\n", err);
		drfs_disconnect(d->fs);
		d->fs = NULL;
		return ret;
	}
	/* Intents older than a minute belong to a dead rename. */
	ret = drfs_intents_recover(d->fs, 60);
	if (ret < 0)
		drfs_warn("cannot check rename intents: %s", strerror(-ret));
	return 0;
}

/* The inode table and the settings the handlers read. */
static int init_daemon(struct drfsd *d, const struct options *o)
{
	pthread_mutex_init(&d->table_lock, NULL);
	d->nbuckets = 65536;
	d->table = calloc(d->nbuckets, sizeof(*d->table));
	d->md_timeout = o->md_timeout_s;
	drfsd_coh_dir_seen(d, FUSE_ROOT_ID);
	d->wb_max = 8u << 20;
	d->wb_pieces = o->wb_pieces ? (unsigned)o->wb_pieces : 4096;
	/* area names: mount options, else as recorded by mkfs */
	drfs_area_names(d->area, &d->fs->sb, o->area_name);
	if (drfs_area_enabled(d->area, DRFS_AREA_FILEDIR))
		d->filedir_name = d->area[DRFS_AREA_FILEDIR];
	d->filedir_reject = !o->fd_verify || !strcmp(o->fd_verify, "reject");
	d->filedir_keep = o->fd_nodelete != 0;
	return d->table ? 0 : -ENOMEM;
}

/*
 * After the session: the metadata cache, locks, the localcache area and
 * the read cache.  On failure the caller stops them all (stopping one not
 * started is harmless).
 */
static int start_services(struct drfsd *d, const struct options *o,
			  const struct fuse_cmdline_opts *co)
{
	int ret = drfsd_coh_start(d, o->inval_timeout_ms);

	if (ret < 0) {
		fprintf(stderr,
			"datarootfs: cannot start the metadata cache: %s\n",
			strerror(-ret));
		return ret;
	}
	ret = drfsd_locks_start(d);
	if (ret < 0)
		return ret;
	if (drfs_area_enabled(d->area, DRFS_AREA_LOCALCACHE)) {
		char path[4096];

		d->lc_name = (char *)d->area[DRFS_AREA_LOCALCACHE];
		/* one directory per mount: two mounts on one host are two
		 * nodes */
		snprintf(path, sizeof(path), "/dev/shm/datarootfs-%s%s",
			 d->fs->fsname, co->mountpoint);
		for (char *p = path + strlen("/dev/shm/"); *p; p++)
			if (*p == '/')
				*p = '_';
		d->lc_path = o->lc_path ? o->lc_path : strdup(path);
		d->lc_strict = o->lc_strict;
	}
	/* also without the area: it watches the superblock, which
	 * announces read cache purges too */
	ret = drfsd_local_start(d);
	if (ret < 0)
		return ret;
	if (o->cache_path && d->filedir_name) {
		ret = drfsd_rc_start(d, o->cache_path, o->cache_bytes);
		if (ret < 0) {
			fprintf(stderr,
				"datarootfs: cache_path=%s: cannot use it "
				"(%s; see the log)\n",
				o->cache_path, strerror(-ret));
			return ret;
		}
	}
	trimmer_start();
	return 0;
}

static void stop_services(struct drfsd *d)
{
	trimmer_stop();
	drfsd_rc_stop(d);
	drfsd_local_stop(d);
	drfsd_locks_stop(d);
	drfsd_coh_stop(d);
	drfs_session_stop(d->fs);
}

/*
 * Mount; in the background, tell the waiting parent it worked and leave
 * the terminal.  -EIO: the mount failed.
 */
static int mount_fs(struct drfsd *d, const struct fuse_cmdline_opts *co,
		    int *report_fd)
{
	if (fuse_session_mount(d->se, co->mountpoint) != 0)
		return -EIO;
	set_readahead(co->mountpoint, 4096);
	drfs_info("mounted '%s' (uuid %s, pool %s) on %s as node %s",
		  d->fs->fsname, d->fs->sb.uuid, d->fs->pool, co->mountpoint,
		  d->fs->node);
	if (!co->foreground) {
		drfs_log_to_syslog("datarootfs");
		report(report_fd, 0);
		detach_stdio();
	}
	return 0;
}

/* Answer requests until the unmount or a signal, then unmount. */
static int serve(struct drfsd *d, const struct fuse_cmdline_opts *co)
{
	struct fuse_loop_config *lcfg;
	int ret;

	/* fenced later on: rejoin with a new session (rejoin.c) */
	drfs_session_on_fenced(d->fs, drfsd_rejoin, d);
	lcfg = fuse_loop_cfg_create();
	fuse_loop_cfg_set_clone_fd(lcfg, 1);
	/* libfuse's default is 10; blocked lock waiters hold none */
	fuse_loop_cfg_set_max_threads(
		lcfg, co->max_threads > 10 ? co->max_threads : 32);
	fuse_loop_cfg_set_idle_threads(lcfg, 8);
	ret = co->singlethread ? fuse_session_loop(d->se)
			       : fuse_session_loop_mt(d->se, lcfg);
	fuse_loop_cfg_destroy(lcfg);
	/* SIGTERM, SIGINT, SIGHUP (libfuse's handlers): the loop returns
	 * the signal number.  Requests in progress have been answered;
	 * unmount, flush what is still buffered (destroy) and exit 0 - a
	 * clean stop, not a failure (systemd, mount helpers). */
	drfs_info("unmounting %s%s%s", co->mountpoint, ret > 0 ? " on " : "",
		  ret > 0 ? strsignal(ret) : "");
	if (ret > 0)
		ret = 0;
	/* no rejoin from now on: the teardown below needs a fixed client */
	drfs_session_on_fenced(d->fs, NULL, NULL);
	fuse_session_unmount(d->se);
	return ret;
}

static void free_options(struct options *o, struct drfsd *d)
{
	free(o->source);
	free(o->conf);
	free(o->id);
	free(o->keyring);
	free(o->mon_host);
	free(o->pool);
	free(o->fs);
	free(o->lc_mode);
	free(o->fd_verify);
	free(o->cache_path);
	free(o->cache_size);
	free(o->md_timeout);
	for (int a = 0; a < DRFS_AREA__N; a++)
		free(o->area_name[a]); /* also fd_name, lc_name */
	if (d->lc_path != o->lc_path)
		free(d->lc_path);
	free(o->lc_path);
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts co = {0};
	struct options o = {0};
	struct drfsd d = {0};
	int report_fd = -1, ret;

	tune_malloc();
	fuse_set_log_func(fuse_log_sink);
	ret = parse_cmdline(&args, &o, &co, argv[0]);
	if (ret != 0)
		return ret > 0 ? 0 : 1;
	d.se = new_session(&args, &o, &d);
	if (!d.se) {
		ret = -EINVAL; /* libfuse printed which option it refused */
		goto out;
	}
	if (!co.foreground && daemonize(&report_fd) < 0) {
		fprintf(stderr, "datarootfs: cannot fork: %s\n",
			strerror(errno));
		return 1;
	}
	ret = connect_fs(&o, &d);
	if (ret < 0)
		goto out;
	ret = init_daemon(&d, &o);
	if (ret < 0)
		goto out_disconnect;
	ret = drfs_session_start(d.fs);
	if (ret < 0) {
		fprintf(stderr,
			"datarootfs: cannot register the node "
			"session: %s\n",
			strerror(-ret));
		goto out_table;
	}
	ret = start_services(&d, &o, &co);
	if (ret < 0)
		goto out_session;
	ret = -1;
	if (fuse_set_signal_handlers(d.se) != 0)
		goto out_session;
	ret = mount_fs(&d, &co, &report_fd);
	if (ret == 0)
		ret = serve(&d, &co);
	fuse_remove_signal_handlers(d.se);
	/* destroy runs the .destroy handler (final flush of buffered
	 * writes): the table and the cluster must still be there */
	fuse_session_destroy(d.se);
	d.se = NULL;
out_session:
	stop_services(&d);
out_table:
	if (d.table)
		drfsd_nodes_free(&d);
	free(d.table);
	drfsd_wb_threads_wait(&d);
out_disconnect:
	drfs_disconnect(d.fs);
out:
	if (d.se)
		fuse_session_destroy(d.se);
	report(&report_fd, ret == 0 ? 0 : 1);
	free(co.mountpoint);
	fuse_opt_free_args(&args);
	free_options(&o, &d);
	return ret == 0 ? 0 : 1;
}
