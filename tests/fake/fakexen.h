/* SPDX-License-Identifier: MIT */
/*
 * fakexen.h - test control of the in-process fake of libxengnttab,
 * libxenevtchn and libxenstore (fakexen.c). Unit tests, fuzzers and the
 * benchmark link the daemon's production .c files against fakexen.c instead
 * of -lxengnttab -lxenevtchn -lxenstore; the fake_* calls below let the test
 * play the guests (frontends) and the toolstack.
 *
 * Usage contract:
 *  - The fake is one simulated host: one dom0 (domain 0, always present) and
 *    the guests created with fake_domain_create(). Every handle the daemon
 *    opens (xengnttab_open, xenevtchn_open, xs_open) acts as dom0.
 *  - Single-threaded: call the fake (both the Xen API and fake_*) from one
 *    thread.
 *  - fake_reset() frees everything, including handles the code under test
 *    forgot to close; those handle pointers are dangling afterwards. Call it
 *    in suite set-up and tear-down, after the code under test closed its
 *    handles. After it fake_live_allocs() is 0 and nothing is left for
 *    LeakSanitizer to report.
 *  - Functions returning int return 0 on success or a negative errno value,
 *    so a test can write CU_ASSERT_EQUAL(fake_xs_rm_as(5, p), -EACCES).
 *
 * Differences from the real libraries, on purpose or for simplicity:
 *  - Calls that block in the real library never block here:
 *    xenevtchn_pending() and xs_read_watch() return -1/NULL with errno
 *    EAGAIN when nothing is queued. Poll the fds first, as real code must.
 *  - Mapping a grant returns the guest's own page (shared memory, as on real
 *    Xen). A readonly mapping is not enforced by the MMU: the daemon could
 *    still write through it. Several refs can be mapped in one call only if
 *    the test granted consecutive pages of one block in order (see
 *    fake_grant()); otherwise the map fails with ENOTSUP.
 *  - xenstore transactions are not isolated: operations inside one apply
 *    immediately and are not rolled back by abort or by a failed end.
 *  - The daemon's xs handles are dom0 and never see permission errors;
 *    permission checks apply to the fake_xs_*_as() calls with a non-zero
 *    domid.
 */
#ifndef IPNB_FAKEXEN_H
#define IPNB_FAKEXEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xenevtchn.h>
#include <xengnttab.h>
#include <xenstore.h>

/* ---- whole fake ---------------------------------------------------------- */

/* Frees every domain, grant, port, node, watch, event and handle. */
void fake_reset(void);

/* Blocks the fake itself holds (not counting memory handed to callers). */
size_t fake_live_allocs(void);

/* gnttab + evtchn + xs handles currently open (leak check for the daemon). */
unsigned int fake_handles_open(void);

/* ---- domains ------------------------------------------------------------- */

/*
 * Creates guest domid (1..DOMID_FIRST_RESERVED-1), or brings a destroyed one
 * back with no grants and no ports. Like the toolstack it creates
 * /local/domain/<domid> owned by the guest (perms "n<domid>"), then fires
 * @introduceDomain watches. Returns 0, -EINVAL (domid 0 or reserved) or
 * -EEXIST (already alive).
 */
int fake_domain_create(uint32_t domid);

/*
 * Kills guest domid: xs_is_domain_introduced() turns false, all its grants
 * become invalid (later maps and copies fail; existing mappings stay valid
 * until the daemon unmaps them), all its event-channel ports close (the
 * daemon's bound ports stay bound but notifications go nowhere), then
 * @releaseDomain watches fire. Its xenstore nodes are left for the test
 * (as toolstack) to remove. Returns 0 or -ESRCH.
 */
int fake_domain_destroy(uint32_t domid);

/* ---- grant tables -------------------------------------------------------- */

/* Guests' first usable ref, as in Xen (refs below it are reserved). */
#define FAKE_GNT_FIRST_REF GNTTAB_NR_RESERVED_ENTRIES
/* Most refs one guest can hold at a time. */
#define FAKE_GNT_MAX_REFS 65536u

/*
 * Guest domid grants dom0 access to page, a 4096-byte, 4096-aligned block the
 * test owns (aligned_alloc(4096, 4096)) and frees after revoking or after
 * fake_reset(). Returns the lowest free ref (>= FAKE_GNT_FIRST_REF; refs are
 * reused after revoke, as guests do), or 0 if the domain is not alive, page
 * is NULL or misaligned, or the guest has FAKE_GNT_MAX_REFS grants. To let
 * the daemon map n refs in one xengnttab_map_grant_refs() call, grant the n
 * pages of one aligned_alloc(4096, n * 4096) block in order.
 */
grant_ref_t fake_grant(uint32_t domid, void *page, bool readonly);

/*
 * Ends the grant: later maps and copies using it fail. A mapping made earlier
 * stays usable until unmapped (real Xen would refuse the revoke while
 * mapped). Returns 0 or -EINVAL (no such live grant).
 */
int fake_grant_revoke(uint32_t domid, grant_ref_t ref);

/* Pages currently mapped through all gnttab handles. */
unsigned int fake_gnt_mapped_count(void);

/*
 * xengnttab_grant_copy() calls and segments passed to it since the last
 * fake_reset(), including calls that failed. Take deltas to check batching.
 */
uint64_t fake_gnt_copy_calls(void);
uint64_t fake_gnt_copy_segs(void);

/*
 * In the next xengnttab_grant_copy() call that gets past argument checks,
 * segments [first, first + n) that would have succeeded get status (a
 * negative GNTST_* value) instead and are not copied.
 */
void fake_gnt_fail_next_copy(uint32_t first, uint32_t n, int16_t status);

/* The next xengnttab_grant_copy() call returns -1 with errno err. */
void fake_gnt_fail_next_copy_call(int err);

/* The next xengnttab_map_grant_ref(s) call returns NULL with errno err. */
void fake_gnt_fail_next_map(int err);

/* ---- event channels ------------------------------------------------------ */

/*
 * The guest allocates an unbound port for dom0 (what netfront does before
 * writing event-channel). Returns the port (>= 1), or 0 if the domain is not
 * alive.
 */
evtchn_port_t fake_evtchn_alloc_unbound(uint32_t domid);

/*
 * The guest notifies its port. If the daemon bound it, the daemon's local
 * port becomes pending: unless masked, it is queued on the daemon's handle
 * (xenevtchn_fd() readable) and masked until xenevtchn_unmask(); kicks while
 * masked coalesce into one event delivered on unmask. Returns 0, -EINVAL
 * (no such port) or -ENOTCONN (not bound: the kick is lost, as in Xen).
 *
 * Note that, as Xen does, xenevtchn_bind_interdomain() marks the new local
 * port pending once, so the daemon sees one event right after binding.
 */
int fake_evtchn_kick(uint32_t domid, evtchn_port_t port);

/* xenevtchn_notify() calls the daemon made towards the guest's port. */
uint64_t fake_evtchn_notify_count(uint32_t domid, evtchn_port_t port);

/* The daemon's local port bound to the guest's port, or 0 if unbound. */
evtchn_port_t fake_evtchn_peer(uint32_t domid, evtchn_port_t port);

/* Local ports currently bound through all evtchn handles. */
unsigned int fake_evtchn_bound_count(void);

/* ---- xenstore ------------------------------------------------------------ */

/*
 * The tree starts with /, /local, /local/domain and /local/domain/0, all
 * owned by dom0 with no access for others ("n0"). Permissions follow
 * xenstored: dom0 may do anything; a node's owner (perms[0].id) may read and
 * write it; another domain gets its own entry's bits if listed, else
 * perms[0].perms. Writing needs write access on the node or, when creating
 * it, on its nearest existing ancestor. Missing parents are created too;
 * new nodes inherit their parent's perms, and nodes a guest creates are
 * owned by that guest. Removing needs write access on the node. Relative
 * paths are relative to /local/domain/<domid> of the acting domain (dom0
 * for xs handles).
 *
 * Watches (xs_watch) fire once right after registration, as xenstored does,
 * so that a watcher always starts by reading the current state; then on
 * every write, mkdir that creates, set_permissions or rm of the watched
 * path or of a node below it (events carry the changed path), and on rm of
 * an ancestor (events carry the watched path). A watch registered with a
 * relative path gets relative event paths. @introduceDomain and
 * @releaseDomain fire on fake_domain_create() and fake_domain_destroy().
 *
 * Each handle queues at most FAKE_XS_EVENT_QUEUE_MAX events, so a guest
 * rewriting its keys in a loop cannot grow the daemon's memory: when the
 * queue is full, an event equal (path and token) to a queued one is
 * dropped, since the watcher reads the node's current value anyway;
 * otherwise the oldest event is discarded. Both are counted in
 * fake_xs_events_dropped(). xs_fileno() is readable while events are queued.
 * xs_unwatch() leaves queued events of that watch in place unless the handle
 * was opened with XS_UNWATCH_FILTER, as in libxenstore.
 */
#define FAKE_XS_EVENT_QUEUE_MAX 4096u

/*
 * xenstored goes away: every open handle loses its connection as
 * libxenstore's do (requests fail with EBADF, xs_check_watch() with EINVAL,
 * no more events), and while down (until fake_xs_set_down(false) or
 * fake_reset()), xs_open() fails with ECONNREFUSED. The store itself is
 * kept, as by a restart that kept its state.
 */
void fake_xs_drop_connections(void);
void fake_xs_set_down(bool down);

/* Writes value (a string) as domid. Returns 0, -EINVAL, -EACCES, -E2BIG, -ESRCH. */
int fake_xs_write_as(uint32_t domid, const char *path, const char *value);

/*
 * Removes path and everything below it as domid. Returns 0 (also when path
 * is missing but its parent exists, like xenstored), -ENOENT, -EACCES,
 * -EINVAL or -ESRCH.
 */
int fake_xs_rm_as(uint32_t domid, const char *path);

/* The value at path read as dom0: a malloc'd string, or NULL if missing. */
char *fake_xs_read(const char *path);

/* The value read as domid: malloc'd, or NULL with errno ENOENT or EACCES. */
char *fake_xs_read_as(uint32_t domid, const char *path);

/*
 * Sets path's permissions as domid (a guest must own the node and cannot
 * give it away). Returns 0, -ENOENT, -EACCES, -EPERM, -EINVAL or -ESRCH.
 */
int fake_xs_set_perms_as(uint32_t domid, const char *path, const struct xs_permissions *perms,
			 unsigned int num);

/* The next xs_transaction_end() with abort false fails with errno EAGAIN
 * (a conflict, as xenstored reports one); ..._ends(n): the next n do. */
void fake_xs_fail_next_transaction_end(void);
void fake_xs_fail_transaction_ends(unsigned int n);

/* Watch events dropped or coalesced because a handle's queue was full. */
uint64_t fake_xs_events_dropped(void);

/* Watches currently registered on all xs handles. */
unsigned int fake_xs_watch_count(void);

#endif
