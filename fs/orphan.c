/*
 * orphan.c - deferred freeing of unlinked inodes.
 *
 * An inode whose last name goes away may still be open on another node (a
 * POSIX filesystem keeps it readable and writable until the last close;
 * Moodle nodes race on the same tmp file in filedir).  So the node that
 * drops the last link does not free it: it records the inode in one of
 * ORPHAN_SHARDS "orphans.<n>" objects (omap key: inode, value: time), and
 * every mounted node reaps entries older than DRFS_ORPHAN_GRACE seconds
 * whose link count is still 0.  A node that keeps a deleted file open for
 * longer than the grace period loses it (ENOENT/EIO): documented.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "log.h"

#define ORPHAN_SHARDS 16

static void shard_oid(char out[32], uint64_t ino)
{
	snprintf(out, 32, "orphans.%u", (unsigned)(ino % ORPHAN_SHARDS));
}

int drfs_orphan_add(struct drfs_fs *fs, uint64_t ino)
{
	char oid[32], key[24], val[24];
	rados_write_op_t op = drfs_wop_new();
	int ret;

	shard_oid(oid, ino);
	snprintf(key, sizeof(key), "%016" PRIx64, ino);
	snprintf(val, sizeof(val), "%" PRId64, drfs_now_ns());
	drfs_op_create(op, false);
	drfs_op_set(op, key, val, strlen(val));
	ret = drfs_wop(fs, oid, op, LIBRADOS_OPERATION_FULL_FORCE);
	drfs_wop_free(op);
	return ret;
}

static void orphan_del(struct drfs_fs *fs, const char *oid, const char *key)
{
	rados_write_op_t op = drfs_wop_new();

	drfs_op_rm(op, key);
	drfs_wop(fs, oid, op, LIBRADOS_OPERATION_FULL_FORCE);
	drfs_wop_free(op);
}

struct scan {
	struct drfs_fs *fs;
	const char *oid;
	int64_t now;
	int grace_s;
	bool reap;
	void (*is_pending)(void *ctx, uint64_t ino);
	void *ctx;
	int freed;
};

/* One record: "<ino hex>" -> "<time ns>". */
static int scan_one(void *arg, const char *key, size_t klen, const char *v,
		    size_t vlen)
{
	struct scan *sc = arg;
	char val[32];
	uint64_t ino = strtoull(key, NULL, 16);
	int64_t t;

	(void)klen;
	snprintf(val, sizeof(val), "%.*s", (int)vlen, v);
	t = strtoll(val, NULL, 10);
	if (sc->is_pending)
		sc->is_pending(sc->ctx, ino);
	if (!sc->reap || sc->now - t < (int64_t)sc->grace_s * 1000000000)
		return 0;
	if (drfs_inode_free(sc->fs, ino) == 0) {
		orphan_del(sc->fs, sc->oid, key);
		sc->freed++;
	}
	return 0;
}

/*
 * Visit orphan records; with @reap, free those older than @grace_s.
 * @is_pending (may be NULL) is called for every recorded inode.
 */
int drfs_orphans_scan(struct drfs_fs *fs, int grace_s, bool reap,
		      void (*is_pending)(void *ctx, uint64_t ino), void *ctx)
{
	struct scan sc = {.fs = fs,
			  .now = drfs_now_ns(),
			  .grace_s = grace_s,
			  .reap = reap,
			  .is_pending = is_pending,
			  .ctx = ctx};
	const struct drfs_omap_list l = {.page = 256};

	for (unsigned s = 0; s < ORPHAN_SHARDS; s++) {
		char oid[32];
		int ret;

		snprintf(oid, sizeof(oid), "orphans.%u", s);
		sc.oid = oid;
		ret = drfs_omap_list(fs, oid, &l, scan_one, &sc);
		if (ret < 0 && ret != -ENOENT)
			return ret;
	}
	return sc.freed;
}

int drfs_orphans_reap(struct drfs_fs *fs, int grace_s)
{
	return drfs_orphans_scan(fs, grace_s, true, NULL, NULL);
}
