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
#include "siprecd/log.h"
#include "siprecd/macro.h"
#include "siprecd/sip.h"
#include "siprecd/siprec.h"
#include "siprecd/storage.h"

/* A header value longer than this is not an id anyone correlates by: it is left out. */
#define CONTEXT_VALUE_MAX 1024

/*
 * A header value as one canonical string, so the value another leg or system logged finds it:
 * RFC 3261 §7.3.1 line folding and runs of white space are one space, and the white space a
 * separator may carry (SEMI = SWS ";" SWS) is dropped outside quoted strings. NULL on ENOMEM.
 */
static char *canonical_value(struct str in)
{
	char *out = malloc(in.len + 1);
	size_t n = 0;
	bool quoted = false, space = false;

	if (!out)
		return NULL;
	for (size_t i = 0; i < in.len; i++) {
		char c = in.s[i];

		if (!quoted && (c == ' ' || c == '\t' || c == '\r' || c == '\n')) {
			space = true;
			continue;
		}
		if (space && n > 0 && (quoted || (c != ';' && out[n - 1] != ';')))
			out[n++] = ' ';
		space = false;
		if (c == '"' && (n == 0 || out[n - 1] != '\\'))
			quoted = !quoted;
		out[n++] = c;
	}
	out[n] = '\0';
	return out;
}

/* Every header named name (case-insensitive) of req, as one row each. */
static void sip_header_rows(struct catalog *c, const char *uuid, struct sip_msg *req,
			    struct str name)
{
	char nm[64];

	if (name.len == 0 || str_copy(name, nm, sizeof(nm)) < 0)
		return;
	for (unsigned i = 0; i < req->n_hdrs; i++) {
		const struct sip_header *h = &req->hdrs[i];
		char *v;

		if (!str_caseeq(h->name, name) || h->value.len == 0 ||
		    h->value.len > CONTEXT_VALUE_MAX)
			continue;
		v = canonical_value(h->value);
		if (!v)
			return;
		catalog_session_context_add(c, uuid, "sip", nm, v);
		free(v);
	}
}

void siprec_catalog_sip_context(struct catalog *c, const char *session_uuid, struct sip_msg *req,
				const char *extra)
{
	/* RFC 7433 UUI, RFC 7989 Session-ID, RFC 3261 §20.9 Call-Info */
	static const char *const always[] = {"User-to-User", "Session-ID", "Call-Info"};
	struct str rest = str_from_cstr(extra ? extra : ""), name;

	for (size_t i = 0; i < ARRAY_SIZE(always); i++)
		sip_header_rows(c, session_uuid, req, str_from_cstr(always[i]));
	while (rest.s && rest.len) {
		rest = str_split(rest, ',', &name);
		name = str_trim(name);
		bool dup = false;

		for (size_t i = 0; i < ARRAY_SIZE(always); i++)
			dup |= str_caseeq_cstr(name, always[i]);
		if (!dup)
			sip_header_rows(c, session_uuid, req, name);
	}
}

void siprec_label_warning(struct catalog *c, const char *session_uuid, const char *label)
{
	char w[STORE_LABEL_MAX + 96];

	snprintf(w, sizeof(w),
		 "SDP stream '%s' matches no metadata stream: recorded without a sender", label);
	log_ratelimited(LOG_WARNING, "session %s: %s", session_uuid, w);
	catalog_metadata_warning(c, session_uuid, w);
}

void siprec_catalog_md_context(struct catalog *c, const char *session_uuid,
			       const struct siprec_metadata *md)
{
	for (size_t i = 0; i < md->context.n; i++) {
		const char *kv = md->context.v[i], *eq = strchr(kv, '=');
		char name[64];

		if (!eq || (size_t)(eq - kv) >= sizeof(name))
			continue;
		memcpy(name, kv, (size_t)(eq - kv));
		name[eq - kv] = '\0';
		catalog_session_context_add(c, session_uuid, "metadata", name, eq + 1);
	}
}

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
