/*
 * intent.h - rename intents: their record and the recovery verdict.
 *
 * A rename across directories records an intent (rename.c, step 1) before
 * it adds the new entry (step 2) and removes the old one (step 3).  After
 * a crash, recovery reads what the two entries hold now and judges from
 * that alone what the interrupted rename had done (drfs_intent_judge):
 * pure logic, unit-tested in tests/unit/test_intent.c.
 */
#ifndef DRFS_INTENT_H
#define DRFS_INTENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"

/* One directory entry as read (raw record and decoded), or absent. */
struct drfs_rentry {
	bool exists;
	char v[DRFS_DENTRY_LEN];
	struct drfs_dentry d;
};

struct drfs_intent {
	int64_t time_ns;
	uint64_t sp, dp; /* source and destination directory */
	uint32_t flags; /* renameat2 flags */
	struct drfs_rentry src; /* the source entry (always exists) */
	struct drfs_rentry dst; /* what the destination held before */
	char sname[256], dname[256];
};

#define DRFS_INTENT_MAX 700 /* bytes of an encoded intent, at most */

/* Encode @in into @buf (DRFS_INTENT_MAX bytes); returns the length. */
size_t drfs_intent_encode(const struct drfs_intent *in, char *buf);
/* Decode and check; -EIO if short, truncated or failing its checksum. */
int drfs_intent_decode(const char *buf, size_t len, struct drfs_intent *in);

enum drfs_intent_verdict {
	/* the new entry is in place and the old one gone: nothing to do but
	 * the moved directory's parent pointer */
	DRFS_INTENT_FORWARD,
	/* the new entry is in place, the old one still there: remove it */
	DRFS_INTENT_FORWARD_UNLINK_SRC,
	/* the new entry never landed (or was undone): nothing was applied */
	DRFS_INTENT_BACK,
	/* ...and the destination still holds the directory the rename
	 * would have replaced, which step 2 had marked dead: revive it */
	DRFS_INTENT_BACK_REVIVE_DST,
};

/*
 * What to do with intent @in, given what the destination (@dst_now) and
 * source (@src_now) names hold now.
 */
enum drfs_intent_verdict drfs_intent_judge(const struct drfs_intent *in,
					   const struct drfs_rentry *dst_now,
					   const struct drfs_rentry *src_now);

#endif
