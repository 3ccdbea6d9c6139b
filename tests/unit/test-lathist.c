// SPDX-License-Identifier: MIT
/* Unit tests for the latency histograms (src/util/lathist.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "siprecd/lathist.h"

/* Within the bucket's resolution (1/8 of a power of two) above the exact value. */
static void assert_near(uint64_t got, uint64_t want)
{
	if (got < want || got > want + want / 8 + 1)
		fail_msg("got %llu, want %llu (+12%%)", (unsigned long long)got,
			 (unsigned long long)want);
}

static void test_quantiles(void **state)
{
	static const uint64_t ranges[] = {10, 1000, 100000, 10000000};

	for (size_t r = 0; r < sizeof(ranges) / sizeof(ranges[0]); r++) {
		struct lat_hist h;
		uint64_t n = ranges[r];

		memset(&h, 0, sizeof(h));
		/* 1..n in a scrambled order: the order of arrival does not matter */
		for (uint64_t i = 0; i < n; i++)
			lat_hist_add(&h, (i * 7919) % n + 1);
		assert_int_equal(h.count, n);
		assert_int_equal(h.max_us, n);
		assert_int_equal(h.sum_us, n * (n + 1) / 2);
		assert_near(lat_hist_quantile(&h, 0.5), n / 2 + 1);
		assert_near(lat_hist_quantile(&h, 0.99), n * 99 / 100 + 1);
		assert_int_equal(lat_hist_quantile(&h, 1), n);
		assert_near(lat_hist_quantile(&h, 0), 1);
	}
}

static void test_edges(void **state)
{
	struct lat_hist h, g;
	char buf[96];

	memset(&h, 0, sizeof(h));
	assert_int_equal(lat_hist_quantile(&h, 0.99), 0);
	assert_string_equal(lat_hist_format(&h, buf, sizeof(buf)),
			    "n 0, p50 0.00, p99 0.00, max 0.00 ms");
	/* one huge sample: the last bucket, reported as the exact maximum */
	lat_hist_add(&h, UINT64_MAX / 2);
	assert_int_equal(lat_hist_quantile(&h, 0.5), UINT64_MAX / 2);
	/* 99 samples of 0 and one of 20 ms: p50 0, p99 within 12% of 20 ms */
	memset(&h, 0, sizeof(h));
	for (int i = 0; i < 99; i++)
		lat_hist_add(&h, 0);
	lat_hist_add(&h, 20000);
	assert_int_equal(lat_hist_quantile(&h, 0.5), 0);
	assert_near(lat_hist_quantile(&h, 0.99), 20000);
	assert_string_equal(lat_hist_format(&h, buf, sizeof(buf)),
			    "n 100, p50 0.00, p99 20.00, max 20.00 ms");
	/* merged: the counts add up, the maximum is the larger */
	memset(&g, 0, sizeof(g));
	for (int i = 0; i < 100; i++)
		lat_hist_add(&g, 5);
	lat_hist_merge(&g, &h);
	assert_int_equal(g.count, 200);
	assert_int_equal(g.max_us, 20000);
	assert_int_equal(lat_hist_quantile(&g, 0.25), 0);
	assert_int_equal(lat_hist_quantile(&g, 0.75), 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quantiles),
		cmocka_unit_test(test_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
