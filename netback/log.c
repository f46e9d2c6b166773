/* log.c - log_* and fatal(): one line per event on stderr. */
#include "ipnb/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *log_prog = "ipnetbackd";
static bool log_debug_on;

void log_init(const char *progname, bool debug)
{
	log_prog = progname;
	log_debug_on = debug;
}

static void log_vemit(const char *level, int err, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static void log_vemit(const char *level, int err, const char *fmt, va_list ap)
{
	char msg[1024];

	/* clang-tidy 14 reports this va_list as uninitialised when it checks
	 * several files in one run: its valist checker keeps what it learnt
	 * about va_start from the first file and no longer recognises it in
	 * later ones. Each file checked on its own is clean. */
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized) */
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (err)
		fprintf(stderr, "%s: %s%s: %s\n", log_prog, level, msg, strerror(err));
	else
		fprintf(stderr, "%s: %s%s\n", log_prog, level, msg);
}

void log_warn(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vemit("", err, fmt, ap);
	va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit("", 0, fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit("", 0, fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_debug_on)
		return;
	va_start(ap, fmt);
	log_vemit("debug: ", 0, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vemit("fatal: ", err, fmt, ap);
	va_end(ap);
	exit(1);
}
