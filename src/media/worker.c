// SPDX-License-Identifier: MIT
/*
 * Media workers: one thread and one io_uring loop each. A worker owns its streams' sockets,
 * SRTP contexts and recording writers; the SIP thread talks to it only through loop_post, so
 * nothing on the packet path takes a lock. Per packet: multishot recvmsg CQE -> RTP/RTCP split
 * -> srtp_unprotect -> sequence accounting -> frame into the writer; sealed chunks are written
 * as they fill, and on every flush interval the open chunks are sealed and written and one
 * fdatasync (the worker's store_sync_group) makes them all durable.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include "media/media.h"
#include "media/latch.h"
#include "media/ports.h"
#include "media/rtp.h"
#include "siprecd/diskfault.h"
#include "siprecd/log.h"
#include "siprecd/loop.h"
#include "siprecd/sockaddr.h"

#define MEDIA_BGID 1
/* Buffers of the worker's receive ring, used in turn (FIFO): 512 keep the lines a datagram
 * fills within the core's caches (4,096 spread them over 8 MiB), and do not run dry here with
 * the worker stopped for 100 ms at 100,000 packets/s (the kernel runs the receives' task work
 * in bounded batches as the worker waits); a ring that runs dry costs re-arms, not packets
 * (bench/RESULTS.md, pktlayout). */
#define MEDIA_BUFS 512
#define MEDIA_BUFSZ 2048
#define MEDIA_CONTROL_LEN 128
#define CLOSE_POLL_MS 5
#define MEDIA_DRAIN_MAX 1024 /* datagrams read from a closing stream's socket, at most */
#define SOCKET_RCVBUF (512 * 1024)
/* telephone-events reported per stream at most (a sender could make one per packet) */
#define MEDIA_MAX_DTMF_EVENTS 10000

#define STAT_ADD(field, n) __atomic_add_fetch(&(field), (n), __ATOMIC_RELAXED)
#define STAT_SET(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)
#define STAT_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

struct media_worker {
	struct media_pool *pool;
	unsigned idx;
	pthread_t thread;
	bool started;
	struct loop *loop;
	struct loop_buf_ring *br;
	struct store_sync_group *sync_group; /* one fdatasync per flush interval for all streams */
	struct media_stream *streams;
	struct loop_timer flush_timer;
	struct loop_timer close_timer;
	struct loop_timer quit_timer;
	/* What close_check looks at: the closing streams that may move on. A closing stream off
	 * this list waits for an event that puts it back: its receives' last CQE (recv_common) or
	 * its writer's last request in flight (stream_writer_idle). */
	struct media_stream *closing_list;
	uint64_t enobufs;
	int setup_result; /* 0 = not yet, 1 = running, < 0 = failed */
};

struct media_pool {
	struct media_pool_config cfg;
	struct loop *sip_loop;
	struct media_worker *workers;
	unsigned n, next;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct media_ports ports; /* SIP thread only */
	uint64_t flush_ms;
};

/* The RFC 4733 event being received (one at a time per stream). */
struct dtmf_state {
	bool active, have_end;
	uint8_t event, volume, pt;
	uint16_t duration;
	uint32_t ts, ssrc, clock;
	uint32_t end_ts, end_ssrc; /* the last event that ended: its retransmissions are ignored */
	uint64_t started_ms;
	uint32_t reported;
};

/*
 * Laid out for the packet path: what a recorded RTP packet reads or writes sits in the first
 * lines (the CQE's op, the contexts, the caps, the recvmsg header, the flags), then the
 * sequence window, the latch and the counters, each group starting where a cache line does;
 * with the object 64-byte aligned (media_stream_open) a packet touches 6-7 of its 29 lines
 * instead of 14 of 30 (`ptype /o struct media_stream`, bench/RESULTS.md "pktstate"). Worker-owned
 * unless said otherwise.
 */
struct media_stream {
	/* line 0 */
	struct loop_op recv_op; /* read by the loop for every CQE */
	struct media_worker *w;
	struct media_pool *pool; /* set at open, read-only afterwards */
	struct srtp_rx *srtp, *srtp_old;
	struct store_writer *writer;
	uint64_t rec_packets, rec_bytes; /* frames recorded, for the caps */
	/* line 1 */
	struct msghdr msg;
	int error;
	/* Packet-path policy, copied at open: no lookups per packet. */
	enum media_latch latch_mode;
	/* line 2 */
	bool rtcp_mux; /* set at open */
	bool has_remote, check_pt, capped, dirty, finished, closing, paused;
	uint64_t lost_carry;
	uint64_t pt_mask[2], dtmf_mask[2];
	int fd, rtcp_fd; /* set at open */
	uint16_t port;
	bool recv_armed, rtcp_armed;
	/* line 3: the header and, by sequence number, one word of the window */
	struct rtp_seq seq;
	uint8_t dtmf_pt[MEDIA_MAX_DTMF_PTS];
	unsigned n_dtmf;
	uint32_t dtmf_clock[MEDIA_MAX_DTMF_PTS];
	struct media_stream *close_next; /* in the worker's closing_list */
	/* line 6 */
	struct media_latch_state latch, rtcp_latch;
	/* read by anyone (relaxed atomics); its hot counters come first, at line 10 */
	struct media_stream_stats stats;

	/* Cold from here on. */
	struct loop_op rtcp_op;
	struct media_stream *prev, *next;
	struct sockaddr_storage remote;
	struct store_params sp;
	char *path, *session_uuid, *recording_uuid, *label, *codec, *formats;
	struct recording_key rkey;
	struct dtmf_state dtmf;
	void (*started_fn)(void *userdata, int result);
	void *started_ud;
	int start_result;
	void (*failed_fn)(void *userdata, int error);
	void *failed_ud;
	int failed_error;
	bool failed_posted;
	bool discard;	   /* set by the SIP thread before its close message */
	bool close_queued; /* on the worker's closing_list */
	media_closed_fn closed_fn;
	void *closed_ud;
	struct media_stream_result result;
} __attribute__((aligned(64)));
/* The groups above start on a cache line; a field added before one moves it. */
_Static_assert(offsetof(struct media_stream, seq) % 64 == 0 &&
		       offsetof(struct media_stream, latch) % 64 == 0 &&
		       offsetof(struct media_stream, stats) % 64 +
				       offsetof(struct media_stream_stats, rtcp_packets) <=
			       64,
	       "struct media_stream: the packet path's groups no longer start on cache lines");

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int worker_get_sqes(void *userdata, unsigned n, struct io_uring_sqe **ret)
{
	struct media_worker *w = userdata;

	return loop_sqes(w->loop, n, ret);
}

/* On the SIP thread; s lives until its closed callback, which is posted after this one. */
static void sip_stream_failed(void *arg)
{
	struct media_stream *s = arg;

	s->failed_fn(s->failed_ud, s->failed_error);
}

/*
 * Tells the SIP thread, once, that the recording failed (s->error, or the writer's own error
 * from a write or fdatasync CQE), so the session can end and the SRC fail over instead of
 * losing the rest of the call in silence.
 */
static void stream_check_failed(struct media_stream *s)
{
	int err = s->error;

	if (!err && s->writer)
		err = store_writer_error(s->writer);
	if (!err || s->failed_posted || !s->failed_fn || s->closing)
		return;
	s->failed_posted = true;
	s->failed_error = err;
	loop_post(s->pool->sip_loop, sip_stream_failed, s);
}

static void stream_submit(struct media_stream *s, bool sync)
{
	int r;

	if (!s->writer || s->error)
		return;
	r = store_writer_submit(s->writer, worker_get_sqes, s->w, sync);
	if (r < 0 && r != -EBUSY) {
		s->error = r;
		log_ratelimited(LOG_ERR, "recording %s: write failed: %s", s->path, strerror(-r));
		stream_check_failed(s);
	}
}

static void stream_event(struct media_stream *s, uint8_t ev)
{
	struct store_frame f = {
		.type = STORE_FRAME_EVENT,
		.len = 1,
		.arrival_ns = realtime_ns(),
		.ssrc = s->stats.ssrc,
		.payload = &ev,
	};

	if (s->writer && !s->error && !s->finished) {
		store_writer_add(s->writer, &f);
		s->dirty = true;
	}
}

static void record(struct media_stream *s, uint16_t type, const struct rtp_header *h,
		   const uint8_t *payload, size_t len, uint64_t arrival_ns)
{
	struct store_frame f = {
		.type = type,
		.len = (uint16_t)len,
		.arrival_ns = arrival_ns,
		.payload = payload,
	};
	int r;

	if (h) {
		f.ssrc = h->ssrc;
		f.seq = h->seq;
		f.rtp_ts = h->ts;
		f.pt = h->pt;
		f.flags = h->marker ? STORE_FRAME_MARKER : 0;
	}
	if (!s->writer || s->error || s->finished)
		return;
	r = store_writer_add(s->writer, &f);
	if (r < 0) {
		s->error = r;
		log_ratelimited(LOG_ERR, "recording %s: %s", s->path, strerror(-r));
		stream_check_failed(s);
		return;
	}
	s->dirty = true;
	if (store_writer_pending(s->writer) > 0)
		stream_submit(s, false);
}

/* Tries the current SRTP context, and during a re-key the previous one on a copy. */
static int srtp_unprotect(struct media_stream *s, uint8_t *pkt, size_t *len, bool rtcp)
{
	uint8_t copy[MEDIA_BUFSZ];
	size_t l = *len;
	int r;

	if (s->srtp_old)
		memcpy(copy, pkt, l);
	r = rtcp ? srtp_rx_unprotect_rtcp(s->srtp, pkt, len)
		 : srtp_rx_unprotect_rtp(s->srtp, pkt, len);
	if (r == 0) {
		/* The first packet under the new key ends the overlap (RTP only: SRTCP may lag). */
		if (s->srtp_old && !rtcp)
			s->srtp_old = srtp_rx_free(s->srtp_old);
		return 0;
	}
	if (s->srtp_old && r == -EBADMSG) {
		int r2;

		memcpy(pkt, copy, l);
		*len = l;
		r2 = rtcp ? srtp_rx_unprotect_rtcp(s->srtp_old, pkt, len)
			  : srtp_rx_unprotect_rtp(s->srtp_old, pkt, len);
		if (r2 == 0 || r2 == -EALREADY)
			return r2;
	}
	return r;
}

static int dtmf_index(const struct media_stream *s, uint8_t pt)
{
	for (unsigned i = 0; i < s->n_dtmf; i++)
		if (s->dtmf_pt[i] == pt)
			return (int)i;
	return -1;
}

static void dtmf_report(struct media_stream *s, bool ended)
{
	struct dtmf_state *d = &s->dtmf;
	const struct media_pool_config *c = &s->pool->cfg;
	struct media_dtmf_event ev = {
		.session_uuid = s->session_uuid,
		.recording_uuid = s->recording_uuid,
		.label = s->label,
		.event = d->event,
		.volume = d->volume,
		.ended = ended,
		.pt = d->pt,
		.ssrc = d->ssrc,
		.rtp_ts = d->ts,
		.duration = d->duration,
		.duration_ms = d->clock ? (uint32_t)((uint64_t)d->duration * 1000 / d->clock) : 0,
		.started_ms = d->started_ms,
	};

	d->active = false;
	STAT_ADD(s->stats.dtmf_events, 1);
	/* DTMF_POLICY=drop: counted, never written anywhere */
	if (c->dtmf_policy == DTMF_POLICY_DROP || d->reported >= MEDIA_MAX_DTMF_EVENTS)
		return;
	d->reported++;
	if (c->dtmf)
		c->dtmf(c->dtmf_userdata, &ev);
}

/*
 * RFC 4733 §2.3: all packets of one event share its RTP timestamp; the duration grows; the
 * last one has the E bit and is sent up to three times (§2.5.1.4). An event is reported once,
 * at its first end packet, or when a new event starts (or the stream closes) without one.
 */
static void dtmf_packet(struct media_stream *s, const struct rtp_header *h, const uint8_t *p,
			uint32_t clock, uint64_t arrival_ns)
{
	struct dtmf_state *d = &s->dtmf;
	uint16_t dur;

	if (h->payload_len < 4)
		return;
	if (d->have_end && d->end_ts == h->ts && d->end_ssrc == h->ssrc)
		return;
	if (d->active && (d->ts != h->ts || d->ssrc != h->ssrc))
		dtmf_report(s, false);
	dur = (uint16_t)(p[2] << 8 | p[3]);
	if (!d->active) {
		d->active = true;
		d->ts = h->ts;
		d->ssrc = h->ssrc;
		d->pt = h->pt;
		d->clock = clock;
		d->event = p[0];
		d->duration = 0;
		d->started_ms = arrival_ns / 1000000;
	}
	if (dur > d->duration)
		d->duration = dur;
	d->volume = p[1] & 0x3f;
	if (p[1] & 0x80) {
		d->have_end = true;
		d->end_ts = h->ts;
		d->end_ssrc = h->ssrc;
		dtmf_report(s, true);
	}
}

static void ssrc_note(struct media_stream *s, uint32_t ssrc)
{
	uint32_t n = s->stats.n_ssrcs;

	for (uint32_t i = 0; i < n && i < MEDIA_MAX_SSRCS; i++)
		if (s->stats.ssrcs[i] == ssrc)
			return;
	if (n < MEDIA_MAX_SSRCS)
		s->stats.ssrcs[n] = ssrc;
	/* readers take n_ssrcs with acquire, then the entries below it */
	__atomic_store_n(&s->stats.n_ssrcs, n + 1, __ATOMIC_RELEASE);
}

/* The per-stream caps: true when this frame may still be recorded. */
static bool under_caps(struct media_stream *s, size_t len)
{
	const struct media_pool_config *c = &s->pool->cfg;

	if ((c->max_packets && s->rec_packets >= c->max_packets) ||
	    (c->max_bytes && s->rec_bytes + len > c->max_bytes)) {
		STAT_ADD(s->stats.dropped_limit, 1);
		if (!s->capped) {
			s->capped = true;
			log_ratelimited(LOG_WARNING,
					"stream %s/%s: per-stream cap reached (%llu packets, %llu "
					"bytes); later packets are dropped",
					s->session_uuid, s->label,
					(unsigned long long)s->rec_packets,
					(unsigned long long)s->rec_bytes);
		}
		return false;
	}
	s->rec_packets++;
	s->rec_bytes += len;
	return true;
}

static void handle_packet(struct media_stream *s, uint8_t *pkt, size_t len, uint64_t arrival_ns,
			  bool rtcp_port, const struct sockaddr_storage *src)
{
	char peer[INET6_ADDRSTRLEN + 8];
	struct media_latch_state *l = rtcp_port ? &s->rtcp_latch : &s->latch;
	struct rtp_header h;
	/* RTCP on the RTP port: any RFC 5761 type with rtcp-mux; without it (an SRC muxing
	 * unannounced) the types RFC 3551 §6 keeps out of RTP's way, never recorded as audio. */
	bool rtcp =
		rtcp_port || (s->rtcp_mux ? rtp_is_rtcp(pkt, len) : rtp_is_rtcp_reserved(pkt, len));
	bool latch;
	int r, di;

	if (!media_latch_allows(s->latch_mode, l, s->has_remote ? &s->remote : NULL, src, &latch)) {
		STAT_ADD(s->stats.dropped_source, 1);
		return;
	}
	if (len < 8 || (pkt[0] >> 6) != 2) {
		STAT_ADD(s->stats.malformed, 1);
		return;
	}
	if (s->srtp) {
		r = srtp_unprotect(s, pkt, &len, rtcp);
		if (r == -EALREADY) {
			STAT_ADD(s->stats.srtp_replays, 1);
			return;
		}
		if (r < 0) {
			STAT_ADD(s->stats.srtp_auth_failures, 1);
			log_ratelimited(LOG_WARNING,
					"stream %s/%s: SRTP%s authentication failed (from %s)",
					s->session_uuid, s->label, rtcp ? "C" : "",
					sockaddr_to_string(src, peer, sizeof(peer)));
			return;
		}
	}
	if (rtcp) {
		if (latch) {
			l->addr = *src;
			l->set = true;
		}
		STAT_ADD(s->stats.rtcp_packets, 1);
		if (under_caps(s, len))
			record(s, STORE_FRAME_RTCP, NULL, pkt, len, arrival_ns);
		return;
	}
	if (rtp_parse(pkt, len, &h) < 0) {
		STAT_ADD(s->stats.malformed, 1);
		return;
	}
	if (latch) {
		l->addr = *src;
		l->set = true;
		if (!rtcp_port)
			s->stats.latched = *src;
	}
	switch (rtp_seq_update(&s->seq, h.ssrc, h.seq)) {
	case RTP_SEQ_DUPLICATE:
	case RTP_SEQ_TOO_OLD:
		STAT_ADD(s->stats.duplicates, 1);
		return;
	case RTP_SEQ_REORDERED:
		STAT_ADD(s->stats.out_of_order, 1);
		break;
	case RTP_SEQ_NEW_SSRC:
		STAT_ADD(s->stats.ssrc_changes, 1);
		s->lost_carry = STAT_GET(s->stats.lost);
		stream_event(s, STORE_EVENT_SSRC_CHANGE);
		break;
	case RTP_SEQ_OK:
		break;
	}
	if (h.ssrc != s->stats.ssrc || s->stats.n_ssrcs == 0)
		ssrc_note(s, h.ssrc);
	STAT_SET(s->stats.ssrc, h.ssrc);
	STAT_ADD(s->stats.packets, 1);
	STAT_ADD(s->stats.bytes, h.payload_len);
	STAT_SET(s->stats.lost, s->lost_carry + rtp_seq_lost(&s->seq));
	if (!s->stats.first_packet_ms)
		STAT_SET(s->stats.first_packet_ms, arrival_ns / 1000000);
	STAT_SET(s->stats.last_packet_ms, arrival_ns / 1000000);
	if (s->check_pt && !(s->pt_mask[h.pt / 64] & (1ULL << (h.pt % 64))))
		STAT_ADD(s->stats.unnegotiated_pt, 1);
	/* telephone-event: DTMF_POLICY decides before anything is written (PCI). */
	if ((s->dtmf_mask[h.pt / 64] & (1ULL << (h.pt % 64))) && (di = dtmf_index(s, h.pt)) >= 0) {
		dtmf_packet(s, &h, pkt + h.payload_off, s->dtmf_clock[di], arrival_ns);
		if (s->pool->cfg.dtmf_policy != DTMF_POLICY_RECORD)
			return;
	}
	if (under_caps(s, h.payload_len))
		record(s, STORE_FRAME_RTP, &h, pkt + h.payload_off, h.payload_len, arrival_ns);
}

static void stream_arm(struct media_stream *s, bool rtcp);

/* Puts a closing stream on the list close_check looks at (on its next tick). */
static void close_queue(struct media_stream *s)
{
	struct media_worker *w = s->w;

	if (s->close_queued)
		return;
	s->close_queued = true;
	s->close_next = w->closing_list;
	w->closing_list = s;
	if (!loop_timer_armed(&w->close_timer))
		loop_timer_arm(w->loop, &w->close_timer, loop_now_ms(w->loop) + CLOSE_POLL_MS);
}

static void recv_common(struct media_stream *s, int res, uint32_t flags, bool rtcp)
{
	struct media_worker *w = s->w;

	if (res >= 0 && (flags & IORING_CQE_F_BUFFER)) {
		uint16_t bid = (uint16_t)(flags >> IORING_CQE_BUFFER_SHIFT);
		void *buf = loop_buf_ring_buf(w->br, bid);
		struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(buf, res, &s->msg);

		if (o && !s->finished && !(o->flags & MSG_TRUNC)) {
			struct sockaddr_storage src = {0};
			uint64_t arrival = 0;
			struct cmsghdr *cm;

			for (cm = io_uring_recvmsg_cmsg_firsthdr(o, &s->msg); cm;
			     cm = io_uring_recvmsg_cmsg_nexthdr(o, &s->msg, cm)) {
				if (cm->cmsg_level == SOL_SOCKET &&
				    cm->cmsg_type == SCM_TIMESTAMPNS) {
					struct timespec ts;

					memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
					arrival = (uint64_t)ts.tv_sec * 1000000000ULL +
						  (uint64_t)ts.tv_nsec;
				}
			}
			if (!arrival)
				arrival = realtime_ns();
			/* the name area is msg_namelen (= sizeof(src)) bytes; namelen is what
			 * the kernel had, possibly more */
			memcpy(&src, io_uring_recvmsg_name(o), MIN(o->namelen, sizeof(src)));
			handle_packet(s, io_uring_recvmsg_payload(o, &s->msg),
				      io_uring_recvmsg_payload_length(o, res, &s->msg), arrival,
				      rtcp, o->namelen ? &src : NULL);
		} else if (o && (o->flags & MSG_TRUNC)) {
			STAT_ADD(s->stats.malformed, 1);
		}
		loop_buf_ring_recycle(w->br, bid);
	} else if (res == -ENOBUFS) {
		/* The buffer ring ran dry: the datagrams wait in the socket; re-arm. */
		w->enobufs++;
	} else if (res < 0 && res != -ECANCELED) {
		log_ratelimited(LOG_WARNING, "media recvmsg: %s%s", strerror(-res),
				res == -EINVAL ? " (multishot recvmsg needs Linux 6.0 or newer)"
					       : "");
	}
	if (!(flags & IORING_CQE_F_MORE)) {
		if (rtcp)
			s->rtcp_armed = false;
		else
			s->recv_armed = false;
		/* -EINVAL: the kernel refuses the request itself; re-arming would spin. */
		if (s->closing)
			close_queue(s);
		else if (res != -EINVAL)
			stream_arm(s, rtcp);
	}
}

static void recv_done(struct loop_op *op, int res, uint32_t flags)
{
	recv_common(container_of(op, struct media_stream, recv_op), res, flags, false);
}

static void rtcp_done(struct loop_op *op, int res, uint32_t flags)
{
	recv_common(container_of(op, struct media_stream, rtcp_op), res, flags, true);
}

/*
 * The loop's prefetch hook (loop_set_prefetch): for a receive completion a few places ahead,
 * start loading the stream's state in three steps, each through pointers the previous one
 * loaded: the lines of struct media_stream the packet path touches; the SRTP context, the
 * writer and the sequence window's word; libsrtp's session arena and the open chunk's end.
 */
static void stream_prefetch(struct loop_op *op, unsigned stage)
{
	struct media_stream *s;

	if (op->fn == recv_done)
		s = container_of(op, struct media_stream, recv_op);
	else if (op->fn == rtcp_done)
		s = container_of(op, struct media_stream, rtcp_op);
	else
		return;
	switch (stage) {
	case 0:
		/* one per group of the struct's hot lines (see its layout) */
		__builtin_prefetch(s);
		__builtin_prefetch(&s->msg);
		__builtin_prefetch(&s->lost_carry);
		__builtin_prefetch(&s->seq);
		__builtin_prefetch(&s->latch);
		__builtin_prefetch(&s->stats);
		break;
	case 1:
		__builtin_prefetch(s->srtp);
		__builtin_prefetch(s->writer);
		rtp_seq_prefetch(&s->seq);
		break;
	default:
		if (s->srtp)
			srtp_rx_prefetch(s->srtp);
		if (s->writer)
			store_writer_prefetch(s->writer);
		break;
	}
}

static void stream_arm(struct media_stream *s, bool rtcp)
{
	struct io_uring_sqe *sqe = loop_sqe(s->w->loop, rtcp ? &s->rtcp_op : &s->recv_op);

	if (!sqe)
		return;
	io_uring_prep_recvmsg_multishot(sqe, rtcp ? s->rtcp_fd : s->fd, &s->msg, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = MEDIA_BGID;
	if (rtcp)
		s->rtcp_armed = true;
	else
		s->recv_armed = true;
}

/* ---- stream lifecycle on the worker ---- */

/* On the SIP thread: the stream object lives until its closed callback, which the worker
 * posts after this one, so s is valid here. */
static void sip_stream_started(void *arg)
{
	struct media_stream *s = arg;

	s->started_fn(s->started_ud, s->start_result);
}

/* The writer's last request in flight completed: a closing stream may be done. */
static void stream_writer_idle(void *arg)
{
	struct media_stream *s = arg;

	if (s->closing)
		close_queue(s);
}

static void worker_stream_start(void *arg)
{
	struct media_stream *s = arg;
	struct media_worker *w = s->w;
	int r;

	s->next = w->streams;
	if (w->streams)
		w->streams->prev = s;
	w->streams = s;
	/* Creating the file is a short metadata operation; it happens here, off the SIP
	 * thread, once per stream; in a directory the worker's sync group keeps open, which
	 * also syncs it once for all the files created in it meanwhile. */
	s->sp.group = w->sync_group;
	r = store_writer_open(&s->sp, &s->writer);
	recording_key_wipe(&s->rkey);
	s->sp.key = NULL;
	if (r < 0) {
		s->error = r;
		log_error("recording %s: cannot create: %s", s->path, strerror(-r));
	} else {
		/* not joined (buffered I/O, another device): the file takes its own syncs;
		 * joined at open already: -EALREADY */
		if (w->sync_group)
			store_writer_join(s->writer, w->sync_group);
		store_writer_set_idle_fn(s->writer, stream_writer_idle, s);
		stream_submit(s, false);
	}
	stream_arm(s, false);
	if (s->rtcp_fd >= 0)
		stream_arm(s, true);
	if (s->started_fn) {
		s->start_result = r < 0 ? r : 0;
		loop_post(s->pool->sip_loop, sip_stream_started, s);
	}
}

static void sip_stream_closed(void *arg)
{
	struct media_stream *s = arg;

	if (s->closed_fn)
		s->closed_fn(s->closed_ud, s, &s->result);
	/* the sockets were closed on the worker before this was posted */
	media_ports_release(&s->pool->ports, s->port);
	free(s->path);
	free(s->session_uuid);
	free(s->recording_uuid);
	free(s->label);
	free(s->codec);
	free(s->formats);
	free(s);
}

static void stream_finish_done(struct media_stream *s)
{
	struct media_worker *w = s->w;
	const struct store_writer_stats *ws;

	if (s->prev)
		s->prev->next = s->next;
	else
		w->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	memcpy(&s->result.stats, &s->stats, sizeof(s->stats));
	s->result.error = s->error;
	if (s->writer) {
		ws = store_writer_stats(s->writer);
		s->result.complete = !s->error && store_writer_durable_final(s->writer);
		s->result.file_size = store_writer_file_size(s->writer);
		s->result.chunks = ws->chunks;
		s->result.frames = ws->frames;
		s->result.p99_durable_us = store_lat_quantile_us(ws, 0.99);
		/* bench/capacity.sh reads this line for its p99 packet->durable figure. */
		log_debug("recording %s: %llu frames, %llu chunks, p99 packet->durable %llu us",
			  s->path, (unsigned long long)ws->frames, (unsigned long long)ws->chunks,
			  (unsigned long long)s->result.p99_durable_us);
		if (!s->result.error)
			s->result.error = store_writer_error(s->writer);
		/* After an error the hash is of what the writer meant to write (its last chunks
		 * may have failed): none is given. */
		s->result.have_sha256 =
			!s->result.error && store_writer_sha256(s->writer, s->result.sha256) == 0;
		store_writer_close(s->writer);
		s->writer = NULL;
		if (s->discard && !s->stats.packets && !s->stats.rtcp_packets &&
		    unlink(s->path) == 0)
			s->result.discarded = true;
	}
	s->srtp = srtp_rx_free(s->srtp);
	s->srtp_old = srtp_rx_free(s->srtp_old);
	close(s->fd);
	if (s->rtcp_fd >= 0)
		close(s->rtcp_fd);
	loop_post(s->pool->sip_loop, sip_stream_closed, s);
}

/* Datagrams still queued on a closing stream's socket (sent before the BYE, read after it). */
static void stream_drain(struct media_stream *s, int fd, bool rtcp)
{
	uint8_t buf[MEDIA_BUFSZ];

	for (unsigned i = 0; i < MEDIA_DRAIN_MAX; i++) {
		struct sockaddr_storage src = {0};
		socklen_t sl = sizeof(src);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC,
				     (struct sockaddr *)&src, &sl);

		if (n < 0)
			break;
		if ((size_t)n > sizeof(buf)) {
			STAT_ADD(s->stats.malformed, 1);
			continue;
		}
		handle_packet(s, buf, (size_t)n, realtime_ns(), rtcp, sl ? &src : NULL);
	}
}

/* Both receives have ended: drains the sockets, then seals the FINAL chunk (once). */
static void stream_finish_writer(struct media_stream *s)
{
	int r;

	if (s->writer && !s->error) {
		stream_drain(s, s->fd, false);
		if (s->rtcp_fd >= 0)
			stream_drain(s, s->rtcp_fd, true);
	}
	/* an event whose end packets never came (the call ended during a digit) */
	if (s->dtmf.active)
		dtmf_report(s, false);
	if (s->writer && !s->error) {
		r = store_writer_finish(s->writer);
		if (r < 0)
			s->error = r;
		stream_submit(s, true);
	}
	s->finished = true;
}

static void close_check(struct loop_timer *t)
{
	struct media_worker *w = container_of(t, struct media_worker, close_timer);
	struct media_stream **pp = &w->closing_list;

	/* Only the closing streams that may move on: under call churn a walk of every stream
	 * each CLOSE_POLL_MS cost O(streams) per tick (11% of the media worker in
	 * bench/setup-rate.sh), and one of every closing stream, most of them waiting for their
	 * FINAL fdatasync, still 13% (bench/RESULTS.md, setupmedia2). */
	while (*pp) {
		struct media_stream *s = *pp;

		if (s->recv_armed || s->rtcp_armed) {
			/* the receive's last CQE queues it again */
			*pp = s->close_next;
			s->close_queued = false;
			continue;
		}
		if (!s->finished)
			stream_finish_writer(s);
		if (s->writer && !s->error && store_writer_pending(s->writer) > 0)
			stream_submit(s, true);
		/* Never while writes are in flight, even after an error (see
		 * store_writer_closable; tests/unit/test-storage.c). */
		if (!s->writer || store_writer_closable(s->writer, s->error)) {
			*pp = s->close_next;
			stream_finish_done(s);
			continue;
		}
		if (store_writer_in_flight(s->writer)) {
			/* the writer's last CQE queues it again (stream_writer_idle) */
			*pp = s->close_next;
			s->close_queued = false;
			continue;
		}
		/* blocks left unsubmitted (no room in the ring): looked at again next tick */
		pp = &s->close_next;
	}
	if (w->closing_list)
		loop_timer_arm(w->loop, t, loop_now_ms(w->loop) + CLOSE_POLL_MS);
}

static void cancel_op(struct media_worker *w, struct loop_op *op)
{
	struct io_uring_sqe *sqe = loop_sqe(w->loop, NULL);

	if (sqe) {
		io_uring_prep_cancel(sqe, op, 0);
		io_uring_sqe_set_flags(sqe, IOSQE_CQE_SKIP_SUCCESS);
	}
}

static void worker_stream_close(void *arg)
{
	struct media_stream *s = arg;
	struct media_worker *w = s->w;

	/* The receives are cancelled; packets already queued (in the CQ or the socket) are still
	 * recorded: the writer is finished by close_check once both receives have ended. */
	if (s->closing)
		return;
	s->closing = true;
	if (s->recv_armed)
		cancel_op(w, &s->recv_op);
	if (s->rtcp_armed)
		cancel_op(w, &s->rtcp_op);
	close_queue(s);
}

struct rekey_msg {
	struct media_stream *s;
	struct srtp_rx *rx;
};

static void worker_stream_rekey(void *arg)
{
	struct rekey_msg *m = arg;
	struct media_stream *s = m->s;

	srtp_rx_free(s->srtp_old);
	s->srtp_old = s->srtp;
	s->srtp = m->rx;
	free(m);
}

struct update_msg {
	struct media_stream *s;
	bool has_remote;
	struct sockaddr_storage remote;
	uint64_t pt_mask[2];
	uint8_t dtmf_pt[MEDIA_MAX_DTMF_PTS];
	uint32_t dtmf_clock[MEDIA_MAX_DTMF_PTS];
	unsigned n_dtmf;
};

/* Copies the payload-type tables of pa into the stream's packet-path fields. */
static void formats_set(struct media_stream *s, const uint64_t pt_mask[2], const uint8_t *dtmf_pt,
			const uint32_t *dtmf_clock, unsigned n_dtmf)
{
	s->pt_mask[0] = pt_mask[0];
	s->pt_mask[1] = pt_mask[1];
	s->check_pt = pt_mask[0] || pt_mask[1];
	s->dtmf_mask[0] = s->dtmf_mask[1] = 0;
	s->n_dtmf = 0;
	for (unsigned i = 0; i < n_dtmf && i < MEDIA_MAX_DTMF_PTS; i++) {
		uint8_t pt = dtmf_pt[i] & 0x7f;

		s->dtmf_pt[s->n_dtmf] = pt;
		s->dtmf_clock[s->n_dtmf++] = dtmf_clock[i];
		s->dtmf_mask[pt / 64] |= 1ULL << (pt % 64);
	}
}

static void worker_stream_update(void *arg)
{
	struct update_msg *m = arg;
	struct media_stream *s = m->s;

	if (m->has_remote != s->has_remote ||
	    (m->has_remote && memcmp(&m->remote, &s->remote, sizeof(m->remote)) != 0)) {
		s->has_remote = m->has_remote;
		s->remote = m->remote;
		s->latch.set = false;
		s->rtcp_latch.set = false;
	}
	formats_set(s, m->pt_mask, m->dtmf_pt, m->dtmf_clock, m->n_dtmf);
	free(m);
}

struct pause_msg {
	struct media_stream *s;
	bool paused;
};

static void worker_stream_pause(void *arg)
{
	struct pause_msg *m = arg;

	if (m->s->paused != m->paused) {
		m->s->paused = m->paused;
		stream_event(m->s, m->paused ? STORE_EVENT_HOLD : STORE_EVENT_RESUME);
	}
	free(m);
}

static void flush_fired(struct loop_timer *t)
{
	struct media_worker *w = container_of(t, struct media_worker, flush_timer);

	for (struct media_stream *s = w->streams; s; s = s->next) {
		stream_check_failed(s);
		if (!s->dirty || s->closing || !s->writer || s->error) {
			/* blocks a full ring left unsubmitted (the group's sync waits for them), or
			 * a new file's first sync, deferred at open (store_writer_submit) */
			if (!s->closing && s->writer && !s->error)
				stream_submit(s, false);
			continue;
		}
		if (store_writer_flush(s->writer) == 0)
			stream_submit(s, true);
		s->dirty = false;
	}
	if (w->sync_group)
		store_sync_group_request(w->sync_group, worker_get_sqes, w);
	/* A volume failing: its directories are let go as their files close, so that it can be
	 * unmounted and repaired while siprecd runs. */
	if (w->sync_group && disk_fault_any())
		store_sync_group_close_dirs(w->sync_group);
	loop_timer_arm(w->loop, t, loop_now_ms(w->loop) + w->pool->flush_ms);
}

/* The ring is created by the thread that runs it: IORING_SETUP_SINGLE_ISSUER refuses
 * submissions (-EEXIST) from any other task. */
static void *worker_main(void *arg)
{
	struct media_worker *w = arg;
	char name[16];
	int r;

	snprintf(name, sizeof(name), "siprecd-media%u", w->idx);
	pthread_setname_np(pthread_self(), name);
	r = loop_new(1024, &w->loop);
	if (r >= 0) {
		r = loop_buf_ring_new(w->loop, MEDIA_BGID, MEDIA_BUFS, MEDIA_BUFSZ, &w->br);
		if (r < 0)
			log_error("media worker: io_uring provided buffer ring: %s%s", strerror(-r),
				  r == -EINVAL || r == -EOPNOTSUPP ? " (needs Linux 5.19 or newer)"
								   : "");
	} else {
		log_error("media worker: io_uring setup: %s", strerror(-r));
	}
	if (r >= 0 && store_sync_group_new(&w->sync_group) < 0)
		w->sync_group = NULL; /* every file then syncs itself, as it would alone */
	if (r >= 0) {
		w->flush_timer.fn = flush_fired;
		w->close_timer.fn = close_check;
		loop_set_batch(w->loop, w->pool->cfg.batch, w->pool->cfg.batch_wait_us);
		loop_set_prefetch(w->loop, stream_prefetch);
		loop_timer_arm(w->loop, &w->flush_timer, loop_now_ms(w->loop) + w->pool->flush_ms);
	}
	pthread_mutex_lock(&w->pool->lock);
	w->setup_result = r < 0 ? r : 1;
	pthread_cond_broadcast(&w->pool->cond);
	pthread_mutex_unlock(&w->pool->lock);
	if (r < 0)
		return NULL;
	loop_run(w->loop);
	log_debug("media worker %u: the buffer ring ran dry %" PRIu64 " times", w->idx, w->enobufs);
	w->sync_group = store_sync_group_free(w->sync_group);
	loop_buf_ring_free(w->loop, w->br);
	w->br = NULL;
	return NULL;
}

/* The group's sync in flight names the group: the loop ends after its CQE. */
static void quit_check(struct loop_timer *t)
{
	struct media_worker *w = container_of(t, struct media_worker, quit_timer);

	if (w->sync_group && store_sync_group_in_flight(w->sync_group))
		loop_timer_arm(w->loop, t, loop_now_ms(w->loop) + CLOSE_POLL_MS);
	else
		loop_exit(w->loop, 0);
}

static void worker_quit(void *arg)
{
	struct media_worker *w = arg;

	loop_timer_disarm(w->loop, &w->flush_timer);
	w->quit_timer.fn = quit_check;
	quit_check(&w->quit_timer);
}

/* ---- SIP-thread side ---- */

int media_pool_new(const struct media_pool_config *cfg, struct media_pool **ret)
{
	struct media_pool *p = calloc(1, sizeof(*p));
	unsigned n = cfg->workers ? cfg->workers : (unsigned)get_nprocs();
	int r;

	if (!p)
		return -ENOMEM;
	p->cfg = *cfg;
	p->sip_loop = cfg->sip_loop;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->flush_ms = cfg->flush_ms;
	r = media_ports_init(&p->ports, cfg->port_min, cfg->port_max);
	if (r < 0) {
		pthread_mutex_destroy(&p->lock);
		pthread_cond_destroy(&p->cond);
		free(p);
		return r;
	}
	p->workers = calloc(n, sizeof(*p->workers));
	if (!p->workers) {
		media_ports_done(&p->ports);
		free(p);
		return -ENOMEM;
	}
	p->n = n;
	r = srtp_global_init();
	if (r < 0) {
		log_error("libsrtp2 init failed");
		goto fail;
	}
	for (unsigned i = 0; i < n; i++) {
		struct media_worker *w = &p->workers[i];

		w->pool = p;
		w->idx = i;
		r = -pthread_create(&w->thread, NULL, worker_main, w);
		if (r < 0)
			goto fail;
		w->started = true;
		pthread_mutex_lock(&p->lock);
		while (w->setup_result == 0)
			pthread_cond_wait(&p->cond, &p->lock);
		pthread_mutex_unlock(&p->lock);
		if (w->setup_result < 0) {
			r = w->setup_result;
			goto fail;
		}
	}
	log_info("media: %u worker%s, ports %u-%u, flush every %llu ms", n, n == 1 ? "" : "s",
		 p->ports.min, p->ports.min + 2 * p->ports.slots - 1,
		 (unsigned long long)p->flush_ms);
	*ret = p;
	return 0;
fail:
	media_pool_free(p);
	return r;
}

void media_pool_free(struct media_pool *p)
{
	if (!p)
		return;
	for (unsigned i = 0; i < p->n; i++) {
		struct media_worker *w = &p->workers[i];

		if (w->started) {
			if (w->setup_result > 0)
				loop_post(w->loop, worker_quit, w);
			pthread_join(w->thread, NULL);
		}
		loop_free(w->loop);
	}
	free(p->workers);
	media_ports_done(&p->ports);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p);
}

unsigned media_pool_workers(const struct media_pool *p)
{
	return p->n;
}

static int bind_udp(const struct sockaddr_storage *addr, uint16_t port, int *ret_fd)
{
	struct sockaddr_storage sa = *addr;
	int fd, one = 1, rcvbuf = SOCKET_RCVBUF;
	socklen_t sl;

	if (sa.ss_family == AF_INET6) {
		((struct sockaddr_in6 *)&sa)->sin6_port = htons(port);
		sl = sizeof(struct sockaddr_in6);
	} else {
		((struct sockaddr_in *)&sa)->sin_port = htons(port);
		sl = sizeof(struct sockaddr_in);
	}
	fd = socket(sa.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sl) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	*ret_fd = fd;
	return 0;
}

struct bind_try {
	const struct sockaddr_storage *addr;
	bool mux;
	int fd, rtcp_fd;
};

/* Even RTP port (RFC 3550 §11), RTCP on the next one unless muxed. */
static int try_bind(void *userdata, uint16_t port)
{
	struct bind_try *t = userdata;
	int r;

	r = bind_udp(t->addr, port, &t->fd);
	if (r < 0)
		return r;
	if (!t->mux) {
		r = bind_udp(t->addr, (uint16_t)(port + 1), &t->rtcp_fd);
		if (r < 0) {
			close(t->fd);
			t->fd = -1;
			return r;
		}
	}
	return 0;
}

static int alloc_ports(struct media_pool *p, const struct sockaddr_storage *addr, bool mux,
		       int *ret_fd, int *ret_rtcp_fd, uint16_t *ret_port)
{
	struct bind_try t = {.addr = addr, .mux = mux, .fd = -1, .rtcp_fd = -1};
	int r;

	r = media_ports_alloc(&p->ports, try_bind, &t, ret_port);
	if (r < 0)
		return r == -EIO ? r : -EADDRINUSE;
	*ret_fd = t.fd;
	*ret_rtcp_fd = t.rtcp_fd;
	return 0;
}

static void params_formats(const struct media_stream_params *pa, uint8_t *pt, uint32_t *clock,
			   unsigned *n)
{
	*n = 0;
	for (unsigned i = 0; i < pa->n_dtmf && i < MEDIA_MAX_DTMF_PTS; i++) {
		pt[*n] = pa->dtmf[i].pt;
		clock[(*n)++] = pa->dtmf[i].clock;
	}
}

int media_stream_open(struct media_pool *p, const struct media_stream_params *pa,
		      struct media_stream **ret)
{
	/* aligned: the packet path's fields are grouped by cache line (struct media_stream) */
	struct media_stream *s = aligned_alloc(_Alignof(struct media_stream), sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	memset(s, 0, sizeof(*s));
	s->fd = s->rtcp_fd = -1;
	s->pool = p;
	s->rtcp_mux = pa->rtcp_mux;
	s->path = strdup(pa->path);
	s->session_uuid = strdup(pa->session_uuid);
	s->recording_uuid = strdup(pa->recording_uuid);
	s->label = strdup(pa->label ? pa->label : "");
	s->codec = strdup(pa->codec ? pa->codec : "");
	s->formats = strdup(pa->formats ? pa->formats : "");
	if (!s->path || !s->session_uuid || !s->recording_uuid || !s->label || !s->codec ||
	    !s->formats) {
		r = -ENOMEM;
		goto fail;
	}
	if (pa->srtp_suite) {
		r = srtp_rx_new_params(pa->srtp_suite, pa->srtp, &s->srtp);
		if (r < 0)
			goto fail;
	}
	s->latch_mode = p->cfg.latch;
	if (pa->remote_addr) {
		s->remote = *pa->remote_addr;
		s->has_remote = true;
	}
	{
		uint8_t dpt[MEDIA_MAX_DTMF_PTS];
		uint32_t dclock[MEDIA_MAX_DTMF_PTS];
		unsigned nd;

		params_formats(pa, dpt, dclock, &nd);
		formats_set(s, pa->pt_mask, dpt, dclock, nd);
	}
	r = alloc_ports(p, pa->bind_addr, pa->rtcp_mux, &s->fd, &s->rtcp_fd, &s->port);
	if (r < 0)
		goto fail;
	s->rkey = *pa->rkey;
	s->sp = (struct store_params){
		.path = s->path,
		.alg = pa->alg,
		.key = pa->alg == STORE_ALG_NONE ? NULL : s->rkey.key,
		.key_id = s->rkey.key_id,
		.key_version = s->rkey.key_version,
		.recording_id = s->recording_uuid,
		.session_id = s->session_uuid,
		.stream_label = s->label,
		.codec = s->codec,
		.payload_type = pa->payload_type,
		.clock_rate = pa->clock_rate,
		.formats = s->formats,
		.chunk_size = pa->chunk_size,
	};
	s->msg.msg_namelen = sizeof(struct sockaddr_storage);
	s->msg.msg_controllen = MEDIA_CONTROL_LEN;
	s->recv_op.fn = recv_done;
	s->rtcp_op.fn = rtcp_done;
	s->started_fn = pa->started;
	s->started_ud = pa->started_userdata;
	s->failed_fn = pa->failed;
	s->failed_ud = pa->failed_userdata;
	s->w = &p->workers[p->next++ % p->n];
	r = loop_post(s->w->loop, worker_stream_start, s);
	if (r < 0)
		goto fail;
	*ret = s;
	return 0;
fail:
	recording_key_wipe(&s->rkey);
	srtp_rx_free(s->srtp);
	if (s->fd >= 0) {
		close(s->fd);
		media_ports_release(&p->ports, s->port);
	}
	if (s->rtcp_fd >= 0)
		close(s->rtcp_fd);
	free(s->path);
	free(s->session_uuid);
	free(s->recording_uuid);
	free(s->label);
	free(s->codec);
	free(s->formats);
	free(s);
	return r;
}

uint16_t media_stream_port(const struct media_stream *s)
{
	return s->port;
}

void media_stream_get_stats(const struct media_stream *s, struct media_stream_stats *ret)
{
	ret->packets = STAT_GET(s->stats.packets);
	ret->bytes = STAT_GET(s->stats.bytes);
	ret->rtcp_packets = STAT_GET(s->stats.rtcp_packets);
	ret->lost = STAT_GET(s->stats.lost);
	ret->duplicates = STAT_GET(s->stats.duplicates);
	ret->out_of_order = STAT_GET(s->stats.out_of_order);
	ret->srtp_auth_failures = STAT_GET(s->stats.srtp_auth_failures);
	ret->srtp_replays = STAT_GET(s->stats.srtp_replays);
	ret->malformed = STAT_GET(s->stats.malformed);
	ret->ssrc = STAT_GET(s->stats.ssrc);
	ret->ssrc_changes = STAT_GET(s->stats.ssrc_changes);
	ret->first_packet_ms = STAT_GET(s->stats.first_packet_ms);
	ret->last_packet_ms = STAT_GET(s->stats.last_packet_ms);
	ret->dropped_source = STAT_GET(s->stats.dropped_source);
	ret->dropped_limit = STAT_GET(s->stats.dropped_limit);
	ret->unnegotiated_pt = STAT_GET(s->stats.unnegotiated_pt);
	ret->dtmf_events = STAT_GET(s->stats.dtmf_events);
	ret->n_ssrcs = __atomic_load_n(&s->stats.n_ssrcs, __ATOMIC_ACQUIRE);
	for (uint32_t i = 0; i < ret->n_ssrcs && i < MEDIA_MAX_SSRCS; i++)
		ret->ssrcs[i] = s->stats.ssrcs[i];
	/* written by the worker at any time: only the closed stream's result carries it */
	memset(&ret->latched, 0, sizeof(ret->latched));
}

void media_stream_set_paused(struct media_stream *s, bool paused)
{
	struct pause_msg *m = malloc(sizeof(*m));

	if (!m)
		return;
	m->s = s;
	m->paused = paused;
	if (loop_post(s->w->loop, worker_stream_pause, m) < 0)
		free(m);
}

int media_stream_rekey(struct media_stream *s, const struct srtp_suite_info *suite,
		       const struct srtp_params *params)
{
	struct rekey_msg *m = malloc(sizeof(*m));
	int r;

	if (!m)
		return -ENOMEM;
	r = srtp_rx_new_params(suite, params, &m->rx);
	if (r < 0) {
		free(m);
		return r;
	}
	m->s = s;
	r = loop_post(s->w->loop, worker_stream_rekey, m);
	if (r < 0) {
		srtp_rx_free(m->rx);
		free(m);
	}
	return r;
}

void media_stream_discard(struct media_stream *s)
{
	/* Read by the worker only after the close message this call precedes. */
	s->discard = true;
}

void media_stream_close(struct media_stream *s, media_closed_fn fn, void *userdata)
{
	s->closed_fn = fn;
	s->closed_ud = userdata;
	loop_post(s->w->loop, worker_stream_close, s);
}

void media_stream_update(struct media_stream *s, const struct media_stream_params *pa)
{
	struct update_msg *m = calloc(1, sizeof(*m));

	if (!m)
		return;
	m->s = s;
	if (pa->remote_addr) {
		m->has_remote = true;
		m->remote = *pa->remote_addr;
	}
	m->pt_mask[0] = pa->pt_mask[0];
	m->pt_mask[1] = pa->pt_mask[1];
	params_formats(pa, m->dtmf_pt, m->dtmf_clock, &m->n_dtmf);
	if (loop_post(s->w->loop, worker_stream_update, m) < 0)
		free(m);
}
