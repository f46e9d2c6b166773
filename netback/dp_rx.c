/* SPDX-License-Identifier: MIT */
/*
 * dp_rx.c - the data path's RX side (see dp.c): each vif's queue, within
 * its share, and its RX ring: the slots a packet needs, the grant copies
 * out of backend buffers, the responses with the GSO extra, the expiry of
 * packets that wait too long, and the carrier.
 */
#include "dp_int.h"

#include <string.h>

#include "ipnb/log.h"

#define DP_RXQ_TIMEOUT_MS 2000 /* a queued packet older than this is dropped */

/* ---- the flow hash -------------------------------------------------------- */

/* Mixes one 32-bit word into the hash (a multiply-rotate step). */
static uint32_t mix(uint32_t h, uint32_t w)
{
	w *= 0xcc9e2d51u;
	w = (w << 15) | (w >> 17);
	h ^= w * 0x1b873593u;
	h = (h << 13) | (h >> 19);
	return h * 5 + 0xe6546b64u;
}

/* Mixes n bytes, in 32-bit big-endian words (n a multiple of 4). */
static uint32_t mix_bytes(uint32_t h, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i + 4 <= n; i += 4)
		h = mix(h, (uint32_t)b[i] << 24 | (uint32_t)b[i + 1] << 16 |
			       (uint32_t)b[i + 2] << 8 | b[i + 3]);
	return h;
}

/* The last step: spreads every input bit over the whole word, so that the
 * low bits a modulo keeps depend on all of it. */
static uint32_t fmix(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	return h ^ (h >> 16);
}

uint32_t dp_flow_hash(const uint8_t *f, size_t len)
{
	const size_t l3 = FRAME_ETH_HLEN;
	uint16_t type;
	uint32_t h = 0x3c6ef372u;
	size_t l4 = 0, alen;
	uint8_t proto;
	bool frag;

	if (len < l3)
		return 0;
	type = (uint16_t)(f[12] << 8 | f[13]);
	if (type == FRAME_ETHERTYPE_ARP) {
		/* Sender and target protocol addresses, IPv4 over Ethernet. */
		if (len < FRAME_ARP_LEN)
			return 0;
		h = mix_bytes(h, f + l3 + 14, 4);
		return fmix(mix_bytes(h, f + l3 + 24, 4));
	}
	if (type == FRAME_ETHERTYPE_IPV4) {
		size_t ihl;

		if (len < l3 + 20 || (f[l3] >> 4) != 4)
			return 0;
		ihl = (size_t)(f[l3] & 0xf) * 4;
		proto = f[l3 + 9];
		/* More fragments, or a fragment offset: no ports to read. */
		frag = ((f[l3 + 6] << 8 | f[l3 + 7]) & 0x3fff) != 0;
		h = mix_bytes(h, f + l3 + 12, 8);
		l4 = l3 + ihl;
		alen = 8;
	} else if (type == FRAME_ETHERTYPE_IPV6) {
		if (len < l3 + 40 || (f[l3] >> 4) != 6)
			return 0;
		/* Only a transport header right after the fixed header is
		 * looked into: a fragment header, or any other extension,
		 * leaves the addresses alone, the same for every packet of a
		 * flow. */
		proto = f[l3 + 6];
		frag = false;
		h = mix_bytes(h, f + l3 + 8, 32);
		l4 = l3 + 40;
		alen = 32;
	} else {
		return 0;
	}
	if (!frag && (proto == 6 || proto == 17) && l4 >= l3 + 20 && len >= l4 + 4) {
		h = mix(h, proto);
		h = mix_bytes(h, f + l4, 4); /* source and destination ports */
	}
	return fmix(h ^ (uint32_t)alen);
}

/* ---- RX queue ------------------------------------------------------------ */

/* Takes the head packet off queue q; the vif's share shrinks by it. */
static struct dp_pkt *q_pop(struct dp_queue *q)
{
	struct dp_vif *v = q->vif;
	struct dp_pkt *p = q->q_head;

	q->q_head = p->next;
	if (!q->q_head)
		q->q_tail = NULL;
	v->q_len--;
	v->q_bytes -= p->len;
	if (p->from_port)
		v->q_port_bytes -= p->len;
	return p;
}

/* Drops every packet queued on q, counted as why. */
static void q_flush(struct dp *dp, struct dp_queue *q, enum dp_drop why)
{
	while (q->q_head) {
		dp_pkt_free(dp, q_pop(q));
		q->vif->st.drops[why]++;
	}
}

void dp_rx_flush(struct dp *dp, struct dp_vif *v, enum dp_drop why)
{
	for (unsigned int i = 0; i < DP_MAX_QUEUES; i++)
		q_flush(dp, &v->q[i], why);
}

static bool q_full(const struct dp_vif *dst, const struct dp_pkt *p)
{
	return dst->q_len >= DP_RXQ_MAX || p->len > DP_RXQ_BYTES - dst->q_bytes ||
	       (p->from_port && p->len > DP_RXQ_PORT_BYTES - dst->q_port_bytes);
}

/* The queue of dst that p's flow lands on. */
static struct dp_queue *rx_queue_of(struct dp_vif *dst, const struct dp_pkt *p)
{
	if (dst->nq <= 1)
		return &dst->q[0];
	return &dst->q[dp_flow_hash(p->data, p->len) % dst->nq];
}

/* Queues p on dst, within dst's share (one for all its queues), or drops
 * and counts it there; says which. A full share whose vif has buffers
 * posted is first moved into them: one TX batch of 64 KiB GSO packets is
 * more than the 512 KiB share, and a receiver ready for it should not lose
 * half of it. Called only between grant copies, when the shared scratch
 * (segs) is free. */
bool dp_rx_enqueue(struct dp *dp, struct dp_vif *dst, struct dp_pkt *p)
{
	enum dp_drop why;

	if (dst->connected && dst->carrier && q_full(dst, p))
		dp_rx_vif(dp, dst);
	if (!dst->connected)
		why = DP_DROP_NO_ROUTE;
	else if (!dst->carrier)
		why = DP_DROP_CARRIER_OFF;
	else if (q_full(dst, p))
		why = DP_DROP_RXQ_FULL;
	else {
		struct dp_queue *q = rx_queue_of(dst, p);

		p->enq_ms = dp->clock_ms;
		p->next = NULL;
		if (q->q_tail) {
			q->q_tail->next = p;
		} else {
			q->q_head = p;
			q->head_wait_ms = dp->clock_ms;
		}
		q->q_tail = p;
		dst->q_len++;
		dst->q_bytes += p->len;
		if (p->from_port)
			dst->q_port_bytes += p->len;
		return true;
	}
	dst->st.drops[why]++;
	dp_pkt_free(dp, p);
	return false;
}

/* ---- RX ring ------------------------------------------------------------- */

void dp_rx_expire(struct dp *dp, struct dp_vif *v, uint64_t now)
{
	for (unsigned int i = 0; i < v->nq; i++) {
		struct dp_queue *q = &v->q[i];
		bool waiting = q->q_head != NULL;

		/* Ages are computed only forward in time (now >= stamp). */
		while (q->q_head && now >= q->q_head->enq_ms &&
		       now - q->q_head->enq_ms > DP_RXQ_TIMEOUT_MS) {
			dp_pkt_free(dp, q_pop(q));
			v->st.drops[DP_DROP_RX_TIMEOUT]++;
		}
		/* A stall is a head packet that cannot be delivered, however
		 * many slots the guest posts: one buffer posted by a
		 * feature-sg frontend flooded with two-slot packets is still a
		 * stall (threat 28). A frontend that never kicks for RX
		 * buffers is polled instead, and keeps its carrier, as in
		 * Linux. One stalled queue turns the whole vif's carrier off. */
		if (waiting && v->carrier && v->cfg.rx_notify && now >= q->head_wait_ms &&
		    now - q->head_wait_ms > DP_STALL_MS) {
			if (v->nq > 1)
				log_info("vif %u/%u: queue %u's head packet undeliverable for %u "
					 "s, carrier off",
					 v->domid, v->devid, i, DP_STALL_MS / 1000);
			else
				log_info("vif %u/%u: head packet undeliverable for %u s, carrier "
					 "off",
					 v->domid, v->devid, DP_STALL_MS / 1000);
			v->carrier = false;
			dp_rx_flush(dp, v, DP_DROP_CARRIER_OFF);
		}
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

/* Whether every queue of v has posted the buffers that bring its carrier
 * back (a single stalled queue turned it off, and the flow that stalled
 * may hash to any of them). */
static bool rx_carrier_ready(const struct dp_vif *v)
{
	for (unsigned int i = 0; i < v->nq; i++) {
		const struct dp_queue *q = &v->q[i];
		RING_IDX n = *(volatile RING_IDX *)&q->rx.sring->req_prod - q->rx.req_cons;

		if (n < rx_carrier_slots(v) || n > RING_SIZE(&q->rx))
			return false;
	}
	return true;
}

/* One RX pass over queue q: moves its packets into buffers the guest
 * posted. */
void dp_rx_queue(struct dp *dp, struct dp_queue *q)
{
	struct dp_vif *v = q->vif;
	/* Each packet taken: where its segments and responses start. */
	struct rx_done {
		struct dp_pkt *p;
		unsigned int seg, rsp, nrsp;
	} done[DP_RX_BATCH];
	unsigned int nd = 0, nseg = 0, nrsp = 0;
	RING_IDX prod, cons;

	if (!v->connected)
		return;
	prod = *(volatile RING_IDX *)&q->rx.sring->req_prod;
	xen_rmb();
	cons = q->rx.req_cons;
	q->rx_prod_seen = prod;
	if (!dp_ring_prod_sane(dp, v, "RX", prod, cons, RING_SIZE(&q->rx)))
		return;

	while (q->q_head && nd < DP_RX_BATCH) {
		struct dp_pkt *p = q->q_head;
		unsigned int need = rx_slots_needed(v, p), ndata = rx_data_slots(v, p), data = 0;
		uint32_t off = 0;

		if (need == 0) {
			dp_pkt_free(dp, q_pop(q));
			v->st.drops[DP_DROP_RX_TOO_BIG]++;
			continue;
		}
		if (prod - cons < need)
			break;
		q_pop(q);
		q->head_wait_ms = dp->clock_ms;
		done[nd] = (struct rx_done){.p = p, .seg = nseg, .rsp = nrsp, .nrsp = need};
		for (unsigned int i = 0; i < need; i++) {
			netif_rx_request_t req;
			netif_rx_response_t *r = &dp->rxrsp[nrsp++];
			xengnttab_grant_copy_segment_t *s;
			uint32_t chunk = p->len - off;

			RING_COPY_REQUEST(&q->rx, cons, &req);
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
	q->rx.req_cons = cons;
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
			dp_tap(dp, v, true, d->p);
		} else {
			v->st.drops[DP_DROP_RX_COPY]++;
		}
		dp_pkt_free(dp, d->p);
	}
	if (dp_publish_rx(q, dp->rxrsp, nrsp))
		xenevtchn_notify(dp->xce, q->port_rx);
wait:
	if (q->q_head || !v->carrier) {
		/* Out of buffers for the head packet: ask for a kick once the
		 * guest has posted as many as it needs, then look once more in
		 * case it already did. Fewer than that is no work: going round
		 * again would spin until the guest posts. */
		unsigned int need = q->q_head ? rx_slots_needed(v, q->q_head) : rx_carrier_slots(v);

		if (need == 0)
			need = 1;
		q->rx.sring->req_event = q->rx.req_cons + need;
		xen_mb();
		/* With the carrier off, enough on this queue is no work
		 * while another queue still lacks slots (its kick will
		 * come): going round again would spin. */
		if (*(volatile RING_IDX *)&q->rx.sring->req_prod - q->rx.req_cons >= need &&
		    (v->carrier || rx_carrier_ready(v)))
			q->rx_pending = true; /* run another round */
	}
}

void dp_rx_vif(struct dp *dp, struct dp_vif *v)
{
	if (!v->connected)
		return;
	if (!v->carrier && rx_carrier_ready(v)) {
		log_info("vif %u/%u: RX buffers posted again, carrier on", v->domid, v->devid);
		v->carrier = true;
	}
	/* A pass may disable the vif, which drops its queues (nq 0). */
	for (unsigned int i = 0; i < v->nq; i++)
		if (v->q[i].q_head || !v->carrier)
			dp_rx_queue(dp, &v->q[i]);
}
