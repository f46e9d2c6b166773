/* SPDX-License-Identifier: MIT */
/*
 * fuzz_dp.c - libFuzzer target for the data path (dp*.c, with txreq.c,
 * frame.c and iptable.c under it) against the fake Xen libraries. The input
 * is a program for two hostile guests: it writes TX requests with any
 * grant, offset, flags, id and size, moves ring indexes anywhere (huge
 * jumps included), queues well-formed packets (some spoofed) singly or in
 * bursts, scribbles over the guests' data pages, posts RX buffers with good
 * and bad grants, kicks event channels, revokes grants, injects grant-copy
 * and map failures, reconnects with any refs and ports (one queue or two,
 * netif.h "Multi-queue", the operations playing either ring pair), kills a
 * domain, feeds frames in from the LAN side (floods included) and moves the clock
 * forward; in between it runs the daemon's main loop steps
 * (dp_handle_events, dp_run).
 *
 * Any sanitizer report is a bug, and so is a failed CHECK: queues stay
 * within their bound, an unconnected vif holds nothing, the uplink is only
 * handed whole frames that parse, and once every vif is freed nothing is
 * mapped or bound. Every run starts from an empty fake host and ends with
 * dp_free() and fake_reset(), so LeakSanitizer sees each run's leaks.
 *
 * Input: a byte whose bit 0 attaches the uplink, one configuration byte per
 * guest (features, channels, starting ring index), then operations, each an
 * opcode byte and its arguments. Reads past the end of the input give
 * zeros.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* First: it supplies the barriers Xen's ring.h needs. */
#include "ipnb/dp.h"

#include "fakeclock.h"
#include "fakexen.h"
#include "fuzz.h"
#include "netfront.h"

/* libFuzzer calls it once, before the first input. */
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define PG	   NF_PAGE
#define NPAGES	   8u	/* data pages per guest, for TX and RX alike */
#define NRO	   4u	/* pages whose read-only grants pick_ref() and op_grant() use */
#define NPORTS	   3u	/* unbound ports each guest allocates */
#define NGUEST	   2u	/* guests */
#define MAX_OPS	   400	/* operations per input */
#define MAX_FRAME  9018 /* template frames (jumbo) */
#define PUMP_LIMIT 50	/* dp_run() rounds per pump */

static const uint8_t lan_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x99};

/* A hostile guest: its netfront (one pool of NPAGES data pages, rxgref[]
 * read-write and txgref[] read-only grants of the same pages), and what
 * the control path gives the data path for it. */
struct guest {
	struct nf nf;
	/* A second ring pair (netif.h "Multi-queue"), set up after every
	 * guest's first so that the refs the committed seeds name stay
	 * theirs. op_queue() connects the vif with both, or swaps the two:
	 * the operations act on whichever is in nf. */
	struct nf q1;
	struct dp_vif_cfg cfg;
	struct dp_vif *vif;
	bool dead;
};

/* The data path's timers read CLOCK_MONOTONIC: an input may move it forward
 * (fakeclock.h). Only this thread's clock moves, and only while an input
 * runs: libFuzzer's own timers keep the real one. */

_Static_assert(sizeof(netif_extra_info_t) <= sizeof(netif_tx_request_t), "extra fits a slot");

static struct dp *dp;
static struct guest guests[NGUEST];
static unsigned int ndisabled;
static bool uplink_accepts;
static bool uplink_offload; /* plugged in with offloads */
static unsigned int announced;
static volatile uint32_t sink;

/* ---- input --------------------------------------------------------------- */

static struct guest *pick_guest(struct in *in)
{
	return &guests[u8(in) % NGUEST];
}

/* A grant ref as a guest would put it in a request: mostly one of its own
 * (rings and data pages, read-write or read-only, possibly revoked by now),
 * sometimes a small number (reserved or never granted), sometimes any. */
static grant_ref_t pick_ref(struct guest *g, struct in *in)
{
	uint8_t b = u8(in);
	unsigned int k;

	if (b == 0xff)
		return u32(in);
	if (b >= 0xf0)
		return b & 0x0f;
	k = b % (2 + NPAGES + NRO);
	if (k == 0)
		return g->nf.tx_ref;
	if (k == 1)
		return g->nf.rx_ref;
	k -= 2;
	return k < NPAGES ? g->nf.rxgref[k] : g->nf.txgref[k - NPAGES];
}

static evtchn_port_t pick_port(struct guest *g, struct in *in)
{
	uint8_t b = u8(in);

	return b < 0xf0 ? g->nf.ports[b % NPORTS] : (evtchn_port_t)(b & 0x0f);
}

/* ---- callbacks ----------------------------------------------------------- */

static void on_disable(void *arg, struct dp_vif *vif, const char *why)
{
	bool ours = false;

	CHECK(arg == &ndisabled);
	CHECK(why && why[0]);
	for (unsigned int i = 0; i < NGUEST; i++)
		ours = ours || guests[i].vif == vif;
	CHECK(ours);
	CHECK(!dp_vif_connected(vif));
	CHECK(dp_vif_queued(vif) == 0);
	ndisabled++;
}

/* The NIC side: gets whole frames that parse, touches every byte. Plugged
 * in with offloads, it may get blank checksums and GSO packets, whose
 * headers the data path checked; without, neither. */
static bool uplink_output(void *arg, const uint8_t *frame, size_t len, const struct frame_info *fi,
			  const struct ipnb_offload *o)
{
	struct frame_info again;
	uint32_t s = 0;

	CHECK(arg == &uplink_accepts);
	CHECK(len >= FRAME_ETH_HLEN && len <= DP_MAX_FRAME);
	if (!uplink_offload)
		CHECK(!o->gso_size && !o->csum_blank && !o->data_valid && len <= UINT16_MAX);
	if (o->gso_size)
		CHECK(o->csum_blank && o->gso_hdr_len < len && fi->l4_proto == IPPROTO_TCP);
	CHECK(fi->kind == FRAME_IPV4 || fi->kind == FRAME_IPV6);
	CHECK(frame_parse(frame, len, &again) == FRAME_OK);
	CHECK(again.kind == fi->kind && ipnb_addr_equal(&again.dst, &fi->dst));
	for (size_t i = 0; i < len; i++)
		s += frame[i];
	sink += s;
	return uplink_accepts;
}

static void uplink_announce(void *arg, const struct ipnb_addr *a)
{
	CHECK(arg == &uplink_accepts);
	CHECK(a->family == AF_INET || a->family == AF_INET6);
	announced++;
}

static const struct dp_port_ops uplink_ops = {
    .output = uplink_output, .announce = uplink_announce, .arg = &uplink_accepts, .mtu = 1500};
static const struct dp_port_ops uplink_offload_ops = {
    .output = uplink_output, .announce = uplink_announce, .arg = &uplink_accepts, .offload = true};

/* ---- guests -------------------------------------------------------------- */

/* n may exceed IPNB_VIF_MAX_ADDRS by up to 2: the data path keeps the first
 * IPNB_VIF_MAX_ADDRS and reports conflicts only among those. */
static void guest_set_addrs(struct guest *g, const struct ipnb_addr *a, size_t n)
{
	size_t conflicts[IPNB_VIF_MAX_ADDRS + 2], nc = 99;

	CHECK(n <= IPNB_VIF_MAX_ADDRS + 2);
	if (dp_vif_set_addrs(dp, g->vif, a, n, conflicts, &nc) >= 0) {
		CHECK(nc <= n && nc <= IPNB_VIF_MAX_ADDRS);
		for (size_t i = 0; i < nc; i++)
			CHECK(conflicts[i] < n);
	}
}

static void guest_own_addrs(struct guest *g)
{
	struct ipnb_addr a[2] = {{.family = AF_INET}, {.family = AF_INET6}};

	memcpy(a[0].bytes, g->nf.ip4, 4);
	memcpy(a[1].bytes, g->nf.ip6, 16);
	guest_set_addrs(g, a, 2);
}

/*
 * Guest n (domain n): its netfront with rings starting at an index cfg
 * chooses, and its vif connected.
 * cfg bits: 0 split channels, 1 feature-sg, 2 rx-notify, 3 csum offload,
 * 4 IPv6 csum offload, 5-7 starting ring index (some just below 2^32).
 */
static void guest_init(struct guest *g, uint8_t n, uint8_t cfg)
{
	static const RING_IDX starts[8] = {0,		1,	     255,	  256,
					   0x7fffffffu, 0xffffff00u, 0xfffffff0u, 0xffffffffu};
	const struct nf_params p = {
	    .nbuf = NPAGES, .nports = NPORTS, .split = cfg & 1, .shared_pages = true};
	char err[256];

	memset(g, 0, sizeof(*g));
	CHECK(fake_domain_create(n) == 0);
	CHECK(nf_init(&g->nf, n, &p) == 0);
	nf_rings_init(&g->nf, starts[cfg >> 5]);

	g->cfg = nf_vif_cfg(&g->nf);
	g->cfg.rx_sg = cfg & 2;
	g->cfg.rx_notify = cfg & 4;
	g->cfg.rx_csum_offload = cfg & 8;
	g->cfg.rx_ipv6_csum_offload = cfg & 16;
	g->vif = dp_vif_new(dp, (uint16_t)n, 0, g->nf.mac);
	CHECK(g->vif);
	guest_own_addrs(g);
	CHECK(dp_vif_connect(dp, g->vif, &g->cfg, err, sizeof(err)) == 0);
	CHECK(dp_vif_connected(g->vif) && dp_vif_carrier(g->vif));
}

static void guest_free(struct guest *g)
{
	nf_free(&g->nf);
	nf_free(&g->q1);
	memset(g, 0, sizeof(*g));
}

/* Any result but a crash: ports may be bogus, unbound or the domain dead. */
static void check_kick(int r)
{
	CHECK(r == 0 || r == -ENOTCONN || r == -EINVAL || r == -ESRCH);
}

/* ---- frames the guests (and the LAN) send -------------------------------- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* An IP datagram (UDP, TCP or ICMP) with payload bytes; returns the length. */
static size_t put_datagram(uint8_t *b, bool v6, const uint8_t *dmac, const uint8_t *smac,
			   const uint8_t *sip, const uint8_t *dip, uint8_t kind, size_t payload)
{
	static const uint8_t protos[3] = {IPPROTO_UDP, IPPROTO_TCP, 0};
	uint8_t proto = protos[kind % 3];
	size_t hl, l4h, len;
	uint8_t *l4;

	if (!proto)
		proto = v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
	l4h = proto == IPPROTO_TCP ? 20 : 8;
	if (payload > MAX_FRAME - 14 - 40 - l4h)
		payload = MAX_FRAME - 14 - 40 - l4h;
	hl = nf_put_eth_ip(b, v6, dmac, smac, sip, dip, proto, l4h + payload);
	l4 = b + hl;
	len = hl + l4h + payload;
	memset(l4, 0, l4h);
	for (size_t i = 0; i < payload; i++)
		l4[l4h + i] = (uint8_t)(i * 13 + 7);
	put16(l4, 40000);
	put16(l4 + 2, 7777);
	if (proto == IPPROTO_UDP) {
		put16(l4 + 4, (uint16_t)(8 + payload));
		put16(l4 + 6, 0x1234); /* a "partial" sum; completion rewrites it */
	} else if (proto == IPPROTO_TCP) {
		l4[12] = 5 << 4;
		put16(l4 + 16, 0x1234);
	} else {
		l4[0] = v6 ? 128 : 8; /* echo request */
	}
	return len;
}

/*
 * A frame guest g might send, chosen by the input: UDP/TCP/ICMP over IPv4
 * or IPv6 to its peer, to itself, off the host or to a group; ARP requests,
 * replies and probes; neighbour solicitations (and some advertisements and
 * router solicitations) from its address, its link-local address or ::;
 * other EtherTypes. Source MAC and IP are sometimes spoofed.
 * Returns the length written to b (MAX_FRAME bytes).
 */
static size_t guest_frame(struct guest *g, struct in *in, uint8_t *b)
{
	static const uint8_t ip4_far[4] = {192, 0, 2, 7}, ip4_group[4] = {224, 0, 0, 251};
	static const uint8_t ip6_far[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 7};
	static const uint8_t ip6_group[16] = {0xff, 0x02, [15] = 0xfb};
	static const uint8_t zero[16];
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	struct guest *peer = &guests[(g - guests + 1) % NGUEST];
	uint8_t kind = u8(in), who = u8(in), sub = kind / 5;
	size_t payload = u16(in) % (MAX_FRAME - 100);
	const uint8_t *smac = who & 1 ? peer->nf.mac : g->nf.mac;
	bool spoof_ip = who & 2;
	const uint8_t *d4, *d6;

	switch ((who >> 2) & 3) {
	case 0:
		d4 = peer->nf.ip4;
		d6 = peer->nf.ip6;
		break;
	case 1:
		d4 = g->nf.ip4;
		d6 = g->nf.ip6;
		break;
	case 2:
		d4 = ip4_far;
		d6 = ip6_far;
		break;
	default:
		d4 = ip4_group;
		d6 = ip6_group;
		break;
	}
	memset(b, 0, MAX_FRAME);
	switch (kind % 5) {
	case 0: /* IPv4 */
		return put_datagram(b, false, who & 16 ? bcast : nf_be_mac, smac,
				    spoof_ip ? peer->nf.ip4 : g->nf.ip4, d4, sub, payload);
	case 1: /* IPv6 */
		return put_datagram(b, true, who & 16 ? bcast : nf_be_mac, smac,
				    spoof_ip ? peer->nf.ip6 : (who & 32 ? g->nf.ip6_ll : g->nf.ip6),
				    d6, sub, payload);
	case 2: { /* ARP */
		const uint8_t *spa = who & 32 ? zero : spoof_ip ? peer->nf.ip4 : g->nf.ip4;

		return nf_put_arp(b, who & 16 ? nf_be_mac : bcast, smac, smac, spa, d4,
				  sub & 1 ? FRAME_ARP_REPLY : FRAME_ARP_REQUEST);
	}
	case 3: { /* neighbour discovery: mostly solicitations, some with a bad hop limit */
		static const uint8_t types[4] = {FRAME_ICMP6_NS, FRAME_ICMP6_NS, FRAME_ICMP6_NA,
						 133 /* router solicitation */};
		const uint8_t *src = who & 32	? zero
				     : spoof_ip ? peer->nf.ip6
				     : who & 64 ? g->nf.ip6_ll
						: g->nf.ip6;

		return nf_put_nd(b, who & 16 ? nf_be_mac : NULL, smac, src, d6,
				 types[(sub >> 1) % 4], sub & 1 ? 64 : 255);
	}
	default: /* neither IP nor ARP: VLAN-tagged, or some other protocol */
		memcpy(b, nf_be_mac, 6);
		memcpy(b + 6, smac, 6);
		put16(b + 12, sub & 1 ? 0x8100 : 0x88b5);
		return 14 + 46;
	}
}

/* ---- operations ---------------------------------------------------------- */

/* One TX request with every field from the input, at the guest's next slot. */
static void op_tx_req(struct in *in)
{
	struct guest *g = pick_guest(in);
	netif_tx_request_t *r = RING_GET_REQUEST(&g->nf.tx, g->nf.tx.req_prod_pvt);
	uint16_t off = u16(in);

	g->nf.tx.req_prod_pvt++;
	r->gref = pick_ref(g, in);
	r->offset = off & 0x8000 ? off : (uint16_t)(off % (PG + 1));
	r->flags = u8(in);
	r->id = u16(in);
	r->size = u16(in);
}

/* A slot of raw bytes (extra-info chains, garbage). */
static void op_tx_raw(struct in *in)
{
	struct guest *g = pick_guest(in);
	uint8_t *r = (uint8_t *)RING_GET_REQUEST(&g->nf.tx, g->nf.tx.req_prod_pvt);

	g->nf.tx.req_prod_pvt++;
	for (size_t i = 0; i < sizeof(netif_tx_request_t); i++)
		r[i] = u8(in);
}

/* A structured extra-info slot. */
static void op_tx_extra(struct in *in)
{
	struct guest *g = pick_guest(in);
	netif_tx_request_t *r = RING_GET_REQUEST(&g->nf.tx, g->nf.tx.req_prod_pvt);
	netif_extra_info_t ex;

	g->nf.tx.req_prod_pvt++;
	memset(&ex, 0, sizeof(ex));
	ex.type = u8(in) % (XEN_NETIF_EXTRA_TYPE_MAX + 1);
	ex.flags = u8(in) & 1 ? XEN_NETIF_EXTRA_FLAG_MORE : 0;
	ex.u.gso.size = u16(in);
	ex.u.gso.type = u8(in) % 4;
	memset(r, 0, sizeof(*r));
	memcpy(r, &ex, sizeof(ex));
}

/*
 * A well-formed packet: frame (len bytes) laid out in the guest's data
 * pages in chunks (the first at offset off of page, the rest at offset 0 of
 * the following pages), described by one data slot per chunk, optionally
 * with an extra-info slot after the first. fl: bits 0-1 go into the first
 * slot's flags (csum_blank, data_validated), bits 2-5 pick the extra's
 * type, bit 6 adds the extra, bit 7 uses the read-only grants.
 */
static void queue_pkt(struct guest *g, const uint8_t *frame, size_t len, unsigned int page,
		      size_t off, size_t chunk, uint8_t fl)
{
	bool ro = fl & 0x80, extra = fl & 0x40;
	size_t pos = 0;
	unsigned int k = 0;

	while (pos < len && k < 24) {
		size_t o = k ? 0 : off;
		size_t n = len - pos;
		unsigned int pg = (page + k) % NPAGES;
		uint16_t flags;

		if (n > chunk)
			n = chunk;
		if (n > PG - o)
			n = PG - o;
		memcpy(g->nf.txbuf + (size_t)pg * PG + o, frame + pos, n);
		pos += n;
		flags = (uint16_t)((k ? 0 : fl & (NETTXF_csum_blank | NETTXF_data_validated)) |
				   (pos < len ? NETTXF_more_data : 0) |
				   (!k && extra ? NETTXF_extra_info : 0));
		nf_put_tx(&g->nf, ro && pg < NRO ? g->nf.txgref[pg] : g->nf.rxgref[pg], (uint16_t)o,
			  k ? (uint16_t)n : (uint16_t)len, flags);
		if (!k && extra) {
			netif_tx_request_t *x = RING_GET_REQUEST(&g->nf.tx, g->nf.tx.req_prod_pvt);
			netif_extra_info_t ex;

			g->nf.tx.req_prod_pvt++;
			memset(&ex, 0, sizeof(ex));
			ex.type = (fl >> 2) % XEN_NETIF_EXTRA_TYPE_MAX;
			ex.u.gso.size = 1400;
			ex.u.gso.type = XEN_NETIF_GSO_TYPE_TCPV4;
			memset(x, 0, sizeof(*x));
			memcpy(x, &ex, sizeof(ex));
		}
		k++;
	}
}

/* One template packet (see guest_frame), or a burst of copies of it. */
static void op_tx_pkt(struct in *in, bool burst)
{
	static uint8_t frame[MAX_FRAME];
	unsigned int reps = burst ? 1 + u8(in) % 128 : 1;
	struct guest *g = pick_guest(in);
	size_t len = guest_frame(g, in, frame);
	unsigned int page = u8(in) % NPAGES;
	size_t off = u16(in) % PG;
	size_t chunk = 1 + u16(in) % PG;
	uint8_t fl = u8(in);

	for (unsigned int i = 0; i < reps; i++)
		queue_pkt(g, frame, len, page, off, chunk, fl);
}

/* Publishes the TX or RX requests (as netfront does) and kicks if asked
 * to. */
static void op_push(struct in *in)
{
	struct guest *g = pick_guest(in);

	check_kick(u8(in) & 1 ? nf_push_tx(&g->nf) : nf_push_rx(&g->nf));
}

/* Writes any value into one of the shared ring indexes, then kicks. */
static void op_index(struct in *in)
{
	struct guest *g = pick_guest(in);
	uint8_t which = u8(in);
	uint32_t v = u32(in);
	RING_IDX *idx;

	switch (which % 8) {
	case 0:
		idx = &g->nf.tx.sring->req_prod;
		break;
	case 1:
		idx = &g->nf.tx.sring->req_event;
		break;
	case 2:
		idx = &g->nf.tx.sring->rsp_prod;
		break;
	case 3:
		idx = &g->nf.tx.sring->rsp_event;
		break;
	case 4:
		idx = &g->nf.rx.sring->req_prod;
		break;
	case 5:
		idx = &g->nf.rx.sring->req_event;
		break;
	case 6:
		idx = &g->nf.rx.sring->rsp_prod;
		break;
	default:
		idx = &g->nf.rx.sring->rsp_event;
		break;
	}
	/* A small step either way, or anywhere at all. */
	if (which & 8)
		*idx = v;
	else
		*idx += (int8_t)v;
	if (which & 16)
		check_kick(nf_kick(&g->nf, which % 8 < 4 ? g->nf.port_tx : g->nf.port_rx));
}

/* Bytes into a data page. */
static void op_write(struct in *in)
{
	struct guest *g = pick_guest(in);
	uint8_t *p = g->nf.txbuf + (size_t)(u8(in) % NPAGES) * PG;
	size_t off = u16(in) % PG, n = u8(in);

	for (size_t i = 0; i < n && off + i < PG; i++)
		p[off + i] = u8(in);
}

/* n RX buffers posted and published, all with good grants or each with
 * whatever pick_ref() says. */
static void op_post_rx(struct in *in)
{
	struct guest *g = pick_guest(in);
	unsigned int n = u8(in) % 48;
	bool all_good = u8(in) & 1;
	RING_IDX first = g->nf.rx.req_prod_pvt;

	nf_queue_rx(&g->nf, n);
	for (unsigned int k = 0; k < n && !all_good; k++)
		RING_GET_REQUEST(&g->nf.rx, first + k)->gref = pick_ref(g, in);
	check_kick(nf_push_rx(&g->nf));
}

/* The guest takes its responses and re-arms rsp_event, as netfront does. */
static void op_reap(struct in *in)
{
	struct guest *g = pick_guest(in);

	nf_reap_tx(&g->nf, NULL);
	nf_reap_rx(&g->nf);
}

/* Revokes a data-page grant, or grants the page again. */
static void op_grant(struct in *in)
{
	struct guest *g = pick_guest(in);
	unsigned int i = u8(in) % (NPAGES + NRO);
	grant_ref_t *ref = i < NPAGES ? &g->nf.rxgref[i] : &g->nf.txgref[i - NPAGES];
	uint8_t *page = g->nf.rxbuf + (size_t)(i < NPAGES ? i : i - NPAGES) * PG;

	if (*ref && fake_grant_revoke(g->nf.domid, *ref) == 0)
		*ref = 0;
	else
		*ref = fake_grant(g->nf.domid, page, i >= NPAGES);
}

static void op_fail(struct in *in)
{
	uint8_t b = u8(in);

	switch (b % 3) {
	case 0:
		fake_gnt_fail_next_copy(u8(in) % 32, 1 + u8(in) % 8, GNTST_general_error);
		break;
	case 1:
		fake_gnt_fail_next_copy_call(EIO);
		break;
	default:
		fake_gnt_fail_next_map(ENOMEM);
		break;
	}
}

/*
 * The control path reconnects the vif (after a disable, or as a frontend
 * restart), with the frontend's refs and channels as the input says: its
 * own, or any of its grants (a data page as a ring, both rings on one
 * page) and ports. The vif is created again first if it was freed.
 */
static void op_reconnect(struct in *in)
{
	struct guest *g = pick_guest(in);
	uint8_t b = u8(in);
	struct dp_vif_cfg cfg = g->cfg;
	char err[256];

	if (!g->vif) {
		g->vif = dp_vif_new(dp, (uint16_t)g->nf.domid, 0, g->nf.mac);
		CHECK(g->vif);
		guest_own_addrs(g);
	}
	if (b & 1) {
		cfg.tx_ref = pick_ref(g, in);
		cfg.rx_ref = pick_ref(g, in);
	}
	if (b & 2) {
		cfg.evtchn_tx = pick_port(g, in);
		cfg.evtchn_rx = b & 4 ? pick_port(g, in) : cfg.evtchn_tx;
	}
	cfg.rx_sg = b & 8;
	cfg.rx_csum_offload = b & 16;
	cfg.rx_ipv6_csum_offload = b & 32;
	cfg.rx_notify = b & 64;
	if (b & 128)
		dp_vif_disconnect(dp, g->vif);
	err[0] = '\0';
	if (dp_vif_connect(dp, g->vif, &cfg, err, sizeof(err)) == 0) {
		CHECK(dp_vif_connected(g->vif));
		g->cfg = cfg;
		/* the guest kicks the ports it gave */
		g->nf.port_tx = cfg.evtchn_tx;
		g->nf.port_rx = cfg.evtchn_rx;
	} else {
		CHECK(err[0] && !dp_vif_connected(g->vif));
	}
}

/*
 * Multi-queue: the control path connects g's vif with two queues (nf and
 * q1, their own refs and ports or any the input picks, one channel or
 * split), or the guest's operations move to its other ring pair.
 */
static void op_queue(struct in *in)
{
	struct guest *g = pick_guest(in);
	uint8_t b = u8(in);
	struct dp_vif_cfg cfg;
	struct nf t;
	char err[256];

	if (!(b & 1)) {
		t = g->nf;
		g->nf = g->q1;
		g->q1 = t;
		return;
	}
	if (!g->vif)
		return;
	cfg = g->cfg;
	cfg.nqueues = 2;
	cfg.more[0] = (struct dp_ring_cfg){g->q1.tx_ref, g->q1.rx_ref, g->q1.ports[0],
					   b & 2 ? g->q1.ports[1] : g->q1.ports[0]};
	if (b & 4)
		cfg.more[0].tx_ref = pick_ref(g, in);
	if (b & 8)
		cfg.more[0].evtchn_rx = pick_port(g, in);
	cfg.rx_sg = b & 16;
	cfg.rx_notify = b & 32;
	cfg.rx_csum_offload = b & 64;
	err[0] = '\0';
	if (dp_vif_connect(dp, g->vif, &cfg, err, sizeof(err)) == 0) {
		CHECK(dp_vif_connected(g->vif) && dp_vif_nqueues(g->vif) == 2);
		g->cfg = cfg;
		g->q1.port_tx = cfg.more[0].evtchn_tx;
		g->q1.port_rx = cfg.more[0].evtchn_rx;
	} else {
		CHECK(err[0] && !dp_vif_connected(g->vif));
	}
}

static void op_disconnect(struct in *in)
{
	struct guest *g = pick_guest(in);
	uint8_t b = u8(in);

	if (!g->vif)
		return;
	if (b & 1) {
		dp_vif_free(dp, g->vif);
		g->vif = NULL;
	} else {
		dp_vif_disconnect(dp, g->vif);
		CHECK(!dp_vif_connected(g->vif) && dp_vif_queued(g->vif) == 0);
	}
}

/* The toolstack changes the vif's addresses (conflicts included) or MAC. */
static void op_addrs(struct in *in)
{
	struct guest *g = pick_guest(in);
	uint8_t b = u8(in);
	struct ipnb_addr a[IPNB_VIF_MAX_ADDRS + 2];
	size_t n = 0, want = b % (IPNB_VIF_MAX_ADDRS + 3);

	if (!g->vif)
		return;
	if (b & 0x80) {
		dp_vif_set_mac(g->vif, guests[u8(in) % NGUEST].nf.mac);
		return;
	}
	memset(a, 0, sizeof(a));
	for (; n < want; n++) {
		uint8_t c = u8(in);
		struct guest *o = &guests[c & 1];

		a[n].family = c & 2 ? AF_INET6 : AF_INET;
		if (c & 4) {
			memcpy(a[n].bytes, a[n].family == AF_INET ? o->nf.ip4 : o->nf.ip6,
			       ipnb_addr_len(&a[n]));
		} else {
			a[n].bytes[0] = 10;
			a[n].bytes[3] = (uint8_t)(c >> 3);
		}
	}
	guest_set_addrs(g, a, n);
}

/* A frame from the LAN (raw bytes, or a template addressed to a guest),
 * once or in a burst. */
static void op_uplink(struct in *in, bool burst)
{
	static const uint8_t lan_ip4[4] = {10, 99, 0, 200};
	static const uint8_t lan_ip6[16] = {0xfd, [14] = 0x02, [15] = 0x00};
	static uint8_t tpl[MAX_FRAME];
	/* enough to overflow both guests' RX queues */
	unsigned int reps = burst ? 1 + u16(in) % (2 * DP_RXQ_MAX + 100) : 1;
	struct ipnb_offload o = {0};
	struct frame_info fi;
	uint8_t b = u8(in), ob;
	uint16_t size;
	size_t len;
	uint8_t *frame;

	if (b & 1) {
		struct guest *g = &guests[(b >> 1) & 1];
		bool v6 = b & 4;

		memset(tpl, 0, sizeof(tpl));
		len = put_datagram(tpl, v6, nf_be_mac, lan_mac, v6 ? lan_ip6 : lan_ip4,
				   v6 ? g->nf.ip6 : g->nf.ip4, b >> 3, u16(in) % (MAX_FRAME - 100));
		frame = malloc(len);
		CHECK(frame);
		memcpy(frame, tpl, len);
	} else {
		len = u16(in) % 2048;
		frame = malloc(len ? len : 1);
		CHECK(frame);
		for (size_t i = 0; i < len; i++)
			frame[i] = u8(in);
	}
	/* A port with offloads passes metadata of its own (any, here: the
	 * data path checks it against the headers). */
	size = u16(in);
	ob = u8(in);
	o.csum_blank = ob & 0x10;
	o.data_valid = ob & 0x20;
	o.gso_type = ob & 3;
	o.gso_size = ob & 4 ? size : 0;
	/* uplink.c hands over only what parses as IP. */
	if (frame_parse(frame, len, &fi) == FRAME_OK &&
	    (fi.kind == FRAME_IPV4 || fi.kind == FRAME_IPV6))
		for (unsigned int i = 0; i < reps; i++)
			(void)dp_input(dp, frame, len, &fi, &o);
	free(frame);
}

/* The NIC path: attached and accepting, attached and refusing, detached. */
static void op_uplink_mode(struct in *in)
{
	uint8_t m = u8(in) % 5;

	if (m == 2) {
		dp_set_uplink(dp, NULL);
	} else {
		uplink_accepts = m & 1;
		uplink_offload = m > 2;
		dp_set_uplink(dp, uplink_offload ? &uplink_offload_ops : &uplink_ops);
	}
}

/* What dp_run() may answer: work left (0), nothing timed (-1), or a wait in
 * ms: up to the 100 ms of an RX queue's timers, or up to a rate interval
 * (op 17 sets them up to 655 ms). */
static void check_run(int r)
{
	CHECK(r >= -1 && r <= 656);
}

static void pump(void)
{
	dp_handle_events(dp);
	for (int i = 0; i < PUMP_LIMIT; i++) {
		int r = dp_run(dp);

		check_run(r);
		if (r != 0)
			break;
		dp_handle_events(dp);
	}
}

static void check_invariants(void)
{
	size_t queued = 0;

	for (unsigned int i = 0; i < NGUEST; i++) {
		struct guest *g = &guests[i];

		if (!g->vif)
			continue;
		CHECK(dp_vif_queued(g->vif) <= DP_RXQ_MAX);
		CHECK(dp_vif_queued_bytes(g->vif) <= DP_RXQ_BYTES);
		queued += dp_vif_queued_bytes(g->vif);
		if (!dp_vif_connected(g->vif))
			CHECK(dp_vif_queued(g->vif) == 0 && !dp_vif_carrier(g->vif));
	}
	/* Between passes every buffer is in some queue: the pool is the sum
	 * of the shares in use, and nothing else. */
	CHECK(dp_pool_bytes(dp) == queued);
}

/*
 * Packet buffers come in every size from 14 bytes to 64 KiB, so with
 * ASan's default 256 MiB quarantine each size class in turn fills up with
 * freed buffers, and the process grew past 1 GiB in a minute. 64 MiB is
 * still many times what one run allocates, so a use after free within a
 * run is caught all the same. ASAN_OPTIONS overrides this.
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "quarantine_size_mb=64";
}

/* FUZZ_DP_VERBOSE=1 prints each run's counters, to see what an input reaches. */
static bool verbose;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	verbose = getenv("FUZZ_DP_VERBOSE") != NULL;
	return 0;
}

static void dump_stats(void)
{
	for (unsigned int i = 0; i < NGUEST; i++) {
		const struct dp_stats *st;

		if (!guests[i].vif) {
			printf("guest %u: no vif\n", i + 1);
			continue;
		}
		st = dp_vif_stats(guests[i].vif);
		printf("guest %u: %s (%u queues) tx %llu rx %llu arp %llu na %llu queued %zu drops",
		       i + 1, dp_vif_connected(guests[i].vif) ? "connected" : "disconnected",
		       dp_vif_nqueues(guests[i].vif), (unsigned long long)st->tx_pkts,
		       (unsigned long long)st->rx_pkts, (unsigned long long)st->arp_replies,
		       (unsigned long long)st->na_replies, dp_vif_queued(guests[i].vif));
		for (int d = 0; d < DP_DROP_COUNT; d++)
			if (st->drops[d])
				printf(" %s=%llu", dp_drop_name((enum dp_drop)d),
				       (unsigned long long)st->drops[d]);
		printf("\n");
	}
	printf("disabled %u, announced %u\n", ndisabled, announced);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = {data, size};

	fake_reset();
	ndisabled = 0;
	announced = 0;
	fake_clock_reset();
	uplink_offload = false;
	dp = dp_new(nf_be_mac, on_disable, &ndisabled);
	CHECK(dp);
	if (u8(&in) & 1)
		dp_set_uplink(dp, &uplink_ops);
	for (unsigned int i = 0; i < NGUEST; i++)
		guest_init(&guests[i], (uint8_t)(i + 1), u8(&in));
	for (unsigned int i = 0; i < NGUEST; i++) {
		const struct nf_params p = {
		    .nbuf = NPAGES, .nports = NPORTS, .split = true, .shared_pages = true};

		CHECK(nf_init(&guests[i].q1, (uint8_t)(i + 1), &p) == 0);
	}

	for (int op = 0; op < MAX_OPS && in.n; op++) {
		switch (u8(&in) % 23) {
		case 0:
		case 1:
			op_tx_req(&in);
			break;
		case 2:
			op_tx_raw(&in);
			break;
		case 3:
			op_tx_extra(&in);
			break;
		case 4:
		case 5:
			op_tx_pkt(&in, false);
			break;
		case 6:
			op_push(&in);
			break;
		case 7:
			op_index(&in);
			break;
		case 8:
			op_write(&in);
			break;
		case 9:
			op_post_rx(&in);
			break;
		case 10: {
			struct guest *g = pick_guest(&in);

			check_kick(nf_kick(&g->nf, pick_port(g, &in)));
			break;
		}
		case 11:
			dp_handle_events(dp);
			break;
		case 12: {
			check_run(dp_run(dp));
			break;
		}
		case 13:
			pump();
			break;
		case 14:
			op_reap(&in);
			break;
		case 15:
			op_grant(&in);
			break;
		case 16:
			op_fail(&in);
			break;
		case 17:
			switch (u8(&in) % 6) {
			case 0:
				op_disconnect(&in);
				break;
			case 5:
				op_queue(&in);
				break;
			case 1:
				op_addrs(&in);
				break;
			case 2:
				op_uplink_mode(&in);
				break;
			case 3: {
				/* a TX rate, 0 bytes meaning none */
				struct guest *g = pick_guest(&in);
				uint16_t bytes = u16(&in);

				if (g->vif)
					dp_vif_set_rate(g->vif, bytes, 10u * u16(&in));
				break;
			}
			default: {
				struct guest *g = pick_guest(&in);

				if (!g->dead && fake_domain_destroy(g->nf.domid) == 0)
					g->dead = true;
				break;
			}
			}
			break;
		case 18:
			op_reconnect(&in);
			break;
		case 19:
			op_uplink(&in, false);
			break;
		case 20:
			/* time passes: RX queue ageing, stalls, carrier off */
			fake_clock_advance(u16(&in));
			break;
		case 21:
			op_tx_pkt(&in, true);
			break;
		default:
			op_uplink(&in, true);
			break;
		}
		check_invariants();
	}
	/* Whatever state the guests left, the main loop carries on. */
	pump();
	check_invariants();

	if (verbose)
		dump_stats();

	/* Teardown as the control path does it: every vif freed leaves
	 * nothing mapped or bound, then the handles close. */
	for (unsigned int i = 0; i < NGUEST; i++) {
		if (guests[i].vif)
			dp_vif_free(dp, guests[i].vif);
		guests[i].vif = NULL;
	}
	CHECK(fake_gnt_mapped_count() == 0);
	CHECK(fake_evtchn_bound_count() == 0);
	dp_free(dp);
	dp = NULL;
	CHECK(fake_handles_open() == 0);
	fake_reset();
	CHECK(fake_live_allocs() == 0);
	for (unsigned int i = 0; i < NGUEST; i++)
		guest_free(&guests[i]);
	uplink_accepts = false;
	sink = 0;
	fake_clock_reset();
	return 0;
}
