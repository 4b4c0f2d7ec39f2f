/*
 * fs.h - the datarootfs core: one filesystem in one RADOS pool namespace.
 *
 * No FUSE types here: the daemon and datarootctl both link this library.
 * All actions return 0 (or a count) on success and -errno on failure; guard
 * failures (-ECANCELED, -ERANGE) are retried inside and never returned.
 *
 * Objects in the namespace (see doc/design.md for the full layout):
 *   sb                 superblock (omap: magic, format, uuid, ...)
 *   inoctr             inode number allocator (xattr "next")
 *   i.<ino>            inode: xattrs "a" (attr) "t" (times) "l" (symlink);
 *                      omap: directory entries (name -> dentry) for
 *                      directories, "b.N" block checksums and "s.N" stripe
 *                      records (layout.h) for files,
 *                      "/x/<name>" user xattrs, "/dead" on a dying dir;
 *                      data: stripe 0 of a regular file
 *   i.<ino>.<n>        stripe n >= 1 of a regular file
 *   r.<node>.<seq>     cross-directory rename intent
 *   renamelock         cls_lock serialising directory moves across parents
 *   inv.<0-7>          watched by every node: changes announced (inval.c)
 *   watchers           omap: instance id -> address of each watching node
 */
#ifndef DRFS_FS_H
#define DRFS_FS_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <pthread.h>
#include <sys/types.h>

#include "codec.h"
#include "layout.h"

/*
 * Format versions: 1, one checksum per 64 KiB block; 2, one per 4 KiB
 * piece (codec.h).  This datarootfs reads both; the first mount raises a
 * format-1 filesystem to 2 (drfs_format_upgrade).
 */
#define DRFS_FORMAT 2
#define DRFS_MAGIC "datarootfs"
#define DRFS_DEFAULT_POOL "datarootfs"
#define DRFS_DEFAULT_FS "dataroot"

struct drfs_conn_opts {
	const char *conf; /* ceph.conf path, NULL: librados default search */
	const char *id; /* cephx client id without "client.", default admin */
	const char *keyring; /* NULL: from ceph.conf */
	const char *mon_host; /* NULL: from ceph.conf */
	const char *pool;
	const char *fsname; /* RADOS namespace */
	int timeout; /* seconds to reach the monitors */
};

/*
 * Areas of a Moodle dataroot: top-level directories with their own policy
 * or at least their own statistics.  Their names are chosen at mkfs time
 * (stored in the superblock) and can be overridden by mount options.
 */
enum drfs_area {
	DRFS_AREA_OTHER, /* the root and anything not listed */
	DRFS_AREA_FILEDIR,
	DRFS_AREA_TRASHDIR,
	DRFS_AREA_LOCALCACHE,
	DRFS_AREA_CACHE,
	DRFS_AREA_TEMP,
	DRFS_AREA_LOCK,
	DRFS_AREA_SESSIONS,
	DRFS_AREA_MUC,
	DRFS_AREA__N
};
/* "other", "filedir", ...: the kind of each area, also its default name */
extern const char *const drfs_area_kinds[DRFS_AREA__N];

struct drfs_sb {
	char uuid[37];
	uint32_t format;
	int64_t created_ns;
	uint64_t lc_epoch; /* localcache purge epoch */
	uint64_t rc_epoch; /* filedir read cache purge epoch */
	char area[DRFS_AREA__N][64]; /* directory name of each area */
};

enum drfs_stat {
	DRFS_ST_RADOS_READ,
	DRFS_ST_RADOS_WRITE,
	DRFS_ST_RADOS_RETRY,
	DRFS_ST_CSUM_ERR,
	DRFS_ST_BYTES_READ,
	DRFS_ST_BYTES_WRITTEN,
	DRFS_ST_WB_BG, /* scattered writes flushed in the background */
	DRFS_ST_LOCK_OPS,
	DRFS_ST_LOCK_CONFLICTS,
	DRFS_ST_LOCKS_BROKEN,
	DRFS_ST_LOCK_LOCAL, /* lock requests granted under a delegation */
	DRFS_ST_LOCK_RECALLS, /* delegations this node asked another to give back */
	DRFS_ST_LOCK_DELEGS, /* delegations this node took */
	DRFS_ST_LOCK_HINTS, /* lock states taken from another node's notify */
	DRFS_ST_LOCK_PARKED, /* blocked requests parked in a lock object */
	DRFS_ST_LOCK_HANDED, /* parked requests granted by this node's ops */
	DRFS_ST_LOCK_READS, /* lock objects read (state not known from
			     * this node's writes or notifies) */
	DRFS_ST_LC_BREACH, /* 3 counters: rewrite, truncate, rename over */
	DRFS_ST_LC_BREACH_TRUNCATE,
	DRFS_ST_LC_BREACH_RENAME,
	DRFS_ST_CAS_DEDUP, /* pool uploads turned into links to stored content */
	DRFS_ST_CAS_HASH_WRITTEN, /* renames into filedir checked with the
				   * SHA-1 of the writes (no re-read) */
	DRFS_ST_CAS_HASH_REREAD, /* ... checked by reading the file back */
	DRFS_ST_RC_HIT, /* filedir read cache: opens served locally */
	DRFS_ST_RC_MISS,
	DRFS_ST_RC_FILL,
	DRFS_ST_RC_EVICT,
	DRFS_ST_RC_CORRUPT, /* cached files that failed their SHA-1 */
	DRFS_ST_RC_BYTES, /* bytes served from the read cache */
	DRFS_ST_MDC_HIT, /* metadata cache (mdcache.h): lookups answered */
	DRFS_ST_MDC_MISS, /* ... and read from RADOS */
	DRFS_ST_INV_SENT, /* invalidation notifies sent (inval.c) */
	DRFS_ST_INV_RECV, /* ... received from other nodes */
	DRFS_ST_INV_FENCED, /* nodes fenced for not acknowledging one */
	DRFS_ST_INV_LOST, /* times this node stopped trusting its cache */
	DRFS_ST_INV_P99_US, /* gauge: p99 of the acknowledgement wait */
	DRFS_ST_AREA_OPS, /* DRFS_AREA__N counters each: requests, */
	DRFS_ST_AREA_RBYTES = DRFS_ST_AREA_OPS + DRFS_AREA__N, /* bytes read */
	DRFS_ST_AREA_WBYTES = DRFS_ST_AREA_RBYTES + DRFS_AREA__N, /* written */
	DRFS_ST__COUNT = DRFS_ST_AREA_WBYTES + DRFS_AREA__N,
};

/*
 * The connection (conn, node, addr) is replaced when this node was
 * fenced (drfs_rejoin_locked): a blocklisted client instance can never be
 * un-blocklisted, a new one gets a new address.  conn_lock guards it:
 * every thread that uses the connection (FUSE requests, lease thread, lock
 * waker) holds it for reading for one whole request, and never takes it
 * twice; the rejoin holds it for writing, so a request never mixes the
 * old client and the new one.  The lock prefers readers (glibc's default):
 * a reader never waits for a writer that merely waits, so a request may
 * block on the kernel (cache invalidation) while holding it.
 */
struct drfs_conn; /* backend.h: the client instance and its ioctx */

struct drfs_fs {
	struct drfs_conn *conn; /* protected by conn_lock */
	char *pool;
	char *fsname;
	char node[37]; /* this client's session UUID; conn_lock */
	pthread_rwlock_t conn_lock;
	uint64_t conn_gen; /* conn_lock: +1 per new connection */
	struct drfs_conn_opts copts; /* our copy, to connect again */
	struct drfs_sb sb;
	pthread_mutex_t ino_lock;
	uint64_t ino_next; /* protected by ino_lock */
	uint64_t ino_end; /* protected by ino_lock */
	uint64_t intent_seq; /* atomic */
	uint64_t stats[DRFS_ST__COUNT]; /* atomic */
	/* node session (lock.c) */
	char addr[128]; /* our client address, for fencing; conn_lock */
	bool fenced; /* atomic: we were blocklisted or lost our session */
	int64_t fenced_ns; /* atomic: when we noticed */
	bool session_up;
	pthread_t session_thread;
	pthread_mutex_t session_lock;
	pthread_cond_t session_cond;
	bool session_stop; /* protected by session_lock */
	/* called by the lease thread when fenced (see drfs_session_on_fenced);
	 * protected by session_lock */
	void (*on_fenced)(void *ctx);
	void *on_fenced_ctx;
	bool rejoining; /* protected by session_lock: on_fenced running */
	char session_val[256]; /* our current "sessions" value, for CAS */
	size_t session_vlen;
	/* atomic, CLOCK_MONOTONIC ns: our lease renewals have succeeded
	 * without a gap since lease_ok_since; the last one at lease_ok_last */
	int64_t lease_ok_since, lease_ok_last;
	/* atomic, CLOCK_MONOTONIC ns: until when no other node can judge our
	 * lease over, counted from the sending of the last renewal that
	 * landed, minus the allowed clock skew and a margin (lock.c: local
	 * grants under a delegation stop there) */
	int64_t lease_local_until;
	/* (0: no local grants: no renewal yet, or off after a late one)
	 * session thread (and start/rejoin): the bound the last renewal
	 * gave, and until when local grants stay off after a renewal that
	 * landed past the bound before it (CLOCK_MONOTONIC ns) */
	int64_t lease_bound, lease_local_off;
	pthread_t reaper_thread; /* frees orphans (orphan.c), off the lease */
	/* coherent metadata cache (daemon only; NULL in datarootctl) */
	struct drfs_mdc *mdc; /* mdcache.h */
	struct drfs_inval *inv; /* inval.c */
	struct drfs_lkcache *lkcache; /* lock.c: lock objects known here */
};

/* ---- connection (backend.c), superblock (store.c) ---- */

/* Connect and open the pool; @err gets one line for the user on failure. */
int drfs_connect(const struct drfs_conn_opts *o, struct drfs_fs **out,
		 char *err, size_t errlen);
void drfs_disconnect(struct drfs_fs *fs);

/* Hold the connection for one request (see struct drfs_fs), or replace it. */
void drfs_conn_rdlock(struct drfs_fs *fs);
void drfs_conn_wrlock(struct drfs_fs *fs);
void drfs_conn_unlock(struct drfs_fs *fs);

/*
 * We were fenced: from now on every RADOS op fails with -EIO without being
 * sent, until drfs_rejoin_locked() succeeds.  Logs once; wakes the lease
 * thread, which calls the on_fenced hook.  @why: how we found out.
 */
void drfs_set_fenced(struct drfs_fs *fs, const char *why);
bool drfs_is_fenced(struct drfs_fs *fs);
/*
 * Map a RADOS result as the backend does: EDQUOT is ENOSPC; ESHUTDOWN (the
 * OSDs refuse us as blocklisted) marks us fenced and is EIO.  The daemon
 * passes every error through it before replying, so a raw librados result
 * that slipped through fs/ never reaches an application as ESHUTDOWN.
 */
int drfs_ret(struct drfs_fs *fs, int ret);

struct drfs_mkfs_opts {
	bool force;
	uint32_t root_mode;
	const char *area[DRFS_AREA__N]; /* NULL: the default name */
};

/* Make a filesystem in fs->fsname (the namespace): superblock, root,
 * area directories.  -EEXIST (with @err) if one is there and !@o->force;
 * with force the namespace is wiped first.  Loads fs->sb. */
int drfs_mkfs(struct drfs_fs *fs, const struct drfs_mkfs_opts *o, char *err,
	      size_t errlen);
/* Read and check the superblock into fs->sb. */
int drfs_sb_load(struct drfs_fs *fs, char *err, size_t errlen);
/*
 * Before a daemon serves: raise a format-1 filesystem to DRFS_FORMAT, as
 * it is about to store records a daemon of format 1 cannot read.  Refused
 * (-EBUSY, with @err) while another node runs such a daemon.  Tools that
 * only read (fsck, status) leave the format as it is.
 */
int drfs_format_upgrade(struct drfs_fs *fs, char *err, size_t errlen);

/*
 * Purge every node's localcache: bump the superblock's purge epoch and
 * notify; returns once every watching node switched (or timed out).
 */
int drfs_lc_purge(struct drfs_fs *fs, uint64_t *epoch, size_t *acked,
		  size_t *timedout);
/* The same for the filedir read caches of every node ("rc" epoch). */
int drfs_rc_purge(struct drfs_fs *fs, uint64_t *epoch, size_t *acked,
		  size_t *timedout);

/* A new inode number, unique cluster-wide (ranges reserved from the
 * "inoctr" object with a guarded op; thread-safe). */
int drfs_ino_alloc(struct drfs_fs *fs, uint64_t *ino);
/* CLOCK_REALTIME in ns: what timestamps in attributes are. */
int64_t drfs_now_ns(void);

/* Add @n to counter @s (atomic, any thread, no lock). */
void drfs_stat_add(struct drfs_fs *fs, enum drfs_stat s, uint64_t n);
/* Name of counter @i ("rados_reads", "ops_filedir", ...) into @buf. */
const char *drfs_stat_name(int i, char *buf, size_t size);

/* ---- watches and cluster commands (backend.c) ---- */

/*
 * A watch on one object: its notifies call @cb in a librados thread,
 * which must acknowledge each with drfs_notify_ack() (the notifier waits
 * for that).  The caller owns the struct and keeps it (and @ctx) alive
 * until drfs_watch_flush() after drfs_unwatch(): librados may still run a
 * callback of an undone watch until then.  Its fields are backend.c's.
 */
struct drfs_watch;
struct drfs_notify_in {
	struct drfs_watch *w;
	uint64_t id, handle; /* what drfs_notify_ack() answers */
	uint64_t notifier; /* instance id of the sender */
	const void *data;
	size_t len;
};
typedef void (*drfs_watch_fn)(void *ctx, const struct drfs_notify_in *n);
typedef void (*drfs_watch_err_fn)(void *ctx, int err);
struct drfs_watch {
	void *io; /* the ioctx it was made on (not fs's after a rejoin) */
	uint64_t cookie; /* 0: not armed */
	uint64_t gen; /* fs->conn_gen it was made with */
	drfs_watch_fn cb;
	drfs_watch_err_fn err;
	void *ctx;
	char oid[DRFS_OID_MAX];
};

/*
 * Arm @w on @oid (@timeout_s: the OSDs drop the watch unheard that long;
 * 0: their default).  -EIO when fenced; on failure @w is not armed.
 */
int drfs_watch(struct drfs_fs *fs, struct drfs_watch *w, const char *oid,
	       unsigned timeout_s, drfs_watch_fn cb, drfs_watch_err_fn err,
	       void *ctx);
bool drfs_watch_armed(const struct drfs_watch *w);
/* Was @w armed on the current connection (not undone by a rejoin)? */
bool drfs_watch_current(struct drfs_fs *fs, const struct drfs_watch *w);
/* ms since the OSDs last confirmed @w, or -errno (the watch is broken). */
int drfs_watch_check(struct drfs_watch *w);
/* Undo @w (if armed) on the client it was made on. */
void drfs_unwatch(struct drfs_watch *w);
/* Forget @w without undoing it: its client is gone (a rejoin). */
void drfs_watch_forget(struct drfs_watch *w);
void drfs_notify_ack(const struct drfs_notify_in *n);
/* Wait for every callback of undone watches to finish. */
void drfs_watch_flush(struct drfs_fs *fs);

/*
 * A monitor command (JSON, as `ceph` sends it): 0 and its output in *@out
 * (malloc'd, NUL-terminated; free()), or -errno.
 */
int drfs_mon_command(struct drfs_fs *fs, const char *cmd, char **out);

/* ---- coherence between nodes (inval.c, mdcache.c) ---- */

#define DRFS_INV_SHARDS 8 /* objects "inv.<k>" every mounted node watches */
#define DRFS_INV_TIMEOUT_MS 5000 /* default: ack wait before fencing */

/*
 * What a node does when another node changed inodes (their attributes,
 * data or, for directories, entries): called from a librados thread after
 * the node's metadata cache dropped them and before the change is
 * acknowledged.  Must not wait for anything a request of this node may
 * hold while it waits for acknowledgements (kernel inode locks, the
 * daemon's table): see inval.c.  @lost: this node may have missed
 * invalidations (watch lost or unconfirmed); drop every cache now.
 */
struct drfs_inval_hooks {
	void (*changed)(void *ctx, const uint64_t *inos, size_t n);
	void (*lost)(void *ctx);
};

/*
 * Watch the invalidation objects and keep fs->mdc, the node's metadata
 * cache, coherent (it is created here).  @timeout_ms: how long a writer
 * waits for other nodes' acknowledgements before fencing them.  The cache
 * is on only while drfs_inval_trusted().  Stop with drfs_inval_stop()
 * (before drfs_disconnect).  drfs_inval_detach(): conn_lock held for
 * writing, before a rejoin replaces the client; the health thread re-arms
 * the watches on the new one.
 */
int drfs_inval_start(struct drfs_fs *fs, const struct drfs_inval_hooks *hooks,
		     void *ctx, int timeout_ms);
void drfs_inval_stop(struct drfs_fs *fs);
void drfs_inval_detach(struct drfs_fs *fs);
/* May this node answer from caches now (its watches are confirmed)? */
bool drfs_inval_trusted(struct drfs_fs *fs);

/*
 * Announce that inode @ino changed (drfs_wop does it for every write to
 * an inode object): drops it from this node's cache at once; the notify
 * goes out now, or at the outermost drfs_inval_end() of this thread when
 * inside drfs_inval_begin()/_end() (one notify for a whole operation).
 * Returns 0 once every other node acknowledged or was fenced, -EIO if
 * that cannot be made sure (the change itself is made).
 */
int drfs_inval_note(struct drfs_fs *fs, uint64_t ino);
int drfs_inval_note_oid(struct drfs_fs *fs, const char *oid);
void drfs_inval_begin(struct drfs_fs *fs);
int drfs_inval_end(struct drfs_fs *fs);
/* p99 of the acknowledgement wait, in microseconds (0: none yet). */
uint64_t drfs_inval_wait_p99_us(struct drfs_fs *fs);

/* ---- namespace (ns.c) ----
 *
 * Contract of every call below (and of data.c's, filedir.c's): the
 * caller holds the connection for reading (drfs_conn_rdlock) for the
 * whole call; nothing else needs to be held, and no call takes a lock
 * of the caller's.  Results are 0 (or a count) or -errno as the
 * syscall would return it; -EIO also means "fenced" (drfs_is_fenced).
 * A call that changes inodes has made every other mounted node drop
 * what it cached of them before it returns (inval.c), so the next call
 * anywhere sees the change.
 */

struct drfs_setattr {
	unsigned valid; /* DRFS_SA_* */
	uint32_t mode, uid, gid;
	uint64_t size;
	int64_t atime_ns, mtime_ns;
};
#define DRFS_SA_MODE 0x01
#define DRFS_SA_UID 0x02
#define DRFS_SA_GID 0x04
#define DRFS_SA_SIZE 0x08
#define DRFS_SA_ATIME 0x10
#define DRFS_SA_MTIME 0x20
#define DRFS_SA_ATIME_NOW 0x40
#define DRFS_SA_MTIME_NOW 0x80
#define DRFS_SA_CTIME 0x100 /* only bump ctime */

/* Attributes of @ino (from the metadata cache when it may answer).
 * -ENOENT: no such inode (freed). */
int drfs_getattr(struct drfs_fs *fs, uint64_t ino, struct drfs_attr *a);
/* The inode entry @name of directory @parent names, with its attributes.
 * -ENOENT: no such name; -ENAMETOOLONG; -EIO: the entry names a missing
 * inode (fsck). */
int drfs_lookup(struct drfs_fs *fs, uint64_t parent, const char *name,
		struct drfs_attr *a);
/* Change what @sa->valid says; the result in @out (may be NULL).  A size
 * below the current one cuts the data and sets the size in one guarded
 * op (data.c).  -EPERM: sealed pool content; -EISDIR/-EINVAL: a size
 * for a non-regular file. */
int drfs_setattr(struct drfs_fs *fs, uint64_t ino,
		 const struct drfs_setattr *sa, struct drfs_attr *out);

/* Create a regular file, FIFO, socket, device, directory or symlink
 * (@target for S_IFLNK).  @excl: fail with EEXIST if the name exists
 * (always the case for non-regular files); otherwise an existing regular
 * file is returned in @out with *created = false. */
int drfs_create(struct drfs_fs *fs, uint64_t parent, const char *name,
		uint32_t mode, uint64_t rdev, uint32_t uid, uint32_t gid,
		const char *target, bool excl, struct drfs_attr *out,
		bool *created);

/* Remove a name.  @gone_ino/@gone_nlink tell what the name pointed to and
 * how many links remain (0: the caller frees it when no longer open). */
int drfs_unlink(struct drfs_fs *fs, uint64_t parent, const char *name,
		uint64_t *gone_ino, uint32_t *gone_nlink);
/* Remove an empty directory: marked dead first (no entry can be added
 * any more), then unlinked.  -ENOTEMPTY, -ENOTDIR, -ENOENT. */
int drfs_rmdir(struct drfs_fs *fs, uint64_t parent, const char *name);
/* rename(2)/renameat2(2) (@flags: RENAME_NOREPLACE, RENAME_EXCHANGE):
 * atomic within a directory; across directories crash-safe through an
 * intent (rename.c).  @gone_ino/@gone_nlink: the inode a rename over an
 * existing name unlinked (0: none), as drfs_unlink. */
int drfs_rename(struct drfs_fs *fs, uint64_t sp, const char *sname, uint64_t dp,
		const char *dname, unsigned flags, uint64_t *gone_ino,
		uint32_t *gone_nlink);
/* A new name @parent/@name for @ino (not a directory: -EPERM); its
 * attributes after, in @out.  -EEXIST, -EMLINK. */
int drfs_link(struct drfs_fs *fs, uint64_t ino, uint64_t parent,
	      const char *name, struct drfs_attr *out);
/* The target of symlink @ino into @buf (NUL-terminated, truncated to
 * @size); returns its length.  -EINVAL: not a symlink. */
int drfs_readlink(struct drfs_fs *fs, uint64_t ino, char *buf, size_t size);

/* List entries after @after (NULL: from the start) in name order; calls
 * @cb until it returns non-zero or @max entries were listed.  *more is set
 * when entries remain.  Returns number listed or -errno. */
typedef int (*drfs_dir_cb)(void *ctx, const char *name, uint64_t ino,
			   uint8_t type);
int drfs_readdir(struct drfs_fs *fs, uint64_t dir, const char *after,
		 unsigned max, drfs_dir_cb cb, void *ctx, bool *more);

/* setxattr(2): @flags XATTR_CREATE / XATTR_REPLACE (-EEXIST / -ENODATA);
 * -E2BIG above 64 KiB, -ERANGE for a name over 255 bytes. */
int drfs_setxattr(struct drfs_fs *fs, uint64_t ino, const char *name,
		  const void *val, size_t len, int flags);
/* Returns value length; copies when @size >= length; -ERANGE if smaller. */
int drfs_getxattr(struct drfs_fs *fs, uint64_t ino, const char *name, void *buf,
		  size_t size);
/* NUL-separated names like listxattr(2). */
int drfs_listxattr(struct drfs_fs *fs, uint64_t ino, char *buf, size_t size);
int drfs_removexattr(struct drfs_fs *fs, uint64_t ino, const char *name);

/*
 * An inode lost its last link: record it; it is freed DRFS_ORPHAN_GRACE
 * seconds later (other nodes may still have it open) by the reaper.
 */
#define DRFS_ORPHAN_GRACE 60
int drfs_orphan_add(struct drfs_fs *fs, uint64_t ino);
/* Free recorded orphans older than @grace_s; returns count freed. */
int drfs_orphans_reap(struct drfs_fs *fs, int grace_s);

/* Free an inode whose link count is 0: its stripes, then the object. */
int drfs_inode_free(struct drfs_fs *fs, uint64_t ino);

/* Space of the cluster as the pool sees it (raw over 3 replicas: total
 * and free) and the objects in the pool. */
int drfs_statfs(struct drfs_fs *fs, uint64_t *total_bytes, uint64_t *free_bytes,
		uint64_t *objects);

/* Roll stale rename intents forward or back.  @min_age_s: only intents at
 * least that old (their owner is assumed dead).  Returns count handled. */
int drfs_intents_recover(struct drfs_fs *fs, int min_age_s);

/* ---- purge (purge.c) ---- */

struct drfs_purge_opts {
	int64_t older_than_ns; /* 0: everything */
	int64_t cutoff_ns; /* now - older_than_ns */
	bool remove_dirs; /* also rmdir directories that became empty */
	bool dry_run;
};

struct drfs_purge_result {
	uint64_t files, dirs, bytes;
};

/* Remove the contents of directory @dir (recursively); @dir itself stays. */
int drfs_purge_tree(struct drfs_fs *fs, uint64_t dir,
		    const struct drfs_purge_opts *o,
		    struct drfs_purge_result *r, int depth);

/* ---- filedir (filedir.c) ---- */

/* Is @name 40 lowercase hex digits (a SHA-1 as Moodle names content)? */
bool drfs_filedir_name(const char *name);
/*
 * The two directory levels pool content @name lives under: @ab = its
 * first two digits, @cd = the next two.  False (and @ab, @cd untouched)
 * if @name is not a filedir name.
 */
bool drfs_filedir_parts(const char *name, char ab[3], char cd[3]);
/*
 * Is entry @name of the directory at path @dpath ("/filedir/ab/cd",
 * from the root, no trailing slash) pool content of area @area (NULL:
 * the area is off): dpath is "/<area>/<name[0:2]>/<name[2:4]>"?
 */
bool drfs_filedir_path(const char *area, const char *dpath, const char *name);
/* 1 if @dir/@name is <root>/@area/ab/cd/abcd..., 0 if not, -errno. */
int drfs_filedir_match(struct drfs_fs *fs, const char *area, uint64_t dir,
		       const char *name);
int drfs_sha1_hex(struct drfs_fs *fs, uint64_t ino, char out[41]);
/*
 * Incremental SHA-1 of bytes fed in order (the daemon hashes a filedir
 * file while it is written, so the rename need not read it back).  new:
 * NULL if out of memory.  hex: the hash of what was fed so far (more may
 * follow).  reset: back to no bytes.
 */
struct drfs_sha1;
struct drfs_sha1 *drfs_sha1_new(void);
void drfs_sha1_update(struct drfs_sha1 *h, const void *p, size_t n);
int drfs_sha1_hex_of(const struct drfs_sha1 *h, char out[41]);
void drfs_sha1_reset(struct drfs_sha1 *h);
void drfs_sha1_free(struct drfs_sha1 *h);
int drfs_set_flags(struct drfs_fs *fs, uint64_t ino, uint32_t flags);
/* Attributes and, for sealed pool content, its SHA-1 ("" if none). */
int drfs_getattr_hash(struct drfs_fs *fs, uint64_t ino, struct drfs_attr *a,
		      char sha[41]);
/*
 * Seal regular file @ino as pool content with SHA-1 @sha: record the hash,
 * flag it immutable (and never freed with @keep: filedir_nodelete).  Only
 * if its size is still @size (what was hashed; UINT64_MAX: any), else
 * -ESTALE and it stays an ordinary file.
 */
int drfs_filedir_seal(struct drfs_fs *fs, uint64_t ino, const char *sha,
		      bool keep, uint64_t size);
/*
 * Store content once: @ino was just renamed to @dir/@sha and sealed.  If
 * the content index already names a live inode with that content, the name
 * is turned into a hard link to it and @ino loses its name: *@dropped is
 * set to @ino (now unlinked: free it like an unlinked inode) and *@kept to
 * the inode the name points to.  Otherwise @ino becomes the indexed copy.
 */
int drfs_cas_adopt(struct drfs_fs *fs, uint64_t dir, const char *sha,
		   uint64_t ino, uint64_t *kept, uint64_t *dropped);
/* Content index entry of @sha: 0 and *@ino, or -ENOENT. */
int drfs_cas_get(struct drfs_fs *fs, const char *sha, uint64_t *ino);
/* Index @ino as the copy of @sha if the index has none (-ECANCELED). */
int drfs_cas_index(struct drfs_fs *fs, const char *sha, uint64_t ino);
/* Remove the index entry of @sha if it still names @ino. */
int drfs_cas_forget(struct drfs_fs *fs, const char *sha, uint64_t ino);

/* ---- file data (data.c) ---- */

/* Read up to @len bytes at @off, clipped at EOF.  Returns bytes read. */
ssize_t drfs_read(struct drfs_fs *fs, uint64_t ino, uint64_t off, size_t len,
		  char *buf);
/* Write @len bytes at @off and set size = max(size, off + len) and
 * mtime = ctime = @mtime_ns; durable when it returns. */
int drfs_write(struct drfs_fs *fs, uint64_t ino, uint64_t off, const char *buf,
	       size_t len, int64_t mtime_ns);
/*
 * Scattered write: @nx extents, sorted by offset and not overlapping, as
 * drfs_write() of each but in one batch - the size raised (to the end of
 * the last) and the times set once, every stripe touched read (only its
 * blocks the extents do not cover whole) and written once, several
 * stripes in flight, one invalidation.  Durable when it returns; on an
 * error some extents may have landed and others not.
 */
struct drfs_wext {
	uint64_t off;
	size_t len;
	const char *buf;
};
int drfs_write_ext(struct drfs_fs *fs, uint64_t ino, const struct drfs_wext *x,
		   unsigned nx, int64_t mtime_ns);
/* Drop every stored byte at or beyond @size (does not change attrs). */
int drfs_trim(struct drfs_fs *fs, uint64_t ino, uint64_t old_size,
	      uint64_t size);

/* drfs_read(), also telling the file size the read saw. */
ssize_t drfs_read_size(struct drfs_fs *fs, uint64_t ino, uint64_t off,
		       size_t len, char *buf, uint64_t *size);

/*
 * Read-ahead of whole stripes >= 1 (aio): drfs_ra_start() submits the read
 * of stripe @stripe (all its blocks and their checksum records);
 * drfs_ra_copy() waits for it, verifies the blocks covering [off, off +
 * len) (which must lie in that stripe) and copies them, clipped at @size
 * (the caller's idea of the file size, e.g. from the read that started
 * the run).  -EAGAIN: the stripe object does not exist (a hole, or lost):
 * read with drfs_read(), which tells them apart.  A mismatch is -EIO.
 * drfs_ra_free() waits for a read still in flight.  One thread at a time.
 */
struct drfs_rahead;
int drfs_ra_start(struct drfs_fs *fs, uint64_t ino, uint64_t stripe,
		  struct drfs_rahead **out);
ssize_t drfs_ra_copy(struct drfs_rahead *ra, uint64_t size, uint64_t off,
		     size_t len, char *buf);
/* The same without the copy: *@p points into @ra (valid until it is
 * freed). */
ssize_t drfs_ra_peek(struct drfs_rahead *ra, uint64_t size, uint64_t off,
		     size_t len, const char **p);
void drfs_ra_free(struct drfs_rahead *ra);

/*
 * Buffers of DRFS_SBUF_SIZE bytes (a stripe and one more write) for
 * streaming, kept mapped for reuse.  drfs_sbuf_get() may return NULL.
 * drfs_sbuf_put() frees any malloc'd @buf; it keeps it if @cap (its size)
 * is large enough.
 */
#define DRFS_SBUF_SIZE (DRFS_STRIPE + (1u << 20))
char *drfs_sbuf_get(void);
void drfs_sbuf_put(char *buf, size_t cap);

/*
 * Streaming write-back: whole stripes >= 1 go to RADOS with aio, up to
 * @depth in flight, while the caller goes on buffering.  One stream per
 * inode, used by one thread at a time (the daemon holds the inode's lock).
 *
 * drfs_ws_put() takes @buf (malloc'd, @cap bytes, the first DRFS_STRIPE of
 * them stripe @stripe; given to drfs_sbuf_put() when done) and returns
 * once it is queued (it waits only for a slot).  A stripe is sent once
 * the size covers it: a stripe beyond the size waits for a size raise,
 * to @end (the end of all buffered data), sent with aio, one at a time,
 * so the raise for the next stripes is in flight while the data of the
 * last ones is; no byte ever lands beyond the stored size.  The raises
 * are announced to the other nodes once, by drfs_ws_sync() (our own
 * cache drops the inode at each).  Stripe records (layout.h) of completed
 * stripes ride along with the next size raise or with drfs_ws_sync().
 * Inode changes by others between our ops are seen by the version guard
 * and re-read.
 *
 * Errors of ops that completed are kept: drfs_ws_take_err() (no wait)
 * and drfs_ws_sync() (waits for everything in flight, records the
 * stripes; durable when it returns 0) hand the first one out and clear
 * it.  drfs_ws_put()'s own return value is for that stripe alone.
 * drfs_ws_free() waits for ops in flight and drops the rest.
 */
struct drfs_wstream;
int drfs_ws_new(struct drfs_fs *fs, uint64_t ino, unsigned depth,
		struct drfs_wstream **out);
int drfs_ws_put(struct drfs_wstream *ws, uint64_t stripe, char *buf, size_t cap,
		uint64_t end, int64_t mtime_ns);
int drfs_ws_sync(struct drfs_wstream *ws, int64_t mtime_ns);
int drfs_ws_take_err(struct drfs_wstream *ws);
/* Stripes queued or in flight, or a size raise in flight. */
bool drfs_ws_busy(struct drfs_wstream *ws);
/* The end of everything handed to the stream since its last sync. */
uint64_t drfs_ws_end(struct drfs_wstream *ws);
void drfs_ws_free(struct drfs_wstream *ws);

#endif
