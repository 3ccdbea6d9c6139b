// SPDX-License-Identifier: MIT
/*
 * The primitives of the key hierarchy on OpenSSL and libargon2: HKDF-SHA256, PBKDF2-HMAC-SHA256,
 * Argon2id, AES-256-GCM wrapping of data keys, and the X25519 write-only envelope. No state, no
 * I/O except keys_x25519_load; every intermediate secret is wiped.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <argon2.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "keys/keys-internal.h"
#include "siprecd/macro.h"
#include "siprecd/str.h"

#define WRAP_AAD_LABEL "siprecd dek v1"
#define ENV_INFO_LABEL "siprecd write-only v1"

static EVP_KDF *hkdf_alg;

static void hkdf_fetch(void)
{
	hkdf_alg = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
}

/* The KDF is fetched once: through EVP_PKEY_CTX_new_id each derivation looked the algorithm up
 * anew (~76,000 instructions a derivation against ~40,000; two or three per call set up). */
int keys_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
		     const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	OSSL_PARAM params[5], *p = params;
	EVP_KDF_CTX *kc;
	int r = -EIO;

	pthread_once(&once, hkdf_fetch);
	kc = hkdf_alg ? EVP_KDF_CTX_new(hkdf_alg) : NULL;
	if (!kc)
		return -EIO;
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_len);
	if (salt)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt,
							 salt_len);
	if (info_len)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info,
							 info_len);
	*p = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kc, out, out_len, params) == 1)
		r = 0;
	EVP_KDF_CTX_free(kc);
	return r;
}

int keys_pbkdf2_sha256(const char *pw, size_t pw_len, const uint8_t *salt, size_t salt_len,
		       uint32_t iterations, uint8_t *out, size_t out_len)
{
	if (iterations == 0 || iterations > INT32_MAX)
		return -EINVAL;
	if (PKCS5_PBKDF2_HMAC(pw, (int)pw_len, salt, (int)salt_len, (int)iterations, EVP_sha256(),
			      (int)out_len, out) != 1)
		return -EIO;
	return 0;
}

int keys_argon2id(const void *pw, size_t pw_len, const uint8_t *salt, size_t salt_len,
		  const uint8_t *secret, size_t secret_len, const uint8_t *ad, size_t ad_len,
		  uint32_t t, uint32_t m_kib, uint32_t p, uint8_t *out, size_t out_len)
{
	argon2_context ctx = {
		.out = out,
		.outlen = (uint32_t)out_len,
		.pwd = (uint8_t *)pw,
		.pwdlen = (uint32_t)pw_len,
		.salt = (uint8_t *)salt,
		.saltlen = (uint32_t)salt_len,
		.secret = (uint8_t *)secret,
		.secretlen = (uint32_t)secret_len,
		.ad = (uint8_t *)ad,
		.adlen = (uint32_t)ad_len,
		.t_cost = t,
		.m_cost = m_kib,
		.lanes = p,
		.threads = p,
		.version = ARGON2_VERSION_13,
		.flags = ARGON2_DEFAULT_FLAGS,
	};
	int r;

	/* Bounds a catalog or backup may not push us past (memory: 4 GiB, time: 64 passes). */
	if (m_kib > (4u << 20) || t == 0 || t > 64 || p == 0 || p > 16)
		return -EINVAL;
	r = argon2_ctx(&ctx, Argon2_id);
	if (r == ARGON2_MEMORY_ALLOCATION_ERROR)
		return -ENOMEM;
	return r == ARGON2_OK ? 0 : -EINVAL;
}

static int gcm(bool enc, const uint8_t key[32], const uint8_t nonce[12], const uint8_t *aad,
	       size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[16])
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0, r = -EIO;

	if (!c)
		return -ENOMEM;
	if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce, enc) != 1 ||
	    (aad_len && EVP_CipherUpdate(c, NULL, &n, aad, (int)aad_len) != 1) ||
	    EVP_CipherUpdate(c, out, &n, in, (int)len) != 1)
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(c, out + n, &n) != 1) {
		r = enc ? -EIO : -EBADMSG;
		goto out;
	}
	if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag) != 1)
		goto out;
	r = 0;
out:
	EVP_CIPHER_CTX_free(c);
	if (r < 0 && !enc)
		OPENSSL_cleanse(out, len);
	return r;
}

/* AES-256-GCM seal/open for the backup file (same shape as the wrap). */
int keys_gcm_seal(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *aad,
		  size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[16])
{
	return gcm(true, key, nonce, aad, aad_len, in, len, out, tag);
}

int keys_gcm_open(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *aad,
		  size_t aad_len, const uint8_t *in, size_t len, uint8_t *out,
		  const uint8_t tag[16])
{
	uint8_t t[16];

	memcpy(t, tag, 16);
	return gcm(false, key, nonce, aad, aad_len, in, len, out, t);
}

/* AAD = "siprecd dek v1" 0x00 key_id 0x00 be32(version) kek_id */
static size_t wrap_aad(const char *kek_id, const char *key_id, uint32_t version, uint8_t *aad)
{
	size_t n = 0, l;

	memcpy(aad, WRAP_AAD_LABEL, sizeof(WRAP_AAD_LABEL));
	n = sizeof(WRAP_AAD_LABEL);
	l = strlen(key_id);
	memcpy(aad + n, key_id, l + 1);
	n += l + 1;
	aad[n++] = version >> 24;
	aad[n++] = version >> 16;
	aad[n++] = version >> 8;
	aad[n++] = version;
	l = strlen(kek_id);
	memcpy(aad + n, kek_id, l);
	return n + l;
}

int keys_dek_wrap(const uint8_t kek[32], const char *kek_id, const char *key_id, uint32_t version,
		  const uint8_t dek[32], uint8_t out[KEYS_WRAPPED_SIZE])
{
	uint8_t aad[sizeof(WRAP_AAD_LABEL) + 2 * (KEYS_KEY_ID_MAX + 1) + 4];

	if (strlen(kek_id) > KEYS_KEY_ID_MAX || strlen(key_id) > KEYS_KEY_ID_MAX)
		return -EINVAL;
	if (RAND_bytes(out, 12) != 1)
		return -EIO;
	return gcm(true, kek, out, aad, wrap_aad(kek_id, key_id, version, aad), dek, 32, out + 12,
		   out + 44);
}

int keys_dek_unwrap(const uint8_t kek[32], const char *kek_id, const char *key_id, uint32_t version,
		    const uint8_t in[KEYS_WRAPPED_SIZE], uint8_t ret_dek[32])
{
	uint8_t aad[sizeof(WRAP_AAD_LABEL) + 2 * (KEYS_KEY_ID_MAX + 1) + 4], dek[32];
	int r;

	if (strlen(kek_id) > KEYS_KEY_ID_MAX || strlen(key_id) > KEYS_KEY_ID_MAX)
		return -EINVAL;
	r = keys_gcm_open(kek, in, aad, wrap_aad(kek_id, key_id, version, aad), in + 12, 32, dek,
			  in + 44);
	if (r == 0)
		memcpy(ret_dek, dek, 32);
	OPENSSL_cleanse(dek, sizeof(dek));
	return r;
}

static int x25519_public(const uint8_t priv[32], uint8_t ret[32])
{
	EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
	size_t n = 32;
	int r = -EIO;

	if (pk && EVP_PKEY_get_raw_public_key(pk, ret, &n) == 1 && n == 32)
		r = 0;
	EVP_PKEY_free(pk);
	return r;
}

static int x25519(const uint8_t priv[32], const uint8_t pub[32], uint8_t ret[32])
{
	EVP_PKEY *sk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
	EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pub, 32);
	EVP_PKEY_CTX *c = sk ? EVP_PKEY_CTX_new(sk, NULL) : NULL;
	size_t n = 32;
	int r = -EIO;

	if (c && pk && EVP_PKEY_derive_init(c) == 1 && EVP_PKEY_derive_set_peer(c, pk) == 1 &&
	    EVP_PKEY_derive(c, ret, &n) == 1 && n == 32)
		r = 0;
	EVP_PKEY_CTX_free(c);
	EVP_PKEY_free(sk);
	EVP_PKEY_free(pk);
	return r;
}

/* wrap key = HKDF-SHA256(ikm = X25519(e, R), salt = E || R, info = label || recording_id) */
static int envelope_key(const uint8_t shared[32], const uint8_t eph_pub[32], const uint8_t pub[32],
			const char *recording_id, uint8_t out[32])
{
	uint8_t salt[64], info[sizeof(ENV_INFO_LABEL) - 1 + KEYS_RECORDING_ID_MAX];
	size_t l = strlen(recording_id);

	if (l == 0 || l > KEYS_RECORDING_ID_MAX)
		return -EINVAL;
	memcpy(salt, eph_pub, 32);
	memcpy(salt + 32, pub, 32);
	memcpy(info, ENV_INFO_LABEL, sizeof(ENV_INFO_LABEL) - 1);
	memcpy(info + sizeof(ENV_INFO_LABEL) - 1, recording_id, l);
	return keys_hkdf_sha256(shared, 32, salt, 64, info, sizeof(ENV_INFO_LABEL) - 1 + l, out,
				32);
}

int keys_envelope_seal(const uint8_t pub[32], const uint8_t *eph_priv, const char *recording_id,
		       const uint8_t key[32], uint8_t out[KEYS_ENVELOPE_SIZE])
{
	uint8_t e[32], shared[32], wk[32];
	int r;

	if (eph_priv)
		memcpy(e, eph_priv, 32);
	else if (RAND_bytes(e, 32) != 1)
		return -EIO;
	r = x25519_public(e, out);
	if (r == 0)
		r = x25519(e, pub, shared);
	if (r == 0)
		r = envelope_key(shared, out, pub, recording_id, wk);
	/* The wrap key is used once, so a fixed nonce would do; a random one costs nothing. */
	if (r == 0 && (eph_priv ? (memset(out + 32, 0, 12), 1) : RAND_bytes(out + 32, 12)) != 1)
		r = -EIO;
	if (r == 0)
		r = gcm(true, wk, out + 32, (const uint8_t *)recording_id, strlen(recording_id),
			key, 32, out + 44, out + 76);
	OPENSSL_cleanse(e, sizeof(e));
	OPENSSL_cleanse(shared, sizeof(shared));
	OPENSSL_cleanse(wk, sizeof(wk));
	return r;
}

int keys_envelope_open(const uint8_t priv[32], const char *recording_id,
		       const uint8_t in[KEYS_ENVELOPE_SIZE], uint8_t ret_key[32])
{
	uint8_t pub[32], shared[32], wk[32], key[32];
	int r;

	r = x25519_public(priv, pub);
	if (r == 0)
		r = x25519(priv, in, shared);
	if (r == 0)
		r = envelope_key(shared, in, pub, recording_id, wk);
	if (r == 0)
		r = keys_gcm_open(wk, in + 32, (const uint8_t *)recording_id, strlen(recording_id),
				  in + 44, 32, key, in + 76);
	if (r == 0)
		memcpy(ret_key, key, 32);
	OPENSSL_cleanse(shared, sizeof(shared));
	OPENSSL_cleanse(wk, sizeof(wk));
	OPENSSL_cleanse(key, sizeof(key));
	return r;
}

int keys_x25519_load(const char *path, bool private_key, uint8_t ret[32])
{
	EVP_PKEY *pk = NULL;
	uint8_t raw[32];
	size_t n = 32;
	struct stat st;
	FILE *f;
	int r = -EBADMSG;

	f = fopen(path, "re");
	if (!f)
		return keys_fail(-errno, "%s: %s", path, strerror(errno));
	if (private_key && fstat(fileno(f), &st) == 0 && (st.st_mode & 077)) {
		fclose(f);
		return keys_fail(-EPERM, "%s: private key is accessible by group or others", path);
	}
	pk = private_key ? PEM_read_PrivateKey(f, NULL, NULL, NULL)
			 : PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	if (!pk)
		return keys_fail(-EBADMSG, "%s: not a PEM X25519 %s key", path,
				 private_key ? "private" : "public");
	if (EVP_PKEY_get_id(pk) == EVP_PKEY_X25519 &&
	    (private_key ? EVP_PKEY_get_raw_private_key(pk, raw, &n)
			 : EVP_PKEY_get_raw_public_key(pk, raw, &n)) == 1 &&
	    n == 32) {
		memcpy(ret, raw, 32);
		r = 0;
	} else
		keys_fail(r, "%s: not an X25519 key", path);
	EVP_PKEY_free(pk);
	OPENSSL_cleanse(raw, sizeof(raw));
	return r;
}

void keys_public_key_id(const uint8_t pub[32], char ret[KEYS_KEY_ID_MAX + 1])
{
	uint8_t md[SHA256_DIGEST_LENGTH];

	SHA256(pub, 32, md);
	memcpy(ret, "pub:", 4);
	hex_encode(md, 8, ret + 4);
}

int keys_derive_recording(const uint8_t dek[32], const char *recording_id, uint8_t out[32])
{
	static const char prefix[] = "siprecd recording";
	uint8_t info[sizeof(prefix) - 1 + KEYS_RECORDING_ID_MAX];
	size_t l;
	int r;

	if (!recording_id || !*recording_id)
		return -EINVAL;
	l = strlen(recording_id);
	if (l > KEYS_RECORDING_ID_MAX)
		return -EINVAL;
	memcpy(info, prefix, sizeof(prefix) - 1);
	memcpy(info + sizeof(prefix) - 1, recording_id, l);
	r = keys_hkdf_sha256(dek, 32, NULL, 0, info, sizeof(prefix) - 1 + l, out, 32);
	return r;
}

int keys_aor_index_compute(const uint8_t dek[32], uint32_t version, const char *aor,
			   char ret[KEYS_AOR_INDEX_MAX + 1])
{
	static const char info[] = "siprecd aor index v1";
	uint8_t key[32], mac[32];
	unsigned ml = 0;
	char norm[KEYS_AOR_MAX];
	size_t n, b = 0, e;
	int r = -EIO;

	if (!aor)
		return -EINVAL;
	e = strlen(aor);
	/* The same normalization as the catalog's lower(aor) comparisons: ASCII case only. */
	while (b < e && (aor[b] == ' ' || aor[b] == '\t'))
		b++;
	while (e > b && (aor[e - 1] == ' ' || aor[e - 1] == '\t'))
		e--;
	n = e - b;
	if (n == 0 || n > sizeof(norm))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = aor[b + i];

		norm[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	if (keys_hkdf_sha256(dek, 32, NULL, 0, (const uint8_t *)info, sizeof(info) - 1, key, 32) ==
		    0 &&
	    HMAC(EVP_sha256(), key, 32, (const uint8_t *)norm, n, mac, &ml) && ml == 32) {
		int p = snprintf(ret, KEYS_AOR_INDEX_MAX + 1, "v%u:", version);

		hex_encode(mac, 32, ret + p);
		r = 0;
	}
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(norm, sizeof(norm));
	return r;
}
