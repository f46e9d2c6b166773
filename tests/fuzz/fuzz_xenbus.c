/* SPDX-License-Identifier: MIT */
/*
 * fuzz_xenbus.c - libFuzzer target for the control path (xenbus.c, with
 * xbstate.c and the data path under it) against the fake xenstore. The
 * input is a program for two guests, each with a real fake netfront behind
 * its vif: it writes and removes their frontend keys (every key netfront
 * writes, and others, those of two queues too, netif.h "Multi-queue") with
 * valid values (their own ring refs and ports),
 * junk and raw bytes, flips their state, and plays the toolstack: the
 * backend `online`, `state`, `hotplug-status`, `ip` and `rate` keys, the
 * removal and re-creation of a backend directory, and a domain's death and
 * re-birth under the same domid; and xenstored itself going away (every
 * connection lost) and coming back. In between it runs the main loop's
 * steps.
 *
 * Any sanitizer report is a bug, and so is a failed CHECK: the daemon
 * settles after each step (it does not keep itself busy), a vif it has
 * connected is one it published as Connected, and once the daemon is freed
 * nothing is mapped, bound, open or watched. Every run starts from an empty
 * fake host, so LeakSanitizer sees each run's leaks.
 *
 * Input: operations, each an opcode byte and its arguments; reads past the
 * end give zeros.
 */
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* First: through dp.h it supplies the barriers Xen's ring.h needs. */
#include "ipnb/xenbus.h"

#include <xen/io/xenbus.h>

#include "fakeclock.h"
#include "fakexen.h"
#include "fuzz.h"
#include "netfront.h"

#define NGUEST	  2u
#define MAX_OPS	  300
#define PUMP_MAX  32 /* main-loop passes before the daemon must have settled */
#define VALUE_MAX 40

#define MAX_LIVES 8 /* domains per guest slot: a death, then the same domid again */

struct guest {
	struct nf nf;
	struct nf q1; /* a second queue's rings and channels (split) */
	/* Earlier lives' netfronts: their pages stay until the daemon is
	 * gone, as a grant mapping keeps a dead guest's page on real Xen. */
	struct nf past[MAX_LIVES], past_q1[MAX_LIVES];
	unsigned int lives;
	uint32_t domid;
	char be[64], fe[64];
	bool alive, listed; /* domain alive; backend directory written */
};

static struct dp *dp;
static struct xb *xb;
static struct guest guests[NGUEST];

/* Every key netfront writes, some it may write, and one nobody reads. */
static const char *const fe_keys[] = {"state",
				      "tx-ring-ref",
				      "rx-ring-ref",
				      "event-channel",
				      "event-channel-tx",
				      "event-channel-rx",
				      "request-rx-copy",
				      "feature-sg",
				      "feature-rx-notify",
				      "feature-no-csum-offload",
				      "feature-ipv6-csum-offload",
				      "multi-queue-num-queues",
				      "feature-gso-tcpv4",
				      "mac",
				      "backend",
				      "junk"};

/* The keys of a multi-queue netfront (netif.h "Multi-queue"), with the
 * daemon offering 2 queues: a queue's directory and keys, and one beyond
 * the number offered. */
static const char *const mq_keys[] = {"multi-queue-num-queues",	  "queue-0/tx-ring-ref",
				      "queue-0/rx-ring-ref",	  "queue-0/event-channel",
				      "queue-1/tx-ring-ref",	  "queue-1/rx-ring-ref",
				      "queue-1/event-channel",	  "queue-1/event-channel-tx",
				      "queue-1/event-channel-rx", "queue-1",
				      "queue-2/tx-ring-ref"};
#define NKEYS(a) (sizeof(a) / sizeof((a)[0]))

static const char *const junk[] = {
    "",	   "0",	 "1",  "2",    "4",   "-1", "4294967295", "4294967296",
    "abc", " 7", "7 ", "0x10", "1e9", "01", "+4",	  "99999999999999999999"};

static const char *const ips[] = {"10.99.0.1",	  "10.99.0.2", "10.99.0.1 fd00::1",   "",
				  "10.99.0.1/33", "junk",      "10.99.0.2 10.99.0.1", "fe80::1"};
static const char *const rates[] = {
    "62500,50000", "1,1", "0,5", "junk", "", "1,4294967296", "18446744073709551615,1"};

static bool readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) == 1;
}

/* The main loop until nothing is pending; the daemon must settle. */
static void pump(void)
{
	for (int i = 0; i < PUMP_MAX; i++) {
		int t;

		xb_handle_events(xb);
		dp_handle_events(dp);
		xb_process(xb);
		t = dp_run(dp);
		xb_process(xb);
		if (t != 0 && !readable(xb_fd(xb)) && !readable(dp_evtchn_fd(dp)))
			return;
	}
	CHECK(!"the daemon did not settle");
}

static void seen(void *arg, const struct xb_vif_info *vi)
{
	(void)arg;
	/* Connected in the data path only once published as Connected. */
	CHECK(!dp_vif_connected(vi->dv) || vi->state == XenbusStateConnected);
	/* Whatever the keys held, the names stay short and printable. */
	CHECK(strlen(vi->name) > 0 && strlen(vi->name) < 24);
	CHECK(strlen(vi->domain) <= XB_DOMAIN_MAX);
	for (const char *c = vi->domain; *c; c++)
		CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
}

static void put(uint32_t as, const char *dir, const char *key, const char *val)
{
	char p[160];

	snprintf(p, sizeof(p), "%s/%s", dir, key);
	fake_xs_write_as(as, p, val); /* a refused write is part of the game */
}

static void put_u(uint32_t as, const char *dir, const char *key, unsigned long v)
{
	char b[24];

	snprintf(b, sizeof(b), "%lu", v);
	put(as, dir, key, b);
}

/* A guest's domain and netfront (again, after a death: same domid, new
 * rings and ports). */
static void guest_birth(struct guest *g)
{
	const struct nf_params p = {.nbuf = 2};
	const struct nf_params p1 = {.nbuf = 2, .split = true};

	if (g->lives == MAX_LIVES)
		return;
	if (g->lives++) {
		g->past[g->lives - 2] = g->nf;
		g->past_q1[g->lives - 2] = g->q1;
	}
	memset(&g->nf, 0, sizeof(g->nf));
	memset(&g->q1, 0, sizeof(g->q1));
	CHECK(fake_domain_create(g->domid) == 0);
	CHECK(nf_init(&g->nf, g->domid, &p) == 0);
	CHECK(nf_init(&g->q1, g->domid, &p1) == 0);
	g->alive = true;
}

/* What libxl writes for a new vif. */
static void toolstack_add(struct guest *g, const char *ip)
{
	const struct xs_permissions fe_perms[2] = {{.id = g->domid, .perms = XS_PERM_NONE},
						   {.id = 0, .perms = XS_PERM_READ}};
	const struct xs_permissions be_perms[2] = {{.id = 0, .perms = XS_PERM_NONE},
						   {.id = g->domid, .perms = XS_PERM_READ}};
	char mac[18];

	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", g->nf.mac[0], g->nf.mac[1],
		 g->nf.mac[2], g->nf.mac[3], g->nf.mac[4], g->nf.mac[5]);
	put(0, g->fe, "backend", g->be);
	fake_xs_set_perms_as(0, g->fe, fe_perms, 2);
	put(0, g->fe, "state", "1");
	put(0, g->be, "frontend", g->fe);
	fake_xs_set_perms_as(0, g->be, be_perms, 2);
	put_u(0, g->be, "frontend-id", g->domid);
	put(0, g->be, "online", "1");
	put(0, g->be, "state", "1");
	put(0, g->be, "mac", mac);
	put(0, g->be, "ip", ip);
	put(0, g->be, "hotplug-status", "connected");
	g->listed = true;
}

/* A frontend key's value: one that makes sense for it, junk, or raw bytes.
 * A queue's key (queue-N/...) makes sense with that queue's refs and
 * ports: queue 1's are q1's. */
static void fe_value(struct guest *g, const char *key, struct in *in, char *out, size_t n)
{
	uint8_t how = u8(in) % 4;
	const struct nf *q = strncmp(key, "queue-1/", 8) == 0 ? &g->q1 : &g->nf;

	if (strncmp(key, "queue-", 6) == 0 && strchr(key, '/'))
		key = strchr(key, '/') + 1;
	if (how == 0 && strcmp(key, "tx-ring-ref") == 0)
		snprintf(out, n, "%u", q->tx_ref);
	else if (how == 0 && strcmp(key, "rx-ring-ref") == 0)
		snprintf(out, n, "%u", q->rx_ref);
	else if (how == 0 && strncmp(key, "event-channel", 13) == 0)
		snprintf(out, n, "%u", strcmp(key, "event-channel-rx") ? q->port_tx : q->port_rx);
	else if (how <= 1)
		snprintf(out, n, "%u", u8(in) % 10);
	else if (how == 2)
		snprintf(out, n, "%s", junk[u8(in) % (sizeof(junk) / sizeof(junk[0]))]);
	else {
		size_t len = u8(in) % (n - 1);

		for (size_t i = 0; i < len; i++)
			out[i] = (char)(u8(in) | 1); /* no NUL inside */
		out[len] = '\0';
	}
}

/* Everything netfront writes to connect, then Connected. */
static void fe_connect(struct guest *g)
{
	put_u(g->domid, g->fe, "tx-ring-ref", g->nf.tx_ref);
	put_u(g->domid, g->fe, "rx-ring-ref", g->nf.rx_ref);
	put_u(g->domid, g->fe, "event-channel", g->nf.port_tx);
	put(g->domid, g->fe, "request-rx-copy", "1");
	put(g->domid, g->fe, "feature-sg", "1");
	put(g->domid, g->fe, "feature-rx-notify", "1");
	put(g->domid, g->fe, "state", "4");
}

/* The same as a netfront with two queues writes it: no ring key at the
 * top, queue 0 with one channel, queue 1 with two. */
static void fe_connect_mq(struct guest *g)
{
	static const char *const top[] = {"tx-ring-ref", "rx-ring-ref", "event-channel",
					  "event-channel-tx", "event-channel-rx"};
	char p[96];

	for (size_t i = 0; i < NKEYS(top); i++) {
		snprintf(p, sizeof(p), "%s/%s", g->fe, top[i]);
		fake_xs_rm_as(g->domid, p);
	}
	put(g->domid, g->fe, "multi-queue-num-queues", "2");
	put_u(g->domid, g->fe, "queue-0/tx-ring-ref", g->nf.tx_ref);
	put_u(g->domid, g->fe, "queue-0/rx-ring-ref", g->nf.rx_ref);
	put_u(g->domid, g->fe, "queue-0/event-channel", g->nf.port_tx);
	put_u(g->domid, g->fe, "queue-1/tx-ring-ref", g->q1.tx_ref);
	put_u(g->domid, g->fe, "queue-1/rx-ring-ref", g->q1.rx_ref);
	put_u(g->domid, g->fe, "queue-1/event-channel-tx", g->q1.port_tx);
	put_u(g->domid, g->fe, "queue-1/event-channel-rx", g->q1.port_rx);
	put(g->domid, g->fe, "request-rx-copy", "1");
	put(g->domid, g->fe, "state", "4");
}

static void op(struct in *in)
{
	struct guest *g = &guests[u8(in) % NGUEST];
	char val[VALUE_MAX], p[96];
	uint8_t o = u8(in);
	bool mq = (o / 13) & 1; /* the opcode's spare bits: multi-queue keys */

	switch (o % 13) {
	case 0:
	case 1: { /* a frontend key, as the guest (o / 13 odd: a queue's) */
		const char *key =
		    mq ? mq_keys[u8(in) % NKEYS(mq_keys)] : fe_keys[u8(in) % NKEYS(fe_keys)];

		fe_value(g, key, in, val, sizeof(val));
		put(g->domid, g->fe, key, val);
		break;
	}
	case 2: /* a frontend key goes */
		snprintf(p, sizeof(p), "%s/%s", g->fe,
			 mq ? mq_keys[u8(in) % NKEYS(mq_keys)] : fe_keys[u8(in) % NKEYS(fe_keys)]);
		fake_xs_rm_as(g->domid, p);
		break;
	case 3: /* a state, valid or not */
		put_u(g->domid, g->fe, "state", u8(in) % 10);
		break;
	case 4:
		if (mq)
			fe_connect_mq(g);
		else
			fe_connect(g);
		break;
	case 5: /* the toolstack: online, state, hotplug-status */
		switch (u8(in) % 4) {
		case 0:
			put(0, g->be, "online", u8(in) & 1 ? "1" : "0");
			break;
		case 1:
			put(0, g->be, "state", "5");
			break;
		case 2:
			put(0, g->be, "hotplug-status", u8(in) & 1 ? "connected" : "error");
			break;
		default:
			put_u(0, g->be, "frontend-id", u8(in) % 4);
			break;
		}
		break;
	case 6:
		put(0, g->be, "ip", ips[u8(in) % (sizeof(ips) / sizeof(ips[0]))]);
		break;
	case 7:
		put(0, g->be, "rate", rates[u8(in) % (sizeof(rates) / sizeof(rates[0]))]);
		break;
	case 8: /* the backend directory goes, or comes back */
		if (g->listed) {
			fake_xs_rm_as(0, g->be);
			g->listed = false;
		} else if (g->alive) {
			toolstack_add(g, ips[u8(in) % 2]);
		}
		break;
	case 9: /* the domain dies, or a new one gets the same domid */
		if (g->alive) {
			snprintf(p, sizeof(p), "/local/domain/%u", g->domid);
			fake_domain_destroy(g->domid);
			fake_xs_rm_as(0, p);
			g->alive = false;
		} else {
			guest_birth(g);
		}
		break;
	case 10: /* a kick, with or without work */
		if (g->alive)
			nf_kick(&g->nf, g->nf.port_tx);
		break;
	case 11: /* xenstored goes away (connections lost), or answers again */
		if (u8(in) & 1) {
			fake_xs_drop_connections();
			fake_xs_set_down(true);
		} else {
			fake_xs_set_down(false);
		}
		fake_clock_advance(1100); /* the check and the retry are due */
		break;
	default:
		pump();
		xb_foreach(xb, seen, NULL);
		break;
	}
}

/* The data path's callback, forwarded to the control path as main.c does. */
static void on_disable(void *arg, struct dp_vif *vif, const char *why)
{
	(void)arg;
	xb_on_disable(xb, vif, why);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = {data, size};

	fake_reset();
	fake_clock_reset();
	memset(guests, 0, sizeof(guests));
	dp = dp_new(nf_be_mac, on_disable, NULL);
	CHECK(dp);
	CHECK(dp_set_max_queues(dp, 2));
	xb = xb_new(dp);
	CHECK(xb);
	for (unsigned int i = 0; i < NGUEST; i++) {
		struct guest *g = &guests[i];

		g->domid = i + 1;
		snprintf(g->be, sizeof(g->be), "/local/domain/0/backend/vif/%u/0", g->domid);
		snprintf(g->fe, sizeof(g->fe), "/local/domain/%u/device/vif/0", g->domid);
		guest_birth(g);
		toolstack_add(g, i ? "10.99.0.2" : "10.99.0.1");
	}
	pump();
	for (int n = 0; n < MAX_OPS && in.n; n++)
		op(&in);
	pump();
	xb_foreach(xb, seen, NULL);

	/* The daemon goes: it leaves nothing of the guests' behind. */
	xb_free(xb);
	xb = NULL;
	dp_free(dp);
	dp = NULL;
	CHECK(fake_gnt_mapped_count() == 0);
	CHECK(fake_evtchn_bound_count() == 0);
	CHECK(fake_handles_open() == 0);
	CHECK(fake_xs_watch_count() == 0);
	fake_reset();
	for (unsigned int i = 0; i < NGUEST; i++) {
		nf_free(&guests[i].nf);
		nf_free(&guests[i].q1);
		for (unsigned int k = 0; k + 1 < guests[i].lives; k++) {
			nf_free(&guests[i].past[k]);
			nf_free(&guests[i].past_q1[k]);
		}
	}
	CHECK(fake_live_allocs() == 0);
	fake_clock_reset();
	return 0;
}
