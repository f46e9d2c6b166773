/* SPDX-License-Identifier: MIT */
/*
 * vnet.c - virtio-net header <-> packet metadata, for the ports that carry
 * offloads (the TUN host port). Pure; see include/ipnb/vnet.h.
 */
#include "ipnb/vnet.h"

#include <string.h>

#include "ipnb/xenring.h"

void vnet_from_offload(const struct ipnb_offload *o, const struct frame_info *fi, size_t l2_len,
		       struct virtio_net_hdr *h)
{
	/* The frame starts at its Ethernet header; the device's packet
	 * starts l2_len bytes before the IP header. */
	size_t base = fi->l3_off - l2_len;

	memset(h, 0, sizeof(*h));
	if ((o->csum_blank || o->gso_size) && frame_csum_offset(fi)) {
		h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		h->csum_start = (uint16_t)(fi->l4_off - base);
		h->csum_offset = frame_csum_offset(fi);
	} else if (o->data_valid) {
		h->flags = VIRTIO_NET_HDR_F_DATA_VALID;
	}
	if (o->gso_size) {
		h->gso_type = o->gso_type == XEN_NETIF_GSO_TYPE_TCPV6 ? VIRTIO_NET_HDR_GSO_TCPV6
								      : VIRTIO_NET_HDR_GSO_TCPV4;
		h->gso_size = o->gso_size;
		h->hdr_len = (uint16_t)(o->gso_hdr_len - base);
	}
}

enum vnet_err vnet_to_offload(const struct virtio_net_hdr *h, const struct frame_info *fi,
			      size_t l2_len, struct ipnb_offload *o)
{
	size_t base = fi->l3_off - l2_len;

	memset(o, 0, sizeof(*o));
	if (h->flags & ~(VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID))
		return VNET_E_FLAGS;
	switch (h->gso_type) {
	case VIRTIO_NET_HDR_GSO_NONE:
		break;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		if (fi->kind != FRAME_IPV4)
			return VNET_E_GSO;
		o->gso_type = XEN_NETIF_GSO_TYPE_TCPV4;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		if (fi->kind != FRAME_IPV6)
			return VNET_E_GSO;
		o->gso_type = XEN_NETIF_GSO_TYPE_TCPV6;
		break;
	default: /* UDP, ECN: not offered (TUNSETOFFLOAD) */
		return VNET_E_GSO;
	}
	if (o->gso_type) {
		if (!h->gso_size)
			return VNET_E_GSO;
		/* The rest of the request is gso_check()'s. */
		o->gso_size = h->gso_size;
		o->csum_blank = true;
	}
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		/* The data path completes a checksum only at its place in the
		 * TCP or UDP header, where the kernel puts it. */
		if (!frame_csum_offset(fi) || h->csum_start != fi->l4_off - base ||
		    h->csum_offset != frame_csum_offset(fi))
			return VNET_E_CSUM;
		o->csum_blank = true;
	} else if (h->flags & VIRTIO_NET_HDR_F_DATA_VALID) {
		o->data_valid = true;
	}
	return VNET_OK;
}
