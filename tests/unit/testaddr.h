/* SPDX-License-Identifier: MIT */
/* testaddr.h - compact constructors for the addresses unit tests use. */
#ifndef IPNB_TESTADDR_H
#define IPNB_TESTADDR_H

#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "ipnb/addr.h"

/* a.b.c.d */
static inline struct ipnb_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	struct ipnb_addr x;

	memset(&x, 0, sizeof(x));
	x.family = AF_INET;
	x.bytes[0] = a;
	x.bytes[1] = b;
	x.bytes[2] = c;
	x.bytes[3] = d;
	return x;
}

/* first::last, e.g. v6(0xfd00, 0x13) is fd00::13 */
static inline struct ipnb_addr v6(uint16_t first, uint16_t last)
{
	struct ipnb_addr x;

	memset(&x, 0, sizeof(x));
	x.family = AF_INET6;
	x.bytes[0] = (uint8_t)(first >> 8);
	x.bytes[1] = (uint8_t)first;
	x.bytes[14] = (uint8_t)(last >> 8);
	x.bytes[15] = (uint8_t)last;
	return x;
}

#endif
