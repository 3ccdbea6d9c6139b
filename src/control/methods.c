// SPDX-License-Identifier: MIT
/*
 * The io.siprecd varlink interface: its definition (IDL, served by GetInterfaceDescription) and
 * the methods: Health, Version, ListSessions, GetSession, StopSession, ListKeys, RotateDataKey,
 * RotateKeyEncryptionKey, Reload, Drain. Subscribe is handled by the server (it keeps the
 * connection).
 */
#include <errno.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "control/control.h"
#include "daemon/manager.h"
#include "siprec/session.h"
#include "siprecd/keys.h"
#include "siprecd/log.h"
#include "siprecd/siprec.h"
#include "siprecd/tls.h"
#include "siprecd/transport.h"

const char control_idl[] =
	"# siprecd, the SIPREC recording server: health, sessions, keys and reload.\n"
	"interface io.siprecd\n"
	"\n"
	"type Check (\n"
	"  name: string,\n"
	"  status: (healthy, degraded, failing),\n"
	"  message: string\n"
	")\n"
	"\n"
	"type StreamStats (\n"
	"  packets: int,\n"
	"  bytes: int,\n"
	"  rtcp_packets: int,\n"
	"  lost: int,\n"
	"  duplicates: int,\n"
	"  out_of_order: int,\n"
	"  srtp_auth_failures: int,\n"
	"  srtp_replays: int,\n"
	"  dropped_source: int,\n"
	"  dropped_limit: int,\n"
	"  unnegotiated_pt: int,\n"
	"  dtmf_events: int,\n"
	"  ssrc: int,\n"
	"  first_packet_usec: ?int,\n"
	"  last_packet_usec: ?int\n"
	")\n"
	"\n"
	"type Stream (\n"
	"  label: string,\n"
	"  recording_id: string,\n"
	"  path: string,\n"
	"  codec: string,\n"
	"  participant_id: ?string,\n"
	"  port: int,\n"
	"  srtp: bool,\n"
	"  paused: bool,\n"
	"  active: bool,\n"
	"  stats: StreamStats\n"
	")\n"
	"\n"
	"type Participant (\n"
	"  id: string,\n"
	"  names: []string,\n"
	"  aors: []string\n"
	")\n"
	"\n"
	"type Session (\n"
	"  id: string,\n"
	"  call_id: string,\n"
	"  siprec_session_id: ?string,\n"
	"  peer: string,\n"
	"  transport: string,\n"
	"  state: string,\n"
	"  started_usec: int,\n"
	"  participants: []Participant,\n"
	"  streams: []Stream\n"
	")\n"
	"\n"
	"# A data key version (never key bytes); times in microseconds since the epoch.\n"
	"type Key (\n"
	"  id: string,\n"
	"  version: int,\n"
	"  state: (active, retired, destroyed, legacy),\n"
	"  current: bool,\n"
	"  algorithm: string,\n"
	"  kek_id: string,\n"
	"  created_usec: ?int,\n"
	"  activated_usec: ?int,\n"
	"  retired_usec: ?int,\n"
	"  destroyed_usec: ?int\n"
	")\n"
	"\n"
	"# Overall state and the checks it is made of.\n"
	"method Health() -> (status: (healthy, degraded, failing), checks: []Check, draining: "
	"bool)\n"
	"\n"
	"# Version and build/runtime features.\n"
	"method Version() -> (\n"
	"  version: string,\n"
	"  git: string,\n"
	"  srtp_backend: string,\n"
	"  tls_enabled: bool,\n"
	"  ktls_mode: (off, unavailable, tx+rx),\n"
	"  ktls_available: bool,\n"
	"  ktls_tx_connections: int,\n"
	"  ktls_rx_connections: int,\n"
	"  io_uring_features: [string]bool,\n"
	"  json_c: string\n"
	")\n"
	"\n"
	"method ListSessions() -> (sessions: []Session)\n"
	"method GetSession(id: string) -> (session: Session)\n"
	"\n"
	"# Ends the recording of a session: BYE to the SRC, recordings sealed. Privileged.\n"
	"method StopSession(id: string) -> ()\n"
	"\n"
	"method ListKeys() -> (keys: []Key)\n"
	"# Asks the rotation thread for a new data key version; it is active once the key-rotated\n"
	"# event is sent (Subscribe) and ListKeys shows it current. Privileged.\n"
	"method RotateDataKey() -> (requested: bool, previous_id: string, previous_version: int)\n"
	"# Re-wraps every data key under a new KEK in one transaction (recordings untouched) and\n"
	"# answers when that is committed. store defaults to the one keyFile or passwordFile\n"
	"# implies, else the configured one (as the daemon last rotated it): file takes\n"
	"# keyFile (absolute; created 0600 when missing, refused when group/world accessible),\n"
	"# password takes passwordFile (absolute) and kdf (argon2id, pbkdf2), credential reads\n"
	"# $CREDENTIALS_DIRECTORY/master-key. The old KEK no longer opens the catalog: persist\n"
	"# the returned configuration before the next restart. Privileged.\n"
	"method RotateKeyEncryptionKey(\n"
	"  store: ?(file, password, credential),\n"
	"  keyFile: ?string,\n"
	"  passwordFile: ?string,\n"
	"  kdf: ?(argon2id, pbkdf2)\n"
	") -> (\n"
	"  kek_id: string,\n"
	"  previous_kek_id: string,\n"
	"  store: string,\n"
	"  key_path: ?string,\n"
	"  configuration: []string\n"
	")\n"
	"\n"
	"# Re-reads certificates and what can change at run time. Privileged.\n"
	"method Reload() -> ()\n"
	"\n"
	"# Stops (enable, the default) or resumes taking new sessions: while draining, INVITEs\n"
	"# and OPTIONS get 503 with Retry-After, sessions in progress record to their end.\n"
	"# active_sessions: those still in progress. Privileged.\n"
	"method Drain(enable: ?bool) -> (draining: bool, active_sessions: int)\n"
	"\n"
	"# Session and audit events, as they happen; call with more: true. The first reply is\n"
	"# event \"subscribed\".\n"
	"method Subscribe() -> (\n"
	"  event: string,\n"
	"  message_id: ?string,\n"
	"  message: ?string,\n"
	"  time_usec: ?int,\n"
	"  fields: ?[string]string\n"
	")\n"
	"\n"
	"error NoSuchSession (id: string)\n"
	"error SessionEnding (id: string)\n"
	"error NotSupported (reason: string)\n"
	"# The new KEK source: missing, unreadable, group/world accessible, malformed, or the\n"
	"# current KEK.\n"
	"error KeySourceRejected (reason: string)\n"
	"# The password KDF failed (memory, parameters).\n"
	"error KeyDerivationFailed (reason: string)\n"
	"# The catalog transaction failed; nothing was changed.\n"
	"error KeyStoreFailed (reason: string)\n"
	"error KeyRotationInProgress ()\n"
	"\n"
	"# Compliance (docs/COMPLIANCE.md): run on the compliance thread; the caller's uid is the\n"
	"# actor in the trail.\n"
	"type ComplianceItem (\n"
	"  recording_id: string,\n"
	"  session_id: string,\n"
	"  path: string,\n"
	"  reason: string,\n"
	"  held: bool,\n"
	"  deleted: bool\n"
	")\n"
	"type Hold (\n"
	"  id: int,\n"
	"  kind: (session, aor, range),\n"
	"  target: string,\n"
	"  case_ref: string,\n"
	"  placed_by: string,\n"
	"  placed_usec: int,\n"
	"  recordings: int\n"
	")\n"
	"# The retention sweeper now; dry_run lists what would go.\n"
	"method RunRetention(dry_run: ?bool) -> (matched: int, deleted: int, held: int, failed: "
	"int,\n"
	"  recordings: []ComplianceItem)\n"
	"# GDPR erasure of every recording the AoR is a participant of.\n"
	"method Erase(aor: string, dry_run: ?bool) -> (matched: int, deleted: int, held: int,\n"
	"  failed: int, recordings: []ComplianceItem)\n"
	"# One of session_id, aor, or from_usec with to_usec.\n"
	"method PlaceHold(session_id: ?string, aor: ?string, from_usec: ?int, to_usec: ?int,\n"
	"  case_ref: string) -> (id: int)\n"
	"method ListHolds() -> (holds: []Hold)\n"
	"method ReleaseHold(id: int, reason: ?string) -> ()\n"
	"method VerifyTrail() -> (ok: bool, entries: int, signed_heads: int, unsigned_entries: "
	"int,\n"
	"  recordings_checked: int, problems: []string)\n"
	"error NoSuchHold (id: int)\n"
	"error ComplianceFailed (reason: string)\n";

static const char *const mutating[] = {
	"io.siprecd.StopSession", "io.siprecd.RotateDataKey", "io.siprecd.RotateKeyEncryptionKey",
	"io.siprecd.Reload",	  "io.siprecd.Drain",	      "io.siprecd.RunRetention",
	"io.siprecd.Erase",	  "io.siprecd.PlaceHold",     "io.siprecd.ReleaseHold",
};

bool control_method_mutating(const char *method)
{
	for (size_t i = 0; i < ARRAY_SIZE(mutating); i++)
		if (strcmp(method, mutating[i]) == 0)
			return true;
	return false;
}

static struct json_object *u64(uint64_t v)
{
	return json_object_new_int64(v > INT64_MAX ? INT64_MAX : (int64_t)v);
}

static struct json_object *strv(const struct siprec_strv *v)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; i < v->n; i++)
		json_object_array_add(a, json_object_new_string(v->v[i]));
	return a;
}

static struct json_object *stream_json(const struct session_stream_info *si)
{
	struct json_object *o = json_object_new_object(), *st = json_object_new_object();
	const struct media_stream_stats *s = &si->stats;

	json_object_object_add(o, "label", json_object_new_string(si->label));
	json_object_object_add(o, "recording_id", json_object_new_string(si->recording_uuid));
	json_object_object_add(o, "path", json_object_new_string(si->path));
	json_object_object_add(o, "codec", json_object_new_string(si->codec));
	if (si->participant_id)
		json_object_object_add(o, "participant_id",
				       json_object_new_string(si->participant_id));
	json_object_object_add(o, "port", json_object_new_int(si->port));
	json_object_object_add(o, "srtp", json_object_new_boolean(si->srtp));
	json_object_object_add(o, "paused", json_object_new_boolean(si->paused));
	json_object_object_add(o, "active", json_object_new_boolean(si->active));
	json_object_object_add(st, "packets", u64(s->packets));
	json_object_object_add(st, "bytes", u64(s->bytes));
	json_object_object_add(st, "rtcp_packets", u64(s->rtcp_packets));
	json_object_object_add(st, "lost", u64(s->lost));
	json_object_object_add(st, "duplicates", u64(s->duplicates));
	json_object_object_add(st, "out_of_order", u64(s->out_of_order));
	json_object_object_add(st, "srtp_auth_failures", u64(s->srtp_auth_failures));
	json_object_object_add(st, "srtp_replays", u64(s->srtp_replays));
	json_object_object_add(st, "dropped_source", u64(s->dropped_source));
	json_object_object_add(st, "dropped_limit", u64(s->dropped_limit));
	json_object_object_add(st, "unnegotiated_pt", u64(s->unnegotiated_pt));
	json_object_object_add(st, "dtmf_events", u64(s->dtmf_events));
	json_object_object_add(st, "ssrc", u64(s->ssrc));
	if (s->first_packet_ms)
		json_object_object_add(st, "first_packet_usec", u64(s->first_packet_ms * 1000));
	if (s->last_packet_ms)
		json_object_object_add(st, "last_packet_usec", u64(s->last_packet_ms * 1000));
	json_object_object_add(o, "stats", st);
	return o;
}

static struct json_object *session_json(struct session *s)
{
	struct json_object *o = json_object_new_object(), *parts = json_object_new_array(),
			   *streams = json_object_new_array();
	struct session_info in;

	session_get_info(s, &in);
	json_object_object_add(o, "id", json_object_new_string(in.uuid));
	json_object_object_add(o, "call_id", json_object_new_string(in.call_id));
	if (in.siprec_session_id)
		json_object_object_add(o, "siprec_session_id",
				       json_object_new_string(in.siprec_session_id));
	json_object_object_add(o, "peer", json_object_new_string(in.peer));
	json_object_object_add(o, "transport", json_object_new_string(in.transport));
	json_object_object_add(o, "state", json_object_new_string(in.state));
	json_object_object_add(o, "started_usec", u64(in.started_at_ms * 1000));
	for (size_t i = 0; in.md && i < in.md->n_participants; i++) {
		const struct siprec_participant *p = &in.md->participants[i];
		struct json_object *po = json_object_new_object();

		json_object_object_add(po, "id", json_object_new_string(p->id ? p->id : ""));
		json_object_object_add(po, "names", strv(&p->names));
		json_object_object_add(po, "aors", strv(&p->aors));
		json_object_array_add(parts, po);
	}
	json_object_object_add(o, "participants", parts);
	for (unsigned i = 0; i < in.n_streams; i++) {
		struct session_stream_info si;

		if (session_get_stream(s, i, &si) == 0)
			json_object_array_add(streams, stream_json(&si));
	}
	json_object_object_add(o, "streams", streams);
	return o;
}

static struct json_object *obj1(const char *name, struct json_object *v)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, name, v);
	return o;
}

static const char *session_id_param(const struct control_call *call, struct json_object **ret)
{
	struct json_object *v;

	if (!json_object_object_get_ex(call->parameters, "id", &v) ||
	    !json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0 ||
	    json_object_get_string_len(v) > 64) {
		*ret = obj1("parameter", json_object_new_string("id"));
		return NULL;
	}
	return json_object_get_string(v);
}

static struct json_object *version_json(struct manager *m)
{
	struct json_object *o = json_object_new_object(), *f = json_object_new_object();
	const struct loop_features *lf = loop_features(m->loop);
	struct sip_transport_stats ts = {0};

	if (m->transport)
		sip_transport_get_stats(m->transport, &ts);
	json_object_object_add(o, "version", json_object_new_string(SIPRECD_VERSION));
	json_object_object_add(o, "git", json_object_new_string(SIPRECD_GIT));
	json_object_object_add(o, "srtp_backend", json_object_new_string(SIPRECD_SRTP_BACKEND));
	json_object_object_add(o, "tls_enabled", json_object_new_boolean(m->tls != NULL));
	json_object_object_add(o, "ktls_mode", json_object_new_string(control_ktls_mode(m)));
	json_object_object_add(o, "ktls_available",
			       json_object_new_boolean(strcmp(control_ktls_mode(m), "tx+rx") == 0));
	json_object_object_add(o, "ktls_tx_connections", u64(ts.tls_ktls_tx));
	json_object_object_add(o, "ktls_rx_connections", u64(ts.tls_ktls_rx));
	json_object_object_add(f, "defer_taskrun", json_object_new_boolean(lf->defer_taskrun));
	json_object_object_add(f, "buf_ring", json_object_new_boolean(lf->buf_ring));
	json_object_object_add(f, "recvmsg_multishot",
			       json_object_new_boolean(lf->recvmsg_multishot));
	json_object_object_add(f, "accept_multishot",
			       json_object_new_boolean(lf->accept_multishot));
	json_object_object_add(f, "msg_ring", json_object_new_boolean(lf->msg_ring));
	json_object_object_add(o, "io_uring_features", f);
	json_object_object_add(o, "json_c", json_object_new_string(json_c_version()));
	return o;
}

static struct json_object *reason(const char *why)
{
	return obj1("reason", json_object_new_string(why));
}

struct keys_ctx {
	struct json_object *arr;
	const char *current_id;
	uint32_t current_version;
};

static int key_add(void *userdata, const struct keys_info *ki)
{
	struct keys_ctx *kc = userdata;
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(ki->key_id));
	json_object_object_add(o, "version", json_object_new_int64(ki->version));
	json_object_object_add(o, "state", json_object_new_string(ki->state));
	json_object_object_add(o, "current",
			       json_object_new_boolean(kc->current_id &&
						       strcmp(ki->key_id, kc->current_id) == 0 &&
						       ki->version == kc->current_version));
	json_object_object_add(o, "algorithm", json_object_new_string(ki->algorithm));
	json_object_object_add(o, "kek_id", json_object_new_string(ki->kek_id));
	if (ki->created_at)
		json_object_object_add(o, "created_usec", u64(ki->created_at * 1000));
	if (ki->activated_at)
		json_object_object_add(o, "activated_usec", u64(ki->activated_at * 1000));
	if (ki->retired_at)
		json_object_object_add(o, "retired_usec", u64(ki->retired_at * 1000));
	if (ki->destroyed_at)
		json_object_object_add(o, "destroyed_usec", u64(ki->destroyed_at * 1000));
	json_object_array_add(kc->arr, o);
	return 0;
}

/* ---- RotateKeyEncryptionKey: keys_rekek on the keys thread, the reply deferred ---- */

/*
 * One KEK rotation at a time (the keys module queues one). The keys thread's callback and the
 * loop meet here: rekek.op is the rotation in flight, NULL once answered or dropped at stop, so
 * a late callback (keys_free after control_stop) finds nothing to touch.
 */
static struct {
	pthread_mutex_t lock;
	struct rekek_op *op;
} rekek = {.lock = PTHREAD_MUTEX_INITIALIZER};

struct rekek_op {
	struct manager *m;
	struct control_pending *pending;
	char store[16];
	char *path; /* the new key file or password file; NULL for the credential */
	char *kdf;
	char previous_kek_id[KEYS_KEY_ID_MAX + 1];
	struct keys_rekek_result res;
};

static void rekek_op_free(struct rekek_op *op)
{
	if (!op)
		return;
	free(op->path);
	free(op->kdf);
	free(op);
}

static int first_kek_id(void *userdata, const struct keys_info *ki)
{
	char *out = userdata;

	if (!ki->kek_id[0])
		return 0;
	snprintf(out, KEYS_KEY_ID_MAX + 1, "%s", ki->kek_id);
	return -1;
}

/* The configuration a restart needs now ("ENCRYPTION_KEY_STORE=file", "MASTER_KEY_PATH=..."). */
static struct json_object *rekek_config(const struct rekek_op *op)
{
	struct json_object *a = json_object_new_array();
	char line[4200];

	snprintf(line, sizeof(line), "ENCRYPTION_KEY_STORE=%s", op->store);
	json_object_array_add(a, json_object_new_string(line));
	if (op->path) {
		snprintf(line, sizeof(line), "MASTER_KEY_PATH=%s", op->path);
		json_object_array_add(a, json_object_new_string(line));
	}
	if (op->kdf) {
		snprintf(line, sizeof(line), "KEY_DERIVATION=%s", op->kdf);
		json_object_array_add(a, json_object_new_string(line));
	}
	return a;
}

static void cfg_set(char **field, const char *v)
{
	char *d = v ? strdup(v) : NULL;

	if (v && !d)
		return;
	free(*field);
	*field = d;
}

/* The daemon's view of its configuration follows the new KEK: what a reload or a status
 * shows, and what the operator must persist (the file on disk is theirs). */
static void rekek_update_config(struct rekek_op *op)
{
	struct config *cfg = op->m->cfg;

	cfg_set(&cfg->encryption_key_store, op->store);
	if (op->path)
		cfg_set(&cfg->master_key_path, op->path);
	if (op->kdf)
		cfg_set(&cfg->kdf, op->kdf);
	/* The old password no longer opens anything: do not keep it. */
	if (cfg->master_password) {
		OPENSSL_cleanse(cfg->master_password, strlen(cfg->master_password));
		free(cfg->master_password);
		cfg->master_password = NULL;
	}
}

static const char *rekek_error_name(const struct keys_rekek_result *res)
{
	if (res->r == -EOPNOTSUPP || res->r == -ESRCH)
		return "io.siprecd.NotSupported";
	switch (res->stage) {
	case KEYS_REKEK_SOURCE:
		return "io.siprecd.KeySourceRejected";
	case KEYS_REKEK_KDF:
		return "io.siprecd.KeyDerivationFailed";
	default:
		return "io.siprecd.KeyStoreFailed";
	}
}

/* On the loop: answer the caller. */
static void rekek_finish(void *arg)
{
	struct rekek_op *op = arg;
	struct json_object *o;

	pthread_mutex_lock(&rekek.lock);
	if (rekek.op != op) {
		/* Dropped by control_methods_stop (the loop does not run after it). */
		pthread_mutex_unlock(&rekek.lock);
		return;
	}
	rekek.op = NULL;
	pthread_mutex_unlock(&rekek.lock);

	if (op->res.r < 0) {
		log_error("control: KEK rotation to the %s store%s%s failed: %s (nothing was "
			  "changed)",
			  op->store, op->path ? " " : "", op->path ? op->path : "", op->res.error);
		control_pending_reply(op->pending, rekek_error_name(&op->res),
				      reason(op->res.error));
		rekek_op_free(op);
		return;
	}
	rekek_update_config(op);
	log_notice("control: every data key is now wrapped by KEK %s (%s store%s%s, was %s); set "
		   "ENCRYPTION_KEY_STORE=%s%s%s in the configuration (or the credential) before "
		   "the next restart: the old KEK no longer opens the catalog",
		   op->res.kek_id, op->store, op->path ? " " : "", op->path ? op->path : "",
		   op->previous_kek_id, op->store, op->path ? " MASTER_KEY_PATH=" : "",
		   op->path ? op->path : "");
	o = json_object_new_object();
	json_object_object_add(o, "kek_id", json_object_new_string(op->res.kek_id));
	json_object_object_add(o, "previous_kek_id", json_object_new_string(op->previous_kek_id));
	json_object_object_add(o, "store", json_object_new_string(op->store));
	if (op->path)
		json_object_object_add(o, "key_path", json_object_new_string(op->path));
	json_object_object_add(o, "configuration", rekek_config(op));
	control_pending_reply(op->pending, NULL, o);
	rekek_op_free(op);
}

/* On the keys thread (or the thread in keys_free): copy and hand to the loop. */
static void rekek_done(void *userdata, const struct keys_rekek_result *res)
{
	struct rekek_op *op = userdata;

	pthread_mutex_lock(&rekek.lock);
	if (rekek.op == op) {
		op->res = *res;
		/* Only ENOMEM fails: the call then stays unanswered (and further KEK rotations
		 * answer KeyRotationInProgress) until the client disconnects and siprecd
		 * restarts; the connection belongs to the loop, this thread cannot touch it. */
		if (loop_post(op->m->loop, rekek_finish, op) < 0)
			op->res.r = -ENOMEM;
	}
	pthread_mutex_unlock(&rekek.lock);
}

void control_methods_stop(struct manager *m)
{
	struct rekek_op *op;

	control_compliance_stop();
	pthread_mutex_lock(&rekek.lock);
	op = rekek.op;
	rekek.op = NULL;
	pthread_mutex_unlock(&rekek.lock);
	if (op) {
		control_pending_free(op->pending);
		rekek_op_free(op);
	}
}

/* A string parameter: NULL when absent or null; *bad set for a wrong type, empty or too long. */
static const char *str_param(const struct control_call *call, const char *name, size_t max,
			     bool *bad)
{
	struct json_object *v;

	if (!json_object_object_get_ex(call->parameters, name, &v) ||
	    json_object_is_type(v, json_type_null))
		return NULL;
	if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0 ||
	    (size_t)json_object_get_string_len(v) > max ||
	    strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v)) {
		*bad = true;
		return NULL;
	}
	return json_object_get_string(v);
}

static const char *invalid(struct json_object **ret_params, const char *param)
{
	*ret_params = obj1("parameter", json_object_new_string(param));
	return "org.varlink.service.InvalidParameter";
}

static const char *rotate_kek(struct control_ctx *ctx, const struct control_call *call,
			      struct json_object **ret_params)
{
	struct manager *m = ctx->m;
	bool bad = false;
	const char *store = str_param(call, "store", 15, &bad);
	const char *key_file = str_param(call, "keyFile", 4095, &bad);
	const char *pw_file = str_param(call, "passwordFile", 4095, &bad);
	const char *kdf = str_param(call, "kdf", 15, &bad);
	const char *path;
	struct rekek_op *op;
	int r;

	if (bad) {
		/* Name the first offending one. */
		bool b = false;

		if (str_param(call, "store", 15, &b), b)
			return invalid(ret_params, "store");
		if (str_param(call, "keyFile", 4095, &b), b)
			return invalid(ret_params, "keyFile");
		if (str_param(call, "passwordFile", 4095, &b), b)
			return invalid(ret_params, "passwordFile");
		return invalid(ret_params, "kdf");
	}
	/* Without a store, the file named says which; else the configured one. */
	if (!store && key_file && !pw_file)
		store = "file";
	else if (!store && pw_file && !key_file)
		store = "password";
	else if (!store)
		store = m->cfg->encryption_key_store ? m->cfg->encryption_key_store : "file";
	if (strcmp(store, "file") != 0 && strcmp(store, "password") != 0 &&
	    strcmp(store, "credential") != 0)
		return invalid(ret_params, "store");
	if (kdf && (strcmp(store, "password") != 0 ||
		    (strcmp(kdf, "argon2id") != 0 && strcmp(kdf, "pbkdf2") != 0)))
		return invalid(ret_params, "kdf");
	/* Absolute paths: the daemon's working directory is not the caller's. */
	if (strcmp(store, "file") == 0) {
		if (pw_file)
			return invalid(ret_params, "passwordFile");
		if (!key_file || key_file[0] != '/')
			return invalid(ret_params, "keyFile");
		path = key_file;
	} else if (strcmp(store, "password") == 0) {
		if (key_file)
			return invalid(ret_params, "keyFile");
		if (!pw_file || pw_file[0] != '/')
			return invalid(ret_params, "passwordFile");
		path = pw_file;
	} else {
		if (key_file)
			return invalid(ret_params, "keyFile");
		if (pw_file)
			return invalid(ret_params, "passwordFile");
		path = NULL;
	}
	if (!m->keys) {
		*ret_params = reason("no key store");
		return "io.siprecd.NotSupported";
	}
	op = calloc(1, sizeof(*op));
	if (!op) {
		*ret_params = reason("out of memory");
		return "io.siprecd.KeyStoreFailed";
	}
	op->m = m;
	snprintf(op->store, sizeof(op->store), "%s", store);
	op->path = path ? strdup(path) : NULL;
	if (strcmp(store, "password") == 0)
		op->kdf = strdup(kdf			       ? kdf
				 : m->cfg->kdf && *m->cfg->kdf ? m->cfg->kdf
							       : "argon2id");
	keys_list(m->keys, first_kek_id, op->previous_kek_id);
	op->pending = control_defer(ctx);
	if ((path && !op->path) || (strcmp(store, "password") == 0 && !op->kdf) || !op->pending) {
		/* ENOMEM, or no connection to answer on later. */
		control_pending_free(op->pending);
		rekek_op_free(op);
		*ret_params = reason("cannot defer the reply (out of memory)");
		return "io.siprecd.KeyStoreFailed";
	}
	pthread_mutex_lock(&rekek.lock);
	if (rekek.op) {
		pthread_mutex_unlock(&rekek.lock);
		control_pending_free(op->pending);
		rekek_op_free(op);
		return "io.siprecd.KeyRotationInProgress";
	}
	rekek.op = op;
	/* Under the lock: rekek_done may run before keys_rekek_async returns. */
	r = keys_rekek_async(m->keys,
			     &(struct keys_options){.store = op->store,
						    .key_path = op->path,
						    .kdf = op->kdf,
						    .pbkdf2_iterations = m->cfg->pbkdf2_iterations},
			     rekek_done, op);
	if (r < 0)
		rekek.op = NULL;
	pthread_mutex_unlock(&rekek.lock);
	if (r < 0) {
		control_pending_free(op->pending);
		rekek_op_free(op);
		if (r == -EBUSY)
			return "io.siprecd.KeyRotationInProgress";
		*ret_params = reason(keys_error());
		return r == -EOPNOTSUPP || r == -ESRCH ? "io.siprecd.NotSupported"
						       : "io.siprecd.KeyStoreFailed";
	}
	log_notice("control: KEK rotation to the %s store%s%s requested", op->store,
		   op->path ? " " : "", op->path ? op->path : "");
	return control_reply_deferred;
}

const char *control_method_call(struct control_ctx *ctx, const struct control_call *call,
				struct json_object **ret_params)
{
	struct manager *m = ctx->m;
	const char *name = call->method + strlen("io.siprecd.");
	const char *id;
	int r;

	if (strcmp(name, "Health") == 0) {
		control_health_check(m, ret_params);
		return NULL;
	}
	if (strcmp(name, "Version") == 0) {
		*ret_params = version_json(m);
		return NULL;
	}
	if (strcmp(name, "ListSessions") == 0) {
		struct json_object *a = json_object_new_array();

		for (struct session *s = m->sessions ? sessions_next(m->sessions, NULL) : NULL; s;
		     s = sessions_next(m->sessions, s))
			json_object_array_add(a, session_json(s));
		*ret_params = obj1("sessions", a);
		return NULL;
	}
	if (strcmp(name, "GetSession") == 0 || strcmp(name, "StopSession") == 0) {
		struct session *s;

		id = session_id_param(call, ret_params);
		if (!id)
			return "org.varlink.service.InvalidParameter";
		s = m->sessions ? sessions_find_uuid(m->sessions, id) : NULL;
		if (!s) {
			*ret_params = obj1("id", json_object_new_string(id));
			return "io.siprecd.NoSuchSession";
		}
		if (name[0] == 'G') {
			*ret_params = obj1("session", session_json(s));
			return NULL;
		}
		r = sessions_stop(m->sessions, id);
		if (r == -EALREADY) {
			*ret_params = obj1("id", json_object_new_string(id));
			return "io.siprecd.SessionEnding";
		}
		log_notice("control: session %s stopped by the operator", id);
		*ret_params = json_object_new_object();
		return NULL;
	}
	if (strcmp(name, "ListKeys") == 0) {
		/* keys_list copies from memory under the store's mutex: no I/O on the loop. */
		struct keys_ctx kc = {.arr = json_object_new_array()};

		if (m->keys) {
			kc.current_id = keys_current_key_id(m->keys);
			kc.current_version = keys_current_version(m->keys);
			keys_list(m->keys, key_add, &kc);
		}
		*ret_params = obj1("keys", kc.arr);
		return NULL;
	}
	if (strcmp(name, "RotateDataKey") == 0) {
		struct json_object *o;

		/* The rotation itself writes the catalog (blocking): the store's rotation thread
		 * does it; the loop only asks. */
		r = m->keys ? keys_rotate_request(m->keys) : -ESRCH;
		if (r < 0) {
			*ret_params =
				reason(r == -ESRCH ? "this key store has no rotation (legacy key "
						     "file, or rotation not running)"
						   : strerror(-r));
			return "io.siprecd.NotSupported";
		}
		log_notice("control: data key rotation requested");
		o = json_object_new_object();
		json_object_object_add(o, "requested", json_object_new_boolean(true));
		json_object_object_add(o, "previous_id",
				       json_object_new_string(keys_current_key_id(m->keys)));
		json_object_object_add(o, "previous_version",
				       json_object_new_int64(keys_current_version(m->keys)));
		*ret_params = o;
		return NULL;
	}
	if (strcmp(name, "RotateKeyEncryptionKey") == 0)
		return rotate_kek(ctx, call, ret_params);
	if (control_compliance_method(name))
		return control_compliance_call(ctx, name, call, ret_params);
	if (strcmp(name, "Reload") == 0) {
		log_notice("control: reload requested");
		manager_reload(m);
		*ret_params = json_object_new_object();
		return NULL;
	}
	if (strcmp(name, "Drain") == 0) {
		struct json_object *v, *o;
		bool enable = true;
		unsigned calls = 0, streams = 0;

		if (json_object_object_get_ex(call->parameters, "enable", &v) &&
		    !json_object_is_type(v, json_type_null)) {
			if (!json_object_is_type(v, json_type_boolean)) {
				*ret_params = obj1("parameter", json_object_new_string("enable"));
				return "org.varlink.service.InvalidParameter";
			}
			enable = json_object_get_boolean(v);
		}
		if (m->sessions)
			sessions_count(m->sessions, &calls, &streams);
		if (enable != m->draining)
			log_notice("control: %s (%u session%s in progress)",
				   enable ? "draining: new sessions refused with 503"
					  : "drain ended: taking new sessions",
				   calls, calls == 1 ? "" : "s");
		m->draining = enable;
		manager_update_status(m);
		o = json_object_new_object();
		json_object_object_add(o, "draining", json_object_new_boolean(m->draining));
		json_object_object_add(o, "active_sessions", json_object_new_int64(calls));
		*ret_params = o;
		return NULL;
	}
	*ret_params = obj1("method", json_object_new_string(call->method));
	return "org.varlink.service.MethodNotFound";
}
