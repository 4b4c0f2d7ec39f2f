/*
 * mdcache.c - the node's metadata cache (see mdcache.h for the rules).
 *
 * Two hash tables: inodes by number (struct cnode, in an LRU list) and
 * entries by (directory, name) (struct centry, also chained on their
 * directory's cnode so that invalidating a directory drops its entries in
 * one walk).  A directory's cnode may exist without attributes, only to
 * hold entries.  Tables have a fixed number of buckets (sized from the
 * limit); chains stay short because the limit is enforced on every store.
 *
 * c->seq counts invalidations (and clears).  A ticket is the value of seq
 * when a reader started.  Each invalidation of inode X stamps slot
 * h(X) of c->inval_at with the new seq, a clear stamps c->clear_at; a
 * store of X's attributes (or of an entry of directory X) with ticket T
 * is refused if either stamp is above T: X was invalidated after the
 * reader started, so what it read may be older than the change.  That is
 * rule 2 of mdcache.h, per inode: a change elsewhere does not refuse the
 * fill (the first version refused every fill in flight on any
 * invalidation, and a node receiving a steady stream of them - another
 * node's reaper freeing a thousand deleted files - stopped caching at
 * all).  Two inodes sharing a slot only cost a miss; stale_fills counts
 * the refusals.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mdcache.h"

#define DEFAULT_LIMIT 65536
#define INVAL_SLOTS 4096 /* power of two */

struct centry {
	uint64_t dir, ino; /* ino 0: negative entry */
	uint8_t type;
	struct centry *hnext; /* hash chain */
	struct centry *dnext; /* entries of the same directory */
	char name[];
};

struct cnode {
	uint64_t ino;
	bool has_attr, has_sha;
	struct drfs_attr attr;
	char sha[41];
	struct centry *entries;
	size_t nentries;
	struct cnode *hnext;
	struct cnode *lprev, *lnext; /* LRU: head is the most recent */
};

struct drfs_mdc {
	pthread_mutex_t lock;
	bool on;
	uint64_t seq;
	uint64_t clear_at; /* seq of the last clear or switch */
	uint64_t inval_at[INVAL_SLOTS]; /* seq of the last inval per slot */
	size_t limit, entry_limit;
	size_t nb_nodes, nb_entries; /* bucket counts, powers of two */
	struct cnode **nodes;
	struct centry **ents;
	struct cnode *lru_head, *lru_tail;
	struct drfs_mdc_stats st;
};

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

static size_t ent_hash(const struct drfs_mdc *c, uint64_t dir, const char *name)
{
	uint64_t h = mix(dir) ^ 0xcbf29ce484222325ull;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	return (size_t)(mix(h) & (c->nb_entries - 1));
}

static size_t pow2_at_least(size_t n)
{
	size_t p = 1024;

	while (p < n)
		p <<= 1;
	return p;
}

struct drfs_mdc *drfs_mdc_new(size_t limit)
{
	struct drfs_mdc *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->limit = limit ? limit : DEFAULT_LIMIT;
	c->entry_limit = 4 * c->limit;
	c->nb_nodes = pow2_at_least(c->limit);
	c->nb_entries = pow2_at_least(c->entry_limit);
	c->nodes = calloc(c->nb_nodes, sizeof(*c->nodes));
	c->ents = calloc(c->nb_entries, sizeof(*c->ents));
	if (!c->nodes || !c->ents) {
		free(c->nodes);
		free(c->ents);
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->on = true;
	return c;
}

/* ---- LRU ---- */

static void lru_unlink(struct drfs_mdc *c, struct cnode *n)
{
	if (n->lprev)
		n->lprev->lnext = n->lnext;
	else
		c->lru_head = n->lnext;
	if (n->lnext)
		n->lnext->lprev = n->lprev;
	else
		c->lru_tail = n->lprev;
	n->lprev = n->lnext = NULL;
}

static void lru_push(struct drfs_mdc *c, struct cnode *n)
{
	n->lprev = NULL;
	n->lnext = c->lru_head;
	if (c->lru_head)
		c->lru_head->lprev = n;
	c->lru_head = n;
	if (!c->lru_tail)
		c->lru_tail = n;
}

static void touch(struct drfs_mdc *c, struct cnode *n)
{
	if (c->lru_head != n) {
		lru_unlink(c, n);
		lru_push(c, n);
	}
}

/* ---- nodes and entries ---- */

static struct cnode **node_slot(struct drfs_mdc *c, uint64_t ino)
{
	struct cnode **pp = &c->nodes[mix(ino) & (c->nb_nodes - 1)];

	while (*pp && (*pp)->ino != ino)
		pp = &(*pp)->hnext;
	return pp;
}

static struct centry **ent_slot(struct drfs_mdc *c, uint64_t dir,
				const char *name)
{
	struct centry **pp = &c->ents[ent_hash(c, dir, name)];

	while (*pp && ((*pp)->dir != dir || strcmp((*pp)->name, name)))
		pp = &(*pp)->hnext;
	return pp;
}

/* Unhash and free every entry of @n. */
static void node_drop_entries(struct drfs_mdc *c, struct cnode *n)
{
	while (n->entries) {
		struct centry *e = n->entries;
		struct centry **pp = ent_slot(c, e->dir, e->name);

		*pp = e->hnext;
		n->entries = e->dnext;
		c->st.entries--;
		free(e);
	}
	n->nentries = 0;
}

static void node_free(struct drfs_mdc *c, struct cnode *n)
{
	struct cnode **pp = node_slot(c, n->ino);

	node_drop_entries(c, n);
	*pp = n->hnext;
	lru_unlink(c, n);
	c->st.inodes--;
	free(n);
}

static struct cnode *node_get(struct drfs_mdc *c, uint64_t ino)
{
	struct cnode **pp = node_slot(c, ino);
	struct cnode *n = *pp;

	if (n)
		return n;
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->ino = ino;
	*pp = n;
	lru_push(c, n);
	c->st.inodes++;
	return n;
}

/* Make room: the least recently used inodes go (never @keep). */
static void shrink(struct drfs_mdc *c, struct cnode *keep)
{
	while ((c->st.inodes > c->limit || c->st.entries > c->entry_limit) &&
	       c->lru_tail && c->lru_tail != keep) {
		node_free(c, c->lru_tail);
		c->st.evictions++;
	}
}

/* ---- API ---- */

uint64_t drfs_mdc_ticket(struct drfs_mdc *c)
{
	return __atomic_load_n(&c->seq, __ATOMIC_ACQUIRE);
}

bool drfs_mdc_changed(struct drfs_mdc *c, uint64_t ticket)
{
	return __atomic_load_n(&c->seq, __ATOMIC_ACQUIRE) != ticket;
}

/* Count a lookup's outcome and drop c->lock; returns @hit. */
static bool counted_unlock(struct drfs_mdc *c, bool hit)
{
	if (hit)
		c->st.hits++;
	else
		c->st.misses++;
	pthread_mutex_unlock(&c->lock);
	return hit;
}

bool drfs_mdc_attr_get(struct drfs_mdc *c, uint64_t ino, struct drfs_attr *a,
		       char sha[41])
{
	struct cnode *n;
	bool hit = false;

	pthread_mutex_lock(&c->lock);
	n = c->on ? *node_slot(c, ino) : NULL;
	if (n && n->has_attr && (!sha || n->has_sha)) {
		*a = n->attr;
		if (sha)
			memcpy(sha, n->sha, 41);
		touch(c, n);
		hit = true;
	}
	return counted_unlock(c, hit);
}

static uint64_t *inval_slot(struct drfs_mdc *c, uint64_t ino)
{
	return &c->inval_at[mix(ino) & (INVAL_SLOTS - 1)];
}

/* May a value of inode @ino read after @ticket be stored?  Caller holds
 * c->lock. */
static bool fresh_locked(struct drfs_mdc *c, uint64_t ticket, uint64_t ino)
{
	if (!c->on)
		return false;
	if (c->clear_at > ticket || *inval_slot(c, ino) > ticket) {
		c->st.stale_fills++;
		return false;
	}
	return true;
}

void drfs_mdc_attr_put(struct drfs_mdc *c, uint64_t ticket,
		       const struct drfs_attr *a, const char *sha)
{
	struct cnode *n;

	pthread_mutex_lock(&c->lock);
	if (!fresh_locked(c, ticket, a->ino))
		goto out;
	n = node_get(c, a->ino);
	if (!n)
		goto out;
	n->attr = *a;
	n->has_attr = true;
	if (sha) {
		strncpy(n->sha, sha, 40);
		n->sha[40] = 0;
		n->has_sha = true;
	}
	touch(c, n);
	shrink(c, n);
out:
	pthread_mutex_unlock(&c->lock);
}

bool drfs_mdc_entry_get(struct drfs_mdc *c, uint64_t dir, const char *name,
			uint64_t *ino, uint8_t *type)
{
	struct centry *e;
	bool hit = false;

	pthread_mutex_lock(&c->lock);
	e = c->on ? *ent_slot(c, dir, name) : NULL;
	if (e) {
		struct cnode *n = *node_slot(c, dir);

		*ino = e->ino;
		*type = e->type;
		if (n)
			touch(c, n);
		hit = true;
		if (!e->ino)
			c->st.neg_hits++;
	}
	return counted_unlock(c, hit);
}

void drfs_mdc_entry_put(struct drfs_mdc *c, uint64_t ticket, uint64_t dir,
			const char *name, uint64_t ino, uint8_t type)
{
	struct centry **pp, *e;
	struct cnode *n;
	size_t len = strlen(name);

	pthread_mutex_lock(&c->lock);
	if (!fresh_locked(c, ticket, dir))
		goto out;
	n = node_get(c, dir);
	if (!n)
		goto out;
	pp = ent_slot(c, dir, name);
	if (*pp) {
		(*pp)->ino = ino;
		(*pp)->type = type;
	} else {
		e = malloc(sizeof(*e) + len + 1);
		if (!e)
			goto out;
		e->dir = dir;
		e->ino = ino;
		e->type = type;
		memcpy(e->name, name, len + 1);
		e->hnext = NULL;
		*pp = e;
		e->dnext = n->entries;
		n->entries = e;
		n->nentries++;
		c->st.entries++;
	}
	touch(c, n);
	shrink(c, n);
out:
	pthread_mutex_unlock(&c->lock);
}

uint64_t drfs_mdc_inval(struct drfs_mdc *c, uint64_t ino)
{
	struct cnode *n;
	uint64_t seq;

	pthread_mutex_lock(&c->lock);
	seq = __atomic_add_fetch(&c->seq, 1, __ATOMIC_RELEASE);
	*inval_slot(c, ino) = seq;
	c->st.invals++;
	n = *node_slot(c, ino);
	if (n)
		node_free(c, n);
	pthread_mutex_unlock(&c->lock);
	return seq;
}

static void clear_locked(struct drfs_mdc *c)
{
	c->clear_at = __atomic_add_fetch(&c->seq, 1, __ATOMIC_RELEASE);
	while (c->lru_head)
		node_free(c, c->lru_head);
	c->st.clears++;
}

void drfs_mdc_clear(struct drfs_mdc *c)
{
	pthread_mutex_lock(&c->lock);
	clear_locked(c);
	pthread_mutex_unlock(&c->lock);
}

void drfs_mdc_enable(struct drfs_mdc *c, bool on)
{
	pthread_mutex_lock(&c->lock);
	/* both ways a barrier for fills in flight: what was read while
	 * off may have missed invalidations */
	clear_locked(c);
	c->on = on;
	pthread_mutex_unlock(&c->lock);
}

bool drfs_mdc_enabled(struct drfs_mdc *c)
{
	bool on;

	pthread_mutex_lock(&c->lock);
	on = c->on;
	pthread_mutex_unlock(&c->lock);
	return on;
}

void drfs_mdc_stats(struct drfs_mdc *c, struct drfs_mdc_stats *st)
{
	pthread_mutex_lock(&c->lock);
	*st = c->st;
	pthread_mutex_unlock(&c->lock);
}

void drfs_mdc_free(struct drfs_mdc *c)
{
	if (!c)
		return;
	while (c->lru_head)
		node_free(c, c->lru_head);
	free(c->nodes);
	free(c->ents);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
