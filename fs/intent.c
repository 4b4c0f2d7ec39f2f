/*
 * intent.c - rename intent records and the recovery verdict (intent.h).
 *
 * Record layout (little-endian host order, as every record here):
 *   time_ns 8 | sp 8 | dp 8 | flags 4 | src dentry | dst exists 1 |
 *   dst dentry | sname length 1 | sname | dname length 1 | dname |
 *   XXH3-64 of everything before 8
 */
#include <dirent.h>
#include <errno.h>
#include <string.h>

#include "intent.h"

#define FIXED_LEN (8 + 8 + 8 + 4 + 2 * DRFS_DENTRY_LEN + 3 + 8)

size_t drfs_intent_encode(const struct drfs_intent *in, char *buf)
{
	size_t sl = strlen(in->sname), dl = strlen(in->dname), n = 0;
	uint64_t h;

	memcpy(buf + n, &in->time_ns, 8), n += 8;
	memcpy(buf + n, &in->sp, 8), n += 8;
	memcpy(buf + n, &in->dp, 8), n += 8;
	memcpy(buf + n, &in->flags, 4), n += 4;
	memcpy(buf + n, in->src.v, DRFS_DENTRY_LEN), n += DRFS_DENTRY_LEN;
	buf[n++] = in->dst.exists;
	memcpy(buf + n, in->dst.v, DRFS_DENTRY_LEN), n += DRFS_DENTRY_LEN;
	buf[n++] = (char)sl;
	memcpy(buf + n, in->sname, sl), n += sl;
	buf[n++] = (char)dl;
	memcpy(buf + n, in->dname, dl), n += dl;
	h = drfs_hash(buf, n);
	memcpy(buf + n, &h, 8), n += 8;
	return n;
}

int drfs_intent_decode(const char *buf, size_t len, struct drfs_intent *in)
{
	size_t n = 0, sl, dl;
	uint64_t h;

	if (len < FIXED_LEN || len > DRFS_INTENT_MAX)
		return -EIO;
	memcpy(&h, buf + len - 8, 8);
	if (h != drfs_hash(buf, len - 8))
		return -EIO;
	memset(in, 0, sizeof(*in));
	memcpy(&in->time_ns, buf + n, 8), n += 8;
	memcpy(&in->sp, buf + n, 8), n += 8;
	memcpy(&in->dp, buf + n, 8), n += 8;
	memcpy(&in->flags, buf + n, 4), n += 4;
	memcpy(in->src.v, buf + n, DRFS_DENTRY_LEN), n += DRFS_DENTRY_LEN;
	in->src.exists = true;
	in->dst.exists = buf[n++];
	memcpy(in->dst.v, buf + n, DRFS_DENTRY_LEN), n += DRFS_DENTRY_LEN;
	sl = (unsigned char)buf[n++];
	if (n + sl + 1 > len - 8)
		return -EIO;
	memcpy(in->sname, buf + n, sl), n += sl;
	dl = (unsigned char)buf[n++];
	if (n + dl != len - 8)
		return -EIO;
	memcpy(in->dname, buf + n, dl);
	if (drfs_dentry_decode(in->src.v, DRFS_DENTRY_LEN, &in->src.d) < 0)
		return -EIO;
	if (in->dst.exists &&
	    drfs_dentry_decode(in->dst.v, DRFS_DENTRY_LEN, &in->dst.d) < 0)
		return -EIO;
	return 0;
}

static bool holds(const struct drfs_rentry *now, const struct drfs_rentry *e)
{
	return now->exists && e->exists &&
	       !memcmp(now->v, e->v, DRFS_DENTRY_LEN);
}

enum drfs_intent_verdict drfs_intent_judge(const struct drfs_intent *in,
					   const struct drfs_rentry *dst_now,
					   const struct drfs_rentry *src_now)
{
	/* step 2 landed: the destination names the moved inode */
	if (holds(dst_now, &in->src))
		return holds(src_now, &in->src) ? DRFS_INTENT_FORWARD_UNLINK_SRC
						: DRFS_INTENT_FORWARD;
	if (in->dst.exists && in->dst.d.type == DT_DIR &&
	    holds(dst_now, &in->dst))
		return DRFS_INTENT_BACK_REVIVE_DST;
	return DRFS_INTENT_BACK;
}
