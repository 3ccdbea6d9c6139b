// SPDX-License-Identifier: MIT
/*
 * kTLS proof for src/tls, meant to run in the VM (tests/vm/ktls-test.sh): a server made with the
 * project's API and an OpenSSL client on loopback, for TLS 1.2 and 1.3 with each AEAD. With kernel
 * TLS it asserts TX+RX offload, data through send/recv and io_uring, tls_stat counters, sock_diag,
 * close_notify and KeyUpdate on the cmsg path. Without it, checks the OpenSSL-records path and
 * exits 77.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <liburing.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <linux/tls.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "siprecd/tls.h"

static int failures;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			failures++;                                                                \
			fprintf(stderr, "FAIL %s:%d: %s: ", __func__, __LINE__, #cond);            \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
		}                                                                                  \
	} while (0)

struct tls_case {
	int version;
	const char *cipher; /* OpenSSL name */
	uint16_t kernel_cipher;
	bool key_update; /* the client sends a KeyUpdate instead of the close test */
};

static const struct tls_case cases[] = {
	{TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256", TLS_CIPHER_AES_GCM_128, false},
	{TLS1_2_VERSION, "ECDHE-ECDSA-AES256-GCM-SHA384", TLS_CIPHER_AES_GCM_256, false},
	{TLS1_2_VERSION, "ECDHE-ECDSA-CHACHA20-POLY1305", TLS_CIPHER_CHACHA20_POLY1305, false},
	{TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", TLS_CIPHER_AES_GCM_128, false},
	{TLS1_3_VERSION, "TLS_AES_256_GCM_SHA384", TLS_CIPHER_AES_GCM_256, false},
	{TLS1_3_VERSION, "TLS_CHACHA20_POLY1305_SHA256", TLS_CIPHER_CHACHA20_POLY1305, false},
	{TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", TLS_CIPHER_AES_GCM_128, true},
};

struct tls_stat {
	uint64_t tx_sw, rx_sw, tx_dev, rx_dev, decrypt_err;
};

static bool read_tls_stat(struct tls_stat *s)
{
	FILE *f = fopen("/proc/net/tls_stat", "re");
	char name[64];
	uint64_t v;

	memset(s, 0, sizeof(*s));
	if (!f)
		return false;
	while (fscanf(f, "%63s %" SCNu64, name, &v) == 2) {
		if (!strcmp(name, "TlsTxSw"))
			s->tx_sw = v;
		else if (!strcmp(name, "TlsRxSw"))
			s->rx_sw = v;
		else if (!strcmp(name, "TlsTxDevice"))
			s->tx_dev = v;
		else if (!strcmp(name, "TlsRxDevice"))
			s->rx_dev = v;
		else if (!strcmp(name, "TlsDecryptError"))
			s->decrypt_err = v;
	}
	fclose(f);
	return true;
}

static int tcp_pair(int *ret_c, int *ret_s, uint16_t *ret_port, uint16_t *ret_cport)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0), c, s;

	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &alen) < 0)
		return -errno;
	*ret_port = ntohs(a.sin_port);
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -errno;
	alen = sizeof(a);
	getsockname(c, (struct sockaddr *)&a, &alen);
	*ret_cport = ntohs(a.sin_port);
	s = accept4(l, NULL, NULL, SOCK_NONBLOCK);
	close(l);
	if (s < 0)
		return -errno;
	fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK);
	*ret_c = c;
	*ret_s = s;
	return 0;
}

static SSL *new_client(const struct tls_case *tc, int fd)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl;

	/* The client stays in user space, so the kernel counters count the server only. */
	SSL_CTX_set_min_proto_version(ctx, tc->version);
	SSL_CTX_set_max_proto_version(ctx, tc->version);
	if (tc->version == TLS1_3_VERSION)
		SSL_CTX_set_ciphersuites(ctx, tc->cipher);
	else
		SSL_CTX_set_cipher_list(ctx, tc->cipher);
	ssl = SSL_new(ctx);
	SSL_CTX_free(ctx);
	SSL_set_fd(ssl, fd);
	SSL_set_connect_state(ssl);
	return ssl;
}

static int drive(struct tls_conn *t, SSL *c)
{
	int srv = -EAGAIN, cli = -EAGAIN;

	for (int i = 0; i < 1000 && (srv == -EAGAIN || cli == -EAGAIN); i++) {
		struct pollfd pfd[2] = {
			{.fd = tls_conn_fd(t), .events = tls_conn_want(t)},
			{.fd = SSL_get_fd(c), .events = POLLIN},
		};

		if (srv == -EAGAIN)
			srv = tls_conn_handshake(t);
		if (cli == -EAGAIN) {
			int r = SSL_do_handshake(c), e;

			e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(c, r);
			if (r == 1)
				cli = 0;
			else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
				cli = -EPROTO;
		}
		if (srv < 0 && srv != -EAGAIN)
			break;
		if (srv == -EAGAIN || cli == -EAGAIN)
			poll(pfd, 2, 50);
	}
	if (srv == 0 && cli != 0) {
		fprintf(stderr, "client handshake failed\n");
		ERR_print_errors_fp(stderr);
		return -EPROTO;
	}
	return srv;
}

static bool wait_in(int fd)
{
	return poll(&(struct pollfd){.fd = fd, .events = POLLIN}, 1, 5000) == 1;
}

/* The client (blocking after the handshake) reads exactly len bytes. */
static bool client_read(SSL *c, const char *expect, size_t len)
{
	static char buf[32768];
	size_t got = 0;

	while (got < len) {
		int r = SSL_read(c, buf + got, (int)(len - got));

		if (r <= 0) {
			ERR_print_errors_fp(stderr);
			return false;
		}
		got += (size_t)r;
	}
	return memcmp(buf, expect, len) == 0;
}

struct diag_find {
	uint16_t cport;
	struct tls_diag_entry e;
	int found;
};

static int on_diag(const struct tls_diag_entry *e, void *userdata)
{
	struct diag_find *d = userdata;
	const struct sockaddr_in *r = (const struct sockaddr_in *)&e->remote;

	if (r->sin_family == AF_INET && ntohs(r->sin_port) == d->cport) {
		d->e = *e;
		d->found++;
	}
	return 0;
}

static void check_uring(int sfd, SSL *c, int n)
{
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	char msg[32], buf[64];
	int len = snprintf(msg, sizeof(msg), "URING-INVITE-%d", n);

	if (io_uring_queue_init(4, &ring, 0) < 0) {
		CHECK(false, "io_uring_queue_init failed");
		return;
	}
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_send(sqe, sfd, msg, (size_t)len, 0);
	io_uring_submit(&ring);
	CHECK(io_uring_wait_cqe(&ring, &cqe) == 0 && cqe->res == len, "io_uring send res %d",
	      cqe ? cqe->res : -1);
	io_uring_cqe_seen(&ring, cqe);
	CHECK(client_read(c, msg, (size_t)len), "client did not get the io_uring send");

	len = snprintf(msg, sizeof(msg), "URING-200-%d", n);
	CHECK(SSL_write(c, msg, len) == len, "client write");
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_recv(sqe, sfd, buf, sizeof(buf), 0);
	io_uring_submit(&ring);
	CHECK(io_uring_wait_cqe(&ring, &cqe) == 0 && cqe->res == len &&
		      memcmp(buf, msg, (size_t)len) == 0,
	      "io_uring recv res %d", cqe ? cqe->res : -1);
	io_uring_cqe_seen(&ring, cqe);
	io_uring_queue_exit(&ring);
}

/* Everything through the kernel: plain send/recv, io_uring, the API, non-data records. */
static void check_offloaded(const struct tls_case *tc, struct tls_conn *t, int sfd, SSL *c, int n)
{
	static char big[20000];
	char buf[64];
	uint8_t type = 0;
	ssize_t r;

	CHECK(send(sfd, "INVITE sip:srs", 14, 0) == 14, "plain send: %m");
	CHECK(client_read(c, "INVITE sip:srs", 14), "client did not get the plain send");
	CHECK(SSL_write(c, "SIP/2.0 200 OK", 14) == 14, "client write");
	CHECK(wait_in(sfd), "no data");
	r = recv(sfd, buf, sizeof(buf), 0);
	CHECK(r == 14 && memcmp(buf, "SIP/2.0 200 OK", 14) == 0, "plain recv %zd: %m", r);

	/* more than one record (16 KiB maximum plaintext) */
	memset(big, 'x', sizeof(big));
	CHECK(send(sfd, big, sizeof(big), 0) == (ssize_t)sizeof(big), "big send: %m");
	CHECK(client_read(c, big, sizeof(big)), "client did not get the big send");

	check_uring(sfd, c, n);

	CHECK(tls_conn_write(t, "MESSAGE", 7) == 7, "tls_conn_write");
	CHECK(client_read(c, "MESSAGE", 7), "client did not get tls_conn_write");
	CHECK(SSL_write(c, "202", 3) == 3, "client write");
	CHECK(wait_in(sfd), "no data");
	r = tls_conn_read(t, buf, sizeof(buf));
	CHECK(r == 3 && memcmp(buf, "202", 3) == 0, "tls_conn_read %zd", r);

	if (tc->key_update) {
		/* RFC 8446 §4.6.3: the kernel hands us the handshake record; we give up on the
		 * connection (docs/TLS.md) */
		CHECK(SSL_key_update(c, SSL_KEY_UPDATE_NOT_REQUESTED) == 1, "SSL_key_update");
		CHECK(SSL_write(c, "after", 5) == 5, "client write");
		CHECK(wait_in(sfd), "no data");
		r = tls_conn_read(t, buf, sizeof(buf));
		CHECK(r == -EKEYEXPIRED, "KeyUpdate gave %zd, not -EKEYEXPIRED", r);
		return;
	}
	/* close_notify: a plain recv of the alert fails with EIO, the cmsg path sees it */
	CHECK(SSL_shutdown(c) >= 0, "client shutdown");
	CHECK(wait_in(sfd), "no close_notify");
	r = recv(sfd, buf, sizeof(buf), 0);
	CHECK(r < 0 && errno == EIO, "plain recv of an alert: %zd (%m), expected EIO", r);
	r = tls_conn_recv_record(sfd, buf, sizeof(buf), &type);
	CHECK(r == 0 && type == 21, "close_notify: %zd type %u", r, type);
}

/* No kernel TLS: the same conversation through OpenSSL records. */
static void check_openssl_records(struct tls_conn *t, int sfd, SSL *c)
{
	char buf[64];
	ssize_t r = -EAGAIN;

	CHECK(tls_conn_write(t, "INVITE sip:srs", 14) == 14, "tls_conn_write");
	CHECK(client_read(c, "INVITE sip:srs", 14), "client did not get tls_conn_write");
	CHECK(SSL_write(c, "SIP/2.0 200 OK", 14) == 14, "client write");
	for (int i = 0; i < 50 && r == -EAGAIN; i++) {
		wait_in(sfd);
		r = tls_conn_read(t, buf, sizeof(buf));
	}
	CHECK(r == 14 && memcmp(buf, "SIP/2.0 200 OK", 14) == 0, "tls_conn_read %zd", r);
	SSL_shutdown(c);
	r = -EAGAIN;
	for (int i = 0; i < 50 && r == -EAGAIN; i++) {
		wait_in(sfd);
		r = tls_conn_read(t, buf, sizeof(buf));
	}
	CHECK(r == 0, "close_notify gave %zd", r);
}

static void run_case(struct tls_server_ctx *ctx, const struct tls_case *tc, bool ktls, int n)
{
	struct diag_find d = {0};
	struct tls_peer_info info;
	struct tls_conn *t = NULL;
	int cfd = -1, sfd = -1, r, off;
	uint16_t port = 0, cport = 0;
	SSL *c;

	r = tcp_pair(&cfd, &sfd, &port, &cport);
	if (r < 0) {
		CHECK(false, "tcp pair: %s", strerror(-r));
		return;
	}
	CHECK(tls_conn_new(ctx, sfd, &t) == 0, "tls_conn_new");
	c = new_client(tc, cfd);
	r = drive(t, c);
	CHECK(r == 0, "handshake %s: %d %s", tc->cipher, r, tls_conn_error(t));
	if (r != 0)
		goto out;
	off = tls_conn_offload(t);
	tls_conn_peer_info(t, &info);
	printf("%s %s: offload %s%s\n", info.version, info.cipher, off & TLS_OFFLOAD_TX ? "TX" : "",
	       off & TLS_OFFLOAD_RX ? "RX"
	       : off		    ? ""
				    : "none");
	CHECK(strcmp(info.cipher, tc->cipher) == 0, "cipher %s", info.cipher);
	CHECK(off == (ktls ? TLS_OFFLOAD_TXRX : TLS_OFFLOAD_NONE), "offload %d", off);

	d.cport = cport;
	r = tls_diag_query(port, on_diag, &d);
	CHECK(r >= 1 && d.found == 1, "sock_diag: %d, found %d", r, d.found);
	if (ktls) {
		uint16_t kv = tc->version == TLS1_3_VERSION ? TLS_1_3_VERSION : TLS_1_2_VERSION;

		printf("  sock_diag: ulp=%s version=%#x cipher=%u tx=%u rx=%u\n", d.e.ulp,
		       d.e.version, d.e.cipher, d.e.txconf, d.e.rxconf);
		CHECK(strcmp(d.e.ulp, "tls") == 0, "ulp \"%s\"", d.e.ulp);
		CHECK(d.e.version == kv, "diag version %#x", d.e.version);
		CHECK(d.e.cipher == tc->kernel_cipher, "diag cipher %u", d.e.cipher);
		CHECK(d.e.txconf == TLS_CONF_SW && d.e.rxconf == TLS_CONF_SW, "diag conf %u/%u",
		      d.e.txconf, d.e.rxconf);
	} else {
		CHECK(d.e.ulp[0] == '\0', "ulp \"%s\" without kTLS", d.e.ulp);
	}
	fcntl(cfd, F_SETFL, fcntl(cfd, F_GETFL) & ~O_NONBLOCK);
	/* a broken key makes the client wait forever: fail instead */
	setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){.tv_sec = 10},
		   sizeof(struct timeval));
	if (ktls)
		check_offloaded(tc, t, sfd, c, n);
	else
		check_openssl_records(t, sfd, c);
out:
	tls_conn_free(t);
	SSL_free(c);
	close(cfd);
	close(sfd);
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/tls-ktls-check.XXXXXX", reason[128] = "";
	struct tls_server_params p = {.state_dir = dir};
	struct tls_server_ctx *ctx = NULL;
	struct tls_stat before, after;
	char *err = NULL;
	bool ktls, have_stat;
	size_t n = sizeof(cases) / sizeof(cases[0]);

	signal(SIGPIPE, SIG_IGN);
	alarm(180); /* a hang is a failure (SIGALRM kills us), well before the VM's own limit */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!mkdtemp(dir) || tls_server_ctx_new(&p, &ctx, &err) < 0) {
		fprintf(stderr, "server context: %s\n", err ? err : strerror(errno));
		return 1;
	}
	ktls = tls_ktls_probe(reason, sizeof(reason)) == 1;
	printf("%s%s\n", ktls ? "" : "kTLS unavailable: ", reason);
	have_stat = read_tls_stat(&before);
	for (size_t i = 0; i < n; i++)
		run_case(ctx, &cases[i], ktls, (int)i);
	if (ktls) {
		CHECK(have_stat && read_tls_stat(&after), "no /proc/net/tls_stat");
		printf("tls_stat: TlsTxSw +%" PRIu64 " TlsRxSw +%" PRIu64
		       " TlsDecryptError +%" PRIu64 "\n",
		       after.tx_sw - before.tx_sw, after.rx_sw - before.rx_sw,
		       after.decrypt_err - before.decrypt_err);
		CHECK(after.tx_sw + after.tx_dev - before.tx_sw - before.tx_dev == n,
		      "TX sessions grew by %" PRIu64 ", expected %zu", after.tx_sw - before.tx_sw,
		      n);
		CHECK(after.rx_sw + after.rx_dev - before.rx_sw - before.rx_dev == n,
		      "RX sessions grew by %" PRIu64 ", expected %zu", after.rx_sw - before.rx_sw,
		      n);
		CHECK(after.decrypt_err == before.decrypt_err, "decrypt errors");
	}
	tls_server_ctx_free(ctx);
	for (const char *const *f =
		     (const char *const[]){"tls/cert.pem", "tls/key.pem", "tls", NULL};
	     *f; f++) {
		char path[sizeof(dir) + 16];

		snprintf(path, sizeof(path), "%s/%s", dir, *f);
		remove(path);
	}
	rmdir(dir);
	if (failures) {
		printf("%d check(s) failed\n", failures);
		return 1;
	}
	if (!ktls) {
		printf("OpenSSL-records path OK; kTLS unavailable: %s: SKIP\n", reason);
		return 77;
	}
	printf("kTLS checks passed (%zu connections)\n", n);
	return 0;
}
