// SPDX-License-Identifier: MIT
/*
 * SIP transports on io_uring: UDP listeners receive with multishot recvmsg into a provided
 * buffer ring; TCP listeners accept with multishot accept; connections receive with multishot
 * recv into a shared buffer ring and are framed by Content-Length. Every in-flight request holds
 * a reference on its connection, dropped on the final CQE (no IORING_CQE_F_MORE).
 * A connection whose send queue passes a high mark stops being read until it drains (the peer
 * is throttled by TCP's flow control), and is closed when its queue makes no progress.
 * A peer that shuts its write side (FIN, close_notify) is not read any more; its connection
 * stays until the answers queued and owed on it are out, then is closed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "siprecd/acl.h"
#include "siprecd/log.h"
#include "siprecd/sip.h"
#include "siprecd/sockaddr.h"
#include "siprecd/tls.h"
#include "siprecd/transport.h"

#define UDP_BGID 1
#define TCP_BGID 2
#define UDP_BUFS 1024
#define TCP_BUFS 512
#define TCP_BUFSZ 4096
#define UDP_CONTROL_LEN 64
/* Distinct addresses tracked for per-source limits; idle entries are reused. */
#define MAX_SOURCES 65536
/* A TLS record's largest plaintext (RFC 8446 §5.1): queued responses are written in records
 * of up to this much. */
#define TLS_RECORD_MAX 16384
/* The least an answer owed is counted as in bytes (sip_conn_owe): a 200 with an SDP answer of a
 * few streams, as siprecd writes it. */
#define OWED_ANSWER_MIN 1024

enum conn_state { CONN_HANDSHAKE, CONN_OPEN, CONN_CLOSING };

struct sip_tx {
	struct sip_tx *next;
	struct sockaddr_storage peer;
	size_t len, off;
	char data[];
};

struct sip_conn {
	unsigned refs;
	struct sip_transport *tr;
	enum sip_transport_kind kind;
	enum conn_state state;
	bool listener; /* UDP socket or TCP/TLS listening socket */
	int fd;
	struct sockaddr_storage peer, local;
	struct sip_conn *prev, *next; /* all conns of the transport */

	struct loop_op recv_op;
	bool recv_armed;
	struct msghdr msg; /* UDP multishot recvmsg template */

	struct loop_op send_op;
	struct sip_tx *tx_head, *tx_tail;
	size_t tx_bytes;   /* queued, not yet sent */
	unsigned tx_count; /* messages queued */
	bool send_inflight;
	struct msghdr send_msg;
	struct iovec send_iov;

	struct loop_op poll_op; /* TLS: readiness for handshake / OpenSSL records */
	bool poll_armed;
	unsigned poll_events; /* what the armed poll waits for */
	struct tls_conn *tls;
	struct tls_server_ctx *tls_ctx; /* listeners */
	unsigned offload;

	char *rx;
	size_t rx_len, rx_cap;
	struct loop_timer idle_timer;
	struct loop_timer msg_timer; /* a partial message must complete by then (slow-loris) */
	/* TLS through OpenSSL: what sip_conn_send queues is written when this loop turn's
	 * completions are all handled, so the responses of one turn share records and writes. */
	struct loop_timer flush_timer;
	/* Backpressure: over the high mark (half a cap) the connection is not read, until the
	 * queue drains to the low mark (a quarter); resume_timer does that outside the send
	 * path, stall_timer closes a queue that took no byte for send_stall_ms(). */
	bool throttled;
	uint64_t tx_progress_ms; /* while throttled: when the peer last took a byte */
	unsigned owed;		 /* answers its server transactions still owe (sip_conn_owe) */
	size_t tx_max;		 /* the largest message queued so far (owed_bytes) */
	/* siprecd's own requests waiting for room under the caps (sip_conn_send_request) */
	struct sip_tx *rq_head, *rq_tail;
	size_t rq_bytes;
	unsigned rq_count;
	struct loop_timer resume_timer, stall_timer;
	/* The peer shut its write side: no more reading; closed once nothing is queued or owed
	 * (eof_timer checks that outside the send path), or when the queue stalls. */
	bool rd_eof;
	struct loop_timer eof_timer;
	bool counted;		/* open: holds one of MAX_CONNECTIONS */
	bool source_counted;	/* open: holds one of the source's connections */
	bool handshake_counted; /* holds one of the global and per-source handshakes */
};

struct sip_transport {
	struct loop *loop;
	struct sip_transport_limits lim;
	struct sip_transport_handler h;
	void *userdata;
	struct loop_buf_ring *udp_br, *tcp_br;
	struct sip_conn *conns;
	struct sip_transport_stats stats;
	struct sip_acl *acl[3]; /* by enum sip_transport_kind; NULL allows everyone */
	struct sip_sources *sources;
	bool shutting_down;
	char *gather;  /* TLS_RECORD_MAX bytes: queued responses copied into one record */
	unsigned live; /* conn objects not yet freed */
	bool free_requested;
};

static void conn_close(struct sip_conn *c);
static bool tls_records(const struct sip_conn *c);
static int tls_flush(struct sip_conn *c, bool arm);
static void conn_arm_recv(struct sip_conn *c);
static void conn_kick_send(struct sip_conn *c);
static void tls_arm_poll(struct sip_conn *c, unsigned events);

const char *sip_transport_kind_name(enum sip_transport_kind k)
{
	switch (k) {
	case SIP_TRANSPORT_UDP:
		return "udp";
	case SIP_TRANSPORT_TCP:
		return "tcp";
	case SIP_TRANSPORT_TLS:
		return "tls";
	}
	return "?";
}

enum sip_transport_kind sip_conn_kind(const struct sip_conn *c)
{
	return c->kind;
}

bool sip_conn_reliable(const struct sip_conn *c)
{
	return c->kind != SIP_TRANSPORT_UDP;
}

const struct sockaddr_storage *sip_conn_local(const struct sip_conn *c)
{
	return &c->local;
}

const struct sockaddr_storage *sip_conn_peer(const struct sip_conn *c)
{
	return &c->peer;
}

const char *sip_refusal_name(enum sip_refusal why)
{
	switch (why) {
	case SIP_REFUSED_ACL:
		return "source not allowed";
	case SIP_REFUSED_CONN_LIMIT:
		return "connection limit";
	case SIP_REFUSED_SOURCE_LIMIT:
		return "per-source connection limit";
	case SIP_REFUSED_SEND_QUEUE:
		return "peer does not read its responses (send queue full)";
	case SIP_REFUSED_MESSAGE_TIMEOUT:
		return "message not complete in time";
	case SIP_REFUSED_SEND_STALLED:
		return "peer does not read its responses (send queue made no progress within "
		       "SIP_MESSAGE_TIMEOUT)";
	}
	return "?";
}

static void refused(struct sip_transport *t, enum sip_transport_kind kind,
		    const struct sockaddr_storage *peer, enum sip_refusal why)
{
	if (t->h.refused)
		t->h.refused(t->userdata, kind, peer, why);
}

void sip_conn_ref(struct sip_conn *c)
{
	c->refs++;
}

static void transport_maybe_free(struct sip_transport *t)
{
	if (t->free_requested && t->live == 0) {
		loop_buf_ring_free(t->loop, t->udp_br);
		loop_buf_ring_free(t->loop, t->tcp_br);
		for (size_t i = 0; i < ARRAY_SIZE(t->acl); i++)
			sip_acl_free(t->acl[i]);
		sip_sources_free(t->sources);
		free(t->gather);
		free(t);
	}
}

/* A TLS handshake ended (done, failed, timed out or closed): its slots are free again. */
static void handshake_release(struct sip_conn *c)
{
	struct sip_transport *t = c->tr;

	if (!c->handshake_counted)
		return;
	c->handshake_counted = false;
	if (t->stats.handshakes > 0)
		t->stats.handshakes--;
	sip_sources_put(t->sources, &c->peer, SIP_SRC_HANDSHAKES, 1);
}

/* A connection closed: it no longer counts against MAX_CONNECTIONS nor its source's
 * MAX_CONNECTIONS_PER_SOURCE, though a transaction (32 s) or a session (until it ends, hours)
 * may still hold it, its socket shut down: peers that set sessions up and hang up must not
 * use up the connection slots of everyone else. */
static void conn_release(struct sip_conn *c)
{
	struct sip_transport *t = c->tr;

	if (c->source_counted) {
		c->source_counted = false;
		sip_sources_put(t->sources, &c->peer, SIP_SRC_CONNECTIONS, 1);
	}
	if (c->counted) {
		c->counted = false;
		t->stats.connections--;
	}
}

void sip_conn_unref(struct sip_conn *c)
{
	struct sip_transport *t;

	if (!c || --c->refs > 0)
		return;
	t = c->tr;
	loop_timer_disarm(t->loop, &c->idle_timer);
	loop_timer_disarm(t->loop, &c->msg_timer);
	loop_timer_disarm(t->loop, &c->resume_timer);
	loop_timer_disarm(t->loop, &c->stall_timer);
	loop_timer_disarm(t->loop, &c->eof_timer);
	handshake_release(c);
	conn_release(c);
	if (c->prev)
		c->prev->next = c->next;
	else if (t->conns == c)
		t->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	while (c->tx_head) {
		struct sip_tx *n = c->tx_head->next;

		free(c->tx_head);
		c->tx_head = n;
	}
	while (c->rq_head) {
		struct sip_tx *n = c->rq_head->next;

		free(c->rq_head);
		c->rq_head = n;
	}
	tls_conn_free(c->tls);
	if (c->fd >= 0)
		close(c->fd);
	free(c->rx);
	free(c);
	t->live--;
	transport_maybe_free(t);
}

static struct sip_conn *conn_new(struct sip_transport *t, enum sip_transport_kind kind, int fd)
{
	struct sip_conn *c = calloc(1, sizeof(*c));
	socklen_t sl = sizeof(c->local);

	if (!c)
		return NULL;
	c->refs = 1; /* the transport's own reference, dropped by conn_close */
	c->tr = t;
	c->kind = kind;
	c->fd = fd;
	getsockname(fd, (struct sockaddr *)&c->local, &sl);
	c->next = t->conns;
	if (t->conns)
		t->conns->prev = c;
	t->conns = c;
	t->live++;
	return c;
}

/* Drops the transport's reference; in-flight requests finish (shutdown makes them complete). */
static void conn_close(struct sip_conn *c)
{
	if (c->state == CONN_CLOSING)
		return;
	/* What was queued in this turn goes out before the shutdown, as it did when every
	 * response was written at once (a refusal answered, then the connection closed). */
	loop_timer_disarm(c->tr->loop, &c->flush_timer);
	if (c->state == CONN_OPEN && c->tx_head && tls_records(c))
		(void)tls_flush(c, false);
	/* RFC 8446 §6.1: a TLS connection siprecd closes (idle, a framing error, a stalled queue,
	 * shutdown) ends with its close_notify, ahead of the FIN. Behind the data written so far:
	 * with a send of the loop's still in flight (kernel TLS) it is left out. */
	if (c->state == CONN_OPEN && c->tls && !c->send_inflight)
		(void)tls_conn_close_notify(c->tls);
	c->state = CONN_CLOSING;
	conn_release(c);
	if (c->throttled) {
		c->throttled = false;
		c->tr->stats.throttled--;
	}
	loop_timer_disarm(c->tr->loop, &c->resume_timer);
	loop_timer_disarm(c->tr->loop, &c->stall_timer);
	loop_timer_disarm(c->tr->loop, &c->eof_timer);
	if (c->listener || c->kind == SIP_TRANSPORT_UDP) {
		struct io_uring_sqe *sqe = loop_sqe(c->tr->loop, NULL);

		/* Listening sockets ignore shutdown(): cancel their multishot request instead. */
		if (sqe) {
			io_uring_prep_cancel(sqe, &c->recv_op, 0);
			io_uring_sqe_set_flags(sqe, IOSQE_CQE_SKIP_SUCCESS);
		}
	} else {
		shutdown(c->fd, SHUT_RDWR);
	}
	if (c->poll_armed) {
		struct io_uring_sqe *sqe = loop_sqe(c->tr->loop, NULL);

		if (sqe)
			io_uring_prep_poll_remove(sqe, (uint64_t)(uintptr_t)&c->poll_op);
	}
	loop_timer_disarm(c->tr->loop, &c->idle_timer);
	loop_timer_disarm(c->tr->loop, &c->msg_timer);
	sip_conn_unref(c);
}

static void idle_fired(struct loop_timer *tm)
{
	struct sip_conn *c = container_of(tm, struct sip_conn, idle_timer);

	c->tr->stats.tcp_closed_idle++;
	log_debug("closing idle connection");
	conn_close(c);
}

static void conn_touch(struct sip_conn *c, uint64_t timeout_ms)
{
	if (c->state != CONN_CLOSING)
		loop_timer_arm(c->tr->loop, &c->idle_timer, loop_now_ms(c->tr->loop) + timeout_ms);
}

static void message_timeout(struct loop_timer *tm)
{
	struct sip_conn *c = container_of(tm, struct sip_conn, msg_timer);

	c->tr->stats.message_timeouts++;
	refused(c->tr, c->kind, &c->peer, SIP_REFUSED_MESSAGE_TIMEOUT);
	conn_close(c);
}

/* ---- sending, and the backpressure it puts on reading ---- */

/* How long a throttled connection's queue may take no byte before the peer is taken for one
 * that does not read: the bound a message's receipt has (SIP_MESSAGE_TIMEOUT), else the idle
 * timeout. */
static uint64_t send_stall_ms(const struct sip_transport *t)
{
	return t->lim.message_timeout_ms ? t->lim.message_timeout_ms : t->lim.idle_timeout_ms;
}

/*
 * The bytes the answers still owed will add to the queue: each counted as the largest message
 * queued on this connection so far, and at least OWED_ANSWER_MIN. Reading stops once queued and
 * owed bytes pass half the cap, so what is taken in can only pass the cap if its answers are on
 * average twice as large as that estimate (docs/SIP.md).
 */
static size_t owed_bytes(const struct sip_conn *c)
{
	return (size_t)c->owed * MAX(c->tx_max, (size_t)OWED_ANSWER_MIN);
}

/* Over half of either cap: stop reading the peer's requests. */
static bool tx_over_high(const struct sip_conn *c)
{
	const struct sip_transport_limits *l = &c->tr->lim;

	return (l->max_send_queue &&
		c->tx_bytes + c->rq_bytes + owed_bytes(c) > l->max_send_queue / 2) ||
	       (l->max_send_queue_msgs &&
		c->tx_count + c->rq_count + c->owed > l->max_send_queue_msgs / 2);
}

/* Down to a quarter of both caps: read again. */
static bool tx_below_low(const struct sip_conn *c)
{
	const struct sip_transport_limits *l = &c->tr->lim;

	return (!l->max_send_queue ||
		c->tx_bytes + c->rq_bytes + owed_bytes(c) <= l->max_send_queue / 4) &&
	       (!l->max_send_queue_msgs ||
		c->tx_count + c->rq_count + c->owed <= l->max_send_queue_msgs / 4);
}

/* Debug lines for each throttle and resume, which say how the connection is read (tests/vm
 * correlate them with its kTLS state). Not rate-limited: a cycle takes the peer reading at
 * least a quarter of a cap of responses, so these come less often than its requests. */
static void throttle_log(const struct sip_conn *c, const char *what)
{
	char addr[INET6_ADDRSTRLEN + 8];

	log_debug("SIP %s from %s: %s, %u messages (%zu bytes) queued and %u owed, read by %s",
		  sip_transport_kind_name(c->kind),
		  sockaddr_to_string(&c->peer, addr, sizeof(addr)), what, c->tx_count, c->tx_bytes,
		  c->owed,
		  c->kind != SIP_TRANSPORT_TLS	? "recv"
		  : c->offload & TLS_OFFLOAD_RX ? "kernel TLS recv"
						: "OpenSSL");
}

/*
 * The queue passed the high mark: no more of the peer's bytes are read (its requests wait in
 * the kernel, and TCP's window stops the peer), so its own requests cannot grow the queue to a
 * cap. A multishot recv is cancelled (what it already delivered is kept, unparsed, in c->rx);
 * the TLS records' reader is not re-armed (tls_poll_done, tls_read_records).
 */
static void throttle_start(struct sip_conn *c)
{
	struct sip_transport *t = c->tr;

	c->throttled = true;
	t->stats.throttled++;
	t->stats.send_throttled++;
	c->tx_progress_ms = loop_now_ms(t->loop);
	loop_timer_arm(t->loop, &c->stall_timer, c->tx_progress_ms + send_stall_ms(t));
	throttle_log(c, c->recv_armed ? "throttled (multishot recv cancelled)" : "throttled");
	if (c->recv_armed) { /* a multishot recv: TCP, or TLS whose RX the kernel holds */
		struct io_uring_sqe *sqe = loop_sqe(t->loop, NULL);

		if (sqe) {
			io_uring_prep_cancel(sqe, &c->recv_op, 0);
			io_uring_sqe_set_flags(sqe, IOSQE_CQE_SKIP_SUCCESS);
		}
	}
}

/* Bytes of the queue went out: the peer reads. A throttled connection receives nothing, so
 * this is what keeps its idle timer off too. */
static void tx_progress(struct sip_conn *c)
{
	if (c->throttled || c->rd_eof) {
		c->tx_progress_ms = loop_now_ms(c->tr->loop);
		conn_touch(c, c->tr->lim.idle_timeout_ms);
	}
}

/* Half-closed: whether the connection is done is decided from the timer pass, not from inside
 * the send path or a transaction that is queueing its answer. */
static void eof_check_later(struct sip_conn *c)
{
	if (c->state == CONN_OPEN && !loop_timer_armed(&c->eof_timer))
		loop_timer_arm(c->tr->loop, &c->eof_timer, loop_now_ms(c->tr->loop));
}

/*
 * A half-closed connection with nothing queued or owed is closed; otherwise the stall timer
 * bounds it: a queue that takes no byte for send_stall_ms() closes it (an empty queue waiting
 * on answers owed does not count, and those are bounded by their transactions' TU guard).
 * While throttled, the requests kept in c->rx are handed on first (resume_fired comes back).
 */
static void eof_settle(struct sip_conn *c)
{
	struct sip_transport *t = c->tr;

	if (c->state != CONN_OPEN || !c->rd_eof || c->throttled)
		return;
	/* The rest is part of a message the peer will never finish. */
	c->rx_len = 0;
	loop_timer_disarm(t->loop, &c->msg_timer);
	if (!c->tx_head && !c->owed) {
		conn_close(c);
		return;
	}
	if (!loop_timer_armed(&c->stall_timer)) {
		c->tx_progress_ms = loop_now_ms(t->loop);
		loop_timer_arm(t->loop, &c->stall_timer, c->tx_progress_ms + send_stall_ms(t));
	}
}

static void eof_fired(struct loop_timer *tm)
{
	eof_settle(container_of(tm, struct sip_conn, eof_timer));
}

/* The peer shut its write side (FIN, or a TLS close_notify): RFC 3261 §18 lets a response go
 * back over the connection its request came in on, and a half-closed one can still carry it
 * (nc -N, scripts, an SRC closing its side after its BYE). Reading stops here. */
static void conn_read_eof(struct sip_conn *c)
{
	if (c->state != CONN_OPEN || c->rd_eof)
		return;
	c->rd_eof = true;
	log_debug("SIP %s connection: peer closed its side, %u messages queued and %u owed",
		  sip_transport_kind_name(c->kind), c->tx_count, c->owed);
	eof_settle(c);
}

/* Whether len more bytes, one more message, fit under the caps. */
static bool tx_fits(const struct sip_conn *c, size_t len)
{
	const struct sip_transport_limits *l = &c->tr->lim;

	return (!l->max_send_queue || c->tx_bytes + len <= l->max_send_queue) &&
	       (!l->max_send_queue_msgs || c->tx_count < l->max_send_queue_msgs);
}

static void tx_append(struct sip_conn *c, struct sip_tx *tx)
{
	tx->next = NULL;
	c->tx_bytes += tx->len;
	c->tx_count++;
	c->tx_max = MAX(c->tx_max, tx->len);
	if (c->tx_tail)
		c->tx_tail->next = tx;
	else
		c->tx_head = tx;
	c->tx_tail = tx;
}

/* siprecd's own requests that waited for room go behind the answers queued, as room comes
 * back. Appending at the tail is safe while a flush walks the queue from its head. */
static void rq_feed(struct sip_conn *c)
{
	while (c->rq_head && c->state == CONN_OPEN && tx_fits(c, c->rq_head->len)) {
		struct sip_tx *tx = c->rq_head;

		c->rq_head = tx->next;
		if (!c->rq_head)
			c->rq_tail = NULL;
		c->rq_bytes -= tx->len;
		c->rq_count--;
		tx_append(c, tx);
	}
}

static void tx_pop(struct sip_conn *c)
{
	struct sip_tx *tx = c->tx_head;

	c->tx_head = tx->next;
	if (!c->tx_head)
		c->tx_tail = NULL;
	c->tx_bytes -= MIN(c->tx_bytes, tx->len);
	if (c->tx_count)
		c->tx_count--;
	free(tx);
	rq_feed(c);
	if (c->rd_eof && !c->tx_head)
		eof_check_later(c);
	/* Reading resumes from the timer pass, not from inside a flush walking this queue: the
	 * requests it parses queue responses. */
	if (c->throttled && tx_below_low(c) && !loop_timer_armed(&c->resume_timer))
		loop_timer_arm(c->tr->loop, &c->resume_timer, loop_now_ms(c->tr->loop));
}

static void stall_fired(struct loop_timer *tm)
{
	struct sip_conn *c = container_of(tm, struct sip_conn, stall_timer);
	struct sip_transport *t = c->tr;
	uint64_t due = c->tx_progress_ms + send_stall_ms(t);

	if (c->state != CONN_OPEN || !(c->throttled || c->rd_eof))
		return;
	/* Nothing queued: the throttle waits on answers siprecd still owes (INVITEs whose rows
	 * are not durable yet), not on the peer. */
	if (!c->tx_head) {
		c->tx_progress_ms = loop_now_ms(t->loop);
		due = c->tx_progress_ms + send_stall_ms(t);
	}
	if (due > loop_now_ms(t->loop)) {
		loop_timer_arm(t->loop, &c->stall_timer, due);
		return;
	}
	t->stats.send_stalled++;
	refused(t, c->kind, &c->peer, SIP_REFUSED_SEND_STALLED);
	conn_close(c);
}

/*
 * A request's answers are counted before they are queued: an INVITE's 100 and 200 come later
 * (after SIP_TRYING_DELAY, once its rows are durable), so a backlog of INVITEs read at once
 * (after a stall of siprecd's) would otherwise all be taken in before the first answer, and
 * their answers pass the caps together. Owed answers count toward the high and low marks as
 * queued messages do.
 */
void sip_conn_owe(struct sip_conn *c, int delta)
{
	if (delta < 0)
		c->owed -= MIN(c->owed, (unsigned)-delta);
	else
		c->owed += (unsigned)delta;
	if (c->state != CONN_OPEN || c->listener || c->kind == SIP_TRANSPORT_UDP)
		return;
	if (c->rd_eof && !c->owed)
		eof_check_later(c);
	if (!c->throttled && tx_over_high(c))
		throttle_start(c);
	else if (c->throttled && tx_below_low(c) && !loop_timer_armed(&c->resume_timer))
		loop_timer_arm(c->tr->loop, &c->resume_timer, loop_now_ms(c->tr->loop));
}

bool sip_conn_backlogged(const struct sip_conn *c)
{
	return c->tx_head != NULL;
}

static void send_done(struct loop_op *op, int res, uint32_t flags)
{
	struct sip_conn *c = container_of(op, struct sip_conn, send_op);
	struct sip_tx *tx = c->tx_head;

	c->send_inflight = false;
	if (res > 0)
		tx_progress(c);
	if (res < 0) {
		c->tr->stats.send_errors++;
		log_debug("send failed: %s", strerror(-res));
		if (c->kind != SIP_TRANSPORT_UDP) {
			conn_close(c);
			sip_conn_unref(c);
			return;
		}
		res = (int)(tx->len - tx->off); /* UDP: drop this datagram, keep going */
	}
	tx->off += (size_t)res;
	if (tx->off >= tx->len || c->kind == SIP_TRANSPORT_UDP)
		tx_pop(c);
	if (c->state != CONN_CLOSING)
		conn_kick_send(c);
	sip_conn_unref(c);
}

/* TLS whose records OpenSSL writes (no kTLS TX). */
static bool tls_records(const struct sip_conn *c)
{
	return c->kind == SIP_TRANSPORT_TLS && !(c->offload & TLS_OFFLOAD_TX);
}

/*
 * Writes the queued messages as OpenSSL records on the non-blocking socket: consecutive ones
 * copied into one record of up to TLS_RECORD_MAX bytes (one encryption, one write(), one TCP
 * segment for several responses). Returns 0 when the queue is empty, -EAGAIN when the socket
 * is full (POLLOUT armed if arm), or a negative errno. A write retried after EAGAIN starts
 * with the same bytes as the one that could not finish, as OpenSSL requires (its buffer may
 * move: SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER; it may be longer: more was queued since).
 */
static int tls_flush(struct sip_conn *c, bool arm)
{
	while (c->tx_head) {
		struct sip_tx *tx = c->tx_head;
		const char *p = tx->data + tx->off;
		size_t len = tx->len - tx->off;
		ssize_t n;

		if (tx->next && len < TLS_RECORD_MAX) {
			char *g = c->tr->gather;

			memcpy(g, p, len);
			for (tx = tx->next; tx && len < TLS_RECORD_MAX; tx = tx->next) {
				size_t k = MIN(tx->len, TLS_RECORD_MAX - len);

				memcpy(g + len, tx->data, k);
				len += k;
			}
			p = g;
		}
		n = tls_conn_write(c->tls, p, len);
		if (n == -EAGAIN) {
			if (arm)
				tls_arm_poll(c, POLLOUT);
			return -EAGAIN;
		}
		if (n < 0)
			return (int)n;
		tx_progress(c);
		/* n bytes of the queue, possibly across messages, are in a record now */
		while (n > 0) {
			size_t k = MIN((size_t)n, c->tx_head->len - c->tx_head->off);

			c->tx_head->off += k;
			n -= (ssize_t)k;
			if (c->tx_head->off == c->tx_head->len)
				tx_pop(c);
		}
	}
	return 0;
}

static void flush_fired(struct loop_timer *tm)
{
	struct sip_conn *c = container_of(tm, struct sip_conn, flush_timer);

	conn_kick_send(c);
}

static void conn_kick_send(struct sip_conn *c)
{
	struct sip_tx *tx = c->tx_head;
	struct io_uring_sqe *sqe;

	if (c->send_inflight || !tx || c->state != CONN_OPEN)
		return;
	if (tls_records(c)) {
		int r;

		loop_timer_disarm(c->tr->loop, &c->flush_timer);
		r = tls_flush(c, true);
		/* -EAGAIN: the socket is full, POLLOUT is armed and the queue waits for it */
		if (r < 0 && r != -EAGAIN && c->state != CONN_CLOSING) {
			c->tr->stats.send_errors++;
			conn_close(c);
		}
		return;
	}
	sqe = loop_sqe(c->tr->loop, &c->send_op);
	if (!sqe)
		return;
	if (c->kind == SIP_TRANSPORT_UDP) {
		memset(&c->send_msg, 0, sizeof(c->send_msg));
		c->send_iov.iov_base = tx->data;
		c->send_iov.iov_len = tx->len;
		c->send_msg.msg_name = &tx->peer;
		c->send_msg.msg_namelen = tx->peer.ss_family == AF_INET6
						  ? sizeof(struct sockaddr_in6)
						  : sizeof(struct sockaddr_in);
		c->send_msg.msg_iov = &c->send_iov;
		c->send_msg.msg_iovlen = 1;
		io_uring_prep_sendmsg(sqe, c->fd, &c->send_msg, 0);
	} else {
		/* Plain TCP, or TLS whose TX the kernel holds: the loop writes plain bytes. */
		io_uring_prep_send(sqe, c->fd, tx->data + tx->off, tx->len - tx->off, MSG_NOSIGNAL);
	}
	c->send_inflight = true;
	sip_conn_ref(c);
}

/* A queue entry holding a copy of buf, for peer (NULL: the connection's). */
static struct sip_tx *tx_new(const struct sip_conn *c, const struct sockaddr_storage *peer,
			     const char *buf, size_t len)
{
	struct sip_tx *tx = malloc(sizeof(*tx) + len);

	if (!tx)
		return NULL;
	tx->next = NULL;
	tx->len = len;
	tx->off = 0;
	tx->peer = peer ? *peer : c->peer;
	memcpy(tx->data, buf, len);
	return tx;
}

int sip_conn_send(struct sip_conn *c, const struct sockaddr_storage *peer, const char *buf,
		  size_t len)
{
	struct sip_transport *t = c->tr;
	struct sip_tx *tx;

	if (c->state == CONN_CLOSING)
		return -ENOTCONN;
	/* A peer that sends requests but never reads the answers would grow this queue without
	 * bound: past the cap a connection is closed; on the shared UDP socket (where a full queue
	 * means the kernel is slow, not one peer) the datagram is dropped. */
	if ((t->lim.max_send_queue && c->tx_bytes + len > t->lim.max_send_queue) ||
	    (t->lim.max_send_queue_msgs && c->tx_count >= t->lim.max_send_queue_msgs)) {
		t->stats.send_queue_overflows++;
		if (c->kind == SIP_TRANSPORT_UDP)
			return -ENOBUFS;
		refused(t, c->kind, &c->peer, SIP_REFUSED_SEND_QUEUE);
		conn_close(c);
		return -ENOBUFS;
	}
	tx = tx_new(c, peer, buf, len);
	if (!tx)
		return -ENOMEM;
	tx_append(c, tx);
	if (!c->throttled && c->kind != SIP_TRANSPORT_UDP && tx_over_high(c))
		throttle_start(c);
	if (tls_records(c) && c->state == CONN_OPEN) {
		if (!loop_timer_armed(&c->flush_timer))
			loop_timer_arm(t->loop, &c->flush_timer, loop_now_ms(t->loop));
		return 0;
	}
	conn_kick_send(c);
	return 0;
}

/*
 * A request of siprecd's own is not a peer's fault: at a cap it waits for room rather than
 * close the connection (at a stop every session's BYE is queued in one turn, more than
 * MAX_SEND_QUEUE_MESSAGES on an SRC's connection with that many calls). It counts toward the
 * marks meanwhile, so the peer's reading stops; a peer that reads nothing is closed as stalled.
 * At most one per dialog on the connection waits (a BYE; no retransmission over TCP/TLS).
 */
int sip_conn_send_request(struct sip_conn *c, const struct sockaddr_storage *peer, const char *buf,
			  size_t len)
{
	struct sip_tx *tx;

	if (c->kind == SIP_TRANSPORT_UDP || c->listener || (!c->rq_head && tx_fits(c, len)))
		return sip_conn_send(c, peer, buf, len);
	if (c->state == CONN_CLOSING)
		return -ENOTCONN;
	tx = tx_new(c, peer, buf, len);
	if (!tx)
		return -ENOMEM;
	if (c->rq_tail)
		c->rq_tail->next = tx;
	else
		c->rq_head = tx;
	c->rq_tail = tx;
	c->rq_bytes += len;
	c->rq_count++;
	if (!c->throttled && tx_over_high(c))
		throttle_start(c);
	return 0;
}

/* ---- UDP ---- */

static void udp_recv_done(struct loop_op *op, int res, uint32_t flags)
{
	struct sip_conn *c = container_of(op, struct sip_conn, recv_op);
	struct sip_transport *t = c->tr;
	bool more = flags & IORING_CQE_F_MORE;

	if (res >= 0 && (flags & IORING_CQE_F_BUFFER)) {
		uint16_t bid = (uint16_t)(flags >> IORING_CQE_BUFFER_SHIFT);
		void *buf = loop_buf_ring_buf(t->udp_br, bid);
		struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(buf, res, &c->msg);

		if (o && c->state == CONN_OPEN) {
			struct sockaddr_storage peer = {0};
			size_t plen = io_uring_recvmsg_payload_length(o, res, &c->msg);

			memcpy(&peer, io_uring_recvmsg_name(o), MIN(o->namelen, sizeof(peer)));
			t->stats.udp_datagrams++;
			/* The allowlist is checked before a byte is parsed. */
			if (!sip_acl_allows(t->acl[SIP_TRANSPORT_UDP], &peer)) {
				t->stats.acl_refused++;
				refused(t, SIP_TRANSPORT_UDP, &peer, SIP_REFUSED_ACL);
			} else if (o->flags & MSG_TRUNC) {
				t->stats.udp_dropped_oversize++;
				if (t->h.datagram_oversize)
					t->h.datagram_oversize(t->userdata, c, &peer,
							       io_uring_recvmsg_payload(o, &c->msg),
							       plen);
			} else
				t->h.message(t->userdata, c, &peer,
					     io_uring_recvmsg_payload(o, &c->msg), plen);
		}
		loop_buf_ring_recycle(t->udp_br, bid);
	} else if (res < 0 && res != -ENOBUFS && res != -ECANCELED) {
		log_ratelimited(LOG_WARNING, "SIP udp recvmsg: %s%s", strerror(-res),
				res == -EINVAL ? " (multishot recvmsg needs Linux 6.0 or newer)"
					       : "");
	}
	if (!more) {
		/* -ENOBUFS only means the buffer ring ran dry: buffers are back now, re-arm.
		 * -EINVAL means the kernel refuses the request itself: re-arming would spin. */
		c->recv_armed = false;
		if (c->state == CONN_OPEN && res != -EINVAL)
			conn_arm_recv(c);
		sip_conn_unref(c);
	}
}

/* ---- TCP / TLS connections ---- */

/*
 * The message at c->rx + off cannot be framed (RFC 3261 §18.3): the handler may answer it
 * (400, 513), and since where the next message starts is lost, nothing more is read. The
 * connection is closed as a half-closed one is (conn_read_eof), once what is queued and owed
 * on it is out: closed at once, the answer would not go out before the FIN.
 */
static void framing_lost(struct sip_conn *c, int error, size_t off)
{
	struct sip_transport *t = c->tr;

	t->stats.tcp_framing_errors++;
	sip_conn_ref(c);
	if (t->h.framing_error)
		t->h.framing_error(t->userdata, c, error, c->rx + off, c->rx_len - off);
	c->rx_len = 0;
	if (c->state == CONN_OPEN && !c->rd_eof) {
		c->rd_eof = true;
		if (c->recv_armed) { /* a multishot recv: TCP, or TLS whose RX the kernel holds */
			struct io_uring_sqe *sqe = loop_sqe(t->loop, NULL);

			if (sqe) {
				io_uring_prep_cancel(sqe, &c->recv_op, 0);
				io_uring_sqe_set_flags(sqe, IOSQE_CQE_SKIP_SUCCESS);
			}
		}
		eof_settle(c);
	}
	sip_conn_unref(c);
}

/* Frames and hands on every whole message in c->rx; true if at least one was consumed. */
static bool stream_consume(struct sip_conn *c)
{
	struct sip_transport *t = c->tr;
	struct sip_limits lim = sip_limits_default;
	size_t off = 0;

	lim.max_msg_size = t->lim.max_message_size;
	/* Throttled: what was read waits in c->rx until the send queue drains. */
	while (c->state == CONN_OPEN && !c->throttled && off < c->rx_len) {
		size_t mlen = 0;
		int r = sip_stream_frame(c->rx + off, c->rx_len - off, &lim, &mlen);

		if (r == SIP_FRAME_NEED_MORE)
			break;
		if (r < 0) {
			framing_lost(c, r, off);
			return true;
		}
		if (r == SIP_FRAME_KEEPALIVE) {
			/* CRLF keep-alive (RFC 5626 §3.5.1): answer a double CRLF with one CRLF. */
			if (mlen >= 4)
				sip_conn_send(c, NULL, "\r\n", 2);
			off += mlen;
			continue;
		}
		t->h.message(t->userdata, c, &c->peer, c->rx + off, mlen);
		off += mlen;
	}
	if (off > 0) {
		memmove(c->rx, c->rx + off, c->rx_len - off);
		c->rx_len -= off;
	}
	return off > 0;
}

/* One message and a receive buffer; while throttled, also what the multishot recv delivered
 * before its cancellation took effect (at most the whole buffer ring). */
static size_t rx_limit(const struct sip_conn *c)
{
	size_t lim = (size_t)c->tr->lim.max_message_size + 4096;

	return c->throttled ? lim + (size_t)TCP_BUFS * TCP_BUFSZ : lim;
}

static int rx_append(struct sip_conn *c, const void *data, size_t len)
{
	size_t need = c->rx_len + len;

	if (need > rx_limit(c))
		return -EMSGSIZE;
	if (need > c->rx_cap) {
		size_t cap = MAX(need, c->rx_cap ? c->rx_cap * 2 : 8192);
		char *p;

		cap = MIN(cap, rx_limit(c));
		p = realloc(c->rx, cap);
		if (!p)
			return -ENOMEM;
		c->rx = p;
		c->rx_cap = cap;
	}
	memcpy(c->rx + c->rx_len, data, len);
	c->rx_len += len;
	return 0;
}

/* Hands on the whole messages in c->rx and keeps the slow-loris clock of the rest. */
static void stream_drain(struct sip_conn *c)
{
	bool progress = stream_consume(c);

	if (c->state != CONN_OPEN)
		return;
	/* A buffer grown past one message while throttled goes back to the usual size. */
	if (!c->throttled && c->rx_cap > rx_limit(c) && c->rx_len <= 8192) {
		char *p = realloc(c->rx, 8192);

		if (p) {
			c->rx = p;
			c->rx_cap = 8192;
		}
	}
	/* Slow-loris: every byte re-arms the idle timer, so a message must also be whole within
	 * message_timeout_ms of its first byte. The clock restarts only when a message completes.
	 * A throttled connection's bytes wait on siprecd, not on the peer: stall_timer runs. */
	if (c->rx_len == 0 || !c->tr->lim.message_timeout_ms || c->throttled)
		loop_timer_disarm(c->tr->loop, &c->msg_timer);
	else if (progress || !loop_timer_armed(&c->msg_timer))
		loop_timer_arm(c->tr->loop, &c->msg_timer,
			       loop_now_ms(c->tr->loop) + c->tr->lim.message_timeout_ms);
}

static void stream_input(struct sip_conn *c, const void *data, size_t len)
{
	/* After a half-close or a framing error nothing is read: what a multishot recv delivered
	 * before its cancellation took effect is dropped. */
	if (c->rd_eof)
		return;
	if (rx_append(c, data, len) < 0) {
		framing_lost(c, -EMSGSIZE, 0);
		return;
	}
	conn_touch(c, c->tr->lim.idle_timeout_ms);
	stream_drain(c);
}

static void tcp_recv_done(struct loop_op *op, int res, uint32_t flags)
{
	struct sip_conn *c = container_of(op, struct sip_conn, recv_op);
	struct sip_transport *t = c->tr;
	bool more = flags & IORING_CQE_F_MORE;

	if (res > 0 && (flags & IORING_CQE_F_BUFFER)) {
		uint16_t bid = (uint16_t)(flags >> IORING_CQE_BUFFER_SHIFT);

		if (c->state == CONN_OPEN)
			stream_input(c, loop_buf_ring_buf(t->tcp_br, bid), (size_t)res);
		loop_buf_ring_recycle(t->tcp_br, bid);
	} else if (res == 0 ||
		   (res < 0 && res != -ENOBUFS && !(res == -ECANCELED && c->state == CONN_OPEN))) {
		/* EOF or error (-ECANCELED on an open connection: throttle_start's). With kTLS RX,
		 * a non-data record (alert, post-handshake message) surfaces as -EIO: read it with
		 * recvmsg and TLS_GET_RECORD_TYPE. */
		if (res == -EIO && c->kind == SIP_TRANSPORT_TLS && c->state == CONN_OPEN) {
			char tmp[512];
			uint8_t type = 0;
			int r = tls_conn_recv_record(c->fd, tmp, sizeof(tmp), &type);

			if (r > 0 && type == 23 /* application data */) {
				stream_input(c, tmp, (size_t)r);
				more = false; /* re-arm below */
				res = 1;
			} else if (r == 0) { /* close_notify: the peer's half-close */
				conn_read_eof(c);
				more = false;
				res = 1;
			} else if (r == -EAGAIN) {
				more = false;
				res = 1;
			} else {
				log_debug("tls record type %u on offloaded socket: closing", type);
			}
		}
		if (res == 0 && c->state == CONN_OPEN)
			conn_read_eof(c);
		else if (res <= 0)
			conn_close(c);
	}
	if (!more) {
		c->recv_armed = false;
		if (c->state == CONN_OPEN)
			conn_arm_recv(c);
		sip_conn_unref(c);
	}
}

static void conn_arm_recv(struct sip_conn *c)
{
	struct sip_transport *t = c->tr;
	struct io_uring_sqe *sqe;

	if (c->recv_armed || c->state != CONN_OPEN || c->throttled || c->rd_eof)
		return;
	if (c->kind == SIP_TRANSPORT_TLS && !(c->offload & TLS_OFFLOAD_RX)) {
		tls_arm_poll(c, POLLIN);
		return;
	}
	sqe = loop_sqe(t->loop, &c->recv_op);
	if (!sqe)
		return;
	if (c->kind == SIP_TRANSPORT_UDP) {
		io_uring_prep_recvmsg_multishot(sqe, c->fd, &c->msg, 0);
		sqe->buf_group = UDP_BGID;
	} else {
		io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
		sqe->buf_group = TCP_BGID;
	}
	sqe->flags |= IOSQE_BUFFER_SELECT;
	c->recv_armed = true;
	sip_conn_ref(c);
}

/* ---- TLS: handshake and OpenSSL-record I/O driven by poll readiness ----
 *
 * Readiness (IORING_OP_POLL_ADD) rather than memory BIOs: once the handshake is done and the
 * kernel holds the records (kTLS), the socket must be the fd OpenSSL talked to, so the
 * handshake runs on the real socket; without kTLS the same poll drives SSL_read/SSL_write. */

static void tls_poll_done(struct loop_op *op, int res, uint32_t flags);

static void tls_arm_poll(struct sip_conn *c, unsigned events)
{
	struct io_uring_sqe *sqe;

	if (c->state == CONN_CLOSING)
		return;
	if (c->poll_armed) {
		/* A poll for POLLIN alone (the records' reader) would not wake a writer waiting
		 * for room in a full socket, and a peer that sends nothing more would then never
		 * get its responses: the armed poll waits for both. If it completed meanwhile, the
		 * update fails and its completion (tls_poll_done) writes and re-arms as needed. */
		if (!(events & ~c->poll_events))
			return;
		sqe = loop_sqe(c->tr->loop, NULL);
		if (!sqe)
			return;
		c->poll_events |= events;
		io_uring_prep_poll_update(sqe, (uint64_t)(uintptr_t)&c->poll_op, 0, c->poll_events,
					  IORING_POLL_UPDATE_EVENTS);
		io_uring_sqe_set_flags(sqe, IOSQE_CQE_SKIP_SUCCESS);
		return;
	}
	sqe = loop_sqe(c->tr->loop, &c->poll_op);
	if (!sqe)
		return;
	io_uring_prep_poll_add(sqe, c->fd, events);
	c->poll_armed = true;
	c->poll_events = events;
	sip_conn_ref(c);
}

static void tls_read_records(struct sip_conn *c)
{
	char buf[4096];

	while (!c->throttled && !c->rd_eof) {
		ssize_t n = tls_conn_read(c->tls, buf, sizeof(buf));

		if (n == -EAGAIN) {
			tls_arm_poll(c, POLLIN);
			return;
		}
		/* close_notify, or a FIN without it (OpenSSL's unexpected EOF; a reset peer is
		 * found out by the next write) */
		if (n == 0 || n == -ECONNRESET) {
			conn_read_eof(c);
			return;
		}
		if (n < 0) {
			conn_close(c);
			return;
		}
		stream_input(c, buf, (size_t)n);
		if (c->state != CONN_OPEN)
			return;
	}
}

static void tls_handshake_step(struct sip_conn *c)
{
	struct sip_transport *t = c->tr;
	int r = tls_conn_handshake(c->tls);

	if (r == -EAGAIN) {
		tls_arm_poll(c, tls_conn_want(c->tls));
		return;
	}
	handshake_release(c);
	if (r < 0) {
		t->stats.tls_handshakes_failed++;
		if (t->h.tls_failed)
			t->h.tls_failed(t->userdata, &c->peer, tls_conn_error(c->tls),
					r == -EACCES);
		conn_close(c);
		return;
	}
	t->stats.tls_handshakes_ok++;
	c->offload = (unsigned)tls_conn_offload(c->tls);
	if (c->offload & TLS_OFFLOAD_TX)
		t->stats.tls_ktls_tx++;
	if (c->offload & TLS_OFFLOAD_RX)
		t->stats.tls_ktls_rx++;
	{
		struct tls_peer_info pi;
		char addr[INET6_ADDRSTRLEN + 8];

		if (tls_conn_peer_info(c->tls, &pi) >= 0) {
			if (strcmp(pi.version, "TLSv1.3") == 0)
				t->stats.tls13_handshakes++;
			else if (strcmp(pi.version, "TLSv1.2") == 0)
				t->stats.tls12_handshakes++;
		}
		if (tls_conn_peer_info(c->tls, &pi) >= 0)
			log_debug("tls: connection from %s: %s %s, kTLS tx=%s rx=%s",
				  sockaddr_to_string(&c->peer, addr, sizeof(addr)), pi.version,
				  pi.cipher, c->offload & TLS_OFFLOAD_TX ? "kernel" : "openssl",
				  c->offload & TLS_OFFLOAD_RX ? "kernel" : "openssl");
	}
	c->state = CONN_OPEN;
	conn_touch(c, t->lim.idle_timeout_ms);
	/* tls_read_records may meet the peer's close_notify and close c: when the handshake
	 * finished right in accept_done no request holds a reference yet, so take one. */
	sip_conn_ref(c);
	if (c->offload & TLS_OFFLOAD_RX)
		conn_arm_recv(c);
	else
		tls_read_records(c);
	conn_kick_send(c);
	sip_conn_unref(c);
}

static void tls_poll_done(struct loop_op *op, int res, uint32_t flags)
{
	struct sip_conn *c = container_of(op, struct sip_conn, poll_op);

	c->poll_armed = false;
	if (res < 0 || c->state == CONN_CLOSING) {
		if (res < 0 && res != -ECANCELED)
			conn_close(c);
		sip_conn_unref(c);
		return;
	}
	if (c->state == CONN_HANDSHAKE) {
		tls_handshake_step(c);
	} else if (c->throttled || c->rd_eof) {
		/* Records are not read (a flush that meets a full socket re-arms for POLLOUT
		 * alone); a peer gone or in error cannot take its responses. */
		if (res & (POLLHUP | POLLERR))
			conn_close(c);
	} else if (res & (POLLIN | POLLHUP | POLLERR)) {
		tls_read_records(c);
	} else if (c->state == CONN_OPEN) {
		tls_arm_poll(c, POLLIN); /* woken for room to write: still reading records */
	}
	if (c->state == CONN_OPEN)
		conn_kick_send(c);
	sip_conn_unref(c);
}

static void handshake_timeout(struct loop_timer *tm)
{
	struct sip_conn *c = container_of(tm, struct sip_conn, idle_timer);

	if (c->state == CONN_HANDSHAKE) {
		c->tr->stats.tls_handshake_timeouts++;
		handshake_release(c);
		if (c->tr->h.tls_failed)
			c->tr->h.tls_failed(c->tr->userdata, &c->peer, "handshake timeout", false);
	} else {
		c->tr->stats.tcp_closed_idle++;
	}
	conn_close(c);
}

/* The send queue drained to the low mark: the requests read meanwhile are handed on, then the
 * peer is read again (unless those requests filled the queue once more). */
static void resume_fired(struct loop_timer *tm)
{
	struct sip_conn *c = container_of(tm, struct sip_conn, resume_timer);
	struct sip_transport *t = c->tr;

	if (c->state != CONN_OPEN || !c->throttled)
		return;
	c->throttled = false;
	t->stats.throttled--;
	loop_timer_disarm(t->loop, &c->stall_timer);
	throttle_log(c, "read again");
	sip_conn_ref(c);
	conn_touch(c, t->lim.idle_timeout_ms);
	stream_drain(c);
	if (c->state == CONN_OPEN && !c->throttled) {
		/* OpenSSL may hold records it already decrypted, which no poll would report: read
		 * those first. A multishot recv whose cancellation has not completed yet is
		 * re-armed by its last CQE. */
		if (c->rd_eof)
			eof_settle(c);
		else if (c->kind == SIP_TRANSPORT_TLS && !(c->offload & TLS_OFFLOAD_RX))
			tls_read_records(c);
		else
			conn_arm_recv(c);
	}
	sip_conn_unref(c);
}

/* ---- accepting ---- */

static void accept_arm(struct sip_conn *l)
{
	struct io_uring_sqe *sqe = loop_sqe(l->tr->loop, &l->recv_op);

	if (sqe) {
		io_uring_prep_multishot_accept(sqe, l->fd, NULL, NULL,
					       SOCK_NONBLOCK | SOCK_CLOEXEC);
		l->recv_armed = true;
		sip_conn_ref(l);
	}
}

static void accept_retry(struct loop_timer *tm)
{
	struct sip_conn *l = container_of(tm, struct sip_conn, idle_timer);

	if (l->state == CONN_OPEN && !l->recv_armed)
		accept_arm(l);
}

static void accept_done(struct loop_op *op, int res, uint32_t flags)
{
	struct sip_conn *l = container_of(op, struct sip_conn, recv_op);
	struct sip_transport *t = l->tr;
	bool more = flags & IORING_CQE_F_MORE, backoff = false;

	if (res >= 0) {
		int fd = res;
		struct sockaddr_storage peer = {0};
		socklen_t sl = sizeof(peer);
		struct sip_conn *c;
		bool tls = l->kind == SIP_TRANSPORT_TLS;
		int one = 1;

		if (l->state != CONN_OPEN) {
			close(fd);
			goto rearm;
		}
		getpeername(fd, (struct sockaddr *)&peer, &sl);
		/* Refusals close before a TLS handshake or a read costs anything. */
		if (!sip_acl_allows(t->acl[l->kind], &peer)) {
			t->stats.acl_refused++;
			refused(t, l->kind, &peer, SIP_REFUSED_ACL);
			close(fd);
			goto rearm;
		}
		if (t->stats.connections >= t->lim.max_connections ||
		    (tls && t->stats.handshakes >= t->lim.max_handshakes)) {
			t->stats.tcp_refused_limit++;
			refused(t, l->kind, &peer, SIP_REFUSED_CONN_LIMIT);
			close(fd);
			goto rearm;
		}
		if (sip_sources_get(t->sources, &peer, SIP_SRC_CONNECTIONS, 1,
				    t->lim.max_connections_per_source) < 0) {
			t->stats.source_limit_refused++;
			refused(t, l->kind, &peer, SIP_REFUSED_SOURCE_LIMIT);
			close(fd);
			goto rearm;
		}
		if (tls && sip_sources_get(t->sources, &peer, SIP_SRC_HANDSHAKES, 1,
					   t->lim.max_handshakes_per_source) < 0) {
			sip_sources_put(t->sources, &peer, SIP_SRC_CONNECTIONS, 1);
			t->stats.source_limit_refused++;
			refused(t, l->kind, &peer, SIP_REFUSED_SOURCE_LIMIT);
			close(fd);
			goto rearm;
		}
		c = conn_new(t, l->kind, fd);
		if (!c) {
			sip_sources_put(t->sources, &peer, SIP_SRC_CONNECTIONS, 1);
			if (tls)
				sip_sources_put(t->sources, &peer, SIP_SRC_HANDSHAKES, 1);
			close(fd);
			goto rearm;
		}
		c->peer = peer;
		c->source_counted = true;
		c->handshake_counted = tls;
		c->msg_timer.fn = message_timeout;
		c->flush_timer.fn = flush_fired;
		c->resume_timer.fn = resume_fired;
		c->stall_timer.fn = stall_fired;
		c->eof_timer.fn = eof_fired;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->recv_op.fn = tcp_recv_done;
		c->send_op.fn = send_done;
		c->poll_op.fn = tls_poll_done;
		t->stats.tcp_accepted++;
		t->stats.connections++;
		c->counted = true;
		if (tls) {
			int r;

			t->stats.handshakes++;
			r = tls_conn_new(l->tls_ctx, fd, &c->tls);
			c->idle_timer.fn = handshake_timeout;
			if (r < 0) {
				conn_close(c);
				goto rearm;
			}
			c->state = CONN_HANDSHAKE;
			loop_timer_arm(t->loop, &c->idle_timer,
				       loop_now_ms(t->loop) + t->lim.handshake_timeout_ms);
			tls_handshake_step(c);
		} else {
			c->idle_timer.fn = idle_fired;
			c->state = CONN_OPEN;
			conn_touch(c, t->lim.idle_timeout_ms);
			conn_arm_recv(c);
		}
	} else if (loop_accept_starved(res)) {
		t->stats.accept_deferred++;
		log_ratelimited(LOG_WARNING, "accept: %s: new connections wait %d ms",
				strerror(-res), LOOP_ACCEPT_RETRY_MS);
		backoff = true;
	} else if (res != -ECANCELED) {
		log_debug("accept: %s", strerror(-res));
	}
rearm:
	if (!more) {
		l->recv_armed = false;
		if (l->state == CONN_OPEN && backoff) {
			l->idle_timer.fn = accept_retry;
			loop_timer_arm(t->loop, &l->idle_timer,
				       loop_now_ms(t->loop) + LOOP_ACCEPT_RETRY_MS);
		} else if (l->state == CONN_OPEN) {
			accept_arm(l);
		}
		sip_conn_unref(l);
	}
}

int sip_transport_add_listener(struct sip_transport *t, enum sip_transport_kind kind, int fd,
			       struct tls_server_ctx *tls)
{
	struct sip_conn *c;
	int fl;

	fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	c = conn_new(t, kind, fd);
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->listener = kind != SIP_TRANSPORT_UDP;
	c->state = CONN_OPEN;
	c->tls_ctx = tls;
	c->send_op.fn = send_done;
	if (kind == SIP_TRANSPORT_UDP) {
		int one = 1;

		setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
		c->recv_op.fn = udp_recv_done;
		c->msg.msg_namelen = sizeof(struct sockaddr_storage);
		c->msg.msg_controllen = UDP_CONTROL_LEN;
		conn_arm_recv(c);
	} else {
		struct io_uring_sqe *sqe = loop_sqe(t->loop, &c->recv_op);

		c->recv_op.fn = accept_done;
		if (!sqe) {
			conn_close(c);
			return -EBUSY;
		}
		io_uring_prep_multishot_accept(sqe, fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		c->recv_armed = true;
		sip_conn_ref(c);
	}
	return 0;
}

int sip_transport_bind(struct sip_transport *t, enum sip_transport_kind kind, const char *addr,
		       uint16_t port, struct tls_server_ctx *tls)
{
	struct sockaddr_storage ss = {0};
	socklen_t sl;
	int fd, one = 1;
	bool v6 = strchr(addr, ':') != NULL;

	if (v6) {
		struct sockaddr_in6 *s = (void *)&ss;

		s->sin6_family = AF_INET6;
		s->sin6_port = htons(port);
		if (inet_pton(AF_INET6, addr, &s->sin6_addr) != 1)
			return -EINVAL;
		sl = sizeof(*s);
	} else {
		struct sockaddr_in *s = (void *)&ss;

		s->sin_family = AF_INET;
		s->sin_port = htons(port);
		if (inet_pton(AF_INET, addr, &s->sin_addr) != 1)
			return -EINVAL;
		sl = sizeof(*s);
	}
	fd = socket(ss.ss_family,
		    (kind == SIP_TRANSPORT_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC |
			    SOCK_NONBLOCK,
		    0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 ||
	    (kind != SIP_TRANSPORT_UDP && listen(fd, 1024) < 0)) {
		int r = -errno;

		close(fd);
		return r;
	}
	return sip_transport_add_listener(t, kind, fd, tls);
}

int sip_transport_new(struct loop *l, const struct sip_transport_limits *lim,
		      const struct sip_transport_handler *h, void *userdata,
		      struct sip_transport **ret)
{
	struct sip_transport *t = calloc(1, sizeof(*t));
	unsigned udp_bufsz;
	int r;

	if (!t)
		return -ENOMEM;
	t->loop = l;
	t->lim = *lim;
	t->h = *h;
	r = sip_sources_new(MAX_SOURCES, &t->sources);
	if (r < 0) {
		free(t);
		return r;
	}
	t->userdata = userdata;
	/* Each UDP buffer holds the recvmsg header, the source address, control data and one
	 * datagram of at most max_message_size bytes (larger ones arrive truncated: not taken in,
	 * only answered 513 from their first bytes, h.datagram_oversize). */
	udp_bufsz = (unsigned)ALIGN_UP(sizeof(struct io_uring_recvmsg_out) +
					       sizeof(struct sockaddr_storage) + UDP_CONTROL_LEN +
					       lim->max_message_size,
				       64);
	r = loop_buf_ring_new(l, UDP_BGID, UDP_BUFS, udp_bufsz, &t->udp_br);
	if (r < 0)
		goto fail;
	r = loop_buf_ring_new(l, TCP_BGID, TCP_BUFS, TCP_BUFSZ, &t->tcp_br);
	if (r < 0)
		goto fail;
	t->gather = malloc(TLS_RECORD_MAX);
	if (!t->gather) {
		r = -ENOMEM;
		goto fail;
	}
	*ret = t;
	return 0;
fail:
	loop_buf_ring_free(l, t->tcp_br);
	loop_buf_ring_free(l, t->udp_br);
	sip_sources_free(t->sources);
	free(t);
	return r;
}

void sip_transport_set_limits(struct sip_transport *t, const struct sip_transport_limits *lim)
{
	uint32_t max_message_size = t->lim.max_message_size;

	t->lim = *lim;
	/* The UDP buffers were sized for it at creation. */
	t->lim.max_message_size = max_message_size;
}

void sip_transport_shutdown(struct sip_transport *t)
{
	struct sip_conn *c, *next;

	if (!t || t->shutting_down)
		return;
	t->shutting_down = true;
	for (c = t->conns; c; c = next) {
		if (c->state == CONN_CLOSING) {
			next = c->next;
			continue;
		}
		/* Hold c across the close so its list link stays valid to read. */
		sip_conn_ref(c);
		conn_close(c);
		next = c->next;
		sip_conn_unref(c);
	}
}

void sip_transport_stop_accepting(struct sip_transport *t)
{
	struct sip_conn *c, *next;

	if (!t)
		return;
	for (c = t->conns; c; c = next) {
		if (!c->listener || c->state == CONN_CLOSING) {
			next = c->next;
			continue;
		}
		sip_conn_ref(c);
		conn_close(c);
		next = c->next;
		sip_conn_unref(c);
	}
}

struct sip_transport *sip_transport_free(struct sip_transport *t)
{
	if (!t)
		return NULL;
	sip_transport_shutdown(t);
	/* Called once the loop no longer runs: no CQE will be dispatched any more, so the
	 * references of requests still in flight are void. The ring's teardown cancels them. */
	while (t->conns) {
		struct sip_conn *c = t->conns;

		c->refs = 1;
		sip_conn_unref(c);
	}
	t->free_requested = true;
	transport_maybe_free(t);
	return NULL;
}

void sip_transport_get_stats(const struct sip_transport *t, struct sip_transport_stats *ret)
{
	*ret = t->stats;
}

void sip_transport_set_acl(struct sip_transport *t, enum sip_transport_kind kind,
			   struct sip_acl *acl)
{
	if ((size_t)kind >= ARRAY_SIZE(t->acl)) {
		sip_acl_free(acl);
		return;
	}
	sip_acl_free(t->acl[kind]);
	t->acl[kind] = acl;
}

struct sip_sources *sip_transport_sources(struct sip_transport *t)
{
	return t->sources;
}
