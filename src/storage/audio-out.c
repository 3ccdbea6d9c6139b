// SPDX-License-Identifier: MIT
/*
 * Writes siprec-export's decoded PCM: 16-bit WAV with any number of channels (WAVE_FORMAT_
 * EXTENSIBLE past two, as Microsoft's WAVEFORMATEXTENSIBLE rules require) or lossless FLAC
 * through libFLAC (up to 8 channels), and mixes channels down to one. Decrypted audio is as
 * sensitive as the recording: files are created with mode 0600, never over an existing one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <FLAC/stream_encoder.h>

#include "siprecd/macro.h"
#include "siprecd/storage.h"
#include "storage/storage-internal.h"

#define FLAC_MAX_CHANNELS 8
#define FLAC_BLOCK 4096 /* samples per channel handed to the encoder at a time */

static FILE *create(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	FILE *f;

	if (fd < 0)
		return NULL;
	f = fdopen(fd, "wb");
	if (!f) {
		close(fd);
		unlink(path);
		errno = ENOMEM;
	}
	return f;
}

static size_t longest(const size_t *n, unsigned nch)
{
	size_t len = 0;

	for (unsigned c = 0; c < nch; c++)
		len = MAX(len, n[c]);
	return len;
}

static int write_wav(FILE *f, int16_t *const *ch, const size_t *n, unsigned nch, unsigned rate)
{
	/* PCM subformat GUID 00000001-0000-0010-8000-00aa00389b71. */
	static const uint8_t pcm_guid[16] = {1,	   0, 0, 0,    0, 0,	0x10, 0,
					     0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71};
	size_t len = longest(n, nch);
	bool ext = nch > 2;
	uint32_t fmt_len = ext ? 40 : 16, hdr = 20 + fmt_len + 8;
	uint8_t h[68] = {0}, buf[2 * 64];
	uint64_t data = (uint64_t)len * nch * 2;

	if (data > UINT32_MAX - hdr)
		return -EFBIG;
	memcpy(h, "RIFF", 4);
	store_put_le32(h + 4, (uint32_t)(hdr - 8 + data));
	memcpy(h + 8, "WAVEfmt ", 8);
	store_put_le32(h + 16, fmt_len);
	store_put_le16(h + 20, ext ? 0xfffe : 1);
	store_put_le16(h + 22, (uint16_t)nch);
	store_put_le32(h + 24, rate);
	store_put_le32(h + 28, rate * nch * 2);
	store_put_le16(h + 32, (uint16_t)(nch * 2));
	store_put_le16(h + 34, 16);
	if (ext) {
		store_put_le16(h + 36, 22);
		store_put_le16(h + 38, 16); /* valid bits */
		store_put_le32(h + 40, 0);  /* channel mask: participants, not speakers */
		memcpy(h + 44, pcm_guid, 16);
	}
	memcpy(h + 20 + fmt_len, "data", 4);
	store_put_le32(h + 24 + fmt_len, (uint32_t)data);
	if (fwrite(h, 1, hdr, f) != hdr)
		return -EIO;
	for (size_t i = 0; i < len; i++) {
		for (unsigned c = 0; c < nch; c++)
			store_put_le16(buf + 2 * c, (uint16_t)(i < n[c] ? ch[c][i] : 0));
		if (fwrite(buf, 2, nch, f) != nch)
			return -EIO;
	}
	return 0;
}

/* Takes ownership of f, closed on every path. */
static int write_flac(FILE *f, int16_t *const *ch, const size_t *n, unsigned nch, unsigned rate)
{
	FLAC__StreamEncoder *e = FLAC__stream_encoder_new();
	size_t len = longest(n, nch);
	FLAC__int32 *buf = NULL;
	int r = 0;

	if (!e) {
		fclose(f);
		return -ENOMEM;
	}
	if (!FLAC__stream_encoder_set_channels(e, nch) ||
	    !FLAC__stream_encoder_set_bits_per_sample(e, 16) ||
	    !FLAC__stream_encoder_set_sample_rate(e, rate) ||
	    !FLAC__stream_encoder_set_compression_level(e, 5) ||
	    !FLAC__stream_encoder_set_total_samples_estimate(e, len)) {
		fclose(f);
		r = -EINVAL;
		goto out;
	}
	/* From here the encoder owns f: finish (or delete, after a failed init) closes it. */
	if (FLAC__stream_encoder_init_FILE(e, f, NULL, NULL) !=
	    FLAC__STREAM_ENCODER_INIT_STATUS_OK) {
		r = -EIO;
		goto out;
	}
	buf = malloc((size_t)FLAC_BLOCK * nch * sizeof(*buf));
	for (size_t i = 0; buf && i < len && r == 0; i += FLAC_BLOCK) {
		size_t k = MIN((size_t)FLAC_BLOCK, len - i);

		for (size_t j = 0; j < k; j++)
			for (unsigned c = 0; c < nch; c++)
				buf[j * nch + c] = i + j < n[c] ? ch[c][i + j] : 0;
		if (!FLAC__stream_encoder_process_interleaved(e, buf, (uint32_t)k))
			r = -EIO;
	}
	if (!buf)
		r = -ENOMEM;
	if (!FLAC__stream_encoder_finish(e) && r == 0)
		r = -EIO;
out:
	free(buf);
	FLAC__stream_encoder_delete(e);
	return r;
}

int store_audio_write(const char *path, enum store_audio_format fmt, int16_t *const *ch,
		      const size_t *n, unsigned nch, unsigned rate)
{
	FILE *f;
	int r;

	if (nch == 0 || nch > STORE_AUDIO_MAX_CHANNELS || rate == 0)
		return -EINVAL;
	if (fmt == STORE_AUDIO_FLAC && nch > FLAC_MAX_CHANNELS)
		return -E2BIG;
	f = create(path);
	if (!f)
		return -errno;
	if (fmt == STORE_AUDIO_FLAC) {
		r = write_flac(f, ch, n, nch, rate);
	} else {
		r = write_wav(f, ch, n, nch, rate);
		if (fclose(f) != 0 && r == 0)
			r = -EIO;
	}
	if (r < 0)
		unlink(path);
	return r;
}

int store_pcm_mix(int16_t *const *ch, const size_t *n, unsigned nch, int16_t **ret, size_t *ret_n)
{
	size_t len = longest(n, nch);
	int16_t *out = malloc((len ? len : 1) * sizeof(*out));

	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		int32_t s = 0;

		for (unsigned c = 0; c < nch; c++)
			s += i < n[c] ? ch[c][i] : 0;
		/* Participants rarely talk at once: a sum keeps each voice at its level, and
		 * saturation (not wrap-around) handles the overlaps. */
		out[i] = (int16_t)(s > INT16_MAX ? INT16_MAX : s < INT16_MIN ? INT16_MIN : s);
	}
	*ret = out;
	*ret_n = len;
	return 0;
}
