// SPDX-License-Identifier: MIT
/*
 * The "sip-headers" metadata dialect: recording INVITEs that carry no rs-metadata body but
 * name the parties in SIP headers (docs/METADATA.md). Cisco CUCM network-based recording puts
 * them in the From URI parameters of each forked leg (x-nearend / x-farend says whose voice
 * the dialog carries, x-farendaddr the other party, x-refci the call leg ids); CUBE-style and
 * other SRCs add one X-Cisco-Recording-Participant / X-Recording-Participant header per party.
 * Both map to the one model: participants with AoRs and names, streams with senders.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "siprec/metadata-internal.h"
#include "siprecd/str.h"
#include "siprecd/sip.h"

/* Streams named by position get the label "m<N>" (N: the m= line, from 0), which the session
 * layer tries when a stream's own a=label is in no metadata stream. */
static struct str position_label(char buf[16], unsigned n)
{
	snprintf(buf, 16, "m%u", n);
	return str_from_cstr(buf);
}

static int add_participant(struct siprec_metadata *md, const char *id, struct str aor,
			   struct str name, struct siprec_participant **ret)
{
	struct siprec_participant *p;

	if (md->n_participants >= md->lim.max_participants)
		return -E2BIG;
	p = siprec_array_push(&md->participants, &md->n_participants, sizeof(*p));
	if (!p || !(p->id = strdup(id)))
		return -ENOMEM;
	p->defined = true;
	if (aor.len && siprec_strv_add(&p->aors, aor.s, aor.len) < 0)
		return -ENOMEM;
	if (name.len && siprec_strv_add(&p->names, name.s, name.len) < 0)
		return -ENOMEM;
	*ret = p;
	return 0;
}

/* A stream labelled label, sent by the participant of id pid (an id, not a pointer: adding
 * participants moves the array). */
static int add_sender(struct siprec_metadata *md, const char *pid, struct str label)
{
	struct siprec_stream_md *s;
	struct siprec_psa *a;
	char id[32];

	if (md->n_streams >= md->lim.max_streams || md->n_psas >= md->lim.max_participants)
		return -E2BIG;
	snprintf(id, sizeof(id), "hdr-stream-%zu", md->n_streams + 1);
	s = siprec_array_push(&md->streams, &md->n_streams, sizeof(*s));
	if (!s || !(s->id = strdup(id)) || !(s->label = str_dup(label)))
		return -ENOMEM;
	a = siprec_md_psa_find(md, pid);
	if (!a) {
		a = siprec_array_push(&md->psas, &md->n_psas, sizeof(*a));
		if (!a || !(a->participant_id = strdup(pid)))
			return -ENOMEM;
	}
	return siprec_strv_add(&a->send, id, strlen(id));
}

static int add_context(struct siprec_metadata *md, const char *name, struct str v)
{
	char *kv;
	int r;

	if (v.len == 0 || v.len > md->lim.max_text_len)
		return 0;
	if (md->context.n >= md->lim.max_extensions)
		return -E2BIG;
	if (asprintf(&kv, "%s=%.*s", name, (int)v.len, v.s) < 0)
		return -ENOMEM;
	r = siprec_strv_contains(&md->context, kv) ? 0
						   : siprec_strv_add(&md->context, kv, strlen(kv));
	free(kv);
	return r;
}

/* Splits "sip:2000@ucm1;x-nearend;x-refci=ci2" into the URI and ";x-nearend;x-refci=ci2"
 * (what sip_param_get() reads). */
static struct str uri_params(struct str uri, struct str *ret_base)
{
	const char *semi = memchr(uri.s, ';', uri.len);
	size_t n = semi ? (size_t)(semi - uri.s) : uri.len;

	*ret_base = str_make(uri.s, n);
	return str_make(uri.s + n, uri.len - n);
}

static bool has_param(struct str params, const char *name)
{
	struct str v;

	return sip_param_get(params, name, &v) == 0;
}

static struct str param(struct str params, const char *name)
{
	struct str v;

	return sip_param_get(params, name, &v) == 0 ? v : STR_NULL;
}

/* Cisco CUCM: From: <sip:2000@ucm1;x-nearend;x-refci=ci2;x-nearenddevice=SEPB;
 * x-farendrefci=ci1;x-farenddevice=SEPA;x-farendaddr=1000>;tag=... */
static int from_cucm(struct sip_msg *req, struct siprec_metadata *md)
{
	const struct sip_name_addr *from;
	struct siprec_participant *near = NULL, *far = NULL;
	struct str base, params;
	bool is_near, is_far;
	char ml[16];
	int r;

	if (sip_msg_from(req, &from) < 0)
		return 0;
	params = uri_params(from->uri, &base);
	is_near = has_param(params, "x-nearend");
	is_far = has_param(params, "x-farend");
	if (!is_near && !is_far && !param(params, "x-farendaddr").s)
		return 0;
	r = add_participant(md, "nearend", base, param(params, "x-nearenddevice"), &near);
	if (r >= 0 && param(params, "x-farendaddr").s)
		r = add_participant(md, "farend", param(params, "x-farendaddr"),
				    param(params, "x-farenddevice"), &far);
	if (r >= 0 && (is_near || (is_far && far)))
		r = add_sender(md, is_near ? "nearend" : "farend", position_label(ml, 0));
	if (r >= 0)
		r = add_context(md, "cisco-refci", param(params, "x-refci"));
	if (r >= 0)
		r = add_context(md, "cisco-farendrefci", param(params, "x-farendrefci"));
	return r < 0 ? r : 1;
}

/* X-Cisco-Recording-Participant: sip:708090@192.0.2.5;media-index="0" (Cisco CUBE network-based
 * recording: one per party, media-index the m= line it sends, from 0), or "Name" <uri>;label=L
 * (the a=label of the stream it sends). */
static int from_participant_headers(struct sip_msg *req, struct siprec_metadata *md)
{
	static const char *const names[] = {"X-Cisco-Recording-Participant",
					    "X-Recording-Participant"};
	unsigned found = 0;

	for (unsigned i = 0; i < req->n_hdrs; i++) {
		const struct sip_header *h = &req->hdrs[i];
		struct sip_name_addr na;
		struct siprec_participant *p;
		struct str display, label, index;
		bool ours = false;
		char id[32], ml[16];
		uint32_t n;
		int r;

		for (size_t k = 0; k < ARRAY_SIZE(names); k++)
			ours |= str_caseeq_cstr(h->name, names[k]);
		if (!ours || sip_name_addr_parse(h->value, &na) < 0 || na.uri.len == 0)
			continue;
		display = na.display;
		if (display.len >= 2 && display.s[0] == '"' && display.s[display.len - 1] == '"')
			display = str_make(display.s + 1, display.len - 2);
		snprintf(id, sizeof(id), "hdr-participant-%u", ++found);
		r = add_participant(md, id, na.uri, display, &p);
		if (r >= 0 && sip_param_get(na.params, "label", &label) == 0 && label.len) {
			r = add_sender(md, id, label);
		} else if (r >= 0 && sip_param_get(na.params, "media-index", &index) == 0) {
			struct str tok;

			/* "0", or "0 2" for a party's audio and video m= lines (CUBE video calls)
			 */
			if (index.len >= 2 && index.s[0] == '"' && index.s[index.len - 1] == '"')
				index = str_make(index.s + 1, index.len - 2);
			while (r >= 0 && (tok = str_next_token(&index)).s)
				if (str_to_u32(tok, 1023, &n) == 0)
					r = add_sender(md, id, position_label(ml, n));
		}
		if (r < 0)
			return r;
	}
	return found ? 1 : 0;
}

int siprec_metadata_from_headers(struct sip_msg *req, const struct siprec_limits *lim,
				 struct siprec_metadata **ret)
{
	struct siprec_metadata *md = calloc(1, sizeof(*md));
	int r, r2;

	if (!md)
		return -ENOMEM;
	md->lim = lim ? *lim : SIPREC_LIMITS_DEFAULT;
	md->dialect = "sip-headers";
	r = from_cucm(req, md);
	r2 = r < 0 ? r : from_participant_headers(req, md);
	if (r < 0 || r2 < 0 || (r == 0 && r2 == 0)) {
		siprec_metadata_free(md);
		return r < 0 ? r : r2 < 0 ? r2 : 0;
	}
	*ret = md;
	return 1;
}
