/* SPDX-License-Identifier: MIT */
/*
 * frame.h - Ethernet/ARP/IPv4/IPv6 frames in backend-owned memory: parsing,
 * checksum completion, L2 rewrite, the ARP / neighbour-advertisement
 * replies the backend sends on behalf of the L3 switch, and the ARP
 * requests, solicitations and announcements it sends on the uplink.
 *
 * Usage contract:
 *  - Pure functions: no logging, no allocation, no global state.
 *  - Every input is hostile: a frame_parse() of any byte string of any
 *    length returns a verdict and never reads outside [buf, buf + len).
 *  - Only the bytes the caller passes are read. frame_parse() needs only
 *    the headers: a frame cut short after them parses, one cut inside them
 *    is FRAME_ESHORT. The checksum functions need the whole frame. Every
 *    caller today passes the whole frame in backend memory: the data path
 *    grant-copies all of a packet's slots (at most TXREQ_MAX_SLOTS) into
 *    one buffer before parsing, which gathers headers split over any
 *    number of tiny slots, and the ports read whole frames from the kernel.
 *  - VLAN-tagged frames are not supported: they parse as FRAME_OTHER.
 */
#ifndef IPNB_FRAME_H
#define IPNB_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipnb/addr.h"

#define FRAME_ETH_HLEN 14
#define FRAME_ETH_ALEN 6
#define FRAME_ARP_LEN  42 /* Ethernet + ARP for IPv4 over Ethernet */
#define FRAME_MIN_LEN  60 /* Ethernet minimum without FCS; builders pad to it */
#define FRAME_NA_LEN   86 /* Ethernet + IPv6 + NA with target link-layer option */
#define FRAME_NS_LEN   86 /* Ethernet + IPv6 + NS with source link-layer option */

#define FRAME_ETHERTYPE_IPV4 0x0800
#define FRAME_ETHERTYPE_ARP  0x0806
#define FRAME_ETHERTYPE_IPV6 0x86dd

/* ARP opcodes (frame_info.arp_op) and the ICMPv6 neighbour discovery types
 * (frame_info.icmp6_type) the switch and the uplink act on. */
#define FRAME_ARP_REQUEST 1
#define FRAME_ARP_REPLY	  2
#define FRAME_ICMP6_NS	  135 /* neighbour solicitation */
#define FRAME_ICMP6_NA	  136 /* neighbour advertisement */

enum frame_kind {
	FRAME_OTHER = 0, /* valid Ethernet, not something the switch routes */
	FRAME_IPV4,
	FRAME_IPV6,
	FRAME_ARP,
};

enum frame_err {
	FRAME_OK = 0,
	FRAME_ESHORT = -1,   /* shorter than the headers it announces */
	FRAME_EMALFORM = -2, /* bad version, IHL, ARP sizes, lengths, ... */
};

struct frame_info {
	enum frame_kind kind;
	uint16_t ethertype;
	uint8_t eth_dst[FRAME_ETH_ALEN];
	uint8_t eth_src[FRAME_ETH_ALEN];
	bool dst_is_group; /* broadcast or multicast destination MAC */

	/* FRAME_IPV4 / FRAME_IPV6 */
	struct ipnb_addr src; /* IP source (ARP: sender protocol address) */
	struct ipnb_addr dst; /* IP destination (ARP: target protocol address) */
	uint8_t l4_proto;     /* IPPROTO_* after IPv6 extension headers */
	size_t l3_off;	      /* always FRAME_ETH_HLEN today */
	size_t l4_off;	      /* start of the L4 header within the frame */
	size_t ip_total_len;  /* L3 header + payload as the IP header states */
	bool ip_fragment;     /* IPv4 MF/offset or IPv6 fragment header */

	/* FRAME_ARP (Ethernet/IPv4 only) */
	uint16_t arp_op;		 /* FRAME_ARP_REQUEST, FRAME_ARP_REPLY, ... */
	uint8_t arp_sha[FRAME_ETH_ALEN]; /* sender hardware address */

	/* ICMPv6 neighbour discovery (FRAME_IPV6, l4_proto 58) */
	uint8_t icmp6_type;	    /* 0 if not ICMPv6 or not parsed */
	struct ipnb_addr nd_target; /* NS/NA target address */
	bool nd_has_sll;	    /* NS carried a source link-layer option */
	uint8_t nd_sll[FRAME_ETH_ALEN];
};

/* Parses the headers of an Ethernet frame. Returns FRAME_OK or a frame_err. */
int frame_parse(const uint8_t *buf, size_t len, struct frame_info *fi);

/*
 * Completes the L4 checksum of a TCP or UDP packet whose checksum field holds
 * only a partial value (netif NETTXF_csum_blank). The whole frame must be in
 * buf. The checksum is recomputed from scratch over the pseudo-header and the
 * L4 segment, so whatever the guest left in the field does not matter.
 * Returns FRAME_OK, FRAME_OTHER-like frames (not TCP/UDP) leave the buffer
 * untouched and return FRAME_OK; impossible lengths return FRAME_EMALFORM.
 */
int frame_csum_complete(uint8_t *buf, size_t len, const struct frame_info *fi);
/*
 * The reverse: leaves a TCP or UDP checksum blank, the field holding only
 * the pseudo-header sum over the frame's own addresses and length (what a
 * netif csum_blank or a CHECKSUM_PARTIAL receiver expects to complete).
 * Same checks and return values as frame_csum_complete().
 */
int frame_csum_partial(uint8_t *buf, size_t len, const struct frame_info *fi);

/* Whether frame_csum_complete() would succeed, without touching the frame:
 * FRAME_OK or FRAME_EMALFORM. */
int frame_csum_check(const uint8_t *buf, size_t len, const struct frame_info *fi);

/* The offset of the checksum field in the L4 header of a TCP (16) or UDP
 * (6) packet over IPv4/IPv6, or 0 for anything else: the only checksums
 * the functions above complete. */
size_t frame_csum_offset(const struct frame_info *fi);

/* Rewrites the Ethernet destination and source addresses in place. */
void frame_set_l2(uint8_t *buf, const uint8_t dst[FRAME_ETH_ALEN],
		  const uint8_t src[FRAME_ETH_ALEN]);

/*
 * Builds an ARP reply "target_ip is at our_mac" to the requester described
 * by req (a parsed ARP request). Writes FRAME_MIN_LEN bytes (padded with
 * zeros) to out, which must hold FRAME_MIN_LEN bytes; returns the length.
 */
size_t frame_build_arp_reply(uint8_t *out, const struct frame_info *req,
			     const uint8_t our_mac[FRAME_ETH_ALEN]);

/*
 * Builds a solicited neighbour advertisement answering the parsed neighbour
 * solicitation req: target req->nd_target is at our_mac, sent from
 * req->nd_target to req->src / req->eth_src, with the Solicited and Override
 * flags set, the Router flag as given, and a target link-layer address
 * option. out must hold FRAME_NA_LEN bytes; returns FRAME_NA_LEN.
 */
size_t frame_build_na(uint8_t *out, const struct frame_info *req,
		      const uint8_t our_mac[FRAME_ETH_ALEN], bool router);

/*
 * Frames the backend originates on the uplink (issue 4): resolving LAN
 * neighbours for outbound traffic and announcing guest addresses. They
 * return the number of bytes written, or 0 (writing nothing) if an address
 * is of the wrong family; out must hold the length stated for each.
 */

/*
 * Broadcast ARP request "who has target_ip, tell sender_ip" from src_mac,
 * padded with zeros to FRAME_MIN_LEN (the length returned). sender_ip may
 * be 0.0.0.0 (an ARP probe) or NULL, which means the same.
 */
size_t frame_build_arp_request(uint8_t *out, const uint8_t src_mac[FRAME_ETH_ALEN],
			       const struct ipnb_addr *sender_ip,
			       const struct ipnb_addr *target_ip);

/*
 * Gratuitous ARP announcing that ip is at mac: a broadcast request with
 * sender and target protocol address both ip and a zero target hardware
 * address. Returns FRAME_MIN_LEN.
 */
size_t frame_build_garp(uint8_t *out, const uint8_t mac[FRAME_ETH_ALEN],
			const struct ipnb_addr *ip);

/*
 * Neighbour solicitation for target, sent to its solicited-node multicast
 * group (ff02::1:ffXX:XXXX, Ethernet 33:33:ff:XX:XX:XX) from src_ip with
 * hop limit 255. It carries a source link-layer option (src_mac) unless
 * src_ip is :: (or NULL), which RFC 4861 forbids. Returns FRAME_NS_LEN, or
 * FRAME_NS_LEN - 8 without the option; out must hold FRAME_NS_LEN bytes.
 */
size_t frame_build_ns(uint8_t *out, const uint8_t src_mac[FRAME_ETH_ALEN],
		      const struct ipnb_addr *src_ip, const struct ipnb_addr *target);

/*
 * Unsolicited neighbour advertisement announcing that target is at mac:
 * from target to all-nodes (ff02::1, Ethernet 33:33:00:00:00:01), hop
 * limit 255, Override flag only, with a target link-layer option. out must
 * hold FRAME_NA_LEN bytes; returns FRAME_NA_LEN.
 */
size_t frame_build_unsolicited_na(uint8_t *out, const uint8_t mac[FRAME_ETH_ALEN],
				  const struct ipnb_addr *target);

/* Internet checksum helpers, exposed for tests and the NIC path. */
uint32_t frame_csum_add(uint32_t sum, const uint8_t *data, size_t len);
uint16_t frame_csum_fold(uint32_t sum);

#endif
