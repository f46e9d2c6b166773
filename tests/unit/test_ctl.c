/*
 * test_ctl.c - the control socket (netback/ctl.c): requests that arrive in
 * pieces, clients that never send or never read, and the answers' framing.
 * The daemon side runs on a real Unix socket in a temporary directory, with
 * the control path on the fake Xen libraries and no vifs.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ipnb/ctl.h"

#include "fakexen.h"
#include "suites.h"

static const uint8_t be_mac[6] = {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff};

static struct dp *dp;
static struct xb *xb;
static struct ctl *ctl;
static char dir[64], path[96];

static void start(void)
{
	fake_reset();
	dp = dp_new(be_mac, NULL, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dp);
	xb = xb_new(dp);
	CU_ASSERT_PTR_NOT_NULL_FATAL(xb);
	snprintf(dir, sizeof(dir), "/tmp/ipnb-ctl-XXXXXX");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ctl.sock", dir);
	ctl = ctl_open(path, xb, NULL, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ctl);
}

static void finish(void)
{
	ctl_close(ctl);
	ctl = NULL;
	CU_ASSERT_EQUAL(access(path, F_OK), -1); /* the socket file is gone */
	rmdir(dir);
	xb_free(xb);
	xb = NULL;
	dp_free(dp);
	dp = NULL;
	fake_reset();
}

static int client(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);

	CU_ASSERT_FATAL(fd >= 0);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	CU_ASSERT_FATAL(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	return fd;
}

static void say(int fd, const char *s)
{
	CU_ASSERT_EQUAL(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* Runs the daemon's side once if its fd says there is work, as main.c does. */
static void serve(void)
{
	struct pollfd p = {.fd = ctl_fd(ctl), .events = POLLIN};

	if (poll(&p, 1, 0) == 1)
		ctl_handle_events(ctl);
}

/* Reads what the daemon sends until it closes the connection, serving in
 * between. Returns the answer, or NULL if it never ended. */
static char *answer_of(int fd)
{
	static char buf[8192];
	size_t len = 0;

	for (int i = 0; i < 1000; i++) {
		ssize_t n;

		serve();
		n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		if (n == 0) {
			buf[len] = '\0';
			return buf;
		}
		if (n > 0)
			len += (size_t)n;
		else if (errno != EAGAIN)
			return NULL;
	}
	return NULL;
}

static void test_requests(void)
{
	static const struct {
		const char *req, *want;
	} cases[] = {
	    {"vifs json\n", "{\"vifs\": [\n]}\n"},
	    {"vif 7/0\n", "error: no vif 7/0\n"},
	    {"vif 7/0 json\r\n", "error: no vif 7/0\n"},
	    {"uplink\n", "error: no uplink configured\n"},
	    {"host json\n", "error: no host port\n"},
	    {"bogus\n", "error: unknown request \"bogus\"\n"},
	    {"vif 70000/0\n", "error: unknown request \"vif 70000/0\"\n"},
	    {"vifs json", "{\"vifs\": [\n]}\n"}, /* EOF also ends the request */
	};

	start();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int fd = client();
		char *a;

		say(fd, cases[i].req);
		if (!strchr(cases[i].req, '\n'))
			shutdown(fd, SHUT_WR);
		a = answer_of(fd);
		CU_ASSERT_PTR_NOT_NULL(a);
		if (a)
			CU_ASSERT_STRING_EQUAL(a, cases[i].want);
		close(fd);
	}
	finish();
}

/* The request line may come in pieces, with the daemon's loop running in
 * between: nothing is answered before the newline, and nothing blocks. */
static void test_request_in_pieces(void)
{
	int fd;
	char c;

	start();
	fd = client();
	say(fd, "vi");
	serve();
	serve();
	CU_ASSERT_EQUAL(recv(fd, &c, 1, 0), -1); /* no answer yet, no EOF */
	CU_ASSERT_EQUAL(errno, EAGAIN);
	say(fd, "f 3/1");
	serve();
	say(fd, "\n");
	CU_ASSERT_STRING_EQUAL(answer_of(fd), "error: no vif 3/1\n");
	close(fd);
	finish();
}

/* Clients that connect and send nothing hold slots; once all are taken the
 * oldest is dropped, and a new client is still answered. */
static void test_silent_clients(void)
{
	int fds[10], fd;

	start();
	for (size_t i = 0; i < 10; i++) {
		fds[i] = client();
		serve();
		usleep(2000); /* distinct connection times */
	}
	fd = client();
	serve();
	say(fd, "vif 1/0\n");
	CU_ASSERT_STRING_EQUAL(answer_of(fd), "error: no vif 1/0\n");
	close(fd);
	/* the first clients were dropped: they see EOF */
	char c;

	CU_ASSERT_EQUAL(recv(fds[0], &c, 1, 0), 0);
	CU_ASSERT_EQUAL(recv(fds[1], &c, 1, 0), 0);
	/* the newest silent client still holds its slot and is answered */
	say(fds[9], "vif 2/0\n");
	CU_ASSERT_STRING_EQUAL(answer_of(fds[9]), "error: no vif 2/0\n");
	for (size_t i = 0; i < 10; i++)
		close(fds[i]);
	finish();
}

/* A client that hangs up without a request, or before reading its answer,
 * costs nothing: the slot comes back and the next client is answered. */
static void test_clients_hang_up(void)
{
	int fd;

	start();
	for (int i = 0; i < 20; i++) {
		fd = client();
		if (i % 2)
			say(fd, "vifs json\n");
		close(fd);
		serve();
		serve();
	}
	fd = client();
	say(fd, "vifs json\n");
	CU_ASSERT_STRING_EQUAL(answer_of(fd), "{\"vifs\": [\n]}\n");
	close(fd);
	finish();
}

/* An overlong request line is cut at the buffer's size and refused. */
static void test_long_request(void)
{
	char req[400];
	int fd;
	char *a;

	start();
	memset(req, 'x', sizeof(req) - 1);
	req[sizeof(req) - 1] = '\0';
	fd = client();
	say(fd, req);
	a = answer_of(fd);
	CU_ASSERT_PTR_NOT_NULL(a);
	if (a)
		CU_ASSERT_EQUAL(strncmp(a, "error: unknown request", 22), 0);
	close(fd);
	finish();
}

CU_ErrorCode test_ctl_register(void)
{
	CU_pSuite s = CU_add_suite("ctl", NULL, NULL);

	if (!s)
		return CU_get_error();
	CU_add_test(s, "requests", test_requests);
	CU_add_test(s, "request in pieces", test_request_in_pieces);
	CU_add_test(s, "silent clients", test_silent_clients);
	CU_add_test(s, "clients hang up", test_clients_hang_up);
	CU_add_test(s, "long request", test_long_request);
	return CU_get_error();
}
