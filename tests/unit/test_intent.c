/* Unit tests of rename intents (fs/intent.h): the record and the verdict
 * recovery takes after a crash between the steps of a rename. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <string.h>

#include "intent.h"

static struct drfs_rentry entry(uint64_t ino, uint8_t type)
{
	struct drfs_rentry e = {.exists = true, .d = {ino, type}};

	drfs_dentry_encode(&e.d, e.v);
	return e;
}

static const struct drfs_rentry absent;

/* mv /a/src /b/dst (over @dst, or onto nothing) */
static struct drfs_intent intent(struct drfs_rentry src, struct drfs_rentry dst)
{
	struct drfs_intent in = {.time_ns = 1234567890123,
				 .sp = 0x10,
				 .dp = 0x20,
				 .flags = 0,
				 .src = src,
				 .dst = dst};

	strcpy(in.sname, "src");
	strcpy(in.dname, "dst-name");
	return in;
}

Test(intent, record_round_trip)
{
	struct drfs_intent in =
		intent(entry(0x99, DT_REG), entry(0x77, DT_DIR));
	struct drfs_intent out;
	char buf[DRFS_INTENT_MAX];
	size_t n = drfs_intent_encode(&in, buf);

	cr_assert_eq(drfs_intent_decode(buf, n, &out), 0);
	cr_assert_eq(out.time_ns, in.time_ns);
	cr_assert_eq(out.sp, 0x10);
	cr_assert_eq(out.dp, 0x20);
	cr_assert_eq(out.src.d.ino, 0x99);
	cr_assert(out.dst.exists);
	cr_assert_eq(out.dst.d.ino, 0x77);
	cr_assert_eq(out.dst.d.type, DT_DIR);
	cr_assert_str_eq(out.sname, "src");
	cr_assert_str_eq(out.dname, "dst-name");
}

Test(intent, longest_names_fit)
{
	struct drfs_intent in = intent(entry(1, DT_REG), absent), out;
	char buf[DRFS_INTENT_MAX];
	size_t n;

	memset(in.sname, 's', 255);
	memset(in.dname, 'd', 255);
	n = drfs_intent_encode(&in, buf);
	cr_assert_leq(n, DRFS_INTENT_MAX);
	cr_assert_eq(drfs_intent_decode(buf, n, &out), 0);
	cr_assert_eq(strlen(out.sname), 255);
	cr_assert_eq(strlen(out.dname), 255);
	cr_assert_not(out.dst.exists);
}

Test(intent, every_flipped_byte_and_every_cut_is_refused)
{
	struct drfs_intent in = intent(entry(0x99, DT_REG), absent), out;
	char buf[DRFS_INTENT_MAX];
	size_t n = drfs_intent_encode(&in, buf);

	for (size_t i = 0; i < n; i++) {
		buf[i] ^= 0x20;
		cr_assert_eq(drfs_intent_decode(buf, n, &out), -EIO, "byte %zu",
			     i);
		buf[i] ^= 0x20;
	}
	for (size_t len = 0; len < n; len++)
		cr_assert_eq(drfs_intent_decode(buf, len, &out), -EIO,
			     "length %zu", len);
}

Test(intent, new_name_in_place_old_gone_rolls_forward)
{
	struct drfs_rentry f = entry(0x99, DT_REG);
	struct drfs_intent in = intent(f, absent);

	cr_assert_eq(drfs_intent_judge(&in, &f, &absent), DRFS_INTENT_FORWARD);
}

Test(intent, both_names_hold_it_rolls_forward_and_unlinks_source)
{
	struct drfs_rentry f = entry(0x99, DT_REG);
	struct drfs_intent in = intent(f, entry(0x55, DT_REG));

	cr_assert_eq(drfs_intent_judge(&in, &f, &f),
		     DRFS_INTENT_FORWARD_UNLINK_SRC);
}

Test(intent, new_name_never_landed_rolls_back)
{
	struct drfs_rentry f = entry(0x99, DT_REG), old = entry(0x55, DT_REG);

	cr_assert_eq(
		drfs_intent_judge(&(struct drfs_intent){0}, &absent, &absent),
		DRFS_INTENT_BACK);
	struct drfs_intent in = intent(f, absent);
	cr_assert_eq(drfs_intent_judge(&in, &absent, &f), DRFS_INTENT_BACK);
	/* the destination still holds the file it would have replaced */
	in = intent(f, old);
	cr_assert_eq(drfs_intent_judge(&in, &old, &f), DRFS_INTENT_BACK);
}

Test(intent, replaced_directory_still_there_is_revived)
{
	struct drfs_rentry d = entry(0x99, DT_DIR), old = entry(0x55, DT_DIR);
	struct drfs_intent in = intent(d, old);

	cr_assert_eq(drfs_intent_judge(&in, &old, &d),
		     DRFS_INTENT_BACK_REVIVE_DST);
}

Test(intent, another_inode_at_the_new_name_is_not_ours)
{
	/* after a rollback somebody else created the name: not forward */
	struct drfs_rentry f = entry(0x99, DT_REG), other = entry(0x42, DT_REG);
	struct drfs_intent in = intent(f, absent);

	cr_assert_eq(drfs_intent_judge(&in, &other, &f), DRFS_INTENT_BACK);
	in = intent(entry(0x99, DT_DIR), entry(0x55, DT_DIR));
	cr_assert_eq(drfs_intent_judge(&in, &other, &f), DRFS_INTENT_BACK);
}
