/*
 * lru.c - least-recently-used index of the filedir read cache (lru.h).
 *
 * A hash table (chains) finds an entry by key; a doubly linked list keeps
 * the use order, newest at the head.  Every operation is O(1) but the
 * restore at start (a sort).  Pure bookkeeping: files are the caller's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lru.h"

/* FNV-1a of the key. */
static unsigned bucket_of(const char *key)
{
	uint32_t h = 2166136261u;

	for (; *key; key++)
		h = (h ^ (unsigned char)*key) * 16777619u;
	return h % DRFS_LRU_BUCKETS;
}

void drfs_lru_init(struct drfs_lru *l, uint64_t limit)
{
	memset(l, 0, sizeof(*l));
	l->limit = limit;
}

static void list_unlink(struct drfs_lru *l, struct drfs_lru_entry *e)
{
	if (e->newer)
		e->newer->older = e->older;
	else
		l->newest = e->older;
	if (e->older)
		e->older->newer = e->newer;
	else
		l->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void list_push(struct drfs_lru *l, struct drfs_lru_entry *e)
{
	e->older = l->newest;
	e->newer = NULL;
	if (l->newest)
		l->newest->newer = e;
	l->newest = e;
	if (!l->oldest)
		l->oldest = e;
}

void drfs_lru_release(struct drfs_lru *l)
{
	while (l->oldest) {
		struct drfs_lru_entry *e = l->oldest;

		list_unlink(l, e);
		free(e);
	}
	drfs_lru_init(l, l->limit);
}

bool drfs_lru_admit(const struct drfs_lru *l, uint64_t size)
{
	return size > 0 && size <= l->limit / 4;
}

struct drfs_lru_entry *drfs_lru_find(struct drfs_lru *l, const char *key)
{
	struct drfs_lru_entry *e = l->table[bucket_of(key)];

	while (e && strcmp(e->key, key))
		e = e->hnext;
	return e;
}

void drfs_lru_touch(struct drfs_lru *l, struct drfs_lru_entry *e)
{
	list_unlink(l, e);
	list_push(l, e);
}

struct drfs_lru_entry *drfs_lru_insert(struct drfs_lru *l, const char *key,
				       uint64_t size)
{
	struct drfs_lru_entry *e;
	unsigned b;

	if (strlen(key) >= DRFS_LRU_KEY || drfs_lru_find(l, key))
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	strcpy(e->key, key);
	e->size = size;
	b = bucket_of(key);
	e->hnext = l->table[b];
	l->table[b] = e;
	list_push(l, e);
	l->used += size;
	l->n++;
	return e;
}

void drfs_lru_remove(struct drfs_lru *l, struct drfs_lru_entry *e)
{
	struct drfs_lru_entry **pp = &l->table[bucket_of(e->key)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	list_unlink(l, e);
	l->used -= e->size;
	l->n--;
	free(e);
}

size_t drfs_lru_evict(struct drfs_lru *l, uint64_t room, drfs_lru_gone_fn gone,
		      void *ctx)
{
	size_t n = 0;

	while (l->oldest && l->used + room > l->limit) {
		if (gone)
			gone(ctx, l->oldest);
		drfs_lru_remove(l, l->oldest);
		n++;
	}
	return n;
}

size_t drfs_lru_clear(struct drfs_lru *l, drfs_lru_gone_fn gone, void *ctx)
{
	size_t n = 0;

	while (l->oldest) {
		if (gone)
			gone(ctx, l->oldest);
		drfs_lru_remove(l, l->oldest);
		n++;
	}
	return n;
}

static int by_mtime(const void *a, const void *b)
{
	const struct drfs_lru_seed *x = a, *y = b;

	if (x->mtime_ns != y->mtime_ns)
		return (x->mtime_ns > y->mtime_ns) -
		       (x->mtime_ns < y->mtime_ns);
	return strcmp(x->key, y->key);
}

int drfs_lru_restore(struct drfs_lru *l, struct drfs_lru_seed *v, size_t n)
{
	int added = 0;

	if (n) /* qsort(NULL, 0) is undefined */
		qsort(v, n, sizeof(*v), by_mtime);
	for (size_t i = 0; i < n; i++) {
		if (drfs_lru_find(l, v[i].key))
			continue;
		if (!drfs_lru_insert(l, v[i].key, v[i].size))
			return -ENOMEM;
		added++;
	}
	return added;
}
