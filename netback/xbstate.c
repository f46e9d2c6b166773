/* SPDX-License-Identifier: MIT */
/*
 * xbstate.c - the vif backend state machine (see include/ipnb/xbstate.h).
 * Follows what Linux xen-netback does for each frontend state, plus the
 * toolstack's ways of asking for a close (online=0, or writing Closing into
 * the backend's own state node as libxl does on destroy and detach).
 */
#include "ipnb/xbstate.h"

#include <stddef.h>

const char *xbs_state_name(int s)
{
	static const char *const names[] = {"Unknown",	   "Initialising",  "InitWait",
					    "Initialised", "Connected",	    "Closing",
					    "Closed",	   "Reconfiguring", "Reconfigured"};

	if (s == XBS_FE_MISSING)
		return "missing";
	return s >= 0 && (size_t)s < sizeof(names) / sizeof(names[0]) ? names[s] : "invalid";
}

static void out_set(struct xbs_out *o, enum xbs_action a, int publish, int current)
{
	o->action = a;
	o->publish = publish == current ? 0 : publish;
}

void xbs_step(const struct xbs_in *in, struct xbs_out *out)
{
	enum xbs_action down = in->connected ? XBS_DISCONNECT : XBS_NONE;
	/* The toolstack asks us to close by writing Closing over the state we
	 * published (libxl's device removal) or by clearing `online`. */
	bool toolstack_close =
	    !in->online || (in->be_state == XenbusStateClosing &&
			    in->be_published != XenbusStateClosing && in->be_published != 0);

	out->action = XBS_NONE;
	out->publish = 0;

	if (toolstack_close) {
		out_set(out, down, XenbusStateClosed, in->be_state);
		return;
	}
	if (in->be_published == 0) {
		bool fe_up =
		    in->fe_state == XenbusStateInitialised || in->fe_state == XenbusStateConnected;

		/* A vif a previous daemon had connected, and whose frontend
		 * still is: take it over as it is (docs/design.md, "Restart").
		 * Writing InitWait first would tell a connected frontend
		 * something false; Connected is written once the connect
		 * worked, and a failure goes to Closing as usual. */
		if (in->be_state == XenbusStateConnected && fe_up && in->hotplug_ok) {
			if (in->connected)
				out_set(out, XBS_NONE, XenbusStateConnected, -1);
			else if (in->failed)
				out_set(out, XBS_NONE, XenbusStateClosing, -1);
			else
				out_set(out, XBS_CONNECT, 0, -1);
			return;
		}
		/* First sight of the backend directory: offer our features
		 * and wait for the frontend (libxl allows 10 s for this). */
		out_set(out, XBS_NONE, XenbusStateInitWait, -1);
		return;
	}

	switch (in->fe_state) {
	case XenbusStateInitialised:
	case XenbusStateConnected:
		if (in->connected) {
			out_set(out, XBS_NONE, XenbusStateConnected, in->be_state);
		} else if (in->failed) {
			out_set(out, XBS_NONE, XenbusStateClosing, in->be_state);
		} else if (in->hotplug_ok && (in->be_state == XenbusStateInitWait ||
					      in->be_state == XenbusStateConnected)) {
			out_set(out, XBS_CONNECT, 0, in->be_state);
		}
		return;
	case XenbusStateClosing:
		out_set(out, down, XenbusStateClosing, in->be_state);
		return;
	case XenbusStateClosed:
	case XBS_FE_MISSING:
		out_set(out, down, XenbusStateClosed, in->be_state);
		return;
	case XenbusStateUnknown:
	case XenbusStateInitialising:
	case XenbusStateInitWait:
		/* A frontend (re)starting: any old connection is stale. */
		out_set(out, down, XenbusStateInitWait, in->be_state);
		return;
	default:
		/* Reconfiguring/Reconfigured and junk values: wait. */
		return;
	}
}
