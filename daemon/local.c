/*
 * local.c - the localcache area: node-local, append-only, purged cluster-wide.
 *
 * "<root>/<lc_name>" is not stored in Ceph: it is served from
 * <lc_path>/<epoch>/ on this node's own filesystem (tmpfs), passthrough
 * style (each inode the kernel knows holds an O_PATH fd).  Inode numbers
 * are DRFSD_LOCAL_BIT | the local st_ino, so they never meet RADOS inode
 * numbers.  Two nodes have different contents here, which is correct.
 *
 * Append-only contract (Moodle: "only add new files"): a file is sealed
 * once the handle that created it is released.  Breaches - opening a
 * sealed file for writing, truncating it, renaming over an existing file -
 * are counted and logged (rate-limited) in compat mode and refused with
 * EPERM in strict mode.  Deleting files and directories is always allowed
 * (Moodle removes old revision directories, and purges).
 *
 * Purge: the superblock holds a purge epoch.  `datarootctl purge
 * --localcache` bumps it and notifies the "sb" object; every node switches
 * to an empty <lc_path>/<new epoch>/ inside the watch callback, before it
 * acknowledges, so when the purge command returns no node serves a
 * pre-purge file.  A node that was down mounts with the current epoch and
 * so starts empty.  Old epoch directories are deleted in the background.
 *
 * Kernel caching: the area is only changed through this daemon, so local
 * entries and attributes are cached by the kernel for a long time and file
 * pages are kept across opens (keep_cache): reads run at page-cache speed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/magic.h>

#include "appendonly.h"
#include "local.h"
#include "log.h"
#include "nodes.h"
#include "rcache.h"

#define LC_TIMEOUT 3600.0

_Static_assert(DRFS_ST_LC_BREACH + DRFS_AO_TRUNCATE ==
			       DRFS_ST_LC_BREACH_TRUNCATE &&
		       DRFS_ST_LC_BREACH + DRFS_AO_RENAME_OVER ==
			       DRFS_ST_LC_BREACH_RENAME,
	       "breach counters in the order of enum drfs_ao_breach");

static struct drfsd *ctx_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/*
 * What the append-only contract says about a request (fs/appendonly.c):
 * a breach is counted and logged (rate-limited); 0 to go ahead, or -EPERM
 * in strict mode.
 */
static int judge(struct drfsd *d, enum drfs_ao_breach kind, const char *what)
{
	if (kind == DRFS_AO_NONE)
		return 0;
	drfs_stat_add(d->fs, (enum drfs_stat)(DRFS_ST_LC_BREACH + kind), 1);
	if (drfs_ao_log_due(&d->lc_last_log_ns, drfs_now_ns()))
		drfs_warn("localcache append-only breach (%s): %s; %s "
			  "(further breaches counted, logged every 10 s)",
			  drfs_ao_breach_name(kind), what,
			  d->lc_strict ? "refused (strict)"
				       : "allowed (compat)");
	return drfs_ao_verdict(d->lc_strict, kind);
}

/* ---- epochs ---- */

static int rm_cb(const char *path, const struct stat *st, int flag,
		 struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/* An epoch directory's name: decimal digits only. */
static bool epoch_name(const char *name)
{
	if (!*name)
		return false;
	for (; *name; name++)
		if (*name < '0' || *name > '9')
			return false;
	return true;
}

/*
 * Remove the other epoch directories of lc_path.  Only epoch-named
 * entries: whatever else a mistaken localcache_path holds stays.
 */
static void *rm_old_epochs(void *arg)
{
	char *keep = arg; /* "<lc_path>/<epoch>" */
	char *slash = strrchr(keep, '/');
	DIR *dp;
	struct dirent *e;

	*slash = 0;
	dp = opendir(keep);
	while (dp && (e = readdir(dp))) {
		char path[4096];

		if (!epoch_name(e->d_name) || !strcmp(e->d_name, slash + 1))
			continue;
		snprintf(path, sizeof(path), "%s/%s", keep, e->d_name);
		nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	}
	if (dp)
		closedir(dp);
	free(keep);
	return NULL;
}

/* Switch to <lc_path>/<epoch> (made empty if new); old ones go away. */
static int lc_switch(struct drfsd *d, uint64_t epoch)
{
	char path[4096];
	pthread_t t;
	int fd;

	snprintf(path, sizeof(path), "%s/%" PRIu64, d->lc_path, epoch);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	fd = open(path, O_PATH | O_DIRECTORY);
	if (fd < 0)
		return -errno;
	pthread_rwlock_wrlock(&d->lc_lock);
	if (d->lc_root_fd >= 0)
		close(d->lc_root_fd);
	d->lc_root_fd = fd;
	d->lc_epoch = epoch;
	pthread_rwlock_unlock(&d->lc_lock);
	if (pthread_create(&t, NULL, rm_old_epochs, strdup(path)) == 0)
		pthread_detach(t);
	return 0;
}

static void sb_watch_cb(void *arg, const struct drfs_notify_in *n)
{
	struct drfsd *d = arg;
	char buf[64];
	uint64_t epoch;

	snprintf(buf, sizeof(buf), "%.*s", (int)(n->len < 63 ? n->len : 63),
		 (const char *)n->data);
	if (d->lc_name && sscanf(buf, "lc %" SCNu64, &epoch) == 1 &&
	    epoch != d->lc_epoch) {
		int ret = lc_switch(d, epoch);

		if (ret < 0)
			drfs_err("localcache purge to epoch %" PRIu64
				 " failed: %s",
				 epoch, strerror(-ret));
		else
			drfs_info("localcache purged: now epoch %" PRIu64,
				  epoch);
		/* the area root changed: drop the kernel's cached entry */
		fuse_lowlevel_notify_inval_entry(
			d->se, FUSE_ROOT_ID, d->lc_name, strlen(d->lc_name));
	}
	if (sscanf(buf, "rc %" SCNu64, &epoch) == 1)
		drfsd_rc_epoch(d, epoch);
	drfs_notify_ack(n);
}

static void sb_watch_err(void *arg, int err)
{
	(void)arg;
	drfs_warn("watch on the superblock lost (%s): a localcache purge may "
		  "be seen late",
		  strerror(-err));
}

/*
 * The area holds what Moodle serves and runs (compiled templates, JS, CSS):
 * no other user may read it, let alone change it.  The default path is in
 * /dev/shm, which every user may write: someone could make the directory
 * (or a symlink) first and keep it.  So it must be a real directory owned
 * by us; it is then made 0700.  Returns 0 or -errno (message printed).
 */
static int lc_path_secure(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int ret = 0;

	if (fd < 0) {
		ret = -errno;
		fprintf(stderr, "datarootfs: localcache_path %s: %s%s\n", path,
			strerror(errno),
			errno == ELOOP || errno == ENOTDIR
				? " (a symlink or not a directory: refusing)"
				: "");
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
	} else if (st.st_uid != geteuid()) {
		fprintf(stderr,
			"datarootfs: localcache_path %s belongs to uid %u, "
			"not to this daemon (uid %u): refusing to keep the "
			"localcache where another user can read or change it "
			"(remove it, or chown it)\n",
			path, (unsigned)st.st_uid, (unsigned)geteuid());
		ret = -EPERM;
	} else if (fchmod(fd, 0700) < 0) {
		ret = -errno;
	}
	if (ret < 0 && ret != -EPERM)
		fprintf(stderr, "datarootfs: localcache_path %s: %s\n", path,
			strerror(-ret));
	close(fd);
	return ret;
}

int drfsd_local_start(struct drfsd *d)
{
	struct statfs sfs;
	int ret;

	if (!d->lc_name)
		goto watch;
	pthread_rwlock_init(&d->lc_lock, NULL);
	d->lc_root_fd = -1;
	if (mkdir(d->lc_path, 0700) < 0 && errno != EEXIST) {
		ret = -errno;
		fprintf(stderr, "datarootfs: localcache_path %s: %s\n",
			d->lc_path, strerror(errno));
		return ret;
	}
	ret = lc_path_secure(d->lc_path);
	if (ret < 0)
		return ret;
	if (statfs(d->lc_path, &sfs) == 0 && sfs.f_type != TMPFS_MAGIC)
		drfs_warn("localcache_path %s is not on tmpfs (filesystem "
			  "type 0x%lx): localcache reads and writes will hit "
			  "that disk; mount a tmpfs there for speed",
			  d->lc_path, (unsigned long)sfs.f_type);
	ret = lc_switch(d, d->fs->sb.lc_epoch);
	if (ret < 0) {
		fprintf(stderr, "datarootfs: localcache_path %s: %s\n",
			d->lc_path, strerror(-ret));
		return ret;
	}
watch:
	/* purges of the localcache and of the read cache are announced on
	 * the superblock */
	ret = drfs_watch(d->fs, &d->lc_watch, "sb", 0, sb_watch_cb,
			 sb_watch_err, d);
	if (ret < 0) {
		fprintf(stderr,
			"datarootfs: cannot watch the superblock: "
			"%s\n",
			strerror(-ret));
		return ret;
	}
	return 0;
}

void drfsd_local_stop(struct drfsd *d)
{
	drfs_unwatch(&d->lc_watch);
	drfs_watch_flush(d->fs);
	if (d->lc_name && d->lc_root_fd >= 0)
		close(d->lc_root_fd);
}

void drfsd_local_detach(struct drfsd *d)
{
	drfs_unwatch(&d->lc_watch);
}

/*
 * On the new client after a rejoin: watch the superblock again and catch
 * up with a purge that happened while we were cut off.  Returns true when
 * the area root changed: the caller drops the kernel's entry for it once
 * it no longer holds conn_lock (the kernel may need a request to do it).
 */
bool drfsd_local_attach(struct drfsd *d)
{
	int ret;

	ret = drfs_watch(d->fs, &d->lc_watch, "sb", 0, sb_watch_cb,
			 sb_watch_err, d);
	if (ret < 0) {
		drfs_warn("cannot watch the superblock again: %s; a "
			  "localcache purge may be seen late",
			  strerror(-ret));
	}
	ret = drfs_sb_load(d->fs, NULL, 0);
	if (ret == 0)
		drfsd_rc_epoch(d, d->fs->sb.rc_epoch);
	if (!d->lc_name || ret < 0 || d->fs->sb.lc_epoch == d->lc_epoch)
		return false;
	ret = lc_switch(d, d->fs->sb.lc_epoch);
	if (ret == 0)
		drfs_info("localcache purged while this node was cut off: "
			  "now epoch %" PRIu64,
			  d->lc_epoch);
	return true;
}

bool drfsd_local_is_area(struct drfsd *d, uint64_t parent, const char *name)
{
	return d->lc_name && parent == FUSE_ROOT_ID &&
	       !strcmp(name, d->lc_name);
}

/* ---- inodes ---- */

static int lfd_of(struct drfsd *d, uint64_t ino)
{
	struct dnode *n = drfsd_node(d, ino);

	return n && n->has_lfd ? n->lfd : -1;
}

/* Reply with the entry for @fd (an O_PATH fd we own, consumed here). */
static void reply_local_entry(fuse_req_t req, int fd, bool area_root)
{
	struct drfsd *d = ctx_of(req);
	struct fuse_entry_param e;
	struct dnode *n;

	memset(&e, 0, sizeof(e));
	if (fstatat(fd, "", &e.attr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
		int err = errno;

		close(fd);
		fuse_reply_err(req, err);
		return;
	}
	e.ino = DRFSD_LOCAL_BIT | e.attr.st_ino;
	e.attr.st_ino = e.ino;
	e.attr_timeout = LC_TIMEOUT;
	/* the area root may change with a purge: always ask */
	e.entry_timeout = area_root ? 0 : LC_TIMEOUT;
	n = drfsd_node_get(d, e.ino, 1);
	if (!n) {
		close(fd);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&n->lock);
	if (n->has_lfd) {
		close(fd);
	} else {
		n->lfd = fd;
		n->has_lfd = true;
	}
	pthread_mutex_unlock(&n->lock);
	if (fuse_reply_entry(req, &e) == -ENOENT)
		drfsd_node_forget(d, e.ino, 1);
}

void drfsd_local_root_lookup(fuse_req_t req)
{
	struct drfsd *d = ctx_of(req);
	int fd;

	pthread_rwlock_rdlock(&d->lc_lock);
	fd = dup(d->lc_root_fd);
	pthread_rwlock_unlock(&d->lc_lock);
	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	reply_local_entry(req, fd, true);
}

static void l_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	int pfd = lfd_of(ctx_of(req), parent);
	int fd;

	if (pfd < 0) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	fd = openat(pfd, name, O_PATH | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT) {
			struct fuse_entry_param e;

			memset(&e, 0, sizeof(e));
			fuse_reply_entry(req, &e); /* negative, not cached */
		} else {
			fuse_reply_err(req, errno);
		}
		return;
	}
	reply_local_entry(req, fd, false);
}

static void reply_local_attr(fuse_req_t req, int fd, uint64_t ino)
{
	struct stat st;

	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	st.st_ino = ino;
	fuse_reply_attr(req, &st, LC_TIMEOUT);
}

static void l_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int fd = lfd_of(ctx_of(req), ino);

	(void)fi;
	if (fd < 0)
		fuse_reply_err(req, ESTALE);
	else
		reply_local_attr(req, fd, ino);
}

static void l_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		      int to_set, struct fuse_file_info *fi)
{
	struct drfsd *d = ctx_of(req);
	struct dnode *n = drfsd_node(d, ino);
	char proc[64];
	int fd = lfd_of(d, ino), ret = 0;

	if (fd < 0) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (to_set & FUSE_SET_ATTR_MODE)
		ret = chmod(proc, attr->st_mode);
	if (!ret && (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)))
		ret = fchownat(
			fd, "",
			(to_set & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1,
			(to_set & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1,
			AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
	if (!ret && (to_set & FUSE_SET_ATTR_SIZE)) {
		ret = judge(d, drfs_ao_truncate(n && !n->unsealed), "truncate");
		if (ret < 0) {
			fuse_reply_err(req, -ret);
			return;
		}
		ret = fi ? ftruncate((int)fi->fh, attr->st_size)
			 : truncate(proc, attr->st_size);
	}
	if (!ret && (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME))) {
		struct timespec tv[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};

		if (to_set & FUSE_SET_ATTR_ATIME_NOW)
			tv[0].tv_nsec = UTIME_NOW;
		else if (to_set & FUSE_SET_ATTR_ATIME)
			tv[0] = attr->st_atim;
		if (to_set & FUSE_SET_ATTR_MTIME_NOW)
			tv[1].tv_nsec = UTIME_NOW;
		else if (to_set & FUSE_SET_ATTR_MTIME)
			tv[1] = attr->st_mtim;
		ret = utimensat(AT_FDCWD, proc, tv, 0);
	}
	if (ret < 0)
		fuse_reply_err(req, errno);
	else
		reply_local_attr(req, fd, ino);
}

static void l_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[PATH_MAX + 1];
	int fd = lfd_of(ctx_of(req), ino);
	ssize_t r = fd < 0 ? -1 : readlinkat(fd, "", buf, sizeof(buf) - 1);

	if (r < 0) {
		fuse_reply_err(req, fd < 0 ? ESTALE : errno);
		return;
	}
	buf[r] = 0;
	fuse_reply_readlink(req, buf);
}

struct mk {
	int pfd;
	const char *name;
	mode_t mode;
	dev_t rdev;
	const char *link;
};

static int do_mk(void *arg)
{
	struct mk *m = arg;

	if (m->link)
		return symlinkat(m->link, m->pfd, m->name);
	if (S_ISDIR(m->mode))
		return mkdirat(m->pfd, m->name, m->mode & 07777);
	return mknodat(m->pfd, m->name, m->mode, m->rdev);
}

static void make(fuse_req_t req, fuse_ino_t parent, const char *name,
		 mode_t mode, dev_t rdev, const char *link)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	struct mk m = {lfd_of(ctx_of(req), parent), name, mode, rdev, link};
	int fd;

	if (m.pfd < 0) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	/* made as root, then given to the caller (fchownat below) */
	if (do_mk(&m) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	fchownat(m.pfd, name, c->uid, c->gid, AT_SYMLINK_NOFOLLOW);
	fd = openat(m.pfd, name, O_PATH | O_NOFOLLOW);
	if (fd < 0)
		fuse_reply_err(req, errno);
	else
		reply_local_entry(req, fd, false);
}

static void l_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		    mode_t mode, dev_t rdev)
{
	make(req, parent, name, mode, rdev, NULL);
}

static void l_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		    mode_t mode)
{
	make(req, parent, name, S_IFDIR | mode, 0, NULL);
}

static void l_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		      const char *name)
{
	make(req, parent, name, S_IFLNK | 0777, 0, link);
}

static void l_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	int pfd = lfd_of(ctx_of(req), parent);

	fuse_reply_err(req, pfd < 0			 ? ESTALE
			    : unlinkat(pfd, name, 0) < 0 ? errno
							 : 0);
}

static void l_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	int pfd = lfd_of(ctx_of(req), parent);

	fuse_reply_err(req, pfd < 0				    ? ESTALE
			    : unlinkat(pfd, name, AT_REMOVEDIR) < 0 ? errno
								    : 0);
}

static void l_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		     fuse_ino_t newparent, const char *newname,
		     unsigned int flags)
{
	struct drfsd *d = ctx_of(req);
	int pfd = lfd_of(d, parent), npfd = lfd_of(d, newparent);
	enum drfs_ao_breach kind;
	struct stat st;
	bool exists;

	if (!drfsd_is_local(parent) || !drfsd_is_local(newparent)) {
		fuse_reply_err(req, EXDEV); /* other areas: copy instead */
		return;
	}
	if (pfd < 0 || npfd < 0) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	exists = fstatat(npfd, newname, &st, AT_SYMLINK_NOFOLLOW) == 0;
	kind = drfs_ao_rename(exists, exists && S_ISDIR(st.st_mode), flags);
	if (kind != DRFS_AO_NONE) {
		char what[600];
		int ret;

		snprintf(what, sizeof(what), "rename to '%s'", newname);
		ret = judge(d, kind, what);
		if (ret < 0) {
			fuse_reply_err(req, -ret);
			return;
		}
	}
	fuse_reply_err(req, renameat2(pfd, name, npfd, newname, flags) < 0
				    ? errno
				    : 0);
}

static void l_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		   const char *newname)
{
	struct drfsd *d = ctx_of(req);
	int fd = lfd_of(d, ino), npfd = lfd_of(d, newparent);
	char proc[64];

	if (!drfsd_is_local(newparent)) {
		fuse_reply_err(req, EXDEV);
		return;
	}
	if (fd < 0 || npfd < 0) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, npfd, newname, AT_SYMLINK_FOLLOW) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	fd = openat(npfd, newname, O_PATH | O_NOFOLLOW);
	if (fd < 0)
		fuse_reply_err(req, errno);
	else
		reply_local_entry(req, fd, false);
}

/* ---- files ---- */

static void l_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct drfsd *d = ctx_of(req);
	struct dnode *n = drfsd_node(d, ino);
	char proc[64];
	int fd, ret;

	if (!n || !n->has_lfd) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	ret = judge(d, drfs_ao_open(!n->unsealed, fi->flags),
		    "open for writing");
	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", n->lfd);
	fd = open(proc, fi->flags & ~(O_NOFOLLOW | O_CREAT | O_EXCL));
	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	pthread_mutex_lock(&d->table_lock);
	n->nopen++;
	pthread_mutex_unlock(&d->table_lock);
	fi->fh = (uint64_t)fd;
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

static void l_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, struct fuse_file_info *fi)
{
	struct drfsd *d = ctx_of(req);
	const struct fuse_ctx *c = fuse_req_ctx(req);
	int pfd = lfd_of(d, parent), fd, pathfd, ret;
	struct fuse_entry_param e;
	struct dnode *n;
	struct stat st;
	bool existed;

	if (pfd < 0) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	existed = fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
	ret = judge(d, drfs_ao_create(existed, fi->flags),
		    "create over an existing file");
	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	fd = openat(pfd, name, (fi->flags | O_CREAT) & ~O_NOFOLLOW,
		    mode & 07777);
	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	if (!existed)
		fchown(fd, c->uid, c->gid);
	pathfd = openat(pfd, name, O_PATH | O_NOFOLLOW);
	memset(&e, 0, sizeof(e));
	if (pathfd < 0 || fstat(fd, &e.attr) < 0) {
		int err = errno;

		close(fd);
		if (pathfd >= 0)
			close(pathfd);
		fuse_reply_err(req, err);
		return;
	}
	e.ino = DRFSD_LOCAL_BIT | e.attr.st_ino;
	e.attr.st_ino = e.ino;
	e.attr_timeout = e.entry_timeout = LC_TIMEOUT;
	n = drfsd_node_get(d, e.ino, 1);
	if (!n) {
		close(fd);
		close(pathfd);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&n->lock);
	if (n->has_lfd) {
		close(pathfd);
	} else {
		n->lfd = pathfd;
		n->has_lfd = true;
	}
	if (!existed)
		n->unsealed = true; /* until this handle is released */
	pthread_mutex_unlock(&n->lock);
	pthread_mutex_lock(&d->table_lock);
	n->nopen++;
	pthread_mutex_unlock(&d->table_lock);
	fi->fh = (uint64_t)fd;
	fi->keep_cache = 1;
	if (fuse_reply_create(req, &e, fi) == -ENOENT) {
		close(fd);
		drfsd_node_forget(d, e.ino, 1);
	}
}

static void l_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);

	(void)ino;
	/* bytes asked for: the splice does not say how many it moved */
	drfs_stat_add(((struct drfsd *)fuse_req_userdata(req))->fs,
		      DRFS_ST_AREA_RBYTES + DRFS_AREA_LOCALCACHE, size);
	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = (int)fi->fh;
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

static void l_write(fuse_req_t req, fuse_ino_t ino, const char *data,
		    size_t size, off_t off, struct fuse_file_info *fi)
{
	ssize_t r = pwrite((int)fi->fh, data, size, off);

	(void)ino;
	if (r < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	drfs_stat_add(((struct drfsd *)fuse_req_userdata(req))->fs,
		      DRFS_ST_AREA_WBYTES + DRFS_AREA_LOCALCACHE, (size_t)r);
	fuse_reply_write(req, (size_t)r);
}

static void l_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int fd = dup((int)fi->fh);

	(void)ino;
	fuse_reply_err(req, fd < 0 ? errno : close(fd) < 0 ? errno : 0);
}

static void l_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct drfsd *d = ctx_of(req);
	struct dnode *n = drfsd_node(d, ino);

	close((int)fi->fh);
	if (n) {
		pthread_mutex_lock(&d->table_lock);
		if (n->nopen > 0)
			n->nopen--;
		if (n->nopen == 0)
			n->unsealed = false; /* sealed */
		pthread_mutex_unlock(&d->table_lock);
	}
	fuse_reply_err(req, 0);
}

static void l_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		    struct fuse_file_info *fi)
{
	(void)ino;
	fuse_reply_err(req, (datasync ? fdatasync((int)fi->fh)
				      : fsync((int)fi->fh)) < 0
				    ? errno
				    : 0);
}

/* ---- directories ---- */

struct ldir {
	DIR *dp;
	off_t offset;
	struct dirent *entry;
};

static void l_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int pfd = lfd_of(ctx_of(req), ino), fd;
	struct ldir *h;

	if (pfd < 0) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY);
	h = calloc(1, sizeof(*h));
	if (fd < 0 || !h || !(h->dp = fdopendir(fd))) {
		int err = errno ? errno : ENOMEM;

		if (fd >= 0)
			close(fd);
		free(h);
		fuse_reply_err(req, err);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)h;
	fuse_reply_open(req, fi);
}

static void l_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	struct ldir *h = (struct ldir *)(uintptr_t)fi->fh;
	char *buf = malloc(size), *p = buf;
	size_t rem = size;

	(void)ino;
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (off != h->offset) {
		seekdir(h->dp, off);
		h->entry = NULL;
		h->offset = off;
	}
	for (;;) {
		struct stat st = {0};
		size_t n;

		if (!h->entry) {
			errno = 0;
			h->entry = readdir(h->dp);
			if (!h->entry)
				break;
		}
		st.st_ino = DRFSD_LOCAL_BIT | h->entry->d_ino;
		st.st_mode = (mode_t)h->entry->d_type << 12;
		n = fuse_add_direntry(req, p, rem, h->entry->d_name, &st,
				      h->entry->d_off);
		if (n > rem)
			break;
		p += n;
		rem -= n;
		h->offset = h->entry->d_off;
		h->entry = NULL;
	}
	fuse_reply_buf(req, buf, size - rem);
	free(buf);
}

static void l_releasedir(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	struct ldir *h = (struct ldir *)(uintptr_t)fi->fh;

	(void)ino;
	closedir(h->dp);
	free(h);
	fuse_reply_err(req, 0);
}

static void l_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct drfsd *d = ctx_of(req);
	struct statvfs sv;
	int fd = lfd_of(d, ino);
	char proc[64];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (fd < 0 || statvfs(proc, &sv) < 0)
		fuse_reply_err(req, fd < 0 ? ESTALE : errno);
	else
		fuse_reply_statfs(req, &sv);
}

static void l_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	(void)mask;
	fuse_reply_err(req, lfd_of(ctx_of(req), ino) < 0 ? ESTALE : 0);
}

static void l_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		       struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void l_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		       size_t size)
{
	(void)ino;
	(void)name;
	(void)size;
	fuse_reply_err(req, ENODATA);
}

static void l_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	(void)ino;
	if (size)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_xattr(req, 0);
}

static void l_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		       const char *value, size_t size, int flags)
{
	(void)ino;
	(void)name;
	(void)value;
	(void)size;
	(void)flags;
	fuse_reply_err(req, ENOTSUP);
}

const struct fuse_lowlevel_ops drfsd_local_ops = {
	.lookup = l_lookup,
	.getattr = l_getattr,
	.setattr = l_setattr,
	.readlink = l_readlink,
	.mknod = l_mknod,
	.mkdir = l_mkdir,
	.symlink = l_symlink,
	.unlink = l_unlink,
	.rmdir = l_rmdir,
	.rename = l_rename,
	.link = l_link,
	.open = l_open,
	.create = l_create,
	.read = l_read,
	.write = l_write,
	.flush = l_flush,
	.release = l_release,
	.fsync = l_fsync,
	.opendir = l_opendir,
	.readdir = l_readdir,
	.releasedir = l_releasedir,
	.fsyncdir = l_fsyncdir,
	.statfs = l_statfs,
	.access = l_access,
	.getxattr = l_getxattr,
	.listxattr = l_listxattr,
	.setxattr = l_setxattr,
};
