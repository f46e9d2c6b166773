/* SPDX-License-Identifier: MIT */
/*
 * fuzz_addr.c - libFuzzer target for addr.c: the backend `ip` key (which
 * the toolstack and the ipnetback CLI write, and the CLI reads from its
 * command line) and single addresses.
 *
 * The input is used twice:
 *  - as one address of exactly its length (no NUL), through
 *    ipnb_addr_parse(), so that a read past the end is caught;
 *  - as a NUL-terminated string, through ipnb_addr_parse_list() with a
 *    capacity taken from the first byte.
 * Every address either call accepts must be a unicast host address that
 * formats and parses back to itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "ipnb/addr.h"

static bool valid_err(int r)
{
	return r == IPNB_ADDR_OK || r == IPNB_ADDR_ESYNTAX || r == IPNB_ADDR_EPREFIX ||
	       r == IPNB_ADDR_ENOTUNICAST || r == IPNB_ADDR_EDUP || r == IPNB_ADDR_ETOOMANY;
}

/* Format, parse again, compare; the text must fit and be NUL-terminated. */
static void round_trip(const struct ipnb_addr *a)
{
	char text[IPNB_ADDR_STRLEN];
	struct ipnb_addr back;
	size_t len;

	CHECK(a->family == AF_INET || a->family == AF_INET6);
	CHECK(!ipnb_addr_is_unspecified(a));
	if (a->family == AF_INET)
		for (size_t i = 4; i < sizeof(a->bytes); i++)
			CHECK(a->bytes[i] == 0);
	memset(text, 0x7f, sizeof(text));
	ipnb_addr_format(a, text);
	len = strnlen(text, sizeof(text));
	CHECK(len > 0 && len < sizeof(text));
	CHECK(ipnb_addr_parse(text, len, &back) == IPNB_ADDR_OK);
	CHECK(ipnb_addr_equal(a, &back));
	CHECK(memcmp(a->bytes, back.bytes, sizeof(a->bytes)) == 0);
	CHECK(ipnb_addr_is_link_local(a) == ipnb_addr_is_link_local(&back));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipnb_addr one, list[IPNB_VIF_MAX_ADDRS];
	size_t n = 12345, bad = 12345, max;
	char *s;
	int r;

	/* One address, not NUL-terminated. */
	memset(&one, 0xcc, sizeof(one));
	r = ipnb_addr_parse((const char *)data, size, &one);
	CHECK(r == IPNB_ADDR_OK || r == IPNB_ADDR_ESYNTAX || r == IPNB_ADDR_EPREFIX ||
	      r == IPNB_ADDR_ENOTUNICAST);
	CHECK(ipnb_addr_strerror(r) != NULL);
	if (r == IPNB_ADDR_OK)
		round_trip(&one);

	/* The whole key. */
	max = size ? data[0] % (IPNB_VIF_MAX_ADDRS + 1) : IPNB_VIF_MAX_ADDRS;
	s = malloc(size + 1);
	CHECK(s);
	memcpy(s, data, size);
	s[size] = '\0';
	r = ipnb_addr_parse_list(s, list, max, &n, &bad);
	CHECK(valid_err(r));
	CHECK(ipnb_addr_strerror(r) != NULL);
	if (r == IPNB_ADDR_OK) {
		CHECK(n <= max);
		for (size_t i = 0; i < n; i++) {
			round_trip(&list[i]);
			for (size_t j = 0; j < i; j++)
				CHECK(!ipnb_addr_equal(&list[i], &list[j]));
		}
		CHECK(bad == 12345);
	} else {
		CHECK(n == 12345);
		CHECK(bad < strlen(s));
		CHECK(s[bad] != ' ' && s[bad] != '\t' && s[bad] != '\n');
		/* The error names the token that starts there. */
		CHECK(bad == 0 || s[bad - 1] == ' ' || s[bad - 1] == '\t' || s[bad - 1] == '\n');
	}
	/* The same key without an out-of-band error offset. */
	CHECK(ipnb_addr_parse_list(s, list, max, &n, NULL) == r);
	free(s);
	return 0;
}
