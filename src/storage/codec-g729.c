// SPDX-License-Identifier: MIT
/*
 * G.729, G.729 Annex A and Annex B (comfort noise) for siprec-export through bcg729. RFC 3551
 * §4.5.6: a payload is zero or more 10-byte frames, then at most one 2-byte SID frame; each
 * frame is 10 ms (80 samples at 8 kHz). Annex A is bitstream-compatible, so one decoder serves.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include <bcg729/decoder.h>

#include "storage/codec.h"

#define G729_FRAME 10
#define G729_SID 2
#define G729_SAMPLES 80

static int g729_open(const struct store_codec *c, const char *fmtp, void **ret_state)
{
	bcg729DecoderChannelContextStruct *d = initBcg729DecoderChannel();

	if (!d)
		return -ENOMEM;
	*ret_state = d;
	return 0;
}

static void g729_close(void *state)
{
	closeBcg729DecoderChannel(state);
}

static int g729_decode(const struct store_codec *c, void *state, const uint8_t *p, size_t len,
		       int16_t *pcm, size_t cap)
{
	size_t n = 0;

	if (len % G729_FRAME != 0 && len % G729_FRAME != G729_SID)
		return -EBADMSG;
	for (size_t off = 0; off < len && n + G729_SAMPLES <= cap;) {
		uint8_t flen = len - off == G729_SID ? G729_SID : G729_FRAME;

		/* A SID frame (Annex B) updates the comfort-noise parameters and yields noise. */
		bcg729Decoder(state, p + off, flen, 0, flen == G729_SID, 0, pcm + n);
		off += flen;
		n += G729_SAMPLES;
	}
	return (int)n;
}

const struct store_codec store_codec_g729 = {"G729",	8000,	    8000,	0,
					     g729_open, g729_close, g729_decode};
const struct store_codec store_codec_g729a = {"G729A",	 8000,	     8000,	 0,
					      g729_open, g729_close, g729_decode};
