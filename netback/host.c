/* SPDX-License-Identifier: MIT */
/*
 * host.c - the host port (see include/ipnb/host.h): a TUN device between
 * the guests and dom0's own stack, and the host routes that send dom0's
 * traffic for guest addresses into it.
 *
 * Why a layer-3 TUN and not a TAP or veth: dom0's kernel then needs no
 * neighbour resolution towards the guests (no ARP/NDP on the device), the
 * per-guest host routes are all it takes, and no Ethernet header has to be
 * made up on the way in.
 */
#include "ipnb/host.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ipnb/clock.h"
#include "ipnb/frame.h"
#include "ipnb/gso.h"
#include "ipnb/hostaddr.h"
#include "ipnb/log.h"
#include "ipnb/vnet.h"

#define HOST_MAX_OWN	 32u   /* dom0 addresses looked at */
#define HOST_OWN_REFRESH 1000u /* ms between re-reads of them */
#define HOST_RX_BUDGET	 64u   /* packets read from the device per call */
/* What the device may hand over: dom0's TSO makes IP packets of up to
 * 64 KiB (the kernel's gso_max_size). */
#define HOST_MAX_PKT (DP_MAX_FRAME - FRAME_ETH_HLEN)
/* What the device takes and gives besides the bytes (TUNSETOFFLOAD): blank
 * checksums and TCP segmentation, both families; no ECN, no UDP. */
#define HOST_OFFLOADS (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)

struct host {
	struct dp *dp;
	int tun, nl;
	int ifindex;
	char ifname[IF_NAMESIZE];
	uint32_t nl_seq;

	struct ha_addr own[HOST_MAX_OWN];
	size_t nown;
	uint64_t own_read_ms;

	struct ipnb_addr *routes; /* guest addresses routed into the device */
	size_t nroutes, cap;

	struct host_stats st;
	/* An Ethernet header's worth of room, then what the device gives
	 * after its virtio-net header. */
	struct virtio_net_hdr vh;
	uint8_t buf[FRAME_ETH_HLEN + HOST_MAX_PKT];
};

static const char *const drop_names[HOST_DROP_COUNT] = {
    [HOST_DROP_NOT_LOCAL] = "not_local",     [HOST_DROP_NO_GUEST] = "no_guest",
    [HOST_DROP_MALFORMED] = "malformed",     [HOST_DROP_GUEST_FULL] = "guest_full",
    [HOST_DROP_TX_FAILED] = "tx_failed",     [HOST_DROP_ROUTE_ERROR] = "route_error",
    [HOST_DROP_SPOOFED_SRC] = "spoofed_src",
};

const char *host_drop_name(enum host_drop d)
{
	return (unsigned int)d < HOST_DROP_COUNT ? drop_names[d] : "?";
}

/* ---- dom0's own addresses ----------------------------------------------- */

static bool own_refresh(struct host *h)
{
	uint64_t now = ipnb_now_ms();
	struct ha_addr a[HOST_MAX_OWN];
	size_t n = 0;
	int r;
	bool changed;

	if (h->own_read_ms && now - h->own_read_ms < HOST_OWN_REFRESH)
		return false;
	h->own_read_ms = now ? now : 1;
	r = ha_read(NULL, a, HOST_MAX_OWN);
	if (r < 0)
		return false;
	for (int i = 0; i < r; i++)
		if (!ipnb_addr_is_link_local(&a[i].a))
			a[n++] = a[i];
	changed = n != h->nown || memcmp(a, h->own, n * sizeof(a[0])) != 0;
	memcpy(h->own, a, n * sizeof(a[0]));
	h->nown = n;
	return changed;
}

static bool own_has(const struct host *h, const struct ipnb_addr *a)
{
	for (size_t i = 0; i < h->nown; i++)
		if (ipnb_addr_equal(&h->own[i].a, a))
			return true;
	return false;
}

/*
 * The source dom0 should use towards guest IPv4 address a: its own address
 * on the prefix a belongs to, as if the guest sat on that LAN. IPv6 needs
 * none: its source selection prefers the longest matching prefix anyway,
 * and a preferred source that is still tentative would fail the route.
 */
static const struct ipnb_addr *own_source_for(const struct host *h, const struct ipnb_addr *a)
{
	if (a->family != AF_INET)
		return NULL;
	for (size_t i = 0; i < h->nown; i++)
		if (ipnb_addr_in_prefix(a, &h->own[i].a, h->own[i].plen))
			return &h->own[i].a;
	return NULL;
}

/* ---- host routes (rtnetlink) -------------------------------------------- */

static void nl_attr(uint8_t *msg, size_t room, int type, const void *data, size_t len)
{
	struct nlmsghdr *n = (struct nlmsghdr *)msg;
	size_t off = NLMSG_ALIGN(n->nlmsg_len);
	struct rtattr rta = {.rta_type = (unsigned short)type,
			     .rta_len = (unsigned short)RTA_LENGTH(len)};

	if (off + RTA_SPACE(len) > room)
		return; /* cannot happen: the request is sized for every attribute */
	memcpy(msg + off, &rta, sizeof(rta));
	memcpy(msg + off + RTA_LENGTH(0), data, len);
	n->nlmsg_len = (uint32_t)(off + RTA_SPACE(len));
}

/* Adds (or replaces) or deletes the host route for guest address a through
 * the device, with src as the preferred source if not NULL. Returns 0 or a
 * positive errno. */
static int route(struct host *h, bool add, const struct ipnb_addr *a, const struct ipnb_addr *src)
{
	_Alignas(struct nlmsghdr)
	    uint8_t msg[NLMSG_SPACE(sizeof(struct rtmsg)) + 3 * RTA_SPACE(16)];
	struct nlmsghdr *n = (struct nlmsghdr *)msg;
	struct rtmsg *r = NLMSG_DATA(n);
	char ack[512];
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	size_t alen = ipnb_addr_len(a);
	uint32_t oif = (uint32_t)h->ifindex;

	memset(msg, 0, sizeof(msg));
	n->nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
	n->nlmsg_type = add ? RTM_NEWROUTE : RTM_DELROUTE;
	n->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_REPLACE : 0);
	n->nlmsg_seq = ++h->nl_seq;
	r->rtm_family = a->family;
	r->rtm_dst_len = (unsigned char)(alen * 8);
	r->rtm_table = RT_TABLE_MAIN;
	r->rtm_protocol = RTPROT_STATIC;
	r->rtm_scope = add ? RT_SCOPE_LINK : RT_SCOPE_NOWHERE;
	r->rtm_type = RTN_UNICAST;
	nl_attr(msg, sizeof(msg), RTA_DST, a->bytes, alen);
	nl_attr(msg, sizeof(msg), RTA_OIF, &oif, sizeof(oif));
	if (src)
		nl_attr(msg, sizeof(msg), RTA_PREFSRC, src->bytes, alen);
	if (sendto(h->nl, msg, n->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return errno;
	/* rtnetlink handles a request inside sendto(), in this thread: its
	 * answer is queued by now, so the main loop never waits for it. Only
	 * a full receive queue could lose it (ENOBUFS); then the outcome is
	 * unknown, and nothing is waited for either. */
	for (;;) {
		ssize_t got = recv(h->nl, ack, sizeof(ack), MSG_DONTWAIT);
		struct nlmsghdr *m = (struct nlmsghdr *)ack;

		if (got < 0)
			return errno == EAGAIN ? ENODATA : errno;
		for (; NLMSG_OK(m, (size_t)got); m = NLMSG_NEXT(m, got)) {
			if (m->nlmsg_seq != h->nl_seq || m->nlmsg_type != NLMSG_ERROR)
				continue;
			if (m->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
				return EPROTO;
			return -((struct nlmsgerr *)NLMSG_DATA(m))->error;
		}
	}
}

static void route_add(struct host *h, const struct ipnb_addr *a)
{
	char s[IPNB_ADDR_STRLEN];
	const struct ipnb_addr *src = own_source_for(h, a);
	int e = route(h, true, a, src);

	/* The source may have gone since we last looked: a route without
	 * one still works. */
	if (e == EINVAL && src)
		e = route(h, true, a, NULL);
	if (e == 0)
		return;
	h->st.drops[HOST_DROP_ROUTE_ERROR]++;
	ipnb_addr_format(a, s);
	log_warnx("host port %s: cannot route %s to it: %s", h->ifname, s, strerror(e));
}

/*
 * The routes through the device a previous daemon left for addresses that
 * are no longer registered: a dump of both families' main tables, then a
 * delete for each static host route (/32, /128) out of the device that is
 * not for a registered address. Runs once at start, so the dump is read to its end here.
 */
static void stale_collect(struct host *h, const struct nlmsghdr *m, struct ipnb_addr *stale,
			  size_t *n, size_t max)
{
	const struct rtmsg *r = NLMSG_DATA(m);
	int len = (int)m->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*r));
	struct ipnb_addr a = {.family = r->rtm_family};
	bool dst = false, ours = false;

	/* Only routes of the kind route() adds: an administrator's own
	 * route through the device is left alone. */
	if (len < 0 || r->rtm_table != RT_TABLE_MAIN || r->rtm_protocol != RTPROT_STATIC ||
	    (r->rtm_family != AF_INET && r->rtm_family != AF_INET6))
		return;
	for (const struct rtattr *at = RTM_RTA(r); RTA_OK(at, len); at = RTA_NEXT(at, len)) {
		if (at->rta_type == RTA_OIF && RTA_PAYLOAD(at) == sizeof(uint32_t)) {
			uint32_t oif;

			memcpy(&oif, RTA_DATA(at), sizeof(oif));
			ours = oif == (uint32_t)h->ifindex;
		} else if (at->rta_type == RTA_DST && RTA_PAYLOAD(at) == ipnb_addr_len(&a)) {
			memcpy(a.bytes, RTA_DATA(at), RTA_PAYLOAD(at));
			dst = true;
		}
	}
	if (!ours || !dst || r->rtm_dst_len != ipnb_addr_len(&a) * 8 || *n == max)
		return;
	for (size_t i = 0; i < h->nroutes; i++)
		if (ipnb_addr_equal(&h->routes[i], &a))
			return;
	stale[(*n)++] = a;
}

void host_reconcile(struct host *h)
{
	static const unsigned char families[] = {AF_INET, AF_INET6};
	struct ipnb_addr stale[64];
	size_t n = 0;

	for (size_t f = 0; f < sizeof(families); f++) {
		struct {
			struct nlmsghdr n;
			struct rtmsg r;
		} req = {.n = {.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg)),
			       .nlmsg_type = RTM_GETROUTE,
			       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
			       .nlmsg_seq = ++h->nl_seq},
			 .r = {.rtm_family = families[f]}};
		struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
		_Alignas(struct nlmsghdr) char buf[16384];
		bool done = false;

		if (sendto(h->nl, &req, req.n.nlmsg_len, 0, (struct sockaddr *)&kernel,
			   sizeof(kernel)) < 0)
			return;
		while (!done) {
			ssize_t got = recv(h->nl, buf, sizeof(buf), 0);

			if (got <= 0)
				return; /* the receive timeout: try nothing more */
			for (struct nlmsghdr *m = (struct nlmsghdr *)buf; NLMSG_OK(m, (size_t)got);
			     m = NLMSG_NEXT(m, got)) {
				if (m->nlmsg_seq != h->nl_seq)
					continue;
				if (m->nlmsg_type == NLMSG_DONE || m->nlmsg_type == NLMSG_ERROR)
					done = true;
				else if (m->nlmsg_type == RTM_NEWROUTE)
					stale_collect(h, m, stale, &n,
						      sizeof(stale) / sizeof(stale[0]));
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		char s[IPNB_ADDR_STRLEN];

		ipnb_addr_format(&stale[i], s);
		log_info("host port %s: route to %s left by an earlier daemon removed (no vif "
			 "holds it)",
			 h->ifname, s);
		route(h, false, &stale[i], NULL);
	}
}

/* dom0's addresses changed: the preferred sources of the routes may have. */
static void routes_refresh(struct host *h)
{
	for (size_t i = 0; i < h->nroutes; i++)
		route_add(h, &h->routes[i]);
}

/* ---- the data path's hooks ---------------------------------------------- */

/* A guest's packet for dom0 itself goes into dom0's stack; anything else is
 * left to the uplink. It goes as the guest sent it: a blank checksum for
 * dom0's stack to complete, a GSO packet whole, told in the virtio-net
 * header (dom0 segments it if it forwards it). dom0's addresses were
 * brought up to date by host_run() before this pass: every packet to the
 * uplink comes through here, too many to read a clock for. */
static bool host_output(void *arg, const uint8_t *frame, size_t len, const struct frame_info *fi,
			const struct ipnb_offload *o)
{
	struct host *h = arg;
	struct virtio_net_hdr vh;
	struct iovec iov[2];
	size_t ip_len = len - FRAME_ETH_HLEN;

	if (!own_has(h, &fi->dst))
		return false;
	vnet_from_offload(o, fi, 0, &vh);
	iov[0] = (struct iovec){.iov_base = &vh, .iov_len = sizeof(vh)};
	iov[1] = (struct iovec){.iov_base = (void *)(uintptr_t)(frame + FRAME_ETH_HLEN),
				.iov_len = ip_len};
	if (writev(h->tun, iov, 2) != (ssize_t)(sizeof(vh) + ip_len)) {
		h->st.drops[HOST_DROP_TX_FAILED]++;
		return true;
	}
	h->st.tx_pkts++;
	h->st.tx_bytes += ip_len;
	if (o->gso_size)
		h->st.tx_gso_pkts++;
	return true;
}

static void host_announce(void *arg, const struct ipnb_addr *a)
{
	struct host *h = arg;

	if (h->nroutes == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		struct ipnb_addr *r = realloc(h->routes, cap * sizeof(*r));

		if (!r) {
			h->st.drops[HOST_DROP_ROUTE_ERROR]++;
			return;
		}
		h->routes = r;
		h->cap = cap;
	}
	own_refresh(h);
	h->routes[h->nroutes++] = *a;
	h->st.routes = h->nroutes;
	route_add(h, a);
}

static void host_withdraw(void *arg, const struct ipnb_addr *a)
{
	struct host *h = arg;

	for (size_t i = 0; i < h->nroutes; i++) {
		if (!ipnb_addr_equal(&h->routes[i], a))
			continue;
		h->routes[i] = h->routes[--h->nroutes];
		h->st.routes = h->nroutes;
		/* ESRCH: an administrator removed it already. */
		route(h, false, a, NULL);
		return;
	}
}

/* ---- from dom0 ---------------------------------------------------------- */

static void rx_packet(struct host *h, size_t len)
{
	uint8_t *frame = h->buf;
	struct ipnb_offload o;
	struct frame_info fi;
	struct gso_pkt g;
	uint16_t type;

	switch (frame[FRAME_ETH_HLEN] >> 4) {
	case 4:
		type = FRAME_ETHERTYPE_IPV4;
		break;
	case 6:
		type = FRAME_ETHERTYPE_IPV6;
		break;
	default:
		h->st.drops[HOST_DROP_MALFORMED]++;
		return;
	}
	/* Addresses are set on delivery (frame_set_l2); the type tells
	 * frame_parse() what follows. */
	memset(frame, 0, FRAME_ETH_HLEN);
	frame[12] = (uint8_t)(type >> 8);
	frame[13] = (uint8_t)type;
	len += FRAME_ETH_HLEN;
	if (frame_parse(frame, len, &fi) != FRAME_OK ||
	    (fi.kind != FRAME_IPV4 && fi.kind != FRAME_IPV6)) {
		h->st.drops[HOST_DROP_MALFORMED]++;
		return;
	}
	/* Only dom0's own traffic crosses the port. A guest's address is
	 * never dom0's, even if dom0 was given it too: that would let dom0's
	 * stack speak for the guest to other guests (threat 27). */
	if (dp_addr_owner(h->dp, &fi.src)) {
		h->st.drops[HOST_DROP_SPOOFED_SRC]++;
		return;
	}
	if (!own_has(h, &fi.src)) {
		h->st.drops[HOST_DROP_NOT_LOCAL]++;
		return;
	}
	if (!dp_addr_owner(h->dp, &fi.dst)) {
		h->st.drops[HOST_DROP_NO_GUEST]++;
		return;
	}
	/* dom0's kernel is trusted no more than the LAN: its header must
	 * describe the packet it came with. */
	if (vnet_to_offload(&h->vh, &fi, 0, &o) != VNET_OK ||
	    (o.gso_size && gso_check(frame, len, &fi, o.gso_type, o.gso_size, &g) != GSO_OK)) {
		h->st.drops[HOST_DROP_MALFORMED]++;
		return;
	}
	if (!dp_input(h->dp, frame, len, &fi, &o)) {
		h->st.drops[HOST_DROP_GUEST_FULL]++;
		return;
	}
	h->st.rx_pkts++;
	h->st.rx_bytes += len - FRAME_ETH_HLEN;
	if (o.gso_size)
		h->st.rx_gso_pkts++;
}

void host_run(struct host *h)
{
	if (own_refresh(h))
		routes_refresh(h);
}

void host_handle_rx(struct host *h)
{
	host_run(h);
	for (unsigned int i = 0; i < HOST_RX_BUDGET; i++) {
		struct iovec iov[2] = {
		    {.iov_base = &h->vh, .iov_len = sizeof(h->vh)},
		    {.iov_base = h->buf + FRAME_ETH_HLEN, .iov_len = HOST_MAX_PKT}};
		ssize_t n = readv(h->tun, iov, 2);

		if (n <= 0)
			break; /* EAGAIN: drained */
		if ((size_t)n <= sizeof(h->vh)) {
			h->st.drops[HOST_DROP_MALFORMED]++;
			continue;
		}
		rx_packet(h, (size_t)n - sizeof(h->vh));
	}
}

/* ---- setup -------------------------------------------------------------- */

static void disable_addrconf(const char *ifname)
{
	char path[96];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/addr_gen_mode", ifname);
	f = fopen(path, "we");
	if (f) {
		fputs("1\n", f); /* IN6_ADDR_GEN_MODE_NONE */
		fclose(f);
	}
}

struct host *host_open(const char *ifname, struct dp *dp, char *err, size_t errlen)
{
	struct host *h;
	struct ifreq ifr;
	/* Only host_reconcile()'s route dump, once at start, waits for the
	 * kernel (route() never does): at most this long. */
	struct timeval tv = {1, 0};
	const char *what = "allocating";
	int s = -1;

	if (strlen(ifname) >= IF_NAMESIZE) {
		snprintf(err, errlen, "host port name \"%s\" too long", ifname);
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		goto fail;
	h->tun = -1;
	h->nl = -1;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, ifname, strlen(ifname) + 1);
	/* With a virtio-net header before each packet, both ways: dom0's
	 * stack and the guests exchange 64 KiB TCP segments and blank
	 * checksums, as through the kernel's netback and a bridge. */
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR;
	what = "/dev/net/tun";
	h->tun = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (h->tun < 0)
		goto fail;
	/* A device of that name left by a previous daemon (persistent, with
	 * nobody attached) is attached to again, routes and all. */
	what = "TUNSETIFF";
	if (ioctl(h->tun, TUNSETIFF, &ifr) < 0)
		goto fail;
	/* Persistent: a restart, even after a kill, keeps dom0's routes to
	 * the guests. Packets dom0 sends meanwhile are dropped by the
	 * device, not sent elsewhere. */
	what = "TUNSETPERSIST";
	if (ioctl(h->tun, TUNSETPERSIST, 1) < 0)
		goto fail;
	what = "TUNSETVNETHDRSZ";
	if (ioctl(h->tun, TUNSETVNETHDRSZ, &(int){sizeof(struct virtio_net_hdr)}) < 0)
		goto fail;
	what = "TUNSETOFFLOAD";
	if (ioctl(h->tun, TUNSETOFFLOAD, (unsigned long)HOST_OFFLOADS) < 0)
		goto fail;
	memcpy(h->ifname, ifr.ifr_name, IF_NAMESIZE);
	h->ifname[IF_NAMESIZE - 1] = '\0';
	/* No IPv6 link-local address: the device has no link, and router
	 * solicitations and MLD reports from dom0 would only be dropped. */
	disable_addrconf(h->ifname);
	what = "bringing it up";
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		goto fail;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0 || ioctl(s, SIOCGIFINDEX, &ifr) < 0)
		goto fail;
	h->ifindex = ifr.ifr_ifindex;
	close(s);
	s = -1;
	what = "rtnetlink";
	h->nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (h->nl < 0 || setsockopt(h->nl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		goto fail;
	own_refresh(h);
	h->dp = dp; /* only now: host_close() unplugs what has a dp */
	dp_set_host(dp, &(struct dp_port_ops){.output = host_output,
					      .announce = host_announce,
					      .withdraw = host_withdraw,
					      .arg = h,
					      .offload = true});
	return h;
fail:
	snprintf(err, errlen, "host port %s: %s: %s", ifname, what, strerror(errno));
	if (s >= 0)
		close(s);
	host_close(h, true);
	return NULL;
}

void host_close(struct host *h, bool remove)
{
	if (!h)
		return;
	if (h->dp)
		dp_set_host(h->dp, NULL);
	/* Once it is no longer persistent, closing the device removes it
	 * and every route through it. */
	if (h->tun >= 0 && remove)
		ioctl(h->tun, TUNSETPERSIST, 0);
	if (h->tun >= 0)
		close(h->tun);
	if (h->nl >= 0)
		close(h->nl);
	free(h->routes);
	free(h);
}

int host_fd(const struct host *h)
{
	return h->tun;
}

const char *host_name(const struct host *h)
{
	return h->ifname;
}

const struct host_stats *host_stats(const struct host *h)
{
	return &h->st;
}
