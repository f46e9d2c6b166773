/* SPDX-License-Identifier: MIT */
/*
 * test_pmtu.c - the too-big module (netback/pmtu.c): the decision for each
 * kind of packet, the ICMP errors checked field by field, and IPv4
 * fragments reassembled here and compared with the datagram they came from.
 */
#include <netinet/in.h>
#include <string.h>

#include "ipnb/frame.h"
#include "ipnb/pmtu.h"
#include "netfront.h"
#include "suites.h"

static const uint8_t dmac[6] = {0x02, 0, 0, 0, 0, 1}, smac[6] = {0x00, 0x16, 0x3e, 0, 0, 2};
static const uint8_t sip4[4] = {10, 99, 0, 1}, dip4[4] = {10, 98, 0, 1};
static const uint8_t sip6[16] = {0xfd, [15] = 1}, dip6[16] = {0xfd, 0x98, [15] = 1};

static uint8_t pkt[70000], out[70000], data[65536];

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* A UDP-like datagram of plen data bytes (proto as given), IPv4 with the
 * given flags word, or IPv6. */
static size_t dgram(bool v6, uint8_t proto, uint16_t flags, size_t plen)
{
	size_t l4 =
	    nf_put_eth_ip(pkt, v6, dmac, smac, v6 ? sip6 : sip4, v6 ? dip6 : dip4, proto, plen);

	for (size_t i = 0; i < plen; i++)
		data[i] = (uint8_t)(i * 13 + i / 253);
	memcpy(pkt + l4, data, plen);
	if (!v6) {
		pkt[14 + 6] = (uint8_t)(flags >> 8);
		pkt[14 + 7] = (uint8_t)flags;
		pkt[14 + 4] = 0x12;
		pkt[14 + 5] = 0x34;
		nf_ip4_csum(pkt);
	}
	return l4 + plen;
}

static struct frame_info parsed(size_t len)
{
	struct frame_info fi;

	CU_ASSERT_EQUAL_FATAL(frame_parse(pkt, len, &fi), FRAME_OK);
	return fi;
}

static enum pmtu_action decide(size_t len, unsigned int mtu)
{
	struct frame_info fi = parsed(len);

	return pmtu_decide(pkt, len, &fi, fi.ip_total_len, mtu);
}

static void test_decide(void)
{
	size_t len;

	len = dgram(false, IPPROTO_UDP, 0x4000, 2000);
	CU_ASSERT_EQUAL(decide(len, 1500), PMTU_ICMP);
	CU_ASSERT_EQUAL(decide(len, 2028), PMTU_FITS); /* 20 + 2000 + the 8 bytes we call UDP */
	CU_ASSERT_EQUAL(decide(len, 2020), PMTU_FITS);
	CU_ASSERT_EQUAL(decide(len, 2019), PMTU_ICMP);
	len = dgram(false, IPPROTO_UDP, 0, 2000);
	CU_ASSERT_EQUAL(decide(len, 1500), PMTU_FRAGMENT);
	CU_ASSERT_EQUAL(decide(len, 67), PMTU_DROP); /* no fragment fits */
	len = dgram(true, IPPROTO_UDP, 0, 2000);
	CU_ASSERT_EQUAL(decide(len, 1500), PMTU_ICMP);
	CU_ASSERT_EQUAL(decide(len, 2040), PMTU_FITS);

	/* never an error about an error */
	len = dgram(false, IPPROTO_ICMP, 0x4000, 2000);
	pkt[34] = 3;
	CU_ASSERT_EQUAL(decide(len, 1500), PMTU_DROP);
	pkt[34] = 8; /* an echo request is answered */
	CU_ASSERT_EQUAL(decide(len, 1500), PMTU_ICMP);
	len = dgram(true, IPPROTO_ICMPV6, 0, 2000);
	pkt[54] = 2;
	CU_ASSERT_EQUAL(decide(len, 1500), PMTU_DROP);
	pkt[54] = 128;
	CU_ASSERT_EQUAL(decide(len, 1500), PMTU_ICMP);

	/* nor about a later fragment, nor to a source nobody can be */
	len = dgram(false, IPPROTO_UDP, 0x4000 | 0x0010, 2000);
	CU_ASSERT_EQUAL(decide(len, 1500), PMTU_DROP);
	len = dgram(false, IPPROTO_UDP, 0x4000, 2000);
	memset(pkt + 14 + 12, 0, 4);
	CU_ASSERT_EQUAL(decide(len, 1500), PMTU_DROP);
	pkt[14 + 12] = 224;
	CU_ASSERT_EQUAL(decide(len, 1500), PMTU_DROP);
	len = dgram(true, IPPROTO_UDP, 0, 2000);
	memset(pkt + 14 + 8, 0, 16);
	CU_ASSERT_EQUAL(decide(len, 1500), PMTU_DROP);
	pkt[14 + 8] = 0xff;
	CU_ASSERT_EQUAL(decide(len, 1500), PMTU_DROP);
}

static void check_icmp(bool v6, size_t len, unsigned int mtu, size_t want_quote)
{
	struct frame_info fi = parsed(len), ei;
	static const uint8_t bmac[6] = {0x02, 0xaa, 0, 0, 0, 9};
	uint8_t orig[1600];
	size_t n, hl = v6 ? 40 : 20;
	const uint8_t *icmp;

	memcpy(orig, pkt + 14, sizeof(orig));
	n = pmtu_build_icmp(out, pkt, len, &fi, mtu, bmac);
	CU_ASSERT_EQUAL_FATAL(n, 14 + hl + 8 + want_quote);
	CU_ASSERT_FATAL(n <= PMTU_ICMP_MAX);
	CU_ASSERT_EQUAL_FATAL(frame_parse(out, n, &ei), FRAME_OK);
	CU_ASSERT(memcmp(out, smac, 6) == 0);
	CU_ASSERT(memcmp(out + 6, bmac, 6) == 0);
	/* back to the sender, from where it was going */
	CU_ASSERT(ipnb_addr_equal(&ei.src, &fi.dst));
	CU_ASSERT(ipnb_addr_equal(&ei.dst, &fi.src));
	CU_ASSERT_EQUAL(ei.ip_total_len, hl + 8 + want_quote);
	icmp = out + 14 + hl;
	if (v6) {
		uint32_t sum = nf_sum16(0, out + 14 + 8, 32) + IPPROTO_ICMPV6 + 8 + want_quote;

		CU_ASSERT_EQUAL(ei.l4_proto, IPPROTO_ICMPV6);
		CU_ASSERT_EQUAL(icmp[0], 2);
		CU_ASSERT_EQUAL(icmp[1], 0);
		CU_ASSERT_EQUAL((uint32_t)get16(icmp + 4) << 16 | get16(icmp + 6), mtu);
		CU_ASSERT_EQUAL(nf_fold(nf_sum16(sum, icmp, 8 + want_quote)), 0xffff);
	} else {
		CU_ASSERT_EQUAL(ei.l4_proto, IPPROTO_ICMP);
		CU_ASSERT_EQUAL(nf_fold(nf_sum16(0, out + 14, 20)), 0xffff);
		CU_ASSERT_EQUAL(icmp[0], 3);
		CU_ASSERT_EQUAL(icmp[1], 4);
		CU_ASSERT_EQUAL(get16(icmp + 4), 0);
		CU_ASSERT_EQUAL(get16(icmp + 6), mtu);
		CU_ASSERT_EQUAL(nf_fold(nf_sum16(0, icmp, 8 + want_quote)), 0xffff);
	}
	/* the quote is the packet's start, as it arrived */
	CU_ASSERT(memcmp(icmp + 8, orig, want_quote) == 0);
}

static void test_icmp(void)
{
	check_icmp(false, dgram(false, IPPROTO_UDP, 0x4000, 2000), 1500, PMTU_ICMP4_QUOTE);
	check_icmp(true, dgram(true, IPPROTO_UDP, 0, 2000), 1280, PMTU_ICMP6_QUOTE);
	/* a short packet is quoted whole (and not past its IP length) */
	check_icmp(false, dgram(false, IPPROTO_UDP, 0x4000, 100), 68, 120);
	check_icmp(true, dgram(true, IPPROTO_UDP, 0, 100), 100, 140);
	CU_ASSERT_EQUAL(PMTU_ICMP_MAX, 14 + 1280);
}

/* Cuts pkt (len) for mtu and reassembles the fragments: each within the
 * MTU with a good header checksum, offsets in order and the data and
 * the first header as they were. Returns the number of fragments. */
static unsigned int frag_roundtrip(size_t len, unsigned int mtu, size_t want_rest_ihl)
{
	struct frame_info fi = parsed(len);
	struct pmtu_frag f;
	static uint8_t re[65536];
	size_t ihl = fi.l4_off - 14, got = 0;

	CU_ASSERT_FATAL(pmtu_frag_plan(pkt, len, &fi, mtu, &f));
	CU_ASSERT_EQUAL(f.ihl_rest, want_rest_ihl);
	for (unsigned int k = 0; k < f.nfrags; k++) {
		size_t n = pmtu_frag_build(pkt, &f, k, out), hl = (size_t)(out[14] & 15) * 4;
		uint16_t fl = get16(out + 14 + 6);

		CU_ASSERT_EQUAL_FATAL(n, pmtu_frag_len(&f, k));
		CU_ASSERT(n - 14 <= mtu);
		CU_ASSERT_EQUAL(get16(out + 14 + 2), n - 14);
		CU_ASSERT_EQUAL(nf_fold(nf_sum16(0, out + 14, hl)), 0xffff);
		CU_ASSERT_EQUAL(hl, k ? want_rest_ihl : ihl);
		CU_ASSERT_EQUAL((size_t)(fl & 0x1fff) * 8, got);
		CU_ASSERT_EQUAL((fl & 0x2000) != 0, k + 1 < f.nfrags);
		CU_ASSERT_EQUAL(fl & 0x4000, 0);
		CU_ASSERT(memcmp(out + 14 + 4, pkt + 14 + 4, 2) == 0); /* the id */
		CU_ASSERT(memcmp(out + 14 + 12, pkt + 14 + 12, 8) == 0);
		if (k == 0)
			CU_ASSERT(memcmp(out + 14 + 20, pkt + 14 + 20, ihl - 20) == 0);
		if (k + 1 < f.nfrags)
			CU_ASSERT_EQUAL((n - 14 - hl) % 8, 0);
		memcpy(re + got, out + 14 + hl, n - 14 - hl);
		got += n - 14 - hl;
	}
	CU_ASSERT_EQUAL(got, fi.ip_total_len - ihl);
	CU_ASSERT(memcmp(re, pkt + 14 + ihl, got) == 0);
	return f.nfrags;
}

static void test_fragments(void)
{
	size_t len;
	struct frame_info fi;
	struct pmtu_frag f;

	len = dgram(false, IPPROTO_UDP, 0, 4000);
	CU_ASSERT_EQUAL(frag_roundtrip(len, 1500, 20), 3); /* 1480 + 1480 + 1040 */
	CU_ASSERT_EQUAL(frag_roundtrip(len, 1000, 20), 5); /* 976 per fragment */
	CU_ASSERT_EQUAL(frag_roundtrip(len, 68, 20), 84);  /* 48 per fragment */
	len = dgram(false, IPPROTO_UDP, 0, 65515);
	CU_ASSERT_EQUAL(frag_roundtrip(len, 1500, 20), 45);

	/* options: a copied one (0x83, loose source route) stays on every
	 * fragment, an uncopied one (0x07, record route) only on the first */
	len = dgram(false, IPPROTO_UDP, 0, 3000);
	memmove(pkt + 14 + 32, pkt + 14 + 20, 3000);
	memcpy(pkt + 14 + 20, (const uint8_t[]){0x07, 7, 4, 0, 0, 0, 0, 0x83, 3, 4, 1, 0}, 12);
	pkt[14] = 0x48;
	pkt[14 + 2] = (uint8_t)((3032) >> 8);
	pkt[14 + 3] = (uint8_t)3032;
	nf_ip4_csum(pkt);
	CU_ASSERT_EQUAL(frag_roundtrip(len + 12, 1500, 24), 3);
	fi = parsed(len + 12);
	CU_ASSERT_FATAL(pmtu_frag_plan(pkt, len + 12, &fi, 1500, &f));
	CU_ASSERT(memcmp(f.opts, (const uint8_t[]){0x83, 3, 4, 0}, 4) == 0);

	/* a datagram that is itself a middle fragment keeps its place */
	len = dgram(false, IPPROTO_UDP, 0x2000 | 100, 3000);
	fi = parsed(len);
	CU_ASSERT_FATAL(pmtu_frag_plan(pkt, len, &fi, 1500, &f));
	CU_ASSERT_EQUAL(f.nfrags, 3);
	pmtu_frag_build(pkt, &f, 2, out);
	CU_ASSERT_EQUAL(get16(out + 14 + 6), 0x2000 | (800 + 2960) / 8);

	/* what cannot be cut */
	len = dgram(false, IPPROTO_UDP, 0, 3000);
	fi = parsed(len);
	CU_ASSERT_FALSE(pmtu_frag_plan(pkt, len - 1, &fi, 1500, &f)); /* IP length past the copy */
	CU_ASSERT_FALSE(pmtu_frag_plan(pkt, len, &fi, 27, &f));
	len = dgram(false, IPPROTO_UDP, 0x1fff, 3000); /* data would end past 65535 */
	fi = parsed(len);
	CU_ASSERT_FALSE(pmtu_frag_plan(pkt, len, &fi, 1500, &f));
	len = dgram(false, IPPROTO_UDP, 0, 3000);
	memmove(pkt + 14 + 24, pkt + 14 + 20, 3000);
	memcpy(pkt + 14 + 20, (const uint8_t[]){0x83, 9, 0, 0}, 4); /* runs past the header */
	pkt[14] = 0x46;
	pkt[14 + 2] = (uint8_t)((3024) >> 8);
	pkt[14 + 3] = (uint8_t)3024;
	fi = parsed(len + 4);
	CU_ASSERT_FALSE(pmtu_frag_plan(pkt, len + 4, &fi, 1500, &f));
	pkt[14 + 21] = 1; /* length below 2 */
	CU_ASSERT_FALSE(pmtu_frag_plan(pkt, len + 4, &fi, 1500, &f));
	dgram(true, IPPROTO_UDP, 0, 3000);
	fi = parsed(14 + 40 + 3000);
	CU_ASSERT_FALSE(pmtu_frag_plan(pkt, 14 + 40 + 3000, &fi, 1500, &f)); /* IPv6 never */
}

CU_ErrorCode test_pmtu_register(void)
{
	CU_pSuite s = CU_add_suite("pmtu", NULL, NULL);

	if (!s)
		return CU_get_error();
	CU_add_test(s, "what a too-big packet gets", test_decide);
	CU_add_test(s, "ICMP fragmentation needed and packet too big", test_icmp);
	CU_add_test(s, "IPv4 fragments reassemble to the datagram", test_fragments);
	return CU_get_error();
}
