// SPDX-License-Identifier: MIT
/*
 * SDP offer parser (RFC 8866) for the SIPREC recording server (RFC 7866 §8): one pass over the
 * body, counted-string views into it, fixed arrays bounded by struct sdp_limits. Also the small
 * queries the session layer asks about an m= line, and the codec chooser.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include "siprecd/macro.h"
#include "siprecd/sdp.h"

static __thread const char *sdp_last_error = "no error";

const char *sdp_error(void)
{
	return sdp_last_error;
}

static int fail(int r, const char *why)
{
	sdp_last_error = why;
	return r;
}

/* A host name as DNS has them (RFC 1035 §2.3.1 with RFC 1123 §2.1's leading digits): labels of
 * letters, digits and inner hyphens, 1..63 each, 253 in all, one letter at least so that a
 * malformed dotted quad (999.1.1.1) stays malformed. */
static bool is_fqdn(struct str h)
{
	size_t label = 0;
	bool alpha = false;

	if (h.len == 0 || h.len > 253)
		return false;
	for (size_t i = 0; i < h.len; i++) {
		char c = h.s[i];

		if (c == '.') {
			if (label == 0 || h.s[i - 1] == '-')
				return false;
			label = 0;
		} else if (isalnum((unsigned char)c) || (c == '-' && label > 0)) {
			if (++label > 63)
				return false;
			alpha |= isalpha((unsigned char)c) != 0;
		} else {
			return false;
		}
	}
	return label > 0 && h.s[h.len - 1] != '-' && alpha;
}

static int parse_connection(struct str v, struct sdp_connection *ret)
{
	struct str nettype, addrtype, addr, extra, head;
	char tmp[INET6_ADDRSTRLEN + 1];
	unsigned char bin[sizeof(struct in6_addr)];
	int family;

	nettype = str_next_token(&v);
	addrtype = str_next_token(&v);
	addr = str_next_token(&v);
	extra = str_next_token(&v);
	if (!addr.s || extra.s || !str_caseeq_cstr(nettype, "IN"))
		return -EBADMSG;
	if (str_caseeq_cstr(addrtype, "IP4"))
		family = AF_INET;
	else if (str_caseeq_cstr(addrtype, "IP6"))
		family = AF_INET6;
	else
		return -EBADMSG;
	/* RFC 8866 §5.7: "/ttl" and "/number of addresses" follow multicast addresses only. */
	str_split(addr, '/', &head);
	ret->present = true;
	ret->family = family;
	ret->address = head;
	if (str_copy(head, tmp, sizeof(tmp)) < 0 || inet_pton(family, tmp, bin) != 1) {
		/* RFC 8866 §9: a unicast address may be an FQDN. siprecd never resolves it: the
		 * stream has no literal to check media against (MEDIA_LATCH=sdp as without c=). */
		if (!is_fqdn(head))
			return -EBADMSG;
		ret->fqdn = true;
		ret->unspecified = false;
		return 0;
	}
	ret->fqdn = false;
	if (family == AF_INET)
		ret->unspecified = memcmp(bin, "\0\0\0\0", 4) == 0;
	else
		ret->unspecified = memcmp(bin, &in6addr_any, sizeof(struct in6_addr)) == 0;
	return 0;
}

static int parse_origin(struct str v, struct sdp_session *s)
{
	struct str nettype, addrtype, extra;

	s->origin_user = str_next_token(&v);
	s->origin_sess_id = str_next_token(&v);
	s->origin_version = str_next_token(&v);
	nettype = str_next_token(&v);
	addrtype = str_next_token(&v);
	s->origin_address = str_next_token(&v);
	extra = str_next_token(&v);
	if (!s->origin_address.s || extra.s)
		return -EBADMSG;
	if (!str_caseeq_cstr(nettype, "IN"))
		s->origin_family = 0;
	else if (str_caseeq_cstr(addrtype, "IP4"))
		s->origin_family = AF_INET;
	else if (str_caseeq_cstr(addrtype, "IP6"))
		s->origin_family = AF_INET6;
	else
		s->origin_family = 0;
	return 0;
}

static const struct {
	const char *name;
	enum sdp_proto proto;
} protos[] = {
	{"RTP/AVP", SDP_PROTO_RTP_AVP},
	{"RTP/AVPF", SDP_PROTO_RTP_AVPF},
	{"RTP/SAVP", SDP_PROTO_RTP_SAVP},
	{"RTP/SAVPF", SDP_PROTO_RTP_SAVPF},
	{"UDP/TLS/RTP/SAVP", SDP_PROTO_UDP_TLS_RTP_SAVP},
	{"UDP/TLS/RTP/SAVPF", SDP_PROTO_UDP_TLS_RTP_SAVPF},
};

static const struct {
	const char *name;
	enum sdp_media_type type;
} media_types[] = {
	{"audio", SDP_MEDIA_AUDIO},	{"video", SDP_MEDIA_VIDEO},
	{"text", SDP_MEDIA_TEXT},	{"application", SDP_MEDIA_APPLICATION},
	{"message", SDP_MEDIA_MESSAGE},
};

static bool proto_is_rtp(enum sdp_proto p)
{
	return p != SDP_PROTO_OTHER;
}

static int parse_media(struct str v, unsigned max_formats, struct sdp_media *m)
{
	struct str type, port, proto, count, head, f;
	uint32_t u;

	type = str_next_token(&v);
	port = str_next_token(&v);
	proto = str_next_token(&v);
	if (!proto.s)
		return fail(-EBADMSG, "m= line too short");
	m->type_str = type;
	m->type = SDP_MEDIA_OTHER;
	for (size_t i = 0; i < ARRAY_SIZE(media_types); i++)
		if (str_caseeq_cstr(type, media_types[i].name))
			m->type = media_types[i].type;

	count = str_split(port, '/', &head);
	if (str_to_u32(head, UINT16_MAX, &u) < 0)
		return fail(-EBADMSG, "bad port in m= line");
	m->port = (uint16_t)u;
	m->port_count = 1;
	if (count.s) {
		if (str_to_u32(count, UINT16_MAX, &u) < 0 || u == 0)
			return fail(-EBADMSG, "bad port count in m= line");
		m->port_count = (uint16_t)u;
	}

	m->proto_str = proto;
	m->proto = SDP_PROTO_OTHER;
	for (size_t i = 0; i < ARRAY_SIZE(protos); i++)
		if (str_caseeq_cstr(proto, protos[i].name))
			m->proto = protos[i].proto;

	while ((f = str_next_token(&v)).s) {
		if (m->n_formats >= max_formats)
			return fail(-E2BIG, "too many formats in m= line");
		m->formats[m->n_formats] = f;
		m->pts[m->n_formats] = -1;
		/* RFC 3551 §6: RTP payload types are 0..127 */
		if (proto_is_rtp(m->proto)) {
			if (str_to_u32(f, 127, &u) < 0)
				return fail(-EBADMSG, "bad RTP payload type in m= line");
			m->pts[m->n_formats] = (int16_t)u;
		}
		m->n_formats++;
	}
	/* RFC 8866 §5.14: at least one format */
	if (m->n_formats == 0)
		return fail(-EBADMSG, "m= line has no format");
	return 0;
}

static bool parse_direction(struct str name, enum sdp_direction *ret)
{
	static const char *const names[] = {
		[SDP_DIR_SENDRECV] = "sendrecv",
		[SDP_DIR_SENDONLY] = "sendonly",
		[SDP_DIR_RECVONLY] = "recvonly",
		[SDP_DIR_INACTIVE] = "inactive",
	};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (str_caseeq_cstr(name, names[i])) {
			*ret = (enum sdp_direction)i;
			return true;
		}
	return false;
}

/* "pt rest": returns the rest, or .s == NULL when pt is not 0..127 */
static struct str split_pt(struct str v, uint8_t *ret_pt)
{
	struct str pt = str_next_token(&v);
	uint32_t u;

	if (!pt.s || str_to_u32(pt, 127, &u) < 0)
		return STR_NULL;
	*ret_pt = (uint8_t)u;
	return str_trim(v);
}

/* RFC 8866 §6.6. A malformed rtpmap is ignored: the payload type is then just unknown. */
static int parse_rtpmap(struct str v, struct sdp_media *m)
{
	struct sdp_rtpmap r = {0};
	struct str enc, clock, rest;

	rest = split_pt(v, &r.pt);
	if (!rest.s || rest.len == 0)
		return 0;
	rest = str_split(rest, '/', &enc);
	if (!rest.s || enc.len == 0)
		return 0;
	rest = str_split(rest, '/', &clock);
	if (str_to_u32(clock, UINT32_MAX, &r.clock) < 0 || r.clock == 0)
		return 0;
	if (rest.s && (str_to_u32(rest, 255, &r.channels) < 0 || r.channels == 0))
		return 0;
	r.encoding = enc;
	if (sdp_media_rtpmap(m, r.pt))
		return 0;
	if (m->n_rtpmaps >= SDP_MAX_RTPMAPS)
		return fail(-E2BIG, "too many a=rtpmap");
	m->rtpmaps[m->n_rtpmaps++] = r;
	return 0;
}

static int parse_fmtp(struct str v, struct sdp_media *m)
{
	struct sdp_fmtp f = {0};

	f.params = split_pt(v, &f.pt);
	if (!f.params.s || sdp_media_fmtp(m, f.pt))
		return 0;
	if (m->n_fmtps >= SDP_MAX_FMTPS)
		return fail(-E2BIG, "too many a=fmtp");
	m->fmtps[m->n_fmtps++] = f;
	return 0;
}

static bool is_ptime(struct str v)
{
	if (v.len == 0 || v.len > 10)
		return false;
	for (size_t i = 0; i < v.len; i++)
		if ((v.s[i] < '0' || v.s[i] > '9') && v.s[i] != '.')
			return false;
	return true;
}

static int parse_media_attr(struct str name, struct str v, bool has_value, struct sdp_media *m)
{
	enum sdp_direction d;
	uint32_t u;

	if (!has_value && parse_direction(name, &d)) {
		m->direction = d;
		m->direction_explicit = true;
	} else if (!has_value && str_caseeq_cstr(name, "rtcp-mux")) {
		m->rtcp_mux = true;
	} else if (!has_value) {
		return 0;
	} else if (str_caseeq_cstr(name, "label")) {
		/* RFC 4574; RFC 7866 §8.1.1 ties each stream to its metadata by this label */
		if (v.len > SDP_MAX_LABEL)
			return fail(-E2BIG, "a=label too long");
		if (v.len == 0)
			return fail(-EBADMSG, "empty a=label");
		if (m->label.len == 0)
			m->label = v;
	} else if (str_caseeq_cstr(name, "rtpmap")) {
		return parse_rtpmap(v, m);
	} else if (str_caseeq_cstr(name, "fmtp")) {
		return parse_fmtp(v, m);
	} else if (str_caseeq_cstr(name, "crypto")) {
		/* kept raw: a malformed a=crypto only disqualifies itself (RFC 4568 §7.1.1) */
		if (m->n_crypto >= SDP_MAX_CRYPTO)
			return fail(-E2BIG, "too many a=crypto");
		m->crypto[m->n_crypto++] = v;
	} else if (str_caseeq_cstr(name, "rtcp")) {
		struct str port = str_next_token(&v);

		if (port.s && str_to_u32(port, UINT16_MAX, &u) == 0) {
			m->has_rtcp = true;
			m->rtcp_port = (uint16_t)u;
		}
	} else if (str_caseeq_cstr(name, "ptime")) {
		if (is_ptime(v))
			m->ptime = v;
	}
	return 0;
}

static void limits_resolve(const struct sdp_limits *lim, struct sdp_limits *out)
{
	*out = (struct sdp_limits){SDP_MAX_SIZE, SDP_MAX_LINE, SDP_MAX_MEDIA, SDP_MAX_FORMATS,
				   SDP_MAX_ATTRS};
	if (!lim)
		return;
	if (lim->max_size)
		out->max_size = lim->max_size;
	if (lim->max_line)
		out->max_line = lim->max_line;
	if (lim->max_media)
		out->max_media = MIN(lim->max_media, (unsigned)SDP_MAX_MEDIA);
	if (lim->max_formats)
		out->max_formats = MIN(lim->max_formats, (unsigned)SDP_MAX_FORMATS);
	if (lim->max_attrs)
		out->max_attrs = lim->max_attrs;
}

static bool line_chars_ok(struct str l)
{
	for (size_t i = 0; i < l.len; i++) {
		unsigned char c = (unsigned char)l.s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

/* The parse proper, into a scratch session whose fields before media[] the caller zeroed. */
static int parse_body(const char *buf, size_t len, const struct sdp_limits *lim,
		      struct sdp_session *s)
{
	const char *p = buf, *end = buf + len;
	struct sdp_media *m = NULL;
	unsigned n_attrs = 0;
	bool seen_v = false, seen_o = false;
	int r;

	if (len > lim->max_size)
		return fail(-E2BIG, "SDP body too large");

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		struct str line = str_make(p, (size_t)((eol ? eol : end) - p));
		struct str v;
		char type;

		p = eol ? eol + 1 : end;
		/* RFC 8866 §5: CRLF, but a lone LF is accepted */
		if (line.len > 0 && line.s[line.len - 1] == '\r')
			line.len--;
		if (line.len > lim->max_line)
			return fail(-E2BIG, "SDP line too long");
		if (line.len == 0)
			continue;
		if (!line_chars_ok(line))
			return fail(-EBADMSG, "control character in SDP line");
		if (line.len < 2 || line.s[1] != '=' || line.s[0] < 'a' || line.s[0] > 'z')
			return fail(-EBADMSG, "malformed SDP line");
		type = line.s[0];
		v = str_make(line.s + 2, line.len - 2);
		if (!seen_v && type != 'v')
			return fail(-EBADMSG, "first SDP line is not v=");

		switch (type) {
		case 'v':
			if (seen_v)
				return fail(-EBADMSG, "duplicate v= line");
			if (!str_eq_cstr(str_trim(v), "0"))
				return fail(-EBADMSG, "unsupported SDP version");
			seen_v = true;
			break;
		case 'o':
			if (seen_o || m)
				return fail(-EBADMSG, "misplaced o= line");
			if (parse_origin(v, s) < 0)
				return fail(-EBADMSG, "malformed o= line");
			seen_o = true;
			break;
		case 's':
			if (!m)
				s->session_name = v;
			break;
		case 'c': {
			struct sdp_connection *c = m ? &m->conn : &s->conn;

			if (c->present)
				return fail(-EBADMSG, "duplicate c= line");
			if (parse_connection(v, c) < 0)
				return fail(-EBADMSG, "malformed c= line");
			break;
		}
		case 'm':
			if (!seen_o)
				return fail(-EBADMSG, "no o= line before m=");
			if (s->n_media >= lim->max_media)
				return fail(-E2BIG, "too many m= lines");
			m = &s->media[s->n_media++];
			/* only the sections an offer has are zeroed (sdp_parse) */
			memset(m, 0, sizeof(*m));
			n_attrs = 0;
			r = parse_media(v, lim->max_formats, m);
			if (r < 0)
				return r;
			break;
		case 'a': {
			struct str name, value;
			bool has_value;
			enum sdp_direction d;

			if (++n_attrs > lim->max_attrs)
				return fail(-E2BIG, "too many a= lines");
			value = str_split(v, ':', &name);
			has_value = value.s != NULL;
			name = str_trim(name);
			value = str_trim(value);
			if (m) {
				r = parse_media_attr(name, value, has_value, m);
				if (r < 0)
					return r;
			} else if (!has_value && parse_direction(name, &d)) {
				s->direction = d;
			}
			break;
		}
		default:
			/* t=, b=, i=, u=, e=, p=, r=, z=, k= and unknown types: nothing to act on
			 */
			break;
		}
	}
	if (!seen_v)
		return fail(-EBADMSG, "empty SDP");
	if (!seen_o)
		return fail(-EBADMSG, "no o= line");

	for (unsigned i = 0; i < s->n_media; i++) {
		m = &s->media[i];
		if (!m->direction_explicit)
			m->direction = s->direction;
		if (!m->conn.present && s->conn.present) {
			m->conn = s->conn;
			m->conn_from_session = true;
		}
		/* RFC 8866 §5.7 wants c= at session level or in every m= section, but the
		 * OpenSIPS siprec module omits it. A recorder only receives, and media comes
		 * from wherever the SRC sends it: no c= is accepted (docs/SDP.md). */
	}
	return 0;
}

int sdp_parse(const char *buf, size_t len, const struct sdp_limits *lim, struct sdp_session *ret)
{
	/*
	 * One scratch session per thread, reused: a calloc of the whole ~90 KiB per parse zeroed
	 * 32 media sections an offer rarely has more than two of, and touched freshly grown heap
	 * pages each time. The header is zeroed here, each section as its m= line starts, and only
	 * what was parsed is copied out.
	 */
	static __thread struct sdp_session scratch;
	struct sdp_session *s = &scratch;
	struct sdp_limits l;
	int r;

	if (!buf && len)
		return fail(-EINVAL, "no buffer");
	limits_resolve(lim, &l);
	memset(s, 0, offsetof(struct sdp_session, media));
	r = parse_body(buf, len, &l, s);
	if (r < 0)
		return r;
	memcpy(ret, s, offsetof(struct sdp_session, media) + s->n_media * sizeof(s->media[0]));
	return 0;
}

const char *sdp_direction_to_string(enum sdp_direction d)
{
	switch (d) {
	case SDP_DIR_SENDRECV:
		return "sendrecv";
	case SDP_DIR_SENDONLY:
		return "sendonly";
	case SDP_DIR_RECVONLY:
		return "recvonly";
	case SDP_DIR_INACTIVE:
		return "inactive";
	}
	return "sendrecv";
}

enum sdp_direction sdp_media_direction(const struct sdp_media *m)
{
	return m->direction;
}

bool sdp_media_is_hold(const struct sdp_media *m)
{
	return m->direction == SDP_DIR_INACTIVE || (m->conn.present && m->conn.unspecified);
}

const struct sdp_connection *sdp_media_address(const struct sdp_media *m)
{
	return m->conn.present ? &m->conn : NULL;
}

bool sdp_media_is_srtp(const struct sdp_media *m)
{
	return m->proto == SDP_PROTO_RTP_SAVP || m->proto == SDP_PROTO_RTP_SAVPF ||
	       m->proto == SDP_PROTO_UDP_TLS_RTP_SAVP || m->proto == SDP_PROTO_UDP_TLS_RTP_SAVPF;
}

bool sdp_media_proto_supported(const struct sdp_media *m)
{
	return m->proto == SDP_PROTO_RTP_AVP || m->proto == SDP_PROTO_RTP_AVPF ||
	       m->proto == SDP_PROTO_RTP_SAVP || m->proto == SDP_PROTO_RTP_SAVPF;
}

const struct sdp_rtpmap *sdp_media_rtpmap(const struct sdp_media *m, int pt)
{
	for (unsigned i = 0; i < m->n_rtpmaps; i++)
		if (m->rtpmaps[i].pt == pt)
			return &m->rtpmaps[i];
	return NULL;
}

const struct sdp_fmtp *sdp_media_fmtp(const struct sdp_media *m, int pt)
{
	for (unsigned i = 0; i < m->n_fmtps; i++)
		if (m->fmtps[i].pt == pt)
			return &m->fmtps[i];
	return NULL;
}

/* RFC 3551 §6 table 4: static audio payload types, usable without a=rtpmap. */
static const struct {
	const char *name;
	uint32_t clock;
	uint32_t channels;
} static_pts[] = {
	[0] = {"PCMU", 8000, 0},   [3] = {"GSM", 8000, 0},    [4] = {"G723", 8000, 0},
	[5] = {"DVI4", 8000, 0},   [6] = {"DVI4", 16000, 0},  [7] = {"LPC", 8000, 0},
	[8] = {"PCMA", 8000, 0},   [9] = {"G722", 8000, 0},   [10] = {"L16", 44100, 2},
	[11] = {"L16", 44100, 0},  [12] = {"QCELP", 8000, 0}, [13] = {"CN", 8000, 0},
	[14] = {"MPA", 90000, 0},  [15] = {"G728", 8000, 0},  [16] = {"DVI4", 11025, 0},
	[17] = {"DVI4", 22050, 0}, [18] = {"G729", 8000, 0},
};

bool sdp_media_format(const struct sdp_media *m, int pt, struct sdp_rtpmap *ret)
{
	const struct sdp_rtpmap *r = sdp_media_rtpmap(m, pt);

	if (r) {
		*ret = *r;
		return true;
	}
	if (pt < 0 || (size_t)pt >= ARRAY_SIZE(static_pts) || !static_pts[pt].name)
		return false;
	*ret = (struct sdp_rtpmap){
		.pt = (uint8_t)pt,
		.encoding = str_from_cstr(static_pts[pt].name),
		.clock = static_pts[pt].clock,
		.channels = static_pts[pt].channels,
	};
	return true;
}

/* Formats that carry no audio of their own: never the stream's primary codec. */
static bool format_is_auxiliary(const struct sdp_media *m, int pt)
{
	static const char *const aux[] = {"telephone-event", "CN",	"red",	    "rtx",
					  "ulpfec",	     "flexfec", "parityfec"};
	struct sdp_rtpmap r;

	if (!sdp_media_format(m, pt, &r))
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(aux); i++)
		if (str_caseeq_cstr(r.encoding, aux[i]))
			return true;
	return false;
}

int sdp_choose_codec(const struct sdp_media *m, int *ret_pt, int *ret_dtmf_pt)
{
	struct sdp_rtpmap pr;
	int pt = -1, dtmf = -1;
	uint32_t clock = 0;

	if (!sdp_media_proto_supported(m) || m->type != SDP_MEDIA_AUDIO)
		return -ENOTSUP;
	/* Never refuse an audio stream for its codec: the SRC does not negotiate with a
	 * recorder, and a refused stream is a call not recorded. Every frame is stored with its
	 * own payload type; the primary is only what the stream is catalogued as. */
	for (unsigned i = 0; i < m->n_formats && pt < 0; i++)
		if (!format_is_auxiliary(m, m->pts[i]))
			pt = m->pts[i];
	if (pt < 0)
		pt = m->pts[0];
	if (sdp_media_format(m, pt, &pr))
		clock = pr.clock;
	/* RFC 4733 §2.1: telephone-event runs at the audio codec's clock; take a mismatched one
	 * only when nothing matches (recording it does no harm). */
	for (unsigned i = 0; i < m->n_formats; i++) {
		const struct sdp_rtpmap *r = sdp_media_rtpmap(m, m->pts[i]);

		if (!r || !str_caseeq_cstr(r->encoding, "telephone-event") || r->pt == pt)
			continue;
		if (r->clock == clock) {
			dtmf = r->pt;
			break;
		}
		if (dtmf < 0)
			dtmf = r->pt;
	}
	*ret_pt = pt;
	*ret_dtmf_pt = dtmf;
	return 0;
}

/* An encoding name that can go into the map as one token. */
static bool map_token_ok(struct str s)
{
	if (s.len == 0 || s.len > SDP_FORMAT_NAME_MAX)
		return false;
	for (size_t i = 0; i < s.len; i++)
		if ((unsigned char)s.s[i] <= 0x20 || s.s[i] == 0x7f || s.s[i] == '/')
			return false;
	return true;
}

int sdp_media_format_map(const struct sdp_media *m, char *buf, size_t cap)
{
	size_t len = 0;

	if (cap == 0)
		return -ENOBUFS;
	buf[0] = '\0';
	for (unsigned i = 0; i < m->n_formats; i++) {
		const struct sdp_fmtp *f;
		struct sdp_rtpmap r;
		char entry[64];
		int n;

		if (m->pts[i] < 0 || !sdp_media_format(m, m->pts[i], &r) ||
		    !map_token_ok(r.encoding))
			continue;
		n = snprintf(entry, sizeof(entry), "%s%d %.*s/%u", len ? "\n" : "", r.pt,
			     STR_FMT(r.encoding), r.clock);
		if (r.channels > 1)
			n += snprintf(entry + n, sizeof(entry) - (size_t)n, "/%u", r.channels);
		if ((size_t)n >= cap - len)
			break; /* the earlier (preferred) formats are kept whole */
		memcpy(buf + len, entry, (size_t)n + 1);
		len += (size_t)n;
		f = sdp_media_fmtp(m, r.pt);
		if (f && f->params.len > 0 && f->params.len <= SDP_FORMAT_FMTP_MAX &&
		    f->params.len + 1 < cap - len) {
			buf[len++] = ' ';
			memcpy(buf + len, f->params.s, f->params.len);
			len += f->params.len;
			buf[len] = '\0';
		}
	}
	return (int)len;
}
