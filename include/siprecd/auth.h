/* SPDX-License-Identifier: MIT */
/*
 * SIP digest authentication of requests (RFC 3261 §22.4, RFC 8760 for SHA-256, RFC 7616 for
 * the algorithm details): challenges with stateless nonces (a time stamp and random bytes,
 * HMAC-SHA256-signed with a per-process secret, valid for a configured lifetime), qop=auth only,
 * replays refused by the nonce counts of answered nonces (a bounded table), and credentials held
 * as HA1 values (the passwords are wiped once hashed).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "siprecd/str.h"

struct sip_msg;
struct sip_auth;

enum sip_auth_alg {
	SIP_AUTH_MD5,
	SIP_AUTH_SHA256,
};

#define SIP_AUTH_MAX_ALGS 2
/* Upper bound of the nonce-count table (SIP_AUTH_MAX_NONCES); 24 bytes per entry. */
#define SIP_AUTH_MAX_NONCES_LIMIT (1u << 20)

/*
 * Parses "SHA-256,MD5" (comma-separated, case-insensitive, each once) into ret (in order of
 * preference) and *ret_n. 0 or -EINVAL.
 */
int sip_auth_parse_algorithms(const char *list, enum sip_auth_alg ret[SIP_AUTH_MAX_ALGS],
			      unsigned *ret_n);

/*
 * A verifier for realm, offering algorithms (as sip_auth_parse_algorithms takes them), with
 * nonces valid for nonce_lifetime_ms, remembering the nonce counts of at most max_nonces
 * answered nonces (1..SIP_AUTH_MAX_NONCES_LIMIT; the oldest is forgotten first, and a nonce as
 * old as a forgotten one is then stale). creds holds "user:password" lines (blank lines and
 * lines starting with # ignored; a user at most once); the caller wipes creds afterwards. On
 * error returns -EINVAL with a message in err that names the line, never its password.
 */
int sip_auth_new(const char *realm, const char *algorithms, uint64_t nonce_lifetime_ms,
		 uint32_t max_nonces, const char *creds, size_t creds_len, struct sip_auth **ret,
		 char *err, size_t n);
/* Wipes the HA1 values and the nonce secret. NULL ok; returns NULL. */
struct sip_auth *sip_auth_free(struct sip_auth *a);
size_t sip_auth_users(const struct sip_auth *a);
/* Nonces whose count is remembered (at most max_nonces). */
size_t sip_auth_nonces(const struct sip_auth *a);

/*
 * Writes the WWW-Authenticate header lines (one per algorithm, the preferred first, each ending
 * in CRLF) for a 401 to buf of size n, with a fresh nonce for now_ms; stale adds stale=true
 * (RFC 7616 §3.3: the credentials were right, the nonce too old). Length or -ENOBUFS.
 */
int sip_auth_challenge(struct sip_auth *a, uint64_t now_ms, bool stale, char *buf, size_t n);

/*
 * Checks the Authorization headers of req (the one for our realm) at now_ms: 0 when they prove
 * the user in *ret_user (a view into req, also set on a failure once a user name was read); -ENOENT
 * no credentials for our realm; -ESTALE a correct answer to an expired nonce, or to one the full
 * nonce-count table forgot (challenge again with stale=true); -EALREADY a replay: a correct answer
 * whose nonce count is not above the highest already accepted for that nonce; -EACCES wrong user,
 * password, nonce or URI; -EBADMSG malformed or missing parameters (nc not 8 hex digits or 0),
 * qop other than auth, unknown or unoffered algorithm. A 0 records the nonce count.
 */
int sip_auth_check(struct sip_auth *a, struct sip_msg *req, uint64_t now_ms, struct str *ret_user);

/*
 * The digest response (lower-case hex, NUL-terminated, 33 or 65 bytes) for qop=auth:
 * H(H(user:realm:password):nonce:nc:cnonce:qop:H(method:uri)). For known-answer tests and
 * clients. 0 or -EINVAL.
 */
int sip_auth_response(enum sip_auth_alg alg, const char *user, const char *realm,
		      const char *password, const char *method, const char *uri, const char *nonce,
		      const char *nc, const char *cnonce, const char *qop, char out[65]);
