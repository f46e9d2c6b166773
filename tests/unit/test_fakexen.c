/* SPDX-License-Identifier: MIT */
/*
 * test_fakexen.c - the fake Xen libraries themselves: grant maps and copies,
 * event-channel delivery and masking, the xenstore tree, its permissions,
 * watches and transactions, and that fake_reset() releases everything.
 * Other suites trust these behaviours, so they are pinned down here.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fakexen.h"
#include "suites.h"

#define PG 4096

static bool readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void *page_new(unsigned int n, int fill)
{
	void *p = aligned_alloc(PG, (size_t)n * PG);

	if (p)
		memset(p, fill, (size_t)n * PG);
	return p;
}

/* Reads one watch event; returns whether path and token match. */
static bool next_event(struct xs_handle *h, const char *path, const char *token)
{
	unsigned int num = 0;
	char **v = xs_read_watch(h, &num);
	bool ok;

	if (!v)
		return false;
	ok = num == 2 && !strcmp(v[XS_WATCH_PATH], path) && !strcmp(v[XS_WATCH_TOKEN], token);
	free(v);
	return ok;
}

static unsigned int drain_events(struct xs_handle *h)
{
	unsigned int n = 0;
	char **v;

	while ((v = xs_check_watch(h))) {
		free(v);
		n++;
	}
	return n;
}

/* ---- domains ---- */

static void test_domains(void)
{
	struct xs_handle *xs = xs_open(0);
	struct xs_permissions *p;
	unsigned int n = 0;
	char *s;

	CU_ASSERT_PTR_NOT_NULL_FATAL(xs);
	CU_ASSERT(xs_is_domain_introduced(xs, 0));
	CU_ASSERT(!xs_is_domain_introduced(xs, 5));
	CU_ASSERT_EQUAL(fake_domain_create(0), -EINVAL);
	CU_ASSERT_EQUAL(fake_domain_create(DOMID_FIRST_RESERVED), -EINVAL);
	CU_ASSERT_EQUAL(fake_domain_create(5), 0);
	CU_ASSERT_EQUAL(fake_domain_create(5), -EEXIST);
	CU_ASSERT(xs_is_domain_introduced(xs, 5));

	/* the toolstack's home directory, owned by the guest */
	p = xs_get_permissions(xs, XBT_NULL, "/local/domain/5", &n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(p[0].id, 5);
	free(p);
	s = xs_get_domain_path(xs, 5);
	CU_ASSERT_STRING_EQUAL(s, "/local/domain/5");
	free(s);

	CU_ASSERT_EQUAL(fake_domain_destroy(5), 0);
	CU_ASSERT(!xs_is_domain_introduced(xs, 5));
	CU_ASSERT_EQUAL(fake_domain_destroy(5), -ESRCH);
	CU_ASSERT_EQUAL(fake_domain_destroy(9), -ESRCH);
	CU_ASSERT_EQUAL(fake_domain_create(5), 0); /* a new domain with that id */
	CU_ASSERT(xs_is_domain_introduced(xs, 5));
	CU_ASSERT_EQUAL(fake_handles_open(), 1);
	xs_close(xs);
	xs_close(NULL);
	CU_ASSERT_EQUAL(fake_handles_open(), 0);
}

/* ---- grants ---- */

static void test_gnt_map(void)
{
	xengnttab_handle *g = xengnttab_open(NULL, 0);
	char *pg = page_new(1, 'a'), *ro = page_new(1, 'r'), *two = page_new(3, 0);
	grant_ref_t r, rro, r2[3];
	uint32_t doms[2] = {3, 3}, refs[2];
	char *m, *m2;

	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pg);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ro);
	CU_ASSERT_PTR_NOT_NULL_FATAL(two);
	CU_ASSERT_EQUAL(fake_grant(3, pg, false), 0); /* no such domain yet */
	CU_ASSERT_EQUAL_FATAL(fake_domain_create(3), 0);
	CU_ASSERT_EQUAL(fake_grant(3, pg + 1, false), 0); /* misaligned */
	r = fake_grant(3, pg, false);
	rro = fake_grant(3, ro, true);
	CU_ASSERT(r >= FAKE_GNT_FIRST_REF);
	CU_ASSERT(rro > r);

	/* the shared page itself, writable both ways */
	m = xengnttab_map_grant_ref(g, 3, r, PROT_READ | PROT_WRITE);
	CU_ASSERT_PTR_EQUAL(m, pg);
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 1);
	m2 = xengnttab_map_grant_ref(g, 3, r, PROT_READ);
	CU_ASSERT_PTR_EQUAL(m2, pg);
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 2);

	/* readonly grants refuse writable maps */
	errno = 0;
	CU_ASSERT_PTR_NULL(xengnttab_map_grant_ref(g, 3, rro, PROT_READ | PROT_WRITE));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_EQUAL(xengnttab_map_grant_ref(g, 3, rro, PROT_READ), ro);

	/* unknown refs and domains */
	CU_ASSERT_PTR_NULL(xengnttab_map_grant_ref(g, 3, 0, PROT_READ));
	CU_ASSERT_PTR_NULL(xengnttab_map_grant_ref(g, 3, 999, PROT_READ));
	CU_ASSERT_PTR_NULL(xengnttab_map_grant_ref(g, 4, r, PROT_READ));
	fake_gnt_fail_next_map(ENOMEM);
	errno = 0;
	CU_ASSERT_PTR_NULL(xengnttab_map_grant_ref(g, 3, r, PROT_READ));
	CU_ASSERT_EQUAL(errno, ENOMEM);
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 3);

	/* unmap checks address and count */
	errno = 0;
	CU_ASSERT_EQUAL(xengnttab_unmap(g, pg + PG / 2, 1), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_EQUAL(xengnttab_unmap(g, pg, 2), -1);
	CU_ASSERT_EQUAL(xengnttab_unmap(g, m, 1), 0);
	CU_ASSERT_EQUAL(xengnttab_unmap(g, m2, 1), 0);
	CU_ASSERT_EQUAL(xengnttab_unmap(g, m2, 1), -1); /* already gone */
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 1);

	/* revoked: new maps fail */
	CU_ASSERT_EQUAL(fake_grant_revoke(3, r), 0);
	CU_ASSERT_EQUAL(fake_grant_revoke(3, r), -EINVAL);
	CU_ASSERT_PTR_NULL(xengnttab_map_grant_ref(g, 3, r, PROT_READ));
	CU_ASSERT_EQUAL(fake_grant(3, pg, false), r); /* lowest free ref reused */

	/* several refs: only consecutive pages can be shown contiguously */
	for (int i = 0; i < 3; i++)
		r2[i] = fake_grant(3, two + i * PG, false);
	refs[0] = r2[0];
	refs[1] = r2[1];
	CU_ASSERT_PTR_EQUAL(xengnttab_map_grant_refs(g, 2, doms, refs, PROT_READ | PROT_WRITE),
			    two);
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 3);
	CU_ASSERT_EQUAL(xengnttab_unmap(g, two, 1), -1); /* wrong count */
	CU_ASSERT_EQUAL(xengnttab_unmap(g, two, 2), 0);
	refs[1] = r2[2];
	errno = 0;
	CU_ASSERT_PTR_NULL(xengnttab_map_grant_refs(g, 2, doms, refs, PROT_READ));
	CU_ASSERT_EQUAL(errno, ENOTSUP);
	CU_ASSERT_PTR_EQUAL(xengnttab_map_domain_grant_refs(g, 1, 3, &r2[2], PROT_READ),
			    two + 2 * PG);

	/* a dead domain's grants cannot be mapped; close unmaps the rest */
	CU_ASSERT_EQUAL(fake_domain_destroy(3), 0);
	CU_ASSERT_PTR_NULL(xengnttab_map_grant_ref(g, 3, rro, PROT_READ));
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 2);
	CU_ASSERT_EQUAL(xengnttab_close(g), 0);
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 0);
	free(pg);
	free(ro);
	free(two);
}

static void seg_from_guest(xengnttab_grant_copy_segment_t *s, uint16_t dom, grant_ref_t ref,
			   uint16_t off, void *dst, uint16_t len)
{
	memset(s, 0, sizeof(*s));
	s->flags = GNTCOPY_source_gref;
	s->source.foreign.domid = dom;
	s->source.foreign.ref = ref;
	s->source.foreign.offset = off;
	s->dest.virt = dst;
	s->len = len;
	s->status = 99;
}

static void seg_to_guest(xengnttab_grant_copy_segment_t *s, void *src, uint16_t dom,
			 grant_ref_t ref, uint16_t off, uint16_t len)
{
	memset(s, 0, sizeof(*s));
	s->flags = GNTCOPY_dest_gref;
	s->source.virt = src;
	s->dest.foreign.domid = dom;
	s->dest.foreign.ref = ref;
	s->dest.foreign.offset = off;
	s->len = len;
	s->status = 99;
}

static void test_gnt_copy(void)
{
	xengnttab_handle *g = xengnttab_open(NULL, 0);
	char *gp = page_new(1, 0), *rop = page_new(1, 'R');
	char local[64] = {0}, out[8] = "ABCDEFG";
	xengnttab_grant_copy_segment_t s[4];
	grant_ref_t r, rro;
	uint64_t calls, segs;

	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	CU_ASSERT_PTR_NOT_NULL_FATAL(gp);
	CU_ASSERT_PTR_NOT_NULL_FATAL(rop);
	CU_ASSERT_EQUAL_FATAL(fake_domain_create(7), 0);
	r = fake_grant(7, gp, false);
	rro = fake_grant(7, rop, true);
	memcpy(gp + 100, "hello", 5);

	calls = fake_gnt_copy_calls();
	segs = fake_gnt_copy_segs();
	seg_from_guest(&s[0], 7, r, 100, local, 5);	   /* ok */
	seg_to_guest(&s[1], out, 7, r, 4090, 6);	   /* ok, to the end */
	seg_to_guest(&s[2], out, 7, rro, 0, 4);		   /* readonly */
	seg_from_guest(&s[3], 7, 12345, 0, local + 32, 4); /* bad ref */
	CU_ASSERT_EQUAL(xengnttab_grant_copy(g, 4, s), 0);
	CU_ASSERT_EQUAL(s[0].status, GNTST_okay);
	CU_ASSERT_EQUAL(memcmp(local, "hello", 5), 0);
	CU_ASSERT_EQUAL(s[1].status, GNTST_okay);
	CU_ASSERT_EQUAL(memcmp(gp + 4090, "ABCDEF", 6), 0);
	CU_ASSERT_EQUAL(s[2].status, GNTST_permission_denied);
	CU_ASSERT_EQUAL(rop[0], 'R');
	CU_ASSERT_EQUAL(s[3].status, GNTST_bad_gntref);
	CU_ASSERT_EQUAL(local[32], 0);
	CU_ASSERT_EQUAL(fake_gnt_copy_calls() - calls, 1);
	CU_ASSERT_EQUAL(fake_gnt_copy_segs() - segs, 4);

	/* reading a readonly grant is fine; an unknown domain is not */
	seg_from_guest(&s[0], 7, rro, 0, local, 2);
	seg_from_guest(&s[1], 8, r, 0, local + 8, 2);
	CU_ASSERT_EQUAL(xengnttab_grant_copy(g, 2, s), 0);
	CU_ASSERT_EQUAL(s[0].status, GNTST_okay);
	CU_ASSERT_EQUAL(local[1], 'R');
	CU_ASSERT_EQUAL(s[1].status, GNTST_bad_domain);

	/* crossing the page, or no grant side: the whole call fails, nothing copied */
	memset(local, 0, sizeof(local));
	seg_from_guest(&s[0], 7, r, 100, local, 5);
	seg_from_guest(&s[1], 7, r, 4095, local + 8, 2);
	errno = 0;
	CU_ASSERT_EQUAL(xengnttab_grant_copy(g, 2, s), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_EQUAL(local[0], 0);
	seg_from_guest(&s[0], 7, r, 0, local, 5);
	s[0].flags = 0;
	s[0].source.virt = out;
	CU_ASSERT_EQUAL(xengnttab_grant_copy(g, 1, s), -1);
	CU_ASSERT_EQUAL(xengnttab_grant_copy(g, 0, NULL), 0);
	CU_ASSERT_EQUAL(xengnttab_grant_copy(NULL, 0, NULL), -1);

	/* injected failures */
	for (int i = 0; i < 4; i++)
		seg_from_guest(&s[i], 7, r, 100, local + 8 * i, 5);
	fake_gnt_fail_next_copy(1, 2, GNTST_general_error);
	CU_ASSERT_EQUAL(xengnttab_grant_copy(g, 4, s), 0);
	CU_ASSERT_EQUAL(s[0].status, GNTST_okay);
	CU_ASSERT_EQUAL(s[1].status, GNTST_general_error);
	CU_ASSERT_EQUAL(s[2].status, GNTST_general_error);
	CU_ASSERT_EQUAL(s[3].status, GNTST_okay);
	CU_ASSERT_EQUAL(local[8], 0);
	CU_ASSERT_EQUAL(local[24], 'h');
	CU_ASSERT_EQUAL(xengnttab_grant_copy(g, 4, s), 0); /* only the next call */
	CU_ASSERT_EQUAL(s[1].status, GNTST_okay);
	fake_gnt_fail_next_copy_call(EFAULT);
	errno = 0;
	CU_ASSERT_EQUAL(xengnttab_grant_copy(g, 4, s), -1);
	CU_ASSERT_EQUAL(errno, EFAULT);
	CU_ASSERT_EQUAL(xengnttab_grant_copy(g, 4, s), 0);

	/* revoked grants and dead domains */
	CU_ASSERT_EQUAL(fake_grant_revoke(7, r), 0);
	CU_ASSERT_EQUAL(xengnttab_grant_copy(g, 1, s), 0);
	CU_ASSERT_EQUAL(s[0].status, GNTST_bad_gntref);
	CU_ASSERT_EQUAL(fake_domain_destroy(7), 0);
	seg_from_guest(&s[0], 7, rro, 0, local, 2);
	CU_ASSERT_EQUAL(xengnttab_grant_copy(g, 1, s), 0);
	CU_ASSERT(s[0].status < 0);

	xengnttab_close(g);
	free(gp);
	free(rop);
}

/* ---- event channels ---- */

static void test_evtchn(void)
{
	xenevtchn_handle *e = xenevtchn_open(NULL, 0);
	evtchn_port_t gport, gport2, local;
	int fd;

	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	fd = xenevtchn_fd(e);
	CU_ASSERT(fd >= 0);
	CU_ASSERT(!readable(fd));
	CU_ASSERT_EQUAL(fake_evtchn_alloc_unbound(2), 0);
	CU_ASSERT_EQUAL_FATAL(fake_domain_create(2), 0);
	gport = fake_evtchn_alloc_unbound(2);
	gport2 = fake_evtchn_alloc_unbound(2);
	CU_ASSERT(gport >= 1 && gport2 != gport);
	CU_ASSERT_EQUAL(fake_evtchn_kick(2, gport), -ENOTCONN);
	CU_ASSERT_EQUAL(fake_evtchn_kick(2, 77), -EINVAL);
	CU_ASSERT_EQUAL(fake_evtchn_kick(3, gport), -ESRCH);

	errno = 0;
	CU_ASSERT_EQUAL(xenevtchn_bind_interdomain(e, 3, gport), -1);
	CU_ASSERT_EQUAL(errno, ESRCH);
	CU_ASSERT_EQUAL(xenevtchn_bind_interdomain(e, 2, 77), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	local = (evtchn_port_t)xenevtchn_bind_interdomain(e, 2, gport);
	CU_ASSERT(local >= 1);
	CU_ASSERT_EQUAL(fake_evtchn_peer(2, gport), local);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 1);
	CU_ASSERT_EQUAL(xenevtchn_bind_interdomain(e, 2, gport), -1); /* already bound */

	/* binding leaves one event pending, as Xen does */
	CU_ASSERT(readable(fd));
	CU_ASSERT_EQUAL(xenevtchn_pending(e), (int)local);
	CU_ASSERT(!readable(fd));
	errno = 0;
	CU_ASSERT_EQUAL(xenevtchn_pending(e), -1);
	CU_ASSERT_EQUAL(errno, EAGAIN);

	/* masked until unmasked: kicks meanwhile coalesce into one event */
	CU_ASSERT_EQUAL(fake_evtchn_kick(2, gport), 0);
	CU_ASSERT(!readable(fd));
	CU_ASSERT_EQUAL(xenevtchn_unmask(e, local), 0);
	CU_ASSERT(readable(fd));
	CU_ASSERT_EQUAL(xenevtchn_pending(e), (int)local);
	CU_ASSERT_EQUAL(fake_evtchn_kick(2, gport), 0);
	CU_ASSERT_EQUAL(fake_evtchn_kick(2, gport), 0);
	CU_ASSERT(!readable(fd));
	CU_ASSERT_EQUAL(xenevtchn_unmask(e, local), 0);
	CU_ASSERT_EQUAL(xenevtchn_pending(e), (int)local);
	CU_ASSERT_EQUAL(xenevtchn_pending(e), -1);
	CU_ASSERT_EQUAL(xenevtchn_unmask(e, local), 0);
	CU_ASSERT(!readable(fd)); /* nothing pending any more */
	CU_ASSERT_EQUAL(fake_evtchn_kick(2, gport), 0);
	CU_ASSERT(readable(fd));
	CU_ASSERT_EQUAL(fake_evtchn_kick(2, gport), 0); /* queued: no second entry */
	CU_ASSERT_EQUAL(xenevtchn_pending(e), (int)local);
	CU_ASSERT_EQUAL(xenevtchn_pending(e), -1);
	CU_ASSERT_EQUAL(xenevtchn_unmask(e, local), 0);
	CU_ASSERT_EQUAL(xenevtchn_pending(e), (int)local); /* the kick while queued */
	CU_ASSERT_EQUAL(xenevtchn_unmask(e, local), 0);
	CU_ASSERT_EQUAL(xenevtchn_unmask(e, 999), 0); /* ignored, as in Linux */

	/* the backend's notifications, seen by the guest */
	CU_ASSERT_EQUAL(xenevtchn_notify(e, local), 0);
	CU_ASSERT_EQUAL(xenevtchn_notify(e, local), 0);
	CU_ASSERT_EQUAL(fake_evtchn_notify_count(2, gport), 2);
	CU_ASSERT_EQUAL(fake_evtchn_notify_count(2, gport2), 0);
	CU_ASSERT_EQUAL(xenevtchn_notify(e, 999), -1);

	/* unbind: the guest port is unbound again; unknown ports fail */
	errno = 0;
	CU_ASSERT_EQUAL(xenevtchn_unbind(e, 999), -1);
	CU_ASSERT_EQUAL(errno, ENOTCONN);
	CU_ASSERT_EQUAL(fake_evtchn_kick(2, gport), 0);
	CU_ASSERT_EQUAL(xenevtchn_unbind(e, local), 0);
	CU_ASSERT(!readable(fd)); /* its queued event went with it */
	CU_ASSERT_EQUAL(xenevtchn_unbind(e, local), -1);
	CU_ASSERT_EQUAL(fake_evtchn_peer(2, gport), 0);
	CU_ASSERT_EQUAL(fake_evtchn_kick(2, gport), -ENOTCONN);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 0);

	/* a dead guest: the local port stays bound, notifications go nowhere */
	local = (evtchn_port_t)xenevtchn_bind_interdomain(e, 2, gport2);
	CU_ASSERT(local >= 1);
	CU_ASSERT_EQUAL(fake_domain_destroy(2), 0);
	CU_ASSERT_EQUAL(xenevtchn_notify(e, local), 0);
	CU_ASSERT_EQUAL(fake_evtchn_notify_count(2, gport2), 0);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 1);
	CU_ASSERT_EQUAL(xenevtchn_close(e), 0);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 0);
}

/* Two handles get distinct local ports and only their own events. */
static void test_evtchn_two_handles(void)
{
	xenevtchn_handle *a = xenevtchn_open(NULL, 0), *b = xenevtchn_open(NULL, 0);
	evtchn_port_t ga, gb;
	int la, lb;

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL_FATAL(fake_domain_create(4), 0);
	ga = fake_evtchn_alloc_unbound(4);
	gb = fake_evtchn_alloc_unbound(4);
	la = xenevtchn_bind_interdomain(a, 4, ga);
	lb = xenevtchn_bind_interdomain(b, 4, gb);
	CU_ASSERT(la > 0 && lb > 0 && la != lb);
	CU_ASSERT_EQUAL(xenevtchn_pending(a), la);
	CU_ASSERT_EQUAL(xenevtchn_pending(b), lb);
	CU_ASSERT_EQUAL(xenevtchn_unmask(a, (evtchn_port_t)la), 0);
	CU_ASSERT_EQUAL(xenevtchn_unmask(b, (evtchn_port_t)lb), 0);
	CU_ASSERT_EQUAL(fake_evtchn_kick(4, gb), 0);
	CU_ASSERT(!readable(xenevtchn_fd(a)));
	CU_ASSERT(readable(xenevtchn_fd(b)));
	CU_ASSERT_EQUAL(xenevtchn_unbind(a, (evtchn_port_t)lb), -1); /* not a's */
	CU_ASSERT_EQUAL(xenevtchn_notify(a, (evtchn_port_t)lb), -1);
	xenevtchn_close(a);
	xenevtchn_close(b);
}

/* ---- xenstore ---- */

static void test_xs_basic(void)
{
	struct xs_handle *xs = xs_open(0);
	unsigned int len = 99, n = 0;
	char big[XENSTORE_PAYLOAD_MAX];
	char **d;
	char *v;

	CU_ASSERT_PTR_NOT_NULL_FATAL(xs);
	CU_ASSERT(xs_write(xs, XBT_NULL, "/a/b/c", "xyz", 3));
	v = xs_read(xs, XBT_NULL, "/a/b/c", &len);
	CU_ASSERT_STRING_EQUAL(v, "xyz");
	CU_ASSERT_EQUAL(len, 3);
	free(v);
	v = xs_read(xs, XBT_NULL, "/a/b", &len); /* created parent: empty */
	CU_ASSERT_STRING_EQUAL(v, "");
	CU_ASSERT_EQUAL(len, 0);
	free(v);
	CU_ASSERT(xs_write(xs, XBT_NULL, "/a/b/a", "1", 1));
	CU_ASSERT(xs_write(xs, XBT_NULL, "/a/b/c", "", 0));
	CU_ASSERT(xs_mkdir(xs, XBT_NULL, "/a/b/z"));
	CU_ASSERT(xs_mkdir(xs, XBT_NULL, "/a/b/z"));

	d = xs_directory(xs, XBT_NULL, "/a/b", &n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT_STRING_EQUAL(d[0], "c"); /* creation order */
	CU_ASSERT_STRING_EQUAL(d[1], "a");
	CU_ASSERT_STRING_EQUAL(d[2], "z");
	free(d);
	d = xs_directory(xs, XBT_NULL, "/a/b/z", &n);
	CU_ASSERT_PTR_NOT_NULL(d);
	CU_ASSERT_EQUAL(n, 0);
	free(d);
	errno = 0;
	CU_ASSERT_PTR_NULL(xs_directory(xs, XBT_NULL, "/nope", &n));
	CU_ASSERT_EQUAL(errno, ENOENT);

	/* relative paths are dom0's home */
	CU_ASSERT(xs_write(xs, XBT_NULL, "backend/vif/1/0/state", "2", 1));
	v = fake_xs_read("/local/domain/0/backend/vif/1/0/state");
	CU_ASSERT_STRING_EQUAL(v, "2");
	free(v);

	/* rm takes the subtree; a missing node is fine if its parent exists */
	CU_ASSERT(xs_rm(xs, XBT_NULL, "/a/b"));
	CU_ASSERT_PTR_NULL(xs_read(xs, XBT_NULL, "/a/b/c", NULL));
	CU_ASSERT_EQUAL(errno, ENOENT);
	CU_ASSERT(xs_rm(xs, XBT_NULL, "/a/b"));
	CU_ASSERT(!xs_rm(xs, XBT_NULL, "/a/b/c"));
	CU_ASSERT_EQUAL(errno, ENOENT);
	CU_ASSERT(!xs_rm(xs, XBT_NULL, "/"));

	/* bad paths and sizes */
	CU_ASSERT(!xs_write(xs, XBT_NULL, "/a//b", "1", 1));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT(!xs_write(xs, XBT_NULL, "/a/b/", "1", 1));
	CU_ASSERT(!xs_write(xs, XBT_NULL, "/a/b c", "1", 1));
	CU_ASSERT(!xs_write(xs, XBT_NULL, "", "1", 1));
	CU_ASSERT(!xs_write(xs, XBT_NULL, NULL, "1", 1));
	memset(big, 'x', sizeof(big));
	CU_ASSERT(!xs_write(xs, XBT_NULL, "/big", big, sizeof(big)));
	CU_ASSERT_EQUAL(errno, E2BIG);
	CU_ASSERT(xs_write(xs, XBT_NULL, "/big", big, 4000));
	v = xs_read(xs, XBT_NULL, "/big", &len);
	CU_ASSERT_EQUAL(len, 4000);
	CU_ASSERT(v && v[4000] == '\0');
	free(v);
	xs_close(xs);
}

static void test_xs_perms(void)
{
	struct xs_handle *xs = xs_open(0);
	struct xs_permissions p[2], *got;
	unsigned int n = 0;
	char *v;

	CU_ASSERT_PTR_NOT_NULL_FATAL(xs);
	CU_ASSERT_EQUAL_FATAL(fake_domain_create(6), 0);
	CU_ASSERT_EQUAL(fake_xs_write_as(9, "/x", "1"), -ESRCH); /* no such guest */

	/* dom0's backend directory: readable by the guest, not writable */
	CU_ASSERT(xs_write(xs, XBT_NULL, "/local/domain/0/backend/vif/6/0/ip", "10.0.0.6", 8));
	CU_ASSERT_EQUAL(fake_xs_write_as(6, "/local/domain/0/backend/vif/6/0/ip", "6.6.6.6"),
			-EACCES);
	CU_ASSERT_PTR_NULL(fake_xs_read_as(6, "/local/domain/0/backend/vif/6/0/ip"));
	CU_ASSERT_EQUAL(errno, EACCES);
	p[0] = (struct xs_permissions){.id = 0, .perms = XS_PERM_NONE};
	p[1] = (struct xs_permissions){.id = 6, .perms = XS_PERM_READ};
	CU_ASSERT(xs_set_permissions(xs, XBT_NULL, "/local/domain/0/backend/vif/6/0/ip", p, 2));
	v = fake_xs_read_as(6, "/local/domain/0/backend/vif/6/0/ip");
	CU_ASSERT_STRING_EQUAL(v, "10.0.0.6");
	free(v);
	CU_ASSERT_EQUAL(fake_xs_write_as(6, "/local/domain/0/backend/vif/6/0/ip", "6.6.6.6"),
			-EACCES);
	CU_ASSERT_EQUAL(fake_xs_rm_as(6, "/local/domain/0/backend/vif/6/0/ip"), -EACCES);
	CU_ASSERT_EQUAL(fake_xs_write_as(6, "/local/domain/0/backend/vif/6/0/new", "1"), -EACCES);
	v = fake_xs_read("/local/domain/0/backend/vif/6/0/ip");
	CU_ASSERT_STRING_EQUAL(v, "10.0.0.6");
	free(v);

	/* the guest's own home: relative paths, new nodes owned by the guest */
	CU_ASSERT_EQUAL(fake_xs_write_as(6, "device/vif/0/tx-ring-ref", "8"), 0);
	v = fake_xs_read("/local/domain/6/device/vif/0/tx-ring-ref");
	CU_ASSERT_STRING_EQUAL(v, "8");
	free(v);
	got = xs_get_permissions(xs, XBT_NULL, "/local/domain/6/device/vif", &n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_EQUAL(got[0].id, 6);
	free(got);

	/* a node the toolstack creates in the guest's home inherits its perms */
	CU_ASSERT(xs_write(xs, XBT_NULL, "/local/domain/6/name", "guest", 5));
	got = xs_get_permissions(xs, XBT_NULL, "/local/domain/6/name", &n);
	CU_ASSERT(got && n == 1 && got[0].id == 6);
	free(got);

	/* another guest cannot touch it; a write grant lets it */
	CU_ASSERT_EQUAL_FATAL(fake_domain_create(8), 0);
	CU_ASSERT_EQUAL(fake_xs_write_as(8, "/local/domain/6/device/vif/0/tx-ring-ref", "9"),
			-EACCES);
	CU_ASSERT_PTR_NULL(fake_xs_read_as(8, "/local/domain/6/device/vif/0/tx-ring-ref"));
	CU_ASSERT_EQUAL(fake_xs_rm_as(8, "/local/domain/6/device"), -EACCES);
	p[0] = (struct xs_permissions){.id = 6, .perms = XS_PERM_NONE};
	p[1] = (struct xs_permissions){.id = 8, .perms = XS_PERM_WRITE};
	CU_ASSERT_EQUAL(fake_xs_set_perms_as(8, "/local/domain/6/device", p, 2), -EACCES);
	CU_ASSERT_EQUAL(fake_xs_set_perms_as(6, "/local/domain/6/device", p, 2), 0);
	CU_ASSERT_EQUAL(fake_xs_write_as(8, "/local/domain/6/device/x", "1"), 0);
	CU_ASSERT_PTR_NULL(fake_xs_read_as(8, "/local/domain/6/device")); /* write-only */
	got = xs_get_permissions(xs, XBT_NULL, "/local/domain/6/device/x", &n);
	CU_ASSERT(got && n == 2 && got[0].id == 8 && got[1].id == 8);
	free(got);
	p[0].id = 0;
	CU_ASSERT_EQUAL(fake_xs_set_perms_as(6, "/local/domain/6/device", p, 2), -EPERM);
	p[0].perms = 0x40;
	CU_ASSERT(!xs_set_permissions(xs, XBT_NULL, "/local/domain/6/device", p, 2));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT(!xs_set_permissions(xs, XBT_NULL, "/local/domain/6/nope", p, 1));
	CU_ASSERT_EQUAL(fake_xs_rm_as(6, "device"), 0);
	CU_ASSERT_PTR_NULL(fake_xs_read("/local/domain/6/device/x"));

	/* dead guests cannot act */
	CU_ASSERT_EQUAL(fake_domain_destroy(6), 0);
	CU_ASSERT_EQUAL(fake_xs_write_as(6, "name", "x"), -ESRCH);
	CU_ASSERT_EQUAL(fake_xs_rm_as(6, "name"), -ESRCH);
	xs_close(xs);
}

static void test_xs_watch(void)
{
	struct xs_handle *xs = xs_open(0);
	int fd;

	CU_ASSERT_PTR_NOT_NULL_FATAL(xs);
	fd = xs_fileno(xs);
	CU_ASSERT(!readable(fd));
	CU_ASSERT_PTR_NULL(xs_check_watch(xs));
	CU_ASSERT_EQUAL(errno, EAGAIN);

	/* fires once right away */
	CU_ASSERT(xs_watch(xs, "/w", "tok"));
	CU_ASSERT(readable(fd));
	CU_ASSERT(next_event(xs, "/w", "tok"));
	CU_ASSERT(!readable(fd));
	CU_ASSERT(!xs_watch(xs, "/w", "tok"));
	CU_ASSERT_EQUAL(errno, EEXIST);
	CU_ASSERT_EQUAL(fake_xs_watch_count(), 1);

	/* the node, below it, not beside it */
	CU_ASSERT(xs_write(xs, XBT_NULL, "/w", "1", 1));
	CU_ASSERT(xs_write(xs, XBT_NULL, "/w/x/y", "1", 1));
	CU_ASSERT(xs_write(xs, XBT_NULL, "/wx", "1", 1));
	CU_ASSERT(xs_write(xs, XBT_NULL, "/", "", 0));
	CU_ASSERT(next_event(xs, "/w", "tok"));
	CU_ASSERT(next_event(xs, "/w/x/y", "tok"));
	CU_ASSERT_PTR_NULL(xs_check_watch(xs));

	/* rm fires the watches above and below it */
	CU_ASSERT(xs_watch(xs, "/w/x/y/z", "deep"));
	CU_ASSERT(next_event(xs, "/w/x/y/z", "deep"));
	CU_ASSERT(xs_rm(xs, XBT_NULL, "/w/x"));
	CU_ASSERT(next_event(xs, "/w/x", "tok"));
	CU_ASSERT(next_event(xs, "/w/x/y/z", "deep"));
	CU_ASSERT_PTR_NULL(xs_check_watch(xs));
	CU_ASSERT(xs_rm(xs, XBT_NULL, "/w/x")); /* already gone: nothing fires */
	CU_ASSERT_PTR_NULL(xs_check_watch(xs));

	/* guests' writes fire too; relative watches report relative paths */
	CU_ASSERT_EQUAL_FATAL(fake_domain_create(3), 0);
	CU_ASSERT(xs_watch(xs, "backend/vif", "bv"));
	CU_ASSERT(next_event(xs, "backend/vif", "bv"));
	CU_ASSERT(xs_write(xs, XBT_NULL, "/local/domain/0/backend/vif/3/0/state", "1", 1));
	CU_ASSERT(next_event(xs, "backend/vif/3/0/state", "bv"));
	CU_ASSERT(xs_watch(xs, "/local/domain/3/device", "fe"));
	CU_ASSERT(next_event(xs, "/local/domain/3/device", "fe"));
	CU_ASSERT_EQUAL(fake_xs_write_as(3, "device/vif/0/state", "4"), 0);
	CU_ASSERT(next_event(xs, "/local/domain/3/device/vif/0/state", "fe"));
	CU_ASSERT_EQUAL(fake_xs_write_as(3, "/local/domain/0/backend/vif/3/0/state", "6"), -EACCES);
	CU_ASSERT_PTR_NULL(xs_check_watch(xs)); /* refused writes fire nothing */

	/* domain lifecycle */
	CU_ASSERT(xs_watch(xs, "@releaseDomain", "rel"));
	CU_ASSERT(xs_watch(xs, "@introduceDomain", "intro"));
	CU_ASSERT(next_event(xs, "@releaseDomain", "rel"));
	CU_ASSERT(next_event(xs, "@introduceDomain", "intro"));
	CU_ASSERT_EQUAL(fake_domain_destroy(3), 0);
	CU_ASSERT(next_event(xs, "@releaseDomain", "rel"));
	CU_ASSERT_PTR_NULL(xs_check_watch(xs));
	CU_ASSERT_EQUAL(fake_domain_create(4), 0);
	CU_ASSERT_EQUAL(drain_events(xs), 1);

	/* unwatch: unknown fails; queued events stay without XS_UNWATCH_FILTER */
	CU_ASSERT(!xs_unwatch(xs, "/nope", "tok"));
	CU_ASSERT_EQUAL(errno, ENOENT);
	CU_ASSERT(xs_write(xs, XBT_NULL, "/w", "2", 1));
	CU_ASSERT(xs_unwatch(xs, "/w", "tok"));
	CU_ASSERT(next_event(xs, "/w", "tok"));
	CU_ASSERT(xs_write(xs, XBT_NULL, "/w", "3", 1));
	CU_ASSERT_PTR_NULL(xs_check_watch(xs));
	CU_ASSERT_EQUAL(fake_xs_watch_count(), 5);
	xs_close(xs);
	CU_ASSERT_EQUAL(fake_xs_watch_count(), 0);
}

static void test_xs_watch_filter_and_handles(void)
{
	struct xs_handle *a = xs_open(XS_UNWATCH_FILTER), *b = xs_open(0);

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT(xs_watch(a, "/k", "t"));
	CU_ASSERT(xs_watch(a, "/k", "u")); /* same path, other token */
	CU_ASSERT(xs_watch(b, "/k", "t"));
	CU_ASSERT(xs_write(b, XBT_NULL, "/k/1", "x", 1));
	CU_ASSERT(xs_unwatch(a, "/k", "t"));
	CU_ASSERT(next_event(a, "/k", "u"));
	CU_ASSERT(next_event(a, "/k/1", "u"));
	CU_ASSERT_PTR_NULL(xs_check_watch(a));
	CU_ASSERT(!readable(xs_fileno(a)));
	CU_ASSERT_EQUAL(drain_events(b), 2);
	xs_close(a);
	xs_close(b);
}

/* A guest rewriting a key forever cannot grow the daemon's event queue. */
static void test_xs_queue_bound(void)
{
	struct xs_handle *xs = xs_open(0);
	char path[64];

	CU_ASSERT_PTR_NOT_NULL_FATAL(xs);
	CU_ASSERT_EQUAL_FATAL(fake_domain_create(2), 0);
	CU_ASSERT(xs_watch(xs, "/local/domain/2", "g"));
	for (int i = 0; i < 3 * (int)FAKE_XS_EVENT_QUEUE_MAX; i++)
		CU_ASSERT_EQUAL_FATAL(fake_xs_write_as(2, "data/k", i & 1 ? "a" : "b"), 0);
	CU_ASSERT(fake_xs_events_dropped() >= 2 * FAKE_XS_EVENT_QUEUE_MAX);
	CU_ASSERT_EQUAL(drain_events(xs), FAKE_XS_EVENT_QUEUE_MAX);

	/* distinct paths: the oldest go */
	for (unsigned int i = 0; i < FAKE_XS_EVENT_QUEUE_MAX + 10; i++) {
		snprintf(path, sizeof(path), "data/k%u", i);
		CU_ASSERT_EQUAL_FATAL(fake_xs_write_as(2, path, "v"), 0);
	}
	CU_ASSERT(next_event(xs, "/local/domain/2/data/k10", "g"));
	CU_ASSERT_EQUAL(drain_events(xs), FAKE_XS_EVENT_QUEUE_MAX - 1);
	xs_close(xs);
}

static void test_xs_transactions(void)
{
	struct xs_handle *xs = xs_open(0), *other = xs_open(0);
	xs_transaction_t t, ts[10];
	char *v;

	CU_ASSERT_PTR_NOT_NULL_FATAL(xs);
	CU_ASSERT_PTR_NOT_NULL_FATAL(other);
	t = xs_transaction_start(xs);
	CU_ASSERT(t != XBT_NULL);
	CU_ASSERT(xs_write(xs, t, "/t", "1", 1));
	CU_ASSERT(!xs_write(other, t, "/t", "2", 1)); /* not its transaction */
	CU_ASSERT_EQUAL(errno, ENOENT);
	v = xs_read(xs, t, "/t", NULL);
	CU_ASSERT_STRING_EQUAL(v, "1");
	free(v);
	CU_ASSERT(xs_transaction_end(xs, t, false));
	CU_ASSERT(!xs_transaction_end(xs, t, false)); /* already ended */
	CU_ASSERT_EQUAL(errno, ENOENT);
	CU_ASSERT_PTR_NULL(xs_read(xs, t, "/t", NULL));

	/* nothing shows outside before the commit, and a failed or aborted
	 * transaction leaves nothing behind */
	t = xs_transaction_start(xs);
	CU_ASSERT(xs_write(xs, t, "/t", "3", 1));
	CU_ASSERT(xs_rm(xs, t, "/t"));
	CU_ASSERT_PTR_NULL(xs_read(xs, t, "/t", NULL));
	CU_ASSERT(xs_write(xs, t, "/u", "4", 1));
	v = fake_xs_read("/t");
	CU_ASSERT_STRING_EQUAL(v, "1");
	free(v);
	CU_ASSERT_PTR_NULL(fake_xs_read("/u"));
	CU_ASSERT(xs_transaction_end(xs, t, true));
	CU_ASSERT_PTR_NULL(fake_xs_read("/u"));

	/* a retry loop sees EAGAIN once */
	fake_xs_fail_next_transaction_end();
	t = xs_transaction_start(xs);
	CU_ASSERT(xs_write(xs, t, "/u", "5", 1));
	CU_ASSERT(!xs_transaction_end(xs, t, false));
	CU_ASSERT_EQUAL(errno, EAGAIN);
	CU_ASSERT_PTR_NULL(fake_xs_read("/u"));
	t = xs_transaction_start(xs);
	CU_ASSERT(xs_transaction_end(xs, t, false));

	/* leaked transactions hit a quota, as in xenstored */
	for (int i = 0; i < 10; i++) {
		ts[i] = xs_transaction_start(xs);
		CU_ASSERT(ts[i] != XBT_NULL);
	}
	CU_ASSERT_EQUAL(xs_transaction_start(xs), XBT_NULL);
	CU_ASSERT_EQUAL(errno, ENOSPC);
	for (int i = 0; i < 10; i++)
		CU_ASSERT(xs_transaction_end(xs, ts[i], true));
	xs_close(xs);
	xs_close(other);
}

/* Whatever the code under test left behind, fake_reset() frees it. */
static void test_reset(void)
{
	char *pg = page_new(1, 0);
	xengnttab_handle *g = xengnttab_open(NULL, 0);
	xenevtchn_handle *e = xenevtchn_open(NULL, 0);
	struct xs_handle *xs = xs_open(0);

	CU_ASSERT_PTR_NOT_NULL_FATAL(pg);
	CU_ASSERT_EQUAL(fake_live_allocs(), 3);
	CU_ASSERT_EQUAL_FATAL(fake_domain_create(1), 0);
	CU_ASSERT_PTR_NOT_NULL(xengnttab_map_grant_ref(g, 1, fake_grant(1, pg, false), PROT_READ));
	CU_ASSERT(xenevtchn_bind_interdomain(e, 1, fake_evtchn_alloc_unbound(1)) > 0);
	CU_ASSERT(xs_watch(xs, "/r", "t"));
	CU_ASSERT(xs_write(xs, XBT_NULL, "/r/s", "1", 1));
	CU_ASSERT(xs_transaction_start(xs) != XBT_NULL);
	CU_ASSERT(fake_live_allocs() > 3);
	CU_ASSERT_EQUAL(fake_handles_open(), 3);
	fake_reset();
	CU_ASSERT_EQUAL(fake_live_allocs(), 0);
	CU_ASSERT_EQUAL(fake_handles_open(), 0);
	CU_ASSERT_EQUAL(fake_gnt_mapped_count(), 0);
	CU_ASSERT_EQUAL(fake_evtchn_bound_count(), 0);
	CU_ASSERT_EQUAL(fake_gnt_copy_calls(), 0);
	CU_ASSERT_PTR_NULL(fake_xs_read("/r/s"));
	fake_reset();
	CU_ASSERT_EQUAL(fake_live_allocs(), 0);
	free(pg);
}

CU_ErrorCode test_fakexen_register(void)
{
	/* Every test starts from, and leaves, an empty host. */
	CU_pSuite s =
	    CU_add_suite_with_setup_and_teardown("fakexen", NULL, NULL, fake_reset, fake_reset);

	if (!s)
		return CU_get_error();
	CU_add_test(s, "domains", test_domains);
	CU_add_test(s, "grant map and unmap", test_gnt_map);
	CU_add_test(s, "grant copy", test_gnt_copy);
	CU_add_test(s, "event channel delivery and masking", test_evtchn);
	CU_add_test(s, "event channel handles", test_evtchn_two_handles);
	CU_add_test(s, "xenstore basics", test_xs_basic);
	CU_add_test(s, "xenstore permissions", test_xs_perms);
	CU_add_test(s, "xenstore watches", test_xs_watch);
	CU_add_test(s, "xenstore unwatch filter", test_xs_watch_filter_and_handles);
	CU_add_test(s, "xenstore event queue bound", test_xs_queue_bound);
	CU_add_test(s, "xenstore transactions", test_xs_transactions);
	CU_add_test(s, "reset frees everything", test_reset);
	return CU_get_error();
}
