/*
 * locks.c - FUSE glue for cluster-wide fcntl and flock locks.
 *
 * Non-blocking requests are answered at once.  A blocking request
 * (F_SETLKW, flock without LOCK_NB) that meets a conflict is parked in the
 * lock object (drfs_lock_wait: a waiter record, which the op that frees it
 * turns into its lock) and on the wait list, *without* holding a FUSE
 * worker thread: one waker thread retries the parked requests whenever a
 * watched lock object is notified (every op that frees or grants
 * something notifies its new state once its write has landed; the retry
 * then finds the lock granted without a RADOS call), at once when an op
 * on this node may have freed it, and every POLL_MS to read the object
 * and break the locks of nodes whose lease expired.  An interrupted
 * waiter (signal: FUSE_INTERRUPT) has its record taken back
 * (drfs_lock_cancel) and is answered EINTR - or 0 if an unlock granted it
 * first.  A waiter's close takes its record away with its locks.
 *
 * Data under locks: before an unlock is sent, this node's buffered writes
 * are made durable; when
 * a lock is granted, the kernel's page cache of the inode is dropped, so
 * the new holder reads what the previous one wrote.
 *
 * Locking: fs->conn_lock (read) before lw->lock, which protects the wait
 * list and the watch table.  A waiter's life: "parking" while its request
 * registers the interrupt callback (the waker leaves it alone), then on the
 * list; "busy" while the waker retries it without lw->lock; "claimed" once
 * taken off the list to be answered.  An interrupt arriving while busy,
 * parking or claimed only flags it; whoever claimed it first clears the
 * request's interrupt callback (libfuse waits for a running one), then
 * replies and frees it, so a callback never sees a freed waiter.
 *
 * Rejoin after fencing (drfsd_locks_detach, conn_lock held for writing):
 * the watches of the old client are undone and every parked waiter is
 * answered EIO: its request came through a handle of the old session.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>

#include "lock.h"
#include "locks.h"
#include "log.h"
#include "nodes.h"
#include "stats.h"
#include "wb.h"

/*
 * Waiters are woken by the unlock's notify (another node) or directly by
 * the unlock (this node).  The poll only breaks the locks of nodes whose
 * lease ended (they never unlock) and covers a lost watch.
 */
#define POLL_MS 1000

struct waiter {
	fuse_req_t req;
	uint64_t ino;
	int kind;
	uint64_t owner;
	struct drfs_lk lk;
	bool parking, busy, claimed, interrupted;
	struct waiter *next;
};

struct watch {
	uint64_t ino;
	struct drfs_watch w; /* armed: the slot is in use */
	int64_t last_used_ns; /* kept 30 s after its last waiter */
	char oid[DRFS_OID_MAX];
	struct lockwait *lw;
	bool used;
	bool fresh; /* just armed: its waiters' next retry reads the object */
};

/* Lock objects watched without a waiter: contended across nodes (a race
 * lost, drfs_lock_raced), for WANT_NS after the last such race. */
#define WANT_MAX 64
#define WANT_NS (30 * 1000000000ll)

struct want {
	uint64_t ino;
	int64_t until_ns;
};

struct lockwait {
	struct drfsd *d;
	struct want wants[WANT_MAX];
	size_t nwants;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct waiter *list;
	struct watch *watches;
	size_t nwatches, capwatches;
	bool kick, stop;
	pthread_t thread;
};

static struct drfsd *ctx_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void granted(struct drfsd *d, struct dnode *n, uint64_t ino)
{
	if (n)
		__atomic_store_n(&n->locked, true, __ATOMIC_RELAXED);
	/* The previous holder may have changed the file on another node. */
	fuse_lowlevel_notify_inval_inode(d->se, ino, 0, 0);
}

/* This node released a lock: its own waiters may go on at once. */
static void kick_local(struct lockwait *lw)
{
	pthread_mutex_lock(&lw->lock);
	if (lw->list) {
		lw->kick = true;
		pthread_cond_signal(&lw->cond);
	}
	pthread_mutex_unlock(&lw->lock);
}

static void waiter_list_remove(struct lockwait *lw, struct waiter *w)
{
	for (struct waiter **pp = &lw->list; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			return;
		}
}

/* Only flags it: taking its waiter record back is a RADOS call, which
 * the waker makes (waiter_finish). */
static void on_interrupt(fuse_req_t req, void *data)
{
	struct lockwait *lw = ctx_of(req)->lw;
	struct waiter *w = data;

	pthread_mutex_lock(&lw->lock);
	w->interrupted = true;
	lw->kick = true;
	pthread_cond_signal(&lw->cond);
	pthread_mutex_unlock(&lw->lock);
}

static void watch_cb(void *arg, const struct drfs_notify_in *n)
{
	struct watch *wt = arg;
	struct lockwait *lw = wt->lw;

	int hint;

	/* the new state first (before the waker looks); our own ops wake
	 * our waiters themselves (kick_local): 0 */
	hint = drfs_lock_hint(lw->d->fs, wt->ino, n->notifier, n->data, n->len);
	drfs_notify_ack(n);
	/* a recall (ours or another waiting node's) frees nothing; the
	 * give-back that answers it notifies */
	if (hint == 0 || (n->len == 1 && *(const char *)n->data == 'r'))
		return;
	pthread_mutex_lock(&lw->lock);
	lw->kick = true;
	pthread_cond_signal(&lw->cond);
	pthread_mutex_unlock(&lw->lock);
}

static void watch_err(void *arg, int err)
{
	drfs_warn("lock watch on %s lost: %s (polling until re-armed)",
		  ((struct watch *)arg)->oid, strerror(-err));
}

/*
 * Make the watch table match the inodes on the wait list.  Called by the
 * waker with lw->lock held; watches are fixed-size slots so callbacks can
 * keep pointers to them.
 */
static void watch_keep(struct lockwait *lw, uint64_t ino)
{
	struct drfs_fs *fs = lw->d->fs;
	size_t i, free_slot = SIZE_MAX;

	for (i = 0; i < lw->nwatches; i++) {
		bool armed = drfs_watch_armed(&lw->watches[i].w);

		if (armed && lw->watches[i].ino == ino)
			break;
		if (!armed && free_slot == SIZE_MAX)
			free_slot = i;
	}
	if (i < lw->nwatches) {
		lw->watches[i].used = true;
		lw->watches[i].last_used_ns = drfs_now_ns();
		return;
	}
	if (free_slot == SIZE_MAX) {
		if (lw->nwatches == lw->capwatches)
			return; /* table full: polling covers it */
		free_slot = lw->nwatches++;
	}
	struct watch *wt = &lw->watches[free_slot];

	wt->ino = ino;
	wt->lw = lw;
	drfs_lock_oid(wt->oid, ino);
	if (drfs_watch(fs, &wt->w, wt->oid, 0, watch_cb, watch_err, wt) == 0) {
		wt->used = true;
		wt->last_used_ns = drfs_now_ns();
		/* an unlock may have come before the watch was in place:
		 * look again now, at the object (its notify was missed) */
		lw->kick = true;
		wt->fresh = true;
	}
}

static void watches_sync(struct lockwait *lw)
{
	int64_t now = drfs_now_ns();
	size_t k = 0;

	for (size_t i = 0; i < lw->nwatches; i++)
		lw->watches[i].used = false;
	for (struct waiter *w = lw->list; w; w = w->next)
		watch_keep(lw, w->ino);
	for (size_t i = 0; i < lw->nwants; i++) {
		if (lw->wants[i].until_ns < now)
			continue;
		lw->wants[k++] = lw->wants[i];
		watch_keep(lw, lw->wants[i].ino);
	}
	lw->nwants = k;
	for (size_t i = 0; i < lw->nwatches; i++)
		if (drfs_watch_armed(&lw->watches[i].w) &&
		    !lw->watches[i].used &&
		    now - lw->watches[i].last_used_ns > 30 * 1000000000ll)
			drfs_unwatch(&lw->watches[i].w);
}

/* @ino's lock object is contended across nodes: watch it for a while
 * (the waker arms it). */
static void want_watch(struct lockwait *lw, uint64_t ino)
{
	int64_t until = drfs_now_ns() + WANT_NS;
	size_t i, old = 0;

	pthread_mutex_lock(&lw->lock);
	for (i = 0; i < lw->nwants; i++) {
		if (lw->wants[i].ino == ino)
			break;
		if (lw->wants[i].until_ns < lw->wants[old].until_ns)
			old = i;
	}
	if (i == lw->nwants) {
		if (lw->nwants < WANT_MAX)
			lw->nwants++;
		else
			i = old; /* full: the one wanted least recently goes */
		lw->wants[i].ino = ino;
		lw->kick = true;
		pthread_cond_signal(&lw->cond);
	}
	lw->wants[i].until_ns = until;
	pthread_mutex_unlock(&lw->lock);
}

/*
 * Answer a claimed waiter: after fuse_req_interrupt_func(NULL) no
 * interrupt callback runs any more, so its flag is final.
 */
static void waiter_finish(struct lockwait *lw, struct waiter *w, int ret)
{
	struct drfsd *d = lw->d;
	bool intr;

	fuse_req_interrupt_func(w->req, NULL, NULL);
	pthread_mutex_lock(&lw->lock);
	intr = w->interrupted;
	pthread_mutex_unlock(&lw->lock);
	if (ret != 0) {
		/* answered without the lock: its waiter record goes, unless
		 * another op granted it first - then it holds the lock, and
		 * says so (a signal that came after the grant) */
		int c = drfs_lock_cancel(d->fs, w->ino, w->kind, w->owner,
					 &w->lk);

		/* (-EIO: fenced, the record is a dead identity's) */
		if (c < 0 && c != -EIO)
			drfs_warn("cannot take back the parked lock request "
				  "on inode %" PRIx64 ": %s (released when "
				  "its file is closed)",
				  w->ino, strerror(-c));
		if (c == 1)
			ret = 0;
		else if (intr)
			ret = -EINTR;
	}
	if (ret == 0)
		granted(d, drfsd_node(d, w->ino), w->ino);
	fuse_reply_err(w->req, ret < 0 ? -drfs_ret(d->fs, ret) : 0);
	free(w);
}

/* Retry every parked request, oldest first (@poll: the periodic pass, not
 * a notify's).  lw->lock is held. */
/* Whether @ino's watch was armed since the last pass (so a notify sent
 * before it was in place may have been missed). */
static bool watch_fresh(const struct lockwait *lw, uint64_t ino)
{
	for (size_t i = 0; i < lw->nwatches; i++)
		if (lw->watches[i].fresh && lw->watches[i].ino == ino)
			return true;
	return false;
}

static void retry_all(struct lockwait *lw, bool poll)
{
	struct drfsd *d = lw->d;

	for (struct waiter *w = lw->list, *next; w; w = next) {
		int ret;

		next = w->next;
		if (w->parking)
			continue;
		bool intr = w->interrupted;
		bool reread = poll || watch_fresh(lw, w->ino);

		w->busy = true;
		pthread_mutex_unlock(&lw->lock);
		ret = intr ? -EINTR
			   : drfs_lock_retry(d->fs, w->ino, w->kind, w->owner,
					     &w->lk, reread);
		pthread_mutex_lock(&lw->lock);
		w->busy = false;
		next = w->next;
		if (ret == -EAGAIN && !w->interrupted)
			continue;
		waiter_list_remove(lw, w);
		w->claimed = true;
		pthread_mutex_unlock(&lw->lock);
		waiter_finish(lw, w, ret);
		pthread_mutex_lock(&lw->lock);
		next = lw->list; /* the list may have changed */
	}
}

static void *waker_main(void *arg)
{
	struct lockwait *lw = arg;
	struct drfs_fs *fs = lw->d->fs;
	int64_t last_poll = drfs_now_ns();

	pthread_mutex_lock(&lw->lock);
	while (!lw->stop) {
		struct timespec ts;
		bool poll = !lw->kick;

		if (!lw->kick) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += POLL_MS * 1000000L;
			ts.tv_sec += ts.tv_nsec / 1000000000L;
			ts.tv_nsec %= 1000000000L;
			if (lw->list)
				pthread_cond_timedwait(&lw->cond, &lw->lock,
						       &ts);
			else
				pthread_cond_wait(&lw->cond, &lw->lock);
		}
		if (lw->stop)
			break;
		/* the connection is held for the pass (lock order) */
		pthread_mutex_unlock(&lw->lock);
		drfs_conn_rdlock(fs);
		pthread_mutex_lock(&lw->lock);
		/* woken by nothing (the timeout), or none for a while: a
		 * poll */
		poll = (poll && !lw->kick) ||
		       drfs_now_ns() - last_poll > POLL_MS * 1000000ll;
		if (poll)
			last_poll = drfs_now_ns();
		lw->kick = false;
		watches_sync(lw); /* may kick again: a watch was armed */
		retry_all(lw, poll);
		for (size_t i = 0; i < lw->nwatches; i++)
			lw->watches[i].fresh = false;
		pthread_mutex_unlock(&lw->lock);
		drfs_conn_unlock(fs);
		pthread_mutex_lock(&lw->lock);
	}
	pthread_mutex_unlock(&lw->lock);
	return NULL;
}

void drfsd_locks_detach(struct drfsd *d)
{
	struct lockwait *lw = d->lw;
	struct waiter *list;
	struct drfs_watch *armed;
	size_t n = 0;

	if (!lw)
		return;
	armed = calloc(lw->capwatches, sizeof(*armed));
	pthread_mutex_lock(&lw->lock);
	for (size_t i = 0; i < lw->nwatches; i++) {
		struct watch *wt = &lw->watches[i];

		if (drfs_watch_armed(&wt->w) && armed)
			armed[n++] = wt->w;
		drfs_watch_forget(&wt->w);
	}
	/* no request is parking or busy: they hold conn_lock */
	list = lw->list;
	lw->list = NULL;
	for (struct waiter *w = list; w; w = w->next)
		w->claimed = true;
	pthread_mutex_unlock(&lw->lock);
	/* outside lw->lock: a callback may be waiting for it; the watches
	 * are on the old client, still open until the reconnect */
	for (size_t i = 0; i < n; i++)
		drfs_unwatch(&armed[i]);
	free(armed);
	while (list) {
		struct waiter *w = list;

		list = w->next;
		fuse_req_interrupt_func(w->req, NULL, NULL);
		fuse_reply_err(w->req, EIO);
		free(w);
	}
}

int drfsd_locks_start(struct drfsd *d)
{
	struct lockwait *lw = calloc(1, sizeof(*lw));

	if (!lw)
		return -ENOMEM;
	lw->d = d;
	lw->capwatches = 1024;
	lw->watches = calloc(lw->capwatches, sizeof(*lw->watches));
	if (!lw->watches) {
		free(lw);
		return -ENOMEM;
	}
	pthread_mutex_init(&lw->lock, NULL);
	pthread_cond_init(&lw->cond, NULL);
	d->lw = lw;
	return -pthread_create(&lw->thread, NULL, waker_main, lw);
}

void drfsd_locks_stop(struct drfsd *d)
{
	struct lockwait *lw = d->lw;

	if (!lw)
		return;
	pthread_mutex_lock(&lw->lock);
	lw->stop = true;
	pthread_cond_signal(&lw->cond);
	pthread_mutex_unlock(&lw->lock);
	pthread_join(lw->thread, NULL);
	for (size_t i = 0; i < lw->nwatches; i++)
		drfs_unwatch(&lw->watches[i].w);
	drfs_watch_flush(d->fs);
	drfs_conn_rdlock(d->fs);
	while (lw->list) {
		struct waiter *w = lw->list;

		lw->list = w->next;
		/* its waiter record goes (a grant that came first is
		 * released with the session) */
		drfs_lock_cancel(d->fs, w->ino, w->kind, w->owner, &w->lk);
		fuse_req_interrupt_func(w->req, NULL, NULL);
		fuse_reply_err(w->req, EINTR);
		free(w);
	}
	drfs_conn_unlock(d->fs);
	free(lw->watches);
	free(lw);
	d->lw = NULL;
}

/* Take, wait for, or release a lock; replies to @req in every case. */
static void lock_request(fuse_req_t req, uint64_t ino, int kind, uint64_t owner,
			 const struct drfs_lk *lk, bool sleep)
{
	struct drfsd *d = ctx_of(req);
	struct dnode *n = drfsd_node(d, ino);
	struct waiter *w;
	int ret;

	drfsd_count(d, DRFSD_OP_LOCK, drfsd_area_of(d, ino));
	if (lk->type == F_UNLCK && n) {
		/* what we wrote under the lock is durable before others
		 * can take it */
		ret = drfsd_wb_sync(d, n);
		if (ret < 0) {
			fuse_reply_err(req, -drfs_ret(d->fs, ret));
			return;
		}
	}
	ret = sleep && lk->type != F_UNLCK
		      ? drfs_lock_wait(d->fs, ino, kind, owner, lk)
		      : drfs_lock_set(d->fs, ino, kind, owner, lk, NULL);
	if (ret == 0 && lk->type != F_UNLCK)
		granted(d, n, ino);
	if (ret == 0) /* an unlock, or a write that granted parked ones */
		kick_local(d->lw);
	if (drfs_lock_raced(d->fs, ino))
		want_watch(d->lw, ino);
	if (ret != -EAGAIN || !sleep) {
		fuse_reply_err(req, ret < 0 ? -drfs_ret(d->fs, ret) : 0);
		return;
	}
	/* parked in the object: the close must take its record away */
	if (n)
		__atomic_store_n(&n->locked, true, __ATOMIC_RELAXED);
	w = calloc(1, sizeof(*w));
	if (!w) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	w->req = req;
	w->ino = ino;
	w->kind = kind;
	w->owner = owner;
	w->lk = *lk;
	w->parking = true;
	pthread_mutex_lock(&d->lw->lock);
	w->next = NULL;
	{
		struct waiter **pp = &d->lw->list;

		while (*pp)
			pp = &(*pp)->next;
		*pp = w;
	}
	pthread_mutex_unlock(&d->lw->lock);
	/* an interrupt that came already calls on_interrupt here, which
	 * only flags the parking waiter */
	fuse_req_interrupt_func(req, on_interrupt, w);
	pthread_mutex_lock(&d->lw->lock);
	w->parking = false;
	d->lw->kick = true; /* arm the watch now */
	pthread_cond_signal(&d->lw->cond);
	pthread_mutex_unlock(&d->lw->lock);
}

/* A lock request through a handle opened before a rejoin (EIO). */
static bool stale(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	return !drfsd_is_local(ino) && !drfsd_is_stats(ino) &&
	       !drfsd_fh(ctx_of(req), fi);
}

static void from_flock(const struct flock *fl, struct drfs_lk *lk)
{
	lk->type = fl->l_type;
	lk->start = (uint64_t)fl->l_start;
	lk->end = fl->l_len == 0 ? UINT64_MAX
				 : (uint64_t)(fl->l_start + fl->l_len - 1);
	lk->pid = (uint32_t)fl->l_pid;
}

void drfs_op_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		   struct flock *lock)
{
	struct drfs_lk lk;
	int ret;

	if (stale(req, ino, fi)) {
		fuse_reply_err(req, EIO);
		return;
	}
	from_flock(lock, &lk);
	ret = drfs_lock_get(ctx_of(req)->fs, ino, DRFS_LK_POSIX, fi->lock_owner,
			    &lk);
	if (ret < 0) {
		fuse_reply_err(req, -drfs_ret(ctx_of(req)->fs, ret));
		return;
	}
	lock->l_type = (short)lk.type;
	if (lk.type != F_UNLCK) {
		lock->l_whence = SEEK_SET;
		lock->l_start = (off_t)lk.start;
		lock->l_len = lk.end == UINT64_MAX
				      ? 0
				      : (off_t)(lk.end - lk.start + 1);
		lock->l_pid = (pid_t)lk.pid;
	}
	fuse_reply_lock(req, lock);
}

void drfs_op_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		   struct flock *lock, int sleep)
{
	struct drfs_lk lk;

	if (stale(req, ino, fi)) {
		fuse_reply_err(req, EIO);
		return;
	}
	from_flock(lock, &lk);
	lock_request(req, ino, DRFS_LK_POSIX, fi->lock_owner, &lk, sleep);
}

void drfs_op_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		   int op)
{
	struct drfs_lk lk = {0, UINT64_MAX, F_UNLCK, 0};

	if (stale(req, ino, fi)) {
		fuse_reply_err(req, EIO);
		return;
	}
	switch (op & ~LOCK_NB) {
	case LOCK_SH:
		lk.type = F_RDLCK;
		break;
	case LOCK_EX:
		lk.type = F_WRLCK;
		break;
	case LOCK_UN:
		break;
	default:
		fuse_reply_err(req, EINVAL);
		return;
	}
	lk.pid = fuse_req_ctx(req)->pid;
	/* flock belongs to the open file: our owner of it (struct dfile) */
	lock_request(req, ino, DRFS_LK_FLOCK,
		     drfsd_is_local(ino) || drfsd_is_stats(ino)
			     ? fi->lock_owner
			     : ((struct dfile *)(uintptr_t)fi->fh)->flock_owner,
		     &lk, !(op & LOCK_NB));
}

void drfsd_locks_on_flush(struct drfsd *d, struct dnode *n, uint64_t owner)
{
	int ret;

	if (!__atomic_load_n(&n->locked, __ATOMIC_RELAXED))
		return;
	ret = drfs_lock_release(d->fs, n->ino, DRFS_LK_POSIX, owner);
	kick_local(d->lw);
	if (ret < 0)
		drfs_warn("cannot release fcntl locks on inode %" PRIx64
			  " at close: %s",
			  n->ino, strerror(-ret));
}

void drfsd_locks_on_release(struct drfsd *d, struct dnode *n, uint64_t owner)
{
	int ret;

	if (!__atomic_load_n(&n->locked, __ATOMIC_RELAXED))
		return;
	ret = drfs_lock_release(d->fs, n->ino, DRFS_LK_FLOCK, owner);
	kick_local(d->lw);
	if (ret < 0)
		drfs_warn("cannot release flock on inode %" PRIx64
			  " at close: %s",
			  n->ino, strerror(-ret));
}
