/*
 * log.c - stderr or syslog sink with levels.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "log.h"

int drfs_log_level = LOG_INFO;
static bool use_syslog;

void drfs_log_to_syslog(const char *ident)
{
	openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	use_syslog = true;
}

void drfs_log(int level, const char *fmt, ...)
{
	static const char *const names[] = {"emerg", "alert",	"crit",
					    "error", "warning", "notice",
					    "info",  "debug"};
	va_list ap;

	if (level > drfs_log_level)
		return;
	va_start(ap, fmt);
	if (use_syslog) {
		vsyslog(level, fmt, ap);
	} else {
		char buf[1024];

		vsnprintf(buf, sizeof(buf), fmt, ap);
		fprintf(stderr, "datarootfs: %s: %s\n", names[level & 7], buf);
	}
	va_end(ap);
}
