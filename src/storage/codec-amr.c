// SPDX-License-Identifier: MIT
/*
 * AMR and AMR-WB for siprec-export through opencore-amrnb/-amrwb, with the RTP framing of RFC
 * 4867: the bandwidth-efficient (§4.3) and octet-aligned (§4.4) modes are unpacked into the
 * storage format of §5 (one header byte FT|Q, then the frame's bits), which the decoders read.
 * When the fmtp is not known, the mode is inferred from the first packet: an octet-aligned
 * payload has zero reserved and padding bits and exactly the length its TOC announces.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <opencore-amrnb/interf_dec.h>
#include <opencore-amrwb/dec_if.h>

#include "siprecd/macro.h"
#include "storage/codec.h"

#define AMR_WB 1
#define AMR_MAX_FRAME_BYTES 61 /* 1 + ceil(477 / 8) */
#define AMR_NO_DATA 15

enum amr_mode { AMR_MODE_UNKNOWN, AMR_MODE_BE, AMR_MODE_OA };

struct amr {
	void *dec;
	bool wb;
	bool crc; /* fmtp crc=1: one CRC byte per non-empty frame after the TOC (§4.4.2.1) */
	enum amr_mode mode;
};

/* Speech bits per frame type (RFC 4867 §3.6, 3GPP TS 26.101 and 26.201); -1 is a frame type
 * that is reserved or has no defined size. */
static const short nb_bits[16] = {95, 103, 118, 134, 148, 159, 204, 244,
				  39, -1,  -1,	-1,  -1,  -1,  -1,  0};
static const short wb_bits[16] = {132, 177, 253, 285, 317, 365, 397, 461,
				  477, 40,  -1,	 -1,  -1,  -1,	0,   0};

struct bits {
	const uint8_t *p;
	size_t len, pos; /* in bits */
};

static bool get_bits(struct bits *b, unsigned n, unsigned *ret)
{
	unsigned v = 0;

	if (b->len - b->pos < n)
		return false;
	for (unsigned i = 0; i < n; i++, b->pos++)
		v = v << 1 | ((b->p[b->pos / 8] >> (7 - b->pos % 8)) & 1);
	*ret = v;
	return true;
}

/* Copies n bits at b into out (MSB first), zero padded to a byte. */
static bool copy_bits(struct bits *b, unsigned n, uint8_t *out)
{
	memset(out, 0, (n + 7) / 8);
	for (unsigned i = 0; i < n; i++) {
		unsigned bit;

		if (!get_bits(b, 1, &bit))
			return false;
		out[i / 8] |= (uint8_t)(bit << (7 - i % 8));
	}
	return true;
}

static int fparam(const char *fmtp, const char *name)
{
	size_t l = strlen(name);

	for (const char *s = fmtp; s && *s;) {
		while (*s == ' ' || *s == ';')
			s++;
		if (strncasecmp(s, name, l) == 0 && s[l] == '=')
			return s[l + 1] == '1' &&
			       (s[l + 2] == 0 || s[l + 2] == ';' || s[l + 2] == ' ');
		s = strchr(s, ';');
	}
	return 0;
}

static int amr_open(const struct store_codec *c, const char *fmtp, void **ret_state)
{
	struct amr *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	a->wb = c->variant == AMR_WB;
	/* Interleaving and robust sorting reorder frames across packets: not supported. */
	if (fparam(fmtp, "interleaving") || fparam(fmtp, "robust-sorting")) {
		free(a);
		return -EOPNOTSUPP;
	}
	if (fmtp) {
		a->crc = fparam(fmtp, "crc");
		a->mode = fparam(fmtp, "octet-align") || a->crc ? AMR_MODE_OA : AMR_MODE_BE;
	}
	a->dec = a->wb ? D_IF_init() : Decoder_Interface_init();
	if (!a->dec) {
		free(a);
		return -ENOMEM;
	}
	*ret_state = a;
	return 0;
}

static void amr_close(void *state)
{
	struct amr *a = state;

	if (a->wb)
		D_IF_exit(a->dec);
	else
		Decoder_Interface_exit(a->dec);
	free(a);
}

struct toc {
	uint8_t ft, q;
};

/*
 * Parses a payload into toc[] and the offset (bits) of the first frame. Octet-aligned: strict
 * rejects non-zero reserved/padding bits and a length other than announced (mode detection).
 */
static int parse(const struct amr *a, enum amr_mode mode, bool strict, const uint8_t *p, size_t len,
		 struct toc *toc, size_t max_toc, size_t *ret_n, struct bits *ret_b)
{
	const short *bits = a->wb ? wb_bits : nb_bits;
	struct bits b = {p, len * 8, 0};
	unsigned v, f = 1;
	size_t n = 0, need = 0;

	if (!get_bits(&b, 4, &v)) /* CMR */
		return -EBADMSG;
	if (mode == AMR_MODE_OA && (!get_bits(&b, 4, &v) || (strict && v)))
		return -EBADMSG;
	while (f) {
		unsigned ft, q;

		if (n == max_toc || !get_bits(&b, 1, &f) || !get_bits(&b, 4, &ft) ||
		    !get_bits(&b, 1, &q) || bits[ft] < 0)
			return -EBADMSG;
		if (mode == AMR_MODE_OA && (!get_bits(&b, 2, &v) || (strict && v)))
			return -EBADMSG;
		toc[n++] = (struct toc){(uint8_t)ft, (uint8_t)q};
		need += mode == AMR_MODE_OA ? (size_t)(bits[ft] + 7) / 8 * 8 : (size_t)bits[ft];
		if (mode == AMR_MODE_OA && a->crc && bits[ft] > 0)
			need += 8;
	}
	if (b.len - b.pos < need)
		return -EBADMSG;
	/* Whatever follows the frames is padding: under 8 bits, or none at all octet-aligned. */
	if (strict && b.len - b.pos != need)
		return -EBADMSG;
	if (mode == AMR_MODE_BE && b.len - b.pos - need >= 8)
		return -EBADMSG;
	if (mode == AMR_MODE_OA && a->crc)
		for (size_t i = 0; i < n; i++)
			if (bits[toc[i].ft] > 0)
				b.pos += 8; /* the CRCs are checked by nothing here: skip them */
	*ret_n = n;
	*ret_b = b;
	return 0;
}

static int amr_decode(const struct store_codec *c, void *state, const uint8_t *p, size_t len,
		      int16_t *pcm, size_t cap)
{
	struct amr *a = state;
	const short *bits = a->wb ? wb_bits : nb_bits;
	unsigned spf = a->wb ? 320 : 160;
	struct toc toc[64];
	struct bits b;
	size_t n, out = 0;
	int r;

	if (a->mode == AMR_MODE_UNKNOWN) {
		if (parse(a, AMR_MODE_OA, true, p, len, toc, ARRAY_SIZE(toc), &n, &b) == 0)
			a->mode = AMR_MODE_OA;
		else if (parse(a, AMR_MODE_BE, false, p, len, toc, ARRAY_SIZE(toc), &n, &b) == 0)
			a->mode = AMR_MODE_BE;
		else
			return -EBADMSG;
	}
	r = parse(a, a->mode, false, p, len, toc, ARRAY_SIZE(toc), &n, &b);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && out + spf <= cap; i++) {
		uint8_t frame[AMR_MAX_FRAME_BYTES];
		unsigned nb = (unsigned)bits[toc[i].ft];

		frame[0] = (uint8_t)(toc[i].ft << 3 | toc[i].q << 2);
		if (!copy_bits(&b, nb, frame + 1))
			return -EBADMSG;
		if (a->mode == AMR_MODE_OA)
			b.pos = (b.pos + 7) / 8 * 8;
		/* A frame flagged damaged (Q = 0, §4.3.2) is concealed by the decoder. */
		if (a->wb)
			D_IF_decode(a->dec, frame, pcm + out, toc[i].q ? _good_frame : 1);
		else
			Decoder_Interface_Decode(a->dec, frame, pcm + out, !toc[i].q);
		out += spf;
	}
	return (int)out;
}

const struct store_codec store_codec_amr = {"AMR",    8000,	 8000,	     0,
					    amr_open, amr_close, amr_decode, NULL};
const struct store_codec store_codec_amr_wb = {"AMR-WB", 16000,	    16000,	AMR_WB,
					       amr_open, amr_close, amr_decode, NULL};
