/* SPDX-License-Identifier: MIT */
/*
 * clock.h - the monotonic millisecond clock the data path and the uplink
 * use for queue ages, stalls and neighbour timers.
 */
#ifndef IPNB_CLOCK_H
#define IPNB_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t ipnb_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#endif
