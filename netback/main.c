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
#include <sys/socket.h>
#include <unistd.h>

#include "ipnb/ctl.h"
#include "ipnb/dp.h"
#include "ipnb/log.h"
#include "ipnb/uplink.h"
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

#define DEFAULT_CONFIG "/etc/ipnetback/ipnetbackd.conf"

static void usage(void)
{
	fprintf(stderr, "usage: ipnetbackd [-d] [-c config] [-s control-socket] [-u uplink] "
			"[-g gateway]...\n");
	exit(2);
}

struct config {
	char *uplink;
	struct ul_cfg ul;
};

static void set_gateway(struct config *cf, const char *s, const char *where)
{
	struct ipnb_addr a;

	if (ipnb_addr_parse(s, strlen(s), &a) != IPNB_ADDR_OK) {
		log_warnx("%s: bad gateway address \"%s\"", where, s);
		exit(2);
	}
	if (a.family == AF_INET)
		cf->ul.gw4 = a;
	else
		cf->ul.gw6 = a;
}

static void set_uplink(struct config *cf, const char *s)
{
	free(cf->uplink);
	cf->uplink = strdup(s);
	if (!cf->uplink)
		fatal("out of memory");
}

/*
 * The config file: one "key value" per line ('=' between them is allowed),
 * '#' starts a comment. Keys: uplink, gateway (IPv4 or IPv6; may repeat).
 * A missing default file is fine; a missing file named with -c is not.
 */
static void read_config(struct config *cf, const char *path, bool must)
{
	FILE *f = fopen(path, "re");
	char line[256];
	int n = 0;

	if (!f) {
		if (must)
			fatal("%s", path);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		char key[64], val[128], where[300];
		char *hash = strchr(line, '#');

		n++;
		if (hash)
			*hash = '\0';
		for (char *c = line; *c; c++)
			if (*c == '=')
				*c = ' ';
		if (sscanf(line, "%63s %127s", key, val) != 2) {
			if (sscanf(line, "%63s", key) == 1) {
				log_warnx("%s:%d: \"%s\" needs a value", path, n, key);
				exit(2);
			}
			continue;
		}
		snprintf(where, sizeof(where), "%s:%d", path, n);
		if (strcmp(key, "uplink") == 0) {
			set_uplink(cf, val);
		} else if (strcmp(key, "gateway") == 0) {
			set_gateway(cf, val, where);
		} else {
			log_warnx("%s: unknown key \"%s\"", where, key);
			exit(2);
		}
	}
	fclose(f);
}

static void ep_add(int ep, int fd, uint32_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = tag};

	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		fatal("epoll_ctl");
}

enum { TAG_EVTCHN, TAG_XS, TAG_CTL, TAG_UPLINK };

int main(int argc, char **argv)
{
	const char *sock = CTL_DEFAULT_PATH, *conf = DEFAULT_CONFIG;
	bool debug = false, conf_given = false;
	struct sigaction sa;
	struct dp *dp;
	struct ctl *ctl;
	struct ul *ul = NULL;
	struct config cf;
	int ep, opt;

	memset(&cf, 0, sizeof(cf));
	log_init("ipnetbackd", false);
	setvbuf(stderr, NULL, _IOLBF, 0);
	/* The config file first, so that flags override it. */
	for (int i = 1; i + 1 < argc; i++) {
		if (strcmp(argv[i], "-c") == 0) {
			conf = argv[i + 1];
			conf_given = true;
		}
	}
	read_config(&cf, conf, conf_given);
	while ((opt = getopt(argc, argv, "c:dg:s:u:")) != -1) {
		switch (opt) {
		case 'c':
			break;
		case 'd':
			debug = true;
			break;
		case 'g':
			set_gateway(&cf, optarg, "-g");
			break;
		case 's':
			sock = optarg;
			break;
		case 'u':
			set_uplink(&cf, optarg);
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_init("ipnetbackd", debug);

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
	if (cf.uplink) {
		char err[256];

		cf.ul.ifname = cf.uplink;
		ul = ul_open(&cf.ul, dp, err, sizeof(err));
		if (!ul) {
			log_warnx("uplink: %s", err);
			return 1;
		}
		log_info("uplink %s: guests reach the LAN through it", cf.uplink);
	} else {
		log_info("no uplink configured: guests reach only each other");
	}
	ctl = ctl_open(sock, the_xb, ul);
	if (!ctl)
		fatal("control socket %s", sock);

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		fatal("epoll_create1");
	ep_add(ep, dp_evtchn_fd(dp), TAG_EVTCHN);
	ep_add(ep, xb_fd(the_xb), TAG_XS);
	ep_add(ep, ctl_fd(ctl), TAG_CTL);
	if (ul)
		ep_add(ep, ul_fd(ul), TAG_UPLINK);
	log_info("started; control socket %s", sock);

	while (!quit) {
		struct epoll_event evs[8];
		int timeout, n;

		xb_process(the_xb);
		timeout = dp_run(dp);
		if (ul) {
			int t = ul_run(ul);

			if (t >= 0 && (timeout < 0 || t < timeout))
				timeout = t;
		}
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
			case TAG_UPLINK:
				ul_handle_rx(ul);
				break;
			}
		}
	}
	log_info("stopping");
	ctl_close(ctl);
	ul_close(ul);
	xb_free(the_xb);
	dp_free(dp);
	free(cf.uplink);
	close(ep);
	return 0;
}
