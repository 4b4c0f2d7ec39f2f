/*
 * area.h - area routing: which area of the dataroot (enum drfs_area in
 * fs.h) a name belongs to.
 *
 * Areas are top-level directories.  Their names are recorded by mkfs in
 * the superblock (drfs_sb.area) and may be overridden per mount; the name
 * "none" disables an area (nothing is routed to it, even a directory
 * that happens to be called "none").  Everything below an area's
 * directory belongs to that area; the root and any other top-level name
 * belong to DRFS_AREA_OTHER.  If two areas were given the same name, the
 * one listed first in enum drfs_area wins.
 *
 * Pure functions over a table of names: the caller owns the strings.
 */
#ifndef DRFS_AREA_H
#define DRFS_AREA_H

#include <stdbool.h>

#include "fs.h"

/* The name that switches an area off. */
#define DRFS_AREA_NONE "none"

/*
 * Fill @names[1..] with the directory name of each area: @override[a]
 * when not NULL (a mount option), else the superblock's.  @names[0]
 * (DRFS_AREA_OTHER has no directory) is set to NULL.  The strings are
 * borrowed from @sb and @override.
 */
void drfs_area_names(const char *names[DRFS_AREA__N], const struct drfs_sb *sb,
		     char *const override[DRFS_AREA__N]);

/* Is area @a switched on (its name is not "none")? */
bool drfs_area_enabled(const char *const names[DRFS_AREA__N], enum drfs_area a);

/* The area of top-level entry @name (DRFS_AREA_OTHER if none matches). */
enum drfs_area drfs_area_top(const char *const names[DRFS_AREA__N],
			     const char *name);

/*
 * The area of entry @name of a directory: the root's entries by name
 * (drfs_area_top), anything deeper inherits @parent_area.
 */
enum drfs_area drfs_area_child(const char *const names[DRFS_AREA__N],
			       bool parent_is_root, enum drfs_area parent_area,
			       const char *name);

/* The area whose kind is @kind ("filedir", ...), -1 if none (or "other"). */
int drfs_area_kind(const char *kind);

/* Can @name be an area's directory: one name, not "." or "..", <= 63? */
bool drfs_area_name_ok(const char *name);

#endif
