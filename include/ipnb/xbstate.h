/* SPDX-License-Identifier: MIT */
/*
 * xbstate.h - the backend side of the xenbus device state machine for one
 * vif, as a pure function: given what xenstore says now, what should the
 * backend do and which state should it publish.
 *
 *   Initialising --(backend dir seen)--> InitWait
 *   InitWait --(frontend Initialised/Connected, hotplug-status=connected,
 *               rings map)--> Connected
 *   any --(frontend Closing)--> Closing
 *   any --(frontend Closed or gone, online=0, toolstack wrote Closing)--> Closed
 *   Closed/Closing --(frontend Initialising again, online=1)--> InitWait
 *
 * Usage contract: pure, no logging. The caller re-reads xenstore on every
 * watch event (events are only hints), feeds the current values in, applies
 * the result, and calls again after a connect attempt with its outcome.
 */
#ifndef IPNB_XBSTATE_H
#define IPNB_XBSTATE_H

#include <stdbool.h>

#include <xen/io/xenbus.h>

#define XBS_FE_MISSING (-1) /* frontend state node absent or unparsable */

struct xbs_in {
	int be_state;	  /* backend `state` as currently in xenstore */
	int be_published; /* the state this daemon last wrote (0: none yet) */
	int fe_state;	  /* frontend `state`, or XBS_FE_MISSING */
	bool online;	  /* backend `online` == 1 */
	bool hotplug_ok;  /* backend `hotplug-status` == connected */
	bool connected;	  /* data path connected */
	bool failed;	  /* a connect attempt failed, or the vif was disabled */
};

enum xbs_action {
	XBS_NONE = 0,
	XBS_CONNECT,	/* map rings, bind channels; then call again */
	XBS_DISCONNECT, /* tear the data path down */
};

struct xbs_out {
	enum xbs_action action;
	int publish; /* state to write, or 0 to leave it */
};

void xbs_step(const struct xbs_in *in, struct xbs_out *out);

const char *xbs_state_name(int state);

#endif
