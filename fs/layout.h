/*
 * layout.h - how file bytes map onto RADOS objects.
 *
 * A file is cut into stripes of DRFS_STRIPE bytes; stripe 0 lives in the
 * inode object itself (so a small file is one object: attributes, data and
 * checksums change in one compound op), stripe n >= 1 in object
 * "i.<ino>.<n>".  Each stripe is checksummed per DRFS_BLOCK bytes: the omap
 * key "b.<block index in stripe>" holds the stored length and XXH3-64 of
 * that block.  A block with no key is a hole and reads as zeros.
 *
 * Invariant: no bytes are stored beyond the file size, so growing a file
 * (truncate up, write past EOF) exposes only zeros.
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

/* Number of stripes needed for @size bytes (0 for an empty file). */
static inline uint64_t drfs_stripes_for(uint64_t size)
{
	return (size + DRFS_STRIPE - 1) / DRFS_STRIPE;
}

#endif
