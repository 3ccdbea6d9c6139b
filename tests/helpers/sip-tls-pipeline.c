// SPDX-License-Identifier: MIT
/*
 * Test helper: a SIP-over-TLS peer that pipelines OPTIONS on one connection (OpenSSL client, a
 * 4 KiB receive buffer), for the kernel-TLS backpressure test that runs in the VM, where there
 * is no Python (tests/vm/ktls-flow-init.sh).
 *
 * usage: sip-tls-pipeline PORT 1.2|1.3 read N WAIT_MS
 *          writes N OPTIONS to 127.0.0.1:PORT as fast as the socket takes them and reads
 *          nothing until they are all written, or until its writes have found the socket full
 *          and nothing moved for WAIT_MS (the server stopped reading: "writes blocked before
 *          reading: yes"); then reads while it writes until N responses came. Exit 0 when
 *          all N were 200 and the server never closed the connection.
 *        sip-tls-pipeline PORT 1.2|1.3 noread
 *          writes OPTIONS and never reads until the server closes the connection (exit 0), or
 *          nothing moved for 60 s (exit 1).
 *        sip-tls-pipeline PORT 1.2|1.3 halfclose N notify|fin
 *          writes N OPTIONS, then shuts its write side (a close_notify then FIN, or a FIN
 *          alone) and reads until the server closes. Exit 0 when all N were 200.
 * Prints "local ADDR:PORT" once connected, then what it saw. Exit 1 on failure, 2 on usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define IDLE_LIMIT_MS 60000
#define PAD 3000

static char pad[PAD];

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static long arg_num(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "sip-tls-pipeline: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

/* Counts the status lines in the response stream, across reads. */
struct counter {
	char tail[16];
	size_t tail_len;
	unsigned long responses, ok;
};

static unsigned long count_in(const char *p, size_t n, const char *pat)
{
	size_t pl = strlen(pat);
	unsigned long k = 0;
	const char *q;

	while (n >= pl && (q = memmem(p, n, pat, pl))) {
		k++;
		n -= (size_t)(q + pl - p);
		p = q + pl;
	}
	return k;
}

/* "SIP/2.0 " with a space is a status line; the Via's "SIP/2.0/TLS" is not. */
static void count_feed(struct counter *c, const char *data, size_t n)
{
	static char buf[16 + 16384];
	size_t len = c->tail_len + n;

	memcpy(buf, c->tail, c->tail_len);
	memcpy(buf + c->tail_len, data, n);
	c->responses += count_in(buf, len, "SIP/2.0 ");
	c->ok += count_in(buf, len, "SIP/2.0 200 ");
	/* Keep less than the shortest pattern so that no match is counted twice. */
	c->tail_len = len < 7 ? len : 7;
	memcpy(c->tail, buf + len - c->tail_len, c->tail_len);
}

/* A request of about 3.3 KB (a header the response does not echo): siprecd keeps at most
 * about 2.2 MB of a throttled connection's requests unparsed, so a few more than a thousand of
 * these, unread, are sure to fill every buffer on the way. */
static int options(char *buf, size_t cap, unsigned long i)
{
	return snprintf(buf, cap,
			"OPTIONS sip:srs@127.0.0.1 SIP/2.0\r\n"
			"Via: SIP/2.0/TLS 127.0.0.1:9;branch=z9hG4bKpl%lu\r\n"
			"From: <sip:t@x>;tag=%lu\r\nTo: <sip:srs@127.0.0.1>\r\nCall-ID: pl%lu\r\n"
			"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nX-Padding: %.*s\r\n"
			"Content-Length: 0\r\n\r\n",
			i, i, i, PAD, pad);
}

/* Blocking: N requests, the half-close, then every response until the server closes. */
static int half_close(SSL *ssl, int fd, unsigned long n, bool notify)
{
	struct counter cnt = {0};
	char buf[16384];
	int r;

	for (unsigned long i = 0; i < n; i++) {
		int len = options(buf, sizeof(buf), i);

		if (SSL_write(ssl, buf, len) != len) {
			fprintf(stderr, "sip-tls-pipeline: write failed\n");
			return 1;
		}
	}
	if (notify && SSL_shutdown(ssl) < 0) {
		fprintf(stderr, "sip-tls-pipeline: close_notify not sent\n");
		return 1;
	}
	shutdown(fd, SHUT_WR);
	while ((r = SSL_read(ssl, buf, sizeof(buf))) > 0)
		count_feed(&cnt, buf, (size_t)r);
	/* SSL_ERROR_ZERO_RETURN: the server's own close_notify came before its FIN */
	printf("half-closed (%s), responses %lu (200 OK %lu) of %lu, then closed by the server "
	       "(%s)\n",
	       notify ? "close_notify" : "FIN alone", cnt.responses, cnt.ok, n,
	       SSL_get_error(ssl, r) == SSL_ERROR_ZERO_RETURN ? "its close_notify"
							      : "no close_notify");
	return cnt.responses == n && cnt.ok == n ? 0 : 1;
}

int main(int argc, char **argv)
{
	bool read_mode;
	unsigned long n = 0, built = 0;
	uint64_t wait_ms = 0, last_move;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct sockaddr_in local;
	socklen_t sl = sizeof(local);
	int fd, rcvbuf = 4096, version;
	SSL_CTX *ctx;
	SSL *ssl;
	char wbuf[16384], rbuf[16384], ip[INET_ADDRSTRLEN];
	size_t wlen = 0, woff = 0;
	struct counter cnt = {0};
	bool closed = false, want_read_for_write = false, reading = false, wblocked = false;
	bool blocked_before_read = false;
	const char *why = "";

	if (argc < 4)
		goto usage;
	sa.sin_port = htons((uint16_t)arg_num(argv[1], 1, 65535));
	if (!strcmp(argv[2], "1.2"))
		version = TLS1_2_VERSION;
	else if (!strcmp(argv[2], "1.3"))
		version = TLS1_3_VERSION;
	else
		goto usage;
	read_mode = !strcmp(argv[3], "read");
	if (!strcmp(argv[3], "halfclose") && argc == 6) {
		n = (unsigned long)arg_num(argv[4], 1, 100000);
		if (strcmp(argv[5], "notify") && strcmp(argv[5], "fin"))
			goto usage;
	} else if (read_mode && argc == 6) {
		n = (unsigned long)arg_num(argv[4], 1, 10000000);
		wait_ms = (uint64_t)arg_num(argv[5], 0, 600000);
	} else if (read_mode || strcmp(argv[3], "noread") || argc != 4) {
		goto usage;
	}
	signal(SIGPIPE, SIG_IGN);
	memset(pad, 'p', sizeof(pad));
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* Set before connect: the window it announces is what the server can send ahead. */
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("sip-tls-pipeline: connect");
		return 1;
	}
	getsockname(fd, (struct sockaddr *)&local, &sl);
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, version) ||
	    !SSL_CTX_set_max_proto_version(ctx, version))
		goto tls_fail;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	ssl = SSL_new(ctx);
	if (!ssl || !SSL_set_fd(ssl, fd) || SSL_connect(ssl) != 1)
		goto tls_fail;
	if (!strcmp(argv[3], "halfclose")) {
		printf("local %s:%u\n%s %s\n", inet_ntop(AF_INET, &local.sin_addr, ip, sizeof(ip)),
		       ntohs(local.sin_port), SSL_get_version(ssl), SSL_get_cipher_name(ssl));
		fflush(stdout);
		return half_close(ssl, fd, n, !strcmp(argv[5], "notify"));
	}
	SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	printf("local %s:%u\n%s %s\n", inet_ntop(AF_INET, &local.sin_addr, ip, sizeof(ip)),
	       ntohs(local.sin_port), SSL_get_version(ssl), SSL_get_cipher_name(ssl));
	fflush(stdout);

	last_move = now_ms();
	for (;;) {
		uint64_t now = now_ms();
		struct pollfd p = {.fd = fd};
		int timeout = IDLE_LIMIT_MS, r;

		if (read_mode && cnt.responses >= n)
			break;
		if (now - last_move >= IDLE_LIMIT_MS) {
			why = "nothing moved for 60 s";
			break;
		}
		if (read_mode && !reading &&
		    ((built == n && woff == wlen) || (wblocked && now - last_move >= wait_ms))) {
			reading = true;
			blocked_before_read = wblocked;
		}
		/* Refill: the next requests, while some are left to send. */
		if (woff == wlen && (!read_mode || built < n)) {
			wlen = woff = 0;
			while ((!read_mode || built < n) && sizeof(wbuf) - wlen > PAD + 512) {
				wlen += (size_t)options(wbuf + wlen, sizeof(wbuf) - wlen, built);
				built++;
			}
		}
		wblocked = false;
		if (woff < wlen) {
			ERR_clear_error();
			r = SSL_write(ssl, wbuf + woff, (int)(wlen - woff));
			if (r > 0) {
				woff += (size_t)r;
				last_move = now_ms();
				continue;
			}
			switch (SSL_get_error(ssl, r)) {
			case SSL_ERROR_WANT_WRITE:
				wblocked = true;
				p.events |= POLLOUT;
				break;
			case SSL_ERROR_WANT_READ:
				want_read_for_write = true;
				break;
			default:
				closed = true;
				why = "a write failed";
				goto out;
			}
		}
		if (reading || want_read_for_write) {
			want_read_for_write = false;
			ERR_clear_error();
			r = SSL_read(ssl, rbuf, sizeof(rbuf));
			if (r > 0) {
				count_feed(&cnt, rbuf, (size_t)r);
				last_move = now_ms();
				continue;
			}
			if (SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ) {
				closed = true;
				why = "a read found the connection closed";
				break;
			}
			p.events |= POLLIN;
		} else if (read_mode && wblocked) {
			timeout = (int)(last_move + wait_ms > now ? last_move + wait_ms - now : 0);
		}
		r = poll(&p, 1, timeout);
		/* Not reading, a peer that closed shows only here: reset, or its FIN. */
		if (r > 0 && !read_mode && (p.revents & (POLLERR | POLLHUP))) {
			closed = true;
			why = "poll reported the connection closed";
			break;
		}
	}
out:
	if (read_mode) {
		printf("sent %lu, responses %lu (200 OK %lu) of %lu%s%s\n"
		       "writes blocked before reading: %s\n",
		       built, cnt.responses, cnt.ok, n, closed ? ", closed: " : "", why,
		       blocked_before_read ? "yes" : "no");
		if (!closed)
			SSL_shutdown(ssl);
		return !closed && cnt.responses == n && cnt.ok == n ? 0 : 1;
	}
	printf("requests made %lu\nclosed by the server: %s (%s)\n", built, closed ? "yes" : "no",
	       why);
	return closed ? 0 : 1;

tls_fail:
	fprintf(stderr, "sip-tls-pipeline: TLS connection failed\n");
	ERR_print_errors_fp(stderr);
	return 1;
usage:
	fprintf(stderr, "usage: sip-tls-pipeline PORT 1.2|1.3 read N WAIT_MS\n"
			"       sip-tls-pipeline PORT 1.2|1.3 noread\n"
			"       sip-tls-pipeline PORT 1.2|1.3 halfclose N notify|fin\n");
	return 2;
}
