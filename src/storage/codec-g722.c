// SPDX-License-Identifier: MIT
/*
 * G.722 (64 kbit/s) for siprec-export through spandsp: one byte holds two 16 kHz samples; the
 * RTP clock is 8000 (RFC 3551 §4.5.2), the output 16 kHz.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include <spandsp/telephony.h>
#include <spandsp/g722.h>

#include "siprecd/macro.h"
#include "storage/codec.h"

static int g722_open(const struct store_codec *c, const char *fmtp, void **ret_state)
{
	g722_decode_state_t *s = g722_decode_init(NULL, 64000, 0);

	if (!s)
		return -ENOMEM;
	*ret_state = s;
	return 0;
}

static void g722_close(void *state)
{
	g722_decode_free(state);
}

static int g722_dec(const struct store_codec *c, void *state, const uint8_t *p, size_t len,
		    int16_t *pcm, size_t cap)
{
	size_t n = MIN(len, cap / 2);

	return g722_decode(state, pcm, p, (int)n);
}

const struct store_codec store_codec_g722 = {"G722",	16000,	    8000,     0,
					     g722_open, g722_close, g722_dec, NULL};
