/* SPDX-License-Identifier: MIT */
/*
 * dp.c - the data path (see include/ipnb/dp.h): TX ring -> backend packet
 * buffers -> switch -> per-vif RX queue -> RX ring, with batched grant
 * copies in both directions. This file holds the lifecycle (the data path,
 * its vifs, their addresses, rate and MTU), the packet buffers, ring attach
 * and the response journal, events and scheduling, and the capture tap.
 * The TX ring is in dp_tx.c, the RX queues and ring in dp_rx.c, the switch
 * in dp_switch.c; dp_int.h is what they share.
 *
 * Ownership of packet data: a packet is grant-copied out of the sender's
 * pages into a buffer this daemon allocated, and is parsed, checked and
 * rewritten only there. The receiver's pages are written by a second grant
 * copy from that buffer. A guest therefore never sees another guest's
 * grants, and cannot change a header after it has been checked.
 */
#include "dp_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ipnb/clock.h"
#include "ipnb/log.h"

#define DP_ROUNDS  8	/* passes over all vifs per dp_run() */
#define DP_IPT_MAX 4096 /* registered addresses, all vifs */
/* Freed packet buffers kept for reuse: a full TX batch of GSO packets, or a
 * few vifs' worth of full queues of MTU-sized frames. */
#define DP_POOL_IDLE_BYTES ((size_t)8 << 20)

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

struct dp_pkt *dp_pkt_alloc(struct dp *dp, uint32_t len)
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

void dp_pkt_free(struct dp *dp, struct dp_pkt *p)
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
	dp->max_queues = 1;
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

bool dp_set_max_queues(struct dp *dp, unsigned int n)
{
	if (n < 1 || n > DP_MAX_QUEUES)
		return false;
	dp->max_queues = n;
	return true;
}

unsigned int dp_max_queues(const struct dp *dp)
{
	return dp->max_queues;
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
	for (unsigned int i = 0; i < DP_MAX_QUEUES; i++) {
		v->q[i].vif = v;
		v->q[i].idx = i;
	}
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

unsigned int dp_vif_nqueues(const struct dp_vif *vif)
{
	return vif->nq;
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
		for (unsigned int i = 0; i < vif->nq; i++)
			vif->q[i].tx_pending = vif->connected;
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

/* Unbinds, unmaps and closes what one queue holds, and resets its state. */
static void queue_disconnect(struct dp *dp, struct dp_queue *q)
{
	if (q->port_tx)
		xenevtchn_unbind(dp->xce, q->port_tx);
	if (q->port_rx && q->port_rx != q->port_tx)
		xenevtchn_unbind(dp->xce, q->port_rx);
	q->port_tx = q->port_rx = 0;
	unmap_page(dp, &q->tx_page);
	unmap_page(dp, &q->rx_page);
	/* Nothing is pending in it between passes: a process that ends
	 * here, even by exiting, leaves nothing for the next one. */
	jr_close(q->jr, true);
	q->jr = NULL;
	q->tx_pending = false;
	q->rx_pending = false;
	/* Unbinding dropped the ports: nothing is left to unmask. */
	q->eoi_tx = q->eoi_rx = false;
	q->spurious_run = 0;
	q->bind_events = 0;
	q->eoi_at_ms = 0;
}

void dp_vif_disconnect(struct dp *dp, struct dp_vif *v)
{
	/* Every queue, not only the nq connected: a connect that failed half
	 * way has set up some of the ones after them. */
	for (unsigned int i = 0; i < DP_MAX_QUEUES; i++)
		queue_disconnect(dp, &v->q[i]);
	dp_rx_flush(dp, v, DP_DROP_CARRIER_OFF);
	v->nq = 0;
	v->connected = false;
	v->carrier = false;
	v->credit_wait = false;
}

/* ---- ring attach and the response journal -------------------------------- */

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
bool dp_publish_tx(struct dp_queue *q, const netif_tx_response_t *rsp, unsigned int n)
{
	int notify;

	jr_commit(q->jr, JR_TX, q->tx.rsp_prod_pvt, rsp, n);
	for (unsigned int i = 0; i < n; i++)
		*RING_GET_RESPONSE(&q->tx, q->tx.rsp_prod_pvt++) = rsp[i];
	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&q->tx, notify);
	jr_done(q->jr, JR_TX);
	return notify;
}

bool dp_publish_rx(struct dp_queue *q, const netif_rx_response_t *rsp, unsigned int n)
{
	int notify;

	jr_commit(q->jr, JR_RX, q->rx.rsp_prod_pvt, rsp, n);
	for (unsigned int i = 0; i < n; i++)
		*RING_GET_RESPONSE(&q->rx, q->rx.rsp_prod_pvt++) = rsp[i];
	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&q->rx, notify);
	jr_done(q->jr, JR_RX);
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

/* Maps both rings of queue q, replays what its journal holds, and checks
 * the attach invariant. */
static int rings_attach(struct dp *dp, struct dp_queue *q, char *err, size_t errlen)
{
	struct dp_vif *v = q->vif;
	netif_tx_sring_t *txs = q->tx_page;
	netif_rx_sring_t *rxs = q->rx_page;
	struct jr_ident id = {q->cfg.tx_ref, q->cfg.rx_ref, q->cfg.evtchn_tx, q->cfg.evtchn_rx};
	/* Read the indexes once each: the guest can change them at any time. */
	RING_IDX tq = *(volatile RING_IDX *)&txs->req_prod;
	RING_IDX tr = *(volatile RING_IDX *)&txs->rsp_prod;
	RING_IDX rq = *(volatile RING_IDX *)&rxs->req_prod;
	RING_IDX rr = *(volatile RING_IDX *)&rxs->rsp_prod;
	unsigned int ntx = 0, nrx = 0;

	BACK_RING_ATTACH(&q->tx, txs, tr, XEN_PAGE_SIZE_BYTES);
	BACK_RING_ATTACH(&q->rx, rxs, rr, XEN_PAGE_SIZE_BYTES);
	q->jr = jr_open(dp->state_dir, v->domid, v->devid, q->idx);
	if (!q->jr) {
		snprintf(err, errlen, "response journal: %s", strerror(errno));
		return -1;
	}
	if (jr_matches(q->jr, &id)) {
		ntx = journal_replay_count(q->jr, JR_TX, tq, tr, RING_SIZE(&q->tx));
		nrx = journal_replay_count(q->jr, JR_RX, rq, rr, RING_SIZE(&q->rx));
	}
	if (!ring_attach_ok(tq, tr, RING_SIZE(&q->tx)) ||
	    !ring_attach_ok(rq, rr, RING_SIZE(&q->rx))) {
		snprintf(err, errlen,
			 "rings in an impossible state (tx req %u rsp %u, rx req %u rsp %u)", tq,
			 tr, rq, rr);
		return -1;
	}
	if (ntx) {
		RING_IDX b;
		const void *rsp = jr_pending(q->jr, JR_TX, &b, &ntx);

		/* The entries live in the journal: copy before re-committing. */
		memcpy(dp->txrsp, rsp, ntx * sizeof(dp->txrsp[0]));
		dp_publish_tx(q, dp->txrsp, ntx);
		q->tx.req_cons = q->tx.rsp_prod_pvt;
	}
	if (nrx) {
		RING_IDX b;
		const void *rsp = jr_pending(q->jr, JR_RX, &b, &nrx);

		memcpy(dp->rxrsp, rsp, nrx * sizeof(dp->rxrsp[0]));
		dp_publish_rx(q, dp->rxrsp, nrx);
		q->rx.req_cons = q->rx.rsp_prod_pvt;
	}
	v->st.replayed_responses += ntx + nrx;
	if (ntx + nrx && v->nq > 1)
		log_info("vif %u/%u queue %u: published %u TX and %u RX responses a previous "
			 "process had committed",
			 v->domid, v->devid, q->idx, ntx, nrx);
	else if (ntx + nrx)
		log_info("vif %u/%u: published %u TX and %u RX responses a previous process had "
			 "committed",
			 v->domid, v->devid, ntx, nrx);
	jr_start(q->jr, &id);
	q->rx_prod_seen = q->rx.rsp_prod_pvt; /* buffers already posted are news */
	return 0;
}

/* Binds one of the guest's event channels; 0 or -1 with err. */
static int bind_port(struct dp *dp, const struct dp_queue *q, evtchn_port_t remote,
		     evtchn_port_t *local, char *err, size_t errlen)
{
	xenevtchn_port_or_error_t p = xenevtchn_bind_interdomain(dp->xce, q->vif->domid, remote);

	if (p < 0) {
		snprintf(err, errlen, "binding event channel %u: %s", remote, strerror(errno));
		return -1;
	}
	*local = (evtchn_port_t)p;
	return 0;
}

/* Maps, attaches and binds queue q (its cfg set). 0, or -1 with err. */
static int queue_connect(struct dp *dp, struct dp_queue *q, char *err, size_t errlen)
{
	struct dp_vif *v = q->vif;
	const struct dp_ring_cfg *c = &q->cfg;

	q->tx_page = xengnttab_map_grant_ref(dp->gt, v->domid, c->tx_ref, PROT_READ | PROT_WRITE);
	if (!q->tx_page) {
		snprintf(err, errlen, "mapping tx-ring-ref %u: %s", c->tx_ref, strerror(errno));
		return -1;
	}
	q->rx_page = xengnttab_map_grant_ref(dp->gt, v->domid, c->rx_ref, PROT_READ | PROT_WRITE);
	if (!q->rx_page) {
		snprintf(err, errlen, "mapping rx-ring-ref %u: %s", c->rx_ref, strerror(errno));
		return -1;
	}
	if (rings_attach(dp, q, err, errlen) != 0)
		return -1;
	if (bind_port(dp, q, c->evtchn_tx, &q->port_tx, err, errlen) != 0)
		return -1;
	q->port_rx = q->port_tx;
	if (c->evtchn_rx != c->evtchn_tx &&
	    bind_port(dp, q, c->evtchn_rx, &q->port_rx, err, errlen) != 0)
		return -1;
	/* A frontend that was connected to a previous process may be waiting
	 * for responses, or for room, that it was never told about (the old
	 * process died before it notified, or we just published its journal):
	 * an event on each channel makes it look at both rings. On a new
	 * connection it is one harmless spurious event. */
	xenevtchn_notify(dp->xce, q->port_tx);
	if (q->port_rx != q->port_tx)
		xenevtchn_notify(dp->xce, q->port_rx);
	q->bind_events = q->port_rx != q->port_tx ? 2 : 1;
	q->tx_pending = true; /* requests may already be waiting */
	q->head_wait_ms = ipnb_now_ms();
	return 0;
}

int dp_vif_connect(struct dp *dp, struct dp_vif *v, const struct dp_vif_cfg *cfg, char *err,
		   size_t errlen)
{
	unsigned int nq = cfg->nqueues ? cfg->nqueues : 1;

	if (v->connected)
		dp_vif_disconnect(dp, v);
	if (nq > DP_MAX_QUEUES) {
		snprintf(err, errlen, "%u queues, more than %u", nq, DP_MAX_QUEUES);
		return -1;
	}
	v->cfg = *cfg;
	v->cfg.nqueues = nq;
	v->disabled = false;
	v->nq = nq;
	for (unsigned int i = 0; i < nq; i++) {
		struct dp_queue *q = &v->q[i];

		q->cfg = i ? cfg->more[i - 1]
			   : (struct dp_ring_cfg){cfg->tx_ref, cfg->rx_ref, cfg->evtchn_tx,
						  cfg->evtchn_rx};
		if (queue_connect(dp, q, err, errlen) != 0) {
			if (nq > 1) {
				char why[256];

				snprintf(why, sizeof(why), "queue %u: %s", i, err);
				snprintf(err, errlen, "%s", why);
			}
			dp_vif_disconnect(dp, v);
			return -1;
		}
	}
	v->connected = true;
	v->carrier = true;
	return 0;
}

/* Stops all ring processing for a guest that broke the protocol. */
void dp_vif_disable(struct dp *dp, struct dp_vif *v, const char *why)
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
bool dp_ring_prod_sane(struct dp *dp, struct dp_vif *v, const char *ring, RING_IDX prod,
		       RING_IDX cons, unsigned int size)
{
	char why[96];

	if (prod - cons <= size)
		return true;
	snprintf(why, sizeof(why), "%s producer index %u is %u slots ahead of us", ring, prod,
		 prod - cons);
	dp_vif_disable(dp, v, why);
	return false;
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

/* A kick on one of queue q's ports: note the work, keep the port masked,
 * and judge whether the kick brought anything. The indexes are only looked
 * at here; the passes read and check them again. */
static void queue_kicked(struct dp_queue *q, evtchn_port_t port)
{
	struct dp_vif *v = q->vif;
	bool useful = false;

	if (port == q->port_tx) {
		/* Requests that wait for rate credit are no news. */
		q->tx_pending = !v->credit_wait;
		q->eoi_tx = true;
		useful = !v->credit_wait &&
			 *(volatile RING_IDX *)&q->tx.sring->req_prod != q->tx.req_cons;
	}
	if (port == q->port_rx) {
		RING_IDX prod = *(volatile RING_IDX *)&q->rx.sring->req_prod;

		q->rx_pending = true;
		q->eoi_rx = port != q->port_tx;
		useful = useful || prod != q->rx_prod_seen;
		q->rx_prod_seen = prod;
	}
	if (q->bind_events) {
		q->bind_events--;
		useful = true;
	}
	if (useful) {
		q->spurious_run = 0;
		q->eoi_at_ms = 0;
	} else {
		v->st.spurious_events++;
		q->spurious_run++;
		q->eoi_at_ms = ipnb_now_ms() + eoi_delay_ms(q->spurious_run);
	}
}

void dp_handle_events(struct dp *dp)
{
	xenevtchn_port_or_error_t port;

	/* Each read returns one pending port, which stays masked until we
	 * unmask it: dp_run() does, once that queue's work is done. */
	while ((port = xenevtchn_pending(dp->xce)) >= 0) {
		bool known = false;

		for (struct dp_vif *v = dp->vifs; v && !known; v = v->next) {
			if (!v->connected)
				continue;
			for (unsigned int i = 0; i < v->nq; i++) {
				struct dp_queue *q = &v->q[i];

				if ((evtchn_port_t)port == q->port_tx ||
				    (evtchn_port_t)port == q->port_rx) {
					queue_kicked(q, (evtchn_port_t)port);
					known = true;
					break;
				}
			}
		}
		if (!known)
			xenevtchn_unmask(dp->xce, (evtchn_port_t)port);
	}
}

/* Unmasks q's kicked ports once its work is done and any backoff is over.
 * Returns how long (ms) until that is due, or 0 if nothing waits. */
static uint64_t queue_eoi(struct dp *dp, struct dp_queue *q, uint64_t now)
{
	if (!q->eoi_tx && !q->eoi_rx)
		return 0;
	if (q->tx_pending || q->rx_pending)
		return 0; /* dp_run() comes back at once */
	if (now < q->eoi_at_ms)
		return q->eoi_at_ms - now;
	if (q->eoi_tx)
		xenevtchn_unmask(dp->xce, q->port_tx);
	if (q->eoi_rx)
		xenevtchn_unmask(dp->xce, q->port_rx);
	q->eoi_tx = q->eoi_rx = false;
	return 0;
}

/*
 * One TX pass for every queue of vif v with requests waiting. Says whether
 * any had work. A vif gets one batch (DP_TX_BATCH packets) per round
 * however many queues it has, shared among its busy queues, and the queue
 * that goes first turns: more queues must not buy a guest more of the
 * loop than a single-queue guest gets (threat 20, one guest starving the
 * others).
 */
static bool tx_vif(struct dp *dp, struct dp_vif *v)
{
	unsigned int busy = 0, budget;

	for (unsigned int i = 0; i < v->nq; i++)
		busy += v->q[i].tx_pending;
	if (!busy)
		return false;
	budget = DP_TX_BATCH / busy; /* busy <= DP_MAX_QUEUES: at least 8 */
	/* A pass can disable the vif, which releases its queues (nq 0): the
	 * loop's test ends it then. */
	for (unsigned int k = 0; k < v->nq; k++) {
		struct dp_queue *q = &v->q[(v->tx_next + k) % v->nq];

		if (q->tx_pending)
			dp_tx_queue(dp, q, budget);
	}
	if (v->nq)
		v->tx_next = (v->tx_next + 1) % v->nq;
	return true;
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
			if (tx_vif(dp, v) && !first)
				first = v;
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

/* Whether any of v's queues has packets waiting. */
static bool vif_queued(const struct dp_vif *v)
{
	return v->q_len != 0;
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
			for (unsigned int i = 0; i < v->nq; i++)
				v->q[i].tx_pending = v->connected;
		}
	}

	for (int round = 0; round < DP_ROUNDS; round++) {
		dp->clock_ms = ipnb_now_ms();
		work = tx_round(dp);
		for (struct dp_vif *v = dp->vifs; v; v = v->next) {
			for (unsigned int i = 0; i < v->nq; i++) {
				if (v->q[i].rx_pending) {
					v->q[i].rx_pending = false;
					work = true;
				}
			}
			if (vif_queued(v))
				dp_rx_vif(dp, v);
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
		/* A vif with its carrier off has empty queues; dp_rx_vif() is
		 * what notices that it posts buffers again. */
		if (!v->carrier)
			dp_rx_vif(dp, v);
		dp_rx_expire(dp, v, now);
		/* Queued packets: their age and stall timers every 100 ms, or
		 * a poll of a ring whose frontend does not kick. */
		if (vif_queued(v))
			wait_at_most(&wait, v->cfg.rx_notify ? 100 : DP_RX_POLL_MS);
		for (unsigned int i = 0; i < v->nq; i++) {
			struct dp_queue *q = &v->q[i];

			if (q->tx_pending || q->rx_pending)
				work = true;
			else
				wait_at_most(&wait, queue_eoi(dp, q, now));
		}
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
