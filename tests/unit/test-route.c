// SPDX-License-Identifier: MIT
/* Unit tests for src/net/route.c: routed source lookups on loopback (127.0.0.1, ::1) and their
 * cache, then, in a private network namespace this test creates (root only, else skipped), the
 * subscription: an address added or deleted on its lo drops the cache and reaches the change
 * callback, read both by net_route_dispatch() and through the io_uring loop. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "net/route.h"
#include "siprecd/loop.h"
#include "siprecd/macro.h"

static struct sockaddr_storage addr(const char *s)
{
	struct sockaddr_storage ss = {0};

	if (strchr(s, ':')) {
		ss.ss_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, s, &((struct sockaddr_in6 *)&ss)->sin6_addr),
				 1);
	} else {
		ss.ss_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, s, &((struct sockaddr_in *)&ss)->sin_addr), 1);
	}
	return ss;
}

static const char *str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	if (ss->ss_family == AF_INET6)
		return inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, buf,
				 (socklen_t)len);
	return inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, buf, (socklen_t)len);
}

/* Source toward dst as a string, or "" when the lookup fails. */
static const char *source(struct net_route *r, const char *dst, char *buf, size_t len)
{
	struct sockaddr_storage peer = addr(dst), out;

	((struct sockaddr_in *)&peer)->sin_port = htons(5060); /* ignored */
	if (net_route_source(r, &peer, &out) < 0)
		return "";
	return str(&out, buf, len);
}

static void test_loopback(void **state)
{
	struct net_route *r = NULL;
	struct net_route_stats st;
	struct sockaddr_storage peer = {.ss_family = AF_UNIX}, out;
	char b[64];

	assert_int_equal(net_route_new(&r), 0);
	assert_string_equal(source(r, "127.0.0.1", b, sizeof(b)), "127.0.0.1");
	assert_string_equal(source(r, "127.0.0.1", b, sizeof(b)), "127.0.0.1");
	net_route_get_stats(r, &st);
	assert_int_equal(st.lookups, 1);
	assert_int_equal(st.cache_hits, 1);
	/* Any 127/8 destination is local; lo's preferred source answers for it. */
	assert_string_equal(source(r, "127.0.0.9", b, sizeof(b)), "127.0.0.1");
	if (access("/proc/net/if_inet6", F_OK) == 0)
		assert_string_equal(source(r, "::1", b, sizeof(b)), "::1");
	assert_int_equal(net_route_source(r, &peer, &out), -EAFNOSUPPORT);
	net_route_free(r);
}

struct changes {
	int n, n_new, n_del, n_route;
	char last_new[64], last_del[64];
	struct loop *l;
	int exit_on_del;
};

static void on_change(void *arg, const struct net_route_change *c)
{
	struct changes *ch = arg;

	ch->n++;
	if (c->kind == NET_ROUTE_ADDR_NEW && c->addr.ss_family) {
		str(&c->addr, ch->last_new, sizeof(ch->last_new));
		ch->n_new++;
	}
	if (c->kind == NET_ROUTE_ADDR_DEL && c->addr.ss_family) {
		str(&c->addr, ch->last_del, sizeof(ch->last_del));
		ch->n_del++;
		if (ch->exit_on_del && ch->l)
			loop_exit(ch->l, 3);
	}
	if (c->kind == NET_ROUTE_ROUTE)
		ch->n_route++;
}

static void sh(const char *cmd)
{
	assert_int_equal(system(cmd), 0);
}

/* Waits until the subscription has something to read (the kernel queues notifications
 * synchronously with the change, so this returns at once) and reads it. */
static void pump(struct net_route *r)
{
	struct pollfd p = {.fd = net_route_fd(r), .events = POLLIN};

	assert_int_equal(poll(&p, 1, 10000), 1);
	while (net_route_dispatch(r) > 0)
		;
}

static bool private_netns(void)
{
	struct ifreq ifr = {0};
	int fd;

	if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0)
		return false;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	strcpy(ifr.ifr_name, "lo");
	assert_int_equal(ioctl(fd, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	assert_int_equal(ioctl(fd, SIOCSIFFLAGS, &ifr), 0);
	close(fd);
	return system("ip -V >/dev/null 2>&1") == 0;
}

/* Last: moves the process into its own network namespace. */
static void test_invalidation(void **state)
{
	struct net_route *r = NULL;
	struct net_route_stats st0, st;
	struct changes ch = {0};
	char b[64];

	if (!private_netns()) {
		print_message("needs root, unshare(CLONE_NEWNET) and iproute2\n");
		skip();
	}
	assert_int_equal(net_route_new(&r), 0);
	net_route_set_change_callback(r, on_change, &ch);
	assert_string_equal(source(r, "127.0.0.1", b, sizeof(b)), "127.0.0.1");
	/* A destination routed out of lo with an explicit preferred source. */
	sh("ip addr add 10.77.3.1/32 dev lo && ip route add 192.0.2.0/24 dev lo src 10.77.3.1");
	pump(r);
	assert_true(ch.n_new >= 1);
	assert_string_equal(ch.last_new, "10.77.3.1");
	assert_true(ch.n_route >= 1);
	assert_string_equal(source(r, "192.0.2.7", b, sizeof(b)), "10.77.3.1");

	/* Cached: answered without asking the kernel again. */
	net_route_get_stats(r, &st0);
	assert_string_equal(source(r, "192.0.2.7", b, sizeof(b)), "10.77.3.1");
	net_route_get_stats(r, &st);
	assert_int_equal(st.lookups, st0.lookups);
	assert_int_equal(st.cache_hits, st0.cache_hits + 1);

	/* The source moves: a new address, the route re-pointed at it, the old one deleted. The
	 * deletion is read through the io_uring loop this time. */
	sh("ip addr add 10.77.3.2/32 dev lo && "
	   "ip route replace 192.0.2.0/24 dev lo src 10.77.3.2 && "
	   "ip addr del 10.77.3.1/32 dev lo");
	assert_int_equal(loop_new(64, &ch.l), 0);
	ch.exit_on_del = 1;
	assert_int_equal(net_route_attach(r, ch.l), 0);
	assert_int_equal(loop_run(ch.l), 3);
	assert_string_equal(ch.last_del, "10.77.3.1");
	net_route_get_stats(r, &st);
	assert_true(st.flushes > st0.flushes);
	assert_string_equal(source(r, "192.0.2.7", b, sizeof(b)), "10.77.3.2");
	net_route_get_stats(r, &st0);
	assert_int_equal(st0.lookups, st.lookups + 1);

	/* Without a route there is no source at all. */
	sh("ip route del 192.0.2.0/24");
	assert_string_equal(source(r, "198.51.100.1", b, sizeof(b)), "");
	loop_free(ch.l); /* the armed poll goes with the ring */
	net_route_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loopback),
		cmocka_unit_test(test_invalidation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
