// SPDX-License-Identifier: MIT
/*
 * G.729, G.729 Annex A and Annex B (comfort noise) for siprec-export through bcg729. RFC 3551
 * §4.5.6: a payload is zero or more 10-byte frames, then at most one 2-byte SID frame; each
 * frame is 10 ms (80 samples at 8 kHz). Annex A is bitstream-compatible, so one decoder serves.
 * After a SID frame the sender stops sending (Annex B DTX): that gap is comfort noise, which
 * bcg729 generates for each untransmitted frame (length 0).
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <bcg729/decoder.h>

#include "storage/codec.h"

#define G729_FRAME 10
#define G729_SID 2
#define G729_SAMPLES 80

struct g729 {
	bcg729DecoderChannelContextStruct *dec;
	bool dtx; /* the last frame was a SID: silence until the next frame is comfort noise */
};

static int g729_open(const struct store_codec *c, const char *fmtp, void **ret_state)
{
	struct g729 *g = calloc(1, sizeof(*g));

	if (!g)
		return -ENOMEM;
	g->dec = initBcg729DecoderChannel();
	if (!g->dec) {
		free(g);
		return -ENOMEM;
	}
	*ret_state = g;
	return 0;
}

static void g729_close(void *state)
{
	struct g729 *g = state;

	closeBcg729DecoderChannel(g->dec);
	free(g);
}

static int g729_decode(const struct store_codec *c, void *state, const uint8_t *p, size_t len,
		       int16_t *pcm, size_t cap)
{
	struct g729 *g = state;
	size_t n = 0;

	if (len % G729_FRAME != 0 && len % G729_FRAME != G729_SID)
		return -EBADMSG;
	for (size_t off = 0; off < len && n + G729_SAMPLES <= cap;) {
		uint8_t flen = len - off == G729_SID ? G729_SID : G729_FRAME;

		/* A SID frame (Annex B) updates the comfort-noise parameters and yields noise. */
		bcg729Decoder(g->dec, p + off, flen, 0, flen == G729_SID, 0, pcm + n);
		g->dtx = flen == G729_SID;
		off += flen;
		n += G729_SAMPLES;
	}
	return (int)n;
}

static int g729_fill(const struct store_codec *c, void *state, int16_t *pcm, size_t cap)
{
	struct g729 *g = state;
	size_t n = 0;

	if (!g->dtx)
		return 0; /* after speech a gap is a loss */
	for (; n + G729_SAMPLES <= cap; n += G729_SAMPLES)
		bcg729Decoder(g->dec, NULL, 0, 0, 0, 0, pcm + n);
	return (int)n;
}

const struct store_codec store_codec_g729 = {
	.name = "G729",
	.rate = 8000,
	.clock = 8000,
	.open = g729_open,
	.close = g729_close,
	.decode = g729_decode,
	.fill = g729_fill,
};
const struct store_codec store_codec_g729a = {
	.name = "G729A",
	.rate = 8000,
	.clock = 8000,
	.open = g729_open,
	.close = g729_close,
	.decode = g729_decode,
	.fill = g729_fill,
};
