/* SPDX-License-Identifier: MIT */
/*
 * test_xbstate.c - the pure xenbus backend state machine, as a table: each
 * row is what xenstore and the data path say now, and what xbs_step() must
 * answer (the action to take and the state to publish, 0 for none).
 */
#include <stdio.h>

#include "ipnb/xbstate.h"
#include "suites.h"

/* Short names keep the table readable. */
#define UNK  XenbusStateUnknown
#define INI  XenbusStateInitialising
#define IWT  XenbusStateInitWait
#define INID XenbusStateInitialised
#define CON  XenbusStateConnected
#define CLG  XenbusStateClosing
#define CLD  XenbusStateClosed
#define RCG  XenbusStateReconfiguring
#define RCD  XenbusStateReconfigured
#define MISS XBS_FE_MISSING

#define NONE XBS_NONE
#define CONN XBS_CONNECT
#define DISC XBS_DISCONNECT

struct row {
	const char *what;
	struct xbs_in
	    in; /* be_state, be_published, fe_state, online, hotplug_ok, connected, failed */
	enum xbs_action action;
	int publish;
};

static void run_table(const struct row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		struct xbs_out out = {.action = (enum xbs_action)99, .publish = 99};

		xbs_step(&r->in, &out);
		if (out.action != r->action || out.publish != r->publish) {
			fprintf(stderr, "\n  row %zu (%s): got action %d publish %d, want %d %d\n",
				i, r->what, out.action, out.publish, r->action, r->publish);
		}
		CU_ASSERT_EQUAL(out.action, r->action);
		CU_ASSERT_EQUAL(out.publish, r->publish);
	}
}

#define RUN(t) run_table(t, sizeof(t) / sizeof(t[0]))

static void test_first_sight(void)
{
	static const struct row t[] = {
	    {"backend dir appears", {INI, 0, INI, true, false, false, false}, NONE, IWT},
	    {"frontend already there", {INI, 0, CON, true, true, false, false}, NONE, IWT},
	    {"frontend missing", {INI, 0, MISS, true, false, false, false}, NONE, IWT},
	    {"state node unknown", {UNK, 0, MISS, true, false, false, false}, NONE, IWT},
	    /* online=0 before we ever wrote anything: close right away */
	    {"offline at first sight", {INI, 0, INI, false, false, false, false}, NONE, CLD},
	};

	RUN(t);
}

static void test_connect(void)
{
	static const struct row t[] = {
	    {"fe Connected, hotplug ok", {IWT, IWT, CON, true, true, false, false}, CONN, 0},
	    {"fe Initialised, hotplug ok", {IWT, IWT, INID, true, true, false, false}, CONN, 0},
	    {"fe Connected, no hotplug", {IWT, IWT, CON, true, false, false, false}, NONE, 0},
	    {"fe Initialised, no hotplug", {IWT, IWT, INID, true, false, false, false}, NONE, 0},
	    /* the backend is not in InitWait yet: wait */
	    {"be still Initialising", {INI, IWT, CON, true, true, false, false}, NONE, 0},
	    /* connected: publish Connected once, then nothing */
	    {"connected, publish", {IWT, IWT, CON, true, true, true, false}, NONE, CON},
	    {"connected, already published", {CON, CON, CON, true, true, true, false}, NONE, 0},
	    {"connected, fe Initialised", {IWT, IWT, INID, true, true, true, false}, NONE, CON},
	    /* a failed connect or a disabled vif: Closing */
	    {"connect failed", {IWT, IWT, CON, true, true, false, true}, NONE, CLG},
	    {"failed, already Closing", {CLG, CLG, CON, true, true, false, true}, NONE, 0},
	    {"disabled after Connected", {CON, CON, CON, true, true, false, true}, NONE, CLG},
	};

	RUN(t);
}

static void test_frontend_close(void)
{
	static const struct row t[] = {
	    {"fe Closing while connected", {CON, CON, CLG, true, true, true, false}, DISC, CLG},
	    {"fe Closing, not connected", {IWT, IWT, CLG, true, true, false, false}, NONE, CLG},
	    {"fe Closing, already Closing", {CLG, CLG, CLG, true, true, false, false}, NONE, 0},
	    {"fe Closed while connected", {CON, CON, CLD, true, true, true, false}, DISC, CLD},
	    {"fe Closed after Closing", {CLG, CLG, CLD, true, true, false, false}, NONE, CLD},
	    {"fe Closed, already Closed", {CLD, CLD, CLD, true, true, false, false}, NONE, 0},
	    {"fe gone while connected", {CON, CON, MISS, true, true, true, false}, DISC, CLD},
	    {"fe gone, InitWait", {IWT, IWT, MISS, true, false, false, false}, NONE, CLD},
	};

	RUN(t);
}

static void test_toolstack_close(void)
{
	static const struct row t[] = {
	    {"online=0 while connected", {CON, CON, CON, false, true, true, false}, DISC, CLD},
	    {"online=0 in InitWait", {IWT, IWT, INI, false, false, false, false}, NONE, CLD},
	    {"online=0, already Closed", {CLD, CLD, CON, false, true, false, false}, NONE, 0},
	    /* libxl writes Closing over the state we published */
	    {"Closing over Connected", {CLG, CON, CON, true, true, true, false}, DISC, CLD},
	    {"Closing over InitWait", {CLG, IWT, INI, true, false, false, false}, NONE, CLD},
	    {"Closing + online=0", {CLG, IWT, INI, false, false, false, false}, NONE, CLD},
	    /* our own Closing is not a toolstack request */
	    {"our own Closing", {CLG, CLG, CON, true, true, false, true}, NONE, 0},
	};

	RUN(t);
}

static void test_restart(void)
{
	static const struct row t[] = {
	    {"fe Initialising after Closed", {CLD, CLD, INI, true, true, false, false}, NONE, IWT},
	    {"fe Initialising after Closing", {CLG, CLG, INI, true, true, false, false}, NONE, IWT},
	    {"fe Unknown after Closed", {CLD, CLD, UNK, true, false, false, false}, NONE, IWT},
	    {"fe InitWait", {CLD, CLD, IWT, true, false, false, false}, NONE, IWT},
	    /* a frontend restarting while we are connected: the old rings go */
	    {"fe Initialising while connected",
	     {CON, CON, INI, true, true, true, false},
	     DISC,
	     IWT},
	    {"fe Initialising, already InitWait",
	     {IWT, IWT, INI, true, false, false, false},
	     NONE,
	     0},
	    /* after the restart, connect again */
	    {"reconnect", {IWT, IWT, CON, true, true, false, false}, CONN, 0},
	};

	RUN(t);
}

/* A new daemon finds vifs an earlier one served (nothing published yet). */
static void test_takeover(void)
{
	static const struct row t[] = {
	    /* Connected on both ends, hotplug done: connect, no InitWait */
	    {"takeover", {CON, 0, CON, true, true, false, false}, CONN, 0},
	    {"takeover, fe Initialised", {CON, 0, INID, true, true, false, false}, CONN, 0},
	    {"taken over: mark Connected ours", {CON, 0, CON, true, true, true, false}, NONE, CON},
	    {"takeover failed", {CON, 0, CON, true, true, false, true}, NONE, CLG},
	    /* anything else starts afresh */
	    {"be Connected, fe Closing", {CON, 0, CLG, true, true, false, false}, NONE, IWT},
	    {"be Connected, no hotplug", {CON, 0, CON, true, false, false, false}, NONE, IWT},
	    {"be InitWait, fe Connected", {IWT, 0, CON, true, true, false, false}, NONE, IWT},
	    {"be Connected, offline", {CON, 0, CON, false, true, false, false}, NONE, CLD},
	};

	RUN(t);
}

static void test_wait_states(void)
{
	static const struct row t[] = {
	    {"fe Reconfiguring", {CON, CON, RCG, true, true, true, false}, NONE, 0},
	    {"fe Reconfigured", {CON, CON, RCD, true, true, true, false}, NONE, 0},
	    {"fe Reconfiguring, not connected", {IWT, IWT, RCG, true, true, false, false}, NONE, 0},
	    {"fe junk 42", {IWT, IWT, 42, true, true, false, false}, NONE, 0},
	    {"fe junk -7", {CON, CON, -7, true, true, true, false}, NONE, 0},
	};

	RUN(t);
}

/* Walks one vif through its whole life, feeding each answer back in as the
 * control path would (it writes `publish` and sets `connected`). */
static void test_lifecycle(void)
{
	struct xbs_in in = {.be_state = INI, .fe_state = INI, .online = true};
	struct xbs_out out;

	xbs_step(&in, &out);
	CU_ASSERT_EQUAL(out.publish, IWT);
	in.be_state = in.be_published = out.publish;

	/* nothing changes: nothing to do */
	xbs_step(&in, &out);
	CU_ASSERT_EQUAL(out.action, NONE);
	CU_ASSERT_EQUAL(out.publish, 0);

	in.fe_state = CON;
	xbs_step(&in, &out);
	CU_ASSERT_EQUAL(out.action, NONE); /* hotplug script not done yet */
	in.hotplug_ok = true;
	xbs_step(&in, &out);
	CU_ASSERT_EQUAL(out.action, CONN);
	in.connected = true;
	xbs_step(&in, &out);
	CU_ASSERT_EQUAL(out.publish, CON);
	in.be_state = in.be_published = out.publish;
	xbs_step(&in, &out);
	CU_ASSERT_EQUAL(out.action, NONE);
	CU_ASSERT_EQUAL(out.publish, 0);

	in.fe_state = CLG;
	xbs_step(&in, &out);
	CU_ASSERT_EQUAL(out.action, DISC);
	CU_ASSERT_EQUAL(out.publish, CLG);
	in.connected = false;
	in.be_state = in.be_published = out.publish;
	in.fe_state = CLD;
	xbs_step(&in, &out);
	CU_ASSERT_EQUAL(out.action, NONE);
	CU_ASSERT_EQUAL(out.publish, CLD);
	in.be_state = in.be_published = out.publish;

	in.fe_state = INI;
	xbs_step(&in, &out);
	CU_ASSERT_EQUAL(out.publish, IWT);
}

static void test_state_names(void)
{
	CU_ASSERT_STRING_EQUAL(xbs_state_name(IWT), "InitWait");
	CU_ASSERT_STRING_EQUAL(xbs_state_name(CLD), "Closed");
	CU_ASSERT_STRING_EQUAL(xbs_state_name(MISS), "missing");
	CU_ASSERT_STRING_EQUAL(xbs_state_name(99), "invalid");
	CU_ASSERT_STRING_EQUAL(xbs_state_name(-5), "invalid");
}

CU_ErrorCode test_xbstate_register(void)
{
	CU_pSuite s = CU_add_suite("xbstate", NULL, NULL);

	if (!s)
		return CU_get_error();
	CU_add_test(s, "first sight", test_first_sight);
	CU_add_test(s, "connect", test_connect);
	CU_add_test(s, "frontend close", test_frontend_close);
	CU_add_test(s, "toolstack close", test_toolstack_close);
	CU_add_test(s, "frontend restart", test_restart);
	CU_add_test(s, "daemon takeover", test_takeover);
	CU_add_test(s, "wait states", test_wait_states);
	CU_add_test(s, "lifecycle", test_lifecycle);
	CU_add_test(s, "state names", test_state_names);
	return CU_get_error();
}
