/*
 * filedir.c - Moodle's content-addressed file pool.
 *
 * A regular file renamed to "<root>/<filedir>/ab/cd/<40 hex>" whose name
 * starts with "abcd" is pool content: its SHA-1 must equal its name.  The
 * check reads the whole source before the rename (Moodle has just read it
 * too, to compute the hash); on a mismatch the rename fails with EPERM
 * under the "reject" policy (the tmp file stays where it was) or is logged
 * under "log".  After the rename the inode is flagged immutable: writes,
 * truncates and write-opens fail with EPERM; chmod, rename (to trashdir/
 * and back) and unlink work.  Because the content can never change, nodes
 * keep its pages in the kernel cache across opens.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
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

/* Is @dir the directory <root>/<area>/<name[0:2]>/<name[2:4]>? */
int drfs_filedir_match(struct drfs_fs *fs, const char *area, uint64_t dir,
		       const char *name)
{
	struct drfs_attr cd, ab, top, x;
	char part[3] = {0};
	int ret;

	if (!drfs_filedir_name(name))
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
	memcpy(part, name, 2);
	ret = drfs_lookup(fs, top.ino, part, &x);
	if (ret < 0 || x.ino != ab.ino)
		goto nomatch;
	memcpy(part, name + 2, 2);
	ret = drfs_lookup(fs, ab.ino, part, &x);
	if (ret < 0 || x.ino != dir)
		goto nomatch;
	return 1;
nomatch:
	return ret < 0 && ret != -ENOENT ? ret : 0;
}

int drfs_sha1_hex(struct drfs_fs *fs, uint64_t ino, char out[41])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[20];
	unsigned int mdlen = 0;
	size_t chunk = DRFS_STRIPE * 4;
	char *buf = malloc(chunk);
	uint64_t off = 0;
	int ret = 0;

	if (!ctx || !buf) {
		ret = -ENOMEM;
		goto out;
	}
	EVP_DigestInit_ex(ctx, EVP_sha1(), NULL);
	for (;;) {
		ssize_t n = drfs_read(fs, ino, off, chunk, buf);

		if (n < 0) {
			ret = (int)n;
			goto out;
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		off += (uint64_t)n;
	}
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	for (int i = 0; i < 20; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
out:
	EVP_MD_CTX_free(ctx);
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
