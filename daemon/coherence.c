/*
 * coherence.c - the kernel side of the coherent metadata cache.
 *
 * fs/inval.c tells us which inodes another node changed (after it dropped
 * them from fs->mdc); we make the kernel forget what it cached of them
 * before the change is acknowledged.  Everything here runs in librados
 * threads while a writer on another node waits, so it uses only
 * notifications that take no kernel lock a request of ours may hold
 * (inval.c explains why that matters: two nodes changing one directory
 * would otherwise wait for each other):
 *
 *  - attributes: FUSE_NOTIFY_INVAL_INODE with offset -1 (attributes only;
 *    no page lock, no inode lock);
 *  - entries: FUSE_NOTIFY_INC_EPOCH (Linux 6.16+): one atomic increment in
 *    the kernel that makes every dentry of the mount older than it invalid
 *    (each is looked up again - from fs->mdc, so without RADOS - on next
 *    use).  The kernel samples the epoch when a lookup starts, so a lookup
 *    answered with the old entry while the bump happens is not kept.
 *    FUSE_NOTIFY_INVAL_ENTRY would be finer but takes the parent
 *    directory's lock, which a create in that directory holds on this node
 *    while it waits for the other node's acknowledgement: a deadlock.  An
 *    epoch bump is only needed when the kernel may hold entries of one of
 *    the inodes, i.e. a directory it has looked up (dir_seen, a Bloom-style
 *    bitmap: false positives cost a bump, never staleness).
 *  - pages: not touched here (invalidating them takes page locks that an
 *    in-flight write of ours holds).  Instead a per-inode data generation
 *    (data_gen, hashed) is bumped, and open() keeps the page cache only
 *    if the generation it saw last time is still current.
 *
 * Without the epoch notification (older kernels: the probe fails), the
 * kernel gets entry timeout 0 (every lookup comes to us; we answer from
 * fs->mdc) and attributes still get md_timeout.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "coherence.h"
#include "log.h"

#define FUSE_NOTIFY_INC_EPOCH_CODE 8 /* <linux/fuse.h> 7.44 */

struct notify_hdr {
	uint32_t len;
	int32_t error; /* the notification code */
	uint64_t unique; /* 0: a notification */
};

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

static uint32_t dgen_slot(uint64_t ino)
{
	return (uint32_t)(mix(ino) % DRFSD_DGEN_SLOTS);
}

static bool inc_epoch(struct drfsd *d)
{
	struct notify_hdr h = {sizeof(h), FUSE_NOTIFY_INC_EPOCH_CODE, 0};
	ssize_t r;

	if (!d->se)
		return false;
	r = write(fuse_session_fd(d->se), &h, sizeof(h));
	return r == (ssize_t)sizeof(h);
}

void drfsd_coh_probe(struct drfsd *d)
{
	if (__atomic_exchange_n(&d->coh_probed, true, __ATOMIC_SEQ_CST))
		return;
	if (inc_epoch(d)) {
		__atomic_store_n(&d->epoch_ok, true, __ATOMIC_SEQ_CST);
		drfs_info("kernel supports entry invalidation by epoch: "
			  "entries cached for %.1f s",
			  d->md_timeout);
	} else {
		drfs_info(
			"kernel has no FUSE_NOTIFY_INC_EPOCH (Linux < 6.16?): "
			"directory entries are not cached by the kernel "
			"(still by the daemon)");
	}
}

void drfsd_coh_dir_seen(struct drfsd *d, uint64_t ino)
{
	uint64_t b = mix(ino) % (DRFSD_DIRSEEN_WORDS * 64);

	__atomic_or_fetch(&d->dir_seen[b / 64], 1ull << (b % 64),
			  __ATOMIC_RELAXED);
}

static bool dir_maybe_seen(struct drfsd *d, uint64_t ino)
{
	uint64_t b = mix(ino) % (DRFSD_DIRSEEN_WORDS * 64);

	return __atomic_load_n(&d->dir_seen[b / 64], __ATOMIC_RELAXED) &
	       (1ull << (b % 64));
}

uint64_t drfsd_coh_dgen(struct drfsd *d, uint64_t ino)
{
	return __atomic_load_n(&d->dgen[dgen_slot(ino)], __ATOMIC_ACQUIRE) +
	       __atomic_load_n(&d->dgen_all, __ATOMIC_ACQUIRE);
}

void drfsd_coh_data_changed(struct drfsd *d, uint64_t ino)
{
	__atomic_add_fetch(&d->dgen[dgen_slot(ino)], 1, __ATOMIC_RELEASE);
}

uint64_t drfsd_coh_ticket(struct drfsd *d)
{
	return __atomic_load_n(&d->remote_seq, __ATOMIC_ACQUIRE);
}

double drfsd_coh_timeout(struct drfsd *d, uint64_t ticket, bool entry)
{
	if (d->md_timeout <= 0 || !drfs_inval_trusted(d->fs))
		return 0;
	if (__atomic_load_n(&d->remote_seq, __ATOMIC_ACQUIRE) != ticket)
		return 0; /* another node changed something meanwhile */
	if (entry && !__atomic_load_n(&d->epoch_ok, __ATOMIC_RELAXED))
		return 0;
	return d->md_timeout;
}

/* ---- hooks called by fs/inval.c ---- */

static void coh_changed(void *ctx, const uint64_t *inos, size_t n)
{
	struct drfsd *d = ctx;
	bool bump = false;

	__atomic_add_fetch(&d->remote_seq, 1, __ATOMIC_ACQ_REL);
	for (size_t i = 0; i < n; i++) {
		drfsd_coh_data_changed(d, inos[i]);
		if (dir_maybe_seen(d, inos[i]))
			bump = true;
		if (d->se)
			fuse_lowlevel_notify_inval_inode(d->se, inos[i], -1, 0);
	}
	if (bump && __atomic_load_n(&d->epoch_ok, __ATOMIC_RELAXED))
		inc_epoch(d);
}

static void coh_lost(void *ctx)
{
	struct drfsd *d = ctx;

	/* Attributes the kernel holds expire within md_timeout by
	 * themselves (and replies carry 0 while we are not trusted);
	 * entries and pages are dropped now. */
	__atomic_add_fetch(&d->remote_seq, 1, __ATOMIC_ACQ_REL);
	__atomic_add_fetch(&d->dgen_all, 1, __ATOMIC_RELEASE);
	if (__atomic_load_n(&d->epoch_ok, __ATOMIC_RELAXED))
		inc_epoch(d);
}

static const struct drfs_inval_hooks coh_hooks = {
	.changed = coh_changed,
	.lost = coh_lost,
};

int drfsd_coh_start(struct drfsd *d, int timeout_ms)
{
	return drfs_inval_start(d->fs, &coh_hooks, d, timeout_ms);
}

void drfsd_coh_stop(struct drfsd *d)
{
	drfs_inval_stop(d->fs);
}

void drfsd_coh_rejoined(struct drfsd *d)
{
	coh_lost(d);
}
