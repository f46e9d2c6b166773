/* SPDX-License-Identifier: MIT */
/*
 * test_notify.c - netback/notify.c against a socket of the test's own,
 * as systemd would listen: a path and an abstract name, nothing sent
 * without $NOTIFY_SOCKET, and a bad one refused.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ipnb/notify.h"

#include "suites.h"

/* A listening datagram socket at NAME ("/path" or "@abstract"). */
static int listener(const char *name)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	CU_ASSERT_FATAL(fd >= 0 && len < sizeof(sa.sun_path));
	memcpy(sa.sun_path, name, len);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	else
		unlink(name);
	CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&sa,
			     (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
					 (name[0] == '/'))) == 0);
	return fd;
}

static void ready_at(const char *name)
{
	char buf[64];
	int l = listener(name), fd;
	ssize_t n;

	setenv("NOTIFY_SOCKET", name, 1);
	fd = ntf_open();
	unsetenv("NOTIFY_SOCKET");
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(ntf_send(fd, "READY=1"));
	n = recv(l, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	CU_ASSERT_FATAL(n == 7);
	buf[n] = '\0';
	CU_ASSERT_STRING_EQUAL(buf, "READY=1");
	close(fd);
	close(l);
	if (name[0] == '/')
		unlink(name);
}

static void test_path(void)
{
	char name[64];

	snprintf(name, sizeof(name), "/tmp/ipnb-notify-%d", (int)getpid());
	ready_at(name);
}

static void test_abstract(void)
{
	char name[64];

	snprintf(name, sizeof(name), "@ipnb-notify-%d", (int)getpid());
	ready_at(name);
}

static void test_none(void)
{
	unsetenv("NOTIFY_SOCKET");
	CU_ASSERT(ntf_open() == -1);
	CU_ASSERT(ntf_send(-1, "READY=1")); /* nothing to tell: not an error */
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	CU_ASSERT(ntf_open() == -1);
	setenv("NOTIFY_SOCKET", "/nonexistent/ipnb-notify", 1);
	CU_ASSERT(ntf_open() == -1);
	unsetenv("NOTIFY_SOCKET");
}

CU_ErrorCode test_notify_register(void)
{
	CU_pSuite s = CU_add_suite("notify", NULL, NULL);

	if (!s || !CU_add_test(s, "READY=1 to a socket path", test_path) ||
	    !CU_add_test(s, "READY=1 to an abstract name", test_abstract) ||
	    !CU_add_test(s, "no socket, or a bad one", test_none))
		return CU_get_error();
	return CUE_SUCCESS;
}
