/*
 * mdcache.h - the node's metadata cache: inode attributes and directory
 * entries (positive and negative), kept coherent by invalidation.
 *
 * Pure memory, no RADOS: fs/ns.c fills it from what it reads and asks it
 * before reading; fs/inval.c empties the parts other nodes (or this one)
 * change.  Coherence rests on two rules, both enforced here:
 *
 *  1. Everything about inode @ino - its attributes and, for a directory,
 *     every entry in it - is dropped by one call, drfs_mdc_inval(ino).
 *     (One RADOS object, i.<ino>, holds all of it, and every write to that
 *     object is followed by exactly that call on every node.)
 *  2. A value of inode @ino (its attributes, or an entry of directory
 *     @ino) read from RADOS is only stored if @ino was not invalidated,
 *     and the cache not cleared, between the moment the caller took its
 *     ticket (drfs_mdc_ticket) before the read and the store.  So a fill
 *     that raced an invalidation can never resurrect the old value.
 *
 * The cache can be switched off (drfs_mdc_enable(false)): lookups then
 * miss and stores are dropped.  fs/inval.c does that while this node
 * cannot be sure it hears every invalidation (watch lost or unconfirmed).
 *
 * Thread-safe: one mutex inside.  Bounded: at most @limit inodes (each
 * with its entries); the least recently used inode goes first.
 */
#ifndef DRFS_MDCACHE_H
#define DRFS_MDCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"

struct drfs_mdc;

struct drfs_mdc_stats {
	uint64_t hits, misses; /* attribute and entry lookups */
	uint64_t neg_hits; /* entry lookups answered "absent" */
	uint64_t invals; /* drfs_mdc_inval calls */
	uint64_t stale_fills; /* stores refused: an invalidation raced */
	uint64_t evictions;
	uint64_t clears;
	size_t inodes, entries; /* held now */
};

/* A cache of at most @limit inodes (0: a default of 65536). NULL: ENOMEM. */
struct drfs_mdc *drfs_mdc_new(size_t limit);
/* Free it; accepts NULL. */
void drfs_mdc_free(struct drfs_mdc *c);

/* Take a ticket before reading what you mean to store (rule 2). */
uint64_t drfs_mdc_ticket(struct drfs_mdc *c);
/* Has anything been invalidated since @ticket was taken? */
bool drfs_mdc_changed(struct drfs_mdc *c, uint64_t ticket);

/*
 * Attributes of @ino (and, if @sha is not NULL, its content hash, "" for
 * none) into @a: true on a hit.
 */
bool drfs_mdc_attr_get(struct drfs_mdc *c, uint64_t ino, struct drfs_attr *a,
		       char sha[41]);
/* Store attributes read after @ticket; @sha may be NULL (not known). */
void drfs_mdc_attr_put(struct drfs_mdc *c, uint64_t ticket,
		       const struct drfs_attr *a, const char *sha);

/*
 * Entry @name of directory @dir: true on a hit, with *@ino the inode it
 * names and *@type its DT_ type, or *@ino = 0 for "no such entry".
 */
bool drfs_mdc_entry_get(struct drfs_mdc *c, uint64_t dir, const char *name,
			uint64_t *ino, uint8_t *type);
/* Store an entry read after @ticket (@ino 0: absent). */
void drfs_mdc_entry_put(struct drfs_mdc *c, uint64_t ticket, uint64_t dir,
			const char *name, uint64_t ino, uint8_t type);

/*
 * Drop everything known about @ino: attributes and its entries (rule 1).
 * Returns the new invalidation count: a caller that took ticket T just
 * before its own write and gets T + 1 back knows nothing else was
 * invalidated meanwhile, so it may store what it wrote with ticket T + 1.
 */
uint64_t drfs_mdc_inval(struct drfs_mdc *c, uint64_t ino);
/* Drop everything. */
void drfs_mdc_clear(struct drfs_mdc *c);
/* Switch it on or off (off: clears it, and it stays empty). */
void drfs_mdc_enable(struct drfs_mdc *c, bool on);
bool drfs_mdc_enabled(struct drfs_mdc *c);

void drfs_mdc_stats(struct drfs_mdc *c, struct drfs_mdc_stats *st);

#endif
