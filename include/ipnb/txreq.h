/* SPDX-License-Identifier: MIT */
/*
 * txreq.h - ring -> packet: copies the requests that make up one packet out
 * of a netif TX ring and validates them.
 *
 * Usage contract:
 *  - Pure: reads the shared ring only through RING_COPY_REQUEST (every slot
 *    is copied once, then only the copy is looked at), never writes it, does
 *    not log. The caller answers every consumed slot.
 *  - The caller checks `prod - cons <= RING_SIZE` once per pass before
 *    calling (an impossible producer index is a ring-level fault).
 *  - Verdicts:
 *      TXREQ_OK     the packet is well-formed; copy it.
 *      TXREQ_DROP   answer all its slots with an error and count `reason`.
 *      TXREQ_FATAL  the frontend is hostile or broken; disable the vif.
 *    `consumed` is valid for OK and DROP (how far req_cons moves).
 */
#ifndef IPNB_TXREQ_H
#define IPNB_TXREQ_H

#include <stdbool.h>

#include "ipnb/xenring.h"

/* Packets with more data slots than this are dropped (netif.h's minimum
 * every backend must accept). */
#define TXREQ_MAX_SLOTS XEN_NETIF_NR_SLOTS_MIN
/* ... and with this many (Linux netback's fatal_skb_slots) the frontend is
 * treated as hostile: 19 data slots are dropped, 20 are fatal. */
#define TXREQ_FATAL_SLOTS 20
/* Extra-info slots one packet may carry (one per valid type at most). */
#define TXREQ_MAX_EXTRAS (XEN_NETIF_EXTRA_TYPE_MAX - 1)

enum txreq_verdict {
	TXREQ_OK = 0,
	TXREQ_DROP,
	TXREQ_FATAL,
};

enum txreq_reason {
	TXREQ_R_NONE = 0,
	TXREQ_R_TOO_MANY_SLOTS, /* DROP: 19 data slots */
	TXREQ_R_SHORT_FIRST,	/* DROP: first fragment below an Ethernet header */
	TXREQ_R_SIZE_MISMATCH,	/* DROP: fragments longer than the stated total */
	TXREQ_R_GSO,		/* DROP: GSO not offered by this backend */
	TXREQ_R_CROSS_PAGE,	/* FATAL: offset + size beyond the page */
	TXREQ_R_INCOMPLETE,	/* FATAL: packet or extra chain runs past prod */
	TXREQ_R_BAD_EXTRA,	/* FATAL: unknown or repeated extra type */
	TXREQ_R_BAD_GSO,	/* FATAL: GSO with size 0 or unknown type */
	TXREQ_R_HOSTILE_SLOTS,	/* FATAL: TXREQ_FATAL_SLOTS data slots or more */
	TXREQ_R_COUNT
};

struct txreq_pkt {
	netif_tx_request_t first; /* slot 0 as copied */
	/* Every data slot in ring order (frags[0] is slot 0 with its size cut
	 * to first_len). An oversized packet keeps them all so that each slot
	 * can be answered with its own id. A follow-on slot may be empty
	 * (XSA-448: answered OKAY, nothing to copy). */
	netif_tx_request_t frags[TXREQ_FATAL_SLOTS - 1];
	unsigned int nfrags;
	unsigned int consumed; /* ring slots, extras included */
	/* Ring position of each extra slot, relative to the start, so the
	 * caller can answer it with XEN_NETIF_RSP_NULL. */
	unsigned int extra_pos[TXREQ_MAX_EXTRAS];
	unsigned int nextras;
	netif_extra_info_t gso; /* valid if has_gso */
	bool has_gso;
	uint32_t total;	    /* packet length (slot 0's size) */
	uint32_t first_len; /* data in slot 0: total minus the other slots */
	enum txreq_reason reason;
};

/*
 * Collects the packet starting at ring index cons, with the frontend's
 * producer index prod (already read, with a read barrier after it). On
 * TXREQ_FATAL, out->reason says why.
 */
enum txreq_verdict txreq_collect(const netif_tx_back_ring_t *ring, RING_IDX cons, RING_IDX prod,
				 bool gso_offered, struct txreq_pkt *out);

const char *txreq_reason_name(enum txreq_reason r);

#endif
