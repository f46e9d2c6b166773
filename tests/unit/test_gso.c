/* SPDX-License-Identifier: MIT */
/*
 * test_gso.c - the GSO module (netback/gso.c): every rule of gso_check(),
 * accepted and refused, and gso_segment() against segments built on their
 * own by the fake netfront's TCP builder, over IPv4 and IPv6.
 */
#include <netinet/in.h>
#include <string.h>

#include "ipnb/frame.h"
#include "ipnb/gso.h"
#include "ipnb/xenring.h"
#include "netfront.h"
#include "suites.h"

#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_CWR 0x80

static const uint8_t dmac[6] = {0x02, 0, 0, 0, 0, 1}, smac[6] = {0x00, 0x16, 0x3e, 0, 0, 2};
static const uint8_t sip4[4] = {10, 99, 0, 1}, dip4[4] = {10, 99, 0, 2};
static const uint8_t sip6[16] = {0xfd, [15] = 1}, dip6[16] = {0xfd, [15] = 2};

static uint8_t payload[65536];
static uint8_t pkt[65600], seg[65600], want[65600];

static void fill_payload(void)
{
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + i / 251);
}

/* A TCP frame from the fixed addresses; seq 1000, id 77 unless changed. */
static size_t tcp(uint8_t *b, bool v6, uint32_t seq, uint8_t flags, uint16_t id,
		  const uint8_t *data, size_t plen, bool partial)
{
	const struct nf_tcp t = {.sport = 40000,
				 .dport = 5001,
				 .seq = seq,
				 .flags = flags,
				 .ip_id = id,
				 .payload = data,
				 .plen = plen,
				 .partial = partial};

	return nf_put_tcp(b, v6, dmac, smac, v6 ? sip6 : sip4, v6 ? dip6 : dip4, &t);
}

static enum gso_err check(const uint8_t *b, size_t len, uint8_t type, uint16_t mss,
			  struct gso_pkt *g)
{
	struct frame_info fi;

	CU_ASSERT_EQUAL_FATAL(frame_parse(b, len, &fi), FRAME_OK);
	return gso_check(b, len, &fi, type, mss, g);
}

static void test_accepts(void)
{
	struct gso_pkt g;
	size_t len;

	fill_payload();
	len = tcp(pkt, false, 1000, TCP_ACK, 77, payload, 10000, true);
	CU_ASSERT_EQUAL(check(pkt, len, XEN_NETIF_GSO_TYPE_TCPV4, 1448, &g), GSO_OK);
	CU_ASSERT_EQUAL(g.mss, 1448);
	CU_ASSERT_EQUAL(g.hdr_len, 14 + 20 + NF_TCP_HLEN);
	CU_ASSERT_EQUAL(g.payload, 10000);
	CU_ASSERT_EQUAL(g.nsegs, 7); /* 6 x 1448 + 1312 */
	CU_ASSERT_EQUAL(gso_seg_len(&g, 0), g.hdr_len + 1448);
	CU_ASSERT_EQUAL(gso_seg_len(&g, 6), g.hdr_len + 10000 - 6 * 1448);

	len = tcp(pkt, true, 1000, TCP_ACK, 0, payload, 65000, true);
	CU_ASSERT_EQUAL(check(pkt, len, XEN_NETIF_GSO_TYPE_TCPV6, 1428, &g), GSO_OK);
	CU_ASSERT_EQUAL(g.hdr_len, 14 + 40 + NF_TCP_HLEN);
	CU_ASSERT_EQUAL(g.nsegs, 46);

	/* Ethernet padding after the IP length does not count as payload */
	len = tcp(pkt, false, 1000, TCP_ACK, 77, payload, 3000, true);
	memset(pkt + len, 0xab, 8);
	CU_ASSERT_EQUAL(check(pkt, len + 8, XEN_NETIF_GSO_TYPE_TCPV4, 1000, &g), GSO_OK);
	CU_ASSERT_EQUAL(g.payload, 3000);
	CU_ASSERT_EQUAL(g.nsegs, 3);
}

/* Each rule, at the edge where it starts to refuse. */
static void test_refuses(void)
{
	struct gso_pkt g;
	struct frame_info fi;
	size_t len;

	fill_payload();
	/* the type must match the family */
	len = tcp(pkt, false, 1, TCP_ACK, 1, payload, 4000, true);
	CU_ASSERT_EQUAL(check(pkt, len, XEN_NETIF_GSO_TYPE_TCPV6, 1448, &g), GSO_E_TYPE);
	CU_ASSERT_EQUAL(check(pkt, len, XEN_NETIF_GSO_TYPE_NONE, 1448, &g), GSO_E_TYPE);
	CU_ASSERT_EQUAL(check(pkt, len, 7, 1448, &g), GSO_E_TYPE);
	len = tcp(pkt, true, 1, TCP_ACK, 1, payload, 4000, true);
	CU_ASSERT_EQUAL(check(pkt, len, XEN_NETIF_GSO_TYPE_TCPV4, 1448, &g), GSO_E_TYPE);
	CU_ASSERT_EQUAL(check(pkt, len, XEN_NETIF_GSO_TYPE_TCPV6, 1448, &g), GSO_OK);

	/* TCP only */
	len = tcp(pkt, false, 1, TCP_ACK, 1, payload, 4000, true);
	pkt[14 + 9] = IPPROTO_UDP;
	CU_ASSERT_EQUAL(check(pkt, len, XEN_NETIF_GSO_TYPE_TCPV4, 1448, &g), GSO_E_PROTO);

	/* no fragments: MF, or an offset */
	len = tcp(pkt, false, 1, TCP_ACK, 1, payload, 4000, true);
	pkt[14 + 6] = 0x20;
	CU_ASSERT_EQUAL(check(pkt, len, XEN_NETIF_GSO_TYPE_TCPV4, 1448, &g), GSO_E_FRAGMENT);
	pkt[14 + 6] = 0x40; /* DF alone is fine */
	CU_ASSERT_EQUAL(check(pkt, len, XEN_NETIF_GSO_TYPE_TCPV4, 1448, &g), GSO_OK);
	pkt[14 + 7] = 1;
	CU_ASSERT_EQUAL(check(pkt, len, XEN_NETIF_GSO_TYPE_TCPV4, 1448, &g), GSO_E_FRAGMENT);

	/* the TCP header: data offset below 5 words, or past the IP end */
	len = tcp(pkt, false, 1, TCP_ACK, 1, payload, 4000, true);
	pkt[14 + 20 + 12] = 4 << 4;
	CU_ASSERT_EQUAL(check(pkt, len, XEN_NETIF_GSO_TYPE_TCPV4, 1448, &g), GSO_E_HEADER);
	pkt[14 + 20 + 12] = 5 << 4;
	CU_ASSERT_EQUAL(check(pkt, len, XEN_NETIF_GSO_TYPE_TCPV4, 1448, &g), GSO_OK);
	CU_ASSERT_EQUAL(g.hdr_len, 14 + 20 + 20);
	len = tcp(pkt, false, 1, TCP_ACK, 1, payload, 0, true);
	pkt[14 + 20 + 12] = 15 << 4; /* 60 bytes, 32 there */
	CU_ASSERT_EQUAL(check(pkt, len, XEN_NETIF_GSO_TYPE_TCPV4, 48, &g), GSO_E_HEADER);
	/* an IP length shorter than a TCP header */
	len = tcp(pkt, false, 1, TCP_ACK, 1, payload, 4000, true);
	pkt[14 + 2] = 0;
	pkt[14 + 3] = 20 + 19;
	CU_ASSERT_EQUAL(check(pkt, len, XEN_NETIF_GSO_TYPE_TCPV4, 48, &g), GSO_E_HEADER);
	/* an IP length past the frame: frame_parse() lets it by, gso_check()
	 * does not */
	len = tcp(pkt, false, 1, TCP_ACK, 1, payload, 4000, true);
	CU_ASSERT_EQUAL(frame_parse(pkt, len - 1, &fi), FRAME_OK);
	CU_ASSERT_EQUAL(gso_check(pkt, len - 1, &fi, XEN_NETIF_GSO_TYPE_TCPV4, 1448, &g),
			GSO_E_HEADER);
	len = tcp(pkt, true, 1, TCP_ACK, 1, payload, 4000, true);
	CU_ASSERT_EQUAL(frame_parse(pkt, len - 1, &fi), FRAME_OK);
	CU_ASSERT_EQUAL(gso_check(pkt, len - 1, &fi, XEN_NETIF_GSO_TYPE_TCPV6, 1448, &g),
			GSO_E_HEADER);

	/* the MSS: at least GSO_MIN_MSS, at most the payload */
	len = tcp(pkt, false, 1, TCP_ACK, 1, payload, 4000, true);
	CU_ASSERT_EQUAL(check(pkt, len, XEN_NETIF_GSO_TYPE_TCPV4, GSO_MIN_MSS - 1, &g), GSO_E_SIZE);
	CU_ASSERT_EQUAL(check(pkt, len, XEN_NETIF_GSO_TYPE_TCPV4, GSO_MIN_MSS, &g), GSO_OK);
	CU_ASSERT_EQUAL(g.nsegs, (4000 + GSO_MIN_MSS - 1) / GSO_MIN_MSS);
	CU_ASSERT_EQUAL(check(pkt, len, XEN_NETIF_GSO_TYPE_TCPV4, 4001, &g), GSO_E_SIZE);
	CU_ASSERT_EQUAL(check(pkt, len, XEN_NETIF_GSO_TYPE_TCPV4, 4000, &g), GSO_OK);
	CU_ASSERT_EQUAL(g.nsegs, 1);
	CU_ASSERT_EQUAL(check(pkt, len, XEN_NETIF_GSO_TYPE_TCPV4, 0, &g), GSO_E_SIZE);
	len = tcp(pkt, false, 1, TCP_ACK, 1, payload, 0, true);
	CU_ASSERT_EQUAL(check(pkt, len, XEN_NETIF_GSO_TYPE_TCPV4, GSO_MIN_MSS, &g), GSO_E_SIZE);

	CU_ASSERT_STRING_EQUAL(gso_err_name(GSO_E_SIZE), "gso_bad_size");
	CU_ASSERT_STRING_EQUAL(gso_err_name(GSO_E_COUNT), "?");
}

/*
 * Cuts a packet of plen payload bytes with flags and MSS mss and compares
 * every segment with one the builder made on its own: sequence numbers,
 * IPv4 ids, lengths, flags and both checksums, byte for byte.
 */
static void segment_and_compare(bool v6, size_t plen, uint16_t mss, uint8_t flags, bool partial)
{
	struct frame_info fi;
	struct gso_pkt g;
	size_t len = tcp(pkt, v6, 0xfffff000u, flags, 0xfffe, payload, plen, true);
	size_t total = 0;

	CU_ASSERT_EQUAL_FATAL(frame_parse(pkt, len, &fi), FRAME_OK);
	CU_ASSERT_EQUAL_FATAL(gso_check(pkt, len, &fi,
					v6 ? XEN_NETIF_GSO_TYPE_TCPV6 : XEN_NETIF_GSO_TYPE_TCPV4,
					mss, &g),
			      GSO_OK);
	CU_ASSERT_EQUAL(g.nsegs, (plen + mss - 1) / mss);
	for (unsigned int k = 0; k < g.nsegs; k++) {
		size_t off = (size_t)k * mss, n = plen - off < mss ? plen - off : mss;
		uint8_t f = flags;
		size_t wlen, slen;

		if (k + 1 < g.nsegs)
			f &= (uint8_t) ~(TCP_FIN | TCP_PSH);
		if (k > 0)
			f &= (uint8_t)~TCP_CWR;
		/* the sequence number wraps, and so does the IPv4 id */
		wlen = tcp(want, v6, 0xfffff000u + (uint32_t)off, f, (uint16_t)(0xfffe + k),
			   payload + off, n, partial);
		slen = gso_segment(pkt, &fi, &g, k, partial, seg);
		CU_ASSERT_EQUAL(slen, wlen);
		CU_ASSERT_EQUAL(gso_seg_len(&g, k), wlen);
		if (slen == wlen && memcmp(seg, want, wlen) != 0) {
			CU_FAIL("segment differs from the one built on its own");
			return;
		}
		total += n;
	}
	CU_ASSERT_EQUAL(total, plen);
}

static void test_segments(void)
{
	fill_payload();
	for (int v6 = 0; v6 <= 1; v6++) {
		for (int partial = 0; partial <= 1; partial++) {
			segment_and_compare(v6, 10000, 1448, TCP_ACK | TCP_PSH | TCP_FIN | TCP_CWR,
					    partial);
			/* a whole number of segments, and the largest packet */
			segment_and_compare(v6, 4 * 1448, 1448, TCP_ACK | TCP_PSH, partial);
			segment_and_compare(v6, 65535 - 14 - 40 - NF_TCP_HLEN, 1428, TCP_ACK,
					    partial);
			/* one segment: every flag stays */
			segment_and_compare(v6, 500, 500, TCP_ACK | TCP_PSH | TCP_FIN | TCP_CWR,
					    partial);
			/* the smallest MSS, an odd payload */
			segment_and_compare(v6, 1001, GSO_MIN_MSS, TCP_ACK | TCP_FIN, partial);
		}
	}
}

/* frame_csum_partial() leaves what a blank-checksum sender does, and
 * completing that gives the full checksum. */
static void test_partial_roundtrip(void)
{
	struct frame_info fi;
	size_t len;

	fill_payload();
	for (int v6 = 0; v6 <= 1; v6++) {
		len = tcp(want, v6, 5, TCP_ACK, 9, payload, 3001, false);
		memcpy(pkt, want, len);
		CU_ASSERT_EQUAL_FATAL(frame_parse(pkt, len, &fi), FRAME_OK);
		CU_ASSERT_EQUAL(frame_csum_partial(pkt, len, &fi), FRAME_OK);
		tcp(seg, v6, 5, TCP_ACK, 9, payload, 3001, true);
		CU_ASSERT(memcmp(pkt, seg, len) == 0);
		CU_ASSERT_EQUAL(frame_csum_complete(pkt, len, &fi), FRAME_OK);
		CU_ASSERT(memcmp(pkt, want, len) == 0);
	}
}

CU_ErrorCode test_gso_register(void)
{
	CU_pSuite s = CU_add_suite("gso", NULL, NULL);

	if (!s)
		return CU_get_error();
	CU_add_test(s, "accepted requests", test_accepts);
	CU_add_test(s, "each rule refuses", test_refuses);
	CU_add_test(s, "segments match independently built ones", test_segments);
	CU_add_test(s, "partial checksum round trip", test_partial_roundtrip);
	return CU_get_error();
}
