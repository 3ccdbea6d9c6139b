// SPDX-License-Identifier: MIT
/* Unit tests for the UUIDv7 text form (src/util/uuid.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdint.h>
#include <string.h>

#include "siprecd/uuid.h"

/* RFC 9562 Appendix A.6: unix_ts_ms 0x017F22E279B0, rand_a 0xCC3, rand_b 0x18C4DC0C0C07398F.
 * The random bytes' version and variant positions hold ones, which must not show through. */
static void test_known_answer(void **state)
{
	const uint8_t rnd[10] = {0xfc, 0xc3, 0xd8, 0xc4, 0xdc, 0x0c, 0x0c, 0x07, 0x39, 0x8f};
	char out[UUID_STR_LEN + 1];

	(void)state;
	uuid_v7_format(out, 0x017F22E279B0ull, rnd);
	assert_string_equal(out, "017f22e2-79b0-7cc3-98c4-dc0c0c07398f");
	assert_int_equal(strlen(out), UUID_STR_LEN);
}

/* Later milliseconds sort after earlier ones whatever the random bits: the catalog's indexes on
 * uuids then take inserts at their right-most pages. */
static void test_time_ordered(void **state)
{
	const uint8_t hi[10] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	const uint8_t lo[10] = {0};
	char a[UUID_STR_LEN + 1], b[UUID_STR_LEN + 1];
	const uint64_t times[] = {0,
				  0xff,
				  0xffff,
				  0xffffffull,
				  0xffffffffull,
				  0xffffffffffull,
				  1764900000000ull /* 2025-12-05 */,
				  0xfffffffffffeull};
	uint64_t t = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		t = times[i];
		uuid_v7_format(a, t, hi);
		uuid_v7_format(b, t + 1, lo);
		assert_true(strcmp(a, b) < 0);
	}
	uuid_v7_format(a, t, lo);
	assert_int_equal(a[14], '7');
	assert_true(strchr("89ab", a[19]) != NULL);
	uuid_v7_format(a, t, hi);
	assert_int_equal(a[14], '7');
	assert_true(strchr("89ab", a[19]) != NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_answer),
		cmocka_unit_test(test_time_ordered),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
