/* SPDX-License-Identifier: MIT */
/*
 * hostaddr.h - dom0's own IP addresses, as its kernel has them configured:
 * the uplink needs its prefixes (which destinations are on the LAN) and a
 * source for solicitations; the host port needs to know which destinations
 * are dom0 itself.
 *
 * Usage contract: ha_read() is one getifaddrs() call; callers cache the
 * result and re-read it on their own schedule. It never logs.
 */
#ifndef IPNB_HOSTADDR_H
#define IPNB_HOSTADDR_H

#include <stdbool.h>
#include <stddef.h>

#include "ipnb/addr.h"

struct ha_addr {
	struct ipnb_addr a;
	unsigned int plen; /* prefix length of the address's subnet */
};

/*
 * Fills out[0..max) with the IPv4 and IPv6 addresses of interface ifname,
 * or, if ifname is NULL, of every interface but loopback ones. Returns how
 * many, or -1 if the kernel could not be asked (errno set).
 */
int ha_read(const char *ifname, struct ha_addr *out, size_t max);

#endif
