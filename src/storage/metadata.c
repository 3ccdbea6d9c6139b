// SPDX-License-Identifier: MIT
/*
 * The encrypted .metadata side file (docs/FORMAT.md): a JSON envelope around the recording's
 * metadata (RFC 7865 as JSON) sealed with AES-256-GCM or ChaCha20-Poly1305, the recording or
 * session id as associated data. Plain blocking I/O: called by the catalog thread or at session
 * setup, never on a ring thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "siprecd/b64.h"
#include "siprecd/macro.h"
#include "siprecd/storage.h"

#define META_PLAIN_MAX (1u << 20)
#define META_FILE_MAX (3u << 20)

static int seal_or_open(enum store_alg alg, bool enc, const uint8_t *key, const uint8_t *nonce,
			const char *ad, const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
	const EVP_CIPHER *ciph =
		alg == STORE_ALG_AES_256_GCM ? EVP_aes_256_gcm() : EVP_chacha20_poly1305();
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n, r = -EBADMSG;

	if (!c)
		return -ENOMEM;
	if (EVP_CipherInit_ex(c, ciph, NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, STORE_NONCE_SIZE, NULL) != 1 ||
	    EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc) != 1 ||
	    EVP_CipherUpdate(c, NULL, &n, (const uint8_t *)ad, (int)strlen(ad)) != 1)
		goto out;
	if (len && EVP_CipherUpdate(c, out, &n, in, (int)len) != 1)
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, STORE_TAG_SIZE, tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(c, out + len, &n) != 1)
		goto out;
	if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, STORE_TAG_SIZE, tag) != 1)
		goto out;
	r = 0;
out:
	EVP_CIPHER_CTX_free(c);
	return r;
}

int store_metadata_write(const char *path, enum store_alg alg, const uint8_t key[STORE_KEY_SIZE],
			 const char *key_id, uint32_t key_version, const char *ad,
			 const char *json_plaintext, uint64_t created_ns)
{
	uint8_t nonce[STORE_NONCE_SIZE];
	size_t len = json_plaintext ? strlen(json_plaintext) : 0;
	_cleanup_free_ uint8_t *ct = NULL;
	_cleanup_free_ char *nonce64 = NULL, *ct64 = NULL, *tmp = NULL;
	struct json_object *o = NULL;
	const char *text;
	int fd = -1, r;

	if ((alg != STORE_ALG_AES_256_GCM && alg != STORE_ALG_CHACHA20_POLY1305) || !key ||
	    !key_id || !ad || !json_plaintext || len > META_PLAIN_MAX)
		return -EINVAL;
	/* A random nonce: metadata may be rewritten under the same key when it changes. */
	if (RAND_bytes(nonce, sizeof(nonce)) != 1)
		return -EIO;
	ct = malloc(len + STORE_TAG_SIZE);
	if (!ct)
		return -ENOMEM;
	r = seal_or_open(alg, true, key, nonce, ad, (const uint8_t *)json_plaintext, len, ct,
			 ct + len);
	if (r < 0)
		return -EIO;
	nonce64 = b64_encode(nonce, sizeof(nonce));
	ct64 = b64_encode(ct, len + STORE_TAG_SIZE);
	if (asprintf(&tmp, "%s.tmp", path) < 0) {
		tmp = NULL;
		return -ENOMEM;
	}
	o = json_object_new_object();
	if (!o || !nonce64 || !ct64) {
		json_object_put(o);
		return -ENOMEM;
	}
	json_object_object_add(o, "version", json_object_new_int(1));
	json_object_object_add(o, "algorithm", json_object_new_string(store_alg_to_string(alg)));
	json_object_object_add(o, "key_id", json_object_new_string(key_id));
	json_object_object_add(o, "key_version", json_object_new_int64(key_version));
	json_object_object_add(o, "nonce", json_object_new_string(nonce64));
	json_object_object_add(o, "ciphertext", json_object_new_string(ct64));
	json_object_object_add(o, "created",
			       json_object_new_int64((int64_t)(created_ns / 1000000000)));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							 JSON_C_TO_STRING_NOSLASHESCAPE);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = -errno;
		json_object_put(o);
		return r;
	}
	len = strlen(text);
	if (write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 || fsync(fd) < 0)
		r = errno ? -errno : -EIO;
	close(fd);
	json_object_put(o);
	if (r == 0 && link(tmp, path) < 0)
		r = -errno; /* link() refuses to replace, as O_EXCL would */
	unlink(tmp);
	return r;
}

int store_metadata_read(const char *path, const struct store_key_lookup *lookup, const char *ad,
			char **ret_plain)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_free_ uint8_t *nonce = NULL, *ct = NULL;
	struct json_object *o = NULL, *v;
	uint8_t key[STORE_KEY_SIZE];
	size_t nonce_len, ct_len;
	enum store_alg alg;
	char *plain = NULL;
	struct stat st;
	int fd, r;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > META_FILE_MAX) {
		close(fd);
		return -EBADMSG;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		close(fd);
		return -ENOMEM;
	}
	n = read(fd, text, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size)
		return -EIO;
	text[n] = 0;
	o = json_tokener_parse(text);
	r = -EBADMSG;
	if (!o || !json_object_is_type(o, json_type_object))
		goto out;
	if (!json_object_object_get_ex(o, "version", &v) || json_object_get_int(v) != 1 ||
	    !json_object_object_get_ex(o, "algorithm", &v) ||
	    store_alg_from_string(json_object_get_string(v), &alg) < 0 || alg == STORE_ALG_NONE)
		goto out;
	if (!json_object_object_get_ex(o, "nonce", &v) ||
	    b64_decode(json_object_get_string(v), META_FILE_MAX, &nonce, &nonce_len) < 0 ||
	    nonce_len != STORE_NONCE_SIZE || !json_object_object_get_ex(o, "ciphertext", &v) ||
	    b64_decode(json_object_get_string(v), META_FILE_MAX, &ct, &ct_len) < 0 ||
	    ct_len < STORE_TAG_SIZE)
		goto out;
	if (!json_object_object_get_ex(o, "key_id", &v) || !lookup || !lookup->fn) {
		r = -ENOKEY;
		goto out;
	}
	{
		const char *key_id = json_object_get_string(v);
		uint32_t kv = 0;

		if (json_object_object_get_ex(o, "key_version", &v))
			kv = (uint32_t)json_object_get_int64(v);
		r = lookup->fn(lookup->userdata, key_id, kv, ad, key);
		if (r < 0)
			goto out;
	}
	ct_len -= STORE_TAG_SIZE;
	plain = malloc(ct_len + 1);
	if (!plain) {
		r = -ENOMEM;
		goto wipe;
	}
	r = seal_or_open(alg, false, key, nonce, ad, ct, ct_len, (uint8_t *)plain, ct + ct_len);
	if (r < 0) {
		free(plain);
		goto wipe;
	}
	plain[ct_len] = 0;
	*ret_plain = plain;
wipe:
	OPENSSL_cleanse(key, sizeof(key));
out:
	json_object_put(o);
	return r;
}
