/* SPDX-License-Identifier: MIT */
/*
 * pmtu.h - what the backend does with an IP packet larger than the MTU of
 * where it goes (the uplink, or a receiver): the decision, the ICMP error
 * that lets path MTU discovery work ("fragmentation needed", "packet too
 * big"), and IPv4 fragmentation for a datagram that allows it.
 *
 * Usage contract:
 *  - Pure: no logging, no allocation, no xenstore. Works on backend-owned
 *    copies of whole frames; the caller parses the frame (frame_parse())
 *    first and completes any blank checksum before fragmenting (one
 *    fragment cannot carry the datagram's checksum).
 *  - pmtu_decide() says which of the three applies; each builder then
 *    writes into a caller buffer of the size it states.
 */
#ifndef IPNB_PMTU_H
#define IPNB_PMTU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipnb/frame.h"

/* How much of the offending packet an ICMP error quotes: as much as keeps
 * the error within the minimum datagram each family guarantees (576 bytes
 * for IPv4 as RFC 1812 4.3.2.3 asks, 1280 for IPv6, RFC 4443 2.4 (c)). */
#define PMTU_ICMP4_QUOTE 548
#define PMTU_ICMP6_QUOTE 1232
/* The longest frame pmtu_build_icmp() writes. */
#define PMTU_ICMP_MAX (FRAME_ETH_HLEN + 40 + 8 + PMTU_ICMP6_QUOTE)
/* The smallest MTU an IPv4 egress may have (RFC 791): below it even the
 * 60-byte header and 8 bytes of data do not fit in a fragment. */
#define PMTU_MIN_MTU4 68

enum pmtu_action {
	PMTU_FITS,     /* ip_len <= mtu: send as it is */
	PMTU_ICMP,     /* DF or IPv6: answer with pmtu_build_icmp() */
	PMTU_FRAGMENT, /* IPv4 without DF: pmtu_frag_plan() and send fragments */
	PMTU_DROP,     /* too big, and no error may be sent about it */
};

/*
 * What to do with the parsed IP packet buf[0..len) (frame_info fi) whose IP length
 * is ip_len (for a GSO packet: the IP length of one segment) on an egress
 * of `mtu` IP bytes. No ICMP error is sent about an ICMP error, a
 * non-initial IPv4 fragment, or a packet from an unspecified, multicast or
 * broadcast source (RFC 1812 4.3.2.7, RFC 4443 2.4 (e)); those drop.
 */
enum pmtu_action pmtu_decide(const uint8_t *buf, size_t len, const struct frame_info *fi,
			     size_t ip_len, unsigned int mtu);

/*
 * Builds the ICMP error for a packet pmtu_decide() answered PMTU_ICMP:
 * ICMPv4 type 3 code 4 with the next-hop MTU, or ICMPv6 type 2 with the
 * MTU, quoting the start of the packet. It goes back to the packet's
 * source at Ethernet fi->eth_src from src_mac, and its IP source is the
 * packet's destination: the backend answers for every address on a
 * guest's link and has none of its own there. out must hold
 * PMTU_ICMP_MAX bytes; returns the length written.
 */
size_t pmtu_build_icmp(uint8_t *out, const uint8_t *buf, size_t len, const struct frame_info *fi,
		       unsigned int mtu, const uint8_t src_mac[FRAME_ETH_ALEN]);

/* An IPv4 datagram cut into fragments of at most mtu IP bytes. */
struct pmtu_frag {
	size_t l3_off;	 /* the IP header */
	size_t ihl;	 /* the first fragment's IP header, options included */
	size_t ihl_rest; /* later fragments': only the options marked copied */
	size_t payload;	 /* the datagram's data bytes */
	size_t per;	 /* data bytes per fragment, a multiple of 8 */
	unsigned int nfrags;
	uint16_t base_off; /* the datagram's own offset (it may be a fragment) */
	bool base_mf;	   /* and its own more-fragments flag */
	uint8_t opts[40];  /* later fragments' options, padded */
};

/*
 * Plans the fragmentation of the IPv4 datagram buf[0..len) for an egress
 * of mtu >= PMTU_MIN_MTU4 bytes. Returns false if the datagram cannot be
 * cut: its IP length runs past len, or its options do not parse.
 */
bool pmtu_frag_plan(const uint8_t *buf, size_t len, const struct frame_info *fi, unsigned int mtu,
		    struct pmtu_frag *f);

/* Length of fragment k's frame, Ethernet header included. */
size_t pmtu_frag_len(const struct pmtu_frag *f, unsigned int k);

/*
 * Writes fragment k (0 <= k < nfrags) of buf into out (pmtu_frag_len()
 * bytes): the Ethernet header as it is, the IP header with its length,
 * offset, MF flag and checksum set, the options RFC 791 says each fragment
 * carries, and its share of the data. Returns the length written.
 */
size_t pmtu_frag_build(const uint8_t *buf, const struct pmtu_frag *f, unsigned int k, uint8_t *out);

#endif
