/*
 * rejoin.c - a fenced node rejoins the cluster with a new session.
 *
 * When another node broke our locks after our lease expired (network
 * partition, frozen VM), it blocklisted our client instance first, so
 * nothing we send with it lands any more.  Once we notice (the OSDs
 * answer ESHUTDOWN, or our session record is gone), the lease thread calls
 * drfsd_rejoin() every second until it succeeds.  With fs->conn_lock held
 * for writing (no request is running, see ops.c), it:
 *
 *   1. undoes the watches of the old client (lock waits, superblock) and
 *      answers parked lock requests EIO;
 *   2. drops every write-back buffer: that data was written under locks
 *      other nodes may have taken since, so it must never be written (the
 *      old client could not; the new one must not);
 *   3. makes every handle opened so far stale (d->gen): reads, writes,
 *      fsync, close and locks through it fail with EIO, as an NFS stale
 *      handle; new opens work;
 *   4. forgets which inodes this node had locked (the old session's locks
 *      were broken, or are breakable once its record is gone);
 *   5. connects a new client instance (a blocklisted one can never be
 *      un-blocklisted; the new one has a new address nonce), takes a new
 *      node UUID and registers its session (drfs_rejoin_locked);
 *   6. watches the superblock again and catches up with a localcache
 *      purge missed meanwhile; the metadata cache is off (and empty)
 *      from step 1 until fs/inval.c's health thread has confirmed its
 *      watches on the new client.
 *
 * Then, without the lock (the kernel may need requests answered to do
 * it), it drops the kernel's caches of every shared inode and logs one
 * line.  If a step fails (cluster unreachable again), the node stays
 * fenced, every operation fails with EIO, and the next call retries.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coherence.h"
#include "local.h"
#include "lock.h"
#include "locks.h"
#include "log.h"
#include "nodes.h"
#include "rejoin.h"
#include "wb.h"

/*
 * Steps 2 and 4 for one node: its buffered writes and read-ahead go, and
 * so does its lock flag; counts the files that had unsaved data.
 */
static void drop_node(struct dnode *n, void *arg)
{
	size_t *dirty = arg;

	if (drfsd_wb_discard(n))
		(*dirty)++;
	__atomic_store_n(&n->locked, false, __ATOMIC_RELAXED);
}

/* Shared inodes the kernel knows, and how many handles are open on them. */
static uint64_t *known_inodes(struct drfsd *d, size_t *n, size_t *nopen)
{
	uint64_t *inos;

	*n = *nopen = 0;
	pthread_mutex_lock(&d->table_lock);
	inos = malloc((d->nnodes + 1) * sizeof(*inos));
	for (size_t i = 0; inos && i < d->nbuckets; i++)
		for (struct dnode *dn = d->table[i]; dn; dn = dn->next) {
			if (drfsd_is_local(dn->ino))
				continue;
			inos[(*n)++] = dn->ino;
			*nopen += dn->nopen;
		}
	pthread_mutex_unlock(&d->table_lock);
	return inos;
}

void drfsd_rejoin(void *ctx)
{
	struct drfsd *d = ctx;
	struct drfs_fs *fs = d->fs;
	int64_t fenced_ns = __atomic_load_n(&fs->fenced_ns, __ATOMIC_RELAXED);
	char err[512] = "", when[32] = "?";
	uint64_t *inos = NULL;
	size_t ninos = 0, nopen = 0;
	bool lc_changed = false;
	time_t t = (time_t)(fenced_ns / 1000000000);
	struct tm tm;
	int ret;

	drfs_conn_wrlock(fs);
	if (!drfs_is_fenced(fs)) {
		drfs_conn_unlock(fs);
		return;
	}
	drfsd_locks_detach(d);
	drfsd_local_detach(d);
	drfs_inval_detach(fs);
	drfsd_nodes_each(d, drop_node, &d->dropped);
	d->gen++;
	ret = drfs_rejoin_locked(fs, err, sizeof(err));
	if (ret == 0) {
		lc_changed = drfsd_local_attach(d);
		inos = known_inodes(d, &ninos, &nopen);
	}
	drfs_conn_unlock(fs);
	if (ret < 0) {
		int64_t now = drfs_now_ns();

		if (now - d->rejoin_warned_ns > 10 * 1000000000ll) {
			d->rejoin_warned_ns = now;
			drfs_warn("cannot rejoin the cluster yet: %s; every "
				  "operation fails with EIO until then "
				  "(retrying every second)",
				  err);
		}
		return;
	}
	/* pages and attributes cached under the old session */
	drfsd_coh_rejoined(d);
	for (size_t i = 0; i < ninos; i++)
		fuse_lowlevel_notify_inval_inode(d->se, inos[i], 0, 0);
	free(inos);
	if (lc_changed)
		fuse_lowlevel_notify_inval_entry(
			d->se, FUSE_ROOT_ID, d->lc_name, strlen(d->lc_name));
	if (localtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	__atomic_add_fetch(&d->rejoins, 1, __ATOMIC_RELAXED);
	drfs_warn("fenced by the cluster (noticed at %s); rejoined with "
		  "session %s (client %s) %.1f s later; %zu file(s) with "
		  "unsaved writes dropped, %zu handle(s) opened before now "
		  "fail with EIO",
		  when, fs->node, fs->addr, (drfs_now_ns() - fenced_ns) / 1e9,
		  d->dropped, nopen);
	d->dropped = 0;
}
