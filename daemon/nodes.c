/*
 * nodes.c - the inode table: one struct dnode per inode the kernel knows
 * (lookup counts, open counts) or that is open here.
 *
 * A node lives while the kernel holds a lookup of it, a handle on it is
 * open here or its write-back buffer holds data; its per-inode state (the
 * write-back buffer and read-ahead, wb.c) goes with it.  Lock order: the
 * table lock, then node->lock (daemon.h).  An inode whose last name went
 * away while open here is "doomed": recorded as an orphan only at its
 * last release (drfsd_node_close), so that it can still be read and
 * written until then.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coherence.h"
#include "log.h"
#include "nodes.h"
#include "wb.h"

static struct dnode **bucket(struct drfsd *d, uint64_t ino)
{
	return &d->table[(ino * 0x9E3779B97F4A7C15ull) % d->nbuckets];
}

static struct dnode *node_find_locked(struct drfsd *d, uint64_t ino)
{
	for (struct dnode *n = *bucket(d, ino); n; n = n->next)
		if (n->ino == ino)
			return n;
	return NULL;
}

/* Find or add the node for @ino; adds @lookups to its lookup count. */
struct dnode *drfsd_node_get(struct drfsd *d, uint64_t ino, uint64_t lookups)
{
	struct dnode *n;

	pthread_mutex_lock(&d->table_lock);
	n = node_find_locked(d, ino);
	if (!n) {
		n = calloc(1, sizeof(*n));
		if (!n) {
			pthread_mutex_unlock(&d->table_lock);
			return NULL;
		}
		n->ino = ino;
		pthread_mutex_init(&n->lock, NULL);
		pthread_cond_init(&n->wb.xf_cond, NULL);
		n->next = *bucket(d, ino);
		*bucket(d, ino) = n;
		d->nnodes++;
	}
	n->nlookup += lookups;
	pthread_mutex_unlock(&d->table_lock);
	return n;
}

/* The node of @ino if the kernel knows it, without taking a reference. */
struct dnode *drfsd_node(struct drfsd *d, uint64_t ino)
{
	struct dnode *n;

	pthread_mutex_lock(&d->table_lock);
	n = node_find_locked(d, ino);
	pthread_mutex_unlock(&d->table_lock);
	return n;
}

static void node_free_locked(struct drfsd *d, struct dnode *n)
{
	struct dnode **pp = bucket(d, n->ino);

	while (*pp != n)
		pp = &(*pp)->next;
	*pp = n->next;
	d->nnodes--;
	if (n->has_lfd)
		close(n->lfd);
	drfsd_wb_release(n); /* waits for a background flush */
	pthread_cond_destroy(&n->wb.xf_cond);
	pthread_mutex_destroy(&n->lock);
	free(n);
}

/* At exit: the kernel does not forget every inode before an unmount. */
void drfsd_nodes_free(struct drfsd *d)
{
	pthread_mutex_lock(&d->table_lock);
	for (size_t b = 0; b < d->nbuckets; b++)
		while (d->table[b])
			node_free_locked(d, d->table[b]);
	pthread_mutex_unlock(&d->table_lock);
}

/* The kernel forgot @nlookup lookups of @ino. */
void drfsd_node_forget(struct drfsd *d, uint64_t ino, uint64_t nlookup)
{
	struct dnode *n;

	pthread_mutex_lock(&d->table_lock);
	n = node_find_locked(d, ino);
	if (n) {
		if (n->nlookup < nlookup) {
			drfs_err("forget of inode %" PRIx64 " below zero", ino);
			abort();
		}
		n->nlookup -= nlookup;
		if (n->nlookup == 0 && n->nopen == 0 && !n->wb.len)
			node_free_locked(d, n);
	}
	pthread_mutex_unlock(&d->table_lock);
}

/* The node of an open shared file, NULL if the handle is stale. */
struct dnode *drfsd_fh(struct drfsd *d, const struct fuse_file_info *fi)
{
	const struct dfile *f = (const struct dfile *)(uintptr_t)fi->fh;

	return f->gen == d->gen ? f->n : NULL;
}

void drfsd_node_gone(struct drfsd *d, uint64_t ino, uint32_t nlink)
{
	struct dnode *n;
	bool open_here = false;

	if (!ino || nlink > 0)
		return;
	pthread_mutex_lock(&d->table_lock);
	n = node_find_locked(d, ino);
	if (n && n->nopen > 0) {
		n->doomed = true;
		open_here = true;
	}
	pthread_mutex_unlock(&d->table_lock);
	if (!open_here) {
		/* freed after a grace period: other nodes may have it
		 * open */
		int ret = drfs_orphan_add(d->fs, ino);

		if (ret < 0)
			drfs_warn("cannot record unlinked inode %" PRIx64
				  ": %s (fsck will reclaim it)",
				  ino, strerror(-ret));
	}
}

void drfsd_nodes_each(struct drfsd *d, void (*fn)(struct dnode *n, void *arg),
		      void *arg)
{
	pthread_mutex_lock(&d->table_lock);
	for (size_t i = 0; i < d->nbuckets; i++)
		for (struct dnode *n = d->table[i]; n; n = n->next)
			fn(n, arg);
	pthread_mutex_unlock(&d->table_lock);
}

bool drfsd_node_open(struct drfsd *d, struct dnode *n, int cfd)
{
	bool keep;

	pthread_mutex_lock(&d->table_lock);
	n->nopen++;
	/* pages cached here stay if nobody changed the data since this
	 * node last opened the file (coherence.c) */
	{
		uint64_t g = drfsd_coh_dgen(d, n->ino);

		keep = n->dgen_seen == g && drfs_inval_trusted(d->fs);
		n->dgen_seen = g;
	}
	if (cfd >= 0 && !n->rcfd1) {
		__atomic_store_n(&n->rcfd1, cfd + 1, __ATOMIC_RELEASE);
		cfd = -1;
	}
	pthread_mutex_unlock(&d->table_lock);
	if (cfd >= 0)
		close(cfd); /* another open installed one first */
	return keep;
}

void drfsd_node_unopen(struct drfsd *d, struct dnode *n)
{
	pthread_mutex_lock(&d->table_lock);
	n->nopen--;
	pthread_mutex_unlock(&d->table_lock);
}

void drfsd_node_close(struct drfsd *d, struct dnode *n)
{
	uint64_t ino = n->ino;
	bool free_it = false;

	pthread_mutex_lock(&d->table_lock);
	n->nopen--;
	if (n->nopen == 0 && n->rcfd1) {
		close(n->rcfd1 - 1);
		__atomic_store_n(&n->rcfd1, 0, __ATOMIC_RELEASE);
	}
	if (n->nopen == 0 && n->doomed) {
		n->doomed = false;
		free_it = true;
	}
	if (n->nopen == 0 && n->nlookup == 0)
		node_free_locked(d, n);
	else if (n->nopen == 0)
		drfsd_wb_drop_buf(n);
	pthread_mutex_unlock(&d->table_lock);
	if (free_it)
		drfsd_node_gone(d, ino, 0);
}
