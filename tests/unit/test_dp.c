/* SPDX-License-Identifier: MIT */
/*
 * test_dp.c - the data path against the fake Xen libraries. The test plays
 * up to three netfronts ("guests" A, B and C, each a fake netfront from
 * tests/fake/netfront.h with its ring pages, data pages, grants and event
 * channels) and drives the daemon through dp_handle_events() and dp_run()
 * as the main loop would. Every test starts from an empty fake host and
 * checks that nothing stays mapped or bound once the data path is freed;
 * LeakSanitizer checks packet buffers.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* First: it supplies the barriers Xen's ring.h needs before anything
 * else (the fake's headers included) pulls ring.h in. */
#include "ipnb/dp.h"
#include "ipnb/gso.h"
#include "ipnb/journal.h"

#include "fakeclock.h"
#include "fakexen.h"
#include "heap.h"
#include "netfront.h"
#include "suites.h"

#define PG   4096
#define NBUF NF_MAX_BUF /* data pages per direction and guest: one per ring slot */

static const uint8_t bcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* A guest: its netfront, and what the control path gives the data path. */
struct guest {
	struct nf nf;
	struct dp_vif_cfg cfg;
	struct dp_vif *vif;
};

static struct dp *dp;
static struct guest ga, gb, gc;
static struct guest *const A = &ga, *const B = &gb, *const C = &gc;

/* What the control path's callback saw. */
static unsigned int ndisabled;
static struct dp_vif *disabled_vif;
static char disabled_why[128];
/* Makes the callback return only once the millisecond clock has moved on,
 * so that what follows in the same dp_run() pass is stamped later than the
 * pass's start. Spins for at most about a millisecond. */
static bool disable_waits_for_tick;

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void on_disable(void *arg, struct dp_vif *vif, const char *why)
{
	CU_ASSERT_PTR_EQUAL(arg, &ndisabled);
	ndisabled++;
	disabled_vif = vif;
	snprintf(disabled_why, sizeof(disabled_why), "%s", why);
	if (disable_waits_for_tick) {
		uint64_t t0 = mono_ms();

		while (mono_ms() == t0)
			;
	}
}

/* ---- checksums (on netfront.h's sums), written independently of frame.c ---- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Sum of the pseudo-header for an L4 segment of len bytes. */
static uint32_t pseudo(const uint8_t *frame, bool v6, uint8_t proto, size_t len)
{
	uint32_t s;

	if (v6)
		s = nf_sum16(0, frame + 14 + 8, 32);
	else
		s = nf_sum16(0, frame + 14 + 12, 8);
	return s + proto + (uint32_t)len;
}

/* True if the L4 checksum of a UDP or ICMPv6 packet in frame verifies. */
static bool l4_csum_ok(const uint8_t *frame, bool v6, uint8_t proto)
{
	size_t l4 = v6 ? 14 + 40 : 14 + 20;
	size_t len =
	    v6 ? (size_t)(frame[18] << 8 | frame[19]) : (size_t)(frame[16] << 8 | frame[17]) - 20;

	return nf_fold(nf_sum16(pseudo(frame, v6, proto, len), frame + l4, len)) == 0xffff;
}

/* ---- frame builders ---- */

/*
 * UDP over IPv4 or IPv6 with `payload` bytes: a 4-byte sequence number, then
 * a pattern. With csum_blank the checksum field holds only the pseudo-header
 * sum, as Linux netfront sends it.
 */
static size_t build_udp(uint8_t *b, bool v6, const uint8_t *dmac, const uint8_t *smac,
			const uint8_t *sip, const uint8_t *dip, size_t payload, uint32_t seq,
			bool csum_blank)
{
	size_t ulen = 8 + payload;
	size_t l4 = nf_put_eth_ip(b, v6, dmac, smac, sip, dip, IPPROTO_UDP, ulen);
	uint8_t *u = b + l4;

	memset(u, 0, ulen);
	if (!v6) {
		put16(b + 14 + 4, (uint16_t)seq); /* the IPv4 id */
		nf_ip4_csum(b);
	}
	put16(u, 40000);
	put16(u + 2, 7777);
	put16(u + 4, (uint16_t)ulen);
	for (size_t i = 0; i < payload; i++)
		u[8 + i] = (uint8_t)(i * 7 + seq);
	if (payload >= 4) {
		u[8] = (uint8_t)(seq >> 24);
		u[9] = (uint8_t)(seq >> 16);
		u[10] = (uint8_t)(seq >> 8);
		u[11] = (uint8_t)seq;
	}
	if (csum_blank) {
		put16(u + 6, nf_fold(pseudo(b, v6, IPPROTO_UDP, ulen)));
	} else {
		uint16_t c =
		    (uint16_t)~nf_fold(nf_sum16(pseudo(b, v6, IPPROTO_UDP, ulen), u, ulen));

		put16(u + 6, c ? c : 0xffff);
	}
	return l4 + ulen;
}

static size_t udp4(uint8_t *b, const struct guest *from, const uint8_t *dip, size_t payload,
		   uint32_t seq)
{
	return build_udp(b, false, nf_be_mac, from->nf.mac, from->nf.ip4, dip, payload, seq, false);
}

static uint32_t udp_seq(const uint8_t *frame, bool v6)
{
	const uint8_t *p = frame + 14 + (v6 ? 40 : 20) + 8;

	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ARP to the broadcast address. */
static size_t build_arp(uint8_t *b, const uint8_t *smac, const uint8_t *sha, const uint8_t *spa,
			const uint8_t *tpa, uint16_t op)
{
	return nf_put_arp(b, bcast_mac, smac, sha, spa, tpa, op);
}

/* Neighbour solicitation for target from src, to the solicited-node group;
 * with a source link-layer option unless src is :: (DAD). */
static size_t build_ns(uint8_t *b, const uint8_t *smac, const uint8_t *src, const uint8_t *target)
{
	return nf_put_nd(b, NULL, smac, src, target, 135, 255);
}

/* ---- guests ---- */

/* Guest n in domain domid (n == domid: netfront.h's address plan), its
 * rings, buffers and channels (two if split), and the connect config its
 * frontend keys would give. */
static void guest_init(struct guest *g, uint32_t domid, bool split)
{
	const struct nf_params p = {.nbuf = NBUF, .split = split, .poison_rx = true};

	memset(g, 0, sizeof(*g));
	CU_ASSERT_EQUAL_FATAL(fake_domain_create(domid), 0);
	CU_ASSERT_EQUAL_FATAL(nf_init(&g->nf, domid, &p), 0);
	g->cfg = nf_vif_cfg(&g->nf);
}

/* The test guests have jumbo MTUs (mtu=9000): the tests send packets of
 * several pages to them; test_vif_mtu() covers smaller ones. */
static struct dp_vif *guest_vif(struct guest *g)
{
	g->vif = dp_vif_new(dp, (uint16_t)g->nf.domid, 0, g->nf.mac);
	CU_ASSERT_PTR_NOT_NULL_FATAL(g->vif);
	dp_vif_set_mtu(g->vif, DP_MTU_MAX);
	CU_ASSERT_EQUAL(nf_register(&g->nf, dp, g->vif, true, true), 0);
	return g->vif;
}

static void guest_connect(struct guest *g)
{
	char err[256] = "";

	guest_vif(g);
	if (dp_vif_connect(dp, g->vif, &g->cfg, err, sizeof(err)) != 0)
		fprintf(stderr, "\n  connect failed: %s\n", err);
	CU_ASSERT_FATAL(dp_vif_connected(g->vif));
	CU_ASSERT(dp_vif_carrier(g->vif));
}

static void guest_free(struct guest *g)
{
	nf_free(&g->nf);
	memset(g, 0, sizeof(*g));
}

/*
 * Queues one packet of len bytes on g's TX ring, split into slots of the
 * given sizes (NULL: one slot), as nf_queue_tx() lays them out. Returns the
 * ring index of slot 0.
 */
static RING_IDX guest_queue_frags(struct guest *g, const uint8_t *pkt, size_t len,
				  const uint16_t *sizes, unsigned int n, uint16_t flags0)
{
	RING_IDX start = 0;

	CU_ASSERT_FATAL(nf_tx_space(&g->nf) >= n);
	CU_ASSERT_EQUAL_FATAL(nf_queue_tx(&g->nf, pkt, len, sizes, n, flags0, &start), 0);
	return start;
}

static RING_IDX guest_queue(struct guest *g, const uint8_t *pkt, size_t len)
{
	return guest_queue_frags(g, pkt, len, NULL, 1, 0);
}

/* r is what a push returned: the kick is lost only if nothing is bound. */
static void guest_kicked(struct guest *g, int r)
{
	if (g->vif && dp_vif_connected(g->vif)) {
		CU_ASSERT_EQUAL(r, 0);
	} else {
		CU_ASSERT(r == 0 || r == -ENOTCONN);
	}
}

/* Publishes queued TX requests and kicks if the backend asked for it. */
static void guest_push_tx(struct guest *g)
{
	guest_kicked(g, nf_push_tx(&g->nf));
}

/* Writes n RX buffer requests (poisoned with NF_RX_POISON) without
 * publishing them. */
static void guest_queue_rx(struct guest *g, unsigned int n)
{
	CU_ASSERT_FATAL(nf_rx_space(&g->nf) >= n);
	nf_queue_rx(&g->nf, n);
}

static void guest_push_rx(struct guest *g)
{
	guest_kicked(g, nf_push_rx(&g->nf));
}

static void guest_post_rx(struct guest *g, unsigned int n)
{
	guest_queue_rx(g, n);
	guest_push_rx(g);
}

/* The main loop: collect kicks, run until the data path has no work left. */
static void pump(void)
{
	dp_handle_events(dp);
	for (int i = 0; i < 100; i++) {
		if (dp_run(dp) != 0)
			break;
		dp_handle_events(dp);
	}
}

static const struct dp_stats *st(const struct guest *g)
{
	return dp_vif_stats(g->vif);
}

static uint64_t drops(const struct guest *g, enum dp_drop d)
{
	return st(g)->drops[d];
}

static uint64_t all_drops(const struct guest *g)
{
	uint64_t n = 0;

	for (int d = 0; d < DP_DROP_COUNT; d++)
		n += st(g)->drops[d];
	return n;
}

/* Connects A, B and C (C with split channels), posts `post` RX buffers on
 * each and lets the first (spurious) events settle. */
static void three_guests(unsigned int post)
{
	guest_init(A, 1, false);
	guest_init(B, 2, false);
	guest_init(C, 3, true);
	guest_connect(A);
	guest_connect(B);
	guest_connect(C);
	if (post) {
		guest_post_rx(A, post);
		guest_post_rx(B, post);
		guest_post_rx(C, post);
	}
	pump();
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 6);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 4);
}

/* Frees the data path and checks the fake host is clean. */
static void finish(void)
{
	dp_free(dp);
	dp = NULL;
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 0);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 0);
	CU_ASSERT_EQUAL(fake_handles_open(), 0);
}

static void setup(void)
{
	fake_reset();
	ndisabled = 0;
	disabled_vif = NULL;
	disable_waits_for_tick = false;
	disabled_why[0] = '\0';
	dp = dp_new(nf_be_mac, on_disable, &ndisabled);
}

static void teardown(void)
{
	if (dp)
		dp_free(dp);
	dp = NULL;
	fake_reset();
	fake_clock_reset();
	guest_free(A);
	guest_free(B);
	guest_free(C);
}

/* Checks that g received exactly the packet pkt (len bytes) in its next RX
 * slot, rewritten to g's MAC from the backend MAC, with the given flags. */
static void expect_rx(struct guest *g, const uint8_t *pkt, size_t len, uint16_t flags)
{
	netif_rx_response_t rsp;
	const uint8_t *data;
	RING_IDX idx;

	CU_ASSERT_FATAL(nf_take_rx(&g->nf, &rsp, &data, &idx));
	CU_ASSERT_EQUAL(rsp.id, nf_rx_id(idx)); /* the id posted in this slot */
	CU_ASSERT_EQUAL(rsp.status, (int16_t)len);
	CU_ASSERT_EQUAL(rsp.offset, 0);
	CU_ASSERT_EQUAL(rsp.flags, flags);
	CU_ASSERT(memcmp(data, g->nf.mac, 6) == 0);
	CU_ASSERT(memcmp(data + 6, nf_be_mac, 6) == 0);
	CU_ASSERT(memcmp(data + 12, pkt + 12, len - 12) == 0);
	CU_ASSERT_EQUAL(data[len], NF_RX_POISON); /* nothing beyond the packet */
}

/* from sends one UDP datagram with `payload` bytes to to's IPv4 address, and
 * to receives exactly that in its next RX slot. */
static void one_way(struct guest *from, struct guest *to, size_t payload, uint32_t seq)
{
	uint8_t pkt[2048];
	size_t len = udp4(pkt, from, to->nf.ip4, payload, seq);

	guest_queue(from, pkt, len);
	guest_push_tx(from);
	pump();
	expect_rx(to, pkt, len, 0);
}

/* ---- basic switching ---- */

static void test_connect_empty(void)
{
	three_guests(0);
	CU_ASSERT(dp_evtchn_fd(dp) >= 0);
	CU_ASSERT_EQUAL(ndisabled, 0);
	for (int i = 0; i < 3; i++) {
		struct guest *g = i == 0 ? A : i == 1 ? B : C;
		const struct ipnb_addr *a;
		uint16_t domid;
		uint32_t devid;

		CU_ASSERT_EQUAL(dp_vif_addrs(g->vif, &a), 2);
		CU_ASSERT_PTR_EQUAL(dp_addr_owner(dp, &a[0]), g->vif);
		CU_ASSERT_PTR_EQUAL(dp_addr_owner(dp, &a[1]), g->vif);
		dp_vif_id(g->vif, &domid, &devid);
		CU_ASSERT_EQUAL(domid, g->nf.domid);
		CU_ASSERT_EQUAL(devid, 0);
		CU_ASSERT(memcmp(dp_vif_mac(g->vif), g->nf.mac, 6) == 0);
		CU_ASSERT_EQUAL(all_drops(g), 0);
		CU_ASSERT_EQUAL(g->nf.tx.sring->rsp_prod, 0);
		CU_ASSERT_EQUAL(g->nf.rx.sring->rsp_prod, 0);
	}
	/* nothing to do: the loop may sleep */
	CU_ASSERT_EQUAL(dp_run(dp), -1);
	finish();
}

static void test_udp4_a_to_b(void)
{
	uint8_t pkt[256];
	size_t len;
	RING_IDX at;
	netif_tx_response_t trsp;
	RING_IDX tidx;
	uint64_t notif_b, notif_a;
	struct pollfd pfd;

	three_guests(4);
	notif_b = fake_evtchn_notify_count(B->nf.domid, B->nf.port_rx);
	notif_a = fake_evtchn_notify_count(A->nf.domid, A->nf.port_tx);
	len = udp4(pkt, A, B->nf.ip4, 100, 42);
	at = guest_queue(A, pkt, len);
	guest_push_tx(A);

	/* the kick makes the event fd readable */
	pfd = (struct pollfd){.fd = dp_evtchn_fd(dp), .events = POLLIN};
	CU_ASSERT_EQUAL(poll(&pfd, 1, 0), 1);
	pump();

	/* A: one OKAY response carrying its id, and a notification */
	CU_ASSERT_FATAL(nf_take_tx(&A->nf, &trsp, &tidx));
	CU_ASSERT_EQUAL(tidx, at);
	CU_ASSERT_EQUAL(trsp.id, nf_tx_id(at));
	CU_ASSERT_EQUAL(trsp.status, NETIF_RSP_OKAY);
	CU_ASSERT_FALSE(nf_take_tx(&A->nf, &trsp, &tidx));
	CU_ASSERT(fake_evtchn_notify_count(A->nf.domid, A->nf.port_tx) > notif_a);

	/* B: the packet with its L2 header rewritten, in its first slot */
	CU_ASSERT_EQUAL(nf_rx_pending(&B->nf), 1);
	expect_rx(B, pkt, len, 0);
	CU_ASSERT(fake_evtchn_notify_count(B->nf.domid, B->nf.port_rx) > notif_b);
	CU_ASSERT_EQUAL(nf_rx_pending(&A->nf), 0);
	CU_ASSERT_EQUAL(nf_rx_pending(&C->nf), 0);

	CU_ASSERT_EQUAL(st(A)->tx_pkts, 1);
	CU_ASSERT_EQUAL(st(A)->tx_bytes, len);
	CU_ASSERT_EQUAL(st(A)->rx_pkts, 0);
	CU_ASSERT_EQUAL(st(B)->rx_pkts, 1);
	CU_ASSERT_EQUAL(st(B)->rx_bytes, len);
	CU_ASSERT_EQUAL(st(B)->tx_pkts, 0);
	CU_ASSERT_EQUAL(st(C)->rx_pkts, 0);
	CU_ASSERT_EQUAL(all_drops(A) + all_drops(B) + all_drops(C), 0);
	CU_ASSERT_EQUAL(dp_vif_queued(B->vif), 0);

	/* and back, B -> A over IPv6, and A -> C (split channels) */
	len = build_udp(pkt, true, nf_be_mac, B->nf.mac, B->nf.ip6, A->nf.ip6, 33, 7, false);
	guest_queue(B, pkt, len);
	guest_push_tx(B);
	pump();
	expect_rx(A, pkt, len, 0);
	CU_ASSERT_EQUAL(st(B)->tx_pkts, 1);
	CU_ASSERT_EQUAL(st(A)->rx_pkts, 1);

	notif_a = fake_evtchn_notify_count(C->nf.domid, C->nf.port_tx);
	notif_b = fake_evtchn_notify_count(C->nf.domid, C->nf.port_rx);
	one_way(A, C, 10, 9);
	CU_ASSERT(fake_evtchn_notify_count(C->nf.domid, C->nf.port_rx) > notif_b);
	/* RX notifications go to C's RX channel only */
	CU_ASSERT_EQUAL(fake_evtchn_notify_count(C->nf.domid, C->nf.port_tx), notif_a);

	/* C -> B: C's TX channel gets the TX notification */
	one_way(C, B, 10, 10);
	CU_ASSERT(fake_evtchn_notify_count(C->nf.domid, C->nf.port_tx) > notif_a);
	finish();
}

static void test_multi_slot(void)
{
	uint8_t pkt[2048];
	size_t len;
	unsigned int okay;
	static const uint16_t three[] = {15, 4, 0};
	uint16_t sizes[18];
	uint64_t segs;

	three_guests(8);

	/* Ethernet + 1 byte in slot 0, 4 bytes of IP header in slot 1, the
	 * rest in slot 2 */
	len = udp4(pkt, A, B->nf.ip4, 200, 1);
	memcpy(sizes, three, sizeof(three));
	sizes[2] = (uint16_t)(len - 19);
	segs = fake_gnt_copy_segs();
	guest_queue_frags(A, pkt, len, sizes, 3, 0);
	guest_push_tx(A);
	pump();
	CU_ASSERT_EQUAL(nf_reap_tx(&A->nf, &okay), 3); /* one response per slot */
	CU_ASSERT_EQUAL(okay, 3);
	expect_rx(B, pkt, len, 0);
	CU_ASSERT_EQUAL(fake_gnt_copy_segs() - segs, 3 + 1);

	/* 18 slots: the Ethernet header, then one byte per slot through the
	 * IP and UDP headers, then the payload */
	len = udp4(pkt, A, B->nf.ip4, 300, 2);
	sizes[0] = 14;
	for (int k = 1; k < 17; k++)
		sizes[k] = 1;
	sizes[17] = (uint16_t)(len - 30);
	guest_queue_frags(A, pkt, len, sizes, 18, 0);
	guest_push_tx(A);
	pump();
	CU_ASSERT_EQUAL(nf_reap_tx(&A->nf, &okay), 18);
	CU_ASSERT_EQUAL(okay, 18);
	expect_rx(B, pkt, len, 0);

	/* IPv6 with the addresses split over slots */
	len = build_udp(pkt, true, nf_be_mac, A->nf.mac, A->nf.ip6, B->nf.ip6, 500, 3, false);
	sizes[0] = 20;
	sizes[1] = 10;
	sizes[2] = 17;
	sizes[3] = 2;
	sizes[4] = (uint16_t)(len - 49);
	guest_queue_frags(A, pkt, len, sizes, 5, 0);
	guest_push_tx(A);
	pump();
	CU_ASSERT_EQUAL(nf_reap_tx(&A->nf, &okay), 5);
	expect_rx(B, pkt, len, 0);

	CU_ASSERT_EQUAL(st(A)->tx_pkts, 3);
	CU_ASSERT_EQUAL(st(B)->rx_pkts, 3);
	CU_ASSERT_EQUAL(all_drops(A) + all_drops(B), 0);
	finish();
}

/* A packet larger than a page: two RX slots for a receiver with
 * feature-sg, dropped for one without. */
static void test_large_packet(void)
{
	static uint8_t pkt[6000];
	size_t len;
	uint16_t sizes[2];
	netif_rx_response_t rsp;
	const uint8_t *data;
	RING_IDX idx;
	unsigned int okay;

	three_guests(4);
	C->cfg.rx_sg = false;
	{
		char err[128];

		/* reconnecting with new features keeps the ring state */
		CU_ASSERT_EQUAL(dp_vif_connect(dp, C->vif, &C->cfg, err, sizeof(err)), 0);
	}
	len = udp4(pkt, A, B->nf.ip4, 5000, 77);
	sizes[0] = 4000;
	sizes[1] = (uint16_t)(len - 4000);
	guest_queue_frags(A, pkt, len, sizes, 2, 0);
	guest_push_tx(A);
	pump();
	CU_ASSERT_EQUAL(nf_reap_tx(&A->nf, &okay), 2);
	CU_ASSERT_EQUAL(okay, 2);
	CU_ASSERT_EQUAL_FATAL(nf_rx_pending(&B->nf), 2);
	CU_ASSERT(nf_take_rx(&B->nf, &rsp, &data, &idx));
	CU_ASSERT_EQUAL(rsp.id, nf_rx_id(idx));
	CU_ASSERT_EQUAL(rsp.status, PG);
	CU_ASSERT_EQUAL(rsp.flags, NETRXF_more_data);
	CU_ASSERT(memcmp(data, B->nf.mac, 6) == 0);
	CU_ASSERT(memcmp(data + 12, pkt + 12, PG - 12) == 0);
	CU_ASSERT(nf_take_rx(&B->nf, &rsp, &data, &idx));
	CU_ASSERT_EQUAL(rsp.id, nf_rx_id(idx));
	CU_ASSERT_EQUAL(rsp.status, (int16_t)(len - PG));
	CU_ASSERT_EQUAL(rsp.flags, 0);
	CU_ASSERT(memcmp(data, pkt + PG, len - PG) == 0);
	CU_ASSERT_EQUAL(st(B)->rx_pkts, 1);
	CU_ASSERT_EQUAL(st(B)->rx_bytes, len);

	len = udp4(pkt, A, C->nf.ip4, 5000, 78);
	sizes[1] = (uint16_t)(len - 4000);
	guest_queue_frags(A, pkt, len, sizes, 2, 0);
	guest_push_tx(A);
	pump();
	CU_ASSERT_EQUAL(nf_rx_pending(&C->nf), 0);
	CU_ASSERT_EQUAL(drops(C, DP_DROP_RX_TOO_BIG), 1);
	CU_ASSERT_EQUAL(dp_vif_queued(C->vif), 0);
	/* C still gets small packets */
	one_way(A, C, 50, 79);
	finish();
}

static void test_copy_batching(void)
{
	uint8_t pkt[256];
	size_t len[5];
	uint64_t calls, segs;
	unsigned int okay;

	three_guests(0);
	calls = fake_gnt_copy_calls();
	segs = fake_gnt_copy_segs();
	for (uint32_t i = 0; i < 5; i++) {
		len[i] = udp4(pkt, A, B->nf.ip4, 20 + i, i);
		guest_queue(A, pkt, len[i]);
	}
	guest_push_tx(A); /* one kick for five packets */
	pump();
	CU_ASSERT_EQUAL(nf_reap_tx(&A->nf, &okay), 5);
	CU_ASSERT_EQUAL(okay, 5);
	/* one copy call for the whole TX batch; B has no buffers yet */
	CU_ASSERT_EQUAL(fake_gnt_copy_calls() - calls, 1);
	CU_ASSERT_EQUAL(fake_gnt_copy_segs() - segs, 5);
	CU_ASSERT_EQUAL(dp_vif_queued(B->vif), 5);

	/* B posts buffers: one copy call delivers all five, in order */
	guest_post_rx(B, 8);
	pump();
	CU_ASSERT_EQUAL(fake_gnt_copy_calls() - calls, 2);
	CU_ASSERT_EQUAL(fake_gnt_copy_segs() - segs, 10);
	CU_ASSERT_EQUAL_FATAL(nf_rx_pending(&B->nf), 5);
	for (uint32_t i = 0; i < 5; i++) {
		netif_rx_response_t rsp;
		const uint8_t *data;
		RING_IDX idx;

		CU_ASSERT_FATAL(nf_take_rx(&B->nf, &rsp, &data, &idx));
		CU_ASSERT_EQUAL(rsp.id, nf_rx_id(idx));
		CU_ASSERT_EQUAL(rsp.status, (int16_t)len[i]);
		CU_ASSERT_EQUAL(udp_seq(data, false), i);
	}
	CU_ASSERT_EQUAL(dp_vif_queued(B->vif), 0);
	finish();
}

/* ---- ARP and NDP proxy ---- */

/* An ARP reply "ip is at the backend" to g, answering a request from
 * sender address spa. */
static void expect_arp_reply(struct guest *g, const uint8_t *ip, const uint8_t *spa)
{
	netif_rx_response_t rsp;
	const uint8_t *data;
	RING_IDX idx;
	struct frame_info fi;

	CU_ASSERT_FATAL(nf_take_rx(&g->nf, &rsp, &data, &idx));
	CU_ASSERT_EQUAL(rsp.id, nf_rx_id(idx));
	CU_ASSERT_EQUAL_FATAL(rsp.status, FRAME_MIN_LEN);
	CU_ASSERT_EQUAL_FATAL(frame_parse(data, FRAME_MIN_LEN, &fi), FRAME_OK);
	CU_ASSERT_EQUAL(fi.kind, FRAME_ARP);
	CU_ASSERT_EQUAL(fi.arp_op, 2);
	CU_ASSERT(memcmp(fi.eth_dst, g->nf.mac, 6) == 0);
	CU_ASSERT(memcmp(fi.eth_src, nf_be_mac, 6) == 0);
	CU_ASSERT(memcmp(fi.arp_sha, nf_be_mac, 6) == 0); /* ip is at the backend */
	CU_ASSERT(memcmp(fi.src.bytes, ip, 4) == 0);
	CU_ASSERT(memcmp(data + 14 + 18, g->nf.mac, 6) == 0); /* target hardware */
	CU_ASSERT(memcmp(fi.dst.bytes, spa, 4) == 0);
}

static void test_arp(void)
{
	uint8_t pkt[64];
	static const uint8_t other[4] = {10, 99, 0, 200};
	static const uint8_t zero[4] = {0, 0, 0, 0};
	unsigned int okay;

	three_guests(8);

	/* who has B? -> the backend */
	guest_queue(A, pkt, build_arp(pkt, A->nf.mac, A->nf.mac, A->nf.ip4, B->nf.ip4, 1));
	guest_push_tx(A);
	pump();
	CU_ASSERT_EQUAL(nf_reap_tx(&A->nf, &okay), 1);
	CU_ASSERT_EQUAL(okay, 1);
	CU_ASSERT_EQUAL(nf_rx_pending(&A->nf), 1);
	expect_arp_reply(A, B->nf.ip4, A->nf.ip4);
	CU_ASSERT_EQUAL(st(A)->arp_replies, 1);
	CU_ASSERT_EQUAL(nf_rx_pending(&B->nf) + nf_rx_pending(&C->nf), 0);

	/* an address nobody holds (a gateway, say): the backend too */
	guest_queue(A, pkt, build_arp(pkt, A->nf.mac, A->nf.mac, A->nf.ip4, other, 1));
	guest_push_tx(A);
	pump();
	expect_arp_reply(A, other, A->nf.ip4);

	/* its own address (a gratuitous ARP or announcement): no reply */
	guest_queue(A, pkt, build_arp(pkt, A->nf.mac, A->nf.mac, A->nf.ip4, A->nf.ip4, 1));
	guest_push_tx(A);
	pump();
	CU_ASSERT_EQUAL(nf_rx_pending(&A->nf), 0);

	/* a reply from the guest: consumed, nothing back */
	guest_queue(A, pkt, build_arp(pkt, A->nf.mac, A->nf.mac, A->nf.ip4, B->nf.ip4, 2));
	guest_push_tx(A);
	pump();
	CU_ASSERT_EQUAL(nf_rx_pending(&A->nf), 0);

	/* probes from 0.0.0.0: answered for a taken address only */
	guest_queue(A, pkt, build_arp(pkt, A->nf.mac, A->nf.mac, zero, B->nf.ip4, 1));
	guest_push_tx(A);
	pump();
	expect_arp_reply(A, B->nf.ip4, zero);
	guest_queue(A, pkt, build_arp(pkt, A->nf.mac, A->nf.mac, zero, other, 1));
	guest_queue(A, pkt, build_arp(pkt, A->nf.mac, A->nf.mac, zero, A->nf.ip4, 1));
	guest_push_tx(A);
	pump();
	CU_ASSERT_EQUAL(nf_rx_pending(&A->nf), 0);
	CU_ASSERT_EQUAL(st(A)->arp_replies, 3);
	CU_ASSERT_EQUAL(drops(A, DP_DROP_SPOOF_ARP), 0);

	/* a sender IP that is not A's (B's, or unregistered): spoofing */
	guest_queue(A, pkt, build_arp(pkt, A->nf.mac, A->nf.mac, B->nf.ip4, C->nf.ip4, 1));
	guest_queue(A, pkt, build_arp(pkt, A->nf.mac, A->nf.mac, other, C->nf.ip4, 1));
	guest_push_tx(A);
	pump();
	CU_ASSERT_EQUAL(drops(A, DP_DROP_SPOOF_ARP), 2);
	CU_ASSERT_EQUAL(nf_rx_pending(&A->nf), 0);
	/* ... and an Ethernet source that is not A's */
	guest_queue(A, pkt, build_arp(pkt, B->nf.mac, B->nf.mac, A->nf.ip4, C->nf.ip4, 1));
	guest_push_tx(A);
	pump();
	CU_ASSERT_EQUAL(drops(A, DP_DROP_SPOOF_MAC), 1);
	CU_ASSERT_EQUAL(nf_rx_pending(&A->nf), 0);

	CU_ASSERT_EQUAL(st(A)->arp_replies, 3);
	CU_ASSERT_EQUAL(nf_rx_pending(&B->nf) + nf_rx_pending(&C->nf), 0);
	CU_ASSERT_EQUAL(st(B)->rx_pkts + st(C)->rx_pkts, 0);
	CU_ASSERT_EQUAL(all_drops(B) + all_drops(C), 0);
	CU_ASSERT_EQUAL(nf_reap_tx(&A->nf, &okay), 9);
	CU_ASSERT_EQUAL(okay, 9); /* the guest's buffers were fine */
	finish();
}

static void expect_na(struct guest *g, const uint8_t *target, const uint8_t *to_mac,
		      const uint8_t *to_ip, bool solicited)
{
	netif_rx_response_t rsp;
	const uint8_t *data;
	RING_IDX idx;
	struct frame_info fi;

	CU_ASSERT_FATAL(nf_take_rx(&g->nf, &rsp, &data, &idx));
	CU_ASSERT_EQUAL(rsp.id, nf_rx_id(idx));
	CU_ASSERT_EQUAL_FATAL(rsp.status, FRAME_NA_LEN);
	CU_ASSERT(rsp.flags & NETRXF_data_validated);
	CU_ASSERT_EQUAL_FATAL(frame_parse(data, FRAME_NA_LEN, &fi), FRAME_OK);
	CU_ASSERT_EQUAL(fi.kind, FRAME_IPV6);
	CU_ASSERT_EQUAL(fi.icmp6_type, 136);
	CU_ASSERT(memcmp(fi.eth_dst, to_mac, 6) == 0);
	CU_ASSERT(memcmp(fi.eth_src, nf_be_mac, 6) == 0);
	CU_ASSERT(memcmp(fi.src.bytes, target, 16) == 0);
	CU_ASSERT(memcmp(fi.dst.bytes, to_ip, 16) == 0);
	CU_ASSERT(memcmp(fi.nd_target.bytes, target, 16) == 0);
	CU_ASSERT_EQUAL(data[14 + 40 + 4] & 0x40, solicited ? 0x40 : 0);
	CU_ASSERT_EQUAL(data[14 + 40 + 24], 2); /* target link-layer option */
	CU_ASSERT(memcmp(data + 14 + 40 + 26, nf_be_mac, 6) == 0);
	CU_ASSERT(l4_csum_ok(data, true, IPPROTO_ICMPV6));
}

static void test_ndp(void)
{
	uint8_t pkt[128];
	static const uint8_t unspec[16];
	static const uint8_t all_nodes[16] = {0xff, 0x02, [15] = 1};
	static const uint8_t all_nodes_mac[6] = {0x33, 0x33, 0, 0, 0, 1};
	static const uint8_t free6[16] = {0xfd, [15] = 0x99};
	unsigned int okay;

	three_guests(8);

	/* from A's link-local address, for B */
	guest_queue(A, pkt, build_ns(pkt, A->nf.mac, A->nf.ip6_ll, B->nf.ip6));
	guest_push_tx(A);
	pump();
	CU_ASSERT_EQUAL(nf_rx_pending(&A->nf), 1);
	expect_na(A, B->nf.ip6, A->nf.mac, A->nf.ip6_ll, true);
	CU_ASSERT_EQUAL(st(A)->na_replies, 1);

	/* from A's registered address, for C */
	guest_queue(A, pkt, build_ns(pkt, A->nf.mac, A->nf.ip6, C->nf.ip6));
	guest_push_tx(A);
	pump();
	expect_na(A, C->nf.ip6, A->nf.mac, A->nf.ip6, true);

	/* DAD (from ::) for A's own address: no reply */
	guest_queue(A, pkt, build_ns(pkt, A->nf.mac, unspec, A->nf.ip6));
	guest_push_tx(A);
	pump();
	CU_ASSERT_EQUAL(nf_rx_pending(&A->nf), 0);
	/* ... nor for a free address */
	guest_queue(A, pkt, build_ns(pkt, A->nf.mac, unspec, free6));
	guest_push_tx(A);
	pump();
	CU_ASSERT_EQUAL(nf_rx_pending(&A->nf), 0);
	/* ... but a taken one is defended, to all-nodes */
	guest_queue(A, pkt, build_ns(pkt, A->nf.mac, unspec, B->nf.ip6));
	guest_push_tx(A);
	pump();
	expect_na(A, B->nf.ip6, all_nodes_mac, all_nodes, false);

	/* NS for its own address from its link-local one: no reply */
	guest_queue(A, pkt, build_ns(pkt, A->nf.mac, A->nf.ip6_ll, A->nf.ip6));
	guest_push_tx(A);
	pump();
	CU_ASSERT_EQUAL(nf_rx_pending(&A->nf), 0);

	/* NS from an address registered to B: spoofing */
	guest_queue(A, pkt, build_ns(pkt, A->nf.mac, B->nf.ip6, C->nf.ip6));
	guest_push_tx(A);
	pump();
	CU_ASSERT_EQUAL(nf_rx_pending(&A->nf), 0);
	CU_ASSERT_EQUAL(drops(A, DP_DROP_SPOOF_IP), 1);

	CU_ASSERT_EQUAL(st(A)->na_replies, 3);
	CU_ASSERT_EQUAL(nf_rx_pending(&B->nf) + nf_rx_pending(&C->nf), 0);
	CU_ASSERT_EQUAL(nf_reap_tx(&A->nf, &okay), 7);
	CU_ASSERT_EQUAL(okay, 7);
	finish();
}

/* ---- anti-spoofing and routing ---- */

/* Sends pkt from A and checks nobody received anything and A's drop counter
 * d went up by one. */
static void expect_dropped(const uint8_t *pkt, size_t len, enum dp_drop d)
{
	uint64_t before = drops(A, d), all = all_drops(A);
	unsigned int okay;

	guest_queue(A, pkt, len);
	guest_push_tx(A);
	pump();
	CU_ASSERT_EQUAL(drops(A, d), before + 1);
	CU_ASSERT_EQUAL(all_drops(A), all + 1);
	CU_ASSERT_EQUAL(nf_reap_tx(&A->nf, &okay), 1);
	CU_ASSERT_EQUAL(okay, 1); /* taken from the guest fine, then dropped */
	CU_ASSERT_EQUAL(nf_rx_pending(&A->nf) + nf_rx_pending(&B->nf) + nf_rx_pending(&C->nf), 0);
	CU_ASSERT_EQUAL(dp_vif_queued(A->vif) + dp_vif_queued(B->vif) + dp_vif_queued(C->vif), 0);
}

static void test_spoofing(void)
{
	uint8_t pkt[256];
	size_t len;
	static const uint8_t rogue4[4] = {10, 99, 0, 66};
	static const uint8_t rogue6[16] = {0xfd, [15] = 0x66};

	three_guests(8);
	/* source MAC not A's: B's, the backend's, broadcast */
	len = build_udp(pkt, false, nf_be_mac, B->nf.mac, A->nf.ip4, B->nf.ip4, 20, 1, false);
	expect_dropped(pkt, len, DP_DROP_SPOOF_MAC);
	len = build_udp(pkt, false, nf_be_mac, nf_be_mac, A->nf.ip4, B->nf.ip4, 20, 1, false);
	expect_dropped(pkt, len, DP_DROP_SPOOF_MAC);
	len = build_udp(pkt, true, nf_be_mac, bcast_mac, A->nf.ip6, B->nf.ip6, 20, 1, false);
	expect_dropped(pkt, len, DP_DROP_SPOOF_MAC);

	/* source IP not A's: B's, C's, unregistered */
	len = build_udp(pkt, false, nf_be_mac, A->nf.mac, B->nf.ip4, C->nf.ip4, 20, 1, false);
	expect_dropped(pkt, len, DP_DROP_SPOOF_IP);
	len = build_udp(pkt, false, nf_be_mac, A->nf.mac, rogue4, B->nf.ip4, 20, 1, false);
	expect_dropped(pkt, len, DP_DROP_SPOOF_IP);
	len = build_udp(pkt, true, nf_be_mac, A->nf.mac, C->nf.ip6, B->nf.ip6, 20, 1, false);
	expect_dropped(pkt, len, DP_DROP_SPOOF_IP);
	len = build_udp(pkt, true, nf_be_mac, A->nf.mac, rogue6, B->nf.ip6, 20, 1, false);
	expect_dropped(pkt, len, DP_DROP_SPOOF_IP);
	/* link-local source, to a guest: not A's either */
	len = build_udp(pkt, true, nf_be_mac, A->nf.mac, A->nf.ip6_ll, B->nf.ip6, 20, 1, false);
	expect_dropped(pkt, len, DP_DROP_SPOOF_IP);

	/* not IP at all; malformed */
	len = udp4(pkt, A, B->nf.ip4, 20, 1);
	put16(pkt + 12, 0x88b5);
	expect_dropped(pkt, len, DP_DROP_PROTO);
	len = udp4(pkt, A, B->nf.ip4, 20, 1);
	pkt[14] = 0x55; /* version 5 */
	expect_dropped(pkt, len, DP_DROP_MALFORMED);

	CU_ASSERT_EQUAL(st(A)->tx_pkts, 10);
	CU_ASSERT_EQUAL(st(B)->rx_pkts + st(C)->rx_pkts, 0);
	CU_ASSERT_EQUAL(all_drops(B) + all_drops(C), 0);
	finish();
}

static void test_routing_drops(void)
{
	uint8_t pkt[256];
	size_t len;
	static const uint8_t nobody4[4] = {10, 99, 0, 200};
	static const uint8_t outside4[4] = {192, 0, 2, 1};
	static const uint8_t nobody6[16] = {0xfd, [15] = 0x99};
	static const uint8_t bcast4[4] = {10, 99, 0, 255};
	static const uint8_t limited4[4] = {255, 255, 255, 255};
	static const uint8_t mcast4[4] = {224, 0, 0, 251};
	static const uint8_t mcast4_mac[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb};
	static const uint8_t mcast6[16] = {0xff, 0x02, [15] = 0xfb};
	static const uint8_t mcast6_mac[6] = {0x33, 0x33, 0, 0, 0, 0xfb};

	three_guests(8);
	/* unregistered destinations */
	len = build_udp(pkt, false, nf_be_mac, A->nf.mac, A->nf.ip4, nobody4, 20, 1, false);
	expect_dropped(pkt, len, DP_DROP_NO_ROUTE);
	len = build_udp(pkt, false, nf_be_mac, A->nf.mac, A->nf.ip4, outside4, 20, 1, false);
	expect_dropped(pkt, len, DP_DROP_NO_ROUTE);
	len = build_udp(pkt, true, nf_be_mac, A->nf.mac, A->nf.ip6, nobody6, 20, 1, false);
	expect_dropped(pkt, len, DP_DROP_NO_ROUTE);

	/* broadcast and multicast */
	len = build_udp(pkt, false, bcast_mac, A->nf.mac, A->nf.ip4, bcast4, 20, 1, false);
	expect_dropped(pkt, len, DP_DROP_GROUP);
	len = build_udp(pkt, false, bcast_mac, A->nf.mac, A->nf.ip4, limited4, 20, 1, false);
	expect_dropped(pkt, len, DP_DROP_GROUP);
	len = build_udp(pkt, false, mcast4_mac, A->nf.mac, A->nf.ip4, mcast4, 20, 1, false);
	expect_dropped(pkt, len, DP_DROP_GROUP);
	len = build_udp(pkt, true, mcast6_mac, A->nf.mac, A->nf.ip6, mcast6, 20, 1, false);
	expect_dropped(pkt, len, DP_DROP_GROUP);
	/* multicast IP behind a unicast MAC is still not routed */
	len = build_udp(pkt, false, nf_be_mac, A->nf.mac, A->nf.ip4, mcast4, 20, 1, false);
	expect_dropped(pkt, len, DP_DROP_GROUP);

	CU_ASSERT_EQUAL(st(A)->tx_pkts, 8);
	CU_ASSERT_EQUAL(st(B)->rx_pkts + st(C)->rx_pkts, 0);
	CU_ASSERT_EQUAL(all_drops(B) + all_drops(C), 0);

	/* a vif that is not connected is no route either */
	dp_vif_disconnect(dp, C->vif);
	CU_ASSERT_FALSE(dp_vif_connected(C->vif));
	CU_ASSERT_FALSE(dp_vif_carrier(C->vif));
	len = udp4(pkt, A, C->nf.ip4, 20, 1);
	guest_queue(A, pkt, len);
	guest_push_tx(A);
	pump();
	CU_ASSERT_EQUAL(drops(C, DP_DROP_NO_ROUTE), 1);
	CU_ASSERT_EQUAL(nf_rx_pending(&C->nf), 0);
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 4);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 2);
	finish();
}

/* Address and MAC changes take effect for routing and anti-spoofing at
 * once; an address another vif holds is refused. */
static void test_addresses(void)
{
	uint8_t pkt[256];
	size_t len, conflicts[3], nc = 0;
	struct ipnb_addr a[3] = {{.family = AF_INET}, {.family = AF_INET}, {.family = AF_INET6}};
	static const uint8_t new4[4] = {10, 99, 0, 22};
	static const uint8_t new_mac[6] = {0x00, 0x16, 0x3e, 0x00, 0x00, 0x22};
	const struct ipnb_addr *got;

	three_guests(8);
	memcpy(a[0].bytes, A->nf.ip4, 4); /* A's */
	memcpy(a[1].bytes, new4, 4);
	memcpy(a[2].bytes, B->nf.ip6, 16);
	/* B gives up its old IPv4 address and says so */
	CU_ASSERT_EQUAL(dp_vif_set_addrs(dp, B->vif, a, 3, conflicts, &nc), 1);
	CU_ASSERT_EQUAL_FATAL(nc, 1);
	CU_ASSERT_EQUAL(conflicts[0], 0);
	CU_ASSERT_PTR_EQUAL(dp_addr_owner(dp, &a[0]), A->vif);
	CU_ASSERT_PTR_EQUAL(dp_addr_owner(dp, &a[1]), B->vif);
	CU_ASSERT_EQUAL(dp_vif_addrs(B->vif, &got), 2);

	/* B's old address is gone: no route to it, and B may not use it */
	len = udp4(pkt, A, B->nf.ip4, 20, 1);
	expect_dropped(pkt, len, DP_DROP_NO_ROUTE);
	len = udp4(pkt, A, new4, 20, 2);
	guest_queue(A, pkt, len);
	guest_push_tx(A);
	pump();
	expect_rx(B, pkt, len, 0);
	len = udp4(pkt, B, A->nf.ip4, 20, 3);
	guest_queue(B, pkt, len);
	guest_push_tx(B);
	pump();
	CU_ASSERT_EQUAL(drops(B, DP_DROP_SPOOF_IP), 1);
	CU_ASSERT_EQUAL(nf_rx_pending(&A->nf), 0);

	/* a new MAC: delivered to it, and the old one is now spoofing */
	dp_vif_set_mac(B->vif, new_mac);
	CU_ASSERT(memcmp(dp_vif_mac(B->vif), new_mac, 6) == 0);
	memcpy(B->nf.mac, new_mac, 6);
	len = udp4(pkt, A, new4, 20, 4);
	guest_queue(A, pkt, len);
	guest_push_tx(A);
	pump();
	expect_rx(B, pkt, len, 0);
	len = build_udp(pkt, false, nf_be_mac, (const uint8_t[6]){0x00, 0x16, 0x3e, 0, 0, 2}, new4,
			A->nf.ip4, 20, 5, false);
	guest_queue(B, pkt, len);
	guest_push_tx(B);
	pump();
	CU_ASSERT_EQUAL(drops(B, DP_DROP_SPOOF_MAC), 1);
	CU_ASSERT_EQUAL(nf_rx_pending(&A->nf), 0);

	/* A goes away: its address is free for B */
	dp_vif_free(dp, A->vif);
	A->vif = NULL;
	CU_ASSERT_PTR_NULL(dp_addr_owner(dp, &a[0]));
	CU_ASSERT_EQUAL(dp_vif_set_addrs(dp, B->vif, a, 3, conflicts, &nc), 0);
	CU_ASSERT_EQUAL(nc, 0);
	CU_ASSERT_PTR_EQUAL(dp_addr_owner(dp, &a[0]), B->vif);
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 4);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 3);
	finish();
}

/* ---- checksum offload ---- */

static void test_csum_blank(void)
{
	uint8_t pkt[512];
	size_t len;
	netif_rx_response_t rsp;
	const uint8_t *data;
	RING_IDX idx;

	three_guests(8);
	C->cfg.rx_csum_offload = false;
	C->cfg.rx_ipv6_csum_offload = false;
	B->cfg.rx_ipv6_csum_offload = false;
	{
		char err[128];

		CU_ASSERT_EQUAL(dp_vif_connect(dp, C->vif, &C->cfg, err, sizeof(err)), 0);
		CU_ASSERT_EQUAL(dp_vif_connect(dp, B->vif, &B->cfg, err, sizeof(err)), 0);
	}
	pump();

	/* to B, which takes blank checksums: bytes as sent, flags say so */
	len = build_udp(pkt, false, nf_be_mac, A->nf.mac, A->nf.ip4, B->nf.ip4, 101, 1, true);
	CU_ASSERT_FALSE(l4_csum_ok(pkt, false, IPPROTO_UDP));
	guest_queue_frags(A, pkt, len, (uint16_t[]){(uint16_t)len}, 1, NETTXF_csum_blank);
	guest_push_tx(A);
	pump();
	expect_rx(B, pkt, len, NETRXF_csum_blank | NETRXF_data_validated);

	/* to C, which does not: completed in the delivered bytes */
	len = build_udp(pkt, false, nf_be_mac, A->nf.mac, A->nf.ip4, C->nf.ip4, 101, 2, true);
	guest_queue_frags(A, pkt, len, (uint16_t[]){(uint16_t)len}, 1,
			  NETTXF_csum_blank | NETTXF_data_validated);
	guest_push_tx(A);
	pump();
	CU_ASSERT_FATAL(nf_take_rx(&C->nf, &rsp, &data, &idx));
	CU_ASSERT_EQUAL(rsp.status, (int16_t)len);
	CU_ASSERT_EQUAL(rsp.flags, NETRXF_data_validated);
	CU_ASSERT(l4_csum_ok(data, false, IPPROTO_UDP));
	/* only the UDP checksum (bytes 40-41) changed */
	CU_ASSERT(memcmp(data + 12, pkt + 12, 40 - 12) == 0);
	CU_ASSERT(memcmp(data + 42, pkt + 42, len - 42) == 0);

	/* IPv6 follows feature-ipv6-csum-offload: B advertised it off */
	len = build_udp(pkt, true, nf_be_mac, A->nf.mac, A->nf.ip6, B->nf.ip6, 64, 3, true);
	guest_queue_frags(A, pkt, len, (uint16_t[]){(uint16_t)len}, 1, NETTXF_csum_blank);
	guest_push_tx(A);
	pump();
	CU_ASSERT_FATAL(nf_take_rx(&B->nf, &rsp, &data, &idx));
	CU_ASSERT_EQUAL(rsp.flags, NETRXF_data_validated);
	CU_ASSERT(l4_csum_ok(data, true, IPPROTO_UDP));
	/* ... and to A (offload on) it stays blank */
	len = build_udp(pkt, true, nf_be_mac, B->nf.mac, B->nf.ip6, A->nf.ip6, 64, 4, true);
	guest_queue_frags(B, pkt, len, (uint16_t[]){(uint16_t)len}, 1, NETTXF_csum_blank);
	guest_push_tx(B);
	pump();
	expect_rx(A, pkt, len, NETRXF_csum_blank | NETRXF_data_validated);

	/* blank over several slots, completed for C */
	{
		uint16_t sizes[3] = {30, 20, 0};

		len =
		    build_udp(pkt, false, nf_be_mac, A->nf.mac, A->nf.ip4, C->nf.ip4, 300, 5, true);
		sizes[2] = (uint16_t)(len - 50);
		guest_queue_frags(A, pkt, len, sizes, 3, NETTXF_csum_blank);
		guest_push_tx(A);
		pump();
		CU_ASSERT_FATAL(nf_take_rx(&C->nf, &rsp, &data, &idx));
		CU_ASSERT_EQUAL(rsp.status, (int16_t)len);
		CU_ASSERT(l4_csum_ok(data, false, IPPROTO_UDP));
	}

	/* data_validated alone is passed on; no flags stay no flags */
	len = udp4(pkt, A, C->nf.ip4, 40, 6);
	guest_queue_frags(A, pkt, len, (uint16_t[]){(uint16_t)len}, 1, NETTXF_data_validated);
	guest_push_tx(A);
	pump();
	expect_rx(C, pkt, len, NETRXF_data_validated);
	CU_ASSERT_EQUAL(all_drops(A) + all_drops(B) + all_drops(C), 0);
	finish();
}

/* ---- bounded queues ---- */

static void test_rx_queue_bound(void)
{
	static uint8_t pkt[128];
	size_t len, qlen = 0;
	unsigned int okay, sent = 0, bound;
	netif_rx_response_t rsp;
	const uint8_t *data;
	RING_IDX idx;

	three_guests(0);
	guest_post_rx(A, 8);
	guest_post_rx(C, 8);
	pump();

	/* B posts nothing; A sends 300 packets to B in two bursts */
	for (int burst = 0; burst < 2; burst++) {
		unsigned int n = burst ? 100 : 200;

		for (unsigned int i = 0; i < n; i++, sent++) {
			qlen = udp4(pkt, A, B->nf.ip4, 16, sent);
			guest_queue(A, pkt, qlen);
		}
		guest_push_tx(A);
		pump();
		CU_ASSERT_EQUAL(nf_reap_tx(&A->nf, &okay), n);
		CU_ASSERT_EQUAL(okay, n);
	}
	bound = (unsigned int)dp_vif_queued(B->vif);
	CU_ASSERT(bound > 0 && bound < sent);
	CU_ASSERT_EQUAL(drops(B, DP_DROP_RXQ_FULL), sent - bound);
	CU_ASSERT_EQUAL(nf_rx_pending(&B->nf), 0);
	CU_ASSERT_EQUAL(st(A)->tx_pkts, sent);
	/* one more is dropped too, the queue does not grow */
	len = udp4(pkt, A, B->nf.ip4, 16, 9999);
	guest_queue(A, pkt, len);
	guest_push_tx(A);
	pump();
	CU_ASSERT_EQUAL(dp_vif_queued(B->vif), bound);
	CU_ASSERT_EQUAL(drops(B, DP_DROP_RXQ_FULL), sent + 1 - bound);
	CU_ASSERT(dp_vif_carrier(B->vif)); /* no stall in this short a time */

	/* other guests' traffic still flows both ways */
	one_way(C, A, 30, 1);
	one_way(A, C, 30, 2);

	/* B posts buffers: the queued packets arrive, oldest first */
	guest_post_rx(B, RING_SIZE(&B->nf.rx));
	pump();
	CU_ASSERT_EQUAL(nf_rx_pending(&B->nf),
			bound < RING_SIZE(&B->nf.rx) ? bound : RING_SIZE(&B->nf.rx));
	for (unsigned int i = 0; nf_take_rx(&B->nf, &rsp, &data, &idx); i++) {
		CU_ASSERT_EQUAL(rsp.id, nf_rx_id(idx));
		CU_ASSERT_EQUAL(rsp.status, (int16_t)qlen);
		if (udp_seq(data, false) != i) {
			CU_FAIL("RX order");
			break;
		}
	}
	CU_ASSERT_EQUAL(st(B)->rx_pkts, bound);
	CU_ASSERT_EQUAL(dp_vif_queued(B->vif), 0);
	CU_ASSERT_EQUAL(drops(B, DP_DROP_RX_TIMEOUT), 0);

	/* and new traffic flows again */
	guest_post_rx(B, 4);
	one_way(A, B, 16, 5);
	finish();
}

/*
 * A packet queued for a receiver late in a dp_run() pass must not count as
 * old at the end of that pass. C is disabled first in the pass (guests are
 * processed newest first) and its callback lets the clock tick, then A's
 * packets for B are queued: B has one buffer, so one packet stays queued.
 */
static void test_rx_queue_same_pass(void)
{
	uint8_t pkt[2][128];
	size_t len[2];

	three_guests(0);
	guest_post_rx(B, 1);
	pump();
	for (uint32_t i = 0; i < 2; i++) {
		len[i] = udp4(pkt[i], A, B->nf.ip4, 40, i);
		guest_queue(A, pkt[i], len[i]);
	}
	C->nf.tx.sring->req_prod = C->nf.tx.req_prod_pvt + RING_SIZE(&C->nf.tx) + 1;
	CU_ASSERT_EQUAL(fake_evtchn_kick(C->nf.domid, C->nf.port_tx), 0);
	guest_push_tx(A);
	disable_waits_for_tick = true;
	pump();
	CU_ASSERT_EQUAL(ndisabled, 1);
	CU_ASSERT_PTR_EQUAL(disabled_vif, C->vif);
	CU_ASSERT_EQUAL(st(A)->tx_pkts, 2);
	/* the first packet was delivered, the second waits for a buffer */
	CU_ASSERT_EQUAL(nf_rx_pending(&B->nf), 1);
	expect_rx(B, pkt[0], len[0], 0);
	CU_ASSERT_EQUAL(drops(B, DP_DROP_RX_TIMEOUT), 0);
	CU_ASSERT_EQUAL(drops(B, DP_DROP_CARRIER_OFF), 0);
	CU_ASSERT_EQUAL(dp_vif_queued(B->vif), 1);
	CU_ASSERT(dp_vif_carrier(B->vif));
	guest_post_rx(B, 1);
	pump();
	expect_rx(B, pkt[1], len[1], 0);
	finish();
}

/*
 * A queued packet needs more RX slots than the guest has posted: the data
 * path must wait for a notification (dp_run() lets the loop sleep), and
 * the guest's next post must notify it.
 */
static void test_rx_wait_for_slots(void)
{
	static uint8_t pkt[6000];
	size_t len;
	uint16_t sizes[2];
	unsigned int okay;
	int r = 0;

	three_guests(0);
	guest_post_rx(B, 1);
	pump();
	len = udp4(pkt, A, B->nf.ip4, 5000, 1); /* two RX slots */
	sizes[0] = 4000;
	sizes[1] = (uint16_t)(len - 4000);
	guest_queue_frags(A, pkt, len, sizes, 2, 0);
	guest_push_tx(A);
	pump();
	CU_ASSERT_EQUAL(nf_reap_tx(&A->nf, &okay), 2);
	CU_ASSERT_EQUAL(dp_vif_queued(B->vif), 1);
	CU_ASSERT_EQUAL(nf_rx_pending(&B->nf), 0);
	/* nothing can progress until B posts: no busy loop */
	for (int i = 0; i < 3; i++)
		r = dp_run(dp);
	CU_ASSERT(r != 0);
	/* one more buffer: the backend asked to be notified, and delivers */
	guest_post_rx(B, 1);
	pump();
	CU_ASSERT_EQUAL(nf_rx_pending(&B->nf), 2);
	CU_ASSERT_EQUAL(dp_vif_queued(B->vif), 0);
	CU_ASSERT_EQUAL(st(B)->rx_pkts, 1);
	finish();
}

/* Queued packets are freed by disconnect, vif free and dp free (LSan). */
static void test_teardown_with_queue(void)
{
	uint8_t pkt[128];
	size_t len;
	unsigned int okay;

	three_guests(0);
	for (uint32_t i = 0; i < 20; i++) {
		len = udp4(pkt, A, i & 1 ? B->nf.ip4 : C->nf.ip4, 16, i);
		guest_queue(A, pkt, len);
	}
	len = udp4(pkt, B, C->nf.ip4, 16, 100);
	guest_queue(B, pkt, len);
	guest_push_tx(A);
	guest_push_tx(B);
	pump();
	CU_ASSERT_EQUAL(nf_reap_tx(&A->nf, &okay), 20);
	CU_ASSERT_EQUAL(dp_vif_queued(B->vif), 10);
	CU_ASSERT_EQUAL(dp_vif_queued(C->vif), 11);

	dp_vif_disconnect(dp, B->vif);
	CU_ASSERT_EQUAL(dp_vif_queued(B->vif), 0);
	CU_ASSERT_EQUAL(drops(B, DP_DROP_CARRIER_OFF), 10);
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 4);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 3);
	dp_vif_disconnect(dp, B->vif); /* twice is harmless */
	dp_vif_free(dp, B->vif);
	B->vif = NULL;

	/* A and C are freed with C's queue still full */
	finish();
}

/* ---- hostile guests ---- */

static void test_hostile_req_prod(void)
{
	uint8_t pkt[128];
	size_t len;
	RING_IDX rsp_before;

	three_guests(8);
	CU_ASSERT_EQUAL(RING_SIZE(&A->nf.tx), 256);
	A->nf.tx.sring->req_prod = A->nf.tx.req_prod_pvt + RING_SIZE(&A->nf.tx) + 1;
	rsp_before = A->nf.tx.sring->rsp_prod;
	CU_ASSERT_EQUAL(fake_evtchn_kick(A->nf.domid, A->nf.port_tx), 0);
	pump();
	CU_ASSERT_EQUAL(ndisabled, 1);
	CU_ASSERT_PTR_EQUAL(disabled_vif, A->vif);
	CU_ASSERT(disabled_why[0] != '\0');
	CU_ASSERT_FALSE(dp_vif_connected(A->vif));
	CU_ASSERT_FALSE(dp_vif_carrier(A->vif));
	CU_ASSERT_EQUAL(A->nf.tx.sring->rsp_prod, rsp_before);
	/* A's rings and channel are gone, the others' are not */
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 4);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 3);
	CU_ASSERT_EQUAL(fake_evtchn_peer(A->nf.domid, A->nf.port_tx), 0);

	/* B and C carry on */
	one_way(B, C, 40, 1);
	/* traffic to A goes nowhere */
	len = udp4(pkt, C, A->nf.ip4, 40, 2);
	guest_queue(C, pkt, len);
	guest_push_tx(C);
	pump();
	CU_ASSERT_EQUAL(nf_rx_pending(&A->nf), 0);
	CU_ASSERT_EQUAL(drops(A, DP_DROP_NO_ROUTE), 1);

	/* more kicks do nothing (the channel is unbound), and the callback
	 * is not called again */
	CU_ASSERT_EQUAL(fake_evtchn_kick(A->nf.domid, A->nf.port_tx), -ENOTCONN);
	pump();
	CU_ASSERT_EQUAL(ndisabled, 1);
	finish();
}

static void test_hostile_rx_req_prod(void)
{
	uint8_t pkt[128];
	size_t len;

	three_guests(0);
	/* a packet waits for B, then B claims an impossible number of
	 * buffers */
	len = udp4(pkt, A, B->nf.ip4, 40, 1);
	guest_queue(A, pkt, len);
	guest_push_tx(A);
	pump();
	CU_ASSERT_EQUAL(dp_vif_queued(B->vif), 1);
	B->nf.rx.sring->req_prod = B->nf.rx.req_prod_pvt + RING_SIZE(&B->nf.rx) + 5;
	CU_ASSERT_EQUAL(fake_evtchn_kick(B->nf.domid, B->nf.port_rx), 0);
	pump();
	CU_ASSERT_EQUAL(ndisabled, 1);
	CU_ASSERT_PTR_EQUAL(disabled_vif, B->vif);
	CU_ASSERT_FALSE(dp_vif_connected(B->vif));
	CU_ASSERT_EQUAL(dp_vif_queued(B->vif), 0);
	CU_ASSERT_EQUAL(B->nf.rx.sring->rsp_prod, 0);
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 4);
	CU_ASSERT(dp_vif_connected(A->vif) && dp_vif_connected(C->vif));
	finish();
}

static void test_hostile_fatal_request(void)
{
	uint8_t pkt[128];
	size_t len;
	netif_tx_request_t *r;

	three_guests(8);
	/* a good packet, then one whose slot runs off its page */
	len = udp4(pkt, A, B->nf.ip4, 40, 1);
	guest_queue(A, pkt, len);
	r = RING_GET_REQUEST(&A->nf.tx, guest_queue(A, pkt, len));
	r->offset = PG - 20;
	guest_push_tx(A);
	pump();
	CU_ASSERT_EQUAL(ndisabled, 1);
	CU_ASSERT_PTR_EQUAL(disabled_vif, A->vif);
	CU_ASSERT_FALSE(dp_vif_connected(A->vif));
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 4);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 3);

	/* the others still work */
	len = udp4(pkt, C, B->nf.ip4, 40, 2);
	guest_queue(C, pkt, len);
	guest_push_tx(C);
	pump();
	{
		netif_rx_response_t rsp;
		const uint8_t *data;
		RING_IDX idx;
		bool from_c = false;

		/* (A's good packet before the bad one may or may not be
		 * delivered; C's must be) */
		while (nf_take_rx(&B->nf, &rsp, &data, &idx))
			if (memcmp(data + 14 + 12, C->nf.ip4, 4) == 0 && udp_seq(data, false) == 2)
				from_c = true;
		CU_ASSERT(from_c);
	}
	finish();
}

/* Bad requests that are dropped, not fatal: every slot is answered (extras
 * with NETIF_RSP_NULL) and the vif keeps working. */
static void test_dropped_requests(void)
{
	static uint8_t pkt[512];
	size_t len;
	uint16_t sizes[19];
	netif_tx_response_t rsp;
	RING_IDX at, idx;
	netif_tx_request_t *r;
	netif_extra_info_t ex;

	three_guests(8);

	/* 19 slots: dropped, each slot answered with an error and its id */
	len = udp4(pkt, A, B->nf.ip4, 100, 1);
	sizes[0] = 20;
	for (int k = 1; k < 18; k++)
		sizes[k] = 2;
	sizes[18] = (uint16_t)(len - 54);
	at = guest_queue_frags(A, pkt, len, sizes, 19, 0);
	guest_push_tx(A);
	pump();
	for (unsigned int k = 0; k < 19; k++) {
		CU_ASSERT_FATAL(nf_take_tx(&A->nf, &rsp, &idx));
		CU_ASSERT_EQUAL(idx, at + k);
		CU_ASSERT_EQUAL(rsp.id, nf_tx_id(at + k));
		CU_ASSERT_EQUAL(rsp.status, NETIF_RSP_ERROR);
	}
	CU_ASSERT_FALSE(nf_take_tx(&A->nf, &rsp, &idx));
	CU_ASSERT_EQUAL(drops(A, DP_DROP_TX_BAD_REQ), 1);
	CU_ASSERT_EQUAL(st(A)->tx_pkts, 0);

	/* a GSO request on a UDP packet: taken off the ring (OKAY, the extra
	 * slot NULL), then dropped as bad_gso */
	len = udp4(pkt, A, B->nf.ip4, 100, 2);
	at = A->nf.tx.req_prod_pvt;
	r = RING_GET_REQUEST(&A->nf.tx, at);
	memcpy(nf_tx_page(&A->nf, at), pkt, 60);
	*r = (netif_tx_request_t){.gref = nf_tx_gref(&A->nf, at),
				  .offset = 0,
				  .flags = NETTXF_extra_info | NETTXF_more_data,
				  .id = 0x77,
				  .size = (uint16_t)len};
	memset(&ex, 0, sizeof(ex));
	ex.type = XEN_NETIF_EXTRA_TYPE_GSO;
	ex.u.gso.size = 1400;
	ex.u.gso.type = XEN_NETIF_GSO_TYPE_TCPV4;
	r = RING_GET_REQUEST(&A->nf.tx, at + 1);
	memset(r, 0, sizeof(*r));
	memcpy(r, &ex, sizeof(ex));
	r = RING_GET_REQUEST(&A->nf.tx, at + 2);
	memcpy(nf_tx_page(&A->nf, at + 2), pkt + 60, len - 60);
	*r = (netif_tx_request_t){.gref = nf_tx_gref(&A->nf, at + 2),
				  .offset = 0,
				  .id = 0x78,
				  .size = (uint16_t)(len - 60)};
	A->nf.tx.req_prod_pvt = at + 3;
	guest_push_tx(A);
	pump();
	CU_ASSERT_FATAL(nf_take_tx(&A->nf, &rsp, &idx));
	CU_ASSERT_EQUAL(rsp.id, 0x77);
	CU_ASSERT_EQUAL(rsp.status, NETIF_RSP_OKAY);
	CU_ASSERT_FATAL(nf_take_tx(&A->nf, &rsp, &idx));
	CU_ASSERT_EQUAL(idx, at + 1);
	CU_ASSERT_EQUAL(rsp.status, NETIF_RSP_NULL);
	CU_ASSERT_FATAL(nf_take_tx(&A->nf, &rsp, &idx));
	CU_ASSERT_EQUAL(rsp.id, 0x78);
	CU_ASSERT_EQUAL(rsp.status, NETIF_RSP_OKAY);
	CU_ASSERT_EQUAL(drops(A, DP_DROP_TX_BAD_REQ), 1);
	CU_ASSERT_EQUAL(drops(A, DP_DROP_BAD_GSO), 1);

	/* a first fragment shorter than an Ethernet header */
	sizes[0] = 10;
	sizes[1] = (uint16_t)(len - 10);
	guest_queue_frags(A, pkt, len, sizes, 2, 0);
	guest_push_tx(A);
	pump();
	CU_ASSERT_EQUAL(drops(A, DP_DROP_TX_BAD_REQ), 2);

	CU_ASSERT_EQUAL(ndisabled, 0);
	CU_ASSERT_EQUAL(nf_rx_pending(&B->nf), 0);
	/* the vif still works */
	one_way(A, B, 100, 3);
	finish();
}

/* Threat 9 (XSA-448): one real slot and 17 empty ones: every slot answered
 * OKAY with its own id, one copy segment in (the empty slots' grants are
 * not touched), and the packet delivered whole. */
static void test_empty_follow_on_slots(void)
{
	uint8_t pkt[128];
	uint16_t sizes[18] = {0};
	size_t len;
	netif_tx_response_t rsp;
	RING_IDX at, idx;
	uint64_t segs;

	three_guests(4);
	len = udp4(pkt, A, B->nf.ip4, 40, 1);
	sizes[0] = (uint16_t)len;
	at = guest_queue_frags(A, pkt, len, sizes, 18, 0);
	segs = fake_gnt_copy_segs();
	guest_push_tx(A);
	pump();
	for (RING_IDX i = 0; i < 18; i++) {
		CU_ASSERT_FATAL(nf_take_tx(&A->nf, &rsp, &idx));
		CU_ASSERT_EQUAL(idx, at + i);
		CU_ASSERT_EQUAL(rsp.id, nf_tx_id(at + i));
		CU_ASSERT_EQUAL(rsp.status, NETIF_RSP_OKAY);
	}
	CU_ASSERT_EQUAL(fake_gnt_copy_segs() - segs, 2); /* one in, one out */
	expect_rx(B, pkt, len, 0);
	CU_ASSERT_EQUAL(all_drops(A), 0);
	finish();
}

/* Threat 11 (XSA-432): a head slot and 18 more, 128 bytes in all. There is
 * no header-copy counter to underflow: 19 data slots are dropped, each
 * answered with an error and its own id; 18 such slots go through. */
static void test_xsa432_shape(void)
{
	uint8_t pkt[128];
	uint16_t sizes[19];
	size_t len;
	netif_tx_response_t rsp;
	RING_IDX at, idx;

	three_guests(4);
	for (unsigned int n = 19; n >= 18; n--) {
		len = udp4(pkt, A, B->nf.ip4, 128 - 42, n);
		CU_ASSERT_EQUAL_FATAL(len, 128);
		sizes[0] = (uint16_t)(len - 5 * (n - 1)); /* at least 14 bytes */
		for (unsigned int k = 1; k < n; k++)
			sizes[k] = 5;
		at = guest_queue_frags(A, pkt, len, sizes, n, 0);
		guest_push_tx(A);
		pump();
		for (RING_IDX i = 0; i < n; i++) {
			CU_ASSERT_FATAL(nf_take_tx(&A->nf, &rsp, &idx));
			CU_ASSERT_EQUAL(rsp.id, nf_tx_id(at + i));
			CU_ASSERT_EQUAL(rsp.status, n == 19 ? NETIF_RSP_ERROR : NETIF_RSP_OKAY);
		}
	}
	CU_ASSERT_EQUAL(drops(A, DP_DROP_TX_BAD_REQ), 1);
	expect_rx(B, pkt, len, 0);
	CU_ASSERT_EQUAL(ndisabled, 0);
	finish();
}

/* Queues a multicast add or delete as netfront sends one: an empty request
 * (size 0) carrying the extra-info slot. */
static void queue_mcast(struct guest *g, uint8_t type, uint32_t n)
{
	RING_IDX at = g->nf.tx.req_prod_pvt;
	netif_tx_request_t *r = RING_GET_REQUEST(&g->nf.tx, at);
	netif_extra_info_t ex;

	*r = (netif_tx_request_t){.gref = nf_tx_gref(&g->nf, at),
				  .flags = NETTXF_extra_info,
				  .id = (uint16_t)n,
				  .size = 0};
	memset(&ex, 0, sizeof(ex));
	ex.type = type;
	ex.u.mcast.addr[0] = 0x01;
	ex.u.mcast.addr[5] = (uint8_t)n;
	memcpy(RING_GET_REQUEST(&g->nf.tx, at + 1), &ex, sizeof(ex));
	g->nf.tx.req_prod_pvt = at + 2;
}

/*
 * Threat 13: multicast control is not offered, so nothing is kept per
 * group. The 65th add is answered like the first (the request with an
 * error, the extra with NULL), and a million adds and deletes leave the
 * heap where it was.
 */
static void test_mcast_churn(void)
{
	netif_tx_response_t rsp;
	RING_IDX idx;
	size_t heap0 = 0;
	unsigned int okay;

	three_guests(4);
	for (uint32_t n = 0; n < 1000000; n += 64) {
		for (uint32_t k = 0; k < 64; k++)
			queue_mcast(A,
				    k % 2 ? XEN_NETIF_EXTRA_TYPE_MCAST_DEL
					  : XEN_NETIF_EXTRA_TYPE_MCAST_ADD,
				    n + k);
		guest_push_tx(A);
		pump();
		if (n == 0) {
			/* the first 64: each add and delete answered alike */
			for (uint32_t k = 0; k < 64; k++) {
				CU_ASSERT_FATAL(nf_take_tx(&A->nf, &rsp, &idx));
				CU_ASSERT_EQUAL(rsp.status, NETIF_RSP_ERROR);
				CU_ASSERT_FATAL(nf_take_tx(&A->nf, &rsp, &idx));
				CU_ASSERT_EQUAL(rsp.status, NETIF_RSP_NULL);
			}
			heap0 = heap_bytes();
		} else if (n == 64) {
			/* the 65th add, and after */
			CU_ASSERT_FATAL(nf_take_tx(&A->nf, &rsp, &idx));
			CU_ASSERT_EQUAL(rsp.id, 64);
			CU_ASSERT_EQUAL(rsp.status, NETIF_RSP_ERROR);
			CU_ASSERT_FATAL(nf_take_tx(&A->nf, &rsp, &idx));
			CU_ASSERT_EQUAL(rsp.status, NETIF_RSP_NULL);
			nf_reap_tx(&A->nf, &okay);
		} else {
			CU_ASSERT_EQUAL_FATAL(nf_reap_tx(&A->nf, &okay), 128);
			CU_ASSERT_EQUAL(okay, 0);
		}
	}
	CU_ASSERT_EQUAL(heap_bytes(), heap0);
	CU_ASSERT_EQUAL(ndisabled, 0);
	CU_ASSERT(dp_vif_connected(A->vif));
	finish();
}

/* Threat 26: a connected guest with no registered address owns nothing:
 * everything IP it sends is spoofed_ip, its ARP is spoofed_arp, and
 * nothing is delivered to the address it thinks it has. */
static void test_no_address(void)
{
	uint8_t pkt[128];
	size_t len;
	char err[128];
	unsigned int okay;

	guest_init(A, 1, false);
	guest_init(B, 2, false);
	guest_connect(A);
	B->vif = dp_vif_new(dp, (uint16_t)B->nf.domid, 0, B->nf.mac);
	CU_ASSERT_PTR_NOT_NULL_FATAL(B->vif);
	CU_ASSERT_EQUAL_FATAL(dp_vif_connect(dp, B->vif, &B->cfg, err, sizeof(err)), 0);
	guest_post_rx(A, 4);
	guest_post_rx(B, 4);
	pump();

	len = udp4(pkt, B, A->nf.ip4, 32, 1);
	guest_queue(B, pkt, len);
	len = build_udp(pkt, true, nf_be_mac, B->nf.mac, B->nf.ip6, A->nf.ip6, 32, 2, false);
	guest_queue(B, pkt, len);
	len = build_arp(pkt, B->nf.mac, B->nf.mac, B->nf.ip4, A->nf.ip4, FRAME_ARP_REQUEST);
	guest_queue(B, pkt, len);
	guest_push_tx(B);
	pump();
	CU_ASSERT_EQUAL(nf_reap_tx(&B->nf, &okay), 3);
	CU_ASSERT_EQUAL(drops(B, DP_DROP_SPOOF_IP), 2);
	CU_ASSERT_EQUAL(drops(B, DP_DROP_SPOOF_ARP), 1);
	CU_ASSERT_EQUAL(nf_rx_pending(&A->nf) + nf_rx_pending(&B->nf), 0);

	/* A's packet for B's would-be address goes nowhere */
	len = udp4(pkt, A, B->nf.ip4, 32, 3);
	guest_queue(A, pkt, len);
	guest_push_tx(A);
	pump();
	CU_ASSERT_EQUAL(drops(A, DP_DROP_NO_ROUTE), 1);
	CU_ASSERT_EQUAL(nf_rx_pending(&B->nf), 0);
	finish();
}

static void test_tx_copy_failure(void)
{
	uint8_t pkt[3][128];
	size_t len[3];
	netif_tx_response_t rsp;
	RING_IDX at[3], idx;
	netif_rx_response_t rrsp;
	const uint8_t *data;

	three_guests(8);
	/* the middle one of three segments fails */
	for (uint32_t i = 0; i < 3; i++) {
		len[i] = udp4(pkt[i], A, B->nf.ip4, 40, i);
		at[i] = guest_queue(A, pkt[i], len[i]);
	}
	fake_gnt_fail_next_copy(1, 1, GNTST_general_error);
	guest_push_tx(A);
	pump();
	for (int i = 0; i < 3; i++) {
		CU_ASSERT_FATAL(nf_take_tx(&A->nf, &rsp, &idx));
		CU_ASSERT_EQUAL(idx, at[i]);
		CU_ASSERT_EQUAL(rsp.id, nf_tx_id(at[i]));
		CU_ASSERT_EQUAL(rsp.status, i == 1 ? NETIF_RSP_ERROR : NETIF_RSP_OKAY);
	}
	CU_ASSERT_EQUAL(drops(A, DP_DROP_TX_COPY), 1);
	CU_ASSERT_EQUAL(st(A)->tx_pkts, 2);
	CU_ASSERT_EQUAL(nf_rx_pending(&B->nf), 2);
	CU_ASSERT(nf_take_rx(&B->nf, &rrsp, &data, &idx));
	CU_ASSERT_EQUAL(udp_seq(data, false), 0);
	CU_ASSERT(nf_take_rx(&B->nf, &rrsp, &data, &idx));
	CU_ASSERT_EQUAL(udp_seq(data, false), 2);

	/* the whole call fails */
	for (uint32_t i = 0; i < 3; i++)
		at[i] = guest_queue(A, pkt[i], len[i]);
	fake_gnt_fail_next_copy_call(EIO);
	guest_push_tx(A);
	pump();
	for (int i = 0; i < 3; i++) {
		CU_ASSERT_FATAL(nf_take_tx(&A->nf, &rsp, &idx));
		CU_ASSERT_EQUAL(rsp.id, nf_tx_id(at[i]));
		CU_ASSERT_EQUAL(rsp.status, NETIF_RSP_ERROR);
	}
	CU_ASSERT_EQUAL(drops(A, DP_DROP_TX_COPY), 4);
	CU_ASSERT_EQUAL(nf_rx_pending(&B->nf), 0);

	/* a grant the guest revoked (or never made) */
	fake_grant_revoke(A->nf.domid, nf_tx_gref(&A->nf, A->nf.tx.req_prod_pvt));
	at[0] = guest_queue(A, pkt[0], len[0]);
	guest_push_tx(A);
	pump();
	CU_ASSERT_FATAL(nf_take_tx(&A->nf, &rsp, &idx));
	CU_ASSERT_EQUAL(rsp.id, nf_tx_id(at[0]));
	CU_ASSERT_EQUAL(rsp.status, NETIF_RSP_ERROR);
	CU_ASSERT_EQUAL(drops(A, DP_DROP_TX_COPY), 5);
	CU_ASSERT_EQUAL(ndisabled, 0);
	CU_ASSERT(dp_vif_connected(A->vif));
	finish();
}

/* Every error status a grant copy segment can come back with (grant_table.h),
 * GNTST_eagain (a paged-out frame) first. */
static const int16_t gntst_errors[] = {
    GNTST_eagain,	GNTST_general_error,   GNTST_bad_domain,
    GNTST_bad_gntref,	GNTST_bad_handle,      GNTST_bad_virt_addr,
    GNTST_bad_dev_addr, GNTST_no_device_space, GNTST_permission_denied,
    GNTST_bad_page,	GNTST_bad_copy_arg,    GNTST_address_too_big,
};

/*
 * Each grant error on each copy path: guest to backend (TX), backend to
 * guest (RX) for a guest's packet and for a packet from a port. The packet
 * concerned is answered with NETIF_RSP_ERROR and counted, the next one goes
 * through, and nothing is disabled: a failed copy is the guest's loss only.
 */
static void test_copy_errors(void)
{
	static const uint8_t lan_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
	static const uint8_t outside4[4] = {192, 0, 2, 1};
	const size_t nerr = sizeof(gntst_errors) / sizeof(gntst_errors[0]);
	uint8_t pkt[128];
	size_t len;
	netif_tx_response_t rsp;
	netif_rx_response_t rrsp;
	const uint8_t *data;
	struct frame_info fi;
	RING_IDX idx;

	three_guests(0);
	for (size_t e = 0; e < nerr; e++) {
		/* TX: the copy out of A's page fails */
		len = udp4(pkt, A, B->nf.ip4, 40, (uint32_t)e);
		guest_queue(A, pkt, len);
		fake_gnt_fail_next_copy(0, 1, gntst_errors[e]);
		guest_push_tx(A);
		pump();
		CU_ASSERT_FATAL(nf_take_tx(&A->nf, &rsp, &idx));
		CU_ASSERT_EQUAL(rsp.status, NETIF_RSP_ERROR);
		CU_ASSERT_EQUAL(drops(A, DP_DROP_TX_COPY), e + 1);
		CU_ASSERT_EQUAL(dp_vif_queued(B->vif), 0);

		/* RX: A's next packet waits for B, whose buffer then cannot
		 * be written: an error response in its slot, with its id */
		guest_queue(A, pkt, len);
		guest_push_tx(A);
		pump();
		CU_ASSERT_FATAL(nf_take_tx(&A->nf, &rsp, &idx));
		CU_ASSERT_EQUAL(rsp.status, NETIF_RSP_OKAY);
		CU_ASSERT_EQUAL(dp_vif_queued(B->vif), 1);
		fake_gnt_fail_next_copy(0, 1, gntst_errors[e]);
		guest_post_rx(B, 1);
		pump();
		CU_ASSERT_FATAL(nf_take_rx(&B->nf, &rrsp, &data, &idx));
		CU_ASSERT_EQUAL(rrsp.id, nf_rx_id(idx));
		CU_ASSERT_EQUAL(rrsp.status, NETIF_RSP_ERROR);
		CU_ASSERT_EQUAL(drops(B, DP_DROP_RX_COPY), 2 * e + 1);

		/* RX of a packet from a port */
		len = build_udp(pkt, false, nf_be_mac, lan_mac, outside4, B->nf.ip4, 40,
				(uint32_t)e, false);
		CU_ASSERT_EQUAL_FATAL(frame_parse(pkt, len, &fi), FRAME_OK);
		CU_ASSERT(dp_input(dp, pkt, len, &fi, NULL));
		fake_gnt_fail_next_copy(0, 1, gntst_errors[e]);
		guest_post_rx(B, 1);
		pump();
		CU_ASSERT_FATAL(nf_take_rx(&B->nf, &rrsp, &data, &idx));
		CU_ASSERT_EQUAL(rrsp.id, nf_rx_id(idx));
		CU_ASSERT_EQUAL(rrsp.status, NETIF_RSP_ERROR);
		CU_ASSERT_EQUAL(drops(B, DP_DROP_RX_COPY), 2 * e + 2);
	}
	/* and then everything works */
	guest_post_rx(B, 1);
	one_way(A, B, 40, 99);
	CU_ASSERT_EQUAL(ndisabled, 0);
	CU_ASSERT(dp_vif_connected(A->vif) && dp_vif_connected(B->vif));
	finish();
}

static void test_rx_copy_failure(void)
{
	uint8_t pkt[128];
	size_t len;
	netif_rx_response_t rsp;
	const uint8_t *data;
	RING_IDX idx;
	netif_rx_request_t *r;

	three_guests(0);
	for (uint32_t i = 0; i < 3; i++) {
		len = udp4(pkt, A, B->nf.ip4, 40, i);
		guest_queue(A, pkt, len);
	}
	guest_push_tx(A);
	pump();
	CU_ASSERT_EQUAL(dp_vif_queued(B->vif), 3);

	/* the first RX copy fails; the second lands in a bad grant */
	fake_gnt_fail_next_copy(0, 1, GNTST_general_error);
	guest_queue_rx(B, 3);
	r = RING_GET_REQUEST(&B->nf.rx, B->nf.rx.req_prod_pvt - 2);
	r->gref = 4000; /* not granted */
	guest_push_rx(B);
	pump();
	CU_ASSERT_EQUAL_FATAL(nf_rx_pending(&B->nf), 3);
	for (uint32_t i = 0; i < 3; i++) {
		CU_ASSERT_FATAL(nf_take_rx(&B->nf, &rsp, &data, &idx));
		CU_ASSERT_EQUAL(rsp.id, nf_rx_id(idx));
		if (i < 2) {
			CU_ASSERT_EQUAL(rsp.status, NETIF_RSP_ERROR);
		} else {
			CU_ASSERT_EQUAL(rsp.status, (int16_t)len);
			CU_ASSERT_EQUAL(udp_seq(data, false), 2);
		}
	}
	CU_ASSERT_EQUAL(drops(B, DP_DROP_RX_COPY), 2);
	CU_ASSERT_EQUAL(st(B)->rx_pkts, 1);
	CU_ASSERT_EQUAL(ndisabled, 0);
	finish();
}

static void test_attach_invariant(void)
{
	char err[256];

	guest_init(A, 1, false);
	guest_init(B, 2, true);
	guest_vif(A);
	guest_vif(B);

	/* TX ring with more requests than slots outstanding */
	A->nf.tx.sring->req_prod = A->nf.tx.sring->rsp_prod + RING_SIZE(&A->nf.tx) + 1;
	err[0] = '\0';
	CU_ASSERT_EQUAL(dp_vif_connect(dp, A->vif, &A->cfg, err, sizeof(err)), -1);
	CU_ASSERT(err[0] != '\0');
	CU_ASSERT_FALSE(dp_vif_connected(A->vif));
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 0);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 0);

	/* the same on the RX ring (split channels) */
	B->nf.rx.sring->req_prod = B->nf.rx.sring->rsp_prod - 1; /* "responses" we never made */
	err[0] = '\0';
	CU_ASSERT_EQUAL(dp_vif_connect(dp, B->vif, &B->cfg, err, sizeof(err)), -1);
	CU_ASSERT(err[0] != '\0');
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 0);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 0);

	/* other connect failures leave nothing behind either */
	A->nf.tx.sring->req_prod = A->nf.tx.sring->rsp_prod;
	B->nf.rx.sring->req_prod = B->nf.rx.sring->rsp_prod;
	A->cfg.rx_ref = 3999; /* not granted */
	err[0] = '\0';
	CU_ASSERT_EQUAL(dp_vif_connect(dp, A->vif, &A->cfg, err, sizeof(err)), -1);
	CU_ASSERT(err[0] != '\0');
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 0);
	A->cfg.rx_ref = A->nf.rx_ref;
	B->cfg.evtchn_rx = 999; /* no such port: the TX one is bound first */
	err[0] = '\0';
	CU_ASSERT_EQUAL(dp_vif_connect(dp, B->vif, &B->cfg, err, sizeof(err)), -1);
	CU_ASSERT(err[0] != '\0');
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 0);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 0);
	B->cfg.evtchn_rx = B->nf.port_rx;
	fake_gnt_fail_next_map(ENOMEM);
	CU_ASSERT_EQUAL(dp_vif_connect(dp, B->vif, &B->cfg, err, sizeof(err)), -1);
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 0);
	CU_ASSERT_EQUAL(ndisabled, 0); /* a refused connect is not a disable */

	/* a full ring of posted requests is legal, and is adopted */
	guest_post_rx(A, RING_SIZE(&A->nf.rx));
	CU_ASSERT_EQUAL(dp_vif_connect(dp, A->vif, &A->cfg, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(dp_vif_connect(dp, B->vif, &B->cfg, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 4);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 3);
	finish();
}

/* A frontend that (re)connects with ring indexes just below 2^32: the
 * backend adopts them, and traffic crosses the wrap. */
static void test_index_wrap(void)
{
	uint8_t pkt[128];
	size_t len;
	unsigned int okay;

	guest_init(A, 1, false);
	guest_init(B, 2, false);
	nf_rings_init(&A->nf, 0xfffffff0u);
	nf_rings_init(&B->nf, 0xfffffffau);
	guest_connect(A);
	guest_connect(B);
	guest_post_rx(B, 40);
	pump();
	for (uint32_t round = 0; round < 4; round++) {
		for (uint32_t i = 0; i < 10; i++) {
			len = udp4(pkt, A, B->nf.ip4, 30, round * 10 + i);
			guest_queue(A, pkt, len);
		}
		guest_push_tx(A);
		pump();
		CU_ASSERT_EQUAL(nf_reap_tx(&A->nf, &okay), 10);
		CU_ASSERT_EQUAL(okay, 10);
		for (uint32_t i = 0; i < 10; i++) {
			netif_rx_response_t rsp;
			const uint8_t *data;
			RING_IDX idx;

			CU_ASSERT_FATAL(nf_take_rx(&B->nf, &rsp, &data, &idx));
			CU_ASSERT_EQUAL(rsp.id, nf_rx_id(idx));
			CU_ASSERT_EQUAL(udp_seq(data, false), round * 10 + i);
		}
	}
	CU_ASSERT(A->nf.tx.sring->rsp_prod < 0x100); /* wrapped */
	CU_ASSERT(B->nf.rx.sring->rsp_prod < 0x100);
	CU_ASSERT_EQUAL(st(B)->rx_pkts, 40);
	finish();
}

/* A frontend may post TX requests before the backend connects. */
static void test_requests_before_connect(void)
{
	uint8_t pkt[128];
	size_t len;
	unsigned int okay;

	guest_init(A, 1, false);
	guest_init(B, 2, false);
	guest_post_rx(B, 4);
	len = udp4(pkt, A, B->nf.ip4, 30, 1);
	guest_queue(A, pkt, len);
	guest_push_tx(A); /* the kick is lost: nothing is bound yet */
	guest_connect(B);
	guest_connect(A);
	pump();
	CU_ASSERT_EQUAL(nf_reap_tx(&A->nf, &okay), 1);
	CU_ASSERT_EQUAL(okay, 1);
	expect_rx(B, pkt, len, 0);
	finish();
}

/* ---- the ports ---- */

/* A fake port (dom0's stack or the NIC): what its output() returns, and
 * what the data path gave it. */
struct fake_port {
	bool accept;
	unsigned int outputs;	     /* output() calls, taken or not */
	uint8_t frame[DP_MAX_FRAME]; /* a copy of the last frame output() saw */
	size_t len;
	struct frame_info fi;
	struct ipnb_offload o; /* and its metadata */
};

static struct fake_port host_port, uplink_port;

/* Every announce() and withdraw() either port heard, in order. */
struct port_call {
	const struct fake_port *port;
	bool announce; /* else withdraw */
	struct ipnb_addr a;
};

static struct port_call calls[64];
static unsigned int ncalls;

static bool port_output(void *arg, const uint8_t *frame, size_t len, const struct frame_info *fi,
			const struct ipnb_offload *o)
{
	struct fake_port *p = arg;

	p->o = *o;

	p->outputs++;
	/* The frame is the data path's buffer, freed on return: copy it, as
	 * a real port must. */
	CU_ASSERT(len <= sizeof(p->frame));
	p->len = len <= sizeof(p->frame) ? len : sizeof(p->frame);
	memcpy(p->frame, frame, p->len);
	p->fi = *fi;
	return p->accept;
}

static void port_record(void *arg, bool announce, const struct ipnb_addr *a)
{
	CU_ASSERT(ncalls < sizeof(calls) / sizeof(calls[0]));
	if (ncalls < sizeof(calls) / sizeof(calls[0]))
		calls[ncalls] = (struct port_call){.port = arg, .announce = announce, .a = *a};
	ncalls++;
}

static void port_announce(void *arg, const struct ipnb_addr *a)
{
	port_record(arg, true, a);
}

static void port_withdraw(void *arg, const struct ipnb_addr *a)
{
	port_record(arg, false, a);
}

static const struct dp_port_ops host_ops = {
    .output = port_output, .announce = port_announce, .withdraw = port_withdraw, .arg = &host_port};
static const struct dp_port_ops uplink_ops = {.output = port_output,
					      .announce = port_announce,
					      .withdraw = port_withdraw,
					      .arg = &uplink_port};

/* Plugs both fake ports in, neither taking packets, with nothing heard. */
static void ports_set(void)
{
	memset(&host_port, 0, sizeof(host_port));
	memset(&uplink_port, 0, sizeof(uplink_port));
	ncalls = 0;
	dp_set_host(dp, &host_ops);
	dp_set_uplink(dp, &uplink_ops);
}

/* How many times port p heard of address a (announce or withdraw). */
static unsigned int port_calls(const struct fake_port *p, bool announce, const struct ipnb_addr *a)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < ncalls && i < sizeof(calls) / sizeof(calls[0]); i++)
		if (calls[i].port == p && calls[i].announce == announce &&
		    ipnb_addr_equal(&calls[i].a, a))
			n++;
	return n;
}

/* Both ports heard of a n times each. */
static void expect_told(bool announce, const struct ipnb_addr *a, unsigned int n)
{
	CU_ASSERT_EQUAL(port_calls(&host_port, announce, a), n);
	CU_ASSERT_EQUAL(port_calls(&uplink_port, announce, a), n);
}

static struct ipnb_addr ip_addr(uint8_t family, const uint8_t *bytes)
{
	struct ipnb_addr a = {.family = family};

	memcpy(a.bytes, bytes, ipnb_addr_len(&a));
	return a;
}

/* g sends pkt, which the data path accepts from its ring (what becomes of
 * it is the caller's to check). */
static void send_from(struct guest *g, const uint8_t *pkt, size_t len, uint16_t flags)
{
	unsigned int okay;

	guest_queue_frags(g, pkt, len, (uint16_t[]){(uint16_t)len}, 1, flags);
	guest_push_tx(g);
	pump();
	CU_ASSERT_EQUAL(nf_reap_tx(&g->nf, &okay), 1);
	CU_ASSERT_EQUAL(okay, 1);
}

/* Port p's last output() was the packet pkt (len bytes) to dip. Its L2
 * header is the port's business; from the IP header on it is as sent. */
static void expect_port_saw(const struct fake_port *p, const uint8_t *pkt, size_t len, bool v6,
			    const uint8_t *dip)
{
	struct ipnb_addr dst = ip_addr(v6 ? AF_INET6 : AF_INET, dip);

	CU_ASSERT_EQUAL_FATAL(p->len, len);
	CU_ASSERT_EQUAL(p->fi.kind, v6 ? FRAME_IPV6 : FRAME_IPV4);
	CU_ASSERT(ipnb_addr_equal(&p->fi.dst, &dst));
	CU_ASSERT(memcmp(p->frame + 14 + (v6 ? 24 : 16), dip, v6 ? 16 : 4) == 0);
	CU_ASSERT(memcmp(p->frame + 14, pkt + 14, len - 14) == 0);
}

/* A guest packet no vif takes is offered to the host port, then to the
 * uplink, and is no route only if neither keeps it. What a guest holds
 * never leaves through a port. */
static void test_port_output(void)
{
	uint8_t pkt[256];
	size_t len;
	static const uint8_t outside4[4] = {192, 0, 2, 1};
	static const uint8_t nobody6[16] = {0xfd, [15] = 0x99};
	static const uint8_t rogue4[4] = {10, 99, 0, 66};
	static const uint8_t mcast4[4] = {224, 0, 0, 251};
	static const uint8_t mcast4_mac[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb};

	three_guests(8);
	ports_set();

	/* the host port keeps it: the uplink is never asked */
	host_port.accept = uplink_port.accept = true;
	len = udp4(pkt, A, outside4, 60, 1);
	send_from(A, pkt, len, 0);
	CU_ASSERT_EQUAL(host_port.outputs, 1);
	CU_ASSERT_EQUAL(uplink_port.outputs, 0);
	expect_port_saw(&host_port, pkt, len, false, outside4);
	CU_ASSERT_EQUAL(all_drops(A), 0);

	/* the host port declines: the uplink gets it (IPv6 this time) */
	host_port.accept = false;
	len = build_udp(pkt, true, nf_be_mac, A->nf.mac, A->nf.ip6, nobody6, 40, 2, false);
	send_from(A, pkt, len, 0);
	CU_ASSERT_EQUAL(host_port.outputs, 2);
	CU_ASSERT_EQUAL(uplink_port.outputs, 1);
	expect_port_saw(&uplink_port, pkt, len, true, nobody6);
	CU_ASSERT_EQUAL(all_drops(A), 0);

	/* neither keeps it: the sender's no_route, as with no ports */
	uplink_port.accept = false;
	len = udp4(pkt, A, outside4, 20, 3);
	expect_dropped(pkt, len, DP_DROP_NO_ROUTE);
	CU_ASSERT_EQUAL(host_port.outputs, 3);
	CU_ASSERT_EQUAL(uplink_port.outputs, 2);

	/* a host port without an output hook is skipped */
	dp_set_host(dp, &(struct dp_port_ops){.announce = port_announce,
					      .withdraw = port_withdraw,
					      .arg = &host_port});
	uplink_port.accept = true;
	len = udp4(pkt, A, outside4, 20, 4);
	send_from(A, pkt, len, 0);
	CU_ASSERT_EQUAL(host_port.outputs, 3);
	CU_ASSERT_EQUAL(uplink_port.outputs, 3);
	expect_port_saw(&uplink_port, pkt, len, false, outside4);
	dp_set_host(dp, &host_ops);

	/* With both ports keeping everything: another guest's address is
	 * switched to that guest, over either family ... */
	host_port.accept = true;
	len = udp4(pkt, A, B->nf.ip4, 20, 5);
	send_from(A, pkt, len, 0);
	expect_rx(B, pkt, len, 0);
	len = build_udp(pkt, true, nf_be_mac, A->nf.mac, A->nf.ip6, C->nf.ip6, 20, 6, false);
	send_from(A, pkt, len, 0);
	expect_rx(C, pkt, len, 0);
	/* ... group destinations and spoofed sources are dropped before
	 * the ports ... */
	len = build_udp(pkt, false, mcast4_mac, A->nf.mac, A->nf.ip4, mcast4, 20, 7, false);
	expect_dropped(pkt, len, DP_DROP_GROUP);
	len = build_udp(pkt, false, nf_be_mac, A->nf.mac, rogue4, outside4, 20, 8, false);
	expect_dropped(pkt, len, DP_DROP_SPOOF_IP);
	/* ... and a guest whose vif is down still holds its address: the
	 * packet is lost there rather than sent to the LAN in its name */
	dp_vif_disconnect(dp, C->vif);
	len = udp4(pkt, A, C->nf.ip4, 20, 9);
	send_from(A, pkt, len, 0);
	CU_ASSERT_EQUAL(drops(C, DP_DROP_NO_ROUTE), 1);
	CU_ASSERT_EQUAL(host_port.outputs, 3);
	CU_ASSERT_EQUAL(uplink_port.outputs, 3);
	finish();
}

/* Threat 29: a link-local destination (fe80::/10, 169.254.0.0/16) never
 * leaves the host. With both ports keeping everything, one that no vif
 * holds is dropped as link_local; one that a vif holds reaches it. */
static void test_link_local(void)
{
	uint8_t pkt[256];
	size_t len, nc;
	size_t conflicts[4];
	static const uint8_t ll6[16] = {0xfe, 0x80, [15] = 0x99};
	static const uint8_t ll4[4] = {169, 254, 1, 1};
	static const uint8_t b_ll6[16] = {0xfe, 0x80, [15] = 0x0b};
	struct ipnb_addr b_addrs[3];

	three_guests(8);
	ports_set();
	host_port.accept = uplink_port.accept = true;
	len = build_udp(pkt, true, nf_be_mac, A->nf.mac, A->nf.ip6, ll6, 20, 1, false);
	expect_dropped(pkt, len, DP_DROP_LINK_LOCAL);
	len = udp4(pkt, A, ll4, 20, 2);
	expect_dropped(pkt, len, DP_DROP_LINK_LOCAL);
	CU_ASSERT_EQUAL(host_port.outputs + uplink_port.outputs, 0);
	CU_ASSERT_STRING_EQUAL(dp_drop_name(DP_DROP_LINK_LOCAL), "link_local");

	b_addrs[0] = ip_addr(AF_INET, B->nf.ip4);
	b_addrs[1] = ip_addr(AF_INET6, B->nf.ip6);
	b_addrs[2] = ip_addr(AF_INET6, b_ll6);
	CU_ASSERT_EQUAL(dp_vif_set_addrs(dp, B->vif, b_addrs, 3, conflicts, &nc), 0);
	len = build_udp(pkt, true, nf_be_mac, A->nf.mac, A->nf.ip6, b_ll6, 20, 3, false);
	send_from(A, pkt, len, 0);
	expect_rx(B, pkt, len, 0);
	CU_ASSERT_EQUAL(host_port.outputs + uplink_port.outputs, 0);
	finish();
}

/* dom0's stack and the NIC check checksums: a port never sees a blank one,
 * whether it keeps the packet or not. */
static void test_port_csum(void)
{
	uint8_t pkt[512];
	size_t len;
	static const uint8_t outside4[4] = {192, 0, 2, 1};
	static const uint8_t outside6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};

	three_guests(8);
	ports_set();
	host_port.accept = true;
	len = build_udp(pkt, false, nf_be_mac, A->nf.mac, A->nf.ip4, outside4, 101, 1, true);
	CU_ASSERT_FALSE(l4_csum_ok(pkt, false, IPPROTO_UDP));
	send_from(A, pkt, len, NETTXF_csum_blank);
	CU_ASSERT_EQUAL_FATAL(host_port.outputs, 1);
	CU_ASSERT_EQUAL_FATAL(host_port.len, len);
	CU_ASSERT(l4_csum_ok(host_port.frame, false, IPPROTO_UDP));
	/* only the UDP checksum (bytes 40-41) changed */
	CU_ASSERT(memcmp(host_port.frame, pkt, 40) == 0);
	CU_ASSERT(memcmp(host_port.frame + 42, pkt + 42, len - 42) == 0);

	/* IPv6 in three slots, declined by the host port: both saw it whole
	 * (the UDP checksum is at bytes 60-61) */
	host_port.accept = false;
	uplink_port.accept = true;
	len = build_udp(pkt, true, nf_be_mac, A->nf.mac, A->nf.ip6, outside6, 300, 2, true);
	CU_ASSERT_FALSE(l4_csum_ok(pkt, true, IPPROTO_UDP));
	guest_queue_frags(A, pkt, len, (uint16_t[]){30, 20, (uint16_t)(len - 50)}, 3,
			  NETTXF_csum_blank | NETTXF_data_validated);
	guest_push_tx(A);
	pump();
	CU_ASSERT_EQUAL(nf_reap_tx(&A->nf, NULL), 3);
	CU_ASSERT_EQUAL_FATAL(host_port.outputs, 2);
	CU_ASSERT_EQUAL_FATAL(uplink_port.outputs, 1);
	CU_ASSERT_EQUAL_FATAL(uplink_port.len, len);
	CU_ASSERT(l4_csum_ok(host_port.frame, true, IPPROTO_UDP));
	CU_ASSERT(l4_csum_ok(uplink_port.frame, true, IPPROTO_UDP));
	CU_ASSERT(memcmp(uplink_port.frame, pkt, 60) == 0);
	CU_ASSERT(memcmp(uplink_port.frame + 62, pkt + 62, len - 62) == 0);
	CU_ASSERT_EQUAL(all_drops(A), 0);
	finish();
}

/* The ports hear of each address a vif gains or gives up, once. */
static void test_port_addrs(void)
{
	static const uint8_t a4[4] = {10, 99, 0, 101}, c4[4] = {10, 99, 0, 102};
	static const uint8_t b6[16] = {0xfd, [14] = 0x01, [15] = 0x01};
	static const uint8_t d_mac[6] = {0x00, 0x16, 0x3e, 0x00, 0x00, 0x04};
	const struct ipnb_addr a = ip_addr(AF_INET, a4), b = ip_addr(AF_INET6, b6),
			       c = ip_addr(AF_INET, c4);
	struct ipnb_addr a_own, b_own6;
	size_t conflicts[3], nc = 99;
	struct dp_vif *d;

	three_guests(0);
	a_own = ip_addr(AF_INET, A->nf.ip4);
	b_own6 = ip_addr(AF_INET6, B->nf.ip6);
	ports_set();
	/* a vif not connected yet: the control path registers addresses
	 * before the frontend connects */
	d = dp_vif_new(dp, 4, 0, d_mac);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);

	/* {a, b}: both new, each announced once on each port */
	CU_ASSERT_EQUAL(dp_vif_set_addrs(dp, d, (struct ipnb_addr[]){a, b}, 2, conflicts, &nc), 0);
	CU_ASSERT_EQUAL(nc, 0);
	CU_ASSERT_EQUAL(ncalls, 4);
	expect_told(true, &a, 1);
	expect_told(true, &b, 1);

	/* {b, c}: c is announced, a withdrawn; b is not news */
	ncalls = 0;
	CU_ASSERT_EQUAL(dp_vif_set_addrs(dp, d, (struct ipnb_addr[]){b, c}, 2, conflicts, &nc), 1);
	CU_ASSERT_EQUAL(nc, 0);
	CU_ASSERT_EQUAL(ncalls, 4);
	expect_told(true, &c, 1);
	expect_told(false, &a, 1);
	CU_ASSERT_PTR_NULL(dp_addr_owner(dp, &a));

	/* A's address is refused: not announced (d did not get it) nor
	 * withdrawn (A still holds it) */
	ncalls = 0;
	CU_ASSERT_EQUAL(
	    dp_vif_set_addrs(dp, d, (struct ipnb_addr[]){b, c, a_own}, 3, conflicts, &nc), 0);
	CU_ASSERT_EQUAL_FATAL(nc, 1);
	CU_ASSERT_EQUAL(conflicts[0], 2);
	CU_ASSERT_EQUAL(ncalls, 0);
	CU_ASSERT_PTR_EQUAL(dp_addr_owner(dp, &a_own), A->vif);

	/* freeing d withdraws everything it held */
	dp_vif_free(dp, d);
	CU_ASSERT_EQUAL(ncalls, 4);
	expect_told(false, &b, 1);
	expect_told(false, &c, 1);
	CU_ASSERT_PTR_NULL(dp_addr_owner(dp, &b));

	/* An unplugged host port hears nothing more, and gets no packets;
	 * the uplink carries on. */
	dp_set_host(dp, NULL);
	ncalls = 0;
	CU_ASSERT_EQUAL(dp_vif_set_addrs(dp, B->vif,
					 (struct ipnb_addr[]){ip_addr(AF_INET, B->nf.ip4)}, 1,
					 conflicts, &nc),
			1);
	CU_ASSERT_EQUAL(ncalls, 1);
	CU_ASSERT_EQUAL(port_calls(&uplink_port, false, &b_own6), 1);
	CU_ASSERT_EQUAL(dp_vif_set_addrs(dp, B->vif,
					 (struct ipnb_addr[]){ip_addr(AF_INET, B->nf.ip4), b_own6},
					 2, conflicts, &nc),
			0);
	CU_ASSERT_EQUAL(ncalls, 2);
	CU_ASSERT_EQUAL(port_calls(&uplink_port, true, &b_own6), 1);
	host_port.accept = uplink_port.accept = true;
	{
		static const uint8_t outside4[4] = {192, 0, 2, 1};
		uint8_t pkt[128];
		size_t len = udp4(pkt, A, outside4, 20, 1);

		send_from(A, pkt, len, 0);
	}
	CU_ASSERT_EQUAL(host_port.outputs, 0);
	CU_ASSERT_EQUAL(uplink_port.outputs, 1);

	/* dp_free() frees the vifs as dp_vif_free() does: the uplink hears
	 * their six addresses go, the host port nothing */
	ncalls = 0;
	finish();
	CU_ASSERT_EQUAL(ncalls, 6);
	for (unsigned int i = 0; i < ncalls && i < sizeof(calls) / sizeof(calls[0]); i++) {
		CU_ASSERT_PTR_EQUAL(calls[i].port, &uplink_port);
		CU_ASSERT_FALSE(calls[i].announce);
	}
	CU_ASSERT_EQUAL(port_calls(&uplink_port, false, &a_own), 1);
	CU_ASSERT_EQUAL(port_calls(&uplink_port, false, &b_own6), 1);
}

/* A frame from a port goes to the guest holding its destination, with the
 * guest's MAC and the backend's as its L2 addresses. */
static void test_port_input(void)
{
	static const uint8_t lan_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
	static const uint8_t zero_mac[6] = {0};
	static const uint8_t outside4[4] = {192, 0, 2, 1};
	static const uint8_t outside6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
	static const uint8_t nobody4[4] = {10, 99, 0, 200};
	uint8_t pkt[256], copy[256];
	struct frame_info fi;
	size_t len;

	three_guests(4);
	ports_set();
	host_port.accept = uplink_port.accept = true;

	/* from a LAN host to B, as the uplink receives it */
	len = build_udp(pkt, false, nf_be_mac, lan_mac, outside4, B->nf.ip4, 50, 1, false);
	CU_ASSERT_EQUAL_FATAL(frame_parse(pkt, len, &fi), FRAME_OK);
	memcpy(copy, pkt, len);
	CU_ASSERT(dp_input(dp, pkt, len, &fi, NULL));
	/* the data path rewrote its own copy, not the port's buffer */
	CU_ASSERT(memcmp(pkt, copy, len) == 0);
	CU_ASSERT_EQUAL(dp_vif_queued(B->vif), 1);
	pump();
	/* no flags: the guest checks the LAN host's checksum itself */
	expect_rx(B, pkt, len, 0);
	CU_ASSERT_EQUAL(st(B)->rx_pkts, 1);
	CU_ASSERT_EQUAL(st(B)->rx_bytes, len);

	/* IPv6 to A, with the zeroed L2 header the host port hands over */
	len = build_udp(pkt, true, zero_mac, zero_mac, outside6, A->nf.ip6, 33, 2, false);
	CU_ASSERT_EQUAL_FATAL(frame_parse(pkt, len, &fi), FRAME_OK);
	CU_ASSERT(dp_input(dp, pkt, len, &fi, NULL));
	pump();
	expect_rx(A, pkt, len, 0);

	/* nobody holds the address: refused, and nothing queued or counted */
	len = build_udp(pkt, false, nf_be_mac, lan_mac, outside4, nobody4, 20, 3, false);
	CU_ASSERT_EQUAL_FATAL(frame_parse(pkt, len, &fi), FRAME_OK);
	CU_ASSERT_FALSE(dp_input(dp, pkt, len, &fi, NULL));
	pump();
	CU_ASSERT_EQUAL(nf_rx_pending(&A->nf) + nf_rx_pending(&B->nf) + nf_rx_pending(&C->nf), 0);
	CU_ASSERT_EQUAL(dp_vif_queued(A->vif) + dp_vif_queued(B->vif) + dp_vif_queued(C->vif), 0);
	CU_ASSERT_EQUAL(all_drops(A) + all_drops(B) + all_drops(C), 0);
	CU_ASSERT_EQUAL(st(C)->rx_pkts, 0);
	/* and what came from a port is never offered back to one */
	CU_ASSERT_EQUAL(host_port.outputs + uplink_port.outputs, 0);
	finish();
}

/* ---- shares, stalls and fair service (issue 9: threat 28, rows 17, 18, 20) ---- */

#define NSTALL	   33
#define STALL_PKT  6000 /* two RX slots: more than a one-buffer vif can take */
#define STALL_BASE 10	/* domid of the first stalled guest */

/* Queues one STALL_PKT-sized UDP packet from `from` to dip in two slots. */
static void queue_two_slot(struct guest *from, const uint8_t *dip, uint32_t seq)
{
	static uint8_t pkt[STALL_PKT + 64];
	size_t len = udp4(pkt, from, dip, STALL_PKT - 42, seq);
	uint16_t sizes[2] = {4000, (uint16_t)(len - 4000)};

	guest_queue_frags(from, pkt, len, sizes, 2, 0);
}

/* The source IPv4 address's last byte of a delivered frame: who sent it. */
static uint8_t rx_src4(const uint8_t *frame)
{
	return frame[14 + 15];
}

/*
 * Threat 28: 33 vifs with feature-sg post one RX buffer each and are
 * flooded with packets that need two. Each can hold only its own share
 * (DP_RXQ_BYTES): with a pool of 8192 buffers shared by all, 256 packets
 * each would have taken all of it, and an unrelated pair got nothing.
 */
static void test_stalled_vifs_share(void)
{
	static struct nf stalled[NSTALL];
	struct dp_vif *sv[NSTALL];
	uint8_t pkt[128];
	char err[128];
	size_t len;
	unsigned int okay, delivered = 0;
	netif_rx_response_t rsp;
	const uint8_t *data;
	RING_IDX idx;

	three_guests(0);
	for (unsigned int i = 0; i < NSTALL; i++) {
		const struct nf_params np = {.nbuf = 4};

		CU_ASSERT_EQUAL_FATAL(fake_domain_create(STALL_BASE + i), 0);
		CU_ASSERT_EQUAL_FATAL(nf_init(&stalled[i], STALL_BASE + i, &np), 0);
		sv[i] = nf_attach(&stalled[i], dp, 1, err, sizeof(err));
		CU_ASSERT_PTR_NOT_NULL_FATAL(sv[i]);
		dp_vif_set_mtu(sv[i], DP_MTU_MAX); /* STALL_PKT is a jumbo frame */
	}
	pump();
	/* A sends 256 two-slot packets to each: a whole queue's worth in
	 * packets, far more than a share in bytes */
	for (uint32_t n = 0; n < DP_RXQ_MAX; n++) {
		for (unsigned int i = 0; i < NSTALL; i++)
			queue_two_slot(A, stalled[i].ip4, n);
		guest_push_tx(A);
		pump();
		CU_ASSERT_EQUAL_FATAL(nf_reap_tx(&A->nf, &okay), 2 * NSTALL);
	}
	for (unsigned int i = 0; i < NSTALL; i++) {
		CU_ASSERT(dp_vif_queued_bytes(sv[i]) <= DP_RXQ_BYTES);
		CU_ASSERT(dp_vif_queued_bytes(sv[i]) > DP_RXQ_BYTES - STALL_PKT);
		CU_ASSERT(dp_vif_stats(sv[i])->drops[DP_DROP_RXQ_FULL] > 0);
		CU_ASSERT_EQUAL(dp_vif_stats(sv[i])->rx_pkts, 0);
	}
	CU_ASSERT(dp_pool_bytes(dp) <= (size_t)NSTALL * DP_RXQ_BYTES);
	CU_ASSERT_EQUAL(drops(A, DP_DROP_NOMEM), 0);

	/* an unrelated pair: 20 of 20 */
	guest_post_rx(C, 32);
	for (uint32_t n = 0; n < 20; n++) {
		len = udp4(pkt, B, C->nf.ip4, 32, n);
		guest_queue(B, pkt, len);
	}
	guest_push_tx(B);
	pump();
	while (nf_take_rx(&C->nf, &rsp, &data, &idx))
		delivered += rsp.status == (int16_t)len && rx_src4(data) == B->nf.ip4[3];
	CU_ASSERT_EQUAL(delivered, 20);
	CU_ASSERT_EQUAL(all_drops(B), 0);

	/* 10 s later the head packets still cannot go: carrier off, their
	 * buffers freed, although each vif has a buffer posted */
	fake_clock_advance(DP_STALL_MS + 1000);
	pump();
	for (unsigned int i = 0; i < NSTALL; i++) {
		CU_ASSERT_FALSE(dp_vif_carrier(sv[i]));
		CU_ASSERT_EQUAL(dp_vif_queued(sv[i]), 0);
	}
	CU_ASSERT_EQUAL(dp_pool_bytes(dp), 0);
	for (unsigned int i = 0; i < NSTALL; i++) {
		dp_vif_free(dp, sv[i]);
		CU_ASSERT_EQUAL(fake_domain_destroy(STALL_BASE + i), 0);
		nf_free(&stalled[i]);
	}
	finish();
}

/*
 * Stall detection follows the head packet: a vif flooded with packets it
 * can never take loses its carrier after DP_STALL_MS even though it posted
 * a buffer, and gets it back once it posts enough for any packet.
 */
static void test_rx_head_stall(void)
{
	netif_rx_response_t rsp;
	const uint8_t *data;
	RING_IDX idx;
	unsigned int okay;

	three_guests(0);
	guest_post_rx(B, 1);
	pump();
	/* one packet a second: each expires after 2 s, the queue never
	 * empties, and the head never goes */
	for (uint32_t t = 0; t <= DP_STALL_MS / 1000; t++) {
		CU_ASSERT(dp_vif_carrier(B->vif));
		queue_two_slot(A, B->nf.ip4, t);
		guest_push_tx(A);
		pump();
		CU_ASSERT_EQUAL(nf_reap_tx(&A->nf, &okay), 2);
		fake_clock_advance(1000);
	}
	pump();
	CU_ASSERT_FALSE(dp_vif_carrier(B->vif));
	CU_ASSERT(drops(B, DP_DROP_RX_TIMEOUT) > 0);
	CU_ASSERT(drops(B, DP_DROP_CARRIER_OFF) > 0);
	CU_ASSERT_EQUAL(st(B)->rx_pkts, 0);
	CU_ASSERT_EQUAL(dp_vif_queued(B->vif), 0);

	/* while off, new packets are dropped at once */
	queue_two_slot(A, B->nf.ip4, 100);
	guest_push_tx(A);
	pump();
	CU_ASSERT_EQUAL(dp_vif_queued(B->vif), 0);
	/* one more buffer is still too few for a feature-sg vif ... */
	guest_post_rx(B, 1);
	pump();
	CU_ASSERT_FALSE(dp_vif_carrier(B->vif));
	/* ... enough for the largest packet brings the carrier back */
	guest_post_rx(B, 16);
	pump();
	CU_ASSERT(dp_vif_carrier(B->vif));
	queue_two_slot(A, B->nf.ip4, 101);
	guest_push_tx(A);
	pump();
	CU_ASSERT_EQUAL(st(B)->rx_pkts, 1);
	CU_ASSERT(nf_take_rx(&B->nf, &rsp, &data, &idx));
	CU_ASSERT_EQUAL(rsp.flags & NETRXF_more_data, NETRXF_more_data);
	finish();
}

/*
 * Threat 18: a frontend without feature-rx-notify never kicks when it posts
 * RX buffers. While packets wait for it, the main loop wakes every
 * DP_RX_POLL_MS and finds the buffers itself; and such a vif never loses
 * its carrier for a stall (Linux does the same).
 */
static void test_rx_no_notify(void)
{
	uint8_t pkt[128];
	size_t len;
	char err[128];
	unsigned int okay;

	three_guests(0);
	B->cfg.rx_notify = false;
	CU_ASSERT_EQUAL(dp_vif_connect(dp, B->vif, &B->cfg, err, sizeof(err)), 0);
	pump();
	len = udp4(pkt, A, B->nf.ip4, 32, 1);
	guest_queue(A, pkt, len);
	guest_push_tx(A);
	pump();
	CU_ASSERT_EQUAL(nf_reap_tx(&A->nf, &okay), 1);
	CU_ASSERT_EQUAL(dp_vif_queued(B->vif), 1);
	CU_ASSERT_EQUAL(dp_run(dp), DP_RX_POLL_MS);
	/* buffers posted with no kick, as such a frontend does */
	guest_queue_rx(B, 4);
	RING_PUSH_REQUESTS(&B->nf.rx);
	CU_ASSERT_EQUAL(dp_run(dp), -1); /* the main loop's timeout ran it */
	expect_rx(B, pkt, len, 0);

	/* no buffers for longer than the stall limit: the carrier stays on,
	 * and the queue is bounded by age alone */
	guest_post_rx(B, 0);
	for (uint32_t t = 0; t <= DP_STALL_MS / 1000 + 1; t++) {
		for (int i = 0; i < 4; i++) {
			len = udp4(pkt, A, B->nf.ip4, 32, 10 + t);
			guest_queue(A, pkt, len);
		}
		guest_push_tx(A);
		pump();
		CU_ASSERT_EQUAL(nf_reap_tx(&A->nf, &okay), 4);
		fake_clock_advance(1000);
	}
	pump();
	CU_ASSERT(dp_vif_carrier(B->vif));
	CU_ASSERT(drops(B, DP_DROP_RX_TIMEOUT) > 0);
	CU_ASSERT_EQUAL(drops(B, DP_DROP_CARRIER_OFF), 0);
	/* 3 buffers were left over from the first post; 4 packets a second
	 * arrive; everything older than 2 s has gone */
	CU_ASSERT(dp_vif_queued(B->vif) <= 12);
	finish();
}

/* Threat 20: two guests flooding one receiver share it about equally. */
static void test_fair_senders(void)
{
	uint8_t pkt[256];
	size_t len;
	unsigned int okay, from_a = 0, from_b = 0;
	netif_rx_response_t rsp;
	const uint8_t *data;
	RING_IDX idx;

	three_guests(0);
	for (uint32_t it = 0; it < 40; it++) {
		for (uint32_t n = 0; n < 64; n++) {
			len = udp4(pkt, A, C->nf.ip4, 100, n);
			guest_queue(A, pkt, len);
			len = udp4(pkt, B, C->nf.ip4, 100, n);
			guest_queue(B, pkt, len);
		}
		guest_post_rx(C, 32);
		guest_push_tx(A);
		guest_push_tx(B);
		pump();
		CU_ASSERT_EQUAL(nf_reap_tx(&A->nf, &okay), 64);
		CU_ASSERT_EQUAL(nf_reap_tx(&B->nf, &okay), 64);
		while (nf_take_rx(&C->nf, &rsp, &data, &idx)) {
			from_a += rx_src4(data) == A->nf.ip4[3];
			from_b += rx_src4(data) == B->nf.ip4[3];
		}
	}
	CU_ASSERT_EQUAL(from_a + from_b, 40 * 32);
	CU_ASSERT(from_a * 10 >= (from_a + from_b) * 4);
	CU_ASSERT(from_b * 10 >= (from_a + from_b) * 4);
	CU_ASSERT(drops(C, DP_DROP_RXQ_FULL) > 0); /* C was the bottleneck */
	finish();
}

/* Packets from the ports fill at most their part of a vif's share: a LAN
 * flood to a guest leaves room for the other guests' packets to it. */
static void test_port_share(void)
{
	static const uint8_t lan_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
	static const uint8_t outside4[4] = {192, 0, 2, 1};
	static uint8_t pkt[1500];
	struct frame_info fi;
	size_t len;
	unsigned int accepted = 0;

	three_guests(0);
	len = build_udp(pkt, false, nf_be_mac, lan_mac, outside4, B->nf.ip4, 1400, 1, false);
	CU_ASSERT_EQUAL_FATAL(frame_parse(pkt, len, &fi), FRAME_OK);
	for (int i = 0; i < DP_RXQ_MAX; i++)
		accepted += dp_input(dp, pkt, len, &fi, NULL);
	CU_ASSERT_EQUAL(accepted, DP_RXQ_PORT_BYTES / len);
	CU_ASSERT_EQUAL(drops(B, DP_DROP_RXQ_FULL), DP_RXQ_MAX - accepted);
	/* a guest's packets still get in */
	len = udp4(pkt, A, B->nf.ip4, 1400, 7);
	guest_queue(A, pkt, len);
	guest_push_tx(A);
	pump();
	CU_ASSERT_EQUAL(dp_vif_queued(B->vif), accepted + 1);
	CU_ASSERT_EQUAL(dp_vif_queued_bytes(B->vif), accepted * (size_t)(len) + len);
	finish();
}

/* ---- event storms (threat 19) ---- */

static bool evtchn_readable(void)
{
	struct pollfd p = {.fd = dp_evtchn_fd(dp), .events = POLLIN};

	return poll(&p, 1, 0) == 1;
}

/*
 * Late EOI: a port stays masked from its event until the work it asked
 * for is done. A guest kicking in a tight loop on an empty ring gets its
 * kicks counted as spurious, and after a few its port is unmasked only
 * after a delay, so a million kicks cost the daemon a bounded number of
 * wakeups. A kick that brings work afterwards is served.
 */
static void test_event_storm(void)
{
	uint8_t pkt[128];
	size_t len;
	unsigned int wakeups = 0, okay;
	int t;

	three_guests(4);
	/* a kick with work: masked while dp_run() has not done it */
	len = udp4(pkt, A, B->nf.ip4, 32, 1);
	guest_queue(A, pkt, len);
	guest_push_tx(A);
	dp_handle_events(dp);
	CU_ASSERT_EQUAL(nf_kick(&A->nf, A->nf.port_tx), 0);
	CU_ASSERT_FALSE(evtchn_readable()); /* the port is still masked */
	pump();
	expect_rx(B, pkt, len, 0);
	CU_ASSERT_EQUAL(nf_reap_tx(&A->nf, &okay), 1);
	/* the kick that came during the work is delivered once unmasked */
	CU_ASSERT(evtchn_readable());
	pump();

	/* A kicks on an empty ring, 100 times a millisecond for a second;
	 * the main loop runs the data path when the fd is readable and on
	 * each timer tick. Without the backoff, every kick after an unmask
	 * would be a wakeup: 100000 of them. */
	for (int ms = 0; ms < 1000; ms++) {
		for (int k = 0; k < 100; k++) {
			CU_ASSERT_EQUAL_FATAL(nf_kick(&A->nf, A->nf.port_tx), 0);
			if (evtchn_readable()) {
				wakeups++;
				pump();
			}
		}
		fake_clock_advance(1);
		dp_run(dp);
	}
	CU_ASSERT(st(A)->spurious_events >= wakeups);
	CU_ASSERT(wakeups >= 10);
	CU_ASSERT(wakeups <= 1000 / DP_EOI_DELAY_MAX_MS + 12);
	/* the main loop is told when the unmask is due */
	CU_ASSERT_EQUAL(nf_kick(&A->nf, A->nf.port_tx), 0);
	if (evtchn_readable())
		pump();
	t = dp_run(dp);
	CU_ASSERT(t > 0 && t <= DP_EOI_DELAY_MAX_MS);
	/* B's traffic meanwhile is not held up */
	one_way(B, C, 32, 2);

	/* A's real work waits for the unmask, at most one delay; the kick
	 * that brought it ends the backoff */
	len = udp4(pkt, A, C->nf.ip4, 32, 3);
	guest_queue(A, pkt, len);
	guest_push_tx(A);
	pump();
	fake_clock_advance(DP_EOI_DELAY_MAX_MS);
	CU_ASSERT_EQUAL(dp_run(dp), -1);
	CU_ASSERT(evtchn_readable()); /* the kicks while masked, coalesced */
	pump();
	expect_rx(C, pkt, len, 0);
	one_way(A, C, 32, 4);
	CU_ASSERT_EQUAL(dp_run(dp), -1);
	CU_ASSERT_EQUAL(drops(A, DP_DROP_TX_BAD_REQ), 0);
	finish();
}

/* ---- the rate key (threat 20) ---- */

/*
 * A vif limited to 10000 bytes per 50 ms sends 1000-byte frames as fast as
 * its ring lets it for one (fake) second: about 210 get through (one
 * interval's credit to start with, then 20 refills), the rest wait on the
 * ring unanswered, and the main loop is told when the next refill is due.
 * Another guest is not limited, and lifting the limit lets the rest go.
 */
static void test_rate_limit(void)
{
	uint8_t pkt[1100];
	size_t len = 0;
	uint64_t before, bytes;
	uint32_t usec;
	unsigned int okay, answered = 0;
	int t;

	three_guests(0);
	CU_ASSERT_FALSE(dp_vif_rate(A->vif, &bytes, &usec));
	dp_vif_set_rate(A->vif, 10000, 50000);
	CU_ASSERT(dp_vif_rate(A->vif, &bytes, &usec));
	CU_ASSERT_EQUAL(bytes, 10000);
	CU_ASSERT_EQUAL(usec, 50000);
	for (uint32_t n = 0; nf_tx_space(&A->nf); n++) {
		len = udp4(pkt, A, B->nf.ip4, 1000 - 42, n);
		guest_queue(A, pkt, len);
	}
	guest_push_tx(A);
	for (int ms = 0; ms < 1000; ms++) {
		guest_post_rx(B, nf_rx_space(&B->nf));
		pump();
		answered += nf_reap_tx(&A->nf, &okay);
		nf_reap_rx(&B->nf);
		fake_clock_advance(1);
	}
	CU_ASSERT(st(A)->tx_bytes <= 10000 + 20 * 10000);
	CU_ASSERT(st(A)->tx_bytes >= 19 * 10000);
	CU_ASSERT_EQUAL(st(B)->rx_pkts, st(A)->tx_pkts);
	CU_ASSERT_EQUAL(answered, st(A)->tx_pkts);
	CU_ASSERT(st(A)->tx_credit_waits > 0);
	CU_ASSERT_EQUAL(all_drops(A), 0);
	t = dp_run(dp);
	CU_ASSERT(t > 0 && t <= 50);

	/* C is not limited: 50 frames to A go at once */
	guest_post_rx(A, 64);
	before = st(A)->rx_pkts;
	for (uint32_t n = 0; n < 50; n++) {
		len = udp4(pkt, C, A->nf.ip4, 1000 - 42, n);
		guest_queue(C, pkt, len);
	}
	guest_push_tx(C);
	pump();
	CU_ASSERT_EQUAL(st(A)->rx_pkts - before, 50);

	/* no limit: the rest of A's ring goes */
	dp_vif_set_rate(A->vif, 0, 0);
	CU_ASSERT_FALSE(dp_vif_rate(A->vif, &bytes, &usec));
	for (int i = 0; i < 8; i++) {
		guest_post_rx(B, nf_rx_space(&B->nf));
		pump();
		answered += nf_reap_tx(&A->nf, &okay);
		nf_reap_rx(&B->nf);
	}
	CU_ASSERT_EQUAL(answered, RING_SIZE(&A->nf.tx));
	CU_ASSERT_EQUAL(st(B)->rx_pkts, RING_SIZE(&A->nf.tx));
	finish();
}

/* ---- restart: taking connected vifs over ---- */

/* The state directory the restarted data paths share, and its fd. */
static char state_path[64];
static int state_fd = -1;

static void state_dir_open(void)
{
	snprintf(state_path, sizeof(state_path), "/tmp/ipnb-restart-XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(state_path));
	state_fd = open(state_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CU_ASSERT_FATAL(state_fd >= 0);
	dp_set_state_dir(dp, state_fd);
}

static void state_dir_close(void)
{
	close(state_fd);
	state_fd = -1;
	CU_ASSERT_EQUAL(rmdir(state_path), 0); /* no journal left behind */
}

/* A new process: the old data path is gone (a clean stop or a kill, the
 * fake cannot tell: either way its ports and mappings went with it), and a
 * new one stands ready, with no vif yet. The guests' rings are as they
 * were. */
static void restart(void)
{
	dp_free(dp);
	A->vif = B->vif = C->vif = NULL;
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 0);
	dp = dp_new(nf_be_mac, on_disable, &ndisabled);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dp);
	dp_set_state_dir(dp, state_fd);
}

/* The new process takes the three guests over, with the keys their
 * frontends wrote. */
static void take_over(void)
{
	guest_connect(A);
	guest_connect(B);
	guest_connect(C);
}

/* The restart tests' start: three guests on a data path with a state
 * directory, after one packet A -> B so that no index is at 0. */
static void restart_setup(void)
{
	state_dir_open();
	three_guests(8);
	one_way(A, B, 10, 1);
	nf_reap_tx(&A->nf, NULL);
}

/* g publishes its queued TX requests without a kick. */
static void publish_tx_silently(struct guest *g)
{
	g->nf.tx.sring->req_prod = g->nf.tx.req_prod_pvt;
}

/* Plays a process killed while publishing: it had committed n responses
 * for g's ring from rsp_prod on, and written the first `written` of them
 * over their requests, but never published rsp_prod. */
static void killed_while_publishing(struct guest *g, enum jr_ring r, const void *rsp,
				    unsigned int n, unsigned int written)
{
	struct jr_ident id = {g->cfg.tx_ref, g->cfg.rx_ref, g->cfg.evtchn_tx, g->cfg.evtchn_rx};
	struct jr *j = jr_open(state_fd, (uint16_t)g->nf.domid, 0, 0);
	RING_IDX base = r == JR_TX ? g->nf.tx.sring->rsp_prod : g->nf.rx.sring->rsp_prod;

	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	jr_start(j, &id);
	jr_commit(j, r, base, rsp, n);
	for (unsigned int i = 0; i < written; i++) {
		if (r == JR_TX)
			g->nf.tx.sring->ring[(base + i) % RING_SIZE(&g->nf.tx)].rsp =
			    ((const netif_tx_response_t *)rsp)[i];
		else
			g->nf.rx.sring->ring[(base + i) % RING_SIZE(&g->nf.rx)].rsp =
			    ((const netif_rx_response_t *)rsp)[i];
	}
	jr_close(j, false);
}

/* g takes every TX response: each slot from `from` on answered once, in
 * order, with its own id and OKAY. Returns how many. */
static unsigned int tx_answered_once(struct guest *g, RING_IDX from)
{
	netif_tx_response_t rsp;
	RING_IDX idx;
	unsigned int n = 0;

	while (nf_take_tx(&g->nf, &rsp, &idx)) {
		CU_ASSERT_EQUAL(idx, from + n);
		CU_ASSERT_EQUAL(rsp.id, nf_tx_id(idx));
		CU_ASSERT_EQUAL(rsp.status, NETIF_RSP_OKAY);
		n++;
	}
	return n;
}

/*
 * Killed after committing TX responses for two of A's three packets and
 * writing one of them over its request: the new process publishes both as
 * committed (the old one had sent those packets), reads requests only
 * after them, and sends the third. No slot is answered twice and none is
 * left unanswered; B receives the third packet only.
 */
static void test_restart_tx_journal(void)
{
	uint8_t pkt[3][256];
	size_t len[3];
	netif_tx_response_t rsp[2];
	RING_IDX first = 0;
	uint64_t notif;

	state_dir_open();
	three_guests(8);
	one_way(A, B, 10, 1); /* indexes away from 0 */
	nf_reap_tx(&A->nf, NULL);
	first = A->nf.tx.req_prod_pvt;
	for (int i = 0; i < 3; i++) {
		len[i] = udp4(pkt[i], A, B->nf.ip4, 20, 100 + (uint32_t)i);
		guest_queue(A, pkt[i], len[i]);
	}
	publish_tx_silently(A);
	for (int i = 0; i < 2; i++)
		rsp[i] = (netif_tx_response_t){.id = nf_tx_id(first + (RING_IDX)i),
					       .status = NETIF_RSP_OKAY};
	restart();
	killed_while_publishing(A, JR_TX, rsp, 2, 1);
	notif = fake_evtchn_notify_count(A->nf.domid, A->nf.port_tx);
	take_over();
	/* the guest hears of the re-attach at once */
	CU_ASSERT(fake_evtchn_notify_count(A->nf.domid, A->nf.port_tx) > notif);
	CU_ASSERT_EQUAL(st(A)->replayed_responses, 2);
	pump();
	CU_ASSERT_EQUAL(tx_answered_once(A, first), 3);
	CU_ASSERT_EQUAL(st(A)->tx_pkts, 1);
	CU_ASSERT_EQUAL(nf_rx_pending(&B->nf), 1);
	expect_rx(B, pkt[2], len[2], 0);
	CU_ASSERT_EQUAL(all_drops(A) + all_drops(B), 0);
	finish();
	state_dir_close();
}

/*
 * Killed after committing an RX response (the packet copied into B's
 * buffer already) without publishing it: B gets that packet from the
 * journal, then the next one in the following buffer, each buffer answered
 * once with its own id.
 */
static void test_restart_rx_journal(void)
{
	uint8_t pkt[2][256];
	size_t len[2];
	netif_rx_response_t rsp;
	RING_IDX base;

	restart_setup();
	base = B->nf.rx.sring->rsp_prod;
	len[0] = udp4(pkt[0], A, B->nf.ip4, 30, 200);
	len[1] = udp4(pkt[1], A, B->nf.ip4, 31, 201);
	/* What the dead process had done: the packet, rewritten for B, in the
	 * buffer posted at base, and its response committed. */
	{
		uint8_t *buf = nf_rx_page(&B->nf, base);

		memcpy(buf, pkt[0], len[0]);
		memcpy(buf, B->nf.mac, 6);
		memcpy(buf + 6, nf_be_mac, 6);
		rsp = (netif_rx_response_t){
		    .id = nf_rx_id(base), .offset = 0, .flags = 0, .status = (int16_t)len[0]};
	}
	restart();
	killed_while_publishing(B, JR_RX, &rsp, 1, 0);
	take_over();
	CU_ASSERT_EQUAL(st(B)->replayed_responses, 1);
	guest_queue(A, pkt[1], len[1]);
	guest_push_tx(A);
	pump();
	expect_rx(B, pkt[0], len[0], 0);
	expect_rx(B, pkt[1], len[1], 0);
	CU_ASSERT_EQUAL(nf_rx_pending(&B->nf), 0);
	CU_ASSERT_EQUAL(st(B)->rx_pkts, 1);
	finish();
	state_dir_close();
}

/*
 * Killed with TX requests consumed (copied, perhaps sent) but nothing
 * committed, and RX buffers posted but unused; then, while no process ran,
 * the guests posted more of both (their kicks were lost). The new process
 * answers every TX slot once and sends those packets (one the old process
 * had sent already goes twice: IP allows duplicates, not losses of
 * buffers), and fills every buffer in order.
 */
static void test_restart_unanswered(void)
{
	uint8_t pkt[256];
	size_t len;
	RING_IDX first;

	restart_setup();
	first = A->nf.tx.req_prod_pvt;
	for (uint32_t i = 0; i < 2; i++) {
		len = udp4(pkt, A, B->nf.ip4, 20, 300 + i);
		guest_queue(A, pkt, len);
	}
	publish_tx_silently(A);
	restart();
	/* No vif: the guests carry on posting, and their kicks are lost. */
	for (uint32_t i = 2; i < 4; i++) {
		len = udp4(pkt, A, B->nf.ip4, 20, 300 + i);
		guest_queue(A, pkt, len);
	}
	guest_push_tx(A);
	guest_post_rx(B, 2);
	restart();
	take_over();
	pump();
	CU_ASSERT_EQUAL(tx_answered_once(A, first), 4);
	CU_ASSERT_EQUAL(st(A)->replayed_responses, 0);
	CU_ASSERT_EQUAL(st(B)->rx_pkts, 4);
	for (uint32_t i = 0; i < 4; i++) {
		netif_rx_response_t r;
		const uint8_t *data;
		RING_IDX idx;

		CU_ASSERT_FATAL(nf_take_rx(&B->nf, &r, &data, &idx));
		CU_ASSERT_EQUAL(r.id, nf_rx_id(idx));
		CU_ASSERT_EQUAL(udp_seq(data, false), 300 + i);
	}
	CU_ASSERT_FALSE(nf_take_rx(&B->nf, &(netif_rx_response_t){0}, NULL, NULL));
	finish();
	state_dir_close();
}

/*
 * A journal that is not this ring's is never applied: one written for
 * another connection (the frontend reconnected with other refs while no
 * process ran), or one whose base is not the ring's rsp_prod (the guest
 * moved it). The requests are served as requests.
 */
static void test_restart_foreign_journal(void)
{
	netif_tx_response_t rsp = {.id = 0, .status = NETIF_RSP_OKAY};
	uint8_t pkt[256];
	size_t len;
	RING_IDX first;

	restart_setup();
	first = A->nf.tx.req_prod_pvt;
	len = udp4(pkt, A, B->nf.ip4, 20, 400);
	guest_queue(A, pkt, len);
	publish_tx_silently(A);
	restart();
	/* another connection's journal */
	A->cfg.tx_ref++;
	killed_while_publishing(A, JR_TX, &rsp, 1, 0);
	A->cfg.tx_ref--;
	take_over();
	CU_ASSERT_EQUAL(st(A)->replayed_responses, 0);
	pump();
	CU_ASSERT_EQUAL(tx_answered_once(A, first), 1);
	expect_rx(B, pkt, len, 0);

	/* this connection's, at a base the ring is not at */
	first = A->nf.tx.req_prod_pvt;
	len = udp4(pkt, A, B->nf.ip4, 20, 401);
	guest_queue(A, pkt, len);
	publish_tx_silently(A);
	restart();
	A->nf.tx.sring->rsp_prod -= 1;
	killed_while_publishing(A, JR_TX, &rsp, 1, 0);
	A->nf.tx.sring->rsp_prod += 1;
	take_over();
	CU_ASSERT_EQUAL(st(A)->replayed_responses, 0);
	pump();
	CU_ASSERT_EQUAL(tx_answered_once(A, first), 1);
	expect_rx(B, pkt, len, 0);
	finish();
	state_dir_close();
}

/* ---- GSO ---- */

#define TCP_ACK 0x10
#define TCP_PSH 0x08
#define TCP_FIN 0x01

static uint8_t gso_payload[65536];

/* A TCP packet of plen payload bytes from g to dip with a blank checksum,
 * as netfront hands one over for GSO. */
static size_t gso_build(uint8_t *b, const struct guest *g, bool v6, const uint8_t *dip, size_t plen,
			uint32_t seq)
{
	const struct nf_tcp t = {.sport = 40000,
				 .dport = 5001,
				 .seq = seq,
				 .flags = TCP_ACK | TCP_PSH | TCP_FIN,
				 .ip_id = 100,
				 .payload = gso_payload,
				 .plen = plen,
				 .partial = true};

	for (size_t i = 0; i < plen; i++)
		gso_payload[i] = (uint8_t)(i * 13 + seq);
	return nf_put_tcp(b, v6, nf_be_mac, g->nf.mac, v6 ? g->nf.ip6 : g->nf.ip4, dip, &t);
}

/*
 * Queues pkt on g's TX ring as netfront sends a GSO packet: slot 0 with
 * csum_blank and extra_info, the GSO extra, then the rest in page-sized
 * slots. Not yet published; returns the ring slots it took.
 */
static unsigned int gso_queue(struct guest *g, const uint8_t *pkt, size_t len, uint8_t type,
			      uint16_t mss)
{
	RING_IDX at = g->nf.tx.req_prod_pvt, i = at;
	netif_extra_info_t ex;
	size_t off = 0;

	CU_ASSERT_FATAL(len <= UINT16_MAX);
	while (off < len) {
		size_t n = len - off < PG ? len - off : PG;
		netif_tx_request_t *r = RING_GET_REQUEST(&g->nf.tx, i);

		memcpy(nf_tx_page(&g->nf, i), pkt + off, n);
		*r = (netif_tx_request_t){.gref = nf_tx_gref(&g->nf, i),
					  .id = nf_tx_id(i),
					  .size = (uint16_t)(off ? n : len),
					  .flags = off + n < len ? NETTXF_more_data : 0};
		if (!off) {
			r->flags |= NETTXF_csum_blank | NETTXF_extra_info;
			i++;
			memset(&ex, 0, sizeof(ex));
			ex.type = XEN_NETIF_EXTRA_TYPE_GSO;
			ex.u.gso.size = mss;
			ex.u.gso.type = type;
			r = RING_GET_REQUEST(&g->nf.tx, i);
			memset(r, 0, sizeof(*r));
			memcpy(r, &ex, sizeof(ex));
		}
		i++;
		off += n;
	}
	g->nf.tx.req_prod_pvt = i;
	return i - at;
}

/* gso_queue(), then publishes and runs the data path: every slot is
 * answered, the extra with NETIF_RSP_NULL. */
static void gso_send(struct guest *g, const uint8_t *pkt, size_t len, uint8_t type, uint16_t mss)
{
	unsigned int okay, slots = gso_queue(g, pkt, len, type, mss);

	CU_ASSERT_EQUAL(slots, (len + PG - 1) / PG + 1);
	guest_push_tx(g);
	pump();
	CU_ASSERT_EQUAL(nf_reap_tx(&g->nf, &okay), slots);
	CU_ASSERT_EQUAL(okay, slots - 1);
}

/* Connects B again with GSO receive (both families), keeping its rings. */
static void gso_receiver(struct guest *g)
{
	char err[128];

	g->cfg.rx_gso_tcpv4 = g->cfg.rx_gso_tcpv6 = true;
	CU_ASSERT_EQUAL_FATAL(dp_vif_connect(dp, g->vif, &g->cfg, err, sizeof(err)), 0);
}

/* A GSO packet to a receiver that takes GSO arrives whole: data, then the
 * GSO extra in the second slot, then the rest of the data. */
static void test_gso_whole(void)
{
	static uint8_t pkt[65536];
	netif_rx_response_t rsp;
	netif_extra_info_t ex;
	const uint8_t *data;
	RING_IDX idx;

	three_guests(64);
	gso_receiver(B);
	/* 20000 bytes over 5 data slots, and 2000 in one: more_data only
	 * where more data follows, the extra is not data (netfront waits for
	 * data that never comes otherwise) */
	for (int c = 0; c < 4; c++) {
		bool v6 = c & 1;
		size_t len =
		    gso_build(pkt, A, v6, v6 ? B->nf.ip6 : B->nf.ip4, c < 2 ? 20000 : 2000, 7);
		size_t got = 0;
		unsigned int n = 0;

		gso_send(A, pkt, len, v6 ? XEN_NETIF_GSO_TYPE_TCPV6 : XEN_NETIF_GSO_TYPE_TCPV4,
			 1448);
		CU_ASSERT_EQUAL_FATAL(nf_rx_pending(&B->nf), (len + PG - 1) / PG + 1);
		while (nf_take_rx(&B->nf, &rsp, &data, &idx)) {
			if (n == 1) {
				memcpy(&ex, &rsp, sizeof(ex));
				CU_ASSERT_EQUAL(ex.type, XEN_NETIF_EXTRA_TYPE_GSO);
				CU_ASSERT_EQUAL(ex.flags, 0);
				CU_ASSERT_EQUAL(ex.u.gso.size, 1448);
				CU_ASSERT_EQUAL(ex.u.gso.type, v6 ? XEN_NETIF_GSO_TYPE_TCPV6
								  : XEN_NETIF_GSO_TYPE_TCPV4);
				n++;
				continue;
			}
			CU_ASSERT_EQUAL(rsp.id, nf_rx_id(idx));
			CU_ASSERT_EQUAL(rsp.offset, 0);
			CU_ASSERT_FATAL(rsp.status > 0 && got + (size_t)rsp.status <= len);
			if (n == 0) {
				CU_ASSERT_EQUAL(rsp.flags, (len > PG ? NETRXF_more_data : 0) |
							       NETRXF_extra_info |
							       NETRXF_csum_blank |
							       NETRXF_data_validated);
				CU_ASSERT(memcmp(data, B->nf.mac, 6) == 0);
				CU_ASSERT(memcmp(data + 12, pkt + 12, (size_t)rsp.status - 12) ==
					  0);
			} else {
				CU_ASSERT_EQUAL(rsp.flags, got + (size_t)rsp.status < len
							       ? NETRXF_more_data
							       : 0);
				CU_ASSERT(memcmp(data, pkt + got, (size_t)rsp.status) == 0);
			}
			got += (size_t)rsp.status;
			n++;
		}
		CU_ASSERT_EQUAL(got, len);
	}
	CU_ASSERT_EQUAL(st(A)->tx_gso_pkts, 4);
	CU_ASSERT_EQUAL(st(A)->gso_segments, 0);
	CU_ASSERT_EQUAL(st(B)->rx_gso_pkts, 4);
	CU_ASSERT_EQUAL(st(B)->rx_pkts, 4);
	CU_ASSERT_EQUAL(all_drops(A) + all_drops(B), 0);
	finish();
}

/* The GSO extra costs a posted buffer: with exactly the data slots posted
 * the packet waits, one more and it goes. */
static void test_gso_slots(void)
{
	static uint8_t pkt[65536];
	size_t len;
	unsigned int data_slots;

	three_guests(0);
	gso_receiver(B);
	len = gso_build(pkt, A, false, B->nf.ip4, 65535 - 14 - 20 - NF_TCP_HLEN, 1);
	data_slots = (unsigned int)((len + PG - 1) / PG);
	CU_ASSERT_EQUAL(data_slots, 16);
	guest_post_rx(B, data_slots);
	gso_send(A, pkt, len, XEN_NETIF_GSO_TYPE_TCPV4, 1448);
	CU_ASSERT_EQUAL(nf_rx_pending(&B->nf), 0);
	CU_ASSERT_EQUAL(dp_vif_queued(B->vif), 1);
	guest_post_rx(B, 1);
	pump();
	CU_ASSERT_EQUAL(nf_rx_pending(&B->nf), data_slots + 1);
	CU_ASSERT_EQUAL(st(B)->rx_gso_pkts, 1);
	finish();
}

/* Checks the TCP segments a receiver got from a GSO packet of plen payload
 * bytes with MSS mss: each a well-formed packet with a complete checksum
 * (or a blank one, flagged), the sequence numbers in order, FIN and PSH
 * only on the last, and the payload the original's. */
static void expect_segments(struct guest *g, const uint8_t *pkt, bool v6, size_t plen, uint16_t mss,
			    bool blank)
{
	size_t hdr = 14 + (v6 ? 40 : 20) + NF_TCP_HLEN, got = 0;
	netif_rx_response_t rsp;
	const uint8_t *data;
	RING_IDX idx;
	unsigned int k = 0, nsegs = (unsigned int)((plen + mss - 1) / mss);

	while (nf_take_rx(&g->nf, &rsp, &data, &idx)) {
		size_t n = (size_t)rsp.status - hdr;
		uint32_t seq =
		    (uint32_t)(data[hdr - NF_TCP_HLEN + 4] << 24 |
			       data[hdr - NF_TCP_HLEN + 5] << 16 |
			       data[hdr - NF_TCP_HLEN + 6] << 8 | data[hdr - NF_TCP_HLEN + 7]);
		uint8_t flags = data[hdr - NF_TCP_HLEN + 13];

		CU_ASSERT_FATAL(rsp.status > (int16_t)hdr);
		CU_ASSERT_EQUAL(rsp.flags, blank ? NETRXF_csum_blank | NETRXF_data_validated
						 : NETRXF_data_validated);
		CU_ASSERT_EQUAL(n, k + 1 < nsegs ? mss : plen - got);
		CU_ASSERT_EQUAL(seq, 7 + got);
		CU_ASSERT_EQUAL(flags, k + 1 < nsegs ? TCP_ACK : TCP_ACK | TCP_PSH | TCP_FIN);
		if (!blank)
			CU_ASSERT(l4_csum_ok(data, v6, IPPROTO_TCP));
		if (!v6) { /* the IPv4 total length and a fresh id */
			CU_ASSERT_EQUAL((size_t)(data[16] << 8 | data[17]), 20 + NF_TCP_HLEN + n);
			CU_ASSERT_EQUAL(data[18] << 8 | data[19], 100 + (int)k);
		}
		CU_ASSERT(memcmp(data + hdr, pkt + hdr + got, n) == 0);
		got += n;
		k++;
	}
	CU_ASSERT_EQUAL(k, nsegs);
	CU_ASSERT_EQUAL(got, plen);
}

/* A receiver without GSO gets the segments, cut by the backend. */
static void test_gso_segmented(void)
{
	static uint8_t pkt[65536];
	char err[128];
	size_t len;

	three_guests(128);
	/* B takes blank checksums, C does not */
	C->cfg.rx_csum_offload = C->cfg.rx_ipv6_csum_offload = false;
	CU_ASSERT_EQUAL_FATAL(dp_vif_connect(dp, C->vif, &C->cfg, err, sizeof(err)), 0);
	for (int v6 = 0; v6 <= 1; v6++) {
		uint8_t type = v6 ? XEN_NETIF_GSO_TYPE_TCPV6 : XEN_NETIF_GSO_TYPE_TCPV4;

		len = gso_build(pkt, A, v6, v6 ? B->nf.ip6 : B->nf.ip4, 10000, 7);
		gso_send(A, pkt, len, type, 1448);
		expect_segments(B, pkt, v6, 10000, 1448, true);
		len = gso_build(pkt, A, v6, v6 ? C->nf.ip6 : C->nf.ip4, 5000, 7);
		gso_send(A, pkt, len, type, 1000);
		expect_segments(C, pkt, v6, 5000, 1000, false);
	}
	CU_ASSERT_EQUAL(st(A)->tx_gso_pkts, 4);
	CU_ASSERT_EQUAL(st(A)->gso_segments, 2 * (7 + 5));
	CU_ASSERT_EQUAL(st(B)->rx_gso_pkts, 0);
	CU_ASSERT_EQUAL(st(B)->rx_pkts, 2 * 7);
	CU_ASSERT_EQUAL(all_drops(A) + all_drops(B) + all_drops(C), 0);
	finish();
}

/* The ports take no GSO yet: each segment goes out on its own, with a
 * complete checksum. */
static void test_gso_to_port(void)
{
	static uint8_t pkt[65536];
	static const uint8_t outside4[4] = {192, 0, 2, 1};
	size_t len;

	three_guests(8);
	ports_set();
	uplink_port.accept = true;
	len = gso_build(pkt, A, false, outside4, 20000, 7);
	gso_send(A, pkt, len, XEN_NETIF_GSO_TYPE_TCPV4, 1448);
	CU_ASSERT_EQUAL(host_port.outputs, 14);
	CU_ASSERT_EQUAL(uplink_port.outputs, 14);
	/* the last: 20000 - 13 * 1448 bytes, FIN */
	CU_ASSERT_EQUAL(uplink_port.len, 14 + 20 + NF_TCP_HLEN + 20000 - 13 * 1448);
	CU_ASSERT_EQUAL(uplink_port.fi.ip_total_len, 20 + NF_TCP_HLEN + 20000 - 13 * 1448);
	CU_ASSERT(l4_csum_ok(uplink_port.frame, false, IPPROTO_TCP));
	CU_ASSERT_EQUAL(uplink_port.frame[14 + 20 + 13], TCP_ACK | TCP_PSH | TCP_FIN);
	CU_ASSERT(memcmp(uplink_port.frame + 14 + 20 + NF_TCP_HLEN,
			 pkt + 14 + 20 + NF_TCP_HLEN + 13 * 1448, 20000 - 13 * 1448) == 0);
	CU_ASSERT_EQUAL(st(A)->gso_segments, 14);
	CU_ASSERT_EQUAL(all_drops(A), 0);
	/* no port takes it: one packet, one no_route */
	uplink_port.accept = false;
	gso_send(A, pkt, len, XEN_NETIF_GSO_TYPE_TCPV4, 1448);
	CU_ASSERT_EQUAL(drops(A, DP_DROP_NO_ROUTE), 1);
	finish();
}

/* A GSO request the packet does not fit is dropped and counted; the vif
 * stays up (a zero size or an unknown type is fatal: txreq.c's tests). */
static void test_gso_bad(void)
{
	static uint8_t pkt[65536];
	size_t len;

	three_guests(64);
	gso_receiver(B);
	len = gso_build(pkt, A, false, B->nf.ip4, 5000, 7);
	gso_send(A, pkt, len, XEN_NETIF_GSO_TYPE_TCPV6, 1448); /* wrong family */
	gso_send(A, pkt, len, XEN_NETIF_GSO_TYPE_TCPV4, GSO_MIN_MSS - 1);
	gso_send(A, pkt, len, XEN_NETIF_GSO_TYPE_TCPV4, 5001); /* above the payload */
	len = build_udp(pkt, false, nf_be_mac, A->nf.mac, A->nf.ip4, B->nf.ip4, 3000, 1, true);
	gso_send(A, pkt, len, XEN_NETIF_GSO_TYPE_TCPV4, 1448); /* not TCP */
	CU_ASSERT_EQUAL(drops(A, DP_DROP_BAD_GSO), 4);
	CU_ASSERT_EQUAL(st(A)->tx_gso_pkts, 0);
	CU_ASSERT_EQUAL(nf_rx_pending(&B->nf), 0);
	CU_ASSERT_EQUAL(ndisabled, 0);
	len = gso_build(pkt, A, false, B->nf.ip4, 5000, 7);
	gso_send(A, pkt, len, XEN_NETIF_GSO_TYPE_TCPV4, 1448);
	CU_ASSERT_EQUAL(st(B)->rx_gso_pkts, 1);
	finish();
}

/* dom0's port takes offloads: a GSO packet goes to it whole, a blank
 * checksum blank, each told in the metadata. What it declines goes to the
 * uplink, which takes none: segments, complete checksums. */
static void test_gso_offload_port(void)
{
	static uint8_t pkt[65536];
	static const uint8_t outside4[4] = {192, 0, 2, 1};
	struct dp_port_ops ops = host_ops;
	size_t len;

	three_guests(8);
	ports_set();
	ops.offload = true;
	dp_set_host(dp, &ops);
	host_port.accept = uplink_port.accept = true;
	len = gso_build(pkt, A, false, outside4, 20000, 7);
	gso_send(A, pkt, len, XEN_NETIF_GSO_TYPE_TCPV4, 1448);
	CU_ASSERT_EQUAL(host_port.outputs, 1);
	CU_ASSERT_EQUAL(uplink_port.outputs, 0);
	CU_ASSERT_EQUAL(host_port.len, len);
	CU_ASSERT(memcmp(host_port.frame + 14, pkt + 14, len - 14) == 0); /* the checksum blank */
	CU_ASSERT_EQUAL(host_port.o.gso_size, 1448);
	CU_ASSERT_EQUAL(host_port.o.gso_type, XEN_NETIF_GSO_TYPE_TCPV4);
	CU_ASSERT_EQUAL(host_port.o.gso_hdr_len, 14 + 20 + NF_TCP_HLEN);
	CU_ASSERT(host_port.o.csum_blank);
	CU_ASSERT_EQUAL(st(A)->gso_segments, 0);

	/* a blank UDP checksum stays blank for dom0 */
	len = build_udp(pkt, false, nf_be_mac, A->nf.mac, A->nf.ip4, outside4, 500, 3, true);
	send_from(A, pkt, len, NETTXF_csum_blank);
	CU_ASSERT_EQUAL(host_port.outputs, 2);
	CU_ASSERT(host_port.o.csum_blank && !host_port.o.gso_size);
	CU_ASSERT(memcmp(host_port.frame + 14, pkt + 14, len - 14) == 0);
	/* data_validated is passed on */
	len = build_udp(pkt, false, nf_be_mac, A->nf.mac, A->nf.ip4, outside4, 500, 4, false);
	send_from(A, pkt, len, NETTXF_data_validated);
	CU_ASSERT(!host_port.o.csum_blank && host_port.o.data_valid);

	/* not dom0's: the uplink gets what a port without offloads takes */
	host_port.accept = false;
	len = build_udp(pkt, false, nf_be_mac, A->nf.mac, A->nf.ip4, outside4, 500, 5, true);
	send_from(A, pkt, len, NETTXF_csum_blank);
	CU_ASSERT_EQUAL(uplink_port.outputs, 1);
	CU_ASSERT(!uplink_port.o.csum_blank);
	CU_ASSERT(l4_csum_ok(uplink_port.frame, false, IPPROTO_UDP));
	len = gso_build(pkt, A, false, outside4, 20000, 7);
	gso_send(A, pkt, len, XEN_NETIF_GSO_TYPE_TCPV4, 1448);
	CU_ASSERT_EQUAL(uplink_port.outputs, 1 + 14);
	CU_ASSERT(!uplink_port.o.gso_size && !uplink_port.o.csum_blank);
	CU_ASSERT(l4_csum_ok(uplink_port.frame, false, IPPROTO_TCP));
	CU_ASSERT_EQUAL(st(A)->gso_segments, 14);
	CU_ASSERT_EQUAL(all_drops(A), 0);
	finish();
}

/* From a port with offloads: a GSO packet reaches a GSO receiver whole and
 * any other in segments; a blank checksum is passed on or completed; a
 * request the headers do not fit is refused. */
static void test_gso_port_input(void)
{
	static uint8_t pkt[65536];
	static const uint8_t dom0_4[4] = {10, 99, 0, 2};
	struct ipnb_offload o = {
	    .gso_size = 1448, .gso_type = XEN_NETIF_GSO_TYPE_TCPV4, .csum_blank = true};
	struct frame_info fi;
	netif_rx_response_t rsp;
	const uint8_t *data;
	RING_IDX idx;
	size_t len;
	char err[128];
	struct nf_tcp t = {.sport = 22,
			   .dport = 40000,
			   .seq = 7,
			   .flags = TCP_ACK | TCP_PSH | TCP_FIN,
			   .ip_id = 100,
			   .payload = gso_payload,
			   .plen = 10000,
			   .partial = true};

	three_guests(64);
	gso_receiver(B);
	C->cfg.rx_csum_offload = C->cfg.rx_ipv6_csum_offload = false;
	CU_ASSERT_EQUAL_FATAL(dp_vif_connect(dp, C->vif, &C->cfg, err, sizeof(err)), 0);
	for (size_t i = 0; i < t.plen; i++)
		gso_payload[i] = (uint8_t)(i * 13 + 7);

	len = nf_put_tcp(pkt, false, nf_be_mac, nf_be_mac, dom0_4, B->nf.ip4, &t);
	CU_ASSERT_EQUAL_FATAL(frame_parse(pkt, len, &fi), FRAME_OK);
	CU_ASSERT(dp_input(dp, pkt, len, &fi, &o));
	pump();
	CU_ASSERT_EQUAL(nf_rx_pending(&B->nf), (len + PG - 1) / PG + 1);
	CU_ASSERT_FATAL(nf_take_rx(&B->nf, &rsp, &data, &idx));
	CU_ASSERT_EQUAL(rsp.flags, NETRXF_more_data | NETRXF_extra_info | NETRXF_csum_blank |
				       NETRXF_data_validated);
	CU_ASSERT_EQUAL(nf_reap_rx(&B->nf), (len + PG - 1) / PG);
	CU_ASSERT_EQUAL(st(B)->rx_gso_pkts, 1);

	len = nf_put_tcp(pkt, false, nf_be_mac, nf_be_mac, dom0_4, C->nf.ip4, &t);
	CU_ASSERT_EQUAL_FATAL(frame_parse(pkt, len, &fi), FRAME_OK);
	CU_ASSERT(dp_input(dp, pkt, len, &fi, &o));
	pump();
	expect_segments(C, pkt, false, 10000, 1448, false);

	/* a blank checksum for C, which takes none: completed */
	t.plen = 500;
	len = nf_put_tcp(pkt, false, nf_be_mac, nf_be_mac, dom0_4, C->nf.ip4, &t);
	CU_ASSERT_EQUAL_FATAL(frame_parse(pkt, len, &fi), FRAME_OK);
	o.gso_size = 0;
	CU_ASSERT(dp_input(dp, pkt, len, &fi, &o));
	pump();
	CU_ASSERT_FATAL(nf_take_rx(&C->nf, &rsp, &data, &idx));
	CU_ASSERT_EQUAL(rsp.flags, NETRXF_data_validated);
	CU_ASSERT(l4_csum_ok(data, false, IPPROTO_TCP));
	/* ... and for A, which takes one: passed on */
	len = nf_put_tcp(pkt, false, nf_be_mac, nf_be_mac, dom0_4, A->nf.ip4, &t);
	CU_ASSERT_EQUAL_FATAL(frame_parse(pkt, len, &fi), FRAME_OK);
	CU_ASSERT(dp_input(dp, pkt, len, &fi, &o));
	pump();
	expect_rx(A, pkt, len, NETRXF_csum_blank | NETRXF_data_validated);
	/* a verified checksum is flagged */
	o.csum_blank = false;
	o.data_valid = true;
	CU_ASSERT(dp_input(dp, pkt, len, &fi, &o));
	pump();
	expect_rx(A, pkt, len, NETRXF_data_validated);

	/* GSO requests the headers do not fit */
	t.plen = 10000;
	len = nf_put_tcp(pkt, false, nf_be_mac, nf_be_mac, dom0_4, B->nf.ip4, &t);
	CU_ASSERT_EQUAL_FATAL(frame_parse(pkt, len, &fi), FRAME_OK);
	o = (struct ipnb_offload){.gso_size = 20, .gso_type = XEN_NETIF_GSO_TYPE_TCPV4};
	CU_ASSERT_FALSE(dp_input(dp, pkt, len, &fi, &o));
	o = (struct ipnb_offload){.gso_size = 1448, .gso_type = XEN_NETIF_GSO_TYPE_TCPV6};
	CU_ASSERT_FALSE(dp_input(dp, pkt, len, &fi, &o));
	/* and a frame over DP_MAX_FRAME */
	CU_ASSERT_FALSE(dp_input(dp, pkt, DP_MAX_FRAME + 1, &fi, NULL));
	pump();
	CU_ASSERT_EQUAL(nf_rx_pending(&B->nf), 0);
	finish();
}

/* One TX batch of GSO packets is more than a receiver's 512 KiB share: a
 * receiver with the buffers posted gets them all, moved into its ring as
 * the queue fills rather than dropped. */
static void test_gso_batch_over_share(void)
{
	static uint8_t pkt[65536];
	size_t len;
	unsigned int okay, n = 12, slots;

	three_guests(0);
	gso_receiver(B);
	guest_post_rx(B, NBUF);
	len = gso_build(pkt, A, false, B->nf.ip4, 60000 - 14 - 20 - NF_TCP_HLEN, 7);
	slots = (unsigned int)((len + PG - 1) / PG);
	CU_ASSERT_FATAL(n * len > DP_RXQ_BYTES && n * (slots + 1) <= NBUF);
	for (unsigned int k = 0; k < n; k++)
		CU_ASSERT_EQUAL(gso_queue(A, pkt, len, XEN_NETIF_GSO_TYPE_TCPV4, 1448), slots + 1);
	guest_push_tx(A);
	pump();
	CU_ASSERT_EQUAL(nf_reap_tx(&A->nf, &okay), n * (slots + 1));
	CU_ASSERT_EQUAL(st(B)->rx_gso_pkts, n);
	CU_ASSERT_EQUAL(drops(B, DP_DROP_RXQ_FULL), 0);
	CU_ASSERT_EQUAL(nf_reap_rx(&B->nf), n * (slots + 1));
	finish();
}

/* Sets or clears DF in an IPv4 frame, its header checksum fixed. */
static void set_df(uint8_t *pkt, bool df)
{
	pkt[14 + 6] = df ? 0x40 : 0;
	nf_ip4_csum(pkt);
}

/* g's next RX packet, which must parse: its frame, and *fi. */
static const uint8_t *take_parsed(struct guest *g, struct frame_info *fi)
{
	netif_rx_response_t rsp;
	const uint8_t *data;
	RING_IDX idx;

	CU_ASSERT_FATAL(nf_take_rx(&g->nf, &rsp, &data, &idx));
	CU_ASSERT_EQUAL_FATAL(frame_parse(data, (size_t)rsp.status, fi), FRAME_OK);
	return data;
}

/* A packet above the receiving vif's MTU (the backend mtu key): with DF, or
 * IPv6, the sending guest gets the ICMP error with that MTU; without DF it
 * is only dropped; from a port it is refused; all count rx_too_big on the
 * receiver. A GSO packet gets segments that fit. Exactly the MTU passes. */
static void test_vif_mtu(void)
{
	static uint8_t pkt[65600];
	netif_rx_response_t rsp;
	netif_extra_info_t ex;
	const uint8_t *data;
	struct frame_info fi;
	RING_IDX idx;
	size_t len, mss;

	three_guests(64);
	dp_vif_set_mtu(B->vif, 1400);
	CU_ASSERT_EQUAL(dp_vif_mtu(B->vif), 1400);

	len = udp4(pkt, A, B->nf.ip4, 1372, 1); /* IP length 1400 */
	set_df(pkt, true);
	send_from(A, pkt, len, 0);
	expect_rx(B, pkt, len, 0);

	len = udp4(pkt, A, B->nf.ip4, 1373, 2);
	set_df(pkt, true);
	send_from(A, pkt, len, 0);
	CU_ASSERT_EQUAL(nf_rx_pending(&B->nf), 0);
	CU_ASSERT_EQUAL(drops(B, DP_DROP_RX_TOO_BIG), 1);
	CU_ASSERT_EQUAL(st(A)->icmp_too_big, 1);
	data = take_parsed(A, &fi);
	CU_ASSERT_EQUAL(fi.l4_proto, IPPROTO_ICMP);
	CU_ASSERT(memcmp(data + 14 + 12, B->nf.ip4, 4) == 0);
	CU_ASSERT_EQUAL(data[34], 3);
	CU_ASSERT_EQUAL(data[35], 4);
	CU_ASSERT_EQUAL(data[40] << 8 | data[41], 1400);

	len = udp4(pkt, A, B->nf.ip4, 1373, 3); /* no DF: dropped, nobody told */
	set_df(pkt, false);
	send_from(A, pkt, len, 0);
	CU_ASSERT_EQUAL(nf_rx_pending(&B->nf) + nf_rx_pending(&A->nf), 0);
	CU_ASSERT_EQUAL(drops(B, DP_DROP_RX_TOO_BIG), 2);
	CU_ASSERT_EQUAL(st(A)->icmp_too_big, 1);

	len = build_udp(pkt, true, nf_be_mac, A->nf.mac, A->nf.ip6, B->nf.ip6, 1400, 4, false);
	send_from(A, pkt, len, 0);
	CU_ASSERT_EQUAL(st(A)->icmp_too_big, 2);
	data = take_parsed(A, &fi);
	CU_ASSERT_EQUAL(fi.l4_proto, IPPROTO_ICMPV6);
	CU_ASSERT_EQUAL(data[54], 2);
	CU_ASSERT_EQUAL(data[60] << 8 | data[61], 1400);
	CU_ASSERT_EQUAL(drops(B, DP_DROP_RX_TOO_BIG), 3);

	/* from a port: refused, counted on B */
	len = udp4(pkt, A, B->nf.ip4, 1373, 5);
	CU_ASSERT_EQUAL_FATAL(frame_parse(pkt, len, &fi), FRAME_OK);
	CU_ASSERT_FALSE(dp_input(dp, pkt, len, &fi, NULL));
	CU_ASSERT_EQUAL(drops(B, DP_DROP_RX_TOO_BIG), 4);

	/* GSO with mss 1448: B takes GSO, and gets it whole with segments
	 * that fit 1400 with their IPv4 and TCP headers */
	gso_receiver(B);
	len = gso_build(pkt, A, false, B->nf.ip4, 20000, 6);
	mss = 1400 - 20 - (pkt[14 + 20 + 12] >> 4) * 4;
	gso_send(A, pkt, len, XEN_NETIF_GSO_TYPE_TCPV4, 1448);
	CU_ASSERT(nf_take_rx(&B->nf, &rsp, &data, &idx));
	CU_ASSERT(nf_take_rx(&B->nf, &rsp, &data, &idx));
	memcpy(&ex, &rsp, sizeof(ex));
	CU_ASSERT_EQUAL(ex.type, XEN_NETIF_EXTRA_TYPE_GSO);
	CU_ASSERT_EQUAL(ex.u.gso.size, mss);
	while (nf_take_rx(&B->nf, &rsp, &data, &idx))
		;
	CU_ASSERT_EQUAL(drops(B, DP_DROP_RX_TOO_BIG), 4);
	finish();
}

/* A packet above the uplink's MTU (pmtu.h): with DF, or IPv6, the sender
 * gets an ICMP error carrying the MTU and nothing leaves; IPv4 without DF
 * leaves in fragments, and a GSO packet without DF in smaller segments. */
static void test_port_mtu(void)
{
	static uint8_t pkt[65600];
	static const uint8_t outside4[4] = {192, 0, 2, 1};
	static const uint8_t outside6[16] = {0xfd, 0x98, [15] = 1};
	const uint8_t *data;
	struct frame_info fi;
	size_t len;

	three_guests(8);
	ports_set();
	dp_set_uplink(
	    dp, &(struct dp_port_ops){.output = port_output, .arg = &uplink_port, .mtu = 1500});
	uplink_port.accept = true;

	/* exactly the MTU: sent as it is */
	len = udp4(pkt, A, outside4, 1472, 1);
	set_df(pkt, true);
	send_from(A, pkt, len, 0);
	CU_ASSERT_EQUAL(uplink_port.outputs, 1);
	expect_port_saw(&uplink_port, pkt, len, false, outside4);

	/* one byte more with DF: fragmentation needed, from where it went */
	len = udp4(pkt, A, outside4, 1473, 2);
	set_df(pkt, true);
	send_from(A, pkt, len, 0);
	CU_ASSERT_EQUAL(uplink_port.outputs, 1);
	CU_ASSERT_EQUAL(st(A)->icmp_too_big, 1);
	data = take_parsed(A, &fi);
	CU_ASSERT_EQUAL(fi.l4_proto, IPPROTO_ICMP);
	CU_ASSERT(memcmp(data, A->nf.mac, 6) == 0);
	CU_ASSERT(memcmp(data + 6, nf_be_mac, 6) == 0);
	CU_ASSERT(memcmp(data + 14 + 12, outside4, 4) == 0);
	CU_ASSERT(memcmp(data + 14 + 16, A->nf.ip4, 4) == 0);
	CU_ASSERT_EQUAL(data[34], 3);
	CU_ASSERT_EQUAL(data[35], 4);
	CU_ASSERT_EQUAL(data[40] << 8 | data[41], 1500);
	CU_ASSERT(memcmp(data + 42, pkt + 14, 28) == 0); /* the quoted headers */

	/* IPv6: packet too big */
	len = build_udp(pkt, true, nf_be_mac, A->nf.mac, A->nf.ip6, outside6, 1500, 3, false);
	send_from(A, pkt, len, 0);
	CU_ASSERT_EQUAL(uplink_port.outputs, 1);
	CU_ASSERT_EQUAL(st(A)->icmp_too_big, 2);
	data = take_parsed(A, &fi);
	CU_ASSERT_EQUAL(fi.l4_proto, IPPROTO_ICMPV6);
	CU_ASSERT(memcmp(data + 14 + 8, outside6, 16) == 0);
	CU_ASSERT_EQUAL(data[54], 2);
	CU_ASSERT_EQUAL(data[60] << 8 | data[61], 1500);

	/* no DF: two fragments leave, the last one seen here */
	len = udp4(pkt, A, outside4, 2000, 4);
	send_from(A, pkt, len, 0);
	CU_ASSERT_EQUAL(uplink_port.outputs, 3);
	CU_ASSERT_EQUAL(st(A)->ip_fragments, 2);
	CU_ASSERT_EQUAL(uplink_port.len, 14 + 20 + 2008 - 1480);
	CU_ASSERT(uplink_port.fi.ip_fragment);
	CU_ASSERT_EQUAL((uplink_port.frame[14 + 6] << 8 | uplink_port.frame[14 + 7]) & 0x3fff,
			1480 / 8);

	/* an ICMP error about an ICMP error is never sent: too_big */
	len = udp4(pkt, A, outside4, 1600, 5);
	pkt[14 + 9] = IPPROTO_ICMP;
	pkt[34] = 3;
	set_df(pkt, true);
	send_from(A, pkt, len, 0);
	CU_ASSERT_EQUAL(st(A)->drops[DP_DROP_TOO_BIG], 1);
	CU_ASSERT_EQUAL(st(A)->icmp_too_big, 2);

	/* GSO without DF, segments of 20 + 32 + 1460 bytes: recut to 1448 */
	len = gso_build(pkt, A, false, outside4, 10000, 1000);
	gso_send(A, pkt, len, XEN_NETIF_GSO_TYPE_TCPV4, 1460);
	CU_ASSERT_EQUAL(uplink_port.outputs, 3 + 7);
	CU_ASSERT_EQUAL(uplink_port.len, 14 + 20 + 32 + 10000 - 6 * 1448);
	CU_ASSERT_EQUAL(st(A)->gso_segments, 7);
	/* with DF: the sender is told */
	len = gso_build(pkt, A, false, outside4, 10000, 1000);
	set_df(pkt, true);
	gso_send(A, pkt, len, XEN_NETIF_GSO_TYPE_TCPV4, 1460);
	CU_ASSERT_EQUAL(uplink_port.outputs, 3 + 7);
	CU_ASSERT_EQUAL(st(A)->icmp_too_big, 3);
	CU_ASSERT_EQUAL(all_drops(A), 1);
	dp_set_uplink(dp, NULL);
	dp_set_host(dp, NULL);
}

CU_ErrorCode test_dp_register(void)
{
	CU_pSuite s = CU_add_suite_with_setup_and_teardown("dp", NULL, NULL, setup, teardown);

	if (!s)
		return CU_get_error();
	CU_add_test(s, "connect, nothing to do", test_connect_empty);
	CU_add_test(s, "UDP A to B", test_udp4_a_to_b);
	CU_add_test(s, "multi-slot header gathering", test_multi_slot);
	CU_add_test(s, "packet larger than a page", test_large_packet);
	CU_add_test(s, "grant copy batching", test_copy_batching);
	CU_add_test(s, "ARP proxy", test_arp);
	CU_add_test(s, "NDP proxy", test_ndp);
	CU_add_test(s, "anti-spoofing", test_spoofing);
	CU_add_test(s, "a guest with no address", test_no_address);
	CU_add_test(s, "no route, broadcast, multicast", test_routing_drops);
	CU_add_test(s, "address and MAC changes", test_addresses);
	CU_add_test(s, "checksum offload", test_csum_blank);
	CU_add_test(s, "bounded RX queue", test_rx_queue_bound);
	CU_add_test(s, "RX queue stamps within one pass", test_rx_queue_same_pass);
	CU_add_test(s, "RX waits for enough slots", test_rx_wait_for_slots);
	CU_add_test(s, "teardown with queued packets", test_teardown_with_queue);
	CU_add_test(s, "hostile: TX producer index", test_hostile_req_prod);
	CU_add_test(s, "hostile: RX producer index", test_hostile_rx_req_prod);
	CU_add_test(s, "hostile: fatal TX request", test_hostile_fatal_request);
	CU_add_test(s, "dropped TX requests", test_dropped_requests);
	CU_add_test(s, "empty follow-on slots", test_empty_follow_on_slots);
	CU_add_test(s, "multicast: a million adds and deletes", test_mcast_churn);
	CU_add_test(s, "XSA-432 shape: head + 18 slots in 128 bytes", test_xsa432_shape);
	CU_add_test(s, "TX grant copy failure", test_tx_copy_failure);
	CU_add_test(s, "RX grant copy failure", test_rx_copy_failure);
	CU_add_test(s, "every grant error on every copy path", test_copy_errors);
	CU_add_test(s, "attach invariant", test_attach_invariant);
	CU_add_test(s, "ring index wrap", test_index_wrap);
	CU_add_test(s, "requests before connect", test_requests_before_connect);
	CU_add_test(s, "ports: output order", test_port_output);
	CU_add_test(s, "ports: packets above the uplink MTU", test_port_mtu);
	CU_add_test(s, "a vif's MTU (mtu=)", test_vif_mtu);
	CU_add_test(s, "link-local destinations", test_link_local);
	CU_add_test(s, "ports: complete checksums", test_port_csum);
	CU_add_test(s, "ports: announce and withdraw", test_port_addrs);
	CU_add_test(s, "ports: input to a guest", test_port_input);
	CU_add_test(s, "shares: stalled feature-sg vifs", test_stalled_vifs_share);
	CU_add_test(s, "shares: ports' part of a queue", test_port_share);
	CU_add_test(s, "stall: head packet undeliverable", test_rx_head_stall);
	CU_add_test(s, "no feature-rx-notify: polled, no stall", test_rx_no_notify);
	CU_add_test(s, "fair service: two senders, one receiver", test_fair_senders);
	CU_add_test(s, "event storm: late EOI", test_event_storm);
	CU_add_test(s, "rate: TX credit", test_rate_limit);
	CU_add_test(s, "restart: committed TX responses published", test_restart_tx_journal);
	CU_add_test(s, "restart: committed RX response published", test_restart_rx_journal);
	CU_add_test(s, "restart: unanswered and new requests", test_restart_unanswered);
	CU_add_test(s, "restart: a foreign journal is ignored", test_restart_foreign_journal);
	CU_add_test(s, "GSO: whole to a GSO receiver", test_gso_whole);
	CU_add_test(s, "GSO: the extra costs a slot", test_gso_slots);
	CU_add_test(s, "GSO: segmented for a receiver without", test_gso_segmented);
	CU_add_test(s, "GSO: segmented for the ports", test_gso_to_port);
	CU_add_test(s, "GSO: bad requests dropped", test_gso_bad);
	CU_add_test(s, "GSO: whole to a port with offloads", test_gso_offload_port);
	CU_add_test(s, "GSO: from a port with offloads", test_gso_port_input);
	CU_add_test(s, "GSO: a batch over the receiver's share", test_gso_batch_over_share);
	return CU_get_error();
}
