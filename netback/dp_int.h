/* SPDX-License-Identifier: MIT */
/*
 * dp_int.h - what the data path's files share (include/ipnb/dp.h is its
 * interface): the packet, vif and data path structures, the batch sizes,
 * and the functions one file calls in another. Included by netback/dp*.c
 * only.
 *
 *   dp.c         lifecycle, packet buffers, ring attach and the response
 *                journal, events and scheduling, the tap
 *   dp_tx.c      the TX ring: requests in, responses, rate credit
 *   dp_rx.c      the RX queues and the RX ring: responses, expiry, carrier
 *   dp_switch.c  the switch: ARP/ND proxy, anti-spoofing, the lookup,
 *                delivery to a vif or a port, frames from the ports
 */
#ifndef IPNB_DP_INT_H
#define IPNB_DP_INT_H

/* dp.h first: its xenring.h supplies the barriers Xen's ring.h expects,
 * before the Xen libraries' headers include ring.h themselves. */
#include "ipnb/dp.h"

#include <stdbool.h>
#include <stdint.h>
#include <xenevtchn.h>
#include <xengnttab.h>

#include "ipnb/iptable.h"
#include "ipnb/journal.h"
#include "ipnb/txreq.h"

#define DP_TX_BATCH    64 /* packets per TX pass and vif */
#define DP_RX_BATCH    64 /* packets per RX pass and vif */
#define DP_BUF_CLASSES 3  /* packet buffer sizes (dp_pkt_alloc()) */
/* Data slots per RX packet: a 64 KiB GSO packet needs 17, and netfront
 * refuses more than XEN_NETIF_NR_SLOTS_MIN. A GSO extra takes one more. */
#define DP_RX_MAX_SLOTS XEN_NETIF_NR_SLOTS_MIN
#define DP_RX_MAX_RSPS	(DP_RX_MAX_SLOTS + 1)

struct dp_pkt {
	struct dp_pkt *next;
	uint64_t enq_ms;
	uint32_t len;
	uint16_t rx_flags; /* NETRXF_* for the first response */
	uint16_t gso_size; /* MSS of a packet delivered whole with GSO, or 0 */
	uint8_t gso_type;  /* XEN_NETIF_GSO_TYPE_* if gso_size */
	bool from_port;	   /* from the uplink or dom0: counts in q_port_bytes */
	uint8_t cls;	   /* its buffer's size class (dp_pkt_alloc()) */
	uint8_t data[];
};

/*
 * One queue of a vif (netif.h "Multi-queue"): a TX and RX ring pair, its
 * event channel(s), its response journal and late-EOI state, and the
 * packets waiting for its RX ring. A single-queue vif has queue 0 only.
 */
struct dp_queue {
	struct dp_vif *vif;
	unsigned int idx;
	struct dp_ring_cfg cfg;
	netif_tx_back_ring_t tx;
	netif_rx_back_ring_t rx;
	void *tx_page, *rx_page;
	struct jr *jr;			/* the responses being published (journal.h) */
	evtchn_port_t port_tx, port_rx; /* local ports; equal unless split */
	/* TX requests may be waiting: kicked on port_tx, just connected, or
	 * the last pass ran out of budget. dp_run() gives it a TX pass. */
	bool tx_pending;
	/* RX buffers may have been posted: kicked on port_rx, or the last RX
	 * pass found enough for the head packet. Worth another round; the RX
	 * pass itself runs for every queue with packets. */
	bool rx_pending;
	/* Late EOI: port_tx and port_rx (one flag if they are the same
	 * port) were kicked and stay masked until the work is done, and not
	 * before eoi_at_ms. spurious_run counts kicks in a row that brought
	 * nothing, rx_prod_seen is the RX req_prod at our last look. */
	bool eoi_tx, eoi_rx;
	unsigned int spurious_run;
	unsigned int bind_events; /* Xen's one event per port bound: not spurious */
	uint64_t eoi_at_ms;
	RING_IDX rx_prod_seen;

	/* Packets for this queue's RX ring, in order; they count in the vif's
	 * share (q_len, q_bytes, q_port_bytes). */
	struct dp_pkt *q_head, *q_tail;
	/* Since when the head packet has waited: the last delivery, or the
	 * queue's last time empty. Posting too few slots for the head packet
	 * is no progress, and expiring it is none either. */
	uint64_t head_wait_ms;
};

struct dp_vif {
	struct dp_vif *next;
	uint16_t domid;
	uint32_t devid;
	uint8_t mac[FRAME_ETH_ALEN];
	struct ipnb_addr addrs[IPNB_VIF_MAX_ADDRS];
	size_t naddrs;

	bool connected, disabled, carrier;
	struct dp_vif_cfg cfg;
	struct dp_queue q[DP_MAX_QUEUES];
	unsigned int nq;      /* queues connected (0 when not) */
	unsigned int tx_next; /* the queue whose TX ring goes first next round */

	/* TX rate credit (dp_vif_set_rate), one for all its queues:
	 * rate_bytes per rate_usec, 0 for no limit. credit is what is left;
	 * the next refill is due at credit_next_us (on the ms clock, times
	 * 1000). */
	uint64_t rate_bytes, credit, credit_next_us;
	uint32_t rate_usec;
	bool credit_wait; /* TX stopped until the next refill */
	unsigned int mtu; /* dp_vif_set_mtu(): the largest IP packet it is given */

	/* The vif's share of packet memory, over all its queues' packets. */
	size_t q_len, q_bytes, q_port_bytes;

	struct dp_stats st;
};

struct dp {
	xengnttab_handle *gt;
	xenevtchn_handle *xce;
	struct ipt ipt;
	struct dp_vif *vifs;
	/* The vif whose TX ring goes first in the next round: the one after
	 * the last round's first sender, so that senders flooding one
	 * receiver take turns at its queue (NULL: the list's head). */
	struct dp_vif *tx_first;
	uint8_t mac[FRAME_ETH_ALEN];
	size_t pool_bytes; /* bytes of the packets in existence (their len) */
	/* Buffers freed and kept for reuse, per size class, and what they
	 * take in all (dp_pkt_alloc()). */
	struct dp_pkt *idle[DP_BUF_CLASSES];
	size_t idle_bytes;
	dp_disable_cb on_disable;
	void *cb_arg;
	int state_dir;		 /* the vifs' journals (dp_set_state_dir), or -1 */
	unsigned int max_queues; /* dp_set_max_queues() */
	struct dp_port_ops uplink, host;
	struct dp_tap_ops tap; /* packet NULL: no capture runs */
	/* The clock, read once per pass rather than per packet: stamps only
	 * need pass resolution, and the read showed up in profiles. */
	uint64_t clock_ms;
	/* Scratch for one batch; sized for the worst case of either path. */
	xengnttab_grant_copy_segment_t segs[DP_TX_BATCH * TXREQ_MAX_SLOTS];
	struct txreq_pkt txp[DP_TX_BATCH];
	struct dp_pkt *batch[DP_TX_BATCH];
	unsigned int batch_segs[DP_TX_BATCH];
	netif_rx_response_t rxrsp[DP_RX_BATCH * DP_RX_MAX_RSPS];
	/* One software segment on its way to a port (gso_segment()). */
	uint8_t seg[UINT16_MAX];
	netif_tx_response_t txrsp[JR_MAX_RSP]; /* one TX pass: at most a ring */
	unsigned int ntxrsp;
};

/* Shows a frame to the capture tap, if one is set (dp_set_tap). */
static inline void dp_tap(const struct dp *dp, const struct dp_vif *v, bool out,
			  const struct dp_pkt *p)
{
	if (dp->tap.packet)
		dp->tap.packet(dp->tap.arg, v->domid, v->devid, out, p->data, p->len);
}

/* ---- dp.c ---------------------------------------------------------------- */

/* A buffer for a packet of len bytes (up to DP_MAX_FRAME), from the pool,
 * or NULL. */
struct dp_pkt *dp_pkt_alloc(struct dp *dp, uint32_t len);
void dp_pkt_free(struct dp *dp, struct dp_pkt *p);
/* Publish a pass's responses through the queue's journal. Return whether
 * the guest asked for an event. */
bool dp_publish_tx(struct dp_queue *q, const netif_tx_response_t *rsp, unsigned int n);
bool dp_publish_rx(struct dp_queue *q, const netif_rx_response_t *rsp, unsigned int n);
/* Stops all ring processing for a guest that broke the protocol. */
void dp_vif_disable(struct dp *dp, struct dp_vif *v, const char *why);
/* The per-pass ring check (prod - cons within size); disables the vif and
 * returns false if it fails. */
bool dp_ring_prod_sane(struct dp *dp, struct dp_vif *v, const char *ring, RING_IDX prod,
		       RING_IDX cons, unsigned int size);

/* ---- dp_tx.c ------------------------------------------------------------- */

/* One TX pass over one of a vif's queues: up to budget packets (at most
 * DP_TX_BATCH). */
void dp_tx_queue(struct dp *dp, struct dp_queue *q, unsigned int budget);

/* ---- dp_rx.c ------------------------------------------------------------- */

/* Queues p on dst, on the queue its flow hashes to (dp_flow_hash()), or
 * drops and counts it there; consumes p. Says which. It may run an RX pass
 * first: call it only between grant copies. */
bool dp_rx_enqueue(struct dp *dp, struct dp_vif *dst, struct dp_pkt *p);
/* Drops every packet queued on v, counted as why. */
void dp_rx_flush(struct dp *dp, struct dp_vif *v, enum dp_drop why);
/* One RX pass over each of v's queues with packets (or all of them while
 * its carrier is off): moves queued packets into buffers the guest posted. */
void dp_rx_vif(struct dp *dp, struct dp_vif *v);
/* One RX pass over one queue. */
void dp_rx_queue(struct dp *dp, struct dp_queue *q);
/* Drops v's packets queued too long; turns its carrier off on a stall. */
void dp_rx_expire(struct dp *dp, struct dp_vif *v, uint64_t now);

/* ---- dp_switch.c --------------------------------------------------------- */

/* One packet from vif v, now in backend memory, with its GSO request if it
 * made one: checked, then delivered where the lookup says. Consumes p. */
void dp_switch_pkt(struct dp *dp, struct dp_vif *v, struct dp_pkt *p, uint16_t tx_flags,
		   const netif_extra_info_t *gso);

#endif
