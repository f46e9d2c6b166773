/* SPDX-License-Identifier: MIT */
/*
 * nbr.c - the uplink's neighbour cache: IPv4/IPv6 address -> LAN MAC, with
 * the packets that wait while an address is being resolved. Pure: see
 * include/ipnb/nbr.h for the contract.
 *
 * Layout (everything is allocated by nbr_new()):
 *  - entries[max_entries]: the entries. Free ones are chained through
 *    `hnext`; live ones sit in a hash chain (buckets[], power of two, at
 *    least max_entries long, so chains stay short) and in a doubly linked
 *    LRU list, most recently used first.
 *  - slots[max_pending_total]: the pending-packet pool. Each entry's queue
 *    is a singly linked FIFO of slot indices (q_head/q_tail); free slots
 *    form another chain. A linked pool rather than a fixed array per entry,
 *    so that max_pending_total bounds the memory however many entries exist.
 *
 * Only INCOMPLETE entries hold packets: learning releases them all, and
 * failing drops them all. So eviction, which walks the LRU list from its
 * old end for an entry without packets, visits at most
 * max_pending_total + 1 entries.
 *
 * Time: deadlines are computed with a saturating add and compared with the
 * caller's `now`; no difference `now - t` is taken unless now >= t, so a
 * clock read slightly out of order or a huge timeout cannot wrap.
 *
 * nbr_resolve() applies the timer transitions that need no callback
 * (REACHABLE -> STALE, expiry of STALE and FAILED entries) itself, so what
 * it answers does not depend on how late nbr_tick() runs. Retransmission and
 * failure of INCOMPLETE entries only happen in nbr_tick(), which scans the
 * whole entry array: at a few thousand entries that is tens of
 * microseconds, and it keeps the structure simpler than a timer heap.
 *
 * Choices the header leaves open:
 *  - "Use" for the LRU order and for the STALE idle timeout means a lookup
 *    (nbr_resolve), or the creation of the entry. Learning is not a use:
 *    it refreshes the MAC and the REACHABLE period, but what the LAN
 *    confirms does not decide which entries are evicted last.
 *  - A STALE entry requests one solicitation on its first lookup; if it is
 *    still in use and unconfirmed reachable_ms later, the next lookup asks
 *    once more, so a neighbour that changed MAC is found again eventually.
 *  - nbr_learn() ignores a multicast/broadcast or all-zero MAC: the LAN
 *    must not make us send unicast traffic to a group address.
 *  - Packets dropped by nbr_forget() and nbr_free() are not counted in the
 *    drop statistics, which count failures, not removals.
 *  - Callbacks run only when the cache is consistent, so they may call
 *    back into it (except during nbr_free()); the packets they are handed
 *    have already been detached from their entry.
 *  - nbr_new() returns NULL for a NULL cfg, max_entries == 0, sizes that do
 *    not fit the 32-bit indices, or when memory runs out. max_probes == 0 is
 *    treated as 1 (the first solicitation is always sent).
 */
#include "ipnb/nbr.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define NBR_NONE	UINT32_MAX
#define NBR_MAX_INDEX	((size_t)1 << 30) /* indices stay below NBR_NONE */
#define NBR_MIN_BUCKETS 8

struct nbr_slot {
	void *pkt;
	uint32_t next;
};

struct nbr_ent {
	struct ipnb_addr ip;
	uint8_t mac[6];
	uint8_t state; /* enum nbr_state */
	bool in_use;
	bool stale_probed; /* the STALE solicitation was requested */
	unsigned int probes;
	uint64_t t_age;	   /* last confirmation, or first probe of a resolution */
	uint64_t t_probe;  /* last solicitation */
	uint64_t t_used;   /* last lookup (or creation) */
	uint64_t t_failed; /* start of FAILED */
	uint32_t hnext;	   /* hash chain, or free list */
	uint32_t lru_prev, lru_next;
	uint32_t q_head, q_tail;
	size_t npending;
};

struct nbr_cache {
	struct nbr_cfg cfg;
	struct nbr_ops ops;
	struct nbr_stats stats;
	struct nbr_ent *ents;
	uint32_t *buckets;
	size_t nbuckets; /* power of two */
	struct nbr_slot *slots;
	uint32_t free_ent, free_slot;
	uint32_t lru_head, lru_tail; /* most / least recently used */
	size_t count;		     /* live entries */
};

/* ---- time ------------------------------------------------------------------ */

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t since(uint64_t now, uint64_t t)
{
	return now > t ? now - t : 0;
}

/* ---- addresses ------------------------------------------------------------- */

/*
 * The family goes into the seed, so 10.0.0.1 and an IPv6 address starting
 * 0a00:0001 hash differently. Four-byte words are mixed with a
 * multiply and a rotate; the final xor-shift brings the well-mixed high
 * bits down to the low bits the bucket mask keeps.
 */
static size_t key_hash(const struct ipnb_addr *a)
{
	uint64_t h = 0x9e3779b97f4a7c15u ^ ((uint64_t)a->family << 56);
	size_t n = ipnb_addr_len(a);

	for (size_t i = 0; i < n; i += 4) {
		uint32_t w = (uint32_t)a->bytes[i] << 24 | (uint32_t)a->bytes[i + 1] << 16 |
			     (uint32_t)a->bytes[i + 2] << 8 | a->bytes[i + 3];

		h = (h ^ w) * 0xbf58476d1ce4e5b9u;
		h = h << 27 | h >> 37;
	}
	h ^= h >> 31;
	h *= 0x94d049bb133111ebu;
	h ^= h >> 29;
	return (size_t)h;
}

/* ---- lists ----------------------------------------------------------------- */

static uint32_t idx_of(const struct nbr_cache *c, const struct nbr_ent *e)
{
	return (uint32_t)(e - c->ents);
}

static void lru_unlink(struct nbr_cache *c, struct nbr_ent *e)
{
	if (e->lru_prev != NBR_NONE)
		c->ents[e->lru_prev].lru_next = e->lru_next;
	else
		c->lru_head = e->lru_next;
	if (e->lru_next != NBR_NONE)
		c->ents[e->lru_next].lru_prev = e->lru_prev;
	else
		c->lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = NBR_NONE;
}

static void lru_push_front(struct nbr_cache *c, struct nbr_ent *e)
{
	uint32_t i = idx_of(c, e);

	e->lru_prev = NBR_NONE;
	e->lru_next = c->lru_head;
	if (c->lru_head != NBR_NONE)
		c->ents[c->lru_head].lru_prev = i;
	else
		c->lru_tail = i;
	c->lru_head = i;
}

static void touch(struct nbr_cache *c, struct nbr_ent *e, uint64_t now)
{
	e->t_used = now;
	if (c->lru_head != idx_of(c, e)) {
		lru_unlink(c, e);
		lru_push_front(c, e);
	}
}

static struct nbr_ent *find(const struct nbr_cache *c, const struct ipnb_addr *ip)
{
	uint32_t i = c->buckets[key_hash(ip) & (c->nbuckets - 1)];

	while (i != NBR_NONE) {
		struct nbr_ent *e = &c->ents[i];

		if (ipnb_addr_equal(&e->ip, ip))
			return e;
		i = e->hnext;
	}
	return NULL;
}

/* Moves e's queued packets into a list the caller owns (returns its head,
 * chained through the slots) so callbacks run on a consistent entry. */
static uint32_t detach_queue(struct nbr_ent *e)
{
	uint32_t head = e->q_head;

	e->q_head = e->q_tail = NBR_NONE;
	e->npending = 0;
	return head;
}

/*
 * Hands each packet of a detached list to release (mac != NULL) or drop.
 * A slot goes back to the pool before its callback runs, so a callback that
 * queues a new packet finds room.
 */
static void flush_list(struct nbr_cache *c, uint32_t head, const uint8_t *mac)
{
	while (head != NBR_NONE) {
		struct nbr_slot *s = &c->slots[head];
		void *pkt = s->pkt;
		uint32_t next = s->next;

		s->pkt = NULL;
		s->next = c->free_slot;
		c->free_slot = head;
		head = next;
		if (mac) {
			c->stats.releases++;
			if (c->ops.release)
				c->ops.release(c->ops.arg, pkt, mac);
		} else if (c->ops.drop) {
			c->ops.drop(c->ops.arg, pkt);
		}
	}
}

/* Drops e's packets without counting them (forget, free). */
static void drop_all(struct nbr_cache *c, struct nbr_ent *e)
{
	flush_list(c, detach_queue(e), NULL);
}

static bool enqueue(struct nbr_cache *c, struct nbr_ent *e, void *pkt)
{
	uint32_t si = c->free_slot;

	if (e->npending >= c->cfg.max_pending_per_entry || si == NBR_NONE)
		return false;
	c->free_slot = c->slots[si].next;
	c->slots[si].pkt = pkt;
	c->slots[si].next = NBR_NONE;
	if (e->q_tail != NBR_NONE)
		c->slots[e->q_tail].next = si;
	else
		e->q_head = si;
	e->q_tail = si;
	e->npending++;
	return true;
}

/* ---- entries --------------------------------------------------------------- */

/* Unlinks a live entry that holds no packets and returns it to the free list. */
static void ent_remove(struct nbr_cache *c, struct nbr_ent *e)
{
	uint32_t i = idx_of(c, e);
	uint32_t *pp = &c->buckets[key_hash(&e->ip) & (c->nbuckets - 1)];

	while (*pp != i)
		pp = &c->ents[*pp].hnext;
	*pp = e->hnext;
	lru_unlink(c, e);
	e->in_use = false;
	e->hnext = c->free_ent;
	c->free_ent = i;
	c->count--;
}

/* The least recently used entry that holds no packets, or NULL. */
static struct nbr_ent *evictable(const struct nbr_cache *c)
{
	for (uint32_t i = c->lru_tail; i != NBR_NONE; i = c->ents[i].lru_prev) {
		if (c->ents[i].npending == 0)
			return &c->ents[i];
	}
	return NULL;
}

/* A new live entry for ip (state to be set by the caller), or NULL if
 * every entry holds packets. */
static struct nbr_ent *ent_alloc(struct nbr_cache *c, const struct ipnb_addr *ip, uint64_t now)
{
	struct nbr_ent *e;
	uint32_t i, *bucket;

	if (c->free_ent == NBR_NONE) {
		e = evictable(c);
		if (!e)
			return NULL;
		ent_remove(c, e);
		c->stats.evictions++;
	}
	i = c->free_ent;
	e = &c->ents[i];
	c->free_ent = e->hnext;

	memset(e, 0, sizeof(*e));
	/* Only the significant bytes are kept, so a dump shows clean IPv4. */
	e->ip.family = ip->family;
	memcpy(e->ip.bytes, ip->bytes, ipnb_addr_len(ip));
	e->in_use = true;
	e->t_used = now;
	e->q_head = e->q_tail = NBR_NONE;
	bucket = &c->buckets[key_hash(ip) & (c->nbuckets - 1)];
	e->hnext = *bucket;
	*bucket = i;
	lru_push_front(c, e);
	c->count++;
	return e;
}

/* Starts a resolution: INCOMPLETE with the first probe due now. The caller
 * requests that probe (solicit()) once the entry is fully set up. */
static void start_resolution(struct nbr_ent *e, uint64_t now)
{
	e->state = NBR_INCOMPLETE;
	e->probes = 1;
	e->t_age = now;
	e->t_probe = now;
	e->stale_probed = false;
}

static void solicit(struct nbr_cache *c, const struct ipnb_addr *ip)
{
	struct ipnb_addr copy = *ip; /* the entry may change under the callback */

	c->stats.solicits++;
	if (c->ops.solicit)
		c->ops.solicit(c->ops.arg, &copy);
}

static uint64_t stale_at(const struct nbr_cache *c, const struct nbr_ent *e)
{
	return sat_add(e->t_age, c->cfg.reachable_ms);
}

/* When the entry next needs nbr_tick(). */
static uint64_t deadline(const struct nbr_cache *c, const struct nbr_ent *e)
{
	uint64_t s;

	switch (e->state) {
	case NBR_INCOMPLETE:
		return sat_add(e->t_probe, c->cfg.retrans_ms);
	case NBR_REACHABLE:
		return stale_at(c, e);
	case NBR_STALE:
		s = stale_at(c, e);
		return sat_add(e->t_used > s ? e->t_used : s, c->cfg.stale_ms);
	default: /* NBR_FAILED */
		return sat_add(e->t_failed, c->cfg.failed_ms);
	}
}

/*
 * The transitions that need no callback: REACHABLE -> STALE, and expiry of
 * STALE and FAILED entries (which hold no packets). Returns false if e was
 * removed.
 */
static bool age(struct nbr_cache *c, struct nbr_ent *e, uint64_t now)
{
	if (e->state == NBR_REACHABLE && now >= stale_at(c, e)) {
		e->state = NBR_STALE;
		e->stale_probed = false;
	}
	if ((e->state == NBR_STALE || e->state == NBR_FAILED) && now >= deadline(c, e)) {
		ent_remove(c, e);
		return false;
	}
	return true;
}

/* ---- API ------------------------------------------------------------------- */

struct nbr_cache *nbr_new(const struct nbr_cfg *cfg, const struct nbr_ops *ops)
{
	struct nbr_cache *c;
	size_t nb = NBR_MIN_BUCKETS;

	if (!cfg || cfg->max_entries == 0 || cfg->max_entries > NBR_MAX_INDEX ||
	    cfg->max_pending_total > NBR_MAX_INDEX)
		return NULL;
	while (nb < cfg->max_entries)
		nb <<= 1;

	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->cfg = *cfg;
	if (c->cfg.max_probes == 0)
		c->cfg.max_probes = 1;
	if (ops)
		c->ops = *ops;
	c->nbuckets = nb;
	c->ents = calloc(cfg->max_entries, sizeof(*c->ents));
	c->buckets = calloc(nb, sizeof(*c->buckets));
	/* calloc(0) may return NULL; one spare slot keeps the checks simple. */
	c->slots = calloc(cfg->max_pending_total + 1, sizeof(*c->slots));
	if (!c->ents || !c->buckets || !c->slots) {
		free(c->ents);
		free(c->buckets);
		free(c->slots);
		free(c);
		return NULL;
	}

	for (size_t i = 0; i < nb; i++)
		c->buckets[i] = NBR_NONE;
	for (size_t i = 0; i < cfg->max_entries; i++) {
		c->ents[i].hnext = i + 1 < cfg->max_entries ? (uint32_t)(i + 1) : NBR_NONE;
		c->ents[i].lru_prev = c->ents[i].lru_next = NBR_NONE;
	}
	c->free_ent = 0;
	for (size_t i = 0; i < cfg->max_pending_total; i++)
		c->slots[i].next = i + 1 < cfg->max_pending_total ? (uint32_t)(i + 1) : NBR_NONE;
	c->free_slot = cfg->max_pending_total ? 0 : NBR_NONE;
	c->lru_head = c->lru_tail = NBR_NONE;
	return c;
}

void nbr_free(struct nbr_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->cfg.max_entries; i++) {
		if (c->ents[i].in_use)
			drop_all(c, &c->ents[i]);
	}
	free(c->ents);
	free(c->buckets);
	free(c->slots);
	free(c);
}

enum nbr_result nbr_resolve(struct nbr_cache *c, const struct ipnb_addr *ip, void *pkt,
			    uint64_t now, uint8_t mac_out[6])
{
	struct nbr_ent *e = find(c, ip);
	enum nbr_result res;
	bool fresh = false;

	if (e && !age(c, e, now))
		e = NULL;
	if (!e) {
		e = ent_alloc(c, ip, now);
		if (!e) {
			c->stats.drops_table_full++;
			return NBR_DROP;
		}
		fresh = true;
	} else {
		touch(c, e, now);
	}

	switch (e->state) { /* a fresh entry is zeroed: NBR_INCOMPLETE */
	case NBR_REACHABLE:
	case NBR_STALE:
		if (mac_out)
			memcpy(mac_out, e->mac, 6);
		c->stats.hits++;
		if (e->state == NBR_STALE &&
		    (!e->stale_probed || now >= sat_add(e->t_probe, c->cfg.reachable_ms))) {
			e->stale_probed = true;
			e->t_probe = now;
			solicit(c, &e->ip);
		}
		return NBR_HIT;
	case NBR_FAILED:
		c->stats.drops_failed++;
		return NBR_DROP;
	default:
		break;
	}

	if (fresh)
		start_resolution(e, now);
	res = enqueue(c, e, pkt) ? NBR_QUEUED : NBR_DROP;
	if (res == NBR_QUEUED)
		c->stats.queued++;
	else
		c->stats.drops_queue_full++;
	/* Last, so that a callback sees the packet already queued. */
	if (fresh)
		solicit(c, &e->ip);
	return res;
}

void nbr_learn(struct nbr_cache *c, const struct ipnb_addr *ip, const uint8_t mac[6], uint64_t now,
	       bool only_existing)
{
	static const uint8_t zero[6];
	struct nbr_ent *e;
	uint8_t m[6];

	if ((mac[0] & 1) || memcmp(mac, zero, sizeof(zero)) == 0)
		return;
	memcpy(m, mac, sizeof(m));
	e = find(c, ip);
	if (!e) {
		if (only_existing)
			return;
		e = ent_alloc(c, ip, now);
		if (!e)
			return;
	}
	memcpy(e->mac, m, sizeof(m));
	e->state = NBR_REACHABLE;
	e->t_age = now;
	e->probes = 0;
	e->stale_probed = false;
	flush_list(c, detach_queue(e), m);
}

uint64_t nbr_tick(struct nbr_cache *c, uint64_t now)
{
	uint64_t next = UINT64_MAX;

	if (c->count == 0)
		return UINT64_MAX;
	for (size_t i = 0; i < c->cfg.max_entries; i++) {
		struct nbr_ent *e = &c->ents[i];

		if (!e->in_use || !age(c, e, now) || e->state != NBR_INCOMPLETE ||
		    now < deadline(c, e))
			continue;
		if (e->probes < c->cfg.max_probes) {
			e->probes++;
			e->t_probe = now;
			solicit(c, &e->ip);
		} else {
			uint32_t head;

			e->state = NBR_FAILED;
			e->t_failed = now;
			c->stats.drops_failed += e->npending;
			head = detach_queue(e);
			flush_list(c, head, NULL);
		}
	}
	/* A second pass, because callbacks may have changed entries the first
	 * one had already passed. */
	for (size_t i = 0; i < c->cfg.max_entries; i++) {
		const struct nbr_ent *e = &c->ents[i];
		uint64_t d;

		if (!e->in_use)
			continue;
		d = deadline(c, e);
		d = since(d, now);
		if (d < next)
			next = d;
	}
	return next;
}

void nbr_forget(struct nbr_cache *c, const struct ipnb_addr *ip)
{
	struct nbr_ent *e = find(c, ip);
	uint32_t head;

	if (!e)
		return;
	head = detach_queue(e);
	ent_remove(c, e);
	flush_list(c, head, NULL);
}

size_t nbr_dump(const struct nbr_cache *c, uint64_t now, struct nbr_entry_info *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < c->cfg.max_entries && n < max; i++) {
		const struct nbr_ent *e = &c->ents[i];
		struct nbr_entry_info *o = &out[n];

		if (!e->in_use)
			continue;
		memset(o, 0, sizeof(*o));
		o->ip = e->ip;
		memcpy(o->mac, e->mac, 6);
		o->state = (enum nbr_state)e->state;
		/* Show what the next lookup would see, whether or not
		 * nbr_tick() has run since. */
		if (o->state == NBR_REACHABLE && now >= stale_at(c, e))
			o->state = NBR_STALE;
		o->age_ms = since(now, e->t_age);
		o->pending = e->npending;
		n++;
	}
	return n;
}

const struct nbr_stats *nbr_stats(const struct nbr_cache *c)
{
	return &c->stats;
}
