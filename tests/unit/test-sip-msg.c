// SPDX-License-Identifier: MIT
/*
 * Unit tests of the SIP message layer: parse tables (valid messages with the fields they must
 * yield, invalid ones with the reason and status), lazy accessors, validation verdicts, the
 * response/request builders compared byte for byte, and TCP stream framing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "siprecd/sip.h"

#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define CRLF "\r\n"

static struct sip_msg msg;

static int parse_lit(const char *s)
{
	return sip_msg_parse(&msg, s, strlen(s), NULL);
}

static void assert_str(struct str s, const char *expect)
{
	if (!str_eq_cstr(s, expect))
		fail_msg("got \"%.*s\", expected \"%s\"", STR_FMT(s), expect);
}

static const char invite[] =
	"INVITE sip:srs@example.com SIP/2.0" CRLF
	"Via: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKabc;rport" CRLF
	"v: SIP/2.0/TCP proxy.example.com, SIP/2.0/UDP 10.0.0.1" CRLF "Max-Forwards: 70" CRLF
	"f: \"Alice\" <sip:alice@example.com>;tag=a1" CRLF "t: <sip:srs@example.com>" CRLF
	"i: call-1@192.0.2.1" CRLF "CSeq: 1 INVITE" CRLF
	"m: <sip:src@192.0.2.1:5070>;expires=60" CRLF
	"Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>" CRLF "Require: siprec" CRLF
	"k: timer, replaces" CRLF "Supported: 100rel" CRLF
	"c: multipart/mixed;boundary=\"UniqueBoundary\"" CRLF "Expires: 120" CRLF "l: 4" CRLF CRLF
	"body";

static void test_parse_invite(void **state)
{
	const struct sip_via *via;
	const struct sip_name_addr *na;
	const struct sip_cseq *cseq;
	const struct sip_content_type *ct;
	struct str v, toks[8];
	struct sip_hdr_iter it = {0};
	uint32_t u;

	assert_int_equal(parse_lit(invite), 0);
	assert_true(msg.is_request);
	assert_int_equal(msg.method, SIP_METHOD_INVITE);
	assert_str(msg.ruri, "sip:srs@example.com");
	assert_true(msg.version_ok);
	assert_str(msg.body, "body");
	assert_int_equal(msg.content_length, 4);

	assert_int_equal(sip_msg_via(&msg, &via), 0);
	assert_str(via->transport, "UDP");
	assert_str(via->host, "192.0.2.1");
	assert_int_equal(via->port, 5070);
	assert_str(via->branch, "z9hG4bKabc");
	assert_true(via->magic_cookie);
	assert_true(via->rport);
	assert_int_equal(via->rport_value, 0);
	/* three via-parms over two header fields */
	assert_true(sip_msg_next_value(&msg, SIP_HDR_VIA, &it, &v));
	assert_true(sip_msg_next_value(&msg, SIP_HDR_VIA, &it, &v));
	assert_str(v, "SIP/2.0/TCP proxy.example.com");
	assert_true(sip_msg_next_value(&msg, SIP_HDR_VIA, &it, &v));
	assert_str(v, "SIP/2.0/UDP 10.0.0.1");
	assert_false(sip_msg_next_value(&msg, SIP_HDR_VIA, &it, &v));

	assert_int_equal(sip_msg_from(&msg, &na), 0);
	assert_str(na->display, "\"Alice\"");
	assert_str(na->uri, "sip:alice@example.com");
	assert_str(na->tag, "a1");
	assert_int_equal(sip_msg_to(&msg, &na), 0);
	assert_int_equal(na->tag.len, 0);
	assert_int_equal(sip_msg_contact(&msg, &na), 0);
	assert_str(na->uri, "sip:src@192.0.2.1:5070");
	assert_int_equal(sip_param_get(na->params, "expires", &v), 0);
	assert_str(v, "60");
	assert_int_equal(sip_msg_call_id(&msg, &v), 0);
	assert_str(v, "call-1@192.0.2.1");
	assert_int_equal(sip_msg_cseq(&msg, &cseq), 0);
	assert_int_equal(cseq->seq, 1);
	assert_int_equal(cseq->method, SIP_METHOD_INVITE);
	assert_int_equal(sip_msg_max_forwards(&msg, &u), 0);
	assert_int_equal(u, 70);
	assert_int_equal(sip_msg_expires(&msg, &u), 0);
	assert_int_equal(u, 120);
	assert_int_equal(sip_msg_content_type(&msg, &ct), 0);
	assert_str(ct->type, "multipart");
	assert_str(ct->subtype, "mixed");
	assert_str(ct->boundary, "UniqueBoundary");

	assert_int_equal(sip_msg_tokens(&msg, SIP_HDR_SUPPORTED, toks, 8), 3);
	assert_str(toks[0], "timer");
	assert_str(toks[1], "replaces");
	assert_str(toks[2], "100rel");
	assert_true(sip_msg_has_token(&msg, SIP_HDR_REQUIRE, "SIPREC"));
	assert_false(sip_msg_has_token(&msg, SIP_HDR_REQUIRE, "timer"));
	it = (struct sip_hdr_iter){0};
	assert_true(sip_msg_next_value(&msg, SIP_HDR_RECORD_ROUTE, &it, &v));
	assert_str(v, "<sip:p1.example.com;lr>");
	assert_int_equal(sip_msg_header(&msg, SIP_HDR_EVENT), NULL);
	assert_int_equal(sip_msg_via(&msg, &via), 0); /* cached */
}

static void test_parse_table(void **state)
{
	static const struct {
		const char *in;
		int ret;
		unsigned status;
		const char *error;
		size_t body_len;
	} t[] = {
		/* response, empty reason, no CL on a datagram: body is the rest */
		{"SIP/2.0 180 " CRLF "Via: SIP/2.0/UDP h;branch=z9hG4bK1" CRLF CRLF "xy", 0, 0,
		 NULL, 2},
		{"SIP/2.0 200" CRLF "l: 0" CRLF CRLF, 0, 0, NULL, 0},
		/* extra datagram bytes after Content-Length are ignored */
		{"OPTIONS sip:a@b SIP/2.0" CRLF "Content-Length: 1" CRLF CRLF "abc", 0, 0, NULL, 1},
		/* leading CRLFs before the start line are skipped (RFC 3261 §7.5) */
		{CRLF CRLF "OPTIONS sip:a@b SIP/2.0" CRLF "l:0" CRLF CRLF, 0, 0, NULL, 0},
		{"OPTIONS sip:a@b SIP/2.0" CRLF "Content-Length: 5" CRLF CRLF "abc", -EBADMSG, 400,
		 "Content-Length larger than message", 0},
		{"OPTIONS sip:a@b SIP/2.0" CRLF "Content-Length: -1" CRLF CRLF, -EBADMSG, 400,
		 "Malformed Content-Length", 0},
		{"OPTIONS sip:a@b SIP/2.0" CRLF "l: 0" CRLF "Content-Length: 0" CRLF CRLF, -EBADMSG,
		 400, "Multiple Content-Length headers", 0},
		{"OPTIONS sip:a@b SIP/2.0" CRLF "l: 0" CRLF, -EBADMSG, 400,
		 "Header section not terminated", 0},
		{"OPTIONS sip:a@b SIP/2.0" CRLF "l: 0\rX: 1" CRLF CRLF, -EBADMSG, 400,
		 "Bare CR in header", 0},
		{"OPTIONS sip:a@b SIP/2.0\r", -EBADMSG, 400, "Malformed Start-Line", 0},
		{"OPTIONS sip:a@b SIP/2.0\rX: 1\n\n", -EBADMSG, 400, "Malformed Start-Line", 0},
		/* LF-only line endings, and a mix with CRLF, are accepted (see test_lf_only) */
		{"OPTIONS sip:a@b SIP/2.0\nl: 0\n\n", 0, 0, NULL, 0},
		{"OPTIONS sip:a@b SIP/2.0\nl: 0" CRLF "\n", 0, 0, NULL, 0},
		{"OPTIONS sip:a@b SIP/2.0" CRLF "l: 2\n" CRLF "ab", 0, 0, NULL, 2},
		{"\n\nOPTIONS sip:a@b SIP/2.0\nl: 0\n\n", 0, 0, NULL, 0},
		{"OPTIONS sip:a@b SIP/2.0\nl: 0\n", -EBADMSG, 400, "Header section not terminated",
		 0},
		{"OPTIONS sip:a@b SIP/2.0\n folded\n\n", -EBADMSG, 400,
		 "Folded line without a header", 0},
		{"OPTIONS sip:a@b SIP/2.0" CRLF "NoColon" CRLF CRLF, -EBADMSG, 400,
		 "Malformed Header Line", 0},
		{"OPTIONS sip:a@b SIP/2.0" CRLF " folded" CRLF CRLF, -EBADMSG, 400,
		 "Folded line without a header", 0},
		{"OPTIONS sip:a@b SIP/2.0", -EBADMSG, 400, "Malformed Start-Line", 0},
		{"OPTIONS  sip:a@b SIP/2.0" CRLF CRLF, -EBADMSG, 400, "Malformed Request-URI", 0},
		{"OPTIONS sip:a@b" CRLF CRLF, -EBADMSG, 400, "Malformed Request-Line", 0},
		{"OPTIONS sip:a@b SIP/2" CRLF CRLF, -EBADMSG, 400, "Malformed SIP-Version", 0},
		{"OPT@ONS sip:a@b SIP/2.0" CRLF CRLF, -EBADMSG, 400, "Malformed Method", 0},
		{"SIP/2.0 99 Low" CRLF CRLF, -EBADMSG, 400, "Malformed Status-Code", 0},
		{"SIP/2.0 700 High" CRLF CRLF, -EBADMSG, 400, "Malformed Status-Code", 0},
		{"SIP/3.0 200 OK" CRLF CRLF, -EBADMSG, 400, "Malformed Status-Line", 0},
		{"SIP/2.0 200 OK\x01" CRLF CRLF, -EBADMSG, 400, "Malformed Reason-Phrase", 0},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int r = parse_lit(t[i].in);

		if (r != t[i].ret)
			fail_msg("case %zu: ret %d, expected %d (%s)", i, r, t[i].ret,
				 sip_msg_error(&msg));
		assert_int_equal(sip_msg_error_status(&msg), t[i].status);
		if (t[i].error)
			assert_string_equal(sip_msg_error(&msg), t[i].error);
		else
			assert_int_equal(msg.body.len, t[i].body_len);
	}
}

static void test_limits(void **state)
{
	struct sip_limits lim = {.max_msg_size = 100, .max_headers = 2, .max_line_len = 30};
	const char *ok = "OPTIONS sip:a@b SIP/2.0" CRLF "A: 1" CRLF "B: 2" CRLF CRLF;
	const char *many = "OPTIONS sip:a@b SIP/2.0" CRLF "A: 1" CRLF "B: 2" CRLF "C: 3" CRLF CRLF;
	const char *longl =
		"OPTIONS sip:a@b SIP/2.0" CRLF "A: 0123456789012345678901234567" CRLF CRLF;
	char big[101];

	assert_int_equal(sip_msg_parse(&msg, ok, strlen(ok), &lim), 0);
	assert_int_equal(sip_msg_parse(&msg, many, strlen(many), &lim), -EMSGSIZE);
	assert_string_equal(sip_msg_error(&msg), "Too Many Headers");
	assert_int_equal(sip_msg_parse(&msg, longl, strlen(longl), &lim), -EMSGSIZE);
	assert_int_equal(sip_msg_error_status(&msg), 513);
	memset(big, 'a', sizeof(big));
	assert_int_equal(sip_msg_parse(&msg, big, sizeof(big), &lim), -EMSGSIZE);
	assert_int_equal(sip_msg_error_status(&msg), 513);
	/* stream transports require Content-Length */
	assert_int_equal(sip_msg_parse_flags(&msg, ok, strlen(ok), &lim, SIP_PARSE_STREAM),
			 -EBADMSG);
	assert_string_equal(sip_msg_error(&msg), "Missing Content-Length");
	assert_true(msg.headers_ok);
}

static void test_via_table(void **state)
{
	static const struct {
		const char *in;
		int ret;
		const char *host, *transport, *branch, *received;
		unsigned port, rport;
		bool has_rport;
	} t[] = {
		{"SIP/2.0/UDP 192.0.2.1", 0, "192.0.2.1", "UDP", "", "", 0, 0, false},
		{"SIP / 2.0 / tls  host.example.com : 5061 ; branch = z9hG4bKx ; rport = 7", 0,
		 "host.example.com", "tls", "z9hG4bKx", "", 5061, 7, true},
		{"SIP/2.0/TCP [2001:db8::1]:5060;received=[2001:db8::2];rport", 0, "2001:db8::1",
		 "TCP", "", "[2001:db8::2]", 5060, 0, true},
		{"SIP/2.0/UDP h;branch=\"q\"", 0, "h", "UDP", "\"q\"", "", 0, 0, false},
		{"SIP/2.0/UDP 192.0.2.15;;", -EBADMSG},
		{"SIP/2.0/UDP h;branch", -EBADMSG},
		{"SIP/2.0/UDP h:0", -EBADMSG},
		{"SIP/2.0/UDP h:65536", -EBADMSG},
		{"SIP/2.0/UDP h;rport=x", -EBADMSG},
		{"SIP/1.0/UDP h", 0, "h", "UDP", "", "", 0, 0, false},
		{"TCP/2.0/UDP h", -EBADMSG},
		{"SIP/2.0/UDPh", -EBADMSG},
		{"SIP/2.0/UDP h junk", -EBADMSG},
		{"SIP/2.0/UDP [::1", -EBADMSG},
		{"", -EBADMSG},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct sip_via v;
		int r = sip_via_parse(str_from_cstr(t[i].in), &v);

		if (r != t[i].ret)
			fail_msg("case %zu (%s): %d", i, t[i].in, r);
		if (r < 0)
			continue;
		assert_str(v.host, t[i].host);
		assert_str(v.transport, t[i].transport);
		assert_str(v.branch, t[i].branch);
		assert_str(v.received, t[i].received);
		assert_int_equal(v.port, t[i].port);
		assert_int_equal(v.rport, t[i].has_rport);
		assert_int_equal(v.rport_value, t[i].rport);
	}
}

static void test_name_addr_table(void **state)
{
	static const struct {
		const char *in;
		int ret;
		const char *display, *uri, *tag;
	} t[] = {
		{"sip:a@b", 0, "", "sip:a@b", ""},
		{"sip:a@b;tag=x;other", 0, "", "sip:a@b", "x"},
		{"<sip:a@b;lr>;tag=1", 0, "", "sip:a@b;lr", "1"},
		{"\"A \\\"q\\\" B\" <sip:a@b>", 0, "\"A \\\"q\\\" B\"", "sip:a@b", ""},
		{"Bob Smith<sip:b@c> ; tag = 99", 0, "Bob Smith", "sip:b@c", "99"},
		{"isbn:2983792873", 0, "", "isbn:2983792873", ""},
		{"*", 0, "", "", ""},
		{"\"unterminated <sip:a@b>", -EBADMSG},
		{"< sip:a@b >", -EBADMSG},
		{"Bell, Alexander <sip:a@b>", -EBADMSG},
		{"sip:a@b?Route=x", -EBADMSG},
		{"<sip:a@b", -EBADMSG},
		{"<sip:a@b>;tag", -EBADMSG},
		{"<sip:a@b>;;", -EBADMSG},
		{"<sip:a@b> junk", -EBADMSG},
		{"<nocolon>", -EBADMSG},
		{"", -EBADMSG},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct sip_name_addr na;
		int r = sip_name_addr_parse(str_from_cstr(t[i].in), &na);

		if (r != t[i].ret)
			fail_msg("case %zu (%s): %d", i, t[i].in, r);
		if (r < 0)
			continue;
		assert_str(na.display, t[i].display);
		assert_str(na.uri, t[i].uri);
		assert_str(na.tag, t[i].tag);
	}
}

static void test_accessor_errors(void **state)
{
	static const struct {
		const char *hdr;
		const char *reason;
	} t[] = {
		{"CSeq: 2147483648 INVITE", "Malformed CSeq"},
		{"CSeq: 1", "Malformed CSeq"},
		{"CSeq: 1INVITE", "Malformed CSeq"},
		{"CSeq: x INVITE", "Malformed CSeq"},
		{"Max-Forwards: 256", "Malformed Max-Forwards"},
		{"Max-Forwards: -1", "Malformed Max-Forwards"},
		{"Expires: 4294967296", "Malformed Expires"},
		{"Call-ID: a b", "Malformed Call-ID"},
		{"Content-Type: text", "Malformed Content-Type"},
		{"Content-Type: a/b;boundary", "Malformed Content-Type"},
	};
	char buf[256];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const struct sip_cseq *cs;
		const struct sip_content_type *ct;
		struct str s;
		uint32_t u;
		int r;

		snprintf(buf, sizeof(buf), "OPTIONS sip:a@b SIP/2.0\r\n%s\r\n\r\n", t[i].hdr);
		assert_int_equal(parse_lit(buf), 0);
		if (sip_msg_cseq(&msg, &cs) == -EBADMSG ||
		    sip_msg_max_forwards(&msg, &u) == -EBADMSG ||
		    sip_msg_expires(&msg, &u) == -EBADMSG ||
		    sip_msg_call_id(&msg, &s) == -EBADMSG ||
		    sip_msg_content_type(&msg, &ct) == -EBADMSG)
			r = -EBADMSG;
		else
			r = 0;
		if (r != -EBADMSG)
			fail_msg("case %zu (%s) accepted", i, t[i].hdr);
		assert_string_equal(sip_msg_error(&msg), t[i].reason);
		/* a failure is cached */
		assert_int_equal(sip_msg_cseq(&msg, &cs) == 0 ||
					 sip_msg_cseq(&msg, &cs) == -ENOENT ||
					 sip_msg_cseq(&msg, &cs) == -EBADMSG,
				 1);
	}
	assert_int_equal(parse_lit("OPTIONS sip:a@b SIP/2.0\r\n\r\n"), 0);
	{
		const struct sip_via *v;

		assert_int_equal(sip_msg_via(&msg, &v), -ENOENT);
	}
}

#define BASE_HDRS                                                                                  \
	"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1" CRLF "From: <sip:a@b>;tag=1" CRLF             \
	"To: <sip:c@d>" CRLF "Call-ID: x@y" CRLF "Max-Forwards: 70" CRLF

static void test_validate_table(void **state)
{
	static const char *const supported[] = {"siprec", "timer", NULL};
	static const char *const accept[] = {"application/sdp", "multipart/mixed", NULL};
	static const struct {
		const char *in;
		bool proxy;
		int code;
		const char *reason;
	} t[] = {
		{"INVITE sip:srs@h SIP/2.0" CRLF BASE_HDRS "CSeq: 1 INVITE" CRLF
		 "Require: siprec" CRLF "Content-Type: application/sdp" CRLF "l: 2" CRLF CRLF "v=",
		 false, 0, NULL},
		{"INVITE sip:srs@h SIP/3.0" CRLF BASE_HDRS "CSeq: 1 INVITE" CRLF CRLF, false, 505,
		 "Version Not Supported"},
		{"INVITE sip:srs@h SIP/2.0" CRLF BASE_HDRS CRLF, false, 400, "Missing CSeq"},
		{"INVITE sip:srs@h SIP/2.0" CRLF BASE_HDRS "CSeq: 1 INVITE" CRLF
		 "To: <sip:e@f>" CRLF CRLF,
		 false, 400, "Multiple To headers"},
		{"INVITE sip:srs@h SIP/2.0" CRLF BASE_HDRS "CSeq: 1 BYE" CRLF CRLF, false, 400,
		 "CSeq method does not match Request-Line"},
		{"INVITE mailto:srs@h SIP/2.0" CRLF BASE_HDRS "CSeq: 1 INVITE" CRLF CRLF, false,
		 416, "Unsupported URI Scheme"},
		{"INVITE sip:srs@h?Route=x SIP/2.0" CRLF BASE_HDRS "CSeq: 1 INVITE" CRLF CRLF,
		 false, 400, "Headers not allowed in Request-URI"},
		{"INVITE sip:srs@h SIP/2.0" CRLF BASE_HDRS "CSeq: 1 INVITE" CRLF
		 "Require: foo, siprec" CRLF CRLF,
		 false, 420, "Bad Extension"},
		{"ACK sip:srs@h SIP/2.0" CRLF BASE_HDRS "CSeq: 1 ACK" CRLF "Require: foo" CRLF CRLF,
		 false, 0, NULL},
		{"INVITE sip:srs@h SIP/2.0" CRLF BASE_HDRS "CSeq: 1 INVITE" CRLF
		 "Content-Type: text/plain" CRLF "l: 2" CRLF CRLF "hi",
		 false, 415, "Unsupported Media Type"},
		{"INVITE sip:srs@h SIP/2.0" CRLF BASE_HDRS "CSeq: 1 INVITE" CRLF "l: 2" CRLF CRLF
		 "hi",
		 false, 400, "Missing Content-Type"},
		/* RFC 3261 §8.2.3: a coding we cannot undo is 415; identity is none. */
		{"INVITE sip:srs@h SIP/2.0" CRLF BASE_HDRS "CSeq: 1 INVITE" CRLF
		 "Content-Type: application/sdp" CRLF "Content-Encoding: gzip" CRLF "l: 2" CRLF CRLF
		 "v=",
		 false, 415, "Unsupported Content-Encoding"},
		{"INVITE sip:srs@h SIP/2.0" CRLF BASE_HDRS "CSeq: 1 INVITE" CRLF
		 "Content-Type: application/sdp" CRLF "e: identity, deflate" CRLF "l: 2" CRLF CRLF
		 "v=",
		 false, 415, "Unsupported Content-Encoding"},
		{"INVITE sip:srs@h SIP/2.0" CRLF BASE_HDRS "CSeq: 1 INVITE" CRLF
		 "Content-Type: application/sdp" CRLF "Content-Encoding: Identity" CRLF
		 "l: 2" CRLF CRLF "v=",
		 false, 0, NULL},
		{"INVITE sip:srs@h SIP/2.0" CRLF BASE_HDRS "CSeq: 1 INVITE" CRLF
		 "Accept: application/rs-metadata+xml" CRLF CRLF,
		 false, 0, NULL}, /* no 406: answered with SDP anyway (Intrado) */
		{"OPTIONS sip:srs@h SIP/2.0" CRLF "Via: SIP/2.0/UDP h;branch=z9hG4bK1" CRLF
		 "From: <sip:a@b>;tag=1" CRLF "To: <sip:c@d>" CRLF "Call-ID: x@y" CRLF
		 "Max-Forwards: 0" CRLF "CSeq: 1 OPTIONS" CRLF CRLF,
		 false, 0, NULL},
		{"OPTIONS sip:srs@h SIP/2.0" CRLF "Via: SIP/2.0/UDP h;branch=z9hG4bK1" CRLF
		 "From: <sip:a@b>;tag=1" CRLF "To: <sip:c@d>" CRLF "Call-ID: x@y" CRLF
		 "Max-Forwards: 0" CRLF "CSeq: 1 OPTIONS" CRLF CRLF,
		 true, 483, "Too Many Hops"},
		{"INVITE sip:srs@h SIP/2.0" CRLF "Via: SIP/2.0/UDP h;;" CRLF
		 "From: <sip:a@b>;tag=1" CRLF "To: <sip:c@d>" CRLF "Call-ID: x@y" CRLF
		 "CSeq: 1 INVITE" CRLF CRLF,
		 false, 400, "Malformed Via"},
		{"INVITE sip:srs@h SIP/2.0" CRLF BASE_HDRS "CSeq: 1 INVITE" CRLF
		 "Contact: sip:a@b?x=y" CRLF CRLF,
		 false, 400, "Malformed Contact"},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct sip_validate_opts o = {supported, accept, t[i].proxy};
		const char *reason = NULL;
		int r;

		assert_int_equal(parse_lit(t[i].in), 0);
		r = sip_msg_validate_request(&msg, &o, &reason);
		if (r != t[i].code)
			fail_msg("case %zu: %d %s, expected %d", i, r, reason ? reason : "",
				 t[i].code);
		if (t[i].reason)
			assert_string_equal(reason, t[i].reason);
	}
	assert_int_equal(parse_lit("SIP/2.0 200 OK" CRLF CRLF), 0);
	{
		const char *reason;

		assert_int_equal(sip_msg_validate_request(&msg, NULL, &reason), -EINVAL);
	}
}

static void sockaddr4(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	inet_pton(AF_INET, ip, &sin->sin_addr);
}

static void test_response_build(void **state)
{
	static const char req[] =
		"INVITE sip:srs@example.com SIP/2.0" CRLF
		"Via: SIP/2.0/UDP 10.0.0.5:5070;rport;branch=z9hG4bKabc, SIP/2.0/TCP "
		"p.example.com" CRLF "Record-Route: <sip:p.example.com;lr>" CRLF
		"v: SIP/2.0/UDP\r\n  h2;branch=z9hG4bKd" CRLF
		"From: \"A\" <sip:a@example.com>;tag=f1" CRLF "To: <sip:srs@example.com>" CRLF
		"Call-ID: c1@h" CRLF "CSeq: 10 INVITE" CRLF "Content-Length: 0" CRLF CRLF;
	static const char expect_200[] =
		"SIP/2.0 200 OK" CRLF
		"Via: SIP/2.0/UDP 10.0.0.5:5070;branch=z9hG4bKabc;received=192.0.2.9;rport=6000, "
		"SIP/2.0/TCP "
		"p.example.com" CRLF "Via: SIP/2.0/UDP    h2;branch=z9hG4bKd" CRLF
		"Record-Route: <sip:p.example.com;lr>" CRLF
		"From: \"A\" <sip:a@example.com>;tag=f1" CRLF
		"To: <sip:srs@example.com>;tag=t9" CRLF "Call-ID: c1@h" CRLF "CSeq: 10 INVITE" CRLF
		"Contact: <sip:srs@192.0.2.2>" CRLF "Server: siprecd" CRLF
		"Content-Type: application/sdp" CRLF "Content-Length: 3" CRLF CRLF "v=0";
	static const char expect_100[] =
		"SIP/2.0 100 Trying" CRLF "Via: SIP/2.0/UDP 10.0.0.5:5070;rport;branch=z9hG4bKabc, "
		"SIP/2.0/TCP p.example.com" CRLF "Via: SIP/2.0/UDP    h2;branch=z9hG4bKd" CRLF
		"From: \"A\" <sip:a@example.com>;tag=f1" CRLF "To: <sip:srs@example.com>" CRLF
		"Call-ID: c1@h" CRLF "CSeq: 10 INVITE" CRLF "Server: test" CRLF
		"Content-Length: 0" CRLF CRLF;
	struct sockaddr_storage src;
	struct sip_response_args a = {
		.source = &src,
		.to_tag = "t9",
		.extra_headers = "Contact: <sip:srs@192.0.2.2>\r\n",
		.content_type = "application/sdp",
		.body = "v=0",
		.body_len = 3,
	};
	char out[1024];
	int n;

	sockaddr4(&src, "192.0.2.9", 6000);
	assert_int_equal(parse_lit(req), 0);
	n = sip_response_build(out, sizeof(out), &msg, 200, NULL, &a);
	assert_true(n > 0);
	if ((size_t)n != strlen(expect_200) || memcmp(out, expect_200, (size_t)n) != 0)
		fail_msg("got:\n%.*s\nexpected:\n%s", n, out, expect_200);
	/* the output parses back */
	{
		struct sip_msg back;

		assert_int_equal(sip_msg_parse(&back, out, (size_t)n, NULL), 0);
		assert_int_equal(back.status, 200);
	}
	/* too small by one byte */
	assert_int_equal(sip_response_build(out, (size_t)n - 1, &msg, 200, NULL, &a), -ENOBUFS);

	/* 100: no to-tag, no Record-Route; without a source the top Via is copied unchanged */
	{
		struct sip_response_args b = {.to_tag = "t9", .server = "test"};

		n = sip_response_build(out, sizeof(out), &msg, 100, NULL, &b);
		assert_true(n > 0);
		if ((size_t)n != strlen(expect_100) || memcmp(out, expect_100, (size_t)n) != 0)
			fail_msg("got:\n%.*s\nexpected:\n%s", n, out, expect_100);
	}
	assert_int_equal(sip_response_build(out, sizeof(out), &msg, 99, NULL, NULL), -EINVAL);
	assert_int_equal(parse_lit("OPTIONS sip:a@b SIP/2.0" CRLF CRLF), 0);
	assert_int_equal(sip_response_build(out, sizeof(out), &msg, 400, NULL, NULL), -EBADMSG);
}

static void test_response_received_only(void **state)
{
	static const char req[] = "OPTIONS sip:srs@h SIP/2.0" CRLF
				  "Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKq" CRLF
				  "From: <sip:a@b>;tag=1" CRLF "To: <sip:c@d>;tag=2" CRLF
				  "Call-ID: x" CRLF "CSeq: 5 OPTIONS" CRLF CRLF;
	struct sockaddr_storage src;
	struct sip_response_args a = {.source = &src, .to_tag = "zz"};
	char out[512];
	int n;

	sockaddr4(&src, "198.51.100.7", 5060);
	assert_int_equal(parse_lit(req), 0);
	n = sip_response_build(out, sizeof(out), &msg, 200, "Fine", &a);
	assert_true(n > 0);
	out[n] = '\0';
	assert_non_null(strstr(out, "SIP/2.0 200 Fine\r\n"));
	assert_non_null(strstr(
		out,
		"Via: SIP/2.0/UDP host.example.com;branch=z9hG4bKq;received=198.51.100.7\r\n"));
	/* the request already had a to-tag: not replaced */
	assert_non_null(strstr(out, "To: <sip:c@d>;tag=2\r\n"));
	assert_null(strstr(out, "zz"));
}

static void test_request_build(void **state)
{
	struct sip_request_args a = {
		.method = "BYE",
		.request_uri = STR_LIT("sip:src@192.0.2.1:5070"),
		.transport = "UDP",
		.via_sent_by = STR_LIT("192.0.2.2:5060"),
		.local_uri = STR_LIT("<sip:srs@example.com>"),
		.local_tag = STR_LIT("t9"),
		.remote_uri = STR_LIT("\"A\" <sip:a@example.com>"),
		.remote_tag = STR_LIT("f1"),
		.call_id = STR_LIT("c1@h"),
		.cseq = 2,
	};
	char out[1024], branch[SIP_BRANCH_LEN + 1], expect[1024];
	int n;

	n = sip_request_build(out, sizeof(out), &a, branch);
	assert_true(n > 0);
	assert_int_equal(strlen(branch), SIP_BRANCH_LEN);
	assert_memory_equal(branch, "z9hG4bK", 7);
	snprintf(expect, sizeof(expect),
		 "BYE sip:src@192.0.2.1:5070 SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 192.0.2.2:5060;branch=%s;rport\r\n"
		 "Max-Forwards: 70\r\n"
		 "From: <sip:srs@example.com>;tag=t9\r\n"
		 "To: \"A\" <sip:a@example.com>;tag=f1\r\n"
		 "Call-ID: c1@h\r\n"
		 "CSeq: 2 BYE\r\n"
		 "User-Agent: siprecd\r\n"
		 "Content-Length: 0\r\n\r\n",
		 branch);
	assert_int_equal(n, strlen(expect));
	assert_memory_equal(out, expect, (size_t)n);
	{
		struct sip_msg back;
		const char *reason;

		assert_int_equal(sip_msg_parse(&back, out, (size_t)n, NULL), 0);
		assert_int_equal(sip_msg_validate_request(&back, NULL, &reason), 0);
	}
	assert_int_equal(sip_request_build(out, 50, &a, NULL), -ENOBUFS);
	a.method = NULL;
	assert_int_equal(sip_request_build(out, sizeof(out), &a, NULL), -EINVAL);
}

static void test_random(void **state)
{
	char a[SIP_TAG_LEN + 1], b[SIP_TAG_LEN + 1], br[SIP_BRANCH_LEN + 1];

	assert_int_equal(sip_tag_generate(a, sizeof(a)), 0);
	assert_int_equal(sip_tag_generate(b, sizeof(b)), 0);
	assert_int_equal(strlen(a), SIP_TAG_LEN);
	assert_string_not_equal(a, b);
	assert_int_equal(sip_tag_generate(a, SIP_TAG_LEN), -ENOBUFS);
	assert_int_equal(sip_branch_generate(br, sizeof(br)), 0);
	for (size_t i = 0; i < SIP_BRANCH_LEN; i++)
		assert_true(br[i] == '-' || br[i] == '.' || (br[i] >= '0' && br[i] <= '9') ||
			    ((br[i] | 0x20) >= 'a' && (br[i] | 0x20) <= 'z'));
}

/* Tags come from a per-thread pool of random bytes refilled from getrandom(): 300 tags (8 bytes
 * each, the pool refilled nine times) are all different hex strings, and draws that span a
 * refill are neither zero nor repeated. */
static void test_random_pool(void **state)
{
	enum { N = 300 };
	static char tags[N][SIP_TAG_LEN + 1];
	uint8_t x[300], y[300], zero[300] = {0};

	(void)state;
	for (size_t i = 0; i < N; i++) {
		assert_int_equal(sip_tag_generate(tags[i], sizeof(tags[i])), 0);
		assert_int_equal(strspn(tags[i], "0123456789abcdef"), SIP_TAG_LEN);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(tags[i], tags[j]);
	}
	assert_int_equal(sip_random(x, 1), 0);
	assert_int_equal(sip_random(x, sizeof(x)), 0);
	assert_int_equal(sip_random(y, sizeof(y)), 0);
	assert_memory_not_equal(x, zero, sizeof(x));
	assert_memory_not_equal(y, zero, sizeof(y));
	assert_memory_not_equal(x, y, sizeof(x));
}

static void test_frame(void **state)
{
	static const char m1[] = "OPTIONS sip:a@b SIP/2.0" CRLF "l: 3" CRLF CRLF "abc";
	static const char m2[] = "BYE sip:a@b SIP/2.0" CRLF "Content-Length:\r\n 0" CRLF CRLF;
	char buf[512];
	size_t n1 = strlen(m1), n2 = strlen(m2), len;
	struct sip_limits small = {.max_msg_size = 40, .max_headers = 10, .max_line_len = 100};

	/* coalesced: two messages in one read */
	memcpy(buf, m1, n1);
	memcpy(buf + n1, m2, n2);
	assert_int_equal(sip_stream_frame(buf, n1 + n2, NULL, &len), SIP_FRAME_MESSAGE);
	assert_int_equal(len, n1);
	assert_int_equal(sip_stream_frame(buf + n1, n2, NULL, &len), SIP_FRAME_MESSAGE);
	assert_int_equal(len, n2);
	/* split: every prefix needs more */
	for (size_t i = 0; i < n1; i++)
		assert_int_equal(sip_stream_frame(m1, i, NULL, &len), SIP_FRAME_NEED_MORE);
	/* keepalives before a message */
	memcpy(buf, "\r\n\r\n", 4);
	memcpy(buf + 4, m1, n1);
	assert_int_equal(sip_stream_frame(buf, 4 + n1, NULL, &len), SIP_FRAME_KEEPALIVE);
	assert_int_equal(len, 4);
	assert_int_equal(sip_stream_frame(buf + len, n1, NULL, &len), SIP_FRAME_MESSAGE);
	/* no Content-Length on a stream */
	assert_int_equal(
		sip_stream_frame("OPTIONS sip:a@b SIP/2.0\r\nX: y\r\n\r\n", 34, NULL, &len),
		-EBADMSG);
	assert_int_equal(
		sip_stream_frame("OPTIONS sip:a@b SIP/2.0\r\nl: x\r\n\r\n", 34, NULL, &len),
		-EBADMSG);
	/* two different lengths */
	assert_int_equal(
		sip_stream_frame("A sip:a@b SIP/2.0\r\nl: 1\r\nl: 2\r\n\r\nab", 36, NULL, &len),
		-EBADMSG);
	/* over the limit: the body, or headers that never end */
	assert_int_equal(sip_stream_frame(m1, n1, &small, &len), SIP_FRAME_MESSAGE);
	assert_int_equal(sip_stream_frame("A sip:a@b SIP/2.0\r\nl: 99\r\n\r\n", 28, &small, &len),
			 -EMSGSIZE);
	memset(buf, 'x', 64);
	assert_int_equal(sip_stream_frame(buf, 64, &small, &len), -EMSGSIZE);
	assert_int_equal(sip_stream_frame(buf, 39, &small, &len), SIP_FRAME_NEED_MORE);
	/* the framed message parses as a stream message */
	assert_int_equal(sip_msg_parse_flags(&msg, m2, n2, NULL, SIP_PARSE_STREAM), 0);
	assert_int_equal(msg.content_length, 0);
}

/* A message a stream cannot frame: the answer's status and reason name the problem, and it is
 * answered only when its request line and the headers a response needs can be read. */
static void test_frame_error(void **state)
{
	static const struct {
		const char *in;
		unsigned status;
		const char *reason;
		bool answerable;
	} t[] = {
		{"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bKx\r\nFrom: "
		 "<sip:a@b>;tag=1"
		 "\r\nTo: <sip:b@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n",
		 400, "Missing Content-Length", true},
		{"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bKx\r\nf: "
		 "<sip:a@b>;tag=1"
		 "\r\nt: <sip:b@b>\r\ni: c\r\nCSeq: 1 OPTIONS\r\nl: -1\r\n\r\n",
		 400, "Malformed Content-Length", true},
		{"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bKx\r\nFrom: "
		 "<sip:a@b>;tag=1"
		 "\r\nTo: <sip:b@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nl: 1\r\nl: 2\r\n\r\nab",
		 400, "Conflicting Content-Length", true},
		{"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bKx\r\nFrom: "
		 "<sip:a@b>;tag=1"
		 "\r\nTo: <sip:b@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nl: 999\r\n\r\n",
		 513, "Content-Length Over Limit", true},
		/* the header section does not end within the limit: the last field is cut */
		{"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bKx\r\nFrom: "
		 "<sip:a@b>;tag=1"
		 "\r\nTo: <sip:b@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nX-Pad: "
		 "ppppppppppppppppppppppppp"
		 "pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp"
		 "pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp",
		 513, "Headers Too Large", true},
		/* CSeq cut by the limit: nothing to answer with */
		{"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bKx\r\nFrom: "
		 "<sip:a@b>;tag=1"
		 "\r\nTo: <sip:b@b>\r\nCall-ID: c\r\nX-Pad: "
		 "ppppppppppppppppppppppppppppppppppppppppppp"
		 "pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp"
		 "pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp"
		 "\r\nCSeq: 1 OPTIONS\r\n\r\n",
		 513, "Headers Too Large", false},
		{"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bKx\r\nFrom: "
		 "<sip:a@b>;tag=1"
		 "\r\nTo: <sip:b@b>\r\nCSeq: 1 OPTIONS\r\n\r\n",
		 400, "Missing Content-Length", false},
		{"ACK sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bKx\r\nFrom: "
		 "<sip:a@b>;tag=1"
		 "\r\nTo: <sip:b@b>\r\nCall-ID: c\r\nCSeq: 1 ACK\r\n\r\n",
		 400, "Missing Content-Length", false},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400, "Missing Content-Length", false},
		{"SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP h;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1"
		 "\r\nTo: <sip:b@b>\r\nCall-ID: c\r\nCSeq: 1 BYE\r\n\r\n",
		 400, "Missing Content-Length", false},
		{"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bKx\r\nFrom: "
		 "<sip:a@b>;tag=1"
		 "\r\nTo: <sip:b@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nX: a\rb\r\n\r\n",
		 400, "Malformed Header Line", true},
	};
	struct sip_limits lim = {.max_msg_size = 300, .max_headers = 20, .max_line_len = 200};
	char scratch[512], out[1024];
	size_t len;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t n = strlen(t[i].in) < lim.max_msg_size ? strlen(t[i].in) : lim.max_msg_size;
		const char *reason = NULL;
		struct sockaddr_storage ss = {.ss_family = AF_INET};
		struct sip_response_args a = {.source = &ss};
		int r;

		assert_true(sip_stream_frame(t[i].in, n, &lim, &len) < 0);
		assert_int_equal(sip_stream_frame_status(t[i].in, n, &lim, &reason), t[i].status);
		assert_string_equal(reason, t[i].reason);
		r = sip_stream_frame_headers(t[i].in, n, &lim, scratch, n + 2, &msg);
		assert_int_equal(r, t[i].answerable ? 0 : -EBADMSG);
		if (t[i].answerable) {
			r = sip_response_build(out, sizeof(out), &msg, t[i].status, reason, &a);
			assert_true(r > 0);
			assert_non_null(memmem(out, (size_t)r, "Call-ID: c\r\n", 12));
		}
	}
	/* a message that frames has no error */
	assert_int_equal(sip_stream_frame_status("A sip:a@b SIP/2.0\r\nl: 0\r\n\r\n", 27, &lim,
						 &(const char *){NULL}),
			 0);
}

/* An LF-only request (as some SRCs send) parses like its CRLF twin, folds included, frames on a
 * stream, and the response to it is built with CRLF line endings. */
static void test_lf_only(void **state)
{
	static const char lf[] = "INVITE sip:srs@example.com SIP/2.0\n"
				 "Via: SIP/2.0/TCP 10.0.0.5:5070;branch=z9hG4bKlf\n"
				 "From: <sip:a@example.com>;tag=f1\n"
				 "To: <sip:srs@example.com>\n"
				 "Call-ID: lf-1@h\n"
				 "Subject: folded\n value\n"
				 "CSeq: 1 INVITE\n"
				 "Content-Length: 3\n\n"
				 "v=0";
	static const char expect[] =
		"SIP/2.0 200 OK" CRLF "Via: SIP/2.0/TCP 10.0.0.5:5070;branch=z9hG4bKlf" CRLF
		"From: <sip:a@example.com>;tag=f1" CRLF "To: <sip:srs@example.com>;tag=t1" CRLF
		"Call-ID: lf-1@h" CRLF "CSeq: 1 INVITE" CRLF "Server: t" CRLF
		"Content-Length: 0" CRLF CRLF;
	struct sip_response_args a = {.to_tag = "t1", .server = "t"};
	const struct sip_header *h;
	struct str cid;
	char out[512], two[512];
	size_t len, n = strlen(lf);
	int r;

	assert_int_equal(sip_msg_parse_flags(&msg, lf, n, NULL, SIP_PARSE_STREAM), 0);
	assert_int_equal(msg.method, SIP_METHOD_INVITE);
	assert_int_equal(msg.n_hdrs, 7);
	assert_int_equal(msg.content_length, 3);
	assert_str(msg.body, "v=0");
	assert_int_equal(sip_msg_call_id(&msg, &cid), 0);
	assert_str(cid, "lf-1@h");
	h = sip_msg_header(&msg, SIP_HDR_CSEQ);
	assert_non_null(h);
	assert_str(h->value, "1 INVITE");
	r = sip_response_build(out, sizeof(out), &msg, 200, NULL, &a);
	assert_true(r > 0);
	if ((size_t)r != strlen(expect) || memcmp(out, expect, (size_t)r) != 0)
		fail_msg("got:\n%.*s\nexpected:\n%s", r, out, expect);

	/* stream framing: LF LF ends the headers; two pipelined LF-only messages split apart */
	memcpy(two, lf, n);
	memcpy(two + n, lf, n);
	assert_int_equal(sip_stream_frame(two, 2 * n, NULL, &len), SIP_FRAME_MESSAGE);
	assert_int_equal(len, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(sip_stream_frame(lf, i, NULL, &len), SIP_FRAME_NEED_MORE);
	{
		static const char mixed[] = "A sip:a@b SIP/2.0\nl: 1\r\n\nx";
		static const char no_cl[] = "A sip:a@b SIP/2.0\nX: 1\n\n";

		assert_int_equal(sip_stream_frame(mixed, strlen(mixed), NULL, &len),
				 SIP_FRAME_MESSAGE);
		assert_int_equal(len, strlen(mixed));
		assert_int_equal(sip_stream_frame(no_cl, strlen(no_cl), NULL, &len), -EBADMSG);
	}
}

static void test_names(void **state)
{
	assert_int_equal(sip_hdr_from_name(STR_LIT("i")), SIP_HDR_CALL_ID);
	assert_int_equal(sip_hdr_from_name(STR_LIT("I")), SIP_HDR_CALL_ID);
	assert_int_equal(sip_hdr_from_name(STR_LIT("CALL-id")), SIP_HDR_CALL_ID);
	assert_int_equal(sip_hdr_from_name(STR_LIT("k")), SIP_HDR_SUPPORTED);
	assert_int_equal(sip_hdr_from_name(STR_LIT("q")), SIP_HDR_OTHER);
	assert_int_equal(sip_hdr_from_name(STR_LIT("C%6Fntact")), SIP_HDR_OTHER);
	assert_int_equal(sip_method_from_str(STR_LIT("CANCEL")), SIP_METHOD_CANCEL);
	assert_int_equal(sip_method_from_str(STR_LIT("cancel")), SIP_METHOD_UNKNOWN);
	assert_string_equal(sip_method_name(SIP_METHOD_BYE), "BYE");
	assert_string_equal(sip_reason_phrase(487), "Request Terminated");
	/* RFC 4028 §6: what siprecd answers a Session-Expires below MIN_SESSION_EXPIRES */
	assert_string_equal(sip_reason_phrase(422), "Session Interval Too Small");
	/* every status siprecd sends has its own phrase (a refusal names the problem) */
	static const unsigned sent[] = {100, 200, 400, 401, 403, 404, 405, 413, 415, 416, 420, 421,
					422, 481, 482, 483, 487, 488, 491, 500, 501, 503, 505, 513};
	for (size_t i = 0; i < sizeof(sent) / sizeof(sent[0]); i++)
		assert_string_not_equal(sip_reason_phrase(sent[i]), "Unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_invite),
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_via_table),
		cmocka_unit_test(test_name_addr_table),
		cmocka_unit_test(test_accessor_errors),
		cmocka_unit_test(test_validate_table),
		cmocka_unit_test(test_response_build),
		cmocka_unit_test(test_response_received_only),
		cmocka_unit_test(test_request_build),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_random_pool),
		cmocka_unit_test(test_frame),
		cmocka_unit_test(test_frame_error),
		cmocka_unit_test(test_lf_only),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
