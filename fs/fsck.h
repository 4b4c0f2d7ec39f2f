/*
 * fsck.h - filesystem check and repair (used by datarootctl fsck).
 */
#ifndef DRFS_FSCK_H
#define DRFS_FSCK_H

#include <stdio.h>
#include "fs.h"

/* Seconds an object must be old before fsck treats it as abandoned. */
#define DRFS_FSCK_GRACE 60

struct drfs_fsck_opts {
	bool repair;
	bool verify_data; /* read every file, verify block checksums */
	bool offline; /* no node mounted: no grace for intents */
	bool progress; /* progress on stderr */
	/* the filedir area, whose files' SHA-1 must be their name (read
	 * with verify_data); NULL: none */
	const char *filedir_name;
	FILE *out; /* one line per problem */
};

struct drfs_fsck_result {
	uint64_t objects, inodes, dirs, entries, bytes_verified;
	unsigned problems, repaired;
	unsigned pending; /* unlinked inodes waiting to be freed */
	unsigned kept; /* unlinked pool content kept (filedir_nodelete) */
	unsigned duplicates; /* pool content stored twice (not deduplicated) */
};

/* 0 when the check ran (see r->problems), -errno if it could not. */
int drfs_fsck(struct drfs_fs *fs, const struct drfs_fsck_opts *o,
	      struct drfs_fsck_result *r);

#endif
