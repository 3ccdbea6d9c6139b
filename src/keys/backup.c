// SPDX-License-Identifier: MIT
/*
 * Key backups (docs/KEYS.md): every row of the catalog's keys table (KEK records, wrapped DEKs,
 * write-only envelopes; never a clear key) as JSON, sealed with AES-256-GCM under
 * Argon2id(backup passphrase). Restore imports into a catalog that holds no keys yet.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "keys/keys-internal.h"
#include "siprecd/audit.h"
#include "siprecd/macro.h"
#include "siprecd/str.h"

#define BACKUP_FORMAT "siprecd-key-backup"
#define BACKUP_AAD "siprecd key backup v1"
#define BACKUP_MAX (64u << 20)
#define COLS                                                                                       \
	"key_id, version, algorithm, state, created_at, activated_at, retired_at, destroyed_at, "  \
	"wrapped, wrap_alg, kek_id, kdf, kdf_salt, kdf_params, verifier"
#define NCOLS 15

static json_object *hex_obj(const void *p, size_t n)
{
	char *h = malloc(2 * n + 1);
	json_object *o;

	if (!h)
		return NULL;
	hex_encode(p, n, h);
	o = json_object_new_string(h);
	free(h);
	return o;
}

static int rows_to_json(sqlite3 *db, json_object *rows, unsigned *ret_n)
{
	static const char *const names[NCOLS] = {
		"key_id",	"version",    "algorithm",    "state",	    "created_at",
		"activated_at", "retired_at", "destroyed_at", "wrapped",    "wrap_alg",
		"kek_id",	"kdf",	      "kdf_salt",     "kdf_params", "verifier"};
	sqlite3_stmt *st;
	unsigned n = 0;
	int s;

	if (sqlite3_prepare_v2(db, "SELECT " COLS " FROM keys ORDER BY id", -1, &st, NULL) !=
	    SQLITE_OK)
		return keys_fail(-EIO, "catalog: %s", sqlite3_errmsg(db));
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		json_object *row = json_object_new_object();

		for (int c = 0; c < NCOLS; c++) {
			json_object *v = NULL;

			switch (sqlite3_column_type(st, c)) {
			case SQLITE_INTEGER:
				v = json_object_new_int64(sqlite3_column_int64(st, c));
				break;
			case SQLITE_TEXT:
				v = json_object_new_string(
					(const char *)sqlite3_column_text(st, c));
				break;
			case SQLITE_BLOB:
				v = hex_obj(sqlite3_column_blob(st, c),
					    (size_t)sqlite3_column_bytes(st, c));
				break;
			default:
				continue;
			}
			json_object_object_add(row, names[c], v);
		}
		json_object_array_add(rows, row);
		n++;
	}
	sqlite3_finalize(st);
	if (s != SQLITE_DONE)
		return keys_fail(-EIO, "catalog: %s", sqlite3_errmsg(db));
	*ret_n = n;
	return 0;
}

static int write_file(const char *path, const char *text)
{
	size_t len = strlen(text);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600), r = 0;

	if (fd < 0)
		return keys_fail(-errno, "%s: %s", path, strerror(errno));
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) < 0) {
		r = keys_fail(errno ? -errno : -EIO, "%s: write failed", path);
		unlink(path);
	}
	close(fd);
	return r;
}

int keys_backup(struct keys *k, const char *path, const char *passphrase, unsigned *ret_count)
{
	uint8_t salt[16], nonce[12], tag[16], bk[32];
	json_object *inner = NULL, *rows, *outer = NULL;
	const char *plain;
	uint8_t *ct = NULL;
	unsigned n = 0;
	size_t len;
	char cnt[16];
	int r;

	if (!k->db)
		return keys_fail(-EOPNOTSUPP, "this key store (%s) has nothing to back up",
				 k->source);
	if (!passphrase || strlen(passphrase) < 8)
		return keys_fail(-EINVAL, "the backup passphrase must have at least 8 characters");
	inner = json_object_new_object();
	rows = json_object_new_array();
	json_object_object_add(inner, "rows", rows);
	r = rows_to_json(k->db, rows, &n);
	if (r < 0)
		goto out;
	plain = json_object_to_json_string_ext(inner, JSON_C_TO_STRING_PLAIN);
	len = strlen(plain);
	ct = malloc(len ? len : 1);
	if (!ct || RAND_bytes(salt, sizeof(salt)) != 1 || RAND_bytes(nonce, sizeof(nonce)) != 1) {
		r = -ENOMEM;
		goto out;
	}
	r = keys_argon2id(passphrase, strlen(passphrase), salt, sizeof(salt), NULL, 0, NULL, 0,
			  KEYS_ARGON2_T_DEFAULT, KEYS_ARGON2_M_KIB_DEFAULT, KEYS_ARGON2_P_DEFAULT,
			  bk, sizeof(bk));
	if (r == 0)
		r = keys_gcm_seal(bk, nonce, (const uint8_t *)BACKUP_AAD, sizeof(BACKUP_AAD) - 1,
				  (const uint8_t *)plain, len, ct, tag);
	if (r < 0) {
		keys_fail(r, "cannot seal the backup");
		goto out;
	}
	outer = json_object_new_object();
	json_object_object_add(outer, "format", json_object_new_string(BACKUP_FORMAT));
	json_object_object_add(outer, "version", json_object_new_int(1));
	json_object_object_add(outer, "created_at", json_object_new_int64((int64_t)keys_now_ms()));
	json_object_object_add(outer, "kdf", json_object_new_string("argon2id"));
	json_object_object_add(outer, "m", json_object_new_int(KEYS_ARGON2_M_KIB_DEFAULT));
	json_object_object_add(outer, "t", json_object_new_int(KEYS_ARGON2_T_DEFAULT));
	json_object_object_add(outer, "p", json_object_new_int(KEYS_ARGON2_P_DEFAULT));
	json_object_object_add(outer, "salt", hex_obj(salt, sizeof(salt)));
	json_object_object_add(outer, "nonce", hex_obj(nonce, sizeof(nonce)));
	json_object_object_add(outer, "ciphertext", hex_obj(ct, len));
	json_object_object_add(outer, "tag", hex_obj(tag, sizeof(tag)));
	r = write_file(path, json_object_to_json_string_ext(outer, JSON_C_TO_STRING_PRETTY));
	if (r == 0) {
		const char *fields[] = {NULL, NULL, NULL};
		char f_path[4200], f_n[32];

		snprintf(f_path, sizeof(f_path), "BACKUP_PATH=%s", path);
		snprintf(f_n, sizeof(f_n), "KEY_COUNT=%u", n);
		fields[0] = f_path;
		fields[1] = f_n;
		audit_emit(AUDIT_KEY_BACKED_UP, fields, "backed up %u key records to %s", n, path);
		snprintf(cnt, sizeof(cnt), "%u", n);
		if (ret_count)
			*ret_count = n;
	}
out:
	OPENSSL_cleanse(bk, sizeof(bk));
	if (inner) {
		/* The plaintext holds only wrapped keys, but wipe it anyway. */
		const char *s = json_object_to_json_string_ext(inner, JSON_C_TO_STRING_PLAIN);
		OPENSSL_cleanse((void *)s, strlen(s));
	}
	json_object_put(inner);
	json_object_put(outer);
	free(ct);
	return r;
}

static const char *str_of(json_object *o, const char *name)
{
	json_object *v;

	return json_object_object_get_ex(o, name, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : NULL;
}

static int hex_field(json_object *o, const char *name, uint8_t *out, size_t n)
{
	const char *s = str_of(o, name);

	if (!s || strlen(s) != 2 * n)
		return -EBADMSG;
	return keys_from_hex(s, 2 * n, out);
}

/* Opens a backup file: *ret_rows (the parsed inner JSON) on success. */
static int backup_open(const char *path, const char *passphrase, json_object **ret_inner)
{
	uint8_t salt[16], nonce[12], tag[16], bk[32];
	json_object *outer, *v;
	uint8_t *ct = NULL, *plain = NULL;
	const char *cts;
	int64_t m = 0, t = 0, p = 0;
	size_t len;
	struct stat stbuf;
	int r;

	if (stat(path, &stbuf) < 0)
		return keys_fail(-errno, "%s: %s", path, strerror(errno));
	if (stbuf.st_size > BACKUP_MAX)
		return keys_fail(-EFBIG, "%s: too large for a key backup", path);
	outer = json_object_from_file(path);
	if (!outer)
		return keys_fail(-EBADMSG, "%s: not a key backup (JSON)", path);
	r = -EBADMSG;
	if (!str_of(outer, "format") || strcmp(str_of(outer, "format"), BACKUP_FORMAT) != 0 ||
	    !str_of(outer, "kdf") || strcmp(str_of(outer, "kdf"), "argon2id") != 0 ||
	    hex_field(outer, "salt", salt, 16) < 0 || hex_field(outer, "nonce", nonce, 12) < 0 ||
	    hex_field(outer, "tag", tag, 16) < 0 || !(cts = str_of(outer, "ciphertext"))) {
		keys_fail(r, "%s: not a siprecd key backup", path);
		goto out;
	}
	if (json_object_object_get_ex(outer, "m", &v))
		m = json_object_get_int64(v);
	if (json_object_object_get_ex(outer, "t", &v))
		t = json_object_get_int64(v);
	if (json_object_object_get_ex(outer, "p", &v))
		p = json_object_get_int64(v);
	len = strlen(cts) / 2;
	ct = malloc(len + 1);
	plain = malloc(len + 1);
	if (!ct || !plain || keys_from_hex(cts, strlen(cts), ct) < 0 || m <= 0 || t <= 0 ||
	    p <= 0 || m > (4 << 20) || t > 64 || p > 16) {
		keys_fail(r, "%s: malformed key backup", path);
		goto out;
	}
	r = keys_argon2id(passphrase, strlen(passphrase), salt, 16, NULL, 0, NULL, 0, (uint32_t)t,
			  (uint32_t)m, (uint32_t)p, bk, 32);
	if (r == 0)
		r = keys_gcm_open(bk, nonce, (const uint8_t *)BACKUP_AAD, sizeof(BACKUP_AAD) - 1,
				  ct, len, plain, tag);
	OPENSSL_cleanse(bk, sizeof(bk));
	if (r < 0) {
		keys_fail(-EKEYREJECTED, "%s: wrong backup passphrase or damaged backup", path);
		r = -EKEYREJECTED;
		goto out;
	}
	plain[len] = 0;
	*ret_inner = json_tokener_parse((const char *)plain);
	OPENSSL_cleanse(plain, len);
	if (!*ret_inner) {
		r = keys_fail(-EBADMSG, "%s: backup content is not JSON", path);
		goto out;
	}
	r = 0;
out:
	json_object_put(outer);
	free(ct);
	free(plain);
	return r;
}

static json_object *rows_of(json_object *inner)
{
	json_object *rows;

	return json_object_object_get_ex(inner, "rows", &rows) &&
			       json_object_is_type(rows, json_type_array)
		       ? rows
		       : NULL;
}

int keys_backup_verify(struct keys *k, const char *path, const char *passphrase,
		       unsigned *ret_count)
{
	json_object *inner = NULL, *rows;
	size_t n;
	int r;

	r = backup_open(path, passphrase, &inner);
	if (r < 0)
		return r;
	rows = rows_of(inner);
	if (!rows) {
		json_object_put(inner);
		return keys_fail(-EBADMSG, "%s: backup has no key rows", path);
	}
	n = json_object_array_length(rows);
	for (size_t i = 0; k && r == 0 && i < n; i++) {
		json_object *row = json_object_array_get_idx(rows, i), *v;
		const char *alg = str_of(row, "algorithm"), *id = str_of(row, "key_id"),
			   *kek = str_of(row, "kek_id");
		uint8_t w[KEYS_WRAPPED_SIZE], dek[32];

		if (!alg || strcmp(alg, "AES-256") != 0 || !str_of(row, "wrapped"))
			continue;
		if (!kek || strcmp(kek, k->kek_id) != 0 || !id ||
		    !json_object_object_get_ex(row, "version", &v) ||
		    hex_field(row, "wrapped", w, sizeof(w)) < 0) {
			r = keys_fail(-EBADMSG, "%s: key %s is not wrapped by the current KEK %s",
				      path, id ? id : "?", k->kek_id);
			break;
		}
		r = keys_dek_unwrap(k->secret->kek, k->kek_id, id,
				    (uint32_t)json_object_get_int64(v), w, dek);
		OPENSSL_cleanse(dek, sizeof(dek));
		if (r < 0)
			r = keys_fail(-EKEYREJECTED, "%s: key %s does not unwrap", path, id);
	}
	json_object_put(inner);
	if (r == 0 && ret_count)
		*ret_count = (unsigned)n;
	return r;
}

int keys_backup_restore(const char *catalog_path, const char *path, const char *passphrase,
			unsigned *ret_count)
{
	static const char *const names[NCOLS] = {
		"key_id",	"version",    "algorithm",    "state",	    "created_at",
		"activated_at", "retired_at", "destroyed_at", "wrapped",    "wrap_alg",
		"kek_id",	"kdf",	      "kdf_salt",     "kdf_params", "verifier"};
	json_object *inner = NULL, *rows;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	size_t n = 0;
	int r;

	r = backup_open(path, passphrase, &inner);
	if (r < 0)
		return r;
	rows = rows_of(inner);
	if (!rows) {
		r = keys_fail(-EBADMSG, "%s: backup has no key rows", path);
		goto out;
	}
	n = json_object_array_length(rows);
	if (sqlite3_open_v2(catalog_path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		r = keys_fail(-ENOENT, "%s: cannot open catalog", catalog_path);
		goto out;
	}
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		r = keys_fail(-EIO, "%s: %s", catalog_path, sqlite3_errmsg(db));
		goto out;
	}
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM keys WHERE algorithm IN ('KEK','AES-256')",
			       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		r = keys_fail(-EIO, "%s: %s (schema too old?)", catalog_path, sqlite3_errmsg(db));
	} else if (sqlite3_column_int(st, 0) > 0)
		r = keys_fail(-EEXIST, "%s: the catalog already holds keys; restore into a new one",
			      catalog_path);
	sqlite3_finalize(st);
	st = NULL;
	if (r == 0 && sqlite3_prepare_v2(db,
					 "INSERT INTO keys (" COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, "
					 "?, ?, ?, ?, ?, ?, ?, ?)",
					 -1, &st, NULL) != SQLITE_OK)
		r = keys_fail(-EIO, "%s: %s", catalog_path, sqlite3_errmsg(db));
	for (size_t i = 0; r == 0 && i < n; i++) {
		json_object *row = json_object_array_get_idx(rows, i);

		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		for (int c = 0; c < NCOLS; c++) {
			json_object *v;

			if (!json_object_object_get_ex(row, names[c], &v) || !v)
				continue;
			if (json_object_is_type(v, json_type_int))
				sqlite3_bind_int64(st, c + 1, json_object_get_int64(v));
			else if (c == 8 || c == 12 || c == 14) {
				const char *h = json_object_get_string(v);
				size_t hl = strlen(h);
				uint8_t b[256];

				if (hl / 2 > sizeof(b) || keys_from_hex(h, hl, b) < 0) {
					r = keys_fail(-EBADMSG, "%s: malformed %s", path, names[c]);
					break;
				}
				sqlite3_bind_blob(st, c + 1, b, (int)(hl / 2), SQLITE_TRANSIENT);
			} else
				sqlite3_bind_text(st, c + 1, json_object_get_string(v), -1,
						  SQLITE_TRANSIENT);
		}
		if (r == 0 && sqlite3_step(st) != SQLITE_DONE)
			r = keys_fail(-EIO, "%s: %s", catalog_path, sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	if (r == 0 && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		r = keys_fail(-EIO, "%s: %s", catalog_path, sqlite3_errmsg(db));
	if (r < 0)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	else {
		char f_path[4200], f_n[32];
		const char *fields[] = {f_path, f_n, NULL};

		snprintf(f_path, sizeof(f_path), "BACKUP_PATH=%s", path);
		snprintf(f_n, sizeof(f_n), "KEY_COUNT=%zu", n);
		audit_emit(AUDIT_KEY_RESTORED, fields, "restored %zu key records from %s", n, path);
		if (ret_count)
			*ret_count = (unsigned)n;
	}
out:
	sqlite3_close(db);
	json_object_put(inner);
	return r;
}
