/* SPDX-License-Identifier: MIT */
/*
 * SDP (RFC 8866) as a Session Recording Server sees it (RFC 7866 §8): parse the SRC's offer into
 * counted-string views of the caller's buffer, choose a codec and an SDES key (RFC 4568) per m=
 * line, and write the a=recvonly answer (RFC 3264). No allocation while parsing; every count a
 * peer controls is bounded by struct sdp_limits and the array sizes below.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "siprecd/str.h"

#define SDP_MAX_MEDIA 32   /* hard cap on m= lines; lim->max_media may lower it */
#define SDP_MAX_FORMATS 32 /* formats on one m= line */
#define SDP_MAX_RTPMAPS 32 /* a=rtpmap per m= section */
#define SDP_MAX_FMTPS 32   /* a=fmtp per m= section */
#define SDP_MAX_CRYPTO 16  /* a=crypto per m= section */
#define SDP_MAX_ATTRS 128  /* a= lines per section (session or one m=) */
#define SDP_MAX_SIZE 65536 /* body bytes */
#define SDP_MAX_LINE 4096  /* bytes in one line */
#define SDP_MAX_LABEL 256  /* a=label value */

/* Zero fields take the defaults above; values above a hard cap are clamped to it. */
struct sdp_limits {
	size_t max_size;
	size_t max_line;
	unsigned max_media;
	unsigned max_formats;
	unsigned max_attrs;
};

enum sdp_direction {
	SDP_DIR_SENDRECV, /* RFC 8866 §6.7: the default when nothing is said */
	SDP_DIR_SENDONLY,
	SDP_DIR_RECVONLY,
	SDP_DIR_INACTIVE,
};

enum sdp_proto {
	SDP_PROTO_OTHER,
	SDP_PROTO_RTP_AVP,
	SDP_PROTO_RTP_AVPF,
	SDP_PROTO_RTP_SAVP,
	SDP_PROTO_RTP_SAVPF,
	SDP_PROTO_UDP_TLS_RTP_SAVP, /* DTLS-SRTP: recognised, refused by sdp_media_proto_supported()
				     */
	SDP_PROTO_UDP_TLS_RTP_SAVPF,
};

enum sdp_media_type {
	SDP_MEDIA_OTHER,
	SDP_MEDIA_AUDIO,
	SDP_MEDIA_VIDEO,
	SDP_MEDIA_TEXT,
	SDP_MEDIA_APPLICATION,
	SDP_MEDIA_MESSAGE,
};

struct sdp_connection {
	bool present;
	int family;	    /* AF_INET or AF_INET6 */
	struct str address; /* the address without any /ttl or /count suffix */
	bool unspecified;   /* 0.0.0.0 or :: (RFC 3264 §8.4 old-style hold) */
	bool fqdn;	    /* a host name (RFC 8866 §9), never resolved: no literal to latch to */
};

struct sdp_rtpmap {
	uint8_t pt;
	struct str encoding; /* as written, compare case-insensitively */
	uint32_t clock;
	uint32_t channels; /* 0 when the rtpmap has no channel field (means 1) */
};

struct sdp_fmtp {
	uint8_t pt;
	struct str params; /* everything after "<pt> " */
};

struct sdp_media {
	enum sdp_media_type type;
	struct str type_str;
	uint16_t port;
	uint16_t port_count; /* 1 when no /count */
	enum sdp_proto proto;
	struct str proto_str;
	unsigned n_formats;
	struct str formats[SDP_MAX_FORMATS];
	int16_t pts[SDP_MAX_FORMATS]; /* 0..127 for RTP protocols, -1 otherwise */

	/* Effective connection: the media c= or else the session c= (conn_from_session). */
	struct sdp_connection conn;
	bool conn_from_session;
	/* Effective direction: media attribute or else the session default (direction_explicit). */
	enum sdp_direction direction;
	bool direction_explicit;

	struct str label; /* RFC 4574 a=label, empty when absent */
	bool rtcp_mux;	  /* RFC 5761 */
	bool has_rtcp;	  /* RFC 3605 a=rtcp */
	uint16_t rtcp_port;
	struct str ptime; /* a=ptime value as written, empty when absent */

	unsigned n_rtpmaps;
	struct sdp_rtpmap rtpmaps[SDP_MAX_RTPMAPS];
	unsigned n_fmtps;
	struct sdp_fmtp fmtps[SDP_MAX_FMTPS];
	unsigned n_crypto;
	struct str crypto[SDP_MAX_CRYPTO]; /* raw a=crypto values; see sdp_crypto_parse() */

	/* Non-NULL (a static string) when this m= line cannot be used although the SDP as a whole
	 * parsed, e.g. a non-zero port with no c= anywhere. The answer rejects it (port 0). */
	const char *invalid;
};

struct sdp_session {
	struct str origin_user;
	struct str origin_sess_id;
	struct str origin_version;
	int origin_family;
	struct str origin_address;
	struct str session_name;
	struct sdp_connection conn;   /* session-level c= */
	enum sdp_direction direction; /* session-level default */
	unsigned n_media;
	struct sdp_media media[SDP_MAX_MEDIA];
};

/*
 * Parses the SDP body buf[0..len) (need not be NUL-terminated). Views in *ret point into buf, so
 * buf must outlive *ret. lim may be NULL for the defaults. Returns 0, -EBADMSG on a structural
 * error (reason from sdp_error()), -E2BIG when a limit is exceeded. *ret (about 90 KiB: keep it
 * off small stacks) is written only on success, and then only up to media[n_media - 1]: the
 * sections after it are left as they were.
 */
int sdp_parse(const char *buf, size_t len, const struct sdp_limits *lim, struct sdp_session *ret);

/* Reason of the last failed sdp_parse() in this thread: a static string, never peer data. */
const char *sdp_error(void);

const char *sdp_direction_to_string(enum sdp_direction d);
/* Effective direction of m (media attribute, else session attribute, else sendrecv). */
enum sdp_direction sdp_media_direction(const struct sdp_media *m);
/* True when m is on hold: a=inactive, or c= 0.0.0.0 / ::. */
bool sdp_media_is_hold(const struct sdp_media *m);
/* Effective c= of m (media level, else session level), or NULL when there is none. */
const struct sdp_connection *sdp_media_address(const struct sdp_media *m);
/* True for RTP/SAVP, RTP/SAVPF and the UDP/TLS (DTLS-SRTP) variants. */
bool sdp_media_is_srtp(const struct sdp_media *m);
/* True for the protocols siprecd can receive: RTP/AVP, RTP/AVPF, RTP/SAVP, RTP/SAVPF. */
bool sdp_media_proto_supported(const struct sdp_media *m);
/* The a=rtpmap / a=fmtp of pt in m, or NULL. Pointers into m. */
const struct sdp_rtpmap *sdp_media_rtpmap(const struct sdp_media *m, int pt);
const struct sdp_fmtp *sdp_media_fmtp(const struct sdp_media *m, int pt);

/*
 * The primary format of an audio m= line: the first in offer order that carries audio of its
 * own (not telephone-event, CN, red, rtx or FEC), else the first. Any payload type, static or
 * dynamic, known or not: a recorder never refuses a stream for its codec (docs/SDP.md).
 * *ret_dtmf_pt gets an offered telephone-event pt (preferring the primary's clock) or -1.
 * Returns 0, or -ENOTSUP for a non-audio m= line or a protocol siprecd cannot receive (then
 * nothing is written).
 */
int sdp_choose_codec(const struct sdp_media *m, int *ret_pt, int *ret_dtmf_pt);

/* The encoding of pt in m: its a=rtpmap, else the RFC 3551 static assignment (then encoding
 * views a static string). Returns false for a dynamic pt without a=rtpmap. */
bool sdp_media_format(const struct sdp_media *m, int pt, struct sdp_rtpmap *ret);

#define SDP_FORMAT_NAME_MAX 31	/* encoding names longer than this are left out of the map */
#define SDP_FORMAT_FMTP_MAX 255 /* a longer a=fmtp is left out of its map entry */
/*
 * Writes m's payload map (docs/FORMAT.md "Payload map"), NUL-terminated, into buf: one line
 * per offered format in offer order, '\n'-separated, "<pt> <encoding>/<clock>[/<channels>]
 * [<fmtp>]". Formats siprecd knows nothing of (dynamic pt without a=rtpmap, an encoding with
 * spaces or over SDP_FORMAT_NAME_MAX) are left out; entries that no longer fit in cap are
 * dropped from the end. Returns the length (0 when nothing is known), -ENOBUFS when cap is 0.
 */
int sdp_media_format_map(const struct sdp_media *m, char *buf, size_t cap);

struct sdp_crypto_answer;

struct sdp_answer_media {
	uint16_t port; /* 0 = rejected; a port-0 offered m= line is answered with 0 regardless */
	int pt;	       /* primary payload type (sdp_choose_codec), -1 if none (only with port 0) */
	int dtmf_pt;   /* telephone-event pt, or -1; informational: every format is answered */
	bool rtcp_mux; /* echo a=rtcp-mux (only written when it was offered) */
	const struct sdp_crypto_answer *crypto; /* NULL for RTP/AVP(F) */
};

struct sdp_answer_params {
	const char *origin_user; /* NULL = "siprecd" */
	uint64_t sess_id;
	uint64_t sess_version;
	const char *address; /* c= and o= address, IPv4 or IPv6 literal */
};

/*
 * Writes the answer to offer into buf (cap bytes, NUL-terminated): same m= lines in the same
 * order, a=label echoed, a=recvonly or a=inactive (RFC 7866 §8.2, RFC 3264 §6.1), every
 * offered format of an accepted m= line with its a=rtpmap/a=fmtp (the SRC may send any of
 * them; a recorder has no reason to narrow them). media has n_media == offer->n_media entries.
 * Returns the length without the NUL, -ENOBUFS when cap is too small, -EINVAL on inconsistent
 * decisions.
 */
int sdp_answer_build(const struct sdp_session *offer, const struct sdp_answer_params *p,
		     const struct sdp_answer_media *media, size_t n_media, char *buf, size_t cap);

/* ---- SDES, RFC 4568 (src/sdp/crypto.c) ---- */

enum sdp_crypto_suite_id {
	SDP_SUITE_AES_CM_128_HMAC_SHA1_80,
	SDP_SUITE_AES_CM_128_HMAC_SHA1_32,
	SDP_SUITE_AES_192_CM_HMAC_SHA1_80,
	SDP_SUITE_AES_192_CM_HMAC_SHA1_32,
	SDP_SUITE_AES_256_CM_HMAC_SHA1_80,
	SDP_SUITE_AES_256_CM_HMAC_SHA1_32,
	SDP_SUITE_AEAD_AES_128_GCM,
	SDP_SUITE_AEAD_AES_256_GCM,
	_SDP_SUITE_MAX,
};

struct sdp_crypto_suite {
	enum sdp_crypto_suite_id id;
	const char *name;
	uint8_t key_len;  /* master key bytes */
	uint8_t salt_len; /* master salt bytes */
	uint8_t tag_len;  /* SRTP auth tag bytes */
	bool aead;
	bool supported; /* the media layer can unprotect it (libsrtp2 profile exists) */
};

#define SDP_CRYPTO_MAX_KEYS 16
#define SDP_CRYPTO_MAX_KEY_SALT 46 /* 32-byte key + 14-byte salt */

/* Session parameter flags, RFC 4568 §6.3 */
#define SDP_CRYPTO_UNENCRYPTED_SRTP (1u << 0)
#define SDP_CRYPTO_UNENCRYPTED_SRTCP (1u << 1)
#define SDP_CRYPTO_UNAUTHENTICATED_SRTP (1u << 2)
#define SDP_CRYPTO_KDR (1u << 3)
#define SDP_CRYPTO_WSH (1u << 4)
#define SDP_CRYPTO_FEC_ORDER (1u << 5)
#define SDP_CRYPTO_FEC_KEY (1u << 6)
#define SDP_CRYPTO_UNKNOWN_PARAM (1u << 7) /* RFC 4568 §6.3: such a line must not be chosen */

struct sdp_crypto_params {
	unsigned flags;
	uint8_t kdr;	     /* KDR=n: key derivation rate 2^n, 0..24 */
	uint32_t wsh;	     /* WSH=n: replay window, >= 64 */
	bool fec_srtp_first; /* FEC_ORDER=FEC_SRTP (else SRTP_FEC, the default) */
};

struct sdp_crypto_key {
	uint8_t key_salt[SDP_CRYPTO_MAX_KEY_SALT]; /* master key || master salt */
	uint8_t key_salt_len;
	uint64_t lifetime; /* packets; 0 = not given */
	uint64_t mki;
	uint8_t mki_len; /* 0 = no MKI */
};

struct sdp_crypto {
	uint32_t tag;
	const struct sdp_crypto_suite *suite;
	unsigned n_keys;
	struct sdp_crypto_key keys[SDP_CRYPTO_MAX_KEYS];
	struct sdp_crypto_params params;
};

/* The suite table; NULL for an unknown name / id. */
const struct sdp_crypto_suite *sdp_crypto_suite_by_name(struct str name);
const struct sdp_crypto_suite *sdp_crypto_suite_by_id(enum sdp_crypto_suite_id id);

/*
 * Parses one a=crypto value (what follows "a=crypto:"). Returns 0 and writes *ret (which then
 * holds key bytes: sdp_crypto_wipe() it when done), -EBADMSG for a malformed line, -ENOTSUP for
 * a well-formed line naming an unknown suite. Never logs key bytes.
 */
int sdp_crypto_parse(struct str line_value, struct sdp_crypto *ret);
/* Wipes the key material in c (OPENSSL_cleanse). Accepts NULL. */
void sdp_crypto_wipe(struct sdp_crypto *c);

/*
 * Picks the first a=crypto line of m, in offer order (RFC 4568 §7.1.1), that parses, names a
 * supported suite that is in allowed[0..n_allowed) (allowed NULL = every supported suite) and
 * has no unknown session parameter. Returns 0 and writes *ret (wipe it later), -ENOTSUP when no
 * line qualifies, -ENOENT when m has no a=crypto at all.
 */
int sdp_crypto_choose(const struct sdp_media *m, const enum sdp_crypto_suite_id *allowed,
		      size_t n_allowed, struct sdp_crypto *ret);

/* What the receiver can honour and what the operator allows, for sdp_crypto_choose_policy(). */
struct sdp_crypto_policy {
	/* SRTP_POLICY=required: no UNENCRYPTED_SRTP or UNAUTHENTICATED_SRTP (RFC 4568 §6.3.3,
	 * §6.3.4): the media would cross the network readable or forgeable. */
	bool require_protection;
};

/*
 * Like sdp_crypto_choose(), and skips the lines whose session parameters the receiver cannot
 * honour (RFC 4568 §6.3: KDR other than 0, libsrtp2 derives session keys once; WSH above
 * SDP_CRYPTO_WSH_MAX) or the policy refuses. On -ENOTSUP *ret_why (may be NULL) names the
 * parameter that made the last skipped line unusable (a static string, for a Warning), or
 * NULL when no line had a usable suite.
 */
int sdp_crypto_choose_policy(const struct sdp_media *m, const enum sdp_crypto_suite_id *allowed,
			     size_t n_allowed, const struct sdp_crypto_policy *pol,
			     struct sdp_crypto *ret, const char **ret_why);
#define SDP_CRYPTO_WSH_MAX 32767 /* libsrtp2's largest replay window */

/*
 * Writes the names of the suites offered in m's a=crypto lines that we cannot use (unknown, not
 * supported, or not in allowed; allowed NULL = every supported suite), ", "-separated and
 * de-duplicated, NUL-terminated, for the Warning of a 488 (RFC 3261 §20.43). Only names made of
 * [A-Za-z0-9_] (at most 64) are written, so the header cannot be split. Returns the length, or
 * -ENOBUFS.
 */
int sdp_crypto_format_unsupported(const struct sdp_media *m,
				  const enum sdp_crypto_suite_id *allowed, size_t n_allowed,
				  char *buf, size_t cap);

/* Our answer key (RFC 4568 §7.1.2). Holds key bytes: free with sdp_crypto_answer_free(). */
struct sdp_crypto_answer {
	uint32_t tag;
	const struct sdp_crypto_suite *suite;
	uint8_t key_salt[SDP_CRYPTO_MAX_KEY_SALT];
	uint8_t key_salt_len;
	struct sdp_crypto_params params;
	char value[192]; /* "<tag> <suite> inline:<base64>[ <params>]", NUL-terminated */
	size_t value_len;
};

/*
 * Makes an answer for suite and tag (the offer's chosen tag) with a fresh random key and salt
 * (RAND_bytes). params (may be NULL) are the session parameters to declare; only
 * UNENCRYPTED_SRTP/SRTCP, UNAUTHENTICATED_SRTP, KDR and WSH are written. Returns 0 and a new
 * object in *ret owned by the caller, -EINVAL for a bad suite or tag, -ENOMEM, -EIO (RNG).
 */
int sdp_crypto_answer_make(enum sdp_crypto_suite_id suite, uint32_t tag,
			   const struct sdp_crypto_params *params, struct sdp_crypto_answer **ret);
/* Wipes and frees a; accepts NULL; returns NULL. */
struct sdp_crypto_answer *sdp_crypto_answer_free(struct sdp_crypto_answer *a);
