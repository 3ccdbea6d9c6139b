// SPDX-License-Identifier: MIT
/*
 * The in-memory key set shared by every provider (locked, undumpable secret pages; lookup and
 * HKDF derivation of per-recording keys) and the legacy provider: one 256-bit data key in a file
 * (64 hex digits), created on first use with mode 0600 and refused when others can read it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "keys/keys-internal.h"
#include "siprecd/catalog.h"
#include "siprecd/macro.h"
#include "siprecd/str.h"

#define KEY_FILE_VERSION 1

static __thread char error_buf[256];

int keys_fail(int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(error_buf, sizeof(error_buf), fmt, ap);
	va_end(ap);
	return r;
}

const char *keys_error(void)
{
	return error_buf;
}

uint64_t keys_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int keys_from_hex(const char *in, size_t hexlen, uint8_t *out)
{
	if (hexlen % 2)
		return -EBADMSG;
	for (size_t i = 0; i < hexlen / 2; i++) {
		int hi = hex_digit(in[2 * i]), lo = hex_digit(in[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EBADMSG;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

struct keys *keys_alloc(enum keys_mode mode)
{
	struct keys *k = calloc(1, sizeof(*k));
	void *p;

	if (!k)
		return NULL;
	k->deks = calloc(KEYS_DEK_MAX, sizeof(*k->deks));
	p = mmap(NULL, sizeof(struct keys_secret), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!k->deks || p == MAP_FAILED) {
		free(k->deks);
		free(k);
		return NULL;
	}
	k->secret = p;
	/* Keys never reach swap (where the limit allows) nor a core dump. */
	k->locked = mlock(p, sizeof(struct keys_secret)) == 0;
	(void)madvise(p, sizeof(struct keys_secret), MADV_DONTDUMP);
	k->mode = mode;
	k->active = -1;
	pthread_mutex_init(&k->lock, NULL);
	pthread_cond_init(&k->cond, NULL);
	pthread_cond_init(&k->md_cond, NULL);
	return k;
}

/* Reads a 256-bit key: 64 hex digits (trailing newline allowed) or exactly 32 raw bytes. */
static int read_key_fd(const char *path, const char *what, int fd, uint8_t ret[32])
{
	char buf[130];
	struct stat st;
	ssize_t n;
	size_t len;
	int r = 0;

	if (fstat(fd, &st) < 0)
		return keys_fail(-errno, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return keys_fail(-EBADMSG, "%s: %s is not a regular file", path, what);
	if (st.st_mode & 077)
		return keys_fail(-EPERM,
				 "%s: %s is accessible by group or others (mode %04o); run chmod "
				 "600 %s",
				 path, what, (unsigned)(st.st_mode & 07777), path);
	n = read(fd, buf, sizeof(buf));
	if (n < 0)
		return keys_fail(-errno, "%s: %s", path, strerror(errno));
	len = (size_t)n;
	if (len == 32) {
		memcpy(ret, buf, 32);
		goto out;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	if (len != 64 || keys_from_hex(buf, 64, ret) < 0)
		r = keys_fail(-EBADMSG, "%s: %s must hold 64 hexadecimal digits", path, what);
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	return r;
}

int keys_read_key_file(const char *path, const char *what, uint8_t ret[32])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), r;

	if (fd < 0)
		return keys_fail(-errno, "%s: cannot open %s: %s", path, what, strerror(errno));
	r = read_key_fd(path, what, fd, ret);
	close(fd);
	return r;
}

static int create_key_file(const char *path, uint8_t key[32])
{
	char hex[65 + 1];
	int fd, r = 0;

	if (RAND_bytes(key, 32) != 1)
		return keys_fail(-EIO, "%s: no random bytes available", path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return keys_fail(-errno, "%s: cannot create key file: %s", path, strerror(errno));
	hex_encode(key, 32, hex);
	hex[64] = '\n';
	if (write(fd, hex, 65) != 65 || fsync(fd) < 0) {
		r = errno ? -errno : -EIO;
		keys_fail(r, "%s: cannot write key file: %s", path, strerror(-r));
		unlink(path);
	}
	OPENSSL_cleanse(hex, sizeof(hex));
	close(fd);
	return r;
}

int keys_open_or_create_key_file(const char *path, uint8_t ret[32], bool *ret_created)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), r;

	*ret_created = false;
	if (fd < 0 && errno == ENOENT) {
		r = create_key_file(path, ret);
		*ret_created = r == 0;
		return r;
	}
	if (fd < 0)
		return keys_fail(-errno, "%s: cannot open key file: %s", path, strerror(errno));
	r = read_key_fd(path, "key file", fd, ret);
	close(fd);
	return r;
}

/* "file:" + hex(SHA-256(key)[0..8]): names the legacy key without revealing it. */
static void legacy_key_id(const uint8_t key[32], char out[KEYS_KEY_ID_MAX + 1])
{
	uint8_t md[SHA256_DIGEST_LENGTH];

	SHA256(key, 32, md);
	memcpy(out, "file:", 5);
	hex_encode(md, 8, out + 5);
}

int keys_add_legacy(struct keys *k, const uint8_t key[32], bool active)
{
	struct keys_dek *d;

	if (k->n_deks >= KEYS_DEK_MAX)
		return -E2BIG;
	d = &k->deks[k->n_deks];
	memset(d, 0, sizeof(*d));
	legacy_key_id(key, d->key_id);
	d->version = KEY_FILE_VERSION;
	snprintf(d->state, sizeof(d->state), "%s", active ? "active" : "legacy");
	d->have_key = true;
	d->slot = k->n_deks;
	memcpy(k->secret->dek[d->slot], key, 32);
	if (active)
		k->active = (int)k->n_deks;
	k->n_deks++;
	return 0;
}

int keys_open_file(const char *path, struct keys **ret)
{
	uint8_t key[32];
	struct keys *k;
	bool created;
	int r;

	error_buf[0] = 0;
	if (!path || !*path)
		return keys_fail(-EINVAL, "no key file path");
	k = keys_alloc(KEYS_MODE_LEGACY_FILE);
	if (!k)
		return -ENOMEM;
	r = keys_open_or_create_key_file(path, key, &created);
	if (r == 0)
		r = keys_add_legacy(k, key, true);
	OPENSSL_cleanse(key, sizeof(key));
	if (r < 0) {
		keys_free(k);
		return r;
	}
	snprintf(k->source, sizeof(k->source), "file");
	*ret = k;
	return 0;
}

struct keys *keys_free(struct keys *k)
{
	if (!k)
		return NULL;
	keys_rotation_stop(k);
	keys_md_free_all(k);
	if (k->db)
		sqlite3_close(k->db);
	OPENSSL_cleanse(k->secret, sizeof(*k->secret));
	munmap(k->secret, sizeof(*k->secret));
	pthread_mutex_destroy(&k->lock);
	pthread_cond_destroy(&k->cond);
	pthread_cond_destroy(&k->md_cond);
	free(k->backup_dir);
	free(k->backup_pass_file);
	free(k->deks);
	OPENSSL_cleanse(k, sizeof(*k));
	free(k);
	return NULL;
}

const char *keys_warning(const struct keys *k)
{
	return k->warning;
}

bool keys_write_only(const struct keys *k)
{
	return k->mode == KEYS_MODE_WRITE_ONLY;
}

void keys_set_catalog(struct keys *k, struct catalog *c)
{
	k->catalog = c;
}

const char *keys_current_key_id(const struct keys *k)
{
	if (k->mode == KEYS_MODE_WRITE_ONLY)
		return k->pub_id;
	/* key ids never change for a store's lifetime, so no lock is needed for the pointer. */
	return k->active >= 0 ? k->deks[k->active].key_id : "";
}

uint32_t keys_current_version(const struct keys *k)
{
	uint32_t v;

	if (k->mode == KEYS_MODE_WRITE_ONLY)
		return 1;
	pthread_mutex_lock((pthread_mutex_t *)&k->lock);
	v = k->active >= 0 ? k->deks[k->active].version : 0;
	pthread_mutex_unlock((pthread_mutex_t *)&k->lock);
	return v;
}

int keys_find(const struct keys *k, const char *key_id, uint32_t version)
{
	for (unsigned i = 0; i < k->n_deks; i++)
		if (k->deks[i].version == version && strcmp(k->deks[i].key_id, key_id) == 0)
			return (int)i;
	return -1;
}

static int write_only_new(struct keys *k, const char *recording_id, struct recording_key *ret)
{
	uint8_t env[KEYS_ENVELOPE_SIZE];
	char kid[KEYS_KEY_ID_MAX + 1];
	struct recording_key rk = {0};
	int r;

	if (!k->catalog)
		return -ENOKEY;
	if (strlen(recording_id) + 4 > KEYS_KEY_ID_MAX)
		return -EINVAL;
	if (RAND_bytes(rk.key, sizeof(rk.key)) != 1)
		return -EIO;
	r = keys_envelope_seal(k->pub, NULL, recording_id, rk.key, env);
	if (r == 0) {
		snprintf(kid, sizeof(kid), "env:%s", recording_id);
		r = catalog_key_upsert(k->catalog,
				       &(struct catalog_key){
					       .key_id = kid,
					       .version = 1,
					       .algorithm = "X25519-envelope",
					       .state = "active",
					       .created_at = keys_now_ms(),
					       .wrapped = env,
					       .wrapped_len = sizeof(env),
					       .wrap_alg = "X25519-HKDF-SHA256-AES-256-GCM",
					       .kek_id = k->pub_id,
				       });
	}
	if (r == 0) {
		snprintf(rk.key_id, sizeof(rk.key_id), "%s", k->pub_id);
		rk.key_version = 1;
		*ret = rk;
	}
	OPENSSL_cleanse(&rk, sizeof(rk));
	return r;
}

int keys_recording_key_new(struct keys *k, const char *recording_id, struct recording_key *ret)
{
	struct recording_key rk = {0};
	int r;

	if (!recording_id || !*recording_id || strlen(recording_id) > KEYS_RECORDING_ID_MAX)
		return -EINVAL;
	if (k->mode == KEYS_MODE_WRITE_ONLY)
		return write_only_new(k, recording_id, ret);
	pthread_mutex_lock(&k->lock);
	if (k->active < 0 || !k->deks[k->active].have_key) {
		r = -ENOKEY;
	} else {
		const struct keys_dek *d = &k->deks[k->active];

		r = keys_derive_recording(k->secret->dek[d->slot], recording_id, rk.key);
		memcpy(rk.key_id, d->key_id, sizeof(rk.key_id));
		rk.key_version = d->version;
	}
	pthread_mutex_unlock(&k->lock);
	if (r == 0)
		*ret = rk;
	OPENSSL_cleanse(&rk, sizeof(rk));
	return r;
}

int keys_recording_key_get(struct keys *k, const char *key_id, uint32_t key_version,
			   const char *recording_id, struct recording_key *ret)
{
	struct recording_key rk = {0};
	int i, r;

	if (!key_id)
		return -ENOKEY;
	if (k->mode == KEYS_MODE_WRITE_ONLY)
		return -EKEYREJECTED;
	pthread_mutex_lock(&k->lock);
	i = keys_find(k, key_id, key_version);
	if (i < 0)
		r = -ENOKEY;
	else if (!k->deks[i].have_key)
		r = strcmp(k->deks[i].state, "destroyed") == 0 ? -EKEYREVOKED : -ENOKEY;
	else {
		r = keys_derive_recording(k->secret->dek[k->deks[i].slot], recording_id, rk.key);
		memcpy(rk.key_id, k->deks[i].key_id, sizeof(rk.key_id));
		rk.key_version = key_version;
	}
	pthread_mutex_unlock(&k->lock);
	if (r == 0)
		*ret = rk;
	OPENSSL_cleanse(&rk, sizeof(rk));
	return r;
}

void recording_key_wipe(struct recording_key *rk)
{
	if (rk)
		OPENSSL_cleanse(rk, sizeof(*rk));
}

int keys_aor_index(struct keys *k, const char *aor, char ret[KEYS_AOR_INDEX_MAX + 1])
{
	int r;

	if (k->mode == KEYS_MODE_WRITE_ONLY)
		return -ENOKEY;
	pthread_mutex_lock(&k->lock);
	if (k->active < 0 || !k->deks[k->active].have_key)
		r = -ENOKEY;
	else
		r = keys_aor_index_compute(k->secret->dek[k->deks[k->active].slot],
					   k->deks[k->active].version, aor, ret);
	pthread_mutex_unlock(&k->lock);
	return r;
}

int keys_aor_indexes(struct keys *k, const char *aor, const char ***ret, size_t *ret_n)
{
	const char **v = NULL;
	char(*text)[KEYS_AOR_INDEX_MAX + 1];
	size_t n = 0, nd;
	int r = 0;

	*ret = NULL;
	*ret_n = 0;
	if (k->mode == KEYS_MODE_WRITE_ONLY)
		return 0;
	pthread_mutex_lock(&k->lock);
	/* the pointers, then the text they point to, in one block */
	nd = k->n_deks;
	v = nd ? malloc(nd * (sizeof(*v) + sizeof(*text))) : NULL;
	if (!v) {
		pthread_mutex_unlock(&k->lock);
		return nd ? -ENOMEM : 0;
	}
	text = (void *)(v + nd);
	for (unsigned i = 0; i < k->n_deks && r == 0; i++) {
		/* A legacy key beside the hierarchy is the file KEK itself (open_hierarchy): no
		 * participant was ever indexed under it (the daemon indexes under the active
		 * version only), and an index under it would be a catalog row keyed from the
		 * KEK, counted as a second "v1". */
		if (!k->deks[i].have_key ||
		    (k->mode == KEYS_MODE_HIERARCHY && strcmp(k->deks[i].state, "legacy") == 0))
			continue;
		r = keys_aor_index_compute(k->secret->dek[k->deks[i].slot], k->deks[i].version, aor,
					   text[n]);
		if (r == 0) {
			v[n] = text[n];
			n++;
		}
	}
	pthread_mutex_unlock(&k->lock);
	if (r < 0 || n == 0) {
		free(v);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}
