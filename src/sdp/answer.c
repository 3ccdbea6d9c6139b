// SPDX-License-Identifier: MIT
/*
 * SDP answer writer for the recording server: RFC 3264 §6 (same m= lines, same order, port 0
 * rejects) with the SIPREC rules of RFC 7866 §8 (a=label echoed, a=recvonly media).
 * Writes into a caller buffer; nothing is allocated.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "siprecd/macro.h"
#include "siprecd/sdp.h"

struct out {
	char *buf;
	size_t cap;
	size_t len;
	bool overflow;
};

static void out_bytes(struct out *o, const char *s, size_t n)
{
	if (o->overflow || n >= o->cap - o->len) {
		o->overflow = true;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

static void out_str(struct out *o, struct str s)
{
	out_bytes(o, s.s, s.len);
}

static void out_cstr(struct out *o, const char *s)
{
	out_bytes(o, s, strlen(s));
}

_printf_(2, 3) static void out_fmt(struct out *o, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		o->overflow = true;
		return;
	}
	out_bytes(o, tmp, (size_t)n);
}

/* Our own strings go on the wire: no spaces, controls or separators that would split a line. */
static bool token_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static const char *addr_type(const char *address)
{
	return strchr(address, ':') ? "IP6" : "IP4";
}

static void write_rtpmap(struct out *o, const struct sdp_media *om, int pt)
{
	const struct sdp_fmtp *f = sdp_media_fmtp(om, pt);
	struct sdp_rtpmap r;

	/* An a=rtpmap for static types too: some SRCs look the name up rather than the number. */
	if (sdp_media_format(om, pt, &r)) {
		out_fmt(o, "a=rtpmap:%d %.*s/%u", pt, STR_FMT(r.encoding), r.clock);
		if (r.channels)
			out_fmt(o, "/%u", r.channels);
		out_cstr(o, "\r\n");
	}
	if (f) {
		out_fmt(o, "a=fmtp:%d ", pt);
		out_str(o, f->params);
		out_cstr(o, "\r\n");
	}
}

static int write_media(struct out *o, const struct sdp_media *om, const struct sdp_answer_media *a)
{
	bool rejected = om->port == 0 || a->port == 0 || om->invalid;
	enum sdp_direction dir;

	out_cstr(o, "m=");
	out_str(o, om->type_str);
	if (rejected) {
		/* RFC 3264 §6: port 0 rejects; the format list must still be there, echo it */
		out_cstr(o, " 0 ");
		out_str(o, om->proto_str);
		for (unsigned i = 0; i < om->n_formats; i++) {
			out_cstr(o, " ");
			out_str(o, om->formats[i]);
		}
		out_cstr(o, "\r\n");
		if (om->label.len) {
			out_cstr(o, "a=label:");
			out_str(o, om->label);
			out_cstr(o, "\r\n");
		}
		return 0;
	}

	/* a->pt only says "accepted": a re-offer may drop the format a stream started with */
	if (!sdp_media_proto_supported(om) || a->pt < 0)
		return -EINVAL;
	/* RFC 4568 §7.1.2: SDES belongs to the SAVP profiles only */
	if (sdp_media_is_srtp(om) != (a->crypto != NULL))
		return -EINVAL;

	/* RFC 3264 §6.1: the answer lists formats the answerer is willing to receive, a subset
	 * of the offer; a recorder takes them all, so whatever the SRC sends is recorded. */
	out_fmt(o, " %u ", a->port);
	out_str(o, om->proto_str);
	for (unsigned i = 0; i < om->n_formats; i++)
		out_fmt(o, " %d", om->pts[i]);
	out_cstr(o, "\r\n");
	if (om->label.len) {
		out_cstr(o, "a=label:");
		out_str(o, om->label);
		out_cstr(o, "\r\n");
	}
	for (unsigned i = 0; i < om->n_formats; i++)
		write_rtpmap(o, om, om->pts[i]);
	if (om->ptime.len) {
		out_cstr(o, "a=ptime:");
		out_str(o, om->ptime);
		out_cstr(o, "\r\n");
	}
	if (om->rtcp_mux && a->rtcp_mux)
		out_cstr(o, "a=rtcp-mux\r\n");
	if (a->crypto) {
		out_cstr(o, "a=crypto:");
		out_bytes(o, a->crypto->value, a->crypto->value_len);
		out_cstr(o, "\r\n");
	}
	/* RFC 7866 §8.2: the SRS only receives. RFC 3264 §6.1: an offered recvonly stream can
	 * only be answered sendonly or inactive; we never send, so inactive. */
	dir = om->direction == SDP_DIR_SENDONLY || om->direction == SDP_DIR_SENDRECV
		      ? SDP_DIR_RECVONLY
		      : SDP_DIR_INACTIVE;
	out_fmt(o, "a=%s\r\n", sdp_direction_to_string(dir));
	return 0;
}

int sdp_answer_build(const struct sdp_session *offer, const struct sdp_answer_params *p,
		     const struct sdp_answer_media *media, size_t n_media, char *buf, size_t cap)
{
	struct out o = {buf, cap, 0, false};
	const char *user = p->origin_user ? p->origin_user : "siprecd";
	int r;

	if (n_media != offer->n_media || !p->address || !token_ok(p->address, 64) ||
	    !token_ok(user, 64))
		return -EINVAL;
	if (cap == 0)
		return -ENOBUFS;
	buf[0] = '\0';

	out_cstr(&o, "v=0\r\n");
	out_fmt(&o, "o=%s %llu %llu IN %s %s\r\n", user, (unsigned long long)p->sess_id,
		(unsigned long long)p->sess_version, addr_type(p->address), p->address);
	out_cstr(&o, "s=-\r\n");
	out_fmt(&o, "c=IN %s %s\r\n", addr_type(p->address), p->address);
	out_cstr(&o, "t=0 0\r\n");
	for (size_t i = 0; i < n_media; i++) {
		r = write_media(&o, &offer->media[i], &media[i]);
		if (r < 0)
			return r;
	}
	if (o.overflow)
		return -ENOBUFS;
	return (int)o.len;
}
