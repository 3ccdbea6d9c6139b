// SPDX-License-Identifier: MIT
/* Unit tests for the varlink framing (split, coalesced and over-limit messages) and the call
 * parser (invalid JSON and wrong field types are -EBADMSG), and the IDL's method list. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/control.h"

static void test_split(void **state)
{
	static const char msg[] = "{\"method\":\"org.varlink.service.GetInfo\"}";
	struct control_frame f;
	const char *m;
	size_t len;

	control_frame_init(&f, 1024);
	/* One byte at a time: no message until the NUL arrives. */
	for (size_t i = 0; i < sizeof(msg) - 1; i++) {
		assert_int_equal(control_frame_feed(&f, msg + i, 1), 0);
		assert_int_equal(control_frame_next(&f, &m, &len), 0);
	}
	assert_int_equal(control_frame_feed(&f, "", 1), 0);
	assert_int_equal(control_frame_next(&f, &m, &len), 1);
	assert_int_equal(len, sizeof(msg) - 1);
	assert_string_equal(m, msg);
	assert_int_equal(control_frame_next(&f, &m, &len), 0);
	control_frame_done(&f);
}

static void test_coalesced(void **state)
{
	static const char buf[] = "{\"a\":1}\0{\"b\":2}\0{\"c\":";
	struct control_frame f;
	const char *m;
	size_t len;

	control_frame_init(&f, 1024);
	assert_int_equal(control_frame_feed(&f, buf, sizeof(buf) - 1), 0);
	assert_int_equal(control_frame_pending(&f), 2);
	assert_int_equal(control_frame_next(&f, &m, &len), 1);
	assert_string_equal(m, "{\"a\":1}");
	assert_int_equal(control_frame_next(&f, &m, &len), 1);
	assert_string_equal(m, "{\"b\":2}");
	assert_int_equal(control_frame_next(&f, &m, &len), 0);
	/* The rest of the third message, and a fourth, in one read. */
	assert_int_equal(control_frame_feed(&f, "3}\0{}\0", 6), 0);
	assert_int_equal(control_frame_next(&f, &m, &len), 1);
	assert_string_equal(m, "{\"c\":3}");
	assert_int_equal(control_frame_next(&f, &m, &len), 1);
	assert_string_equal(m, "{}");
	assert_int_equal(len, 2);
	assert_int_equal(control_frame_pending(&f), 0);
	control_frame_done(&f);
}

static void test_limit(void **state)
{
	char big[100];
	struct control_frame f;
	const char *m;
	size_t len;

	memset(big, 'x', sizeof(big));
	/* Exactly at the limit is fine, terminated or not. */
	control_frame_init(&f, 100);
	assert_int_equal(control_frame_feed(&f, big, 100), 0);
	assert_int_equal(control_frame_feed(&f, "", 1), 0);
	assert_int_equal(control_frame_next(&f, &m, &len), 1);
	assert_int_equal(len, 100);
	control_frame_done(&f);

	/* One byte over without a NUL: refused before the terminator ever comes. */
	control_frame_init(&f, 100);
	assert_int_equal(control_frame_feed(&f, big, 60), 0);
	assert_int_equal(control_frame_feed(&f, big, 41), -EMSGSIZE);
	control_frame_done(&f);

	/* An over-long message that arrives whole behind a good one. */
	control_frame_init(&f, 50);
	{
		char two[3 + 1 + 60 + 1];

		memcpy(two, "{}", 3);
		memset(two + 3, 'y', 60);
		two[63] = '\0';
		assert_int_equal(control_frame_feed(&f, two, 64), -EMSGSIZE);
	}
	control_frame_done(&f);
}

/* A message that trickles in costs a scan of each byte once, not of everything before it on
 * every read: 1 MiB in 1,024-byte reads searched ~1 MiB, where a rescan would search ~512 MiB.
 * Interleaved complete messages keep the count linear too. */
static void test_linear_scan(void **state)
{
	static char chunk[1024];
	struct control_frame f;
	const char *m;
	size_t len, total = 0;

	memset(chunk, 'x', sizeof(chunk));
	control_frame_init(&f, 2 * 1024 * 1024);
	for (int i = 0; i < 1024; i++) {
		assert_int_equal(control_frame_feed(&f, chunk, sizeof(chunk)), 0);
		total += sizeof(chunk);
		assert_int_equal(control_frame_next(&f, &m, &len), 0);
		assert_int_equal(control_frame_pending(&f), 0);
	}
	assert_int_equal(control_frame_feed(&f, "\0{}\0", 4), 0);
	total += 4;
	assert_true(f.bytes_scanned <= total);
	assert_int_equal(control_frame_pending(&f), 2);
	assert_int_equal(control_frame_next(&f, &m, &len), 1);
	assert_int_equal(len, 1024 * 1024);
	assert_int_equal(control_frame_next(&f, &m, &len), 1);
	assert_string_equal(m, "{}");
	/* many small messages, each read also carrying the start of the next one */
	assert_int_equal(control_frame_feed(&f, "{\"a\":", 5), 0);
	total += 5;
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(control_frame_feed(&f, "}\0{\"a\":", 7), 0);
		total += 7;
		assert_int_equal(control_frame_next(&f, &m, &len), 1);
		assert_string_equal(m, "{\"a\":}");
		assert_int_equal(control_frame_next(&f, &m, &len), 0);
	}
	assert_true(f.bytes_scanned <= total);
	control_frame_done(&f);
}

static void test_parse(void **state)
{
	static const struct {
		const char *in;
		int ret;
		bool oneway, more;
	} t[] = {
		{"{\"method\":\"io.siprecd.Health\"}", 0, false, false},
		{"{\"method\":\"io.siprecd.Health\",\"parameters\":{},\"oneway\":true}", 0, true,
		 false},
		{"{\"method\":\"io.siprecd.Subscribe\",\"more\":true}", 0, false, true},
		{"{\"method\":\"x.y\",\"parameters\":null}", 0, false, false},
		{"{\"method\":\"io.siprecd.Health\"", -EBADMSG, false, false},
		{"not json", -EBADMSG, false, false},
		{"", -EBADMSG, false, false},
		{"[1,2]", -EBADMSG, false, false},
		{"{\"parameters\":{}}", -EBADMSG, false, false},
		{"{\"method\":42}", -EBADMSG, false, false},
		{"{\"method\":\"a.b\",\"parameters\":[]}", -EBADMSG, false, false},
		{"{\"method\":\"a.b\",\"oneway\":\"yes\"}", -EBADMSG, false, false},
		{"{\"method\":\"a.b\"} trailing", -EBADMSG, false, false},
		{"{\"method\":\"a.b\"}{}", -EBADMSG, false, false},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct control_call c;
		int r = control_call_parse(t[i].in, strlen(t[i].in), &c);

		if (r != t[i].ret)
			fail_msg("case %zu (%s): got %d, expected %d", i, t[i].in, r, t[i].ret);
		if (r < 0)
			continue;
		assert_int_equal(c.oneway, t[i].oneway);
		assert_int_equal(c.more, t[i].more);
		assert_non_null(c.method);
		assert_true(json_object_is_type(c.parameters, json_type_object));
		json_object_put(c.obj);
	}
}

static void test_idl(void **state)
{
	static const char *const methods[] = {
		"Health",   "Version",	     "ListSessions",	       "GetSession", "StopSession",
		"ListKeys", "RotateDataKey", "RotateKeyEncryptionKey", "Reload",     "Subscribe",
	};
	char needle[64];

	assert_non_null(strstr(control_idl, "interface io.siprecd\n"));
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		snprintf(needle, sizeof(needle), "method %s(", methods[i]);
		if (!strstr(control_idl, needle))
			fail_msg("IDL lacks %s", needle);
	}
	assert_true(control_method_mutating("io.siprecd.StopSession"));
	assert_true(control_method_mutating("io.siprecd.Reload"));
	assert_false(control_method_mutating("io.siprecd.ListSessions"));
	assert_false(control_method_mutating("io.siprecd.Health"));
}

/* docs/siprecd.varlink is the IDL the daemon serves, byte for byte. */
static void test_idl_file(void **state)
{
	char path[4096], buf[65536];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/docs/siprecd.varlink",
		 getenv("SRCDIR") ? getenv("SRCDIR") : ".");
	f = fopen(path, "r");
	if (!f)
		fail_msg("cannot open %s", path);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	assert_string_equal(buf, control_idl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),	    cmocka_unit_test(test_coalesced),
		cmocka_unit_test(test_limit),	    cmocka_unit_test(test_parse),
		cmocka_unit_test(test_idl),	    cmocka_unit_test(test_idl_file),
		cmocka_unit_test(test_linear_scan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
