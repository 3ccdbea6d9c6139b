// SPDX-License-Identifier: MIT
/*
 * G.711 µ-law (PCMU) and A-law (PCMA) for siprec-export, through spandsp's tables: one byte
 * per sample (RFC 3551 §4.5.14), no state.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <spandsp/telephony.h>
#include <spandsp/g711.h>

#include "siprecd/macro.h"
#include "storage/codec.h"

static int g711_open(const struct store_codec *c, const char *fmtp, void **ret_state)
{
	*ret_state = NULL;
	return 0;
}

static void g711_close(void *state)
{
}

static int g711_dec(const struct store_codec *c, void *state, const uint8_t *p, size_t len,
		    int16_t *pcm, size_t cap)
{
	size_t n = MIN(len, cap);
	bool ulaw = c == &store_codec_pcmu;

	for (size_t i = 0; i < n; i++)
		pcm[i] = ulaw ? ulaw_to_linear(p[i]) : alaw_to_linear(p[i]);
	return (int)n;
}

const struct store_codec store_codec_pcmu = {"PCMU",	8000,	    8000,     0,
					     g711_open, g711_close, g711_dec, NULL};
const struct store_codec store_codec_pcma = {"PCMA",	8000,	    8000,     0,
					     g711_open, g711_close, g711_dec, NULL};
