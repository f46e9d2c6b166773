/* SPDX-License-Identifier: MIT */
/*
 * fakeclock.h - a CLOCK_MONOTONIC that tests can move forward.
 *
 * The data path's timers (RX queue ageing, stall detection, rate credit)
 * read CLOCK_MONOTONIC through ipnb_now_ms(). Programs linked with
 * fakeclock.c get a clock_gettime() that adds a skew to it, so a test can
 * let ten seconds pass in no time. The skew belongs to the calling thread:
 * other threads (libFuzzer's watchdog) keep seeing the real clock.
 */
#ifndef IPNB_FAKECLOCK_H
#define IPNB_FAKECLOCK_H

#include <stdint.h>

/* Moves this thread's CLOCK_MONOTONIC forward by ms. */
void fake_clock_advance(uint64_t ms);
/* Back to the real clock (which may then seem to go backwards). */
void fake_clock_reset(void);

#endif
