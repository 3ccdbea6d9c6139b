// SPDX-License-Identifier: MIT
/*
 * Turns one recorded stream's RTP frames back into linear PCM for siprec-export: packets are
 * placed by RTP timestamp (so reordering, duplicates and gaps come out right, gaps as silence),
 * SSRC changes and timestamp jumps start a new segment anchored by arrival time, and each frame
 * is decoded by its own payload type (codec-*.c). RFC 4733 telephone-event frames are kept out
 * of the audio and returned as DTMF digits instead.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "siprecd/macro.h"
#include "siprecd/storage.h"
#include "storage/codec.h"

/* Limits: what one export may hold in memory (a day of 48 kHz audio), and the timestamp jump
 * that is treated as a discontinuity rather than a gap to fill (RFC 3550 §5.1: the timestamp
 * may jump, e.g. after a source switch). */
#define MAX_OUT_SAMPLES (24ull * 3600 * 48000)
#define MAX_PACKETS (64u * 1024 * 1024)
#define MAX_JUMP_SECONDS 60
/* Samples one payload may decode to: a second at 48 kHz (opus's longest packet is 120 ms). */
#define PCM_CAP 48000
#define NPT 128
/* RFC 4733 §2.3: an event payload is 4 bytes; events 0-15 are DTMF digits, 16 is flash. */
#define EVENT_LEN 4
#define EVENT_DTMF_MAX 16
#define EVENT_END 0x80

enum pt_kind { PT_NONE, PT_AUDIO, PT_EVENT, PT_CN, PT_UNDECODABLE };

struct pt_map {
	char name[STORE_CODEC_MAX + 1]; /* negotiated encoding name; "" when not mapped */
	char *fmtp;
	uint32_t clock;
};

struct pkt {
	uint64_t arrival_ns;
	int64_t ts;   /* unwrapped within its segment */
	uint32_t seg; /* segment number, in arrival order */
	uint32_t order;
	uint16_t len;
	uint8_t pt;
	uint8_t *payload;
};

struct seg {
	uint64_t anchor_arrival_ns;
	int64_t anchor_ts;
};

struct store_track {
	struct pt_map map[NPT];
	uint64_t frames[NPT];
	bool not_event[NPT]; /* a frame of this type cannot be an RFC 4733 event */
	enum pt_kind kind[NPT];
	const struct store_codec *codec[NPT];
	bool classified;
	unsigned rate;	     /* output samples per second */
	unsigned clock_rate; /* RTP clock of the negotiated codec (timestamp jumps, events) */
	struct pkt *pkts;
	size_t npkts, cap;
	bool sorted;
	struct seg *segs;
	size_t nsegs, segcap;
	uint32_t last_ssrc;
	uint32_t last_ts;
	int64_t last_ext;
	struct store_dtmf *dtmf;
	size_t ndtmf;
	uint64_t corrupt;
};

int store_track_map_pt(struct store_track *t, uint8_t pt, const char *name, uint32_t clock_rate,
		       const char *fmtp)
{
	const struct store_codec *c = store_codec_by_name(name);

	if (pt >= NPT || !name || strlen(name) > STORE_CODEC_MAX)
		return -EINVAL;
	free(t->map[pt].fmtp);
	t->map[pt].fmtp = NULL;
	if (fmtp && !(t->map[pt].fmtp = strdup(fmtp)))
		return -ENOMEM;
	strcpy(t->map[pt].name, name);
	/* The codec's own RTP clock wins over a wrong SDP value (RFC 3551 §4.5.2, G.722). */
	t->map[pt].clock = c ? c->clock : clock_rate;
	t->classified = false;
	return c || strcasecmp(name, "telephone-event") == 0 ? 0 : -EOPNOTSUPP;
}

int store_track_new(const char *codec, uint8_t pt, struct store_track **ret)
{
	struct store_track *tr = calloc(1, sizeof(*tr));
	const struct store_codec *c = store_codec_by_name(codec);

	if (!tr)
		return -ENOMEM;
	tr->rate = c ? c->rate : 8000;
	tr->clock_rate = c ? c->clock : 8000;
	if (codec && *codec && pt < NPT) {
		int r = store_track_map_pt(tr, pt, codec, tr->clock_rate, NULL);

		if (r < 0 && r != -EOPNOTSUPP) {
			store_track_free(tr);
			return r;
		}
	}
	*ret = tr;
	return 0;
}

struct store_track *store_track_free(struct store_track *t)
{
	if (!t)
		return NULL;
	for (size_t i = 0; i < t->npkts; i++)
		free(t->pkts[i].payload);
	for (size_t i = 0; i < NPT; i++)
		free(t->map[i].fmtp);
	free(t->pkts);
	free(t->segs);
	free(t->dtmf);
	free(t);
	return NULL;
}

/*
 * The one place a payload type becomes a codec: the negotiated map (the recording header's
 * codec today; every negotiated type once the catalog stores them), then RFC 3551's static
 * types; an unmapped dynamic type whose every frame has the shape of an RFC 4733 event is
 * telephone-event (recordings carry no SDP).
 */
static enum pt_kind pt_resolve(const struct store_track *t, uint8_t pt,
			       const struct store_codec **ret_codec, const char **ret_name)
{
	const char *name = t->map[pt].name[0] ? t->map[pt].name : store_codec_static_name(pt);

	*ret_codec = NULL;
	*ret_name = name;
	if (name && strcasecmp(name, "telephone-event") == 0)
		return PT_EVENT;
	/* RFC 3389 comfort noise: the gap it stands for is exported as silence. */
	if (name && strcasecmp(name, "CN") == 0)
		return PT_CN;
	if (name) {
		*ret_codec = store_codec_by_name(name);
		return *ret_codec ? PT_AUDIO : PT_UNDECODABLE;
	}
	if (pt >= 96 && !t->not_event[pt])
		return PT_EVENT;
	return PT_UNDECODABLE;
}

static void classify(struct store_track *t)
{
	unsigned rate = 0;

	if (t->classified)
		return;
	for (unsigned pt = 0; pt < NPT; pt++) {
		const char *name;

		t->kind[pt] =
			t->frames[pt] ? pt_resolve(t, (uint8_t)pt, &t->codec[pt], &name) : PT_NONE;
		if (t->kind[pt] == PT_AUDIO)
			rate = MAX(rate, t->codec[pt]->rate);
	}
	if (rate)
		t->rate = rate;
	t->classified = true;
}

unsigned store_track_rate(struct store_track *t)
{
	classify(t);
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
	p->pt = f->pt & 0x7f;
	p->arrival_ns = f->arrival_ns;
	p->ts = ext;
	p->seg = (uint32_t)(t->nsegs - 1);
	p->order = (uint32_t)t->npkts;
	t->npkts++;
	t->frames[p->pt]++;
	/* RFC 4733 §2.3: 4 bytes per event, the R bit zero. */
	if (f->len != EVENT_LEN || (f->payload[1] & 0x40))
		t->not_event[p->pt] = true;
	t->classified = false;
	t->sorted = false;
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

static void prepare(struct store_track *t)
{
	classify(t);
	if (!t->sorted && t->npkts > 1) /* none: pkts is NULL, which qsort must not get */
		qsort(t->pkts, t->npkts, sizeof(*t->pkts), pkt_cmp);
	t->sorted = true;
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

static void close_decoders(struct store_track *t, void **dec, bool *open)
{
	for (unsigned pt = 0; pt < NPT; pt++)
		if (open[pt]) {
			t->codec[pt]->close(dec[pt]);
			open[pt] = false;
		}
}

/* Writes n samples of a codec at rate/factor into out at pos, upsampled by factor. */
static int put_pcm(int16_t **out, size_t *cap, size_t *len, int64_t pos, const int16_t *pcm, int n,
		   unsigned factor)
{
	int r = grow(out, cap, (size_t)pos + (size_t)n * factor);

	if (r < 0)
		return r;
	if (factor <= 1)
		memcpy(*out + pos, pcm, (size_t)n * sizeof(*pcm));
	else
		/* A narrower codec in a wider track (a codec change mid-stream): linear
		 * interpolation, as store_pcm_upsample. */
		for (int k = 0; k < n; k++) {
			int32_t a = pcm[k], b = k + 1 < n ? pcm[k + 1] : pcm[k];

			for (unsigned j = 0; j < factor; j++)
				(*out)[pos + (int64_t)k * factor + j] =
					(int16_t)(a + (b - a) * (int32_t)j / (int32_t)factor);
		}
	*len = MAX(*len, (size_t)pos + (size_t)n * factor);
	return 0;
}

int store_track_render(struct store_track *t, uint64_t origin_ns, int16_t **ret, size_t *ret_n)
{
	int16_t *out = NULL, *pcm = NULL;
	size_t cap = 0, len = 0;
	void *dec[NPT] = {0};
	bool open[NPT] = {0}, failed[NPT] = {0};
	int64_t end[NPT]; /* where the last packet of each type ended in out, -1 none */
	uint32_t cur_seg = UINT32_MAX;
	int64_t prev_ts = 0;
	int r = 0;

	pcm = malloc(PCM_CAP * sizeof(*pcm));
	if (!pcm)
		return -ENOMEM;
	prepare(t);
	t->corrupt = 0;
	for (size_t i = 0; i < t->npkts; i++) {
		const struct pkt *p = &t->pkts[i];
		const struct seg *s = &t->segs[p->seg];
		const struct store_codec *c = t->codec[p->pt];
		unsigned factor;
		int64_t pos;
		int n;

		if (t->kind[p->pt] != PT_AUDIO || failed[p->pt])
			continue;
		if (p->seg != cur_seg) {
			/* Stateful decoders restart with each segment (a new source). */
			close_decoders(t, dec, open);
			for (unsigned k = 0; k < NPT; k++)
				end[k] = -1;
			cur_seg = p->seg;
		} else if (p->ts == prev_ts)
			continue; /* duplicate */
		prev_ts = p->ts;
		if (!open[p->pt]) {
			r = c->open(c, t->map[p->pt].fmtp, &dec[p->pt]);
			if (r == -EOPNOTSUPP) {
				failed[p->pt] = true; /* e.g. AMR interleaving */
				r = 0;
				continue;
			}
			if (r < 0)
				goto out;
			open[p->pt] = true;
		}
		factor = t->rate / c->rate;
		/* Position: the segment's anchor by arrival time, then by timestamp. */
		pos = (int64_t)((s->anchor_arrival_ns >= origin_ns
					 ? s->anchor_arrival_ns - origin_ns
					 : 0) /
				1000 * t->rate / 1000000);
		pos += (p->ts - s->anchor_ts) * (int64_t)t->rate / (int64_t)c->clock;
		if (pos < 0)
			continue;
		/* A gap the sender left on purpose (DTX after a SID) is the codec's comfort
		 * noise, generated frame by frame up to this packet. */
		while (c->fill && end[p->pt] >= 0 && end[p->pt] < pos) {
			size_t want = (size_t)(pos - end[p->pt]) / factor;

			n = c->fill(c, dec[p->pt], pcm, MIN(want, (size_t)PCM_CAP));
			if (n <= 0)
				break;
			r = put_pcm(&out, &cap, &len, end[p->pt], pcm, n, factor);
			if (r < 0)
				goto out;
			end[p->pt] += (int64_t)n * factor;
		}
		n = c->decode(c, dec[p->pt], p->payload, p->len, pcm, PCM_CAP);
		if (n < 0)
			t->corrupt++; /* a corrupt packet becomes a gap */
		if (n <= 0)
			continue;
		r = put_pcm(&out, &cap, &len, pos, pcm, n, factor);
		if (r < 0)
			goto out;
		end[p->pt] = pos + (int64_t)n * factor;
	}
	*ret = out;
	*ret_n = len;
	out = NULL;
out:
	close_decoders(t, dec, open);
	free(out);
	free(pcm);
	return r;
}

size_t store_track_pts(struct store_track *t, struct store_pt_info *ret, size_t max)
{
	size_t n = 0;

	classify(t);
	for (unsigned pt = 0; pt < NPT && n < max; pt++) {
		const struct store_codec *c;
		const char *name;

		if (!t->frames[pt])
			continue;
		pt_resolve(t, (uint8_t)pt, &c, &name);
		ret[n++] = (struct store_pt_info){
			.pt = (uint8_t)pt,
			.name = t->kind[pt] == PT_EVENT ? "telephone-event" : name,
			.frames = t->frames[pt],
			.decoded = t->kind[pt] == PT_AUDIO,
			.event = t->kind[pt] == PT_EVENT,
			.silence = t->kind[pt] == PT_CN,
		};
	}
	return n;
}

uint64_t store_track_corrupt(const struct store_track *t)
{
	return t->corrupt;
}

int store_track_dtmf(struct store_track *t, const struct store_dtmf **ret, size_t *ret_n)
{
	static const char digits[] = "0123456789*#ABCD";
	size_t cap = 0;
	int64_t cur_ts = 0;
	uint32_t cur_seg = UINT32_MAX;
	uint8_t cur_ev = 0;

	prepare(t);
	free(t->dtmf);
	t->dtmf = NULL;
	t->ndtmf = 0;
	for (size_t i = 0; i < t->npkts; i++) {
		const struct pkt *p = &t->pkts[i];
		const struct seg *s = &t->segs[p->seg];
		uint32_t clock = t->map[p->pt].name[0] ? t->map[p->pt].clock : t->clock_rate;
		uint16_t dur;
		struct store_dtmf *d;

		if (t->kind[p->pt] != PT_EVENT || p->len < EVENT_LEN ||
		    p->payload[0] > EVENT_DTMF_MAX)
			continue;
		if (!clock)
			clock = 8000;
		dur = (uint16_t)(p->payload[2] << 8 | p->payload[3]);
		/* RFC 4733 §2.5.1: every packet of one event carries its start timestamp; the
		 * end packet is sent three times. One event per (timestamp, code). */
		if (t->ndtmf && p->seg == cur_seg && p->ts == cur_ts && p->payload[0] == cur_ev) {
			d = &t->dtmf[t->ndtmf - 1];
			d->duration_ms = MAX(d->duration_ms, (uint32_t)(dur * 1000ull / clock));
			d->ended |= (p->payload[1] & EVENT_END) != 0;
			continue;
		}
		if (t->ndtmf == cap) {
			size_t c2 = cap ? 2 * cap : 16;
			struct store_dtmf *n = realloc(t->dtmf, c2 * sizeof(*n));

			if (!n)
				return -ENOMEM;
			t->dtmf = n;
			cap = c2;
		}
		cur_seg = p->seg;
		cur_ts = p->ts;
		cur_ev = p->payload[0];
		t->dtmf[t->ndtmf++] = (struct store_dtmf){
			.digit = cur_ev < 16 ? digits[cur_ev] : 'F',
			.event = cur_ev,
			.start_ns = s->anchor_arrival_ns +
				    (uint64_t)((p->ts - s->anchor_ts) * 1000000000ll / clock),
			.duration_ms = (uint32_t)(dur * 1000ull / clock),
			.ended = (p->payload[1] & EVENT_END) != 0,
		};
	}
	*ret = t->dtmf;
	*ret_n = t->ndtmf;
	return 0;
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
