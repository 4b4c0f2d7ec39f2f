/*
 * lock.h - cluster-wide POSIX (fcntl) and flock locks, node sessions.
 *
 * A lock belongs to (node session UUID, kind, owner), where the owner is the
 * kernel's lock owner (a process's files table for fcntl locks, an open
 * file for flock).  fcntl and flock locks never conflict with each other,
 * as on Linux.  All locks of an inode live in the omap of object
 * "l.<ino>"; every change is one compound op guarded by the object's
 * change token (xattr "v"), so two nodes never both get a conflicting
 * lock.  A node caches the lock objects it used: an uncontended lock or
 * unlock is one guarded write, without a read first (see lock.c).  A node
 * that keeps using a lock object alone takes its delegation (key "d",
 * naming the node): its lock and unlock requests on it, and F_GETLK, are
 * then decided in memory, where its records are exact (the object's are
 * stale), until it gives the delegation back: when another node recalls
 * it, after DELEG_IDLE_NS unused, before a request once its lease, its
 * fencing or its watch no longer allow local grants, at unmount.  A
 * rejoin forgets them (doc/design.md, "Node-local grants").
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
/* clock skew allowed between nodes when reading another node's expiry */
#define DRFS_LEASE_SKEW_NS 1000000000ll
/* the longest gap between our own renewals that still counts as renewing */
#define DRFS_LEASE_GAP_NS (2 * DRFS_LEASE_RENEW * 1000000000ll)

enum drfs_lk_kind { DRFS_LK_POSIX = 0, DRFS_LK_FLOCK = 1 };

/* omap key of a lock object naming the node that holds its delegation */
#define DRFS_LK_DELEG_KEY "d"

struct drfs_lk {
	uint64_t start, end; /* inclusive; end UINT64_MAX = to EOF */
	int type; /* F_RDLCK, F_WRLCK or F_UNLCK */
	uint32_t pid;
};

/*
 * Pure logic, no RADOS (unit-tested in tests/unit/test_lock.c).
 *
 * drfs_lk_overlap: do the byte ranges of @a and @b share a byte?
 * drfs_lk_conflict: can @a and @b not be held by two owners at once
 * (overlap, and one of them is a write lock)?
 */
bool drfs_lk_overlap(const struct drfs_lk *a, const struct drfs_lk *b);
bool drfs_lk_conflict(const struct drfs_lk *a, const struct drfs_lk *b);
/*
 * One owner's ranges after applying @lk (F_RDLCK, F_WRLCK or F_UNLCK) to
 * its @n ranges @mine (which do not overlap), as Linux does for one
 * process: @lk's bytes are taken out of every range (a range may split in
 * two), then a lock is added and merged with the owner's ranges of the
 * same type it overlaps or touches.  Writes at most n + 2 ranges to @out;
 * returns their number.  The ranges in @out do not overlap; their order
 * is unspecified.  pid: kept per range; a merged range gets @lk's.
 */
int drfs_lk_apply(const struct drfs_lk *mine, int n, const struct drfs_lk *lk,
		  struct drfs_lk *out);
/* Has a lease whose holder wrote expiry @expire_ns (wall clock) ended at
 * @now_ns?  DRFS_LEASE_SKEW_NS of clock skew is allowed. */
bool drfs_lease_expired(int64_t expire_ns, int64_t now_ns);
/*
 * May this node judge other nodes' leases at @now (CLOCK_MONOTONIC ns)?
 * Only if its own renewals have gone through, without a gap longer than
 * DRFS_LEASE_GAP_NS (last success at @ok_last, 0 = never), for a whole
 * lease period (uninterrupted since @ok_since; so also not in its first
 * DRFS_LEASE seconds).  After an outage that stopped everybody's renewals
 * every lease looks expired; the other nodes renew within
 * DRFS_LEASE_RENEW seconds of the cluster's return and must not be fenced
 * for the cluster's fault.  (Waiting longer is always safe.)
 */
bool drfs_lease_judge(int64_t now, int64_t ok_last, int64_t ok_since);
/*
 * May a node that holds a delegation grant locally at @now (CLOCK_MONOTONIC
 * ns)?  Only before @lease_until (drfs_fs.lease_local_until: meant to end
 * before any other node can judge its lease over; 0: no renewal has landed
 * yet, never), while not fenced, and while the watch other nodes recall
 * through is not broken (@watch_ms: what drfs_watch_check() returned, ms
 * since its last confirmation or -errno; any value >= 0 will do).
 */
bool drfs_deleg_local_ok(int64_t now, int64_t lease_until, bool fenced,
			 int watch_ms);
/* local grants end this long before our lease could be judged over */
#define DRFS_DELEG_MARGIN_NS (DRFS_LEASE_SKEW_NS + 2000000000ll)
/*
 * A lease renewal sent at @sent landed at @done (CLOCK_MONOTONIC ns): the
 * new lease_local_until.  *@bound (the bound the renewal before gave;
 * updated) is @sent + DRFS_LEASE - DRFS_DELEG_MARGIN_NS.  One that landed
 * at or after the bound before it (another node may have judged that
 * lease over and be fencing us) turns local grants off (0) until a lease
 * after it (*@off); @first (a new session) clears that.
 */
int64_t drfs_lease_local_after(bool first, int64_t sent, int64_t done,
			       int64_t *bound, int64_t *off);
/*
 * May a node take the delegation of a lock object with its next write?
 * Once @streak, its uncontended writes in a row on the object so far, has
 * reached @min_streak (DELEG_STREAK); only when @cool_ns (DELEG_COOL_NS)
 * or more have passed since the last contention or recall seen, at
 * @cool_since (0: never); and while it holds fewer than @max (DELEG_MAX)
 * delegations (@held).  lock.c also wants the write itself uncontended,
 * no other node's record left in the object, and drfs_deleg_local_ok().
 */
bool drfs_deleg_may_take(int streak, int64_t now, int64_t cool_since, int held,
			 int max, int min_streak, int64_t cool_ns);

/*
 * Which parked requests an op that changes a lock object grants (pure
 * logic, unit-tested).  @held (*@nh entries, room for @cap) are the locks
 * the object will hold, @w (@nw) the waiting requests oldest first; same
 * id = same owner (the caller numbers them).  A waiter that conflicts
 * with no lock of another owner of its kind is granted: its lock is
 * applied to its owner's ranges in @held (as drfs_lk_apply), so the
 * waiters after it see it, and granted[i] is set.  Passes repeat while
 * one grants something (a grant may shrink a range its owner held).
 * Returns the number granted, -ENOSPC when @held would outgrow @cap,
 * -ENOMEM.
 */
struct drfs_lkown {
	uint64_t id;
	int kind;
	struct drfs_lk lk;
};
int drfs_lk_grant(struct drfs_lkown *held, int *nh, int cap,
		  const struct drfs_lkown *w, int nw, bool *granted);

/*
 * Apply @lk (lock or unlock) for @owner on @ino.  -EAGAIN when another
 * owner holds a conflicting lock (described in *conflict if non-NULL), or
 * when another live node holds the delegation of @ino and has not given it
 * back after RECALL_TRIES recalls or left one unanswered for RECALL_MS.
 * Returns once the change is replicated, or made in memory under this
 * node's delegation (an unlock is seen by every node that asks afterwards:
 * it recalls the delegation first).  Needs the session
 * (drfs_session_start): -ENOLCK without.
 */
int drfs_lock_set(struct drfs_fs *fs, uint64_t ino, int kind, uint64_t owner,
		  const struct drfs_lk *lk, struct drfs_lk *conflict);

/*
 * Another node's notify on the lock object of @ino (librados thread; no
 * RADOS call, no waiting): an op's "U" names the token it was guarded by,
 * the one it left and the records now there.  If this node's state of
 * the object is exactly the one guarded by, it takes the new one, so its
 * waiter's next try needs no read first (a stale hint cannot be taken:
 * the tokens would not match).  1: taken; 0: this node's own notify
 * (@notifier: the sender's instance id) or a state it has already; -1:
 * not taken (the next op on the object reads it first).
 */
int drfs_lock_hint(struct drfs_fs *fs, uint64_t ino, uint64_t notifier,
		   const void *data, size_t len);
/*
 * Did another node's write on the lock object of @ino beat one of ours
 * (a failed guard) since the last call?  Such an object is contended
 * across nodes: a node that watches it follows the others' notified
 * states and its next op needs no read first (a node that never parks,
 * because every race it loses ends before its read, would otherwise
 * never watch and lose every race).  Clears the flag.
 */
bool drfs_lock_raced(struct drfs_fs *fs, uint64_t ino);
/*
 * A blocking request (F_SETLKW, flock without LOCK_NB): drfs_lock_set(),
 * but a conflict parks it in the object, as a waiter record
 * ("<node>:<kind + 2>:<owner>:<start>:<since>", value as a lock's).  Every
 * later op on the object that leaves the waiter free of conflicts grants
 * it in the same guarded write (and notifies), so a handoff between nodes
 * costs the unlock's write, not a second one by the waiter.  -EAGAIN:
 * parked (the record is written; under our own delegation none is, our
 * unlocks wake our waiters); try again with drfs_lock_retry() when the object is notified,
 * which finds the lock granted without a RADOS call when the notify
 * carried the new state.
 */
int drfs_lock_wait(struct drfs_fs *fs, uint64_t ino, int kind, uint64_t owner,
		   const struct drfs_lk *lk);
/*
 * drfs_lock_wait() for a parked request being tried again: another live
 * node's delegation is recalled without waiting for its answer (-EAGAIN at
 * once; the give-back notifies the lock object, which wakes the waiter).
 * Woken by a notify (@poll false), a conflict in the state this node has
 * is believed: every change of the object notifies, and a notify whose
 * state was not taken makes the next try read.  @poll (the periodic
 * retry): the object is read, and the locks of dead nodes broken.
 */
int drfs_lock_retry(struct drfs_fs *fs, uint64_t ino, int kind, uint64_t owner,
		    const struct drfs_lk *lk, bool poll);
/*
 * A parked request is answered otherwise (interrupted, unmount): take its
 * waiter record away.  1 when another op granted it first (the caller
 * holds the lock and should say so), 0 when taken away, -errno.
 */
int drfs_lock_cancel(struct drfs_fs *fs, uint64_t ino, int kind, uint64_t owner,
		     const struct drfs_lk *lk);
/* F_GETLK: *lk becomes the first conflicting lock, or type F_UNLCK
 * (read from the object, never from the cache; under this node's own
 * delegation from memory, where the records are exact).  Another live
 * node's delegation is recalled first, -EAGAIN as for drfs_lock_set(). */
int drfs_lock_get(struct drfs_fs *fs, uint64_t ino, int kind, uint64_t owner,
		  struct drfs_lk *lk);
/* Drop all locks and waiter records of @owner on @ino (close). */
int drfs_lock_release(struct drfs_fs *fs, uint64_t ino, int kind,
		      uint64_t owner);
/* Name of the lock object of @ino; its notifications announce unlocks
 * ("u") and carry recalls of its delegation ("r"). */
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
