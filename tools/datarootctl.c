/*
 * datarootctl - administration of datarootfs filesystems.
 *
 *   datarootctl [global options] COMMAND [command options]
 *
 * Commands: mkfs, status, fsck, purge, recover.  Every error is one line
 * on stderr (an argument error adds the usage line) and a non-zero exit;
 * nothing is changed on error: all arguments are checked before the
 * cluster is contacted.
 *
 * Exit codes: 0 success, 1 failure, 2 usage error; fsck as fsck(8): 0, 1
 * repaired, 4 left, 8 operational error, 16 usage error (also for a bad
 * global option before "fsck", as scripts read fsck's codes).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "area.h"
#include "fs.h"
#include "fsck.h"
#include "lock.h"
#include "log.h"

struct global {
	struct drfs_conn_opts conn;
	const char *cmd; /* "datarootctl mkfs" etc., for messages */
};

#define EXIT_USAGE 2

/*
 * One line for what getopt_long() refused (opterr = 0, optstring "+:..."
 * so nothing is permuted and a missing value returns ':'): @arg is the
 * argument it was looking at, @c its return value.
 */
static void bad_option(const char *who, const char *arg, int c)
{
	char name[64];

	if (!strncmp(arg, "--", 2)) /* --name or --name=value */
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(arg, "="),
			 arg);
	else /* -x, or a letter inside "-abc" */
		snprintf(name, sizeof(name), "-%c", optopt);
	if (c == ':')
		fprintf(stderr, "%s: option '%s' needs a value\n", who, name);
	else if (optopt && !strncmp(arg, "--", 2)) /* known: --flag=x */
		fprintf(stderr, "%s: option '%s' takes no value\n", who, name);
	else
		fprintf(stderr, "%s: unknown option '%s'\n", who, name);
}

/* Strict decimal in [min, max]; -1 if not. */
static long parse_long(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end || errno || v < min || v > max)
		return -1;
	return v;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: datarootctl [global options] COMMAND [options]\n"
		"\n"
		"global options:\n"
		"  -c, --conf PATH      ceph.conf\n"
		"  -i, --id NAME        cephx client id (default admin)\n"
		"  -k, --keyring PATH   keyring\n"
		"  -p, --pool NAME      pool (default %s)\n"
		"  -n, --fs NAME        filesystem name (default %s)\n"
		"  -t, --timeout SEC    cluster connect timeout, 1..3600 "
		"(default 10)\n"
		"\n"
		"commands:\n"
		"  mkfs [--force] [--root-mode OCTAL]   create a filesystem\n"
		"  status [--json]                      show the filesystem\n"
		"  fsck [--repair] [--no-data] [--offline] [--filedir-name "
		"NAME]\n"
		"                                       check (and repair)\n"
		"  purge [--cache] [--temp --older-than D] [--localcache] "
		"[--dry-run]\n"
		"  recover                              finish stale renames\n"
		"\n"
		"COMMAND --help shows the command's usage.\n",
		DRFS_DEFAULT_POOL, DRFS_DEFAULT_FS);
}

/* Connect and load the superblock; one line on stderr on failure. */
static int open_fs(struct global *g, struct drfs_fs **fs)
{
	char err[512];
	int ret = drfs_connect(&g->conn, fs, err, sizeof(err));

	if (ret < 0) {
		fprintf(stderr, "%s: %s\n", g->cmd, err);
		return ret;
	}
	ret = drfs_sb_load(*fs, err, sizeof(err));
	if (ret < 0) {
		fprintf(stderr, "%s: %s\n", g->cmd, err);
		drfs_disconnect(*fs);
		*fs = NULL;
	}
	return ret;
}

/* Arguments left after the options: say so (with the usage) and true. */
static bool extra_args(const struct global *g, int argc, char **argv,
		       const char *use)
{
	if (optind >= argc)
		return false;
	fprintf(stderr, "%s: unexpected argument '%s'\n", g->cmd, argv[optind]);
	fputs(use, stderr);
	return true;
}

static int cmd_mkfs(struct global *g, int argc, char **argv)
{
	static const struct option lo[] = {
		{"force", no_argument, 0, 'f'},
		{"root-mode", required_argument, 0, 'm'},
		{"area", required_argument, 0, 'a'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0}};
	static const char use[] =
		"usage: datarootctl [global options] mkfs [--force] "
		"[--root-mode OCTAL] [--area KIND=NAME]...\n";
	struct drfs_mkfs_opts mo = {.force = false, .root_mode = 0755};
	struct drfs_fs *fs;
	char err[512];
	int at, c, ret;

	optind = 1;
	while ((at = optind,
		c = getopt_long(argc, argv, "+:fm:a:h", lo, NULL)) != -1) {
		switch (c) {
		case 'f':
			mo.force = true;
			break;
		case 'a': {
			/* KIND=NAME: e.g. localcache=localcache-web */
			char arg[128], *eq = strchr(optarg, '=');
			int k = -1;

			snprintf(arg, sizeof(arg), "%s", optarg);
			if (eq) {
				*eq = 0;
				k = drfs_area_kind(optarg);
			}
			if (k < 0 || !drfs_area_name_ok(eq + 1)) {
				fprintf(stderr,
					"%s: bad --area '%s': "
					"KIND=NAME with KIND one of filedir, "
					"trashdir, localcache, cache, temp, "
					"lock, sessions, muc and NAME one "
					"directory name\n",
					g->cmd, arg);
				return EXIT_USAGE;
			}
			mo.area[k] = eq + 1;
			break;
		}
		case 'm': {
			char *end;
			unsigned long m;

			errno = 0;
			m = strtoul(optarg, &end, 8);
			if (end == optarg || *end || errno || m > 07777 ||
			    optarg[0] == '-') {
				fprintf(stderr,
					"%s: bad mode '%s' (octal, e.g. "
					"2777)\n",
					g->cmd, optarg);
				return EXIT_USAGE;
			}
			mo.root_mode = (uint32_t)m;
			break;
		}
		case 'h':
			fputs(use, stdout);
			return 0;
		default:
			bad_option(g->cmd, argv[at], c);
			fputs(use, stderr);
			return EXIT_USAGE;
		}
	}
	if (extra_args(g, argc, argv, use))
		return EXIT_USAGE;
	ret = drfs_connect(&g->conn, &fs, err, sizeof(err));
	if (ret < 0) {
		fprintf(stderr, "%s: %s\n", g->cmd, err);
		return 1;
	}
	ret = drfs_mkfs(fs, &mo, err, sizeof(err));
	if (ret < 0) {
		fprintf(stderr, "%s: %s\n", g->cmd, err);
	} else {
		printf("created filesystem '%s' in pool '%s': uuid %s, format "
		       "%u\n",
		       fs->fsname, fs->pool, fs->sb.uuid, fs->sb.format);
	}
	drfs_disconnect(fs);
	return ret < 0 ? 1 : 0;
}

struct node_print {
	bool json;
	int n;
	int64_t now;
	struct drfs_fs *fs;
};

/* Value of counter @name in "a=1 b=2 " (0 if absent). */
static uint64_t counter(const char *st, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = st; (p = strstr(p, name)); p += n)
		if ((p == st || p[-1] == ' ') && p[n] == '=')
			return strtoull(p + n + 1, NULL, 10);
	return 0;
}

/* A node's published counters, for people. */
static void print_counters(const char *st)
{
	uint64_t hit = counter(st, "read_cache_hits"),
		 miss = counter(st, "read_cache_misses");
	char name[64];

	printf("      rados reads=%" PRIu64 " writes=%" PRIu64
	       " retries=%" PRIu64 ", checksum errors=%" PRIu64
	       ", locks ops=%" PRIu64 " conflicts=%" PRIu64 " broken=%" PRIu64
	       " parked=%" PRIu64 " handed=%" PRIu64 "\n",
	       counter(st, "rados_reads"), counter(st, "rados_writes"),
	       counter(st, "rados_retries"), counter(st, "checksum_errors"),
	       counter(st, "lock_ops"), counter(st, "lock_conflicts"),
	       counter(st, "locks_broken"), counter(st, "lock_parked"),
	       counter(st, "lock_handed"));
	printf("      requests by area:");
	for (int a = 0; a < DRFS_AREA__N; a++) {
		snprintf(name, sizeof(name), "ops_%s", drfs_area_kinds[a]);
		printf(" %s=%" PRIu64, drfs_area_kinds[a], counter(st, name));
	}
	printf("\n      filedir dedup=%" PRIu64 ", read cache hits=%" PRIu64
	       " misses=%" PRIu64 " (hit rate %.1f%%) fills=%" PRIu64
	       " evictions=%" PRIu64 " corrupt=%" PRIu64 "\n",
	       counter(st, "filedir_dedup"), hit, miss,
	       hit + miss ? 100.0 * (double)hit / (double)(hit + miss) : 0.0,
	       counter(st, "read_cache_fills"),
	       counter(st, "read_cache_evictions"),
	       counter(st, "read_cache_corrupt"));
	hit = counter(st, "mdcache_hits");
	miss = counter(st, "mdcache_misses");
	printf("      metadata cache hits=%" PRIu64 " misses=%" PRIu64
	       " (hit rate %.1f%%) lost=%" PRIu64
	       ", invalidations sent=%" PRIu64 " received=%" PRIu64
	       " fenced=%" PRIu64 " ack wait p99=%" PRIu64 " us\n",
	       hit, miss,
	       hit + miss ? 100.0 * (double)hit / (double)(hit + miss) : 0.0,
	       counter(st, "mdcache_lost"), counter(st, "invalidations_sent"),
	       counter(st, "invalidations_received"),
	       counter(st, "invalidation_fenced"),
	       counter(st, "invalidation_wait_p99_us"));
	printf("      localcache breaches rewrite=%" PRIu64 " truncate=%" PRIu64
	       " rename_over=%" PRIu64 "\n",
	       counter(st, "lc_breach_rewrite"),
	       counter(st, "lc_breach_truncate"),
	       counter(st, "lc_breach_rename_over"));
}

static void print_node(void *vctx, const char *node, const char *addr,
		       int64_t expire_ns, const char *info)
{
	struct node_print *np = vctx;
	/* the lease was renewed DRFS_LEASE s before it expires */
	double age =
		(np->now - (expire_ns - (int64_t)DRFS_LEASE * 1000000000)) /
		1e9;
	bool alive = expire_ns > np->now;

	char st[4096] = "";

	drfs_nodestats_get(np->fs, node, st, sizeof(st));
	if (np->json) {
		printf("%s{\"node\":\"%s\",\"addr\":\"%s\",\"version\":"
		       "\"%s\",\"lease_age_s\":%.1f,\"alive\":%s,"
		       "\"counters\":{",
		       np->n ? "," : "", node, addr, info, age,
		       alive ? "true" : "false");
		/* "a=1 b=2 " -> "a":1,"b":2 */
		for (char *tok = strtok(st, " "), *first = tok; tok;
		     tok = strtok(NULL, " ")) {
			char *eq = strchr(tok, '=');

			if (!eq)
				continue;
			*eq = 0;
			printf("%s\"%s\":%s", tok == first ? "" : ",", tok,
			       eq + 1);
		}
		printf("}}");
	} else {
		printf("  %s  %-28s %-18s lease renewed %.1f s ago%s\n", node,
		       addr, info, age, alive ? "" : "  EXPIRED");
		if (st[0])
			print_counters(st);
	}
	np->n++;
}

/* "HEALTH_OK" etc. from the monitors, or "unknown". */
static void cluster_health(struct drfs_fs *fs, char *out, size_t size)
{
	char *buf = NULL, *p;

	snprintf(out, size, "unknown");
	if (drfs_mon_command(fs,
			     "{\"prefix\": \"health\", \"format\": \"json\"}",
			     &buf) == 0 &&
	    (p = strstr(buf, "\"status\":\""))) {
		p += strlen("\"status\":\"");
		snprintf(out, size, "%.*s", (int)strcspn(p, "\""), p);
	}
	free(buf);
}

static int cmd_status(struct global *g, int argc, char **argv)
{
	static const struct option lo[] = {{"json", no_argument, 0, 'j'},
					   {"help", no_argument, 0, 'h'},
					   {0, 0, 0, 0}};
	static const char use[] =
		"usage: datarootctl [global options] status [--json]\n";
	struct drfs_fs *fs;
	uint64_t total, avail, objects;
	bool json = false;
	char health[64];
	int at, c, ret;

	optind = 1;
	while ((at = optind, c = getopt_long(argc, argv, "+:h", lo, NULL)) !=
	       -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(use, stdout);
			return 0;
		default:
			bad_option(g->cmd, argv[at], c);
			fputs(use, stderr);
			return EXIT_USAGE;
		}
	}
	if (extra_args(g, argc, argv, use))
		return EXIT_USAGE;
	if (open_fs(g, &fs) < 0)
		return 1;
	ret = drfs_statfs(fs, &total, &avail, &objects);
	if (ret < 0) {
		fprintf(stderr, "%s: cannot stat pool: %s\n", g->cmd,
			strerror(-ret));
		drfs_disconnect(fs);
		return 1;
	}
	cluster_health(fs, health, sizeof(health));
	if (json) {
		struct node_print np = {true, 0, drfs_now_ns(), fs};

		printf("{\"health\":\"%s\",", health);
		printf("\"fs\":\"%s\",\"pool\":\"%s\",\"uuid\":\"%s\","
		       "\"format\":%u,\"created_ns\":%" PRId64 ","
		       "\"localcache_epoch\":%" PRIu64 ","
		       "\"objects\":%" PRIu64 ",\"bytes_total\":%" PRIu64
		       ",\"bytes_avail\":%" PRIu64 ",\"nodes\":[",
		       fs->fsname, fs->pool, fs->sb.uuid, fs->sb.format,
		       fs->sb.created_ns, fs->sb.lc_epoch, objects, total,
		       avail);
		drfs_sessions_list(fs, print_node, &np);
		printf("]}\n");
	} else {
		time_t t = (time_t)(fs->sb.created_ns / 1000000000);
		char tb[64];

		strftime(tb, sizeof(tb), "%Y-%m-%d %H:%M:%S %Z", localtime(&t));
		printf("cluster     %s\n", health);
		printf("filesystem  %s (pool %s)\n"
		       "uuid        %s\n"
		       "format      %u\n"
		       "created     %s\n"
		       "objects     %" PRIu64 "\n"
		       "space       %.1f GiB available of %.1f GiB\n",
		       fs->fsname, fs->pool, fs->sb.uuid, fs->sb.format, tb,
		       objects, avail / 1073741824.0, total / 1073741824.0);
		{
			struct node_print np = {false, 0, drfs_now_ns(), fs};

			printf("nodes:\n");
			drfs_sessions_list(fs, print_node, &np);
			if (!np.n)
				printf("  (none mounted)\n");
		}
	}
	drfs_disconnect(fs);
	return 0;
}

/* Exit codes as fsck(8). */
#define FSCK_OK 0
#define FSCK_CORRECTED 1
#define FSCK_UNCORRECTED 4
#define FSCK_ERROR 8
#define FSCK_USAGE 16

static int cmd_fsck(struct global *g, int argc, char **argv)
{
	static const struct option lo[] = {
		{"repair", no_argument, 0, 'r'},
		{"no-data", no_argument, 0, 'D'},
		{"offline", no_argument, 0, 'o'},
		{"filedir-name", required_argument, 0, 'F'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0}};
	static const char use[] =
		"usage: datarootctl [global options] fsck [--repair|-y] "
		"[--no-data] [--offline] [--filedir-name NAME]\n";
	struct drfs_fsck_opts fo = {.verify_data = true, .out = stdout};
	struct drfs_fsck_result r;
	struct drfs_fs *fs;
	const char *fd_name = NULL; /* default: as recorded by mkfs */
	int at, c, ret;

	optind = 1;
	while ((at = optind,
		c = getopt_long(argc, argv, "+:yrDoh", lo, NULL)) != -1) {
		switch (c) {
		case 'y':
		case 'r':
			fo.repair = true;
			break;
		case 'D':
			fo.verify_data = false;
			break;
		case 'o':
			fo.offline = true;
			break;
		case 'F':
			if (!optarg[0] || strchr(optarg, '/')) {
				fprintf(stderr,
					"%s: --filedir-name '%s': must be "
					"one name (or 'none')\n",
					g->cmd, optarg);
				return FSCK_USAGE;
			}
			fd_name = optarg;
			break;
		case 'h':
			printf("%sexit: 0 clean, 1 problems repaired, 4 "
			       "problems left, 8 operational error, 16 "
			       "usage\n",
			       use);
			return FSCK_OK;
		default:
			bad_option(g->cmd, argv[at], c);
			fputs(use, stderr);
			return FSCK_USAGE;
		}
	}
	if (extra_args(g, argc, argv, use))
		return FSCK_USAGE;
	if (open_fs(g, &fs) < 0)
		return FSCK_ERROR;
	if (!fd_name)
		fd_name = fs->sb.area[DRFS_AREA_FILEDIR];
	fo.filedir_name = strcmp(fd_name, "none") ? fd_name : NULL;
	fo.progress = isatty(2);
	ret = drfs_fsck(fs, &fo, &r);
	drfs_disconnect(fs);
	if (ret < 0) {
		fprintf(stderr, "%s: check aborted: %s\n", g->cmd,
			strerror(-ret));
		return FSCK_ERROR;
	}
	printf("fsck: %" PRIu64 " objects, %" PRIu64 " inodes, %" PRIu64
	       " directories, %" PRIu64 " entries, %.1f MiB verified: "
	       "%u problem(s), %u repaired\n",
	       r.objects, r.inodes, r.dirs, r.entries,
	       r.bytes_verified / 1048576.0, r.problems, r.repaired);
	if (r.pending || r.kept || r.duplicates)
		printf("fsck: %u deleted inode(s) waiting to be freed, %u "
		       "unlinked pool content(s) kept (filedir_nodelete), %u "
		       "pool content(s) stored twice\n",
		       r.pending, r.kept, r.duplicates);
	if (r.problems == 0)
		return FSCK_OK;
	return r.repaired == r.problems ? FSCK_CORRECTED : FSCK_UNCORRECTED;
}

/* "30", "30s", "15m", "12h", "7d" -> seconds; -1 if malformed. */
static long long parse_duration(const char *s)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	/* at most 100 years: no overflow below */
	if (end == s || v < 0 || errno || v > 100ll * 366 * 86400 ||
	    s[0] == '+' || s[0] == ' ')
		return -1;
	switch (*end) {
	case 0:
	case 's':
		break;
	case 'm':
		v *= 60;
		break;
	case 'h':
		v *= 3600;
		break;
	case 'd':
		v *= 86400;
		break;
	default:
		return -1;
	}
	if (*end && end[1])
		return -1;
	return v;
}

static int purge_area(struct drfs_fs *fs, const char *area,
		      const struct drfs_purge_opts *po)
{
	struct drfs_purge_result r = {0};
	struct drfs_attr a;
	int ret = drfs_lookup(fs, DRFS_ROOT_INO, area, &a);

	if (ret == -ENOENT) {
		printf("%s/: does not exist, nothing to purge\n", area);
		return 0;
	}
	if (ret == 0 && !S_ISDIR(a.mode))
		ret = -ENOTDIR;
	if (ret == 0)
		ret = drfs_purge_tree(fs, a.ino, po, &r, 0);
	if (ret < 0) {
		fprintf(stderr, "datarootctl purge: %s/: %s\n", area,
			strerror(-ret));
		return ret;
	}
	printf("%s/: %s %" PRIu64 " file(s), %.1f MiB%s", area,
	       po->dry_run ? "would remove" : "removed", r.files,
	       r.bytes / 1048576.0, po->remove_dirs ? "" : "\n");
	if (po->remove_dirs)
		printf(", %" PRIu64 " empty director%s\n", r.dirs,
		       r.dirs == 1 ? "y" : "ies");
	return 0;
}

/* The localcache (@rcache false) or the read cache of every node. */
static int purge_everywhere(struct drfs_fs *fs, bool rcache, bool dry)
{
	const char *what = rcache ? "filedir read cache" : "localcache";
	uint64_t cur = rcache ? fs->sb.rc_epoch : fs->sb.lc_epoch, epoch;
	size_t acked, timedout;
	int ret;

	if (dry) {
		printf("would purge the %s of every node (epoch %" PRIu64
		       " -> %" PRIu64 ")\n",
		       what, cur, cur + 1);
		return 0;
	}
	ret = rcache ? drfs_rc_purge(fs, &epoch, &acked, &timedout)
		     : drfs_lc_purge(fs, &epoch, &acked, &timedout);
	if (ret < 0) {
		fprintf(stderr, "datarootctl purge: %s: %s\n", what,
			strerror(-ret));
		return ret;
	}
	printf("%s purged: epoch %" PRIu64 ", %zu node(s) switched", what,
	       epoch, acked);
	if (timedout)
		printf(", %zu did not answer (they start empty when they "
		       "mount again)",
		       timedout);
	printf("\n");
	return 0;
}

static int cmd_purge(struct global *g, int argc, char **argv)
{
	static const struct option lo[] = {
		{"localcache", no_argument, 0, 'l'},
		{"cache", no_argument, 0, 'c'},
		{"temp", no_argument, 0, 't'},
		{"older-than", required_argument, 0, 'o'},
		{"read-cache", no_argument, 0, 'r'},
		{"dry-run", no_argument, 0, 'n'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0}};
	static const char use[] =
		"usage: datarootctl [global options] purge [--cache] [--temp "
		"--older-than DURATION] [--localcache] [--read-cache] "
		"[--dry-run]\n";
	bool lc = false, cache = false, temp = false, rc = false, dry = false;
	long long older = -1;
	struct drfs_fs *fs;
	int at, c, ret = 0;

	optind = 1;
	while ((at = optind, c = getopt_long(argc, argv, "+:h", lo, NULL)) !=
	       -1) {
		switch (c) {
		case 'l':
			lc = true;
			break;
		case 'c':
			cache = true;
			break;
		case 't':
			temp = true;
			break;
		case 'r':
			rc = true;
			break;
		case 'n':
			dry = true;
			break;
		case 'o':
			older = parse_duration(optarg);
			if (older < 0) {
				fprintf(stderr,
					"%s: bad duration '%s' (e.g. 7d, "
					"12h, 30m)\n",
					g->cmd, optarg);
				fputs(use, stderr);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			fputs(use, stdout);
			return 0;
		default:
			bad_option(g->cmd, argv[at], c);
			fputs(use, stderr);
			return EXIT_USAGE;
		}
	}
	if (extra_args(g, argc, argv, use))
		return EXIT_USAGE;
	if (!lc && !cache && !temp && !rc) {
		fprintf(stderr,
			"%s: nothing to purge (give --cache, --temp, "
			"--localcache or --read-cache)\n",
			g->cmd);
		fputs(use, stderr);
		return EXIT_USAGE;
	}
	if (temp && older < 0) {
		fprintf(stderr, "%s: --temp needs --older-than DURATION\n",
			g->cmd);
		fputs(use, stderr);
		return EXIT_USAGE;
	}
	if (!temp && older >= 0) {
		/* it would be ignored: cache/ is always emptied whole */
		fprintf(stderr, "%s: --older-than applies to --temp only\n",
			g->cmd);
		fputs(use, stderr);
		return EXIT_USAGE;
	}
	if (open_fs(g, &fs) < 0)
		return 1;
	if (cache) {
		/* files only: directories stay, as Moodle's own purge */
		struct drfs_purge_opts po = {0, 0, false, dry};

		ret = purge_area(fs, fs->sb.area[DRFS_AREA_CACHE], &po);
	}
	if (ret == 0 && temp) {
		struct drfs_purge_opts po = {
			older * 1000000000ll,
			drfs_now_ns() - older * 1000000000ll, true, dry};

		if (!po.older_than_ns) {
			po.older_than_ns = 1;
			po.cutoff_ns = drfs_now_ns();
		}
		ret = purge_area(fs, fs->sb.area[DRFS_AREA_TEMP], &po);
	}
	if (ret == 0 && lc)
		ret = purge_everywhere(fs, false, dry);
	if (ret == 0 && rc)
		ret = purge_everywhere(fs, true, dry);
	drfs_disconnect(fs);
	return ret < 0 ? 1 : 0;
}

static int cmd_recover(struct global *g, int argc, char **argv)
{
	static const struct option lo[] = {{"help", no_argument, 0, 'h'},
					   {0, 0, 0, 0}};
	static const char use[] =
		"usage: datarootctl [global options] recover\n";
	struct drfs_fs *fs;
	int at, c, ret;

	optind = 1;
	while ((at = optind, c = getopt_long(argc, argv, "+:h", lo, NULL)) !=
	       -1) {
		if (c == 'h') {
			fputs(use, stdout);
			return 0;
		}
		bad_option(g->cmd, argv[at], c);
		fputs(use, stderr);
		return EXIT_USAGE;
	}
	if (extra_args(g, argc, argv, use))
		return EXIT_USAGE;
	if (open_fs(g, &fs) < 0)
		return 1;
	ret = drfs_intents_recover(fs, 0);
	if (ret < 0)
		fprintf(stderr, "%s: %s\n", g->cmd, strerror(-ret));
	else
		printf("%d rename intent(s) recovered\n", ret);
	drfs_disconnect(fs);
	return ret < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"conf", required_argument, 0, 'c'},
		{"id", required_argument, 0, 'i'},
		{"keyring", required_argument, 0, 'k'},
		{"pool", required_argument, 0, 'p'},
		{"fs", required_argument, 0, 'n'},
		{"timeout", required_argument, 0, 't'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0}};
	static const struct {
		const char *name;
		int (*fn)(struct global *g, int argc, char **argv);
	} cmds[] = {{"mkfs", cmd_mkfs},
		    {"status", cmd_status},
		    {"fsck", cmd_fsck},
		    {"purge", cmd_purge},
		    {"recover", cmd_recover}};
	struct global g = {0};
	char who[64];
	bool bad = false;
	int at, c;

	opterr = 0; /* our own one-line messages */
	g.conn.pool = DRFS_DEFAULT_POOL;
	g.conn.fsname = DRFS_DEFAULT_FS;
	g.conn.timeout = 10;
	g.cmd = "datarootctl";
	while (!bad &&
	       (at = optind, c = getopt_long(argc, argv, "+:c:i:k:p:n:t:h", lo,
					     NULL)) != -1) {
		switch (c) {
		case 'c':
			g.conn.conf = optarg;
			break;
		case 'i':
			g.conn.id = optarg;
			break;
		case 'k':
			g.conn.keyring = optarg;
			break;
		case 'p':
			g.conn.pool = optarg;
			break;
		case 'n':
			g.conn.fsname = optarg;
			break;
		case 't':
			g.conn.timeout = (int)parse_long(optarg, 1, 3600);
			if (g.conn.timeout < 0) {
				fprintf(stderr,
					"datarootctl: bad timeout '%s' "
					"(seconds, 1 to 3600)\n",
					optarg);
				bad = true;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			bad_option("datarootctl", argv[at], c);
			bad = true;
			break;
		}
	}
	if (bad) {
		fprintf(stderr, "usage: datarootctl [global options] COMMAND "
				"[options] (see --help)\n");
		/* fsck(8)'s code for a usage error when the command is fsck */
		for (int i = optind; i < argc; i++)
			if (!strcmp(argv[i], "fsck"))
				return FSCK_USAGE;
		return EXIT_USAGE;
	}
	if (optind >= argc) {
		fprintf(stderr, "datarootctl: no command given\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	argc -= optind;
	argv += optind;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[0], cmds[i].name))
			continue;
		snprintf(who, sizeof(who), "datarootctl %s", cmds[i].name);
		g.cmd = who;
		return cmds[i].fn(&g, argc, argv);
	}
	fprintf(stderr,
		"datarootctl: unknown command '%s' (mkfs, status, fsck, "
		"purge, recover; see --help)\n",
		argv[0]);
	return EXIT_USAGE;
}
