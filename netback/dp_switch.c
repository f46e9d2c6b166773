/* SPDX-License-Identifier: MIT */
/*
 * dp_switch.c - the data path's switch (see dp.c): what a guest sends is
 * checked (anti-spoofing), answered by the ARP and NDP proxy, or sent where
 * switch_lookup() says: to the vif that holds its destination, to the
 * ports (dom0's stack, then the uplink), or nowhere. Delivery acts on that
 * answer: the receiver's MTU, checksum and GSO decisions, then its RX queue
 * or a port's output(). dp_input() takes the ports' frames to the vifs.
 */
#include "dp_int.h"

#include <netinet/in.h>
#include <string.h>

#include "ipnb/clock.h"
#include "ipnb/gso.h"
#include "ipnb/pmtu.h"

/* ICMPv6 types 130 to 143 are link-local housekeeping (MLD, router and
 * neighbour discovery, redirects, MLDv2), with nobody to talk to but us. */
#define DP_ICMP6_LINK_FIRST 130 /* multicast listener query */
#define DP_ICMP6_LINK_LAST  143 /* MLDv2 listener report */

/* ---- the ARP and NDP proxy ----------------------------------------------- */

static bool vif_owns(const struct dp *dp, const struct dp_vif *v, const struct ipnb_addr *a)
{
	return ipt_lookup(&dp->ipt, a) == v;
}

static void reply(struct dp *dp, struct dp_vif *v, const uint8_t *frame, size_t len)
{
	struct dp_pkt *r = dp_pkt_alloc(dp, (uint32_t)len);

	if (!r) {
		v->st.drops[DP_DROP_NOMEM]++;
		return;
	}
	memcpy(r->data, frame, len);
	r->rx_flags = NETRXF_data_validated;
	dp_rx_enqueue(dp, v, r);
}

/* ARP from a guest. Answers requests for every address except the guest's
 * own with the backend MAC (the backend is every guest's only neighbour).
 * Requests for its own addresses are duplicate-address probes or
 * announcements, and answering them would make the guest think its address
 * is taken. */
static void switch_arp(struct dp *dp, struct dp_vif *v, const struct frame_info *fi)
{
	uint8_t out[FRAME_MIN_LEN];
	bool probe = ipnb_addr_is_unspecified(&fi->src);

	if (!probe && !vif_owns(dp, v, &fi->src)) {
		v->st.drops[DP_DROP_SPOOF_ARP]++;
		return;
	}
	if (fi->arp_op != FRAME_ARP_REQUEST || vif_owns(dp, v, &fi->dst)) {
		v->st.drops[DP_DROP_GROUP]++;
		return;
	}
	/* A probe for an address someone else holds must learn it is taken;
	 * a probe for a free address must not be told otherwise. */
	if (probe && !ipt_lookup(&dp->ipt, &fi->dst)) {
		v->st.drops[DP_DROP_GROUP]++;
		return;
	}
	frame_build_arp_reply(out, fi, dp->mac);
	reply(dp, v, out, sizeof(out));
	v->st.arp_replies++;
}

/* Neighbour solicitations get the same treatment as ARP requests. Other
 * ICMPv6 ND/MLD traffic is link-local housekeeping with nobody to talk to. */
static bool switch_nd(struct dp *dp, struct dp_vif *v, const struct frame_info *fi)
{
	uint8_t out[FRAME_NA_LEN];

	if (fi->l4_proto != IPPROTO_ICMPV6 || fi->ip_fragment)
		return false;
	if (fi->icmp6_type != FRAME_ICMP6_NS) {
		if (fi->icmp6_type >= DP_ICMP6_LINK_FIRST && fi->icmp6_type <= DP_ICMP6_LINK_LAST) {
			v->st.drops[DP_DROP_GROUP]++;
			return true;
		}
		return false;
	}
	if (vif_owns(dp, v, &fi->nd_target) ||
	    (ipnb_addr_is_unspecified(&fi->src) && !ipt_lookup(&dp->ipt, &fi->nd_target))) {
		v->st.drops[DP_DROP_GROUP]++;
		return true;
	}
	frame_build_na(out, fi, dp->mac, false);
	reply(dp, v, out, sizeof(out));
	v->st.na_replies++;
	return true;
}

/* ---- the lookup ---------------------------------------------------------- */

/* Where a packet goes: switch_lookup()'s answer. */
struct switch_dest {
	enum { SWITCH_TO_VIF, SWITCH_TO_PORTS, SWITCH_DROP } to;
	struct dp_vif *vif; /* SWITCH_TO_VIF: the vif that holds the destination */
	enum dp_drop why;   /* SWITCH_DROP: what it is counted as */
};

/*
 * Where a guest's packet goes, its source checked: the vif that holds its
 * destination, or else the ports (dom0's stack first, then the uplink), or
 * nowhere. It only answers: delivery (to_vif(), to_ports()) acts on it.
 */
static struct switch_dest switch_lookup(const struct dp *dp, const struct frame_info *fi)
{
	struct dp_vif *dst = ipt_lookup(&dp->ipt, &fi->dst);

	if (dst)
		return (struct switch_dest){.to = SWITCH_TO_VIF, .vif = dst};
	if (fi->dst_is_group || (fi->kind == FRAME_IPV4 && fi->dst.bytes[0] >= 224) ||
	    (fi->kind == FRAME_IPV6 && fi->dst.bytes[0] == 0xff))
		return (struct switch_dest){.to = SWITCH_DROP, .why = DP_DROP_GROUP};
	/* A link-local destination is on this link only (threat 29):
	 * a vif that holds that very address got it above, and no
	 * port may take it, neither dom0's stack nor the LAN. */
	if (ipnb_addr_is_link_local(&fi->dst))
		return (struct switch_dest){.to = SWITCH_DROP, .why = DP_DROP_LINK_LOCAL};
	if (!dp->host.output && !dp->uplink.output)
		return (struct switch_dest){.to = SWITCH_DROP, .why = DP_DROP_NO_ROUTE};
	return (struct switch_dest){.to = SWITCH_TO_PORTS};
}

/* ---- delivery ------------------------------------------------------------ */

/* Whether dst takes a blank checksum for this IP family. */
static bool csum_blank_ok(const struct dp_vif *dst, const struct frame_info *fi)
{
	return fi->kind == FRAME_IPV6 ? dst->cfg.rx_ipv6_csum_offload : dst->cfg.rx_csum_offload;
}

/* Whether dst takes a GSO packet of this type whole: netfront needs
 * scatter-gather for its slots and checksum offload for its blank sum. */
static bool gso_ok(const struct dp_vif *dst, const struct frame_info *fi, const struct gso_pkt *g)
{
	bool type_ok =
	    g->type == XEN_NETIF_GSO_TYPE_TCPV4 ? dst->cfg.rx_gso_tcpv4 : dst->cfg.rx_gso_tcpv6;

	return type_ok && dst->cfg.rx_sg && csum_blank_ok(dst, fi);
}

/* Decides the RX flags for delivering p to dst, completing a blank checksum
 * if dst cannot take it blank. Returns false if the packet must be dropped. */
static bool csum_for(struct dp_vif *dst, struct dp_pkt *p, uint16_t tx_flags,
		     const struct frame_info *fi)
{
	p->rx_flags = 0;
	if (tx_flags & NETTXF_csum_blank) {
		if (csum_blank_ok(dst, fi)) {
			p->rx_flags = NETRXF_csum_blank | NETRXF_data_validated;
			return true;
		}
		if (frame_csum_complete(p->data, p->len, fi) != FRAME_OK)
			return false;
		p->rx_flags = NETRXF_data_validated;
	} else if (tx_flags & NETTXF_data_validated) {
		p->rx_flags = NETRXF_data_validated;
	}
	return true;
}

/*
 * dst's MTU (dp_vif_set_mtu()) for a packet of len bytes, from the guest
 * src or (src NULL) from a port: what a bridge port with that MTU passes.
 * A GSO packet whose segments would not fit gets smaller ones (*g recut:
 * TCP takes segments of any size). Any other packet above it is dropped
 * and counted on dst; a guest that sent it is first told, as the uplink
 * tells it (pmtu.h), so that its path MTU discovery learns the MTU. An
 * IPv4 datagram without DF is not cut into fragments for a guest: Linux's
 * bridge does not do that either. Returns true if the packet was dropped.
 */
static bool vif_too_big(struct dp *dp, struct dp_vif *src, struct dp_vif *dst, const uint8_t *data,
			size_t len, const struct frame_info *fi, struct gso_pkt *g)
{
	uint8_t icmp[PMTU_ICMP_MAX];

	if (g) {
		size_t seg_hdrs = g->hdr_len - fi->l3_off;

		if (seg_hdrs + g->mss <= dst->mtu ||
		    (dst->mtu > seg_hdrs && gso_set_mss(g, dst->mtu - seg_hdrs)))
			return false;
	} else {
		size_t ip_len = len - fi->l3_off;

		if (ip_len <= dst->mtu)
			return false;
		if (src && pmtu_decide(data, len, fi, ip_len, dst->mtu) == PMTU_ICMP) {
			reply(dp, src, icmp,
			      pmtu_build_icmp(icmp, data, len, fi, dst->mtu, dp->mac));
			src->st.icmp_too_big++;
		}
	}
	dst->st.drops[DP_DROP_RX_TOO_BIG]++;
	return true;
}

/*
 * A GSO packet for a vif that takes no GSO: cut into segments in software,
 * each in its own buffer with a checksum the vif can take (blank if it
 * accepts that, else complete), queued one by one so that its share
 * counts each. *segs counts the segments made. Returns whether any was
 * queued.
 */
static bool gso_to_vif(struct dp *dp, struct dp_vif *dst, const struct dp_pkt *p,
		       const struct frame_info *fi, const struct gso_pkt *g, uint64_t *segs)
{
	bool partial = csum_blank_ok(dst, fi), any = false;

	for (unsigned int k = 0; k < g->nsegs; k++) {
		struct dp_pkt *q = dp_pkt_alloc(dp, (uint32_t)gso_seg_len(g, k));

		if (!q) {
			dst->st.drops[DP_DROP_NOMEM]++;
			continue;
		}
		gso_segment(p->data, fi, g, k, partial, q->data);
		q->rx_flags =
		    partial ? NETRXF_csum_blank | NETRXF_data_validated : NETRXF_data_validated;
		q->from_port = p->from_port;
		frame_set_l2(q->data, dst->mac, dp->mac);
		(*segs)++;
		any |= dp_rx_enqueue(dp, dst, q);
	}
	return any;
}

/* What a port without offloads is told of a packet: nothing. */
static const struct ipnb_offload no_offload;

/*
 * The egress MTU (pmtu.h) for p, a packet from v offered to a port with
 * one. Returns true if it dealt with p: an ICMP error queued back to v,
 * IPv4 fragments sent, or a drop counted. Returns false to send p as
 * usual, *g possibly pointing at a recut copy (in *resized) when a GSO
 * packet without DF needs smaller segments: TCP takes segments of any
 * size, so no fragments are needed for those.
 */
static bool port_too_big(struct dp *dp, struct dp_vif *v, const struct dp_port_ops *port,
			 struct dp_pkt *p, const struct frame_info *fi, struct ipnb_offload *o,
			 const struct gso_pkt **g, struct gso_pkt *resized)
{
	/* A segment's IP and TCP headers: what each segment carries besides
	 * its share of the payload. */
	size_t seg_hdrs = *g ? (*g)->hdr_len - fi->l3_off : 0;
	size_t ip_len = *g ? seg_hdrs + (*g)->mss : p->len - fi->l3_off;
	uint8_t icmp[PMTU_ICMP_MAX];
	struct pmtu_frag f;

	switch (pmtu_decide(p->data, p->len, fi, ip_len, port->mtu)) {
	case PMTU_FITS:
		return false;
	case PMTU_ICMP:
		reply(dp, v, icmp, pmtu_build_icmp(icmp, p->data, p->len, fi, port->mtu, dp->mac));
		v->st.icmp_too_big++;
		return true;
	case PMTU_FRAGMENT:
		if (*g) {
			*resized = **g;
			if (port->mtu <= seg_hdrs || !gso_set_mss(resized, port->mtu - seg_hdrs))
				break;
			*g = resized;
			o->gso_size = resized->mss;
			return false;
		}
		/* Fragments cannot carry the datagram's checksum: complete it
		 * first (to_ports() checked that it can be). */
		if (p->len > sizeof(dp->seg) ||
		    !pmtu_frag_plan(p->data, p->len, fi, port->mtu, &f) ||
		    (o->csum_blank && frame_csum_complete(p->data, p->len, fi) != FRAME_OK))
			break;
		o->csum_blank = false;
		for (unsigned int k = 0; k < f.nfrags; k++) {
			size_t len = pmtu_frag_build(p->data, &f, k, dp->seg);
			struct frame_info ffi;

			/* Cannot fail: the fragment's headers are the packet's. */
			(void)frame_parse(dp->seg, len, &ffi);
			if (port->output(port->arg, dp->seg, len, &ffi, &no_offload))
				v->st.ip_fragments++;
		}
		return true;
	case PMTU_DROP:
		break;
	}
	v->st.drops[DP_DROP_TOO_BIG]++;
	return true;
}

/*
 * Offers p, a packet from v, to one port. A port with offloads gets it as
 * it is; any other gets MTU-sized segments of a GSO packet, each with a
 * complete checksum, or the packet with its checksum completed (which then
 * stays complete for the next port).
 */
static bool port_try(struct dp *dp, struct dp_vif *v, const struct dp_port_ops *port,
		     struct dp_pkt *p, const struct frame_info *fi, struct ipnb_offload *o,
		     const struct gso_pkt *g)
{
	struct gso_pkt resized;
	bool any = false;

	if (!port->output)
		return false;
	if (port->mtu && port_too_big(dp, v, port, p, fi, o, &g, &resized))
		return true;
	if (port->offload)
		return port->output(port->arg, p->data, p->len, fi, o);
	if (!g) {
		if (o->csum_blank) {
			/* Cannot fail: to_ports() checked it. */
			if (frame_csum_complete(p->data, p->len, fi) != FRAME_OK)
				return false;
			o->csum_blank = false;
		}
		return port->output(port->arg, p->data, p->len, fi, &no_offload);
	}
	for (unsigned int k = 0; k < g->nsegs; k++) {
		size_t len = gso_segment(p->data, fi, g, k, false, dp->seg);
		struct frame_info sfi;

		/* Cannot fail: the segment's headers are the packet's. */
		(void)frame_parse(dp->seg, len, &sfi);
		if (port->output(port->arg, dp->seg, len, &sfi, &no_offload)) {
			v->st.gso_segments++;
			any = true;
		}
	}
	return any;
}

/* Counts p as dropped on v, for why, and frees it. */
static void pkt_drop(struct dp *dp, struct dp_vif *v, struct dp_pkt *p, enum dp_drop why)
{
	v->st.drops[why]++;
	dp_pkt_free(dp, p);
}

/*
 * Delivers p, a packet from v, to the vif dst, g its checked GSO request
 * (NULL: none): within dst's MTU, whole to a vif that takes GSO, in
 * segments to any other, with the checksum dst can take. Consumes p.
 */
static void to_vif(struct dp *dp, struct dp_vif *v, struct dp_vif *dst, struct dp_pkt *p,
		   uint16_t tx_flags, const struct frame_info *fi, struct gso_pkt *g)
{
	if (vif_too_big(dp, v, dst, p->data, p->len, fi, g)) {
		dp_pkt_free(dp, p);
		return;
	}
	if (g && !gso_ok(dst, fi, g)) {
		/* Each segment was counted where it went. */
		gso_to_vif(dp, dst, p, fi, g, &v->st.gso_segments);
		dp_pkt_free(dp, p);
		return;
	}
	if (g) {
		p->gso_size = g->mss;
		p->gso_type = g->type;
	}
	if (!csum_for(dst, p, tx_flags, fi)) {
		pkt_drop(dp, v, p, DP_DROP_MALFORMED);
		return;
	}
	frame_set_l2(p->data, dst->mac, dp->mac);
	dp_rx_enqueue(dp, dst, p);
}

/*
 * Delivers p, a packet from v that no vif takes, to the ports, g its
 * checked GSO request (NULL: none), which goes into the metadata *o.
 * A packet no port takes is counted as no_route. Consumes p.
 */
static void to_ports(struct dp *dp, struct dp_vif *v, struct dp_pkt *p, const struct frame_info *fi,
		     struct ipnb_offload *o, const struct gso_pkt *g)
{
	if (g) {
		o->gso_size = g->mss;
		o->gso_type = g->type;
		o->gso_hdr_len = (uint16_t)g->hdr_len;
	} else if (o->csum_blank && frame_csum_check(p->data, p->len, fi) != FRAME_OK) {
		/* Checked here, not left to the port: a port with
		 * offloads gets the packet blank. */
		pkt_drop(dp, v, p, DP_DROP_MALFORMED);
		return;
	}
	/* dom0's stack takes what is addressed to itself, the NIC the rest. */
	if (port_try(dp, v, &dp->host, p, fi, o, g) || port_try(dp, v, &dp->uplink, p, fi, o, g))
		dp_pkt_free(dp, p);
	else
		pkt_drop(dp, v, p, DP_DROP_NO_ROUTE);
}

/* ---- the switch ---------------------------------------------------------- */

void dp_switch_pkt(struct dp *dp, struct dp_vif *v, struct dp_pkt *p, uint16_t tx_flags,
		   const netif_extra_info_t *gso)
{
	struct ipnb_offload o = {.csum_blank = (tx_flags & NETTXF_csum_blank) != 0,
				 .data_valid = (tx_flags & NETTXF_data_validated) != 0};
	struct frame_info fi;
	struct gso_pkt g;
	struct switch_dest d;
	enum dp_drop why;

	if (frame_parse(p->data, p->len, &fi) != FRAME_OK) {
		why = DP_DROP_MALFORMED;
		goto drop;
	}
	if (memcmp(fi.eth_src, v->mac, FRAME_ETH_ALEN) != 0) {
		why = DP_DROP_SPOOF_MAC;
		goto drop;
	}
	if (gso) {
		/* txreq_collect() refused a zero size or an unknown type (the
		 * fatal cases, as in Linux); what is left to check needs the
		 * headers, and a mismatch only drops, as Linux drops a packet
		 * whose headers it cannot set up. */
		if (gso_check(p->data, p->len, &fi, gso->u.gso.type, gso->u.gso.size, &g) !=
		    GSO_OK) {
			why = DP_DROP_BAD_GSO;
			goto drop;
		}
		/* A GSO packet's checksum is partial by definition: Linux
		 * netback fixes up one sent without csum_blank the same way.
		 * The sum is set here, from the checked headers, whatever the
		 * guest left in the field. */
		(void)frame_csum_partial(p->data, p->len, &fi);
		tx_flags |= NETTXF_csum_blank;
		o.csum_blank = true;
		v->st.tx_gso_pkts++;
	}
	switch (fi.kind) {
	case FRAME_ARP:
		switch_arp(dp, v, &fi);
		dp_pkt_free(dp, p);
		return;
	case FRAME_IPV6:
		/* Link-local and unspecified sources are only good for ND with
		 * the backend itself. */
		if ((ipnb_addr_is_link_local(&fi.src) || ipnb_addr_is_unspecified(&fi.src)) &&
		    switch_nd(dp, v, &fi)) {
			dp_pkt_free(dp, p);
			return;
		}
		if (!vif_owns(dp, v, &fi.src)) {
			why = DP_DROP_SPOOF_IP;
			goto drop;
		}
		if (switch_nd(dp, v, &fi)) {
			dp_pkt_free(dp, p);
			return;
		}
		break;
	case FRAME_IPV4:
		if (!vif_owns(dp, v, &fi.src)) {
			why = DP_DROP_SPOOF_IP;
			goto drop;
		}
		break;
	default:
		why = DP_DROP_PROTO;
		goto drop;
	}

	d = switch_lookup(dp, &fi);
	switch (d.to) {
	case SWITCH_TO_VIF:
		to_vif(dp, v, d.vif, p, tx_flags, &fi, gso ? &g : NULL);
		return;
	case SWITCH_TO_PORTS:
		to_ports(dp, v, p, &fi, &o, gso ? &g : NULL);
		return;
	case SWITCH_DROP:
		break;
	}
	why = d.why;
drop:
	pkt_drop(dp, v, p, why);
}

/* ---- the ports: uplink and host ------------------------------------------ */

static void port_set(struct dp_port_ops *port, const struct dp_port_ops *ops)
{
	if (ops)
		*port = *ops;
	else
		memset(port, 0, sizeof(*port));
}

void dp_set_uplink(struct dp *dp, const struct dp_port_ops *ops)
{
	port_set(&dp->uplink, ops);
}

void dp_set_host(struct dp *dp, const struct dp_port_ops *ops)
{
	port_set(&dp->host, ops);
}

bool dp_input(struct dp *dp, const uint8_t *frame, size_t len, const struct frame_info *fi,
	      const struct ipnb_offload *o)
{
	struct dp_vif *dst = ipt_lookup(&dp->ipt, &fi->dst);
	struct gso_pkt g, *gp;
	struct dp_pkt *p;
	uint64_t segs = 0;
	bool ok = true;

	dp->clock_ms = ipnb_now_ms();
	if (!o)
		o = &no_offload;
	if (!dst || len > DP_MAX_FRAME)
		return false;
	/* The port's metadata is checked like a guest's GSO request: the
	 * headers must fit it. */
	if (o->gso_size && gso_check(frame, len, fi, o->gso_type, o->gso_size, &g) != GSO_OK)
		return false;
	gp = o->gso_size ? &g : NULL;
	if (vif_too_big(dp, NULL, dst, frame, len, fi, gp))
		return false;
	p = dp_pkt_alloc(dp, (uint32_t)len);
	if (!p) {
		dst->st.drops[DP_DROP_NOMEM]++;
		return false;
	}
	memcpy(p->data, frame, len);
	p->from_port = true;
	if (gp && !gso_ok(dst, fi, gp)) {
		ok = gso_to_vif(dp, dst, p, fi, gp, &segs);
		dp_pkt_free(dp, p);
		return ok;
	}
	if (gp) {
		p->gso_size = gp->mss;
		p->gso_type = gp->type;
	}
	/* A checksum the port left blank goes on blank where the vif takes
	 * that; one it verified is flagged so. Otherwise the guest verifies
	 * it itself, as for any LAN host's. */
	if (o->csum_blank || o->gso_size) {
		if (csum_blank_ok(dst, fi))
			p->rx_flags = NETRXF_csum_blank | NETRXF_data_validated;
		else if (frame_csum_complete(p->data, p->len, fi) == FRAME_OK)
			p->rx_flags = NETRXF_data_validated;
		else
			ok = false;
	} else if (o->data_valid) {
		p->rx_flags = NETRXF_data_validated;
	}
	if (!ok) {
		dp_pkt_free(dp, p);
		return false;
	}
	frame_set_l2(p->data, dst->mac, dp->mac);
	return dp_rx_enqueue(dp, dst, p);
}
