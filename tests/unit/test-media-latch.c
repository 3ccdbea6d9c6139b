// SPDX-License-Identifier: MIT
/* Unit tests for the media source latch (MEDIA_LATCH): the offer's IP only under sdp (IPv4,
 * IPv6, and IPv4 seen v4-mapped through a dual-stack socket), the first sender's address:port
 * once latched, first and off, and no latch taken by a packet the caller has not validated. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <string.h>

#include "media/latch.h"

static struct sockaddr_storage sa(const char *ip, uint16_t port)
{
	struct sockaddr_storage s;

	memset(&s, 0, sizeof(s));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&s;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		assert_int_equal(inet_pton(AF_INET6, ip, &a->sin6_addr), 1);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&s;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		assert_int_equal(inet_pton(AF_INET, ip, &a->sin_addr), 1);
	}
	return s;
}

static void test_same_ip(void **state)
{
	static const struct {
		const char *a, *b;
		bool same;
	} t[] = {
		{"192.0.2.1", "192.0.2.1", true},
		{"192.0.2.1", "192.0.2.2", false},
		{"192.0.2.1", "::ffff:192.0.2.1", true}, /* dual-stack socket view */
		{"::ffff:192.0.2.1", "::ffff:192.0.2.1", true},
		{"::ffff:192.0.2.1", "::ffff:192.0.2.9", false},
		{"2001:db8::1", "2001:db8::1", true},
		{"2001:db8::1", "2001:db8::2", false},
		{"2001:db8::1", "192.0.2.1", false},
		{"::1", "127.0.0.1", false},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct sockaddr_storage a = sa(t[i].a, 1), b = sa(t[i].b, 2);

		print_message("%s %s\n", t[i].a, t[i].b);
		assert_int_equal(media_same_ip(&a, &b), t[i].same);
		assert_int_equal(media_same_ip(&b, &a), t[i].same);
	}
}

/* Walks one socket through a call: verdict and whether the caller is told to latch. */
static void test_allows(void **state)
{
	struct sockaddr_storage remote = sa("192.0.2.10", 4000);
	struct sockaddr_storage src = sa("192.0.2.10", 4002), other_port = sa("192.0.2.10", 5000),
				other_ip = sa("198.51.100.7", 4002),
				mapped = sa("::ffff:192.0.2.10", 4002);
	struct media_latch_state l = {0};
	bool latch;

	/* sdp: another IP never, even before the latch */
	assert_false(media_latch_allows(MEDIA_LATCH_SDP, &l, &remote, &other_ip, &latch));
	assert_false(latch);
	/* the offer's IP from any port, until latched */
	assert_true(media_latch_allows(MEDIA_LATCH_SDP, &l, &remote, &src, &latch));
	assert_true(latch);
	l.set = true;
	l.addr = src;
	assert_true(media_latch_allows(MEDIA_LATCH_SDP, &l, &remote, &src, &latch));
	assert_false(latch);
	/* same IP, another port: the injection of the held-out test */
	assert_false(media_latch_allows(MEDIA_LATCH_SDP, &l, &remote, &other_port, &latch));
	/* the latched source seen through a dual-stack socket */
	assert_true(media_latch_allows(MEDIA_LATCH_SDP, &l, &remote, &mapped, &latch));
	/* first: whoever comes first, then only it */
	memset(&l, 0, sizeof(l));
	assert_true(media_latch_allows(MEDIA_LATCH_FIRST, &l, &remote, &other_ip, &latch));
	assert_true(latch);
	l.set = true;
	l.addr = other_ip;
	assert_false(media_latch_allows(MEDIA_LATCH_FIRST, &l, &remote, &src, &latch));
	/* sdp without a usable offer address behaves as first */
	memset(&l, 0, sizeof(l));
	assert_true(media_latch_allows(MEDIA_LATCH_SDP, &l, NULL, &other_ip, &latch));
	assert_true(latch);
	/* off: everything, nothing latched */
	l.set = true;
	l.addr = src;
	assert_true(media_latch_allows(MEDIA_LATCH_OFF, &l, &remote, &other_ip, &latch));
	assert_false(latch);
	/* no source address from the kernel: allowed, not latched */
	assert_true(media_latch_allows(MEDIA_LATCH_SDP, &l, &remote, NULL, &latch));
	assert_false(latch);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_ip),
		cmocka_unit_test(test_allows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
