// SPDX-License-Identifier: MIT
/*
 * The SIP server core: parses each message from the transports, validates requests (RFC 3261
 * §8.2), runs them through the server transaction layer, and routes new requests by method:
 * OPTIONS and INFO answered here, INVITE/ACK/BYE/CANCEL/UPDATE to the SIPREC session layer, others
 * 405 or 501. Unparseable requests get 400 with the reason when a response can be addressed, else
 * they are dropped and counted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "control/control.h"
#include "daemon/edge.h"
#include "daemon/manager.h"
#include "siprec/session.h"
#include "siprecd/audit.h"
#include "siprecd/catalog.h"
#include "siprecd/diskfault.h"
#include "siprecd/fds.h"
#include "siprecd/log.h"
#include "siprecd/sip.h"
#include "siprecd/sockaddr.h"
#include "siprecd/tls.h"
#include "siprecd/transport.h"

#define ALLOW_HDR "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO\r\n"
#define ACCEPT_HDR                                                                                 \
	"Accept: application/sdp, application/rs-metadata+xml, application/rs-metadata, "          \
	"multipart/mixed\r\n"
#define SUPPORTED_HDR "Supported: siprec, timer\r\n"

static const char *const supported_tags[] = {"siprec", "timer", NULL};
static const char *const accepted_types[] = {
	"application/sdp",
	"application/rs-metadata+xml",
	"application/rs-metadata",
	"multipart/mixed",
	NULL,
};

static struct sip_msg msgbuf; /* the SIP thread parses one message at a time */
static char respbuf[65536];

static int txn_send(void *conn, const struct sockaddr_storage *peer, const char *buf, size_t len)
{
	return sip_conn_send(conn, peer, buf, len);
}

static void txn_conn_ref(void *conn)
{
	sip_conn_ref(conn);
}

static void txn_conn_unref(void *conn)
{
	sip_conn_unref(conn);
}

static void txn_conn_owe(void *conn, int delta)
{
	sip_conn_owe(conn, delta);
}

static bool txn_conn_backlogged(void *conn)
{
	return sip_conn_backlogged(conn);
}

/*
 * The TU of an initial INVITE transaction is its session (sip_txn_set_tu in session_invite);
 * every other transaction has none. Timer H, CANCEL and the end of the transaction reach the
 * session through it, never through a Call-ID lookup: two sessions may share a Call-ID, and the
 * one a lookup returns need not be the one the transaction belongs to.
 */
static void txn_no_ack(struct sip_txn *t, void *userdata)
{
	struct session *s = sip_txn_get_tu(t);

	(void)userdata;
	if (s)
		session_no_ack(s);
}

static void txn_terminated(struct sip_txn *t, void *userdata)
{
	struct session *s = sip_txn_get_tu(t);

	(void)userdata;
	if (s)
		session_txn_terminated(s, t);
}

/* The TU sent no final response within 64*T1 (a lost event): answer 500 rather than leave the
 * client, and the transaction's slot, waiting forever. */
static void txn_stalled(struct sip_txn *t, void *userdata)
{
	struct manager *m = userdata;
	struct session *s = sip_txn_get_tu(t);
	struct sip_msg *req;

	log_ratelimited(LOG_WARNING, "SIP %s transaction got no final response in time",
			sip_method_name(sip_txn_method(t)));
	if (s)
		session_txn_stalled(s, t);
	if ((sip_txn_state(t) == SIP_TXN_TRYING || sip_txn_state(t) == SIP_TXN_PROCEEDING) &&
	    sip_txn_request(t, &req) == 0)
		sipd_respond(m, t, req, 500, NULL, NULL);
}

static const struct sip_txn_ops txn_ops = {
	.send = txn_send,
	.conn_ref = txn_conn_ref,
	.conn_unref = txn_conn_unref,
	.conn_owe = txn_conn_owe,
	.conn_backlogged = txn_conn_backlogged,
	.no_ack = txn_no_ack,
	.terminated = txn_terminated,
	.stalled = txn_stalled,
};

/* Builds and sends a response within txn. */
int sipd_respond(struct manager *m, struct sip_txn *txn, struct sip_msg *req, unsigned code,
		 const char *reason, const struct sip_response_args *args)
{
	struct sip_response_args a = {0};
	int n;

	if (args)
		a = *args;
	a.source = sip_txn_peer(txn);
	n = sip_response_build(respbuf, sizeof(respbuf), req, code, reason, &a);
	if (n < 0) {
		log_ratelimited(LOG_WARNING, "cannot build %u response: %s", code, strerror(-n));
		return n;
	}
	m->counters.responses_sent++;
	n = sip_txn_respond(txn, respbuf, (size_t)n, loop_now_ms(m->loop));
	sipd_run_timers(m);
	return n;
}

/* A response outside any transaction (the request could not enter one). */
static void respond_stateless(struct manager *m, struct sip_conn *conn,
			      const struct sockaddr_storage *peer, struct sip_msg *req,
			      unsigned code, const char *reason, const char *extra)
{
	struct sip_response_args a = {.source = peer, .extra_headers = extra};
	int n = sip_response_build(respbuf, sizeof(respbuf), req, code, reason, &a);

	if (n > 0) {
		m->counters.responses_sent++;
		sip_conn_send(conn, peer, respbuf, (size_t)n);
	}
}

static void txn_timer_fired(struct loop_timer *t)
{
	struct manager *m = container_of(t, struct manager, txn_timer);

	sip_txn_run_timers(m->txns, loop_now_ms(m->loop));
	sipd_run_timers(m);
}

void sipd_run_timers(struct manager *m)
{
	uint64_t d;

	if (!m->txns)
		return;
	d = sip_txn_next_deadline(m->txns);
	if (d == UINT64_MAX)
		loop_timer_disarm(m->loop, &m->txn_timer);
	else if (!loop_timer_armed(&m->txn_timer) || m->txn_timer.deadline_ms != d)
		loop_timer_arm(m->loop, &m->txn_timer, d);
}

/*
 * Whether new sessions are refused, and why: stopping, draining (siprecctl drain), or the
 * health report failing (disk below MIN_FREE_DISK_PERCENT, no data key, catalog closed...).
 * The health check is re-run at most once a second: an SBC pings with OPTIONS, maybe often.
 */
static const char *unavailable_reason(struct manager *m)
{
	static uint64_t checked_ms;
	static bool failing;
	uint64_t now = loop_now_ms(m->loop);
	const char *fault;

	if (m->stopping)
		return "Shutting Down";
	if (m->draining)
		return "Draining";
	if ((fault = disk_fault_reason_phrase()))
		return fault;
	if (!checked_ms || now - checked_ms >= 1000) {
		char why[128];

		checked_ms = now;
		failing = control_health_summary(m, why, sizeof(why)) == CONTROL_FAILING;
	}
	return failing ? "Unhealthy" : NULL;
}

/* An SBC or load balancer pings with OPTIONS (Kamailio's dispatcher, RFC 3261 §11): a 503
 * when this node would refuse a recording makes it fail over before a call is lost. */
static void handle_options(struct manager *m, struct sip_txn *txn, struct sip_msg *req)
{
	struct sip_response_args a = {.extra_headers = ALLOW_HDR ACCEPT_HDR SUPPORTED_HDR};
	char tag[SIP_TAG_LEN + 1], extra[256];
	const char *why = unavailable_reason(m);

	m->counters.options++;
	if (sip_tag_generate(tag, sizeof(tag)) == 0)
		a.to_tag = tag;
	if (why) {
		snprintf(extra, sizeof(extra), "%sRetry-After: %u\r\n", a.extra_headers,
			 m->stopping ? 5u : 30u);
		a.extra_headers = extra;
	}
	sipd_respond(m, txn, req, why ? 503 : 200, why, &a);
}

/*
 * MIN_FREE_DISK_PERCENT: the free space of the recording directory, checked at most once a
 * second (statvfs is cheap, INVITEs may not be), and at once after a recording write failed
 * (sipd_disk_recheck). True when a new recording may start; else
 * a disk-space-low audit event, at most one a minute with the count of INVITEs refused since.
 */
static uint64_t disk_checked_ms;

void sipd_disk_recheck(void)
{
	disk_checked_ms = 0;
}

static bool disk_space_ok(struct manager *m)
{
	static uint64_t last_event_ms, refused;
	uint64_t checked_ms = disk_checked_ms;
	static int pct = 100;
	uint64_t now = loop_now_ms(m->loop);
	struct statvfs sv;

	if (m->cfg->min_free_disk_percent == 0)
		return true;
	if (!checked_ms || now - checked_ms >= 1000) {
		disk_checked_ms = now;
		if (statvfs(m->cfg->recording_dir, &sv) < 0)
			pct = -1;
		else
			pct = sv.f_blocks ? (int)(sv.f_bavail * 100 / sv.f_blocks) : 100;
	}
	if (pct >= 0 && (uint64_t)pct >= m->cfg->min_free_disk_percent)
		return true;
	refused++;
	if (!last_event_ms || now - last_event_ms >= 60000) {
		char df[4200], ff[32], mf[40];
		const char *fields[] = {df, ff, mf, NULL};

		snprintf(df, sizeof(df), "RECORDING_DIR=%s", m->cfg->recording_dir);
		snprintf(ff, sizeof(ff), "FREE_PERCENT=%d", pct);
		snprintf(mf, sizeof(mf), "MIN_FREE_DISK_PERCENT=%llu",
			 (unsigned long long)m->cfg->min_free_disk_percent);
		audit_emit(AUDIT_DISK_SPACE_LOW, fields,
			   "disk space low on %s: %d%% free, below MIN_FREE_DISK_PERCENT=%llu; "
			   "%llu new session%s refused with 503",
			   m->cfg->recording_dir, pct,
			   (unsigned long long)m->cfg->min_free_disk_percent,
			   (unsigned long long)refused, refused == 1 ? "" : "s");
		last_event_ms = now;
		refused = 0;
	}
	return false;
}

/*
 * Builds "Unsupported: a, b\r\n" for the Require tags we do not implement (RFC 3261 §8.2.2.3)
 * into buf (n >= 32). Tags that do not fit are left out, never the closing CRLF: a peer's long
 * Require must not produce a header that runs into the next one.
 */
static void unsupported_header(struct sip_msg *req, char *buf, size_t n)
{
	static const char head[] = "Unsupported: ";
	struct str toks[16];
	int k = sip_msg_tokens(req, SIP_HDR_REQUIRE, toks, 16);
	size_t off = sizeof(head) - 1;
	bool first = true;

	memcpy(buf, head, off);
	for (int i = 0; i < k && i < 16; i++) {
		bool known = false;
		size_t need = toks[i].len + (first ? 0 : 2);

		for (size_t j = 0; supported_tags[j]; j++)
			known |= str_caseeq_cstr(toks[i], supported_tags[j]);
		if (known)
			continue;
		if (need + 3 > n - off) /* room for ", tag" and "\r\n\0" */
			break;
		if (!first) {
			memcpy(buf + off, ", ", 2);
			off += 2;
		}
		memcpy(buf + off, toks[i].s, toks[i].len);
		off += toks[i].len;
		first = false;
	}
	memcpy(buf + off, "\r\n", 3);
}

static void route_request(struct manager *m, struct sip_txn *txn, struct sip_msg *req,
			  struct sip_conn *conn, const struct sockaddr_storage *peer)
{
	const struct sip_name_addr *to = NULL, *from = NULL;
	struct str call_id = STR_NULL;
	struct session *s = NULL;
	unsigned long fd_limit = 0;
	const char *why;

	sip_msg_call_id(req, &call_id);
	if (sip_msg_to(req, &to) == 0 && to->tag.len > 0 && sip_msg_from(req, &from) == 0)
		s = sessions_find(m->sessions, call_id, to->tag, from->tag);

	switch (req->method) {
	case SIP_METHOD_OPTIONS:
		/* RFC 3261 §12.2.2: an in-dialog OPTIONS (an SRC's keepalive of the recording
		 * dialog) for a dialog we do not have is 481, so the SRC learns that this call is
		 * no longer recorded (we restarted, or ended it) instead of hearing 200. */
		if (to && to->tag.len > 0 && (!s || session_ending(s))) {
			m->counters.options++;
			sipd_respond(m, txn, req, 481, NULL, NULL);
			return;
		}
		handle_options(m, txn, req);
		return;
	case SIP_METHOD_INVITE:
		m->counters.invites++;
		if (to && to->tag.len > 0) {
			if (s)
				session_reinvite(s, txn, req);
			else
				sipd_respond(m, txn, req, 481, NULL, NULL);
			return;
		}
		if (m->stopping || m->draining) {
			sipd_respond(m, txn, req, 503, m->stopping ? "Shutting Down" : "Draining",
				     &(struct sip_response_args){.extra_headers =
									 "Retry-After: 30\r\n"});
			return;
		}
		/* A volume failing (I/O errors, shut down, read-only): the reason names it, so the
		 * SBC's operator sees which; the probe retries every second. */
		if ((why = disk_fault_reason_phrase())) {
			m->counters.sessions_refused++;
			sipd_respond(m, txn, req, 503, why,
				     &(struct sip_response_args){.extra_headers =
									 "Retry-After: 30\r\n"});
			return;
		}
		if (!disk_space_ok(m)) {
			m->counters.sessions_refused++;
			sipd_respond(m, txn, req, 503, "Disk Space Low",
				     &(struct sip_response_args){.extra_headers =
									 "Retry-After: 60\r\n"});
			return;
		}
		/* Back-pressure: a catalog thread that falls behind (a slow disk) refuses new
		 * sessions long before it would have to refuse rows. */
		if (m->catalog &&
		    catalog_queue_depth(m->catalog) >= CATALOG_QUEUE_MAX_OPS_DEFAULT / 2) {
			m->counters.sessions_refused++;
			log_ratelimited(LOG_WARNING,
					"catalog queue at %u operations: new sessions "
					"refused with 503",
					catalog_queue_depth(m->catalog));
			sipd_respond(m, txn, req, 503, "Catalog Busy",
				     &(struct sip_response_args){.extra_headers =
									 "Retry-After: 10\r\n"});
			return;
		}
		if (!fds_room(loop_now_ms(m->loop), &fd_limit)) {
			m->counters.sessions_refused++;
			log_ratelimited(LOG_WARNING,
					"open files near the limit (%lu): new sessions refused "
					"with 503",
					fd_limit);
			sipd_respond(m, txn, req, 503, "Too Many Open Files",
				     &(struct sip_response_args){.extra_headers =
									 "Retry-After: 10\r\n"});
			return;
		}
		if (!edge_admit_invite(m, txn, req, peer))
			return;
		session_invite(m->sessions, txn, req, conn, peer);
		return;
	case SIP_METHOD_BYE:
		m->counters.byes++;
		if (s)
			session_bye(s, txn, req);
		else
			sipd_respond(m, txn, req, 481, NULL, NULL);
		return;
	case SIP_METHOD_UPDATE:
		m->counters.updates++;
		if (s)
			session_update(s, txn, req);
		else
			sipd_respond(m, txn, req, 481, NULL, NULL);
		return;
	case SIP_METHOD_INFO:
		/* RFC 6086: an SBC relays DTMF (application/dtmf-relay) or keeps the dialog alive
		 * with INFO inside the recording dialog. A legacy INFO (no Info-Package, §2) is
		 * accepted and its body ignored (a relayed digit is not a failed request);
		 * an Info Package we never announced in Recv-Info gets 469 (§4.2.2), and a dialog
		 * we don't know 481 (RFC 3261 §12.2.2). */
		if (s && session_ending(s))
			sipd_respond(m, txn, req, 481, NULL, NULL);
		else if (s && sip_msg_header_by_name(req, "Info-Package"))
			sipd_respond(
				m, txn, req, 469, "Bad Info Package",
				&(struct sip_response_args){.extra_headers = "Recv-Info:\r\n"});
		else if (s)
			sipd_respond(m, txn, req, 200, NULL, NULL);
		else if (to && to->tag.len > 0)
			sipd_respond(m, txn, req, 481, NULL, NULL);
		else
			sipd_respond(m, txn, req, 405, NULL,
				     &(struct sip_response_args){.extra_headers = ALLOW_HDR});
		return;
	case SIP_METHOD_REGISTER:
	case SIP_METHOD_SUBSCRIBE:
	case SIP_METHOD_NOTIFY:
	case SIP_METHOD_REFER:
	case SIP_METHOD_MESSAGE:
	case SIP_METHOD_PUBLISH:
	case SIP_METHOD_PRACK: {
		struct sip_response_args a = {.extra_headers = ALLOW_HDR};

		m->counters.unsupported_methods++;
		sipd_respond(m, txn, req, 405, NULL, &a);
		return;
	}
	default: {
		struct sip_response_args a = {.extra_headers = ALLOW_HDR};

		m->counters.unsupported_methods++;
		sipd_respond(m, txn, req, 501, NULL, &a);
		return;
	}
	}
}

static void handle_cancel(struct manager *m, struct sip_txn *cancel, struct sip_msg *req)
{
	struct sip_txn *inv = sip_txn_cancel_target(cancel);
	struct sip_msg *inv_req = NULL;
	struct session *s;

	m->counters.cancels++;
	/* RFC 3261 §9.2: the CANCEL matches the INVITE server transaction by its top Via
	 * (branch, sent-by); 481 when none does; otherwise 200 to the CANCEL, and 487 to the
	 * INVITE if no final response was sent yet. */
	if (!inv) {
		sipd_respond(m, cancel, req, 481, NULL, NULL);
		return;
	}
	sipd_respond(m, cancel, req, 200, NULL, NULL);
	if (sip_txn_state(inv) != SIP_TXN_PROCEEDING || sip_txn_request(inv, &inv_req) < 0)
		return;
	sipd_respond(m, inv, inv_req, 487, NULL, NULL);
	/* Only an initial INVITE's session ends; a cancelled re-INVITE leaves the dialog as
	 * it was (RFC 3261 §9.2). */
	s = sip_txn_get_tu(inv);
	if (s)
		session_cancel(s);
}

/*
 * Answers status/reason to the request in buf whose parse failed before its headers could be
 * used, when its request line and the headers a response needs can be read
 * (sip_stream_frame_headers) and the answer is at most max_answer bytes. True if answered.
 * Overwrites msgbuf.
 */
static bool respond_from_headers(struct manager *m, struct sip_conn *conn,
				 const struct sockaddr_storage *peer, const char *buf, size_t len,
				 const struct sip_limits *lim, unsigned status, const char *reason,
				 size_t max_answer)
{
	size_t scratch_size = MIN(len, lim->max_msg_size) + 2;
	char *scratch = malloc(scratch_size);
	bool answered = false;

	if (scratch &&
	    sip_stream_frame_headers(buf, len, lim, scratch, scratch_size, &msgbuf) == 0) {
		struct sip_response_args a = {.source = peer};
		int n = sip_response_build(respbuf, sizeof(respbuf), &msgbuf, status, reason, &a);

		if (n > 0 && (size_t)n <= max_answer) {
			m->counters.responses_sent++;
			sip_conn_send(conn, peer, respbuf, (size_t)n);
			answered = true;
		}
	}
	free(scratch);
	return answered;
}

static void on_message(void *userdata, struct sip_conn *conn, const struct sockaddr_storage *peer,
		       char *buf, size_t len)
{
	struct manager *m = userdata;
	struct sip_msg *msg = &msgbuf;
	struct sip_limits lim = sip_limits_default;
	struct sip_txn *txn = NULL;
	const char *reason = NULL;
	char peerbuf[64];
	bool body_read;
	int r;

	lim.max_msg_size = m->cfg->max_message_size;
	r = sip_msg_parse_flags(msg, buf, len, &lim,
				sip_conn_reliable(conn) ? SIP_PARSE_STREAM : 0);
	if (r < 0) {
		unsigned status = sip_msg_error_status(msg) ?: 400;
		const char *why = sip_msg_error(msg);

		m->counters.parse_errors++;
		/* A request whose headers parsed can be answered (RFC 3261 §8.2), and so can one
		 * whose header section failed (too many headers, a bad line) when the headers a
		 * response needs can be read; anything else has nowhere to go. */
		if (msg->headers_ok && msg->is_request && msg->method != SIP_METHOD_ACK) {
			respond_stateless(m, conn, peer, msg, status, why, NULL);
		} else if (!msg->headers_ok && respond_from_headers(m, conn, peer, buf, len, &lim,
								    status, why, SIZE_MAX)) {
			log_ratelimited(
				LOG_NOTICE, "unparseable SIP request from %s: %s (answered %u)",
				sockaddr_to_string(peer, peerbuf, sizeof(peerbuf)), why, status);
		} else {
			m->counters.dropped_unparseable++;
			log_ratelimited(LOG_NOTICE, "dropped unparseable SIP message from %s: %s",
					sockaddr_to_string(peer, peerbuf, sizeof(peerbuf)),
					sip_msg_error(msg));
		}
		return;
	}
	if (!msg->is_request) {
		sessions_response(m->sessions, msg);
		return;
	}
	m->counters.requests++;
	/* RFC 3261 §8.2: the method is inspected before the body, so a body type is refused
	 * (415) only on the requests whose body siprecd reads or may; an INFO's (DTMF relay) or
	 * a refused method's is not ours to understand. */
	body_read = msg->method == SIP_METHOD_INVITE || msg->method == SIP_METHOD_UPDATE ||
		    msg->method == SIP_METHOD_BYE || msg->method == SIP_METHOD_OPTIONS;
	r = sip_msg_validate_request(
		msg,
		&(struct sip_validate_opts){.supported = supported_tags,
					    .accept = body_read ? accepted_types : NULL},
		&reason);
	if (r > 0 && msg->method != SIP_METHOD_ACK) {
		char extra[256] = "";

		if (r == 420)
			unsupported_header(msg, extra, sizeof(extra));
		else if (r == 415)
			snprintf(extra, sizeof(extra), ACCEPT_HDR "Accept-Encoding: identity\r\n");
		if (sip_txn_receive(m->txns, msg, conn, peer, sip_conn_reliable(conn),
				    loop_now_ms(m->loop), &txn) == SIP_TXN_NEW)
			sipd_respond(m, txn, msg, (unsigned)r, reason,
				     &(struct sip_response_args){.extra_headers = extra});
		else if (!txn)
			respond_stateless(m, conn, peer, msg, (unsigned)r, reason, extra);
		return;
	}
	if (r > 0)
		return; /* an invalid ACK gets no response */
	r = sip_txn_receive(m->txns, msg, conn, peer, sip_conn_reliable(conn), loop_now_ms(m->loop),
			    &txn);
	if (r == -EBUSY) {
		respond_stateless(m, conn, peer, msg, 503, "Transaction Limit",
				  "Retry-After: 5\r\n");
		return;
	}
	if (r < 0) {
		m->counters.parse_errors++;
		respond_stateless(m, conn, peer, msg, 400, "Bad Transaction Headers", NULL);
		return;
	}
	switch (r) {
	case SIP_TXN_NEW:
		route_request(m, txn, msg, conn, peer);
		break;
	case SIP_TXN_ABSORBED:
		break;
	case SIP_TXN_CANCEL:
		handle_cancel(m, txn, msg);
		break;
	case SIP_TXN_ACK_2XX:
	case SIP_TXN_ACK_STRAY: {
		const struct sip_name_addr *to, *from;
		struct str call_id;
		struct session *s = NULL;

		if (sip_msg_call_id(msg, &call_id) == 0 && sip_msg_to(msg, &to) == 0 &&
		    sip_msg_from(msg, &from) == 0)
			s = sessions_find(m->sessions, call_id, to->tag, from->tag);
		if (s)
			session_ack(s, msg);
		break;
	}
	}
	sipd_run_timers(m);
}

/*
 * A TCP/TLS message that cannot be framed (RFC 3261 §18.3): answered 400 or 513 with a reason
 * naming the problem (§21.4.1, §21.5.14) when its request line and the headers a response needs
 * could be read, else only logged. Either way the transport reads nothing more and closes the
 * connection once the answer is out.
 */
static void on_framing_error(void *userdata, struct sip_conn *conn, int error, const char *buf,
			     size_t len)
{
	struct manager *m = userdata;
	struct sip_limits lim = sip_limits_default;
	const char *reason = error == -EMSGSIZE ? "Message Too Large" : "Bad Request";
	unsigned status = error == -EMSGSIZE ? 513 : 400;
	char p[64];
	bool answered;

	lim.max_msg_size = m->cfg->max_message_size;
	m->counters.parse_errors++;
	if (len > 0) {
		unsigned st = sip_stream_frame_status(buf, len, &lim, &reason);

		if (st)
			status = st;
	}
	answered = respond_from_headers(m, conn, sip_conn_peer(conn), buf, len, &lim, status,
					reason, SIZE_MAX);
	log_ratelimited(LOG_NOTICE, "closing SIP %s connection from %s: %s%s",
			sip_transport_kind_name(sip_conn_kind(conn)),
			sockaddr_to_string(sip_conn_peer(conn), p, sizeof(p)), reason,
			answered ? (status == 513 ? " (answered 513)" : " (answered 400)") : "");
}

/*
 * A UDP datagram over MAX_MESSAGE_SIZE, of which buf holds the first len bytes (the receive
 * buffer's size; the rest is lost): answered 513 (RFC 3261 §21.5.14, §18.1.1) from the request
 * line and the Via, From, To, Call-ID and CSeq fields whole within those bytes, to the
 * datagram's source as every UDP answer. An answer longer than MAX_MESSAGE_SIZE is not sent,
 * so it is always smaller than the datagram: no amplifier for a forged source. Nothing else of
 * the datagram is read.
 */
static void on_datagram_oversize(void *userdata, struct sip_conn *conn,
				 const struct sockaddr_storage *peer, const char *buf, size_t len)
{
	struct manager *m = userdata;
	struct sip_limits lim = sip_limits_default;
	char p[64];
	bool answered;

	lim.max_msg_size = m->cfg->max_message_size;
	m->counters.parse_errors++;
	answered = respond_from_headers(m, conn, peer, buf, len, &lim, 513, "Message Too Large",
					MIN(len, lim.max_msg_size));
	if (!answered)
		m->counters.dropped_unparseable++;
	log_ratelimited(LOG_NOTICE, "SIP udp datagram from %s over MAX_MESSAGE_SIZE=%u%s",
			sockaddr_to_string(peer, p, sizeof(p)), m->cfg->max_message_size,
			answered ? " (answered 513)" : ": dropped");
}

static void on_tls_failed(void *userdata, const struct sockaddr_storage *peer, const char *reason,
			  bool cert_refused)
{
	char p[64], pf[80];
	const char *fields[] = {pf, NULL};

	sockaddr_to_string(peer, p, sizeof(p));
	snprintf(pf, sizeof(pf), "PEER=%s", p);
	if (tls_error_is_revoked(reason)) {
		char rf[600];
		const char *rfields[] = {pf, rf, NULL};

		snprintf(rf, sizeof(rf), "REASON=%s", reason);
		audit_emit(AUDIT_CERTIFICATE_REVOKED, rfields,
			   "TLS client certificate revoked: %s: %s", p, reason);
		return;
	}
	audit_emit(cert_refused ? AUDIT_CLIENT_CERT_REFUSED : AUDIT_TLS_HANDSHAKE_FAILED, fields,
		   "TLS %s from %s: %s",
		   cert_refused ? "client certificate refused" : "handshake failed", p,
		   reason ? reason : "?");
}

const struct sip_transport_handler sipd_transport_handler = {
	.message = on_message,
	.framing_error = on_framing_error,
	.datagram_oversize = on_datagram_oversize,
	.tls_failed = on_tls_failed,
	.refused = edge_refused,
};

int sipd_init(struct manager *m)
{
	int r = sip_txn_table_new(&txn_ops, m, m->cfg->max_sessions * 4 + 1024, &m->txns);

	if (r < 0) {
		log_error("SIP transaction table: %s", strerror(-r));
		return r;
	}
	m->txn_timer.fn = txn_timer_fired;
	return 0;
}

void sipd_done(struct manager *m)
{
	if (m->loop)
		loop_timer_disarm(m->loop, &m->txn_timer);
	m->txns = sip_txn_table_free(m->txns);
}
