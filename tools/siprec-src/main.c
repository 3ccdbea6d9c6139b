// SPDX-License-Identifier: MIT
/*
 * siprec-src: a SIPREC Session Recording Client. Places one or many recording calls (multipart
 * SDP + RFC 7865 metadata INVITE) to a recording server over UDP, TCP or TLS, streams G.711
 * RTP/SRTP from a WAV file at the real 20 ms pace, performs mid-call actions, and reports per
 * call (text or --json). Exit: 0 all calls ok, 1 usage, 2 some call failed.
 *
 * One thread and poll(): the SIP side is one socket or connection shared by all calls, and the
 * media side is a handful of pool sockets written with sendmmsg once per 20 ms tick, so the tick
 * itself is the "timer thread" and no state is shared across threads (no locks on the packet
 * path). poll() over a few descriptors costs nothing next to the per-packet SRTP work, and
 * keeps the tool portable to kernels without io_uring.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "config.h"
#include "siprecd/macro.h"
#include "siprecd/str.h"
#include "src.h"

#define T1_US 500000ULL
#define T2_US 4000000ULL
#define TXN_TIMEOUT_US (64 * T1_US) /* Timer B / Timer F, RFC 3261 §17.1 */

static struct src_opts opts;
static struct src_audio audio;
static struct src_transport_ctx *tp;
static struct src_call *calls;
static unsigned n_calls;
static uint64_t call_ms;
static volatile sig_atomic_t stop_requested;
static uint64_t stop_at;
static uint64_t sip_errors;
static uint64_t late_ticks; /* 20 ms ticks dropped because the loop fell behind */
static uint64_t t_run0;	    /* when the first call was scheduled */
/* Calls below live_lo are done, calls from live_hi on not started: the loop's passes walk the
 * calls in between (a few hundred at 1,000/s), not all --calls of them. */
static unsigned live_lo, live_hi;

uint64_t src_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}

void src_random(void *buf, size_t n)
{
	uint8_t *p = buf;

	while (n > 0) {
		ssize_t r = getrandom(p, n, 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			perror("getrandom");
			abort();
		}
		p += r;
		n -= (size_t)r;
	}
}

void src_token(char *buf, size_t n)
{
	static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	uint8_t r[64];

	n = MIN(n, sizeof(r));
	src_random(r, n);
	for (size_t i = 0; i < n; i++)
		buf[i] = al[r[i] % (sizeof(al) - 1)];
	buf[n] = '\0';
}

/* ---------------------------------------------------------------- SIP messages ---- */

struct sbuf {
	char b[SRC_SIP_MAX];
	size_t len;
	bool overflow;
};

static void _printf_(2, 3) sb(struct sbuf *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (s->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(s->b + s->len, sizeof(s->b) - s->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(s->b) - s->len)
		s->overflow = true;
	else
		s->len += (size_t)n;
}

static const char *ruri(void)
{
	return opts.ruri;
}

static const char *local_host(char *buf, size_t n)
{
	const char *ip = src_transport_local_ip(tp);

	snprintf(buf, n, src_transport_family(tp) == AF_INET6 ? "[%s]" : "%s", ip);
	return buf;
}

static const char *tp_param(void)
{
	return opts.transport == SRC_UDP ? "udp" : opts.transport == SRC_TCP ? "tcp" : "tls";
}

/* Builds a request of the call's dialog. to_tag NULL: none. */
static void build_request(struct sbuf *s, struct src_call *c, const char *method, const char *uri,
			  uint32_t cseq, const char *branch, const char *to_tag, bool contact,
			  const char *ctype, const char *body, const char *extra)
{
	char host[64];
	size_t blen = body ? strlen(body) : 0;

	local_host(host, sizeof(host));
	s->len = 0;
	s->overflow = false;
	sb(s, "%s %s SIP/2.0\r\n", method, uri);
	sb(s, "Via: SIP/2.0/%s %s:%u;branch=%s;rport\r\n", src_transport_name(tp), host,
	   src_transport_local_port(tp), branch);
	sb(s, "Max-Forwards: 70\r\n");
	sb(s, "From: <%s>;tag=%s\r\n", opts.from, c->local_tag);
	sb(s, "To: <%s>%s%s\r\n", opts.ruri, to_tag && *to_tag ? ";tag=" : "",
	   to_tag ? to_tag : "");
	sb(s, "Call-ID: %s\r\n", c->call_id);
	sb(s, "CSeq: %u %s\r\n", cseq, method);
	if (contact)
		sb(s, "Contact: <sip:src@%s:%u;transport=%s>;+sip.src\r\n", host,
		   src_transport_local_port(tp), tp_param());
	if (extra)
		sb(s, "%s", extra);
	sb(s, "User-Agent: siprec-src/%s\r\n", SIPRECD_VERSION);
	if (body)
		sb(s, "Content-Type: %s\r\n", ctype);
	sb(s, "Content-Length: %zu\r\n\r\n", blen);
	if (body)
		sb(s, "%s", body);
}

static void send_msg(const struct sbuf *s)
{
	if (s->overflow || src_transport_send(tp, s->b, s->len) < 0)
		sip_errors++;
}

static void txn_free_msg(struct src_txn *t)
{
	/* An INVITE carries SDES keys. */
	if (t->msg)
		OPENSSL_cleanse(t->msg, t->len);
	free(t->msg);
	t->msg = NULL;
	t->len = 0;
}

static void txn_start(struct src_txn *t, const struct sbuf *s, const char *method, uint32_t cseq,
		      const char *branch, int kind)
{
	txn_free_msg(t);
	t->msg = malloc(s->len);
	if (t->msg)
		memcpy(t->msg, s->b, s->len);
	t->len = t->msg ? s->len : 0;
	t->active = true;
	t->invite = strcmp(method, "INVITE") == 0;
	snprintf(t->method, sizeof(t->method), "%s", method);
	snprintf(t->branch, sizeof(t->branch), "%s", branch);
	t->cseq = cseq;
	t->kind = kind;
	t->interval = T1_US;
	t->next_retx = src_now_us() + T1_US;
	t->deadline = src_now_us() + TXN_TIMEOUT_US;
	send_msg(s);
}

static void new_branch(char *b, size_t n)
{
	char tok[17];

	src_token(tok, 16);
	snprintf(b, n, "z9hG4bK%s", tok); /* RFC 3261 §8.1.1.7 magic cookie */
}

static const char *dialog_uri(struct src_call *c)
{
	return c->remote_target[0] ? c->remote_target : ruri();
}

static void send_invite(struct src_call *c, int kind)
{
	static struct sbuf s;
	char boundary[24], ctype[80], branch[40];
	bool inactive = kind == TXN_PAUSE;
	bool next = kind == TXN_REINVITE && opts.rekey;
	char *body;

	if (next) {
		for (int i = 0; i < SRC_STREAMS; i++)
			src_stream_keys(&opts, &c->st[i], true);
		c->rekey_pending = true;
	}
	src_token(boundary, 16);
	snprintf(ctype, sizeof(ctype), "multipart/mixed;boundary=%s", boundary);
	c->sdp_version++;
	body = src_body_offer(&opts, c, src_transport_local_ip(tp), src_transport_family(tp),
			      inactive, next, boundary);
	if (!body) {
		snprintf(c->reason, sizeof(c->reason), "out of memory");
		c->failed = true;
		c->state = CALL_DONE;
		return;
	}
	new_branch(branch, sizeof(branch));
	c->cseq++;
	build_request(&s, c, "INVITE", kind == TXN_INVITE ? ruri() : dialog_uri(c), c->cseq, branch,
		      kind == TXN_INVITE ? NULL : c->remote_tag, true, ctype, body,
		      "Require: siprec\r\nAllow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE\r\n"
		      "Accept: application/sdp, application/rs-metadata+xml\r\n");
	OPENSSL_cleanse(body, strlen(body)); /* it carried the SDES keys */
	free(body);
	if (kind == TXN_INVITE) {
		snprintf(c->invite_branch, sizeof(c->invite_branch), "%s", branch);
		c->t_invite = src_now_us();
		c->state = CALL_CALLING;
	}
	txn_start(&c->inv, &s, "INVITE", c->cseq, branch, kind);
	OPENSSL_cleanse(s.b, s.len);
}

static void send_nict(struct src_call *c, const char *method, int kind)
{
	static struct sbuf s;
	char branch[40];
	char *body = NULL;

	if (kind == TXN_CANCEL) {
		/* RFC 3261 §9.1: CANCEL copies the INVITE's branch, Request-URI and CSeq number. */
		build_request(&s, c, "CANCEL", ruri(), c->inv.cseq, c->invite_branch, NULL, false,
			      NULL, NULL, NULL);
		txn_start(&c->nict, &s, "CANCEL", c->inv.cseq, c->invite_branch, kind);
		return;
	}
	if (kind == TXN_UPDATE)
		body = src_body_partial_metadata(&opts, c);
	new_branch(branch, sizeof(branch));
	c->cseq++;
	build_request(&s, c, method, dialog_uri(c), c->cseq, branch, c->remote_tag,
		      kind == TXN_UPDATE, body ? "application/rs-metadata+xml" : NULL, body,
		      body ? "Content-Disposition: recording-session\r\n" : NULL);
	free(body);
	txn_start(&c->nict, &s, method, c->cseq, branch, kind);
}

static void send_ack(struct src_call *c, uint32_t cseq, bool for_2xx)
{
	static struct sbuf s;
	char branch[40];

	if (for_2xx) {
		/* RFC 3261 §13.2.2.4: the 2xx ACK is a new transaction of the dialog. */
		new_branch(branch, sizeof(branch));
		build_request(&s, c, "ACK", dialog_uri(c), cseq, branch, c->remote_tag, false, NULL,
			      NULL, NULL);
	} else {
		/* §17.1.1.3: a non-2xx ACK reuses the INVITE's branch and Request-URI. */
		build_request(&s, c, "ACK", c->inv.kind == TXN_INVITE ? ruri() : dialog_uri(c),
			      cseq, c->inv.branch, c->remote_tag, false, NULL, NULL, NULL);
	}
	send_msg(&s);
}

/* ------------------------------------------------------------- parsing replies ---- */

struct msg {
	bool is_response;
	int status;
	struct str method, reason;
	struct str hdrs, body;
};

/* First header value with the long or compact name. */
static struct str header(const struct msg *m, const char *name, const char *compact)
{
	struct str rest = m->hdrs;

	while (rest.len) {
		struct str line;
		rest = str_split(rest, '\n', &line);
		line = str_trim(line);
		ssize_t colon = str_chr(line, ':');

		if (colon <= 0)
			continue;
		struct str n = str_trim(str_make(line.s, (size_t)colon));

		if (str_caseeq_cstr(n, name) || (compact && str_caseeq_cstr(n, compact)))
			return str_trim(str_make(line.s + colon + 1, line.len - (size_t)colon - 1));
		if (!rest.s)
			break;
	}
	return STR_NULL;
}

static struct str param(struct str v, const char *name)
{
	ssize_t p = str_casestr(v, name);

	if (p < 0)
		return STR_NULL;
	struct str r = str_make(v.s + p + strlen(name), v.len - (size_t)p - strlen(name)), head;

	str_split(r, ';', &head);
	str_split(head, '>', &r);
	str_split(r, ',', &head);
	return str_trim(head);
}

static int parse_msg(const char *buf, size_t len, struct msg *m)
{
	struct str all = str_make(buf, len), first;
	ssize_t he = str_casestr(all, "\r\n\r\n");

	if (he < 0)
		return -EBADMSG;
	memset(m, 0, sizeof(*m));
	str_split(all, '\n', &first);
	first = str_trim(first);
	m->hdrs = str_make(buf, (size_t)he + 2);
	m->hdrs = str_make(first.s + first.len, (size_t)he + 2 - first.len);
	m->body = str_make(buf + he + 4, len - (size_t)he - 4);
	if (str_startswith_case(first, "SIP/2.0 ")) {
		uint32_t code;

		m->is_response = true;
		if (first.len < 11 || str_to_u32(str_make(first.s + 8, 3), 699, &code) < 0 ||
		    code < 100)
			return -EBADMSG;
		m->status = (int)code;
		m->reason = str_trim(str_make(first.s + 11, first.len - 11));
	} else {
		ssize_t sp = str_chr(first, ' ');

		if (sp <= 0)
			return -EBADMSG;
		m->method = str_make(first.s, (size_t)sp);
	}
	return 0;
}

/* A Call-ID of ours is "<token>-<index>@siprec-src": the index finds the call without a walk
 * of every call's Call-ID (at 10,000 calls, ~1 ms a message late in the run). */
static struct src_call *find_call(struct str cid)
{
	struct str head;
	const char *dash;
	uint32_t i;

	if (!str_split(cid, '@', &head).s)
		return NULL;
	dash = memrchr(head.s, '-', head.len);
	if (!dash || str_to_u32(str_make(dash + 1, (size_t)(head.s + head.len - dash - 1)),
				UINT32_MAX, &i) < 0)
		return NULL;
	if (i >= n_calls || !str_eq_cstr(cid, calls[i].call_id))
		return NULL;
	return &calls[i];
}

static void copy_str(char *dst, size_t n, struct str v)
{
	size_t k = MIN(v.len, n - 1);

	memcpy(dst, v.s, k);
	dst[k] = '\0';
}

static void call_finish(struct src_call *c, bool ok, const char *why)
{
	c->state = CALL_DONE;
	c->t_end = src_now_us();
	if (!ok)
		c->failed = true;
	if (why && !c->reason[0])
		snprintf(c->reason, sizeof(c->reason), "%s", why);
	c->ok = !c->failed;
	for (int i = 0; i < SRC_STREAMS; i++)
		c->st[i].active = false;
	c->inv.active = c->nict.active = false;
}

static void send_bye(struct src_call *c)
{
	send_nict(c, "BYE", TXN_BYE);
	c->state = CALL_BYE;
	for (int i = 0; i < SRC_STREAMS; i++)
		c->st[i].active = false;
}

static void on_invite_response(struct src_call *c, const struct msg *m)
{
	struct src_txn *t = &c->inv;
	struct str ct = header(m, "Content-Type", "c");

	if (m->status < 200) {
		if (t->kind == TXN_INVITE && c->state == CALL_CALLING) {
			c->state = CALL_PROCEEDING;
			c->got_provisional = true;
			if (c->cancel_pending && !c->cancel_sent) {
				send_nict(c, "CANCEL", TXN_CANCEL);
				c->cancel_sent = true;
			}
		}
		/* RFC 3261 §17.1.1.2: a provisional response stops Timer A. */
		t->next_retx = UINT64_MAX;
		return;
	}
	if (m->status < 300) {
		struct str to = header(m, "To", "t"), contact = header(m, "Contact", "m");
		bool first =
			t->kind == TXN_INVITE && c->state != CALL_ACTIVE && c->state != CALL_BYE;

		if (!t->active) {
			/* A retransmitted 2xx: its ACK was lost (§13.2.2.4). */
			send_ack(c, t->cseq, true);
			return;
		}
		if (first) {
			copy_str(c->remote_tag, sizeof(c->remote_tag), param(to, "tag="));
			ssize_t lt = str_chr(contact, '<');

			if (lt >= 0) {
				struct str u = str_make(contact.s + lt + 1,
							contact.len - (size_t)lt - 1),
					   head;

				str_split(u, '>', &head);
				copy_str(c->remote_target, sizeof(c->remote_target), head);
			} else if (contact.len) {
				struct str head;

				str_split(contact, ';', &head);
				copy_str(c->remote_target, sizeof(c->remote_target),
					 str_trim(head));
			}
			c->status = m->status;
		}
		t->active = false;
		send_ack(c, t->cseq, true);
		int r = src_body_apply_answer(&opts, c, ct.s, ct.len, m->body.s, m->body.len,
					      c->rekey_pending && t->kind == TXN_REINVITE);
		if (t->kind == TXN_REINVITE)
			c->rekey_pending = false;
		if (r < 0) {
			c->failed = true;
			send_bye(c);
			return;
		}
		if (first) {
			c->t_answer = src_now_us();
			for (int i = 0; i < SRC_STREAMS; i++)
				c->st[i].max_ticks = call_ms * 1000 / SRC_PTIME_US;
			if (c->cancel_sent) {
				/* CANCEL lost the race with the 2xx (§9.1): hang up. */
				c->cancelled = true;
				send_bye(c);
				return;
			}
			c->state = CALL_ACTIVE;
		} else {
			if (t->kind == TXN_PAUSE)
				c->paused = true;
			else if (t->kind == TXN_RESUME)
				c->paused = false;
			c->reinvites_ok++;
		}
		if (stop_requested && c->state == CALL_ACTIVE)
			send_bye(c);
		return;
	}
	/* Final non-2xx. */
	struct str w = header(m, "Warning", NULL), ra = header(m, "Retry-After", NULL);

	if (!t->active)
		return;
	t->active = false;
	send_ack(c, t->cseq, false);
	if (w.len)
		copy_str(c->warning, sizeof(c->warning), w);
	if (ra.len)
		copy_str(c->retry_after, sizeof(c->retry_after), ra);
	if (t->kind == TXN_INVITE) {
		c->status = m->status;
		if (m->status == 487 && c->cancel_sent) {
			c->cancelled = true;
			call_finish(c, true, "cancelled");
			return;
		}
		snprintf(c->reason, sizeof(c->reason), "%d %.*s", m->status, STR_FMT(m->reason));
		call_finish(c, false, NULL);
		return;
	}
	/* A refused re-INVITE leaves the session as it was (RFC 3261 §14.1), but it is a failure
	 * of what was asked for. */
	c->rekey_pending = false;
	c->failed = true;
	snprintf(c->reason, sizeof(c->reason), "re-INVITE: %d %.*s", m->status, STR_FMT(m->reason));
}

static void on_nict_response(struct src_call *c, const struct msg *m)
{
	struct src_txn *t = &c->nict;

	if (m->status < 200) {
		t->interval = T2_US; /* §17.1.2.2: Proceeding retransmits at T2 */
		return;
	}
	if (!t->active)
		return;
	t->active = false;
	switch (t->kind) {
	case TXN_BYE:
		if (m->status >= 300 && m->status != 481) {
			snprintf(c->reason, sizeof(c->reason), "BYE: %d %.*s", m->status,
				 STR_FMT(m->reason));
			c->failed = true;
		}
		call_finish(c, !c->failed, NULL);
		break;
	case TXN_UPDATE:
		if (m->status < 300) {
			c->updates_ok++;
		} else {
			c->failed = true;
			snprintf(c->reason, sizeof(c->reason), "UPDATE: %d %.*s", m->status,
				 STR_FMT(m->reason));
		}
		break;
	default:
		break;
	}
}

static void respond(const struct msg *m, int code, const char *reason, const char *to_tag)
{
	static struct sbuf s;
	struct str rest = m->hdrs;

	s.len = 0;
	s.overflow = false;
	sb(&s, "SIP/2.0 %d %s\r\n", code, reason);
	/* §8.2.6.2: Via, From, To, Call-ID and CSeq are copied; To gets our tag if it has none. */
	while (rest.s && rest.len) {
		struct str line, n;

		rest = str_split(rest, '\n', &line);
		line = str_trim(line);
		ssize_t colon = str_chr(line, ':');
		if (colon <= 0)
			continue;
		n = str_trim(str_make(line.s, (size_t)colon));
		if (str_caseeq_cstr(n, "Via") || str_caseeq_cstr(n, "v") ||
		    str_caseeq_cstr(n, "From") || str_caseeq_cstr(n, "f") ||
		    str_caseeq_cstr(n, "Call-ID") || str_caseeq_cstr(n, "i") ||
		    str_caseeq_cstr(n, "CSeq"))
			sb(&s, "%.*s\r\n", STR_FMT(line));
		else if (str_caseeq_cstr(n, "To") || str_caseeq_cstr(n, "t"))
			sb(&s, "%.*s%s%s\r\n", STR_FMT(line),
			   str_casestr(line, "tag=") < 0 && to_tag ? ";tag=" : "",
			   str_casestr(line, "tag=") < 0 && to_tag ? to_tag : "");
	}
	sb(&s, "Content-Length: 0\r\n\r\n");
	send_msg(&s);
}

static void on_message(void *ud, const char *buf, size_t len)
{
	struct msg m;
	struct src_call *c;
	struct str cseq, num, meth;
	uint32_t n;

	if (parse_msg(buf, len, &m) < 0) {
		sip_errors++;
		return;
	}
	c = find_call(header(&m, "Call-ID", "i"));
	if (!m.is_response) {
		if (str_eq_cstr(m.method, "ACK"))
			return;
		if (!c) {
			respond(&m, 481, "Call/Transaction Does Not Exist", NULL);
			return;
		}
		if (str_eq_cstr(m.method, "BYE")) {
			struct str rh = header(&m, "Reason", NULL);
			char why[160];

			/* RFC 3326: why the server ended the call (siprecd: recording failed). */
			snprintf(why, sizeof(why), "BYE from server%s%.*s%s", rh.len ? " (" : "",
				 (int)(rh.len < 120 ? rh.len : 120), rh.s ? rh.s : "",
				 rh.len ? ")" : "");
			respond(&m, 200, "OK", c->local_tag);
			if (c->state != CALL_DONE)
				call_finish(c, true, why);
		} else if (str_eq_cstr(m.method, "OPTIONS")) {
			respond(&m, 200, "OK", c->local_tag);
		} else {
			respond(&m, 501, "Not Implemented", c->local_tag);
		}
		return;
	}
	if (!c)
		return;
	cseq = header(&m, "CSeq", NULL);
	meth = str_split(cseq, ' ', &num);
	if (str_to_u32(str_trim(num), UINT32_MAX, &n) < 0)
		return;
	meth = str_trim(meth);
	if (str_eq_cstr(meth, "INVITE") && n == c->inv.cseq)
		on_invite_response(c, &m);
	else if (c->nict.cseq == n && str_eq_cstr(meth, c->nict.method))
		on_nict_response(c, &m);
}

/* ------------------------------------------------------------------ call timers ---- */

static bool due(int64_t at_ms, uint64_t since, uint64_t now)
{
	return at_ms >= 0 && now >= since + (uint64_t)at_ms * 1000;
}

static void txn_timer(struct src_call *c, struct src_txn *t, uint64_t now)
{
	if (!t->active)
		return;
	if (now >= t->deadline) {
		t->active = false;
		if (t->kind == TXN_INVITE) {
			c->status = 408;
			call_finish(c, false, "no final response (Timer B)");
		} else if (t->kind == TXN_BYE) {
			call_finish(c, false, "BYE timed out");
		} else if (t->kind != TXN_CANCEL) {
			c->failed = true;
			snprintf(c->reason, sizeof(c->reason), "%s timed out", t->method);
		}
		return;
	}
	/* Timers A and E only exist on unreliable transports (§17.1.1.2, §17.1.2.2). */
	if (opts.transport == SRC_UDP && now >= t->next_retx && t->msg) {
		if (src_transport_send(tp, t->msg, t->len) < 0)
			sip_errors++;
		t->interval = t->invite ? t->interval * 2 : MIN(t->interval * 2, T2_US);
		t->next_retx = now + t->interval;
	}
}

/* The call ends when its time is up and every stream has sent its last packet (the pacer's
 * ticks are not aligned with the answer), with a little grace for a late tick. */
static bool call_over(const struct src_call *c, uint64_t now)
{
	uint64_t end = c->t_answer + call_ms * 1000;

	if (now < end)
		return false;
	for (int i = 0; i < SRC_STREAMS; i++) {
		const struct src_stream *s = &c->st[i];

		if (s->active && !s->finished && s->ticks < s->max_ticks && now < end + 100000)
			return false;
	}
	return true;
}

static void call_timers(struct src_call *c, uint64_t now)
{
	if (c->state == CALL_DONE)
		return;
	if (c->state == CALL_IDLE) {
		if (stop_requested) {
			call_finish(c, false, "not started");
			return;
		}
		if (now >= c->t_start)
			send_invite(c, TXN_INVITE);
		return;
	}
	txn_timer(c, &c->inv, now);
	txn_timer(c, &c->nict, now);
	if (c->state == CALL_DONE)
		return;
	if (c->state == CALL_CALLING || c->state == CALL_PROCEEDING) {
		bool want = stop_requested || due(opts.cancel_after, c->t_invite, now);

		if (want && !c->cancel_pending) {
			c->cancel_pending = true;
			/* §9.1: no CANCEL before a provisional response. */
			if (c->got_provisional && !c->nict.active) {
				send_nict(c, "CANCEL", TXN_CANCEL);
				c->cancel_sent = true;
			}
		}
		return;
	}
	if (c->state != CALL_ACTIVE || c->inv.active || c->nict.active)
		return;
	if (stop_requested || call_over(c, now)) {
		send_bye(c);
	} else if (!c->did_reinvite && due(opts.reinvite_at, c->t_answer, now)) {
		c->did_reinvite = true;
		send_invite(c, TXN_REINVITE);
	} else if (!c->did_pause && due(opts.pause_at, c->t_answer, now)) {
		c->did_pause = true;
		send_invite(c, TXN_PAUSE);
	} else if (c->did_pause && !c->did_resume && due(opts.resume_at, c->t_answer, now)) {
		c->did_resume = true;
		send_invite(c, TXN_RESUME);
	} else if (!c->did_update && due(opts.update_at, c->t_answer, now)) {
		c->did_update = true;
		send_nict(c, "UPDATE", TXN_UPDATE);
	}
}

/* ------------------------------------------------------------------- reporting ---- */

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static const char *result_of(const struct src_call *c)
{
	if (c->cancelled && !c->failed)
		return "cancelled";
	return c->ok && !c->failed ? "ok" : "failed";
}

static void report(FILE *f)
{
	uint64_t tp_packets = 0, tp_bytes = 0, tamp = 0, repl = 0, errs = 0;
	unsigned ok = 0, failed = 0;

	for (unsigned i = 0; i < n_calls; i++) {
		struct src_call *c = &calls[i];

		if (c->failed || !c->ok)
			failed++;
		else
			ok++;
		for (int k = 0; k < SRC_STREAMS; k++) {
			tp_packets += c->st[k].packets;
			tp_bytes += c->st[k].bytes;
			tamp += c->st[k].tampered;
			repl += c->st[k].replayed;
			errs += c->st[k].send_errors;
		}
	}
	if (opts.json) {
		fprintf(f, "{\"calls\":[");
		for (unsigned i = 0; i < n_calls; i++) {
			struct src_call *c = &calls[i];
			uint64_t dur = c->t_answer && c->t_end > c->t_answer
					       ? (c->t_end - c->t_answer) / 1000
					       : 0;

			fprintf(f, "%s{\"call_id\":", i ? "," : "");
			json_str(f, c->call_id);
			fprintf(f, ",\"status\":%d,\"result\":\"%s\",\"reason\":", c->status,
				result_of(c));
			json_str(f, c->reason);
			fprintf(f, ",\"warning\":");
			json_str(f, c->warning);
			fprintf(f, ",\"retry_after\":");
			json_str(f, c->retry_after);
			/* setup: the INVITE sent to its 2xx received; invite_at: since the start */
			fprintf(f,
				",\"duration_ms\":%llu,\"setup_us\":%llu,\"invite_at_us\":%llu,"
				"\"reinvites_ok\":%u,\"updates_ok\":%u,\"streams\":[",
				(unsigned long long)dur,
				(unsigned long long)(c->t_answer ? c->t_answer - c->t_invite : 0),
				(unsigned long long)(c->t_invite ? c->t_invite - t_run0 : 0),
				c->reinvites_ok, c->updates_ok);
			for (int k = 0; k < SRC_STREAMS; k++) {
				struct src_stream *s = &c->st[k];

				fprintf(f, "%s{\"label\":", k ? "," : "");
				json_str(f, s->label);
				fprintf(f,
					",\"ssrc\":%u,\"packets\":%llu,\"bytes\":%llu,\"port\":%u,"
					"\"local_port\":%u,\"suite\":",
					s->ssrc, (unsigned long long)s->packets,
					(unsigned long long)s->bytes, s->remote_port,
					s->local_port);
				json_str(f, s->suite ? s->suite->name : "");
				fprintf(f,
					",\"tampered\":%llu,\"replayed\":%llu,\"send_errors\":%"
					"llu",
					(unsigned long long)s->tampered,
					(unsigned long long)s->replayed,
					(unsigned long long)s->send_errors);
				fprintf(f, ",\"phases\":[");
				for (unsigned ph = 0; ph < s->n_phases; ph++)
					fprintf(f,
						"%s{\"tx_key\":\"%s\",\"answer_key\":\"%s\","
						"\"packets\":%llu}",
						ph ? "," : "", s->phases[ph].tx_key,
						s->phases[ph].answer_key,
						(unsigned long long)s->phases[ph].packets);
				fprintf(f, "]}");
			}
			fprintf(f, "]}");
		}
		fprintf(f,
			"],\"totals\":{\"calls\":%u,\"ok\":%u,\"failed\":%u,\"packets\":%llu,"
			"\"bytes\":%llu,\"tampered\":%llu,\"replayed\":%llu,\"send_errors\":%llu,"
			"\"sip_errors\":%llu,\"late_ticks\":%llu,\"t_run0_monotonic_us\":%llu}}\n",
			n_calls, ok, failed, (unsigned long long)tp_packets,
			(unsigned long long)tp_bytes, (unsigned long long)tamp,
			(unsigned long long)repl, (unsigned long long)errs,
			(unsigned long long)sip_errors, (unsigned long long)late_ticks,
			(unsigned long long)t_run0);
		return;
	}
	for (unsigned i = 0; i < n_calls; i++) {
		struct src_call *c = &calls[i];

		fprintf(f, "call %u %s: %s status %d%s%s%s%s", i, c->call_id, result_of(c),
			c->status, c->reason[0] ? " (" : "", c->reason, c->reason[0] ? ")" : "",
			c->warning[0] ? " Warning: " : "");
		fprintf(f, "%s\n", c->warning);
		for (int k = 0; k < SRC_STREAMS; k++)
			fprintf(f,
				"  stream %s ssrc %08x -> port %u: %llu packets, %llu bytes%s%s\n",
				c->st[k].label, c->st[k].ssrc, c->st[k].remote_port,
				(unsigned long long)c->st[k].packets,
				(unsigned long long)c->st[k].bytes, c->st[k].suite ? ", " : "",
				c->st[k].suite ? c->st[k].suite->name : "");
	}
	fprintf(f,
		"total: %u calls, %u ok, %u failed, %llu packets, %llu bytes, %llu tampered, %llu "
		"replayed, %llu send errors, %llu late ticks\n",
		n_calls, ok, failed, (unsigned long long)tp_packets, (unsigned long long)tp_bytes,
		(unsigned long long)tamp, (unsigned long long)repl, (unsigned long long)errs,
		(unsigned long long)late_ticks);
}

static void progress(uint64_t now, uint64_t t0)
{
	unsigned up = 0, done = 0, failed = 0;
	uint64_t pk = 0;

	for (unsigned i = 0; i < n_calls; i++) {
		up += calls[i].state == CALL_ACTIVE;
		done += calls[i].state == CALL_DONE;
		failed += calls[i].failed;
		pk += calls[i].st[0].packets + calls[i].st[1].packets;
	}
	fprintf(stderr,
		"[%5.1fs] calls up %u, done %u, failed %u, packets sent %llu, errors %llu\n",
		(double)(now - t0) / 1e6, up, done, failed, (unsigned long long)pk,
		(unsigned long long)sip_errors);
}

/* --------------------------------------------------------------------- options ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: siprec-src [OPTIONS] [SERVER[:PORT]]\n"
		"A SIPREC recording client (RFC 7866): INVITE with SDP + rs-metadata, then "
		"RTP/SRTP.\n"
		"\n"
		"Server and signalling:\n"
		"  -s, --server HOST[:PORT]   recording server (default 127.0.0.1, port 5060, TLS "
		"5061)\n"
		"  -t, --transport udp|tcp|tls\n"
		"      --ruri URI             Request-URI (default sip:srs@HOST:PORT)\n"
		"      --from URI             From URI (default sip:src@LOCAL-IP)\n"
		"      --local-ip IP          local address to bind and announce\n"
		"      --ca FILE              CA bundle to verify the server (TLS)\n"
		"      --insecure             do not verify the TLS server certificate\n"
		"      --sni NAME             TLS server name (default HOST)\n"
		"      --tls-version 1.2|1.3  pin the TLS version\n"
		"Media:\n"
		"      --codec pcmu|pcma      G.711 law (default pcmu)\n"
		"      --srtp SUITE[,SUITE]   RTP/SAVP with SDES keys of these suites (default\n"
		"                             AES_CM_128_HMAC_SHA1_80); suites: "
		"AES_CM_128_HMAC_SHA1_80,\n"
		"                             AES_CM_128_HMAC_SHA1_32, AES_256_CM_HMAC_SHA1_80,\n"
		"                             AES_256_CM_HMAC_SHA1_32, AEAD_AES_128_GCM, "
		"AEAD_AES_256_GCM\n"
		"      --no-srtp              plain RTP/AVP\n"
		"      --rtcp-mux             offer a=rtcp-mux\n"
		"      --labels A,B           a=label values (default 1,2)\n"
		"      --aor-a URI, --aor-b URI  participants' AORs in the metadata\n"
		"      --wav FILE             16-bit PCM 8 kHz WAV; stereo: channel 0 to stream "
		"1,\n"
		"                             channel 1 to stream 2; mono: same audio on both\n"
		"      --wav2 FILE            mono WAV for stream 2\n"
		"      --loop                 loop the WAV for the whole --duration\n"
		"      --duration SEC         call length after the answer (default: the "
		"audio's);\n"
		"                             5, 5s, 500ms, 2m\n"
		"Mid-call (seconds after the answer):\n"
		"      --reinvite-at SEC      re-INVITE with the same streams\n"
		"      --rekey                ...with new SRTP keys, used from its 200 OK on\n"
		"      --pause-at SEC         re-INVITE with a=inactive (no media)\n"
		"      --resume-at SEC        re-INVITE with a=sendonly again\n"
		"      --update-metadata-at SEC  UPDATE with partial metadata\n"
		"      --cancel-after MS      CANCEL the INVITE if no final response by then\n"
		"Test hooks:\n"
		"      --tamper N             corrupt the auth tag of every Nth SRTP packet\n"
		"      --replay N             send every Nth packet twice\n"
		"Load:\n"
		"  -n, --calls N              calls to place (default 1), started at --rate;\n"
		"                             they overlap for as long as --duration holds them\n"
		"  -r, --rate R[/s]           new calls per second (default 10)\n"
		"      --spread N             spread the calls' 20 ms packet times over N slots\n"
		"                             (call i sends in slot i mod N), as calls set up\n"
		"                             at random times arrive; 1 (default) = every call's\n"
		"                             packets in one burst per 20 ms\n"
		"      --ceiling SEC          no SIP, no server: send 2 x --calls streams as fast\n"
		"                             as possible into a discard socket, SEC per phase\n"
		"                             (build, +SRTP protect, +sendmmsg); print packets/s\n"
		"Output:\n"
		"      --json                 JSON summary on stdout\n"
		"      --progress             progress line every second on stderr (default with "
		"-n>1)\n"
		"  -q, --quiet                no informational messages\n"
		"  -h, --help                 this help\n"
		"Exit status: 0 all calls ok (or cancelled as asked), 1 usage, 2 some call "
		"failed.\n");
}

static int parse_sec_ms(const char *s, int64_t *ret)
{
	uint64_t v;

	if (parse_duration_ms(s, &v) < 0 || v > INT64_MAX / 1000)
		return -EINVAL;
	*ret = (int64_t)v;
	return 0;
}

static int parse_hostport(char *arg)
{
	char *colon;
	uint64_t p;

	if (arg[0] == '[') {
		char *end = strchr(arg, ']');

		if (!end)
			return -EINVAL;
		*end = '\0';
		opts.host = arg + 1;
		colon = end[1] == ':' ? end + 1 : NULL;
	} else {
		colon = strrchr(arg, ':');
		if (colon && strchr(arg, ':') != colon)
			colon = NULL; /* bare IPv6 */
		opts.host = arg;
	}
	if (colon) {
		*colon = '\0';
		if (parse_u64(colon + 1, 65535, &p) < 0 || p == 0)
			return -EINVAL;
		opts.port = (uint16_t)p;
	}
	return 0;
}

static int parse_suites(const char *arg)
{
	char *copy = strdup(arg), *save = NULL;

	opts.n_suites = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		const struct srtp_suite_info *s = srtp_suite_by_name(str_from_cstr(tok));

		if (!s || opts.n_suites == SRC_MAX_SUITES) {
			fprintf(stderr, "siprec-src: unknown or too many SRTP suites: %s\n", tok);
			free(copy);
			return -EINVAL;
		}
		opts.suites[opts.n_suites++] = s;
	}
	free(copy);
	return opts.n_suites ? 0 : -EINVAL;
}

enum {
	OPT_RURI = 256,
	OPT_FROM,
	OPT_LOCAL_IP,
	OPT_CA,
	OPT_INSECURE,
	OPT_SNI,
	OPT_TLSV,
	OPT_CODEC,
	OPT_SRTP,
	OPT_NO_SRTP,
	OPT_RTCP_MUX,
	OPT_LABELS,
	OPT_AOR_A,
	OPT_AOR_B,
	OPT_WAV,
	OPT_WAV2,
	OPT_LOOP,
	OPT_DURATION,
	OPT_REINVITE,
	OPT_REKEY,
	OPT_PAUSE,
	OPT_RESUME,
	OPT_UPDATE,
	OPT_CANCEL,
	OPT_TAMPER,
	OPT_REPLAY,
	OPT_JSON,
	OPT_PROGRESS,
	OPT_CEILING,
	OPT_SPREAD,
};

static int parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{"server", required_argument, NULL, 's'},
		{"transport", required_argument, NULL, 't'},
		{"ruri", required_argument, NULL, OPT_RURI},
		{"from", required_argument, NULL, OPT_FROM},
		{"local-ip", required_argument, NULL, OPT_LOCAL_IP},
		{"ca", required_argument, NULL, OPT_CA},
		{"insecure", no_argument, NULL, OPT_INSECURE},
		{"sni", required_argument, NULL, OPT_SNI},
		{"tls-version", required_argument, NULL, OPT_TLSV},
		{"codec", required_argument, NULL, OPT_CODEC},
		{"srtp", required_argument, NULL, OPT_SRTP},
		{"no-srtp", no_argument, NULL, OPT_NO_SRTP},
		{"rtcp-mux", no_argument, NULL, OPT_RTCP_MUX},
		{"labels", required_argument, NULL, OPT_LABELS},
		{"aor-a", required_argument, NULL, OPT_AOR_A},
		{"aor-b", required_argument, NULL, OPT_AOR_B},
		{"wav", required_argument, NULL, OPT_WAV},
		{"wav2", required_argument, NULL, OPT_WAV2},
		{"loop", no_argument, NULL, OPT_LOOP},
		{"duration", required_argument, NULL, OPT_DURATION},
		{"reinvite-at", required_argument, NULL, OPT_REINVITE},
		{"rekey", no_argument, NULL, OPT_REKEY},
		{"pause-at", required_argument, NULL, OPT_PAUSE},
		{"resume-at", required_argument, NULL, OPT_RESUME},
		{"update-metadata-at", required_argument, NULL, OPT_UPDATE},
		{"cancel-after", required_argument, NULL, OPT_CANCEL},
		{"tamper", required_argument, NULL, OPT_TAMPER},
		{"replay", required_argument, NULL, OPT_REPLAY},
		{"calls", required_argument, NULL, 'n'},
		{"rate", required_argument, NULL, 'r'},
		{"json", no_argument, NULL, OPT_JSON},
		{"progress", no_argument, NULL, OPT_PROGRESS},
		{"ceiling", required_argument, NULL, OPT_CEILING},
		{"spread", required_argument, NULL, OPT_SPREAD},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	static char ruri_buf[300], labels_buf[200];
	bool srtp_set = false, port_set = false;
	uint64_t v;
	int c, bad_opt = 0;
	char server_arg[256];

	opts.host = "127.0.0.1";
	opts.transport = SRC_UDP;
	opts.aor[0] = "sip:alice@example.com";
	opts.aor[1] = "sip:bob@example.com";
	opts.labels[0] = "1";
	opts.labels[1] = "2";
	opts.srtp = true;
	opts.reinvite_at = opts.pause_at = opts.resume_at = opts.update_at = -1;
	opts.cancel_after = -1;
	opts.calls = 1;
	opts.rate = 10;
	while ((c = getopt_long(argc, argv, "s:t:n:r:qh", lo, NULL)) != -1) {
		bad_opt = c;
		switch (c) {
		case 's':
			if (parse_hostport(optarg) < 0)
				goto bad;
			port_set = opts.port != 0;
			break;
		case 't':
			if (!strcasecmp(optarg, "udp"))
				opts.transport = SRC_UDP;
			else if (!strcasecmp(optarg, "tcp"))
				opts.transport = SRC_TCP;
			else if (!strcasecmp(optarg, "tls"))
				opts.transport = SRC_TLS;
			else
				goto bad;
			break;
		case OPT_RURI:
			opts.ruri = optarg;
			break;
		case OPT_FROM:
			opts.from = optarg;
			break;
		case OPT_LOCAL_IP:
			opts.local_ip = optarg;
			break;
		case OPT_CA:
			opts.ca = optarg;
			break;
		case OPT_INSECURE:
			opts.insecure = true;
			break;
		case OPT_SNI:
			opts.sni = optarg;
			break;
		case OPT_TLSV:
			if (!strcmp(optarg, "1.2"))
				opts.tls_version = 12;
			else if (!strcmp(optarg, "1.3"))
				opts.tls_version = 13;
			else
				goto bad;
			break;
		case OPT_CODEC:
			if (!strcasecmp(optarg, "pcmu"))
				opts.pt = 0;
			else if (!strcasecmp(optarg, "pcma"))
				opts.pt = 8;
			else
				goto bad;
			break;
		case OPT_SRTP:
			if (parse_suites(optarg) < 0)
				goto bad;
			srtp_set = true;
			opts.srtp = true;
			break;
		case OPT_NO_SRTP:
			opts.srtp = false;
			break;
		case OPT_RTCP_MUX:
			opts.rtcp_mux = true;
			break;
		case OPT_LABELS: {
			char *comma;

			snprintf(labels_buf, sizeof(labels_buf), "%s", optarg);
			comma = strchr(labels_buf, ',');
			if (!comma || comma == labels_buf || !comma[1] || strchr(comma + 1, ',') ||
			    strlen(labels_buf) > 120)
				goto bad;
			*comma = '\0';
			opts.labels[0] = labels_buf;
			opts.labels[1] = comma + 1;
			break;
		}
		case OPT_AOR_A:
			opts.aor[0] = optarg;
			break;
		case OPT_AOR_B:
			opts.aor[1] = optarg;
			break;
		case OPT_WAV:
			opts.wav = optarg;
			break;
		case OPT_WAV2:
			opts.wav2 = optarg;
			break;
		case OPT_LOOP:
			opts.loop = true;
			break;
		case OPT_DURATION: {
			int64_t ms;

			if (parse_sec_ms(optarg, &ms) < 0 || ms == 0)
				goto bad;
			opts.duration_ms = (uint64_t)ms;
			break;
		}
		case OPT_REINVITE:
			if (parse_sec_ms(optarg, &opts.reinvite_at) < 0)
				goto bad;
			break;
		case OPT_REKEY:
			opts.rekey = true;
			break;
		case OPT_PAUSE:
			if (parse_sec_ms(optarg, &opts.pause_at) < 0)
				goto bad;
			break;
		case OPT_RESUME:
			if (parse_sec_ms(optarg, &opts.resume_at) < 0)
				goto bad;
			break;
		case OPT_UPDATE:
			if (parse_sec_ms(optarg, &opts.update_at) < 0)
				goto bad;
			break;
		case OPT_CANCEL:
			if (parse_u64(optarg, 3600000, &v) < 0)
				goto bad;
			opts.cancel_after = (int64_t)v;
			break;
		case OPT_TAMPER:
			if (parse_u64(optarg, 1000000, &v) < 0 || v == 0)
				goto bad;
			opts.tamper = (unsigned)v;
			break;
		case OPT_REPLAY:
			if (parse_u64(optarg, 1000000, &v) < 0 || v == 0)
				goto bad;
			opts.replay = (unsigned)v;
			break;
		case 'n':
			if (parse_u64(optarg, SRC_MAX_CALLS, &v) < 0 || v == 0)
				goto bad;
			opts.calls = (unsigned)v;
			break;
		case 'r': {
			char rb[32];
			size_t rl = strlen(optarg);

			/* "50" or "50/s". */
			if (rl >= sizeof(rb))
				goto bad;
			memcpy(rb, optarg, rl + 1);
			if (rl > 2 && !strcmp(rb + rl - 2, "/s"))
				rb[rl - 2] = '\0';
			if (parse_u64(rb, 100000, &v) < 0 || v == 0)
				goto bad;
			opts.rate = (double)v;
			break;
		}
		case OPT_JSON:
			opts.json = true;
			break;
		case OPT_PROGRESS:
			opts.progress = true;
			break;
		case OPT_SPREAD: {
			char *end;
			unsigned long slots = strtoul(optarg, &end, 10);

			/* 20 slots of 1 ms at most: the loop's poll() waits in milliseconds */
			if (*end || slots < 1 || slots > 20)
				goto bad;
			opts.spread = (unsigned)slots;
			break;
		}
		case OPT_CEILING: {
			int64_t ms;

			if (parse_sec_ms(optarg, &ms) < 0 || ms == 0 || ms > 3600000)
				goto bad;
			opts.ceiling_ms = (uint64_t)ms;
			break;
		}
		case 'q':
			opts.quiet = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			goto bad;
		}
	}
	bad_opt = 0;
	if (optind < argc) {
		snprintf(server_arg, sizeof(server_arg), "%s",
			 argv[argc - 1]); /* parsed in place */
		if (optind + 1 != argc || parse_hostport(argv[optind]) < 0)
			goto bad;
		port_set = port_set || opts.port != 0;
	}
	if (!port_set || !opts.port)
		opts.port = opts.transport == SRC_TLS ? 5061 : 5060;
	if (opts.srtp && !srtp_set) {
		opts.suites[0] = srtp_suite_by_name(STR_LIT("AES_CM_128_HMAC_SHA1_80"));
		opts.n_suites = 1;
	}
	if (opts.rekey && opts.reinvite_at < 0) {
		fprintf(stderr, "siprec-src: --rekey needs --reinvite-at\n");
		return -EINVAL;
	}
	if ((opts.resume_at >= 0) != (opts.pause_at >= 0) ||
	    (opts.resume_at >= 0 && opts.resume_at <= opts.pause_at)) {
		fprintf(stderr, "siprec-src: --resume-at must follow --pause-at\n");
		return -EINVAL;
	}
	if (!opts.ruri) {
		bool v6 = strchr(opts.host, ':') != NULL;

		snprintf(ruri_buf, sizeof(ruri_buf), "sip:srs@%s%s%s:%u%s", v6 ? "[" : "",
			 opts.host, v6 ? "]" : "", opts.port,
			 opts.transport == SRC_UDP   ? ""
			 : opts.transport == SRC_TCP ? ";transport=tcp"
						     : ";transport=tls");
		opts.ruri = ruri_buf;
	}
	if (opts.calls > 1 && !opts.json)
		opts.progress = true;
	return 0;
bad:
	/* The help, then what was refused (last, where it is seen); getopt has already named an
	 * unknown option ('?'). */
	usage(stderr);
	if (bad_opt > 0 && bad_opt != '?') {
		const char *name = NULL;

		for (const struct option *o = lo; o->name; o++)
			if (o->val == bad_opt)
				name = o->name;
		if (name)
			fprintf(stderr, "siprec-src: invalid value for --%s: '%s'\n", name,
				optarg ? optarg : "");
	} else if (optind < argc && bad_opt == 0) {
		fprintf(stderr,
			"siprec-src: invalid server '%s' (one HOST[:PORT] or [IPv6]:PORT)\n",
			server_arg);
	}
	return -EINVAL;
}

static void on_signal(int sig)
{
	stop_requested = 1;
}

int main(int argc, char **argv)
{
	static char from_buf[300];
	struct src_pace pace;
	uint64_t t0, next_tick, next_progress;
	unsigned spread, slot = 0;
	struct pollfd *pfd;
	unsigned nfd, nsocks;
	int r, ret = 0;

	if (parse_args(argc, argv) < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	r = srtp_global_init();
	if (r < 0) {
		fprintf(stderr, "siprec-src: SRTP init failed\n");
		return 2;
	}
	if (src_audio_load(&opts, &audio) < 0)
		return 1;
	if (opts.ceiling_ms) {
		const char *ip = opts.local_ip ? opts.local_ip : "127.0.0.1";

		r = src_media_open(32, ip, AF_INET);
		if (r >= 0)
			r = src_media_ceiling(&opts, &audio, 2 * opts.calls, opts.ceiling_ms, ip,
					      stdout);
		if (r < 0)
			fprintf(stderr, "siprec-src: --ceiling: %s\n", strerror(-r));
		src_media_close();
		src_audio_free(&audio);
		return r < 0 ? 2 : 0;
	}
	call_ms = opts.duration_ms ? opts.duration_ms : src_audio_duration_ms(&audio);
	if (src_transport_open(&opts, &tp) < 0)
		return 2;
	if (!opts.from) {
		char h[64];

		snprintf(from_buf, sizeof(from_buf), "sip:src@%s", local_host(h, sizeof(h)));
		opts.from = from_buf;
	}
	/* Two pool sockets per call up to the pool size: calls share them in load mode. */
	nsocks = opts.calls > 16 ? 32 : 2 * opts.calls;
	r = src_media_open(nsocks, src_transport_local_ip(tp), src_transport_family(tp));
	if (r < 0) {
		fprintf(stderr, "siprec-src: media sockets: %s\n", strerror(-r));
		return 2;
	}
	nsocks = src_media_nsocks();

	n_calls = opts.calls;
	calls = calloc(n_calls, sizeof(*calls));
	pfd = calloc(1 + nsocks, sizeof(*pfd));
	if (!calls || !pfd)
		return 2;
	for (unsigned i = 0; i < n_calls; i++) {
		struct src_call *c = &calls[i];
		char tok[25];

		c->idx = i;
		src_token(tok, 24);
		snprintf(c->call_id, sizeof(c->call_id), "%s-%u@siprec-src", tok, i);
		src_token(c->local_tag, 12);
		src_call_ids(c);
		c->cseq = 0;
		for (int k = 0; k < SRC_STREAMS; k++) {
			struct src_stream *s = &c->st[k];
			uint16_t seq;

			snprintf(s->label, sizeof(s->label), "%s", opts.labels[k]);
			s->chan = k;
			/* RFC 3550 §5.1: random SSRC, sequence and timestamp starts. */
			src_random(&s->ssrc, sizeof(s->ssrc));
			src_random(&seq, sizeof(seq));
			s->seq = seq;
			src_random(&s->ts, sizeof(s->ts));
			s->first = true;
			s->sock = (int)((2 * i + (unsigned)k) % nsocks);
			s->local_port = src_media_sock_port((unsigned)s->sock);
			src_stream_keys(&opts, s, false);
		}
	}
	/* The schedule starts once every call is prepared: preparing 10,000 takes ~250 ms, and a
	 * schedule counted from before it starts with ~250 calls overdue, sent as one burst. */
	t0 = t_run0 = src_now_us();
	pace = (struct src_pace){.t0 = t0, .rate = opts.rate, .n = n_calls};
	for (unsigned i = 0; i < n_calls; i++)
		calls[i].t_start = src_pace_due(&pace, i);

	nfd = 0;
	pfd[nfd++] = (struct pollfd){.fd = src_transport_fd(tp), .events = POLLIN};
	for (unsigned i = 0; i < nsocks; i++)
		pfd[nfd++] = (struct pollfd){.fd = src_media_sock_fd(i), .events = POLLIN};
	spread = opts.spread ? opts.spread : 1;
	next_tick = t0 + SRC_PTIME_US / spread;
	next_progress = t0 + 1000000;

	for (;;) {
		uint64_t now = src_now_us(), wait;
		struct timespec timeout;

		if (stop_requested && !stop_at)
			stop_at = now + 3000000;
		for (unsigned i = live_lo; i < n_calls; i++) {
			/* calls start in order of index (after a stop, each ends "not started") */
			if (i >= live_hi) {
				if (!stop_requested && now < calls[i].t_start)
					break;
				live_hi = i + 1;
			}
			call_timers(&calls[i], now);
		}
		while (live_lo < n_calls && calls[live_lo].state == CALL_DONE)
			live_lo++;
		if (live_lo == n_calls || (stop_at && now > stop_at))
			break;
		/* Media: every 20 ms; after a stall catch up a few ticks, then skip. */
		if (now >= next_tick) {
			unsigned ticks = 0;

			if (now > next_tick + 5 * SRC_PTIME_US) {
				late_ticks += (now - next_tick) / SRC_PTIME_US - 1;
				next_tick = now - SRC_PTIME_US / spread;
			}
			/* one slot of SRC_PTIME_US / spread per pass: the calls of that slot (those
			 * of index slot modulo spread), of the calls started and not done */
			while (next_tick <= now && ticks < 5 * spread) {
				unsigned first =
					live_lo + (slot + spread - live_lo % spread) % spread;

				for (unsigned i = first; i < live_hi; i += spread) {
					struct src_call *c = &calls[i];

					if (c->state != CALL_ACTIVE && c->state != CALL_BYE)
						continue;
					for (int k = 0; k < SRC_STREAMS; k++)
						src_media_tick_stream(&opts, &audio, &c->st[k],
								      c->paused);
				}
				slot = (slot + 1) % spread;
				next_tick += SRC_PTIME_US / spread;
				ticks++;
			}
			src_media_flush();
		}
		if (opts.progress && now >= next_progress) {
			progress(now, t0);
			next_progress += 1000000;
		}
		now = src_now_us();
		wait = src_pace_wait_us(&pace, stop_requested ? n_calls : live_hi, next_tick, now);
		/* Responses a send read while it waited for room are handed on now. */
		if (src_transport_pending(tp))
			wait = 0;
		timeout = (struct timespec){.tv_sec = (time_t)(wait / 1000000),
					    .tv_nsec = (long)(wait % 1000000) * 1000};
		r = ppoll(pfd, nfd, &timeout, NULL);
		if (r < 0 && errno != EINTR)
			break;
		if (r <= 0 && !src_transport_pending(tp))
			continue;
		if (pfd[0].revents || src_transport_pending(tp)) {
			r = src_transport_read(tp, on_message, NULL);
			if (r < 0) {
				fprintf(stderr, "siprec-src: SIP connection: %s\n", strerror(-r));
				for (unsigned i = 0; i < n_calls; i++)
					if (calls[i].state != CALL_DONE)
						call_finish(&calls[i], false, "connection lost");
				break;
			}
		}
		for (unsigned i = 1; i < nfd; i++)
			if (pfd[i].revents & POLLIN)
				src_media_drain(i - 1);
	}
	for (unsigned i = 0; i < n_calls; i++)
		if (calls[i].state != CALL_DONE)
			call_finish(&calls[i], false, "interrupted");

	report(opts.json ? stdout : stderr);
	for (unsigned i = 0; i < n_calls; i++) {
		struct src_call *c = &calls[i];

		if (c->failed || !c->ok)
			ret = 2;
		for (int k = 0; k < SRC_STREAMS; k++) {
			srtp_tx_free(c->st[k].tx);
			OPENSSL_cleanse(c->st[k].keys, sizeof(c->st[k].keys));
			OPENSSL_cleanse(c->st[k].next_keys, sizeof(c->st[k].next_keys));
		}
		txn_free_msg(&c->inv);
		txn_free_msg(&c->nict);
	}
	free(calls);
	free(pfd);
	src_media_close();
	src_audio_free(&audio);
	src_transport_close(tp);
	return ret;
}
