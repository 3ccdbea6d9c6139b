// SPDX-License-Identifier: MIT
/*
 * G.726 ADPCM at 16, 24, 32 and 40 kbit/s for siprec-export through spandsp. RFC 3551 §4.5.4
 * packs codewords from the least significant bit of each octet ("G726-32"); the ITU AAL2
 * layout (I.366.2, "AAL2-G726-32") packs from the most significant bit. 8 kHz either way.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <spandsp/telephony.h>
#include <spandsp/bitstream.h>
#include <spandsp/g726.h>

#include "siprecd/macro.h"
#include "storage/codec.h"

static int g726_open(const struct store_codec *c, const char *fmtp, void **ret_state)
{
	bool aal2 = c->name[0] == 'A';
	g726_state_t *s = g726_init(NULL, c->variant, G726_ENCODING_LINEAR,
				    aal2 ? G726_PACKING_LEFT : G726_PACKING_RIGHT);

	if (!s)
		return -ENOMEM;
	*ret_state = s;
	return 0;
}

static void g726_close(void *state)
{
	g726_free(state);
}

static int g726_dec(const struct store_codec *c, void *state, const uint8_t *p, size_t len,
		    int16_t *pcm, size_t cap)
{
	unsigned bits = (unsigned)c->variant / 8000;
	/* Samples in len bytes: len * 8 / bits; bound the input by what fits in cap. */
	size_t n = MIN(len, cap * bits / 8);

	return g726_decode(state, pcm, p, (int)n);
}

#define G726(sym, name, rate)                                                                      \
	const struct store_codec sym = {name,	   8000,       8000,	 rate,                     \
					g726_open, g726_close, g726_dec, NULL}
G726(store_codec_g726_16, "G726-16", 16000);
G726(store_codec_g726_24, "G726-24", 24000);
G726(store_codec_g726_32, "G726-32", 32000);
G726(store_codec_g726_40, "G726-40", 40000);
G726(store_codec_aal2_g726_16, "AAL2-G726-16", 16000);
G726(store_codec_aal2_g726_24, "AAL2-G726-24", 24000);
G726(store_codec_aal2_g726_32, "AAL2-G726-32", 32000);
G726(store_codec_aal2_g726_40, "AAL2-G726-40", 40000);
