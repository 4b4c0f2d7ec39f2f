/*
 * lock.h - cluster-wide POSIX (fcntl) and flock locks, node sessions.
 *
 * A lock belongs to (node session UUID, kind, owner), where the owner is the
 * kernel's lock owner (a process's files table for fcntl locks, an open
 * file for flock).  fcntl and flock locks never conflict with each other,
 * as on Linux.  All locks of an inode live in the omap of object
 * "l.<ino>"; every change is one compound op under assert_version, so two
 * nodes never both get a conflicting lock.
 *
 * Each mounted node keeps a session key in object "sessions" (its client
 * address and lease expiry), renewed every DRFS_LEASE_RENEW seconds.  A
 * lock held by a node whose lease expired DRFS_LEASE seconds ago is broken
 * by the next node that wants it: first the dead node is blocklisted in
 * the OSD map (fenced: it can no longer write anything), then its session
 * and its locks are removed.  A node that finds its own session gone, or
 * that is refused by the OSDs as blocklisted, marks itself fenced and
 * fails every operation with EIO instead of writing stale data; its lease
 * thread then calls the on_fenced hook, which rejoins (drfs_rejoin_locked:
 * a new client instance, a new node UUID, a new session).
 */
#ifndef DRFS_LOCK_H
#define DRFS_LOCK_H

#include <stdint.h>
#include "fs.h"

#define DRFS_LEASE 20 /* seconds: a silent node loses its locks after this */
#define DRFS_LEASE_RENEW 4 /* seconds between renewals */

enum drfs_lk_kind { DRFS_LK_POSIX = 0, DRFS_LK_FLOCK = 1 };

struct drfs_lk {
	uint64_t start, end; /* inclusive; end UINT64_MAX = to EOF */
	int type; /* F_RDLCK, F_WRLCK or F_UNLCK */
	uint32_t pid;
};

/* Pure range logic (unit-tested): does (a, b) conflict? */
bool drfs_lk_overlap(const struct drfs_lk *a, const struct drfs_lk *b);

/*
 * Apply @lk (lock or unlock) for @owner on @ino.  -EAGAIN when another
 * owner holds a conflicting lock (described in *conflict if non-NULL).
 */
int drfs_lock_set(struct drfs_fs *fs, uint64_t ino, int kind, uint64_t owner,
		  const struct drfs_lk *lk, struct drfs_lk *conflict);
/* F_GETLK: *lk becomes the first conflicting lock, or type F_UNLCK. */
int drfs_lock_get(struct drfs_fs *fs, uint64_t ino, int kind, uint64_t owner,
		  struct drfs_lk *lk);
/* Drop all locks of @owner on @ino (close). */
int drfs_lock_release(struct drfs_fs *fs, uint64_t ino, int kind,
		      uint64_t owner);
/* Name of the object whose notifications announce unlocks of @ino. */
void drfs_lock_oid(char out[DRFS_OID_MAX], uint64_t ino);

/* Node session: register, renew in a thread, deregister. */
int drfs_session_start(struct drfs_fs *fs);
void drfs_session_stop(struct drfs_fs *fs);
/*
 * Once fenced, the lease thread calls @cb(@ctx) every second until the
 * node is no longer fenced; @cb holds no lock when called and is expected
 * to take conn_lock for writing and call drfs_rejoin_locked().  @cb NULL
 * removes the hook and waits for a running call to end (before teardown).
 */
void drfs_session_on_fenced(struct drfs_fs *fs, void (*cb)(void *ctx),
			    void *ctx);
/*
 * With conn_lock held for writing, the caller's watches undone: replace
 * the blocklisted client instance by a new one, take a new node UUID,
 * register its session, clear the fenced state, drop the old identity's
 * session record.  On failure the node stays fenced (@err says why).
 */
int drfs_rejoin_locked(struct drfs_fs *fs, char *err, size_t errlen);
/* Number of live sessions and the lock count of this node (for status). */
int drfs_sessions_list(struct drfs_fs *fs,
		       void (*cb)(void *ctx, const char *node, const char *addr,
				  int64_t expire_ns, const char *info),
		       void *ctx);

/* The counters node @node last published ("name=value ..."). */
int drfs_nodestats_get(struct drfs_fs *fs, const char *node, char *buf,
		       size_t size);

#endif
