/* SPDX-License-Identifier: MIT */
/*
 * dp_tx.c - the data path's TX ring (see dp.c): collecting a vif's requests
 * (txreq.c checks them), the rate credit they must fit, the grant copies
 * into backend buffers, the responses, and the hand-over to the switch.
 */
#include "dp_int.h"

#include <stdio.h>

/* ---- rate credit --------------------------------------------------------- */

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

/* ---- requests and responses ---------------------------------------------- */

/* Stages a response for this pass's dp_publish_tx(). A pass consumes at most a
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

/* One TX pass over queue q: up to budget packets. */
void dp_tx_queue(struct dp *dp, struct dp_queue *q, unsigned int budget)
{
	struct dp_vif *v = q->vif;
	RING_IDX prod, cons;
	unsigned int n = 0, nseg = 0;
	int more;

	if (!v->connected)
		return;
	q->tx_pending = false;
	prod = *(volatile RING_IDX *)&q->tx.sring->req_prod;
	xen_rmb(); /* see the requests the producer index covers */
	cons = q->tx.req_cons;
	if (!dp_ring_prod_sane(dp, v, "TX", prod, cons, RING_SIZE(&q->tx)))
		return;

	if (budget > DP_TX_BATCH)
		budget = DP_TX_BATCH;
	while (cons != prod && n < budget) {
		struct txreq_pkt *t = &dp->txp[n];
		enum txreq_verdict vd = txreq_collect(&q->tx, cons, prod, true, t);
		struct dp_pkt *p = NULL;

		if (vd == TXREQ_FATAL) {
			char why[96];

			snprintf(why, sizeof(why), "TX request at %u: %s", cons,
				 txreq_reason_name(t->reason));
			/* Nothing more is answered on a disabled vif; drop the
			 * batch collected so far. */
			for (unsigned int i = 0; i < n; i++)
				if (dp->batch[i])
					dp_pkt_free(dp, dp->batch[i]);
			dp_vif_disable(dp, v, why);
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
			p = dp_pkt_alloc(dp, t->total);
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
	q->tx.req_cons = cons;
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
			dp_pkt_free(dp, dp->batch[i]);
			dp->batch[i] = NULL;
		}
		tx_respond_pkt(dp, t, status);
	}
	if (dp_publish_tx(q, dp->txrsp, dp->ntxrsp))
		xenevtchn_notify(dp->xce, q->port_tx);

	for (unsigned int i = 0; i < n; i++) {
		if (!dp->batch[i])
			continue;
		v->st.tx_pkts++;
		v->st.tx_bytes += dp->batch[i]->len;
		dp_tap(dp, v, false, dp->batch[i]);
		dp_switch_pkt(dp, v, dp->batch[i], dp->txp[i].first.flags,
			      dp->txp[i].has_gso ? &dp->txp[i].gso : NULL);
	}
done:
	/* Sets req_event so the next request kicks us, then looks again in
	 * case one arrived before req_event was visible. */
	RING_FINAL_CHECK_FOR_REQUESTS(&q->tx, more);
	if (more && !v->credit_wait)
		q->tx_pending = true;
}
