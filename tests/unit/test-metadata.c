// SPDX-License-Identifier: MIT
/*
 * Unit tests for the rs-metadata (RFC 7865) parser and model: a table of documents (inline, or
 * vendor-style samples from tests/data/metadata, overridable with $SIPREC_TEST_DATA) with the
 * expected counts, label -> sender mapping and warnings; then fields, merges and JSON.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "siprecd/sip.h"
#include "siprecd/siprec.h"

#define NS1 "urn:ietf:params:xml:ns:recording:1"
#define REC_OPEN "<recording xmlns='" NS1 "'><datamode>complete</datamode>"
#define SESSION "<session session_id='s1'/>"
#define TWO_PARTIES                                                                                \
	"<participant participant_id='p1'><nameID aor='sip:a@x'/></participant>"                   \
	"<participant participant_id='p2'><nameID aor='sip:b@x'/></participant>"                   \
	"<stream stream_id='t1' session_id='s1'><label>1</label></stream>"                         \
	"<stream stream_id='t2' session_id='s1'><label>2</label></stream>"

struct md_case {
	const char *name;
	const char *xml; /* "@file" loads tests/data/metadata/file */
	int ret;
	size_t n_participants, n_streams, n_psas, n_extensions;
	const char *senders;  /* "label=first AoR of sender,..." ("-" for no sender) */
	const char *warnings; /* '|'-separated substrings, in order; "" for none */
	struct siprec_limits lim;
};

#define DEF .lim = SIPREC_LIMITS_DEFAULT

static const struct md_case cases[] = {
	{"RFC 7865 complete", "@rfc7865-complete.xml", 0, 2, 4, 2, 2,
	 "96=sip:bob@biloxy.com,97=sip:bob@biloxy.com,98=sip:alice@atlanta.com,"
	 "99=sip:alice@atlanta.com",
	 "", DEF},
	{"prefixed namespace", "@prefixed.xml", 0, 2, 2, 2, 0,
	 "1=sip:alice@example.com,2=sip:bob@example.com", "", DEF},
	{"Oracle/Acme older draft", "@oracle-acme.xml", 0, 2, 2, 2, 3,
	 "16777227=sip:sipp@192.168.10.1,16777228=sip:service@192.168.101.13", "", DEF},
	{"Cisco CUBE", "@cisco-cube.xml", 0, 2, 2, 2, 1,
	 "0=sip:5001@10.10.10.1,1=sip:6001@10.10.10.2", "", DEF},
	{"AudioCodes, AoR without scheme", "@audiocodes.xml", 0, 2, 2, 2, 1,
	 "1=1000@10.33.2.40,2=2000@10.33.2.41", "", DEF},
	{"string labels, no namespace", "@string-labels.xml", 0, 2, 2, 2, 0,
	 "a_leg=+15551230000@pbx.example.net,b_leg=sip:+15559870000@carrier.example.com", "", DEF},
	{"namespace without :1",
	 "<recording xmlns='urn:ietf:params:xml:ns:recording'><datamode>complete</datamode>" SESSION
		 TWO_PARTIES "<participantstreamassoc participant_id='p1'><send>t1</send>"
	 "</participantstreamassoc></recording>",
	 0, 2, 2, 1, 0, "1=sip:a@x,2=-", "", DEF},
	{"old draft send/recv in participant",
	 REC_OPEN SESSION "<participant id='p1'><aor>sip:a@x</aor><send>t2</send><recv>t1</recv>"
			  "</participant><participant id='p2'><aor>sip:b@x</aor><send>t1</send>"
			  "</participant><stream id='t1' session='s1'><label>10</label></stream>"
			  "<stream id='t2' session='s1'><label>11</label></stream></recording>",
	 0, 2, 2, 2, 0, "10=sip:b@x,11=sip:a@x", "", DEF},
	{"missing label",
	 REC_OPEN SESSION
	 "<participant participant_id='p1'><nameID aor='sip:a@x'/></participant>"
	 "<stream stream_id='t1' session_id='s1'/>"
	 "<stream stream_id='t2' session_id='s1'><label> 3 </label></stream>"
	 "<participantstreamassoc participant_id='p1'><send>t1</send><send>t2</send>"
	 "</participantstreamassoc></recording>",
	 0, 1, 2, 1, 0, "3=sip:a@x", "stream 't1' has no label", DEF},
	{"participant referenced but not defined",
	 REC_OPEN SESSION TWO_PARTIES "<participantstreamassoc participant_id='p9'><send>t1</send>"
				      "</participantstreamassoc></recording>",
	 0, 2, 2, 1, 0, "1=-,2=-", "participant 'p9' referenced but not defined", DEF},
	{"stream referenced but not defined",
	 REC_OPEN SESSION TWO_PARTIES "<participantstreamassoc participant_id='p1'><send>t1</send>"
				      "<recv>t7</recv></participantstreamassoc></recording>",
	 0, 2, 2, 1, 0, "1=sip:a@x", "stream 't7' referenced but not defined", DEF},
	{"participantsessionassoc for an unknown participant",
	 REC_OPEN SESSION "<participantsessionassoc participant_id='p5' session_id='s1'/>"
			  "</recording>",
	 0, 1, 0, 0, 0, "", "participant 'p5' referenced but not defined", DEF},
	{"duplicate labels and missing datamode",
	 "<recording xmlns='" NS1 "'>" SESSION "<stream stream_id='t1'><label>1</label></stream>"
	 "<stream stream_id='t2'><label>1</label></stream></recording>",
	 0, 0, 2, 0, 0, "1=-", "no <datamode>|share label '1'", DEF},
	{"unknown datamode, participant without id, stream in unknown session",
	 "<recording xmlns='" NS1 "'><datamode>sometimes</datamode>" SESSION
	 "<participant><nameID aor='sip:x@y'/></participant>"
	 "<stream stream_id='t1' session_id='s2'><label>1</label></stream></recording>",
	 0, 0, 1, 0, 0, "1=-",
	 "unknown datamode 'sometimes'|<participant> without participant_id|"
	 "refers to undefined session 's2'",
	 DEF},
	{"no session", REC_OPEN "</recording>", 0, 0, 0, 0, 0, "", "no <session>", DEF},
	{"root is not recording", "<foo xmlns='" NS1 "'><participant participant_id='p'/></foo>", 0,
	 0, 0, 0, 0, "", "root element is <foo>", DEF},
	{"foreign namespace on root",
	 "<recording xmlns='urn:example:rec'><datamode>complete</datamode>" SESSION
	 "<participant participant_id='p1'/></recording>",
	 0, 1, 0, 0, 0, "", "unexpected namespace 'urn:example:rec'", DEF},
	{"label attribute, extension element in participant",
	 REC_OPEN SESSION "<participant participant_id='p1' xmlns:v='urn:v'><nameID aor='sip:a@x'>"
			  "<name>A</name><name>A2</name></nameID><v:agent id='7'>x<v:b/></v:agent>"
			  "</participant><stream stream_id='t1' label='5'/>"
			  "<participantstreamassoc participant_id='p1'><send>t1</send>"
			  "</participantstreamassoc></recording>",
	 0, 1, 1, 1, 1, "5=sip:a@x", "", DEF},
	{"malformed XML", REC_OPEN "<session session_id='s1'></recording>", -EBADMSG, 0, 0, 0, 0,
	 NULL, NULL, DEF},
	{"empty document", "", -EBADMSG, 0, 0, 0, 0, NULL, NULL, DEF},
	{"undefined entity", REC_OPEN "<session session_id='&foo;'/></recording>", -EBADMSG, 0, 0,
	 0, 0, NULL, NULL, DEF},
	{"DOCTYPE with entity expansion",
	 "<?xml version='1.0'?><!DOCTYPE recording [<!ENTITY a 'aaaaaaaaaa'>"
	 "<!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>]><recording xmlns='" NS1 "'>"
	 "<session session_id='&b;'/></recording>",
	 -EBADMSG, 0, 0, 0, 0, NULL, NULL, DEF},
	{"DOCTYPE with external entity",
	 "<!DOCTYPE recording SYSTEM 'file:///etc/passwd'><recording xmlns='" NS1 "'/>", -EBADMSG,
	 0, 0, 0, 0, NULL, NULL, DEF},
	{"oversized body", REC_OPEN SESSION "</recording>", -E2BIG, 0, 0, 0, 0, NULL,
	 "size (MAX_METADATA_SIZE)",
	 .lim = {.max_parts = 8,
		 .max_part_size = 65536,
		 .max_body_size = 64,
		 .max_participants = 64,
		 .max_streams = 64,
		 .max_sessions = 16,
		 .max_depth = 16,
		 .max_elements = 4096,
		 .max_attr_len = 1024,
		 .max_text_len = 1024,
		 .max_names = 16,
		 .max_extensions = 64,
		 .max_warnings = 32}},
	{"too deep", REC_OPEN "<a><b><c><d><e><f><g/></f></e></d></c></b></a></recording>", -E2BIG,
	 0, 0, 0, 0, NULL, "element nesting",
	 .lim = {.max_parts = 8,
		 .max_part_size = 65536,
		 .max_body_size = 65536,
		 .max_participants = 64,
		 .max_streams = 64,
		 .max_sessions = 16,
		 .max_depth = 6,
		 .max_elements = 4096,
		 .max_attr_len = 1024,
		 .max_text_len = 1024,
		 .max_names = 16,
		 .max_extensions = 64,
		 .max_warnings = 32}},
	{"too many participants",
	 REC_OPEN SESSION "<participant participant_id='p1'/><participant participant_id='p2'/>"
			  "<participant participant_id='p3'/></recording>",
	 -E2BIG, 0, 0, 0, 0, NULL, "participants",
	 .lim = {.max_parts = 8,
		 .max_part_size = 65536,
		 .max_body_size = 65536,
		 .max_participants = 2,
		 .max_streams = 64,
		 .max_sessions = 16,
		 .max_depth = 16,
		 .max_elements = 4096,
		 .max_attr_len = 1024,
		 .max_text_len = 1024,
		 .max_names = 16,
		 .max_extensions = 64,
		 .max_warnings = 32}},
	{"attribute too long",
	 REC_OPEN "<session session_id='0123456789012345678901234567890123456789'/></recording>",
	 -E2BIG, 0, 0, 0, 0, NULL, "length of an attribute value",
	 .lim = {.max_parts = 8,
		 .max_part_size = 65536,
		 .max_body_size = 65536,
		 .max_participants = 64,
		 .max_streams = 64,
		 .max_sessions = 16,
		 .max_depth = 16,
		 .max_elements = 4096,
		 .max_attr_len = 32,
		 .max_text_len = 1024,
		 .max_names = 16,
		 .max_extensions = 64,
		 .max_warnings = 32}},
	{"attribute too long on an empty root",
	 "<recording xmlns='" NS1 "' a='0123456789012345678901234567890123456789'/>", -E2BIG, 0, 0,
	 0, 0, NULL, "length of an attribute value",
	 .lim = {.max_parts = 8,
		 .max_part_size = 65536,
		 .max_body_size = 65536,
		 .max_participants = 64,
		 .max_streams = 64,
		 .max_sessions = 16,
		 .max_depth = 16,
		 .max_elements = 4096,
		 .max_attr_len = 32,
		 .max_text_len = 1024,
		 .max_names = 16,
		 .max_extensions = 64,
		 .max_warnings = 32}},
	{"too many elements", REC_OPEN SESSION "<x/><x/><x/><x/></recording>", -E2BIG, 0, 0, 0, 0,
	 NULL, "elements",
	 .lim = {.max_parts = 8,
		 .max_part_size = 65536,
		 .max_body_size = 65536,
		 .max_participants = 64,
		 .max_streams = 64,
		 .max_sessions = 16,
		 .max_depth = 16,
		 .max_elements = 5,
		 .max_attr_len = 1024,
		 .max_text_len = 1024,
		 .max_names = 16,
		 .max_extensions = 64,
		 .max_warnings = 32}},
	{"text too long",
	 REC_OPEN SESSION "<stream "
			  "stream_id='t'><label>0123456789012345678901234567890123456789</label></"
			  "stream></recording>",
	 -E2BIG, 0, 0, 0, 0, NULL, "length of an element's text",
	 .lim = {.max_parts = 8,
		 .max_part_size = 65536,
		 .max_body_size = 65536,
		 .max_participants = 64,
		 .max_streams = 64,
		 .max_sessions = 16,
		 .max_depth = 16,
		 .max_elements = 4096,
		 .max_attr_len = 1024,
		 .max_text_len = 16,
		 .max_names = 16,
		 .max_extensions = 64,
		 .max_warnings = 32}},
};

static char *load(const char *xml, size_t *ret_len)
{
	const char *dir = getenv("SIPREC_TEST_DATA");
	char path[512];
	char *buf;
	FILE *f;
	long n;

	if (xml[0] != '@') {
		*ret_len = strlen(xml);
		return strdup(xml);
	}
	if (dir)
		snprintf(path, sizeof(path), "%s/%s", dir, xml + 1);
	else if (getenv("SRCDIR")) /* tests/run.sh */
		snprintf(path, sizeof(path), "%s/tests/data/metadata/%s", getenv("SRCDIR"),
			 xml + 1);
	else
		snprintf(path, sizeof(path), "tests/data/metadata/%s", xml + 1);
	f = fopen(path, "re");
	if (!f)
		fail_msg("cannot open %s (run from the source tree or set SIPREC_TEST_DATA)", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*ret_len = (size_t)n;
	return buf;
}

static struct siprec_metadata *parse_ok(const char *xml)
{
	struct siprec_metadata *md = NULL;
	size_t len;
	char *buf = load(xml, &len);

	assert_int_equal(siprec_metadata_parse(buf, len, NULL, &md), 0);
	/* the model must not point into the input */
	memset(buf, 'x', len);
	free(buf);
	return md;
}

static void check_senders(const struct siprec_metadata *md, const char *spec, const char *name)
{
	char *copy = strdup(spec), *save = NULL;

	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		const struct siprec_stream_md *s;
		const struct siprec_participant *p;

		assert_non_null(eq);
		*eq = '\0';
		s = siprec_metadata_stream_by_label(md, str_from_cstr(tok));
		if (!s)
			fail_msg("%s: no stream with label '%s'", name, tok);
		p = siprec_metadata_sender_of(md, s->id);
		if (strcmp(eq + 1, "-") == 0) {
			if (p)
				fail_msg("%s: label %s has sender %s", name, tok, p->id);
			continue;
		}
		if (!p || p->aors.n == 0 || strcmp(p->aors.v[0], eq + 1) != 0)
			fail_msg("%s: label %s sent by %s, expected %s", name, tok,
				 p && p->aors.n ? p->aors.v[0] : "nobody", eq + 1);
	}
	free(copy);
}

static void check_warnings(const struct siprec_metadata *md, const char *spec, const char *name)
{
	char *copy = strdup(spec), *save = NULL;
	size_t n = 0;

	for (char *tok = strtok_r(copy, "|", &save); tok; tok = strtok_r(NULL, "|", &save), n++) {
		if (n >= md->warnings.n)
			fail_msg("%s: missing warning '%s'", name, tok);
		if (!strstr(md->warnings.v[n], tok))
			fail_msg("%s: warning %zu is '%s', expected '%s'", name, n,
				 md->warnings.v[n], tok);
	}
	if (n != md->warnings.n)
		fail_msg("%s: %zu warnings, expected %zu (first extra: '%s')", name, md->warnings.n,
			 n, md->warnings.v[n]);
	free(copy);
}

static void test_table(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct md_case *c = &cases[i];
		struct siprec_metadata *md = (void *)0x1;
		size_t len;
		char *buf = load(c->xml, &len);
		int r = siprec_metadata_parse(buf, len, &c->lim, &md);

		free(buf);
		if (r != c->ret)
			fail_msg("%s: returned %d, expected %d", c->name, r, c->ret);
		if (r < 0) {
			assert_ptr_equal(md, (void *)0x1);
			/* an -E2BIG case's warnings field names the limit it goes over */
			if (r == -E2BIG && c->warnings &&
			    strcmp(siprec_metadata_limit(), c->warnings) != 0)
				fail_msg("%s: over '%s', expected '%s'", c->name,
					 siprec_metadata_limit(), c->warnings);
			continue;
		}
		if (md->n_participants != c->n_participants || md->n_streams != c->n_streams ||
		    md->n_psas != c->n_psas || md->n_extensions != c->n_extensions)
			fail_msg("%s: %zu participants, %zu streams, %zu psa, %zu extensions",
				 c->name, md->n_participants, md->n_streams, md->n_psas,
				 md->n_extensions);
		check_senders(md, c->senders, c->name);
		check_warnings(md, c->warnings, c->name);
		assert_null(siprec_metadata_free(md));
	}
}

static void test_rfc_fields(void **state)
{
	struct siprec_metadata *md = parse_ok("@rfc7865-complete.xml");
	const struct siprec_participant *bob;
	const struct siprec_extension *e;

	assert_int_equal(md->datamode, SIPREC_DATAMODE_COMPLETE);
	assert_string_equal(md->session_id, "hVpd7YQgRW2nD22h7q60JQ==");
	assert_int_equal(md->n_groups, 1);
	assert_string_equal(md->groups[0].id, "7+OTCyoxTmqmqyA/1weDAg==");
	assert_string_equal(md->groups[0].associate_time, "2010-12-16T23:41:07Z");
	assert_int_equal(md->n_sessions, 1);
	assert_true(md->sessions[0].defined);
	assert_int_equal(md->sessions[0].sip_session_ids.n, 1);
	assert_string_equal(
		md->sessions[0].sip_session_ids.v[0],
		"ab30317f1a784dc48ff824d0d3715d86;remote=47755a9de7794ba387653f2099600ef2");
	assert_string_equal(md->sessions[0].group_ref, "7+OTCyoxTmqmqyA/1weDAg==");
	assert_string_equal(md->sessions[0].start_time, "2010-12-16T23:41:07Z");
	assert_string_equal(md->sessions[0].associate_time, "2010-12-16T23:41:07Z");

	bob = siprec_metadata_participant_by_id(md, "srfBElmCRp2QB23b7Mpk0w==");
	assert_non_null(bob);
	assert_true(bob->defined);
	assert_int_equal(bob->names.n, 1);
	assert_string_equal(bob->names.v[0], "Bob");
	assert_string_equal(bob->session_id, "hVpd7YQgRW2nD22h7q60JQ==");
	assert_string_equal(bob->associate_time, "2010-12-16T23:41:07Z");
	assert_ptr_equal(siprec_metadata_sender_of(md, "UAAMm5GRQKSCMVvLyl4rFw=="), bob);
	assert_string_equal(siprec_metadata_stream_by_id(md, "UAAMm5GRQKSCMVvLyl4rFw==")->label,
			    "96");
	assert_null(siprec_metadata_stream_by_label(md, STR_LIT("95")));
	assert_null(siprec_metadata_sender_of(md, "nope"));

	/* extensions are kept byte for byte, with their owner */
	assert_int_equal(md->n_extensions, 2);
	e = &md->extensions[0];
	assert_string_equal(e->parent, "group");
	assert_string_equal(e->name, "call-center");
	assert_string_equal(e->ns, "urn:ietf:params:xml:ns:callcenter");
	assert_string_equal(e->xml, "<call-center xmlns='urn:ietf:params:xml:ns:callcenter'>\n"
				    "      <supervisor>sip:alice@atlanta.com</supervisor>\n"
				    "    </call-center>");
	e = &md->extensions[1];
	assert_string_equal(e->parent, "session");
	assert_string_equal(e->parent_id, "hVpd7YQgRW2nD22h7q60JQ==");
	assert_string_equal(e->name, "mydata");
	assert_string_equal(e->xml, "<mydata xmlns='http://example.com/my'>\n"
				    "      <structure>FOO!</structure>\n"
				    "      <whatever>bar</whatever>\n"
				    "    </mydata>");
	siprec_metadata_free(md);
}

static void test_oracle_extension(void **state)
{
	struct siprec_metadata *md = parse_ok("@oracle-acme.xml");
	const struct siprec_extension *e = &md->extensions[2];
	const struct siprec_participant *p =
		siprec_metadata_participant_by_id(md, "Ib6C8+QdRbFHuuxEinFqhQ==");

	assert_string_equal(md->extensions[0].name, "mode");
	assert_string_equal(md->extensions[0].xml, "<mode>separate</mode>");
	assert_string_equal(md->extensions[0].parent, "stream");
	assert_string_equal(e->name, "extensiondata");
	assert_string_equal(e->parent, "recording");
	assert_string_equal(e->parent_id, "hq18GJs3TtJdhjPsfPNV8A==");
	assert_true(strncmp(e->xml, "<extensiondata xmlns:apkt=", 26) == 0);
	assert_non_null(
		strstr(e->xml, "<apkt:in-realm>net192</apkt:in-realm>\n  </extensiondata>"));
	/* <name> text is trimmed; session= became the participant's session */
	assert_string_equal(p->names.v[0], "sut");
	assert_string_equal(p->session_id, "BYiC7uSZQGN3VQdzWI1HWw==");
	siprec_metadata_free(md);
}

static void test_merge_partial(void **state)
{
	struct siprec_metadata *base = parse_ok("@rfc7865-complete.xml");
	struct siprec_metadata *upd = parse_ok("@rfc7865-partial.xml");
	const struct siprec_participant *carol, *alice;
	const struct siprec_stream_md *s;

	assert_int_equal(upd->datamode, SIPREC_DATAMODE_PARTIAL);
	/* a partial document is not checked for references on its own */
	assert_int_equal(upd->warnings.n, 0);
	assert_int_equal(siprec_metadata_merge(base, upd), 0);
	assert_int_equal(base->datamode, SIPREC_DATAMODE_COMPLETE);
	assert_int_equal(base->n_participants, 3);
	assert_int_equal(base->n_streams, 5);
	assert_int_equal(base->n_psas, 3);
	assert_int_equal(base->n_extensions, 2);
	assert_int_equal(base->warnings.n, 0);
	s = siprec_metadata_stream_by_label(base, STR_LIT("100"));
	assert_non_null(s);
	carol = siprec_metadata_sender_of(base, s->id);
	assert_non_null(carol);
	assert_string_equal(carol->names.v[0], "Carol");
	/* an association carrying only a time keeps its streams */
	alice = siprec_metadata_sender_of(base, "8zc6e0lYTlWIINA6GR+3ag==");
	assert_non_null(alice);
	assert_string_equal(alice->id, "zSfPoSvdSDCmU3A3TRDxAw==");
	for (size_t i = 0; i < base->n_psas; i++)
		if (strcmp(base->psas[i].participant_id, alice->id) == 0) {
			assert_string_equal(base->psas[i].disassociate_time,
					    "2010-12-16T23:45:00Z");
			assert_int_equal(base->psas[i].send.n, 2);
		}
	/* merging the same update twice changes nothing */
	assert_int_equal(siprec_metadata_merge(base, upd), 0);
	assert_int_equal(base->n_participants, 3);
	assert_int_equal(base->n_streams, 5);
	siprec_metadata_free(upd);
	siprec_metadata_free(base);
}

static void test_merge_replace_send(void **state)
{
	struct siprec_metadata *base = parse_ok("@prefixed.xml"), *upd;
	const char *xml = "<recording xmlns='" NS1 "'><datamode>partial</datamode>"
			  "<participantstreamassoc participant_id='p1'><send>st2</send>"
			  "</participantstreamassoc>"
			  "<participantstreamassoc participant_id='p2'/></recording>";

	assert_int_equal(siprec_metadata_parse(xml, strlen(xml), NULL, &upd), 0);
	assert_int_equal(siprec_metadata_merge(base, upd), 0);
	/* p1's association now sends st2 only and receives nothing */
	assert_string_equal(siprec_metadata_sender_of(base, "st2")->id, "p1");
	assert_null(siprec_metadata_sender_of(base, "st1"));
	siprec_metadata_free(upd);
	siprec_metadata_free(base);
}

/* RFC 8068 §3.4: after a transfer the disassociated participant no longer sends the stream. */
static void test_sender_after_transfer(void **state)
{
	const char *first = "<recording xmlns='" NS1 "'><datamode>complete</datamode>"
			    "<participant participant_id='bob'/><stream stream_id='s2'/>"
			    "<participantstreamassoc participant_id='bob'><send>s2</send>"
			    "</participantstreamassoc></recording>";
	const char *upd =
		"<recording xmlns='" NS1 "'><datamode>partial</datamode>"
		"<participant participant_id='bob'>"
		"<disassociate-time>2010-12-16T23:42:07Z</disassociate-time></participant>"
		"<participant participant_id='carol'/>"
		"<participantstreamassoc participant_id='carol'><send>s2</send>"
		"</participantstreamassoc></recording>";
	struct siprec_metadata *base, *u;

	(void)state;
	assert_int_equal(siprec_metadata_parse(first, strlen(first), NULL, &base), 0);
	assert_string_equal(siprec_metadata_sender_of(base, "s2")->id, "bob");
	assert_int_equal(siprec_metadata_parse(upd, strlen(upd), NULL, &u), 0);
	assert_int_equal(siprec_metadata_merge(base, u), 0);
	assert_string_equal(siprec_metadata_sender_of(base, "s2")->id, "carol");
	siprec_metadata_free(u);
	siprec_metadata_free(base);
}

static void test_merge_complete_and_limits(void **state)
{
	struct siprec_metadata *base = parse_ok("@rfc7865-complete.xml");
	struct siprec_metadata *upd = parse_ok("@prefixed.xml");
	struct siprec_metadata *part = parse_ok("@rfc7865-partial.xml");

	/* over base's limit: base stays as it was */
	base->lim.max_participants = 2;
	assert_int_equal(siprec_metadata_merge(base, part), -E2BIG);
	assert_int_equal(base->n_participants, 2);
	assert_int_equal(base->n_streams, 4);
	assert_non_null(siprec_metadata_stream_by_label(base, STR_LIT("96")));

	/* a complete snapshot replaces everything */
	assert_int_equal(siprec_metadata_merge(base, upd), 0);
	assert_int_equal(base->n_participants, 2);
	assert_int_equal(base->n_streams, 2);
	assert_string_equal(base->session_id, "s1");
	assert_null(siprec_metadata_stream_by_label(base, STR_LIT("96")));
	assert_string_equal(siprec_metadata_sender_of(base, "st1")->id, "p1");
	assert_int_equal(base->n_extensions, 0);

	siprec_metadata_free(part);
	siprec_metadata_free(upd);
	siprec_metadata_free(base);
	assert_null(siprec_metadata_free(NULL));
}

/* Each thread keeps one expat parser and resets it per document: a parse stopped by a limit in
 * the middle of an element, or failed on a DOCTYPE or a broken tag, leaves nothing behind for
 * the next one (same results as a first parse), and the next DOCTYPE is still refused. */
static void test_parser_reused(void **state)
{
	struct siprec_limits shallow = SIPREC_LIMITS_DEFAULT;
	const char *good = REC_OPEN SESSION TWO_PARTIES "</recording>";
	const char *deep = REC_OPEN "<a><b><c><d><e><f><g/></f></e></d></c></b></a></recording>";
	const char *doctype = "<!DOCTYPE recording SYSTEM 'file:///etc/passwd'>"
			      "<recording xmlns='" NS1 "'/>";
	const char *broken = REC_OPEN "<session session_id='s1'></recording>";
	struct siprec_metadata *md = NULL;

	(void)state;
	shallow.max_depth = 4;
	for (int round = 0; round < 3; round++) {
		assert_int_equal(siprec_metadata_parse(deep, strlen(deep), &shallow, &md), -E2BIG);
		assert_int_equal(siprec_metadata_parse(good, strlen(good), NULL, &md), 0);
		assert_int_equal(md->n_participants, 2);
		assert_int_equal(md->n_streams, 2);
		assert_int_equal(md->warnings.n, 0);
		md = siprec_metadata_free(md);
		assert_int_equal(siprec_metadata_parse(broken, strlen(broken), NULL, &md),
				 -EBADMSG);
		assert_int_equal(siprec_metadata_parse(doctype, strlen(doctype), NULL, &md),
				 -EBADMSG);
	}
}

/* Single-byte code pages expat does not know by itself are read through iconv: the names come
 * out as UTF-8. EBCDIC (not ASCII-compatible) and multi-byte encodings stay refused, and a byte
 * the code page leaves undefined is an error where it occurs. */
static void test_declared_encodings(void **state)
{
#define DOC(enc, name)                                                                             \
	"<?xml version='1.0' encoding='" enc "'?>" REC_OPEN SESSION                                \
	"<participant participant_id='p1'><nameID aor='sip:a@example.com'><name>" name             \
	"</name></nameID></participant></recording>"
	static const struct {
		const char *doc, *name;
		int ret;
	} t[] = {
		{DOC("windows-1252", "Jos\xe9 \x93Pepe\x94 \x96 \x80"),
		 "Jos\xc3\xa9 \xe2\x80\x9cPepe\xe2\x80\x9d \xe2\x80\x93 \xe2\x82\xac", 0},
		{DOC("ISO-8859-15", "\xa4 \xbd"), "\xe2\x82\xac \xc5\x93", 0},
		{DOC("ISO-8859-1", "\xa4"), "\xc2\xa4", 0},
		{DOC("KOI8-R", "\xf0\xc5\xd4\xd2"), "\xd0\x9f\xd0\xb5\xd1\x82\xd1\x80", 0},
		{DOC("windows-1252", "\x81"), NULL, -EBADMSG},
		{DOC("Shift_JIS", "\x82\xa0"), NULL, -EBADMSG},
		{DOC("IBM037", "x"), NULL, -EBADMSG},
		{DOC("no-such-charset", "x"), NULL, -EBADMSG},
	};
#undef DOC

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct siprec_metadata *md = NULL;

		print_message("encoding %zu\n", i);
		assert_int_equal(siprec_metadata_parse(t[i].doc, strlen(t[i].doc), NULL, &md),
				 t[i].ret);
		if (t[i].ret == 0) {
			assert_int_equal(md->n_participants, 1);
			assert_int_equal(md->participants[0].names.n, 1);
			assert_string_equal(md->participants[0].names.v[0], t[i].name);
		}
		siprec_metadata_free(md);
	}
}

/* The JSON form round-trips: every byte from 0x01 to 0xff in a value, and in an array,
 * parses back (json-c's tokener) to the bytes written, and json-c's own plain form of the parsed
 * tree is byte for byte the writer's output (key order, escapes, numbers, empty arrays). */
static void test_json_escapes(void **state)
{
	struct siprec_metadata *md = calloc(1, sizeof(*md));
	char all[256], *json = NULL;
	struct json_object *o, *v;
	const char *again;

	(void)state;
	for (int i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = '\0';
	assert_non_null(md);
	md->dialect = "rfc7865";
	md->datamode = SIPREC_DATAMODE_PARTIAL;
	assert_non_null(md->session_id = strdup(all));
	assert_non_null(md->participants = calloc(1, sizeof(*md->participants)));
	md->n_participants = 1;
	assert_non_null(md->participants[0].id = strdup("p\"1\\/"));
	assert_non_null(md->context.v = calloc(3, sizeof(char *)));
	md->context.n = 3;
	assert_non_null(md->context.v[0] = strdup(all));
	assert_non_null(md->context.v[1] = strdup(""));
	assert_non_null(md->context.v[2] = strdup("caf\xc3\xa9 \x7f\x1f\t"));
	md->n_warnings_dropped = 7;

	assert_int_equal(siprec_metadata_to_json(md, &json), 0);
	o = json_tokener_parse(json);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "session_id", &v));
	assert_string_equal(json_object_get_string(v), all);
	assert_true(json_object_object_get_ex(o, "context", &v));
	assert_int_equal(json_object_array_length(v), 3);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 0)), all);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 2)),
			    "caf\xc3\xa9 \x7f\x1f\t");
	assert_true(json_object_object_get_ex(o, "warnings_dropped", &v));
	assert_int_equal(json_object_get_int64(v), 7);
	again = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							  JSON_C_TO_STRING_NOSLASHESCAPE);
	assert_string_equal(json, again);
	json_object_put(o);
	free(json);
	siprec_metadata_free(md);
}

static void test_json(void **state)
{
	const char *xml = "<recording xmlns='" NS1 "'><datamode>complete</datamode>"
			  "<session session_id='s1'><sipSessionID>a;remote=b</sipSessionID>"
			  "</session><participant participant_id='p1'><nameID aor='sip:a@x'>"
			  "<name>A \"q\"</name></nameID><v:x xmlns:v='urn:v'>1</v:x></participant>"
			  "<stream stream_id='t1' session_id='s1'/>"
			  "<participantstreamassoc participant_id='p1'><send>t1</send>"
			  "</participantstreamassoc></recording>";
	const char *expected =
		"{\"datamode\":\"complete\",\"dialect\":\"rfc7865\",\"session_id\":\"s1\","
		"\"groups\":[],"
		"\"sessions\":[{\"id\":\"s1\",\"defined\":true,\"sip_session_ids\":[\"a;remote=b\"]"
		"}],"
		"\"participants\":[{\"id\":\"p1\",\"defined\":true,\"names\":[\"A \\\"q\\\"\"],"
		"\"aors\":[\"sip:a@x\"]}],"
		"\"streams\":[{\"id\":\"t1\",\"session_id\":\"s1\"}],"
		"\"participantstreamassoc\":[{\"participant_id\":\"p1\",\"send\":[\"t1\"],"
		"\"recv\":[]}],"
		"\"extensions\":[{\"parent\":\"participant\",\"parent_id\":\"p1\",\"ns\":\"urn:v\","
		"\"name\":\"x\",\"xml\":\"<v:x xmlns:v='urn:v'>1</v:x>\"}],"
		"\"context\":[],\"warnings\":[\"stream 't1' has no label\"]}";
	struct siprec_metadata *md;
	struct json_object *o;
	char *json = NULL;

	assert_int_equal(siprec_metadata_parse(xml, strlen(xml), NULL, &md), 0);
	assert_int_equal(siprec_metadata_to_json(md, &json), 0);
	assert_string_equal(json, expected);
	o = json_tokener_parse(json);
	assert_non_null(o);
	json_object_put(o);
	free(json);
	siprec_metadata_free(md);
}

static void test_warning_cap(void **state)
{
	char xml[8192];
	size_t n = (size_t)snprintf(xml, sizeof(xml), REC_OPEN SESSION);
	struct siprec_metadata *md;
	struct siprec_limits lim = SIPREC_LIMITS_DEFAULT;

	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(xml + n, sizeof(xml) - n, "<stream stream_id='t%d'/>", i);
	n += (size_t)snprintf(xml + n, sizeof(xml) - n, "</recording>");
	lim.max_warnings = 5;
	assert_int_equal(siprec_metadata_parse(xml, n, &lim, &md), 0);
	assert_int_equal(md->n_streams, 40);
	assert_int_equal(md->warnings.n, 5);
	assert_int_equal(md->n_warnings_dropped, 35);
	siprec_metadata_free(md);
}

/* Every dialect maps to the one model: participants with AoRs and names, streams with labels
 * and senders, vendor correlation ids (docs/METADATA.md "Dialects"). */
static void test_dialects(void **state)
{
	static const struct {
		const char *xml, *dialect;
		size_t n_participants;
		const char *senders, *first_name, *context, *warning;
	} t[] = {
		{"@broadworks-recording-metadata.xml", "recording_metadata", 2,
		 "1=sip:+15551230042@sbc.example.com;user=phone", "Agent 42",
		 "vendor-call-id=1142208:1|broadworks-tracking-id=1473743407:0", NULL},
		{"@webex-recording-metadata-4.0.xml", "recording_metadata", 2,
		 "1=sip:+14085550100@webex.example.com,2=tel:+14085550199", "Pat User", "", NULL},
		/* BroadWorks R22+ shape: stream ids in <id> children of <send> (one each) */
		{"<recording_metadata xmlns='urn:ietf:params:xml:ns:siprec'><dataMode>complete"
		 "</dataMode><recording id='r'><requestor>SRC</requestor></recording>"
		 "<session id='s'/><participant id='a' session='s'><aor>sip:a@x</aor>"
		 "<send><id>t1</id><id>t3</id></send></participant>"
		 "<participant id='b' session='s'><aor>sip:b@x</aor><send> <id>t2</id> </send>"
		 "</participant><stream id='t1' session='s'><label>1</label></stream>"
		 "<stream id='t2' session='s'><label>2</label></stream>"
		 "<stream id='t3' session='s'><label>3</label></stream></recording_metadata>",
		 "recording_metadata", 2, "1=sip:a@x,2=sip:b@x,3=sip:a@x", NULL, "", NULL},
		{"@acme-avaya-ucid.xml", "rfc7865", 2,
		 "201835599=sip:31600000001@192.0.2.62,201835600=sip:33100000002@pbx.example.com",
		 "31600000001", "ucid=00FA0810030000000001A2;encoding=hex", NULL},
		{"@audiocodes.xml", "rfc7865", 2, "1=1000@10.33.2.40", "Alice Agent",
		 "ucid=FA080030C4E34B5B9E59", NULL},
		{"@genesys-uuid.xml", "rfc7865", 2, "1=sip:7001@genesys.example.com", "Agent 7001",
		 "genesys-uuid=01JQ8V6K4Q2N3T5W7Y9A1C3E5G|genesys-connid=006e02a6b5e4c123", NULL},
		{"@stray-ampersand.xml", "rfc7865", 2,
		 "1=sip:support@att.example.com,2=sip:bob@example.com", "AT&T Support", "",
		 "recovered by escaping 1 stray '&'"},
		/* Oracle/Acme <apkt:header label=P-Asserted-Identity>: unquoted values quoted */
		{"<recording xmlns='urn:ietf:params:xml:ns:recording:1'><datamode>complete"
		 "</datamode><session session_id=s1/><participant participant_id=p1>"
		 "<nameID aor=sip:a@x><name>A &amp; B</name></nameID><x:h xmlns:x='urn:x' "
		 "label=P-Asserted-Identity><ucid>U1</ucid></x:h></participant>"
		 "<stream stream_id=t1 session_id='s1'><label>1</label></stream>"
		 "<participantstreamassoc participant_id=p1><send>t1</send>"
		 "</participantstreamassoc></recording>",
		 "rfc7865", 1, "1=sip:a@x", "A & B", "ucid=U1",
		 "recovered by quoting 6 attribute values"},
		{"<recording xmlns='urn:ietf:params:xml:ns:recording:1'><participant>"
		 "</recording>",
		 "unparsed", 0, "", NULL, "", "nothing recovered, raw document kept"},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct siprec_metadata *md = NULL;
		size_t len;
		char *buf = load(t[i].xml, &len), *ctx = NULL;
		size_t off = 0;

		print_message("%s\n", t[i].xml);
		assert_int_equal(siprec_metadata_parse_lenient(buf, len, NULL, &md), 0);
		free(buf);
		assert_string_equal(md->dialect, t[i].dialect);
		assert_int_equal(md->n_participants, t[i].n_participants);
		check_senders(md, t[i].senders, t[i].xml);
		if (t[i].first_name) {
			assert_true(md->participants[0].names.n > 0);
			assert_string_equal(md->participants[0].names.v[0], t[i].first_name);
		}
		ctx = calloc(1, 1024);
		assert_non_null(ctx);
		for (size_t k = 0; k < md->context.n; k++)
			off += (size_t)snprintf(ctx + off, 1024 - off, "%s%s", k ? "|" : "",
						md->context.v[k]);
		assert_string_equal(ctx, t[i].context);
		free(ctx);
		if (t[i].warning) {
			bool found = false;

			for (size_t k = 0; k < md->warnings.n; k++)
				found |= strstr(md->warnings.v[k], t[i].warning) != NULL;
			if (!found)
				fail_msg("%s: no warning '%s'", t[i].xml, t[i].warning);
		}
		siprec_metadata_free(md);
	}
	/* the strict parser keeps refusing what is not well-formed (the fuzz contract) */
	{
		struct siprec_metadata *md = NULL;
		size_t len;
		char *buf = load("@stray-ampersand.xml", &len);

		assert_int_equal(siprec_metadata_parse(buf, len, NULL, &md), -EBADMSG);
		free(buf);
	}
}

/* The "sip-headers" dialect: CUCM's From URI parameters (the use-case examples of Cisco's "Unified
 * CM 15 Recording Use Cases" guide: one dialog per voice, x-nearend / x-farend) and one
 * X-Cisco-Recording-Participant header per party. */
static void test_sip_headers(void **state)
{
	static const char cucm[] =
		"INVITE sip:rec@192.0.2.9 SIP/2.0\r\n"
		"Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK1\r\n"
		"From: <sip:2000@ucm1;x-farend;x-refci=ci2;x-nearenddevice=SEPB;"
		"x-farendrefci=ci1;x-farenddevice=SEPA;x-farendaddr=1000>;tag=fromtag2\r\n"
		"To: <sip:rec@192.0.2.9>\r\nCall-ID: c1@ucm1\r\nCSeq: 1 INVITE\r\n"
		"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
	static const char cube[] =
		"INVITE sip:rec@192.0.2.9 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK2\r\n"
		"From: <sip:cube@192.0.2.1>;tag=t\r\nTo: <sip:rec@192.0.2.9>\r\n"
		"Call-ID: c2@cube\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
		"X-Cisco-Recording-Participant: \"Alice Agent\" "
		"<sip:1001@cube.example.com>;label=1\r\n"
		"X-Cisco-Recording-Participant: <sip:+15550001@carrier.example.net>;label=2\r\n"
		"Content-Length: 0\r\n\r\n";
	static const char plain[] = "INVITE sip:rec@192.0.2.9 SIP/2.0\r\n"
				    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK3\r\n"
				    "From: <sip:src@192.0.2.1>;tag=t\r\nTo: <sip:rec@192.0.2.9>\r\n"
				    "Call-ID: c3@src\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
				    "Content-Length: 0\r\n\r\n";
	struct sip_msg *m = calloc(1, sizeof(*m));
	struct siprec_metadata *md = NULL;
	const struct siprec_stream_md *st;

	assert_non_null(m);
	assert_int_equal(sip_msg_parse(m, cucm, sizeof(cucm) - 1, NULL), 0);
	assert_int_equal(siprec_metadata_from_headers(m, NULL, &md), 1);
	assert_string_equal(md->dialect, "sip-headers");
	assert_int_equal(md->n_participants, 2);
	assert_string_equal(md->participants[0].aors.v[0], "sip:2000@ucm1");
	assert_string_equal(md->participants[0].names.v[0], "SEPB");
	assert_string_equal(md->participants[1].aors.v[0], "1000");
	assert_string_equal(md->participants[1].names.v[0], "SEPA");
	/* x-farend: this dialog carries the far end's voice, on its one unlabelled m= line */
	st = siprec_metadata_stream_by_label(md, str_from_cstr("m0"));
	assert_non_null(st);
	assert_string_equal(siprec_metadata_sender_of(md, st->id)->id, "farend");
	assert_int_equal(md->context.n, 2);
	assert_string_equal(md->context.v[0], "cisco-refci=ci2");
	assert_string_equal(md->context.v[1], "cisco-farendrefci=ci1");
	siprec_metadata_free(md);

	{
		/* the near end's leg: its sender is the participant added first (a pointer to it
		 * would not survive adding the far end) */
		const char *at = strstr(cucm, "x-farend;");
		char *near = NULL;

		assert_true(asprintf(&near, "%.*sx-nearend%s", (int)(at - cucm), cucm,
				     at + strlen("x-farend")) > 0);
		memset(m, 0, sizeof(*m));
		assert_int_equal(sip_msg_parse(m, near, strlen(near), NULL), 0);
		assert_int_equal(siprec_metadata_from_headers(m, NULL, &md), 1);
		st = siprec_metadata_stream_by_label(md, str_from_cstr("m0"));
		assert_non_null(st);
		assert_string_equal(siprec_metadata_sender_of(md, st->id)->id, "nearend");
		siprec_metadata_free(md);
		free(near);
	}
	{
		/* Cisco CUBE network-based recording: bare addr-spec, media-index names the m= line
		 */
		static const char nbr[] =
			"INVITE sip:22222@192.0.2.9 SIP/2.0\r\n"
			"Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK4\r\n"
			"X-Cisco-Recording-Participant: sip:708090@192.0.2.5;media-index=\"0\"\r\n"
			"X-Cisco-Recording-Participant: sip:10000@192.0.2.32;media-index=\"1 "
			"3\"\r\n"
			"From: <sip:192.0.2.1>;tag=t\r\nTo: <sip:22222@192.0.2.9>\r\n"
			"Call-ID: c4@cube\r\nCSeq: 101 INVITE\r\nMax-Forwards: 70\r\n"
			"Content-Length: 0\r\n\r\n";

		memset(m, 0, sizeof(*m));
		assert_int_equal(sip_msg_parse(m, nbr, sizeof(nbr) - 1, NULL), 0);
		assert_int_equal(siprec_metadata_from_headers(m, NULL, &md), 1);
		/* a video call: one party's audio and video m= lines in one media-index */
		check_senders(md,
			      "m0=sip:708090@192.0.2.5,m1=sip:10000@192.0.2.32,"
			      "m3=sip:10000@192.0.2.32",
			      "cube nbr");
		assert_int_equal(md->n_psas, 2);
		siprec_metadata_free(md);
	}

	memset(m, 0, sizeof(*m));
	assert_int_equal(sip_msg_parse(m, cube, sizeof(cube) - 1, NULL), 0);
	assert_int_equal(siprec_metadata_from_headers(m, NULL, &md), 1);
	assert_int_equal(md->n_participants, 2);
	assert_string_equal(md->participants[0].names.v[0], "Alice Agent");
	check_senders(md, "1=sip:1001@cube.example.com,2=sip:+15550001@carrier.example.net",
		      "cube headers");
	siprec_metadata_free(md);

	memset(m, 0, sizeof(*m));
	md = (void *)0x1;
	assert_int_equal(sip_msg_parse(m, plain, sizeof(plain) - 1, NULL), 0);
	assert_int_equal(siprec_metadata_from_headers(m, NULL, &md), 0);
	assert_ptr_equal(md, (void *)0x1);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_rfc_fields),
		cmocka_unit_test(test_oracle_extension),
		cmocka_unit_test(test_merge_partial),
		cmocka_unit_test(test_merge_replace_send),
		cmocka_unit_test(test_sender_after_transfer),
		cmocka_unit_test(test_merge_complete_and_limits),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_json_escapes),
		cmocka_unit_test(test_parser_reused),
		cmocka_unit_test(test_declared_encodings),
		cmocka_unit_test(test_warning_cap),
		cmocka_unit_test(test_dialects),
		cmocka_unit_test(test_sip_headers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
