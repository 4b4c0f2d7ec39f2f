/*
 * appendonly.h - the localcache append-only contract: which requests
 * breach it and what happens then.
 *
 * Moodle's contract for $CFG->localcachedir is "only add new files; never
 * modify, overwrite or delete".  A file is sealed once the handle that
 * created it is released (the caller tracks that).  Breaches:
 *   - DRFS_AO_REWRITE: opening a sealed file for writing, or creating
 *     (without O_EXCL) a name that exists already;
 *   - DRFS_AO_TRUNCATE: truncating a sealed file;
 *   - DRFS_AO_RENAME_OVER: a rename that replaces an existing file (not a
 *     directory; RENAME_NOREPLACE and RENAME_EXCHANGE replace nothing).
 * Deleting files and directories is never a breach (Moodle removes old
 * revision directories, and purges), nor is anything done to a file
 * still unsealed.  Mode compat allows breaches (the caller counts and
 * logs them); mode strict refuses them with EPERM.
 *
 * Pure functions: the caller looks at the local file and passes what it
 * found.
 */
#ifndef DRFS_APPENDONLY_H
#define DRFS_APPENDONLY_H

#include <stdbool.h>
#include <stdint.h>

enum drfs_ao_breach {
	DRFS_AO_NONE = -1, /* allowed: not a breach */
	DRFS_AO_REWRITE, /* same order as DRFS_ST_LC_BREACH... (fs.h) */
	DRFS_AO_TRUNCATE,
	DRFS_AO_RENAME_OVER,
	DRFS_AO__N
};

/* open(2) of an existing file with @flags. */
enum drfs_ao_breach drfs_ao_open(bool sealed, int flags);
/* open(2) with O_CREAT and @flags of a name that @exists or not. */
enum drfs_ao_breach drfs_ao_create(bool exists, int flags);
/* A size change (truncate, ftruncate, O_TRUNC through setattr). */
enum drfs_ao_breach drfs_ao_truncate(bool sealed);
/*
 * rename(2) with renameat2 @flags onto a target that @target_exists,
 * being a directory or not (replacing an empty directory is allowed).
 */
enum drfs_ao_breach drfs_ao_rename(bool target_exists, bool target_is_dir,
				   unsigned flags);

/* 0 to go ahead, -EPERM if @strict and @b is a breach. */
int drfs_ao_verdict(bool strict, enum drfs_ao_breach b);
/* "in-place rewrite of a sealed file", ... for the log. */
const char *drfs_ao_breach_name(enum drfs_ao_breach b);
/* Parse localcache=compat|strict (NULL: compat); -EINVAL otherwise. */
int drfs_ao_parse_mode(const char *s, bool *strict);

/* Breaches are logged at most once per this many ns (the rest counted). */
#define DRFS_AO_LOG_INTERVAL_NS (10 * 1000000000ll)
/*
 * Should a breach at @now_ns be logged?  True at most once per interval;
 * *@last_ns (0 at start) is updated atomically, so threads may share it.
 */
bool drfs_ao_log_due(int64_t *last_ns, int64_t now_ns);

#endif
