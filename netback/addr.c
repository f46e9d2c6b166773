/* SPDX-License-Identifier: MIT */
/*
 * addr.c - parsing and formatting of the guest addresses held in the backend
 * `ip` key. Pure: see include/ipnb/addr.h for the contract.
 */
#include "ipnb/addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* Refuse anything that is not a plain unicast host address: registering a
 * multicast or broadcast address would let one guest capture traffic meant
 * for many. */
static bool addr_is_unicast(const struct ipnb_addr *a)
{
	const uint8_t *b = a->bytes;

	if (a->family == AF_INET) {
		if (b[0] == 0 || b[0] == 127 || b[0] >= 224) /* this-net, loopback, mcast, 255/8 */
			return false;
		return true;
	}
	static const uint8_t zero[16];
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (memcmp(b, zero, 15) == 0 && (b[15] == 0 || b[15] == 1)) /* :: and ::1 */
		return false;
	if (b[0] == 0xff) /* multicast */
		return false;
	if (memcmp(b, mapped, sizeof(mapped)) == 0) /* IPv4-mapped */
		return false;
	return true;
}

int ipnb_addr_parse(const char *s, size_t len, struct ipnb_addr *out)
{
	char buf[IPNB_ADDR_STRLEN + 4];
	const char *slash;
	size_t alen = len;
	struct ipnb_addr a;

	memset(&a, 0, sizeof(a));
	if (len == 0 || len >= sizeof(buf))
		return IPNB_ADDR_ESYNTAX;
	slash = memchr(s, '/', len);
	if (slash)
		alen = (size_t)(slash - s);
	memcpy(buf, s, alen);
	buf[alen] = '\0';

	if (inet_pton(AF_INET, buf, a.bytes) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, buf, a.bytes) == 1)
		a.family = AF_INET6;
	else
		return IPNB_ADDR_ESYNTAX;

	if (slash) {
		const char *want = a.family == AF_INET ? "/32" : "/128";
		size_t plen = len - alen;

		if (plen != strlen(want) || memcmp(slash, want, plen) != 0)
			return IPNB_ADDR_EPREFIX;
	}
	if (!addr_is_unicast(&a))
		return IPNB_ADDR_ENOTUNICAST;
	*out = a;
	return IPNB_ADDR_OK;
}

int ipnb_addr_parse_list(const char *s, struct ipnb_addr *out, size_t max, size_t *n,
			 size_t *bad_off)
{
	size_t count = 0, pos = 0;

	while (s[pos] != '\0') {
		size_t start, len;
		struct ipnb_addr a;
		int err;

		while (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\n')
			pos++;
		if (s[pos] == '\0')
			break;
		start = pos;
		while (s[pos] != '\0' && s[pos] != ' ' && s[pos] != '\t' && s[pos] != '\n')
			pos++;
		len = pos - start;

		err = ipnb_addr_parse(s + start, len, &a);
		if (err == IPNB_ADDR_OK) {
			for (size_t i = 0; i < count; i++)
				if (ipnb_addr_equal(&out[i], &a))
					err = IPNB_ADDR_EDUP;
		}
		if (err == IPNB_ADDR_OK && count == max)
			err = IPNB_ADDR_ETOOMANY;
		if (err != IPNB_ADDR_OK) {
			if (bad_off)
				*bad_off = start;
			return err;
		}
		out[count++] = a;
	}
	*n = count;
	return IPNB_ADDR_OK;
}

bool ipnb_addr_is_unspecified(const struct ipnb_addr *a)
{
	static const uint8_t zero[16];

	return memcmp(a->bytes, zero, ipnb_addr_len(a)) == 0;
}

bool ipnb_addr_is_link_local(const struct ipnb_addr *a)
{
	if (a->family == AF_INET)
		return a->bytes[0] == 169 && a->bytes[1] == 254;
	return a->bytes[0] == 0xfe && (a->bytes[1] & 0xc0) == 0x80;
}

bool ipnb_addr_in_prefix(const struct ipnb_addr *a, const struct ipnb_addr *p, unsigned int plen)
{
	unsigned int full = plen / 8, rest = plen % 8;

	if (a->family != p->family || plen > ipnb_addr_len(a) * 8)
		return false;
	if (memcmp(a->bytes, p->bytes, full) != 0)
		return false;
	return rest == 0 ||
	       ((a->bytes[full] ^ p->bytes[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

void ipnb_addr_format(const struct ipnb_addr *a, char buf[IPNB_ADDR_STRLEN])
{
	if (!inet_ntop(a->family == AF_INET ? AF_INET : AF_INET6, a->bytes, buf, IPNB_ADDR_STRLEN))
		snprintf(buf, IPNB_ADDR_STRLEN, "?");
}

const char *ipnb_addr_strerror(int err)
{
	switch (err) {
	case IPNB_ADDR_OK:
		return "ok";
	case IPNB_ADDR_ESYNTAX:
		return "not an IPv4 or IPv6 address";
	case IPNB_ADDR_EPREFIX:
		return "only /32 and /128 prefixes may be registered";
	case IPNB_ADDR_ENOTUNICAST:
		return "not a unicast host address";
	case IPNB_ADDR_EDUP:
		return "address listed twice";
	case IPNB_ADDR_ETOOMANY:
		return "too many addresses";
	default:
		return "unknown error";
	}
}
