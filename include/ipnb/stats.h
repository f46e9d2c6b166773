/* SPDX-License-Identifier: MIT */
/*
 * stats.h - every counter the daemon reports, listed once: its name, its
 * value, whether it is a gauge, and what it counts. The control socket
 * shows the lists as text and JSON (ctl.c), the metrics as the Prometheus
 * format (metrics.c); each takes the names from here, so that a counter
 * added here appears in both.
 *
 * Usage contract: pure reads of the modules' counters; no logging, no
 * xenstore. Each st_*() fills a caller array of at most the size it
 * states and returns how many entries it wrote. The names are snake_case
 * and stay stable: scripts read them from `ipnetback ... --json`.
 */
#ifndef IPNB_STATS_H
#define IPNB_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipnb/cap.h"
#include "ipnb/dp.h"
#include "ipnb/host.h"
#include "ipnb/uplink.h"
#include "ipnb/xenbus.h"

struct st_ctr {
	const char *name;
	unsigned long long v;
	bool gauge;	  /* a level (queue depth, a setting), not a running count */
	const char *help; /* one line, for the metrics' HELP */
};

#define ST_VIF_MAX    20
#define ST_PORT_MAX   8
#define ST_DAEMON_MAX 12
#define ST_DROPS_MAX  24 /* at least each module's *_DROP_COUNT */

size_t st_vif(const struct dp_vif *dv, struct st_ctr c[ST_VIF_MAX]);
size_t st_vif_drops(const struct dp_vif *dv, struct st_ctr c[ST_DROPS_MAX]);
size_t st_uplink(const struct ul *ul, struct st_ctr c[ST_PORT_MAX]);
size_t st_uplink_drops(const struct ul *ul, struct st_ctr c[ST_DROPS_MAX]);
size_t st_host(const struct host *h, struct st_ctr c[ST_PORT_MAX]);
size_t st_host_drops(const struct host *h, struct st_ctr c[ST_DROPS_MAX]);
/* started_ms: ipnb_now_ms() when the daemon started (its uptime); cap
 * may be NULL (no capture counters then). */
size_t st_daemon(const struct xb *xb, const struct dp *dp, const struct cap *cap,
		 uint64_t started_ms, struct st_ctr c[ST_DAEMON_MAX]);

#endif
