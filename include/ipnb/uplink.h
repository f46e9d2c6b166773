/* SPDX-License-Identifier: MIT */
/*
 * uplink.h - the physical NIC: guests' traffic to addresses no guest holds
 * leaves through it, and LAN traffic for registered guest addresses comes
 * in through it, over an AF_PACKET socket with PACKET_MMAP RX and TX rings.
 *
 * Usage contract:
 *  - dom0 configures the NIC (up, addresses, GRO off: see
 *    dom0-scripts/ipnetback-uplink); ul_open() only uses it. dom0's own
 *    traffic on it is left to dom0's kernel.
 *  - ul_open() plugs the uplink into the data path (dp_set_uplink). The
 *    main loop calls ul_handle_rx() when ul_fd() is readable and ul_run()
 *    every iteration; ul_run() returns how long the loop may sleep (ms, -1
 *    for no limit).
 *  - On-link prefixes are the uplink's own IPv4/IPv6 prefixes in dom0;
 *    other destinations go through the configured gateway of their family,
 *    or are dropped as no_route.
 */
#ifndef IPNB_UPLINK_H
#define IPNB_UPLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipnb/dp.h"
#include "ipnb/nbr.h"

struct ul_cfg {
	const char *ifname;
	struct ipnb_addr gw4, gw6; /* family 0: no gateway */
};

enum ul_drop {
	UL_DROP_NO_ROUTE,      /* off-link with no gateway */
	UL_DROP_TOO_BIG,       /* larger than the uplink MTU */
	UL_DROP_UNRESOLVED,    /* neighbour resolution failed or queue full */
	UL_DROP_TX_RING_FULL,  /* the TX ring had no free frame */
	UL_DROP_RX_TRUNCATED,  /* frame larger than an RX ring frame */
	UL_DROP_RX_GUEST_FULL, /* the guest could not take it */
	UL_DROP_SPOOFED_SRC,   /* from the LAN with a guest's or dom0's source */
	UL_DROP_COUNT
};

struct ul_stats {
	uint64_t rx_pkts, rx_bytes; /* delivered to guests */
	uint64_t tx_pkts, tx_bytes; /* sent for guests */
	uint64_t arp_replies, na_replies, announcements;
	uint64_t tx_errors; /* send() failed (NIC down): the frames are retried */
	uint64_t drops[UL_DROP_COUNT];
};

struct ul;

struct ul *ul_open(const struct ul_cfg *cfg, struct dp *dp, char *err, size_t errlen);
void ul_close(struct ul *ul);
int ul_fd(const struct ul *ul);
void ul_handle_rx(struct ul *ul);
int ul_run(struct ul *ul);

const char *ul_name(const struct ul *ul);
/* The MTU guests' packets are held to; *nic_mtu (if not NULL) gets the
 * interface's, which is larger when the rings' frames cannot hold it. */
unsigned int ul_mtu(const struct ul *ul, unsigned int *nic_mtu);
const struct ul_stats *ul_stats(const struct ul *ul);
const char *ul_drop_name(enum ul_drop d);
const struct nbr_cache *ul_neighbours(const struct ul *ul);

#endif
