/* SPDX-License-Identifier: MIT */
/*
 * RTP/RTCP header parsing (RFC 3550 §5.1, RTCP demultiplexing per RFC 5761 §4) and per-stream
 * sequence accounting: extended sequence numbers, duplicates (a 1024-packet window),
 * reordering and loss.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rtp_header {
	uint8_t pt;
	bool marker;
	uint16_t seq;
	uint32_t ts;
	uint32_t ssrc;
	size_t payload_off, payload_len;
};

/* Parses the fixed header, CSRCs, extension and padding. 0 or -EBADMSG. */
int rtp_parse(const uint8_t *buf, size_t len, struct rtp_header *ret);
/* RFC 5761 §4: with rtcp-mux, payload types 64-95 (second byte 192-223) are RTCP. */
bool rtp_is_rtcp(const uint8_t *buf, size_t len);
/* Without rtcp-mux: RTCP SR, RR, SDES, BYE or APP (second byte 200-204, i.e. payload types 72-76
 * with the marker bit, which RFC 3551 §6 reserves so that RTCP is never taken for RTP). */
bool rtp_is_rtcp_reserved(const uint8_t *buf, size_t len);

#define RTP_SEQ_WINDOW 1024

struct rtp_seq {
	bool init;
	uint32_t ssrc;
	uint64_t ext_max;  /* highest extended sequence number seen */
	uint64_t ext_base; /* first extended sequence number */
	uint64_t received; /* unique packets */
	uint64_t window[RTP_SEQ_WINDOW / 64];
};

enum rtp_seq_verdict {
	RTP_SEQ_OK,
	RTP_SEQ_REORDERED, /* older than the highest seen, first time */
	RTP_SEQ_DUPLICATE, /* seen already: drop */
	RTP_SEQ_TOO_OLD,   /* older than the window: drop */
	RTP_SEQ_NEW_SSRC,  /* first packet of a new SSRC; state was reset (counts restart) */
};

enum rtp_seq_verdict rtp_seq_update(struct rtp_seq *s, uint32_t ssrc, uint16_t seq);
/* Starts loading the window word the next packet in order (ext_max + 1) sets: a hint, for a
 * state whose first line is already in cache (the window spans three lines). */
static inline void rtp_seq_prefetch(const struct rtp_seq *s)
{
	__builtin_prefetch(&s->window[(s->ext_max + 1) % RTP_SEQ_WINDOW / 64], 1);
}
/* Packets expected but never received so far (RFC 3550 A.3). */
uint64_t rtp_seq_lost(const struct rtp_seq *s);
