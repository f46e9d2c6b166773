/* SPDX-License-Identifier: MIT */
/*
 * sandbox.c - capabilities and the seccomp allow-list of the main loop
 * (see include/ipnb/sandbox.h), with libcap-ng and libseccomp.
 *
 * The list is what the loop needs once everything is open: epoll, reads and
 * writes on the Xen devices, TUN and sockets, the ioctls behind grant
 * copies, maps and event-channel binds, netlink for the host port's routes
 * and getifaddrs(), memory for packet buffers and grant mappings, the
 * clock, and what glibc and libxenstore's reader thread use to wait, wake
 * and exit. Opening files, exec, ptrace, mounting and the like are not on
 * it: a compromised loop gets EPERM (or is killed, in the test runs).
 */
#include "ipnb/sandbox.h"

#include <cap-ng.h>
#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static const char *const mode_names[] = {
    [SBX_OFF] = "off", [SBX_ERRNO] = "errno", [SBX_LOG] = "log", [SBX_KILL] = "kill"};

bool sbx_mode_parse(const char *s, enum sbx_mode *mode)
{
	for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++) {
		if (strcmp(s, mode_names[i]) == 0) {
			*mode = (enum sbx_mode)i;
			return true;
		}
	}
	return false;
}

const char *sbx_mode_name(enum sbx_mode mode)
{
	return (unsigned int)mode < sizeof(mode_names) / sizeof(mode_names[0]) ? mode_names[mode]
									       : "?";
}

/* The main loop's system calls, by name so that libseccomp resolves them
 * for the architecture (and skips any it does not know there). */
static const char *const allowed[] = {
    /* waiting and the fds */
    "epoll_wait", "epoll_pwait", "epoll_ctl", "poll", "ppoll", "select", "pselect6", "read",
    "readv", "write", "writev", "pread64", "pwrite64", "ioctl", "close", "fcntl", "lseek", "fstat",
    "newfstatat", "dup",
    /* sockets: the control socket's clients, netlink, the uplink */
    "accept4", "accept", "recvfrom", "recvmsg", "recvmmsg", "sendto", "sendmsg", "sendmmsg", "bind",
    "getsockname", "getsockopt", "setsockopt", "shutdown", "socketpair",
    /* memory: packet buffers, grant mappings, malloc */
    "mmap", "munmap", "mremap", "mprotect", "madvise", "brk",
    /* time */
    "clock_gettime", "clock_getres", "gettimeofday", "time", "nanosleep", "clock_nanosleep",
    /* signals, threads (libxenstore's reader), exit */
    "rt_sigreturn", "rt_sigprocmask", "rt_sigaction", "sigaltstack", "futex", "getpid", "gettid",
    "tgkill", "set_robust_list", "rseq", "sched_yield", "exit", "exit_group", "restart_syscall",
    "getrandom",
    /* the control socket is removed at exit */
    "unlink", "unlinkat"};

int sbx_enter(enum sbx_mode mode, bool keep_net_admin, int state_dir, char *err, size_t errlen)
{
	scmp_filter_ctx ctx;
	uint32_t dflt;
	int r, bounds;

	/* The bounding set can only shrink with CAP_SETPCAP. Without it
	 * (systemd's CapabilityBoundingSet= took it away) whoever started us
	 * has bounded it already, and the sets themselves are what is left. */
	capng_get_caps_process();
	bounds = capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP);
	capng_clear(CAPNG_SELECT_BOTH);
	if (keep_net_admin &&
	    capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET,
			 CAP_NET_ADMIN) != 0) {
		snprintf(err, errlen, "capng_update failed");
		return -1;
	}
	if (capng_apply(bounds ? CAPNG_SELECT_BOTH : CAPNG_SELECT_CAPS) != 0) {
		snprintf(err, errlen, "dropping capabilities failed");
		return -1;
	}
	if (mode == SBX_OFF)
		return 0;
	/* glibc loads libgcc_s the first time a thread is cancelled (to
	 * unwind it): that is at exit, when xs_close() stops libxenstore's
	 * reader thread, and the open would be off the list. Loaded now, it is
	 * found among the loaded objects then. Never closed. */
	(void)dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_NODELETE);

	dflt = mode == SBX_KILL	 ? SCMP_ACT_KILL_PROCESS
	       : mode == SBX_LOG ? SCMP_ACT_LOG
				 : SCMP_ACT_ERRNO(EPERM);
	ctx = seccomp_init(dflt);
	if (!ctx) {
		snprintf(err, errlen, "seccomp_init failed");
		return -1;
	}
	/* Every thread: libxenstore's reader thread exists already. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	for (size_t i = 0; r == 0 && i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		int nr = seccomp_syscall_resolve_name(allowed[i]);

		if (nr != __NR_SCMP_ERROR)
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
	}
	/* New sockets only for netlink (getifaddrs() opens one each time
	 * the uplink refreshes dom0's addresses) and for a new connection
	 * to xenstored's Unix socket after the old one was lost. */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				     SCMP_A0(SCMP_CMP_EQ, AF_NETLINK));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				     SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(connect), 0);
	/* That connection's reader thread: clone() for threads only
	 * (CLONE_THREAD set); clone3() passes its flags in memory, out of a
	 * filter's reach, so it fails with ENOSYS and glibc falls back to
	 * clone(). */
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	/* Files only in the state directory: each vif's response journal
	 * (journal.h) is opened there, relative to its fd, when it connects. */
	if (r == 0 && state_dir >= 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
				     SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)state_dir));
	if (r == 0 && state_dir >= 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ftruncate), 0);
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r != 0) {
		snprintf(err, errlen, "installing the seccomp filter: %s", strerror(-r));
		return -1;
	}
	return 0;
}
