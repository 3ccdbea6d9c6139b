/* SPDX-License-Identifier: MIT */
/*
 * Webhooks (docs/WEBHOOKS.md): events (session started, recording finalized, session ended,
 * recording deleted, hold placed/released) POSTed as signed JSON to the configured URLs. A
 * producer only enqueues; the webhook thread writes each event to the catalog's outbox table
 * and delivers it with libcurl, retrying with exponential backoff until the receiver answers
 * 2xx: at least once, deduplicated by the receiver on X-Siprecd-Event-Id. Deletions and legal
 * holds are read from the compliance trail (any process writes it), not enqueued.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEBHOOK_URLS_MAX 8
#define WEBHOOK_URL_MAX 2048
#define WEBHOOK_SECRET_MAX 1024
#define WEBHOOK_DATA_MAX 65536 /* one event's data JSON; larger is -E2BIG */
#define WEBHOOK_QUEUE_MAX 8192 /* events enqueued, not yet in the outbox; more is -ENOBUFS */
#define WEBHOOK_SIG_HEX 64

/* Event types (the "type" of the body and the X-Siprecd-Event header). */
#define WEBHOOK_SESSION_STARTED "session.started"
#define WEBHOOK_RECORDING_FINALIZED "recording.finalized"
#define WEBHOOK_SESSION_ENDED "session.ended"
#define WEBHOOK_RECORDING_DELETED "recording.deleted"
#define WEBHOOK_HOLD_PLACED "hold.placed"
#define WEBHOOK_HOLD_RELEASED "hold.released"

/*
 * Enqueues one event: type is one of the WEBHOOK_* names, data a JSON object (the body's
 * "data"; NULL = {}); both are copied. Any thread, never blocks on I/O (a mutex held for a
 * copy). The event id and created_at are given here. Returns 0 (also when webhooks are off),
 * -EINVAL (type empty, data not a JSON object), -E2BIG, -ENOBUFS (the queue is full: the
 * thread is behind by WEBHOOK_QUEUE_MAX events), -ENOMEM.
 */
int webhook_event(const char *type, const char *data);

/* The session and recording events of src/siprec/session.c (strings may be NULL). */
void webhook_session_event(const char *type, const char *session_uuid, const char *call_id,
			   const char *src, const char *reason);
void webhook_recording_finalized(const char *session_uuid, const char *recording_uuid,
				 const char *path, uint64_t size, const char *sha256,
				 bool complete);

struct webhook_config {
	const char *catalog_path; /* required: the catalog, already migrated */
	const char *urls;	  /* WEBHOOK_URLS; NULL or "" = webhooks off */
	const char *secret_file;  /* WEBHOOK_SECRET_FILE; NULL or "" = the credential */
	uint64_t timeout_ms, retry_min_ms, retry_max_ms;
};

/*
 * Reads the secret, opens a connection of its own to the catalog and starts the webhook
 * thread (it delivers what an earlier run left in the outbox). With no URLs it does nothing
 * and returns 0. -errno with a reason in err (a bad URL, an unreadable or empty secret, a
 * secret file others can read); the secret is never logged.
 */
int webhook_start(const struct webhook_config *cfg, char *err, size_t errlen);
/* Writes what is still enqueued to the outbox, aborts a delivery in flight, joins the thread
 * and frees everything (the secret wiped). Safe when never started. */
void webhook_stop(void);

/* ---- the pieces, exposed for the unit tests ---- */

/* HMAC-SHA256(secret, "<timestamp>.<body>") in lowercase hex (out: 64 digits + NUL). */
int webhook_sign(const uint8_t *secret, size_t secret_len, uint64_t timestamp, const char *body,
		 size_t body_len, char out[WEBHOOK_SIG_HEX + 1]);
/* The delay before attempt failures + 1 after `failures` failed attempts (>= 1):
 * min(retry_min * 2^(failures - 1), retry_max). */
uint64_t webhook_backoff_ms(unsigned failures, uint64_t retry_min_ms, uint64_t retry_max_ms);
/*
 * Splits a WEBHOOK_URLS value: comma-separated, blanks around each trimmed, each an http:// or
 * https:// URL with a host, at most WEBHOOK_URLS_MAX of WEBHOOK_URL_MAX bytes. Fills urls (the
 * caller frees each) and returns the count, or -EINVAL with a reason in err.
 */
int webhook_parse_urls(const char *list, char *urls[WEBHOOK_URLS_MAX], char *err, size_t errlen);
