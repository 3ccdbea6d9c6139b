// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the SDP offer parser and the answer builder: whatever parses must yield
 * an answer (for any buffer size either it fits or -ENOBUFS) that parses again with the same
 * number of m= lines, and the helpers must not trip on any parsed offer.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "siprecd/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sdp_session offer, again;
	static const struct sdp_limits lim = {.max_media = 8};
	struct sdp_answer_media am[SDP_MAX_MEDIA];
	struct sdp_crypto_answer *ca[SDP_MAX_MEDIA] = {0};
	struct sdp_answer_params p = {NULL, 1, 1, (size & 1) ? "2001:db8::1" : "192.0.2.1"};
	char out[8192], warn[256];
	int r;

	if (sdp_parse((const char *)data, size, &lim, &offer) < 0)
		return 0;
	if (offer.n_media > 8)
		abort();
	for (unsigned i = 0; i < offer.n_media; i++) {
		const struct sdp_media *m = &offer.media[i];
		int pt, dtmf;

		am[i] = (struct sdp_answer_media){0, -1, -1, true, NULL};
		(void)sdp_media_is_hold(m);
		(void)sdp_media_address(m);
		(void)sdp_crypto_format_unsupported(m, NULL, 0, warn, sizeof(warn));
		if (m->port == 0 || m->invalid || sdp_choose_codec(m, &pt, &dtmf) < 0)
			continue;
		if (sdp_media_is_srtp(m)) {
			struct sdp_crypto c;

			if (sdp_crypto_choose(m, NULL, 0, &c) < 0)
				continue;
			if (sdp_crypto_answer_make(c.suite->id, c.tag, &c.params, &ca[i]) < 0)
				abort();
			sdp_crypto_wipe(&c);
			am[i].crypto = ca[i];
		}
		am[i].port = (uint16_t)(20000 + 2 * i);
		am[i].pt = pt;
		am[i].dtmf_pt = dtmf;
	}
	r = sdp_answer_build(&offer, &p, am, offer.n_media, out, sizeof(out));
	if (r >= 0) {
		if ((size_t)r != strlen(out))
			abort();
		if (sdp_parse(out, (size_t)r, NULL, &again) < 0 || again.n_media != offer.n_media)
			abort();
		if (sdp_answer_build(&offer, &p, am, offer.n_media, out, (size_t)r) != -ENOBUFS)
			abort();
	} else if (r != -ENOBUFS) {
		abort();
	}
	for (unsigned i = 0; i < SDP_MAX_MEDIA; i++)
		sdp_crypto_answer_free(ca[i]);
	return 0;
}
