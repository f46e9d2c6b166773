/* SPDX-License-Identifier: MIT */
/*
 * fakexen.c - an in-process stand-in for libxengnttab, libxenevtchn and
 * libxenstore: one simulated host (dom0 plus test-created guests) with grant
 * tables, event channels and a xenstore tree with permissions and watches.
 * The Xen entry points keep the real prototypes (the real headers are
 * included so the compiler checks them), so the daemon's production files
 * link against this file unchanged. Tests drive it through fakexen.h, which
 * also lists where it deliberately differs from the real libraries.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fakexen.h"

#define PAGE_BYTES	4096u
#define MAX_GUEST_PORTS 4096u	   /* per guest, like the 2-level ABI */
#define MAX_LOCAL_PORTS (1u << 17) /* dom0's ports, like the FIFO ABI */
#define MAX_TXNS	10u	   /* xenstored's default per-connection quota */
#define HOME_DOM0	"/local/domain/0"
#define PATH_BUF	(XENSTORE_ABS_PATH_MAX + 1)

/* ---- allocation accounting ----------------------------------------------- */

/*
 * Everything the fake keeps goes through these so fake_live_allocs() can
 * prove fake_reset() released it all. Memory handed to callers (xs_read
 * results and the like) uses plain malloc, because the caller frees it.
 */
static size_t live_allocs;

static void *fk_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p)
		live_allocs++;
	else
		errno = ENOMEM;
	return p;
}

static void fk_free(void *p)
{
	if (p) {
		live_allocs--;
		free(p);
	}
}

static char *fk_strndup(const char *s, size_t n)
{
	char *p = fk_calloc(1, n + 1);

	if (p)
		memcpy(p, s, n);
	return p;
}

/* Grows *arr (elem-sized entries, *cap of them) to hold at least want, zeroed. */
static int fk_grow(void **arr, uint32_t *cap, uint32_t want, size_t elem)
{
	uint32_t ncap = *cap ? *cap : 16;
	void *p;

	if (want <= *cap)
		return 0;
	while (ncap < want)
		ncap *= 2;
	p = realloc(*arr, (size_t)ncap * elem);
	if (!p) {
		errno = ENOMEM;
		return -1;
	}
	if (!*arr)
		live_allocs++;
	memset((char *)p + (size_t)*cap * elem, 0, (size_t)(ncap - *cap) * elem);
	*arr = p;
	*cap = ncap;
	return 0;
}

/* ---- readiness fds --------------------------------------------------------- */

/*
 * The daemon polls xenevtchn_fd() and xs_fileno() from its epoll loop, so
 * each handle owns an eventfd that is readable exactly while the handle has
 * something queued.
 */
struct wakeup {
	int fd;
	bool up;
};

static int wakeup_open(struct wakeup *w)
{
	w->up = false;
	w->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return w->fd < 0 ? -1 : 0;
}

static void wakeup_set(struct wakeup *w, bool up)
{
	uint64_t v = 1;
	ssize_t r;

	if (up == w->up)
		return;
	if (up)
		r = write(w->fd, &v, sizeof(v));
	else
		r = read(w->fd, &v, sizeof(v));
	(void)r; /* a non-blocking eventfd holding 0 or 1 cannot fail here */
	w->up = up;
}

/* ---- open handles ---------------------------------------------------------- */

/*
 * Every handle type starts with this link: the fake keeps the open handles
 * of each kind on a list, so that fake_reset() can close the ones the code
 * under test forgot and fake_handles_open() can count them. As the first
 * member, a pointer to the link converts to a pointer to its handle.
 */
struct hlink {
	struct hlink *next;
};

static void hlist_add(struct hlink **head, struct hlink *l)
{
	l->next = *head;
	*head = l;
}

/* Takes l off the list at *head; nothing if it is not on it. */
static void hlist_del(struct hlink **head, struct hlink *l)
{
	struct hlink **pp;

	for (pp = head; *pp && *pp != l; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = l->next;
}

static unsigned int hlist_len(const struct hlink *head)
{
	unsigned int n = 0;

	for (; head; head = head->next)
		n++;
	return n;
}

/* ---- domains --------------------------------------------------------------- */

struct grant {
	void *page;
	bool readonly;
	bool used;
};

struct gport {
	bool used;
	evtchn_port_t local; /* dom0's port bound to it, 0 while unbound */
	uint64_t notifies;
};

struct domain {
	struct domain *next;
	uint32_t domid;
	bool alive;
	struct grant *grants; /* indexed by ref */
	uint32_t ngrants;
	struct gport *ports; /* indexed by port; 0 is never used */
	uint32_t nports;
};

static struct domain *domains;

static struct domain *dom_find(uint32_t domid)
{
	for (struct domain *d = domains; d; d = d->next)
		if (d->domid == domid)
			return d;
	return NULL;
}

static struct domain *dom_alive(uint32_t domid)
{
	struct domain *d = dom_find(domid);

	return d && d->alive ? d : NULL;
}

/* Drops the domain's grants and ports (they die with it). */
static void dom_clear(struct domain *d)
{
	fk_free(d->grants);
	d->grants = NULL;
	d->ngrants = 0;
	fk_free(d->ports);
	d->ports = NULL;
	d->nports = 0;
}

/* ---- grant tables ---------------------------------------------------------- */

struct gmap {
	struct gmap *next;
	void *addr;
	uint32_t count;
};

struct xengntdev_handle {
	struct hlink link; /* first: see struct hlink */
	struct gmap *maps;
};

static struct hlink *gnt_handles;
static unsigned int mapped_pages;
static uint64_t copy_calls, copy_segs;
static int copy_call_fail_err, map_fail_err;
static struct {
	bool armed;
	uint32_t first, n;
	int16_t status;
} copy_fail;

/* The live grant (domid, ref), or NULL with the GNTST_* Xen would report. */
static struct grant *grant_find(uint32_t domid, uint32_t ref, int16_t *st)
{
	struct domain *d = dom_alive(domid);

	if (!d) {
		*st = GNTST_bad_domain;
		return NULL;
	}
	if (ref >= d->ngrants || !d->grants[ref].used) {
		*st = GNTST_bad_gntref;
		return NULL;
	}
	return &d->grants[ref];
}

grant_ref_t fake_grant(uint32_t domid, void *page, bool readonly)
{
	struct domain *d = dom_alive(domid);
	uint32_t ref;

	if (!d || !page || ((uintptr_t)page & (PAGE_BYTES - 1)))
		return 0;
	for (ref = FAKE_GNT_FIRST_REF; ref < d->ngrants && d->grants[ref].used; ref++)
		;
	if (ref >= FAKE_GNT_MAX_REFS)
		return 0;
	if (fk_grow((void **)&d->grants, &d->ngrants, ref + 1, sizeof(*d->grants)) < 0)
		return 0;
	d->grants[ref] = (struct grant){.page = page, .readonly = readonly, .used = true};
	return ref;
}

int fake_grant_revoke(uint32_t domid, grant_ref_t ref)
{
	int16_t st;
	struct grant *g = grant_find(domid, ref, &st);

	if (!g)
		return -EINVAL;
	g->used = false;
	return 0;
}

unsigned int fake_gnt_mapped_count(void)
{
	return mapped_pages;
}

uint64_t fake_gnt_copy_calls(void)
{
	return copy_calls;
}

uint64_t fake_gnt_copy_segs(void)
{
	return copy_segs;
}

void fake_gnt_fail_next_copy(uint32_t first, uint32_t n, int16_t status)
{
	copy_fail.armed = true;
	copy_fail.first = first;
	copy_fail.n = n;
	copy_fail.status = status;
}

void fake_gnt_fail_next_copy_call(int err)
{
	copy_call_fail_err = err;
}

void fake_gnt_fail_next_map(int err)
{
	map_fail_err = err;
}

xengnttab_handle *xengnttab_open(struct xentoollog_logger *logger, unsigned open_flags)
{
	xengnttab_handle *h = fk_calloc(1, sizeof(*h));

	(void)logger;
	(void)open_flags;
	if (h)
		hlist_add(&gnt_handles, &h->link);
	return h;
}

int xengnttab_close(xengnttab_handle *xgt)
{
	if (!xgt)
		return 0;
	hlist_del(&gnt_handles, &xgt->link);
	/* The real close unmaps whatever the handle still has mapped. */
	while (xgt->maps) {
		struct gmap *m = xgt->maps;

		xgt->maps = m->next;
		mapped_pages -= m->count;
		fk_free(m);
	}
	fk_free(xgt);
	return 0;
}

void *xengnttab_map_grant_refs(xengnttab_handle *xgt, uint32_t count, uint32_t *domids,
			       uint32_t *refs, int prot)
{
	uintptr_t base = 0;
	struct gmap *m;

	if (!xgt || !count || !domids || !refs || (prot & ~(PROT_READ | PROT_WRITE))) {
		errno = EINVAL;
		return NULL;
	}
	if (map_fail_err) {
		errno = map_fail_err;
		map_fail_err = 0;
		return NULL;
	}
	for (uint32_t i = 0; i < count; i++) {
		int16_t st;
		struct grant *g = grant_find(domids[i], refs[i], &st);

		/* Linux's gntdev turns every failed map into EINVAL. */
		if (!g || (g->readonly && (prot & PROT_WRITE))) {
			errno = EINVAL;
			return NULL;
		}
		if (i == 0)
			base = (uintptr_t)g->page;
		else if ((uintptr_t)g->page != base + (uintptr_t)i * PAGE_BYTES) {
			errno = ENOTSUP; /* cannot show scattered pages contiguously */
			return NULL;
		}
	}
	m = fk_calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->addr = (void *)base;
	m->count = count;
	m->next = xgt->maps;
	xgt->maps = m;
	mapped_pages += count;
	return m->addr;
}

void *xengnttab_map_grant_ref(xengnttab_handle *xgt, uint32_t domid, uint32_t ref, int prot)
{
	return xengnttab_map_grant_refs(xgt, 1, &domid, &ref, prot);
}

void *xengnttab_map_domain_grant_refs(xengnttab_handle *xgt, uint32_t count, uint32_t domid,
				      uint32_t *refs, int prot)
{
	uint32_t *domids;
	void *p;

	if (!count || count > FAKE_GNT_MAX_REFS) {
		errno = EINVAL;
		return NULL;
	}
	domids = fk_calloc(count, sizeof(*domids));
	if (!domids)
		return NULL;
	for (uint32_t i = 0; i < count; i++)
		domids[i] = domid;
	p = xengnttab_map_grant_refs(xgt, count, domids, refs, prot);
	fk_free(domids);
	return p;
}

int xengnttab_unmap(xengnttab_handle *xgt, void *start_address, uint32_t count)
{
	if (xgt) {
		/* The real library also insists on the exact count of the mapping. */
		for (struct gmap **pp = &xgt->maps; *pp; pp = &(*pp)->next) {
			struct gmap *m = *pp;

			if (m->addr == start_address && m->count == count) {
				*pp = m->next;
				mapped_pages -= m->count;
				fk_free(m);
				return 0;
			}
		}
	}
	errno = EINVAL;
	return -1;
}

int xengnttab_set_max_grants(xengnttab_handle *xgt, uint32_t nr_grants)
{
	(void)nr_grants;
	if (!xgt) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/*
 * Linux's gntdev refuses the whole ioctl (EINVAL) when a segment has no grant
 * side or a grant side crosses its page, so the fake does too; everything
 * else is reported per segment by the hypervisor.
 */
static bool copy_seg_args_ok(const xengnttab_grant_copy_segment_t *s)
{
	bool sg = s->flags & GNTCOPY_source_gref;
	bool dg = s->flags & GNTCOPY_dest_gref;

	if (s->flags & ~(GNTCOPY_source_gref | GNTCOPY_dest_gref))
		return false;
	if (!sg && !dg)
		return false;
	if (sg ? (uint32_t)s->source.foreign.offset + s->len > PAGE_BYTES : !s->source.virt)
		return false;
	if (dg ? (uint32_t)s->dest.foreign.offset + s->len > PAGE_BYTES : !s->dest.virt)
		return false;
	return true;
}

/* Resolves one side of a segment to a byte address, or returns a GNTST_* error. */
static int16_t copy_side(const union xengnttab_copy_ptr *p, bool gref, bool dest, char **out)
{
	int16_t st;
	struct grant *g;

	if (!gref) {
		*out = p->virt;
		return GNTST_okay;
	}
	g = grant_find(p->foreign.domid, p->foreign.ref, &st);
	if (!g)
		return st;
	if (dest && g->readonly)
		return GNTST_permission_denied;
	*out = (char *)g->page + p->foreign.offset;
	return GNTST_okay;
}

int xengnttab_grant_copy(xengnttab_handle *xgt, uint32_t count,
			 xengnttab_grant_copy_segment_t *segs)
{
	bool inject = copy_fail.armed;

	if (!xgt || (count && !segs)) {
		errno = EINVAL;
		return -1;
	}
	copy_calls++;
	copy_segs += count;
	if (copy_call_fail_err) {
		errno = copy_call_fail_err;
		copy_call_fail_err = 0;
		return -1;
	}
	for (uint32_t i = 0; i < count; i++) {
		if (!copy_seg_args_ok(&segs[i])) {
			segs[i].status = GNTST_bad_copy_arg;
			errno = EINVAL;
			return -1;
		}
	}
	copy_fail.armed = false;
	for (uint32_t i = 0; i < count; i++) {
		xengnttab_grant_copy_segment_t *s = &segs[i];
		char *src = NULL, *dst = NULL;
		int16_t st = copy_side(&s->source, s->flags & GNTCOPY_source_gref, false, &src);

		if (st == GNTST_okay)
			st = copy_side(&s->dest, s->flags & GNTCOPY_dest_gref, true, &dst);
		if (st == GNTST_okay && inject && i >= copy_fail.first &&
		    i - copy_fail.first < copy_fail.n)
			st = copy_fail.status;
		if (st == GNTST_okay && s->len)
			memmove(dst, src, s->len);
		s->status = st;
	}
	return 0;
}

/* ---- event channels -------------------------------------------------------- */

/*
 * dom0's end of a bound channel. It models the Linux evtchn driver: an event
 * that arrives while the port is unmasked is queued on the handle and masks
 * the port; events arriving while masked only set `pending`, which
 * xenevtchn_unmask() turns into a new queued event.
 */
struct lport {
	xenevtchn_handle *owner;
	evtchn_port_t port;
	uint32_t domid;	      /* the guest end */
	evtchn_port_t remote; /* valid while the guest's port names us back */
	bool pending, masked, queued;
	struct lport *qnext;
};

struct xenevtchn_handle {
	struct hlink link; /* first: see struct hlink */
	struct wakeup wk;
	struct lport *qhead, *qtail;
};

static struct hlink *evt_handles;
static struct lport **lports; /* indexed by local port; 0 is never used */
static uint32_t nlports;
static unsigned int bound_ports;

static struct lport *lport_get(const xenevtchn_handle *xce, evtchn_port_t port)
{
	if (!xce || port >= nlports || !lports[port] || lports[port]->owner != xce)
		return NULL;
	return lports[port];
}

/* The guest port lp is connected to, if that guest and port still exist. */
static struct gport *lport_peer(const struct lport *lp)
{
	struct domain *d = dom_alive(lp->domid);

	if (!d || lp->remote >= d->nports || !d->ports[lp->remote].used ||
	    d->ports[lp->remote].local != lp->port)
		return NULL;
	return &d->ports[lp->remote];
}

static void lport_raise(struct lport *lp)
{
	xenevtchn_handle *h = lp->owner;

	lp->pending = true;
	if (lp->masked || lp->queued)
		return;
	lp->pending = false;
	lp->masked = true;
	lp->queued = true;
	lp->qnext = NULL;
	if (h->qtail)
		h->qtail->qnext = lp;
	else
		h->qhead = lp;
	h->qtail = lp;
	wakeup_set(&h->wk, true);
}

static void lport_dequeue(struct lport *lp)
{
	xenevtchn_handle *h = lp->owner;
	struct lport *prev = NULL;

	if (!lp->queued)
		return;
	for (struct lport *q = h->qhead; q; prev = q, q = q->qnext) {
		if (q != lp)
			continue;
		if (prev)
			prev->qnext = q->qnext;
		else
			h->qhead = q->qnext;
		if (h->qtail == q)
			h->qtail = prev;
		break;
	}
	lp->queued = false;
	lp->qnext = NULL;
	if (!h->qhead)
		wakeup_set(&h->wk, false);
}

static void lport_free(struct lport *lp)
{
	struct gport *gp = lport_peer(lp);

	/* Closing dom0's end leaves the guest's end unbound, as in Xen. */
	if (gp)
		gp->local = 0;
	lport_dequeue(lp);
	lports[lp->port] = NULL;
	bound_ports--;
	fk_free(lp);
}

evtchn_port_t fake_evtchn_alloc_unbound(uint32_t domid)
{
	struct domain *d = dom_alive(domid);
	uint32_t p;

	if (!d)
		return 0;
	for (p = 1; p < d->nports && d->ports[p].used; p++)
		;
	if (p >= MAX_GUEST_PORTS ||
	    fk_grow((void **)&d->ports, &d->nports, p + 1, sizeof(*d->ports)))
		return 0;
	d->ports[p] = (struct gport){.used = true};
	return p;
}

static struct gport *gport_find(uint32_t domid, evtchn_port_t port)
{
	struct domain *d = dom_alive(domid);

	if (!d || port >= d->nports || !d->ports[port].used)
		return NULL;
	return &d->ports[port];
}

int fake_evtchn_kick(uint32_t domid, evtchn_port_t port)
{
	struct gport *gp = gport_find(domid, port);

	if (!dom_alive(domid))
		return -ESRCH;
	if (!gp)
		return -EINVAL;
	if (!gp->local)
		return -ENOTCONN;
	lport_raise(lports[gp->local]);
	return 0;
}

uint64_t fake_evtchn_notify_count(uint32_t domid, evtchn_port_t port)
{
	struct gport *gp = gport_find(domid, port);

	return gp ? gp->notifies : 0;
}

evtchn_port_t fake_evtchn_peer(uint32_t domid, evtchn_port_t port)
{
	struct gport *gp = gport_find(domid, port);

	return gp ? gp->local : 0;
}

unsigned int fake_evtchn_bound_count(void)
{
	return bound_ports;
}

xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger, unsigned int flags)
{
	xenevtchn_handle *h = fk_calloc(1, sizeof(*h));

	(void)logger;
	(void)flags;
	if (!h)
		return NULL;
	if (wakeup_open(&h->wk) < 0) {
		fk_free(h);
		return NULL;
	}
	hlist_add(&evt_handles, &h->link);
	return h;
}

int xenevtchn_close(xenevtchn_handle *xce)
{
	if (!xce)
		return 0;
	hlist_del(&evt_handles, &xce->link);
	for (uint32_t p = 1; p < nlports; p++)
		if (lports[p] && lports[p]->owner == xce)
			lport_free(lports[p]);
	close(xce->wk.fd);
	fk_free(xce);
	return 0;
}

int xenevtchn_fd(xenevtchn_handle *xce)
{
	if (!xce) {
		errno = EINVAL;
		return -1;
	}
	return xce->wk.fd;
}

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *xce, uint32_t domid,
						     evtchn_port_t remote_port)
{
	struct domain *d = dom_alive(domid);
	struct lport *lp;
	uint32_t p;

	if (!xce) {
		errno = EINVAL;
		return -1;
	}
	if (!d) {
		errno = ESRCH;
		return -1;
	}
	if (remote_port == 0 || remote_port >= d->nports || !d->ports[remote_port].used ||
	    d->ports[remote_port].local) {
		errno = EINVAL;
		return -1;
	}
	for (p = 1; p < nlports && lports[p]; p++)
		;
	if (p >= MAX_LOCAL_PORTS) {
		errno = ENOSPC;
		return -1;
	}
	if (fk_grow((void **)&lports, &nlports, p + 1, sizeof(*lports)) < 0)
		return -1;
	lp = fk_calloc(1, sizeof(*lp));
	if (!lp)
		return -1;
	*lp = (struct lport){.owner = xce, .port = p, .domid = domid, .remote = remote_port};
	lports[p] = lp;
	d->ports[remote_port].local = p;
	bound_ports++;
	/*
	 * Xen marks the new local port pending because kicks sent while the
	 * guest's port was unbound were lost; code under test must cope with
	 * that first, possibly spurious, event.
	 */
	lport_raise(lp);
	return (xenevtchn_port_or_error_t)p;
}

int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
	struct lport *lp = lport_get(xce, port);

	if (!lp) {
		errno = ENOTCONN; /* what Linux's evtchn driver answers */
		return -1;
	}
	lport_free(lp);
	return 0;
}

int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
	struct lport *lp = lport_get(xce, port);
	struct gport *gp;

	if (!lp) {
		errno = ENOTCONN;
		return -1;
	}
	/* A notification towards a dead or closed guest port is dropped by Xen. */
	gp = lport_peer(lp);
	if (gp)
		gp->notifies++;
	return 0;
}

xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
	struct lport *lp;

	if (!xce) {
		errno = EINVAL;
		return -1;
	}
	lp = xce->qhead;
	if (!lp) {
		errno = EAGAIN; /* the real call would block (or fail so) */
		return -1;
	}
	lport_dequeue(lp);
	/* An unmask that raced ahead of this read: deliver the next event now. */
	if (lp->pending && !lp->masked)
		lport_raise(lp);
	return (xenevtchn_port_or_error_t)lp->port;
}

int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
	struct lport *lp = lport_get(xce, port);

	/* Linux silently ignores unmasking a port the handle does not own. */
	if (!lp || !lp->masked)
		return 0;
	lp->masked = false;
	if (lp->pending && !lp->queued)
		lport_raise(lp);
	return 0;
}

/* ---- xenstore: tree -------------------------------------------------------- */

struct node {
	struct node *parent, *children, *next; /* children in creation order */
	char *name;
	char *value; /* NUL-terminated copy, or NULL when len is 0 */
	unsigned int len;
	struct xs_permissions *perms;
	unsigned int nperms;
};

struct watch {
	struct watch *next;
	char *path; /* as the caller gave it: events are reported this way */
	char *abs;  /* resolved, or the same '@' name */
	char *token;
	bool relative;
};

struct event {
	struct event *next;
	char *token; /* points into path's allocation */
	char path[]; /* path NUL token NUL */
};

/* A write or removal made in a transaction: applied, in order, only when
 * the transaction commits, as xenstored does. */
struct txn_op {
	struct txn_op *next;
	char *path;
	char *value; /* NULL: a removal */
	unsigned int len;
};

struct txn {
	struct txn *next;
	xs_transaction_t id;
	struct txn_op *ops, *last;
};

struct xs_handle {
	struct hlink link; /* first: see struct hlink */
	struct wakeup wk;
	bool unwatch_filter;
	bool dead; /* fake_xs_drop_connections(): every call fails */
	struct watch *watches;
	struct event *qhead, *qtail;
	unsigned int qlen;
	struct txn *txns;
	unsigned int ntxns;
};

static struct node *root;
static struct hlink *xs_handles;
static uint64_t events_dropped;
static bool xs_down; /* fake_xs_set_down(): xs_open() fails */
static xs_transaction_t next_txn = 1;
static unsigned int fail_txn_ends; /* commits still to fail with EAGAIN */

static int node_set_perms(struct node *n, const struct xs_permissions *perms, unsigned int num)
{
	struct xs_permissions *p = fk_calloc(num, sizeof(*p));

	if (!p)
		return -ENOMEM;
	memcpy(p, perms, num * sizeof(*p));
	fk_free(n->perms);
	n->perms = p;
	n->nperms = num;
	return 0;
}

static struct node *node_new(struct node *parent, const char *name, size_t namelen,
			     const struct xs_permissions *perms, unsigned int nperms)
{
	struct node *n = fk_calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->name = fk_strndup(name, namelen);
	if (!n->name || node_set_perms(n, perms, nperms) < 0) {
		fk_free(n->name);
		fk_free(n);
		return NULL;
	}
	n->parent = parent;
	if (parent) {
		struct node **pp = &parent->children;

		while (*pp)
			pp = &(*pp)->next;
		*pp = n;
	}
	return n;
}

static void node_free(struct node *n)
{
	while (n->children) {
		struct node *c = n->children;

		n->children = c->next;
		node_free(c);
	}
	fk_free(n->name);
	fk_free(n->value);
	fk_free(n->perms);
	fk_free(n);
}

static void node_unlink(struct node *n)
{
	struct node **pp = &n->parent->children;

	while (*pp != n)
		pp = &(*pp)->next;
	*pp = n->next;
}

static struct node *node_child(const struct node *n, const char *name, size_t len)
{
	for (struct node *c = n->children; c; c = c->next)
		if (strlen(c->name) == len && !memcmp(c->name, name, len))
			return c;
	return NULL;
}

/*
 * Follows the validated absolute path abs as far as it exists: returns the
 * deepest existing node and points *rest at the first missing component
 * ("" when the whole path exists).
 */
static struct node *node_walk(const char *abs, const char **rest)
{
	struct node *n = root;
	const char *p = abs + 1;

	while (*p) {
		const char *e = strchrnul(p, '/');
		struct node *c = node_child(n, p, (size_t)(e - p));

		if (!c)
			break;
		n = c;
		p = *e ? e + 1 : e;
	}
	*rest = p;
	return n;
}

static struct node *node_lookup(const char *abs)
{
	const char *rest;
	struct node *n = node_walk(abs, &rest);

	return *rest ? NULL : n;
}

/* What domid may do with n, following xenstored's rules. */
static unsigned int node_perm(const struct node *n, uint32_t domid)
{
	if (domid == 0 || n->perms[0].id == domid)
		return XS_PERM_READ | XS_PERM_WRITE;
	for (unsigned int i = 1; i < n->nperms; i++)
		if (n->perms[i].id == domid)
			return n->perms[i].perms;
	return n->perms[0].perms;
}

/*
 * Creates the missing nodes of abs as domid and returns the last one. Each
 * new node inherits its parent's perms; xenstored makes unprivileged
 * domains own what they create so they can later change or remove it.
 */
static struct node *node_create(uint32_t domid, const char *abs, int *err)
{
	const char *rest;
	struct node *n = node_walk(abs, &rest);

	if (*rest && !(node_perm(n, domid) & XS_PERM_WRITE)) {
		*err = -EACCES;
		return NULL;
	}
	while (*rest) {
		const char *e = strchrnul(rest, '/');
		struct node *c = node_new(n, rest, (size_t)(e - rest), n->perms, n->nperms);

		if (!c) {
			*err = -ENOMEM;
			return NULL;
		}
		if (domid != 0)
			c->perms[0].id = domid;
		n = c;
		rest = *e ? e + 1 : e;
	}
	return n;
}

static bool tree_ready(void)
{
	static const struct xs_permissions dom0_only = {.id = 0, .perms = XS_PERM_NONE};
	int err;

	if (root)
		return true;
	root = node_new(NULL, "", 0, &dom0_only, 1);
	if (root && !node_create(0, HOME_DOM0, &err)) {
		node_free(root);
		root = NULL;
	}
	return root != NULL;
}

static bool path_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '@';
}

/* xenstored's node-name rules: absolute, no empty component, no trailing '/'. */
static bool path_valid(const char *p)
{
	if (p[0] != '/')
		return false;
	if (p[1] == '\0')
		return true;
	for (const char *c = p; *c; c++) {
		if (*c == '/') {
			if (c[1] == '/' || c[1] == '\0')
				return false;
		} else if (!path_char_ok(*c)) {
			return false;
		}
	}
	return true;
}

/* Makes path absolute for domid (relative paths live in its home) into out. */
static int path_resolve(uint32_t domid, const char *path, char out[PATH_BUF])
{
	size_t n;

	if (!path)
		return -EINVAL;
	n = strlen(path);
	if (path[0] == '/') {
		if (n > XENSTORE_ABS_PATH_MAX)
			return -EINVAL;
		memcpy(out, path, n + 1);
	} else {
		if (n == 0 || n > XENSTORE_REL_PATH_MAX)
			return -EINVAL;
		int r = snprintf(out, PATH_BUF, "/local/domain/%u/%s", (unsigned int)domid, path);
		if (r < 0 || r >= PATH_BUF)
			return -EINVAL;
	}
	return path_valid(out) ? 0 : -EINVAL;
}

/* True if child is parent or lies below it (textually, on '/' boundaries). */
static bool is_subpath(const char *parent, const char *child)
{
	size_t n = strlen(parent);

	if (!strcmp(parent, "/"))
		return child[0] == '/';
	return !strncmp(parent, child, n) && (child[n] == '\0' || child[n] == '/');
}

/* ---- xenstore: watches ----------------------------------------------------- */

static void event_free_all(struct xs_handle *h)
{
	while (h->qhead) {
		struct event *e = h->qhead;

		h->qhead = e->next;
		fk_free(e);
	}
	h->qtail = NULL;
	h->qlen = 0;
}

static void queue_event(struct xs_handle *h, const char *path, const char *token)
{
	size_t pl = strlen(path) + 1, tl = strlen(token) + 1;
	struct event *e;

	if (h->dead)
		return; /* a lost connection hears nothing more */
	if (h->qlen >= FAKE_XS_EVENT_QUEUE_MAX && h->qhead) {
		events_dropped++;
		for (e = h->qhead; e; e = e->next)
			if (!strcmp(e->path, path) && !strcmp(e->token, token))
				return; /* the queued one already tells the watcher */
		e = h->qhead;
		h->qhead = e->next;
		if (!h->qhead)
			h->qtail = NULL;
		h->qlen--;
		fk_free(e);
	}
	e = fk_calloc(1, sizeof(*e) + pl + tl);
	if (!e) {
		events_dropped++;
		return;
	}
	memcpy(e->path, path, pl);
	e->token = e->path + pl;
	memcpy(e->token, token, tl);
	if (h->qtail)
		h->qtail->next = e;
	else
		h->qhead = e;
	h->qtail = e;
	h->qlen++;
	wakeup_set(&h->wk, true);
}

/* Queues w's event for a change at abs (absolute), shown relative if w is. */
static void watch_fire(struct xs_handle *h, const struct watch *w, const char *abs)
{
	if (w->relative)
		abs += strlen(HOME_DOM0) + 1; /* w->abs is below the home, so is abs */
	queue_event(h, abs, w->token);
}

/*
 * A change at abs fires every watch on abs or an ancestor of it; removing
 * abs also fires the watches below it, with their own path, because those
 * nodes are gone too.
 */
static void fire_watches(const char *abs, bool removed)
{
	for (struct hlink *l = xs_handles; l; l = l->next) {
		struct xs_handle *h = (struct xs_handle *)l;

		for (struct watch *w = h->watches; w; w = w->next) {
			if (w->abs[0] == '@')
				continue;
			if (is_subpath(w->abs, abs))
				watch_fire(h, w, abs);
			else if (removed && is_subpath(abs, w->abs))
				watch_fire(h, w, w->abs);
		}
	}
}

static void fire_special(const char *name)
{
	for (struct hlink *l = xs_handles; l; l = l->next) {
		struct xs_handle *h = (struct xs_handle *)l;

		for (struct watch *w = h->watches; w; w = w->next)
			if (!strcmp(w->abs, name))
				queue_event(h, w->path, w->token);
	}
}

/* ---- xenstore: operations shared by the handles and the fake_ API ---------- */

static int store_write(uint32_t domid, const char *path, const void *data, unsigned int len)
{
	char abs[PATH_BUF];
	struct node *n;
	char *v = NULL;
	int err = 0;

	if (!tree_ready())
		return -ENOMEM;
	if (path_resolve(domid, path, abs) < 0 || (!data && len))
		return -EINVAL;
	/* One request carries the path, a NUL and the value. */
	if ((size_t)len + strlen(path) + 1 > XENSTORE_PAYLOAD_MAX)
		return -E2BIG;
	if (len) {
		v = fk_strndup(data, len);
		if (!v)
			return -ENOMEM;
	}
	n = node_lookup(abs);
	if (n && !(node_perm(n, domid) & XS_PERM_WRITE))
		err = -EACCES;
	else if (!n)
		n = node_create(domid, abs, &err);
	if (!n || err) {
		fk_free(v);
		return err;
	}
	fk_free(n->value);
	n->value = v;
	n->len = len;
	fire_watches(abs, false);
	return 0;
}

static int store_mkdir(uint32_t domid, const char *path)
{
	char abs[PATH_BUF];
	int err = 0;

	if (!tree_ready())
		return -ENOMEM;
	if (path_resolve(domid, path, abs) < 0)
		return -EINVAL;
	if (node_lookup(abs))
		return 0; /* xenstored neither fails nor fires for an existing node */
	if (!node_create(domid, abs, &err))
		return err;
	fire_watches(abs, false);
	return 0;
}

static int store_rm(uint32_t domid, const char *path)
{
	char abs[PATH_BUF];
	struct node *n;

	if (!tree_ready())
		return -ENOMEM;
	if (path_resolve(domid, path, abs) < 0 || !strcmp(abs, "/"))
		return -EINVAL;
	n = node_lookup(abs);
	if (!n) {
		/* xenstored: removing a missing node is fine if its parent exists. */
		char *slash = strrchr(abs, '/');

		if (slash == abs)
			slash[1] = '\0';
		else
			*slash = '\0';
		return node_lookup(abs) ? 0 : -ENOENT;
	}
	if (!(node_perm(n, domid) & XS_PERM_WRITE))
		return -EACCES;
	node_unlink(n);
	node_free(n);
	fire_watches(abs, true);
	return 0;
}

/* The node at path if domid may read it; NULL with *err otherwise. */
static struct node *store_get(uint32_t domid, const char *path, int *err)
{
	char abs[PATH_BUF];
	struct node *n;

	if (!tree_ready()) {
		*err = -ENOMEM;
		return NULL;
	}
	if (path_resolve(domid, path, abs) < 0) {
		*err = -EINVAL;
		return NULL;
	}
	n = node_lookup(abs);
	if (!n)
		*err = -ENOENT;
	else if (!(node_perm(n, domid) & XS_PERM_READ)) {
		*err = -EACCES;
		n = NULL;
	}
	return n;
}

static char *store_read(uint32_t domid, const char *path, unsigned int *len, int *err)
{
	struct node *n = store_get(domid, path, err);
	char *v;

	if (!n)
		return NULL;
	v = malloc((size_t)n->len + 1);
	if (!v) {
		*err = -ENOMEM;
		return NULL;
	}
	if (n->len)
		memcpy(v, n->value, n->len);
	v[n->len] = '\0';
	if (len)
		*len = n->len;
	return v;
}

static int store_set_perms(uint32_t domid, const char *path, const struct xs_permissions *perms,
			   unsigned int num)
{
	char abs[PATH_BUF];
	struct node *n;
	int r;

	if (!tree_ready())
		return -ENOMEM;
	if (path_resolve(domid, path, abs) < 0 || !perms || !num)
		return -EINVAL;
	for (unsigned int i = 0; i < num; i++)
		if (perms[i].perms & ~(XS_PERM_READ | XS_PERM_WRITE))
			return -EINVAL;
	n = node_lookup(abs);
	if (!n)
		return -ENOENT;
	if (domid != 0 && n->perms[0].id != domid)
		return -EACCES;
	if (domid != 0 && perms[0].id != domid)
		return -EPERM; /* a guest cannot hand its node to someone else */
	r = node_set_perms(n, perms, num);
	if (r < 0)
		return r;
	fire_watches(abs, false);
	return 0;
}

static int check_domid(uint32_t domid)
{
	return domid == 0 || dom_alive(domid) ? 0 : -ESRCH;
}

int fake_xs_write_as(uint32_t domid, const char *path, const char *value)
{
	int r = check_domid(domid);

	if (r == 0 && !value)
		r = -EINVAL;
	return r ? r : store_write(domid, path, value, (unsigned int)strlen(value));
}

int fake_xs_rm_as(uint32_t domid, const char *path)
{
	int r = check_domid(domid);

	return r ? r : store_rm(domid, path);
}

char *fake_xs_read_as(uint32_t domid, const char *path)
{
	int err = check_domid(domid);
	char *v = NULL;

	if (!err)
		v = store_read(domid, path, NULL, &err);
	if (!v)
		errno = -err;
	return v;
}

char *fake_xs_read(const char *path)
{
	return fake_xs_read_as(0, path);
}

int fake_xs_set_perms_as(uint32_t domid, const char *path, const struct xs_permissions *perms,
			 unsigned int num)
{
	int r = check_domid(domid);

	return r ? r : store_set_perms(domid, path, perms, num);
}

void fake_xs_fail_next_transaction_end(void)
{
	fake_xs_fail_transaction_ends(1);
}

void fake_xs_fail_transaction_ends(unsigned int n)
{
	fail_txn_ends = n;
}

uint64_t fake_xs_events_dropped(void)
{
	return events_dropped;
}

unsigned int fake_xs_watch_count(void)
{
	unsigned int n = 0;

	for (const struct hlink *l = xs_handles; l; l = l->next) {
		const struct xs_handle *h = (const struct xs_handle *)l;

		for (const struct watch *w = h->watches; w; w = w->next)
			n++;
	}
	return n;
}

/* ---- xenstore: the libxenstore API (every handle is dom0) ------------------- */

/* Sets errno from a negative errno result; returns whether r was success. */
static bool ok_or_errno(int r)
{
	if (r < 0)
		errno = -r;
	return r == 0;
}

/* Only transactions this handle started (and has not ended) may be used. */
static struct txn *txn_find(const struct xs_handle *h, xs_transaction_t t)
{
	for (struct txn *x = h->txns; x; x = x->next)
		if (x->id == t)
			return x;
	return NULL;
}

/* Records an op in transaction t; false (ENOMEM) if it cannot. */
static bool txn_add(struct xs_handle *h, xs_transaction_t t, const char *path, const void *data,
		    unsigned int len, bool rm)
{
	struct txn *x = txn_find(h, t);
	struct txn_op *op = fk_calloc(1, sizeof(*op));

	if (!op || !(op->path = fk_strndup(path, strlen(path))) ||
	    (!rm && !(op->value = fk_strndup(data, len)))) {
		if (op)
			fk_free(op->path);
		fk_free(op);
		errno = ENOMEM;
		return false;
	}
	op->len = len;
	if (x->last)
		x->last->next = op;
	else
		x->ops = op;
	x->last = op;
	return true;
}

/* What transaction t's own ops say about path: 1 written (*v, *len set),
 * -1 removed, 0 nothing. A removal covers the subtree. */
static int txn_lookup(const struct xs_handle *h, xs_transaction_t t, const char *path,
		      const struct txn_op **w)
{
	const struct txn *x = t == XBT_NULL ? NULL : txn_find(h, t);
	int r = 0;

	for (const struct txn_op *op = x ? x->ops : NULL; op; op = op->next) {
		size_t pl = strlen(op->path);

		if (op->value && strcmp(op->path, path) == 0) {
			*w = op;
			r = 1;
		} else if (!op->value && strncmp(op->path, path, pl) == 0 &&
			   (path[pl] == '\0' || path[pl] == '/')) {
			r = -1;
		}
	}
	return r;
}

static void txn_free(struct txn *x)
{
	while (x->ops) {
		struct txn_op *op = x->ops;

		x->ops = op->next;
		fk_free(op->path);
		fk_free(op->value);
		fk_free(op);
	}
	fk_free(x);
}

static bool xs_dead(const struct xs_handle *h);

static bool txn_ok(const struct xs_handle *h, xs_transaction_t t)
{
	if (!h) {
		errno = EINVAL;
		return false;
	}
	if (xs_dead(h))
		return false;
	if (t == XBT_NULL)
		return true;
	for (const struct txn *x = h->txns; x; x = x->next)
		if (x->id == t)
			return true;
	errno = ENOENT;
	return false;
}

/*
 * A connection xenstored closed, as libxenstore leaves it: requests fail
 * (EBADF: the reader thread closed the fd), xs_check_watch() fails with
 * EINVAL instead of EAGAIN, and the watch fd stays open but quiet.
 */
static bool xs_dead(const struct xs_handle *h)
{
	if (h && h->dead) {
		errno = EBADF;
		return true;
	}
	return false;
}

void fake_xs_drop_connections(void)
{
	for (struct hlink *l = xs_handles; l; l = l->next) {
		struct xs_handle *h = (struct xs_handle *)l;

		h->dead = true;
		event_free_all(h);
		wakeup_set(&h->wk, false);
	}
}

void fake_xs_set_down(bool down)
{
	xs_down = down;
}

struct xs_handle *xs_open(unsigned long flags)
{
	struct xs_handle *h;

	if (xs_down) {
		errno = ECONNREFUSED;
		return NULL;
	}
	h = fk_calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	if (wakeup_open(&h->wk) < 0) {
		fk_free(h);
		return NULL;
	}
	h->unwatch_filter = flags & XS_UNWATCH_FILTER;
	hlist_add(&xs_handles, &h->link);
	return h;
}

static void watch_free(struct watch *w)
{
	fk_free(w->path);
	fk_free(w->abs);
	fk_free(w->token);
	fk_free(w);
}

void xs_close(struct xs_handle *xsh)
{
	if (!xsh)
		return;
	hlist_del(&xs_handles, &xsh->link);
	while (xsh->watches) {
		struct watch *w = xsh->watches;

		xsh->watches = w->next;
		watch_free(w);
	}
	while (xsh->txns) {
		struct txn *t = xsh->txns;

		xsh->txns = t->next;
		txn_free(t);
	}
	event_free_all(xsh);
	close(xsh->wk.fd);
	fk_free(xsh);
}

int xs_fileno(struct xs_handle *h)
{
	if (!h) {
		errno = EINVAL;
		return -1;
	}
	return h->wk.fd;
}

void *xs_read(struct xs_handle *h, xs_transaction_t t, const char *path, unsigned int *len)
{
	const struct txn_op *w = NULL;
	int err = 0;
	char *v;

	if (!txn_ok(h, t))
		return NULL;
	/* The transaction sees its own writes. */
	switch (txn_lookup(h, t, path, &w)) {
	case 1:
		/* The caller frees it: plain malloc, as store_read() does. */
		v = malloc(w->len + 1);
		if (!v) {
			errno = ENOMEM;
			return NULL;
		}
		memcpy(v, w->value, w->len);
		v[w->len] = '\0';
		if (len)
			*len = w->len;
		return v;
	case -1:
		errno = ENOENT;
		return NULL;
	default:
		break;
	}
	v = store_read(0, path, len, &err);
	if (!v)
		errno = -err;
	return v;
}

bool xs_write(struct xs_handle *h, xs_transaction_t t, const char *path, const void *data,
	      unsigned int len)
{
	if (!txn_ok(h, t))
		return false;
	if (t != XBT_NULL)
		return txn_add(h, t, path, data, len, false);
	return ok_or_errno(store_write(0, path, data, len));
}

bool xs_mkdir(struct xs_handle *h, xs_transaction_t t, const char *path)
{
	return txn_ok(h, t) && ok_or_errno(store_mkdir(0, path));
}

bool xs_rm(struct xs_handle *h, xs_transaction_t t, const char *path)
{
	if (!txn_ok(h, t))
		return false;
	if (t != XBT_NULL)
		return txn_add(h, t, path, NULL, 0, true);
	return ok_or_errno(store_rm(0, path));
}

/* The node at path, read as dom0, for the calls that return a count in
 * *num: NULL with errno set if the transaction, num or path is bad. */
static struct node *counted_get(const struct xs_handle *h, xs_transaction_t t, const char *path,
				const unsigned int *num)
{
	struct node *n;
	int err = 0;

	if (!txn_ok(h, t))
		return NULL;
	if (!num) {
		errno = EINVAL;
		return NULL;
	}
	n = store_get(0, path, &err);
	if (!n)
		errno = -err;
	return n;
}

char **xs_directory(struct xs_handle *h, xs_transaction_t t, const char *path, unsigned int *num)
{
	struct node *n = xs_dead(h) ? NULL : counted_get(h, t, path, num);
	size_t bytes = 0;
	unsigned int count = 0;
	char **v, *s;

	if (!n)
		return NULL;
	for (struct node *c = n->children; c; c = c->next) {
		count++;
		bytes += strlen(c->name) + 1;
	}
	/* Like libxenstore: the pointers and the names share one allocation. */
	v = malloc(count * sizeof(*v) + bytes + 1);
	if (!v) {
		errno = ENOMEM;
		return NULL;
	}
	s = (char *)(v + count);
	count = 0;
	for (struct node *c = n->children; c; c = c->next) {
		size_t l = strlen(c->name) + 1;

		memcpy(s, c->name, l);
		v[count++] = s;
		s += l;
	}
	*num = count;
	return v;
}

struct xs_permissions *xs_get_permissions(struct xs_handle *h, xs_transaction_t t, const char *path,
					  unsigned int *num)
{
	struct node *n = counted_get(h, t, path, num);
	struct xs_permissions *p;

	if (!n)
		return NULL;
	p = malloc(n->nperms * sizeof(*p));
	if (!p) {
		errno = ENOMEM;
		return NULL;
	}
	memcpy(p, n->perms, n->nperms * sizeof(*p));
	*num = n->nperms;
	return p;
}

bool xs_set_permissions(struct xs_handle *h, xs_transaction_t t, const char *path,
			struct xs_permissions *perms, unsigned int num_perms)
{
	return txn_ok(h, t) && ok_or_errno(store_set_perms(0, path, perms, num_perms));
}

static struct watch *watch_find(struct xs_handle *h, const char *abs, const char *token,
				struct watch ***link)
{
	for (struct watch **pp = &h->watches; *pp; pp = &(*pp)->next) {
		if (!strcmp((*pp)->abs, abs) && !strcmp((*pp)->token, token)) {
			if (link)
				*link = pp;
			return *pp;
		}
	}
	return NULL;
}

/* The absolute form of a watch path ('@' names are kept as they are). */
static int watch_resolve(const char *path, char abs[PATH_BUF])
{
	if (path && path[0] == '@') {
		size_t n = strlen(path);

		if (n > XENSTORE_REL_PATH_MAX)
			return -EINVAL;
		memcpy(abs, path, n + 1);
		return 0;
	}
	return path_resolve(0, path, abs);
}

bool xs_watch(struct xs_handle *h, const char *path, const char *token)
{
	char abs[PATH_BUF];
	struct watch *w, **pp;

	if (xs_dead(h))
		return false;
	if (!h || !token || watch_resolve(path, abs) < 0) {
		errno = EINVAL;
		return false;
	}
	if (watch_find(h, abs, token, NULL)) {
		errno = EEXIST;
		return false;
	}
	w = fk_calloc(1, sizeof(*w));
	if (!w)
		return false;
	w->path = fk_strndup(path, strlen(path));
	w->abs = fk_strndup(abs, strlen(abs));
	w->token = fk_strndup(token, strlen(token));
	if (!w->path || !w->abs || !w->token) {
		watch_free(w);
		return false;
	}
	w->relative = path[0] != '/' && path[0] != '@';
	for (pp = &h->watches; *pp; pp = &(*pp)->next)
		;
	*pp = w;
	/*
	 * xenstored fires every new watch once, so the watcher reads the
	 * current state right away instead of racing with earlier writes.
	 */
	queue_event(h, w->path, w->token);
	return true;
}

bool xs_unwatch(struct xs_handle *h, const char *path, const char *token)
{
	char abs[PATH_BUF];
	struct watch *w, **link = NULL;

	if (xs_dead(h))
		return false;
	if (!h || !token || watch_resolve(path, abs) < 0) {
		errno = EINVAL;
		return false;
	}
	w = watch_find(h, abs, token, &link);
	if (!w) {
		errno = ENOENT;
		return false;
	}
	*link = w->next;
	if (h->unwatch_filter) {
		/* Drop the queued events this watch produced. */
		struct event **pp = &h->qhead;

		h->qtail = NULL;
		while (*pp) {
			struct event *e = *pp;

			if (!strcmp(e->token, w->token) && is_subpath(w->path, e->path)) {
				*pp = e->next;
				h->qlen--;
				fk_free(e);
			} else {
				h->qtail = e;
				pp = &e->next;
			}
		}
		if (!h->qhead)
			wakeup_set(&h->wk, false);
	}
	watch_free(w);
	return true;
}

/* Pops the oldest event as one allocation: the two pointers, then the strings. */
static char **event_pop(struct xs_handle *h)
{
	struct event *e;
	size_t pl, tl;
	char **v;

	if (!h || h->dead) {
		errno = EINVAL;
		return NULL;
	}
	e = h->qhead;
	if (!e) {
		errno = EAGAIN;
		return NULL;
	}
	pl = strlen(e->path) + 1;
	tl = strlen(e->token) + 1;
	v = malloc(2 * sizeof(*v) + pl + tl);
	if (!v) {
		errno = ENOMEM;
		return NULL;
	}
	v[XS_WATCH_PATH] = (char *)(v + 2);
	v[XS_WATCH_TOKEN] = v[XS_WATCH_PATH] + pl;
	memcpy(v[XS_WATCH_PATH], e->path, pl);
	memcpy(v[XS_WATCH_TOKEN], e->token, tl);
	h->qhead = e->next;
	if (!h->qhead) {
		h->qtail = NULL;
		wakeup_set(&h->wk, false);
	}
	h->qlen--;
	fk_free(e);
	return v;
}

char **xs_read_watch(struct xs_handle *h, unsigned int *num)
{
	char **v = event_pop(h);

	if (v && num)
		*num = 2;
	return v;
}

char **xs_check_watch(struct xs_handle *h)
{
	return event_pop(h);
}

xs_transaction_t xs_transaction_start(struct xs_handle *h)
{
	struct txn *t;

	if (!h) {
		errno = EINVAL;
		return XBT_NULL;
	}
	if (h->ntxns >= MAX_TXNS) {
		errno = ENOSPC; /* a leaked transaction hits xenstored's quota too */
		return XBT_NULL;
	}
	t = fk_calloc(1, sizeof(*t));
	if (!t)
		return XBT_NULL;
	if (next_txn == XBT_NULL)
		next_txn++;
	t->id = next_txn++;
	t->next = h->txns;
	h->txns = t;
	h->ntxns++;
	return t->id;
}

bool xs_transaction_end(struct xs_handle *h, xs_transaction_t t, bool abort)
{
	if (!h) {
		errno = EINVAL;
		return false;
	}
	for (struct txn **pp = &h->txns; *pp; pp = &(*pp)->next) {
		struct txn *x = *pp;

		if (x->id != t)
			continue;
		*pp = x->next;
		h->ntxns--;
		/* Like xenstored's EAGAIN, the transaction is over either way,
		 * and none of it happened. */
		if (!abort && fail_txn_ends) {
			fail_txn_ends--;
			txn_free(x);
			errno = EAGAIN;
			return false;
		}
		for (const struct txn_op *op = abort ? NULL : x->ops; op; op = op->next) {
			if (op->value)
				store_write(0, op->path, op->value, op->len);
			else
				store_rm(0, op->path);
		}
		txn_free(x);
		return true;
	}
	errno = ENOENT;
	return false;
}

bool xs_is_domain_introduced(struct xs_handle *h, unsigned int domid)
{
	if (xs_dead(h))
		return false;
	return domid == 0 || dom_alive(domid);
}

char *xs_get_domain_path(struct xs_handle *h, unsigned int domid)
{
	char *p;

	if (!h) {
		errno = EINVAL;
		return NULL;
	}
	if (asprintf(&p, "/local/domain/%u", domid) < 0) {
		errno = ENOMEM;
		return NULL;
	}
	return p;
}

/* ---- domains and the whole fake -------------------------------------------- */

int fake_domain_create(uint32_t domid)
{
	struct xs_permissions own = {.id = domid, .perms = XS_PERM_NONE};
	struct domain *d;
	char home[32];
	int r;

	if (domid == 0 || domid >= DOMID_FIRST_RESERVED)
		return -EINVAL;
	d = dom_find(domid);
	if (d && d->alive)
		return -EEXIST;
	if (!d) {
		d = fk_calloc(1, sizeof(*d));
		if (!d)
			return -ENOMEM;
		d->domid = domid;
		d->next = domains;
		domains = d;
	}
	d->alive = true;
	snprintf(home, sizeof(home), "/local/domain/%u", (unsigned int)domid);
	r = store_mkdir(0, home);
	if (r == 0)
		r = store_set_perms(0, home, &own, 1);
	fire_special("@introduceDomain");
	return r;
}

int fake_domain_destroy(uint32_t domid)
{
	struct domain *d = dom_alive(domid);

	if (!d)
		return -ESRCH;
	d->alive = false;
	dom_clear(d);
	fire_special("@releaseDomain");
	return 0;
}

size_t fake_live_allocs(void)
{
	return live_allocs;
}

unsigned int fake_handles_open(void)
{
	return hlist_len(gnt_handles) + hlist_len(evt_handles) + hlist_len(xs_handles);
}

void fake_reset(void)
{
	xs_down = false;
	while (gnt_handles)
		xengnttab_close((xengnttab_handle *)gnt_handles);
	while (evt_handles)
		xenevtchn_close((xenevtchn_handle *)evt_handles);
	while (xs_handles)
		xs_close((struct xs_handle *)xs_handles);
	fk_free(lports);
	lports = NULL;
	nlports = 0;
	bound_ports = 0;
	while (domains) {
		struct domain *d = domains;

		domains = d->next;
		dom_clear(d);
		fk_free(d);
	}
	if (root)
		node_free(root);
	root = NULL;
	mapped_pages = 0;
	copy_calls = copy_segs = 0;
	copy_call_fail_err = map_fail_err = 0;
	copy_fail.armed = false;
	events_dropped = 0;
	next_txn = 1;
	fail_txn_ends = 0;
}
