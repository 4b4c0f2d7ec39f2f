/*
 * fsops.c - Moodle dataroot small-file and store sequences, timed per
 * whole operation (what fio cannot express: rename over an existing file,
 * and open+write+close or stat+open+read+close as one timed operation).
 *
 *   fsops OP -d ROOT[,ROOT...] -p RELDIR [-j JOBS] [-n FILES] [-t SECS]
 *            [-s MIN[-MAX]] [-b BUCKETS] [-l LABEL] [-o LIST]
 *
 * Job j works under ROOT[j % nroots]/RELDIR/j<j>/ (several roots = the same
 * filesystem mounted on several nodes).  Files are spread over BUCKETS
 * subdirectories named like MUC's "<3 hex>-cache" (or "ab/cd" for store).
 *
 *   create      open(O_CREAT|O_EXCL) + write(size) + close           (n per job)
 *   stat        stat                                                 (t seconds)
 *   read        MUC get: stat + open + read to EOF + close           (t seconds)
 *   renameover  MUC set: open(tmp, O_CREAT|O_EXCL) + write + close +
 *               re-read + rename(tmp, key) over the old file + chmod (t seconds)
 *   unlink      unlink                                               (n per job)
 *   mix         MUC mix, 70% get / 25% set / 5% delete, keys shared by all
 *               jobs (and nodes), a get that misses counts as done    (t seconds)
 *   store       filedir add from path, content-addressed as Moodle does it:
 *               the file is ROOT/RELDIR/<h[0:2]>/<h[2:4]>/<h>, h = SHA-1 of
 *               its (unique) content; timed: unlink(h.tmp) + copy to h.tmp
 *               (1 MiB writes) + full re-read + rename(h.tmp, h) + chmod +
 *               unlink(h.tmp) (ENOENT).  Hashing is done before the clock.
 *               -o LIST writes the stored paths (relative to ROOT).  (n per job)
 *
 * Directories are created before the clock starts.  Prints one JSON object:
 * ops, errors, wall seconds, iops, MB/s (10^6 bytes of file data moved),
 * mean/p50/p99/max latency in microseconds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>

#define MAXJOBS 64
#define MAXROOTS 8
#define CHUNK (1u << 20)

enum op {
	OP_CREATE,
	OP_STAT,
	OP_READ,
	OP_RENAMEOVER,
	OP_UNLINK,
	OP_MIX,
	OP_STORE
};
static const char *op_names[] = {"create", "stat", "read", "renameover",
				 "unlink", "mix",  "store"};

struct shared {
	volatile int go;
	uint64_t ops[MAXJOBS], errors[MAXJOBS], bytes[MAXJOBS];
	double t_end[MAXJOBS];
	char firsterr[MAXJOBS][160];
};

static char *roots[MAXROOTS];
static int nroots;
static const char *reldir = "bench";
static int jobs = 1, nfiles = 100, buckets = 16;
static double secs = 5;
static uint64_t smin = 4096, smax = 4096;
static enum op op;
static struct shared *sh;
static float *lat; /* microseconds, cap per job */
static size_t cap;
static char *wbuf, *rbuf;
static const char *listfile;
static uint64_t nonce;
static char (*hashes)[41]; /* store: per file of this job */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static uint64_t key_size(int job, uint64_t i)
{
	uint64_t s =
		(uint64_t)job * 1000003u + i * 7919u + 0x9e3779b97f4a7c15ull;

	for (int k = 0; k < 3; k++)
		rng_next(&s);
	return smax > smin ? smin + s % (smax - smin + 1) : smin;
}

static unsigned bucket_of(uint64_t i)
{
	return (unsigned)((i * 2654435761u) % (unsigned)buckets);
}

/* Directory of bucket b of job j, reached through the mount of job via. */
static void bucket_dir(char *buf, size_t sz, int j, unsigned b, int via)
{
	const char *root = roots[via % nroots];

	snprintf(buf, sz, "%s/%s/j%d/%03x-cache", root, reldir, j, b);
}

static void key_path(char *buf, size_t sz, int j, uint64_t i, int via)
{
	char d[4096];

	if (op == OP_STORE) {
		const char *h = hashes[i];

		snprintf(buf, sz, "%s/%s/%.2s/%.2s/%s", roots[via % nroots],
			 reldir, h, h + 2, h);
		return;
	}
	bucket_dir(d, sizeof(d), j, bucket_of(i), via);
	snprintf(buf, sz, "%s/k%" PRIu64 ".cache", d, i);
}

/* store: make file i of job j unique (its first 32 bytes). */
static void store_header(int j, uint64_t i)
{
	uint64_t h[4] = {nonce, (uint64_t)j, i, 0x6d6f6f646c65ull};

	memcpy(wbuf, h, sizeof(h));
}

static void sha1_hex(const char *buf, size_t len, char out[41])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	EVP_Digest(buf, len, md, &n, EVP_sha1(), NULL);
	for (unsigned int k = 0; k < n && k < 20; k++)
		sprintf(out + 2 * k, "%02x", md[k]);
	out[40] = 0;
}

static int mkdir_p(const char *path)
{
	char tmp[4096];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 02777) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, 02777) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

static int jerr(int j, const char *what, const char *path)
{
	sh->errors[j]++;
	if (!sh->firsterr[j][0])
		snprintf(sh->firsterr[j], sizeof(sh->firsterr[j]), "%s %s: %s",
			 what, path, strerror(errno));
	return -1;
}

static int write_all(int fd, const char *buf, uint64_t len)
{
	while (len) {
		size_t n = len > CHUNK ? CHUNK : (size_t)len;
		ssize_t w = write(fd, buf, n);

		if (w <= 0)
			return -1;
		buf += w;
		len -= (uint64_t)w;
	}
	return 0;
}

/* Read to EOF; returns bytes or -1. */
static int64_t read_all(int fd)
{
	int64_t tot = 0;
	ssize_t r;

	while ((r = read(fd, rbuf, CHUNK)) > 0)
		tot += r;
	return r < 0 ? -1 : tot;
}

static int do_create(int j, const char *path, uint64_t size)
{
	int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0666);

	if (fd < 0)
		return jerr(j, "create", path);
	if (write_all(fd, wbuf, size) < 0) {
		close(fd);
		return jerr(j, "write", path);
	}
	if (close(fd) < 0)
		return jerr(j, "close", path);
	sh->bytes[j] += size;
	return 0;
}

/* MUC get.  miss_ok: ENOENT is a cache miss, not an error. */
static int do_get(int j, const char *path, int miss_ok)
{
	struct stat st;
	int fd;
	int64_t n;

	if (stat(path, &st) < 0) {
		if (miss_ok && errno == ENOENT)
			return 0;
		return jerr(j, "stat", path);
	}
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		if (miss_ok && errno == ENOENT)
			return 0;
		return jerr(j, "open", path);
	}
	n = read_all(fd);
	close(fd);
	if (n < 0)
		return jerr(j, "read", path);
	sh->bytes[j] += (uint64_t)n;
	return 0;
}

static int do_set(int j, const char *path, uint64_t size, uint64_t ctr)
{
	char tmp[4300];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.%d.%" PRIu64 ".temp", path,
		 (int)getpid(), ctr);
	if (do_create(j, tmp, size) < 0)
		return -1;
	fd = open(tmp, O_RDONLY); /* MUC re-reads to check the md5 */
	if (fd < 0 || read_all(fd) < 0) {
		if (fd >= 0)
			close(fd);
		return jerr(j, "reread", tmp);
	}
	close(fd);
	if (rename(tmp, path) < 0)
		return jerr(j, "rename", path);
	/* Moodle's @chmod: in the mix another job may have deleted the key
	 * between our rename and chmod. */
	if (chmod(path, 0666) < 0 && !(op == OP_MIX && errno == ENOENT))
		return jerr(j, "chmod", path);
	return 0;
}

static int do_store(int j, const char *path, uint64_t size)
{
	char tmp[4300];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (unlink(tmp) == 0 || errno != ENOENT) {
		/* Moodle ignores the result */
	}
	fd = open(tmp, O_CREAT | O_WRONLY | O_TRUNC, 0666);
	if (fd < 0)
		return jerr(j, "create", tmp);
	if (write_all(fd, wbuf, size) < 0) {
		close(fd);
		return jerr(j, "write", tmp);
	}
	if (close(fd) < 0)
		return jerr(j, "close", tmp);
	fd = open(tmp, O_RDONLY); /* sha1 of the copy */
	if (fd < 0 || read_all(fd) < 0) {
		if (fd >= 0)
			close(fd);
		return jerr(j, "reread", tmp);
	}
	close(fd);
	if (rename(tmp, path) < 0)
		return jerr(j, "rename", path);
	if (chmod(path, 0666) < 0)
		return jerr(j, "chmod", path);
	if (unlink(tmp) == 0 || errno != ENOENT)
		return jerr(j, "unlink-tmp (expected ENOENT)", tmp);
	sh->bytes[j] += size;
	return 0;
}

static void run_job(int j)
{
	char path[4200], dir[4096];
	uint64_t seed = 0x243f6a8885a308d3ull ^
			((uint64_t)j << 32 | (uint64_t)getpid());
	float *my = lat + (size_t)j * cap;
	uint64_t n = 0, ctr = 0;
	double t0, tend;

	/* Untimed preparation: the directories (store: the hashes too). */
	if (op == OP_STORE) {
		FILE *lf = NULL;

		hashes = calloc((size_t)nfiles, sizeof(*hashes));
		if (listfile) {
			char lp[4200];

			snprintf(lp, sizeof(lp), "%s.%d", listfile, j);
			lf = fopen(lp, "w");
		}
		for (uint64_t i = 0; i < (uint64_t)nfiles; i++) {
			char *slash;

			store_header(j, i);
			sha1_hex(wbuf, key_size(j, i), hashes[i]);
			key_path(path, sizeof(path), j, i, j);
			if (lf)
				fprintf(lf, "%s\n",
					path + strlen(roots[j % nroots]) + 1);
			slash = strrchr(path, '/');
			*slash = 0;
			if (mkdir_p(path) < 0) {
				jerr(j, "mkdir", path);
				_exit(1);
			}
		}
		if (lf)
			fclose(lf);
	}
	for (int b = 0; op != OP_STORE && b < buckets; b++) {
		bucket_dir(dir, sizeof(dir), j, (unsigned)b, j);
		if (mkdir_p(dir) < 0) {
			jerr(j, "mkdir", dir);
			_exit(1);
		}
	}
	__atomic_add_fetch(&sh->go, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&sh->go, __ATOMIC_SEQ_CST) <= jobs)
		usleep(200);

	t0 = now();
	tend = t0 + secs;
	for (;;) {
		uint64_t i;
		int kj = j;
		double a, b;

		if (op == OP_CREATE || op == OP_UNLINK || op == OP_STORE) {
			if (n >= (uint64_t)nfiles)
				break;
			i = n;
		} else {
			if (now() >= tend || n >= cap)
				break;
			i = rng_next(&seed) % (uint64_t)nfiles;
			if (op == OP_MIX)
				kj = (int)(rng_next(&seed) % (uint64_t)jobs);
		}
		key_path(path, sizeof(path), kj, i, j);
		a = now();
		switch (op) {
		case OP_CREATE:
			do_create(j, path, key_size(kj, i));
			break;
		case OP_STAT: {
			struct stat st;

			if (stat(path, &st) < 0)
				jerr(j, "stat", path);
			break;
		}
		case OP_READ:
			do_get(j, path, 0);
			break;
		case OP_RENAMEOVER:
			do_set(j, path, key_size(kj, i), ctr++);
			break;
		case OP_UNLINK:
			if (unlink(path) < 0)
				jerr(j, "unlink", path);
			break;
		case OP_MIX: {
			unsigned r = (unsigned)(rng_next(&seed) % 100);

			if (r < 70)
				do_get(j, path, 1);
			else if (r < 95)
				do_set(j, path, key_size(kj, i), ctr++);
			else if (unlink(path) < 0 && errno != ENOENT)
				jerr(j, "unlink", path);
			break;
		}
		case OP_STORE:
			store_header(j, i);
			do_store(j, path, key_size(kj, i));
			break;
		}
		b = now();
		if (n < cap)
			my[n] = (float)((b - a) * 1e6);
		n++;
	}
	sh->ops[j] = n;
	sh->t_end[j] = now();
	_exit(0);
}

static int cmpf(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return x < y ? -1 : x > y;
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	double v = strtod(s, &end);

	switch (*end) {
	case 'k':
	case 'K':
		v *= 1024;
		end++;
		break;
	case 'm':
	case 'M':
		v *= 1048576;
		end++;
		break;
	case 'g':
	case 'G':
		v *= 1073741824.0;
		end++;
		break;
	}
	if (*end && *end != '-')
		return -1;
	*out = (uint64_t)v;
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: fsops create|stat|read|renameover|unlink|mix|"
			"store -d ROOT[,ROOT...] -p RELDIR [-j JOBS] "
			"[-n FILES] [-t SECS] [-s MIN[-MAX]] [-b BUCKETS] "
			"[-l LABEL] [-o LIST]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *label = NULL;
	char *rootarg = NULL;
	int c, i;

	if (argc < 2)
		usage();
	for (i = 0; i < (int)(sizeof(op_names) / sizeof(op_names[0])); i++)
		if (!strcmp(argv[1], op_names[i]))
			break;
	if (i == (int)(sizeof(op_names) / sizeof(op_names[0])))
		usage();
	op = (enum op)i;
	optind = 2;
	while ((c = getopt(argc, argv, "d:p:j:n:t:s:b:l:o:")) != -1) {
		switch (c) {
		case 'd':
			rootarg = optarg;
			break;
		case 'p':
			reldir = optarg;
			break;
		case 'j':
			jobs = atoi(optarg);
			break;
		case 'n':
			nfiles = atoi(optarg);
			break;
		case 't':
			secs = atof(optarg);
			break;
		case 'b':
			buckets = atoi(optarg);
			break;
		case 'l':
			label = optarg;
			break;
		case 'o':
			listfile = optarg;
			break;
		case 's': {
			char *dash = strchr(optarg, '-');

			if (parse_size(optarg, &smin) < 0)
				usage();
			smax = smin;
			if (dash && parse_size(dash + 1, &smax) < 0)
				usage();
			break;
		}
		default:
			usage();
		}
	}
	if (!rootarg || jobs < 1 || jobs > MAXJOBS || nfiles < 1 ||
	    buckets < 1 || smax < smin)
		usage();
	nonce = (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL);
	for (char *t = strtok(rootarg, ","); t && nroots < MAXROOTS;
	     t = strtok(NULL, ","))
		roots[nroots++] = t;

	cap = (op == OP_CREATE || op == OP_UNLINK || op == OP_STORE)
		      ? (size_t)nfiles
		      : ((size_t)4 << 20) / (size_t)jobs;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	lat = mmap(NULL, cap * (size_t)jobs * sizeof(float),
		   PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	wbuf = malloc(smax > CHUNK ? smax : CHUNK);
	rbuf = malloc(CHUNK);
	if (sh == MAP_FAILED || lat == MAP_FAILED || !wbuf || !rbuf) {
		perror("fsops: memory");
		return 1;
	}
	{
		uint64_t s = 88172645463325252ull;

		for (uint64_t k = 0; k + 8 <= (smax > CHUNK ? smax : CHUNK);
		     k += 8) {
			uint64_t v = rng_next(&s);

			memcpy(wbuf + k, &v, 8);
		}
	}

	pid_t pids[MAXJOBS];
	double t0;

	for (int j = 0; j < jobs; j++) {
		pids[j] = fork();
		if (pids[j] < 0) {
			perror("fork");
			return 1;
		}
		if (pids[j] == 0)
			run_job(j);
	}
	while (__atomic_load_n(&sh->go, __ATOMIC_SEQ_CST) < jobs) {
		int st;

		if (waitpid(-1, &st, WNOHANG) > 0) {
			fprintf(stderr, "fsops: a job died during setup\n");
			for (int j = 0; j < jobs; j++)
				if (sh->firsterr[j][0])
					fprintf(stderr, "fsops: %s\n",
						sh->firsterr[j]);
			for (int j = 0; j < jobs; j++)
				kill(pids[j], 9);
			while (wait(NULL) > 0)
				;
			return 1;
		}
		usleep(200);
	}
	t0 = now();
	__atomic_add_fetch(&sh->go, 1, __ATOMIC_SEQ_CST);
	for (int j = 0; j < jobs; j++)
		waitpid(pids[j], NULL, 0);

	uint64_t ops = 0, errs = 0, bytes = 0;
	double tend = t0;
	size_t nl = 0;

	for (int j = 0; j < jobs; j++) {
		uint64_t k = sh->ops[j] < cap ? sh->ops[j] : cap;

		ops += sh->ops[j];
		errs += sh->errors[j];
		bytes += sh->bytes[j];
		if (sh->t_end[j] > tend)
			tend = sh->t_end[j];
		memmove(lat + nl, lat + (size_t)j * cap, k * sizeof(float));
		nl += k;
		if (sh->firsterr[j][0])
			fprintf(stderr,
				"fsops: job %d: %" PRIu64
				" errors, first: %s\n",
				j, sh->errors[j], sh->firsterr[j]);
	}
	qsort(lat, nl, sizeof(float), cmpf);
	double sum = 0, wall = tend - t0;

	for (size_t k = 0; k < nl; k++)
		sum += lat[k];
	printf("{\"tool\":\"fsops\",\"op\":\"%s\",\"label\":\"%s\",\"jobs\":%d,"
	       "\"roots\":%d,\"files\":%d,\"size_min\":%" PRIu64
	       ",\"size_max\":%" PRIu64 ","
	       "\"ops\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"secs\":%.3f,"
	       "\"iops\":%.1f,\"mbps\":%.3f,\"mean_us\":%.1f,\"p50_us\":%.1f,"
	       "\"p99_us\":%.1f,\"max_us\":%.1f}\n",
	       op_names[op], label ? label : op_names[op], jobs, nroots, nfiles,
	       smin, smax, ops, errs, wall, wall > 0 ? ops / wall : 0,
	       wall > 0 ? bytes / wall / 1e6 : 0, nl ? sum / nl : 0,
	       nl ? lat[nl / 2] : 0, nl ? lat[(size_t)(nl * 0.99)] : 0,
	       nl ? lat[nl - 1] : 0);
	return errs ? 3 : 0;
}
