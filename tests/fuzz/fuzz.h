/* SPDX-License-Identifier: MIT */
/*
 * fuzz.h - what every libFuzzer target in tests/fuzz/ shares: its entry
 * point's prototype, CHECK() (a failed invariant is a crash libFuzzer
 * keeps), and a reader that turns the input into a program's arguments
 * (reads past the end give zeros).
 */
#ifndef IPNB_FUZZ_H
#define IPNB_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Called by libFuzzer's own main(). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

struct in {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t u8(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static inline uint16_t u16(struct in *in)
{
	uint16_t lo = u8(in);

	return (uint16_t)(lo | (uint16_t)u8(in) << 8);
}

static inline uint32_t u32(struct in *in)
{
	uint32_t lo = u16(in);

	return lo | (uint32_t)u16(in) << 16;
}

#endif
