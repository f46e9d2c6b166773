/* SPDX-License-Identifier: MIT */
/*
 * offload.h - what a packet carries besides its bytes when it crosses a
 * port: a blank checksum, a checksum already verified, a GSO request. The
 * data path (dp.h) takes it from and gives it to the ports; vnet.h
 * translates it to and from the virtio-net header of a TUN device or a
 * packet socket.
 */
#ifndef IPNB_OFFLOAD_H
#define IPNB_OFFLOAD_H

#include <stdbool.h>
#include <stdint.h>

struct ipnb_offload {
	uint16_t gso_size; /* MSS of a GSO packet, 0 if none */
	uint8_t gso_type;  /* XEN_NETIF_GSO_TYPE_TCPV4 or _TCPV6 if gso_size */
	/* Ethernet, IP and TCP headers of a GSO packet (struct gso_pkt's
	 * hdr_len): set by the data path for its ports, not read from them */
	uint16_t gso_hdr_len;
	/* The L4 checksum field holds only the pseudo-header sum (netif
	 * csum_blank, virtio-net NEEDS_CSUM); always so for a GSO packet. */
	bool csum_blank;
	bool data_valid; /* the sender verified the checksum */
};

#endif
