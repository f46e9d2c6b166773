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

#include "ipnb/log.h"
#include "ipnb/xbstate.h"

struct ctl {
	int fd;
	char *path;
	struct xb *xb;
};

struct ctl *ctl_open(const char *path, struct xb *xb)
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
	strcpy(sa.sun_path, path);
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
};

static void emit_vif(void *arg, uint16_t domid, uint32_t devid, int state, struct dp_vif *dv)
{
	struct emit *e = arg;
	const struct dp_stats *st = dp_vif_stats(dv);
	const uint8_t *m = dp_vif_mac(dv);
	const struct ipnb_addr *a;
	size_t na = dp_vif_addrs(dv, &a);

	fprintf(e->f,
		"%s\n  {\"domid\": %u, \"devid\": %u, \"state\": \"%s\", \"connected\": %s, "
		"\"carrier\": %s, \"mac\": \"%02x:%02x:%02x:%02x:%02x:%02x\", \"addresses\": [",
		e->n++ ? "," : "", domid, devid, xbs_state_name(state),
		dp_vif_connected(dv) ? "true" : "false", dp_vif_carrier(dv) ? "true" : "false",
		m[0], m[1], m[2], m[3], m[4], m[5]);
	for (size_t i = 0; i < na; i++) {
		char s[IPNB_ADDR_STRLEN];

		ipnb_addr_format(&a[i], s);
		fprintf(e->f, "%s\"%s\"", i ? ", " : "", s);
	}
	fprintf(e->f,
		"], \"queued\": %zu, \"tx_packets\": %llu, \"tx_bytes\": %llu, "
		"\"rx_packets\": %llu, \"rx_bytes\": %llu, \"arp_replies\": %llu, "
		"\"na_replies\": %llu, \"drops\": {",
		dp_vif_queued(dv), (unsigned long long)st->tx_pkts,
		(unsigned long long)st->tx_bytes, (unsigned long long)st->rx_pkts,
		(unsigned long long)st->rx_bytes, (unsigned long long)st->arp_replies,
		(unsigned long long)st->na_replies);
	for (int d = 0; d < DP_DROP_COUNT; d++)
		fprintf(e->f, "%s\"%s\": %llu", d ? ", " : "", dp_drop_name((enum dp_drop)d),
			(unsigned long long)st->drops[d]);
	fprintf(e->f, "}}");
}

static void answer(struct ctl *c, int fd)
{
	char req[128];
	ssize_t n = recv(fd, req, sizeof(req) - 1, 0);
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (n <= 0)
		return;
	req[n] = '\0';
	req[strcspn(req, "\r\n")] = '\0';
	f = open_memstream(&buf, &len);
	if (!f)
		return;
	if (strcmp(req, "vifs") == 0) {
		struct emit e = { f, 0 };

		fprintf(f, "{\"vifs\": [");
		xb_foreach(c->xb, emit_vif, &e);
		fprintf(f, "\n]}\n");
	} else {
		fprintf(f, "{\"error\": \"unknown request\"}\n");
	}
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
		struct timeval tv = { 1, 0 };

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		answer(c, fd);
		close(fd);
	}
}
