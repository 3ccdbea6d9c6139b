/* SPDX-License-Identifier: MIT */
/*
 * SIPREC bodies: the multipart/mixed splitter (RFC 2046, RFC 5621) that finds the SDP offer and
 * the rs-metadata document of a recording INVITE/UPDATE, and the RFC 7865 metadata model parsed
 * from that document with expat. The model owns all of its strings; see docs/METADATA.md.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "siprecd/str.h"

/*
 * Limits on everything a peer controls. A NULL pointer wherever a function takes one means
 * SIPREC_LIMITS_DEFAULT. Exceeding a limit fails with -E2BIG (the caller answers 413).
 */
struct siprec_limits {
	size_t max_parts;	 /* multipart body parts, 8 */
	size_t max_part_size;	 /* bytes of one part's content, 65536 */
	size_t max_body_size;	 /* bytes of a metadata document, 65536 */
	size_t max_participants; /* participants in the model (after merges too), 64 */
	size_t max_streams;	 /* streams, and send/recv references per association, 64 */
	size_t max_sessions;	 /* sessions and groups, 16 */
	size_t max_depth;	 /* XML element nesting, 16 */
	size_t max_elements;	 /* XML elements in one document, 4096 */
	size_t max_attr_len;	 /* bytes of one attribute value, 1024 */
	size_t max_text_len;	 /* bytes of one leaf element's text, 1024 */
	size_t max_names;	 /* names and AoRs per participant, 16 */
	size_t max_extensions;	 /* extension elements kept, 64 */
	size_t max_warnings;	 /* warnings kept; further ones are counted, 32 */
};

#define SIPREC_LIMITS_DEFAULT                                                                      \
	((struct siprec_limits){                                                                   \
		.max_parts = 8,                                                                    \
		.max_part_size = 65536,                                                            \
		.max_body_size = 65536,                                                            \
		.max_participants = 64,                                                            \
		.max_streams = 64,                                                                 \
		.max_sessions = 16,                                                                \
		.max_depth = 16,                                                                   \
		.max_elements = 4096,                                                              \
		.max_attr_len = 1024,                                                              \
		.max_text_len = 1024,                                                              \
		.max_names = 16,                                                                   \
		.max_extensions = 64,                                                              \
		.max_warnings = 32,                                                                \
	})

/* ---- multipart/mixed ------------------------------------------------------------------- */

/* Content-Disposition handling parameter (RFC 3204, RFC 5621 §3.2). */
enum siprec_handling {
	SIPREC_HANDLING_DEFAULT, /* absent: RFC 3261 §20.11 says assume "required" */
	SIPREC_HANDLING_REQUIRED,
	SIPREC_HANDLING_OPTIONAL,
};

/* One body part; every str is a view into the caller's content_type/body buffers. */
struct siprec_body_part {
	bool present;
	struct str content_type; /* "application/sdp", no parameters, as written */
	struct str disposition;	 /* "session", "recording-session", or empty */
	enum siprec_handling handling;
	struct str content_id; /* Content-ID value, or empty */
	struct str body;       /* the part's content, without the CRLF before the delimiter */
};

struct siprec_body_parts {
	struct siprec_body_part sdp; /* application/sdp */
	struct siprec_body_part
		metadata;  /* application/rs-metadata+xml or application/rs-metadata */
	unsigned n_parts;  /* parts seen (1 for a non-multipart body) */
	unsigned n_other;  /* parts that are neither, all optional */
	bool unterminated; /* multipart without a close delimiter (accepted) */
};

/*
 * Splits a SIP message body. content_type is the Content-Type header value (type/subtype and
 * parameters, boundary quoted or not); body the message body. Parts may come in any order, with
 * preamble, epilogue, transport padding, CRLF or bare LF line ends. A body that is itself
 * application/sdp or rs-metadata is returned as that single part; an empty body with no
 * Content-Type gives no parts. Missing SDP or metadata is not an error here (the caller
 * decides). The returned views point into content_type and body, which the caller keeps alive,
 * except the content of a part sent Content-Transfer-Encoding: base64 (RFC 2045 §6.8), which
 * points to its decoding in a buffer of this thread's, valid until the next call.
 *
 * Returns 0 and fills *ret, or:
 *   -EBADMSG      malformed: no boundary parameter, boundary not found in the body, a part
 *                 header without a colon, two SDP or two metadata parts, a base64 part
 *                 that does not decode;
 *   -EMEDIUMTYPE  a part (or the whole body) we do not understand whose handling is required,
 *                 explicitly or by default, or a Content-Transfer-Encoding we do not decode
 *                 (quoted-printable, x-tokens; 7bit, 8bit, binary and base64 are taken) in a
 *                 part we need: answer 415 Unsupported Media Type with
 *                 "Accept: application/sdp, application/rs-metadata+xml, multipart/mixed"
 *                 (RFC 3261 §8.2.3, RFC 5621 §9.1), and siprec_multipart_refusal()'s
 *                 Warning text when it gives one;
 *   -E2BIG        more than lim->max_parts parts, a part over lim->max_part_size, or a
 *                 boundary over 70 characters (RFC 2046 §5.1.1): answer 413 with the reason
 *                 siprec_multipart_limit() gives.
 * The limits are checked over the whole body before the other failures are reported: a body
 * over one is -E2BIG whatever its parts are.
 */
int siprec_multipart_parse(struct str content_type, struct str body,
			   const struct siprec_limits *lim, struct siprec_body_parts *ret);
/* After -E2BIG from siprec_multipart_parse on this thread, a reason phrase naming the limit:
 * "Too Many Body Parts", "Body Part Too Large", "Multipart Boundary Too Long". Static. */
const char *siprec_multipart_limit(void);
/* After -EMEDIUMTYPE from siprec_multipart_parse on this thread, a Warning text naming the
 * Content-Transfer-Encodings taken when a part's was what was refused, else NULL. Static. */
const char *siprec_multipart_refusal(void);

/* True if a type/subtype (no parameters) is one of the rs-metadata media types. */
bool siprec_is_metadata_type(struct str type);

/* ---- rs-metadata (RFC 7865) ------------------------------------------------------------- */

enum siprec_datamode {
	SIPREC_DATAMODE_COMPLETE, /* also assumed when <datamode> is missing */
	SIPREC_DATAMODE_PARTIAL,
};

/* A list of owned strings. */
struct siprec_strv {
	char **v;
	size_t n;
};

struct siprec_group {
	char *id; /* group_id= (or id=) */
	char *associate_time;
	char *disassociate_time;
};

struct siprec_session_md {
	char *id;     /* session_id= (or id=) */
	bool defined; /* false: only referenced (e.g. by <sessionrecordingassoc>) */
	struct siprec_strv sip_session_ids; /* <sipSessionID>, RFC 7989 values */
	char *group_ref;
	char *start_time;
	char *stop_time;
	char *associate_time; /* from <sessionrecordingassoc> or <session> itself */
	char *disassociate_time;
};

struct siprec_participant {
	char *id;		  /* participant_id= (or id=) */
	bool defined;		  /* false: only referenced by <participantsessionassoc> */
	struct siprec_strv names; /* <nameID><name> and older <name> */
	struct siprec_strv aors;  /* <nameID aor=> and older <aor>, kept as given (scheme or not) */
	char *session_id;	  /* from <participantsessionassoc> or older session= */
	char *associate_time;
	char *disassociate_time;
};

struct siprec_stream_md {
	char *id;	  /* stream_id= (or id=) */
	char *label;	  /* <label>, matches SDP a=label (RFC 4574); NULL if missing */
	char *session_id; /* session_id= (or session=) */
	char *associate_time;
	char *disassociate_time;
};

/* <participantstreamassoc>; older drafts' <send>/<recv> inside <participant> land here too. */
struct siprec_psa {
	char *participant_id;
	struct siprec_strv send; /* stream ids */
	struct siprec_strv recv;
	char *associate_time;
	char *disassociate_time;
};

/* An element outside the recording namespace (or an <extensiondata>), kept verbatim. */
struct siprec_extension {
	char *parent;	 /* local name of the enclosing element: "recording", "participant", ... */
	char *parent_id; /* id of that element (or extensiondata's parent=), may be NULL */
	char *ns;	 /* namespace URI, may be NULL */
	char *name;	 /* local name */
	char *xml;	 /* the bytes of the element as received */
};

struct siprec_metadata {
	/* Which document shape it came from (docs/METADATA.md "Dialects"), a static string:
	 * "rfc7865", "recording_metadata" (pre-RFC, BroadWorks and Webex Calling), "sip-headers"
	 * (no body: participants from SIP headers), "unparsed" (not well-formed, nothing
	 * recovered). */
	const char *dialect;
	enum siprec_datamode datamode;
	char *session_id; /* id of the first <session>, NULL if none */
	struct siprec_group *groups;
	size_t n_groups;
	struct siprec_session_md *sessions;
	size_t n_sessions;
	struct siprec_participant *participants;
	size_t n_participants;
	struct siprec_stream_md *streams;
	size_t n_streams;
	struct siprec_psa *psas;
	size_t n_psas;
	struct siprec_extension *extensions;
	size_t n_extensions;
	/* Call-correlation ids found in vendor extensions, "name=value" (name from the table in
	 * docs/METADATA.md: ucid, genesys-uuid, ...), at most lim.max_extensions. */
	struct siprec_strv context;
	struct siprec_strv warnings; /* human-readable, for an audit event */
	size_t n_warnings_dropped;
	struct siprec_limits lim; /* the limits it was parsed with; merges honour them */
};

/*
 * Parses an rs-metadata document (xml, len bytes, need not be NUL-terminated). Liberal about
 * what real SRCs send (see docs/METADATA.md); problems of content become warnings. Returns 0
 * and a new model in *ret (free with siprec_metadata_free; it copies what it keeps, the input
 * may be freed afterwards), or -EBADMSG (not well-formed, or has a DOCTYPE), -E2BIG (over a
 * limit in lim: answer 413), -ENOMEM.
 */
int siprec_metadata_parse(const char *xml, size_t len, const struct siprec_limits *lim,
			  struct siprec_metadata **ret);

/* Which limit the last parse on this thread that failed with -E2BIG went over ("element
 * nesting", "participants", "size (MAX_METADATA_SIZE)"...): for the refusal's Warning. */
const char *siprec_metadata_limit(void);

/*
 * As siprec_metadata_parse(), but never gives up on a document that is not well-formed: it
 * retries once with every stray '&' (one that starts no entity or character reference) escaped,
 * and if that fails too, returns an empty model of dialect "unparsed" whose warning names the
 * XML error, so the caller still records the call and keeps the raw document. Returns 0,
 * -E2BIG or -ENOMEM.
 */
int siprec_metadata_parse_lenient(const char *xml, size_t len, const struct siprec_limits *lim,
				  struct siprec_metadata **ret);

struct sip_msg;
/*
 * The "sip-headers" dialect, for an INVITE without a metadata body: participants and senders
 * from Cisco CUCM's From URI parameters (x-nearend/x-farend, x-farendaddr, x-*device, x-refci)
 * and X-Cisco-Recording-Participant / X-Recording-Participant headers (docs/METADATA.md). A
 * stream named by position (CUCM's one stream, media-index=N) gets the label "m<N>". Returns
 * 1 and a new model, 0
 * when the headers name nobody, -E2BIG or -ENOMEM.
 */
int siprec_metadata_from_headers(struct sip_msg *req, const struct siprec_limits *lim,
				 struct siprec_metadata **ret);

/* Frees a model; NULL is fine. Returns NULL. */
struct siprec_metadata *siprec_metadata_free(struct siprec_metadata *md);

/*
 * Applies update to base (RFC 7865 §6: a complete update replaces base; a partial one adds
 * new objects and replaces the fields it carries of existing ones, matched by id). base is
 * unchanged on failure. Returns 0, -E2BIG (merged model over base's limits) or -ENOMEM.
 */
int siprec_metadata_merge(struct siprec_metadata *base, const struct siprec_metadata *update);

/* Lookups; the returned pointers live as long as md (until the next merge or free). */
const struct siprec_stream_md *siprec_metadata_stream_by_label(const struct siprec_metadata *md,
							       struct str label);
const struct siprec_stream_md *siprec_metadata_stream_by_id(const struct siprec_metadata *md,
							    const char *stream_id);
const struct siprec_participant *siprec_metadata_participant_by_id(const struct siprec_metadata *md,
								   const char *participant_id);
/* The (first) participant whose association sends stream_id, or NULL. */
const struct siprec_participant *siprec_metadata_sender_of(const struct siprec_metadata *md,
							   const char *stream_id);

/*
 * Serialises the model as one JSON object (format in docs/METADATA.md) into a new malloc'ed
 * NUL-terminated string in *ret_json (caller frees). Returns 0 or -ENOMEM.
 */
int siprec_metadata_to_json(const struct siprec_metadata *md, char **ret_json);
