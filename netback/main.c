/*
 * main.c - ipnetbackd: option parsing, signals and the epoll main loop over
 * the event-channel handle, the xenstore connection and the control socket.
 * Idle vifs cost nothing: the loop sleeps until one of those fds is
 * readable, or until a queued packet needs its timeout checked.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "ipnb/ctl.h"
#include "ipnb/dp.h"
#include "ipnb/log.h"
#include "ipnb/xenbus.h"

/* The MAC guests see for every address that is not their own: fixed and
 * locally administered, the address Linux netback gives its vif devices. */
static const uint8_t backend_mac[FRAME_ETH_ALEN] = {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff};

static volatile sig_atomic_t quit;

static void on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static struct xb *the_xb;

static void on_disable(void *arg, struct dp_vif *vif, const char *why)
{
	(void)arg;
	xb_on_disable(the_xb, vif, why);
}

static void usage(void)
{
	fprintf(stderr, "usage: ipnetbackd [-d] [-s control-socket]\n");
	exit(2);
}

static void ep_add(int ep, int fd, uint32_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = tag};

	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		fatal("epoll_ctl");
}

enum { TAG_EVTCHN, TAG_XS, TAG_CTL };

int main(int argc, char **argv)
{
	const char *sock = CTL_DEFAULT_PATH;
	bool debug = false;
	struct sigaction sa;
	struct dp *dp;
	struct ctl *ctl;
	int ep, opt;

	while ((opt = getopt(argc, argv, "ds:")) != -1) {
		switch (opt) {
		case 'd':
			debug = true;
			break;
		case 's':
			sock = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_init("ipnetbackd", debug);
	setvbuf(stderr, NULL, _IOLBF, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: epoll_wait returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Two backends on one backend/vif tree would fight over every device. */
	if (access("/sys/module/xen_netback", F_OK) == 0) {
		log_warnx("the kernel's xen-netback module is loaded and would claim the same "
			  "vifs; unload it (see docs/deploy.md)");
		return 1;
	}
	dp = dp_new(backend_mac, on_disable, NULL);
	if (!dp)
		fatal("opening the grant-table and event-channel devices");
	the_xb = xb_new(dp);
	if (!the_xb)
		fatal("connecting to xenstore");
	ctl = ctl_open(sock, the_xb);
	if (!ctl)
		fatal("control socket %s", sock);

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		fatal("epoll_create1");
	ep_add(ep, dp_evtchn_fd(dp), TAG_EVTCHN);
	ep_add(ep, xb_fd(the_xb), TAG_XS);
	ep_add(ep, ctl_fd(ctl), TAG_CTL);
	log_info("started; control socket %s", sock);

	while (!quit) {
		struct epoll_event evs[8];
		int timeout, n;

		xb_process(the_xb);
		timeout = dp_run(dp);
		xb_process(the_xb); /* the data path may have disabled a vif */
		n = epoll_wait(ep, evs, 8, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fatal("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			switch (evs[i].data.u32) {
			case TAG_EVTCHN:
				dp_handle_events(dp);
				break;
			case TAG_XS:
				xb_handle_events(the_xb);
				break;
			case TAG_CTL:
				ctl_accept(ctl);
				break;
			}
		}
	}
	log_info("stopping");
	ctl_close(ctl);
	xb_free(the_xb);
	dp_free(dp);
	close(ep);
	return 0;
}
