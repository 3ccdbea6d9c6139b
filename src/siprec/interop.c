// SPDX-License-Identifier: MIT
/*
 * Interop hooks of the session layer: the catalog rows that describe what a real SRC
 * negotiated and sent (payload formats, correlation context), kept out of session.c so the
 * session logic stays about the dialog.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "siprec/interop.h"
#include "siprecd/catalog.h"
#include "siprecd/macro.h"
#include "siprecd/storage.h"

void siprec_catalog_formats(struct catalog *c, const char *session_uuid, const char *label,
			    const struct sdp_media *md)
{
	for (unsigned i = 0; i < md->n_formats; i++) {
		const struct sdp_fmtp *f;
		struct sdp_rtpmap r;
		char enc[STORE_CODEC_MAX + 1], *fmtp = NULL;

		if (md->pts[i] < 0 || !sdp_media_format(md, md->pts[i], &r) ||
		    str_copy(r.encoding, enc, sizeof(enc)) < 0)
			continue;
		f = sdp_media_fmtp(md, r.pt);
		if (f && f->params.len)
			fmtp = strndup(f->params.s, f->params.len);
		catalog_stream_format_add(c, &(struct catalog_stream_format){
						     .session_uuid = session_uuid,
						     .label = label,
						     .payload_type = r.pt,
						     .encoding = enc,
						     .clock_rate = r.clock,
						     .channels = r.channels,
						     .fmtp = fmtp,
					     });
		free(fmtp);
	}
}
