/* SPDX-License-Identifier: MIT */
/*
 * SIPREC recording sessions (RFC 7866): one per dialog created by an SRC's INVITE. A session
 * owns its metadata model, its streams (a media_stream each, with a recording file), its SDP
 * answer state, and its catalog rows; it ends on BYE, CANCEL, Timer H, or shutdown.
 */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>

#include "media/media.h"
#include "siprecd/sip.h"
#include "siprecd/str.h"

struct manager;
struct sessions;
struct session;
struct sip_conn;

int sessions_new(struct manager *m, struct sessions **ret);
void sessions_free(struct sessions *ss);
void sessions_count(const struct sessions *ss, unsigned *ret_calls, unsigned *ret_streams);
/* Ends every session (BYE to the SRC, recordings finalized); done() runs on the SIP thread
 * once the last recording is durable and every BYE sent was answered or given up (Timer F),
 * at once when there is none. The caller bounds the wait and keeps the transport open. */
void sessions_shutdown(struct sessions *ss, void (*done)(struct manager *m));
/* BYEs sent and not answered yet. */
unsigned sessions_byes_pending(const struct sessions *ss);
/* The session of a dialog (RFC 3261 §12): Call-ID, our tag (the request's To tag) and the SRC's
 * (its From tag). NULL if none. */
struct session *sessions_find(struct sessions *ss, struct str call_id, struct str local_tag,
			      struct str remote_tag);

/* A new INVITE (no To tag): sets the session up and answers through txn. */
void session_invite(struct sessions *ss, struct sip_txn *txn, struct sip_msg *req,
		    struct sip_conn *conn, const struct sockaddr_storage *peer);
/* In-dialog requests. */
void session_reinvite(struct session *s, struct sip_txn *txn, struct sip_msg *req);
void session_update(struct session *s, struct sip_txn *txn, struct sip_msg *req);
void session_bye(struct session *s, struct sip_txn *txn, struct sip_msg *req);
void session_ack(struct session *s, struct sip_msg *ack);
/* True once the session ends (BYE, CANCEL, timeout): its dialog answers nothing but 481. */
bool session_ending(const struct session *s);
/* CANCEL of the INVITE still pending (487 sent by the caller). */
void session_cancel(struct session *s);
/* Timer H: our 2xx was never ACKed. */
void session_no_ack(struct session *s);
/* The session's INVITE transaction t is being freed: the session forgets it. */
void session_txn_terminated(struct session *s, struct sip_txn *t);
/* The session's INVITE transaction t got no final response within 64*T1: the session ends
 * (answering 500). */
void session_txn_stalled(struct session *s, struct sip_txn *t);
/* A response to a request siprecd sent (BYE): true when it matched one. */
bool sessions_response(struct sessions *ss, struct sip_msg *resp);

/* ---- read-only views for the control socket and metrics (SIP thread only) ---- */

struct siprec_metadata;

/* Borrowed views: valid until the SIP loop runs again. */
struct session_info {
	const char *uuid, *call_id, *peer, *state, *siprec_session_id; /* last may be NULL */
	const char *transport;
	/* advertised in c=, the streams' sockets bound to it */
	const char *media_address;
	uint64_t started_at_ms; /* CLOCK_REALTIME */
	unsigned n_streams;
	const struct siprec_metadata *md; /* NULL when the SRC sent none */
};

struct session_stream_info {
	const char *label, *recording_uuid, *path, *codec;
	const char *participant_id; /* sender of the stream per the metadata, NULL if unknown */
	uint16_t port;
	uint32_t clock_rate;
	bool srtp, paused, active;	 /* active: receiving (not rejected, not closed) */
	struct media_stream_stats stats; /* zero unless active */
};

#define SESSIONS_END_REASONS 12
/* Counters of finished streams and sessions, for monotonic metrics (live ones add their own). */
struct sessions_totals {
	uint64_t packets, bytes, lost, srtp_auth_failures, srtp_replays;
	uint64_t dropped_source, dropped_limit, unnegotiated_pt, dtmf_events;
	uint64_t recording_bytes, recordings_complete, recordings_incomplete, recording_errors;
	uint64_t chunks_sealed, frames_recorded; /* AEAD seal operations, frames in them */
	uint64_t ended[SESSIONS_END_REASONS];	 /* by sessions_end_reason_name(i) */
	/* Per-recording p99 durable-write latency, bucketed as store_lat_bucket_upper_us(). */
	uint64_t p99_hist[STORE_LAT_BUCKETS];
	uint64_t p99_count, p99_sum_us;
};

/* Iterates sessions: NULL starts, NULL ends. */
struct session *sessions_next(struct sessions *ss, struct session *prev);
/* The session whose uuid is uuid, or NULL. */
struct session *sessions_find_uuid(struct sessions *ss, const char *uuid);
void session_get_info(const struct session *s, struct session_info *ret);
/* Stream i (< info.n_streams) of s; -ENOENT past the end. */
int session_get_stream(struct session *s, unsigned i, struct session_stream_info *ret);
const struct sessions_totals *sessions_get_totals(const struct sessions *ss);
/* "bye", "cancel", "no-ack", "rtp-timeout", "refused", "shutdown", "operator", "error",
 * "silence", "session-expired", "write-error", "other"; NULL past. */
const char *sessions_end_reason_name(unsigned i);
/* Ends the session with uuid on the operator's request: BYE to the SRC, recordings finalized
 * asynchronously. 0, -ENOENT (no such session) or -EALREADY (already ending). */
int sessions_stop(struct sessions *ss, const char *uuid);
