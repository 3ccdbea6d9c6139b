// SPDX-License-Identifier: MIT
/* Unit tests for the descriptor-table room check (src/util/fds.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_room),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
