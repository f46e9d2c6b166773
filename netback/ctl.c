/* SPDX-License-Identifier: MIT */
/*
 * ctl.c - the control socket (see include/ipnb/ctl.h): status of every vif
 * and port, as text or as JSON (built with yajl), for the `ipnetback` CLI.
 */
#include "ipnb/ctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>

#include "ipnb/clock.h"
#include "ipnb/host.h"
#include "ipnb/log.h"
#include "ipnb/uplink.h"
#include "ipnb/xbstate.h"
#include "ipnb/xenbus.h"

/*
 * Clients are served without blocking the main loop: a client that is slow
 * to send its request line or to read the answer only holds a slot. When
 * every slot is taken, the oldest connection is dropped for the newcomer.
 */
#define CTL_MAX_CONNS 8

struct ctl_conn {
	int fd; /* -1: slot free */
	uint64_t since_ms;
	size_t rlen;
	char req[128];
	char *out; /* the answer, once the request is complete */
	size_t outlen, outoff;
};

struct ctl {
	int fd; /* listening socket */
	int ep; /* epoll over fd and the connections: what ctl_fd() returns */
	char *path;
	struct dp *dp;
	struct xb *xb;
	struct ul *ul;
	struct host *host;
	uint64_t started_ms; /* ipnb_now_ms() at ctl_open: the daemon's uptime */
	bool bound;	     /* path is our socket, to unlink at close */
	enum ctl_stop stop;  /* a "shutdown" request was answered */
	struct ctl_conn conn[CTL_MAX_CONNS];
};

#define CTL_TAG_LISTEN UINT32_MAX

static bool socket_answers(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	bool live;

	if (fd < 0)
		return false;
	live = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 || errno == EAGAIN;
	close(fd);
	return live;
}

struct ctl *ctl_open(const char *path, struct dp *dp, struct xb *xb, struct ul *ul,
		     struct host *host)
{
	struct sockaddr_un sa;
	struct ctl *c;
	char *dir, *slash;
	int saved;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->fd = -1;
	c->ep = -1;
	for (size_t i = 0; i < CTL_MAX_CONNS; i++)
		c->conn[i].fd = -1;
	c->dp = dp;
	c->xb = xb;
	c->ul = ul;
	c->host = host;
	c->started_ms = ipnb_now_ms();
	c->path = strdup(path);
	dir = strdup(path);
	if (!c->path || !dir) {
		free(dir);
		errno = ENOMEM;
		goto fail;
	}
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0700);
	}
	free(dir);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		goto fail;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1); /* length checked above */
	/* Only a stale socket is removed: one that still answers (or whose
	 * backlog is full) belongs to a running daemon, whose clients would
	 * otherwise be stolen. */
	if (socket_answers(&sa)) {
		errno = EADDRINUSE;
		goto fail;
	}
	unlink(path);
	if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail;
	c->bound = true;
	if (chmod(path, 0600) < 0 || listen(c->fd, 8) < 0)
		goto fail;
	c->ep = epoll_create1(EPOLL_CLOEXEC);
	if (c->ep < 0)
		goto fail;
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = CTL_TAG_LISTEN};

	if (epoll_ctl(c->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		goto fail;
	return c;
fail:
	saved = errno; /* ctl_close() may clobber it */
	ctl_close(c);
	errno = saved;
	return NULL;
}

static void conn_close(struct ctl_conn *cn)
{
	close(cn->fd); /* also takes it out of the epoll set */
	free(cn->out);
	memset(cn, 0, sizeof(*cn));
	cn->fd = -1;
}

void ctl_close(struct ctl *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < CTL_MAX_CONNS; i++)
		if (c->conn[i].fd >= 0)
			conn_close(&c->conn[i]);
	if (c->ep >= 0)
		close(c->ep);
	if (c->fd >= 0)
		close(c->fd);
	if (c->bound)
		unlink(c->path); /* ours: never another daemon's */
	free(c->path);
	free(c);
}

int ctl_fd(const struct ctl *c)
{
	return c->ep;
}

/* One answer in the making: text lines straight into f, or JSON built by
 * yajl (which escapes every string: a port's name is whatever the operator
 * chose) and written into f once whole. */
struct emit {
	FILE *f;
	yajl_gen g; /* JSON answers only */
	int n;
	bool one; /* only domid/devid below */
	uint16_t domid;
	uint32_t devid;
};

struct ctr {
	const char *name;
	unsigned long long v;
};

static void js_key(yajl_gen g, const char *k)
{
	yajl_gen_string(g, (const unsigned char *)k, strlen(k));
}

static void js_str(yajl_gen g, const char *k, const char *v)
{
	js_key(g, k);
	yajl_gen_string(g, (const unsigned char *)v, strlen(v));
}

/* Unsigned 64-bit counters in full: as digits, not through a long long. */
static void js_num(yajl_gen g, const char *k, unsigned long long v)
{
	char d[24];
	int n = snprintf(d, sizeof(d), "%llu", v);

	js_key(g, k);
	yajl_gen_number(g, d, (size_t)n);
}

static void js_bool(yajl_gen g, const char *k, bool v)
{
	js_key(g, k);
	yajl_gen_bool(g, v);
}

static void js_mac(yajl_gen g, const char *k, const uint8_t *m)
{
	char s[18];

	snprintf(s, sizeof(s), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	js_str(g, k, s);
}

/* Counters as members of the open JSON object, or as aligned text lines. */
static void emit_ctrs(struct emit *e, const struct ctr *c, size_t n, const char *indent)
{
	for (size_t i = 0; i < n; i++) {
		if (e->g)
			js_num(e->g, c[i].name, c[i].v);
		else
			fprintf(e->f, "%s%-20s %llu\n", indent, c[i].name, c[i].v);
	}
}

/* JSON: "drops": {...} in the open object; text: a "drops:" block. */
static void emit_drops(struct emit *e, const struct ctr *drops, size_t n)
{
	if (e->g) {
		js_key(e->g, "drops");
		yajl_gen_map_open(e->g);
	} else {
		fprintf(e->f, "drops:\n");
	}
	emit_ctrs(e, drops, n, "  ");
	if (e->g)
		yajl_gen_map_close(e->g);
}

#define VIF_NCTRS 18 /* what vif_ctrs() fills in */

static size_t vif_ctrs(const struct dp_vif *dv, struct ctr c[VIF_NCTRS])
{
	const struct dp_stats *st = dp_vif_stats(dv);
	uint64_t rate_bytes;
	uint32_t rate_usec;
	size_t n = 0;

	c[n++] = (struct ctr){"queued", dp_vif_queued(dv)};
	c[n++] = (struct ctr){"queued_bytes", dp_vif_queued_bytes(dv)};
	c[n++] = (struct ctr){"tx_packets", st->tx_pkts};
	c[n++] = (struct ctr){"tx_bytes", st->tx_bytes};
	c[n++] = (struct ctr){"rx_packets", st->rx_pkts};
	c[n++] = (struct ctr){"rx_bytes", st->rx_bytes};
	c[n++] = (struct ctr){"arp_replies", st->arp_replies};
	c[n++] = (struct ctr){"na_replies", st->na_replies};
	c[n++] = (struct ctr){"spurious_events", st->spurious_events};
	c[n++] = (struct ctr){"tx_credit_waits", st->tx_credit_waits};
	c[n++] = (struct ctr){"replayed_responses", st->replayed_responses};
	c[n++] = (struct ctr){"tx_gso_packets", st->tx_gso_pkts};
	c[n++] = (struct ctr){"rx_gso_packets", st->rx_gso_pkts};
	c[n++] = (struct ctr){"gso_segments", st->gso_segments};
	c[n++] = (struct ctr){"icmp_too_big", st->icmp_too_big};
	c[n++] = (struct ctr){"ip_fragments", st->ip_fragments};
	dp_vif_rate(dv, &rate_bytes, &rate_usec);
	c[n++] = (struct ctr){"rate_bytes", rate_bytes};
	c[n++] = (struct ctr){"rate_usec", rate_usec};
	return n;
}

static void vif_drops(const struct dp_vif *dv, struct ctr *c)
{
	for (int d = 0; d < DP_DROP_COUNT; d++)
		c[d] = (struct ctr){dp_drop_name((enum dp_drop)d), dp_vif_stats(dv)->drops[d]};
}

static void emit_addrs_text(FILE *f, const struct ipnb_addr *a, size_t na)
{
	for (size_t i = 0; i < na; i++) {
		char s[IPNB_ADDR_STRLEN];

		ipnb_addr_format(&a[i], s);
		fprintf(f, "%s%s", i ? " " : "", s);
	}
}

static void emit_json(struct emit *e, uint16_t domid, uint32_t devid, int state, struct dp_vif *dv)
{
	const struct ipnb_addr *a;
	size_t na = dp_vif_addrs(dv, &a);
	struct ctr c[VIF_NCTRS], drops[DP_DROP_COUNT];
	size_t nc = vif_ctrs(dv, c);
	yajl_gen g = e->g;

	yajl_gen_map_open(g);
	js_num(g, "domid", domid);
	js_num(g, "devid", devid);
	js_str(g, "state", xbs_state_name(state));
	js_bool(g, "connected", dp_vif_connected(dv));
	js_bool(g, "carrier", dp_vif_carrier(dv));
	js_mac(g, "mac", dp_vif_mac(dv));
	js_key(g, "addresses");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < na; i++) {
		char s[IPNB_ADDR_STRLEN];

		ipnb_addr_format(&a[i], s);
		yajl_gen_string(g, (const unsigned char *)s, strlen(s));
	}
	yajl_gen_array_close(g);
	emit_ctrs(e, c, nc, "");
	vif_drops(dv, drops);
	emit_drops(e, drops, DP_DROP_COUNT);
	yajl_gen_map_close(g);
}

static void emit_text(struct emit *e, uint16_t domid, uint32_t devid, int state, struct dp_vif *dv)
{
	const struct dp_stats *st = dp_vif_stats(dv);
	const uint8_t *m = dp_vif_mac(dv);
	const struct ipnb_addr *a;
	size_t na = dp_vif_addrs(dv, &a);
	struct ctr c[VIF_NCTRS], drops[DP_DROP_COUNT];
	unsigned long long total = 0;
	char id[24];

	vif_drops(dv, drops);
	for (int d = 0; d < DP_DROP_COUNT; d++)
		total += drops[d].v;
	snprintf(id, sizeof(id), "%u/%u", domid, devid);
	if (!e->one) {
		if (e->n == 0)
			fprintf(e->f, "%-8s %-12s %-7s %-17s %10s %10s %8s  %s\n", "VIF", "STATE",
				"CARRIER", "MAC", "TX-PKTS", "RX-PKTS", "DROPS", "ADDRESSES");
		fprintf(e->f, "%-8s %-12s %-7s %02x:%02x:%02x:%02x:%02x:%02x %10llu %10llu %8llu  ",
			id, xbs_state_name(state), dp_vif_carrier(dv) ? "up" : "down", m[0], m[1],
			m[2], m[3], m[4], m[5], (unsigned long long)st->tx_pkts,
			(unsigned long long)st->rx_pkts, total);
		emit_addrs_text(e->f, a, na);
		fprintf(e->f, "\n");
		return;
	}
	fprintf(e->f, "%-20s %s\n%-20s %s\n%-20s %s\n", "vif", id, "state", xbs_state_name(state),
		"carrier", dp_vif_carrier(dv) ? "up" : "down");
	fprintf(e->f, "%-20s %02x:%02x:%02x:%02x:%02x:%02x\n%-20s ", "mac", m[0], m[1], m[2], m[3],
		m[4], m[5], "addresses");
	emit_addrs_text(e->f, a, na);
	fprintf(e->f, "\n");
	emit_ctrs(e, c, vif_ctrs(dv, c), "");
	emit_drops(e, drops, DP_DROP_COUNT);
}

static void emit_vif(void *arg, uint16_t domid, uint32_t devid, int state, struct dp_vif *dv)
{
	struct emit *e = arg;

	if (e->one && (domid != e->domid || devid != e->devid))
		return;
	if (e->g)
		emit_json(e, domid, devid, state, dv);
	else
		emit_text(e, domid, devid, state, dv);
	e->n++;
}

static const char *const nbr_state_names[] = {"incomplete", "reachable", "stale", "failed"};

/* A port's name, counters and drops; a JSON object is left open for more. */
static void emit_port(struct emit *e, const char *key, const char *name, const struct ctr *c,
		      size_t nc, const struct ctr *drops, size_t nd)
{
	if (e->g) {
		yajl_gen_map_open(e->g);
		js_str(e->g, key, name);
	} else {
		fprintf(e->f, "%-20s %s\n", key, name);
	}
	emit_ctrs(e, c, nc, "");
	emit_drops(e, drops, nd);
}

static void emit_uplink(struct emit *e, const struct ul *ul)
{
	const struct ul_stats *st = ul_stats(ul);
	const struct nbr_cache *nc = ul_neighbours(ul);
	struct nbr_entry_info nb[64];
	size_t nn = nbr_dump(nc, ipnb_now_ms(), nb, sizeof(nb) / sizeof(nb[0]));

	struct ctr c[] = {
	    {"rx_packets", st->rx_pkts},	  {"rx_bytes", st->rx_bytes},
	    {"tx_packets", st->tx_pkts},	  {"tx_bytes", st->tx_bytes},
	    {"arp_replies", st->arp_replies},	  {"na_replies", st->na_replies},
	    {"announcements", st->announcements}, {"tx_errors", st->tx_errors},
	};
	struct ctr drops[UL_DROP_COUNT];

	for (int d = 0; d < UL_DROP_COUNT; d++)
		drops[d] = (struct ctr){ul_drop_name((enum ul_drop)d), st->drops[d]};
	emit_port(e, "uplink", ul_name(ul), c, sizeof(c) / sizeof(c[0]), drops, UL_DROP_COUNT);
	if (e->g) {
		js_key(e->g, "neighbours");
		yajl_gen_array_open(e->g);
	} else {
		fprintf(e->f, "neighbours:\n");
	}
	for (size_t i = 0; i < nn; i++) {
		char s[IPNB_ADDR_STRLEN];
		const uint8_t *m = nb[i].mac;
		const char *state =
		    (unsigned int)nb[i].state < 4 ? nbr_state_names[nb[i].state] : "?";

		ipnb_addr_format(&nb[i].ip, s);
		if (e->g) {
			yajl_gen_map_open(e->g);
			js_str(e->g, "address", s);
			js_mac(e->g, "mac", m);
			js_str(e->g, "state", state);
			js_num(e->g, "age_ms", nb[i].age_ms);
			js_num(e->g, "pending", nb[i].pending);
			yajl_gen_map_close(e->g);
		} else {
			fprintf(e->f,
				"  %-40s %02x:%02x:%02x:%02x:%02x:%02x %-10s %6llu ms %zu queued\n",
				s, m[0], m[1], m[2], m[3], m[4], m[5], state,
				(unsigned long long)nb[i].age_ms, nb[i].pending);
		}
	}
	if (e->g) {
		yajl_gen_array_close(e->g);
		yajl_gen_map_close(e->g);
	}
}

static void emit_host(struct emit *e, const struct host *h)
{
	const struct host_stats *st = host_stats(h);
	struct ctr c[] = {
	    {"rx_packets", st->rx_pkts},
	    {"rx_bytes", st->rx_bytes},
	    {"tx_packets", st->tx_pkts},
	    {"tx_bytes", st->tx_bytes},
	    {"rx_gso_packets", st->rx_gso_pkts},
	    {"tx_gso_packets", st->tx_gso_pkts},
	    {"routes", st->routes},
	};
	struct ctr drops[HOST_DROP_COUNT];

	for (int d = 0; d < HOST_DROP_COUNT; d++)
		drops[d] = (struct ctr){host_drop_name((enum host_drop)d), st->drops[d]};
	emit_port(e, "host_port", host_name(h), c, sizeof(c) / sizeof(c[0]), drops,
		  HOST_DROP_COUNT);
	if (e->g)
		yajl_gen_map_close(e->g);
}

static void emit_daemon(struct emit *e, const struct ctl *c)
{
	struct xb_stats st;

	xb_get_stats(c->xb, &st);
	struct ctr ctrs[] = {
	    {"pid", (unsigned long long)getpid()},
	    {"uptime_s", (ipnb_now_ms() - c->started_ms) / 1000},
	    {"vifs", st.vifs},
	    {"watch_events", st.watch_events},
	    {"connects", st.connects},
	    {"connect_failures", st.connect_failures},
	    {"disconnects", st.disconnects},
	    {"xenstore_lost", st.xenstore_lost},
	    {"pool_bytes", dp_pool_bytes(c->dp)},
	};
	if (e->g)
		yajl_gen_map_open(e->g);
	emit_ctrs(e, ctrs, sizeof(ctrs) / sizeof(ctrs[0]), "");
	if (e->g)
		yajl_gen_map_close(e->g);
}

/*
 * Requests (include/ipnb/ctl.h): "vifs [json]" lists every vif; "vif
 * DOMID/DEVID [json]" shows one; "uplink [json]" shows the uplink's
 * counters and neighbour cache; "host [json]" shows the host port's
 * counters; "daemon [json]" shows the daemon's own (uptime, vifs, watch
 * events, connects); "shutdown [disconnect]" stops the daemon, leaving the vifs
 * connected or handing them back first (ctl_stop_requested()). Answers end
 * with the connection; the answer to an unknown
 * request, an unknown vif or a port that is not configured is a text line
 * starting with "error:", even when JSON was asked for. The answer goes to
 * cn->out.
 */
static void answer(struct ctl *c, struct ctl_conn *cn)
{
	char what[16] = "", fmt[16] = "", arg[16] = "";
	char *req = cn->req;
	struct emit e;
	FILE *f;
	unsigned int d = 0, v = 0;
	int k;
	bool json;

	req[cn->rlen] = '\0';
	req[strcspn(req, "\r\n")] = '\0';
	f = open_memstream(&cn->out, &cn->outlen);
	if (!f)
		return;
	memset(&e, 0, sizeof(e));
	e.f = f;
	k = sscanf(req, "%15s %u/%u %15s", what, &d, &v, fmt);
	/* All but "vif" take one optional word, "json". */
	json = sscanf(req, "%15s %15s", what, arg) == 2 && strcmp(arg, "json") == 0;
	if (strcmp(what, "vif") == 0)
		json = k == 4 && strcmp(fmt, "json") == 0;
	if (json) {
		e.g = yajl_gen_alloc(NULL);
		if (!e.g) {
			fclose(f);
			return;
		}
		yajl_gen_config(e.g, yajl_gen_beautify, 1);
		yajl_gen_config(e.g, yajl_gen_indent_string, "  ");
	}
	if (strcmp(what, "daemon") == 0) {
		emit_daemon(&e, c);
	} else if (strcmp(req, "shutdown") == 0) {
		fprintf(f, "stopping; vifs stay connected for the next ipnetbackd\n");
		c->stop = CTL_STOP;
	} else if (strcmp(req, "shutdown disconnect") == 0) {
		unsigned int n = xb_close_all(c->xb);

		fprintf(f, "%u vif%s handed back (backend Closed); stopping\n", n,
			n == 1 ? "" : "s");
		c->stop = CTL_STOP_DISCONNECT;
	} else if (strcmp(what, "uplink") == 0 && c->ul) {
		emit_uplink(&e, c->ul);
	} else if (strcmp(what, "uplink") == 0) {
		fprintf(f, "error: no uplink configured\n");
	} else if (strcmp(what, "host") == 0 && c->host) {
		emit_host(&e, c->host);
	} else if (strcmp(what, "host") == 0) {
		fprintf(f, "error: no host port\n");
	} else if (strcmp(what, "vifs") == 0 ||
		   (strcmp(what, "vif") == 0 && k >= 3 && d <= UINT16_MAX)) {
		e.one = strcmp(what, "vif") == 0;
		e.domid = (uint16_t)d;
		e.devid = v;
		if (e.g && !e.one) {
			yajl_gen_map_open(e.g);
			js_key(e.g, "vifs");
			yajl_gen_array_open(e.g);
		}
		xb_foreach(c->xb, emit_vif, &e);
		if (e.g && !e.one) {
			yajl_gen_array_close(e.g);
			yajl_gen_map_close(e.g);
		}
		if (e.one && e.n == 0) {
			/* An error is text, even when JSON was asked for. */
			if (e.g)
				yajl_gen_free(e.g);
			e.g = NULL;
			fprintf(f, "error: no vif %u/%u\n", d, v);
		}
	} else {
		fprintf(f, "error: unknown request \"%s\"\n", req);
	}
	if (e.g) {
		const unsigned char *buf;
		size_t len;

		/* Nothing was generated for a text-only answer (shutdown,
		 * errors): the buffer is empty then. */
		if (yajl_gen_get_buf(e.g, &buf, &len) == yajl_gen_status_ok && len) {
			fwrite(buf, 1, len, f);
			if (buf[len - 1] != '\n')
				fputc('\n', f);
		}
		yajl_gen_free(e.g);
	}
	fclose(f);
}

static void conn_accept(struct ctl *c)
{
	int fd;

	while ((fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
		struct ctl_conn *cn = NULL;

		for (size_t i = 0; i < CTL_MAX_CONNS; i++) {
			struct ctl_conn *x = &c->conn[i];

			if (x->fd < 0) {
				cn = x;
				break;
			}
			if (!cn || x->since_ms < cn->since_ms)
				cn = x;
		}
		if (cn->fd >= 0) {
			log_warnx("control socket: too many clients, dropping the oldest");
			conn_close(cn);
		}
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)(cn - c->conn)};

		if (epoll_ctl(c->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			continue;
		}
		cn->fd = fd;
		cn->since_ms = ipnb_now_ms();
	}
}

/* Reads the request line, then writes the answer as the socket takes it. */
static void conn_serve(struct ctl *c, struct ctl_conn *cn)
{
	if (!cn->out) {
		ssize_t n = recv(cn->fd, cn->req + cn->rlen, sizeof(cn->req) - 1 - cn->rlen, 0);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n < 0 || (n == 0 && cn->rlen == 0)) {
			conn_close(cn);
			return;
		}
		cn->rlen += (size_t)n;
		/* A request is one line; EOF or a full buffer also ends it. */
		if (n > 0 && !memchr(cn->req, '\n', cn->rlen) && cn->rlen < sizeof(cn->req) - 1)
			return;
		answer(c, cn);
		struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)(cn - c->conn)};

		if (!cn->out || epoll_ctl(c->ep, EPOLL_CTL_MOD, cn->fd, &ev) < 0) {
			conn_close(cn);
			return;
		}
	}
	while (cn->outoff < cn->outlen) {
		ssize_t w =
		    send(cn->fd, cn->out + cn->outoff, cn->outlen - cn->outoff, MSG_NOSIGNAL);

		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (w <= 0)
			break;
		cn->outoff += (size_t)w;
	}
	/* Closing a Unix socket with unread input resets it, and the client
	 * could lose the answer: take in what an overlong request left. */
	char rest[512];

	for (int i = 0; i < 16 && recv(cn->fd, rest, sizeof(rest), 0) > 0; i++)
		;
	conn_close(cn);
}

void ctl_handle_events(struct ctl *c)
{
	struct epoll_event evs[CTL_MAX_CONNS + 1];
	int n = epoll_wait(c->ep, evs, CTL_MAX_CONNS + 1, 0);

	for (int i = 0; i < n; i++) {
		uint32_t tag = evs[i].data.u32;

		if (tag == CTL_TAG_LISTEN)
			conn_accept(c);
		else if (tag < CTL_MAX_CONNS && c->conn[tag].fd >= 0)
			conn_serve(c, &c->conn[tag]);
	}
}

enum ctl_stop ctl_stop_requested(const struct ctl *c)
{
	return c->stop;
}
