/* Unit tests of area routing (fs/area.h). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "area.h"

/* A superblock as mkfs writes it with the default names. */
static void sb_defaults(struct drfs_sb *sb)
{
	memset(sb, 0, sizeof(*sb));
	for (int a = 1; a < DRFS_AREA__N; a++)
		snprintf(sb->area[a], sizeof(sb->area[a]), "%s",
			 drfs_area_kinds[a]);
}

Test(area, default_names_route_top_level_entries)
{
	struct drfs_sb sb;
	const char *names[DRFS_AREA__N];

	sb_defaults(&sb);
	drfs_area_names(names, &sb, NULL);
	cr_assert_null(names[DRFS_AREA_OTHER]);
	cr_assert_eq(drfs_area_top(names, "filedir"), DRFS_AREA_FILEDIR);
	cr_assert_eq(drfs_area_top(names, "trashdir"), DRFS_AREA_TRASHDIR);
	cr_assert_eq(drfs_area_top(names, "localcache"), DRFS_AREA_LOCALCACHE);
	cr_assert_eq(drfs_area_top(names, "cache"), DRFS_AREA_CACHE);
	cr_assert_eq(drfs_area_top(names, "temp"), DRFS_AREA_TEMP);
	cr_assert_eq(drfs_area_top(names, "lock"), DRFS_AREA_LOCK);
	cr_assert_eq(drfs_area_top(names, "sessions"), DRFS_AREA_SESSIONS);
	cr_assert_eq(drfs_area_top(names, "muc"), DRFS_AREA_MUC);
	/* the rest of the dataroot, and near misses */
	cr_assert_eq(drfs_area_top(names, "lang"), DRFS_AREA_OTHER);
	cr_assert_eq(drfs_area_top(names, "climaintenance.html"),
		     DRFS_AREA_OTHER);
	cr_assert_eq(drfs_area_top(names, "Cache"), DRFS_AREA_OTHER);
	cr_assert_eq(drfs_area_top(names, "cache2"), DRFS_AREA_OTHER);
	cr_assert_eq(drfs_area_top(names, "cach"), DRFS_AREA_OTHER);
	cr_assert_eq(drfs_area_top(names, ""), DRFS_AREA_OTHER);
}

Test(area, mkfs_names_and_mount_overrides)
{
	struct drfs_sb sb;
	const char *names[DRFS_AREA__N];
	char *override[DRFS_AREA__N] = {0};

	sb_defaults(&sb);
	snprintf(sb.area[DRFS_AREA_FILEDIR], 64, "pool"); /* mkfs --area */
	override[DRFS_AREA_CACHE] = "muc-cache"; /* cache_name= */
	drfs_area_names(names, &sb, override);
	cr_assert_str_eq(names[DRFS_AREA_FILEDIR], "pool");
	cr_assert_str_eq(names[DRFS_AREA_CACHE], "muc-cache");
	cr_assert_str_eq(names[DRFS_AREA_TEMP], "temp");
	cr_assert_eq(drfs_area_top(names, "pool"), DRFS_AREA_FILEDIR);
	cr_assert_eq(drfs_area_top(names, "filedir"), DRFS_AREA_OTHER);
	cr_assert_eq(drfs_area_top(names, "muc-cache"), DRFS_AREA_CACHE);
	cr_assert_eq(drfs_area_top(names, "cache"), DRFS_AREA_OTHER);
	/* an override wins over the superblock even when the same */
	override[DRFS_AREA_FILEDIR] = "filedir";
	drfs_area_names(names, &sb, override);
	cr_assert_eq(drfs_area_top(names, "filedir"), DRFS_AREA_FILEDIR);
	cr_assert_eq(drfs_area_top(names, "pool"), DRFS_AREA_OTHER);
}

Test(area, none_switches_an_area_off)
{
	struct drfs_sb sb;
	const char *names[DRFS_AREA__N];
	char *override[DRFS_AREA__N] = {0};

	sb_defaults(&sb);
	override[DRFS_AREA_LOCALCACHE] = "none";
	drfs_area_names(names, &sb, override);
	cr_assert_not(drfs_area_enabled(names, DRFS_AREA_LOCALCACHE));
	cr_assert(drfs_area_enabled(names, DRFS_AREA_FILEDIR));
	cr_assert_not(drfs_area_enabled(names, DRFS_AREA_OTHER));
	cr_assert_not(drfs_area_enabled(names, DRFS_AREA__N));
	/* "localcache" is now an ordinary shared directory */
	cr_assert_eq(drfs_area_top(names, "localcache"), DRFS_AREA_OTHER);
	/* and a directory called "none" never belongs to an area */
	cr_assert_eq(drfs_area_top(names, "none"), DRFS_AREA_OTHER);
}

Test(area, children_inherit_their_parents_area)
{
	struct drfs_sb sb;
	const char *names[DRFS_AREA__N];

	sb_defaults(&sb);
	drfs_area_names(names, &sb, NULL);
	cr_assert_eq(drfs_area_child(names, true, DRFS_AREA_OTHER, "temp"),
		     DRFS_AREA_TEMP);
	/* below an area: the parent's area, whatever the name */
	cr_assert_eq(drfs_area_child(names, false, DRFS_AREA_TEMP, "cache"),
		     DRFS_AREA_TEMP);
	cr_assert_eq(drfs_area_child(names, false, DRFS_AREA_FILEDIR, "ab"),
		     DRFS_AREA_FILEDIR);
	/* below the rest: still the rest (lang/cache is not cachedir) */
	cr_assert_eq(drfs_area_child(names, false, DRFS_AREA_OTHER, "cache"),
		     DRFS_AREA_OTHER);
}

Test(area, same_name_twice_first_area_wins)
{
	struct drfs_sb sb;
	const char *names[DRFS_AREA__N];
	char *override[DRFS_AREA__N] = {0};

	sb_defaults(&sb);
	override[DRFS_AREA_TEMP] = "cache";
	drfs_area_names(names, &sb, override);
	cr_assert_eq(drfs_area_top(names, "cache"), DRFS_AREA_CACHE);
	cr_assert_eq(drfs_area_top(names, "temp"), DRFS_AREA_OTHER);
}

Test(area, kinds_and_valid_names)
{
	cr_assert_eq(drfs_area_kind("filedir"), DRFS_AREA_FILEDIR);
	cr_assert_eq(drfs_area_kind("muc"), DRFS_AREA_MUC);
	cr_assert_eq(drfs_area_kind("other"), -1);
	cr_assert_eq(drfs_area_kind("tmp"), -1);
	cr_assert_eq(drfs_area_kind(""), -1);
	for (int a = 1; a < DRFS_AREA__N; a++)
		cr_assert_eq(drfs_area_kind(drfs_area_kinds[a]), a);

	cr_assert(drfs_area_name_ok("filedir"));
	cr_assert(drfs_area_name_ok("localcache-web1"));
	cr_assert(drfs_area_name_ok("none"));
	cr_assert_not(drfs_area_name_ok(""));
	cr_assert_not(drfs_area_name_ok("."));
	cr_assert_not(drfs_area_name_ok(".."));
	cr_assert_not(drfs_area_name_ok("a/b"));
	cr_assert_not(drfs_area_name_ok("/filedir"));
	cr_assert(drfs_area_name_ok("..."));
	char n63[64], n64[65];

	memset(n63, 'x', 63);
	n63[63] = 0;
	memset(n64, 'x', 64);
	n64[64] = 0;
	cr_assert(drfs_area_name_ok(n63));
	cr_assert_not(drfs_area_name_ok(n64));
}
