/* SPDX-License-Identifier: MIT */
/*
 * SIP message layer (RFC 3261 §7, §20, §25): a zero-copy parser of one whole message held in a
 * caller-owned buffer, lazy accessors for the headers the server needs, TCP/TLS stream framing,
 * response/request builders into caller buffers, and server transactions (RFC 3261 §17.2 with
 * RFC 6026's Accepted state). No sockets, no clock, no logging above debug.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "siprecd/str.h"

/* Hard ceiling of the fixed header array in struct sip_msg. */
#define SIP_MAX_HEADERS 128

struct sip_limits {
	size_t max_msg_size;  /* whole message incl. body; above it -EMSGSIZE (513) */
	unsigned max_headers; /* header fields; capped at SIP_MAX_HEADERS */
	size_t max_line_len;  /* start line and each (unfolded) header field */
};

/* 65535 bytes, 128 headers, 8192-byte lines. */
extern const struct sip_limits sip_limits_default;

enum sip_method {
	SIP_METHOD_UNKNOWN,
	SIP_METHOD_INVITE,
	SIP_METHOD_ACK,
	SIP_METHOD_BYE,
	SIP_METHOD_CANCEL,
	SIP_METHOD_OPTIONS,
	SIP_METHOD_REGISTER,
	SIP_METHOD_PRACK,
	SIP_METHOD_UPDATE,
	SIP_METHOD_INFO,
	SIP_METHOD_SUBSCRIBE,
	SIP_METHOD_NOTIFY,
	SIP_METHOD_REFER,
	SIP_METHOD_MESSAGE,
	SIP_METHOD_PUBLISH,
	_SIP_METHOD_MAX,
};

/* Headers the parser indexes by id (full and RFC 3261 §7.3.3 compact names). */
enum sip_hdr {
	SIP_HDR_OTHER,
	SIP_HDR_VIA,
	SIP_HDR_FROM,
	SIP_HDR_TO,
	SIP_HDR_CALL_ID,
	SIP_HDR_CSEQ,
	SIP_HDR_MAX_FORWARDS,
	SIP_HDR_CONTENT_LENGTH,
	SIP_HDR_CONTENT_TYPE,
	SIP_HDR_CONTACT,
	SIP_HDR_REQUIRE,
	SIP_HDR_SUPPORTED,
	SIP_HDR_UNSUPPORTED,
	SIP_HDR_PROXY_REQUIRE,
	SIP_HDR_EXPIRES,
	SIP_HDR_RECORD_ROUTE,
	SIP_HDR_ROUTE,
	SIP_HDR_ACCEPT,
	SIP_HDR_ALLOW,
	SIP_HDR_CONTENT_ENCODING,
	SIP_HDR_CONTENT_DISPOSITION,
	SIP_HDR_SUBJECT,
	SIP_HDR_EVENT,
	SIP_HDR_ALLOW_EVENTS,
	SIP_HDR_REFER_TO,
	SIP_HDR_REFERRED_BY,
	SIP_HDR_SESSION_EXPIRES,
	SIP_HDR_USER_AGENT,
	SIP_HDR_SERVER,
	_SIP_HDR_MAX,
};

struct sip_header {
	enum sip_hdr id;
	struct str name;
	struct str value; /* trimmed; may still contain folded CRLF+WS (treat as LWS) */
};

/* Top Via (RFC 3261 §20.42, RFC 3581 rport). Views into the message. */
struct sip_via {
	struct str transport; /* "UDP", "TCP", "TLS", ... as sent */
	struct str host;      /* without [] for IPv6 */
	uint16_t port;	      /* 0 when absent */
	struct str branch;    /* empty when absent */
	struct str received;
	bool rport;	      /* rport parameter present */
	uint16_t rport_value; /* 0 when rport had no value */
	bool magic_cookie;    /* branch starts with z9hG4bK (RFC 3261 §8.1.1.7) */
};

/* From, To, Contact, Record-Route element: name-addr or addr-spec with params. */
struct sip_name_addr {
	struct str display; /* as written (quotes kept), empty if none */
	struct str uri;	    /* inside <> or the bare addr-spec */
	struct str tag;	    /* tag parameter, empty if none */
	struct str params;  /* everything from the first ';' after the URI, may be empty */
	bool star;	    /* Contact: * */
};

struct sip_cseq {
	uint32_t seq;
	enum sip_method method;
	struct str method_name;
};

struct sip_content_type {
	struct str type, subtype;
	struct str params;   /* from the first ';', may be empty */
	struct str boundary; /* boundary parameter without quotes, empty if none */
};

enum {
	SIP_LAZY_VIA = 1u << 0,
	SIP_LAZY_FROM = 1u << 1,
	SIP_LAZY_TO = 1u << 2,
	SIP_LAZY_CSEQ = 1u << 3,
	SIP_LAZY_CALL_ID = 1u << 4,
	SIP_LAZY_MAX_FORWARDS = 1u << 5,
	SIP_LAZY_CONTENT_TYPE = 1u << 6,
	SIP_LAZY_CONTACT = 1u << 7,
	SIP_LAZY_EXPIRES = 1u << 8,
};

/*
 * One parsed message. Caller-allocated (about 5 KiB); every struct str points into the buffer
 * given to sip_msg_parse(), which must outlive the message. Lazy accessors cache their result
 * here, so they take a non-const pointer.
 */
struct sip_msg {
	const char *buf;
	size_t len; /* start line to the end of the body (datagram extra bytes excluded) */

	bool is_request;
	enum sip_method method; /* requests */
	struct str method_name;
	struct str ruri;
	struct str version;
	bool version_ok; /* "SIP/2.0" */
	unsigned status; /* responses */
	struct str reason;

	struct sip_header hdrs[SIP_MAX_HEADERS];
	unsigned n_hdrs;
	uint8_t hdr_count[_SIP_HDR_MAX];
	int16_t hdr_first[_SIP_HDR_MAX]; /* index into hdrs, -1 if absent */

	bool has_content_length;
	uint32_t content_length;
	struct str body;

	const char *error; /* static reason phrase of the first failure */
	unsigned error_status;
	bool headers_ok; /* header section parsed: a response can be built even if start line bad */

	unsigned lazy_done, lazy_failed;
	struct sip_via via;
	struct sip_name_addr from, to, contact;
	struct sip_cseq cseq;
	struct str call_id;
	uint32_t max_forwards, expires;
	struct sip_content_type content_type;
};

/* Flags of sip_msg_parse_flags(). */
enum {
	/* Stream transport (TCP/TLS): Content-Length is mandatory (RFC 3261 §18.3, §20.14). */
	SIP_PARSE_STREAM = 1u << 0,
};

/*
 * Parses one whole message of len bytes at buf (not NUL-terminated; NUL bytes allowed where the
 * grammar allows them). lim NULL means sip_limits_default. Returns 0, -EBADMSG on malformed input,
 * -EMSGSIZE over a limit; on failure sip_msg_error()/sip_msg_error_status() say why and, if
 * m->headers_ok, the headers are usable to build the error response. Extra bytes after
 * Content-Length are ignored (RFC 3261 §18.3, datagram); a shorter message is an error.
 */
int sip_msg_parse(struct sip_msg *m, const char *buf, size_t len, const struct sip_limits *lim);
int sip_msg_parse_flags(struct sip_msg *m, const char *buf, size_t len,
			const struct sip_limits *lim, unsigned flags);

/* Reason phrase for the error response ("Bad Request" style), "OK" if none. Static storage. */
const char *sip_msg_error(const struct sip_msg *m);
/* Status code a server should answer with for the last failure (400, 505, 513...), 0 if none. */
unsigned sip_msg_error_status(const struct sip_msg *m);

/* Method names (case-sensitive, RFC 3261 §7.1). Unknown → SIP_METHOD_UNKNOWN. */
enum sip_method sip_method_from_str(struct str s);
const char *sip_method_name(enum sip_method m);
/* Header id from a full or compact name (case-insensitive). */
enum sip_hdr sip_hdr_from_name(struct str name);

/* First header of that id, or NULL. */
const struct sip_header *sip_msg_header(const struct sip_msg *m, enum sip_hdr id);
/* First header with that name (case-insensitive, exact spelling; no compact-form mapping). */
const struct sip_header *sip_msg_header_by_name(const struct sip_msg *m, const char *name);

/*
 * Iterates over the comma-separated values of every header of one id, in message order (commas
 * inside quotes or <> do not split). Start with *it zeroed. Returns true and a trimmed value in
 * *ret_value (empty elements skipped), false at the end.
 */
struct sip_hdr_iter {
	unsigned idx;
	size_t off;
};
bool sip_msg_next_value(const struct sip_msg *m, enum sip_hdr id, struct sip_hdr_iter *it,
			struct str *ret_value);

/*
 * Lazy accessors: parse on first use, cache in m. Return 0 and a pointer into m, -ENOENT when the
 * header is absent, -EBADMSG when malformed (m->error then names the header).
 */
int sip_msg_via(struct sip_msg *m, const struct sip_via **ret);
int sip_msg_from(struct sip_msg *m, const struct sip_name_addr **ret);
int sip_msg_to(struct sip_msg *m, const struct sip_name_addr **ret);
int sip_msg_contact(struct sip_msg *m, const struct sip_name_addr **ret); /* first Contact */
int sip_msg_cseq(struct sip_msg *m, const struct sip_cseq **ret);
int sip_msg_call_id(struct sip_msg *m, struct str *ret);
int sip_msg_max_forwards(struct sip_msg *m, uint32_t *ret); /* 0..255 */
int sip_msg_expires(struct sip_msg *m, uint32_t *ret);	    /* 0..2^32-1 */
int sip_msg_content_type(struct sip_msg *m, const struct sip_content_type **ret);

/* Parses one via-parm / name-addr value (e.g. one from sip_msg_next_value()). 0 or -EBADMSG. */
int sip_via_parse(struct str value, struct sip_via *ret);
int sip_name_addr_parse(struct str value, struct sip_name_addr *ret);
/* Value of parameter name (case-insensitive) in a ";a=b;c" list; ret empty for a bare name.
 * Returns 0, -ENOENT. */
int sip_param_get(struct str params, const char *name, struct str *ret);

/*
 * Token lists (Require, Supported, Unsupported, Proxy-Require, Allow...), all headers of the id.
 * Writes up to max tokens into ret (may be NULL with max 0) and returns how many there are in
 * total, or -EBADMSG when an element is not a token.
 */
int sip_msg_tokens(const struct sip_msg *m, enum sip_hdr id, struct str *ret, unsigned max);
/* True if the token list of id contains tok (case-insensitive, RFC 3261 §19.2 option tags). */
bool sip_msg_has_token(const struct sip_msg *m, enum sip_hdr id, const char *tok);

/* Options of sip_msg_validate_request(). All fields may be zero/NULL. */
struct sip_validate_opts {
	const char *const *supported; /* option tags we implement, NULL-terminated (for 420) */
	const char *const *accept; /* body types we take, "type/subtype", NULL-terminated (415) */
	bool proxy; /* act as a proxy for Max-Forwards (483 at 0, RFC 3261 §16.3 item 2) */
};

/*
 * Checks a parsed request the way a UAS must before handing it to the TU (RFC 3261 §8.2,
 * §16.3, RFC 4475 §3.3). Returns 0 when acceptable, else the status code to answer (400, 405
 * never, 406, 415, 416, 420, 483, 505) and *ret_reason a static reason phrase; -EINVAL for a
 * response. Parses (and caches) Via, From, To, Call-ID, CSeq, Max-Forwards, Contact, Expires.
 */
int sip_msg_validate_request(struct sip_msg *m, const struct sip_validate_opts *opts,
			     const char **ret_reason);

/*
 * Stream framing for TCP/TLS (RFC 3261 §18.3). Looks at len bytes at buf:
 * SIP_FRAME_NEED_MORE (0): no whole message yet;
 * SIP_FRAME_MESSAGE (1): a message of *ret_len bytes starts at buf;
 * SIP_FRAME_KEEPALIVE (2): *ret_len leading CR/LF bytes to consume (RFC 5626 §4.4.1 "\r\n\r\n"
 *   ping: the caller answers "\r\n");
 * -EMSGSIZE: the message would exceed lim->max_msg_size (or the header section never ends within
 *   it); -EBADMSG: missing or invalid Content-Length. On errors the connection must be closed.
 */
enum {
	SIP_FRAME_NEED_MORE = 0,
	SIP_FRAME_MESSAGE = 1,
	SIP_FRAME_KEEPALIVE = 2,
};
int sip_stream_frame(const char *buf, size_t len, const struct sip_limits *lim, size_t *ret_len);

/*
 * After sip_stream_frame() failed on buf: the status an answer carries (513 for a header
 * section or a Content-Length over lim->max_msg_size, else 400) with *ret_reason a static
 * reason phrase naming the problem ("Missing Content-Length", "Headers Too Large"); 0 if buf
 * frames (no error).
 */
unsigned sip_stream_frame_status(const char *buf, size_t len, const struct sip_limits *lim,
				 const char **ret_reason);
/*
 * After sip_stream_frame() failed on buf, or sip_msg_parse() failed on it before its headers
 * were usable (too many headers, a malformed header line), whether the error can be answered
 * (RFC 3261 §18.3, §8.2): copies the start line and the whole Via, From, To, Call-ID and CSeq
 * fields found within lim->max_msg_size bytes into scratch (MIN(len, lim->max_msg_size) + 2 bytes
 * always suffice) and parses that into m, whose views point into scratch. 0 when m is a request
 * other than ACK with those headers well formed, to pass to sip_response_build(); -EBADMSG
 * when nothing can be answered, -ENOBUFS when scratch is too small.
 */
int sip_stream_frame_headers(const char *buf, size_t len, const struct sip_limits *lim,
			     char *scratch, size_t scratch_size, struct sip_msg *m);

/* ---- builders (src/sip/build.c) ---- */

#define SIP_TAG_LEN 16	  /* hex digits */
#define SIP_BRANCH_LEN 30 /* "z9hG4bK" + 23 chars */

/* Writes a random tag of SIP_TAG_LEN chars + NUL into buf (size >= SIP_TAG_LEN + 1). 0 or -errno.
 */
int sip_tag_generate(char *buf, size_t size);
/* Writes "z9hG4bK" + random into buf (size >= SIP_BRANCH_LEN + 1). 0 or -errno. */
int sip_branch_generate(char *buf, size_t size);
/* n random bytes for identifiers (tags, branches, uuids, ids), from a per-thread pool refilled
 * by getrandom(); never for keys. 0 or -errno (getrandom's). */
int sip_random(void *buf, size_t n);

struct sip_response_args {
	const struct sockaddr_storage *source; /* request's source: received/rport (RFC 3581) */
	const char *to_tag;	   /* added to To when the request had none and code > 100 */
	const char *extra_headers; /* complete lines each ending in CRLF, or NULL */
	const char *content_type;  /* with body; NULL = no body */
	const char *body;
	size_t body_len;
	const char *server; /* Server header value; NULL = "siprecd" */
};

/*
 * Builds a response to the parsed request req (RFC 3261 §8.2.6): all Via values copied in
 * order (top one with received/rport per RFC 3581), Record-Route for 101-299 (§12.1.1), From,
 * To (+tag), Call-ID, CSeq, extras, Server, Content-Type + body, Content-Length. reason NULL
 * uses the default phrase for code. Returns the length written into buf (not NUL-terminated),
 * -ENOBUFS when cap is too small, -EBADMSG when req lacks Via/From/To/Call-ID/CSeq, -EINVAL for a
 * bad code.
 */
int sip_response_build(char *buf, size_t cap, struct sip_msg *req, unsigned code,
		       const char *reason, const struct sip_response_args *args);

/* Default reason phrase of a status code (RFC 3261 §21), "Unknown" otherwise. */
const char *sip_reason_phrase(unsigned code);

struct sip_request_args {
	const char *method;	/* "BYE" */
	struct str request_uri; /* remote target (the peer's Contact URI) */
	const char *transport;	/* Via transport: "UDP", "TCP", "TLS" */
	struct str via_sent_by; /* our host[:port] */
	struct str local_uri;	/* our name-addr, e.g. "<sip:srs@example.com>" (From) */
	struct str local_tag;
	struct str remote_uri; /* the peer's name-addr (To) */
	struct str remote_tag;
	struct str call_id;
	uint32_t cseq;
	const char *route_set;	   /* "Route: ...\r\n" lines or NULL */
	const char *contact;	   /* our Contact value or NULL */
	const char *extra_headers; /* complete lines ending in CRLF, or NULL */
	const char *content_type;
	const char *body;
	size_t body_len;
	const char *user_agent; /* NULL = "siprecd" */
};

/*
 * Builds an in-dialog request the server sends (BYE) with a fresh branch. ret_branch (size >=
 * SIP_BRANCH_LEN + 1, may be NULL) gets the branch for client-transaction matching. Returns the
 * length, -ENOBUFS, -EINVAL on missing arguments.
 */
int sip_request_build(char *buf, size_t cap, const struct sip_request_args *args, char *ret_branch);

/* ---- server transactions (src/sip/txn.c) ---- */

struct sip_txn;
struct sip_txn_table;

enum sip_txn_state {
	SIP_TXN_TRYING,	    /* non-INVITE, nothing sent yet */
	SIP_TXN_PROCEEDING, /* a 1xx sent (INVITE starts here) */
	SIP_TXN_ACCEPTED,   /* INVITE 2xx sent (RFC 6026 §7.1) */
	SIP_TXN_COMPLETED,  /* final (non-2xx for INVITE) sent */
	SIP_TXN_CONFIRMED,  /* INVITE non-2xx ACKed */
	SIP_TXN_TERMINATED,
};

struct sip_txn_ops {
	/* Sends len bytes to peer over conn. Returns >= 0 or -errno. Required. */
	int (*send)(void *conn, const struct sockaddr_storage *peer, const char *buf, size_t len);
	void (*conn_ref)(void *conn);	/* optional */
	void (*conn_unref)(void *conn); /* optional */
	/* Over a reliable transport: delta answers a server transaction still owes its connection
	 * (+2 for an INVITE: a provisional and a final, +1 for others, taken back as they are
	 * sent or the transaction ends), so the transport can stop reading a peer whose answers
	 * would pass its send queue's caps. Optional. */
	void (*conn_owe)(void *conn, int delta);
	/* True when conn still has bytes queued to send: a 2xx retransmission (Timer G) over a
	 * reliable transport is then skipped, as the peer has not read the last one yet.
	 * Optional. */
	bool (*conn_backlogged)(void *conn);
	/* Timer H fired: an INVITE final response (2xx or not) was never ACKed. Optional. */
	void (*no_ack)(struct sip_txn *t, void *userdata);
	/* The transaction is about to be freed; t is invalid afterwards. Optional. */
	void (*terminated)(struct sip_txn *t, void *userdata);
	/* 64*T1 passed without a final response from the TU (a TU bug or a lost event): the
	 * callback may still send one; if it does not, the transaction is terminated. Optional. */
	void (*stalled)(struct sip_txn *t, void *userdata);
};

enum sip_txn_verdict {
	SIP_TXN_NEW,	  /* a new transaction: the TU handles the request and responds */
	SIP_TXN_ABSORBED, /* retransmission or ACK of a non-2xx: handled here, drop it */
	SIP_TXN_ACK_2XX,  /* ACK of a 2xx we sent: *ret_txn is the INVITE txn; confirm the dialog */
	SIP_TXN_ACK_STRAY, /* ACK matching nothing here (late ACK of a 2xx): for the dialog layer */
	SIP_TXN_CANCEL, /* new CANCEL txn in *ret_txn; sip_txn_cancel_target() finds the INVITE */
};

/*
 * Creates a table. ops is copied; userdata is passed to no_ack/terminated. max_txns bounds the
 * transactions held: at it, the oldest lingering one (acknowledged or answered, waiting only
 * for its timer) is ended for a new request (counted in evicted); with none lingering
 * sip_txn_receive() fails with -EBUSY: answer 503. T1 = 500 ms, T2 = 4 s, T4 = 5 s. Returns 0
 * or -ENOMEM/-EINVAL.
 */
int sip_txn_table_new(const struct sip_txn_ops *ops, void *userdata, unsigned max_txns,
		      struct sip_txn_table **ret);
/* Frees every transaction (terminated callbacks run, conn references dropped). NULL ok. */
struct sip_txn_table *sip_txn_table_free(struct sip_txn_table *tbl);
/* Overrides T1/T2/T4 in ms (0 keeps a value). */
void sip_txn_table_set_timers(struct sip_txn_table *tbl, unsigned t1, unsigned t2, unsigned t4);
unsigned sip_txn_table_count(const struct sip_txn_table *tbl);
/* Live transactions by state (walks the table: for metrics, not for the packet path). */
struct sip_txn_stats {
	unsigned by_state[SIP_TXN_TERMINATED];
	uint64_t stalled; /* transactions whose TU sent no final response within 64*T1 */
	uint64_t evicted; /* lingering transactions ended early for a new one (table full) */
};
void sip_txn_table_get_stats(const struct sip_txn_table *tbl, struct sip_txn_stats *ret);

/*
 * Matches a received request (RFC 3261 §17.2.3, RFC 2543 fallback without the magic cookie).
 * req must have passed sip_msg_parse(); conn/peer identify where responses go (conn is
 * referenced by a new transaction). Returns a verdict >= 0 with *ret_txn set (NULL for
 * ABSORBED/ACK_STRAY), -EBUSY at the transaction limit, -EBADMSG when Via/CSeq/Call-ID are
 * unusable, -ENOMEM. The transaction keeps a copy of the request (sip_txn_request()) until
 * the request is acknowledged.
 */
int sip_txn_receive(struct sip_txn_table *tbl, struct sip_msg *req, void *conn,
		    const struct sockaddr_storage *peer, bool reliable, uint64_t now_ms,
		    struct sip_txn **ret_txn);

/*
 * Sends a response (copied) and drives the state machine: 1xx → Proceeding; INVITE 2xx →
 * Accepted (2xx retransmitted on Timer G until ACK, Timer H → no_ack, Timer L ends it); other
 * finals → Completed (INVITE: Timer G unreliable, Timer H; non-INVITE: Timer J). Returns the
 * send result (>= 0), -EINVAL after a final response or for a bad status line, -ENOMEM.
 */
int sip_txn_respond(struct sip_txn *t, const char *buf, size_t len, uint64_t now_ms);

/* The INVITE transaction a CANCEL transaction targets (same branch/sent-by), or NULL. */
struct sip_txn *sip_txn_cancel_target(struct sip_txn *cancel);
/* The transaction's own copy of the request, parsed on first use. 0, -ENOMEM, -EBADMSG;
 * -ENOENT once the request was acknowledged (the copy is freed then). */
int sip_txn_request(struct sip_txn *t, struct sip_msg **ret);

enum sip_method sip_txn_method(const struct sip_txn *t);
enum sip_txn_state sip_txn_state(const struct sip_txn *t);
/* The status code of the last response sent on t (0 before any). */
unsigned sip_txn_status(const struct sip_txn *t);
void *sip_txn_conn(const struct sip_txn *t);
const struct sockaddr_storage *sip_txn_peer(const struct sip_txn *t);
/* A TU pointer carried by the transaction (NULL initially). */
void sip_txn_set_tu(struct sip_txn *t, void *tu);
void *sip_txn_get_tu(const struct sip_txn *t);

/* Earliest timer deadline in ms, UINT64_MAX if none. */
uint64_t sip_txn_next_deadline(const struct sip_txn_table *tbl);
/* Fires every timer due at now_ms (retransmissions, Timer H/I/J/L). */
void sip_txn_run_timers(struct sip_txn_table *tbl, uint64_t now_ms);
