/* SPDX-License-Identifier: MIT */
/*
 * bench_dp.c - `make bench`: how fast the data path (netback/dp*.c) switches
 * packets guest -> guest, run against the in-process fake of the Xen
 * libraries (tests/fake). The benchmark plays the netfronts: each sender
 * keeps its TX ring full of IPv4/UDP requests for its receiver's registered
 * address, each receiver keeps its RX ring full of posted buffers, and the
 * loop drives dp_handle_events() and dp_run() as the daemon's main loop
 * would, all in one thread.
 *
 * The fake's grant copy is a memcpy inside this process, where real Xen
 * makes a hypercall per batch, so the figures bound the daemon's own
 * per-packet work (ring handling, buffers, parsing, switching, batching);
 * they are not what it achieves on real Xen. A plain memcpy of the same
 * frame sizes is measured alongside as this machine's reference.
 *
 * A benchmark is not a test: nothing here asserts a timing. It does check
 * that what it counts really arrived: every RX response must carry the
 * frame's length in the slot it was posted for, one delivered packet in 64
 * is compared byte for byte (and by sequence number) with what was sent,
 * and at the end of each cell the sent, delivered and dropped counts must
 * add up. Any failure is shown in the `bad` column and makes the program
 * exit 1.
 *
 * A last cell sends 64000-byte TCP packets with a GSO request (MSS 1448)
 * to a receiver that takes GSO, as Linux netfront's TSO does: each is 16
 * data slots and the GSO extra on the TX ring, and arrives whole.
 *
 * Allocations per packet are counted by wrapping malloc() (the benchmark is
 * linked with -Wl,--wrap=malloc): the data path's packet buffers.
 *
 * Usage: bench_dp [-n PACKETS] [-t SECONDS]
 *   -n  packets to measure per cell (default 1000000)
 *   -t  time limit per cell in seconds (default 2); a cell ends at
 *       whichever limit comes first
 */

/* First: it supplies the barriers Xen's ring.h needs before anything
 * else (the fake's headers included) pulls ring.h in. */
#include "ipnb/dp.h"

#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fakexen.h"
#include "netfront.h"

#define PG	    NF_PAGE
#define NSLOT	    NF_MAX_BUF /* ring slots, and data pages per direction and guest */
#define MAX_PAIRS   4
#define SAMPLE_MASK 63		  /* compare one delivered packet in 64 */
#define SEQ_OFF	    (14 + 20 + 8) /* the sequence number: first payload bytes */
#define TX_FLAGS    (NETTXF_csum_blank | NETTXF_data_validated) /* as Linux netfront */
#define RX_FLAGS    (NETRXF_csum_blank | NETRXF_data_validated)
#define GSO_LEN	    64000u /* frame bytes of one GSO packet */
#define GSO_MSS	    1448u
#define GSO_DATA    ((GSO_LEN + PG - 1) / PG) /* data slots per GSO packet */

/* The GSO cell is running: one pair, GSO_LEN-byte TCP packets. */
static bool gso_mode;
static uint8_t gso_frame[GSO_LEN];

/* malloc() calls since the start (see the top comment). */
static uint64_t nallocs;
void *__real_malloc(size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_malloc(size_t n)
{
	nallocs++;
	return __real_malloc(n);
}

static const size_t frame_sizes[] = {64, 512, 1514};
static const unsigned int pair_counts[] = {1, 2, 4};

/* One guest: its netfront (one event channel) and its vif. */
struct guest {
	struct nf nf;
	struct dp_vif *vif;
};

/* A sender and its receiver: one flow of frames of one size. */
struct pair {
	struct guest snd, rcv;
	uint8_t frame[PG]; /* what the sender sends, sequence number aside */
	size_t len;
	uint32_t next_seq;	/* sequence number of the next packet queued */
	uint64_t sent;		/* TX requests queued */
	uint64_t tx_ok, tx_err; /* TX responses */
	uint64_t delivered;	/* RX responses carrying the whole frame */
	uint64_t extras;	/* GSO: TX extra slots queued (answered NETIF_RSP_NULL) */
	uint64_t bad;		/* anything that did not check out */
};

static struct dp *dp;
static struct pair pairs[MAX_PAIRS];
static unsigned int npairs;
static unsigned int ndisabled;
/* The storm table's third guest: connected, its rings empty, it kicks its
 * port STORM_KICKS times per loop pass (threat 19). */
#define STORM_KICKS 256
#define STORM_DOMID 99
static struct guest stormer;
static bool storming;

static void die(const char *what)
{
	fprintf(stderr, "bench_dp: %s\n", what);
	exit(2);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void on_disable(void *arg, struct dp_vif *vif, const char *why)
{
	(void)arg;
	(void)vif;
	fprintf(stderr, "bench_dp: a vif was disabled: %s\n", why);
	ndisabled++;
}

/* ---- frames -------------------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * An Ethernet + IPv4 + UDP frame of len bytes (no FCS) from s to d, sent to
 * the backend's MAC as a guest does once ARP has answered. The UDP checksum
 * field holds only the pseudo-header sum (NETTXF_csum_blank).
 */
static void build_frame(uint8_t *b, size_t len, const struct guest *s, const struct guest *d)
{
	size_t ulen = len - 14 - 20;
	uint8_t *u = b + nf_put_eth_ip(b, false, nf_be_mac, s->nf.mac, s->nf.ip4, d->nf.ip4,
				       IPPROTO_UDP, ulen);
	uint32_t ph;

	memset(u, 0, ulen);
	b[14 + 6] = 0x40; /* DF */
	nf_ip4_csum(b);
	put16(u, 40000);
	put16(u + 2, 9);
	put16(u + 4, (uint16_t)ulen);
	for (size_t i = 8; i < ulen; i++)
		u[i] = (uint8_t)(i * 13 + 5);
	ph = nf_sum16(0, b + 14 + 12, 8) + IPPROTO_UDP + (uint32_t)ulen;
	put16(u + 6, nf_fold(ph));
}

/* ---- guests -------------------------------------------------------------- */

static void *pages(size_t n, int fill)
{
	void *p = aligned_alloc(PG, n * PG);

	if (!p)
		die("out of memory");
	memset(p, fill, n * PG);
	return p;
}

/* Guest n (domain n, netfront.h's address plan): its netfront with a page
 * per ring slot in each direction and one event channel. */
static void guest_init(struct guest *g, uint8_t n)
{
	const struct nf_params p = {.nbuf = NSLOT};

	memset(g, 0, sizeof(*g));
	if (fake_domain_create(n) != 0)
		die("fake_domain_create failed");
	if (nf_init(&g->nf, n, &p) != 0)
		die("nf_init failed");
	if (RING_SIZE(&g->nf.tx) != NSLOT || RING_SIZE(&g->nf.rx) != NSLOT)
		die("unexpected ring size");
	/* Poisoned once, not on every post (that would add a page memset per
	 * packet to the netfront's time): every frame of a cell has the same
	 * length, so the bytes past it stay NF_RX_POISON. */
	memset(g->nf.rxbuf, NF_RX_POISON, (size_t)NSLOT * PG);
}

/* What the control path does: the vif, its address, then connect. */
static void guest_connect(struct guest *g)
{
	struct ipnb_addr a = {.family = AF_INET};
	struct dp_vif_cfg cfg = nf_vif_cfg(&g->nf);

	/* As Linux netfront: it takes GSO packets whole. */
	cfg.rx_gso_tcpv4 = cfg.rx_gso_tcpv6 = true;
	size_t conflict, nconflict = 0;
	char err[256] = "";

	g->vif = dp_vif_new(dp, (uint16_t)g->nf.domid, 0, g->nf.mac);
	if (!g->vif)
		die("dp_vif_new failed");
	memcpy(a.bytes, g->nf.ip4, 4);
	if (dp_vif_set_addrs(dp, g->vif, &a, 1, &conflict, &nconflict) < 0 || nconflict)
		die("dp_vif_set_addrs failed");
	if (dp_vif_connect(dp, g->vif, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_dp: connect: %s\n", err);
		exit(2);
	}
}

static void guest_free(struct guest *g)
{
	nf_free(&g->nf);
	memset(g, 0, sizeof(*g));
}

/* Notifications both ways: the guest's kicks and the backend's. */
static uint64_t guest_events(const struct guest *g)
{
	return g->nf.kicks + fake_evtchn_notify_count(g->nf.domid, g->nf.port_tx);
}

/* Drops the dp counted for this flow so far (sender side and receiver side). */
static uint64_t pair_drops(const struct pair *p)
{
	const struct dp_stats *s = dp_vif_stats(p->snd.vif), *r = dp_vif_stats(p->rcv.vif);
	uint64_t n = 0;

	for (int d = 0; d < DP_DROP_COUNT; d++)
		n += s->drops[d] + r->drops[d];
	return n;
}

/*
 * A GSO sender queues whole packets while the ring has room for one: slot
 * 0 (the whole length, csum_blank and extra_info), the GSO extra, then the
 * other data slots. The pages rotate through the ring, so each slot's
 * page gets its part of the frame (guest time, outside the dp's).
 */
static void gso_fill(struct pair *p)
{
	struct nf *nf = &p->snd.nf;

	while (nf_tx_space(nf) >= GSO_DATA + 1) {
		netif_extra_info_t ex = {.type = XEN_NETIF_EXTRA_TYPE_GSO};

		for (unsigned int k = 0; k < GSO_DATA; k++) {
			RING_IDX i = nf->tx.req_prod_pvt;
			size_t off = (size_t)k * PG, n = GSO_LEN - off < PG ? GSO_LEN - off : PG;
			uint16_t flags = k + 1 < GSO_DATA ? NETTXF_more_data : 0;

			memcpy(nf_tx_page(nf, i), gso_frame + off, n);
			if (k == 0)
				flags |= TX_FLAGS | NETTXF_extra_info;
			nf_put_tx(nf, nf_tx_gref(nf, i), 0, (uint16_t)(k ? n : GSO_LEN), flags);
			if (k == 0) {
				ex.u.gso.size = GSO_MSS;
				ex.u.gso.type = XEN_NETIF_GSO_TYPE_TCPV4;
				memcpy(RING_GET_REQUEST(&nf->tx, nf->tx.req_prod_pvt), &ex,
				       sizeof(ex));
				nf->tx.req_prod_pvt++;
				p->extras++;
			}
		}
		p->sent++;
	}
	if (nf_push_tx(nf) != 0)
		die("fake_evtchn_kick failed");
}

/*
 * The sender's netfront: takes its TX responses (re-arming rsp_event, so
 * the backend notifies once per batch), then queues a request for every
 * free slot. The frame already sits in each slot's page; only the sequence
 * number is written per packet. With fill false it only takes responses.
 */
static void sender_step(struct pair *p, bool fill)
{
	struct nf *nf = &p->snd.nf;
	unsigned int n, okay;

	n = nf_reap_tx(nf, &okay);
	p->tx_ok += okay;
	p->tx_err += n - okay;
	if (!fill)
		return;
	if (gso_mode) {
		gso_fill(p);
		return;
	}

	while (nf_tx_space(nf)) {
		RING_IDX i = nf->tx.req_prod_pvt;

		put32(nf_tx_page(nf, i) + SEQ_OFF, p->next_seq++);
		nf_put_tx(nf, nf_tx_gref(nf, i), 0, (uint16_t)p->len, TX_FLAGS);
		p->sent++;
	}
	if (nf_push_tx(nf) != 0)
		die("fake_evtchn_kick failed");
}

/* Is d (a delivered frame) exactly what the sender sent, L2 rewritten? */
static bool frame_ok(struct pair *p, const uint8_t *d, uint16_t flags)
{
	uint32_t seq = get32(d + SEQ_OFF);
	uint64_t k = p->delivered - 1;

	/* In order and nothing lost: packet k of the flow is sequence k, or
	 * later by at most the drops the dp has counted so far. */
	return flags == RX_FLAGS && memcmp(d, p->rcv.nf.mac, 6) == 0 &&
	       memcmp(d + 6, nf_be_mac, 6) == 0 &&
	       memcmp(d + 12, p->frame + 12, SEQ_OFF - 12) == 0 &&
	       memcmp(d + SEQ_OFF + 4, p->frame + SEQ_OFF + 4, p->len - SEQ_OFF - 4) == 0 &&
	       d[p->len] == NF_RX_POISON && seq >= (uint32_t)k &&
	       seq - (uint32_t)k <= pair_drops(p);
}

/*
 * The receiver's netfront: takes its RX responses (checking each one's slot
 * and length, and a sample byte for byte), then posts a buffer for every
 * free slot.
 */
/*
 * A GSO receiver takes whole packets: the first data slot (with
 * extra_info), the GSO extra, the rest; it checks the lengths add up, the
 * extra, and in one packet of 64 the first slot's bytes.
 */
static void gso_receive(struct pair *p)
{
	struct nf *nf = &p->rcv.nf;
	netif_rx_response_t r;
	const uint8_t *d;
	RING_IDX i;

	while (nf_rx_pending(nf) >= GSO_DATA + 1) {
		size_t got = 0;
		bool ok = true;

		for (unsigned int k = 0; k <= GSO_DATA && nf_take_rx(nf, &r, &d, &i); k++) {
			if (k == 1) {
				netif_extra_info_t ex;

				memcpy(&ex, &r, sizeof(ex));
				ok = ok && ex.type == XEN_NETIF_EXTRA_TYPE_GSO &&
				     ex.u.gso.size == GSO_MSS;
				continue;
			}
			ok = ok && r.id == nf_rx_id(i) && r.status > 0;
			if (k == 0)
				ok = ok &&
				     r.flags == (RX_FLAGS | NETRXF_extra_info | NETRXF_more_data) &&
				     ((p->delivered & SAMPLE_MASK) ||
				      memcmp(d + 12, gso_frame + 12, PG - 12) == 0);
			got += r.status > 0 ? (size_t)r.status : 0;
		}
		if (ok && got == GSO_LEN)
			p->delivered++;
		else
			p->bad++;
	}
	if (nf_post_rx(nf, nf_rx_space(nf)) != 0)
		die("fake_evtchn_kick failed");
}

static void receiver_step(struct pair *p)
{
	struct nf *nf = &p->rcv.nf;
	netif_rx_response_t r;
	const uint8_t *d;
	RING_IDX i;

	if (gso_mode) {
		gso_receive(p);
		return;
	}
	while (nf_take_rx(nf, &r, &d, &i)) {
		if (r.id != nf_rx_id(i) || r.status != (int16_t)p->len || r.offset != 0 ||
		    (r.flags & NETRXF_more_data)) {
			p->bad++;
			continue;
		}
		p->delivered++;
		if ((p->delivered & SAMPLE_MASK) == 0 && !frame_ok(p, d, r.flags))
			p->bad++;
	}
	if (nf_post_rx(nf, nf_rx_space(nf)) != 0)
		die("fake_evtchn_kick failed");
}

/* ---- one cell ------------------------------------------------------------ */

struct totals {
	uint64_t delivered, events, copy_calls, copy_segs, allocs;
};

static void totals(struct totals *t)
{
	memset(t, 0, sizeof(*t));
	for (unsigned int i = 0; i < npairs; i++) {
		t->delivered += pairs[i].delivered;
		t->events += guest_events(&pairs[i].snd) + guest_events(&pairs[i].rcv);
	}
	t->copy_calls = fake_gnt_copy_calls();
	t->copy_segs = fake_gnt_copy_segs();
	t->allocs = nallocs;
}

/* One pass of the combined loop: the guests act, then the daemon. Returns
 * dp_run()'s answer; *dp_ns accumulates the time spent in the daemon. */
static int step(bool fill, uint64_t *dp_ns)
{
	uint64_t t0, t1;
	int r;

	for (unsigned int i = 0; i < npairs; i++) {
		receiver_step(&pairs[i]);
		sender_step(&pairs[i], fill);
	}
	for (unsigned int k = 0; storming && k < STORM_KICKS; k++)
		if (nf_kick(&stormer.nf, stormer.nf.port_tx) != 0)
			die("fake_evtchn_kick failed");
	t0 = now_ns();
	dp_handle_events(dp);
	r = dp_run(dp);
	t1 = now_ns();
	*dp_ns += t1 - t0;
	return r;
}

struct result {
	double secs, dp_secs;
	uint64_t pkts, events, copy_calls, copy_segs, drops, bad, allocs;
	uint64_t storm_kicks, storm_wakeups; /* the stormer's kicks, and those the daemon saw */
};

static void run_cell(unsigned int np, size_t len, uint64_t npkts, double tmax, struct result *res)
{
	struct totals a, b;
	uint64_t warm = npkts / 20 < 1024 ? 1024 : npkts / 20;
	uint64_t start, now, dp_ns = 0, limit_ns = (uint64_t)(tmax * 1e9);

	fake_reset();
	ndisabled = 0;
	dp = dp_new(nf_be_mac, on_disable, NULL);
	if (!dp)
		die("dp_new failed");
	npairs = np;
	for (unsigned int i = 0; i < np; i++) {
		struct pair *p = &pairs[i];

		memset(p, 0, sizeof(*p));
		guest_init(&p->snd, (uint8_t)(2 * i + 1));
		guest_init(&p->rcv, (uint8_t)(2 * i + 2));
		p->len = len;
		if (gso_mode) {
			static uint8_t payload[GSO_LEN];
			const struct nf_tcp t = {.sport = 40000,
						 .dport = 5001,
						 .seq = 1,
						 .flags = 0x18,
						 .payload = payload,
						 .plen = GSO_LEN - 14 - 20 - NF_TCP_HLEN,
						 .partial = true};

			for (size_t k = 0; k < t.plen; k++)
				payload[k] = (uint8_t)(k * 13 + 5);
			nf_put_tcp(gso_frame, false, nf_be_mac, p->snd.nf.mac, p->snd.nf.ip4,
				   p->rcv.nf.ip4, &t);
		} else {
			build_frame(p->frame, len, &p->snd, &p->rcv);
			for (unsigned int s = 0; s < NSLOT; s++)
				memcpy(nf_tx_page(&p->snd.nf, s), p->frame, len);
		}
		guest_connect(&p->snd);
		guest_connect(&p->rcv);
	}
	if (storming) {
		guest_init(&stormer, STORM_DOMID);
		guest_connect(&stormer);
	}

	/* Warm up (caches, allocator), then measure. */
	start = now_ns();
	do {
		step(true, &dp_ns);
		totals(&a);
	} while (a.delivered < warm && now_ns() - start < limit_ns);
	dp_ns = 0;
	start = now_ns();
	do {
		step(true, &dp_ns);
		totals(&b);
		now = now_ns();
	} while (b.delivered - a.delivered < npkts && now - start < limit_ns);

	res->secs = (double)(now - start) / 1e9;
	res->dp_secs = (double)dp_ns / 1e9;
	res->pkts = b.delivered - a.delivered;
	res->events = b.events - a.events;
	res->copy_calls = b.copy_calls - a.copy_calls;
	res->copy_segs = b.copy_segs - a.copy_segs;
	res->allocs = b.allocs - a.allocs;
	res->storm_kicks = storming ? stormer.nf.kicks : 0;
	res->storm_wakeups = storming ? dp_vif_stats(stormer.vif)->spurious_events : 0;

	/* Drain: stop sending and let everything in flight arrive. Then every
	 * packet sent must be delivered or counted as dropped. */
	for (int i = 0; i < 1000; i++) {
		bool idle = step(false, &dp_ns) == -1;

		for (unsigned int k = 0; k < np; k++)
			idle = idle && nf_rx_pending(&pairs[k].rcv.nf) == 0;
		if (idle)
			break;
	}
	res->drops = 0;
	res->bad = ndisabled;
	for (unsigned int i = 0; i < np; i++) {
		struct pair *p = &pairs[i];
		uint64_t drops = pair_drops(p);

		sender_step(p, false);
		receiver_step(p);
		res->drops += drops;
		/* the GSO extras' NETIF_RSP_NULL answers are no errors */
		res->bad += p->bad + p->tx_err - p->extras;
		if (p->tx_ok + p->tx_err != p->sent * (gso_mode ? GSO_DATA + 1 : 1) ||
		    p->delivered + drops + dp_vif_queued(p->rcv.vif) != p->sent ||
		    dp_vif_stats(p->rcv.vif)->rx_pkts != p->delivered) {
			fprintf(stderr,
				"bench_dp: pair %u: sent %" PRIu64 ", delivered %" PRIu64
				", dropped %" PRIu64 ", queued %zu, TX responses %" PRIu64 "\n",
				i, p->sent, p->delivered, drops, dp_vif_queued(p->rcv.vif),
				p->tx_ok + p->tx_err);
			res->bad++;
		}
	}

	if (res->pkts == 0) {
		fprintf(stderr, "bench_dp: nothing was delivered\n");
		res->bad++;
	}

	dp_free(dp);
	dp = NULL;
	fake_reset();
	for (unsigned int i = 0; i < np; i++) {
		guest_free(&pairs[i].snd);
		guest_free(&pairs[i].rcv);
	}
	if (storming)
		guest_free(&stormer);
}

/* ---- memcpy reference ---------------------------------------------------- */

#define STRIDE_BYTES (64u << 20) /* per side: well beyond the last-level cache */

/* Keeps the compiler from dropping or merging the copies. */
static void clobber(void *dst)
{
	__asm__ __volatile__("" : : "r"(dst) : "memory");
}

/* ns per memcpy of len bytes: the same two buffers over and over (hot), and
 * a new 4 KiB page on each side every time, as ring slots are (strided). */
static void memcpy_ref(size_t len, double *hot_ns, double *strided_ns)
{
	static uint8_t hsrc[PG] __attribute__((aligned(64)));
	static uint8_t hdst[PG] __attribute__((aligned(64)));
	static uint8_t *src, *dst;
	volatile size_t vlen = len; /* a run-time length, as in the grant copy */
	size_t n = vlen, npages = STRIDE_BYTES / PG;
	const unsigned int hot_iters = 2000000, strided_iters = 262144;
	uint64_t t0;

	if (!src) {
		src = pages(npages, 0x5a);
		dst = pages(npages, 0);
	}
	memset(hsrc, 0x5a, sizeof(hsrc));
	for (unsigned int i = 0; i < 1000; i++) {
		memcpy(hdst, hsrc, n);
		clobber(hdst);
	}
	t0 = now_ns();
	for (unsigned int i = 0; i < hot_iters; i++) {
		memcpy(hdst, hsrc, n);
		clobber(hdst);
	}
	*hot_ns = (double)(now_ns() - t0) / hot_iters;

	t0 = now_ns();
	for (unsigned int i = 0; i < strided_iters; i++) {
		size_t off = (size_t)(i % npages) * PG;

		memcpy(dst + off, src + off, n);
		clobber(dst + off);
	}
	*strided_ns = (double)(now_ns() - t0) / strided_iters;
}

/* ---- main ---------------------------------------------------------------- */

static void print_row(const char *name, size_t len, const struct result *r)
{
	double pkts = r->pkts ? (double)r->pkts : 1.0;

	printf("%-8s %6zu %9" PRIu64 " %7.3f %7.2f %7.1f %9.1f %10.4f %9.3f %8.4f %7.3f "
	       "%6" PRIu64 " %4" PRIu64 "\n",
	       name, len, r->pkts, (double)r->pkts / r->secs / 1e6,
	       (double)r->pkts * (double)len * 8 / r->secs / 1e9, r->secs * 1e9 / pkts,
	       r->dp_secs * 1e9 / pkts, (double)r->copy_calls / pkts, (double)r->copy_segs / pkts,
	       (double)r->events / pkts, (double)r->allocs / pkts, r->drops, r->bad);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	uint64_t npkts = 1000000;
	double tmax = 2.0;
	uint64_t bad = 0, drops = 0;
	int c;

	while ((c = getopt(argc, argv, "n:t:")) != -1) {
		switch (c) {
		case 'n':
			npkts = strtoull(optarg, NULL, 10);
			break;
		case 't':
			tmax = strtod(optarg, NULL);
			break;
		default:
			fprintf(stderr, "usage: %s [-n PACKETS] [-t SECONDS]\n", argv[0]);
			return 2;
		}
	}
	if (npkts == 0 || !(tmax > 0))
		die("-n and -t must be positive");

	printf(
	    "ipnetback data-path benchmark: guest -> guest through dp.c, against the fake Xen\n"
	    "libraries, one thread (the netfronts and the daemon take turns on one core).\n"
	    "The fake's grant copy is a memcpy; real Xen's grant copy is a hypercall per batch.\n"
	    "These figures bound the daemon's own overhead; they are not real-Xen throughput.\n"
	    "Traffic: N sender -> receiver pairs, IPv4/UDP, one slot per frame, csum_blank;\n"
	    "each cell runs %" PRIu64 " packets or %.1f s, whichever comes first.\n\n",
	    npkts, tmax);
	printf("%-8s %6s %9s %7s %7s %7s %9s %10s %9s %8s %7s %6s %4s\n", "case", "frame",
	       "packets", "Mpps", "Gbit/s", "ns/pkt", "dp ns/pkt", "copies/pkt", "segs/pkt",
	       "evts/pkt", "allocs", "drops", "bad");
	for (size_t pi = 0; pi < sizeof(pair_counts) / sizeof(pair_counts[0]); pi++) {
		for (size_t fi = 0; fi < sizeof(frame_sizes) / sizeof(frame_sizes[0]); fi++) {
			struct result r;
			char name[16];

			run_cell(pair_counts[pi], frame_sizes[fi], npkts, tmax, &r);
			snprintf(name, sizeof(name), "%u pair%s", pair_counts[pi],
				 pair_counts[pi] > 1 ? "s" : "");
			print_row(name, frame_sizes[fi], &r);
			bad += r.bad;
			drops += r.drops;
		}
	}
	{
		struct result r;

		gso_mode = true;
		run_cell(1, GSO_LEN, npkts / 16 ? npkts / 16 : 1, tmax, &r);
		gso_mode = false;
		print_row("GSO", GSO_LEN, &r);
		printf("  (GSO: 1 pair, %u-byte TCP packets with a GSO request, MSS %u, %u data\n"
		       "  slots and the extra each, delivered whole to a receiver that takes GSO;\n"
		       "  dp Gbit/s %.1f: frame bytes per second of time in the data path)\n",
		       GSO_LEN, GSO_MSS, GSO_DATA,
		       r.dp_secs > 0 ? (double)r.pkts * GSO_LEN * 8 / r.dp_secs / 1e9 : 0.0);
		bad += r.bad;
		drops += r.drops;
	}
	printf(
	    "\nns/pkt: wall time per delivered packet, netfronts included; dp ns/pkt: time in\n"
	    "dp_handle_events() + dp_run() only. Gbit/s counts frame bytes (no FCS, preamble or\n"
	    "gap). copies/pkt: xengnttab_grant_copy() calls; segs/pkt: segments (one in, one\n"
	    "out). evts/pkt: guest kicks plus backend notifications. allocs: malloc() calls\n"
	    "per packet (the data path's packet buffers). bad: failed checks.\n\n");

	/* The same pair, quiet and then beside a guest kicking its empty ring
	 * as fast as the loop lets it. */
	printf("event storm (threat 19): 1 pair of 1514-byte frames, alone and with a third\n"
	       "guest kicking its empty ring %d times per loop pass\n",
	       STORM_KICKS);
	printf("%-8s %7s %9s %10s %9s %11s %13s\n", "case", "Mpps", "of quiet", "dp Mpps",
	       "of quiet", "kicks", "events seen");
	{
		struct result r[2];

		for (int i = 0; i < 2; i++) {
			storming = i == 1;
			run_cell(1, 1514, npkts, tmax, &r[i]);
			bad += r[i].bad;
			drops += r[i].drops;
		}
		storming = false;
		for (int i = 0; i < 2; i++) {
			double mpps = (double)r[i].pkts / r[i].secs / 1e6;
			double dmpps = (double)r[i].pkts / r[i].dp_secs / 1e6;
			double q = (double)r[0].pkts / r[0].secs / 1e6;
			double dq = (double)r[0].pkts / r[0].dp_secs / 1e6;

			printf("%-8s %7.3f %8.0f%% %10.3f %8.0f%% %11" PRIu64 " %13" PRIu64 "\n",
			       i ? "storm" : "quiet", mpps, q > 0 ? 100 * mpps / q : 0, dmpps,
			       dq > 0 ? 100 * dmpps / dq : 0, r[i].storm_kicks, r[i].storm_wakeups);
		}
	}
	printf("(Mpps: per wall second, the stormer's own kicking included, as the guests share\n"
	       "this one thread; dp Mpps: per second spent in the daemon. kicks: the stormer's\n"
	       "notifications over the whole cell; events seen: those that reached the daemon,\n"
	       "each counted as spurious. Its port stays masked until the work is done and,\n"
	       "after kicks that brought nothing, for up to %d ms.)\n\n",
	       DP_EOI_DELAY_MAX_MS);

	printf(
	    "memcpy reference on this machine (one copy; the data path makes two per packet):\n");
	printf("%6s %8s %9s %11s %12s\n", "frame", "hot ns", "hot GB/s", "strided ns",
	       "strided GB/s");
	for (size_t fi = 0; fi < sizeof(frame_sizes) / sizeof(frame_sizes[0]); fi++) {
		double hot, strided;

		memcpy_ref(frame_sizes[fi], &hot, &strided);
		printf("%6zu %8.1f %9.2f %11.1f %12.2f\n", frame_sizes[fi], hot,
		       (double)frame_sizes[fi] / hot, strided, (double)frame_sizes[fi] / strided);
	}
	printf("(hot: the same 4 KiB buffers each time; strided: a new page on each side each\n"
	       "time, over 64 MiB. Brief, section 5, strided: 64 B ~19 ns, 1514 B ~216 ns.)\n");

	if (drops)
		printf("\nNote: the data path dropped %" PRIu64
		       " packet(s) (drops column); the rates\n"
		       "count delivered packets only.\n",
		       drops);
	if (bad) {
		printf("\nFAILED: %" PRIu64 " check(s) failed; the figures above are not valid.\n",
		       bad);
		return 1;
	}
	return 0;
}
