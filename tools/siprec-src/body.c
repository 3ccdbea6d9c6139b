// SPDX-License-Identifier: MIT
/*
 * siprec-src bodies: the multipart/mixed offer (RFC 7866 §8: SDP with one labelled sendonly
 * m=audio per stream, SDES a=crypto per RFC 4568) plus RFC 7865 recording metadata, the partial
 * metadata of an UPDATE, and reading the server's SDP answer with the project's SDP parser.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "siprecd/macro.h"
#include "siprecd/sdp.h"
#include "siprecd/str.h"
#include "src.h"

struct buf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void _printf_(2, 3) bprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if (b->p && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t nc = MAX(b->cap * 2, b->len + (size_t)n + 1024);
		char *np = realloc(b->p, nc);

		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
}

static char *bfinish(struct buf *b)
{
	if (b->oom) {
		free(b->p);
		return NULL;
	}
	return b->p;
}

/* RFC 7865 §6: identifiers are base64 of a 128-bit UUID. */
static void make_id(char out[32])
{
	uint8_t u[16];

	src_random(u, sizeof(u));
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x40); /* version 4 */
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
	EVP_EncodeBlock((unsigned char *)out, u, sizeof(u));
}

void src_call_ids(struct src_call *c)
{
	make_id(c->group_id);
	make_id(c->session_id);
	for (int i = 0; i < SRC_STREAMS; i++) {
		make_id(c->part_id[i]);
		make_id(c->stream_id[i]);
	}
}

/* A key's public name: hex of the first 8 bytes of SHA-256(key || salt); never the key. */
static void key_fingerprint(const uint8_t *key, size_t len, char out[17])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	out[0] = '\0';
	if (!EVP_Digest(key, len, md, &mdlen, EVP_sha256(), NULL) || mdlen < 8)
		return;
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

void src_stream_keys(const struct src_opts *o, struct src_stream *s, bool next)
{
	for (unsigned i = 0; i < o->n_suites; i++)
		src_random(next ? s->next_keys[i] : s->keys[i], SRTP_KEY_SALT_MAX);
}

static void iso_time(char *out, size_t n)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void sdp_offer(struct buf *b, const struct src_opts *o, struct src_call *c, const char *ip,
		      int family, bool inactive, bool next)
{
	const char *ipv = family == AF_INET6 ? "IP6" : "IP4";

	/* RFC 3264 §8: the version goes up with every new offer of the session. */
	bprintf(b, "v=0\r\no=siprec-src %u %u IN %s %s\r\ns=SIPREC\r\nc=IN %s %s\r\nt=0 0\r\n",
		c->idx + 1000, c->sdp_version, ipv, ip, ipv, ip);
	for (int i = 0; i < SRC_STREAMS; i++) {
		struct src_stream *s = &c->st[i];

		bprintf(b, "m=audio %u %s %d\r\n", s->local_port, o->srtp ? "RTP/SAVP" : "RTP/AVP",
			o->pt);
		bprintf(b, "a=rtpmap:%d %s/8000\r\na=ptime:20\r\na=label:%s\r\na=%s\r\n", o->pt,
			o->pt == 8 ? "PCMA" : "PCMU", s->label, inactive ? "inactive" : "sendonly");
		if (o->rtcp_mux)
			bprintf(b, "a=rtcp-mux\r\n");
		for (unsigned k = 0; o->srtp && k < o->n_suites; k++) {
			const struct srtp_suite_info *su = o->suites[k];
			size_t kl = su->key_len + su->salt_len;
			char b64[80];

			EVP_EncodeBlock((unsigned char *)b64, next ? s->next_keys[k] : s->keys[k],
					(int)kl);
			bprintf(b, "a=crypto:%u %s inline:%s\r\n", k + 1, su->name, b64);
			OPENSSL_cleanse(b64, sizeof(b64));
		}
	}
}

static void metadata(struct buf *b, const struct src_opts *o, struct src_call *c)
{
	char now[40];

	iso_time(now, sizeof(now));
	bprintf(b,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n"
		"<recording xmlns=\"urn:ietf:params:xml:ns:recording:1\">\r\n"
		"  <datamode>complete</datamode>\r\n"
		"  <group group_id=\"%s\">\r\n"
		"    <associate-time>%s</associate-time>\r\n"
		"  </group>\r\n"
		"  <session session_id=\"%s\">\r\n"
		"    <group-ref>%s</group-ref>\r\n"
		"    <start-time>%s</start-time>\r\n"
		"  </session>\r\n",
		c->group_id, now, c->session_id, c->group_id, now);
	for (int i = 0; i < SRC_STREAMS; i++)
		bprintf(b,
			"  <participant participant_id=\"%s\">\r\n"
			"    <nameID aor=\"%s\">\r\n"
			"      <name xml:lang=\"en\">%s</name>\r\n"
			"    </nameID>\r\n"
			"  </participant>\r\n",
			c->part_id[i], o->aor[i], i == 0 ? "Caller" : "Callee");
	for (int i = 0; i < SRC_STREAMS; i++)
		bprintf(b,
			"  <stream stream_id=\"%s\" session_id=\"%s\">\r\n"
			"    <label>%s</label>\r\n"
			"  </stream>\r\n",
			c->stream_id[i], c->session_id, c->st[i].label);
	for (int i = 0; i < SRC_STREAMS; i++)
		bprintf(b,
			"  <participantsessionassoc participant_id=\"%s\" session_id=\"%s\">\r\n"
			"    <associate-time>%s</associate-time>\r\n"
			"  </participantsessionassoc>\r\n",
			c->part_id[i], c->session_id, now);
	/* Each participant sends its own leg and receives the other one. */
	for (int i = 0; i < SRC_STREAMS; i++)
		bprintf(b,
			"  <participantstreamassoc participant_id=\"%s\">\r\n"
			"    <send>%s</send>\r\n"
			"    <recv>%s</recv>\r\n"
			"  </participantstreamassoc>\r\n",
			c->part_id[i], c->stream_id[i], c->stream_id[1 - i]);
	bprintf(b, "</recording>\r\n");
}

char *src_body_offer(const struct src_opts *o, struct src_call *c, const char *local_ip, int family,
		     bool inactive, bool use_next_keys, const char *boundary)
{
	struct buf b = {0};

	bprintf(&b,
		"--%s\r\nContent-Type: application/sdp\r\n"
		"Content-Disposition: session;handling=required\r\n\r\n",
		boundary);
	sdp_offer(&b, o, c, local_ip, family, inactive, use_next_keys);
	bprintf(&b,
		"\r\n--%s\r\nContent-Type: application/rs-metadata+xml\r\n"
		"Content-Disposition: recording-session\r\n\r\n",
		boundary);
	metadata(&b, o, c);
	bprintf(&b, "\r\n--%s--\r\n", boundary);
	return bfinish(&b);
}

char *src_body_partial_metadata(const struct src_opts *o, struct src_call *c)
{
	struct buf b = {0};
	char now[40];

	iso_time(now, sizeof(now));
	/* RFC 7865 §6.1: a partial update carries only what changed, here the caller's name. */
	bprintf(&b,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n"
		"<recording xmlns=\"urn:ietf:params:xml:ns:recording:1\">\r\n"
		"  <datamode>partial</datamode>\r\n"
		"  <participant participant_id=\"%s\">\r\n"
		"    <nameID aor=\"%s\">\r\n"
		"      <name xml:lang=\"en\">Caller (updated %s)</name>\r\n"
		"    </nameID>\r\n"
		"  </participant>\r\n"
		"</recording>\r\n",
		c->part_id[0], o->aor[0], now);
	return bfinish(&b);
}

/* Finds the application/sdp part of a multipart body (RFC 2046 §5.1.1), or the body itself. */
static int find_sdp(const char *ctype, size_t ctype_len, const char *body, size_t len,
		    struct str *ret)
{
	struct str ct = str_make(ctype, ctype_len), all = str_make(body, len);
	char delim[200];
	ssize_t bp, p, end, hdr_end;

	if (str_startswith_case(str_trim(ct), "application/sdp")) {
		*ret = all;
		return 0;
	}
	if (!str_startswith_case(str_trim(ct), "multipart/"))
		return -EBADMSG;
	bp = str_casestr(ct, "boundary=");
	if (bp < 0)
		return -EBADMSG;
	struct str bnd = str_make(ct.s + bp + 9, ct.len - (size_t)bp - 9), tail;

	tail = str_split(bnd, ';', &bnd);
	(void)tail;
	bnd = str_trim(bnd);
	if (bnd.len >= 2 && bnd.s[0] == '"') {
		bnd.s++;
		bnd.len -= 2;
	}
	if (bnd.len == 0 || bnd.len > 150)
		return -EBADMSG;
	snprintf(delim, sizeof(delim), "--%.*s", STR_FMT(bnd));
	p = str_casestr(all, delim);
	while (p >= 0) {
		struct str part =
			str_make(all.s + p + strlen(delim), all.len - (size_t)p - strlen(delim));

		if (part.len >= 2 && part.s[0] == '-' && part.s[1] == '-')
			break;
		end = str_casestr(part, delim);
		if (end < 0)
			break;
		part.len = (size_t)end;
		hdr_end = str_casestr(part, "\r\n\r\n");
		if (hdr_end >= 0) {
			struct str hdrs = str_make(part.s, (size_t)hdr_end);

			if (str_casestr(hdrs, "application/sdp") >= 0) {
				struct str b = str_make(part.s + hdr_end + 4,
							part.len - (size_t)hdr_end - 4);

				/* The CRLF before the delimiter belongs to the delimiter. */
				if (b.len >= 2 && b.s[b.len - 2] == '\r')
					b.len -= 2;
				*ret = b;
				return 0;
			}
		}
		p = (part.s - all.s) + end;
	}
	return -EBADMSG;
}

int src_body_apply_answer(const struct src_opts *o, struct src_call *c, const char *ctype,
			  size_t ctype_len, const char *body, size_t len, bool use_next_keys)
{
	struct sdp_session *sess;
	struct str sdp;
	int r;

	if (find_sdp(ctype, ctype_len, body, len, &sdp) < 0) {
		snprintf(c->reason, sizeof(c->reason), "answer has no application/sdp");
		return -EBADMSG;
	}
	sess = malloc(sizeof(*sess));
	if (!sess)
		return -ENOMEM;
	r = sdp_parse(sdp.s, sdp.len, NULL, sess);
	if (r < 0) {
		snprintf(c->reason, sizeof(c->reason), "bad SDP answer: %s", sdp_error());
		free(sess);
		return -EBADMSG;
	}
	/* RFC 3264 §6: the answer has the offer's m= lines in order; missing ones (some test UAS
	 * answer with one) are taken as rejected. */
	for (int i = 0; i < SRC_STREAMS; i++) {
		struct src_stream *s = &c->st[i];
		const struct sdp_media *m = (unsigned)i < sess->n_media ? &sess->media[i] : NULL;
		const struct sdp_connection *cn = m ? sdp_media_address(m) : NULL;
		const struct srtp_suite_info *suite = NULL;
		const uint8_t *key = NULL;
		char answer_fp[17] = "";

		if (!m || m->port == 0 || !cn || !cn->present || m->invalid) {
			s->active = false;
			s->remote_port = 0;
			continue;
		}
		if (o->srtp) {
			for (unsigned k = 0; k < m->n_crypto && !suite; k++) {
				struct sdp_crypto cr;

				if (sdp_crypto_parse(m->crypto[k], &cr) < 0)
					continue;
				/* SDES: the answer's tag names the offered line it accepts; we keep
				 * sending with our own key of that line (RFC 4568 §7.1.2). */
				if (cr.tag >= 1 && cr.tag <= o->n_suites &&
				    str_eq_cstr(str_from_cstr(cr.suite->name),
						o->suites[cr.tag - 1]->name)) {
					suite = o->suites[cr.tag - 1];
					key = use_next_keys ? s->next_keys[cr.tag - 1]
							    : s->keys[cr.tag - 1];
					key_fingerprint(cr.keys[0].key_salt,
							cr.keys[0].key_salt_len, answer_fp);
				}
				sdp_crypto_wipe(&cr);
			}
			if (!suite) {
				snprintf(c->reason, sizeof(c->reason),
					 "answer for stream %s has no acceptable a=crypto",
					 s->label);
				free(sess);
				return -EBADMSG;
			}
		}
		char addr[INET6_ADDRSTRLEN];

		if (str_copy(cn->address, addr, sizeof(addr)) < 0) {
			free(sess);
			return -EBADMSG;
		}
		memset(&s->dst, 0, sizeof(s->dst));
		if (cn->family == AF_INET6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&s->dst;

			a->sin6_family = AF_INET6;
			a->sin6_port = htons(m->port);
			r = inet_pton(AF_INET6, addr, &a->sin6_addr);
			s->dst_len = sizeof(*a);
		} else {
			struct sockaddr_in *a = (struct sockaddr_in *)&s->dst;

			a->sin_family = AF_INET;
			a->sin_port = htons(m->port);
			r = inet_pton(AF_INET, addr, &a->sin_addr);
			s->dst_len = sizeof(*a);
		}
		if (r != 1) {
			snprintf(c->reason, sizeof(c->reason), "answer c= is not an address");
			free(sess);
			return -EBADMSG;
		}
		s->remote_port = m->port;
		if (suite) {
			struct srtp_tx *tx = NULL;

			r = srtp_tx_new(suite, key, suite->key_len + suite->salt_len, false, false,
					false, &tx);
			if (r < 0) {
				snprintf(c->reason, sizeof(c->reason), "SRTP context: %s",
					 strerror(-r));
				free(sess);
				return r;
			}
			/* The switch happens now, when the 2xx arrives (--rekey). */
			srtp_tx_free(s->tx);
			s->tx = tx;
			s->suite = suite;
			if (s->n_phases < SRC_MAX_PHASES) {
				struct src_phase *ph = &s->phases[s->n_phases++];

				key_fingerprint(key, suite->key_len + suite->salt_len, ph->tx_key);
				memcpy(ph->answer_key, answer_fp, sizeof(ph->answer_key));
			}
		}
		s->active = true;
	}
	free(sess);
	return 0;
}
