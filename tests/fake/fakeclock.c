/* SPDX-License-Identifier: MIT */
/*
 * fakeclock.c - clock_gettime() with a per-thread skew on CLOCK_MONOTONIC
 * (see fakeclock.h). It replaces the C library's symbol in the programs it
 * is linked into, and calls the real one through dlsym(RTLD_NEXT).
 */
#include "fakeclock.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

typedef int (*clock_fn)(clockid_t, struct timespec *);

static _Thread_local uint64_t skew_ms;

void fake_clock_advance(uint64_t ms)
{
	skew_ms += ms;
}

void fake_clock_reset(void)
{
	skew_ms = 0;
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
	static clock_fn real;
	clock_fn fn = __atomic_load_n(&real, __ATOMIC_ACQUIRE);
	int r;

	if (!fn) {
		fn = (clock_fn)dlsym(RTLD_NEXT, "clock_gettime");
		if (!fn)
			abort();
		__atomic_store_n(&real, fn, __ATOMIC_RELEASE);
	}
	r = fn(id, ts);
	if (r == 0 && id == CLOCK_MONOTONIC && skew_ms) {
		ts->tv_sec += (time_t)(skew_ms / 1000);
		ts->tv_nsec += (long)(skew_ms % 1000) * 1000000L;
		if (ts->tv_nsec >= 1000000000L) {
			ts->tv_sec++;
			ts->tv_nsec -= 1000000000L;
		}
	}
	return r;
}
