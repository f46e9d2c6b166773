/* SPDX-License-Identifier: MIT */
/*
 * metrics.c - the daemon's counters as Prometheus families (see
 * include/ipnb/metrics.h). The format wants each family's samples in one
 * group, so the vifs are first collected, then written family by family.
 */
#include "ipnb/metrics.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ipnb/clock.h"
#include "ipnb/nbr.h"
#include "ipnb/prom.h"
#include "ipnb/stats.h"
#include "ipnb/version.h"
#include "ipnb/xbstate.h"

/* Labels of one sample: four of a vif's, plus a drop reason, escaped
 * (a domain name of 63 bytes may double). */
#define MX_LABELS 512

/* A vif's counters (stats.c), less the rate as libxl writes it (bytes
 * per interval), plus what only the metrics show: the rate in base units,
 * the state, whether it is connected, its carrier. */
#define MX_VIF_MAX (ST_VIF_MAX - 2 + 4)

struct mx_vif {
	char domid[8], devid[12], name[24], domain[XB_DOMAIN_MAX + 1];
	struct st_ctr c[MX_VIF_MAX], drops[ST_DROPS_MAX];
	size_t nc, nd;
};

struct mx_vifs {
	struct mx_vif *v;
	size_t n, cap;
	bool oom;
};

static void collect(void *arg, const struct xb_vif_info *vi)
{
	struct mx_vifs *vs = arg;
	struct st_ctr c[ST_VIF_MAX];
	uint64_t rate_bytes;
	uint32_t rate_usec;
	unsigned long long per_second = 0;
	struct mx_vif *x;
	size_t n;

	if (vs->n == vs->cap) {
		size_t cap = vs->cap ? 2 * vs->cap : 16;
		struct mx_vif *nv = realloc(vs->v, cap * sizeof(*nv));

		if (!nv) {
			vs->oom = true;
			return;
		}
		vs->v = nv;
		vs->cap = cap;
	}
	x = &vs->v[vs->n++];
	snprintf(x->domid, sizeof(x->domid), "%u", vi->domid);
	snprintf(x->devid, sizeof(x->devid), "%u", vi->devid);
	snprintf(x->name, sizeof(x->name), "%s", vi->name);
	snprintf(x->domain, sizeof(x->domain), "%s", vi->domain);
	x->nc = 0;
	n = st_vif(vi->dv, c);
	for (size_t i = 0; i < n; i++)
		if (strcmp(c[i].name, "rate_bytes") != 0 && strcmp(c[i].name, "rate_usec") != 0)
			x->c[x->nc++] = c[i];
	/* bytes < 2^64 and usec >= 1: long double keeps the product. */
	if (dp_vif_rate(vi->dv, &rate_bytes, &rate_usec))
		per_second = (unsigned long long)((long double)rate_bytes * 1000000.0L /
						  (long double)rate_usec);
	x->c[x->nc++] = (struct st_ctr){"rate_limit_bytes_per_second", per_second, true,
					"The guest's TX rate limit (libxl's rate=), 0 if none."};
	x->c[x->nc++] =
	    (struct st_ctr){"state", (unsigned long long)vi->state, true,
			    "The backend's xenbus state (4: Connected, 5: Closing, 6: Closed)."};
	x->c[x->nc++] = (struct st_ctr){"connected", dp_vif_connected(vi->dv), true,
					"1 if the vif's rings are connected to the data path."};
	x->c[x->nc++] =
	    (struct st_ctr){"carrier", dp_vif_carrier(vi->dv), true,
			    "1 if the guest takes packets (its RX ring has not stalled)."};
	x->nd = st_vif_drops(vi->dv, x->drops);
}

/* A vif's labels, with reason= too if reason is not NULL. */
static void vif_labels(char *buf, const struct mx_vif *x, const char *reason)
{
	const char *kv[] = {"domid", x->domid, "devid",	  x->devid, "vifname",
			    x->name, "domain", x->domain, "reason", reason};

	prom_labels(buf, MX_LABELS, kv, reason ? 5 : 4);
}

/* "prefix_name" with "_total" for a counter. */
static void family_name(char *buf, size_t cap, const char *prefix, const struct st_ctr *c)
{
	snprintf(buf, cap, "%s_%s%s", prefix, c->name, c->gauge ? "" : "_total");
}

static void write_vifs(FILE *f, const struct mx_vifs *vs)
{
	char name[96], lab[MX_LABELS];

	if (vs->n == 0)
		return;
	/* Every vif lists the same counters in the same order (collect()). */
	for (size_t i = 0; i < vs->v[0].nc; i++) {
		const struct st_ctr *c = &vs->v[0].c[i];

		family_name(name, sizeof(name), "ipnetback_vif", c);
		prom_family(f, name, c->gauge ? "gauge" : "counter", c->help);
		for (size_t k = 0; k < vs->n; k++) {
			vif_labels(lab, &vs->v[k], NULL);
			prom_sample(f, name, lab, vs->v[k].c[i].v);
		}
	}
	prom_family(f, "ipnetback_vif_drops_total", "counter",
		    "Packets from or for the guest dropped, by reason.");
	for (size_t k = 0; k < vs->n; k++) {
		for (size_t d = 0; d < vs->v[k].nd; d++) {
			vif_labels(lab, &vs->v[k], vs->v[k].drops[d].name);
			prom_sample(f, "ipnetback_vif_drops_total", lab, vs->v[k].drops[d].v);
		}
	}
}

/* A port's counters and drops: label key=dev on each sample. */
static void write_port(FILE *f, const char *prefix, const char *key, const char *dev,
		       const struct st_ctr *c, size_t nc, const struct st_ctr *drops, size_t nd)
{
	const char *kv[] = {key, dev, "reason", NULL};
	char name[96], lab[MX_LABELS], help[96];

	prom_labels(lab, sizeof(lab), kv, 1);
	for (size_t i = 0; i < nc; i++) {
		family_name(name, sizeof(name), prefix, &c[i]);
		prom_family(f, name, c[i].gauge ? "gauge" : "counter", c[i].help);
		prom_sample(f, name, lab, c[i].v);
	}
	snprintf(name, sizeof(name), "%s_drops_total", prefix);
	snprintf(help, sizeof(help), "Packets the %s dropped, by reason.",
		 strcmp(key, "uplink") == 0 ? "uplink" : "host port");
	prom_family(f, name, "counter", help);
	for (size_t d = 0; d < nd; d++) {
		kv[3] = drops[d].name;
		prom_labels(lab, sizeof(lab), kv, 2);
		prom_sample(f, name, lab, drops[d].v);
	}
}

static bool write_neighbours(FILE *f, const struct ul *ul)
{
	static const char *const states[] = {"incomplete", "reachable", "stale", "failed"};
	const struct nbr_cache *nc = ul_neighbours(ul);
	const struct nbr_stats *ns = nbr_stats(nc);
	/* The uplink's cache holds at most 1024 (uplink.c). */
	struct nbr_entry_info *nb = calloc(1024, sizeof(*nb));
	unsigned long long count[4] = {0}, pending = 0;
	const char *kv[] = {"uplink", ul_name(ul), "state", NULL};
	char lab[MX_LABELS];
	size_t n;

	if (!nb)
		return false;
	n = nbr_dump(nc, ipnb_now_ms(), nb, 1024);
	for (size_t i = 0; i < n; i++) {
		if ((unsigned int)nb[i].state < 4)
			count[nb[i].state]++;
		pending += nb[i].pending;
	}
	free(nb);
	prom_family(f, "ipnetback_uplink_neighbours", "gauge",
		    "Entries of the uplink's neighbour cache, by state.");
	for (size_t s = 0; s < 4; s++) {
		kv[3] = states[s];
		prom_labels(lab, sizeof(lab), kv, 2);
		prom_sample(f, "ipnetback_uplink_neighbours", lab, count[s]);
	}
	prom_labels(lab, sizeof(lab), kv, 1);
	prom_family(f, "ipnetback_uplink_neighbour_queued", "gauge",
		    "Packets waiting for a neighbour's address to resolve.");
	prom_sample(f, "ipnetback_uplink_neighbour_queued", lab, pending);
	prom_family(f, "ipnetback_uplink_neighbour_solicits_total", "counter",
		    "ARP requests and neighbour solicitations sent.");
	prom_sample(f, "ipnetback_uplink_neighbour_solicits_total", lab, ns->solicits);
	prom_family(f, "ipnetback_uplink_neighbour_drops_total", "counter",
		    "Packets dropped waiting for a neighbour: it failed, or a queue was full.");
	prom_sample(f, "ipnetback_uplink_neighbour_drops_total", lab,
		    ns->drops_failed + ns->drops_queue_full + ns->drops_table_full);
	return true;
}

bool mx_write(FILE *f, const struct mx_src *src)
{
	struct mx_vifs vs = {0};
	struct st_ctr c[ST_DAEMON_MAX > ST_PORT_MAX ? ST_DAEMON_MAX : ST_PORT_MAX];
	struct st_ctr drops[ST_DROPS_MAX];
	char name[96];
	size_t n;
	bool ok = true;

	prom_family(f, "ipnetback_build_info", "gauge", "The daemon's version, as a label.");
	prom_sample(f, "ipnetback_build_info", "{version=\"" IPNB_VERSION "\"}", 1);
	n = st_daemon(src->xb, src->dp, src->cap, src->started_ms, c);
	for (size_t i = 0; i < n; i++) {
		/* pid and uptime_s are for `ipnetback daemon`; Prometheus
		 * has its own process metrics, and seconds as the unit. */
		if (strcmp(c[i].name, "pid") == 0)
			continue;
		if (strcmp(c[i].name, "uptime_s") == 0)
			c[i].name = "uptime_seconds";
		family_name(name, sizeof(name), "ipnetback", &c[i]);
		prom_family(f, name, c[i].gauge ? "gauge" : "counter", c[i].help);
		prom_sample(f, name, "", c[i].v);
	}
	xb_foreach(src->xb, collect, &vs);
	write_vifs(f, &vs);
	ok = !vs.oom;
	free(vs.v);
	if (src->ul) {
		write_port(f, "ipnetback_uplink", "uplink", ul_name(src->ul), c,
			   st_uplink(src->ul, c), drops, st_uplink_drops(src->ul, drops));
		ok = write_neighbours(f, src->ul) && ok;
	}
	if (src->host)
		write_port(f, "ipnetback_host", "port", host_name(src->host), c,
			   st_host(src->host, c), drops, st_host_drops(src->host, drops));
	return ok;
}
