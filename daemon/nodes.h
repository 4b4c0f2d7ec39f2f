/*
 * nodes.h - the inode table (nodes.c): struct dnode by inode number.
 *
 * Each entry or create reply adds one lookup (drfsd_node_get with 1),
 * forget subtracts; each open here adds one to the open count
 * (drfsd_node_open), its release subtracts (drfsd_node_close).  A node is
 * freed once both are 0 and its write-back buffer is empty.
 */
#ifndef DRFSD_NODES_H
#define DRFSD_NODES_H

#include "daemon.h"

/* Find or add the node for @ino; adds @lookups to its lookup count.  NULL:
 * out of memory. */
struct dnode *drfsd_node_get(struct drfsd *d, uint64_t ino, uint64_t lookups);
/* The node of @ino if the kernel knows it, without taking a reference. */
struct dnode *drfsd_node(struct drfsd *d, uint64_t ino);
/* The kernel forgot @nlookup lookups of @ino (below zero: abort). */
void drfsd_node_forget(struct drfsd *d, uint64_t ino, uint64_t nlookup);
/* At exit: the kernel does not forget every inode before an unmount. */
void drfsd_nodes_free(struct drfsd *d);
/* Call @fn for every node, with the table lock held. */
void drfsd_nodes_each(struct drfsd *d, void (*fn)(struct dnode *n, void *arg),
		      void *arg);

/* The node of an open shared file, NULL if the handle is stale. */
struct dnode *drfsd_fh(struct drfsd *d, const struct fuse_file_info *fi);

/*
 * Count an open of @n; @cfd (or -1) is a read cache fd for the node, kept
 * until its last close here (so a read never sees it change or go), or
 * closed if the node has one already.  Returns whether the kernel may
 * keep the pages it cached of the file (keep_cache).
 */
bool drfsd_node_open(struct drfsd *d, struct dnode *n, int cfd);
/* Undo drfsd_node_open of a handle the kernel never got. */
void drfsd_node_unopen(struct drfsd *d, struct dnode *n);
/*
 * The last step of a release: uncount the open; at the last one close the
 * read cache fd, free the buffer memory (or the node, if the kernel
 * forgot it) and free the inode if it was unlinked meanwhile.
 */
void drfsd_node_close(struct drfsd *d, struct dnode *n);
/*
 * A name of @ino went away, leaving it @nlink links: at 0, free the inode
 * (record it as an orphan, freed after a grace period) unless it is still
 * open here, in which case its last close does.  @ino 0: nothing.
 */
void drfsd_node_gone(struct drfsd *d, uint64_t ino, uint32_t nlink);

#endif
