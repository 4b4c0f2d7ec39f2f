/*
 * ops.c - FUSE low-level request handlers (drfs_op_<op>).
 *
 * Glue only: each handler turns its arguments into a call of the fs/
 * library and its result into exactly one reply.  Errors travel as -errno
 * and are negated once, in drfsd_reply_err().
 *
 * Coherence in the shared areas: fs/ keeps a metadata cache that other
 * nodes invalidate before their changes return (fs/inval.c); the kernel
 * gets short entry and attribute timeouts that coherence.c invalidates
 * the same way, and keeps pages across opens unless another node changed
 * the data since.  Writes are gathered per inode in a write-back buffer
 * (struct wbuf, wb.c), whose whole stripes stream out with aio as they
 * fill, and made durable before flush (close), fsync and release return,
 * which gives close-to-open consistency between nodes.  A handle reading
 * sequentially is served from stripes read ahead (struct rdahead), which
 * a new open, a write or truncate here, or a cluster lock on the inode
 * makes us drop or bypass.
 *
 * The layers below (daemon.h lists them) hold the inode table (nodes.c),
 * the buffers (wb.c), the replies (reply.c) and the filedir checks of a
 * rename (cas.c); requests on localcache inodes go to local.c, lock
 * requests to locks.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cas.h"
#include "coherence.h"
#include "local.h"
#include "locks.h"
#include "nodes.h"
#include "ops.h"
#include "rcache.h"
#include "reply.h"
#include "stats.h"
#include "wb.h"

static struct drfsd *ctx_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* Requests on localcache inodes go to local.c. */
#define LOCAL(ino, op, ...)                              \
	do {                                             \
		if (drfsd_is_local(ino)) {               \
			drfsd_local_ops.op(__VA_ARGS__); \
			return;                          \
		}                                        \
	} while (0)

/*
 * The localcache area root cannot be replaced or removed (@err); the
 * read-only statistics files neither (EPERM, or EEXIST for a create).
 */
static bool area_name(fuse_req_t req, fuse_ino_t parent, const char *name,
		      int err)
{
	if (drfsd_local_is_area(ctx_of(req), parent, name)) {
		fuse_reply_err(req, err);
		return true;
	}
	if (parent == FUSE_ROOT_ID && drfsd_stats_ino(name)) {
		fuse_reply_err(req, err == EEXIST ? EEXIST : EPERM);
		return true;
	}
	return false;
}

static void drfs_op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
	/* Coherence is close-to-open (the page cache is dropped at every
	 * open of a shared file): no attribute round trip before each
	 * cached read. */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	/* Cluster-wide locks: the kernel must ask us, not lock locally. */
	if (conn->capable & FUSE_CAP_POSIX_LOCKS)
		conn->want |= FUSE_CAP_POSIX_LOCKS;
	if (conn->capable & FUSE_CAP_FLOCK_LOCKS)
		conn->want |= FUSE_CAP_FLOCK_LOCKS;
	if (conn->capable & FUSE_CAP_EXPORT_SUPPORT)
		conn->want |= FUSE_CAP_EXPORT_SUPPORT;
	conn->max_write = 1u << 20;
	conn->max_readahead = 4u << 20;
	conn->time_gran = 1;
}

static void flush_node(struct dnode *n, void *arg)
{
	struct drfsd *d = arg;

	pthread_mutex_lock(&n->lock);
	drfsd_wb_flush_locked(d, n);
	pthread_mutex_unlock(&n->lock);
	drfsd_ra_drop(n); /* no read in flight past the unmount */
}

static void drfs_op_destroy(void *userdata)
{
	struct drfsd *d = userdata;

	/* Unmount with files still open: make everything durable. */
	drfs_conn_rdlock(d->fs);
	drfsd_nodes_each(d, flush_node, d);
	drfs_conn_unlock(d->fs);
}

static void drfs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	drfsd_coh_probe(ctx_of(req));
	drfsd_count(ctx_of(req), DRFSD_OP_LOOKUP,
		    drfsd_area_at(ctx_of(req), parent, name));
	if (parent == FUSE_ROOT_ID && drfsd_stats_ino(name)) {
		struct fuse_entry_param e;

		drfsd_stats_entry(ctx_of(req), drfsd_stats_ino(name), &e);
		fuse_reply_entry(req, &e);
		return;
	}
	if (drfsd_local_is_area(ctx_of(req), parent, name)) {
		drfsd_local_root_lookup(req);
		return;
	}
	LOCAL(parent, lookup, req, parent, name);
	struct drfs_attr a;
	int ret;

	drfsd_take_ticket(ctx_of(req));
	ret = drfs_lookup(ctx_of(req)->fs, parent, name, &a);
	if (ret == -ENOENT) {
		/* Negative entry: cached as long as a positive one (a
		 * create anywhere invalidates it) */
		struct fuse_entry_param e;

		memset(&e, 0, sizeof(e));
		e.entry_timeout = drfsd_entry_timeout(ctx_of(req));
		fuse_reply_entry(req, &e);
		return;
	}
	if (ret < 0)
		drfsd_reply_err(req, ret);
	else
		drfsd_reply_entry(req, &a,
				  drfsd_area_at(ctx_of(req), parent, name));
}

static void drfs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	drfsd_node_forget(ctx_of(req), ino, nlookup);
	fuse_reply_none(req);
}

static void drfs_op_forget_multi(fuse_req_t req, size_t count,
				 struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		drfsd_node_forget(ctx_of(req), forgets[i].ino,
				  forgets[i].nlookup);
	fuse_reply_none(req);
}

static void drfs_op_getattr(fuse_req_t req, fuse_ino_t ino,
			    struct fuse_file_info *fi)
{
	drfsd_count(ctx_of(req), DRFSD_OP_GETATTR,
		    drfsd_area_of(ctx_of(req), ino));
	if (drfsd_is_stats(ino)) {
		struct fuse_entry_param e;

		drfsd_stats_entry(ctx_of(req), (int)(ino & 3), &e);
		fuse_reply_attr(req, &e.attr, 1.0);
		return;
	}
	LOCAL(ino, getattr, req, ino, fi);
	struct drfsd *d = ctx_of(req);
	struct drfs_attr a;
	struct stat st;
	struct dnode *n;
	int ret;

	drfsd_take_ticket(d);
	ret = drfs_getattr(d->fs, ino, &a);

	(void)fi;
	if (ret < 0) {
		drfsd_reply_err(req, ret);
		return;
	}
	n = drfsd_node(d, ino);
	if (n)
		drfsd_wb_apply(n, &a);
	drfsd_to_stat(&a, &st);
	fuse_reply_attr(req, &st, drfsd_attr_timeout(d, &a));
}

static void drfs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			    int to_set, struct fuse_file_info *fi)
{
	drfsd_count(ctx_of(req), DRFSD_OP_SETATTR,
		    drfsd_area_of(ctx_of(req), ino));
	if (drfsd_is_stats(ino)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	LOCAL(ino, setattr, req, ino, attr, to_set, fi);
	struct drfsd *d = ctx_of(req);
	struct drfs_setattr sa = {0};
	struct drfs_attr a;
	struct stat st;
	struct dnode *n;
	int ret;

	drfsd_take_ticket(d);
	/* ftruncate() through a handle opened before a rejoin */
	if (fi && !drfsd_fh(d, fi)) {
		drfsd_reply_err(req, -EIO);
		return;
	}
	if (to_set & FUSE_SET_ATTR_MODE) {
		sa.valid |= DRFS_SA_MODE;
		sa.mode = attr->st_mode;
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		sa.valid |= DRFS_SA_UID;
		sa.uid = attr->st_uid;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		sa.valid |= DRFS_SA_GID;
		sa.gid = attr->st_gid;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		sa.valid |= DRFS_SA_SIZE;
		sa.size = (uint64_t)attr->st_size;
	}
	/* Buffered writes land first: a truncate or an explicit mtime must
	 * not be overtaken by them. */
	n = drfsd_node(d, ino);
	if (n) {
		ret = drfsd_wb_sync(d, n);
		if (ret < 0) {
			drfsd_reply_err(req, ret);
			return;
		}
	}
	if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
		sa.valid |= DRFS_SA_ATIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_ATIME) {
		sa.valid |= DRFS_SA_ATIME;
		sa.atime_ns = attr->st_atim.tv_sec * 1000000000ll +
			      attr->st_atim.tv_nsec;
	}
	if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
		sa.valid |= DRFS_SA_MTIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_MTIME) {
		sa.valid |= DRFS_SA_MTIME;
		sa.mtime_ns = attr->st_mtim.tv_sec * 1000000000ll +
			      attr->st_mtim.tv_nsec;
	}
	ret = drfs_setattr(d->fs, ino, &sa, &a);
	if (n && (sa.valid & DRFS_SA_SIZE)) { /* read-ahead taken is stale */
		__atomic_add_fetch(&n->wb.gen, 1, __ATOMIC_RELEASE);
		drfsd_wb_truncated(n); /* and so is the hash of the writes */
	}
	if (ret < 0) {
		drfsd_reply_err(req, ret);
		return;
	}
	drfsd_to_stat(&a, &st);
	fuse_reply_attr(req, &st, drfsd_attr_timeout(d, &a));
}

static void drfs_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	LOCAL(ino, readlink, req, ino);
	char buf[4097];
	int ret = drfs_readlink(ctx_of(req)->fs, ino, buf, sizeof(buf));

	if (ret < 0)
		drfsd_reply_err(req, ret);
	else
		fuse_reply_readlink(req, buf);
}

static int make_node(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev, const char *target, bool excl,
		     struct drfs_attr *a, bool *created)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);

	drfsd_take_ticket(ctx_of(req));
	return drfs_create(ctx_of(req)->fs, parent, name, mode, rdev, c->uid,
			   c->gid, target, excl, a, created);
}

static void drfs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
			  mode_t mode, dev_t rdev)
{
	drfsd_count(ctx_of(req), DRFSD_OP_CREATE,
		    drfsd_area_at(ctx_of(req), parent, name));
	if (area_name(req, parent, name, EEXIST))
		return;
	LOCAL(parent, mknod, req, parent, name, mode, rdev);
	struct drfs_attr a;
	bool created;
	int ret = make_node(req, parent, name, mode, rdev, NULL, true, &a,
			    &created);

	if (ret < 0)
		drfsd_reply_err(req, ret);
	else
		drfsd_reply_entry(req, &a,
				  drfsd_area_at(ctx_of(req), parent, name));
}

static void drfs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
			  mode_t mode)
{
	drfsd_count(ctx_of(req), DRFSD_OP_MKDIR,
		    drfsd_area_at(ctx_of(req), parent, name));
	LOCAL(parent, mkdir, req, parent, name, mode);
	drfs_op_mknod(req, parent, name, S_IFDIR | (mode & 07777), 0);
}

static void drfs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			    const char *name)
{
	if (area_name(req, parent, name, EEXIST))
		return;
	LOCAL(parent, symlink, req, link, parent, name);
	struct drfs_attr a;
	bool created;
	int ret = make_node(req, parent, name, S_IFLNK | 0777, 0, link, true,
			    &a, &created);

	if (ret < 0)
		drfsd_reply_err(req, ret);
	else
		drfsd_reply_entry(req, &a,
				  drfsd_area_at(ctx_of(req), parent, name));
}

static void drfs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	drfsd_count(ctx_of(req), DRFSD_OP_UNLINK,
		    drfsd_area_at(ctx_of(req), parent, name));
	if (area_name(req, parent, name, EISDIR))
		return;
	LOCAL(parent, unlink, req, parent, name);
	struct drfsd *d = ctx_of(req);
	uint64_t ino = 0;
	uint32_t nlink = 1;
	int ret = drfs_unlink(d->fs, parent, name, &ino, &nlink);

	if (ret == 0)
		drfsd_node_gone(d, ino, nlink);
	drfsd_reply_err(req, ret);
}

static void drfs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	drfsd_count(ctx_of(req), DRFSD_OP_RMDIR,
		    drfsd_area_at(ctx_of(req), parent, name));
	if (area_name(req, parent, name, EBUSY))
		return;
	LOCAL(parent, rmdir, req, parent, name);
	drfsd_reply_err(req, drfs_rmdir(ctx_of(req)->fs, parent, name));
}

static void drfs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			   fuse_ino_t newparent, const char *newname,
			   unsigned int flags)
{
	drfsd_count(ctx_of(req), DRFSD_OP_RENAME,
		    drfsd_area_at(ctx_of(req), newparent, newname));
	if (area_name(req, parent, name, EBUSY) ||
	    area_name(req, newparent, newname, EBUSY))
		return;
	if (drfsd_is_local(parent) || drfsd_is_local(newparent)) {
		drfsd_local_ops.rename(req, parent, name, newparent, newname,
				       flags);
		return;
	}
	struct drfsd *d = ctx_of(req);
	uint64_t ino = 0, dropped = 0;
	uint32_t nlink = 1;
	struct drfs_attr src;
	char sha[41] = "";
	int cas, ret;

	cas = drfsd_cas_check(d, parent, name, newparent, newname, flags, &src,
			      sha);
	if (cas < 0) {
		drfsd_reply_err(req, cas);
		return;
	}
	ret = drfs_rename(d->fs, parent, name, newparent, newname, flags, &ino,
			  &nlink);
	if (ret == 0 && cas > 0)
		drfsd_cas_store(d, newparent, newname, &src, sha, &dropped);
	if (ret == 0) {
		drfsd_node_gone(d, ino, nlink);
		drfsd_node_gone(d, dropped, 0);
	}
	drfsd_reply_err(req, ret);
	/* the kernel thinks the name holds the inode it renamed */
	if (dropped)
		fuse_lowlevel_notify_inval_entry(d->se, newparent, newname,
						 strlen(newname));
}

static void drfs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
			 const char *newname)
{
	drfsd_count(ctx_of(req), DRFSD_OP_LINK,
		    drfsd_area_at(ctx_of(req), newparent, newname));
	if (area_name(req, newparent, newname, EEXIST))
		return;
	if (drfsd_is_stats(ino)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (drfsd_is_local(ino) != drfsd_is_local(newparent)) {
		fuse_reply_err(req, EXDEV);
		return;
	}
	LOCAL(ino, link, req, ino, newparent, newname);
	struct drfs_attr a;
	int ret;

	drfsd_take_ticket(ctx_of(req));
	ret = drfs_link(ctx_of(req)->fs, ino, newparent, newname, &a);

	if (ret < 0)
		drfsd_reply_err(req, ret);
	else
		drfsd_reply_entry(
			req, &a,
			drfsd_area_at(ctx_of(req), newparent, newname));
}

/* flock owners of struct dfile: one per open, never reused (atomic) */
static uint64_t flock_seq;

/*
 * Count an open; @cfd (or -1) is a read cache fd for the node, kept until
 * its last close here (so a read never sees it change or go).
 */
static int open_common(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi, int cfd)
{
	struct drfsd *d = ctx_of(req);
	struct dfile *f = malloc(sizeof(*f));
	struct dnode *n = f ? drfsd_node_get(d, ino, 0) : NULL;
	bool keep;

	if (!n) {
		free(f);
		if (cfd >= 0)
			close(cfd);
		return -ENOMEM;
	}
	keep = drfsd_node_open(d, n, cfd);
	f->n = n;
	f->gen = d->gen;
	f->flock_owner = __atomic_add_fetch(&flock_seq, 1, __ATOMIC_RELAXED);
	fi->fh = (uint64_t)(uintptr_t)f;
	fi->keep_cache = keep;
	fi->direct_io = 0;
	return 0;
}

static void drfs_op_open(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	drfsd_count(ctx_of(req), DRFSD_OP_OPEN,
		    drfsd_area_of(ctx_of(req), ino));
	if (drfsd_is_stats(ino)) {
		drfsd_stats_open(req, ino, fi);
		return;
	}
	LOCAL(ino, open, req, ino, fi);
	struct drfsd *d = ctx_of(req);
	struct drfs_attr a;
	char sha[41];
	int ret = drfs_getattr_hash(d->fs, ino, &a, sha);
	int cfd = -1;

	if (ret == 0 && S_ISDIR(a.mode))
		ret = -EISDIR;
	if (ret == 0 && (a.flags & DRFS_IF_IMMUTABLE) &&
	    (fi->flags & O_ACCMODE) != O_RDONLY)
		ret = -EPERM;
	if (ret == 0 && (a.flags & DRFS_IF_IMMUTABLE) && d->rc) {
		struct dnode *n = drfsd_node(d, ino);

		/* pool content: from the node's read cache if it is there,
		 * else fetched into it in the background */
		if (!n || !__atomic_load_n(&n->rcfd1, __ATOMIC_ACQUIRE)) {
			cfd = drfsd_rc_open(d, sha, a.size);
			if (cfd < 0)
				drfsd_rc_want(d, sha, ino, a.size);
		}
	}
	if (ret == 0)
		ret = open_common(req, ino, fi, cfd);
	else if (cfd >= 0)
		close(cfd);
	if (ret < 0) {
		drfsd_reply_err(req, ret);
		return;
	}
	/* pool content never changes: keep its pages across opens */
	if (a.flags & DRFS_IF_IMMUTABLE)
		fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

static void drfs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
			   mode_t mode, struct fuse_file_info *fi)
{
	drfsd_count(ctx_of(req), DRFSD_OP_CREATE,
		    drfsd_area_at(ctx_of(req), parent, name));
	if (area_name(req, parent, name, EISDIR))
		return;
	LOCAL(parent, create, req, parent, name, mode, fi);
	struct drfsd *d = ctx_of(req);
	struct fuse_entry_param e;
	struct dnode *n;
	struct drfs_attr a;
	bool created;
	int ret;

	do {
		ret = make_node(req, parent, name, S_IFREG | (mode & 07777), 0,
				NULL, fi->flags & O_EXCL, &a, &created);
	} while (ret == -EAGAIN);
	if (ret == 0 && !created && (fi->flags & O_TRUNC)) {
		struct drfs_setattr sa = {.valid = DRFS_SA_SIZE, .size = 0};

		ret = drfs_setattr(d->fs, a.ino, &sa, &a);
	}
	if (ret < 0) {
		drfsd_reply_err(req, ret);
		return;
	}
	n = drfsd_node_get(d, a.ino, 1);
	if (!n) {
		drfsd_reply_err(req, -ENOMEM);
		return;
	}
	n->area = (uint8_t)drfsd_area_at(d, parent, name);
	ret = open_common(req, a.ino, fi, -1);
	if (ret < 0) {
		drfsd_node_forget(d, a.ino, 1);
		drfsd_reply_err(req, ret);
		return;
	}
	drfsd_fill_entry(d, &a, &e);
	if (fuse_reply_create(req, &e, fi) == -ENOENT) {
		/* interrupted: nobody will release or forget it */
		struct dfile *f = (struct dfile *)(uintptr_t)fi->fh;

		drfsd_node_unopen(d, f->n);
		free(f);
		drfsd_node_forget(d, a.ino, 1);
	}
}

static void drfs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			 struct fuse_file_info *fi)
{
	drfsd_count(ctx_of(req), DRFSD_OP_READ,
		    drfsd_area_of(ctx_of(req), ino));
	if (drfsd_is_stats(ino)) {
		drfsd_stats_read(req, size, off, fi);
		return;
	}
	LOCAL(ino, read, req, ino, size, off, fi);
	struct drfsd *d = ctx_of(req);
	struct dnode *n = drfsd_fh(d, fi);
	bool replied = false;
	char *buf;
	ssize_t ret;
	int cfd1;

	if (!n) {
		drfsd_reply_err(req, -EIO);
		return;
	}
	cfd1 = __atomic_load_n(&n->rcfd1, __ATOMIC_ACQUIRE);
	if (cfd1) {
		/* pool content from the node's read cache (no write-back
		 * buffer to sync: it is immutable) */
		struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);

		bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		bv.buf[0].fd = cfd1 - 1;
		bv.buf[0].pos = off;
		drfs_stat_add(d->fs, DRFS_ST_RC_BYTES, size);
		drfs_stat_add(d->fs, DRFS_ST_AREA_RBYTES + n->area, size);
		fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
		return;
	}
	buf = drfsd_rdbuf_get(size ? size : 1);
	if (!buf) {
		drfsd_reply_err(req, -ENOMEM);
		return;
	}
	ret = drfsd_wb_read(d, n, (uint64_t)off, size, buf, &replied);
	if (ret < 0 || replied) {
		if (ret < 0) {
			drfsd_reply_err(req, (int)ret);
			return;
		}
		drfs_stat_add(d->fs, DRFS_ST_AREA_RBYTES + n->area,
			      (uint64_t)ret);
		fuse_reply_buf(req, buf, (size_t)ret);
		return;
	}
	ret = drfsd_ra_read(d, n, fi ? (const void *)(uintptr_t)fi->fh : NULL,
			    (uint64_t)off, size, buf, req, &replied);
	if (replied) {
		if (ret > 0)
			drfs_stat_add(d->fs, DRFS_ST_AREA_RBYTES + n->area,
				      (uint64_t)ret);
	} else if (ret < 0) {
		drfsd_reply_err(req, (int)ret);
	} else {
		drfs_stat_add(d->fs, DRFS_ST_AREA_RBYTES + n->area,
			      (uint64_t)ret);
		fuse_reply_buf(req, buf, (size_t)ret);
	}
}

static void drfs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
			  size_t size, off_t off, struct fuse_file_info *fi)
{
	drfsd_count(ctx_of(req), DRFSD_OP_WRITE,
		    drfsd_area_of(ctx_of(req), ino));
	LOCAL(ino, write, req, ino, buf, size, off, fi);
	struct drfsd *d = ctx_of(req);
	struct dnode *n = drfsd_fh(d, fi);
	int ret;

	(void)ino;
	if (!n) {
		drfsd_reply_err(req, -EIO);
		return;
	}
	if (off < 0 || (uint64_t)off + size > (1ull << 60)) {
		drfsd_reply_err(req, -EFBIG);
		return;
	}
	ret = drfsd_wb_write(d, n, (uint64_t)off, buf, size);
	if (ret < 0) {
		drfsd_reply_err(req, ret);
		return;
	}
	drfs_stat_add(d->fs, DRFS_ST_AREA_WBYTES + n->area, size);
	fuse_reply_write(req, size);
}

static void drfs_op_flush(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	drfsd_count(ctx_of(req), DRFSD_OP_FLUSH,
		    drfsd_area_of(ctx_of(req), ino));
	if (drfsd_is_stats(ino)) {
		fuse_reply_err(req, 0);
		return;
	}
	LOCAL(ino, flush, req, ino, fi);
	struct drfsd *d = ctx_of(req);
	struct dnode *n = drfsd_fh(d, fi);
	int ret;

	(void)ino;
	if (!n) { /* opened before a rejoin: its data was dropped */
		drfsd_reply_err(req, -EIO);
		return;
	}
	ret = drfsd_wb_sync(d, n);
	/* close() drops the closing process's fcntl locks on the file */
	drfsd_locks_on_flush(d, n, fi->lock_owner);
	drfsd_reply_err(req, ret);
}

static void drfs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
			  struct fuse_file_info *fi)
{
	drfsd_count(ctx_of(req), DRFSD_OP_FSYNC,
		    drfsd_area_of(ctx_of(req), ino));
	LOCAL(ino, fsync, req, ino, datasync, fi);
	struct dnode *n = drfsd_fh(ctx_of(req), fi);

	(void)ino;
	(void)datasync;
	drfsd_reply_err(req, n ? drfsd_wb_sync(ctx_of(req), n) : -EIO);
}

static void drfs_op_release(fuse_req_t req, fuse_ino_t ino,
			    struct fuse_file_info *fi)
{
	if (drfsd_is_stats(ino)) {
		drfsd_stats_release(req, fi);
		return;
	}
	LOCAL(ino, release, req, ino, fi);
	struct drfsd *d = ctx_of(req);
	struct dfile *f = (struct dfile *)(uintptr_t)fi->fh;
	struct dnode *n = f->n;
	int ret = -EIO;

	/* A stale handle (opened before a rejoin) flushes nothing: the
	 * buffer may now hold data of handles opened since; its locks died
	 * with the old session. */
	if (f->gen == d->gen) {
		ret = drfsd_wb_sync(d, n);
		if (fi->flock_release)
			drfsd_locks_on_release(d, n, f->flock_owner);
	}
	drfsd_ra_release(n, f);
	free(f);
	drfsd_node_close(d, n);
	drfsd_reply_err(req, ret);
}

/* ---- directories ---- */

/* Directory handle: names by offset, so a seekdir() can resume anywhere. */
struct dirh {
	pthread_mutex_t lock;
	char **names; /* names[i] was returned at offset i + 3 */
	size_t n, cap;
	bool eof;
};

static void drfs_op_opendir(fuse_req_t req, fuse_ino_t ino,
			    struct fuse_file_info *fi)
{
	LOCAL(ino, opendir, req, ino, fi);
	struct drfs_attr a;
	struct dirh *h;
	int ret = drfs_getattr(ctx_of(req)->fs, ino, &a);

	if (ret == 0 && !S_ISDIR(a.mode))
		ret = -ENOTDIR;
	if (ret < 0) {
		drfsd_reply_err(req, ret);
		return;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		drfsd_reply_err(req, -ENOMEM);
		return;
	}
	pthread_mutex_init(&h->lock, NULL);
	fi->fh = (uint64_t)(uintptr_t)h;
	fuse_reply_open(req, fi);
}

struct fill_ctx {
	fuse_req_t req;
	struct dirh *h;
	char *buf;
	size_t size, used;
	bool full;
	const char *shadow; /* a name not to list (the localcache area) */
};

static int fill_one(struct fill_ctx *f, const char *name, uint64_t ino,
		    uint8_t type, off_t next_off)
{
	struct stat st = {0};
	size_t need;

	st.st_ino = ino;
	st.st_mode = (mode_t)type << 12;
	need = fuse_add_direntry(f->req, f->buf + f->used, f->size - f->used,
				 name, &st, next_off);
	if (need > f->size - f->used) {
		f->full = true;
		return 1;
	}
	f->used += need;
	return 0;
}

static int dir_cb(void *vctx, const char *name, uint64_t ino, uint8_t type)
{
	struct fill_ctx *f = vctx;
	struct dirh *h = f->h;

	if (f->shadow && !strcmp(name, f->shadow))
		return 0;
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		char **nn = realloc(h->names, cap * sizeof(*nn));

		if (!nn)
			return 1;
		h->names = nn;
		h->cap = cap;
	}
	if (fill_one(f, name, ino, type, (off_t)(h->n + 4)))
		return 1;
	h->names[h->n++] = strdup(name);
	return 0;
}

static void drfs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			    off_t off, struct fuse_file_info *fi)
{
	drfsd_count(ctx_of(req), DRFSD_OP_READDIR,
		    drfsd_area_of(ctx_of(req), ino));
	LOCAL(ino, readdir, req, ino, size, off, fi);
	struct drfsd *d = ctx_of(req);
	struct dirh *h = (struct dirh *)(uintptr_t)fi->fh;
	struct fill_ctx f = {req, h, NULL, size, 0, false, NULL};
	struct drfs_attr a;
	int ret = 0;

	f.buf = malloc(size);
	if (!f.buf) {
		drfsd_reply_err(req, -ENOMEM);
		return;
	}
	pthread_mutex_lock(&h->lock);
	if (off == 0) {
		/* (re)start: forget what was listed before */
		for (size_t i = 0; i < h->n; i++)
			free(h->names[i]);
		h->n = 0;
		h->eof = false;
	}
	if (off < 1 && fill_one(&f, ".", ino, DT_DIR, 1))
		goto reply;
	if (off < 2) {
		ret = drfs_getattr(d->fs, ino, &a);
		if (ret < 0)
			goto reply;
		if (fill_one(&f, "..", a.parent, DT_DIR, 2))
			goto reply;
	}
	if (off < 3 && ino == FUSE_ROOT_ID && d->lc_name) {
		/* the localcache area, served from this node's tmpfs */
		struct stat st;
		int ok;

		pthread_rwlock_rdlock(&d->lc_lock);
		ok = fstat(d->lc_root_fd, &st);
		pthread_rwlock_unlock(&d->lc_lock);
		if (ok == 0 && fill_one(&f, d->lc_name,
					DRFSD_LOCAL_BIT | st.st_ino, DT_DIR, 3))
			goto reply;
	}
	if (ino == FUSE_ROOT_ID)
		f.shadow = d->lc_name;
	/* Offsets 3.. are names; 3 + i means "after names[i - 1]". */
	if (off > 3 && (size_t)(off - 3) < h->n) {
		/* seekdir() back: drop what came after */
		for (size_t i = (size_t)(off - 3); i < h->n; i++)
			free(h->names[i]);
		h->n = (size_t)(off - 3);
		h->eof = false;
	}
	while (!f.full && !h->eof) {
		bool more = false;
		const char *after = h->n ? h->names[h->n - 1] : NULL;

		ret = drfs_readdir(d->fs, ino, after, 256, dir_cb, &f, &more);
		if (ret < 0)
			break;
		if (!more)
			h->eof = true;
		ret = 0;
	}
reply:
	pthread_mutex_unlock(&h->lock);
	if (ret < 0 && f.used == 0)
		drfsd_reply_err(req, ret);
	else
		fuse_reply_buf(req, f.buf, f.used);
	free(f.buf);
}

static void drfs_op_releasedir(fuse_req_t req, fuse_ino_t ino,
			       struct fuse_file_info *fi)
{
	LOCAL(ino, releasedir, req, ino, fi);
	struct dirh *h = (struct dirh *)(uintptr_t)fi->fh;

	(void)ino;
	for (size_t i = 0; i < h->n; i++)
		free(h->names[i]);
	free(h->names);
	pthread_mutex_destroy(&h->lock);
	free(h);
	fuse_reply_err(req, 0);
}

static void drfs_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			     struct fuse_file_info *fi)
{
	LOCAL(ino, fsyncdir, req, ino, datasync, fi);
	/* Every namespace change is acknowledged by RADOS before we reply. */
	(void)ino;
	(void)datasync;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void drfs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	LOCAL(ino, statfs, req, ino);
	struct statvfs sv = {0};
	uint64_t total, avail, objects;
	int ret = drfs_statfs(ctx_of(req)->fs, &total, &avail, &objects);

	(void)ino;
	if (ret < 0) {
		drfsd_reply_err(req, ret);
		return;
	}
	sv.f_bsize = 65536;
	sv.f_frsize = 65536;
	sv.f_blocks = total / 65536;
	sv.f_bfree = avail / 65536;
	sv.f_bavail = avail / 65536;
	sv.f_files = objects + avail / 65536;
	sv.f_ffree = avail / 65536;
	sv.f_favail = sv.f_ffree;
	sv.f_namemax = 255;
	fuse_reply_statfs(req, &sv);
}

/* ---- xattrs ---- */

static bool xattr_supported(const char *name)
{
	/*
	 * No POSIX ACLs and no security.* (file capabilities, LSM labels):
	 * tools like cp -a then skip them cleanly, and the kernel's
	 * security.capability query before every write() costs nothing.
	 */
	return strncmp(name, "system.", 7) != 0 &&
	       strncmp(name, "security.", 9) != 0;
}

static void drfs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			     const char *value, size_t size, int flags)
{
	LOCAL(ino, setxattr, req, ino, name, value, size, flags);
	if (drfsd_is_stats(ino)) { /* read-only */
		fuse_reply_err(req, EPERM);
		return;
	}
	if (!xattr_supported(name)) {
		drfsd_reply_err(req, -EOPNOTSUPP);
		return;
	}
	drfsd_reply_err(req, drfs_setxattr(ctx_of(req)->fs, ino, name, value,
					   size, flags));
}

static void drfs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			     size_t size)
{
	LOCAL(ino, getxattr, req, ino, name, size);
	char *buf = NULL;
	int ret;

	if (!xattr_supported(name) || drfsd_is_stats(ino)) {
		drfsd_reply_err(req, -ENODATA);
		return;
	}
	if (size) {
		buf = malloc(size);
		if (!buf) {
			drfsd_reply_err(req, -ENOMEM);
			return;
		}
	}
	ret = drfs_getxattr(ctx_of(req)->fs, ino, name, buf, size);
	if (ret < 0)
		drfsd_reply_err(req, ret);
	else if (size)
		fuse_reply_buf(req, buf, (size_t)ret);
	else
		fuse_reply_xattr(req, (size_t)ret);
	free(buf);
}

static void drfs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	LOCAL(ino, listxattr, req, ino, size);
	if (drfsd_is_stats(ino)) { /* no attributes */
		if (size)
			fuse_reply_buf(req, NULL, 0);
		else
			fuse_reply_xattr(req, 0);
		return;
	}
	char *buf = NULL;
	int ret;

	if (size) {
		buf = malloc(size);
		if (!buf) {
			drfsd_reply_err(req, -ENOMEM);
			return;
		}
	}
	ret = drfs_listxattr(ctx_of(req)->fs, ino, buf, size);
	if (ret < 0)
		drfsd_reply_err(req, ret);
	else if (size)
		fuse_reply_buf(req, buf, (size_t)ret);
	else
		fuse_reply_xattr(req, (size_t)ret);
	free(buf);
}

static void drfs_op_removexattr(fuse_req_t req, fuse_ino_t ino,
				const char *name)
{
	if (drfsd_is_local(ino)) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	if (drfsd_is_stats(ino)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (!xattr_supported(name)) {
		drfsd_reply_err(req, -ENODATA);
		return;
	}
	drfsd_reply_err(req, drfs_removexattr(ctx_of(req)->fs, ino, name));
}

static void drfs_op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	LOCAL(ino, access, req, ino, mask);
	/* Permissions are checked by the kernel (default_permissions); we
	 * only confirm the inode still exists. */
	struct drfs_attr a;

	(void)mask;
	drfsd_reply_err(req, drfs_getattr(ctx_of(req)->fs, ino, &a));
}

/*
 * Every request holds the cluster connection for reading for its whole
 * duration (see struct drfs_fs): a rejoin after fencing swaps the
 * connection only between requests, so a request never starts with the
 * old (blocklisted) client and goes on with the new one, and the rejoin
 * sees no request half-way through a write-back buffer.  @req may be
 * freed by the reply: the fs pointer is taken first.
 */
#define HELD(op, params, args)                        \
	static void held_##op params                  \
	{                                             \
		struct drfs_fs *fs = ctx_of(req)->fs; \
                                                      \
		drfs_conn_rdlock(fs);                 \
		drfs_op_##op args;                    \
		drfs_conn_unlock(fs);                 \
	}

HELD(lookup, (fuse_req_t req, fuse_ino_t parent, const char *name),
     (req, parent, name))
/* (a node freed here waits for its background batch, which needs the
 * connection: no rejoin may hold it meanwhile) */
HELD(forget, (fuse_req_t req, fuse_ino_t ino, uint64_t nlookup),
     (req, ino, nlookup))
HELD(forget_multi,
     (fuse_req_t req, size_t count, struct fuse_forget_data *forgets),
     (req, count, forgets))
HELD(getattr, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
     (req, ino, fi))
HELD(setattr,
     (fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
      struct fuse_file_info *fi),
     (req, ino, attr, to_set, fi))
HELD(readlink, (fuse_req_t req, fuse_ino_t ino), (req, ino))
HELD(mknod,
     (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
      dev_t rdev),
     (req, parent, name, mode, rdev))
HELD(mkdir, (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode),
     (req, parent, name, mode))
HELD(symlink,
     (fuse_req_t req, const char *link, fuse_ino_t parent, const char *name),
     (req, link, parent, name))
HELD(unlink, (fuse_req_t req, fuse_ino_t parent, const char *name),
     (req, parent, name))
HELD(rmdir, (fuse_req_t req, fuse_ino_t parent, const char *name),
     (req, parent, name))
HELD(rename,
     (fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
      const char *newname, unsigned int flags),
     (req, parent, name, newparent, newname, flags))
HELD(link,
     (fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
      const char *newname),
     (req, ino, newparent, newname))
HELD(open, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
     (req, ino, fi))
HELD(create,
     (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
      struct fuse_file_info *fi),
     (req, parent, name, mode, fi))
HELD(read,
     (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
      struct fuse_file_info *fi),
     (req, ino, size, off, fi))
HELD(write,
     (fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
      struct fuse_file_info *fi),
     (req, ino, buf, size, off, fi))
HELD(flush, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
     (req, ino, fi))
HELD(fsync,
     (fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi),
     (req, ino, datasync, fi))
HELD(release, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
     (req, ino, fi))
HELD(opendir, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
     (req, ino, fi))
HELD(readdir,
     (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
      struct fuse_file_info *fi),
     (req, ino, size, off, fi))
HELD(releasedir, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
     (req, ino, fi))
HELD(fsyncdir,
     (fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi),
     (req, ino, datasync, fi))
HELD(statfs, (fuse_req_t req, fuse_ino_t ino), (req, ino))
HELD(setxattr,
     (fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
      size_t size, int flags),
     (req, ino, name, value, size, flags))
HELD(getxattr, (fuse_req_t req, fuse_ino_t ino, const char *name, size_t size),
     (req, ino, name, size))
HELD(listxattr, (fuse_req_t req, fuse_ino_t ino, size_t size), (req, ino, size))
HELD(removexattr, (fuse_req_t req, fuse_ino_t ino, const char *name),
     (req, ino, name))
HELD(access, (fuse_req_t req, fuse_ino_t ino, int mask), (req, ino, mask))
HELD(getlk,
     (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
      struct flock *lock),
     (req, ino, fi, lock))
HELD(setlk,
     (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
      struct flock *lock, int sleep),
     (req, ino, fi, lock, sleep))
HELD(flock, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int op),
     (req, ino, fi, op))

const struct fuse_lowlevel_ops drfsd_ops = {
	.init = drfs_op_init,
	.destroy = drfs_op_destroy,
	.lookup = held_lookup,
	.forget = held_forget,
	.forget_multi = held_forget_multi,
	.getattr = held_getattr,
	.setattr = held_setattr,
	.readlink = held_readlink,
	.mknod = held_mknod,
	.mkdir = held_mkdir,
	.symlink = held_symlink,
	.unlink = held_unlink,
	.rmdir = held_rmdir,
	.rename = held_rename,
	.link = held_link,
	.open = held_open,
	.create = held_create,
	.read = held_read,
	.write = held_write,
	.flush = held_flush,
	.fsync = held_fsync,
	.release = held_release,
	.opendir = held_opendir,
	.readdir = held_readdir,
	.releasedir = held_releasedir,
	.fsyncdir = held_fsyncdir,
	.statfs = held_statfs,
	.setxattr = held_setxattr,
	.getxattr = held_getxattr,
	.listxattr = held_listxattr,
	.removexattr = held_removexattr,
	.access = held_access,
	.getlk = held_getlk,
	.setlk = held_setlk,
	.flock = held_flock,
};
