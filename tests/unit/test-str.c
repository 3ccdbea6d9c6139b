// SPDX-License-Identifier: MIT
/* Unit tests for counted strings and the checked number parsers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>

#include "siprecd/str.h"

static void test_to_u64(void **state)
{
	static const struct {
		const char *in;
		uint64_t max;
		int ret;
		uint64_t val;
	} t[] = {
		{"0", 10, 0, 0},
		{"10", 10, 0, 10},
		{"11", 10, -ERANGE, 0},
		{"", 10, -EINVAL, 0},
		{"1a", 100, -EINVAL, 0},
		{"-1", 100, -EINVAL, 0},
		{" 1", 100, -EINVAL, 0},
		{"18446744073709551615", UINT64_MAX, 0, UINT64_MAX},
		{"18446744073709551616", UINT64_MAX, -ERANGE, 0},
		{"99999999999999999999999", UINT64_MAX, -ERANGE, 0},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint64_t v = 12345;
		int r = parse_u64(t[i].in, t[i].max, &v);

		assert_int_equal(r, t[i].ret);
		assert_int_equal(v, r == 0 ? t[i].val : 12345);
	}
}

static void test_duration(void **state)
{
	static const struct {
		const char *in;
		int ret;
		uint64_t ms;
	} t[] = {
		{"30", 0, 30000},     {"500ms", 0, 500},  {"5m", 0, 300000}, {"24h", 0, 86400000},
		{"7d", 0, 604800000}, {"1x", -EINVAL, 0}, {"h", -EINVAL, 0}, {"", -EINVAL, 0},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint64_t v = 0;

		assert_int_equal(parse_duration_ms(t[i].in, &v), t[i].ret);
		if (t[i].ret == 0)
			assert_int_equal(v, t[i].ms);
	}
}

static void test_views(void **state)
{
	struct str head, tail;

	assert_true(str_caseeq_cstr(STR_LIT("Call-ID"), "call-id"));
	assert_false(str_eq_cstr(STR_LIT("Call-ID"), "call-id"));
	assert_true(str_eq_cstr(str_trim(STR_LIT(" \t a b \r\n")), "a b"));
	tail = str_split(STR_LIT("key=value=x"), '=', &head);
	assert_true(str_eq_cstr(head, "key"));
	assert_true(str_eq_cstr(tail, "value=x"));
	tail = str_split(STR_LIT("novalue"), '=', &head);
	assert_null(tail.s);
	assert_true(str_eq_cstr(head, "novalue"));
	assert_int_equal(str_casestr(STR_LIT("multipart/Mixed"), "mixed"), 10);
}

/* hex_encode: lowercase, two digits a byte, NUL-ended; hex_digit reads each back. */
static void test_hex(void **state)
{
	const uint8_t in[] = {0x00, 0x09, 0x0a, 0x7f, 0x80, 0xa5, 0xff};
	char out[2 * sizeof(in) + 2];

	(void)state;
	memset(out, 'x', sizeof(out));
	hex_encode(in, sizeof(in), out);
	assert_string_equal(out, "00090a7f80a5ff");
	assert_int_equal(out[2 * sizeof(in) + 1], 'x');
	for (size_t i = 0; i < sizeof(in); i++)
		assert_int_equal(hex_digit(out[2 * i]) * 16 + hex_digit(out[2 * i + 1]), in[i]);
	hex_encode(in, 0, out);
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_to_u64),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_views),
		cmocka_unit_test(test_hex),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
