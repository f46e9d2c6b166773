/*
 * ctl.c - the control socket (see include/ipnb/ctl.h): status of every vif
 * as JSON for the `ipnetback` CLI.
 */
#include "ipnb/ctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ipnb/clock.h"
#include "ipnb/log.h"
#include "ipnb/xbstate.h"

struct ctl {
	int fd;
	char *path;
	struct xb *xb;
	struct ul *ul;
};

struct ctl *ctl_open(const char *path, struct xb *xb, struct ul *ul)
{
	struct sockaddr_un sa;
	struct ctl *c;
	char *dir, *slash;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->xb = xb;
	c->ul = ul;
	c->path = strdup(path);
	dir = strdup(path);
	if (!c->path || !dir)
		fatal("out of memory");
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
	unlink(path);
	if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0600) < 0 ||
	    listen(c->fd, 8) < 0)
		goto fail;
	return c;
fail:
	ctl_close(c);
	return NULL;
}

void ctl_close(struct ctl *c)
{
	if (!c)
		return;
	if (c->fd >= 0) {
		close(c->fd);
		unlink(c->path);
	}
	free(c->path);
	free(c);
}

int ctl_fd(const struct ctl *c)
{
	return c->fd;
}

struct emit {
	FILE *f;
	int n;
	bool json;
	bool one; /* only domid/devid below */
	uint16_t domid;
	uint32_t devid;
};

struct ctr {
	const char *name;
	unsigned long long v;
};

/* Counters as JSON members (`, "name": v`, each preceded by a comma unless
 * it is the first of an object) or as aligned text lines. */
static void emit_ctrs(FILE *f, const struct ctr *c, size_t n, bool json, bool first,
		      const char *indent)
{
	for (size_t i = 0; i < n; i++) {
		if (json)
			fprintf(f, "%s\"%s\": %llu", first && i == 0 ? "" : ", ", c[i].name,
				c[i].v);
		else
			fprintf(f, "%s%-20s %llu\n", indent, c[i].name, c[i].v);
	}
}

static size_t vif_ctrs(const struct dp_vif *dv, struct ctr *c)
{
	const struct dp_stats *st = dp_vif_stats(dv);
	size_t n = 0;

	c[n++] = (struct ctr){"queued", dp_vif_queued(dv)};
	c[n++] = (struct ctr){"tx_packets", st->tx_pkts};
	c[n++] = (struct ctr){"tx_bytes", st->tx_bytes};
	c[n++] = (struct ctr){"rx_packets", st->rx_pkts};
	c[n++] = (struct ctr){"rx_bytes", st->rx_bytes};
	c[n++] = (struct ctr){"arp_replies", st->arp_replies};
	c[n++] = (struct ctr){"na_replies", st->na_replies};
	return n;
}

static void vif_drops(const struct dp_vif *dv, struct ctr *c)
{
	for (int d = 0; d < DP_DROP_COUNT; d++)
		c[d] = (struct ctr){dp_drop_name((enum dp_drop)d), dp_vif_stats(dv)->drops[d]};
}

static void emit_addrs(FILE *f, const struct ipnb_addr *a, size_t na, bool json)
{
	for (size_t i = 0; i < na; i++) {
		char s[IPNB_ADDR_STRLEN];

		ipnb_addr_format(&a[i], s);
		fprintf(f, json ? "%s\"%s\"" : "%s%s", i ? (json ? ", " : " ") : "", s);
	}
}

static void emit_json(struct emit *e, uint16_t domid, uint32_t devid, int state, struct dp_vif *dv)
{
	const uint8_t *m = dp_vif_mac(dv);
	const struct ipnb_addr *a;
	size_t na = dp_vif_addrs(dv, &a);
	struct ctr c[8], drops[DP_DROP_COUNT];
	size_t nc = vif_ctrs(dv, c);

	fprintf(e->f,
		"%s\n  {\"domid\": %u, \"devid\": %u, \"state\": \"%s\", \"connected\": %s, "
		"\"carrier\": %s, \"mac\": \"%02x:%02x:%02x:%02x:%02x:%02x\", \"addresses\": [",
		e->n ? "," : "", domid, devid, xbs_state_name(state),
		dp_vif_connected(dv) ? "true" : "false", dp_vif_carrier(dv) ? "true" : "false",
		m[0], m[1], m[2], m[3], m[4], m[5]);
	emit_addrs(e->f, a, na, true);
	fprintf(e->f, "]");
	emit_ctrs(e->f, c, nc, true, false, "");
	fprintf(e->f, ", \"drops\": {");
	vif_drops(dv, drops);
	emit_ctrs(e->f, drops, DP_DROP_COUNT, true, true, "");
	fprintf(e->f, "}}");
}

static void emit_text(struct emit *e, uint16_t domid, uint32_t devid, int state, struct dp_vif *dv)
{
	const struct dp_stats *st = dp_vif_stats(dv);
	const uint8_t *m = dp_vif_mac(dv);
	const struct ipnb_addr *a;
	size_t na = dp_vif_addrs(dv, &a);
	struct ctr c[8], drops[DP_DROP_COUNT];
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
		emit_addrs(e->f, a, na, false);
		fprintf(e->f, "\n");
		return;
	}
	fprintf(e->f, "%-20s %s\n%-20s %s\n%-20s %s\n", "vif", id, "state", xbs_state_name(state),
		"carrier", dp_vif_carrier(dv) ? "up" : "down");
	fprintf(e->f, "%-20s %02x:%02x:%02x:%02x:%02x:%02x\n%-20s ", "mac", m[0], m[1], m[2], m[3],
		m[4], m[5], "addresses");
	emit_addrs(e->f, a, na, false);
	fprintf(e->f, "\n");
	emit_ctrs(e->f, c, vif_ctrs(dv, c), false, true, "");
	fprintf(e->f, "drops:\n");
	emit_ctrs(e->f, drops, DP_DROP_COUNT, false, true, "  ");
}

static void emit_vif(void *arg, uint16_t domid, uint32_t devid, int state, struct dp_vif *dv)
{
	struct emit *e = arg;

	if (e->one && (domid != e->domid || devid != e->devid))
		return;
	if (e->json)
		emit_json(e, domid, devid, state, dv);
	else
		emit_text(e, domid, devid, state, dv);
	e->n++;
}

static const char *const nbr_state_names[] = {"incomplete", "reachable", "stale", "failed"};

static void emit_uplink(FILE *f, const struct ul *ul, bool json)
{
	const struct ul_stats *st = ul_stats(ul);
	const struct nbr_cache *nc = ul_neighbours(ul);
	struct nbr_entry_info nb[64];
	size_t nn = nbr_dump(nc, ipnb_now_ms(), nb, sizeof(nb) / sizeof(nb[0]));

	struct ctr c[] = {
	    {"rx_packets", st->rx_pkts},	  {"rx_bytes", st->rx_bytes},
	    {"tx_packets", st->tx_pkts},	  {"tx_bytes", st->tx_bytes},
	    {"arp_replies", st->arp_replies},	  {"na_replies", st->na_replies},
	    {"announcements", st->announcements},
	};
	struct ctr drops[UL_DROP_COUNT];

	for (int d = 0; d < UL_DROP_COUNT; d++)
		drops[d] = (struct ctr){ul_drop_name((enum ul_drop)d), st->drops[d]};
	if (json)
		fprintf(f, "{\"uplink\": \"%s\"", ul_name(ul));
	else
		fprintf(f, "%-20s %s\n", "uplink", ul_name(ul));
	emit_ctrs(f, c, sizeof(c) / sizeof(c[0]), json, false, "");
	fprintf(f, json ? ", \"drops\": {" : "drops:\n");
	emit_ctrs(f, drops, UL_DROP_COUNT, json, true, "  ");
	fprintf(f, json ? "}, \"neighbours\": [" : "neighbours:\n");
	for (size_t i = 0; i < nn; i++) {
		char s[IPNB_ADDR_STRLEN];
		const uint8_t *m = nb[i].mac;
		const char *state =
		    (unsigned int)nb[i].state < 4 ? nbr_state_names[nb[i].state] : "?";

		ipnb_addr_format(&nb[i].ip, s);
		if (json)
			fprintf(f,
				"%s{\"address\": \"%s\", \"mac\": "
				"\"%02x:%02x:%02x:%02x:%02x:%02x\", \"state\": \"%s\", "
				"\"age_ms\": %llu, \"pending\": %zu}",
				i ? ", " : "", s, m[0], m[1], m[2], m[3], m[4], m[5], state,
				(unsigned long long)nb[i].age_ms, nb[i].pending);
		else
			fprintf(f,
				"  %-40s %02x:%02x:%02x:%02x:%02x:%02x %-10s %6llu ms %zu queued\n",
				s, m[0], m[1], m[2], m[3], m[4], m[5], state,
				(unsigned long long)nb[i].age_ms, nb[i].pending);
	}
	if (json)
		fprintf(f, "]}\n");
}

/*
 * Requests: "vifs [json]" lists every vif; "vif DOMID/DEVID [json]" shows
 * one. Answers end with the connection; a text answer for an unknown vif or
 * request starts with "error:".
 */
static void answer(struct ctl *c, int fd)
{
	char req[128], what[16] = "", fmt[16] = "";
	ssize_t n = recv(fd, req, sizeof(req) - 1, 0);
	char *buf = NULL;
	size_t len = 0;
	struct emit e;
	FILE *f;
	unsigned int d = 0, v = 0;
	int k;

	if (n <= 0)
		return;
	req[n] = '\0';
	req[strcspn(req, "\r\n")] = '\0';
	f = open_memstream(&buf, &len);
	if (!f)
		return;
	memset(&e, 0, sizeof(e));
	e.f = f;
	k = sscanf(req, "%15s %u/%u %15s", what, &d, &v, fmt);
	if (strcmp(what, "uplink") == 0) {
		bool json = sscanf(req, "%15s %15s", what, fmt) == 2 && strcmp(fmt, "json") == 0;

		if (c->ul)
			emit_uplink(f, c->ul, json);
		else
			fprintf(f, "error: no uplink configured\n");
		goto out;
	} else if (strcmp(what, "vifs") == 0) {
		e.json = sscanf(req, "%15s %15s", what, fmt) == 2 && strcmp(fmt, "json") == 0;
	} else if (strcmp(what, "vif") == 0 && k >= 3 && d <= UINT16_MAX) {
		e.one = true;
		e.domid = (uint16_t)d;
		e.devid = v;
		e.json = k == 4 && strcmp(fmt, "json") == 0;
	} else {
		fprintf(f, "error: unknown request \"%s\"\n", req);
		goto out;
	}
	if (e.json)
		fprintf(f, e.one ? "" : "{\"vifs\": [");
	xb_foreach(c->xb, emit_vif, &e);
	if (e.json)
		fprintf(f, e.one ? "\n" : "\n]}\n");
	if (e.one && e.n == 0)
		fprintf(f, "error: no vif %u/%u\n", d, v);
out:
	fclose(f);
	for (size_t off = 0; off < len;) {
		ssize_t w = send(fd, buf + off, len - off, MSG_NOSIGNAL);

		if (w <= 0)
			break;
		off += (size_t)w;
	}
	free(buf);
}

void ctl_accept(struct ctl *c)
{
	int fd;

	while ((fd = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		struct timeval tv = {1, 0};

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		answer(c, fd);
		close(fd);
	}
}
