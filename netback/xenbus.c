/* SPDX-License-Identifier: MIT */
/*
 * xenbus.c - the control path: discovers vifs under dom0's backend/vif,
 * runs each one's xenbus state machine (xbstate.c), registers its addresses
 * from the backend `ip` key, and connects or disconnects its data path
 * (dp.c). Every key is documented in docs/xenstore.md.
 *
 * Watch events are only hints: on each one the affected vif is marked
 * dirty, and processing re-reads the current values. A guest rewriting its
 * frontend keys in a loop therefore costs a re-read per batch of events and
 * no memory.
 */
#include "ipnb/xenbus.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

#include "ipnb/addr.h"
#include "ipnb/clock.h"
#include "ipnb/log.h"
#include "ipnb/xbstate.h"

#define XB_TOKEN_BACKEND "ipnb-be"
#define XB_TOKEN_FRONT	 "ipnb-fe"
#define XB_TOKEN_RELEASE "ipnb-rel"

struct xb_vif {
	struct xb_vif *next;
	uint16_t domid;
	uint32_t devid;
	char *be; /* backend directory */
	char *fe; /* frontend directory, once known and valid */
	bool fe_watched;
	bool dirty;
	bool failed;	  /* connect failed or disabled: wait for a restart */
	int published;	  /* backend state we last wrote */
	char *ip_seen;	  /* `ip` value last processed */
	bool ip_conflict; /* some address was refused as taken */
	bool rate_known;  /* rate_seen is the `rate` last processed */
	char *rate_seen;  /* NULL if the key was absent */
	bool rate_bad;	  /* rate_seen does not parse: no connect */
	bool mtu_known;	  /* mtu_seen is the `mtu` last processed */
	char *mtu_seen;	  /* NULL if the key was absent */
	bool mtu_bad;	  /* mtu_seen is out of range: no connect */
	bool name_bad;	  /* the vifname key was refused (logged once) */
	/* What the CLI and the metrics call it: the backend's vifname, or
	 * "vifD.N" as Linux netback names its device; and the domain's name. */
	char name[24]; /* "vif65535.4294967295" fits */
	char domain[XB_DOMAIN_MAX + 1];
	struct dp_vif *dp;
};

struct xb {
	struct xs_handle *xs;
	struct dp *dp;
	char *root; /* /local/domain/0/backend/vif */
	struct xb_vif *vifs;
	bool rescan;
	/* The connection to xenstored is gone (xb_handle_events() found it
	 * closed, or a read failed and the check agreed): nothing read since
	 * is acted on, the data path carries on, and xb_process() opens a new
	 * connection every XB_RETRY_MS. */
	bool lost;
	uint64_t probe_ms;  /* when the connection was last checked */
	uint64_t retry_ms;  /* when the next reconnect is due */
	struct xb_stats st; /* all but st.vifs, which is counted on demand */
};

/* An idle daemon checks its xenstore connection this often (a dead
 * connection wakes nothing up), and retries a lost one this often. */
#define XB_PROBE_MS 2000
#define XB_RETRY_MS 1000

/* ---- xenstore helpers ------------------------------------------------------ */

static char *xb_path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xb_path(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (!s)
		fatal("out of memory");
	return s;
}

static void on_watch(struct xb *xb, const char *path, const char *token);

/*
 * Whether libxenstore still has its connection, without a round trip: its
 * reader thread closes a connection xenstored closed, and xs_check_watch()
 * then fails with EINVAL where a live one with nothing queued fails with
 * EAGAIN. An event it returns is handled (it only marks vifs dirty). Sets
 * lost, with one log line, the first time the answer is no.
 */
static bool xs_alive(struct xb *xb)
{
	char **vec;

	if (xb->lost)
		return false;
	xb->probe_ms = ipnb_now_ms();
	while ((vec = xs_check_watch(xb->xs)) != NULL) {
		xb->st.watch_events++;
		on_watch(xb, vec[XS_WATCH_PATH], vec[XS_WATCH_TOKEN]);
		free(vec);
	}
	if (errno == EAGAIN)
		return true;
	xb->lost = true;
	xb->retry_ms = xb->probe_ms;
	xb->st.xenstore_lost++;
	log_warnx("xenstore: connection lost; the vifs carry on as they are, and the control "
		  "path waits until it can connect again");
	return false;
}

/* Reads dir/key; NULL if absent. The caller frees. A read that failed for
 * another reason than ENOENT may be a lost connection: then xb->lost is
 * set, and the caller must not act on what it read. */
static char *rd(struct xb *xb, const char *dir, const char *key)
{
	char *p = xb_path("%s/%s", dir, key);
	unsigned int len;
	char *v = xb->lost ? NULL : xs_read(xb->xs, XBT_NULL, p, &len);

	if (!v && !xb->lost && errno != ENOENT)
		xs_alive(xb);
	free(p);
	return v;
}

/* The frontend's domain is alive. False also when the answer is an error:
 * then check the connection, so that a lost one is not taken for a dead
 * domain. */
static bool domain_alive(struct xb *xb, uint16_t domid)
{
	if (xb->lost)
		return true; /* whatever it is, nothing is done with it */
	errno = 0;	     /* an answer of "no" leaves it alone */
	if (xs_is_domain_introduced(xb->xs, domid))
		return true;
	if (errno != 0)
		xs_alive(xb);
	return false;
}

/* dir/key exists, whatever its value. */
static bool key_exists(struct xb *xb, const char *dir, const char *key)
{
	char *v = rd(xb, dir, key);
	bool exists = v != NULL;

	free(v);
	return exists;
}

/* v is an unsigned decimal no larger than max. Anything else (empty,
 * signs, spaces, trailing junk, overflow) is refused: keys are hostile. */
static bool parse_ulong(const char *v, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long n;

	if (!v || v[0] < '0' || v[0] > '9')
		return false;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno != 0 || *end != '\0' || n > max)
		return false;
	*out = n;
	return true;
}

/* Reads dir/key as parse_ulong() takes it. */
static bool rd_uint(struct xb *xb, const char *dir, const char *key, unsigned long max,
		    unsigned long *out)
{
	char *v = rd(xb, dir, key);
	bool ok = parse_ulong(v, max, out);

	free(v);
	return ok;
}

static bool rd_flag(struct xb *xb, const char *dir, const char *key, bool dflt)
{
	unsigned long v;

	if (!rd_uint(xb, dir, key, 1, &v))
		return dflt;
	return v == 1;
}

static void wr(struct xb *xb, const char *dir, const char *key, const char *val)
{
	char *p = xb_path("%s/%s", dir, key);

	if (!xb->lost && !xs_write(xb->xs, XBT_NULL, p, val, (unsigned int)strlen(val)) &&
	    xs_alive(xb))
		log_warn("writing %s", p);
	free(p);
}

static void rm_key(struct xb *xb, const char *dir, const char *key)
{
	char *p = xb_path("%s/%s", dir, key);

	xs_rm(xb->xs, XBT_NULL, p);
	free(p);
}

static void publish_state(struct xb *xb, struct xb_vif *v, int state)
{
	char buf[4];

	snprintf(buf, sizeof(buf), "%d", state);
	wr(xb, v->be, "state", buf);
	log_debug("vif %u/%u: backend state %s", v->domid, v->devid, xbs_state_name(state));
	v->published = state;
}

static bool parse_mac(const char *s, uint8_t mac[FRAME_ETH_ALEN])
{
	unsigned int b[6];
	char tail;

	if (!s || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
			 &tail) != 6)
		return false;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return !(mac[0] & 1); /* a guest's own address is never a group address */
}

/* ---- vif bookkeeping ------------------------------------------------------- */

static struct xb_vif *vif_find(struct xb *xb, unsigned long domid, unsigned long devid)
{
	for (struct xb_vif *v = xb->vifs; v; v = v->next)
		if (v->domid == domid && v->devid == devid)
			return v;
	return NULL;
}

static struct xb_vif *vif_get(struct xb *xb, unsigned long domid, unsigned long devid)
{
	struct xb_vif *v = vif_find(xb, domid, devid);
	static const uint8_t nomac[FRAME_ETH_ALEN];

	if (v)
		return v;
	v = calloc(1, sizeof(*v));
	if (!v)
		fatal("out of memory");
	v->domid = (uint16_t)domid;
	v->devid = (uint32_t)devid;
	v->be = xb_path("%s/%lu/%lu", xb->root, domid, devid);
	snprintf(v->name, sizeof(v->name), "vif%u.%u", v->domid, v->devid);
	v->dp = dp_vif_new(xb->dp, v->domid, v->devid, nomac);
	if (!v->dp)
		fatal("out of memory");
	v->dirty = true;
	v->next = xb->vifs;
	xb->vifs = v;
	return v;
}

static void fe_unwatch(struct xb *xb, struct xb_vif *v)
{
	if (v->fe_watched)
		xs_unwatch(xb->xs, v->fe, XB_TOKEN_FRONT);
	v->fe_watched = false;
	free(v->fe);
	v->fe = NULL;
}

/* Unlinks v and frees it with its data-path vif (which gives up its
 * addresses and grants). The one teardown: release and xb_free() use it. */
static void vif_destroy(struct xb *xb, struct xb_vif *v)
{
	struct xb_vif **pp;

	fe_unwatch(xb, v);
	dp_vif_free(xb->dp, v->dp);
	for (pp = &xb->vifs; *pp; pp = &(*pp)->next) {
		if (*pp == v) {
			*pp = v->next;
			break;
		}
	}
	free(v->be);
	free(v->ip_seen);
	free(v->rate_seen);
	free(v->mtu_seen);
	free(v);
}

/* Addresses some vif gave up may be what another was refused: every vif
 * (but except) that was refused one re-reads its `ip` key on its next pass. */
static void conflicts_retry(struct xb *xb, const struct xb_vif *except)
{
	for (struct xb_vif *o = xb->vifs; o; o = o->next) {
		if (o != except && o->ip_conflict) {
			free(o->ip_seen);
			o->ip_seen = NULL;
			o->dirty = true;
		}
	}
}

static void vif_release(struct xb *xb, struct xb_vif *v)
{
	log_info("vif %u/%u: backend directory removed, released", v->domid, v->devid);
	vif_destroy(xb, v);
	conflicts_retry(xb, NULL);
}

/* ---- addresses ------------------------------------------------------------- */

static void vif_update_addrs(struct xb *xb, struct xb_vif *v)
{
	char *ip = rd(xb, v->be, "ip");
	const char *val = ip ? ip : "";
	struct ipnb_addr a[IPNB_VIF_MAX_ADDRS];
	size_t n = 0, bad = 0, conflict[IPNB_VIF_MAX_ADDRS], nc = 0;
	int err, gave_up;
	char msg[512];

	if (xb->lost) {
		free(ip);
		return;
	}

	if (v->ip_seen && strcmp(v->ip_seen, val) == 0) {
		free(ip);
		return;
	}
	free(v->ip_seen);
	v->ip_seen = strdup(val);
	if (!v->ip_seen)
		fatal("out of memory");

	err = ipnb_addr_parse_list(val, a, IPNB_VIF_MAX_ADDRS, &n, &bad);
	if (err != IPNB_ADDR_OK) {
		/* Keep the addresses registered so far rather than half of a
		 * list the operator did not mean. */
		snprintf(msg, sizeof(msg), "ip key refused at \"%.64s\": %s", val + bad,
			 ipnb_addr_strerror(err));
		log_warnx("vif %u/%u: %s", v->domid, v->devid, msg);
		wr(xb, v->be, "ip-error", msg);
		free(ip);
		return;
	}
	gave_up = dp_vif_set_addrs(xb->dp, v->dp, a, n, conflict, &nc);
	if (gave_up < 0) {
		snprintf(msg, sizeof(msg), "address table full");
		log_warnx("vif %u/%u: %s", v->domid, v->devid, msg);
		wr(xb, v->be, "ip-error", msg);
		free(ip);
		return;
	}
	v->ip_conflict = nc > 0;
	if (nc) {
		size_t off = 0;

		off += (size_t)snprintf(msg, sizeof(msg), "refused, already registered:");
		for (size_t i = 0; i < nc && off < sizeof(msg); i++) {
			char s[IPNB_ADDR_STRLEN];
			struct dp_vif *owner = dp_addr_owner(xb->dp, &a[conflict[i]]);
			uint16_t od = 0;
			uint32_t odev = 0;

			if (owner)
				dp_vif_id(owner, &od, &odev);
			ipnb_addr_format(&a[conflict[i]], s);
			off += (size_t)snprintf(msg + off, sizeof(msg) - off, " %s (vif %u/%u)", s,
						od, odev);
		}
		log_warnx("vif %u/%u: ip %s", v->domid, v->devid, msg);
		wr(xb, v->be, "ip-error", msg);
	} else {
		rm_key(xb, v->be, "ip-error");
	}
	log_info("vif %u/%u: %zu address(es) registered from ip=\"%s\"", v->domid, v->devid, n - nc,
		 val);
	/* Only when this vif gave something up: two vifs each refused the
	 * other's address must not keep re-registering each other forever. */
	if (gave_up > 0)
		conflicts_retry(xb, v);
	free(ip);
}

/* ---- names --------------------------------------------------------------- */

/* A vifname is an interface name as the toolstack's vif scripts would give
 * it to a netdev: 1 to 15 letters, digits, '_', '.' or '-', not "." or "..". */
static bool vifname_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > XB_NAME_MAX || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' && *s != '-')
			return false;
	return true;
}

/* The backend's `vifname` (libxl writes it from vif=['vifname=...']) and
 * the domain's `name`, re-read on every pass (xl rename changes the name).
 * Both are dom0's; a bad vifname still falls back to the default, and the
 * name is kept printable, for the CLI's tables. */
static void vif_update_names(struct xb *xb, struct xb_vif *v)
{
	char *vn = rd(xb, v->be, "vifname");
	char *home = xb_path("/local/domain/%u", v->domid);
	char *dn = rd(xb, home, "name");

	if (vn && vifname_ok(vn)) {
		snprintf(v->name, sizeof(v->name), "%s", vn);
		v->name_bad = false;
	} else {
		snprintf(v->name, sizeof(v->name), "vif%u.%u", v->domid, v->devid);
		if (vn && !v->name_bad)
			log_warnx("vif %u/%u: vifname \"%.32s\" is not an interface name; "
				  "shown as %s",
				  v->domid, v->devid, vn, v->name);
		v->name_bad = vn != NULL;
	}
	snprintf(v->domain, sizeof(v->domain), "%s", dn ? dn : "");
	for (char *c = v->domain; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	free(vn);
	free(home);
	free(dn);
}

/* ---- rate ---------------------------------------------------------------- */

/* libxl's `rate` value, "BYTES,MICROSECONDS" (what Linux netback reads):
 * two unsigned decimals, both at least 1, nothing else. */
static bool parse_rate(const char *s, uint64_t *bytes, uint32_t *usec)
{
	unsigned long long b, u;
	char *end;

	if (!s || s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	b = strtoull(s, &end, 10);
	if (errno || *end != ',' || end[1] < '0' || end[1] > '9')
		return false;
	u = strtoull(end + 1, &end, 10);
	if (errno || *end != '\0' || b == 0 || u == 0 || u > UINT32_MAX)
		return false;
	*bytes = b;
	*usec = (uint32_t)u;
	return true;
}

/* A backend key re-read on every pass is acted on only when it changed:
 * *seen holds the value last acted on (NULL: absent), *known whether there
 * was one. Takes now (NULL: absent); returns true if it differs. */
static bool key_changed(char **seen, bool *known, char *now)
{
	if (*known && (now ? *seen && strcmp(*seen, now) == 0 : *seen == NULL)) {
		free(now);
		return false;
	}
	free(*seen);
	*seen = now; /* kept: freed with the record or on the next change */
	*known = true;
	return true;
}

/* Applies the backend `rate` key when it changed. A value that does not
 * parse keeps the rate in force and is reported in `rate-error`; before
 * the first connect it also refuses the connect (vif_connect()), so that a
 * guest never runs unlimited by mistake. */
static void vif_update_rate(struct xb *xb, struct xb_vif *v)
{
	char *rate = rd(xb, v->be, "rate");
	const char *val = rate ? rate : "";
	uint64_t bytes = 0;
	uint32_t usec = 0;

	if (xb->lost) {
		free(rate);
		return;
	}
	if (!key_changed(&v->rate_seen, &v->rate_known, rate))
		return;
	v->rate_bad = rate && !parse_rate(rate, &bytes, &usec);
	if (v->rate_bad) {
		char msg[160];

		snprintf(msg, sizeof(msg), "rate \"%.64s\" is not BYTES,MICROSECONDS", val);
		log_warnx("vif %u/%u: %s; %s", v->domid, v->devid, msg,
			  dp_vif_rate(v->dp, &bytes, &usec) ? "the rate in force stays"
							    : "it will not connect");
		wr(xb, v->be, "rate-error", msg);
	} else {
		dp_vif_set_rate(v->dp, bytes, usec);
		rm_key(xb, v->be, "rate-error");
		if (rate)
			log_info("vif %u/%u: TX rate %" PRIu64 " bytes per %" PRIu32 " us",
				 v->domid, v->devid, bytes, usec);
	}
}

/* Applies the backend `mtu` key when it changed (libxl writes it for a vif
 * line's mtu= other than 1500; absent is 1500). A value that is not a
 * number from DP_MTU_MIN to DP_MTU_MAX keeps the MTU in force and is
 * reported in `mtu-error`; while it stands, a connect is refused
 * (vif_connect()): an operator who asked for 9216 is told, rather than
 * given 1500. */
static void vif_update_mtu(struct xb *xb, struct xb_vif *v)
{
	char *mtu = rd(xb, v->be, "mtu");
	unsigned long m = DP_MTU_DEFAULT;

	if (xb->lost) {
		free(mtu);
		return;
	}
	if (!key_changed(&v->mtu_seen, &v->mtu_known, mtu))
		return;
	v->mtu_bad = mtu && (!parse_ulong(mtu, DP_MTU_MAX, &m) || m < DP_MTU_MIN);
	if (v->mtu_bad) {
		char msg[160];

		snprintf(msg, sizeof(msg), "mtu \"%.32s\" is not a number from %u to %u", mtu,
			 DP_MTU_MIN, DP_MTU_MAX);
		log_warnx("vif %u/%u: %s; %s", v->domid, v->devid, msg,
			  v->published == XenbusStateConnected ? "the MTU in force stays"
							       : "it will not connect");
		wr(xb, v->be, "mtu-error", msg);
		return;
	}
	rm_key(xb, v->be, "mtu-error");
	if (dp_vif_mtu(v->dp) != m)
		log_info("vif %u/%u: MTU %lu", v->domid, v->devid, m);
	dp_vif_set_mtu(v->dp, (unsigned int)m);
}

/* ---- connect ------------------------------------------------------------- */

static void vif_fail(struct xb *xb, struct xb_vif *v, const char *msg)
{
	log_warnx("vif %u/%u: cannot connect: %s", v->domid, v->devid, msg);
	wr(xb, v->be, "hotplug-error", msg);
	wr(xb, v->be, "hotplug-status", "error");
	v->failed = true;
	xb->st.connect_failures++;
}

/* The keys of one queue's rings and channels, at the top of the frontend
 * directory or under queue-N/. */
static const char *const ring_keys[] = {"tx-ring-ref", "rx-ring-ref", "event-channel",
					"event-channel-tx", "event-channel-rx"};

/*
 * Reads one queue's ring refs and event channel(s) from dir: tx-ring-ref,
 * rx-ring-ref, and event-channel or both event-channel-tx and -rx. `who`
 * names the place in a refusal ("frontend", "frontend queue-1"). Returns
 * false with the refusal in msg.
 */
static bool rd_rings(struct xb *xb, const char *dir, const char *who, struct dp_ring_cfg *rc,
		     char *msg, size_t msglen)
{
	unsigned long tx, rx, ev, evtx, evrx;

	if (!rd_uint(xb, dir, "tx-ring-ref", UINT32_MAX, &tx) ||
	    !rd_uint(xb, dir, "rx-ring-ref", UINT32_MAX, &rx)) {
		snprintf(msg, msglen, "%s has no valid tx-ring-ref/rx-ring-ref", who);
		return false;
	}
	if (key_exists(xb, dir, "event-channel-tx") || key_exists(xb, dir, "event-channel-rx")) {
		/* Both halves or neither (netif.h). A frontend that wrote one
		 * half is broken or probing: falling back to event-channel
		 * would connect a layout it did not ask for. */
		if (!rd_uint(xb, dir, "event-channel-tx", UINT32_MAX, &evtx) ||
		    !rd_uint(xb, dir, "event-channel-rx", UINT32_MAX, &evrx)) {
			snprintf(msg, msglen,
				 "%s has no valid event-channel-tx/event-channel-rx pair", who);
			return false;
		}
		rc->evtchn_tx = (evtchn_port_t)evtx;
		rc->evtchn_rx = (evtchn_port_t)evrx;
	} else if (rd_uint(xb, dir, "event-channel", UINT32_MAX, &ev)) {
		rc->evtchn_tx = rc->evtchn_rx = (evtchn_port_t)ev;
	} else {
		snprintf(msg, msglen, "%s has no valid event-channel", who);
		return false;
	}
	rc->tx_ref = (grant_ref_t)tx;
	rc->rx_ref = (grant_ref_t)rx;
	return true;
}

/* Queue i's refs and channels into cfg (queue 0's are its top fields). */
static void set_queue(struct dp_vif_cfg *cfg, unsigned int i, const struct dp_ring_cfg *rc)
{
	if (i) {
		cfg->more[i - 1] = *rc;
		return;
	}
	cfg->tx_ref = rc->tx_ref;
	cfg->rx_ref = rc->rx_ref;
	cfg->evtchn_tx = rc->evtchn_tx;
	cfg->evtchn_rx = rc->evtchn_rx;
}

/*
 * The frontend's queues (netif.h "Multi-queue"). Without
 * multi-queue-num-queues, or with 1 (as Linux netback reads it), one queue
 * whose keys are at the top of the frontend directory, as before the
 * feature. With 2 or more (up to dp_max_queues(), which the backend
 * advertised), every queue's keys under queue-N/, N from 0, and none at the
 * top: netif.h forbids them there, and a frontend that wrote both is
 * refused rather than guessed at (Linux ignores the top-level ones).
 * Returns false with the refusal in msg.
 */
static bool rd_queues(struct xb *xb, struct xb_vif *v, struct dp_vif_cfg *cfg, char *msg,
		      size_t msglen)
{
	char *nq_s = rd(xb, v->fe, "multi-queue-num-queues");
	unsigned int max = dp_max_queues(xb->dp);
	unsigned long nq = 1;
	struct dp_ring_cfg rc;
	bool ok = true;

	/* The guest's bytes are not echoed into the message. */
	if (nq_s && !parse_ulong(nq_s, UINT32_MAX, &nq)) {
		snprintf(msg, msglen, "frontend multi-queue-num-queues is not a number");
		ok = false;
	} else if (nq_s && (nq == 0 || nq > max)) {
		snprintf(msg, msglen,
			 "frontend multi-queue-num-queues %lu is not from 1 to "
			 "multi-queue-max-queues %u",
			 nq, max);
		ok = false;
	}
	free(nq_s);
	if (!ok)
		return false;
	cfg->nqueues = (unsigned int)nq;
	if (nq == 1) {
		if (!rd_rings(xb, v->fe, "frontend", &rc, msg, msglen))
			return false;
		set_queue(cfg, 0, &rc);
		return true;
	}
	for (size_t k = 0; k < sizeof(ring_keys) / sizeof(ring_keys[0]); k++) {
		if (key_exists(xb, v->fe, ring_keys[k])) {
			snprintf(msg, msglen,
				 "frontend has multi-queue-num-queues %lu and a top-level %s: "
				 "queues' keys belong under queue-N only",
				 nq, ring_keys[k]);
			return false;
		}
	}
	for (unsigned int i = 0; i < nq; i++) {
		char dir[160], name[16], who[32];

		snprintf(name, sizeof(name), "queue-%u", i);
		snprintf(dir, sizeof(dir), "%s/%s", v->fe, name);
		snprintf(who, sizeof(who), "frontend %s", name);
		if (!key_exists(xb, v->fe, name)) {
			snprintf(msg, msglen,
				 "frontend has no queue-%u (multi-queue-num-queues %lu)", i, nq);
			return false;
		}
		if (!rd_rings(xb, dir, who, &rc, msg, msglen))
			return false;
		set_queue(cfg, i, &rc);
	}
	return true;
}

static void vif_connect(struct xb *xb, struct xb_vif *v)
{
	struct dp_vif_cfg cfg;
	char err[256];
	const struct ipnb_addr *addrs;
	size_t naddrs;

	memset(&cfg, 0, sizeof(cfg));
	if (v->mtu_bad) {
		vif_fail(xb, v, "backend mtu is not a number from 68 to 9000");
		return;
	}
	if (v->rate_bad) {
		uint64_t b;
		uint32_t u;

		if (!dp_vif_rate(v->dp, &b, &u)) {
			vif_fail(xb, v, "backend rate is not BYTES,MICROSECONDS");
			return;
		}
	}
	if (!rd_queues(xb, v, &cfg, err, sizeof(err))) {
		vif_fail(xb, v, err);
		return;
	}
	if (!rd_flag(xb, v->fe, "request-rx-copy", false)) {
		vif_fail(xb, v, "frontend does not request rx-copy (request-rx-copy=1)");
		return;
	}
	cfg.rx_sg = rd_flag(xb, v->fe, "feature-sg", false);
	/* A frame above one page takes several RX slots: no jumbo MTU for a
	 * frontend without scatter-gather (Linux netback caps it at 1500). */
	if (dp_vif_mtu(v->dp) > DP_MTU_DEFAULT && !cfg.rx_sg) {
		vif_fail(xb, v, "backend mtu above 1500 needs a frontend with feature-sg");
		return;
	}
	cfg.rx_notify = rd_flag(xb, v->fe, "feature-rx-notify", false);
	cfg.rx_csum_offload = !rd_flag(xb, v->fe, "feature-no-csum-offload", false);
	cfg.rx_ipv6_csum_offload = rd_flag(xb, v->fe, "feature-ipv6-csum-offload", false);
	cfg.rx_gso_tcpv4 = rd_flag(xb, v->fe, "feature-gso-tcpv4", false);
	cfg.rx_gso_tcpv6 = rd_flag(xb, v->fe, "feature-gso-tcpv6", false);
	if (dp_vif_connect(xb->dp, v->dp, &cfg, err, sizeof(err)) != 0) {
		vif_fail(xb, v, err);
		return;
	}
	xb->st.connects++;
	naddrs = dp_vif_addrs(v->dp, &addrs);
	{
		char list[256] = "", queues[24] = "";
		size_t off = 0;

		for (size_t i = 0; i < naddrs && off < sizeof(list); i++) {
			char s[IPNB_ADDR_STRLEN];

			ipnb_addr_format(&addrs[i], s);
			off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
						i ? " " : "", s);
		}
		if (cfg.nqueues > 1)
			snprintf(queues, sizeof(queues), "%u queues, ", cfg.nqueues);
		log_info("vif %u/%u: connected (%s%s event channel%s%s%s%s), %s%s", v->domid,
			 v->devid, queues, cfg.evtchn_tx == cfg.evtchn_rx ? "one" : "split",
			 cfg.rx_sg ? ", sg" : "", cfg.rx_notify ? ", rx-notify" : "",
			 cfg.rx_csum_offload ? ", csum offload" : "",
			 cfg.rx_gso_tcpv4 || cfg.rx_gso_tcpv6 ? ", gso" : "",
			 naddrs ? "addresses "
				: "no registered address: it can send and receive no IP traffic",
			 list);
	}
}

/* ---- per-vif processing ------------------------------------------------------ */

/* Writes backend state `state` (0: nothing to write), with the features
 * first if this is the first state this record writes. */
static void publish(struct xb *xb, struct xb_vif *v, int state)
{
	if (!state)
		return;
	if (v->published == 0) {
		/* What this backend offers, before the frontend looks. Written
		 * with the first state whatever it is: feature-rx-copy also
		 * marks the directory as this record's (see above). */
		wr(xb, v->be, "feature-sg", "1");
		wr(xb, v->be, "feature-rx-copy", "1");
		wr(xb, v->be, "feature-rx-flip", "0");
		wr(xb, v->be, "feature-split-event-channels", "1");
		wr(xb, v->be, "feature-ipv6-csum-offload", "1");
		/* TX GSO: the guest may hand over TCP packets of up to 64 KiB
		 * (dp_tx.c checks each request, gso.c segments where needed). */
		wr(xb, v->be, "feature-gso-tcpv4", "1");
		wr(xb, v->be, "feature-gso-tcpv6", "1");
		/* netif.h "Multi-queue": how many queues a frontend may ask
		 * for (dp_set_max_queues()). Written for 1 too, as Linux
		 * netback does: a frontend then uses one queue with the
		 * top-level keys, as it would without the key. */
		{
			char n[12];

			snprintf(n, sizeof(n), "%u", dp_max_queues(xb->dp));
			wr(xb, v->be, "multi-queue-max-queues", n);
		}
		if (state == XenbusStateInitWait)
			log_info("vif %u/%u: new, waiting for the frontend", v->domid, v->devid);
	}
	publish_state(xb, v, state);
}

static void vif_process(struct xb *xb, struct xb_vif *v)
{
	char *fe, *mac_s, *hp, *want_fe;
	unsigned long fe_id, be_state = 0, fe_state;
	struct xbs_in in;
	struct xbs_out out;
	uint8_t mac[FRAME_ETH_ALEN];

	/* Nothing read over a lost connection is acted on: the vif stays
	 * dirty, and as it is, until a new connection re-reads everything. */
	if (xb->lost)
		return;
	v->dirty = false;
	fe = rd(xb, v->be, "frontend");
	if (xb->lost) {
		v->dirty = true;
		return;
	}
	if (!fe) {
		/* libxl removes the directory as the last step of a removal. */
		unsigned int len;
		char *probe = xs_read(xb->xs, XBT_NULL, v->be, &len);

		if (!probe && errno == ENOENT) {
			vif_release(xb, v);
			return;
		}
		free(probe);
	}
	/* The backend writes feature-rx-copy when it first answers; a
	 * directory without it is not the one this record set up. The
	 * toolstack removed it and created it again (xl destroy, then a new
	 * domain given the same domid) between two passes, so the record's
	 * rings, addresses and published state belong to the dead guest:
	 * start over, as for a directory never seen. */
	if (fe && v->published != 0 && !key_exists(xb, v->be, "feature-rx-copy") && !xb->lost) {
		uint16_t domid = v->domid;
		uint32_t devid = v->devid;

		log_info("vif %u/%u: backend directory created anew (domid re-used), starting over",
			 domid, devid);
		free(fe);
		vif_destroy(xb, v);
		conflicts_retry(xb, NULL);
		vif_get(xb, domid, devid);
		return;
	}
	/* The frontend path is the toolstack's, but check it names this
	 * domain's device before watching it. */
	want_fe = xb_path("/local/domain/%u/device/vif/%u", v->domid, v->devid);
	if (!rd_uint(xb, v->be, "frontend-id", UINT16_MAX, &fe_id) || fe_id != v->domid || !fe ||
	    strcmp(fe, want_fe) != 0) {
		if (fe)
			log_warnx("vif %u/%u: unexpected frontend \"%s\", ignored", v->domid,
				  v->devid, fe);
		free(fe);
		fe = NULL;
	}
	free(want_fe);
	if (fe && (!v->fe || strcmp(fe, v->fe) != 0)) {
		fe_unwatch(xb, v);
		v->fe = fe;
		fe = NULL;
		if (xs_watch(xb->xs, v->fe, XB_TOKEN_FRONT))
			v->fe_watched = true;
		else
			log_warn("vif %u/%u: watching %s", v->domid, v->devid, v->fe);
	}
	free(fe);

	mac_s = rd(xb, v->be, "mac");
	if (parse_mac(mac_s, mac))
		dp_vif_set_mac(v->dp, mac);
	else if (v->published == 0)
		log_warnx("vif %u/%u: backend mac \"%s\" invalid; the guest's frames will be "
			  "dropped as spoofed",
			  v->domid, v->devid, mac_s ? mac_s : "");
	free(mac_s);
	vif_update_names(xb, v);
	vif_update_addrs(xb, v);
	vif_update_rate(xb, v);
	vif_update_mtu(xb, v);

	memset(&in, 0, sizeof(in));
	in.online = rd_flag(xb, v->be, "online", false);
	if (!rd_uint(xb, v->be, "state", 255, &be_state))
		be_state = 0;
	in.be_state = (int)be_state;
	in.be_published = v->published;
	in.fe_state =
	    v->fe && rd_uint(xb, v->fe, "state", 255, &fe_state) ? (int)fe_state : XBS_FE_MISSING;
	/* A dead domain has no frontend, whatever its nodes still say, and
	 * holding its grants would keep it a zombie (@releaseDomain). */
	if (!domain_alive(xb, v->domid))
		in.fe_state = XBS_FE_MISSING;
	hp = rd(xb, v->be, "hotplug-status");
	in.hotplug_ok = hp && strcmp(hp, "connected") == 0;
	free(hp);
	in.connected = dp_vif_connected(v->dp);
	/* A failure holds until the frontend restarts. */
	if (in.fe_state != XenbusStateInitialised && in.fe_state != XenbusStateConnected)
		v->failed = false;
	in.failed = v->failed;
	if (xb->lost) {
		v->dirty = true;
		return;
	}

	xbs_step(&in, &out);
	if (out.action == XBS_DISCONNECT) {
		dp_vif_disconnect(xb->dp, v->dp);
		xb->st.disconnects++;
		log_info("vif %u/%u: disconnected (frontend %s, online=%d)", v->domid, v->devid,
			 xbs_state_name(in.fe_state), in.online);
	}
	publish(xb, v, out.publish);
	if (out.action == XBS_CONNECT) {
		vif_connect(xb, v);
		/* The outcome, from what was just read: Connected, or Closing
		 * for a refused connect. A key the frontend changed meanwhile
		 * has dirtied the vif for another pass anyway. */
		in.connected = dp_vif_connected(v->dp);
		in.failed = v->failed;
		in.be_published = v->published;
		xbs_step(&in, &out);
		publish(xb, v, out.publish);
	}
}

/* ---- discovery ------------------------------------------------------------- */

static bool parse_id(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	if (!s || s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno == 0 && (*end == '\0' || *end == '/') && *out <= max;
}

static void rescan(struct xb *xb)
{
	unsigned int nd, nv;
	char **doms = xs_directory(xb->xs, XBT_NULL, xb->root, &nd);

	xb->rescan = false;
	for (struct xb_vif *v = xb->vifs; v; v = v->next)
		v->dirty = true;
	for (unsigned int i = 0; doms && i < nd; i++) {
		unsigned long domid, devid;
		char *p;
		char **devs;

		if (!parse_id(doms[i], UINT16_MAX - 1, &domid))
			continue;
		p = xb_path("%s/%s", xb->root, doms[i]);
		devs = xs_directory(xb->xs, XBT_NULL, p, &nv);
		for (unsigned int j = 0; devs && j < nv; j++)
			if (parse_id(devs[j], UINT32_MAX, &devid))
				vif_get(xb, domid, devid);
		free(devs);
		free(p);
	}
	free(doms);
}

/* Maps a watch path to the vif it concerns. */
static void on_watch(struct xb *xb, const char *path, const char *token)
{
	size_t rl = strlen(xb->root);

	if (strcmp(token, XB_TOKEN_RELEASE) == 0) {
		/* A domain died: check each vif's frontend domain. */
		for (struct xb_vif *v = xb->vifs; v; v = v->next) {
			if (!domain_alive(xb, v->domid)) {
				v->dirty = true;
				v->failed = false;
			}
		}
		return;
	}
	if (strcmp(token, XB_TOKEN_FRONT) == 0) {
		for (struct xb_vif *v = xb->vifs; v; v = v->next) {
			size_t fl = v->fe ? strlen(v->fe) : 0;

			if (fl && strncmp(path, v->fe, fl) == 0 &&
			    (path[fl] == '\0' || path[fl] == '/'))
				v->dirty = true;
		}
		return;
	}
	if (strncmp(path, xb->root, rl) != 0 || (path[rl] != '\0' && path[rl] != '/')) {
		return;
	}
	{
		unsigned long domid, devid;
		const char *p = path + rl;
		const char *slash;

		if (*p == '\0') {
			xb->rescan = true;
			return;
		}
		p++;
		if (!parse_id(p, UINT16_MAX - 1, &domid))
			return;
		slash = strchr(p, '/');
		if (!slash) {
			xb->rescan = true;
			return;
		}
		if (!parse_id(slash + 1, UINT32_MAX, &devid))
			return;
		/* Only create state for directories that exist; events for
		 * removed ones just mark a known vif. */
		if (vif_find(xb, domid, devid))
			vif_find(xb, domid, devid)->dirty = true;
		else
			xb->rescan = true;
	}
}

/* ---- public ---------------------------------------------------------------- */

struct xb *xb_new(struct dp *dp)
{
	struct xb *xb = calloc(1, sizeof(*xb));
	char *home;
	int saved;

	if (!xb)
		return NULL;
	xb->dp = dp;
	xb->xs = xs_open(0);
	if (!xb->xs) {
		saved = errno;
		free(xb);
		errno = saved;
		return NULL;
	}
	home = xs_get_domain_path(xb->xs, 0);
	if (!home)
		goto fail;
	if (asprintf(&xb->root, "%s/backend/vif", home) < 0) {
		xb->root = NULL;
		free(home);
		errno = ENOMEM;
		goto fail;
	}
	free(home);
	/* xs_check_watch() needs the watch pipe that xs_fileno() sets up. */
	if (xs_fileno(xb->xs) < 0 || !xs_watch(xb->xs, xb->root, XB_TOKEN_BACKEND) ||
	    !xs_watch(xb->xs, "@releaseDomain", XB_TOKEN_RELEASE))
		goto fail;
	xb->rescan = true;
	xb->probe_ms = ipnb_now_ms();
	return xb;
fail:
	saved = errno; /* xb_free() may clobber it */
	xb_free(xb);
	errno = saved;
	return NULL;
}

void xb_free(struct xb *xb)
{
	if (!xb)
		return;
	while (xb->vifs)
		vif_destroy(xb, xb->vifs);
	if (xb->root)
		xs_unwatch(xb->xs, xb->root, XB_TOKEN_BACKEND);
	xs_unwatch(xb->xs, "@releaseDomain", XB_TOKEN_RELEASE);
	xs_close(xb->xs);
	free(xb->root);
	free(xb);
}

int xb_fd(struct xb *xb)
{
	return xs_fileno(xb->xs);
}

void xb_handle_events(struct xb *xb)
{
	xs_alive(xb); /* handles every queued event */
}

/*
 * A new connection after a lost one (xenstored restarted, or replaced by
 * one that kept its state): the watches again, every vif's frontend
 * watched again, and everything re-read as at start. What xenstore no
 * longer holds goes the usual way (a directory gone is released). The old
 * handle is closed only now: its watch pipe was the fd the main loop
 * polled, so xb_fd() changes.
 */
static void reconnect(struct xb *xb)
{
	struct xs_handle *xs = xs_open(0);

	xb->retry_ms = ipnb_now_ms() + XB_RETRY_MS;
	if (!xs)
		return;
	if (xs_fileno(xs) < 0 || !xs_watch(xs, xb->root, XB_TOKEN_BACKEND) ||
	    !xs_watch(xs, "@releaseDomain", XB_TOKEN_RELEASE)) {
		xs_close(xs);
		return;
	}
	xs_close(xb->xs);
	xb->xs = xs;
	for (struct xb_vif *v = xb->vifs; v; v = v->next) {
		v->fe_watched = false; /* those were the old connection's */
		fe_unwatch(xb, v);
	}
	xb->lost = false;
	xb->rescan = true;
	xb->probe_ms = ipnb_now_ms();
	log_info("xenstore: connected again; every vif is read again");
}

int xb_timeout(const struct xb *xb)
{
	uint64_t now = ipnb_now_ms(), due = xb->lost ? xb->retry_ms : xb->probe_ms + XB_PROBE_MS;

	return due > now ? (int)(due - now) : 0;
}

void xb_get_stats(const struct xb *xb, struct xb_stats *out)
{
	*out = xb->st;
	out->vifs = 0;
	for (const struct xb_vif *v = xb->vifs; v; v = v->next)
		out->vifs++;
}

void xb_on_disable(void *arg, struct dp_vif *dv, const char *why)
{
	struct xb *xb = arg;

	(void)why; /* dp logged it */
	for (struct xb_vif *v = xb->vifs; v; v = v->next) {
		if (v->dp == dv) {
			v->failed = true;
			v->dirty = true;
		}
	}
}

void xb_process(struct xb *xb)
{
	bool again = true;
	uint64_t now = ipnb_now_ms();

	if (!xb->lost && now - xb->probe_ms >= XB_PROBE_MS)
		xs_alive(xb);
	if (xb->lost && now >= xb->retry_ms)
		reconnect(xb);
	if (xb->lost)
		return;
	if (xb->rescan)
		rescan(xb);
	/* Processing one vif can dirty others (address hand-over), and a
	 * connect asks for one more pass; a few passes settle everything. */
	for (int pass = 0; pass < 4 && again; pass++) {
		struct xb_vif *v, *next;

		again = false;
		for (v = xb->vifs; v; v = next) {
			next = v->next;
			if (v->dirty) {
				vif_process(xb, v);
				again = true;
			}
		}
	}
}

void xb_foreach(struct xb *xb, void (*fn)(void *arg, const struct xb_vif_info *vi), void *arg)
{
	for (struct xb_vif *v = xb->vifs; v; v = v->next) {
		struct xb_vif_info vi = {
		    .domid = v->domid,
		    .devid = v->devid,
		    .state = v->published,
		    .name = v->name,
		    .domain = v->domain,
		    .dv = v->dp,
		};

		fn(arg, &vi);
	}
}

unsigned int xb_close_all(struct xb *xb)
{
	unsigned int n = 0;

	for (struct xb_vif *v = xb->vifs; v; v = v->next) {
		if (dp_vif_connected(v->dp)) {
			dp_vif_disconnect(xb->dp, v->dp);
			xb->st.disconnects++;
		}
		/* Closed, as Linux netback leaves a device when its driver is
		 * unbound: the frontend closes too, and waits for a backend
		 * to start over (docs/deploy.md). */
		publish_state(xb, v, XenbusStateClosed);
		log_info("vif %u/%u: handed back: backend Closed", v->domid, v->devid);
		n++;
	}
	return n;
}
