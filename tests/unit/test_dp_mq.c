/* SPDX-License-Identifier: MIT */
/*
 * test_dp_mq.c - multi-queue vifs (netif.h "Multi-queue") in the data path,
 * against the fake Xen libraries: the flow hash that picks a receiver's
 * queue, traffic on every queue both ways, the vif-wide share and counters,
 * a restart that takes a multi-queue vif over from its journals, teardown
 * with packets queued, and a protocol break on one queue. Guest M has
 * several queues (one fake netfront per queue, netfront.h), guest S one.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* First: it supplies the barriers Xen's ring.h needs. */
#include "ipnb/dp.h"
#include "ipnb/journal.h"

#include "fakeclock.h"
#include "fakexen.h"
#include "netfront.h"
#include "suites.h"

#define MQ_NBUF 64 /* data pages per direction and queue */

struct mq_guest {
	struct nf q[DP_MAX_QUEUES];
	unsigned int nq;
	struct dp_vif *vif;
};

static struct dp *dp;
static struct mq_guest gm, gs;
static struct mq_guest *const M = &gm, *const S = &gs;
static unsigned int ndisabled;
static char state_path[64];
static int state_fd = -1;

static void on_disable(void *arg, struct dp_vif *vif, const char *why)
{
	(void)vif;
	(void)why;
	CU_ASSERT_PTR_EQUAL(arg, &ndisabled);
	ndisabled++;
}

/* Guest domid with nq queues, each with its rings, nbuf pages per
 * direction and channel(s). */
static void mq_init_n(struct mq_guest *g, uint32_t domid, unsigned int nq, bool split,
		      unsigned int nbuf)
{
	const struct nf_params p = {.nbuf = nbuf, .split = split};

	memset(g, 0, sizeof(*g));
	g->nq = nq;
	CU_ASSERT_EQUAL_FATAL(fake_domain_create(domid), 0);
	for (unsigned int k = 0; k < nq; k++)
		CU_ASSERT_EQUAL_FATAL(nf_init(&g->q[k], domid, &p), 0);
}

static void mq_init(struct mq_guest *g, uint32_t domid, unsigned int nq, bool split)
{
	mq_init_n(g, domid, nq, split, MQ_NBUF);
}

static void mq_connect(struct mq_guest *g)
{
	struct dp_vif_cfg cfg = nf_vif_cfg_queues(g->q, g->nq);
	char err[256] = "";

	g->vif = dp_vif_new(dp, (uint16_t)g->q[0].domid, 0, g->q[0].mac);
	CU_ASSERT_PTR_NOT_NULL_FATAL(g->vif);
	CU_ASSERT_EQUAL(nf_register(&g->q[0], dp, g->vif, true, true), 0);
	if (dp_vif_connect(dp, g->vif, &cfg, err, sizeof(err)) != 0)
		fprintf(stderr, "\n  connect failed: %s\n", err);
	CU_ASSERT_FATAL(dp_vif_connected(g->vif));
	CU_ASSERT_EQUAL(dp_vif_nqueues(g->vif), g->nq);
}

static void mq_free(struct mq_guest *g)
{
	for (unsigned int k = 0; k < DP_MAX_QUEUES; k++)
		nf_free(&g->q[k]);
	memset(g, 0, sizeof(*g));
}

/* Collect kicks and run until the data path has nothing left to do. */
static void pump(void)
{
	int rounds = 0;

	dp_handle_events(dp);
	while (rounds++ < 100 && dp_run(dp) == 0)
		dp_handle_events(dp);
}

static void setup(void)
{
	fake_reset();
	ndisabled = 0;
	dp = dp_new(nf_be_mac, on_disable, &ndisabled);
}

static void teardown(void)
{
	dp_free(dp);
	dp = NULL;
	fake_reset();
	fake_clock_reset();
	mq_free(M);
	mq_free(S);
}

/* Frees the data path: no ring of any queue stays mapped, no channel
 * bound, no handle open. */
static void finish(void)
{
	dp_free(dp);
	dp = NULL;
	CU_ASSERT(fake_gnt_mapped_count() + fake_evtchn_bound_count() + fake_handles_open() == 0);
}

/* ---- frames ---- */

/* A datagram of one flow: UDP (proto 17) or TCP (6) from `from` to dip,
 * source port sport, destination port 7777, and seq in its payload. */
static size_t flow_frame(uint8_t *b, const struct nf *from, const uint8_t *dip, uint8_t proto,
			 uint16_t sport, uint32_t seq)
{
	size_t l4len = proto == IPPROTO_TCP ? 20 + 8 : 8 + 8;
	size_t l4 = nf_put_eth_ip(b, false, nf_be_mac, from->mac, from->ip4, dip, proto, l4len);
	uint8_t *u = b + l4, *pl = u + l4len - 8;

	memset(u, 0, l4len);
	u[0] = (uint8_t)(sport >> 8);
	u[1] = (uint8_t)sport;
	u[2] = 7777 >> 8;
	u[3] = 7777 & 0xff;
	if (proto == IPPROTO_UDP)
		u[5] = (uint8_t)l4len;
	else
		u[12] = 5 << 4;
	pl[0] = (uint8_t)(seq >> 24);
	pl[1] = (uint8_t)(seq >> 16);
	pl[2] = (uint8_t)(seq >> 8);
	pl[3] = (uint8_t)seq;
	b[14 + 4] = (uint8_t)(seq >> 8); /* the IPv4 id: varies per packet */
	b[14 + 5] = (uint8_t)seq;
	nf_ip4_csum(b);
	return l4 + l4len;
}

static uint16_t frame_sport(const uint8_t *f)
{
	return (uint16_t)(f[34] << 8 | f[35]);
}

static uint32_t frame_seq(const uint8_t *f, size_t len)
{
	const uint8_t *p = f + len - 8;

	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- the flow hash ---- */

static void test_flow_hash(void)
{
	static const uint8_t d4[4] = {10, 99, 0, 9};
	struct nf a;
	uint8_t f[128], g[128];
	size_t n, m;
	unsigned int buckets[4] = {0}, pairs[2] = {0};
	uint32_t h;

	memset(&a, 0, sizeof(a));
	memcpy(a.mac, (const uint8_t[6]){0, 0x16, 0x3e, 0, 0, 1}, 6);
	memcpy(a.ip4, (const uint8_t[4]){10, 99, 0, 1}, 4);

	/* one flow: the same hash whatever the payload, IP id or MACs */
	n = flow_frame(f, &a, d4, IPPROTO_UDP, 1000, 1);
	h = dp_flow_hash(f, n);
	m = flow_frame(g, &a, d4, IPPROTO_UDP, 1000, 77);
	memset(g, 0x55, 12);
	CU_ASSERT_EQUAL(dp_flow_hash(g, m), h);
	CU_ASSERT_EQUAL(dp_flow_hash(f, n), h); /* pure: again the same */
	/* the ports and the protocol count */
	m = flow_frame(g, &a, d4, IPPROTO_UDP, 1001, 1);
	CU_ASSERT_NOT_EQUAL(dp_flow_hash(g, m), h);
	m = flow_frame(g, &a, d4, IPPROTO_TCP, 1000, 1);
	CU_ASSERT_NOT_EQUAL(dp_flow_hash(g, m), h);

	/* fragments and ICMP: the addresses only, whatever the bytes after */
	n = flow_frame(f, &a, d4, IPPROTO_UDP, 1000, 1);
	m = flow_frame(g, &a, d4, IPPROTO_UDP, 2000, 1);
	f[14 + 6] = g[14 + 6] = 0x20; /* more fragments */
	CU_ASSERT_EQUAL(dp_flow_hash(f, n), dp_flow_hash(g, m));
	f[14 + 6] = g[14 + 6] = 0;
	f[14 + 7] = g[14 + 7] = 0x10; /* a later fragment */
	CU_ASSERT_EQUAL(dp_flow_hash(f, n), dp_flow_hash(g, m));
	f[14 + 7] = g[14 + 7] = 0;
	f[14 + 9] = g[14 + 9] = IPPROTO_ICMP;
	CU_ASSERT_EQUAL(dp_flow_hash(f, n), dp_flow_hash(g, m));

	/* IPv6: ports count too */
	{
		uint8_t d6[16] = {0xfd, [15] = 9}, s6[16] = {0xfd, [15] = 1};
		size_t l4 = nf_put_eth_ip(f, true, nf_be_mac, a.mac, s6, d6, IPPROTO_UDP, 8);

		memcpy(g, f, l4 + 8);
		f[l4 + 1] = 1;
		g[l4 + 1] = 2;
		CU_ASSERT_NOT_EQUAL(dp_flow_hash(f, l4 + 8), dp_flow_hash(g, l4 + 8));
		g[l4 + 1] = 1;
		CU_ASSERT_EQUAL(dp_flow_hash(f, l4 + 8), dp_flow_hash(g, l4 + 8));
		CU_ASSERT_EQUAL(dp_flow_hash(f, l4 + 3), dp_flow_hash(f, l4)); /* no ports */
	}

	/* ARP: by its protocol addresses */
	n = nf_put_arp(f, nf_be_mac, a.mac, a.mac, a.ip4, d4, 2);
	m = nf_put_arp(g, a.mac, nf_be_mac, nf_be_mac, a.ip4, d4, 2);
	CU_ASSERT_EQUAL(dp_flow_hash(f, n), dp_flow_hash(g, m));
	m = nf_put_arp(g, nf_be_mac, a.mac, a.mac, d4, a.ip4, 2);
	CU_ASSERT_NOT_EQUAL(dp_flow_hash(f, n), dp_flow_hash(g, m));

	/* nothing to hash, or too short to read: 0, and no read beyond len */
	f[12] = 0x88;
	f[13] = 0xcc;
	CU_ASSERT_EQUAL(dp_flow_hash(f, 60), 0);
	CU_ASSERT_EQUAL(dp_flow_hash(f, 10), 0);
	n = flow_frame(f, &a, d4, IPPROTO_UDP, 1000, 1);
	CU_ASSERT_EQUAL(dp_flow_hash(f, 14 + 19), 0);
	CU_ASSERT_EQUAL(dp_flow_hash(f, 14 + 20), dp_flow_hash(f, 14 + 22)); /* no ports */

	/* spread: 4000 flows over 4 queues and over 2, none far off a share */
	for (uint16_t p = 0; p < 4000; p++) {
		n = flow_frame(f, &a, d4, IPPROTO_TCP, (uint16_t)(20000 + p), 0);
		h = dp_flow_hash(f, n);
		buckets[h % 4]++;
		pairs[h % 2]++;
	}
	for (int i = 0; i < 4; i++)
		CU_ASSERT(buckets[i] > 850 && buckets[i] < 1150);
	CU_ASSERT(pairs[0] > 1800 && pairs[0] < 2200);
}

static void test_max_queues(void)
{
	CU_ASSERT_EQUAL(dp_max_queues(dp), 1);
	CU_ASSERT_FALSE(dp_set_max_queues(dp, 0));
	CU_ASSERT_FALSE(dp_set_max_queues(dp, DP_MAX_QUEUES + 1));
	CU_ASSERT_EQUAL(dp_max_queues(dp), 1);
	CU_ASSERT(dp_set_max_queues(dp, DP_MAX_QUEUES));
	CU_ASSERT_EQUAL(dp_max_queues(dp), DP_MAX_QUEUES);
	finish();
}

/* ---- traffic ---- */

/* M (nq queues) and S (one), connected, with `post` RX buffers on each
 * queue. */
static void two_guests(unsigned int nq, bool split, unsigned int post)
{
	mq_init(M, 4, nq, split);
	mq_init(S, 2, 1, false);
	mq_connect(M);
	mq_connect(S);
	for (unsigned int k = 0; k < nq && post; k++)
		CU_ASSERT_EQUAL(nf_post_rx(&M->q[k], post), 0);
	if (post)
		CU_ASSERT_EQUAL(nf_post_rx(&S->q[0], post), 0);
	pump();
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 2 * (nq + 1));
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), (split ? 2 : 1) * nq + 1);
}

/* S sends one packet per flow for `flows` flows (source ports from sport),
 * `rounds` times over, to M; at most a page's worth of requests (MQ_NBUF)
 * at a time, as each slot's data page is slot % MQ_NBUF. */
static void s_sends(unsigned int flows, unsigned int rounds, uint16_t sport)
{
	uint8_t f[128];

	for (unsigned int r = 0; r < rounds; r++) {
		for (unsigned int i = 0; i < flows; i++) {
			size_t n = flow_frame(f, &S->q[0], M->q[0].ip4, IPPROTO_UDP,
					      (uint16_t)(sport + i), r * 1000 + i);

			CU_ASSERT_EQUAL_FATAL(nf_queue_tx(&S->q[0], f, n, NULL, 1, 0, NULL), 0);
			if ((i + 1) % MQ_NBUF == 0 || i + 1 == flows) {
				CU_ASSERT_EQUAL(nf_push_tx(&S->q[0]), 0);
				pump();
				nf_reap_tx(&S->q[0], NULL);
			}
		}
	}
}

/*
 * M's queue k takes every RX response: each packet must be on the queue
 * its flow hashes to, and a flow's packets in order. Returns how many.
 */
static unsigned int m_takes(unsigned int k, uint32_t *last_seq, uint16_t sport0)
{
	netif_rx_response_t rsp;
	const uint8_t *d;
	unsigned int n = 0;

	while (nf_take_rx(&M->q[k], &rsp, &d, NULL)) {
		uint16_t i;

		CU_ASSERT_FATAL(rsp.status > 0);
		i = (uint16_t)(frame_sport(d) - sport0);
		CU_ASSERT_EQUAL(dp_flow_hash(d, (size_t)rsp.status) % M->nq, k);
		CU_ASSERT(memcmp(d, M->q[0].mac, 6) == 0);
		if (last_seq[i] != UINT32_MAX)
			CU_ASSERT(frame_seq(d, (size_t)rsp.status) > last_seq[i]);
		last_seq[i] = frame_seq(d, (size_t)rsp.status);
		n++;
	}
	return n;
}

static void traffic(unsigned int nq, bool split)
{
	uint8_t f[128];
	uint32_t last_seq[32];
	unsigned int total = 0, okay;

	two_guests(nq, split, MQ_NBUF);

	/* TX: each of M's queues sends on its own ring; S gets them all */
	for (unsigned int k = 0; k < nq; k++) {
		for (uint32_t i = 0; i < 3; i++) {
			size_t n = flow_frame(f, &M->q[k], S->q[0].ip4, IPPROTO_UDP,
					      (uint16_t)(100 + k), i);

			CU_ASSERT_EQUAL(nf_queue_tx(&M->q[k], f, n, NULL, 1, 0, NULL), 0);
		}
		CU_ASSERT_EQUAL(nf_push_tx(&M->q[k]), 0);
	}
	pump();
	for (unsigned int k = 0; k < nq; k++) {
		CU_ASSERT_EQUAL(nf_reap_tx(&M->q[k], &okay), 3);
		CU_ASSERT_EQUAL(okay, 3);
		CU_ASSERT_EQUAL(nf_rx_pending(&M->q[k]), 0);
	}
	CU_ASSERT_EQUAL(nf_reap_rx(&S->q[0]), 3 * nq);
	CU_ASSERT_EQUAL(dp_vif_stats(M->vif)->tx_pkts, 3 * nq);

	/* RX: 32 flows, each twice: every queue gets some, each flow stays on
	 * the queue its hash names, in order */
	memset(last_seq, 0xff, sizeof(last_seq));
	s_sends(32, 2, 3000);
	for (unsigned int k = 0; k < nq; k++) {
		unsigned int got = m_takes(k, last_seq, 3000);

		CU_ASSERT(got > 0);
		total += got;
	}
	CU_ASSERT_EQUAL(total, 64);
	CU_ASSERT_EQUAL(dp_vif_stats(M->vif)->rx_pkts, 64);
	for (int d = 0; d < DP_DROP_COUNT; d++)
		CU_ASSERT_EQUAL(dp_vif_stats(M->vif)->drops[d], 0);
	CU_ASSERT_EQUAL(dp_vif_queued(M->vif), 0);
	CU_ASSERT_EQUAL(ndisabled, 0);
	finish();
}

static void test_traffic_4q(void)
{
	traffic(4, false);
}

static void test_traffic_2q_split(void)
{
	traffic(2, true);
}

/* One share for the whole vif, over all its queues. */
static void test_share_whole_vif(void)
{
	two_guests(4, false, 0);
	s_sends(200, 1, 1000);
	s_sends(100, 1, 1200);
	CU_ASSERT_EQUAL(dp_vif_queued(M->vif), DP_RXQ_MAX);
	CU_ASSERT_EQUAL(dp_vif_stats(M->vif)->drops[DP_DROP_RXQ_FULL], 300 - DP_RXQ_MAX);
	finish();
}

/* A source port of S's whose flow to M lands on M's queue k. */
static uint16_t sport_for(unsigned int k)
{
	uint8_t f[128];

	for (uint16_t p = 1000;; p++) {
		size_t n = flow_frame(f, &S->q[0], M->q[0].ip4, IPPROTO_UDP, p, 0);

		if (dp_flow_hash(f, n) % M->nq == k)
			return p;
	}
}

/*
 * One stalled queue turns the whole vif's carrier off: queue 0 takes a
 * packet a second, queue 1 has no buffer for its flow's. The carrier comes
 * back only once every queue has posted enough for the largest packet.
 */
static void test_stall_one_queue(void)
{
	uint16_t p0, p1;

	two_guests(2, false, 0);
	CU_ASSERT_EQUAL(nf_post_rx(&M->q[0], 12), 0);
	pump();
	p0 = sport_for(0);
	p1 = sport_for(1);
	for (uint32_t t = 0; t <= DP_STALL_MS / 1000; t++) {
		CU_ASSERT(dp_vif_carrier(M->vif));
		s_sends(1, 1, p0);
		s_sends(1, 1, p1);
		fake_clock_advance(1000);
	}
	pump();
	CU_ASSERT_FALSE(dp_vif_carrier(M->vif));
	CU_ASSERT_EQUAL(dp_vif_stats(M->vif)->rx_pkts, DP_STALL_MS / 1000 + 1);
	CU_ASSERT_EQUAL(nf_reap_rx(&M->q[0]), DP_STALL_MS / 1000 + 1);
	CU_ASSERT_EQUAL(nf_rx_pending(&M->q[1]), 0);
	CU_ASSERT_EQUAL(dp_vif_queued(M->vif), 0);
	CU_ASSERT(dp_vif_stats(M->vif)->drops[DP_DROP_CARRIER_OFF] > 0);

	/* queue 1 posts the 18 slots a feature-sg vif needs, queue 0 has one
	 * buffer left: still off */
	CU_ASSERT_EQUAL(nf_post_rx(&M->q[1], XEN_NETIF_NR_SLOTS_MIN), 0);
	pump();
	CU_ASSERT_FALSE(dp_vif_carrier(M->vif));
	CU_ASSERT_NOT_EQUAL(dp_run(dp), 0); /* nothing to do: no spinning */
	/* both have enough: on, and both flows go through */
	CU_ASSERT_EQUAL(nf_post_rx(&M->q[0], XEN_NETIF_NR_SLOTS_MIN), 0);
	pump();
	CU_ASSERT(dp_vif_carrier(M->vif));
	s_sends(1, 1, p0);
	s_sends(1, 1, p1);
	CU_ASSERT_EQUAL(nf_reap_rx(&M->q[0]), 1);
	CU_ASSERT_EQUAL(nf_reap_rx(&M->q[1]), 1);
	finish();
}

/* ---- teardown and protocol breaks ---- */

static void test_teardown_queued(void)
{
	struct dp_vif_cfg cfg;
	char err[256];

	two_guests(4, false, 0);
	s_sends(20, 2, 500);
	CU_ASSERT_EQUAL(dp_vif_queued(M->vif), 40);
	CU_ASSERT(dp_pool_bytes(dp) > 0);
	dp_vif_disconnect(dp, M->vif);
	CU_ASSERT_EQUAL(dp_vif_nqueues(M->vif), 0);
	CU_ASSERT_EQUAL(dp_vif_queued(M->vif), 0);
	CU_ASSERT_EQUAL(dp_vif_queued_bytes(M->vif), 0);
	CU_ASSERT_EQUAL(dp_pool_bytes(dp), 0);
	CU_ASSERT_EQUAL(dp_vif_stats(M->vif)->drops[DP_DROP_CARRIER_OFF], 40);
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 2);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 1);
	/* connected again, then freed with packets on every queue */
	cfg = nf_vif_cfg_queues(M->q, 4);
	CU_ASSERT_EQUAL_FATAL(dp_vif_connect(dp, M->vif, &cfg, err, sizeof(err)), 0);
	s_sends(20, 2, 500);
	CU_ASSERT_EQUAL(dp_vif_queued(M->vif), 40);
	dp_vif_free(dp, M->vif);
	M->vif = NULL;
	CU_ASSERT_EQUAL(dp_pool_bytes(dp), 0);
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 2);
	finish();
}

static void test_one_queue_breaks(void)
{
	struct nf *q3;

	two_guests(4, true, 8);
	q3 = &M->q[3];
	q3->tx.sring->req_prod = q3->tx.req_prod_pvt + RING_SIZE(&q3->tx) + 1;
	CU_ASSERT_EQUAL(fake_evtchn_kick(q3->domid, q3->port_tx), 0);
	pump();
	CU_ASSERT_EQUAL(ndisabled, 1);
	CU_ASSERT_FALSE(dp_vif_connected(M->vif));
	/* every queue of M is gone, S is not */
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 2);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 1);
	for (unsigned int k = 0; k < 4; k++)
		CU_ASSERT_EQUAL(fake_evtchn_peer(M->q[k].domid, M->q[k].port_rx), 0);
	finish();
}

static void test_connect_fails_midway(void)
{
	struct dp_vif_cfg cfg;
	char err[256] = "";

	mq_init(M, 4, 4, false);
	M->vif = dp_vif_new(dp, 4, 0, M->q[0].mac);
	cfg = nf_vif_cfg_queues(M->q, 4);
	cfg.more[1].rx_ref = 60000; /* queue 2's RX ring: never granted */
	CU_ASSERT_EQUAL(dp_vif_connect(dp, M->vif, &cfg, err, sizeof(err)), -1);
	CU_ASSERT(strstr(err, "queue 2") != NULL);
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 0);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 0);
	cfg = nf_vif_cfg_queues(M->q, 4);
	cfg.nqueues = DP_MAX_QUEUES + 1;
	CU_ASSERT_EQUAL(dp_vif_connect(dp, M->vif, &cfg, err, sizeof(err)), -1);
	CU_ASSERT_FALSE(dp_vif_connected(M->vif));
	finish();
}

/* ---- restart ---- */

static void restart(void)
{
	dp_free(dp);
	M->vif = S->vif = NULL;
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 0);
	dp = dp_new(nf_be_mac, on_disable, &ndisabled);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dp);
	dp_set_state_dir(dp, state_fd);
}

/*
 * A process killed on M's queue 2 after committing TX responses for two of
 * three packets (one written over its request): the new process takes the
 * 4-queue vif over, publishes both from queue 2's journal, and sends only
 * the third. Every slot is answered once; the other queues' journals, and
 * a journal of queue 2 on queue 1, apply to nothing.
 */
static void test_restart_takeover(void)
{
	struct nf *q2;
	uint8_t f[128];
	netif_tx_response_t rsp[2];
	struct jr_ident id;
	struct jr *j;
	RING_IDX first, idx;
	netif_tx_response_t r;
	unsigned int n = 0;

	snprintf(state_path, sizeof(state_path), "/tmp/ipnb-mq-XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(state_path));
	state_fd = open(state_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CU_ASSERT_FATAL(state_fd >= 0);
	dp_set_state_dir(dp, state_fd);
	two_guests(4, false, 8);
	/* one journal file per queue, queue 0's under the single-queue name */
	CU_ASSERT_EQUAL(faccessat(state_fd, "vif-4-0.journal", F_OK, 0), 0);
	CU_ASSERT_EQUAL(faccessat(state_fd, "vif-4-0-q3.journal", F_OK, 0), 0);
	CU_ASSERT_NOT_EQUAL(faccessat(state_fd, "vif-4-0-q4.journal", F_OK, 0), 0);
	CU_ASSERT_EQUAL(faccessat(state_fd, "vif-2-0.journal", F_OK, 0), 0);

	q2 = &M->q[2];
	first = q2->tx.req_prod_pvt;
	for (uint32_t i = 0; i < 3; i++) {
		size_t len = flow_frame(f, q2, S->q[0].ip4, IPPROTO_UDP, 9, i);

		CU_ASSERT_EQUAL(nf_queue_tx(q2, f, len, NULL, 1, 0, NULL), 0);
	}
	q2->tx.sring->req_prod = q2->tx.req_prod_pvt; /* published, no kick */
	restart();
	for (int i = 0; i < 2; i++)
		rsp[i] = (netif_tx_response_t){.id = nf_tx_id(first + (RING_IDX)i),
					       .status = NETIF_RSP_OKAY};
	id = (struct jr_ident){q2->tx_ref, q2->rx_ref, q2->port_tx, q2->port_rx};
	j = jr_open(state_fd, 4, 0, 2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	jr_start(j, &id);
	jr_commit(j, JR_TX, q2->tx.sring->rsp_prod, rsp, 2);
	q2->tx.sring->ring[first % RING_SIZE(&q2->tx)].rsp = rsp[0];
	jr_close(j, false);
	/* queue 2's journal in queue 1's file: not queue 1's connection */
	j = jr_open(state_fd, 4, 0, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	jr_start(j, &id);
	jr_commit(j, JR_TX, M->q[1].tx.sring->rsp_prod, rsp, 1);
	jr_close(j, false);

	mq_connect(S);
	mq_connect(M);
	CU_ASSERT_EQUAL(dp_vif_stats(M->vif)->replayed_responses, 2);
	pump();
	while (nf_take_tx(q2, &r, &idx)) {
		CU_ASSERT_EQUAL(idx, first + n);
		CU_ASSERT_EQUAL(r.id, nf_tx_id(idx));
		CU_ASSERT_EQUAL(r.status, NETIF_RSP_OKAY);
		n++;
	}
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL(nf_reap_tx(&M->q[1], NULL), 0);
	CU_ASSERT_EQUAL(dp_vif_stats(M->vif)->tx_pkts, 1);
	CU_ASSERT_EQUAL(nf_rx_pending(&S->q[0]), 1);
	/* and the taken-over vif carries traffic on every queue */
	for (unsigned int k = 0; k < 4; k++)
		CU_ASSERT_EQUAL(nf_post_rx(&M->q[k], 16), 0);
	s_sends(16, 1, 4000);
	n = 0;
	for (unsigned int k = 0; k < 4; k++)
		n += nf_reap_rx(&M->q[k]);
	CU_ASSERT_EQUAL(n, 16);
	finish();
	close(state_fd);
	state_fd = -1;
	CU_ASSERT_EQUAL(rmdir(state_path), 0); /* every queue's journal removed */
}

/*
 * Threat 20 across queues: a vif gets one TX batch (64 packets) per round,
 * however many queues it has. M fills the TX rings of 8 queues (128
 * requests each), S its one (64): one dp_run() (8 rounds) answers all of
 * S's and 512 of M's 1024. With a batch per queue, M would have had all
 * 1024 in two rounds, eight times S's turns.
 */
static void test_tx_budget_per_vif(void)
{
	unsigned int m = 0;
	uint8_t f[128];

	mq_init_n(M, 4, 8, false, 128);
	mq_init(S, 2, 1, false);
	mq_connect(M);
	mq_connect(S);
	for (unsigned int k = 0; k < 9; k++) {
		struct nf *q = k < 8 ? &M->q[k] : &S->q[0];
		const uint8_t *dip = k < 8 ? S->q[0].ip4 : M->q[0].ip4;
		uint32_t n = k < 8 ? 128 : 64;

		for (uint32_t i = 0; i < n; i++) {
			size_t len = flow_frame(f, q, dip, IPPROTO_UDP, (uint16_t)(1000 + k), i);

			CU_ASSERT_EQUAL_FATAL(nf_queue_tx(q, f, len, NULL, 1, 0, NULL), 0);
		}
		CU_ASSERT_EQUAL(nf_push_tx(q), 0);
	}
	dp_handle_events(dp);
	dp_run(dp);
	CU_ASSERT_EQUAL(nf_reap_tx(&S->q[0], NULL), 64);
	for (unsigned int k = 0; k < 8; k++)
		m += nf_reap_tx(&M->q[k], NULL);
	CU_ASSERT_EQUAL(m, 512);
	pump();
	for (unsigned int k = 0; k < 8; k++)
		m += nf_reap_tx(&M->q[k], NULL);
	CU_ASSERT_EQUAL(m, 1024);
	CU_ASSERT_EQUAL(ndisabled, 0);
	finish();
}

CU_ErrorCode test_dp_mq_register(void)
{
	CU_pSuite s =
	    CU_add_suite_with_setup_and_teardown("dp multi-queue", NULL, NULL, setup, teardown);

	if (!s)
		return CU_get_error();
	CU_add_test(s, "flow hash: stable, spread", test_flow_hash);
	CU_add_test(s, "max queues", test_max_queues);
	CU_add_test(s, "traffic on 4 queues, both ways", test_traffic_4q);
	CU_add_test(s, "traffic on 2 queues, split channels", test_traffic_2q_split);
	CU_add_test(s, "one share for the whole vif", test_share_whole_vif);
	CU_add_test(s, "one stalled queue: carrier off", test_stall_one_queue);
	CU_add_test(s, "teardown with packets on every queue", test_teardown_queued);
	CU_add_test(s, "a broken queue disables the vif", test_one_queue_breaks);
	CU_add_test(s, "connect fails on queue 2", test_connect_fails_midway);
	CU_add_test(s, "restart: a 4-queue vif taken over", test_restart_takeover);
	CU_add_test(s, "TX: one batch per vif per round, all queues", test_tx_budget_per_vif);
	return CU_get_error();
}
