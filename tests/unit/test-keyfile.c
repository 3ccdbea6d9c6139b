// SPDX-License-Identifier: MIT
/*
 * Unit tests of the file key provider: creation with mode 0600, refusal of a readable key file,
 * the key id, and HKDF derivation of per-recording keys.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "siprecd/keys.h"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/var/tmp/test-keyfile-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void test_create_and_reopen(void **state)
{
	char path[128];
	struct keys *k1, *k2;
	struct recording_key a, b, c;
	struct stat st;

	snprintf(path, sizeof(path), "%s/new.key", dir);
	assert_int_equal(keys_open_file(path, &k1), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, 65);
	assert_int_equal(strncmp(keys_current_key_id(k1), "file:", 5), 0);
	assert_int_equal(strlen(keys_current_key_id(k1)), 5 + 16);

	assert_int_equal(keys_open_file(path, &k2), 0);
	assert_string_equal(keys_current_key_id(k1), keys_current_key_id(k2));
	assert_int_equal(keys_recording_key_new(k1, "rec-1", &a), 0);
	assert_int_equal(keys_recording_key_get(k2, a.key_id, a.key_version, "rec-1", &b), 0);
	assert_memory_equal(a.key, b.key, 32);
	assert_int_equal(keys_recording_key_new(k1, "rec-2", &c), 0);
	assert_memory_not_equal(a.key, c.key, 32);
	assert_int_equal(keys_recording_key_get(k2, "file:0000000000000000", 1, "rec-1", &c),
			 -ENOKEY);
	assert_int_equal(keys_recording_key_get(k2, a.key_id, 2, "rec-1", &c), -ENOKEY);
	assert_int_equal(keys_recording_key_new(k1, "", &c), -EINVAL);
	recording_key_wipe(&a);
	for (size_t i = 0; i < sizeof(a.key); i++)
		assert_int_equal(a.key[i], 0);
	keys_free(k1);
	keys_free(k2);
	assert_null(keys_free(NULL));
}

/* Known answer: key 00 01 .. 1f, recording "rec-1" (computed independently with
 * openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt hexkey:00..1f
 * -kdfopt info:"siprecd recordingrec-1" HKDF). */
static void test_known_answer(void **state)
{
	char path[128];
	struct keys *k;
	struct recording_key a;
	char hex[65];

	snprintf(path, sizeof(path), "%s/kat.key", dir);
	write_file(path, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
		   0600);
	assert_int_equal(keys_open_file(path, &k), 0);
	assert_int_equal(keys_recording_key_new(k, "rec-1", &a), 0);
	for (int i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", a.key[i]);
	assert_string_equal(hex,
			    "3ce7909f5c110db5164c325d1b3f7295ec9393093af8f55d410febb055acee25");
	assert_string_equal(a.key_id, "file:630dcd2966c43366");
	assert_int_equal(a.key_version, 1);
	keys_free(k);
}

static void test_refusals(void **state)
{
	static const struct {
		const char *text;
		mode_t mode;
		int ret;
	} t[] = {
		{"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", 0644,
		 -EPERM},
		{"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", 0640,
		 -EPERM},
		{"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n", 0604,
		 -EPERM},
		{"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 0600, 0},
		{"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1", 0600, -EBADMSG},
		{"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g\n", 0600,
		 -EBADMSG},
		{"", 0600, -EBADMSG},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char path[128];
		struct keys *k = NULL;
		int r;

		snprintf(path, sizeof(path), "%s/r%zu.key", dir, i);
		write_file(path, t[i].text, t[i].mode);
		r = keys_open_file(path, &k);
		assert_int_equal(r, t[i].ret);
		if (r == -EPERM)
			assert_non_null(strstr(keys_error(), "chmod 600"));
		keys_free(k);
	}
	assert_int_equal(keys_open_file(dir, &(struct keys *){NULL}), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_and_reopen),
		cmocka_unit_test(test_known_answer),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
