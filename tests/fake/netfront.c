/* SPDX-License-Identifier: MIT */
/*
 * netfront.c - the one fake netfront the unit tests, the fuzz target and
 * the benchmark share (netfront.h): a guest's ring and data pages, their
 * grants, its ports, the frontend's half of the netif ring protocol, and
 * the headers and checksums of the frames it sends.
 */
#include "netfront.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const uint8_t nf_be_mac[6] = {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff};

/* How many responses a take-all loop takes at most (see netfront.h). */
#define REAP_MAX(ring) (2u * RING_SIZE(ring))

/*
 * n zeroed pages in an allocation of their own, so that AddressSanitizer's
 * redzones around it catch a backend that runs off a ring page or off the
 * ends of a buffer block.
 */
static void *pages_alloc(size_t n)
{
	void *p = aligned_alloc(NF_PAGE, n * NF_PAGE);

	if (p)
		memset(p, 0, n * NF_PAGE);
	return p;
}

int nf_init(struct nf *nf, uint32_t domid, const struct nf_params *params)
{
	struct nf_params p = *params;
	uint8_t n = (uint8_t)domid;

	memset(nf, 0, sizeof(*nf));
	if (!p.nports)
		p.nports = p.split ? 2 : 1;
	if (p.nbuf < 1 || p.nbuf > NF_MAX_BUF || p.nports > NF_MAX_PORTS ||
	    (p.split && p.nports < 2))
		return -EINVAL;
	nf->domid = domid;
	nf->params = p;
	memcpy(nf->mac, (const uint8_t[6]){0x00, 0x16, 0x3e, 0x00, 0x00, n}, 6);
	memcpy(nf->ip4, (const uint8_t[4]){10, 99, 0, n}, 4);
	nf->ip6[0] = 0xfd;
	nf->ip6[15] = n;
	nf->ip6_ll[0] = 0xfe;
	nf->ip6_ll[1] = 0x80;
	nf->ip6_ll[15] = n;

	nf->tx_ring = pages_alloc(1);
	nf->rx_ring = pages_alloc(1);
	nf->rxbuf = pages_alloc(p.nbuf);
	nf->txbuf = p.shared_pages ? nf->rxbuf : pages_alloc(p.nbuf);
	if (!nf->tx_ring || !nf->rx_ring || !nf->rxbuf || !nf->txbuf)
		return -ENOMEM;
	nf_rings_init(nf, 0);

	/* This order keeps the refs the fuzz target's committed seeds name by
	 * number (small refs are the rings and the first RX pages). */
	nf->tx_ref = fake_grant(domid, nf->tx_ring, false);
	nf->rx_ref = fake_grant(domid, nf->rx_ring, false);
	if (!nf->tx_ref || !nf->rx_ref)
		return -ESRCH;
	for (unsigned int i = 0; i < p.nbuf; i++) {
		nf->rxgref[i] = fake_grant(domid, nf->rxbuf + (size_t)i * NF_PAGE, false);
		if (!nf->rxgref[i])
			return -ESRCH;
	}
	for (unsigned int i = 0; i < p.nbuf; i++) {
		nf->txgref[i] = fake_grant(domid, nf->txbuf + (size_t)i * NF_PAGE, true);
		if (!nf->txgref[i])
			return -ESRCH;
	}

	for (unsigned int i = 0; i < p.nports; i++) {
		nf->ports[i] = fake_evtchn_alloc_unbound(domid);
		if (!nf->ports[i])
			return -ESRCH;
	}
	nf->port_tx = nf->ports[0];
	nf->port_rx = p.split ? nf->ports[1] : nf->ports[0];
	return 0;
}

void nf_free(struct nf *nf)
{
	free(nf->tx_ring);
	free(nf->rx_ring);
	if (nf->txbuf != nf->rxbuf)
		free(nf->txbuf);
	free(nf->rxbuf);
	memset(nf, 0, sizeof(*nf));
}

struct dp_vif_cfg nf_vif_cfg(const struct nf *nf)
{
	return (struct dp_vif_cfg){
	    .tx_ref = nf->tx_ref,
	    .rx_ref = nf->rx_ref,
	    .evtchn_tx = nf->port_tx,
	    .evtchn_rx = nf->port_rx,
	    .rx_sg = true,
	    .rx_notify = true,
	    .rx_csum_offload = true,
	    .rx_ipv6_csum_offload = true,
	};
}

struct dp_vif_cfg nf_vif_cfg_queues(const struct nf *nf, unsigned int n)
{
	struct dp_vif_cfg c = nf_vif_cfg(&nf[0]);

	c.nqueues = n;
	for (unsigned int k = 1; k < n && k < DP_MAX_QUEUES; k++)
		c.more[k - 1] =
		    (struct dp_ring_cfg){nf[k].tx_ref, nf[k].rx_ref, nf[k].port_tx, nf[k].port_rx};
	return c;
}

int nf_register(const struct nf *nf, struct dp *dp, struct dp_vif *vif, bool v4, bool v6)
{
	struct ipnb_addr a[2];
	size_t n = 0, conflicts[2], nc = 0;
	int r;

	memset(a, 0, sizeof(a));
	if (v4) {
		a[n].family = AF_INET;
		memcpy(a[n++].bytes, nf->ip4, 4);
	}
	if (v6) {
		a[n].family = AF_INET6;
		memcpy(a[n++].bytes, nf->ip6, 16);
	}
	r = dp_vif_set_addrs(dp, vif, a, n, conflicts, &nc);
	return r >= 0 && nc ? -2 : r;
}

struct dp_vif *nf_attach(struct nf *nf, struct dp *dp, unsigned int post, char *err, size_t errlen)
{
	struct dp_vif *vif = dp_vif_new(dp, (uint16_t)nf->domid, 0, nf->mac);
	struct dp_vif_cfg cfg = nf_vif_cfg(nf);

	if (!vif) {
		snprintf(err, errlen, "dp_vif_new failed");
		return NULL;
	}
	if (nf_register(nf, dp, vif, true, true) != 0) {
		snprintf(err, errlen, "addresses refused");
	} else if (dp_vif_connect(dp, vif, &cfg, err, errlen) == 0) {
		if (nf_post_rx(nf, post) == 0)
			return vif;
		snprintf(err, errlen, "posting RX buffers failed");
	}
	dp_vif_free(dp, vif);
	return NULL;
}

void nf_rings_init(struct nf *nf, RING_IDX start)
{
	netif_tx_sring_t *txs = nf->tx_ring;
	netif_rx_sring_t *rxs = nf->rx_ring;

	SHARED_RING_INIT(txs);
	SHARED_RING_INIT(rxs);
	FRONT_RING_INIT(&nf->tx, txs, NF_PAGE);
	FRONT_RING_INIT(&nf->rx, rxs, NF_PAGE);
	nf->tx.req_prod_pvt = nf->tx.rsp_cons = start;
	nf->rx.req_prod_pvt = nf->rx.rsp_cons = start;
	txs->req_prod = txs->rsp_prod = start;
	rxs->req_prod = rxs->rsp_prod = start;
	txs->req_event = txs->rsp_event = start + 1;
	rxs->req_event = rxs->rsp_event = start + 1;
}

/* Distinct per direction and per slot, so that a response carrying the
 * wrong request's id shows. */
uint16_t nf_tx_id(RING_IDX i)
{
	return (uint16_t)(0x100 | (i & 0xff));
}

uint16_t nf_rx_id(RING_IDX i)
{
	return (uint16_t)(0x200 | (i & 0xff));
}

uint8_t *nf_tx_page(const struct nf *nf, RING_IDX i)
{
	return nf->txbuf + (size_t)(i % nf->params.nbuf) * NF_PAGE;
}

uint8_t *nf_rx_page(const struct nf *nf, RING_IDX i)
{
	return nf->rxbuf + (size_t)(i % nf->params.nbuf) * NF_PAGE;
}

grant_ref_t nf_tx_gref(const struct nf *nf, RING_IDX i)
{
	return nf->txgref[i % nf->params.nbuf];
}

grant_ref_t nf_rx_gref(const struct nf *nf, RING_IDX i)
{
	return nf->rxgref[i % nf->params.nbuf];
}

unsigned int nf_tx_space(const struct nf *nf)
{
	RING_IDX used = nf->tx.req_prod_pvt - nf->tx.rsp_cons;

	return used < RING_SIZE(&nf->tx) ? RING_SIZE(&nf->tx) - used : 0;
}

unsigned int nf_rx_space(const struct nf *nf)
{
	RING_IDX used = nf->rx.req_prod_pvt - nf->rx.rsp_cons;

	return used < RING_SIZE(&nf->rx) ? RING_SIZE(&nf->rx) - used : 0;
}

unsigned int nf_rx_pending(const struct nf *nf)
{
	return nf->rx.sring->rsp_prod - nf->rx.rsp_cons;
}

RING_IDX nf_put_tx(struct nf *nf, grant_ref_t gref, uint16_t off, uint16_t size, uint16_t flags)
{
	RING_IDX i = nf->tx.req_prod_pvt++;
	netif_tx_request_t *r = RING_GET_REQUEST(&nf->tx, i);

	r->gref = gref;
	r->offset = off;
	r->flags = flags;
	r->id = nf_tx_id(i);
	r->size = size;
	return i;
}

int nf_queue_tx(struct nf *nf, const uint8_t *pkt, size_t len, const uint16_t *sizes,
		unsigned int n, uint16_t flags0, RING_IDX *first)
{
	const uint16_t one = (uint16_t)len;
	size_t total = 0, pos = 0;

	if (!sizes) {
		sizes = &one;
		if (n != 1)
			return -EINVAL;
	}
	if (n == 0 || len > UINT16_MAX)
		return -EINVAL;
	for (unsigned int k = 0; k < n; k++) {
		if (sizes[k] > NF_PAGE)
			return -EINVAL;
		total += sizes[k];
	}
	if (total != len)
		return -EINVAL;

	if (first)
		*first = nf->tx.req_prod_pvt;
	for (unsigned int k = 0; k < n; k++) {
		RING_IDX i = nf->tx.req_prod_pvt;
		uint16_t off =
		    sizes[k] <= NF_PAGE / 2 ? (uint16_t)((k * 61 + 64) % (NF_PAGE / 2)) : 0;
		uint16_t flags = (uint16_t)((k ? 0 : flags0) | (k + 1 < n ? NETTXF_more_data : 0));

		memcpy(nf_tx_page(nf, i) + off, pkt + pos, sizes[k]);
		nf_put_tx(nf, nf_tx_gref(nf, i), off, k ? sizes[k] : (uint16_t)len, flags);
		pos += sizes[k];
	}
	return 0;
}

void nf_queue_rx(struct nf *nf, unsigned int n)
{
	for (unsigned int k = 0; k < n; k++) {
		RING_IDX i = nf->rx.req_prod_pvt++;
		netif_rx_request_t *r = RING_GET_REQUEST(&nf->rx, i);

		if (nf->params.poison_rx)
			memset(nf_rx_page(nf, i), NF_RX_POISON, NF_PAGE);
		r->id = nf_rx_id(i);
		r->gref = nf_rx_gref(nf, i);
	}
}

int nf_kick(struct nf *nf, evtchn_port_t port)
{
	nf->kicks++;
	return fake_evtchn_kick(nf->domid, port);
}

int nf_push_tx(struct nf *nf)
{
	int notify;

	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&nf->tx, notify);
	return notify ? nf_kick(nf, nf->port_tx) : 0;
}

int nf_push_rx(struct nf *nf)
{
	int notify;

	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&nf->rx, notify);
	return notify ? nf_kick(nf, nf->port_rx) : 0;
}

int nf_post_rx(struct nf *nf, unsigned int n)
{
	nf_queue_rx(nf, n);
	return nf_push_rx(nf);
}

bool nf_take_tx(struct nf *nf, netif_tx_response_t *rsp, RING_IDX *idx)
{
	RING_IDX i;
	int more;

	RING_FINAL_CHECK_FOR_RESPONSES(&nf->tx, more);
	if (!more)
		return false;
	xen_rmb(); /* the response only after the rsp_prod that covers it */
	i = nf->tx.rsp_cons++;
	if (rsp)
		*rsp = *RING_GET_RESPONSE(&nf->tx, i);
	if (idx)
		*idx = i;
	return true;
}

bool nf_take_rx(struct nf *nf, netif_rx_response_t *rsp, const uint8_t **data, RING_IDX *idx)
{
	netif_rx_response_t r;
	RING_IDX i;
	int more;

	RING_FINAL_CHECK_FOR_RESPONSES(&nf->rx, more);
	if (!more)
		return false;
	xen_rmb();
	i = nf->rx.rsp_cons++;
	r = *RING_GET_RESPONSE(&nf->rx, i);
	if (rsp)
		*rsp = r;
	if (data)
		*data = nf_rx_page(nf, i) + r.offset;
	if (idx)
		*idx = i;
	return true;
}

unsigned int nf_reap_tx(struct nf *nf, unsigned int *okay)
{
	netif_tx_response_t rsp;
	unsigned int n = 0, ok = 0;

	while (n < REAP_MAX(&nf->tx) && nf_take_tx(nf, &rsp, NULL)) {
		n++;
		if (rsp.status == NETIF_RSP_OKAY)
			ok++;
	}
	if (okay)
		*okay = ok;
	return n;
}

unsigned int nf_reap_rx(struct nf *nf)
{
	unsigned int n = 0;

	while (n < REAP_MAX(&nf->rx) && nf_take_rx(nf, NULL, NULL, NULL))
		n++;
	return n;
}

/* ---- frames a guest sends ---- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

uint32_t nf_sum16(uint32_t sum, const uint8_t *d, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)d[i] << 8 | d[i + 1];
	if (n & 1)
		sum += (uint32_t)d[n - 1] << 8;
	return sum;
}

uint16_t nf_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

size_t nf_put_eth_ip(uint8_t *b, bool v6, const uint8_t *dmac, const uint8_t *smac,
		     const uint8_t *sip, const uint8_t *dip, uint8_t proto, size_t l4len)
{
	uint8_t *ip = b + 14;

	memset(b, 0, 14 + (v6 ? 40 : 20));
	memcpy(b, dmac, 6);
	memcpy(b + 6, smac, 6);
	if (v6) {
		put16(b + 12, 0x86dd);
		ip[0] = 0x60;
		put16(ip + 4, (uint16_t)l4len);
		ip[6] = proto;
		ip[7] = 64;
		memcpy(ip + 8, sip, 16);
		memcpy(ip + 24, dip, 16);
		return 14 + 40;
	}
	put16(b + 12, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + l4len));
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, sip, 4);
	memcpy(ip + 16, dip, 4);
	return 14 + 20;
}

void nf_ip4_csum(uint8_t *frame)
{
	uint8_t *ip = frame + 14;

	put16(ip + 10, 0);
	put16(ip + 10, (uint16_t)~nf_fold(nf_sum16(0, ip, 20)));
}

size_t nf_put_tcp(uint8_t *b, bool v6, const uint8_t *dmac, const uint8_t *smac, const uint8_t *sip,
		  const uint8_t *dip, const struct nf_tcp *t)
{
	size_t l4 = nf_put_eth_ip(b, v6, dmac, smac, sip, dip, 6, NF_TCP_HLEN + t->plen);
	uint8_t *th = b + l4;
	uint32_t sum;

	memset(th, 0, NF_TCP_HLEN);
	put16(th, t->sport);
	put16(th + 2, t->dport);
	put16(th + 4, (uint16_t)(t->seq >> 16));
	put16(th + 6, (uint16_t)t->seq);
	put16(th + 8, 0x1234);
	put16(th + 10, 0x5678); /* ack */
	th[12] = (NF_TCP_HLEN / 4) << 4;
	th[13] = t->flags;
	put16(th + 14, 502); /* window */
	/* options: two NOPs and a timestamp, as Linux sends them */
	th[20] = 1;
	th[21] = 1;
	th[22] = 8;
	th[23] = 10;
	memcpy(b + l4 + NF_TCP_HLEN, t->payload, t->plen);
	if (!v6) {
		put16(b + 14 + 4, t->ip_id);
		nf_ip4_csum(b);
		sum = nf_sum16(0, b + 14 + 12, 8);
	} else {
		sum = nf_sum16(0, b + 14 + 8, 32);
	}
	sum += 6 + (uint32_t)(NF_TCP_HLEN + t->plen);
	if (t->partial)
		put16(th + 16, nf_fold(sum));
	else
		put16(th + 16, (uint16_t)~nf_fold(nf_sum16(sum, th, NF_TCP_HLEN + t->plen)));
	return l4 + NF_TCP_HLEN + t->plen;
}

size_t nf_put_arp(uint8_t *b, const uint8_t *dmac, const uint8_t *smac, const uint8_t *sha,
		  const uint8_t *spa, const uint8_t *tpa, uint16_t op)
{
	uint8_t *a = b + 14;

	memset(b, 0, 60);
	memcpy(b, dmac, 6);
	memcpy(b + 6, smac, 6);
	put16(b + 12, 0x0806);
	put16(a, 1);	      /* Ethernet */
	put16(a + 2, 0x0800); /* IPv4 */
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, sha, 6);
	memcpy(a + 14, spa, 4);
	memcpy(a + 24, tpa, 4);
	return 60;
}

size_t nf_put_nd(uint8_t *b, const uint8_t *dmac, const uint8_t *smac, const uint8_t *src,
		 const uint8_t *target, uint8_t type, uint8_t hops)
{
	static const uint8_t unspec[16];
	bool sll = memcmp(src, unspec, 16) != 0;
	size_t icmp_len = 24 + (sll ? 8 : 0);
	uint8_t group[16] = {0xff, 0x02, [11] = 0x01, [12] = 0xff}; /* ff02::1:ffXX:XXXX */
	uint8_t gmac[6] = {0x33, 0x33, 0xff};
	uint8_t *icmp;
	uint32_t sum;

	memcpy(group + 13, target + 13, 3);
	memcpy(gmac + 3, target + 13, 3);
	icmp = b + nf_put_eth_ip(b, true, dmac ? dmac : gmac, smac, src, group, IPPROTO_ICMPV6,
				 icmp_len);
	b[14 + 7] = hops;
	memset(icmp, 0, icmp_len);
	icmp[0] = type;
	memcpy(icmp + 8, target, 16);
	if (sll) {
		icmp[24] = 1; /* source link-layer address */
		icmp[25] = 1; /* 8 bytes */
		memcpy(icmp + 26, smac, 6);
	}
	sum = nf_sum16(nf_sum16(0, src, 16), group, 16) + IPPROTO_ICMPV6 + (uint32_t)icmp_len;
	put16(icmp + 2, (uint16_t)~nf_fold(nf_sum16(sum, icmp, icmp_len)));
	return 14 + 40 + icmp_len;
}
