/*
 * radosfloor.c - the pool's own floor for a lock handoff between nodes.
 *
 *   radosfloor CEPH_CONF POOL [-n N] [-s BYTES]
 *
 * A handoff of a datarootfs lock between two nodes is, at best, one
 * replicated write of the lock object by the node that unlocks and one
 * notify that wakes the waiting node.  This measures exactly that with
 * librados and nothing else: two cluster handles (two "nodes"), the
 * second watches an object; N times the first writes BYTES to it
 * (write_full, replicated) and notifies, and the time from just before
 * the write to the watcher's callback is one "handoff".  The write's own
 * latency is recorded too.  Rounds are 2 ms apart (a lock's hold time).
 *
 * The object lives in namespace "bench-floor" and is removed at the end.
 * Prints one JSON object (microseconds).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <rados/librados.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int seen; /* round number of the last notify received */
	double at;
	rados_ioctx_t io;
	const char *oid;
};

static void on_notify(void *arg, uint64_t notify_id, uint64_t cookie,
		      uint64_t notifier_id, void *data, size_t len)
{
	struct waiter *w = arg;
	double t = now();
	int round = -1;

	(void)notifier_id;
	if (len == sizeof(round))
		memcpy(&round, data, sizeof(round));
	pthread_mutex_lock(&w->lock);
	w->seen = round;
	w->at = t;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	rados_notify_ack(w->io, w->oid, notify_id, cookie, NULL, 0);
}

static void on_error(void *arg, uint64_t cookie, int err)
{
	(void)arg;
	fprintf(stderr, "radosfloor: watch %llu error %d\n",
		(unsigned long long)cookie, err);
}

static int connect_one(const char *conf, const char *pool, rados_t *c,
		       rados_ioctx_t *io)
{
	int r = rados_create(c, NULL);

	if (r < 0)
		return r;
	if ((r = rados_conf_read_file(*c, conf)) < 0 ||
	    (r = rados_connect(*c)) < 0 ||
	    (r = rados_ioctx_create(*c, pool, io)) < 0) {
		rados_shutdown(*c);
		return r;
	}
	rados_ioctx_set_namespace(*io, "bench-floor");
	return 0;
}

static void stats(double *v, int n, const char *name, int comma)
{
	double sum = 0;

	qsort(v, (size_t)n, sizeof(*v), cmpd);
	for (int i = 0; i < n; i++)
		sum += v[i];
	printf("\"%s_mean_us\":%.1f,\"%s_p50_us\":%.1f,\"%s_p99_us\":%.1f,"
	       "\"%s_max_us\":%.1f%s",
	       name, n ? sum / n * 1e6 : 0, name, n ? v[n / 2] * 1e6 : 0, name,
	       n ? v[(int)(n * 0.99) < n ? (int)(n * 0.99) : n - 1] * 1e6 : 0,
	       name, n ? v[n - 1] * 1e6 : 0, comma ? "," : "");
}

int main(int argc, char **argv)
{
	int n = 200, size = 64, c, r, lost = 0;
	char oid[64];
	rados_t c1, c2;
	rados_ioctx_t io1, io2;
	uint64_t cookie;
	struct waiter w = {.seen = -1};

	if (argc < 3)
		goto usage;
	optind = 3;
	while ((c = getopt(argc, argv, "n:s:")) != -1) {
		if (c == 'n')
			n = atoi(optarg);
		else if (c == 's')
			size = atoi(optarg);
		else
			goto usage;
	}
	if (n < 1 || size < 1 || size > (1 << 22))
		goto usage;
	if ((r = connect_one(argv[1], argv[2], &c1, &io1)) < 0 ||
	    (r = connect_one(argv[1], argv[2], &c2, &io2)) < 0) {
		fprintf(stderr, "radosfloor: connect: %s\n", strerror(-r));
		return 1;
	}
	snprintf(oid, sizeof(oid), "floor.%d", (int)getpid());
	char *buf = calloc(1, (size_t)size);
	double *hand = calloc((size_t)n, sizeof(double));
	double *wr = calloc((size_t)n, sizeof(double));

	if (!buf || !hand || !wr)
		return 1;
	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	w.io = io2;
	w.oid = oid;
	if ((r = rados_write_full(io1, oid, buf, (size_t)size)) < 0 ||
	    (r = rados_watch2(io2, oid, &cookie, on_notify, on_error, &w)) <
		    0) {
		fprintf(stderr, "radosfloor: setup: %s\n", strerror(-r));
		return 1;
	}
	for (int i = 0; i < n; i++) {
		double t0 = now(), t1;
		struct timespec dl;

		memcpy(buf, &i, sizeof(i));
		r = rados_write_full(io1, oid, buf, (size_t)size);
		t1 = now();
		if (r < 0) {
			fprintf(stderr, "radosfloor: write: %s\n",
				strerror(-r));
			return 1;
		}
		/* the notify's own wait for acks is the notifier's business;
		 * the waiter is woken by its callback */
		r = rados_notify2(io1, oid, (const char *)&i, sizeof(i), 5000,
				  NULL, NULL);
		(void)r;
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += 5;
		pthread_mutex_lock(&w.lock);
		while (w.seen != i)
			if (pthread_cond_timedwait(&w.cond, &w.lock, &dl) ==
			    ETIMEDOUT)
				break;
		if (w.seen == i)
			hand[i - lost] = w.at - t0;
		else
			lost++;
		pthread_mutex_unlock(&w.lock);
		wr[i] = t1 - t0;
		usleep(2000);
	}
	rados_unwatch2(io2, cookie);
	rados_remove(io1, oid);
	printf("{\"tool\":\"radosfloor\",\"n\":%d,\"bytes\":%d,\"lost\":%d,", n,
	       size, lost);
	stats(wr, n, "write", 1);
	stats(hand, n - lost, "handoff", 0);
	printf("}\n");
	rados_ioctx_destroy(io1);
	rados_ioctx_destroy(io2);
	rados_shutdown(c1);
	rados_shutdown(c2);
	return lost ? 3 : 0;
usage:
	fprintf(stderr, "usage: radosfloor CEPH_CONF POOL [-n N] [-s BYTES]\n");
	return 2;
}
