/* SPDX-License-Identifier: MIT */
/*
 * gso.h - TCP segmentation offload as pure functions: checks a netif GSO
 * request against the frame it describes, and cuts a GSO packet into the
 * TCP segments a receiver without GSO must get.
 *
 * Usage contract:
 *  - Pure: no logging, no allocation, no xenstore. Works on backend-owned
 *    copies only; the caller parses the frame (frame_parse()) first.
 *  - gso_check() says whether the request is one this backend forwards;
 *    on GSO_OK it fills a struct gso_pkt that the other calls take.
 *  - gso_segment() writes segment k (0 <= k < nsegs) of the packet into a
 *    caller buffer of at least gso_seg_len(g, k) bytes. Segments are
 *    independent of one another, so the caller may stop at any k.
 */
#ifndef IPNB_GSO_H
#define IPNB_GSO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipnb/frame.h"

/* The smallest MSS forwarded: Linux's own floor for TCP (tcp_min_snd_mss,
 * raised after CVE-2019-11479). Below it, one 64 KiB request would cost
 * over a thousand segments to cut. */
#define GSO_MIN_MSS 48

enum gso_err {
	GSO_OK = 0,
	GSO_E_TYPE,	/* not TCPV4 over IPv4 or TCPV6 over IPv6 */
	GSO_E_PROTO,	/* the packet is not TCP */
	GSO_E_FRAGMENT, /* an IP fragment cannot be segmented */
	GSO_E_HEADER,	/* the TCP header is short or its length field bad */
	GSO_E_SIZE,	/* MSS below GSO_MIN_MSS, or above the payload */
	GSO_E_COUNT
};

struct gso_pkt {
	uint8_t type;	    /* XEN_NETIF_GSO_TYPE_TCPV4 or _TCPV6 */
	uint16_t mss;	    /* payload bytes per segment */
	size_t l3_off;	    /* IP header */
	size_t l4_off;	    /* TCP header */
	size_t hdr_len;	    /* Ethernet, IP (with extension headers) and TCP */
	size_t payload;	    /* TCP payload bytes, as the IP length states */
	unsigned int nsegs; /* segments of at most mss payload bytes */
};

/*
 * Checks a GSO request of netif type `type` (XEN_NETIF_GSO_TYPE_*) and MSS
 * `size` against the parsed frame buf[0..len). Bytes past the IP length
 * (Ethernet padding) are ignored.
 */
enum gso_err gso_check(const uint8_t *buf, size_t len, const struct frame_info *fi, uint8_t type,
		       uint16_t size, struct gso_pkt *out);

/* Length in bytes of segment k, headers included. */
size_t gso_seg_len(const struct gso_pkt *g, unsigned int k);

/*
 * Writes segment k of the GSO packet buf into out: the headers with the IP
 * length (and IPv4 id + k, header checksum) and the TCP sequence number
 * fixed up, FIN and PSH only on the last segment, CWR only on the first.
 * The TCP checksum is complete, or with `partial` only the pseudo-header
 * sum a receiver of a blank checksum expects (netif csum_blank). Returns
 * the length written.
 */
size_t gso_segment(const uint8_t *buf, const struct frame_info *fi, const struct gso_pkt *g,
		   unsigned int k, bool partial, uint8_t *out);

/* Recuts g into segments of mss payload bytes (a smaller egress MTU);
 * false, leaving g as it was, if mss is below GSO_MIN_MSS. */
bool gso_set_mss(struct gso_pkt *g, unsigned int mss);

const char *gso_err_name(enum gso_err e);

#endif
