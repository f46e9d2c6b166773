/* SPDX-License-Identifier: MIT */
/*
 * netns.h - a private network namespace for the suites that test modules
 * against the real kernel (the host port, the uplink): entering and leaving
 * it, and the TUN/TAP devices and addresses "dom0" has in it.
 *
 * Usage contract: tns_enter() at the start of a test, tns_leave() at its
 * end; the namespace, and every device in it, goes away with the last file
 * descriptor of its devices. Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and
 * /dev/net/tun. Functions report failure by their return value; the
 * caller asserts.
 */
#ifndef IPNB_TEST_NETNS_H
#define IPNB_TEST_NETNS_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

/* Moves the process into a new network namespace, remembering the old. */
bool tns_enter(void);
/* Back to the namespace tns_enter() left. */
bool tns_leave(void);

/* An ioctl on an AF_INET datagram socket (interface flags, addresses). */
int tns_ifreq(unsigned long req, struct ifreq *ifr);
bool tns_if_set_up(const char *name, bool up);

/* Creates TUN (layer 3) or TAP (Ethernet) device name; returns its
 * non-blocking fd, or -1. */
int tns_tun_open(const char *name, bool tap);

/* Writes val to /proc/sys/net/ipv6/conf/IFNAME/KEY (this namespace's). */
bool tns_sysctl6(const char *ifname, const char *key, const char *val);

/* Gives ifname ip4/plen4 and ip6/plen6, and waits (up to 2 s) until the
 * IPv6 address has left the tentative state and can be used as a source. */
bool tns_addrs(const char *ifname, const uint8_t ip4[4], unsigned int plen4, const uint8_t ip6[16],
	       unsigned int plen6);

#endif
