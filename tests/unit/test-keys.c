// SPDX-License-Identifier: MIT
/*
 * Unit tests of the key hierarchy: KDF vectors (PBKDF2-HMAC-SHA256 from RFC 7914 §11, Argon2id
 * from RFC 9106 §5.3, HKDF from RFC 5869 A.1), DEK wrap/unwrap and its AAD binding, the
 * write-only envelope, the catalog migration, and the store (create, rotate, reopen, wrong KEK
 * or password refused with nothing written, shredding, KEK rotation, backups, legacy keys).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "siprecd/catalog.h"
#include "siprecd/keys.h"

static char dir[64], cat_path[128], kek_path[128];

static void hex(const char *h, uint8_t *out)
{
	for (size_t i = 0; h[2 * i]; i++) {
		unsigned v;

		sscanf(h + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

static void assert_hex(const uint8_t *got, const char *want)
{
	uint8_t w[128];
	size_t n = strlen(want) / 2;

	hex(want, w);
	assert_memory_equal(got, w, n);
}

static int setup(void **state)
{
	struct catalog *c;
	char err[256];

	snprintf(dir, sizeof(dir), "/var/tmp/test-keys-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(cat_path, sizeof(cat_path), "%s/catalog.db", dir);
	snprintf(kek_path, sizeof(kek_path), "%s/master.key", dir);
	if (catalog_open(cat_path, err, sizeof(err), &c) < 0)
		return -1;
	catalog_free(c);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_pbkdf2_vectors(void **state)
{
	uint8_t out[64];

	/* RFC 7914 §11 */
	assert_int_equal(keys_pbkdf2_sha256("passwd", 6, (const uint8_t *)"salt", 4, 1, out, 64),
			 0);
	assert_hex(out, "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
			"49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783");
	assert_int_equal(
		keys_pbkdf2_sha256("Password", 8, (const uint8_t *)"NaCl", 4, 80000, out, 64), 0);
	assert_hex(out, "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
			"a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d");
	assert_int_equal(keys_pbkdf2_sha256("x", 1, (const uint8_t *)"s", 1, 0, out, 32), -EINVAL);
}

static void test_argon2id_vector(void **state)
{
	uint8_t pw[32], salt[16], secret[8], ad[12], out[32];

	/* RFC 9106 §5.3 */
	memset(pw, 1, sizeof(pw));
	memset(salt, 2, sizeof(salt));
	memset(secret, 3, sizeof(secret));
	memset(ad, 4, sizeof(ad));
	assert_int_equal(keys_argon2id(pw, 32, salt, 16, secret, 8, ad, 12, 3, 32, 4, out, 32), 0);
	assert_hex(out, "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659");
	/* bounds a hostile backup or catalog could ask for */
	assert_int_equal(keys_argon2id(pw, 32, salt, 16, NULL, 0, NULL, 0, 1000, 32, 1, out, 32),
			 -EINVAL);
}

/* The AoR blind index (docs/KEYS.md): the vector was computed with Python's hmac and hashlib
 * (HKDF by RFC 5869's two steps). Letter case and surrounding blanks do not matter; the data
 * key does. */
static void test_aor_index(void **state)
{
	char a[KEYS_AOR_INDEX_MAX + 1], b[KEYS_AOR_INDEX_MAX + 1];
	uint8_t dek[32];

	(void)state;
	memset(dek, 0x22, sizeof(dek));
	assert_int_equal(keys_aor_index_compute(dek, 3, "sip:alice@example.com", a), 0);
	assert_string_equal(a,
			    "v3:d1fdb0ee115a10ac72918b4339ac2e35cbcbcbcbbfe1b1a4e58d06dd474f9a3c");
	assert_int_equal(keys_aor_index_compute(dek, 3, " SIP:Alice@EXAMPLE.com\t", b), 0);
	assert_string_equal(a, b);
	dek[0] ^= 1; /* another data key (version) gives another index */
	assert_int_equal(keys_aor_index_compute(dek, 4, "sip:alice@example.com", b), 0);
	assert_memory_equal(b, "v4:", 3);
	assert_string_not_equal(a + 3, b + 3);
	assert_int_equal(keys_aor_index_compute(dek, 3, "  ", b), -EINVAL);
}

static void test_hkdf_vector(void **state)
{
	uint8_t ikm[22], salt[13], info[10], out[42];

	/* RFC 5869 A.1 */
	memset(ikm, 0x0b, sizeof(ikm));
	for (int i = 0; i < 13; i++)
		salt[i] = (uint8_t)i;
	for (int i = 0; i < 10; i++)
		info[i] = (uint8_t)(0xf0 + i);
	assert_int_equal(keys_hkdf_sha256(ikm, 22, salt, 13, info, 10, out, 42), 0);
	assert_hex(out, "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
			"34007208d5b887185865");
	/* recording key = HKDF-SHA256(DEK = 32 x 0x22, no salt, "siprecd recording" || "rec-1") */
	{
		static const char info2[] = "siprecd recording"
					    "rec-1";
		uint8_t dek[32];

		memset(dek, 0x22, sizeof(dek));
		assert_int_equal(keys_hkdf_sha256(dek, 32, NULL, 0, (const uint8_t *)info2,
						  sizeof(info2) - 1, out, 32),
				 0);
		assert_hex(out, "57fc802eaf6d67f18259bd6c222340ed81ffc26edfd1f91ecd8331f360f00382");
	}
}

static void test_wrap(void **state)
{
	uint8_t kek[32], dek[32], w[KEYS_WRAPPED_SIZE], back[32];

	memset(kek, 0x11, sizeof(kek));
	memset(dek, 0x22, sizeof(dek));
	assert_int_equal(keys_dek_wrap(kek, "kek:a", "dek:b", 7, dek, w), 0);
	assert_int_equal(keys_dek_unwrap(kek, "kek:a", "dek:b", 7, w, back), 0);
	assert_memory_equal(back, dek, 32);
	/* the AAD binds the version, the key id and the KEK id */
	assert_int_equal(keys_dek_unwrap(kek, "kek:a", "dek:b", 8, w, back), -EBADMSG);
	assert_int_equal(keys_dek_unwrap(kek, "kek:a", "dek:c", 7, w, back), -EBADMSG);
	assert_int_equal(keys_dek_unwrap(kek, "kek:x", "dek:b", 7, w, back), -EBADMSG);
	/* the docs/KEYS.md vector (nonce all zero), made with Python's cryptography package */
	hex("000000000000000000000000e6e83c45c38dbfbb23389f27f9d0f8add342adbcda867cce5bc761b9"
	    "267fb27c253a49b81e82a5c4d57fcb2540ab177a",
	    w);
	assert_int_equal(keys_dek_unwrap(kek, "kek:a", "dek:b", 7, w, back), 0);
	assert_memory_equal(back, dek, 32);
	kek[0] ^= 1;
	assert_int_equal(keys_dek_unwrap(kek, "kek:a", "dek:b", 7, w, back), -EBADMSG);
	kek[0] ^= 1;
	w[20] ^= 1;
	assert_int_equal(keys_dek_unwrap(kek, "kek:a", "dek:b", 7, w, back), -EBADMSG);
}

static void test_envelope(void **state)
{
	uint8_t priv[32], pub[32], eph[32], key[32], env[KEYS_ENVELOPE_SIZE], back[32];
	EVP_PKEY *pk;
	size_t n = 32;

	memset(priv, 0x42, sizeof(priv));
	memset(eph, 0x24, sizeof(eph));
	memset(key, 0x5a, sizeof(key));
	pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
	assert_non_null(pk);
	assert_int_equal(EVP_PKEY_get_raw_public_key(pk, pub, &n), 1);
	EVP_PKEY_free(pk);
	assert_int_equal(keys_envelope_seal(pub, eph, "rec-1", key, env), 0);
	/* the docs/KEYS.md vector: fixed ephemeral key, zero nonce */
	assert_hex(pub, "132c442be010fbd57e72603328aa76e71fccc1503aae219327d14d9c9993f472");
	assert_hex(env, "04bcd2e0d00f2cce5fe8f1c6c2fbec5c07fa56e3aa5c88a5689975d88b3fce05"
			"000000000000000000000000"
			"6099735d33c993401bdfa6f935d2a88b666d373d1c2f4376e068b431ca9459bb"
			"46a1ce06908a9cd8cb423aa82a42c171");
	assert_int_equal(keys_envelope_open(priv, "rec-1", env, back), 0);
	assert_memory_equal(back, key, 32);
	assert_int_equal(keys_envelope_open(priv, "rec-2", env, back), -EBADMSG);
	priv[1] ^= 1; /* not byte 0: X25519 clamps its low bits */
	assert_int_equal(keys_envelope_open(priv, "rec-1", env, back), -EBADMSG);
	/* random ephemeral keys: two seals differ, both open */
	priv[1] ^= 1;
	assert_int_equal(keys_envelope_seal(pub, NULL, "rec-1", key, env), 0);
	assert_int_equal(keys_envelope_open(priv, "rec-1", env, back), 0);
}

static void test_migration(void **state)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int cols = 0;

	assert_int_equal(sqlite3_open(cat_path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT name FROM pragma_table_info('keys') WHERE name "
					    "IN ('kdf','kdf_salt','kdf_params','verifier')",
					    -1, &st, NULL),
			 SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW)
		cols++;
	sqlite3_finalize(st);
	sqlite3_close(db);
	assert_int_equal(cols, 4);
}

static int count_rows(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int n = -1;

	assert_int_equal(sqlite3_open(cat_path, &db), SQLITE_OK);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static void test_store(void **state)
{
	struct keys_options o = {.store = "file", .catalog_path = cat_path, .key_path = kek_path};
	struct recording_key a, b, c;
	struct keys *k, *r;
	char other[160], bk[160];
	uint32_t v;
	unsigned n;
	int keys_before;

	assert_int_equal(keys_open(&o, &k), 0);
	assert_int_equal(keys_current_version(k), 1);
	assert_int_equal(keys_recording_key_new(k, "rec-a", &a), 0);
	assert_int_equal(keys_rotate_dek(k, &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(keys_recording_key_new(k, "rec-b", &b), 0);
	assert_int_equal(b.key_version, 2);
	assert_string_equal(a.key_id, b.key_id);
	assert_memory_not_equal(a.key, b.key, 32);
	keys_free(k);

	/* reopened read-only: both versions derive the same keys */
	o.readonly = true;
	assert_int_equal(keys_open(&o, &r), 0);
	assert_int_equal(keys_recording_key_get(r, a.key_id, 1, "rec-a", &c), 0);
	assert_memory_equal(c.key, a.key, 32);
	assert_int_equal(keys_recording_key_get(r, b.key_id, 2, "rec-b", &c), 0);
	assert_memory_equal(c.key, b.key, 32);
	assert_int_equal(keys_recording_key_get(r, b.key_id, 3, "rec-b", &c), -ENOKEY);
	assert_int_equal(keys_rotate_dek(r, NULL), -EOPNOTSUPP);
	keys_free(r);

	/* another key file is refused, nothing written */
	keys_before = count_rows("SELECT count(*) FROM keys");
	snprintf(other, sizeof(other), "%s/other.key", dir);
	assert_int_equal(keys_open_file(other, &r), 0); /* creates a random key file */
	keys_free(r);
	o.key_path = other;
	o.readonly = false;
	assert_int_equal(keys_open(&o, &r), -EKEYREJECTED);
	assert_non_null(strstr(keys_error(), "does not match"));
	assert_int_equal(count_rows("SELECT count(*) FROM keys"), keys_before);

	/* KEK rotation to a password (PBKDF2, cheap iterations for the test) */
	o.key_path = kek_path;
	assert_int_equal(keys_open(&o, &k), 0);
	assert_int_equal(keys_rekek(k, &(struct keys_options){.store = "password",
							      .password = "s3cret pass",
							      .kdf = "pbkdf2",
							      .pbkdf2_iterations = 1000}),
			 0);
	keys_free(k);
	o = (struct keys_options){
		.store = "password", .catalog_path = cat_path, .password = "nope"};
	keys_before = count_rows("SELECT count(*) FROM keys");
	assert_int_equal(keys_open(&o, &k), -EKEYREJECTED);
	assert_int_equal(count_rows("SELECT count(*) FROM keys"), keys_before);
	o.password = "s3cret pass";
	assert_int_equal(keys_open(&o, &k), 0);
	assert_int_equal(keys_recording_key_get(k, a.key_id, 1, "rec-a", &c), 0);
	assert_memory_equal(c.key, a.key, 32);

	/* backup before shredding, restored into a fresh catalog */
	snprintf(bk, sizeof(bk), "%s/keys.backup", dir);
	assert_int_equal(keys_backup(k, bk, "backup passphrase", &n), 0);
	assert_true(n >= 3);
	assert_int_equal(keys_backup_verify(k, bk, "backup passphrase", NULL), 0);
	assert_int_equal(keys_backup_verify(k, bk, "wrong passphrase", NULL), -EKEYREJECTED);

	/* shredding: refused while a running daemon may still switch away from version 1 */
	assert_int_equal(keys_destroy_dek(k, 2, "test", NULL), -EBUSY);
	assert_int_equal(keys_destroy_dek(k, 1, "test", NULL), -EBUSY);
	{
		sqlite3 *db;

		assert_int_equal(sqlite3_open(cat_path, &db), SQLITE_OK);
		assert_int_equal(sqlite3_exec(db,
					      "UPDATE keys SET retired_at = retired_at - 60000 "
					      "WHERE version = 1",
					      NULL, NULL, NULL),
				 SQLITE_OK);
		sqlite3_close(db);
	}
	assert_int_equal(keys_destroy_dek(k, 1, "test", NULL), 0);
	assert_int_equal(keys_destroy_dek(k, 1, "test", NULL), -EALREADY);
	assert_int_equal(keys_recording_key_get(k, a.key_id, 1, "rec-a", &c), -EKEYREVOKED);
	assert_int_equal(count_rows("SELECT count(*) FROM keys WHERE version = 1 AND algorithm = "
				    "'AES-256' AND wrapped IS NULL AND state = 'destroyed'"),
			 1);
	keys_free(k);

	{
		struct catalog *cat;
		char err[256], fresh[160];

		snprintf(fresh, sizeof(fresh), "%s/fresh.db", dir);
		assert_int_equal(catalog_open(fresh, err, sizeof(err), &cat), 0);
		catalog_free(cat);
		assert_int_equal(keys_backup_restore(fresh, bk, "backup passphrase", NULL), 0);
		assert_int_equal(keys_backup_restore(fresh, bk, "backup passphrase", NULL),
				 -EEXIST);
		o.catalog_path = fresh;
		o.readonly = true;
		assert_int_equal(keys_open(&o, &k), 0);
		/* the backup predates the shredding: version 1 is back */
		assert_int_equal(keys_recording_key_get(k, a.key_id, 1, "rec-a", &c), 0);
		assert_memory_equal(c.key, a.key, 32);
		keys_free(k);
	}
	recording_key_wipe(&a);
	recording_key_wipe(&b);
	recording_key_wipe(&c);
}

static void test_legacy_compat(void **state)
{
	struct keys_options o = {.store = "file", .catalog_path = NULL, .key_path = NULL};
	struct recording_key a, c;
	struct keys *k;
	char cat2[160];
	struct catalog *cat;
	char err[256];

	/* a recording written with the single key file stays readable once that file is the KEK */
	snprintf(cat2, sizeof(cat2), "%s/legacy.db", dir);
	assert_int_equal(catalog_open(cat2, err, sizeof(err), &cat), 0);
	catalog_free(cat);
	assert_int_equal(keys_open_file(kek_path, &k), 0);
	assert_int_equal(keys_recording_key_new(k, "old-rec", &a), 0);
	keys_free(k);
	o.catalog_path = cat2;
	o.key_path = kek_path;
	assert_int_equal(keys_open(&o, &k), 0);
	assert_string_not_equal(keys_current_key_id(k), a.key_id);
	assert_int_equal(keys_recording_key_get(k, a.key_id, a.key_version, "old-rec", &c), 0);
	assert_memory_equal(c.key, a.key, 32);
	keys_free(k);
}

static void test_aor_indexes_versions(void **state)
{
	struct keys_options o = {.store = "file", .key_path = kek_path};
	const char **idx = NULL;
	char v1[KEYS_AOR_INDEX_MAX + 1], cat3[160], err[256];
	struct catalog *cat;
	struct keys *k;
	size_t n = 0;

	/* one index per data key version: the file KEK (added as a legacy key) is not one */
	snprintf(cat3, sizeof(cat3), "%s/indexes.db", dir);
	assert_int_equal(catalog_open(cat3, err, sizeof(err), &cat), 0);
	catalog_free(cat);
	o.catalog_path = cat3;
	assert_int_equal(keys_open(&o, &k), 0);
	assert_int_equal(keys_aor_index(k, "sip:alice@example.com", v1), 0);
	assert_int_equal(keys_aor_indexes(k, "sip:alice@example.com", &idx, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(idx[0], v1);
	free(idx);
	assert_int_equal(keys_rotate_dek(k, NULL), 0);
	assert_int_equal(keys_aor_indexes(k, "sip:alice@example.com", &idx, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(idx[0], v1);
	assert_true(strncmp(idx[1], "v2:", 3) == 0);
	keys_free(k);
	free(idx);
}

static void test_memory_store(void **state)
{
	struct keys *k;
	struct recording_key a;

	assert_int_equal(keys_open(&(struct keys_options){.store = "memory"}, &k), 0);
	assert_non_null(strstr(keys_warning(k), "UNREADABLE after a restart"));
	assert_int_equal(keys_recording_key_new(k, "r", &a), 0);
	assert_int_equal(keys_rotate_dek(k, NULL), -EOPNOTSUPP);
	keys_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pbkdf2_vectors), cmocka_unit_test(test_argon2id_vector),
		cmocka_unit_test(test_hkdf_vector),    cmocka_unit_test(test_aor_index),
		cmocka_unit_test(test_wrap),	       cmocka_unit_test(test_envelope),
		cmocka_unit_test(test_migration),      cmocka_unit_test(test_store),
		cmocka_unit_test(test_legacy_compat),  cmocka_unit_test(test_aor_indexes_versions),
		cmocka_unit_test(test_memory_store),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
