// SPDX-License-Identifier: MIT
/*
 * One TLS server connection: the non-blocking handshake driven by poll readiness, the record
 * layer afterwards (OpenSSL records, or the kernel's once offloaded), non-data records on the
 * kernel RX path, and what the audit log wants to know about the peer.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/tls.h>

#include <openssl/err.h>

#include "siprecd/log.h"
#include "siprecd/macro.h"
#include "siprecd/str.h"
#include "tls-internal.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

/* RFC 8446 §5.1 / RFC 5246 §6.2.1 ContentType. */
#define TLS_RT_ALERT 21
#define TLS_RT_HANDSHAKE 22
#define TLS_RT_APPLICATION_DATA 23
/* RFC 8446 §6 AlertDescription close_notify. */
#define TLS_ALERT_CLOSE_NOTIFY 0

/*
 * OpenSSL 3.0 has no API for the TLS 1.3 traffic secrets; the NSS key log line it hands to this
 * callback is the supported way to see them. Only the client application secret is kept (it is
 * what the kernel needs to decrypt what the SRC sends), in the connection, and wiped after use.
 */
void tls_keylog_cb(const SSL *ssl, const char *line)
{
	static const char label[] = "CLIENT_TRAFFIC_SECRET_0 ";
	struct tls_conn *t = SSL_get_app_data(ssl);
	const char *p;
	size_t n = 0;

	if (!t || strncmp(line, label, sizeof(label) - 1) != 0)
		return;
	p = strchr(line + sizeof(label) - 1, ' ');
	if (!p)
		return;
	for (p++; p[0] && p[1] && n < sizeof(t->rx_secret); p += 2) {
		int hi = hex_digit(p[0]), lo = hex_digit(p[1]);

		if (hi < 0 || lo < 0)
			break;
		t->rx_secret[n++] = (uint8_t)(hi << 4 | lo);
	}
	if (*p != '\0') {
		OPENSSL_cleanse(t->rx_secret, sizeof(t->rx_secret));
		n = 0;
	}
	t->rx_secret_len = n;
}

int tls_conn_new(struct tls_server_ctx *c, int fd, struct tls_conn **ret)
{
	struct tls_conn *t;

	if (!c || !c->ssl_ctx || fd < 0 || !ret)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->ctx = c;
	t->fd = fd;
	t->want = POLLIN;
	t->ssl = SSL_new(c->ssl_ctx);
	if (!t->ssl) {
		free(t);
		ERR_clear_error();
		return -ENOMEM;
	}
	SSL_set_app_data(t->ssl, t);
	/* A socket BIO (not a custom one): OpenSSL only hands keys to the kernel through it. */
	if (SSL_set_fd(t->ssl, fd) != 1) {
		SSL_free(t->ssl);
		free(t);
		ERR_clear_error();
		return -ENOMEM;
	}
	SSL_set_accept_state(t->ssl);
	*ret = t;
	return 0;
}

static int ssl_error_reason(unsigned long *ret_code, char *buf, size_t n)
{
	unsigned long e, first = 0;

	while ((e = ERR_get_error()) != 0)
		if (!first)
			first = e;
	if (!first)
		return -ENOENT;
	ERR_error_string_n(first, buf, n);
	*ret_code = first;
	return 0;
}

/* Maps an OpenSSL failure to -errno, recording why in t->error. */
static int conn_fail(struct tls_conn *t, int ret, int saved_errno, const char *op)
{
	char reason[200];
	unsigned long code = 0;

	switch (SSL_get_error(t->ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		t->want = POLLIN;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		t->want = POLLOUT;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		if (saved_errno == EAGAIN || saved_errno == EINTR) {
			t->want = POLLIN;
			return -EAGAIN;
		}
		snprintf(t->error, sizeof(t->error), "%s: %s", op,
			 saved_errno ? strerror(saved_errno) : "connection closed by peer");
		return saved_errno ? -saved_errno : -ECONNRESET;
	default:
		if (ssl_error_reason(&code, reason, sizeof(reason)) < 0)
			snprintf(reason, sizeof(reason), "protocol error");
		if (t->refused)
			return -EACCES; /* t->error already says which certificate and why */
		if (ERR_GET_REASON(code) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
			snprintf(t->error, sizeof(t->error),
				 "client certificate refused: none presented (%s)", reason);
			t->refused = true;
			return -EACCES;
		}
		snprintf(t->error, sizeof(t->error), "%s: %s", op, reason);
		if (ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
			return -ECONNRESET;
		return -EPROTO;
	}
}

static void handshake_offload(struct tls_conn *t)
{
	int r;

	if (BIO_get_ktls_send(SSL_get_wbio(t->ssl)))
		t->offload |= TLS_OFFLOAD_TX;
	if (BIO_get_ktls_recv(SSL_get_rbio(t->ssl)))
		t->offload |= TLS_OFFLOAD_RX;
	/* OpenSSL 3.0 does not move TLS 1.3 RX into the kernel; we do (docs/TLS.md). */
	if (!(t->offload & TLS_OFFLOAD_RX) && SSL_version(t->ssl) == TLS1_3_VERSION &&
	    t->rx_secret_len > 0) {
		r = tls_ktls_install_rx13(t);
		if (r >= 0) {
			t->rx_ours = true;
			t->offload |= TLS_OFFLOAD_RX;
		} else {
			log_debug("tls: TLS 1.3 RX stays in OpenSSL: %s", strerror(-r));
		}
	}
	OPENSSL_cleanse(t->rx_secret, sizeof(t->rx_secret));
	t->rx_secret_len = 0;
	/* Records OpenSSL keeps reading for the connection's life may be read ahead: one read()
	 * takes all the socket holds instead of a header and a body per record (the reader loops
	 * until EAGAIN, so nothing waits in OpenSSL's buffer). Off during the handshake, where
	 * nothing past it may be taken from the socket that kTLS RX is to read. */
	if (!(t->offload & TLS_OFFLOAD_RX))
		SSL_set_read_ahead(t->ssl, 1);
}

int tls_conn_handshake(struct tls_conn *t)
{
	int r, saved;

	if (!t)
		return -EINVAL;
	if (t->done)
		return 0;
	if (t->failed)
		return -EPROTO;
	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(t->ssl);
	saved = errno;
	if (r == 1) {
		if (t->ctx->allowed && !SSL_get0_peer_certificate(t->ssl)) {
			snprintf(t->error, sizeof(t->error),
				 "client certificate refused: none presented and TLS_ALLOWED_PEERS "
				 "is set");
			t->refused = t->failed = true;
			return -EACCES;
		}
		t->done = true;
		handshake_offload(t);
		return 0;
	}
	r = conn_fail(t, r, saved, "TLS handshake");
	if (r == 0) {
		snprintf(t->error, sizeof(t->error), "TLS handshake: connection closed by peer");
		r = -ECONNRESET;
	}
	if (r != -EAGAIN)
		t->failed = true;
	return r;
}

short tls_conn_want(const struct tls_conn *t)
{
	return t ? t->want : 0;
}

const char *tls_conn_error(const struct tls_conn *t)
{
	return t ? t->error : "";
}

int tls_conn_fd(const struct tls_conn *t)
{
	return t ? t->fd : -EINVAL;
}

int tls_conn_offload(const struct tls_conn *t)
{
	if (!t || !t->done)
		return -EINVAL;
	return t->offload;
}

ssize_t tls_conn_recv_record(int fd, void *buf, size_t len, uint8_t *ret_record_type)
{
	char cbuf[CMSG_SPACE(sizeof(uint8_t))] = {0};
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	uint8_t type = TLS_RT_APPLICATION_DATA;
	bool have_type = false;
	ssize_t n;

	if (len < 2)
		return -EINVAL; /* an alert is two bytes */
	n = recvmsg(fd, &msg, 0);
	if (n < 0)
		return -errno;
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level == SOL_TLS && cm->cmsg_type == TLS_GET_RECORD_TYPE) {
			type = *(const uint8_t *)CMSG_DATA(cm);
			have_type = true;
		}
	}
	if (n == 0 && !have_type) {
		/* TCP FIN without close_notify: SIP framing makes truncation visible anyway. */
		if (ret_record_type)
			*ret_record_type = 0;
		return 0;
	}
	switch (type) {
	case TLS_RT_APPLICATION_DATA:
		break;
	case TLS_RT_ALERT:
		if (n < 2 || ((const uint8_t *)buf)[1] != TLS_ALERT_CLOSE_NOTIFY)
			return -ECONNRESET;
		n = 0;
		break;
	case TLS_RT_HANDSHAKE:
		/* A TLS 1.3 KeyUpdate (RFC 8446 §4.6.3) or another post-handshake message: the
		 * kernel cannot follow a key change, the caller closes (docs/TLS.md). */
		return -EKEYEXPIRED;
	default:
		return -EBADMSG;
	}
	if (ret_record_type)
		*ret_record_type = type;
	return n;
}

ssize_t tls_conn_read(struct tls_conn *t, void *buf, size_t len)
{
	int r, saved;

	if (!t || !t->done || len == 0)
		return -EINVAL;
	if (t->offload & TLS_OFFLOAD_RX) {
		ssize_t n = tls_conn_recv_record(t->fd, buf, len, NULL);

		if (n == -EAGAIN)
			t->want = POLLIN;
		else if (n < 0)
			snprintf(t->error, sizeof(t->error), "kTLS receive: %s", strerror((int)-n));
		return n;
	}
	ERR_clear_error();
	errno = 0;
	r = SSL_read(t->ssl, buf, (int)MIN(len, (size_t)INT32_MAX));
	saved = errno;
	if (r > 0)
		return r;
	return conn_fail(t, r, saved, "TLS read");
}

ssize_t tls_conn_write(struct tls_conn *t, const void *buf, size_t len)
{
	int r, saved;

	if (!t || !t->done || len == 0)
		return -EINVAL;
	ERR_clear_error();
	errno = 0;
	r = SSL_write(t->ssl, buf, (int)MIN(len, (size_t)INT32_MAX));
	saved = errno;
	if (r > 0)
		return r;
	r = conn_fail(t, r, saved, "TLS write");
	return r == 0 ? -ECONNRESET : r;
}

int tls_conn_peer_info(const struct tls_conn *t, struct tls_peer_info *ret)
{
	struct tls_peer_info info = {0};
	X509 *peer;

	if (!t || !t->done || !ret)
		return -EINVAL;
	snprintf(info.version, sizeof(info.version), "%s", SSL_get_version(t->ssl));
	snprintf(info.cipher, sizeof(info.cipher), "%s", SSL_get_cipher_name(t->ssl));
	peer = SSL_get0_peer_certificate(t->ssl);
	if (peer) {
		tls_name_string(X509_get_subject_name(peer), info.subject, sizeof(info.subject));
		info.verified = SSL_get_verify_result(t->ssl) == X509_V_OK &&
				t->ctx->verify != TLS_VERIFY_MODE_NONE;
	}
	info.offload = t->offload;
	*ret = info;
	return 0;
}

int tls_conn_close_notify(struct tls_conn *t)
{
	/* RFC 8446 §6: AlertLevel warning (ignored in TLS 1.3, required in 1.2), close_notify */
	static const uint8_t alert[2] = {1, TLS_ALERT_CLOSE_NOTIFY};
	int r;

	if (!t || !t->done)
		return -EINVAL;
	if (SSL_get_shutdown(t->ssl) & SSL_SENT_SHUTDOWN)
		return 0;
	if (t->offload & TLS_OFFLOAD_TX) {
		/* The kernel holds the write keys: the alert is a control record
		 * (TLS_SET_RECORD_TYPE, the selftests' tls.c), which it encrypts as it does data.
		 */
		char cbuf[CMSG_SPACE(sizeof(uint8_t))] = {0};
		struct iovec iov = {.iov_base = (void *)alert, .iov_len = sizeof(alert)};
		struct msghdr msg = {
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = cbuf,
			.msg_controllen = sizeof(cbuf),
		};
		struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

		cm->cmsg_level = SOL_TLS;
		cm->cmsg_type = TLS_SET_RECORD_TYPE;
		cm->cmsg_len = CMSG_LEN(sizeof(uint8_t));
		*CMSG_DATA(cm) = TLS_RT_ALERT;
		/* tls_conn_free must not write another one through OpenSSL's keys */
		SSL_set_shutdown(t->ssl, SSL_get_shutdown(t->ssl) | SSL_SENT_SHUTDOWN);
		return sendmsg(t->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 ? -errno : 0;
	}
	ERR_clear_error();
	r = SSL_shutdown(t->ssl);
	ERR_clear_error();
	/* -1: the socket is full (or a record is still pending): not waited for */
	return r < 0 ? -EAGAIN : 0;
}

struct tls_conn *tls_conn_free(struct tls_conn *t)
{
	if (!t)
		return NULL;
	/* RFC 8446 §6.1: close_notify; one non-blocking attempt, we never wait for the reply. */
	if (t->done && !(SSL_get_shutdown(t->ssl) & SSL_SENT_SHUTDOWN)) {
		ERR_clear_error();
		SSL_shutdown(t->ssl);
		ERR_clear_error();
	}
	SSL_free(t->ssl);
	OPENSSL_cleanse(t->rx_secret, sizeof(t->rx_secret));
	free(t);
	return NULL;
}
