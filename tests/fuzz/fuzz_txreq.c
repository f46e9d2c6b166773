/* SPDX-License-Identifier: MIT */
/*
 * fuzz_txreq.c - libFuzzer target for txreq.c: a TX shared ring page whose
 * requests a hostile frontend wrote, walked packet by packet the way the
 * data path walks it.
 *
 * Input layout:
 *   bytes 0-3   req_cons (little endian)
 *   bytes 4-5   how far req_prod is ahead of it, modulo RING_SIZE + 1 (the
 *               data path refuses a ring with more than RING_SIZE, so
 *               txreq_collect() is never called with that)
 *   byte  6     bit 0: gso_offered
 *   the rest    the request slots, starting at the slot req_cons names and
 *               wrapping round the ring; slots not covered stay zero
 *
 * After each verdict the invariants the data path relies on are checked:
 * how far req_cons may move, the fragment list it copies from, and the
 * slot positions it answers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "ipnb/txreq.h"

#define HDR_LEN 7

static void check_pkt(enum txreq_verdict v, const struct txreq_pkt *p, RING_IDX cons, RING_IDX prod,
		      bool gso)
{
	uint32_t sum = 0;

	CHECK(v == TXREQ_OK || v == TXREQ_DROP || v == TXREQ_FATAL);
	if (v == TXREQ_FATAL) {
		CHECK(p->reason > TXREQ_R_NONE && p->reason < TXREQ_R_COUNT);
		return;
	}
	CHECK(p->consumed >= 1 && p->consumed <= prod - cons);
	CHECK(p->nextras <= TXREQ_MAX_EXTRAS);
	/* dp_tx.c answers slot positions 0..consumed-1: extras at extra_pos[],
	 * the rest from frags[] in order. */
	CHECK(p->nfrags >= 1 && p->nfrags < TXREQ_FATAL_SLOTS);
	CHECK(p->nfrags + p->nextras == p->consumed);
	for (unsigned int i = 0; i < p->nextras; i++) {
		CHECK(p->extra_pos[i] >= 1 && p->extra_pos[i] < p->consumed);
		CHECK(i == 0 || p->extra_pos[i] > p->extra_pos[i - 1]);
	}
	if (v == TXREQ_DROP) {
		CHECK(p->reason > TXREQ_R_NONE && p->reason < TXREQ_R_COUNT);
		return;
	}
	CHECK(p->reason == TXREQ_R_NONE);
	CHECK(p->nfrags <= TXREQ_MAX_SLOTS);
	CHECK(p->first_len >= 14 && p->first_len <= p->total);
	CHECK(p->total == p->first.size);
	CHECK(p->frags[0].size == p->first_len);
	CHECK(gso || !p->has_gso); /* dropped when GSO is not offered */
	for (unsigned int i = 0; i < p->nfrags; i++) {
		/* A follow-on slot may be empty (XSA-448): it carries nothing. */
		CHECK((uint32_t)p->frags[i].offset + p->frags[i].size <= XEN_PAGE_SIZE_BYTES);
		sum += p->frags[i].size;
	}
	CHECK(sum == p->total);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	void *page;
	netif_tx_sring_t *sring;
	netif_tx_back_ring_t ring;
	RING_IDX cons, prod;
	bool gso;
	struct txreq_pkt pkt;
	unsigned int nslots;

	if (size < HDR_LEN)
		return 0;
	page = aligned_alloc(XEN_PAGE_SIZE_BYTES, XEN_PAGE_SIZE_BYTES);
	CHECK(page);
	memset(page, 0, XEN_PAGE_SIZE_BYTES);
	sring = page;
	SHARED_RING_INIT(sring);
	BACK_RING_INIT(&ring, sring, XEN_PAGE_SIZE_BYTES);
	nslots = RING_SIZE(&ring);

	cons = (RING_IDX)data[0] | (RING_IDX)data[1] << 8 | (RING_IDX)data[2] << 16 |
	       (RING_IDX)data[3] << 24;
	prod = cons + ((unsigned int)data[4] | (unsigned int)data[5] << 8) % (nslots + 1);
	gso = data[6] & 1;
	data += HDR_LEN;
	size -= HDR_LEN;

	/* The frontend's requests, from the slot cons names onwards. */
	for (unsigned int k = 0; k < nslots && size; k++) {
		netif_tx_request_t *r = RING_GET_REQUEST(&ring, cons + k);
		size_t n = size < sizeof(*r) ? size : sizeof(*r);

		memcpy(r, data, n);
		data += n;
		size -= n;
	}
	sring->req_prod = prod;
	ring.req_cons = cons;
	ring.rsp_prod_pvt = cons;

	/* As dp_tx_vif() does: one packet at a time until the ring is empty or
	 * the frontend is found hostile. Each step consumes at least one slot,
	 * so nslots + 1 steps are always enough. */
	for (unsigned int step = 0; cons != prod; step++) {
		enum txreq_verdict v;

		CHECK(step <= nslots);
		v = txreq_collect(&ring, cons, prod, gso, &pkt);
		check_pkt(v, &pkt, cons, prod, gso);
		if (v == TXREQ_FATAL)
			break;
		cons += pkt.consumed;
	}
	/* An empty ring is a caller error the function still answers safely. */
	CHECK(txreq_collect(&ring, cons, cons, gso, &pkt) == TXREQ_FATAL);
	CHECK(txreq_reason_name(pkt.reason) != NULL);
	free(page);
	return 0;
}
