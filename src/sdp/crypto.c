// SPDX-License-Identifier: MIT
/*
 * SDES (RFC 4568) for the recording server: the suite table, the a=crypto line parser, the
 * chooser (offer order wins, RFC 4568 §7.1.1) and our answer key. Key bytes only ever live in
 * structs that are wiped with OPENSSL_cleanse, and are never logged.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "siprecd/macro.h"
#include "siprecd/sdp.h"

/* RFC 4568 §6.2 (AES_CM_128), RFC 6188 (AES_192/256_CM), RFC 7714 §14.2 (AEAD_AES_*_GCM).
 * "supported" follows DESIGN.md: the profiles the media layer maps to libsrtp2. */
static const struct sdp_crypto_suite suites[_SDP_SUITE_MAX] = {
	[SDP_SUITE_AES_CM_128_HMAC_SHA1_80] = {SDP_SUITE_AES_CM_128_HMAC_SHA1_80,
					       "AES_CM_128_HMAC_SHA1_80", 16, 14, 10, false, true},
	[SDP_SUITE_AES_CM_128_HMAC_SHA1_32] = {SDP_SUITE_AES_CM_128_HMAC_SHA1_32,
					       "AES_CM_128_HMAC_SHA1_32", 16, 14, 4, false, true},
	[SDP_SUITE_AES_192_CM_HMAC_SHA1_80] = {SDP_SUITE_AES_192_CM_HMAC_SHA1_80,
					       "AES_192_CM_HMAC_SHA1_80", 24, 14, 10, false, false},
	[SDP_SUITE_AES_192_CM_HMAC_SHA1_32] = {SDP_SUITE_AES_192_CM_HMAC_SHA1_32,
					       "AES_192_CM_HMAC_SHA1_32", 24, 14, 4, false, false},
	[SDP_SUITE_AES_256_CM_HMAC_SHA1_80] = {SDP_SUITE_AES_256_CM_HMAC_SHA1_80,
					       "AES_256_CM_HMAC_SHA1_80", 32, 14, 10, false, false},
	[SDP_SUITE_AES_256_CM_HMAC_SHA1_32] = {SDP_SUITE_AES_256_CM_HMAC_SHA1_32,
					       "AES_256_CM_HMAC_SHA1_32", 32, 14, 4, false, false},
	[SDP_SUITE_AEAD_AES_128_GCM] = {SDP_SUITE_AEAD_AES_128_GCM, "AEAD_AES_128_GCM", 16, 12, 16,
					true, true},
	[SDP_SUITE_AEAD_AES_256_GCM] = {SDP_SUITE_AEAD_AES_256_GCM, "AEAD_AES_256_GCM", 32, 12, 16,
					true, true},
};

const struct sdp_crypto_suite *sdp_crypto_suite_by_name(struct str name)
{
	/* RFC 4568 §9.2: suite names are case-sensitive */
	for (size_t i = 0; i < ARRAY_SIZE(suites); i++)
		if (str_eq_cstr(name, suites[i].name))
			return &suites[i];
	return NULL;
}

const struct sdp_crypto_suite *sdp_crypto_suite_by_id(enum sdp_crypto_suite_id id)
{
	if ((unsigned)id >= ARRAY_SIZE(suites))
		return NULL;
	return &suites[id];
}

static bool is_b64(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

/* Strict base64 with optional '=' padding (some SDES peers drop it). Writes exactly want bytes
 * or fails. */
static int b64_decode_exact(struct str in, uint8_t *out, size_t want)
{
	char tmp[96];
	uint8_t dec[72];
	size_t n = in.len, pad = 0, full, bytes;
	int r = -EBADMSG;

	while (n > 0 && in.s[n - 1] == '=' && pad < 2) {
		n--;
		pad++;
	}
	if (n == 0 || n % 4 == 1 || n > 88 || (pad && (n + pad) % 4 != 0))
		return -EBADMSG;
	for (size_t i = 0; i < n; i++)
		if (!is_b64(in.s[i]))
			return -EBADMSG;
	bytes = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
	if (bytes != want)
		return -EBADMSG;
	memcpy(tmp, in.s, n);
	for (full = n; full % 4; full++)
		tmp[full] = '=';
	if (EVP_DecodeBlock(dec, (const unsigned char *)tmp, (int)full) == (int)(full / 4 * 3)) {
		memcpy(out, dec, want);
		r = 0;
	}
	OPENSSL_cleanse(tmp, sizeof(tmp));
	OPENSSL_cleanse(dec, sizeof(dec));
	return r;
}

/* RFC 4568 §6.1: lifetime is decimal or "2^" exponent, in packets */
static int parse_lifetime(struct str v, uint64_t *ret)
{
	uint64_t n;

	if (v.len > 2 && v.s[0] == '2' && v.s[1] == '^') {
		if (str_to_u64(str_make(v.s + 2, v.len - 2), 63, &n) < 0)
			return -EBADMSG;
		*ret = UINT64_C(1) << n;
		return 0;
	}
	if (str_to_u64(v, UINT64_MAX, &n) < 0 || n == 0)
		return -EBADMSG;
	*ret = n;
	return 0;
}

/* "MKI:length", length 1..128 bytes, value must fit in length bytes */
static int parse_mki(struct str v, struct sdp_crypto_key *k)
{
	struct str val, len;
	uint64_t mki;
	uint32_t l;

	len = str_split(v, ':', &val);
	if (!len.s || str_to_u64(val, UINT64_MAX, &mki) < 0 || str_to_u32(len, 128, &l) < 0 ||
	    l == 0)
		return -EBADMSG;
	if (l < 8 && mki >> (8 * l) != 0)
		return -EBADMSG;
	k->mki = mki;
	k->mki_len = (uint8_t)l;
	return 0;
}

/* "inline:<key||salt>[|lifetime][|MKI:length]" */
static int parse_key_param(struct str v, const struct sdp_crypto_suite *suite,
			   struct sdp_crypto_key *k)
{
	struct str key, rest, f1, f2;

	if (!str_startswith_case(v, "inline:"))
		return -EBADMSG;
	v = str_make(v.s + 7, v.len - 7);
	rest = str_split(v, '|', &key);
	if (b64_decode_exact(key, k->key_salt, (size_t)suite->key_len + suite->salt_len) < 0)
		return -EBADMSG;
	k->key_salt_len = (uint8_t)(suite->key_len + suite->salt_len);
	if (!rest.s)
		return 0;
	rest = str_split(rest, '|', &f1);
	if (rest.s) {
		rest = str_split(rest, '|', &f2);
		if (rest.s || parse_lifetime(f1, &k->lifetime) < 0 || parse_mki(f2, k) < 0)
			return -EBADMSG;
		return 0;
	}
	/* one field: the MKI is the one with a colon */
	if (str_chr(f1, ':') >= 0)
		return parse_mki(f1, k);
	return parse_lifetime(f1, &k->lifetime);
}

/* RFC 4568 §6.3 session parameters */
static int parse_session_param(struct str t, struct sdp_crypto_params *p)
{
	struct str name, value;
	uint32_t u;

	value = str_split(t, '=', &name);
	if (!value.s) {
		if (str_eq_cstr(name, "UNENCRYPTED_SRTP"))
			p->flags |= SDP_CRYPTO_UNENCRYPTED_SRTP;
		else if (str_eq_cstr(name, "UNENCRYPTED_SRTCP"))
			p->flags |= SDP_CRYPTO_UNENCRYPTED_SRTCP;
		else if (str_eq_cstr(name, "UNAUTHENTICATED_SRTP"))
			p->flags |= SDP_CRYPTO_UNAUTHENTICATED_SRTP;
		else
			p->flags |= SDP_CRYPTO_UNKNOWN_PARAM;
		return 0;
	}
	if (str_eq_cstr(name, "KDR")) {
		if (str_to_u32(value, 24, &u) < 0)
			return -EBADMSG;
		p->kdr = (uint8_t)u;
		p->flags |= SDP_CRYPTO_KDR;
	} else if (str_eq_cstr(name, "WSH")) {
		/* §6.3.7: at least 64 */
		if (str_to_u32(value, UINT32_MAX, &u) < 0 || u < 64)
			return -EBADMSG;
		p->wsh = u;
		p->flags |= SDP_CRYPTO_WSH;
	} else if (str_eq_cstr(name, "FEC_ORDER")) {
		if (str_eq_cstr(value, "FEC_SRTP"))
			p->fec_srtp_first = true;
		else if (!str_eq_cstr(value, "SRTP_FEC"))
			return -EBADMSG;
		p->flags |= SDP_CRYPTO_FEC_ORDER;
	} else if (str_eq_cstr(name, "FEC_KEY")) {
		/* §6.3.6: FEC keys are not used by the recorder; only the syntax is checked */
		if (!str_startswith_case(value, "inline:"))
			return -EBADMSG;
		p->flags |= SDP_CRYPTO_FEC_KEY;
	} else {
		p->flags |= SDP_CRYPTO_UNKNOWN_PARAM;
	}
	return 0;
}

static int crypto_parse(struct str v, struct sdp_crypto *c)
{
	struct str tag, suite_name, keys, t;
	uint8_t mki_len = 0;
	int r;

	tag = str_next_token(&v);
	suite_name = str_next_token(&v);
	keys = str_next_token(&v);
	/* RFC 4568 §9.1: tag = 1*9DIGIT */
	if (!keys.s || tag.len > 9 || str_to_u32(tag, 999999999, &c->tag) < 0 || c->tag == 0)
		return -EBADMSG;
	if (!str_startswith_case(keys, "inline:"))
		return -EBADMSG;
	c->suite = sdp_crypto_suite_by_name(suite_name);
	if (!c->suite)
		return -ENOTSUP;

	while (keys.s) {
		struct str one;

		keys = str_split(keys, ';', &one);
		if (c->n_keys >= SDP_CRYPTO_MAX_KEYS)
			return -EBADMSG;
		r = parse_key_param(one, c->suite, &c->keys[c->n_keys]);
		if (r < 0)
			return r;
		c->n_keys++;
	}
	/* §6.1: with several keys each needs an MKI, all of the same length */
	if (c->n_keys > 1) {
		mki_len = c->keys[0].mki_len;
		for (unsigned i = 0; i < c->n_keys; i++)
			if (c->keys[i].mki_len == 0 || c->keys[i].mki_len != mki_len)
				return -EBADMSG;
	}
	while ((t = str_next_token(&v)).s) {
		r = parse_session_param(t, &c->params);
		if (r < 0)
			return r;
	}
	return 0;
}

int sdp_crypto_parse(struct str line_value, struct sdp_crypto *ret)
{
	struct sdp_crypto c = {0};
	int r;

	r = crypto_parse(str_trim(line_value), &c);
	if (r >= 0)
		*ret = c;
	OPENSSL_cleanse(&c, sizeof(c));
	return r;
}

void sdp_crypto_wipe(struct sdp_crypto *c)
{
	if (c)
		OPENSSL_cleanse(c, sizeof(*c));
}

static bool suite_allowed(const struct sdp_crypto_suite *s, const enum sdp_crypto_suite_id *allowed,
			  size_t n_allowed)
{
	if (!s || !s->supported)
		return false;
	if (!allowed)
		return true;
	for (size_t i = 0; i < n_allowed; i++)
		if (allowed[i] == s->id)
			return true;
	return false;
}

/* NULL when the receiver can honour c's session parameters under pol, else why not. */
static const char *params_refused(const struct sdp_crypto *c, const struct sdp_crypto_policy *pol)
{
	const struct sdp_crypto_params *p = &c->params;

	/* RFC 4568 §6.3.1: KDR=n re-derives session keys every 2^n packets; libsrtp2 only
	 * derives them once (KDR 0), so every packet after the first 2^n would fail. */
	if ((p->flags & SDP_CRYPTO_KDR) && p->kdr != 0)
		return "KDR (key derivation rate) other than 0 is not supported";
	if ((p->flags & SDP_CRYPTO_WSH) && p->wsh > SDP_CRYPTO_WSH_MAX)
		return "WSH (replay window) above 32767 is not supported";
	if (pol && pol->require_protection) {
		if (p->flags & SDP_CRYPTO_UNENCRYPTED_SRTP)
			return "UNENCRYPTED_SRTP refused with SRTP_POLICY=required";
		if (p->flags & SDP_CRYPTO_UNAUTHENTICATED_SRTP)
			return "UNAUTHENTICATED_SRTP refused with SRTP_POLICY=required";
	}
	return NULL;
}

int sdp_crypto_choose_policy(const struct sdp_media *m, const enum sdp_crypto_suite_id *allowed,
			     size_t n_allowed, const struct sdp_crypto_policy *pol,
			     struct sdp_crypto *ret, const char **ret_why)
{
	const char *why = NULL;
	struct sdp_crypto c;

	if (m->n_crypto == 0)
		return -ENOENT;
	for (unsigned i = 0; i < m->n_crypto; i++) {
		const char *refused;
		bool ok;

		if (sdp_crypto_parse(m->crypto[i], &c) < 0)
			continue;
		ok = suite_allowed(c.suite, allowed, n_allowed) &&
		     !(c.params.flags & SDP_CRYPTO_UNKNOWN_PARAM);
		refused = ok ? params_refused(&c, pol) : NULL;
		if (refused) {
			why = refused;
			ok = false;
		}
		if (ok)
			*ret = c;
		OPENSSL_cleanse(&c, sizeof(c));
		if (ok)
			return 0;
	}
	if (ret_why)
		*ret_why = why;
	return -ENOTSUP;
}

int sdp_crypto_choose(const struct sdp_media *m, const enum sdp_crypto_suite_id *allowed,
		      size_t n_allowed, struct sdp_crypto *ret)
{
	return sdp_crypto_choose_policy(m, allowed, n_allowed, NULL, ret, NULL);
}

static bool suite_name_safe(struct str n)
{
	if (n.len == 0 || n.len > 64)
		return false;
	for (size_t i = 0; i < n.len; i++) {
		char ch = n.s[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= '0' && ch <= '9') || ch == '_'))
			return false;
	}
	return true;
}

int sdp_crypto_format_unsupported(const struct sdp_media *m,
				  const enum sdp_crypto_suite_id *allowed, size_t n_allowed,
				  char *buf, size_t cap)
{
	size_t len = 0;

	if (cap == 0)
		return -ENOBUFS;
	buf[0] = '\0';
	for (unsigned i = 0; i < m->n_crypto; i++) {
		struct str v = m->crypto[i], name;
		bool dup = false;

		str_next_token(&v);
		name = str_next_token(&v);
		if (!suite_name_safe(name) ||
		    suite_allowed(sdp_crypto_suite_by_name(name), allowed, n_allowed))
			continue;
		for (unsigned j = 0; j < i && !dup; j++) {
			struct str w = m->crypto[j];

			str_next_token(&w);
			dup = str_eq(str_next_token(&w), name);
		}
		if (dup)
			continue;
		if (len + (len ? 2 : 0) + name.len + 1 > cap)
			return -ENOBUFS;
		if (len) {
			memcpy(buf + len, ", ", 2);
			len += 2;
		}
		memcpy(buf + len, name.s, name.len);
		len += name.len;
		buf[len] = '\0';
	}
	return (int)len;
}

int sdp_crypto_answer_make(enum sdp_crypto_suite_id suite, uint32_t tag,
			   const struct sdp_crypto_params *params, struct sdp_crypto_answer **ret)
{
	const struct sdp_crypto_suite *s = sdp_crypto_suite_by_id(suite);
	struct sdp_crypto_answer *a;
	char b64[72];
	int n, r = -EIO;
	size_t len;

	if (!s || tag == 0 || tag > 999999999)
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->tag = tag;
	a->suite = s;
	a->key_salt_len = (uint8_t)(s->key_len + s->salt_len);
	if (params)
		a->params = *params;
	if (RAND_bytes(a->key_salt, a->key_salt_len) != 1)
		goto fail;
	EVP_EncodeBlock((unsigned char *)b64, a->key_salt, a->key_salt_len);
	n = snprintf(a->value, sizeof(a->value), "%u %s inline:%s", tag, s->name, b64);
	OPENSSL_cleanse(b64, sizeof(b64));
	if (n < 0 || (size_t)n >= sizeof(a->value))
		goto fail;
	len = (size_t)n;
	/* §6.3: only the parameters that describe what we send/accept are declared */
	static const struct {
		unsigned flag;
		const char *name;
	} flags[] = {
		{SDP_CRYPTO_UNENCRYPTED_SRTCP, "UNENCRYPTED_SRTCP"},
		{SDP_CRYPTO_UNENCRYPTED_SRTP, "UNENCRYPTED_SRTP"},
		{SDP_CRYPTO_UNAUTHENTICATED_SRTP, "UNAUTHENTICATED_SRTP"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(flags); i++) {
		if (!(a->params.flags & flags[i].flag))
			continue;
		n = snprintf(a->value + len, sizeof(a->value) - len, " %s", flags[i].name);
		if (n < 0 || (size_t)n >= sizeof(a->value) - len)
			goto fail;
		len += (size_t)n;
	}
	if (a->params.flags & SDP_CRYPTO_KDR) {
		n = snprintf(a->value + len, sizeof(a->value) - len, " KDR=%u", a->params.kdr);
		if (n < 0 || (size_t)n >= sizeof(a->value) - len)
			goto fail;
		len += (size_t)n;
	}
	if (a->params.flags & SDP_CRYPTO_WSH) {
		n = snprintf(a->value + len, sizeof(a->value) - len, " WSH=%u", a->params.wsh);
		if (n < 0 || (size_t)n >= sizeof(a->value) - len)
			goto fail;
		len += (size_t)n;
	}
	a->value_len = len;
	*ret = a;
	return 0;
fail:
	sdp_crypto_answer_free(a);
	return r;
}

struct sdp_crypto_answer *sdp_crypto_answer_free(struct sdp_crypto_answer *a)
{
	if (!a)
		return NULL;
	OPENSSL_cleanse(a, sizeof(*a));
	free(a);
	return NULL;
}
