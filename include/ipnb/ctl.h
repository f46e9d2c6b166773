/*
 * ctl.h - the daemon's control socket. A client connects, sends one request
 * line and reads the answer until the daemon closes the connection:
 *
 *   "vifs [json]\n"             every vif: a table, or {"vifs": [ {...} ]}
 *   "vif DOMID/DEVID [json]\n"  one vif: key/value lines, or one {...}
 *   "uplink [json]\n"           the uplink's counters and neighbour cache
 *
 * Errors come back as a line starting with "error:". docs/cli.md has the
 * fields.
 *
 * Usage contract: ctl_open() binds the socket (root-only, mode 0600); the
 * main loop calls ctl_accept() when ctl_fd() is readable. Each request is
 * answered synchronously with a 1 s receive timeout, so a stuck client
 * cannot hold the loop for long.
 */
#ifndef IPNB_CTL_H
#define IPNB_CTL_H

#include "ipnb/uplink.h"
#include "ipnb/xenbus.h"

#define CTL_DEFAULT_PATH "/run/ipnetback/ipnetbackd.sock"

struct ctl;

/* ul may be NULL (no uplink configured). */
struct ctl *ctl_open(const char *path, struct xb *xb, struct ul *ul);
void ctl_close(struct ctl *c);
int ctl_fd(const struct ctl *c);
void ctl_accept(struct ctl *c);

#endif
