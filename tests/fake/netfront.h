/* SPDX-License-Identifier: MIT */
/*
 * netfront.h - a fake guest's netfront for tests, fuzzers and the benchmark:
 * it owns the guest's TX and RX ring pages, its data pages, the grants of
 * all of them to dom0 and its event-channel ports, and plays the frontend's
 * side of the netif ring protocol against the daemon's data path (queue TX
 * packets, post RX buffers, kick, take responses). It also owns the pieces
 * of the frames a guest sends that every caller builds alike (Ethernet, IP
 * and ARP headers, Internet checksums), written independently of frame.c
 * so that they check it. It is built on the fake Xen libraries (fakexen.h),
 * so it runs in the test's process.
 *
 * Usage contract:
 *  - The guest's domain must exist (fake_domain_create()) before nf_init():
 *    the domain is the test's, and one domain may have several netfronts.
 *  - The identity follows the tests' address plan, from the low byte n of
 *    the domid: MAC 00:16:3e:00:00:n, 10.99.0.n, fd00::n and fe80::n. The
 *    test registers whichever of them it wants with the data path.
 *  - Nothing here asserts: it must serve CUnit tests, libFuzzer targets and
 *    the benchmark alike. Functions returning int return 0 or a negative
 *    errno value; each caller checks them its own way.
 *  - nf_free() only frees memory. Grants and ports stay in the fake until
 *    fake_reset() (or fake_domain_destroy()); call nf_free() after that, as
 *    fakexen.h requires for granted pages. It may be called after a failed
 *    nf_init() too, and on a zeroed struct nf.
 *  - Nothing stops a caller from overrunning a ring or moving its indexes
 *    anywhere: hostile guests (the fuzz target) do it on purpose. A caller
 *    that behaves checks nf_tx_space()/nf_rx_space() first. The loops that
 *    take responses stop after 2 * RING_SIZE of them, so that indexes moved
 *    by a test cannot make them run for 2^32 responses.
 *  - Ring slot i uses TX page and RX page i % nbuf (nf_tx_page(),
 *    nf_rx_page()) and their grants (nf_tx_gref(), nf_rx_gref()). TX pages
 *    are granted read-only, as Linux netfront grants them, so a backend
 *    that writes into one fails its copy; RX pages are granted read-write.
 *  - Refs are granted in this order: TX ring, RX ring, the RX pages, then
 *    the TX pages. Tests may revoke and re-grant data pages, storing the new
 *    ref in txgref[]/rxgref[].
 *  - Single-threaded, as the fake is.
 */
#ifndef IPNB_NETFRONT_H
#define IPNB_NETFRONT_H

/* First: through xenring.h it supplies the barriers Xen's ring.h needs,
 * before fakexen.h pulls it in. */
#include "ipnb/dp.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fakexen.h"

#define NF_PAGE	     4096u
#define NF_MAX_BUF   256u /* data pages per direction: one per slot of a one-page ring */
#define NF_MAX_PORTS 4u
#define NF_RX_POISON 0xee /* posted RX buffers hold this where the backend wrote nothing */

/* The backend's MAC in every test (dp_new()'s argument): guests send to it. */
extern const uint8_t nf_be_mac[6];

struct nf_params {
	unsigned int nbuf;   /* data pages per direction, 1..NF_MAX_BUF */
	unsigned int nports; /* ports allocated, up to NF_MAX_PORTS; 0: as split needs */
	bool split;	     /* RX notifications on ports[1], TX on ports[0] */
	/* TX and RX use the same nbuf pages, each granted both read-write
	 * (rxgref) and read-only (txgref): a hostile guest may do that. */
	bool shared_pages;
	/* nf_queue_rx() fills each buffer with NF_RX_POISON, so that a check
	 * sees where the backend's bytes end. */
	bool poison_rx;
};

struct nf {
	uint32_t domid;
	struct nf_params params; /* as given, nports filled in */
	uint8_t mac[6];
	uint8_t ip4[4];
	uint8_t ip6[16];
	uint8_t ip6_ll[16];

	void *tx_ring, *rx_ring; /* the shared ring pages */
	netif_tx_front_ring_t tx;
	netif_rx_front_ring_t rx;
	grant_ref_t tx_ref, rx_ref;

	uint8_t *txbuf, *rxbuf; /* nbuf pages each (the same pages if shared) */
	grant_ref_t txgref[NF_MAX_BUF], rxgref[NF_MAX_BUF];

	evtchn_port_t ports[NF_MAX_PORTS];
	evtchn_port_t port_tx, port_rx; /* the ones the push functions kick */
	uint64_t kicks;			/* nf_kick() calls, failed ones included */
};

/*
 * Sets nf up for guest domid: identity, rings (as netfront does, indexes at
 * 0), data pages, grants and ports. Returns 0, -EINVAL (bad params),
 * -ENOMEM, or -ESRCH (the fake refused a grant or a port: is the domain
 * alive?).
 */
int nf_init(struct nf *nf, uint32_t domid, const struct nf_params *params);

/* Frees the pages (see the contract) and zeroes nf. */
void nf_free(struct nf *nf);

/*
 * What nf's frontend keys give the data path: its ring refs and ports
 * (port_tx, port_rx), and the features Linux netfront advertises (sg,
 * rx-notify, IPv4 and IPv6 checksum offload) all on.
 */
struct dp_vif_cfg nf_vif_cfg(const struct nf *nf);

/*
 * A multi-queue netfront (netif.h "Multi-queue"): queue k is nf[k], a
 * netfront of its own (rings, data pages, grants, ports) set up with
 * nf_init() in the same domain; the caller drives each queue's rings with
 * the functions here. What the keys of all n queues give the data path:
 * nf_vif_cfg(&nf[0]) with nqueues n and queue k's refs and ports in
 * more[k - 1]. n from 1 to DP_MAX_QUEUES.
 */
struct dp_vif_cfg nf_vif_cfg_queues(const struct nf *nf, unsigned int n);

/*
 * Registers nf's IPv4 address (if v4) and IPv6 address (if v6), and no
 * other, to vif, as the control path would from the backend `ip` key.
 * Returns what dp_vif_set_addrs() does (the number of addresses vif gave
 * up, or -1), or -2 if the data path refused one of them as another vif's.
 */
int nf_register(const struct nf *nf, struct dp *dp, struct dp_vif *vif, bool v4, bool v6);

/*
 * What the control path does for nf's vif 0: creates it, registers both
 * addresses, connects it and has the guest post `post` RX buffers. Returns
 * the vif, or NULL (with a reason in err) if a step failed.
 */
struct dp_vif *nf_attach(struct nf *nf, struct dp *dp, unsigned int post, char *err, size_t errlen);

/*
 * Sets both rings up from scratch with every index at start, as netfront
 * does before it (re)connects; start near 2^32 tests index wrap. Ring
 * contents and grants are kept.
 */
void nf_rings_init(struct nf *nf, RING_IDX start);

/* The ids nf gives the requests in ring slot i (a response echoes them). */
uint16_t nf_tx_id(RING_IDX i);
uint16_t nf_rx_id(RING_IDX i);

/* Ring slot i's data pages and their grants. */
uint8_t *nf_tx_page(const struct nf *nf, RING_IDX i);
uint8_t *nf_rx_page(const struct nf *nf, RING_IDX i);
grant_ref_t nf_tx_gref(const struct nf *nf, RING_IDX i);
grant_ref_t nf_rx_gref(const struct nf *nf, RING_IDX i);

/* Slots free for new requests (0 if the indexes say more are in flight
 * than the ring holds). */
unsigned int nf_tx_space(const struct nf *nf);
unsigned int nf_rx_space(const struct nf *nf);

/* RX responses published and not yet taken. */
unsigned int nf_rx_pending(const struct nf *nf);

/*
 * Writes the next TX request (not yet published): gref, offset, size and
 * flags as given, id nf_tx_id(). The data must already be in place.
 * Returns its ring index.
 */
RING_IDX nf_put_tx(struct nf *nf, grant_ref_t gref, uint16_t off, uint16_t size, uint16_t flags);

/*
 * Queues one packet of len bytes (not yet published) in n slots of the
 * given sizes (sizes NULL: one slot of len). Each slot's bytes go into the
 * TX page of its ring slot, at an offset that varies with the slot (0 for
 * slots over half a page), so that the backend's offset handling is used;
 * slot 0's size field says len, as the protocol wants. Slot 0 gets flags0
 * and every slot but the last NETTXF_more_data. *first (if not NULL) gets
 * slot 0's ring index. Returns 0, or -EINVAL without queuing anything if
 * the sizes do not add up to len, one exceeds a page or len does not fit
 * the size field.
 */
int nf_queue_tx(struct nf *nf, const uint8_t *pkt, size_t len, const uint16_t *sizes,
		unsigned int n, uint16_t flags0, RING_IDX *first);

/* Writes n RX requests (not yet published): slot i's RX page, id
 * nf_rx_id(i). */
void nf_queue_rx(struct nf *nf, unsigned int n);

/* The guest notifies port: fake_evtchn_kick()'s result (-ENOTCONN while
 * the backend has not bound it: the kick is lost). */
int nf_kick(struct nf *nf, evtchn_port_t port);

/*
 * Publish the queued requests and kick port_tx (port_rx) if the backend
 * asked to be notified, as netfront does. Return 0 (also when no kick was
 * needed) or the kick's error.
 */
int nf_push_tx(struct nf *nf);
int nf_push_rx(struct nf *nf);

/* nf_queue_rx() then nf_push_rx(). */
int nf_post_rx(struct nf *nf, unsigned int n);

/*
 * Take the next response, re-arming rsp_event as netfront does when there
 * is none, so that the backend notifies for the next. idx (if not NULL)
 * gets its ring index; for RX, data (if not NULL) its bytes in the posted
 * page. Return false if there is none.
 */
bool nf_take_tx(struct nf *nf, netif_tx_response_t *rsp, RING_IDX *idx);
bool nf_take_rx(struct nf *nf, netif_rx_response_t *rsp, const uint8_t **data, RING_IDX *idx);

/* Take every TX response: returns how many, and in *okay (if not NULL) how
 * many were NETIF_RSP_OKAY. */
unsigned int nf_reap_tx(struct nf *nf, unsigned int *okay);

/* Take every RX response, unread: returns how many. */
unsigned int nf_reap_rx(struct nf *nf);

/* ---- frames a guest sends ---- */

/* Adds d (n bytes, as big-endian 16-bit words, an odd last byte padded
 * with zero) to the ones'-complement sum sum. */
uint32_t nf_sum16(uint32_t sum, const uint8_t *d, size_t n);

/* sum folded to 16 bits (not complemented: a checksum field takes ~). */
uint16_t nf_fold(uint32_t sum);

/*
 * Writes an Ethernet header (to dmac from smac) and an IPv4 or IPv6 header
 * (no options, TTL or hop limit 64, everything else 0) for an L4 segment of
 * l4len bytes of protocol proto from sip to dip. Returns the offset of the
 * L4 header. The IPv4 header checksum is left 0, as the data path does not
 * check it: nf_ip4_csum() fills it in once the caller has set the rest.
 */
size_t nf_put_eth_ip(uint8_t *b, bool v6, const uint8_t *dmac, const uint8_t *smac,
		     const uint8_t *sip, const uint8_t *dip, uint8_t proto, size_t l4len);

/* Sets the header checksum of the IPv4 header after frame's Ethernet
 * header. */
void nf_ip4_csum(uint8_t *frame);

/* A TCP segment for nf_put_tcp(). */
struct nf_tcp {
	uint16_t sport, dport;
	uint32_t seq;
	uint8_t flags;	/* TCP flags byte */
	uint16_t ip_id; /* IPv4 only */
	const uint8_t *payload;
	size_t plen;
	/* checksum field: only the pseudo-header sum (a blank checksum, as
	 * netfront sends one), else complete */
	bool partial;
};
#define NF_TCP_HLEN 32 /* 20 bytes and a 12-byte timestamp option */

/* Writes Ethernet, IPv4 (with its checksum) or IPv6, and TCP with options
 * and payload; returns the frame length. Built field by field, apart from
 * the data path's code, so that tests can compare its segments with it. */
size_t nf_put_tcp(uint8_t *b, bool v6, const uint8_t *dmac, const uint8_t *smac, const uint8_t *sip,
		  const uint8_t *dip, const struct nf_tcp *t);

/*
 * Writes an ICMPv6 neighbour discovery message of the given type (135, a
 * solicitation, usually) about target from src, with hop limit hops (ND
 * needs 255), to the solicited-node group of target at dmac (NULL: the
 * group's MAC), from smac. It carries a source link-layer option (smac)
 * unless src is :: (duplicate address detection), and its checksum.
 * Returns the frame length.
 */
size_t nf_put_nd(uint8_t *b, const uint8_t *dmac, const uint8_t *smac, const uint8_t *src,
		 const uint8_t *target, uint8_t type, uint8_t hops);

/*
 * Writes an ARP packet for IPv4 over Ethernet (operation op, sender sha and
 * spa, target tpa, target hardware address 0) to dmac from smac, padded to
 * the 60-byte minimum frame. Returns 60.
 */
size_t nf_put_arp(uint8_t *b, const uint8_t *dmac, const uint8_t *smac, const uint8_t *sha,
		  const uint8_t *spa, const uint8_t *tpa, uint16_t op);

#endif
