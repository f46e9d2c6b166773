/* SPDX-License-Identifier: MIT */
/*
 * vnet.h - the virtio-net header (struct virtio_net_hdr) that a TUN device
 * with IFF_VNET_HDR, or a packet socket with PACKET_VNET_HDR, puts before
 * each packet, translated to and from struct ipnb_offload.
 *
 * Usage contract:
 *  - Pure: no I/O, no logging. The header is in the host's byte order
 *    (the legacy layout both devices use unless told otherwise).
 *  - Offsets in the header count from the start of the packet the device
 *    sees: l2_len bytes before the frame's IP header (0 for a layer-3 TUN
 *    device, FRAME_ETH_HLEN for a packet socket).
 *  - vnet_to_offload() reads a header the kernel wrote; it refuses what
 *    this backend did not offer (UDP GSO, ECN, checksums anywhere but the
 *    TCP or UDP field). The GSO request itself is checked by gso_check().
 */
#ifndef IPNB_VNET_H
#define IPNB_VNET_H

#include <linux/virtio_net.h>
#include <stddef.h>

#include "ipnb/frame.h"
#include "ipnb/offload.h"

enum vnet_err {
	VNET_OK = 0,
	VNET_E_FLAGS, /* a flag other than NEEDS_CSUM and DATA_VALID */
	VNET_E_GSO,   /* a GSO type other than TCPV4/TCPV6, ECN, or the wrong family */
	VNET_E_CSUM,  /* NEEDS_CSUM anywhere but the frame's TCP or UDP checksum */
	VNET_E_COUNT
};

/* The header for a packet leaving through the device. */
void vnet_from_offload(const struct ipnb_offload *o, const struct frame_info *fi, size_t l2_len,
		       struct virtio_net_hdr *h);

/* The metadata of a packet read from the device, its frame parsed as fi. */
enum vnet_err vnet_to_offload(const struct virtio_net_hdr *h, const struct frame_info *fi,
			      size_t l2_len, struct ipnb_offload *o);

#endif
