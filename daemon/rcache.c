/*
 * rcache.c - the node's on-disk read cache of filedir content.
 *
 * Pool content never changes and is named by its SHA-1, so a local copy is
 * never stale: it can only become unreferenced.  Files live in
 * <cache_path>/<sha[0:2]>/<sha>; a fill writes <cache_path>/tmp.<rand> and
 * renames it into place once its SHA-1 matched, so a file under its final
 * name was complete when written.  A crash or a disk error may still leave
 * bad bytes, so each file is verified (its SHA-1 recomputed) the first
 * time this daemon serves it; a mismatch deletes it, is counted and
 * logged, and the read goes to RADOS.
 *
 * The cache is an LRU bounded by cache_size: the least recently opened
 * files are deleted first.  The order survives a restart through the
 * files' mtimes, which a hit sets to now.  A lock file keeps a second
 * daemon from sharing the directory.
 *
 * Fills happen in one background thread, queued by the first open of
 * content that is not cached; that open and its reads go to RADOS.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "log.h"
#include "lru.h"
#include "rcache.h"

#define RC_QUEUE_MAX 64

struct rc_job {
	char sha[41];
	uint64_t ino, size;
};

struct rcache {
	char *dir;
	int dirfd, lockfd;
	pthread_mutex_t lock;
	struct drfs_lru lru; /* protected by lock; policy in fs/lru.c */
	/* fill queue */
	pthread_cond_t cond;
	pthread_t thread;
	bool thread_up, stop;
	struct rc_job queue[RC_QUEUE_MAX];
	size_t nqueue;
	char busy[41]; /* the job being filled */
	uint64_t epoch; /* purge epoch the content belongs to */
};

static void relpath(char out[48], const char *sha)
{
	snprintf(out, 48, "%.2s/%s", sha, sha);
}

/* An entry leaves the index: its file goes too. */
static void unlink_file(void *ctx, const struct drfs_lru_entry *e)
{
	struct rcache *rc = ctx;
	char rel[48];

	relpath(rel, e->key);
	unlinkat(rc->dirfd, rel, 0);
}

static void remove_locked(struct rcache *rc, struct drfs_lru_entry *e)
{
	unlink_file(rc, e);
	drfs_lru_remove(&rc->lru, e);
}

static void evict_locked(struct drfsd *d, uint64_t room)
{
	struct rcache *rc = d->rc;
	size_t n = drfs_lru_evict(&rc->lru, room, unlink_file, rc);

	drfs_stat_add(d->fs, DRFS_ST_RC_EVICT, n);
}

/* SHA-1 of an open local file, as 40 hex digits. */
static int sha1_fd(int fd, char out[41])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[20];
	unsigned int mdlen = 0;
	char *buf = malloc(1 << 20);
	off_t off = 0;
	int ret = 0;

	if (!ctx || !buf) {
		ret = -ENOMEM;
		goto out;
	}
	EVP_DigestInit_ex(ctx, EVP_sha1(), NULL);
	for (;;) {
		ssize_t n = pread(fd, buf, 1 << 20, off);

		if (n < 0) {
			ret = -errno;
			goto out;
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		off += n;
	}
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	for (int i = 0; i < 20; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
out:
	EVP_MD_CTX_free(ctx);
	free(buf);
	return ret;
}

int drfsd_rc_open(struct drfsd *d, const char *sha, uint64_t size)
{
	struct rcache *rc = d->rc;
	struct drfs_lru_entry *e;
	char rel[48], got[41];
	bool verify;
	int fd;

	if (!rc || !drfs_filedir_name(sha))
		return -1;
	pthread_mutex_lock(&rc->lock);
	e = drfs_lru_find(&rc->lru, sha);
	if (!e || e->size != size) {
		pthread_mutex_unlock(&rc->lock);
		drfs_stat_add(d->fs, DRFS_ST_RC_MISS, 1);
		return -1;
	}
	verify = !e->verified;
	drfs_lru_touch(&rc->lru, e);
	pthread_mutex_unlock(&rc->lock);

	relpath(rel, sha);
	fd = openat(rc->dirfd, rel, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && verify && (sha1_fd(fd, got) < 0 || strcmp(got, sha))) {
		drfs_err("read cache: %s/%s does not match its SHA-1 "
			 "(corrupted on local disk): deleted, reading from "
			 "the cluster",
			 rc->dir, rel);
		drfs_stat_add(d->fs, DRFS_ST_RC_CORRUPT, 1);
		close(fd);
		fd = -1;
	}
	pthread_mutex_lock(&rc->lock);
	e = drfs_lru_find(&rc->lru, sha);
	if (e && fd < 0)
		remove_locked(rc, e);
	else if (e)
		e->verified = true;
	pthread_mutex_unlock(&rc->lock);
	if (fd < 0) {
		drfs_stat_add(d->fs, DRFS_ST_RC_MISS, 1);
		return -1;
	}
	futimens(fd, NULL); /* LRU order across restarts: mtime = last use */
	drfs_stat_add(d->fs, DRFS_ST_RC_HIT, 1);
	return fd;
}

void drfsd_rc_want(struct drfsd *d, const char *sha, uint64_t ino,
		   uint64_t size)
{
	struct rcache *rc = d->rc;

	/* a file larger than a quarter of the cache would churn it */
	/* the limit never changes: no lock needed to judge the size */
	if (!rc || !drfs_lru_admit(&rc->lru, size) || !drfs_filedir_name(sha))
		return;
	pthread_mutex_lock(&rc->lock);
	bool queued = !strcmp(rc->busy, sha) || drfs_lru_find(&rc->lru, sha);

	for (size_t i = 0; i < rc->nqueue && !queued; i++)
		queued = !strcmp(rc->queue[i].sha, sha);
	if (!queued && rc->nqueue < RC_QUEUE_MAX) {
		struct rc_job *j = &rc->queue[rc->nqueue++];

		memcpy(j->sha, sha, 41);
		j->ino = ino;
		j->size = size;
		pthread_cond_signal(&rc->cond);
	}
	pthread_mutex_unlock(&rc->lock);
}

/* Copy content @j from the cluster into the cache. */
static int fill(struct drfsd *d, const struct rc_job *j)
{
	struct rcache *rc = d->rc;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t chunk = 4u << 20;
	char *buf = malloc(chunk), tmp[64], rel[48], got[41], sub[3];
	unsigned char md[20];
	unsigned int mdlen = 0;
	uint64_t off = 0;
	int fd = -1, ret = 0;

	snprintf(tmp, sizeof(tmp), "tmp.%016" PRIx64 ".%d", j->ino, getpid());
	if (!ctx || !buf) {
		ret = -ENOMEM;
		goto out;
	}
	fd = openat(rc->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0600);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	EVP_DigestInit_ex(ctx, EVP_sha1(), NULL);
	while (off < j->size) {
		/* drfs_read verifies the block checksums; the connection
		 * may be replaced (rejoin) between chunks, not during one */
		ssize_t n;

		drfs_conn_rdlock(d->fs);
		n = drfs_read(d->fs, j->ino, off, chunk, buf);
		drfs_conn_unlock(d->fs);

		if (n <= 0) {
			ret = n < 0 ? (int)n : -EIO;
			goto out;
		}
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		if (write(fd, buf, (size_t)n) != n) {
			ret = errno ? -errno : -ENOSPC;
			goto out;
		}
		off += (uint64_t)n;
	}
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	for (int i = 0; i < 20; i++)
		snprintf(got + 2 * i, 3, "%02x", md[i]);
	if (strcmp(got, j->sha) || off != j->size) {
		ret = -EIO; /* not what the name says: never cache it */
		goto out;
	}
	snprintf(sub, sizeof(sub), "%.2s", j->sha);
	mkdirat(rc->dirfd, sub, 0700);
	relpath(rel, j->sha);
	if (renameat(rc->dirfd, tmp, rc->dirfd, rel) < 0) {
		ret = -errno;
		goto out;
	}
	tmp[0] = 0;
out:
	if (fd >= 0)
		close(fd);
	if (tmp[0])
		unlinkat(rc->dirfd, tmp, 0);
	EVP_MD_CTX_free(ctx);
	free(buf);
	return ret;
}

static void *fill_main(void *arg)
{
	struct drfsd *d = arg;
	struct rcache *rc = d->rc;

	pthread_mutex_lock(&rc->lock);
	while (!rc->stop) {
		struct rc_job j;
		struct drfs_lru_entry *e;
		int ret;

		if (!rc->nqueue) {
			pthread_cond_wait(&rc->cond, &rc->lock);
			continue;
		}
		j = rc->queue[0];
		memmove(rc->queue, rc->queue + 1,
			--rc->nqueue * sizeof(rc->queue[0]));
		memcpy(rc->busy, j.sha, 41);
		evict_locked(d, j.size);
		pthread_mutex_unlock(&rc->lock);
		ret = fill(d, &j);
		pthread_mutex_lock(&rc->lock);
		rc->busy[0] = 0;
		if (ret < 0) {
			drfs_warn("read cache: cannot cache %s: %s", j.sha,
				  strerror(-ret));
			continue;
		}
		e = drfs_lru_insert(&rc->lru, j.sha, j.size);
		if (!e)
			continue; /* already indexed (or no memory) */
		e->verified = true; /* hashed as it was written */
		evict_locked(d, 0);
		drfs_stat_add(d->fs, DRFS_ST_RC_FILL, 1);
	}
	pthread_mutex_unlock(&rc->lock);
	return NULL;
}

/* Index the files a previous run left, oldest first; drop the rest. */
static int load(struct rcache *rc)
{
	DIR *top = fdopendir(dup(rc->dirfd));
	struct drfs_lru_seed *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;

	if (!top)
		return -errno;
	while ((de = readdir(top))) {
		DIR *sub;
		struct dirent *fe;
		int sfd;

		if (!strncmp(de->d_name, "tmp.", 4)) {
			unlinkat(rc->dirfd, de->d_name, 0); /* a crashed fill */
			continue;
		}
		if (strlen(de->d_name) != 2 || !isxdigit(de->d_name[0]))
			continue;
		sfd = openat(rc->dirfd, de->d_name, O_RDONLY | O_DIRECTORY);
		sub = sfd >= 0 ? fdopendir(sfd) : NULL;
		if (!sub)
			continue;
		while ((fe = readdir(sub))) {
			struct stat st;

			if (fe->d_name[0] == '.')
				continue;
			if (!drfs_filedir_name(fe->d_name) ||
			    strncmp(fe->d_name, de->d_name, 2) ||
			    fstatat(dirfd(sub), fe->d_name, &st, 0) < 0 ||
			    !S_ISREG(st.st_mode)) {
				unlinkat(dirfd(sub), fe->d_name, 0);
				continue;
			}
			if (n == cap) {
				struct drfs_lru_seed *nv;

				cap = cap * 2 + 256;
				nv = realloc(v, cap * sizeof(*v));
				if (!nv)
					break;
				v = nv;
			}
			memcpy(v[n].key, fe->d_name, 41);
			v[n].size = (uint64_t)st.st_size;
			v[n].mtime_ns =
				(int64_t)st.st_mtim.tv_sec * 1000000000 +
				st.st_mtim.tv_nsec;
			n++;
		}
		closedir(sub);
	}
	closedir(top);
	/* oldest first: the file used last ends up the newest */
	if (drfs_lru_restore(&rc->lru, v, n) < 0)
		drfs_warn("read cache: out of memory indexing %s: some "
			  "files are not used",
			  rc->dir);
	free(v);
	return 0;
}

/* The purge epoch the files belong to, in <dir>/.epoch. */
static uint64_t epoch_load(struct rcache *rc)
{
	char buf[32] = "";
	int fd = openat(rc->dirfd, ".epoch", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	return n > 0 ? strtoull(buf, NULL, 10) : 0;
}

static void epoch_store(struct rcache *rc, uint64_t epoch)
{
	char buf[32];
	int fd = openat(rc->dirfd, ".epoch.tmp",
			O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int n = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", epoch);

	if (fd < 0)
		return;
	if (write(fd, buf, (size_t)n) == n)
		renameat(rc->dirfd, ".epoch.tmp", rc->dirfd, ".epoch");
	close(fd);
}

void drfsd_rc_epoch(struct drfsd *d, uint64_t epoch)
{
	struct rcache *rc = d->rc;
	size_t n;

	if (!rc)
		return;
	pthread_mutex_lock(&rc->lock);
	if (epoch == rc->epoch) {
		pthread_mutex_unlock(&rc->lock);
		return;
	}
	rc->nqueue = 0;
	n = drfs_lru_clear(&rc->lru, unlink_file, rc);
	rc->epoch = epoch;
	/* a fill in flight lands after the purge: harmless, the content
	 * is still right; only its space comes back later */
	epoch_store(rc, epoch);
	pthread_mutex_unlock(&rc->lock);
	if (n)
		drfs_info("read cache purged (epoch %" PRIu64
			  "): %zu files removed",
			  epoch, n);
}

int drfsd_rc_start(struct drfsd *d, const char *dir, uint64_t limit)
{
	struct rcache *rc = calloc(1, sizeof(*rc));
	struct stat st;
	int ret;

	if (!rc)
		return -ENOMEM;
	rc->dir = strdup(dir);
	drfs_lru_init(&rc->lru, limit);
	rc->dirfd = rc->lockfd = -1;
	pthread_mutex_init(&rc->lock, NULL);
	pthread_cond_init(&rc->cond, NULL);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		ret = -errno;
		drfs_err("read cache: cannot create %s: %s", dir,
			 strerror(errno));
		goto fail;
	}
	rc->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rc->dirfd < 0 || fstat(rc->dirfd, &st) < 0) {
		ret = -errno;
		drfs_err("read cache: cannot open %s: %s", dir,
			 strerror(errno));
		goto fail;
	}
	/* pool content of a site: readable by root only */
	if ((st.st_mode & 077) && fchmod(rc->dirfd, 0700) < 0)
		drfs_warn("read cache: cannot make %s private: %s", dir,
			  strerror(errno));
	rc->lockfd =
		openat(rc->dirfd, ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (rc->lockfd < 0 || flock(rc->lockfd, LOCK_EX | LOCK_NB) < 0) {
		ret = -EBUSY;
		drfs_err("read cache: %s is in use by another datarootfs "
			 "daemon (give each mount its own cache_path)",
			 dir);
		goto fail;
	}
	ret = load(rc);
	if (ret < 0)
		goto fail;
	rc->epoch = epoch_load(rc);
	d->rc = rc;
	/* purged while this node was down: start empty */
	drfsd_rc_epoch(d, d->fs->sb.rc_epoch);
	pthread_mutex_lock(&rc->lock);
	evict_locked(d, 0);
	pthread_mutex_unlock(&rc->lock);
	ret = -pthread_create(&rc->thread, NULL, fill_main, d);
	if (ret < 0) {
		d->rc = NULL;
		goto fail;
	}
	rc->thread_up = true;
	drfs_info("read cache %s: %zu files, %.1f of %.1f MiB", dir, rc->lru.n,
		  rc->lru.used / 1048576.0, limit / 1048576.0);
	return 0;
fail:
	if (rc->dirfd >= 0)
		close(rc->dirfd);
	if (rc->lockfd >= 0)
		close(rc->lockfd);
	free(rc->dir);
	free(rc);
	return ret;
}

void drfsd_rc_usage(struct drfsd *d, uint64_t *used, uint64_t *limit,
		    size_t *files)
{
	struct rcache *rc = d->rc;

	*used = *limit = 0;
	*files = 0;
	if (!rc)
		return;
	pthread_mutex_lock(&rc->lock);
	*used = rc->lru.used;
	*limit = rc->lru.limit;
	*files = rc->lru.n;
	pthread_mutex_unlock(&rc->lock);
}

void drfsd_rc_stop(struct drfsd *d)
{
	struct rcache *rc = d->rc;

	if (!rc)
		return;
	pthread_mutex_lock(&rc->lock);
	rc->stop = true;
	pthread_cond_signal(&rc->cond);
	pthread_mutex_unlock(&rc->lock);
	if (rc->thread_up)
		pthread_join(rc->thread, NULL);
	d->rc = NULL;
	drfs_lru_release(&rc->lru); /* the files stay for the next run */
	close(rc->lockfd);
	close(rc->dirfd);
	free(rc->dir);
	free(rc);
}
