// SPDX-License-Identifier: MIT
/*
 * siprec-src SIP transport: one UDP socket or one TCP/TLS connection to the recording server
 * shared by every call (as an SBC does), stream framing by Content-Length (RFC 3261 §18.3), TLS
 * with OpenSSL (verification against --ca, SNI, version pinning). A send that waits for room
 * keeps reading, so a server that stops reading until its responses are taken (backpressure)
 * cannot deadlock with it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "siprecd/macro.h"
#include "siprecd/str.h"
#include "src.h"

struct src_transport_ctx {
	enum src_transport kind;
	int fd;
	SSL_CTX *ssl_ctx;
	SSL *ssl;
	struct sockaddr_storage peer;
	socklen_t peer_len;
	char local_ip[INET6_ADDRSTRLEN];
	uint16_t local_port;
	int family;
	char *buf; /* stream reassembly */
	size_t len;
	/* Stream bytes read while a send waited for room, handed on by src_transport_read (the
	 * send's caller may be in the middle of a call's state change: no callback from there). */
	char *held;
	size_t held_len, held_cap;
	int held_err; /* the connection's end met while holding: reported after the bytes */
};

/* A server that answers a backlog at once sends a few MB at most; past this the wait stops
 * reading (and the server's own limits judge the connection). */
#define HELD_MAX (64u << 20)

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static bool is_ip_literal(const char *h)
{
	struct in6_addr a6;
	struct in_addr a4;

	return inet_pton(AF_INET, h, &a4) == 1 || inet_pton(AF_INET6, h, &a6) == 1;
}

static int tls_setup(struct src_transport_ctx *t, const struct src_opts *o)
{
	const char *name = o->sni ? o->sni : o->host;
	X509_VERIFY_PARAM *vp;

	t->ssl_ctx = SSL_CTX_new(TLS_client_method());
	if (!t->ssl_ctx)
		return -ENOMEM;
	/* TLS 1.2 is the floor for SIPS (RFC 8996 retired the older ones). */
	SSL_CTX_set_min_proto_version(t->ssl_ctx,
				      o->tls_version == 13 ? TLS1_3_VERSION : TLS1_2_VERSION);
	if (o->tls_version)
		SSL_CTX_set_max_proto_version(t->ssl_ctx, o->tls_version == 13 ? TLS1_3_VERSION
									       : TLS1_2_VERSION);
	if (o->insecure) {
		SSL_CTX_set_verify(t->ssl_ctx, SSL_VERIFY_NONE, NULL);
	} else {
		if (o->ca ? SSL_CTX_load_verify_locations(t->ssl_ctx, o->ca, NULL) != 1
			  : SSL_CTX_set_default_verify_paths(t->ssl_ctx) != 1) {
			fprintf(stderr, "siprec-src: cannot load CA %s\n",
				o->ca ? o->ca : "defaults");
			return -EINVAL;
		}
		SSL_CTX_set_verify(t->ssl_ctx, SSL_VERIFY_PEER, NULL);
	}
	t->ssl = SSL_new(t->ssl_ctx);
	if (!t->ssl)
		return -ENOMEM;
	SSL_set_fd(t->ssl, t->fd);
	/* RFC 6066 §3: no SNI for IP literals. */
	if (!is_ip_literal(name))
		SSL_set_tlsext_host_name(t->ssl, name);
	if (!o->insecure) {
		vp = SSL_get0_param(t->ssl);
		if (is_ip_literal(name) ? X509_VERIFY_PARAM_set1_ip_asc(vp, name) != 1
					: X509_VERIFY_PARAM_set1_host(vp, name, 0) != 1)
			return -EINVAL;
	}
	/* The handshake runs blocking before the event loop starts: there is one connection. */
	if (SSL_connect(t->ssl) != 1) {
		unsigned long e = ERR_get_error();
		long v = SSL_get_verify_result(t->ssl);

		fprintf(stderr, "siprec-src: TLS handshake failed: %s%s%s\n",
			e ? ERR_reason_error_string(e) : "connection closed",
			v != X509_V_OK ? ": " : "",
			v != X509_V_OK ? X509_verify_cert_error_string(v) : "");
		return -ECONNREFUSED;
	}
	if (!o->quiet)
		fprintf(stderr, "siprec-src: TLS %s %s\n", SSL_get_version(t->ssl),
			SSL_get_cipher_name(t->ssl));
	return 0;
}

int src_transport_open(const struct src_opts *o, struct src_transport_ctx **ret)
{
	struct addrinfo hints = {0}, *res = NULL, *ai;
	struct src_transport_ctx *t;
	struct sockaddr_storage ls;
	socklen_t ll = sizeof(ls);
	char port[8];
	int r;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->fd = -1;
	t->kind = o->transport;
	hints.ai_socktype = o->transport == SRC_UDP ? SOCK_DGRAM : SOCK_STREAM;
	snprintf(port, sizeof(port), "%u", o->port);
	r = getaddrinfo(o->host, port, &hints, &res);
	if (r != 0) {
		fprintf(stderr, "siprec-src: %s: %s\n", o->host, gai_strerror(r));
		free(t);
		return -EHOSTUNREACH;
	}
	r = -ECONNREFUSED;
	for (ai = res; ai; ai = ai->ai_next) {
		t->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (t->fd < 0)
			continue;
		if (o->local_ip) {
			struct addrinfo lh = {0}, *lr = NULL;

			lh.ai_family = ai->ai_family;
			lh.ai_flags = AI_NUMERICHOST;
			if (getaddrinfo(o->local_ip, NULL, &lh, &lr) == 0) {
				int b = bind(t->fd, lr->ai_addr, lr->ai_addrlen);

				freeaddrinfo(lr);
				if (b < 0) {
					r = -errno;
					close(t->fd);
					t->fd = -1;
					continue;
				}
			}
		}
		/* A connected UDP socket only hears the server and learns ICMP errors. */
		if (connect(t->fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			memcpy(&t->peer, ai->ai_addr, ai->ai_addrlen);
			t->peer_len = ai->ai_addrlen;
			t->family = ai->ai_family;
			r = 0;
			break;
		}
		r = -errno;
		close(t->fd);
		t->fd = -1;
	}
	freeaddrinfo(res);
	if (r < 0) {
		fprintf(stderr, "siprec-src: cannot connect to %s:%u: %s\n", o->host, o->port,
			strerror(-r));
		free(t);
		return r;
	}
	if (o->transport != SRC_UDP) {
		int one = 1;

		setsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		t->buf = malloc(SRC_SIP_MAX);
		if (!t->buf) {
			src_transport_close(t);
			return -ENOMEM;
		}
	}
	if (o->transport == SRC_TLS) {
		r = tls_setup(t, o);
		if (r < 0) {
			src_transport_close(t);
			return r;
		}
	}
	r = set_nonblock(t->fd);
	if (r < 0 || getsockname(t->fd, (struct sockaddr *)&ls, &ll) < 0) {
		src_transport_close(t);
		return r < 0 ? r : -errno;
	}
	if (ls.ss_family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ls;

		inet_ntop(AF_INET, &s4->sin_addr, t->local_ip, sizeof(t->local_ip));
		t->local_port = ntohs(s4->sin_port);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ls;

		inet_ntop(AF_INET6, &s6->sin6_addr, t->local_ip, sizeof(t->local_ip));
		t->local_port = ntohs(s6->sin6_port);
	}
	*ret = t;
	return 0;
}

struct src_transport_ctx *src_transport_close(struct src_transport_ctx *t)
{
	if (!t)
		return NULL;
	if (t->ssl) {
		SSL_shutdown(t->ssl);
		SSL_free(t->ssl);
	}
	SSL_CTX_free(t->ssl_ctx);
	if (t->fd >= 0)
		close(t->fd);
	free(t->buf);
	free(t->held);
	free(t);
	return NULL;
}

int src_transport_fd(const struct src_transport_ctx *t)
{
	return t->fd;
}

const char *src_transport_local_ip(const struct src_transport_ctx *t)
{
	return t->local_ip;
}

uint16_t src_transport_local_port(const struct src_transport_ctx *t)
{
	return t->local_port;
}

int src_transport_family(const struct src_transport_ctx *t)
{
	return t->family;
}

const char *src_transport_name(const struct src_transport_ctx *t)
{
	return t->kind == SRC_UDP ? "UDP" : t->kind == SRC_TCP ? "TCP" : "TLS";
}

const struct sockaddr *src_transport_peer(const struct src_transport_ctx *t, socklen_t *ret_len)
{
	*ret_len = t->peer_len;
	return (const struct sockaddr *)&t->peer;
}

/* Reads what the stream has now into t->held. >0: bytes read, 0: nothing to read (or no room),
 * <0: the connection ended (kept in held_err for src_transport_read). */
static int hold_incoming(struct src_transport_ctx *t)
{
	int got = 0;

	while (!t->held_err && t->held_len < HELD_MAX) {
		ssize_t n;

		if (t->held_cap - t->held_len < 16384) {
			size_t cap = t->held_cap ? t->held_cap * 2 : 65536;
			char *p = realloc(t->held, cap);

			if (!p)
				break;
			t->held = p;
			t->held_cap = cap;
		}
		if (t->ssl) {
			int k = SSL_read(t->ssl, t->held + t->held_len,
					 (int)(t->held_cap - t->held_len));

			if (k <= 0) {
				int e = SSL_get_error(t->ssl, k);

				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
					break;
				t->held_err = -ECONNRESET;
				break;
			}
			n = k;
		} else {
			n = recv(t->fd, t->held + t->held_len, t->held_cap - t->held_len, 0);
			if (n < 0) {
				if (errno != EAGAIN && errno != EINTR)
					t->held_err = -errno;
				break;
			}
			if (n == 0) {
				t->held_err = -ECONNRESET;
				break;
			}
		}
		t->held_len += (size_t)n;
		got += (int)n;
	}
	return t->held_err ? t->held_err : got;
}

/* Waits up to a second for room to write (POLLOUT, or POLLIN when OpenSSL must read first),
 * reading the server's responses meanwhile. 1: something moved, 0: a second passed with
 * nothing, <0: the connection ended. */
static int wait_room(struct src_transport_ctx *t, short ev)
{
	struct pollfd p = {.fd = t->fd, .events = (short)(ev | POLLIN)};
	int r;

	/* OpenSSL may hold a record it read already, which poll() does not see. */
	if (t->ssl && SSL_pending(t->ssl) > 0)
		p.revents = POLLIN;
	else if (poll(&p, 1, 1000) < 0)
		return errno == EINTR ? 1 : -errno;
	if (!p.revents)
		return 0;
	if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
		r = hold_incoming(t);
		if (r < 0)
			return r;
		if (r > 0)
			return 1;
	}
	return (p.revents & ev) ? 1 : 0;
}

bool src_transport_pending(const struct src_transport_ctx *t)
{
	return t->held_len > 0 || t->held_err;
}

int src_transport_send(struct src_transport_ctx *t, const char *msg, size_t len)
{
	size_t off = 0;

	if (t->kind == SRC_UDP) {
		if (send(t->fd, msg, len, 0) < 0)
			return -errno;
		return 0;
	}
	/* SIP messages are small; wait for room rather than queueing (one shared connection),
	 * reading meanwhile; give up after 50 seconds in which nothing moved either way. */
	for (int idle = 0; off < len && idle < 50;) {
		short ev;
		int r;

		if (t->ssl) {
			int n = SSL_write(t->ssl, msg + off, (int)(len - off));

			if (n > 0) {
				off += (size_t)n;
				continue;
			}
			int e = SSL_get_error(t->ssl, n);
			if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ)
				return -EPIPE;
			ev = e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
		} else {
			ssize_t n = send(t->fd, msg + off, len - off, MSG_NOSIGNAL);

			if (n >= 0) {
				off += (size_t)n;
				continue;
			}
			if (errno != EAGAIN && errno != EINTR)
				return -errno;
			ev = POLLOUT;
		}
		/* The SSL_write retried takes the same arguments; SSL_read in between is allowed.
		 */
		r = wait_room(t, ev);
		if (r < 0)
			return -EPIPE;
		idle = r > 0 ? 0 : idle + 1;
	}
	return off == len ? 0 : -ETIMEDOUT;
}

/* Length of the first complete message in buf, 0 when more is needed, -EBADMSG when the
 * framing is broken. */
static ssize_t frame_len(const char *buf, size_t len)
{
	struct str all = str_make(buf, len), cl;
	ssize_t hdr_end;
	uint32_t body = 0;

	hdr_end = str_casestr(all, "\r\n\r\n");
	if (hdr_end < 0)
		return len >= SRC_SIP_MAX ? -EBADMSG : 0;
	struct str hdrs = str_make(buf, (size_t)hdr_end + 2);
	ssize_t p = str_casestr(hdrs, "\r\nContent-Length:");
	size_t skip = 17;

	if (p < 0) {
		p = str_casestr(hdrs, "\r\nl:");
		skip = 4;
	}
	if (p >= 0) {
		cl = str_make(buf + p + skip, (size_t)hdr_end + 2 - (size_t)p - skip);
		struct str line;

		str_split(cl, '\r', &line);
		if (str_to_u32(str_trim(line), SRC_SIP_MAX, &body) < 0)
			return -EBADMSG;
	}
	if ((size_t)hdr_end + 4 + body > SRC_SIP_MAX)
		return -EBADMSG;
	if (len < (size_t)hdr_end + 4 + body)
		return 0;
	return hdr_end + 4 + (ssize_t)body;
}

/* Hands on every whole message in t->buf and keeps the rest. */
static int frame_all(struct src_transport_ctx *t, void (*cb)(void *ud, const char *msg, size_t len),
		     void *ud)
{
	for (;;) {
		size_t used = 0;
		ssize_t f;

		/* CRLF keep-alives between messages (RFC 5626 §3.5.1). */
		while (used < t->len && (t->buf[used] == '\r' || t->buf[used] == '\n'))
			used++;
		if (!used) {
			f = frame_len(t->buf, t->len);
			if (f == 0)
				return 0;
			if (f < 0)
				return -EBADMSG;
			cb(ud, t->buf, (size_t)f);
			used = (size_t)f;
		}
		memmove(t->buf, t->buf + used, t->len - used);
		t->len -= used;
	}
}

/* Hands on what a waiting send read, in order, then the end it met if any. cb may send, and a
 * send that waits holds more: that is taken in the same call. */
static int drain_held(struct src_transport_ctx *t,
		      void (*cb)(void *ud, const char *msg, size_t len), void *ud)
{
	while (t->held_len > 0) {
		size_t k = MIN(t->held_len, (size_t)SRC_SIP_MAX - t->len);
		int r;

		memcpy(t->buf + t->len, t->held, k);
		t->len += k;
		memmove(t->held, t->held + k, t->held_len - k);
		t->held_len -= k;
		r = frame_all(t, cb, ud);
		if (r < 0)
			return r;
	}
	return t->held_err;
}

int src_transport_read(struct src_transport_ctx *t,
		       void (*cb)(void *ud, const char *msg, size_t len), void *ud)
{
	char dgram[SRC_SIP_MAX];

	if (t->kind == SRC_UDP) {
		for (;;) {
			ssize_t n = recv(t->fd, dgram, sizeof(dgram) - 1, 0);

			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					return 0;
				/* ICMP unreachable on the connected socket: the server is not there
				 * (yet); Timer A keeps retransmitting. */
				if (errno == ECONNREFUSED)
					return 0;
				return -errno;
			}
			if (n > 4)
				cb(ud, dgram, (size_t)n);
		}
	}
	if (src_transport_pending(t)) {
		int r = drain_held(t, cb, ud);

		if (r < 0)
			return r;
	}
	for (;;) {
		ssize_t n;

		if (t->ssl) {
			int k = SSL_read(t->ssl, t->buf + t->len, (int)(SRC_SIP_MAX - t->len));

			if (k <= 0) {
				int e = SSL_get_error(t->ssl, k);

				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
					return 0;
				return -ECONNRESET;
			}
			n = k;
		} else {
			n = recv(t->fd, t->buf + t->len, SRC_SIP_MAX - t->len, 0);
			if (n < 0)
				return errno == EAGAIN || errno == EINTR ? 0 : -errno;
			if (n == 0)
				return -ECONNRESET;
		}
		t->len += (size_t)n;
		if (frame_all(t, cb, ud) < 0)
			return -EBADMSG;
	}
}
