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

/* ---- RX queue ------------------------------------------------------------ */

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

void dp_rx_flush(struct dp *dp, struct dp_vif *v, enum dp_drop why)
{
	while (v->q_head) {
		dp_pkt_free(dp, q_pop(v));
		v->st.drops[why]++;
	}
}

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
	dp_pkt_free(dp, p);
	return false;
}

/* ---- RX ring ------------------------------------------------------------- */

void dp_rx_expire(struct dp *dp, struct dp_vif *v, uint64_t now)
{
	bool waiting = v->q_head != NULL;

	/* Ages are computed only forward in time (now >= stamp). */
	while (v->q_head && now >= v->q_head->enq_ms &&
	       now - v->q_head->enq_ms > DP_RXQ_TIMEOUT_MS) {
		dp_pkt_free(dp, q_pop(v));
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
		dp_rx_flush(dp, v, DP_DROP_CARRIER_OFF);
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
void dp_rx_vif(struct dp *dp, struct dp_vif *v)
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
	if (!dp_ring_prod_sane(dp, v, "RX", prod, cons, RING_SIZE(&v->rx)))
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
			dp_pkt_free(dp, q_pop(v));
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
			dp_tap(dp, v, true, d->p);
		} else {
			v->st.drops[DP_DROP_RX_COPY]++;
		}
		dp_pkt_free(dp, d->p);
	}
	if (dp_publish_rx(v, dp->rxrsp, nrsp))
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
