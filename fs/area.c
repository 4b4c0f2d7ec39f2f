/*
 * area.c - area routing (area.h): names of the areas and which area a
 * path belongs to.  Used by the daemon to tag every inode with its area
 * (policy and statistics) and by datarootctl to check --area arguments.
 */
#include <string.h>

#include "area.h"

const char *const drfs_area_kinds[DRFS_AREA__N] = {
	"other", "filedir", "trashdir", "localcache", "cache",
	"temp",	 "lock",    "sessions", "muc",
};

void drfs_area_names(const char *names[DRFS_AREA__N], const struct drfs_sb *sb,
		     char *const override[DRFS_AREA__N])
{
	names[DRFS_AREA_OTHER] = NULL;
	for (int a = 1; a < DRFS_AREA__N; a++)
		names[a] = override && override[a] ? override[a] : sb->area[a];
}

bool drfs_area_enabled(const char *const names[DRFS_AREA__N], enum drfs_area a)
{
	return a > DRFS_AREA_OTHER && a < DRFS_AREA__N && names[a] &&
	       strcmp(names[a], DRFS_AREA_NONE);
}

enum drfs_area drfs_area_top(const char *const names[DRFS_AREA__N],
			     const char *name)
{
	if (!strcmp(name, DRFS_AREA_NONE))
		return DRFS_AREA_OTHER;
	for (int a = 1; a < DRFS_AREA__N; a++)
		if (names[a] && !strcmp(name, names[a]))
			return (enum drfs_area)a;
	return DRFS_AREA_OTHER;
}

enum drfs_area drfs_area_child(const char *const names[DRFS_AREA__N],
			       bool parent_is_root, enum drfs_area parent_area,
			       const char *name)
{
	return parent_is_root ? drfs_area_top(names, name) : parent_area;
}

int drfs_area_kind(const char *kind)
{
	for (int a = 1; a < DRFS_AREA__N; a++)
		if (!strcmp(kind, drfs_area_kinds[a]))
			return a;
	return -1;
}

bool drfs_area_name_ok(const char *name)
{
	return name[0] && !strchr(name, '/') && strcmp(name, ".") &&
	       strcmp(name, "..") && strlen(name) <= 63;
}
