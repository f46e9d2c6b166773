/* SPDX-License-Identifier: MIT */
/*
 * log.h - the daemon's small log API (stderr, which systemd's journal
 * captures; each line carries its syslog priority there, so that
 * `journalctl -p warning` filters). Only the daemon's top layers log: pure
 * modules return error codes and the caller says what went wrong.
 */
#ifndef IPNB_LOG_H
#define IPNB_LOG_H

#include <stdbool.h>

/* Also decides, from JOURNAL_STREAM, whether stderr is the journal. */
void log_init(const char *progname, bool debug);
/* Priorities: log_warn and log_warnx LOG_WARNING, log_info LOG_INFO,
 * log_debug LOG_DEBUG, fatal LOG_ERR. */
/* With strerror(errno) appended. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Logs with strerror(errno) and exits 1. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
