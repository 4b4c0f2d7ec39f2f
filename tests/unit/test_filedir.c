/* Unit tests of filedir name and path matching (fs/fs.h, filedir.c). */
#include <criterion/criterion.h>
#include <string.h>

#include "fs.h"

#define SHA "da39a3ee5e6b4b0d3255bfef95601890afd80709"

Test(filedir, names_are_40_lowercase_hex_digits)
{
	cr_assert(drfs_filedir_name(SHA));
	cr_assert(
		drfs_filedir_name("0000000000000000000000000000000000000000"));
	cr_assert_not(
		drfs_filedir_name("DA39A3EE5E6B4B0D3255BFEF95601890AFD80709"));
	cr_assert_not(
		drfs_filedir_name("da39a3ee5e6b4b0d3255bfef95601890afd8070"));
	cr_assert_not(drfs_filedir_name(SHA "0"));
	cr_assert_not(
		drfs_filedir_name("da39a3ee5e6b4b0d3255bfef95601890afd8070g"));
	/* Moodle's tmp name beside it, and a trash copy's are not content */
	cr_assert_not(drfs_filedir_name(SHA ".tmp"));
	cr_assert_not(drfs_filedir_name(""));
	cr_assert_not(
		drfs_filedir_name(" a39a3ee5e6b4b0d3255bfef95601890afd80709"));
}

Test(filedir, parts_are_the_first_two_pairs)
{
	char ab[3] = "x", cd[3] = "y";

	cr_assert(drfs_filedir_parts(SHA, ab, cd));
	cr_assert_str_eq(ab, "da");
	cr_assert_str_eq(cd, "39");
	strcpy(ab, "x");
	cr_assert_not(drfs_filedir_parts("da39.tmp", ab, cd));
	cr_assert_str_eq(ab, "x"); /* untouched */
}

Test(filedir, path_is_area_ab_cd)
{
	cr_assert(drfs_filedir_path("filedir", "/filedir/da/39", SHA));
	cr_assert(drfs_filedir_path("pool", "/pool/da/39", SHA));
	/* wrong buckets */
	cr_assert_not(drfs_filedir_path("filedir", "/filedir/39/da", SHA));
	cr_assert_not(drfs_filedir_path("filedir", "/filedir/da/3", SHA));
	cr_assert_not(drfs_filedir_path("filedir", "/filedir/da/39a", SHA));
	cr_assert_not(drfs_filedir_path("filedir", "/filedir/da", SHA));
	cr_assert_not(drfs_filedir_path("filedir", "/filedir/da/39/", SHA));
	/* another area, a prefix of the area, or deeper in the tree */
	cr_assert_not(drfs_filedir_path("filedir", "/trashdir/da/39", SHA));
	cr_assert_not(drfs_filedir_path("filedir", "/filedi/da/39", SHA));
	cr_assert_not(drfs_filedir_path("filedir", "/filedirx/da/39", SHA));
	cr_assert_not(drfs_filedir_path("filedir", "/x/filedir/da/39", SHA));
	cr_assert_not(drfs_filedir_path("filedir", "filedir/da/39", SHA));
	/* the separators count, not just the length */
	cr_assert_not(drfs_filedir_path("filedir", "xfiledir/da/39", SHA));
	cr_assert_not(drfs_filedir_path("filedir", "/filedir-da/39", SHA));
	cr_assert_not(drfs_filedir_path("filedir", "/filedir/da-39", SHA));
	cr_assert_not(drfs_filedir_path("filedir", "/", SHA));
	cr_assert_not(drfs_filedir_path("filedir", "", SHA));
	/* the area switched off, or not content */
	cr_assert_not(drfs_filedir_path(NULL, "/filedir/da/39", SHA));
	cr_assert_not(
		drfs_filedir_path("filedir", "/filedir/da/39", SHA ".tmp"));
}

/* The incremental SHA-1 the daemon takes of a file while it is written:
 * known vectors, any split of the bytes, a look at the hash in between
 * that does not disturb the bytes still to come, and reset. */
Test(filedir, sha1_incremental)
{
	static const char abc[] = "abc";
	static const char two[] =
		"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	struct drfs_sha1 *h = drfs_sha1_new();
	char out[41];

	cr_assert_not_null(h);
	cr_assert_eq(drfs_sha1_hex_of(h, out), 0);
	cr_assert_str_eq(out, SHA); /* no bytes */
	drfs_sha1_update(h, abc, 3);
	cr_assert_eq(drfs_sha1_hex_of(h, out), 0);
	cr_assert_str_eq(out, "a9993e364706816aba3e25717850c26c9cd0d89d");
	drfs_sha1_reset(h);
	for (size_t i = 0; i < strlen(two); i += 5) {
		size_t n = strlen(two) - i < 5 ? strlen(two) - i : 5;

		drfs_sha1_update(h, two + i, n);
		cr_assert_eq(drfs_sha1_hex_of(h, out), 0); /* in between */
	}
	cr_assert_eq(drfs_sha1_hex_of(h, out), 0);
	cr_assert_str_eq(out, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
	drfs_sha1_reset(h);
	cr_assert_eq(drfs_sha1_hex_of(h, out), 0);
	cr_assert_str_eq(out, SHA);
	drfs_sha1_free(h);
	drfs_sha1_free(NULL);
}
