/* SPDX-License-Identifier: MIT */
/*
 * ctl.c - the control socket (see include/ipnb/ctl.h): status of every vif
 * and port, as text or as JSON (built with yajl), for the `ipnetback` CLI.
 */
#include "ipnb/ctl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>

#include "ipnb/cap.h"
#include "ipnb/clock.h"
#include "ipnb/host.h"
#include "ipnb/log.h"
#include "ipnb/metrics.h"
#include "ipnb/stats.h"
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
	int fd;	   /* -1: slot free */
	bool http; /* from the metrics listener: an HTTP GET, answered as such */
	uint64_t since_ms;
	size_t rlen;
	char req[128];
	char *out; /* the answer, once the request is complete */
	size_t outlen, outoff;
	/* A "capture" request was accepted: the connection goes to cap.c
	 * with the answer line, instead of closing after it. */
	bool capture;
	uint16_t cap_domid;
	uint32_t cap_devid, cap_snaplen;
	unsigned int cap_dirs;
};

struct ctl {
	int fd;	   /* listening socket */
	int mx_fd; /* the metrics listener, or -1 */
	int ep;	   /* epoll over fd and the connections: what ctl_fd() returns */
	char *path;
	struct dp *dp;
	struct xb *xb;
	struct ul *ul;
	struct host *host;
	struct cap *cap;     /* the captures running (cap.h) */
	uint64_t started_ms; /* ipnb_now_ms() at ctl_open: the daemon's uptime */
	bool bound;	     /* path is our socket, to unlink at close */
	enum ctl_stop stop;  /* a "shutdown" request was answered */
	struct ctl_conn conn[CTL_MAX_CONNS];
};

#define CTL_TAG_LISTEN	UINT32_MAX
#define CTL_TAG_METRICS (UINT32_MAX - 1)
/* Tags from here on are capture sessions' sockets (cap.h). */
#define CTL_TAG_CAP 0x100u

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
	c->mx_fd = -1;
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
	c->cap = cap_new(dp, c->ep, CTL_TAG_CAP);
	if (!c->cap)
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

/* "ADDR:PORT" ("[ADDR]:PORT" for IPv6) into sa; false if it is not one. */
static bool parse_inet(const char *spec, struct sockaddr_storage *sa, socklen_t *salen)
{
	char host[64];
	const char *colon = strrchr(spec, ':');
	size_t hl = colon ? (size_t)(colon - spec) : 0;
	char *end;
	unsigned long port;

	/* Digits only after the colon: strtoul() would take " 80" or "+80". */
	if (!colon || hl == 0 || hl >= sizeof(host) || colon[1] < '0' || colon[1] > '9')
		return false;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || port == 0 || port > 65535)
		return false;
	memcpy(host, spec, hl);
	host[hl] = '\0';
	memset(sa, 0, sizeof(*sa));
	if (host[0] == '[' && host[hl - 1] == ']') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;

		host[hl - 1] = '\0';
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*salen = sizeof(*s6);
		return inet_pton(AF_INET6, host + 1, &s6->sin6_addr) == 1;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)sa;

	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	*salen = sizeof(*s4);
	return inet_pton(AF_INET, host, &s4->sin_addr) == 1;
}

int ctl_listen_metrics(struct ctl *c, const char *spec, char *err, size_t errlen)
{
	struct sockaddr_storage sa;
	socklen_t salen;
	int one = 1;

	if (spec[0] == '/') {
		struct sockaddr_un *su = (struct sockaddr_un *)&sa;

		if (strlen(spec) >= sizeof(su->sun_path)) {
			snprintf(err, errlen, "metrics listener: path too long");
			return -1;
		}
		memset(&sa, 0, sizeof(sa));
		su->sun_family = AF_UNIX;
		memcpy(su->sun_path, spec, strlen(spec) + 1);
		salen = sizeof(*su);
		/* Unlike the control socket, nothing else guards it: a
		 * second daemon has already stopped at the lock. */
		unlink(spec);
	} else if (!parse_inet(spec, &sa, &salen)) {
		snprintf(err, errlen,
			 "metrics listener \"%s\": not ADDR:PORT, [ADDR6]:PORT or an absolute path",
			 spec);
		return -1;
	}
	c->mx_fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->mx_fd < 0 ||
	    (sa.ss_family != AF_UNIX &&
	     setsockopt(c->mx_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) ||
	    bind(c->mx_fd, (struct sockaddr *)&sa, salen) < 0 ||
	    (sa.ss_family == AF_UNIX && chmod(spec, 0600) < 0) || listen(c->mx_fd, 8) < 0) {
		snprintf(err, errlen, "metrics listener %s: %s", spec, strerror(errno));
		return -1;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = CTL_TAG_METRICS};

	if (epoll_ctl(c->ep, EPOLL_CTL_ADD, c->mx_fd, &ev) < 0) {
		snprintf(err, errlen, "metrics listener: epoll: %s", strerror(errno));
		return -1;
	}
	return 0;
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
	cap_free(c->cap);
	if (c->ep >= 0)
		close(c->ep);
	if (c->fd >= 0)
		close(c->fd);
	if (c->mx_fd >= 0)
		close(c->mx_fd);
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
static void emit_ctrs(struct emit *e, const struct st_ctr *c, size_t n, const char *indent)
{
	for (size_t i = 0; i < n; i++) {
		if (e->g)
			js_num(e->g, c[i].name, c[i].v);
		else
			fprintf(e->f, "%s%-20s %llu\n", indent, c[i].name, c[i].v);
	}
}

/* JSON: "drops": {...} in the open object; text: a "drops:" block. */
static void emit_drops(struct emit *e, const struct st_ctr *drops, size_t n)
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

static void emit_addrs_text(FILE *f, const struct ipnb_addr *a, size_t na)
{
	for (size_t i = 0; i < na; i++) {
		char s[IPNB_ADDR_STRLEN];

		ipnb_addr_format(&a[i], s);
		fprintf(f, "%s%s", i ? " " : "", s);
	}
}

static void emit_json(struct emit *e, const struct xb_vif_info *vi)
{
	struct dp_vif *dv = vi->dv;
	const struct ipnb_addr *a;
	size_t na = dp_vif_addrs(dv, &a);
	struct st_ctr c[ST_VIF_MAX], drops[ST_DROPS_MAX];
	size_t nc = st_vif(dv, c), nd = st_vif_drops(dv, drops);
	yajl_gen g = e->g;

	yajl_gen_map_open(g);
	js_num(g, "domid", vi->domid);
	js_num(g, "devid", vi->devid);
	js_str(g, "name", vi->name);
	js_str(g, "domain", vi->domain);
	js_str(g, "state", xbs_state_name(vi->state));
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
	emit_drops(e, drops, nd);
	yajl_gen_map_close(g);
}

static void emit_text(struct emit *e, const struct xb_vif_info *vi)
{
	struct dp_vif *dv = vi->dv;
	const struct dp_stats *st = dp_vif_stats(dv);
	const uint8_t *m = dp_vif_mac(dv);
	const struct ipnb_addr *a;
	size_t na = dp_vif_addrs(dv, &a);
	struct st_ctr c[ST_VIF_MAX], drops[ST_DROPS_MAX];
	size_t nd = st_vif_drops(dv, drops);
	unsigned long long total = 0;
	char id[24];

	for (size_t d = 0; d < nd; d++)
		total += drops[d].v;
	snprintf(id, sizeof(id), "%u/%u", vi->domid, vi->devid);
	if (!e->one) {
		if (e->n == 0)
			fprintf(e->f, "%-8s %-15s %-12s %-12s %-7s %-17s %10s %10s %8s  %s\n",
				"VIF", "NAME", "DOMAIN", "STATE", "CARRIER", "MAC", "TX-PKTS",
				"RX-PKTS", "DROPS", "ADDRESSES");
		fprintf(e->f,
			"%-8s %-15s %-12s %-12s %-7s %02x:%02x:%02x:%02x:%02x:%02x %10llu %10llu "
			"%8llu  ",
			id, vi->name, vi->domain[0] ? vi->domain : "-", xbs_state_name(vi->state),
			dp_vif_carrier(dv) ? "up" : "down", m[0], m[1], m[2], m[3], m[4], m[5],
			(unsigned long long)st->tx_pkts, (unsigned long long)st->rx_pkts, total);
		emit_addrs_text(e->f, a, na);
		fprintf(e->f, "\n");
		return;
	}
	fprintf(e->f, "%-20s %s\n%-20s %s\n%-20s %s\n%-20s %s\n%-20s %s\n", "vif", id, "name",
		vi->name, "domain", vi->domain, "state", xbs_state_name(vi->state), "carrier",
		dp_vif_carrier(dv) ? "up" : "down");
	fprintf(e->f, "%-20s %02x:%02x:%02x:%02x:%02x:%02x\n%-20s ", "mac", m[0], m[1], m[2], m[3],
		m[4], m[5], "addresses");
	emit_addrs_text(e->f, a, na);
	fprintf(e->f, "\n");
	emit_ctrs(e, c, st_vif(dv, c), "");
	emit_drops(e, drops, nd);
}

static void emit_vif(void *arg, const struct xb_vif_info *vi)
{
	struct emit *e = arg;

	if (e->one && (vi->domid != e->domid || vi->devid != e->devid))
		return;
	if (e->g)
		emit_json(e, vi);
	else
		emit_text(e, vi);
	e->n++;
}

static const char *const nbr_state_names[] = {"incomplete", "reachable", "stale", "failed"};

/* A port's name, counters and drops; a JSON object is left open for more. */
static void emit_port(struct emit *e, const char *key, const char *name, const struct st_ctr *c,
		      size_t nc, const struct st_ctr *drops, size_t nd)
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
	const struct nbr_cache *nc = ul_neighbours(ul);
	struct nbr_entry_info nb[64];
	size_t nn = nbr_dump(nc, ipnb_now_ms(), nb, sizeof(nb) / sizeof(nb[0]));
	struct st_ctr c[ST_PORT_MAX], drops[ST_DROPS_MAX];

	emit_port(e, "uplink", ul_name(ul), c, st_uplink(ul, c), drops, st_uplink_drops(ul, drops));
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
	struct st_ctr c[ST_PORT_MAX], drops[ST_DROPS_MAX];

	emit_port(e, "host_port", host_name(h), c, st_host(h, c), drops, st_host_drops(h, drops));
	if (e->g)
		yajl_gen_map_close(e->g);
}

static void emit_daemon(struct emit *e, const struct ctl *c)
{
	struct st_ctr ctrs[ST_DAEMON_MAX];

	if (e->g)
		yajl_gen_map_open(e->g);
	emit_ctrs(e, ctrs, st_daemon(c->xb, c->dp, c->cap, c->started_ms, ctrs), "");
	if (e->g)
		yajl_gen_map_close(e->g);
}

static void write_metrics(const struct ctl *c, FILE *f)
{
	const struct mx_src src = {.xb = c->xb,
				   .dp = c->dp,
				   .ul = c->ul,
				   .host = c->host,
				   .cap = c->cap,
				   .started_ms = c->started_ms};

	if (!mx_write(f, &src))
		log_warnx("metrics: out of memory; the answer is incomplete");
}

static void count_vif(void *arg, const struct xb_vif_info *vi)
{
	struct emit *e = arg;

	if (vi->domid == e->domid && vi->devid == e->devid)
		e->n++;
}

/*
 * "capture DOMID/DEVID SNAPLEN DIRS", DIRS "in", "out" or "inout": once the
 * request is checked, conn_serve() hands the connection to cap.c, which
 * sends the answer line "capture D/V" and then the records (cap.h). A bad
 * request, an unknown vif or too many captures get an error line instead.
 */
static void answer_capture(struct ctl *c, struct ctl_conn *cn, const char *req, FILE *f)
{
	static const char *const dir_names[] = {
	    [CAP_DIR_IN] = "in", [CAP_DIR_OUT] = "out", [CAP_DIR_IN | CAP_DIR_OUT] = "inout"};
	struct emit e = {.f = f};
	unsigned int d, v, snap, dirs = 0;
	char dir[16];
	int end = 0;

	if (sscanf(req, "capture %u/%u %u %15s%n", &d, &v, &snap, dir, &end) != 4 ||
	    req[end] != '\0' || d > UINT16_MAX || snap < CAP_SNAPLEN_MIN ||
	    snap > CAP_SNAPLEN_MAX) {
		fprintf(f, "error: bad capture request \"%s\"\n", req);
		return;
	}
	for (unsigned int i = 1; i < sizeof(dir_names) / sizeof(dir_names[0]); i++)
		if (strcmp(dir, dir_names[i]) == 0)
			dirs = i;
	if (!dirs) {
		fprintf(f, "error: bad capture direction \"%s\"\n", dir);
		return;
	}
	e.domid = (uint16_t)d;
	e.devid = v;
	xb_foreach(c->xb, count_vif, &e);
	if (e.n == 0) {
		fprintf(f, "error: no vif %u/%u\n", d, v);
		return;
	}
	if (cap_full(c->cap)) {
		fprintf(f, "error: %d captures run already\n", CAP_MAX_SESSIONS);
		return;
	}
	cn->capture = true;
	cn->cap_domid = (uint16_t)d;
	cn->cap_devid = v;
	cn->cap_snaplen = snap;
	cn->cap_dirs = dirs;
}

/*
 * The metrics listener speaks just enough HTTP/1.0 for a Prometheus scrape:
 * "GET /metrics" (or "GET /") gets the metrics, anything else an error;
 * the request's headers are not read (they are drained before the close,
 * conn_serve()), and the connection ends with the answer.
 */
static void answer_http(struct ctl *c, struct ctl_conn *cn)
{
	char method[8] = "", target[32] = "";
	char *body = NULL;
	size_t blen = 0;
	FILE *f;

	cn->req[cn->rlen] = '\0';
	if (sscanf(cn->req, "%7s %31s", method, target) != 2 || strcmp(method, "GET") != 0 ||
	    (strcmp(target, "/metrics") != 0 && strcmp(target, "/") != 0)) {
		cn->out = strdup("HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\n"
				 "Connection: close\r\n\r\nonly GET /metrics\n");
		cn->outlen = cn->out ? strlen(cn->out) : 0;
		return;
	}
	f = open_memstream(&body, &blen);
	if (!f)
		return;
	write_metrics(c, f);
	if (fclose(f) != 0) {
		free(body);
		return;
	}
	f = open_memstream(&cn->out, &cn->outlen);
	if (f) {
		fprintf(f,
			"HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4; "
			"charset=utf-8\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
			blen);
		fwrite(body, 1, blen, f);
		fclose(f);
	}
	free(body);
}

/*
 * Requests (include/ipnb/ctl.h): "vifs [json]" lists every vif; "vif
 * DOMID/DEVID [json]" shows one; "uplink [json]" shows the uplink's
 * counters and neighbour cache; "host [json]" shows the host port's
 * counters; "daemon [json]" shows the daemon's own (uptime, vifs, watch
 * events, connects); "capture D/V SNAPLEN in|out|inout" starts a capture
 * (answer_capture()); "shutdown [disconnect]" stops the daemon, leaving the vifs
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
	if (strcmp(req, "metrics") == 0) {
		write_metrics(c, f);
	} else if (strcmp(what, "capture") == 0) {
		answer_capture(c, cn, req, f);
	} else if (strcmp(what, "daemon") == 0) {
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

static void conn_accept(struct ctl *c, int lfd, bool http)
{
	int fd;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
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
		cn->http = http;
		cn->since_ms = ipnb_now_ms();
	}
}

/* The connection becomes a capture session (cap.h), which owns its fd from
 * now on; the slot is free again. */
static void conn_to_capture(struct ctl *c, struct ctl_conn *cn)
{
	char hello[48];

	snprintf(hello, sizeof(hello), "capture %u/%u\n", cn->cap_domid, cn->cap_devid);
	epoll_ctl(c->ep, EPOLL_CTL_DEL, cn->fd, NULL);
	if (cap_add(c->cap, cn->fd, cn->cap_domid, cn->cap_devid, cn->cap_dirs, cn->cap_snaplen,
		    hello) < 0) {
		log_warnx("capture of vif %u/%u: cannot start (out of memory?)", cn->cap_domid,
			  cn->cap_devid);
		conn_close(cn);
		return;
	}
	free(cn->out);
	memset(cn, 0, sizeof(*cn));
	cn->fd = -1;
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
		if (cn->http)
			answer_http(c, cn);
		else
			answer(c, cn);
		if (cn->capture && cn->outlen == 0) {
			conn_to_capture(c, cn);
			return;
		}
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
	struct epoll_event evs[CTL_MAX_CONNS + 2 + CAP_MAX_SESSIONS];
	int n = epoll_wait(c->ep, evs, CTL_MAX_CONNS + 2 + CAP_MAX_SESSIONS, 0);

	for (int i = 0; i < n; i++) {
		uint32_t tag = evs[i].data.u32;

		if (tag == CTL_TAG_LISTEN)
			conn_accept(c, c->fd, false);
		else if (tag == CTL_TAG_METRICS)
			conn_accept(c, c->mx_fd, true);
		else if (tag >= CTL_TAG_CAP && tag - CTL_TAG_CAP < CAP_MAX_SESSIONS)
			cap_handle(c->cap, tag - CTL_TAG_CAP, evs[i].events);
		else if (tag < CTL_MAX_CONNS && c->conn[tag].fd >= 0)
			conn_serve(c, &c->conn[tag]);
	}
}

void ctl_run(struct ctl *c)
{
	cap_flush(c->cap);
}

enum ctl_stop ctl_stop_requested(const struct ctl *c)
{
	return c->stop;
}
