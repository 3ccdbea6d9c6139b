/* SPDX-License-Identifier: MIT */
/*
 * The io_uring event loop: one ring per thread. Every request carries a struct loop_op as its
 * user_data; the loop calls op->fn with the CQE's res and flags. The object embedding the op holds
 * a reference for as long as a request is in flight and drops it on the final CQE (no
 * IORING_CQE_F_MORE). Timers live in a min-heap driven by one IORING_OP_TIMEOUT; other threads
 * hand work to a loop with loop_post (an eventfd-signalled queue).
 */
#pragma once

#include <errno.h>

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

struct loop;

struct loop_op {
	/* res is cqe->res (>= 0 or -errno), flags is cqe->flags (IORING_CQE_F_MORE, buffer id). */
	void (*fn)(struct loop_op *op, int res, uint32_t flags);
};

struct loop_timer {
	uint64_t deadline_ms; /* CLOCK_MONOTONIC milliseconds */
	size_t heap_idx;      /* 0 = not armed */
	void (*fn)(struct loop_timer *t);
};

/*
 * An accept that failed for want of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM):
 * the connection waiting in the backlog would fail the same way at once, so a listener waits
 * LOOP_ACCEPT_RETRY_MS before it accepts again instead of re-arming straight away (which spins
 * its thread: seen at 3.5 million failed accepts in 2 s, tests/integration/sip-accept-emfile.sh).
 */
#define LOOP_ACCEPT_RETRY_MS 100
static inline bool loop_accept_starved(int res)
{
	return res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM;
}

struct loop_features {
	bool defer_taskrun;
	bool buf_ring;
	bool recvmsg_multishot;
	bool accept_multishot;
	bool msg_ring;
};

/* Creates a ring with at least entries SQEs, probing features (DEFER_TASKRUN falls back). */
int loop_new(unsigned entries, struct loop **ret);
/* Frees the ring; in-flight requests must have completed (loop_run returned). NULL ok. */
struct loop *loop_free(struct loop *l);
struct io_uring *loop_ring(struct loop *l);
const struct loop_features *loop_features(const struct loop *l);

/* Returns a zeroed SQE with user_data set to op (op may be NULL for requests whose CQE is
 * ignored, flagged with IOSQE_CQE_SKIP_SUCCESS where possible). Submits to make room when the
 * SQ is full; NULL only when submission itself failed. */
struct io_uring_sqe *loop_sqe(struct loop *l, struct loop_op *op);
/* Reserves n SQEs at once for a linked chain (all or nothing): fills ret[0..n-1] or -EBUSY. */
int loop_sqes(struct loop *l, unsigned n, struct io_uring_sqe **ret);

/*
 * Batched waits: the loop sleeps until nr completions are ready, or max_us has passed, or the
 * earliest timer is due, whichever comes first, instead of waking for every completion (fewer
 * wake-ups and context switches under a packet load; each completion waits at most max_us).
 * nr <= 1 or max_us 0: wake per completion (the default). Needs DEFER_TASKRUN (Linux 6.1);
 * without it the setting is ignored.
 */
void loop_set_batch(struct loop *l, unsigned nr, unsigned max_us);
/*
 * A prefetch hook: called for a completion's op before its handler runs, once per stage k
 * (0 .. LOOP_PREFETCH_STAGES - 1), stage 0 farthest ahead. It may only prefetch (it runs while
 * earlier handlers have not run yet): stage 0 the op owner's own lines, later stages what the
 * pointers loaded by the earlier stages point to. NULL: no hook (the default).
 */
#define LOOP_PREFETCH_STAGES 3
typedef void (*loop_prefetch_fn)(struct loop_op *op, unsigned stage);
void loop_set_prefetch(struct loop *l, loop_prefetch_fn fn);
/* Runs until loop_exit; returns the exit code. */
int loop_run(struct loop *l);
void loop_exit(struct loop *l, int code);
/* Monotonic milliseconds, refreshed once per loop iteration. */
uint64_t loop_now_ms(struct loop *l);
uint64_t loop_iterations(const struct loop *l);
uint64_t loop_last_iteration_ms(const struct loop *l);

void loop_timer_arm(struct loop *l, struct loop_timer *t, uint64_t deadline_ms);
void loop_timer_disarm(struct loop *l, struct loop_timer *t);
static inline bool loop_timer_armed(const struct loop_timer *t)
{
	return t->heap_idx != 0;
}

/* Provided buffer ring: nbufs (power of two) buffers of bufsize bytes, group id bgid. */
struct loop_buf_ring;
int loop_buf_ring_new(struct loop *l, uint16_t bgid, unsigned nbufs, unsigned bufsize,
		      struct loop_buf_ring **ret);
struct loop_buf_ring *loop_buf_ring_free(struct loop *l, struct loop_buf_ring *br);
void *loop_buf_ring_buf(struct loop_buf_ring *br, uint16_t bid);
unsigned loop_buf_ring_size(const struct loop_buf_ring *br);
/* Gives buffer bid back to the kernel. */
void loop_buf_ring_recycle(struct loop_buf_ring *br, uint16_t bid);

/* Queues fn(arg) to run on l's thread; safe from any thread. -ENOMEM on allocation failure. */
int loop_post(struct loop *l, void (*fn)(void *arg), void *arg);
