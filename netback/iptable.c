/* SPDX-License-Identifier: MIT */
/*
 * iptable.c - the table of registered guest addresses (IPv4/IPv6 -> owning
 * vif): a fixed-capacity, linear-probing hash table. Pure: see
 * include/ipnb/iptable.h for the contract.
 *
 * Deletions leave tombstones so that probe chains stay intact. The contract
 * forbids allocating after ipt_init(), so when tombstones would push the
 * table past 3/4 full it is rebuilt in place (compact()): no scratch array,
 * each live entry is re-placed by swapping it with whatever still waits to
 * be moved, like following the cycles of a permutation.
 */
#include "ipnb/iptable.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define IPT_MIN_SLOTS 8
#define IPT_NONE      SIZE_MAX

enum slot_state {
	SLOT_EMPTY = 0,
	SLOT_LIVE,
	SLOT_TOMB,
	SLOT_MOVE, /* live, but not yet re-placed by compact() */
};

struct ipt_slot {
	void *owner;
	struct ipnb_addr addr;
	uint8_t state;
};

/* FNV-1a over the family and the significant bytes, then a multiply-xorshift
 * finaliser: the table indexes with the low bits, which FNV mixes poorly. */
static size_t addr_hash(const struct ipnb_addr *a)
{
	uint64_t h = 0xcbf29ce484222325u;
	size_t n = ipnb_addr_len(a);

	h = (h ^ a->family) * 0x100000001b3u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ a->bytes[i]) * 0x100000001b3u;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdu;
	h ^= h >> 33;
	return (size_t)h;
}

/* nslots is a power of two of at least 8, so this is exactly 3/4. */
static size_t used_limit(const struct ipt *t)
{
	return t->nslots / 4 * 3;
}

/*
 * Returns the slot holding a, or IPT_NONE. In the latter case *room (if not
 * NULL) receives where a belongs: the first tombstone on its probe path, or
 * else the empty slot that ended the probe.
 */
static size_t probe(const struct ipt *t, const struct ipnb_addr *a, size_t *room)
{
	size_t mask = t->nslots - 1, i, tomb = IPT_NONE;

	if (room)
		*room = IPT_NONE;
	if (!t->slots)
		return IPT_NONE;
	i = addr_hash(a) & mask;
	/* used < nslots always holds, so an empty slot ends every probe; the
	 * bound only guards against a corrupted table. */
	for (size_t n = 0; n < t->nslots; n++, i = (i + 1) & mask) {
		const struct ipt_slot *s = &t->slots[i];

		if (s->state == SLOT_EMPTY) {
			if (room)
				*room = tomb != IPT_NONE ? tomb : i;
			return IPT_NONE;
		}
		if (s->state == SLOT_TOMB) {
			if (tomb == IPT_NONE)
				tomb = i;
			continue;
		}
		if (ipnb_addr_equal(&s->addr, a))
			return i;
	}
	if (room)
		*room = tomb;
	return IPT_NONE;
}

static void compact(struct ipt *t)
{
	size_t mask = t->nslots - 1;

	for (size_t i = 0; i < t->nslots; i++) {
		if (t->slots[i].state == SLOT_LIVE)
			t->slots[i].state = SLOT_MOVE;
		else
			memset(&t->slots[i], 0, sizeof(t->slots[i]));
	}
	/*
	 * Invariant: a LIVE slot is final, and every slot a LIVE entry's probe
	 * passed over is LIVE too, so it never becomes empty again and lookups
	 * stay correct. An entry goes to the first non-LIVE slot on its path;
	 * if another entry is still waiting there, that one is carried on next.
	 */
	for (size_t i = 0; i < t->nslots; i++) {
		struct ipt_slot carry;

		if (t->slots[i].state != SLOT_MOVE)
			continue;
		carry = t->slots[i];
		memset(&t->slots[i], 0, sizeof(t->slots[i]));
		for (;;) {
			size_t j = addr_hash(&carry.addr) & mask;
			struct ipt_slot next;

			while (t->slots[j].state == SLOT_LIVE)
				j = (j + 1) & mask;
			next = t->slots[j];
			t->slots[j] = carry;
			t->slots[j].state = SLOT_LIVE;
			if (next.state != SLOT_MOVE)
				break;
			carry = next;
		}
	}
	t->used = t->count;
}

/* Empties slot i, which holds a live entry. */
static void drop(struct ipt *t, size_t i)
{
	size_t mask = t->nslots - 1;

	memset(&t->slots[i], 0, sizeof(t->slots[i]));
	t->count--;
	if (t->slots[(i + 1) & mask].state != SLOT_EMPTY) {
		t->slots[i].state = SLOT_TOMB;
		return;
	}
	/* A probe that reaches slot i stops at i + 1 anyway, so neither this
	 * slot nor the tombstones just before it hold any chain together. */
	t->used--;
	for (i = (i - 1) & mask; t->slots[i].state == SLOT_TOMB; i = (i - 1) & mask) {
		t->slots[i].state = SLOT_EMPTY;
		t->used--;
	}
}

int ipt_init(struct ipt *t, size_t max)
{
	size_t want, n = IPT_MIN_SLOTS;

	memset(t, 0, sizeof(*t));
	if (max > (SIZE_MAX - 3) / 4)
		return IPT_ENOMEM;
	want = max * 4 / 3 + 1;
	while (n < want) {
		if (n > SIZE_MAX / 2)
			return IPT_ENOMEM;
		n <<= 1;
	}
	/* Checked here so that absurd sizes never reach the allocator. */
	if (n > SIZE_MAX / sizeof(struct ipt_slot))
		return IPT_ENOMEM;
	t->slots = calloc(n, sizeof(struct ipt_slot));
	if (!t->slots)
		return IPT_ENOMEM;
	t->nslots = n;
	t->max = max;
	return IPT_OK;
}

void ipt_fini(struct ipt *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

int ipt_add(struct ipt *t, const struct ipnb_addr *a, void *owner, void **current)
{
	struct ipt_slot *s;
	size_t i, room;

	/* A NULL owner would be indistinguishable from "not registered". */
	if (!owner)
		return IPT_ENOENT;
	i = probe(t, a, &room);
	if (i != IPT_NONE) {
		if (t->slots[i].owner == owner)
			return IPT_OK;
		if (current)
			*current = t->slots[i].owner;
		return IPT_ECONFLICT;
	}
	if (t->count >= t->max || room == IPT_NONE)
		return IPT_EFULL;
	if (t->slots[room].state == SLOT_EMPTY && t->used + 1 > used_limit(t)) {
		compact(t);
		probe(t, a, &room);
	}
	s = &t->slots[room];
	if (s->state == SLOT_EMPTY)
		t->used++;
	memset(s, 0, sizeof(*s));
	s->addr.family = a->family;
	memcpy(s->addr.bytes, a->bytes, ipnb_addr_len(a));
	s->owner = owner;
	s->state = SLOT_LIVE;
	t->count++;
	return IPT_OK;
}

/* cppcheck-suppress constParameter ; owners are void * in the header */
int ipt_del(struct ipt *t, const struct ipnb_addr *a, void *owner)
{
	size_t i = probe(t, a, NULL);

	if (i == IPT_NONE || t->slots[i].owner != owner)
		return IPT_ENOENT;
	drop(t, i);
	return IPT_OK;
}

/* cppcheck-suppress constParameter ; as above */
size_t ipt_del_owner(struct ipt *t, void *owner)
{
	size_t n = 0;

	for (size_t i = 0; i < t->nslots; i++) {
		if (t->slots[i].state == SLOT_LIVE && t->slots[i].owner == owner) {
			drop(t, i);
			n++;
		}
	}
	return n;
}

void *ipt_lookup(const struct ipt *t, const struct ipnb_addr *a)
{
	size_t i = probe(t, a, NULL);

	return i == IPT_NONE ? NULL : t->slots[i].owner;
}
