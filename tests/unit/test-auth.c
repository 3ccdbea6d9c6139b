// SPDX-License-Identifier: MIT
/*
 * SIP digest authentication: known answers from RFC 2617 §3.5 (MD5, qop=auth) and RFC 7616
 * §3.9.1 (SHA-256 and MD5, the algorithms RFC 8760 brings to SIP); the challenge format; the
 * verifier over whole SIP requests (right and wrong password, user, URI, realm, tampered and
 * expired nonces, qop and algorithm rules); the credential file parser.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "siprecd/auth.h"
#include "siprecd/sip.h"

static void test_known_answers(void **state)
{
	char out[65];

	/* RFC 2617 §3.5 */
	assert_int_equal(sip_auth_response(SIP_AUTH_MD5, "Mufasa", "testrealm@host.com",
					   "Circle Of Life", "GET", "/dir/index.html",
					   "dcd98b7102dd2f0e8b11d0f600bfb0c093", "00000001",
					   "0a4f113b", "auth", out),
			 0);
	assert_string_equal(out, "6629fae49393a05397450978507c4ef1");
	/* RFC 7616 §3.9.1 */
	assert_int_equal(
		sip_auth_response(SIP_AUTH_SHA256, "Mufasa", "http-auth@example.org",
				  "Circle of Life", "GET", "/dir/index.html",
				  "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "00000001",
				  "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", "auth", out),
		0);
	assert_string_equal(out,
			    "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
	assert_int_equal(
		sip_auth_response(SIP_AUTH_MD5, "Mufasa", "http-auth@example.org", "Circle of Life",
				  "GET", "/dir/index.html",
				  "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "00000001",
				  "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", "auth", out),
		0);
	assert_string_equal(out, "8ca523f5e9506fed4657c9700eebdbec");
}

static void test_algorithms(void **state)
{
	enum sip_auth_alg a[SIP_AUTH_MAX_ALGS];
	unsigned n = 0;

	assert_int_equal(sip_auth_parse_algorithms("SHA-256,MD5", a, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(a[0], SIP_AUTH_SHA256);
	assert_int_equal(a[1], SIP_AUTH_MD5);
	assert_int_equal(sip_auth_parse_algorithms(" md5 ", a, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(sip_auth_parse_algorithms("SHA-256, SHA-256", a, &n), -EINVAL);
	assert_int_equal(sip_auth_parse_algorithms("SHA-512-256", a, &n), -EINVAL);
	assert_int_equal(sip_auth_parse_algorithms("", a, &n), -EINVAL);
	assert_int_equal(sip_auth_parse_algorithms("MD5,", a, &n), -EINVAL);
}

static void test_credentials(void **state)
{
	static const struct {
		const char *in;
		int ret;
		const char *err;
	} t[] = {
		{"alice:secret\n", 0, NULL},
		{"# comment\n\nalice:pa:ss\r\nbob:x", 0, NULL},
		{"", -EINVAL, "no user"},
		{"alice\n", -EINVAL, "line 1: expected user:password"},
		{"alice:\n", -EINVAL, "line 1: empty password"},
		{"a:1\nalice:x\nalice:y\n", -EINVAL, "line 3: user 'alice' given twice"},
		{"\"q:x\n", -EINVAL, "line 1: bad user name"},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct sip_auth *a = NULL;
		char err[160];
		int r = sip_auth_new("siprecd", "SHA-256,MD5", 1000, 16, t[i].in, strlen(t[i].in),
				     &a, err, sizeof(err));

		if (r != t[i].ret)
			fail_msg("case %zu: %d (%s)", i, r, err);
		if (r < 0) {
			if (!strstr(err, t[i].err))
				fail_msg("case %zu: '%s' lacks '%s'", i, err, t[i].err);
			/* the password never appears in the message */
			assert_null(strstr(err, "secret"));
		}
		sip_auth_free(a);
	}
	{
		struct sip_auth *a = NULL;
		char err[160];

		assert_int_equal(
			sip_auth_new("r\"x", "MD5", 1000, 16, "a:b", 3, &a, err, sizeof(err)),
			-EINVAL);
		assert_int_equal(
			sip_auth_new("r", "SHA-1", 1000, 16, "a:b", 3, &a, err, sizeof(err)),
			-EINVAL);
	}
}

/* Pulls nonce="..." out of the first challenge line. */
static void nonce_of(const char *challenge, char *out, size_t n)
{
	const char *p = strstr(challenge, "nonce=\"");
	const char *e;

	assert_non_null(p);
	p += 7;
	e = strchr(p, '"');
	assert_non_null(e);
	assert_true((size_t)(e - p) < n);
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
}

static struct sip_msg msg;
static char msgbuf[2048];

static int check_with(struct sip_auth *a, uint64_t now, const char *authz)
{
	struct str user;
	int n = snprintf(msgbuf, sizeof(msgbuf),
			 "INVITE sip:srs@192.0.2.1 SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKa\r\n"
			 "From: <sip:src@x>;tag=1\r\nTo: <sip:srs@192.0.2.1>\r\nCall-ID: c\r\n"
			 "CSeq: 2 INVITE\r\n%sContent-Length: 0\r\n\r\n",
			 authz);

	assert_int_equal(sip_msg_parse(&msg, msgbuf, (size_t)n, NULL), 0);
	return sip_auth_check(a, &msg, now, &user);
}

static void authz_nc(char *buf, size_t n, const char *alg, const char *user, const char *password,
		     const char *realm, const char *uri, const char *nonce, const char *qop,
		     const char *nc)
{
	char resp[65];
	enum sip_auth_alg al = strcmp(alg, "SHA-256") == 0 ? SIP_AUTH_SHA256 : SIP_AUTH_MD5;

	assert_int_equal(sip_auth_response(al, user, realm, password, "INVITE", uri, nonce, nc,
					   "c0ffee", "auth", resp),
			 0);
	snprintf(buf, n,
		 "Authorization: Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", "
		 "uri=\"%s\", response=\"%s\", algorithm=%s, cnonce=\"c0ffee\", qop=%s, "
		 "nc=%s\r\n",
		 user, realm, nonce, uri, resp, alg, qop, nc);
}

static void authz(char *buf, size_t n, const char *alg, const char *user, const char *password,
		  const char *realm, const char *uri, const char *nonce, const char *qop)
{
	authz_nc(buf, n, alg, user, password, realm, uri, nonce, qop, "00000001");
}

static void test_verify(void **state)
{
	static const char creds[] = "src1:s3cret\nsrc2:other\n";
	const char *uri = "sip:srs@192.0.2.1";
	struct sip_auth *a = NULL;
	char err[160], ch[512], nonce[80], h[1024];
	int n;

	assert_int_equal(sip_auth_new("siprecd", "SHA-256,MD5", 5000, 16, creds, strlen(creds), &a,
				      err, sizeof(err)),
			 0);
	assert_int_equal(sip_auth_users(a), 2);
	n = sip_auth_challenge(a, 1000, false, ch, sizeof(ch));
	assert_true(n > 0);
	/* two challenges, SHA-256 first, same nonce, qop auth, no stale */
	assert_non_null(strstr(ch, "WWW-Authenticate: Digest realm=\"siprecd\", nonce=\""));
	assert_true(strstr(ch, "algorithm=SHA-256") < strstr(ch, "algorithm=MD5"));
	assert_non_null(strstr(ch, "qop=\"auth\""));
	assert_null(strstr(ch, "stale"));
	nonce_of(ch, nonce, sizeof(nonce));
	{
		char small[40];

		assert_int_equal(sip_auth_challenge(a, 1000, true, small, sizeof(small)), -ENOBUFS);
		assert_true(sip_auth_challenge(a, 1000, true, h, sizeof(h)) > 0);
		assert_non_null(strstr(h, ", stale=true\r\n"));
	}

	assert_int_equal(check_with(a, 1000, ""), -ENOENT);
	authz(h, sizeof(h), "SHA-256", "src1", "s3cret", "siprecd", uri, nonce, "auth");
	assert_int_equal(check_with(a, 2000, h), 0);
	authz_nc(h, sizeof(h), "MD5", "src2", "other", "siprecd", uri, nonce, "auth", "00000002");
	assert_int_equal(check_with(a, 2000, h), 0);
	/* wrong password, unknown user, wrong URI */
	authz(h, sizeof(h), "SHA-256", "src1", "guess", "siprecd", uri, nonce, "auth");
	assert_int_equal(check_with(a, 2000, h), -EACCES);
	authz(h, sizeof(h), "SHA-256", "mallory", "s3cret", "siprecd", uri, nonce, "auth");
	assert_int_equal(check_with(a, 2000, h), -EACCES);
	authz(h, sizeof(h), "SHA-256", "src1", "s3cret", "siprecd", "sip:other@192.0.2.1", nonce,
	      "auth");
	assert_int_equal(check_with(a, 2000, h), -EACCES);
	/* credentials for another realm are not ours */
	authz(h, sizeof(h), "SHA-256", "src1", "s3cret", "elsewhere", uri, nonce, "auth");
	assert_int_equal(check_with(a, 2000, h), -ENOENT);
	/* a nonce we did not sign (one hex digit changed) */
	{
		char forged[80];

		strcpy(forged, nonce);
		forged[3] = forged[3] == '0' ? '1' : '0';
		authz(h, sizeof(h), "SHA-256", "src1", "s3cret", "siprecd", uri, forged, "auth");
		assert_int_equal(check_with(a, 2000, h), -EACCES);
	}
	/* expired: right answer to an old nonce is stale; wrong answer stays a refusal */
	authz(h, sizeof(h), "SHA-256", "src1", "s3cret", "siprecd", uri, nonce, "auth");
	assert_int_equal(check_with(a, 1000 + 5001, h), -ESTALE);
	authz(h, sizeof(h), "SHA-256", "src1", "nope", "siprecd", uri, nonce, "auth");
	assert_int_equal(check_with(a, 1000 + 5001, h), -EACCES);
	/* qop other than auth, or missing */
	authz(h, sizeof(h), "SHA-256", "src1", "s3cret", "siprecd", uri, nonce, "auth-int");
	assert_int_equal(check_with(a, 2000, h), -EBADMSG);
	assert_int_equal(check_with(a, 2000,
				    "Authorization: Digest username=\"src1\", realm=\"siprecd\", "
				    "nonce=\"x\", uri=\"sip:srs@192.0.2.1\", response=\"00\"\r\n"),
			 -EBADMSG);
	/* malformed parameters */
	assert_int_equal(check_with(a, 2000, "Authorization: Digest username\r\n"), -EBADMSG);
	assert_int_equal(check_with(a, 2000, "Authorization: Digest realm=\"siprecd\r\n"),
			 -EBADMSG);
	sip_auth_free(a);

	/* an algorithm we do not offer is refused even with the right answer */
	assert_int_equal(sip_auth_new("siprecd", "SHA-256", 5000, 16, creds, strlen(creds), &a, err,
				      sizeof(err)),
			 0);
	assert_true(sip_auth_challenge(a, 1000, false, ch, sizeof(ch)) > 0);
	assert_null(strstr(ch, "MD5"));
	nonce_of(ch, nonce, sizeof(nonce));
	authz(h, sizeof(h), "MD5", "src1", "s3cret", "siprecd", uri, nonce, "auth");
	assert_int_equal(check_with(a, 2000, h), -EBADMSG);
	/* a nonce of another verifier (another boot) is not ours */
	{
		struct sip_auth *b = NULL;

		assert_int_equal(sip_auth_new("siprecd", "SHA-256", 5000, 16, creds, strlen(creds),
					      &b, err, sizeof(err)),
				 0);
		authz(h, sizeof(h), "SHA-256", "src1", "s3cret", "siprecd", uri, nonce, "auth");
		assert_int_equal(check_with(a, 2000, h), 0);
		assert_int_equal(check_with(b, 2000, h), -EACCES);
		sip_auth_free(b);
	}
	sip_auth_free(a);
}

/*
 * RFC 7616 §3.4.5: a correct Authorization replayed (same nonce, same or lower nc) is refused,
 * a higher nc on the same nonce is accepted; wrong answers take no place in the table.
 */
static void test_replay(void **state)
{
	static const char creds[] = "src1:s3cret\n";
	const char *uri = "sip:srs@192.0.2.1";
	struct sip_auth *a = NULL;
	char err[160], ch[512], nonce[80], h[1024];

	assert_int_equal(sip_auth_new("siprecd", "SHA-256", 60000, 16, creds, strlen(creds), &a,
				      err, sizeof(err)),
			 0);
	assert_true(sip_auth_challenge(a, 1000, false, ch, sizeof(ch)) > 0);
	nonce_of(ch, nonce, sizeof(nonce));
	/* wrong answers and a zero or non-hex nc are not remembered */
	authz(h, sizeof(h), "SHA-256", "src1", "guess", "siprecd", uri, nonce, "auth");
	assert_int_equal(check_with(a, 2000, h), -EACCES);
	authz_nc(h, sizeof(h), "SHA-256", "src1", "s3cret", "siprecd", uri, nonce, "auth",
		 "00000000");
	assert_int_equal(check_with(a, 2000, h), -EBADMSG);
	authz_nc(h, sizeof(h), "SHA-256", "src1", "s3cret", "siprecd", uri, nonce, "auth",
		 "0000000g");
	assert_int_equal(check_with(a, 2000, h), -EBADMSG);
	assert_int_equal(sip_auth_nonces(a), 0);

	authz_nc(h, sizeof(h), "SHA-256", "src1", "s3cret", "siprecd", uri, nonce, "auth",
		 "00000002");
	assert_int_equal(check_with(a, 2000, h), 0);
	assert_int_equal(sip_auth_nonces(a), 1);
	/* the same request again, and a lower count: replays */
	assert_int_equal(check_with(a, 2100, h), -EALREADY);
	authz(h, sizeof(h), "SHA-256", "src1", "s3cret", "siprecd", uri, nonce, "auth");
	assert_int_equal(check_with(a, 2100, h), -EALREADY);
	/* the client's next request with the same nonce counts up */
	authz_nc(h, sizeof(h), "SHA-256", "src1", "s3cret", "siprecd", uri, nonce, "auth",
		 "00000003");
	assert_int_equal(check_with(a, 2200, h), 0);
	assert_int_equal(check_with(a, 2200, h), -EALREADY);
	authz_nc(h, sizeof(h), "SHA-256", "src1", "s3cret", "siprecd", uri, nonce, "auth",
		 "ffffffff");
	assert_int_equal(check_with(a, 2300, h), 0);
	assert_int_equal(check_with(a, 2300, h), -EALREADY);
	/* still a replay once the nonce expired: stale, which asks for a fresh nonce */
	assert_int_equal(check_with(a, 1000 + 60001, h), -ESTALE);
	assert_int_equal(sip_auth_nonces(a), 1);
	sip_auth_free(a);
}

/*
 * The table holds max_nonces entries whatever is answered; a nonce it had to forget, and any
 * nonce issued no later than that one, is stale (never accepted as new, which would let its
 * replay through); nonces issued afterwards still work, and remembered ones stay replay-proof.
 */
static void test_nonce_table_bound(void **state)
{
	static const char creds[] = "src1:s3cret\n";
	const char *uri = "sip:srs@192.0.2.1";
	struct sip_auth *a = NULL;
	char err[160], ch[512], nonces[6][80], h[1024];

	assert_int_equal(sip_auth_new("siprecd", "SHA-256", 60000, 4, creds, strlen(creds), &a, err,
				      sizeof(err)),
			 0);
	for (unsigned i = 0; i < 6; i++) {
		assert_true(sip_auth_challenge(a, 1000 + i, false, ch, sizeof(ch)) > 0);
		nonce_of(ch, nonces[i], sizeof(nonces[i]));
	}
	/* nonces 1..5 answered, in this order: 1 is forgotten to make room for 5 */
	for (unsigned i = 1; i < 6; i++) {
		authz(h, sizeof(h), "SHA-256", "src1", "s3cret", "siprecd", uri, nonces[i], "auth");
		assert_int_equal(check_with(a, 2000, h), 0);
		assert_int_equal(sip_auth_nonces(a), i < 4 ? i : 4);
	}
	authz(h, sizeof(h), "SHA-256", "src1", "s3cret", "siprecd", uri, nonces[1], "auth");
	assert_int_equal(check_with(a, 2000, h), -ESTALE);
	/* nonce 0 was never used, but is older than a forgotten one: stale too */
	authz(h, sizeof(h), "SHA-256", "src1", "s3cret", "siprecd", uri, nonces[0], "auth");
	assert_int_equal(check_with(a, 2000, h), -ESTALE);
	for (unsigned i = 2; i < 6; i++) {
		authz(h, sizeof(h), "SHA-256", "src1", "s3cret", "siprecd", uri, nonces[i], "auth");
		assert_int_equal(check_with(a, 2000, h), -EALREADY);
	}
	/* a thousand fresh nonces later the table is still four entries */
	for (unsigned i = 0; i < 1000; i++) {
		char n[80];

		assert_true(sip_auth_challenge(a, 3000 + i, false, ch, sizeof(ch)) > 0);
		nonce_of(ch, n, sizeof(n));
		authz(h, sizeof(h), "SHA-256", "src1", "s3cret", "siprecd", uri, n, "auth");
		assert_int_equal(check_with(a, 5000, h), 0);
		assert_int_equal(check_with(a, 5000, h), -EALREADY);
	}
	assert_int_equal(sip_auth_nonces(a), 4);
	assert_int_equal(sip_auth_new("siprecd", "SHA-256", 60000, 0, creds, strlen(creds), &a, err,
				      sizeof(err)),
			 -EINVAL);
	sip_auth_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_answers), cmocka_unit_test(test_algorithms),
		cmocka_unit_test(test_credentials),   cmocka_unit_test(test_verify),
		cmocka_unit_test(test_replay),	      cmocka_unit_test(test_nonce_table_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
