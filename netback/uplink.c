/* SPDX-License-Identifier: MIT */
/*
 * uplink.c - the physical NIC (see include/ipnb/uplink.h): AF_PACKET with
 * PACKET_MMAP RX and TX rings, the LAN-side ARP/NDP proxy for registered
 * guest addresses, neighbour resolution (nbr.c) for outbound traffic and
 * address announcements.
 *
 * dom0's kernel keeps the NIC and its own addresses. Frames for guest
 * addresses reach it too, but it owns none of them and does not forward,
 * so it drops them; the copy on our socket is the one that counts. Frames
 * the host itself sends are not looped back to us (PACKET_IGNORE_OUTGOING).
 */
#include "ipnb/uplink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipnb/clock.h"
#include "ipnb/frame.h"
#include "ipnb/hostaddr.h"

#define UL_FRAME_SIZE  2048u /* one Ethernet frame up to 1518 bytes plus the tpacket header */
#define UL_BLOCK_SIZE  65536u
#define UL_BLOCKS      8u /* 256 frames per ring */
#define UL_RX_BUDGET   256u
#define UL_TX_BATCH    64u   /* frames per send(): a quarter of the TX ring */
#define UL_TX_RETRY_MS 50u   /* after a failed send() */
#define UL_MAX_OWN     16u   /* dom0's own addresses on the uplink we look at */
#define UL_MAX_DOM0    64u   /* dom0's addresses on all interfaces */
#define UL_OWN_REFRESH 5000u /* ms between re-reads of those addresses */
/* Where PACKET_MMAP TX expects the frame data (no PACKET_TX_HAS_OFF). */
#define UL_TX_DATA_OFF (TPACKET2_HDRLEN - sizeof(struct sockaddr_ll))

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

struct ul_pending {
	size_t len;
	uint8_t data[];
};

struct ul {
	struct dp *dp;
	int fd;
	int ifindex;
	char ifname[IF_NAMESIZE];
	uint8_t mac[FRAME_ETH_ALEN];
	unsigned int mtu;     /* what guests' packets are held to: nic_mtu, or less */
	unsigned int nic_mtu; /* the interface's own */
	struct ul_cfg cfg;

	uint8_t *ring; /* RX frames, then TX frames */
	size_t ring_len, nframes;
	unsigned int rx_idx, tx_idx;
	bool tx_queued;
	unsigned int tx_batch; /* frames queued since the last send() */

	struct nbr_cache *nbr;
	struct ha_addr own[UL_MAX_OWN];
	size_t nown;
	struct ha_addr dom0[UL_MAX_DOM0]; /* no LAN host may use these as source */
	size_t ndom0;
	uint64_t own_read_ms;

	struct ul_stats st;
};

static const char *const drop_names[UL_DROP_COUNT] = {
    [UL_DROP_NO_ROUTE] = "no_route",	     [UL_DROP_TOO_BIG] = "too_big",
    [UL_DROP_UNRESOLVED] = "unresolved",     [UL_DROP_TX_RING_FULL] = "tx_ring_full",
    [UL_DROP_RX_TRUNCATED] = "rx_truncated", [UL_DROP_RX_GUEST_FULL] = "rx_guest_refused",
    [UL_DROP_SPOOFED_SRC] = "spoofed_src",
};

const char *ul_drop_name(enum ul_drop d)
{
	return (unsigned int)d < UL_DROP_COUNT ? drop_names[d] : "?";
}

static void ul_flush(struct ul *ul);

/* ---- TX ring --------------------------------------------------------------- */

static struct tpacket2_hdr *tx_hdr(struct ul *ul, unsigned int i)
{
	return (struct tpacket2_hdr *)(ul->ring + (ul->nframes + i) * UL_FRAME_SIZE);
}

/* Copies a frame into the next free TX slot; with dst set, rewrites its
 * Ethernet addresses there (source: the uplink's MAC). The kernel sends the
 * slots when ul_run() calls send(). */
static bool ul_tx(struct ul *ul, const uint8_t *frame, size_t len, const uint8_t *dst)
{
	struct tpacket2_hdr *h = tx_hdr(ul, ul->tx_idx);
	uint8_t *data = (uint8_t *)h + UL_TX_DATA_OFF;
	uint32_t status = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);

	if (len > UL_FRAME_SIZE - UL_TX_DATA_OFF)
		return false;
	if (status == TP_STATUS_WRONG_FORMAT)
		status = TP_STATUS_AVAILABLE; /* the kernel refused it; reuse */
	if (status != TP_STATUS_AVAILABLE) {
		/* Full of frames the kernel has not taken yet: make sure the
		 * next flush asks it again. */
		ul->tx_queued = true;
		ul->st.drops[UL_DROP_TX_RING_FULL]++;
		return false;
	}
	memcpy(data, frame, len);
	if (dst)
		frame_set_l2(data, dst, ul->mac);
	h->tp_len = (uint32_t)len;
	/* The kernel reads the frame once it sees SEND_REQUEST. */
	__atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
	ul->tx_idx = (ul->tx_idx + 1) % (unsigned int)ul->nframes;
	ul->tx_queued = true;
	/* One send() per batch, but never let a burst fill the ring first. */
	if (++ul->tx_batch >= UL_TX_BATCH)
		ul_flush(ul);
	return true;
}

static void ul_flush(struct ul *ul)
{
	if (!ul->tx_queued)
		return;
	ul->tx_batch = 0;
	if (send(ul->fd, NULL, 0, MSG_DONTWAIT) >= 0) {
		ul->tx_queued = false;
		return;
	}
	/* The frames stay in the ring, and tx_queued makes ul_run() try
	 * again shortly: a NIC that was down (ENETDOWN, reported once more on
	 * the first send after it comes back) must not leave them there. */
	if (errno != EAGAIN && errno != ENOBUFS)
		ul->st.tx_errors++;
}

/* ---- dom0's own addresses: on-link prefixes and solicitation sources -------- */

static void own_refresh(struct ul *ul, uint64_t now)
{
	int n;

	if (ul->own_read_ms && now - ul->own_read_ms < UL_OWN_REFRESH)
		return;
	ul->own_read_ms = now ? now : 1;
	n = ha_read(ul->ifname, ul->own, UL_MAX_OWN);
	if (n >= 0)
		ul->nown = (size_t)n;
	n = ha_read(NULL, ul->dom0, UL_MAX_DOM0);
	if (n >= 0)
		ul->ndom0 = (size_t)n;
}

/* A source no LAN host may use (threat 27): a registered guest address
 * (another guest's, or the receiving guest's own) or one of dom0's. Without
 * this check a LAN host could blindly spoof guests to each other, or dom0 to
 * a guest, since replies go where the forged source says. */
static bool spoofed_src(struct ul *ul, const struct ipnb_addr *src)
{
	if (dp_addr_owner(ul->dp, src))
		return true;
	own_refresh(ul, ipnb_now_ms());
	for (size_t i = 0; i < ul->ndom0; i++)
		if (ipnb_addr_equal(&ul->dom0[i].a, src))
			return true;
	return false;
}

/* The neighbour to send a packet for dst to: dst itself if it is on one of
 * the uplink's prefixes, else the gateway of its family. */
static bool next_hop(struct ul *ul, const struct ipnb_addr *dst, struct ipnb_addr *nh)
{
	const struct ipnb_addr *gw;

	for (size_t i = 0; i < ul->nown; i++) {
		if (ipnb_addr_in_prefix(dst, &ul->own[i].a, ul->own[i].plen)) {
			*nh = *dst;
			return true;
		}
	}
	gw = dst->family == AF_INET ? &ul->cfg.gw4 : &ul->cfg.gw6;
	if (gw->family != dst->family)
		return false;
	*nh = *gw;
	return true;
}

/* A source address of dom0's for solicitations: global before link-local. */
static const struct ipnb_addr *own_source(const struct ul *ul, int family)
{
	const struct ipnb_addr *ll = NULL;

	for (size_t i = 0; i < ul->nown; i++) {
		if (ul->own[i].a.family != family)
			continue;
		if (!ipnb_addr_is_link_local(&ul->own[i].a))
			return &ul->own[i].a;
		ll = &ul->own[i].a;
	}
	return ll;
}

/* ---- neighbour cache callbacks ---------------------------------------------- */

static void nb_solicit(void *arg, const struct ipnb_addr *ip)
{
	struct ul *ul = arg;
	uint8_t out[FRAME_NS_LEN > FRAME_MIN_LEN ? FRAME_NS_LEN : FRAME_MIN_LEN];
	size_t n;

	if (ip->family == AF_INET)
		n = frame_build_arp_request(out, ul->mac, own_source(ul, AF_INET), ip);
	else
		n = frame_build_ns(out, ul->mac, own_source(ul, AF_INET6), ip);
	if (n)
		ul_tx(ul, out, n, NULL);
}

static void nb_release(void *arg, void *pkt, const uint8_t mac[6])
{
	struct ul *ul = arg;
	struct ul_pending *p = pkt;

	if (ul_tx(ul, p->data, p->len, mac)) {
		ul->st.tx_pkts++;
		ul->st.tx_bytes += p->len;
	}
	free(p);
}

static void nb_drop(void *arg, void *pkt)
{
	struct ul *ul = arg;

	ul->st.drops[UL_DROP_UNRESOLVED]++;
	free(pkt);
}

/* ---- the data path's hooks ------------------------------------------------- */

static bool ul_output(void *arg, const uint8_t *frame, size_t len, const struct frame_info *fi,
		      const struct ipnb_offload *o)
{
	struct ul *ul = arg;
	uint64_t now = ipnb_now_ms();
	struct ipnb_addr nh;
	struct ul_pending *p;
	uint8_t mac[6];

	(void)o; /* no offloads here yet: the data path sends segments and full checksums */

	if (len > FRAME_ETH_HLEN + (size_t)ul->mtu || len > UL_FRAME_SIZE - UL_TX_DATA_OFF) {
		ul->st.drops[UL_DROP_TOO_BIG]++;
		return true;
	}
	own_refresh(ul, now);
	if (!next_hop(ul, &fi->dst, &nh)) {
		ul->st.drops[UL_DROP_NO_ROUTE]++;
		return true;
	}
	p = malloc(sizeof(*p) + len);
	if (!p) {
		ul->st.drops[UL_DROP_UNRESOLVED]++;
		return true;
	}
	p->len = len;
	memcpy(p->data, frame, len);
	switch (nbr_resolve(ul->nbr, &nh, p, now, mac)) {
	case NBR_HIT:
		nb_release(ul, p, mac);
		break;
	case NBR_QUEUED:
		break;
	case NBR_DROP:
		nb_drop(ul, p);
		break;
	}
	return true;
}

static void ul_announce(void *arg, const struct ipnb_addr *a)
{
	struct ul *ul = arg;
	uint8_t out[FRAME_NA_LEN > FRAME_MIN_LEN ? FRAME_NA_LEN : FRAME_MIN_LEN];
	size_t n;

	/* A guest address is never a LAN neighbour. */
	nbr_forget(ul->nbr, a);
	if (a->family == AF_INET)
		n = frame_build_garp(out, ul->mac, a);
	else
		n = frame_build_unsolicited_na(out, ul->mac, a);
	if (n && ul_tx(ul, out, n, NULL))
		ul->st.announcements++;
	ul_flush(ul);
}

/* ---- RX ---------------------------------------------------------------------- */

static void learn(struct ul *ul, const struct ipnb_addr *ip, const uint8_t *mac, bool only_existing)
{
	/* Nobody on the LAN may claim a guest's address, and group or null
	 * MACs are never neighbours. */
	if (ipnb_addr_is_unspecified(ip) || (mac[0] & 1) || dp_addr_owner(ul->dp, ip))
		return;
	nbr_learn(ul->nbr, ip, mac, ipnb_now_ms(), only_existing);
}

static void rx_frame(struct ul *ul, const uint8_t *data, size_t len)
{
	struct frame_info fi;
	uint8_t out[FRAME_NA_LEN > FRAME_MIN_LEN ? FRAME_NA_LEN : FRAME_MIN_LEN];

	/* Not counted: a frame we cannot parse may well be dom0's (same MAC),
	 * and dom0's kernel sees it too. */
	if (frame_parse(data, len, &fi) != FRAME_OK)
		return;
	switch (fi.kind) {
	case FRAME_ARP: {
		bool ours = dp_addr_owner(ul->dp, &fi.dst) != NULL;

		if (fi.arp_op == FRAME_ARP_REQUEST && ours) {
			frame_build_arp_reply(out, &fi, ul->mac);
			if (ul_tx(ul, out, FRAME_MIN_LEN, NULL))
				ul->st.arp_replies++;
		}
		/* A host asking for a guest is about to talk to it: worth a
		 * new entry. Anything else only refreshes what we asked for. */
		learn(ul, &fi.src, fi.arp_sha, !(fi.arp_op == FRAME_ARP_REQUEST && ours));
		return;
	}
	case FRAME_IPV6:
		if (fi.l4_proto == IPPROTO_ICMPV6 && fi.icmp6_type == FRAME_ICMP6_NS) {
			bool ours = dp_addr_owner(ul->dp, &fi.nd_target) != NULL;

			if (ours) {
				frame_build_na(out, &fi, ul->mac, false);
				if (ul_tx(ul, out, FRAME_NA_LEN, NULL))
					ul->st.na_replies++;
			}
			if (fi.nd_has_sll)
				learn(ul, &fi.src, fi.nd_sll, !ours);
			return;
		}
		if (fi.l4_proto == IPPROTO_ICMPV6 && fi.icmp6_type == FRAME_ICMP6_NA) {
			learn(ul, &fi.nd_target, fi.eth_src, true);
			return;
		}
		break;
	case FRAME_IPV4:
		break;
	default:
		return;
	}
	/* Unicast IP for a guest, sent to our MAC. */
	if (memcmp(fi.eth_dst, ul->mac, FRAME_ETH_ALEN) != 0 || !dp_addr_owner(ul->dp, &fi.dst))
		return;
	if (spoofed_src(ul, &fi.src)) {
		ul->st.drops[UL_DROP_SPOOFED_SRC]++;
		return;
	}
	if (len > FRAME_ETH_HLEN + (size_t)ul->mtu) {
		ul->st.drops[UL_DROP_TOO_BIG]++;
		return;
	}
	if (dp_input(ul->dp, data, len, &fi, NULL)) {
		ul->st.rx_pkts++;
		ul->st.rx_bytes += len;
	} else {
		ul->st.drops[UL_DROP_RX_GUEST_FULL]++;
	}
}

void ul_handle_rx(struct ul *ul)
{
	for (unsigned int n = 0; n < UL_RX_BUDGET; n++) {
		struct tpacket2_hdr *h =
		    (struct tpacket2_hdr *)(ul->ring + (size_t)ul->rx_idx * UL_FRAME_SIZE);
		uint32_t status = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);

		if (!(status & TP_STATUS_USER))
			break;
		if (status & TP_STATUS_VLAN_VALID) {
			/* A tag the NIC stripped: not our untagged LAN. */
		} else if (h->tp_snaplen < h->tp_len ||
			   (size_t)h->tp_mac + h->tp_snaplen > UL_FRAME_SIZE) {
			ul->st.drops[UL_DROP_RX_TRUNCATED]++;
		} else {
			rx_frame(ul, (const uint8_t *)h + h->tp_mac, h->tp_snaplen);
		}
		__atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
		ul->rx_idx = (ul->rx_idx + 1) % (unsigned int)ul->nframes;
	}
	ul_flush(ul);
}

int ul_run(struct ul *ul)
{
	uint64_t next;

	ul_flush(ul);
	next = nbr_tick(ul->nbr, ipnb_now_ms());
	ul_flush(ul);
	if (ul->tx_queued && next > UL_TX_RETRY_MS)
		next = UL_TX_RETRY_MS; /* send() failed: retry soon, without spinning */
	return next > 60000 ? -1 : (int)next;
}

/* ---- setup --------------------------------------------------------------------- */

static int ring_setup(struct ul *ul, int opt)
{
	struct tpacket_req req = {
	    .tp_block_size = UL_BLOCK_SIZE,
	    .tp_block_nr = UL_BLOCKS,
	    .tp_frame_size = UL_FRAME_SIZE,
	    .tp_frame_nr = UL_BLOCKS * (UL_BLOCK_SIZE / UL_FRAME_SIZE),
	};

	return setsockopt(ul->fd, SOL_PACKET, opt, &req, sizeof(req));
}

struct ul *ul_open(const struct ul_cfg *cfg, struct dp *dp, char *err, size_t errlen)
{
	struct ul *ul = calloc(1, sizeof(*ul));
	struct ifreq ifr;
	struct sockaddr_ll sll;
	struct packet_mreq mr;
	int v2 = TPACKET_V2, one = 1;
	struct nbr_cfg nc = {
	    .max_entries = 1024,
	    .max_pending_per_entry = 16,
	    .max_pending_total = 512,
	    .max_probes = 3,
	    .retrans_ms = 1000,
	    .reachable_ms = 30000,
	    .stale_ms = 120000,
	    .failed_ms = 3000,
	};
	struct nbr_ops ops = {nb_solicit, nb_release, nb_drop, NULL};
	struct dp_port_ops dops = {.output = ul_output, .announce = ul_announce};
	const char *what;

	if (!ul) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ul->fd = -1;
	ul->cfg = *cfg;
	if (strlen(cfg->ifname) >= IF_NAMESIZE) {
		snprintf(err, errlen, "interface name too long");
		goto fail_noerrno;
	}
	strncpy(ul->ifname, cfg->ifname, IF_NAMESIZE - 1);
	ul->nframes = (size_t)UL_BLOCKS * (UL_BLOCK_SIZE / UL_FRAME_SIZE);

	what = "socket";
	ul->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));
	if (ul->fd < 0)
		goto fail;
	what = "interface";
	ul->ifindex = (int)if_nametoindex(ul->ifname);
	if (ul->ifindex == 0)
		goto fail;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, ul->ifname, strlen(ul->ifname));
	what = "SIOCGIFHWADDR";
	if (ioctl(ul->fd, SIOCGIFHWADDR, &ifr) < 0)
		goto fail;
	memcpy(ul->mac, ifr.ifr_hwaddr.sa_data, FRAME_ETH_ALEN);
	what = "SIOCGIFMTU";
	if (ioctl(ul->fd, SIOCGIFMTU, &ifr) < 0)
		goto fail;
	ul->mtu = ul->nic_mtu = (unsigned int)ifr.ifr_mtu;
	if (ul->mtu + FRAME_ETH_HLEN > UL_FRAME_SIZE - UL_TX_DATA_OFF)
		ul->mtu = (unsigned int)(UL_FRAME_SIZE - UL_TX_DATA_OFF - FRAME_ETH_HLEN);

	what = "PACKET_VERSION";
	if (setsockopt(ul->fd, SOL_PACKET, PACKET_VERSION, &v2, sizeof(v2)) < 0)
		goto fail;
	what = "PACKET_RX_RING";
	if (ring_setup(ul, PACKET_RX_RING) < 0)
		goto fail;
	what = "PACKET_TX_RING";
	if (ring_setup(ul, PACKET_TX_RING) < 0)
		goto fail;
	ul->ring_len = 2 * (size_t)UL_BLOCKS * UL_BLOCK_SIZE;
	what = "mmap";
	ul->ring = mmap(NULL, ul->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED, ul->fd, 0);
	if (ul->ring == MAP_FAILED) {
		ul->ring = NULL;
		goto fail;
	}
	/* Our own transmissions (and dom0's) are not input. */
	setsockopt(ul->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = ul->ifindex;
	what = "bind";
	if (bind(ul->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		goto fail;
	/* Neighbour solicitations for guest addresses go to solicited-node
	 * groups the NIC's filter does not know: accept all multicast. */
	memset(&mr, 0, sizeof(mr));
	mr.mr_ifindex = ul->ifindex;
	mr.mr_type = PACKET_MR_ALLMULTI;
	what = "PACKET_ADD_MEMBERSHIP";
	if (setsockopt(ul->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0)
		goto fail;

	ops.arg = ul;
	ul->nbr = nbr_new(&nc, &ops);
	if (!ul->nbr) {
		snprintf(err, errlen, "out of memory");
		goto fail_noerrno;
	}
	own_refresh(ul, ipnb_now_ms());
	dops.arg = ul;
	dops.mtu = ul->mtu;
	ul->dp = dp; /* only now: ul_close() unplugs what has a dp */
	dp_set_uplink(dp, &dops);
	return ul;
fail:
	snprintf(err, errlen, "%s: %s: %s", ul->ifname, what, strerror(errno));
fail_noerrno:
	ul_close(ul);
	return NULL;
}

void ul_close(struct ul *ul)
{
	if (!ul)
		return;
	if (ul->dp)
		dp_set_uplink(ul->dp, NULL);
	if (ul->nbr)
		nbr_free(ul->nbr);
	if (ul->ring)
		munmap(ul->ring, ul->ring_len);
	if (ul->fd >= 0)
		close(ul->fd);
	free(ul);
}

int ul_fd(const struct ul *ul)
{
	return ul->fd;
}

const char *ul_name(const struct ul *ul)
{
	return ul->ifname;
}

unsigned int ul_mtu(const struct ul *ul, unsigned int *nic_mtu)
{
	if (nic_mtu)
		*nic_mtu = ul->nic_mtu;
	return ul->mtu;
}

const struct ul_stats *ul_stats(const struct ul *ul)
{
	return &ul->st;
}

const struct nbr_cache *ul_neighbours(const struct ul *ul)
{
	return ul->nbr;
}
