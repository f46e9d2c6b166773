/* SPDX-License-Identifier: MIT */
/*
 * dp.h - the data path: each connected vif's TX and RX rings, grant copies
 * into and out of backend-owned packet buffers, and the L3 switch between
 * vifs (anti-spoofing, ARP/NDP proxy, IP table lookup, bounded RX queues).
 *
 * Usage contract:
 *  - The control path (xenbus.c) owns the vif's lifecycle: dp_vif_new() when
 *    the backend directory appears, dp_vif_connect() once the frontend's
 *    rings and channels are known, dp_vif_disconnect() on any teardown,
 *    dp_vif_free() when the directory goes away. Those calls are the whole
 *    interface between the two paths.
 *  - Everything the guest controls (ring contents, indexes, grants, event
 *    kicks) is handled here and treated as hostile. A guest that breaks the
 *    protocol is disabled: its rings stop being read, the control path's
 *    on_disable callback runs once, and the other vifs carry on.
 *  - A vif may connect with several queues (netif.h "Multi-queue", up to
 *    dp_max_queues()): each its own ring pair, channels and journal; the
 *    vif's addresses, counters, rate credit, carrier and RX share cover
 *    them all, and a protocol break on any one disables the vif.
 *  - Single-threaded: call everything from the main loop.
 */
#ifndef IPNB_DP_H
#define IPNB_DP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipnb/addr.h"
#include "ipnb/frame.h"
#include "ipnb/offload.h"
#include "ipnb/xenring.h"

/* One vif's RX queue is its share of dom0's packet memory: at most this
 * many packets and bytes, of which at most DP_RXQ_PORT_BYTES came from the
 * ports (the LAN and dom0). More are dropped as rx_queue_full. No pool is
 * shared between vifs, so no vif, or group of vifs, can take another's
 * share: packet memory is bounded by the vifs' shares plus one TX batch. */
#define DP_RXQ_MAX	  256
#define DP_RXQ_BYTES	  ((size_t)512 * 1024)
#define DP_RXQ_PORT_BYTES (DP_RXQ_BYTES / 2)
/* A queue whose head packet could not be delivered for this long turns the
 * vif's carrier off (frontends with feature-rx-notify only). */
#define DP_STALL_MS 10000
/* A frontend without feature-rx-notify does not kick when it posts RX
 * buffers: its ring is polled this often while packets wait for it. */
#define DP_RX_POLL_MS 30

enum dp_drop {
	DP_DROP_TX_BAD_REQ,  /* a request the protocol does not allow */
	DP_DROP_TX_COPY,     /* grant copy from the guest failed */
	DP_DROP_MALFORMED,   /* headers do not parse */
	DP_DROP_SPOOF_MAC,   /* source MAC is not the vif's */
	DP_DROP_SPOOF_IP,    /* source IP not registered to the vif */
	DP_DROP_SPOOF_ARP,   /* ARP sender IP not the vif's */
	DP_DROP_GROUP,	     /* broadcast/multicast not consumed by the proxy */
	DP_DROP_NO_ROUTE,    /* destination not registered to any vif */
	DP_DROP_PROTO,	     /* neither IPv4, IPv6 nor ARP */
	DP_DROP_RXQ_FULL,    /* receiver's queue full */
	DP_DROP_RX_TIMEOUT,  /* waited too long for an RX buffer */
	DP_DROP_RX_TOO_BIG,  /* above the receiver's MTU, or more slots than it takes */
	DP_DROP_RX_COPY,     /* grant copy to the guest failed */
	DP_DROP_CARRIER_OFF, /* receiver stalled: carrier off */
	DP_DROP_NOMEM,	     /* no memory for a packet buffer */
	DP_DROP_LINK_LOCAL,  /* link-local destination no vif holds */
	DP_DROP_BAD_GSO,     /* a GSO request the packet does not fit (gso.h) */
	DP_DROP_TOO_BIG,     /* above the egress MTU, and no ICMP error may be sent (pmtu.h) */
	DP_DROP_COUNT
};

struct dp_stats {
	uint64_t tx_pkts, tx_bytes; /* accepted from the guest */
	uint64_t rx_pkts, rx_bytes; /* delivered to the guest */
	uint64_t arp_replies, na_replies;
	/* kicks that brought no work: no new TX request, no new RX buffer */
	uint64_t spurious_events;
	/* TX passes that stopped for lack of rate credit (dp_vif_set_rate) */
	uint64_t tx_credit_waits;
	/* responses a killed process had committed to the vif's journal and
	 * this one published when it took the vif over */
	uint64_t replayed_responses;
	/* GSO: packets the guest sent with a GSO request; packets it got
	 * whole with one; segments its own GSO packets were cut into for
	 * receivers that take no GSO (software segmentation) */
	uint64_t tx_gso_pkts, rx_gso_pkts, gso_segments;
	/* the guest's packets too big for their egress MTU: ICMP errors
	 * (fragmentation needed, packet too big) sent back to it, and the
	 * IPv4 fragments its datagrams without DF were cut into (pmtu.h) */
	uint64_t icmp_too_big, ip_fragments;
	uint64_t drops[DP_DROP_COUNT];
};

/* Queues a vif may have (netif.h "Multi-queue"): the most
 * dp_set_max_queues() accepts. */
#define DP_MAX_QUEUES 8u

/* One queue's ring pair and event channel(s), as the frontend gave them. */
struct dp_ring_cfg {
	grant_ref_t tx_ref, rx_ref;
	evtchn_port_t evtchn_tx, evtchn_rx; /* equal unless split */
};

struct dp_vif_cfg {
	/* Queue 0: the only one of a single-queue frontend. */
	grant_ref_t tx_ref, rx_ref;
	evtchn_port_t evtchn_tx, evtchn_rx; /* equal unless split */
	/* How many queues, 1..DP_MAX_QUEUES (0 counts as 1); queue k >= 1 is
	 * more[k - 1]. */
	unsigned int nqueues;
	struct dp_ring_cfg more[DP_MAX_QUEUES - 1];
	bool rx_sg; /* frontend feature-sg */
	/* frontend feature-rx-notify: it kicks when it posts RX buffers.
	 * Without it, its RX ring is polled every DP_RX_POLL_MS while packets
	 * wait, and it never loses its carrier for a stall (as in Linux). */
	bool rx_notify;
	bool rx_csum_offload;	   /* frontend did not set feature-no-csum-offload */
	bool rx_ipv6_csum_offload; /* frontend feature-ipv6-csum-offload */
	/* frontend feature-gso-tcpv4 / -tcpv6: it takes GSO packets whole,
	 * with the GSO extra after the first response (not the -prefix
	 * layout, which is not offered) */
	bool rx_gso_tcpv4, rx_gso_tcpv6;
};

struct dp;
struct dp_vif;

/* Called once when a vif is disabled for breaking the protocol. */
typedef void (*dp_disable_cb)(void *arg, struct dp_vif *vif, const char *why);

/* Opens the grant and event-channel handles. NULL with errno on failure. */
struct dp *dp_new(const uint8_t backend_mac[FRAME_ETH_ALEN], dp_disable_cb cb, void *cb_arg);
void dp_free(struct dp *dp);
int dp_evtchn_fd(const struct dp *dp);
/*
 * The directory (an open fd, kept by the caller) where each connected vif's
 * response journal lives (journal.h): on tmpfs, so that it survives the
 * process but not the host. Without one (the default) the journals are in
 * memory, and a killed process's successor cannot tell which ring slots it
 * had answered. Set it before the first connect.
 */
void dp_set_state_dir(struct dp *dp, int dirfd);
/*
 * The most queues a vif may connect with: the control path advertises it
 * as multi-queue-max-queues. 1 (the default) to DP_MAX_QUEUES; returns
 * false, changing nothing, for anything else.
 */
bool dp_set_max_queues(struct dp *dp, unsigned int n);
unsigned int dp_max_queues(const struct dp *dp);

struct dp_vif *dp_vif_new(struct dp *dp, uint16_t domid, uint32_t devid,
			  const uint8_t mac[FRAME_ETH_ALEN]);
void dp_vif_free(struct dp *dp, struct dp_vif *vif);
void dp_vif_set_mac(struct dp_vif *vif, const uint8_t mac[FRAME_ETH_ALEN]);

/*
 * Replaces the vif's registered addresses. Addresses held by another vif
 * are refused: their indexes in a[] are stored in conflict_idx (room for n)
 * and counted in *nconflict; everything else is registered. The ports hear
 * of every address gained (announce) and given up (withdraw). Returns how
 * many of the vif's previous addresses it gave up (others may have been
 * refused one of them: worth another try), or -1 if the IP table is full
 * (nothing changed then).
 */
int dp_vif_set_addrs(struct dp *dp, struct dp_vif *vif, const struct ipnb_addr *a, size_t n,
		     size_t *conflict_idx, size_t *nconflict);
size_t dp_vif_addrs(const struct dp_vif *vif, const struct ipnb_addr **a);
/* The vif that holds a, if any (for conflict messages). */
struct dp_vif *dp_addr_owner(const struct dp *dp, const struct ipnb_addr *a);
void dp_vif_id(const struct dp_vif *vif, uint16_t *domid, uint32_t *devid);
const uint8_t *dp_vif_mac(const struct dp_vif *vif);

/*
 * Maps the rings, checks the attach invariant and binds the channels.
 * Returns 0, or -1 with a message for hotplug-error in err.
 */
int dp_vif_connect(struct dp *dp, struct dp_vif *vif, const struct dp_vif_cfg *cfg, char *err,
		   size_t errlen);
void dp_vif_disconnect(struct dp *dp, struct dp_vif *vif);
bool dp_vif_connected(const struct dp_vif *vif);
/* The queues it is connected with (0 while it is not). */
unsigned int dp_vif_nqueues(const struct dp_vif *vif);

/*
 * The flow hash that picks a multi-queue vif's RX queue (modulo its number
 * of queues), so that one flow always lands on the same queue and is never
 * reordered: over the IP source and destination and, for TCP and UDP
 * packets that are not fragments, both ports; over the addresses alone for
 * any other IP packet (ICMP, fragments) and for ARP (sender and target
 * protocol addresses); 0 for anything else. Pure: reads only frame[0..len).
 */
uint32_t dp_flow_hash(const uint8_t *frame, size_t len);

/*
 * The backend `rate` key (libxl's vif rate=): at most `bytes` of TX packets
 * per `usec` microseconds, as a credit refilled each interval and held up
 * to max(bytes, DP_RATE_MIN_BURST) so that any packet can go eventually.
 * A packet that the credit does not cover waits on the ring. bytes 0 is
 * unlimited. Applies at once, connected or not.
 */
#define DP_RATE_MIN_BURST 65536u
void dp_vif_set_rate(struct dp_vif *vif, uint64_t bytes, uint32_t usec);
/* The rate set, or false if unlimited. */
bool dp_vif_rate(const struct dp_vif *vif, uint64_t *bytes, uint32_t *usec);
/*
 * The backend `mtu` key (libxl's vif mtu=; 1500 until set): the largest IP
 * packet delivered to the guest, as a bridge port with that MTU would
 * pass. A GSO packet gets segments that fit; any other packet above it is
 * dropped as rx_too_big, and a guest that sent it gets the ICMP error
 * (fragmentation needed, packet too big) that path MTU discovery needs.
 * The caller keeps it within DP_MTU_MIN..DP_MTU_MAX. Applies at once.
 */
#define DP_MTU_DEFAULT 1500u
#define DP_MTU_MIN     68u   /* IPv4's minimum (RFC 791) */
#define DP_MTU_MAX     9000u /* jumbo frames; more slots than that are not offered */
void dp_vif_set_mtu(struct dp_vif *vif, unsigned int mtu);
unsigned int dp_vif_mtu(const struct dp_vif *vif);
bool dp_vif_carrier(const struct dp_vif *vif);
const struct dp_stats *dp_vif_stats(const struct dp_vif *vif);
size_t dp_vif_queued(const struct dp_vif *vif);
size_t dp_vif_queued_bytes(const struct dp_vif *vif);
/* Bytes of the packets in existence, all vifs (their lengths; the pool
 * keeps freed buffers besides, up to 8 MiB). */
size_t dp_pool_bytes(const struct dp *dp);

/*
 * The event-channel fd is readable: collect kicks. A port stays masked from
 * its event until dp_run() has done the work it asked for (late EOI, as
 * after XSA-332), so a guest kicking meanwhile costs nothing; after a run
 * of kicks that brought no work, its unmask is delayed, up to
 * DP_EOI_DELAY_MAX_MS.
 */
void dp_handle_events(struct dp *dp);
#define DP_EOI_DELAY_MAX_MS 64
/*
 * Does pending ring work, in bounded rounds so one busy guest cannot starve
 * the others or the control path. Returns how long (ms) the main loop may
 * sleep: 0 if work remains, -1 if nothing is time-dependent.
 */
int dp_run(struct dp *dp);

const char *dp_drop_name(enum dp_drop d);

/*
 * The ports: the physical NIC (uplink.c) and dom0's own stack (host.c) plug
 * in here. output() gets every guest packet whose destination no vif
 * holds, after the anti-spoofing checks; the host port is asked first,
 * then the uplink. A port with `offload` set gets each packet as the guest
 * sent it, with its metadata in *o: a blank checksum, a GSO packet of up
 * to 64 KiB. Any other port gets MTU-sized segments of a GSO packet and
 * complete checksums, and *o says nothing. output() copies what it keeps
 * and returns true, or returns false to leave the packet to the next port
 * (after the last, it is counted as no_route). announce() is told of each
 * address newly registered to a vif, withdraw() of each one a vif no
 * longer holds. Any hook may be NULL. `mtu` (IP bytes, 0: none) is the
 * largest packet, or GSO segment, the port takes; a larger one from a
 * guest gets the sender an ICMP error (DF or IPv6), is cut into IPv4
 * fragments or smaller TCP segments (no DF), or is dropped (too_big). It
 * is checked before output(), so only a port that takes every packet it
 * is offered (the uplink, asked last) may set it.
 */
struct dp_port_ops {
	bool (*output)(void *arg, const uint8_t *frame, size_t len, const struct frame_info *fi,
		       const struct ipnb_offload *o);
	void (*announce)(void *arg, const struct ipnb_addr *a);
	void (*withdraw)(void *arg, const struct ipnb_addr *a);
	void *arg;
	bool offload;
	unsigned int mtu;
};
void dp_set_uplink(struct dp *dp, const struct dp_port_ops *ops);
void dp_set_host(struct dp *dp, const struct dp_port_ops *ops);

/*
 * The capture tap (cap.h): while one is set, packet() sees each frame a
 * vif's guest sent, as copied from its grants and before any check (in),
 * and each frame written into its RX ring (out), GSO packets whole; gone()
 * hears that a vif is being freed. NULL removes the tap: without one, a
 * packet costs a single test.
 */
struct dp_tap_ops {
	void (*packet)(void *arg, uint16_t domid, uint32_t devid, bool out, const uint8_t *frame,
		       size_t len);
	void (*gone)(void *arg, uint16_t domid, uint32_t devid);
	void *arg;
};
void dp_set_tap(struct dp *dp, const struct dp_tap_ops *ops);

/*
 * A frame from a port whose destination IP (fi->dst) is registered to a
 * vif: copied into a backend buffer, its Ethernet header rewritten and
 * queued to that vif. o (NULL: none) is its metadata: a blank checksum is
 * passed on, or completed for a vif that takes none; a GSO packet (up to
 * DP_MAX_FRAME bytes) goes whole to a vif that takes GSO and in segments
 * to any other. Returns false (counted by the caller) if no vif holds the
 * address, the frame is too long, a blank checksum or GSO request does not
 * fit its headers, no buffer is free, or that vif could not take it (not
 * connected, carrier off, queue full: also counted on the vif).
 */
#define DP_MAX_FRAME (FRAME_ETH_HLEN + 65536)
bool dp_input(struct dp *dp, const uint8_t *frame, size_t len, const struct frame_info *fi,
	      const struct ipnb_offload *o);

#endif
