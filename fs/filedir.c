/*
 * filedir.c - Moodle's content-addressed file pool.
 *
 * A regular file renamed to "<root>/<filedir>/ab/cd/<40 hex>" whose name
 * starts with "abcd" is pool content: its SHA-1 must equal its name.  The
 * check uses the hash the daemon took while this node wrote the file from
 * byte 0 (daemon/wb.c), or else reads the whole source before the rename
 * (Moodle has just read it too, to compute the hash); on a mismatch the rename fails with EPERM
 * under the "reject" policy (the tmp file stays where it was) or is logged
 * under "log".  After the rename the inode is flagged immutable: writes,
 * truncates and write-opens fail with EPERM; chmod, rename (to trashdir/
 * and back) and unlink work.  Because the content can never change, nodes
 * keep its pages in the kernel cache across opens.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <openssl/evp.h>

#include "internal.h"
#include "log.h"

bool drfs_filedir_name(const char *name)
{
	if (strlen(name) != 40)
		return false;
	for (int i = 0; i < 40; i++)
		if (!isxdigit((unsigned char)name[i]) ||
		    isupper((unsigned char)name[i]))
			return false;
	return true;
}

bool drfs_filedir_parts(const char *name, char ab[3], char cd[3])
{
	if (!drfs_filedir_name(name))
		return false;
	snprintf(ab, 3, "%.2s", name);
	snprintf(cd, 3, "%.2s", name + 2);
	return true;
}

bool drfs_filedir_path(const char *area, const char *dpath, const char *name)
{
	char ab[3], cd[3];
	size_t alen;

	if (!area || !drfs_filedir_parts(name, ab, cd))
		return false;
	alen = strlen(area);
	/* "/" area "/" ab "/" cd */
	return dpath[0] == '/' && !strncmp(dpath + 1, area, alen) &&
	       dpath[1 + alen] == '/' && !strncmp(dpath + 2 + alen, ab, 2) &&
	       dpath[4 + alen] == '/' && !strcmp(dpath + 5 + alen, cd);
}

/* Is @dir the directory <root>/<area>/<name[0:2]>/<name[2:4]>? */
int drfs_filedir_match(struct drfs_fs *fs, const char *area, uint64_t dir,
		       const char *name)
{
	struct drfs_attr cd, ab, top, x;
	char abname[3], cdname[3];
	int ret;

	if (!drfs_filedir_parts(name, abname, cdname))
		return 0;
	/* walk up: dir (cd) -> ab -> area -> root */
	ret = drfs_getattr(fs, dir, &cd);
	if (ret == 0)
		ret = drfs_getattr(fs, cd.parent, &ab);
	if (ret == 0)
		ret = drfs_getattr(fs, ab.parent, &top);
	if (ret < 0)
		return ret;
	if (top.parent != DRFS_ROOT_INO || top.ino == DRFS_ROOT_INO)
		return 0;
	/* and check the names on the way down */
	ret = drfs_lookup(fs, DRFS_ROOT_INO, area, &x);
	if (ret < 0 || x.ino != top.ino)
		goto nomatch;
	ret = drfs_lookup(fs, top.ino, abname, &x);
	if (ret < 0 || x.ino != ab.ino)
		goto nomatch;
	ret = drfs_lookup(fs, ab.ino, cdname, &x);
	if (ret < 0 || x.ino != dir)
		goto nomatch;
	return 1;
nomatch:
	return ret < 0 && ret != -ENOENT ? ret : 0;
}

struct drfs_sha1 {
	EVP_MD_CTX *ctx;
};

struct drfs_sha1 *drfs_sha1_new(void)
{
	struct drfs_sha1 *h = malloc(sizeof(*h));

	if (!h)
		return NULL;
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || !EVP_DigestInit_ex(h->ctx, EVP_sha1(), NULL)) {
		EVP_MD_CTX_free(h->ctx);
		free(h);
		return NULL;
	}
	return h;
}

void drfs_sha1_update(struct drfs_sha1 *h, const void *p, size_t n)
{
	EVP_DigestUpdate(h->ctx, p, n);
}

static void hex20(const unsigned char md[20], char out[41])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < 20; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[40] = 0;
}

int drfs_sha1_hex_of(const struct drfs_sha1 *h, char out[41])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned char md[20];
	unsigned int mdlen = 0;
	int ok;

	/* on a copy: the stream of bytes may go on */
	ok = c && EVP_MD_CTX_copy_ex(c, h->ctx) &&
	     EVP_DigestFinal_ex(c, md, &mdlen) && mdlen == 20;
	EVP_MD_CTX_free(c);
	if (!ok)
		return -ENOMEM;
	hex20(md, out);
	return 0;
}

void drfs_sha1_reset(struct drfs_sha1 *h)
{
	EVP_DigestInit_ex(h->ctx, EVP_sha1(), NULL);
}

void drfs_sha1_free(struct drfs_sha1 *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

int drfs_sha1_hex(struct drfs_fs *fs, uint64_t ino, char out[41])
{
	struct drfs_sha1 *h = drfs_sha1_new();
	size_t chunk = DRFS_STRIPE * 4;
	char *buf = malloc(chunk);
	uint64_t off = 0;
	int ret = 0;

	if (!h || !buf) {
		ret = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n = drfs_read(fs, ino, off, chunk, buf);

		if (n < 0) {
			ret = (int)n;
			goto out;
		}
		if (n == 0)
			break;
		drfs_sha1_update(h, buf, (size_t)n);
		off += (uint64_t)n;
	}
	ret = drfs_sha1_hex_of(h, out);
out:
	drfs_sha1_free(h);
	free(buf);
	return ret;
}

static int flags_fn(struct drfs_attr *a, void *ctx)
{
	uint32_t f = *(uint32_t *)ctx;

	if ((a->flags & f) == f)
		return 1;
	a->flags |= f;
	return 0;
}

int drfs_set_flags(struct drfs_fs *fs, uint64_t ino, uint32_t flags)
{
	return drfs_attr_edit(fs, ino, flags_fn, &flags);
}

struct seal_ctx {
	uint32_t flags;
	uint64_t size; /* UINT64_MAX: any */
};

/* Seal only what was hashed: a truncate or write since (another node
 * using the same tmp name, see moodle-access-patterns.md) changes it. */
static int seal_fn(struct drfs_attr *a, void *ctx)
{
	struct seal_ctx *c = ctx;

	if (c->size != UINT64_MAX && a->size != c->size)
		return -ESTALE;
	return flags_fn(a, &c->flags);
}

static int filedir_seal_do(struct drfs_fs *fs, uint64_t ino, const char *sha,
			   bool keep, uint64_t size)
{
	struct seal_ctx c = {DRFS_IF_IMMUTABLE | (keep ? DRFS_IF_KEEP : 0),
			     size};
	char oid[DRFS_OID_MAX];
	rados_write_op_t op = drfs_wop_new();
	int ret;

	/* the hash first: an immutable inode always says what it holds */
	drfs_oid(oid, ino, 0);
	drfs_op_assert_exists(op);
	drfs_op_setxattr(op, "h", sha, 40);
	ret = drfs_wop(fs, oid, op, 0);
	drfs_wop_free(op);
	if (ret < 0)
		return ret;
	return drfs_attr_edit(fs, ino, seal_fn, &c);
}

int drfs_filedir_seal(struct drfs_fs *fs, uint64_t ino, const char *sha,
		      bool keep, uint64_t size)
{
	drfs_inval_begin(fs);
	return drfs_inval_finish(fs, filedir_seal_do(fs, ino, sha, keep, size));
}

/* ---- the content index ---- */

/*
 * Object "cas.<first two hex digits>", one omap key per SHA-1 (40 hex),
 * whose value is a dentry record naming the inode that holds the content.
 * Every name of that content (filedir/, trashdir/) is a hard link to that
 * inode, so its link count is the content's reference count and the
 * content is freed when the last name goes, like any file.
 */
static void cas_oid(char oid[16], const char *sha)
{
	snprintf(oid, 16, "cas.%.2s", sha);
}

static void cas_val(char out[DRFS_DENTRY_LEN], uint64_t ino)
{
	struct drfs_dentry d = {ino, DT_REG};

	drfs_dentry_encode(&d, out);
}

int drfs_cas_get(struct drfs_fs *fs, const char *sha, uint64_t *ino)
{
	char oid[16], raw[DRFS_DENTRY_LEN + 8];
	struct drfs_dentry d;
	size_t len = 0;
	int ret;

	cas_oid(oid, sha);
	ret = drfs_omap_get(fs, oid, sha, raw, sizeof(raw), &len);
	if (ret < 0)
		return ret;
	if (drfs_dentry_decode(raw, len, &d) < 0) {
		drfs_err("content index: entry %s of %s fails its checksum",
			 sha, oid);
		return -EIO;
	}
	*ino = d.ino;
	return 0;
}

/* Set the entry of @sha to @ino if it equals @old (0: is absent). */
static int cas_swap(struct drfs_fs *fs, const char *sha, uint64_t old,
		    uint64_t ino)
{
	char oid[16], ov[DRFS_DENTRY_LEN], nv[DRFS_DENTRY_LEN];
	rados_write_op_t op = drfs_wop_new();
	int pr = 0, ret;

	cas_oid(oid, sha);
	if (old)
		cas_val(ov, old);
	drfs_op_create(op, false);
	drfs_op_cmp(op, sha, ov, old ? DRFS_DENTRY_LEN : 0, &pr);
	if (ino) {
		cas_val(nv, ino);
		drfs_op_set(op, sha, nv, sizeof(nv));
	} else {
		drfs_op_rm(op, sha);
	}
	/* forgetting content must work on a full pool */
	ret = drfs_wop(fs, oid, op, ino ? 0 : LIBRADOS_OPERATION_FULL_FORCE);
	drfs_wop_free(op);
	return ret;
}

int drfs_cas_index(struct drfs_fs *fs, const char *sha, uint64_t ino)
{
	return cas_swap(fs, sha, 0, ino);
}

int drfs_cas_forget(struct drfs_fs *fs, const char *sha, uint64_t ino)
{
	int ret = cas_swap(fs, sha, ino, 0);

	return ret == -ECANCELED ? 0 : ret;
}

/* nlink + 1 unless the inode is already unlinked (and not kept) */
static int cas_ref_fn(struct drfs_attr *a, void *ctx)
{
	(void)ctx;
	if (a->nlink == 0 && !(a->flags & DRFS_IF_KEEP))
		return -ENOENT;
	if (a->nlink >= 65000)
		return -EMLINK;
	a->nlink++;
	a->ctime_ns = drfs_now_ns();
	return 0;
}

/* Point entry @name of @dir at @to instead of @from (guarded). */
static int entry_swap(struct drfs_fs *fs, uint64_t dir, const char *name,
		      uint64_t from, uint64_t to)
{
	char oid[DRFS_OID_MAX], ov[DRFS_DENTRY_LEN], nv[DRFS_DENTRY_LEN];
	rados_write_op_t op = drfs_wop_new();
	int pr = 0, ret;

	drfs_oid(oid, dir, 0);
	cas_val(ov, from);
	cas_val(nv, to);
	drfs_op_assert_exists(op);
	drfs_op_cmp(op, name, ov, sizeof(ov), &pr);
	drfs_op_set(op, name, nv, sizeof(nv));
	ret = drfs_wop(fs, oid, op, 0);
	drfs_wop_free(op);
	return ret;
}

static int cas_adopt_do(struct drfs_fs *fs, uint64_t dir, const char *sha,
			uint64_t ino, uint64_t *kept, uint64_t *dropped)
{
	struct drfs_attr mine, old;
	char osha[41];
	int ret;

	*kept = ino;
	*dropped = 0;
	ret = drfs_getattr(fs, ino, &mine);
	if (ret < 0)
		return ret;
	for (int tries = 0; tries < 16; tries++) {
		uint64_t cur = 0;

		ret = drfs_cas_get(fs, sha, &cur);
		if (ret < 0 && ret != -ENOENT)
			return ret;
		if (ret == -ENOENT) {
			ret = cas_swap(fs, sha, 0, ino);
			if (ret == -ECANCELED)
				continue;
			return ret;
		}
		if (cur == ino)
			return 0;
		ret = drfs_getattr_hash(fs, cur, &old, osha);
		if (ret < 0 && ret != -ENOENT)
			return ret;
		if (ret == 0 && S_ISREG(old.mode) && !strcmp(osha, sha) &&
		    old.size == mine.size && (old.flags & DRFS_IF_IMMUTABLE)) {
			/* content already stored: one more reference to it,
			 * counted first (a crash leaves nlink too high) */
			ret = drfs_attr_edit(fs, cur, cas_ref_fn, NULL);
			if (ret == 0) {
				drfs_fault("cas-after-ref");
				ret = entry_swap(fs, dir, sha, ino, cur);
				if (ret < 0) {
					/* the name changed under us: keep
					 * both copies */
					drfs_nlink_add(fs, cur, -1, false,
						       NULL);
					return ret == -ECANCELED ? 0 : ret;
				}
				drfs_fault("cas-after-swap");
				ret = drfs_nlink_add(fs, ino, -1, false, &mine);
				if (ret < 0)
					return ret;
				*kept = cur;
				if (mine.nlink == 0)
					*dropped = ino;
				drfs_stat_add(fs, DRFS_ST_CAS_DEDUP, 1);
				return 0;
			}
			if (ret != -ENOENT)
				return ret;
		}
		/* the indexed inode is gone (or being freed): replace it */
		ret = cas_swap(fs, sha, cur, ino);
		if (ret != -ECANCELED)
			return ret;
	}
	return -EAGAIN;
}

int drfs_cas_adopt(struct drfs_fs *fs, uint64_t dir, const char *sha,
		   uint64_t ino, uint64_t *kept, uint64_t *dropped)
{
	drfs_inval_begin(fs);
	return drfs_inval_finish(
		fs, cas_adopt_do(fs, dir, sha, ino, kept, dropped));
}
