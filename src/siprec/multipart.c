// SPDX-License-Identifier: MIT
/*
 * multipart/mixed bodies of SIPREC requests (RFC 2046 §5.1, RFC 5621, RFC 7866 §9.1): finds the
 * SDP part and the rs-metadata part and checks that nothing we must understand is left over.
 * Everything returned is a view into the caller's buffers; nothing is copied, except a part sent
 * base64 (RFC 2045 §6.8), decoded into a buffer of this thread's.
 */
#include <errno.h>
#include <stdlib.h>

#include "siprecd/b64.h"

#include "siprecd/log.h"
#include "siprecd/macro.h"
#include "siprecd/siprec.h"

/* RFC 2046 §5.1.1: a boundary is 1 to 70 characters. */
#define BOUNDARY_MAX 70

bool siprec_is_metadata_type(struct str type)
{
	/* RFC 7866 §9.1 registers rs-metadata+xml; drafts and some SRCs used rs-metadata. */
	return str_caseeq_cstr(type, "application/rs-metadata+xml") ||
	       str_caseeq_cstr(type, "application/rs-metadata");
}

/* Which limit the last -E2BIG passed: a reason phrase for the 413 (siprec_multipart_limit). */
static __thread const char *mp_limit = "Body Too Large";

const char *siprec_multipart_limit(void)
{
	return mp_limit;
}

/* Why the last -EMEDIUMTYPE, if for a Content-Transfer-Encoding (siprec_multipart_refusal). */
static __thread const char *mp_refusal;

const char *siprec_multipart_refusal(void)
{
	return mp_refusal;
}

/* The decoded SDP and metadata parts of the last call on this thread: each kind is found once
 * per body (a second is -EBADMSG), so one buffer per kind. */
static __thread struct decoded {
	uint8_t *buf;
	size_t size;
} mp_decoded[2];

static int over_limit(const char *why)
{
	mp_limit = why;
	return -E2BIG;
}

static bool is_sdp_type(struct str type)
{
	return str_caseeq_cstr(type, "application/sdp");
}

static bool is_tspecial_or_ws(char c)
{
	return c == ';' || c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Walks "type/subtype; a=b; c="d"" and returns the media type in *ret_type and the value of
 * parameter name (unquoted) in *ret_value (STR_NULL if absent). Quoted values may hold ';'.
 */
static int header_value_split(struct str v, const char *name, struct str *ret_type,
			      struct str *ret_value)
{
	struct str type, val = STR_NULL;
	size_t i = 0;

	while (i < v.len && v.s[i] != ';')
		i++;
	type = str_trim(str_make(v.s, i));
	while (i < v.len) {
		struct str pname;
		size_t start;

		i++; /* the ';' */
		while (i < v.len && (v.s[i] == ' ' || v.s[i] == '\t'))
			i++;
		start = i;
		while (i < v.len && v.s[i] != '=' && v.s[i] != ';')
			i++;
		pname = str_trim(str_make(v.s + start, i - start));
		if (i >= v.len || v.s[i] == ';') {
			/* a parameter without value */
			continue;
		}
		i++; /* '=' */
		while (i < v.len && (v.s[i] == ' ' || v.s[i] == '\t'))
			i++;
		if (i < v.len && v.s[i] == '"') {
			start = ++i;
			while (i < v.len && v.s[i] != '"') {
				if (v.s[i] == '\\' && i + 1 < v.len)
					i++;
				i++;
			}
			if (i >= v.len)
				return -EBADMSG; /* unterminated quoted string */
			if (name[0] && !val.s && str_caseeq_cstr(pname, name))
				val = str_make(v.s + start, i - start);
			i++;
			while (i < v.len && v.s[i] != ';')
				i++;
		} else {
			start = i;
			while (i < v.len && !is_tspecial_or_ws(v.s[i]))
				i++;
			if (name[0] && !val.s && str_caseeq_cstr(pname, name))
				val = str_make(v.s + start, i - start);
			while (i < v.len && v.s[i] != ';')
				i++;
		}
	}
	*ret_type = type;
	*ret_value = val;
	return 0;
}

/* Returns the end of the line starting at i (index of its LF, or len) and its content length
 * without CR in *ret_content_end. */
static size_t line_end(struct str b, size_t i, size_t *ret_content_end)
{
	const char *lf = i < b.len ? memchr(b.s + i, '\n', b.len - i) : NULL;
	size_t e = lf ? (size_t)(lf - b.s) : b.len;
	size_t ce = e;

	if (ce > i && b.s[ce - 1] == '\r')
		ce--;
	*ret_content_end = ce;
	return e;
}

/*
 * Is the line [i, ce) a delimiter line "--boundary" [ "--" ] transport-padding (RFC 2046
 * §5.1.1)? *ret_close tells the close delimiter apart.
 */
static bool is_delimiter(struct str b, size_t i, size_t ce, struct str boundary, bool *ret_close)
{
	size_t n = boundary.len;

	if (ce - i < n + 2 || b.s[i] != '-' || b.s[i + 1] != '-' ||
	    memcmp(b.s + i + 2, boundary.s, n) != 0)
		return false;
	i += n + 2;
	*ret_close = false;
	if (ce - i >= 2 && b.s[i] == '-' && b.s[i + 1] == '-') {
		*ret_close = true;
		i += 2;
	}
	for (; i < ce; i++)
		if (b.s[i] != ' ' && b.s[i] != '\t')
			return false;
	return true;
}

struct part_headers {
	struct str content_type;
	struct str boundary; /* of a nested multipart part */
	struct str disposition;
	enum siprec_handling handling;
	struct str content_id;
	struct str cte;
	bool has_length;
	uint64_t length;
	struct str body;
};

static bool header_is(struct str name, const char *full, const char *compact)
{
	return str_caseeq_cstr(name, full) || (compact && str_caseeq_cstr(name, compact));
}

/* Parses a part's MIME headers (with RFC 5322 folding) and finds where its content starts. */
static int part_parse(struct str p, struct part_headers *ret)
{
	struct part_headers h = {.handling = SIPREC_HANDLING_DEFAULT};
	size_t i = 0;

	for (;;) {
		struct str line, name, value;
		size_t ce, e, vend;
		ssize_t colon;

		if (i >= p.len) {
			/* headers up to the end and no blank line: an empty content */
			h.body = str_make(p.s + p.len, 0);
			break;
		}
		e = line_end(p, i, &ce);
		if (ce == i) {
			/* the blank line; a part may also begin with it (no headers, RFC 2046) */
			h.body = e < p.len ? str_make(p.s + e + 1, p.len - e - 1)
					   : str_make(p.s + p.len, 0);
			break;
		}
		line = str_make(p.s + i, ce - i);
		colon = str_chr(line, ':');
		if (colon <= 0)
			return -EBADMSG;
		name = str_trim(str_make(line.s, (size_t)colon));
		vend = ce;
		i = e + 1;
		/* folded continuation lines start with SP or HT */
		while (i < p.len && (p.s[i] == ' ' || p.s[i] == '\t')) {
			e = line_end(p, i, &ce);
			vend = ce;
			i = e + 1;
		}
		value = str_trim(str_make(line.s + colon + 1,
					  vend - (size_t)(line.s - p.s) - (size_t)colon - 1));

		if (header_is(name, "Content-Type", "c")) {
			if (header_value_split(value, "boundary", &h.content_type, &h.boundary) < 0)
				return -EBADMSG;
		} else if (header_is(name, "Content-Disposition", NULL)) {
			struct str handling;

			if (header_value_split(value, "handling", &h.disposition, &handling) < 0)
				return -EBADMSG;
			if (str_caseeq_cstr(handling, "optional"))
				h.handling = SIPREC_HANDLING_OPTIONAL;
			else if (str_caseeq_cstr(handling, "required"))
				h.handling = SIPREC_HANDLING_REQUIRED;
		} else if (header_is(name, "Content-ID", NULL)) {
			h.content_id = value;
		} else if (header_is(name, "Content-Transfer-Encoding", NULL)) {
			h.cte = value;
		} else if (header_is(name, "Content-Length", "l")) {
			/* unusual inside a part; a bad value is ignored, the delimiter rules */
			h.has_length = str_to_u64(value, UINT32_MAX, &h.length) == 0;
		}
	}
	if (h.has_length && h.length < h.body.len)
		h.body.len = (size_t)h.length;
	*ret = h;
	return 0;
}

static bool cte_is_identity(struct str cte)
{
	/* SIP is 8-bit clean (RFC 3261 §7.4): 7bit, 8bit and binary are the content as it is. */
	return cte.len == 0 || str_caseeq_cstr(cte, "binary") || str_caseeq_cstr(cte, "8bit") ||
	       str_caseeq_cstr(cte, "7bit");
}

static bool cte_is_base64(struct str cte)
{
	return str_caseeq_cstr(cte, "base64");
}

/*
 * RFC 2045 §6.8, RFC 5621 §3: a part may come base64-encoded; it is decoded into the thread's
 * buffer for its kind and parsed as if it had come plain. The decoded content is smaller than
 * the encoded one, which max_part_size bounds already. -EBADMSG when it is not base64.
 */
static int part_decode(struct str body, unsigned kind, struct str *ret)
{
	struct decoded *d = &mp_decoded[kind];
	size_t n;
	int r;

	if (d->size < body.len + 1) {
		uint8_t *b = realloc(d->buf, body.len + 1);

		if (!b)
			return -ENOMEM;
		d->buf = b;
		d->size = body.len + 1;
	}
	r = b64_decode_mime(body.s, body.len, d->buf, &n);
	if (r < 0) {
		log_debug("multipart: a base64 part does not decode");
		return r;
	}
	*ret = str_make((const char *)d->buf, n);
	return 0;
}

static bool handling_required(enum siprec_handling h)
{
	return h != SIPREC_HANDLING_OPTIONAL;
}

/* Sorts one part into ret: SDP, metadata, or other. */
static int part_classify(const struct part_headers *h, const struct siprec_limits *lim,
			 struct siprec_body_parts *ret)
{
	struct siprec_body_part *slot = NULL;
	struct str body = h->body;
	bool base64 = cte_is_base64(h->cte);

	if (h->body.len > lim->max_part_size)
		return over_limit("Body Part Too Large");
	if (h->content_type.len == 0 && h->body.len == 0) {
		/* an empty part (two delimiters in a row) carries nothing to understand */
		ret->n_other++;
		return 0;
	}
	if (is_sdp_type(h->content_type))
		slot = &ret->sdp;
	else if (siprec_is_metadata_type(h->content_type))
		slot = &ret->metadata;
	else if (str_caseeq_cstr(h->disposition, "recording-session") &&
		 (str_caseeq_cstr(h->content_type, "application/xml") ||
		  str_caseeq_cstr(h->content_type, "text/xml")))
		/* RFC 7866 §9.2: the recording-session disposition marks the metadata; an SRC
		 * that labels it with a generic XML type still means it. */
		slot = &ret->metadata;

	if (!slot || !(cte_is_identity(h->cte) || base64)) {
		if (handling_required(h->handling)) {
			/* quoted-printable, x-tokens: the 415's Warning names what is taken */
			if (!cte_is_identity(h->cte) && !base64)
				mp_refusal =
					"part Content-Transfer-Encoding not supported: 7bit, 8bit, "
					"binary and base64 are";
			log_debug("multipart: required part '%.*s' not understood",
				  STR_FMT(h->content_type));
			return -EMEDIUMTYPE;
		}
		ret->n_other++;
		return 0;
	}
	if (slot->present) {
		log_debug("multipart: two '%.*s' parts", STR_FMT(h->content_type));
		return -EBADMSG;
	}
	if (base64) {
		int r = part_decode(h->body, slot == &ret->sdp ? 0 : 1, &body);

		if (r < 0)
			return r;
	}
	*slot = (struct siprec_body_part){
		.present = true,
		.content_type = h->content_type,
		.disposition = h->disposition,
		.handling = h->handling,
		.content_id = h->content_id,
		.body = body,
	};
	return 0;
}

static int multipart_split(struct str boundary, struct str body, const struct siprec_limits *lim,
			   struct siprec_body_parts *ret, unsigned depth);

/*
 * RFC 5621 §3.1: a part may itself be a multipart (a multipart/alternative holding the SDP). One
 * level of nesting is looked into; its SDP and metadata count as the outer body's (found twice,
 * -EBADMSG as for two parts of one level), its parts against the same max_parts. Deeper nesting
 * is a part we do not understand.
 */
static int part_nested(const struct part_headers *h, const struct siprec_limits *lim,
		       struct siprec_body_parts *out, unsigned depth)
{
	struct siprec_body_parts in;
	int r;

	if (h->boundary.len == 0 || h->boundary.len > BOUNDARY_MAX)
		return -EBADMSG;
	r = multipart_split(h->boundary, h->body, lim, &in, depth + 1);
	if (r < 0)
		return r;
	if (out->n_parts - 1 + in.n_parts > lim->max_parts)
		return over_limit("Too Many Body Parts");
	if ((in.sdp.present && out->sdp.present) || (in.metadata.present && out->metadata.present))
		return -EBADMSG;
	if (in.sdp.present)
		out->sdp = in.sdp;
	if (in.metadata.present)
		out->metadata = in.metadata;
	out->n_parts += in.n_parts - 1;
	out->n_other += in.n_other;
	return 0;
}

static int part_sort(const struct part_headers *h, const struct siprec_limits *lim,
		     struct siprec_body_parts *out, unsigned depth)
{
	if (depth == 0 && str_startswith_case(h->content_type, "multipart/") &&
	    cte_is_identity(h->cte))
		return part_nested(h, lim, out, depth);
	return part_classify(h, lim, out);
}

static int multipart_split(struct str boundary, struct str body, const struct siprec_limits *lim,
			   struct siprec_body_parts *ret, unsigned depth)
{
	struct siprec_body_parts out = {};
	size_t i = 0, part_start = 0;
	bool in_part = false, closed = false;
	/* The first part that is malformed or of a type we must refuse: answered once the limits
	 * are checked over the whole body, so that a body over one is 413 whatever its first part
	 * is (thousands of text/plain parts are too many parts, not an unsupported type). */
	int failed = 0;

	while (i <= body.len && !closed) {
		size_t ce, e = line_end(body, i, &ce);
		bool close;

		if (i < body.len && is_delimiter(body, i, ce, boundary, &close)) {
			if (in_part) {
				struct part_headers h;
				/* the line break before the delimiter belongs to it (RFC 2046) */
				size_t end = i;
				int r;

				if (end > part_start && body.s[end - 1] == '\n')
					end--;
				if (end > part_start && body.s[end - 1] == '\r')
					end--;
				if (out.n_parts >= lim->max_parts)
					return over_limit("Too Many Body Parts");
				out.n_parts++;
				r = part_parse(str_make(body.s + part_start, end - part_start), &h);
				if (r == 0)
					r = part_sort(&h, lim, &out, depth);
				if (r == -E2BIG)
					return r;
				if (r < 0 && !failed)
					failed = r;
			}
			in_part = !close;
			closed = close;
			part_start = e < body.len ? e + 1 : body.len;
		}
		if (e >= body.len)
			break;
		i = e + 1;
	}

	if (!closed) {
		struct part_headers h;
		int r;

		if (!in_part)
			return -EBADMSG; /* no delimiter at all */
		/* liberal: a missing close delimiter ends the last part at the end of the body */
		out.unterminated = true;
		if (out.n_parts >= lim->max_parts)
			return over_limit("Too Many Body Parts");
		out.n_parts++;
		r = part_parse(str_make(body.s + part_start, body.len - part_start), &h);
		if (r == 0)
			r = part_sort(&h, lim, &out, depth);
		if (r == -E2BIG)
			return r;
		if (r < 0 && !failed)
			failed = r;
	}
	if (failed)
		return failed;
	*ret = out;
	return 0;
}

int siprec_multipart_parse(struct str content_type, struct str body,
			   const struct siprec_limits *lim, struct siprec_body_parts *ret)
{
	struct siprec_limits def = SIPREC_LIMITS_DEFAULT;
	struct str type, boundary;
	int r;

	if (!lim)
		lim = &def;
	mp_refusal = NULL;
	r = header_value_split(content_type, "boundary", &type, &boundary);
	if (r < 0)
		return r;

	if (str_startswith_case(type, "multipart/")) {
		/* RFC 2046 §5.1.7: unknown multipart subtypes are treated as mixed */
		if (!boundary.s || boundary.len == 0)
			return -EBADMSG;
		if (boundary.len > BOUNDARY_MAX)
			return over_limit("Multipart Boundary Too Long");
		return multipart_split(boundary, body, lim, ret, 0);
	}

	if (type.len == 0) {
		if (body.len == 0) {
			*ret = (struct siprec_body_parts){};
			return 0;
		}
		return -EBADMSG; /* RFC 3261 §20.15: a body needs a Content-Type */
	}

	{
		struct siprec_body_parts out = {.n_parts = 1};
		/* a single body carries no Content-Disposition here; the SIP layer has it */
		struct part_headers h = {
			.content_type = type,
			.handling = SIPREC_HANDLING_DEFAULT,
			.body = body,
		};

		r = part_classify(&h, lim, &out);
		if (r < 0)
			return r;
		*ret = out;
	}
	return 0;
}
