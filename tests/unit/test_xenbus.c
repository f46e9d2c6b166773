/* SPDX-License-Identifier: MIT */
/*
 * test_xenbus.c - the control path (netback/xenbus.c) against the fake Xen
 * libraries. The test plays three parties: the toolstack (dom0 writing the
 * frontend and backend directories as libxl does, and the hotplug script's
 * hotplug-status), the guest's netfront (a fake netfront from
 * tests/fake/netfront.h, and its frontend keys) and the main loop (pump()).
 * Every test starts from an empty fake host; finish() frees the daemon and
 * checks that nothing stays mapped, bound, open or watched. LeakSanitizer
 * checks the rest.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* First: through dp.h it supplies the barriers Xen's ring.h needs before
 * the fake's headers pull ring.h in. */
#include "ipnb/xenbus.h"

#include <xen/io/xenbus.h>

#include "fakeclock.h"
#include "fakexen.h"
#include "heap.h"
#include "netfront.h"
#include "suites.h"

#define NBUF 8 /* data pages per direction and guest */

/* One netfront played by the test, and the paths the toolstack gives it. */
struct fe {
	uint32_t devid;
	char be[96], fe[96];
	char mac_s[18];
	struct nf nf;
};

static struct dp *dp;
static struct xb *xb;
static struct fe fa, fb;
static struct fe *const A = &fa, *const B = &fb;
static unsigned int ndisabled;

/* The data path's callback, forwarded to the control path as main.c does. */
static void on_disable(void *arg, struct dp_vif *vif, const char *why)
{
	CU_ASSERT_PTR_EQUAL(arg, &ndisabled);
	ndisabled++;
	xb_on_disable(xb, vif, why);
}

/* ---- xenstore as the test sees it ---- */

static void path_of(char *out, size_t n, const char *dir, const char *key)
{
	int r = snprintf(out, n, "%s/%s", dir, key);

	CU_ASSERT_FATAL(r > 0 && (size_t)r < n);
}

/* Writes dir/key as domid and returns the fake's result. */
static int put_r(uint32_t as, const char *dir, const char *key, const char *val)
{
	char p[160];

	path_of(p, sizeof(p), dir, key);
	return fake_xs_write_as(as, p, val);
}

static void put(uint32_t as, const char *dir, const char *key, const char *val)
{
	CU_ASSERT_EQUAL(put_r(as, dir, key, val), 0);
}

static void put_u(uint32_t as, const char *dir, const char *key, unsigned long v)
{
	char s[24];

	snprintf(s, sizeof(s), "%lu", v);
	put(as, dir, key, s);
}

/* dir/key read as dom0 (malloc'd, or NULL if missing). */
static char *get(const char *dir, const char *key)
{
	char p[160];

	path_of(p, sizeof(p), dir, key);
	return fake_xs_read(p);
}

static bool key_is(const char *dir, const char *key, const char *want)
{
	char *v = get(dir, key);
	bool eq = v ? want && strcmp(v, want) == 0 : !want;

	free(v);
	return eq;
}

static bool key_has(const char *dir, const char *key, const char *needle)
{
	char *v = get(dir, key);
	bool ok = v && strstr(v, needle) != NULL;

	free(v);
	return ok;
}

static bool key_nonempty(const char *dir, const char *key)
{
	char *v = get(dir, key);
	bool ok = v && v[0] != '\0';

	free(v);
	return ok;
}

/* The backend's state node as a number, or -1 if missing or not a number. */
static int be_state(const struct fe *g)
{
	char *v = get(g->be, "state"), *end;
	long s = -1;

	if (v && v[0]) {
		s = strtol(v, &end, 10);
		if (*end)
			s = -1;
	}
	free(v);
	return (int)s;
}

/* ---- the daemon's view, through xb_foreach ---- */

struct seen {
	uint16_t domid;
	uint32_t devid;
	unsigned int n, found;
	int state;
	struct dp_vif *dv;
	char name[24], domain[XB_DOMAIN_MAX + 1];
};

static void seen_cb(void *arg, const struct xb_vif_info *vi)
{
	struct seen *s = arg;

	s->n++;
	if (vi->domid == s->domid && vi->devid == s->devid) {
		s->found++;
		s->state = vi->state;
		s->dv = vi->dv;
		snprintf(s->name, sizeof(s->name), "%s", vi->name);
		snprintf(s->domain, sizeof(s->domain), "%s", vi->domain);
	}
}

static struct seen lookup(const struct fe *g)
{
	struct seen s = {.domid = (uint16_t)g->nf.domid, .devid = g->devid};

	xb_foreach(xb, seen_cb, &s);
	CU_ASSERT(s.found <= 1);
	return s;
}

/* g's data-path vif, or NULL if xenbus does not list it. */
static struct dp_vif *vif_of(const struct fe *g)
{
	return lookup(g).dv;
}

static unsigned int vif_count(void)
{
	struct seen s = {.domid = 0xffff};

	xb_foreach(xb, seen_cb, &s);
	return s.n;
}

static bool connected(const struct fe *g)
{
	struct dp_vif *dv = vif_of(g);

	return dv && dp_vif_connected(dv);
}

static const struct dp_vif *owner(const char *ip)
{
	struct ipnb_addr a;

	memset(&a, 0, sizeof(a));
	if (strchr(ip, ':')) {
		a.family = AF_INET6;
		CU_ASSERT_FATAL(inet_pton(AF_INET6, ip, a.bytes) == 1);
	} else {
		a.family = AF_INET;
		CU_ASSERT_FATAL(inet_pton(AF_INET, ip, a.bytes) == 1);
	}
	return dp_addr_owner(dp, &a);
}

/* ---- the main loop ---- */

static bool readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) == 1;
}

/* Runs the main loop's steps until nothing is pending, as after each thing
 * the toolstack or a guest does. A daemon that keeps itself busy fails. */
static void pump(void)
{
	for (int i = 0; i < 32; i++) {
		int t;

		xb_handle_events(xb);
		dp_handle_events(dp);
		xb_process(xb);
		t = dp_run(dp);
		xb_process(xb);
		if (t != 0 && !readable(xb_fd(xb)) && !readable(dp_evtchn_fd(dp)))
			return;
	}
	CU_FAIL("the daemon did not settle");
}

/* ---- the guests ---- */

/* Guest n == domid (netfront.h's address plan), vif devid: its netfront
 * with rings, buffers and channels (two if split), and the MAC the
 * toolstack writes for it. The domain may exist already: it may have
 * several vifs. */
static void fe_init(struct fe *g, uint32_t domid, uint32_t devid, bool split)
{
	const struct nf_params p = {.nbuf = NBUF, .split = split};
	int r;

	memset(g, 0, sizeof(*g));
	r = fake_domain_create(domid);
	CU_ASSERT_FATAL(r == 0 || r == -EEXIST);
	CU_ASSERT_EQUAL_FATAL(nf_init(&g->nf, domid, &p), 0);
	g->devid = devid;
	snprintf(g->be, sizeof(g->be), "/local/domain/0/backend/vif/%u/%u", domid, devid);
	snprintf(g->fe, sizeof(g->fe), "/local/domain/%u/device/vif/%u", domid, devid);
	snprintf(g->mac_s, sizeof(g->mac_s), "%02x:%02x:%02x:%02x:%02x:%02x", g->nf.mac[0],
		 g->nf.mac[1], g->nf.mac[2], g->nf.mac[3], g->nf.mac[4], g->nf.mac[5]);
}

static void fe_free(struct fe *g)
{
	nf_free(&g->nf);
	memset(g, 0, sizeof(*g));
}

/* What libxl writes for a new vif (ip may be NULL): the frontend directory,
 * owned by the guest and readable by the backend, then the backend
 * directory, owned by dom0 and readable by the guest. */
static void toolstack_add(struct fe *g, const char *ip)
{
	const struct xs_permissions fe_perms[2] = {{.id = g->nf.domid, .perms = XS_PERM_NONE},
						   {.id = 0, .perms = XS_PERM_READ}};
	const struct xs_permissions be_perms[2] = {{.id = 0, .perms = XS_PERM_NONE},
						   {.id = g->nf.domid, .perms = XS_PERM_READ}};
	char p[160];

	put(0, g->fe, "backend", g->be);
	CU_ASSERT_EQUAL(fake_xs_set_perms_as(0, g->fe, fe_perms, 2), 0);
	put(0, g->fe, "backend-id", "0");
	put(0, g->fe, "state", "1");
	put_u(0, g->fe, "handle", g->devid);
	put(0, g->fe, "mac", g->mac_s);
	put(0, g->fe, "mtu", "1500");
	put(0, g->fe, "trusted", "1");

	put(0, g->be, "frontend", g->fe);
	CU_ASSERT_EQUAL(fake_xs_set_perms_as(0, g->be, be_perms, 2), 0);
	path_of(p, sizeof(p), g->be, "frontend");
	CU_ASSERT_EQUAL(fake_xs_set_perms_as(0, p, be_perms, 2), 0);
	put_u(0, g->be, "frontend-id", g->nf.domid);
	put(0, g->be, "online", "1");
	put(0, g->be, "state", "1");
	put(0, g->be, "script", "/etc/xen/scripts/vif-ipnetback");
	put(0, g->be, "mac", g->mac_s);
	put_u(0, g->be, "handle", g->devid);
	put(0, g->be, "type", "vif");
	put(0, g->be, "hotplug-status", "");
	if (ip)
		put(0, g->be, "ip", ip);
}

/* The vif-ipnetback hotplug script, run by libxl after InitWait. */
static void hotplug(struct fe *g)
{
	put(0, g->be, "hotplug-status", "connected");
}

/* netfront's keys, before it switches state (written as the guest). */
static void fe_publish(struct fe *g)
{
	put_u(g->nf.domid, g->fe, "tx-ring-ref", g->nf.tx_ref);
	put_u(g->nf.domid, g->fe, "rx-ring-ref", g->nf.rx_ref);
	if (g->nf.params.split) {
		put_u(g->nf.domid, g->fe, "event-channel-tx", g->nf.port_tx);
		put_u(g->nf.domid, g->fe, "event-channel-rx", g->nf.port_rx);
	} else {
		put_u(g->nf.domid, g->fe, "event-channel", g->nf.port_tx);
	}
	put(g->nf.domid, g->fe, "request-rx-copy", "1");
	put(g->nf.domid, g->fe, "feature-rx-notify", "1");
	put(g->nf.domid, g->fe, "feature-sg", "1");
}

static void fe_state(struct fe *g, int s)
{
	put_u(g->nf.domid, g->fe, "state", (unsigned long)s);
}

/* Both sides agree on Connected, the rings are mapped, the channels bound. */
static void expect_up(const struct fe *g)
{
	struct seen s = lookup(g);

	CU_ASSERT_EQUAL(be_state(g), XenbusStateConnected);
	CU_ASSERT_EQUAL(s.found, 1);
	CU_ASSERT_EQUAL(s.state, XenbusStateConnected);
	CU_ASSERT(s.dv && dp_vif_connected(s.dv));
	CU_ASSERT_NOT_EQUAL(fake_evtchn_peer(g->nf.domid, g->nf.port_tx), 0);
	CU_ASSERT_NOT_EQUAL(fake_evtchn_peer(g->nf.domid, g->nf.port_rx), 0);
}

/* Not connected and holding nothing of the guest's. */
static void expect_down(const struct fe *g)
{
	CU_ASSERT_FALSE(connected(g));
	CU_ASSERT_EQUAL(fake_evtchn_peer(g->nf.domid, g->nf.port_tx), 0);
	CU_ASSERT_EQUAL(fake_evtchn_peer(g->nf.domid, g->nf.port_rx), 0);
}

/* A vif from xl create to Connected, in the usual order. */
static void bring_up(struct fe *g, const char *ip)
{
	toolstack_add(g, ip);
	pump();
	CU_ASSERT_EQUAL_FATAL(be_state(g), XenbusStateInitWait);
	hotplug(g);
	fe_publish(g);
	fe_state(g, XenbusStateConnected);
	pump();
	CU_ASSERT_EQUAL_FATAL(be_state(g), XenbusStateConnected);
	expect_up(g);
}

/* ---- traffic, to show a connection carries packets ---- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* UDP over IPv4 from g to dip (UDP checksum 0: none). */
static size_t udp4(uint8_t *b, const struct fe *g, const uint8_t *dip, size_t payload)
{
	uint8_t *u = b + nf_put_eth_ip(b, false, nf_be_mac, g->nf.mac, g->nf.ip4, dip, IPPROTO_UDP,
				       8 + payload);

	nf_ip4_csum(b);
	memset(u, 0, 8);
	put16(u, 40000);
	put16(u + 2, 7777);
	put16(u + 4, (uint16_t)(8 + payload));
	for (size_t i = 0; i < payload; i++)
		u[8 + i] = (uint8_t)(i * 13 + 1);
	return 14 + 20 + 8 + payload;
}

/* r is what a push returned: a kick is lost only while the backend is not
 * bound. */
static void fe_kicked(const struct fe *g, int r)
{
	CU_ASSERT(r == 0 || (r == -ENOTCONN && !connected(g)));
}

/* from sends one datagram to `to`; true if `to` got it, L2 rewritten. */
static bool delivered(struct fe *from, struct fe *to)
{
	uint8_t pkt[128];
	size_t len = udp4(pkt, from, to->nf.ip4, 60);
	netif_rx_response_t rsp;
	const uint8_t *d;

	fe_kicked(to, nf_post_rx(&to->nf, 1));
	CU_ASSERT_EQUAL_FATAL(nf_queue_tx(&from->nf, pkt, len, NULL, 1, 0, NULL), 0);
	fe_kicked(from, nf_push_tx(&from->nf));
	pump();
	if (!nf_take_rx(&to->nf, &rsp, &d, NULL))
		return false;
	CU_ASSERT_EQUAL(rsp.status, (int16_t)len);
	CU_ASSERT(memcmp(d, to->nf.mac, 6) == 0); /* the mac key of `to` */
	CU_ASSERT(memcmp(d + 6, nf_be_mac, 6) == 0);
	CU_ASSERT(memcmp(d + 12, pkt + 12, len - 12) == 0);
	return true;
}

/* ---- fixture ---- */

static void start(void)
{
	fake_reset();
	ndisabled = 0;
	dp = dp_new(nf_be_mac, on_disable, &ndisabled);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dp);
	xb = xb_new(dp);
	CU_ASSERT_PTR_NOT_NULL_FATAL(xb);
	pump();
	CU_ASSERT_EQUAL(vif_count(), 0);
}

/* Frees the daemon and checks it left nothing of the guests' behind. */
static void finish(void)
{
	xb_free(xb);
	xb = NULL;
	dp_free(dp);
	dp = NULL;
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 0);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 0);
	CU_ASSERT_EQUAL(fake_handles_open(), 0);
	CU_ASSERT_EQUAL(fake_xs_watch_count(), 0);
}

static void setup(void)
{
	memset(A, 0, sizeof(*A));
	memset(B, 0, sizeof(*B));
	start();
}

static void mq_free(void);

static void teardown(void)
{
	if (xb)
		xb_free(xb);
	xb = NULL;
	if (dp)
		dp_free(dp);
	dp = NULL;
	fake_reset();
	fe_free(A);
	fe_free(B);
	mq_free();
}

/* ---- 1. discovery ---- */

static void test_new_backend_dir(void)
{
	static const char *const features[] = {"feature-rx-copy", "feature-sg",
					       "feature-split-event-channels"};
	struct xs_handle *h;
	char **ev;
	int pos[3] = {-1, -1, -1}, state_pos = -1, n = 0;

	fe_init(A, 1, 0, false);
	toolstack_add(A, "10.99.0.1");

	/* A second dom0 client records the order of the daemon's writes. */
	h = xs_open(0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_FATAL(xs_watch(h, A->be, "t"));
	while ((ev = xs_check_watch(h)) != NULL)
		free(ev); /* the initial event */

	pump();
	while ((ev = xs_check_watch(h)) != NULL) {
		const char *key = strrchr(ev[XS_WATCH_PATH], '/') + 1;

		for (int i = 0; i < 3; i++)
			if (strcmp(key, features[i]) == 0 && pos[i] < 0)
				pos[i] = n;
		if (strcmp(key, "state") == 0 && state_pos < 0)
			state_pos = n;
		free(ev);
		n++;
	}
	CU_ASSERT(xs_unwatch(h, A->be, "t"));
	xs_close(h);

	CU_ASSERT_EQUAL(be_state(A), XenbusStateInitWait);
	CU_ASSERT(state_pos >= 0);
	for (int i = 0; i < 3; i++) {
		CU_ASSERT(key_is(A->be, features[i], "1"));
		CU_ASSERT(pos[i] >= 0 && pos[i] < state_pos);
	}
	CU_ASSERT(key_is(A->be, "feature-rx-flip", "0"));
	CU_ASSERT_EQUAL(vif_count(), 1);
	CU_ASSERT_EQUAL(lookup(A).state, XenbusStateInitWait);
	CU_ASSERT_PTR_EQUAL(owner("10.99.0.1"), vif_of(A));
	CU_ASSERT(memcmp(dp_vif_mac(vif_of(A)), A->nf.mac, 6) == 0);
	/* the frontend has done nothing yet */
	CU_ASSERT_FALSE(connected(A));
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 0);
	/* nothing was written for the guest to see an error */
	CU_ASSERT(key_is(A->be, "hotplug-error", NULL));
	CU_ASSERT(key_is(A->be, "ip-error", NULL));
	CU_ASSERT(key_is(A->be, "hotplug-status", ""));
	finish();
}

/* ---- 2. connect ---- */

static void test_connect(void)
{
	fe_init(A, 1, 0, false);
	fe_init(B, 2, 0, false);
	bring_up(A, "10.99.0.1");
	bring_up(B, "10.99.0.2");
	CU_ASSERT_EQUAL(vif_count(), 2);
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 4);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 2);
	CU_ASSERT(key_is(A->be, "hotplug-error", NULL));
	CU_ASSERT(key_is(A->be, "hotplug-status", "connected"));
	/* the connection carries traffic both ways, with the MACs from the
	 * backend directories */
	CU_ASSERT(delivered(A, B));
	CU_ASSERT(delivered(B, A));
	CU_ASSERT_EQUAL(ndisabled, 0);
	finish();
}

static void test_connect_waits_for_hotplug(void)
{
	fe_init(A, 1, 0, false);
	toolstack_add(A, "10.99.0.1");
	pump();
	CU_ASSERT_EQUAL(be_state(A), XenbusStateInitWait);

	/* the frontend is faster than the hotplug script */
	fe_publish(A);
	fe_state(A, XenbusStateConnected);
	pump();
	CU_ASSERT_EQUAL(be_state(A), XenbusStateInitWait);
	CU_ASSERT_FALSE(connected(A));
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 0);

	/* a script that has not finished does not count either */
	put(0, A->be, "hotplug-status", "");
	pump();
	CU_ASSERT_EQUAL(be_state(A), XenbusStateInitWait);

	hotplug(A);
	pump();
	expect_up(A);
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 2);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 1);
	finish();
}

/* ---- 3. split event channels ---- */

static void test_split_channels(void)
{
	fe_init(A, 1, 0, true);
	fe_init(B, 2, 0, false);
	toolstack_add(A, "10.99.0.1");
	pump();
	hotplug(A);
	fe_publish(A);
	/* Initialised is enough to connect */
	fe_state(A, XenbusStateInitialised);
	pump();
	expect_up(A);
	CU_ASSERT_NOT_EQUAL(A->nf.port_tx, A->nf.port_rx);
	CU_ASSERT_NOT_EQUAL(fake_evtchn_peer(1, A->nf.port_tx), fake_evtchn_peer(1, A->nf.port_rx));
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 2);
	/* then Connected: still the same connection */
	fe_state(A, XenbusStateConnected);
	pump();
	expect_up(A);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 2);
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 2);

	bring_up(B, "10.99.0.2");
	CU_ASSERT(delivered(A, B));
	CU_ASSERT(delivered(B, A));

	/* disconnect releases both channels */
	fe_state(A, XenbusStateClosing);
	pump();
	expect_down(A);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 1);
	finish();
}

/* ---- 4, 5. refused frontends ---- */

/* The connect failed cleanly: error keys, Closing, nothing held. */
static void expect_refused(const struct fe *g)
{
	CU_ASSERT(key_nonempty(g->be, "hotplug-error"));
	CU_ASSERT(key_is(g->be, "hotplug-status", "error"));
	CU_ASSERT_EQUAL(be_state(g), XenbusStateClosing);
	CU_ASSERT_EQUAL(lookup(g).state, XenbusStateClosing);
	CU_ASSERT_FALSE(connected(g));
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 0);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 0);
}

/* A frontend that writes its keys, with one overridden (val NULL: removed),
 * and goes Connected. */
static void connect_with(struct fe *g, const char *key, const char *val)
{
	char p[160];

	toolstack_add(g, "10.99.0.1");
	pump();
	hotplug(g);
	fe_publish(g);
	if (val) {
		put(g->nf.domid, g->fe, key, val);
	} else {
		path_of(p, sizeof(p), g->fe, key);
		CU_ASSERT_EQUAL(fake_xs_rm_as(g->nf.domid, p), 0);
	}
	fe_state(g, XenbusStateConnected);
	pump();
}

/* One refused connect, on the daemon started before it: A (split or one
 * channel) with key set to val (NULL: removed). err, if set, must be part of
 * hotplug-error. Starts a fresh daemon for what follows. */
static void refused_case(bool split, const char *key, const char *val, const char *err)
{
	fe_init(A, 1, 0, split);
	connect_with(A, key, val);
	expect_refused(A);
	if (!key_nonempty(A->be, "hotplug-error"))
		fprintf(stderr, "\n  case %s=%s not refused\n", key, val ? val : "(none)");
	if (err)
		CU_ASSERT(key_has(A->be, "hotplug-error", err));
	finish();
	fake_reset();
	fe_free(A);
	start();
}

static void test_no_rx_copy(void)
{
	static const char *const vals[] = {NULL, "0", "", "yes", "01x"};

	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		refused_case(false, "request-rx-copy", vals[i], "rx-copy");
}

static void test_bad_frontend_keys(void)
{
	static const struct {
		const char *key, *val;
	} cases[] = {
	    {"tx-ring-ref", "12abc"},
	    {"tx-ring-ref", "-1"},
	    {"tx-ring-ref", ""},
	    {"tx-ring-ref", "99999999999"},
	    {"tx-ring-ref", " 8"},
	    {"tx-ring-ref", "+8"},
	    {"tx-ring-ref", NULL},
	    {"rx-ring-ref", "12abc"},
	    {"rx-ring-ref", "-1"},
	    {"rx-ring-ref", ""},
	    {"rx-ring-ref", "99999999999"},
	    {"rx-ring-ref", "4294967296"},
	    /* well-formed but never granted: the tx ring maps, the rx ring
	     * does not, and the tx mapping must not stay behind */
	    {"rx-ring-ref", "5000"},
	    {"tx-ring-ref", "5000"},
	    {"event-channel", "abc"},
	    {"event-channel", "999"},
	    {"event-channel", "4294967297"},
	    {"event-channel", NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		refused_case(false, cases[i].key, cases[i].val, NULL);

	/* a ring page whose indexes are impossible: mapped, then released */
	fe_init(A, 1, 0, false);
	A->nf.rx.sring->req_prod = 1000;
	connect_with(A, "feature-sg", "1");
	expect_refused(A);
	CU_ASSERT(key_has(A->be, "hotplug-error", "impossible"));
	finish();
	fake_reset();
	fe_free(A);
	start();

	/* split channels, the second one bogus: the first is unbound again */
	refused_case(true, "event-channel-rx", "777", NULL);
	/* half a split pair, beside a valid event-channel: refused, not
	 * connected on event-channel instead (threat 22) */
	refused_case(false, "event-channel-tx", "7", "event-channel-tx/event-channel-rx");
	refused_case(false, "event-channel-rx", "7", "event-channel-tx/event-channel-rx");
	/* a split frontend that lost one half */
	refused_case(true, "event-channel-tx", NULL, NULL);

	/* a failed connect holds until the frontend restarts; then it works */
	fe_init(A, 1, 0, false);
	connect_with(A, "tx-ring-ref", "junk");
	expect_refused(A);
	fe_state(A, XenbusStateClosed);
	pump();
	CU_ASSERT_EQUAL(be_state(A), XenbusStateClosed);
	fe_state(A, XenbusStateInitialising);
	pump();
	CU_ASSERT_EQUAL(be_state(A), XenbusStateInitWait);
	hotplug(A); /* libxl would run the script again */
	fe_publish(A);
	fe_state(A, XenbusStateConnected);
	pump();
	expect_up(A);
	finish();
}

/* ---- 6. frontend lifecycle ---- */

static void test_frontend_close_and_restart(void)
{
	char p[160];

	fe_init(A, 1, 0, false);
	fe_init(B, 2, 0, false);
	bring_up(A, "10.99.0.1");
	bring_up(B, "10.99.0.2");

	fe_state(A, XenbusStateClosing);
	pump();
	CU_ASSERT_EQUAL(be_state(A), XenbusStateClosing);
	expect_down(A);
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 2); /* B's */
	expect_up(B);

	fe_state(A, XenbusStateClosed);
	pump();
	CU_ASSERT_EQUAL(be_state(A), XenbusStateClosed);
	CU_ASSERT_EQUAL(lookup(A).state, XenbusStateClosed);
	expect_down(A);

	/* the frontend comes back (module reload, kexec) with fresh rings */
	nf_rings_init(&A->nf, 0);
	fe_state(A, XenbusStateInitialising);
	pump();
	CU_ASSERT_EQUAL(be_state(A), XenbusStateInitWait);
	expect_down(A);
	fe_publish(A);
	fe_state(A, XenbusStateConnected);
	pump();
	expect_up(A);
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 4);
	CU_ASSERT(delivered(A, B));
	CU_ASSERT(delivered(B, A));

	/* straight from Connected to Closed */
	fe_state(A, XenbusStateClosed);
	pump();
	CU_ASSERT_EQUAL(be_state(A), XenbusStateClosed);
	expect_down(A);
	nf_rings_init(&A->nf, 0);
	fe_state(A, XenbusStateInitialising);
	pump();
	CU_ASSERT_EQUAL(be_state(A), XenbusStateInitWait);
	fe_state(A, XenbusStateConnected);
	pump();
	expect_up(A);

	/* the guest removes its state node: the frontend is gone */
	path_of(p, sizeof(p), A->fe, "state");
	CU_ASSERT_EQUAL(fake_xs_rm_as(A->nf.domid, p), 0);
	pump();
	CU_ASSERT_EQUAL(be_state(A), XenbusStateClosed);
	expect_down(A);
	/* junk in it is no state either */
	put(A->nf.domid, A->fe, "state", "4x");
	pump();
	CU_ASSERT_EQUAL(be_state(A), XenbusStateClosed);
	expect_down(A);
	expect_up(B);
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 2);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 1);
	finish();
}

/* ---- 7. toolstack removal ---- */

static void test_toolstack_removal(void)
{
	char p[160];

	fe_init(A, 1, 0, false);
	fe_init(B, 2, 0, false);
	bring_up(A, "10.99.0.1");
	bring_up(B, "10.99.0.2");

	/* xl destroy / network-detach: libxl writes Closing over our state
	 * and clears online, then waits for Closed */
	put(0, A->be, "online", "0");
	put(0, A->be, "state", "5");
	pump();
	CU_ASSERT_EQUAL(be_state(A), XenbusStateClosed);
	expect_down(A);
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 2);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 1);
	/* the address goes nowhere while the vif is down */
	CU_ASSERT_FALSE(delivered(B, A));

	/* then the hotplug script runs offline and libxl removes the
	 * directories */
	CU_ASSERT_EQUAL(fake_xs_rm_as(0, A->be), 0);
	CU_ASSERT_EQUAL(fake_xs_rm_as(0, A->fe), 0);
	pump();
	CU_ASSERT_EQUAL(lookup(A).found, 0);
	CU_ASSERT_EQUAL(vif_count(), 1);
	CU_ASSERT_PTR_NULL(owner("10.99.0.1"));
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 2);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 1);
	expect_up(B);

	/* the state write alone, then the whole domain's directory removed */
	put(0, B->be, "state", "5");
	pump();
	CU_ASSERT_EQUAL(be_state(B), XenbusStateClosed);
	expect_down(B);
	snprintf(p, sizeof(p), "/local/domain/0/backend/vif/%u", B->nf.domid);
	CU_ASSERT_EQUAL(fake_xs_rm_as(0, p), 0);
	pump();
	CU_ASSERT_EQUAL(vif_count(), 0);
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 0);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 0);

	/* the same vif created again starts from scratch */
	nf_rings_init(&A->nf, 0);
	bring_up(A, "10.99.0.1");
	CU_ASSERT_PTR_EQUAL(owner("10.99.0.1"), vif_of(A));
	finish();
}

static void test_removed_while_connected(void)
{
	fe_init(A, 1, 0, false);
	bring_up(A, "10.99.0.1");
	/* no Closing first: the directories simply go */
	CU_ASSERT_EQUAL(fake_xs_rm_as(0, A->be), 0);
	pump();
	CU_ASSERT_EQUAL(vif_count(), 0);
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 0);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 0);
	CU_ASSERT_PTR_NULL(owner("10.99.0.1"));
	finish();
}

/* Threat 3 of issue 9: xl destroy, then a new domain given the same domid
 * and a vif with the same devid, all before the daemon's next pass. The
 * directory it finds is a new one (state 1, none of the keys it wrote),
 * not the vif it knew: it must start over and offer its features again,
 * or netfront (which needs feature-rx-copy) never connects. */
static void test_domid_reused(void)
{
	char p[64];

	fe_init(A, 1, 0, false);
	fe_init(B, 2, 0, false);
	bring_up(A, "10.99.0.1");
	bring_up(B, "10.99.0.2");

	CU_ASSERT_EQUAL(fake_domain_destroy(A->nf.domid), 0);
	snprintf(p, sizeof(p), "/local/domain/%u", A->nf.domid);
	CU_ASSERT_EQUAL(fake_xs_rm_as(0, p), 0);
	CU_ASSERT_EQUAL(fake_xs_rm_as(0, A->be), 0);
	fe_free(A);
	fe_init(A, 1, 0, false);
	toolstack_add(A, "10.99.0.1");
	pump();

	CU_ASSERT_EQUAL(be_state(A), XenbusStateInitWait);
	CU_ASSERT(key_is(A->be, "feature-rx-copy", "1"));
	CU_ASSERT(key_is(A->be, "feature-sg", "1"));
	CU_ASSERT_EQUAL(lookup(A).found, 1);
	CU_ASSERT_EQUAL(vif_count(), 2);
	CU_ASSERT_FALSE(connected(A));
	/* the old domain's rings and channel are gone */
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 2);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 1);

	hotplug(A);
	fe_publish(A);
	fe_state(A, XenbusStateConnected);
	pump();
	expect_up(A);
	CU_ASSERT_PTR_EQUAL(owner("10.99.0.1"), vif_of(A));
	CU_ASSERT(delivered(A, B));
	CU_ASSERT(delivered(B, A));
	expect_up(B);
	finish();
}

/* The backend `rate` key, as libxl writes it for vif=['rate=10Mb/s']
 * ("BYTES,MICROSECONDS"): applied at connect and live; a value that does
 * not parse keeps the rate in force and says so in rate-error, and before
 * the first connect it refuses the connect. */
/* Guest g (domain domid, address 10.99.0.<domid>) with one backend key the
 * toolstack wrote before the first connect, then the frontend's whole
 * handshake (without feature-sg if sg is false). Whether it connected is
 * the caller's to check. */
static void connect_with_key(struct fe *g, uint32_t domid, const char *key, const char *val,
			     bool sg)
{
	char ip[16];

	fe_init(g, domid, 0, false);
	snprintf(ip, sizeof(ip), "10.99.0.%u", domid);
	toolstack_add(g, ip);
	put(0, g->be, key, val);
	pump();
	hotplug(g);
	fe_publish(g);
	if (!sg)
		put(domid, g->fe, "feature-sg", "0");
	fe_state(g, XenbusStateConnected);
	pump();
}

static void test_rate_key(void)
{
	static const char *const bad[] = {
	    "junk",  "0,50000", "62500,0", "62500", ",50000",	    "62500,",
	    "1,2,3", "-1,5",	"1, 5",	   " 1,5",  "1,4294967296", "99999999999999999999,1",
	    ""};
	uint64_t bytes;
	uint32_t usec;
	char p[160];

	connect_with_key(A, 1, "rate", "62500,50000", true);
	expect_up(A);
	CU_ASSERT(dp_vif_rate(vif_of(A), &bytes, &usec));
	CU_ASSERT_EQUAL(bytes, 62500);
	CU_ASSERT_EQUAL(usec, 50000);

	put(0, A->be, "rate", "1000,20000");
	pump();
	CU_ASSERT(dp_vif_rate(vif_of(A), &bytes, &usec));
	CU_ASSERT_EQUAL(bytes, 1000);
	CU_ASSERT_EQUAL(usec, 20000);
	CU_ASSERT_FALSE(key_nonempty(A->be, "rate-error"));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put(0, A->be, "rate", bad[i]);
		pump();
		CU_ASSERT(key_has(A->be, "rate-error", "BYTES,MICROSECONDS"));
		CU_ASSERT(dp_vif_rate(vif_of(A), &bytes, &usec));
		CU_ASSERT_EQUAL(bytes, 1000);
		expect_up(A);
	}
	/* the key removed: unlimited, and the error gone */
	path_of(p, sizeof(p), A->be, "rate");
	CU_ASSERT_EQUAL(fake_xs_rm_as(0, p), 0);
	pump();
	CU_ASSERT_FALSE(dp_vif_rate(vif_of(A), &bytes, &usec));
	CU_ASSERT_FALSE(key_nonempty(A->be, "rate-error"));

	/* a bad rate before the first connect: refused, never unlimited */
	connect_with_key(B, 2, "rate", "10Mb/s", true);
	CU_ASSERT_FALSE(connected(B));
	CU_ASSERT(key_has(B->be, "hotplug-error", "rate"));
	CU_ASSERT(key_has(B->be, "rate-error", "10Mb/s"));
	finish();
}

/* The backend mtu key (libxl's mtu=): applied live; a value that is not a
 * number from 68 to 9000 keeps the MTU in force and writes mtu-error, and
 * refuses a connect; above 1500 it needs the frontend's feature-sg. */
static void test_mtu_key(void)
{
	static const char *const bad[] = {"junk", "67",	   "9001",  "-1",
					  "",	  " 1500", "1500 ", "0x5dc"};
	static struct fe c;
	char p[160];

	connect_with_key(A, 1, "mtu", "9000", true);
	expect_up(A);
	CU_ASSERT_EQUAL(dp_vif_mtu(vif_of(A)), 9000);
	put(0, A->be, "mtu", "1400");
	pump();
	CU_ASSERT_EQUAL(dp_vif_mtu(vif_of(A)), 1400);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put(0, A->be, "mtu", bad[i]);
		pump();
		CU_ASSERT(key_has(A->be, "mtu-error", "68 to 9000"));
		CU_ASSERT_EQUAL(dp_vif_mtu(vif_of(A)), 1400);
		expect_up(A);
	}
	path_of(p, sizeof(p), A->be, "mtu");
	CU_ASSERT_EQUAL(fake_xs_rm_as(0, p), 0);
	pump();
	CU_ASSERT_EQUAL(dp_vif_mtu(vif_of(A)), 1500);
	CU_ASSERT_FALSE(key_nonempty(A->be, "mtu-error"));

	/* an MTU above what is supported: refused, never silently 1500 */
	connect_with_key(B, 2, "mtu", "9216", true);
	CU_ASSERT_FALSE(connected(B));
	CU_ASSERT(key_has(B->be, "hotplug-error", "mtu"));

	/* a jumbo MTU for a frontend without scatter-gather: refused */
	connect_with_key(&c, 3, "mtu", "9000", false);
	CU_ASSERT_FALSE(connected(&c));
	CU_ASSERT(key_has(c.be, "hotplug-error", "feature-sg"));
	finish();
	fe_free(&c);
}

/* A's names once the toolstack wrote vifname (NULL: removed it) and the
 * domain's name (NULL: left as it is). */
static void expect_names(const char *vifname, const char *dom, const char *name, const char *domain)
{
	char p[160];
	struct seen s;

	if (vifname) {
		put(0, A->be, "vifname", vifname);
	} else {
		path_of(p, sizeof(p), A->be, "vifname");
		CU_ASSERT_EQUAL(fake_xs_rm_as(0, p), 0);
	}
	if (dom)
		put(0, "/local/domain/1", "name", dom);
	pump();
	s = lookup(A);
	CU_ASSERT_STRING_EQUAL(s.name, name);
	CU_ASSERT_STRING_EQUAL(s.domain, domain);
}

/* The names a vif is shown with: the backend's vifname if it is an
 * interface name, "vifD.N" otherwise; the domain's name, kept printable.
 * Both follow their keys. */
static void test_names(void)
{
	static const char *const bad[] = {
	    "", ".", "..", "has space", "a/b", "sixteen-chars-xx", "tab\there", "\xc3\xa4"};

	fe_init(A, 1, 0, false);
	toolstack_add(A, "10.99.0.1");
	pump();
	CU_ASSERT_STRING_EQUAL(lookup(A).name, "vif1.0");
	expect_names("web1-eth0", "web1", "web1-eth0", "web1");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_names(bad[i], NULL, "vif1.0", "web1");
	expect_names("fifteen-chars-x", "new\nline\"quote\x7f", "fifteen-chars-x",
		     "new?line\"quote?");
	expect_names(NULL, NULL, "vif1.0", "new?line\"quote?");
	finish();
}

/* Rows 4, 21 and 22: what is not offered is not used. With the default
 * max-queues of 1 the backend writes multi-queue-max-queues 1, and never
 * feature-ctrl-ring; a frontend that asks for queues anyway, with its
 * rings under queue-N/, is refused; one that adds ctrl-ring keys to an
 * ordinary connection gets that connection and no ctrl ring (only the two
 * rings are mapped). */
static void test_not_offered(void)
{
	char q[128];

	fe_init(A, 1, 0, false);
	toolstack_add(A, "10.99.0.1");
	pump();
	CU_ASSERT(key_is(A->be, "multi-queue-max-queues", "1"));
	CU_ASSERT_PTR_NULL(get(A->be, "feature-ctrl-ring"));
	CU_ASSERT_PTR_NULL(get(A->be, "feature-multicast-control"));
	hotplug(A);
	snprintf(q, sizeof(q), "%s/queue-0", A->fe);
	put(A->nf.domid, A->fe, "multi-queue-num-queues", "2");
	put_u(A->nf.domid, q, "tx-ring-ref", A->nf.tx_ref);
	put_u(A->nf.domid, q, "rx-ring-ref", A->nf.rx_ref);
	put_u(A->nf.domid, q, "event-channel", A->nf.port_tx);
	put(A->nf.domid, A->fe, "request-rx-copy", "1");
	fe_state(A, XenbusStateConnected);
	pump();
	CU_ASSERT_FALSE(connected(A));
	CU_ASSERT(key_has(A->be, "hotplug-error", "multi-queue-max-queues 1"));
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 0);

	fe_init(B, 2, 0, false);
	toolstack_add(B, "10.99.0.2");
	pump();
	hotplug(B);
	fe_publish(B);
	put_u(B->nf.domid, B->fe, "ctrl-ring-ref", B->nf.tx_ref + 100);
	put_u(B->nf.domid, B->fe, "event-channel-ctrl", B->nf.port_tx);
	fe_state(B, XenbusStateConnected);
	pump();
	expect_up(B);
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 2);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 1);
	finish();
}

/* Threat 24 (XSA-175/178): the guest points its frontend `backend` key at
 * another guest's backend directory and writes another MAC into its own
 * frontend `mac`. Neither is read: its vif keeps the toolstack's MAC, and
 * the other guest's vif is untouched. */
static void test_frontend_pointers(void)
{
	fe_init(A, 1, 0, false);
	fe_init(B, 2, 0, false);
	bring_up(A, "10.99.0.1");
	bring_up(B, "10.99.0.2");
	put(A->nf.domid, A->fe, "backend", B->be);
	put(A->nf.domid, A->fe, "backend-id", "7");
	put(A->nf.domid, A->fe, "mac", B->mac_s);
	fe_state(A, XenbusStateConnected);
	pump();
	CU_ASSERT(memcmp(dp_vif_mac(vif_of(A)), A->nf.mac, 6) == 0);
	CU_ASSERT(memcmp(dp_vif_mac(vif_of(B)), B->nf.mac, 6) == 0);
	expect_up(A);
	expect_up(B);
	CU_ASSERT(delivered(A, B));
	CU_ASSERT(delivered(B, A));
	finish();
}

/* ---- 8. @releaseDomain ---- */

static void test_release_domain(void)
{
	char p[64];

	fe_init(A, 1, 0, false);
	fe_init(B, 2, 0, false);
	bring_up(A, "10.99.0.1");
	bring_up(B, "10.99.0.2");

	CU_ASSERT_EQUAL(fake_domain_destroy(A->nf.domid), 0);
	snprintf(p, sizeof(p), "/local/domain/%u", A->nf.domid);
	CU_ASSERT_EQUAL(fake_xs_rm_as(0, p), 0);
	pump();
	expect_down(A);
	CU_ASSERT_EQUAL(be_state(A), XenbusStateClosed);
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 2);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 1);
	expect_up(B);

	CU_ASSERT_EQUAL(fake_xs_rm_as(0, A->be), 0);
	pump();
	CU_ASSERT_EQUAL(lookup(A).found, 0);
	CU_ASSERT_EQUAL(vif_count(), 1);
	finish();
}

/* The guest dies and nobody has cleaned its xenstore directory yet. */
static void test_release_domain_only(void)
{
	fe_init(A, 1, 0, false);
	fe_init(B, 2, 0, false);
	bring_up(A, "10.99.0.1");
	bring_up(B, "10.99.0.2");

	CU_ASSERT_EQUAL(fake_domain_destroy(A->nf.domid), 0);
	pump();
	expect_down(A);
	CU_ASSERT_EQUAL(be_state(A), XenbusStateClosed);
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 2);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 1);
	expect_up(B);
	finish();
}

/* ---- 9. addresses ---- */

static void test_ip_registration(void)
{
	struct dp_vif *va, *vb;

	fe_init(A, 1, 0, false);
	fe_init(B, 2, 0, false);
	toolstack_add(A, "10.99.0.5 fd00::5");
	pump();
	va = vif_of(A);
	CU_ASSERT_PTR_NOT_NULL_FATAL(va);
	CU_ASSERT_PTR_EQUAL(owner("10.99.0.5"), va);
	CU_ASSERT_PTR_EQUAL(owner("fd00::5"), va);
	CU_ASSERT(key_is(A->be, "ip-error", NULL));

	/* the same address for a second vif: refused, naming the holder */
	toolstack_add(B, "10.99.0.5 10.99.0.2");
	pump();
	vb = vif_of(B);
	CU_ASSERT_PTR_NOT_NULL_FATAL(vb);
	CU_ASSERT(key_has(B->be, "ip-error", "10.99.0.5"));
	CU_ASSERT(key_has(B->be, "ip-error", "vif 1/0"));
	CU_ASSERT_PTR_EQUAL(owner("10.99.0.5"), va);
	CU_ASSERT_PTR_EQUAL(owner("10.99.0.2"), vb); /* the rest is registered */
	CU_ASSERT(key_is(A->be, "ip-error", NULL));
	/* both connect regardless */
	hotplug(A);
	hotplug(B);
	fe_publish(A);
	fe_publish(B);
	fe_state(A, XenbusStateConnected);
	fe_state(B, XenbusStateConnected);
	pump();
	expect_up(A);
	expect_up(B);

	/* the first gives the address up: the second gets it */
	put(0, A->be, "ip", "10.99.0.6 fd00::5");
	pump();
	CU_ASSERT_PTR_EQUAL(owner("10.99.0.5"), vb);
	CU_ASSERT_PTR_EQUAL(owner("10.99.0.6"), va);
	CU_ASSERT_PTR_EQUAL(owner("10.99.0.2"), vb);
	CU_ASSERT(key_is(B->be, "ip-error", NULL));
	CU_ASSERT(key_is(A->be, "ip-error", NULL));

	/* a value that does not parse keeps the registration */
	put(0, A->be, "ip", "10.0.0.1 bogus");
	pump();
	CU_ASSERT(key_nonempty(A->be, "ip-error"));
	CU_ASSERT_PTR_EQUAL(owner("10.99.0.6"), va);
	CU_ASSERT_PTR_EQUAL(owner("fd00::5"), va);
	CU_ASSERT_PTR_NULL(owner("10.0.0.1"));
	/* fixed: the error goes */
	put(0, A->be, "ip", "10.99.0.1");
	pump();
	CU_ASSERT(key_is(A->be, "ip-error", NULL));
	CU_ASSERT_PTR_EQUAL(owner("10.99.0.1"), va);
	CU_ASSERT_PTR_NULL(owner("10.99.0.6"));
	CU_ASSERT_PTR_NULL(owner("fd00::5"));
	/* removing the key removes the addresses */
	{
		char p[160];

		path_of(p, sizeof(p), A->be, "ip");
		CU_ASSERT_EQUAL(fake_xs_rm_as(0, p), 0);
	}
	pump();
	CU_ASSERT_PTR_NULL(owner("10.99.0.1"));
	put(0, A->be, "ip", "10.99.0.1");
	pump();
	CU_ASSERT(delivered(B, A));

	/* the guest cannot register addresses: not in its frontend ... */
	put(A->nf.domid, A->fe, "ip", "10.99.0.7 10.99.0.5");
	pump();
	CU_ASSERT_PTR_NULL(owner("10.99.0.7"));
	CU_ASSERT_PTR_EQUAL(owner("10.99.0.5"), vb);
	CU_ASSERT_PTR_EQUAL(owner("10.99.0.1"), va);
	/* ... and not in the backend directory, which is dom0's */
	CU_ASSERT_EQUAL(put_r(A->nf.domid, A->be, "ip", "10.99.0.7"), -EACCES);
	CU_ASSERT_EQUAL(put_r(A->nf.domid, A->be, "mac", "00:16:3e:00:00:09"), -EACCES);
	expect_up(A);
	expect_up(B);
	finish();
}

/* Two vifs each asking for an address the other holds must not keep the
 * daemon busy. */
static void test_ip_mutual_conflict(void)
{
	struct dp_vif *va, *vb;

	fe_init(A, 1, 0, false);
	fe_init(B, 2, 0, false);
	toolstack_add(A, "10.99.0.1");
	toolstack_add(B, "10.99.0.2");
	pump();
	va = vif_of(A);
	vb = vif_of(B);
	put(0, A->be, "ip", "10.99.0.1 10.99.0.2");
	pump();
	put(0, B->be, "ip", "10.99.0.2 10.99.0.1");
	pump();
	CU_ASSERT_PTR_EQUAL(owner("10.99.0.1"), va);
	CU_ASSERT_PTR_EQUAL(owner("10.99.0.2"), vb);
	CU_ASSERT(key_has(A->be, "ip-error", "vif 2/0"));
	CU_ASSERT(key_has(B->be, "ip-error", "vif 1/0"));
	/* one gives in */
	put(0, A->be, "ip", "10.99.0.3");
	pump();
	CU_ASSERT_PTR_EQUAL(owner("10.99.0.1"), vb);
	CU_ASSERT_PTR_EQUAL(owner("10.99.0.2"), vb);
	CU_ASSERT_PTR_EQUAL(owner("10.99.0.3"), va);
	CU_ASSERT(key_is(A->be, "ip-error", NULL));
	CU_ASSERT(key_is(B->be, "ip-error", NULL));
	finish();
}

/* A vif whose directory goes hands its addresses to a vif refused them. */
static void test_ip_released_by_removal(void)
{
	fe_init(A, 1, 0, false);
	fe_init(B, 2, 0, false);
	toolstack_add(A, "10.99.0.5");
	pump();
	toolstack_add(B, "10.99.0.5");
	pump();
	CU_ASSERT_PTR_EQUAL(owner("10.99.0.5"), vif_of(A));
	CU_ASSERT(key_nonempty(B->be, "ip-error"));
	CU_ASSERT_EQUAL(fake_xs_rm_as(0, A->be), 0);
	pump();
	CU_ASSERT_PTR_EQUAL(owner("10.99.0.5"), vif_of(B));
	CU_ASSERT(key_is(B->be, "ip-error", NULL));
	finish();
}

/* ---- 10. frontend path ---- */

static void test_frontend_path_mismatch(void)
{
	char other[96];

	/* the backend names another device of the same guest, whose keys are
	 * all valid: it must not be used */
	fe_init(A, 1, 0, false);
	toolstack_add(A, "10.99.0.1");
	snprintf(other, sizeof(other), "/local/domain/%u/device/vif/1", A->nf.domid);
	put(0, A->be, "frontend", other);
	pump();
	{
		struct fe g = *A;

		snprintf(g.fe, sizeof(g.fe), "%s", other);
		put(0, g.fe, "state", "1");
		fe_publish(&g);
	}
	fe_publish(A);
	put(A->nf.domid, other, "state", "4");
	fe_state(A, XenbusStateConnected);
	hotplug(A);
	pump();
	CU_ASSERT_NOT_EQUAL(be_state(A), XenbusStateConnected);
	CU_ASSERT_FALSE(connected(A));
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 0);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 0);
	/* the toolstack corrects it: once the frontend (re)starts, the right
	 * one is served */
	put(0, A->be, "frontend", A->fe);
	pump();
	CU_ASSERT_FALSE(connected(A));
	fe_state(A, XenbusStateInitialising);
	pump();
	CU_ASSERT_EQUAL(be_state(A), XenbusStateInitWait);
	fe_state(A, XenbusStateConnected);
	pump();
	expect_up(A);
	finish();
	fake_reset();
	fe_free(A);

	/* other wrong values of frontend, and a wrong frontend-id */
	static const struct {
		const char *key, *val;
	} cases[] = {
	    {"frontend", "/local/domain/2/device/vif/0"},
	    {"frontend", "/local/domain/1/device/vif/0/"},
	    {"frontend", "/local/domain/1/device/vif/00"},
	    {"frontend", "/local/domain/1/device/vbd/0"},
	    {"frontend", "local/domain/1/device/vif/0"},
	    {"frontend", ""},
	    {"frontend-id", "2"},
	    {"frontend-id", "1x"},
	    {"frontend-id", ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		start();
		fe_init(A, 1, 0, false);
		fe_init(B, 2, 0, false);
		/* B's frontend directory exists and is valid too */
		toolstack_add(B, NULL);
		CU_ASSERT_EQUAL(fake_xs_rm_as(0, B->be), 0);
		fe_publish(B);
		fe_state(B, XenbusStateConnected);
		toolstack_add(A, "10.99.0.1");
		put(0, A->be, cases[i].key, cases[i].val);
		hotplug(A);
		fe_publish(A);
		fe_state(A, XenbusStateConnected);
		pump();
		if (be_state(A) == XenbusStateConnected)
			fprintf(stderr, "\n  connected with %s=\"%s\"\n", cases[i].key,
				cases[i].val);
		CU_ASSERT_NOT_EQUAL(be_state(A), XenbusStateConnected);
		CU_ASSERT_FALSE(connected(A));
		CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 0);
		CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 0);
		finish();
		fake_reset();
		fe_free(A);
		fe_free(B);
	}
}

/* ---- 11. key churn ---- */

/* The guest rewrites n of its keys, pumping every `every` writes (0: never). */
static void churn(struct fe *g, unsigned int n, unsigned int every)
{
	static const char *const keys[] = {"state", "feature-sg", "tx-ring-ref", "mtu", "junk"};
	char tx[16];

	snprintf(tx, sizeof(tx), "%u", g->nf.tx_ref);
	for (unsigned int i = 0; i < n; i++) {
		const char *k = keys[i % 5];
		const char *v = i % 5 == 0 ? "4" : i % 5 == 2 ? tx : "1";

		if (put_r(g->nf.domid, g->fe, k, v) != 0) {
			CU_FAIL("guest write refused");
			return;
		}
		if (every && (i + 1) % every == 0)
			pump();
	}
	pump();
}

static void test_key_churn(void)
{
	size_t allocs, heap;
	uint64_t maps;

	fe_init(A, 1, 0, false);
	fe_init(B, 2, 0, false);
	bring_up(A, "10.99.0.1");
	bring_up(B, "10.99.0.2");
	churn(A, 100, 10); /* warm up: every path the churn takes */
	allocs = fake_live_allocs();
	heap = heap_bytes();
	maps = fake_gnt_mapped_count();

	churn(A, 10000, 250);
	CU_ASSERT_EQUAL(fake_live_allocs(), allocs);
	CU_ASSERT_EQUAL(heap_bytes(), heap);
	/* far more than the event queue holds, with no pump in between */
	churn(A, 10000, 0);
	CU_ASSERT(fake_xs_events_dropped() > 0);
	CU_ASSERT_EQUAL(fake_live_allocs(), allocs);
	CU_ASSERT_EQUAL(heap_bytes(), heap);

	/* nothing was torn down or set up again meanwhile */
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), maps);
	expect_up(A);
	expect_up(B);
	CU_ASSERT(delivered(A, B));
	finish();
}

/* ---- 12. a vif disabled by the data path ---- */

static void test_hostile_ring(void)
{
	fe_init(A, 1, 0, false);
	fe_init(B, 2, 0, false);
	bring_up(A, "10.99.0.1");
	bring_up(B, "10.99.0.2");

	A->nf.tx.sring->req_prod = A->nf.tx.req_prod_pvt + RING_SIZE(&A->nf.tx) + 7;
	CU_ASSERT_EQUAL(fake_evtchn_kick(A->nf.domid, A->nf.port_tx), 0);
	pump();
	CU_ASSERT_EQUAL(ndisabled, 1);
	CU_ASSERT_EQUAL(be_state(A), XenbusStateClosing);
	CU_ASSERT_EQUAL(lookup(A).state, XenbusStateClosing);
	expect_down(A);
	expect_up(B);
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 2);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 1);
	/* it stays down while the frontend says Connected, whatever else
	 * happens to its directories */
	put(0, A->be, "hotplug-status", "connected");
	put(A->nf.domid, A->fe, "state", "4");
	pump();
	CU_ASSERT_EQUAL(be_state(A), XenbusStateClosing);
	expect_down(A);
	CU_ASSERT_EQUAL(ndisabled, 1);

	/* the guest restarts its frontend: served again */
	fe_state(A, XenbusStateClosed);
	pump();
	CU_ASSERT_EQUAL(be_state(A), XenbusStateClosed);
	nf_rings_init(&A->nf, 0);
	fe_state(A, XenbusStateInitialising);
	pump();
	CU_ASSERT_EQUAL(be_state(A), XenbusStateInitWait);
	fe_state(A, XenbusStateConnected);
	pump();
	expect_up(A);
	CU_ASSERT(delivered(A, B));
	CU_ASSERT(delivered(B, A));
	finish();
}

/*
 * 10,000 connect/disconnect cycles of one frontend (Connected, Closing,
 * Closed, Initialising, Connected again), as a guest reloading its netfront
 * in a loop would make: the daemon's memory, the fake's objects, the grant
 * mappings and the bound channels all stay at their one-connection level,
 * and both guests still talk at the end. The heap is compared over the
 * last 9,000 cycles, after the allocator has settled; a leak of one small
 * allocation per cycle (32 bytes) would add 288 kB.
 */
static void test_connect_cycles(void)
{
	size_t heap0 = 0, live0 = 0;
	unsigned int n;
	int quiet;

	fe_init(A, 1, 0, false);
	fe_init(B, 2, 0, false);
	bring_up(A, "10.99.0.1");
	bring_up(B, "10.99.0.2");
	/* 40,000 lines of "connected" and "disconnected" say nothing. */
	quiet = dup(STDERR_FILENO);
	CU_ASSERT_FATAL(quiet >= 0 && freopen("/dev/null", "w", stderr) != NULL);
	for (n = 1; n <= 10000; n++) {
		fe_state(A, XenbusStateClosing);
		pump();
		fe_state(A, XenbusStateClosed);
		pump();
		if (be_state(A) != XenbusStateClosed || fake_gnt_mapped_count() != 2)
			break;
		nf_rings_init(&A->nf, 0);
		fe_state(A, XenbusStateInitialising);
		pump();
		fe_state(A, XenbusStateConnected);
		pump();
		if (be_state(A) != XenbusStateConnected || fake_gnt_mapped_count() != 4 ||
		    fake_evtchn_bound_count() != 2)
			break;
		if (n == 1000) {
			heap0 = heap_bytes();
			live0 = fake_live_allocs();
		}
	}
	fflush(stderr);
	CU_ASSERT_FATAL(dup2(quiet, STDERR_FILENO) == STDERR_FILENO);
	close(quiet);
	CU_ASSERT_EQUAL(n, 10001); /* every cycle ended Connected */
	expect_up(A);
	CU_ASSERT(heap_bytes() <= heap0 + 16384);
	CU_ASSERT(heap0 != 0);
	CU_ASSERT_EQUAL(fake_live_allocs(), live0);
	CU_ASSERT(delivered(A, B));
	CU_ASSERT(delivered(B, A));
	finish();
}

/*
 * xenstored goes away (restarted without a live update, keeping its state):
 * the connection is lost, but the vifs carry on as they are and nothing
 * read meanwhile is acted on (a failed read is not a missing key). Once
 * xenstored answers again, the daemon connects again within a second,
 * watches again, and applies what changed meanwhile; the frontends'
 * watches work again too.
 */
static void test_xenstored_restart(void)
{
	struct xb_stats st;

	fe_init(A, 1, 0, false);
	fe_init(B, 2, 0, false);
	bring_up(A, "10.99.0.1");
	bring_up(B, "10.99.0.2");
	fake_xs_drop_connections();
	fake_xs_set_down(true);
	fake_clock_advance(2100); /* the idle check is due */
	pump();
	xb_get_stats(xb, &st);
	CU_ASSERT_EQUAL(st.xenstore_lost, 1);
	expect_up(A);
	expect_up(B);
	CU_ASSERT(delivered(A, B));
	CU_ASSERT(delivered(B, A));
	/* meanwhile the toolstack gives A another address */
	put(0, A->be, "ip", "10.99.0.1 10.99.0.31");
	fake_clock_advance(1100);
	pump();
	CU_ASSERT_PTR_NULL(owner("10.99.0.31")); /* still down: not seen */
	expect_up(A);

	fake_xs_set_down(false);
	fake_clock_advance(1100);
	pump();
	CU_ASSERT_PTR_EQUAL(owner("10.99.0.31"), vif_of(A));
	expect_up(A);
	expect_up(B);
	CU_ASSERT(delivered(A, B));
	/* the frontend watches are back: A's frontend closing is seen */
	fe_state(A, XenbusStateClosing);
	pump();
	CU_ASSERT_EQUAL(be_state(A), XenbusStateClosing);
	expect_down(A);
	xb_get_stats(xb, &st);
	CU_ASSERT_EQUAL(st.xenstore_lost, 1);
	finish();
}

/* ---- daemon restart ---- */

static void test_daemon_restart(void)
{
	fe_init(A, 1, 0, false);
	bring_up(A, "10.99.0.1");
	finish();
	CU_ASSERT_EQUAL(be_state(A), XenbusStateConnected); /* as left */

	/* a new daemon finds the vif and serves it again: in its first
	 * pass, without writing InitWait over Connected */
	dp = dp_new(nf_be_mac, on_disable, &ndisabled);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dp);
	xb = xb_new(dp);
	CU_ASSERT_PTR_NOT_NULL_FATAL(xb);
	xb_process(xb);
	CU_ASSERT(dp_vif_connected(vif_of(A)));
	CU_ASSERT_EQUAL(be_state(A), XenbusStateConnected);
	pump();
	expect_up(A);
	CU_ASSERT_PTR_EQUAL(owner("10.99.0.1"), vif_of(A));
	finish();
}

/* ---- multi-queue frontends (netif.h "Multi-queue") ---- */

#define MQ_MAX 4
/* A's queues 1.. when it has several; queue 0 is A->nf. */
static struct nf mq_nf[MQ_MAX - 1];
/* mq_publish() writes the queues' keys under queue-N/ even for one. */
static bool mq_force_dirs;

static struct nf *mq_q(unsigned int k)
{
	return k ? &mq_nf[k - 1] : &A->nf;
}

static void mq_free(void)
{
	for (unsigned int k = 0; k < MQ_MAX - 1; k++)
		nf_free(&mq_nf[k]);
	mq_force_dirs = false;
}

/* A with nq queues, each with its rings and channel(s) (two if split). */
static void mq_fe_init(unsigned int nq, bool split)
{
	const struct nf_params p = {.nbuf = NBUF, .split = split};

	fe_init(A, 1, 0, split);
	for (unsigned int k = 1; k < nq; k++)
		CU_ASSERT_EQUAL_FATAL(nf_init(&mq_nf[k - 1], 1, &p), 0);
}

/* A's keys as a multi-queue netfront writes them: for one queue, those of
 * fe_publish(); for more, multi-queue-num-queues and each queue's keys
 * under queue-N/. */
static void mq_publish(unsigned int nq)
{
	if (nq == 1 && !mq_force_dirs) {
		fe_publish(A);
		return;
	}
	put_u(A->nf.domid, A->fe, "multi-queue-num-queues", nq);
	for (unsigned int k = 0; k < nq; k++) {
		const struct nf *q = mq_q(k);
		char dir[128];

		snprintf(dir, sizeof(dir), "%s/queue-%u", A->fe, k);
		put_u(q->domid, dir, "tx-ring-ref", q->tx_ref);
		put_u(q->domid, dir, "rx-ring-ref", q->rx_ref);
		if (q->params.split) {
			put_u(q->domid, dir, "event-channel-tx", q->port_tx);
			put_u(q->domid, dir, "event-channel-rx", q->port_rx);
		} else {
			put_u(q->domid, dir, "event-channel", q->port_tx);
		}
	}
	put(A->nf.domid, A->fe, "request-rx-copy", "1");
	put(A->nf.domid, A->fe, "feature-rx-notify", "1");
	put(A->nf.domid, A->fe, "feature-sg", "1");
}

/* A with nq queues (split or not) on a daemon offering max, its keys as
 * mq_publish() writes them with key (relative to the frontend directory)
 * set to val (NULL: removed, key NULL: none), goes Connected. */
static void mq_connect(unsigned int max, unsigned int nq, bool split, const char *key,
		       const char *val)
{
	char p[160];

	CU_ASSERT_FATAL(dp_set_max_queues(dp, max));
	mq_fe_init(nq, split);
	toolstack_add(A, "10.99.0.1");
	pump();
	snprintf(p, sizeof(p), "%u", max);
	CU_ASSERT(key_is(A->be, "multi-queue-max-queues", p));
	hotplug(A);
	mq_publish(nq);
	if (key && val) {
		put(A->nf.domid, A->fe, key, val);
	} else if (key) {
		path_of(p, sizeof(p), A->fe, key);
		CU_ASSERT_EQUAL(fake_xs_rm_as(A->nf.domid, p), 0);
	}
	fe_state(A, XenbusStateConnected);
	pump();
}

/* Fresh daemon and guests for the next case. */
static void mq_next(void)
{
	finish();
	fake_reset();
	fe_free(A);
	mq_free();
	start();
}

/* One layout the daemon must refuse, with err in hotplug-error. */
static void mq_refused(unsigned int max, unsigned int nq, bool split, const char *key,
		       const char *val, const char *err)
{
	mq_connect(max, nq, split, key, val);
	expect_refused(A);
	if (!key_has(A->be, "hotplug-error", err)) {
		char *e = get(A->be, "hotplug-error");

		fprintf(stderr, "\n  case %u/%u %s=%s: hotplug-error \"%s\"\n", max, nq,
			key ? key : "-", val ? val : "(none)", e ? e : "(none)");
		free(e);
		CU_FAIL("not refused as expected");
	}
	mq_next();
}

/* One layout the daemon must connect, with nq queues. */
static void mq_accepted(unsigned int max, unsigned int nq, bool split, const char *key,
			const char *val)
{
	unsigned int nports = split ? 2 : 1;

	mq_connect(max, nq, split, key, val);
	expect_up(A);
	CU_ASSERT(key_is(A->be, "hotplug-error", NULL));
	CU_ASSERT_EQUAL(dp_vif_nqueues(vif_of(A)), nq);
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 2 * nq);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), nports * nq);
	for (unsigned int k = 0; k < nq; k++) {
		CU_ASSERT_NOT_EQUAL(fake_evtchn_peer(1, mq_q(k)->port_tx), 0);
		CU_ASSERT_NOT_EQUAL(fake_evtchn_peer(1, mq_q(k)->port_rx), 0);
	}
	mq_next();
}

static void test_mq_key_grid(void)
{
	static const char *const not_numbers[] = {"abc", "", "2x", "-1", " 2", "+2", "99999999999"};
	const char *nq = "multi-queue-num-queues";

	/* good: a single-queue frontend (no num-queues), num-queues 1 with
	 * the top-level keys (netif.h; Linux reads them so), 2 and 4 queues,
	 * one or two channels each */
	mq_accepted(4, 1, false, NULL, NULL);
	mq_accepted(4, 1, true, NULL, NULL);
	mq_accepted(1, 1, false, NULL, NULL);
	mq_accepted(4, 1, false, nq, "1");
	mq_accepted(4, 2, false, NULL, NULL);
	mq_accepted(4, 2, true, NULL, NULL);
	mq_accepted(4, 4, false, NULL, NULL);
	mq_accepted(4, 4, true, NULL, NULL);
	mq_accepted(8, 4, true, NULL, NULL);

	/* the number of queues */
	mq_refused(4, 2, false, nq, "0", "multi-queue-num-queues 0 is not from 1");
	mq_refused(4, 2, false, nq, "5", "not from 1 to multi-queue-max-queues 4");
	for (size_t i = 0; i < sizeof(not_numbers) / sizeof(not_numbers[0]); i++)
		mq_refused(4, 2, false, nq, not_numbers[i], "is not a number");
	mq_refused(1, 2, false, NULL, NULL, "multi-queue-max-queues 1");
	mq_refused(2, 4, false, NULL, NULL, "multi-queue-max-queues 2");
	/* num-queues 1 means the top-level keys: queue-0/ alone is not them */
	mq_force_dirs = true;
	mq_refused(4, 1, false, NULL, NULL, "frontend has no valid tx-ring-ref/rx-ring-ref");

	/* a queue missing, or a key of one */
	mq_refused(4, 2, false, "queue-1", NULL, "no queue-1");
	mq_refused(4, 4, false, "queue-3", NULL, "no queue-3");
	mq_refused(4, 4, false, "queue-3/rx-ring-ref", NULL,
		   "queue-3 has no valid tx-ring-ref/rx-ring-ref");
	mq_refused(4, 2, false, "queue-0/tx-ring-ref", NULL, "queue-0 has no valid tx-ring-ref");
	mq_refused(4, 2, false, "queue-1/event-channel", NULL,
		   "queue-1 has no valid event-channel");
	/* each queue's keys parsed as strictly as the top-level ones */
	mq_refused(4, 2, false, "queue-0/tx-ring-ref", "12abc", "queue-0 has no valid");
	mq_refused(4, 2, false, "queue-1/rx-ring-ref", "4294967296", "queue-1 has no valid");
	mq_refused(4, 2, false, "queue-1/event-channel", "-1", "queue-1 has no valid");
	mq_refused(4, 2, true, "queue-1/event-channel-rx", NULL,
		   "queue-1 has no valid event-channel-tx/event-channel-rx pair");
	mq_refused(4, 2, false, "queue-1/event-channel-tx", "7",
		   "queue-1 has no valid event-channel-tx/event-channel-rx pair");
	/* well-formed, but not the guest's: what queue 0 set up is released */
	mq_refused(4, 2, false, "queue-1/rx-ring-ref", "5000", "queue 1: mapping rx-ring-ref");
	mq_refused(4, 4, true, "queue-3/event-channel-rx", "999", "queue 3: binding event");

	/* a mix of layouts: num-queues with top-level ring keys */
	mq_refused(4, 2, false, "tx-ring-ref", "8", "top-level tx-ring-ref");
	mq_refused(4, 2, false, "event-channel", "5", "top-level event-channel");
	mq_refused(4, 4, true, "event-channel-rx", "5", "top-level event-channel-rx");
	finish();
}

/* A 4-queue vif carries traffic from each of its queues, and to it on
 * the queue its flow hashes to; disconnect releases every queue. */
static void test_mq_traffic(void)
{
	uint8_t pkt[128];
	netif_rx_response_t rsp;
	const uint8_t *d;
	unsigned int got = 0;

	mq_connect(4, 4, false, NULL, NULL);
	expect_up(A);
	fe_init(B, 2, 0, false);
	bring_up(B, "10.99.0.2");
	CU_ASSERT_EQUAL(nf_post_rx(&B->nf, 8), 0);
	for (unsigned int k = 0; k < 4; k++) {
		struct nf *q = mq_q(k);
		size_t len = udp4(pkt, A, B->nf.ip4, 20 + k);

		CU_ASSERT_EQUAL(nf_post_rx(q, 4), 0);
		CU_ASSERT_EQUAL(nf_queue_tx(q, pkt, len, NULL, 1, 0, NULL), 0);
		CU_ASSERT_EQUAL(nf_push_tx(q), 0);
	}
	pump();
	for (unsigned int k = 0; k < 4; k++)
		CU_ASSERT_EQUAL(nf_reap_tx(mq_q(k), NULL), 1);
	CU_ASSERT_EQUAL(nf_reap_rx(&B->nf), 4);

	/* B to A: on the queue dp_flow_hash() names */
	{
		size_t len = udp4(pkt, B, A->nf.ip4, 60);
		unsigned int want = dp_flow_hash(pkt, len) % 4;

		CU_ASSERT_EQUAL(nf_queue_tx(&B->nf, pkt, len, NULL, 1, 0, NULL), 0);
		CU_ASSERT_EQUAL(nf_push_tx(&B->nf), 0);
		pump();
		for (unsigned int k = 0; k < 4; k++) {
			while (nf_take_rx(mq_q(k), &rsp, &d, NULL)) {
				CU_ASSERT_EQUAL(k, want);
				CU_ASSERT_EQUAL(rsp.status, (int16_t)len);
				got++;
			}
		}
		CU_ASSERT_EQUAL(got, 1);
	}
	CU_ASSERT_EQUAL(dp_vif_stats(vif_of(A))->tx_pkts, 4);
	CU_ASSERT_EQUAL(dp_vif_stats(vif_of(A))->rx_pkts, 1);

	fe_state(A, XenbusStateClosing);
	pump();
	CU_ASSERT_FALSE(connected(A));
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 2); /* B's */
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 1);
	finish();
}

CU_ErrorCode test_xenbus_register(void)
{
	CU_pSuite s = CU_add_suite_with_setup_and_teardown("xenbus", NULL, NULL, setup, teardown);

	if (!s)
		return CU_get_error();
	CU_add_test(s, "new backend directory", test_new_backend_dir);
	CU_add_test(s, "connect", test_connect);
	CU_add_test(s, "connect waits for hotplug", test_connect_waits_for_hotplug);
	CU_add_test(s, "split event channels", test_split_channels);
	CU_add_test(s, "no request-rx-copy", test_no_rx_copy);
	CU_add_test(s, "bad frontend keys", test_bad_frontend_keys);
	CU_add_test(s, "frontend close and restart", test_frontend_close_and_restart);
	CU_add_test(s, "toolstack removal", test_toolstack_removal);
	CU_add_test(s, "removed while connected", test_removed_while_connected);
	CU_add_test(s, "@releaseDomain", test_release_domain);
	CU_add_test(s, "@releaseDomain, directory left", test_release_domain_only);
	CU_add_test(s, "domid re-used within one pass", test_domid_reused);
	CU_add_test(s, "rate key", test_rate_key);
	CU_add_test(s, "vifname and domain name", test_names);
	CU_add_test(s, "mtu key", test_mtu_key);
	CU_add_test(s, "frontend backend and mac keys ignored", test_frontend_pointers);
	CU_add_test(s, "not offered: queues, ctrl ring", test_not_offered);
	CU_add_test(s, "ip registration", test_ip_registration);
	CU_add_test(s, "ip mutual conflict", test_ip_mutual_conflict);
	CU_add_test(s, "ip released by removal", test_ip_released_by_removal);
	CU_add_test(s, "frontend path mismatch", test_frontend_path_mismatch);
	CU_add_test(s, "frontend key churn", test_key_churn);
	CU_add_test(s, "hostile ring after connect", test_hostile_ring);
	CU_add_test(s, "10,000 connect/disconnect cycles", test_connect_cycles);
	CU_add_test(s, "xenstored restart", test_xenstored_restart);
	CU_add_test(s, "daemon restart", test_daemon_restart);
	CU_add_test(s, "multi-queue key grid", test_mq_key_grid);
	CU_add_test(s, "multi-queue traffic", test_mq_traffic);
	return CU_get_error();
}
