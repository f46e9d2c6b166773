/* SPDX-License-Identifier: MIT */
/*
 * test_uplink.c - the uplink (netback/uplink.c) against a real kernel: each
 * test runs in a fresh network namespace where "the LAN" is a TAP device
 * (ipnbl0) that carries dom0's addresses 10.99.0.2/24 and fd00::2/64. The
 * uplink's AF_PACKET rings sit on it; the test holds the TAP's fd and plays
 * every LAN host through it: what it writes arrives from the LAN, what the
 * uplink transmits it reads back. The guest (netfront.h, domain 11:
 * 10.99.0.11 and fd00::b) is behind the data path on the fake Xen
 * libraries. Needs root (CAP_NET_ADMIN) and /dev/net/tun, as the host
 * suite does; without them the suite fails rather than skips.
 *
 * dom0's kernel sees the TAP too and talks on it now and then (MLD
 * reports, for one), so readers skip the frames they are not looking for.
 * Where a test must show that something is NOT sent, it relies on order
 * where it can: the uplink handles LAN frames in ring order and transmits
 * in order, so a frame sent in answer to an earlier request would be read
 * before the answer to a later one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* First: through dp.h it supplies the barriers Xen's ring.h needs. */
#include "ipnb/uplink.h"

#include "ipnb/clock.h"
#include "ipnb/pmtu.h"

#include "fakexen.h"
#include "netfront.h"
#include "netns.h"
#include "suites.h"

#define GUEST	11u
#define LAN_IF	"ipnbl0"
#define LAN_MAX 2048 /* bigger than any frame the LAN carries here */

static const uint8_t dom0_ip4[4] = {10, 99, 0, 2};
static const uint8_t dom0_ip6[16] = {0xfd, [15] = 2};
/* LAN host A, which the tests talk to, and host C, a bystander. */
static const uint8_t a_mac[6] = {0x02, 0x1a, 0, 0, 0, 0x01};
static const uint8_t a_ip4[4] = {10, 99, 0, 1};
static const uint8_t a_ip6[16] = {0xfd, [15] = 1};
static const uint8_t c_mac[6] = {0x02, 0x1a, 0, 0, 0, 0x03};
static const uint8_t c_ip4[4] = {10, 99, 0, 3};
/* On the LAN's prefixes, but nobody's. */
static const uint8_t none_ip4[4] = {10, 99, 0, 77};
static const uint8_t none_ip6[16] = {0xfd, [15] = 0x77};
/* The router, and a destination beyond it. */
static const uint8_t gw_mac[6] = {0x02, 0x1a, 0, 0, 0, 0xfe};
static const uint8_t gw_ip4[4] = {10, 99, 0, 254};
static const uint8_t gw_ip6[16] = {0xfd, [15] = 0xfe};
static const uint8_t far_ip4[4] = {192, 0, 2, 5};
static const uint8_t far_ip6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 5};

static const uint8_t bcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t all_nodes_mac[6] = {0x33, 0x33, 0, 0, 0, 1};
static const uint8_t all_nodes_ip6[16] = {0xff, 0x02, [15] = 1};

static int tap = -1; /* the LAN */
static uint8_t ul_mac[6];
static struct dp *dp;
static struct ul *ul;
static struct nf g;
static struct dp_vif *vif;

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static struct ipnb_addr addr_of(bool v6, const uint8_t *b)
{
	struct ipnb_addr a;

	memset(&a, 0, sizeof(a));
	a.family = v6 ? AF_INET6 : AF_INET;
	memcpy(a.bytes, b, ipnb_addr_len(&a));
	return a;
}

/* ---- the namespace and the LAN ---- */

/* Creates the LAN with MTU mtu (0: the default, 1500) and dom0's addresses
 * on it, and notes its MAC (the uplink's). */
static bool lan_create(int mtu)
{
	struct ifreq ifr;

	tap = tns_tun_open(LAN_IF, true);
	if (tap < 0)
		return false;
	/* Less of dom0's chatter: no duplicate-address detection (fd00::2 is
	 * usable at once instead of after a second), no link-local address,
	 * no router solicitations. */
	if (!tns_sysctl6(LAN_IF, "accept_dad", "0") || !tns_sysctl6(LAN_IF, "addr_gen_mode", "1") ||
	    !tns_sysctl6(LAN_IF, "router_solicitations", "0"))
		return false;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), LAN_IF);
	if (mtu) {
		ifr.ifr_mtu = mtu;
		if (tns_ifreq(SIOCSIFMTU, &ifr) < 0)
			return false;
	}
	if (!tns_if_set_up(LAN_IF, true) || tns_ifreq(SIOCGIFHWADDR, &ifr) < 0)
		return false;
	memcpy(ul_mac, ifr.ifr_hwaddr.sa_data, 6);
	return tns_addrs(LAN_IF, dom0_ip4, 24, dom0_ip6, 64);
}

/* ---- the main loop ---- */

static bool readable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, ms) == 1;
}

/* What the daemon's main loop does, until nothing is left to do. Returns
 * how long it could then sleep (ms; -1: no limit), as ul_run() says. */
static int pump(void)
{
	int next = -1;

	for (int i = 0; i < 50; i++) {
		bool more;

		dp_handle_events(dp);
		more = dp_run(dp) == 0;
		next = ul_run(ul);
		if (readable(ul_fd(ul), 0)) {
			/* may hand the data path packets: run it again */
			ul_handle_rx(ul);
			more = true;
		}
		if (!more)
			break;
	}
	return next;
}

/* ---- the LAN's side ---- */

/* Kinds of frames a reader waits for (bits). */
enum {
	W_ARP_REQUEST = 1, /* not gratuitous */
	W_ARP_REPLY = 2,
	W_NS = 4,
	W_NA = 8,	 /* any */
	W_ANNOUNCE = 16, /* gratuitous ARP, or NA without the Solicited flag */
	W_UDP = 32,	 /* UDP from one of the guest's addresses */
	W_OUTBOUND = W_ARP_REQUEST | W_NS | W_UDP, /* all the uplink sends for guests */
};

struct want {
	unsigned int kinds;
	/* What an ARP or ND frame must be about (ARP: target of a request,
	 * sender of a reply; ND: target); family 0 in both: anything. */
	struct ipnb_addr a, b;
};

static bool about(const struct want *w, bool v6, const uint8_t *x)
{
	struct ipnb_addr y = addr_of(v6, x);

	if (!w->a.family && !w->b.family)
		return true;
	return ipnb_addr_equal(&y, &w->a) || ipnb_addr_equal(&y, &w->b);
}

static bool lan_is(const uint8_t *f, size_t n, const struct want *w)
{
	uint16_t type = n >= 14 ? get16(f + 12) : 0;

	if (type == 0x0806 && n >= 42) {
		bool garp = memcmp(f + 28, f + 38, 4) == 0;

		switch (get16(f + 20)) {
		case 1:
			return (w->kinds & (garp ? W_ANNOUNCE : W_ARP_REQUEST)) &&
			       about(w, false, f + 38);
		case 2:
			return (w->kinds & W_ARP_REPLY) && about(w, false, f + 28);
		default:
			return false;
		}
	}
	if (type == 0x86dd && n >= 78 && f[20] == IPPROTO_ICMPV6) {
		if (f[54] == 135)
			return (w->kinds & W_NS) && about(w, true, f + 62);
		if (f[54] == 136)
			return ((w->kinds & W_NA) ||
				((w->kinds & W_ANNOUNCE) && !(f[58] & 0x40))) &&
			       about(w, true, f + 62);
		return false;
	}
	if (!(w->kinds & W_UDP))
		return false;
	return (type == 0x0800 && n >= 34 && f[23] == IPPROTO_UDP &&
		memcmp(f + 26, g.ip4, 4) == 0) ||
	       (type == 0x86dd && n >= 54 && f[20] == IPPROTO_UDP &&
		memcmp(f + 22, g.ip6, 16) == 0);
}

/* Runs the main loop until the LAN carries a frame w matches, for at most
 * ms; the frame is left in f (LAN_MAX bytes). Returns its length, 0 if none
 * came. Frames w does not match are read and skipped. */
static size_t lan_next(const struct want *w, uint8_t *f, int ms)
{
	uint64_t end = ipnb_now_ms() + (uint64_t)ms;

	for (;;) {
		struct pollfd p[2] = {{.fd = tap, .events = POLLIN},
				      {.fd = ul_fd(ul), .events = POLLIN}};
		int next = pump(), t;
		uint64_t now;
		ssize_t n;

		while ((n = read(tap, f, LAN_MAX)) > 0) {
			if (lan_is(f, (size_t)n, w))
				return (size_t)n;
		}
		now = ipnb_now_ms();
		if (now >= end)
			return 0;
		t = (int)(end - now);
		if (next >= 0 && next < t)
			t = next; /* a neighbour timer is due */
		poll(p, 2, t);
	}
}

static void lan_send(const uint8_t *f, size_t n)
{
	CU_ASSERT_EQUAL(write(tap, f, n), (ssize_t)n);
}

/* The pseudo-header sum (addresses only) of f's IPv4/IPv6 packet. */
static uint32_t pseudo(const uint8_t *f, bool v6)
{
	return v6 ? nf_sum16(0, f + 22, 32) : nf_sum16(0, f + 26, 8);
}

/* Whether the UDP or ICMPv6 checksum of f's L4 segment checks out; its
 * length comes from the IP header, as frames may be padded. */
static bool l4_csum_ok(const uint8_t *f, bool v6, uint8_t proto)
{
	size_t l4 = 14 + (v6 ? 40 : 20);
	size_t len = v6 ? get16(f + 18) : (size_t)get16(f + 16) - 20;

	return nf_fold(nf_sum16(pseudo(f, v6) + proto + (uint32_t)len, f + l4, len)) == 0xffff;
}

/* Payload bytes no header could be mistaken for. */
static void fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 13 + 5);
}

static bool filled(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != (uint8_t)(i * 13 + 5))
			return false;
	}
	return true;
}

/* Host A's UDP datagram (port 7 to 9000) of paylen bytes for dst, with
 * every checksum right, sent to dmac; returns its length. */
static size_t lan_udp_from(uint8_t *f, bool v6, const uint8_t *dmac, const uint8_t *src,
			   const uint8_t *dst, size_t paylen)
{
	size_t ulen = 8 + paylen;
	size_t l4 = nf_put_eth_ip(f, v6, dmac, a_mac, src, dst, IPPROTO_UDP, ulen);
	uint16_t c;

	if (!v6)
		nf_ip4_csum(f);
	put16(f + l4, 7);
	put16(f + l4 + 2, 9000);
	put16(f + l4 + 4, (uint16_t)ulen);
	put16(f + l4 + 6, 0);
	fill(f + l4 + 8, paylen);
	c = nf_fold(nf_sum16(pseudo(f, v6) + IPPROTO_UDP + (uint32_t)ulen, f + l4, ulen));
	/* a checksum that comes out 0 is sent as 0xffff (0: none, for IPv4) */
	put16(f + l4 + 6, c == 0xffff ? 0xffff : (uint16_t)~c);
	return l4 + ulen;
}

/* A UDP datagram from host A on the LAN. */
static size_t lan_udp(uint8_t *f, bool v6, const uint8_t *dmac, const uint8_t *dst, size_t paylen)
{
	return lan_udp_from(f, v6, dmac, v6 ? a_ip6 : a_ip4, dst, paylen);
}

/* The ARP reply "ip is at mac" to the uplink, as a host answers its
 * request. */
static void lan_arp_reply(const uint8_t *mac, const uint8_t *ip)
{
	uint8_t f[60];

	lan_send(f, nf_put_arp(f, ul_mac, mac, mac, ip, dom0_ip4, 2));
}

/* The neighbour advertisement "ip is at mac" to the uplink. nf_put_nd()
 * addresses it to ip's solicited-node group rather than to dom0: the
 * uplink learns from the target and the Ethernet source, not from that. */
static void lan_na(const uint8_t *mac, const uint8_t *ip)
{
	uint8_t f[LAN_MAX];

	lan_send(f, nf_put_nd(f, ul_mac, mac, ip, ip, 136, 255));
}

/* f is the uplink's ARP request for target, from dom0's address. */
static void check_arp_request(const uint8_t *f, size_t n, const uint8_t *target)
{
	CU_ASSERT_EQUAL(n, 60);
	CU_ASSERT(memcmp(f, bcast_mac, 6) == 0);
	CU_ASSERT(memcmp(f + 6, ul_mac, 6) == 0);
	CU_ASSERT_EQUAL(get16(f + 20), 1);
	CU_ASSERT(memcmp(f + 22, ul_mac, 6) == 0);
	CU_ASSERT(memcmp(f + 28, dom0_ip4, 4) == 0);
	CU_ASSERT(memcmp(f + 38, target, 4) == 0);
}

/* f is the uplink's neighbour solicitation for target: from dom0's global
 * address to target's solicited-node group, with the uplink's MAC. */
static void check_ns(const uint8_t *f, size_t n, const uint8_t *target)
{
	const uint8_t group[16] = {0xff, 0x02, [11] = 1, 0xff, target[13], target[14], target[15]};
	const uint8_t gmac[6] = {0x33, 0x33, 0xff, target[13], target[14], target[15]};

	CU_ASSERT_EQUAL(n, 86);
	if (n != 86)
		return; /* what follows reads the frame's lengths */
	CU_ASSERT(memcmp(f, gmac, 6) == 0);
	CU_ASSERT(memcmp(f + 6, ul_mac, 6) == 0);
	CU_ASSERT_EQUAL(f[21], 255);
	CU_ASSERT(memcmp(f + 22, dom0_ip6, 16) == 0);
	CU_ASSERT(memcmp(f + 38, group, 16) == 0);
	CU_ASSERT_EQUAL(f[54], 135);
	CU_ASSERT(memcmp(f + 62, target, 16) == 0);
	CU_ASSERT(f[78] == 1 && f[79] == 1 && memcmp(f + 80, ul_mac, 6) == 0);
	CU_ASSERT(l4_csum_ok(f, true, IPPROTO_ICMPV6));
}

/* f is a neighbour advertisement from the uplink that the guest's IPv6
 * address is at the uplink's MAC, to mac/ip, with the given flags. */
static void check_na(const uint8_t *f, size_t n, const uint8_t *mac, const uint8_t *ip,
		     uint8_t flags)
{
	CU_ASSERT_EQUAL(n, 86);
	if (n != 86)
		return; /* what follows reads the frame's lengths */
	CU_ASSERT(memcmp(f, mac, 6) == 0);
	CU_ASSERT(memcmp(f + 6, ul_mac, 6) == 0);
	CU_ASSERT_EQUAL(f[21], 255);
	CU_ASSERT(memcmp(f + 22, g.ip6, 16) == 0);
	CU_ASSERT(memcmp(f + 38, ip, 16) == 0);
	CU_ASSERT_EQUAL(f[54], 136);
	CU_ASSERT_EQUAL(f[58], flags);
	CU_ASSERT(memcmp(f + 62, g.ip6, 16) == 0);
	CU_ASSERT(f[78] == 2 && f[79] == 1 && memcmp(f + 80, ul_mac, 6) == 0);
	CU_ASSERT(l4_csum_ok(f, true, IPPROTO_ICMPV6));
}

/* f is the gratuitous ARP for the guest's IPv4 address. */
static void check_garp(const uint8_t *f, size_t n)
{
	static const uint8_t zero[6];

	CU_ASSERT_EQUAL(n, 60);
	CU_ASSERT(memcmp(f, bcast_mac, 6) == 0);
	CU_ASSERT(memcmp(f + 6, ul_mac, 6) == 0);
	CU_ASSERT_EQUAL(get16(f + 20), 1);
	CU_ASSERT(memcmp(f + 22, ul_mac, 6) == 0);
	CU_ASSERT(memcmp(f + 28, g.ip4, 4) == 0);
	CU_ASSERT(memcmp(f + 32, zero, 6) == 0);
	CU_ASSERT(memcmp(f + 38, g.ip4, 4) == 0);
}

/* Reads the announcements of the guest's IPv4 (v4) and IPv6 (v6) address,
 * in either order, and checks them. */
static void expect_announcements(bool v4, bool v6)
{
	const struct want w = {
	    .kinds = W_ANNOUNCE, .a = addr_of(false, g.ip4), .b = addr_of(true, g.ip6)};
	uint8_t f[LAN_MAX];
	bool got4 = !v4, got6 = !v6;
	size_t n;

	while (!(got4 && got6) && (n = lan_next(&w, f, 1000)) > 0) {
		if (get16(f + 12) == 0x0806) {
			CU_ASSERT_FALSE(got4);
			check_garp(f, n);
			got4 = true;
		} else {
			/* unsolicited: to all nodes, Override only */
			CU_ASSERT_FALSE(got6);
			check_na(f, n, all_nodes_mac, all_nodes_ip6, 0x20);
			got6 = true;
		}
	}
	CU_ASSERT(got4 && got6);
}

/* ---- the guest's side ---- */

/* The guest sends a UDP datagram (port 9000 to 7) of paylen bytes to dst,
 * with the checksum left blank as Linux netfront does. */
static void guest_udp(bool v6, const uint8_t *dst, size_t paylen)
{
	uint8_t f[LAN_MAX];
	size_t ulen = 8 + paylen;
	size_t l4 =
	    nf_put_eth_ip(f, v6, nf_be_mac, g.mac, v6 ? g.ip6 : g.ip4, dst, IPPROTO_UDP, ulen);

	if (!v6)
		nf_ip4_csum(f);
	put16(f + l4, 9000);
	put16(f + l4 + 2, 7);
	put16(f + l4 + 4, (uint16_t)ulen);
	fill(f + l4 + 8, paylen);
	/* the pseudo-header sum only: NETTXF_csum_blank */
	put16(f + l4 + 6, nf_fold(pseudo(f, v6) + IPPROTO_UDP + (uint32_t)ulen));
	CU_ASSERT_EQUAL(nf_queue_tx(&g, f, l4 + ulen, NULL, 1, NETTXF_csum_blank, NULL), 0);
	CU_ASSERT_EQUAL(nf_push_tx(&g), 0);
	pump();
	CU_ASSERT_EQUAL(nf_reap_tx(&g, NULL), 1);
}

/* f is the guest's datagram of paylen bytes for dst, sent on by the uplink
 * to dmac from its own MAC with the checksum completed. */
static void check_udp_out(const uint8_t *f, size_t n, bool v6, const uint8_t *dmac,
			  const uint8_t *dst, size_t paylen)
{
	size_t l4 = 14 + (v6 ? 40 : 20);

	CU_ASSERT_EQUAL(n, l4 + 8 + paylen);
	if (n != l4 + 8 + paylen)
		return; /* what follows reads the frame's lengths */
	CU_ASSERT(memcmp(f, dmac, 6) == 0);
	CU_ASSERT(memcmp(f + 6, ul_mac, 6) == 0);
	CU_ASSERT_EQUAL(get16(f + 12), v6 ? 0x86dd : 0x0800);
	CU_ASSERT(memcmp(f + (v6 ? 22 : 26), v6 ? g.ip6 : g.ip4, v6 ? 16 : 4) == 0);
	CU_ASSERT(memcmp(f + (v6 ? 38 : 30), dst, v6 ? 16 : 4) == 0);
	CU_ASSERT_EQUAL(get16(f + l4), 9000);
	CU_ASSERT_EQUAL(get16(f + l4 + 2), 7);
	CU_ASSERT(l4_csum_ok(f, v6, IPPROTO_UDP));
	CU_ASSERT(filled(f + l4 + 8, paylen));
}

/* Runs the main loop until the guest has a frame, for at most ms, and takes
 * it (posting a new buffer). Returns its length, 0 if none came; *d gets
 * its bytes. */
static size_t guest_rx(const uint8_t **d, int ms)
{
	uint64_t end = ipnb_now_ms() + (uint64_t)ms;
	netif_rx_response_t rsp;

	for (;;) {
		pump();
		if (nf_take_rx(&g, &rsp, d, NULL)) {
			CU_ASSERT_EQUAL(nf_post_rx(&g, 1), 0);
			return rsp.status > 0 ? (size_t)rsp.status : 0;
		}
		if (ipnb_now_ms() >= end)
			return 0;
		readable(ul_fd(ul), 10);
	}
}

/* ---- fixture ---- */

static void set_guest_addrs(bool v4, bool v6)
{
	CU_ASSERT(nf_register(&g, dp, vif, v4, v6) >= 0);
}

/* The LAN (MTU mtu, 0: 1500), the data path, the uplink with gateways gw4
 * and gw6 (NULL: none), and the guest holding both its addresses, which
 * the uplink announces. */
static void start(const uint8_t *gw4, const uint8_t *gw6, int mtu)
{
	const struct nf_params p = {.nbuf = 64};
	struct ul_cfg uc = {.ifname = LAN_IF};
	char err[256] = "";

	CU_ASSERT_FATAL(tns_enter());
	CU_ASSERT_FATAL(lan_create(mtu));
	fake_reset();
	dp = dp_new(nf_be_mac, NULL, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dp);
	if (gw4)
		uc.gw4 = addr_of(false, gw4);
	if (gw6)
		uc.gw6 = addr_of(true, gw6);
	ul = ul_open(&uc, dp, err, sizeof(err));
	if (!ul)
		fprintf(stderr, "\n  %s\n", err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ul);
	CU_ASSERT_STRING_EQUAL(ul_name(ul), LAN_IF);
	CU_ASSERT_EQUAL_FATAL(fake_domain_create(GUEST), 0);
	CU_ASSERT_EQUAL_FATAL(nf_init(&g, GUEST, &p), 0);
	vif = nf_attach(&g, dp, 32, err, sizeof(err));
	if (!vif)
		fprintf(stderr, "\n  %s\n", err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(vif);
	expect_announcements(true, true);
	CU_ASSERT_EQUAL(ul_stats(ul)->announcements, 2);
}

static void finish(void)
{
	if (vif)
		dp_vif_free(dp, vif);
	vif = NULL;
	ul_close(ul);
	ul = NULL;
	dp_free(dp);
	dp = NULL;
	fake_reset();
	nf_free(&g);
	if (tap >= 0)
		close(tap);
	tap = -1;
	/* Back to where the other suites run; the namespace, now empty,
	 * goes away with everything in it. */
	CU_ASSERT(tns_leave());
}

/* The neighbour cache's only entry is ip at mac in state st. */
static void check_only_neighbour(bool v6, const uint8_t *ip, const uint8_t *mac, enum nbr_state st)
{
	struct nbr_entry_info e[4];
	struct ipnb_addr a = addr_of(v6, ip);

	size_t n = nbr_dump(ul_neighbours(ul), ipnb_now_ms(), e, 4);

	CU_ASSERT_EQUAL(n, 1);
	if (n != 1)
		return;
	CU_ASSERT(ipnb_addr_equal(&e[0].ip, &a));
	CU_ASSERT_EQUAL(e[0].state, st);
	if (mac)
		CU_ASSERT(memcmp(e[0].mac, mac, 6) == 0);
}

/* ---- tests ---- */

/* Host C asks for an address nobody holds, then host A for the guest's:
 * only A gets an answer, "at the uplink's MAC". A, which is about to talk
 * to the guest, enters the neighbour cache; C, merely asking, does not. */
static void test_arp_proxy(void)
{
	struct want w;
	uint8_t f[LAN_MAX];
	size_t n;

	start(NULL, NULL, 0);
	/* built after start(), which gives g its addresses */
	w = (struct want){W_ARP_REPLY, addr_of(false, g.ip4), addr_of(false, none_ip4)};
	lan_send(f, nf_put_arp(f, bcast_mac, c_mac, c_mac, c_ip4, none_ip4, 1));
	lan_send(f, nf_put_arp(f, bcast_mac, a_mac, a_mac, a_ip4, g.ip4, 1));
	n = lan_next(&w, f, 1000);
	CU_ASSERT_EQUAL(n, 60);
	CU_ASSERT(memcmp(f, a_mac, 6) == 0);
	CU_ASSERT(memcmp(f + 6, ul_mac, 6) == 0);
	CU_ASSERT_EQUAL(get16(f + 12), 0x0806);
	CU_ASSERT_EQUAL(get16(f + 20), 2);
	CU_ASSERT(memcmp(f + 22, ul_mac, 6) == 0);
	CU_ASSERT(memcmp(f + 28, g.ip4, 4) == 0); /* not none_ip4: that one came first */
	CU_ASSERT(memcmp(f + 32, a_mac, 6) == 0);
	CU_ASSERT(memcmp(f + 38, a_ip4, 4) == 0);
	CU_ASSERT_EQUAL(ul_stats(ul)->arp_replies, 1);
	CU_ASSERT_EQUAL(ul_stats(ul)->na_replies, 0);
	check_only_neighbour(false, a_ip4, a_mac, NBR_REACHABLE);
	finish();
}

/* The same for neighbour solicitations: one for fd00::77 goes unanswered,
 * the guest's is answered with a solicited NA. A duplicate-address probe
 * (from ::) for the guest's address is answered to all nodes, without the
 * Solicited flag (RFC 4861 7.2.4). */
static void test_ns_proxy(void)
{
	static const uint8_t unspec[16];
	struct want w;
	uint8_t f[LAN_MAX];
	size_t n;

	start(NULL, NULL, 0);
	w = (struct want){W_NA, addr_of(true, g.ip6), addr_of(true, none_ip6)};
	lan_send(f, nf_put_nd(f, NULL, a_mac, a_ip6, none_ip6, 135, 255));
	lan_send(f, nf_put_nd(f, NULL, a_mac, a_ip6, g.ip6, 135, 255));
	n = lan_next(&w, f, 1000);
	check_na(f, n, a_mac, a_ip6, 0x60); /* Solicited, Override */
	CU_ASSERT_EQUAL(ul_stats(ul)->na_replies, 1);
	CU_ASSERT_EQUAL(ul_stats(ul)->arp_replies, 0);
	check_only_neighbour(true, a_ip6, a_mac, NBR_REACHABLE);

	lan_send(f, nf_put_nd(f, NULL, c_mac, unspec, g.ip6, 135, 255));
	n = lan_next(&w, f, 1000);
	check_na(f, n, all_nodes_mac, all_nodes_ip6, 0x20);
	CU_ASSERT_EQUAL(ul_stats(ul)->na_replies, 2);
	finish();
}

/* Only an address newly registered is announced: setting the same ones
 * again announces nothing; once the IPv4 address is given up the uplink no
 * longer answers for it; registered again, it is announced again. */
static void test_announcements(void)
{
	struct want w;
	uint8_t f[LAN_MAX];
	size_t n;

	start(NULL, NULL, 0); /* which checked the first two */
	w = (struct want){W_ARP_REPLY | W_NA, addr_of(false, g.ip4), addr_of(true, g.ip6)};
	set_guest_addrs(true, true);
	CU_ASSERT_EQUAL(ul_stats(ul)->announcements, 2);
	set_guest_addrs(false, true);
	CU_ASSERT_EQUAL(ul_stats(ul)->announcements, 2);
	/* Asked for both addresses, IPv4 first, it answers only for IPv6. */
	lan_send(f, nf_put_arp(f, bcast_mac, a_mac, a_mac, a_ip4, g.ip4, 1));
	lan_send(f, nf_put_nd(f, NULL, a_mac, a_ip6, g.ip6, 135, 255));
	n = lan_next(&w, f, 1000);
	check_na(f, n, a_mac, a_ip6, 0x60);
	CU_ASSERT_EQUAL(ul_stats(ul)->arp_replies, 0);

	set_guest_addrs(true, true);
	CU_ASSERT_EQUAL(ul_stats(ul)->announcements, 3);
	expect_announcements(true, false);
	finish();
}

/* An address that becomes a guest's stops being a LAN neighbour: the guest
 * sends to 10.99.0.77 while nobody holds it, then registers it. The
 * resolution in progress is forgotten (its queued packet dropped as
 * unresolved), the address is announced, and a LAN host that then claims
 * it gets nowhere. */
static void test_guest_address_no_neighbour(void)
{
	struct ipnb_addr a[3];
	size_t conflicts[3], nc = 9;
	struct nbr_entry_info e[1];
	uint8_t f[LAN_MAX];
	struct want w;
	size_t n;

	start(NULL, NULL, 0);
	w = (struct want){W_ARP_REQUEST, addr_of(false, none_ip4), {0}};
	guest_udp(false, none_ip4, 20);
	n = lan_next(&w, f, 1000);
	check_arp_request(f, n, none_ip4);
	CU_ASSERT_EQUAL(nbr_dump(ul_neighbours(ul), ipnb_now_ms(), e, 1), 1);

	a[0] = addr_of(false, g.ip4);
	a[1] = addr_of(true, g.ip6);
	a[2] = addr_of(false, none_ip4);
	CU_ASSERT(dp_vif_set_addrs(dp, vif, a, 3, conflicts, &nc) >= 0);
	CU_ASSERT_EQUAL(nc, 0);
	CU_ASSERT_EQUAL(ul_stats(ul)->drops[UL_DROP_UNRESOLVED], 1);
	CU_ASSERT_EQUAL(nbr_dump(ul_neighbours(ul), ipnb_now_ms(), e, 1), 0);
	CU_ASSERT_EQUAL(ul_stats(ul)->announcements, 3);
	w.kinds = W_ANNOUNCE;
	n = lan_next(&w, f, 1000);
	CU_ASSERT_EQUAL(n, 60);
	CU_ASSERT(memcmp(f + 28, none_ip4, 4) == 0 && memcmp(f + 38, none_ip4, 4) == 0);

	/* C claims it, unasked and in answer to the request above alike */
	lan_send(f, nf_put_arp(f, bcast_mac, c_mac, c_mac, none_ip4, none_ip4, 1));
	lan_send(f, nf_put_arp(f, ul_mac, c_mac, c_mac, none_ip4, dom0_ip4, 2));
	/* and A asks for the guest's address, which does create an entry:
	 * once it is there, C's frames, handled before, are known done */
	lan_send(f, nf_put_arp(f, bcast_mac, a_mac, a_mac, a_ip4, g.ip4, 1));
	w = (struct want){W_ARP_REPLY, addr_of(false, g.ip4), {0}};
	n = lan_next(&w, f, 1000);
	CU_ASSERT_EQUAL(n, 60);
	check_only_neighbour(false, a_ip4, a_mac, NBR_REACHABLE);
	CU_ASSERT_EQUAL(ul_stats(ul)->tx_pkts, 0);
	finish();
}

/* LAN frames to the uplink's MAC for the guest's addresses reach the guest
 * with the Ethernet header rewritten as for guest-to-guest traffic
 * (backend MAC to guest MAC) and the rest as sent. Before them, one for
 * the guest's address but another host's MAC and one to the uplink's MAC
 * for an address nobody holds are ignored: the guest gets the real ones
 * first. */
static void test_lan_to_guest(void)
{
	static uint8_t f4[LAN_MAX], f6[LAN_MAX], x[LAN_MAX];
	size_t n4, n6;
	const uint8_t *d;

	start(NULL, NULL, 0);
	lan_send(x, lan_udp(x, false, c_mac, g.ip4, 30));
	lan_send(x, lan_udp(x, false, ul_mac, none_ip4, 30));
	n4 = lan_udp(f4, false, ul_mac, g.ip4, 100);
	n6 = lan_udp(f6, true, ul_mac, g.ip6, 200);
	lan_send(f4, n4);
	lan_send(f6, n6);

	for (int v6 = 0; v6 <= 1; v6++) {
		const uint8_t *sent = v6 ? f6 : f4;
		size_t n = guest_rx(&d, 1000);

		CU_ASSERT_EQUAL(n, v6 ? n6 : n4);
		if (n != (v6 ? n6 : n4))
			continue;
		CU_ASSERT(memcmp(d, g.mac, 6) == 0);
		CU_ASSERT(memcmp(d + 6, nf_be_mac, 6) == 0);
		CU_ASSERT(memcmp(d + 12, sent + 12, n - 12) == 0);
	}
	CU_ASSERT_EQUAL(nf_rx_pending(&g), 0);
	CU_ASSERT_EQUAL(ul_stats(ul)->rx_pkts, 2);
	CU_ASSERT_EQUAL(ul_stats(ul)->rx_bytes, n4 + n6);
	for (int i = 0; i < UL_DROP_COUNT; i++)
		CU_ASSERT_EQUAL(ul_stats(ul)->drops[i], 0);
	finish();
}

/* Threat 27: a LAN host may not use a guest's address (here the receiving
 * guest's own) or one of dom0's as the source of what it sends a guest.
 * Each such frame is dropped and counted; A's own still arrives. */
static void test_lan_spoofed_source(void)
{
	static uint8_t f[LAN_MAX];
	const uint8_t *d;
	size_t n;

	start(NULL, NULL, 0);
	for (int v6 = 0; v6 <= 1; v6++) {
		const uint8_t *gip = v6 ? g.ip6 : g.ip4;

		lan_send(f, lan_udp_from(f, v6, ul_mac, gip, gip, 30));
		lan_send(f, lan_udp_from(f, v6, ul_mac, v6 ? dom0_ip6 : dom0_ip4, gip, 30));
	}
	n = lan_udp(f, false, ul_mac, g.ip4, 30);
	lan_send(f, n);
	CU_ASSERT_EQUAL(guest_rx(&d, 1000), n);
	CU_ASSERT_EQUAL(nf_rx_pending(&g), 0);
	CU_ASSERT_EQUAL(ul_stats(ul)->drops[UL_DROP_SPOOFED_SRC], 4);
	CU_ASSERT_EQUAL(ul_stats(ul)->rx_pkts, 1);
	CU_ASSERT_STRING_EQUAL(ul_drop_name(UL_DROP_SPOOFED_SRC), "spoofed_src");
	finish();
}

/* The guest sends to host A, on the LAN, in both families: the uplink asks
 * for A (ARP request, neighbour solicitation), and once A answers the
 * queued datagram goes to A's MAC from the uplink's, checksum completed.
 * The next datagram goes at once. */
static void test_outbound_on_link(void)
{
	const struct want w = {.kinds = W_OUTBOUND};
	const struct nbr_stats *ns;
	uint8_t f[LAN_MAX];

	start(NULL, NULL, 0);
	for (int v6 = 0; v6 <= 1; v6++) {
		const uint8_t *dst = v6 ? a_ip6 : a_ip4;
		size_t n;

		guest_udp(v6, dst, 40);
		n = lan_next(&w, f, 1000);
		if (v6)
			check_ns(f, n, a_ip6);
		else
			check_arp_request(f, n, a_ip4);
		if (v6)
			lan_na(a_mac, a_ip6);
		else
			lan_arp_reply(a_mac, a_ip4);
		n = lan_next(&w, f, 1000);
		check_udp_out(f, n, v6, a_mac, dst, 40);

		/* a cache hit: no solicitation first */
		guest_udp(v6, dst, 41);
		n = lan_next(&w, f, 1000);
		check_udp_out(f, n, v6, a_mac, dst, 41);
	}
	CU_ASSERT_EQUAL(ul_stats(ul)->tx_pkts, 4);
	CU_ASSERT_EQUAL(ul_stats(ul)->tx_bytes, 2 * (14 + 20 + 8) + 2 * (14 + 40 + 8) + 4 * 40 + 2);
	ns = nbr_stats(ul_neighbours(ul));
	CU_ASSERT_EQUAL(ns->queued, 2);
	CU_ASSERT_EQUAL(ns->hits, 2);
	CU_ASSERT_EQUAL(ns->solicits, 2);
	CU_ASSERT_EQUAL(dp_vif_stats(vif)->tx_pkts, 4);
	finish();
}

/* With gateways configured, a destination off the LAN goes to its family's
 * gateway: the uplink resolves the gateway (not the destination) and sends
 * the datagram, still addressed to the far host, to the gateway's MAC. An
 * on-link destination is still resolved directly. */
static void test_outbound_gateway(void)
{
	const struct want w = {.kinds = W_OUTBOUND};
	struct nbr_entry_info e[4];
	uint8_t f[LAN_MAX];
	size_t n;

	start(gw_ip4, gw_ip6, 0);
	guest_udp(false, far_ip4, 50);
	n = lan_next(&w, f, 1000);
	check_arp_request(f, n, gw_ip4);
	lan_arp_reply(gw_mac, gw_ip4);
	n = lan_next(&w, f, 1000);
	check_udp_out(f, n, false, gw_mac, far_ip4, 50);

	guest_udp(true, far_ip6, 60);
	n = lan_next(&w, f, 1000);
	check_ns(f, n, gw_ip6);
	lan_na(gw_mac, gw_ip6);
	n = lan_next(&w, f, 1000);
	check_udp_out(f, n, true, gw_mac, far_ip6, 60);

	CU_ASSERT_EQUAL(ul_stats(ul)->tx_pkts, 2);
	/* only the gateways are neighbours */
	CU_ASSERT_EQUAL(nbr_dump(ul_neighbours(ul), ipnb_now_ms(), e, 4), 2);

	guest_udp(false, a_ip4, 10);
	n = lan_next(&w, f, 1000);
	check_arp_request(f, n, a_ip4);
	finish();
}

/* Without a gateway, off-LAN destinations are dropped as no_route by the
 * uplink (which takes the packet, so the data path counts nothing), and
 * nothing about them goes on the LAN. */
static void test_outbound_no_route(void)
{
	const struct want w = {.kinds = W_OUTBOUND};
	struct nbr_entry_info e[1];
	uint8_t f[LAN_MAX];

	start(NULL, NULL, 0);
	guest_udp(false, far_ip4, 20);
	guest_udp(true, far_ip6, 20);
	CU_ASSERT_EQUAL(ul_stats(ul)->drops[UL_DROP_NO_ROUTE], 2);
	CU_ASSERT_EQUAL(ul_stats(ul)->tx_pkts, 0);
	CU_ASSERT_EQUAL(dp_vif_stats(vif)->drops[DP_DROP_NO_ROUTE], 0);
	CU_ASSERT_EQUAL(nbr_dump(ul_neighbours(ul), ipnb_now_ms(), e, 1), 0);
	CU_ASSERT_EQUAL(lan_next(&w, f, 100), 0);
	CU_ASSERT_STRING_EQUAL(ul_drop_name(UL_DROP_NO_ROUTE), "no_route");
	CU_ASSERT_STRING_EQUAL(ul_drop_name(UL_DROP_COUNT), "?");
	finish();
}

/* On a LAN with MTU 1280, a guest packet of 1281 bytes gets an ICMP error
 * from the data path before any resolution; one of exactly 1280 goes. The
 * same limit holds for LAN frames to the guest (a TAP takes longer frames
 * than its MTU from the test), and a frame that does not fit a ring frame
 * (2048 bytes with the ring's header) is counted as truncated. */
static void test_mtu(void)
{
	const struct want w = {.kinds = W_OUTBOUND};
	static uint8_t big[LAN_MAX], fits[LAN_MAX];
	struct nbr_entry_info e[1];
	uint8_t f[LAN_MAX];
	const uint8_t *d;
	size_t n;

	start(NULL, NULL, 1280);
	/* The data path knows the uplink's MTU and answers first (pmtu.h):
	 * the guest gets packet too big, and the uplink sees nothing. */
	guest_udp(true, a_ip6, 1281 - 48);
	CU_ASSERT_EQUAL(dp_vif_stats(vif)->icmp_too_big, 1);
	CU_ASSERT_EQUAL_FATAL(guest_rx(&d, 1000), 14 + 40 + 8 + PMTU_ICMP6_QUOTE);
	CU_ASSERT_EQUAL(d[54], 2);
	CU_ASSERT_EQUAL(d[60] << 8 | d[61], 1280);
	CU_ASSERT_EQUAL(ul_stats(ul)->drops[UL_DROP_TOO_BIG], 0);
	CU_ASSERT_EQUAL(nbr_dump(ul_neighbours(ul), ipnb_now_ms(), e, 1), 0);

	/* Had the big one been queued instead, it would come out first. */
	guest_udp(false, a_ip4, 1280 - 28);
	n = lan_next(&w, f, 1000);
	check_arp_request(f, n, a_ip4);
	lan_arp_reply(a_mac, a_ip4);
	n = lan_next(&w, f, 1000);
	check_udp_out(f, n, false, a_mac, a_ip4, 1280 - 28);
	CU_ASSERT_EQUAL(ul_stats(ul)->tx_pkts, 1);
	CU_ASSERT_EQUAL(ul_stats(ul)->drops[UL_DROP_TOO_BIG], 0);

	lan_send(big, lan_udp(big, false, ul_mac, g.ip4, 2000 - 42));
	lan_send(big, lan_udp(big, false, ul_mac, g.ip4, 1281 - 28));
	n = lan_udp(fits, false, ul_mac, g.ip4, 1280 - 28);
	lan_send(fits, n);
	CU_ASSERT_EQUAL(guest_rx(&d, 1000), n);
	CU_ASSERT_EQUAL(ul_stats(ul)->drops[UL_DROP_RX_TRUNCATED], 1);
	CU_ASSERT_EQUAL(ul_stats(ul)->drops[UL_DROP_TOO_BIG], 1);
	CU_ASSERT_EQUAL(ul_stats(ul)->rx_pkts, 1);
	CU_ASSERT_EQUAL(nf_rx_pending(&g), 0);
	finish();
}

/* A NIC with jumbo frames: the uplink holds guests to what its rings'
 * frames take, and says what the NIC's own MTU is (main.c logs both). */
static void test_jumbo_nic(void)
{
	unsigned int nic = 0;

	start(NULL, NULL, 9000);
	CU_ASSERT(ul_mtu(ul, &nic) < 2048 - 14);
	CU_ASSERT_EQUAL(nic, 9000);
	finish();
	start(NULL, NULL, 1500);
	CU_ASSERT_EQUAL(ul_mtu(ul, &nic), 1500);
	CU_ASSERT_EQUAL(nic, 1500);
	finish();
}

/* Nobody answers for 10.99.0.50: the uplink asks three times, 1 s apart,
 * then drops the queued packet as unresolved (3 s after the first request)
 * and for a while drops new packets for that address at once, without
 * asking again. The suite's only slow test (about 3.1 s). */
static void test_unresolved(void)
{
	static const uint8_t nobody[4] = {10, 99, 0, 50};
	const struct want w = {.kinds = W_ARP_REQUEST, .a = addr_of(false, nobody)};
	uint8_t f[LAN_MAX];
	unsigned int requests = 0;
	uint64_t t0, elapsed;

	start(NULL, NULL, 0);
	t0 = ipnb_now_ms();
	guest_udp(false, nobody, 20);
	while (ul_stats(ul)->drops[UL_DROP_UNRESOLVED] == 0 && ipnb_now_ms() - t0 < 5000) {
		size_t n = lan_next(&w, f, 50);

		if (n) {
			check_arp_request(f, n, nobody);
			requests++;
		}
	}
	elapsed = ipnb_now_ms() - t0;
	CU_ASSERT_EQUAL(ul_stats(ul)->drops[UL_DROP_UNRESOLVED], 1);
	CU_ASSERT_EQUAL(requests, 3);
	CU_ASSERT(elapsed >= 3000);
	check_only_neighbour(false, nobody, NULL, NBR_FAILED);

	guest_udp(false, nobody, 20);
	CU_ASSERT_EQUAL(ul_stats(ul)->drops[UL_DROP_UNRESOLVED], 2);
	CU_ASSERT_EQUAL(lan_next(&w, f, 100), 0);
	CU_ASSERT_EQUAL(ul_stats(ul)->tx_pkts, 0);
	finish();
}

/* ul_open() refuses a NIC that does not exist and a name too long, saying
 * which.
 *
 * KNOWN BUG, deliberately not asserted: a failed ul_open() cleans up with
 * ul_close(), which calls dp_set_uplink(dp, NULL) and so unplugs the
 * uplink that dp already had (here start()'s: guest traffic for the LAN is
 * then dropped as the vif's no_route). Nothing below relies on it. */
/* Resolves a_ip4 on the LAN and checks a guest datagram of paylen bytes
 * goes out to it. */
static void resolve_a(size_t paylen)
{
	const struct want w = {.kinds = W_OUTBOUND};
	uint8_t f[LAN_MAX];
	size_t n;

	guest_udp(false, a_ip4, paylen);
	n = lan_next(&w, f, 1000);
	check_arp_request(f, n, a_ip4);
	lan_arp_reply(a_mac, a_ip4);
	n = lan_next(&w, f, 1000);
	check_udp_out(f, n, false, a_mac, a_ip4, paylen);
}

/* A failed ul_open() leaves the data path's working uplink plugged in. */
static void test_open_errors(void)
{
	const struct want w = {.kinds = W_UDP};
	struct ul_cfg bad = {.ifname = "ipnbnone0"};
	char err[256] = "";
	uint8_t f[LAN_MAX];
	size_t n;

	start(NULL, NULL, 0);
	resolve_a(40);
	CU_ASSERT_PTR_NULL(ul_open(&bad, dp, err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "ipnbnone0"));
	bad.ifname = "a-name-longer-than-ifnamsiz";
	CU_ASSERT_PTR_NULL(ul_open(&bad, dp, err, sizeof(err)));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "too long"));
	guest_udp(false, a_ip4, 41);
	n = lan_next(&w, f, 1000);
	check_udp_out(f, n, false, a_mac, a_ip4, 41);
	CU_ASSERT_EQUAL(dp_vif_stats(vif)->drops[DP_DROP_NO_ROUTE], 0);
	finish();
}

/* The NIC goes down while guests keep sending, long enough to fill the TX
 * ring, then comes back: the uplink sends again (send() failed meanwhile,
 * and the first send() after the link returns reports that once more). */
static void test_link_down_and_back(void)
{
	const struct want w = {.kinds = W_UDP};
	uint8_t f[LAN_MAX];
	size_t n;

	start(NULL, NULL, 0);
	resolve_a(40);
	CU_ASSERT_FATAL(tns_if_set_up("ipnbl0", false));
	for (int i = 0; i < 300; i++)
		guest_udp(false, a_ip4, 50);
	CU_ASSERT(ul_stats(ul)->tx_errors > 0);
	CU_ASSERT(ul_stats(ul)->drops[UL_DROP_TX_RING_FULL] > 0);
	CU_ASSERT_FATAL(tns_if_set_up("ipnbl0", true));
	/* what waited in the ring leaves once send() is tried again */
	n = lan_next(&w, f, 1000);
	check_udp_out(f, n, false, a_mac, a_ip4, 50);
	while ((n = lan_next(&w, f, 200)) != 0)
		CU_ASSERT_EQUAL(n, 14 + 20 + 8 + 50);
	/* and new datagrams go out as before */
	guest_udp(false, a_ip4, 60);
	n = lan_next(&w, f, 1000);
	check_udp_out(f, n, false, a_mac, a_ip4, 60);
	finish();
}

CU_ErrorCode test_uplink_register(void)
{
	CU_pSuite s = CU_add_suite("uplink", NULL, NULL);

	if (!s)
		return CU_get_error();
	CU_add_test(s, "ARP proxy", test_arp_proxy);
	CU_add_test(s, "NS proxy", test_ns_proxy);
	CU_add_test(s, "announcements", test_announcements);
	CU_add_test(s, "guest address is no neighbour", test_guest_address_no_neighbour);
	CU_add_test(s, "LAN to guest", test_lan_to_guest);
	CU_add_test(s, "LAN spoofed source", test_lan_spoofed_source);
	CU_add_test(s, "outbound on-link", test_outbound_on_link);
	CU_add_test(s, "outbound via gateway", test_outbound_gateway);
	CU_add_test(s, "outbound without route", test_outbound_no_route);
	CU_add_test(s, "MTU", test_mtu);
	CU_add_test(s, "a NIC with jumbo frames", test_jumbo_nic);
	CU_add_test(s, "open errors", test_open_errors);
	CU_add_test(s, "link down and back", test_link_down_and_back);
	CU_add_test(s, "unresolved (slow)", test_unresolved);
	return CU_get_error();
}
