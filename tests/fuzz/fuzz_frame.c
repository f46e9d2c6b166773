/* SPDX-License-Identifier: MIT */
/*
 * fuzz_frame.c - libFuzzer target for frame.c: what a guest puts in its TX
 * pages and what the LAN puts on the wire, parsed by frame_parse().
 *
 * Each input is one frame, in a buffer of exactly its length so that
 * AddressSanitizer catches a read one byte past it. For frames that parse:
 *  - TCP/UDP over IPv4/IPv6 get frame_csum_complete() on a private copy;
 *    it may change only the two checksum bytes, and on success the
 *    checksum must verify (checked here with an independent sum), and
 *    frame_csum_check() must have said which it would be;
 *  - ARP requests get an ARP reply and neighbour solicitations a neighbour
 *    advertisement, each built into a buffer of exactly the documented
 *    size, which must parse back as what it claims to be;
 *  - frame_set_l2() swaps the MACs of a copy when given them from the copy;
 *  - the uplink's own frames (ARP request, gratuitous ARP, NS, unsolicited
 *    NA) are built from the parsed addresses, into exact-size buffers.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "ipnb/frame.h"

static const uint8_t our_mac[FRAME_ETH_ALEN] = {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff};

/* One's-complement sum of 16-bit big-endian words, written apart from frame.c. */
static uint64_t sum_words(uint64_t s, const uint8_t *d, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint64_t)d[i] << 8 | d[i + 1];
	if (n & 1)
		s += (uint64_t)d[n - 1] << 8;
	return s;
}

static uint16_t fold16(uint64_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* True if the L4 segment [l4, l4 + seg) checksums to all ones with the
 * pseudo-header of fi. */
static bool l4_verifies(const struct frame_info *fi, const uint8_t *l4, size_t seg)
{
	size_t alen = ipnb_addr_len(&fi->src);
	uint64_t s = 0;

	s = sum_words(s, fi->src.bytes, alen);
	s = sum_words(s, fi->dst.bytes, alen);
	s += fi->l4_proto;
	s += seg >> 16;
	s += seg & 0xffff;
	s = sum_words(s, l4, seg);
	return fold16(s) == 0xffff;
}

static void check_csum(const uint8_t *data, size_t size, const struct frame_info *fi)
{
	uint8_t *copy;
	size_t field;
	int r;

	if ((fi->kind != FRAME_IPV4 && fi->kind != FRAME_IPV6) ||
	    (fi->l4_proto != IPPROTO_TCP && fi->l4_proto != IPPROTO_UDP))
		return;
	field = fi->l4_proto == IPPROTO_TCP ? 16 : 6;
	copy = malloc(size);
	CHECK(copy);
	memcpy(copy, data, size);
	r = frame_csum_complete(copy, size, fi);
	CHECK(r == FRAME_OK || r == FRAME_EMALFORM);
	/* frame_csum_check() foretells it, on the untouched frame */
	CHECK(frame_csum_check(data, size, fi) == r);
	/* Only the checksum field may change. */
	for (size_t i = 0; i < size; i++) {
		if (r == FRAME_OK && i >= fi->l4_off + field && i < fi->l4_off + field + 2)
			continue;
		CHECK(copy[i] == data[i]);
	}
	if (r == FRAME_OK) {
		size_t ipend = fi->l3_off + fi->ip_total_len;
		size_t seg;

		CHECK(!fi->ip_fragment);
		CHECK(ipend <= size && fi->l4_off <= ipend);
		seg = ipend - fi->l4_off;
		if (fi->l4_proto == IPPROTO_UDP) {
			size_t ulen = (size_t)copy[fi->l4_off + 4] << 8 | copy[fi->l4_off + 5];

			CHECK(ulen >= 8 && ulen <= seg);
			seg = ulen;
			/* zero means "no checksum" in UDP and is never produced */
			CHECK(copy[fi->l4_off + 6] || copy[fi->l4_off + 7]);
		}
		CHECK(l4_verifies(fi, copy + fi->l4_off, seg));
	}
	free(copy);
}

/* The L2 rewrite, with the new addresses taken from the frame itself (the
 * data path never does that, but the function allows it): a swap. */
static void check_set_l2(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size);

	CHECK(copy);
	memcpy(copy, data, size);
	frame_set_l2(copy, copy + FRAME_ETH_ALEN, copy);
	CHECK(memcmp(copy, data + FRAME_ETH_ALEN, FRAME_ETH_ALEN) == 0);
	CHECK(memcmp(copy + FRAME_ETH_ALEN, data, FRAME_ETH_ALEN) == 0);
	CHECK(memcmp(copy + 2 * FRAME_ETH_ALEN, data + 2 * FRAME_ETH_ALEN,
		     size - 2 * FRAME_ETH_ALEN) == 0);
	free(copy);
}

/* Builds into a heap buffer of exactly cap bytes, so that any write past the
 * documented size is caught; returns the buffer (caller frees). */
static uint8_t *exact(size_t cap)
{
	uint8_t *b = malloc(cap);

	CHECK(b);
	memset(b, 0xa5, cap);
	return b;
}

static void check_replies(const struct frame_info *fi)
{
	struct frame_info back;
	uint8_t *out;
	size_t n;

	if (fi->kind == FRAME_ARP) {
		out = exact(FRAME_MIN_LEN);
		n = frame_build_arp_reply(out, fi, our_mac);
		CHECK(n == FRAME_MIN_LEN);
		CHECK(frame_parse(out, n, &back) == FRAME_OK);
		CHECK(back.kind == FRAME_ARP && back.arp_op == FRAME_ARP_REPLY);
		CHECK(ipnb_addr_equal(&back.src, &fi->dst) && ipnb_addr_equal(&back.dst, &fi->src));
		CHECK(memcmp(back.eth_dst, fi->eth_src, FRAME_ETH_ALEN) == 0);
		CHECK(memcmp(back.arp_sha, our_mac, FRAME_ETH_ALEN) == 0);
		free(out);
	}
	if (fi->kind == FRAME_IPV6 && fi->l4_proto == IPPROTO_ICMPV6 &&
	    fi->icmp6_type == FRAME_ICMP6_NS) {
		for (int router = 0; router < 2; router++) {
			out = exact(FRAME_NA_LEN);
			n = frame_build_na(out, fi, our_mac, router);
			CHECK(n == FRAME_NA_LEN);
			CHECK(frame_parse(out, n, &back) == FRAME_OK);
			CHECK(back.kind == FRAME_IPV6 && back.icmp6_type == FRAME_ICMP6_NA);
			CHECK(ipnb_addr_equal(&back.nd_target, &fi->nd_target));
			CHECK(ipnb_addr_equal(&back.src, &fi->nd_target));
			CHECK(fold16(sum_words(0, out + 14 + 8, 32) + 58 + (n - 54) +
				     sum_words(0, out + 54, n - 54)) == 0xffff);
			free(out);
		}
	}
}

/* The uplink's own frames, from addresses a hostile frame supplied. */
static void check_uplink_builders(const struct frame_info *fi)
{
	const struct ipnb_addr *addrs[] = {&fi->src, &fi->dst, &fi->nd_target};
	struct frame_info back;
	uint8_t *out;
	size_t n;

	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		const struct ipnb_addr *a = addrs[i];
		bool v4 = a->family == AF_INET, v6 = a->family == AF_INET6;

		out = exact(FRAME_MIN_LEN);
		n = frame_build_arp_request(out, fi->eth_src, i ? &fi->src : NULL, a);
		CHECK(n == (v4 && (!i || fi->src.family == AF_INET) ? FRAME_MIN_LEN : 0));
		if (n) {
			CHECK(frame_parse(out, n, &back) == FRAME_OK && back.kind == FRAME_ARP);
			CHECK(back.arp_op == FRAME_ARP_REQUEST && ipnb_addr_equal(&back.dst, a));
		}
		free(out);

		out = exact(FRAME_MIN_LEN);
		n = frame_build_garp(out, fi->eth_src, a);
		CHECK(n == (v4 ? FRAME_MIN_LEN : 0));
		free(out);

		out = exact(FRAME_NS_LEN);
		n = frame_build_ns(out, our_mac, i ? &fi->src : NULL, a);
		if (!v6 || (i && fi->src.family != AF_INET6)) {
			CHECK(n == 0);
		} else {
			bool from_any = !i || ipnb_addr_is_unspecified(&fi->src);

			CHECK(n == (from_any ? FRAME_NS_LEN - 8 : FRAME_NS_LEN));
			/* A multicast target is refused by the parser on purpose. */
			if (a->bytes[0] != 0xff) {
				CHECK(frame_parse(out, n, &back) == FRAME_OK);
				CHECK(back.kind == FRAME_IPV6 && back.icmp6_type == FRAME_ICMP6_NS);
				CHECK(back.nd_has_sll == !from_any);
			}
		}
		free(out);

		out = exact(FRAME_NA_LEN);
		n = frame_build_unsolicited_na(out, our_mac, a);
		CHECK(n == (v6 ? FRAME_NA_LEN : 0));
		free(out);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame_info fi;
	int r = frame_parse(data, size, &fi);

	CHECK(r == FRAME_OK || r == FRAME_ESHORT || r == FRAME_EMALFORM);
	if (r != FRAME_OK)
		return 0;
	CHECK(size >= FRAME_ETH_HLEN);
	if (fi.kind == FRAME_IPV4 || fi.kind == FRAME_IPV6) {
		CHECK(fi.l3_off == FRAME_ETH_HLEN);
		CHECK(fi.l4_off <= size);
	}
	check_csum(data, size, &fi);
	check_set_l2(data, size);
	check_replies(&fi);
	check_uplink_builders(&fi);
	return 0;
}
