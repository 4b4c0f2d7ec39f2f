/*
 * purge.c - empty an area of the shared tree (datarootctl purge).
 *
 * Files are unlinked one by one with the daemon's own guarded unlink, so
 * a purge is safe while nodes keep using the area: a file created during
 * the purge either is removed or stays whole, never half.  Each directory
 * is listed completely before anything in it is removed, so removals do
 * not disturb the listing cursor.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs.h"
#include "log.h"

struct names {
	char **v;
	size_t n, cap;
};

static int collect(void *ctx, const char *name, uint64_t ino, uint8_t type)
{
	struct names *nm = ctx;

	(void)ino;
	(void)type;
	if (nm->n == nm->cap) {
		size_t cap = nm->cap ? nm->cap * 2 : 64;
		char **v = realloc(nm->v, cap * sizeof(*v));

		if (!v)
			return 1;
		nm->v = v;
		nm->cap = cap;
	}
	nm->v[nm->n++] = strdup(name);
	return 0;
}

static int list_all(struct drfs_fs *fs, uint64_t dir, struct names *nm)
{
	bool more = true;

	while (more) {
		int ret = drfs_readdir(fs, dir, nm->n ? nm->v[nm->n - 1] : NULL,
				       512, collect, nm, &more);

		if (ret < 0)
			return ret;
	}
	return 0;
}

int drfs_purge_tree(struct drfs_fs *fs, uint64_t dir,
		    const struct drfs_purge_opts *o,
		    struct drfs_purge_result *r, int depth)
{
	struct names nm = {0};
	int ret;

	if (depth > 4096)
		return -ELOOP;
	ret = list_all(fs, dir, &nm);
	for (size_t i = 0; ret == 0 && i < nm.n; i++) {
		struct drfs_attr a;
		int r2 = drfs_lookup(fs, dir, nm.v[i], &a);
		bool old;

		if (r2 == -ENOENT)
			continue; /* removed meanwhile */
		if (r2 < 0) {
			ret = r2;
			break;
		}
		old = !o->older_than_ns || a.mtime_ns < o->cutoff_ns;
		if (S_ISDIR(a.mode)) {
			ret = drfs_purge_tree(fs, a.ino, o, r, depth + 1);
			if (ret == 0 && o->remove_dirs && old && !o->dry_run) {
				r2 = drfs_rmdir(fs, dir, nm.v[i]);
				if (r2 == 0)
					r->dirs++;
				else if (r2 != -ENOTEMPTY && r2 != -ENOENT)
					ret = r2;
			}
			continue;
		}
		if (!old)
			continue;
		r->files++;
		r->bytes += a.size;
		if (o->dry_run)
			continue;
		{
			uint64_t gone;
			uint32_t nlink = 1;

			r2 = drfs_unlink(fs, dir, nm.v[i], &gone, &nlink);
			if (r2 == 0 && nlink == 0)
				drfs_orphan_add(fs, gone);
			if (r2 < 0 && r2 != -ENOENT)
				ret = r2;
		}
	}
	for (size_t i = 0; i < nm.n; i++)
		free(nm.v[i]);
	free(nm.v);
	return ret;
}
