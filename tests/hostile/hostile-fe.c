/* SPDX-License-Identifier: MIT */
/*
 * hostile-fe.c - a hostile netfront in userspace, for the tier-3 tests
 * (docs/testing.md, "Hostile guests"; scenario tests/xenvm/scenarios/hostile.sh).
 *
 *   hostile-fe [-d DEVID] CASE [SECONDS]
 *   hostile-fe [-d DEVID] churn WRITES
 *   hostile-fe [-d DEVID] flap ROUNDS
 *
 * It runs inside a PV domU whose kernel does not load xen-netfront, so the
 * frontend side of device/vif/DEVID is free for it to own. It plays the
 * frontend half of the netif protocol with the guest's own libraries: ring
 * pages shared with libxengnttab's gntshr interface (/dev/xen/gntalloc), one
 * unbound event channel from libxenevtchn (/dev/xen/evtchn), and the xenbus
 * handshake through libxenstore (/dev/xen/xenbus). Once the backend is
 * Connected it breaks the protocol in the way CASE names.
 *
 * It owns the frontend directory device/vif/DEVID and nothing else. It checks
 * nothing about the backend beyond what it needs to go on (the backend's
 * state): the scenario makes the checks from dom0. It prints one short line
 * per step saying what it did and what state the backend went to, and exits
 * 0 once it has done its damage, 1 if it could not set up (no vif, the
 * backend never reached InitWait or Connected), 2 on a usage error.
 *
 * Cases whose damage disables the vif run their steps one after the other,
 * restarting the frontend in between (Closed, then Initialising, then new
 * rings), the way a real netfront recovers after its backend closed.
 *
 * `churn` is the odd one out: it runs beside the kernel's netfront, which
 * keeps the vif, and only rewrites two of its frontend keys WRITES times,
 * one xenstore write (so one watch event in the backend) each, outside any
 * transaction. xenstore-write from a shell cannot do that: it puts all its
 * arguments in one transaction, which the backend sees as one event per
 * key.
 *
 * `flap` is not hostile either: ROUNDS clean restarts of the frontend, for
 * counting memory per connect. Like every case it takes over a vif that an
 * earlier run left connected or failed (Closed, then Initialising).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Before any Xen header (the library headers include some): the interface
 * version and the ring barriers, the same as the daemon's. */
#include "ipnb/xenring.h"

#include <xenevtchn.h>
#include <xengnttab.h>
#include <xenstore.h>

#include <xen/io/xenbus.h>

#define NDATA	  4 /* shared data pages: frames to send, RX buffers */
#define FRAME_LEN 60
#define SELF_TAG  "ipnb-hostile" /* build_self_frame()'s payload */

/* Fields in the order that packs them (clang-analyzer's padding check). */
struct fe {
	struct xs_handle *xs;
	xengntshr_handle *gs;
	xenevtchn_handle *xce;
	char *be; /* the backend directory, as the toolstack wrote it */

	/* The rings and channel of the current connection. */
	void *txpage, *rxpage;
	netif_tx_front_ring_t tx;
	netif_rx_front_ring_t rx;

	/* Data pages, shared once for the whole run. */
	uint8_t *data[NDATA];

	unsigned int devid;
	unsigned int be_domid;
	struct in_addr ip4;
	uint32_t txref, rxref;
	evtchn_port_t port;
	uint32_t ro_ref; /* a page granted read-only: bad as an RX buffer */
	uint32_t dref[NDATA];
	bool have_ip4;
	uint8_t mac[6]; /* the vif's MAC: the backend drops other sources */
	char dir[64];	/* device/vif/N, relative to our xenstore home */
};

static const char *cname = "?";

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	printf("hostile-fe: %s: ", cname);
	va_start(ap, fmt);
	/* A clang-tidy 14 false positive in multi-file runs (netback/log.c). */
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized) */
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- xenstore ------------------------------------------------------------- */

static char *xs_get(struct fe *fe, const char *dir, const char *key)
{
	char path[256];
	unsigned int len;

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	return xs_read(fe->xs, XBT_NULL, path, &len);
}

/* Writes may be refused (the value is whatever the case wants to lie
 * about, not necessarily something xenstored likes): report, go on. */
static bool fe_put(struct fe *fe, const char *key, const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", fe->dir, key);
	return xs_write(fe->xs, XBT_NULL, path, val, strlen(val));
}

static bool fe_putu(struct fe *fe, const char *key, unsigned long v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%lu", v);
	return fe_put(fe, key, buf);
}

static int be_state(struct fe *fe)
{
	char *s = xs_get(fe, fe->be, "state");
	int st = s ? atoi(s) : -1;

	free(s);
	return st;
}

/* Polls the backend's state until it is `want` (or, with `not`, anything
 * but `want`). Returns the last state seen. Polling rather than a watch:
 * the waits are short, and a watch would also fire for every key we write
 * ourselves in the keys case. */
static int wait_be(struct fe *fe, int want, bool not, unsigned int ms)
{
	uint64_t end = now_ms() + ms;

	for (;;) {
		int st = be_state(fe);

		if ((st == want) != not || now_ms() >= end)
			return st;
		sleep_ms(10);
	}
}

/* ---- connection ------------------------------------------------------------ */

static void kick(struct fe *fe)
{
	/* Fails once the backend has dropped its end: that is expected after
	 * a disable, and nothing to act on here. */
	if (fe->port)
		xenevtchn_notify(fe->xce, fe->port);
}

static void fe_release(struct fe *fe)
{
	if (fe->txpage)
		xengntshr_unshare(fe->gs, fe->txpage, 1);
	if (fe->rxpage)
		xengntshr_unshare(fe->gs, fe->rxpage, 1);
	if (fe->port)
		xenevtchn_unbind(fe->xce, fe->port);
	fe->txpage = fe->rxpage = NULL;
	fe->port = 0;
}

/* New rings and a new channel, the keys a netfront writes, then Connected.
 * tx_lie, if not 0, is written into the TX ring's req_prod before the
 * backend first maps it (the attach-time check). */
static int fe_connect(struct fe *fe, RING_IDX tx_lie)
{
	netif_tx_sring_t *txs;
	netif_rx_sring_t *rxs;
	xenevtchn_port_or_error_t p;
	int st;

	fe->txpage = xengntshr_share_pages(fe->gs, fe->be_domid, 1, &fe->txref, 1);
	fe->rxpage = xengntshr_share_pages(fe->gs, fe->be_domid, 1, &fe->rxref, 1);
	if (!fe->txpage || !fe->rxpage) {
		say("sharing the ring pages: %s", strerror(errno));
		return -1;
	}
	txs = fe->txpage;
	rxs = fe->rxpage;
	SHARED_RING_INIT(txs);
	SHARED_RING_INIT(rxs);
	FRONT_RING_INIT(&fe->tx, txs, XEN_PAGE_SIZE_BYTES);
	FRONT_RING_INIT(&fe->rx, rxs, XEN_PAGE_SIZE_BYTES);
	if (tx_lie)
		txs->req_prod = tx_lie;
	p = xenevtchn_bind_unbound_port(fe->xce, fe->be_domid);
	if (p < 0) {
		say("allocating an event channel: %s", strerror(errno));
		return -1;
	}
	fe->port = (evtchn_port_t)p;

	fe_putu(fe, "tx-ring-ref", fe->txref);
	fe_putu(fe, "rx-ring-ref", fe->rxref);
	fe_putu(fe, "event-channel", fe->port);
	fe_put(fe, "request-rx-copy", "1");
	fe_put(fe, "feature-rx-notify", "1");
	fe_put(fe, "feature-sg", "1");
	fe_putu(fe, "state", XenbusStateConnected);
	if (tx_lie) {
		/* The backend must refuse: only wait for it to leave InitWait. */
		wait_be(fe, XenbusStateInitWait, true, 5000);
		return 0;
	}
	st = wait_be(fe, XenbusStateConnected, false, 10000);
	if (st != XenbusStateConnected) {
		char *err = xs_get(fe, fe->be, "hotplug-error");

		say("backend did not connect (state %d, hotplug-error \"%s\")", st, err ? err : "");
		free(err);
		return -1;
	}
	return 0;
}

/* What a netfront does after its backend closed: Closed, then
 * Initialising, and a new connection once the backend is back in
 * InitWait. */
static int fe_restart(struct fe *fe, RING_IDX tx_lie)
{
	int st;

	fe_putu(fe, "state", XenbusStateClosed);
	wait_be(fe, XenbusStateClosed, false, 5000);
	/* Only now may the pages go: the backend has unmapped them. */
	fe_release(fe);
	fe_putu(fe, "state", XenbusStateInitialising);
	st = wait_be(fe, XenbusStateInitWait, false, 5000);
	if (st != XenbusStateInitWait) {
		say("restart: backend did not return to InitWait (state %d)", st);
		return -1;
	}
	return fe_connect(fe, tx_lie);
}

/* Only the frontend directory and xenstore: all that churn needs. */
static int fe_open_xs(struct fe *fe, unsigned int devid)
{
	memset(fe, 0, sizeof(*fe));
	fe->devid = devid;
	snprintf(fe->dir, sizeof(fe->dir), "device/vif/%u", devid);
	fe->xs = xs_open(0);
	if (!fe->xs) {
		say("opening xenstore: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int fe_open(struct fe *fe, unsigned int devid)
{
	char *s, *tok, *save;
	unsigned int m[6];
	int st, fst;

	if (fe_open_xs(fe, devid))
		return -1;
	fe->gs = xengntshr_open(NULL, 0);
	fe->xce = xenevtchn_open(NULL, 0);
	if (!fe->gs || !fe->xce) {
		say("opening %s: %s", !fe->gs ? "gntshr" : "evtchn", strerror(errno));
		return -1;
	}
	fe->be = xs_get(fe, fe->dir, "backend");
	s = xs_get(fe, fe->dir, "backend-id");
	if (!fe->be || !s) {
		say("%s has no backend", fe->dir);
		free(s);
		return -1;
	}
	fe->be_domid = (unsigned int)strtoul(s, NULL, 10);
	free(s);

	s = xs_get(fe, fe->dir, "mac");
	if (!s || sscanf(s, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6) {
		say("%s/mac missing or invalid", fe->dir);
		free(s);
		return -1;
	}
	for (int i = 0; i < 6; i++)
		fe->mac[i] = (uint8_t)m[i];
	free(s);
	/* The addresses dom0 registered for us: the first IPv4 one is the
	 * source (and destination) of the frames we send ourselves. */
	s = xs_get(fe, fe->be, "ip");
	for (tok = s ? strtok_r(s, " ", &save) : NULL; tok; tok = strtok_r(NULL, " ", &save)) {
		if (inet_pton(AF_INET, tok, &fe->ip4) == 1) {
			fe->have_ip4 = true;
			break;
		}
	}
	free(s);

	for (int i = 0; i < NDATA; i++) {
		fe->data[i] = xengntshr_share_pages(fe->gs, fe->be_domid, 1, &fe->dref[i], 1);
		if (!fe->data[i]) {
			say("sharing data pages: %s", strerror(errno));
			return -1;
		}
		memset(fe->data[i], 0, XEN_PAGE_SIZE_BYTES);
	}
	if (!xengntshr_share_pages(fe->gs, fe->be_domid, 1, &fe->ro_ref, 0)) {
		say("sharing a read-only page: %s", strerror(errno));
		return -1;
	}

	/* A vif an earlier run left connected or failed: start the frontend
	 * over, as a netfront loaded again does. A new vif (frontend state
	 * Initialising, backend Initialising or InitWait) needs nothing; a
	 * backend that refused our last connect waits for the frontend to
	 * leave Connected first. */
	s = xs_get(fe, fe->dir, "state");
	fst = s ? atoi(s) : XenbusStateUnknown;
	free(s);
	st = be_state(fe);
	if (fst > XenbusStateInitialising ||
	    (st != XenbusStateInitialising && st != XenbusStateInitWait)) {
		say("frontend in state %d, backend in %d: restarting the frontend", fst, st);
		fe_putu(fe, "state", XenbusStateClosed);
		wait_be(fe, XenbusStateClosed, false, 5000);
		fe_putu(fe, "state", XenbusStateInitialising);
	}
	st = wait_be(fe, XenbusStateInitWait, false, 10000);
	if (st != XenbusStateInitWait) {
		say("backend %s not in InitWait (state %d)", fe->be, st);
		return -1;
	}
	return 0;
}

/* A grant reference made and revoked again. Made just before use: the
 * kernel hands a freed reference out again on the next share, and a
 * "revoked" ref that has become our own TX ring page is a valid grant (the
 * backend would copy a frame into our ring, as it must). */
static uint32_t stale_ref(struct fe *fe)
{
	uint32_t ref = 0;
	void *p = xengntshr_share_pages(fe->gs, fe->be_domid, 1, &ref, 1);

	if (p)
		xengntshr_unshare(fe->gs, p, 1);
	return ref;
}

/* ---- frames ---------------------------------------------------------------- */

static uint16_t ip_csum(const uint8_t *p, size_t n)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The Ethernet, IPv4 and UDP headers of a frame of len bytes from our MAC
 * and address to the backend and dst, UDP to the discard port with no
 * checksum; f is zeroed already. */
static void put_udp4(struct fe *fe, uint8_t *f, struct in_addr dst, size_t len)
{
	static const uint8_t be_mac[6] = {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff};
	uint8_t *ip = f + 14, *udp = ip + 20;
	size_t ip_len = len - 14, udp_len = ip_len - 20;
	uint16_t c;

	memcpy(f, be_mac, 6);
	memcpy(f + 6, fe->mac, 6);
	f[12] = 0x08;
	ip[0] = 0x45;
	ip[2] = (uint8_t)(ip_len >> 8);
	ip[3] = (uint8_t)ip_len;
	ip[8] = 64;
	ip[9] = 17; /* UDP */
	memcpy(ip + 12, &fe->ip4, 4);
	memcpy(ip + 16, &dst, 4);
	c = ip_csum(ip, 20);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	udp[1] = 9; /* discard */
	udp[3] = 9;
	udp[4] = (uint8_t)(udp_len >> 8);
	udp[5] = (uint8_t)udp_len;
}

/* A well-formed IPv4/UDP frame from our own address to our own address, at
 * offset 0 of data page `pg`. Sending it is the one sure way to make the
 * backend deliver to us (its RX path runs only with a packet queued). */
static void build_self_frame(struct fe *fe, int pg)
{
	uint8_t *f = fe->data[pg];

	memset(f, 0, FRAME_LEN);
	put_udp4(fe, f, fe->ip4, FRAME_LEN);
	/* The payload: a tag to spot in captures, without its NUL. */
	memcpy(f + 14 + 20 + 8, SELF_TAG, sizeof(SELF_TAG) - 1);
}

/* ---- ring helpers ------------------------------------------------------------ */

static void tx_put(struct fe *fe, uint32_t gref, uint16_t off, uint16_t flags, uint16_t id,
		   uint16_t size)
{
	netif_tx_request_t *r = RING_GET_REQUEST(&fe->tx, fe->tx.req_prod_pvt);

	r->gref = gref;
	r->offset = off;
	r->flags = flags;
	r->id = id;
	r->size = size;
	fe->tx.req_prod_pvt++;
}

/* Extras share the request slots: the 8-byte extra goes over a request. */
static void tx_put_extra(struct fe *fe, uint8_t type, uint8_t flags, uint16_t gso_size,
			 uint8_t gso_type)
{
	netif_tx_request_t *r = RING_GET_REQUEST(&fe->tx, fe->tx.req_prod_pvt);
	netif_extra_info_t ex;

	memset(&ex, 0, sizeof(ex));
	ex.type = type;
	ex.flags = flags;
	ex.u.gso.size = gso_size;
	ex.u.gso.type = gso_type;
	memset(r, 0, sizeof(*r));
	memcpy(r, &ex, sizeof(ex));
	fe->tx.req_prod_pvt++;
}

static void tx_push(struct fe *fe)
{
	xen_wmb(); /* requests before the index that publishes them */
	fe->tx.sring->req_prod = fe->tx.req_prod_pvt;
	xen_mb();
	kick(fe);
}

static void rx_put(struct fe *fe, uint32_t gref, uint16_t id)
{
	netif_rx_request_t *r = RING_GET_REQUEST(&fe->rx, fe->rx.req_prod_pvt);

	r->gref = gref;
	r->id = id;
	fe->rx.req_prod_pvt++;
}

static void rx_push(struct fe *fe)
{
	xen_wmb();
	fe->rx.sring->req_prod = fe->rx.req_prod_pvt;
	xen_mb();
	kick(fe);
}

struct tally {
	unsigned int n, ok, err, null, other;
};

/* Waits for `want` TX responses (or for the backend to leave Connected),
 * and counts what came back. */
static struct tally tx_wait(struct fe *fe, unsigned int want, unsigned int ms)
{
	struct tally t = {0};
	uint64_t end = now_ms() + ms;

	for (;;) {
		RING_IDX prod = fe->tx.sring->rsp_prod;

		xen_rmb();
		/* The index is the backend's, but the page is ours too: never
		 * walk more responses than the ring holds. */
		if (prod - fe->tx.rsp_cons > RING_SIZE(&fe->tx)) {
			say("TX rsp_prod %u is impossible (rsp_cons %u)", prod, fe->tx.rsp_cons);
			return t;
		}
		while (fe->tx.rsp_cons != prod) {
			netif_tx_response_t *r = RING_GET_RESPONSE(&fe->tx, fe->tx.rsp_cons);

			t.n++;
			if (r->status == NETIF_RSP_OKAY)
				t.ok++;
			else if (r->status == NETIF_RSP_ERROR)
				t.err++;
			else if (r->status == NETIF_RSP_NULL)
				t.null++;
			else
				t.other++;
			fe->tx.rsp_cons++;
		}
		if (t.n >= want || now_ms() >= end || be_state(fe) != XenbusStateConnected)
			return t;
		sleep_ms(10);
	}
}

/* The same for RX; `idmask` collects the ids echoed (ids < 32). */
static struct tally rx_wait(struct fe *fe, unsigned int want, unsigned int ms, uint32_t *idmask)
{
	struct tally t = {0};
	uint64_t end = now_ms() + ms;

	for (;;) {
		RING_IDX prod = fe->rx.sring->rsp_prod;

		xen_rmb();
		if (prod - fe->rx.rsp_cons > RING_SIZE(&fe->rx)) {
			say("RX rsp_prod %u is impossible (rsp_cons %u)", prod, fe->rx.rsp_cons);
			return t;
		}
		while (fe->rx.rsp_cons != prod) {
			netif_rx_response_t *r = RING_GET_RESPONSE(&fe->rx, fe->rx.rsp_cons);

			t.n++;
			if (r->status < 0)
				t.err++;
			else
				t.ok++;
			if (r->id < 32)
				*idmask |= 1u << r->id;
			fe->rx.rsp_cons++;
		}
		if (t.n >= want || now_ms() >= end || be_state(fe) != XenbusStateConnected)
			return t;
		sleep_ms(10);
	}
}

/* After damage the backend must answer by disabling: wait for it to leave
 * Connected, and report where it went. */
static int after_fatal(struct fe *fe, const char *step)
{
	int st = wait_be(fe, XenbusStateConnected, true, 5000);

	say("%s: backend state %d%s", step, st,
	    st == XenbusStateConnected ? " (still Connected)" : "");
	return st;
}

/* A restart is needed only when the previous step got the vif closed. */
static int ensure_connected(struct fe *fe)
{
	if (be_state(fe) == XenbusStateConnected)
		return 0;
	return fe_restart(fe, 0);
}

/* ---- the cases ------------------------------------------------------------- */

/* (a) Indexes that no honest frontend can produce. */
static int case_prod_jump(struct fe *fe)
{
	RING_IDX rsp = fe->tx.sring->rsp_prod;

	/* One real request, then an index 4 rings ahead of it. */
	build_self_frame(fe, 0);
	tx_put(fe, fe->dref[0], 0, 0, 1, FRAME_LEN);
	fe->tx.sring->req_prod = rsp + 4 * RING_SIZE(&fe->tx) + 17;
	xen_mb();
	kick(fe);
	say("TX req_prod %u with rsp_prod %u (ring of %u)", fe->tx.sring->req_prod, rsp,
	    RING_SIZE(&fe->tx));
	after_fatal(fe, "req_prod far ahead");

	/* One behind the responses: unsigned, that is 2^32 - 1 ahead. */
	if (ensure_connected(fe))
		return -1;
	rsp = fe->tx.sring->rsp_prod;
	fe->tx.sring->req_prod = rsp - 1;
	xen_mb();
	kick(fe);
	say("TX req_prod %u with rsp_prod %u (one behind)", rsp - 1, rsp);
	after_fatal(fe, "req_prod behind rsp_prod");

	/* The same lie already in the ring when the backend first maps it:
	 * it must refuse to attach (and not reinitialise our ring). */
	if (fe_restart(fe, 1000))
		return -1;
	say("TX ring handed over with req_prod 1000, rsp_prod 0");
	after_fatal(fe, "impossible ring at connect");
	return 0;
}

/* (b) Grant references the backend cannot copy from. Error responses, not
 * a disable: a bad grant is the guest's loss only. */
static int case_bad_gref(struct fe *fe)
{
	/* Not 0 or 1: the toolstack grants the console and xenstore pages
	 * to dom0 in those, so copying from them works. 7 is reserved and
	 * never granted; 0x10000 and above lie past the grant table. */
	const uint32_t bad[] = {7,	     stale_ref(fe),    0x7fffffffu,
				0xffffffffu, (uint32_t)rand(), 0x10000u};
	const unsigned int nbad = sizeof(bad) / sizeof(bad[0]);
	struct tally t;

	build_self_frame(fe, 0);
	for (unsigned int i = 0; i < nbad; i++)
		tx_put(fe, bad[i], 0, 0, (uint16_t)i, FRAME_LEN);
	/* Then a good one: the vif must still carry it. */
	tx_put(fe, fe->dref[0], 0, 0, (uint16_t)nbad, FRAME_LEN);
	tx_push(fe);
	t = tx_wait(fe, nbad + 1, 5000);
	say("%u requests with bad grefs (7, revoked %u, 0x7fffffff, 0xffffffff, %u, 0x10000) "
	    "and 1 good: %u responses, %u errors, %u okay; backend state %d",
	    nbad, bad[1], bad[4], t.n, t.err, t.ok, be_state(fe));
	return 0;
}

/* n data slots of one packet, each FRAME_LEN bytes at offset `off`. */
static void tx_chain(struct fe *fe, unsigned int n, uint16_t off)
{
	for (unsigned int i = 0; i < n; i++)
		tx_put(fe, fe->dref[1], off, i + 1 < n ? NETTXF_more_data : 0, (uint16_t)i,
		       i == 0 ? (uint16_t)(n * FRAME_LEN) : FRAME_LEN);
}

/* (c) Slots that leave their page, and chains longer than a packet may be. */
static int case_slot_overflow(struct fe *fe)
{
	struct tally t;

	/* 19 slots: more than the 18 a backend must take, not yet hostile. */
	build_self_frame(fe, 1);
	tx_chain(fe, XEN_NETIF_NR_SLOTS_MIN + 1, 0);
	tx_push(fe);
	t = tx_wait(fe, XEN_NETIF_NR_SLOTS_MIN + 1, 5000);
	say("19-slot packet: %u responses, %u errors; backend state %d", t.n, t.err, be_state(fe));

	/* The first slot: offset 4090 + 60 bytes. */
	if (ensure_connected(fe))
		return -1;
	tx_put(fe, fe->dref[1], 4090, 0, 0, FRAME_LEN);
	tx_push(fe);
	say("first slot offset 4090 size %u", FRAME_LEN);
	after_fatal(fe, "first slot crosses its page");

	/* A follow-on slot: offset 4000 + 200 bytes. */
	if (ensure_connected(fe))
		return -1;
	tx_put(fe, fe->dref[1], 0, NETTXF_more_data, 0, FRAME_LEN + 200);
	tx_put(fe, fe->dref[1], 4000, 0, 1, 200);
	tx_push(fe);
	say("second slot offset 4000 size 200");
	after_fatal(fe, "second slot crosses its page");

	/* 24 slots with more_data: past the 20 Linux treats as hostile. */
	if (ensure_connected(fe))
		return -1;
	tx_chain(fe, 24, 0);
	tx_push(fe);
	say("24-slot chain");
	after_fatal(fe, "24-slot chain");
	return 0;
}

/* (d) Extra-info slots the protocol does not allow. */
static int case_bad_extra(struct fe *fe)
{
	static const struct {
		const char *what;
		uint8_t type, flags;
		uint16_t gso_size;
		uint8_t gso_type;
	} bad[] = {
	    {"extra type 0 (none)", XEN_NETIF_EXTRA_TYPE_NONE, 0, 0, 0},
	    {"extra type 7 (unknown)", 7, 0, 0, 0},
	    {"GSO size 0", XEN_NETIF_EXTRA_TYPE_GSO, 0, 0, XEN_NETIF_GSO_TYPE_TCPV4},
	    {"GSO type 9", XEN_NETIF_EXTRA_TYPE_GSO, 0, 1400, 9},
	    {"extra chain running past req_prod", XEN_NETIF_EXTRA_TYPE_HASH,
	     XEN_NETIF_EXTRA_FLAG_MORE, 0, 0},
	};

	build_self_frame(fe, 2);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (ensure_connected(fe))
			return -1;
		tx_put(fe, fe->dref[2], 0, NETTXF_extra_info, 0, FRAME_LEN);
		tx_put_extra(fe, bad[i].type, bad[i].flags, bad[i].gso_size, bad[i].gso_type);
		tx_push(fe);
		say("%s", bad[i].what);
		after_fatal(fe, bad[i].what);
	}
	return 0;
}

/* (e) RX buffers the backend cannot copy into, then an RX index jump. The
 * scenario sends traffic to us meanwhile; we also send ourselves frames,
 * because the backend only walks the RX ring with a packet to deliver. */
static int case_rx_junk(struct fe *fe)
{
	const uint32_t bad[] = {7,	     stale_ref(fe), fe->ro_ref,	      0x7fffffffu,
				0xffffffffu, 0x10000u,	    (uint32_t)rand(), 0xfffffu};
	const unsigned int nbad = sizeof(bad) / sizeof(bad[0]);
	uint32_t ids = 0;
	struct tally tx, rx;
	RING_IDX rsp;

	/* Two rounds of the bad grants: 16 buffers, ids 0..15. */
	for (unsigned int i = 0; i < 2 * nbad; i++)
		rx_put(fe, bad[i % nbad], (uint16_t)i);
	rx_push(fe);
	build_self_frame(fe, 3);
	for (unsigned int i = 0; i < 4; i++)
		tx_put(fe, fe->dref[3], 0, 0, (uint16_t)i, FRAME_LEN);
	tx_push(fe);
	tx = tx_wait(fe, 4, 5000);
	rx = rx_wait(fe, 4, 5000, &ids);
	say("16 RX buffers with bad grefs (incl. read-only %u, revoked %u), 4 frames to self "
	    "(%u okay): %u RX responses, %u errors, ids 0x%04x; backend state %d",
	    fe->ro_ref, bad[1], tx.ok, rx.n, rx.err, ids, be_state(fe));

	if (ensure_connected(fe))
		return -1;
	rsp = fe->rx.sring->rsp_prod;
	fe->rx.sring->req_prod = rsp + 5000;
	xen_mb();
	/* A packet to deliver, so that the backend looks at the RX ring. */
	tx_put(fe, fe->dref[3], 0, 0, 9, FRAME_LEN);
	tx_push(fe);
	say("RX req_prod %u with rsp_prod %u", rsp + 5000, rsp);
	after_fatal(fe, "RX req_prod far ahead");
	return 0;
}

/* (f) Frontend keys rewritten in a loop: first the state flapping with
 * valid keys (each Connected is a real map and bind in the backend), then
 * junk in every key the backend reads. */
static int case_keys(struct fe *fe, unsigned int seconds)
{
	static const char *const junk[] = {"4294967295", "4294967296", "99999999999999999999999",
					   "-1",	 "abc",	       "",
					   "0x10",	 "12abc",      " 7",
					   "0",		 "1e9"};
	static const char *const keys[] = {
	    "tx-ring-ref",	"rx-ring-ref",	   "event-channel", "event-channel-tx",
	    "event-channel-rx", "request-rx-copy", "feature-sg",    "feature-rx-notify"};
	static const char *const states[] = {"1", "4", "3", "4",    "5",     "6",  "0", "2",
					     "7", "8", "4", "junk", "99999", "-4", "4"};
	const size_t nj = sizeof(junk) / sizeof(junk[0]), nk = sizeof(keys) / sizeof(keys[0]),
		     ns = sizeof(states) / sizeof(states[0]);
	uint64_t start = now_ms(), half = start + (uint64_t)seconds * 500u,
		 end = start + (uint64_t)seconds * 1000u, t0;
	unsigned long writes = 0, valid = 0, refused = 0;
	char *err;
	int st;

	/* Phase 1: state flapping over valid keys. */
	while (now_ms() < half) {
		const char *s = states[(size_t)rand() % ns];

		fe_putu(fe, "tx-ring-ref", fe->txref);
		fe_putu(fe, "event-channel", fe->port);
		refused += !fe_put(fe, "state", s);
		writes += 3;
		valid += 3;
	}

	/* Phase 2 starts with one certain connect attempt on junk keys. The
	 * flood above has used up our xenstore write credit: xenstored's
	 * write rate limit now holds our requests back for seconds, and
	 * writes that land together reach the backend as one change (it
	 * applies the latest state, as it should). So wait for each step
	 * rather than for a fixed time. */
	t0 = now_ms();
	fe_putu(fe, "state", XenbusStateInitialising);
	st = wait_be(fe, XenbusStateInitWait, false, 20000);
	say("Initialising after the flapping: backend state %d after %llu ms", st,
	    (unsigned long long)(now_ms() - t0));
	fe_put(fe, "tx-ring-ref", "abc");
	fe_putu(fe, "state", XenbusStateConnected);
	st = wait_be(fe, XenbusStateClosing, false, 20000);
	err = xs_get(fe, fe->be, "hotplug-error");
	say("connect with tx-ring-ref \"abc\": backend state %d, hotplug-error \"%s\"", st,
	    err ? err : "");
	free(err);
	writes += 4;
	/* At least 2 s of junk, whatever the waits took. */
	if (end < now_ms() + 2000)
		end = now_ms() + 2000;

	/* Then junk everywhere, sometimes several keys in one transaction. */
	while (now_ms() < end) {
		unsigned int n = 1 + (unsigned int)rand() % 3;
		xs_transaction_t t = rand() % 2 ? xs_transaction_start(fe->xs) : XBT_NULL;

		for (unsigned int i = 0; i < n; i++) {
			char path[256];
			const char *v = junk[(size_t)rand() % nj];

			snprintf(path, sizeof(path), "%s/%s", fe->dir, keys[(size_t)rand() % nk]);
			refused += !xs_write(fe->xs, t, path, v, strlen(v));
			writes++;
		}
		refused += !fe_put(fe, "state", states[(size_t)rand() % ns]);
		writes++;
		if (t != XBT_NULL)
			xs_transaction_end(fe->xs, t, false);
	}
	/* Leave it asking to connect with junk keys. */
	fe_put(fe, "tx-ring-ref", "4294967296");
	fe_putu(fe, "state", XenbusStateConnected);
	sleep_ms(500);
	err = xs_get(fe, fe->be, "hotplug-error");
	say("%lu key writes in %.1f s (%lu with valid keys, %lu refused by xenstored); "
	    "backend state %d, hotplug-error \"%s\"",
	    writes, (double)(now_ms() - start) / 1000, valid, refused, be_state(fe),
	    err ? err : "");
	free(err);
	return 0;
}

/* churn: feature-sg flips between 0 and 1 (read only at connect) and
 * state is rewritten as Connected, so a connected vif stays as it is. */
static int case_churn(struct fe *fe, unsigned long writes)
{
	uint64_t start = now_ms();
	unsigned long refused = 0;

	for (unsigned long i = 0; i < writes; i++) {
		if (i % 2)
			refused += !fe_putu(fe, "state", XenbusStateConnected);
		else
			refused += !fe_putu(fe, "feature-sg", (i / 2) % 2);
	}
	say("%lu key writes in %.1f s (%lu refused by xenstored)", writes,
	    (double)(now_ms() - start) / 1000, refused);
	return refused ? -1 : 0;
}

/* flap: ROUNDS restarts of a connected frontend, each a real disconnect
 * (Closed) and connect (new rings, a new channel), waiting for the backend
 * at every step: a known number of connects, however slowly xenstored lets
 * the writes through. */
static int case_flap(struct fe *fe, unsigned long rounds)
{
	uint64_t start = now_ms();

	for (unsigned long i = 0; i < rounds; i++) {
		if (fe_restart(fe, 0)) {
			say("flap: round %lu of %lu failed", i + 1, rounds);
			return -1;
		}
	}
	say("%lu disconnects and connects in %.1f s", rounds, (double)(now_ms() - start) / 1000);
	return 0;
}

/* A frame of `len` bytes (up to two pages) from our address to dst, at
 * offset 0 of page0, continued on page1; payload zero. */
static void build_udp_frame(struct fe *fe, uint8_t *page0, uint8_t *page1, struct in_addr dst,
			    size_t len)
{
	memset(page0, 0, XEN_PAGE_SIZE_BYTES);
	memset(page1, 0, XEN_PAGE_SIZE_BYTES);
	put_udp4(fe, page0, dst, len);
}

#define HOG_MAX	      8
#define HOG_FRAME_LEN 6000 /* two RX slots: more than a hog's one buffer */
#define HOG_BURST     8	   /* frames per hog and round: 2 * 8 * HOG_MAX slots fit the ring */

/*
 * rx-hog (threat 28): the vifs HOG... of this guest connect with feature-sg
 * and post one RX buffer each, never more; for SECONDS this vif (the
 * sender) sends them 6000-byte frames, which need two. Each hog's queue
 * fills to its share and its head packet never goes: after 10 s the
 * backend turns its carrier off. Each hog's frame lives in that hog's own
 * data pages (all are this guest's grants), so frames in flight are never
 * rewritten.
 */
static int case_rx_hog(struct fe *fe, unsigned long seconds, char **args, int nargs)
{
	static struct fe hog[HOG_MAX];
	unsigned long sent = 0, ok = 0, rounds = 0;
	uint64_t end;
	int n = 0;

	if (nargs < 1 || nargs > HOG_MAX) {
		say("give 1 to %d hog devids", HOG_MAX);
		return -1;
	}
	for (int i = 0; i < nargs; i++, n++) {
		if (fe_open(&hog[i], (unsigned int)strtoul(args[i], NULL, 10)) ||
		    fe_connect(&hog[i], 0) || !hog[i].have_ip4) {
			say("hog %s: no connection or no IPv4 address", args[i]);
			return -1;
		}
		rx_put(&hog[i], hog[i].dref[2], 0);
		rx_push(&hog[i]);
		build_udp_frame(fe, hog[i].data[0], hog[i].data[1], hog[i].ip4, HOG_FRAME_LEN);
		say("hog %s connected, one RX buffer posted", hog[i].dir);
	}
	end = now_ms() + seconds * 1000u;
	while (now_ms() < end && be_state(fe) == XenbusStateConnected) {
		struct tally t;

		/* HOG_BURST frames to each hog. Slot 0's size is the whole
		 * frame; slot 1 holds the rest. */
		for (int b = 0; b < HOG_BURST; b++) {
			for (int i = 0; i < n; i++) {
				uint16_t id = (uint16_t)(2 * (b * n + i));

				tx_put(fe, hog[i].dref[0], 0, NETTXF_more_data, id, HOG_FRAME_LEN);
				tx_put(fe, hog[i].dref[1], 0, 0, (uint16_t)(id + 1),
				       HOG_FRAME_LEN - XEN_PAGE_SIZE_BYTES);
			}
		}
		tx_push(fe);
		t = tx_wait(fe, 2u * HOG_BURST * (unsigned int)n, 2000);
		sent += (unsigned long)(HOG_BURST * n);
		ok += t.ok / 2;
		rounds++;
	}
	for (int i = 0; i < n; i++) {
		uint32_t ids = 0;
		struct tally r = rx_wait(&hog[i], 1, 0, &ids);

		say("hog %s: backend state %d, %u RX responses", hog[i].dir, be_state(&hog[i]),
		    r.n);
	}
	say("%lu frames of %d bytes sent in %lu rounds, %lu answered OKAY", sent, HOG_FRAME_LEN,
	    rounds, ok);
	return ok ? 0 : -1;
}

/*
 * kick-storm (threat 19): kicks the backend on an empty ring in a tight
 * loop for SECONDS. The backend counts the kicks as spurious and, after a
 * few, unmasks the port only after a delay, so the storm costs it a
 * bounded number of wakeups.
 */
static int case_kick_storm(struct fe *fe, unsigned long seconds)
{
	uint64_t end = now_ms() + seconds * 1000u;
	unsigned long kicks = 0;

	while (now_ms() < end) {
		for (int i = 0; i < 1000; i++)
			xenevtchn_notify(fe->xce, fe->port);
		kicks += 1000;
	}
	say("%lu kicks in %lu s; backend state %d", kicks, seconds, be_state(fe));
	return be_state(fe) == XenbusStateConnected ? 0 : -1;
}

static int usage(void)
{
	fprintf(stderr, "usage: hostile-fe [-d DEVID] prod-jump|bad-gref|slot-overflow|bad-extra|"
			"rx-junk|keys|kick-storm [SECONDS]\n"
			"       hostile-fe [-d DEVID] rx-hog SECONDS HOG-DEVID...\n"
			"       hostile-fe [-d DEVID] churn WRITES\n"
			"       hostile-fe [-d DEVID] flap ROUNDS\n");
	return 2;
}

/* The cases that play a whole frontend, with no argument, with N (SECONDS
 * or ROUNDS), or with N and a list. */
struct hcase {
	const char *name;
	int (*fn0)(struct fe *fe);
	int (*fnn)(struct fe *fe, unsigned long n);
	int (*fnv)(struct fe *fe, unsigned long n, char **args, int nargs);
	bool needs_ip4;
};

static int run_keys(struct fe *fe, unsigned long n)
{
	return case_keys(fe, n ? (unsigned int)n : 8);
}

static const struct hcase cases[] = {
    {"prod-jump", case_prod_jump, NULL, NULL, false},
    {"bad-gref", case_bad_gref, NULL, NULL, true},
    {"slot-overflow", case_slot_overflow, NULL, NULL, false},
    {"bad-extra", case_bad_extra, NULL, NULL, false},
    {"rx-junk", case_rx_junk, NULL, NULL, true},
    {"keys", NULL, run_keys, NULL, false},
    {"flap", NULL, case_flap, NULL, false},
    {"kick-storm", NULL, case_kick_storm, NULL, false},
    {"rx-hog", NULL, NULL, case_rx_hog, true},
};

int main(int argc, char **argv)
{
	struct fe fe;
	unsigned int devid = 0;
	unsigned long count = 0;
	const struct hcase *hc = NULL;
	int o;

	while ((o = getopt(argc, argv, "d:")) != -1) {
		if (o != 'd')
			return usage();
		devid = (unsigned int)strtoul(optarg, NULL, 10);
	}
	if (optind >= argc)
		return usage();
	cname = argv[optind];
	if (optind + 1 < argc)
		count = strtoul(argv[optind + 1], NULL, 10);
	if (strcmp(cname, "churn") == 0)
		return fe_open_xs(&fe, devid) || case_churn(&fe, count) ? 1 : 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (strcmp(cname, cases[i].name) == 0)
			hc = &cases[i];
	if (!hc)
		return usage();
	/* Fixed seed: a failing run can be repeated exactly. */
	srand(1);

	if (fe_open(&fe, devid) || fe_connect(&fe, 0))
		return 1;
	say("connected %s (tx-ring-ref %u, rx-ring-ref %u, event-channel %u)", fe.dir, fe.txref,
	    fe.rxref, fe.port);
	if (hc->needs_ip4 && !fe.have_ip4) {
		say("no IPv4 address registered for %s", fe.be);
		return 1;
	}
	/* The rings stay shared: the backend may still hold them (a case that
	 * left the vif connected), and the kernel reclaims them with us. */
	if (hc->fn0)
		return hc->fn0(&fe) ? 1 : 0;
	if (hc->fnn)
		return hc->fnn(&fe, count) ? 1 : 0;
	return hc->fnv(&fe, count, argv + optind + 2, argc - optind - 2) ? 1 : 0;
}
