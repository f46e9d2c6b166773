/* SPDX-License-Identifier: MIT */
/*
 * frame.c - the Ethernet frames the L3 switch looks at: header parsing,
 * TCP/UDP checksum completion, L2 rewrite, the ARP replies and neighbour
 * advertisements the backend sends as a proxy for its guests, and the ARP
 * requests, neighbour solicitations and announcements (gratuitous ARP,
 * unsolicited NA) it sends on the uplink. Pure: see include/ipnb/frame.h
 * for the contract.
 */
#include "ipnb/frame.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#define IP4_HLEN	  20
#define IP6_HLEN	  40
#define ARP_BODY_LEN	  28 /* Ethernet/IPv4 ARP */
#define ARP_HTYPE_ETHER	  1
#define IP6_MAX_EXT	  8
#define IP6_FRAG_HLEN	  8
#define ICMP6_HLEN	  4
#define ND_MSG_LEN	  24 /* ICMPv6 header, flags/reserved, target */
#define ND_OPT_UNIT	  8
#define ND_HOP_LIMIT	  255
#define ND_OPT_SLL	  1
#define ND_OPT_TLL	  2
#define ND_NA_FLAG_ROUTER 0x80
#define ND_NA_FLAG_SOLIC  0x40
#define ND_NA_FLAG_OVERR  0x20

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void set_addr(struct ipnb_addr *a, int family, const uint8_t *bytes)
{
	memset(a, 0, sizeof(*a));
	a->family = (uint8_t)family;
	memcpy(a->bytes, bytes, ipnb_addr_len(a));
}

static bool ip6_is_unspecified(const uint8_t b[16])
{
	static const uint8_t zero[16];

	return memcmp(b, zero, sizeof(zero)) == 0;
}

static int parse_ipv4(const uint8_t *buf, size_t len, struct frame_info *fi)
{
	const uint8_t *ip = buf + FRAME_ETH_HLEN;
	size_t ihl, total;

	if (len < FRAME_ETH_HLEN + IP4_HLEN)
		return FRAME_ESHORT;
	if (ip[0] >> 4 != 4)
		return FRAME_EMALFORM;
	ihl = (size_t)(ip[0] & 0x0f) * 4;
	if (ihl < IP4_HLEN)
		return FRAME_EMALFORM;
	if (len - FRAME_ETH_HLEN < ihl)
		return FRAME_ESHORT;
	/* The payload itself need not be here: routing decisions are taken on
	 * the headers only, and frame_csum_complete() checks the rest. */
	total = get16(ip + 2);
	if (total < ihl)
		return FRAME_EMALFORM;

	fi->kind = FRAME_IPV4;
	fi->ip_total_len = total;
	fi->l4_proto = ip[9];
	fi->l4_off = FRAME_ETH_HLEN + ihl;
	fi->ip_fragment = (get16(ip + 6) & 0x3fff) != 0; /* MF or offset */
	set_addr(&fi->src, AF_INET, ip + 12);
	set_addr(&fi->dst, AF_INET, ip + 16);
	return FRAME_OK;
}

static bool ip6_is_ext(uint8_t nh)
{
	return nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_FRAGMENT ||
	       nh == IPPROTO_DSTOPTS;
}

/*
 * Neighbour discovery as RFC 4861 section 7.1 wants it validated: the proxy
 * answers on the guests' behalf, so a message a real host would discard must
 * not get an answer either. The checksum is not verified here because only
 * the headers need be present (frame.h).
 */
static int parse_nd(const uint8_t *buf, size_t len, size_t ipend, struct frame_info *fi)
{
	const uint8_t *ip = buf + FRAME_ETH_HLEN;
	size_t off = fi->l4_off;
	uint8_t type = buf[off];

	if (buf[off + 1] != 0 || ip[7] != ND_HOP_LIMIT)
		return FRAME_EMALFORM;
	if (ipend - off < ND_MSG_LEN)
		return FRAME_EMALFORM;
	if (len - off < ND_MSG_LEN)
		return FRAME_ESHORT;
	set_addr(&fi->nd_target, AF_INET6, buf + off + 8);
	if (buf[off + 8] == 0xff) /* multicast target */
		return FRAME_EMALFORM;
	if (type != FRAME_ICMP6_NS)
		return FRAME_OK;

	/* ipend bounds what the packet says it holds, len what we were given:
	 * running past the first is malformed, past only the second is short. */
	for (off += ND_MSG_LEN; off < ipend;) {
		size_t optlen;

		if (ipend - off < 2)
			return FRAME_EMALFORM;
		if (len - off < 2)
			return FRAME_ESHORT;
		optlen = (size_t)buf[off + 1] * ND_OPT_UNIT;
		if (optlen == 0) /* would loop forever; RFC 4861 says discard */
			return FRAME_EMALFORM;
		if (ipend - off < optlen)
			return FRAME_EMALFORM;
		if (len - off < optlen)
			return FRAME_ESHORT;
		if (buf[off] == ND_OPT_SLL && optlen == ND_OPT_UNIT) {
			fi->nd_has_sll = true;
			memcpy(fi->nd_sll, buf + off + 2, FRAME_ETH_ALEN);
		}
		off += optlen;
	}
	/* DAD probes come from :: and must not name a link-layer address. */
	if (fi->nd_has_sll && ip6_is_unspecified(fi->src.bytes))
		return FRAME_EMALFORM;
	return FRAME_OK;
}

static int parse_ipv6(const uint8_t *buf, size_t len, struct frame_info *fi)
{
	const uint8_t *ip = buf + FRAME_ETH_HLEN;
	size_t off = FRAME_ETH_HLEN + IP6_HLEN, ipend;
	uint8_t nh;
	bool more = true;

	if (len < FRAME_ETH_HLEN + IP6_HLEN)
		return FRAME_ESHORT;
	if (ip[0] >> 4 != 6)
		return FRAME_EMALFORM;
	fi->ip_total_len = IP6_HLEN + (size_t)get16(ip + 4);
	ipend = FRAME_ETH_HLEN + fi->ip_total_len;
	set_addr(&fi->src, AF_INET6, ip + 8);
	set_addr(&fi->dst, AF_INET6, ip + 24);

	nh = ip[6];
	for (unsigned int n = 0; more && ip6_is_ext(nh); n++) {
		size_t hlen;

		if (n == IP6_MAX_EXT)
			return FRAME_EMALFORM;
		if (ipend - off < 2)
			return FRAME_EMALFORM;
		if (len - off < 2)
			return FRAME_ESHORT;
		hlen = nh == IPPROTO_FRAGMENT ? IP6_FRAG_HLEN : ((size_t)buf[off + 1] + 1) * 8;
		if (ipend - off < hlen)
			return FRAME_EMALFORM;
		if (len - off < hlen)
			return FRAME_ESHORT;
		if (nh == IPPROTO_FRAGMENT) {
			fi->ip_fragment = true;
			/* Past the first fragment, what follows is payload, not
			 * the rest of the header chain. */
			if (get16(buf + off + 2) & 0xfff8)
				more = false;
		}
		nh = buf[off];
		off += hlen;
	}

	fi->kind = FRAME_IPV6;
	fi->l4_proto = nh;
	fi->l4_off = off;
	if (nh != IPPROTO_ICMPV6 || fi->ip_fragment)
		return FRAME_OK;
	if (len - off < ICMP6_HLEN || ipend - off < ICMP6_HLEN)
		return FRAME_OK;
	fi->icmp6_type = buf[off];
	if (fi->icmp6_type == FRAME_ICMP6_NS || fi->icmp6_type == FRAME_ICMP6_NA)
		return parse_nd(buf, len, ipend, fi);
	return FRAME_OK;
}

static int parse_arp(const uint8_t *buf, size_t len, struct frame_info *fi)
{
	const uint8_t *arp = buf + FRAME_ETH_HLEN;

	if (len < FRAME_ETH_HLEN + ARP_BODY_LEN)
		return FRAME_ESHORT;
	if (get16(arp) != ARP_HTYPE_ETHER || get16(arp + 2) != FRAME_ETHERTYPE_IPV4 ||
	    arp[4] != FRAME_ETH_ALEN || arp[5] != 4)
		return FRAME_EMALFORM;
	fi->kind = FRAME_ARP;
	fi->arp_op = get16(arp + 6);
	memcpy(fi->arp_sha, arp + 8, FRAME_ETH_ALEN);
	set_addr(&fi->src, AF_INET, arp + 14);
	set_addr(&fi->dst, AF_INET, arp + 24);
	return FRAME_OK;
}

int frame_parse(const uint8_t *buf, size_t len, struct frame_info *fi)
{
	memset(fi, 0, sizeof(*fi));
	if (len < FRAME_ETH_HLEN)
		return FRAME_ESHORT;
	memcpy(fi->eth_dst, buf, FRAME_ETH_ALEN);
	memcpy(fi->eth_src, buf + FRAME_ETH_ALEN, FRAME_ETH_ALEN);
	fi->dst_is_group = (buf[0] & 1) != 0;
	fi->ethertype = get16(buf + 12);
	fi->l3_off = FRAME_ETH_HLEN;

	switch (fi->ethertype) {
	case FRAME_ETHERTYPE_IPV4:
		return parse_ipv4(buf, len, fi);
	case FRAME_ETHERTYPE_IPV6:
		return parse_ipv6(buf, len, fi);
	case FRAME_ETHERTYPE_ARP:
		return parse_arp(buf, len, fi);
	default:
		return FRAME_OK;
	}
}

/*
 * The running sum is kept folded to 16 bits between calls, so callers may add
 * small pseudo-header words to it without thinking about overflow. An odd
 * trailing byte is padded with zero, so only the last piece of a checksummed
 * range may have an odd length.
 */
uint32_t frame_csum_add(uint32_t sum, const uint8_t *data, size_t len)
{
	uint64_t acc = sum;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		acc += get16(data + i);
	if (i < len)
		acc += (uint64_t)data[i] << 8;
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint32_t)acc;
}

/* Returns the value to store in a checksum field: the complement of the
 * folded sum. Over data that already holds a correct checksum it gives 0. */
uint16_t frame_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t pseudo_sum(const struct frame_info *fi, size_t l4_len)
{
	uint32_t sum;

	if (fi->kind == FRAME_IPV4) {
		sum = frame_csum_add(0, fi->src.bytes, 4);
		sum = frame_csum_add(sum, fi->dst.bytes, 4);
		return sum + fi->l4_proto + (uint32_t)l4_len;
	}
	sum = frame_csum_add(0, fi->src.bytes, 16);
	sum = frame_csum_add(sum, fi->dst.bytes, 16);
	return sum + fi->l4_proto + (uint32_t)(l4_len >> 16) + (uint32_t)(l4_len & 0xffff);
}

size_t frame_csum_offset(const struct frame_info *fi)
{
	if (fi->kind != FRAME_IPV4 && fi->kind != FRAME_IPV6)
		return 0;
	if (fi->l4_proto == IPPROTO_TCP)
		return 16;
	if (fi->l4_proto == IPPROTO_UDP)
		return 6;
	return 0;
}

/* Where a TCP or UDP checksum covers: *seg_len bytes from l4_off, or
 * FRAME_EMALFORM if the lengths do not fit. Called only for those two. */
static int csum_span(const uint8_t *buf, size_t len, const struct frame_info *fi, size_t *seg_len)
{
	size_t ipend, min_len = fi->l4_proto == IPPROTO_TCP ? 20 : 8;

	/* One fragment cannot carry the checksum of the whole datagram. */
	if (fi->ip_fragment)
		return FRAME_EMALFORM;
	ipend = fi->l3_off + fi->ip_total_len;
	if (ipend > len || fi->l4_off > ipend || ipend - fi->l4_off < min_len)
		return FRAME_EMALFORM;
	*seg_len = ipend - fi->l4_off;
	if (fi->l4_proto == IPPROTO_UDP) {
		size_t ulen = get16(buf + fi->l4_off + 4);

		/* Receivers trim to the UDP length and verify over it. */
		if (ulen < min_len || ulen > *seg_len)
			return FRAME_EMALFORM;
		*seg_len = ulen;
	}
	return FRAME_OK;
}

int frame_csum_check(const uint8_t *buf, size_t len, const struct frame_info *fi)
{
	size_t seg_len;

	return frame_csum_offset(fi) ? csum_span(buf, len, fi, &seg_len) : FRAME_OK;
}

/*
 * A routing header with segments left would put the final destination, not
 * the header's, into the IPv6 pseudo-header; like Linux netback we use the
 * header's destination, which is what netfront's partial sum covers too.
 */
static int csum_fill(uint8_t *buf, size_t len, const struct frame_info *fi, bool partial)
{
	size_t field = frame_csum_offset(fi), seg_len;
	uint8_t *l4 = buf + fi->l4_off;
	uint16_t csum;

	if (!field)
		return FRAME_OK;
	if (csum_span(buf, len, fi, &seg_len) != FRAME_OK)
		return FRAME_EMALFORM;
	if (partial) {
		/* What the sender of a blank checksum leaves in the field:
		 * the folded pseudo-header sum, not complemented. */
		put16(l4 + field, (uint16_t)~frame_csum_fold(pseudo_sum(fi, seg_len)));
		return FRAME_OK;
	}
	put16(l4 + field, 0);
	csum = frame_csum_fold(frame_csum_add(pseudo_sum(fi, seg_len), l4, seg_len));
	/* In UDP an all-zero field means "no checksum" (and is forbidden over
	 * IPv6), so a computed zero is sent as its other representation. */
	if (csum == 0 && fi->l4_proto == IPPROTO_UDP)
		csum = 0xffff;
	put16(l4 + field, csum);
	return FRAME_OK;
}

int frame_csum_complete(uint8_t *buf, size_t len, const struct frame_info *fi)
{
	return csum_fill(buf, len, fi, false);
}

int frame_csum_partial(uint8_t *buf, size_t len, const struct frame_info *fi)
{
	return csum_fill(buf, len, fi, true);
}

void frame_set_l2(uint8_t *buf, const uint8_t dst[FRAME_ETH_ALEN],
		  const uint8_t src[FRAME_ETH_ALEN])
{
	uint8_t hdr[2 * FRAME_ETH_ALEN];

	/* Staged so that dst or src may point into buf itself. */
	memcpy(hdr, dst, FRAME_ETH_ALEN);
	memcpy(hdr + FRAME_ETH_ALEN, src, FRAME_ETH_ALEN);
	memcpy(buf, hdr, sizeof(hdr));
}

size_t frame_build_arp_reply(uint8_t *out, const struct frame_info *req,
			     const uint8_t our_mac[FRAME_ETH_ALEN])
{
	uint8_t *arp = out + FRAME_ETH_HLEN;

	memset(out, 0, FRAME_MIN_LEN);
	memcpy(out, req->eth_src, FRAME_ETH_ALEN);
	memcpy(out + FRAME_ETH_ALEN, our_mac, FRAME_ETH_ALEN);
	put16(out + 12, FRAME_ETHERTYPE_ARP);

	put16(arp, ARP_HTYPE_ETHER);
	put16(arp + 2, FRAME_ETHERTYPE_IPV4);
	arp[4] = FRAME_ETH_ALEN;
	arp[5] = 4;
	put16(arp + 6, FRAME_ARP_REPLY);
	memcpy(arp + 8, our_mac, FRAME_ETH_ALEN);
	memcpy(arp + 14, req->dst.bytes, 4);
	memcpy(arp + 18, req->arp_sha, FRAME_ETH_ALEN);
	memcpy(arp + 24, req->src.bytes, 4);
	return FRAME_MIN_LEN;
}

/*
 * Writes a whole neighbour discovery frame: Ethernet, IPv6 with hop limit
 * 255 (receivers discard ND with any other, as proof it was not routed),
 * the NS/NA body for target, an optional one-unit link-layer option, and
 * the ICMPv6 checksum. Returns the frame length.
 */
struct nd_frame {
	const uint8_t *eth_dst, *eth_src;
	const uint8_t *ip_src, *ip_dst; /* 16 bytes each */
	uint8_t type;			/* FRAME_ICMP6_NS or FRAME_ICMP6_NA */
	uint8_t flags;			/* NA flags byte */
	const uint8_t *target;		/* 16 bytes */
	uint8_t opt_type;		/* ND_OPT_SLL, ND_OPT_TLL, or 0 for none */
	const uint8_t *opt_mac;
};

static size_t build_nd(uint8_t *out, const struct nd_frame *nd)
{
	const size_t icmp_len = ND_MSG_LEN + (nd->opt_type ? ND_OPT_UNIT : 0);
	uint8_t *ip = out + FRAME_ETH_HLEN;
	uint8_t *icmp = ip + IP6_HLEN;
	uint32_t sum;

	memset(out, 0, FRAME_ETH_HLEN + IP6_HLEN + icmp_len);
	memcpy(out, nd->eth_dst, FRAME_ETH_ALEN);
	memcpy(out + FRAME_ETH_ALEN, nd->eth_src, FRAME_ETH_ALEN);
	put16(out + 12, FRAME_ETHERTYPE_IPV6);

	ip[0] = 0x60;
	put16(ip + 4, (uint16_t)icmp_len);
	ip[6] = IPPROTO_ICMPV6;
	ip[7] = ND_HOP_LIMIT;
	memcpy(ip + 8, nd->ip_src, 16);
	memcpy(ip + 24, nd->ip_dst, 16);

	icmp[0] = nd->type;
	icmp[4] = nd->flags;
	memcpy(icmp + 8, nd->target, 16);
	if (nd->opt_type) {
		icmp[ND_MSG_LEN] = nd->opt_type;
		icmp[ND_MSG_LEN + 1] = 1;
		memcpy(icmp + ND_MSG_LEN + 2, nd->opt_mac, FRAME_ETH_ALEN);
	}

	sum = frame_csum_add(0, ip + 8, 32);
	sum += (uint32_t)icmp_len + IPPROTO_ICMPV6;
	put16(icmp + 2, frame_csum_fold(frame_csum_add(sum, icmp, icmp_len)));
	return FRAME_ETH_HLEN + IP6_HLEN + icmp_len;
}

static const uint8_t all_nodes[16] = {0xff, 0x02, [15] = 0x01};
static const uint8_t all_nodes_mac[FRAME_ETH_ALEN] = {0x33, 0x33, 0, 0, 0, 0x01};

size_t frame_build_na(uint8_t *out, const struct frame_info *req,
		      const uint8_t our_mac[FRAME_ETH_ALEN], bool router)
{
	/* RFC 4861 7.2.4: a solicitation from :: (duplicate address
	 * detection) is answered to all-nodes, without the Solicited flag. */
	bool dad = ip6_is_unspecified(req->src.bytes);
	struct nd_frame nd = {
	    .eth_dst = dad ? all_nodes_mac : req->eth_src,
	    .eth_src = our_mac,
	    .ip_src = req->nd_target.bytes,
	    .ip_dst = dad ? all_nodes : req->src.bytes,
	    .type = FRAME_ICMP6_NA,
	    .flags = (uint8_t)((router ? ND_NA_FLAG_ROUTER : 0) | (dad ? 0 : ND_NA_FLAG_SOLIC) |
			       ND_NA_FLAG_OVERR),
	    .target = req->nd_target.bytes,
	    .opt_type = ND_OPT_TLL,
	    .opt_mac = our_mac,
	};

	return build_nd(out, &nd);
}

size_t frame_build_arp_request(uint8_t *out, const uint8_t src_mac[FRAME_ETH_ALEN],
			       const struct ipnb_addr *sender_ip, const struct ipnb_addr *target_ip)
{
	static const uint8_t bcast[FRAME_ETH_ALEN] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	uint8_t *arp = out + FRAME_ETH_HLEN;

	if (target_ip->family != AF_INET || (sender_ip && sender_ip->family != AF_INET))
		return 0;
	memset(out, 0, FRAME_MIN_LEN);
	memcpy(out, bcast, FRAME_ETH_ALEN);
	memcpy(out + FRAME_ETH_ALEN, src_mac, FRAME_ETH_ALEN);
	put16(out + 12, FRAME_ETHERTYPE_ARP);

	put16(arp, ARP_HTYPE_ETHER);
	put16(arp + 2, FRAME_ETHERTYPE_IPV4);
	arp[4] = FRAME_ETH_ALEN;
	arp[5] = 4;
	put16(arp + 6, FRAME_ARP_REQUEST);
	memcpy(arp + 8, src_mac, FRAME_ETH_ALEN);
	if (sender_ip)
		memcpy(arp + 14, sender_ip->bytes, 4);
	/* target hardware address stays zero: it is what we ask for */
	memcpy(arp + 24, target_ip->bytes, 4);
	return FRAME_MIN_LEN;
}

/* The request form, as RFC 5227 section 3 announces addresses: every host
 * on the segment receives a broadcast request and refreshes its cache. */
size_t frame_build_garp(uint8_t *out, const uint8_t mac[FRAME_ETH_ALEN], const struct ipnb_addr *ip)
{
	return frame_build_arp_request(out, mac, ip, ip);
}

size_t frame_build_ns(uint8_t *out, const uint8_t src_mac[FRAME_ETH_ALEN],
		      const struct ipnb_addr *src_ip, const struct ipnb_addr *target)
{
	static const uint8_t unspecified[16];
	/* ff02::1:ff00:0/104 plus the target's low 24 bits, and the group's
	 * Ethernet mapping 33:33 plus its low 32 bits (RFC 2464). */
	uint8_t group[16] = {0xff, 0x02, [11] = 0x01, [12] = 0xff};
	uint8_t group_mac[FRAME_ETH_ALEN] = {0x33, 0x33, 0xff};
	const uint8_t *src = src_ip ? src_ip->bytes : unspecified;
	bool has_src;

	if (target->family != AF_INET6 || (src_ip && src_ip->family != AF_INET6))
		return 0;
	memcpy(group + 13, target->bytes + 13, 3);
	memcpy(group_mac + 3, target->bytes + 13, 3);
	/* RFC 4861 7.2.2: no source link-layer option from :: (DAD). */
	has_src = !ip6_is_unspecified(src);

	struct nd_frame nd = {
	    .eth_dst = group_mac,
	    .eth_src = src_mac,
	    .ip_src = src,
	    .ip_dst = group,
	    .type = FRAME_ICMP6_NS,
	    .target = target->bytes,
	    .opt_type = has_src ? ND_OPT_SLL : 0,
	    .opt_mac = src_mac,
	};

	return build_nd(out, &nd);
}

size_t frame_build_unsolicited_na(uint8_t *out, const uint8_t mac[FRAME_ETH_ALEN],
				  const struct ipnb_addr *target)
{
	/* RFC 4861 7.2.6: not Solicited; Override so that caches holding
	 * another MAC for target switch to this one. */
	struct nd_frame nd = {
	    .eth_dst = all_nodes_mac,
	    .eth_src = mac,
	    .ip_src = target->bytes,
	    .ip_dst = all_nodes,
	    .type = FRAME_ICMP6_NA,
	    .flags = ND_NA_FLAG_OVERR,
	    .target = target->bytes,
	    .opt_type = ND_OPT_TLL,
	    .opt_mac = mac,
	};

	if (target->family != AF_INET6)
		return 0;
	return build_nd(out, &nd);
}
