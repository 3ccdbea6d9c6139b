/* SPDX-License-Identifier: MIT */
/*
 * The session catalog: sqlite3 in WAL mode, written only by one catalog thread. The SIP thread
 * and the media workers enqueue operations (never blocking on sqlite or fsync); the catalog
 * thread applies everything queued in one transaction per batch. Rows are addressed by uuids and
 * labels, so callers never need row ids back. Schema and migrations: sql/NNN-*.sql, embedded at
 * build time; documented in docs/CATALOG.md. Times are unix milliseconds (UTC).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

struct catalog;

/* Queue limits: past either, enqueue functions return -EAGAIN and drop the operation. The rows
 * a recording depends on (session begin/end, stream, recording begin/final, key) and barriers
 * have a reserve of as much again before they are refused. */
#define CATALOG_QUEUE_MAX_OPS_DEFAULT 100000u
#define CATALOG_QUEUE_MAX_BYTES_DEFAULT (64u << 20)
/* At most this many operations go into one transaction. */
#define CATALOG_BATCH_MAX 4096u
/* Longest text value (-E2BIG past it) and blob (metadata body, wrapped key). */
#define CATALOG_TEXT_MAX (64u << 10)
#define CATALOG_BLOB_MAX (1u << 20)

/*
 * Opens (creating with mode 0640 if missing) the catalog database at path, sets WAL,
 * synchronous=NORMAL, busy_timeout and foreign_keys, and applies the embedded migrations in
 * order, each in its own transaction. Then it recovers from a crash: sessions still 'active' become
 * 'interrupted' (end_reason 'crash'), their streams 'ended', and recordings still 'writing'
 * become 'interrupted'; those recordings are listed by catalog_recovered_foreach. Only the daemon
 * opens a catalog this way (tools use catalog_open_readonly).
 * Returns 0 and *ret (caller frees with catalog_free), -EPROTONOSUPPORT if the database's
 * user_version is newer than this code knows, -EIO (or -errno) on sqlite errors. If errbuf is not
 * NULL it receives a one-line reason on failure.
 */
int catalog_open(const char *path, char *errbuf, size_t errlen, struct catalog **ret);

/*
 * Writes zeros into the WAL file past its last frame, up to the size it reaches before it starts
 * over (13,000 frames: 51 MiB with 4 KiB pages), and fdatasyncs it. A WAL that
 * grows makes each commit's fdatasync a journal commit too (the file's new blocks), which it is
 * not once the WAL is overwritten in place: on the bench's ext4 volume the first ~500 ms at
 * 1,000 setups/s synced in 2-4 ms instead of 1-1.5. Call before catalog_start (start-up).
 * Returns 0 and *ret_bytes (the zeros written, NULL ok), or -errno.
 */
int catalog_warm_wal(struct catalog *c, uint64_t *ret_bytes);

/* Changes the queue limits (0 keeps the current value). Call before catalog_start. */
void catalog_set_queue_limits(struct catalog *c, unsigned max_ops, size_t max_bytes);

/* Starts the catalog thread, which owns the connection from now on. Returns 0 or -errno. */
int catalog_start(struct catalog *c);

/* Applies what is queued, stops and joins the catalog thread. Later enqueues return
 * -ESHUTDOWN. NULL and a catalog never started are fine. */
void catalog_stop(struct catalog *c);

/* Stops the thread if running (draining the queue), applies anything still queued, closes the
 * database and frees c. Returns NULL; NULL ok. */
struct catalog *catalog_free(struct catalog *c);

/*
 * Enqueue operations: callable from any thread, never block on sqlite. All strings and blobs are
 * copied; a NULL string is SQL NULL (for updates: "leave as is"). Each returns 0 when queued,
 * -EAGAIN when the queue is over a limit (the operation is dropped: the caller counts it),
 * -E2BIG if a value is over CATALOG_TEXT_MAX/CATALOG_BLOB_MAX, -EINVAL if a required field is
 * missing, -ESHUTDOWN after catalog_stop, -ENOMEM. Failures while applying (unknown uuid,
 * constraint) are counted in struct catalog_stats, never reported back.
 */
struct catalog_session {
	const char *uuid; /* required */
	const char *call_id;
	const char *siprec_session_id;
	const char *src_addr;
	const char *transport; /* "udp", "tcp", "tls" */
	uint64_t started_at;   /* required */
};
int catalog_session_begin(struct catalog *c, const struct catalog_session *s);

/* state: "ended", "interrupted" or "failed"; reason free text ("bye", "timeout", ...). Also marks
 * the session's streams 'ended'. */
int catalog_session_end(struct catalog *c, const char *uuid, uint64_t ended_at, const char *state,
			const char *reason);

/* Inserts or updates (by session and participant_id) one participant. */
struct catalog_participant {
	const char *session_uuid;   /* required */
	const char *participant_id; /* required: metadata participant_id */
	const char *name;
	const char *aor;
	const char *aor_index;	  /* with the AoR sealed: its blind index (keys_aor_index) */
	const char *domain_index; /* ... and that of its domain (compliance_aor_domain) */
};
int catalog_participant_upsert(struct catalog *c, const struct catalog_participant *p);

/* Inserts or updates (by session and label) one stream's description. */
struct catalog_stream {
	const char *session_uuid; /* required */
	const char *label;	  /* required: SDP a=label */
	const char *stream_id;	  /* metadata stream_id */
	const char
		*participant_id; /* metadata participant_id of the sender, must be upserted first */
	const char *direction;
	const char *codec;
	int payload_type;	/* -1 = unknown */
	uint32_t clock_rate;	/* 0 = unknown */
	const char *srtp_suite; /* NULL = leave (NULL on insert); "": plain RTP, stored as NULL */
	uint16_t local_port;	/* 0 = unknown */
	const char *state;	/* NULL = leave ('active' on insert) */
};
int catalog_stream_upsert(struct catalog *c, const struct catalog_stream *s);

/* Absolute counters of one stream (not increments), so a dropped update is repaired by the
 * next one. Times 0 = leave as is. */
struct catalog_stream_stats {
	const char *session_uuid; /* required */
	const char *label;	  /* required */
	const char *ssrcs;	  /* NULL = leave */
	uint64_t packets, bytes, lost, duplicates, out_of_order;
	uint64_t srtp_auth_failures, srtp_replays;
	const char *state; /* "active", "idle", "ended"; NULL = leave */
	uint64_t first_packet_at, last_packet_at;
	const char *source_addr; /* latched source "addr:port"; NULL = leave */
	uint64_t dropped_source, dropped_limit, unnegotiated_pt, dtmf_events;
};
int catalog_stream_stats(struct catalog *c, const struct catalog_stream_stats *st);

/* One RFC 4733 telephone-event of a stream (table dtmf_events). Callable from media workers. */
struct catalog_dtmf {
	const char *session_uuid; /* required */
	const char *label;	  /* required: the stream's a=label */
	const char *recording_uuid;
	uint8_t event, volume, payload_type;
	bool ended;
	uint32_t ssrc, rtp_timestamp, duration, duration_ms;
	uint64_t started_at; /* required */
};
int catalog_dtmf_event(struct catalog *c, const struct catalog_dtmf *e);

/* A recording file was created (state 'writing'). */
struct catalog_recording {
	const char *uuid;	  /* required */
	const char *session_uuid; /* required */
	const char *stream_label; /* NULL: not tied to one stream */
	const char *path;	  /* required */
	const char *key_id;
	uint32_t key_version;
	const char *algorithm;
	uint64_t created_at; /* required */
};
int catalog_recording_begin(struct catalog *c, const struct catalog_recording *r);

/* A recording file was closed, or checked after a crash. */
struct catalog_recording_final {
	const char *uuid; /* required */
	uint64_t size, chunks, frames;
	const char *sha256; /* lowercase hex, NULL = leave */
	bool complete;
	const char *state; /* "final", "interrupted", "shredded"; required */
	uint64_t finalized_at;
};
int catalog_recording_final(struct catalog *c, const struct catalog_recording_final *f);

/* One received rs-metadata document; adds warning_count to sessions.metadata_warnings. */
struct catalog_metadata {
	const char *session_uuid; /* required */
	uint32_t seq;
	uint64_t received_at; /* required */
	const char *datamode; /* "complete", "partial" */
	const void *body;     /* XML as received, or the sealed blob when body_encrypted */
	size_t body_len;
	bool body_encrypted;
	const char *json;     /* parsed model */
	const char *warnings; /* JSON array text; NULL = "[]" */
	uint32_t warning_count;
	const char *dialect; /* sessions.metadata_dialect; NULL = leave */
};
int catalog_metadata_snapshot(struct catalog *c, const struct catalog_metadata *m);

/* One payload format answered on a stream (stream_formats); the stream must be upserted first.
 * An existing (stream, payload_type) row is replaced. */
struct catalog_stream_format {
	const char *session_uuid; /* required */
	const char *label;	  /* required */
	unsigned payload_type;	  /* 0..127 */
	const char *encoding;	  /* required */
	uint32_t clock_rate;
	unsigned channels; /* 0 = 1 */
	const char *fmtp;  /* NULL or "" = none */
};
int catalog_stream_format_add(struct catalog *c, const struct catalog_stream_format *f);

/* A warning about the session's metadata found after it was stored (a stream label no metadata
 * stream carries): counted in sessions.metadata_warnings and appended to the warnings of the
 * session's latest metadata snapshot. */
int catalog_metadata_warning(struct catalog *c, const char *session_uuid, const char *warning);

/* One correlation value of a session (session_context): source "sip" (a header of the INVITE)
 * or "metadata" (a vendor extension id). A value already stored is not duplicated. */
int catalog_session_context_add(struct catalog *c, const char *session_uuid, const char *source,
				const char *name, const char *value);

/* Inserts or updates (by key_id and version) a wrapped data key. state "destroyed" also drops
 * the wrapped blob. The op's copy of wrapped is wiped when freed. Call catalog_sync afterwards
 * if the key must be durable before use. */
struct catalog_key {
	const char *key_id; /* required */
	uint32_t version;
	const char *algorithm; /* required */
	const char *state;     /* required: "active", "retired", "destroyed" */
	uint64_t created_at, activated_at, retired_at, destroyed_at; /* 0 = NULL / leave */
	const void *wrapped;
	size_t wrapped_len;
	const char *wrap_alg;
	const char *kek_id;
};
int catalog_key_upsert(struct catalog *c, const struct catalog_key *k);

/*
 * Calls fn(userdata, result) on the catalog thread once every operation enqueued before it is
 * committed and durable (that batch is committed with synchronous=FULL: the WAL is synced):
 * result 0, or -EIO when an operation of the batch failed, or one queued before it and after
 * the previous barrier (applied in an earlier batch). fn must not block; post to your own
 * loop. Never dropped for the queue limit. Returns 0, -ESHUTDOWN after catalog_stop (fn is
 * then never called), -ENOMEM, -EINVAL.
 */
int catalog_barrier(struct catalog *c, void (*fn)(void *userdata, int result), void *userdata);

/* Operations queued and not yet taken by the catalog thread (racy by nature; for metrics). */
unsigned catalog_queue_depth(const struct catalog *c);

/*
 * Waits until every operation enqueued before the call has been applied (committed or counted
 * as failed). Without a running thread, applies the queue on the calling thread (then only one
 * thread may call it at a time). Blocks: for
 * tests, tools and shutdown, never the loop thread. Returns 0, or -EIO if any operation failed
 * since the previous catalog_sync.
 */
int catalog_sync(struct catalog *c);

/* Counters for the health report. */
struct catalog_stats {
	uint64_t enqueued;     /* operations accepted */
	uint64_t dropped;      /* refused with -EAGAIN (queue full) */
	uint64_t applied;      /* operations committed */
	uint64_t failed;       /* operations that did not apply (error, unknown uuid) */
	uint64_t transactions; /* committed batches */
	uint64_t busy_retries; /* SQLITE_BUSY seen and retried */
	uint64_t merged; /* applied folded into an earlier op of their batch (also in applied) */
	uint64_t checkpoints;	     /* WAL checkpoints run by the checkpointer thread */
	uint64_t checkpoints_inline; /* ... and by the applying thread within a COMMIT */
	unsigned queue_depth;
	char last_error[256]; /* "" if none */
	char damaged[256];    /* SQLite's first "malformed" or "not a database" error; "" if none */
	/* The WAL's first failed fdatasync ("" if none): every later barrier fails with it, for the
	 * life of the catalog (sync_thread says why) */
	char sync_failed[256];
	/* The database file's first failed sync by a checkpoint ("" if none): SQLite's fsync at
	 * the end of a pass that copied the whole WAL, or the checkpointer's write-back after each
	 * pass. Sticky as sync_failed: the kernel may have dropped pages the WAL no longer holds
	 * (checkpoint_thread says why) */
	char db_sync_failed[256];
};
void catalog_get_stats(struct catalog *c, struct catalog_stats *ret);

/* A recording found 'writing' at open (the daemon did not finalize it). */
struct catalog_recovered {
	const char *recording_uuid;
	const char *session_uuid;
	const char *path;
};
/* Calls fn for each recording recovered at open; stops at and returns fn's first negative
 * return, else returns the number of recordings. The pointers are valid during the call. */
int catalog_recovered_foreach(struct catalog *c,
			      int (*fn)(void *userdata, const struct catalog_recovered *r),
			      void *userdata);
/* Number of sessions marked 'interrupted' at open. */
unsigned catalog_recovered_sessions(const struct catalog *c);

/*
 * Opens a separate read-only connection for tools and the control socket (blocking; never on the
 * loop thread), with busy_timeout set. Returns 0 and *ret (caller closes with sqlite3_close),
 * -ENOENT if the file does not exist, -EIO on other sqlite errors.
 */
int catalog_open_readonly(const char *path, sqlite3 **ret);
