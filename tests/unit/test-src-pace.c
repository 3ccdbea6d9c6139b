// SPDX-License-Identifier: MIT
/* Unit tests for siprec-src's call schedule (tools/siprec-src/pace.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdint.h>

#include "../../tools/siprec-src/src.h"

static void test_due(void **state)
{
	const struct src_pace p = {.t0 = 5000000, .rate = 1000, .n = 10000};
	const struct src_pace q = {.t0 = 0, .rate = 3, .n = 10};

	(void)state;
	assert_int_equal(src_pace_due(&p, 0), 5000000);
	assert_int_equal(src_pace_due(&p, 1), 5001000);
	assert_int_equal(src_pace_due(&p, 9999), 5000000 + 9999000);
	assert_int_equal(src_pace_due(&q, 2), 666666);
}

/* The loop wakes for the next INVITE, not only for the next media tick: otherwise the INVITEs
 * due during a 20 ms sleep go out together when it ends. */
static void test_wait(void **state)
{
	const struct src_pace p = {.t0 = 1000000, .rate = 1000, .n = 100};
	const uint64_t now = 1010200, tick = 1030000;

	(void)state;
	/* call 11 is due at 1,011,000: 800 us, before the tick */
	assert_int_equal(src_pace_wait_us(&p, 11, tick, now), 800);
	/* call 10 was due at 1,010,000: now */
	assert_int_equal(src_pace_wait_us(&p, 10, tick, now), 0);
	/* call 50 is due after the tick: the tick comes first */
	assert_int_equal(src_pace_wait_us(&p, 50, tick, now), 19800);
	/* every call started: the tick */
	assert_int_equal(src_pace_wait_us(&p, 100, tick, now), 19800);
	/* a tick already due */
	assert_int_equal(src_pace_wait_us(&p, 50, now - 1, now), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_due),
		cmocka_unit_test(test_wait),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
