/* SPDX-License-Identifier: MIT */
/*
 * txreq.c - ring -> packet conversion for the TX ring: which slots belong to
 * the next packet, and whether the frontend described it legally. Pure; see
 * include/ipnb/txreq.h.
 */
#include "ipnb/txreq.h"

#include <string.h>

static const char *const reason_names[TXREQ_R_COUNT] = {
    [TXREQ_R_NONE] = "none",
    [TXREQ_R_TOO_MANY_SLOTS] = "too_many_slots",
    [TXREQ_R_SHORT_FIRST] = "short_first_fragment",
    [TXREQ_R_SIZE_MISMATCH] = "size_mismatch",
    [TXREQ_R_GSO] = "gso_not_offered",
    [TXREQ_R_CROSS_PAGE] = "cross_page",
    [TXREQ_R_INCOMPLETE] = "incomplete_packet",
    [TXREQ_R_BAD_EXTRA] = "bad_extra_info",
    [TXREQ_R_BAD_GSO] = "bad_gso",
    [TXREQ_R_HOSTILE_SLOTS] = "hostile_slot_count",
};

const char *txreq_reason_name(enum txreq_reason r)
{
	return (unsigned int)r < TXREQ_R_COUNT ? reason_names[r] : "?";
}

static enum txreq_verdict fail(struct txreq_pkt *p, enum txreq_verdict v, enum txreq_reason r)
{
	p->reason = r;
	return v;
}

static bool slot_in_page(const netif_tx_request_t *r)
{
	return (uint32_t)r->offset + r->size <= XEN_PAGE_SIZE_BYTES;
}

/* The extra-info chain after slot 0. Each extra is one ring slot; the chain
 * continues while XEN_NETIF_EXTRA_FLAG_MORE is set. netfront publishes whole
 * packets, so a chain that runs past prod is a broken frontend, not a packet
 * in flight. */
static enum txreq_verdict collect_extras(const netif_tx_back_ring_t *ring, RING_IDX prod,
					 RING_IDX *idx, struct txreq_pkt *p)
{
	unsigned int seen = 0;
	netif_extra_info_t ex;

	do {
		if (*idx == prod)
			return fail(p, TXREQ_FATAL, TXREQ_R_INCOMPLETE);
		/* Extras share the request slot layout: copy the slot as a
		 * request, then reinterpret the private copy. */
		netif_tx_request_t raw;

		RING_COPY_REQUEST(ring, *idx, &raw);
		memcpy(&ex, &raw, sizeof(ex));
		if (ex.type == XEN_NETIF_EXTRA_TYPE_NONE || ex.type >= XEN_NETIF_EXTRA_TYPE_MAX ||
		    (seen & (1u << ex.type)))
			return fail(p, TXREQ_FATAL, TXREQ_R_BAD_EXTRA);
		seen |= 1u << ex.type;
		p->extra_pos[p->nextras++] = p->consumed;
		p->consumed++;
		(*idx)++;
		if (ex.type == XEN_NETIF_EXTRA_TYPE_GSO) {
			if (ex.u.gso.size == 0 || (ex.u.gso.type != XEN_NETIF_GSO_TYPE_TCPV4 &&
						   ex.u.gso.type != XEN_NETIF_GSO_TYPE_TCPV6))
				return fail(p, TXREQ_FATAL, TXREQ_R_BAD_GSO);
			p->gso = ex;
			p->has_gso = true;
		}
	} while (ex.flags & XEN_NETIF_EXTRA_FLAG_MORE);
	return TXREQ_OK;
}

enum txreq_verdict txreq_collect(const netif_tx_back_ring_t *ring, RING_IDX cons, RING_IDX prod,
				 bool gso_offered, struct txreq_pkt *p)
{
	RING_IDX idx = cons;
	netif_tx_request_t req;
	uint32_t frag_sum = 0;
	unsigned int ndata = 0;
	bool too_many = false;

	memset(p, 0, sizeof(*p));
	if (idx == prod)
		return fail(p, TXREQ_FATAL, TXREQ_R_INCOMPLETE);

	RING_COPY_REQUEST(ring, idx, &req);
	idx++;
	p->consumed = 1;
	p->first = req;
	p->frags[0] = req;
	p->total = req.size;
	ndata = 1;
	/* Slot 0's page bound is checked once its own length is known. */

	if (req.flags & NETTXF_extra_info) {
		enum txreq_verdict v = collect_extras(ring, prod, &idx, p);

		if (v != TXREQ_OK)
			return v;
	}

	/* Follow-on data slots. Keep walking past TXREQ_MAX_SLOTS so that all
	 * of an oversized packet is consumed (and answered), up to the point
	 * where the count itself marks the frontend as hostile. frag_sum stays
	 * below 2^32: at most 19 slots of at most 65535 bytes. An empty slot
	 * is legal (XSA-448 made Linux accept them): it carries nothing. */
	while (req.flags & NETTXF_more_data) {
		if (idx == prod)
			return fail(p, TXREQ_FATAL, TXREQ_R_INCOMPLETE);
		RING_COPY_REQUEST(ring, idx, &req);
		idx++;
		p->consumed++;
		ndata++;
		if (ndata >= TXREQ_FATAL_SLOTS)
			return fail(p, TXREQ_FATAL, TXREQ_R_HOSTILE_SLOTS);
		if (!slot_in_page(&req))
			return fail(p, TXREQ_FATAL, TXREQ_R_CROSS_PAGE);
		p->frags[ndata - 1] = req;
		frag_sum += req.size;
		if (ndata > TXREQ_MAX_SLOTS)
			too_many = true;
	}
	p->nfrags = ndata;

	if (too_many)
		return fail(p, TXREQ_DROP, TXREQ_R_TOO_MANY_SLOTS);
	if (p->has_gso && !gso_offered)
		return fail(p, TXREQ_DROP, TXREQ_R_GSO);
	/* Slot 0's size is the whole packet; its own data is what the other
	 * slots do not account for. */
	if (frag_sum > p->total)
		return fail(p, TXREQ_DROP, TXREQ_R_SIZE_MISMATCH);
	p->first_len = p->total - frag_sum;
	if ((uint32_t)p->first.offset + p->first_len > XEN_PAGE_SIZE_BYTES)
		return fail(p, TXREQ_FATAL, TXREQ_R_CROSS_PAGE);
	if (p->first_len < 14)
		return fail(p, TXREQ_DROP, TXREQ_R_SHORT_FIRST);
	p->frags[0].size = (uint16_t)p->first_len;
	return TXREQ_OK;
}
