/* SPDX-License-Identifier: MIT */
/*
 * test_nbr.c - the uplink's neighbour cache: resolution, retransmission and
 * failure, ageing, the pending-packet bounds, LRU eviction, and a random
 * churn checked against a plain-array model of the same rules.
 *
 * Packets are heap-allocated and freed by the release/drop callbacks (or by
 * the test when the cache hands them back with NBR_HIT/NBR_DROP), so
 * LeakSanitizer reports any packet the cache loses, and ASan any it hands
 * back twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ipnb/nbr.h"
#include "suites.h"
#include "testaddr.h"

/* ---- recorder -------------------------------------------------------------- */

struct pkt {
	int id;
};

enum ev_kind { EV_SOLICIT = 's', EV_RELEASE = 'r', EV_DROP = 'd' };

struct ev {
	int id;		     /* EV_RELEASE, EV_DROP */
	uint8_t mac[6];	     /* EV_RELEASE */
	char kind;	     /* enum ev_kind */
	struct ipnb_addr ip; /* EV_SOLICIT */
};

#define MAXEV 512
static struct ev evs[MAXEV];
static size_t nev;
static size_t live_pkts; /* allocated and not yet freed */

static void record(const struct ev *e)
{
	if (nev == MAXEV) {
		CU_FAIL("event log full");
		return;
	}
	evs[nev++] = *e;
}

static void cb_solicit(void *arg, const struct ipnb_addr *ip)
{
	struct ev e = {.kind = EV_SOLICIT, .ip = *ip};

	(void)arg;
	record(&e);
}

static void cb_release(void *arg, void *pkt, const uint8_t mac[6])
{
	struct ev e = {.kind = EV_RELEASE, .id = ((struct pkt *)pkt)->id};

	(void)arg;
	memcpy(e.mac, mac, 6);
	record(&e);
	free(pkt);
	live_pkts--;
}

static void cb_drop(void *arg, void *pkt)
{
	struct ev e = {.kind = EV_DROP, .id = ((struct pkt *)pkt)->id};

	(void)arg;
	record(&e);
	free(pkt);
	live_pkts--;
}

static const struct nbr_ops rec_ops = {cb_solicit, cb_release, cb_drop, NULL};

static void reset_ev(void)
{
	nev = 0;
}

static size_t count_ev(char kind)
{
	size_t n = 0;

	for (size_t i = 0; i < nev; i++)
		n += evs[i].kind == kind;
	return n;
}

static const struct ev *nth_ev(char kind, size_t n)
{
	for (size_t i = 0; i < nev; i++) {
		if (evs[i].kind == kind && n-- == 0)
			return &evs[i];
	}
	return NULL;
}

static struct pkt *mkpkt(int id)
{
	struct pkt *p = malloc(sizeof(*p));

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	p->id = id;
	live_pkts++;
	return p;
}

/*
 * nbr_resolve() with a fresh packet. When the cache does not take it
 * (NBR_HIT, NBR_DROP) it must not have gone through a callback either; the
 * test then frees it, as the daemon would send or free it.
 */
static enum nbr_result res(struct nbr_cache *c, const struct ipnb_addr *ip, int id, uint64_t now,
			   uint8_t mac[6])
{
	struct pkt *p = mkpkt(id);
	size_t before = nev;
	enum nbr_result r = nbr_resolve(c, ip, p, now, mac);

	if (r != NBR_QUEUED) {
		for (size_t i = before; i < nev; i++)
			CU_ASSERT(evs[i].kind == EV_SOLICIT || evs[i].id != id);
		free(p);
		live_pkts--;
	}
	return r;
}

/* ---- addresses and configuration ------------------------------------------ */

static const uint8_t mac1[6] = {0x00, 0x16, 0x3e, 0x00, 0x00, 0x01};
static const uint8_t mac2[6] = {0x00, 0x16, 0x3e, 0x00, 0x00, 0x02};

#define RETRANS	  1000
#define REACHABLE 30000
#define STALE	  60000
#define FAILED	  20000

static struct nbr_cfg std_cfg(void)
{
	struct nbr_cfg cfg = {
	    .max_entries = 4,
	    .max_pending_per_entry = 3,
	    .max_pending_total = 5,
	    .max_probes = 3,
	    .retrans_ms = RETRANS,
	    .reachable_ms = REACHABLE,
	    .stale_ms = STALE,
	    .failed_ms = FAILED,
	};
	return cfg;
}

static struct nbr_cache *new_std(void)
{
	struct nbr_cfg cfg = std_cfg();
	struct nbr_cache *c = nbr_new(&cfg, &rec_ops);

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	reset_ev();
	return c;
}

static void free_cache(struct nbr_cache *c)
{
	nbr_free(c);
	CU_ASSERT_EQUAL(live_pkts, 0);
	reset_ev();
}

/* Finds ip in the dump into *out; false if it is not there. */
static bool dump_one(struct nbr_cache *c, const struct ipnb_addr *ip, uint64_t now,
		     struct nbr_entry_info *out)
{
	struct nbr_entry_info all[16];
	size_t n = nbr_dump(c, now, all, 16);

	for (size_t i = 0; i < n; i++) {
		if (ipnb_addr_equal(&all[i].ip, ip)) {
			*out = all[i];
			return true;
		}
	}
	return false;
}

static size_t dump_count(struct nbr_cache *c, uint64_t now)
{
	struct nbr_entry_info all[16];

	return nbr_dump(c, now, all, 16);
}

/* ---- directed tests -------------------------------------------------------- */

static void test_new_args(void)
{
	struct nbr_cfg cfg = std_cfg();

	CU_ASSERT_PTR_NULL(nbr_new(NULL, &rec_ops));
	cfg.max_entries = 0;
	CU_ASSERT_PTR_NULL(nbr_new(&cfg, &rec_ops));
	cfg.max_entries = (size_t)1 << 40;
	CU_ASSERT_PTR_NULL(nbr_new(&cfg, &rec_ops));
	nbr_free(NULL);
}

static void test_hit_after_learn(void)
{
	struct nbr_cache *c = new_std();
	struct ipnb_addr a = v4(192, 168, 1, 10);
	uint8_t mac[6] = {0};

	nbr_learn(c, &a, mac1, 100, false);
	CU_ASSERT_EQUAL(res(c, &a, 1, 200, mac), NBR_HIT);
	CU_ASSERT(memcmp(mac, mac1, 6) == 0);
	CU_ASSERT_EQUAL(nev, 0); /* nothing asked, nothing released */
	CU_ASSERT_EQUAL(nbr_stats(c)->hits, 1);
	CU_ASSERT_EQUAL(nbr_stats(c)->queued, 0);
	CU_ASSERT_EQUAL(nbr_stats(c)->solicits, 0);

	/* a new MAC for a known address replaces the old one */
	nbr_learn(c, &a, mac2, 300, true);
	CU_ASSERT_EQUAL(res(c, &a, 2, 400, mac), NBR_HIT);
	CU_ASSERT(memcmp(mac, mac2, 6) == 0);
	/* mac_out may be NULL */
	CU_ASSERT_EQUAL(res(c, &a, 3, 400, NULL), NBR_HIT);
	free_cache(c);
}

static void test_miss_queues(void)
{
	struct nbr_cache *c = new_std();
	struct ipnb_addr a = v4(192, 168, 1, 10), b = v6(0xfd00, 0x99);
	struct nbr_entry_info info;
	uint8_t mac[6];

	CU_ASSERT_EQUAL(res(c, &a, 1, 0, mac), NBR_QUEUED);
	CU_ASSERT_EQUAL(count_ev(EV_SOLICIT), 1);
	CU_ASSERT(ipnb_addr_equal(&nth_ev(EV_SOLICIT, 0)->ip, &a));
	/* more packets for the same address: no second solicitation */
	CU_ASSERT_EQUAL(res(c, &a, 2, 10, mac), NBR_QUEUED);
	CU_ASSERT_EQUAL(res(c, &a, 3, 999, mac), NBR_QUEUED);
	CU_ASSERT_EQUAL(count_ev(EV_SOLICIT), 1);
	CU_ASSERT_EQUAL(nev, 1);

	CU_ASSERT_FATAL(dump_one(c, &a, 500, &info));
	CU_ASSERT_EQUAL(info.state, NBR_INCOMPLETE);
	CU_ASSERT_EQUAL(info.pending, 3);
	CU_ASSERT_EQUAL(info.age_ms, 500); /* since the first probe */

	/* another address gets its own solicitation */
	CU_ASSERT_EQUAL(res(c, &b, 4, 20, mac), NBR_QUEUED);
	CU_ASSERT_EQUAL(count_ev(EV_SOLICIT), 2);
	CU_ASSERT(ipnb_addr_equal(&nth_ev(EV_SOLICIT, 1)->ip, &b));
	CU_ASSERT_EQUAL(nbr_stats(c)->queued, 4);
	CU_ASSERT_EQUAL(nbr_stats(c)->solicits, 2);
	CU_ASSERT_EQUAL(nbr_stats(c)->hits, 0);
	free_cache(c); /* the four queued packets are dropped, not leaked */
}

static void test_retransmit_and_fail(void)
{
	struct nbr_cache *c = new_std();
	struct ipnb_addr a = v4(192, 168, 1, 10);
	struct nbr_entry_info info;
	uint8_t mac[6];

	CU_ASSERT_EQUAL(res(c, &a, 1, 0, mac), NBR_QUEUED);
	CU_ASSERT_EQUAL(res(c, &a, 2, 100, mac), NBR_QUEUED);
	reset_ev();

	CU_ASSERT_EQUAL(nbr_tick(c, 999), 1);
	CU_ASSERT_EQUAL(nev, 0);
	CU_ASSERT_EQUAL(nbr_tick(c, 1000), RETRANS);
	CU_ASSERT_EQUAL(count_ev(EV_SOLICIT), 1);
	CU_ASSERT(ipnb_addr_equal(&nth_ev(EV_SOLICIT, 0)->ip, &a));
	CU_ASSERT_EQUAL(nbr_tick(c, 1500), 500);
	CU_ASSERT_EQUAL(count_ev(EV_SOLICIT), 1);
	CU_ASSERT_EQUAL(nbr_tick(c, 2000), RETRANS);
	CU_ASSERT_EQUAL(count_ev(EV_SOLICIT), 2);
	CU_ASSERT_EQUAL(nbr_stats(c)->solicits, 3); /* max_probes in all */
	CU_ASSERT_EQUAL(res(c, &a, 3, 2500, mac), NBR_QUEUED);
	CU_ASSERT_EQUAL(nbr_tick(c, 2999), 1);
	CU_ASSERT_EQUAL(count_ev(EV_DROP), 0);

	/* no answer to the third probe: FAILED, the queue dropped in order */
	CU_ASSERT_EQUAL(nbr_tick(c, 3000), FAILED);
	CU_ASSERT_EQUAL(count_ev(EV_SOLICIT), 2);
	CU_ASSERT_EQUAL_FATAL(count_ev(EV_DROP), 3);
	CU_ASSERT_EQUAL(nth_ev(EV_DROP, 0)->id, 1);
	CU_ASSERT_EQUAL(nth_ev(EV_DROP, 1)->id, 2);
	CU_ASSERT_EQUAL(nth_ev(EV_DROP, 2)->id, 3);
	CU_ASSERT_EQUAL(count_ev(EV_RELEASE), 0);
	CU_ASSERT_EQUAL(live_pkts, 0);
	CU_ASSERT_EQUAL(nbr_stats(c)->drops_failed, 3);
	CU_ASSERT_FATAL(dump_one(c, &a, 3000, &info));
	CU_ASSERT_EQUAL(info.state, NBR_FAILED);
	CU_ASSERT_EQUAL(info.pending, 0);

	/* while FAILED: dropped at once, left with the caller, no probe */
	reset_ev();
	CU_ASSERT_EQUAL(res(c, &a, 4, 3001, mac), NBR_DROP);
	CU_ASSERT_EQUAL(res(c, &a, 5, 3000 + FAILED - 1, mac), NBR_DROP);
	CU_ASSERT_EQUAL(nev, 0);
	CU_ASSERT_EQUAL(nbr_stats(c)->drops_failed, 5);
	CU_ASSERT_EQUAL(nbr_tick(c, 3000 + FAILED - 1), 1);

	/* failed_ms later a lookup starts over */
	CU_ASSERT_EQUAL(res(c, &a, 6, 3000 + FAILED, mac), NBR_QUEUED);
	CU_ASSERT_EQUAL(count_ev(EV_SOLICIT), 1);
	CU_ASSERT_FATAL(dump_one(c, &a, 3000 + FAILED, &info));
	CU_ASSERT_EQUAL(info.state, NBR_INCOMPLETE);
	CU_ASSERT_EQUAL(info.pending, 1);
	CU_ASSERT_EQUAL(info.age_ms, 0);
	/* and this time the answer comes */
	nbr_learn(c, &a, mac1, 3000 + FAILED + 5, true);
	CU_ASSERT_EQUAL(count_ev(EV_RELEASE), 1);
	CU_ASSERT_EQUAL(nth_ev(EV_RELEASE, 0)->id, 6);
	free_cache(c);
}

/* A FAILED entry that nobody looks up goes away with nbr_tick(). */
static void test_failed_expires(void)
{
	struct nbr_cache *c = new_std();
	struct ipnb_addr a = v6(0xfd00, 7);
	uint8_t mac[6];

	CU_ASSERT_EQUAL(res(c, &a, 1, 0, mac), NBR_QUEUED);
	nbr_tick(c, 1000);
	nbr_tick(c, 2000);
	CU_ASSERT_EQUAL(nbr_tick(c, 3000), FAILED);
	CU_ASSERT_EQUAL(dump_count(c, 3000), 1);
	CU_ASSERT_EQUAL(nbr_tick(c, 3000 + FAILED), UINT64_MAX);
	CU_ASSERT_EQUAL(dump_count(c, 3000 + FAILED), 0);
	free_cache(c);
}

/* max_probes 0 is taken as 1: the first solicitation always goes out. */
static void test_one_probe(void)
{
	struct nbr_cfg cfg = std_cfg();
	struct nbr_cache *c;
	uint8_t mac[6];
	struct ipnb_addr a = v4(10, 0, 0, 9);

	cfg.max_probes = 0;
	c = nbr_new(&cfg, &rec_ops);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	reset_ev();
	CU_ASSERT_EQUAL(res(c, &a, 1, 0, mac), NBR_QUEUED);
	CU_ASSERT_EQUAL(count_ev(EV_SOLICIT), 1);
	CU_ASSERT_EQUAL(nbr_tick(c, RETRANS), FAILED);
	CU_ASSERT_EQUAL(count_ev(EV_SOLICIT), 1);
	CU_ASSERT_EQUAL(count_ev(EV_DROP), 1);
	free_cache(c);
}

static void test_learn_releases(void)
{
	struct nbr_cache *c = new_std();
	struct ipnb_addr a = v4(192, 168, 1, 10), b = v4(192, 168, 1, 11);
	struct nbr_entry_info info;
	uint8_t mac[6];

	CU_ASSERT_EQUAL(res(c, &a, 1, 0, mac), NBR_QUEUED);
	CU_ASSERT_EQUAL(res(c, &b, 2, 0, mac), NBR_QUEUED);
	CU_ASSERT_EQUAL(res(c, &a, 3, 0, mac), NBR_QUEUED);
	CU_ASSERT_EQUAL(res(c, &a, 4, 0, mac), NBR_QUEUED);
	reset_ev();

	/* the answer for a releases a's packets only, in order, with a's MAC */
	nbr_learn(c, &a, mac1, 50, false);
	CU_ASSERT_EQUAL_FATAL(count_ev(EV_RELEASE), 3);
	CU_ASSERT_EQUAL(nev, 3);
	for (size_t i = 0; i < 3; i++) {
		static const int order[3] = {1, 3, 4};

		CU_ASSERT_EQUAL(nth_ev(EV_RELEASE, i)->id, order[i]);
		CU_ASSERT(memcmp(nth_ev(EV_RELEASE, i)->mac, mac1, 6) == 0);
	}
	CU_ASSERT_EQUAL(nbr_stats(c)->releases, 3);
	CU_ASSERT_FATAL(dump_one(c, &a, 60, &info));
	CU_ASSERT_EQUAL(info.state, NBR_REACHABLE);
	CU_ASSERT_EQUAL(info.pending, 0);
	CU_ASSERT(memcmp(info.mac, mac1, 6) == 0);
	CU_ASSERT_EQUAL(info.age_ms, 10);

	/* a reply to our solicitation may come with only_existing too */
	reset_ev();
	nbr_learn(c, &b, mac2, 70, true);
	CU_ASSERT_EQUAL_FATAL(count_ev(EV_RELEASE), 1);
	CU_ASSERT_EQUAL(nth_ev(EV_RELEASE, 0)->id, 2);
	CU_ASSERT(memcmp(nth_ev(EV_RELEASE, 0)->mac, mac2, 6) == 0);
	CU_ASSERT_EQUAL(live_pkts, 0);

	CU_ASSERT_EQUAL(res(c, &a, 5, 80, mac), NBR_HIT);
	CU_ASSERT(memcmp(mac, mac1, 6) == 0);
	CU_ASSERT_EQUAL(res(c, &b, 6, 80, mac), NBR_HIT);
	CU_ASSERT(memcmp(mac, mac2, 6) == 0);
	/* no more retransmissions once resolved */
	reset_ev();
	CU_ASSERT_EQUAL(nbr_tick(c, 5000), REACHABLE - 5000 + 50);
	CU_ASSERT_EQUAL(nev, 0);

	/* a late answer after FAILED also makes the entry usable again */
	{
		struct ipnb_addr d = v4(192, 168, 1, 12);

		CU_ASSERT_EQUAL(res(c, &d, 7, 5000, mac), NBR_QUEUED);
		nbr_tick(c, 6000);
		nbr_tick(c, 7000);
		nbr_tick(c, 8000);
		CU_ASSERT_FATAL(dump_one(c, &d, 8000, &info));
		CU_ASSERT_EQUAL(info.state, NBR_FAILED);
		nbr_learn(c, &d, mac2, 8100, true);
		CU_ASSERT_EQUAL(res(c, &d, 8, 8200, mac), NBR_HIT);
		CU_ASSERT(memcmp(mac, mac2, 6) == 0);
	}
	free_cache(c);
}

/* The LAN must not make us send unicast to a group or null address. */
static void test_learn_bad_mac(void)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t mcast[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
	static const uint8_t zero[6];
	struct nbr_cache *c = new_std();
	struct ipnb_addr a = v4(192, 168, 1, 10);
	uint8_t mac[6];

	nbr_learn(c, &a, bcast, 0, false);
	nbr_learn(c, &a, mcast, 0, false);
	nbr_learn(c, &a, zero, 0, false);
	CU_ASSERT_EQUAL(dump_count(c, 0), 0);
	CU_ASSERT_EQUAL(res(c, &a, 1, 0, mac), NBR_QUEUED);
	nbr_learn(c, &a, bcast, 1, true);
	CU_ASSERT_EQUAL(count_ev(EV_RELEASE), 0);
	nbr_learn(c, &a, mac1, 2, true);
	CU_ASSERT_EQUAL(count_ev(EV_RELEASE), 1);
	nbr_learn(c, &a, mcast, 3, true);
	CU_ASSERT_EQUAL(res(c, &a, 2, 4, mac), NBR_HIT);
	CU_ASSERT(memcmp(mac, mac1, 6) == 0);
	free_cache(c);
}

static void test_stale(void)
{
	struct nbr_cache *c = new_std();
	struct ipnb_addr a = v4(192, 168, 1, 10);
	struct nbr_entry_info info;
	uint8_t mac[6];

	nbr_learn(c, &a, mac1, 0, false);
	CU_ASSERT_EQUAL(res(c, &a, 1, REACHABLE - 1, mac), NBR_HIT);
	CU_ASSERT_EQUAL(nev, 0);
	CU_ASSERT_EQUAL(nbr_tick(c, REACHABLE - 1), 1);
	CU_ASSERT_FATAL(dump_one(c, &a, REACHABLE - 1, &info));
	CU_ASSERT_EQUAL(info.state, NBR_REACHABLE);

	/* REACHABLE -> STALE; nothing to send for that */
	CU_ASSERT_EQUAL(nbr_tick(c, REACHABLE), STALE);
	CU_ASSERT_EQUAL(nev, 0);
	CU_ASSERT_FATAL(dump_one(c, &a, REACHABLE, &info));
	CU_ASSERT_EQUAL(info.state, NBR_STALE);
	CU_ASSERT_EQUAL(info.age_ms, REACHABLE);

	/* STALE still hits; the first lookup asks once */
	CU_ASSERT_EQUAL(res(c, &a, 2, REACHABLE + 10, mac), NBR_HIT);
	CU_ASSERT(memcmp(mac, mac1, 6) == 0);
	CU_ASSERT_EQUAL_FATAL(count_ev(EV_SOLICIT), 1);
	CU_ASSERT(ipnb_addr_equal(&nth_ev(EV_SOLICIT, 0)->ip, &a));
	CU_ASSERT_EQUAL(res(c, &a, 3, REACHABLE + 20, mac), NBR_HIT);
	CU_ASSERT_EQUAL(res(c, &a, 4, 2 * REACHABLE + 9, mac), NBR_HIT);
	CU_ASSERT_EQUAL(count_ev(EV_SOLICIT), 1);
	/* still unconfirmed reachable_ms after asking: ask again, once */
	CU_ASSERT_EQUAL(res(c, &a, 5, 2 * REACHABLE + 10, mac), NBR_HIT);
	CU_ASSERT_EQUAL(res(c, &a, 6, 2 * REACHABLE + 11, mac), NBR_HIT);
	CU_ASSERT_EQUAL(count_ev(EV_SOLICIT), 2);
	CU_ASSERT_EQUAL(nbr_stats(c)->hits, 6);

	/* removed stale_ms after the last use */
	reset_ev();
	CU_ASSERT_EQUAL(nbr_tick(c, 2 * REACHABLE + 11), STALE);
	CU_ASSERT_EQUAL(nbr_tick(c, 2 * REACHABLE + 11 + STALE - 1), 1);
	CU_ASSERT_EQUAL(dump_count(c, 0), 1);
	CU_ASSERT_EQUAL(nbr_tick(c, 2 * REACHABLE + 11 + STALE), UINT64_MAX);
	CU_ASSERT_EQUAL(dump_count(c, 0), 0);
	CU_ASSERT_EQUAL(nev, 0);
	CU_ASSERT_EQUAL(nbr_stats(c)->evictions, 0); /* expiry is not eviction */
	free_cache(c);
}

/* A confirmation brings a STALE entry back to REACHABLE, and the next
 * STALE period asks again. Lookups need no nbr_tick() to see the ageing. */
static void test_stale_confirmed(void)
{
	struct nbr_cache *c = new_std();
	struct ipnb_addr a = v6(0xfd00, 1);
	struct nbr_entry_info info;
	uint8_t mac[6];

	nbr_learn(c, &a, mac1, 0, false);
	CU_ASSERT_EQUAL(res(c, &a, 1, REACHABLE, mac), NBR_HIT);
	CU_ASSERT_EQUAL(count_ev(EV_SOLICIT), 1);
	nbr_learn(c, &a, mac2, REACHABLE + 5, true);
	CU_ASSERT_FATAL(dump_one(c, &a, REACHABLE + 5, &info));
	CU_ASSERT_EQUAL(info.state, NBR_REACHABLE);
	CU_ASSERT_EQUAL(info.age_ms, 0);
	CU_ASSERT_EQUAL(res(c, &a, 2, REACHABLE + 6, mac), NBR_HIT);
	CU_ASSERT(memcmp(mac, mac2, 6) == 0);
	CU_ASSERT_EQUAL(count_ev(EV_SOLICIT), 1);
	/* dump shows STALE once reachable_ms has passed, even without a tick */
	CU_ASSERT_FATAL(dump_one(c, &a, 2 * REACHABLE + 5, &info));
	CU_ASSERT_EQUAL(info.state, NBR_STALE);
	CU_ASSERT_EQUAL(res(c, &a, 3, 2 * REACHABLE + 5, mac), NBR_HIT);
	CU_ASSERT_EQUAL(count_ev(EV_SOLICIT), 2);
	free_cache(c);
}

/* Without a tick, a lookup after the STALE timeout starts over. */
static void test_stale_lazy_expiry(void)
{
	struct nbr_cache *c = new_std();
	struct ipnb_addr a = v4(10, 1, 1, 1);
	uint8_t mac[6];

	nbr_learn(c, &a, mac1, 0, false);
	CU_ASSERT_EQUAL(res(c, &a, 1, REACHABLE + STALE - 1, mac), NBR_HIT);
	/* used at REACHABLE + STALE - 1: good for stale_ms more */
	CU_ASSERT_EQUAL(res(c, &a, 2, REACHABLE + 2 * STALE - 2, mac), NBR_HIT);
	CU_ASSERT_EQUAL(res(c, &a, 3, REACHABLE + 3 * STALE - 2, mac), NBR_QUEUED);
	/* the first STALE lookup, the one reachable_ms after it, the new entry */
	CU_ASSERT_EQUAL(count_ev(EV_SOLICIT), 3);
	free_cache(c);
}

static void test_pending_bounds(void)
{
	struct nbr_cache *c = new_std(); /* 3 per entry, 5 in all */
	struct ipnb_addr a = v4(10, 0, 0, 1), b = v4(10, 0, 0, 2), d = v4(10, 0, 0, 3);
	struct nbr_entry_info info;
	uint8_t mac[6];

	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(res(c, &a, 10 + i, 0, mac), NBR_QUEUED);
	/* per-entry bound: handed back, not dropped through the callback */
	CU_ASSERT_EQUAL(res(c, &a, 13, 0, mac), NBR_DROP);
	CU_ASSERT_EQUAL(count_ev(EV_DROP), 0);
	CU_ASSERT_EQUAL(nbr_stats(c)->drops_queue_full, 1);

	CU_ASSERT_EQUAL(res(c, &b, 20, 0, mac), NBR_QUEUED);
	CU_ASSERT_EQUAL(res(c, &b, 21, 0, mac), NBR_QUEUED);
	/* total bound, although b holds only two */
	CU_ASSERT_EQUAL(res(c, &b, 22, 0, mac), NBR_DROP);
	CU_ASSERT_EQUAL(nbr_stats(c)->drops_queue_full, 2);

	/* a new address still gets its entry and solicitation */
	reset_ev();
	CU_ASSERT_EQUAL(res(c, &d, 30, 0, mac), NBR_DROP);
	CU_ASSERT_EQUAL(count_ev(EV_SOLICIT), 1);
	CU_ASSERT_EQUAL(count_ev(EV_DROP), 0);
	CU_ASSERT_EQUAL(nbr_stats(c)->drops_queue_full, 3);
	CU_ASSERT_FATAL(dump_one(c, &d, 0, &info));
	CU_ASSERT_EQUAL(info.state, NBR_INCOMPLETE);
	CU_ASSERT_EQUAL(info.pending, 0);
	CU_ASSERT_EQUAL(nbr_stats(c)->queued, 5);
	CU_ASSERT_EQUAL(live_pkts, 5);

	/* releasing a's three makes room for d */
	nbr_learn(c, &a, mac1, 10, true);
	CU_ASSERT_EQUAL(count_ev(EV_RELEASE), 3);
	CU_ASSERT_EQUAL(res(c, &d, 31, 10, mac), NBR_QUEUED);
	CU_ASSERT_EQUAL(res(c, &d, 32, 10, mac), NBR_QUEUED);
	CU_ASSERT_EQUAL(res(c, &d, 33, 10, mac), NBR_QUEUED);
	CU_ASSERT_EQUAL(res(c, &d, 34, 10, mac), NBR_DROP);
	CU_ASSERT_EQUAL(live_pkts, 5);
	free_cache(c);
}

/* max_pending_per_entry / _total 0: nothing is ever queued, but
 * resolution still runs. */
static void test_no_queue(void)
{
	struct nbr_cfg cfg = std_cfg();
	struct nbr_cache *c;
	struct ipnb_addr a = v4(10, 0, 0, 1);
	uint8_t mac[6];

	cfg.max_pending_total = 0;
	c = nbr_new(&cfg, &rec_ops);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	reset_ev();
	CU_ASSERT_EQUAL(res(c, &a, 1, 0, mac), NBR_DROP);
	CU_ASSERT_EQUAL(count_ev(EV_SOLICIT), 1);
	nbr_learn(c, &a, mac1, 1, true);
	CU_ASSERT_EQUAL(res(c, &a, 2, 2, mac), NBR_HIT);
	free_cache(c);

	cfg = std_cfg();
	cfg.max_pending_per_entry = 0;
	c = nbr_new(&cfg, &rec_ops);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(res(c, &a, 1, 0, mac), NBR_DROP);
	free_cache(c);
}

static void test_table_full(void)
{
	struct nbr_cache *c = new_std(); /* 4 entries */
	struct ipnb_addr ip[7];
	struct nbr_entry_info info;
	uint8_t mac[6];

	for (int i = 0; i < 7; i++)
		ip[i] = v4(10, 0, 1, (uint8_t)i);
	for (int i = 0; i < 4; i++)
		nbr_learn(c, &ip[i], mac1, (uint64_t)i, false);
	/* use order, oldest first: 1, 3, 0, 2 */
	CU_ASSERT_EQUAL(res(c, &ip[1], 1, 10, mac), NBR_HIT);
	CU_ASSERT_EQUAL(res(c, &ip[3], 2, 11, mac), NBR_HIT);
	CU_ASSERT_EQUAL(res(c, &ip[0], 3, 12, mac), NBR_HIT);
	CU_ASSERT_EQUAL(res(c, &ip[2], 4, 13, mac), NBR_HIT);

	/* a new address evicts the least recently used: 1 */
	CU_ASSERT_EQUAL(res(c, &ip[4], 5, 20, mac), NBR_QUEUED);
	CU_ASSERT_EQUAL(nbr_stats(c)->evictions, 1);
	CU_ASSERT_EQUAL(dump_count(c, 20), 4);
	CU_ASSERT(!dump_one(c, &ip[1], 20, &info));
	CU_ASSERT(dump_one(c, &ip[3], 20, &info));

	/* 3 is now the oldest; give it packets, and it is skipped for 0 */
	nbr_forget(c, &ip[3]);
	CU_ASSERT_EQUAL(res(c, &ip[3], 6, 21, mac), NBR_QUEUED); /* newest */
	CU_ASSERT_EQUAL(res(c, &ip[2], 7, 22, mac), NBR_HIT);	 /* 0 oldest */
	CU_ASSERT_EQUAL(res(c, &ip[0], 8, 23, mac), NBR_HIT);	 /* 4 oldest, pending */
	/* order now: 4 (pending), 3 (pending), 2, 0 */
	CU_ASSERT_EQUAL(res(c, &ip[5], 9, 30, mac), NBR_QUEUED);
	CU_ASSERT_EQUAL(nbr_stats(c)->evictions, 2);
	CU_ASSERT(!dump_one(c, &ip[2], 30, &info));
	CU_ASSERT(dump_one(c, &ip[4], 30, &info));
	CU_ASSERT(dump_one(c, &ip[0], 30, &info));

	/* 0 is the last entry without packets */
	CU_ASSERT_EQUAL(res(c, &ip[6], 10, 31, mac), NBR_QUEUED);
	CU_ASSERT(!dump_one(c, &ip[0], 31, &info));
	CU_ASSERT_EQUAL(nbr_stats(c)->evictions, 3);
	CU_ASSERT_EQUAL(live_pkts, 4);

	/* every entry holds packets: nothing to evict */
	reset_ev();
	CU_ASSERT_EQUAL(res(c, &ip[1], 11, 40, mac), NBR_DROP);
	CU_ASSERT_EQUAL(nev, 0); /* no solicitation, no callback drop */
	CU_ASSERT_EQUAL(nbr_stats(c)->drops_table_full, 1);
	CU_ASSERT_EQUAL(nbr_stats(c)->evictions, 3);
	nbr_learn(c, &ip[1], mac2, 40, false); /* no room: ignored */
	CU_ASSERT(!dump_one(c, &ip[1], 40, &info));
	CU_ASSERT_EQUAL(dump_count(c, 40), 4);

	/* once one resolves, the table has room again */
	nbr_learn(c, &ip[4], mac2, 41, true);
	CU_ASSERT_EQUAL(count_ev(EV_RELEASE), 1);
	CU_ASSERT_EQUAL(res(c, &ip[1], 12, 42, mac), NBR_QUEUED);
	CU_ASSERT(!dump_one(c, &ip[4], 42, &info));
	free_cache(c);
}

static void test_only_existing(void)
{
	struct nbr_cache *c = new_std();
	struct ipnb_addr a = v4(10, 0, 0, 1);
	struct nbr_entry_info info;
	uint8_t mac[6];

	nbr_learn(c, &a, mac1, 0, true);
	CU_ASSERT_EQUAL(dump_count(c, 0), 0);
	CU_ASSERT_EQUAL(res(c, &a, 1, 0, mac), NBR_QUEUED); /* still unknown */

	/* nor does it evict anything from a full table */
	for (uint8_t i = 2; i < 5; i++) {
		struct ipnb_addr x = v4(10, 0, 0, i);

		nbr_learn(c, &x, mac1, 1, false);
	}
	for (uint8_t i = 5; i < 9; i++) {
		struct ipnb_addr x = v4(10, 0, 0, i);

		nbr_learn(c, &x, mac2, 2, true);
	}
	CU_ASSERT_EQUAL(dump_count(c, 2), 4);
	CU_ASSERT_EQUAL(nbr_stats(c)->evictions, 0);
	/* without only_existing a new address does evict: the oldest entry
	 * without packets (a, first, is INCOMPLETE with one) */
	{
		struct ipnb_addr x = v4(10, 0, 0, 9), old = v4(10, 0, 0, 2);

		nbr_learn(c, &x, mac1, 3, false);
		CU_ASSERT_EQUAL(nbr_stats(c)->evictions, 1);
		CU_ASSERT(dump_one(c, &x, 3, &info));
		CU_ASSERT(!dump_one(c, &old, 3, &info));
		CU_ASSERT(dump_one(c, &a, 3, &info));
	}

	nbr_learn(c, &a, mac2, 3, true);
	CU_ASSERT_FATAL(dump_one(c, &a, 3, &info));
	CU_ASSERT_EQUAL(info.state, NBR_REACHABLE);
	CU_ASSERT(memcmp(info.mac, mac2, 6) == 0);
	free_cache(c);
}

static void test_forget(void)
{
	struct nbr_cache *c = new_std();
	struct ipnb_addr a = v4(10, 0, 0, 1), b = v4(10, 0, 0, 2);
	uint8_t mac[6];

	CU_ASSERT_EQUAL(res(c, &a, 1, 0, mac), NBR_QUEUED);
	CU_ASSERT_EQUAL(res(c, &b, 2, 0, mac), NBR_QUEUED);
	CU_ASSERT_EQUAL(res(c, &a, 3, 0, mac), NBR_QUEUED);
	reset_ev();
	nbr_forget(c, &a);
	CU_ASSERT_EQUAL_FATAL(count_ev(EV_DROP), 2);
	CU_ASSERT_EQUAL(nth_ev(EV_DROP, 0)->id, 1);
	CU_ASSERT_EQUAL(nth_ev(EV_DROP, 1)->id, 3);
	CU_ASSERT_EQUAL(nev, 2);
	CU_ASSERT_EQUAL(live_pkts, 1);
	CU_ASSERT_EQUAL(dump_count(c, 0), 1);
	/* removal is not a failure */
	CU_ASSERT_EQUAL(nbr_stats(c)->drops_failed, 0);

	nbr_forget(c, &a); /* unknown: nothing */
	CU_ASSERT_EQUAL(nev, 2);
	nbr_learn(c, &b, mac1, 1, false);
	nbr_forget(c, &b);
	CU_ASSERT_EQUAL(dump_count(c, 1), 0);
	/* forgotten means unknown: a lookup resolves from scratch */
	reset_ev();
	CU_ASSERT_EQUAL(res(c, &b, 4, 2, mac), NBR_QUEUED);
	CU_ASSERT_EQUAL(count_ev(EV_SOLICIT), 1);
	free_cache(c);
}

static void test_dump(void)
{
	struct nbr_cfg cfg = std_cfg();
	struct nbr_cache *c;
	struct ipnb_addr a = v4(10, 0, 0, 1), b = v6(0xfd00, 2), d = v4(10, 0, 0, 3);
	struct nbr_entry_info out[8], info;
	uint8_t mac[6];
	size_t n;

	cfg.max_entries = 8;
	c = nbr_new(&cfg, &rec_ops);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(nbr_dump(c, 0, out, 8), 0);

	nbr_learn(c, &a, mac1, 100, false);		      /* REACHABLE */
	CU_ASSERT_EQUAL(res(c, &b, 1, 200, mac), NBR_QUEUED); /* INCOMPLETE */
	CU_ASSERT_EQUAL(res(c, &b, 2, 300, mac), NBR_QUEUED);
	CU_ASSERT_EQUAL(res(c, &d, 3, 400, mac), NBR_QUEUED); /* will fail */
	nbr_tick(c, 1400);
	nbr_tick(c, 2400);
	nbr_learn(c, &b, mac2, 2450, true); /* before its failure is due */
	nbr_tick(c, 3400);		    /* d fails */

	n = nbr_dump(c, 3500, out, 8);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_FATAL(dump_one(c, &a, 3500, &info));
	CU_ASSERT_EQUAL(info.ip.family, AF_INET);
	CU_ASSERT_EQUAL(info.state, NBR_REACHABLE);
	CU_ASSERT(memcmp(info.mac, mac1, 6) == 0);
	CU_ASSERT_EQUAL(info.age_ms, 3400);
	CU_ASSERT_EQUAL(info.pending, 0);
	CU_ASSERT_FATAL(dump_one(c, &b, 3500, &info));
	CU_ASSERT_EQUAL(info.ip.family, AF_INET6);
	CU_ASSERT_EQUAL(info.state, NBR_REACHABLE);
	CU_ASSERT(memcmp(info.mac, mac2, 6) == 0);
	CU_ASSERT_EQUAL(info.age_ms, 1050);
	CU_ASSERT_FATAL(dump_one(c, &d, 3500, &info));
	CU_ASSERT_EQUAL(info.state, NBR_FAILED);
	CU_ASSERT_EQUAL(info.age_ms, 3100); /* since its first probe */
	CU_ASSERT_EQUAL(info.pending, 0);

	/* only max entries are written */
	memset(out, 0xa5, sizeof(out));
	CU_ASSERT_EQUAL(nbr_dump(c, 3500, out, 2), 2);
	CU_ASSERT_EQUAL(out[2].ip.family, 0xa5);
	CU_ASSERT_EQUAL(nbr_dump(c, 3500, out, 0), 0);

	/* the dumped IPv4 address is clean whatever the caller's padding */
	{
		struct ipnb_addr dirty = v4(10, 0, 0, 9);

		memset(dirty.bytes + 4, 0xee, 12);
		nbr_learn(c, &dirty, mac1, 3500, false);
		dirty = v4(10, 0, 0, 9);
		CU_ASSERT_FATAL(dump_one(c, &dirty, 3500, &info));
		CU_ASSERT_EQUAL(info.state, NBR_REACHABLE);
	}
	/* a time before the entry's own (a clock read out of order): age 0 */
	CU_ASSERT_FATAL(dump_one(c, &a, 50, &info));
	CU_ASSERT_EQUAL(info.age_ms, 0);
	free_cache(c);
}

static void test_tick_return(void)
{
	struct nbr_cache *c = new_std();
	struct ipnb_addr a = v4(10, 0, 0, 1), b = v4(10, 0, 0, 2);
	uint8_t mac[6];

	CU_ASSERT_EQUAL(nbr_tick(c, 0), UINT64_MAX);
	CU_ASSERT_EQUAL(nbr_tick(c, 123456), UINT64_MAX);
	nbr_learn(c, &a, mac1, 500, false);
	CU_ASSERT_EQUAL(nbr_tick(c, 600), REACHABLE - 100);
	CU_ASSERT_EQUAL(res(c, &b, 1, 700, mac), NBR_QUEUED);
	CU_ASSERT_EQUAL(nbr_tick(c, 800), RETRANS - 100);
	/* a tick that is late by more than a period sends one probe, not a burst */
	reset_ev();
	CU_ASSERT_EQUAL(nbr_tick(c, 700 + 10 * RETRANS), RETRANS);
	CU_ASSERT_EQUAL(count_ev(EV_SOLICIT), 1);
	/* an earlier time than the entries' own: nothing happens, no wrap */
	reset_ev();
	CU_ASSERT_EQUAL(nbr_tick(c, 100), 700 + 11 * RETRANS - 100);
	CU_ASSERT_EQUAL(nev, 0);
	free_cache(c);
}

/* Timeouts near the end of the clock saturate instead of wrapping. */
static void test_time_limits(void)
{
	struct nbr_cfg cfg = std_cfg();
	struct nbr_cache *c;
	struct ipnb_addr a = v4(10, 0, 0, 1), b = v4(10, 0, 0, 2);
	const uint64_t end = UINT64_MAX - 10;
	uint8_t mac[6];

	cfg.reachable_ms = UINT64_MAX;
	cfg.stale_ms = UINT64_MAX;
	c = nbr_new(&cfg, &rec_ops);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	nbr_learn(c, &a, mac1, 5, false);
	/* never stale: reachable_ms is "forever" */
	CU_ASSERT_EQUAL(res(c, &a, 1, end, mac), NBR_HIT);
	CU_ASSERT_EQUAL(count_ev(EV_SOLICIT), 0);
	CU_ASSERT_EQUAL(res(c, &b, 2, end, mac), NBR_QUEUED);
	CU_ASSERT_EQUAL(nbr_tick(c, end), 10); /* b's retransmission, saturated */
	CU_ASSERT_EQUAL(nbr_tick(c, UINT64_MAX), 0);
	CU_ASSERT_EQUAL(count_ev(EV_SOLICIT), 2);
	free_cache(c);
}

static void test_families(void)
{
	struct nbr_cache *c = new_std();
	struct ipnb_addr a4 = v4(10, 0, 0, 1), a6 = v4(10, 0, 0, 1);
	struct nbr_entry_info info;
	uint8_t mac[6];

	/* an IPv6 address whose first bytes are 10.0.0.1 */
	a6.family = AF_INET6;
	nbr_learn(c, &a4, mac1, 0, false);
	CU_ASSERT_EQUAL(res(c, &a6, 1, 1, mac), NBR_QUEUED);
	CU_ASSERT_EQUAL(count_ev(EV_SOLICIT), 1);
	CU_ASSERT_EQUAL(nth_ev(EV_SOLICIT, 0)->ip.family, AF_INET6);
	CU_ASSERT_EQUAL(dump_count(c, 1), 2);
	nbr_learn(c, &a6, mac2, 2, true);
	CU_ASSERT_EQUAL(res(c, &a4, 2, 3, mac), NBR_HIT);
	CU_ASSERT(memcmp(mac, mac1, 6) == 0);
	CU_ASSERT_EQUAL(res(c, &a6, 3, 3, mac), NBR_HIT);
	CU_ASSERT(memcmp(mac, mac2, 6) == 0);
	nbr_forget(c, &a4);
	CU_ASSERT(dump_one(c, &a6, 3, &info));
	CU_ASSERT_EQUAL(dump_count(c, 3), 1);

	/* IPv4 is compared on its four bytes only */
	{
		struct ipnb_addr dirty = v4(10, 0, 0, 7);

		nbr_learn(c, &dirty, mac1, 4, false);
		memset(dirty.bytes + 4, 0x77, 12);
		CU_ASSERT_EQUAL(res(c, &dirty, 4, 4, mac), NBR_HIT);
	}
	free_cache(c);
}

static void test_free_drops_all(void)
{
	struct nbr_cfg cfg = std_cfg();
	struct nbr_cache *c;
	uint8_t mac[6];
	int id = 0;

	cfg.max_entries = 16;
	cfg.max_pending_total = 40;
	c = nbr_new(&cfg, &rec_ops);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	for (uint8_t i = 0; i < 10; i++) {
		struct ipnb_addr x = i & 1 ? v6(0xfd00, i) : v4(10, 0, 0, i);

		for (int k = 0; k < 3; k++)
			CU_ASSERT_EQUAL(res(c, &x, id++, 0, mac), NBR_QUEUED);
	}
	CU_ASSERT_EQUAL(live_pkts, 30);
	reset_ev();
	nbr_free(c);
	CU_ASSERT_EQUAL(count_ev(EV_DROP), 30);
	CU_ASSERT_EQUAL(nev, 30);
	CU_ASSERT_EQUAL(live_pkts, 0);
	reset_ev();
}

/* Without callbacks (ops NULL) the cache still works; the packets here
 * are not heap-allocated, since nothing would free them. */
static void test_no_ops(void)
{
	struct nbr_cfg cfg = std_cfg();
	struct nbr_cache *c = nbr_new(&cfg, NULL);
	struct ipnb_addr a = v4(10, 0, 0, 1);
	int p1, p2;
	uint8_t mac[6];

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(nbr_resolve(c, &a, &p1, 0, mac), NBR_QUEUED);
	CU_ASSERT_EQUAL(nbr_resolve(c, &a, &p2, 0, mac), NBR_QUEUED);
	nbr_learn(c, &a, mac1, 1, true);
	CU_ASSERT_EQUAL(nbr_stats(c)->releases, 2);
	CU_ASSERT_EQUAL(nbr_stats(c)->solicits, 1);
	CU_ASSERT_EQUAL(nbr_resolve(c, &a, &p1, 2, mac), NBR_HIT);
	nbr_free(c);
}

/* A release callback may call back into the cache (the daemon may send
 * the next packet from there): it sees the entry already resolved. */
static struct nbr_cache *reenter_cache;
static unsigned int reenter_hits;

static void cb_release_reenter(void *arg, void *pkt, const uint8_t mac[6])
{
	struct ipnb_addr *ip = arg;
	uint8_t got[6];

	if (nbr_resolve(reenter_cache, ip, pkt, 100, got) == NBR_HIT && memcmp(got, mac, 6) == 0)
		reenter_hits++;
	free(pkt);
	live_pkts--;
}

static void test_reentry(void)
{
	struct nbr_cfg cfg = std_cfg();
	struct ipnb_addr a = v4(10, 0, 0, 1);
	struct nbr_ops ops = {cb_solicit, cb_release_reenter, cb_drop, &a};
	uint8_t mac[6];

	reenter_cache = nbr_new(&cfg, &ops);
	CU_ASSERT_PTR_NOT_NULL_FATAL(reenter_cache);
	reenter_hits = 0;
	CU_ASSERT_EQUAL(res(reenter_cache, &a, 1, 0, mac), NBR_QUEUED);
	CU_ASSERT_EQUAL(res(reenter_cache, &a, 2, 0, mac), NBR_QUEUED);
	nbr_learn(reenter_cache, &a, mac1, 50, true);
	CU_ASSERT_EQUAL(reenter_hits, 2);
	free_cache(reenter_cache);
}

/* ---- random churn against a model ------------------------------------------ */

/*
 * The model keeps the same rules in the plainest form: an array searched
 * linearly, LRU order as a use counter, and queues as arrays of ids.
 */
#define M_ENTRIES 64 /* the largest configuration the model holds */
#define M_PER	  4
#define M_ADDRS	  160

struct m_ent {
	bool used;
	struct ipnb_addr ip;
	uint8_t mac[6];
	enum nbr_state state;
	bool stale_probed;
	unsigned int probes;
	uint64_t t_age, t_probe, t_used, t_failed, seq;
	int q[M_PER];
	size_t nq;
};

static struct m_model {
	struct nbr_cfg cfg;
	struct m_ent e[M_ENTRIES];
	size_t total;
	uint64_t seq;
	struct nbr_stats st;
	struct ev want[MAXEV];
	size_t nwant;
} m;

static void m_ev(char kind, const struct ipnb_addr *ip, int id, const uint8_t *mac)
{
	struct ev e = {.kind = kind, .id = id};

	if (ip)
		e.ip = *ip;
	if (mac)
		memcpy(e.mac, mac, 6);
	CU_ASSERT_FATAL(m.nwant < MAXEV);
	m.want[m.nwant++] = e;
}

static uint64_t m_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static struct m_ent *m_find(const struct ipnb_addr *ip)
{
	for (size_t i = 0; i < m.cfg.max_entries; i++) {
		if (m.e[i].used && ipnb_addr_equal(&m.e[i].ip, ip))
			return &m.e[i];
	}
	return NULL;
}

static uint64_t m_deadline(const struct m_ent *e)
{
	uint64_t s = m_add(e->t_age, m.cfg.reachable_ms);

	switch (e->state) {
	case NBR_INCOMPLETE:
		return m_add(e->t_probe, m.cfg.retrans_ms);
	case NBR_REACHABLE:
		return s;
	case NBR_STALE:
		return m_add(e->t_used > s ? e->t_used : s, m.cfg.stale_ms);
	default:
		return m_add(e->t_failed, m.cfg.failed_ms);
	}
}

static bool m_age(struct m_ent *e, uint64_t now)
{
	if (e->state == NBR_REACHABLE && now >= m_add(e->t_age, m.cfg.reachable_ms)) {
		e->state = NBR_STALE;
		e->stale_probed = false;
	}
	if ((e->state == NBR_STALE || e->state == NBR_FAILED) && now >= m_deadline(e)) {
		e->used = false;
		return false;
	}
	return true;
}

static void m_flush(struct m_ent *e, const uint8_t *mac)
{
	for (size_t i = 0; i < e->nq; i++) {
		m_ev(mac ? EV_RELEASE : EV_DROP, NULL, e->q[i], mac);
		if (mac)
			m.st.releases++;
	}
	m.total -= e->nq;
	e->nq = 0;
}

static struct m_ent *m_alloc(const struct ipnb_addr *ip, uint64_t now)
{
	struct m_ent *e = NULL;

	for (size_t i = 0; i < m.cfg.max_entries && !e; i++) {
		if (!m.e[i].used)
			e = &m.e[i];
	}
	if (!e) {
		for (size_t i = 0; i < m.cfg.max_entries; i++) {
			if (m.e[i].nq == 0 && (!e || m.e[i].seq < e->seq))
				e = &m.e[i];
		}
		if (!e)
			return NULL;
		m.st.evictions++;
	}
	memset(e, 0, sizeof(*e));
	e->used = true;
	e->ip = *ip;
	e->t_used = now;
	e->seq = ++m.seq;
	return e;
}

static enum nbr_result m_resolve(const struct ipnb_addr *ip, int id, uint64_t now, uint8_t *mac)
{
	struct m_ent *e = m_find(ip);

	if (e && !m_age(e, now))
		e = NULL;
	if (!e) {
		e = m_alloc(ip, now);
		if (!e) {
			m.st.drops_table_full++;
			return NBR_DROP;
		}
		e->state = NBR_INCOMPLETE;
		e->probes = 1;
		e->t_age = e->t_probe = now;
		m_ev(EV_SOLICIT, ip, 0, NULL);
		m.st.solicits++;
	} else {
		e->t_used = now;
		e->seq = ++m.seq;
		if (e->state == NBR_REACHABLE || e->state == NBR_STALE) {
			memcpy(mac, e->mac, 6);
			m.st.hits++;
			if (e->state == NBR_STALE &&
			    (!e->stale_probed || now >= m_add(e->t_probe, m.cfg.reachable_ms))) {
				e->stale_probed = true;
				e->t_probe = now;
				m_ev(EV_SOLICIT, ip, 0, NULL);
				m.st.solicits++;
			}
			return NBR_HIT;
		}
		if (e->state == NBR_FAILED) {
			m.st.drops_failed++;
			return NBR_DROP;
		}
	}
	if (e->nq < m.cfg.max_pending_per_entry && m.total < m.cfg.max_pending_total) {
		e->q[e->nq++] = id;
		m.total++;
		m.st.queued++;
		return NBR_QUEUED;
	}
	m.st.drops_queue_full++;
	return NBR_DROP;
}

static void m_learn(const struct ipnb_addr *ip, const uint8_t *mac, uint64_t now, bool only)
{
	struct m_ent *e = m_find(ip);

	if (!e) {
		if (only)
			return;
		e = m_alloc(ip, now);
		if (!e)
			return;
	}
	memcpy(e->mac, mac, 6);
	e->state = NBR_REACHABLE;
	e->t_age = now;
	e->probes = 0;
	e->stale_probed = false;
	m_flush(e, mac);
}

static uint64_t m_tick(uint64_t now)
{
	uint64_t next = UINT64_MAX;

	for (size_t i = 0; i < m.cfg.max_entries; i++) {
		struct m_ent *e = &m.e[i];

		if (!e->used || !m_age(e, now) || e->state != NBR_INCOMPLETE || now < m_deadline(e))
			continue;
		if (e->probes < m.cfg.max_probes) {
			e->probes++;
			e->t_probe = now;
			m_ev(EV_SOLICIT, &e->ip, 0, NULL);
			m.st.solicits++;
		} else {
			e->state = NBR_FAILED;
			e->t_failed = now;
			m.st.drops_failed += e->nq;
			m_flush(e, NULL);
		}
	}
	for (size_t i = 0; i < m.cfg.max_entries; i++) {
		uint64_t d;

		if (!m.e[i].used)
			continue;
		d = m_deadline(&m.e[i]);
		d = d > now ? d - now : 0;
		if (d < next)
			next = d;
	}
	return next;
}

static void m_forget(const struct ipnb_addr *ip)
{
	struct m_ent *e = m_find(ip);

	if (!e)
		return;
	m_flush(e, NULL);
	e->used = false;
}

static int ev_cmp(const void *pa, const void *pb)
{
	const struct ev *a = pa, *b = pb;

	if (a->kind != b->kind)
		return a->kind - b->kind;
	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	if (a->ip.family != b->ip.family)
		return a->ip.family - b->ip.family;
	return memcmp(a->ip.bytes, b->ip.bytes, 16);
}

/* Callbacks of one operation, as a multiset: nbr_tick() and the model walk
 * their entries in different orders. Per-entry FIFO order is checked in the
 * directed tests. */
static bool same_events(void)
{
	if (nev != m.nwant)
		return false;
	qsort(evs, nev, sizeof(evs[0]), ev_cmp);
	qsort(m.want, m.nwant, sizeof(m.want[0]), ev_cmp);
	for (size_t i = 0; i < nev; i++) {
		if (ev_cmp(&evs[i], &m.want[i]) != 0 ||
		    (evs[i].kind == EV_RELEASE && memcmp(evs[i].mac, m.want[i].mac, 6) != 0))
			return false;
	}
	return true;
}

static int info_cmp(const void *pa, const void *pb)
{
	const struct nbr_entry_info *a = pa, *b = pb;

	if (a->ip.family != b->ip.family)
		return a->ip.family - b->ip.family;
	return memcmp(a->ip.bytes, b->ip.bytes, 16);
}

static bool same_dump(struct nbr_cache *c, uint64_t now)
{
	struct nbr_entry_info got[M_ENTRIES + 1], want[M_ENTRIES];
	size_t n = nbr_dump(c, now, got, M_ENTRIES + 1), nw = 0;

	for (size_t i = 0; i < m.cfg.max_entries; i++) {
		const struct m_ent *e = &m.e[i];
		struct nbr_entry_info *w = &want[nw];

		if (!e->used)
			continue;
		memset(w, 0, sizeof(*w));
		w->ip = e->ip;
		memcpy(w->mac, e->mac, 6);
		w->state = e->state;
		if (w->state == NBR_REACHABLE && now >= m_add(e->t_age, m.cfg.reachable_ms))
			w->state = NBR_STALE;
		w->age_ms = now > e->t_age ? now - e->t_age : 0;
		w->pending = e->nq;
		nw++;
	}
	if (n != nw)
		return false;
	qsort(got, n, sizeof(got[0]), info_cmp);
	qsort(want, nw, sizeof(want[0]), info_cmp);
	for (size_t i = 0; i < n; i++) {
		if (info_cmp(&got[i], &want[i]) != 0 || got[i].state != want[i].state ||
		    memcmp(got[i].mac, want[i].mac, 6) != 0 || got[i].age_ms != want[i].age_ms ||
		    got[i].pending != want[i].pending)
			return false;
	}
	return true;
}

static bool same_stats(const struct nbr_stats *s)
{
	return s->hits == m.st.hits && s->queued == m.st.queued &&
	       s->drops_failed == m.st.drops_failed &&
	       s->drops_queue_full == m.st.drops_queue_full &&
	       s->drops_table_full == m.st.drops_table_full && s->evictions == m.st.evictions &&
	       s->solicits == m.st.solicits && s->releases == m.st.releases;
}

/* xorshift64*: deterministic, so a failure replays. */
static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1du) >> 32) % n;
}

/*
 * Runs ops random operations on addresses 0..naddrs of a pool of IPv4 and
 * IPv6 addresses that share their leading bytes, against the model, with
 * the clock moving on by less than max_step between operations, and
 * returns the model's totals. Every operation's callbacks, result, the
 * dump, the statistics and the number of packets held are compared.
 */
static struct nbr_stats run_churn(const struct nbr_cfg *cfg, size_t naddrs, uint32_t max_step,
				  int ops, uint64_t seed)
{
	static const uint8_t macs[3][6] = {
	    {0x00, 0x16, 0x3e, 0, 0, 1}, {0x00, 0x16, 0x3e, 0, 0, 2}, {0x02, 0, 0, 0, 0, 3}};
	struct ipnb_addr addrs[M_ADDRS];
	struct nbr_cache *c;
	uint64_t now = 1000;
	int id = 0;
	unsigned int mismatches = 0;

	CU_ASSERT_FATAL(cfg->max_entries <= M_ENTRIES && cfg->max_pending_per_entry <= M_PER &&
			naddrs <= M_ADDRS);
	memset(&m, 0, sizeof(m));
	m.cfg = *cfg;
	for (size_t i = 0; i < M_ADDRS / 2; i++) {
		addrs[2 * i] = v4(10, 0, (uint8_t)(i >> 4), (uint8_t)i);
		addrs[2 * i + 1] = addrs[2 * i];
		addrs[2 * i + 1].family = AF_INET6;
	}
	c = nbr_new(&m.cfg, &rec_ops);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	rng_state = seed;

	for (int op = 0; op < ops && mismatches == 0; op++) {
		const struct ipnb_addr *ip = &addrs[rnd((uint32_t)naddrs)];
		uint32_t what = rnd(100);

		reset_ev();
		m.nwant = 0;
		now += rnd(4) == 0 ? 0 : rnd(max_step);
		if (what < 50) {
			uint8_t mac[6] = {0}, wmac[6] = {0};
			enum nbr_result want = m_resolve(ip, id, now, wmac);

			if (res(c, ip, id, now, mac) != want ||
			    (want == NBR_HIT && memcmp(mac, wmac, 6) != 0))
				mismatches++;
			id++;
		} else if (what < 72) {
			const uint8_t *mac = macs[rnd(3)];
			const struct m_ent *e = &m.e[rnd((uint32_t)m.cfg.max_entries)];
			bool only = rnd(2);

			/* mostly answers for addresses the cache knows */
			if (e->used && rnd(4) != 0)
				ip = &e->ip;

			m_learn(ip, mac, now, only);
			nbr_learn(c, ip, mac, now, only);
		} else if (what < 92) {
			if (nbr_tick(c, now) != m_tick(now))
				mismatches++;
		} else if (what < 96) {
			m_forget(ip);
			nbr_forget(c, ip);
		}
		if (!same_events() || !same_dump(c, now) || !same_stats(nbr_stats(c)))
			mismatches++;
		if (live_pkts != m.total)
			mismatches++;
		if (mismatches)
			fprintf(stderr, "\n  churn: first mismatch at operation %d\n", op);
	}
	CU_ASSERT_EQUAL(mismatches, 0);
	reset_ev();
	nbr_free(c);
	CU_ASSERT_EQUAL(count_ev(EV_DROP), m.total);
	CU_ASSERT_EQUAL(live_pkts, 0);
	reset_ev();
	return m.st;
}

static void test_churn(void)
{
	struct nbr_cfg small = {
	    .max_entries = 8,
	    .max_pending_per_entry = 3,
	    .max_pending_total = 10,
	    .max_probes = 2,
	    .retrans_ms = 1000,
	    .reachable_ms = 5000,
	    .stale_ms = 8000,
	    .failed_ms = 4000,
	};
	struct nbr_cfg large = {
	    .max_entries = 48,
	    .max_pending_per_entry = 4,
	    .max_pending_total = 40,
	    .max_probes = 3,
	    .retrans_ms = 700,
	    .reachable_ms = 9000,
	    .stale_ms = 6000,
	    .failed_ms = 2500,
	};
	struct nbr_stats st;

	/* A small table over 24 addresses: every bound is hit often. */
	st = run_churn(&small, 24, 700, 5000, 0x1234567887654321u);
	CU_ASSERT(st.evictions > 0);
	CU_ASSERT(st.drops_table_full > 0);
	CU_ASSERT(st.drops_queue_full > 0);
	CU_ASSERT(st.drops_failed > 0);
	CU_ASSERT(st.releases > 0);
	CU_ASSERT(st.hits > 0);
	/* A larger one over 160: longer hash chains, more removals. */
	st = run_churn(&large, M_ADDRS, 150, 5000, 0x0ddc0ffeebadf00du);
	CU_ASSERT(st.evictions > 0);
	CU_ASSERT(st.drops_failed > 0);
	CU_ASSERT(st.hits > 0);
	CU_ASSERT(st.releases > 0);
}

CU_ErrorCode test_nbr_register(void)
{
	CU_pSuite s = CU_add_suite("nbr", NULL, NULL);

	if (!s)
		return CU_get_error();
	CU_add_test(s, "nbr_new arguments", test_new_args);
	CU_add_test(s, "hit after learn", test_hit_after_learn);
	CU_add_test(s, "miss queues and solicits once", test_miss_queues);
	CU_add_test(s, "retransmit then fail", test_retransmit_and_fail);
	CU_add_test(s, "failed entry expires", test_failed_expires);
	CU_add_test(s, "max_probes 0", test_one_probe);
	CU_add_test(s, "learn releases in order", test_learn_releases);
	CU_add_test(s, "learn ignores group MACs", test_learn_bad_mac);
	CU_add_test(s, "stale", test_stale);
	CU_add_test(s, "stale confirmed", test_stale_confirmed);
	CU_add_test(s, "stale expiry without tick", test_stale_lazy_expiry);
	CU_add_test(s, "pending bounds", test_pending_bounds);
	CU_add_test(s, "no queue", test_no_queue);
	CU_add_test(s, "table full", test_table_full);
	CU_add_test(s, "only_existing", test_only_existing);
	CU_add_test(s, "forget", test_forget);
	CU_add_test(s, "dump", test_dump);
	CU_add_test(s, "tick return", test_tick_return);
	CU_add_test(s, "time limits", test_time_limits);
	CU_add_test(s, "IPv4 and IPv6", test_families);
	CU_add_test(s, "free drops all", test_free_drops_all);
	CU_add_test(s, "no callbacks", test_no_ops);
	CU_add_test(s, "callback re-entry", test_reentry);
	CU_add_test(s, "random churn against a model", test_churn);
	return CU_get_error();
}
