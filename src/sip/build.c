// SPDX-License-Identifier: MIT
/*
 * SIP message builders: responses to parsed requests (RFC 3261 §8.2.6, RFC 3581) and the
 * in-dialog requests the server originates (BYE, RFC 3261 §12.2.1.1), written into caller
 * buffers with explicit capacity; random tags and branches from getrandom(), through a small
 * per-thread pool (sip_random).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "siprecd/macro.h"
#include "siprecd/sip.h"
#include "siprecd/str.h"

struct out {
	char *buf;
	size_t cap, len;
	bool overflow;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->overflow || n > o->cap - o->len) {
		o->overflow = true;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* Copies a header value view; folded CRLFs become spaces so the output stays one line. */
static void put_value(struct out *o, struct str v)
{
	size_t start = o->len;

	put(o, v.s, v.len);
	if (o->overflow)
		return;
	for (size_t i = start; i < o->len; i++)
		if (o->buf[i] == '\r' || o->buf[i] == '\n')
			o->buf[i] = ' ';
}

static void _printf_(2, 3) putf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len) {
		o->overflow = true;
		return;
	}
	o->len += (size_t)n;
}

/*
 * Identifiers (tags, branches, uuids, SDP session ids) are drawn from 256 bytes of getrandom()
 * kept per thread: a SIPREC INVITE needs five or six of them, each a getrandom() system call
 * before. Bytes are used once and wiped as they are handed out. Not for key material: keys
 * come from getrandom() or OpenSSL's DRBG directly.
 */
#define RANDOM_POOL 256

static __thread struct {
	uint8_t b[RANDOM_POOL];
	size_t pos;  /* bytes before pos were handed out (and wiped) */
	bool filled; /* false on a new thread */
} pool;

int sip_random(void *buf, size_t n)
{
	uint8_t *out = buf;

	while (n > 0) {
		size_t k;

		if (!pool.filled || pool.pos == RANDOM_POOL) {
			size_t got = 0;

			while (got < RANDOM_POOL) {
				ssize_t r = getrandom(pool.b + got, RANDOM_POOL - got, 0);

				if (r < 0) {
					if (errno == EINTR)
						continue;
					return -errno;
				}
				got += (size_t)r;
			}
			pool.pos = 0;
			pool.filled = true;
		}
		k = MIN(n, RANDOM_POOL - pool.pos);
		memcpy(out, pool.b + pool.pos, k);
		memset(pool.b + pool.pos, 0, k);
		pool.pos += k;
		out += k;
		n -= k;
	}
	return 0;
}

static int random_chars(char *buf, size_t n)
{
	static const char alphabet[] =
		"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-.";
	unsigned char rnd[64];
	int r;

	if (n > sizeof(rnd))
		return -EINVAL;
	r = sip_random(rnd, n);
	if (r < 0)
		return r;
	/* 64 symbols: each byte's low 6 bits pick one uniformly. */
	for (size_t i = 0; i < n; i++)
		buf[i] = alphabet[rnd[i] & 63];
	buf[n] = '\0';
	return 0;
}

int sip_tag_generate(char *buf, size_t size)
{
	unsigned char rnd[SIP_TAG_LEN / 2];
	int r;

	if (size < SIP_TAG_LEN + 1)
		return -ENOBUFS;
	r = sip_random(rnd, sizeof(rnd));
	if (r < 0)
		return r;
	hex_encode(rnd, sizeof(rnd), buf);
	return 0;
}

int sip_branch_generate(char *buf, size_t size)
{
	if (size < SIP_BRANCH_LEN + 1)
		return -ENOBUFS;
	memcpy(buf, "z9hG4bK", 7);
	return random_chars(buf + 7, SIP_BRANCH_LEN - 7);
}

const char *sip_reason_phrase(unsigned code)
{
	static const struct {
		unsigned code;
		const char *reason;
	} t[] = {
		{100, "Trying"},
		{180, "Ringing"},
		{181, "Call Is Being Forwarded"},
		{182, "Queued"},
		{183, "Session Progress"},
		{200, "OK"},
		{202, "Accepted"},
		{300, "Multiple Choices"},
		{301, "Moved Permanently"},
		{302, "Moved Temporarily"},
		{400, "Bad Request"},
		{401, "Unauthorized"},
		{403, "Forbidden"},
		{404, "Not Found"},
		{405, "Method Not Allowed"},
		{406, "Not Acceptable"},
		{408, "Request Timeout"},
		{413, "Request Entity Too Large"},
		{415, "Unsupported Media Type"},
		{416, "Unsupported URI Scheme"},
		{420, "Bad Extension"},
		{421, "Extension Required"},
		{422, "Session Interval Too Small"}, /* RFC 4028 §6 */
		{480, "Temporarily Unavailable"},
		{481, "Call/Transaction Does Not Exist"},
		{482, "Loop Detected"},
		{483, "Too Many Hops"},
		{486, "Busy Here"},
		{487, "Request Terminated"},
		{488, "Not Acceptable Here"},
		{491, "Request Pending"},
		{500, "Server Internal Error"},
		{501, "Not Implemented"},
		{503, "Service Unavailable"},
		{504, "Server Time-out"},
		{505, "Version Not Supported"},
		{513, "Message Too Large"},
		{600, "Busy Everywhere"},
		{603, "Decline"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		if (t[i].code == code)
			return t[i].reason;
	return "Unknown";
}

/* Text form of the source address, without port. */
static bool source_ip(const struct sockaddr_storage *ss, char *buf, size_t n, uint16_t *ret_port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		*ret_port = ntohs(sin->sin_port);
		return inet_ntop(AF_INET, &sin->sin_addr, buf, (socklen_t)n) != NULL;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		*ret_port = ntohs(sin6->sin6_port);
		return inet_ntop(AF_INET6, &sin6->sin6_addr, buf, (socklen_t)n) != NULL;
	}
	return false;
}

/*
 * Writes the top via-parm again with RFC 3581 / RFC 3261 §18.2.1 parameters: received= when
 * the source differs from sent-by or rport was asked for, rport=<port> replacing an empty rport.
 * Existing received/rport parameters are replaced.
 */
static void put_top_via(struct out *o, struct str raw, const struct sip_via *via,
			const struct sockaddr_storage *src)
{
	char ip[INET6_ADDRSTRLEN];
	uint16_t port = 0;
	bool have_src = src && source_ip(src, ip, sizeof(ip), &port);
	const char *semi = memchr(raw.s, ';', raw.len);
	struct str head = semi ? str_make(raw.s, (size_t)(semi - raw.s)) : raw;
	struct str params = semi ? str_make(semi, raw.len - (size_t)(semi - raw.s)) : STR_NULL;

	put_value(o, str_trim(head));
	/* Copy the parameters one by one, dropping the ones rewritten below. */
	while (params.len) {
		size_t n = 1;
		bool quoted = false;
		struct str p, name;

		while (n < params.len && (quoted || params.s[n] != ';')) {
			if (params.s[n] == '"')
				quoted = !quoted;
			n++;
		}
		p = str_trim(str_make(params.s + 1, n - 1));
		str_split(p, '=', &name);
		name = str_trim(name);
		params.s += n;
		params.len -= n;
		if (have_src &&
		    (str_caseeq_cstr(name, "received") || str_caseeq_cstr(name, "rport")))
			continue;
		put(o, ";", 1);
		put_value(o, p);
	}
	if (!have_src)
		return;
	if (via->rport || !str_eq_cstr(via->host, ip))
		putf(o, ";received=%s", ip);
	if (via->rport)
		putf(o, ";rport=%u", port);
}

int sip_response_build(char *buf, size_t cap, struct sip_msg *req, unsigned code,
		       const char *reason, const struct sip_response_args *args)
{
	static const struct sip_response_args none = {0};
	const struct sip_via *via;
	const struct sip_name_addr *to;
	const struct sip_header *h;
	struct out o = {buf, cap, 0, false};
	bool first_via = true;

	if (!args)
		args = &none;
	if (code < 100 || code > 699)
		return -EINVAL;
	/* A malformed To is still copied (a 400 must be able to answer it), just without a tag
	 * added; a malformed top Via leaves nowhere to send the response. */
	if (!req->is_request || sip_msg_via(req, &via) < 0 || !sip_msg_header(req, SIP_HDR_TO) ||
	    !sip_msg_header(req, SIP_HDR_FROM) || !sip_msg_header(req, SIP_HDR_CALL_ID) ||
	    !sip_msg_header(req, SIP_HDR_CSEQ))
		return -EBADMSG;
	if (sip_msg_to(req, &to) < 0)
		to = NULL;
	if (!reason)
		reason = sip_reason_phrase(code);

	putf(&o, "SIP/2.0 %u %s\r\n", code, reason);
	/* RFC 3261 §8.2.6.2: all Via values, in order. */
	for (unsigned i = 0; i < req->n_hdrs; i++) {
		const struct sip_header *hv = &req->hdrs[i];

		if (hv->id != SIP_HDR_VIA)
			continue;
		puts_(&o, "Via: ");
		if (first_via) {
			struct sip_hdr_iter it = {i, 0};
			struct str v;

			first_via = false;
			if (!sip_msg_next_value(req, SIP_HDR_VIA, &it, &v))
				return -EBADMSG;
			put_top_via(&o, v, via, args->source);
			if (it.idx == i && it.off < hv->value.len) {
				put(&o, ",", 1);
				put_value(&o,
					  str_make(hv->value.s + it.off, hv->value.len - it.off));
			}
		} else {
			put_value(&o, hv->value);
		}
		puts_(&o, "\r\n");
	}
	/* RFC 3261 §12.1.1: dialog-creating responses carry the Record-Route set. */
	if (code > 100 && code < 300)
		for (unsigned i = 0; i < req->n_hdrs; i++)
			if (req->hdrs[i].id == SIP_HDR_RECORD_ROUTE) {
				puts_(&o, "Record-Route: ");
				put_value(&o, req->hdrs[i].value);
				puts_(&o, "\r\n");
			}
	h = sip_msg_header(req, SIP_HDR_FROM);
	puts_(&o, "From: ");
	put_value(&o, h->value);
	puts_(&o, "\r\nTo: ");
	put_value(&o, sip_msg_header(req, SIP_HDR_TO)->value);
	if (to && !to->tag.len && code > 100 && args->to_tag)
		putf(&o, ";tag=%s", args->to_tag);
	puts_(&o, "\r\nCall-ID: ");
	put_value(&o, sip_msg_header(req, SIP_HDR_CALL_ID)->value);
	puts_(&o, "\r\nCSeq: ");
	put_value(&o, sip_msg_header(req, SIP_HDR_CSEQ)->value);
	puts_(&o, "\r\n");
	if (args->extra_headers)
		puts_(&o, args->extra_headers);
	putf(&o, "Server: %s\r\n", args->server ? args->server : "siprecd");
	if (args->content_type && args->body) {
		putf(&o, "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n", args->content_type,
		     args->body_len);
		put(&o, args->body, args->body_len);
	} else {
		puts_(&o, "Content-Length: 0\r\n\r\n");
	}
	if (o.overflow)
		return -ENOBUFS;
	return o.len > INT32_MAX ? -ENOBUFS : (int)o.len;
}

int sip_request_build(char *buf, size_t cap, const struct sip_request_args *a, char *ret_branch)
{
	char branch[SIP_BRANCH_LEN + 1];
	struct out o = {buf, cap, 0, false};
	int r;

	if (!a || !a->method || !a->request_uri.len || !a->transport || !a->via_sent_by.len ||
	    !a->local_uri.len || !a->remote_uri.len || !a->call_id.len)
		return -EINVAL;
	r = sip_branch_generate(branch, sizeof(branch));
	if (r < 0)
		return r;
	putf(&o, "%s %.*s SIP/2.0\r\n", a->method, STR_FMT(a->request_uri));
	putf(&o, "Via: SIP/2.0/%s %.*s;branch=%s;rport\r\n", a->transport, STR_FMT(a->via_sent_by),
	     branch);
	puts_(&o, "Max-Forwards: 70\r\n");
	if (a->route_set)
		puts_(&o, a->route_set);
	/* RFC 3261 §12.2.1.1: From is our side (with our tag), To the peer's. */
	putf(&o, "From: %.*s", STR_FMT(a->local_uri));
	if (a->local_tag.len)
		putf(&o, ";tag=%.*s", STR_FMT(a->local_tag));
	putf(&o, "\r\nTo: %.*s", STR_FMT(a->remote_uri));
	if (a->remote_tag.len)
		putf(&o, ";tag=%.*s", STR_FMT(a->remote_tag));
	putf(&o, "\r\nCall-ID: %.*s\r\nCSeq: %u %s\r\n", STR_FMT(a->call_id), a->cseq, a->method);
	if (a->contact)
		putf(&o, "Contact: %s\r\n", a->contact);
	if (a->extra_headers)
		puts_(&o, a->extra_headers);
	putf(&o, "User-Agent: %s\r\n", a->user_agent ? a->user_agent : "siprecd");
	if (a->content_type && a->body) {
		putf(&o, "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n", a->content_type,
		     a->body_len);
		put(&o, a->body, a->body_len);
	} else {
		puts_(&o, "Content-Length: 0\r\n\r\n");
	}
	if (o.overflow || o.len > INT32_MAX)
		return -ENOBUFS;
	if (ret_branch)
		memcpy(ret_branch, branch, sizeof(branch));
	return (int)o.len;
}
