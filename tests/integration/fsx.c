/*
 * fsx.c - randomized file exerciser for datarootfs (fsx-style, written from
 * scratch for this project).
 *
 * Build:
 *   gcc -std=gnu11 -Wall -Wextra -Werror -O2 -o fsx tests/integration/fsx.c
 *
 * Usage:
 *   fsx [-S seed] [-N numops] [-l maxlen] [-o maxoplen] [-s weight] [-q]
 *       [-v] [-M] PATH1 [PATH2]
 *
 * PATH1 and PATH2 name the same file seen through two mounts (two "nodes");
 * without PATH2, PATH1 is used for both.  The file is created/truncated to 0
 * at start.  fsx keeps an in-memory model of the file's bytes and size and
 * checks every read against it.  Only one fd is open at a time, so all that
 * is required of the filesystem across nodes is close-to-open coherence.
 *
 * Op mix (approximate weights out of 100):
 *   15 write      lseek+write, random offset < maxlen, len <= maxoplen
 *   12 pwrite     same via pwrite
 *   12 read       lseek+read, every byte compared; reads past EOF must be
 *                 short by exactly the right amount
 *   12 pread      same via pread (reads biased to 64K/4M boundaries at times)
 *    8 truncate   ftruncate shrink or grow; grown region must read as zeros
 *                 (sizes sometimes snapped to 64 KiB / 4 MiB +/- small delta)
 *    5 hole       write far beyond EOF, leaving a gap that must read as zeros
 *                 (a file over maxlen/2 is often shrunk first to make room)
 *    8 boundary   write straddling a multiple of 65536 or 4194304
 *                 (offset = boundary +/- small delta, mostly just before)
 *    8 mmap       MAP_SHARED/PROT_READ of a random range, compared; if the
 *                 range reaches EOF, the tail of the last page must be zero
 *    5 fstat      st_size must equal the model size
 *    3 fsync
 *    8 switch     close the fd and reopen via PATH1 or PATH2 (random)
 *    3 verify     read back the whole file and compare
 *    1 bigwrite   one write of up to 5 MiB (clamped to maxlen)
 *   -s streamw   a sequential run of up to 14 MiB in 1 MiB (or odd-sized)
 *                writes from 0, EOF, a 4 MiB boundary or anywhere, with
 *                rewrites of what was just written, fstat and fsync mid-run
 *   -s streamr   sequential reads (1 MiB / 128 KiB) to EOF or for a while
 *                (the streaming ops weigh 0 unless -s gives them a weight)
 * At the end the whole file is verified through both paths.
 *
 * Everything (op choice, offsets, lengths, data) comes from one PRNG seeded
 * with -S, so a run is exactly reproducible from its seed and -N/-l/-o/-M. The
 * last 64 ops are kept in a ring buffer; on a mismatch fsx prints the seed,
 * op number, that log, the first bad offset and expected vs. got bytes, and
 * exits 1.  Exit 2 is a usage error.
 *
 * -q prints only "fsx: seed S: N ops OK" on success; -v logs every op;
 * -M disables the mmap checks (for mounts that cannot mmap, e.g. direct_io).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define KIB (1024ULL)
#define MIB (1024ULL * 1024ULL)
#define B64K (65536ULL)
#define B4M (4194304ULL)
#define BIGWRITE_MAX (5 * MIB)
#define LOG_SIZE 64

enum optype {
	OP_WRITE,
	OP_PWRITE,
	OP_READ,
	OP_PREAD,
	OP_TRUNCATE,
	OP_HOLE,
	OP_BOUNDARY,
	OP_MMAP,
	OP_FSTAT,
	OP_FSYNC,
	OP_SWITCH,
	OP_VERIFY,
	OP_BIGWRITE,
	OP_STREAMW,
	OP_STREAMR,
	OP_CREATE,
	OP_NTYPES
};

static const char *const op_names[OP_NTYPES] = {
	[OP_WRITE] = "WRITE",	    [OP_PWRITE] = "PWRITE",
	[OP_READ] = "READ",	    [OP_PREAD] = "PREAD",
	[OP_TRUNCATE] = "TRUNCATE", [OP_HOLE] = "HOLEWRITE",
	[OP_BOUNDARY] = "BNDWRITE", [OP_MMAP] = "MMAPREAD",
	[OP_FSTAT] = "FSTAT",	    [OP_FSYNC] = "FSYNC",
	[OP_SWITCH] = "SWITCH",	    [OP_VERIFY] = "VERIFY",
	[OP_BIGWRITE] = "BIGWRITE", [OP_CREATE] = "CREATE",
	[OP_STREAMW] = "STREAMW",   [OP_STREAMR] = "STREAMR",
};

/* Weights for the random op choice (index = enum optype). */
static const unsigned op_weights[OP_NTYPES] = {
	[OP_WRITE] = 15,   [OP_PWRITE] = 12,  [OP_READ] = 12,
	[OP_PREAD] = 12,   [OP_TRUNCATE] = 8, [OP_HOLE] = 5,
	[OP_BOUNDARY] = 8, [OP_MMAP] = 8,     [OP_FSTAT] = 5,
	[OP_FSYNC] = 3,	   [OP_SWITCH] = 8,   [OP_VERIFY] = 3,
	[OP_BIGWRITE] = 1, [OP_CREATE] = 0,   [OP_STREAMW] = 0,
	[OP_STREAMR] = 0,
};
/* -s: weight of STREAMW and STREAMR each (0 unless given) */
static unsigned stream_weight;

struct logent {
	uint64_t num;
	enum optype type;
	uint64_t off;
	uint64_t len;
	uint64_t size_before;
	uint64_t size_after;
	int node; /* for SWITCH: 1 or 2; otherwise current node */
};

/* ---- global state ------------------------------------------------------ */

static uint64_t seed;
static uint64_t rng_state;
static uint64_t numops = 2000;
static uint64_t maxlen = 8 * MIB;
static uint64_t maxoplen = 256 * KIB;
static int quiet;
static int verbose;
static int no_mmap;
static const char *paths[2];
static int node; /* index into paths[] of the open fd */
static int fd = -1;
static uint64_t pagesize;

static unsigned char *model; /* model of file bytes; zero beyond msize */
static uint64_t model_alloc;
static uint64_t msize; /* model file size */
static unsigned char *iobuf; /* data written / read back */
static uint64_t iobuf_alloc;

static struct logent oplog[LOG_SIZE];
static uint64_t opcount; /* number of ops logged so far */
static uint64_t curop; /* number of the op in progress */

static uint64_t stat_ops[OP_NTYPES];

/* ---- PRNG (splitmix64) ------------------------------------------------- */

static uint64_t rnd64(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n); n == 0 returns 0. */
static uint64_t rnd(uint64_t n)
{
	return n ? rnd64() % n : 0;
}

/* Uniform in [lo, hi] (inclusive); requires lo <= hi. */
static uint64_t rnd_range(uint64_t lo, uint64_t hi)
{
	return lo + rnd(hi - lo + 1);
}

static void rnd_fill(unsigned char *p, uint64_t len)
{
	while (len >= 8) {
		uint64_t v = rnd64();

		memcpy(p, &v, 8);
		p += 8;
		len -= 8;
	}
	if (len) {
		uint64_t v = rnd64();

		memcpy(p, &v, len);
	}
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* ---- logging and failure reporting ------------------------------------ */

static void log_op(enum optype type, uint64_t off, uint64_t len,
		   uint64_t size_before, uint64_t size_after, int n)
{
	struct logent *e = &oplog[opcount % LOG_SIZE];

	e->num = curop;
	e->type = type;
	e->off = off;
	e->len = len;
	e->size_before = size_before;
	e->size_after = size_after;
	e->node = n;
	opcount++;
}

static void print_logent(FILE *f, const struct logent *e)
{
	fprintf(f, "  op %6" PRIu64 ": node%d %-9s", e->num, e->node + 1,
		op_names[e->type]);
	switch (e->type) {
	case OP_WRITE:
	case OP_PWRITE:
	case OP_HOLE:
	case OP_BOUNDARY:
	case OP_BIGWRITE:
	case OP_READ:
	case OP_PREAD:
	case OP_MMAP:
		fprintf(f,
			" off=0x%08" PRIx64 " len=0x%06" PRIx64
			" end=0x%08" PRIx64,
			e->off, e->len, e->off + e->len);
		break;
	case OP_TRUNCATE:
	case OP_CREATE:
		fprintf(f, " to 0x%08" PRIx64 " (%s)", e->size_after,
			e->size_after < e->size_before	 ? "shrink"
			: e->size_after > e->size_before ? "grow"
							 : "same");
		break;
	case OP_SWITCH:
		fprintf(f, " -> %s", paths[e->node]);
		break;
	case OP_VERIFY:
		fprintf(f, " whole file, len=0x%08" PRIx64, e->len);
		break;
	default:
		break;
	}
	fprintf(f, "  [size 0x%" PRIx64, e->size_before);
	if (e->size_after != e->size_before)
		fprintf(f, " -> 0x%" PRIx64, e->size_after);
	fprintf(f, "]\n");
}

static void dump_log(FILE *f)
{
	uint64_t n = opcount < LOG_SIZE ? opcount : LOG_SIZE;

	fprintf(f, "fsx: last %" PRIu64 " ops (oldest first):\n", n);
	for (uint64_t i = opcount - n; i < opcount; i++)
		print_logent(f, &oplog[i % LOG_SIZE]);
}

static void report_header(FILE *f)
{
	fprintf(f,
		"fsx: FAILURE: seed %" PRIu64 " op %" PRIu64 " (node%d: %s)\n",
		seed, curop, node + 1, paths[node]);
	fprintf(f,
		"fsx: reproduce with: -S %" PRIu64 " -N %" PRIu64 " -l %" PRIu64
		" -o %" PRIu64 "\n",
		seed, numops, maxlen, maxoplen);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
fail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	report_header(stderr);
	fprintf(stderr, "fsx: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	dump_log(stderr);
	exit(1);
}

static void hexline(FILE *f, const char *label, const unsigned char *p,
		    uint64_t start, uint64_t n, uint64_t bad)
{
	fprintf(f, "  %-8s 0x%08" PRIx64 ":", label, start);
	for (uint64_t i = 0; i < n; i++)
		fprintf(f, "%s%02x", start + i == bad ? " >" : " ", p[i]);
	fprintf(f, "\n");
}

/*
 * got[0..len) was read from file offset off; expect[0..len) is the model.
 * Returns normally if they match, else reports and exits.
 */
static void check_bytes(const char *what, uint64_t off,
			const unsigned char *got, const unsigned char *expect,
			uint64_t len)
{
	uint64_t bad, last, nbad = 0, ws, we;

	if (memcmp(got, expect, len) == 0)
		return;
	for (bad = 0; bad < len && got[bad] == expect[bad]; bad++)
		;
	last = bad;
	for (uint64_t i = bad; i < len; i++) {
		if (got[i] != expect[i]) {
			nbad++;
			last = i;
		}
	}

	fflush(stdout);
	report_header(stderr);
	fprintf(stderr,
		"fsx: %s data mismatch in range 0x%" PRIx64 "..0x%" PRIx64
		" (file size 0x%" PRIx64 ")\n",
		what, off, off + len, msize);
	fprintf(stderr,
		"fsx: first bad offset 0x%" PRIx64 " (%" PRIu64
		"), last bad 0x%" PRIx64 ", %" PRIu64 " bad bytes\n",
		off + bad, off + bad, off + last, nbad);
	if (off + bad >= msize)
		fprintf(stderr,
			"fsx: (bad offset is beyond EOF: expected zeros)\n");
	ws = bad >= 8 ? bad - 8 : 0;
	we = min_u64(ws + 16, len);
	hexline(stderr, "expected", expect + ws, off + ws, we - ws, off + bad);
	hexline(stderr, "got", got + ws, off + ws, we - ws, off + bad);
	dump_log(stderr);
	exit(1);
}

/* ---- I/O helpers -------------------------------------------------------- */

static void open_node(int n, int flags)
{
	fd = open(paths[n], O_RDWR | flags, 0644);
	if (fd < 0)
		fail("open(%s): %s", paths[n], strerror(errno));
	node = n;
}

static void close_fd(void)
{
	if (close(fd) < 0)
		fail("close(%s): %s", paths[node], strerror(errno));
	fd = -1;
}

static void do_lseek(uint64_t off)
{
	off_t r = lseek(fd, (off_t)off, SEEK_SET);

	if (r < 0 || (uint64_t)r != off)
		fail("lseek(0x%" PRIx64 "): %s", off,
		     r < 0 ? strerror(errno) : "wrong position");
}

/* Write all of buf at off (pwrite) or at the current position (write). */
static void write_all(int positional, const unsigned char *buf, uint64_t len,
		      uint64_t off)
{
	uint64_t done = 0;

	if (!positional)
		do_lseek(off);
	while (done < len) {
		ssize_t r = positional ? pwrite(fd, buf + done, len - done,
						(off_t)(off + done))
				       : write(fd, buf + done, len - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			fail("%s(off=0x%" PRIx64 ", len=0x%" PRIx64 "): %s",
			     positional ? "pwrite" : "write", off + done,
			     len - done, strerror(errno));
		if (r == 0)
			fail("%s(off=0x%" PRIx64 "): returned 0",
			     positional ? "pwrite" : "write", off + done);
		done += (uint64_t)r;
	}
}

/* Read up to len bytes at off until EOF; returns bytes read. */
static uint64_t read_all(int positional, unsigned char *buf, uint64_t len,
			 uint64_t off)
{
	uint64_t done = 0;

	if (!positional)
		do_lseek(off);
	while (done < len) {
		ssize_t r = positional ? pread(fd, buf + done, len - done,
					       (off_t)(off + done))
				       : read(fd, buf + done, len - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			fail("%s(off=0x%" PRIx64 ", len=0x%" PRIx64 "): %s",
			     positional ? "pread" : "read", off + done,
			     len - done, strerror(errno));
		if (r == 0)
			break;
		done += (uint64_t)r;
	}
	return done;
}

/* ---- offsets ------------------------------------------------------------ */

/* A multiple of 64 KiB or 4 MiB in (0, maxlen], or 0 if none exists. */
static uint64_t pick_boundary(void)
{
	uint64_t unit = (maxlen >= B4M && rnd(3) == 0) ? B4M : B64K;
	uint64_t k = maxlen / unit;

	if (k == 0)
		return 0;
	return unit * rnd_range(1, k);
}

/* Small signed delta around a boundary: mostly tiny, sometimes page-ish. */
static int64_t pick_delta(void)
{
	uint64_t span;

	switch (rnd(4)) {
	case 0:
		return 0;
	case 1:
		span = 16;
		break;
	case 2:
		span = 512;
		break;
	default:
		span = 8192;
		break;
	}
	return (int64_t)rnd(2 * span + 1) - (int64_t)span;
}

static uint64_t pick_oplen(uint64_t cap)
{
	cap = min_u64(cap, maxlen);
	/* Mix of tiny, medium and full-range lengths. */
	switch (rnd(4)) {
	case 0:
		return rnd_range(1, min_u64(cap, 64));
	case 1:
		return rnd_range(1, min_u64(cap, 8192));
	default:
		return rnd_range(1, cap);
	}
}

/* ---- ops ---------------------------------------------------------------- */

static void ensure_iobuf(uint64_t len)
{
	if (len <= iobuf_alloc)
		return;
	free(iobuf);
	iobuf = malloc(len);
	if (!iobuf) {
		fprintf(stderr, "fsx: out of memory (%" PRIu64 " bytes)\n",
			len);
		exit(1);
	}
	iobuf_alloc = len;
}

static void apply_write(enum optype type, int positional, uint64_t off,
			uint64_t len)
{
	uint64_t before = msize;

	if (len == 0 || off + len > maxlen) { /* generator bug, not an fs bug */
		fprintf(stderr,
			"fsx: internal error: write 0x%" PRIx64 "+0x%" PRIx64
			" beyond maxlen\n",
			off, len);
		abort();
	}
	ensure_iobuf(len);
	rnd_fill(iobuf, len);
	log_op(type, off, len, before, off + len > msize ? off + len : msize,
	       node);
	write_all(positional, iobuf, len, off);
	memcpy(model + off, iobuf, len);
	if (off + len > msize)
		msize = off + len;
}

static void op_write(enum optype type)
{
	uint64_t len = pick_oplen(maxoplen), off;

	switch (rnd(4)) {
	case 0: /* anywhere up to maxlen */
		off = rnd(maxlen - len + 1);
		break;
	case 1: /* around EOF, possibly extending it a little */
		off = rnd(min_u64(msize + maxoplen, maxlen - len) + 1);
		break;
	default: /* inside (or right at the end of) the current file */
		off = rnd(min_u64(msize, maxlen - len) + 1);
		break;
	}
	apply_write(type, type == OP_PWRITE, off, len);
}

static void op_bigwrite(void)
{
	uint64_t len = rnd_range(min_u64(maxoplen, maxlen),
				 min_u64(BIGWRITE_MAX, maxlen));
	uint64_t off = rnd(maxlen - len + 1);

	apply_write(OP_BIGWRITE, rnd(2), off, len);
}

/*
 * A sequential run, as a backup or copy does it: STREAM_MAX bytes at most
 * in chunks of 1 MiB (sometimes smaller, odd sizes), from 0, from EOF
 * (append), from a stripe boundary or from anywhere.  Now and then a chunk
 * rewrites a piece just written, an fstat checks the size mid-run, an
 * fsync lands in the middle.  Exercises the write-back stream: whole
 * stripes in flight while the next ones are buffered.
 */
#define STREAM_MAX (14 * MIB)
static void op_stream_write(void)
{
	uint64_t off, end, len = rnd_range(1, min_u64(STREAM_MAX, maxlen));
	uint64_t chunk = rnd(3) ? MIB : rnd_range(4 * KIB, MIB + 4 * KIB);

	switch (rnd(4)) {
	case 0:
		off = 0;
		break;
	case 1:
		off = msize;
		break;
	case 2:
		off = (maxlen >= B4M ? rnd(maxlen / B4M + 1) : 0) * B4M;
		break;
	default:
		off = rnd(maxlen);
		break;
	}
	if (off >= maxlen)
		off = 0;
	if (off + len > maxlen)
		len = maxlen - off;
	end = off + len;
	log_op(OP_STREAMW, off, len, msize, end > msize ? end : msize, node);
	ensure_iobuf(chunk);
	for (uint64_t p = off; p < end;) {
		uint64_t n = min_u64(chunk, end - p);

		rnd_fill(iobuf, n);
		write_all(1, iobuf, n, p);
		memcpy(model + p, iobuf, n);
		if (p + n > msize)
			msize = p + n;
		if (rnd(8) == 0 && n > 1) { /* rewrite a piece of it */
			uint64_t q = p + rnd(n), m = rnd_range(1, p + n - q);

			rnd_fill(iobuf, m);
			write_all(1, iobuf, m, q);
			memcpy(model + q, iobuf, m);
		}
		p += n;
		if (rnd(10) == 0) {
			struct stat st;

			if (fstat(fd, &st) < 0)
				fail("fstat: %s", strerror(errno));
			if ((uint64_t)st.st_size != msize)
				fail("STREAMW: size 0x%" PRIx64
				     " mid-run, expected 0x%" PRIx64,
				     (uint64_t)st.st_size, msize);
		}
		if (rnd(16) == 0 && fsync(fd) < 0)
			fail("fsync: %s", strerror(errno));
	}
}

/*
 * Sequential reads to EOF (or a while), 1 MiB or 128 KiB at a time, each
 * compared: exercises the read-ahead (which starts on the third read in a
 * row and only beyond stripe 0).
 */
static void op_stream_read(void)
{
	uint64_t chunk = rnd(2) ? MIB : 128 * KIB;
	uint64_t off = rnd(2) ? 0 : rnd(msize + 1);
	uint64_t stop = rnd(3) ? UINT64_MAX : off + rnd(STREAM_MAX);

	log_op(OP_STREAMR, off, msize - off, msize, msize, node);
	ensure_iobuf(chunk);
	for (;;) {
		uint64_t got = read_all(1, iobuf, chunk, off);
		uint64_t expect =
			off >= msize ? 0 : min_u64(chunk, msize - off);

		if (got != expect) {
			check_bytes("STREAMR", off, iobuf, model + off,
				    min_u64(got, expect));
			fail("STREAMR at 0x%" PRIx64 ": got 0x%" PRIx64
			     " bytes, expected 0x%" PRIx64,
			     off, got, expect);
		}
		check_bytes("STREAMR", off, iobuf, model + off, got);
		if (got < chunk || off + got >= stop)
			break;
		off += got;
	}
}

static void op_boundary_write(void)
{
	uint64_t b = pick_boundary();
	int64_t d = pick_delta();
	uint64_t off, len;

	if (b == 0) { /* maxlen < 64 KiB: no boundary to straddle */
		op_write(OP_WRITE);
		return;
	}
	/* Mostly start just before b (straddle); else at or just after it. */
	if (d > 0 && rnd(3) != 0)
		d = -d;
	if (d < 0 && (uint64_t)(-d) > b)
		d = -(int64_t)b;
	off = (uint64_t)((int64_t)b + d);
	if (off >= maxlen)
		off = maxlen - 1;
	len = pick_oplen(maxoplen);
	/* Make sure the write straddles b when it starts before it. */
	if (off < b && off + len <= b)
		len = b - off + rnd_range(1, 64);
	if (off + len > maxlen)
		len = maxlen - off;
	apply_write(OP_BOUNDARY, rnd(2), off, len);
}

static void op_hole(void)
{
	uint64_t len, room, off;

	if (maxlen < 4) { /* too small for a gap */
		op_write(OP_WRITE);
		return;
	}
	len = pick_oplen(maxoplen);
	if (msize + 2 > maxlen || (msize > maxlen / 2 && rnd(2) == 0)) {
		/* Little room after EOF: shrink first (logged separately). */
		uint64_t before = msize, to = rnd(msize / 2 + 1);

		log_op(OP_TRUNCATE, 0, 0, before, to, node);
		if (ftruncate(fd, (off_t)to) < 0)
			fail("ftruncate(0x%" PRIx64 "): %s", to,
			     strerror(errno));
		memset(model + to, 0, msize - to);
		msize = to;
	}
	/* Leave at least half the remaining space for the gap. */
	if (len > (maxlen - msize) / 2)
		len = rnd_range(1, (maxlen - msize) / 2);
	/* Gap of at least 1 byte, biased to be large (far beyond EOF). */
	room = maxlen - len - msize; /* max gap */
	off = msize + rnd_range(room > 1 ? (room + 1) / 2 : 1, room);
	apply_write(OP_HOLE, rnd(2), off, len);
}

static void op_truncate(void)
{
	uint64_t before = msize, to;

	if (rnd(4) == 0 && maxlen >= B64K) {
		int64_t d = pick_delta();
		uint64_t b = pick_boundary();

		if (d < 0 && (uint64_t)(-d) > b)
			d = -(int64_t)b;
		to = min_u64((uint64_t)((int64_t)b + d), maxlen);
	} else if (rnd(2) == 0) {
		to = rnd(msize + 1); /* shrink (or same) */
	} else {
		to = rnd_range(msize, maxlen); /* grow (or same) */
	}

	log_op(OP_TRUNCATE, 0, 0, before, to, node);
	if (ftruncate(fd, (off_t)to) < 0)
		fail("ftruncate(0x%" PRIx64 "): %s", to, strerror(errno));
	/* Keep the invariant: model bytes beyond msize are zero. */
	if (to < msize)
		memset(model + to, 0, msize - to);
	msize = to;
}

static void op_read(enum optype type)
{
	uint64_t len = pick_oplen(maxoplen), off, got, expect;

	switch (rnd(8)) {
	case 0: { /* around a boundary */
		uint64_t b = pick_boundary();
		int64_t d = pick_delta();

		if (d < 0 && (uint64_t)(-d) > b)
			d = -(int64_t)b;
		off = min_u64((uint64_t)((int64_t)b + d), maxlen);
		break;
	}
	case 1: /* anywhere, possibly at/after EOF */
		off = rnd(maxlen + 1);
		break;
	default: /* inside the file */
		off = rnd(msize + 1);
		break;
	}
	log_op(type, off, len, msize, msize, node);
	ensure_iobuf(len);
	got = read_all(type == OP_PREAD, iobuf, len, off);
	expect = off >= msize ? 0 : min_u64(len, msize - off);
	if (got != expect) {
		if (got > expect)
			fail("%s at 0x%" PRIx64 " len 0x%" PRIx64
			     ": got 0x%" PRIx64 " bytes, expected 0x%" PRIx64
			     " (file longer than model size 0x%" PRIx64 ")",
			     op_names[type], off, len, got, expect, msize);
		/* Short read: compare what we got, then report the shortfall. */
		check_bytes(op_names[type], off, iobuf, model + off, got);
		fail("%s at 0x%" PRIx64 " len 0x%" PRIx64
		     ": short read, got 0x%" PRIx64
		     " bytes, expected 0x%" PRIx64
		     " (first missing offset 0x%" PRIx64
		     ", model size 0x%" PRIx64 ")",
		     op_names[type], off, len, got, expect, off + got, msize);
	}
	check_bytes(op_names[type], off, iobuf, model + off, got);
}

static sigjmp_buf bus_jmp;
static volatile sig_atomic_t bus_armed;

static void bus_handler(int sig)
{
	(void)sig;
	if (bus_armed)
		siglongjmp(bus_jmp, 1);
	signal(SIGBUS, SIG_DFL);
	raise(SIGBUS);
}

static void op_mmap(void)
{
	uint64_t off, len, moff, mlen, cmp_end;
	unsigned char *volatile map;
	int tail;

	if (msize == 0) {
		log_op(OP_MMAP, 0, 0, msize, msize, node);
		return;
	}
	off = rnd(msize);
	len = rnd_range(1, min_u64(pick_oplen(maxoplen), msize - off));
	/* Sometimes run to EOF and check the zeroed tail of the last page. */
	tail = rnd(4) == 0;
	if (tail)
		len = msize - off;
	moff = off & ~(pagesize - 1);
	cmp_end = off + len;
	if (tail && msize % pagesize)
		cmp_end = (msize + pagesize - 1) & ~(pagesize - 1);
	mlen = cmp_end - moff;

	log_op(OP_MMAP, off, cmp_end - off, msize, msize, node);
	map = mmap(NULL, mlen, PROT_READ, MAP_SHARED, fd, (off_t)moff);
	if (map == MAP_FAILED)
		fail("mmap(off=0x%" PRIx64 ", len=0x%" PRIx64 "): %s%s", moff,
		     mlen, strerror(errno),
		     errno == ENODEV ? " (use -M to skip mmap checks)" : "");
	if (sigsetjmp(bus_jmp, 1)) {
		bus_armed = 0;
		fail("SIGBUS reading mmap of 0x%" PRIx64 "..0x%" PRIx64
		     " (model size 0x%" PRIx64 "; file shorter than expected?)",
		     off, cmp_end, msize);
	}
	bus_armed = 1;
	ensure_iobuf(cmp_end - off);
	memcpy(iobuf, map + (off - moff), cmp_end - off);
	bus_armed = 0;
	if (munmap(map, mlen) < 0)
		fail("munmap: %s", strerror(errno));
	check_bytes("MMAPREAD", off, iobuf, model + off, cmp_end - off);
}

static void op_fstat(void)
{
	struct stat st;

	log_op(OP_FSTAT, 0, 0, msize, msize, node);
	if (fstat(fd, &st) < 0)
		fail("fstat: %s", strerror(errno));
	if ((uint64_t)st.st_size != msize)
		fail("FSTAT size mismatch: expected 0x%" PRIx64 " (%" PRIu64
		     "), got 0x%" PRIx64 " (%" PRIu64 ")",
		     msize, msize, (uint64_t)st.st_size, (uint64_t)st.st_size);
}

static void op_fsync(void)
{
	log_op(OP_FSYNC, 0, 0, msize, msize, node);
	if (fsync(fd) < 0)
		fail("fsync: %s", strerror(errno));
}

static void op_switch(void)
{
	int n = paths[0] == paths[1] ? 0 : (int)rnd(2);

	log_op(OP_SWITCH, 0, 0, msize, msize, n);
	close_fd();
	open_node(n, 0);
}

static void op_verify(void)
{
	uint64_t got;
	unsigned char probe;

	log_op(OP_VERIFY, 0, msize, msize, msize, node);
	ensure_iobuf(msize ? msize : 1);
	got = read_all(1, iobuf, msize, 0);
	if (got < msize) {
		check_bytes("VERIFY", 0, iobuf, model, got);
		fail("VERIFY: file is 0x%" PRIx64 " bytes, expected 0x%" PRIx64,
		     got, msize);
	}
	check_bytes("VERIFY", 0, iobuf, model, msize);
	if (read_all(1, &probe, 1, msize) != 0)
		fail("VERIFY: data found at 0x%" PRIx64
		     " beyond model EOF (file too long)",
		     msize);
}

/* ---- main --------------------------------------------------------------- */

static unsigned weight_of(int t)
{
	if (t == OP_STREAMW || t == OP_STREAMR)
		return stream_weight;
	return op_weights[t];
}

static uint64_t parse_num(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *s == '-')
		goto bad;
	switch (*end) {
	case 'k':
	case 'K':
		v *= KIB;
		end++;
		break;
	case 'm':
	case 'M':
		v *= MIB;
		end++;
		break;
	case 'g':
	case 'G':
		v *= 1024 * MIB;
		end++;
		break;
	default:
		break;
	}
	if (*end == '\0')
		return v;
bad:
	fprintf(stderr, "fsx: bad %s: %s\n", what, s);
	exit(2);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: fsx [-S seed] [-N numops] [-l maxlen] [-o maxoplen] "
		"[-s weight] [-q] "
		"[-v] [-M] PATH1 [PATH2]\n"
		"  -S seed     PRNG seed (default: time-based, printed)\n"
		"  -N numops   number of ops (default 2000)\n"
		"  -l maxlen   maximum file size (default 8M; K/M/G suffixes)\n"
		"  -o maxoplen maximum op length (default 256K)\n"
		"  -s weight   weight of the streaming ops: sequential\n"
		"              write and read runs of up to 14 MiB in\n"
		"              1 MiB chunks (default 0; the other ops'\n"
		"              weights add up to 100)\n"
		"  -q          quiet: print only the final OK line\n"
		"  -v          log every op to stdout\n"
		"  -M          skip mmap checks\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int c, have_seed = 0;
	struct sigaction sa;

	while ((c = getopt(argc, argv, "S:N:l:o:s:qvMh")) != -1) {
		switch (c) {
		case 'S':
			seed = parse_num(optarg, "seed");
			have_seed = 1;
			break;
		case 'N':
			numops = parse_num(optarg, "numops");
			break;
		case 'l':
			maxlen = parse_num(optarg, "maxlen");
			break;
		case 'o':
			maxoplen = parse_num(optarg, "maxoplen");
			break;
		case 's':
			stream_weight = (unsigned)parse_num(optarg, "weight");
			break;
		case 'q':
			quiet = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'M':
			no_mmap = 1;
			break;
		default:
			usage();
		}
	}
	if (argc - optind < 1 || argc - optind > 2)
		usage();
	if (maxlen < 1 || maxlen > 16 * 1024 * MIB || maxoplen < 1) {
		fprintf(stderr, "fsx: maxlen must be 1..16G, maxoplen >= 1\n");
		exit(2);
	}
	if (maxoplen > maxlen)
		maxoplen = maxlen;
	paths[0] = argv[optind];
	paths[1] = argc - optind == 2 ? argv[optind + 1] : argv[optind];
	if (!have_seed) {
		struct timeval tv;

		gettimeofday(&tv, NULL);
		seed = ((uint64_t)tv.tv_sec * 1000003u) ^ (uint64_t)tv.tv_usec ^
		       ((uint64_t)getpid() << 16);
		seed %= 1000000000u;
	}
	rng_state = seed;

	pagesize = (uint64_t)sysconf(_SC_PAGESIZE);
	/* Room for the zero tail of the last page past maxlen, for mmap. */
	model_alloc = ((maxlen + pagesize - 1) & ~(pagesize - 1)) + pagesize;
	model = calloc(1, model_alloc);
	if (!model) {
		fprintf(stderr, "fsx: cannot allocate model (%" PRIu64 ")\n",
			model_alloc);
		exit(1);
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = bus_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (!quiet)
		printf("fsx: seed %" PRIu64 ", %" PRIu64 " ops, maxlen %" PRIu64
		       ", maxoplen %" PRIu64 ", node1 %s, node2 %s\n",
		       seed, numops, maxlen, maxoplen, paths[0], paths[1]);

	curop = 0;
	log_op(OP_CREATE, 0, 0, 0, 0, 0);
	open_node(0, O_CREAT | O_TRUNC);
	msize = 0;
	op_fstat();

	uint64_t wsum = 0;

	for (int i = 0; i < OP_NTYPES; i++)
		wsum += weight_of(i);

	for (curop = 1; curop <= numops; curop++) {
		uint64_t r = rnd(wsum);
		enum optype t = 0;

		while (r >= weight_of(t)) {
			r -= weight_of(t);
			t++;
		}
		if (t == OP_MMAP && no_mmap)
			t = OP_PREAD;
		stat_ops[t]++;
		switch (t) {
		case OP_WRITE:
		case OP_PWRITE:
			op_write(t);
			break;
		case OP_READ:
		case OP_PREAD:
			op_read(t);
			break;
		case OP_TRUNCATE:
			op_truncate();
			break;
		case OP_HOLE:
			op_hole();
			break;
		case OP_BOUNDARY:
			op_boundary_write();
			break;
		case OP_MMAP:
			op_mmap();
			break;
		case OP_FSTAT:
			op_fstat();
			break;
		case OP_FSYNC:
			op_fsync();
			break;
		case OP_SWITCH:
			op_switch();
			break;
		case OP_VERIFY:
			op_verify();
			break;
		case OP_BIGWRITE:
			op_bigwrite();
			break;
		case OP_STREAMW:
			op_stream_write();
			break;
		case OP_STREAMR:
			op_stream_read();
			break;
		default:
			break;
		}
		if (verbose)
			print_logent(stdout, &oplog[(opcount - 1) % LOG_SIZE]);
		else if (!quiet && curop % 1000 == 0)
			printf("fsx: %" PRIu64 " ops done, size 0x%" PRIx64
			       "\n",
			       curop, msize);
	}

	/* Final check: whole file through each node, after close-to-open. */
	curop = numops + 1;
	for (int n = 0; n < (paths[0] == paths[1] ? 1 : 2); n++) {
		log_op(OP_SWITCH, 0, 0, msize, msize, n);
		close_fd();
		open_node(n, 0);
		op_fstat();
		op_verify();
	}
	close_fd();

	if (!quiet) {
		printf("fsx: op counts:");
		for (int i = 0; i < OP_NTYPES; i++)
			if (stat_ops[i])
				printf(" %s=%" PRIu64, op_names[i],
				       stat_ops[i]);
		printf("\n");
	}
	printf("fsx: seed %" PRIu64 ": %" PRIu64 " ops OK\n", seed, numops);
	free(model);
	free(iobuf);
	return 0;
}
