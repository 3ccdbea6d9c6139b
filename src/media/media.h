/* SPDX-License-Identifier: MIT */
/*
 * Media workers: each is a thread with its own io_uring loop that owns the UDP sockets and the
 * recording writers of the streams handed to it. The SIP thread creates a stream (port bound
 * here, so the answer can carry it), then everything on the packet path happens on the worker:
 * multishot recvmsg into the worker's buffer ring, RTP/RTCP split, SRTP unprotect, framing into
 * the writer, sealed chunks written with O_DIRECT and fdatasync'ed on the flush interval.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "siprecd/config.h"
#include "siprecd/keys.h"
#include "siprecd/srtp.h"
#include "siprecd/storage.h"

struct loop;
struct media_pool;
struct media_stream;

/* RFC 4733 telephone-event, one per digit/event as the worker saw it end. */
struct media_dtmf_event {
	const char *session_uuid, *recording_uuid, *label;
	uint8_t event;	      /* 0-9, 10 '*', 11 '#', 12-15 A-D, others RFC 4733 §3.2 */
	uint8_t volume;	      /* -dBm0, 0..63 */
	bool ended;	      /* an end packet was seen (else cut short by a new event or close) */
	uint8_t pt;	      /* the telephone-event payload type */
	uint32_t ssrc;	      /* the sender's SSRC */
	uint32_t rtp_ts;      /* the event's RTP timestamp (its start) */
	uint32_t duration;    /* in RTP timestamp units */
	uint32_t duration_ms; /* duration at the payload type's clock */
	uint64_t started_ms;  /* arrival (CLOCK_REALTIME ms) of its first packet */
};

/* What the pool needs from its owner, copied at creation. */
struct media_pool_config {
	struct loop *sip_loop;	/* where the started/closed callbacks run */
	unsigned workers;	/* 0 = one per CPU */
	unsigned batch;		/* completions per wake-up (loop_set_batch), <= 1 = each */
	unsigned batch_wait_us; /* longest wait for them, 0 = no batching */
	uint16_t port_min, port_max;
	uint64_t flush_ms;
	enum media_latch latch;
	uint64_t max_packets, max_bytes; /* per stream, 0 = no cap */
	enum dtmf_policy dtmf_policy;
	/* Called on a media worker thread for every finished telephone-event (must be
	 * thread-safe and must not block: a catalog enqueue). Optional. */
	void (*dtmf)(void *userdata, const struct media_dtmf_event *ev);
	void *dtmf_userdata;
};

#define MEDIA_MAX_DTMF_PTS 4
#define MEDIA_MAX_SSRCS 8 /* SSRCs remembered per stream (more are counted, not listed) */

struct media_stream_params {
	const char *session_uuid;
	const char *recording_uuid;
	const char *label;
	const char *path;  /* recording file to create */
	const char *codec; /* "PCMU", ... */
	uint8_t payload_type;
	uint32_t clock_rate;
	const char *formats; /* payload map for the header (copied), NULL = none */
	bool rtcp_mux;	     /* false: RTCP on port+1 */
	const struct sockaddr_storage *bind_addr; /* port ignored */
	/* The offer's c= address (port ignored) when it is a usable unicast address, else NULL:
	 * with MEDIA_LATCH=sdp only packets from this IP are recorded. */
	const struct sockaddr_storage *remote_addr;
	/* Payload types of the offered m= line (bit pt of pt_mask); others are counted as not
	 * negotiated (and still recorded with their payload type). All zero: not checked. */
	uint64_t pt_mask[2];
	/* telephone-event payload types and their clocks */
	struct {
		uint8_t pt;
		uint32_t clock;
	} dtmf[MEDIA_MAX_DTMF_PTS];
	unsigned n_dtmf;
	enum store_alg alg;
	const struct recording_key *rkey; /* copied */
	uint32_t chunk_size;
	/* SRTP receive (NULL suite = plain RTP); key material copied and wiped after use. */
	const struct srtp_suite_info *srtp_suite;
	const struct srtp_params *srtp;
	/* Called on the SIP thread once the worker created the recording file and receives
	 * (result 0) or could not create it (-errno). Optional. */
	void (*started)(void *userdata, int result);
	void *started_userdata;
	/* Called on the SIP thread, at most once, when the recording stops being written for
	 * good (a write or fdatasync error such as -ENOSPC or -EIO: later frames are dropped).
	 * The stream stays open until media_stream_close. Optional. */
	void (*failed)(void *userdata, int error);
	void *failed_userdata;
};

/* Counters of one stream, updated by its worker, read by anyone (relaxed atomics). The ones
 * every RTP packet updates come first: they share one cache line (worker.c, media_stream). */
struct media_stream_stats {
	uint64_t packets, bytes, lost;
	uint64_t first_packet_ms, last_packet_ms; /* CLOCK_REALTIME ms, 0 = none */
	uint32_t ssrc;
	uint32_t n_ssrcs; /* distinct SSRCs seen; the first MEDIA_MAX_SSRCS are in ssrcs */
	uint64_t rtcp_packets, duplicates, out_of_order;
	uint64_t srtp_auth_failures, srtp_replays, malformed;
	uint32_t ssrc_changes;
	/* Packets from another source than the latched one, over the per-stream caps, with a
	 * payload type not offered (these are recorded), telephone-events seen. */
	uint64_t dropped_source, dropped_limit, unnegotiated_pt, dtmf_events;
	uint32_t ssrcs[MEDIA_MAX_SSRCS];
	struct sockaddr_storage latched; /* ss_family 0 until latched */
};

/* What a closed stream reports back to the SIP thread. */
struct media_stream_result {
	struct media_stream_stats stats;
	int error; /* writer error, or 0 */
	bool complete;
	uint64_t file_size, chunks, frames;
	uint8_t sha256[32];
	/* false when a write failed (error): the file as it is on disk is not known, so no
	 * SHA-256 is recorded for it */
	bool have_sha256;
	uint64_t p99_durable_us;
	bool discarded; /* media_stream_discard: nothing was recorded, the file was deleted */
};

typedef void (*media_closed_fn)(void *userdata, struct media_stream *s,
				const struct media_stream_result *res);

/* Starts cfg->workers threads (each with its ring). Returns 0 and *ret, or -errno. */
int media_pool_new(const struct media_pool_config *cfg, struct media_pool **ret);
void media_pool_free(struct media_pool *p);
unsigned media_pool_workers(const struct media_pool *p);

/*
 * Binds the stream's socket(s) on a free port of the configured range on params->bind_addr and
 * hands the stream to a worker, which creates the recording file and starts receiving. Returns
 * 0 and *ret (owned by the pool until media_stream_close's callback), -EADDRINUSE when the range
 * is exhausted, or -errno.
 */
int media_stream_open(struct media_pool *p, const struct media_stream_params *params,
		      struct media_stream **ret);
uint16_t media_stream_port(const struct media_stream *s);
void media_stream_get_stats(const struct media_stream *s, struct media_stream_stats *ret);
/* Hold (a=inactive / c=0.0.0.0) or resume: an event frame marks it in the recording. */
void media_stream_set_paused(struct media_stream *s, bool paused);
/* New SRTP keys (re-INVITE): the old context keeps decrypting until a packet authenticates
 * under the new one, so nothing in flight is lost. Key material copied and wiped. */
int media_stream_rekey(struct media_stream *s, const struct srtp_suite_info *suite,
		       const struct srtp_params *params);
/* A re-offer (or the SRC's answer to our offer): takes remote_addr, pt_mask and dtmf of pa
 * (the rest is ignored). When the remote address or port changed, the stream latches anew. */
void media_stream_update(struct media_stream *s, const struct media_stream_params *pa);
/*
 * Stops receiving, seals the final chunk, fdatasyncs, closes the file, and calls fn(userdata,
 * s, result) on the SIP thread; s is freed after fn returns.
 */
void media_stream_close(struct media_stream *s, media_closed_fn fn, void *userdata);
/*
 * Asks media_stream_close to delete the recording file when not one packet was recorded: the
 * session never started (its INVITE failed, or its 2xx was never acknowledged: a spoofed
 * INVITE), so the file would only hold a header. Call before media_stream_close.
 */
void media_stream_discard(struct media_stream *s);
