/* SPDX-License-Identifier: MIT */
/*
 * iptable.h - the switch's table of registered guest addresses: IPv4/IPv6
 * address -> owning vif.
 *
 * Usage contract:
 *  - Pure: no logging, no xenstore. The only allocation is in ipt_init().
 *  - Capacity is fixed at init (open addressing, at most 3/4 full), so a
 *    guest-facing operation can never make it grow.
 *  - Owners are opaque non-NULL pointers (the data path's vif).
 *  - An address has at most one owner; adding it for a second owner fails
 *    with IPT_ECONFLICT and reports the current owner.
 */
#ifndef IPNB_IPTABLE_H
#define IPNB_IPTABLE_H

#include <stddef.h>

#include "ipnb/addr.h"

enum ipt_err {
	IPT_OK = 0,
	IPT_ECONFLICT = -1, /* registered to another owner */
	IPT_EFULL = -2,	    /* table at capacity */
	IPT_ENOENT = -3,    /* not registered (to this owner) */
	IPT_ENOMEM = -4,    /* ipt_init() only */
};

struct ipt_slot;
struct ipt {
	struct ipt_slot *slots;
	size_t nslots; /* power of two */
	size_t count;  /* live entries */
	size_t used;   /* live entries + tombstones */
	size_t max;    /* capacity requested at init */
};

/* Room for max addresses. Returns IPT_OK or IPT_ENOMEM. */
int ipt_init(struct ipt *t, size_t max);
void ipt_fini(struct ipt *t);

/* Adding an address the owner already holds is IPT_OK (idempotent). On
 * IPT_ECONFLICT, *current (if not NULL) receives the other owner. */
int ipt_add(struct ipt *t, const struct ipnb_addr *a, void *owner, void **current);

/* Removes a only if owner holds it. */
int ipt_del(struct ipt *t, const struct ipnb_addr *a, void *owner);

/* Removes every address of owner; returns how many. */
size_t ipt_del_owner(struct ipt *t, void *owner);

/* The owner of a, or NULL. */
void *ipt_lookup(const struct ipt *t, const struct ipnb_addr *a);

#endif
