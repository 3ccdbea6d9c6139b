// SPDX-License-Identifier: MIT
/*
 * libsrtp2 wrapper: a suite table maps SDES names to libsrtp2 crypto policies, and small
 * receive/send contexts turn libsrtp2 status codes into -errno. The policy's key buffer is built
 * here and wiped as soon as libsrtp2 has expanded it into session keys.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <srtp2/crypto_types.h>
#include <srtp2/srtp.h>

#include "config.h"
#include "siprecd/log.h"
#include "siprecd/macro.h"
#include "siprecd/srtp.h"

#ifndef SIPRECD_SRTP_BACKEND
#define SIPRECD_SRTP_BACKEND "builtin"
#endif

/* AES_192_CM (RFC 6188) is left out on purpose: libsrtp2 up to 2.7 derives its session keys in
 * AES-256 mode (cisco/libsrtp#763), so it would not interoperate with a correct peer.
 * The AEAD suites pad the 96-bit master salt on the right for the RFC 3711 KDF as libsrtp2 and
 * its peers do (cisco/libsrtp#179). */

/* The SRTCP tag of the _32 suites stays 80 bits (RFC 4568 §6.2.1, RFC 6188 §3); RFC 7714 AEAD
 * suites use the full 16-byte GCM tag for both. */
static void set_cm_128_sha1_80(srtp_crypto_policy_t *p)
{
	srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(p);
}

static const struct srtp_suite_info suites[] = {
	{"AES_CM_128_HMAC_SHA1_80", SRTP_AES_128_KEY_LEN, SRTP_SALT_LEN, 10, 10, false,
	 set_cm_128_sha1_80, set_cm_128_sha1_80},
	{"AES_CM_128_HMAC_SHA1_32", SRTP_AES_128_KEY_LEN, SRTP_SALT_LEN, 4, 10, false,
	 srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32, set_cm_128_sha1_80},
	{"AES_256_CM_HMAC_SHA1_80", SRTP_AES_256_KEY_LEN, SRTP_SALT_LEN, 10, 10, false,
	 srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80,
	 srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80},
	{"AES_256_CM_HMAC_SHA1_32", SRTP_AES_256_KEY_LEN, SRTP_SALT_LEN, 4, 10, false,
	 srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32,
	 srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80},
	{"AEAD_AES_128_GCM", SRTP_AES_128_KEY_LEN, SRTP_AEAD_SALT_LEN, 16, 16, true,
	 srtp_crypto_policy_set_aes_gcm_128_16_auth, srtp_crypto_policy_set_aes_gcm_128_16_auth},
	{"AEAD_AES_256_GCM", SRTP_AES_256_KEY_LEN, SRTP_AEAD_SALT_LEN, 16, 16, true,
	 srtp_crypto_policy_set_aes_gcm_256_16_auth, srtp_crypto_policy_set_aes_gcm_256_16_auth},
};

const struct srtp_suite_info *srtp_suite_by_name(struct str name)
{
	for (size_t i = 0; i < ARRAY_SIZE(suites); i++)
		if (str_eq_cstr(name, suites[i].name))
			return &suites[i];
	return NULL;
}

const struct srtp_suite_info *srtp_suite_at(size_t i)
{
	return i < ARRAY_SIZE(suites) ? &suites[i] : NULL;
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_result;

static void do_init(void)
{
	srtp_err_status_t st = srtp_init();

	if (st != srtp_err_status_ok) {
		log_debug("srtp_init failed: %d", (int)st);
		init_result = -EIO;
	}
}

int srtp_global_init(void)
{
	pthread_once(&init_once, do_init);
	return init_result;
}

const char *srtp_backend(void)
{
	return SIPRECD_SRTP_BACKEND;
}

static int status_to_errno(srtp_err_status_t st)
{
	switch (st) {
	case srtp_err_status_ok:
		return 0;
	case srtp_err_status_auth_fail:
	case srtp_err_status_bad_param:
	case srtp_err_status_parse_err:
	case srtp_err_status_bad_mki:
		return -EBADMSG;
	case srtp_err_status_replay_fail:
	case srtp_err_status_replay_old:
	case srtp_err_status_pkt_idx_old:
		return -EALREADY;
	case srtp_err_status_alloc_fail:
		return -ENOMEM;
	case srtp_err_status_key_expired:
	case srtp_err_status_pkt_idx_adv:
		return -EKEYEXPIRED;
	case srtp_err_status_no_ctx:
		return -ENOENT;
	default:
		return -EIO;
	}
}

/* Both directions are one libsrtp2 session with a single wildcard-SSRC policy. */
struct srtp_ctx {
	srtp_t session;
	size_t tag_len;
	size_t mki_len;	  /* 0: no MKI on the wire */
	unsigned mki_idx; /* sending key */
};

/*
 * The prefetch hook reads this line after loading it (srtp_rx_prefetch): the session, and the
 * two blocks of OpenSSL's state of the RTP cipher (see "OpenSSL's blocks" below; NULL when not
 * known).
 */
struct srtp_rx {
	struct srtp_ctx c;
	const void *aes[2];
	uint32_t aes_len[2];
} __attribute__((aligned(64)));

struct srtp_tx {
	struct srtp_ctx c;
};

/*
 * OpenSSL's blocks. libsrtp2's AES context holds an EVP_CIPHER_CTX, and behind it lies the
 * provider's context with the key schedule: two heap blocks allocated inside libcrypto (184 and
 * 448 bytes with OpenSSL 3.0), of which an RTP packet reads ~8 lines, cold when thousands of
 * streams take turns. No public interface gives the provider context's address, so siprecd
 * routes OpenSSL's allocations through the functions below (srtp_openssl_mem_init, called by
 * main() before any other OpenSSL call) and, while a receive context is created, notes the
 * blocks OpenSSL allocates on this thread and does not free again. Nothing else changes: every
 * block comes from malloc and goes back to free; a wrong note costs a useless prefetch.
 */
#define OSSL_NOTES 16

struct ossl_notes {
	unsigned n;
	bool overflow;
	struct {
		void *p;
		size_t len;
	} b[OSSL_NOTES];
};

static __thread struct ossl_notes *noting;

static void note_del(struct ossl_notes *t, const void *p)
{
	for (unsigned i = 0; p && i < t->n; i++)
		if (t->b[i].p == p) {
			memmove(&t->b[i], &t->b[i + 1], (t->n - i - 1) * sizeof(t->b[0]));
			t->n--;
			return;
		}
}

static void note_add(struct ossl_notes *t, void *p, size_t len)
{
	if (t->n == OSSL_NOTES) {
		t->overflow = true;
		return;
	}
	t->b[t->n].p = p;
	t->b[t->n].len = len;
	t->n++;
}

static void *ossl_malloc(size_t len, const char *file, int line)
{
	void *p = malloc(len);

	(void)file;
	(void)line;
	if (p && noting)
		note_add(noting, p, len);
	return p;
}

static void *ossl_realloc(void *old, size_t len, const char *file, int line)
{
	void *p;

	(void)file;
	(void)line;
	/* forgotten first: if realloc fails, the block is no longer noted (nothing prefetched) */
	if (noting)
		note_del(noting, old);
	p = realloc(old, len);
	if (p && noting)
		note_add(noting, p, len);
	return p;
}

static void ossl_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	if (noting)
		note_del(noting, p);
	free(p);
}

int srtp_openssl_mem_init(void)
{
	return CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free) ? 0 : -EBUSY;
}

/*
 * libsrtp2's srtp_create allocates each master key's RTP cipher and then its RTCP cipher
 * (OpenSSL: an EVP_CIPHER_CTX each) and initialises them in the same order (OpenSSL: a
 * provider context each; the key derivation's cipher in between is freed again). What remains
 * is [RTP ctx, RTCP ctx, ...] then [RTP provider ctx, RTCP provider ctx, ...]: the first key's
 * RTP blocks are the first of each half. Anything else noted (a thread's first use of OpenSSL,
 * another library version) breaks the pattern, and then nothing is prefetched.
 */
static void note_rtp_cipher(struct srtp_rx *c, const struct ossl_notes *t)
{
	unsigned half = t->n / 2;

	if (t->overflow || t->n == 0 || t->n % 4)
		return;
	for (unsigned i = 0; i < t->n; i++)
		if (t->b[i].len != t->b[i < half ? 0 : half].len || t->b[i].len > UINT32_MAX)
			return;
	c->aes[0] = t->b[0].p;
	c->aes_len[0] = (uint32_t)t->b[0].len;
	c->aes[1] = t->b[half].p;
	c->aes_len[1] = (uint32_t)t->b[half].len;
}

/* The master keys as libsrtp2 wants them, wiped by the caller (keys_wipe). */
struct key_copy {
	uint8_t key[SRTP_MAX_KEYS][SRTP_KEY_SALT_MAX];
	uint8_t mki[SRTP_MAX_KEYS][SRTP_MKI_MAX];
	srtp_master_key_t mk[SRTP_MAX_KEYS];
	srtp_master_key_t *mkp[SRTP_MAX_KEYS];
};

static int ctx_init(struct srtp_ctx *c, const struct srtp_suite_info *s,
		    const struct srtp_params *p, srtp_ssrc_type_t ssrc_type)
{
	struct key_copy *kc;
	srtp_policy_t policy;
	srtp_err_status_t st;
	size_t mki_len;
	int r;

	if (!s || !p || p->n_keys == 0 || p->n_keys > SRTP_MAX_KEYS)
		return -EINVAL;
	mki_len = p->keys[0].mki_len;
	/* Several keys need an MKI each to tell them apart, all of one length (RFC 4568 §6.1). */
	if (mki_len > SRTP_MKI_MAX || (p->n_keys > 1 && mki_len == 0))
		return -EINVAL;
	for (unsigned i = 0; i < p->n_keys; i++)
		if (!p->keys[i].key_salt || p->keys[i].len != s->key_len + s->salt_len ||
		    p->keys[i].len > SRTP_KEY_SALT_MAX || p->keys[i].mki_len != mki_len)
			return -EINVAL;
	if (p->window && (p->window < SRTP_WINDOW_MIN || p->window > SRTP_WINDOW_MAX))
		return -EINVAL;
	/* AEAD suites always authenticate (RFC 7714 §14.2), and libsrtp2 encrypts AEAD SRTP
	 * whatever sec_serv says, so an UNENCRYPTED_SRTP peer could not be honoured either. */
	if ((p->unauth_srtp || p->unencrypted_srtp) && s->aead)
		return -EINVAL;
	r = srtp_global_init();
	if (r < 0)
		return r;
	kc = calloc(1, sizeof(*kc));
	if (!kc)
		return -ENOMEM;

	memset(&policy, 0, sizeof(policy));
	s->set_rtp(&policy.rtp);
	s->set_rtcp(&policy.rtcp);
	/* RFC 4568 §6.3.3: the sec_serv bits turn off encryption or authentication while the
	 * key derivation stays that of the suite. */
	if (p->unencrypted_srtp)
		policy.rtp.sec_serv = sec_serv_auth;
	if (p->unauth_srtp) {
		/* No tag at all on the wire, so libsrtp2 must not look for one either. */
		policy.rtp.auth_type = SRTP_NULL_AUTH;
		policy.rtp.auth_key_len = 0;
		policy.rtp.auth_tag_len = 0;
		policy.rtp.sec_serv = p->unencrypted_srtp ? sec_serv_none : sec_serv_conf;
	}
	if (p->unencrypted_srtcp)
		policy.rtcp.sec_serv = sec_serv_auth;
	policy.ssrc.type = ssrc_type;
	/* RFC 4568 §6.3.7 WSH: the replay window the sender asks for. */
	policy.window_size = p->window ? p->window : 1024;
	policy.allow_repeat_tx = 0;
	if (mki_len == 0) {
		memcpy(kc->key[0], p->keys[0].key_salt, p->keys[0].len);
		policy.key = kc->key[0];
	} else {
		/* RFC 3711 §3.1: the MKI field follows the payload and selects the master key;
		 * libsrtp2 keeps one set of session keys per MKI. */
		for (unsigned i = 0; i < p->n_keys; i++) {
			memcpy(kc->key[i], p->keys[i].key_salt, p->keys[i].len);
			memcpy(kc->mki[i], p->keys[i].mki, mki_len);
			kc->mk[i].key = kc->key[i];
			kc->mk[i].mki_id = kc->mki[i];
			kc->mk[i].mki_size = (unsigned)mki_len;
			kc->mkp[i] = &kc->mk[i];
		}
		policy.keys = kc->mkp;
		policy.num_master_keys = p->n_keys;
	}
	policy.next = NULL;

	st = srtp_create(&c->session, &policy);
	OPENSSL_cleanse(kc, sizeof(*kc));
	free(kc);
	if (st != srtp_err_status_ok) {
		c->session = NULL;
		log_debug("srtp_create(%s) failed: %d", s->name, (int)st);
		return st == srtp_err_status_alloc_fail ? -ENOMEM : -EIO;
	}
	c->tag_len = p->unauth_srtp ? 0 : s->auth_tag_len;
	c->mki_len = mki_len;
	c->mki_idx = 0;
	return 0;
}

/* The one-key form of the public constructors. */
static void params_one(struct srtp_params *p, const uint8_t *key_salt, size_t len, bool unenc_srtp,
		       bool unenc_srtcp, bool unauth_srtp)
{
	memset(p, 0, sizeof(*p));
	p->keys[0].key_salt = key_salt;
	p->keys[0].len = len;
	p->n_keys = 1;
	p->unencrypted_srtp = unenc_srtp;
	p->unencrypted_srtcp = unenc_srtcp;
	p->unauth_srtp = unauth_srtp;
}

static void ctx_done(struct srtp_ctx *c)
{
	/* srtp_dealloc() zeroes the expanded session keys before freeing them. */
	if (c->session)
		srtp_dealloc(c->session);
	c->session = NULL;
}

int srtp_rx_new_params(const struct srtp_suite_info *s, const struct srtp_params *p,
		       struct srtp_rx **ret)
{
	struct ossl_notes notes = {0};
	struct srtp_rx *c;
	int r;

	if (!ret)
		return -EINVAL;
	c = aligned_alloc(_Alignof(struct srtp_rx), sizeof(*c));
	if (!c)
		return -ENOMEM;
	memset(c, 0, sizeof(*c));
	/* libsrtp2 initialised first: its self-tests' allocations are not this session's */
	r = srtp_global_init();
	if (r >= 0) {
		noting = &notes;
		r = ctx_init(&c->c, s, p, ssrc_any_inbound);
		noting = NULL;
	}
	if (r < 0) {
		free(c);
		return r;
	}
	note_rtp_cipher(c, &notes);
	*ret = c;
	return 0;
}

int srtp_rx_new(const struct srtp_suite_info *s, const uint8_t *key_salt, size_t len,
		bool unencrypted_srtp, bool unencrypted_srtcp, bool unauth_srtp,
		struct srtp_rx **ret)
{
	struct srtp_params p;

	params_one(&p, key_salt, len, unencrypted_srtp, unencrypted_srtcp, unauth_srtp);
	return srtp_rx_new_params(s, &p, ret);
}

int srtp_tx_new_params(const struct srtp_suite_info *s, const struct srtp_params *p,
		       struct srtp_tx **ret)
{
	struct srtp_tx *c;
	int r;

	if (!ret)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	r = ctx_init(&c->c, s, p, ssrc_any_outbound);
	if (r < 0) {
		free(c);
		return r;
	}
	*ret = c;
	return 0;
}

int srtp_tx_new(const struct srtp_suite_info *s, const uint8_t *key_salt, size_t len,
		bool unencrypted_srtp, bool unencrypted_srtcp, bool unauth_srtp,
		struct srtp_tx **ret)
{
	struct srtp_params p;

	params_one(&p, key_salt, len, unencrypted_srtp, unencrypted_srtcp, unauth_srtp);
	return srtp_tx_new_params(s, &p, ret);
}

int srtp_tx_select_key(struct srtp_tx *c, unsigned idx)
{
	if (!c || !c->c.mki_len || idx >= SRTP_MAX_KEYS)
		return -EINVAL;
	c->c.mki_idx = idx;
	return 0;
}

struct srtp_rx *srtp_rx_free(struct srtp_rx *c)
{
	if (c) {
		ctx_done(&c->c);
		free(c);
	}
	return NULL;
}

struct srtp_tx *srtp_tx_free(struct srtp_tx *c)
{
	if (c) {
		ctx_done(&c->c);
		free(c);
	}
	return NULL;
}

/* libsrtp2 takes an int length; the RTP fixed header is 12 bytes and an RTCP header 8. */
static int unprotect(struct srtp_ctx *c, void *pkt, size_t *len, bool rtcp)
{
	srtp_err_status_t st;
	int n;

	if (!c || !c->session || !pkt || !len)
		return -EINVAL;
	if (*len > INT_MAX)
		return -EMSGSIZE;
	if (*len < (rtcp ? 8u : 12u))
		return -EBADMSG;
	n = (int)*len;
	/* With MKIs libsrtp2 picks the session keys by the packet's MKI (bad_mki if unknown). */
	st = rtcp ? srtp_unprotect_rtcp_mki(c->session, pkt, &n, c->mki_len > 0)
		  : srtp_unprotect_mki(c->session, pkt, &n, c->mki_len > 0);
	if (st != srtp_err_status_ok)
		return status_to_errno(st);
	*len = (size_t)n;
	return 0;
}

/*
 * libsrtp's session and what an RTP packet reads of it (stream list, stream, session keys, RTP
 * cipher and HMAC state, key limit, replay window) lie in one 1 KiB arena, 64-byte aligned, the
 * session 16 bytes in (patches/libsrtp2/0003): ~900 bytes, 14 lines, for AES-CM with
 * HMAC-SHA1. A session whose arena could not be allocated lies on the heap: the lines after it
 * are then someone else's, and prefetching them costs a little cache, nothing more.
 */
#define SRTP_ARENA_LINES 14

void srtp_rx_prefetch(const struct srtp_rx *c)
{
	const char *arena = (const char *)((uintptr_t)c->c.session & ~(uintptr_t)63);

	for (unsigned i = 0; i < SRTP_ARENA_LINES; i++)
		__builtin_prefetch(arena + 64 * i);
	/* the RTP cipher's OpenSSL blocks, whole: which of their lines AES reads is libcrypto's
	 * business */
	for (unsigned b = 0; b < 2; b++) {
		const char *p = c->aes[b];

		if (!p)
			continue;
		for (uintptr_t at = (uintptr_t)p & ~(uintptr_t)63;
		     at < (uintptr_t)p + c->aes_len[b]; at += 64)
			__builtin_prefetch((const void *)at);
	}
}

unsigned srtp_rx_openssl_blocks(const struct srtp_rx *c, const void *ret_p[2], size_t ret_len[2])
{
	if (!c || !c->aes[0])
		return 0;
	for (unsigned b = 0; b < 2; b++) {
		ret_p[b] = c->aes[b];
		ret_len[b] = c->aes_len[b];
	}
	return 2;
}

int srtp_rx_unprotect_rtp(struct srtp_rx *c, void *pkt, size_t *len)
{
	return unprotect(c ? &c->c : NULL, pkt, len, false);
}

int srtp_rx_unprotect_rtcp(struct srtp_rx *c, void *pkt, size_t *len)
{
	return unprotect(c ? &c->c : NULL, pkt, len, true);
}

static int protect(struct srtp_ctx *c, void *pkt, size_t *len, size_t cap, bool rtcp)
{
	srtp_err_status_t st;
	int n;

	if (!c || !c->session || !pkt || !len)
		return -EINVAL;
	if (*len < (rtcp ? 8u : 12u))
		return -EBADMSG;
	/* libsrtp2 writes the trailer without a bound; make sure it fits. */
	if (cap < *len || cap - *len < SRTP_TX_OVERHEAD + c->mki_len)
		return -ENOBUFS;
	if (*len > INT_MAX - SRTP_TX_OVERHEAD - SRTP_MKI_MAX)
		return -EMSGSIZE;
	n = (int)*len;
	st = rtcp ? srtp_protect_rtcp_mki(c->session, pkt, &n, c->mki_len > 0, c->mki_idx)
		  : srtp_protect_mki(c->session, pkt, &n, c->mki_len > 0, c->mki_idx);
	if (st != srtp_err_status_ok)
		return status_to_errno(st);
	*len = (size_t)n;
	return 0;
}

int srtp_tx_protect_rtp(struct srtp_tx *c, void *pkt, size_t *len, size_t cap)
{
	return protect(c ? &c->c : NULL, pkt, len, cap, false);
}

int srtp_tx_protect_rtcp(struct srtp_tx *c, void *pkt, size_t *len, size_t cap)
{
	return protect(c ? &c->c : NULL, pkt, len, cap, true);
}
