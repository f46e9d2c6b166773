/* SPDX-License-Identifier: MIT */
/*
 * test_txreq.c - ring -> packet validation of the netif TX ring. The test
 * plays netfront on one local ring page: it writes a packet's slots at some
 * ring index, sets the producer index, and checks the verdict.
 *
 * Every case runs once per poison pattern written into the slots outside
 * [cons, prod): the verdict and everything in txreq_pkt must not depend on
 * them, which shows txreq_collect() reads only what the frontend produced.
 * Each run also checks that the ring page was not written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipnb/txreq.h"
#include "suites.h"

#define PG 4096

static void *page;
static netif_tx_sring_t *sring;
static netif_tx_front_ring_t front; /* the test as netfront */
static netif_tx_back_ring_t back;   /* what txreq_collect() is given */
static unsigned int rsize;	    /* RING_SIZE */

/* One slot of a packet: a data request or an extra-info segment. */
struct slot {
	bool is_extra;
	netif_tx_request_t req;
	netif_extra_info_t ex;
};

struct pkt {
	struct slot s[256]; /* a whole ring: up to 255 slots plus one */
	unsigned int n;
};

static void req(struct pkt *p, grant_ref_t gref, uint16_t off, uint16_t flags, uint16_t id,
		uint16_t size)
{
	struct slot *s = &p->s[p->n++];

	memset(s, 0, sizeof(*s));
	s->req.gref = gref;
	s->req.offset = off;
	s->req.flags = flags;
	s->req.id = id;
	s->req.size = size;
}

static void extra(struct pkt *p, uint8_t type, uint8_t flags, uint16_t gso_size, uint8_t gso_type)
{
	struct slot *s = &p->s[p->n++];

	memset(s, 0, sizeof(*s));
	s->is_extra = true;
	s->ex.type = type;
	s->ex.flags = flags;
	if (type == XEN_NETIF_EXTRA_TYPE_GSO) {
		s->ex.u.gso.size = gso_size;
		s->ex.u.gso.type = gso_type;
	} else {
		/* fill the union so that a wrong reinterpretation shows */
		memset(&s->ex.u, 0x42, sizeof(s->ex.u));
	}
}

/* A packet of n data slots: ids id0, id0+1, ...; follow-on slots of `frag`
 * bytes each; slot 0 states the total with `first` bytes of its own. */
static void data_pkt(struct pkt *p, unsigned int n, uint16_t id0, uint16_t first, uint16_t frag)
{
	uint16_t total = (uint16_t)(first + (n - 1) * frag);

	for (unsigned int i = 0; i < n; i++) {
		uint16_t flags = i + 1 < n ? NETTXF_more_data : 0;

		req(p, 100 + i, (uint16_t)(i * 8), flags, (uint16_t)(id0 + i), i ? frag : total);
	}
}

/* ---- poisons: what lies in the slots nobody produced ---- */

enum poison { POISON_ZERO, POISON_ONES, POISON_CHAIN, POISON_COUNT };

static void poison_slot(netif_tx_request_t *r, enum poison how)
{
	switch (how) {
	case POISON_ZERO:
		/* size 0, no flags: would end a chain or make an empty frag;
		 * read as an extra, it is type NONE */
		memset(r, 0, sizeof(*r));
		break;
	case POISON_ONES:
		/* every flag, offset and size at their maximum */
		memset(r, 0xff, sizeof(*r));
		break;
	case POISON_CHAIN:
		/* a plausible follow-on slot that continues the chain; read
		 * as an extra it is a GSO extra with size 0 */
		r->gref = XEN_NETIF_EXTRA_TYPE_GSO;
		r->offset = 0;
		r->flags = NETTXF_more_data;
		r->id = 0xbeef;
		r->size = 20;
		break;
	default:
		break;
	}
}

static void ring_setup(enum poison how)
{
	memset(page, 0, PG);
	sring = page;
	SHARED_RING_INIT(sring);
	FRONT_RING_INIT(&front, sring, PG);
	BACK_RING_INIT(&back, sring, PG);
	rsize = RING_SIZE(&back);
	for (unsigned int i = 0; i < rsize; i++)
		poison_slot(RING_GET_REQUEST(&front, i), how);
}

/* Writes the first nprod slots of p from ring index cons, as the frontend
 * would, and sets the producer index. Slots of p beyond nprod are not
 * written: they are not produced yet. */
static void ring_write(const struct pkt *p, RING_IDX cons, unsigned int nprod)
{
	for (unsigned int i = 0; i < nprod && i < p->n; i++) {
		netif_tx_request_t *r = RING_GET_REQUEST(&front, cons + i);

		if (p->s[i].is_extra) {
			memset(r, 0, sizeof(*r));
			memcpy(r, &p->s[i].ex, sizeof(p->s[i].ex));
		} else {
			*r = p->s[i].req;
		}
	}
	sring->req_prod = cons + nprod;
	sring->rsp_prod = cons;
	back.req_cons = cons;
	back.rsp_prod_pvt = cons;
}

static bool req_eq(const netif_tx_request_t *a, const netif_tx_request_t *b)
{
	return a->gref == b->gref && a->offset == b->offset && a->flags == b->flags &&
	       a->id == b->id && a->size == b->size;
}

/* Everything txreq_collect() reports, compared field by field. */
static bool pkt_eq(const struct txreq_pkt *a, const struct txreq_pkt *b, enum txreq_verdict v)
{
	if (a->reason != b->reason || a->consumed != b->consumed || a->nextras != b->nextras ||
	    a->has_gso != b->has_gso)
		return false;
	for (unsigned int i = 0; i < a->nextras && i < TXREQ_MAX_EXTRAS; i++)
		if (a->extra_pos[i] != b->extra_pos[i])
			return false;
	if (a->has_gso &&
	    (a->gso.u.gso.size != b->gso.u.gso.size || a->gso.u.gso.type != b->gso.u.gso.type))
		return false;
	if (v == TXREQ_FATAL)
		return true; /* the rest is not defined then */
	if (a->nfrags != b->nfrags || a->total != b->total || a->first_len != b->first_len ||
	    !req_eq(&a->first, &b->first))
		return false;
	for (unsigned int i = 0; i < a->nfrags && i < TXREQ_FATAL_SLOTS; i++)
		if (!req_eq(&a->frags[i], &b->frags[i]))
			return false;
	return true;
}

/*
 * Runs the case once per poison and checks they agree and that the ring
 * was only read. The result of the last run is left in *out.
 */
static enum txreq_verdict collect_n(const struct pkt *p, RING_IDX cons, unsigned int nprod,
				    bool gso, struct txreq_pkt *out)
{
	static uint8_t before[PG];
	struct txreq_pkt first_out;
	enum txreq_verdict first_v = TXREQ_OK, v = TXREQ_OK;

	for (int how = 0; how < POISON_COUNT; how++) {
		ring_setup((enum poison)how);
		ring_write(p, cons, nprod);
		memcpy(before, page, PG);
		memset(out, 0xa5, sizeof(*out));
		v = txreq_collect(&back, cons, cons + nprod, gso, out);
		CU_ASSERT(memcmp(before, page, PG) == 0); /* never writes the ring */
		if (how == 0) {
			first_v = v;
			first_out = *out;
			continue;
		}
		if (v != first_v || !pkt_eq(&first_out, out, v)) {
			fprintf(stderr, "\n  poison %d changed the result (cons %u, prod +%u)\n",
				how, cons, nprod);
			CU_FAIL("result depends on slots outside [cons, prod)");
		}
	}
	return v;
}

/* The whole packet produced. */
static enum txreq_verdict collect(const struct pkt *p, RING_IDX cons, bool gso,
				  struct txreq_pkt *out)
{
	return collect_n(p, cons, p->n, gso, out);
}

/* Index starting points: plain, near the ring-size boundary, near 2^32. */
static const RING_IDX starts[] = {0, 7, 250, 255, 256, 0xfffffff0u, 0xfffffffeu, 0xffffffffu};
#define NSTARTS (sizeof(starts) / sizeof(starts[0]))

/* ---- tests ---- */

static void test_ring_size(void)
{
	ring_setup(POISON_ZERO);
	/* 12-byte slots in a 4 KiB page: 256 of them */
	CU_ASSERT_EQUAL(rsize, 256);
	CU_ASSERT_EQUAL(TXREQ_MAX_SLOTS, 18);
}

static void test_empty(void)
{
	struct pkt p = {.n = 0};
	struct txreq_pkt out;

	for (size_t i = 0; i < NSTARTS; i++) {
		CU_ASSERT_EQUAL(collect(&p, starts[i], false, &out), TXREQ_FATAL);
		CU_ASSERT_EQUAL(out.reason, TXREQ_R_INCOMPLETE);
	}
}

static void test_one_request(void)
{
	struct pkt p = {.n = 0};
	struct txreq_pkt out;

	req(&p, 77, 100, NETTXF_csum_blank | NETTXF_data_validated, 9, 60);
	for (size_t i = 0; i < NSTARTS; i++) {
		CU_ASSERT_EQUAL_FATAL(collect(&p, starts[i], false, &out), TXREQ_OK);
		CU_ASSERT_EQUAL(out.consumed, 1);
		CU_ASSERT_EQUAL(out.nfrags, 1);
		CU_ASSERT_EQUAL(out.nextras, 0);
		CU_ASSERT_FALSE(out.has_gso);
		CU_ASSERT_EQUAL(out.total, 60);
		CU_ASSERT_EQUAL(out.first_len, 60);
		CU_ASSERT_EQUAL(out.reason, TXREQ_R_NONE);
		CU_ASSERT(req_eq(&out.first, &p.s[0].req));
		CU_ASSERT(req_eq(&out.frags[0], &p.s[0].req));
	}

	/* a second packet already produced behind it is not touched */
	req(&p, 78, 0, 0, 10, 80);
	CU_ASSERT_EQUAL(collect(&p, 3, false, &out), TXREQ_OK);
	CU_ASSERT_EQUAL(out.consumed, 1);
	CU_ASSERT_EQUAL(out.first.id, 9);
	/* ... and is the next one */
	ring_setup(POISON_ZERO);
	ring_write(&p, 3, 2);
	CU_ASSERT_EQUAL(txreq_collect(&back, 4, 5, false, &out), TXREQ_OK);
	CU_ASSERT_EQUAL(out.first.id, 10);
	CU_ASSERT_EQUAL(out.total, 80);

	/* a page-sized packet, and one ending exactly on the page end */
	p.n = 0;
	req(&p, 1, 0, 0, 1, PG);
	CU_ASSERT_EQUAL(collect(&p, 0, false, &out), TXREQ_OK);
	p.n = 0;
	req(&p, 1, PG - 60, 0, 1, 60);
	CU_ASSERT_EQUAL(collect(&p, 0, false, &out), TXREQ_OK);
	p.n = 0;
	req(&p, 1, PG - 59, 0, 1, 60);
	CU_ASSERT_EQUAL(collect(&p, 0, false, &out), TXREQ_FATAL);
	CU_ASSERT_EQUAL(out.reason, TXREQ_R_CROSS_PAGE);
}

static void test_multi_slot(void)
{
	struct pkt p = {.n = 0};
	struct txreq_pkt out;

	req(&p, 10, 64, NETTXF_more_data | NETTXF_csum_blank, 3, 1000);
	req(&p, 11, 0, NETTXF_more_data, 4, 300);
	req(&p, 12, 4096 - 200, 0, 5, 200);
	for (size_t i = 0; i < NSTARTS; i++) {
		CU_ASSERT_EQUAL_FATAL(collect(&p, starts[i], false, &out), TXREQ_OK);
		CU_ASSERT_EQUAL(out.consumed, 3);
		CU_ASSERT_EQUAL(out.nfrags, 3);
		CU_ASSERT_EQUAL(out.total, 1000);
		CU_ASSERT_EQUAL(out.first_len, 500);
		CU_ASSERT_EQUAL(out.first.size, 1000); /* slot 0 as the guest wrote it */
		CU_ASSERT_EQUAL(out.frags[0].size, 500);
		CU_ASSERT_EQUAL(out.frags[0].gref, 10);
		CU_ASSERT_EQUAL(out.frags[0].offset, 64);
		CU_ASSERT(req_eq(&out.frags[1], &p.s[1].req));
		CU_ASSERT(req_eq(&out.frags[2], &p.s[2].req));
		CU_ASSERT_EQUAL(out.frags[0].id, 3);
		CU_ASSERT_EQUAL(out.frags[1].id, 4);
		CU_ASSERT_EQUAL(out.frags[2].id, 5);
	}

	/* tiny slots: Ethernet header alone in slot 0, then 1-byte pieces */
	p.n = 0;
	data_pkt(&p, 10, 20, 14, 1);
	CU_ASSERT_EQUAL(collect(&p, 0xfffffffbu, false, &out), TXREQ_OK);
	CU_ASSERT_EQUAL(out.first_len, 14);
	CU_ASSERT_EQUAL(out.total, 23);
	CU_ASSERT_EQUAL(out.nfrags, 10);

	/* follow-on slot ending exactly at the page end is fine */
	p.n = 0;
	req(&p, 1, 0, NETTXF_more_data, 1, 100);
	req(&p, 2, 4096 - 40, 0, 2, 40);
	CU_ASSERT_EQUAL(collect(&p, 0, false, &out), TXREQ_OK);
	CU_ASSERT_EQUAL(out.first_len, 60);

	/* fragments exactly summing to the total leave slot 0 with 0 bytes:
	 * below an Ethernet header */
	p.n = 0;
	req(&p, 1, 0, NETTXF_more_data, 1, 100);
	req(&p, 2, 0, 0, 2, 100);
	CU_ASSERT_EQUAL(collect(&p, 0, false, &out), TXREQ_DROP);
	CU_ASSERT_EQUAL(out.reason, TXREQ_R_SHORT_FIRST);
	CU_ASSERT_EQUAL(out.consumed, 2);
}

static void test_wrap(void)
{
	struct pkt p = {.n = 0};
	struct txreq_pkt out;
	/* packets straddling the ring-size boundary and the 2^32 wrap */
	static const RING_IDX wrap_starts[] = {
	    254, 255, 510, 0xfffffffdu, 0xffffffffu, 0xfffffff8u, 0xffffff00u - 3};

	data_pkt(&p, 6, 40, 100, 50);
	for (size_t i = 0; i < sizeof(wrap_starts) / sizeof(wrap_starts[0]); i++) {
		RING_IDX c = wrap_starts[i];

		CU_ASSERT_EQUAL_FATAL(collect(&p, c, false, &out), TXREQ_OK);
		CU_ASSERT_EQUAL(out.consumed, 6);
		CU_ASSERT_EQUAL(out.nfrags, 6);
		CU_ASSERT_EQUAL(out.first_len, 100);
		for (unsigned int k = 0; k < 6; k++)
			CU_ASSERT_EQUAL(out.frags[k].id, 40 + k);
		/* cons + consumed is where the next packet starts */
		CU_ASSERT_EQUAL((RING_IDX)(c + out.consumed), (RING_IDX)(c + 6));
	}

	/* a full ring (prod - cons == RING_SIZE) of one-slot packets,
	 * starting just below 2^32 */
	ring_setup(POISON_ONES);
	{
		RING_IDX cons = 0xffffff80u, prod = cons + rsize;
		unsigned int n = 0;

		for (RING_IDX i = cons; i != prod; i++) {
			netif_tx_request_t *r = RING_GET_REQUEST(&front, i);

			memset(r, 0, sizeof(*r));
			r->gref = 8;
			r->id = (uint16_t)(i & 0xffff);
			r->size = 60;
		}
		sring->req_prod = prod;
		while (cons != prod) {
			if (txreq_collect(&back, cons, prod, false, &out) != TXREQ_OK ||
			    out.first.id != (uint16_t)(cons & 0xffff))
				break;
			cons += out.consumed;
			n++;
		}
		CU_ASSERT_EQUAL(n, rsize);
		CU_ASSERT_EQUAL(cons, prod);
	}
}

static void test_slot_limits(void)
{
	struct pkt p;
	struct txreq_pkt out;

	/* 18 data slots: accepted */
	p.n = 0;
	data_pkt(&p, 18, 500, 60, 10);
	for (size_t i = 0; i < NSTARTS; i++) {
		CU_ASSERT_EQUAL_FATAL(collect(&p, starts[i], false, &out), TXREQ_OK);
		CU_ASSERT_EQUAL(out.nfrags, 18);
		CU_ASSERT_EQUAL(out.consumed, 18);
		CU_ASSERT_EQUAL(out.first_len, 60);
		CU_ASSERT_EQUAL(out.frags[17].id, 517);
	}

	/* 19: dropped, every slot consumed and its id kept */
	for (unsigned int n = 19; n <= 19; n++) {
		p.n = 0;
		data_pkt(&p, n, 700, 60, 10);
		for (size_t i = 0; i < NSTARTS; i++) {
			CU_ASSERT_EQUAL_FATAL(collect(&p, starts[i], false, &out), TXREQ_DROP);
			CU_ASSERT_EQUAL(out.reason, TXREQ_R_TOO_MANY_SLOTS);
			CU_ASSERT_EQUAL(out.consumed, n);
			CU_ASSERT_EQUAL(out.nfrags, n);
			for (unsigned int k = 0; k < n; k++)
				CU_ASSERT_EQUAL(out.frags[k].id, 700 + k);
		}
		/* also with an extra in the middle of the ring positions */
		p.n = 0;
		req(&p, 1, 0, NETTXF_more_data | NETTXF_extra_info, 900,
		    (uint16_t)(60 + 10 * (n - 1)));
		extra(&p, XEN_NETIF_EXTRA_TYPE_MCAST_ADD, 0, 0, 0);
		for (unsigned int k = 1; k < n; k++)
			req(&p, 1, 0, k + 1 < n ? NETTXF_more_data : 0, (uint16_t)(900 + k), 10);
		CU_ASSERT_EQUAL(collect(&p, 0xfffffff9u, false, &out), TXREQ_DROP);
		CU_ASSERT_EQUAL(out.reason, TXREQ_R_TOO_MANY_SLOTS);
		CU_ASSERT_EQUAL(out.consumed, n + 1);
		CU_ASSERT_EQUAL(out.nextras, 1);
		CU_ASSERT_EQUAL(out.extra_pos[0], 1);
		CU_ASSERT_EQUAL(out.nfrags, n);
		for (unsigned int k = 0; k < n; k++)
			CU_ASSERT_EQUAL(out.frags[k].id, 900 + k);
	}

	/* 20 and more: hostile (Linux's fatal_skb_slots), up to 255 */
	for (unsigned int n = 20; n <= 255; n += n < 21 ? 1 : n < 40 ? 19 : 215) {
		p.n = 0;
		data_pkt(&p, n, 0, 60, 10);
		for (size_t i = 0; i < NSTARTS; i++) {
			CU_ASSERT_EQUAL(collect(&p, starts[i], false, &out), TXREQ_FATAL);
			CU_ASSERT_EQUAL(out.reason, TXREQ_R_HOSTILE_SLOTS);
		}
	}
	/* ... even when the slots are empty or would overflow the total */
	p.n = 0;
	data_pkt(&p, 25, 0, 60, 0);
	CU_ASSERT_EQUAL(collect(&p, 0, false, &out), TXREQ_FATAL);
	CU_ASSERT_EQUAL(out.reason, TXREQ_R_HOSTILE_SLOTS);
}

static void test_cross_page(void)
{
	struct pkt p;
	struct txreq_pkt out;

	/* follow-on slot: offset + size beyond the page */
	p.n = 0;
	req(&p, 1, 0, NETTXF_more_data, 1, 200);
	req(&p, 2, 0, NETTXF_more_data, 2, 50);
	req(&p, 3, 4000, 0, 3, 97);
	CU_ASSERT_EQUAL(collect(&p, 0xfffffffeu, false, &out), TXREQ_FATAL);
	CU_ASSERT_EQUAL(out.reason, TXREQ_R_CROSS_PAGE);
	p.s[2].req.size = 96;
	CU_ASSERT_EQUAL(collect(&p, 0xfffffffeu, false, &out), TXREQ_OK);
	/* offset alone past the page */
	p.s[2].req.offset = 5000;
	p.s[2].req.size = 1;
	CU_ASSERT_EQUAL(collect(&p, 3, false, &out), TXREQ_FATAL);
	CU_ASSERT_EQUAL(out.reason, TXREQ_R_CROSS_PAGE);
	/* ... even in an otherwise dropped packet (empty fragments) */
	p.n = 0;
	req(&p, 1, 0, NETTXF_more_data, 1, 200);
	req(&p, 2, 0, NETTXF_more_data, 2, 0);
	req(&p, 3, 4095, 0, 3, 2);
	CU_ASSERT_EQUAL(collect(&p, 0, false, &out), TXREQ_FATAL);
	CU_ASSERT_EQUAL(out.reason, TXREQ_R_CROSS_PAGE);

	/* slot 0: offset + first_len (not offset + total) is what counts */
	p.n = 0;
	req(&p, 1, 4076, NETTXF_more_data, 1, 100);
	req(&p, 2, 0, 0, 2, 80);
	CU_ASSERT_EQUAL(collect(&p, 0, false, &out), TXREQ_OK);
	CU_ASSERT_EQUAL(out.first_len, 20);
	p.s[0].req.offset = 4077;
	CU_ASSERT_EQUAL(collect(&p, 0, false, &out), TXREQ_FATAL);
	CU_ASSERT_EQUAL(out.reason, TXREQ_R_CROSS_PAGE);
	p.s[0].req.offset = 4090;
	CU_ASSERT_EQUAL(collect(&p, 255, false, &out), TXREQ_FATAL);
	CU_ASSERT_EQUAL(out.reason, TXREQ_R_CROSS_PAGE);
	/* single slot with a total above the page */
	p.n = 0;
	req(&p, 1, 0, 0, 1, 5000);
	CU_ASSERT_EQUAL(collect(&p, 0, false, &out), TXREQ_FATAL);
	CU_ASSERT_EQUAL(out.reason, TXREQ_R_CROSS_PAGE);
	/* a 64 KiB packet over 17 slots is legal */
	p.n = 0;
	data_pkt(&p, 17, 0, 65535 - 16 * 4000, 4000);
	for (unsigned int k = 1; k < 17; k++)
		p.s[k].req.offset = 96;
	CU_ASSERT_EQUAL(collect(&p, 0, false, &out), TXREQ_OK);
	CU_ASSERT_EQUAL(out.total, 65535);
	CU_ASSERT_EQUAL(out.first_len, 1535);
}

static void test_drops(void)
{
	struct pkt p;
	struct txreq_pkt out;

	/* first fragment below an Ethernet header */
	p.n = 0;
	req(&p, 1, 0, 0, 1, 13);
	CU_ASSERT_EQUAL(collect(&p, 0, false, &out), TXREQ_DROP);
	CU_ASSERT_EQUAL(out.reason, TXREQ_R_SHORT_FIRST);
	CU_ASSERT_EQUAL(out.consumed, 1);
	p.s[0].req.size = 14;
	CU_ASSERT_EQUAL(collect(&p, 0, false, &out), TXREQ_OK);
	p.s[0].req.size = 0;
	CU_ASSERT_EQUAL(collect(&p, 0, false, &out), TXREQ_DROP);
	CU_ASSERT_EQUAL(out.reason, TXREQ_R_SHORT_FIRST);
	p.n = 0;
	req(&p, 1, 0, NETTXF_more_data, 1, 100);
	req(&p, 2, 0, 0, 2, 90);
	CU_ASSERT_EQUAL(collect(&p, 0xffffffffu, false, &out), TXREQ_DROP);
	CU_ASSERT_EQUAL(out.reason, TXREQ_R_SHORT_FIRST);
	CU_ASSERT_EQUAL(out.consumed, 2);
	CU_ASSERT_EQUAL(out.nfrags, 2);
	CU_ASSERT_EQUAL(out.frags[1].id, 2);

	/* follow-on sizes summing above the total */
	p.n = 0;
	req(&p, 1, 0, NETTXF_more_data, 1, 100);
	req(&p, 2, 0, NETTXF_more_data, 2, 60);
	req(&p, 3, 0, 0, 3, 50);
	CU_ASSERT_EQUAL(collect(&p, 254, false, &out), TXREQ_DROP);
	CU_ASSERT_EQUAL(out.reason, TXREQ_R_SIZE_MISMATCH);
	CU_ASSERT_EQUAL(out.consumed, 3);
	CU_ASSERT_EQUAL(out.nfrags, 3);
	CU_ASSERT_EQUAL(out.frags[2].id, 3);
	/* ... also with the sum past 65535 */
	p.n = 0;
	data_pkt(&p, 18, 0, 60, 4000);
	for (unsigned int k = 0; k < 18; k++)
		p.s[k].req.offset = 0;
	p.s[0].req.size = 100;
	CU_ASSERT_EQUAL(collect(&p, 0, false, &out), TXREQ_DROP);
	CU_ASSERT_EQUAL(out.reason, TXREQ_R_SIZE_MISMATCH);
}

/* Threat 9 (XSA-448): zero-length follow-on slots are legal and carry
 * nothing; a packet of 1 real slot and 17 empty ones is accepted whole. */
static void test_empty_slots(void)
{
	struct pkt p;
	struct txreq_pkt out;

	p.n = 0;
	req(&p, 1, 0, NETTXF_more_data, 1, 100);
	req(&p, 2, 0, NETTXF_more_data, 2, 0);
	req(&p, 3, 0, 0, 3, 20);
	CU_ASSERT_EQUAL(collect(&p, 0xfffffffeu, false, &out), TXREQ_OK);
	CU_ASSERT_EQUAL(out.consumed, 3);
	CU_ASSERT_EQUAL(out.nfrags, 3);
	CU_ASSERT_EQUAL(out.first_len, 80);
	CU_ASSERT_EQUAL(out.frags[1].size, 0);

	/* 1 real + 17 empty */
	p.n = 0;
	req(&p, 1, 0, NETTXF_more_data, 100, 60);
	for (uint16_t k = 1; k < 18; k++)
		req(&p, 1, 0, k < 17 ? NETTXF_more_data : 0, (uint16_t)(100 + k), 0);
	for (size_t i = 0; i < NSTARTS; i++) {
		CU_ASSERT_EQUAL_FATAL(collect(&p, starts[i], false, &out), TXREQ_OK);
		CU_ASSERT_EQUAL(out.nfrags, 18);
		CU_ASSERT_EQUAL(out.consumed, 18);
		CU_ASSERT_EQUAL(out.first_len, 60);
		CU_ASSERT_EQUAL(out.frags[17].id, 117);
	}
	/* ... and 1 real + 18 empty is 19 slots: dropped as too many */
	req(&p, 1, 0, 0, 118, 0);
	p.s[17].req.flags = NETTXF_more_data;
	CU_ASSERT_EQUAL(collect(&p, 0, false, &out), TXREQ_DROP);
	CU_ASSERT_EQUAL(out.reason, TXREQ_R_TOO_MANY_SLOTS);
}

static void test_gso(void)
{
	struct pkt p;
	struct txreq_pkt out;

	/* valid GSO extra: dropped when the backend does not offer GSO */
	p.n = 0;
	req(&p, 1, 0, NETTXF_more_data | NETTXF_extra_info, 1, 1000);
	extra(&p, XEN_NETIF_EXTRA_TYPE_GSO, 0, 1448, XEN_NETIF_GSO_TYPE_TCPV4);
	req(&p, 2, 0, 0, 2, 400);
	for (size_t i = 0; i < NSTARTS; i++) {
		CU_ASSERT_EQUAL_FATAL(collect(&p, starts[i], false, &out), TXREQ_DROP);
		CU_ASSERT_EQUAL(out.reason, TXREQ_R_GSO);
		CU_ASSERT_EQUAL(out.consumed, 3);
		CU_ASSERT_EQUAL(out.nextras, 1);
		CU_ASSERT_EQUAL(out.extra_pos[0], 1);
		CU_ASSERT_EQUAL(out.nfrags, 2);
		CU_ASSERT_EQUAL(out.frags[0].id, 1);
		CU_ASSERT_EQUAL(out.frags[1].id, 2);
	}
	/* ... and accepted when it does */
	CU_ASSERT_EQUAL(collect(&p, 0xffffffffu, true, &out), TXREQ_OK);
	CU_ASSERT(out.has_gso);
	CU_ASSERT_EQUAL(out.gso.u.gso.size, 1448);
	CU_ASSERT_EQUAL(out.gso.u.gso.type, XEN_NETIF_GSO_TYPE_TCPV4);
	CU_ASSERT_EQUAL(out.first_len, 600);
	CU_ASSERT_EQUAL(out.consumed, 3);
	CU_ASSERT_EQUAL(out.nfrags, 2);

	/* GSO extra on a one-slot packet */
	p.n = 0;
	req(&p, 1, 0, NETTXF_extra_info, 7, 100);
	extra(&p, XEN_NETIF_EXTRA_TYPE_GSO, 0, 1440, XEN_NETIF_GSO_TYPE_TCPV6);
	CU_ASSERT_EQUAL(collect(&p, 255, false, &out), TXREQ_DROP);
	CU_ASSERT_EQUAL(out.reason, TXREQ_R_GSO);
	CU_ASSERT_EQUAL(out.consumed, 2);
	CU_ASSERT_EQUAL(out.extra_pos[0], 1);
	CU_ASSERT_EQUAL(collect(&p, 255, true, &out), TXREQ_OK);

	/* size 0 */
	p.s[1].ex.u.gso.size = 0;
	CU_ASSERT_EQUAL(collect(&p, 0, true, &out), TXREQ_FATAL);
	CU_ASSERT_EQUAL(out.reason, TXREQ_R_BAD_GSO);
	CU_ASSERT_EQUAL(collect(&p, 0, false, &out), TXREQ_FATAL);
	CU_ASSERT_EQUAL(out.reason, TXREQ_R_BAD_GSO);
	/* unknown types */
	p.s[1].ex.u.gso.size = 1400;
	for (unsigned int t = 0; t < 256; t++) {
		if (t == XEN_NETIF_GSO_TYPE_TCPV4 || t == XEN_NETIF_GSO_TYPE_TCPV6)
			continue;
		p.s[1].ex.u.gso.type = (uint8_t)t;
		CU_ASSERT_EQUAL(collect(&p, 0, false, &out), TXREQ_FATAL);
		CU_ASSERT_EQUAL(out.reason, TXREQ_R_BAD_GSO);
	}
}

static void test_extras(void)
{
	struct pkt p;
	struct txreq_pkt out;

	/* every valid type once, chained with MORE */
	p.n = 0;
	req(&p, 1, 0, NETTXF_more_data | NETTXF_extra_info, 1, 300);
	extra(&p, XEN_NETIF_EXTRA_TYPE_MCAST_ADD, XEN_NETIF_EXTRA_FLAG_MORE, 0, 0);
	extra(&p, XEN_NETIF_EXTRA_TYPE_GSO, XEN_NETIF_EXTRA_FLAG_MORE, 1000,
	      XEN_NETIF_GSO_TYPE_TCPV6);
	extra(&p, XEN_NETIF_EXTRA_TYPE_HASH, XEN_NETIF_EXTRA_FLAG_MORE, 0, 0);
	extra(&p, XEN_NETIF_EXTRA_TYPE_MCAST_DEL, 0, 0, 0);
	req(&p, 2, 0, 0, 2, 100);
	CU_ASSERT_EQUAL_FATAL(collect(&p, 0xfffffffdu, true, &out), TXREQ_OK);
	CU_ASSERT_EQUAL(out.consumed, 6);
	CU_ASSERT_EQUAL(out.nextras, 4);
	for (unsigned int k = 0; k < 4; k++)
		CU_ASSERT_EQUAL(out.extra_pos[k], 1 + k);
	CU_ASSERT_EQUAL(out.nfrags, 2);
	CU_ASSERT_EQUAL(out.frags[1].id, 2);
	CU_ASSERT_EQUAL(out.first_len, 200);
	CU_ASSERT(out.has_gso);
	/* without GSO offered, the same packet is dropped whole */
	CU_ASSERT_EQUAL(collect(&p, 0xfffffffdu, false, &out), TXREQ_DROP);
	CU_ASSERT_EQUAL(out.consumed, 6);
	CU_ASSERT_EQUAL(out.nextras, 4);
	/* a non-GSO extra alone is fine without GSO */
	p.n = 0;
	req(&p, 1, 0, NETTXF_extra_info, 1, 60);
	extra(&p, XEN_NETIF_EXTRA_TYPE_HASH, 0, 0, 0);
	CU_ASSERT_EQUAL(collect(&p, 0, false, &out), TXREQ_OK);
	CU_ASSERT_EQUAL(out.consumed, 2);
	CU_ASSERT_FALSE(out.has_gso);

	/* invalid types */
	static const uint8_t bad[] = {XEN_NETIF_EXTRA_TYPE_NONE, XEN_NETIF_EXTRA_TYPE_MAX, 6, 0x80,
				      0xff};
	for (size_t i = 0; i < sizeof(bad); i++) {
		p.n = 0;
		req(&p, 1, 0, NETTXF_extra_info, 1, 60);
		extra(&p, bad[i], 0, 0, 0);
		CU_ASSERT_EQUAL(collect(&p, 0, false, &out), TXREQ_FATAL);
		CU_ASSERT_EQUAL(out.reason, TXREQ_R_BAD_EXTRA);
		/* ... also second in a chain */
		p.n = 0;
		req(&p, 1, 0, NETTXF_extra_info, 1, 60);
		extra(&p, XEN_NETIF_EXTRA_TYPE_HASH, XEN_NETIF_EXTRA_FLAG_MORE, 0, 0);
		extra(&p, bad[i], 0, 0, 0);
		CU_ASSERT_EQUAL(collect(&p, 0xffffffffu, false, &out), TXREQ_FATAL);
		CU_ASSERT_EQUAL(out.reason, TXREQ_R_BAD_EXTRA);
	}

	/* a type repeated */
	p.n = 0;
	req(&p, 1, 0, NETTXF_extra_info, 1, 60);
	extra(&p, XEN_NETIF_EXTRA_TYPE_GSO, XEN_NETIF_EXTRA_FLAG_MORE, 1000,
	      XEN_NETIF_GSO_TYPE_TCPV4);
	extra(&p, XEN_NETIF_EXTRA_TYPE_GSO, 0, 1000, XEN_NETIF_GSO_TYPE_TCPV4);
	CU_ASSERT_EQUAL(collect(&p, 0, true, &out), TXREQ_FATAL);
	CU_ASSERT_EQUAL(out.reason, TXREQ_R_BAD_EXTRA);
	p.n = 0;
	req(&p, 1, 0, NETTXF_extra_info, 1, 60);
	extra(&p, XEN_NETIF_EXTRA_TYPE_MCAST_ADD, XEN_NETIF_EXTRA_FLAG_MORE, 0, 0);
	extra(&p, XEN_NETIF_EXTRA_TYPE_HASH, XEN_NETIF_EXTRA_FLAG_MORE, 0, 0);
	extra(&p, XEN_NETIF_EXTRA_TYPE_MCAST_ADD, 0, 0, 0);
	CU_ASSERT_EQUAL(collect(&p, 250, false, &out), TXREQ_FATAL);
	CU_ASSERT_EQUAL(out.reason, TXREQ_R_BAD_EXTRA);
	/* a fifth extra can only repeat a type */
	p.n = 0;
	req(&p, 1, 0, NETTXF_extra_info, 1, 60);
	for (uint8_t t = 1; t <= 4; t++)
		extra(&p, t, XEN_NETIF_EXTRA_FLAG_MORE, 1000, XEN_NETIF_GSO_TYPE_TCPV4);
	extra(&p, XEN_NETIF_EXTRA_TYPE_HASH, 0, 0, 0);
	CU_ASSERT_EQUAL(collect(&p, 0, true, &out), TXREQ_FATAL);
	CU_ASSERT_EQUAL(out.reason, TXREQ_R_BAD_EXTRA);
	CU_ASSERT(out.nextras <= TXREQ_MAX_EXTRAS);
}

static void test_incomplete(void)
{
	struct pkt p;
	struct txreq_pkt out;

	/* extra_info on slot 0, nothing produced after it */
	p.n = 0;
	req(&p, 1, 0, NETTXF_extra_info, 1, 60);
	extra(&p, XEN_NETIF_EXTRA_TYPE_HASH, 0, 0, 0);
	for (size_t i = 0; i < NSTARTS; i++) {
		CU_ASSERT_EQUAL(collect_n(&p, starts[i], 1, false, &out), TXREQ_FATAL);
		CU_ASSERT_EQUAL(out.reason, TXREQ_R_INCOMPLETE);
	}
	/* an extra chain (MORE) running past prod */
	p.n = 0;
	req(&p, 1, 0, NETTXF_extra_info, 1, 60);
	extra(&p, XEN_NETIF_EXTRA_TYPE_HASH, XEN_NETIF_EXTRA_FLAG_MORE, 0, 0);
	extra(&p, XEN_NETIF_EXTRA_TYPE_MCAST_ADD, 0, 0, 0);
	for (size_t i = 0; i < NSTARTS; i++) {
		CU_ASSERT_EQUAL(collect_n(&p, starts[i], 2, false, &out), TXREQ_FATAL);
		CU_ASSERT_EQUAL(out.reason, TXREQ_R_INCOMPLETE);
		CU_ASSERT_EQUAL(collect_n(&p, starts[i], 3, false, &out), TXREQ_OK);
	}
	/* extras complete, data chain not */
	p.n = 0;
	req(&p, 1, 0, NETTXF_extra_info | NETTXF_more_data, 1, 100);
	extra(&p, XEN_NETIF_EXTRA_TYPE_HASH, 0, 0, 0);
	req(&p, 2, 0, 0, 2, 40);
	CU_ASSERT_EQUAL(collect_n(&p, 0xffffffffu, 2, false, &out), TXREQ_FATAL);
	CU_ASSERT_EQUAL(out.reason, TXREQ_R_INCOMPLETE);
	CU_ASSERT_EQUAL(collect_n(&p, 0xffffffffu, 3, false, &out), TXREQ_OK);

	/* a more_data chain running past prod, at every length up to 20 */
	for (unsigned int n = 2; n <= 20; n++) {
		p.n = 0;
		data_pkt(&p, n, 0, 60, 10);
		for (size_t i = 0; i < NSTARTS; i++) {
			CU_ASSERT_EQUAL(collect_n(&p, starts[i], n - 1, false, &out), TXREQ_FATAL);
			CU_ASSERT_EQUAL(out.reason, TXREQ_R_INCOMPLETE);
		}
	}
	/* the last produced slot itself says more_data */
	p.n = 0;
	req(&p, 1, 0, NETTXF_more_data, 1, 100);
	CU_ASSERT_EQUAL(collect(&p, 0, false, &out), TXREQ_FATAL);
	CU_ASSERT_EQUAL(out.reason, TXREQ_R_INCOMPLETE);
	/* 19 slots, all saying more_data */
	p.n = 0;
	for (unsigned int k = 0; k < 19; k++)
		req(&p, 1, 0, NETTXF_more_data, (uint16_t)k, 10);
	CU_ASSERT_EQUAL(collect_n(&p, 0, 19, false, &out), TXREQ_FATAL);
	CU_ASSERT_EQUAL(out.reason, TXREQ_R_INCOMPLETE);
}

static void test_reason_names(void)
{
	CU_ASSERT_STRING_EQUAL(txreq_reason_name(TXREQ_R_NONE), "none");
	CU_ASSERT_STRING_EQUAL(txreq_reason_name(TXREQ_R_CROSS_PAGE), "cross_page");
	CU_ASSERT_STRING_EQUAL(txreq_reason_name(TXREQ_R_HOSTILE_SLOTS), "hostile_slot_count");
	CU_ASSERT_STRING_EQUAL(txreq_reason_name(TXREQ_R_COUNT), "?");
	CU_ASSERT_STRING_EQUAL(txreq_reason_name((enum txreq_reason) - 1), "?");
	for (int r = 0; r < TXREQ_R_COUNT; r++)
		CU_ASSERT_PTR_NOT_NULL(txreq_reason_name((enum txreq_reason)r));
}

static int suite_init(void)
{
	page = aligned_alloc(PG, PG);
	return page ? 0 : 1;
}

static int suite_clean(void)
{
	free(page);
	page = NULL;
	return 0;
}

CU_ErrorCode test_txreq_register(void)
{
	CU_pSuite s = CU_add_suite("txreq", suite_init, suite_clean);

	if (!s)
		return CU_get_error();
	CU_add_test(s, "ring size", test_ring_size);
	CU_add_test(s, "empty", test_empty);
	CU_add_test(s, "one request", test_one_request);
	CU_add_test(s, "multi-slot packet", test_multi_slot);
	CU_add_test(s, "index wrap-around", test_wrap);
	CU_add_test(s, "slot count limits", test_slot_limits);
	CU_add_test(s, "cross-page slots", test_cross_page);
	CU_add_test(s, "dropped packets", test_drops);
	CU_add_test(s, "empty follow-on slots", test_empty_slots);
	CU_add_test(s, "GSO extra", test_gso);
	CU_add_test(s, "extra-info chains", test_extras);
	CU_add_test(s, "chains past prod", test_incomplete);
	CU_add_test(s, "reason names", test_reason_names);
	return CU_get_error();
}
