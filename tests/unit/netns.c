/* SPDX-License-Identifier: MIT */
/*
 * netns.c - the private network namespace of the kernel-facing suites (see
 * netns.h).
 */
#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int saved_ns = -1;

bool tns_enter(void)
{
	saved_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (saved_ns < 0 || unshare(CLONE_NEWNET) != 0) {
		fprintf(stderr, "\n  new network namespace: %s (these tests need root)\n",
			strerror(errno));
		return false;
	}
	return tns_if_set_up("lo", true);
}

bool tns_leave(void)
{
	bool ok = saved_ns >= 0 && setns(saved_ns, CLONE_NEWNET) == 0;

	if (saved_ns >= 0)
		close(saved_ns);
	saved_ns = -1;
	return ok;
}

int tns_ifreq(unsigned long req, struct ifreq *ifr)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int r = s < 0 ? -1 : ioctl(s, req, ifr);

	if (s >= 0)
		close(s);
	return r;
}

bool tns_if_set_up(const char *name, bool up)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (tns_ifreq(SIOCGIFFLAGS, &ifr) < 0)
		return false;
	if (up)
		ifr.ifr_flags |= IFF_UP;
	else
		ifr.ifr_flags &= ~IFF_UP;
	return tns_ifreq(SIOCSIFFLAGS, &ifr) == 0;
}

int tns_tun_open(const char *name, bool tap)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = (short)((tap ? IFF_TAP : IFF_TUN) | IFF_NO_PI);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

bool tns_sysctl6(const char *ifname, const char *key, const char *val)
{
	char path[128];
	int fd;
	bool ok;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/%s", ifname, key);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	ok = fd >= 0 && write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	if (fd >= 0)
		close(fd);
	return ok;
}

/* The kernel's struct in6_ifreq (linux/ipv6.h clashes with netinet/in.h). */
struct tns_in6_ifreq {
	struct in6_addr addr;
	uint32_t prefixlen;
	int ifindex;
};

bool tns_addrs(const char *ifname, const uint8_t ip4[4], unsigned int plen4, const uint8_t ip6[16],
	       unsigned int plen6)
{
	struct ifreq ifr;
	struct sockaddr_in *sin = (struct sockaddr_in *)(void *)&ifr.ifr_addr;
	struct tns_in6_ifreq r6;
	uint32_t mask = plen4 ? htonl(~0u << (32 - plen4)) : 0;
	int s6;
	bool ok;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	sin->sin_family = AF_INET;
	memcpy(&sin->sin_addr, ip4, 4);
	if (tns_ifreq(SIOCSIFADDR, &ifr) < 0)
		return false;
	memcpy(&sin->sin_addr, &mask, 4);
	if (tns_ifreq(SIOCSIFNETMASK, &ifr) < 0)
		return false;
	memset(&r6, 0, sizeof(r6));
	memcpy(&r6.addr, ip6, 16);
	r6.prefixlen = plen6;
	r6.ifindex = (int)if_nametoindex(ifname);
	s6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ok = s6 >= 0 && ioctl(s6, SIOCSIFADDR, &r6) == 0;
	/* Even without duplicate-address detection the address leaves the
	 * tentative state from a workqueue, not at once: wait until it can
	 * be bound (the code under test reads it and sends from it). */
	for (int i = 0; ok && i < 400; i++) {
		struct sockaddr_in6 a = {.sin6_family = AF_INET6};

		memcpy(&a.sin6_addr, ip6, 16);
		if (bind(s6, (struct sockaddr *)&a, sizeof(a)) == 0)
			break;
		usleep(5000);
	}
	if (s6 >= 0)
		close(s6);
	return ok;
}
