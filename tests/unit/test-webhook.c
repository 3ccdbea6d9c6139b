// SPDX-License-Identifier: MIT
/*
 * Webhooks: the signature (HMAC-SHA256 over "<timestamp>.<body>", vectors computed with
 * Python's hmac module as a receiver does it, docs/WEBHOOKS.md), the backoff schedule, and the
 * WEBHOOK_URLS parser.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "siprecd/webhook.h"

static const char secret[] = "whsec-test-0123456789";

static void test_sign_vectors(void **state)
{
	/* python3: hmac.new(secret, b"1700000000." + body, hashlib.sha256).hexdigest() */
	static const struct {
		uint64_t ts;
		const char *body, *sig;
	} t[] = {
		{1700000000, "{\"id\":\"x\",\"type\":\"session.started\"}",
		 "864ae65dc1dcedd7d53551bf9190138791a9dc38b82ec2e7ef1cd9643d8d5839"},
		{0, "", "81789a4aa79553608c52a4164e58f7a6ad0dcba1f5667a984eaf62b518c25cf0"},
	};
	char out[WEBHOOK_SIG_HEX + 1];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(webhook_sign((const uint8_t *)secret, strlen(secret), t[i].ts,
					      t[i].body, strlen(t[i].body), out),
				 0);
		assert_string_equal(out, t[i].sig);
	}
}

static void test_sign_binds_every_part(void **state)
{
	const char *body = "{\"id\":\"x\"}";
	char a[WEBHOOK_SIG_HEX + 1], b[WEBHOOK_SIG_HEX + 1];

	assert_int_equal(
		webhook_sign((const uint8_t *)secret, strlen(secret), 1, body, strlen(body), a), 0);
	/* another timestamp, another body, another secret: another signature */
	assert_int_equal(
		webhook_sign((const uint8_t *)secret, strlen(secret), 2, body, strlen(body), b), 0);
	assert_string_not_equal(a, b);
	assert_int_equal(
		webhook_sign((const uint8_t *)secret, strlen(secret), 1, body, strlen(body) - 1, b),
		0);
	assert_string_not_equal(a, b);
	assert_int_equal(
		webhook_sign((const uint8_t *)secret, strlen(secret) - 1, 1, body, strlen(body), b),
		0);
	assert_string_not_equal(a, b);
	/* "1" + "." + "2..." must not sign like "12" + "." + "...": the dot separates */
	assert_int_equal(webhook_sign((const uint8_t *)secret, strlen(secret), 12, "x", 1, a), 0);
	assert_int_equal(webhook_sign((const uint8_t *)secret, strlen(secret), 1, "2.x", 3, b), 0);
	assert_string_not_equal(a, b);
}

static void test_backoff_schedule(void **state)
{
	static const struct {
		unsigned failures;
		uint64_t min, max, want;
	} t[] = {
		{1, 1000, 3600000, 1000},
		{2, 1000, 3600000, 2000},
		{3, 1000, 3600000, 4000},
		{4, 1000, 3600000, 8000},
		{12, 1000, 3600000, 2048000},
		{13, 1000, 3600000, 3600000},
		{64, 1000, 3600000, 3600000},
		{100000, 1000, 3600000, 3600000},
		{0, 50, 400, 50},
		{4, 50, 400, 400},
		{200, UINT64_MAX / 2, UINT64_MAX, UINT64_MAX},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_true(webhook_backoff_ms(t[i].failures, t[i].min, t[i].max) == t[i].want);
}

static void test_parse_urls(void **state)
{
	char *u[WEBHOOK_URLS_MAX], err[256];
	int n;

	n = webhook_parse_urls(" https://a.example/hook ,http://127.0.0.1:8080/x,, ", u, err,
			       sizeof(err));
	assert_int_equal(n, 2);
	assert_string_equal(u[0], "https://a.example/hook");
	assert_string_equal(u[1], "http://127.0.0.1:8080/x");
	free(u[0]);
	free(u[1]);
	assert_int_equal(webhook_parse_urls("", u, err, sizeof(err)), 0);
	static const char *const bad[] = {
		"ftp://a.example/",
		"https://",
		"http:///path",
		"a.example/hook",
		"https://a.example/ok,file:///etc/passwd",
		"http://a/1,http://a/2,http://a/3,http://a/4,http://a/5,http://a/6,http://a/7,"
		"http://a/8,http://a/9",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(webhook_parse_urls(bad[i], u, err, sizeof(err)), -22);
		assert_non_null(strstr(err, "WEBHOOK_URLS"));
	}
}

static void test_event_when_off(void **state)
{
	/* Not started: events are accepted and dropped, bad input still refused. */
	assert_int_equal(webhook_event(WEBHOOK_SESSION_STARTED, "{\"a\":1}"), 0);
	assert_int_equal(webhook_event("", "{}"), -22);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign_vectors),
		cmocka_unit_test(test_sign_binds_every_part),
		cmocka_unit_test(test_backoff_schedule),
		cmocka_unit_test(test_parse_urls),
		cmocka_unit_test(test_event_when_off),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
