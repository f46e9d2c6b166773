/* SPDX-License-Identifier: MIT */
/*
 * xenbus.h - the control path: vif discovery and the xenbus state machine
 * in xenstore, joined to the data path only through dp_vif_connect() and
 * dp_vif_disconnect().
 *
 * Usage contract: xb_new() opens xenstore and sets the watches, or returns
 * NULL with errno set and leaves exiting to its caller; the main loop calls
 * xb_handle_events() when xb_fd() is readable and xb_process() after every
 * loop iteration (it does nothing unless something changed), and wakes up
 * within xb_timeout() ms at the latest.
 *  - A lost connection to xenstored (it restarted without a live update):
 *    the vifs stay as they are, nothing is acted on, and xb_process() opens
 *    a new connection every second, then re-reads everything. xb_fd() is
 *    then a new fd: the main loop must poll the new one.
 * xb_on_disable() is the data path's dp_disable_cb. Once running, it exits
 * (fatal()) only when out of memory: a failed xenstore read counts as a
 * missing key, and a failed write is logged.
 */
#ifndef IPNB_XENBUS_H
#define IPNB_XENBUS_H

#include <stdint.h>

#include "ipnb/dp.h"

struct xb;

struct xb *xb_new(struct dp *dp);
void xb_free(struct xb *xb);
int xb_fd(struct xb *xb);
void xb_handle_events(struct xb *xb);
void xb_process(struct xb *xb);
/* How long the loop may sleep before xb_process() must run again (ms): a
 * lost connection is retried, and a live one checked, on a timer. */
int xb_timeout(const struct xb *xb);
void xb_on_disable(void *arg, struct dp_vif *vif, const char *why);

/* What the control path has done since xb_new(), for the control socket
 * ("daemon"): the scenarios bound memory growth per watch event with it. */
struct xb_stats {
	uint64_t watch_events;	   /* xenstore watch events handled */
	uint64_t connects;	   /* vifs connected to the data path */
	uint64_t connect_failures; /* connects refused (hotplug-error written) */
	uint64_t disconnects;	   /* vifs disconnected from the data path */
	uint64_t xenstore_lost;	   /* connections to xenstored lost */
	unsigned int vifs;	   /* vifs known now */
};
void xb_get_stats(const struct xb *xb, struct xb_stats *out);

/* An explicit shutdown (`ipnetback shutdown --disconnect`): disconnects
 * every vif from the data path and publishes backend state Closed, so that
 * another backend can take the devices over. Returns how many vifs. The
 * daemon exits afterwards: nothing would reconnect them. */
unsigned int xb_close_all(struct xb *xb);

/* The longest vifname (an interface name, IFNAMSIZ - 1) and domain name
 * (longer ones are cut) a vif is shown with. */
#define XB_NAME_MAX   15
#define XB_DOMAIN_MAX 63

/* One vif as xb_foreach() shows it; valid during the call only. */
struct xb_vif_info {
	uint16_t domid;
	uint32_t devid;
	int state;	    /* the backend state last published */
	const char *name;   /* the backend's vifname, or "vifD.N" */
	const char *domain; /* the domain's name, "" if unknown */
	struct dp_vif *dv;
};

/* Calls fn for every known vif. */
void xb_foreach(struct xb *xb, void (*fn)(void *arg, const struct xb_vif_info *vi), void *arg);

#endif
