// SPDX-License-Identifier: MIT
/*
 * Kernel TLS pieces OpenSSL 3.0 does not do for us: installing the TLS 1.3 receive key
 * (HKDF-Expand-Label from the client application traffic secret, RFC 8446 §7.1/§7.3) and
 * probing whether this kernel has the "tls" ULP and the AEAD it needs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/tls.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>

#include "siprecd/log.h"
#include "siprecd/macro.h"
#include "tls-internal.h"

#ifndef SOL_TLS
#define SOL_TLS 282
#endif

int tls_hkdf_expand_label(const EVP_MD *md, const uint8_t *secret, size_t secret_len,
			  const char *label, uint8_t *out, size_t out_len)
{
	/* struct { uint16 length; opaque label<7..255> = "tls13 " + Label; opaque context<0..255>;
	 * } */
	uint8_t info[2 + 1 + 255 + 1];
	size_t llen = strlen(label), n = 0;
	EVP_KDF *kdf;
	EVP_KDF_CTX *kctx;
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY, r = -EIO;
	OSSL_PARAM params[5];

	if (!md || !secret || out_len > UINT16_MAX || 6 + llen > 255)
		return -EINVAL;
	info[n++] = (uint8_t)(out_len >> 8);
	info[n++] = (uint8_t)out_len;
	info[n++] = (uint8_t)(6 + llen);
	memcpy(info + n, "tls13 ", 6);
	n += 6;
	memcpy(info + n, label, llen);
	n += llen;
	info[n++] = 0; /* empty context: traffic keys (RFC 8446 §7.3) */

	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	EVP_KDF_free(kdf);
	if (!kctx)
		return -ENOMEM;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						     (char *)EVP_MD_get0_name(md), 0);
	params[1] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	params[2] =
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, secret_len);
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, n);
	params[4] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, out_len, params) == 1)
		r = 0;
	EVP_KDF_CTX_free(kctx);
	return r;
}

union crypto_info {
	struct tls_crypto_info base;
	struct tls12_crypto_info_aes_gcm_128 gcm128;
	struct tls12_crypto_info_aes_gcm_256 gcm256;
	struct tls12_crypto_info_chacha20_poly1305 chacha;
};

static int attach_ulp(int fd)
{
	if (setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int tls_ktls_install_rx13(struct tls_conn *t)
{
	const SSL_CIPHER *cipher = SSL_get_current_cipher(t->ssl);
	const EVP_MD *md;
	union crypto_info ci;
	uint8_t key[32], iv[12];
	size_t key_len, size;
	int r;

	if (!cipher || t->rx_secret_len == 0)
		return -EINVAL;
	/* The kernel starts at record sequence 0: OpenSSL must not have read (or buffered) any
	 * record under the application key. With read-ahead off and no tickets this holds right
	 * after SSL_do_handshake returns on the server. */
	if (SSL_has_pending(t->ssl) || SSL_pending(t->ssl) > 0)
		return -EBUSY;
	md = SSL_CIPHER_get_handshake_digest(cipher);
	memset(&ci, 0, sizeof(ci));
	ci.base.version = TLS_1_3_VERSION;
	switch (SSL_CIPHER_get_protocol_id(cipher)) {
	case 0x1301: /* TLS_AES_128_GCM_SHA256 */
		ci.base.cipher_type = TLS_CIPHER_AES_GCM_128;
		key_len = TLS_CIPHER_AES_GCM_128_KEY_SIZE;
		size = sizeof(ci.gcm128);
		break;
	case 0x1302: /* TLS_AES_256_GCM_SHA384 */
		ci.base.cipher_type = TLS_CIPHER_AES_GCM_256;
		key_len = TLS_CIPHER_AES_GCM_256_KEY_SIZE;
		size = sizeof(ci.gcm256);
		break;
	case 0x1303: /* TLS_CHACHA20_POLY1305_SHA256 */
		ci.base.cipher_type = TLS_CIPHER_CHACHA20_POLY1305;
		key_len = TLS_CIPHER_CHACHA20_POLY1305_KEY_SIZE;
		size = sizeof(ci.chacha);
		break;
	default:
		return -EOPNOTSUPP;
	}
	r = tls_hkdf_expand_label(md, t->rx_secret, t->rx_secret_len, "key", key, key_len);
	if (r >= 0)
		r = tls_hkdf_expand_label(md, t->rx_secret, t->rx_secret_len, "iv", iv, sizeof(iv));
	if (r < 0)
		goto out;
	/* The kernel's GCM layout splits the 12-byte static IV into salt (4) and iv (8); the
	 * per-record nonce is that IV XOR the sequence number (RFC 8446 §5.3). rec_seq stays 0. */
	switch (ci.base.cipher_type) {
	case TLS_CIPHER_AES_GCM_128:
		memcpy(ci.gcm128.key, key, key_len);
		memcpy(ci.gcm128.salt, iv, 4);
		memcpy(ci.gcm128.iv, iv + 4, 8);
		break;
	case TLS_CIPHER_AES_GCM_256:
		memcpy(ci.gcm256.key, key, key_len);
		memcpy(ci.gcm256.salt, iv, 4);
		memcpy(ci.gcm256.iv, iv + 4, 8);
		break;
	default:
		memcpy(ci.chacha.key, key, key_len);
		memcpy(ci.chacha.iv, iv, 12);
		break;
	}
	r = attach_ulp(t->fd);
	if (r >= 0 && setsockopt(t->fd, SOL_TLS, TLS_RX, &ci, (socklen_t)size) < 0)
		r = -errno;
out:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(iv, sizeof(iv));
	OPENSSL_cleanse(&ci, sizeof(ci));
	return r;
}

static int loopback_pair(int *ret_client, int *ret_server)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	_cleanup_close_ int l = -1, c = -1;
	int s;

	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || c < 0)
		return -errno;
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &alen) < 0 ||
	    connect(c, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -errno;
	s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0)
		return -errno;
	*ret_client = TAKE_FD(c);
	*ret_server = s;
	return 0;
}

int tls_ktls_probe(char *reason, size_t reason_len)
{
	_cleanup_close_ int c = -1, s = -1;
	struct tls12_crypto_info_aes_gcm_128 ci = {
		.info = {.version = TLS_1_2_VERSION, .cipher_type = TLS_CIPHER_AES_GCM_128},
	};
	int r;

	r = loopback_pair(&c, &s);
	if (r < 0) {
		if (reason && reason_len)
			snprintf(reason, reason_len, "probe connection failed: %s", strerror(-r));
		return r;
	}
	if (setsockopt(c, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")) < 0) {
		if (reason && reason_len)
			snprintf(reason, reason_len, "TCP_ULP tls %s", strerrorname_np(errno));
		return 0;
	}
	/* tls.ko alone is not enough: without the AEAD modules TLS_TX fails and OpenSSL would
	 * silently stay in user space. A zero key on a throwaway socket tests that. */
	if (setsockopt(c, SOL_TLS, TLS_TX, &ci, sizeof(ci)) < 0) {
		if (reason && reason_len)
			snprintf(reason, reason_len,
				 "TLS_TX AES-GCM-128 %s (AEAD modules missing?)",
				 strerrorname_np(errno));
		return 0;
	}
	if (reason && reason_len)
		snprintf(reason, reason_len, "kernel TLS available");
	return 1;
}

int tls_ktls_available(void)
{
	return tls_ktls_probe(NULL, 0) > 0;
}
