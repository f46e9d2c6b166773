/* SPDX-License-Identifier: MIT */
/* log.c - log_* and fatal(): one line per event on stderr, with its
 * syslog priority when stderr is the journal. */
#include "ipnb/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>

static const char *log_prog = "ipnetbackd";
static bool log_debug_on;
static bool log_journal;

/* systemd sets JOURNAL_STREAM to "DEV:INODE" of the stream it connected to
 * the journal; only if stderr is still that stream (not redirected by a
 * wrapper) does journald read a "<N>" prefix as the line's priority
 * (sd-daemon(3), systemd.exec(5)). Anywhere else the prefix would be noise. */
static bool log_to_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat sb;

	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &sb) != 0)
		return false;
	return (unsigned long long)sb.st_dev == dev && (unsigned long long)sb.st_ino == ino;
}

void log_init(const char *progname, bool debug)
{
	log_prog = progname;
	log_debug_on = debug;
	log_journal = log_to_journal();
}

static void log_vemit(int pri, const char *level, int err, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
static void log_vemit(int pri, const char *level, int err, const char *fmt, va_list ap)
{
	char tag[8] = "";
	char msg[1024];

	/* clang-tidy 14 reports this va_list as uninitialised when it checks
	 * several files in one run: its valist checker keeps what it learnt
	 * about va_start from the first file and no longer recognises it in
	 * later ones. Each file checked on its own is clean. */
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized) */
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_journal)
		snprintf(tag, sizeof(tag), "<%d>", pri);
	if (err)
		fprintf(stderr, "%s%s: %s%s: %s\n", tag, log_prog, level, msg, strerror(err));
	else
		fprintf(stderr, "%s%s: %s%s\n", tag, log_prog, level, msg);
}

void log_warn(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_WARNING, "", err, fmt, ap);
	va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_WARNING, "", 0, fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_INFO, "", 0, fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_debug_on)
		return;
	va_start(ap, fmt);
	log_vemit(LOG_DEBUG, "debug: ", 0, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_ERR, "fatal: ", err, fmt, ap);
	va_end(ap);
	exit(1);
}
