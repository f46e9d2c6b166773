/* SPDX-License-Identifier: MIT */
/*
 * test_vnet.c - the virtio-net header translation (netback/vnet.c): what
 * the host port puts before a packet for each kind of metadata, and which
 * headers from the kernel it takes or refuses.
 */
#include <netinet/in.h>
#include <string.h>

#include "ipnb/vnet.h"
#include "ipnb/xenring.h"
#include "netfront.h"
#include "suites.h"

static const uint8_t mac[6] = {0x00, 0x16, 0x3e, 0, 0, 1};
static const uint8_t ip4a[4] = {10, 0, 0, 1}, ip4b[4] = {10, 0, 0, 2};
static const uint8_t ip6a[16] = {0xfd, [15] = 1}, ip6b[16] = {0xfd, [15] = 2};
static uint8_t frame[2048], data[1000];

static struct frame_info tcp_frame(bool v6)
{
	const struct nf_tcp t = {.seq = 1, .flags = 0x10, .payload = data, .plen = sizeof(data)};
	struct frame_info fi;
	size_t len = nf_put_tcp(frame, v6, mac, mac, v6 ? ip6a : ip4a, v6 ? ip6b : ip4b, &t);

	CU_ASSERT_EQUAL(frame_parse(frame, len, &fi), FRAME_OK);
	return fi;
}

static struct frame_info l4_frame(uint8_t proto)
{
	struct frame_info fi;
	size_t len = nf_put_eth_ip(frame, false, mac, mac, ip4a, ip4b, proto, 64) + 64;

	frame[14 + 20 + 4] = 0;
	frame[14 + 20 + 5] = 64; /* a UDP length that fits */
	CU_ASSERT_EQUAL(frame_parse(frame, len, &fi), FRAME_OK);
	return fi;
}

static void test_to_device(void)
{
	struct ipnb_offload o = {.gso_size = 1448,
				 .gso_type = XEN_NETIF_GSO_TYPE_TCPV4,
				 .gso_hdr_len = 14 + 20 + NF_TCP_HLEN,
				 .csum_blank = true};
	struct frame_info fi = tcp_frame(false);
	struct virtio_net_hdr h;

	/* a layer-3 TUN device: offsets from the IP header */
	vnet_from_offload(&o, &fi, 0, &h);
	CU_ASSERT_EQUAL(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	CU_ASSERT_EQUAL(h.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	CU_ASSERT_EQUAL(h.gso_size, 1448);
	CU_ASSERT_EQUAL(h.hdr_len, 20 + NF_TCP_HLEN);
	CU_ASSERT_EQUAL(h.csum_start, 20);
	CU_ASSERT_EQUAL(h.csum_offset, 16);
	/* a packet socket: from the Ethernet header */
	vnet_from_offload(&o, &fi, 14, &h);
	CU_ASSERT_EQUAL(h.hdr_len, 14 + 20 + NF_TCP_HLEN);
	CU_ASSERT_EQUAL(h.csum_start, 14 + 20);

	fi = tcp_frame(true);
	o.gso_type = XEN_NETIF_GSO_TYPE_TCPV6;
	o.gso_hdr_len = 14 + 40 + NF_TCP_HLEN;
	vnet_from_offload(&o, &fi, 0, &h);
	CU_ASSERT_EQUAL(h.gso_type, VIRTIO_NET_HDR_GSO_TCPV6);
	CU_ASSERT_EQUAL(h.hdr_len, 40 + NF_TCP_HLEN);
	CU_ASSERT_EQUAL(h.csum_start, 40);

	/* a blank UDP checksum, no GSO */
	fi = l4_frame(IPPROTO_UDP);
	o = (struct ipnb_offload){.csum_blank = true};
	vnet_from_offload(&o, &fi, 0, &h);
	CU_ASSERT_EQUAL(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	CU_ASSERT_EQUAL(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	CU_ASSERT_EQUAL(h.csum_offset, 6);
	CU_ASSERT_EQUAL(h.hdr_len, 0);
	/* verified, or nothing at all */
	o = (struct ipnb_offload){.data_valid = true};
	vnet_from_offload(&o, &fi, 0, &h);
	CU_ASSERT_EQUAL(h.flags, VIRTIO_NET_HDR_F_DATA_VALID);
	o = (struct ipnb_offload){0};
	vnet_from_offload(&o, &fi, 0, &h);
	CU_ASSERT_EQUAL(h.flags, 0);
	CU_ASSERT_EQUAL(h.csum_start, 0);
	/* no checksum field to point at (ICMP): nothing to ask for */
	fi = l4_frame(IPPROTO_ICMP);
	o = (struct ipnb_offload){.csum_blank = true};
	vnet_from_offload(&o, &fi, 0, &h);
	CU_ASSERT_EQUAL(h.flags, 0);
}

static void test_from_device(void)
{
	struct frame_info fi4 = tcp_frame(false), fi6 = tcp_frame(true);
	struct ipnb_offload o;
	struct virtio_net_hdr h = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				   .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
				   .hdr_len = 20 + NF_TCP_HLEN,
				   .gso_size = 1448,
				   .csum_start = 20,
				   .csum_offset = 16};
	struct virtio_net_hdr bad;
	struct frame_info ficmp;

	CU_ASSERT_EQUAL(vnet_to_offload(&h, &fi4, 0, &o), VNET_OK);
	CU_ASSERT_EQUAL(o.gso_size, 1448);
	CU_ASSERT_EQUAL(o.gso_type, XEN_NETIF_GSO_TYPE_TCPV4);
	CU_ASSERT(o.csum_blank && !o.data_valid);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	h.hdr_len = 40 + NF_TCP_HLEN;
	h.csum_start = 40;
	CU_ASSERT_EQUAL(vnet_to_offload(&h, &fi6, 0, &o), VNET_OK);
	CU_ASSERT_EQUAL(o.gso_type, XEN_NETIF_GSO_TYPE_TCPV6);
	/* the round trip */
	{
		struct virtio_net_hdr back;

		o.gso_hdr_len = 14 + 40 + NF_TCP_HLEN;
		vnet_from_offload(&o, &fi6, 0, &back);
		CU_ASSERT(memcmp(&back, &h, sizeof(h)) == 0);
	}
	/* a GSO packet without NEEDS_CSUM is still blank */
	h = (struct virtio_net_hdr){.gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = 1000};
	CU_ASSERT_EQUAL(vnet_to_offload(&h, &fi4, 0, &o), VNET_OK);
	CU_ASSERT(o.csum_blank);
	h = (struct virtio_net_hdr){.flags = VIRTIO_NET_HDR_F_DATA_VALID};
	CU_ASSERT_EQUAL(vnet_to_offload(&h, &fi4, 0, &o), VNET_OK);
	CU_ASSERT(o.data_valid && !o.csum_blank && !o.gso_size);
	h = (struct virtio_net_hdr){0};
	CU_ASSERT_EQUAL(vnet_to_offload(&h, &fi4, 0, &o), VNET_OK);
	CU_ASSERT(!o.data_valid && !o.csum_blank && !o.gso_size);

	/* refused: what was not offered, and what does not fit the frame */
	bad = (struct virtio_net_hdr){.flags = VIRTIO_NET_HDR_F_RSC_INFO};
	CU_ASSERT_EQUAL(vnet_to_offload(&bad, &fi4, 0, &o), VNET_E_FLAGS);
	bad = (struct virtio_net_hdr){.gso_type = VIRTIO_NET_HDR_GSO_UDP, .gso_size = 1000};
	CU_ASSERT_EQUAL(vnet_to_offload(&bad, &fi4, 0, &o), VNET_E_GSO);
	bad = (struct virtio_net_hdr){.gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN,
				      .gso_size = 1000};
	CU_ASSERT_EQUAL(vnet_to_offload(&bad, &fi4, 0, &o), VNET_E_GSO);
	bad = (struct virtio_net_hdr){.gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = 1000};
	CU_ASSERT_EQUAL(vnet_to_offload(&bad, &fi6, 0, &o), VNET_E_GSO);
	bad = (struct virtio_net_hdr){.gso_type = VIRTIO_NET_HDR_GSO_TCPV6, .gso_size = 1000};
	CU_ASSERT_EQUAL(vnet_to_offload(&bad, &fi4, 0, &o), VNET_E_GSO);
	bad = (struct virtio_net_hdr){.gso_type = VIRTIO_NET_HDR_GSO_TCPV4};
	CU_ASSERT_EQUAL(vnet_to_offload(&bad, &fi4, 0, &o), VNET_E_GSO);
	bad = (struct virtio_net_hdr){
	    .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 21, .csum_offset = 16};
	CU_ASSERT_EQUAL(vnet_to_offload(&bad, &fi4, 0, &o), VNET_E_CSUM);
	bad.csum_start = 20;
	bad.csum_offset = 6;
	CU_ASSERT_EQUAL(vnet_to_offload(&bad, &fi4, 0, &o), VNET_E_CSUM);
	bad.csum_offset = 16;
	CU_ASSERT_EQUAL(vnet_to_offload(&bad, &fi4, 0, &o), VNET_OK);
	CU_ASSERT_EQUAL(vnet_to_offload(&bad, &fi4, 14, &o), VNET_E_CSUM);
	ficmp = l4_frame(IPPROTO_ICMP);
	CU_ASSERT_EQUAL(vnet_to_offload(&bad, &ficmp, 0, &o), VNET_E_CSUM);
}

CU_ErrorCode test_vnet_register(void)
{
	CU_pSuite s = CU_add_suite("vnet", NULL, NULL);

	if (!s)
		return CU_get_error();
	CU_add_test(s, "metadata to a virtio-net header", test_to_device);
	CU_add_test(s, "virtio-net header to metadata", test_from_device);
	return CU_get_error();
}
