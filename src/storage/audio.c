// SPDX-License-Identifier: MIT
/*
 * Turns one recorded stream's RTP frames back into linear PCM for siprec-export: packets are
 * placed by RTP timestamp (so reordering, duplicates and gaps come out right, gaps as silence),
 * SSRC changes and timestamp jumps start a new segment anchored by arrival time, and G.711,
 * G.722 (spandsp) and Opus (libopus) are decoded.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <opus.h>
#include <spandsp/telephony.h>
#include <spandsp/g711.h>
#include <spandsp/g722.h>

#include "siprecd/macro.h"
#include "siprecd/storage.h"

/* Limits: what one export may hold in memory (a day of 48 kHz audio), and the timestamp jump
 * that is treated as a discontinuity rather than a gap to fill (RFC 3550 §5.1: the timestamp
 * may jump, e.g. after a source switch). */
#define MAX_OUT_SAMPLES (24ull * 3600 * 48000)
#define MAX_PACKETS (64u * 1024 * 1024)
#define MAX_JUMP_SECONDS 60
#define OPUS_MAX_FRAME 5760

enum codec { CODEC_PCMU, CODEC_PCMA, CODEC_G722, CODEC_OPUS };

struct pkt {
	uint64_t arrival_ns;
	int64_t ts;   /* unwrapped within its segment */
	uint32_t seg; /* segment number, in arrival order */
	uint32_t order;
	uint16_t len;
	uint8_t *payload;
};

struct seg {
	uint64_t anchor_arrival_ns;
	int64_t anchor_ts;
};

struct store_track {
	enum codec codec;
	unsigned rate;	     /* output samples per second */
	unsigned clock_rate; /* RTP clock */
	struct pkt *pkts;
	size_t npkts, cap;
	struct seg *segs;
	size_t nsegs, segcap;
	uint32_t last_ssrc;
	uint32_t last_ts;
	int64_t last_ext;
};

int store_track_new(const char *codec, uint32_t clock_rate, struct store_track **ret)
{
	static const struct {
		const char *name;
		enum codec codec;
		unsigned rate, clock;
	} t[] = {
		{"PCMU", CODEC_PCMU, 8000, 8000},
		{"PCMA", CODEC_PCMA, 8000, 8000},
		/* RFC 3551 §4.5.2: G.722's RTP clock is 8000 although it samples at 16 kHz. */
		{"G722", CODEC_G722, 16000, 8000},
		{"opus", CODEC_OPUS, 48000, 48000},
	};
	struct store_track *tr;

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		if (!codec || strcasecmp(codec, t[i].name) != 0)
			continue;
		tr = calloc(1, sizeof(*tr));
		if (!tr)
			return -ENOMEM;
		tr->codec = t[i].codec;
		tr->rate = t[i].rate;
		tr->clock_rate = t[i].clock;
		(void)clock_rate; /* the codec's RFC 3551 clock wins over a wrong header value */
		*ret = tr;
		return 0;
	}
	return -EOPNOTSUPP;
}

struct store_track *store_track_free(struct store_track *t)
{
	if (!t)
		return NULL;
	for (size_t i = 0; i < t->npkts; i++)
		free(t->pkts[i].payload);
	free(t->pkts);
	free(t->segs);
	free(t);
	return NULL;
}

unsigned store_track_rate(const struct store_track *t)
{
	return t->rate;
}

size_t store_track_packets(const struct store_track *t)
{
	return t->npkts;
}

uint64_t store_track_first_arrival_ns(const struct store_track *t)
{
	return t->nsegs ? t->segs[0].anchor_arrival_ns : 0;
}

int store_track_add(struct store_track *t, const struct store_frame *f)
{
	struct pkt *p;
	int64_t ext;

	if (f->type != STORE_FRAME_RTP || f->len == 0)
		return 0;
	if (t->npkts >= MAX_PACKETS)
		return -E2BIG;
	if (t->npkts == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 256;
		struct pkt *n = realloc(t->pkts, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		t->pkts = n;
		t->cap = cap;
	}
	ext = t->last_ext + (int32_t)(f->rtp_ts - t->last_ts);
	if (t->nsegs == 0 || f->ssrc != t->last_ssrc ||
	    llabs(ext - t->last_ext) > (long long)MAX_JUMP_SECONDS * t->clock_rate) {
		if (t->nsegs == t->segcap) {
			size_t cap = t->segcap ? 2 * t->segcap : 8;
			struct seg *n = realloc(t->segs, cap * sizeof(*n));

			if (!n)
				return -ENOMEM;
			t->segs = n;
			t->segcap = cap;
		}
		ext = 0;
		t->segs[t->nsegs++] = (struct seg){f->arrival_ns, 0};
	}
	p = &t->pkts[t->npkts];
	p->payload = malloc(f->len);
	if (!p->payload)
		return -ENOMEM;
	memcpy(p->payload, f->payload, f->len);
	p->len = f->len;
	p->arrival_ns = f->arrival_ns;
	p->ts = ext;
	p->seg = (uint32_t)(t->nsegs - 1);
	p->order = (uint32_t)t->npkts;
	t->npkts++;
	t->last_ssrc = f->ssrc;
	t->last_ts = f->rtp_ts;
	t->last_ext = ext;
	return 0;
}

static int pkt_cmp(const void *a, const void *b)
{
	const struct pkt *x = a, *y = b;

	if (x->seg != y->seg)
		return x->seg < y->seg ? -1 : 1;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	/* Duplicates: the first to arrive is kept. */
	return x->order < y->order ? -1 : x->order > y->order;
}

static int grow(int16_t **buf, size_t *cap, size_t need)
{
	size_t cap2 = *cap ? *cap : 8000;
	int16_t *n;

	if (need <= *cap)
		return 0;
	if (need > MAX_OUT_SAMPLES)
		return -EFBIG;
	while (cap2 < need)
		cap2 *= 2;
	n = realloc(*buf, cap2 * sizeof(*n));
	if (!n)
		return -ENOMEM;
	memset(n + *cap, 0, (cap2 - *cap) * sizeof(*n));
	*buf = n;
	*cap = cap2;
	return 0;
}

/* Decodes p into pcm (room for OPUS_MAX_FRAME samples); returns samples or <0. */
static int decode(struct store_track *t, g722_decode_state_t *g722, OpusDecoder *opus,
		  const struct pkt *p, int16_t *pcm)
{
	size_t n;

	switch (t->codec) {
	case CODEC_PCMU:
	case CODEC_PCMA:
		n = MIN((size_t)p->len, (size_t)OPUS_MAX_FRAME);
		for (size_t i = 0; i < n; i++)
			pcm[i] = t->codec == CODEC_PCMU ? ulaw_to_linear(p->payload[i])
							: alaw_to_linear(p->payload[i]);
		return (int)n;
	case CODEC_G722:
		n = MIN((size_t)p->len, (size_t)OPUS_MAX_FRAME / 2);
		return g722_decode(g722, pcm, p->payload, (int)n);
	case CODEC_OPUS: {
		int r = opus_decode(opus, p->payload, p->len, pcm, OPUS_MAX_FRAME, 0);

		return r < 0 ? 0 : r; /* a corrupt packet becomes a gap */
	}
	}
	return -EINVAL;
}

int store_track_render(struct store_track *t, uint64_t origin_ns, int16_t **ret, size_t *ret_n)
{
	int16_t *out = NULL, *pcm = NULL;
	size_t cap = 0, len = 0;
	g722_decode_state_t *g722 = NULL;
	OpusDecoder *opus = NULL;
	uint32_t cur_seg = UINT32_MAX;
	int64_t prev_ts = 0;
	int r = 0;

	pcm = malloc(OPUS_MAX_FRAME * sizeof(*pcm));
	if (!pcm)
		return -ENOMEM;
	qsort(t->pkts, t->npkts, sizeof(*t->pkts), pkt_cmp);
	for (size_t i = 0; i < t->npkts; i++) {
		const struct pkt *p = &t->pkts[i];
		const struct seg *s = &t->segs[p->seg];
		int64_t pos;
		int n;

		if (p->seg != cur_seg) {
			/* Stateful decoders restart with each segment (a new source). */
			cur_seg = p->seg;
			if (t->codec == CODEC_G722) {
				if (g722)
					g722_decode_free(g722);
				g722 = g722_decode_init(NULL, 64000, 0);
				if (!g722) {
					r = -ENOMEM;
					goto out;
				}
			} else if (t->codec == CODEC_OPUS) {
				int err;

				if (opus)
					opus_decoder_destroy(opus);
				opus = opus_decoder_create(48000, 1, &err);
				if (!opus) {
					r = -ENOMEM;
					goto out;
				}
			}
		} else if (p->ts == prev_ts)
			continue; /* duplicate */
		prev_ts = p->ts;
		n = decode(t, g722, opus, p, pcm);
		if (n <= 0)
			continue;
		/* Position: the segment's anchor by arrival time, then by timestamp. */
		pos = (int64_t)((s->anchor_arrival_ns >= origin_ns
					 ? s->anchor_arrival_ns - origin_ns
					 : 0) /
				1000 * t->rate / 1000000);
		pos += (p->ts - s->anchor_ts) * (int64_t)t->rate / (int64_t)t->clock_rate;
		if (pos < 0)
			continue;
		r = grow(&out, &cap, (size_t)pos + (size_t)n);
		if (r < 0)
			goto out;
		memcpy(out + pos, pcm, (size_t)n * sizeof(*pcm));
		len = MAX(len, (size_t)pos + (size_t)n);
	}
	*ret = out;
	*ret_n = len;
	out = NULL;
out:
	free(out);
	free(pcm);
	if (g722)
		g722_decode_free(g722);
	if (opus)
		opus_decoder_destroy(opus);
	return r;
}

int store_pcm_upsample(const int16_t *in, size_t n, unsigned factor, int16_t **ret)
{
	int16_t *out;

	if (factor == 0 || n > MAX_OUT_SAMPLES / factor)
		return -EINVAL;
	out = malloc((n * factor + 1) * sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int32_t a = in[i], b = i + 1 < n ? in[i + 1] : in[i];

		for (unsigned k = 0; k < factor; k++)
			out[i * factor + k] = (int16_t)(a + (b - a) * (int32_t)k / (int32_t)factor);
	}
	*ret = out;
	return 0;
}
