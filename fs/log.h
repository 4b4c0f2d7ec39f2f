/*
 * log.h - one logging sink for the library, the daemon and libfuse.
 *
 * Levels are syslog's (LOG_ERR .. LOG_DEBUG).  The sink is stderr until
 * drfs_log_to_syslog() switches it (daemon in the background).
 */
#ifndef DRFS_LOG_H
#define DRFS_LOG_H

#include <syslog.h>

extern int drfs_log_level;

void drfs_log_to_syslog(const char *ident);
void drfs_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define drfs_err(...) drfs_log(LOG_ERR, __VA_ARGS__)
#define drfs_warn(...) drfs_log(LOG_WARNING, __VA_ARGS__)
#define drfs_info(...) drfs_log(LOG_INFO, __VA_ARGS__)
#define drfs_dbg(...)                                     \
	do {                                              \
		if (drfs_log_level >= LOG_DEBUG)          \
			drfs_log(LOG_DEBUG, __VA_ARGS__); \
	} while (0)

#endif
