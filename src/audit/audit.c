// SPDX-License-Identifier: MIT
/*
 * Audit events: the table of event kinds with their fixed MESSAGE_IDs (generated once with
 * `systemd-id128 new`; never change one, operators' journalctl filters and the catalog in
 * systemd/siprecd.catalog depend on it), and audit_emit, which sends an event to the journal
 * and to the optional observer (the control socket's event stream).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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
	[AUDIT_RECORDING_WRITE_FAILED] = {"recording-write-failed",
					  "371b919c919f409482b4f5449722b165", LOG_ERR,
					  "SIPREC_SESSION_ID SIP_CALL_ID SIPREC_RECORDING_ID "
					  "RECORDING_PATH REASON"},
};

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

int audit_emit(enum audit_event ev, const char *const *fields, const char *fmt, ...)
{
	const struct audit_event_info *info = audit_event_info(ev);
	const char *all[AUDIT_FIELDS_MAX + 2];
	char event_field[64];
	char message[AUDIT_MESSAGE_MAX];
	audit_observer_fn fn;
	void *userdata;
	size_t n = 0;
	va_list ap;
	int r;

	if (!info)
		return -EINVAL;

	va_start(ap, fmt);
	r = vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	if (r < 0)
		return -EINVAL;

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
