/*
 * daemon.h - the FUSE side of datarootfs: the state its files share
 * (struct drfsd, the inode table's struct dnode, open handles), types and
 * constants only.
 *
 * The functions of each daemon file are declared in its own header
 * (nodes.h for nodes.c, ...), and the files call each other in layers,
 * never in a cycle (tests/check-daemon-layers.sh), from the bottom:
 *
 *   coherence.c, rcache.c, cas.c   kernel cache coherence, read cache,
 *                                  filedir renames
 *   wb.c                           write-back buffer, read-ahead (one node)
 *   nodes.c                        inode table, open counts
 *   stats.c, reply.c               counters and statistics files; replies
 *   locks.c, local.c               lock requests; the localcache area
 *   ops.c                          request handlers, the lowlevel ops table
 *   rejoin.c                       rejoin after fencing
 *   main.c                         options, connection, mount, loop
 *
 * A file calls only into files below it; where a lower layer must reach
 * up, the upper one hands it a function (drfsd_nodes_each's callback).
 */
#ifndef DRFSD_DAEMON_H
#define DRFSD_DAEMON_H

#include <fuse_lowlevel.h>
#include <pthread.h>

#include "fs.h"
#include "pieces.h"

/*
 * Write-back buffer of one inode (daemon-local, durable on close/fsync).
 * buf holds the contiguous bytes not yet handed on; each whole stripe
 * >= 1 it fills goes to the stream ws (aio, a few in flight) and buf
 * starts over with the rest, so a sequential writer never waits for
 * RADOS unless the stream is full.  Partial stripes and stripe 0 (the
 * inode object) are written synchronously at flush (wb.c wb_stream).
 */
struct wbuf {
	char *buf;
	uint64_t off; /* file offset of buf[0] */
	size_t len, cap;
	int64_t mtime_ns; /* time of the last write() into it */
	int err; /* first flush error, reported at next write/flush/fsync */
	struct drfs_wstream *ws; /* NULL until a stripe is handed on */
	uint64_t gen; /* atomic: +1 for every change of the data through
		       * this node (write, flush, truncate): read-ahead taken
		       * before is dropped */
	/* Writes elsewhere than buf (random I/O), not overlapping buf:
	 * a write into buf's range punches them out.  Written in one
	 * batch at flush (drfs_write_ext), laid over reads meanwhile. */
	struct wpieces x;
	/* Pieces being written by a background flush (x_start), while
	 * writes go on into x: immutable, laid under x in reads.  Set
	 * while xf_busy; xf_cond is signalled when the flush is done. */
	struct wpieces xf;
	bool xf_busy;
	bool xf_cancel; /* rejoin: the old session's flush must not run */
	pthread_cond_t xf_cond;
	/* SHA-1 of the file as written through this node in order from
	 * byte 0 (filedir area only, wb.c): a rename into the pool uses it
	 * instead of reading the file back (cas.c).  sha_len bytes hashed;
	 * valid while sha_ok and the inode's data generation is still
	 * sha_dgen (another node's change voids it) - any other write, a
	 * truncate or a failed write-back voids it too. */
	struct drfs_sha1 *sha;
	bool sha_ok;
	uint64_t sha_len, sha_dgen;
};

/*
 * Read-ahead of one inode (wb.c drfsd_ra_read).  While one handle reads
 * sequentially, the next RA_DEPTH stripes are in flight with aio, and
 * reads inside them are answered from memory.  Valid for the handle that
 * started it and the data generation (wb.gen) it saw: a new open
 * (close-to-open), a write or truncate here drops it; it is never used
 * for an inode this node has taken cluster locks on (a grant must show
 * the last holder's data, and locks.c invalidates only the kernel's
 * cache).  The file size used to clip is the one the run's last
 * synchronous read saw (stripe 0 and every fallback read refresh it).
 */
#define RA_SLOTS 8 /* RA_DEPTH ahead, a few behind (wb.c) */
struct rdahead {
	pthread_mutex_t lock; /* protects all below; taken without node->lock */
	const void *fh; /* struct dfile it reads for */
	uint64_t gen; /* wb.gen when started */
	bool have_size;
	uint64_t size;
	uint64_t hi; /* furthest end read in this run */
	unsigned seq; /* reads in a row near the previous one */
	struct drfs_rahead *slot[RA_SLOTS];
	uint64_t slot_stripe[RA_SLOTS];
};

/*
 * One inode the kernel knows about.  Lock order: table lock, then
 * node->lock.  nlookup, nopen and doomed are protected by the table lock;
 * wb by node->lock.
 */
struct dnode {
	uint64_t ino;
	uint64_t nlookup;
	unsigned nopen;
	bool doomed; /* link count reached 0 while open here */
	bool locked; /* atomic: this node has taken cluster locks on it */
	/* localcache inodes (local.c): an O_PATH fd to the local file */
	bool has_lfd;
	int lfd;
	bool unsealed; /* created here, creating handle not yet released */
	uint8_t area; /* enum drfs_area, for statistics */
	int rcfd1; /* atomic: read cache fd + 1 while open here, 0: none */
	uint64_t dgen_seen; /* data generation at the last open (table lock;
			     * a failed write-back sets UINT64_MAX atomically):
			     * pages kept if still current (coherence.c) */
	pthread_mutex_t lock;
	struct wbuf wb;
	struct rdahead *ra; /* set once (under lock), NULL until a read */
	struct dnode *next; /* hash chain */
};

/*
 * An open shared file (fi->fh).  A rejoin after fencing makes every handle
 * opened before it stale: its operations fail with EIO (as an NFS stale
 * handle) because what it buffered or locked belonged to the old session.
 */
struct dfile {
	struct dnode *n;
	uint64_t gen; /* d->gen at open */
	/* The owner of its flock locks: unique per open and never reused.
	 * (The kernel's lock_owner for flock comes from the struct file's
	 * address, which the next open may get again while the release of
	 * this one, sent after close returns, is still on its way: that
	 * release would drop the new open's lock.) */
	uint64_t flock_owner;
};

enum drfsd_op {
	DRFSD_OP_LOOKUP,
	DRFSD_OP_GETATTR,
	DRFSD_OP_SETATTR,
	DRFSD_OP_CREATE,
	DRFSD_OP_MKDIR,
	DRFSD_OP_UNLINK,
	DRFSD_OP_RMDIR,
	DRFSD_OP_RENAME,
	DRFSD_OP_LINK,
	DRFSD_OP_OPEN,
	DRFSD_OP_READ,
	DRFSD_OP_WRITE,
	DRFSD_OP_READDIR,
	DRFSD_OP_FLUSH,
	DRFSD_OP_FSYNC,
	DRFSD_OP_LOCK,
	DRFSD_OP__N
};

/* Blocked lock requests waiting for a release (locks.c). */
struct lockwait;

/*
 * Lock order: fs->conn_lock (held for reading by every request, see
 * fs.h), then lw->lock or table_lock, then node->lock.
 */
struct drfsd {
	struct drfs_fs *fs;
	struct fuse_session *se;
	uint64_t gen; /* fs->conn_lock: +1 per rejoin; older handles stale */
	uint64_t rejoins; /* atomic: how many times this mount rejoined */
	size_t dropped; /* rejoin.c (lease thread only): dirty files dropped */
	int64_t rejoin_warned_ns; /* rejoin.c (lease thread only) */
	pthread_mutex_t table_lock;
	struct dnode **table;
	size_t nbuckets;
	size_t nnodes;
	size_t wb_max; /* flush the write buffer beyond this */
	unsigned wb_pieces; /* scattered pieces per file before a flush */
	unsigned xf_threads; /* atomic: background flushes not yet gone */
	struct lockwait *lw;
	/* localcache area (local.c) */
	char *lc_name; /* name of the area under the root, NULL: disabled */
	char *lc_path; /* local directory (tmpfs) holding epoch dirs */
	bool lc_strict;
	pthread_rwlock_t lc_lock; /* protects lc_root_fd, lc_epoch */
	int lc_root_fd; /* O_PATH of <lc_path>/<epoch> */
	uint64_t lc_epoch;
	struct drfs_watch lc_watch; /* the superblock (purge epochs) */
	int64_t lc_last_log_ns; /* atomic */
	uint64_t ops[DRFSD_OP__N]; /* atomic */
	const char *area[DRFS_AREA__N]; /* directory name of each area */
	/* filedir: the content-addressed area, NULL: disabled */
	const char *filedir_name;
	bool filedir_reject; /* hash mismatch at rename: refuse (or log) */
	bool filedir_keep; /* filedir_nodelete: content is never freed */
	struct rcache *rc; /* filedir read cache (rcache.c), NULL: none */
	/* coherent metadata cache, kernel side (coherence.c) */
	double md_timeout; /* entry/attr timeout of shared inodes, 0: off */
	bool coh_probed, epoch_ok; /* atomic: FUSE_NOTIFY_INC_EPOCH works */
	uint64_t remote_seq; /* atomic: +1 per change heard from others */
	uint64_t dgen_all; /* atomic: +1 when every page is suspect */
#define DRFSD_DGEN_SLOTS 4096
	uint64_t dgen[DRFSD_DGEN_SLOTS]; /* atomic: data generations */
#define DRFSD_DIRSEEN_WORDS 16384
	uint64_t dir_seen[DRFSD_DIRSEEN_WORDS]; /* atomic: bitmap */
};

/* Inode numbers of the statistics files (stats.c): this bit | 1 or 2. */
#define DRFSD_STATS_BIT (1ull << 61)
static inline bool drfsd_is_stats(uint64_t ino)
{
	return (ino & DRFSD_STATS_BIT) && !(ino & (1ull << 62));
}

/* Inode numbers of localcache inodes: this bit | the local st_ino. */
#define DRFSD_LOCAL_BIT (1ull << 62)
static inline bool drfsd_is_local(uint64_t ino)
{
	return (ino & DRFSD_LOCAL_BIT) != 0;
}

#endif
