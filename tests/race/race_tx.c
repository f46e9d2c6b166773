/* SPDX-License-Identifier: MIT */
/*
 * race_tx.c - threat 1 (XSA-155, double fetch): a guest thread rewrites its
 * TX ring (slots, and now and then the producer index) as fast as it can
 * while the data path reads it, against the fake Xen libraries, for a few
 * seconds. Built twice: under AddressSanitizer and UndefinedBehaviorSanitizer
 * (no out-of-bounds access, whatever the guest does mid-read) and under
 * ThreadSanitizer (the ring page is the only memory the two threads share;
 * tests/race/tsan.supp names the functions that read it, and any other
 * race is a failure).
 *
 * Checks: every frame the other guest receives parses, carries the sender's
 * registered source address and the receiver's address and MACs, so
 * nothing the writer changed after the checks got through; the daemon
 * answers or disables, and never crashes. Exit status 0 if all held.
 *
 * Usage: race_tx [SECONDS] (default 3)
 */
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* First: it supplies the barriers Xen's ring.h needs. */
#include "ipnb/dp.h"

#include "fakexen.h"
#include "netfront.h"

#define NPAGES 8 /* the guests' data pages */

static struct dp *dp;
static struct nf hostile, rcv;
static size_t frame_len; /* the good frame in each of the hostile guest's pages */
static atomic_bool stop;
static atomic_uint rewrites;
static unsigned int ndisabled;

static void on_disable(void *arg, struct dp_vif *vif, const char *why)
{
	(void)arg;
	(void)vif;
	(void)why;
	ndisabled++;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The hostile guest's second thread: garbage over its TX ring's slots,
 * and now and then a producer index anywhere near the consumer's. */
static void *writer(void *arg)
{
	netif_tx_sring_t *s = hostile.tx_ring;
	unsigned int seed = 1;

	(void)arg;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		unsigned int r = (unsigned int)rand_r(&seed);
		netif_tx_request_t *q = &s->ring[r % 256].req;

		if ((r & 0xf) != 0) {
			/* mostly the good frame in one of the data pages */
			q->gref = hostile.txgref[(r >> 4) % NPAGES];
			q->offset = 0;
			q->flags = 0;
			q->size = (uint16_t)frame_len;
		} else {
			q->gref = r & 1 ? hostile.txgref[(r >> 4) % NPAGES] : r;
			q->offset = (uint16_t)(r >> 3) % 4200;
			q->flags = (uint16_t)(r >> 7) & 0x1f;
			q->size = (uint16_t)(r >> 12) % 1600;
		}
		q->id = (uint16_t)(r >> 9);
		if ((r & 0xfff) == 0x100)
			s->req_prod = s->rsp_prod + (r >> 16) % 300;
		/* and now and then a frame whose source is not the guest's:
		 * whatever is copied mid-change is checked in the copy */
		if ((r & 0x3f) == 0x21)
			hostile.txbuf[(size_t)((r >> 6) % NPAGES) * NF_PAGE + 14 + 15] ^= 0x40;
		atomic_fetch_add_explicit(&rewrites, 1, memory_order_relaxed);
	}
	return NULL;
}

/* Is a delivered frame exactly a checked one: IPv4 from the hostile guest's
 * address to the receiver's, with the receiver's MAC and the backend's? */
static bool frame_sane(const uint8_t *d, int16_t len)
{
	struct frame_info fi;

	if (len < 14 || frame_parse(d, (size_t)len, &fi) != FRAME_OK)
		return false;
	if (memcmp(d, rcv.mac, 6) != 0 || memcmp(d + 6, nf_be_mac, 6) != 0)
		return false;
	return fi.kind == FRAME_IPV4 && memcmp(fi.src.bytes, hostile.ip4, 4) == 0 &&
	       memcmp(fi.dst.bytes, rcv.ip4, 4) == 0;
}

int main(int argc, char **argv)
{
	unsigned int seconds = argc > 1 ? (unsigned int)strtoul(argv[1], NULL, 10) : 3;
	const struct nf_params p = {.nbuf = NPAGES};
	struct dp_vif *hv, *rv;
	unsigned long delivered = 0, bad = 0, reconnects = 0;
	char err[256];
	pthread_t t;
	uint64_t end;

	dp = dp_new(nf_be_mac, on_disable, NULL);
	if (!dp || fake_domain_create(1) || fake_domain_create(2) || nf_init(&hostile, 1, &p) ||
	    nf_init(&rcv, 2, &p)) {
		fprintf(stderr, "race_tx: set-up failed\n");
		return 2;
	}
	/* Each TX page starts with a good frame to the receiver. */
	for (unsigned int i = 0; i < NPAGES; i++) {
		uint8_t *f = hostile.txbuf + (size_t)i * NF_PAGE;

		memset(f, 0, 128);
		frame_len = nf_put_eth_ip(f, false, nf_be_mac, hostile.mac, hostile.ip4, rcv.ip4,
					  IPPROTO_UDP, 26) +
			    26;
		nf_ip4_csum(f);
	}
	hv = nf_attach(&hostile, dp, 0, err, sizeof(err));
	rv = nf_attach(&rcv, dp, 8, err, sizeof(err));
	if (!hv || !rv) {
		fprintf(stderr, "race_tx: %s\n", err);
		return 2;
	}
	if (pthread_create(&t, NULL, writer, NULL) != 0)
		return 2;
	end = now_ms() + seconds * 1000u;
	while (now_ms() < end) {
		netif_rx_response_t rsp;
		const uint8_t *d;
		RING_IDX idx;

		/* The hostile guest kicks; a disabled vif is connected again
		 * (its rings as they are: the attach check may refuse them). */
		nf_kick(&hostile, hostile.port_tx);
		if (!dp_vif_connected(hv)) {
			struct dp_vif_cfg cfg = nf_vif_cfg(&hostile);

			reconnects += dp_vif_connect(dp, hv, &cfg, err, sizeof(err)) == 0;
		}
		dp_handle_events(dp);
		dp_run(dp);
		while (nf_take_rx(&rcv, &rsp, &d, &idx)) {
			if (rsp.status < 0)
				continue;
			delivered++;
			bad += !frame_sane(d, rsp.status);
		}
		nf_post_rx(&rcv, nf_rx_space(&rcv));
	}
	atomic_store(&stop, true);
	pthread_join(t, NULL);
	printf("race_tx: %u s, %u slot rewrites, %u disables, %lu reconnects, %lu frames "
	       "delivered, %lu bad\n",
	       seconds, atomic_load(&rewrites), ndisabled, reconnects, delivered, bad);
	dp_free(dp);
	fake_reset();
	nf_free(&hostile);
	nf_free(&rcv);
	if (atomic_load(&rewrites) == 0 || ndisabled == 0) {
		fprintf(stderr, "race_tx: the writer did not get to work\n");
		return 1;
	}
	return bad ? 1 : 0;
}
