/*
 * omap.c - the one paged omap listing of the backend (internal.h).
 *
 * RADOS returns an object's omap in pages: a read op lists up to N keys
 * after a cursor and says whether more remain.  Every listing in fs/ goes
 * through drfs_omap_list() so the paging, the cursor, the op accounting
 * (drfs_rop: counted, fencing-checked) and the release of every op and
 * iterator are written once.  The cursor is the last key handed to the
 * callback, copied before the callback runs, so the callback may remove
 * keys (fsck repairs, the orphan reaper) without disturbing the listing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define OMAP_PAGE 256

/* Copy @key (@klen bytes) into the cursor *@cur of capacity *@cap. */
static int cursor_set(char **cur, size_t *cap, const char *key, size_t klen)
{
	if (memchr(key, 0, klen))
		return -EIO; /* not a C string: cannot list after it */
	if (klen + 1 > *cap) {
		size_t ncap = klen + 1 > 2 * *cap ? klen + 1 : 2 * *cap;
		char *n = realloc(*cur, ncap);

		if (!n)
			return -ENOMEM;
		*cur = n;
		*cap = ncap;
	}
	memcpy(*cur, key, klen);
	(*cur)[klen] = 0;
	return 0;
}

/* Read one page after @cur and hand its keys to @fn; *@more if any left. */
static int list_page(struct drfs_fs *fs, const char *oid,
		     const struct drfs_omap_list *l, drfs_omap_fn fn, void *ctx,
		     char **cur, size_t *cap, bool *more)
{
	rados_read_op_t op = rados_create_read_op();
	rados_omap_iter_t it = NULL;
	unsigned char pmore = 0;
	char *k, *v;
	size_t kl, vl;
	int prval = 0, ret;

	if (!op)
		return -ENOMEM;
	if (l->add)
		l->add(ctx, op);
	rados_read_op_omap_get_vals2(op, *cur, l->prefix ? l->prefix : "",
				     l->page ? l->page : OMAP_PAGE, &it, &pmore,
				     &prval);
	ret = drfs_rop(fs, oid, op, NULL);
	if (ret == 0 && prval < 0)
		ret = prval;
	if (l->got) {
		int r2 = l->got(ctx, ret);

		if (r2)
			ret = r2;
	}
	while (ret == 0 && rados_omap_get_next2(it, &k, &v, &kl, &vl) == 0 &&
	       k) {
		ret = cursor_set(cur, cap, k, kl);
		if (ret == 0)
			ret = fn(ctx, *cur, kl, v, vl);
	}
	*more = ret == 0 && pmore;
	if (it)
		rados_omap_get_end(it);
	rados_release_read_op(op);
	return ret;
}

int drfs_omap_list(struct drfs_fs *fs, const char *oid,
		   const struct drfs_omap_list *l, drfs_omap_fn fn, void *ctx)
{
	char *cur = NULL;
	size_t cap = 0;
	bool more = true;
	const char *after = l->after ? l->after : "";
	int ret = cursor_set(&cur, &cap, after, strlen(after));

	while (ret == 0 && more)
		ret = list_page(fs, oid, l, fn, ctx, &cur, &cap, &more);
	free(cur);
	return ret;
}
