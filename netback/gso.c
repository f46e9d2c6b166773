/* SPDX-License-Identifier: MIT */
/*
 * gso.c - TCP segmentation offload: the checks a guest's GSO request must
 * pass, and the software segmentation for receivers that cannot take one.
 * Pure; see include/ipnb/gso.h.
 */
#include "ipnb/gso.h"

#include <netinet/in.h>
#include <string.h>

#include "ipnb/xenring.h"

#define TCP_HLEN_MIN 20
#define IP6_HLEN     40
#define TCP_FIN	     0x01
#define TCP_PSH	     0x08
#define TCP_CWR	     0x80

static const char *const err_names[GSO_E_COUNT] = {
    [GSO_OK] = "ok",
    [GSO_E_TYPE] = "gso_type_mismatch",
    [GSO_E_PROTO] = "gso_not_tcp",
    [GSO_E_FRAGMENT] = "gso_fragment",
    [GSO_E_HEADER] = "gso_bad_header",
    [GSO_E_SIZE] = "gso_bad_size",
};

const char *gso_err_name(enum gso_err e)
{
	return (unsigned int)e < GSO_E_COUNT ? err_names[e] : "?";
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

enum gso_err gso_check(const uint8_t *buf, size_t len, const struct frame_info *fi, uint8_t type,
		       uint16_t size, struct gso_pkt *out)
{
	size_t ipend, thl;

	memset(out, 0, sizeof(*out));
	if (!((type == XEN_NETIF_GSO_TYPE_TCPV4 && fi->kind == FRAME_IPV4) ||
	      (type == XEN_NETIF_GSO_TYPE_TCPV6 && fi->kind == FRAME_IPV6)))
		return GSO_E_TYPE;
	if (fi->l4_proto != IPPROTO_TCP)
		return GSO_E_PROTO;
	if (fi->ip_fragment)
		return GSO_E_FRAGMENT;
	/* frame_parse() checked only the headers up to L4: the TCP header,
	 * and the IP length against what was copied, are ours to check. */
	ipend = fi->l3_off + fi->ip_total_len;
	if (ipend > len || fi->l4_off > ipend || ipend - fi->l4_off < TCP_HLEN_MIN)
		return GSO_E_HEADER;
	thl = (size_t)(buf[fi->l4_off + 12] >> 4) * 4;
	if (thl < TCP_HLEN_MIN || thl > ipend - fi->l4_off)
		return GSO_E_HEADER;
	out->payload = ipend - fi->l4_off - thl;
	if (size < GSO_MIN_MSS || size > out->payload)
		return GSO_E_SIZE;
	out->type = type;
	out->l3_off = fi->l3_off;
	out->l4_off = fi->l4_off;
	out->hdr_len = fi->l4_off + thl;
	(void)gso_set_mss(out, size); /* cannot fail: size was checked above */
	return GSO_OK;
}

bool gso_set_mss(struct gso_pkt *g, unsigned int mss)
{
	if (mss < GSO_MIN_MSS || mss > UINT16_MAX)
		return false;
	g->mss = (uint16_t)mss;
	g->nsegs = (unsigned int)((g->payload + mss - 1) / mss);
	return true;
}

static size_t seg_payload(const struct gso_pkt *g, unsigned int k)
{
	size_t done = (size_t)k * g->mss;

	return g->payload - done < g->mss ? g->payload - done : g->mss;
}

size_t gso_seg_len(const struct gso_pkt *g, unsigned int k)
{
	return g->hdr_len + seg_payload(g, k);
}

size_t gso_segment(const uint8_t *buf, const struct frame_info *fi, const struct gso_pkt *g,
		   unsigned int k, bool partial, uint8_t *out)
{
	size_t plen = seg_payload(g, k), len = g->hdr_len + plen;
	uint8_t *ip = out + g->l3_off, *th = out + g->l4_off;
	struct frame_info sfi = *fi;
	uint32_t seq;

	memcpy(out, buf, g->hdr_len);
	memcpy(out + g->hdr_len, buf + g->hdr_len + (size_t)k * g->mss, plen);

	if (g->type == XEN_NETIF_GSO_TYPE_TCPV4) {
		size_t ihl = g->l4_off - g->l3_off;

		put16(ip + 2, (uint16_t)(len - g->l3_off));
		/* Each segment is a datagram of its own: a fresh id, as the
		 * sender's stack would have given it. */
		put16(ip + 4, (uint16_t)(get16(ip + 4) + k));
		put16(ip + 10, 0);
		put16(ip + 10, frame_csum_fold(frame_csum_add(0, ip, ihl)));
	} else {
		/* Extension headers count in the payload length. */
		put16(ip + 4, (uint16_t)(len - g->l3_off - IP6_HLEN));
	}

	seq = (uint32_t)get16(th + 4) << 16 | get16(th + 6);
	seq += (uint32_t)((size_t)k * g->mss);
	put16(th + 4, (uint16_t)(seq >> 16));
	put16(th + 6, (uint16_t)seq);
	/* FIN and PSH belong to the end of the data, CWR to its start (as
	 * Linux's tcp_gso_segment() sets them). */
	if (k + 1 < g->nsegs)
		th[13] &= (uint8_t) ~(TCP_FIN | TCP_PSH);
	if (k > 0)
		th[13] &= (uint8_t)~TCP_CWR;

	sfi.ip_total_len = len - g->l3_off;
	/* Cannot fail: the lengths were checked by gso_check(). */
	if (partial)
		(void)frame_csum_partial(out, len, &sfi);
	else
		(void)frame_csum_complete(out, len, &sfi);
	return len;
}
