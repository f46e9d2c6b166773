/* SPDX-License-Identifier: MIT */
/*
 * test_ctl.c - the control socket (netback/ctl.c): requests that arrive in
 * pieces, clients that never send or never read, the answers' framing, and
 * the text and JSON answers for a real vif, the uplink and the host port
 * (JSON compared as values, whatever the layout; the host port's name has
 * a quote in it, which the JSON must escape).
 * The daemon side runs on a real Unix socket in a temporary directory, with
 * the control path on the fake Xen libraries. The vif is brought up through
 * the fake xenstore as the toolstack and a netfront (netfront.h, domain 5)
 * would; the ports run in a fresh network namespace as in test_uplink.c
 * and test_host.c, so that test needs root, as they do.
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

/* First: through dp.h it supplies the barriers Xen's ring.h needs. */
#include "ipnb/xenbus.h"

#include "ipnb/cap.h"
#include "ipnb/ctl.h"
#include "ipnb/host.h"
#include "ipnb/uplink.h"

#include "fakexen.h"
#include "netfront.h"
#include "netns.h"
#include "suites.h"

#define GUEST  5u
#define VIF_BE "/local/domain/0/backend/vif/5/0"
#define VIF_FE "/local/domain/5/device/vif/0"
#define LAN_IF "ipnbl0"
/* A quote in the host port's name: the JSON answers must escape it. */
#define HOST_IF	     "ipnb\"t0"
#define HOST_IF_JSON "ipnb\\\"t0"

static const uint8_t dom0_ip4[4] = {10, 99, 0, 2};
static const uint8_t dom0_ip6[16] = {0xfd, [15] = 2};

static struct dp *dp;
static struct xb *xb;
static struct ctl *ctl;
static struct ul *ul;
static struct host *host;
static struct nf g;
static int tap = -1;
static bool in_ns;
static char dir[64], path[96];

/* The LAN (a TAP, as in test_uplink.c) and the host port in a fresh
 * namespace, with dom0's addresses on the LAN. */
static void ports_open(void)
{
	struct ul_cfg uc = {.ifname = LAN_IF};
	char err[256] = "";

	CU_ASSERT_FATAL(tns_enter());
	in_ns = true;
	tap = tns_tun_open(LAN_IF, true);
	CU_ASSERT_FATAL(tap >= 0);
	/* No duplicate-address detection: fd00::2 is usable at once. */
	CU_ASSERT_FATAL(tns_sysctl6(LAN_IF, "accept_dad", "0"));
	CU_ASSERT_FATAL(tns_if_set_up(LAN_IF, true));
	CU_ASSERT_FATAL(tns_addrs(LAN_IF, dom0_ip4, 24, dom0_ip6, 64));
	host = host_open(HOST_IF, dp, err, sizeof(err));
	if (!host)
		fprintf(stderr, "\n  %s\n", err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(host);
	ul = ul_open(&uc, dp, err, sizeof(err));
	if (!ul)
		fprintf(stderr, "\n  %s\n", err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ul);
}

/* The daemon as main.c opens it, with the ports or without. */
static void start_with(bool ports)
{
	fake_reset();
	dp = dp_new(nf_be_mac, NULL, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dp);
	if (ports)
		ports_open();
	xb = xb_new(dp);
	CU_ASSERT_PTR_NOT_NULL_FATAL(xb);
	snprintf(dir, sizeof(dir), "/tmp/ipnb-ctl-XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ctl.sock", dir);
	ctl = ctl_open(path, dp, xb, ul, host);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctl);
}

static void start(void)
{
	start_with(false);
}

static void finish(void)
{
	ctl_close(ctl);
	ctl = NULL;
	CU_ASSERT_EQUAL(access(path, F_OK), -1); /* the socket file is gone */
	rmdir(dir);
	xb_free(xb);
	xb = NULL;
	ul_close(ul);
	ul = NULL;
	host_close(host, true);
	host = NULL;
	dp_free(dp);
	dp = NULL;
	fake_reset();
	nf_free(&g);
	if (tap >= 0)
		close(tap);
	tap = -1;
	/* The namespace, now empty, goes away with everything in it. */
	if (in_ns)
		CU_ASSERT(tns_leave());
	in_ns = false;
}

/* ---- a vif, brought up through xenstore ---- */

/* Writes dir/key as dom0: who writes does not change what the socket
 * shows, and dom0 may write anywhere. */
static void xs_put(const char *d, const char *key, const char *val)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/%s", d, key);
	CU_ASSERT_EQUAL(fake_xs_write_as(0, p, val), 0);
}

static void xs_put_u(const char *d, const char *key, unsigned long v)
{
	char s[24];

	snprintf(s, sizeof(s), "%lu", v);
	xs_put(d, key, s);
}

/* The main loop's control and data steps, enough times for the state
 * machine and the rings to settle. */
static void pump(void)
{
	for (int i = 0; i < 8; i++) {
		xb_handle_events(xb);
		dp_handle_events(dp);
		xb_process(xb);
		dp_run(dp);
		xb_process(xb);
	}
}

/* The vif's backend state node says want. */
static bool be_state_is(const char *want)
{
	char *st = fake_xs_read(VIF_BE "/state");
	bool is = st && strcmp(st, want) == 0;

	free(st);
	return is;
}

/* GUEST's vif 0 from xl create to Connected, with the addresses in ip: the
 * toolstack's keys, the hotplug script's status, then netfront's keys. */
static void vif_up(const char *ip)
{
	const struct nf_params p = {.nbuf = 8};
	char mac[18];

	CU_ASSERT_EQUAL_FATAL(fake_domain_create(GUEST), 0);
	CU_ASSERT_EQUAL_FATAL(nf_init(&g, GUEST, &p), 0);
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", g.mac[0], g.mac[1], g.mac[2],
		 g.mac[3], g.mac[4], g.mac[5]);
	xs_put(VIF_FE, "state", "1");
	xs_put(VIF_BE, "frontend", VIF_FE);
	xs_put_u(VIF_BE, "frontend-id", GUEST);
	xs_put(VIF_BE, "online", "1");
	xs_put(VIF_BE, "state", "1");
	xs_put(VIF_BE, "mac", mac);
	xs_put(VIF_BE, "ip", ip);
	pump();
	xs_put(VIF_BE, "hotplug-status", "connected");
	xs_put_u(VIF_FE, "tx-ring-ref", g.tx_ref);
	xs_put_u(VIF_FE, "rx-ring-ref", g.rx_ref);
	xs_put_u(VIF_FE, "event-channel", g.port_tx);
	xs_put(VIF_FE, "request-rx-copy", "1");
	xs_put(VIF_FE, "feature-rx-notify", "1");
	xs_put(VIF_FE, "feature-sg", "1");
	xs_put(VIF_FE, "state", "4");
	pump();
	CU_ASSERT_FATAL(be_state_is("4")); /* Connected */
}

/* The guest sends frame f of len bytes and the loop runs. */
static void guest_send(const uint8_t *f, size_t len)
{
	unsigned int okay = 0;

	CU_ASSERT_EQUAL_FATAL(nf_queue_tx(&g, f, len, NULL, 1, 0, NULL), 0);
	CU_ASSERT_EQUAL(nf_push_tx(&g), 0);
	pump();
	CU_ASSERT_EQUAL(nf_reap_tx(&g, &okay), 1);
	CU_ASSERT_EQUAL(okay, 1);
}

static int client_at(const char *at)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

	CU_ASSERT_FATAL(fd >= 0);
	memcpy(sa.sun_path, at, strlen(at) + 1);
	CU_ASSERT_FATAL(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	return fd;
}

static int client(void)
{
	return client_at(path);
}

static void say(int fd, const char *s)
{
	CU_ASSERT_EQUAL(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* Runs the daemon's side once if its fd says there is work, as main.c does. */
static void serve(void)
{
	struct pollfd p = {.fd = ctl_fd(ctl), .events = POLLIN};

	if (poll(&p, 1, 0) == 1)
		ctl_handle_events(ctl);
}

/* Reads what the daemon sends until it closes the connection, serving in
 * between. Returns the answer, or NULL if it never ended. */
static char *answer_of(int fd)
{
	static char buf[65536];
	size_t len = 0;

	for (int i = 0; i < 1000; i++) {
		ssize_t n;

		serve();
		n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		if (n == 0) {
			buf[len] = '\0';
			return buf;
		}
		if (n > 0)
			len += (size_t)n;
		else if (errno != EAGAIN)
			return NULL;
	}
	return NULL;
}

/* Two JSON values are the same: same types, numbers written alike, same
 * strings, objects with the same members in the same order. Layout
 * (whitespace) does not count: the answers are indented by yajl. */
static bool json_val_same(yajl_val a, yajl_val b)
{
	if (!a || !b || a->type != b->type)
		return false;
	switch (a->type) {
	case yajl_t_string:
		return strcmp(a->u.string, b->u.string) == 0;
	case yajl_t_number:
		return strcmp(a->u.number.r, b->u.number.r) == 0;
	case yajl_t_object:
		if (a->u.object.len != b->u.object.len)
			return false;
		for (size_t i = 0; i < a->u.object.len; i++) {
			if (strcmp(a->u.object.keys[i], b->u.object.keys[i]) != 0 ||
			    !json_val_same(a->u.object.values[i], b->u.object.values[i]))
				return false;
		}
		return true;
	case yajl_t_array:
		if (a->u.array.len != b->u.array.len)
			return false;
		for (size_t i = 0; i < a->u.array.len; i++) {
			if (!json_val_same(a->u.array.values[i], b->u.array.values[i]))
				return false;
		}
		return true;
	default: /* true, false, null */
		return true;
	}
}

/* ANSWER is one JSON document, ending with a newline, equal to WANT. */
static bool json_same(const char *answer, const char *want)
{
	char err[128];
	yajl_val a, b;
	size_t n;
	bool same;

	if (!answer)
		return false;
	a = yajl_tree_parse(answer, err, sizeof(err));
	b = yajl_tree_parse(want, err, sizeof(err));
	n = strlen(answer);
	same = a && b && json_val_same(a, b) && n && answer[n - 1] == '\n';

	if (!same)
		fprintf(stderr, "\n  got:  %s\n  want: %s\n", answer, want);
	yajl_tree_free(a);
	yajl_tree_free(b);
	return same;
}

static void test_requests(void)
{
	static const struct {
		const char *req, *want;
	} cases[] = {
	    {"vifs json\n", "{\"vifs\": []}"},
	    {"vif 7/0\n", "error: no vif 7/0\n"},
	    {"vif 7/0 json\r\n", "error: no vif 7/0\n"},
	    {"uplink\n", "error: no uplink configured\n"},
	    {"host json\n", "error: no host port\n"},
	    {"bogus\n", "error: unknown request \"bogus\"\n"},
	    {"vif 70000/0\n", "error: unknown request \"vif 70000/0\"\n"},
	    {"vifs json", "{\"vifs\": []}"}, /* EOF also ends the request */
	};

	start();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int fd = client();
		char *a;

		say(fd, cases[i].req);
		if (!strchr(cases[i].req, '\n'))
			shutdown(fd, SHUT_WR);
		a = answer_of(fd);
		CU_ASSERT_PTR_NOT_NULL(a);
		if (a && strncmp(cases[i].want, "error", 5) == 0) {
			CU_ASSERT_STRING_EQUAL(a, cases[i].want);
		} else if (a) {
			CU_ASSERT(json_same(a, cases[i].want));
		}
		close(fd);
	}
	finish();
}

/* Sends req and returns the whole answer ("" if it never ended). */
static const char *ask(const char *req)
{
	int fd = client();
	const char *a;

	say(fd, req);
	a = answer_of(fd);
	close(fd);
	CU_ASSERT_PTR_NOT_NULL(a);
	return a ? a : "";
}

/* The vif's drops as text: only the datagram nobody holds (no_route). */
#define VIF_DROPS_TEXT                                                                             \
	"drops:\n"                                                                                 \
	"  tx_bad_request       0\n"                                                               \
	"  tx_copy_failed       0\n"                                                               \
	"  malformed            0\n"                                                               \
	"  spoofed_mac          0\n"                                                               \
	"  spoofed_ip           0\n"                                                               \
	"  spoofed_arp          0\n"                                                               \
	"  broadcast_multicast  0\n"                                                               \
	"  no_route             1\n"                                                               \
	"  unsupported_protocol 0\n"                                                               \
	"  rx_queue_full        0\n"                                                               \
	"  rx_timeout           0\n"                                                               \
	"  rx_too_big           0\n"                                                               \
	"  rx_copy_failed       0\n"                                                               \
	"  carrier_off          0\n"                                                               \
	"  no_buffer            0\n"                                                               \
	"  link_local           0\n"                                                               \
	"  bad_gso              0\n"                                                               \
	"  too_big              0\n"

/* The vif as one JSON object, as both JSON requests show it. */
#define VIF_JSON                                                                                   \
	"{\"domid\": 5, \"devid\": 0, \"name\": \"vif5.0\", \"domain\": \"web5\", "                \
	"\"state\": \"Connected\", \"connected\": true, "                                          \
	"\"carrier\": true, \"mac\": \"00:16:3e:00:00:05\", "                                      \
	"\"addresses\": [\"10.99.0.5\", \"fd00::5\"], \"queued\": 0, \"queued_bytes\": 0, "        \
	"\"tx_packets\": 2, "                                                                      \
	"\"tx_bytes\": 120, \"rx_packets\": 1, \"rx_bytes\": 60, \"arp_replies\": 1, "             \
	"\"na_replies\": 0, \"spurious_events\": 1, \"tx_credit_waits\": 0, "                      \
	"\"replayed_responses\": 0, \"tx_gso_packets\": 0, \"rx_gso_packets\": 0, "                \
	"\"gso_segments\": 0, \"icmp_too_big\": 0, \"ip_fragments\": 0, \"mtu\": 1500, "           \
	"\"queues\": 1, \"rate_bytes\": 0, "                                                       \
	"\"rate_usec\": 0, \"drops\": {\"tx_bad_request\": 0, "                                    \
	"\"tx_copy_failed\": 0, "                                                                  \
	"\"malformed\": 0, \"spoofed_mac\": 0, \"spoofed_ip\": 0, \"spoofed_arp\": 0, "            \
	"\"broadcast_multicast\": 0, \"no_route\": 1, \"unsupported_protocol\": 0, "               \
	"\"rx_queue_full\": 0, \"rx_timeout\": 0, \"rx_too_big\": 0, \"rx_copy_failed\": 0, "      \
	"\"carrier_off\": 0, \"no_buffer\": 0, \"link_local\": 0, \"bad_gso\": 0, \"too_big\": "   \
	"0}}"

/*
 * A connected vif with two addresses, after it sent an ARP request for
 * 10.99.0.1 (answered by the proxy into one of its RX buffers) and a
 * 60-byte datagram to 10.99.0.77, which nobody holds: every form of the
 * vif requests shows exactly those counters, its state, MAC and addresses.
 * One event was spurious: the guest's kick for the ARP request came while
 * the port was still masked for its RX buffers, and was delivered again
 * after the unmask, with its work done.
 */
static void test_vif_answers(void)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t gw[4] = {10, 99, 0, 1}, nobody[4] = {10, 99, 0, 77};
	uint8_t f[64];
	size_t len;

	start();
	xs_put("/local/domain/5", "name", "web5");
	vif_up("10.99.0.5 fd00::5");
	CU_ASSERT_EQUAL(nf_post_rx(&g, 4), 0);
	guest_send(f, nf_put_arp(f, bcast, g.mac, g.mac, g.ip4, gw, FRAME_ARP_REQUEST));
	memset(f, 0, sizeof(f));
	len = nf_put_eth_ip(f, false, nf_be_mac, g.mac, g.ip4, nobody, IPPROTO_UDP, 26) + 26;
	nf_ip4_csum(f);
	CU_ASSERT_EQUAL_FATAL(len, 60);
	guest_send(f, len);
	CU_ASSERT_EQUAL(nf_reap_rx(&g), 1); /* the ARP reply */

	CU_ASSERT_STRING_EQUAL(ask("vifs\n"), "VIF      NAME            DOMAIN       STATE        "
					      "CARRIER MAC                  TX-PKTS "
					      "   RX-PKTS    DROPS  ADDRESSES\n"
					      "5/0      vif5.0          web5         Connected    "
					      "up      00:16:3e:00:00:05          2 "
					      "         1        1  10.99.0.5 fd00::5\n");
	CU_ASSERT_STRING_EQUAL(ask("vif 5/0\n"), "vif                  5/0\n"
						 "name                 vif5.0\n"
						 "domain               web5\n"
						 "state                Connected\n"
						 "carrier              up\n"
						 "mac                  00:16:3e:00:00:05\n"
						 "addresses            10.99.0.5 fd00::5\n"
						 "queued               0\n"
						 "queued_bytes         0\n"
						 "tx_packets           2\n"
						 "tx_bytes             120\n"
						 "rx_packets           1\n"
						 "rx_bytes             60\n"
						 "arp_replies          1\n"
						 "na_replies           0\n"
						 "spurious_events      1\n"
						 "tx_credit_waits      0\n"
						 "replayed_responses   0\n"
						 "tx_gso_packets       0\n"
						 "rx_gso_packets       0\n"
						 "gso_segments         0\n"
						 "icmp_too_big         0\n"
						 "ip_fragments         0\n"
						 "mtu                  1500\n"
						 "queues               1\n"
						 "rate_bytes           0\n"
						 "rate_usec            0\n" VIF_DROPS_TEXT);
	CU_ASSERT(json_same(ask("vifs json\n"), "{\"vifs\": [" VIF_JSON "]}"));
	CU_ASSERT(json_same(ask("vif 5/0 json\n"), VIF_JSON));
	CU_ASSERT_STRING_EQUAL(ask("vif 5/1\n"), "error: no vif 5/1\n");
	finish();
}

/* A second control socket on the same path: refused while the first
 * answers, and the first keeps its socket; a stale socket file (nobody
 * listening) is replaced. */
static void test_socket_in_use(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct ctl *second;
	int fd;

	start();
	errno = 0;
	second = ctl_open(path, dp, xb, NULL, NULL);
	CU_ASSERT_PTR_NULL(second);
	CU_ASSERT_EQUAL(errno, EADDRINUSE);
	ctl_close(second);
	CU_ASSERT_EQUAL(access(path, F_OK), 0);
	CU_ASSERT_EQUAL(strncmp(ask("daemon\n"), "pid ", 4), 0);

	/* the first goes; a socket file nobody listens on is left behind */
	ctl_close(ctl);
	ctl = NULL;
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	CU_ASSERT_FATAL(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	CU_ASSERT_EQUAL(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	CU_ASSERT_EQUAL(access(path, F_OK), 0);
	ctl = ctl_open(path, dp, xb, NULL, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctl);
	CU_ASSERT_EQUAL(strncmp(ask("daemon\n"), "pid ", 4), 0);
	finish();
}

/* A numeric member of a JSON answer, or ULLONG_MAX if it is missing. */
static unsigned long long member(const char *a, const char *name)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "\"%s\": ", name);
	p = strstr(a, key);
	return p ? strtoull(p + strlen(key), NULL, 10) : ULLONG_MAX;
}

/*
 * The daemon's own counters: nothing before the first vif; then the watch
 * events that brought it up, one connect, and no failure; a refused connect
 * and a disconnect count too.
 */
static void test_daemon_answers(void)
{
	char a[512];
	unsigned long long ev;

	start();
	snprintf(a, sizeof(a), "%s", ask("daemon json\n"));
	CU_ASSERT(json_same(a, a)); /* well formed */
	CU_ASSERT_EQUAL(strncmp(a, "{\n  \"pid\": ", 11), 0);
	CU_ASSERT_EQUAL(member(a, "pid"), (unsigned long long)getpid());
	CU_ASSERT_EQUAL(member(a, "uptime_s"), 0);
	CU_ASSERT_EQUAL(member(a, "vifs"), 0);
	CU_ASSERT_EQUAL(member(a, "connects"), 0);
	CU_ASSERT_EQUAL(member(a, "disconnects"), 0);
	CU_ASSERT_EQUAL(member(a, "connect_failures"), 0);
	ev = member(a, "watch_events");
	CU_ASSERT(ev != ULLONG_MAX);

	vif_up("10.99.0.5 fd00::5");
	snprintf(a, sizeof(a), "%s", ask("daemon json\n"));
	CU_ASSERT_EQUAL(member(a, "vifs"), 1);
	CU_ASSERT_EQUAL(member(a, "connects"), 1);
	CU_ASSERT_EQUAL(member(a, "connect_failures"), 0);
	/* At least one event per key the toolstack and netfront wrote. */
	CU_ASSERT(member(a, "watch_events") >= ev + 14);
	CU_ASSERT_EQUAL(member(a, "disconnects"), 0);
	CU_ASSERT_EQUAL(member(a, "xenstore_lost"), 0);
	CU_ASSERT_EQUAL(member(a, "pool_bytes"), 0);
	CU_ASSERT_EQUAL(member(a, "captures"), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(a, "\"capture_drops\": 0\n}\n")); /* the last member */

	/* The frontend goes away, comes back with junk in a ring ref. */
	xs_put(VIF_FE, "state", "5");
	pump();
	xs_put(VIF_FE, "state", "1");
	pump();
	xs_put(VIF_FE, "tx-ring-ref", "junk");
	xs_put(VIF_FE, "state", "4");
	pump();
	snprintf(a, sizeof(a), "%s", ask("daemon\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(a, "\nvifs                 1\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(a, "\nconnects             1\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(a, "\nconnect_failures     1\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(a, "\ndisconnects          1\n"));
	CU_ASSERT_EQUAL(strncmp(a, "pid                  ", 21), 0);
	finish();
}

/*
 * "shutdown" stops the daemon with the vif left Connected; "shutdown
 * disconnect" first hands it back: data path disconnected, backend Closed.
 * Neither is taken with trailing words.
 */
static void test_shutdown(void)
{
	start();
	vif_up("10.99.0.5 fd00::5");
	CU_ASSERT_EQUAL(ctl_stop_requested(ctl), CTL_RUN);
	CU_ASSERT_STRING_EQUAL(ask("shutdown now\n"), "error: unknown request \"shutdown now\"\n");
	CU_ASSERT_EQUAL(ctl_stop_requested(ctl), CTL_RUN);
	CU_ASSERT_STRING_EQUAL(ask("shutdown\n"),
			       "stopping; vifs stay connected for the next ipnetbackd\n");
	CU_ASSERT_EQUAL(ctl_stop_requested(ctl), CTL_STOP);
	CU_ASSERT(be_state_is("4"));

	CU_ASSERT_STRING_EQUAL(ask("shutdown disconnect\n"),
			       "1 vif handed back (backend Closed); stopping\n");
	CU_ASSERT_EQUAL(ctl_stop_requested(ctl), CTL_STOP_DISCONNECT);
	CU_ASSERT(be_state_is("6"));
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 0);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 0);
	finish();
}

/*
 * The uplink and the host port, with the vif's two addresses registered:
 * the uplink has announced each on the LAN and the host port routes each
 * into its device. Nothing has crossed either port, and the uplink knows
 * no neighbour (the loop here never reads the LAN).
 */
static void test_port_answers(void)
{
	start_with(true);
	vif_up("10.99.0.5 fd00::5");

	CU_ASSERT_STRING_EQUAL(ask("uplink\n"), "uplink               " LAN_IF "\n"
						"rx_packets           0\n"
						"rx_bytes             0\n"
						"tx_packets           0\n"
						"tx_bytes             0\n"
						"arp_replies          0\n"
						"na_replies           0\n"
						"announcements        2\n"
						"tx_errors            0\n"
						"drops:\n"
						"  no_route             0\n"
						"  too_big              0\n"
						"  unresolved           0\n"
						"  tx_ring_full         0\n"
						"  rx_truncated         0\n"
						"  rx_guest_refused     0\n"
						"  spoofed_src          0\n"
						"neighbours:\n");
	CU_ASSERT(json_same(
	    ask("uplink json\n"),
	    "{\"uplink\": \"" LAN_IF "\", \"rx_packets\": 0, \"rx_bytes\": 0, \"tx_packets\": 0, "
	    "\"tx_bytes\": 0, \"arp_replies\": 0, \"na_replies\": 0, \"announcements\": 2, "
	    "\"tx_errors\": 0, \"drops\": {\"no_route\": 0, \"too_big\": 0, \"unresolved\": 0, "
	    "\"tx_ring_full\": 0, \"rx_truncated\": 0, \"rx_guest_refused\": 0, \"spoofed_src\": "
	    "0}, "
	    "\"neighbours\": "
	    "[]}"));
	CU_ASSERT_STRING_EQUAL(ask("host\n"), "host_port            " HOST_IF "\n"
					      "rx_packets           0\n"
					      "rx_bytes             0\n"
					      "tx_packets           0\n"
					      "tx_bytes             0\n"
					      "rx_gso_packets       0\n"
					      "tx_gso_packets       0\n"
					      "routes               2\n"
					      "drops:\n"
					      "  not_local            0\n"
					      "  no_guest             0\n"
					      "  malformed            0\n"
					      "  guest_full           0\n"
					      "  tx_failed            0\n"
					      "  route_error          0\n"
					      "  spoofed_src          0\n");
	CU_ASSERT(json_same(
	    ask("host json\n"),
	    "{\"host_port\": \"" HOST_IF_JSON
	    "\", \"rx_packets\": 0, \"rx_bytes\": 0, \"tx_packets\": 0, "
	    "\"tx_bytes\": 0, \"rx_gso_packets\": 0, \"tx_gso_packets\": 0, \"routes\": 2, "
	    "\"drops\": {\"not_local\": 0, \"no_guest\": 0, "
	    "\"malformed\": 0, \"guest_full\": 0, \"tx_failed\": 0, \"route_error\": 0, "
	    "\"spoofed_src\": 0}}"));
	finish();
}

/* Every sample of the metrics follows its own family's HELP and TYPE, and
 * each family comes once (the format's rule): true if so. */
static bool prom_grouped(const char *text)
{
	char fams[128][96];
	size_t nf = 0;
	const char *cur = NULL;
	bool ok = true;

	for (const char *l = text; ok && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : "") {
		char name[96];

		if (sscanf(l, "# TYPE %95s", name) == 1) {
			for (size_t i = 0; i < nf; i++)
				ok = ok && strcmp(fams[i], name) != 0;
			if (nf < 128)
				snprintf(fams[nf++], sizeof(fams[0]), "%s", name);
			cur = fams[nf - 1];
		} else if (*l != '#' && *l != '\n') {
			size_t n = strcspn(l, "{ ");

			ok = cur && strlen(cur) == n && strncmp(l, cur, n) == 0;
		}
	}
	return ok && nf > 0;
}

/* Prometheus's own checker (promtool, from Debian's prometheus package,
 * which `make unit` names in IPNB_PROMTOOL) accepts text: its syntax and
 * its lint rules (counters end in _total, base units, HELP on every
 * family). Without the tool the check fails: it is not skipped. */
static bool promtool_accepts(const char *text)
{
	const char *tool = getenv("IPNB_PROMTOOL");
	char file[128], cmd[512];
	FILE *f;
	int rc;

	if (!tool || access(tool, X_OK) != 0) {
		fprintf(stderr, "\n  IPNB_PROMTOOL does not name promtool (make unit sets it)\n");
		return false;
	}
	snprintf(file, sizeof(file), "%s/metrics.txt", dir);
	f = fopen(file, "w");
	if (!f)
		return false;
	fputs(text, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "'%s' check metrics <'%s' >&2", tool, file);
	rc = system(cmd);
	unlink(file);
	return rc == 0;
}

/* `metrics`: the Prometheus text, grouped by family, each vif sample with
 * its domid, devid, vifname (the backend's) and domain labels (a quote in
 * the domain's name escaped), the ports with their device's name. */
static void test_metrics(void)
{
	const char *m;

	start_with(true);
	xs_put("/local/domain/5", "name", "we\"b5");
	xs_put(VIF_BE, "vifname", "web5-eth0");
	xs_put(VIF_BE, "rate", "62500,50000");
	vif_up("10.99.0.5 fd00::5");
	m = ask("metrics\n");
	CU_ASSERT(prom_grouped(m));
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "# TYPE ipnetback_vif_tx_packets_total counter\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "# TYPE ipnetback_vif_queued gauge\n"));
#define VIF_LABELS "domid=\"5\",devid=\"0\",vifname=\"web5-eth0\",domain=\"we\\\"b5\""
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "\nipnetback_vif_tx_packets_total{" VIF_LABELS "} 0\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "\nipnetback_vif_connected{" VIF_LABELS "} 1\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "\nipnetback_vif_state{" VIF_LABELS "} 4\n"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(m, "\nipnetback_vif_rate_limit_bytes_per_second{" VIF_LABELS "} 1250000\n"));
	CU_ASSERT_PTR_NULL(strstr(m, "rate_usec"));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(m, "\nipnetback_vif_drops_total{" VIF_LABELS ",reason=\"no_route\"} 0\n"));
#undef VIF_LABELS
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(m, "\nipnetback_uplink_announcements_total{uplink=\"" LAN_IF "\"} 2\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "\nipnetback_uplink_neighbours{uplink=\"" LAN_IF
					 "\",state=\"reachable\"} 0\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "\nipnetback_host_routes{port=\"" HOST_IF_JSON "\"} 2\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "\nipnetback_host_drops_total{port=\"" HOST_IF_JSON
					 "\",reason=\"not_local\"} 0\n"));
	CU_ASSERT(promtool_accepts(m));
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "\nipnetback_vifs 1\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(m, "\nipnetback_connects_total 1\n"));
	CU_ASSERT_PTR_NULL(strstr(m, "pid"));
	finish();
}

/* The metrics listener: an HTTP GET of /metrics gets the same text with a
 * header whose length is the body's; other targets get 404; bad specs are
 * refused. */
static void test_metrics_listener(void)
{
	static const char *const bad[] = {"nonsense", "1.2.3.4",     "1.2.3.4:0",  "1.2.3.4:65536",
					  "[::1]",    "[::1]:",	     "host:80",	   "1.2.3.4:80x",
					  ":80",      "1.2.3.4: 80", "1.2.3.4:+80"};
	char err[256], mpath[128];
	const char *a, *body;
	unsigned long clen = 0;
	int fd;

	start();
	vif_up("10.99.0.5 fd00::5");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CU_ASSERT_EQUAL(ctl_listen_metrics(ctl, bad[i], err, sizeof(err)), -1);
	snprintf(mpath, sizeof(mpath), "%s/metrics.sock", dir);
	CU_ASSERT_EQUAL_FATAL(ctl_listen_metrics(ctl, mpath, err, sizeof(err)), 0);
	fd = client_at(mpath);
	say(fd, "GET /metrics HTTP/1.1\r\nHost: dom0\r\nAccept: */*\r\n\r\n");
	a = answer_of(fd);
	close(fd);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(strncmp(a, "HTTP/1.0 200 OK\r\n", 17), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(a, "Content-Type: text/plain; version=0.0.4"));
	CU_ASSERT_EQUAL(sscanf(strstr(a, "Content-Length: "), "Content-Length: %lu", &clen), 1);
	body = strstr(a, "\r\n\r\n");
	CU_ASSERT_PTR_NOT_NULL_FATAL(body);
	body += 4;
	CU_ASSERT_EQUAL(strlen(body), clen);
	CU_ASSERT(prom_grouped(body));
	CU_ASSERT_PTR_NOT_NULL(strstr(body, "vifname=\"vif5.0\""));
	fd = client_at(mpath);
	say(fd, "GET /other HTTP/1.1\r\n\r\n");
	a = answer_of(fd);
	close(fd);
	CU_ASSERT(a && strncmp(a, "HTTP/1.0 404", 12) == 0);
	finish();
	unlink(mpath);
	rmdir(dir);
}

/* The request line may come in pieces, with the daemon's loop running in
 * between: nothing is answered before the newline, and nothing blocks. */
static void test_request_in_pieces(void)
{
	int fd;
	char c;

	start();
	fd = client();
	say(fd, "vi");
	serve();
	serve();
	CU_ASSERT_EQUAL(recv(fd, &c, 1, 0), -1); /* no answer yet, no EOF */
	CU_ASSERT_EQUAL(errno, EAGAIN);
	say(fd, "f 3/1");
	serve();
	say(fd, "\n");
	CU_ASSERT_STRING_EQUAL(answer_of(fd), "error: no vif 3/1\n");
	close(fd);
	finish();
}

/* Clients that connect and send nothing hold slots; once all are taken the
 * oldest is dropped, and a new client is still answered. */
static void test_silent_clients(void)
{
	int fds[10], fd;

	start();
	for (size_t i = 0; i < 10; i++) {
		fds[i] = client();
		serve();
		usleep(2000); /* distinct connection times */
	}
	fd = client();
	serve();
	say(fd, "vif 1/0\n");
	CU_ASSERT_STRING_EQUAL(answer_of(fd), "error: no vif 1/0\n");
	close(fd);
	/* the first clients were dropped: they see EOF */
	char c;

	CU_ASSERT_EQUAL(recv(fds[0], &c, 1, 0), 0);
	CU_ASSERT_EQUAL(recv(fds[1], &c, 1, 0), 0);
	/* the newest silent client still holds its slot and is answered */
	say(fds[9], "vif 2/0\n");
	CU_ASSERT_STRING_EQUAL(answer_of(fds[9]), "error: no vif 2/0\n");
	for (size_t i = 0; i < 10; i++)
		close(fds[i]);
	finish();
}

/* A client that hangs up without a request, or before reading its answer,
 * costs nothing: the slot comes back and the next client is answered. */
static void test_clients_hang_up(void)
{
	int fd;

	start();
	for (int i = 0; i < 20; i++) {
		fd = client();
		if (i % 2)
			say(fd, "vifs json\n");
		close(fd);
		serve();
		serve();
	}
	fd = client();
	say(fd, "vifs json\n");
	CU_ASSERT(json_same(answer_of(fd), "{\"vifs\": []}"));
	close(fd);
	finish();
}

/* ---- capture --------------------------------------------------------------- */

/* Reads exactly n bytes of a capture stream into b, running the daemon's
 * side in between; false if the stream ended or stalled first. */
static bool cap_read(int fd, void *b, size_t n)
{
	size_t got = 0;

	for (int i = 0; i < 2000 && got < n; i++) {
		ssize_t r;

		serve();
		ctl_run(ctl);
		r = recv(fd, (uint8_t *)b + got, n - got, 0);
		if (r == 0)
			return false;
		if (r > 0)
			got += (size_t)r;
		else if (errno != EAGAIN)
			return false;
	}
	return got == n;
}

/* Starts a capture with req and checks its answer line. */
static int cap_start(const char *req, const char *hello)
{
	int fd = client();
	char line[32] = "";

	say(fd, req);
	CU_ASSERT_FATAL(strlen(hello) < sizeof(line));
	CU_ASSERT(cap_read(fd, line, strlen(hello)));
	CU_ASSERT_STRING_EQUAL(line, hello);
	return fd;
}

/* The next record, its frame in f (room for n bytes). */
static bool cap_next(int fd, struct cap_rec *r, uint8_t *f, size_t n)
{
	if (!cap_read(fd, r, sizeof(*r)) || r->caplen > n)
		return false;
	return cap_read(fd, f, r->caplen);
}

/* Nothing more is waiting on fd (after the daemon had its turn). */
static bool cap_quiet(int fd)
{
	uint8_t b;

	serve();
	ctl_run(ctl);
	return recv(fd, &b, 1, MSG_PEEK) < 0 && errno == EAGAIN;
}

/*
 * Two captures of one vif: the first sees both directions whole (the
 * guest's ARP request as sent, the reply as written into its RX ring), the
 * second only what the guest received, cut to 20 bytes. Bad requests, a
 * vif that does not exist and a ninth capture are refused; a client that
 * hangs up ends its capture, and the last one takes the tap away.
 */
static void test_capture(void)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t gw[4] = {10, 99, 0, 1};
	uint8_t f[64], got[128];
	netif_rx_response_t rsp;
	const uint8_t *rxd;
	struct cap_rec r;
	int a, b, more[8];
	size_t len;
	uint64_t t0 = (uint64_t)time(NULL) * 1000000u;

	start();
	vif_up("10.99.0.5");
	CU_ASSERT_EQUAL(nf_post_rx(&g, 4), 0);
	CU_ASSERT_STRING_EQUAL(ask("capture 5/1 100 in\n"), "error: no vif 5/1\n");
	CU_ASSERT_STRING_EQUAL(ask("capture 5/0 13 in\n"),
			       "error: bad capture request \"capture 5/0 13 in\"\n");
	CU_ASSERT_STRING_EQUAL(ask("capture 5/0 65551 in\n"),
			       "error: bad capture request \"capture 5/0 65551 in\"\n");
	CU_ASSERT_STRING_EQUAL(ask("capture 5/0 100 in x\n"),
			       "error: bad capture request \"capture 5/0 100 in x\"\n");
	CU_ASSERT_STRING_EQUAL(ask("capture 5/0 100 sideways\n"),
			       "error: bad capture direction \"sideways\"\n");
	CU_ASSERT_EQUAL(member(ask("daemon json\n"), "captures"), 0);

	a = cap_start("capture 5/0 65550 inout\n", "capture 5/0\n");
	b = cap_start("capture 5/0 20 out\n", "capture 5/0\n");
	CU_ASSERT_EQUAL(member(ask("daemon json\n"), "captures"), 2);
	len = nf_put_arp(f, bcast, g.mac, g.mac, g.ip4, gw, FRAME_ARP_REQUEST);
	guest_send(f, len);
	CU_ASSERT_FATAL(nf_take_rx(&g, &rsp, &rxd, NULL));
	CU_ASSERT_FATAL(rsp.status > 0 && (size_t)rsp.status <= sizeof(got));

	CU_ASSERT_FATAL(cap_next(a, &r, got, sizeof(got)));
	CU_ASSERT_EQUAL(r.dir, CAP_DIR_IN);
	CU_ASSERT_EQUAL(r.len, len);
	CU_ASSERT_EQUAL(r.caplen, len);
	CU_ASSERT_EQUAL(r.dropped, 0);
	CU_ASSERT(r.ts_usec >= t0 && r.ts_usec < t0 + 60000000u);
	CU_ASSERT(memcmp(got, f, len) == 0);
	CU_ASSERT_FATAL(cap_next(a, &r, got, sizeof(got)));
	CU_ASSERT_EQUAL(r.dir, CAP_DIR_OUT);
	CU_ASSERT_EQUAL(r.len, (uint32_t)rsp.status);
	CU_ASSERT(memcmp(got, rxd, r.caplen) == 0);
	CU_ASSERT(cap_quiet(a));

	CU_ASSERT_FATAL(cap_next(b, &r, got, sizeof(got)));
	CU_ASSERT_EQUAL(r.dir, CAP_DIR_OUT);
	CU_ASSERT_EQUAL(r.len, (uint32_t)rsp.status);
	CU_ASSERT_EQUAL(r.caplen, 20);
	CU_ASSERT(memcmp(got, rxd, 20) == 0);
	CU_ASSERT(cap_quiet(b));

	/* Eight at most: b and seven more, then a ninth is refused. */
	close(a);
	serve();
	for (int i = 0; i < 7; i++)
		more[i] = cap_start("capture 5/0 100 in\n", "capture 5/0\n");
	CU_ASSERT_STRING_EQUAL(ask("capture 5/0 100 in\n"), "error: 8 captures run already\n");
	for (int i = 0; i < 7; i++)
		close(more[i]);
	close(b);
	serve();
	CU_ASSERT_EQUAL(member(ask("daemon json\n"), "captures"), 0);
	CU_ASSERT_EQUAL(member(ask("daemon json\n"), "capture_packets"), 3);
	finish();
}

/*
 * A reader that does not keep up: the capture's buffer fills and further
 * frames are dropped and counted, the guest's traffic is not held up (every
 * TX request is answered at once), and the next record the reader gets
 * says how many it lost. When the vif goes away, the reader gets what was
 * buffered, then EOF.
 */
static void test_capture_slow_reader(void)
{
	uint8_t f[1514], got[1514];
	static const uint8_t nobody[4] = {10, 99, 0, 77};
	unsigned long long drops;
	unsigned int sent = 0, records = 0, lost = 0;
	struct cap_rec r;
	size_t len;
	int fd;

	start();
	vif_up("10.99.0.5");
	fd = cap_start("capture 5/0 65550 in\n", "capture 5/0\n");
	memset(f, 0, sizeof(f));
	len = nf_put_eth_ip(f, false, nf_be_mac, g.mac, g.ip4, nobody, IPPROTO_UDP, 1480) + 1480;
	nf_ip4_csum(f);
	CU_ASSERT_EQUAL_FATAL(len, sizeof(f));
	/* The buffer (2 MiB) and the socket's take fewer than 4000. */
	do {
		guest_send(f, len); /* every request answered OKAY */
		ctl_run(ctl);
		sent++;
		drops = member(ask("daemon json\n"), "capture_drops");
	} while (drops == 0 && sent < 4000);
	CU_ASSERT_FATAL(drops > 0);
	/* The reader catches up; the next record then says what was lost
	 * since the last one it got, and the records and the losses add up
	 * to what the guest sent. */
	while (!cap_quiet(fd) && cap_next(fd, &r, got, sizeof(got))) {
		CU_ASSERT_EQUAL(r.len, len);
		records++;
		lost += r.dropped;
	}
	guest_send(f, len);
	sent++;
	CU_ASSERT_FATAL(cap_next(fd, &r, got, sizeof(got)));
	CU_ASSERT(r.dropped > 0);
	records++;
	lost += r.dropped;
	CU_ASSERT_EQUAL(records + lost, sent);
	CU_ASSERT_EQUAL(lost, member(ask("daemon json\n"), "capture_drops"));

	/* The toolstack removes the vif: the capture ends after the last
	 * buffered record. */
	guest_send(f, len);
	CU_ASSERT_EQUAL(fake_xs_rm_as(0, VIF_BE), 0);
	pump();
	CU_ASSERT_FATAL(cap_next(fd, &r, got, sizeof(got)));
	CU_ASSERT_EQUAL(r.dropped, 0);
	CU_ASSERT_FALSE(cap_read(fd, &r, 1)); /* EOF */
	CU_ASSERT_EQUAL(member(ask("daemon json\n"), "captures"), 0);
	close(fd);
	finish();
}

/* An overlong request line is cut at the buffer's size and refused. */
static void test_long_request(void)
{
	char req[400];
	int fd;
	char *a;

	start();
	memset(req, 'x', sizeof(req) - 1);
	req[sizeof(req) - 1] = '\0';
	fd = client();
	say(fd, req);
	a = answer_of(fd);
	CU_ASSERT_PTR_NOT_NULL(a);
	if (a)
		CU_ASSERT_EQUAL(strncmp(a, "error: unknown request", 22), 0);
	close(fd);
	finish();
}

CU_ErrorCode test_ctl_register(void)
{
	CU_pSuite s = CU_add_suite("ctl", NULL, NULL);

	if (!s)
		return CU_get_error();
	CU_add_test(s, "requests", test_requests);
	CU_add_test(s, "request in pieces", test_request_in_pieces);
	CU_add_test(s, "silent clients", test_silent_clients);
	CU_add_test(s, "clients hang up", test_clients_hang_up);
	CU_add_test(s, "long request", test_long_request);
	CU_add_test(s, "vif answers", test_vif_answers);
	CU_add_test(s, "port answers", test_port_answers);
	CU_add_test(s, "metrics", test_metrics);
	CU_add_test(s, "metrics listener", test_metrics_listener);
	CU_add_test(s, "daemon answers", test_daemon_answers);
	CU_add_test(s, "shutdown", test_shutdown);
	CU_add_test(s, "capture", test_capture);
	CU_add_test(s, "capture: slow reader, vif gone", test_capture_slow_reader);
	CU_add_test(s, "socket in use", test_socket_in_use);
	return CU_get_error();
}
