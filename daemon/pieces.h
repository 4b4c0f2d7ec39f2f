/*
 * pieces.h - the scattered writes of one inode's write-back buffer: byte
 * ranges sorted by offset, never overlapping, newest bytes win (pieces.c).
 *
 * Pure bookkeeping (no FUSE, no RADOS): wb.c keeps one set per inode
 * under the node's lock, writes them out in one batch at flush and lays
 * them over reads meanwhile.  Unit-tested against a byte-array model
 * (tests/unit/test_pieces.c).
 */
#ifndef DRFSD_PIECES_H
#define DRFSD_PIECES_H

#include <stddef.h>
#include <stdint.h>

struct wpiece {
	uint64_t off;
	size_t len;
	char *buf;
};

struct wpieces {
	struct wpiece *x; /* n pieces, ascending offsets, disjoint */
	unsigned n, cap;
	size_t bytes; /* sum of their lengths */
};

/* Put @len bytes at @off, over whatever pieces are there (a piece that
 * ends where this starts grows instead).  0 or -ENOMEM (then the set is
 * unchanged apart from a punch of [off, off + len) already done). */
int wp_put(struct wpieces *s, uint64_t off, const char *buf, size_t len);
/* Remove [off, off + len) from the pieces.  0 or -ENOMEM (unchanged). */
int wp_punch(struct wpieces *s, uint64_t off, size_t len);
/* Copy the pieces' bytes inside [off, off + len) to @buf (which holds the
 * bytes at @off); other bytes of @buf are left as they are. */
void wp_overlay(const struct wpieces *s, uint64_t off, char *buf, size_t len);
/* Where the pieces reach: the end of the last one, 0: none.  Computed,
 * not kept: a kept end outlived pieces overwritten by a newer write and
 * undid a truncate after them (fsx seed 44).  The bytes punched out are in
 * the newer write that punched them, counted by its owner. */
uint64_t wp_end(const struct wpieces *s);
/* Forget every piece and free their memory. */
void wp_free(struct wpieces *s);

#endif
