// SPDX-License-Identifier: MIT
/*
 * Known-answer tests of the export decoders: a 1 kHz sine is encoded with the codec's own
 * encoder library, packetized per its RTP payload format, fed through the export track, and
 * the PCM must equal the library decoder's output sample for sample and carry a 1 kHz tone.
 * Also: a frame is decoded by its own payload type, RFC 4733 events stay out of the audio and
 * come back as digits, and a codec without a decoder is reported, not mis-decoded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bcg729/decoder.h>
#include <bcg729/encoder.h>
#include <gsm.h>
#include <opencore-amrnb/interf_dec.h>
#include <opencore-amrnb/interf_enc.h>
#include <opencore-amrwb/dec_if.h>
#include <opus.h>
#include <spandsp/telephony.h>
#include <spandsp/bit_operations.h>
#include <spandsp/g711.h>
#include <spandsp/g722.h>
#include <spandsp/g726.h>
#include <vo-amrwbenc/enc_if.h>

#include "siprecd/storage.h"

#define T0 1700000000000000000ull
#define SECONDS 1
#define MAXS (48000 * 2)

static int16_t sine(size_t i, unsigned rate)
{
	return (int16_t)lrint(8000.0 * sin(2.0 * M_PI * 1000.0 * (double)i / rate));
}

/* Goertzel: the power of frequency f in x. */
static double power(const int16_t *x, size_t n, double f, unsigned rate)
{
	double c = 2.0 * cos(2.0 * M_PI * f / rate), s1 = 0, s2 = 0;

	for (size_t i = 0; i < n; i++) {
		double s = x[i] + c * s1 - s2;

		s2 = s1;
		s1 = s;
	}
	return s1 * s1 + s2 * s2 - c * s1 * s2;
}

/* The decoded signal is a 1 kHz tone: energy, and 1 kHz well above its neighbours. */
static void assert_tone(const int16_t *x, size_t n, unsigned rate)
{
	double e = 0, p = power(x, n, 1000, rate);

	for (size_t i = 0; i < n; i++)
		e += (double)x[i] * x[i];
	if (sqrt(e / (double)n) < 1000)
		fail_msg("RMS %.0f: no signal", sqrt(e / (double)n));
	if (p < 20 * power(x, n, 500, rate) || p < 20 * power(x, n, 2000, rate) ||
	    p < 20 * power(x, n, 1500, rate))
		fail_msg("1 kHz is not dominant");
}

static void add(struct store_track *t, uint8_t pt, uint32_t ts, uint64_t arrival, bool marker,
		const uint8_t *p, size_t len)
{
	struct store_frame f = {
		.type = STORE_FRAME_RTP,
		.len = (uint16_t)len,
		.arrival_ns = arrival,
		.ssrc = 0x5eed,
		.seq = (uint16_t)(ts / 80),
		.rtp_ts = ts,
		.pt = pt,
		.flags = marker ? STORE_FRAME_MARKER : 0,
		.payload = p,
	};

	assert_int_equal(store_track_add(t, &f), 0);
}

/* Renders t from T0 and compares with want[0..n) sample for sample. */
static void render_equal(struct store_track *t, const int16_t *want, size_t n)
{
	int16_t *pcm;
	size_t got;

	assert_int_equal(store_track_render(t, T0, &pcm, &got), 0);
	assert_int_equal(store_track_corrupt(t), 0);
	if (got != n)
		fail_msg("%zu samples, want %zu", got, n);
	for (size_t i = 0; i < n; i++)
		if (pcm[i] != want[i])
			fail_msg("sample %zu: %d != %d", i, pcm[i], want[i]);
	free(pcm);
}

/* G.729 with Annex B: speech, then silence the VAD turns into SID frames and untransmitted
 * frames (comfort noise), then speech. */
static void test_g729(void **state)
{
	bcg729EncoderChannelContextStruct *enc = initBcg729EncoderChannel(1);
	bcg729DecoderChannelContextStruct *dec = initBcg729DecoderChannel();
	static int16_t want[3 * 8000];
	struct store_track *t;
	uint8_t pkt[32];
	size_t plen = 0, end = 0, nsid = 0, ncn = 0;
	bool dtx = false;
	uint32_t pts = 0;
	const unsigned nfr = 150; /* 1.5 s of 10 ms frames */

	assert_int_equal(store_track_new("G729", 18, &t), 0);
	for (unsigned k = 0; k < nfr; k++) {
		int16_t in[80];
		uint8_t bits[10], len;

		for (unsigned i = 0; i < 80; i++)
			in[i] = k >= 50 && k < 100 ? (int16_t)((k * 80 + i) * 7919 % 9 - 4)
						   : sine(k * 80 + i, 8000);
		bcg729Encoder(enc, in, bits, &len);
		if (len == 0) { /* not transmitted (DTX): the packet so far goes out */
			if (plen)
				add(t, 18, pts, T0 + pts * 125000ull, false, pkt, plen);
			plen = 0;
			/* Annex B: after a SID the decoder makes comfort noise for each
			 * untransmitted frame (bitstream length 0). */
			if (dtx)
				bcg729Decoder(dec, NULL, 0, 0, 0, 0, want + k * 80);
			ncn += dtx;
			continue;
		}
		dtx = len == 2;
		/* The independent expectation: bcg729's decoder on the same frames. */
		bcg729Decoder(dec, bits, len, 0, len == 2, 0, want + k * 80);
		end = (k + 1) * 80;
		if (plen == 0)
			pts = k * 80;
		memcpy(pkt + plen, bits, len);
		plen += len;
		nsid += len == 2;
		/* RFC 3551 §4.5.6: two frames a packet, a SID frame only last. */
		if (len == 2 || plen == 20) {
			add(t, 18, pts, T0 + pts * 125000ull, false, pkt, plen);
			plen = 0;
		}
	}
	if (plen)
		add(t, 18, pts, T0 + pts * 125000ull, false, pkt, plen);
	if (nsid == 0 || ncn == 0)
		fail_msg("no SID or DTX frame (%zu, %zu): comfort noise is untested", nsid, ncn);
	render_equal(t, want, end);
	{
		/* The DTX stretch is comfort noise, not digital silence. */
		int64_t e = 0;

		for (size_t i = 70 * 80; i < 90 * 80; i++)
			e += (int64_t)want[i] * want[i];
		assert_true(e > 0);
	}
	assert_tone(want, 4000, 8000);
	assert_tone(want + 100 * 80, 4000, 8000);
	store_track_free(t);
	closeBcg729EncoderChannel(enc);
	closeBcg729DecoderChannel(dec);
}

/* RFC 4867 speech bits per frame type (AMR, AMR-WB). */
static const short nb_bits[16] = {95, 103, 118, 134, 148, 159, 204, 244, 39};
static const short wb_bits[16] = {132, 177, 253, 285, 317, 365, 397, 461, 477, 40};

struct bw {
	uint8_t *p;
	size_t pos;
};

static void put_bits(struct bw *w, unsigned v, unsigned n)
{
	for (unsigned i = n; i-- > 0; w->pos++)
		if ((v >> i) & 1)
			w->p[w->pos / 8] |= (uint8_t)(0x80 >> (w->pos % 8));
}

/* Packs storage-format frames fr[0..n) (header byte FT|Q then bits) into one RTP payload. */
static size_t amr_pack(bool oa, const short *bits, uint8_t (*fr)[64], unsigned n, uint8_t *out)
{
	struct bw w = {out, 0};

	memset(out, 0, 512);
	put_bits(&w, 15, 4); /* CMR: no request */
	if (oa)
		put_bits(&w, 0, 4);
	for (unsigned i = 0; i < n; i++) {
		put_bits(&w, i + 1 < n, 1);
		put_bits(&w, (fr[i][0] >> 3) & 15, 4);
		put_bits(&w, (fr[i][0] >> 2) & 1, 1);
		if (oa)
			put_bits(&w, 0, 2);
	}
	for (unsigned i = 0; i < n; i++) {
		unsigned nb = (unsigned)bits[(fr[i][0] >> 3) & 15];

		for (unsigned b = 0; b < nb; b++)
			put_bits(&w, (fr[i][1 + b / 8] >> (7 - b % 8)) & 1, 1);
		if (oa)
			w.pos = (w.pos + 7) / 8 * 8;
	}
	return (w.pos + 7) / 8;
}

/* AMR (wb false) or AMR-WB: both framings give the same PCM, the decoder library's own. */
static void amr_kat(bool wb)
{
	const unsigned rate = wb ? 16000 : 8000, spf = wb ? 320 : 160, nfr = 50, per = 3;
	void *enc = wb ? E_IF_init() : Encoder_Interface_init(0);
	void *dec = wb ? D_IF_init() : Decoder_Interface_init();
	static int16_t want[16000];
	static uint8_t fr[50][64];
	struct store_track *oa, *be, *auto_oa;

	assert_int_equal(store_track_new(wb ? "AMR-WB" : "AMR", 96, &oa), 0);
	assert_int_equal(store_track_new(wb ? "AMR-WB" : "amr", 96, &be), 0);
	assert_int_equal(store_track_new(wb ? "AMR-WB" : "AMR", 96, &auto_oa), 0);
	assert_int_equal(store_track_map_pt(oa, 96, wb ? "AMR-WB" : "AMR", rate,
					    "mode-change-capability=2; octet-align=1"),
			 0);
	assert_int_equal(store_track_map_pt(be, 96, wb ? "AMR-WB" : "AMR", rate, "mode-set=0,7"),
			 0);
	for (unsigned k = 0; k < nfr; k++) {
		int16_t in[320];
		int len;

		for (unsigned i = 0; i < spf; i++)
			in[i] = sine(k * spf + i, rate);
		/* Alternate the lowest and highest modes: odd bit counts exercise the packing. */
		if (wb)
			len = E_IF_encode(enc, k % 2 ? 8 : 0, in, fr[k], 0);
		else
			len = Encoder_Interface_Encode(enc, k % 2 ? MR122 : MR475, in, fr[k], 0);
		assert_true(len > 1 && len <= 64);
		if (wb)
			D_IF_decode(dec, fr[k], want + k * spf, 0);
		else
			Decoder_Interface_Decode(dec, fr[k], want + k * spf, 0);
	}
	for (unsigned k = 0; k < nfr; k += per) {
		uint8_t p[512];
		unsigned n = k + per <= nfr ? per : nfr - k;
		uint32_t ts = k * spf;
		size_t l;

		l = amr_pack(true, wb ? wb_bits : nb_bits, fr + k, n, p);
		add(oa, 96, ts, T0 + ts * (1000000000ull / rate), false, p, l);
		add(auto_oa, 96, ts, T0 + ts * (1000000000ull / rate), false, p, l);
		l = amr_pack(false, wb ? wb_bits : nb_bits, fr + k, n, p);
		add(be, 96, ts, T0 + ts * (1000000000ull / rate), false, p, l);
	}
	assert_int_equal(store_track_rate(be), rate);
	render_equal(oa, want, nfr * spf);
	render_equal(be, want, nfr * spf);
	/* Without an fmtp (recordings carry none yet) the framing is recognised. */
	render_equal(auto_oa, want, nfr * spf);
	assert_tone(want + spf * 10, spf * 30, rate);
	store_track_free(oa);
	store_track_free(be);
	store_track_free(auto_oa);
	if (wb) {
		E_IF_exit(enc);
		D_IF_exit(dec);
	} else {
		Encoder_Interface_exit(enc);
		Decoder_Interface_exit(dec);
	}
}

static void test_amr(void **state)
{
	amr_kat(false);
}

static void test_amr_wb(void **state)
{
	amr_kat(true);
}

static void test_gsm(void **state)
{
	gsm enc = gsm_create(), dec = gsm_create();
	static int16_t want[8000];
	uint8_t p[66];
	struct store_track *t;

	assert_int_equal(store_track_new("GSM", 3, &t), 0);
	for (unsigned k = 0; k < 50; k++) {
		int16_t in[160];

		for (unsigned i = 0; i < 160; i++)
			in[i] = sine(k * 160 + i, 8000);
		gsm_encode(enc, in, p + (k % 2) * 33);
		assert_int_equal(gsm_decode(dec, p + (k % 2) * 33, want + k * 160), 0);
		/* 40 ms packets: two frames each (RFC 3551 §4.5.8 allows several). */
		if (k % 2)
			add(t, 3, (k - 1) * 160, T0 + (k - 1) * 20000000ull, false, p, 66);
	}
	render_equal(t, want, 8000);
	assert_tone(want + 800, 4000, 8000);
	store_track_free(t);
	gsm_destroy(enc);
	gsm_destroy(dec);
}

/* G.726 at every rate, RFC 3551 packing (and AAL2 packing at 32 kbit/s). */
static void test_g726(void **state)
{
	static const struct {
		const char *name;
		int rate, packing;
		uint8_t pt;
	} v[] = {
		{"G726-16", 16000, G726_PACKING_RIGHT, 97},
		{"G726-24", 24000, G726_PACKING_RIGHT, 98},
		{"G726-32", 32000, G726_PACKING_RIGHT, 2}, /* the static PT of RFC 1890 */
		{"G726-40", 40000, G726_PACKING_RIGHT, 99},
		{"AAL2-G726-32", 32000, G726_PACKING_LEFT, 100},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		g726_state_t *enc = g726_init(NULL, v[i].rate, G726_ENCODING_LINEAR, v[i].packing);
		g726_state_t *dec = g726_init(NULL, v[i].rate, G726_ENCODING_LINEAR, v[i].packing);
		static int16_t want[8000];
		struct store_track *t;

		/* PT 2 needs no name: the static table maps it. */
		assert_int_equal(store_track_new(v[i].pt == 2 ? "" : v[i].name, v[i].pt, &t), 0);
		for (unsigned k = 0; k < 50; k++) {
			int16_t in[160];
			uint8_t p[160];
			int l;

			for (unsigned j = 0; j < 160; j++)
				in[j] = sine(k * 160 + j, 8000);
			l = g726_encode(enc, p, in, 160);
			assert_int_equal(l, 160 * v[i].rate / 64000);
			assert_int_equal(g726_decode(dec, want + k * 160, p, l), 160);
			add(t, v[i].pt, k * 160, T0 + k * 20000000ull, false, p, (size_t)l);
		}
		render_equal(t, want, 8000);
		assert_tone(want + 800, 4000, 8000);
		store_track_free(t);
		g726_free(enc);
		g726_free(dec);
	}
}

static void test_g722(void **state)
{
	g722_encode_state_t *enc = g722_encode_init(NULL, 64000, 0);
	g722_decode_state_t *dec = g722_decode_init(NULL, 64000, 0);
	static int16_t want[16000];
	struct store_track *t;

	assert_int_equal(store_track_new("G722", 9, &t), 0);
	for (unsigned k = 0; k < 50; k++) {
		int16_t in[320];
		uint8_t p[160];
		int l;

		for (unsigned i = 0; i < 320; i++)
			in[i] = sine(k * 320 + i, 16000);
		l = g722_encode(enc, p, in, 320);
		assert_int_equal(l, 160);
		assert_int_equal(g722_decode(dec, want + k * 320, p, l), 320);
		/* RFC 3551 §4.5.2: the RTP clock runs at 8000 although G.722 samples at 16 kHz. */
		add(t, 9, k * 160, T0 + k * 20000000ull, false, p, (size_t)l);
	}
	assert_int_equal(store_track_rate(t), 16000);
	render_equal(t, want, 16000);
	assert_tone(want + 1600, 8000, 16000);
	store_track_free(t);
	g722_encode_free(enc);
	g722_decode_free(dec);
}

static void test_opus(void **state)
{
	int err;
	OpusEncoder *enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err);
	OpusDecoder *dec = opus_decoder_create(48000, 1, &err);
	static int16_t want[48000];
	struct store_track *t;

	assert_int_equal(store_track_new("opus", 111, &t), 0);
	for (unsigned k = 0; k < 50; k++) {
		int16_t in[960];
		uint8_t p[400];
		int l;

		for (unsigned i = 0; i < 960; i++)
			in[i] = sine(k * 960 + i, 48000);
		l = opus_encode(enc, in, 960, p, sizeof(p));
		assert_true(l > 0);
		assert_int_equal(opus_decode(dec, p, l, want + k * 960, 960, 0), 960);
		add(t, 111, k * 960, T0 + k * 20000000ull, false, p, (size_t)l);
	}
	render_equal(t, want, 48000);
	assert_tone(want + 4800, 24000, 48000);
	store_track_free(t);
	opus_encoder_destroy(enc);
	opus_decoder_destroy(dec);
}

/* Issue 10 item 8: an A-law frame in a µ-law stream is decoded as A-law, by its own type. */
static void test_frame_by_own_pt(void **state)
{
	static int16_t want[1600];
	struct store_track *t;

	assert_int_equal(store_track_new("PCMU", 0, &t), 0);
	for (unsigned k = 0; k < 10; k++) {
		uint8_t p[160];
		bool alaw = k % 2;

		for (unsigned i = 0; i < 160; i++) {
			int16_t s = sine(k * 160 + i, 8000);

			p[i] = alaw ? linear_to_alaw(s) : linear_to_ulaw(s);
			want[k * 160 + i] = alaw ? alaw_to_linear(p[i]) : ulaw_to_linear(p[i]);
		}
		add(t, alaw ? 8 : 0, k * 160, T0 + k * 20000000ull, false, p, 160);
	}
	render_equal(t, want, 1600);
	store_track_free(t);
}

/* RFC 4733: events are silence in the audio and come back as digits, end packets merged. */
static void test_dtmf(void **state)
{
	static int16_t want[50 * 160];
	struct store_track *t;
	const struct store_dtmf *d;
	struct store_pt_info pi[4];
	size_t n;

	assert_int_equal(store_track_new("PCMU", 0, &t), 0);
	for (unsigned k = 0; k < 50; k++) {
		uint8_t p[160];

		if (k >= 20 && k < 25)
			continue; /* the SRC sends events instead of audio */
		for (unsigned i = 0; i < 160; i++) {
			p[i] = linear_to_ulaw(sine(k * 160 + i, 8000));
			want[k * 160 + i] = ulaw_to_linear(p[i]);
		}
		add(t, 0, k * 160, T0 + k * 20000000ull, false, p, 160);
	}
	/* Digit 5 at ts 3200 (400 ms), 100 ms; the end packet three times (§2.5.1.4). */
	for (unsigned k = 0; k < 7; k++) {
		unsigned dur = (k < 4 ? k + 1 : 5) * 160;
		uint8_t e[4] = {5, (uint8_t)((k >= 4 ? 0x80 : 0) | 10), (uint8_t)(dur >> 8),
				(uint8_t)dur};

		add(t, 101, 3200, T0 + (20 + k) * 20000000ull, k == 0, e, 4);
	}
	/* '#' at 900 ms, no end packet received. */
	for (unsigned k = 0; k < 2; k++) {
		unsigned dur = 160 * (k + 1);
		uint8_t e[4] = {11, 10, (uint8_t)(dur >> 8), (uint8_t)dur};

		add(t, 101, 7200, T0 + (45 + k) * 20000000ull, k == 0, e, 4);
	}
	render_equal(t, want, 50 * 160);
	assert_int_equal(store_track_dtmf(t, &d, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(d[0].digit, '5');
	assert_int_equal(d[0].start_ns, T0 + 400000000ull);
	assert_int_equal(d[0].duration_ms, 100);
	assert_true(d[0].ended);
	assert_int_equal(d[1].digit, '#');
	assert_int_equal(d[1].start_ns, T0 + 900000000ull);
	assert_int_equal(d[1].duration_ms, 40);
	assert_false(d[1].ended);
	assert_int_equal(store_track_pts(t, pi, 4), 2);
	assert_int_equal(pi[1].pt, 101);
	assert_true(pi[1].event);
	assert_string_equal(pi[1].name, "telephone-event");
	assert_int_equal(pi[1].frames, 9);
	store_track_free(t);
}

/* A codec without a decoder is named and counted, and yields no audio. */
static void test_undecodable(void **state)
{
	struct store_track *t;
	struct store_pt_info pi[2];
	uint8_t p[33] = {0};
	int16_t *pcm;
	size_t n;

	assert_int_equal(store_track_new("EVS", 96, &t), 0);
	for (unsigned k = 0; k < 5; k++)
		add(t, 96, k * 320, T0 + k * 20000000ull, false, p, sizeof(p));
	assert_int_equal(store_track_pts(t, pi, 2), 1);
	assert_string_equal(pi[0].name, "EVS");
	assert_false(pi[0].decoded);
	assert_false(pi[0].event);
	assert_int_equal(pi[0].frames, 5);
	assert_int_equal(store_track_render(t, T0, &pcm, &n), 0);
	assert_int_equal(n, 0);
	free(pcm);
	store_track_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_g729),   cmocka_unit_test(test_amr),
		cmocka_unit_test(test_amr_wb), cmocka_unit_test(test_gsm),
		cmocka_unit_test(test_g726),   cmocka_unit_test(test_g722),
		cmocka_unit_test(test_opus),   cmocka_unit_test(test_frame_by_own_pt),
		cmocka_unit_test(test_dtmf),   cmocka_unit_test(test_undecodable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
