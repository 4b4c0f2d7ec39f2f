/*
 * lockbench.c - flock(2) cost as Moodle's lock factory and session handler
 * see it.
 *
 *   lockbench roundtrip FILE [-n N]
 *       one process: flock(LOCK_EX) + flock(LOCK_UN) N times on an open
 *       FILE; latency of each pair (the uncontended lock round trip).
 *
 *   lockbench handoff FILE_A FILE_B [-n N] [-w MS]
 *       two processes, A opens FILE_A, B opens FILE_B (the same file seen
 *       through two mounts = two nodes; or the same path twice = one node).
 *       They pass an exclusive lock back and forth N times: the holder keeps
 *       it MS milliseconds (default 2) while the other waits in a blocking
 *       flock(LOCK_EX), then unlocks.  Handoff latency = from just before
 *       the holder's LOCK_UN to the waiter's return from LOCK_EX.
 *       If the waiter gets the lock while the holder still holds it, mutual
 *       exclusion is broken (e.g. node-local locks on two nodes): counted
 *       as "violations" and no handoff latency is reported for that round.
 *       A wait longer than 10 s aborts the run ("timeouts").
 *
 * Prints one JSON object (latencies in microseconds).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void stats(double *v, int n, double *mean, double *p50, double *p99,
		  double *max)
{
	double s = 0;

	qsort(v, (size_t)n, sizeof(double), cmpd);
	for (int i = 0; i < n; i++)
		s += v[i];
	*mean = n ? s / n : 0;
	*p50 = n ? v[n / 2] : 0;
	*p99 = n ? v[(int)(n * 0.99)] : 0;
	*max = n ? v[n - 1] : 0;
}

static int open_file(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT, 0666);

	if (fd < 0) {
		fprintf(stderr, "lockbench: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	return fd;
}

static int roundtrip(const char *path, int n)
{
	int fd = open_file(path);
	double *v = calloc((size_t)n, sizeof(double));
	double mean, p50, p99, max, t0 = now();
	int errors = 0;

	for (int i = 0; i < n; i++) {
		double a = now();

		if (flock(fd, LOCK_EX) < 0 || flock(fd, LOCK_UN) < 0)
			errors++;
		v[i] = (now() - a) * 1e6;
	}
	double wall = now() - t0;

	stats(v, n, &mean, &p50, &p99, &max);
	printf("{\"tool\":\"lockbench\",\"mode\":\"roundtrip\",\"n\":%d,"
	       "\"errors\":%d,\"iops\":%.1f,\"mean_us\":%.1f,\"p50_us\":%.1f,"
	       "\"p99_us\":%.1f,\"max_us\":%.1f}\n",
	       n, errors, n / wall, mean, p50, p99, max);
	close(fd);
	return errors ? 3 : 0;
}

struct hs {
	volatile int round; /* whose turn it is to wait: round % 2 == side */
	volatile int held; /* side currently holding the lock, or -1 */
	volatile int waiting; /* the waiter is about to call flock */
	volatile double t_release;
	int violations, timeouts, errors, n;
	double lat[]; /* per round, -1 = no measurement */
};

static void on_alarm(int sig)
{
	(void)sig;
}

/*
 * Side s: in round r, side (r % 2) waits and side 1 - (r % 2) holds.
 * Round 0 starts with side 1 holding.
 */
static void side(struct hs *h, const char *path, int s, int n, int hold_ms)
{
	int fd = open_file(path);
	struct sigaction sa = {.sa_handler = on_alarm};

	sigaction(SIGALRM, &sa, NULL); /* no SA_RESTART: flock gets EINTR */
	if (s == 1) {
		if (flock(fd, LOCK_EX) < 0)
			_exit(1);
		h->held = 1;
		__atomic_store_n(&h->round, 0, __ATOMIC_SEQ_CST);
	}
	for (int r = 0; r < n; r++) {
		while (__atomic_load_n(&h->round, __ATOMIC_SEQ_CST) < r)
			usleep(50);
		if (h->timeouts)
			break;
		if (r % 2 == s) {
			/* waiter */
			h->waiting = 1;
			alarm(10);
			int ret = flock(fd, LOCK_EX);

			alarm(0);
			double t = now();

			if (ret < 0) {
				if (errno == EINTR)
					h->timeouts++;
				else
					h->errors++;
				h->lat[r] = -1;
				__atomic_store_n(&h->round, n + 1,
						 __ATOMIC_SEQ_CST);
				break;
			}
			if (h->held != -1) {
				h->violations++;
				h->lat[r] = -1;
				/* wait until the other side really let go */
				while (h->held != -1)
					usleep(50);
			} else {
				h->lat[r] = (t - h->t_release) * 1e6;
			}
			h->held = s;
			h->waiting = 0;
			__atomic_store_n(&h->round, r + 1, __ATOMIC_SEQ_CST);
		} else {
			/* holder: let the waiter block in flock first */
			while (!h->waiting)
				usleep(20);
			usleep((useconds_t)hold_ms * 1000);
			h->t_release = now();
			h->held = -1;
			if (flock(fd, LOCK_UN) < 0)
				h->errors++;
			/* next round: we wait; the other side bumps the round */
		}
	}
	close(fd);
	_exit(0);
}

static int handoff(const char *pa, const char *pb, int n, int hold_ms)
{
	struct hs *h =
		mmap(NULL, sizeof(*h) + (size_t)n * sizeof(double),
		     PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t a, b;

	if (h == MAP_FAILED)
		return 1;
	h->round = -1;
	h->held = -1;
	h->n = n;
	b = fork();
	if (b == 0)
		side(h, pb, 1, n, hold_ms);
	while (__atomic_load_n(&h->round, __ATOMIC_SEQ_CST) < 0)
		usleep(100);
	a = fork();
	if (a == 0)
		side(h, pa, 0, n, hold_ms);
	waitpid(a, NULL, 0);
	waitpid(b, NULL, 0);

	double *v = calloc((size_t)n, sizeof(double));
	int m = 0;
	double mean, p50, p99, max;

	for (int i = 0; i < n; i++)
		if (h->lat[i] >= 0)
			v[m++] = h->lat[i];
	stats(v, m, &mean, &p50, &p99, &max);
	printf("{\"tool\":\"lockbench\",\"mode\":\"handoff\",\"n\":%d,"
	       "\"measured\":%d,\"violations\":%d,\"timeouts\":%d,"
	       "\"errors\":%d,\"hold_ms\":%d,\"iops\":%.1f,\"mean_us\":%.1f,"
	       "\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f}\n",
	       n, m, h->violations, h->timeouts, h->errors, hold_ms,
	       mean > 0 ? 1e6 / mean : 0, mean, p50, p99, max);
	return h->timeouts || h->errors ? 3 : 0;
}

int main(int argc, char **argv)
{
	int n = 1000, hold = 2, c;

	if (argc < 3)
		goto usage;
	const char *mode = argv[1];
	int nargs = !strcmp(mode, "handoff") ? 2 : 1;

	if (argc < 2 + nargs)
		goto usage;
	optind = 2 + nargs;
	while ((c = getopt(argc, argv, "n:w:")) != -1) {
		if (c == 'n')
			n = atoi(optarg);
		else if (c == 'w')
			hold = atoi(optarg);
		else
			goto usage;
	}
	if (n < 1)
		goto usage;
	if (!strcmp(mode, "roundtrip"))
		return roundtrip(argv[2], n);
	if (!strcmp(mode, "handoff"))
		return handoff(argv[2], argv[3], n, hold);
usage:
	fprintf(stderr,
		"usage: lockbench roundtrip FILE [-n N]\n"
		"       lockbench handoff FILE_A FILE_B [-n N] [-w MS]\n");
	return 2;
}
