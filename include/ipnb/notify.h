/* SPDX-License-Identifier: MIT */
/*
 * notify.h - telling the service manager how the daemon is doing, through
 * the readiness protocol of sd_notify(3): one datagram of "KEY=VALUE" lines
 * to the Unix socket named in $NOTIFY_SOCKET (a path, or "@name" for the
 * abstract namespace). Under systemd's Type=notify the unit is started only
 * once the daemon says READY=1. Outside such a service nothing is sent.
 */
#ifndef IPNB_NOTIFY_H
#define IPNB_NOTIFY_H

#include <stdbool.h>

/* A datagram socket connected to $NOTIFY_SOCKET, or -1 without one (not
 * under a notify service) or if it cannot be reached (errno says why).
 * Opened early: the seccomp allow-list has no socket() for it later. */
int ntf_open(void);
/* Sends STATE ("READY=1", "STOPPING=1", ...) on a socket from ntf_open();
 * false if it could not. With fd -1, does nothing and returns true. */
bool ntf_send(int fd, const char *state);

#endif
