// SPDX-License-Identifier: MIT
/*
 * Unit tests of the export audio path: a mu-law sine sequence decodes to exactly the samples
 * that were encoded, gaps are filled with silence by RTP timestamp, reordered and duplicate
 * packets land once in their place, an SSRC change is anchored by arrival time.
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

#include <spandsp/telephony.h>
#include <spandsp/bit_operations.h>
#include <spandsp/g711.h>

#include <FLAC/stream_decoder.h>
#include <unistd.h>

#include "siprecd/storage.h"

#define PKT 160
#define NPKT 50
#define T0 1700000000000000000ull

static int16_t sine(size_t i)
{
	return (int16_t)lrint(8000.0 * sin(2.0 * M_PI * 1000.0 * (double)i / 8000.0 + 0.3));
}

static void add_pkt(struct store_track *t, uint32_t ssrc, uint32_t ts_base, unsigned k,
		    uint64_t arrival, bool alaw)
{
	uint8_t pay[PKT];
	struct store_frame f = {STORE_FRAME_RTP,   PKT,		 arrival, ssrc, (uint16_t)k,
				ts_base + k * PKT, alaw ? 8 : 0, 0,	  pay};

	for (unsigned i = 0; i < PKT; i++) {
		int16_t s = sine(k * PKT + i);

		pay[i] = alaw ? linear_to_alaw(s) : linear_to_ulaw(s);
	}
	assert_int_equal(store_track_add(t, &f), 0);
}

/* A recording with no packet (a call whose media never came) renders to nothing and has no
 * DTMF: no packet array to sort (UBSan: qsort must not be given NULL). */
static void test_empty_track(void **state)
{
	struct store_track *t;
	const struct store_dtmf *ev;
	int16_t *pcm = NULL;
	size_t n = 1;

	(void)state;
	assert_int_equal(store_track_new("PCMU", 0, &t), 0);
	assert_int_equal(store_track_render(t, T0, &pcm, &n), 0);
	assert_int_equal(n, 0);
	free(pcm);
	n = 1;
	assert_int_equal(store_track_dtmf(t, &ev, &n), 0);
	assert_int_equal(n, 0);
	store_track_free(t);
}

static void test_ulaw_sine_gaps(void **state)
{
	struct store_track *t;
	int16_t *pcm;
	size_t n;
	/* Timestamps start near the 32-bit wrap to prove unwrapping. */
	const uint32_t base = 0xffffffffu - 20 * PKT;

	assert_int_equal(store_track_new("PCMU", 0, &t), 0);
	assert_int_equal(store_track_rate(t), 8000);
	for (unsigned k = 0; k < NPKT; k++) {
		unsigned j = k == 20 ? 21 : k == 21 ? 20 : k; /* 20 and 21 arrive swapped */

		if (j == 10)
			continue; /* lost */
		add_pkt(t, 0x1234, base, j, T0 + j * 20000000ull, false);
		if (j == 30)
			add_pkt(t, 0x1234, base, j, T0 + j * 20000000ull + 1000, false); /* dup */
	}
	/* Non-RTP frames are ignored. */
	assert_int_equal(store_track_add(t, &(struct store_frame){.type = STORE_FRAME_EVENT,
								  .len = 1,
								  .payload = (const uint8_t *)"x"}),
			 0);
	assert_int_equal(store_track_first_arrival_ns(t), T0);
	assert_int_equal(store_track_render(t, T0, &pcm, &n), 0);
	assert_int_equal(n, NPKT * PKT);
	for (size_t i = 0; i < n; i++) {
		int16_t want = i / PKT == 10 ? 0 : ulaw_to_linear(linear_to_ulaw(sine(i)));

		if (pcm[i] != want)
			fail_msg("sample %zu: %d != %d", i, pcm[i], want);
	}
	free(pcm);

	/* Rendered against an earlier origin, everything shifts by the arrival difference. */
	assert_int_equal(store_track_render(t, T0 - 500000000ull, &pcm, &n), 0);
	assert_int_equal(n, NPKT * PKT + 4000);
	for (size_t i = 0; i < 4000; i++)
		assert_int_equal(pcm[i], 0);
	assert_int_equal(pcm[4000], ulaw_to_linear(linear_to_ulaw(sine(0))));
	free(pcm);
	store_track_free(t);
}

static void test_ssrc_change(void **state)
{
	struct store_track *t;
	int16_t *pcm;
	size_t n;

	assert_int_equal(store_track_new("pcma", 8, &t), 0);
	for (unsigned k = 0; k < 10; k++)
		add_pkt(t, 1, 1000, k, T0 + k * 20000000ull, true);
	/* A new source two seconds in, with an unrelated timestamp base. */
	for (unsigned k = 0; k < 10; k++)
		add_pkt(t, 2, 99999999, k, T0 + 2000000000ull + k * 20000000ull, true);
	assert_int_equal(store_track_render(t, T0, &pcm, &n), 0);
	assert_int_equal(n, 16000 + 10 * PKT);
	assert_int_equal(pcm[0], alaw_to_linear(linear_to_alaw(sine(0))));
	for (size_t i = 10 * PKT; i < 16000; i++)
		assert_int_equal(pcm[i], 0);
	assert_int_equal(pcm[16000 + 5], alaw_to_linear(linear_to_alaw(sine(5))));
	free(pcm);
	store_track_free(t);
}

static void test_codecs_and_upsample(void **state)
{
	static const struct {
		const char *codec;
		unsigned rate;
	} t[] = {
		{"PCMU", 8000},	   {"PCMA", 8000}, {"G722", 16000},   {"opus", 48000},
		{"G729", 8000},	   {"AMR", 8000},  {"AMR-WB", 16000}, {"GSM", 8000},
		{"G726-32", 8000}, {"EVS", 8000},  {"", 8000},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct store_track *tr = NULL;

		assert_int_equal(store_track_new(t[i].codec, 96, &tr), 0);
		assert_int_equal(store_track_rate(tr), t[i].rate);
		store_track_free(tr);
	}
	{
		const int16_t in[3] = {0, 100, -100};
		int16_t *out;

		assert_int_equal(store_pcm_upsample(in, 3, 2, &out), 0);
		assert_int_equal(out[0], 0);
		assert_int_equal(out[1], 50);
		assert_int_equal(out[2], 100);
		assert_int_equal(out[3], 0);
		assert_int_equal(out[4], -100);
		assert_int_equal(out[5], -100);
		free(out);
	}
}

struct flac_read {
	int16_t *pcm; /* interleaved */
	size_t n, cap;
	unsigned channels, rate;
};

static FLAC__StreamDecoderWriteStatus flac_write(const FLAC__StreamDecoder *d,
						 const FLAC__Frame *fr,
						 const FLAC__int32 *const buf[], void *ud)
{
	struct flac_read *r = ud;

	r->channels = fr->header.channels;
	r->rate = fr->header.sample_rate;
	for (unsigned i = 0; i < fr->header.blocksize; i++)
		for (unsigned c = 0; c < fr->header.channels; c++)
			if (r->n < r->cap)
				r->pcm[r->n++] = (int16_t)buf[c][i];
	return FLAC__STREAM_DECODER_WRITE_STATUS_CONTINUE;
}

static void flac_error(const FLAC__StreamDecoder *d, FLAC__StreamDecoderErrorStatus s, void *ud)
{
	fail_msg("FLAC decode error %d", (int)s);
}

/* Three channels of different lengths: FLAC decodes back to them (libFLAC's own decoder)
 * sample for sample, shorter channels padded with silence; WAV past two channels is
 * WAVE_FORMAT_EXTENSIBLE; the mix is the saturated sum. */
static void test_audio_out(void **state)
{
	static int16_t a[4000], b[3000], c[4000];
	int16_t *ch[9] = {a, b, c, a, a, a, a, a, a}, *mix;
	size_t n[9] = {4000, 3000, 4000, 4000, 4000, 4000, 4000, 4000, 4000}, mn;
	char dir[] = "/tmp/siprecd-audio-XXXXXX", path[64];
	struct flac_read r = {.cap = 3 * 4000 + 1};
	FLAC__StreamDecoder *d;
	uint8_t h[68];
	FILE *f;

	for (size_t i = 0; i < 4000; i++) {
		a[i] = sine(i);
		c[i] = (int16_t)(i % 2 ? 30000 : -30000);
		if (i < 3000)
			b[i] = (int16_t)(i * 11);
	}
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/x.flac", dir);
	assert_int_equal(store_audio_write(path, STORE_AUDIO_FLAC, ch, n, 3, 8000), 0);
	assert_int_equal(store_audio_write(path, STORE_AUDIO_FLAC, ch, n, 3, 8000), -EEXIST);
	r.pcm = malloc(r.cap * sizeof(*r.pcm));
	d = FLAC__stream_decoder_new();
	assert_int_equal(FLAC__stream_decoder_init_file(d, path, flac_write, NULL, flac_error, &r),
			 FLAC__STREAM_DECODER_INIT_STATUS_OK);
	assert_true(FLAC__stream_decoder_process_until_end_of_stream(d));
	FLAC__stream_decoder_delete(d);
	assert_int_equal(r.channels, 3);
	assert_int_equal(r.rate, 8000);
	assert_int_equal(r.n, 3 * 4000);
	for (size_t i = 0; i < 4000; i++) {
		assert_int_equal(r.pcm[3 * i], a[i]);
		assert_int_equal(r.pcm[3 * i + 1], i < 3000 ? b[i] : 0);
		assert_int_equal(r.pcm[3 * i + 2], c[i]);
	}
	free(r.pcm);
	unlink(path);
	snprintf(path, sizeof(path), "%s/nine.flac", dir);
	assert_int_equal(store_audio_write(path, STORE_AUDIO_FLAC, ch, n, 9, 8000), -E2BIG);
	assert_int_equal(access(path, F_OK), -1);

	snprintf(path, sizeof(path), "%s/x.wav", dir);
	assert_int_equal(store_audio_write(path, STORE_AUDIO_WAV, ch, n, 3, 8000), 0);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fread(h, 1, sizeof(h), f), sizeof(h));
	fclose(f);
	assert_memory_equal(h + 12, "fmt \x28\0\0\0\xfe\xff\x03\0", 12);
	assert_memory_equal(h + 60, "data", 4);
	assert_int_equal(h[64] | h[65] << 8 | h[66] << 16, 3 * 4000 * 2);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);

	assert_int_equal(store_pcm_mix(ch + 1, n + 1, 2, &mix, &mn), 0);
	assert_int_equal(mn, 4000);
	for (size_t i = 0; i < 4000; i++) {
		int32_t want = (i < 3000 ? b[i] : 0) + c[i];

		assert_int_equal(mix[i], want > 32767 ? 32767 : want < -32768 ? -32768 : want);
	}
	free(mix);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_track), cmocka_unit_test(test_ulaw_sine_gaps),
		cmocka_unit_test(test_ssrc_change), cmocka_unit_test(test_codecs_and_upsample),
		cmocka_unit_test(test_audio_out),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
