// SPDX-License-Identifier: MIT
/*
 * SIP message parser (RFC 3261 §7, §25): splits one message into a start line, an array of
 * header views and a body, all pointing into the caller's buffer. Header values are parsed
 * lazily by the accessors in this file; stream framing and request validation live here too.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "siprecd/macro.h"
#include "siprecd/sip.h"

const struct sip_limits sip_limits_default = {
	.max_msg_size = 65535,
	.max_headers = SIP_MAX_HEADERS,
	.max_line_len = 8192,
};

static const char *const method_names[_SIP_METHOD_MAX] = {
	[SIP_METHOD_UNKNOWN] = NULL,
	[SIP_METHOD_INVITE] = "INVITE",
	[SIP_METHOD_ACK] = "ACK",
	[SIP_METHOD_BYE] = "BYE",
	[SIP_METHOD_CANCEL] = "CANCEL",
	[SIP_METHOD_OPTIONS] = "OPTIONS",
	[SIP_METHOD_REGISTER] = "REGISTER",
	[SIP_METHOD_PRACK] = "PRACK",
	[SIP_METHOD_UPDATE] = "UPDATE",
	[SIP_METHOD_INFO] = "INFO",
	[SIP_METHOD_SUBSCRIBE] = "SUBSCRIBE",
	[SIP_METHOD_NOTIFY] = "NOTIFY",
	[SIP_METHOD_REFER] = "REFER",
	[SIP_METHOD_MESSAGE] = "MESSAGE",
	[SIP_METHOD_PUBLISH] = "PUBLISH",
};

enum sip_method sip_method_from_str(struct str s)
{
	for (unsigned i = 1; i < _SIP_METHOD_MAX; i++)
		if (str_eq_cstr(s, method_names[i]))
			return (enum sip_method)i;
	return SIP_METHOD_UNKNOWN;
}

const char *sip_method_name(enum sip_method m)
{
	if ((unsigned)m >= _SIP_METHOD_MAX || !method_names[m])
		return "UNKNOWN";
	return method_names[m];
}

static const struct {
	const char *name;
	char compact;
	enum sip_hdr id;
} hdr_names[] = {
	{"Via", 'v', SIP_HDR_VIA},
	{"From", 'f', SIP_HDR_FROM},
	{"To", 't', SIP_HDR_TO},
	{"Call-ID", 'i', SIP_HDR_CALL_ID},
	{"CSeq", 0, SIP_HDR_CSEQ},
	{"Max-Forwards", 0, SIP_HDR_MAX_FORWARDS},
	{"Content-Length", 'l', SIP_HDR_CONTENT_LENGTH},
	{"Content-Type", 'c', SIP_HDR_CONTENT_TYPE},
	{"Contact", 'm', SIP_HDR_CONTACT},
	{"Require", 0, SIP_HDR_REQUIRE},
	{"Supported", 'k', SIP_HDR_SUPPORTED},
	{"Unsupported", 0, SIP_HDR_UNSUPPORTED},
	{"Proxy-Require", 0, SIP_HDR_PROXY_REQUIRE},
	{"Expires", 0, SIP_HDR_EXPIRES},
	{"Record-Route", 0, SIP_HDR_RECORD_ROUTE},
	{"Route", 0, SIP_HDR_ROUTE},
	{"Accept", 0, SIP_HDR_ACCEPT},
	{"Allow", 0, SIP_HDR_ALLOW},
	{"Content-Encoding", 'e', SIP_HDR_CONTENT_ENCODING},
	{"Content-Disposition", 0, SIP_HDR_CONTENT_DISPOSITION},
	{"Subject", 's', SIP_HDR_SUBJECT},
	{"Event", 'o', SIP_HDR_EVENT},
	{"Allow-Events", 'u', SIP_HDR_ALLOW_EVENTS},
	{"Refer-To", 'r', SIP_HDR_REFER_TO},
	{"Referred-By", 'b', SIP_HDR_REFERRED_BY},
	{"Session-Expires", 'x', SIP_HDR_SESSION_EXPIRES},
	{"User-Agent", 0, SIP_HDR_USER_AGENT},
	{"Server", 0, SIP_HDR_SERVER},
};

enum sip_hdr sip_hdr_from_name(struct str name)
{
	if (name.len == 1) {
		char c = (char)(name.s[0] | 0x20);

		for (size_t i = 0; i < ARRAY_SIZE(hdr_names); i++)
			if (hdr_names[i].compact == c)
				return hdr_names[i].id;
		return SIP_HDR_OTHER;
	}
	for (size_t i = 0; i < ARRAY_SIZE(hdr_names); i++)
		if (str_caseeq_cstr(name, hdr_names[i].name))
			return hdr_names[i].id;
	return SIP_HDR_OTHER;
}

/* ---- character classes (RFC 3261 §25.1) ---- */

static bool is_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~") */
static bool is_token(unsigned char c)
{
	return is_alnum(c) || (c && strchr("-.!%*_+`'~", c));
}

/* Inside a header value a CR or LF can only be part of a fold, so it counts as LWS. */
static bool is_lws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void skip_lws(struct str *s)
{
	while (s->len && is_lws((unsigned char)s->s[0])) {
		s->s++;
		s->len--;
	}
}

static void advance(struct str *s, size_t n)
{
	s->s += n;
	s->len -= n;
}

static bool peek(const struct str *s, char c)
{
	return s->len && s->s[0] == c;
}

/* Takes 1*token chars; false if none. */
static bool take_token(struct str *s, struct str *ret)
{
	size_t n = 0;

	while (n < s->len && is_token((unsigned char)s->s[n]))
		n++;
	if (n == 0)
		return false;
	*ret = str_make(s->s, n);
	advance(s, n);
	return true;
}

/* quoted-string with quoted-pair (§25.1); *ret keeps the quotes. false if unterminated. */
static bool take_quoted(struct str *s, struct str *ret)
{
	size_t n = 1;

	if (!peek(s, '"'))
		return false;
	while (n < s->len) {
		unsigned char c = (unsigned char)s->s[n];

		if (c == '\\') {
			if (n + 1 >= s->len || s->s[n + 1] == '\r' || s->s[n + 1] == '\n')
				return false;
			n += 2;
			continue;
		}
		if (c == '"') {
			*ret = str_make(s->s, n + 1);
			advance(s, n + 1);
			return true;
		}
		n++;
	}
	return false;
}

/* gen-value = token / host / quoted-string: token chars plus IPv6 brackets and colons. */
static bool take_gen_value(struct str *s, struct str *ret)
{
	size_t n = 0;

	if (peek(s, '"'))
		return take_quoted(s, ret);
	while (n < s->len && (is_token((unsigned char)s->s[n]) || strchr(":[]", s->s[n]) != NULL) &&
	       s->s[n])
		n++;
	if (n == 0)
		return false;
	*ret = str_make(s->s, n);
	advance(s, n);
	return true;
}

/*
 * Parses *( SWS ";" SWS generic-param ) and stops at end or ','. Calls back for each
 * name/value. Returns false on an empty or malformed parameter.
 */
typedef bool (*param_cb)(void *ctx, struct str name, struct str value, bool has_value);

static bool parse_params(struct str *s, param_cb cb, void *ctx)
{
	for (;;) {
		struct str name, value = STR_NULL;
		bool has_value = false;

		skip_lws(s);
		if (!peek(s, ';'))
			return true;
		advance(s, 1);
		skip_lws(s);
		if (!take_token(s, &name))
			return false;
		skip_lws(s);
		if (peek(s, '=')) {
			advance(s, 1);
			skip_lws(s);
			if (!take_gen_value(s, &value))
				return false;
			has_value = true;
		}
		if (cb && !cb(ctx, name, value, has_value))
			return false;
	}
}

int sip_param_get(struct str params, const char *name, struct str *ret)
{
	struct str s = params;

	for (;;) {
		struct str pname, value = STR_NULL;

		skip_lws(&s);
		if (!peek(&s, ';'))
			return -ENOENT;
		advance(&s, 1);
		skip_lws(&s);
		if (!take_token(&s, &pname))
			return -ENOENT;
		skip_lws(&s);
		if (peek(&s, '=')) {
			advance(&s, 1);
			skip_lws(&s);
			if (!take_gen_value(&s, &value))
				return -ENOENT;
		}
		if (str_caseeq_cstr(pname, name)) {
			*ret = value;
			return 0;
		}
	}
}

/* ---- start line ---- */

/* SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT */
static bool version_syntax(struct str v)
{
	size_t i = 4, d;

	if (v.len < 7 || !str_startswith_case(v, "SIP/"))
		return false;
	for (d = i; i < v.len && is_digit((unsigned char)v.s[i]); i++)
		;
	if (i == d || i >= v.len || v.s[i] != '.')
		return false;
	for (d = ++i; i < v.len && is_digit((unsigned char)v.s[i]); i++)
		;
	return i > d && i == v.len;
}

/* scheme ":" then no whitespace, controls, quotes or angle brackets (RFC 3261 §25.1). */
static bool uri_syntax(struct str u)
{
	size_t i = 0;

	if (u.len < 2 || !((u.s[0] | 0x20) >= 'a' && (u.s[0] | 0x20) <= 'z'))
		return false;
	while (i < u.len &&
	       (is_alnum((unsigned char)u.s[i]) || u.s[i] == '+' || u.s[i] == '-' || u.s[i] == '.'))
		i++;
	if (i >= u.len || u.s[i] != ':' || i + 1 == u.len)
		return false;
	for (; i < u.len; i++) {
		unsigned char c = (unsigned char)u.s[i];

		if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == '"')
			return false;
	}
	return true;
}

static void set_error(struct sip_msg *m, unsigned status, const char *reason)
{
	if (!m->error) {
		m->error = reason;
		m->error_status = status;
	}
}

static void parse_request_line(struct sip_msg *m, struct str line)
{
	const char *sp1 = memchr(line.s, ' ', line.len);
	const char *sp2;

	if (!sp1 || sp1 == line.s) {
		set_error(m, 400, "Malformed Request-Line");
		return;
	}
	m->method_name = str_make(line.s, (size_t)(sp1 - line.s));
	for (size_t i = 0; i < m->method_name.len; i++)
		if (!is_token((unsigned char)m->method_name.s[i])) {
			set_error(m, 400, "Malformed Method");
			return;
		}
	m->method = sip_method_from_str(m->method_name);
	sp2 = memrchr(line.s, ' ', line.len);
	if (sp2 == sp1) {
		set_error(m, 400, "Malformed Request-Line");
		return;
	}
	m->ruri = str_make(sp1 + 1, (size_t)(sp2 - sp1 - 1));
	m->version = str_make(sp2 + 1, line.len - (size_t)(sp2 - line.s) - 1);
	/* RFC 4475 §3.1.2.8-10: exactly one SP between elements, none inside the URI. */
	if (!uri_syntax(m->ruri)) {
		set_error(m, 400, "Malformed Request-URI");
		return;
	}
	if (!version_syntax(m->version)) {
		set_error(m, 400, "Malformed SIP-Version");
		return;
	}
	m->version_ok = str_caseeq_cstr(m->version, "SIP/2.0");
}

static void parse_status_line(struct sip_msg *m, struct str line)
{
	struct str code;
	uint32_t v;

	m->version = str_make(line.s, MIN(line.len, (size_t)7));
	if (line.len < 11 || !str_caseeq_cstr(m->version, "SIP/2.0") || line.s[7] != ' ') {
		set_error(m, 400, "Malformed Status-Line");
		return;
	}
	m->version_ok = true;
	code = str_make(line.s + 8, 3);
	/* Status-Code = 3DIGIT (RFC 4475 §3.1.2.19: longer codes are malformed). */
	if (str_to_u32(code, 699, &v) < 0 || v < 100 || (line.len > 11 && line.s[11] != ' ')) {
		set_error(m, 400, "Malformed Status-Code");
		return;
	}
	m->status = v;
	m->reason = line.len > 12 ? str_make(line.s + 12, line.len - 12) : str_make(line.s + 11, 0);
	for (size_t i = 0; i < m->reason.len; i++) {
		unsigned char c = (unsigned char)m->reason.s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			set_error(m, 400, "Malformed Reason-Phrase");
			return;
		}
	}
}

/* ---- header section ---- */

/*
 * Length of the line terminator at buf[i]: 2 for CRLF, 1 for a lone LF, 0 for none, -1 when the
 * buffer ends between CR and LF, -2 for a bare CR. RFC 3261 §7 asks for CRLF, but common stacks
 * (PJSIP, Kamailio, sofia-sip) also take LF alone, and some SRCs send it: we accept both and
 * always answer with CRLF.
 */
static int eol_len(const char *buf, size_t i, size_t end)
{
	if (buf[i] == '\n')
		return 1;
	if (buf[i] != '\r')
		return 0;
	if (i + 1 >= end)
		return -1;
	return buf[i + 1] == '\n' ? 2 : -2;
}

/*
 * Finds the end of one logical header field starting at p (folded lines joined, RFC 3261 §7.3.1).
 * Returns the offset of its line terminator and stores the offset just past it in *ret_next, or
 * returns -1 if the field is not terminated in [p, end), -2 on a bare CR.
 */
static ssize_t field_end(const char *buf, size_t p, size_t end, size_t *ret_next)
{
	for (size_t i = p; i < end; i++) {
		int t = eol_len(buf, i, end);

		if (t == 0)
			continue;
		if (t < 0)
			return t;
		if (i + (size_t)t >= end)
			return -1;
		if (buf[i + (size_t)t] == ' ' || buf[i + (size_t)t] == '\t') {
			i += (size_t)t - 1;
			continue;
		}
		*ret_next = i + (size_t)t;
		return (ssize_t)i;
	}
	return -1;
}

static int add_header(struct sip_msg *m, struct str field, unsigned max_headers)
{
	struct sip_header *h;
	size_t n = 0;
	struct str rest;

	while (n < field.len && is_token((unsigned char)field.s[n]))
		n++;
	if (n == 0)
		return -EBADMSG;
	rest = str_make(field.s + n, field.len - n);
	/* HCOLON = *( SP / HTAB ) ":" SWS */
	while (rest.len && (rest.s[0] == ' ' || rest.s[0] == '\t'))
		advance(&rest, 1);
	if (!peek(&rest, ':'))
		return -EBADMSG;
	advance(&rest, 1);
	if (m->n_hdrs >= max_headers)
		return -EMSGSIZE;
	h = &m->hdrs[m->n_hdrs];
	h->name = str_make(field.s, n);
	h->value = str_trim(rest);
	h->id = sip_hdr_from_name(h->name);
	if (m->hdr_first[h->id] < 0)
		m->hdr_first[h->id] = (int16_t)m->n_hdrs;
	if (m->hdr_count[h->id] < UINT8_MAX)
		m->hdr_count[h->id]++;
	m->n_hdrs++;
	return 0;
}

static int content_length_value(struct str v, uint32_t *ret)
{
	v = str_trim(v);
	return str_to_u32(v, UINT32_MAX, ret) < 0 ? -EBADMSG : 0;
}

int sip_msg_parse_flags(struct sip_msg *m, const char *buf, size_t len,
			const struct sip_limits *lim, unsigned flags)
{
	unsigned max_headers;
	size_t p, hdr_end = 0;
	ssize_t e;
	size_t next = 0;
	const struct sip_header *cl;

	if (!lim)
		lim = &sip_limits_default;
	max_headers = MIN(lim->max_headers, (unsigned)SIP_MAX_HEADERS);
	memset(m, 0, offsetof(struct sip_msg, hdrs));
	m->n_hdrs = 0;
	memset(m->hdr_count, 0, sizeof(m->hdr_count));
	memset(m->hdr_first, 0xff, sizeof(m->hdr_first));
	memset(&m->has_content_length, 0,
	       sizeof(*m) - offsetof(struct sip_msg, has_content_length));
	m->buf = buf;
	m->len = len;

	if (len > lim->max_msg_size) {
		set_error(m, 513, "Message Too Large");
		return -EMSGSIZE;
	}
	/* RFC 3261 §7.5: ignore CRLFs (or lone LFs) before the start line. */
	p = 0;
	for (int t; p < len && (t = eol_len(buf, p, len)) > 0;)
		p += (size_t)t;
	{
		const char *nl = len > p ? memchr(buf + p, '\n', len - p) : NULL;
		struct str line;

		if (!nl || nl == buf + p) {
			set_error(m, 400, "Malformed Start-Line");
			return -EBADMSG;
		}
		line = str_make(buf + p, (size_t)(nl - (buf + p)));
		if (line.s[line.len - 1] == '\r')
			line.len--;
		if (line.len > lim->max_line_len) {
			set_error(m, 513, "Start-Line Too Long");
			return -EMSGSIZE;
		}
		if (memchr(line.s, '\r', line.len)) {
			set_error(m, 400, "Malformed Start-Line");
			return -EBADMSG;
		}
		m->is_request = !str_startswith_case(line, "SIP/");
		if (m->is_request)
			parse_request_line(m, line);
		else
			parse_status_line(m, line);
		p = (size_t)(nl + 1 - buf);
	}

	for (;;) {
		int r;

		int t = p < len ? eol_len(buf, p, len) : 0;

		if (t > 0) {
			hdr_end = p + (size_t)t;
			break;
		}
		if (p < len && (buf[p] == ' ' || buf[p] == '\t')) {
			set_error(m, 400, "Folded line without a header");
			return -EBADMSG;
		}
		e = field_end(buf, p, len, &next);
		if (e == -2) {
			set_error(m, 400, "Bare CR in header");
			return -EBADMSG;
		}
		if (e < 0) {
			set_error(m, 400, "Header section not terminated");
			return -EBADMSG;
		}
		if ((size_t)e - p > lim->max_line_len) {
			set_error(m, 513, "Header Too Long");
			return -EMSGSIZE;
		}
		r = add_header(m, str_make(buf + p, (size_t)e - p), max_headers);
		if (r == -EMSGSIZE) {
			set_error(m, 513, "Too Many Headers");
			return r;
		}
		if (r < 0) {
			set_error(m, 400, "Malformed Header Line");
			return r;
		}
		p = next;
	}

	/* RFC 3261 §18.3, §20.14: Content-Length frames the body; a datagram may carry extra
	 * bytes, which are ignored, but a shorter body is an error. */
	cl = sip_msg_header(m, SIP_HDR_CONTENT_LENGTH);
	if (cl) {
		if (m->hdr_count[SIP_HDR_CONTENT_LENGTH] > 1) {
			set_error(m, 400, "Multiple Content-Length headers");
			m->headers_ok = true;
			m->len = hdr_end;
			return -EBADMSG;
		}
		if (content_length_value(cl->value, &m->content_length) < 0) {
			set_error(m, 400, "Malformed Content-Length");
			m->headers_ok = true;
			m->len = hdr_end;
			return -EBADMSG;
		}
		m->has_content_length = true;
		if (m->content_length > len - hdr_end) {
			set_error(m, 400, "Content-Length larger than message");
			m->headers_ok = true;
			m->len = hdr_end;
			return -EBADMSG;
		}
		m->body = str_make(buf + hdr_end, m->content_length);
		m->len = hdr_end + m->content_length;
	} else {
		if (flags & SIP_PARSE_STREAM) {
			set_error(m, 400, "Missing Content-Length");
			m->headers_ok = true;
			m->len = hdr_end;
			return -EBADMSG;
		}
		m->body = str_make(buf + hdr_end, len - hdr_end);
	}
	m->headers_ok = true;
	if (m->error)
		return -EBADMSG;
	return 0;
}

int sip_msg_parse(struct sip_msg *m, const char *buf, size_t len, const struct sip_limits *lim)
{
	return sip_msg_parse_flags(m, buf, len, lim, 0);
}

const char *sip_msg_error(const struct sip_msg *m)
{
	return m->error ? m->error : "OK";
}

unsigned sip_msg_error_status(const struct sip_msg *m)
{
	return m->error ? m->error_status : 0;
}

const struct sip_header *sip_msg_header(const struct sip_msg *m, enum sip_hdr id)
{
	if ((unsigned)id >= _SIP_HDR_MAX || m->hdr_first[id] < 0)
		return NULL;
	return &m->hdrs[m->hdr_first[id]];
}

const struct sip_header *sip_msg_header_by_name(const struct sip_msg *m, const char *name)
{
	for (unsigned i = 0; i < m->n_hdrs; i++)
		if (str_caseeq_cstr(m->hdrs[i].name, name))
			return &m->hdrs[i];
	return NULL;
}

/* Length of the next list element of v: up to a ',' outside quotes and <>. */
static size_t element_len(struct str v)
{
	bool quoted = false, angle = false;

	for (size_t i = 0; i < v.len; i++) {
		char c = v.s[i];

		if (quoted) {
			if (c == '\\')
				i++;
			else if (c == '"')
				quoted = false;
		} else if (c == '"') {
			quoted = true;
		} else if (c == '<') {
			angle = true;
		} else if (c == '>') {
			angle = false;
		} else if (c == ',' && !angle) {
			return i;
		}
	}
	return v.len;
}

bool sip_msg_next_value(const struct sip_msg *m, enum sip_hdr id, struct sip_hdr_iter *it,
			struct str *ret_value)
{
	for (; it->idx < m->n_hdrs; it->idx++, it->off = 0) {
		const struct sip_header *h = &m->hdrs[it->idx];

		if (h->id != id)
			continue;
		while (it->off < h->value.len) {
			struct str rest = str_make(h->value.s + it->off, h->value.len - it->off);
			size_t n = element_len(rest);
			struct str v = str_trim(str_make(rest.s, n));

			it->off += n + (n < rest.len ? 1 : 0);
			if (v.len) {
				*ret_value = v;
				return true;
			}
		}
	}
	return false;
}

/* ---- lazy header grammars ---- */

struct via_ctx {
	struct sip_via *v;
	bool bad;
};

static bool port_value(struct str s, uint16_t *ret)
{
	uint32_t v;

	if (str_to_u32(s, 65535, &v) < 0 || v == 0)
		return false;
	*ret = (uint16_t)v;
	return true;
}

static bool via_param(void *ctx, struct str name, struct str value, bool has_value)
{
	struct sip_via *v = ((struct via_ctx *)ctx)->v;

	if (str_caseeq_cstr(name, "branch")) {
		if (!has_value)
			return false;
		v->branch = value;
		v->magic_cookie =
			str_startswith_case(value, "z9hG4bK") && memcmp(value.s, "z9hG4bK", 7) == 0;
	} else if (str_caseeq_cstr(name, "received")) {
		if (!has_value)
			return false;
		v->received = value;
	} else if (str_caseeq_cstr(name, "rport")) {
		v->rport = true;
		if (has_value && !port_value(value, &v->rport_value))
			return false;
	}
	return true;
}

/* via-parm = sent-protocol LWS sent-by *( SEMI via-params ) (RFC 3261 §20.42, §25.1) */
int sip_via_parse(struct str s, struct sip_via *ret)
{
	struct sip_via v = {0};
	struct via_ctx ctx = {&v, false};
	struct str proto, ver, host;
	size_t n = 0;

	skip_lws(&s);
	if (!take_token(&s, &proto) || !str_caseeq_cstr(proto, "SIP"))
		return -EBADMSG;
	skip_lws(&s);
	if (!peek(&s, '/'))
		return -EBADMSG;
	advance(&s, 1);
	skip_lws(&s);
	/* Any protocol-version token: a SIP/7.0 request still gets its 505 (RFC 4475 §3.1.2.16). */
	if (!take_token(&s, &ver))
		return -EBADMSG;
	skip_lws(&s);
	if (!peek(&s, '/'))
		return -EBADMSG;
	advance(&s, 1);
	skip_lws(&s);
	if (!take_token(&s, &v.transport))
		return -EBADMSG;
	if (!s.len || !is_lws((unsigned char)s.s[0]))
		return -EBADMSG;
	skip_lws(&s);
	if (peek(&s, '[')) {
		const char *close = memchr(s.s, ']', s.len);

		if (!close || close == s.s + 1)
			return -EBADMSG;
		host = str_make(s.s + 1, (size_t)(close - s.s - 1));
		for (size_t i = 0; i < host.len; i++)
			if (!(is_alnum((unsigned char)host.s[i]) || host.s[i] == ':' ||
			      host.s[i] == '.'))
				return -EBADMSG;
		advance(&s, (size_t)(close - s.s) + 1);
	} else {
		while (n < s.len &&
		       (is_alnum((unsigned char)s.s[n]) || s.s[n] == '-' || s.s[n] == '.'))
			n++;
		if (n == 0)
			return -EBADMSG;
		host = str_make(s.s, n);
		advance(&s, n);
	}
	v.host = host;
	skip_lws(&s);
	if (peek(&s, ':')) {
		struct str port;

		advance(&s, 1);
		skip_lws(&s);
		for (n = 0; n < s.len && is_digit((unsigned char)s.s[n]); n++)
			;
		port = str_make(s.s, n);
		if (!port_value(port, &v.port))
			return -EBADMSG;
		advance(&s, n);
	}
	if (!parse_params(&s, via_param, &ctx) || ctx.bad)
		return -EBADMSG;
	skip_lws(&s);
	if (s.len)
		return -EBADMSG;
	*ret = v;
	return 0;
}

static bool tag_param(void *ctx, struct str name, struct str value, bool has_value)
{
	struct sip_name_addr *na = ctx;

	if (str_caseeq_cstr(name, "tag")) {
		if (!has_value || peek(&value, '"'))
			return false;
		na->tag = value;
	}
	return true;
}

/*
 * (name-addr / addr-spec) *( SEMI param ) (RFC 3261 §20.10, §25.1). In addr-spec form a URI
 * containing ',', '?' or ';' would be ambiguous, so '?' and ',' are refused there and ';'
 * starts the header parameters.
 */
int sip_name_addr_parse(struct str s, struct sip_name_addr *ret)
{
	struct sip_name_addr na = {0};
	const char *lt = NULL;
	bool quoted = false;

	s = str_trim(s);
	if (str_eq_cstr(s, "*")) {
		na.star = true;
		*ret = na;
		return 0;
	}
	for (size_t i = 0; i < s.len; i++) {
		if (quoted) {
			if (s.s[i] == '\\')
				i++;
			else if (s.s[i] == '"')
				quoted = false;
		} else if (s.s[i] == '"') {
			quoted = true;
		} else if (s.s[i] == '<') {
			lt = s.s + i;
			break;
		}
	}
	if (quoted)
		return -EBADMSG;
	if (lt) {
		struct str disp = str_make(s.s, (size_t)(lt - s.s)), d;
		const char *gt;

		d = str_trim(disp);
		if (peek(&d, '"')) {
			struct str q;

			if (!take_quoted(&d, &q))
				return -EBADMSG;
			skip_lws(&d);
			if (d.len)
				return -EBADMSG;
			na.display = q;
		} else {
			struct str t = d;

			/* display-name = *(token LWS): a comma or other separator is malformed
			 * (RFC 4475 §3.1.2.15). */
			for (size_t i = 0; i < t.len; i++)
				if (!is_token((unsigned char)t.s[i]) &&
				    !is_lws((unsigned char)t.s[i]))
					return -EBADMSG;
			na.display = d;
		}
		advance(&s, (size_t)(lt - s.s) + 1);
		gt = memchr(s.s, '>', s.len);
		if (!gt)
			return -EBADMSG;
		na.uri = str_make(s.s, (size_t)(gt - s.s));
		/* LAQUOT/RAQUOT allow no LWS inside the brackets (RFC 4475 §3.1.2.14). */
		if (!uri_syntax(na.uri))
			return -EBADMSG;
		advance(&s, (size_t)(gt - s.s) + 1);
	} else {
		size_t n = 0;

		while (n < s.len && s.s[n] != ';' && !is_lws((unsigned char)s.s[n]))
			n++;
		na.uri = str_make(s.s, n);
		if (!uri_syntax(na.uri) || memchr(na.uri.s, '?', n) || memchr(na.uri.s, ',', n))
			return -EBADMSG;
		advance(&s, n);
	}
	{
		struct str p = s;

		skip_lws(&p);
		na.params = p;
		if (!parse_params(&p, tag_param, &na))
			return -EBADMSG;
		skip_lws(&p);
		if (p.len)
			return -EBADMSG;
	}
	*ret = na;
	return 0;
}

/* Common frame of the lazy accessors: cached result, absence, malformed. */
static int lazy_begin(struct sip_msg *m, unsigned bit, enum sip_hdr id,
		      const struct sip_header **ret_h)
{
	if (m->lazy_failed & bit)
		return -EBADMSG;
	if (m->lazy_done & bit)
		return 1;
	*ret_h = sip_msg_header(m, id);
	if (!*ret_h)
		return -ENOENT;
	return 0;
}

static int lazy_fail(struct sip_msg *m, unsigned bit, const char *reason)
{
	m->lazy_failed |= bit;
	set_error(m, 400, reason);
	return -EBADMSG;
}

int sip_msg_via(struct sip_msg *m, const struct sip_via **ret)
{
	const struct sip_header *h;
	struct sip_hdr_iter it = {0};
	struct str v;
	int r = lazy_begin(m, SIP_LAZY_VIA, SIP_HDR_VIA, &h);

	if (r < 0)
		return r;
	if (r == 0) {
		/* Only the first via-parm: "SIP/2.0/UDP a, SIP/2.0/UDP b" holds two. */
		if (!sip_msg_next_value(m, SIP_HDR_VIA, &it, &v) ||
		    it.idx != (unsigned)(h - m->hdrs))
			return lazy_fail(m, SIP_LAZY_VIA, "Malformed Via");
		if (sip_via_parse(v, &m->via) < 0)
			return lazy_fail(m, SIP_LAZY_VIA, "Malformed Via");
		m->lazy_done |= SIP_LAZY_VIA;
	}
	*ret = &m->via;
	return 0;
}

static int lazy_name_addr(struct sip_msg *m, unsigned bit, enum sip_hdr id,
			  struct sip_name_addr *slot, const char *reason,
			  const struct sip_name_addr **ret)
{
	const struct sip_header *h;
	int r = lazy_begin(m, bit, id, &h);

	if (r < 0)
		return r;
	if (r == 0) {
		struct str v = h->value;

		if (id == SIP_HDR_CONTACT) {
			struct sip_hdr_iter it = {0};

			if (!sip_msg_next_value(m, id, &it, &v))
				return lazy_fail(m, bit, reason);
		}
		if (sip_name_addr_parse(v, slot) < 0)
			return lazy_fail(m, bit, reason);
		m->lazy_done |= bit;
	}
	*ret = slot;
	return 0;
}

int sip_msg_from(struct sip_msg *m, const struct sip_name_addr **ret)
{
	return lazy_name_addr(m, SIP_LAZY_FROM, SIP_HDR_FROM, &m->from, "Malformed From", ret);
}

int sip_msg_to(struct sip_msg *m, const struct sip_name_addr **ret)
{
	return lazy_name_addr(m, SIP_LAZY_TO, SIP_HDR_TO, &m->to, "Malformed To", ret);
}

int sip_msg_contact(struct sip_msg *m, const struct sip_name_addr **ret)
{
	return lazy_name_addr(m, SIP_LAZY_CONTACT, SIP_HDR_CONTACT, &m->contact,
			      "Malformed Contact", ret);
}

/* CSeq = 1*DIGIT LWS Method; the number is below 2^31 (RFC 3261 §8.1.1.5). */
int sip_msg_cseq(struct sip_msg *m, const struct sip_cseq **ret)
{
	const struct sip_header *h;
	int r = lazy_begin(m, SIP_LAZY_CSEQ, SIP_HDR_CSEQ, &h);

	if (r < 0)
		return r;
	if (r == 0) {
		struct str s = h->value;
		size_t n = 0;

		while (n < s.len && is_digit((unsigned char)s.s[n]))
			n++;
		if (n == 0 || str_to_u32(str_make(s.s, n), INT32_MAX, &m->cseq.seq) < 0)
			return lazy_fail(m, SIP_LAZY_CSEQ, "Malformed CSeq");
		advance(&s, n);
		if (!s.len || !is_lws((unsigned char)s.s[0]))
			return lazy_fail(m, SIP_LAZY_CSEQ, "Malformed CSeq");
		skip_lws(&s);
		if (!take_token(&s, &m->cseq.method_name) || s.len)
			return lazy_fail(m, SIP_LAZY_CSEQ, "Malformed CSeq");
		m->cseq.method = sip_method_from_str(m->cseq.method_name);
		m->lazy_done |= SIP_LAZY_CSEQ;
	}
	*ret = &m->cseq;
	return 0;
}

/* Call-ID = word [ "@" word ]: no LWS inside (RFC 3261 §25.1). */
int sip_msg_call_id(struct sip_msg *m, struct str *ret)
{
	const struct sip_header *h;
	int r = lazy_begin(m, SIP_LAZY_CALL_ID, SIP_HDR_CALL_ID, &h);

	if (r < 0)
		return r;
	if (r == 0) {
		if (!h->value.len)
			return lazy_fail(m, SIP_LAZY_CALL_ID, "Malformed Call-ID");
		for (size_t i = 0; i < h->value.len; i++) {
			unsigned char c = (unsigned char)h->value.s[i];

			if (c <= 0x20 || c >= 0x7f)
				return lazy_fail(m, SIP_LAZY_CALL_ID, "Malformed Call-ID");
		}
		m->call_id = h->value;
		m->lazy_done |= SIP_LAZY_CALL_ID;
	}
	*ret = m->call_id;
	return 0;
}

static int lazy_number(struct sip_msg *m, unsigned bit, enum sip_hdr id, uint32_t max,
		       uint32_t *slot, const char *reason, uint32_t *ret)
{
	const struct sip_header *h;
	int r = lazy_begin(m, bit, id, &h);

	if (r < 0)
		return r;
	if (r == 0) {
		if (str_to_u32(h->value, max, slot) < 0)
			return lazy_fail(m, bit, reason);
		m->lazy_done |= bit;
	}
	*ret = *slot;
	return 0;
}

int sip_msg_max_forwards(struct sip_msg *m, uint32_t *ret)
{
	return lazy_number(m, SIP_LAZY_MAX_FORWARDS, SIP_HDR_MAX_FORWARDS, 255, &m->max_forwards,
			   "Malformed Max-Forwards", ret);
}

int sip_msg_expires(struct sip_msg *m, uint32_t *ret)
{
	return lazy_number(m, SIP_LAZY_EXPIRES, SIP_HDR_EXPIRES, UINT32_MAX, &m->expires,
			   "Malformed Expires", ret);
}

static bool ctype_param(void *ctx, struct str name, struct str value, bool has_value)
{
	struct sip_content_type *ct = ctx;

	if (str_caseeq_cstr(name, "boundary")) {
		if (!has_value)
			return false;
		if (peek(&value, '"'))
			value = str_make(value.s + 1, value.len - 2);
		ct->boundary = value;
	}
	return true;
}

/* media-type = m-type SLASH m-subtype *(SEMI m-parameter) (RFC 3261 §20.15) */
int sip_msg_content_type(struct sip_msg *m, const struct sip_content_type **ret)
{
	const struct sip_header *h;
	int r = lazy_begin(m, SIP_LAZY_CONTENT_TYPE, SIP_HDR_CONTENT_TYPE, &h);

	if (r < 0)
		return r;
	if (r == 0) {
		struct sip_content_type ct = {0};
		struct str s = h->value;

		if (!take_token(&s, &ct.type))
			return lazy_fail(m, SIP_LAZY_CONTENT_TYPE, "Malformed Content-Type");
		skip_lws(&s);
		if (!peek(&s, '/'))
			return lazy_fail(m, SIP_LAZY_CONTENT_TYPE, "Malformed Content-Type");
		advance(&s, 1);
		skip_lws(&s);
		if (!take_token(&s, &ct.subtype))
			return lazy_fail(m, SIP_LAZY_CONTENT_TYPE, "Malformed Content-Type");
		skip_lws(&s);
		ct.params = s;
		if (!parse_params(&s, ctype_param, &ct) || s.len)
			return lazy_fail(m, SIP_LAZY_CONTENT_TYPE, "Malformed Content-Type");
		m->content_type = ct;
		m->lazy_done |= SIP_LAZY_CONTENT_TYPE;
	}
	*ret = &m->content_type;
	return 0;
}

int sip_msg_tokens(const struct sip_msg *m, enum sip_hdr id, struct str *ret, unsigned max)
{
	struct sip_hdr_iter it = {0};
	struct str v;
	unsigned n = 0;

	while (sip_msg_next_value(m, id, &it, &v)) {
		for (size_t i = 0; i < v.len; i++)
			if (!is_token((unsigned char)v.s[i]))
				return -EBADMSG;
		if (n < max && ret)
			ret[n] = v;
		if (n < INT32_MAX)
			n++;
	}
	return (int)n;
}

bool sip_msg_has_token(const struct sip_msg *m, enum sip_hdr id, const char *tok)
{
	struct sip_hdr_iter it = {0};
	struct str v;

	while (sip_msg_next_value(m, id, &it, &v))
		if (str_caseeq_cstr(v, tok))
			return true;
	return false;
}

/* ---- validation (RFC 3261 §8.2, RFC 4475 §3.3) ---- */

static int verdict(const char **ret_reason, int code, const char *reason)
{
	*ret_reason = reason;
	return code;
}

static bool in_list(const char *const *list, struct str s)
{
	for (; list && *list; list++)
		if (str_caseeq_cstr(s, *list))
			return true;
	return false;
}

static bool uri_scheme_supported(struct str uri)
{
	return str_startswith_case(uri, "sip:") || str_startswith_case(uri, "sips:") ||
	       str_startswith_case(uri, "tel:");
}

/* RFC 3261 §19.1.1: the headers component is not allowed in a Request-URI. */
static bool uri_has_headers(struct str uri)
{
	const char *at = memrchr(uri.s, '@', uri.len);
	const char *host = at ? at + 1 : uri.s;

	return memchr(host, '?', uri.len - (size_t)(host - uri.s)) != NULL;
}

int sip_msg_validate_request(struct sip_msg *m, const struct sip_validate_opts *opts,
			     const char **ret_reason)
{
	static const struct sip_validate_opts none = {0};
	static const struct {
		enum sip_hdr id;
		const char *missing, *multiple;
	} required[] = {
		{SIP_HDR_VIA, "Missing Via", NULL},
		{SIP_HDR_FROM, "Missing From", "Multiple From headers"},
		{SIP_HDR_TO, "Missing To", "Multiple To headers"},
		{SIP_HDR_CALL_ID, "Missing Call-ID", "Multiple Call-ID headers"},
		{SIP_HDR_CSEQ, "Missing CSeq", "Multiple CSeq headers"},
	};
	const struct sip_via *via;
	const struct sip_name_addr *na;
	const struct sip_cseq *cseq;
	const struct sip_content_type *ct = NULL;
	struct str callid;
	uint32_t u;
	int r;

	if (!opts)
		opts = &none;
	if (!m->is_request)
		return -EINVAL;
	if (m->error)
		return verdict(ret_reason, (int)m->error_status, m->error);
	if (!m->version_ok)
		return verdict(ret_reason, 505, "Version Not Supported");
	for (size_t i = 0; i < ARRAY_SIZE(required); i++) {
		if (m->hdr_count[required[i].id] == 0)
			return verdict(ret_reason, 400, required[i].missing);
		if (required[i].multiple && m->hdr_count[required[i].id] > 1)
			return verdict(ret_reason, 400, required[i].multiple);
	}
	if (m->hdr_count[SIP_HDR_MAX_FORWARDS] > 1)
		return verdict(ret_reason, 400, "Multiple Max-Forwards headers");
	if (m->hdr_count[SIP_HDR_CONTENT_TYPE] > 1)
		return verdict(ret_reason, 400, "Multiple Content-Type headers");
	if (sip_msg_via(m, &via) < 0)
		return verdict(ret_reason, 400, "Malformed Via");
	if (sip_msg_from(m, &na) < 0)
		return verdict(ret_reason, 400, "Malformed From");
	if (sip_msg_to(m, &na) < 0)
		return verdict(ret_reason, 400, "Malformed To");
	if (sip_msg_call_id(m, &callid) < 0)
		return verdict(ret_reason, 400, "Malformed Call-ID");
	if (sip_msg_cseq(m, &cseq) < 0)
		return verdict(ret_reason, 400, "Malformed CSeq");
	/* RFC 4475 §3.1.2.17-18: the CSeq method must be the request's. */
	if (!str_eq(cseq->method_name, m->method_name))
		return verdict(ret_reason, 400, "CSeq method does not match Request-Line");
	r = sip_msg_max_forwards(m, &u);
	if (r == -EBADMSG)
		return verdict(ret_reason, 400, "Malformed Max-Forwards");
	if (m->hdr_count[SIP_HDR_CONTACT] && sip_msg_contact(m, &na) < 0)
		return verdict(ret_reason, 400, "Malformed Contact");
	if (sip_msg_expires(m, &u) == -EBADMSG)
		return verdict(ret_reason, 400, "Malformed Expires");
	if (m->hdr_count[SIP_HDR_CONTENT_TYPE] && sip_msg_content_type(m, &ct) < 0)
		return verdict(ret_reason, 400, "Malformed Content-Type");
	if (sip_msg_tokens(m, SIP_HDR_REQUIRE, NULL, 0) < 0)
		return verdict(ret_reason, 400, "Malformed Require");
	/* RFC 3261 §8.2.1-2 order: scheme, then extensions, then body. */
	if (!uri_scheme_supported(m->ruri))
		return verdict(ret_reason, 416, "Unsupported URI Scheme");
	if (!str_startswith_case(m->ruri, "tel:") && uri_has_headers(m->ruri))
		return verdict(ret_reason, 400, "Headers not allowed in Request-URI");
	if (opts->proxy && sip_msg_max_forwards(m, &u) == 0 && u == 0)
		return verdict(ret_reason, 483, "Too Many Hops");
	/* RFC 3261 §8.2.2.3: Require is ignored in ACK and CANCEL. */
	if (m->method != SIP_METHOD_ACK && m->method != SIP_METHOD_CANCEL) {
		struct sip_hdr_iter it = {0};
		struct str tok;

		while (sip_msg_next_value(m, SIP_HDR_REQUIRE, &it, &tok))
			if (!in_list(opts->supported, tok))
				return verdict(ret_reason, 420, "Bad Extension");
	}
	/* RFC 3261 §8.2.3: a body in a content coding we cannot undo (gzip from an SBC that
	 * compresses large metadata) is 415, not parsed as if it were plain; "identity" is no
	 * coding at all. The caller adds Accept-Encoding. */
	if (m->body.len && opts->accept && m->method != SIP_METHOD_ACK) {
		struct sip_hdr_iter it = {0};
		struct str tok;

		while (sip_msg_next_value(m, SIP_HDR_CONTENT_ENCODING, &it, &tok))
			if (!str_caseeq_cstr(tok, "identity"))
				return verdict(ret_reason, 415, "Unsupported Content-Encoding");
	}
	if (m->body.len && m->hdr_count[SIP_HDR_CONTENT_TYPE] && opts->accept &&
	    m->method != SIP_METHOD_ACK) {
		char buf[128];
		int n;

		n = snprintf(buf, sizeof(buf), "%.*s/%.*s", STR_FMT(ct->type),
			     STR_FMT(ct->subtype));
		if (n < 0 || (size_t)n >= sizeof(buf) ||
		    !in_list(opts->accept, str_make(buf, (size_t)n)))
			return verdict(ret_reason, 415, "Unsupported Media Type");
	}
	if (m->body.len && !m->hdr_count[SIP_HDR_CONTENT_TYPE])
		return verdict(ret_reason, 400, "Missing Content-Type");
	/* An INVITE whose Accept leaves out application/sdp (RFC 4475 §3.3.15 wants 406) is
	 * answered with SDP all the same: Intrado's SRC sends "Accept: application/rs-metadata+xml"
	 * and a recorder that refuses it loses the call (docs/SDP.md "Leniencies"). */
	return 0;
}

/* ---- stream framing ---- */

/* sip_stream_frame, and on failure the status and reason phrase an answer would carry. */
static int stream_frame(const char *buf, size_t len, const struct sip_limits *lim, size_t *ret_len,
			unsigned *ret_status, const char **ret_reason)
{
	size_t p = 0, hdr_end = 0, scan;
	bool have_cl = false;
	uint32_t cl = 0;

#define FRAME_FAIL(r, status, reason)                                                              \
	do {                                                                                       \
		*ret_status = (status);                                                            \
		*ret_reason = (reason);                                                            \
		return (r);                                                                        \
	} while (0)

	while (p < len && (buf[p] == '\r' || buf[p] == '\n'))
		p++;
	if (p > 0) {
		*ret_len = p;
		return SIP_FRAME_KEEPALIVE;
	}
	/* The header section ends at an empty line: CRLF CRLF, or LF LF / LF CRLF from stacks that
	 * end lines with LF alone. */
	scan = MIN(len, lim->max_msg_size);
	for (size_t i = 0; i + 1 < scan; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n') {
			hdr_end = i + 2;
			break;
		}
		if (i + 2 < scan && buf[i + 1] == '\r' && buf[i + 2] == '\n') {
			hdr_end = i + 3;
			break;
		}
	}
	if (!hdr_end) {
		if (len >= lim->max_msg_size)
			FRAME_FAIL(-EMSGSIZE, 513, "Headers Too Large");
		return SIP_FRAME_NEED_MORE;
	}

	/* Walk the header fields (skipping the start line) for Content-Length / l. */
	p = (size_t)((const char *)memchr(buf, '\n', hdr_end) - buf) + 1;
	while (p < hdr_end && eol_len(buf, p, hdr_end) == 0) {
		size_t next = 0;
		ssize_t e = field_end(buf, p, hdr_end, &next);
		struct str field, name;
		size_t n = 0;

		if (e < 0)
			FRAME_FAIL(-EBADMSG, 400, "Malformed Header Line");
		field = str_make(buf + p, (size_t)e - p);
		while (n < field.len && is_token((unsigned char)field.s[n]))
			n++;
		name = str_make(field.s, n);
		if (sip_hdr_from_name(name) == SIP_HDR_CONTENT_LENGTH) {
			const char *colon = memchr(field.s, ':', field.len);
			uint32_t v;

			if (!colon)
				FRAME_FAIL(-EBADMSG, 400, "Malformed Content-Length");
			if (content_length_value(
				    str_make(colon + 1, field.len - (size_t)(colon + 1 - field.s)),
				    &v) < 0)
				FRAME_FAIL(-EBADMSG, 400, "Malformed Content-Length");
			/* Two different lengths would let peers desynchronise the stream. */
			if (have_cl && v != cl)
				FRAME_FAIL(-EBADMSG, 400, "Conflicting Content-Length");
			have_cl = true;
			cl = v;
		}
		p = next;
	}
	/* RFC 3261 §18.3: on a stream, Content-Length is what frames the message. */
	if (!have_cl)
		FRAME_FAIL(-EBADMSG, 400, "Missing Content-Length");
	if ((uint64_t)hdr_end + cl > lim->max_msg_size)
		FRAME_FAIL(-EMSGSIZE, 513, "Content-Length Over Limit");
#undef FRAME_FAIL
	if (hdr_end + cl > len)
		return SIP_FRAME_NEED_MORE;
	*ret_len = hdr_end + cl;
	return SIP_FRAME_MESSAGE;
}

int sip_stream_frame(const char *buf, size_t len, const struct sip_limits *lim, size_t *ret_len)
{
	unsigned status;
	const char *reason;

	return stream_frame(buf, len, lim ? lim : &sip_limits_default, ret_len, &status, &reason);
}

unsigned sip_stream_frame_status(const char *buf, size_t len, const struct sip_limits *lim,
				 const char **ret_reason)
{
	unsigned status = 0;
	const char *reason = NULL;
	size_t mlen;

	if (stream_frame(buf, len, lim ? lim : &sip_limits_default, &mlen, &status, &reason) >= 0)
		return 0;
	*ret_reason = reason;
	return status;
}

int sip_stream_frame_headers(const char *buf, size_t len, const struct sip_limits *lim,
			     char *scratch, size_t scratch_size, struct sip_msg *m)
{
	const struct sip_via *via;
	const struct sip_name_addr *na;
	const struct sip_cseq *cseq;
	struct str call_id;
	size_t p, o, scan;
	const char *nl;

	if (!lim)
		lim = &sip_limits_default;
	scan = MIN(len, lim->max_msg_size);
	nl = memchr(buf, '\n', scan);
	if (!nl)
		return -EBADMSG;
	p = (size_t)(nl + 1 - buf);
	if (p + 2 > scratch_size)
		return -ENOBUFS;
	memcpy(scratch, buf, p);
	o = p;
	/* Whole fields only: the last one may be cut by the limit, and a bad line ends the walk. */
	while (p < scan && eol_len(buf, p, scan) == 0) {
		size_t next = 0, n = 0;
		ssize_t e = field_end(buf, p, scan, &next);
		enum sip_hdr id;

		if (e < 0)
			break;
		while (p + n < (size_t)e && is_token((unsigned char)buf[p + n]))
			n++;
		id = sip_hdr_from_name(str_make(buf + p, n));
		if (id == SIP_HDR_VIA || id == SIP_HDR_FROM || id == SIP_HDR_TO ||
		    id == SIP_HDR_CALL_ID || id == SIP_HDR_CSEQ) {
			if (o + (next - p) + 2 > scratch_size)
				return -ENOBUFS;
			memcpy(scratch + o, buf + p, next - p);
			o += next - p;
		}
		p = next;
	}
	memcpy(scratch + o, "\r\n", 2);
	o += 2;
	if (sip_msg_parse(m, scratch, o, lim) < 0 || !m->is_request || m->method == SIP_METHOD_ACK)
		return -EBADMSG;
	if (sip_msg_via(m, &via) < 0 || sip_msg_from(m, &na) < 0 || sip_msg_to(m, &na) < 0 ||
	    sip_msg_call_id(m, &call_id) < 0 || sip_msg_cseq(m, &cseq) < 0)
		return -EBADMSG;
	return 0;
}
