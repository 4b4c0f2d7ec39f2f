/*
 * cas.h - the filedir (content-addressed pool) side of a rename (cas.c).
 */
#ifndef DRFSD_CAS_H
#define DRFSD_CAS_H

#include "daemon.h"

/*
 * Before renaming @parent/@name to @newparent/@newname: is it a store
 * into the pool, whose content must match its new name?  1: yes, *src
 * and @sha (41 bytes) hold the source and its SHA-1; 0: an ordinary
 * rename; -errno: refuse the rename.
 */
int drfsd_cas_check(struct drfsd *d, uint64_t parent, const char *name,
		    uint64_t newparent, const char *newname, unsigned flags,
		    struct drfs_attr *src, char *sha);
/*
 * After such a rename: seal the inode as pool content, or link the name
 * to content stored already; then *dropped is the renamed inode, which
 * lost its name (else it is left as it was).  Failures are logged: the
 * rename stands.
 */
void drfsd_cas_store(struct drfsd *d, uint64_t newparent, const char *newname,
		     const struct drfs_attr *src, const char *sha,
		     uint64_t *dropped);

#endif
