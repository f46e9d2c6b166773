/* SPDX-License-Identifier: MIT */
/*
 * addr.h - guest IP addresses as registered in the backend `ip` key.
 *
 * Usage contract:
 *  - Pure functions: no logging, no allocation, no xenstore access.
 *  - The `ip` key is a space-separated list of IPv4 and IPv6 host addresses
 *    (what libxl writes from vif=['ip=...']). A "/32" or "/128" suffix is
 *    accepted; any other prefix length is refused, because ipnetback
 *    registers host addresses, not routes.
 *  - Only unicast host addresses can be registered: unspecified, loopback,
 *    multicast, broadcast and IPv4-mapped addresses are refused.
 */
#ifndef IPNB_ADDR_H
#define IPNB_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

/* Longest text form ipnb_addr_format() produces, including the NUL. */
#define IPNB_ADDR_STRLEN 46

/* Most addresses one vif may register: what the daemon keeps from an `ip`
 * key, and what the CLI lets an operator write into one. */
#define IPNB_VIF_MAX_ADDRS 16

struct ipnb_addr {
	uint8_t family;	   /* AF_INET or AF_INET6 */
	uint8_t bytes[16]; /* network order; IPv4 uses the first 4 */
};

enum ipnb_addr_err {
	IPNB_ADDR_OK = 0,
	IPNB_ADDR_ESYNTAX = -1,	    /* not an IPv4/IPv6 address */
	IPNB_ADDR_EPREFIX = -2,	    /* prefix length other than /32 or /128 */
	IPNB_ADDR_ENOTUNICAST = -3, /* multicast, loopback, unspecified, ... */
	IPNB_ADDR_EDUP = -4,	    /* listed twice */
	IPNB_ADDR_ETOOMANY = -5,    /* more than the caller's array holds */
};

/*
 * Parses one address (no surrounding blanks). Returns IPNB_ADDR_OK or a
 * negative ipnb_addr_err.
 */
int ipnb_addr_parse(const char *s, size_t len, struct ipnb_addr *out);

/*
 * Parses a whole `ip` key value into out[0..max). On success stores the count
 * in *n and returns IPNB_ADDR_OK. On failure returns a negative
 * ipnb_addr_err, leaves *n untouched and, if bad_off is not NULL, stores the
 * byte offset of the offending token so the caller can quote it.
 */
int ipnb_addr_parse_list(const char *s, struct ipnb_addr *out, size_t max, size_t *n,
			 size_t *bad_off);

/* The significant bytes of a->bytes: 4 for IPv4, 16 for IPv6. Inline
 * because the IP table and the neighbour cache hash and compare with it
 * on every packet. */
static inline size_t ipnb_addr_len(const struct ipnb_addr *a)
{
	return a->family == AF_INET ? 4 : 16;
}

/* Same family and same significant bytes (the unused tail of an IPv4
 * address is not looked at). */
static inline bool ipnb_addr_equal(const struct ipnb_addr *a, const struct ipnb_addr *b)
{
	return a->family == b->family && memcmp(a->bytes, b->bytes, ipnb_addr_len(a)) == 0;
}

/* 0.0.0.0 or :: (the source of ARP probes and duplicate-address checks). */
bool ipnb_addr_is_unspecified(const struct ipnb_addr *a);
/* fe80::/10. */
/* Link-local: fe80::/10, or 169.254.0.0/16 (RFC 3927). */
bool ipnb_addr_is_link_local(const struct ipnb_addr *a);

/* a lies in p/plen (same family; plen at most the family's bits). */
bool ipnb_addr_in_prefix(const struct ipnb_addr *a, const struct ipnb_addr *p, unsigned int plen);

/* Writes the canonical text form; buf must hold IPNB_ADDR_STRLEN bytes. */
void ipnb_addr_format(const struct ipnb_addr *a, char buf[IPNB_ADDR_STRLEN]);

/* A short English description of an ipnb_addr_err, for the caller's log. */
const char *ipnb_addr_strerror(int err);

#endif
