// SPDX-License-Identifier: MIT
/*
 * TLS server contexts: the SSL_CTX policy (versions, AEAD ciphers, no tickets, kTLS), the
 * self-signed certificate generated when none is configured, certificate reload, and the client
 * certificate checks (chain verification plus the subject/SAN allowlist).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "siprecd/log.h"
#include "siprecd/macro.h"
#include "siprecd/str.h"
#include "tls-internal.h"

/* RFC 9325 §4.2: ECDHE with AEAD only for TLS 1.2; TLS 1.3 suites are all AEAD already. */
#define TLS12_CIPHERS                                                                              \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                               \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                               \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define SELF_SIGNED_DAYS 365
#define PATTERN_MAX 255

static _printf_(2, 3) void set_error(char **ret_error, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	if (!ret_error)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	free(*ret_error);
	*ret_error = s;
}

/* The most recent OpenSSL error as text; clears the queue. */
static const char *ssl_err_text(char *buf, size_t n)
{
	unsigned long e, last = 0;

	while ((e = ERR_get_error()) != 0)
		last = e;
	if (!last)
		snprintf(buf, n, "unknown OpenSSL error");
	else
		ERR_error_string_n(last, buf, n);
	return buf;
}

static void free_strv(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

/* At most one '*' in each dot-separated label of p. */
static bool pattern_valid(struct str p)
{
	unsigned stars = 0;

	for (size_t i = 0; i < p.len; i++) {
		if (p.s[i] == '.')
			stars = 0;
		else if (p.s[i] == '*' && ++stars > 1)
			return false;
	}
	return true;
}

static int parse_allowed(const char *s, char ***ret)
{
	struct str rest = str_from_cstr(s);
	char **v = NULL;
	size_t n = 0;

	if (!s || !*s) {
		*ret = NULL;
		return 0;
	}
	v = calloc(TLS_ALLOWED_PEERS_MAX + 1, sizeof(char *));
	if (!v)
		return -ENOMEM;
	while (rest.s) {
		struct str item;

		rest = str_split(rest, ',', &item);
		item = str_trim(item);
		if (item.len == 0)
			continue;
		if (n >= TLS_ALLOWED_PEERS_MAX || item.len > PATTERN_MAX) {
			free_strv(v);
			return -E2BIG;
		}
		if (!pattern_valid(item)) {
			free_strv(v);
			return -EINVAL;
		}
		v[n] = str_dup(item);
		if (!v[n]) {
			free_strv(v);
			return -ENOMEM;
		}
		n++;
	}
	if (n == 0) {
		free(v);
		v = NULL;
	}
	*ret = v;
	return 0;
}

int tls_name_string(X509_NAME *name, char *buf, size_t n)
{
	BIO *b;
	int len;

	if (n == 0)
		return -EINVAL;
	buf[0] = '\0';
	if (!name)
		return 0;
	b = BIO_new(BIO_s_mem());
	if (!b)
		return -ENOMEM;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) < 0) {
		BIO_free(b);
		return -EBADMSG;
	}
	len = BIO_read(b, buf, (int)n - 1);
	buf[len > 0 ? len : 0] = '\0';
	BIO_free(b);
	return 0;
}

/*
 * Case-insensitive match of name against pattern, where '*' stands for one or more characters
 * other than '.' (one DNS label or part of one, never a dot: "*.example.net" matches
 * "a.example.net" but neither "a.b.example.net" nor "example.net") and '?' for one such
 * character; everything else is literal. parse_allowed admits one '*' per label, so the
 * backtracking below stays within one label (quadratic in its length at worst).
 */
bool tls_name_match(const char *pattern, const char *name)
{
	for (; *pattern; pattern++, name++) {
		if (*pattern == '*') {
			size_t n = strcspn(name, ".");

			for (size_t k = n; k >= 1; k--)
				if (tls_name_match(pattern + 1, name + k))
					return true;
			return false;
		}
		if (!*name)
			return false;
		if (*pattern == '?') {
			if (*name == '.')
				return false;
			continue;
		}
		if (tolower((unsigned char)*pattern) != tolower((unsigned char)*name))
			return false;
	}
	return *name == '\0';
}

static bool match_any(char **patterns, const char *name)
{
	for (char **p = patterns; *p; p++)
		if (tls_name_match(*p, name))
			return true;
	return false;
}

/* An ASN1 string as a NUL-terminated copy into buf, refusing embedded NULs (a CN of
 * "good.example\0.evil" must not match "good.example"). */
static bool asn1_to_buf(const ASN1_STRING *a, char *buf, size_t n)
{
	int len = ASN1_STRING_length(a);

	if (len <= 0 || (size_t)len >= n || memchr(ASN1_STRING_get0_data(a), '\0', (size_t)len))
		return false;
	memcpy(buf, ASN1_STRING_get0_data(a), (size_t)len);
	buf[len] = '\0';
	return true;
}

int tls_check_allowed(struct tls_conn *t, X509 *cert)
{
	char **patterns = t->ctx->allowed;
	char name[TLS_SUBJECT_MAX];
	X509_NAME *subj;
	GENERAL_NAMES *sans;
	bool ok = false, has_name_san = false;
	int i = -1;

	if (!patterns)
		return 0;
	subj = X509_get_subject_name(cert);
	sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (int k = 0; !ok && sans && k < sk_GENERAL_NAME_num(sans); k++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, k);

		switch (g->type) {
		case GEN_DNS:
		case GEN_URI:
			has_name_san = true;
			if (asn1_to_buf(g->d.ia5, name, sizeof(name)))
				ok = match_any(patterns, name);
			break;
		case GEN_IPADD: {
			int len = ASN1_STRING_length(g->d.ip);
			const void *p = ASN1_STRING_get0_data(g->d.ip);

			if ((len == 4 && inet_ntop(AF_INET, p, name, sizeof(name))) ||
			    (len == 16 && inet_ntop(AF_INET6, p, name, sizeof(name))))
				ok = match_any(patterns, name);
			break;
		}
		default:
			break;
		}
	}
	/* RFC 6125 §6.4.4: the CN is a name only for a certificate without DNS or URI names. */
	while (!ok && !has_name_san &&
	       (i = X509_NAME_get_index_by_NID(subj, NID_commonName, i)) >= 0) {
		X509_NAME_ENTRY *e = X509_NAME_get_entry(subj, i);
		ASN1_STRING *d = X509_NAME_ENTRY_get_data(e);
		unsigned char *utf8 = NULL;
		int len = ASN1_STRING_to_UTF8(&utf8, d);

		if (len > 0 && (size_t)len < sizeof(name) && !memchr(utf8, '\0', (size_t)len)) {
			memcpy(name, utf8, (size_t)len);
			name[len] = '\0';
			ok = match_any(patterns, name);
		}
		OPENSSL_free(utf8);
	}
	GENERAL_NAMES_free(sans);
	if (ok)
		return 0;
	tls_name_string(subj, name, sizeof(name));
	snprintf(
		t->error, sizeof(t->error),
		"client certificate refused: subject \"%s\" matches no TLS_ALLOWED_PEERS pattern%s",
		name, has_name_san ? " (by its DNS/URI names; the CN does not count)" : "");
	t->refused = true;
	return -EACCES;
}

int tls_verify_cb(int preverify_ok, X509_STORE_CTX *store)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct tls_conn *t = ssl ? SSL_get_app_data(ssl) : NULL;
	X509 *cert = X509_STORE_CTX_get_current_cert(store);
	int depth = X509_STORE_CTX_get_error_depth(store);

	if (!t)
		return preverify_ok;
	if (!preverify_ok) {
		if (!t->refused) {
			char subj[TLS_SUBJECT_MAX];
			int err = X509_STORE_CTX_get_error(store);

			tls_name_string(cert ? X509_get_subject_name(cert) : NULL, subj,
					sizeof(subj));
			t->revoked = err == X509_V_ERR_CERT_REVOKED;
			snprintf(t->error, sizeof(t->error), "%s: %s (depth %d, subject \"%s\")",
				 t->revoked ? TLS_REVOKED_PREFIX : "client certificate refused",
				 X509_verify_cert_error_string(err), depth, subj);
			t->refused = true;
		}
		return 0;
	}
	if (depth == 0 && cert && tls_check_allowed(t, cert) < 0) {
		X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
		return 0;
	}
	return 1;
}

static int mkdir_p(const char *path, mode_t mode)
{
	_cleanup_free_ char *p = strdup(path);

	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (!ext)
		return -EINVAL;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -ENOMEM;
}

/* Writes through a temporary file and rename(2), so a crash never leaves half a key. */
static int write_pem(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert)
{
	_cleanup_free_ char *tmp = NULL;
	FILE *f;
	int fd, ok;

	if (asprintf(&tmp, "%s.tmp", path) < 0)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, mode) < 0) {
		int r = -errno;

		close(fd);
		unlink(tmp);
		return r;
	}
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(tmp);
		return -ENOMEM;
	}
	ok = key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
		 : PEM_write_X509(f, cert);
	if (fflush(f) != 0 || fsync(fileno(f)) < 0)
		ok = 0;
	if (fclose(f) != 0)
		ok = 0;
	if (!ok || rename(tmp, path) < 0) {
		unlink(tmp);
		return -EIO;
	}
	return 0;
}

static int generate_self_signed(const char *cert_path, const char *key_path, char **ret_error)
{
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	BIGNUM *serial = NULL;
	X509_NAME *name;
	char ebuf[256];
	int r = -ENOMEM;

	key = EVP_EC_gen("P-256");
	x = X509_new();
	serial = BN_new();
	if (!key || !x || !serial)
		goto fail;
	if (!BN_rand(serial, 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
	    !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) || !X509_set_version(x, 2) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -300) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), (long)SELF_SIGNED_DAYS * 86400) ||
	    !X509_set_pubkey(x, key))
		goto fail;
	name = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"siprecd",
					-1, -1, 0) ||
	    !X509_set_issuer_name(x, name))
		goto fail;
	if (add_ext(x, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1") < 0 ||
	    add_ext(x, NID_key_usage, "critical,digitalSignature") < 0 ||
	    add_ext(x, NID_ext_key_usage, "serverAuth") < 0 ||
	    add_ext(x, NID_subject_key_identifier, "hash") < 0)
		goto fail;
	if (!X509_sign(x, key, EVP_sha256()))
		goto fail;
	r = write_pem(key_path, 0600, key, NULL);
	if (r < 0) {
		set_error(ret_error, "cannot write generated TLS key %s: %s", key_path,
			  strerror(-r));
		goto out;
	}
	r = write_pem(cert_path, 0644, NULL, x);
	if (r < 0) {
		set_error(ret_error, "cannot write generated TLS certificate %s: %s", cert_path,
			  strerror(-r));
		goto out;
	}
	log_debug("tls: generated self-signed certificate %s", cert_path);
	r = 0;
	goto out;
fail:
	set_error(ret_error, "cannot generate a self-signed certificate: %s",
		  ssl_err_text(ebuf, sizeof(ebuf)));
out:
	BN_free(serial);
	X509_free(x);
	EVP_PKEY_free(key);
	return r;
}

static int64_t x509_not_after(const X509 *x)
{
	struct tm tm;

	if (!x || !ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm))
		return -EINVAL;
	return (int64_t)timegm(&tm);
}

/* In self-signed mode: keeps the generated pair while it loads and has a day left. */
static bool self_signed_usable(const char *cert_path, const char *key_path)
{
	FILE *f;
	X509 *x;
	int64_t exp;

	if (access(key_path, R_OK) < 0)
		return false;
	f = fopen(cert_path, "re");
	if (!f)
		return false;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	exp = x509_not_after(x);
	X509_free(x);
	ERR_clear_error();
	return exp > (int64_t)time(NULL) + 86400;
}

static int ensure_self_signed(struct tls_server_ctx *c, char **ret_error)
{
	_cleanup_free_ char *dir = NULL;
	int r;

	if (!c->state_dir || !*c->state_dir) {
		set_error(ret_error, "no TLS certificate configured and no state directory to "
				     "generate one in");
		return -EINVAL;
	}
	if (asprintf(&dir, "%s/tls", c->state_dir) < 0)
		return -ENOMEM;
	if (!c->cert_path && (asprintf(&c->cert_path, "%s/cert.pem", dir) < 0 ||
			      asprintf(&c->key_path, "%s/key.pem", dir) < 0))
		return -ENOMEM;
	r = mkdir_p(dir, 0700);
	if (r < 0) {
		set_error(ret_error, "cannot create %s: %s", dir, strerror(-r));
		return r;
	}
	if (self_signed_usable(c->cert_path, c->key_path))
		return 0;
	return generate_self_signed(c->cert_path, c->key_path, ret_error);
}

static int key_password_cb(char *buf, int size, int rwflag, void *userdata)
{
	const char *pw = userdata;
	size_t n = pw ? strlen(pw) : 0;

	if (!pw || n >= (size_t)size)
		return -1;
	memcpy(buf, pw, n);
	return (int)n;
}

/* Adds every CRL of the PEM file at path to ctx's store and turns on revocation checks of the
 * client's certificate (the leaf: intermediates are vouched for by the CA file). */
static int load_crls(SSL_CTX *ctx, const char *path, char **ret_error)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	STACK_OF(X509_INFO) *infos = NULL;
	unsigned n = 0;
	char ebuf[256];
	BIO *b = BIO_new_file(path, "r");

	if (b)
		infos = PEM_X509_INFO_read_bio(b, NULL, NULL, NULL);
	BIO_free(b);
	if (!infos) {
		set_error(ret_error, "TLS_CRL_PATH %s: %s", path, ssl_err_text(ebuf, sizeof(ebuf)));
		return -EINVAL;
	}
	for (int i = 0; i < sk_X509_INFO_num(infos); i++) {
		X509_INFO *xi = sk_X509_INFO_value(infos, i);

		if (xi->crl && X509_STORE_add_crl(store, xi->crl) == 1)
			n++;
	}
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	if (n == 0) {
		ERR_clear_error();
		set_error(ret_error,
			  "TLS_CRL_PATH %s: no CRL (-----BEGIN X509 CRL-----) in the file", path);
		return -EINVAL;
	}
	X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
	return 0;
}

static SSL_CTX *build_ssl_ctx(struct tls_server_ctx *c, int *ret_errno, char **ret_error)
{
	static const int modes[] = {
		[TLS_VERIFY_MODE_NONE] = SSL_VERIFY_NONE,
		[TLS_VERIFY_MODE_REQUEST] = SSL_VERIFY_PEER,
		[TLS_VERIFY_MODE_REQUIRE] = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
	};
	const char *paths[] = {c->cert_path, c->key_path, c->ca_path, c->crl_path};
	const char *what[] = {"TLS_CERT_PATH", "TLS_KEY_PATH", "TLS_CA_PATH", "TLS_CRL_PATH"};
	char ebuf[256];
	SSL_CTX *ctx;

	*ret_errno = -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		if (paths[i] && access(paths[i], R_OK) < 0) {
			*ret_errno = -errno;
			set_error(ret_error, "%s %s: %s", what[i], paths[i], strerror(errno));
			return NULL;
		}
	}
	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		*ret_errno = -ENOMEM;
		set_error(ret_error, "SSL_CTX_new: %s", ssl_err_text(ebuf, sizeof(ebuf)));
		return NULL;
	}
	/* No renegotiation (RFC 5746 attacks, and kTLS cannot follow a key change); no
	 * compression (CRIME); no tickets so that after a TLS 1.3 handshake the server has sent
	 * no record the kernel must count (the TX sequence stays OpenSSL's, the RX one is 0).
	 * A FIN without close_notify reads as a close_notify, not as a fatal error that sends an
	 * alert and fails every later write: a peer that half-closes that way still gets its
	 * answers (SIP frames its messages by Content-Length, so a truncated one is never taken
	 * in; docs/SIP.md "Half-closed connections"). */
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION |
					 SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET |
					 SSL_OP_ENABLE_KTLS | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"siprecd", 7);
	SSL_CTX_set_read_ahead(ctx, 0);
	if (!SSL_CTX_set_min_proto_version(ctx, c->min_version) ||
	    !SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS)) {
		set_error(ret_error, "TLS policy: %s", ssl_err_text(ebuf, sizeof(ebuf)));
		goto fail;
	}
	SSL_CTX_set_keylog_callback(ctx, tls_keylog_cb);
	/* An encrypted key (TLS_KEY_PASSWORD); without a password OpenSSL must not prompt on a
	 * terminal, so the callback answers "no password" then. */
	SSL_CTX_set_default_passwd_cb(ctx, key_password_cb);
	SSL_CTX_set_default_passwd_cb_userdata(ctx, c->key_password);
	if (SSL_CTX_use_certificate_chain_file(ctx, c->cert_path) != 1) {
		set_error(ret_error, "TLS_CERT_PATH %s: %s", c->cert_path,
			  ssl_err_text(ebuf, sizeof(ebuf)));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, c->key_path ? c->key_path : c->cert_path,
					SSL_FILETYPE_PEM) != 1 &&
	    ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH) {
		set_error(ret_error, "TLS_KEY_PATH %s: %s",
			  c->key_path ? c->key_path : c->cert_path,
			  ssl_err_text(ebuf, sizeof(ebuf)));
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		set_error(ret_error, "TLS_KEY_PATH %s does not match the certificate in %s",
			  c->key_path ? c->key_path : c->cert_path, c->cert_path);
		goto fail;
	}
	if (c->crl_path && c->verify == TLS_VERIFY_MODE_NONE && !c->allowed) {
		set_error(ret_error, "TLS_CRL_PATH is set but no client certificate is asked for "
				     "(TLS_VERIFY_CLIENT=none)");
		goto fail;
	}
	if (c->verify != TLS_VERIFY_MODE_NONE || c->allowed) {
		STACK_OF(X509_NAME) * names;
		int mode = modes[c->verify];

		if (c->allowed)
			mode = modes[TLS_VERIFY_MODE_REQUIRE];
		/* Never the system trust store: any public CA would vouch for any name. */
		if (!c->ca_path) {
			set_error(ret_error,
				  "%s needs TLS_CA_PATH (client certificates are only "
				  "verified against the configured CA)",
				  c->allowed ? "TLS_ALLOWED_PEERS" : "TLS_VERIFY_CLIENT");
			goto fail;
		}
		names = SSL_load_client_CA_file(c->ca_path);
		if (SSL_CTX_load_verify_locations(ctx, c->ca_path, NULL) != 1 || !names) {
			sk_X509_NAME_pop_free(names, X509_NAME_free);
			set_error(ret_error, "TLS_CA_PATH %s: %s", c->ca_path,
				  ssl_err_text(ebuf, sizeof(ebuf)));
			goto fail;
		}
		SSL_CTX_set_client_CA_list(ctx, names);
		if (c->crl_path && load_crls(ctx, c->crl_path, ret_error) < 0)
			goto fail;
		SSL_CTX_set_verify(ctx, mode, tls_verify_cb);
		SSL_CTX_set_verify_depth(ctx, 8);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static int dup_opt(const char *s, char **ret)
{
	*ret = NULL;
	if (!s || !*s)
		return 0;
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

int tls_server_ctx_new(const struct tls_server_params *p, struct tls_server_ctx **ret,
		       char **ret_error)
{
	struct tls_server_ctx *c;
	int r;

	if (!p || !ret)
		return -EINVAL;
	if (p->min_version != 0 && p->min_version != TLS1_2_VERSION &&
	    p->min_version != TLS1_3_VERSION) {
		set_error(ret_error, "TLS_MIN_VERSION must be 1.2 or 1.3");
		return -EINVAL;
	}
	if (p->verify < TLS_VERIFY_MODE_NONE || p->verify > TLS_VERIFY_MODE_REQUIRE) {
		set_error(ret_error, "TLS_VERIFY_CLIENT must be none, request or require");
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->min_version = p->min_version ? p->min_version : TLS1_2_VERSION;
	c->verify = p->verify;
	r = dup_opt(p->cert_path, &c->cert_path);
	if (r >= 0)
		r = dup_opt(p->key_path, &c->key_path);
	if (r >= 0)
		r = dup_opt(p->ca_path, &c->ca_path);
	if (r >= 0)
		r = dup_opt(p->crl_path, &c->crl_path);
	if (r >= 0)
		r = dup_opt(p->key_password, &c->key_password);
	if (r >= 0)
		r = dup_opt(p->state_dir, &c->state_dir);
	if (r >= 0) {
		r = parse_allowed(p->allowed_peers, &c->allowed);
		if (r == -E2BIG)
			set_error(ret_error,
				  "TLS_ALLOWED_PEERS: at most %d patterns of at most %d characters",
				  TLS_ALLOWED_PEERS_MAX, PATTERN_MAX);
		else if (r == -EINVAL)
			set_error(ret_error, "TLS_ALLOWED_PEERS: at most one '*' in each label of "
					     "a pattern ('*' never matches a dot)");
	}
	if (r < 0)
		goto fail;
	c->self_signed = !c->cert_path;
	if (c->self_signed) {
		free(c->key_path);
		c->key_path = NULL;
	}
	r = tls_server_ctx_reload(c, ret_error);
	if (r < 0)
		goto fail;
	*ret = c;
	return 0;
fail:
	tls_server_ctx_free(c);
	return r;
}

int tls_server_ctx_reload(struct tls_server_ctx *c, char **ret_error)
{
	SSL_CTX *ctx;
	int r;

	if (!c)
		return -EINVAL;
	if (c->self_signed) {
		r = ensure_self_signed(c, ret_error);
		if (r < 0)
			return r;
	}
	ctx = build_ssl_ctx(c, &r, ret_error);
	if (!ctx)
		return r;
	/* Established connections hold their own reference on the old SSL_CTX (SSL_new). */
	SSL_CTX_free(c->ssl_ctx);
	c->ssl_ctx = ctx;
	return 0;
}

int tls_server_ctx_reconfigure(struct tls_server_ctx *c, const struct tls_server_params *p,
			       char **ret_error)
{
	struct tls_server_ctx *n = NULL, tmp;
	int r;

	if (!c)
		return -EINVAL;
	r = tls_server_ctx_new(p, &n, ret_error);
	if (r < 0)
		return r;
	/* Connections point at c, never at its fields: swapping the contents moves every new
	 * handshake (and the allowlist checks of those in progress) to the new settings. */
	tmp = *c;
	*c = *n;
	*n = tmp;
	tls_server_ctx_free(n);
	return 0;
}

struct tls_server_ctx *tls_server_ctx_free(struct tls_server_ctx *c)
{
	if (!c)
		return NULL;
	SSL_CTX_free(c->ssl_ctx);
	free(c->cert_path);
	free(c->key_path);
	free(c->ca_path);
	free(c->crl_path);
	if (c->key_password)
		OPENSSL_cleanse(c->key_password, strlen(c->key_password));
	free(c->key_password);
	free(c->state_dir);
	free_strv(c->allowed);
	free(c);
	return NULL;
}

bool tls_error_is_revoked(const char *reason)
{
	return reason && strncmp(reason, TLS_REVOKED_PREFIX, strlen(TLS_REVOKED_PREFIX)) == 0;
}

int64_t tls_server_ctx_cert_expiry(const struct tls_server_ctx *c)
{
	if (!c || !c->ssl_ctx)
		return -EINVAL;
	return x509_not_after(SSL_CTX_get0_certificate(c->ssl_ctx));
}

const char *tls_server_ctx_cert_path(const struct tls_server_ctx *c)
{
	return c ? c->cert_path : NULL;
}
