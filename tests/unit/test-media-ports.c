// SPDX-License-Identifier: MIT
/* Unit tests for media port allocation: ports stay even and inside the range, come in no
 * sequential or repeating order, a range that is busy (held by us or refused by bind) still
 * yields its last free port in one walk, and released ports come back. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "media/ports.h"

struct fake {
	unsigned calls;
	int free_port; /* > 0: only this port binds */
	uint8_t taken[65536];
};

static int fake_bind(void *ud, uint16_t port)
{
	struct fake *f = ud;

	f->calls++;
	if (f->free_port > 0 && port != f->free_port)
		return -EADDRINUSE;
	if (f->taken[port])
		return -EADDRINUSE;
	f->taken[port] = 1;
	return 0;
}

static void test_range_and_parity(void **state)
{
	static struct fake f;
	struct media_ports p;
	uint16_t port;

	memset(&f, 0, sizeof(f));
	/* odd minimum rounds down; 20001..20010 holds the pairs 20000..20010 */
	assert_int_equal(media_ports_init(&p, 20001, 20010), 0);
	assert_int_equal(p.slots, 5);
	for (unsigned i = 0; i < 5; i++) {
		assert_int_equal(media_ports_alloc(&p, fake_bind, &f, &port), 0);
		assert_true(port >= 20000 && port + 1 <= 20010);
		assert_int_equal(port % 2, 0);
	}
	/* every slot taken exactly once, then the range is exhausted without a bind */
	for (unsigned q = 20000; q <= 20008; q += 2)
		assert_int_equal(f.taken[q], 1);
	f.calls = 0;
	assert_int_equal(media_ports_alloc(&p, fake_bind, &f, &port), -EADDRINUSE);
	assert_int_equal(f.calls, 0);
	media_ports_release(&p, 20004);
	f.taken[20004] = 0;
	assert_int_equal(media_ports_alloc(&p, fake_bind, &f, &port), 0);
	assert_int_equal(port, 20004);
	media_ports_done(&p);
	assert_int_equal(media_ports_init(&p, 20000, 20000), -EINVAL);
}

/* Consecutive allocations must not be predictable from the previous port: in 200 allocations
 * from 5000 slots, the step between two ports is almost never the same (a sequential or fixed
 * stride allocator repeats it every time), and no port repeats. */
static void test_not_sequential(void **state)
{
	static struct fake f;
	struct media_ports p;
	uint16_t prev = 0, port;
	int prev_step = 0;
	unsigned same_step = 0, adjacent = 0;

	memset(&f, 0, sizeof(f));
	assert_int_equal(media_ports_init(&p, 20000, 29999), 0);
	for (unsigned i = 0; i < 200; i++) {
		assert_int_equal(media_ports_alloc(&p, fake_bind, &f, &port), 0);
		if (i > 0) {
			int step = (int)port - (int)prev;

			same_step += i > 1 && step == prev_step;
			adjacent += step == 2 || step == -2;
			prev_step = step;
		}
		prev = port;
	}
	assert_int_equal(p.n_used, 200);
	/* each of these happens with probability ~1/5000 per pair for a random allocator */
	assert_true(same_step <= 2);
	assert_true(adjacent <= 2);
	media_ports_done(&p);
}

/* One free port left among 5000 slots, the others held by another process (bind refuses):
 * the walk finds it with at most one bind per slot. With the others held by us, it finds it
 * with exactly one bind. */
static void test_busy_range(void **state)
{
	static struct fake f;
	struct media_ports p;
	uint16_t port;

	memset(&f, 0, sizeof(f));
	assert_int_equal(media_ports_init(&p, 20000, 29999), 0);
	f.free_port = 27778;
	assert_int_equal(media_ports_alloc(&p, fake_bind, &f, &port), 0);
	assert_int_equal(port, 27778);
	assert_true(f.calls <= p.slots);
	assert_int_equal(f.calls, p.last_tries);
	media_ports_release(&p, port);
	media_ports_done(&p);

	memset(&f, 0, sizeof(f));
	assert_int_equal(media_ports_init(&p, 20000, 29999), 0);
	for (unsigned i = 0; i < p.slots - 1; i++)
		assert_int_equal(media_ports_alloc(&p, fake_bind, &f, &port), 0);
	f.calls = 0;
	assert_int_equal(media_ports_alloc(&p, fake_bind, &f, &port), 0);
	assert_int_equal(f.calls, 1);
	media_ports_done(&p);
}

/* Over many allocate/release rounds from a small range every slot is used, roughly evenly. */
static void test_spread(void **state)
{
	static struct fake f;
	struct media_ports p;
	unsigned hits[16] = {0};
	uint16_t port;

	memset(&f, 0, sizeof(f));
	assert_int_equal(media_ports_init(&p, 30000, 30031), 0);
	for (unsigned i = 0; i < 1600; i++) {
		assert_int_equal(media_ports_alloc(&p, fake_bind, &f, &port), 0);
		hits[(port - 30000) / 2]++;
		media_ports_release(&p, port);
		f.taken[port] = 0;
	}
	for (unsigned i = 0; i < 16; i++)
		assert_true(hits[i] >= 40 && hits[i] <= 200);
	media_ports_done(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range_and_parity),
		cmocka_unit_test(test_not_sequential),
		cmocka_unit_test(test_busy_range),
		cmocka_unit_test(test_spread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
