/* SPDX-License-Identifier: MIT */
/*
 * heap.h - what the unit tests' process has allocated now, for tests that
 * bound growth over many cycles. The unit tests run under ASan, whose
 * allocator keeps the count; without it the answer is 0, and such a test
 * checks nothing about the heap (it fails elsewhere: the suite is always
 * built with ASan).
 */
#ifndef IPNB_TEST_HEAP_H
#define IPNB_TEST_HEAP_H

#include <stddef.h>

extern size_t __sanitizer_get_current_allocated_bytes(void) __attribute__((weak));

static inline size_t heap_bytes(void)
{
	return __sanitizer_get_current_allocated_bytes ? __sanitizer_get_current_allocated_bytes()
						       : 0;
}

#endif
