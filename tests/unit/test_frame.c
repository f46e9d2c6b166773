/* SPDX-License-Identifier: MIT */
/*
 * test_frame.c - frame parsing, checksum completion, L2 rewrite, the
 * ARP / neighbour-advertisement replies, and the frames the uplink sends
 * (ARP request, gratuitous ARP, neighbour solicitation, unsolicited NA).
 * Frames are written out byte by byte; the checksums in them were computed
 * separately with python3.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ipnb/frame.h"
#include "suites.h"

#define MAC_A 0x00, 0x16, 0x3e, 0x00, 0x00, 0x01
#define MAC_B 0x00, 0x16, 0x3e, 0x00, 0x00, 0x02
#define IP4_A 10, 99, 0, 1
#define IP4_B 10, 99, 0, 2
#define IP6_A 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01 /* fd00::1 */
#define IP6_B 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02 /* fd00::2 */
/* fe80::216:3eff:fe00:1 */
#define IP6_LL_A 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x16, 0x3e, 0xff, 0xfe, 0, 0, 0x01
/* ff02::1:ff00:2, the solicited-node group of fd00::2 */
#define IP6_SN_B 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, 0, 0, 0x02

static const uint8_t mac_a[6] = {MAC_A};
static const uint8_t mac_b[6] = {MAC_B};
static const uint8_t our_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0xfe};
static const uint8_t ip4_a[4] = {IP4_A};
static const uint8_t ip4_b[4] = {IP4_B};
static const uint8_t ip6_a[16] = {IP6_A};
static const uint8_t ip6_b[16] = {IP6_B};
static const uint8_t ip6_ll_a[16] = {IP6_LL_A};
static const uint8_t ip6_sn_b[16] = {IP6_SN_B};

/* ARP request "who has 10.99.0.2, tell 10.99.0.1", padded to 60 bytes. */
static const uint8_t arp_req[60] = {
    0xff,  0xff,  0xff, 0xff, 0xff, 0xff, MAC_A, 0x08, 0x06,  /* Ethernet */
    0x00,  0x01,  0x08, 0x00, 6,    4,	  0x00,	 0x01,	      /* htype ptype hlen plen op */
    MAC_A, IP4_A, 0,	0,    0,    0,	  0,	 0,    IP4_B, /* sha spa tha tpa */
};

/* ICMP echo request 10.99.0.1 -> 10.99.0.2, padded to 60 bytes. */
static const uint8_t ip4_icmp[60] = {
    MAC_B, MAC_A, 0x08, 0x00,						      /* Ethernet */
    0x45,  0x00,  0x00, 0x1c, 0xab, 0xcd, 0x00, 0x00, 0x40, 0x01, 0xba, 0x4b, /* IPv4 */
    IP4_A, IP4_B,							      /* */
    0x08,  0x00,  0xe5, 0xca, 0x12, 0x34, 0x00, 0x01,			      /* ICMP */
};

/* UDP 10.99.0.1:1234 -> 10.99.0.2:5678 "ipnetback" (odd length), then nine
 * bytes of non-zero Ethernet padding that no checksum may cover. */
#define IP4_UDP_CSUM 0xb767
static const uint8_t ip4_udp[60] = {
    MAC_B, MAC_A, 0x08, 0x00,						      /* Ethernet */
    0x45,  0x00,  0x00, 0x25, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x11, 0x09, 0xba, /* IPv4 */
    IP4_A, IP4_B,							      /* */
    0x04,  0xd2,  0x16, 0x2e, 0x00, 0x11, 0xb7, 0x67,			      /* UDP */
    'i',   'p',	  'n',	'e',  't',  'b',  'a',	'c',  'k',		      /* */
    0xaa,  0xaa,  0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,		      /* padding */
};

/* TCP 10.99.0.1:50000 -> 10.99.0.2:80 "hello", IHL 6 (four option bytes). */
#define IP4_TCP_CSUM 0x217b
static const uint8_t ip4_tcp[63] = {
    MAC_B, MAC_A, 0x08, 0x00,						      /* Ethernet */
    0x46,  0x00,  0x00, 0x31, 0x00, 0x01, 0x40, 0x00, 0x40, 0x06, 0x22, 0xfd, /* IPv4 */
    IP4_A, IP4_B, 0x01, 0x01, 0x01, 0x00,				      /* options */
    0xc3,  0x50,  0x00, 0x50, 0,    0,	  0,	1,    0,    0,	  0,	0,    /* TCP */
    0x50,  0x18,  0x72, 0x10, 0x21, 0x7b, 0x00, 0x00,			      /* */
    'h',   'e',	  'l',	'l',  'o',					      /* */
};

/* UDP [fd00::1]:12345 -> [fd00::2]:53 "abcdefg". */
#define IP6_UDP_CSUM 0x4430
static const uint8_t ip6_udp[69] = {
    MAC_B, MAC_A, 0x86, 0xdd,					    /* Ethernet */
    0x60,  0x00,  0x00, 0x00, 0x00, 0x0f, 17,	64,   IP6_A, IP6_B, /* IPv6 */
    0x30,  0x39,  0x00, 0x35, 0x00, 0x0f, 0x44, 0x30,		    /* UDP */
    'a',   'b',	  'c',	'd',  'e',  'f',  'g',			    /* */
};

/* TCP [fd00::1]:40000 -> [fd00::2]:22 "xyz" behind a destination options
 * header (PadN). */
#define IP6_TCP_CSUM 0x15e9
static const uint8_t ip6_tcp[85] = {
    MAC_B, MAC_A, 0x86, 0xdd,						  /* Ethernet */
    0x60,  0x00,  0x00, 0x00, 0x00, 0x1f, 60,	64,   IP6_A, IP6_B,	  /* IPv6 */
    6,	   0,	  0x01, 0x04, 0,    0,	  0,	0,			  /* destination options */
    0x9c,  0x40,  0x00, 0x16, 1,    2,	  3,	4,    5,     6,	    7, 8, /* TCP */
    0x50,  0x10,  0x01, 0x00, 0x15, 0xe9, 0x00, 0x00,			  /* */
    'x',   'y',	  'z',							  /* */
};

/* Neighbour solicitation for fd00::2 from fe80::216:3eff:fe00:1 behind a
 * hop-by-hop header, with a source link-layer address option. */
static const uint8_t ip6_ns[94] = {
    0x33, 0x33, 0xff,  0x00, 0x00, 0x02, MAC_A, 0x86, 0xdd,		  /* Ethernet */
    0x60, 0x00, 0x00,  0x00, 0x00, 0x28, 0,	255,  IP6_LL_A, IP6_SN_B, /* IPv6 */
    58,	  0,	0x01,  0x04, 0,	   0,	 0,	0,			  /* hop-by-hop */
    135,  0,	0x00,  0xeb, 0,	   0,	 0,	0,    IP6_B,		  /* NS */
    1,	  1,	MAC_A,							  /* SLL option */
};

/* Solicited neighbour advertisement: fd00::2 is at MAC_B. */
static const uint8_t ip6_na[86] = {
    MAC_A, MAC_B, 0x86,	 0xdd,					  /* Ethernet */
    0x60,  0x00,  0x00,	 0x00, 0x00, 0x20, 58, 255, IP6_B, IP6_A, /* IPv6 */
    136,   0,	  0xe0,	 0x83, 0x60, 0,	   0,  0,   IP6_B,	  /* NA */
    2,	   1,	  MAC_B,					  /* TLL option */
};

/* An 802.1Q-tagged IPv4 frame: not supported, so FRAME_OTHER. */
static const uint8_t vlan_frame[60] = {
    MAC_B, MAC_A, 0x81, 0x00, 0x00, 0x05, 0x08, 0x00, /* Ethernet + tag */
    0x45,  0x00,  0x00, 0x1c, 0,    0,	  0,	0,    64, 1, 0, 0, IP4_A, IP4_B,
};

/* ---- helpers ------------------------------------------------------------- */

/* An exact-size heap copy, so that ASan flags any read past len. */
static uint8_t *dup_exact(const uint8_t *src, size_t len)
{
	uint8_t *p = malloc(len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	if (len)
		memcpy(p, src, len);
	return p;
}

static int parse_exact(const uint8_t *src, size_t len, struct frame_info *fi)
{
	uint8_t *p = dup_exact(src, len);
	int rc = frame_parse(p, len, fi);

	free(p);
	return rc;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static bool addr_is(const struct ipnb_addr *a, int family, const uint8_t *bytes)
{
	static const uint8_t zero[16];
	size_t n = ipnb_addr_len(a);

	return a->family == family && memcmp(a->bytes, bytes, n) == 0 &&
	       memcmp(a->bytes + n, zero, 16 - n) == 0;
}

/* Reference checksum, written the obvious way: 16-bit big-endian words of
 * the pseudo-header and the segment, end-around carry, complement. */
static uint16_t ref_sum_words(uint32_t s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i += 2) {
		uint32_t w = (uint32_t)p[i] << 8;

		if (i + 1 < n)
			w |= p[i + 1];
		s += w;
		if (s > 0xffff)
			s = (s & 0xffff) + 1;
	}
	return (uint16_t)s;
}

static uint16_t ref_l4_csum(int family, const uint8_t *src, const uint8_t *dst, uint8_t proto,
			    const uint8_t *seg, size_t seg_len)
{
	uint8_t ph[40];
	size_t phlen;
	uint32_t s;

	memset(ph, 0, sizeof(ph));
	if (family == AF_INET) {
		memcpy(ph, src, 4);
		memcpy(ph + 4, dst, 4);
		ph[9] = proto;
		wr16(ph + 10, (uint16_t)seg_len);
		phlen = 12;
	} else {
		memcpy(ph, src, 16);
		memcpy(ph + 16, dst, 16);
		wr16(ph + 34, (uint16_t)seg_len);
		ph[39] = proto;
		phlen = 40;
	}
	s = ref_sum_words(0, ph, phlen);
	s = ref_sum_words(s, seg, seg_len);
	return (uint16_t)~s;
}

static bool same_l3(const struct frame_info *a, const struct frame_info *b)
{
	return a->kind == b->kind && a->ethertype == b->ethertype &&
	       memcmp(a->eth_dst, b->eth_dst, 6) == 0 && memcmp(a->eth_src, b->eth_src, 6) == 0 &&
	       a->dst_is_group == b->dst_is_group && ipnb_addr_equal(&a->src, &b->src) &&
	       ipnb_addr_equal(&a->dst, &b->dst) && a->l4_proto == b->l4_proto &&
	       a->l3_off == b->l3_off && a->l4_off == b->l4_off &&
	       a->ip_total_len == b->ip_total_len && a->ip_fragment == b->ip_fragment &&
	       a->arp_op == b->arp_op && memcmp(a->arp_sha, b->arp_sha, 6) == 0;
}

static bool same_nd(const struct frame_info *a, const struct frame_info *b)
{
	return a->icmp6_type == b->icmp6_type && a->nd_target.family == b->nd_target.family &&
	       memcmp(a->nd_target.bytes, b->nd_target.bytes, 16) == 0 &&
	       a->nd_has_sll == b->nd_has_sll &&
	       (!a->nd_has_sll || memcmp(a->nd_sll, b->nd_sll, 6) == 0);
}

/* ---- parsing ------------------------------------------------------------- */

static void test_parse_arp(void)
{
	struct frame_info fi;

	CU_ASSERT_EQUAL_FATAL(parse_exact(arp_req, sizeof(arp_req), &fi), FRAME_OK);
	CU_ASSERT_EQUAL(fi.kind, FRAME_ARP);
	CU_ASSERT_EQUAL(fi.ethertype, FRAME_ETHERTYPE_ARP);
	CU_ASSERT(fi.dst_is_group);
	CU_ASSERT(memcmp(fi.eth_src, mac_a, 6) == 0);
	CU_ASSERT_EQUAL(fi.arp_op, 1);
	CU_ASSERT(memcmp(fi.arp_sha, mac_a, 6) == 0);
	CU_ASSERT(addr_is(&fi.src, AF_INET, ip4_a));
	CU_ASSERT(addr_is(&fi.dst, AF_INET, ip4_b));
	/* exactly the 42 bytes of Ethernet + ARP are enough */
	CU_ASSERT_EQUAL(parse_exact(arp_req, FRAME_ARP_LEN, &fi), FRAME_OK);
	CU_ASSERT_EQUAL(fi.kind, FRAME_ARP);
}

static void test_parse_ipv4(void)
{
	struct frame_info fi;

	CU_ASSERT_EQUAL_FATAL(parse_exact(ip4_icmp, sizeof(ip4_icmp), &fi), FRAME_OK);
	CU_ASSERT_EQUAL(fi.kind, FRAME_IPV4);
	CU_ASSERT_EQUAL(fi.ethertype, FRAME_ETHERTYPE_IPV4);
	CU_ASSERT(!fi.dst_is_group);
	CU_ASSERT(memcmp(fi.eth_dst, mac_b, 6) == 0);
	CU_ASSERT(memcmp(fi.eth_src, mac_a, 6) == 0);
	CU_ASSERT(addr_is(&fi.src, AF_INET, ip4_a));
	CU_ASSERT(addr_is(&fi.dst, AF_INET, ip4_b));
	CU_ASSERT_EQUAL(fi.l4_proto, IPPROTO_ICMP);
	CU_ASSERT_EQUAL(fi.l3_off, 14);
	CU_ASSERT_EQUAL(fi.l4_off, 34);
	CU_ASSERT_EQUAL(fi.ip_total_len, 28); /* the padding is not IP */
	CU_ASSERT(!fi.ip_fragment);
	CU_ASSERT_EQUAL(fi.icmp6_type, 0);

	CU_ASSERT_EQUAL_FATAL(parse_exact(ip4_tcp, sizeof(ip4_tcp), &fi), FRAME_OK);
	CU_ASSERT_EQUAL(fi.kind, FRAME_IPV4);
	CU_ASSERT_EQUAL(fi.l4_proto, IPPROTO_TCP);
	CU_ASSERT_EQUAL(fi.l4_off, 14 + 24);
	CU_ASSERT_EQUAL(fi.ip_total_len, 49);
	CU_ASSERT(!fi.ip_fragment); /* DF alone is not fragmentation */

	CU_ASSERT_EQUAL_FATAL(parse_exact(ip4_udp, sizeof(ip4_udp), &fi), FRAME_OK);
	CU_ASSERT_EQUAL(fi.l4_proto, IPPROTO_UDP);
	CU_ASSERT_EQUAL(fi.l4_off, 34);
	CU_ASSERT_EQUAL(fi.ip_total_len, 37);

	/* only the gathered head is needed: total length may exceed len */
	CU_ASSERT_EQUAL(parse_exact(ip4_udp, 34, &fi), FRAME_OK);
	CU_ASSERT_EQUAL(fi.ip_total_len, 37);
}

static void test_parse_ipv6(void)
{
	struct frame_info fi;

	CU_ASSERT_EQUAL_FATAL(parse_exact(ip6_udp, sizeof(ip6_udp), &fi), FRAME_OK);
	CU_ASSERT_EQUAL(fi.kind, FRAME_IPV6);
	CU_ASSERT_EQUAL(fi.ethertype, FRAME_ETHERTYPE_IPV6);
	CU_ASSERT(addr_is(&fi.src, AF_INET6, ip6_a));
	CU_ASSERT(addr_is(&fi.dst, AF_INET6, ip6_b));
	CU_ASSERT_EQUAL(fi.l4_proto, IPPROTO_UDP);
	CU_ASSERT_EQUAL(fi.l3_off, 14);
	CU_ASSERT_EQUAL(fi.l4_off, 54);
	CU_ASSERT_EQUAL(fi.ip_total_len, 55);
	CU_ASSERT(!fi.ip_fragment);
	CU_ASSERT_EQUAL(fi.icmp6_type, 0);

	CU_ASSERT_EQUAL_FATAL(parse_exact(ip6_tcp, sizeof(ip6_tcp), &fi), FRAME_OK);
	CU_ASSERT_EQUAL(fi.l4_proto, IPPROTO_TCP);
	CU_ASSERT_EQUAL(fi.l4_off, 62);
	CU_ASSERT_EQUAL(fi.ip_total_len, 71);
}

static void test_parse_ns(void)
{
	struct frame_info fi;

	CU_ASSERT_EQUAL_FATAL(parse_exact(ip6_ns, sizeof(ip6_ns), &fi), FRAME_OK);
	CU_ASSERT_EQUAL(fi.kind, FRAME_IPV6);
	CU_ASSERT(fi.dst_is_group);
	CU_ASSERT(addr_is(&fi.src, AF_INET6, ip6_ll_a));
	CU_ASSERT(addr_is(&fi.dst, AF_INET6, ip6_sn_b));
	CU_ASSERT_EQUAL(fi.l4_proto, IPPROTO_ICMPV6);
	CU_ASSERT_EQUAL(fi.l4_off, 62); /* after the hop-by-hop header */
	CU_ASSERT_EQUAL(fi.ip_total_len, 80);
	CU_ASSERT_EQUAL(fi.icmp6_type, 135);
	CU_ASSERT(addr_is(&fi.nd_target, AF_INET6, ip6_b));
	CU_ASSERT(fi.nd_has_sll);
	CU_ASSERT(memcmp(fi.nd_sll, mac_a, 6) == 0);
	CU_ASSERT(!fi.ip_fragment);

	/* options of another type are skipped; an SLL of the wrong length
	 * is not an Ethernet address */
	uint8_t f[sizeof(ip6_ns)];

	memcpy(f, ip6_ns, sizeof(f));
	f[86] = 14; /* nonce */
	CU_ASSERT_EQUAL(parse_exact(f, sizeof(f), &fi), FRAME_OK);
	CU_ASSERT(!fi.nd_has_sll);
	CU_ASSERT_EQUAL(fi.icmp6_type, 135);

	/* NS without options (e.g. DAD from ::) */
	memcpy(f, ip6_ns, sizeof(f));
	memset(f + 22, 0, 16);
	wr16(f + 18, 32);
	CU_ASSERT_EQUAL(parse_exact(f, 86, &fi), FRAME_OK);
	CU_ASSERT(!fi.nd_has_sll);
	CU_ASSERT(addr_is(&fi.nd_target, AF_INET6, ip6_b));
}

static void test_parse_na(void)
{
	struct frame_info fi;

	CU_ASSERT_EQUAL_FATAL(parse_exact(ip6_na, sizeof(ip6_na), &fi), FRAME_OK);
	CU_ASSERT_EQUAL(fi.kind, FRAME_IPV6);
	CU_ASSERT(!fi.dst_is_group);
	CU_ASSERT(addr_is(&fi.src, AF_INET6, ip6_b));
	CU_ASSERT(addr_is(&fi.dst, AF_INET6, ip6_a));
	CU_ASSERT_EQUAL(fi.l4_proto, IPPROTO_ICMPV6);
	CU_ASSERT_EQUAL(fi.l4_off, 54);
	CU_ASSERT_EQUAL(fi.icmp6_type, 136);
	CU_ASSERT(addr_is(&fi.nd_target, AF_INET6, ip6_b));
	CU_ASSERT(!fi.nd_has_sll); /* only NS options are looked at */
}

static void test_parse_other(void)
{
	struct frame_info fi;
	uint8_t f[60];

	CU_ASSERT_EQUAL(parse_exact(vlan_frame, sizeof(vlan_frame), &fi), FRAME_OK);
	CU_ASSERT_EQUAL(fi.kind, FRAME_OTHER);
	CU_ASSERT_EQUAL(fi.ethertype, 0x8100);
	CU_ASSERT(memcmp(fi.eth_dst, mac_b, 6) == 0);
	CU_ASSERT(memcmp(fi.eth_src, mac_a, 6) == 0);
	CU_ASSERT_EQUAL(fi.src.family, 0);

	/* a bare Ethernet header of an unknown type is enough */
	CU_ASSERT_EQUAL(parse_exact(vlan_frame, 14, &fi), FRAME_OK);
	CU_ASSERT_EQUAL(fi.kind, FRAME_OTHER);

	/* group bit: broadcast and multicast, not a locally administered
	 * unicast address */
	memcpy(f, vlan_frame, sizeof(f));
	f[0] = 0x01;
	CU_ASSERT_EQUAL(parse_exact(f, sizeof(f), &fi), FRAME_OK);
	CU_ASSERT(fi.dst_is_group);
	f[0] = 0x02;
	CU_ASSERT_EQUAL(parse_exact(f, sizeof(f), &fi), FRAME_OK);
	CU_ASSERT(!fi.dst_is_group);
}

static void test_parse_fragments(void)
{
	struct frame_info fi;
	uint8_t f[128];

	memcpy(f, ip4_udp, sizeof(ip4_udp));
	wr16(f + 20, 0x2000); /* MF, offset 0 */
	CU_ASSERT_EQUAL(parse_exact(f, sizeof(ip4_udp), &fi), FRAME_OK);
	CU_ASSERT(fi.ip_fragment);
	CU_ASSERT_EQUAL(fi.l4_proto, IPPROTO_UDP);
	wr16(f + 20, 0x0001); /* last fragment, offset 8 */
	CU_ASSERT_EQUAL(parse_exact(f, sizeof(ip4_udp), &fi), FRAME_OK);
	CU_ASSERT(fi.ip_fragment);
	wr16(f + 20, 0x8000); /* the reserved bit alone */
	CU_ASSERT_EQUAL(parse_exact(f, sizeof(ip4_udp), &fi), FRAME_OK);
	CU_ASSERT(!fi.ip_fragment);

	/* IPv6 first fragment: the chain continues after the fragment header */
	static const uint8_t frag_first[8] = {58, 0, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef};
	static const uint8_t frag_later[8] = {58, 0, 0x00, 0x10, 0xde, 0xad, 0xbe, 0xef};

	memcpy(f, ip6_na, 54);
	f[20] = IPPROTO_FRAGMENT;
	memcpy(f + 54, frag_first, 8);
	memcpy(f + 62, ip6_na + 54, 32);
	wr16(f + 18, 40);
	CU_ASSERT_EQUAL(parse_exact(f, 94, &fi), FRAME_OK);
	CU_ASSERT(fi.ip_fragment);
	CU_ASSERT_EQUAL(fi.l4_proto, IPPROTO_ICMPV6);
	CU_ASSERT_EQUAL(fi.l4_off, 62);
	CU_ASSERT_EQUAL(fi.icmp6_type, 0); /* ND is never fragmented */

	/* a later fragment: what follows is payload, even if it looks like a
	 * header of the announced type */
	memcpy(f + 54, frag_later, 8);
	f[54] = IPPROTO_DSTOPTS;
	f[63] = 200; /* "length" of the would-be header */
	CU_ASSERT_EQUAL(parse_exact(f, 94, &fi), FRAME_OK);
	CU_ASSERT(fi.ip_fragment);
	CU_ASSERT_EQUAL(fi.l4_proto, IPPROTO_DSTOPTS);
	CU_ASSERT_EQUAL(fi.l4_off, 62);
}

struct verdict_from {
	size_t from;
	int rc;
};

/* The verdict expected for a frame cut to len: the last entry with from <= len. */
static int expected_at(const struct verdict_from *v, size_t n, size_t len)
{
	int rc = v[0].rc;

	for (size_t i = 0; i < n && v[i].from <= len; i++)
		rc = v[i].rc;
	return rc;
}

static void truncate_all(const uint8_t *frame, size_t full, const struct verdict_from *v, size_t nv)
{
	struct frame_info whole, fi;

	CU_ASSERT_EQUAL_FATAL(parse_exact(frame, full, &whole), FRAME_OK);
	for (size_t len = 0; len <= full; len++) {
		uint8_t *p = dup_exact(frame, len);
		int rc = frame_parse(p, len, &fi);
		int want = expected_at(v, nv, len);

		CU_ASSERT_EQUAL(rc, want);
		if (rc != want)
			fprintf(stderr, "\n  cut at %zu: got %d, want %d\n", len, rc, want);
		if (rc == FRAME_OK) {
			CU_ASSERT(same_l3(&fi, &whole));
			/* ND fields are either all there or not at all */
			if (fi.icmp6_type != 0) {
				CU_ASSERT(same_nd(&fi, &whole));
			} else {
				CU_ASSERT(!fi.nd_has_sll && fi.nd_target.family == 0);
			}
			/* the payload is incomplete up to the IP length: the
			 * checksum cannot be completed, but must not overrun */
			if (fi.kind == FRAME_IPV4 || fi.kind == FRAME_IPV6) {
				bool l4 = fi.l4_proto == IPPROTO_TCP || fi.l4_proto == IPPROTO_UDP;
				/* the check alone says what completing will */
				int chk = frame_csum_check(p, len, &fi);
				int crc = frame_csum_complete(p, len, &fi);

				CU_ASSERT_EQUAL(chk, crc);
				CU_ASSERT_EQUAL(frame_csum_offset(&fi),
						l4 ? (fi.l4_proto == IPPROTO_TCP ? 16u : 6u) : 0u);

				if (l4 && len < fi.l3_off + fi.ip_total_len) {
					CU_ASSERT_EQUAL(crc, FRAME_EMALFORM);
				} else {
					CU_ASSERT_EQUAL(crc, FRAME_OK);
				}
			}
		}
		free(p);
	}
}

#define TRUNC(frame, ...)                                                                          \
	do {                                                                                       \
		static const struct verdict_from v_[] = {__VA_ARGS__};                             \
		truncate_all(frame, sizeof(frame), v_, sizeof(v_) / sizeof(v_[0]));                \
	} while (0)

static void test_truncation(void)
{
	TRUNC(arp_req, {0, FRAME_ESHORT}, {42, FRAME_OK});
	TRUNC(ip4_icmp, {0, FRAME_ESHORT}, {34, FRAME_OK});
	TRUNC(ip4_udp, {0, FRAME_ESHORT}, {34, FRAME_OK});
	TRUNC(ip4_tcp, {0, FRAME_ESHORT}, {38, FRAME_OK});
	TRUNC(ip6_udp, {0, FRAME_ESHORT}, {54, FRAME_OK});
	TRUNC(ip6_tcp, {0, FRAME_ESHORT}, {62, FRAME_OK});
	/* NS: hop-by-hop header to 62; the ICMPv6 type is optional until its
	 * 4 bytes are there, but then the target (to 86) and every announced
	 * option (to 94) must be */
	TRUNC(ip6_ns, {0, FRAME_ESHORT}, {62, FRAME_OK}, {66, FRAME_ESHORT}, {94, FRAME_OK});
	TRUNC(ip6_na, {0, FRAME_ESHORT}, {54, FRAME_OK}, {58, FRAME_ESHORT}, {78, FRAME_OK});
	TRUNC(vlan_frame, {0, FRAME_ESHORT}, {14, FRAME_OK});
}

static void test_malformed(void)
{
	struct frame_info fi;
	uint8_t f[256];

	/* IPv4 */
	memcpy(f, ip4_udp, 60);
	f[14] = 0x44; /* IHL 4 */
	CU_ASSERT_EQUAL(parse_exact(f, 60, &fi), FRAME_EMALFORM);
	f[14] = 0x40; /* IHL 0 */
	CU_ASSERT_EQUAL(parse_exact(f, 60, &fi), FRAME_EMALFORM);
	f[14] = 0x65; /* version 6 under the IPv4 ethertype */
	CU_ASSERT_EQUAL(parse_exact(f, 60, &fi), FRAME_EMALFORM);
	f[14] = 0x45;
	wr16(f + 16, 19); /* total length shorter than the header */
	CU_ASSERT_EQUAL(parse_exact(f, 60, &fi), FRAME_EMALFORM);
	wr16(f + 16, 37);
	f[14] = 0x4f; /* IHL 15: 60 bytes of header, only 46 here */
	CU_ASSERT_EQUAL(parse_exact(f, 60, &fi), FRAME_ESHORT);

	/* IPv6 */
	memcpy(f, ip6_udp, sizeof(ip6_udp));
	f[14] = 0x40; /* version 4 under the IPv6 ethertype */
	CU_ASSERT_EQUAL(parse_exact(f, sizeof(ip6_udp), &fi), FRAME_EMALFORM);

	/* ARP */
	memcpy(f, arp_req, 60);
	f[18] = 8; /* hlen 8 */
	CU_ASSERT_EQUAL(parse_exact(f, 60, &fi), FRAME_EMALFORM);
	memcpy(f, arp_req, 60);
	f[19] = 16; /* plen 16 */
	CU_ASSERT_EQUAL(parse_exact(f, 60, &fi), FRAME_EMALFORM);
	memcpy(f, arp_req, 60);
	wr16(f + 16, 0x86dd); /* ptype */
	CU_ASSERT_EQUAL(parse_exact(f, 60, &fi), FRAME_EMALFORM);
	memcpy(f, arp_req, 60);
	wr16(f + 14, 6); /* htype IEEE 802 */
	CU_ASSERT_EQUAL(parse_exact(f, 60, &fi), FRAME_EMALFORM);

	/* ND option of length 0 */
	memcpy(f, ip6_ns, sizeof(ip6_ns));
	f[87] = 0;
	CU_ASSERT_EQUAL(parse_exact(f, sizeof(ip6_ns), &fi), FRAME_EMALFORM);
	/* an option running past the payload length */
	f[87] = 2;
	CU_ASSERT_EQUAL(parse_exact(f, sizeof(ip6_ns), &fi), FRAME_EMALFORM);
	/* ... or, if the payload length allows it, past what we were given */
	wr16(f + 18, 48);
	CU_ASSERT_EQUAL(parse_exact(f, sizeof(ip6_ns), &fi), FRAME_ESHORT);
	/* a stray byte after the last option */
	memcpy(f, ip6_ns, sizeof(ip6_ns));
	wr16(f + 18, 41);
	f[94] = 0;
	CU_ASSERT_EQUAL(parse_exact(f, 95, &fi), FRAME_EMALFORM);

	/* RFC 4861 validity: hop limit, code, length, target, DAD + SLL */
	memcpy(f, ip6_ns, sizeof(ip6_ns));
	f[21] = 64;
	CU_ASSERT_EQUAL(parse_exact(f, sizeof(ip6_ns), &fi), FRAME_EMALFORM);
	memcpy(f, ip6_ns, sizeof(ip6_ns));
	f[63] = 1;
	CU_ASSERT_EQUAL(parse_exact(f, sizeof(ip6_ns), &fi), FRAME_EMALFORM);
	memcpy(f, ip6_ns, sizeof(ip6_ns));
	wr16(f + 18, 8 + 16); /* the IP payload ends inside the target */
	CU_ASSERT_EQUAL(parse_exact(f, sizeof(ip6_ns), &fi), FRAME_EMALFORM);
	memcpy(f, ip6_ns, sizeof(ip6_ns));
	f[70] = 0xff; /* multicast target */
	CU_ASSERT_EQUAL(parse_exact(f, sizeof(ip6_ns), &fi), FRAME_EMALFORM);
	memcpy(f, ip6_ns, sizeof(ip6_ns));
	memset(f + 22, 0, 16); /* from :: with a link-layer address */
	CU_ASSERT_EQUAL(parse_exact(f, sizeof(ip6_ns), &fi), FRAME_EMALFORM);
	memcpy(f, ip6_na, sizeof(ip6_na));
	f[21] = 1;
	CU_ASSERT_EQUAL(parse_exact(f, sizeof(ip6_na), &fi), FRAME_EMALFORM);

	/* extension header chain longer than the buffer (but not than the
	 * payload length): short */
	memcpy(f, ip6_ns, sizeof(ip6_ns));
	f[55] = 10;	       /* hop-by-hop of 88 bytes */
	wr16(f + 18, 88 + 32); /* consistent payload length */
	CU_ASSERT_EQUAL(parse_exact(f, sizeof(ip6_ns), &fi), FRAME_ESHORT);
	/* longer than the payload length as well: malformed */
	wr16(f + 18, 40);
	CU_ASSERT_EQUAL(parse_exact(f, sizeof(ip6_ns), &fi), FRAME_EMALFORM);
	/* a chain starting right at the end of the buffer */
	memcpy(f, ip6_udp, 54);
	f[20] = IPPROTO_HOPOPTS;
	CU_ASSERT_EQUAL(parse_exact(f, 54, &fi), FRAME_ESHORT);
	CU_ASSERT_EQUAL(parse_exact(f, 55, &fi), FRAME_ESHORT);
	wr16(f + 18, 0); /* ... announced by a header with no payload */
	CU_ASSERT_EQUAL(parse_exact(f, 54, &fi), FRAME_EMALFORM);

	/* at most 8 extension headers */
	for (size_t n = 8; n <= 9; n++) {
		size_t off = 54;

		memcpy(f, ip6_udp, 54);
		f[20] = IPPROTO_DSTOPTS;
		for (size_t i = 0; i < n; i++, off += 8) {
			memset(f + off, 0, 8);
			f[off] = i + 1 < n ? IPPROTO_DSTOPTS : IPPROTO_UDP;
			f[off + 2] = 0x01; /* PadN of 4 */
			f[off + 3] = 4;
		}
		memcpy(f + off, ip6_udp + 54, 15);
		wr16(f + 18, (uint16_t)(off + 15 - 54));
		if (n == 8) {
			CU_ASSERT_EQUAL(parse_exact(f, off + 15, &fi), FRAME_OK);
			CU_ASSERT_EQUAL(fi.l4_proto, IPPROTO_UDP);
			CU_ASSERT_EQUAL(fi.l4_off, 54 + 64);
		} else {
			CU_ASSERT_EQUAL(parse_exact(f, off + 15, &fi), FRAME_EMALFORM);
		}
	}
}

/* Random bytes under each ethertype: a verdict, never an overrun. */
static void test_parse_random(void)
{
	static const uint16_t types[] = {FRAME_ETHERTYPE_IPV4, FRAME_ETHERTYPE_IPV6,
					 FRAME_ETHERTYPE_ARP};
	uint32_t x = 0x12345678;
	unsigned int ok = 0;

	for (int iter = 0; iter < 30000; iter++) {
		uint8_t f[160];
		size_t len;
		struct frame_info fi;
		uint8_t *p;
		int rc;

		for (size_t i = 0; i < sizeof(f); i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			f[i] = (uint8_t)x;
		}
		len = x % sizeof(f);
		wr16(f + 12, types[iter % 3]);
		/* make the deeper paths reachable often enough */
		if (iter % 3 == 0)
			f[14] = 0x45;
		if (iter % 3 == 1) {
			f[14] = 0x60;
			f[20] = (uint8_t[]){0, 43, 44, 60, 58, 58}[(x >> 8) % 6];
			f[21] = 255;
			f[54] = (uint8_t[]){0, 43, 44, 60, 58, 17}[(x >> 12) % 6];
			f[55] = (uint8_t)(x >> 16) & 3;
			f[62] = (uint8_t[]){135, 136}[(x >> 20) & 1];
			f[63] = 0;
		}
		if (iter % 3 == 2)
			memcpy(f + 14, arp_req + 14, 6);
		p = dup_exact(f, len);
		rc = frame_parse(p, len, &fi);
		CU_ASSERT(rc == FRAME_OK || rc == FRAME_ESHORT || rc == FRAME_EMALFORM);
		if (rc == FRAME_OK) {
			ok++;
			CU_ASSERT(fi.l4_off <= len || fi.kind == FRAME_OTHER ||
				  fi.kind == FRAME_ARP);
			frame_csum_complete(p, len, &fi);
		}
		free(p);
	}
	CU_ASSERT(ok > 1000);
}

/* ---- checksums ----------------------------------------------------------- */

static void test_csum_helpers(void)
{
	/* the worked example of RFC 1071 section 3 */
	static const uint8_t rfc[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
	/* an IPv4 header with its checksum (0x09ba) in place */
	const uint8_t *hdr = ip4_udp + 14;
	uint8_t copy[20];
	uint32_t s;

	CU_ASSERT_EQUAL(frame_csum_add(0, rfc, sizeof(rfc)), 0xddf2);
	CU_ASSERT_EQUAL(frame_csum_fold(0xddf2), 0x220d);
	CU_ASSERT_EQUAL(frame_csum_fold(frame_csum_add(0, rfc, sizeof(rfc))), 0x220d);
	/* split at an even offset: same sum */
	s = frame_csum_add(0, rfc, 4);
	CU_ASSERT_EQUAL(frame_csum_add(s, rfc + 4, 4), 0xddf2);
	/* odd length: the last byte is the high half of a zero-padded word */
	CU_ASSERT_EQUAL(frame_csum_add(0, rfc + 2, 3), (0xf203 + 0xf400 - 0xffff));
	CU_ASSERT_EQUAL(frame_csum_add(0, rfc, 0), 0);
	CU_ASSERT_EQUAL(frame_csum_add(0x1234, rfc, 0), 0x1234);
	/* a large incoming sum is folded, not overflowed */
	CU_ASSERT_EQUAL(frame_csum_add(0xffffffffu, rfc, 2), 0x0001);
	CU_ASSERT_EQUAL(frame_csum_fold(0x0001ffffu), 0xfffe);
	CU_ASSERT_EQUAL(frame_csum_fold(0xffffffffu), 0x0000);

	/* verifying a correct header gives 0; computing it gives the value */
	CU_ASSERT_EQUAL(frame_csum_fold(frame_csum_add(0, hdr, 20)), 0);
	memcpy(copy, hdr, 20);
	wr16(copy + 10, 0);
	CU_ASSERT_EQUAL(frame_csum_fold(frame_csum_add(0, copy, 20)), 0x09ba);
	CU_ASSERT_EQUAL(frame_csum_fold(frame_csum_add(0, copy, 20)),
			ref_sum_words(0, copy, 20) ^ 0xffff);

	/* long data: 64 KiB of 0xff words */
	uint8_t *big = malloc(65536);

	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	memset(big, 0xff, 65536);
	CU_ASSERT_EQUAL(frame_csum_fold(frame_csum_add(0, big, 65536)), 0);
	big[0] = 0;
	CU_ASSERT_EQUAL(frame_csum_fold(frame_csum_add(0, big, 65536)),
			(uint16_t)~ref_sum_words(0, big, 65536));
	free(big);
}

/* Completes the checksum of a copy of frame with a scrambled field and
 * checks it against python's value, the reference sum and verification. */
static void check_complete(const uint8_t *frame, size_t len, size_t field, uint16_t want)
{
	struct frame_info fi;
	uint8_t *p = dup_exact(frame, len);
	const uint8_t *seg;
	size_t seg_len;
	uint32_t s;
	uint16_t got;

	CU_ASSERT_EQUAL_FATAL(frame_parse(p, len, &fi), FRAME_OK);
	wr16(p + fi.l4_off + field, 0xdead);
	CU_ASSERT_EQUAL(frame_csum_complete(p, len, &fi), FRAME_OK);
	got = rd16(p + fi.l4_off + field);
	CU_ASSERT_EQUAL(got, want);
	/* nothing but the checksum field changed */
	wr16(p + fi.l4_off + field, want);
	CU_ASSERT(memcmp(p, frame, len) == 0);

	seg = p + fi.l4_off;
	seg_len = fi.l3_off + fi.ip_total_len - fi.l4_off;
	wr16(p + fi.l4_off + field, 0);
	CU_ASSERT_EQUAL(
	    ref_l4_csum(fi.src.family, fi.src.bytes, fi.dst.bytes, fi.l4_proto, seg, seg_len),
	    want);
	wr16(p + fi.l4_off + field, got);
	/* with the checksum in place everything sums to zero */
	s = frame_csum_add(0, fi.src.bytes, ipnb_addr_len(&fi.src));
	s = frame_csum_add(s, fi.dst.bytes, ipnb_addr_len(&fi.dst));
	s += fi.l4_proto + (uint32_t)seg_len;
	CU_ASSERT_EQUAL(frame_csum_fold(frame_csum_add(s, seg, seg_len)), 0);
	free(p);
}

static void test_csum_complete(void)
{
	check_complete(ip4_udp, sizeof(ip4_udp), 6, IP4_UDP_CSUM);
	check_complete(ip4_udp, 51, 6, IP4_UDP_CSUM); /* without the padding */
	check_complete(ip4_tcp, sizeof(ip4_tcp), 16, IP4_TCP_CSUM);
	check_complete(ip6_udp, sizeof(ip6_udp), 6, IP6_UDP_CSUM);
	check_complete(ip6_tcp, sizeof(ip6_tcp), 16, IP6_TCP_CSUM);
}

/* Builds, with the reference, a packet whose checksum comes out as zero:
 * UDP must send that as 0xffff, TCP as 0. */
static void zero_sum_case(const uint8_t *frame, size_t len, size_t adj, size_t field, uint16_t want)
{
	struct frame_info fi;
	uint8_t *p = dup_exact(frame, len);
	size_t seg_len;
	uint16_t c;

	CU_ASSERT_EQUAL_FATAL(frame_parse(p, len, &fi), FRAME_OK);
	seg_len = fi.l3_off + fi.ip_total_len - fi.l4_off;
	wr16(p + fi.l4_off + field, 0);
	wr16(p + adj, 0);
	c = ref_l4_csum(fi.src.family, fi.src.bytes, fi.dst.bytes, fi.l4_proto, p + fi.l4_off,
			seg_len);
	/* c is the complement of the sum; added as a data word it brings the
	 * sum to 0xffff, whose complement is 0 */
	wr16(p + adj, c);
	CU_ASSERT_EQUAL_FATAL(ref_l4_csum(fi.src.family, fi.src.bytes, fi.dst.bytes, fi.l4_proto,
					  p + fi.l4_off, seg_len),
			      0);
	wr16(p + fi.l4_off + field, 0x1234);
	CU_ASSERT_EQUAL(frame_csum_complete(p, len, &fi), FRAME_OK);
	CU_ASSERT_EQUAL(rd16(p + fi.l4_off + field), want);
	free(p);
}

static void test_csum_zero(void)
{
	/* the adjusted word is at an even offset in the segment */
	zero_sum_case(ip4_udp, 51, 42, 6, 0xffff);
	zero_sum_case(ip6_udp, sizeof(ip6_udp), 62, 6, 0xffff);
	zero_sum_case(ip4_tcp, sizeof(ip4_tcp), 58, 16, 0x0000);
	zero_sum_case(ip6_tcp, sizeof(ip6_tcp), 82, 16, 0x0000);
}

static void test_csum_refused(void)
{
	struct frame_info fi;
	uint8_t f[128];

	/* not TCP/UDP: untouched */
	memcpy(f, ip4_icmp, 60);
	CU_ASSERT_EQUAL_FATAL(frame_parse(f, 60, &fi), FRAME_OK);
	wr16(f + 36, 0xdead);
	CU_ASSERT_EQUAL(frame_csum_complete(f, 60, &fi), FRAME_OK);
	CU_ASSERT_EQUAL(rd16(f + 36), 0xdead);
	memcpy(f, arp_req, 60);
	CU_ASSERT_EQUAL_FATAL(frame_parse(f, 60, &fi), FRAME_OK);
	CU_ASSERT_EQUAL(frame_csum_complete(f, 60, &fi), FRAME_OK);
	CU_ASSERT(memcmp(f, arp_req, 60) == 0);
	memcpy(f, vlan_frame, 60);
	CU_ASSERT_EQUAL_FATAL(frame_parse(f, 60, &fi), FRAME_OK);
	CU_ASSERT_EQUAL(frame_csum_complete(f, 60, &fi), FRAME_OK);
	CU_ASSERT(memcmp(f, vlan_frame, 60) == 0);

	/* the IP length runs past the frame */
	memcpy(f, ip4_udp, 60);
	wr16(f + 16, 47);
	CU_ASSERT_EQUAL_FATAL(frame_parse(f, 60, &fi), FRAME_OK);
	CU_ASSERT_EQUAL(frame_csum_complete(f, 60, &fi), FRAME_EMALFORM);
	CU_ASSERT(memcmp(f + 34, ip4_udp + 34, 26) == 0);

	/* UDP length beyond the IP payload, or below the UDP header */
	memcpy(f, ip4_udp, 60);
	wr16(f + 38, 18);
	CU_ASSERT_EQUAL_FATAL(frame_parse(f, 60, &fi), FRAME_OK);
	CU_ASSERT_EQUAL(frame_csum_complete(f, 60, &fi), FRAME_EMALFORM);
	wr16(f + 38, 7);
	CU_ASSERT_EQUAL(frame_csum_complete(f, 60, &fi), FRAME_EMALFORM);

	/* UDP length below the IP payload: summed over the UDP length only,
	 * as the receiver will verify it */
	memcpy(f, ip4_udp, 60);
	wr16(f + 38, 12);
	CU_ASSERT_EQUAL_FATAL(frame_parse(f, 60, &fi), FRAME_OK);
	CU_ASSERT_EQUAL(frame_csum_complete(f, 60, &fi), FRAME_OK);
	{
		uint8_t seg[12];

		memcpy(seg, f + 34, 12);
		wr16(seg + 6, 0);
		CU_ASSERT_EQUAL(rd16(f + 40),
				ref_l4_csum(AF_INET, ip4_a, ip4_b, IPPROTO_UDP, seg, 12));
	}

	/* a TCP segment shorter than a TCP header */
	memcpy(f, ip4_tcp, sizeof(ip4_tcp));
	wr16(f + 16, 24 + 19);
	CU_ASSERT_EQUAL_FATAL(frame_parse(f, sizeof(ip4_tcp), &fi), FRAME_OK);
	CU_ASSERT_EQUAL(frame_csum_complete(f, sizeof(ip4_tcp), &fi), FRAME_EMALFORM);

	/* a fragment cannot be completed */
	memcpy(f, ip4_udp, 60);
	wr16(f + 20, 0x2000);
	CU_ASSERT_EQUAL_FATAL(frame_parse(f, 60, &fi), FRAME_OK);
	CU_ASSERT_EQUAL(frame_csum_complete(f, 60, &fi), FRAME_EMALFORM);
	CU_ASSERT_EQUAL(rd16(f + 40), IP4_UDP_CSUM);
}

/* ---- L2 rewrite and builders --------------------------------------------- */

static void test_set_l2(void)
{
	uint8_t f[60];

	memcpy(f, ip4_udp, 60);
	frame_set_l2(f, our_mac, mac_b);
	CU_ASSERT(memcmp(f, our_mac, 6) == 0);
	CU_ASSERT(memcmp(f + 6, mac_b, 6) == 0);
	CU_ASSERT(memcmp(f + 12, ip4_udp + 12, 48) == 0);

	/* swapping in place: both arguments point into the frame */
	memcpy(f, ip4_udp, 60);
	frame_set_l2(f, f + 6, f);
	CU_ASSERT(memcmp(f, mac_a, 6) == 0);
	CU_ASSERT(memcmp(f + 6, mac_b, 6) == 0);
}

static void test_build_arp_reply(void)
{
	static const uint8_t want[60] = {
	    MAC_A, 0x02,  0x00, 0x00, 0x00, 0x00, 0xfe,	 0x08, 0x06, /* Ethernet */
	    0x00,  0x01,  0x08, 0x00, 6,    4,	  0x00,	 0x02,	     /* reply */
	    0x02,  0x00,  0x00, 0x00, 0x00, 0xfe, IP4_B,	     /* we are 10.99.0.2 */
	    MAC_A, IP4_A,					     /* to the requester */
	};
	struct frame_info req, fi;
	uint8_t *out = malloc(FRAME_MIN_LEN);

	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	memset(out, 0x5a, FRAME_MIN_LEN);
	CU_ASSERT_EQUAL_FATAL(frame_parse(arp_req, sizeof(arp_req), &req), FRAME_OK);
	CU_ASSERT_EQUAL(frame_build_arp_reply(out, &req, our_mac), FRAME_MIN_LEN);
	CU_ASSERT(memcmp(out, want, sizeof(want)) == 0);

	CU_ASSERT_EQUAL_FATAL(frame_parse(out, FRAME_MIN_LEN, &fi), FRAME_OK);
	CU_ASSERT_EQUAL(fi.kind, FRAME_ARP);
	CU_ASSERT_EQUAL(fi.arp_op, 2);
	CU_ASSERT(!fi.dst_is_group);
	CU_ASSERT(memcmp(fi.eth_dst, mac_a, 6) == 0);
	CU_ASSERT(memcmp(fi.eth_src, our_mac, 6) == 0);
	CU_ASSERT(memcmp(fi.arp_sha, our_mac, 6) == 0);
	CU_ASSERT(addr_is(&fi.src, AF_INET, ip4_b));
	CU_ASSERT(addr_is(&fi.dst, AF_INET, ip4_a));
	CU_ASSERT(memcmp(out + 32, mac_a, 6) == 0); /* target hardware address */
	for (size_t i = FRAME_ARP_LEN; i < FRAME_MIN_LEN; i++)
		CU_ASSERT_EQUAL(out[i], 0);
	free(out);
}

/* Checks everything a receiver of a built NA looks at. */
static void check_na(const uint8_t *out, const uint8_t *eth_dst, const uint8_t *ip_dst,
		     uint8_t flags)
{
	struct frame_info fi;
	uint32_t s;

	CU_ASSERT_EQUAL_FATAL(parse_exact(out, FRAME_NA_LEN, &fi), FRAME_OK);
	CU_ASSERT_EQUAL(fi.kind, FRAME_IPV6);
	CU_ASSERT(memcmp(fi.eth_dst, eth_dst, 6) == 0);
	CU_ASSERT(memcmp(fi.eth_src, our_mac, 6) == 0);
	CU_ASSERT(addr_is(&fi.src, AF_INET6, ip6_b));
	CU_ASSERT(addr_is(&fi.dst, AF_INET6, ip_dst));
	CU_ASSERT_EQUAL(fi.l4_proto, IPPROTO_ICMPV6);
	CU_ASSERT_EQUAL(fi.l4_off, 54);
	CU_ASSERT_EQUAL(fi.ip_total_len, 72);
	CU_ASSERT_EQUAL(fi.icmp6_type, 136);
	CU_ASSERT(addr_is(&fi.nd_target, AF_INET6, ip6_b));
	CU_ASSERT_EQUAL(rd16(out + 18), 32); /* payload length */
	CU_ASSERT_EQUAL(out[14], 0x60);
	CU_ASSERT_EQUAL(out[15], 0);
	CU_ASSERT_EQUAL(rd16(out + 16), 0);
	CU_ASSERT_EQUAL(out[21], 255); /* hop limit */
	CU_ASSERT_EQUAL(out[55], 0);   /* code */
	CU_ASSERT_EQUAL(out[58], flags);
	CU_ASSERT(out[59] == 0 && out[60] == 0 && out[61] == 0);
	CU_ASSERT_EQUAL(out[78], 2); /* target link-layer address option */
	CU_ASSERT_EQUAL(out[79], 1);
	CU_ASSERT(memcmp(out + 80, our_mac, 6) == 0);

	uint8_t icmp[32];

	memcpy(icmp, out + 54, 32);
	wr16(icmp + 2, 0);
	CU_ASSERT_EQUAL(rd16(out + 56),
			ref_l4_csum(AF_INET6, ip6_b, ip_dst, IPPROTO_ICMPV6, icmp, 32));
	s = frame_csum_add(0, out + 22, 32);
	s += IPPROTO_ICMPV6 + 32;
	CU_ASSERT_EQUAL(frame_csum_fold(frame_csum_add(s, out + 54, 32)), 0);
}

static void test_build_na(void)
{
	static const uint8_t all_nodes[16] = {0xff, 0x02, [15] = 1};
	static const uint8_t all_nodes_mac[6] = {0x33, 0x33, 0, 0, 0, 1};
	struct frame_info req;
	uint8_t *out = malloc(FRAME_NA_LEN);
	uint8_t dad[86];

	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_EQUAL_FATAL(frame_parse(ip6_ns, sizeof(ip6_ns), &req), FRAME_OK);

	memset(out, 0x5a, FRAME_NA_LEN);
	CU_ASSERT_EQUAL(frame_build_na(out, &req, our_mac, false), FRAME_NA_LEN);
	check_na(out, mac_a, ip6_ll_a, 0x60); /* S, O */
	memset(out, 0x5a, FRAME_NA_LEN);
	CU_ASSERT_EQUAL(frame_build_na(out, &req, our_mac, true), FRAME_NA_LEN);
	check_na(out, mac_a, ip6_ll_a, 0xe0); /* R, S, O */

	/* duplicate address detection: from ::, no SLL */
	memcpy(dad, ip6_ns, sizeof(dad));
	memset(dad + 22, 0, 16);
	wr16(dad + 18, 32);
	CU_ASSERT_EQUAL_FATAL(frame_parse(dad, sizeof(dad), &req), FRAME_OK);
	memset(out, 0x5a, FRAME_NA_LEN);
	CU_ASSERT_EQUAL(frame_build_na(out, &req, our_mac, false), FRAME_NA_LEN);
	check_na(out, all_nodes_mac, all_nodes, 0x20); /* O only */
	{
		struct frame_info fi;

		CU_ASSERT_EQUAL(frame_parse(out, FRAME_NA_LEN, &fi), FRAME_OK);
		CU_ASSERT(fi.dst_is_group);
	}
	memset(out, 0x5a, FRAME_NA_LEN);
	frame_build_na(out, &req, our_mac, true);
	check_na(out, all_nodes_mac, all_nodes, 0xa0); /* R, O */
	free(out);
}

/* ---- frames the uplink originates ---------------------------------------- */

static struct ipnb_addr mkaddr(int family, const uint8_t *bytes)
{
	struct ipnb_addr a;

	memset(&a, 0, sizeof(a));
	a.family = (uint8_t)family;
	memcpy(a.bytes, bytes, ipnb_addr_len(&a));
	return a;
}

/* Sums the pseudo-header and ICMPv6 message of a built ND frame, with the
 * checksum in place: a receiver accepts it iff this is zero. */
static uint16_t nd_verify(const uint8_t *frame, size_t len)
{
	size_t icmp_len = len - 54;
	uint32_t s = frame_csum_add(0, frame + 22, 32);

	s += IPPROTO_ICMPV6 + (uint32_t)icmp_len;
	return frame_csum_fold(frame_csum_add(s, frame + 54, icmp_len));
}

static void test_build_arp_request(void)
{
	static const uint8_t want[60] = {
	    0xff,  0xff,  0xff, 0xff, 0xff, 0xff, MAC_A, 0x08, 0x06,  /* broadcast */
	    0x00,  0x01,  0x08, 0x00, 6,    4,	  0x00,	 0x01,	      /* request */
	    MAC_A, IP4_A, 0,	0,    0,    0,	  0,	 0,    IP4_B, /* sha spa tha tpa */
	};
	struct ipnb_addr a = mkaddr(AF_INET, ip4_a), b = mkaddr(AF_INET, ip4_b);
	struct ipnb_addr zero4 = mkaddr(AF_INET, (const uint8_t[4]){0});
	struct ipnb_addr b6 = mkaddr(AF_INET6, ip6_b);
	struct frame_info fi;
	uint8_t *out = malloc(FRAME_MIN_LEN);

	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	memset(out, 0x5a, FRAME_MIN_LEN);
	CU_ASSERT_EQUAL(frame_build_arp_request(out, mac_a, &a, &b), FRAME_MIN_LEN);
	CU_ASSERT(memcmp(out, want, sizeof(want)) == 0);
	/* it is the request the parser's own test starts from */
	CU_ASSERT(memcmp(out, arp_req, sizeof(arp_req)) == 0);

	CU_ASSERT_EQUAL_FATAL(parse_exact(out, FRAME_MIN_LEN, &fi), FRAME_OK);
	CU_ASSERT_EQUAL(fi.kind, FRAME_ARP);
	CU_ASSERT_EQUAL(fi.arp_op, 1);
	CU_ASSERT(fi.dst_is_group);
	CU_ASSERT(memcmp(fi.eth_src, mac_a, 6) == 0);
	CU_ASSERT(memcmp(fi.arp_sha, mac_a, 6) == 0);
	CU_ASSERT(addr_is(&fi.src, AF_INET, ip4_a));
	CU_ASSERT(addr_is(&fi.dst, AF_INET, ip4_b));

	/* from 0.0.0.0, given or as NULL: the same probe */
	memset(out, 0x5a, FRAME_MIN_LEN);
	CU_ASSERT_EQUAL(frame_build_arp_request(out, mac_a, &zero4, &b), FRAME_MIN_LEN);
	CU_ASSERT(memcmp(out, want, 28) == 0);
	CU_ASSERT(memcmp(out + 28, (const uint8_t[4]){0}, 4) == 0);
	CU_ASSERT(memcmp(out + 32, want + 32, 28) == 0);
	CU_ASSERT_EQUAL_FATAL(parse_exact(out, FRAME_MIN_LEN, &fi), FRAME_OK);
	CU_ASSERT(addr_is(&fi.src, AF_INET, (const uint8_t[4]){0}));
	CU_ASSERT(addr_is(&fi.dst, AF_INET, ip4_b));
	{
		uint8_t again[FRAME_MIN_LEN];

		memset(again, 0x5a, sizeof(again));
		CU_ASSERT_EQUAL(frame_build_arp_request(again, mac_a, NULL, &b), FRAME_MIN_LEN);
		CU_ASSERT(memcmp(again, out, FRAME_MIN_LEN) == 0);
	}

	/* an IPv6 address cannot be ARPed for: nothing is written */
	memset(out, 0x5a, FRAME_MIN_LEN);
	CU_ASSERT_EQUAL(frame_build_arp_request(out, mac_a, &a, &b6), 0);
	CU_ASSERT_EQUAL(frame_build_arp_request(out, mac_a, &b6, &b), 0);
	for (size_t i = 0; i < FRAME_MIN_LEN; i++)
		CU_ASSERT_EQUAL(out[i], 0x5a);
	free(out);
}

static void test_build_garp(void)
{
	static const uint8_t want[60] = {
	    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,  0x00, 0x00, 0x00, 0x00,
	    0xfe, 0x08, 0x06, 0x00, 0x01, 0x08, 0x00,  6,    4,	   0x00, 0x01, /* request */
	    0x02, 0x00, 0x00, 0x00, 0x00, 0xfe, IP4_B,			       /* sha spa */
	    0,	  0,	0,    0,    0,	  0,	IP4_B,			       /* tha tpa */
	};
	struct ipnb_addr b = mkaddr(AF_INET, ip4_b), b6 = mkaddr(AF_INET6, ip6_b);
	struct frame_info fi;
	uint8_t *out = malloc(FRAME_MIN_LEN);

	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	memset(out, 0x5a, FRAME_MIN_LEN);
	CU_ASSERT_EQUAL(frame_build_garp(out, our_mac, &b), FRAME_MIN_LEN);
	CU_ASSERT(memcmp(out, want, sizeof(want)) == 0);
	CU_ASSERT_EQUAL_FATAL(parse_exact(out, FRAME_MIN_LEN, &fi), FRAME_OK);
	CU_ASSERT_EQUAL(fi.kind, FRAME_ARP);
	CU_ASSERT_EQUAL(fi.arp_op, 1);
	CU_ASSERT(fi.dst_is_group);
	CU_ASSERT(memcmp(fi.eth_dst, (const uint8_t[6]){0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 6) ==
		  0);
	CU_ASSERT(memcmp(fi.eth_src, our_mac, 6) == 0);
	CU_ASSERT(memcmp(fi.arp_sha, our_mac, 6) == 0);
	CU_ASSERT(addr_is(&fi.src, AF_INET, ip4_b));
	CU_ASSERT(addr_is(&fi.dst, AF_INET, ip4_b));

	memset(out, 0x5a, FRAME_MIN_LEN);
	CU_ASSERT_EQUAL(frame_build_garp(out, our_mac, &b6), 0);
	CU_ASSERT_EQUAL(out[0], 0x5a);
	free(out);
}

/* NS for fd00::2 from fe80::216:3eff:fe00:1 (MAC_A): the ip6_ns above
 * without its hop-by-hop header; checksum from python3. */
static const uint8_t ns_want[FRAME_NS_LEN] = {
    0x33, 0x33, 0xff,  0x00, 0x00, 0x02, MAC_A, 0x86, 0xdd,		  /* Ethernet */
    0x60, 0x00, 0x00,  0x00, 0x00, 0x20, 58,	255,  IP6_LL_A, IP6_SN_B, /* IPv6 */
    135,  0,	0x00,  0xeb, 0,	   0,	 0,	0,    IP6_B,		  /* NS */
    1,	  1,	MAC_A,							  /* SLL option */
};

static void test_build_ns(void)
{
	struct ipnb_addr src = mkaddr(AF_INET6, ip6_ll_a), tgt = mkaddr(AF_INET6, ip6_b);
	struct ipnb_addr any = mkaddr(AF_INET6, (const uint8_t[16]){0});
	struct ipnb_addr v4 = mkaddr(AF_INET, ip4_b);
	struct frame_info fi;
	uint8_t *out = malloc(FRAME_NS_LEN);

	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_EQUAL(FRAME_NS_LEN, 86);
	memset(out, 0x5a, FRAME_NS_LEN);
	CU_ASSERT_EQUAL(frame_build_ns(out, mac_a, &src, &tgt), FRAME_NS_LEN);
	CU_ASSERT(memcmp(out, ns_want, FRAME_NS_LEN) == 0);
	CU_ASSERT_EQUAL(nd_verify(out, FRAME_NS_LEN), 0);

	CU_ASSERT_EQUAL_FATAL(parse_exact(out, FRAME_NS_LEN, &fi), FRAME_OK);
	CU_ASSERT_EQUAL(fi.kind, FRAME_IPV6);
	CU_ASSERT(fi.dst_is_group);
	CU_ASSERT(memcmp(fi.eth_dst, (const uint8_t[6]){0x33, 0x33, 0xff, 0, 0, 0x02}, 6) == 0);
	CU_ASSERT(memcmp(fi.eth_src, mac_a, 6) == 0);
	CU_ASSERT(addr_is(&fi.src, AF_INET6, ip6_ll_a));
	CU_ASSERT(addr_is(&fi.dst, AF_INET6, ip6_sn_b));
	CU_ASSERT_EQUAL(fi.l4_proto, IPPROTO_ICMPV6);
	CU_ASSERT_EQUAL(fi.l4_off, 54);
	CU_ASSERT_EQUAL(fi.ip_total_len, 72);
	CU_ASSERT_EQUAL(fi.icmp6_type, 135);
	CU_ASSERT(addr_is(&fi.nd_target, AF_INET6, ip6_b));
	CU_ASSERT(fi.nd_has_sll);
	CU_ASSERT(memcmp(fi.nd_sll, mac_a, 6) == 0);

	/* the group takes the target's low 24 bits, the MAC the group's low 32 */
	{
		static const uint8_t t[16] = {
		    0x20, 0x01, 0x0d, 0xb8, [12] = 0x12, 0x34, 0x56, 0x78};
		static const uint8_t grp[16] = {0xff, 0x02, [11] = 0x01, 0xff, 0x34, 0x56, 0x78};
		struct ipnb_addr ta = mkaddr(AF_INET6, t);

		CU_ASSERT_EQUAL(frame_build_ns(out, our_mac, &src, &ta), FRAME_NS_LEN);
		CU_ASSERT_EQUAL(nd_verify(out, FRAME_NS_LEN), 0);
		CU_ASSERT_EQUAL_FATAL(parse_exact(out, FRAME_NS_LEN, &fi), FRAME_OK);
		CU_ASSERT(memcmp(fi.eth_dst, (const uint8_t[6]){0x33, 0x33, 0xff, 0x34, 0x56, 0x78},
				 6) == 0);
		CU_ASSERT(addr_is(&fi.dst, AF_INET6, grp));
		CU_ASSERT(addr_is(&fi.nd_target, AF_INET6, t));
		CU_ASSERT(memcmp(fi.nd_sll, our_mac, 6) == 0);
	}

	/* from :: (or NULL): no source link-layer option, 8 bytes shorter,
	 * and still something the parser (which rejects DAD with an SLL) takes */
	memset(out, 0x5a, FRAME_NS_LEN);
	CU_ASSERT_EQUAL(frame_build_ns(out, mac_a, &any, &tgt), FRAME_NS_LEN - 8);
	CU_ASSERT_EQUAL(rd16(out + 18), 24);
	CU_ASSERT_EQUAL(rd16(out + 56), 0x7da3); /* python3 */
	CU_ASSERT_EQUAL(nd_verify(out, FRAME_NS_LEN - 8), 0);
	CU_ASSERT_EQUAL(out[FRAME_NS_LEN - 8], 0x5a); /* nothing written past the end */
	CU_ASSERT_EQUAL_FATAL(parse_exact(out, FRAME_NS_LEN - 8, &fi), FRAME_OK);
	CU_ASSERT_EQUAL(fi.icmp6_type, 135);
	CU_ASSERT(addr_is(&fi.src, AF_INET6, (const uint8_t[16]){0}));
	CU_ASSERT(addr_is(&fi.nd_target, AF_INET6, ip6_b));
	CU_ASSERT(!fi.nd_has_sll);
	{
		uint8_t again[FRAME_NS_LEN];

		memset(again, 0x5a, sizeof(again));
		CU_ASSERT_EQUAL(frame_build_ns(again, mac_a, NULL, &tgt), FRAME_NS_LEN - 8);
		CU_ASSERT(memcmp(again, out, FRAME_NS_LEN) == 0);
	}

	/* IPv4 target or source: nothing */
	memset(out, 0x5a, FRAME_NS_LEN);
	CU_ASSERT_EQUAL(frame_build_ns(out, mac_a, &src, &v4), 0);
	CU_ASSERT_EQUAL(frame_build_ns(out, mac_a, &v4, &tgt), 0);
	CU_ASSERT_EQUAL(out[0], 0x5a);
	free(out);
}

static void test_build_unsolicited_na(void)
{
	static const uint8_t all_nodes[16] = {0xff, 0x02, [15] = 1};
	static const uint8_t all_nodes_mac[6] = {0x33, 0x33, 0, 0, 0, 1};
	struct ipnb_addr tgt = mkaddr(AF_INET6, ip6_b), v4 = mkaddr(AF_INET, ip4_b);
	struct frame_info fi;
	uint8_t *out = malloc(FRAME_NA_LEN);

	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	memset(out, 0x5a, FRAME_NA_LEN);
	CU_ASSERT_EQUAL(frame_build_unsolicited_na(out, our_mac, &tgt), FRAME_NA_LEN);
	check_na(out, all_nodes_mac, all_nodes, 0x20); /* Override only */
	CU_ASSERT_EQUAL(rd16(out + 56), 0x599c);       /* python3 */
	CU_ASSERT_EQUAL(nd_verify(out, FRAME_NA_LEN), 0);
	CU_ASSERT_EQUAL_FATAL(parse_exact(out, FRAME_NA_LEN, &fi), FRAME_OK);
	CU_ASSERT(fi.dst_is_group);

	memset(out, 0x5a, FRAME_NA_LEN);
	CU_ASSERT_EQUAL(frame_build_unsolicited_na(out, our_mac, &v4), 0);
	CU_ASSERT_EQUAL(out[0], 0x5a);
	free(out);
}

CU_ErrorCode test_frame_register(void)
{
	CU_pSuite s = CU_add_suite("frame", NULL, NULL);

	if (!s)
		return CU_get_error();
	CU_add_test(s, "parse ARP", test_parse_arp);
	CU_add_test(s, "parse IPv4", test_parse_ipv4);
	CU_add_test(s, "parse IPv6", test_parse_ipv6);
	CU_add_test(s, "parse NS", test_parse_ns);
	CU_add_test(s, "parse NA", test_parse_na);
	CU_add_test(s, "parse other", test_parse_other);
	CU_add_test(s, "parse fragments", test_parse_fragments);
	CU_add_test(s, "every truncation", test_truncation);
	CU_add_test(s, "malformed", test_malformed);
	CU_add_test(s, "random bytes", test_parse_random);
	CU_add_test(s, "checksum helpers", test_csum_helpers);
	CU_add_test(s, "checksum completion", test_csum_complete);
	CU_add_test(s, "checksum zero", test_csum_zero);
	CU_add_test(s, "checksum refused", test_csum_refused);
	CU_add_test(s, "set L2", test_set_l2);
	CU_add_test(s, "ARP reply", test_build_arp_reply);
	CU_add_test(s, "neighbour advertisement", test_build_na);
	CU_add_test(s, "ARP request", test_build_arp_request);
	CU_add_test(s, "gratuitous ARP", test_build_garp);
	CU_add_test(s, "neighbour solicitation", test_build_ns);
	CU_add_test(s, "unsolicited neighbour advertisement", test_build_unsolicited_na);
	return CU_get_error();
}
