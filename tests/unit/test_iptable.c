/* SPDX-License-Identifier: MIT */
/*
 * test_iptable.c - the address table: ownership rules, capacity, and a long
 * random churn checked against a plain array model, which also drives the
 * in-place compaction of tombstones.
 */
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "ipnb/iptable.h"
#include "suites.h"
#include "testaddr.h"

static int owners[4];
#define VIF_A ((void *)&owners[0])
#define VIF_B ((void *)&owners[1])
#define VIF_C ((void *)&owners[2])

static void check_invariants(const struct ipt *t)
{
	CU_ASSERT(t->nslots >= 8 && (t->nslots & (t->nslots - 1)) == 0);
	CU_ASSERT(t->count <= t->max);
	CU_ASSERT(t->count <= t->used);
	CU_ASSERT(t->used <= t->nslots / 4 * 3);
}

static void test_basic(void)
{
	struct ipt t;
	struct ipnb_addr a4 = v4(10, 99, 0, 13), b4 = v4(10, 99, 0, 14);
	struct ipnb_addr a6 = v6(0xfd00, 0x13), b6 = v6(0xfd00, 0x14);

	CU_ASSERT_EQUAL_FATAL(ipt_init(&t, 16), IPT_OK);
	CU_ASSERT_PTR_NULL(ipt_lookup(&t, &a4));
	CU_ASSERT_EQUAL(ipt_add(&t, &a4, VIF_A, NULL), IPT_OK);
	CU_ASSERT_EQUAL(ipt_add(&t, &a6, VIF_A, NULL), IPT_OK);
	CU_ASSERT_EQUAL(ipt_add(&t, &b4, VIF_B, NULL), IPT_OK);
	CU_ASSERT_EQUAL(ipt_add(&t, &b6, VIF_B, NULL), IPT_OK);
	CU_ASSERT_EQUAL(t.count, 4);
	CU_ASSERT_PTR_EQUAL(ipt_lookup(&t, &a4), VIF_A);
	CU_ASSERT_PTR_EQUAL(ipt_lookup(&t, &a6), VIF_A);
	CU_ASSERT_PTR_EQUAL(ipt_lookup(&t, &b4), VIF_B);
	CU_ASSERT_PTR_EQUAL(ipt_lookup(&t, &b6), VIF_B);
	{
		struct ipnb_addr other = v4(10, 99, 0, 15);

		CU_ASSERT_PTR_NULL(ipt_lookup(&t, &other));
	}

	CU_ASSERT_EQUAL(ipt_del(&t, &a4, VIF_A), IPT_OK);
	CU_ASSERT_PTR_NULL(ipt_lookup(&t, &a4));
	CU_ASSERT_PTR_EQUAL(ipt_lookup(&t, &a6), VIF_A);
	CU_ASSERT_EQUAL(ipt_del(&t, &a6, VIF_A), IPT_OK);
	CU_ASSERT_PTR_NULL(ipt_lookup(&t, &a6));
	CU_ASSERT_EQUAL(ipt_del(&t, &a6, VIF_A), IPT_ENOENT); /* already gone */
	CU_ASSERT_EQUAL(t.count, 2);
	/* a deleted address can be registered again, by anyone */
	CU_ASSERT_EQUAL(ipt_add(&t, &a4, VIF_C, NULL), IPT_OK);
	CU_ASSERT_PTR_EQUAL(ipt_lookup(&t, &a4), VIF_C);
	check_invariants(&t);
	ipt_fini(&t);
	CU_ASSERT_PTR_NULL(t.slots);
	CU_ASSERT_EQUAL(t.count, 0);
}

static void test_family_is_key(void)
{
	struct ipt t;
	struct ipnb_addr a4 = v4(10, 0, 0, 1), a6, noisy;

	/* same leading bytes, other family */
	memset(&a6, 0, sizeof(a6));
	a6.family = AF_INET6;
	memcpy(a6.bytes, a4.bytes, 4);

	CU_ASSERT_EQUAL_FATAL(ipt_init(&t, 4), IPT_OK);
	CU_ASSERT_EQUAL(ipt_add(&t, &a4, VIF_A, NULL), IPT_OK);
	CU_ASSERT_PTR_NULL(ipt_lookup(&t, &a6));
	CU_ASSERT_EQUAL(ipt_add(&t, &a6, VIF_B, NULL), IPT_OK);
	CU_ASSERT_PTR_EQUAL(ipt_lookup(&t, &a4), VIF_A);
	CU_ASSERT_PTR_EQUAL(ipt_lookup(&t, &a6), VIF_B);
	CU_ASSERT_EQUAL(ipt_del(&t, &a4, VIF_B), IPT_ENOENT);
	CU_ASSERT_EQUAL(ipt_del(&t, &a6, VIF_A), IPT_ENOENT);

	/* an IPv4 key is its first 4 bytes, as in ipnb_addr_equal() */
	noisy = a4;
	memset(noisy.bytes + 4, 0xee, 12);
	CU_ASSERT_PTR_EQUAL(ipt_lookup(&t, &noisy), VIF_A);
	CU_ASSERT_EQUAL(ipt_add(&t, &noisy, VIF_A, NULL), IPT_OK);
	CU_ASSERT_EQUAL(t.count, 2);
	ipt_fini(&t);
}

static void test_conflict_and_idempotence(void)
{
	struct ipt t;
	struct ipnb_addr a = v6(0xfd00, 0x99);
	void *cur = NULL;

	CU_ASSERT_EQUAL_FATAL(ipt_init(&t, 4), IPT_OK);
	CU_ASSERT_EQUAL(ipt_add(&t, &a, VIF_A, &cur), IPT_OK);
	CU_ASSERT_PTR_NULL(cur); /* untouched on success */
	CU_ASSERT_EQUAL(ipt_add(&t, &a, VIF_A, &cur), IPT_OK);
	CU_ASSERT_EQUAL(ipt_add(&t, &a, VIF_A, NULL), IPT_OK);
	CU_ASSERT_EQUAL(t.count, 1);
	CU_ASSERT_EQUAL(t.used, 1);

	CU_ASSERT_EQUAL(ipt_add(&t, &a, VIF_B, &cur), IPT_ECONFLICT);
	CU_ASSERT_PTR_EQUAL(cur, VIF_A);
	CU_ASSERT_EQUAL(ipt_add(&t, &a, VIF_B, NULL), IPT_ECONFLICT);
	CU_ASSERT_PTR_EQUAL(ipt_lookup(&t, &a), VIF_A); /* the owner stays */

	CU_ASSERT_EQUAL(ipt_del(&t, &a, VIF_B), IPT_ENOENT);
	CU_ASSERT_PTR_EQUAL(ipt_lookup(&t, &a), VIF_A);
	CU_ASSERT_EQUAL(ipt_del(&t, &a, VIF_A), IPT_OK);
	CU_ASSERT_EQUAL(ipt_add(&t, &a, VIF_B, &cur), IPT_OK);
	CU_ASSERT_PTR_EQUAL(ipt_lookup(&t, &a), VIF_B);

	/* NULL would read back as "not registered" */
	{
		struct ipnb_addr b = v6(0xfd00, 0x98);

		CU_ASSERT_EQUAL(ipt_add(&t, &b, NULL, NULL), IPT_ENOENT);
		CU_ASSERT_EQUAL(t.count, 1);
	}
	ipt_fini(&t);
}

static void test_del_owner(void)
{
	struct ipt t;

	CU_ASSERT_EQUAL_FATAL(ipt_init(&t, 64), IPT_OK);
	for (uint8_t i = 0; i < 20; i++) {
		struct ipnb_addr a = v4(10, 0, 0, i), b = v6(0xfd00, i);
		void *o = i % 3 == 0 ? VIF_A : VIF_B;

		CU_ASSERT_EQUAL(ipt_add(&t, &a, o, NULL), IPT_OK);
		CU_ASSERT_EQUAL(ipt_add(&t, &b, o, NULL), IPT_OK);
	}
	CU_ASSERT_EQUAL(t.count, 40);
	CU_ASSERT_EQUAL(ipt_del_owner(&t, VIF_C), 0);
	CU_ASSERT_EQUAL(ipt_del_owner(&t, VIF_A), 14); /* i = 0,3,...,18, twice */
	CU_ASSERT_EQUAL(t.count, 26);
	for (uint8_t i = 0; i < 20; i++) {
		struct ipnb_addr a = v4(10, 0, 0, i), b = v6(0xfd00, i);
		void *want = i % 3 == 0 ? NULL : VIF_B;

		CU_ASSERT_PTR_EQUAL(ipt_lookup(&t, &a), want);
		CU_ASSERT_PTR_EQUAL(ipt_lookup(&t, &b), want);
	}
	CU_ASSERT_EQUAL(ipt_del_owner(&t, VIF_A), 0);
	CU_ASSERT_EQUAL(ipt_del_owner(&t, VIF_B), 26);
	CU_ASSERT_EQUAL(t.count, 0);
	/* with the table empty, every slot is free again */
	CU_ASSERT_EQUAL(t.used, 0);
	check_invariants(&t);
	ipt_fini(&t);
}

static void test_capacity(void)
{
	for (size_t max = 0; max <= 70; max++) {
		struct ipt t;
		struct ipnb_addr extra = v6(0xfd01, 0xffff);
		void *cur = NULL;

		CU_ASSERT_EQUAL_FATAL(ipt_init(&t, max), IPT_OK);
		CU_ASSERT_EQUAL(t.max, max);
		CU_ASSERT(t.nslots >= max * 4 / 3 + 1);
		for (size_t i = 0; i < max; i++) {
			struct ipnb_addr a = v6(0xfd00, (uint16_t)i);

			CU_ASSERT_EQUAL(ipt_add(&t, &a, i % 2 ? VIF_A : VIF_B, NULL), IPT_OK);
		}
		CU_ASSERT_EQUAL(t.count, max);
		CU_ASSERT_EQUAL(ipt_add(&t, &extra, VIF_A, NULL), IPT_EFULL);
		CU_ASSERT_PTR_NULL(ipt_lookup(&t, &extra));
		check_invariants(&t);
		if (max > 0) {
			struct ipnb_addr first = v6(0xfd00, 0);

			/* full, yet known addresses still answer as before */
			CU_ASSERT_EQUAL(ipt_add(&t, &first, VIF_B, NULL), IPT_OK);
			CU_ASSERT_EQUAL(ipt_add(&t, &first, VIF_A, &cur), IPT_ECONFLICT);
			CU_ASSERT_PTR_EQUAL(cur, VIF_B);
			CU_ASSERT_EQUAL(ipt_del(&t, &first, VIF_B), IPT_OK);
			CU_ASSERT_EQUAL(ipt_add(&t, &extra, VIF_A, NULL), IPT_OK);
			CU_ASSERT_EQUAL(ipt_add(&t, &first, VIF_B, NULL), IPT_EFULL);
		}
		for (size_t i = 1; i < max; i++) {
			struct ipnb_addr a = v6(0xfd00, (uint16_t)i);

			CU_ASSERT_PTR_EQUAL(ipt_lookup(&t, &a), i % 2 ? VIF_A : VIF_B);
		}
		ipt_fini(&t);
	}
}

static void test_init_limits(void)
{
	struct ipt t;
	struct ipnb_addr a = v4(10, 0, 0, 1);

	/* refused before reaching the allocator */
	CU_ASSERT_EQUAL(ipt_init(&t, SIZE_MAX), IPT_ENOMEM);
	CU_ASSERT_PTR_NULL(t.slots);
	CU_ASSERT_EQUAL(ipt_init(&t, SIZE_MAX / 4), IPT_ENOMEM);
	CU_ASSERT_EQUAL(ipt_init(&t, SIZE_MAX / 64), IPT_ENOMEM);
	/* a failed table is inert, not a crash */
	CU_ASSERT_PTR_NULL(ipt_lookup(&t, &a));
	CU_ASSERT_EQUAL(ipt_add(&t, &a, VIF_A, NULL), IPT_EFULL);
	CU_ASSERT_EQUAL(ipt_del(&t, &a, VIF_A), IPT_ENOENT);
	CU_ASSERT_EQUAL(ipt_del_owner(&t, VIF_A), 0);
	ipt_fini(&t);
}

/* ---- churn against a model ------------------------------------------------ */

#define MAX_KEYS 256

static uint64_t rng_state;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

static void churn(size_t max, size_t nkeys, unsigned int ops, uint64_t seed)
{
	struct ipnb_addr keys[MAX_KEYS];
	void *model[MAX_KEYS] = {0};
	void *const vifs[3] = {VIF_A, VIF_B, VIF_C};
	size_t model_count = 0, compactions = 0, max_tombs = 0, efull = 0;
	struct ipt t;

	CU_ASSERT_FATAL(nkeys <= MAX_KEYS);
	rng_state = seed;
	/* a third IPv4, a third IPv6, and a third IPv6 sharing the leading
	 * bytes of the IPv4 ones */
	for (size_t i = 0; i < nkeys; i++) {
		if (i % 3 == 0) {
			keys[i] = v4(192, 168, (uint8_t)(i >> 8), (uint8_t)i);
		} else if (i % 3 == 1) {
			keys[i] = v6(0x2001, (uint16_t)(i * 7919));
		} else {
			keys[i] = v4(192, 168, (uint8_t)((i - 2) >> 8), (uint8_t)(i - 2));
			keys[i].family = AF_INET6;
		}
	}

	CU_ASSERT_EQUAL_FATAL(ipt_init(&t, max), IPT_OK);
	for (unsigned int n = 0; n < ops; n++) {
		uint32_t r = rnd();
		size_t k = r % nkeys;
		void *o = vifs[(r >> 8) % 3];
		unsigned int op = (r >> 12) % 100;
		size_t used_before = t.used;
		void *cur = NULL;
		int rc;

		if (op < 55) {
			rc = ipt_add(&t, &keys[k], o, &cur);
			if (model[k] == o) {
				CU_ASSERT_EQUAL(rc, IPT_OK);
			} else if (model[k]) {
				CU_ASSERT_EQUAL(rc, IPT_ECONFLICT);
				CU_ASSERT_PTR_EQUAL(cur, model[k]);
			} else if (model_count == max) {
				CU_ASSERT_EQUAL(rc, IPT_EFULL);
				efull++;
			} else {
				CU_ASSERT_EQUAL(rc, IPT_OK);
				model[k] = o;
				model_count++;
				if (t.used < used_before)
					compactions++;
			}
		} else if (op < 99) {
			rc = ipt_del(&t, &keys[k], o);
			if (model[k] == o) {
				CU_ASSERT_EQUAL(rc, IPT_OK);
				model[k] = NULL;
				model_count--;
			} else {
				CU_ASSERT_EQUAL(rc, IPT_ENOENT);
			}
		} else {
			size_t want = 0;

			for (size_t i = 0; i < nkeys; i++) {
				if (model[i] == o) {
					model[i] = NULL;
					want++;
				}
			}
			CU_ASSERT_EQUAL(ipt_del_owner(&t, o), want);
			model_count -= want;
		}

		CU_ASSERT_EQUAL(t.count, model_count);
		CU_ASSERT(t.used <= t.nslots / 4 * 3);
		if (t.used - t.count > max_tombs)
			max_tombs = t.used - t.count;
		{
			size_t q = rnd() % nkeys;

			CU_ASSERT_PTR_EQUAL(ipt_lookup(&t, &keys[q]), model[q]);
		}
		if (n % 1000 == 0) {
			for (size_t i = 0; i < nkeys; i++)
				CU_ASSERT_PTR_EQUAL(ipt_lookup(&t, &keys[i]), model[i]);
		}
	}
	for (size_t i = 0; i < nkeys; i++)
		CU_ASSERT_PTR_EQUAL(ipt_lookup(&t, &keys[i]), model[i]);
	/* the run must have exercised what it is meant to */
	CU_ASSERT(compactions > 0);
	CU_ASSERT(max_tombs > 0);
	CU_ASSERT(efull > 0);
	ipt_fini(&t);
}

static void test_churn(void)
{
	/* 64 slots, limit 48: tight, compacts often */
	churn(47, 96, 100000, 0x9e3779b97f4a7c15u);
	/* 128 slots, limit 96: tombstones pile up longer between rebuilds */
	churn(60, 240, 100000, 0x0123456789abcdefu);
}

CU_ErrorCode test_iptable_register(void)
{
	CU_pSuite s = CU_add_suite("iptable", NULL, NULL);

	if (!s)
		return CU_get_error();
	CU_add_test(s, "add lookup del", test_basic);
	CU_add_test(s, "family is part of the key", test_family_is_key);
	CU_add_test(s, "conflict and idempotence", test_conflict_and_idempotence);
	CU_add_test(s, "del by owner", test_del_owner);
	CU_add_test(s, "capacity", test_capacity);
	CU_add_test(s, "init limits", test_init_limits);
	CU_add_test(s, "churn against a model", test_churn);
	return CU_get_error();
}
