/*
 * rename.c - rename(2) and renameat2(2) on the shared namespace.
 *
 * Within one directory a rename is one guarded compound op on that
 * directory: atomic.  Across directories it touches two objects, so:
 *
 *   1. record an intent in the "intents" object (omap key <node>.<seq>);
 *   2. add the new entry in the destination, guarded on the destination's
 *      expected old value ("" = absent) and on the directory being alive;
 *   3. remove (or, for RENAME_EXCHANGE, swap) the source entry, guarded on
 *      its expected value; if that guard fails, undo step 2;
 *   4. fix link counts and the moved directory's parent, delete the intent.
 *
 * A crash between 2 and 3 leaves two names for one inode and an intent;
 * drfs_intents_recover() finishes it (the new entry is in place: roll
 * forward) or drops it (it is not: nothing was applied).
 *
 * Moving a directory to another parent takes the filesystem-wide
 * "renamelock" (cls_lock, 30 s lease so a dead holder cannot wedge us) and
 * checks that the destination is not inside the moved directory, as Linux's
 * s_vfs_rename_mutex does.
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

#include "fs.h"
#include "intent.h"
#include "internal.h"
#include "log.h"

static int entry_get(struct drfs_fs *fs, uint64_t dir, const char *name,
		     struct drfs_rentry *e)
{
	int ret = drfs_entry_get(fs, dir, name, e->v, &e->d);

	e->exists = ret == 0;
	return ret == -ENOENT ? 0 : ret;
}

/* ---- intents (record and verdict: intent.c) ---- */

static int intent_put(struct drfs_fs *fs, const char *key,
		      const struct drfs_intent *in)
{
	char buf[DRFS_INTENT_MAX];
	size_t n = drfs_intent_encode(in, buf);
	rados_write_op_t op = drfs_wop_new();
	int ret;

	drfs_op_create(op, false);
	drfs_op_set(op, key, buf, n);
	ret = drfs_wop(fs, "intents", op, 0);
	drfs_wop_free(op);
	return ret;
}

static void intent_del(struct drfs_fs *fs, const char *key)
{
	rados_write_op_t op = drfs_wop_new();
	int ret;

	drfs_op_rm(op, key);
	ret = drfs_wop(fs, "intents", op, LIBRADOS_OPERATION_FULL_FORCE);
	drfs_wop_free(op);
	if (ret < 0)
		drfs_warn("cannot clear rename intent %s: %s (fsck will)", key,
			  strerror(-ret));
}

/* ---- helpers on directories ---- */

/* Is @dir equal to or below @anc?  Walks the parent pointers. */
static int is_descendant(struct drfs_fs *fs, uint64_t dir, uint64_t anc)
{
	for (int depth = 0; depth < 8192; depth++) {
		struct drfs_attr a;
		int ret;

		if (dir == anc)
			return 1;
		if (dir == DRFS_ROOT_INO)
			return 0;
		ret = drfs_getattr(fs, dir, &a);
		if (ret < 0)
			return ret;
		dir = a.parent;
	}
	return -ELOOP;
}

static int lease_take(struct drfs_fs *fs, char *cookie, size_t sz)
{
	uint64_t seq = __atomic_add_fetch(&fs->intent_seq, 1, __ATOMIC_RELAXED);

	snprintf(cookie, sz, "%s.%" PRIu64, fs->node, seq);
	for (int i = 0;; i++) {
		int ret = drfs_lock_take(fs, "renamelock", "rename", cookie,
					 "directory rename", 30);

		if (ret == 0)
			return 0;
		if (ret != -EBUSY && ret != -EEXIST)
			return ret;
		usleep(i < 100 ? 2000 : 20000);
	}
}

static void lease_drop(struct drfs_fs *fs, const char *cookie)
{
	drfs_lock_drop(fs, "renamelock", "rename", cookie);
}

/* Apply the destination side (step 2). */
static int apply_dst(struct drfs_fs *fs, const struct drfs_intent *in,
		     int64_t now)
{
	char oid[DRFS_OID_MAX];
	rados_write_op_t op = drfs_wop_new();
	int p1 = 0, p2 = 0, ret;

	drfs_oid(oid, in->dp, 0);
	drfs_op_assert_exists(op);
	drfs_op_cmp(op, "/dead", "", 0, &p1);
	drfs_op_cmp(op, in->dname, in->dst.exists ? in->dst.v : "",
		    in->dst.exists ? DRFS_DENTRY_LEN : 0, &p2);
	drfs_op_set(op, in->dname, in->src.v, DRFS_DENTRY_LEN);
	drfs_op_times(op, now);
	ret = drfs_wop(fs, oid, op, 0);
	drfs_wop_free(op);
	return ret;
}

/* Apply the source side (step 3). */
static int apply_src(struct drfs_fs *fs, const struct drfs_intent *in,
		     int64_t now)
{
	char oid[DRFS_OID_MAX];
	rados_write_op_t op = drfs_wop_new();
	int p1 = 0, ret;

	drfs_oid(oid, in->sp, 0);
	drfs_op_assert_exists(op);
	drfs_op_cmp(op, in->sname, in->src.v, DRFS_DENTRY_LEN, &p1);
	if (in->flags & RENAME_EXCHANGE)
		drfs_op_set(op, in->sname, in->dst.v, DRFS_DENTRY_LEN);
	else
		drfs_op_rm(op, in->sname);
	drfs_op_times(op, now);
	ret = drfs_wop(fs, oid, op, LIBRADOS_OPERATION_FULL_FORCE);
	drfs_wop_free(op);
	return ret;
}

/* Undo step 2 if the new entry is still ours. */
static void undo_dst(struct drfs_fs *fs, const struct drfs_intent *in)
{
	char oid[DRFS_OID_MAX];
	rados_write_op_t op = drfs_wop_new();
	int p1 = 0, ret;

	drfs_oid(oid, in->dp, 0);
	drfs_op_cmp(op, in->dname, in->src.v, DRFS_DENTRY_LEN, &p1);
	if (in->dst.exists)
		drfs_op_set(op, in->dname, in->dst.v, DRFS_DENTRY_LEN);
	else
		drfs_op_rm(op, in->dname);
	ret = drfs_wop(fs, oid, op, LIBRADOS_OPERATION_FULL_FORCE);
	drfs_wop_free(op);
	if (ret < 0 && ret != -ECANCELED)
		drfs_err("rename rollback in directory %" PRIx64 " failed: %s",
			 in->dp, strerror(-ret));
}

static int rename_same_dir(struct drfs_fs *fs, const struct drfs_intent *in,
			   int64_t now)
{
	char oid[DRFS_OID_MAX];
	rados_write_op_t op = drfs_wop_new();
	int p1 = 0, p2 = 0, ret;

	drfs_oid(oid, in->sp, 0);
	drfs_op_assert_exists(op);
	drfs_op_cmp(op, in->sname, in->src.v, DRFS_DENTRY_LEN, &p1);
	drfs_op_cmp(op, in->dname, in->dst.exists ? in->dst.v : "",
		    in->dst.exists ? DRFS_DENTRY_LEN : 0, &p2);
	if (in->flags & RENAME_EXCHANGE) {
		drfs_op_set(op, in->sname, in->dst.v, DRFS_DENTRY_LEN);
	} else {
		drfs_op_rm(op, in->sname);
	}
	drfs_op_set(op, in->dname, in->src.v, DRFS_DENTRY_LEN);
	drfs_op_times(op, now);
	ret = drfs_wop(fs, oid, op, 0);
	drfs_wop_free(op);
	return ret;
}

static int rename_do(struct drfs_fs *fs, uint64_t sp, const char *sname,
		     uint64_t dp, const char *dname, unsigned flags,
		     uint64_t *gone_ino, uint32_t *gone_nlink)
{
	struct drfs_intent in;
	char cookie[80], ikey[80];
	int ret;

	*gone_ino = 0;
	*gone_nlink = 0;
	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE))
		return -EINVAL;
	ret = drfs_name_check(dname);
	if (ret < 0)
		return ret;
	if (strlen(sname) > 255)
		return -ENAMETOOLONG;
retry:
	memset(&in, 0, sizeof(in));
	in.sp = sp;
	in.dp = dp;
	in.flags = flags;
	snprintf(in.sname, sizeof(in.sname), "%s", sname);
	snprintf(in.dname, sizeof(in.dname), "%s", dname);
	ret = entry_get(fs, sp, sname, &in.src);
	if (ret < 0)
		return ret;
	if (!in.src.exists)
		return -ENOENT;
	ret = entry_get(fs, dp, dname, &in.dst);
	if (ret < 0)
		return ret;

	bool sdir = in.src.d.type == DT_DIR;
	bool ddir = in.dst.exists && in.dst.d.type == DT_DIR;
	bool leased = false, killed = false;

	if (in.dst.exists && in.dst.d.ino == in.src.d.ino)
		return 0; /* same inode: POSIX says do nothing */
	if ((flags & RENAME_NOREPLACE) && in.dst.exists)
		return -EEXIST;
	if ((flags & RENAME_EXCHANGE) && !in.dst.exists)
		return -ENOENT;
	if (!(flags & RENAME_EXCHANGE) && in.dst.exists) {
		if (sdir && !ddir)
			return -ENOTDIR;
		if (!sdir && ddir)
			return -EISDIR;
	}
	if (sdir && in.src.d.ino == dp)
		return -EINVAL;
	if (sp != dp && (sdir || ((flags & RENAME_EXCHANGE) && ddir))) {
		ret = lease_take(fs, cookie, sizeof(cookie));
		if (ret < 0)
			return ret;
		leased = true;
		if (sdir) {
			ret = is_descendant(fs, dp, in.src.d.ino);
			if (ret != 0) {
				ret = ret > 0 ? -EINVAL : ret;
				goto out;
			}
		}
		if ((flags & RENAME_EXCHANGE) && ddir) {
			ret = is_descendant(fs, sp, in.dst.d.ino);
			if (ret != 0) {
				ret = ret > 0 ? -EINVAL : ret;
				goto out;
			}
		}
	}
	if (!(flags & RENAME_EXCHANGE) && ddir) {
		ret = drfs_dir_kill(fs, in.dst.d.ino);
		if (ret == -ENOENT) {
			if (leased)
				lease_drop(fs, cookie);
			goto retry;
		}
		if (ret < 0)
			goto out;
		killed = true;
	}

	int64_t now = drfs_now_ns();

	if (sp == dp) {
		ret = rename_same_dir(fs, &in, now);
		if (ret == -ECANCELED) {
			if (killed)
				drfs_dir_revive(fs, in.dst.d.ino);
			if (leased)
				lease_drop(fs, cookie);
			drfs_stat_add(fs, DRFS_ST_RADOS_RETRY, 1);
			goto retry;
		}
		if (ret < 0)
			goto out;
	} else {
		in.time_ns = now;
		snprintf(ikey, sizeof(ikey), "%s.%" PRIu64, fs->node,
			 __atomic_add_fetch(&fs->intent_seq, 1,
					    __ATOMIC_RELAXED));
		ret = intent_put(fs, ikey, &in);
		if (ret < 0)
			goto out;
		ret = apply_dst(fs, &in, now);
		if (ret == -ECANCELED) {
			intent_del(fs, ikey);
			if (killed)
				drfs_dir_revive(fs, in.dst.d.ino);
			if (leased)
				lease_drop(fs, cookie);
			ret = drfs_dir_is_alive(fs, dp);
			if (ret < 0)
				return ret;
			goto retry;
		}
		if (ret < 0) {
			intent_del(fs, ikey);
			goto out;
		}
		drfs_fault("rename-after-dst");
		ret = apply_src(fs, &in, now);
		if (ret < 0) {
			undo_dst(fs, &in);
			intent_del(fs, ikey);
			if (killed)
				drfs_dir_revive(fs, in.dst.d.ino);
			if (ret == -ECANCELED) {
				if (leased)
					lease_drop(fs, cookie);
				goto retry;
			}
			goto out;
		}
	}

	/* Link counts of the parents (subdirectory ".." links). */
	int dsp = 0, ddp = 0;

	if (flags & RENAME_EXCHANGE) {
		if (sdir)
			dsp--, ddp++;
		if (ddir)
			ddp--, dsp++;
	} else {
		if (sdir)
			dsp--, ddp++;
		if (ddir)
			ddp--;
	}
	if (sp == dp) {
		dsp += ddp;
		ddp = 0;
	}
	if (dsp)
		drfs_nlink_add(fs, sp, dsp, true, NULL);
	if (ddp)
		drfs_nlink_add(fs, dp, ddp, true, NULL);
	if (sp != dp) {
		if (sdir)
			drfs_set_parent(fs, in.src.d.ino, dp);
		if ((flags & RENAME_EXCHANGE) && ddir)
			drfs_set_parent(fs, in.dst.d.ino, sp);
	}
	/* Linux updates the ctime of the renamed inode(s). */
	drfs_nlink_add(fs, in.src.d.ino, 0, false, NULL);
	if (flags & RENAME_EXCHANGE) {
		drfs_nlink_add(fs, in.dst.d.ino, 0, false, NULL);
	} else if (in.dst.exists) {
		if (ddir) {
			char oid[DRFS_OID_MAX];

			drfs_oid(oid, in.dst.d.ino, 0);
			drfs_remove(fs, oid);
		} else {
			struct drfs_attr a;

			if (drfs_nlink_add(fs, in.dst.d.ino, -1, false, &a) ==
			    0) {
				*gone_ino = in.dst.d.ino;
				*gone_nlink = a.nlink;
			}
		}
	}
	if (sp != dp)
		intent_del(fs, ikey);
	ret = 0;
out:
	if (ret < 0 && killed)
		drfs_dir_revive(fs, in.dst.d.ino);
	if (leased)
		lease_drop(fs, cookie);
	return ret;
}

int drfs_rename(struct drfs_fs *fs, uint64_t sp, const char *sname, uint64_t dp,
		const char *dname, unsigned flags, uint64_t *gone_ino,
		uint32_t *gone_nlink)
{
	drfs_inval_begin(fs);
	return drfs_inval_finish(fs, rename_do(fs, sp, sname, dp, dname, flags,
					       gone_ino, gone_nlink));
}

/* ---- recovery ---- */

static void recover_one(struct drfs_fs *fs, const char *key,
			const struct drfs_intent *in)
{
	struct drfs_rentry s, d;
	int64_t now = drfs_now_ns();

	if (entry_get(fs, in->dp, in->dname, &d) < 0 ||
	    entry_get(fs, in->sp, in->sname, &s) < 0)
		return;
	switch (drfs_intent_judge(in, &d, &s)) {
	case DRFS_INTENT_FORWARD_UNLINK_SRC:
		apply_src(fs, in, now);
		/* fall through */
	case DRFS_INTENT_FORWARD:
		if (in->src.d.type == DT_DIR)
			drfs_set_parent(fs, in->src.d.ino, in->dp);
		drfs_info("rename intent %s rolled forward: %" PRIx64 "/%s -> "
			  "%" PRIx64 "/%s",
			  key, in->sp, in->sname, in->dp, in->dname);
		break;
	case DRFS_INTENT_BACK_REVIVE_DST:
		drfs_dir_revive(fs, in->dst.d.ino);
		/* fall through */
	case DRFS_INTENT_BACK:
		drfs_info("rename intent %s rolled back: %" PRIx64 "/%s stays",
			  key, in->sp, in->sname);
		break;
	}
	intent_del(fs, key);
}

struct scan_ctx {
	struct drfs_fs *fs;
	int64_t min_age_ns, now;
	bool fix;
	int n;
};

/* One intent record (a copy of its key: recovery removes it). */
static int scan_one(void *arg, const char *k, size_t kl, const char *v,
		    size_t vl)
{
	struct scan_ctx *c = arg;
	struct drfs_intent in;
	char key[300];

	snprintf(key, sizeof(key), "%.*s", (int)kl, k);
	if (drfs_intent_decode(v, vl, &in) < 0) {
		c->n++;
		if (c->fix) {
			drfs_err("rename intent %s is corrupt; removed", key);
			intent_del(c->fs, key);
		}
		return 0;
	}
	if (c->now - in.time_ns < c->min_age_ns)
		return 0;
	if (c->fix)
		recover_one(c->fs, key, &in);
	c->n++;
	return 0;
}

/* Visit intents at least @min_age_s old; @fix: recover them. */
static int intents_scan(struct drfs_fs *fs, int min_age_s, bool fix)
{
	const struct drfs_omap_list l = {.page = 128};
	struct scan_ctx c = {fs, (int64_t)min_age_s * 1000000000, drfs_now_ns(),
			     fix, 0};
	int ret = drfs_omap_list(fs, "intents", &l, scan_one, &c);

	if (ret == -ENOENT)
		return 0;
	return ret < 0 ? ret : c.n;
}

int drfs_intents_recover(struct drfs_fs *fs, int min_age_s)
{
	return intents_scan(fs, min_age_s, true);
}

int drfs_intents_count(struct drfs_fs *fs, int min_age_s)
{
	return intents_scan(fs, min_age_s, false);
}
