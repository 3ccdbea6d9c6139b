/* SPDX-License-Identifier: MIT */
/*
 * Audit events: one table of event kinds, each with a fixed 128-bit MESSAGE_ID, documented in
 * systemd/siprecd.catalog and docs/AUDIT.md. Fields carry ids an operator can search
 * (SIPREC_SESSION_ID=, SIP_CALL_ID=, SIPREC_RECORDING_ID=, PEER=, KEY_ID=, KEY_VERSION=).
 */
#pragma once

#include "siprecd/macro.h"

enum audit_event {
	AUDIT_DAEMON_STARTED,
	AUDIT_DAEMON_STOPPING,
	AUDIT_CONFIG_RELOADED,
	AUDIT_SESSION_STARTED,
	AUDIT_SESSION_ENDED,
	AUDIT_RECORDING_FINALIZED,
	AUDIT_RECORDING_INCOMPLETE,
	AUDIT_SRC_REFUSED,
	AUDIT_TLS_HANDSHAKE_FAILED,
	AUDIT_CLIENT_CERT_REFUSED,
	AUDIT_AUTH_FAILURE,
	AUDIT_SRTP_AUTH_FAILURES,
	AUDIT_KEY_CREATED,
	AUDIT_KEY_ROTATED,
	AUDIT_KEY_DESTROYED,
	AUDIT_KEY_BACKED_UP,
	AUDIT_KEY_RESTORED,
	AUDIT_DISK_SPACE_LOW,
	AUDIT_METADATA_WARNING,
	AUDIT_CERTIFICATE_REVOKED,
	AUDIT_EVENTS_SUPPRESSED,
	AUDIT_RECORDING_WRITE_FAILED,
	AUDIT_TRAIL_APPENDED,
	AUDIT_RECORDING_DELETED,
	AUDIT_LEGAL_HOLD_PLACED,
	AUDIT_LEGAL_HOLD_RELEASED,
	AUDIT_STORAGE_RECOVERED,
	_AUDIT_EVENT_MAX,
};

struct audit_event_info {
	const char *name;	/* "session-started" */
	const char *message_id; /* 32 lowercase hex digits */
	int level;		/* syslog priority */
	const char *fields;	/* space-separated names of the fields the event carries */
};

/* The static table entry of ev, or NULL for a value out of range. */
const struct audit_event_info *audit_event_info(enum audit_event ev);
/* The enum value of an event name ("session-started"), or -EINVAL. */
int audit_event_from_name(const char *name);

#include <stdint.h>

#define AUDIT_RATE_INTERVAL_DEFAULT_MS 10000
#define AUDIT_RATE_BURST_DEFAULT 20

/*
 * Emits an audit event: fields are "NAME=value" strings terminated by NULL, the message is a
 * printf format. Adds SIPREC_EVENT=<name> and the event's MESSAGE_ID, and is sent whatever the
 * log level. Also hands the event (the caller's fields, the formatted message, both borrowed for
 * the duration of the call) to an optional observer (the control socket's event stream) set with
 * audit_set_observer. Returns the result of the journal send (-errno), for information only.
 * An event a network peer can trigger (src-refused, tls-handshake-failed, client-cert-refused,
 * certificate-revoked, auth-failure, srtp-auth-failures, metadata-warning) beyond the burst of
 * its kind in the current window is dropped (-EAGAIN) and counted; once the window is over an
 * events-suppressed event says "N events of type X suppressed in the last T s".
 */
int audit_emit(enum audit_event ev, const char *const *fields, const char *fmt, ...) _printf_(3, 4);

/* At most burst peer-triggered events of each kind per interval_ms (burst 0 = no limit);
 * thread-safe, applies from the next event (AUDIT_RATE_LIMIT_INTERVAL/_BURST). */
void audit_set_rate_limit(uint64_t interval_ms, unsigned burst);
/* Emits the events-suppressed summaries of windows that are over; call periodically so a
 * summary does not wait for the next event of its kind. Thread-safe. */
void audit_flush_suppressed(void);
/* Tests: the millisecond clock of the rate limit (NULL = CLOCK_MONOTONIC); resets the windows. */
void audit_set_clock(uint64_t (*fn)(void));

typedef void (*audit_observer_fn)(void *userdata, enum audit_event ev, const char *const *fields,
				  const char *message);
/* Sets (or clears, with NULL) the one observer; thread-safe. */
void audit_set_observer(audit_observer_fn fn, void *userdata);
