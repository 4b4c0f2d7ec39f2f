/*
 * ns.c - the shared namespace on RADOS.
 *
 * Directories are omap maps name -> dentry on the directory's inode object;
 * inodes are objects of their own ("i.<ino>"), so hard links are plain
 * extra entries and an inode number always resolves to one object, however
 * other nodes rename it.
 *
 * Crash consistency comes from ordering and guards, never from a journal:
 *  - create: the inode object is created first (exclusive), the entry is
 *    added last by a guarded op on the parent (omap_cmp "name absent",
 *    "/dead absent", object exists).  A crash leaves at worst an orphan
 *    inode, which fsck reclaims.
 *  - unlink: the entry is removed (guarded on its exact value), then nlink
 *    is decremented (compare-and-swap on xattr "a"); a crash leaves an
 *    nlink that is too high, which fsck corrects.
 *  - rmdir: the child is first marked "/dead" with assert_version (so no
 *    create can slip in after the emptiness check), then unlinked, then
 *    removed.  A linked dead directory is an rmdir to roll forward.
 *  - rename in one directory: one compound op on that directory.
 *  - rename across directories: an intent object first, then the new entry,
 *    then the removal of the old entry, then the intent is deleted;
 *    drfs_intents_recover() rolls stale intents forward or back.
 *
 * omap_cmp against a missing key compares with an empty value, so
 * "value == ''" is our "key absent" guard (values are never empty).  Checked
 * on Ceph 16: creates succeed at all only if a missing key passes, and the
 * cross-node O_EXCL race in t0300-two-node.sh fails if a present one does.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <linux/fs.h>
#include <sys/xattr.h>

#include "fs.h"
#include "internal.h"
#include "log.h"
#include "mdcache.h"

#define XATTR_PREFIX DRFS_XATTR_PREFIX
#define DEAD_KEY DRFS_DEAD_KEY

static uint8_t mode_to_dt(uint32_t mode)
{
	return (uint8_t)((mode & S_IFMT) >> 12);
}

/* ---- inode attributes ---- */

/* Raw "a" value as read, for compare-and-swap. */
struct raw_attr {
	char a[DRFS_ATTR_LEN];
	size_t alen;
	bool have_t;
};

static int parse_xattrs(uint64_t ino, rados_xattrs_iter_t it,
			struct drfs_attr *a, struct raw_attr *raw, char *link,
			size_t linksz)
{
	const char *name, *val;
	size_t len;
	bool have_a = false, have_t = false;
	int ret;

	while (drfs_xattrs_next(it, &name, &val, &len) == 0 && name) {
		if (!strcmp(name, "a")) {
			ret = drfs_attr_decode(val, len, a);
			if (ret < 0) {
				drfs_err("inode %" PRIx64 ": attribute record "
					 "fails its checksum",
					 ino);
				return -EIO;
			}
			if (raw) {
				memcpy(raw->a, val, len);
				raw->alen = len;
			}
			have_a = true;
		} else if (!strcmp(name, "t")) {
			ret = drfs_times_decode(val, len, &a->mtime_ns,
						&a->ctime_ns);
			if (ret < 0) {
				drfs_err("inode %" PRIx64
					 ": times record fails "
					 "its checksum",
					 ino);
				return -EIO;
			}
			have_t = true;
		} else if ((!strcmp(name, "l") || !strcmp(name, "h")) && link) {
			/* "l": a symlink's target; "h": the SHA-1 of pool
			 * content (filedir.c).  An inode has one or neither. */
			size_t n = len < linksz - 1 ? len : linksz - 1;

			memcpy(link, val, n);
			link[n] = 0;
		}
	}
	if (!have_a || !have_t) {
		drfs_err("inode %" PRIx64 ": object has no %s record", ino,
			 have_a ? "times" : "attribute");
		return -EIO;
	}
	if (a->ino != ino) {
		drfs_err("inode %" PRIx64
			 ": attribute record names inode %" PRIx64,
			 ino, a->ino);
		return -EIO;
	}
	if (raw)
		raw->have_t = have_t;
	return 0;
}

static int inode_read_ver(struct drfs_fs *fs, uint64_t ino, struct drfs_attr *a,
			  struct raw_attr *raw, char *link, size_t linksz,
			  uint64_t *ver)
{
	char oid[DRFS_OID_MAX];
	rados_read_op_t op = drfs_rd_new();
	rados_xattrs_iter_t it = NULL;
	int prval = 0, ret;

	drfs_oid(oid, ino, 0);
	drfs_rd_xattrs(op, &it, &prval);
	ret = drfs_rop(fs, oid, op, ver);
	if (ret == 0)
		ret = parse_xattrs(ino, it, a, raw, link, linksz);
	if (it)
		drfs_xattrs_end(it);
	drfs_rd_free(op);
	return ret;
}

int drfs_inode_read_ver(struct drfs_fs *fs, uint64_t ino, struct drfs_attr *a,
			uint64_t *ver)
{
	return inode_read_ver(fs, ino, a, NULL, NULL, 0, ver);
}

static int inode_read(struct drfs_fs *fs, uint64_t ino, struct drfs_attr *a,
		      struct raw_attr *raw, char *link, size_t linksz)
{
	return inode_read_ver(fs, ino, a, raw, link, linksz, NULL);
}

/*
 * Attributes (and with @sha the content hash) through the node's metadata
 * cache: a hit costs no RADOS op; a miss reads the inode object and stores
 * what it read unless an invalidation raced the read (mdcache.h).
 */
static int inode_get(struct drfs_fs *fs, uint64_t ino, struct drfs_attr *a,
		     char *sha)
{
	bool cached = fs->mdc && drfs_inval_trusted(fs);
	uint64_t ticket = 0;
	int ret;

	if (sha)
		sha[0] = 0;
	if (cached) {
		if (drfs_mdc_attr_get(fs->mdc, ino, a, sha)) {
			drfs_stat_add(fs, DRFS_ST_MDC_HIT, 1);
			return 0;
		}
		drfs_stat_add(fs, DRFS_ST_MDC_MISS, 1);
		ticket = drfs_mdc_ticket(fs->mdc);
	}
	ret = inode_read(fs, ino, a, NULL, sha, sha ? 41 : 0);
	if (ret == 0 && cached)
		drfs_mdc_attr_put(fs->mdc, ticket, a, sha);
	return ret;
}

int drfs_getattr_hash(struct drfs_fs *fs, uint64_t ino, struct drfs_attr *a,
		      char sha[41])
{
	return inode_get(fs, ino, a, sha);
}

int drfs_getattr(struct drfs_fs *fs, uint64_t ino, struct drfs_attr *a)
{
	return inode_get(fs, ino, a, NULL);
}

/*
 * Compare-and-swap the attributes of @ino: @fn edits a copy (returning
 * -errno to abort, 1 for "nothing to change"); times are written whenever
 * mtime/ctime differ from what was read.
 */
typedef int (*attr_fn)(struct drfs_attr *a, void *ctx);

static int attr_update(struct drfs_fs *fs, uint64_t ino, attr_fn fn, void *ctx,
		       struct drfs_attr *out)
{
	char oid[DRFS_OID_MAX];

	drfs_oid(oid, ino, 0);
	for (int round = 0;; round++) {
		struct drfs_attr a, old;
		struct raw_attr raw;
		char abuf[DRFS_ATTR_LEN], tbuf[DRFS_TIMES_LEN];
		rados_write_op_t op;
		uint64_t t0;
		int ret;

		/* First try: the cached attributes are the compare value (the
		 * record is their encoding); a mismatch fails the CAS and the
		 * next round reads the object. */
		if (round == 0 && fs->mdc && drfs_inval_trusted(fs) &&
		    drfs_mdc_attr_get(fs->mdc, ino, &a, NULL)) {
			drfs_attr_encode(&a, raw.a);
			raw.alen = DRFS_ATTR_LEN;
			raw.have_t = true;
		} else {
			ret = inode_read(fs, ino, &a, &raw, NULL, 0);
			if (ret < 0)
				return ret;
		}
		old = a;
		ret = fn(&a, ctx);
		if (ret < 0)
			return ret;
		if (ret == 1) {
			if (out)
				*out = a;
			return 0;
		}
		drfs_attr_encode(&a, abuf);
		op = drfs_wop_new();
		drfs_op_assert_exists(op);
		if (memcmp(abuf, raw.a, sizeof(abuf))) {
			drfs_op_cmpxattr(op, "a", raw.a, raw.alen);
			drfs_op_setxattr(op, "a", abuf, sizeof(abuf));
		}
		if (a.mtime_ns != old.mtime_ns || a.ctime_ns != old.ctime_ns) {
			drfs_times_encode(a.mtime_ns, a.ctime_ns, tbuf);
			drfs_op_setxattr(op, "t", tbuf, sizeof(tbuf));
		}
		if (S_ISREG(a.mode))
			drfs_op_drop_records(op, old.size, a.size);
		/* A cached compare value: the object must also still exist
		 * with the record we think it has (guarded above only when
		 * "a" changes). */
		if (round == 0 && !memcmp(abuf, raw.a, sizeof(abuf)))
			drfs_op_cmpxattr(op, "a", raw.a, raw.alen);
		t0 = drfs_own_begin(fs);
		/* Deleting attrs never needs space: allow it on a full pool. */
		ret = drfs_wop(fs, oid, op, 0);
		drfs_wop_free(op);
		if (ret == -ECANCELED) {
			drfs_stat_add(fs, DRFS_ST_RADOS_RETRY, 1);
			continue;
		}
		if (ret == 0 && (t0 = drfs_own_ticket(fs, t0)))
			drfs_mdc_attr_put(fs->mdc, t0, &a, NULL);
		if (ret == 0 && out)
			*out = a;
		return ret;
	}
}

int drfs_attr_edit(struct drfs_fs *fs, uint64_t ino,
		   int (*fn)(struct drfs_attr *a, void *ctx), void *ctx)
{
	return attr_update(fs, ino, fn, ctx, NULL);
}

static int touch_ctime(struct drfs_attr *a, void *ctx)
{
	(void)ctx;
	a->ctime_ns = drfs_now_ns();
	return 0;
}

struct nlink_ctx {
	int delta;
	bool dir_only_parent; /* no ctime change (subdir count of parent) */
	int64_t now;
};

static int nlink_fn(struct drfs_attr *a, void *ctx)
{
	struct nlink_ctx *c = ctx;

	if (c->delta < 0 && a->nlink == 0)
		return 1;
	if (c->delta > 0 && a->nlink >= 65000)
		return -EMLINK;
	a->nlink = (uint32_t)((int)a->nlink + c->delta);
	if (!c->dir_only_parent)
		a->ctime_ns = c->now;
	return 0;
}

int drfs_nlink_add(struct drfs_fs *fs, uint64_t ino, int delta, bool no_ctime,
		   struct drfs_attr *out)
{
	struct nlink_ctx c = {delta, no_ctime, drfs_now_ns()};

	return attr_update(fs, ino, nlink_fn, &c, out);
}

static int parent_fn(struct drfs_attr *a, void *ctx)
{
	a->parent = *(uint64_t *)ctx;
	a->ctime_ns = drfs_now_ns();
	return 0;
}

int drfs_set_parent(struct drfs_fs *fs, uint64_t ino, uint64_t parent)
{
	return attr_update(fs, ino, parent_fn, &parent, NULL);
}

/* ---- directory entries ---- */

/* Read one omap value of inode object @dir (see drfs_omap_get). */
static int omap_get_one(struct drfs_fs *fs, uint64_t dir, const char *key,
			char *val, size_t size, size_t *len)
{
	char oid[DRFS_OID_MAX];

	drfs_oid(oid, dir, 0);
	return drfs_omap_get(fs, oid, key, val, size, len);
}

int drfs_entry_get(struct drfs_fs *fs, uint64_t dir, const char *name,
		   char raw[DRFS_DENTRY_LEN], struct drfs_dentry *d)
{
	char buf[DRFS_DENTRY_LEN];
	size_t len = 0;
	int ret = omap_get_one(fs, dir, name, buf, sizeof(buf), &len);

	if (ret < 0)
		return ret;
	if (len != DRFS_DENTRY_LEN || drfs_dentry_decode(buf, len, d) < 0) {
		drfs_err("directory %" PRIx64 ": entry '%s' fails its checksum",
			 dir, name);
		return -EIO;
	}
	memcpy(raw, buf, DRFS_DENTRY_LEN);
	return 0;
}

struct raw_dentry {
	char v[DRFS_DENTRY_LEN];
	struct drfs_dentry d;
};

static int dir_get(struct drfs_fs *fs, uint64_t dir, const char *name,
		   struct raw_dentry *out)
{
	return drfs_entry_get(fs, dir, name, out->v, &out->d);
}

/*
 * An entry for a guarded change of it: from the metadata cache when
 * @cached and it has one (the raw value is its encoding; a stale one only
 * fails the guard, and the caller's next round reads the directory), else
 * read.
 */
static int dir_get_cached(struct drfs_fs *fs, uint64_t dir, const char *name,
			  struct raw_dentry *out, bool cached)
{
	uint64_t ino;
	uint8_t type;

	if (cached && fs->mdc && drfs_inval_trusted(fs) &&
	    drfs_mdc_entry_get(fs->mdc, dir, name, &ino, &type)) {
		drfs_stat_add(fs, DRFS_ST_MDC_HIT, 1);
		if (!ino)
			return -ENOENT;
		out->d.ino = ino;
		out->d.type = type;
		drfs_dentry_encode(&out->d, out->v);
		return 0;
	}
	return dir_get(fs, dir, name, out);
}

/* Is the directory object there and not dying?  0, -ENOENT or -errno. */
int drfs_dir_is_alive(struct drfs_fs *fs, uint64_t dir)
{
	char buf[8];
	size_t len;
	int ret = omap_get_one(fs, dir, DEAD_KEY, buf, sizeof(buf), &len);

	if (ret == 0)
		return -ENOENT; /* marked dead */
	if (ret == -ENOENT) {
		/* key absent: alive, if the object itself exists */
		char oid[DRFS_OID_MAX];
		uint64_t size;

		drfs_oid(oid, dir, 0);
		return drfs_obj_stat(fs, oid, &size);
	}
	return ret;
}

/*
 * After a guarded insert of @name into @dir failed: EEXIST if the name is
 * taken, ENOENT if the directory died, 0 to retry.
 */
static int insert_failed(struct drfs_fs *fs, uint64_t dir, const char *name)
{
	struct raw_dentry rd;
	int ret = dir_get(fs, dir, name, &rd);

	if (ret == 0)
		return -EEXIST;
	if (ret != -ENOENT)
		return ret;
	ret = drfs_dir_is_alive(fs, dir);
	return ret < 0 ? ret : 0;
}

int drfs_lookup(struct drfs_fs *fs, uint64_t parent, const char *name,
		struct drfs_attr *a)
{
	struct raw_dentry rd = {0};
	bool cached = fs->mdc && drfs_inval_trusted(fs);
	uint64_t ticket = 0;
	int ret;

	if (strlen(name) > 255)
		return -ENAMETOOLONG;
	if (cached) {
		uint64_t ino;
		uint8_t type;

		if (drfs_mdc_entry_get(fs->mdc, parent, name, &ino, &type)) {
			drfs_stat_add(fs, DRFS_ST_MDC_HIT, 1);
			if (!ino)
				return -ENOENT;
			ret = drfs_getattr(fs, ino, a);
			if (ret != -ENOENT)
				return ret;
			/* gone meanwhile: ask the directory again */
		} else {
			drfs_stat_add(fs, DRFS_ST_MDC_MISS, 1);
		}
		ticket = drfs_mdc_ticket(fs->mdc);
	}
	ret = dir_get(fs, parent, name, &rd);
	if (cached && (ret == 0 || ret == -ENOENT))
		drfs_mdc_entry_put(fs->mdc, ticket, parent, name,
				   ret == 0 ? rd.d.ino : 0, rd.d.type);
	if (ret < 0)
		return ret;
	ret = drfs_getattr(fs, rd.d.ino, a);
	if (ret == -ENOENT) {
		/* Unlinked between the two reads, or a dangling entry. */
		struct raw_dentry again;

		if (dir_get(fs, parent, name, &again) == 0 &&
		    again.d.ino == rd.d.ino) {
			drfs_err("directory %" PRIx64 ": entry '%s' points to "
				 "missing inode %" PRIx64 " (run fsck)",
				 parent, name, rd.d.ino);
			return -EIO;
		}
	}
	return ret;
}

/* ---- create ---- */

static int inode_object_create(struct drfs_fs *fs, const struct drfs_attr *a,
			       const char *target)
{
	char oid[DRFS_OID_MAX], abuf[DRFS_ATTR_LEN], tbuf[DRFS_TIMES_LEN];
	rados_write_op_t op = drfs_wop_new();
	int ret;

	drfs_oid(oid, a->ino, 0);
	drfs_attr_encode(a, abuf);
	drfs_times_encode(a->mtime_ns, a->ctime_ns, tbuf);
	drfs_op_create(op, true);
	drfs_op_setxattr(op, "a", abuf, sizeof(abuf));
	drfs_op_setxattr(op, "t", tbuf, sizeof(tbuf));
	if (target)
		drfs_op_setxattr(op, "l", target, strlen(target));
	ret = drfs_wop(fs, oid, op, 0);
	drfs_wop_free(op);
	return ret;
}

static int inode_object_remove(struct drfs_fs *fs, uint64_t ino)
{
	char oid[DRFS_OID_MAX];
	int ret;

	drfs_oid(oid, ino, 0);
	ret = drfs_remove(fs, oid);
	return ret == -ENOENT ? 0 : ret;
}

/*
 * Into @op on a directory object: entry @name -> (@ino, @dt), only if the
 * directory is alive and the name free; its mtime and ctime to @now.
 * @dval and @pr (the guards' results) must live until the op has run.
 */
static void op_entry_insert(rados_write_op_t op, const char *name, uint64_t ino,
			    uint8_t dt, int64_t now, char dval[DRFS_DENTRY_LEN],
			    int pr[2])
{
	struct drfs_dentry d = {ino, dt};

	drfs_dentry_encode(&d, dval);
	drfs_op_assert_exists(op);
	drfs_op_cmp(op, DEAD_KEY, "", 0, &pr[0]);
	drfs_op_cmp(op, name, "", 0, &pr[1]);
	drfs_op_set(op, name, dval, DRFS_DENTRY_LEN);
	drfs_op_times(op, now);
}

static int create_do(struct drfs_fs *fs, uint64_t parent, const char *name,
		     uint32_t mode, uint64_t rdev, uint32_t uid, uint32_t gid,
		     const char *target, bool excl, struct drfs_attr *out,
		     bool *created)
{
	char oid[DRFS_OID_MAX], dval[DRFS_DENTRY_LEN];
	struct drfs_attr pa, a = {0};
	struct raw_attr praw;
	bool isdir = S_ISDIR(mode);
	uint64_t t0 = 0;
	int ret;

	*created = false;
	ret = drfs_name_check(name);
	if (ret < 0)
		return ret;
	if (target && strlen(target) >= 4096)
		return -ENAMETOOLONG;
	drfs_oid(oid, parent, 0);
again:
	/* a new subdirectory changes the parent's link count (CAS on the
	 * raw record); a file needs only its mode and group: cached */
	ret = isdir ? inode_read(fs, parent, &pa, &praw, NULL, 0)
		    : inode_get(fs, parent, &pa, NULL);
	if (ret < 0)
		return ret;
	if (!S_ISDIR(pa.mode))
		return -ENOTDIR;
	if (!a.ino) {
		ret = drfs_ino_alloc(fs, &a.ino);
		if (ret < 0)
			return ret;
	}
	a.mode = mode;
	a.uid = uid;
	a.gid = gid;
	/* setgid directories: the group comes from the directory, and
	 * subdirectories inherit the bit (as Linux filesystems do). */
	if (pa.mode & S_ISGID) {
		a.gid = pa.gid;
		if (isdir)
			a.mode |= S_ISGID;
	}
	a.rdev = rdev;
	a.parent = parent;
	a.nlink = isdir ? 2 : 1;
	a.size = target ? strlen(target) : 0;
	a.atime_ns = a.mtime_ns = a.ctime_ns = a.btime_ns = drfs_now_ns();
	t0 = drfs_own_begin(fs);
	ret = inode_object_create(fs, &a, target);
	if (ret == -EEXIST) {
		/* An object from a previous attempt of ours: replace it. */
		inode_object_remove(fs, a.ino);
		ret = inode_object_create(fs, &a, target);
	}
	if (ret < 0)
		return ret;

	drfs_fault("create-before-link");
	/* Link it: one guarded op on the parent. */
	{
		rados_write_op_t op = drfs_wop_new();
		int pr[2] = {0, 0};

		op_entry_insert(op, name, a.ino, mode_to_dt(mode), a.ctime_ns,
				dval, pr);
		if (isdir) {
			/* The new subdirectory's ".." counts in the parent. */
			char abuf[DRFS_ATTR_LEN];

			pa.nlink++;
			drfs_attr_encode(&pa, abuf);
			drfs_op_cmpxattr(op, "a", praw.a, praw.alen);
			drfs_op_setxattr(op, "a", abuf, sizeof(abuf));
		}
		ret = drfs_wop(fs, oid, op, 0);
		drfs_wop_free(op);
	}
	if (ret == -ECANCELED) {
		drfs_stat_add(fs, DRFS_ST_RADOS_RETRY, 1);
		ret = insert_failed(fs, parent, name);
		if (ret == 0)
			goto again;
	}
	if (ret < 0) {
		inode_object_remove(fs, a.ino);
		if (ret == -EEXIST && !excl && S_ISREG(mode)) {
			/* O_CREAT without O_EXCL lost a race: open the
			 * winner's file. */
			ret = drfs_lookup(fs, parent, name, out);
			if (ret == 0 && S_ISDIR(out->mode))
				ret = -EISDIR;
			return ret == -ENOENT ? -EAGAIN : ret;
		}
		return ret;
	}
	/* what we just made is what the next lookup here would read */
	t0 = drfs_own_ticket(fs, t0);
	if (t0 && !target) {
		drfs_mdc_attr_put(fs->mdc, t0, &a, NULL);
		drfs_mdc_entry_put(fs->mdc, t0, parent, name, a.ino,
				   mode_to_dt(mode));
	}
	*out = a;
	*created = true;
	return 0;
}

int drfs_create(struct drfs_fs *fs, uint64_t parent, const char *name,
		uint32_t mode, uint64_t rdev, uint32_t uid, uint32_t gid,
		const char *target, bool excl, struct drfs_attr *out,
		bool *created)
{
	drfs_inval_begin(fs);
	return drfs_inval_finish(fs,
				 create_do(fs, parent, name, mode, rdev, uid,
					   gid, target, excl, out, created));
}

/* ---- unlink, rmdir ---- */

static int entry_remove(struct drfs_fs *fs, uint64_t dir, const char *name,
			const struct raw_dentry *rd)
{
	char oid[DRFS_OID_MAX];
	rados_write_op_t op = drfs_wop_new();
	int pr = 0, ret;

	drfs_oid(oid, dir, 0);
	drfs_op_assert_exists(op);
	drfs_op_cmp(op, name, rd->v, DRFS_DENTRY_LEN, &pr);
	drfs_op_rm(op, name);
	drfs_op_times(op, drfs_now_ns());
	/* Removing names must work on a full pool. */
	ret = drfs_wop(fs, oid, op, LIBRADOS_OPERATION_FULL_FORCE);
	drfs_wop_free(op);
	return ret;
}

static int unlink_do(struct drfs_fs *fs, uint64_t parent, const char *name,
		     uint64_t *gone_ino, uint32_t *gone_nlink)
{
	struct raw_dentry rd;
	struct drfs_attr a;
	int ret;

	for (int round = 0;; round++) {
		ret = dir_get_cached(fs, parent, name, &rd, round == 0);
		if (ret < 0)
			return ret;
		if (rd.d.type == DT_DIR)
			return -EISDIR;
		ret = entry_remove(fs, parent, name, &rd);
		if (ret != -ECANCELED)
			break;
		drfs_stat_add(fs, DRFS_ST_RADOS_RETRY, 1);
	}
	if (ret < 0)
		return ret;
	drfs_fault("unlink-before-nlink");
	ret = drfs_nlink_add(fs, rd.d.ino, -1, false, &a);
	*gone_ino = rd.d.ino;
	*gone_nlink = ret == 0 ? a.nlink : 0;
	if (ret == -ENOENT)
		ret = 0;
	return ret;
}

int drfs_unlink(struct drfs_fs *fs, uint64_t parent, const char *name,
		uint64_t *gone_ino, uint32_t *gone_nlink)
{
	drfs_inval_begin(fs);
	return drfs_inval_finish(
		fs, unlink_do(fs, parent, name, gone_ino, gone_nlink));
}

/* A listing key of a directory: 1 (stop) for a name. */
static int dir_key_is_name(void *ctx, const char *key, size_t klen,
			   const char *val, size_t vlen)
{
	(void)ctx;
	(void)klen;
	(void)val;
	(void)vlen;
	/* Special keys start with '/', which no name contains. */
	return key[0] != '/';
}

/*
 * Mark directory @dir dead if it is empty: no entry can be added to it
 * afterwards.  -ENOTEMPTY if it has entries.
 */
int drfs_dir_kill(struct drfs_fs *fs, uint64_t dir)
{
	char oid[DRFS_OID_MAX];

	drfs_oid(oid, dir, 0);
	for (;;) {
		uint64_t ver = 0;
		const struct drfs_omap_list l = {.page = 256, .ver = &ver};
		rados_write_op_t wop;
		int ret = drfs_omap_list(fs, oid, &l, dir_key_is_name, NULL);

		if (ret > 0)
			return -ENOTEMPTY;
		if (ret < 0)
			return ret;
		/* empty as of version @ver: mark it unless it changed */
		wop = drfs_wop_new();
		drfs_op_assert_version(wop, ver);
		drfs_op_set(wop, DEAD_KEY, "1", 1);
		ret = drfs_wop(fs, oid, wop, LIBRADOS_OPERATION_FULL_FORCE);
		drfs_wop_free(wop);
		if (ret == -ERANGE || ret == -EOVERFLOW) {
			drfs_stat_add(fs, DRFS_ST_RADOS_RETRY, 1);
			continue;
		}
		return ret;
	}
}

void drfs_dir_revive(struct drfs_fs *fs, uint64_t dir)
{
	char oid[DRFS_OID_MAX];
	rados_write_op_t op = drfs_wop_new();

	drfs_oid(oid, dir, 0);
	drfs_op_assert_exists(op);
	drfs_op_rm(op, DEAD_KEY);
	drfs_wop(fs, oid, op, LIBRADOS_OPERATION_FULL_FORCE);
	drfs_wop_free(op);
}

static int rmdir_do(struct drfs_fs *fs, uint64_t parent, const char *name)
{
	struct raw_dentry rd;
	int ret;

	if (!strcmp(name, "."))
		return -EINVAL;
	if (!strcmp(name, ".."))
		return -ENOTEMPTY;
	ret = dir_get(fs, parent, name, &rd);
	if (ret < 0)
		return ret;
	if (rd.d.type != DT_DIR)
		return -ENOTDIR;
	ret = drfs_dir_kill(fs, rd.d.ino);
	if (ret < 0)
		return ret == -ENOENT ? -ENOENT : ret;
	ret = entry_remove(fs, parent, name, &rd);
	if (ret < 0) {
		drfs_dir_revive(fs, rd.d.ino);
		return ret == -ECANCELED ? -ENOENT : ret;
	}
	drfs_nlink_add(fs, parent, -1, true, NULL);
	return inode_object_remove(fs, rd.d.ino);
}

int drfs_rmdir(struct drfs_fs *fs, uint64_t parent, const char *name)
{
	drfs_inval_begin(fs);
	return drfs_inval_finish(fs, rmdir_do(fs, parent, name));
}

/* ---- link, symlink ---- */

static int link_do(struct drfs_fs *fs, uint64_t ino, uint64_t parent,
		   const char *name, struct drfs_attr *out)
{
	char oid[DRFS_OID_MAX], dval[DRFS_DENTRY_LEN];
	struct drfs_attr a;
	int ret;

	ret = drfs_name_check(name);
	if (ret < 0)
		return ret;
	ret = drfs_getattr(fs, ino, &a);
	if (ret < 0)
		return ret;
	if (S_ISDIR(a.mode))
		return -EPERM;
	/* Count first, link last: a crash leaves nlink too high. */
	ret = drfs_nlink_add(fs, ino, 1, false, &a);
	if (ret < 0)
		return ret;
	drfs_oid(oid, parent, 0);
	for (;;) {
		rados_write_op_t op = drfs_wop_new();
		int pr[2] = {0, 0};

		op_entry_insert(op, name, ino, mode_to_dt(a.mode), a.ctime_ns,
				dval, pr);
		ret = drfs_wop(fs, oid, op, 0);
		drfs_wop_free(op);
		if (ret != -ECANCELED)
			break;
		ret = insert_failed(fs, parent, name);
		if (ret < 0)
			break;
	}
	if (ret < 0) {
		drfs_nlink_add(fs, ino, -1, false, NULL);
		return ret;
	}
	*out = a;
	return 0;
}

int drfs_link(struct drfs_fs *fs, uint64_t ino, uint64_t parent,
	      const char *name, struct drfs_attr *out)
{
	drfs_inval_begin(fs);
	return drfs_inval_finish(fs, link_do(fs, ino, parent, name, out));
}

int drfs_readlink(struct drfs_fs *fs, uint64_t ino, char *buf, size_t size)
{
	struct drfs_attr a;
	int ret;

	buf[0] = 0;
	ret = inode_read(fs, ino, &a, NULL, buf, size);
	if (ret < 0)
		return ret;
	if (!S_ISLNK(a.mode))
		return -EINVAL;
	return (int)strlen(buf);
}

/* ---- readdir ---- */

struct readdir_ctx {
	struct drfs_fs *fs;
	uint64_t dir;
	drfs_dir_cb cb;
	void *ctx;
	int n; /* names delivered */
	char cursor[300]; /* the last key seen */
};

/* One key of a readdir page: 1 when the caller's callback says stop. */
static int readdir_key(void *arg, const char *key, size_t klen, const char *val,
		       size_t vlen)
{
	struct readdir_ctx *c = arg;
	struct drfs_dentry d;

	snprintf(c->cursor, sizeof(c->cursor), "%s", key);
	if (key[0] == '/' || klen > 255)
		return 0;
	if (drfs_dentry_decode(val, vlen, &d) < 0) {
		drfs_stat_add(c->fs, DRFS_ST_CSUM_ERR, 1);
		drfs_err("directory %" PRIx64 ": entry '%s' "
			 "fails its checksum; not listed",
			 c->dir, key);
		return 0;
	}
	c->n++;
	return c->cb(c->ctx, key, d.ino, d.type) ? 1 : 0;
}

int drfs_readdir(struct drfs_fs *fs, uint64_t dir, const char *after,
		 unsigned max, drfs_dir_cb cb, void *ctx, bool *more)
{
	char oid[DRFS_OID_MAX];
	struct readdir_ctx c = {fs, dir, cb, ctx, 0, ""};
	int ret = 0;

	drfs_oid(oid, dir, 0);
	snprintf(c.cursor, sizeof(c.cursor), "%s", after ? after : "");
	/* Pages of @max keys by cookie, one read each.  Special keys
	 * ("/dead", "/x/...") are skipped; keep paging until a name was
	 * delivered or the directory ends. */
	do {
		const struct drfs_omap_list l = {.after = c.cursor,
						 .page = max,
						 .pages = 1,
						 .more = more};

		*more = false;
		ret = drfs_omap_list(fs, oid, &l, readdir_key, &c);
		if (ret > 0) { /* the callback stopped */
			*more = true;
			ret = 0;
			break;
		}
	} while (ret == 0 && c.n == 0 && *more);
	return ret < 0 ? ret : c.n;
}

/* ---- setattr ---- */

struct setattr_ctx {
	const struct drfs_setattr *sa;
	int64_t now;
};

static int setattr_fn(struct drfs_attr *a, void *ctx)
{
	struct setattr_ctx *c = ctx;
	const struct drfs_setattr *sa = c->sa;

	if (sa->valid & DRFS_SA_MODE)
		a->mode = (a->mode & S_IFMT) | (sa->mode & 07777);
	if (sa->valid & DRFS_SA_UID)
		a->uid = sa->uid;
	if (sa->valid & DRFS_SA_GID)
		a->gid = sa->gid;
	if (sa->valid & DRFS_SA_SIZE) {
		/* sealed since the caller looked (a filedir rename on
		 * another node): checked again under the CAS */
		if (a->flags & DRFS_IF_IMMUTABLE)
			return -EPERM;
		/* as Linux: a truncate always stamps mtime */
		a->mtime_ns = c->now;
		a->size = sa->size;
	}
	if (sa->valid & DRFS_SA_ATIME_NOW)
		a->atime_ns = c->now;
	else if (sa->valid & DRFS_SA_ATIME)
		a->atime_ns = sa->atime_ns;
	if (sa->valid & DRFS_SA_MTIME_NOW)
		a->mtime_ns = c->now;
	else if (sa->valid & DRFS_SA_MTIME)
		a->mtime_ns = sa->mtime_ns;
	a->ctime_ns = c->now;
	return 0;
}

static int setattr_do(struct drfs_fs *fs, uint64_t ino,
		      const struct drfs_setattr *sa, struct drfs_attr *out)
{
	struct setattr_ctx c = {sa, drfs_now_ns()};
	int ret;

	while (sa->valid & DRFS_SA_SIZE) {
		struct drfs_attr a;
		uint64_t ver = 0;

		/* from the object, not the cache, with its version: the trim
		 * below destroys data, and must not once the file has been
		 * sealed (a filedir rename on another node, see Moodle's
		 * fixed tmp name per hash) or written since we looked */
		ret = inode_read_ver(fs, ino, &a, NULL, NULL, 0, &ver);
		if (ret < 0)
			return ret;
		if (S_ISDIR(a.mode))
			return -EISDIR;
		if (!S_ISREG(a.mode))
			return -EINVAL;
		if (a.flags & DRFS_IF_IMMUTABLE)
			return -EPERM;
		/* Shrink: the new attributes go with the cut, in one op
		 * guarded by the version read here (drfs_trim_at). */
		if (sa->size < a.size) {
			struct drfs_attr na = a;

			ret = setattr_fn(&na, &c);
			if (ret == 0)
				ret = drfs_trim_at(fs, ino, a.size, &na, ver);
			if (ret == -EAGAIN)
				continue;
			if (ret == 0 && out)
				*out = na;
			return ret;
		}
		break;
	}
	return attr_update(fs, ino, setattr_fn, &c, out);
}

int drfs_setattr(struct drfs_fs *fs, uint64_t ino,
		 const struct drfs_setattr *sa, struct drfs_attr *out)
{
	drfs_inval_begin(fs);
	return drfs_inval_finish(fs, setattr_do(fs, ino, sa, out));
}

/* ---- xattrs (omap "/x/<name>" on the inode object) ---- */

static int xattr_key(char *key, size_t sz, const char *name)
{
	size_t n = strlen(name);

	if (n == 0)
		return -EINVAL;
	if (n > 255)
		return -ERANGE;
	snprintf(key, sz, XATTR_PREFIX "%s", name);
	return 0;
}

static int setxattr_do(struct drfs_fs *fs, uint64_t ino, const char *name,
		       const void *val, size_t len, int flags)
{
	char oid[DRFS_OID_MAX], key[300];
	int ret;

	ret = xattr_key(key, sizeof(key), name);
	if (ret < 0)
		return ret;
	if (len > 65536)
		return -E2BIG;
	drfs_oid(oid, ino, 0);
	for (;;) {
		char buf[1];
		rados_write_op_t op;
		int pr = 0, exists;

		exists = drfs_getxattr(fs, ino, name, buf, 0);
		if (exists < 0 && exists != -ENODATA)
			return exists;
		if ((flags & XATTR_CREATE) && exists >= 0)
			return -EEXIST;
		if ((flags & XATTR_REPLACE) && exists < 0)
			return -ENODATA;
		op = drfs_wop_new();
		drfs_op_assert_exists(op);
		if (exists < 0)
			drfs_op_cmp(op, key, "", 0, &pr);
		drfs_op_set(op, key, val, len);
		ret = drfs_wop(fs, oid, op, 0);
		drfs_wop_free(op);
		if (ret != -ECANCELED)
			break;
	}
	if (ret < 0)
		return ret;
	return attr_update(fs, ino, touch_ctime, NULL, NULL);
}

int drfs_setxattr(struct drfs_fs *fs, uint64_t ino, const char *name,
		  const void *val, size_t len, int flags)
{
	drfs_inval_begin(fs);
	return drfs_inval_finish(fs,
				 setxattr_do(fs, ino, name, val, len, flags));
}

int drfs_getxattr(struct drfs_fs *fs, uint64_t ino, const char *name, void *buf,
		  size_t size)
{
	char oid[DRFS_OID_MAX], key[300];
	rados_read_op_t op;
	rados_omap_iter_t it = NULL;
	const char *keys[1] = {key};
	size_t klens[1];
	char *k, *v;
	size_t kl, vl;
	int prval = 0, ret;

	ret = xattr_key(key, sizeof(key), name);
	if (ret < 0)
		return ret == -ERANGE ? -ENODATA : ret;
	klens[0] = strlen(key);
	drfs_oid(oid, ino, 0);
	op = drfs_rd_new();
	drfs_rd_omap_keys(op, keys, 1, klens, &it, &prval);
	ret = drfs_rop(fs, oid, op, NULL);
	if (ret < 0)
		goto out;
	ret = -ENODATA;
	if (drfs_omap_next(it, &k, &v, &kl, &vl) == 0 && k) {
		ret = (int)vl;
		if (size && vl > size)
			ret = -ERANGE;
		else if (size && vl)
			memcpy(buf, v, vl);
	}
out:
	if (it)
		drfs_omap_end(it);
	drfs_rd_free(op);
	return ret;
}

struct listxattr_ctx {
	char *buf;
	size_t size, total;
};

static int listxattr_key(void *arg, const char *key, size_t klen,
			 const char *val, size_t vlen)
{
	struct listxattr_ctx *c = arg;
	size_t n = klen - strlen(XATTR_PREFIX);

	(void)val;
	(void)vlen;
	if (c->size) {
		if (c->total + n + 1 > c->size)
			return -ERANGE;
		memcpy(c->buf + c->total, key + strlen(XATTR_PREFIX), n);
		c->buf[c->total + n] = 0;
	}
	c->total += n + 1;
	return 0;
}

int drfs_listxattr(struct drfs_fs *fs, uint64_t ino, char *buf, size_t size)
{
	char oid[DRFS_OID_MAX];
	const struct drfs_omap_list l = {.prefix = XATTR_PREFIX, .page = 256};
	struct listxattr_ctx c = {buf, size, 0};
	int ret;

	drfs_oid(oid, ino, 0);
	ret = drfs_omap_list(fs, oid, &l, listxattr_key, &c);
	return ret < 0 ? ret : (int)c.total;
}

static int removexattr_do(struct drfs_fs *fs, uint64_t ino, const char *name)
{
	char oid[DRFS_OID_MAX], key[300], buf[1];
	rados_write_op_t op;
	int ret;

	ret = xattr_key(key, sizeof(key), name);
	if (ret < 0)
		return ret == -ERANGE ? -ENODATA : ret;
	ret = drfs_getxattr(fs, ino, name, buf, 0);
	if (ret < 0)
		return ret;
	drfs_oid(oid, ino, 0);
	op = drfs_wop_new();
	drfs_op_assert_exists(op);
	drfs_op_rm(op, key);
	ret = drfs_wop(fs, oid, op, LIBRADOS_OPERATION_FULL_FORCE);
	drfs_wop_free(op);
	if (ret < 0)
		return ret;
	return attr_update(fs, ino, touch_ctime, NULL, NULL);
}

int drfs_removexattr(struct drfs_fs *fs, uint64_t ino, const char *name)
{
	drfs_inval_begin(fs);
	return drfs_inval_finish(fs, removexattr_do(fs, ino, name));
}

/* ---- freeing ---- */

int drfs_inode_free(struct drfs_fs *fs, uint64_t ino)
{
	struct drfs_attr a;
	char sha[41];
	int ret;

	ret = drfs_getattr_hash(fs, ino, &a, sha);
	if (ret == -ENOENT)
		return 0;
	if (ret < 0)
		return ret;
	if (a.nlink > 0)
		return 0; /* linked again (or by another node) */
	if (a.flags & DRFS_IF_KEEP)
		return 0; /* filedir_nodelete: the index keeps it */
	if (sha[0]) {
		/* unindex first: a crash leaves content nobody finds */
		ret = drfs_cas_forget(fs, sha, ino);
		if (ret < 0)
			return ret;
	}
	if (S_ISREG(a.mode) && a.size > DRFS_STRIPE) {
		ret = drfs_trim(fs, ino, a.size, DRFS_STRIPE);
		if (ret < 0)
			return ret;
	}
	return inode_object_remove(fs, ino);
}

int drfs_inode_orphan_free(struct drfs_fs *fs, uint64_t ino)
{
	struct drfs_attr a;
	char sha[41];
	int ret = drfs_getattr_hash(fs, ino, &a, sha);

	if (ret == 0 && sha[0])
		drfs_cas_forget(fs, sha, ino);
	if (ret == 0 && S_ISREG(a.mode) && a.size > 0)
		ret = drfs_trim(fs, ino, a.size, 0);
	if (ret < 0 && ret != -ENOENT && ret != -EIO)
		return ret;
	return inode_object_remove(fs, ino);
}

int drfs_statfs(struct drfs_fs *fs, uint64_t *total_bytes, uint64_t *free_bytes,
		uint64_t *objects)
{
	uint64_t kb, kb_avail;
	int ret = drfs_pool_usage(fs, &kb, &kb_avail, objects);

	if (ret < 0)
		return ret;
	/* Raw cluster capacity, divided by the replica count we cannot see
	 * cheaply here; report the pool's own view: used + raw available
	 * over 3 replicas. */
	*total_bytes = kb * 1024 / 3;
	*free_bytes = kb_avail * 1024 / 3;
	return 0;
}
