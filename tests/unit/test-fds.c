// SPDX-License-Identifier: MIT
/* Unit tests for the descriptor-table room check (src/util/fds.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "siprecd/fds.h"

/* With a soft limit of 256 the reserve is 32: room while fewer than 224 are open. */
static void test_room(void **state)
{
	struct rlimit old, rl;
	unsigned long lim;
	int held[256], n = 0;
	uint64_t now = 1000;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	rl = old;
	rl.rlim_cur = 256;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);

	assert_true(fds_room(now, &lim));
	assert_int_equal(lim, 256);

	/* One descriptor held at number 224 (as one opened at a peak and kept, after most below
	 * it were closed): the probe's number is taken, but few are open: still room. */
	assert_int_equal(dup2(0, 224), 224);
	now += 1000;
	assert_true(fds_room(now, &lim));

	/* 224 and more open: no room. */
	while (n < 256) {
		int fd = dup(0);

		if (fd < 0)
			break;
		held[n++] = fd;
	}
	assert_true(n > 200);
	now += 1000;
	assert_false(fds_room(now, &lim));
	/* within 100 ms the verdict is kept, not counted again */
	for (int i = 0; i < 100; i++)
		close(held[--n]);
	assert_false(fds_room(now + 50, &lim));
	/* counted again after 100 ms: room */
	assert_true(fds_room(now + 150, &lim));

	while (n > 0)
		close(held[--n]);
	close(224);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
}

/* The descriptor table's size (FDSize in /proc/self/status), or -1. */
static long fd_table_size(void)
{
	char line[256];
	long n = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "FDSize: %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

static long count_fds(void)
{
	long n = 0;

	for (int fd = 0; fd < 8192; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

/* The table grows to min(soft limit, cap) at once, and nothing is left open. */
static void test_table_reserve(void **state)
{
	struct rlimit old, rl;
	unsigned long size = 1;
	long open0;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	if (old.rlim_max != RLIM_INFINITY && old.rlim_max < 4096)
		skip();
	rl = old;
	rl.rlim_cur = 4096;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_true(fd_table_size() < 1024);
	open0 = count_fds();

	/* the cap below the limit */
	assert_int_equal(fds_table_reserve(1024, &size), 0);
	assert_int_equal(size, 1024);
	assert_int_equal(fd_table_size(), 1024);
	assert_int_equal(count_fds(), open0);

	/* the limit below the cap */
	assert_int_equal(fds_table_reserve(65536, &size), 0);
	assert_int_equal(size, 4096);
	assert_int_equal(fd_table_size(), 4096);
	assert_int_equal(count_fds(), open0);

	/* the last number open already: the table holds it, nothing more to do */
	assert_int_equal(dup2(0, 4095), 4095);
	assert_int_equal(fds_table_reserve(65536, &size), 0);
	assert_int_equal(size, 4096);
	close(4095);
	assert_int_equal(count_fds(), open0);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_reserve),
		cmocka_unit_test(test_room),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
