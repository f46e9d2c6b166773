/* SPDX-License-Identifier: MIT */
/*
 * nbr.h - the uplink's neighbour cache: which MAC address on the LAN owns an
 * IPv4/IPv6 address (learned from ARP and neighbour discovery), plus the
 * packets waiting while an address is being resolved.
 *
 * Usage contract:
 *  - Pure: no I/O, no logging, no clock. The caller passes the time in
 *    milliseconds (monotonic) and is told, through callbacks, when to send a
 *    solicitation, when queued packets can go, and when they must be
 *    dropped.
 *  - Bounded: at most cfg.max_entries entries, at most
 *    cfg.max_pending_per_entry queued packets per entry and
 *    cfg.max_pending_total in all. All memory is allocated in nbr_new().
 *    When the table is full, a new address evicts the least recently used
 *    entry that has no packets queued; if there is none, the lookup fails
 *    with NBR_DROP.
 *  - Packets are opaque pointers owned by the cache from a successful
 *    NBR_QUEUED until they are handed back through `release` or `drop`.
 *
 * Entry life: INCOMPLETE (solicitation sent, up to cfg.max_probes, every
 * cfg.retrans_ms) -> REACHABLE (learned; for cfg.reachable_ms) -> STALE
 * (still used; the next lookup triggers one new solicitation while the
 * old MAC keeps being used) -> removed after cfg.stale_ms unused.
 * INCOMPLETE with no answer after max_probes -> FAILED for cfg.failed_ms:
 * lookups drop at once, queued packets are dropped.
 */
#ifndef IPNB_NBR_H
#define IPNB_NBR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipnb/addr.h"

enum nbr_state {
	NBR_INCOMPLETE,
	NBR_REACHABLE,
	NBR_STALE,
	NBR_FAILED,
};

enum nbr_result {
	NBR_HIT,    /* mac_out is valid: send now */
	NBR_QUEUED, /* packet kept until resolution (or its failure) */
	NBR_DROP,   /* not kept: failed entry, queue full, or table full */
};

struct nbr_cfg {
	size_t max_entries;
	size_t max_pending_per_entry;
	size_t max_pending_total;
	unsigned int max_probes;
	uint64_t retrans_ms;
	uint64_t reachable_ms;
	uint64_t stale_ms;
	uint64_t failed_ms;
};

/* What the cache asks the caller to do. Any of them may be NULL. */
struct nbr_ops {
	void (*solicit)(void *arg, const struct ipnb_addr *ip);	     /* send ARP request / NS */
	void (*release)(void *arg, void *pkt, const uint8_t mac[6]); /* resolved: send */
	void (*drop)(void *arg, void *pkt);			     /* failed or evicted */
	void *arg;
};

struct nbr_entry_info {
	struct ipnb_addr ip;
	uint8_t mac[6];
	enum nbr_state state;
	uint64_t age_ms; /* since the last confirmation (or the first probe) */
	size_t pending;
};

struct nbr_cache; /* opaque */

struct nbr_cache *nbr_new(const struct nbr_cfg *cfg, const struct nbr_ops *ops);
/* Drops every queued packet through ops->drop, then frees the cache. */
void nbr_free(struct nbr_cache *c);

/*
 * Looks ip up for sending pkt at time now. NBR_HIT fills mac_out (pkt stays
 * the caller's). NBR_QUEUED takes pkt; a solicitation is requested through
 * ops->solicit when a new entry is created or a STALE one is reused.
 * NBR_DROP leaves pkt with the caller.
 */
enum nbr_result nbr_resolve(struct nbr_cache *c, const struct ipnb_addr *ip, void *pkt,
			    uint64_t now, uint8_t mac_out[6]);

/*
 * Records that ip is at mac (an ARP reply or request, an NA, or an NS with
 * a source link-layer option). With only_existing, an unknown address is
 * not added (used for unsolicited traffic, so that the LAN cannot fill the
 * table). Queued packets for ip are released through ops->release in the
 * order they were queued.
 */
void nbr_learn(struct nbr_cache *c, const struct ipnb_addr *ip, const uint8_t mac[6], uint64_t now,
	       bool only_existing);

/*
 * Advances timers: retransmits solicitations, fails entries (dropping their
 * packets), ages REACHABLE to STALE and removes old entries. Returns the
 * number of milliseconds until the next call is needed, or UINT64_MAX.
 */
uint64_t nbr_tick(struct nbr_cache *c, uint64_t now);

/* Forgets ip (for example when it becomes a registered guest address). */
void nbr_forget(struct nbr_cache *c, const struct ipnb_addr *ip);

/* Fills up to max entries for display; returns how many were written. */
size_t nbr_dump(const struct nbr_cache *c, uint64_t now, struct nbr_entry_info *out, size_t max);

/* Totals since creation, for the status output. */
struct nbr_stats {
	uint64_t hits, queued, drops_failed, drops_queue_full, drops_table_full, evictions,
	    solicits, releases;
};
const struct nbr_stats *nbr_stats(const struct nbr_cache *c);

#endif
