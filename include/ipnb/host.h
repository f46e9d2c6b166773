/* SPDX-License-Identifier: MIT */
/*
 * host.h - the host port: how guests and dom0 itself reach each other.
 *
 * ipnetbackd owns a TUN device (default name "ipnb0", layer 3, no Ethernet
 * header). A guest packet for one of dom0's own addresses is written to
 * it, so it enters dom0's stack as if received there; for every registered
 * guest address a host route (/32, /128) through the device sends dom0's
 * replies, and anything else dom0 itself addresses to a guest, back to the
 * daemon, which delivers it into the guest's RX ring.
 *
 * Usage contract:
 *  - host_open() creates the device (or takes over the one a previous
 *    daemon left), makes it persistent, brings it up and plugs into the
 *    data path (dp_set_host). The device and its routes outlive the
 *    process, so that dom0 keeps its routes to the guests across a restart;
 *    host_close(h, true) removes them (an explicit shutdown). While no
 *    process holds the device, what dom0 sends into it is dropped.
 *  - host_reconcile(), once the control path has registered the addresses
 *    it found at start, deletes the routes through the device that a
 *    previous daemon left for addresses no longer registered.
 *  - "dom0's own addresses" are those of every non-loopback interface,
 *    IPv6 link-local ones excepted, re-read at most once a second.
 *  - Only dom0's own traffic crosses the port: a packet from the device
 *    whose source is not one of those addresses (something dom0's kernel
 *    forwarded) is dropped, so the LAN reaches guests only through the
 *    uplink path.
 *  - The main loop calls host_run() before the data path's pass (it re-reads
 *    dom0's addresses, at most once a second, and re-routes if they
 *    changed), and host_handle_rx() when host_fd() is readable.
 */
#ifndef IPNB_HOST_H
#define IPNB_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipnb/dp.h"

#define HOST_DEFAULT_NAME "ipnb0"

enum host_drop {
	HOST_DROP_NOT_LOCAL,   /* from the device with a source not dom0's */
	HOST_DROP_NO_GUEST,    /* from the device for an address no guest holds */
	HOST_DROP_MALFORMED,   /* from the device and not IPv4/IPv6 */
	HOST_DROP_GUEST_FULL,  /* the guest could not take it */
	HOST_DROP_TX_FAILED,   /* dom0's stack refused a guest's packet */
	HOST_DROP_ROUTE_ERROR, /* a host route could not be added */
	HOST_DROP_SPOOFED_SRC, /* from the device with a guest's address as source */
	HOST_DROP_COUNT
};

struct host_stats {
	uint64_t rx_pkts, rx_bytes;	   /* dom0 to guests */
	uint64_t tx_pkts, tx_bytes;	   /* guests to dom0 */
	uint64_t rx_gso_pkts, tx_gso_pkts; /* of those, GSO packets (up to 64 KiB) */
	uint64_t routes;		   /* host routes in place now */
	uint64_t drops[HOST_DROP_COUNT];
};

struct host;

struct host *host_open(const char *ifname, struct dp *dp, char *err, size_t errlen);
void host_close(struct host *h, bool remove);
void host_reconcile(struct host *h);
int host_fd(const struct host *h);
void host_run(struct host *h);
void host_handle_rx(struct host *h);

const char *host_name(const struct host *h);
const struct host_stats *host_stats(const struct host *h);
const char *host_drop_name(enum host_drop d);

#endif
