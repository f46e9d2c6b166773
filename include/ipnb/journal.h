/* SPDX-License-Identifier: MIT */
/*
 * journal.h - the response journal: for each connected vif, the responses
 * the data path is about to write into its rings, kept in a file under the
 * state directory (tmpfs, /run/ipnetback) that outlives the process.
 *
 * Why: a response slot overlays the request slot it answers. A daemon killed
 * after writing responses into the ring but before publishing rsp_prod
 * leaves slots that are neither requests nor visible responses; a new
 * daemon reading them as requests would use a grant ref made of a
 * response's bytes, and could copy to or from a page the guest granted for
 * something else. With the journal the new daemon knows exactly which slots
 * those are and what they hold, publishes them, and reads requests only
 * past them (docs/design.md, "Restart").
 *
 * Protocol, per ring: jr_commit() (the responses, then the count: the
 * commit point), write them into the ring, publish rsp_prod, jr_done().
 * On attach, jr_pending() says what a dead process committed.
 *
 * Usage contract: pure of logging and xenstore; single-threaded. The file
 * belongs to one queue of one vif (domid/devid) and is tagged with the frontend
 * connection (ring refs and channels) it was written for.
 */
#ifndef IPNB_JOURNAL_H
#define IPNB_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipnb/xenring.h"

enum jr_ring { JR_TX, JR_RX, JR_RINGS };

/* The frontend connection a journal belongs to. */
struct jr_ident {
	uint32_t tx_ref, rx_ref, evtchn_tx, evtchn_rx;
};

/* At most a ring's worth of responses is committed at once. */
#define JR_MAX_RSP (XEN_PAGE_SIZE_BYTES / 16)

struct jr;

/*
 * Opens (creating it if needed) the journal of queue `queue` of vif
 * domid/devid in directory dirfd, or, with dirfd < 0, one in memory only
 * (nothing survives the process). Each queue has a file of its own:
 * vif-D-N.journal for queue 0 (the name a single-queue vif always had),
 * vif-D-N-qK.journal for queue K >= 1. Returns NULL with errno set on
 * failure.
 */
struct jr *jr_open(int dirfd, uint16_t domid, uint32_t devid, unsigned int queue);
/* Unmaps it; with remove, deletes the file too. NULL is fine. */
void jr_close(struct jr *j, bool remove);

/* Whether the journal was last started for connection id. */
bool jr_matches(const struct jr *j, const struct jr_ident *id);
/* Starts it afresh for connection id: nothing pending. */
void jr_start(struct jr *j, const struct jr_ident *id);

/* Records n responses (sizeof(netif_tx_response_t) or
 * sizeof(netif_rx_response_t) bytes each, by ring) to be written from ring
 * index base on. n is at most JR_MAX_RSP. */
void jr_commit(struct jr *j, enum jr_ring r, RING_IDX base, const void *rsp, unsigned int n);
/* Their rsp_prod is published: nothing pending on ring r. */
void jr_done(struct jr *j, enum jr_ring r);
/* What is committed and not done on ring r: its responses and how many
 * (0: none), and their base. */
const void *jr_pending(const struct jr *j, enum jr_ring r, RING_IDX *base, unsigned int *n);

#endif
