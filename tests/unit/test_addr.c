/* SPDX-License-Identifier: MIT */
/* test_addr.c - the `ip` key parser: syntax, prefixes, unicast rule, lists. */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "ipnb/addr.h"
#include "suites.h"
#include "testaddr.h"

static int parse1(const char *s, struct ipnb_addr *a)
{
	return ipnb_addr_parse(s, strlen(s), a);
}

static void roundtrip(const char *in, const char *canonical)
{
	struct ipnb_addr a;
	char buf[IPNB_ADDR_STRLEN];

	CU_ASSERT_EQUAL_FATAL(parse1(in, &a), IPNB_ADDR_OK);
	ipnb_addr_format(&a, buf);
	CU_ASSERT_STRING_EQUAL(buf, canonical);
}

static void test_parse_valid(void)
{
	struct ipnb_addr a;

	CU_ASSERT_EQUAL(parse1("10.99.0.13", &a), IPNB_ADDR_OK);
	CU_ASSERT_EQUAL(a.family, AF_INET);
	CU_ASSERT(a.bytes[0] == 10 && a.bytes[1] == 99 && a.bytes[2] == 0 && a.bytes[3] == 13);
	CU_ASSERT_EQUAL(parse1("fd00::13", &a), IPNB_ADDR_OK);
	CU_ASSERT_EQUAL(a.family, AF_INET6);
	CU_ASSERT(a.bytes[0] == 0xfd && a.bytes[15] == 0x13);
	roundtrip("10.99.0.13/32", "10.99.0.13");
	roundtrip("FD00:0:0:0::0013/128", "fd00::13");
	roundtrip("fe80::1", "fe80::1");
}

static void test_parse_invalid(void)
{
	struct ipnb_addr a;
	const char *syntax[] = {"",
				"10.99.0",
				"10.99.0.256",
				"fd00:::1",
				"hello",
				"10.0.0.1 ",
				"1.2.3.4.5",
				"0123456789012345678901234567890123456789012345678"};

	for (size_t i = 0; i < sizeof(syntax) / sizeof(syntax[0]); i++)
		CU_ASSERT_EQUAL(parse1(syntax[i], &a), IPNB_ADDR_ESYNTAX);
	CU_ASSERT_EQUAL(parse1("10.99.0.0/24", &a), IPNB_ADDR_EPREFIX);
	CU_ASSERT_EQUAL(parse1("10.99.0.1/", &a), IPNB_ADDR_EPREFIX);
	CU_ASSERT_EQUAL(parse1("10.99.0.1/128", &a), IPNB_ADDR_EPREFIX);
	CU_ASSERT_EQUAL(parse1("fd00::1/64", &a), IPNB_ADDR_EPREFIX);
	CU_ASSERT_EQUAL(parse1("fd00::1/32", &a), IPNB_ADDR_EPREFIX);
	/* a length that is not NUL-terminated inside the buffer */
	CU_ASSERT_EQUAL(ipnb_addr_parse("10.0.0.1junk", 8, &a), IPNB_ADDR_OK);
}

static void test_not_unicast(void)
{
	struct ipnb_addr a;
	const char *bad[] = {
	    "0.0.0.0", "127.0.0.1", "224.0.0.1", "239.1.2.3",	   "255.255.255.255",
	    "::",      "::1",	    "ff02::1",	 "::ffff:10.0.0.1"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CU_ASSERT_EQUAL(parse1(bad[i], &a), IPNB_ADDR_ENOTUNICAST);
}

static void test_list(void)
{
	struct ipnb_addr v[4];
	size_t n = 99, off = 99;

	CU_ASSERT_EQUAL(ipnb_addr_parse_list("", v, 4, &n, &off), IPNB_ADDR_OK);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(ipnb_addr_parse_list("  \t ", v, 4, &n, &off), IPNB_ADDR_OK);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(ipnb_addr_parse_list("10.99.0.13 fd00::13", v, 4, &n, &off), IPNB_ADDR_OK);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(v[0].family, AF_INET);
	CU_ASSERT_EQUAL(v[1].family, AF_INET6);
	CU_ASSERT_EQUAL(ipnb_addr_parse_list(" 10.0.0.1   10.0.0.2 ", v, 4, &n, &off),
			IPNB_ADDR_OK);
	CU_ASSERT_EQUAL(n, 2);
}

static void test_list_errors(void)
{
	struct ipnb_addr v[2];
	size_t n = 7, off = 0;

	CU_ASSERT_EQUAL(ipnb_addr_parse_list("10.0.0.1 bogus", v, 2, &n, &off), IPNB_ADDR_ESYNTAX);
	CU_ASSERT_EQUAL(off, 9);
	CU_ASSERT_EQUAL(n, 7); /* untouched on failure */
	CU_ASSERT_EQUAL(ipnb_addr_parse_list("fd00::1 10.0.0.1 FD00::0001", v, 2, &n, &off),
			IPNB_ADDR_EDUP);
	CU_ASSERT_EQUAL(off, 17);
	CU_ASSERT_EQUAL(ipnb_addr_parse_list("10.0.0.1 10.0.0.2 10.0.0.3", v, 2, &n, &off),
			IPNB_ADDR_ETOOMANY);
	CU_ASSERT_EQUAL(off, 18);
	CU_ASSERT_EQUAL(ipnb_addr_parse_list("10.0.0.1 ff02::1", v, 2, &n, &off),
			IPNB_ADDR_ENOTUNICAST);
	CU_ASSERT_STRING_EQUAL(ipnb_addr_strerror(IPNB_ADDR_EDUP), "address listed twice");
}

static void test_equal(void)
{
	struct ipnb_addr a, b;

	CU_ASSERT_EQUAL_FATAL(parse1("10.0.0.1", &a), IPNB_ADDR_OK);
	CU_ASSERT_EQUAL_FATAL(parse1("10.0.0.1/32", &b), IPNB_ADDR_OK);
	CU_ASSERT(ipnb_addr_equal(&a, &b));
	CU_ASSERT_EQUAL_FATAL(parse1("::a00:1", &b), IPNB_ADDR_OK); /* other family */
	CU_ASSERT(!ipnb_addr_equal(&a, &b));
}

static bool in(struct ipnb_addr a, struct ipnb_addr p, unsigned int plen)
{
	return ipnb_addr_in_prefix(&a, &p, plen);
}

static void test_in_prefix(void)
{
	struct ipnb_addr a = v4(10, 99, 0, 11), b = v6(0xfd00, 0x11);

	CU_ASSERT_TRUE(in(a, v4(1, 2, 3, 4), 0));
	CU_ASSERT_TRUE(in(a, v4(10, 99, 0, 2), 24));
	CU_ASSERT_TRUE(in(a, v4(10, 99, 0, 2), 28));
	CU_ASSERT_FALSE(in(a, v4(10, 99, 0, 2), 29));
	CU_ASSERT_TRUE(in(a, a, 32));
	CU_ASSERT_FALSE(in(a, a, 33));
	CU_ASSERT_FALSE(in(a, v4(10, 98, 0, 11), 16));
	CU_ASSERT_TRUE(in(a, v4(10, 98, 0, 11), 14));
	/* families never match, whatever the bytes */
	CU_ASSERT_FALSE(in(a, v6(0x0a63, 0), 0));
	CU_ASSERT_FALSE(in(b, v4(0xfd, 0, 0, 0), 0));
	CU_ASSERT_TRUE(in(b, v6(0xfd00, 2), 64));
	CU_ASSERT_TRUE(in(b, v6(0xfd00, 0x19), 124));
	CU_ASSERT_FALSE(in(b, v6(0xfd00, 0x19), 125));
	CU_ASSERT_TRUE(in(b, b, 128));
	CU_ASSERT_FALSE(in(b, b, 129));
	CU_ASSERT_FALSE(in(b, v6(0xfd01, 0x11), 16));
	CU_ASSERT_TRUE(in(b, v6(0xfd01, 0x11), 15));
}

CU_ErrorCode test_addr_register(void)
{
	CU_pSuite s = CU_add_suite("addr", NULL, NULL);

	if (!s)
		return CU_get_error();
	CU_add_test(s, "parse valid", test_parse_valid);
	CU_add_test(s, "parse invalid", test_parse_invalid);
	CU_add_test(s, "refuse non-unicast", test_not_unicast);
	CU_add_test(s, "list", test_list);
	CU_add_test(s, "list errors", test_list_errors);
	CU_add_test(s, "equal", test_equal);
	CU_add_test(s, "in prefix", test_in_prefix);
	return CU_get_error();
}
