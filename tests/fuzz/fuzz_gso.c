/* SPDX-License-Identifier: MIT */
/*
 * fuzz_gso.c - libFuzzer target for gso.c: a GSO request (type and MSS, the
 * input's first three bytes) against any frame (the rest), as a guest may
 * send one.
 *
 * The frame sits in a buffer of exactly its length, so AddressSanitizer
 * catches a read past it. For a request gso_check() accepts:
 *  - the segments' payloads, in order, are the packet's payload, each of at
 *    most the MSS and only the last shorter;
 *  - every segment parses back as TCP of the packet's family, between the
 *    same addresses, with its IP length its own and a checksum that
 *    verifies (complete), or the pseudo-header sum (partial);
 *  - no segment exceeds 64 KiB, and there are at most 64 KiB / GSO_MIN_MSS.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "ipnb/gso.h"
#include "ipnb/xenring.h"

static uint8_t seg[65536 + 64];

static uint16_t fold16(uint64_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* One's-complement sum over a segment's TCP header and payload with its
 * pseudo-header, written apart from frame.c. */
static uint16_t l4_sum(const struct frame_info *fi, const uint8_t *l4, size_t n)
{
	size_t alen = fi->kind == FRAME_IPV6 ? 16 : 4;
	uint64_t s = IPPROTO_TCP + (n >> 16) + (n & 0xffff);

	for (size_t i = 0; i < alen; i += 2)
		s += (uint64_t)(fi->src.bytes[i] << 8 | fi->src.bytes[i + 1]) +
		     (uint64_t)(fi->dst.bytes[i] << 8 | fi->dst.bytes[i + 1]);
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint64_t)(l4[i] << 8 | l4[i + 1]);
	if (n & 1)
		s += (uint64_t)l4[n - 1] << 8;
	return fold16(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame_info fi, sfi;
	struct gso_pkt g;
	uint8_t *buf;
	size_t len, done = 0;
	uint8_t type;
	uint16_t mss;

	if (size < 3 || size - 3 > 65535)
		return 0;
	type = data[0] % 4; /* NONE, TCPV4, TCPV6 and one unknown */
	mss = (uint16_t)(data[1] << 8 | data[2]);
	len = size - 3;
	buf = malloc(len ? len : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 3, len);
	if (frame_parse(buf, len, &fi) != FRAME_OK ||
	    gso_check(buf, len, &fi, type, mss, &g) != GSO_OK) {
		free(buf);
		return 0;
	}
	CHECK(type == XEN_NETIF_GSO_TYPE_TCPV4 || type == XEN_NETIF_GSO_TYPE_TCPV6);
	CHECK(g.mss >= GSO_MIN_MSS && g.mss <= g.payload);
	CHECK(g.nsegs >= 1 && g.nsegs <= 65535 / GSO_MIN_MSS + 1);
	CHECK(g.hdr_len + g.payload <= len);
	for (unsigned int k = 0; k < g.nsegs; k++) {
		bool partial = (k + data[0] / 4) & 1;
		size_t slen = gso_segment(buf, &fi, &g, k, partial, seg);
		size_t n = slen - g.hdr_len;
		uint16_t sum;

		CHECK(slen == gso_seg_len(&g, k) && slen <= 65535);
		CHECK(n >= 1 && n <= g.mss && (n == g.mss || k + 1 == g.nsegs));
		CHECK(memcmp(seg + g.hdr_len, buf + g.hdr_len + done, n) == 0);
		CHECK(frame_parse(seg, slen, &sfi) == FRAME_OK);
		CHECK(sfi.kind == fi.kind && sfi.l4_proto == IPPROTO_TCP && !sfi.ip_fragment);
		CHECK(ipnb_addr_equal(&sfi.src, &fi.src) && ipnb_addr_equal(&sfi.dst, &fi.dst));
		CHECK(sfi.l3_off + sfi.ip_total_len == slen && sfi.l4_off == g.l4_off);
		sum = l4_sum(&sfi, seg + g.l4_off, slen - g.l4_off);
		if (partial) {
			size_t tl = slen - g.l4_off;
			uint64_t ph = IPPROTO_TCP + (tl >> 16) + (tl & 0xffff);
			size_t alen = fi.kind == FRAME_IPV6 ? 16 : 4;

			for (size_t i = 0; i < alen; i += 2)
				ph += (uint64_t)(fi.src.bytes[i] << 8 | fi.src.bytes[i + 1]) +
				      (uint64_t)(fi.dst.bytes[i] << 8 | fi.dst.bytes[i + 1]);
			CHECK((seg[g.l4_off + 16] << 8 | seg[g.l4_off + 17]) == fold16(ph));
		} else {
			CHECK(sum == 0xffff);
		}
		done += n;
	}
	CHECK(done == g.payload);
	free(buf);
	return 0;
}
