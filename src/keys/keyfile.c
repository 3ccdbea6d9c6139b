// SPDX-License-Identifier: MIT
/*
 * The simple key provider: one 256-bit data key in a file (64 hex digits), created on first use
 * with mode 0600 and refused when others can read it. Per-recording keys are derived with HKDF so
 * that every recording has its own key (which is what makes the .siprec counter nonces safe).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "siprecd/keys.h"
#include "siprecd/macro.h"

#define KEY_FILE_VERSION 1
#define INFO_PREFIX "siprecd recording"

struct keys {
	uint8_t key[32];
	char key_id[KEYS_KEY_ID_MAX + 1];
};

static __thread char error_buf[256];

_printf_(1, 2) static int fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(error_buf, sizeof(error_buf), fmt, ap);
	va_end(ap);
	return 0;
}

const char *keys_error(void)
{
	return error_buf;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void to_hex(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * n] = 0;
}

/* key id = "file:" + hex(SHA-256(key)[0..8]): names the key without revealing it. */
static void make_key_id(struct keys *k)
{
	uint8_t md[SHA256_DIGEST_LENGTH];

	SHA256(k->key, sizeof(k->key), md);
	memcpy(k->key_id, "file:", 5);
	to_hex(md, 8, k->key_id + 5);
}

static int create_key_file(const char *path, struct keys *k)
{
	char hex[65 + 1];
	int fd, r = 0;

	if (RAND_bytes(k->key, sizeof(k->key)) != 1) {
		fail("%s: no random bytes available", path);
		return -EIO;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = -errno;
		fail("%s: cannot create key file: %s", path, strerror(errno));
		return r;
	}
	to_hex(k->key, sizeof(k->key), hex);
	hex[64] = '\n';
	if (write(fd, hex, 65) != 65 || fsync(fd) < 0) {
		r = errno ? -errno : -EIO;
		fail("%s: cannot write key file: %s", path, strerror(-r));
		unlink(path);
	}
	OPENSSL_cleanse(hex, sizeof(hex));
	close(fd);
	return r;
}

static int read_key_file(const char *path, int fd, struct keys *k)
{
	char buf[130];
	struct stat st;
	ssize_t n;
	size_t len;
	int r = 0;

	if (fstat(fd, &st) < 0) {
		r = -errno;
		fail("%s: %s", path, strerror(errno));
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		fail("%s: key file is not a regular file", path);
		return -EBADMSG;
	}
	if (st.st_mode & 077) {
		fail("%s: key file is accessible by group or others (mode %04o); run chmod 600 %s",
		     path, (unsigned)(st.st_mode & 07777), path);
		return -EPERM;
	}
	n = read(fd, buf, sizeof(buf));
	if (n < 0) {
		r = -errno;
		fail("%s: %s", path, strerror(errno));
		return r;
	}
	len = (size_t)n;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	if (len != 64) {
		fail("%s: key file must hold 64 hexadecimal digits", path);
		r = -EBADMSG;
		goto out;
	}
	for (size_t i = 0; i < 32; i++) {
		int hi = hexval(buf[2 * i]), lo = hexval(buf[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			fail("%s: key file must hold 64 hexadecimal digits", path);
			r = -EBADMSG;
			goto out;
		}
		k->key[i] = (uint8_t)(hi << 4 | lo);
	}
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	return r;
}

int keys_open_file(const char *path, struct keys **ret)
{
	struct keys *k;
	int fd, r;

	error_buf[0] = 0;
	if (!path || !*path) {
		fail("no key file path");
		return -EINVAL;
	}
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT)
		r = create_key_file(path, k);
	else if (fd < 0) {
		r = -errno;
		fail("%s: cannot open key file: %s", path, strerror(errno));
	} else {
		r = read_key_file(path, fd, k);
		close(fd);
	}
	if (r < 0) {
		keys_free(k);
		return r;
	}
	make_key_id(k);
	*ret = k;
	return 0;
}

struct keys *keys_free(struct keys *k)
{
	if (!k)
		return NULL;
	OPENSSL_cleanse(k, sizeof(*k));
	free(k);
	return NULL;
}

const char *keys_current_key_id(const struct keys *k)
{
	return k->key_id;
}

static int derive(const struct keys *k, const char *recording_id, struct recording_key *ret)
{
	uint8_t info[sizeof(INFO_PREFIX) - 1 + KEYS_RECORDING_ID_MAX];
	struct recording_key rk = {0};
	size_t n, idlen;
	EVP_PKEY_CTX *pc;
	int r = -EIO;

	if (!recording_id || !*recording_id)
		return -EINVAL;
	idlen = strlen(recording_id);
	if (idlen > KEYS_RECORDING_ID_MAX)
		return -EINVAL;
	memcpy(info, INFO_PREFIX, sizeof(INFO_PREFIX) - 1);
	memcpy(info + sizeof(INFO_PREFIX) - 1, recording_id, idlen);
	n = sizeof(rk.key);
	pc = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
	if (pc && EVP_PKEY_derive_init(pc) == 1 &&
	    EVP_PKEY_CTX_set_hkdf_md(pc, EVP_sha256()) == 1 &&
	    EVP_PKEY_CTX_set1_hkdf_key(pc, k->key, sizeof(k->key)) == 1 &&
	    EVP_PKEY_CTX_add1_hkdf_info(pc, info, (int)(sizeof(INFO_PREFIX) - 1 + idlen)) == 1 &&
	    EVP_PKEY_derive(pc, rk.key, &n) == 1 && n == sizeof(rk.key)) {
		memcpy(rk.key_id, k->key_id, sizeof(rk.key_id));
		rk.key_version = KEY_FILE_VERSION;
		*ret = rk;
		r = 0;
	}
	EVP_PKEY_CTX_free(pc);
	OPENSSL_cleanse(&rk, sizeof(rk));
	return r;
}

int keys_recording_key_new(struct keys *k, const char *recording_id, struct recording_key *ret)
{
	return derive(k, recording_id, ret);
}

int keys_recording_key_get(struct keys *k, const char *key_id, uint32_t key_version,
			   const char *recording_id, struct recording_key *ret)
{
	if (!key_id || strcmp(key_id, k->key_id) != 0 || key_version != KEY_FILE_VERSION)
		return -ENOKEY;
	return derive(k, recording_id, ret);
}

void recording_key_wipe(struct recording_key *rk)
{
	if (rk)
		OPENSSL_cleanse(rk, sizeof(*rk));
}
