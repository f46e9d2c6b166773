/*
 * ctl.h - the daemon's control socket. A client connects, sends one request
 * line and reads the answer until the daemon closes the connection:
 *
 *   "vifs [json]\n"             every vif: a table, or {"vifs": [ {...} ]}
 *   "vif DOMID/DEVID [json]\n"  one vif: key/value lines, or one {...}
 *   "uplink [json]\n"           the uplink's counters and neighbour cache
 *   "host [json]\n"             the host port's counters
 *
 * Errors come back as a line starting with "error:". docs/cli.md has the
 * fields.
 *
 * Usage contract: ctl_open() binds the socket (root-only, mode 0600); the
 * main loop calls ctl_handle_events() whenever ctl_fd() (an epoll fd over
 * the socket and its clients) is readable. Nothing blocks: a slow client
 * only holds one of a few connection slots, and the oldest connection is
 * dropped when a new client needs a slot.
 */
#ifndef IPNB_CTL_H
#define IPNB_CTL_H

#include "ipnb/host.h"
#include "ipnb/uplink.h"
#include "ipnb/xenbus.h"

#define CTL_DEFAULT_PATH "/run/ipnetback/ipnetbackd.sock"

struct ctl;

/* ul and host may be NULL (no uplink, no host port). */
struct ctl *ctl_open(const char *path, struct xb *xb, struct ul *ul, struct host *host);
void ctl_close(struct ctl *c);
int ctl_fd(const struct ctl *c);
void ctl_handle_events(struct ctl *c);

#endif
