// SPDX-License-Identifier: MIT
/*
 * What the key store does while the daemon runs, besides rotating: re-reading the catalog's key
 * state (rotations and destructions made by siprecd-keys), automatic encrypted backups after a
 * rotation, and sealed metadata (ENABLE_METADATA_ENCRYPTION): the JSON envelope for catalog
 * blobs and the .metadata files the rotation thread writes off the loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "keys/keys-internal.h"
#include "siprecd/b64.h"
#include "siprecd/storage.h"

#define MD_QUEUE_MAX 4096u
#define MD_ENVELOPE_MAX (3u << 20)
#define MD_ALG "AES-256-GCM"

/* ---- key state refresh ---- */

struct row {
	char key_id[KEYS_KEY_ID_MAX + 1];
	uint32_t version;
	char state[16];
	uint64_t created_at, activated_at, retired_at, destroyed_at;
	uint8_t wrapped[KEYS_WRAPPED_SIZE];
	bool has_wrapped;
	char kek_id[KEYS_KEY_ID_MAX + 1];
};

static int read_rows(struct keys *k, struct row *rows, unsigned *ret_n)
{
	sqlite3_stmt *st;
	unsigned n = 0;
	int s, r = 0;

	if (sqlite3_prepare_v2(k->db,
			       "SELECT key_id, version, state, created_at, activated_at, "
			       "retired_at, destroyed_at, wrapped, kek_id FROM keys "
			       "WHERE algorithm = 'AES-256' ORDER BY version",
			       -1, &st, NULL) != SQLITE_OK)
		return keys_fail(-EIO, "catalog: reading data keys: %s", sqlite3_errmsg(k->db));
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 0);
		const char *state = (const char *)sqlite3_column_text(st, 2);
		const char *kek = (const char *)sqlite3_column_text(st, 8);
		struct row *w = &rows[n];

		if (n >= KEYS_DEK_MAX) {
			r = keys_fail(-E2BIG, "more than %d data key versions", KEYS_DEK_MAX);
			break;
		}
		if (!id || strlen(id) > KEYS_KEY_ID_MAX || !state)
			continue;
		memset(w, 0, sizeof(*w));
		snprintf(w->key_id, sizeof(w->key_id), "%s", id);
		w->version = (uint32_t)sqlite3_column_int64(st, 1);
		snprintf(w->state, sizeof(w->state), "%s", state);
		w->created_at = (uint64_t)sqlite3_column_int64(st, 3);
		w->activated_at = (uint64_t)sqlite3_column_int64(st, 4);
		w->retired_at = (uint64_t)sqlite3_column_int64(st, 5);
		w->destroyed_at = (uint64_t)sqlite3_column_int64(st, 6);
		if (sqlite3_column_bytes(st, 7) == KEYS_WRAPPED_SIZE) {
			memcpy(w->wrapped, sqlite3_column_blob(st, 7), KEYS_WRAPPED_SIZE);
			w->has_wrapped = true;
		}
		snprintf(w->kek_id, sizeof(w->kek_id), "%s", kek ? kek : "");
		n++;
	}
	if (r == 0 && s != SQLITE_DONE)
		r = keys_fail(-EIO, "catalog: reading data keys: %s", sqlite3_errmsg(k->db));
	sqlite3_finalize(st);
	if (r == 0)
		*ret_n = n;
	return r;
}

void keys_notify_change(struct keys *k, bool external)
{
	char id[KEYS_KEY_ID_MAX + 1] = "";
	uint32_t v = 0;

	if (!k->change_fn)
		return;
	pthread_mutex_lock(&k->lock);
	if (k->active >= 0) {
		snprintf(id, sizeof(id), "%s", k->deks[k->active].key_id);
		v = k->deks[k->active].version;
	}
	pthread_mutex_unlock(&k->lock);
	k->change_fn(k->change_ud, id, v, external);
}

int keys_refresh(struct keys *k)
{
	struct row *rows;
	unsigned n = 0;
	int r, new_active = -1, changed = 0, bad = 0;

	if (k->mode != KEYS_MODE_HIERARCHY || !k->db)
		return 0;
	rows = calloc(KEYS_DEK_MAX, sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	r = read_rows(k, rows, &n);
	if (r < 0)
		goto out;
	pthread_mutex_lock(&k->lock);
	for (unsigned j = 0; j < n; j++) {
		struct row *w = &rows[j];
		int i = keys_find(k, w->key_id, w->version);
		struct keys_dek *d;

		if (i < 0) {
			if (k->n_deks >= KEYS_DEK_MAX)
				continue;
			i = (int)k->n_deks;
			d = &k->deks[i];
			memset(d, 0, sizeof(*d));
			snprintf(d->key_id, sizeof(d->key_id), "%s", w->key_id);
			d->version = w->version;
			d->slot = (unsigned)i;
			if (strcmp(w->state, "destroyed") != 0) {
				/* Created by another process (siprecd-keys rotate): unwrap it. A
				 * version wrapped by another KEK (rekek while running) stays
				 * unusable until restart. */
				if (!w->has_wrapped || strcmp(w->kek_id, k->kek_id) != 0 ||
				    keys_dek_unwrap(k->secret->kek, k->kek_id, w->key_id,
						    w->version, w->wrapped,
						    k->secret->dek[d->slot]) < 0) {
					bad++;
					continue;
				}
				d->have_key = true;
			}
			k->n_deks++;
		}
		d = &k->deks[i];
		snprintf(d->state, sizeof(d->state), "%s", w->state);
		d->created_at = w->created_at;
		d->activated_at = w->activated_at;
		d->retired_at = w->retired_at;
		d->destroyed_at = w->destroyed_at;
		if (strcmp(w->state, "destroyed") == 0 && d->have_key) {
			/* Crypto-shredded by siprecd-keys: forget it here too. */
			OPENSSL_cleanse(k->secret->dek[d->slot], 32);
			d->have_key = false;
		}
		if (strcmp(w->state, "active") == 0 && d->have_key)
			new_active = i;
	}
	if (new_active >= 0 && new_active != k->active) {
		k->active = new_active;
		changed = 1;
	}
	pthread_mutex_unlock(&k->lock);
	OPENSSL_cleanse(rows, KEYS_DEK_MAX * sizeof(*rows));
	if (bad)
		r = keys_fail(-EKEYREJECTED,
			      "%d data key version(s) in the catalog do not unwrap under KEK %s "
			      "(KEK rotated while running? restart with the new KEK)",
			      bad, k->kek_id);
	else
		r = changed;
	if (changed)
		keys_notify_change(k, true);
out:
	free(rows);
	return r;
}

int keys_refresh_request(struct keys *k)
{
	if (!k->thread_running)
		return -ESRCH;
	pthread_mutex_lock(&k->lock);
	k->refresh_now = true;
	pthread_cond_signal(&k->cond);
	pthread_mutex_unlock(&k->lock);
	return 0;
}

void keys_set_change_callback(struct keys *k,
			      void (*fn)(void *userdata, const char *key_id, uint32_t version,
					 bool external),
			      void *userdata)
{
	k->change_fn = fn;
	k->change_ud = userdata;
}

/* ---- automatic backups ---- */

/* The backup passphrase: the file (refused when group/world accessible) or the credential. */
static int read_passphrase(struct keys *k, char *buf, size_t size)
{
	const char *cred = getenv("CREDENTIALS_DIRECTORY");
	char path[4096];
	struct stat st;
	ssize_t n;
	int fd;

	if (k->backup_pass_file && *k->backup_pass_file)
		snprintf(path, sizeof(path), "%s", k->backup_pass_file);
	else if (cred && *cred)
		snprintf(path, sizeof(path), "%s/backup-passphrase", cred);
	else
		return keys_fail(-ENOKEY,
				 "KEY_BACKUP_ENABLED: no KEY_BACKUP_PASSPHRASE_FILE and no "
				 "backup-passphrase credential");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return keys_fail(-errno, "backup passphrase %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077)) {
		close(fd);
		return keys_fail(-EPERM,
				 "backup passphrase %s: must be a regular file readable by its "
				 "owner only (chmod 600)",
				 path);
	}
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return keys_fail(-EIO, "backup passphrase %s: %s", path, strerror(errno));
	buf[n] = 0;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = 0;
	if (n < 8) {
		OPENSSL_cleanse(buf, size);
		return keys_fail(-EINVAL, "backup passphrase %s: at least 8 characters", path);
	}
	return 0;
}

int keys_backup_check(struct keys *k)
{
	char pw[1024];
	int r;

	if (!k->backup_dir)
		return 0;
	if (mkdir(k->backup_dir, 0700) < 0 && errno != EEXIST)
		return keys_fail(-errno, "KEY_BACKUP_PATH %s: %s", k->backup_dir, strerror(errno));
	r = read_passphrase(k, pw, sizeof(pw));
	OPENSSL_cleanse(pw, sizeof(pw));
	return r;
}

int keys_backup_after_rotation(struct keys *k)
{
	char pw[1024], path[4096], name[96];
	uint32_t v = 0;
	unsigned count;
	int r;

	if (!k->backup_dir)
		return 0;
	pthread_mutex_lock(&k->lock);
	if (k->active >= 0)
		v = k->deks[k->active].version;
	pthread_mutex_unlock(&k->lock);
	snprintf(name, sizeof(name), "keys-%llu-v%u.backup", (unsigned long long)keys_now_ms(), v);
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", k->backup_dir, name) >= sizeof(path))
		return keys_fail(-ENAMETOOLONG, "KEY_BACKUP_PATH is too long");
	if (mkdir(k->backup_dir, 0700) < 0 && errno != EEXIST)
		return keys_fail(-errno, "KEY_BACKUP_PATH %s: %s", k->backup_dir, strerror(errno));
	r = read_passphrase(k, pw, sizeof(pw));
	if (r == 0)
		r = keys_backup(k, path, pw, &count);
	OPENSSL_cleanse(pw, sizeof(pw));
	snprintf(k->last_backup, sizeof(k->last_backup), "%s", r == 0 ? name : "");
	return r;
}

const char *keys_last_backup(const struct keys *k)
{
	return k->last_backup;
}

/* ---- sealed metadata ---- */

int keys_metadata_seal(const struct recording_key *rk, const char *aad, const void *plain,
		       size_t len, uint64_t created_ms, char **ret_text)
{
	uint8_t nonce[12];
	uint8_t *ct = NULL;
	char *n64 = NULL, *c64 = NULL, *text = NULL;
	json_object *o = NULL;
	int r = -ENOMEM;

	if (!rk || !aad || (!plain && len) || len > MD_ENVELOPE_MAX / 2)
		return -EINVAL;
	if (RAND_bytes(nonce, sizeof(nonce)) != 1)
		return -EIO;
	ct = malloc(len + 16);
	if (!ct)
		return -ENOMEM;
	r = keys_gcm_seal(rk->key, nonce, (const uint8_t *)aad, strlen(aad), plain, len, ct,
			  ct + len);
	if (r < 0)
		goto out;
	r = -ENOMEM;
	n64 = b64_encode(nonce, sizeof(nonce));
	c64 = b64_encode(ct, len + 16);
	o = json_object_new_object();
	if (!n64 || !c64 || !o)
		goto out;
	json_object_object_add(o, "version", json_object_new_int(1));
	json_object_object_add(o, "algorithm", json_object_new_string(MD_ALG));
	json_object_object_add(o, "key_id", json_object_new_string(rk->key_id));
	json_object_object_add(o, "key_version", json_object_new_int64(rk->key_version));
	json_object_object_add(o, "nonce", json_object_new_string(n64));
	json_object_object_add(o, "ciphertext", json_object_new_string(c64));
	json_object_object_add(o, "created", json_object_new_int64((int64_t)(created_ms / 1000)));
	text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								JSON_C_TO_STRING_NOSLASHESCAPE));
	if (!text)
		goto out;
	*ret_text = text;
	r = 0;
out:
	json_object_put(o);
	free(n64);
	free(c64);
	free(ct);
	return r;
}

int keys_metadata_open(const char *text, size_t len, const char *key_rec_id, const char *aad,
		       const struct store_key_lookup *lookup, char **ret_plain, size_t *ret_len)
{
	json_object *o = NULL, *v;
	uint8_t *nonce = NULL, *ct = NULL, key[32];
	size_t nl = 0, cl = 0;
	char *plain = NULL;
	const char *kid;
	uint32_t ver;
	int r = -EBADMSG;

	if (!text || len > MD_ENVELOPE_MAX || !lookup || !lookup->fn)
		return -EINVAL;
	o = json_tokener_parse(text);
	if (!o || !json_object_is_type(o, json_type_object))
		goto out;
	if (!json_object_object_get_ex(o, "version", &v) || json_object_get_int(v) != 1 ||
	    !json_object_object_get_ex(o, "algorithm", &v) ||
	    strcmp(json_object_get_string(v), MD_ALG) != 0 ||
	    !json_object_object_get_ex(o, "key_id", &v))
		goto out;
	kid = json_object_get_string(v);
	if (!json_object_object_get_ex(o, "key_version", &v))
		goto out;
	ver = (uint32_t)json_object_get_int64(v);
	if (!json_object_object_get_ex(o, "nonce", &v) ||
	    b64_decode(json_object_get_string(v), MD_ENVELOPE_MAX, &nonce, &nl) < 0 || nl != 12 ||
	    !json_object_object_get_ex(o, "ciphertext", &v) ||
	    b64_decode(json_object_get_string(v), MD_ENVELOPE_MAX, &ct, &cl) < 0 || cl < 16)
		goto out;
	r = lookup->fn(lookup->userdata, kid, ver, key_rec_id, key);
	if (r < 0)
		goto out;
	plain = malloc(cl - 16 + 1);
	if (!plain) {
		r = -ENOMEM;
		goto wipe;
	}
	r = keys_gcm_open(key, nonce, (const uint8_t *)aad, strlen(aad), ct, cl - 16,
			  (uint8_t *)plain, ct + cl - 16);
	if (r < 0) {
		r = -EBADMSG;
		free(plain);
		goto wipe;
	}
	plain[cl - 16] = 0;
	*ret_plain = plain;
	if (ret_len)
		*ret_len = cl - 16;
wipe:
	OPENSSL_cleanse(key, sizeof(key));
out:
	json_object_put(o);
	free(nonce);
	free(ct);
	return r;
}

struct keys_md_job {
	struct keys_md_job *next;
	char *path, *rec_id, *json;
	struct recording_key rk;
};

static void md_job_free(struct keys_md_job *j)
{
	recording_key_wipe(&j->rk);
	if (j->json)
		OPENSSL_cleanse(j->json, strlen(j->json));
	free(j->json);
	free(j->path);
	free(j->rec_id);
	free(j);
}

int keys_metadata_write_async(struct keys *k, const char *path, const struct recording_key *rk,
			      const char *key_rec_id, const char *json)
{
	struct keys_md_job *j;

	if (!k->thread_running)
		return -ESRCH;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->path = strdup(path);
	j->rec_id = strdup(key_rec_id);
	j->json = strdup(json);
	j->rk = *rk;
	if (!j->path || !j->rec_id || !j->json) {
		md_job_free(j);
		return -ENOMEM;
	}
	pthread_mutex_lock(&k->lock);
	if (k->md_pending >= MD_QUEUE_MAX) {
		pthread_mutex_unlock(&k->lock);
		md_job_free(j);
		return -EAGAIN;
	}
	if (k->md_tail)
		k->md_tail->next = j;
	else
		k->md_head = j;
	k->md_tail = j;
	k->md_pending++;
	pthread_cond_signal(&k->cond);
	pthread_mutex_unlock(&k->lock);
	return 0;
}

/* Writes path atomically: store_metadata_write refuses to replace, so write path.new and
 * rename it over path (a later document of the same session replaces the earlier one). */
static int md_write(struct keys_md_job *j)
{
	struct timespec ts;
	char *tmp = NULL;
	int r;

	if (asprintf(&tmp, "%s.new", j->path) < 0)
		return -ENOMEM;
	clock_gettime(CLOCK_REALTIME, &ts);
	unlink(tmp);
	r = store_metadata_write(tmp, STORE_ALG_AES_256_GCM, j->rk.key, j->rk.key_id,
				 j->rk.key_version, j->rec_id, j->json,
				 (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
	if (r == 0 && rename(tmp, j->path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	free(tmp);
	return r;
}

void keys_md_run(struct keys *k)
{
	while (k->md_head) {
		struct keys_md_job *j = k->md_head;
		int r;

		k->md_head = j->next;
		if (!k->md_head)
			k->md_tail = NULL;
		pthread_mutex_unlock(&k->lock);
		r = md_write(j);
		md_job_free(j);
		pthread_mutex_lock(&k->lock);
		if (r < 0)
			k->md_failed++;
		if (--k->md_pending == 0)
			pthread_cond_broadcast(&k->md_cond);
	}
}

void keys_md_free_all(struct keys *k)
{
	while (k->md_head) {
		struct keys_md_job *j = k->md_head;

		k->md_head = j->next;
		md_job_free(j);
	}
	k->md_tail = NULL;
	k->md_pending = 0;
}

int keys_metadata_flush(struct keys *k)
{
	int n;

	pthread_mutex_lock(&k->lock);
	while (k->md_pending > 0 && k->thread_running && !k->stop)
		pthread_cond_wait(&k->md_cond, &k->lock);
	n = (int)k->md_failed;
	k->md_failed = 0;
	pthread_mutex_unlock(&k->lock);
	return n;
}
