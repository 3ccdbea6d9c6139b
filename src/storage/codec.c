// SPDX-License-Identifier: MIT
/*
 * The table of export decoders (one codec-*.c file each) and RFC 3551's static payload types.
 * siprec-export resolves a frame's payload type to a codec through audio.c's pt_resolve(),
 * which consults the negotiated map first and this static table second.
 */
#include <stddef.h>
#include <strings.h>

#include "siprecd/macro.h"
#include "storage/codec.h"

static const struct store_codec *const codecs[] = {
	&store_codec_pcmu,	   &store_codec_pcma,	      &store_codec_g722,
	&store_codec_opus,	   &store_codec_g729,	      &store_codec_g729a,
	&store_codec_amr,	   &store_codec_amr_wb,	      &store_codec_gsm,
	&store_codec_g726_16,	   &store_codec_g726_24,      &store_codec_g726_32,
	&store_codec_g726_40,	   &store_codec_aal2_g726_16, &store_codec_aal2_g726_24,
	&store_codec_aal2_g726_32, &store_codec_aal2_g726_40,
};

const struct store_codec *store_codec_by_name(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(codecs); i++)
		if (strcasecmp(name, codecs[i]->name) == 0)
			return codecs[i];
	/* G.729 Annex B is signalled by fmtp annexb=yes, but some SRCs name it in the
	 * encoding; the bitstream is G.729's either way. */
	if (strcasecmp(name, "G729B") == 0)
		return &store_codec_g729;
	return NULL;
}

const char *store_codec_static_name(uint8_t pt)
{
	/* RFC 3551 §6 table 4 (audio). PT 2 is RFC 1890's G721, which RFC 3551 §4.5.4 renamed
	 * G726-32 (same bitstream) before reserving the number; SRCs still send it. */
	static const char *const names[35] = {
		[0] = "PCMU",  [2] = "G726-32", [3] = "GSM",   [4] = "G723", [5] = "DVI4",
		[6] = "DVI4",  [7] = "LPC",	[8] = "PCMA",  [9] = "G722", [10] = "L16",
		[11] = "L16",  [12] = "QCELP",	[13] = "CN",   [14] = "MPA", [15] = "G728",
		[16] = "DVI4", [17] = "DVI4",	[18] = "G729",
	};

	return pt < ARRAY_SIZE(names) ? names[pt] : NULL;
}
