// SPDX-License-Identifier: MIT
/*
 * Object storage (docs/STORAGE.md), the pure pieces: which bucket names, prefixes and endpoints
 * are accepted, the object key layout (prefix/date/session/name, the date in UTC), the two
 * credentials file forms (and that a bad one is refused without echoing the secret), s3://
 * URIs, and the backoff schedule. The client itself is exercised against a real S3 API in
 * tests/integration/s3.sh.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "siprecd/s3.h"

static void test_bucket(void **state)
{
	static const struct {
		const char *in;
		int r;
	} t[] = {
		{"recordings", 0},
		{"my.bucket-01", 0},
		{"abc", 0},
		{"ab", -EINVAL},
		{"Recordings", -EINVAL}, /* S3 bucket names are lower case */
		{"-recordings", -EINVAL},
		{"recordings-", -EINVAL},
		{"rec_ordings", -EINVAL},
		{"rec/ordings", -EINVAL},
		{"", -EINVAL},
		{"a23456789012345678901234567890123456789012345678901234567890123", 0},
		{"a234567890123456789012345678901234567890123456789012345678901234", -EINVAL},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (s3_check_bucket(t[i].in) != t[i].r)
			fail_msg("bucket '%s': want %d", t[i].in, t[i].r);
	assert_int_equal(s3_check_bucket(NULL), -EINVAL);
}

static void test_prefix(void **state)
{
	static const struct {
		const char *in;
		int r;
	} t[] = {
		{"", 0},
		{"siprecd", 0},
		{"site-a/rec_1/x.y", 0},
		{"/siprecd", -EINVAL},
		{"siprecd/", -EINVAL},
		{"a//b", -EINVAL},
		{"a/./b", -EINVAL},
		{"a/../b", -EINVAL},
		{"..", -EINVAL},
		{"a b", -EINVAL},
		{"a%2fb", -EINVAL},
		{"caf\xc3\xa9", -EINVAL},
	};
	char long_prefix[S3_PREFIX_MAX + 2];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (s3_check_prefix(t[i].in) != t[i].r)
			fail_msg("prefix '%s': want %d", t[i].in, t[i].r);
	memset(long_prefix, 'a', sizeof(long_prefix) - 1);
	long_prefix[S3_PREFIX_MAX] = '\0';
	assert_int_equal(s3_check_prefix(long_prefix), 0);
	long_prefix[S3_PREFIX_MAX] = 'a';
	long_prefix[S3_PREFIX_MAX + 1] = '\0';
	assert_int_equal(s3_check_prefix(long_prefix), -EINVAL);
}

static void test_endpoint(void **state)
{
	static const struct {
		const char *in;
		int r;
	} t[] = {
		{"https://s3.eu-west-1.amazonaws.com", 0},
		{"http://127.0.0.1:9000", 0},
		{"http://[::1]:9000", 0},
		{"ftp://host", -EINVAL},
		{"https://", -EINVAL},
		{"https://:443", -EINVAL},
		{"https://host/path", -EINVAL},
		{"https://user:pw@host", -EINVAL},
		{"https://host?x=1", -EINVAL},
		{"host:9000", -EINVAL},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (s3_check_endpoint(t[i].in) != t[i].r)
			fail_msg("endpoint '%s': want %d", t[i].in, t[i].r);
}

static void test_object_key(void **state)
{
	char out[S3_KEY_MAX + 1];

	/* 1796359241873 ms is 2026-12-04 04:40:41 UTC */
	assert_int_equal(s3_object_key("site-a/rec", 1796359241873ULL, "sess-1", "rec-1.siprec",
				       out, sizeof(out)),
			 (int)strlen("site-a/rec/2026-12-04/sess-1/rec-1.siprec"));
	assert_string_equal(out, "site-a/rec/2026-12-04/sess-1/rec-1.siprec");
	/* no prefix: no leading '/' */
	assert_true(s3_object_key("", 1796359241873ULL, "s", "m.json", out, sizeof(out)) > 0);
	assert_string_equal(out, "2026-12-04/s/m.json");
	/* the day boundary is UTC's: 951782399999 ms is 2000-02-28 23:59:59.999 */
	assert_true(s3_object_key(NULL, 951782399999ULL, "s", "n", out, sizeof(out)) > 0);
	assert_string_equal(out, "2000-02-28/s/n");
	assert_true(s3_object_key(NULL, 951782400000ULL, "s", "n", out, sizeof(out)) > 0);
	assert_string_equal(out, "2000-02-29/s/n");
	/* a session or name that would add or climb a level is refused */
	assert_int_equal(s3_object_key("p", 0, "a/b", "n", out, sizeof(out)), -EINVAL);
	assert_int_equal(s3_object_key("p", 0, "..", "n", out, sizeof(out)), -EINVAL);
	assert_int_equal(s3_object_key("p", 0, "s", "", out, sizeof(out)), -EINVAL);
	assert_int_equal(s3_object_key("/p", 0, "s", "n", out, sizeof(out)), -EINVAL);
	/* too small a buffer */
	assert_int_equal(s3_object_key("p", 0, "s", "n", out, 8), -ENAMETOOLONG);
}

static void test_credentials(void **state)
{
	static const struct {
		const char *in, *id, *secret;
	} good[] = {
		{"AKIDEXAMPLE:wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\n", "AKIDEXAMPLE",
		 "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"},
		{"  AKID : sec:ret \r\n", "AKID", "sec:ret"},
		{"[default]\naws_access_key_id = AKID\n# comment\naws_secret_access_key=SECRET\n"
		 "region = eu-west-1\n",
		 "AKID", "SECRET"},
	};
	static const char *const bad[] = {
		"",
		"just-one-field-TOPSECRET\n",
		"aws_access_key_id = AKID\n",
		"aws_secret_access_key = TOPSECRET\n",
		":TOPSECRET\n",
		"AKID:\n",
		"AKID:TOP\x01SECRET\n",
	};
	char id[S3_CRED_FIELD_MAX], secret[S3_CRED_FIELD_MAX], err[256];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		err[0] = '\0';
		if (s3_parse_credentials(good[i].in, strlen(good[i].in), id, secret, err,
					 sizeof(err)) != 0)
			fail_msg("credentials %zu refused: %s", i, err);
		assert_string_equal(id, good[i].id);
		assert_string_equal(secret, good[i].secret);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (s3_parse_credentials(bad[i], strlen(bad[i]), id, secret, err, sizeof(err)) !=
		    -EINVAL)
			fail_msg("credentials %zu accepted", i);
		assert_true(err[0] != '\0');
		assert_null(strstr(err, "TOP")); /* the reason never quotes the secret */
	}
	/* a NUL inside the file */
	assert_int_equal(s3_parse_credentials("A:B\0C", 5, id, secret, err, sizeof(err)), -EINVAL);
	/* temporary credentials: the session token of an AWS shared-credentials file */
	{
		static const char tmp[] = "[default]\naws_access_key_id = ASIA\n"
					  "aws_secret_access_key = SECRET\n"
					  "aws_session_token = FwoGZXIvYXdzE//token+/=\n";
		char token[S3_TOKEN_MAX];

		assert_int_equal(s3_parse_credentials_token(tmp, strlen(tmp), id, secret, token,
							    err, sizeof(err)),
				 0);
		assert_string_equal(id, "ASIA");
		assert_string_equal(token, "FwoGZXIvYXdzE//token+/=");
		assert_int_equal(s3_parse_credentials_token("AKID:SECRET", 11, id, secret, token,
							    err, sizeof(err)),
				 0);
		assert_string_equal(token, "");
		assert_int_equal(s3_parse_credentials_token("aws_access_key_id = A\n"
							    "aws_secret_access_key = S\n"
							    "aws_session_token = a\x01b\n",
							    64, id, secret, token, err,
							    sizeof(err)),
				 -EINVAL);
	}
}

static void test_url(void **state)
{
	char out[128];

	assert_int_equal(s3_object_url("https://s3.eu-west-1.amazonaws.com", "rec", false,
				       "a/b.siprec", out, sizeof(out)),
			 (int)strlen("https://s3.eu-west-1.amazonaws.com/rec/a/b.siprec"));
	assert_string_equal(out, "https://s3.eu-west-1.amazonaws.com/rec/a/b.siprec");
	assert_true(s3_object_url("https://s3.eu-west-1.amazonaws.com", "rec", true, "a/b.siprec",
				  out, sizeof(out)) > 0);
	assert_string_equal(out, "https://rec.s3.eu-west-1.amazonaws.com/a/b.siprec");
	assert_true(s3_object_url("http://s3.localhost:9000", "rec", true, "k", out, sizeof(out)) >
		    0);
	assert_string_equal(out, "http://rec.s3.localhost:9000/k");
	assert_int_equal(s3_object_url("http://h", "rec", true, "k", out, 8), -ENAMETOOLONG);
}

static void test_uri(void **state)
{
	char bucket[S3_BUCKET_MAX + 1];
	const char *key = NULL;

	assert_int_equal(
		s3_parse_uri("s3://recordings/siprecd/2026-12-04/s/r.siprec", bucket, &key), 0);
	assert_string_equal(bucket, "recordings");
	assert_string_equal(key, "siprecd/2026-12-04/s/r.siprec");
	assert_int_equal(s3_parse_uri("s3://recordings", bucket, &key), -EINVAL);
	assert_int_equal(s3_parse_uri("s3://recordings/", bucket, &key), -EINVAL);
	assert_int_equal(s3_parse_uri("s3://Recordings/k", bucket, &key), -EINVAL);
	assert_int_equal(s3_parse_uri("s3://recordings/../k", bucket, &key), -EINVAL);
	assert_int_equal(s3_parse_uri("s3://recordings/a?b", bucket, &key), -EINVAL);
	assert_int_equal(s3_parse_uri("https://recordings/k", bucket, &key), -EINVAL);
}

/* A key that would change the URL (dot segments, query, fragment, blanks, CR LF) is refused
 * before any request: the endpoint is a loopback port bound and never listened on, so a request
 * that went out would fail with -EIO instead. */
static void test_bad_keys(void **state)
{
	static const char *const bad[] = {
		"a/../other-bucket/x", "../x", "a/./b", "a?x-id=1", "a#b", "a b",
		"a\r\nX-Evil: 1",      "",     "a//b",	"/a",
	};
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	char dir[] = "/tmp/test-s3-XXXXXX", cred[64], endpoint[64], err[256],
	     sha[S3_SHA256_HEX + 1];
	struct s3_client *c = NULL;
	uint64_t size = 0;
	int s, fd;

	assert_non_null(mkdtemp(dir));
	snprintf(cred, sizeof(cred), "%s/cred", dir);
	fd = open(cred, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "AKID:SECRET\n", 12), 12);
	close(fd);
	s = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &sl), 0);
	snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%u", ntohs(sa.sin_port));
	assert_int_equal(s3_client_new(&(struct s3_target){.endpoint = endpoint,
							   .bucket = "bucket",
							   .region = "us-east-1",
							   .credentials = cred,
							   .timeout_ms = 5000},
				       err, sizeof(err), &c),
			 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (s3_get(c, bad[i], -1, 100, &size, sha, err, sizeof(err)) != -EINVAL)
			fail_msg("GET of key %zu not refused: %s", i, err);
		if (s3_delete(c, bad[i], err, sizeof(err)) != -EINVAL)
			fail_msg("DELETE of key %zu not refused: %s", i, err);
	}
	/* a key this client makes goes out (and fails here: nobody listens) */
	assert_int_equal(
		s3_get(c, "p/2026-12-04/s/a.siprec", -1, 100, &size, sha, err, sizeof(err)), -EIO);
	s3_client_free(c);
	close(s);
	unlink(cred);
	rmdir(dir);
}

static void test_backoff(void **state)
{
	/* S3_RETRY_MIN 1s doubled per failure, capped at S3_RETRY_MAX 1h */
	static const uint64_t want[] = {1000, 1000, 2000, 4000, 8000, 16000};

	for (unsigned n = 0; n < sizeof(want) / sizeof(want[0]); n++)
		assert_int_equal(s3_backoff_ms(n, 1000, 3600000), want[n]);
	assert_int_equal(s3_backoff_ms(13, 1000, 3600000), 3600000);
	assert_int_equal(s3_backoff_ms(1000, 1000, 3600000), 3600000);
	assert_int_equal(s3_backoff_ms(5, 500, 300), 300);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket),	    cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_endpoint),    cmocka_unit_test(test_object_key),
		cmocka_unit_test(test_credentials), cmocka_unit_test(test_uri),
		cmocka_unit_test(test_url),	    cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_bad_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
