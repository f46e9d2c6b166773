/* SPDX-License-Identifier: MIT */
/*
 * ctl.h - the daemon's control socket. A client connects, sends one request
 * line and reads the answer until the daemon closes the connection:
 *
 *   "vifs [json]\n"             every vif: a table, or {"vifs": [ {...} ]}
 *   "vif DOMID/DEVID [json]\n"  one vif: key/value lines, or one {...}
 *   "uplink [json]\n"           the uplink's counters and neighbour cache
 *   "host [json]\n"             the host port's counters
 *   "daemon [json]\n"           the daemon's pid, uptime, vif count, watch
 *                               events, connects and disconnects
 *   "metrics\n"                 everything above as Prometheus text (metrics.h)
 *   "capture D/V SNAP DIRS\n"   one vif's frames (DIRS in, out or inout),
 *                               cut to SNAP bytes: the line "capture D/V",
 *                               then records (cap.h) until the client or
 *                               the vif goes away
 *   "shutdown [disconnect]\n"   stop: leave the vifs connected (as SIGTERM),
 *                               or hand each back (backend Closed) and
 *                               remove the host port first
 *
 * Errors come back as a line starting with "error:". docs/cli.md has the
 * fields.
 *
 * Usage contract: ctl_open() binds the socket (root-only, mode 0600), or
 * returns NULL with errno set and leaves exiting to its caller. A socket
 * file already at path is replaced only if nothing answers on it; if
 * something does (another daemon), ctl_open() fails with EADDRINUSE and
 * leaves it alone. ctl_close() removes the socket file only if it is its
 * own; the main
 * loop calls ctl_handle_events() whenever ctl_fd() (an epoll fd over
 * the socket and its clients) is readable. Nothing blocks: a slow client
 * only holds one of a few connection slots, and the oldest connection is
 * dropped when a new client needs a slot.
 */
#ifndef IPNB_CTL_H
#define IPNB_CTL_H

#include <stddef.h>

#define CTL_DEFAULT_PATH "/run/ipnetback/ipnetbackd.sock"

/* Only pointers to these: the CLI includes this header for the path above
 * and needs none of the daemon's modules. */
struct ctl;
struct dp;
struct host;
struct ul;
struct xb;

/* ul and host may be NULL (no uplink, no host port). */
struct ctl *ctl_open(const char *path, struct dp *dp, struct xb *xb, struct ul *ul,
		     struct host *host);
void ctl_close(struct ctl *c);
/* Also serves the metrics (metrics.h) to HTTP GETs on spec: "ADDR:PORT",
 * "[ADDR6]:PORT" (TCP) or an absolute path (a Unix socket, mode 0600).
 * -1 with err filled if spec is bad or cannot be bound. */
int ctl_listen_metrics(struct ctl *c, const char *spec, char *err, size_t errlen);
int ctl_fd(const struct ctl *c);
void ctl_handle_events(struct ctl *c);
/* Sends what the captures have gathered; after each data-path pass. */
void ctl_run(struct ctl *c);

/* What a "shutdown" request asked for; the main loop acts on it. */
enum ctl_stop { CTL_RUN, CTL_STOP, CTL_STOP_DISCONNECT };
enum ctl_stop ctl_stop_requested(const struct ctl *c);

#endif
