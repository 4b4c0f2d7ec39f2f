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
 *                      directories, "b.N" block checksums for files,
 *                      "/x/<name>" user xattrs, "/dead" on a dying dir;
 *                      data: stripe 0 of a regular file
 *   i.<ino>.<n>        stripe n >= 1 of a regular file
 *   r.<node>.<seq>     cross-directory rename intent
 *   renamelock         cls_lock serialising directory moves across parents
 */
#ifndef DRFS_FS_H
#define DRFS_FS_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <pthread.h>
#include <sys/types.h>
#include <rados/librados.h>

#include "codec.h"
#include "layout.h"

#define DRFS_FORMAT 1
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

struct drfs_sb {
	char uuid[37];
	uint32_t format;
	int64_t created_ns;
	uint64_t lc_epoch; /* localcache purge epoch */
};

enum drfs_stat {
	DRFS_ST_RADOS_READ,
	DRFS_ST_RADOS_WRITE,
	DRFS_ST_RADOS_RETRY,
	DRFS_ST_CSUM_ERR,
	DRFS_ST_BYTES_READ,
	DRFS_ST_BYTES_WRITTEN,
	DRFS_ST_LOCK_OPS,
	DRFS_ST_LOCK_CONFLICTS,
	DRFS_ST_LOCKS_BROKEN,
	DRFS_ST_LC_BREACH, /* 3 counters: rewrite, truncate, rename over */
	DRFS_ST_LC_BREACH_TRUNCATE,
	DRFS_ST_LC_BREACH_RENAME,
	DRFS_ST__COUNT,
};

struct drfs_fs {
	rados_t cluster;
	rados_ioctx_t io;
	char *pool;
	char *fsname;
	char node[37]; /* this client's session UUID */
	struct drfs_sb sb;
	pthread_mutex_t ino_lock;
	uint64_t ino_next; /* protected by ino_lock */
	uint64_t ino_end; /* protected by ino_lock */
	uint64_t intent_seq; /* atomic */
	uint64_t stats[DRFS_ST__COUNT]; /* atomic */
	/* node session (lock.c) */
	char addr[128]; /* our client address, for fencing */
	bool fenced; /* atomic: we were blocklisted or lost our session */
	bool session_up;
	pthread_t session_thread;
	pthread_mutex_t session_lock;
	pthread_cond_t session_cond;
	bool session_stop; /* protected by session_lock */
	char session_val[256]; /* our current "sessions" value, for CAS */
	size_t session_vlen;
	/* atomic, CLOCK_MONOTONIC ns: our lease renewals have succeeded
	 * without a gap since lease_ok_since; the last one at lease_ok_last */
	int64_t lease_ok_since, lease_ok_last;
	pthread_t reaper_thread; /* frees orphans (orphan.c), off the lease */
};

/* ---- connection, superblock (store.c) ---- */

/* Connect and open the pool; @err gets one line for the user on failure. */
int drfs_connect(const struct drfs_conn_opts *o, struct drfs_fs **out,
		 char *err, size_t errlen);
void drfs_disconnect(struct drfs_fs *fs);

struct drfs_mkfs_opts {
	bool force;
	uint32_t root_mode;
};

int drfs_mkfs(struct drfs_fs *fs, const struct drfs_mkfs_opts *o, char *err,
	      size_t errlen);
/* Read and check the superblock into fs->sb. */
int drfs_sb_load(struct drfs_fs *fs, char *err, size_t errlen);

/*
 * Purge every node's localcache: bump the superblock's purge epoch and
 * notify; returns once every watching node switched (or timed out).
 */
int drfs_lc_purge(struct drfs_fs *fs, uint64_t *epoch, size_t *acked,
		  size_t *timedout);

int drfs_ino_alloc(struct drfs_fs *fs, uint64_t *ino);
int64_t drfs_now_ns(void);

/* Run ops, counting them.  @ver may be NULL.  flags: LIBRADOS_OPERATION_*. */
int drfs_wop(struct drfs_fs *fs, const char *oid, rados_write_op_t op,
	     int flags);
int drfs_rop(struct drfs_fs *fs, const char *oid, rados_read_op_t op,
	     uint64_t *ver);
void drfs_stat_add(struct drfs_fs *fs, enum drfs_stat s, uint64_t n);

/* ---- namespace (ns.c) ---- */

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

int drfs_getattr(struct drfs_fs *fs, uint64_t ino, struct drfs_attr *a);
int drfs_lookup(struct drfs_fs *fs, uint64_t parent, const char *name,
		struct drfs_attr *a);
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
int drfs_rmdir(struct drfs_fs *fs, uint64_t parent, const char *name);
int drfs_rename(struct drfs_fs *fs, uint64_t sp, const char *sname, uint64_t dp,
		const char *dname, unsigned flags, uint64_t *gone_ino,
		uint32_t *gone_nlink);
int drfs_link(struct drfs_fs *fs, uint64_t ino, uint64_t parent,
	      const char *name, struct drfs_attr *out);
int drfs_readlink(struct drfs_fs *fs, uint64_t ino, char *buf, size_t size);

/* List entries after @after (NULL: from the start) in name order; calls
 * @cb until it returns non-zero or @max entries were listed.  *more is set
 * when entries remain.  Returns number listed or -errno. */
typedef int (*drfs_dir_cb)(void *ctx, const char *name, uint64_t ino,
			   uint8_t type);
int drfs_readdir(struct drfs_fs *fs, uint64_t dir, const char *after,
		 unsigned max, drfs_dir_cb cb, void *ctx, bool *more);

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

/* Is @name 40 lowercase hex digits? */
bool drfs_filedir_name(const char *name);
/* 1 if @dir/@name is <root>/@area/ab/cd/abcd..., 0 if not, -errno. */
int drfs_filedir_match(struct drfs_fs *fs, const char *area, uint64_t dir,
		       const char *name);
int drfs_sha1_hex(struct drfs_fs *fs, uint64_t ino, char out[41]);
int drfs_set_flags(struct drfs_fs *fs, uint64_t ino, uint32_t flags);

/* ---- file data (data.c) ---- */

/* Read up to @len bytes at @off, clipped at EOF.  Returns bytes read. */
ssize_t drfs_read(struct drfs_fs *fs, uint64_t ino, uint64_t off, size_t len,
		  char *buf);
/* Write @len bytes at @off and set size = max(size, off + len) and
 * mtime = ctime = @mtime_ns; durable when it returns. */
int drfs_write(struct drfs_fs *fs, uint64_t ino, uint64_t off, const char *buf,
	       size_t len, int64_t mtime_ns);
/* Drop every stored byte at or beyond @size (does not change attrs). */
int drfs_trim(struct drfs_fs *fs, uint64_t ino, uint64_t old_size,
	      uint64_t size);

#endif
