/* SPDX-License-Identifier: MIT */
/*
 * SRTP (RFC 3711, RFC 7714) protect/unprotect contexts on top of libsrtp2, chosen by the SDES
 * crypto-suite names of RFC 4568 / RFC 6188 / RFC 7714 through one suite table. One srtp_rx per
 * received stream (any inbound SSRC, replay window 1024), one srtp_tx per sent stream.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "siprecd/str.h"

struct srtp_crypto_policy_t;

/* Longest master key + master salt of any suite (AES-256: 32 + 14). */
#define SRTP_KEY_SALT_MAX 46
/* Most bytes srtp_tx_protect_rtp()/_rtcp() add to a packet (tag + SRTCP index); an MKI adds
 * its length on top. */
#define SRTP_TX_OVERHEAD 20

struct srtp_suite_info {
	const char *name;	  /* SDES name, e.g. "AES_CM_128_HMAC_SHA1_80" */
	size_t key_len, salt_len; /* master key and master salt, in bytes */
	unsigned auth_tag_len;	  /* SRTP tag bytes (the SRTCP tag may be longer, RFC 4568 §6.2) */
	unsigned rtcp_auth_tag_len;
	bool aead; /* RFC 7714: no UNAUTHENTICATED_SRTP */
	void (*set_rtp)(struct srtp_crypto_policy_t *p);
	void (*set_rtcp)(struct srtp_crypto_policy_t *p);
};

/* Looks a suite up by its SDES name (case-sensitive as RFC 4568 §9.2 registers them).
 * Returns a pointer into a static table, or NULL when unknown. */
const struct srtp_suite_info *srtp_suite_by_name(struct str name);
/* The i-th suite of the table (for help texts and tests), NULL past the end. */
const struct srtp_suite_info *srtp_suite_at(size_t i);

/* Initialises libsrtp2 once (thread-safe; later calls return the first result).
 * Returns 0 or -EIO. srtp_rx_new()/srtp_tx_new() call it themselves. */
int srtp_global_init(void);
/*
 * Routes OpenSSL's allocations through siprecd's functions (CRYPTO_set_mem_functions; still
 * malloc and free), so that a receive context knows where OpenSSL keeps its RTP cipher's state
 * and srtp_rx_prefetch can load it. Call once, first thing in main(), before anything uses
 * OpenSSL. Returns 0, or -EBUSY when OpenSSL has allocated already (contexts then work as
 * before, their OpenSSL state not prefetched).
 */
int srtp_openssl_mem_init(void);
/* "openssl" when libsrtp2 was built against OpenSSL, else the configured backend name. */
const char *srtp_backend(void);

struct srtp_rx;
struct srtp_tx;

#define SRTP_MAX_KEYS 16      /* master keys of one context (libsrtp2's limit) */
#define SRTP_MKI_MAX 128      /* RFC 4568 §6.1 MKI length, bytes */
#define SRTP_WINDOW_MIN 64    /* RFC 3711 §3.3.2 */
#define SRTP_WINDOW_MAX 32767 /* libsrtp2's replay window limit (WSH above it is refused) */

/* One master key (RFC 4568 §6.1 key-params) and its MKI. */
struct srtp_master_key {
	const uint8_t *key_salt; /* master key || master salt, suite key_len + salt_len bytes */
	size_t len;
	uint8_t mki[SRTP_MKI_MAX]; /* MKI value, big-endian in mki_len bytes */
	size_t mki_len;		   /* 0 = no MKI field on the wire */
};

/* A context's keys and the SDES session parameters of RFC 4568 §6.3 that libsrtp2 honours. */
struct srtp_params {
	struct srtp_master_key keys[SRTP_MAX_KEYS];
	unsigned n_keys; /* > 1 only with MKIs, all of the same length (RFC 4568 §6.1) */
	bool unencrypted_srtp, unencrypted_srtcp, unauth_srtp;
	uint32_t window; /* WSH (RFC 4568 §6.3.7), SRTP_WINDOW_MIN..MAX; 0 = 1024 */
};

/*
 * Creates a receive context for one stream: any inbound SSRC, replay window 1024.
 * key_salt is the master key followed by the master salt (len must be key_len + salt_len).
 * The flags are the SDES session parameters of RFC 4568 §6.3: UNENCRYPTED_SRTP,
 * UNENCRYPTED_SRTCP and UNAUTHENTICATED_SRTP (refused with -EINVAL for AEAD suites).
 * The key is copied; the context's own copy is wiped on free and the caller wipes key_salt.
 * Returns 0 and *ret, -EINVAL on bad arguments, -ENOMEM, or -EIO on a libsrtp2 failure.
 */
int srtp_rx_new(const struct srtp_suite_info *s, const uint8_t *key_salt, size_t len,
		bool unencrypted_srtp, bool unencrypted_srtcp, bool unauth_srtp,
		struct srtp_rx **ret);
/*
 * Verifies and decrypts one SRTP (SRTCP) packet in place; *len is updated to the plain length.
 * Returns 0, -EBADMSG when authentication fails or the packet is malformed/too short, -EALREADY
 * for a replayed or too-old packet, -EMSGSIZE when *len exceeds INT_MAX, other -errno otherwise.
 * On failure the packet contents are undefined.
 */
int srtp_rx_unprotect_rtp(struct srtp_rx *c, void *pkt, size_t *len);
/* Starts loading the receive context's libsrtp state and its RTP cipher's OpenSSL state (a hint
 * before an unprotect; the latter only with srtp_openssl_mem_init). */
void srtp_rx_prefetch(const struct srtp_rx *c);
/*
 * The two heap blocks of OpenSSL's state of the context's RTP cipher (its EVP_CIPHER_CTX and the
 * provider's context) as srtp_openssl_mem_init let the context note them, for tests. Returns 2
 * and fills ret_p and ret_len, or 0 when not known (nothing written).
 */
unsigned srtp_rx_openssl_blocks(const struct srtp_rx *c, const void *ret_p[2], size_t ret_len[2]);
int srtp_rx_unprotect_rtcp(struct srtp_rx *c, void *pkt, size_t *len);
/* Frees the context (wiping its keys). Accepts NULL, returns NULL. */
struct srtp_rx *srtp_rx_free(struct srtp_rx *c);

/*
 * Like srtp_rx_new() with several master keys selected by their MKI and a replay window. Every
 * key must have the same MKI length; the packets then carry it (RFC 3711 §3.1). Nothing in
 * params is kept (keys are copied into libsrtp2 and the copies here wiped).
 */
int srtp_rx_new_params(const struct srtp_suite_info *s, const struct srtp_params *p,
		       struct srtp_rx **ret);

/* The sending side: any outbound SSRC, no repeated transmissions. Same arguments as srtp_rx_new. */
int srtp_tx_new(const struct srtp_suite_info *s, const uint8_t *key_salt, size_t len,
		bool unencrypted_srtp, bool unencrypted_srtcp, bool unauth_srtp,
		struct srtp_tx **ret);
/* With MKIs the sender uses key 0 (srtp_tx_select_key() changes it). */
int srtp_tx_new_params(const struct srtp_suite_info *s, const struct srtp_params *p,
		       struct srtp_tx **ret);
/* Sends under key idx (< n_keys) from now on; only with MKIs. 0 or -EINVAL. */
int srtp_tx_select_key(struct srtp_tx *c, unsigned idx);
/*
 * Protects one RTP (RTCP) packet of *len bytes in place in a buffer of cap bytes; cap must leave
 * SRTP_TX_OVERHEAD bytes after the packet (else -ENOBUFS). *len gets the protected length.
 * Returns 0, -EBADMSG for a malformed packet, -EALREADY for a repeated sequence number.
 */
int srtp_tx_protect_rtp(struct srtp_tx *c, void *pkt, size_t *len, size_t cap);
int srtp_tx_protect_rtcp(struct srtp_tx *c, void *pkt, size_t *len, size_t cap);
struct srtp_tx *srtp_tx_free(struct srtp_tx *c);
