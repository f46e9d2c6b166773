/* SPDX-License-Identifier: MIT */
/*
 * test_sandbox.c - netback/sandbox.c in child processes: the capabilities
 * left, a call on the allow-list working, and one off it failing with EPERM
 * (the default) or killing the process (the test runs' mode).
 */
#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipnb/sandbox.h"

#include "suites.h"

/* The child's outcome: its exit status, or 128 + the signal that ended it. */
static int in_child(int (*fn)(void))
{
	int st;
	pid_t pid = fork();

	if (pid == 0)
		_exit(fn()); /* _exit: no LeakSanitizer pass (its calls are off the list) */
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_FATAL(waitpid(pid, &st, 0) == pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
}

/* CapEff from /proc/self/status, or ~0 if unreadable. */
static unsigned long long cap_eff(void)
{
	char line[256];
	unsigned long long v = ~0ULL;
	FILE *f = fopen("/proc/self/status", "re");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

static int caps_only_net_admin(void)
{
	char err[128];

	if (sbx_enter(SBX_OFF, true, -1, err, sizeof(err)) != 0)
		return 10;
	return cap_eff() == 1ULL << 12 ? 0 : 11; /* CAP_NET_ADMIN is 12 */
}

/* Started without CAP_SETPCAP, as under systemd's CapabilityBoundingSet=:
 * the bounding set cannot shrink, the rest still goes. */
static int caps_without_setpcap(void)
{
	char err[128];

	capng_get_caps_process();
	if (capng_update(CAPNG_DROP, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_SETPCAP) != 0 ||
	    capng_apply(CAPNG_SELECT_CAPS) != 0)
		return 9;
	if (sbx_enter(SBX_OFF, true, -1, err, sizeof(err)) != 0)
		return 10;
	return cap_eff() == 1ULL << 12 ? 0 : 11;
}

static int caps_none(void)
{
	char err[128];

	if (sbx_enter(SBX_OFF, false, -1, err, sizeof(err)) != 0)
		return 10;
	return cap_eff() == 0 ? 0 : 11;
}

/* Allowed calls work; getppid() is not on the list. */
static int forbidden_errno(void)
{
	char err[128], dir[] = "/tmp/ipnb-sbx-XXXXXX";
	struct timespec ts;
	int dfd, fd;

	if (!mkdtemp(dir) || (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return 9;
	if (sbx_enter(SBX_ERRNO, false, dfd, err, sizeof(err)) != 0)
		return 10;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0 || write(STDOUT_FILENO, "", 0) != 0)
		return 11;
	errno = 0;
	if (syscall(SYS_getppid) != -1 || errno != EPERM)
		return 12;
	/* Nor is opening a file. */
	if (fopen("/proc/self/status", "re") != NULL || errno != EPERM)
		return 13;
	/* A new connection to xenstored, with its reader thread, is: a Unix
	 * socket, connect(), and a thread (clone3() says ENOSYS, so that
	 * glibc uses the clone() the filter can check; a thread is not made
	 * here, as ASan's thread start-up reads /proc). Other sockets are
	 * not. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 16;
	close(fd);
	if (socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0) >= 0 || errno != EPERM)
		return 17;
	if (syscall(SYS_clone3, NULL, 0) != -1 || errno != ENOSYS)
		return 18;
	/* And a journal in the state directory. */
	fd = openat(dfd, "vif-1-0.journal", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, 4096) != 0)
		return 14;
	close(fd);
	if (unlinkat(dfd, "vif-1-0.journal", 0) != 0 || unlinkat(AT_FDCWD, dir, AT_REMOVEDIR) != 0)
		return 15;
	return 0;
}

static int forbidden_kill(void)
{
	char err[128];

	if (sbx_enter(SBX_KILL, false, -1, err, sizeof(err)) != 0)
		return 10;
	syscall(SYS_getppid);
	return 0; /* not reached */
}

static void test_modes(void)
{
	enum sbx_mode m;

	CU_ASSERT(sbx_mode_parse("kill", &m) && m == SBX_KILL);
	CU_ASSERT(sbx_mode_parse("errno", &m) && m == SBX_ERRNO);
	CU_ASSERT(sbx_mode_parse("log", &m) && m == SBX_LOG);
	CU_ASSERT(sbx_mode_parse("off", &m) && m == SBX_OFF);
	CU_ASSERT_FALSE(sbx_mode_parse("KILL", &m));
	CU_ASSERT_FALSE(sbx_mode_parse("", &m));
	CU_ASSERT_STRING_EQUAL(sbx_mode_name(SBX_ERRNO), "errno");
}

static void test_capabilities(void)
{
	if (geteuid() != 0) {
		CU_FAIL("needs root (CI runs as root)");
		return;
	}
	CU_ASSERT_EQUAL(in_child(caps_only_net_admin), 0);
	CU_ASSERT_EQUAL(in_child(caps_none), 0);
	CU_ASSERT_EQUAL(in_child(caps_without_setpcap), 0);
}

static void test_filter(void)
{
	CU_ASSERT_EQUAL(in_child(forbidden_errno), 0);
	CU_ASSERT_EQUAL(in_child(forbidden_kill), 128 + SIGSYS);
}

CU_ErrorCode test_sandbox_register(void)
{
	CU_pSuite s = CU_add_suite("sandbox", NULL, NULL);

	if (!s)
		return CU_get_error();
	CU_add_test(s, "modes", test_modes);
	CU_add_test(s, "capabilities", test_capabilities);
	CU_add_test(s, "allow-list", test_filter);
	return CU_get_error();
}
