/* SPDX-License-Identifier: MIT */
/*
 * stats.c - the daemon's counters, listed once (see include/ipnb/stats.h).
 */
#include "ipnb/stats.h"

#include <unistd.h>

#include "ipnb/clock.h"

_Static_assert(DP_DROP_COUNT <= ST_DROPS_MAX, "vif drop reasons");
_Static_assert(UL_DROP_COUNT <= ST_DROPS_MAX, "uplink drop reasons");
_Static_assert(HOST_DROP_COUNT <= ST_DROPS_MAX, "host port drop reasons");

#define COUNT(n, v, h) ((struct st_ctr){(n), (v), false, (h)})
#define GAUGE(n, v, h) ((struct st_ctr){(n), (v), true, (h)})

size_t st_vif(const struct dp_vif *dv, struct st_ctr c[ST_VIF_MAX])
{
	const struct dp_stats *st = dp_vif_stats(dv);
	uint64_t rate_bytes;
	uint32_t rate_usec;
	size_t n = 0;

	c[n++] = GAUGE("queued", dp_vif_queued(dv), "Packets waiting for the guest's RX buffers.");
	c[n++] = GAUGE("queued_bytes", dp_vif_queued_bytes(dv),
		       "Bytes of packets waiting for the guest's RX buffers.");
	c[n++] = COUNT("tx_packets", st->tx_pkts, "Packets the guest sent (its TX ring).");
	c[n++] = COUNT("tx_bytes", st->tx_bytes, "Bytes the guest sent (its TX ring).");
	c[n++] = COUNT("rx_packets", st->rx_pkts, "Packets delivered to the guest (its RX ring).");
	c[n++] = COUNT("rx_bytes", st->rx_bytes, "Bytes delivered to the guest (its RX ring).");
	c[n++] = COUNT("arp_replies", st->arp_replies, "ARP requests of the guest answered.");
	c[n++] =
	    COUNT("na_replies", st->na_replies, "Neighbour solicitations of the guest answered.");
	c[n++] = COUNT("spurious_events", st->spurious_events, "Kicks that brought no work.");
	c[n++] = COUNT("tx_credit_waits", st->tx_credit_waits,
		       "TX passes stopped for lack of rate credit.");
	c[n++] = COUNT("replayed_responses", st->replayed_responses,
		       "Responses a killed daemon had committed, published on take-over.");
	c[n++] = COUNT("tx_gso_packets", st->tx_gso_pkts, "GSO packets the guest sent.");
	c[n++] = COUNT("rx_gso_packets", st->rx_gso_pkts, "GSO packets delivered whole.");
	c[n++] = COUNT("gso_segments", st->gso_segments,
		       "Segments the guest's GSO packets were cut into in software.");
	c[n++] = COUNT("icmp_too_big", st->icmp_too_big,
		       "ICMP errors sent to the guest for packets above the egress MTU.");
	c[n++] = COUNT("ip_fragments", st->ip_fragments,
		       "IPv4 fragments the guest's datagrams were cut into.");
	c[n++] = GAUGE("mtu", dp_vif_mtu(dv), "The largest IP packet the guest is given (mtu=).");
	c[n++] = GAUGE("queues", dp_vif_nqueues(dv), "Queues (ring pairs) connected.");
	dp_vif_rate(dv, &rate_bytes, &rate_usec);
	c[n++] = GAUGE("rate_bytes", rate_bytes, "TX rate limit: bytes per interval (0: none).");
	c[n++] = GAUGE("rate_usec", rate_usec, "TX rate limit: the interval in microseconds.");
	return n;
}

size_t st_vif_drops(const struct dp_vif *dv, struct st_ctr c[ST_DROPS_MAX])
{
	for (int d = 0; d < DP_DROP_COUNT; d++)
		c[d] = COUNT(dp_drop_name((enum dp_drop)d), dp_vif_stats(dv)->drops[d], NULL);
	return DP_DROP_COUNT;
}

size_t st_uplink(const struct ul *ul, struct st_ctr c[ST_PORT_MAX])
{
	const struct ul_stats *st = ul_stats(ul);
	size_t n = 0;

	c[n++] = COUNT("rx_packets", st->rx_pkts, "Packets from the LAN delivered to guests.");
	c[n++] = COUNT("rx_bytes", st->rx_bytes, "Bytes from the LAN delivered to guests.");
	c[n++] = COUNT("tx_packets", st->tx_pkts, "Packets sent to the LAN for guests.");
	c[n++] = COUNT("tx_bytes", st->tx_bytes, "Bytes sent to the LAN for guests.");
	c[n++] = COUNT("arp_replies", st->arp_replies, "ARP requests from the LAN answered.");
	c[n++] =
	    COUNT("na_replies", st->na_replies, "Neighbour solicitations from the LAN answered.");
	c[n++] = COUNT("announcements", st->announcements,
		       "Gratuitous ARPs and unsolicited NAs sent for guest addresses.");
	c[n++] = COUNT("tx_errors", st->tx_errors, "Sends that failed (retried).");
	return n;
}

size_t st_uplink_drops(const struct ul *ul, struct st_ctr c[ST_DROPS_MAX])
{
	for (int d = 0; d < UL_DROP_COUNT; d++)
		c[d] = COUNT(ul_drop_name((enum ul_drop)d), ul_stats(ul)->drops[d], NULL);
	return UL_DROP_COUNT;
}

size_t st_host(const struct host *h, struct st_ctr c[ST_PORT_MAX])
{
	const struct host_stats *st = host_stats(h);
	size_t n = 0;

	c[n++] = COUNT("rx_packets", st->rx_pkts, "Packets from dom0 delivered to guests.");
	c[n++] = COUNT("rx_bytes", st->rx_bytes, "Bytes from dom0 delivered to guests.");
	c[n++] = COUNT("tx_packets", st->tx_pkts, "Packets from guests delivered to dom0.");
	c[n++] = COUNT("tx_bytes", st->tx_bytes, "Bytes from guests delivered to dom0.");
	c[n++] = COUNT("rx_gso_packets", st->rx_gso_pkts, "GSO packets from dom0.");
	c[n++] = COUNT("tx_gso_packets", st->tx_gso_pkts, "GSO packets to dom0.");
	c[n++] = GAUGE("routes", st->routes, "Host routes to guest addresses in place.");
	return n;
}

size_t st_host_drops(const struct host *h, struct st_ctr c[ST_DROPS_MAX])
{
	for (int d = 0; d < HOST_DROP_COUNT; d++)
		c[d] = COUNT(host_drop_name((enum host_drop)d), host_stats(h)->drops[d], NULL);
	return HOST_DROP_COUNT;
}

size_t st_daemon(const struct xb *xb, const struct dp *dp, const struct cap *cap,
		 uint64_t started_ms, struct st_ctr c[ST_DAEMON_MAX])
{
	struct xb_stats st;
	size_t n = 0;

	xb_get_stats(xb, &st);
	c[n++] = GAUGE("pid", (unsigned long long)getpid(), "The daemon's process id.");
	c[n++] = GAUGE("uptime_s", (ipnb_now_ms() - started_ms) / 1000,
		       "Seconds since the daemon started.");
	c[n++] = GAUGE("vifs", st.vifs, "Vifs known.");
	c[n++] = COUNT("watch_events", st.watch_events, "Xenstore watch events handled.");
	c[n++] = COUNT("connects", st.connects, "Vifs connected to the data path.");
	c[n++] = COUNT("connect_failures", st.connect_failures,
		       "Connects refused (hotplug-error written).");
	c[n++] = COUNT("disconnects", st.disconnects, "Vifs disconnected from the data path.");
	c[n++] = COUNT("xenstore_lost", st.xenstore_lost, "Connections to xenstored lost.");
	c[n++] =
	    GAUGE("pool_bytes", dp_pool_bytes(dp), "Bytes of packets held (queued or in flight).");
	if (cap) {
		struct cap_stats cs;

		cap_get_stats(cap, &cs);
		c[n++] = GAUGE("captures", cs.sessions, "Captures running (ipnetback capture).");
		c[n++] = COUNT("capture_packets", cs.records, "Packets captured.");
		c[n++] = COUNT("capture_drops", cs.drops,
			       "Packets a capture lost because its reader was too slow.");
	}
	return n;
}
