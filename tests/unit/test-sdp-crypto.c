// SPDX-License-Identifier: MIT
/*
 * Unit tests for SDES (RFC 4568): a=crypto line parsing (valid and malformed), the suite
 * chooser, the 488 Warning suite list and answer key generation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "siprecd/sdp.h"

/* base64 of bytes 0, 1, 2, ... n-1 */
#define K30 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"
#define K28 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw=="
#define K44 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKis="
#define K46 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLQ=="
#define K38 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCU="
#define K29 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxw="
#define K31 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg=="

#define S80 SDP_SUITE_AES_CM_128_HMAC_SHA1_80

static void test_parse_table(void **state)
{
	static const struct {
		const char *line;
		int ret;
		uint32_t tag;
		enum sdp_crypto_suite_id suite;
		unsigned n_keys;
		uint64_t lifetime; /* of the first key */
		uint64_t mki;
		uint8_t mki_len;
		unsigned flags;
	} t[] = {
		/* valid */
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" K30, 0, 1, S80, 1, 0, 0, 0, 0},
		{"  1 AES_CM_128_HMAC_SHA1_80 inline:" K30 "  ", 0, 1, S80, 1, 0, 0, 0, 0},
		{"999999999 AES_CM_128_HMAC_SHA1_32 inline:" K30, 0, 999999999,
		 SDP_SUITE_AES_CM_128_HMAC_SHA1_32, 1, 0, 0, 0, 0},
		{"2 AEAD_AES_128_GCM inline:" K28, 0, 2, SDP_SUITE_AEAD_AES_128_GCM, 1, 0, 0, 0, 0},
		/* padding dropped by the peer */
		{"2 AEAD_AES_128_GCM inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw", 0, 2,
		 SDP_SUITE_AEAD_AES_128_GCM, 1, 0, 0, 0, 0},
		{"3 AEAD_AES_256_GCM inline:" K44, 0, 3, SDP_SUITE_AEAD_AES_256_GCM, 1, 0, 0, 0, 0},
		{"4 AES_256_CM_HMAC_SHA1_80 inline:" K46, 0, 4, SDP_SUITE_AES_256_CM_HMAC_SHA1_80,
		 1, 0, 0, 0, 0},
		{"5 AES_192_CM_HMAC_SHA1_32 inline:" K38, 0, 5, SDP_SUITE_AES_192_CM_HMAC_SHA1_32,
		 1, 0, 0, 0, 0},
		/* lifetime and MKI */
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" K30 "|2^20", 0, 1, S80, 1, 1 << 20, 0, 0, 0},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" K30 "|1066", 0, 1, S80, 1, 1066, 0, 0, 0},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" K30 "|1:4", 0, 1, S80, 1, 0, 1, 4, 0},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" K30 "|2^31|255:1", 0, 1, S80, 1, 1u << 31, 255,
		 1, 0},
		/* several keys, each with an MKI of one length (§6.1) */
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" K30 "|2^20|1:4;inline:" K30 "|2^20|2:4", 0, 1,
		 S80, 2, 1 << 20, 1, 4, 0},
		/* session parameters */
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" K30 " UNENCRYPTED_SRTCP UNENCRYPTED_SRTP", 0,
		 1, S80, 1, 0, 0, 0, SDP_CRYPTO_UNENCRYPTED_SRTCP | SDP_CRYPTO_UNENCRYPTED_SRTP},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" K30 " UNAUTHENTICATED_SRTP KDR=10 WSH=128", 0,
		 1, S80, 1, 0, 0, 0,
		 SDP_CRYPTO_UNAUTHENTICATED_SRTP | SDP_CRYPTO_KDR | SDP_CRYPTO_WSH},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" K30 " FEC_ORDER=FEC_SRTP FEC_KEY=inline:" K30,
		 0, 1, S80, 1, 0, 0, 0, SDP_CRYPTO_FEC_ORDER | SDP_CRYPTO_FEC_KEY},
		{"1 AES_CM_128_HMAC_SHA1_80 inline:" K30 " FOO=1 BAR", 0, 1, S80, 1, 0, 0, 0,
		 SDP_CRYPTO_UNKNOWN_PARAM},

		/* malformed */
		{.line = "", .ret = -EBADMSG},
		{.line = "1 AES_CM_128_HMAC_SHA1_80", .ret = -EBADMSG},
		{.line = "1 AES_CM_128_HMAC_SHA1_80 " K30, .ret = -EBADMSG}, /* missing inline: */
		{.line = "1 AES_CM_128_HMAC_SHA1_80 uri:" K30,
		 .ret = -EBADMSG}, /* other key method */
		{.line = "0 AES_CM_128_HMAC_SHA1_80 inline:" K30,
		 .ret = -EBADMSG}, /* tag out of range */
		{.line = "1000000000 AES_CM_128_HMAC_SHA1_80 inline:" K30,
		 .ret = -EBADMSG}, /* 10 digits */
		{.line = "-1 AES_CM_128_HMAC_SHA1_80 inline:" K30, .ret = -EBADMSG},
		{.line = "x AES_CM_128_HMAC_SHA1_80 inline:" K30, .ret = -EBADMSG},
		{.line = "1 AES_CM_128_HMAC_SHA1_80 inline:" K29,
		 .ret = -EBADMSG}, /* wrong key length */
		{.line = "1 AES_CM_128_HMAC_SHA1_80 inline:" K31, .ret = -EBADMSG},
		{.line = "1 AES_CM_128_HMAC_SHA1_80 inline:" K46, .ret = -EBADMSG},
		{.line = "1 AEAD_AES_128_GCM inline:" K30, .ret = -EBADMSG},
		{.line = "1 AES_CM_128_HMAC_SHA1_80 "
			 "inline:AAEC*wQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd",
		 .ret = -EBADMSG}, /* bad base64 */
		{.line = "1 AES_CM_128_HMAC_SHA1_80 "
			 "inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxw=d",
		 .ret = -EBADMSG},
		{.line = "1 AES_CM_128_HMAC_SHA1_80 inline:", .ret = -EBADMSG},
		{.line = "1 AES_CM_128_HMAC_SHA1_80 inline:" K30 "|", .ret = -EBADMSG},
		{.line = "1 AES_CM_128_HMAC_SHA1_80 inline:" K30 "|2^64", .ret = -EBADMSG},
		{.line = "1 AES_CM_128_HMAC_SHA1_80 inline:" K30 "|0", .ret = -EBADMSG},
		{.line = "1 AES_CM_128_HMAC_SHA1_80 inline:" K30 "|2^20|1:0", .ret = -EBADMSG},
		{.line = "1 AES_CM_128_HMAC_SHA1_80 inline:" K30 "|2^20|1:129", .ret = -EBADMSG},
		{.line = "1 AES_CM_128_HMAC_SHA1_80 inline:" K30 "|2^20|256:1",
		 .ret = -EBADMSG}, /* MKI > 1 byte */
		{.line = "1 AES_CM_128_HMAC_SHA1_80 inline:" K30 "|2^20|1:4|x", .ret = -EBADMSG},
		{.line = "1 AES_CM_128_HMAC_SHA1_80 inline:" K30 ";inline:" K30,
		 .ret = -EBADMSG}, /* no MKI */
		{.line = "1 AES_CM_128_HMAC_SHA1_80 inline:" K30 "|1:4;inline:" K30 "|2:2",
		 .ret = -EBADMSG},
		{.line = "1 AES_CM_128_HMAC_SHA1_80 inline:" K30 " KDR=25", .ret = -EBADMSG},
		{.line = "1 AES_CM_128_HMAC_SHA1_80 inline:" K30 " WSH=63", .ret = -EBADMSG},
		{.line = "1 AES_CM_128_HMAC_SHA1_80 inline:" K30 " FEC_ORDER=X", .ret = -EBADMSG},
		/* unknown suite: well-formed, not ours */
		{.line = "1 F8_128_HMAC_SHA1_80 inline:" K30, .ret = -ENOTSUP},
		{.line = "1 aes_cm_128_hmac_sha1_80 inline:" K30,
		 .ret = -ENOTSUP}, /* §9.2: case-sensitive */
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct sdp_crypto c;

		memset(&c, 0xaa, sizeof(c));
		print_message("crypto %zu: %s\n", i, t[i].line);
		assert_int_equal(sdp_crypto_parse(str_from_cstr(t[i].line), &c), t[i].ret);
		if (t[i].ret < 0) {
			assert_int_equal(c.tag, 0xaaaaaaaa); /* untouched */
			continue;
		}
		assert_int_equal(c.tag, t[i].tag);
		assert_int_equal(c.suite->id, t[i].suite);
		assert_int_equal(c.n_keys, t[i].n_keys);
		assert_int_equal(c.keys[0].lifetime, t[i].lifetime);
		assert_int_equal(c.keys[0].mki, t[i].mki);
		assert_int_equal(c.keys[0].mki_len, t[i].mki_len);
		assert_int_equal(c.params.flags, t[i].flags);
		assert_int_equal(c.keys[0].key_salt_len, c.suite->key_len + c.suite->salt_len);
		for (unsigned k = 0; k < c.keys[0].key_salt_len; k++)
			assert_int_equal(c.keys[0].key_salt[k], k);
		sdp_crypto_wipe(&c);
		assert_int_equal(c.keys[0].key_salt[1], 0);
	}
}

static void test_params_values(void **state)
{
	struct sdp_crypto c;

	assert_int_equal(
		sdp_crypto_parse(STR_LIT("1 AES_CM_128_HMAC_SHA1_80 inline:" K30
					 "|2^20|2:4;inline:" K30 "|2^20|3:4 KDR=10 WSH=128"),
				 &c),
		0);
	assert_int_equal(c.params.kdr, 10);
	assert_int_equal(c.params.wsh, 128);
	assert_int_equal(c.keys[1].mki, 3);
	assert_false(c.params.fec_srtp_first);
	sdp_crypto_wipe(&c);
	sdp_crypto_wipe(NULL);
}

static void test_suites(void **state)
{
	static const struct {
		enum sdp_crypto_suite_id id;
		const char *name;
		uint8_t key, salt, tag;
		bool aead, supported;
	} t[] = {
		{SDP_SUITE_AES_CM_128_HMAC_SHA1_80, "AES_CM_128_HMAC_SHA1_80", 16, 14, 10, false,
		 true},
		{SDP_SUITE_AES_CM_128_HMAC_SHA1_32, "AES_CM_128_HMAC_SHA1_32", 16, 14, 4, false,
		 true},
		{SDP_SUITE_AES_192_CM_HMAC_SHA1_80, "AES_192_CM_HMAC_SHA1_80", 24, 14, 10, false,
		 false},
		{SDP_SUITE_AES_256_CM_HMAC_SHA1_32, "AES_256_CM_HMAC_SHA1_32", 32, 14, 4, false,
		 false},
		{SDP_SUITE_AEAD_AES_128_GCM, "AEAD_AES_128_GCM", 16, 12, 16, true, true},
		{SDP_SUITE_AEAD_AES_256_GCM, "AEAD_AES_256_GCM", 32, 12, 16, true, true},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const struct sdp_crypto_suite *s = sdp_crypto_suite_by_id(t[i].id);

		assert_non_null(s);
		assert_ptr_equal(s, sdp_crypto_suite_by_name(str_from_cstr(t[i].name)));
		assert_string_equal(s->name, t[i].name);
		assert_int_equal(s->key_len, t[i].key);
		assert_int_equal(s->salt_len, t[i].salt);
		assert_int_equal(s->tag_len, t[i].tag);
		assert_int_equal(s->aead, t[i].aead);
		assert_int_equal(s->supported, t[i].supported);
	}
	assert_null(sdp_crypto_suite_by_id(_SDP_SUITE_MAX));
	assert_null(sdp_crypto_suite_by_name(STR_LIT("NULL")));
}

/* Parses an offer whose only m= section carries the given a=crypto lines ("\n"-separated).
 * The session points into a static buffer: valid until the next call. */
static struct sdp_session *offer_with(const char *crypto_lines)
{
	static char buf[2048];
	struct sdp_session *s = calloc(1, sizeof(*s));
	int n;

	assert_non_null(s);
	n = snprintf(buf, sizeof(buf),
		     "v=0\no=- 1 1 IN IP4 h\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\n"
		     "m=audio 1000 RTP/SAVP 0\n%s",
		     crypto_lines);
	assert_true(n > 0 && (size_t)n < sizeof(buf));
	assert_int_equal(sdp_parse(buf, (size_t)n, NULL, s), 0);
	return s;
}

static void test_choose(void **state)
{
	static const enum sdp_crypto_suite_id only_gcm[] = {SDP_SUITE_AEAD_AES_128_GCM,
							    SDP_SUITE_AEAD_AES_256_GCM};
	static const enum sdp_crypto_suite_id only_256cm[] = {SDP_SUITE_AES_256_CM_HMAC_SHA1_80};
	static const struct {
		const char *lines;
		const enum sdp_crypto_suite_id *allowed;
		size_t n_allowed;
		int ret;
		uint32_t tag;
		const char *unsupported;
	} t[] = {
		/* offer order wins over our list order */
		{"a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:" K30
		 "\na=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:" K30 "\n",
		 NULL, 0, 0, 1, ""},
		/* unsupported, malformed and unknown-parameter lines are passed over */
		{"a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:" K46
		 "\na=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:bad\n"
		 "a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:" K30 " FOO\n"
		 "a=crypto:4 AEAD_AES_256_GCM inline:" K44 "\n",
		 NULL, 0, 0, 4, "AES_256_CM_HMAC_SHA1_80"},
		{"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" K30
		 "\na=crypto:7 AEAD_AES_128_GCM inline:" K28 "\n",
		 only_gcm, 2, 0, 7, "AES_CM_128_HMAC_SHA1_80"},
		/* a suite we list but the media layer cannot do is still refused */
		{"a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:" K46 "\n", only_256cm, 1, -ENOTSUP, 0,
		 "AES_256_CM_HMAC_SHA1_80"},
		{"a=crypto:1 F8_128_HMAC_SHA1_80 inline:" K30
		 "\na=crypto:2 AES_192_CM_HMAC_SHA1_80 inline:" K38
		 "\na=crypto:3 F8_128_HMAC_SHA1_80 inline:" K30 "\na=crypto:4 BAD\"NAME inline:x\n",
		 NULL, 0, -ENOTSUP, 0, "F8_128_HMAC_SHA1_80, AES_192_CM_HMAC_SHA1_80"},
		{"", NULL, 0, -ENOENT, 0, ""},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct sdp_session *s = offer_with(t[i].lines);
		struct sdp_crypto c = {.tag = 12345};
		char warn[256];

		print_message("choose %zu\n", i);
		assert_int_equal(sdp_crypto_choose(&s->media[0], t[i].allowed, t[i].n_allowed, &c),
				 t[i].ret);
		assert_int_equal(c.tag, t[i].ret == 0 ? t[i].tag : 12345);
		assert_int_equal(sdp_crypto_format_unsupported(&s->media[0], t[i].allowed,
							       t[i].n_allowed, warn, sizeof(warn)),
				 (int)strlen(t[i].unsupported));
		assert_string_equal(warn, t[i].unsupported);
		sdp_crypto_wipe(&c);
		free(s);
	}
}

/* Session parameters the receiver cannot honour (KDR != 0, WSH > 32767) and, under a
 * protection policy (SRTP_POLICY=required), UNENCRYPTED/UNAUTHENTICATED_SRTP: such a line is
 * passed over for the next one, and when none is left the reason names the parameter. */
static void test_choose_policy(void **state)
{
	static const struct {
		const char *lines;
		bool protect;
		int ret;
		uint32_t tag;
		const char *why; /* substring of the reason, NULL = no reason */
	} t[] = {
		{"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" K30 " KDR=10\n", false, -ENOTSUP, 0,
		 "KDR"},
		{"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" K30
		 " KDR=10\na=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:" K30 " KDR=0 WSH=256\n",
		 false, 0, 2, NULL},
		{"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" K30 " WSH=40000\n", false, -ENOTSUP,
		 0, "WSH"},
		{"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" K30 " UNENCRYPTED_SRTP\n", false, 0,
		 1, NULL},
		{"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" K30 " UNENCRYPTED_SRTP\n", true,
		 -ENOTSUP, 0, "UNENCRYPTED_SRTP"},
		{"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" K30
		 " UNAUTHENTICATED_SRTP\na=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:" K30
		 " UNENCRYPTED_SRTCP\n",
		 true, 0, 2, NULL},
		{"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" K30 " UNAUTHENTICATED_SRTP\n", true,
		 -ENOTSUP, 0, "UNAUTHENTICATED_SRTP"},
		{"a=crypto:1 F8_128_HMAC_SHA1_80 inline:" K30 "\n", true, -ENOTSUP, 0, NULL},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct sdp_session *s = offer_with(t[i].lines);
		struct sdp_crypto c = {.tag = 12345};
		const struct sdp_crypto_policy pol = {.require_protection = t[i].protect};
		const char *why = NULL;

		print_message("policy %zu\n", i);
		assert_int_equal(sdp_crypto_choose_policy(&s->media[0], NULL, 0, &pol, &c, &why),
				 t[i].ret);
		assert_int_equal(c.tag, t[i].ret == 0 ? t[i].tag : 12345);
		if (t[i].why) {
			assert_non_null(why);
			assert_non_null(strstr(why, t[i].why));
		} else {
			assert_null(why);
		}
		sdp_crypto_wipe(&c);
		free(s);
	}
}

static void test_format_nobufs(void **state)
{
	struct sdp_session *s = offer_with("a=crypto:1 F8_128_HMAC_SHA1_80 inline:" K30 "\n");
	char buf[20];

	assert_int_equal(sdp_crypto_format_unsupported(&s->media[0], NULL, 0, buf, 19), -ENOBUFS);
	assert_int_equal(sdp_crypto_format_unsupported(&s->media[0], NULL, 0, buf, sizeof(buf)),
			 19);
	free(s);
}

static void test_answer_make(void **state)
{
	struct sdp_crypto_answer *a = NULL, *b = NULL;
	struct sdp_crypto_params p = {.flags = SDP_CRYPTO_UNENCRYPTED_SRTCP | SDP_CRYPTO_KDR |
					       SDP_CRYPTO_FEC_ORDER | SDP_CRYPTO_UNKNOWN_PARAM,
				      .kdr = 3};
	struct sdp_crypto back;

	assert_int_equal(sdp_crypto_answer_make(S80, 5, NULL, &a), 0);
	assert_int_equal(sdp_crypto_answer_make(S80, 5, NULL, &b), 0);
	assert_int_equal(a->key_salt_len, 30);
	assert_int_equal(strncmp(a->value, "5 AES_CM_128_HMAC_SHA1_80 inline:", 33), 0);
	assert_int_equal(a->value_len, 33 + 40);
	assert_int_equal(strlen(a->value), a->value_len);
	/* two answers never share a key */
	assert_memory_not_equal(a->key_salt, b->key_salt, 30);
	assert_string_not_equal(a->value, b->value);
	/* what we send parses back to the same key */
	assert_int_equal(sdp_crypto_parse(str_make(a->value, a->value_len), &back), 0);
	assert_int_equal(back.tag, 5);
	assert_memory_equal(back.keys[0].key_salt, a->key_salt, 30);
	sdp_crypto_wipe(&back);
	a = sdp_crypto_answer_free(a);
	assert_null(a);
	b = sdp_crypto_answer_free(b);
	assert_null(sdp_crypto_answer_free(NULL));

	for (enum sdp_crypto_suite_id id = 0; id < _SDP_SUITE_MAX; id++) {
		assert_int_equal(sdp_crypto_answer_make(id, 999999999, &p, &a), 0);
		assert_int_equal(sdp_crypto_parse(str_make(a->value, a->value_len), &back), 0);
		assert_int_equal(back.suite->id, id);
		/* only declarative parameters are written */
		assert_int_equal(back.params.flags, SDP_CRYPTO_UNENCRYPTED_SRTCP | SDP_CRYPTO_KDR);
		assert_int_equal(back.params.kdr, 3);
		assert_memory_equal(back.keys[0].key_salt, a->key_salt, a->key_salt_len);
		sdp_crypto_wipe(&back);
		a = sdp_crypto_answer_free(a);
	}
	assert_int_equal(sdp_crypto_answer_make(S80, 0, NULL, &a), -EINVAL);
	assert_int_equal(sdp_crypto_answer_make(S80, 1000000000, NULL, &a), -EINVAL);
	assert_int_equal(sdp_crypto_answer_make(_SDP_SUITE_MAX, 1, NULL, &a), -EINVAL);
	assert_null(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),   cmocka_unit_test(test_params_values),
		cmocka_unit_test(test_suites),	      cmocka_unit_test(test_choose),
		cmocka_unit_test(test_choose_policy), cmocka_unit_test(test_format_nobufs),
		cmocka_unit_test(test_answer_make),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
