// SPDX-License-Identifier: MIT
/*
 * SIPREC sessions (RFC 7866): the Session Recording Server side of a recording dialog. An
 * INVITE's multipart body is split into the SDP offer and the rs-metadata; every offered m= line
 * becomes a stream with its own port, SRTP context and recording file; the answer is recvonly
 * with our own o= line. re-INVITE/UPDATE change metadata, streams, hold and keys; BYE, CANCEL,
 * Timer H and shutdown end the session, and it is finalized in the catalog once every recording
 * is durable.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "daemon/edge.h"
#include "daemon/manager.h"
#include "media/media.h"
#include "net/route.h"
#include "siprec/interop.h"
#include "siprec/session.h"
#include "siprecd/audit.h"
#include "siprecd/b64.h"
#include "siprecd/catalog.h"
#include "siprecd/compliance.h"
#include "siprecd/diskfault.h"
#include "siprecd/keys.h"
#include "siprecd/lathist.h"
#include "siprecd/log.h"
#include "siprecd/sdp.h"
#include "siprecd/siphash.h"
#include "siprecd/siprec.h"
#include "siprecd/sockaddr.h"
#include "siprecd/transport.h"
#include "siprecd/uuid.h"
#include "siprecd/webhook.h"

#define SESSION_HASH_SIZE 4096
#define MAX_STREAMS_HARD 64
#define ANSWER_MAX 8192
#define UUID_LEN 36

enum session_state {
	SESSION_STARTING,  /* INVITE accepted, 100 sent, recordings being created */
	SESSION_ANSWERED,  /* 200 OK sent, waiting for ACK */
	SESSION_CONFIRMED, /* ACK received */
	SESSION_ENDING,	   /* recordings being finalized */
};

struct stream {
	char label[STORE_LABEL_MAX + 1];     /* file-name safe */
	char label_raw[STORE_LABEL_MAX + 1]; /* as offered (catalog, header) */
	char recording_uuid[UUID_LEN + 1];
	/* The recording's file, allocated at its size (a 4 KiB array made every stream 4.4 KiB:
	 * past the allocator's per-thread cache, and zeroed at each calloc); NULL until set. */
	char *path;
	struct media_stream *media; /* NULL: rejected or port 0 */
	int pt, dtmf_pt;
	char codec[STORE_CODEC_MAX + 1];
	uint32_t clock_rate;
	bool rtcp_mux;
	bool paused;
	bool idle; /* no packet for RTP_TIMEOUT */
	bool srtp;
	enum sdp_crypto_suite_id suite;
	uint8_t remote_key_id[8]; /* a fingerprint of the offered key, to notice a re-key */
	struct sdp_crypto_answer *crypto;
	struct session *session;
	bool has_remote; /* the offer's c= is a unicast literal: MEDIA_LATCH=sdp latches to it */
	struct sockaddr_storage remote;
	struct stream *next_retired; /* session's retired list (stream_renew) */
	bool closing;		     /* stream_close called, stream_closed not yet */
	/* Unix ms the stream opened or last came off hold: RTP_TIMEOUT counts from it when no
	 * packet came since (a resumed stream is not idle for the hours it was held). */
	uint64_t quiet_since;
};

/* A catalog_barrier in flight for a closed recording's rows (see finalized_durable). */
struct finalized_token {
	struct session *s;
	struct loop *loop;
	int result;
	struct media_stream_result res;
	char recording_uuid[UUID_LEN + 1];
	char *path;
};

/* A catalog_barrier in flight for a starting session (see catalog_durable). */
struct durable_token {
	struct session *s;
	struct loop *loop;
	int result;
	uint64_t committed_us; /* when the catalog thread saw the batch durable */
};

struct session {
	struct sessions *ss;
	struct session *hnext; /* hash chain by Call-ID */
	struct session *prev, *next;
	char uuid[UUID_LEN + 1];
	char *call_id;
	char local_tag[SIP_TAG_LEN + 1];
	char *remote_tag;
	char *local_uri, *remote_uri, *remote_target;
	struct sip_conn *conn;
	struct sockaddr_storage peer;
	char peer_str[64];
	struct sockaddr_storage media_addr;
	char media_addr_str[64];
	enum session_state state;
	uint32_t local_cseq;
	uint64_t sdp_sess_id, sdp_version;
	struct siprec_metadata *md;
	uint32_t md_seq;
	struct recording_key md_key; /* ENABLE_METADATA_ENCRYPTION: sealed under it */
	bool md_key_set;
	/* Allocated as the offers need them (answer_offer), kept until session_free: the media
	 * path holds pointers to them. A session used to embed all MAX_STREAMS_HARD (312 KiB,
	 * 4 KiB of path each), calloc'd and so zeroed, i.e. page-faulted in, per call. */
	struct stream *streams[MAX_STREAMS_HARD];
	unsigned n_streams;
	unsigned n_alloc; /* streams[0 .. n_alloc) are allocated; n_streams <= n_alloc */
	/* Streams that a re-offer ended and whose m= line now carries another one (a new label,
	 * or a removed stream restored): closing or closed, a close callback in flight names
	 * them. A closed one is reused by the next stream_renew; the rest are freed with the
	 * session. At most MAX_RETIRED_STREAMS. */
	struct stream *retired;
	unsigned n_retired;
	unsigned closing;
	char end_reason[24];
	const char *bye_reason; /* a static "Reason: ...\r\n" line for our BYE, or NULL */
	bool bye_sent;
	/* The initial INVITE's server transaction, a weak reference both ways: its TU pointer
	 * names this session (Timer H and CANCEL find the session by it), the transaction's
	 * terminated callback clears invite_txn, and session_free clears the TU pointer. The
	 * 200 OK waits until every recording file exists: a recorder must not confirm a
	 * recording it cannot make. */
	struct sip_txn *invite_txn;
	struct durable_token *durable_token; /* catalog_barrier pending */
	char *pending_answer, *pending_headers;
	size_t pending_answer_len;
	unsigned starting;
	int start_error;
	const char *start_why; /* the Warning for start_error: which step failed first */
	uint64_t started_at;
	struct edge_charge src_charge; /* per-source session and stream counts (daemon/edge.c) */
	/* Delayed offer (RFC 3261 §13.2.1): our 200 OK carried the offer; the SRC's answer comes
	 * in the ACK. */
	bool awaiting_answer;
	/* RFC 4028 session timer, the SRC refreshing: 0 = none. */
	uint32_t session_expires_s;
	uint64_t session_expires_at;
	uint64_t last_request_at; /* the last in-dialog request, for SESSION_SILENCE_TIMEOUT */
	/* SIP_TRYING_DELAY: the INVITE gets 100 Trying at trying_at if its answer is not out by
	 * then; linked in sessions.trying (oldest first) meanwhile. */
	uint64_t trying_at;
	struct session *trying_prev, *trying_next;
	bool trying_linked;
	/* Where the set-up's time went (CLOCK_MONOTONIC us; 0 = not reached): the INVITE
	 * handled, its barrier queued, the last recording file created, the barrier's batch
	 * durable on the catalog thread and its news on this thread. */
	uint64_t t_invite, t_queued, t_media, t_committed, t_durable;
};

struct sessions {
	struct manager *m;
	struct session *hash[SESSION_HASH_SIZE];
	struct session *all;
	unsigned count, streams;
	void (*shutdown_done)(struct manager *m);
	char day_dir[4096];
	uint64_t day_dir_fault_gen; /* disk_fault_generation() when day_dir was made */
	struct sessions_totals totals;
	struct loop_timer tick;
	unsigned ticks;
	struct uac_bye *byes; /* BYEs we sent, waiting for a response */
	/* INVITEs waiting for their 100 Trying, in arrival order (all with the same delay, so in
	 * deadline order too), and one timer for the oldest: a timer per session would wake the
	 * loop for each deadline, though nearly every answer beats it. */
	struct session *trying_head, *trying_tail;
	struct loop_timer trying_timer;
	/* A session started or ended since the last tick: the STATUS= line (calls, streams, the
	 * health checks, a statfs of the recording directory) is rebuilt on the next tick, not per
	 * session change (twice per call, ~1% of the CPU at 700 setups/s). */
	bool status_dirty;
	/* Set-up stages of the INVITEs answered 200 (logged at sessions_free). */
	struct setup_stages {
		struct lat_hist prepare, media, barrier, post, last, total;
		uint64_t media_last; /* answers whose last wait was the media worker's */
	} stages;
};

#define TICK_MS 1000
#define STATS_EVERY_TICKS 5

static uint64_t now_unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* UUIDv7 (time-ordered: the catalog's indexes on uuids stay small to update; src/util/uuid.c). */
static void uuid_generate(char out[UUID_LEN + 1])
{
	uint8_t b[10];

	if (sip_random(b, sizeof(b)) < 0)
		abort(); /* getrandom on Linux >= 3.17 cannot fail for 256 bytes */
	uuid_v7_format(out, now_unix_ms(), b);
}

/* Call-IDs are peer-chosen: a keyed hash keeps them from piling into one chain. */
static unsigned hash_str(struct str s)
{
	return (unsigned)(siphash24(siphash_boot_key(), s.s, s.len) % SESSION_HASH_SIZE);
}

static void session_end(struct session *s, const char *reason, bool send_bye);
static void tick_fired(struct loop_timer *t);
static void trying_fired(struct loop_timer *tm);
static void stream_started(void *userdata, int result);
static void stream_failed(void *userdata, int error);

int sessions_new(struct manager *m, struct sessions **ret)
{
	struct sessions *ss = calloc(1, sizeof(*ss));

	if (!ss)
		return -ENOMEM;
	ss->m = m;
	ss->tick.fn = tick_fired;
	ss->trying_timer.fn = trying_fired;
	loop_timer_arm(m->loop, &ss->tick, loop_now_ms(m->loop) + TICK_MS);
	*ret = ss;
	return 0;
}

void sessions_count(const struct sessions *ss, unsigned *ret_calls, unsigned *ret_streams)
{
	*ret_calls = ss->count;
	*ret_streams = ss->streams;
}

/* True while a session of call_id still waits for the final response to its INVITE. */
static bool call_in_progress(struct sessions *ss, struct str call_id)
{
	for (struct session *s = ss->hash[hash_str(call_id)]; s; s = s->hnext)
		if (str_eq_cstr(call_id, s->call_id) && s->invite_txn &&
		    sip_txn_state(s->invite_txn) == SIP_TXN_PROCEEDING)
			return true;
	return false;
}

struct session *sessions_find(struct sessions *ss, struct str call_id, struct str local_tag,
			      struct str remote_tag)
{
	for (struct session *s = ss->hash[hash_str(call_id)]; s; s = s->hnext)
		if (str_eq_cstr(call_id, s->call_id) && str_eq_cstr(local_tag, s->local_tag) &&
		    str_eq_cstr(remote_tag, s->remote_tag))
			return s;
	return NULL;
}

static void session_unlink(struct session *s)
{
	struct sessions *ss = s->ss;
	struct session **pp = &ss->hash[hash_str(str_from_cstr(s->call_id))];

	for (; *pp; pp = &(*pp)->hnext)
		if (*pp == s) {
			*pp = s->hnext;
			break;
		}
	if (s->prev)
		s->prev->next = s->next;
	else
		ss->all = s->next;
	if (s->next)
		s->next->prev = s->prev;
	ss->count--;
}

static void trying_unlink(struct session *s);

static void session_free(struct session *s)
{
	trying_unlink(s);
	if (s->durable_token)
		s->durable_token->s = NULL;
	if (s->invite_txn)
		sip_txn_set_tu(s->invite_txn, NULL);
	for (unsigned i = 0; i < s->n_alloc; i++) {
		/* beyond n_streams: dropped from a re-offer, closed, its answer still held */
		sdp_crypto_answer_free(s->streams[i]->crypto);
		free(s->streams[i]->path);
		free(s->streams[i]);
	}
	while (s->retired) {
		struct stream *st = s->retired;

		s->retired = st->next_retired;
		sdp_crypto_answer_free(st->crypto);
		free(st->path);
		free(st);
	}
	siprec_metadata_free(s->md);
	recording_key_wipe(&s->md_key);
	edge_session_close(s->ss->m, &s->peer, &s->src_charge);
	free(s->pending_answer);
	free(s->pending_headers);
	sip_conn_unref(s->conn);
	free(s->call_id);
	free(s->remote_tag);
	free(s->local_uri);
	free(s->remote_uri);
	free(s->remote_target);
	free(s);
}

/* ---- helpers for responses ---- */

/* A response with a Warning (RFC 3261 §20.43: 399 = miscellaneous warning, agent "siprecd"),
 * and Retry-After when retry_s is not 0. */
static void respond_warning_retry(struct manager *m, struct sip_txn *txn, struct sip_msg *req,
				  unsigned code, const char *reason, const char *warning,
				  unsigned retry_s)
{
	char extra[600];
	int n = snprintf(extra, sizeof(extra), "Warning: 399 siprecd \"%s\"\r\n", warning);

	if (retry_s && n > 0 && (size_t)n < sizeof(extra))
		snprintf(extra + n, sizeof(extra) - (size_t)n, "Retry-After: %u\r\n", retry_s);
	sipd_respond(m, txn, req, code, reason,
		     &(struct sip_response_args){.extra_headers = extra});
}

static void respond_warning(struct manager *m, struct sip_txn *txn, struct sip_msg *req,
			    unsigned code, const char *reason, const char *warning)
{
	respond_warning_retry(m, txn, req, code, reason, warning, 0);
}

/*
 * A set-up that failed for want of something that comes back (a free media port, descriptors,
 * memory, the catalog's queue, disk space) is overload, not a fault: 503 with Retry-After
 * (RFC 3261 §21.5.4), so that the SRC retries or fails over to another recorder. A refused
 * offer is 488; anything else 500. The Warning says which.
 */
static void respond_setup_failed(struct manager *m, struct sip_txn *txn, struct sip_msg *req, int r,
				 const char *reason, const char *warning)
{
	bool later = r == -EADDRINUSE || r == -EMFILE || r == -ENFILE || r == -ENOMEM ||
		     r == -ENOBUFS || r == -EAGAIN || r == -ENOSPC || r == -EDQUOT;

	respond_warning_retry(m, txn, req,
			      r == -ENOTSUP ? 488
			      : later	    ? 503
					    : 500,
			      reason, warning, later ? 5 : 0);
}

static void audit_refused(struct manager *m, struct sip_msg *req,
			  const struct sockaddr_storage *peer, unsigned code, const char *why)
{
	char p[64], pf[80], cf[300], codef[32];
	struct str call_id = STR_NULL;
	const char *fields[] = {pf, cf, codef, NULL};

	sip_msg_call_id(req, &call_id);
	sockaddr_to_string(peer, p, sizeof(p));
	snprintf(pf, sizeof(pf), "PEER=%s", p);
	snprintf(cf, sizeof(cf), "SIP_CALL_ID=%.*s", (int)MIN(call_id.len, 256), call_id.s);
	snprintf(codef, sizeof(codef), "SIP_STATUS=%u", code);
	m->counters.sessions_refused++;
	audit_emit(AUDIT_SRC_REFUSED, fields, "SRC %s refused with %u: %s", p, code, why);
}

static int media_address(struct manager *m, struct session *s, struct sip_conn *conn)
{
	const char *cfg = m->cfg->media_address;
	const struct sockaddr_storage *local = sip_conn_local(conn);
	bool any;

	memset(&s->media_addr, 0, sizeof(s->media_addr));
	if (cfg && *cfg) {
		if (strchr(cfg, ':')) {
			struct sockaddr_in6 *a = (void *)&s->media_addr;

			a->sin6_family = AF_INET6;
			if (inet_pton(AF_INET6, cfg, &a->sin6_addr) != 1)
				return -EINVAL;
		} else {
			struct sockaddr_in *a = (void *)&s->media_addr;

			a->sin_family = AF_INET;
			if (inet_pton(AF_INET, cfg, &a->sin_addr) != 1)
				return -EINVAL;
		}
	} else {
		/* The address the request arrived on, unless the listener is a wildcard: then
		 * the routed source address toward the SRC (src/net/route.c: an RTM_GETROUTE
		 * answered by the kernel at once, cached until an address or route changes, so
		 * a deleted address is never advertised). */
		s->media_addr = *local;
		any = (local->ss_family == AF_INET &&
		       ((const struct sockaddr_in *)local)->sin_addr.s_addr == INADDR_ANY) ||
		      (local->ss_family == AF_INET6 &&
		       IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)local)->sin6_addr));
		if (any && (!m->route || net_route_source(m->route, &s->peer, &s->media_addr) < 0))
			return -EADDRNOTAVAIL;
	}
	if (s->media_addr.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&s->media_addr)->sin6_addr,
			  s->media_addr_str, sizeof(s->media_addr_str));
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)&s->media_addr)->sin_addr,
			  s->media_addr_str, sizeof(s->media_addr_str));
	return 0;
}

/* Splits the body of req into SDP and metadata; answers and returns < 0 on failure. */
static int split_body(struct manager *m, struct sip_txn *txn, struct sip_msg *req,
		      struct siprec_body_parts *parts)
{
	struct siprec_limits lim = SIPREC_LIMITS_DEFAULT;
	const struct sip_header *ct = sip_msg_header(req, SIP_HDR_CONTENT_TYPE);
	int r;

	memset(parts, 0, sizeof(*parts));
	lim.max_part_size = m->cfg->max_metadata_size > 65536 ? m->cfg->max_metadata_size : 65536;
	if (!ct || req->body.len == 0)
		return 0;
	r = siprec_multipart_parse(ct->value, req->body, &lim, parts);
	if (r == -E2BIG) {
		char warn[128];

		snprintf(warn, sizeof(warn),
			 "multipart body over a limit: at most %zu parts of %zu bytes each",
			 lim.max_parts, lim.max_part_size);
		respond_warning(m, txn, req, 413, siprec_multipart_limit(), warn);
		return r;
	}
	if (r == -EMEDIUMTYPE) {
		const char *why = siprec_multipart_refusal();
		char extra[300];

		snprintf(extra, sizeof(extra),
			 "Accept: application/sdp, application/rs-metadata+xml, "
			 "multipart/mixed\r\n%s%s%s",
			 why ? "Warning: 399 siprecd \"" : "", why ? why : "", why ? "\"\r\n" : "");
		sipd_respond(m, txn, req, 415, NULL,
			     &(struct sip_response_args){.extra_headers = extra});
		return r;
	}
	if (r < 0) {
		respond_warning(m, txn, req, 400, "Bad Multipart Body",
				"multipart body malformed (boundary)");
		return r;
	}
	return 0;
}

static const char *recording_dir_for_today(struct sessions *ss);

/*
 * ENABLE_METADATA_ENCRYPTION (docs/KEYS.md): the session's key (derived from the active data key
 * and the session uuid, or sealed to the public key) seals the received body and the model for
 * the catalog, and the keys thread writes <recordings>/<uuid>.metadata (blocking I/O, off the
 * loop). *json is replaced by its sealed envelope; *ret_body gets the sealed body.
 */
static int seal_metadata(struct session *s, const struct siprec_body_part *part, uint32_t seq,
			 char **json, char **ret_body)
{
	struct manager *m = s->ss->m;
	char aad[96], path[4096], *sealed = NULL;
	int r;

	if (!s->md_key_set) {
		r = keys_recording_key_new(m->keys, s->uuid, &s->md_key);
		if (r < 0)
			return r;
		s->md_key_set = true;
	}
	snprintf(aad, sizeof(aad), "%s:%u:body", s->uuid, seq);
	r = keys_metadata_seal(&s->md_key, aad, part->body.s, part->body.len, now_unix_ms(),
			       ret_body);
	if (r < 0 || !*json)
		return r;
	if (snprintf(path, sizeof(path), "%s/%s.metadata", recording_dir_for_today(s->ss),
		     s->uuid) < (int)sizeof(path) &&
	    keys_metadata_write_async(m->keys, path, &s->md_key, s->uuid, *json) < 0)
		log_ratelimited(LOG_WARNING, "session %s: .metadata file not written", s->uuid);
	snprintf(aad, sizeof(aad), "%s:%u:json", s->uuid, seq);
	r = keys_metadata_seal(&s->md_key, aad, *json, strlen(*json), now_unix_ms(), &sealed);
	OPENSSL_cleanse(*json, strlen(*json));
	free(*json);
	*json = sealed;
	return r;
}

/* Queues the snapshot of the document as received (partial says which data mode it had: the
 * merged model is always complete), the participants, and the warnings. */
static void catalog_metadata(struct session *s, const struct siprec_body_part *part, bool partial)
{
	struct manager *m = s->ss->m;
	char *json = NULL, *warn = NULL, *sealed = NULL;
	bool seal = m->cfg->enable_metadata_encryption;
	uint32_t seq = ++s->md_seq;
	size_t wl = 3;

	if (seq > m->cfg->max_metadata_snapshots) {
		if (seq == m->cfg->max_metadata_snapshots + 1)
			log_warning("session %s: more than MAX_METADATA_SNAPSHOTS=%u metadata "
				    "documents: further snapshots are not stored",
				    s->uuid, m->cfg->max_metadata_snapshots);
		return;
	}
	if (siprec_metadata_to_json(s->md, &json) < 0)
		json = NULL;
	if (seal && seal_metadata(s, part, seq, &json, &sealed) < 0) {
		/* Never in clear when sealing was asked for. */
		log_ratelimited(LOG_WARNING, "session %s: metadata not stored: cannot seal it",
				s->uuid);
		free(json);
		free(sealed);
		return;
	}
	for (size_t i = 0; i < s->md->warnings.n; i++)
		wl += strlen(s->md->warnings.v[i]) * 2 + 4;
	warn = malloc(wl);
	if (warn) {
		size_t off = 0;

		warn[off++] = '[';
		for (size_t i = 0; i < s->md->warnings.n; i++) {
			const char *w = s->md->warnings.v[i];

			off += (size_t)sprintf(warn + off, "%s\"", i ? "," : "");
			for (; *w; w++) {
				if (*w == '"' || *w == '\\')
					warn[off++] = '\\';
				warn[off++] = (char)((unsigned char)*w < 0x20 ? ' ' : *w);
			}
			warn[off++] = '"';
		}
		warn[off++] = ']';
		warn[off] = '\0';
	}
	catalog_metadata_snapshot(m->catalog,
				  &(struct catalog_metadata){
					  .session_uuid = s->uuid,
					  .seq = seq,
					  .received_at = now_unix_ms(),
					  .datamode = partial ? "partial" : "complete",
					  .body = seal ? sealed : part->body.s,
					  .body_len = seal ? strlen(sealed) : part->body.len,
					  .body_encrypted = seal,
					  .json = json,
					  .warnings = warn,
					  .warning_count = (uint32_t)s->md->warnings.n,
					  .dialect = s->md->dialect,
				  });
	siprec_catalog_md_context(m->catalog, s->uuid, s->md);
	for (size_t i = 0; i < s->md->n_participants; i++) {
		const struct siprec_participant *p = &s->md->participants[i];
		char idx[KEYS_AOR_INDEX_MAX + 1], didx[KEYS_AOR_INDEX_MAX + 1], dom[256];
		/* Sealed, the AoR is found by its blind index only (erasure, holds, retention),
		 * its domain by another (retention by domain). */
		bool indexed = seal && p->aors.n && keys_aor_index(m->keys, p->aors.v[0], idx) == 0;
		bool dindexed = indexed && compliance_aor_domain(p->aors.v[0], dom, sizeof(dom)) &&
				keys_aor_index(m->keys, dom, didx) == 0;

		catalog_participant_upsert(
			m->catalog, &(struct catalog_participant){
					    .session_uuid = s->uuid,
					    .participant_id = p->id,
					    /* sealed in the snapshot instead */
					    .name = !seal && p->names.n ? p->names.v[0] : NULL,
					    .aor = !seal && p->aors.n ? p->aors.v[0] : NULL,
					    .aor_index = indexed ? idx : NULL,
					    .domain_index = dindexed ? didx : NULL,
				    });
	}
	if (s->md->warnings.n) {
		char sf[64], cf[300];
		const char *fields[] = {sf, cf, NULL};

		snprintf(sf, sizeof(sf), "SIPREC_SESSION_ID=%s", s->uuid);
		snprintf(cf, sizeof(cf), "SIP_CALL_ID=%.256s", s->call_id);
		audit_emit(AUDIT_METADATA_WARNING, fields, "session %s: %zu metadata warning%s: %s",
			   s->uuid, s->md->warnings.n, s->md->warnings.n == 1 ? "" : "s",
			   s->md->warnings.v[0]);
	}
	free(json);
	free(sealed);
	free(warn);
}

static void stream_catalog_update(struct session *s, struct stream *st);

/* Parses and applies (merges) a metadata part. Answers and returns < 0 only for 413. */
static int apply_metadata(struct session *s, struct sip_txn *txn, struct sip_msg *req,
			  const struct siprec_body_part *part)
{
	struct manager *m = s->ss->m;
	struct siprec_limits lim = SIPREC_LIMITS_DEFAULT;
	struct siprec_metadata *md = NULL;
	bool partial;
	int r;

	if (!part->present) {
		/* no body: parties named in SIP headers (CUCM, CUBE; docs/METADATA.md) */
		if (!s->md && siprec_metadata_from_headers(req, &lim, &s->md) > 0)
			catalog_metadata(s, part, false);
		return 0;
	}
	lim.max_body_size = m->cfg->max_metadata_size;
	/* lenient: a document that is not well-formed still yields what can be recovered */
	r = siprec_metadata_parse_lenient(part->body.s, part->body.len, &lim, &md);
	if (r == -E2BIG) {
		char warn[96];

		snprintf(warn, sizeof(warn), "recording metadata over a limit: %s",
			 siprec_metadata_limit());
		respond_warning(m, txn, req, 413, NULL, warn);
		return r;
	}
	if (r < 0) {
		/* Not well-formed: the call is still recorded; the problem is on record. */
		log_ratelimited(LOG_WARNING, "session %s: metadata not well-formed, ignored",
				s->uuid);
		return 0;
	}
	partial = md->datamode == SIPREC_DATAMODE_PARTIAL;
	if (!s->md || md->datamode == SIPREC_DATAMODE_COMPLETE) {
		siprec_metadata_free(s->md);
		s->md = md;
	} else {
		r = siprec_metadata_merge(s->md, md);
		siprec_metadata_free(md);
		if (r < 0) {
			respond_warning(m, txn, req, 413, NULL, "merged metadata too large");
			return r;
		}
	}
	catalog_metadata(s, part, partial);
	/* A partial update can move a stream to another sender (RFC 8068 §3.4, a transfer). */
	for (unsigned i = 0; i < s->n_streams; i++)
		if (s->streams[i]->media)
			stream_catalog_update(s, s->streams[i]);
	return 0;
}

static const char *recording_dir_for_today(struct sessions *ss)
{
	struct manager *m = ss->m;
	time_t now = time(NULL);
	struct tm tm;
	char dir[4096];

	gmtime_r(&now, &tm);
	snprintf(dir, sizeof(dir), "%s/%04d-%02d-%02d", m->cfg->recording_dir, tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday);
	/* After a fault (the filesystem remounted, maybe another one) the directory is made
	 * again: the entry may not have survived. */
	if (strcmp(dir, ss->day_dir) != 0 || ss->day_dir_fault_gen != disk_fault_generation()) {
		ss->day_dir_fault_gen = disk_fault_generation();
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			ss->day_dir[0] = '\0';
			return m->cfg->recording_dir;
		}
		snprintf(ss->day_dir, sizeof(ss->day_dir), "%s", dir);
	}
	return ss->day_dir;
}

static void codec_of(const struct sdp_media *md, int pt, char *codec, size_t n, uint32_t *ret_clock)
{
	struct sdp_rtpmap rm;

	/* a=rtpmap, else RFC 3551 static (G722's RTP clock is 8000 by the RFC's own erratum); a
	 * dynamic type without a=rtpmap is recorded all the same, its name unknown */
	if (!sdp_media_format(md, pt, &rm)) {
		snprintf(codec, n, "unknown");
		*ret_clock = 0;
		return;
	}
	snprintf(codec, n, "%.*s", (int)MIN(rm.encoding.len, n - 1), rm.encoding.s);
	*ret_clock = rm.clock;
}

static void stream_label(const struct sdp_media *md, unsigned idx, char *buf, size_t n)
{
	size_t k = 0;

	if (md->label.len == 0) {
		snprintf(buf, n, "m%u", idx);
		return;
	}
	/* Labels become part of file names: keep [A-Za-z0-9._-], map the rest to '_'. */
	for (size_t i = 0; i < md->label.len && k + 1 < n; i++) {
		char c = md->label.s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';

		buf[k++] = ok ? c : '_';
	}
	buf[k] = '\0';
}

static void key_fingerprint(const struct sdp_crypto *c, uint8_t out[8])
{
	uint64_t h = 1469598103934665603ULL;

	for (unsigned i = 0; i < c->keys[0].key_salt_len; i++)
		h = (h ^ c->keys[0].key_salt[i]) * 1099511628211ULL;
	memcpy(out, &h, 8);
}

/* The offer's c= and m= port of md as a socket address when c= is a unicast IP literal (not
 * 0.0.0.0/::, not multicast, not a host name): MEDIA_LATCH=sdp accepts media from that IP. */
static bool remote_of(const struct sdp_media *md, struct sockaddr_storage *ret)
{
	const struct sdp_connection *c = sdp_media_address(md);
	char a[64];

	memset(ret, 0, sizeof(*ret));
	if (!c || !c->present || c->unspecified || c->address.len == 0 ||
	    c->address.len >= sizeof(a))
		return false;
	memcpy(a, c->address.s, c->address.len);
	a[c->address.len] = '\0';
	if (c->family == AF_INET6) {
		struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ret;

		if (inet_pton(AF_INET6, a, &v6->sin6_addr) != 1 ||
		    IN6_IS_ADDR_MULTICAST(&v6->sin6_addr) ||
		    IN6_IS_ADDR_UNSPECIFIED(&v6->sin6_addr))
			return false;
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(md->port);
	} else {
		struct sockaddr_in *v4 = (struct sockaddr_in *)ret;

		if (inet_pton(AF_INET, a, &v4->sin_addr) != 1 ||
		    IN_MULTICAST(ntohl(v4->sin_addr.s_addr)) || v4->sin_addr.s_addr == 0 ||
		    v4->sin_addr.s_addr == INADDR_BROADCAST)
			return false;
		v4->sin_family = AF_INET;
		v4->sin_port = htons(md->port);
	}
	return true;
}

/* What the media path checks per packet: the SRC's address (MEDIA_LATCH=sdp), the offered
 * payload types (others are counted) and the telephone-event ones (DTMF_POLICY). */
static void media_formats_of(const struct sdp_media *md, const struct stream *st,
			     struct media_stream_params *p)
{
	p->remote_addr = st->has_remote ? &st->remote : NULL;
	for (unsigned f = 0; f < md->n_formats; f++)
		if (md->pts[f] >= 0 && md->pts[f] < 128)
			p->pt_mask[md->pts[f] / 64] |= 1ULL << (md->pts[f] % 64);
	for (unsigned f = 0; f < md->n_rtpmaps && p->n_dtmf < MEDIA_MAX_DTMF_PTS; f++) {
		const struct sdp_rtpmap *rm = &md->rtpmaps[f];

		if (str_caseeq_cstr(rm->encoding, "telephone-event")) {
			p->dtmf[p->n_dtmf].pt = rm->pt;
			p->dtmf[p->n_dtmf++].clock = rm->clock;
		}
	}
}

/* RFC 4568 §6.1 keys with their MKIs and §6.3.7 WSH, for libsrtp2. Points into cr. */
static void srtp_params_of(const struct sdp_crypto *cr, struct srtp_params *p)
{
	memset(p, 0, sizeof(*p));
	for (unsigned i = 0; i < cr->n_keys && i < SRTP_MAX_KEYS; i++) {
		const struct sdp_crypto_key *k = &cr->keys[i];
		struct srtp_master_key *mk = &p->keys[p->n_keys++];

		mk->key_salt = k->key_salt;
		mk->len = k->key_salt_len;
		mk->mki_len = k->mki_len;
		/* the MKI value is an integer written big-endian in mki_len bytes */
		for (unsigned b = 0; b < k->mki_len && b < 8; b++)
			mk->mki[k->mki_len - 1 - b] = (uint8_t)(k->mki >> (8 * b));
	}
	p->unencrypted_srtp = cr->params.flags & SDP_CRYPTO_UNENCRYPTED_SRTP;
	p->unencrypted_srtcp = cr->params.flags & SDP_CRYPTO_UNENCRYPTED_SRTCP;
	p->unauth_srtp = cr->params.flags & SDP_CRYPTO_UNAUTHENTICATED_SRTP;
	if (cr->params.flags & SDP_CRYPTO_WSH)
		p->window = cr->params.wsh;
}

static const char *participant_of(struct session *s, struct str label)
{
	const struct siprec_stream_md *smd;
	const struct siprec_participant *p;

	if (!s->md)
		return NULL;
	smd = siprec_metadata_stream_by_label(s->md, label);
	if (!smd)
		return NULL;
	p = siprec_metadata_sender_of(s->md, smd->id);
	return p ? p->id : NULL;
}

/* The sender of the m= line idx labelled label; for metadata that names streams by position
 * (the sip-headers dialect: CUCM, CUBE media-index), by the label "m<idx>". */
static const char *stream_sender(struct session *s, struct str label, unsigned idx)
{
	const char *p = participant_of(s, label);
	char ml[16];

	if (p || !s->md)
		return p;
	snprintf(ml, sizeof(ml), "m%u", idx);
	return participant_of(s, str_from_cstr(ml));
}

/* The catalog row of an open stream after a change of codec or of metadata (its sender). */
static void stream_catalog_update(struct session *s, struct stream *st)
{
	catalog_stream_upsert(s->ss->m->catalog, &(struct catalog_stream){
							 .session_uuid = s->uuid,
							 .label = st->label_raw,
							 .participant_id = participant_of(
								 s, str_from_cstr(st->label_raw)),
							 .direction = "recvonly",
							 .codec = st->codec,
							 .payload_type = st->pt,
							 .clock_rate = st->clock_rate,
							 .local_port = media_stream_port(st->media),
						 });
}

/* A re-offer (or the answer to our delayed offer) changed the codec: follow it. */
static void stream_codec_change(struct session *s, struct stream *st, const struct sdp_media *md,
				int pt)
{
	if (pt < 0 || pt == st->pt)
		return;
	log_info("session %s: stream %s codec %s -> payload type %d", s->uuid, st->label_raw,
		 st->codec, pt);
	st->pt = pt;
	codec_of(md, pt, st->codec, sizeof(st->codec), &st->clock_rate);
	stream_catalog_update(s, st);
}

/*
 * Decides the answer for one offered m= line and opens its stream when it is new. Returns 0,
 * or -ENOTSUP with *why set when this m= line has to be refused for a reason that makes the
 * whole offer unacceptable (SRTP policy), or a media error.
 */
static int stream_setup(struct session *s, unsigned idx, const struct sdp_media *md,
			struct sdp_answer_media *ans, const char **why, char *unsup, size_t unsup_n)
{
	struct manager *m = s->ss->m;
	struct stream *st = s->streams[idx];
	bool srtp = sdp_media_is_srtp(md);
	struct sdp_crypto cr;
	int pt = -1, dtmf = -1, r;
	bool existing = st->media != NULL;
	const char *sender;

	ans->port = 0;
	ans->pt = -1;
	ans->dtmf_pt = -1;
	ans->crypto = NULL;
	ans->rtcp_mux = md->rtcp_mux;
	st->session = s;
	if (md->port == 0 || md->invalid || md->type != SDP_MEDIA_AUDIO ||
	    !sdp_media_proto_supported(md)) {
		/* A removed stream (port 0 in a re-offer) ends its recording. */
		return 0;
	}
	if (sdp_choose_codec(md, &pt, &dtmf) < 0)
		return 0; /* not reached: audio over RTP always has a primary format */
	if (srtp && m->cfg->srtp_policy == SRTP_POLICY_OFF) {
		*why = "SRTP offered but SRTP_POLICY=off";
		return -ENOTSUP;
	}
	if (!srtp && m->cfg->srtp_policy == SRTP_POLICY_REQUIRED) {
		*why = "plain RTP offered but SRTP_POLICY=required";
		return -ENOTSUP;
	}
	/* SDES keys are in the SDP: over SIP without TLS anyone on the signalling path has
	 * them (RFC 4568 §8.3), which is no SRTP at all for a policy that requires it. */
	if (srtp && m->cfg->srtp_policy == SRTP_POLICY_REQUIRED && !m->cfg->srtp_sdes_plain_sip &&
	    (!s->conn || sip_conn_kind(s->conn) != SIP_TRANSPORT_TLS)) {
		*why = "SDES keys over SIP without TLS refused with SRTP_POLICY=required "
		       "(SRTP_ALLOW_SDES_OVER_PLAIN_SIP)";
		return -ENOTSUP;
	}
	memset(&cr, 0, sizeof(cr));
	if (srtp) {
		const char *refused = NULL;

		r = sdp_crypto_choose_policy(
			md, NULL, 0,
			&(struct sdp_crypto_policy){.require_protection = m->cfg->srtp_policy ==
									  SRTP_POLICY_REQUIRED},
			&cr, &refused);
		if (r < 0) {
			if (refused) {
				*why = refused;
				return -ENOTSUP;
			}
			if (sdp_crypto_format_unsupported(md, NULL, 0, unsup, unsup_n) <= 0)
				snprintf(unsup, unsup_n, "none offered");
			*why = "no supported SRTP crypto suite";
			return -ENOTSUP;
		}
	}
	ans->pt = pt;
	ans->dtmf_pt = dtmf;
	if (!existing) {
		struct media_stream_params p = {0};
		char formats[STORE_FORMATS_MAX + 1];
		struct recording_key rk;
		const struct srtp_suite_info *si = NULL;
		struct srtp_params sp;
		const struct siprec_stream_md *smd =
			s->md ? siprec_metadata_stream_by_label(s->md, md->label) : NULL;
		stream_label(md, idx, st->label, sizeof(st->label));
		snprintf(st->label_raw, sizeof(st->label_raw), "%.*s", (int)md->label.len,
			 md->label.s ? md->label.s : "");
		if (!st->label_raw[0])
			memcpy(st->label_raw, st->label, strlen(st->label) + 1);
		st->pt = pt;
		st->dtmf_pt = dtmf;
		codec_of(md, pt, st->codec, sizeof(st->codec), &st->clock_rate);
		if (sdp_media_format_map(md, formats, sizeof(formats)) < 0)
			formats[0] = '\0';
		st->rtcp_mux = md->rtcp_mux;
		uuid_generate(st->recording_uuid);
		/* The recording uuid keeps names apart when two labels map to the same
		 * file-name-safe text or a removed stream comes back. Written in place: a copy
		 * through a buffer of the same size moved 4 KiB per stream. */
		free(st->path);
		if (asprintf(&st->path, "%s/%s-%s-%s.siprec", recording_dir_for_today(s->ss),
			     s->uuid, st->label, st->recording_uuid) < 0) {
			st->path = NULL;
			*why = "out of memory";
			return -ENOMEM;
		}
		if (strlen(st->path) >= PATH_MAX) {
			st->path[0] = '\0';
			*why = "recording path too long";
			return -ENAMETOOLONG;
		}
		r = keys_recording_key_new(m->keys, st->recording_uuid, &rk);
		if (r < 0) {
			sdp_crypto_wipe(&cr);
			*why = "key store unavailable";
			return r;
		}
		if (srtp) {
			si = srtp_suite_by_name(str_from_cstr(cr.suite->name));
			r = sdp_crypto_answer_make(cr.suite->id, cr.tag, &cr.params, &st->crypto);
			if (!si || r < 0) {
				sdp_crypto_wipe(&cr);
				recording_key_wipe(&rk);
				*why = "SRTP setup failed";
				return r < 0 ? r : -ENOTSUP;
			}
			st->srtp = true;
			st->suite = cr.suite->id;
			key_fingerprint(&cr, st->remote_key_id);
		}
		p = (struct media_stream_params){
			.session_uuid = s->uuid,
			.recording_uuid = st->recording_uuid,
			.label = st->label_raw,
			.path = st->path,
			.codec = st->codec,
			.payload_type = (uint8_t)pt,
			.clock_rate = st->clock_rate,
			.formats = formats,
			.rtcp_mux = md->rtcp_mux,
			.bind_addr = &s->media_addr,
			.alg = m->cfg->enable_recording_encryption
				       ? (m->cfg->encryption_algorithm == SEAL_CHACHA20_POLY1305
						  ? STORE_ALG_CHACHA20_POLY1305
						  : STORE_ALG_AES_256_GCM)
				       : STORE_ALG_NONE,
			.rkey = &rk,
			.chunk_size = m->cfg->chunk_size,
			.srtp_suite = si,
			.srtp = srtp ? &sp : NULL,
		};
		srtp_params_of(&cr, &sp);
		st->has_remote = remote_of(md, &st->remote);
		media_formats_of(md, st, &p);
		if (s->state == SESSION_STARTING) {
			p.started = stream_started;
			p.started_userdata = st;
		}
		p.failed = stream_failed;
		p.failed_userdata = st;
		r = media_stream_open(m->media, &p, &st->media);
		if (r < 0) {
			sdp_crypto_wipe(&cr);
			recording_key_wipe(&rk);
			*why = r == -EADDRINUSE ? "no free media port" : "media setup failed";
			return r;
		}
		s->ss->streams++;
		if (s->state == SESSION_STARTING)
			s->starting++;
		sender = stream_sender(s, md->label, idx);
		if (s->md && !sender)
			siprec_label_warning(m->catalog, s->uuid, st->label_raw);
		catalog_stream_upsert(m->catalog,
				      &(struct catalog_stream){
					      .session_uuid = s->uuid,
					      .label = p.label,
					      .stream_id = smd ? smd->id : NULL,
					      .participant_id = sender,
					      .direction = "recvonly",
					      .codec = st->codec,
					      .payload_type = pt,
					      .clock_rate = st->clock_rate,
					      /* "": plain, a restored stream's SRTP too */
					      .srtp_suite = srtp ? cr.suite->name : "",
					      .local_port = media_stream_port(st->media),
					      /* a removed stream's row, restored */
					      .state = "active",
				      });
		siprec_catalog_formats(m->catalog, s->uuid, p.label, md);
		catalog_recording_begin(m->catalog, &(struct catalog_recording){
							    .uuid = st->recording_uuid,
							    .session_uuid = s->uuid,
							    .stream_label = p.label,
							    .path = st->path,
							    .key_id = rk.key_id,
							    .key_version = rk.key_version,
							    .algorithm = store_alg_to_string(p.alg),
							    .created_at = now_unix_ms(),
						    });
		recording_key_wipe(&rk);
	} else if (srtp && st->srtp) {
		uint8_t fp[8];

		/* A re-offer with a new key: switch contexts, keep our own answer key. */
		key_fingerprint(&cr, fp);
		if (memcmp(fp, st->remote_key_id, sizeof(fp)) != 0) {
			const struct srtp_suite_info *si =
				srtp_suite_by_name(str_from_cstr(cr.suite->name));
			struct srtp_params sp;

			srtp_params_of(&cr, &sp);
			if (si && media_stream_rekey(st->media, si, &sp) == 0)
				memcpy(st->remote_key_id, fp, sizeof(fp));
		}
		stream_codec_change(s, st, md, pt);
	} else {
		stream_codec_change(s, st, md, pt);
	}
	if (existing) {
		struct media_stream_params p = {0};

		/* The SRC may move its media (another c= or port: the stream latches anew) and
		 * change its formats. Hold (c=0.0.0.0) is no move. */
		if (!sdp_media_is_hold(md))
			st->has_remote = remote_of(md, &st->remote);
		media_formats_of(md, st, &p);
		media_stream_update(st->media, &p);
		/* a re-offer may bring formats the file header does not list */
		siprec_catalog_formats(m->catalog, s->uuid, st->label_raw, md);
	}
	sdp_crypto_wipe(&cr);
	if (!existing)
		st->quiet_since = now_unix_ms();
	if (sdp_media_is_hold(md) != st->paused) {
		st->paused = sdp_media_is_hold(md);
		if (!st->paused)
			st->quiet_since = now_unix_ms();
		media_stream_set_paused(st->media, st->paused);
	}
	ans->port = media_stream_port(st->media);
	ans->crypto = st->crypto;
	return 0;
}

static void stream_closed(void *userdata, struct media_stream *ms,
			  const struct media_stream_result *res);

static void stream_close(struct stream *st)
{
	if (!st->media)
		return;
	st->session->closing++;
	st->closing = true;
	media_stream_close(st->media, stream_closed, st);
	st->media = NULL;
}

/* Streams of a session whose close is still in flight while their m= line carries another. */
#define MAX_RETIRED_STREAMS 64

static void stream_clear(struct stream *st)
{
	sdp_crypto_answer_free(st->crypto);
	free(st->path);
	memset(st, 0, sizeof(*st));
}

/*
 * Slot idx, whose stream has ended (st->media NULL), gets a clean struct for the stream that
 * stream_setup() opens next on its m= line: nothing of the old one (its recording's uuid and
 * path, SRTP answer, hold and idle flags) carries over. A struct whose close is still in flight
 * must stay as it is, the close callback finalizing its recording by it: it goes to the retired
 * list and a retired one whose close finished, or a new one, takes the slot. Returns 0, -ENOMEM,
 * or -EBUSY when MAX_RETIRED_STREAMS closes of the session are in flight.
 */
static int stream_renew(struct session *s, unsigned idx)
{
	struct stream *st = s->streams[idx], *fresh = NULL, **pp;

	if (!st->closing) {
		stream_clear(st);
		return 0;
	}
	for (pp = &s->retired; *pp; pp = &(*pp)->next_retired) {
		if (!(*pp)->closing) {
			fresh = *pp;
			*pp = fresh->next_retired;
			s->n_retired--;
			stream_clear(fresh);
			break;
		}
	}
	if (!fresh && s->n_retired >= MAX_RETIRED_STREAMS)
		return -EBUSY;
	if (!fresh && !(fresh = calloc(1, sizeof(*fresh))))
		return -ENOMEM;
	st->next_retired = s->retired;
	s->retired = st;
	s->n_retired++;
	s->streams[idx] = fresh;
	return 0;
}

/* True if a retired struct's close has finished (stream_renew reuses it). */
static bool retired_reusable(const struct session *s)
{
	for (const struct stream *st = s->retired; st; st = st->next_retired)
		if (!st->closing)
			return true;
	return false;
}

/*
 * A re-offer that keeps an m= line but labels it anew carries another stream on it (RFC 3264
 * §8.3.3 reuses m= lines; RFC 4574: the label names the stream): after a transfer the new party's
 * audio must not go on in the old party's file under the old label. The stream on the line ends
 * (its recording is finalized under its own label) and slot idx gets a fresh struct for the new
 * one, stream_setup() opening it; the old struct is kept for its close callback. A line whose
 * label is the same, or that has none, keeps its stream. Returns 0 or -ENOMEM.
 */
static int relabelled_stream(struct session *s, unsigned idx, const struct sdp_media *md)
{
	struct stream *st = s->streams[idx];
	char raw[STORE_LABEL_MAX + 1];

	if (!st->media || md->port == 0 || md->label.len == 0)
		return 0;
	snprintf(raw, sizeof(raw), "%.*s", (int)md->label.len, md->label.s);
	if (strcmp(raw, st->label_raw) == 0)
		return 0;
	if (s->n_retired >= MAX_RETIRED_STREAMS && !retired_reusable(s)) {
		log_warning("session %s: m= line %u relabelled '%s' from '%s': too many stream "
			    "changes in this session, recorded on as '%s'",
			    s->uuid, idx, raw, st->label_raw, st->label_raw);
		return 0;
	}
	log_info("session %s: m= line %u relabelled '%s' from '%s': stream %s ends, a new stream "
		 "begins",
		 s->uuid, idx, raw, st->label_raw, st->label_raw);
	stream_close(st);
	return stream_renew(s, idx);
}

/*
 * Delayed offer (RFC 3261 §13.2.1, RFC 3264 §5): an INVITE without SDP (Cisco CUCM's
 * built-in-bridge recording, some SBCs) is answered with our offer: recvonly audio with every
 * codec a recorder meets, and the SRC's answer arrives in the ACK. The answerer keeps our payload
 * type numbers (RFC 3264 §6.1), so this table is also the recording's payload map.
 */
#define OFFER_FORMATS "0 8 9 18 96 97 98 101"
static const char offer_rtpmaps[] = "a=rtpmap:0 PCMU/8000\r\n"
				    "a=rtpmap:8 PCMA/8000\r\n"
				    "a=rtpmap:9 G722/8000\r\n"
				    "a=rtpmap:18 G729/8000\r\n"
				    "a=rtpmap:96 AMR-WB/16000\r\n"
				    "a=fmtp:96 octet-align=1\r\n"
				    "a=rtpmap:97 AMR/8000\r\n"
				    "a=fmtp:97 octet-align=1\r\n"
				    "a=rtpmap:98 opus/48000/2\r\n"
				    "a=rtpmap:101 telephone-event/8000\r\n"
				    "a=fmtp:101 0-16\r\n";

static int offer_append(char *buf, size_t cap, size_t *off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int offer_append(char *buf, size_t cap, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off >= cap)
		return -ENOBUFS;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, cap - *off, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap - *off)
		return -ENOBUFS;
	*off += (size_t)n;
	return 0;
}

/* The label of delayed-offer stream i: the metadata's stream labels when it names them. */
static void offer_label(const struct session *s, unsigned i, char *buf, size_t n)
{
	/* sip-headers metadata names streams by position ("m0"), not by an SRC label */
	if (s->md && i < s->md->n_streams && s->md->streams[i].label &&
	    s->md->streams[i].label[0] &&
	    (!s->md->dialect || strcmp(s->md->dialect, "sip-headers") != 0)) {
		/* labels go on an SDP line: keep them to token characters */
		size_t k = 0;

		for (const char *c = s->md->streams[i].label; *c && k + 1 < n; c++)
			if ((unsigned char)*c > 0x20 && *c != 0x7f)
				buf[k++] = *c;
		buf[k] = '\0';
		if (k)
			return;
	}
	snprintf(buf, n, "%u", i + 1);
}

/*
 * Writes the SDP of a delayed offer. With placeholder set, it is the SRC-side stand-in that
 * stream_setup() opens the streams from (discard port, sendonly, a throwaway key for SAVP);
 * otherwise it is the offer we send: our ports, our a=crypto keys, recvonly. Returns the length
 * or -ENOBUFS.
 */
static int offer_build(struct session *s, unsigned n_streams, bool srtp, bool placeholder,
		       char *buf, size_t cap)
{
	char ip[INET6_ADDRSTRLEN] = "127.0.0.1", label[STORE_LABEL_MAX + 1];
	const struct sockaddr_storage *a = placeholder ? &s->peer : &s->media_addr;
	bool v6 = a->ss_family == AF_INET6;
	size_t off = 0;
	int r;

	if (a->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)a)->sin_addr, ip, sizeof(ip));
	else if (v6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)a)->sin6_addr, ip, sizeof(ip));
	r = offer_append(buf, cap, &off,
			 "v=0\r\no=%s %llu %llu IN IP%c %s\r\ns=-\r\nc=IN IP%c %s\r\nt=0 0\r\n",
			 placeholder ? "-" : "siprecd", (unsigned long long)s->sdp_sess_id,
			 (unsigned long long)s->sdp_version, v6 ? '6' : '4', ip, v6 ? '6' : '4',
			 ip);
	for (unsigned i = 0; r == 0 && i < n_streams; i++) {
		const struct stream *st = s->streams[i]; /* NULL for a placeholder's new streams */
		uint8_t key[30];
		char *k64 = NULL;

		if (!placeholder && !st->media) {
			r = offer_append(buf, cap, &off, "m=audio 0 RTP/AVP 0\r\n");
			continue;
		}
		offer_label(s, i, label, sizeof(label));
		r = offer_append(
			buf, cap, &off, "m=audio %u RTP/%s " OFFER_FORMATS "\r\na=label:%s\r\n%s",
			placeholder ? 9u : media_stream_port(st->media), srtp ? "SAVP" : "AVP",
			placeholder ? label : st->label_raw, offer_rtpmaps);
		if (r == 0 && srtp && placeholder) {
			/* replaced by the SRC's own key when its answer arrives in the ACK */
			if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key))
				return -EIO;
			k64 = b64_encode(key, sizeof(key));
			OPENSSL_cleanse(key, sizeof(key));
			if (!k64)
				return -ENOMEM;
			r = offer_append(buf, cap, &off,
					 "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s\r\n", k64);
			OPENSSL_cleanse(k64, strlen(k64));
			free(k64);
		} else if (r == 0 && srtp && st->crypto) {
			r = offer_append(buf, cap, &off, "a=crypto:%.*s\r\n",
					 (int)st->crypto->value_len, st->crypto->value);
		}
		if (r == 0)
			r = offer_append(buf, cap, &off, "a=%s\r\n",
					 placeholder ? "sendonly" : "recvonly");
	}
	return r < 0 ? r : (int)off;
}

/* RFC 4028: the Session-Expires we agreed to, refreshed by the SRC (refresher=uac). */
static void timer_headers(const struct session *s, char *buf, size_t n)
{
	size_t len = strlen(buf);

	if (s->session_expires_s && len < n)
		snprintf(buf + len, n - len,
			 "Session-Expires: %u;refresher=uac\r\nRequire: timer\r\n",
			 s->session_expires_s);
}

static void start_step(struct session *s, int result, const char *why);

/*
 * The catalog rows of a new session (session, streams, recordings, and the keys queued before
 * them: in write-only mode the sealed envelope is the only copy of a recording key) are durable
 * before the 200 OK: a recorder must not confirm a recording its catalog could lose. The token
 * outlives the session if need be (session_free clears token->s).
 */
static void sip_catalog_durable(void *arg)
{
	struct durable_token *t = arg;

	if (t->s) {
		t->s->durable_token = NULL;
		t->s->t_committed = t->committed_us;
		t->s->t_durable = lat_now_us();
		if (t->result < 0)
			log_ratelimited(LOG_ERR, "session %s: catalog rows not durable: %s",
					t->s->uuid, strerror(-t->result));
		/* SQLite's errors are all -EIO here (a damaged file too): the probe's test write
		 * tells whether the catalog's volume is failing. */
		if (t->result < 0)
			disk_fault_kick();
		start_step(t->s, t->result, "the catalog cannot record the session");
	}
	free(t);
}

/* On the catalog thread. */
static void catalog_durable(void *userdata, int result)
{
	struct durable_token *t = userdata;

	t->result = result;
	t->committed_us = lat_now_us();
	if (loop_post(t->loop, sip_catalog_durable, t) < 0)
		free(t); /* the SIP loop is gone: nobody waits any more */
}

static void trying_unlink(struct session *s)
{
	struct sessions *ss = s->ss;

	if (!s->trying_linked)
		return;
	if (s->trying_prev)
		s->trying_prev->trying_next = s->trying_next;
	else
		ss->trying_head = s->trying_next;
	if (s->trying_next)
		s->trying_next->trying_prev = s->trying_prev;
	else
		ss->trying_tail = s->trying_prev;
	s->trying_prev = s->trying_next = NULL;
	s->trying_linked = false;
}

/* The oldest waiting INVITEs are SIP_TRYING_DELAY old: 100 Trying to each whose answer is still
 * being prepared, then the timer for the next. Answered ones left the list when answered. */
static void trying_fired(struct loop_timer *tm)
{
	struct sessions *ss = container_of(tm, struct sessions, trying_timer);
	uint64_t now = loop_now_ms(ss->m->loop);
	struct session *s;

	while ((s = ss->trying_head) && s->trying_at <= now) {
		struct sip_msg *req;

		trying_unlink(s);
		/* Proceeding: no final response yet (a 487 to a CANCEL, a 500 or the 200 end it).
		 */
		if (s->invite_txn && sip_txn_state(s->invite_txn) == SIP_TXN_PROCEEDING &&
		    sip_txn_request(s->invite_txn, &req) >= 0)
			sipd_respond(ss->m, s->invite_txn, req, 100, NULL, NULL);
	}
	if (s)
		loop_timer_arm(ss->m->loop, &ss->trying_timer, s->trying_at);
}

/*
 * RFC 3261 §13.3.1.1 lets a UAS leave out 100 Trying, and §17.2.1 asks for one only when the
 * final response is not sent within 200 ms: an answer ready within SIP_TRYING_DELAY (below
 * T1, 500 ms, so an SRC over UDP does not retransmit the INVITE meanwhile) goes out alone,
 * one message, record and write fewer per call. 0: the 100 goes out at once.
 */
static void trying_arm(struct session *s, struct sip_txn *txn, struct sip_msg *req)
{
	struct manager *m = s->ss->m;

	if (m->cfg->sip_trying_delay_ms == 0 || txn != s->invite_txn) {
		sipd_respond(m, txn, req, 100, NULL, NULL);
		return;
	}
	if (s->trying_linked)
		return;
	s->trying_at = loop_now_ms(m->loop) + m->cfg->sip_trying_delay_ms;
	s->trying_prev = s->ss->trying_tail;
	if (s->ss->trying_tail)
		s->ss->trying_tail->trying_next = s;
	else
		s->ss->trying_head = s;
	s->ss->trying_tail = s;
	s->trying_linked = true;
	/* An armed timer is due no later than this (the list is in deadline order); one for a
	 * session answered since fires once, finds nothing due and moves on. */
	if (!loop_timer_armed(&s->ss->trying_timer))
		loop_timer_arm(m->loop, &s->ss->trying_timer, s->trying_at);
}

/* RFC 4574 §5: a label is unique within a session. Two m= lines that share one (or an
 * unlabelled line and one labelled "m<its index>", the name stream_label gives it) would be two
 * recordings of one catalog stream, the first one's counters overwritten by the second's: such
 * an offer is refused. A line at port 0 records nothing: a removed stream keeps its m= line
 * (RFC 3264 §8.2) and an SRC may give a stream added later its label (RFC 7866 §8.1.5, RFC
 * 8068), so its label is no duplicate. True, with the Warning's text in warn, if two lines
 * with a port share a label. */
static bool shared_label(const struct sdp_session *offer, char *warn, size_t n)
{
	char a[16], b[16];

	for (unsigned i = 0; i < offer->n_media; i++) {
		struct str li = offer->media[i].label;

		if (offer->media[i].port == 0)
			continue;
		if (!li.len)
			li = str_make(a, (size_t)snprintf(a, sizeof(a), "m%u", i));
		li.len = MIN(li.len, STORE_LABEL_MAX); /* as label_raw keeps it */
		for (unsigned j = 0; j < i; j++) {
			struct str lj = offer->media[j].label;

			if (offer->media[j].port == 0)
				continue;
			if (!lj.len)
				lj = str_make(b, (size_t)snprintf(b, sizeof(b), "m%u", j));
			lj.len = MIN(lj.len, STORE_LABEL_MAX);
			if (str_eq(li, lj)) {
				snprintf(warn, n,
					 "SDP offer rejected: m= lines %u and %u share the label "
					 "'%.*s'",
					 j + 1, i + 1, (int)MIN(li.len, 64), li.s);
				return true;
			}
		}
	}
	return false;
}

/* Builds the SDP answer for offer and sends the 200 OK. Returns 0, or answers an error. */
static int answer_offer(struct session *s, struct sip_txn *txn, struct sip_msg *req,
			const struct siprec_body_part *sdp_part, bool delayed)
{
	struct manager *m = s->ss->m;
	static struct sdp_session offer; /* ~60 KiB: not on the stack; SIP thread only */
	struct sdp_limits lim = {0};
	struct sdp_answer_media ans[MAX_STREAMS_HARD];
	char answer[ANSWER_MAX], unsup[256] = "", warn[400], contact[640];
	const char *why = NULL;
	unsigned accepted = 0;
	int r, n;

	lim.max_media = MIN(m->cfg->max_streams, MAX_STREAMS_HARD);
	r = sdp_parse(sdp_part->body.s, sdp_part->body.len, &lim, &offer);
	/* Every limit of the parser is -E2BIG: only the m= lines' one is MAX_STREAMS_PER_SESSION,
	 * the others (formats, attributes, a label's length) are named by sdp_error() below. */
	if (r == -E2BIG && strcmp(sdp_error(), "too many m= lines") == 0) {
		snprintf(warn, sizeof(warn),
			 "too many streams (at most %u per session, MAX_STREAMS_PER_SESSION)",
			 lim.max_media);
		respond_warning(m, txn, req, 488, NULL, warn);
		return r;
	}
	if (r < 0) {
		snprintf(warn, sizeof(warn), "SDP offer rejected: %s", sdp_error());
		respond_warning(m, txn, req, 488, NULL, warn);
		return r;
	}
	if (shared_label(&offer, warn, sizeof(warn))) {
		respond_warning(m, txn, req, 488, NULL, warn);
		return -EBADMSG;
	}
	/* A re-offer's streams count against the source's limit like the initial offer's; a
	 * refusal changes nothing, the streams recording so far go on. */
	for (unsigned i = 0; i < offer.n_media; i++)
		accepted += offer.media[i].port != 0;
	if (edge_session_streams(m, &s->peer, accepted, &s->src_charge) < 0) {
		snprintf(warn, sizeof(warn),
			 "too many streams from %s (at most %u, MAX_STREAMS_PER_SOURCE)",
			 s->peer_str, m->cfg->max_streams_per_source);
		respond_warning(m, txn, req, 488, NULL, warn);
		return -EUSERS;
	}
	accepted = 0;
	if (offer.n_media < s->n_streams) {
		/* RFC 3264 §8 says m= lines are never removed from a re-offer, but SRCs do drop a
		 * stream that way after a transfer: end those recordings, answer what was offered.
		 */
		log_notice("session %s: re-offer has %u m= lines, %u before: the others end",
			   s->uuid, offer.n_media, s->n_streams);
		for (unsigned i = offer.n_media; i < s->n_streams; i++)
			stream_close(s->streams[i]);
	}
	for (; s->n_alloc < offer.n_media; s->n_alloc++) {
		s->streams[s->n_alloc] = calloc(1, sizeof(struct stream));
		if (!s->streams[s->n_alloc]) {
			respond_warning(m, txn, req, 500, NULL, "out of memory");
			return -ENOMEM;
		}
	}
	for (unsigned i = 0; i < offer.n_media; i++) {
		if (i < s->n_streams && relabelled_stream(s, i, &offer.media[i]) < 0) {
			respond_warning(m, txn, req, 500, NULL, "out of memory");
			return -ENOMEM;
		}
		/* A stream removed (port 0, or its m= line dropped) and offered again begins a
		 * new recording in a clean struct: the old recording may still be closing. */
		if (!s->streams[i]->media && s->streams[i]->recording_uuid[0] &&
		    offer.media[i].port != 0) {
			r = stream_renew(s, i);
			if (r < 0) {
				respond_setup_failed(m, txn, req, r == -EBUSY ? -EAGAIN : r, NULL,
						     r == -EBUSY ? "too many removed streams of "
								   "this session still closing"
								 : "out of memory");
				return r;
			}
		}
		r = stream_setup(s, i, &offer.media[i], &ans[i], &why, unsup, sizeof(unsup));
		if (r < 0) {
			if (*unsup)
				snprintf(warn, sizeof(warn), "%s: %s", why, unsup);
			else
				snprintf(warn, sizeof(warn), "%s", why ? why : strerror(-r));
			respond_setup_failed(m, txn, req, r, NULL, warn);
			if (i >= s->n_streams)
				s->n_streams = i + 1; /* so opened streams get closed */
			return r;
		}
		if (ans[i].port == 0 && s->streams[i]->media)
			stream_close(s->streams[i]);
		if (ans[i].port)
			accepted++;
	}
	s->n_streams = offer.n_media;
	if (accepted == 0 && s->state != SESSION_CONFIRMED && s->state != SESSION_ANSWERED) {
		snprintf(warn, sizeof(warn), "no acceptable stream%s%s", why ? ": " : "",
			 why ? why : "");
		respond_warning(m, txn, req, 488, NULL, warn);
		return -ENOTSUP;
	}
	if (delayed) {
		++s->sdp_version;
		n = offer_build(s, offer.n_media, sdp_media_is_srtp(&offer.media[0]), false, answer,
				sizeof(answer));
		s->awaiting_answer = true;
	} else {
		n = sdp_answer_build(&offer,
				     &(struct sdp_answer_params){.origin_user = "siprecd",
								 .sess_id = s->sdp_sess_id,
								 .sess_version = ++s->sdp_version,
								 .address = s->media_addr_str},
				     ans, offer.n_media, answer, sizeof(answer));
	}
	if (n < 0) {
		log_error("session %s: cannot build the SDP %s: %s", s->uuid,
			  delayed ? "offer" : "answer", strerror(-n));
		respond_warning(m, txn, req, 500, NULL, "cannot build the SDP answer");
		return n;
	}
	{
		const struct sockaddr_storage *l = sip_conn_local(s->conn);
		char la[64];
		const char *tr = sip_transport_kind_name(sip_conn_kind(s->conn));

		sockaddr_to_string(l, la, sizeof(la));
		/* RFC 7866 §6.1.1: the SRS's Contact carries +sip.srs. */
		snprintf(contact, sizeof(contact),
			 "Contact: <sip%s:srs@%s;transport=%s>;+sip.srs\r\n"
			 "Supported: siprec\r\n"
			 "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO\r\n",
			 sip_conn_kind(s->conn) == SIP_TRANSPORT_TLS ? "s" : "", la, tr);
		timer_headers(s, contact, sizeof(contact));
	}
	if (s->state == SESSION_STARTING && s->starting > 0) {
		s->pending_answer = malloc((size_t)n);
		s->pending_headers = strdup(contact);
		if (!s->pending_answer || !s->pending_headers) {
			sipd_respond(m, txn, req, 500, "Out Of Memory", NULL);
			return -ENOMEM;
		}
		memcpy(s->pending_answer, answer, (size_t)n);
		s->pending_answer_len = (size_t)n;
		if (s->state == SESSION_STARTING && !s->durable_token) {
			struct durable_token *t = calloc(1, sizeof(*t));

			if (!t) {
				sipd_respond(m, txn, req, 500, "Out Of Memory", NULL);
				return -ENOMEM;
			}
			t->s = s;
			t->loop = m->loop;
			s->t_queued = lat_now_us(); /* before: the catalog may answer at once */
			r = catalog_barrier(m->catalog, catalog_durable, t);
			if (r < 0) {
				free(t);
				respond_setup_failed(m, txn, req, r, NULL, "catalog unavailable");
				return -EIO;
			}
			s->durable_token = t;
			s->starting++;
		}
		trying_arm(s, txn, req);
		return 0;
	}
	sipd_respond(m, txn, req, 200, NULL,
		     &(struct sip_response_args){.to_tag = s->local_tag,
						 .extra_headers = contact,
						 .content_type = "application/sdp",
						 .body = answer,
						 .body_len = (size_t)n});
	if (s->state == SESSION_STARTING)
		s->state = SESSION_ANSWERED;
	return 0;
}

/*
 * A recording stopped being written (ENOSPC, EIO...): the session ends at once, with a BYE that
 * says why (RFC 3326 Reason), so the SRC can record the call elsewhere instead of believing it
 * recorded; an INVITE still waiting for its answer gets 500 instead of a 200.
 */
static void stream_failed(void *userdata, int error)
{
	struct stream *st = userdata;
	struct session *s = st->session;
	char sf[64], cf[300], rf[64], pf[4200], ef[96];
	const char *fields[] = {sf, cf, rf, pf, ef, NULL};

	if (s->state == SESSION_ENDING)
		return;
	snprintf(sf, sizeof(sf), "SIPREC_SESSION_ID=%s", s->uuid);
	snprintf(cf, sizeof(cf), "SIP_CALL_ID=%.256s", s->call_id);
	snprintf(rf, sizeof(rf), "SIPREC_RECORDING_ID=%s", st->recording_uuid);
	snprintf(pf, sizeof(pf), "RECORDING_PATH=%s", st->path);
	snprintf(ef, sizeof(ef), "REASON=%s", strerror(-error));
	audit_emit(AUDIT_RECORDING_WRITE_FAILED, fields,
		   "recording %s of session %s cannot be written (%s): ending the session",
		   st->recording_uuid, s->uuid, strerror(-error));
	s->bye_reason = "Reason: SIP;cause=503;text=\"recording write failed\"\r\n";
	sipd_disk_recheck();
	/* Health and new INVITEs know at once, not at the probe's next test write. */
	if (disk_fault_report(DISK_FAULT_RECORDINGS, st->path, error))
		manager_disk_fault_check(s->ss->m);
	session_end(s, "write-error", s->state != SESSION_STARTING);
}

/* Every recording of a new session exists (or one failed): send the pending answer. */
static void stream_started(void *userdata, int result)
{
	struct stream *st = userdata;

	st->session->t_media = lat_now_us();
	if (result < 0 && disk_fault_report(DISK_FAULT_RECORDINGS, st->path, result))
		manager_disk_fault_check(st->session->ss->m);
	start_step(st->session, result, "cannot create the recording file");
}

/* The set-up's stages, once its 200 OK is out (each relative to the INVITE's handling). */
static void stages_add(struct session *s)
{
	struct setup_stages *g = &s->ss->stages;
	uint64_t now = lat_now_us();

	if (!s->t_invite || !s->t_queued || !s->t_media || !s->t_durable)
		return;
	lat_hist_add(&g->prepare, s->t_queued - s->t_invite);
	lat_hist_add(&g->media, s->t_media - s->t_invite);
	lat_hist_add(&g->barrier, s->t_committed - s->t_queued);
	lat_hist_add(&g->post, s->t_durable - s->t_committed);
	lat_hist_add(&g->last, now - MAX(s->t_media, s->t_durable));
	lat_hist_add(&g->total, now - s->t_invite);
	g->media_last += s->t_media > s->t_durable;
}

/* One step of a set-up done (the catalog's rows durable, or a recording file created); why
 * is the Warning should it have failed, the first failure's being the one sent. */
static void start_step(struct session *s, int result, const char *why)
{
	struct manager *m = s->ss->m;
	struct sip_msg *req;

	if (s->state != SESSION_STARTING || s->starting == 0)
		return; /* cancelled or ended meanwhile */
	if (result < 0 && !s->start_error) {
		s->start_error = result;
		s->start_why = why;
	}
	if (--s->starting > 0)
		return;
	/* The transaction may be gone (it ended without us) or answered already. */
	if (!s->invite_txn || sip_txn_state(s->invite_txn) != SIP_TXN_PROCEEDING ||
	    sip_txn_request(s->invite_txn, &req) < 0) {
		session_end(s, "error", false);
		return;
	}
	if (s->start_error) {
		log_error("session %s: refused: %s: %s", s->uuid, s->start_why,
			  strerror(-s->start_error));
		respond_setup_failed(m, s->invite_txn, req, s->start_error, "Recording Unavailable",
				     s->start_why);
		session_end(s, "error", false);
		return;
	}
	sipd_respond(m, s->invite_txn, req, 200, NULL,
		     &(struct sip_response_args){.to_tag = s->local_tag,
						 .extra_headers = s->pending_headers,
						 .content_type = "application/sdp",
						 .body = s->pending_answer,
						 .body_len = s->pending_answer_len});
	trying_unlink(s);
	s->state = SESSION_ANSWERED;
	stages_add(s);
}

static void session_end(struct session *s, const char *reason, bool send_bye);

static char *dup_na(const struct sip_msg *req, enum sip_hdr id)
{
	const struct sip_header *h = sip_msg_header(req, id);

	return h ? str_dup(h->value) : strdup("");
}

/* The peer's From as our To: display name and URI without its parameters, since the request
 * builder appends the tag (keeping the whole header value sent ";tag=X;tag=X"). */
static char *peer_uri(const struct sip_name_addr *na)
{
	char *s = NULL;

	if (asprintf(&s, "%.*s%s<%.*s>", STR_FMT(na->display), na->display.len ? " " : "",
		     STR_FMT(na->uri)) < 0)
		return NULL;
	return s;
}

/* An INVITE without SDP: open the streams from a stand-in offer, send ours in the 200 OK. */
static int delayed_offer(struct session *s, struct sip_txn *txn, struct sip_msg *req)
{
	struct manager *m = s->ss->m;
	unsigned n = m->cfg->delayed_offer_streams;
	bool srtp = m->cfg->srtp_policy == SRTP_POLICY_REQUIRED;
	static char text[ANSWER_MAX];
	struct siprec_body_part part = {.present = true};
	int len;

	if (s->md && s->md->n_streams > 0)
		n = (unsigned)s->md->n_streams;
	n = MIN(n, MIN(m->cfg->max_streams, MAX_STREAMS_HARD));
	len = offer_build(s, n, srtp, true, text, sizeof(text));
	if (len < 0) {
		respond_warning(m, txn, req, 500, NULL, "cannot build the SDP offer");
		return len;
	}
	part.body = (struct str){text, (size_t)len};
	log_info("session %s: INVITE without SDP: offering %u recvonly audio stream%s%s", s->uuid,
		 n, n == 1 ? "" : "s", srtp ? " (SRTP)" : "");
	return answer_offer(s, txn, req, &part, true);
}

/* The comma-separated option tag tag is in a Supported or Require header of req. */
static bool has_option(struct sip_msg *req, enum sip_hdr id, const char *tag)
{
	struct sip_hdr_iter it = {0};
	struct str v;

	while (sip_msg_next_value(req, id, &it, &v))
		if (str_caseeq_cstr(v, tag))
			return true;
	return false;
}

/*
 * RFC 4028 on an INVITE, re-INVITE or UPDATE: with Session-Expires and the SRC supporting
 * timers, we take it with refresher=uac (the SRS never sends refreshes) and end the session if no
 * refresh comes in time. Without "timer" support at the SRC the header (a proxy's) is ignored,
 * as by a UAS that does not implement timers. Returns 0, or -EINVAL after answering 422.
 */
static int session_timer_offer(struct session *s, struct sip_txn *txn, struct sip_msg *req)
{
	struct manager *m = s->ss->m;
	const struct sip_header *h = sip_msg_header(req, SIP_HDR_SESSION_EXPIRES);
	uint32_t min_se = (uint32_t)(m->cfg->min_session_expires_ms / 1000);
	uint64_t v = 0;
	size_t i = 0;
	char extra[64];

	s->last_request_at = now_unix_ms();
	if (!h || !(has_option(req, SIP_HDR_SUPPORTED, "timer") ||
		    has_option(req, SIP_HDR_REQUIRE, "timer"))) {
		if (s->session_expires_s)
			s->session_expires_at = s->last_request_at + s->session_expires_s * 1000ULL;
		return 0;
	}
	while (i < h->value.len && h->value.s[i] >= '0' && h->value.s[i] <= '9' && v < 1000000000)
		v = v * 10 + (uint64_t)(h->value.s[i++] - '0');
	if (i == 0)
		return 0; /* malformed: treat as absent */
	if (v < min_se) {
		/* RFC 4028 §8.1 */
		snprintf(extra, sizeof(extra), "Min-SE: %u\r\n", min_se);
		sipd_respond(m, txn, req, 422, NULL,
			     &(struct sip_response_args){.extra_headers = extra});
		return -EINVAL;
	}
	s->session_expires_s = (uint32_t)MIN(v, 86400);
	s->session_expires_at = s->last_request_at + s->session_expires_s * 1000ULL;
	return 0;
}

/*
 * The ACK of a delayed offer carries the SRC's answer (RFC 3264 §6): its codec choice, its SRTP
 * key, and port 0 for a stream it declines. An ACK without one leaves the streams as offered.
 */
static void delayed_answer(struct session *s, struct sip_msg *ack)
{
	static struct sdp_session ans; /* SIP thread only */
	struct siprec_limits lim = SIPREC_LIMITS_DEFAULT;
	const struct sip_header *ct = sip_msg_header(ack, SIP_HDR_CONTENT_TYPE);
	struct siprec_body_parts parts;
	unsigned i;

	s->awaiting_answer = false;
	memset(&parts, 0, sizeof(parts));
	if (!ct || ack->body.len == 0 ||
	    siprec_multipart_parse(ct->value, ack->body, &lim, &parts) < 0 || !parts.sdp.present ||
	    sdp_parse(parts.sdp.body.s, parts.sdp.body.len, NULL, &ans) < 0) {
		log_warning("session %s: the ACK carries no usable SDP answer to our offer; "
			    "recording with the offered formats",
			    s->uuid);
		return;
	}
	for (i = 0; i < s->n_streams; i++) {
		struct stream *st = s->streams[i];
		const struct sdp_media *md = i < ans.n_media ? &ans.media[i] : NULL;
		int pt = -1;

		if (!st->media)
			continue;
		if (!md || md->port == 0) {
			log_info("session %s: stream %s declined in the SRC's answer", s->uuid,
				 st->label_raw);
			stream_close(st);
			continue;
		}
		for (unsigned f = 0; f < md->n_formats && pt < 0; f++) {
			const struct sdp_rtpmap *rm = sdp_media_rtpmap(md, md->pts[f]);

			if (!rm || !str_caseeq_cstr(rm->encoding, "telephone-event"))
				pt = md->pts[f];
		}
		stream_codec_change(s, st, md, pt);
		if (st->srtp) {
			struct sdp_crypto cr;
			const struct srtp_suite_info *si;
			struct srtp_params sp;

			if (sdp_crypto_choose(md, NULL, 0, &cr) < 0) {
				log_warning(
					"session %s: stream %s: no usable a=crypto in the SRC's "
					"answer: its SRTP will not authenticate",
					s->uuid, st->label_raw);
				continue;
			}
			si = srtp_suite_by_name(str_from_cstr(cr.suite->name));
			srtp_params_of(&cr, &sp);
			if (si && media_stream_rekey(st->media, si, &sp) == 0)
				key_fingerprint(&cr, st->remote_key_id);
			sdp_crypto_wipe(&cr);
		}
		/* the SRC's media address and formats are known only now */
		{
			struct media_stream_params p = {0};

			st->has_remote = remote_of(md, &st->remote);
			media_formats_of(md, st, &p);
			media_stream_update(st->media, &p);
		}
		if (sdp_media_is_hold(md) != st->paused) {
			st->paused = sdp_media_is_hold(md);
			if (!st->paused)
				st->quiet_since = now_unix_ms();
			media_stream_set_paused(st->media, st->paused);
		}
	}
}

void session_invite(struct sessions *ss, struct sip_txn *txn, struct sip_msg *req,
		    struct sip_conn *conn, const struct sockaddr_storage *peer)
{
	struct manager *m = ss->m;
	struct siprec_body_parts parts;
	const struct sip_name_addr *from = NULL, *contact = NULL;
	struct session *s;
	struct str call_id;
	char sf[64], cf[300], pf[80], tf[32];
	const char *fields[] = {sf, cf, pf, tf, NULL};
	uint64_t rnd;
	uint64_t t_invite = lat_now_us();
	int r;

	if (ss->count >= m->cfg->max_sessions) {
		audit_refused(m, req, peer, 503, "session limit reached");
		sipd_respond(m, txn, req, 503, "Session Limit Reached",
			     &(struct sip_response_args){.extra_headers = "Retry-After: 10\r\n"});
		return;
	}
	r = split_body(m, txn, req, &parts);
	if (r < 0) {
		/* the status split_body() answered, so the audit says what the SRC saw */
		audit_refused(m, req, peer,
			      r == -E2BIG	  ? 413
			      : r == -EMEDIUMTYPE ? 415
						  : 400,
			      "body not acceptable");
		return;
	}
	if (sip_msg_call_id(req, &call_id) < 0 || sip_msg_from(req, &from) < 0)
		return; /* validated already */
	if (call_in_progress(ss, call_id)) {
		/* RFC 3261 §14.2: a second INVITE before the final response to the first gets
		 * 500 with a Retry-After of 0 to 10 s. A Call-ID is set up by one INVITE at a
		 * time here (whatever its From tag), so a CANCEL, ACK or Timer H never has two
		 * half-made sessions to choose from. */
		char ra[32];
		uint8_t r8 = 0;

		if (sip_random(&r8, 1) < 0)
			r8 = 5;
		snprintf(ra, sizeof(ra), "Retry-After: %u\r\n", r8 % 11u);
		audit_refused(m, req, peer, 500, "INVITE of a Call-ID still being set up");
		sipd_respond(m, txn, req, 500, "Call Setup In Progress",
			     &(struct sip_response_args){.extra_headers = ra});
		return;
	}
	sip_msg_contact(req, &contact);

	s = calloc(1, sizeof(*s));
	if (!s) {
		sipd_respond(m, txn, req, 500, "Out Of Memory", NULL);
		return;
	}
	s->ss = ss;
	s->t_invite = t_invite;
	uuid_generate(s->uuid);
	sip_tag_generate(s->local_tag, sizeof(s->local_tag));
	s->call_id = str_dup(call_id);
	s->remote_tag = str_dup(from->tag);
	s->remote_uri = peer_uri(from);
	s->local_uri = dup_na(req, SIP_HDR_TO);
	s->remote_target = contact ? str_dup(contact->uri) : str_dup(from->uri);
	s->conn = conn;
	sip_conn_ref(conn);
	s->peer = *peer;
	sockaddr_to_string(peer, s->peer_str, sizeof(s->peer_str));
	if (edge_session_open(m, peer, parts.sdp.body, &s->src_charge) < 0) {
		session_free(s);
		audit_refused(m, req, peer, 503, "per-source session or stream limit");
		sipd_respond(m, txn, req, 503, NULL,
			     &(struct sip_response_args){.extra_headers = "Retry-After: 10\r\n"});
		return;
	}
	s->started_at = now_unix_ms();
	s->local_cseq = 1;
	if (sip_random(&rnd, sizeof(rnd)) < 0)
		rnd = now_unix_ms();
	s->sdp_sess_id = rnd >> 1;
	if (!s->call_id || !s->remote_tag || !s->remote_uri || !s->local_uri || !s->remote_target) {
		session_free(s);
		sipd_respond(m, txn, req, 500, "Out Of Memory", NULL);
		return;
	}
	if (media_address(m, s, conn) < 0) {
		session_free(s);
		respond_warning(m, txn, req, 500, NULL, "no usable media address");
		return;
	}
	/* Link before anything can end it, so the usual teardown path applies. */
	{
		unsigned h = hash_str(call_id);

		s->hnext = ss->hash[h];
		ss->hash[h] = s;
		s->next = ss->all;
		if (ss->all)
			ss->all->prev = s;
		ss->all = s;
		ss->count++;
	}
	s->invite_txn = txn;
	sip_txn_set_tu(txn, s);
	catalog_session_begin(m->catalog,
			      &(struct catalog_session){
				      .uuid = s->uuid,
				      .call_id = s->call_id,
				      .src_addr = s->peer_str,
				      .transport = sip_transport_kind_name(sip_conn_kind(conn)),
				      .started_at = s->started_at,
			      });
	siprec_catalog_sip_context(m->catalog, s->uuid, req, m->cfg->record_sip_headers);
	if (session_timer_offer(s, txn, req) < 0) {
		audit_refused(m, req, peer, 422, "Session-Expires below MIN_SESSION_EXPIRES");
		session_end(s, "refused", false);
		return;
	}
	if (apply_metadata(s, txn, req, &parts.metadata) < 0 ||
	    (parts.sdp.present ? answer_offer(s, txn, req, &parts.sdp, false)
			       : delayed_offer(s, txn, req)) < 0) {
		unsigned code = sip_txn_status(txn);

		audit_refused(m, req, peer, code >= 300 ? code : 488,
			      code == 503
				      ? "overloaded (a media port, descriptors, memory, disk or "
					"the catalog's queue)"
			      : code == 500 ? "set-up failed"
					    : "offer or metadata not acceptable");
		session_end(s, "refused", false);
		return;
	}
	if (s->md && s->md->session_id)
		catalog_session_begin(m->catalog, &(struct catalog_session){
							  .uuid = s->uuid,
							  .call_id = s->call_id,
							  .siprec_session_id = s->md->session_id,
							  .src_addr = s->peer_str,
							  .transport = sip_transport_kind_name(
								  sip_conn_kind(conn)),
							  .started_at = s->started_at,
						  });
	m->counters.sessions_total++;
	snprintf(sf, sizeof(sf), "SIPREC_SESSION_ID=%s", s->uuid);
	snprintf(cf, sizeof(cf), "SIP_CALL_ID=%.256s", s->call_id);
	snprintf(pf, sizeof(pf), "PEER=%s", s->peer_str);
	snprintf(tf, sizeof(tf), "SIP_TRANSPORT=%s", sip_transport_kind_name(sip_conn_kind(conn)));
	audit_emit(AUDIT_SESSION_STARTED, fields,
		   "recording session %s started (%u streams) from %s", s->uuid, s->n_streams,
		   s->peer_str);
	webhook_session_event(WEBHOOK_SESSION_STARTED, s->uuid, s->call_id, s->peer_str, NULL);
	s->ss->status_dirty = true;
}

static void in_dialog_offer(struct session *s, struct sip_txn *txn, struct sip_msg *req)
{
	struct manager *m = s->ss->m;
	struct siprec_body_parts parts;

	if (s->state == SESSION_ENDING) {
		sipd_respond(m, txn, req, 481, NULL, NULL);
		return;
	}
	if (s->state == SESSION_STARTING) {
		/* RFC 3261 §14.2: an offer while ours is still pending. */
		sipd_respond(m, txn, req, 491, NULL, NULL);
		return;
	}
	if (split_body(m, txn, req, &parts) < 0)
		return;
	if (session_timer_offer(s, txn, req) < 0)
		return;
	if (apply_metadata(s, txn, req, &parts.metadata) < 0)
		return;
	if (parts.sdp.present) {
		answer_offer(s, txn, req, &parts.sdp, false);
		return;
	}
	if (req->method == SIP_METHOD_INVITE) {
		/* An offerless re-INVITE: its 200 OK carries an offer of the current streams and
		 * the ACK the answer (RFC 3261 §14.2). */
		char text[ANSWER_MAX], extra[640];
		int n;

		++s->sdp_version;
		n = offer_build(s, s->n_streams, s->n_streams && s->streams[0]->srtp, false, text,
				sizeof(text));
		if (n < 0) {
			respond_warning(m, txn, req, 500, NULL, "cannot build the SDP offer");
			return;
		}
		snprintf(extra, sizeof(extra), "Supported: siprec\r\n");
		timer_headers(s, extra, sizeof(extra));
		s->awaiting_answer = true;
		sipd_respond(m, txn, req, 200, NULL,
			     &(struct sip_response_args){.to_tag = s->local_tag,
							 .extra_headers = extra,
							 .content_type = "application/sdp",
							 .body = text,
							 .body_len = (size_t)n});
		return;
	}
	/* A metadata-only UPDATE (RFC 7866 §7.1.2): only the metadata changed. */
	{
		char extra[640] = "Supported: siprec\r\n";

		timer_headers(s, extra, sizeof(extra));
		sipd_respond(m, txn, req, 200, NULL,
			     &(struct sip_response_args){.extra_headers = extra});
	}
}

void session_reinvite(struct session *s, struct sip_txn *txn, struct sip_msg *req)
{
	in_dialog_offer(s, txn, req);
}

void session_update(struct session *s, struct sip_txn *txn, struct sip_msg *req)
{
	in_dialog_offer(s, txn, req);
}

void session_ack(struct session *s, struct sip_msg *ack)
{
	if (s->state == SESSION_ENDING)
		return;
	if (s->state == SESSION_ANSWERED)
		s->state = SESSION_CONFIRMED;
	s->last_request_at = now_unix_ms();
	if (s->awaiting_answer && ack)
		delayed_answer(s, ack);
}

bool session_ending(const struct session *s)
{
	return s->state == SESSION_ENDING;
}

void session_bye(struct session *s, struct sip_txn *txn, struct sip_msg *req)
{
	sipd_respond(s->ss->m, txn, req, 200, NULL, NULL);
	session_end(s, "bye", false);
}

void session_cancel(struct session *s)
{
	session_end(s, "cancel", false);
}

void session_no_ack(struct session *s)
{
	if (s->state == SESSION_ANSWERED)
		session_end(s, "no-ack", false);
}

void session_txn_terminated(struct session *s, struct sip_txn *t)
{
	if (s->invite_txn == t)
		s->invite_txn = NULL;
}

void session_txn_stalled(struct session *s, struct sip_txn *t)
{
	if (s->invite_txn == t)
		session_end(s, "error", false);
}

/*
 * A BYE siprecd sends is a client transaction of its own (RFC 3261 §17.1.2): over UDP it is
 * retransmitted on Timer E (T1 doubling to T2) until any response arrives, and abandoned at
 * Timer F (64*T1). It outlives its session, which may be finalized before the SRC answers.
 */
#define T1_MS 500
#define T2_MS 4000

struct uac_bye {
	struct uac_bye *next;
	struct sessions *ss;
	struct sip_conn *conn;
	struct sockaddr_storage peer;
	char *call_id;
	uint32_t cseq;
	uint64_t interval_ms, give_up_ms;
	struct loop_timer timer;
	size_t len;
	char buf[];
};

static void uac_bye_free(struct uac_bye *b)
{
	struct uac_bye **pp = &b->ss->byes;

	for (; *pp; pp = &(*pp)->next)
		if (*pp == b) {
			*pp = b->next;
			break;
		}
	loop_timer_disarm(b->ss->m->loop, &b->timer);
	sip_conn_unref(b->conn);
	free(b->call_id);
	free(b);
}

/* A stop (sessions_shutdown) is over once every session is finalized and every BYE sent was
 * answered or given up: the SRC learnt that its recording ended. */
static void shutdown_check(struct sessions *ss)
{
	void (*done)(struct manager *) = ss->shutdown_done;

	if (!done || ss->count > 0 || ss->byes)
		return;
	ss->shutdown_done = NULL;
	done(ss->m);
}

unsigned sessions_byes_pending(const struct sessions *ss)
{
	unsigned n = 0;

	for (const struct uac_bye *b = ss->byes; b; b = b->next)
		n++;
	return n;
}

static void uac_bye_timer(struct loop_timer *t)
{
	struct uac_bye *b = container_of(t, struct uac_bye, timer);
	struct loop *l = b->ss->m->loop;
	uint64_t now = loop_now_ms(l);

	if (now >= b->give_up_ms) {
		struct sessions *ss = b->ss;

		log_info("BYE for %s: no response from the SRC (Timer F)", b->call_id);
		uac_bye_free(b);
		shutdown_check(ss);
		return;
	}
	sip_conn_send_request(b->conn, &b->peer, b->buf, b->len);
	b->interval_ms = MIN(b->interval_ms * 2, T2_MS);
	loop_timer_arm(l, t, MIN(now + b->interval_ms, b->give_up_ms));
}

static void send_bye(struct session *s)
{
	struct sessions *ss = s->ss;
	struct loop *l = ss->m->loop;
	char buf[4096], sent_by[80];
	const char *tr = sip_transport_kind_name(sip_conn_kind(s->conn));
	char trup[8] = "";
	struct uac_bye *b;
	int n;

	for (size_t i = 0; i < sizeof(trup) - 1 && tr[i]; i++)
		trup[i] = (char)(tr[i] - 32), trup[i + 1] = '\0';
	sockaddr_to_string(sip_conn_local(s->conn), sent_by, sizeof(sent_by));
	/* Our To is our local URI; the request goes to the SRC's Contact over the connection
	 * the dialog came in on (RFC 5923-style reuse for TCP/TLS). */
	n = sip_request_build(buf, sizeof(buf),
			      &(struct sip_request_args){
				      .method = "BYE",
				      .request_uri = str_from_cstr(s->remote_target),
				      .transport = trup,
				      .via_sent_by = str_from_cstr(sent_by),
				      .local_uri = str_from_cstr(s->local_uri),
				      .local_tag = str_from_cstr(s->local_tag),
				      .remote_uri = str_from_cstr(s->remote_uri),
				      .remote_tag = str_from_cstr(s->remote_tag),
				      .call_id = str_from_cstr(s->call_id),
				      .cseq = s->local_cseq,
				      .extra_headers = s->bye_reason,
			      },
			      NULL);
	if (n <= 0 || sip_conn_send_request(s->conn, &s->peer, buf, (size_t)n) < 0)
		return;
	s->bye_sent = true;
	b = calloc(1, sizeof(*b) + (size_t)n);
	if (!b || !(b->call_id = strdup(s->call_id))) {
		free(b);
		return;
	}
	b->ss = ss;
	b->conn = s->conn;
	sip_conn_ref(b->conn);
	b->peer = s->peer;
	b->cseq = s->local_cseq++;
	b->len = (size_t)n;
	memcpy(b->buf, buf, (size_t)n);
	b->timer.fn = uac_bye_timer;
	b->interval_ms = T1_MS;
	b->give_up_ms = loop_now_ms(l) + 64 * T1_MS;
	b->next = ss->byes;
	ss->byes = b;
	/* Reliable transports: no retransmission, only Timer F. */
	loop_timer_arm(l, &b->timer,
		       sip_conn_reliable(b->conn) ? b->give_up_ms : loop_now_ms(l) + T1_MS);
}

bool sessions_response(struct sessions *ss, struct sip_msg *resp)
{
	const struct sip_cseq *cseq;
	struct str call_id;

	if (sip_msg_call_id(resp, &call_id) < 0 || sip_msg_cseq(resp, &cseq) < 0 ||
	    cseq->method != SIP_METHOD_BYE)
		return false;
	for (struct uac_bye *b = ss->byes; b; b = b->next) {
		if (b->cseq != cseq->seq || !str_eq_cstr(call_id, b->call_id))
			continue;
		/* A provisional response only stops the retransmissions (RFC 3261 §17.1.2.2). */
		if (resp->status < 200) {
			b->interval_ms = T2_MS;
			return true;
		}
		log_debug("BYE for %s answered %u", b->call_id, resp->status);
		uac_bye_free(b);
		shutdown_check(ss);
		return true;
	}
	return false;
}

static const char *const end_reasons[SESSIONS_END_REASONS] = {
	"bye",	    "cancel", "no-ack",	 "rtp-timeout",	    "refused",	   "shutdown",
	"operator", "error",  "silence", "session-expired", "write-error", "other",
};

static unsigned end_reason_index(const char *reason)
{
	for (unsigned i = 0; i < SESSIONS_END_REASONS - 1; i++)
		if (strcmp(reason, end_reasons[i]) == 0)
			return i;
	return SESSIONS_END_REASONS - 1;
}

static void session_finalize(struct session *s)
{
	struct sessions *ss = s->ss;
	struct manager *m = ss->m;
	char sf[64], cf[300], rf[48];
	const char *fields[] = {sf, cf, rf, NULL};

	catalog_session_end(m->catalog, s->uuid, now_unix_ms(),
			    strcmp(s->end_reason, "error") == 0 ||
					    strcmp(s->end_reason, "write-error") == 0
				    ? "failed"
				    : "ended",
			    s->end_reason);
	snprintf(sf, sizeof(sf), "SIPREC_SESSION_ID=%s", s->uuid);
	snprintf(cf, sizeof(cf), "SIP_CALL_ID=%.256s", s->call_id);
	snprintf(rf, sizeof(rf), "END_REASON=%s", s->end_reason);
	if (strcmp(s->end_reason, "refused") != 0) {
		audit_emit(AUDIT_SESSION_ENDED, fields, "recording session %s ended (%s)", s->uuid,
			   s->end_reason);
		webhook_session_event(WEBHOOK_SESSION_ENDED, s->uuid, s->call_id, s->peer_str,
				      s->end_reason);
	}
	ss->totals.ended[end_reason_index(s->end_reason)]++;
	session_unlink(s);
	session_free(s);
	ss->status_dirty = true;
	shutdown_check(ss);
}

/* streams.ssrcs: the SSRCs seen, "%08x" comma-separated; NULL when none. */
static const char *ssrcs_text(const struct media_stream_stats *ms, char *buf, size_t n)
{
	size_t len = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i < ms->n_ssrcs && i < MEDIA_MAX_SSRCS && len + 10 < n; i++)
		len += (size_t)snprintf(buf + len, n - len, "%s%08x", i ? "," : "", ms->ssrcs[i]);
	return len ? buf : NULL;
}

static void totals_add(struct sessions_totals *t, const struct media_stream_result *res)
{
	unsigned b = 0;

	t->dropped_source += res->stats.dropped_source;
	t->dropped_limit += res->stats.dropped_limit;
	t->unnegotiated_pt += res->stats.unnegotiated_pt;
	t->dtmf_events += res->stats.dtmf_events;
	t->packets += res->stats.packets;
	t->bytes += res->stats.bytes;
	t->lost += res->stats.lost;
	t->srtp_auth_failures += res->stats.srtp_auth_failures;
	t->srtp_replays += res->stats.srtp_replays;
	t->recording_bytes += res->file_size;
	t->chunks_sealed += res->chunks;
	t->frames_recorded += res->frames;
	if (res->complete)
		t->recordings_complete++;
	else
		t->recordings_incomplete++;
	if (res->error) {
		t->recording_errors++;
		/* The recordings check is degraded until a probe proves the volume writes again. */
		disk_fault_write_failed(DISK_FAULT_RECORDINGS);
	}
	if (res->p99_durable_us) {
		while (b < STORE_LAT_BUCKETS - 1 &&
		       store_lat_bucket_upper_us(b) < res->p99_durable_us)
			b++;
		t->p99_hist[b]++;
		t->p99_count++;
		t->p99_sum_us += res->p99_durable_us;
	}
}

/* A closed stream's last step: totals, and the session finalized after its last stream. */
static void stream_done(struct session *s, const struct media_stream_result *res)
{
	totals_add(&s->ss->totals, res);
	s->ss->streams--;
	if (--s->closing == 0 && s->state == SESSION_ENDING)
		session_finalize(s);
}

/*
 * recording-finalized (or -incomplete) and its webhook, once the recording's final catalog rows
 * are durable (durable 0). When they could not be made durable, nothing is announced: an event
 * must never name rows a crash can still take back.
 */
static void recording_announce(struct session *s, const char *rec_uuid, const char *path,
			       const struct media_stream_result *res, int durable)
{
	char hex[65], sf[64], rf[64], pf[4200], szf[48], hf[96], cf[24];
	const char *fields[] = {sf, rf, pf, szf, hf, cf, NULL};

	if (res->have_sha256)
		hex_encode(res->sha256, 32, hex);
	else
		hex[0] = '\0';
	if (durable < 0) {
		log_error("recording %s of session %s: catalog rows not durable (%s): "
			  "recording-finalized not sent",
			  rec_uuid, s->uuid, strerror(-durable));
		stream_done(s, res);
		return;
	}
	snprintf(sf, sizeof(sf), "SIPREC_SESSION_ID=%s", s->uuid);
	snprintf(rf, sizeof(rf), "SIPREC_RECORDING_ID=%s", rec_uuid);
	snprintf(pf, sizeof(pf), "RECORDING_PATH=%s", path);
	snprintf(szf, sizeof(szf), "RECORDING_SIZE=%llu", (unsigned long long)res->file_size);
	snprintf(hf, sizeof(hf), "RECORDING_SHA256=%s", hex);
	snprintf(cf, sizeof(cf), "RECORDING_COMPLETE=%d", res->complete ? 1 : 0);
	audit_emit(res->complete ? AUDIT_RECORDING_FINALIZED : AUDIT_RECORDING_INCOMPLETE, fields,
		   "recording %s finalized: %s, %llu bytes, %llu packets%s%s", rec_uuid, path,
		   (unsigned long long)res->file_size, (unsigned long long)res->stats.packets,
		   res->error ? ", error: " : "", res->error ? strerror(-res->error) : "");
	webhook_recording_finalized(s->uuid, rec_uuid, path, res->file_size, hex[0] ? hex : NULL,
				    res->complete);
	stream_done(s, res);
}

/* On the SIP thread: the rows queued before the barrier are committed (or failed). The session
 * waits for it (s->closing), so it cannot be freed meanwhile. */
static void sip_finalized_durable(void *arg)
{
	struct finalized_token *t = arg;

	recording_announce(t->s, t->recording_uuid, t->path, &t->res, t->result);
	free(t->path);
	free(t);
}

/* On the catalog thread. */
static void finalized_durable(void *userdata, int result)
{
	struct finalized_token *t = userdata;

	t->result = result;
	if (loop_post(t->loop, sip_finalized_durable, t) < 0) {
		free(t->path); /* the SIP loop is gone: nobody waits any more */
		free(t);
	}
}

/* True if a stream of s other than st records under st's label now: a removed stream restored
 * (or a new line given its label) before st's close came back; that one's catalog row is live. */
static bool label_live(const struct session *s, const struct stream *st)
{
	for (unsigned i = 0; i < s->n_streams; i++)
		if (s->streams[i] != st && s->streams[i]->media &&
		    strcmp(s->streams[i]->label_raw, st->label_raw) == 0)
			return true;
	return false;
}

static void stream_closed(void *userdata, struct media_stream *ms,
			  const struct media_stream_result *res)
{
	struct stream *st = userdata;
	struct session *s = st->session;
	struct manager *m = s->ss->m;
	char hex[65];
	char ssrcs[MEDIA_MAX_SSRCS * 9 + 1], src[64] = "";

	st->closing = false; /* stream_renew may reuse it from now on (not within this call) */
	hex_encode(res->sha256, 32, hex);
	if (res->stats.latched.ss_family)
		sockaddr_to_string(&res->stats.latched, src, sizeof(src));
	catalog_stream_stats(m->catalog,
			     &(struct catalog_stream_stats){
				     .session_uuid = s->uuid,
				     .label = st->label_raw,
				     .ssrcs = ssrcs_text(&res->stats, ssrcs, sizeof(ssrcs)),
				     .source_addr = src[0] ? src : NULL,
				     .dropped_source = res->stats.dropped_source,
				     .dropped_limit = res->stats.dropped_limit,
				     .unnegotiated_pt = res->stats.unnegotiated_pt,
				     .dtmf_events = res->stats.dtmf_events,
				     .packets = res->stats.packets,
				     .bytes = res->stats.bytes,
				     .lost = res->stats.lost,
				     .duplicates = res->stats.duplicates,
				     .out_of_order = res->stats.out_of_order,
				     .srtp_auth_failures = res->stats.srtp_auth_failures,
				     .srtp_replays = res->stats.srtp_replays,
				     .state = label_live(s, st) ? NULL : "ended",
				     .first_packet_at = res->stats.first_packet_ms,
				     .last_packet_at = res->stats.last_packet_ms,
			     });
	catalog_recording_final(m->catalog, &(struct catalog_recording_final){
						    .uuid = st->recording_uuid,
						    .size = res->file_size,
						    .chunks = res->chunks,
						    .frames = res->frames,
						    /* a write failed: what is on disk is not
						     * known (an all-zero hash in the trail made
						     * verify-trail call the file altered) */
						    .sha256 = res->have_sha256 ? hex : NULL,
						    .complete = res->complete,
						    .state = res->discarded ? "shredded" : "final",
						    .finalized_at = now_unix_ms(),
					    });
	if (!res->discarded) {
		struct finalized_token *t = calloc(1, sizeof(*t));
		int r = -ENOMEM;

		/* The event announces rows and a trailer that a crash cannot take back: the
		 * trailer is fdatasync'ed (res->complete), the rows wait for this barrier. */
		if (t) {
			t->s = s;
			t->loop = m->loop;
			t->res = *res;
			snprintf(t->recording_uuid, sizeof(t->recording_uuid), "%s",
				 st->recording_uuid);
			t->path = strdup(st->path);
		}
		if (t && t->path)
			r = catalog_barrier(m->catalog, finalized_durable, t);
		if (r == 0)
			return;
		if (t)
			free(t->path);
		free(t);
		recording_announce(s, st->recording_uuid, st->path, res, r);
		return;
	}
	/* The session never started: no file, no recording to announce. */
	log_info("session %s: recording %s deleted, nothing recorded (%s)", s->uuid,
		 st->recording_uuid, s->end_reason[0] ? s->end_reason : "closed");
	(void)ms;
	stream_done(s, res);
}

/* A session that ends before its INVITE got a final response answers it now: no transaction
 * is left in Proceeding (the SRC would wait, and fail over, only on its own Timer B). */
static void answer_pending_invite(struct session *s, const char *reason)
{
	struct sip_msg *req;
	bool shutdown = strcmp(reason, "shutdown") == 0;

	if (!s->invite_txn || sip_txn_state(s->invite_txn) != SIP_TXN_PROCEEDING ||
	    sip_txn_request(s->invite_txn, &req) < 0)
		return;
	sipd_respond(s->ss->m, s->invite_txn, req, shutdown ? 503 : 500,
		     shutdown ? "Shutting Down" : NULL,
		     &(struct sip_response_args){.extra_headers =
							 shutdown ? "Retry-After: 5\r\n" : NULL});
}

static void session_end(struct session *s, const char *reason, bool bye)
{
	/* A session whose INVITE failed, or whose 2xx was never acknowledged (a spoofed
	 * INVITE), leaves no file behind unless media was recorded. */
	bool unconfirmed = s->state == SESSION_STARTING || s->state == SESSION_ANSWERED;
	/* Before its 2xx the INVITE's final answer is the error just sent: there is no dialog
	 * to end, and a BYE would only draw a 481 (RFC 3261 §15) that a stop waits for. */
	bool dialog = s->state != SESSION_STARTING;

	if (s->state == SESSION_ENDING)
		return;
	answer_pending_invite(s, reason);
	s->state = SESSION_ENDING;
	snprintf(s->end_reason, sizeof(s->end_reason), "%s", reason);
	if (bye && dialog)
		send_bye(s);
	for (unsigned i = 0; i < s->n_streams; i++) {
		if (unconfirmed && s->streams[i]->media)
			media_stream_discard(s->streams[i]->media);
		stream_close(s->streams[i]);
	}
	if (s->closing == 0)
		session_finalize(s);
}

static void stream_push_stats(struct session *s, struct stream *st, const char *state)
{
	struct media_stream_stats ms;
	char ssrcs[MEDIA_MAX_SSRCS * 9 + 1];

	media_stream_get_stats(st->media, &ms);
	catalog_stream_stats(s->ss->m->catalog,
			     &(struct catalog_stream_stats){
				     .session_uuid = s->uuid,
				     .label = st->label_raw,
				     .ssrcs = ssrcs_text(&ms, ssrcs, sizeof(ssrcs)),
				     .dropped_source = ms.dropped_source,
				     .dropped_limit = ms.dropped_limit,
				     .unnegotiated_pt = ms.unnegotiated_pt,
				     .dtmf_events = ms.dtmf_events,
				     .packets = ms.packets,
				     .bytes = ms.bytes,
				     .lost = ms.lost,
				     .duplicates = ms.duplicates,
				     .out_of_order = ms.out_of_order,
				     .srtp_auth_failures = ms.srtp_auth_failures,
				     .srtp_replays = ms.srtp_replays,
				     .state = state,
				     .first_packet_at = ms.first_packet_ms,
				     .last_packet_at = ms.last_packet_ms,
			     });
}

/*
 * Once a second: a stream that received nothing for RTP_TIMEOUT is marked idle (catalog and
 * log); the session is ended with a BYE only when RTP_TIMEOUT_ENDS_SESSION is set and every
 * stream that is not on hold is idle. Every few ticks the live counters go to the catalog.
 */
static void tick_fired(struct loop_timer *t)
{
	struct sessions *ss = container_of(t, struct sessions, tick);
	struct manager *m = ss->m;
	uint64_t now = now_unix_ms(), timeout = m->cfg->rtp_timeout_ms;
	uint64_t silence = m->cfg->session_silence_timeout_ms;
	bool push = ++ss->ticks % STATS_EVERY_TICKS == 0;
	struct session *s = ss->all;

	manager_disk_fault_check(m);

	while (s) {
		struct session *next = s->next;
		unsigned live = 0, idle = 0, silent = 0;

		for (unsigned i = 0; s->state != SESSION_ENDING && i < s->n_streams; i++) {
			struct stream *st = s->streams[i];
			struct media_stream_stats ms;
			uint64_t last;
			bool now_idle;

			if (!st->media || st->paused)
				continue;
			live++;
			media_stream_get_stats(st->media, &ms);
			last = MAX(ms.last_packet_ms,
				   st->quiet_since ? st->quiet_since : s->started_at);
			now_idle = timeout > 0 && now > last + timeout;
			idle += now_idle;
			silent += silence > 0 && now > last + silence;
			if (now_idle != st->idle) {
				st->idle = now_idle;
				log_info("session %s: stream %s %s", s->uuid, st->label_raw,
					 now_idle ? "idle (no RTP)" : "receiving again");
				stream_push_stats(s, st, now_idle ? "idle" : "active");
			} else if (push) {
				stream_push_stats(s, st, NULL);
			}
		}
		if (live > 0 && idle == live && m->cfg->rtp_timeout_bye &&
		    s->state == SESSION_CONFIRMED) {
			session_end(s, "rtp-timeout", true);
		} else if (s->state == SESSION_CONFIRMED && s->session_expires_s &&
			   now >= s->session_expires_at) {
			/* RFC 4028 §10: no refresh came in time. */
			log_notice("session %s: no session refresh within %u s: ending it", s->uuid,
				   s->session_expires_s);
			session_end(s, "session-expired", true);
		} else if (live > 0 && silent == live && s->state == SESSION_CONFIRMED &&
			   now > (s->last_request_at ? s->last_request_at : s->started_at) +
					   silence) {
			/* An SRC that vanished without a BYE; a held stream (paused) never counts
			 * as silent, so a long hold keeps its recording. */
			log_notice("session %s: no media and no request for %llu s: ending it",
				   s->uuid, (unsigned long long)(silence / 1000));
			session_end(s, "silence", true);
		}
		s = next;
	}
	if (ss->status_dirty) {
		ss->status_dirty = false;
		manager_update_status(m);
	}
	loop_timer_arm(m->loop, t, loop_now_ms(m->loop) + TICK_MS);
}

void sessions_shutdown(struct sessions *ss, void (*done)(struct manager *m))
{
	struct session *s = ss->all;

	ss->shutdown_done = done;
	while (s) {
		struct session *next = s->next;

		session_end(s, "shutdown", true);
		s = next;
	}
	shutdown_check(ss);
}

void sessions_free(struct sessions *ss)
{
	if (!ss)
		return;
	if (ss->stages.total.count) {
		struct setup_stages *g = &ss->stages;
		char a[96], b[96], c[96], d[96], e[96], f[96];

		/* bench/setup-rate.sh reads this line */
		log_info("setup stages: INVITE -> barrier queued %s; INVITE -> files created %s; "
			 "barrier queued -> durable %s; durable -> seen %s; last wait -> 200 %s; "
			 "INVITE -> 200 %s; media last %llu",
			 lat_hist_format(&g->prepare, a, sizeof(a)),
			 lat_hist_format(&g->media, b, sizeof(b)),
			 lat_hist_format(&g->barrier, c, sizeof(c)),
			 lat_hist_format(&g->post, d, sizeof(d)),
			 lat_hist_format(&g->last, e, sizeof(e)),
			 lat_hist_format(&g->total, f, sizeof(f)),
			 (unsigned long long)g->media_last);
	}
	loop_timer_disarm(ss->m->loop, &ss->tick);
	loop_timer_disarm(ss->m->loop, &ss->trying_timer);
	while (ss->byes)
		uac_bye_free(ss->byes);
	while (ss->all) {
		struct session *s = ss->all;

		session_unlink(s);
		session_free(s);
	}
	free(ss);
}

/* ---- read-only views for the control socket ---- */

struct session *sessions_next(struct sessions *ss, struct session *prev)
{
	return prev ? prev->next : ss->all;
}

struct session *sessions_find_uuid(struct sessions *ss, const char *uuid)
{
	for (struct session *s = ss->all; s; s = s->next)
		if (strcmp(s->uuid, uuid) == 0)
			return s;
	return NULL;
}

void session_get_info(const struct session *s, struct session_info *ret)
{
	static const char *const states[] = {
		[SESSION_STARTING] = "starting",
		[SESSION_ANSWERED] = "answered",
		[SESSION_CONFIRMED] = "confirmed",
		[SESSION_ENDING] = "ending",
	};

	*ret = (struct session_info){
		.uuid = s->uuid,
		.call_id = s->call_id,
		.peer = s->peer_str,
		.state = states[s->state],
		.siprec_session_id = s->md ? s->md->session_id : NULL,
		.transport = s->conn ? sip_transport_kind_name(sip_conn_kind(s->conn)) : "",
		.media_address = s->media_addr_str,
		.started_at_ms = s->started_at,
		.n_streams = s->n_streams,
		.md = s->md,
	};
}

int session_get_stream(struct session *s, unsigned i, struct session_stream_info *ret)
{
	const struct stream *st;

	if (i >= s->n_streams)
		return -ENOENT;
	st = s->streams[i];
	*ret = (struct session_stream_info){
		.label = st->label_raw,
		.recording_uuid = st->recording_uuid,
		.path = st->path ? st->path : "",
		.codec = st->codec,
		.participant_id = s->md ? participant_of(s, str_from_cstr(st->label_raw)) : NULL,
		.port = st->media ? media_stream_port(st->media) : 0,
		.clock_rate = st->clock_rate,
		.srtp = st->srtp,
		.paused = st->paused,
		.active = st->media != NULL,
	};
	if (st->media)
		media_stream_get_stats(st->media, &ret->stats);
	return 0;
}

const struct sessions_totals *sessions_get_totals(const struct sessions *ss)
{
	return &ss->totals;
}

const char *sessions_end_reason_name(unsigned i)
{
	return i < SESSIONS_END_REASONS ? end_reasons[i] : NULL;
}

int sessions_stop(struct sessions *ss, const char *uuid)
{
	struct session *s = sessions_find_uuid(ss, uuid);

	if (!s)
		return -ENOENT;
	if (s->state == SESSION_ENDING)
		return -EALREADY;
	session_end(s, "operator", true);
	return 0;
}
