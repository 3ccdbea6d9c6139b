// SPDX-License-Identifier: MIT
/*
 * The key hierarchy's store: the KEK from a key file, a systemd credential or a password (with
 * its verifier in the catalog), the wrapped DEKs in the catalog's keys table, rotation (on
 * demand and by a thread), listing, crypto-shredding and KEK rotation. All sqlite work happens
 * on the caller's thread or the rotation thread, never on the loop.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "keys/keys-internal.h"
#include "siprecd/audit.h"
#include "siprecd/compliance.h"
#include "siprecd/macro.h"
#include "siprecd/str.h"

#define DEK_ALG "AES-256"
#define KEK_ALG "KEK"
#define WRAP_ALG "AES-256-GCM"
#define VERIFIER_LABEL "siprecd kek verifier v1"
#define KEK_ID_LABEL "siprecd kek id v1"
#define SCHEMA_MIN 3

/* A candidate KEK and the record describing it. */
struct kek {
	uint8_t key[32];
	char kek_id[KEYS_KEY_ID_MAX + 1];
	char source[16];
	char kdf[16]; /* "" for a raw key */
	uint8_t salt[16];
	char params[64];
	uint8_t verifier[32];
};

static void kek_wipe(struct kek *x)
{
	OPENSSL_cleanse(x, sizeof(*x));
}

static void hmac(const uint8_t key[32], const char *label, const char *id, uint8_t out[32])
{
	uint8_t buf[128];
	size_t l = strlen(label), m = strlen(id);
	unsigned n = 32;

	memcpy(buf, label, l);
	memcpy(buf + l, id, m);
	HMAC(EVP_sha256(), key, 32, buf, l + m, out, &n);
}

static void kek_finish(struct kek *x)
{
	if (!x->kdf[0]) {
		uint8_t md[32];

		hmac(x->key, KEK_ID_LABEL, "", md);
		memcpy(x->kek_id, "kek:", 4);
		hex_encode(md, 8, x->kek_id + 4);
	} else {
		memcpy(x->kek_id, "pw:", 3);
		hex_encode(x->salt, 8, x->kek_id + 3);
	}
	hmac(x->key, VERIFIER_LABEL, x->kek_id, x->verifier);
}

/* Reads a secret text file (credential or password file): up to 1023 bytes, newline stripped. */
static int read_secret_text(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return keys_fail(-errno, "%s: %s", path, strerror(errno));
	n = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[n] = 0;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = 0;
	if (n == 0)
		return keys_fail(-EBADMSG, "%s: empty password", path);
	return 0;
}

static int parse_params(const char *kdf, const char *params, uint32_t *m, uint32_t *t, uint32_t *p,
			uint32_t *iter)
{
	if (strcmp(kdf, "argon2id") == 0)
		return sscanf(params, "m=%u,t=%u,p=%u", m, t, p) == 3 ? 0 : -EBADMSG;
	if (strcmp(kdf, "pbkdf2") == 0)
		return sscanf(params, "i=%u", iter) == 1 && *iter >= 1 ? 0 : -EBADMSG;
	return -EBADMSG;
}

/* The password KEK: with rec (the stored record) its kdf, salt and params; else new ones. */
static int kek_from_password(const struct keys_options *o, const struct kek *rec, struct kek *x)
{
	char pw[1024];
	const char *cred = getenv("CREDENTIALS_DIRECTORY");
	uint32_t m = 0, t = 0, p = 0, it = 0;
	int r;

	if (o->password && *o->password) {
		if (strlen(o->password) >= sizeof(pw))
			return keys_fail(-E2BIG, "MASTER_PASSWORD is too long");
		snprintf(pw, sizeof(pw), "%s", o->password);
	} else {
		char path[4096];

		if (cred && *cred)
			snprintf(path, sizeof(path), "%s/master-password", cred);
		else if (o->key_path)
			snprintf(path, sizeof(path), "%s", o->key_path);
		else
			return keys_fail(-ENOKEY,
					 "ENCRYPTION_KEY_STORE=password: no MASTER_PASSWORD "
					 "and no master-password credential");
		if (access(path, F_OK) < 0)
			return keys_fail(-ENOKEY,
					 "ENCRYPTION_KEY_STORE=password: no MASTER_PASSWORD, no "
					 "master-password credential, no %s",
					 path);
		r = read_secret_text(path, pw, sizeof(pw));
		if (r < 0)
			return r;
	}
	snprintf(x->source, sizeof(x->source), "password");
	if (rec) {
		snprintf(x->kdf, sizeof(x->kdf), "%s", rec->kdf);
		memcpy(x->salt, rec->salt, sizeof(x->salt));
		snprintf(x->params, sizeof(x->params), "%s", rec->params);
	} else {
		snprintf(x->kdf, sizeof(x->kdf), "%s", o->kdf && *o->kdf ? o->kdf : "argon2id");
		if (RAND_bytes(x->salt, sizeof(x->salt)) != 1) {
			r = -EIO;
			goto out;
		}
		if (strcmp(x->kdf, "pbkdf2") == 0)
			snprintf(x->params, sizeof(x->params), "i=%u",
				 o->pbkdf2_iterations ? o->pbkdf2_iterations
						      : KEYS_PBKDF2_ITER_DEFAULT);
		else
			snprintf(x->params, sizeof(x->params), "m=%u,t=%u,p=%u",
				 o->argon2_m_kib ? o->argon2_m_kib : KEYS_ARGON2_M_KIB_DEFAULT,
				 o->argon2_t ? o->argon2_t : KEYS_ARGON2_T_DEFAULT,
				 o->argon2_p ? o->argon2_p : KEYS_ARGON2_P_DEFAULT);
	}
	r = parse_params(x->kdf, x->params, &m, &t, &p, &it);
	if (r < 0) {
		keys_fail(r, "unknown password KDF %s (%s)", x->kdf, x->params);
		goto out;
	}
	if (strcmp(x->kdf, "pbkdf2") == 0)
		r = keys_pbkdf2_sha256(pw, strlen(pw), x->salt, sizeof(x->salt), it, x->key, 32);
	else
		r = keys_argon2id(pw, strlen(pw), x->salt, sizeof(x->salt), NULL, 0, NULL, 0, t, m,
				  p, x->key, 32);
	if (r < 0)
		keys_fail(r, "password key derivation failed (%s %s)", x->kdf, x->params);
out:
	OPENSSL_cleanse(pw, sizeof(pw));
	return r;
}

static int kek_from_options(const struct keys_options *o, const struct kek *rec, bool may_create,
			    struct kek *x)
{
	const char *store = o->store && *o->store ? o->store : "file";
	int r;

	memset(x, 0, sizeof(*x));
	if (strcmp(store, "file") == 0) {
		bool created = false;

		if (!o->key_path || !*o->key_path)
			return keys_fail(-EINVAL, "ENCRYPTION_KEY_STORE=file: no MASTER_KEY_PATH");
		if (may_create)
			r = keys_open_or_create_key_file(o->key_path, x->key, &created);
		else
			r = keys_read_key_file(o->key_path, "key file", x->key);
		if (r < 0)
			return r;
		snprintf(x->source, sizeof(x->source), "file");
	} else if (strcmp(store, "credential") == 0) {
		const char *dir = getenv("CREDENTIALS_DIRECTORY");
		char path[4096];

		if (!dir || !*dir)
			return keys_fail(-ENOKEY, "ENCRYPTION_KEY_STORE=credential: "
						  "$CREDENTIALS_DIRECTORY is not set (use "
						  "LoadCredentialEncrypted=master-key:...)");
		snprintf(path, sizeof(path), "%s/master-key", dir);
		r = keys_read_key_file(path, "credential master-key", x->key);
		if (r < 0)
			return r;
		snprintf(x->source, sizeof(x->source), "credential");
	} else if (strcmp(store, "password") == 0) {
		r = kek_from_password(o, rec && rec->kdf[0] ? rec : NULL, x);
		if (r < 0)
			return r;
	} else
		return keys_fail(-EINVAL, "unknown key store %s", store);
	kek_finish(x);
	return 0;
}

static int db_fail(struct keys *k, int r, const char *what)
{
	return keys_fail(r, "catalog: %s: %s", what, k->db ? sqlite3_errmsg(k->db) : "not open");
}

static int exec(struct keys *k, const char *sql)
{
	return sqlite3_exec(k->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : db_fail(k, -EIO, sql);
}

static int open_db(struct keys *k, const char *path, bool readonly)
{
	sqlite3_stmt *st = NULL;
	int v = 0;

	if (!path || !*path)
		return keys_fail(-EINVAL, "no catalog path for the key store");
	if (sqlite3_open_v2(path, &k->db, readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE,
			    NULL) != SQLITE_OK)
		return keys_fail(-ENOENT, "%s: cannot open catalog: %s", path,
				 k->db ? sqlite3_errmsg(k->db) : "out of memory");
	sqlite3_busy_timeout(k->db, 10000);
	if (sqlite3_prepare_v2(k->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (v < SCHEMA_MIN)
		return keys_fail(-EPROTO,
				 "%s: catalog schema %d has no key tables (start siprecd "
				 "once, or use a newer catalog)",
				 path, v);
	/* Destroyed keys are overwritten in the file, not just unlinked from the b-tree. */
	if (!readonly)
		exec(k, "PRAGMA secure_delete = ON");
	return 0;
}

static int load_kek_record(struct keys *k, struct kek *rec, bool *ret_found)
{
	sqlite3_stmt *st;
	int r = 0, s;

	*ret_found = false;
	memset(rec, 0, sizeof(*rec));
	if (sqlite3_prepare_v2(
		    k->db,
		    "SELECT key_id, wrap_alg, kdf, kdf_salt, kdf_params, verifier FROM keys "
		    "WHERE algorithm = 'KEK' AND state = 'active'",
		    -1, &st, NULL) != SQLITE_OK)
		return db_fail(k, -EIO, "reading the KEK record");
	s = sqlite3_step(st);
	if (s == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 0);
		const char *src = (const char *)sqlite3_column_text(st, 1);
		const char *kdf = (const char *)sqlite3_column_text(st, 2);
		const char *params = (const char *)sqlite3_column_text(st, 4);

		snprintf(rec->kek_id, sizeof(rec->kek_id), "%s", id ? id : "");
		snprintf(rec->source, sizeof(rec->source), "%s", src ? src : "");
		snprintf(rec->kdf, sizeof(rec->kdf), "%s", kdf ? kdf : "");
		snprintf(rec->params, sizeof(rec->params), "%s", params ? params : "");
		if (kdf && sqlite3_column_bytes(st, 3) != (int)sizeof(rec->salt))
			r = keys_fail(-EBADMSG, "catalog: KEK record %s has a bad salt", id);
		else if (kdf)
			memcpy(rec->salt, sqlite3_column_blob(st, 3), sizeof(rec->salt));
		if (sqlite3_column_bytes(st, 5) != 32)
			r = keys_fail(-EBADMSG, "catalog: KEK record %s has no verifier", id);
		else
			memcpy(rec->verifier, sqlite3_column_blob(st, 5), 32);
		*ret_found = r == 0;
	} else if (s != SQLITE_DONE)
		r = db_fail(k, -EIO, "reading the KEK record");
	sqlite3_finalize(st);
	return r;
}

static int insert_kek_record(struct keys *k, const struct kek *x, uint64_t now)
{
	sqlite3_stmt *st;
	int r = 0;

	if (sqlite3_prepare_v2(
		    k->db,
		    "INSERT INTO keys (key_id, version, algorithm, state, created_at, "
		    "activated_at, wrap_alg, kdf, kdf_salt, kdf_params, verifier) VALUES "
		    "(?, 1, 'KEK', 'active', ?, ?, ?, ?, ?, ?, ?)",
		    -1, &st, NULL) != SQLITE_OK)
		return db_fail(k, -EIO, "storing the KEK record");
	sqlite3_bind_text(st, 1, x->kek_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)now);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)now);
	sqlite3_bind_text(st, 4, x->source, -1, SQLITE_STATIC);
	if (x->kdf[0]) {
		sqlite3_bind_text(st, 5, x->kdf, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 6, x->salt, sizeof(x->salt), SQLITE_STATIC);
		sqlite3_bind_text(st, 7, x->params, -1, SQLITE_STATIC);
	}
	sqlite3_bind_blob(st, 8, x->verifier, 32, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		r = db_fail(k, -EIO, "storing the KEK record");
	sqlite3_finalize(st);
	return r;
}

static int insert_dek(struct keys *k, const char *key_id, uint32_t version, const uint8_t dek[32],
		      uint64_t now)
{
	uint8_t w[KEYS_WRAPPED_SIZE];
	sqlite3_stmt *st;
	int r;

	r = keys_dek_wrap(k->secret->kek, k->kek_id, key_id, version, dek, w);
	if (r < 0)
		return keys_fail(r, "cannot wrap the data key");
	if (sqlite3_prepare_v2(k->db,
			       "INSERT INTO keys (key_id, version, algorithm, state, created_at, "
			       "activated_at, wrapped, wrap_alg, kek_id) VALUES "
			       "(?, ?, 'AES-256', 'active', ?, ?, ?, 'AES-256-GCM', ?)",
			       -1, &st, NULL) != SQLITE_OK)
		return db_fail(k, -EIO, "storing a data key");
	sqlite3_bind_text(st, 1, key_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, version);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)now);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)now);
	sqlite3_bind_blob(st, 5, w, sizeof(w), SQLITE_STATIC);
	sqlite3_bind_text(st, 6, k->kek_id, -1, SQLITE_STATIC);
	r = sqlite3_step(st) == SQLITE_DONE ? 0 : db_fail(k, -EIO, "storing a data key");
	sqlite3_finalize(st);
	return r;
}

static void audit_key(enum audit_event ev, const char *key_id, uint32_t version, const char *name,
		      const char *value, const char *msg)
{
	char f_id[96], f_v[32], f_x[320];
	const char *fields[] = {f_id, f_v, value ? f_x : NULL, NULL};

	snprintf(f_id, sizeof(f_id), "KEY_ID=%s", key_id);
	snprintf(f_v, sizeof(f_v), "KEY_VERSION=%u", version);
	if (value)
		snprintf(f_x, sizeof(f_x), "%s=%s", name, value);
	audit_emit(ev, fields, "%s %s version %u", msg, key_id, version);
}

/* Reads every DEK row into k->deks, unwrapping those not destroyed. */
static int load_deks(struct keys *k)
{
	sqlite3_stmt *st;
	int r = 0, s;

	if (sqlite3_prepare_v2(k->db,
			       "SELECT key_id, version, state, created_at, activated_at, "
			       "retired_at, destroyed_at, wrapped, kek_id FROM keys "
			       "WHERE algorithm = 'AES-256' ORDER BY version",
			       -1, &st, NULL) != SQLITE_OK)
		return db_fail(k, -EIO, "reading data keys");
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		struct keys_dek *d;
		const char *id = (const char *)sqlite3_column_text(st, 0);
		const char *state = (const char *)sqlite3_column_text(st, 2);
		const char *kek = (const char *)sqlite3_column_text(st, 8);

		if (k->n_deks >= KEYS_DEK_MAX) {
			r = keys_fail(-E2BIG, "more than %d data key versions: destroy old ones",
				      KEYS_DEK_MAX);
			break;
		}
		if (!id || strlen(id) > KEYS_KEY_ID_MAX || !state) {
			r = keys_fail(-EBADMSG, "catalog: malformed data key row");
			break;
		}
		d = &k->deks[k->n_deks];
		memset(d, 0, sizeof(*d));
		snprintf(d->key_id, sizeof(d->key_id), "%s", id);
		d->version = (uint32_t)sqlite3_column_int64(st, 1);
		snprintf(d->state, sizeof(d->state), "%s", state);
		d->created_at = (uint64_t)sqlite3_column_int64(st, 3);
		d->activated_at = (uint64_t)sqlite3_column_int64(st, 4);
		d->retired_at = (uint64_t)sqlite3_column_int64(st, 5);
		d->destroyed_at = (uint64_t)sqlite3_column_int64(st, 6);
		d->slot = k->n_deks;
		if (strcmp(state, "destroyed") != 0) {
			if (sqlite3_column_bytes(st, 7) != KEYS_WRAPPED_SIZE || !kek ||
			    strcmp(kek, k->kek_id) != 0) {
				r = keys_fail(-EBADMSG,
					      "catalog: data key %s version %u is not wrapped by "
					      "KEK %s",
					      id, d->version, k->kek_id);
				break;
			}
			r = keys_dek_unwrap(k->secret->kek, k->kek_id, id, d->version,
					    sqlite3_column_blob(st, 7), k->secret->dek[d->slot]);
			if (r < 0) {
				r = keys_fail(-EKEYREJECTED,
					      "catalog: data key %s version %u does not unwrap "
					      "(modified catalog?)",
					      id, d->version);
				break;
			}
			d->have_key = true;
		}
		if (strcmp(state, "active") == 0)
			k->active = (int)k->n_deks;
		k->n_deks++;
	}
	if (r == 0 && s != SQLITE_DONE)
		r = db_fail(k, -EIO, "reading data keys");
	sqlite3_finalize(st);
	return r;
}

/* Creates a new DEK version under the current KEK. Caller is in a transaction. */
static int new_dek(struct keys *k, const char *key_id, uint32_t version, uint64_t now,
		   uint8_t dek[32])
{
	if (RAND_bytes(dek, 32) != 1)
		return keys_fail(-EIO, "no random bytes available");
	return insert_dek(k, key_id, version, dek, now);
}

static int init_store(struct keys *k, const struct kek *x)
{
	char key_id[KEYS_KEY_ID_MAX + 1];
	uint8_t rnd[8], dek[32];
	uint64_t now = keys_now_ms();
	int r;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return keys_fail(-EIO, "no random bytes available");
	memcpy(key_id, "dek:", 4);
	hex_encode(rnd, sizeof(rnd), key_id + 4);
	r = exec(k, "BEGIN IMMEDIATE");
	if (r < 0)
		return r;
	r = insert_kek_record(k, x, now);
	if (r == 0)
		r = new_dek(k, key_id, 1, now, dek);
	if (r == 0)
		r = exec(k, "COMMIT");
	if (r < 0) {
		exec(k, "ROLLBACK");
		OPENSSL_cleanse(dek, sizeof(dek));
		return r;
	}
	OPENSSL_cleanse(dek, sizeof(dek));
	audit_key(AUDIT_KEY_CREATED, x->kek_id, 1, "KEY_PURPOSE", "kek",
		  "created key-encryption key");
	audit_key(AUDIT_KEY_CREATED, key_id, 1, "KEY_PURPOSE", "dek", "created data key");
	return 0;
}

static int open_write_only(const struct keys_options *o, struct keys *k)
{
	int r;

	const char *path =
		o->public_key_path && *o->public_key_path ? o->public_key_path : o->key_path;

	if (!path || !*path)
		return keys_fail(-EINVAL,
				 "ENCRYPTION_KEY_STORE=public-key: no RECORDING_PUBLIC_KEY");
	r = keys_x25519_load(path, false, k->pub);
	if (r < 0)
		return r;
	keys_public_key_id(k->pub, k->pub_id);
	snprintf(k->source, sizeof(k->source), "public-key");
	return 0;
}

static int open_memory(struct keys *k)
{
	struct keys_dek *d = &k->deks[0];
	uint8_t rnd[8];

	if (RAND_bytes(rnd, sizeof(rnd)) != 1 || RAND_bytes(k->secret->dek[0], 32) != 1)
		return keys_fail(-EIO, "no random bytes available");
	memcpy(d->key_id, "mem:", 4);
	hex_encode(rnd, sizeof(rnd), d->key_id + 4);
	d->version = 1;
	snprintf(d->state, sizeof(d->state), "active");
	d->created_at = d->activated_at = keys_now_ms();
	d->have_key = true;
	k->n_deks = 1;
	k->active = 0;
	snprintf(k->source, sizeof(k->source), "memory");
	snprintf(k->warning, sizeof(k->warning),
		 "ENCRYPTION_KEY_STORE=memory: data keys exist only in this process; every "
		 "recording made now will be UNREADABLE after a restart (development only)");
	return 0;
}

static int open_hierarchy(const struct keys_options *o, struct keys *k)
{
	struct kek rec, x;
	bool found;
	int r;

	r = open_db(k, o->catalog_path, o->readonly);
	if (r < 0)
		return r;
	r = load_kek_record(k, &rec, &found);
	if (r < 0)
		return r;
	if (!found && o->readonly)
		return keys_fail(-ENOKEY, "%s: the catalog holds no keys", o->catalog_path);
	r = kek_from_options(o, found ? &rec : NULL, !found && !o->readonly, &x);
	if (r < 0)
		goto out;
	if (found && (strcmp(rec.kek_id, x.kek_id) != 0 ||
		      CRYPTO_memcmp(rec.verifier, x.verifier, 32) != 0)) {
		r = keys_fail(-EKEYREJECTED,
			      "%s: the catalog's keys are wrapped by %s KEK %s; the %s given does "
			      "not match it (nothing was changed)",
			      o->catalog_path, rec.source, rec.kek_id,
			      strcmp(x.source, "password") == 0 ? "password" : "key");
		goto out;
	}
	memcpy(k->secret->kek, x.key, 32);
	snprintf(k->kek_id, sizeof(k->kek_id), "%s", x.kek_id);
	snprintf(k->source, sizeof(k->source), "%s", x.source);
	if (!found) {
		r = init_store(k, &x);
		if (r < 0)
			goto out;
	}
	r = load_deks(k);
	if (r < 0)
		goto out;
	/* A file KEK may be the legacy key file: its recordings stay readable. */
	if (x.kdf[0] == 0)
		r = keys_add_legacy(k, x.key, false);
	if (r == 0 && k->active < 0 && !o->readonly)
		r = keys_fail(-ENOKEY, "catalog: no active data key");
out:
	kek_wipe(&x);
	kek_wipe(&rec);
	return r;
}

int keys_open(const struct keys_options *o, struct keys **ret)
{
	const char *store = o->store && *o->store ? o->store : "file";
	struct keys *k;
	int r;

	keys_fail(0, "%s", "");
	if (strcmp(store, "memory") == 0)
		k = keys_alloc(KEYS_MODE_MEMORY);
	else if (strcmp(store, "public-key") == 0)
		k = keys_alloc(KEYS_MODE_WRITE_ONLY);
	else
		k = keys_alloc(KEYS_MODE_HIERARCHY);
	if (!k)
		return -ENOMEM;
	k->readonly = o->readonly;
	if (o->backup_dir && *o->backup_dir && !o->readonly && k->mode == KEYS_MODE_HIERARCHY) {
		k->backup_dir = strdup(o->backup_dir);
		if (o->backup_passphrase_file && *o->backup_passphrase_file)
			k->backup_pass_file = strdup(o->backup_passphrase_file);
		if (!k->backup_dir || (o->backup_passphrase_file && *o->backup_passphrase_file &&
				       !k->backup_pass_file)) {
			keys_free(k);
			return -ENOMEM;
		}
	}
	/* Refuse to start with backups on but no usable passphrase: found now, not at the
	 * first rotation a day later. */
	r = keys_backup_check(k);
	if (r < 0) {
		keys_free(k);
		return r;
	}
	if (k->mode == KEYS_MODE_MEMORY)
		r = open_memory(k);
	else if (k->mode == KEYS_MODE_WRITE_ONLY)
		r = open_write_only(o, k);
	else
		r = open_hierarchy(o, k);
	if (r == 0 && k->mode == KEYS_MODE_HIERARCHY && !o->readonly && o->rotation_interval_ms &&
	    k->deks[k->active].activated_at + o->rotation_interval_ms <= keys_now_ms())
		r = keys_rotate_dek(k, NULL);
	if (r == 0 && !k->locked && !k->warning[0])
		snprintf(k->warning, sizeof(k->warning),
			 "key memory could not be locked (RLIMIT_MEMLOCK); keys may reach swap");
	if (r < 0) {
		keys_free(k);
		return r;
	}
	*ret = k;
	return 0;
}

/* Marks the active row(s) of algorithm alg retired now (inside the caller's transaction). */
static int retire_active(struct keys *k, const char *alg, const char *what)
{
	sqlite3_stmt *st = NULL;
	int r = 0;

	if (sqlite3_prepare_v2(k->db,
			       "UPDATE keys SET state = 'retired', retired_at = "
			       "CAST(strftime('%s','now') AS INTEGER) * 1000 "
			       "WHERE algorithm = ?1 AND state = 'active'",
			       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, alg, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_DONE)
		r = db_fail(k, -EIO, what);
	sqlite3_finalize(st);
	return r;
}

/*
 * A hold by AoR covers participants whose sealed metadata leaves only a blind index, which
 * depends on the data key version (keys_aor_index): give every hold in force the index of its
 * AoR under the new version, in the rotation's transaction, so recordings made from now on are
 * held too. A catalog without holds (or before migration 9) has nothing to do.
 */
static int hold_indexes_add(struct keys *k, uint32_t version, const uint8_t dek[32])
{
	sqlite3_stmt *sel = NULL, *ins = NULL;
	int r = 0, s;

	if (sqlite3_prepare_v2(k->db,
			       "SELECT id, aor FROM legal_holds WHERE kind = 'aor' AND "
			       "released_at IS NULL AND aor IS NOT NULL",
			       -1, &sel, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(k->db,
			       "INSERT OR IGNORE INTO legal_hold_aor_index (hold_id, aor_index) "
			       "VALUES (?1, ?2)",
			       -1, &ins, NULL) != SQLITE_OK) {
		sqlite3_finalize(sel);
		return 0;
	}
	while ((s = sqlite3_step(sel)) == SQLITE_ROW) {
		char idx[KEYS_AOR_INDEX_MAX + 1];
		const char *aor = (const char *)sqlite3_column_text(sel, 1);

		if (!aor || keys_aor_index_compute(dek, version, aor, idx) < 0)
			continue;
		sqlite3_reset(ins);
		sqlite3_bind_int64(ins, 1, sqlite3_column_int64(sel, 0));
		sqlite3_bind_text(ins, 2, idx, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(ins) != SQLITE_DONE) {
			r = db_fail(k, -EIO, "indexing the legal holds under the new data key");
			break;
		}
	}
	if (r == 0 && s != SQLITE_DONE)
		r = db_fail(k, -EIO, "reading the legal holds");
	sqlite3_finalize(sel);
	sqlite3_finalize(ins);
	return r;
}

int keys_rotate_dek(struct keys *k, uint32_t *ret_version)
{
	char key_id[KEYS_KEY_ID_MAX + 1];
	uint32_t version = 0, prev;
	uint64_t now = keys_now_ms();
	uint8_t dek[32];
	char prev_s[16];
	int r, slot;

	if (k->mode != KEYS_MODE_HIERARCHY || !k->db || k->readonly)
		return keys_fail(-EOPNOTSUPP, "this key store (%s) does not rotate", k->source);
	pthread_mutex_lock(&k->lock);
	if (k->active < 0 || k->n_deks >= KEYS_DEK_MAX) {
		pthread_mutex_unlock(&k->lock);
		return keys_fail(-E2BIG, "no room for another data key version");
	}
	snprintf(key_id, sizeof(key_id), "%s", k->deks[k->active].key_id);
	prev = k->deks[k->active].version;
	for (unsigned i = 0; i < k->n_deks; i++)
		if (strcmp(k->deks[i].key_id, key_id) == 0 && k->deks[i].version > version)
			version = k->deks[i].version;
	pthread_mutex_unlock(&k->lock);
	version++;
	r = exec(k, "BEGIN IMMEDIATE");
	if (r < 0)
		return r;
	r = retire_active(k, "AES-256", "retiring the active data key");
	if (r == 0)
		r = new_dek(k, key_id, version, now, dek);
	if (r == 0)
		r = hold_indexes_add(k, version, dek);
	if (r == 0)
		r = exec(k, "COMMIT");
	if (r < 0) {
		exec(k, "ROLLBACK");
		OPENSSL_cleanse(dek, sizeof(dek));
		return r;
	}
	pthread_mutex_lock(&k->lock);
	slot = (int)k->n_deks;
	k->deks[slot] = (struct keys_dek){.version = version,
					  .created_at = now,
					  .activated_at = now,
					  .have_key = true,
					  .slot = (unsigned)slot};
	snprintf(k->deks[slot].key_id, sizeof(k->deks[slot].key_id), "%s", key_id);
	snprintf(k->deks[slot].state, sizeof(k->deks[slot].state), "active");
	memcpy(k->secret->dek[slot], dek, 32);
	if (k->active >= 0) {
		snprintf(k->deks[k->active].state, sizeof(k->deks[0].state), "retired");
		k->deks[k->active].retired_at = now;
	}
	k->active = slot;
	k->n_deks++;
	pthread_mutex_unlock(&k->lock);
	OPENSSL_cleanse(dek, sizeof(dek));
	snprintf(prev_s, sizeof(prev_s), "%u", prev);
	audit_key(AUDIT_KEY_ROTATED, key_id, version, "PREVIOUS_KEY_VERSION", prev_s,
		  "rotated data key");
	/* A failed backup does not undo the rotation: keys_last_backup() is "" and keys_error()
	 * says why. */
	keys_backup_after_rotation(k);
	if (ret_version)
		*ret_version = version;
	return 0;
}

struct keys_rekek_job {
	struct keys_options o;
	char *store, *key_path, *kdf, *password;
	bool started;
	void (*done)(void *userdata, const struct keys_rekek_result *res);
	void *userdata;
};

static void rekek_job_free(struct keys_rekek_job *j);
static void rekek_job_run(struct keys *k, struct keys_rekek_job *j);

/*
 * The key store's thread: rotates when the active key is older than the interval or on
 * request, re-reads the catalog's key state every KEYS_STATE_POLL_MS (siprecd-keys may rotate or
 * destroy behind the daemon's back) and writes queued .metadata files. k->lock is held except
 * around blocking work.
 */
static void *rotation_main(void *arg)
{
	struct keys *k = arg;
	bool rotates = k->mode == KEYS_MODE_HIERARCHY;
	uint64_t next_poll = keys_now_ms() + KEYS_STATE_POLL_MS, retry_at = 0;

	pthread_mutex_lock(&k->lock);
	while (!k->stop) {
		uint64_t now, due, wake;
		struct timespec ts;

		keys_md_run(k);
		if (k->stop)
			break;
		if (k->rekek_job && !k->rekek_job->started) {
			struct keys_rekek_job *j = k->rekek_job;

			j->started = true;
			pthread_mutex_unlock(&k->lock);
			rekek_job_run(k, j);
			pthread_mutex_lock(&k->lock);
			k->rekek_job = NULL;
			rekek_job_free(j);
			continue;
		}
		now = keys_now_ms();
		due = rotates && k->active >= 0 ? k->deks[k->active].activated_at + k->interval_ms
						: UINT64_MAX;
		if (due < retry_at)
			due = retry_at;
		if (rotates && (k->rotate_now || now >= due)) {
			int r;

			k->rotate_now = false;
			pthread_mutex_unlock(&k->lock);
			/* Versions made by siprecd-keys first, so the new one is max + 1. */
			keys_refresh(k);
			r = keys_rotate_dek(k, NULL);
			if (r == 0)
				keys_notify_change(k, false);
			pthread_mutex_lock(&k->lock);
			/* Retry a minute later rather than spinning on a busy catalog. */
			retry_at = r < 0 ? keys_now_ms() + 60000 : 0;
			continue;
		}
		if (rotates && (k->refresh_now || now >= next_poll)) {
			k->refresh_now = false;
			pthread_mutex_unlock(&k->lock);
			keys_refresh(k);
			pthread_mutex_lock(&k->lock);
			next_poll = keys_now_ms() + KEYS_STATE_POLL_MS;
			continue;
		}
		if (k->md_head)
			continue;
		wake = rotates ? (due < next_poll ? due : next_poll) : now + 3600 * 1000ull;
		ts = (struct timespec){.tv_sec = (time_t)(wake / 1000),
				       .tv_nsec = (long)(wake % 1000) * 1000000};
		pthread_cond_timedwait(&k->cond, &k->lock, &ts);
	}
	/* Metadata queued before the stop is still written. */
	keys_md_run(k);
	pthread_mutex_unlock(&k->lock);
	return NULL;
}

int keys_rotation_start(struct keys *k, uint64_t interval_ms)
{
	int r;

	if (k->readonly || k->thread_running || k->mode == KEYS_MODE_LEGACY_FILE)
		return 0;
	k->interval_ms = interval_ms ? interval_ms : UINT64_MAX / 4;
	r = pthread_create(&k->thread, NULL, rotation_main, k);
	if (r != 0)
		return -r;
	pthread_setname_np(k->thread, "siprecd-keys");
	k->thread_running = true;
	return 0;
}

void keys_set_rotation_interval(struct keys *k, uint64_t interval_ms)
{
	pthread_mutex_lock(&k->lock);
	k->interval_ms = interval_ms ? interval_ms : UINT64_MAX / 4;
	pthread_cond_signal(&k->cond);
	pthread_mutex_unlock(&k->lock);
}

int keys_rotate_request(struct keys *k)
{
	if (!k->thread_running)
		return -ESRCH;
	pthread_mutex_lock(&k->lock);
	k->rotate_now = true;
	pthread_cond_signal(&k->cond);
	pthread_mutex_unlock(&k->lock);
	return 0;
}

void keys_rotation_stop(struct keys *k)
{
	if (!k->thread_running)
		return;
	pthread_mutex_lock(&k->lock);
	k->stop = true;
	pthread_cond_signal(&k->cond);
	pthread_mutex_unlock(&k->lock);
	pthread_join(k->thread, NULL);
	k->thread_running = false;
	if (k->rekek_job) {
		struct keys_rekek_result res = {.r = -ECANCELED, .stage = KEYS_REKEK_CATALOG};

		snprintf(res.error, sizeof(res.error), "siprecd is stopping");
		k->rekek_job->done(k->rekek_job->userdata, &res);
		rekek_job_free(k->rekek_job);
		k->rekek_job = NULL;
	}
}

int keys_list(struct keys *k, int (*fn)(void *userdata, const struct keys_info *info),
	      void *userdata)
{
	int n = 0;

	for (unsigned i = 0;; i++) {
		struct keys_info info = {0};
		const struct keys_dek *d;
		int r;

		pthread_mutex_lock(&k->lock);
		if (i >= k->n_deks) {
			pthread_mutex_unlock(&k->lock);
			break;
		}
		d = &k->deks[i];
		snprintf(info.key_id, sizeof(info.key_id), "%s", d->key_id);
		info.version = d->version;
		snprintf(info.state, sizeof(info.state), "%s", d->state);
		snprintf(info.algorithm, sizeof(info.algorithm), "%s", DEK_ALG);
		snprintf(info.kek_id, sizeof(info.kek_id), "%s",
			 strcmp(d->state, "legacy") == 0 ? "" : k->kek_id);
		info.created_at = d->created_at;
		info.activated_at = d->activated_at;
		info.retired_at = d->retired_at;
		info.destroyed_at = d->destroyed_at;
		pthread_mutex_unlock(&k->lock);
		r = fn(userdata, &info);
		if (r < 0)
			return r;
		n++;
	}
	return n;
}

/*
 * A running siprecd may still write with a version siprecd-keys just retired (it notices within
 * KEYS_STATE_POLL_MS) or finish recordings started under it: refuse both rather than shred
 * recordings being written.
 */
static int destroy_guard(struct keys *k, const char *key_id, uint32_t version)
{
	uint64_t retired = 0, now = keys_now_ms(), grace = 3 * KEYS_STATE_POLL_MS;
	sqlite3_stmt *st = NULL;
	int n = 0;

	/* The catalog's time, not this process's view: the retirement may be another's. */
	if (sqlite3_prepare_v2(k->db,
			       "SELECT retired_at FROM keys WHERE algorithm = 'AES-256' AND "
			       "key_id = ?1 AND version = ?2",
			       -1, &st, NULL) != SQLITE_OK)
		return db_fail(k, -EIO, "reading the retirement time");
	sqlite3_bind_text(st, 1, key_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, version);
	if (sqlite3_step(st) == SQLITE_ROW)
		retired = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	if (retired && retired + grace > now)
		return keys_fail(-EBUSY,
				 "version %u was retired %llu ms ago; a running siprecd switches "
				 "within %u ms: retry in a few seconds",
				 version, (unsigned long long)(now - retired), KEYS_STATE_POLL_MS);
	if (sqlite3_prepare_v2(k->db,
			       "SELECT count(*) FROM recordings WHERE key_id = ?1 AND "
			       "key_version = ?2 AND state = 'writing'",
			       -1, &st, NULL) != SQLITE_OK)
		return db_fail(k, -EIO, "counting recordings being written");
	sqlite3_bind_text(st, 1, key_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, version);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (n > 0)
		return keys_fail(-EBUSY,
				 "%d recording(s) are still being written with version %u (a "
				 "running siprecd): destroy it after they end",
				 n, version);
	return 0;
}

/* A key version protecting a recording under legal hold is never destroyed (COMPLIANCE.md;
 * a catalog trigger refuses it too, this says which case). Catalogs before migration 6 have
 * no holds. */
static int held_guard(struct keys *k, const char *key_id, uint32_t version)
{
	sqlite3_stmt *st = NULL;
	int r = 0;

	if (sqlite3_prepare_v2(k->db,
			       "SELECT count(DISTINCT recording_uuid), min(case_ref) FROM "
			       "held_recordings WHERE key_id = ?1 AND key_version = ?2",
			       -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, key_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, version);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0)
		r = keys_fail(-EPERM,
			      "version %u protects %lld recording(s) under legal hold (case %s): "
			      "release the hold first",
			      version, (long long)sqlite3_column_int64(st, 0),
			      (const char *)sqlite3_column_text(st, 1));
	sqlite3_finalize(st);
	return r;
}

/* One 'shredded' trail entry per recording of the destroyed version (inside the transaction). */
static int trail_shredded(struct keys *k, const char *key_id, uint32_t version, const char *reason)
{
	char actor[64], object[128];
	sqlite3_stmt *st = NULL;
	int r = 0;

	if (sqlite3_exec(k->db, "SELECT 1 FROM trail LIMIT 0", NULL, NULL, NULL) != SQLITE_OK)
		return 0; /* a catalog before migration 6 */
	snprintf(actor, sizeof(actor), "uid:%u", (unsigned)getuid());
	if (sqlite3_prepare_v2(k->db,
			       "SELECT uuid, sha256 FROM recordings WHERE key_id = ?1 AND "
			       "key_version = ?2 AND deleted_at IS NULL ORDER BY id",
			       -1, &st, NULL) != SQLITE_OK)
		return db_fail(k, -EIO, "listing shredded recordings");
	sqlite3_bind_text(st, 1, key_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, version);
	while (r == 0 && sqlite3_step(st) == SQLITE_ROW) {
		snprintf(object, sizeof(object), "recording:%s", sqlite3_column_text(st, 0));
		if (trail_append(k->db,
				 &(struct trail_entry){
					 .kind = "shredded",
					 .actor = actor,
					 .object = object,
					 .reason = reason && *reason ? reason : "key destroyed",
					 .sha256 = (const char *)sqlite3_column_text(st, 1)},
				 NULL) < 0)
			r = db_fail(k, -EIO, "appending to the trail");
	}
	sqlite3_finalize(st);
	return r;
}

int keys_destroy_dek(struct keys *k, uint32_t version, const char *reason, unsigned *ret_recordings)
{
	char key_id[KEYS_KEY_ID_MAX + 1];
	sqlite3_stmt *st = NULL;
	uint64_t now = keys_now_ms();
	int i, r, changes = 0;

	if (k->mode != KEYS_MODE_HIERARCHY || !k->db || k->readonly)
		return keys_fail(-EOPNOTSUPP, "this key store (%s) cannot destroy keys", k->source);
	pthread_mutex_lock(&k->lock);
	i = k->active >= 0 ? keys_find(k, k->deks[k->active].key_id, version) : -1;
	r = i < 0 ? -ENOENT : i == k->active ? -EBUSY : !k->deks[i].have_key ? -EALREADY : 0;
	if (i >= 0)
		snprintf(key_id, sizeof(key_id), "%s", k->deks[i].key_id);
	pthread_mutex_unlock(&k->lock);
	if (r == -ENOENT)
		return keys_fail(r, "no data key version %u", version);
	if (r == -EBUSY)
		return keys_fail(r, "version %u is the active data key: rotate first", version);
	if (r == -EALREADY)
		return keys_fail(r, "version %u is already destroyed", version);
	r = held_guard(k, key_id, version);
	if (r < 0)
		return r;
	r = destroy_guard(k, key_id, version);
	if (r < 0)
		return r;
	r = exec(k, "BEGIN IMMEDIATE");
	if (r < 0)
		return r;
	if (sqlite3_prepare_v2(
		    k->db,
		    "UPDATE keys SET state = 'destroyed', wrapped = NULL, destroyed_at = ?3 "
		    "WHERE algorithm = 'AES-256' AND key_id = ?1 AND version = ?2",
		    -1, &st, NULL) != SQLITE_OK)
		r = db_fail(k, -EIO, "destroying the data key");
	else {
		sqlite3_bind_text(st, 1, key_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, version);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)now);
		if (sqlite3_step(st) != SQLITE_DONE || sqlite3_changes(k->db) != 1)
			r = db_fail(k, -EIO, "destroying the data key");
	}
	sqlite3_finalize(st);
	st = NULL;
	if (r == 0 && sqlite3_prepare_v2(k->db,
					 "UPDATE recordings SET state = 'shredded' "
					 "WHERE key_id = ?1 AND key_version = ?2",
					 -1, &st, NULL) != SQLITE_OK)
		r = db_fail(k, -EIO, "marking recordings shredded");
	else if (r == 0) {
		sqlite3_bind_text(st, 1, key_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, version);
		if (sqlite3_step(st) != SQLITE_DONE)
			r = db_fail(k, -EIO, "marking recordings shredded");
		changes = sqlite3_changes(k->db);
	}
	sqlite3_finalize(st);
	if (r == 0)
		r = trail_shredded(k, key_id, version, reason);
	if (r == 0)
		r = exec(k, "COMMIT");
	if (r < 0) {
		exec(k, "ROLLBACK");
		return r;
	}
	/* Old page images of the wrapped key may sit in the WAL: fold it back and truncate. */
	sqlite3_exec(k->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	pthread_mutex_lock(&k->lock);
	OPENSSL_cleanse(k->secret->dek[k->deks[i].slot], 32);
	k->deks[i].have_key = false;
	snprintf(k->deks[i].state, sizeof(k->deks[i].state), "destroyed");
	k->deks[i].destroyed_at = now;
	pthread_mutex_unlock(&k->lock);
	audit_key(AUDIT_KEY_DESTROYED, key_id, version, "REASON",
		  reason && *reason ? reason : "operator request", "destroyed data key");
	if (ret_recordings)
		*ret_recordings = (unsigned)changes;
	return 0;
}

/* keys_rekek, saying in *stage where it failed. */
static int rekek(struct keys *k, const struct keys_options *o, enum keys_rekek_stage *stage)
{
	uint8_t w[KEYS_WRAPPED_SIZE];
	struct kek x;
	sqlite3_stmt *st = NULL;
	uint64_t now = keys_now_ms();
	int r;

	*stage = KEYS_REKEK_SOURCE;
	if (k->mode != KEYS_MODE_HIERARCHY || !k->db || k->readonly)
		return keys_fail(-EOPNOTSUPP, "this key store (%s) has no KEK", k->source);
	r = kek_from_options(o, NULL, true, &x);
	if (r < 0) {
		/* With the password in hand, only its length is the source's fault. */
		if (o->store && strcmp(o->store, "password") == 0 && o->password && *o->password &&
		    r != -E2BIG)
			*stage = KEYS_REKEK_KDF;
		return r;
	}
	if (strcmp(x.kek_id, k->kek_id) == 0) {
		kek_wipe(&x);
		return keys_fail(-EEXIST, "the new KEK is the current one (%s)", k->kek_id);
	}
	*stage = KEYS_REKEK_CATALOG;
	r = exec(k, "BEGIN IMMEDIATE");
	if (r < 0)
		goto out;
	r = retire_active(k, "KEK", "retiring the KEK record");
	if (r == 0)
		r = insert_kek_record(k, &x, now);
	if (r == 0 && sqlite3_prepare_v2(k->db,
					 "UPDATE keys SET wrapped = ?3, kek_id = ?4 WHERE "
					 "algorithm = 'AES-256' AND key_id = ?1 AND version = ?2",
					 -1, &st, NULL) != SQLITE_OK)
		r = db_fail(k, -EIO, "re-wrapping data keys");
	pthread_mutex_lock(&k->lock);
	for (unsigned i = 0; r == 0 && i < k->n_deks; i++) {
		const struct keys_dek *d = &k->deks[i];

		if (!d->have_key || strcmp(d->state, "legacy") == 0)
			continue;
		r = keys_dek_wrap(x.key, x.kek_id, d->key_id, d->version, k->secret->dek[d->slot],
				  w);
		if (r < 0)
			break;
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, d->key_id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, d->version);
		sqlite3_bind_blob(st, 3, w, sizeof(w), SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 4, x.kek_id, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) != SQLITE_DONE || sqlite3_changes(k->db) != 1)
			r = db_fail(k, -EIO, "re-wrapping data keys");
	}
	pthread_mutex_unlock(&k->lock);
	sqlite3_finalize(st);
	if (r == 0)
		r = exec(k, "COMMIT");
	if (r < 0) {
		exec(k, "ROLLBACK");
		goto out;
	}
	sqlite3_exec(k->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	pthread_mutex_lock(&k->lock);
	memcpy(k->secret->kek, x.key, 32);
	snprintf(k->kek_id, sizeof(k->kek_id), "%s", x.kek_id);
	snprintf(k->source, sizeof(k->source), "%s", x.source);
	pthread_mutex_unlock(&k->lock);
	audit_key(AUDIT_KEY_ROTATED, x.kek_id, 1, "KEY_PURPOSE", "kek",
		  "re-wrapped every data key under key-encryption key");
out:
	kek_wipe(&x);
	return r;
}

int keys_rekek(struct keys *k, const struct keys_options *o)
{
	enum keys_rekek_stage stage;

	return rekek(k, o, &stage);
}

static void rekek_job_free(struct keys_rekek_job *j)
{
	if (!j)
		return;
	if (j->password) {
		OPENSSL_cleanse(j->password, strlen(j->password));
		free(j->password);
	}
	free(j->store);
	free(j->key_path);
	free(j->kdf);
	free(j);
}

/* On the rotation thread, lock not held. */
static void rekek_job_run(struct keys *k, struct keys_rekek_job *j)
{
	struct keys_rekek_result res = {0};
	char pw[1024];

	keys_fail(0, "%s", "");
	res.stage = KEYS_REKEK_SOURCE;
	if (j->store && strcmp(j->store, "password") == 0 && !j->password) {
		if (!j->key_path)
			res.r = keys_fail(-EINVAL, "no password file for the password store");
		else
			res.r = read_secret_text(j->key_path, pw, sizeof(pw));
		j->o.password = pw;
	}
	if (res.r == 0)
		res.r = rekek(k, &j->o, &res.stage);
	OPENSSL_cleanse(pw, sizeof(pw));
	if (res.r < 0) {
		snprintf(res.error, sizeof(res.error), "%s", keys_error());
	} else {
		pthread_mutex_lock(&k->lock);
		snprintf(res.kek_id, sizeof(res.kek_id), "%s", k->kek_id);
		snprintf(res.source, sizeof(res.source), "%s", k->source);
		pthread_mutex_unlock(&k->lock);
	}
	j->done(j->userdata, &res);
}

static char *dup_or_null(const char *s, bool *fail)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*fail = true;
	return d;
}

int keys_rekek_async(struct keys *k, const struct keys_options *o,
		     void (*done)(void *userdata, const struct keys_rekek_result *res),
		     void *userdata)
{
	struct keys_rekek_job *j;
	bool fail = false;

	if (k->mode != KEYS_MODE_HIERARCHY || !k->db || k->readonly)
		return keys_fail(-EOPNOTSUPP, "this key store (%s) has no KEK", k->source);
	if (!k->thread_running)
		return keys_fail(-ESRCH, "the key store's thread is not running");
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->o = *o;
	j->o.store = j->store = dup_or_null(o->store, &fail);
	j->o.key_path = j->key_path = dup_or_null(o->key_path, &fail);
	j->o.kdf = j->kdf = dup_or_null(o->kdf, &fail);
	j->o.password = j->password = dup_or_null(o->password, &fail);
	j->o.catalog_path = NULL;
	j->o.public_key_path = NULL;
	j->o.backup_dir = NULL;
	j->o.backup_passphrase_file = NULL;
	j->done = done;
	j->userdata = userdata;
	if (fail) {
		rekek_job_free(j);
		return -ENOMEM;
	}
	pthread_mutex_lock(&k->lock);
	if (k->rekek_job) {
		pthread_mutex_unlock(&k->lock);
		rekek_job_free(j);
		return keys_fail(-EBUSY, "a KEK rotation is already in progress");
	}
	k->rekek_job = j;
	pthread_cond_signal(&k->cond);
	pthread_mutex_unlock(&k->lock);
	return 0;
}

int keys_envelope_lookup(const char *catalog_path, const uint8_t priv[32], const char *recording_id,
			 uint8_t ret_key[32])
{
	char kid[KEYS_KEY_ID_MAX + 1];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int r = -ENOKEY;

	if (strlen(recording_id) + 4 > KEYS_KEY_ID_MAX)
		return -ENOKEY;
	snprintf(kid, sizeof(kid), "env:%s", recording_id);
	if (sqlite3_open_v2(catalog_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return keys_fail(-ENOENT, "%s: cannot open catalog", catalog_path);
	}
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_prepare_v2(db,
			       "SELECT wrapped FROM keys WHERE algorithm = 'X25519-envelope' AND "
			       "key_id = ? AND version = 1",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, kid, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW &&
		    sqlite3_column_bytes(st, 0) == KEYS_ENVELOPE_SIZE)
			r = keys_envelope_open(priv, recording_id, sqlite3_column_blob(st, 0),
					       ret_key) == 0
				    ? 0
				    : -EKEYREJECTED;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return r;
}
