// SPDX-License-Identifier: MIT
/*
 * Unit tests for the SIPREC multipart/mixed splitter: a table of (Content-Type, body) with the
 * expected outcome, SDP and metadata contents, and part counts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "siprecd/siprec.h"

#define SDP                                                                                        \
	"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"                \
	"m=audio 6000 RTP/AVP 0\r\na=label:1\r\na=sendonly"
#define MD                                                                                         \
	"<?xml version=\"1.0\"?>\r\n<recording xmlns='urn:ietf:params:xml:ns:recording:1'>"        \
	"<datamode>complete</datamode></recording>"

struct mp_case {
	const char *name;
	const char *ctype;
	const char *body;
	size_t max_part_size; /* 0: default */
	int ret;
	const char *sdp; /* expected SDP part content, NULL: absent */
	const char *md;
	unsigned n_other;
	unsigned n_parts;
	bool unterminated;
};

static const struct mp_case cases[] = {
	{"RFC 5621 nested multipart/alternative", "multipart/mixed;boundary=outer",
	 "--outer\r\nContent-Type: multipart/alternative; boundary=\"in ner\"\r\n\r\n"
	 "--in ner\r\nContent-Type: text/plain\r\nContent-Disposition: session;handling=optional"
	 "\r\n\r\nhello\r\n--in ner\r\nContent-Type: application/sdp\r\n\r\n" SDP
	 "\r\n--in ner--\r\n\r\n--outer\r\nContent-Type: application/rs-metadata+xml\r\n\r\n" MD
	 "\r\n--outer--\r\n",
	 0, 0, SDP, MD, 1, 3, false},
	{"nested multipart holding the metadata", "multipart/mixed;boundary=outer",
	 "--outer\r\nContent-Type: application/sdp\r\n\r\n" SDP "\r\n--outer\r\n"
	 "Content-Type: multipart/mixed;boundary=in\r\n\r\n--in\r\n"
	 "Content-Type: application/rs-metadata+xml\r\n\r\n" MD "\r\n--in--\r\n--outer--\r\n",
	 0, 0, SDP, MD, 0, 2, false},
	{"nested SDP beside an outer SDP", "multipart/mixed;boundary=outer",
	 "--outer\r\nContent-Type: application/sdp\r\n\r\n" SDP "\r\n--outer\r\n"
	 "Content-Type: multipart/alternative;boundary=in\r\n\r\n--in\r\n"
	 "Content-Type: application/sdp\r\n\r\n" SDP "\r\n--in--\r\n--outer--\r\n",
	 0, -EBADMSG, NULL, NULL, 0, 0, false},
	{"nested two levels deep is not looked into", "multipart/mixed;boundary=a",
	 "--a\r\nContent-Type: multipart/mixed;boundary=b\r\n\r\n--b\r\n"
	 "Content-Type: multipart/mixed;boundary=c\r\n\r\n--c\r\nContent-Type: application/sdp"
	 "\r\n\r\n" SDP "\r\n--c--\r\n--b--\r\n--a--\r\n",
	 0, -EMEDIUMTYPE, NULL, NULL, 0, 0, false},
	{"nested multipart without a boundary", "multipart/mixed;boundary=a",
	 "--a\r\nContent-Type: multipart/alternative\r\n\r\nx\r\n--a--\r\n", 0, -EBADMSG, NULL,
	 NULL, 0, 0, false},
	{"rfc7866 example", "multipart/mixed;boundary=foobar",
	 "--foobar\r\nContent-Type: application/sdp\r\n\r\n" SDP "\r\n"
	 "--foobar\r\nContent-Type: application/rs-metadata+xml\r\n"
	 "Content-Disposition: recording-session\r\n\r\n" MD "\r\n--foobar--\r\n",
	 0, 0, SDP, MD, 0, 2, false},
	{"reversed order", "multipart/mixed;boundary=foobar",
	 "--foobar\r\nContent-Type: application/rs-metadata+xml\r\n\r\n" MD "\r\n"
	 "--foobar\r\nContent-Type: application/sdp\r\n\r\n" SDP "\r\n--foobar--\r\n",
	 0, 0, SDP, MD, 0, 2, false},
	{"quoted boundary, preamble, epilogue",
	 "Multipart/Mixed; charset=x; boundary=\"uniq;ue 1\"",
	 "This is a preamble.\r\n\r\n--uniq;ue 1\r\ncontent-type: Application/SDP\r\n\r\n" SDP
	 "\r\n--uniq;ue 1\r\nContent-Type: application/rs-metadata+xml\r\n\r\n" MD
	 "\r\n--uniq;ue 1--\r\nepilogue text\r\n--uniq;ue 1\r\n",
	 0, 0, SDP, MD, 0, 2, false},
	{"bare LF line ends", "multipart/mixed;boundary=b1",
	 "--b1\nContent-Type: application/sdp\n\nv=0\nm=audio 1 RTP/AVP 0\n--b1\n"
	 "Content-Type: application/rs-metadata+xml\n\n<recording/>\n--b1--\n",
	 0, 0, "v=0\nm=audio 1 RTP/AVP 0", "<recording/>", 0, 2, false},
	{"transport padding", "multipart/mixed;boundary=foobar",
	 "--foobar  \t\r\nContent-Type: application/sdp\r\n\r\n" SDP "\r\n--foobar \r\n"
	 "Content-Type: application/rs-metadata+xml\r\n\r\n" MD "\r\n--foobar-- \t\r\n",
	 0, 0, SDP, MD, 0, 2, false},
	{"missing SDP", "multipart/mixed;boundary=foobar",
	 "--foobar\r\nContent-Type: application/rs-metadata+xml\r\n\r\n" MD "\r\n--foobar--", 0, 0,
	 NULL, MD, 0, 1, false},
	{"unknown optional extra part", "multipart/mixed;boundary=foobar",
	 "--foobar\r\nContent-Type: application/sdp\r\n\r\n" SDP "\r\n--foobar\r\n"
	 "Content-Type: application/x-vendor\r\nContent-Disposition: render;handling=optional\r\n"
	 "\r\nhello\r\n--foobar\r\nContent-Type: application/rs-metadata+xml\r\n\r\n" MD
	 "\r\n--foobar--\r\n",
	 0, 0, SDP, MD, 1, 3, false},
	{"unknown required part", "multipart/mixed;boundary=foobar",
	 "--foobar\r\nContent-Type: application/sdp\r\n\r\n" SDP "\r\n--foobar\r\n"
	 "Content-Type: application/x-vendor\r\nContent-Disposition: render; handling=Required\r\n"
	 "\r\nhello\r\n--foobar--\r\n",
	 0, -EMEDIUMTYPE, NULL, NULL, 0, 0, false},
	{"unknown part, handling absent (RFC 3261: required)", "multipart/mixed;boundary=foobar",
	 "--foobar\r\nContent-Type: text/plain\r\n\r\nhi\r\n--foobar--\r\n", 0, -EMEDIUMTYPE, NULL,
	 NULL, 0, 0, false},
	/* RFC 7866 §9.2: the recording-session disposition marks metadata under an XML type. */
	{"generic XML type, recording-session disposition", "multipart/mixed;boundary=foobar",
	 "--foobar\r\nContent-Type: application/sdp\r\n\r\n" SDP "\r\n--foobar\r\n"
	 "Content-Type: application/xml\r\nContent-Disposition: recording-session\r\n\r\n" MD
	 "\r\n--foobar--\r\n",
	 0, 0, SDP, MD, 0, 2, false},
	{"generic XML type without the disposition", "multipart/mixed;boundary=foobar",
	 "--foobar\r\nContent-Type: application/sdp\r\n\r\n" SDP "\r\n--foobar\r\n"
	 "Content-Type: text/xml\r\n\r\n" MD "\r\n--foobar--\r\n",
	 0, -EMEDIUMTYPE, NULL, NULL, 0, 0, false},
	{"boundary absent in body", "multipart/mixed;boundary=foobar",
	 "--other\r\nContent-Type: application/sdp\r\n\r\n" SDP "\r\n--other--\r\n", 0, -EBADMSG,
	 NULL, NULL, 0, 0, false},
	{"bare rs-metadata type", "multipart/mixed;boundary=foobar",
	 "--foobar\r\nContent-Type: application/sdp\r\n\r\n" SDP "\r\n--foobar\r\n"
	 "Content-Type: application/rs-metadata\r\n\r\n" MD "\r\n--foobar--\r\n",
	 0, 0, SDP, MD, 0, 2, false},
	{"single SDP body", "application/sdp", SDP, 0, 0, SDP, NULL, 0, 1, false},
	{"single metadata body (metadata-only UPDATE)", "application/rs-metadata+xml", MD, 0, 0,
	 NULL, MD, 0, 1, false},
	{"single unknown body", "text/plain", "hello", 0, -EMEDIUMTYPE, NULL, NULL, 0, 0, false},
	{"empty body, no type", "", "", 0, 0, NULL, NULL, 0, 0, false},
	{"body without type", "", "v=0", 0, -EBADMSG, NULL, NULL, 0, 0, false},
	{"oversized part", "multipart/mixed;boundary=foobar",
	 "--foobar\r\nContent-Type: application/sdp\r\n\r\n" SDP "\r\n--foobar--\r\n", 32, -E2BIG,
	 NULL, NULL, 0, 0, false},
	{"too many parts", "multipart/mixed;boundary=x",
	 "--x\r\nContent-Type: text/a;\r\nContent-Disposition: a;handling=optional\r\n\r\n\r\n"
	 "--x\r\nContent-Type: text/a;\r\nContent-Disposition: a;handling=optional\r\n\r\n\r\n"
	 "--x\r\nContent-Type: text/a;\r\nContent-Disposition: a;handling=optional\r\n\r\n\r\n"
	 "--x\r\nContent-Type: text/a;\r\nContent-Disposition: a;handling=optional\r\n\r\n\r\n"
	 "--x\r\nContent-Type: text/a;\r\nContent-Disposition: a;handling=optional\r\n\r\n\r\n"
	 "--x\r\nContent-Type: text/a;\r\nContent-Disposition: a;handling=optional\r\n\r\n\r\n"
	 "--x\r\nContent-Type: text/a;\r\nContent-Disposition: a;handling=optional\r\n\r\n\r\n"
	 "--x\r\nContent-Type: text/a;\r\nContent-Disposition: a;handling=optional\r\n\r\n\r\n"
	 "--x\r\nContent-Type: text/a;\r\nContent-Disposition: a;handling=optional\r\n\r\n\r\n"
	 "--x--\r\n",
	 0, -E2BIG, NULL, NULL, 0, 0, false},
	{"boundary of 71 characters",
	 "multipart/mixed;boundary="
	 "12345678901234567890123456789012345678901234567890123456789012345678901",
	 "", 0, -E2BIG, NULL, NULL, 0, 0, false},
	{"no boundary parameter", "multipart/mixed", "--x\r\n\r\n--x--", 0, -EBADMSG, NULL, NULL, 0,
	 0, false},
	{"two SDP parts", "multipart/mixed;boundary=foobar",
	 "--foobar\r\nContent-Type: application/sdp\r\n\r\n" SDP "\r\n--foobar\r\n"
	 "Content-Type: application/sdp\r\n\r\n" SDP "\r\n--foobar--\r\n",
	 0, -EBADMSG, NULL, NULL, 0, 0, false},
	{"missing close delimiter", "multipart/mixed;boundary=foobar",
	 "--foobar\r\nContent-Type: application/sdp\r\n\r\n" SDP "\r\n--foobar\r\n"
	 "Content-Type: application/rs-metadata+xml\r\n\r\n" MD,
	 0, 0, SDP, MD, 0, 2, true},
	/* RFC 2045 §6.8, RFC 5621 §3: base64 parts are decoded and parsed as if plain. */
	{"base64 SDP part", "multipart/mixed;boundary=foobar",
	 "--foobar\r\nContent-Type: application/sdp\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	 "dj0w\r\n--foobar--\r\n",
	 0, 0, "v=0", NULL, 0, 1, false},
	{"base64 SDP and metadata in 76-character lines", "multipart/mixed;boundary=foobar",
	 "--foobar\r\nContent-Type: application/sdp\r\nContent-Transfer-Encoding: BASE64\r\n\r\n"
	 "dj0wDQpvPS0gMSAxIElOIElQNCAxOTIuMC4yLjENCnM9LQ0KYz1JTiBJUDQgMTkyLjAuMi4xDQp0\r\n"
	 "PTAgMA0KbT1hdWRpbyA2MDAwIFJUUC9BVlAgMA0KYT1sYWJlbDoxDQphPXNlbmRvbmx5\r\n"
	 "--foobar\r\nContent-Type: application/rs-metadata+xml\r\n"
	 "Content-Transfer-Encoding: base64\r\n\r\n"
	 "PD94bWwgdmVyc2lvbj0iMS4wIj8+DQo8cmVjb3JkaW5nIHhtbG5zPSd1cm46aWV0ZjpwYXJhbXM6\r\n"
	 "eG1sOm5zOnJlY29yZGluZzoxJz48ZGF0YW1vZGU+Y29tcGxldGU8L2RhdGFtb2RlPjwvcmVjb3Jk\r\n"
	 "aW5nPg==\r\n--foobar--\r\n",
	 0, 0, SDP, MD, 0, 2, false},
	{"base64 part that does not decode", "multipart/mixed;boundary=foobar",
	 "--foobar\r\nContent-Type: application/sdp\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	 "dj0*\r\n--foobar--\r\n",
	 0, -EBADMSG, NULL, NULL, 0, 0, false},
	{"base64 part cut short", "multipart/mixed;boundary=foobar",
	 "--foobar\r\nContent-Type: application/sdp\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	 "dj0\r\n--foobar--\r\n",
	 0, -EBADMSG, NULL, NULL, 0, 0, false},
	{"base64 optional unknown part ignored", "multipart/mixed;boundary=foobar",
	 "--foobar\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n--foobar\r\n"
	 "Content-Type: image/png\r\nContent-Disposition: render;handling=optional\r\n"
	 "Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--foobar--\r\n",
	 0, 0, "v=0", NULL, 1, 2, false},
	{"quoted-printable SDP part", "multipart/mixed;boundary=foobar",
	 "--foobar\r\nContent-Type: application/sdp\r\n"
	 "Content-Transfer-Encoding: quoted-printable\r\n\r\nv=3D0\r\n--foobar--\r\n",
	 0, -EMEDIUMTYPE, NULL, NULL, 0, 0, false},
	{"delimiter prefix inside content", "multipart/mixed;boundary=foo",
	 "--foo\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n--foobar\r\n--foo\r\n"
	 "Content-Type: application/rs-metadata+xml\r\n\r\n<r/>\r\n--foo--\r\n",
	 0, 0, "v=0\r\n--foobar", "<r/>", 0, 2, false},
	{"folded header, compact c:, part Content-Length", "multipart/mixed;boundary=foobar",
	 "--foobar\r\nc: application/sdp\r\nContent-Disposition: session;\r\n handling=required\r\n"
	 "Content-Length: 3\r\n\r\nv=0 trailing\r\n--foobar--\r\n",
	 0, 0, "v=0", NULL, 0, 1, false},
	{"malformed part header", "multipart/mixed;boundary=foobar",
	 "--foobar\r\nthis is not a header\r\n\r\nv=0\r\n--foobar--\r\n", 0, -EBADMSG, NULL, NULL,
	 0, 0, false},
	{"empty part between delimiters", "multipart/mixed;boundary=b",
	 "--b\r\n--b\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n--b--", 0, 0, "v=0", NULL, 1, 2,
	 false},
	{"unterminated quoted boundary", "multipart/mixed;boundary=\"foobar", "--foobar\r\n", 0,
	 -EBADMSG, NULL, NULL, 0, 0, false},
};

static void check_part(const struct siprec_body_part *p, const char *expected, const char *what,
		       const char *name)
{
	if (!expected) {
		if (p->present)
			fail_msg("%s: unexpected %s part", name, what);
		return;
	}
	if (!p->present)
		fail_msg("%s: %s part missing", name, what);
	if (!str_eq_cstr(p->body, expected))
		fail_msg("%s: %s part is '%.*s'", name, what, STR_FMT(p->body));
}

static void test_table(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct mp_case *c = &cases[i];
		struct siprec_limits lim = SIPREC_LIMITS_DEFAULT;
		struct siprec_body_parts parts = {.n_parts = 12345};
		int r;

		if (c->max_part_size)
			lim.max_part_size = c->max_part_size;
		r = siprec_multipart_parse(str_from_cstr(c->ctype), str_from_cstr(c->body), &lim,
					   &parts);
		if (r != c->ret)
			fail_msg("%s: returned %d, expected %d", c->name, r, c->ret);
		if (r < 0) {
			/* nothing written on failure */
			assert_int_equal(parts.n_parts, 12345);
			continue;
		}
		check_part(&parts.sdp, c->sdp, "SDP", c->name);
		check_part(&parts.metadata, c->md, "metadata", c->name);
		if (parts.n_other != c->n_other || parts.n_parts != c->n_parts)
			fail_msg("%s: %u parts, %u other", c->name, parts.n_parts, parts.n_other);
		assert_int_equal(parts.unterminated, c->unterminated);
	}
}

/* A limit is checked over the whole body before a part's type: thousands of text/plain parts
 * are too many parts (413), not an unsupported type (415), whichever part comes first. */
static void test_limit_before_type(void **state)
{
	static const char part[] = "--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n";
	struct siprec_body_parts parts;
	size_t n = 2000 * (sizeof(part) - 1) + 8;
	char *b = malloc(n);
	size_t len = 0;

	(void)state;
	assert_non_null(b);
	for (int i = 0; i < 2000; i++) {
		memcpy(b + len, part, sizeof(part) - 1);
		len += sizeof(part) - 1;
	}
	memcpy(b + len, "--x--\r\n", 7);
	len += 7;
	assert_int_equal(siprec_multipart_parse(str_from_cstr("multipart/mixed;boundary=x"),
						str_make(b, len), NULL, &parts),
			 -E2BIG);
	assert_string_equal(siprec_multipart_limit(), "Too Many Body Parts");
	/* within the count, the type is what fails */
	assert_int_equal(siprec_multipart_parse(str_from_cstr("multipart/mixed;boundary=x"),
						str_make(b + len - 7 - 3 * (sizeof(part) - 1),
							 3 * (sizeof(part) - 1) + 7),
						NULL, &parts),
			 -EMEDIUMTYPE);
	free(b);
}

/* A refused Content-Transfer-Encoding is named for the 415's Warning; a refused type is not. */
static void test_cte_refusal(void **state)
{
	struct siprec_body_parts parts;

	(void)state;
	assert_int_equal(siprec_multipart_parse(
				 STR_LIT("multipart/mixed;boundary=b"),
				 str_from_cstr("--b\r\nContent-Type: application/sdp\r\n"
					       "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
					       "v=3D0\r\n--b--\r\n"),
				 NULL, &parts),
			 -EMEDIUMTYPE);
	assert_non_null(siprec_multipart_refusal());
	assert_non_null(strstr(siprec_multipart_refusal(), "base64"));
	assert_int_equal(siprec_multipart_parse(STR_LIT("multipart/mixed;boundary=b"),
						str_from_cstr("--b\r\nContent-Type: text/plain\r\n"
							      "\r\nhi\r\n--b--\r\n"),
						NULL, &parts),
			 -EMEDIUMTYPE);
	assert_null(siprec_multipart_refusal());
}

static void test_headers_kept(void **state)
{
	struct siprec_body_parts parts;
	const char *body = "--b\r\nContent-Type: application/rs-metadata+xml; charset=UTF-8\r\n"
			   "Content-Disposition: recording-session;handling=optional\r\n"
			   "Content-ID: <md@src.example>\r\n\r\n<recording/>\r\n--b--\r\n";

	assert_int_equal(siprec_multipart_parse(STR_LIT("multipart/mixed;boundary=b"),
						str_from_cstr(body), NULL, &parts),
			 0);
	assert_true(str_eq_cstr(parts.metadata.content_type, "application/rs-metadata+xml"));
	assert_true(str_eq_cstr(parts.metadata.disposition, "recording-session"));
	assert_int_equal(parts.metadata.handling, SIPREC_HANDLING_OPTIONAL);
	assert_true(str_eq_cstr(parts.metadata.content_id, "<md@src.example>"));
	assert_true(siprec_is_metadata_type(STR_LIT("APPLICATION/RS-METADATA+XML")));
	assert_false(siprec_is_metadata_type(STR_LIT("application/sdp")));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_headers_kept),
		cmocka_unit_test(test_cte_refusal),
		cmocka_unit_test(test_limit_before_type),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
