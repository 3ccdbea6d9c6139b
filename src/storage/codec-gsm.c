// SPDX-License-Identifier: MIT
/*
 * GSM 06.10 full rate for siprec-export through libgsm: RFC 3551 §4.5.8, a payload is a run of
 * 33-byte frames (signature nibble 0xD), 20 ms or 160 samples at 8 kHz each.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include <gsm.h>

#include "storage/codec.h"

#define GSM_FRAME 33
#define GSM_SAMPLES 160

static int gsm_open(const struct store_codec *c, const char *fmtp, void **ret_state)
{
	gsm g = gsm_create();

	if (!g)
		return -ENOMEM;
	*ret_state = g;
	return 0;
}

static void gsm_close(void *state)
{
	gsm_destroy(state);
}

static int gsm_dec(const struct store_codec *c, void *state, const uint8_t *p, size_t len,
		   int16_t *pcm, size_t cap)
{
	size_t n = 0;

	if (len % GSM_FRAME != 0)
		return -EBADMSG;
	for (size_t off = 0; off < len && n + GSM_SAMPLES <= cap; off += GSM_FRAME) {
		/* libgsm's prototype is not const-correct; it only reads the frame. */
		if (gsm_decode(state, (gsm_byte *)(uintptr_t)(p + off), pcm + n) < 0)
			return -EBADMSG; /* not a GSM frame (wrong signature) */
		n += GSM_SAMPLES;
	}
	return (int)n;
}

const struct store_codec store_codec_gsm = {"GSM",    8000,	 8000,	  0,
					    gsm_open, gsm_close, gsm_dec, NULL};
