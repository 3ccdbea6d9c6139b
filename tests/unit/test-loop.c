// SPDX-License-Identifier: MIT
/* Unit tests for the io_uring loop: timer ordering and cancellation, cross-thread posting,
 * multishot recvmsg into a provided buffer ring with -ENOBUFS re-arming. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "siprecd/loop.h"
#include "siprecd/macro.h"

struct tctx {
	struct loop *l;
	struct loop_timer t[5];
	int order[5];
	int n;
};

static struct tctx *g;

static void fired(struct loop_timer *t)
{
	g->order[g->n++] = (int)(t - g->t);
	if (g->n == 4)
		loop_exit(g->l, 7);
}

/* state: NULL, or the batch (loop_set_batch) of the run: {completions, longest wait in us} */
static const unsigned batch_timers[2] = {4096, 10 * 1000 * 1000};
static const unsigned batch_post[2] = {4096, 20 * 1000};

static void set_batch(struct loop *l, void **state)
{
	const unsigned *b = *state;

	if (b)
		loop_set_batch(l, b[0], b[1]);
}

static void test_timers(void **state)
{
	struct tctx c = {0};
	uint64_t now;

	g = &c;
	assert_int_equal(loop_new(64, &c.l), 0);
	set_batch(c.l, state);
	now = loop_now_ms(c.l);
	for (int i = 0; i < 5; i++)
		c.t[i].fn = fired;
	loop_timer_arm(c.l, &c.t[0], now + 40);
	loop_timer_arm(c.l, &c.t[1], now + 10);
	loop_timer_arm(c.l, &c.t[2], now + 30);
	loop_timer_arm(c.l, &c.t[3], now + 20);
	loop_timer_arm(c.l, &c.t[4], now + 15);
	loop_timer_disarm(c.l, &c.t[4]);
	assert_false(loop_timer_armed(&c.t[4]));
	assert_int_equal(loop_run(c.l), 7);
	assert_int_equal(c.n, 4);
	assert_int_equal(c.order[0], 1);
	assert_int_equal(c.order[1], 3);
	assert_int_equal(c.order[2], 2);
	assert_int_equal(c.order[3], 0);
	assert_true(loop_now_ms(c.l) >= now + 40);
	/* Batched (4,096 completions or 10 s): no completion comes, so the timers fire on time
	 * only because an expired TIMEOUT op ends a wait for more completions than are ready. */
	if (*state)
		assert_true(loop_now_ms(c.l) < now + 5000);
	loop_free(c.l);
}

static int posted;
static void post_fn(void *arg)
{
	posted += (int)(intptr_t)arg;
	if (posted == 6)
		loop_exit(g->l, 0);
}

static void *poster(void *arg)
{
	struct loop *l = arg;

	for (int i = 1; i <= 3; i++)
		loop_post(l, post_fn, (void *)(intptr_t)i);
	return NULL;
}

static void test_post(void **state)
{
	struct tctx c = {0};
	pthread_t th;

	g = &c;
	posted = 0;
	assert_int_equal(loop_new(64, &c.l), 0);
	set_batch(c.l, state);
	/* Batched (4,096 completions or 20 ms), no timer armed: only the wait's own bound lets the
	 * posted work (one eventfd read completion each time) run. */
	pthread_create(&th, NULL, poster, c.l);
	assert_int_equal(loop_run(c.l), 0);
	pthread_join(th, NULL);
	assert_int_equal(posted, 6);
	loop_free(c.l);
}

/*
 * Posts to an empty queue, thousands of times: the poster waits until the loop has run each item
 * before posting the next, so every post must wake the loop; a lost signal leaves it waiting
 * forever (the test's timeout). Then a burst from two threads, where most posts find the queue
 * non-empty. (Signalling only the post that makes the queue non-empty was tried and dropped: in
 * bench/setup-rate.sh it cost CPU per call, A/B/B/A, rather than saving it.)
 */
#define STRESS_POSTS 5000
static int stress_seen;
static void stress_fn(void *arg)
{
	(void)arg;
	if (__atomic_add_fetch(&stress_seen, 1, __ATOMIC_RELEASE) == 3 * STRESS_POSTS)
		loop_exit(g->l, 0);
}

static void *stress_pingpong(void *arg)
{
	struct loop *l = arg;

	for (int i = 0; i < STRESS_POSTS; i++) {
		assert_int_equal(loop_post(l, stress_fn, NULL), 0);
		while (__atomic_load_n(&stress_seen, __ATOMIC_ACQUIRE) <= i)
			sched_yield();
	}
	return NULL;
}

static void *stress_burst(void *arg)
{
	struct loop *l = arg;

	while (__atomic_load_n(&stress_seen, __ATOMIC_ACQUIRE) < STRESS_POSTS)
		sched_yield();
	for (int i = 0; i < STRESS_POSTS; i++)
		assert_int_equal(loop_post(l, stress_fn, NULL), 0);
	return NULL;
}

static void test_post_stress(void **state)
{
	struct tctx c = {0};
	pthread_t th[3];

	g = &c;
	stress_seen = 0;
	assert_int_equal(loop_new(64, &c.l), 0);
	pthread_create(&th[0], NULL, stress_pingpong, c.l);
	pthread_create(&th[1], NULL, stress_burst, c.l);
	pthread_create(&th[2], NULL, stress_burst, c.l);
	assert_int_equal(loop_run(c.l), 0);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(stress_seen, 3 * STRESS_POSTS);
	loop_free(c.l);
}

struct rctx {
	struct loop *l;
	struct loop_buf_ring *br;
	struct loop_op op;
	struct msghdr msg;
	int fd;
	int got, enobufs, rearms;
};

static void arm(struct rctx *r)
{
	struct io_uring_sqe *sqe = loop_sqe(r->l, &r->op);

	io_uring_prep_recvmsg_multishot(sqe, r->fd, &r->msg, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = 3;
}

static void recv_done(struct loop_op *op, int res, uint32_t flags)
{
	struct rctx *r = container_of(op, struct rctx, op);

	if (res >= 0 && (flags & IORING_CQE_F_BUFFER)) {
		uint16_t bid = (uint16_t)(flags >> IORING_CQE_BUFFER_SHIFT);
		struct io_uring_recvmsg_out *o =
			io_uring_recvmsg_validate(loop_buf_ring_buf(r->br, bid), res, &r->msg);
		const char *p;

		assert_non_null(o);
		assert_int_equal(io_uring_recvmsg_payload_length(o, res, &r->msg), 4);
		/* the buffer the kernel filled (loop_buf_ring_buf finds it by the id, at the stride
		 * the buffers were registered with): one of the datagrams sent (not each once: the
		 * test hands the held buffers back at every -ENOBUFS, so one may be in the ring
		 * twice) */
		p = io_uring_recvmsg_payload(o, &r->msg);
		assert_true(p[0] == 'p' && p[1] == '0' && p[2] >= '0' && p[2] <= '1' &&
			    p[3] >= '0' && p[3] <= '9');
		r->got++;
		/* Hold buffers back for a while so the ring runs dry (-ENOBUFS). */
		if (r->got > 4)
			loop_buf_ring_recycle(r->br, bid);
	} else if (res == -ENOBUFS) {
		r->enobufs++;
		for (uint16_t i = 0; i < 4; i++)
			loop_buf_ring_recycle(r->br, i);
	}
	if (!(flags & IORING_CQE_F_MORE)) {
		r->rearms++;
		arm(r);
	}
	if (r->got == 20)
		loop_exit(r->l, 0);
}

static void test_buf_ring(void **state)
{
	struct rctx r = {0};
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int tx;

	assert_int_equal(loop_new(64, &r.l), 0);
	assert_true(loop_features(r.l)->buf_ring);
	assert_int_equal(loop_buf_ring_new(r.l, 3, 4, 256, &r.br), 0);
	r.fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_int_equal(bind(r.fd, (void *)&sa, sizeof(sa)), 0);
	getsockname(r.fd, (void *)&sa, &sl);
	r.msg.msg_namelen = sizeof(struct sockaddr_storage);
	r.op.fn = recv_done;
	arm(&r);
	tx = socket(AF_INET, SOCK_DGRAM, 0);
	/* Run the loop once so the recvmsg is armed before data arrives. */
	for (int i = 0; i < 20; i++) {
		char p[5];

		snprintf(p, sizeof(p), "p%03d", i);
		sendto(tx, p, 4, 0, (void *)&sa, sizeof(sa));
	}
	assert_int_equal(loop_run(r.l), 0);
	assert_int_equal(r.got, 20);
	assert_true(r.enobufs >= 1);
	close(tx);
	close(r.fd);
	loop_buf_ring_free(r.l, r.br);
	loop_free(r.l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timers),
		cmocka_unit_test_prestate(test_timers, (void *)batch_timers),
		cmocka_unit_test(test_post),
		cmocka_unit_test_prestate(test_post, (void *)batch_post),
		cmocka_unit_test(test_post_stress),
		cmocka_unit_test(test_buf_ring),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
