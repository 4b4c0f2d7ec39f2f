/*
 * cas.c - renames into the filedir area, the content-addressed pool.
 *
 * Moodle stores a file by writing it under a temporary name and renaming
 * it to <sha1[0:2]>/<sha1[2:4]>/<sha1>.  Such a rename is checked (the
 * content must hash to the new name: refused or logged, filedir_verify=)
 * and, once done, makes the inode immutable pool content, stored once: if
 * another inode holds the same content already (a trashdir copy, another
 * node's upload), the name is linked to it instead (fs/filedir.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

#include "cas.h"
#include "log.h"
#include "nodes.h"
#include "wb.h"

int drfsd_cas_check(struct drfsd *d, uint64_t parent, const char *name,
		    uint64_t newparent, const char *newname, unsigned flags,
		    struct drfs_attr *src, char *sha)
{
	int cas = 0, ret;
	bool hashed = false;

	/* into the content-addressed pool: the content must match the name */
	if (d->filedir_name && !(flags & RENAME_EXCHANGE))
		cas = drfs_filedir_match(d->fs, d->filedir_name, newparent,
					 newname);
	if (cas <= 0)
		return 0;
	ret = drfs_lookup(d->fs, parent, name, src);
	if (ret == 0 && S_ISREG(src->mode)) {
		/* still open here with writes buffered: what is hashed and
		 * sealed is what the writer wrote (as on a local disk),
		 * not what reached RADOS so far.  A lookup reference keeps
		 * the node (the name may hold an inode the kernel does not
		 * pin); an error of the write-back fails the rename and
		 * stays for the writer's close. */
		uint64_t ino = src->ino;
		struct dnode *sn = drfsd_node_get(d, ino, 1);

		if (sn && drfsd_wb_dirty(sn)) {
			ret = drfsd_wb_sync_keep(d, sn);
			if (ret == 0)
				ret = drfs_lookup(d->fs, parent, name, src);
		}
		/* written here from byte 0 and unchanged since: the hash
		 * taken while it was written is its content's */
		if (sn && ret == 0 && cas > 0 && S_ISREG(src->mode))
			hashed = drfsd_wb_sha(d, sn, src->size, sha);
		if (sn)
			drfsd_node_forget(d, ino, 1);
	}
	if (ret == 0 &&
	    (!S_ISREG(src->mode) || (src->flags & DRFS_IF_IMMUTABLE)))
		cas = 0; /* already pool content (back from trash) */
	if (ret == 0 && cas > 0) {
		if (hashed) {
			drfs_stat_add(d->fs, DRFS_ST_CAS_HASH_WRITTEN, 1);
		} else {
			ret = drfs_sha1_hex(d->fs, src->ino, sha);
			drfs_stat_add(d->fs, DRFS_ST_CAS_HASH_REREAD, 1);
		}
		if (ret == 0 && strcmp(sha, newname)) {
			drfs_warn("filedir: content of '%s' has SHA-1 "
				  "%s, not its new name %s: %s",
				  name, sha, newname,
				  d->filedir_reject ? "rename refused"
						    : "allowed (log)");
			ret = d->filedir_reject ? -EPERM : 0;
		}
	}
	if (ret < 0)
		return ret;
	return cas > 0;
}

void drfsd_cas_store(struct drfsd *d, uint64_t newparent, const char *newname,
		     const struct drfs_attr *src, const char *sha,
		     uint64_t *dropped)
{
	uint64_t kept = 0;
	int r = drfs_filedir_seal(d->fs, src->ino, sha, d->filedir_keep,
				  src->size);

	/* changed after it was hashed (another node truncated the
	 * same tmp name to write it again): not pool content yet */
	if (r == -ESTALE)
		drfs_info("filedir: %s changed while it was stored "
			  "(another node writing the same tmp file): "
			  "left unsealed",
			  newname);

	/* stored once: content already held by another inode (a
	 * trashdir copy, another node's upload) is linked instead */
	if (r == 0 && !strcmp(sha, newname))
		r = drfs_cas_adopt(d->fs, newparent, newname, src->ino, &kept,
				   dropped);
	if (r < 0 && r != -ESTALE)
		drfs_warn("filedir: cannot seal or index inode %" PRIx64
			  " (%s): %s",
			  src->ino, newname, strerror(-r));
}
