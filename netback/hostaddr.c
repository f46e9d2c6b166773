/* SPDX-License-Identifier: MIT */
/*
 * hostaddr.c - dom0's own addresses from the kernel (see
 * include/ipnb/hostaddr.h).
 */
#include "ipnb/hostaddr.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>

/* The prefix length a netmask stands for (masks are contiguous). */
static unsigned int mask_len(const uint8_t *m, size_t n)
{
	unsigned int plen = 0;

	for (size_t b = 0; b < n; b++)
		plen += (unsigned int)__builtin_popcount(m[b]);
	return plen;
}

int ha_read(const char *ifname, struct ha_addr *out, size_t max)
{
	struct ifaddrs *ifa, *i;
	size_t n = 0;

	if (getifaddrs(&ifa) < 0)
		return -1;
	for (i = ifa; i && n < max; i = i->ifa_next) {
		struct ha_addr *o = &out[n];

		if (!i->ifa_addr || !i->ifa_netmask)
			continue;
		if (ifname ? strcmp(i->ifa_name, ifname) != 0 : (i->ifa_flags & IFF_LOOPBACK) != 0)
			continue;
		memset(o, 0, sizeof(*o));
		if (i->ifa_addr->sa_family == AF_INET) {
			const struct sockaddr_in *a = (const void *)i->ifa_addr;
			const struct sockaddr_in *m = (const void *)i->ifa_netmask;

			o->a.family = AF_INET;
			memcpy(o->a.bytes, &a->sin_addr, 4);
			o->plen = mask_len((const uint8_t *)&m->sin_addr, 4);
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			const struct sockaddr_in6 *a = (const void *)i->ifa_addr;
			const struct sockaddr_in6 *m = (const void *)i->ifa_netmask;

			o->a.family = AF_INET6;
			memcpy(o->a.bytes, &a->sin6_addr, 16);
			o->plen = mask_len((const uint8_t *)&m->sin6_addr, 16);
		} else {
			continue;
		}
		n++;
	}
	freeifaddrs(ifa);
	return (int)n;
}
