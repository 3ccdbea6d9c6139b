/* SPDX-License-Identifier: MIT */
/*
 * Private to src/tls/: the context and connection structures shared by the context, connection
 * and kTLS files.
 */
#pragma once

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>

#include "siprecd/tls.h"

#define TLS_ERROR_MAX 512
#define TLS_SECRET_MAX EVP_MAX_MD_SIZE
/* tls_conn_error() of a certificate the CRL revokes starts with this. */
#define TLS_REVOKED_PREFIX "client certificate revoked"

struct tls_server_ctx {
	SSL_CTX *ssl_ctx; /* current one; connections hold their own reference */
	char *cert_path, *key_path, *ca_path, *crl_path, *state_dir;
	char *key_password; /* of an encrypted key_path; wiped on free */
	int min_version;
	int verify;
	char **allowed; /* NULL-terminated fnmatch patterns, or NULL */
	bool self_signed;
};

struct tls_conn {
	struct tls_server_ctx *ctx;
	SSL *ssl;
	int fd;
	short want;
	bool done;
	bool failed;
	bool refused; /* client certificate refused by our checks */
	bool revoked; /* ... because the CRL lists it */
	int offload;
	bool rx_ours; /* TLS 1.3 RX key installed by us: OpenSSL must not read any more */
	/* TLS 1.3 client application traffic secret, captured from the keylog callback and wiped
	 * once installed. */
	uint8_t rx_secret[TLS_SECRET_MAX];
	size_t rx_secret_len;
	char error[TLS_ERROR_MAX];
};

/* Verify callback shared with tls-conn.c (allowlist check at depth 0). */
int tls_verify_cb(int preverify_ok, X509_STORE_CTX *store);
/* Keylog callback: captures CLIENT_TRAFFIC_SECRET_0 into the connection. */
void tls_keylog_cb(const SSL *ssl, const char *line);
/* Checks the peer certificate against the allowlist; 0 if allowed, -EACCES with t->error set. */
int tls_check_allowed(struct tls_conn *t, X509 *cert);
/* name as RFC 2253 text, truncated to n (buf gets "" for NULL). */
int tls_name_string(X509_NAME *name, char *buf, size_t n);
/* RFC 8446 §7.1 HKDF-Expand-Label with an empty context, for the traffic key and iv. */
int tls_hkdf_expand_label(const EVP_MD *md, const uint8_t *secret, size_t secret_len,
			  const char *label, uint8_t *out, size_t out_len);
/* Installs the TLS 1.3 receive key into the kernel (tls-ktls.c). 0 or -errno. */
int tls_ktls_install_rx13(struct tls_conn *t);
