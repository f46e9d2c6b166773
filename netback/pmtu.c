/* SPDX-License-Identifier: MIT */
/*
 * pmtu.c - packets too big for their egress: whether to answer, fragment
 * or drop, the ICMP "fragmentation needed" / ICMPv6 "packet too big" the
 * sender's path MTU discovery needs, and IPv4 fragmentation. Pure; see
 * include/ipnb/pmtu.h.
 */
#include "ipnb/pmtu.h"

#include <netinet/in.h>
#include <string.h>

#define IP4_HLEN       20
#define IP6_HLEN       40
#define ICMP_HLEN      8
#define IP4_DF	       0x4000
#define IP4_MF	       0x2000
#define IP4_OFF_MASK   0x1fff
#define IP4_MAX_LEN    65535
#define IPOPT_EOL      0
#define IPOPT_NOP      1
#define IPOPT_COPIED   0x80
#define ICMP_TTL       64
#define ICMP4_UNREACH  3
#define ICMP4_NEEDFRAG 4
#define ICMP6_TOOBIG   2
#define ICMP6_INFO_MIN 128 /* ICMPv6 types below it are errors */

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static bool icmp4_is_error(uint8_t type)
{
	/* unreachable, source quench, redirect, time exceeded, parameter
	 * problem: the errors RFC 1812 4.3.2.7 says never to answer */
	return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

/* Whether an ICMP error may be sent about this packet. Its L4 type byte is
 * read only if it is there: one that is not counts as an error, so that a
 * truncated ICMP packet gets no answer either. */
static bool may_answer(const uint8_t *buf, size_t len, const struct frame_info *fi)
{
	const uint8_t *ip = buf + fi->l3_off;

	if (fi->kind == FRAME_IPV4) {
		if (get16(ip + 6) & IP4_OFF_MASK)
			return false;
		if (fi->src.bytes[0] == 0 || fi->src.bytes[0] >= 224)
			return false;
		if (fi->l4_proto == IPPROTO_ICMP &&
		    (fi->l4_off >= len || icmp4_is_error(buf[fi->l4_off])))
			return false;
		return true;
	}
	if (fi->kind != FRAME_IPV6)
		return false;
	if (ipnb_addr_is_unspecified(&fi->src) || fi->src.bytes[0] == 0xff)
		return false;
	if (fi->l4_proto == IPPROTO_ICMPV6 &&
	    (fi->l4_off >= len || buf[fi->l4_off] < ICMP6_INFO_MIN))
		return false;
	return true;
}

enum pmtu_action pmtu_decide(const uint8_t *buf, size_t len, const struct frame_info *fi,
			     size_t ip_len, unsigned int mtu)
{
	if (ip_len <= mtu)
		return PMTU_FITS;
	if (fi->kind == FRAME_IPV4 && !(get16(buf + fi->l3_off + 6) & IP4_DF))
		return mtu >= PMTU_MIN_MTU4 ? PMTU_FRAGMENT : PMTU_DROP;
	return may_answer(buf, len, fi) ? PMTU_ICMP : PMTU_DROP;
}

size_t pmtu_build_icmp(uint8_t *out, const uint8_t *buf, size_t len, const struct frame_info *fi,
		       unsigned int mtu, const uint8_t src_mac[FRAME_ETH_ALEN])
{
	bool v4 = fi->kind == FRAME_IPV4;
	size_t hl = v4 ? IP4_HLEN : IP6_HLEN, cap = v4 ? PMTU_ICMP4_QUOTE : PMTU_ICMP6_QUOTE;
	size_t have = len > fi->l3_off ? len - fi->l3_off : 0;
	size_t quote = fi->ip_total_len < have ? fi->ip_total_len : have;
	uint8_t *ip = out + FRAME_ETH_HLEN, *icmp;
	size_t alen = v4 ? 4 : 16;
	uint32_t sum;

	if (quote > cap)
		quote = cap;
	icmp = ip + hl;
	memset(out, 0, FRAME_ETH_HLEN + hl + ICMP_HLEN);
	memcpy(out, fi->eth_src, FRAME_ETH_ALEN);
	memcpy(out + FRAME_ETH_ALEN, src_mac, FRAME_ETH_ALEN);
	put16(out + 12, v4 ? FRAME_ETHERTYPE_IPV4 : FRAME_ETHERTYPE_IPV6);
	memcpy(icmp + ICMP_HLEN, buf + fi->l3_off, quote);

	if (v4) {
		ip[0] = 0x45;
		ip[1] = 0xc0; /* internetwork control, as routers send errors */
		put16(ip + 2, (uint16_t)(IP4_HLEN + ICMP_HLEN + quote));
		ip[8] = ICMP_TTL;
		ip[9] = IPPROTO_ICMP;
		memcpy(ip + 12, fi->dst.bytes, alen);
		memcpy(ip + 16, fi->src.bytes, alen);
		put16(ip + 10, frame_csum_fold(frame_csum_add(0, ip, IP4_HLEN)));
		icmp[0] = ICMP4_UNREACH;
		icmp[1] = ICMP4_NEEDFRAG;
		put16(icmp + 6, (uint16_t)(mtu > 0xffff ? 0xffff : mtu));
		sum = 0;
	} else {
		ip[0] = 0x60;
		put16(ip + 4, (uint16_t)(ICMP_HLEN + quote));
		ip[6] = IPPROTO_ICMPV6;
		ip[7] = ICMP_TTL;
		memcpy(ip + 8, fi->dst.bytes, alen);
		memcpy(ip + 24, fi->src.bytes, alen);
		icmp[0] = ICMP6_TOOBIG;
		put16(icmp + 4, (uint16_t)(mtu >> 16));
		put16(icmp + 6, (uint16_t)mtu);
		/* ICMPv6 sums a pseudo-header, ICMPv4 does not. */
		sum = frame_csum_add(0, ip + 8, 32);
		sum += (uint32_t)(ICMP_HLEN + quote) + IPPROTO_ICMPV6;
	}
	put16(icmp + 2, frame_csum_fold(frame_csum_add(sum, icmp, ICMP_HLEN + quote)));
	return FRAME_ETH_HLEN + hl + ICMP_HLEN + quote;
}

/* RFC 791: later fragments carry only the options whose copied bit is set.
 * Writes those to f->opts and sets f->ihl_rest; false if the options do
 * not parse (a length running past the header, or below 2). */
static bool plan_options(const uint8_t *ip, struct pmtu_frag *f)
{
	size_t o = IP4_HLEN, n = 0;

	memset(f->opts, 0, sizeof(f->opts));
	while (o < f->ihl && ip[o] != IPOPT_EOL) {
		size_t l;

		if (ip[o] == IPOPT_NOP) {
			o++;
			continue;
		}
		if (o + 1 >= f->ihl)
			return false;
		l = ip[o + 1];
		if (l < 2 || l > f->ihl - o)
			return false;
		if (ip[o] & IPOPT_COPIED) {
			memcpy(f->opts + n, ip + o, l);
			n += l;
		}
		o += l;
	}
	f->ihl_rest = IP4_HLEN + (n + 3) / 4 * 4;
	return true;
}

bool pmtu_frag_plan(const uint8_t *buf, size_t len, const struct frame_info *fi, unsigned int mtu,
		    struct pmtu_frag *f)
{
	const uint8_t *ip = buf + fi->l3_off;
	uint16_t flags;

	memset(f, 0, sizeof(*f));
	if (fi->kind != FRAME_IPV4 || fi->l3_off + fi->ip_total_len > len)
		return false;
	f->l3_off = fi->l3_off;
	f->ihl = fi->l4_off - fi->l3_off;
	f->payload = fi->ip_total_len - f->ihl;
	flags = get16(ip + 6);
	f->base_off = (uint16_t)((flags & IP4_OFF_MASK) * 8);
	f->base_mf = (flags & IP4_MF) != 0;
	/* A datagram whose data would end past the largest offset is not one
	 * any host could reassemble. */
	if ((size_t)f->base_off + f->payload > IP4_MAX_LEN)
		return false;
	if (mtu < f->ihl + 8 || !plan_options(ip, f))
		return false;
	f->per = (mtu - f->ihl) & ~(size_t)7;
	f->nfrags = f->payload ? (unsigned int)((f->payload + f->per - 1) / f->per) : 1;
	return true;
}

static size_t frag_data(const struct pmtu_frag *f, unsigned int k)
{
	size_t done = (size_t)k * f->per;

	return f->payload - done < f->per ? f->payload - done : f->per;
}

size_t pmtu_frag_len(const struct pmtu_frag *f, unsigned int k)
{
	return f->l3_off + (k ? f->ihl_rest : f->ihl) + frag_data(f, k);
}

size_t pmtu_frag_build(const uint8_t *buf, const struct pmtu_frag *f, unsigned int k, uint8_t *out)
{
	size_t hl = k ? f->ihl_rest : f->ihl, dlen = frag_data(f, k), done = (size_t)k * f->per;
	const uint8_t *sip = buf + f->l3_off;
	uint8_t *ip = out + f->l3_off;
	bool mf = k + 1 < f->nfrags || f->base_mf;

	memcpy(out, buf, f->l3_off + IP4_HLEN);
	if (k)
		memcpy(ip + IP4_HLEN, f->opts, hl - IP4_HLEN);
	else
		memcpy(ip + IP4_HLEN, sip + IP4_HLEN, hl - IP4_HLEN);
	memcpy(ip + hl, sip + f->ihl + done, dlen);
	ip[0] = (uint8_t)(0x40 | hl / 4);
	put16(ip + 2, (uint16_t)(hl + dlen));
	put16(ip + 6, (uint16_t)((mf ? IP4_MF : 0) | (f->base_off + done) / 8));
	put16(ip + 10, 0);
	put16(ip + 10, frame_csum_fold(frame_csum_add(0, ip, hl)));
	return f->l3_off + hl + dlen;
}
