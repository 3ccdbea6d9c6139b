// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for siprec-export's decoding of recorded RTP payloads (src/storage/audio.c,
 * codec-*.c): the first byte picks the negotiated codec and fmtp, then frames follow as
 * [length][payload type][payload]. Timestamps advance 20 ms a frame (the fuzzer controls the
 * payloads, RFC 4867 TOCs and event packets, not the memory a day of audio takes).
 */
#include <stdint.h>
#include <stdlib.h>

#include "siprecd/storage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct {
		const char *codec, *fmtp;
		uint32_t step;
	} c[] = {
		{"PCMU", NULL, 160},
		{"PCMA", NULL, 160},
		{"G722", NULL, 160},
		{"opus", NULL, 960},
		{"G729", NULL, 160},
		{"AMR", NULL, 160},
		{"AMR", "octet-align=1", 160},
		{"AMR", "octet-align=1; crc=1", 160},
		{"AMR-WB", NULL, 320},
		{"AMR-WB", "mode-set=0,1,2", 320},
		{"GSM", NULL, 160},
		{"G726-40", NULL, 160},
		{"AAL2-G726-16", NULL, 160},
		{"EVS", NULL, 320},
		{"telephone-event", NULL, 160},
		{"AMR", "interleaving=4", 160},
	};
	struct store_track *t;
	const struct store_dtmf *d;
	struct store_pt_info pi[128];
	int16_t *pcm = NULL;
	size_t n, off = 1, k = 0;
	unsigned sel;

	if (size < 1)
		return 0;
	sel = data[0] % (sizeof(c) / sizeof(c[0]));
	if (store_track_new(c[sel].codec, 96, &t) < 0)
		return 0;
	store_track_map_pt(t, 96, c[sel].codec, 8000, c[sel].fmtp);
	while (off + 2 <= size) {
		size_t len = data[off];
		struct store_frame f = {
			.type = STORE_FRAME_RTP,
			.pt = data[off + 1],
			.ssrc = 1,
			.arrival_ns = 1700000000000000000ull + k * 20000000ull,
			.rtp_ts = (uint32_t)(k * c[sel].step),
		};

		off += 2;
		if (len > size - off)
			len = size - off;
		f.len = (uint16_t)len;
		f.payload = data + off;
		off += len;
		k++;
		if (store_track_add(t, &f) < 0)
			abort();
	}
	if (store_track_render(t, 1700000000000000000ull, &pcm, &n) < 0)
		abort();
	free(pcm);
	store_track_dtmf(t, &d, &n);
	store_track_pts(t, pi, 128);
	store_track_free(t);
	return 0;
}
