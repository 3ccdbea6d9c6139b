// SPDX-License-Identifier: MIT
/*
 * JSON form of the rs-metadata model, used for the catalog snapshot and for exports. The layout
 * is documented in docs/METADATA.md; absent fields are left out, never null. Written straight
 * into one growing buffer, byte for byte what json-c's plain form of the same object tree gives
 * (keys in insertion order, its string escapes): building that tree cost ~45 allocations and
 * ~88,000 instructions per SIPREC INVITE, a quarter of the SIP thread's metadata work.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "siprec/metadata-internal.h"

struct jbuf {
	char *p;
	size_t len, cap;
	int err;
};

static bool reserve(struct jbuf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->err < 0)
		return false;
	if (b->cap - b->len > n)
		return true;
	cap = b->cap ? b->cap : 1024;
	while (cap - b->len <= n) {
		if (cap > SIZE_MAX / 2) {
			b->err = -ENOMEM;
			return false;
		}
		cap *= 2;
	}
	p = realloc(b->p, cap);
	if (!p) {
		b->err = -ENOMEM;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

static void put(struct jbuf *b, const char *s, size_t n)
{
	if (reserve(b, n)) {
		memcpy(b->p + b->len, s, n);
		b->len += n;
	}
}

#define PUT(b, lit) put(b, lit, sizeof(lit) - 1)

/* A JSON string: json-c's escapes (RFC 8259 §7: '"', '\\' and the C0 controls; '/' left as
 * is, as JSON_C_TO_STRING_NOSLASHESCAPE did); other bytes, UTF-8 or not, copied. */
static void put_string(struct jbuf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = strlen(s), run = 0;

	/* worst case: every byte a \u00XX */
	if (n > (SIZE_MAX - 2) / 6) {
		b->err = -ENOMEM;
		return;
	}
	if (!reserve(b, n * 6 + 2))
		return;
	b->p[b->len++] = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char *o;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		memcpy(b->p + b->len, s + run, i - run);
		b->len += i - run;
		run = i + 1;
		o = b->p + b->len;
		o[0] = '\\';
		switch (c) {
		case '"':
		case '\\':
			o[1] = (char)c;
			break;
		case '\b':
			o[1] = 'b';
			break;
		case '\f':
			o[1] = 'f';
			break;
		case '\n':
			o[1] = 'n';
			break;
		case '\r':
			o[1] = 'r';
			break;
		case '\t':
			o[1] = 't';
			break;
		default:
			memcpy(o + 1, "u00", 3);
			o[4] = hex[c >> 4];
			o[5] = hex[c & 0xf];
			b->len += 4;
			break;
		}
		b->len += 2;
	}
	memcpy(b->p + b->len, s + run, n - run);
	b->len += n - run;
	b->p[b->len++] = '"';
}

/* Members of one object: *first tells whether a comma goes before the next key. */
static void key(struct jbuf *b, bool *first, const char *k)
{
	if (!*first)
		PUT(b, ",");
	*first = false;
	put_string(b, k);
	PUT(b, ":");
}

static void add_str(struct jbuf *b, bool *first, const char *k, const char *s)
{
	if (!s)
		return;
	key(b, first, k);
	put_string(b, s);
}

static void add_bool(struct jbuf *b, bool *first, const char *k, bool v)
{
	key(b, first, k);
	if (v)
		PUT(b, "true");
	else
		PUT(b, "false");
}

static void add_strv(struct jbuf *b, bool *first, const char *k, const struct siprec_strv *v)
{
	key(b, first, k);
	PUT(b, "[");
	for (size_t i = 0; i < v->n; i++) {
		if (i)
			PUT(b, ",");
		put_string(b, v->v[i]);
	}
	PUT(b, "]");
}

static void add_times(struct jbuf *b, bool *first, const char *assoc, const char *disassoc)
{
	add_str(b, first, "associate_time", assoc);
	add_str(b, first, "disassociate_time", disassoc);
}

static void group_json(struct jbuf *b, const struct siprec_group *g)
{
	bool first = true;

	add_str(b, &first, "id", g->id);
	add_times(b, &first, g->associate_time, g->disassociate_time);
}

static void session_json(struct jbuf *b, const struct siprec_session_md *s)
{
	bool first = true;

	add_str(b, &first, "id", s->id);
	add_bool(b, &first, "defined", s->defined);
	add_strv(b, &first, "sip_session_ids", &s->sip_session_ids);
	add_str(b, &first, "group_ref", s->group_ref);
	add_str(b, &first, "start_time", s->start_time);
	add_str(b, &first, "stop_time", s->stop_time);
	add_times(b, &first, s->associate_time, s->disassociate_time);
}

static void participant_json(struct jbuf *b, const struct siprec_participant *p)
{
	bool first = true;

	add_str(b, &first, "id", p->id);
	add_bool(b, &first, "defined", p->defined);
	add_strv(b, &first, "names", &p->names);
	add_strv(b, &first, "aors", &p->aors);
	add_str(b, &first, "session_id", p->session_id);
	add_times(b, &first, p->associate_time, p->disassociate_time);
}

static void stream_json(struct jbuf *b, const struct siprec_stream_md *s)
{
	bool first = true;

	add_str(b, &first, "id", s->id);
	add_str(b, &first, "label", s->label);
	add_str(b, &first, "session_id", s->session_id);
	add_times(b, &first, s->associate_time, s->disassociate_time);
}

static void psa_json(struct jbuf *b, const struct siprec_psa *a)
{
	bool first = true;

	add_str(b, &first, "participant_id", a->participant_id);
	add_strv(b, &first, "send", &a->send);
	add_strv(b, &first, "recv", &a->recv);
	add_times(b, &first, a->associate_time, a->disassociate_time);
}

static void extension_json(struct jbuf *b, const struct siprec_extension *e)
{
	bool first = true;

	add_str(b, &first, "parent", e->parent);
	add_str(b, &first, "parent_id", e->parent_id);
	add_str(b, &first, "ns", e->ns);
	add_str(b, &first, "name", e->name);
	add_str(b, &first, "xml", e->xml);
}

/* "key":[{...},{...}] with fn writing each object's members. */
#define ADD_ARRAY(b, first, k, arr, n, fn)                                                         \
	do {                                                                                       \
		key(b, first, k);                                                                  \
		PUT(b, "[");                                                                       \
		for (size_t _i = 0; _i < (n); _i++) {                                              \
			if (_i)                                                                    \
				PUT(b, ",");                                                       \
			PUT(b, "{");                                                               \
			fn(b, &(arr)[_i]);                                                         \
			PUT(b, "}");                                                               \
		}                                                                                  \
		PUT(b, "]");                                                                       \
	} while (0)

int siprec_metadata_to_json(const struct siprec_metadata *md, char **ret_json)
{
	struct jbuf b = {0};
	bool first = true;

	PUT(&b, "{");
	add_str(&b, &first, "datamode",
		md->datamode == SIPREC_DATAMODE_PARTIAL ? "partial" : "complete");
	add_str(&b, &first, "dialect", md->dialect);
	add_str(&b, &first, "session_id", md->session_id);
	ADD_ARRAY(&b, &first, "groups", md->groups, md->n_groups, group_json);
	ADD_ARRAY(&b, &first, "sessions", md->sessions, md->n_sessions, session_json);
	ADD_ARRAY(&b, &first, "participants", md->participants, md->n_participants,
		  participant_json);
	ADD_ARRAY(&b, &first, "streams", md->streams, md->n_streams, stream_json);
	ADD_ARRAY(&b, &first, "participantstreamassoc", md->psas, md->n_psas, psa_json);
	ADD_ARRAY(&b, &first, "extensions", md->extensions, md->n_extensions, extension_json);
	add_strv(&b, &first, "context", &md->context);
	add_strv(&b, &first, "warnings", &md->warnings);
	if (md->n_warnings_dropped) {
		char num[24];
		int n = snprintf(num, sizeof(num), "%" PRIu64, (uint64_t)md->n_warnings_dropped);

		key(&b, &first, "warnings_dropped");
		put(&b, num, (size_t)n);
	}
	PUT(&b, "}");
	if (reserve(&b, 1))
		b.p[b.len] = '\0';
	if (b.err < 0) {
		free(b.p);
		return b.err;
	}
	*ret_json = b.p;
	return 0;
}
