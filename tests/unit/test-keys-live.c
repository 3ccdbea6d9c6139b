// SPDX-License-Identifier: MIT
/*
 * Unit tests of the key store while a daemon runs: a second process's rotation and destruction
 * seen by keys_refresh, the destroy guard (just retired, recordings being written), automatic
 * backups after rotation, sealed metadata envelopes and the .metadata writes of the keys thread.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "siprecd/catalog.h"
#include "siprecd/keys.h"
#include "siprecd/storage.h"

static char dir[64], cat_path[128], kek_path[128], bdir[128], bpass[128];

static int setup(void **state)
{
	struct catalog *c;
	char err[256];

	snprintf(dir, sizeof(dir), "/var/tmp/test-keys-live-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(cat_path, sizeof(cat_path), "%s/catalog.db", dir);
	snprintf(kek_path, sizeof(kek_path), "%s/master.key", dir);
	snprintf(bdir, sizeof(bdir), "%s/backups", dir);
	snprintf(bpass, sizeof(bpass), "%s/backup.pass", dir);
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

static void sql(const char *q)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(cat_path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, q, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", q, sqlite3_errmsg(db));
	sqlite3_close(db);
}

static struct keys_options opts(void)
{
	return (struct keys_options){
		.store = "file", .catalog_path = cat_path, .key_path = kek_path};
}

static unsigned count_backups(void)
{
	DIR *d = opendir(bdir);
	struct dirent *e;
	unsigned n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		n += strstr(e->d_name, ".backup") != NULL;
	closedir(d);
	return n;
}

static int changes;
static uint32_t changed_to;

static void on_change(void *ud, const char *key_id, uint32_t version, bool external)
{
	changes++;
	changed_to = version;
	assert_true(external);
}

/* Daemon d and tool t on one catalog: t rotates and destroys, d follows with keys_refresh. */
static void test_refresh_and_destroy_guard(void **state)
{
	struct keys_options o = opts();
	struct keys *d, *t;
	struct recording_key rk;
	uint32_t v;

	assert_int_equal(keys_open(&o, &d), 0);
	keys_set_change_callback(d, on_change, NULL);
	assert_int_equal(keys_open(&o, &t), 0);
	assert_int_equal(keys_current_version(d), 1);
	assert_int_equal(keys_refresh(d), 0);
	assert_int_equal(keys_rotate_dek(t, &v), 0);
	assert_int_equal(v, 2);
	/* Until it re-reads, the daemon still uses version 1; afterwards version 2. */
	assert_int_equal(keys_current_version(d), 1);
	assert_int_equal(keys_refresh(d), 1);
	assert_int_equal(changes, 1);
	assert_int_equal(changed_to, 2);
	assert_int_equal(keys_current_version(d), 2);
	assert_int_equal(keys_recording_key_new(d, "rec-after", &rk), 0);
	assert_int_equal(rk.key_version, 2);
	recording_key_wipe(&rk);
	assert_int_equal(keys_refresh(d), 0);

	/* Just retired: a running daemon may not have switched yet. */
	assert_int_equal(keys_destroy_dek(t, 1, "test", NULL), -EBUSY);
	assert_non_null(strstr(keys_error(), "retired"));
	keys_free(t);
	sql("UPDATE keys SET retired_at = retired_at - 60000 WHERE algorithm = 'AES-256'");
	/* A recording still being written under version 1 blocks the destruction too. */
	sql("INSERT INTO sessions (uuid, started_at) VALUES ('s1', 1)");
	sql("INSERT INTO recordings (uuid, session_id, path, state, key_id, key_version, "
	    "created_at) SELECT 'r1', id, '/x', 'writing', (SELECT key_id FROM keys WHERE "
	    "algorithm = 'AES-256' AND version = 1), 1, 1 FROM sessions WHERE uuid = 's1'");
	assert_int_equal(keys_open(&o, &t), 0);
	assert_int_equal(keys_destroy_dek(t, 1, "test", NULL), -EBUSY);
	assert_non_null(strstr(keys_error(), "being written"));
	sql("UPDATE recordings SET state = 'final' WHERE uuid = 'r1'");
	assert_int_equal(keys_destroy_dek(t, 1, "test", NULL), 0);
	keys_free(t);
	/* The daemon forgets the destroyed version at its next refresh. */
	assert_int_equal(keys_recording_key_get(d, keys_current_key_id(d), 1, "r1", &rk), 0);
	recording_key_wipe(&rk);
	assert_int_equal(keys_refresh(d), 0);
	assert_int_equal(keys_recording_key_get(d, keys_current_key_id(d), 1, "r1", &rk),
			 -EKEYREVOKED);
	keys_free(d);
}

static int own_changes;

static void on_own_change(void *ud, const char *key_id, uint32_t version, bool external)
{
	__atomic_add_fetch(&own_changes, external ? 0 : 1, __ATOMIC_SEQ_CST);
}

/* KEY_ROTATION_INTERVAL on reload: a thread started with "never" rotates once the interval is
 * shortened, without waiting for its next poll. */
static void test_rotation_interval_change(void **state)
{
	struct keys_options o = opts();
	struct keys *k;
	uint32_t before;

	assert_int_equal(keys_open(&o, &k), 0);
	keys_set_change_callback(k, on_own_change, NULL);
	before = keys_current_version(k);
	assert_int_equal(keys_rotation_start(k, 0), 0);
	assert_int_equal(__atomic_load_n(&own_changes, __ATOMIC_SEQ_CST), 0);
	keys_set_rotation_interval(k, 1);
	for (int i = 0; i < 1000 && __atomic_load_n(&own_changes, __ATOMIC_SEQ_CST) == 0; i++)
		usleep(10000);
	keys_set_rotation_interval(k, 0);
	assert_true(__atomic_load_n(&own_changes, __ATOMIC_SEQ_CST) >= 1);
	keys_free(k);
	assert_int_equal(keys_open(&o, &k), 0);
	assert_true(keys_current_version(k) > before);
	keys_free(k);
}

static void test_backup_after_rotation(void **state)
{
	struct keys_options o = opts();
	struct keys *k;
	unsigned n;
	char path[512];
	FILE *f;

	o.backup_dir = bdir;
	o.backup_passphrase_file = bpass;
	/* No passphrase: refused at open, not at the first rotation. */
	assert_int_equal(keys_open(&o, &k), -ENOENT);
	f = fopen(bpass, "w");
	assert_non_null(f);
	fputs("backup passphrase 1\n", f);
	fclose(f);
	chmod(bpass, 0644);
	assert_int_equal(keys_open(&o, &k), -EPERM);
	chmod(bpass, 0600);
	assert_int_equal(keys_open(&o, &k), 0);
	assert_int_equal(count_backups(), 0);
	assert_int_equal(keys_rotate_dek(k, NULL), 0);
	assert_int_equal(count_backups(), 1);
	assert_non_null(strstr(keys_last_backup(k), ".backup"));
	snprintf(path, sizeof(path), "%s/%s", bdir, keys_last_backup(k));
	assert_int_equal(keys_backup_verify(k, path, "backup passphrase 1", &n), 0);
	assert_true(n >= 2);
	assert_int_equal(keys_backup_verify(k, path, "another passphrase", &n), -EKEYREJECTED);
	keys_free(k);
}

static int lookup(void *ud, const char *key_id, uint32_t key_version, const char *rec,
		  uint8_t ret_key[STORE_KEY_SIZE])
{
	struct recording_key rk;
	int r = keys_recording_key_get(ud, key_id, key_version, rec, &rk);

	if (r == 0)
		memcpy(ret_key, rk.key, STORE_KEY_SIZE);
	recording_key_wipe(&rk);
	return r;
}

static void test_metadata(void **state)
{
	struct keys_options o = opts();
	struct keys *k;
	struct recording_key rk;
	char *env = NULL, *plain = NULL, path[256];
	const struct store_key_lookup lk = {lookup, NULL};
	struct store_key_lookup l2;
	size_t len;

	assert_int_equal(keys_open(&o, &k), 0);
	l2 = lk;
	l2.userdata = k;
	assert_int_equal(keys_recording_key_new(k, "sess-1", &rk), 0);
	assert_int_equal(keys_metadata_seal(&rk, "sess-1:1:body", "<x>Alice</x>", 12, 1000, &env),
			 0);
	assert_null(strstr(env, "Alice"));
	assert_non_null(strstr(env, "\"key_id\":\"dek:"));
	assert_int_equal(
		keys_metadata_open(env, strlen(env), "sess-1", "sess-1:1:body", &l2, &plain, &len),
		0);
	assert_int_equal(len, 12);
	assert_string_equal(plain, "<x>Alice</x>");
	free(plain);
	/* Another snapshot's associated data, another session's key: refused. */
	assert_int_equal(
		keys_metadata_open(env, strlen(env), "sess-1", "sess-1:2:body", &l2, &plain, &len),
		-EBADMSG);
	assert_int_equal(
		keys_metadata_open(env, strlen(env), "sess-2", "sess-1:1:body", &l2, &plain, &len),
		-EBADMSG);
	free(env);

	/* .metadata files: written by the keys thread, replaced by later documents. */
	snprintf(path, sizeof(path), "%s/sess-1.metadata", dir);
	assert_int_equal(keys_metadata_write_async(k, path, &rk, "sess-1", "{}"), -ESRCH);
	assert_int_equal(keys_rotation_start(k, 0), 0);
	assert_int_equal(keys_metadata_write_async(k, path, &rk, "sess-1", "{\"n\":\"Alice\"}"), 0);
	assert_int_equal(keys_metadata_write_async(k, path, &rk, "sess-1", "{\"n\":\"Bob\"}"), 0);
	assert_int_equal(keys_metadata_flush(k), 0);
	assert_int_equal(store_metadata_read(path, &l2, "sess-1", &plain), 0);
	assert_string_equal(plain, "{\"n\":\"Bob\"}");
	free(plain);
	recording_key_wipe(&rk);
	keys_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refresh_and_destroy_guard),
		cmocka_unit_test(test_backup_after_rotation),
		cmocka_unit_test(test_rotation_interval_change),
		cmocka_unit_test(test_metadata),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
