/* SPDX-License-Identifier: MIT */
/*
 * test_host.c - the host port (netback/host.c) against a real kernel: each
 * test runs in a fresh network namespace, where "dom0" has its addresses
 * (10.99.0.2/24, fd00::2/64) on a stand-in NIC (another TUN device, so no
 * module beyond tun is needed) and talks over real sockets to a fake guest
 * (netfront.h, domain 11: 10.99.0.11 and fd00::11) through the data path
 * on the fake Xen libraries. Needs root (CAP_NET_ADMIN) and /dev/net/tun,
 * as CI has; without them the suite fails rather than skips.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* First: through dp.h it supplies the barriers Xen's ring.h needs. */
#include "ipnb/host.h"

#include "fakexen.h"
#include "netfront.h"
#include "netns.h"
#include "suites.h"

#define GUEST 11u
#define PORT  7777

static const uint8_t dom0_ip4[4] = {10, 99, 0, 2};
static const uint8_t dom0_ip6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

static int nic = -1; /* dom0's stand-in NIC (a TUN: we see what it sends) */
static struct dp *dp;
static struct host *host;
static struct nf g;
static struct dp_vif *vif;

/* ---- dom0's NIC ---- */

static bool nic_create(void)
{
	nic = tns_tun_open("ipnbd0", false);
	return nic >= 0 && tns_if_set_up("ipnbd0", true) &&
	       tns_addrs("ipnbd0", dom0_ip4, 24, dom0_ip6, 64);
}

/* ---- fixture ---- */

static void set_guest_addrs(bool v4, bool v6)
{
	CU_ASSERT(nf_register(&g, dp, vif, v4, v6) >= 0);
}

static void start(void)
{
	const struct nf_params p = {.nbuf = 64};
	char err[256] = "";

	CU_ASSERT_FATAL(tns_enter());
	CU_ASSERT_FATAL(nic_create());
	fake_reset();
	dp = dp_new(nf_be_mac, NULL, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dp);
	host = host_open("ipnbt0", dp, err, sizeof(err));
	if (!host)
		fprintf(stderr, "\n  %s\n", err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(host);
	CU_ASSERT_STRING_EQUAL(host_name(host), "ipnbt0");
	CU_ASSERT_EQUAL_FATAL(fake_domain_create(GUEST), 0);
	CU_ASSERT_EQUAL_FATAL(nf_init(&g, GUEST, &p), 0);
	vif = nf_attach(&g, dp, 32, err, sizeof(err));
	if (!vif)
		fprintf(stderr, "\n  %s\n", err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(vif);
	dp_handle_events(dp);
	dp_run(dp);
}

static void finish(void)
{
	if (vif)
		dp_vif_free(dp, vif);
	vif = NULL;
	host_close(host, true);
	host = NULL;
	dp_free(dp);
	dp = NULL;
	fake_reset();
	nf_free(&g);
	if (nic >= 0)
		close(nic);
	nic = -1;
	/* Back to where the other suites run; the namespace, now empty,
	 * goes away with everything in it. */
	CU_ASSERT(tns_leave());
}

/* ---- the main loop and the two ends ---- */

static bool readable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, ms) == 1;
}

/* What the main loop does, until nothing is left to do. wait_ms: how long
 * to give the kernel to hand the host port something first. */
static void pump(int wait_ms)
{
	host_run(host);
	if (readable(host_fd(host), wait_ms))
		host_handle_rx(host);
	for (int i = 0; i < 50; i++) {
		dp_handle_events(dp);
		if (dp_run(dp) != 0 && !readable(host_fd(host), 0))
			break;
		host_handle_rx(host);
	}
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The guest sends UDP from its port 9000 to dom0 (dst, dport), payload
 * text, with the checksum left blank for the backend as Linux netfront
 * does. */
static void guest_send(bool v6, const uint8_t *dst, uint16_t dport, const char *text)
{
	uint8_t f[256];
	size_t len = strlen(text), ulen = 8 + len;
	size_t l4 =
	    nf_put_eth_ip(f, v6, nf_be_mac, g.mac, v6 ? g.ip6 : g.ip4, dst, IPPROTO_UDP, ulen);
	uint32_t ps;

	if (!v6)
		nf_ip4_csum(f);
	put16(f + l4, 9000);
	put16(f + l4 + 2, dport);
	put16(f + l4 + 4, (uint16_t)ulen);
	memcpy(f + l4 + 8, text, len);
	/* the pseudo-header sum only: NETTXF_csum_blank */
	ps = v6 ? nf_sum16(0, f + 14 + 8, 32) : nf_sum16(0, f + 14 + 12, 8);
	put16(f + l4 + 6, nf_fold(ps + IPPROTO_UDP + (uint32_t)ulen));
	CU_ASSERT_EQUAL(nf_queue_tx(&g, f, l4 + ulen, NULL, 1, NETTXF_csum_blank, NULL), 0);
	CU_ASSERT_EQUAL(nf_push_tx(&g), 0);
	pump(0);
	nf_reap_tx(&g, NULL);
}

/* The next frame the guest received, if it is UDP carrying text; src gets
 * its source port. */
static bool guest_got(bool v6, const char *text, uint16_t *sport)
{
	netif_rx_response_t rsp;
	const uint8_t *d;
	size_t l3 = 14, l4 = l3 + (v6 ? 40 : 20), len = strlen(text);
	bool ok;

	if (!nf_take_rx(&g, &rsp, &d, NULL))
		return false;
	CU_ASSERT_EQUAL(nf_post_rx(&g, 1), 0);
	if (rsp.status < (int16_t)(l4 + 8 + len))
		return false;
	ok = memcmp(d, g.mac, 6) == 0 && memcmp(d + 6, nf_be_mac, 6) == 0 &&
	     d[l3 + (v6 ? 6 : 9)] == IPPROTO_UDP &&
	     memcmp(d + l3 + (v6 ? 8 : 12), v6 ? dom0_ip6 : dom0_ip4, v6 ? 16 : 4) == 0 &&
	     memcmp(d + l4 + 8, text, len) == 0;
	*sport = (uint16_t)(d[l4] << 8 | d[l4 + 1]);
	return ok;
}

static int dom0_socket(bool v6)
{
	int s = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	CU_ASSERT_FATAL(s >= 0);
	return s;
}

static void dom0_sendto(int s, bool v6, uint16_t port, const char *text)
{
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
	ssize_t n;

	memcpy(&a4.sin_addr, g.ip4, 4);
	memcpy(&a6.sin6_addr, g.ip6, 16);
	if (v6)
		n = sendto(s, text, strlen(text), 0, (struct sockaddr *)&a6, sizeof(a6));
	else
		n = sendto(s, text, strlen(text), 0, (struct sockaddr *)&a4, sizeof(a4));
	CU_ASSERT_EQUAL(n, (ssize_t)strlen(text));
}

static uint16_t local_port(int s)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	CU_ASSERT_FATAL(getsockname(s, (struct sockaddr *)&ss, &sl) == 0);
	return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					     : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* Whether dom0's LAN (the stand-in NIC) carried an IPv4 datagram for the
 * guest within ms; the kernel's own IPv6 chatter there is skipped. */
static bool nic_carried_to_guest(int ms)
{
	uint8_t buf[256];

	while (readable(nic, ms)) {
		ssize_t n = read(nic, buf, sizeof(buf));

		if (n >= 20 && buf[0] >> 4 == 4 && memcmp(buf + 16, g.ip4, 4) == 0)
			return true;
	}
	return false;
}

/* ---- tests ---- */

/* dom0 and the guest exchange a datagram each way, in both families: dom0's
 * goes into the port by the host route and comes from dom0's address on the
 * guest's prefix; the guest's, checksum completed by the backend, reaches
 * dom0's socket (the kernel checks the checksum). */
static void test_both_ways(void)
{
	start();
	for (int v6 = 0; v6 <= 1; v6++) {
		int s = dom0_socket(v6);
		uint16_t gport = 0;
		char buf[64];
		ssize_t n;

		dom0_sendto(s, v6, 9000, "from dom0");
		pump(1000);
		CU_ASSERT(guest_got(v6, "from dom0", &gport));
		CU_ASSERT_EQUAL(gport, local_port(s));
		guest_send(v6, v6 ? dom0_ip6 : dom0_ip4, local_port(s), "from the guest");
		CU_ASSERT(readable(s, 1000));
		n = recv(s, buf, sizeof(buf), MSG_DONTWAIT);
		CU_ASSERT_EQUAL(n, 14);
		CU_ASSERT(n == 14 && memcmp(buf, "from the guest", 14) == 0);
		close(s);
	}
	CU_ASSERT_EQUAL(host_stats(host)->rx_pkts, 2);
	CU_ASSERT_EQUAL(host_stats(host)->tx_pkts, 2);
	CU_ASSERT_EQUAL(host_stats(host)->routes, 2);
	for (int d = 0; d < HOST_DROP_COUNT; d++)
		CU_ASSERT_EQUAL(host_stats(host)->drops[d], 0);
	finish();
}

/* The host routes follow registration: without its route, dom0's datagram
 * for 10.99.0.11 takes dom0's LAN route (the stand-in NIC) and the guest
 * gets nothing; with it back, it reaches the guest again. */
static void test_routes_follow_addresses(void)
{
	int s;
	uint16_t port;

	start();
	s = dom0_socket(false);
	set_guest_addrs(false, true);
	CU_ASSERT_EQUAL(host_stats(host)->routes, 1);
	dom0_sendto(s, false, 9000, "lan");
	pump(200);
	CU_ASSERT_FALSE(guest_got(false, "lan", &port));
	CU_ASSERT(nic_carried_to_guest(1000));

	set_guest_addrs(true, true);
	CU_ASSERT_EQUAL(host_stats(host)->routes, 2);
	dom0_sendto(s, false, 9000, "port");
	pump(1000);
	CU_ASSERT(guest_got(false, "port", &port));
	CU_ASSERT_FALSE(nic_carried_to_guest(0));

	dp_vif_free(dp, vif);
	vif = NULL;
	CU_ASSERT_EQUAL(host_stats(host)->routes, 0);
	close(s);
	finish();
}

/* Only dom0's own traffic crosses the port: a datagram routed into it with
 * a source that is not dom0's is dropped (as spoofed if the source is a
 * guest's), and a guest datagram for an
 * address that is not dom0's is left to the next port (none here: the
 * guest's no_route drop). */
static void test_only_dom0s_traffic(void)
{
	int raw;
	uint8_t pkt[28];
	struct sockaddr_in to = {.sin_family = AF_INET};
	static const uint8_t other[4] = {10, 99, 0, 50};
	uint16_t port;

	start();
	raw = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	CU_ASSERT_FATAL(raw >= 0);
	/* IPv4 + UDP from 10.99.0.50 (not dom0's) to the guest; the kernel
	 * fills in the IPv4 checksum and length for IPPROTO_RAW */
	memset(pkt, 0, sizeof(pkt));
	pkt[0] = 0x45;
	put16(pkt + 2, sizeof(pkt));
	pkt[8] = 64;
	pkt[9] = IPPROTO_UDP;
	memcpy(pkt + 12, other, 4);
	memcpy(pkt + 16, g.ip4, 4);
	put16(pkt + 20, 1234);
	put16(pkt + 22, 9000);
	put16(pkt + 24, 8);
	memcpy(&to.sin_addr, g.ip4, 4);
	CU_ASSERT_EQUAL(sendto(raw, pkt, sizeof(pkt), 0, (struct sockaddr *)&to, sizeof(to)),
			(ssize_t)sizeof(pkt));
	pump(1000);
	CU_ASSERT_EQUAL(host_stats(host)->drops[HOST_DROP_NOT_LOCAL], 1);
	/* The same from the guest's own address: dom0's stack may not speak
	 * for a guest (threat 27). */
	memcpy(pkt + 12, g.ip4, 4);
	CU_ASSERT_EQUAL(sendto(raw, pkt, sizeof(pkt), 0, (struct sockaddr *)&to, sizeof(to)),
			(ssize_t)sizeof(pkt));
	pump(1000);
	CU_ASSERT_EQUAL(host_stats(host)->drops[HOST_DROP_SPOOFED_SRC], 1);
	CU_ASSERT_EQUAL(host_stats(host)->drops[HOST_DROP_NOT_LOCAL], 1);
	CU_ASSERT_EQUAL(host_stats(host)->rx_pkts, 0);
	CU_ASSERT_FALSE(guest_got(false, "", &port));
	close(raw);

	guest_send(false, other, 9, "not dom0");
	CU_ASSERT_EQUAL(dp_vif_stats(vif)->drops[DP_DROP_NO_ROUTE], 1);
	CU_ASSERT_EQUAL(host_stats(host)->tx_pkts, 0);
	finish();
}

/*
 * Across a restart: the device outlives its daemon with dom0's routes to the
 * guests (dom0's datagram for the guest goes into it, not out of the LAN
 * NIC, while no daemon reads it), the next daemon attaches to it, and
 * host_reconcile() removes a route left for an address nobody holds any
 * more, but not a route an administrator added. An explicit shutdown
 * (remove) takes the device away.
 */
static bool routed_into_port(const char *dst)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "ip -%c route show %s dev ipnbt0 2>/dev/null | grep -q .",
		 strchr(dst, ':') ? '6' : '4', dst);
	return system(cmd) == 0;
}

static void test_survives_restart(void)
{
	char err[256] = "";
	unsigned int ifindex;
	uint16_t port;
	int s;

	start();
	ifindex = if_nametoindex("ipnbt0");
	CU_ASSERT(ifindex != 0);
	host_close(host, false); /* the daemon ends; its data path goes too */
	host = NULL;
	dp_vif_free(dp, vif);
	vif = NULL;
	CU_ASSERT_EQUAL(if_nametoindex("ipnbt0"), ifindex);
	CU_ASSERT(routed_into_port("10.99.0.11"));
	s = dom0_socket(false);
	dom0_sendto(s, false, 9000, "nobody reads");
	CU_ASSERT_FALSE(nic_carried_to_guest(200));
	/* left for an address no vif holds now; and an administrator's */
	CU_ASSERT_EQUAL(system("ip route add 10.99.0.77/32 dev ipnbt0 proto static"), 0);
	CU_ASSERT_EQUAL(system("ip route add 10.99.0.78/32 dev ipnbt0"), 0);

	host = host_open("ipnbt0", dp, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(host);
	CU_ASSERT_EQUAL(if_nametoindex("ipnbt0"), ifindex);
	vif = nf_attach(&g, dp, 0, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(vif);
	host_reconcile(host);
	CU_ASSERT(routed_into_port("10.99.0.11"));
	CU_ASSERT(routed_into_port("fd00::b"));
	CU_ASSERT_FALSE(routed_into_port("10.99.0.77"));
	CU_ASSERT(routed_into_port("10.99.0.78"));
	dom0_sendto(s, false, 9000, "after");
	pump(1000);
	CU_ASSERT(guest_got(false, "after", &port));
	close(s);

	host_close(host, true);
	host = NULL;
	CU_ASSERT_EQUAL(if_nametoindex("ipnbt0"), 0);
	finish();
}

/* A second daemon cannot take a host port that is in use. */
static void test_name_in_use(void)
{
	char err[256] = "";

	start();
	CU_ASSERT_PTR_NULL(host_open("ipnbt0", dp, err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "ipnbt0"));
	CU_ASSERT_PTR_NULL(host_open("a-name-longer-than-ifnamsiz", dp, err, sizeof(err)));
	finish();
}

CU_ErrorCode test_host_register(void)
{
	CU_pSuite s = CU_add_suite("host", NULL, NULL);

	if (!s)
		return CU_get_error();
	CU_add_test(s, "both ways", test_both_ways);
	CU_add_test(s, "routes follow addresses", test_routes_follow_addresses);
	CU_add_test(s, "only dom0's traffic", test_only_dom0s_traffic);
	CU_add_test(s, "name in use", test_name_in_use);
	CU_add_test(s, "survives a restart", test_survives_restart);
	return CU_get_error();
}
