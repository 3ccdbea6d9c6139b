// SPDX-License-Identifier: MIT
/*
 * Opus for siprec-export through libopus: decoded mono at 48 kHz, the RTP clock of RFC 7587
 * whatever the encoder's internal bandwidth; a stereo stream is downmixed by libopus.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include <opus.h>

#include "siprecd/macro.h"
#include "storage/codec.h"

static int opus_open(const struct store_codec *c, const char *fmtp, void **ret_state)
{
	int err;
	OpusDecoder *d = opus_decoder_create(48000, 1, &err);

	if (!d)
		return -ENOMEM;
	*ret_state = d;
	return 0;
}

static void opus_close(void *state)
{
	opus_decoder_destroy(state);
}

static int opus_dec(const struct store_codec *c, void *state, const uint8_t *p, size_t len,
		    int16_t *pcm, size_t cap)
{
	int r;

	if (len > INT32_MAX || cap > INT32_MAX)
		return -EBADMSG;
	r = opus_decode(state, p, (opus_int32)len, pcm, (int)cap, 0);
	return r < 0 ? -EBADMSG : r;
}

const struct store_codec store_codec_opus = {"opus",	48000,	    48000,    0,
					     opus_open, opus_close, opus_dec, NULL};
