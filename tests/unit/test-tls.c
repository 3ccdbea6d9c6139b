// SPDX-License-Identifier: MIT
/*
 * Unit tests for src/tls on the host (no kernel TLS needed): generated self-signed certificate,
 * configuration errors, version floor, client certificates against a CA and the allowlist,
 * certificate reload, non-blocking handshakes over TCP loopback driven by poll, sock_diag.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "siprecd/macro.h"
#include "siprecd/tls.h"
#include "tls/tls-internal.h"

static char tmpdir[] = "/tmp/test-tls.XXXXXX";

/* ---- certificates made with OpenSSL APIs ---- */

static EVP_PKEY *new_key(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");

	assert_non_null(k);
	return k;
}

/* A certificate for key, signed by issuer (NULL = self-signed), valid from now+nb to now+na
 * seconds; san may be NULL. */
static X509 *new_cert(EVP_PKEY *key, const char *cn, const char *san, X509 *issuer,
		      EVP_PKEY *issuer_key, long nb, long na, bool ca)
{
	static long serial = 1000;
	X509 *x = X509_new();
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_gmtime_adj(X509_getm_notBefore(x), nb);
	X509_gmtime_adj(X509_getm_notAfter(x), na);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(issuer ? issuer : x));
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
				  ca ? "critical,CA:TRUE" : "CA:FALSE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	if (san) {
		ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
		assert_non_null(ext);
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
	return x;
}

static void write_pair(const char *cert_path, const char *key_path, X509 *x, EVP_PKEY *k)
{
	FILE *f = fopen(cert_path, "w");

	assert_non_null(f);
	assert_true(PEM_write_X509(f, x));
	fclose(f);
	if (key_path) {
		f = fopen(key_path, "w");
		assert_non_null(f);
		assert_true(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL));
		fclose(f);
	}
}

static char *tpath(const char *name)
{
	static char buf[8][256];
	static int i;
	char *p = buf[i++ % 8];

	snprintf(p, sizeof(buf[0]), "%s/%s", tmpdir, name);
	return p;
}

/* ---- a non-blocking TCP loopback pair and an OpenSSL client ---- */

struct pair {
	int cfd, sfd;
	uint16_t port, cport;
};

static void tcp_pair(struct pair *p)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(l >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 4), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&a, &alen), 0);
	p->port = ntohs(a.sin_port);
	p->cfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(p->cfd, (struct sockaddr *)&a, sizeof(a)), 0);
	alen = sizeof(a);
	assert_int_equal(getsockname(p->cfd, (struct sockaddr *)&a, &alen), 0);
	p->cport = ntohs(a.sin_port);
	p->sfd = accept4(l, NULL, NULL, SOCK_NONBLOCK);
	assert_true(p->sfd >= 0);
	close(l);
	fcntl(p->cfd, F_SETFL, fcntl(p->cfd, F_GETFL) | O_NONBLOCK);
}

struct client_opts {
	int max_version;
	const char *cert, *key; /* client certificate, or NULL */
	const char *verify_ca;	/* verify the server against this file (and host "localhost") */
	const char *ciphers;	/* TLS 1.2 cipher list, or NULL */
};

static SSL *new_client(const struct client_opts *o, int fd)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl;

	assert_non_null(ctx);
	if (o->max_version)
		SSL_CTX_set_max_proto_version(ctx, o->max_version);
	if (o->ciphers)
		assert_true(SSL_CTX_set_cipher_list(ctx, o->ciphers));
	if (o->cert) {
		assert_int_equal(SSL_CTX_use_certificate_file(ctx, o->cert, SSL_FILETYPE_PEM), 1);
		assert_int_equal(SSL_CTX_use_PrivateKey_file(ctx, o->key, SSL_FILETYPE_PEM), 1);
	}
	if (o->verify_ca) {
		assert_int_equal(SSL_CTX_load_verify_locations(ctx, o->verify_ca, NULL), 1);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	ssl = SSL_new(ctx);
	SSL_CTX_free(ctx);
	if (o->verify_ca)
		SSL_set1_host(ssl, "localhost");
	SSL_set_fd(ssl, fd);
	SSL_set_connect_state(ssl);
	return ssl;
}

/* Drives both handshakes with poll until the server finishes or fails. */
static int drive(struct tls_conn *t, SSL *c, int *ret_client)
{
	int srv = -EAGAIN, cli = -EAGAIN;

	for (int i = 0; i < 500 && srv == -EAGAIN; i++) {
		struct pollfd pfd[2] = {
			{.fd = tls_conn_fd(t), .events = tls_conn_want(t)},
			{.fd = SSL_get_fd(c), .events = POLLIN},
		};

		srv = tls_conn_handshake(t);
		if (cli == -EAGAIN) {
			int r = SSL_do_handshake(c);

			if (r == 1) {
				cli = 0;
			} else {
				int e = SSL_get_error(c, r);

				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
					cli = -EAGAIN;
				else
					cli = -EPROTO;
				if (e == SSL_ERROR_WANT_WRITE)
					pfd[1].events = POLLOUT;
			}
		}
		if (srv != -EAGAIN)
			break;
		poll(pfd, 2, 100);
	}
	if (ret_client)
		*ret_client = cli;
	ERR_clear_error();
	return srv;
}

struct session {
	struct pair p;
	struct tls_conn *t;
	SSL *c;
	int srv, cli;
};

static void session_start(struct session *s, struct tls_server_ctx *ctx,
			  const struct client_opts *o)
{
	tcp_pair(&s->p);
	assert_int_equal(tls_conn_new(ctx, s->p.sfd, &s->t), 0);
	s->c = new_client(o, s->p.cfd);
	s->srv = drive(s->t, s->c, &s->cli);
}

static void session_end(struct session *s)
{
	s->t = tls_conn_free(s->t);
	assert_null(s->t);
	SSL_free(s->c);
	close(s->p.cfd);
	close(s->p.sfd);
}

static void client_read_exact(SSL *c, const char *expect)
{
	char buf[64];
	size_t got = 0, n = strlen(expect);

	for (int i = 0; i < 100 && got < n; i++) {
		int r = SSL_read(c, buf + got, (int)(sizeof(buf) - got));

		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		assert_int_equal(SSL_get_error(c, r), SSL_ERROR_WANT_READ);
		poll(&(struct pollfd){.fd = SSL_get_fd(c), .events = POLLIN}, 1, 100);
	}
	assert_int_equal(got, n);
	assert_memory_equal(buf, expect, n);
}

static ssize_t server_read(struct tls_conn *t, char *buf, size_t len)
{
	ssize_t r = -EAGAIN;

	for (int i = 0; i < 100 && r == -EAGAIN; i++) {
		r = tls_conn_read(t, buf, len);
		if (r == -EAGAIN)
			poll(&(struct pollfd){.fd = tls_conn_fd(t), .events = tls_conn_want(t)}, 1,
			     100);
	}
	return r;
}

/* Both directions, then close_notify from the client is EOF on the server. */
static void exchange(struct session *s)
{
	char buf[64];
	ssize_t n;

	assert_int_equal(tls_conn_write(s->t, "OPTIONS", 7), 7);
	client_read_exact(s->c, "OPTIONS");
	assert_int_equal(SSL_write(s->c, "200 OK", 6), 6);
	n = server_read(s->t, buf, sizeof(buf));
	assert_int_equal(n, 6);
	assert_memory_equal(buf, "200 OK", 6);
	SSL_shutdown(s->c);
	assert_int_equal(server_read(s->t, buf, sizeof(buf)), 0);
}

static X509 *client_peer_cert(SSL *c)
{
	X509 *x = SSL_get1_peer_certificate(c);

	assert_non_null(x);
	return x;
}

static bool peer_cn_is(SSL *c, const char *cn)
{
	X509 *x = client_peer_cert(c);
	char buf[128] = "";

	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf, sizeof(buf));
	X509_free(x);
	return strcmp(buf, cn) == 0;
}

/* ---- tests ---- */

static void test_self_signed(void **state)
{
	struct tls_server_params p = {.state_dir = tpath("state")};
	struct tls_server_ctx *ctx = NULL;
	struct client_opts o = {0};
	struct session s;
	struct tls_peer_info info;
	struct stat st;
	char *err = NULL;
	int64_t exp, now = time(NULL);
	char before[4096] = "", after[4096] = "";
	FILE *f;

	assert_int_equal(tls_server_ctx_new(&p, &ctx, &err), 0);
	assert_null(err);
	assert_string_equal(tls_server_ctx_cert_path(ctx), tpath("state/tls/cert.pem"));
	assert_int_equal(stat(tpath("state/tls/key.pem"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(tpath("state/tls"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	exp = tls_server_ctx_cert_expiry(ctx);
	assert_true(exp > now + 364 * 86400 && exp < now + 366 * 86400);

	/* the client verifies it as "localhost" when it trusts the generated certificate */
	o.verify_ca = tls_server_ctx_cert_path(ctx);
	session_start(&s, ctx, &o);
	assert_int_equal(s.srv, 0);
	assert_int_equal(s.cli, 0);
	assert_int_equal(SSL_get_verify_result(s.c), X509_V_OK);
	assert_true(peer_cn_is(s.c, "siprecd"));
	assert_int_equal(tls_conn_peer_info(s.t, &info), 0);
	assert_string_equal(info.version, "TLSv1.3");
	assert_string_equal(info.subject, "");
	assert_false(info.verified);
	assert_true(tls_conn_offload(s.t) >= 0);
	exchange(&s);
	session_end(&s);

	/* a second start reuses the pair instead of generating a new one */
	f = fopen(tpath("state/tls/cert.pem"), "r");
	assert_true(fread(before, 1, sizeof(before) - 1, f) > 0);
	fclose(f);
	tls_server_ctx_free(ctx);
	assert_int_equal(tls_server_ctx_new(&p, &ctx, &err), 0);
	f = fopen(tpath("state/tls/cert.pem"), "r");
	assert_true(fread(after, 1, sizeof(after) - 1, f) > 0);
	fclose(f);
	assert_string_equal(before, after);
	assert_null(tls_server_ctx_free(ctx));
	assert_null(tls_server_ctx_free(NULL));
}

static void test_config_errors(void **state)
{
	static const struct {
		struct tls_server_params p;
		int ret;
		const char *msg;
	} t[] = {
		{{.cert_path = "/nonexistent/cert.pem", .key_path = "/nonexistent/key.pem"},
		 -ENOENT,
		 "TLS_CERT_PATH /nonexistent/cert.pem"},
		{{.cert_path = "/dev/null", .key_path = "/dev/null"},
		 -EINVAL,
		 "TLS_CERT_PATH /dev/null"},
		{{.state_dir = NULL}, -EINVAL, "no state directory"},
		{{.state_dir = "/tmp", .min_version = 0x0302}, -EINVAL, "TLS_MIN_VERSION"},
		{{.state_dir = "/tmp", .verify = 7}, -EINVAL, "TLS_VERIFY_CLIENT"},
	};
	EVP_PKEY *k1 = new_key(), *k2 = new_key();
	X509 *x = new_cert(k1, "one", NULL, NULL, NULL, 0, 86400, false);
	struct tls_server_params mism = {.cert_path = tpath("m-cert.pem"),
					 .key_path = tpath("m-key.pem")};
	struct tls_server_ctx *ctx = NULL;
	char *err = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		assert_int_equal(tls_server_ctx_new(&t[i].p, &ctx, &err), t[i].ret);
		assert_null(ctx);
		assert_non_null(err);
		assert_non_null(strstr(err, t[i].msg));
		free(err);
		err = NULL;
	}
	/* key that does not belong to the certificate */
	write_pair(mism.cert_path, NULL, x, NULL);
	write_pair(tpath("unused.pem"), mism.key_path, x, k2);
	assert_int_equal(tls_server_ctx_new(&mism, &ctx, &err), -EINVAL);
	assert_non_null(strstr(err, "does not match"));
	free(err);
	X509_free(x);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
}

static void test_versions(void **state)
{
	static const struct {
		int server_min, client_max;
		const char *client_ciphers;
		int ret;
		const char *version;
	} t[] = {
		{TLS1_3_VERSION, TLS1_2_VERSION, NULL, -EPROTO, NULL},
		{TLS1_3_VERSION, 0, NULL, 0, "TLSv1.3"},
		{TLS1_2_VERSION, TLS1_2_VERSION, NULL, 0, "TLSv1.2"},
		{0, TLS1_1_VERSION, NULL, -EPROTO, NULL},
		/* CBC and non-ECDHE suites are not offered */
		{TLS1_2_VERSION, TLS1_2_VERSION, "AES128-SHA:ECDHE-ECDSA-AES128-SHA", -EPROTO,
		 NULL},
		{TLS1_2_VERSION, TLS1_2_VERSION, "ECDHE-ECDSA-CHACHA20-POLY1305", 0, "TLSv1.2"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct tls_server_params p = {.state_dir = tpath("state"),
					      .min_version = t[i].server_min};
		struct client_opts o = {.max_version = t[i].client_max,
					.ciphers = t[i].client_ciphers};
		struct tls_server_ctx *ctx = NULL;
		struct tls_peer_info info;
		struct session s;

		assert_int_equal(tls_server_ctx_new(&p, &ctx, NULL), 0);
		session_start(&s, ctx, &o);
		assert_int_equal(s.srv, t[i].ret);
		if (t[i].ret == 0) {
			assert_int_equal(tls_conn_peer_info(s.t, &info), 0);
			assert_string_equal(info.version, t[i].version);
			assert_non_null(strstr(info.cipher, t[i].server_min == TLS1_3_VERSION
								    ? "TLS_"
								    : "ECDHE-ECDSA-"));
			exchange(&s);
		} else {
			assert_true(strlen(tls_conn_error(s.t)) > 0);
			assert_int_equal(tls_conn_peer_info(s.t, &info), -EINVAL);
		}
		session_end(&s);
		tls_server_ctx_free(ctx);
	}
}

static void test_client_certs(void **state)
{
	EVP_PKEY *cak = new_key(), *k = new_key();
	X509 *ca = new_cert(cak, "siprec test CA", NULL, NULL, NULL, -86400, 30 * 86400, true);
	struct {
		const char *name, *cn, *san;
		bool self_signed;
		long nb, na;
	} certs[] = {
		{"good", "src1.example.net", NULL, false, -3600, 86400},
		{"san", "Some SBC", "DNS:src2.example.net", false, -3600, 86400},
		{"ip", "Other SBC", "IP:192.0.2.7", false, -3600, 86400},
		{"expired", "src1.example.net", NULL, false, -2 * 86400, -86400},
		{"self", "src1.example.net", NULL, true, -3600, 86400},
		{"wrongcn", "intruder.example.org", "DNS:intruder.example.org", false, -3600,
		 86400},
	};
	static const struct {
		const char *cert; /* NULL = no client certificate */
		int verify;
		const char *allowed;
		int ret;
		const char *msg;
	} t[] = {
		{"good", TLS_VERIFY_MODE_REQUIRE, "src*.example.net, 192.0.2.*", 0, NULL},
		{"san", TLS_VERIFY_MODE_REQUIRE, "src*.example.net, 192.0.2.*", 0, NULL},
		{"ip", TLS_VERIFY_MODE_REQUIRE, "src*.example.net, 192.0.2.*", 0, NULL},
		{"good", TLS_VERIFY_MODE_REQUEST, NULL, 0, NULL},
		{NULL, TLS_VERIFY_MODE_REQUEST, NULL, 0, NULL},
		{"expired", TLS_VERIFY_MODE_REQUIRE, NULL, -EACCES, "expired"},
		{"expired", TLS_VERIFY_MODE_REQUEST, NULL, -EACCES, "expired"},
		{"self", TLS_VERIFY_MODE_REQUIRE, NULL, -EACCES, "self-signed"},
		{"wrongcn", TLS_VERIFY_MODE_REQUIRE, "src*.example.net, 192.0.2.*", -EACCES,
		 "CN=intruder.example.org"},
		{NULL, TLS_VERIFY_MODE_REQUIRE, NULL, -EACCES, "none presented"},
		/* an allowlist implies a certificate */
		{NULL, TLS_VERIFY_MODE_REQUEST, "src*.example.net", -EACCES, "none presented"},
		{"self", TLS_VERIFY_MODE_NONE, NULL, 0, NULL},
	};
	char cpath[64], kpath[64];

	write_pair(tpath("ca.pem"), NULL, ca, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(certs); i++) {
		X509 *x = new_cert(k, certs[i].cn, certs[i].san, certs[i].self_signed ? NULL : ca,
				   certs[i].self_signed ? NULL : cak, certs[i].nb, certs[i].na,
				   false);

		snprintf(cpath, sizeof(cpath), "%s.crt", certs[i].name);
		snprintf(kpath, sizeof(kpath), "%s.key", certs[i].name);
		write_pair(tpath(cpath), tpath(kpath), x, k);
		X509_free(x);
	}
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct tls_server_params p = {.state_dir = tpath("state"),
					      .ca_path = tpath("ca.pem"),
					      .verify = t[i].verify,
					      .allowed_peers = t[i].allowed};
		struct client_opts o = {0};
		struct tls_server_ctx *ctx = NULL;
		struct tls_peer_info info;
		struct session s;
		char c[64], kk[64];

		if (t[i].cert) {
			snprintf(c, sizeof(c), "%s.crt", t[i].cert);
			snprintf(kk, sizeof(kk), "%s.key", t[i].cert);
			o.cert = strdup(tpath(c));
			o.key = strdup(tpath(kk));
		}
		assert_int_equal(tls_server_ctx_new(&p, &ctx, NULL), 0);
		session_start(&s, ctx, &o);
		print_message("case %zu: %s -> %d %s\n", i, t[i].cert ? t[i].cert : "(none)", s.srv,
			      tls_conn_error(s.t));
		assert_int_equal(s.srv, t[i].ret);
		if (t[i].ret == 0) {
			assert_int_equal(tls_conn_peer_info(s.t, &info), 0);
			if (t[i].cert && t[i].verify != TLS_VERIFY_MODE_NONE) {
				assert_non_null(strstr(info.subject, "CN="));
				assert_true(info.verified);
			} else {
				assert_false(info.verified);
			}
			exchange(&s);
		} else {
			assert_non_null(strstr(tls_conn_error(s.t), t[i].msg));
		}
		session_end(&s);
		tls_server_ctx_free(ctx);
		free((char *)o.cert);
		free((char *)o.key);
	}
	X509_free(ca);
	EVP_PKEY_free(cak);
	EVP_PKEY_free(k);
}

/* TLS_KEY_PASSWORD: an encrypted key loads with its passphrase, and without it or with a wrong
 * one the error names TLS_KEY_PATH (and nothing prompts on a terminal). */
static void test_key_password(void **state)
{
	EVP_PKEY *k = new_key();
	X509 *x = new_cert(k, "enc", "DNS:localhost", NULL, NULL, -60, 86400, false);
	char *cert = strdup(tpath("enc-cert.pem")), *key = strdup(tpath("enc-key.pem"));
	struct tls_server_params p = {.cert_path = cert, .key_path = key};
	struct tls_server_ctx *ctx = NULL;
	struct client_opts o = {0};
	struct session s;
	char *err = NULL;
	FILE *f;

	write_pair(cert, NULL, x, NULL);
	f = fopen(key, "w");
	assert_non_null(f);
	assert_true(PEM_write_PrivateKey(f, k, EVP_aes_256_cbc(), NULL, 0, NULL,
					 (void *)"correct horse"));
	fclose(f);
	assert_int_equal(tls_server_ctx_new(&p, &ctx, &err), -EINVAL);
	assert_non_null(strstr(err, "TLS_KEY_PATH"));
	free(err);
	err = NULL;
	p.key_password = "wrong";
	assert_int_equal(tls_server_ctx_new(&p, &ctx, &err), -EINVAL);
	assert_non_null(strstr(err, "TLS_KEY_PATH"));
	free(err);
	err = NULL;
	p.key_password = "correct horse";
	assert_int_equal(tls_server_ctx_new(&p, &ctx, &err), 0);
	session_start(&s, ctx, &o);
	assert_int_equal(s.srv, 0);
	assert_true(peer_cn_is(s.c, "enc"));
	session_end(&s);
	tls_server_ctx_free(ctx);
	X509_free(x);
	EVP_PKEY_free(k);
	free(cert);
	free(key);
}

static void test_name_match(void **state)
{
	static const struct {
		const char *pattern, *name;
		bool match;
	} t[] = {
		{"*.example.net", "a.example.net", true},
		{"*.example.net", "A.Example.NET", true},
		{"*.example.net", "a.b.example.net", false}, /* one label, never a dot */
		{"*.example.net", "example.net", false},
		{"*.example.net", ".example.net", false}, /* '*' is at least one character */
		{"src*.example.net", "src1.example.net", true},
		{"src*.example.net", "src.example.net", false},
		{"src*.example.net", "src1.evil.example.net", false},
		{"src*.example.net", "src1.example.net.evil.org", false},
		{"sbc-?.example.net", "sbc-1.example.net", true},
		{"sbc-?.example.net", "sbc-12.example.net", false},
		{"192.0.2.*", "192.0.2.7", true},
		{"192.0.2.*", "192.0.2.7.1", false},
		{"pbx", "pbx", true},
		{"pbx", "pbx2", false},
		{"*", "localhost", true},
		{"*", "a.b", false},
		{"[ab].example.net", "a.example.net", false}, /* no bracket expressions */
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		if (tls_name_match(t[i].pattern, t[i].name) != t[i].match)
			fail_msg("'%s' against '%s': expected %s", t[i].pattern, t[i].name,
				 t[i].match ? "a match" : "no match");
}

static void write_crl(const char *path, X509 *ca, EVP_PKEY *cak, X509 *revoked)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *last = ASN1_TIME_adj(NULL, time(NULL), -1, 0);
	ASN1_TIME *next = ASN1_TIME_adj(NULL, time(NULL), 30, 0);
	FILE *f;

	assert_non_null(crl);
	X509_CRL_set_version(crl, 1);
	X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca));
	X509_CRL_set1_lastUpdate(crl, last);
	X509_CRL_set1_nextUpdate(crl, next);
	if (revoked) {
		X509_REVOKED *r = X509_REVOKED_new();

		X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(revoked));
		X509_REVOKED_set_revocationDate(r, last);
		X509_CRL_add0_revoked(crl, r);
	}
	X509_CRL_sort(crl);
	assert_true(X509_CRL_sign(crl, cak, EVP_sha256()) > 0);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_true(PEM_write_X509_CRL(f, crl));
	fclose(f);
	ASN1_TIME_free(last);
	ASN1_TIME_free(next);
	X509_CRL_free(crl);
}

/* One handshake with the client certificate NAME (written by the caller as NAME.crt/.key). */
static int handshake_with(struct tls_server_ctx *ctx, const char *name, char *ret_err, size_t n)
{
	char c[64], k[64];
	struct client_opts o = {0};
	struct session s;
	int r;

	snprintf(c, sizeof(c), "%s.crt", name);
	snprintf(k, sizeof(k), "%s.key", name);
	o.cert = strdup(tpath(c));
	o.key = strdup(tpath(k));
	session_start(&s, ctx, &o);
	r = s.srv;
	snprintf(ret_err, n, "%s", tls_conn_error(s.t));
	session_end(&s);
	free((char *)o.cert);
	free((char *)o.key);
	return r;
}

/* The CN counts only without DNS/URI names; the system trust store is never a fallback; a CRL
 * refuses the certificates it lists, and is re-read on reload. */
static void test_names_ca_crl(void **state)
{
	EVP_PKEY *cak = new_key(), *k = new_key();
	X509 *ca = new_cert(cak, "crl test CA", NULL, NULL, NULL, -86400, 30 * 86400, true);
	X509 *cn_only = new_cert(k, "src1.example.net", NULL, ca, cak, -3600, 86400, false);
	X509 *cn_san = new_cert(k, "src1.example.net", "DNS:other.example.org", ca, cak, -3600,
				86400, false);
	X509 *deep = new_cert(k, "x", "DNS:a.b.example.net", ca, cak, -3600, 86400, false);
	X509 *victim = new_cert(k, "src9.example.net", NULL, ca, cak, -3600, 86400, false);
	/* tpath() reuses 8 buffers: these must outlive many calls */
	char *state_dir = strdup(tpath("state")), *ca_path = strdup(tpath("crlca.pem"));
	char *crl_path = strdup(tpath("crl.pem"));
	struct tls_server_params p = {.state_dir = state_dir,
				      .ca_path = ca_path,
				      .verify = TLS_VERIFY_MODE_REQUIRE,
				      .allowed_peers = "src*.example.net, *.example.net"};
	struct tls_server_ctx *ctx = NULL;
	char err[TLS_ERROR_MAX];
	char *e = NULL;

	write_pair(tpath("crlca.pem"), NULL, ca, NULL);
	write_pair(tpath("cnonly.crt"), tpath("cnonly.key"), cn_only, k);
	write_pair(tpath("cnsan.crt"), tpath("cnsan.key"), cn_san, k);
	write_pair(tpath("deep.crt"), tpath("deep.key"), deep, k);
	write_pair(tpath("victim.crt"), tpath("victim.key"), victim, k);

	assert_int_equal(tls_server_ctx_new(&p, &ctx, NULL), 0);
	assert_int_equal(handshake_with(ctx, "cnonly", err, sizeof(err)), 0);
	assert_int_equal(handshake_with(ctx, "cnsan", err, sizeof(err)), -EACCES);
	assert_non_null(strstr(err, "the CN does not count"));
	assert_int_equal(handshake_with(ctx, "deep", err, sizeof(err)), -EACCES);
	assert_non_null(strstr(err, "matches no TLS_ALLOWED_PEERS pattern"));
	assert_false(tls_error_is_revoked(err));
	ctx = tls_server_ctx_free(ctx);

	/* two '*' in one label are refused at configuration time */
	p.allowed_peers = "**.example.net";
	assert_int_equal(tls_server_ctx_new(&p, &ctx, &e), -EINVAL);
	assert_non_null(strstr(e, "at most one '*'"));
	free(e);
	e = NULL;
	p.allowed_peers = "src*.example.net";

	/* no CA: an error, never the system trust store */
	p.ca_path = NULL;
	assert_int_equal(tls_server_ctx_new(&p, &ctx, &e), -EINVAL);
	assert_non_null(strstr(e, "TLS_ALLOWED_PEERS needs TLS_CA_PATH"));
	free(e);
	e = NULL;
	p.allowed_peers = NULL;
	p.verify = TLS_VERIFY_MODE_REQUEST;
	assert_int_equal(tls_server_ctx_new(&p, &ctx, &e), -EINVAL);
	assert_non_null(strstr(e, "TLS_VERIFY_CLIENT needs TLS_CA_PATH"));
	free(e);
	e = NULL;
	p.ca_path = ca_path;
	p.verify = TLS_VERIFY_MODE_REQUIRE;

	/* a file without a CRL */
	p.crl_path = ca_path;
	assert_int_equal(tls_server_ctx_new(&p, &ctx, &e), -EINVAL);
	assert_non_null(strstr(e, "no CRL"));
	free(e);
	e = NULL;

	/* a CRL that lists nothing: both pass; then one that lists the victim, reloaded */
	p.crl_path = crl_path;
	write_crl(p.crl_path, ca, cak, NULL);
	assert_int_equal(tls_server_ctx_new(&p, &ctx, &e), 0);
	assert_int_equal(handshake_with(ctx, "victim", err, sizeof(err)), 0);
	assert_int_equal(handshake_with(ctx, "cnonly", err, sizeof(err)), 0);
	write_crl(p.crl_path, ca, cak, victim);
	assert_int_equal(handshake_with(ctx, "victim", err, sizeof(err)), 0); /* not re-read yet */
	assert_int_equal(tls_server_ctx_reload(ctx, &e), 0);
	assert_int_equal(handshake_with(ctx, "victim", err, sizeof(err)), -EACCES);
	assert_true(tls_error_is_revoked(err));
	assert_non_null(strstr(err, "certificate revoked"));
	assert_int_equal(handshake_with(ctx, "cnonly", err, sizeof(err)), 0);
	ctx = tls_server_ctx_free(ctx);

	X509_free(ca);
	X509_free(cn_only);
	X509_free(cn_san);
	X509_free(deep);
	X509_free(victim);
	EVP_PKEY_free(cak);
	EVP_PKEY_free(k);
	free(state_dir);
	free(ca_path);
	free(crl_path);
}

static void test_reload(void **state)
{
	EVP_PKEY *k1 = new_key(), *k2 = new_key();
	X509 *one = new_cert(k1, "one", "DNS:localhost", NULL, NULL, -60, 10 * 86400, false);
	X509 *two = new_cert(k2, "two", "DNS:localhost", NULL, NULL, -60, 20 * 86400, false);
	struct tls_server_params p = {.cert_path = tpath("r-cert.pem"),
				      .key_path = tpath("r-key.pem")};
	struct tls_server_ctx *ctx = NULL;
	struct client_opts o = {0};
	struct session old, s;
	char *err = NULL;
	int64_t exp1, exp2;
	FILE *f;

	write_pair(p.cert_path, p.key_path, one, k1);
	assert_int_equal(tls_server_ctx_new(&p, &ctx, &err), 0);
	exp1 = tls_server_ctx_cert_expiry(ctx);
	session_start(&old, ctx, &o);
	assert_int_equal(old.srv, 0);
	assert_true(peer_cn_is(old.c, "one"));

	write_pair(p.cert_path, p.key_path, two, k2);
	assert_int_equal(tls_server_ctx_reload(ctx, &err), 0);
	exp2 = tls_server_ctx_cert_expiry(ctx);
	assert_true(exp2 > exp1 + 9 * 86400);
	session_start(&s, ctx, &o);
	assert_int_equal(s.srv, 0);
	assert_true(peer_cn_is(s.c, "two"));
	session_end(&s);
	/* the connection made before the reload still works */
	exchange(&old);
	session_end(&old);

	/* a broken file: reload fails, the old pair keeps serving */
	f = fopen(p.cert_path, "w");
	fputs("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n", f);
	fclose(f);
	assert_true(tls_server_ctx_reload(ctx, &err) < 0);
	assert_non_null(err);
	assert_non_null(strstr(err, p.cert_path));
	free(err);
	assert_int_equal(tls_server_ctx_cert_expiry(ctx), exp2);
	session_start(&s, ctx, &o);
	assert_int_equal(s.srv, 0);
	assert_true(peer_cn_is(s.c, "two"));
	session_end(&s);

	tls_server_ctx_free(ctx);
	X509_free(one);
	X509_free(two);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
}

struct diag_seen {
	uint16_t cport;
	int found;
	char ulp[16];
};

static int on_diag(const struct tls_diag_entry *e, void *userdata)
{
	struct diag_seen *d = userdata;
	const struct sockaddr_in *r = (const struct sockaddr_in *)&e->remote;

	if (r->sin_family == AF_INET && ntohs(r->sin_port) == d->cport) {
		d->found++;
		memcpy(d->ulp, e->ulp, sizeof(d->ulp));
	}
	return 0;
}

static void test_diag_and_probe(void **state)
{
	struct tls_server_params p = {.state_dir = tpath("state")};
	struct tls_server_ctx *ctx = NULL;
	struct client_opts o = {0};
	struct diag_seen d = {0};
	struct session s;
	char reason[128] = "";
	int r, avail;

	avail = tls_ktls_probe(reason, sizeof(reason));
	print_message("kTLS probe: %d (%s)\n", avail, reason);
	assert_true(avail == 0 || avail == 1);
	assert_true(strlen(reason) > 0);
	if (!avail)
		assert_true(strncmp(reason, "TCP_ULP tls", 11) == 0 ||
			    strncmp(reason, "TLS_TX", 6) == 0);
	assert_int_equal(tls_ktls_available(), avail);

	assert_int_equal(tls_server_ctx_new(&p, &ctx, NULL), 0);
	session_start(&s, ctx, &o);
	assert_int_equal(s.srv, 0);
	d.cport = s.p.cport;
	r = tls_diag_query(s.p.port, on_diag, &d);
	assert_true(r >= 1);
	assert_int_equal(d.found, 1);
	if (!avail)
		assert_string_equal(d.ulp, "");
	/* a port nobody uses */
	d.found = 0;
	assert_true(tls_diag_query(1, on_diag, &d) >= 0);
	assert_int_equal(d.found, 0);
	session_end(&s);
	tls_server_ctx_free(ctx);
}

/* Our HKDF-Expand-Label against OpenSSL's independent TLS13-KDF. */
static void test_hkdf_expand_label(void **state)
{
	static const char *const labels[] = {"key", "iv", "traffic upd"};
	static const size_t lens[] = {16, 32, 12};
	uint8_t secret[48];
	const EVP_MD *mds[] = {EVP_sha256(), EVP_sha384()};

	for (size_t i = 0; i < sizeof(secret); i++)
		secret[i] = (uint8_t)(i * 7 + 1);
	for (size_t m = 0; m < ARRAY_SIZE(mds); m++) {
		for (size_t i = 0; i < ARRAY_SIZE(labels); i++) {
			uint8_t ours[32], ref[32];
			size_t slen = (size_t)EVP_MD_get_size(mds[m]);
			int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
			EVP_KDF *kdf = EVP_KDF_fetch(NULL, "TLS13-KDF", NULL);
			EVP_KDF_CTX *k = EVP_KDF_CTX_new(kdf);
			OSSL_PARAM pa[] = {
				OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
				OSSL_PARAM_construct_utf8_string(
					OSSL_KDF_PARAM_DIGEST, (char *)EVP_MD_get0_name(mds[m]), 0),
				OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, secret, slen),
				OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PREFIX, "tls13 ",
								  6),
				OSSL_PARAM_construct_octet_string(
					OSSL_KDF_PARAM_LABEL, (void *)labels[i], strlen(labels[i])),
				OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_DATA, "", 0),
				OSSL_PARAM_construct_end(),
			};

			assert_int_equal(EVP_KDF_derive(k, ref, lens[i], pa), 1);
			EVP_KDF_CTX_free(k);
			EVP_KDF_free(kdf);
			assert_int_equal(tls_hkdf_expand_label(mds[m], secret, slen, labels[i],
							       ours, lens[i]),
					 0);
			assert_memory_equal(ours, ref, lens[i]);
		}
	}
}

static void test_recv_record_plain(void **state)
{
	int sv[2];
	char buf[16];
	uint8_t type = 99;

	/* without kTLS RX there is no cmsg: plain bytes are application data, EOF is 0/type 0 */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[0], "abc", 3), 3);
	assert_int_equal(tls_conn_recv_record(sv[1], buf, sizeof(buf), &type), 3);
	assert_int_equal(type, 23);
	assert_int_equal(tls_conn_recv_record(sv[1], buf, 1, &type), -EINVAL);
	close(sv[0]);
	assert_int_equal(tls_conn_recv_record(sv[1], buf, sizeof(buf), &type), 0);
	assert_int_equal(type, 0);
	close(sv[1]);
}

static int setup(void **state)
{
	signal(SIGPIPE, SIG_IGN);
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_self_signed),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_client_certs),
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_name_match),
		cmocka_unit_test(test_key_password),
		cmocka_unit_test(test_names_ca_crl),
		cmocka_unit_test(test_diag_and_probe),
		cmocka_unit_test(test_hkdf_expand_label),
		cmocka_unit_test(test_recv_record_plain),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
