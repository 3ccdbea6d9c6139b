// SPDX-License-Identifier: MIT
/* Unit tests for a volume's fault state and the probe thread (src/storage/diskfault.c). */
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

#include "siprecd/diskfault.h"

static void test_classes(void **state)
{
	(void)state;
	assert_true(disk_fault_is_fault(-EIO));
	assert_true(disk_fault_is_fault(-EROFS));
	assert_true(disk_fault_is_fault(-EUCLEAN));
	assert_true(disk_fault_is_fault(-EACCES));
	/* a full disk has its own handling (MIN_FREE_DISK_PERCENT) */
	assert_false(disk_fault_is_fault(-ENOSPC));
	assert_false(disk_fault_is_fault(-EDQUOT));
	assert_false(disk_fault_is_fault(-ENOMEM));
	/* the process's descriptor limits: the fds check refuses calls then (src/util/fds.c) */
	assert_false(disk_fault_is_fault(-EMFILE));
	assert_false(disk_fault_is_fault(-ENFILE));
	assert_false(disk_fault_is_fault(0));
	assert_string_equal(disk_fault_errno_name(-EROFS), "EROFS");
}

static void test_note_and_clear(void **state)
{
	struct disk_fault f = {0};

	(void)state;
	/* a full disk is not a fault */
	assert_false(disk_fault_note(&f, "/r/a.siprec", -ENOSPC, 100));
	assert_int_equal(f.error, 0);
	/* the first failure sets it, with the file; later ones only count */
	assert_true(disk_fault_note(&f, "/r/a.siprec", -EIO, 200));
	assert_int_equal(f.error, -EIO);
	assert_string_equal(f.what, "/r/a.siprec");
	assert_int_equal(f.since_ms, 200);
	assert_int_equal(f.gen, 1);
	assert_false(disk_fault_note(&f, "/r/b.siprec", -EROFS, 300));
	assert_int_equal(f.error, -EIO);
	assert_string_equal(f.what, "/r/a.siprec");
	assert_int_equal(f.failures, 2);
	assert_int_equal(f.last_ms, 300);
	assert_int_equal(f.gen, 1);

	/* a probe begun before the last failure proves nothing */
	assert_false(disk_fault_probe_done(&f, "/r/.siprecd-probe", 0, 250, 400));
	assert_int_equal(f.error, -EIO);
	assert_false(disk_fault_probe_done(&f, "/r/.siprecd-probe", 0, 300, 400));
	assert_int_equal(f.error, -EIO);
	/* a failed probe keeps it */
	assert_false(disk_fault_probe_done(&f, "/r/.siprecd-probe", -EIO, 350, 450));
	assert_int_equal(f.error, -EIO);
	assert_int_equal(f.failures, 3);
	/* one begun after it, that succeeded, clears it */
	assert_true(disk_fault_probe_done(&f, "/r/.siprecd-probe", 0, 460, 470));
	assert_int_equal(f.error, 0);
	assert_int_equal(f.gen, 2);
	assert_false(disk_fault_probe_done(&f, "/r/.siprecd-probe", 0, 480, 490));
	assert_int_equal(f.gen, 2);

	/* a probe that fails sets it, naming the probe; one that finds the disk full clears it
	 * (the free-space check is what refuses calls then) */
	assert_true(disk_fault_probe_done(&f, "/r/.siprecd-probe", -EROFS, 500, 510));
	assert_int_equal(f.error, -EROFS);
	assert_string_equal(f.what, "/r/.siprecd-probe");
	assert_true(disk_fault_probe_done(&f, "/r/.siprecd-probe", -ENOSPC, 520, 530));
	assert_int_equal(f.error, 0);
	assert_int_equal(f.gen, 4);
}

/* A recording's write error (any errno) stays until a synced probe begun after it succeeds. */
static void test_write_errors(void **state)
{
	struct disk_fault f = {0};

	(void)state;
	disk_fault_write_error(&f, 100);
	assert_true(f.write_errors);
	assert_false(disk_fault_synced(&f, 90));  /* began before the error */
	assert_false(disk_fault_synced(&f, 100)); /* same millisecond: may be before it */
	assert_true(f.write_errors);
	assert_true(disk_fault_synced(&f, 101));
	assert_false(f.write_errors);
	assert_false(disk_fault_synced(&f, 200));
	assert_int_equal(f.error, 0);
}

/* The thread: a directory that cannot be written (it does not exist) is found failing by the
 * probe alone; a report wakes it; once the directory is there, the fault clears. */
static void test_probe_thread(void **state)
{
	char base[] = "/tmp/test-diskfault.XXXXXX", dir[64];
	const char *dirs[DISK_FAULT_DIRS] = {NULL};
	struct disk_fault f;
	char got[128];
	int i;

	(void)state;
	assert_non_null(mkdtemp(base));
	snprintf(dir, sizeof(dir), "%s/rec", base);
	dirs[DISK_FAULT_RECORDINGS] = dir;
	assert_int_equal(disk_fault_start(dirs, 20, 10), 0);
	for (i = 0; i < 500 && !disk_fault_any(); i++)
		usleep(10000);
	assert_true(disk_fault_any());
	assert_true(disk_fault_get(DISK_FAULT_RECORDINGS, &f, got, sizeof(got)));
	assert_string_equal(got, dir);
	assert_int_equal(f.error, -ENOENT);
	assert_string_equal(disk_fault_reason_phrase(), "Recording Storage Failing");
	assert_false(disk_fault_get(DISK_FAULT_CATALOG, NULL, NULL, 0));

	assert_int_equal(mkdir(dir, 0700), 0);
	for (i = 0; i < 500 && disk_fault_any(); i++)
		usleep(10000);
	assert_false(disk_fault_any());
	assert_null(disk_fault_reason_phrase());
	/* the probe's file, made once and kept (a block) */
	snprintf(got, sizeof(got), "%s/.siprecd-probe", dir);
	assert_int_equal(access(got, F_OK), 0);

	/* a write's report sets it at once; the probe (woken by it) clears it */
	assert_true(disk_fault_report(DISK_FAULT_RECORDINGS, "/x/a.siprec", -EIO));
	for (i = 0; i < 500 && disk_fault_any(); i++)
		usleep(10000);
	assert_false(disk_fault_any());
	assert_false(disk_fault_report(DISK_FAULT_RECORDINGS, "/x/a.siprec", -ENOSPC));
	assert_false(disk_fault_any());
	/* a recording ended with a write error: no fault, but write_errors until a synced probe */
	disk_fault_write_failed(DISK_FAULT_RECORDINGS);
	assert_false(disk_fault_any());
	for (i = 0; i < 500; i++) {
		assert_true(disk_fault_get(DISK_FAULT_RECORDINGS, &f, NULL, 0));
		if (!f.write_errors)
			break;
		usleep(10000);
	}
	assert_false(f.write_errors);
	disk_fault_stop();
	assert_int_equal(unlink(got), 0);
	assert_int_equal(rmdir(dir), 0);
	assert_int_equal(rmdir(base), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classes),
		cmocka_unit_test(test_note_and_clear),
		cmocka_unit_test(test_write_errors),
		cmocka_unit_test(test_probe_thread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
