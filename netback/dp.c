/* SPDX-License-Identifier: MIT */
/*
 * dp.c - the data path (see include/ipnb/dp.h): TX ring -> backend packet
 * buffers -> switch -> per-vif RX queue -> RX ring, with batched grant
 * copies in both directions.
 *
 * Ownership of packet data: a packet is grant-copied out of the sender's
 * pages into a buffer this daemon allocated, and is parsed, checked and
 * rewritten only there. The receiver's pages are written by a second grant
 * copy from that buffer. A guest therefore never sees another guest's
 * grants, and cannot change a header after it has been checked.
 */
#include "ipnb/dp.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <xenevtchn.h>
#include <xengnttab.h>

#include "ipnb/clock.h"
#include "ipnb/gso.h"
#include "ipnb/iptable.h"
#include "ipnb/journal.h"
#include "ipnb/log.h"
#include "ipnb/pmtu.h"
#include "ipnb/txreq.h"

#define DP_TX_BATCH	  64   /* packets per TX pass and vif */
#define DP_RX_BATCH	  64   /* packets per RX pass and vif */
#define DP_RXQ_TIMEOUT_MS 2000 /* a queued packet older than this is dropped */
#define DP_ROUNDS	  8    /* passes over all vifs per dp_run() */
#define DP_IPT_MAX	  4096 /* registered addresses, all vifs */
#define DP_BUF_CLASSES	  3    /* packet buffer sizes (pkt_alloc()) */
/* Freed packet buffers kept for reuse: a full TX batch of GSO packets, or a
 * few vifs' worth of full queues of MTU-sized frames. */
#define DP_POOL_IDLE_BYTES ((size_t)8 << 20)
/* Data slots per RX packet: a 64 KiB GSO packet needs 17, and netfront
 * refuses more than XEN_NETIF_NR_SLOTS_MIN. A GSO extra takes one more. */
#define DP_RX_MAX_SLOTS XEN_NETIF_NR_SLOTS_MIN
#define DP_RX_MAX_RSPS	(DP_RX_MAX_SLOTS + 1)
/* ICMPv6 types 130 to 143 are link-local housekeeping (MLD, router and
 * neighbour discovery, redirects, MLDv2), with nobody to talk to but us. */
#define DP_ICMP6_LINK_FIRST 130 /* multicast listener query */
#define DP_ICMP6_LINK_LAST  143 /* MLDv2 listener report */

struct dp_pkt {
	struct dp_pkt *next;
	uint64_t enq_ms;
	uint32_t len;
	uint16_t rx_flags; /* NETRXF_* for the first response */
	uint16_t gso_size; /* MSS of a packet delivered whole with GSO, or 0 */
	uint8_t gso_type;  /* XEN_NETIF_GSO_TYPE_* if gso_size */
	bool from_port;	   /* from the uplink or dom0: counts in q_port_bytes */
	uint8_t cls;	   /* its buffer's size class (pkt_alloc()) */
	uint8_t data[];
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
	 * pass itself runs for every vif with a queue. */
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

	/* TX rate credit (dp_vif_set_rate): rate_bytes per rate_usec, 0 for
	 * no limit. credit is what is left; the next refill is due at
	 * credit_next_us (on the ms clock, times 1000). */
	uint64_t rate_bytes, credit, credit_next_us;
	uint32_t rate_usec;
	bool credit_wait; /* TX stopped until the next refill */
	unsigned int mtu; /* dp_vif_set_mtu(): the largest IP packet it is given */

	struct dp_pkt *q_head, *q_tail;
	size_t q_len, q_bytes, q_port_bytes;
	/* Since when the head packet has waited: the last delivery, or the
	 * queue's last time empty. Posting too few slots for the head packet
	 * is no progress, and expiring it is none either. */
	uint64_t head_wait_ms;

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
	 * take in all (pkt_alloc()). */
	struct dp_pkt *idle[DP_BUF_CLASSES];
	size_t idle_bytes;
	dp_disable_cb on_disable;
	void *cb_arg;
	int state_dir; /* the vifs' journals (dp_set_state_dir), or -1 */
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

static const char *const drop_names[DP_DROP_COUNT] = {
    [DP_DROP_TX_BAD_REQ] = "tx_bad_request",
    [DP_DROP_TX_COPY] = "tx_copy_failed",
    [DP_DROP_MALFORMED] = "malformed",
    [DP_DROP_SPOOF_MAC] = "spoofed_mac",
    [DP_DROP_SPOOF_IP] = "spoofed_ip",
    [DP_DROP_SPOOF_ARP] = "spoofed_arp",
    [DP_DROP_GROUP] = "broadcast_multicast",
    [DP_DROP_NO_ROUTE] = "no_route",
    [DP_DROP_PROTO] = "unsupported_protocol",
    [DP_DROP_RXQ_FULL] = "rx_queue_full",
    [DP_DROP_RX_TIMEOUT] = "rx_timeout",
    [DP_DROP_RX_TOO_BIG] = "rx_too_big",
    [DP_DROP_RX_COPY] = "rx_copy_failed",
    [DP_DROP_CARRIER_OFF] = "carrier_off",
    [DP_DROP_NOMEM] = "no_buffer",
    [DP_DROP_LINK_LOCAL] = "link_local",
    [DP_DROP_BAD_GSO] = "bad_gso",
    [DP_DROP_TOO_BIG] = "too_big",
};

const char *dp_drop_name(enum dp_drop d)
{
	return (unsigned int)d < DP_DROP_COUNT ? drop_names[d] : "?";
}

/* ---- packet buffers ------------------------------------------------------ */

/*
 * Buffers are bounded where they are kept (the RX queues' shares, at most
 * DP_RXQ_MAX packets each) rather than here: a TX batch lives for one pass,
 * and anything else is queued or freed within it.
 *
 * They come in three sizes: an MTU-sized frame, a jumbo frame, a GSO packet.
 * A freed buffer is kept on its size's idle list, up to DP_POOL_IDLE_BYTES
 * in all, and taken again by the next packet that fits: once traffic has
 * run for a moment, forwarding calls malloc() no more (`make bench` counts
 * the calls). Beyond that, freed buffers go back to malloc, so a burst does
 * not leave its peak held.
 */
static const uint32_t buf_cap[DP_BUF_CLASSES] = {2048 - sizeof(struct dp_pkt),
						 16384 - sizeof(struct dp_pkt), DP_MAX_FRAME};

static struct dp_pkt *pkt_alloc(struct dp *dp, uint32_t len)
{
	struct dp_pkt *p;
	unsigned int k = 0;

	while (k < DP_BUF_CLASSES - 1 && len > buf_cap[k])
		k++;
	if (len > buf_cap[k])
		return NULL;
	p = dp->idle[k];
	if (p) {
		dp->idle[k] = p->next;
		dp->idle_bytes -= buf_cap[k];
	} else {
		p = malloc(sizeof(*p) + buf_cap[k]);
		if (!p)
			return NULL;
	}
	p->cls = (uint8_t)k;
	p->next = NULL;
	p->len = len;
	p->rx_flags = 0;
	p->gso_size = 0;
	p->gso_type = 0;
	p->from_port = false;
	p->enq_ms = 0;
	dp->pool_bytes += len;
	return p;
}

static void pkt_free(struct dp *dp, struct dp_pkt *p)
{
	uint32_t cap = buf_cap[p->cls];

	dp->pool_bytes -= p->len;
	if (dp->idle_bytes + cap > DP_POOL_IDLE_BYTES) {
		free(p);
		return;
	}
	p->next = dp->idle[p->cls];
	dp->idle[p->cls] = p;
	dp->idle_bytes += cap;
}

/* Shows a frame to the capture tap, if one is set (dp_set_tap). */
static inline void tap(const struct dp *dp, const struct dp_vif *v, bool out,
		       const struct dp_pkt *p)
{
	if (dp->tap.packet)
		dp->tap.packet(dp->tap.arg, v->domid, v->devid, out, p->data, p->len);
}

/* Takes the head packet off v's queue. */
static struct dp_pkt *q_pop(struct dp_vif *v)
{
	struct dp_pkt *p = v->q_head;

	v->q_head = p->next;
	if (!v->q_head)
		v->q_tail = NULL;
	v->q_len--;
	v->q_bytes -= p->len;
	if (p->from_port)
		v->q_port_bytes -= p->len;
	return p;
}

/* ---- setup and teardown -------------------------------------------------- */

struct dp *dp_new(const uint8_t backend_mac[FRAME_ETH_ALEN], dp_disable_cb cb, void *cb_arg)
{
	struct dp *dp = calloc(1, sizeof(*dp));
	int fl;

	if (!dp)
		return NULL;
	memcpy(dp->mac, backend_mac, FRAME_ETH_ALEN);
	dp->on_disable = cb;
	dp->cb_arg = cb_arg;
	dp->state_dir = -1;
	if (ipt_init(&dp->ipt, DP_IPT_MAX) != IPT_OK)
		goto fail;
	dp->gt = xengnttab_open(NULL, 0);
	if (!dp->gt)
		goto fail;
	dp->xce = xenevtchn_open(NULL, 0);
	if (!dp->xce)
		goto fail;
	/* xenevtchn_pending() reads the device: non-blocking, so that
	 * dp_handle_events() can drain every pending port and stop. */
	fl = fcntl(xenevtchn_fd(dp->xce), F_GETFL);
	if (fl < 0 || fcntl(xenevtchn_fd(dp->xce), F_SETFL, fl | O_NONBLOCK) < 0)
		goto fail;
	return dp;
fail:
	dp_free(dp);
	return NULL;
}

void dp_free(struct dp *dp)
{
	if (!dp)
		return;
	while (dp->vifs)
		dp_vif_free(dp, dp->vifs);
	if (dp->xce)
		xenevtchn_close(dp->xce);
	if (dp->gt)
		xengnttab_close(dp->gt);
	ipt_fini(&dp->ipt);
	for (unsigned int k = 0; k < DP_BUF_CLASSES; k++)
		while (dp->idle[k]) {
			struct dp_pkt *p = dp->idle[k];

			dp->idle[k] = p->next;
			free(p);
		}
	free(dp);
}

void dp_set_tap(struct dp *dp, const struct dp_tap_ops *ops)
{
	if (ops)
		dp->tap = *ops;
	else
		memset(&dp->tap, 0, sizeof(dp->tap));
}

void dp_set_state_dir(struct dp *dp, int dirfd)
{
	dp->state_dir = dirfd;
}

int dp_evtchn_fd(const struct dp *dp)
{
	return xenevtchn_fd(dp->xce);
}

struct dp_vif *dp_vif_new(struct dp *dp, uint16_t domid, uint32_t devid,
			  const uint8_t mac[FRAME_ETH_ALEN])
{
	struct dp_vif *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	v->domid = domid;
	v->devid = devid;
	v->mtu = DP_MTU_DEFAULT;
	memcpy(v->mac, mac, FRAME_ETH_ALEN);
	v->next = dp->vifs;
	dp->vifs = v;
	return v;
}

void dp_vif_set_mtu(struct dp_vif *vif, unsigned int mtu)
{
	vif->mtu = mtu;
}

unsigned int dp_vif_mtu(const struct dp_vif *vif)
{
	return vif->mtu;
}

void dp_vif_set_mac(struct dp_vif *vif, const uint8_t mac[FRAME_ETH_ALEN])
{
	memcpy(vif->mac, mac, FRAME_ETH_ALEN);
}

void dp_vif_id(const struct dp_vif *vif, uint16_t *domid, uint32_t *devid)
{
	*domid = vif->domid;
	*devid = vif->devid;
}

const uint8_t *dp_vif_mac(const struct dp_vif *vif)
{
	return vif->mac;
}

static void queue_flush(struct dp *dp, struct dp_vif *v, enum dp_drop why)
{
	while (v->q_head) {
		pkt_free(dp, q_pop(v));
		v->st.drops[why]++;
	}
}

/* Tells both ports that address a was registered to a vif (added) or is no
 * longer (!added). */
static void ports_tell(struct dp *dp, const struct ipnb_addr *a, bool added)
{
	const struct dp_port_ops *ports[] = {&dp->host, &dp->uplink};

	for (size_t i = 0; i < 2; i++) {
		void (*fn)(void *, const struct ipnb_addr *) =
		    added ? ports[i]->announce : ports[i]->withdraw;

		if (fn)
			fn(ports[i]->arg, a);
	}
}

void dp_vif_free(struct dp *dp, struct dp_vif *vif)
{
	struct dp_vif **pp;

	if (dp->tap.gone)
		dp->tap.gone(dp->tap.arg, vif->domid, vif->devid);
	dp_vif_disconnect(dp, vif);
	ipt_del_owner(&dp->ipt, vif);
	for (size_t i = 0; i < vif->naddrs; i++)
		ports_tell(dp, &vif->addrs[i], false);
	if (dp->tx_first == vif)
		dp->tx_first = vif->next;
	for (pp = &dp->vifs; *pp; pp = &(*pp)->next) {
		if (*pp == vif) {
			*pp = vif->next;
			break;
		}
	}
	free(vif);
}

int dp_vif_set_addrs(struct dp *dp, struct dp_vif *vif, const struct ipnb_addr *a, size_t n,
		     size_t *conflict_idx, size_t *nconflict)
{
	size_t nc = 0, nold = vif->naddrs;
	struct ipnb_addr old[IPNB_VIF_MAX_ADDRS];
	int released = 0;

	if (n > IPNB_VIF_MAX_ADDRS)
		n = IPNB_VIF_MAX_ADDRS;
	if (dp->ipt.count - vif->naddrs + n > DP_IPT_MAX)
		return -1;
	memcpy(old, vif->addrs, sizeof(old));
	ipt_del_owner(&dp->ipt, vif);
	vif->naddrs = 0;
	for (size_t i = 0; i < n; i++) {
		int r = ipt_add(&dp->ipt, &a[i], vif, NULL);
		bool known = false;

		if (r != IPT_OK) {
			conflict_idx[nc++] = i;
			continue;
		}
		vif->addrs[vif->naddrs++] = a[i];
		for (size_t j = 0; j < nold; j++)
			known = known || ipnb_addr_equal(&old[j], &a[i]);
		if (!known)
			ports_tell(dp, &a[i], true);
	}
	*nconflict = nc;
	for (size_t j = 0; j < nold; j++) {
		if (ipt_lookup(&dp->ipt, &old[j]) != vif) {
			ports_tell(dp, &old[j], false);
			released++;
		}
	}
	return released;
}

size_t dp_vif_addrs(const struct dp_vif *vif, const struct ipnb_addr **a)
{
	*a = vif->addrs;
	return vif->naddrs;
}

struct dp_vif *dp_addr_owner(const struct dp *dp, const struct ipnb_addr *a)
{
	return ipt_lookup(&dp->ipt, a);
}

bool dp_vif_connected(const struct dp_vif *vif)
{
	return vif->connected;
}

/* The most credit a vif can hold: a whole interval's worth, and never less
 * than the largest packet, or that packet would wait forever. */
static uint64_t credit_cap(const struct dp_vif *v)
{
	return v->rate_bytes > DP_RATE_MIN_BURST ? v->rate_bytes : DP_RATE_MIN_BURST;
}

/* Adds the credit of every interval that has ended by now_us. */
static void credit_refill(struct dp_vif *v, uint64_t now_us)
{
	uint64_t n, cap = credit_cap(v);

	if (now_us < v->credit_next_us)
		return;
	n = (now_us - v->credit_next_us) / v->rate_usec + 1;
	/* n * rate_bytes could overflow after a long idle time: anything
	 * past the cap is the cap. */
	if (n > cap / v->rate_bytes || v->credit + n * v->rate_bytes > cap)
		v->credit = cap;
	else
		v->credit += n * v->rate_bytes;
	v->credit_next_us += n * v->rate_usec;
}

void dp_vif_set_rate(struct dp_vif *vif, uint64_t bytes, uint32_t usec)
{
	if (bytes == 0 || usec == 0) {
		bytes = 0;
		usec = 0;
	}
	if (vif->rate_bytes == bytes && vif->rate_usec == usec)
		return;
	vif->rate_bytes = bytes;
	vif->rate_usec = usec;
	/* A new rate starts with one interval's credit. */
	vif->credit = bytes;
	vif->credit_next_us = ipnb_now_ms() * 1000 + usec;
	if (vif->credit_wait) {
		vif->credit_wait = false;
		vif->tx_pending = vif->connected;
	}
}

bool dp_vif_rate(const struct dp_vif *vif, uint64_t *bytes, uint32_t *usec)
{
	*bytes = vif->rate_bytes;
	*usec = vif->rate_usec;
	return vif->rate_bytes != 0;
}

bool dp_vif_carrier(const struct dp_vif *vif)
{
	return vif->connected && vif->carrier;
}

const struct dp_stats *dp_vif_stats(const struct dp_vif *vif)
{
	return &vif->st;
}

size_t dp_vif_queued(const struct dp_vif *vif)
{
	return vif->q_len;
}

size_t dp_vif_queued_bytes(const struct dp_vif *vif)
{
	return vif->q_bytes;
}

size_t dp_pool_bytes(const struct dp *dp)
{
	return dp->pool_bytes;
}

static void unmap_page(struct dp *dp, void **page)
{
	if (*page) {
		xengnttab_unmap(dp->gt, *page, 1);
		*page = NULL;
	}
}

void dp_vif_disconnect(struct dp *dp, struct dp_vif *v)
{
	if (v->port_tx)
		xenevtchn_unbind(dp->xce, v->port_tx);
	if (v->port_rx && v->port_rx != v->port_tx)
		xenevtchn_unbind(dp->xce, v->port_rx);
	v->port_tx = v->port_rx = 0;
	unmap_page(dp, &v->tx_page);
	unmap_page(dp, &v->rx_page);
	/* Nothing is pending in it between passes: a process that ends
	 * here, even by exiting, leaves nothing for the next one. */
	jr_close(v->jr, true);
	v->jr = NULL;
	queue_flush(dp, v, DP_DROP_CARRIER_OFF);
	v->connected = false;
	v->carrier = false;
	v->tx_pending = false;
	v->rx_pending = false;
	/* Unbinding dropped the ports: nothing is left to unmask. */
	v->eoi_tx = v->eoi_rx = false;
	v->credit_wait = false;
	v->spurious_run = 0;
	v->eoi_at_ms = 0;
}

/*
 * The attach invariant: a frontend may have set up its ring before we map it
 * (even with requests already posted), so we adopt its indexes rather than
 * reinitialising the ring. What it cannot legally have is more outstanding
 * requests than slots, or responses we never produced.
 */
static bool ring_attach_ok(RING_IDX req_prod, RING_IDX rsp_prod, unsigned int size)
{
	return req_prod - rsp_prod <= size;
}

/*
 * Publishing responses. Each pass stages its responses, commits them to the
 * vif's journal, writes them into the ring and publishes rsp_prod, then
 * marks the journal done (journal.h says why). Returns whether the guest
 * asked for an event.
 */
static bool tx_publish(struct dp_vif *v, const netif_tx_response_t *rsp, unsigned int n)
{
	int notify;

	jr_commit(v->jr, JR_TX, v->tx.rsp_prod_pvt, rsp, n);
	for (unsigned int i = 0; i < n; i++)
		*RING_GET_RESPONSE(&v->tx, v->tx.rsp_prod_pvt++) = rsp[i];
	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&v->tx, notify);
	jr_done(v->jr, JR_TX);
	return notify;
}

static bool rx_publish(struct dp_vif *v, const netif_rx_response_t *rsp, unsigned int n)
{
	int notify;

	jr_commit(v->jr, JR_RX, v->rx.rsp_prod_pvt, rsp, n);
	for (unsigned int i = 0; i < n; i++)
		*RING_GET_RESPONSE(&v->rx, v->rx.rsp_prod_pvt++) = rsp[i];
	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&v->rx, notify);
	jr_done(v->jr, JR_RX);
	return notify;
}

/*
 * Where the ring picks up after a restart: rsp_prod, unless the journal of
 * this very connection holds responses a killed process committed for the
 * slots from rsp_prod on. Those slots may already hold them, half written
 * over their requests; they are no requests any more, so they are answered
 * with what was committed, and reading starts after them. A journal that
 * does not fit the ring (its base is not rsp_prod, or it answers slots the
 * guest never filled) is not ours to apply: the guest moved the indexes.
 * Returns how many responses are to be replayed.
 */
static unsigned int journal_replay_count(const struct jr *j, enum jr_ring r, RING_IDX req_prod,
					 RING_IDX rsp_prod, unsigned int size)
{
	RING_IDX base;
	unsigned int n;

	jr_pending(j, r, &base, &n);
	if (n == 0 || base != rsp_prod || n > size || req_prod - base < n || req_prod - base > size)
		return 0;
	return n;
}

/* Maps both rings, replays what the journal holds, and checks the attach
 * invariant. */
static int rings_attach(struct dp *dp, struct dp_vif *v, const struct jr_ident *id, char *err,
			size_t errlen)
{
	netif_tx_sring_t *txs = v->tx_page;
	netif_rx_sring_t *rxs = v->rx_page;
	/* Read the indexes once each: the guest can change them at any time. */
	RING_IDX tq = *(volatile RING_IDX *)&txs->req_prod;
	RING_IDX tr = *(volatile RING_IDX *)&txs->rsp_prod;
	RING_IDX rq = *(volatile RING_IDX *)&rxs->req_prod;
	RING_IDX rr = *(volatile RING_IDX *)&rxs->rsp_prod;
	unsigned int ntx = 0, nrx = 0;

	BACK_RING_ATTACH(&v->tx, txs, tr, XEN_PAGE_SIZE_BYTES);
	BACK_RING_ATTACH(&v->rx, rxs, rr, XEN_PAGE_SIZE_BYTES);
	v->jr = jr_open(dp->state_dir, v->domid, v->devid);
	if (!v->jr) {
		snprintf(err, errlen, "response journal: %s", strerror(errno));
		return -1;
	}
	if (jr_matches(v->jr, id)) {
		ntx = journal_replay_count(v->jr, JR_TX, tq, tr, RING_SIZE(&v->tx));
		nrx = journal_replay_count(v->jr, JR_RX, rq, rr, RING_SIZE(&v->rx));
	}
	if (!ring_attach_ok(tq, tr, RING_SIZE(&v->tx)) ||
	    !ring_attach_ok(rq, rr, RING_SIZE(&v->rx))) {
		snprintf(err, errlen,
			 "rings in an impossible state (tx req %u rsp %u, rx req %u rsp %u)", tq,
			 tr, rq, rr);
		return -1;
	}
	if (ntx) {
		RING_IDX b;
		const void *rsp = jr_pending(v->jr, JR_TX, &b, &ntx);

		/* The entries live in the journal: copy before re-committing. */
		memcpy(dp->txrsp, rsp, ntx * sizeof(dp->txrsp[0]));
		tx_publish(v, dp->txrsp, ntx);
		v->tx.req_cons = v->tx.rsp_prod_pvt;
	}
	if (nrx) {
		RING_IDX b;
		const void *rsp = jr_pending(v->jr, JR_RX, &b, &nrx);

		memcpy(dp->rxrsp, rsp, nrx * sizeof(dp->rxrsp[0]));
		rx_publish(v, dp->rxrsp, nrx);
		v->rx.req_cons = v->rx.rsp_prod_pvt;
	}
	v->st.replayed_responses += ntx + nrx;
	if (ntx + nrx)
		log_info("vif %u/%u: published %u TX and %u RX responses a previous process had "
			 "committed",
			 v->domid, v->devid, ntx, nrx);
	jr_start(v->jr, id);
	v->rx_prod_seen = v->rx.rsp_prod_pvt; /* buffers already posted are news */
	return 0;
}

int dp_vif_connect(struct dp *dp, struct dp_vif *v, const struct dp_vif_cfg *cfg, char *err,
		   size_t errlen)
{
	xenevtchn_port_or_error_t p;
	struct jr_ident id = {cfg->tx_ref, cfg->rx_ref, cfg->evtchn_tx, cfg->evtchn_rx};

	if (v->connected)
		dp_vif_disconnect(dp, v);
	v->cfg = *cfg;
	v->disabled = false;
	v->tx_page = xengnttab_map_grant_ref(dp->gt, v->domid, cfg->tx_ref, PROT_READ | PROT_WRITE);
	if (!v->tx_page) {
		snprintf(err, errlen, "mapping tx-ring-ref %u: %s", cfg->tx_ref, strerror(errno));
		goto fail;
	}
	v->rx_page = xengnttab_map_grant_ref(dp->gt, v->domid, cfg->rx_ref, PROT_READ | PROT_WRITE);
	if (!v->rx_page) {
		snprintf(err, errlen, "mapping rx-ring-ref %u: %s", cfg->rx_ref, strerror(errno));
		goto fail;
	}
	if (rings_attach(dp, v, &id, err, errlen) != 0)
		goto fail;
	p = xenevtchn_bind_interdomain(dp->xce, v->domid, cfg->evtchn_tx);
	if (p < 0) {
		snprintf(err, errlen, "binding event channel %u: %s", cfg->evtchn_tx,
			 strerror(errno));
		goto fail;
	}
	v->port_tx = v->port_rx = (evtchn_port_t)p;
	if (cfg->evtchn_rx != cfg->evtchn_tx) {
		p = xenevtchn_bind_interdomain(dp->xce, v->domid, cfg->evtchn_rx);
		if (p < 0) {
			snprintf(err, errlen, "binding event channel %u: %s", cfg->evtchn_rx,
				 strerror(errno));
			goto fail;
		}
		v->port_rx = (evtchn_port_t)p;
	}
	/* A frontend that was connected to a previous process may be waiting
	 * for responses, or for room, that it was never told about (the old
	 * process died before it notified, or we just published its journal):
	 * an event on each channel makes it look at both rings. On a new
	 * connection it is one harmless spurious event. */
	xenevtchn_notify(dp->xce, v->port_tx);
	if (v->port_rx != v->port_tx)
		xenevtchn_notify(dp->xce, v->port_rx);
	v->connected = true;
	v->carrier = true;
	v->bind_events = v->port_rx != v->port_tx ? 2 : 1;
	v->tx_pending = true; /* requests may already be waiting */
	v->head_wait_ms = ipnb_now_ms();
	return 0;
fail:
	dp_vif_disconnect(dp, v);
	return -1;
}

/* Stops all ring processing for a guest that broke the protocol. */
static void vif_disable(struct dp *dp, struct dp_vif *v, const char *why)
{
	if (v->disabled)
		return;
	v->disabled = true;
	log_warnx("vif %u/%u disabled: %s", v->domid, v->devid, why);
	dp_vif_disconnect(dp, v);
	if (dp->on_disable)
		dp->on_disable(dp->cb_arg, v, why);
}

/* The per-pass ring check: a frontend can never have more requests
 * outstanding than the ring has slots. Disables the vif if it claims to. */
static bool ring_prod_sane(struct dp *dp, struct dp_vif *v, const char *ring, RING_IDX prod,
			   RING_IDX cons, unsigned int size)
{
	char why[96];

	if (prod - cons <= size)
		return true;
	snprintf(why, sizeof(why), "%s producer index %u is %u slots ahead of us", ring, prod,
		 prod - cons);
	vif_disable(dp, v, why);
	return false;
}

/* ---- RX queue ------------------------------------------------------------ */

static void vif_rx(struct dp *dp, struct dp_vif *v);

static bool q_full(const struct dp_vif *dst, const struct dp_pkt *p)
{
	return dst->q_len >= DP_RXQ_MAX || p->len > DP_RXQ_BYTES - dst->q_bytes ||
	       (p->from_port && p->len > DP_RXQ_PORT_BYTES - dst->q_port_bytes);
}

/* Queues p on dst, within dst's share, or drops and counts it there; says
 * which. A full queue whose vif has buffers posted is first moved into
 * them: one TX batch of 64 KiB GSO packets is more than the 512 KiB share,
 * and a receiver ready for it should not lose half of it. Called only
 * between grant copies, when the shared scratch (segs) is free. */
static bool vif_enqueue(struct dp *dp, struct dp_vif *dst, struct dp_pkt *p)
{
	enum dp_drop why;

	if (dst->connected && dst->carrier && q_full(dst, p))
		vif_rx(dp, dst);
	if (!dst->connected)
		why = DP_DROP_NO_ROUTE;
	else if (!dst->carrier)
		why = DP_DROP_CARRIER_OFF;
	else if (q_full(dst, p))
		why = DP_DROP_RXQ_FULL;
	else {
		p->enq_ms = dp->clock_ms;
		p->next = NULL;
		if (dst->q_tail) {
			dst->q_tail->next = p;
		} else {
			dst->q_head = p;
			dst->head_wait_ms = dp->clock_ms;
		}
		dst->q_tail = p;
		dst->q_len++;
		dst->q_bytes += p->len;
		if (p->from_port)
			dst->q_port_bytes += p->len;
		return true;
	}
	dst->st.drops[why]++;
	pkt_free(dp, p);
	return false;
}

/* ---- switching ----------------------------------------------------------- */

static bool vif_owns(const struct dp *dp, const struct dp_vif *v, const struct ipnb_addr *a)
{
	return ipt_lookup(&dp->ipt, a) == v;
}

static void reply(struct dp *dp, struct dp_vif *v, const uint8_t *frame, size_t len)
{
	struct dp_pkt *r = pkt_alloc(dp, (uint32_t)len);

	if (!r) {
		v->st.drops[DP_DROP_NOMEM]++;
		return;
	}
	memcpy(r->data, frame, len);
	r->rx_flags = NETRXF_data_validated;
	vif_enqueue(dp, v, r);
}

/* ARP from a guest. Answers requests for every address except the guest's
 * own with the backend MAC (the backend is every guest's only neighbour).
 * Requests for its own addresses are duplicate-address probes or
 * announcements, and answering them would make the guest think its address
 * is taken. */
static void switch_arp(struct dp *dp, struct dp_vif *v, const struct frame_info *fi)
{
	uint8_t out[FRAME_MIN_LEN];
	bool probe = ipnb_addr_is_unspecified(&fi->src);

	if (!probe && !vif_owns(dp, v, &fi->src)) {
		v->st.drops[DP_DROP_SPOOF_ARP]++;
		return;
	}
	if (fi->arp_op != FRAME_ARP_REQUEST || vif_owns(dp, v, &fi->dst)) {
		v->st.drops[DP_DROP_GROUP]++;
		return;
	}
	/* A probe for an address someone else holds must learn it is taken;
	 * a probe for a free address must not be told otherwise. */
	if (probe && !ipt_lookup(&dp->ipt, &fi->dst)) {
		v->st.drops[DP_DROP_GROUP]++;
		return;
	}
	frame_build_arp_reply(out, fi, dp->mac);
	reply(dp, v, out, sizeof(out));
	v->st.arp_replies++;
}

/* Neighbour solicitations get the same treatment as ARP requests. Other
 * ICMPv6 ND/MLD traffic is link-local housekeeping with nobody to talk to. */
static bool switch_nd(struct dp *dp, struct dp_vif *v, const struct frame_info *fi)
{
	uint8_t out[FRAME_NA_LEN];

	if (fi->l4_proto != IPPROTO_ICMPV6 || fi->ip_fragment)
		return false;
	if (fi->icmp6_type != FRAME_ICMP6_NS) {
		if (fi->icmp6_type >= DP_ICMP6_LINK_FIRST && fi->icmp6_type <= DP_ICMP6_LINK_LAST) {
			v->st.drops[DP_DROP_GROUP]++;
			return true;
		}
		return false;
	}
	if (vif_owns(dp, v, &fi->nd_target) ||
	    (ipnb_addr_is_unspecified(&fi->src) && !ipt_lookup(&dp->ipt, &fi->nd_target))) {
		v->st.drops[DP_DROP_GROUP]++;
		return true;
	}
	frame_build_na(out, fi, dp->mac, false);
	reply(dp, v, out, sizeof(out));
	v->st.na_replies++;
	return true;
}

/* Whether dst takes a blank checksum for this IP family. */
static bool csum_blank_ok(const struct dp_vif *dst, const struct frame_info *fi)
{
	return fi->kind == FRAME_IPV6 ? dst->cfg.rx_ipv6_csum_offload : dst->cfg.rx_csum_offload;
}

/* Whether dst takes a GSO packet of this type whole: netfront needs
 * scatter-gather for its slots and checksum offload for its blank sum. */
static bool gso_ok(const struct dp_vif *dst, const struct frame_info *fi, const struct gso_pkt *g)
{
	bool type_ok =
	    g->type == XEN_NETIF_GSO_TYPE_TCPV4 ? dst->cfg.rx_gso_tcpv4 : dst->cfg.rx_gso_tcpv6;

	return type_ok && dst->cfg.rx_sg && csum_blank_ok(dst, fi);
}

/* Decides the RX flags for delivering p to dst, completing a blank checksum
 * if dst cannot take it blank. Returns false if the packet must be dropped. */
static bool csum_for(struct dp_vif *dst, struct dp_pkt *p, uint16_t tx_flags,
		     const struct frame_info *fi)
{
	p->rx_flags = 0;
	if (tx_flags & NETTXF_csum_blank) {
		if (csum_blank_ok(dst, fi)) {
			p->rx_flags = NETRXF_csum_blank | NETRXF_data_validated;
			return true;
		}
		if (frame_csum_complete(p->data, p->len, fi) != FRAME_OK)
			return false;
		p->rx_flags = NETRXF_data_validated;
	} else if (tx_flags & NETTXF_data_validated) {
		p->rx_flags = NETRXF_data_validated;
	}
	return true;
}

/*
 * dst's MTU (dp_vif_set_mtu()) for a packet of len bytes, from the guest
 * src or (src NULL) from a port: what a bridge port with that MTU passes.
 * A GSO packet whose segments would not fit gets smaller ones (*g recut:
 * TCP takes segments of any size). Any other packet above it is dropped
 * and counted on dst; a guest that sent it is first told, as the uplink
 * tells it (pmtu.h), so that its path MTU discovery learns the MTU. An
 * IPv4 datagram without DF is not cut into fragments for a guest: Linux's
 * bridge does not do that either. Returns true if the packet was dropped.
 */
static bool vif_too_big(struct dp *dp, struct dp_vif *src, struct dp_vif *dst, const uint8_t *data,
			size_t len, const struct frame_info *fi, struct gso_pkt *g)
{
	uint8_t icmp[PMTU_ICMP_MAX];

	if (g) {
		size_t seg_hdrs = g->hdr_len - fi->l3_off;

		if (seg_hdrs + g->mss <= dst->mtu ||
		    (dst->mtu > seg_hdrs && gso_set_mss(g, dst->mtu - seg_hdrs)))
			return false;
	} else {
		size_t ip_len = len - fi->l3_off;

		if (ip_len <= dst->mtu)
			return false;
		if (src && pmtu_decide(data, len, fi, ip_len, dst->mtu) == PMTU_ICMP) {
			reply(dp, src, icmp,
			      pmtu_build_icmp(icmp, data, len, fi, dst->mtu, dp->mac));
			src->st.icmp_too_big++;
		}
	}
	dst->st.drops[DP_DROP_RX_TOO_BIG]++;
	return true;
}

/*
 * A GSO packet for a vif that takes no GSO: cut into segments in software,
 * each in its own buffer with a checksum the vif can take (blank if it
 * accepts that, else complete), queued one by one so that its share
 * counts each. *segs counts the segments made. Returns whether any was
 * queued.
 */
static bool gso_to_vif(struct dp *dp, struct dp_vif *dst, const struct dp_pkt *p,
		       const struct frame_info *fi, const struct gso_pkt *g, uint64_t *segs)
{
	bool partial = csum_blank_ok(dst, fi), any = false;

	for (unsigned int k = 0; k < g->nsegs; k++) {
		struct dp_pkt *q = pkt_alloc(dp, (uint32_t)gso_seg_len(g, k));

		if (!q) {
			dst->st.drops[DP_DROP_NOMEM]++;
			continue;
		}
		gso_segment(p->data, fi, g, k, partial, q->data);
		q->rx_flags =
		    partial ? NETRXF_csum_blank | NETRXF_data_validated : NETRXF_data_validated;
		q->from_port = p->from_port;
		frame_set_l2(q->data, dst->mac, dp->mac);
		(*segs)++;
		any |= vif_enqueue(dp, dst, q);
	}
	return any;
}

/* What a port without offloads is told of a packet: nothing. */
static const struct ipnb_offload no_offload;

/*
 * The egress MTU (pmtu.h) for p, a packet from v offered to a port with
 * one. Returns true if it dealt with p: an ICMP error queued back to v,
 * IPv4 fragments sent, or a drop counted. Returns false to send p as
 * usual, *g possibly pointing at a recut copy (in *resized) when a GSO
 * packet without DF needs smaller segments: TCP takes segments of any
 * size, so no fragments are needed for those.
 */
static bool port_too_big(struct dp *dp, struct dp_vif *v, const struct dp_port_ops *port,
			 struct dp_pkt *p, const struct frame_info *fi, struct ipnb_offload *o,
			 const struct gso_pkt **g, struct gso_pkt *resized)
{
	/* A segment's IP and TCP headers: what each segment carries besides
	 * its share of the payload. */
	size_t seg_hdrs = *g ? (*g)->hdr_len - fi->l3_off : 0;
	size_t ip_len = *g ? seg_hdrs + (*g)->mss : p->len - fi->l3_off;
	uint8_t icmp[PMTU_ICMP_MAX];
	struct pmtu_frag f;

	switch (pmtu_decide(p->data, p->len, fi, ip_len, port->mtu)) {
	case PMTU_FITS:
		return false;
	case PMTU_ICMP:
		reply(dp, v, icmp, pmtu_build_icmp(icmp, p->data, p->len, fi, port->mtu, dp->mac));
		v->st.icmp_too_big++;
		return true;
	case PMTU_FRAGMENT:
		if (*g) {
			*resized = **g;
			if (port->mtu <= seg_hdrs || !gso_set_mss(resized, port->mtu - seg_hdrs))
				break;
			*g = resized;
			o->gso_size = resized->mss;
			return false;
		}
		/* Fragments cannot carry the datagram's checksum: complete it
		 * first (switch_pkt() checked that it can be). */
		if (p->len > sizeof(dp->seg) ||
		    !pmtu_frag_plan(p->data, p->len, fi, port->mtu, &f) ||
		    (o->csum_blank && frame_csum_complete(p->data, p->len, fi) != FRAME_OK))
			break;
		o->csum_blank = false;
		for (unsigned int k = 0; k < f.nfrags; k++) {
			size_t len = pmtu_frag_build(p->data, &f, k, dp->seg);
			struct frame_info ffi;

			/* Cannot fail: the fragment's headers are the packet's. */
			(void)frame_parse(dp->seg, len, &ffi);
			if (port->output(port->arg, dp->seg, len, &ffi, &no_offload))
				v->st.ip_fragments++;
		}
		return true;
	case PMTU_DROP:
		break;
	}
	v->st.drops[DP_DROP_TOO_BIG]++;
	return true;
}

/*
 * Offers p, a packet from v, to one port. A port with offloads gets it as
 * it is; any other gets MTU-sized segments of a GSO packet, each with a
 * complete checksum, or the packet with its checksum completed (which then
 * stays complete for the next port).
 */
static bool port_try(struct dp *dp, struct dp_vif *v, const struct dp_port_ops *port,
		     struct dp_pkt *p, const struct frame_info *fi, struct ipnb_offload *o,
		     const struct gso_pkt *g)
{
	struct gso_pkt resized;
	bool any = false;

	if (!port->output)
		return false;
	if (port->mtu && port_too_big(dp, v, port, p, fi, o, &g, &resized))
		return true;
	if (port->offload)
		return port->output(port->arg, p->data, p->len, fi, o);
	if (!g) {
		if (o->csum_blank) {
			/* Cannot fail: switch_pkt() checked it. */
			if (frame_csum_complete(p->data, p->len, fi) != FRAME_OK)
				return false;
			o->csum_blank = false;
		}
		return port->output(port->arg, p->data, p->len, fi, &no_offload);
	}
	for (unsigned int k = 0; k < g->nsegs; k++) {
		size_t len = gso_segment(p->data, fi, g, k, false, dp->seg);
		struct frame_info sfi;

		/* Cannot fail: the segment's headers are the packet's. */
		(void)frame_parse(dp->seg, len, &sfi);
		if (port->output(port->arg, dp->seg, len, &sfi, &no_offload)) {
			v->st.gso_segments++;
			any = true;
		}
	}
	return any;
}

/* One packet from vif v, now in backend memory, with its GSO request if it
 * made one. Consumes p. */
static void switch_pkt(struct dp *dp, struct dp_vif *v, struct dp_pkt *p, uint16_t tx_flags,
		       const netif_extra_info_t *gso)
{
	struct ipnb_offload o = {.csum_blank = (tx_flags & NETTXF_csum_blank) != 0,
				 .data_valid = (tx_flags & NETTXF_data_validated) != 0};
	struct frame_info fi;
	struct gso_pkt g;
	struct dp_vif *dst;
	enum dp_drop why;

	if (frame_parse(p->data, p->len, &fi) != FRAME_OK) {
		why = DP_DROP_MALFORMED;
		goto drop;
	}
	if (memcmp(fi.eth_src, v->mac, FRAME_ETH_ALEN) != 0) {
		why = DP_DROP_SPOOF_MAC;
		goto drop;
	}
	if (gso) {
		/* txreq_collect() refused a zero size or an unknown type (the
		 * fatal cases, as in Linux); what is left to check needs the
		 * headers, and a mismatch only drops, as Linux drops a packet
		 * whose headers it cannot set up. */
		if (gso_check(p->data, p->len, &fi, gso->u.gso.type, gso->u.gso.size, &g) !=
		    GSO_OK) {
			why = DP_DROP_BAD_GSO;
			goto drop;
		}
		/* A GSO packet's checksum is partial by definition: Linux
		 * netback fixes up one sent without csum_blank the same way.
		 * The sum is set here, from the checked headers, whatever the
		 * guest left in the field. */
		(void)frame_csum_partial(p->data, p->len, &fi);
		tx_flags |= NETTXF_csum_blank;
		o.csum_blank = true;
		v->st.tx_gso_pkts++;
	}
	switch (fi.kind) {
	case FRAME_ARP:
		switch_arp(dp, v, &fi);
		pkt_free(dp, p);
		return;
	case FRAME_IPV6:
		/* Link-local and unspecified sources are only good for ND with
		 * the backend itself. */
		if ((ipnb_addr_is_link_local(&fi.src) || ipnb_addr_is_unspecified(&fi.src)) &&
		    switch_nd(dp, v, &fi)) {
			pkt_free(dp, p);
			return;
		}
		if (!vif_owns(dp, v, &fi.src)) {
			why = DP_DROP_SPOOF_IP;
			goto drop;
		}
		if (switch_nd(dp, v, &fi)) {
			pkt_free(dp, p);
			return;
		}
		break;
	case FRAME_IPV4:
		if (!vif_owns(dp, v, &fi.src)) {
			why = DP_DROP_SPOOF_IP;
			goto drop;
		}
		break;
	default:
		why = DP_DROP_PROTO;
		goto drop;
	}

	dst = ipt_lookup(&dp->ipt, &fi.dst);
	if (!dst) {
		if (fi.dst_is_group || (fi.kind == FRAME_IPV4 && fi.dst.bytes[0] >= 224) ||
		    (fi.kind == FRAME_IPV6 && fi.dst.bytes[0] == 0xff)) {
			why = DP_DROP_GROUP;
			goto drop;
		}
		/* A link-local destination is on this link only (threat 29):
		 * a vif that holds that very address got it above, and no
		 * port may take it, neither dom0's stack nor the LAN. */
		if (ipnb_addr_is_link_local(&fi.dst)) {
			why = DP_DROP_LINK_LOCAL;
			goto drop;
		}
		why = DP_DROP_NO_ROUTE;
		if (!dp->host.output && !dp->uplink.output)
			goto drop;
		if (gso) {
			o.gso_size = g.mss;
			o.gso_type = g.type;
			o.gso_hdr_len = (uint16_t)g.hdr_len;
		} else if (o.csum_blank && frame_csum_check(p->data, p->len, &fi) != FRAME_OK) {
			/* Checked here, not left to the port: a port with
			 * offloads gets the packet blank. */
			why = DP_DROP_MALFORMED;
			goto drop;
		}
		/* dom0's stack takes what is addressed to itself, the NIC the
		 * rest. */
		if (port_try(dp, v, &dp->host, p, &fi, &o, gso ? &g : NULL) ||
		    port_try(dp, v, &dp->uplink, p, &fi, &o, gso ? &g : NULL)) {
			pkt_free(dp, p);
			return;
		}
		goto drop;
	}
	if (vif_too_big(dp, v, dst, p->data, p->len, &fi, gso ? &g : NULL)) {
		pkt_free(dp, p);
		return;
	}
	if (gso && !gso_ok(dst, &fi, &g)) {
		/* Each segment was counted where it went. */
		gso_to_vif(dp, dst, p, &fi, &g, &v->st.gso_segments);
		pkt_free(dp, p);
		return;
	}
	if (gso) {
		p->gso_size = g.mss;
		p->gso_type = g.type;
	}
	if (!csum_for(dst, p, tx_flags, &fi)) {
		why = DP_DROP_MALFORMED;
		goto drop;
	}
	frame_set_l2(p->data, dst->mac, dp->mac);
	vif_enqueue(dp, dst, p);
	return;
drop:
	v->st.drops[why]++;
	pkt_free(dp, p);
}

/* ---- TX ------------------------------------------------------------------ */

/* Stages a response for this pass's tx_publish(). A pass consumes at most a
 * ring of slots, and each slot gets one response. */
static void tx_respond(struct dp *dp, uint16_t id, int16_t status)
{
	if (dp->ntxrsp < JR_MAX_RSP)
		dp->txrsp[dp->ntxrsp++] = (netif_tx_response_t){.id = id, .status = status};
}

/* Answers every slot one packet consumed, in ring order: data slots echo
 * their id, extra-info slots get NETIF_RSP_NULL. */
static void tx_respond_pkt(struct dp *dp, const struct txreq_pkt *t, int16_t status)
{
	unsigned int e = 0, f = 0;

	for (unsigned int pos = 0; pos < t->consumed; pos++) {
		if (e < t->nextras && t->extra_pos[e] == pos) {
			tx_respond(dp, 0, NETIF_RSP_NULL);
			e++;
		} else if (pos == 0) {
			tx_respond(dp, t->first.id, status);
		} else {
			f++;
			tx_respond(dp, t->frags[f].id, status);
		}
	}
}

/* One TX pass over vif v: up to DP_TX_BATCH packets. */
static void vif_tx(struct dp *dp, struct dp_vif *v)
{
	RING_IDX prod, cons;
	unsigned int n = 0, nseg = 0;
	int more;

	if (!v->connected)
		return;
	v->tx_pending = false;
	prod = *(volatile RING_IDX *)&v->tx.sring->req_prod;
	xen_rmb(); /* see the requests the producer index covers */
	cons = v->tx.req_cons;
	if (!ring_prod_sane(dp, v, "TX", prod, cons, RING_SIZE(&v->tx)))
		return;

	while (cons != prod && n < DP_TX_BATCH) {
		struct txreq_pkt *t = &dp->txp[n];
		enum txreq_verdict vd = txreq_collect(&v->tx, cons, prod, true, t);
		struct dp_pkt *p = NULL;

		if (vd == TXREQ_FATAL) {
			char why[96];

			snprintf(why, sizeof(why), "TX request at %u: %s", cons,
				 txreq_reason_name(t->reason));
			/* Nothing more is answered on a disabled vif; drop the
			 * batch collected so far. */
			for (unsigned int i = 0; i < n; i++)
				if (dp->batch[i])
					pkt_free(dp, dp->batch[i]);
			vif_disable(dp, v, why);
			return;
		}
		if (vd == TXREQ_OK && v->rate_bytes) {
			/* Out of credit: the packet stays on the ring, unread
			 * as far as the guest can tell, until the refill. */
			credit_refill(v, dp->clock_ms * 1000);
			if (t->total > v->credit) {
				v->credit_wait = true;
				v->st.tx_credit_waits++;
				break;
			}
			v->credit -= t->total;
		}
		cons += t->consumed;
		if (vd == TXREQ_OK) {
			p = pkt_alloc(dp, t->total);
			if (!p)
				v->st.drops[DP_DROP_NOMEM]++;
		} else {
			v->st.drops[DP_DROP_TX_BAD_REQ]++;
		}
		dp->batch[n] = p;
		dp->batch_segs[n] = 0;
		if (p) {
			uint32_t off = 0;

			/* Every slot, not only the first 128 bytes, goes into
			 * the one buffer: headers split over many tiny slots
			 * arrive whole, and frame_parse() sees the frame as
			 * frame.h requires. */
			for (unsigned int i = 0; i < t->nfrags; i++) {
				xengnttab_grant_copy_segment_t *s = &dp->segs[nseg];

				/* An empty slot has nothing to copy, and its grant
				 * is not even looked at (XSA-448). */
				if (t->frags[i].size == 0)
					continue;
				s->source.foreign.ref = t->frags[i].gref;
				s->source.foreign.offset = t->frags[i].offset;
				s->source.foreign.domid = v->domid;
				s->dest.virt = p->data + off;
				s->len = t->frags[i].size;
				s->flags = GNTCOPY_source_gref;
				s->status = GNTST_general_error;
				off += t->frags[i].size;
				nseg++;
				dp->batch_segs[n]++;
			}
		}
		n++;
	}
	v->tx.req_cons = cons;
	if (n == 0)
		goto done;

	if (nseg && xengnttab_grant_copy(dp->gt, nseg, dp->segs) != 0) {
		/* The whole batch failed: mark every segment so each packet is
		 * answered with an error below. */
		for (unsigned int i = 0; i < nseg; i++)
			dp->segs[i].status = GNTST_general_error;
	}

	/* Answer the guest before switching: its buffers are free once the
	 * data is in ours. */
	nseg = 0;
	dp->ntxrsp = 0;
	for (unsigned int i = 0; i < n; i++) {
		struct txreq_pkt *t = &dp->txp[i];
		int16_t status = dp->batch[i] ? NETIF_RSP_OKAY : NETIF_RSP_ERROR;

		for (unsigned int s = 0; s < dp->batch_segs[i]; s++)
			if (dp->segs[nseg + s].status != GNTST_okay)
				status = NETIF_RSP_ERROR;
		nseg += dp->batch_segs[i];
		if (dp->batch[i] && status != NETIF_RSP_OKAY) {
			v->st.drops[DP_DROP_TX_COPY]++;
			pkt_free(dp, dp->batch[i]);
			dp->batch[i] = NULL;
		}
		tx_respond_pkt(dp, t, status);
	}
	if (tx_publish(v, dp->txrsp, dp->ntxrsp))
		xenevtchn_notify(dp->xce, v->port_tx);

	for (unsigned int i = 0; i < n; i++) {
		if (!dp->batch[i])
			continue;
		v->st.tx_pkts++;
		v->st.tx_bytes += dp->batch[i]->len;
		tap(dp, v, false, dp->batch[i]);
		switch_pkt(dp, v, dp->batch[i], dp->txp[i].first.flags,
			   dp->txp[i].has_gso ? &dp->txp[i].gso : NULL);
	}
done:
	/* Sets req_event so the next request kicks us, then looks again in
	 * case one arrived before req_event was visible. */
	RING_FINAL_CHECK_FOR_REQUESTS(&v->tx, more);
	if (more && !v->credit_wait)
		v->tx_pending = true;
}

/* ---- RX ------------------------------------------------------------------ */

static void vif_rx_expire(struct dp *dp, struct dp_vif *v, uint64_t now)
{
	bool waiting = v->q_head != NULL;

	/* Ages are computed only forward in time (now >= stamp). */
	while (v->q_head && now >= v->q_head->enq_ms &&
	       now - v->q_head->enq_ms > DP_RXQ_TIMEOUT_MS) {
		pkt_free(dp, q_pop(v));
		v->st.drops[DP_DROP_RX_TIMEOUT]++;
	}
	/* A stall is a head packet that cannot be delivered, however many
	 * slots the guest posts: one buffer posted by a feature-sg frontend
	 * flooded with two-slot packets is still a stall (threat 28). A
	 * frontend that never kicks for RX buffers is polled instead, and
	 * keeps its carrier, as in Linux. */
	if (waiting && v->carrier && v->cfg.rx_notify && now >= v->head_wait_ms &&
	    now - v->head_wait_ms > DP_STALL_MS) {
		log_info("vif %u/%u: head packet undeliverable for %u s, carrier off", v->domid,
			 v->devid, DP_STALL_MS / 1000);
		v->carrier = false;
		queue_flush(dp, v, DP_DROP_CARRIER_OFF);
	}
}

/* Data slots p takes on v's RX ring, or 0 if v cannot take it. */
static unsigned int rx_data_slots(const struct dp_vif *v, const struct dp_pkt *p)
{
	unsigned int n = (p->len + XEN_PAGE_SIZE_BYTES - 1) / XEN_PAGE_SIZE_BYTES;

	if (n == 0)
		n = 1;
	if (n > 1 && (!v->cfg.rx_sg || n > DP_RX_MAX_SLOTS))
		return 0;
	return n;
}

/* Requests p consumes: its data slots and, for a GSO packet, the extra. */
static unsigned int rx_slots_needed(const struct dp_vif *v, const struct dp_pkt *p)
{
	unsigned int n = rx_data_slots(v, p);

	return n && p->gso_size ? n + 1 : n;
}

/* Slots a vif whose carrier is off must post to get it back: enough for the
 * largest packet it can take, or it would only stall again. */
static unsigned int rx_carrier_slots(const struct dp_vif *v)
{
	return v->cfg.rx_sg ? DP_RX_MAX_SLOTS : 1;
}

/* The GSO extra for p, in the response slot after its first (netif.h:
 * an extra-info response takes the place of a request like any other). */
static void rx_gso_extra(netif_rx_response_t *r, const struct dp_pkt *p)
{
	netif_extra_info_t ex;

	_Static_assert(sizeof(ex) == sizeof(*r), "an extra fills one response slot");
	memset(&ex, 0, sizeof(ex));
	ex.type = XEN_NETIF_EXTRA_TYPE_GSO;
	ex.u.gso.size = p->gso_size;
	ex.u.gso.type = p->gso_type;
	memcpy(r, &ex, sizeof(ex));
}

/* One RX pass: moves queued packets into buffers the guest posted. */
static void vif_rx(struct dp *dp, struct dp_vif *v)
{
	/* Each packet taken: where its segments and responses start. */
	struct rx_done {
		struct dp_pkt *p;
		unsigned int seg, rsp, nrsp;
	} done[DP_RX_BATCH];
	unsigned int nd = 0, nseg = 0, nrsp = 0;
	RING_IDX prod, cons;

	if (!v->connected)
		return;
	prod = *(volatile RING_IDX *)&v->rx.sring->req_prod;
	xen_rmb();
	cons = v->rx.req_cons;
	v->rx_prod_seen = prod;
	if (!ring_prod_sane(dp, v, "RX", prod, cons, RING_SIZE(&v->rx)))
		return;
	if (!v->carrier && prod - cons >= rx_carrier_slots(v)) {
		log_info("vif %u/%u: RX buffers posted again, carrier on", v->domid, v->devid);
		v->carrier = true;
	}

	while (v->q_head && nd < DP_RX_BATCH) {
		struct dp_pkt *p = v->q_head;
		unsigned int need = rx_slots_needed(v, p), ndata = rx_data_slots(v, p), data = 0;
		uint32_t off = 0;

		if (need == 0) {
			pkt_free(dp, q_pop(v));
			v->st.drops[DP_DROP_RX_TOO_BIG]++;
			continue;
		}
		if (prod - cons < need)
			break;
		q_pop(v);
		v->head_wait_ms = dp->clock_ms;
		done[nd] = (struct rx_done){.p = p, .seg = nseg, .rsp = nrsp, .nrsp = need};
		for (unsigned int i = 0; i < need; i++) {
			netif_rx_request_t req;
			netif_rx_response_t *r = &dp->rxrsp[nrsp++];
			xengnttab_grant_copy_segment_t *s;
			uint32_t chunk = p->len - off;

			RING_COPY_REQUEST(&v->rx, cons, &req);
			cons++;
			if (i == 1 && p->gso_size) {
				rx_gso_extra(r, p);
				continue;
			}
			if (chunk > XEN_PAGE_SIZE_BYTES)
				chunk = XEN_PAGE_SIZE_BYTES;
			s = &dp->segs[nseg++];
			s->source.virt = p->data + off;
			s->dest.foreign.ref = req.gref;
			s->dest.foreign.offset = 0;
			s->dest.foreign.domid = v->domid;
			s->len = (uint16_t)chunk;
			s->flags = GNTCOPY_dest_gref;
			s->status = GNTST_general_error;
			/* Build the whole response here so that no byte of it
			 * comes from uninitialised memory. */
			memset(r, 0, sizeof(*r));
			r->id = req.id;
			r->offset = 0;
			/* more_data says more data follows: the extra is not
			 * data, and a one-slot GSO packet has none after it. */
			r->flags = ++data < ndata ? NETRXF_more_data : 0;
			if (i == 0)
				r->flags |= p->rx_flags | (p->gso_size ? NETRXF_extra_info : 0);
			r->status = (int16_t)chunk;
			off += chunk;
		}
		nd++;
	}
	v->rx.req_cons = cons;
	if (nd == 0)
		goto wait;

	if (xengnttab_grant_copy(dp->gt, nseg, dp->segs) != 0)
		for (unsigned int i = 0; i < nseg; i++)
			dp->segs[i].status = GNTST_general_error;

	/* Responses go out in request order, so response k lands in the slot
	 * of the request it consumed. */
	for (unsigned int i = 0; i < nd; i++) {
		const struct rx_done *d = &done[i];
		unsigned int ndata = d->nrsp - (d->p->gso_size ? 1 : 0);
		bool ok = true;

		for (unsigned int s = 0; s < ndata; s++)
			if (dp->segs[d->seg + s].status != GNTST_okay)
				ok = false;
		/* A failed packet's data slots say so; its extra stays as
		 * it is, an extra. */
		for (unsigned int r = 0; !ok && r < d->nrsp; r++)
			if (!(r == 1 && d->p->gso_size))
				dp->rxrsp[d->rsp + r].status = NETIF_RSP_ERROR;
		if (ok) {
			v->st.rx_pkts++;
			v->st.rx_bytes += d->p->len;
			if (d->p->gso_size)
				v->st.rx_gso_pkts++;
			tap(dp, v, true, d->p);
		} else {
			v->st.drops[DP_DROP_RX_COPY]++;
		}
		pkt_free(dp, d->p);
	}
	if (rx_publish(v, dp->rxrsp, nrsp))
		xenevtchn_notify(dp->xce, v->port_rx);
wait:
	if (v->q_head || !v->carrier) {
		/* Out of buffers for the head packet: ask for a kick once the
		 * guest has posted as many as it needs, then look once more in
		 * case it already did. Fewer than that is no work: going round
		 * again would spin until the guest posts. */
		unsigned int need = v->q_head ? rx_slots_needed(v, v->q_head) : rx_carrier_slots(v);

		if (need == 0)
			need = 1;
		v->rx.sring->req_event = v->rx.req_cons + need;
		xen_mb();
		if (*(volatile RING_IDX *)&v->rx.sring->req_prod - v->rx.req_cons >= need)
			v->rx_pending = true; /* run another round */
	}
}

/* ---- events and scheduling ----------------------------------------------- */

/* The unmask delay after `run` kicks in a row that brought no work: none for
 * the first two (a kick can race with a pass that already did its work),
 * then 1 ms, doubling up to DP_EOI_DELAY_MAX_MS. */
static uint64_t eoi_delay_ms(unsigned int run)
{
	if (run <= 2)
		return 0;
	if (run - 3 >= 6)
		return DP_EOI_DELAY_MAX_MS;
	return (uint64_t)1 << (run - 3);
}

/* A kick on one of v's ports: note the work, keep the port masked, and
 * judge whether the kick brought anything. The indexes are only looked at
 * here; the passes read and check them again. */
static void vif_kicked(struct dp_vif *v, evtchn_port_t port)
{
	bool useful = false;

	if (port == v->port_tx) {
		/* Requests that wait for rate credit are no news. */
		v->tx_pending = !v->credit_wait;
		v->eoi_tx = true;
		useful = !v->credit_wait &&
			 *(volatile RING_IDX *)&v->tx.sring->req_prod != v->tx.req_cons;
	}
	if (port == v->port_rx) {
		RING_IDX prod = *(volatile RING_IDX *)&v->rx.sring->req_prod;

		v->rx_pending = true;
		v->eoi_rx = port != v->port_tx;
		useful = useful || prod != v->rx_prod_seen;
		v->rx_prod_seen = prod;
	}
	if (v->bind_events) {
		v->bind_events--;
		useful = true;
	}
	if (useful) {
		v->spurious_run = 0;
		v->eoi_at_ms = 0;
	} else {
		v->st.spurious_events++;
		v->spurious_run++;
		v->eoi_at_ms = ipnb_now_ms() + eoi_delay_ms(v->spurious_run);
	}
}

void dp_handle_events(struct dp *dp)
{
	xenevtchn_port_or_error_t port;

	/* Each read returns one pending port, which stays masked until we
	 * unmask it: dp_run() does, once that vif's work is done. */
	while ((port = xenevtchn_pending(dp->xce)) >= 0) {
		bool known = false;

		for (struct dp_vif *v = dp->vifs; v; v = v->next) {
			if (v->connected && ((evtchn_port_t)port == v->port_tx ||
					     (evtchn_port_t)port == v->port_rx)) {
				vif_kicked(v, (evtchn_port_t)port);
				known = true;
			}
		}
		if (!known)
			xenevtchn_unmask(dp->xce, (evtchn_port_t)port);
	}
}

/* Unmasks v's kicked ports once its work is done and any backoff is over.
 * Returns how long (ms) until that is due, or 0 if nothing waits. */
static uint64_t vif_eoi(struct dp *dp, struct dp_vif *v, uint64_t now)
{
	if (!v->eoi_tx && !v->eoi_rx)
		return 0;
	if (v->tx_pending || v->rx_pending)
		return 0; /* dp_run() comes back at once */
	if (now < v->eoi_at_ms)
		return v->eoi_at_ms - now;
	if (v->eoi_tx)
		xenevtchn_unmask(dp->xce, v->port_tx);
	if (v->eoi_rx)
		xenevtchn_unmask(dp->xce, v->port_rx);
	v->eoi_tx = v->eoi_rx = false;
	return 0;
}

/* One TX pass for every vif with requests waiting, round-robin from
 * dp->tx_first. Says whether any had work. */
static bool tx_round(struct dp *dp)
{
	struct dp_vif *start = dp->tx_first ? dp->tx_first : dp->vifs, *first = NULL;

	/* From start to the end of the list, then from its head up to start. */
	for (int lap = 0; lap < 2; lap++) {
		for (struct dp_vif *v = lap ? dp->vifs : start; v && (!lap || v != start);
		     v = v->next) {
			if (!v->tx_pending)
				continue;
			if (!first)
				first = v;
			vif_tx(dp, v);
		}
	}
	if (first)
		dp->tx_first = first->next;
	return first != NULL;
}

/* Keeps the shortest wait in *wait; 0 means none. */
static void wait_at_most(uint64_t *wait, uint64_t ms)
{
	if (ms && ms < *wait)
		*wait = ms;
}

int dp_run(struct dp *dp)
{
	uint64_t now, wait = UINT64_MAX;
	bool work = false;

	/* Rate-limited vifs whose next refill is due get their TX pass. */
	now = ipnb_now_ms() * 1000;
	for (struct dp_vif *v = dp->vifs; v; v = v->next) {
		if (v->credit_wait && now >= v->credit_next_us) {
			v->credit_wait = false;
			v->tx_pending = v->connected;
		}
	}

	for (int round = 0; round < DP_ROUNDS; round++) {
		dp->clock_ms = ipnb_now_ms();
		work = tx_round(dp);
		for (struct dp_vif *v = dp->vifs; v; v = v->next) {
			if (v->rx_pending) {
				v->rx_pending = false;
				work = true;
			}
			if (v->q_head)
				vif_rx(dp, v);
		}
		if (!work)
			break;
	}
	/* Read the clock after the rounds: packets queued and RX progress
	 * noted during them carry later timestamps, and an age computed from
	 * an earlier `now` would wrap around and expire them at once. */
	now = ipnb_now_ms();
	for (struct dp_vif *v = dp->vifs; v; v = v->next) {
		if (!v->connected)
			continue;
		/* A vif with its carrier off has an empty queue; vif_rx() is
		 * what notices that it posts buffers again. */
		if (!v->carrier)
			vif_rx(dp, v);
		vif_rx_expire(dp, v, now);
		/* Queued packets: their age and stall timers every 100 ms, or
		 * a poll of a ring whose frontend does not kick. */
		if (v->q_head)
			wait_at_most(&wait, v->cfg.rx_notify ? 100 : DP_RX_POLL_MS);
		if (v->tx_pending || v->rx_pending)
			work = true;
		else
			wait_at_most(&wait, vif_eoi(dp, v, now));
		/* The next refill, in whole milliseconds rounded up, at least 1. */
		if (v->credit_wait)
			wait_at_most(&wait, v->credit_next_us > now * 1000
						? (v->credit_next_us - now * 1000 + 999) / 1000
						: 1);
	}
	if (work)
		return 0;
	return wait == UINT64_MAX ? -1 : (int)wait;
}

/* ---- the ports: uplink and host ------------------------------------------ */

static void port_set(struct dp_port_ops *port, const struct dp_port_ops *ops)
{
	if (ops)
		*port = *ops;
	else
		memset(port, 0, sizeof(*port));
}

void dp_set_uplink(struct dp *dp, const struct dp_port_ops *ops)
{
	port_set(&dp->uplink, ops);
}

void dp_set_host(struct dp *dp, const struct dp_port_ops *ops)
{
	port_set(&dp->host, ops);
}

bool dp_input(struct dp *dp, const uint8_t *frame, size_t len, const struct frame_info *fi,
	      const struct ipnb_offload *o)
{
	struct dp_vif *dst = ipt_lookup(&dp->ipt, &fi->dst);
	struct gso_pkt g;
	struct dp_pkt *p;
	uint64_t segs = 0;
	bool ok = true;

	dp->clock_ms = ipnb_now_ms();
	if (!o)
		o = &no_offload;
	if (!dst || len > DP_MAX_FRAME)
		return false;
	/* The port's metadata is checked like a guest's GSO request: the
	 * headers must fit it. */
	if (o->gso_size && gso_check(frame, len, fi, o->gso_type, o->gso_size, &g) != GSO_OK)
		return false;
	if (vif_too_big(dp, NULL, dst, frame, len, fi, o->gso_size ? &g : NULL))
		return false;
	p = pkt_alloc(dp, (uint32_t)len);
	if (!p) {
		dst->st.drops[DP_DROP_NOMEM]++;
		return false;
	}
	memcpy(p->data, frame, len);
	p->from_port = true;
	if (o->gso_size && !gso_ok(dst, fi, &g)) {
		ok = gso_to_vif(dp, dst, p, fi, &g, &segs);
		pkt_free(dp, p);
		return ok;
	}
	if (o->gso_size) {
		p->gso_size = g.mss;
		p->gso_type = g.type;
	}
	/* A checksum the port left blank goes on blank where the vif takes
	 * that; one it verified is flagged so. Otherwise the guest verifies
	 * it itself, as for any LAN host's. */
	if (o->csum_blank || o->gso_size) {
		if (csum_blank_ok(dst, fi))
			p->rx_flags = NETRXF_csum_blank | NETRXF_data_validated;
		else if (frame_csum_complete(p->data, p->len, fi) == FRAME_OK)
			p->rx_flags = NETRXF_data_validated;
		else
			ok = false;
	} else if (o->data_valid) {
		p->rx_flags = NETRXF_data_validated;
	}
	if (!ok) {
		pkt_free(dp, p);
		return false;
	}
	frame_set_l2(p->data, dst->mac, dp->mac);
	return vif_enqueue(dp, dst, p);
}
