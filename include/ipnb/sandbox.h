/* SPDX-License-Identifier: MIT */
/*
 * sandbox.h - least privilege for the main loop: after start-up (devices
 * opened, sockets bound, the host port's TUN device created) the daemon
 * keeps only the capabilities it still uses and installs a seccomp
 * allow-list of the system calls its loop makes (docs/security.md, row 11
 * of issue 9).
 *
 * Usage contract: sbx_enter() once, from the main thread, after every
 * device and socket is open and before the first guest input is read. It
 * applies to every thread of the process (libxenstore's reader thread
 * included). Pure: it neither logs nor exits; its caller does.
 */
#ifndef IPNB_SANDBOX_H
#define IPNB_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

enum sbx_mode {
	SBX_OFF,   /* no filter (the sanitizer build: LeakSanitizer needs ptrace) */
	SBX_ERRNO, /* a call off the list fails with EPERM: the default */
	SBX_LOG,   /* a call off the list is allowed and logged by the kernel
		    * (audit type 1326): for finding what a new path needs */
	SBX_KILL,  /* a call off the list kills the process: the test runs */
};

/* Parses "off", "errno", "log" or "kill". */
bool sbx_mode_parse(const char *s, enum sbx_mode *mode);
const char *sbx_mode_name(enum sbx_mode mode);

/*
 * Drops every capability but CAP_NET_ADMIN (kept if keep_net_admin: the
 * host port adds and removes routes as addresses come and go) from the
 * effective, permitted, inheritable and bounding sets, then, unless mode
 * is SBX_OFF, installs the allow-list. Files can then be opened only
 * relative to state_dir (an open directory fd; -1 for none), with openat().
 * Returns 0, or -1 with a reason in err.
 */
int sbx_enter(enum sbx_mode mode, bool keep_net_admin, int state_dir, char *err, size_t errlen);

#endif
