/* SPDX-License-Identifier: MIT */
/*
 * Private to src/storage: the audio decoders of siprec-export, one codec per codec-*.c file,
 * each described by a struct store_codec, and the one table that names them (codec.c).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct store_codec {
	const char *name; /* SDP encoding name, matched case-insensitively */
	unsigned rate;	  /* PCM samples per second that decode() produces */
	unsigned clock;	  /* RTP clock rate (RFC 3551 §4.5.2: G.722's is 8000 at 16 kHz) */
	int variant;	  /* codec-specific (G.726 bit rate, AMR narrow/wide band) */
	/* Opens a decoder; fmtp is the SDP a=fmtp parameters, or NULL when they are not known.
	 * *ret_state may be NULL for a stateless codec. */
	int (*open)(const struct store_codec *c, const char *fmtp, void **ret_state);
	void (*close)(void *state);
	/* Decodes one RTP payload into at most cap samples of pcm: the number of samples, or
	 * -EBADMSG when the payload is malformed (what was decoded before that is lost). */
	int (*decode)(const struct store_codec *c, void *state, const uint8_t *p, size_t len,
		      int16_t *pcm, size_t cap);
	/* Optional: the signal of a gap the sender left on purpose (discontinuous transmission
	 * after a SID frame), at most cap samples; 0 when the gap is a loss (silence). */
	int (*fill)(const struct store_codec *c, void *state, int16_t *pcm, size_t cap);
};

/* The decoder for an SDP encoding name, or NULL. */
const struct store_codec *store_codec_by_name(const char *name);
/* RFC 3551 table 4: the encoding name of a static payload type (0..34), or NULL. */
const char *store_codec_static_name(uint8_t pt);

extern const struct store_codec store_codec_pcmu, store_codec_pcma;
extern const struct store_codec store_codec_g722;
extern const struct store_codec store_codec_opus;
extern const struct store_codec store_codec_g729, store_codec_g729a;
extern const struct store_codec store_codec_amr, store_codec_amr_wb;
extern const struct store_codec store_codec_gsm;
extern const struct store_codec store_codec_g726_16, store_codec_g726_24, store_codec_g726_32,
	store_codec_g726_40, store_codec_aal2_g726_16, store_codec_aal2_g726_24,
	store_codec_aal2_g726_32, store_codec_aal2_g726_40;
