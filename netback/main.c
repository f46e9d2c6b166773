/* SPDX-License-Identifier: MIT */
/*
 * main.c - ipnetbackd: option parsing, signals and the epoll main loop over
 * the event-channel handle, the xenstore connection, the control socket and
 * the ports (uplink, host port).
 * Idle vifs cost nothing: the loop sleeps until one of those fds is
 * readable, or until a queued packet needs its timeout checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipnb/clock.h"
#include "ipnb/ctl.h"
#include "ipnb/dp.h"
#include "ipnb/host.h"
#include "ipnb/log.h"
#include "ipnb/notify.h"
#include "ipnb/sandbox.h"
#include "ipnb/uplink.h"
#include "ipnb/version.h"
#include "ipnb/xenbus.h"

/* The MAC guests see for every address that is not their own: fixed and
 * locally administered, the address Linux netback gives its vif devices. */
static const uint8_t backend_mac[FRAME_ETH_ALEN] = {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff};

static volatile sig_atomic_t quit, hup;

/* Handlers only set flags; the main loop acts on them. */
static void on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static void on_hup(int sig)
{
	(void)sig;
	hup = 1;
}

/*
 * One daemon per host: a second one would take over the control socket and
 * fight the first over every vif and the host port. The lock is an flock()
 * on ipnetbackd.pid beside the control socket, held for the life of the
 * process (the kernel drops it however the process ends, so it is never
 * stale); the file holds the pid for operators. Returns the locked fd, or
 * -1 with errno set (EWOULDBLOCK: another daemon holds it). The file is
 * never removed: removing it while a second daemon opens it would let two
 * daemons each lock a file of their own.
 */
static int take_lock(const char *dir, char *path, size_t len)
{
	int fd, saved;

	snprintf(path, len, "%s/ipnetbackd.pid", dir);
	mkdir(dir, 0700);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0 || ftruncate(fd, 0) < 0 ||
	    dprintf(fd, "%ld\n", (long)getpid()) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

static struct xb *the_xb;

static void on_disable(void *arg, struct dp_vif *vif, const char *why)
{
	(void)arg;
	xb_on_disable(the_xb, vif, why);
}

#define DEFAULT_CONFIG "/etc/ipnetback/ipnetbackd.conf"

static const char ipnb_usage[] =
    "usage: ipnetbackd [OPTION]...\n"
    "The IP-switching network backend for Xen guests (ipnetbackd(8)).\n"
    "\n"
    "  -c, --config=FILE          configuration file (default " DEFAULT_CONFIG ")\n"
    "  -d, --debug                log debug lines too\n"
    "  -g, --gateway=ADDR         a router on the uplink's LAN (repeatable)\n"
    "  -H, --host-port=NAME|none  the TUN device dom0 reaches guests through\n"
    "      --max-queues=N         queues a vif may use, 1 to 8 (default 1)\n"
    "  -m, --metrics-listen=ADDR:PORT|PATH\n"
    "                             also serve the metrics over HTTP there\n"
    "  -s, --socket=PATH          control socket (default " CTL_DEFAULT_PATH ")\n"
    "  -S, --sandbox=MODE         seccomp mode: off, errno, log or kill\n"
    "  -u, --uplink=IFACE         the physical NIC guests reach the LAN through\n"
    "  -h, --help                 show this help and exit\n"
    "  -V, --version              show the version and exit\n";

static const char ipnb_shortopts[] = "c:dg:H:m:s:S:u:hV";
enum { OPT_MAX_QUEUES = 256 }; /* long options without a short one */
static const struct option ipnb_longopts[] = {
    {"config", required_argument, NULL, 'c'},
    {"debug", no_argument, NULL, 'd'},
    {"gateway", required_argument, NULL, 'g'},
    {"host-port", required_argument, NULL, 'H'},
    {"max-queues", required_argument, NULL, OPT_MAX_QUEUES},
    {"metrics-listen", required_argument, NULL, 'm'},
    {"socket", required_argument, NULL, 's'},
    {"sandbox", required_argument, NULL, 'S'},
    {"uplink", required_argument, NULL, 'u'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0}};

static void usage(void)
{
	fputs(ipnb_usage, stderr);
	exit(2);
}

struct config {
	char *uplink;
	char *metrics;	 /* the metrics listener, or NULL */
	char *host;	 /* the host port's name; "none" for none */
	bool host_asked; /* named in the config or with -H, not the default */
	struct ul_cfg ul;
	enum sbx_mode sandbox;
	unsigned int max_queues; /* multi-queue-max-queues */
};

/* The most queues a vif may connect with (netif.h "Multi-queue"): 1 to
 * DP_MAX_QUEUES. One data-path thread serves them all for now; the default
 * becomes the number of workers once there are several (issue 12). */
static void set_max_queues(struct config *cf, const char *s, const char *where)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = s[0] >= '0' && s[0] <= '9' ? strtoul(s, &end, 10) : 0;
	if (n < 1 || n > DP_MAX_QUEUES || errno != 0 || *end != '\0') {
		log_warnx("%s: max-queues must be a number from 1 to %u, not \"%s\"", where,
			  DP_MAX_QUEUES, s);
		exit(2);
	}
	cf->max_queues = (unsigned int)n;
}

static void set_sandbox(struct config *cf, const char *s, const char *where)
{
	if (!sbx_mode_parse(s, &cf->sandbox)) {
		log_warnx("%s: sandbox must be off, errno, log or kill, not \"%s\"", where, s);
		exit(2);
	}
}

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

static void set_str(char **to, const char *s)
{
	free(*to);
	*to = strdup(s);
	if (!*to)
		fatal("out of memory");
}

/*
 * The config file: one "key value" per line ('=' between them is allowed),
 * '#' starts a comment. Keys: uplink, gateway (IPv4 or IPv6; may repeat),
 * host-port (a name, or "none"), sandbox (off, errno, log or kill),
 * metrics-listen (ADDR:PORT, [ADDR6]:PORT or a path), max-queues (1 to 8).
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
			set_str(&cf->uplink, val);
		} else if (strcmp(key, "host-port") == 0) {
			set_str(&cf->host, val);
			cf->host_asked = true;
		} else if (strcmp(key, "gateway") == 0) {
			set_gateway(cf, val, where);
		} else if (strcmp(key, "sandbox") == 0) {
			set_sandbox(cf, val, where);
		} else if (strcmp(key, "metrics-listen") == 0) {
			set_str(&cf->metrics, val);
		} else if (strcmp(key, "max-queues") == 0) {
			set_max_queues(cf, val, where);
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

enum { TAG_EVTCHN, TAG_XS, TAG_CTL, TAG_UPLINK, TAG_HOST };

/* The shorter of two epoll timeouts in ms, -1 being forever. */
static int sooner(int timeout, int t)
{
	return t >= 0 && (timeout < 0 || t < timeout) ? t : timeout;
}

int main(int argc, char **argv)
{
	const char *sock = CTL_DEFAULT_PATH, *conf = DEFAULT_CONFIG;
	bool debug = false, conf_given = false, disconnect = false;
	uint64_t t_start;
	struct sigaction sa;
	struct dp *dp = NULL;
	struct ctl *ctl = NULL;
	struct ul *ul = NULL;
	struct host *host = NULL;
	struct config cf;
	char err[256];
	unsigned int nic_mtu = 0;
	int ep = -1, opt, rc = 1, lockfd, statefd = -1, xs_fd, ntf = -1;
	char lockpath[PATH_MAX + 32], rundir[PATH_MAX];

	t_start = ipnb_now_ms();
	memset(&cf, 0, sizeof(cf));
	log_init("ipnetbackd", false);
	setvbuf(stderr, NULL, _IOLBF, 0);
	/* A first pass for what comes before the config file: --help,
	 * --version and the file's name; errors wait for the second pass. */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ipnb_shortopts, ipnb_longopts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(ipnb_usage, stdout);
			return 0;
		}
		if (opt == 'V') {
			printf("ipnetbackd %s\n", IPNB_VERSION);
			return 0;
		}
		if (opt == 'c') {
			conf = optarg;
			conf_given = true;
		}
	}
	/* The config file first, so that flags override it. */
	set_str(&cf.host, HOST_DEFAULT_NAME);
	cf.sandbox = SBX_ERRNO;
	cf.max_queues = 1;
	read_config(&cf, conf, conf_given);
	opterr = 1;
	optind = 0; /* glibc: start again from the first argument */
	while ((opt = getopt_long(argc, argv, ipnb_shortopts, ipnb_longopts, NULL)) != -1) {
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
		case 'S':
			set_sandbox(&cf, optarg, "-S");
			break;
		case 'H':
			set_str(&cf.host, optarg);
			cf.host_asked = true;
			break;
		case 'u':
			set_str(&cf.uplink, optarg);
			break;
		case 'm':
			set_str(&cf.metrics, optarg);
			break;
		case OPT_MAX_QUEUES:
			set_max_queues(&cf, optarg, "--max-queues");
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
	/* SIGHUP's default would kill the daemon with no log line, leaving
	 * the socket behind, and systemd would not restart it. */
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Before anything shared is touched: the socket, ipnb0, the vifs. */
	/* The control socket's directory is the daemon's: its lock, and the
	 * vifs' response journals, which must outlive the process. */
	snprintf(lockpath, sizeof(lockpath), "%s", sock);
	snprintf(rundir, sizeof(rundir), "%s", dirname(lockpath));
	lockfd = take_lock(rundir, lockpath, sizeof(lockpath));
	if (lockfd < 0) {
		if (errno == EWOULDBLOCK)
			log_warnx("another ipnetbackd is running (it holds %s); not starting",
				  lockpath);
		else
			log_warn("lock %s", lockpath);
		goto out;
	}

	/* Two backends on one backend/vif tree would fight over every device. */
	if (access("/sys/module/xen_netback", F_OK) == 0) {
		log_warnx("the kernel's xen-netback module is loaded and would claim the same "
			  "vifs; unload it (see docs/deploy.md)");
		goto out;
	}
	dp = dp_new(backend_mac, on_disable, NULL);
	if (!dp)
		fatal("opening the grant-table and event-channel devices");
	statefd = open(rundir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (statefd < 0)
		fatal("%s", rundir);
	dp_set_state_dir(dp, statefd);
	if (!dp_set_max_queues(dp, cf.max_queues))
		fatal("max-queues %u", cf.max_queues); /* checked when parsed */
	if (cf.max_queues > 1)
		log_info("vifs may connect with up to %u queues (one data-path thread serves "
			 "them all)",
			 cf.max_queues);
	/* The ports first: they hear of every address the control path
	 * registers from its first pass on. */
	if (strcmp(cf.host, "none") != 0) {
		host = host_open(cf.host, dp, err, sizeof(err));
		if (!host && cf.host_asked) {
			log_warnx("%s", err);
			goto out;
		}
		/* The default port is a convenience: without TUN support, say
		 * so and serve the guests anyway. */
		if (!host)
			log_warnx("%s; guests cannot reach dom0", err);
		else
			log_info("host port %s: guests and dom0 reach each other through it",
				 cf.host);
	}
	if (cf.uplink) {
		cf.ul.ifname = cf.uplink;
		ul = ul_open(&cf.ul, dp, err, sizeof(err));
		if (!ul) {
			log_warnx("uplink: %s", err);
			goto out;
		}
		log_info("uplink %s: guests reach the LAN through it", cf.uplink);
		if (ul_mtu(ul, &nic_mtu) < nic_mtu)
			log_warnx("uplink %s: MTU %u, not the interface's %u: its rings' frames "
				  "hold no more (larger guest packets get ICMP errors)",
				  cf.uplink, ul_mtu(ul, NULL), nic_mtu);
	} else {
		log_info("no uplink configured: guests reach only each other%s",
			 host ? " and dom0" : "");
	}
	the_xb = xb_new(dp);
	if (!the_xb)
		fatal("connecting to xenstore");
	ctl = ctl_open(sock, dp, the_xb, ul, host);
	if (!ctl)
		fatal("control socket %s", sock);
	if (cf.metrics) {
		if (ctl_listen_metrics(ctl, cf.metrics, err, sizeof(err)) < 0) {
			log_warnx("%s", err);
			goto out;
		}
		log_info("metrics served over HTTP on %s", cf.metrics);
	}

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		fatal("epoll_create1");
	ep_add(ep, dp_evtchn_fd(dp), TAG_EVTCHN);
	xs_fd = xb_fd(the_xb);
	ep_add(ep, xs_fd, TAG_XS);
	ep_add(ep, ctl_fd(ctl), TAG_CTL);
	if (ul)
		ep_add(ep, ul_fd(ul), TAG_UPLINK);
	if (host)
		ep_add(ep, host_fd(host), TAG_HOST);
	/* The service manager's socket, opened now: the seccomp allow-list
	 * has no socket() for it later. READY=1 follows the first pass. */
	ntf = ntf_open();
	if (ntf < 0 && getenv("NOTIFY_SOCKET"))
		log_warn("NOTIFY_SOCKET %s", getenv("NOTIFY_SOCKET"));
		/* Everything is open: from here on the loop needs only what it does
		 * with those fds, and the host port's routes (CAP_NET_ADMIN). */
#if defined(__SANITIZE_ADDRESS__)
	/* LeakSanitizer's exit check stops the process's threads with
	 * ptrace from a clone: no filter in the sanitizer build. */
	if (cf.sandbox != SBX_OFF)
		log_info("sandbox: no seccomp filter in the sanitizer build");
	cf.sandbox = SBX_OFF;
#endif
	if (sbx_enter(cf.sandbox, host != NULL, statefd, err, sizeof(err)) != 0) {
		log_warnx("sandbox: %s", err);
		goto out;
	}
	log_info("sandbox: capabilities dropped%s; seccomp allow-list %s",
		 host ? " but CAP_NET_ADMIN (the host port's routes)" : "",
		 cf.sandbox == SBX_OFF ? "off" : sbx_mode_name(cf.sandbox));
	log_info("started; control socket %s", sock);
	/* The first pass registers every address already in xenstore (the
	 * vifs a previous daemon served among them); what the host port
	 * still routes beyond those is stale. */
	xb_process(the_xb);
	if (host)
		host_reconcile(host);
	{
		struct xb_stats st;

		xb_get_stats(the_xb, &st);
		/* The guests' pause on a restart ends here (docs/performance.md). */
		log_info("first pass done %" PRIu64 " ms after start: %u vif%s, %" PRIu64
			 " connected",
			 ipnb_now_ms() - t_start, st.vifs, st.vifs == 1 ? "" : "s", st.connects);
	}
	/* Ready: the control socket answers, the watches are set, the ports
	 * are open and every vif already Connected is served again, so guests
	 * that start after this unit (xendomains) find their backend. */
	if (!ntf_send(ntf, "READY=1"))
		log_warn("telling the service manager we are ready");

	while (!quit) {
		struct epoll_event evs[8];
		int timeout, n;

		xb_process(the_xb);
		if (host)
			host_run(host); /* dom0's addresses, before guests send to them */
		timeout = dp_run(dp);
		if (ul)
			timeout = sooner(timeout, ul_run(ul));
		ctl_run(ctl);	    /* what the captures saw in those passes */
		xb_process(the_xb); /* the data path may have disabled a vif */
		timeout = sooner(timeout, xb_timeout(the_xb));
		/* A new xenstore connection has a new watch fd (the old one
		 * left the epoll set when it was closed). */
		if (xb_fd(the_xb) != xs_fd && xb_fd(the_xb) >= 0) {
			xs_fd = xb_fd(the_xb);
			ep_add(ep, xs_fd, TAG_XS);
		}
		if (hup) {
			hup = 0;
			log_info("SIGHUP: the configuration is read only at start; nothing "
				 "reloaded (restart ipnetbackd to apply changes)");
		}
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
				ctl_handle_events(ctl);
				if (ctl_stop_requested(ctl) != CTL_RUN)
					quit = 1;
				break;
			case TAG_UPLINK:
				ul_handle_rx(ul);
				break;
			case TAG_HOST:
				host_handle_rx(host);
				break;
			}
		}
	}
	/* However it stops (SIGTERM, `ipnetback shutdown`), the vifs stay
	 * connected and the host port stays, for the next daemon to take
	 * over; only `shutdown --disconnect` handed them back and removes it. */
	disconnect = ctl_stop_requested(ctl) == CTL_STOP_DISCONNECT;
	log_info("stopping%s", disconnect ? "; host port removed"
					  : "; vifs stay connected for the next ipnetbackd");
	ntf_send(ntf, "STOPPING=1");
	rc = 0;
out:
	/* Every exit after the configuration is read comes here, so that
	 * what was opened is closed (the host port's device goes away with
	 * it) and nothing is left allocated. fatal() exits on its own. */
	ctl_close(ctl);
	/* The host port first: unplugged from the data path, it does not
	 * hear the vifs give up their addresses below, and dom0's routes to
	 * the guests stay for the next daemon. */
	host_close(host, disconnect);
	xb_free(the_xb);
	ul_close(ul);
	dp_free(dp);
	free(cf.uplink);
	free(cf.metrics);
	free(cf.host);
	if (ep >= 0)
		close(ep);
	if (statefd >= 0)
		close(statefd);
	if (lockfd >= 0)
		close(lockfd);
	if (ntf >= 0)
		close(ntf);
	return rc;
}
