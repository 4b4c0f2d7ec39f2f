/*
 * layout.h - how file bytes map onto RADOS objects.
 *
 * A file is cut into stripes of DRFS_STRIPE bytes; stripe 0 lives in the
 * inode object itself (so a small file is one object: attributes, data and
 * checksums change in one compound op), stripe n >= 1 in object
 * "i.<ino>.<n>".  Each stripe is checksummed per DRFS_BLOCK bytes: the omap
 * key "b.<block index in stripe>" holds the stored length of that block and
 * an XXH3-64 of each DRFS_PIECE of it (codec.h).  A block with no key is a
 * hole and reads as zeros.
 *
 * Stripe records: the inode object's omap key "s.<stripe, 16 hex>" says
 * that stripe object n >= 1 was written (it exists).  A stripe object
 * without a record is a hole; one with a record that is missing was lost
 * (EIO, never zeros).  The record is set only after the stripe object was
 * written, removed before the object is, and never left beyond the file
 * size (see data.c).
 *
 * Invariant: no bytes are stored beyond the file size, so growing a file
 * (truncate up, write past EOF) exposes only zeros.  One exception: a
 * truncate lowers the size (and drops the records) in the op that cuts
 * the stripe holding the new end, then removes the stripe objects beyond;
 * a crash between leaves those objects, unrecorded, beyond the size,
 * until fsck removes them ("extra stripe object ... beyond the size").
 * The other order let a node see the old size over cut data.
 */
#ifndef DRFS_LAYOUT_H
#define DRFS_LAYOUT_H

#include <stdint.h>
#include <stdio.h>
#include <inttypes.h>

#define DRFS_STRIPE (4u << 20)
#define DRFS_BLOCK (64u << 10)
#define DRFS_BLOCKS_PER_STRIPE (DRFS_STRIPE / DRFS_BLOCK)
#define DRFS_OID_MAX 48
#define DRFS_ROOT_INO 1ull

static inline uint64_t drfs_stripe_of(uint64_t off)
{
	return off / DRFS_STRIPE;
}

static inline uint32_t drfs_stripe_off(uint64_t off)
{
	return (uint32_t)(off % DRFS_STRIPE);
}

/* Name of the object holding stripe @stripe of inode @ino. */
static inline void drfs_oid(char out[DRFS_OID_MAX], uint64_t ino,
			    uint64_t stripe)
{
	if (stripe == 0)
		snprintf(out, DRFS_OID_MAX, "i.%016" PRIx64, ino);
	else
		snprintf(out, DRFS_OID_MAX, "i.%016" PRIx64 ".%08" PRIx64, ino,
			 stripe);
}

static inline void drfs_block_key(char out[16], uint32_t block)
{
	snprintf(out, 16, "b.%08x", block);
}

/* Stripe record key (in the inode object) of stripe @stripe >= 1. */
#define DRFS_STRIPE_KEY_MAX 24
#define DRFS_STRIPE_KEY_PREFIX "s."
#define DRFS_STRIPE_KEY_END "s.g" /* sorts after every stripe record key */

static inline void drfs_stripe_key(char out[DRFS_STRIPE_KEY_MAX],
				   uint64_t stripe)
{
	snprintf(out, DRFS_STRIPE_KEY_MAX, "s.%016" PRIx64, stripe);
}

/* Number of stripes needed for @size bytes (0 for an empty file). */
static inline uint64_t drfs_stripes_for(uint64_t size)
{
	return (size + DRFS_STRIPE - 1) / DRFS_STRIPE;
}

#endif
