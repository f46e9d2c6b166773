/* SPDX-License-Identifier: MIT */
/*
 * metrics.h - the daemon's counters (stats.h) in the Prometheus text format
 * (prom.h): what `ipnetback metrics` prints and the metrics listener
 * serves. docs/cli.md ("Metrics") lists the families.
 *
 * Every vif's samples carry the labels domid, devid, vifname (the backend's
 * vifname, or "vifD.N") and domain (the domain's name); the uplink's and
 * the host port's carry the device's name (uplink=, port=).
 *
 * Usage contract: mx_write() reads the modules' counters and writes into
 * f; it logs nothing and touches no xenstore (the names come from
 * xb_foreach()). ul and host may be NULL: their families are left out.
 */
#ifndef IPNB_METRICS_H
#define IPNB_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct dp;
struct host;
struct ul;
struct xb;

struct mx_src {
	struct xb *xb;
	struct dp *dp;
	const struct ul *ul;
	const struct host *host;
	const struct cap *cap; /* may be NULL */
	uint64_t started_ms; /* ipnb_now_ms() when the daemon started */
};

/* False if memory ran out (f then holds part of the answer). */
bool mx_write(FILE *f, const struct mx_src *src);

#endif
