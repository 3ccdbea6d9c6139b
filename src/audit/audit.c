// SPDX-License-Identifier: MIT
/*
 * Audit events: the table of event kinds with their fixed MESSAGE_IDs (generated once with
 * `systemd-id128 new`; never change one, operators' journalctl filters and the catalog in
 * systemd/siprecd.catalog depend on it), and audit_emit, which sends an event to the journal
 * and to the optional observer (the control socket's event stream). Events a network peer can
 * cause at will are rate-limited per kind, with a summary of what was suppressed, so that
 * journald's per-service limit (10,000 messages per 30 s by default) never drops the session
 * and key events that follow a flood.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "siprecd/audit.h"
#include "siprecd/log.h"

#define AUDIT_FIELDS_MAX 32
#define AUDIT_MESSAGE_MAX 4096

static const struct audit_event_info events[_AUDIT_EVENT_MAX] = {
	[AUDIT_DAEMON_STARTED] = {"daemon-started", "7696f356e8d842859e87e3471eac5f94", LOG_NOTICE,
				  "VERSION SIP_LISTEN STATE_DIRECTORY RECORDING_DIR CATALOG_PATH"},
	[AUDIT_DAEMON_STOPPING] = {"daemon-stopping", "baaa6af041b34243be980b264591f8b7",
				   LOG_NOTICE, "REASON"},
	[AUDIT_CONFIG_RELOADED] = {"config-reloaded", "dc5dba889108480489ca92c3608534f5",
				   LOG_NOTICE, "CONFIG_PATH RESULT"},
	[AUDIT_SESSION_STARTED] = {"session-started", "3c0ff77b6bb340709effcef842f60dd1", LOG_INFO,
				   "SIPREC_SESSION_ID SIP_CALL_ID PEER STREAMS"},
	[AUDIT_SESSION_ENDED] = {"session-ended", "7ca0cdb264604bf5a9d65e444a1629c2", LOG_INFO,
				 "SIPREC_SESSION_ID SIP_CALL_ID PEER REASON DURATION_SEC"},
	[AUDIT_RECORDING_FINALIZED] = {"recording-finalized", "91814961d9904b33a7b18129fb39d9f7",
				       LOG_INFO,
				       "SIPREC_SESSION_ID SIP_CALL_ID SIPREC_RECORDING_ID "
				       "RECORDING_PATH BYTES SHA256 KEY_ID KEY_VERSION"},
	[AUDIT_RECORDING_INCOMPLETE] = {"recording-incomplete", "ae60c5a8606647baad222ea7e857ca8e",
					LOG_WARNING,
					"SIPREC_SESSION_ID SIP_CALL_ID SIPREC_RECORDING_ID "
					"RECORDING_PATH REASON"},
	[AUDIT_SRC_REFUSED] = {"src-refused", "8484210c595443d3983b5a5f21016358", LOG_WARNING,
			       "PEER SIP_CALL_ID SIP_STATUS REASON"},
	[AUDIT_TLS_HANDSHAKE_FAILED] = {"tls-handshake-failed", "202ac885b5b74f9e826ed79fc0c6d675",
					LOG_WARNING, "PEER TLS_ERROR"},
	[AUDIT_CLIENT_CERT_REFUSED] = {"client-cert-refused", "11b2b49ade1740cbbf00ac20633e471e",
				       LOG_WARNING, "PEER TLS_PEER_SUBJECT REASON"},
	[AUDIT_AUTH_FAILURE] = {"auth-failure", "1c62116fa3cb449ab1db884f77ee0383", LOG_WARNING,
				"PEER SIP_CALL_ID REASON"},
	[AUDIT_SRTP_AUTH_FAILURES] =
		{"srtp-auth-failures", "668214815cce4e2890aac62c62b9e9a6", LOG_WARNING,
		 "SIPREC_SESSION_ID SIP_CALL_ID SIPREC_STREAM_LABEL PEER COUNT"},
	[AUDIT_KEY_CREATED] = {"key-created", "5aad3480d4944d8b857e6f880a0acbe8", LOG_NOTICE,
			       "KEY_ID KEY_VERSION KEY_PURPOSE"},
	[AUDIT_KEY_ROTATED] = {"key-rotated", "ee559edb2547422884436b1be6d32fa3", LOG_NOTICE,
			       "KEY_ID KEY_VERSION PREVIOUS_KEY_VERSION"},
	[AUDIT_KEY_DESTROYED] = {"key-destroyed", "b0a6fe1e81644320b22022dabcb5cdd3", LOG_NOTICE,
				 "KEY_ID KEY_VERSION REASON"},
	[AUDIT_KEY_BACKED_UP] = {"key-backed-up", "23f22cf602c84c8491ba00ec4369e449", LOG_NOTICE,
				 "BACKUP_PATH KEY_COUNT"},
	[AUDIT_KEY_RESTORED] = {"key-restored", "9169c010e13a444bb90d57054e04941c", LOG_NOTICE,
				"BACKUP_PATH KEY_COUNT"},
	[AUDIT_DISK_SPACE_LOW] = {"disk-space-low", "0aea5344c49f4ad18ac902ac2b5c1ce6", LOG_WARNING,
				  "RECORDING_DIR FREE_PERCENT MIN_FREE_DISK_PERCENT"},
	[AUDIT_METADATA_WARNING] = {"metadata-warning", "608b9dfb2a4c4d6ca1e44eb5dfd43cec",
				    LOG_NOTICE, "SIPREC_SESSION_ID SIP_CALL_ID PEER REASON"},
	[AUDIT_CERTIFICATE_REVOKED] = {"certificate-revoked", "9bb7b85512dc43f4ba3588f0928b35c5",
				       LOG_WARNING, "PEER REASON"},
	[AUDIT_EVENTS_SUPPRESSED] = {"events-suppressed", "2c35769852444daa8fcb3bd7543acf94",
				     LOG_WARNING, "SUPPRESSED_EVENT COUNT INTERVAL_SEC"},
	[AUDIT_RECORDING_WRITE_FAILED] = {"recording-write-failed",
					  "371b919c919f409482b4f5449722b165", LOG_ERR,
					  "SIPREC_SESSION_ID SIP_CALL_ID SIPREC_RECORDING_ID "
					  "RECORDING_PATH REASON"},
	[AUDIT_TRAIL_APPENDED] = {"trail-appended", "5472c6edb7a144c8aa7f41804787bb44", LOG_INFO,
				  "TRAIL_SEQ TRAIL_KIND ACTOR OBJECT REASON SHA256 TRAIL_HASH"},
	[AUDIT_RECORDING_DELETED] = {"recording-deleted", "35f25819f4b6412fa506b4287044938f",
				     LOG_NOTICE,
				     "SIPREC_RECORDING_ID SIPREC_SESSION_ID RECORDING_PATH SHA256 "
				     "ACTOR REASON"},
	[AUDIT_LEGAL_HOLD_PLACED] = {"legal-hold-placed", "0b8c3731ced844dba744a99bfd406463",
				     LOG_NOTICE, "HOLD_ID CASE_REF ACTOR REASON"},
	[AUDIT_LEGAL_HOLD_RELEASED] = {"legal-hold-released", "e59b9931d0ec4a0e8d2275a7b3e870dc",
				       LOG_NOTICE, "HOLD_ID CASE_REF ACTOR REASON"},
	[AUDIT_STORAGE_RECOVERED] = {"storage-recovered", "d088e88e2e7f45a2b0c4dfedee114185",
				     LOG_NOTICE, "STORAGE DIRECTORY WRITE_ERRORS"},
};

/* The kinds a network peer triggers by itself (a garbage connection, an INVITE it makes
 * wrong): rate-limited. Session, recording, key and daemon events never are. */
static const bool peer_triggered[_AUDIT_EVENT_MAX] = {
	[AUDIT_SRC_REFUSED] = true,	    [AUDIT_TLS_HANDSHAKE_FAILED] = true,
	[AUDIT_CLIENT_CERT_REFUSED] = true, [AUDIT_AUTH_FAILURE] = true,
	[AUDIT_SRTP_AUTH_FAILURES] = true,  [AUDIT_METADATA_WARNING] = true,
	[AUDIT_CERTIFICATE_REVOKED] = true,
};

struct rate {
	uint64_t window_start; /* ms; 0 = no window open */
	unsigned emitted;
	uint64_t suppressed;
};

struct suppressed {
	enum audit_event ev;
	uint64_t count, ms;
};

static pthread_mutex_t rate_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rate rates[_AUDIT_EVENT_MAX];
static uint64_t rate_interval_ms = AUDIT_RATE_INTERVAL_DEFAULT_MS;
static unsigned rate_burst = AUDIT_RATE_BURST_DEFAULT;

static uint64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t (*now_fn)(void) = monotonic_ms;

static pthread_mutex_t observer_lock = PTHREAD_MUTEX_INITIALIZER;
static audit_observer_fn observer_fn;
static void *observer_userdata;

const struct audit_event_info *audit_event_info(enum audit_event ev)
{
	if ((unsigned)ev >= _AUDIT_EVENT_MAX)
		return NULL;
	return &events[ev];
}

int audit_event_from_name(const char *name)
{
	for (size_t i = 0; i < _AUDIT_EVENT_MAX; i++)
		if (name && strcmp(events[i].name, name) == 0)
			return (int)i;
	return -EINVAL;
}

void audit_set_observer(audit_observer_fn fn, void *userdata)
{
	pthread_mutex_lock(&observer_lock);
	observer_fn = fn;
	observer_userdata = userdata;
	pthread_mutex_unlock(&observer_lock);
}

void audit_set_rate_limit(uint64_t interval_ms, unsigned burst)
{
	pthread_mutex_lock(&rate_lock);
	rate_interval_ms = interval_ms;
	rate_burst = burst;
	pthread_mutex_unlock(&rate_lock);
}

void audit_set_clock(uint64_t (*fn)(void))
{
	pthread_mutex_lock(&rate_lock);
	now_fn = fn ? fn : monotonic_ms;
	memset(rates, 0, sizeof(rates));
	pthread_mutex_unlock(&rate_lock);
}

/* Under rate_lock: closes each window that is over and had suppressions, into out[]. */
static size_t collect_due(uint64_t now, struct suppressed *out)
{
	size_t n = 0;

	for (size_t i = 0; i < _AUDIT_EVENT_MAX; i++) {
		struct rate *r = &rates[i];

		if (!r->window_start || now - r->window_start < rate_interval_ms)
			continue;
		if (r->suppressed)
			out[n++] = (struct suppressed){(enum audit_event)i, r->suppressed,
						       now - r->window_start};
		memset(r, 0, sizeof(*r));
	}
	return n;
}

static int emit_formatted(enum audit_event ev, const char *const *fields, const char *message);

static void emit_summaries(const struct suppressed *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char ef[64], cf[32], tf[32], msg[256];
		const char *fields[] = {ef, cf, tf, NULL};
		uint64_t secs = (s[i].ms + 999) / 1000;

		snprintf(ef, sizeof(ef), "SUPPRESSED_EVENT=%s", events[s[i].ev].name);
		snprintf(cf, sizeof(cf), "COUNT=%llu", (unsigned long long)s[i].count);
		snprintf(tf, sizeof(tf), "INTERVAL_SEC=%llu", (unsigned long long)secs);
		snprintf(msg, sizeof(msg),
			 "%llu %s event%s suppressed in the last %llu s (rate limit)",
			 (unsigned long long)s[i].count, events[s[i].ev].name,
			 s[i].count == 1 ? "" : "s", (unsigned long long)secs);
		emit_formatted(AUDIT_EVENTS_SUPPRESSED, fields, msg);
	}
}

void audit_flush_suppressed(void)
{
	struct suppressed due[_AUDIT_EVENT_MAX];
	size_t n;

	pthread_mutex_lock(&rate_lock);
	n = collect_due(now_fn(), due);
	pthread_mutex_unlock(&rate_lock);
	emit_summaries(due, n);
}

/* Whether an event of kind ev may go out now; counts it as suppressed if not. */
static bool admit(enum audit_event ev, struct suppressed *due, size_t *ret_n)
{
	uint64_t now;
	bool ok = true;

	pthread_mutex_lock(&rate_lock);
	now = now_fn();
	*ret_n = collect_due(now, due);
	if (peer_triggered[ev] && rate_burst) {
		struct rate *r = &rates[ev];

		if (!r->window_start)
			r->window_start = now ? now : 1;
		if (r->emitted < rate_burst)
			r->emitted++;
		else
			r->suppressed++, ok = false;
	}
	pthread_mutex_unlock(&rate_lock);
	return ok;
}

int audit_emit(enum audit_event ev, const char *const *fields, const char *fmt, ...)
{
	struct suppressed due[_AUDIT_EVENT_MAX];
	char message[AUDIT_MESSAGE_MAX];
	size_t ndue = 0;
	va_list ap;
	bool ok;
	int r;

	if (!audit_event_info(ev))
		return -EINVAL;
	ok = admit(ev, due, &ndue);
	emit_summaries(due, ndue);
	if (!ok)
		return -EAGAIN;

	va_start(ap, fmt);
	r = vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	if (r < 0)
		return -EINVAL;
	return emit_formatted(ev, fields, message);
}

static int emit_formatted(enum audit_event ev, const char *const *fields, const char *message)
{
	const struct audit_event_info *info = &events[ev];
	const char *all[AUDIT_FIELDS_MAX + 2];
	char event_field[64];
	audit_observer_fn fn;
	void *userdata;
	size_t n = 0;
	int r;

	/* SIPREC_EVENT= makes `journalctl SIPREC_EVENT=session-started` work without the id. */
	snprintf(event_field, sizeof(event_field), "SIPREC_EVENT=%s", info->name);
	all[n++] = event_field;
	for (size_t i = 0; fields && fields[i] && n < AUDIT_FIELDS_MAX + 1; i++)
		all[n++] = fields[i];
	all[n] = NULL;

	r = log_struct_unfiltered(info->level, info->message_id, all, "%s", message);

	/* Called outside the lock, so an observer may itself emit or change the observer. */
	pthread_mutex_lock(&observer_lock);
	fn = observer_fn;
	userdata = observer_userdata;
	pthread_mutex_unlock(&observer_lock);
	if (fn)
		fn(userdata, ev, fields, message);
	return r;
}
