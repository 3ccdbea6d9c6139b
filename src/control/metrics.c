// SPDX-License-Identifier: MIT
/*
 * Prometheus metrics: the text exposition format 0.0.4 (HELP and TYPE for every family, names
 * siprecd_* with their unit) and a minimal HTTP/1.1 listener on the SIP loop that serves
 * GET /metrics and GET /health (JSON, 200 or 503), one request per connection.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "control/control.h"
#include "daemon/manager.h"
#include "siprecd/macro.h"
#include "siprec/session.h"
#include "siprecd/catalog.h"
#include "siprecd/log.h"
#include "siprecd/s3.h"
#include "siprecd/sip.h"
#include "siprecd/storage.h"
#include "siprecd/tls.h"
#include "siprecd/transport.h"

#define HTTP_REQUEST_MAX 8192
#define HTTP_CONNECTIONS_MAX 16
/* Dropped connections whose last completion has not arrived yet: a burst of accepts is handled
 * before the completions of the connections it evicts (about 8 KiB each). */
#define HTTP_CLOSING_MAX 256

/* ---- exposition ---- */

struct out {
	char *buf;
	size_t len, cap;
	bool oom;
};

static void outf(struct out *o, const char *fmt, ...) _printf_(2, 3);

static void outf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->oom = true;
			return;
		}
		if ((size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		size_t cap = o->cap * 2 + (size_t)n + 1;
		char *b = realloc(o->buf, cap);

		if (!b) {
			o->oom = true;
			return;
		}
		o->buf = b;
		o->cap = cap;
	}
}

static void family(struct out *o, const char *name, const char *type, const char *help)
{
	outf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(struct out *o, const char *name, const char *type, const char *help, double v)
{
	family(o, name, type, help);
	outf(o, "%s %.17g\n", name, v);
}

/* Prometheus-style histogram buckets in seconds for the durable-write latency. */
static const double lat_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
				    0.05,   0.1,   0.25,   0.5,	  1,	2.5};

/* Object storage (docs/STORAGE.md), when S3_ENDPOINT is set. */
static void metrics_s3(struct out *o)
{
	struct s3_upload_stats s;
	struct timespec now;
	double age = 0;

	if (s3_upload_get_stats(&s) < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	if (s.oldest_pending_ms && (uint64_t)now.tv_sec * 1000 > s.oldest_pending_ms)
		age = ((double)now.tv_sec * 1000 - (double)s.oldest_pending_ms) / 1000;
	family(o, "siprecd_s3_uploads_total", "counter",
	       "Recording uploads to object storage, by result (verified, failed attempts).");
	outf(o, "siprecd_s3_uploads_total{result=\"verified\"} %llu\n",
	     (unsigned long long)s.verified);
	outf(o, "siprecd_s3_uploads_total{result=\"failed\"} %llu\n", (unsigned long long)s.failed);
	one(o, "siprecd_s3_uploads_pending", "gauge", "Recordings waiting for their upload.",
	    (double)s.pending);
	one(o, "siprecd_s3_oldest_pending_seconds", "gauge",
	    "Age of the oldest recording waiting for its upload (0: none).", age);
	one(o, "siprecd_s3_local_files_removed_total", "counter",
	    "Local recording files removed after a verified upload (S3_DELETE_LOCAL_AFTER).",
	    (double)s.local_removed);
	one(o, "siprecd_s3_objects_deleted_total", "counter",
	    "Recordings whose objects were deleted from the bucket (retention, erasure).",
	    (double)s.objects_deleted);
}

char *control_metrics_render(struct manager *m, size_t *ret_len)
{
	struct out o = {.cap = 16384};
	struct media_stream_stats live = {0};
	const struct sessions_totals *t = NULL;
	struct sessions_totals zero = {0};
	struct sip_transport_stats ts = {0};
	struct catalog_stats cs = {0};
	unsigned calls = 0, streams = 0;
	enum control_health h;

	o.buf = malloc(o.cap);
	if (!o.buf)
		return NULL;
	o.buf[0] = '\0';
	if (m->sessions) {
		sessions_count(m->sessions, &calls, &streams);
		t = sessions_get_totals(m->sessions);
		/* Live streams add to the counters of finished ones: monotonic while calls run. */
		for (struct session *s = sessions_next(m->sessions, NULL); s;
		     s = sessions_next(m->sessions, s)) {
			struct session_info in;

			session_get_info(s, &in);
			for (unsigned i = 0; i < in.n_streams; i++) {
				struct session_stream_info si;

				if (session_get_stream(s, i, &si) < 0 || !si.active)
					continue;
				live.packets += si.stats.packets;
				live.bytes += si.stats.bytes;
				live.lost += si.stats.lost;
				live.srtp_auth_failures += si.stats.srtp_auth_failures;
				live.srtp_replays += si.stats.srtp_replays;
				live.dropped_source += si.stats.dropped_source;
				live.dropped_limit += si.stats.dropped_limit;
				live.unnegotiated_pt += si.stats.unnegotiated_pt;
				live.dtmf_events += si.stats.dtmf_events;
			}
		}
	}
	if (!t)
		t = &zero;
	if (m->transport)
		sip_transport_get_stats(m->transport, &ts);
	if (m->catalog)
		catalog_get_stats(m->catalog, &cs);
	h = control_health_check(m, NULL);

	family(&o, "siprecd_up", "gauge", "Health: 1 healthy, 0.5 degraded, 0 failing.");
	outf(&o, "siprecd_up %g\n", h == CONTROL_HEALTHY ? 1 : h == CONTROL_DEGRADED ? 0.5 : 0);
	family(&o, "siprecd_build_info", "gauge", "Version and libsrtp2 backend, value 1.");
	outf(&o, "siprecd_build_info{version=\"%s\",srtp_backend=\"%s\"} 1\n", SIPRECD_VERSION,
	     SIPRECD_SRTP_BACKEND);
	one(&o, "siprecd_calls_active", "gauge", "Recording sessions in progress.", calls);
	family(&o, "siprecd_calls_total", "counter",
	       "Recording sessions ended, by end reason (bye, cancel, refused, ...).");
	for (unsigned i = 0; sessions_end_reason_name(i); i++)
		outf(&o, "siprecd_calls_total{result=\"%s\"} %llu\n", sessions_end_reason_name(i),
		     (unsigned long long)t->ended[i]);
	one(&o, "siprecd_calls_started_total", "counter", "Recording sessions answered with 200.",
	    (double)m->counters.sessions_total);
	one(&o, "siprecd_streams_active", "gauge", "Media streams being recorded.", streams);
	one(&o, "siprecd_rtp_packets_received_total", "counter",
	    "RTP packets received on media streams.", (double)(t->packets + live.packets));
	one(&o, "siprecd_rtp_bytes_received_total", "counter",
	    "RTP payload bytes received on media streams.", (double)(t->bytes + live.bytes));
	one(&o, "siprecd_rtp_packets_lost_total", "counter",
	    "RTP packets lost (sequence gaps never filled).", (double)(t->lost + live.lost));
	one(&o, "siprecd_srtp_auth_failures_total", "counter",
	    "SRTP packets that failed authentication.",
	    (double)(t->srtp_auth_failures + live.srtp_auth_failures));
	one(&o, "siprecd_srtp_replays_total", "counter", "SRTP packets refused as replays.",
	    (double)(t->srtp_replays + live.srtp_replays));
	family(&o, "siprecd_rtp_packets_dropped_total", "counter",
	       "Media packets not recorded: from another source than the stream latched to "
	       "(MEDIA_LATCH), or over the per-stream caps (MEDIA_MAX_STREAM_*).");
	outf(&o, "siprecd_rtp_packets_dropped_total{reason=\"source\"} %llu\n",
	     (unsigned long long)(t->dropped_source + live.dropped_source));
	outf(&o, "siprecd_rtp_packets_dropped_total{reason=\"limit\"} %llu\n",
	     (unsigned long long)(t->dropped_limit + live.dropped_limit));
	one(&o, "siprecd_rtp_unnegotiated_pt_total", "counter",
	    "RTP packets whose payload type was not on the offered m= line (recorded).",
	    (double)(t->unnegotiated_pt + live.unnegotiated_pt));
	one(&o, "siprecd_dtmf_events_total", "counter",
	    "RFC 4733 telephone-events (DTMF digits) received.",
	    (double)(t->dtmf_events + live.dtmf_events));
	one(&o, "siprecd_recording_bytes_written_total", "counter",
	    "Bytes of finalized recording files.", (double)t->recording_bytes);
	one(&o, "siprecd_recording_chunks_sealed_total", "counter",
	    "AEAD seal operations (chunks) of finalized recordings.", (double)t->chunks_sealed);
	one(&o, "siprecd_recording_frames_total", "counter",
	    "Frames (RTP, RTCP, events) in finalized recordings.", (double)t->frames_recorded);
	family(&o, "siprecd_recordings_finalized_total", "counter",
	       "Recordings closed, by whether the final chunk is durable.");
	outf(&o, "siprecd_recordings_finalized_total{complete=\"true\"} %llu\n",
	     (unsigned long long)t->recordings_complete);
	outf(&o, "siprecd_recordings_finalized_total{complete=\"false\"} %llu\n",
	     (unsigned long long)t->recordings_incomplete);
	one(&o, "siprecd_recording_write_errors_total", "counter",
	    "Recordings that ended with a write (O_DIRECT or fdatasync) error.",
	    (double)t->recording_errors);

	/* A histogram of each finished recording's p99 time from seal to durable (the writer's
	 * own histogram stays on its media worker). */
	family(&o, "siprecd_recording_durable_p99_seconds", "histogram",
	       "Per recording, the 99th percentile of chunk seal-to-durable (write+fdatasync) "
	       "latency.");
	{
		uint64_t cum = 0;
		unsigned b = 0;

		for (size_t i = 0; i < ARRAY_SIZE(lat_bounds); i++) {
			while (b < STORE_LAT_BUCKETS &&
			       (double)store_lat_bucket_upper_us(b) / 1e6 <= lat_bounds[i] + 1e-12)
				cum += t->p99_hist[b++];
			outf(&o, "siprecd_recording_durable_p99_seconds_bucket{le=\"%g\"} %llu\n",
			     lat_bounds[i], (unsigned long long)cum);
		}
		outf(&o, "siprecd_recording_durable_p99_seconds_bucket{le=\"+Inf\"} %llu\n",
		     (unsigned long long)t->p99_count);
		outf(&o, "siprecd_recording_durable_p99_seconds_sum %.6f\n",
		     (double)t->p99_sum_us / 1e6);
		outf(&o, "siprecd_recording_durable_p99_seconds_count %llu\n",
		     (unsigned long long)t->p99_count);
	}

	one(&o, "siprecd_catalog_queue_depth", "gauge", "Catalog writes queued for the thread.",
	    cs.queue_depth);
	one(&o, "siprecd_catalog_writes_applied_total", "counter", "Catalog writes committed.",
	    (double)cs.applied);
	one(&o, "siprecd_catalog_writes_failed_total", "counter", "Catalog writes that failed.",
	    (double)cs.failed);
	one(&o, "siprecd_catalog_writes_dropped_total", "counter",
	    "Catalog writes dropped because the queue was full.", (double)cs.dropped);
	metrics_s3(&o);

	one(&o, "siprecd_sip_requests_total", "counter", "SIP requests received.",
	    (double)m->counters.requests);
	one(&o, "siprecd_sip_parse_errors_total", "counter", "SIP messages that did not parse.",
	    (double)m->counters.parse_errors);
	one(&o, "siprecd_sip_connections", "gauge", "Open SIP TCP/TLS connections.",
	    ts.connections);
	/* The SIP edge protections (docs/SECURITY.md), one series per reason. */
	family(&o, "siprecd_sip_refused_total", "counter",
	       "SIP peers, connections or INVITEs turned away by an edge protection, by reason.");
	{
		const struct {
			const char *reason;
			uint64_t n;
		} rs[] = {
			{"acl", ts.acl_refused},
			{"connection_limit", ts.tcp_refused_limit},
			{"source_connection_limit", ts.source_limit_refused},
			{"send_queue", ts.send_queue_overflows},
			{"send_stalled", ts.send_stalled},
			{"message_timeout", ts.message_timeouts},
			{"invite_rate", m->counters.invites_rate_limited},
			{"source_session_limit", m->counters.sessions_source_limited},
			{"auth_failed", m->counters.auth_failed},
		};

		for (size_t i = 0; i < ARRAY_SIZE(rs); i++)
			outf(&o, "siprecd_sip_refused_total{reason=\"%s\"} %llu\n", rs[i].reason,
			     (unsigned long long)rs[i].n);
	}
	one(&o, "siprecd_sip_throttled_connections", "gauge",
	    "TCP/TLS connections not read now because their send queue is over half a "
	    "MAX_SEND_QUEUE* cap (the peer reads its responses slower than it sends requests).",
	    ts.throttled);
	one(&o, "siprecd_sip_throttled_total", "counter",
	    "Times a TCP/TLS connection stopped being read for its send queue.",
	    (double)ts.send_throttled);
	one(&o, "siprecd_sip_accept_deferred_total", "counter",
	    "TCP/TLS accepts that failed for want of descriptors or memory (the listener waits "
	    "100 ms, then accepts again).",
	    (double)ts.accept_deferred);
	one(&o, "siprecd_sip_auth_challenges_total", "counter",
	    "INVITEs answered 401 for missing or stale digest credentials.",
	    (double)m->counters.auth_challenged);
	if (m->txns) {
		static const char *const names[] = {
			[SIP_TXN_TRYING] = "trying",	   [SIP_TXN_PROCEEDING] = "proceeding",
			[SIP_TXN_ACCEPTED] = "accepted",   [SIP_TXN_COMPLETED] = "completed",
			[SIP_TXN_CONFIRMED] = "confirmed",
		};
		struct sip_txn_stats xs;

		sip_txn_table_get_stats(m->txns, &xs);
		family(&o, "siprecd_sip_transactions", "gauge",
		       "Live SIP server transactions by state (RFC 3261 17.2, RFC 6026).");
		for (unsigned i = 0; i < SIP_TXN_TERMINATED; i++)
			outf(&o, "siprecd_sip_transactions{state=\"%s\"} %u\n", names[i],
			     xs.by_state[i]);
		one(&o, "siprecd_sip_transactions_stalled_total", "counter",
		    "Server transactions the daemon gave no final response within 64*T1 (a bug).",
		    (double)xs.stalled);
		one(&o, "siprecd_sip_transactions_evicted_total", "counter",
		    "Lingering server transactions (acknowledged or answered, absorbing "
		    "retransmissions until their timer) ended early to make room for new requests.",
		    (double)xs.evicted);
	}
	family(&o, "siprecd_tls_handshakes_total", "counter", "TLS handshakes by result.");
	outf(&o, "siprecd_tls_handshakes_total{result=\"ok\"} %llu\n",
	     (unsigned long long)ts.tls_handshakes_ok);
	outf(&o, "siprecd_tls_handshakes_total{result=\"failed\"} %llu\n",
	     (unsigned long long)ts.tls_handshakes_failed);
	outf(&o, "siprecd_tls_handshakes_total{result=\"timeout\"} %llu\n",
	     (unsigned long long)ts.tls_handshake_timeouts);
	family(&o, "siprecd_tls_handshakes_by_version_total", "counter",
	       "Successful TLS handshakes by protocol version.");
	outf(&o, "siprecd_tls_handshakes_by_version_total{version=\"TLSv1.2\"} %llu\n",
	     (unsigned long long)ts.tls12_handshakes);
	outf(&o, "siprecd_tls_handshakes_by_version_total{version=\"TLSv1.3\"} %llu\n",
	     (unsigned long long)ts.tls13_handshakes);
	family(&o, "siprecd_ktls_connections_total", "counter",
	       "TLS connections whose record layer went to kernel TLS, by direction.");
	outf(&o, "siprecd_ktls_connections_total{mode=\"tx\"} %llu\n",
	     (unsigned long long)ts.tls_ktls_tx);
	outf(&o, "siprecd_ktls_connections_total{mode=\"rx\"} %llu\n",
	     (unsigned long long)ts.tls_ktls_rx);
	if (m->tls) {
		int64_t exp = tls_server_ctx_cert_expiry(m->tls);

		if (exp >= 0)
			one(&o, "siprecd_tls_certificate_expiry_timestamp_seconds", "gauge",
			    "notAfter of the served certificate, unix seconds.", (double)exp);
	}
	one(&o, "siprecd_control_calls_total", "counter", "Varlink calls handled.",
	    (double)m->counters.control_calls);
	if (o.oom) {
		free(o.buf);
		return NULL;
	}
	*ret_len = o.len;
	return o.buf;
}

/* ---- HTTP listener ----
 *
 * One request per connection, answered from the loop. What a peer can hold: at most
 * HTTP_CONNECTIONS_MAX connections at once, each for at most METRICS_REQUEST_TIMEOUT from accept
 * to the last byte of the answer. When every slot is taken, the oldest connection still sending
 * its request is dropped for the new one, so sockets that never speak cannot keep a scraper or a
 * load balancer's /health probe out. A connection is closed by shutdown(2): its pending recv or
 * send completes and the completion frees it (the loop never frees an object with a request in
 * flight). */

struct http_conn {
	struct metrics *srv;
	struct http_conn *next, *prev; /* srv->conns, oldest first */
	int fd;
	struct loop_op op;
	struct loop_timer deadline;
	bool closing;	/* shut down, waiting for its request to complete */
	bool answering; /* the request was read; the answer is being sent */
	size_t rlen;
	char rbuf[HTTP_REQUEST_MAX];
	char *resp;
	size_t resp_len, resp_off;
};

struct metrics {
	struct manager *m;
	int fd;
	struct loop_op accept_op;
	struct loop_timer accept_retry; /* out of descriptors: accept again later */
	bool accepting;			/* the multishot accept is in flight */
	bool retired;		  /* replaced by a reload: freed once its last request completes */
	unsigned n_conns, n_open; /* all, and those not closing */
	struct http_conn *conns, *conns_tail;
	struct metrics *next_retired;
};

/* Listeners a reload replaced, still finishing (SIP thread only). */
static struct metrics *retired_list;

static void metrics_free(struct metrics *srv)
{
	struct metrics **p;

	loop_timer_disarm(srv->m->loop, &srv->accept_retry);
	for (p = &retired_list; *p; p = &(*p)->next_retired)
		if (*p == srv) {
			*p = srv->next_retired;
			break;
		}
	if (srv->fd >= 0)
		close(srv->fd);
	free(srv);
}

static void metrics_maybe_free(struct metrics *srv)
{
	if (srv->retired && !srv->accepting && srv->n_conns == 0)
		metrics_free(srv);
}

static void http_close(struct http_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	c->srv->n_open--;
	shutdown(c->fd, SHUT_RDWR);
}

static void http_free(struct http_conn *c)
{
	struct metrics *srv = c->srv;

	loop_timer_disarm(srv->m->loop, &c->deadline);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		srv->conns_tail = c->prev;
	srv->n_conns--;
	if (!c->closing)
		srv->n_open--;
	close(c->fd);
	free(c->resp);
	free(c);
	metrics_maybe_free(srv);
}

static void http_deadline(struct loop_timer *t)
{
	struct http_conn *c = container_of(t, struct http_conn, deadline);

	log_debug("metrics: request not completed within METRICS_REQUEST_TIMEOUT, closing");
	http_close(c);
}
static void http_send_done(struct loop_op *op, int res, uint32_t flags);

static void http_send_more(struct http_conn *c)
{
	struct io_uring_sqe *sqe = loop_sqe(c->srv->m->loop, &c->op);

	if (!sqe) {
		http_free(c);
		return;
	}
	c->op.fn = http_send_done;
	io_uring_prep_send(sqe, c->fd, c->resp + c->resp_off, c->resp_len - c->resp_off,
			   MSG_NOSIGNAL);
}

static void http_send_done(struct loop_op *op, int res, uint32_t flags)
{
	struct http_conn *c = container_of(op, struct http_conn, op);

	if (res <= 0) {
		http_free(c);
		return;
	}
	c->resp_off += (size_t)res;
	if (c->resp_off < c->resp_len) {
		http_send_more(c);
		return;
	}
	http_free(c);
}

static void http_respond(struct http_conn *c, unsigned code, const char *reason, const char *ctype,
			 const char *body, size_t body_len)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %u %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
			 code, reason, ctype, body_len);

	c->resp = malloc((size_t)n + body_len);
	if (!c->resp) {
		http_free(c);
		return;
	}
	memcpy(c->resp, head, (size_t)n);
	memcpy(c->resp + n, body, body_len);
	c->resp_len = (size_t)n + body_len;
	c->resp_off = 0;
	http_send_more(c);
}

static void http_handle(struct http_conn *c)
{
	struct manager *m = c->srv->m;
	char method[8], path[256];
	const char *sp1, *sp2;
	size_t ml, pl;

	sp1 = memchr(c->rbuf, ' ', c->rlen);
	sp2 = sp1 ? memchr(sp1 + 1, ' ', c->rlen - (size_t)(sp1 + 1 - c->rbuf)) : NULL;
	if (!sp1 || !sp2 || (ml = (size_t)(sp1 - c->rbuf)) >= sizeof(method) ||
	    (pl = (size_t)(sp2 - sp1 - 1)) >= sizeof(path) || strncmp(sp2 + 1, "HTTP/1.", 7) != 0) {
		http_respond(c, 400, "Bad Request", "text/plain", "bad request\n", 12);
		return;
	}
	memcpy(method, c->rbuf, ml);
	method[ml] = '\0';
	memcpy(path, sp1 + 1, pl);
	path[pl] = '\0';
	/* The query string does not select anything here. */
	path[strcspn(path, "?")] = '\0';
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		http_respond(c, 405, "Method Not Allowed", "text/plain", "GET only\n", 9);
		return;
	}
	if (strcmp(path, "/metrics") == 0) {
		size_t len = 0;
		char *body = control_metrics_render(m, &len);

		if (!body) {
			http_respond(c, 500, "Internal Server Error", "text/plain", "no memory\n",
				     10);
			return;
		}
		http_respond(c, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", body,
			     method[0] == 'H' ? 0 : len);
		free(body);
	} else if (strcmp(path, "/health") == 0) {
		/* Whoever reaches this port learns the state and which checks are not healthy,
		 * never their messages (paths, key ids): those are for the control socket. */
		char reason[256], body[512];
		enum control_health h = control_health_summary(m, reason, sizeof(reason));
		struct json_object *o = json_object_new_object();
		size_t len = 0;

		if (o) {
			json_object_object_add(o, "status",
					       json_object_new_string(control_health_name(h)));
			if (reason[0])
				json_object_object_add(o, "reason", json_object_new_string(reason));
			len = (size_t)snprintf(body, sizeof(body), "%s\n",
					       json_object_to_json_string_ext(
						       o, JSON_C_TO_STRING_PLAIN |
								  JSON_C_TO_STRING_NOSLASHESCAPE));
			json_object_put(o);
		}
		if (!o || len >= sizeof(body)) {
			http_respond(c, 500, "Internal Server Error", "text/plain", "no memory\n",
				     10);
			return;
		}
		if (h == CONTROL_FAILING)
			http_respond(c, 503, "Service Unavailable", "application/json", body,
				     method[0] == 'H' ? 0 : len);
		else
			http_respond(c, 200, "OK", "application/json", body,
				     method[0] == 'H' ? 0 : len);
	} else {
		http_respond(c, 404, "Not Found", "text/plain",
			     "not found: try /metrics or /health\n", 35);
	}
}

static void http_recv_done(struct loop_op *op, int res, uint32_t flags)
{
	struct http_conn *c = container_of(op, struct http_conn, op);
	struct io_uring_sqe *sqe;

	if (res <= 0 || c->closing) {
		http_free(c);
		return;
	}
	c->rlen += (size_t)res;
	if (memmem(c->rbuf, c->rlen, "\r\n\r\n", 4) || memmem(c->rbuf, c->rlen, "\n\n", 2)) {
		c->answering = true;
		http_handle(c);
		return;
	}
	if (c->rlen >= sizeof(c->rbuf)) {
		http_respond(c, 431, "Request Header Fields Too Large", "text/plain",
			     "request too large\n", 18);
		return;
	}
	sqe = loop_sqe(c->srv->m->loop, &c->op);
	if (!sqe) {
		http_free(c);
		return;
	}
	io_uring_prep_recv(sqe, c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen, 0);
}

static void metrics_accept_arm(struct metrics *srv);

/* Makes room for one more connection: drops the oldest one still sending its request. */
static bool http_evict_oldest(struct metrics *srv)
{
	for (struct http_conn *c = srv->conns; c; c = c->next) {
		if (!c->closing && !c->answering) {
			log_debug("metrics: %u connections open, dropping the oldest idle one",
				  srv->n_open);
			http_close(c);
			return true;
		}
	}
	return false;
}

static void metrics_accept_done(struct loop_op *op, int res, uint32_t flags)
{
	struct metrics *srv = container_of(op, struct metrics, accept_op);
	struct http_conn *c = NULL;
	struct io_uring_sqe *sqe;
	bool backoff = false;

	if (!(flags & IORING_CQE_F_MORE))
		srv->accepting = false;
	if (res < 0) {
		if (loop_accept_starved(res)) {
			log_ratelimited(LOG_WARNING,
					"metrics: accept: %s: new connections wait %d ms",
					strerror(-res), LOOP_ACCEPT_RETRY_MS);
			backoff = true;
		}
		goto rearm;
	}
	if (srv->retired) {
		close(res);
		goto rearm;
	}
	/* Closing connections still count towards a hard bound: their completions are on their
	 * way, but a flood must not outrun them without limit. */
	if ((srv->n_open >= HTTP_CONNECTIONS_MAX && !http_evict_oldest(srv)) ||
	    srv->n_conns >= HTTP_CONNECTIONS_MAX + HTTP_CLOSING_MAX ||
	    !(c = calloc(1, sizeof(*c)))) {
		close(res);
		goto rearm;
	}
	c->srv = srv;
	c->fd = res;
	c->op.fn = http_recv_done;
	c->deadline.fn = http_deadline;
	c->prev = srv->conns_tail;
	if (srv->conns_tail)
		srv->conns_tail->next = c;
	else
		srv->conns = c;
	srv->conns_tail = c;
	srv->n_conns++;
	srv->n_open++;
	sqe = loop_sqe(srv->m->loop, &c->op);
	if (!sqe) {
		c->closing = true;
		srv->n_open--;
		http_free(c);
		goto rearm;
	}
	io_uring_prep_recv(sqe, c->fd, c->rbuf, sizeof(c->rbuf), 0);
	loop_timer_arm(srv->m->loop, &c->deadline,
		       loop_now_ms(srv->m->loop) + srv->m->cfg->metrics_request_timeout_ms);
rearm:
	if (srv->retired) {
		metrics_maybe_free(srv);
		return;
	}
	if (!srv->accepting && srv->fd >= 0 && backoff)
		loop_timer_arm(srv->m->loop, &srv->accept_retry,
			       loop_now_ms(srv->m->loop) + LOOP_ACCEPT_RETRY_MS);
	else if (!srv->accepting && srv->fd >= 0)
		metrics_accept_arm(srv);
}

static void metrics_accept_retry(struct loop_timer *tm)
{
	struct metrics *srv = container_of(tm, struct metrics, accept_retry);

	if (!srv->retired && !srv->accepting && srv->fd >= 0)
		metrics_accept_arm(srv);
}

static void metrics_accept_arm(struct metrics *srv)
{
	struct io_uring_sqe *sqe = loop_sqe(srv->m->loop, &srv->accept_op);

	if (!sqe)
		return;
	io_uring_prep_multishot_accept(sqe, srv->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	srv->accepting = true;
}

/* "127.0.0.1:9090", "[::1]:9090" or ":9090" (loopback) into a bound, listening socket. */
static int metrics_bind(const char *spec, char *err, size_t errlen)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	char host[128];
	const char *colon = strrchr(spec, ':');
	unsigned long port;
	char *end;
	int fd, one = 1;
	size_t hl;

	if (!colon) {
		snprintf(err, errlen, "expected address:port");
		return -EINVAL;
	}
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port == 0 || port > 65535) {
		snprintf(err, errlen, "bad port");
		return -EINVAL;
	}
	hl = (size_t)(colon - spec);
	if (hl >= sizeof(host)) {
		snprintf(err, errlen, "address too long");
		return -EINVAL;
	}
	memcpy(host, spec, hl);
	host[hl] = '\0';
	if (hl == 0)
		strcpy(host, "127.0.0.1");
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		memmove(host, host + 1, hl - 1);
	}
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
	} else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
	} else {
		snprintf(err, errlen, "'%s' is not an IP address", host);
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss,
		 ss.ss_family == AF_INET ? sizeof(*in4) : sizeof(*in6)) < 0 ||
	    listen(fd, 64) < 0) {
		int r = -errno;

		snprintf(err, errlen, "%s", strerror(-r));
		close(fd);
		return r;
	}
	return fd;
}

static struct metrics *metrics_new(struct manager *m, int fd)
{
	struct metrics *srv = calloc(1, sizeof(*srv));

	if (!srv) {
		close(fd);
		return NULL;
	}
	srv->m = m;
	srv->fd = fd;
	srv->accept_op.fn = metrics_accept_done;
	srv->accept_retry.fn = metrics_accept_retry;
	metrics_accept_arm(srv);
	return srv;
}

int control_metrics_listen(struct manager *m, int fd)
{
	char err[128] = "";

	if (fd < 0) {
		fd = metrics_bind(m->cfg->metrics_listen, err, sizeof(err));
		if (fd < 0) {
			log_error("METRICS_LISTEN=%s: %s", m->cfg->metrics_listen, err);
			return fd;
		}
		log_info("metrics: http://%s/metrics and /health", m->cfg->metrics_listen);
	}
	m->metrics = metrics_new(m, fd);
	return m->metrics ? 0 : -ENOMEM;
}

/* Stops accepting and shuts every connection down; srv frees itself once the last completion
 * has arrived. */
static void metrics_retire(struct metrics *srv)
{
	struct io_uring_sqe *sqe;

	srv->retired = true;
	srv->next_retired = retired_list;
	retired_list = srv;
	for (struct http_conn *c = srv->conns; c; c = c->next)
		http_close(c);
	if (srv->accepting) {
		sqe = loop_sqe(srv->m->loop, NULL);
		if (sqe)
			io_uring_prep_cancel(sqe, &srv->accept_op, 0);
	}
	metrics_maybe_free(srv);
}

int control_metrics_reload(struct manager *m, char *err, size_t errlen)
{
	const char *spec = m->cfg->metrics_listen;
	struct metrics *srv = NULL;
	char e[128] = "";
	int fd;

	if (m->sd.n[SD_FD_METRICS] > 0) {
		snprintf(err, errlen,
			 "the metrics socket is socket-activated (change the .socket "
			 "unit instead)");
		return -EOPNOTSUPP;
	}
	if (spec && *spec) {
		fd = metrics_bind(spec, e, sizeof(e));
		if (fd < 0) {
			snprintf(err, errlen, "METRICS_LISTEN=%s: %s", spec, e);
			return fd;
		}
		srv = metrics_new(m, fd);
		if (!srv)
			return -ENOMEM;
		log_info("metrics: http://%s/metrics and /health", spec);
	} else {
		log_info("metrics: listener closed (METRICS_LISTEN is empty)");
	}
	if (m->metrics)
		metrics_retire(m->metrics);
	m->metrics = srv;
	return 0;
}

static void metrics_free_all(struct metrics *srv)
{
	while (srv->conns) {
		struct http_conn *c = srv->conns;

		srv->conns = c->next;
		close(c->fd);
		free(c->resp);
		free(c);
	}
	srv->n_conns = 0;
	metrics_free(srv);
}

void control_metrics_stop(struct manager *m)
{
	/* The loop has stopped: nothing is in flight any more. */
	if (m->metrics)
		metrics_free_all(m->metrics);
	m->metrics = NULL;
	while (retired_list)
		metrics_free_all(retired_list);
}
