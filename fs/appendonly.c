/*
 * appendonly.c - judgements of the localcache append-only contract
 * (appendonly.h).  The daemon (daemon/local.c) asks before it acts on the
 * local file, counts a breach and logs it (rate-limited).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "appendonly.h"

enum drfs_ao_breach drfs_ao_open(bool sealed, int flags)
{
	return sealed && (flags & O_ACCMODE) != O_RDONLY ? DRFS_AO_REWRITE
							 : DRFS_AO_NONE;
}

enum drfs_ao_breach drfs_ao_create(bool exists, int flags)
{
	/* with O_EXCL the create fails (EEXIST): nothing is changed */
	return exists && !(flags & O_EXCL) ? DRFS_AO_REWRITE : DRFS_AO_NONE;
}

enum drfs_ao_breach drfs_ao_truncate(bool sealed)
{
	return sealed ? DRFS_AO_TRUNCATE : DRFS_AO_NONE;
}

enum drfs_ao_breach drfs_ao_rename(bool target_exists, bool target_is_dir,
				   unsigned flags)
{
	if (flags & (RENAME_NOREPLACE | RENAME_EXCHANGE))
		return DRFS_AO_NONE;
	return target_exists && !target_is_dir ? DRFS_AO_RENAME_OVER
					       : DRFS_AO_NONE;
}

int drfs_ao_verdict(bool strict, enum drfs_ao_breach b)
{
	return strict && b != DRFS_AO_NONE ? -EPERM : 0;
}

const char *drfs_ao_breach_name(enum drfs_ao_breach b)
{
	static const char *const names[DRFS_AO__N] = {
		"in-place rewrite of a sealed file",
		"truncate of a sealed file",
		"rename over an existing file",
	};

	return b > DRFS_AO_NONE && b < DRFS_AO__N ? names[b] : "none";
}

int drfs_ao_parse_mode(const char *s, bool *strict)
{
	if (!s || !strcmp(s, "compat"))
		*strict = false;
	else if (!strcmp(s, "strict"))
		*strict = true;
	else
		return -EINVAL;
	return 0;
}

bool drfs_ao_log_due(int64_t *last_ns, int64_t now_ns)
{
	int64_t last = __atomic_load_n(last_ns, __ATOMIC_RELAXED);

	return now_ns - last > DRFS_AO_LOG_INTERVAL_NS &&
	       __atomic_compare_exchange_n(last_ns, &last, now_ns, false,
					   __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}
