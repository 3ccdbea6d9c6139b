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

#include "siprecd/keys.h"
#include "siprecd/srtp.h"
#include "siprecd/storage.h"

struct manager;
struct media_pool;
struct media_stream;

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
	enum store_alg alg;
	const struct recording_key *rkey; /* copied */
	uint32_t chunk_size;
	/* SRTP receive (NULL suite = plain RTP); key material copied and wiped after use. */
	const struct srtp_suite_info *srtp_suite;
	const uint8_t *srtp_key;
	size_t srtp_key_len;
	bool unencrypted_srtp, unencrypted_srtcp, unauth_srtp;
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

/* Counters of one stream, updated by its worker, read by anyone (relaxed atomics). */
struct media_stream_stats {
	uint64_t packets, bytes, rtcp_packets;
	uint64_t lost, duplicates, out_of_order;
	uint64_t srtp_auth_failures, srtp_replays, malformed;
	uint32_t ssrc, ssrc_changes;
	uint64_t first_packet_ms, last_packet_ms; /* CLOCK_REALTIME ms, 0 = none */
};

/* What a closed stream reports back to the SIP thread. */
struct media_stream_result {
	struct media_stream_stats stats;
	int error; /* writer error, or 0 */
	bool complete;
	uint64_t file_size, chunks, frames;
	uint8_t sha256[32];
	uint64_t p99_durable_us;
	bool discarded; /* media_stream_discard: nothing was recorded, the file was deleted */
};

typedef void (*media_closed_fn)(void *userdata, struct media_stream *s,
				const struct media_stream_result *res);

int media_pool_new(struct manager *m, struct media_pool **ret);
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
		       const uint8_t *key, size_t key_len, bool unencrypted_srtp,
		       bool unencrypted_srtcp, bool unauth_srtp);
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
