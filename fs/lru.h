/*
 * lru.h - the policy of the filedir read cache: which files it holds, in
 * which order they go, and how much room they take.  No I/O here: the
 * daemon (daemon/rcache.c) keeps the files on local disk and calls these
 * functions under its own lock; this module only keeps the index.
 *
 * Entries are keyed by the content's SHA-1 (40 hex digits) and kept on one
 * list from the most recently used to the least.  @used is the sum of the
 * entries' sizes; the cache is within bounds while used <= limit.  A file
 * larger than a quarter of the limit is never admitted (it would churn
 * the cache).  The order survives a restart through the files' mtimes
 * (drfs_lru_restore).
 *
 * Not thread-safe: the caller serialises every call on one struct drfs_lru.
 */
#ifndef DRFS_LRU_H
#define DRFS_LRU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DRFS_LRU_BUCKETS 4096
#define DRFS_LRU_KEY 41 /* 40 hex digits and the NUL */

struct drfs_lru_entry {
	char key[DRFS_LRU_KEY];
	uint64_t size;
	bool verified; /* the owner's flag (rcache: SHA-1 checked) */
	struct drfs_lru_entry *hnext; /* hash chain */
	struct drfs_lru_entry *newer, *older; /* use order */
};

struct drfs_lru {
	uint64_t limit; /* bytes */
	uint64_t used; /* bytes: sum of the entries' sizes */
	size_t n; /* entries */
	struct drfs_lru_entry *newest, *oldest;
	struct drfs_lru_entry *table[DRFS_LRU_BUCKETS];
};

/* A file found on disk at start: its key, size and mtime. */
struct drfs_lru_seed {
	char key[DRFS_LRU_KEY];
	uint64_t size;
	int64_t mtime_ns;
};

/* Called for each entry evicted or cleared, before it is freed. */
typedef void (*drfs_lru_gone_fn)(void *ctx, const struct drfs_lru_entry *e);

/* An empty index bounded by @limit bytes. */
void drfs_lru_init(struct drfs_lru *l, uint64_t limit);
/* Free every entry (no callback); @l is empty afterwards. */
void drfs_lru_release(struct drfs_lru *l);

/* May content of @size bytes be cached?  Not empty, <= limit / 4. */
bool drfs_lru_admit(const struct drfs_lru *l, uint64_t size);

/* The entry of @key, or NULL.  Does not change the order. */
struct drfs_lru_entry *drfs_lru_find(struct drfs_lru *l, const char *key);
/* Make @e the most recently used entry. */
void drfs_lru_touch(struct drfs_lru *l, struct drfs_lru_entry *e);
/*
 * Add @key (at most 40 characters) of @size bytes as the most recently
 * used entry, whatever the limit (evict afterwards).  Returns the entry,
 * NULL if @key is already there or memory ran out.
 */
struct drfs_lru_entry *drfs_lru_insert(struct drfs_lru *l, const char *key,
				       uint64_t size);
/* Take @e out of the index and free it. */
void drfs_lru_remove(struct drfs_lru *l, struct drfs_lru_entry *e);

/*
 * Make room for @room more bytes: remove least recently used entries
 * while used + room > limit, calling @gone (may be NULL) for each.
 * Returns how many were removed.
 */
size_t drfs_lru_evict(struct drfs_lru *l, uint64_t room, drfs_lru_gone_fn gone,
		      void *ctx);
/* Remove every entry, oldest first, calling @gone for each; returns count. */
size_t drfs_lru_clear(struct drfs_lru *l, drfs_lru_gone_fn gone, void *ctx);

/*
 * Index the files a previous run left: @v (reordered in place) is sorted
 * by mtime (ties by key) and inserted oldest first, so the file used last
 * is the most recently used entry.  Keys already present are skipped.
 * Does not evict.  Returns the number inserted, or -ENOMEM (those
 * inserted so far stay).
 */
int drfs_lru_restore(struct drfs_lru *l, struct drfs_lru_seed *v, size_t n);

#endif
