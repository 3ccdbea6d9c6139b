// SPDX-License-Identifier: MIT
/*
 * RTP header parsing and sequence accounting for the recording path: what is recorded once,
 * what is a duplicate, what arrived late, and how much never arrived.
 */
#include <errno.h>
#include <string.h>

#include "media/rtp.h"

int rtp_parse(const uint8_t *b, size_t len, struct rtp_header *ret)
{
	size_t off, pad = 0;
	unsigned cc;

	if (len < 12 || (b[0] >> 6) != 2)
		return -EBADMSG;
	cc = b[0] & 0x0f;
	off = 12 + 4 * (size_t)cc;
	if (off > len)
		return -EBADMSG;
	if (b[0] & 0x10) {
		/* RFC 3550 §5.3.1: 16-bit profile, 16-bit length in 32-bit words. */
		size_t xlen;

		if (off + 4 > len)
			return -EBADMSG;
		xlen = 4 * (size_t)((b[off + 2] << 8) | b[off + 3]);
		off += 4 + xlen;
		if (off > len)
			return -EBADMSG;
	}
	if (b[0] & 0x20) {
		pad = b[len - 1];
		if (pad == 0 || off + pad > len)
			return -EBADMSG;
	}
	ret->marker = b[1] & 0x80;
	ret->pt = b[1] & 0x7f;
	ret->seq = (uint16_t)((b[2] << 8) | b[3]);
	ret->ts = (uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];
	ret->ssrc = (uint32_t)b[8] << 24 | (uint32_t)b[9] << 16 | (uint32_t)b[10] << 8 | b[11];
	ret->payload_off = off;
	ret->payload_len = len - off - pad;
	return 0;
}

bool rtp_is_rtcp(const uint8_t *b, size_t len)
{
	return len >= 8 && (b[0] >> 6) == 2 && b[1] >= 192 && b[1] <= 223;
}

bool rtp_is_rtcp_reserved(const uint8_t *b, size_t len)
{
	return len >= 8 && (b[0] >> 6) == 2 && b[1] >= 200 && b[1] <= 204;
}

static bool win_test_set(struct rtp_seq *s, uint64_t ext)
{
	uint64_t bit = ext % RTP_SEQ_WINDOW;
	uint64_t mask = 1ULL << (bit % 64);
	bool was = s->window[bit / 64] & mask;

	s->window[bit / 64] |= mask;
	return was;
}

static void win_clear(struct rtp_seq *s, uint64_t ext)
{
	uint64_t bit = ext % RTP_SEQ_WINDOW;

	s->window[bit / 64] &= ~(1ULL << (bit % 64));
}

enum rtp_seq_verdict rtp_seq_update(struct rtp_seq *s, uint32_t ssrc, uint16_t seq)
{
	uint16_t max16;
	int32_t delta;
	uint64_t ext;
	enum rtp_seq_verdict v = RTP_SEQ_OK;

	if (!s->init || s->ssrc != ssrc) {
		bool had = s->init;

		memset(s, 0, sizeof(*s));
		s->init = true;
		s->ssrc = ssrc;
		/* Start the extended space at 65536 so an early reordered packet stays >= 0. */
		s->ext_max = s->ext_base = 65536 + seq;
		s->received = 1;
		win_test_set(s, s->ext_max);
		return had ? RTP_SEQ_NEW_SSRC : RTP_SEQ_OK;
	}
	max16 = (uint16_t)s->ext_max;
	delta = (int16_t)(uint16_t)(seq - max16);
	ext = (uint64_t)((int64_t)s->ext_max + delta);
	if (delta > 0) {
		/* Clear the window slots we skip over so old bits do not read as duplicates. */
		for (uint64_t e = s->ext_max + 1; e < ext && e < s->ext_max + 1 + RTP_SEQ_WINDOW;
		     e++)
			win_clear(s, e);
		win_clear(s, ext);
		s->ext_max = ext;
	} else if (delta == 0) {
		return RTP_SEQ_DUPLICATE;
	} else {
		if ((uint64_t)(-delta) >= RTP_SEQ_WINDOW || ext < s->ext_base)
			return RTP_SEQ_TOO_OLD;
		v = RTP_SEQ_REORDERED;
	}
	if (win_test_set(s, ext))
		return RTP_SEQ_DUPLICATE;
	s->received++;
	return v;
}

uint64_t rtp_seq_lost(const struct rtp_seq *s)
{
	uint64_t expected;

	if (!s->init)
		return 0;
	expected = s->ext_max - s->ext_base + 1;
	return expected > s->received ? expected - s->received : 0;
}
