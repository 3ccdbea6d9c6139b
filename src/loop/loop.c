// SPDX-License-Identifier: MIT
/*
 * The io_uring event loop: ring setup with feature probing, CQE dispatch to struct loop_op
 * handlers, a timer min-heap driven by a single IORING_OP_TIMEOUT, provided buffer rings, and
 * an eventfd-signalled queue through which other threads hand work to this loop.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "siprecd/log.h"
#include "siprecd/loop.h"

struct loop_post_item {
	struct loop_post_item *next;
	void (*fn)(void *arg);
	void *arg;
};

struct loop {
	struct io_uring ring;
	struct loop_features features;
	uint64_t now_ms;
	uint64_t iterations;
	uint64_t last_iteration_ms;
	bool exiting;
	int exit_code;

	/* Timer heap, 1-based (heap_idx 0 means "not armed"). */
	struct loop_timer **heap;
	size_t heap_len, heap_cap;
	struct loop_op timeout_op;
	struct __kernel_timespec timeout_ts;
	uint64_t timeout_armed_ms; /* deadline of the in-flight TIMEOUT, or 0 */
	bool timeout_inflight;

	/* Batched waits (loop_set_batch): wake for batch_nr completions or after batch_us. */
	unsigned batch_nr;
	unsigned batch_us;
	loop_prefetch_fn prefetch;

	/* Cross-thread queue. */
	int efd;
	uint64_t efd_val;
	struct loop_op efd_op;
	pthread_mutex_t post_lock;
	struct loop_post_item *post_head, *post_tail;
};

struct loop_buf_ring {
	struct io_uring_buf_ring *br;
	size_t ring_bytes;
	uint8_t *bufs;
	unsigned nbufs, bufsize, mask;
	size_t stride; /* bufsize and a line: see loop_buf_ring_new */
	uint16_t bgid;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t loop_now_ms(struct loop *l)
{
	return l->now_ms;
}

uint64_t loop_iterations(const struct loop *l)
{
	return l->iterations;
}

uint64_t loop_last_iteration_ms(const struct loop *l)
{
	return l->last_iteration_ms;
}

struct io_uring *loop_ring(struct loop *l)
{
	return &l->ring;
}

const struct loop_features *loop_features(const struct loop *l)
{
	return &l->features;
}

struct io_uring_sqe *loop_sqe(struct loop *l, struct loop_op *op)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);

	if (!sqe) {
		if (io_uring_submit(&l->ring) < 0)
			return NULL;
		sqe = io_uring_get_sqe(&l->ring);
		if (!sqe)
			return NULL;
	}
	io_uring_sqe_set_data(sqe, op);
	return sqe;
}

int loop_sqes(struct loop *l, unsigned n, struct io_uring_sqe **ret)
{
	if (io_uring_sq_space_left(&l->ring) < n) {
		if (io_uring_submit(&l->ring) < 0 || io_uring_sq_space_left(&l->ring) < n)
			return -EBUSY;
	}
	for (unsigned i = 0; i < n; i++) {
		ret[i] = io_uring_get_sqe(&l->ring);
		io_uring_sqe_set_data(ret[i], NULL);
	}
	return 0;
}

/* ---- timers: binary min-heap on deadline ---- */

static void heap_swap(struct loop *l, size_t a, size_t b)
{
	struct loop_timer *t = l->heap[a];

	l->heap[a] = l->heap[b];
	l->heap[b] = t;
	l->heap[a]->heap_idx = a;
	l->heap[b]->heap_idx = b;
}

static void heap_up(struct loop *l, size_t i)
{
	while (i > 1 && l->heap[i / 2]->deadline_ms > l->heap[i]->deadline_ms) {
		heap_swap(l, i, i / 2);
		i /= 2;
	}
}

static void heap_down(struct loop *l, size_t i)
{
	for (;;) {
		size_t c = 2 * i;

		if (c > l->heap_len)
			return;
		if (c + 1 <= l->heap_len && l->heap[c + 1]->deadline_ms < l->heap[c]->deadline_ms)
			c++;
		if (l->heap[i]->deadline_ms <= l->heap[c]->deadline_ms)
			return;
		heap_swap(l, i, c);
		i = c;
	}
}

void loop_timer_disarm(struct loop *l, struct loop_timer *t)
{
	size_t i = t->heap_idx;

	if (i == 0)
		return;
	t->heap_idx = 0;
	if (i != l->heap_len) {
		l->heap[i] = l->heap[l->heap_len];
		l->heap[i]->heap_idx = i;
		l->heap_len--;
		heap_up(l, i);
		heap_down(l, l->heap[i]->heap_idx);
	} else {
		l->heap_len--;
	}
}

void loop_timer_arm(struct loop *l, struct loop_timer *t, uint64_t deadline_ms)
{
	loop_timer_disarm(l, t);
	if (l->heap_len + 1 >= l->heap_cap) {
		size_t cap = l->heap_cap ? l->heap_cap * 2 : 64;
		struct loop_timer **h = realloc(l->heap, cap * sizeof(*h));

		if (!h) {
			/* Cannot grow: fire on the next iteration rather than never. */
			log_error("timer heap allocation failed");
			abort();
		}
		l->heap = h;
		l->heap_cap = cap;
	}
	t->deadline_ms = deadline_ms;
	l->heap[++l->heap_len] = t;
	t->heap_idx = l->heap_len;
	heap_up(l, l->heap_len);
}

static void timeout_done(struct loop_op *op, int res, uint32_t flags)
{
	struct loop *l = container_of(op, struct loop, timeout_op);

	l->timeout_inflight = false;
	l->timeout_armed_ms = 0;
}

static void timers_run(struct loop *l)
{
	while (l->heap_len > 0 && l->heap[1]->deadline_ms <= l->now_ms) {
		struct loop_timer *t = l->heap[1];

		loop_timer_disarm(l, t);
		t->fn(t);
	}
}

static void timeout_rearm(struct loop *l)
{
	struct io_uring_sqe *sqe;
	uint64_t d;

	if (l->heap_len == 0)
		return;
	d = l->heap[1]->deadline_ms;
	if (l->timeout_inflight) {
		/* One IORING_OP_TIMEOUT stays in flight for the earliest deadline; an earlier timer
		 * armed meanwhile moves it with TIMEOUT_UPDATE (5.11) instead of a second op. */
		if (d >= l->timeout_armed_ms)
			return;
		sqe = loop_sqe(l, NULL);
		if (!sqe)
			return;
		l->timeout_ts.tv_sec = (long long)(d / 1000);
		l->timeout_ts.tv_nsec = (long long)(d % 1000) * 1000000;
		io_uring_prep_timeout_update(sqe, &l->timeout_ts,
					     (uint64_t)(uintptr_t)&l->timeout_op,
					     IORING_TIMEOUT_ABS);
		l->timeout_armed_ms = d;
		return;
	}
	sqe = loop_sqe(l, &l->timeout_op);
	if (!sqe)
		return;
	l->timeout_ts.tv_sec = (long long)(d / 1000);
	l->timeout_ts.tv_nsec = (long long)(d % 1000) * 1000000;
	/* Absolute CLOCK_MONOTONIC deadline; count 0 = pure timer. */
	io_uring_prep_timeout(sqe, &l->timeout_ts, 0, IORING_TIMEOUT_ABS);
	l->timeout_inflight = true;
	l->timeout_armed_ms = d;
}

/* ---- cross-thread posting ---- */

static void efd_arm(struct loop *l);

static void efd_done(struct loop_op *op, int res, uint32_t flags)
{
	struct loop *l = container_of(op, struct loop, efd_op);
	struct loop_post_item *it;

	pthread_mutex_lock(&l->post_lock);
	it = l->post_head;
	l->post_head = l->post_tail = NULL;
	pthread_mutex_unlock(&l->post_lock);
	while (it) {
		struct loop_post_item *next = it->next;

		it->fn(it->arg);
		free(it);
		it = next;
	}
	if (!l->exiting)
		efd_arm(l);
}

static void efd_arm(struct loop *l)
{
	struct io_uring_sqe *sqe = loop_sqe(l, &l->efd_op);

	if (sqe)
		io_uring_prep_read(sqe, l->efd, &l->efd_val, sizeof(l->efd_val), 0);
}

int loop_post(struct loop *l, void (*fn)(void *arg), void *arg)
{
	struct loop_post_item *it = malloc(sizeof(*it));
	uint64_t one = 1;

	if (!it)
		return -ENOMEM;
	it->fn = fn;
	it->arg = arg;
	it->next = NULL;
	pthread_mutex_lock(&l->post_lock);
	if (l->post_tail)
		l->post_tail->next = it;
	else
		l->post_head = it;
	l->post_tail = it;
	pthread_mutex_unlock(&l->post_lock);
	if (write(l->efd, &one, sizeof(one)) != sizeof(one))
		return -errno;
	return 0;
}

/* ---- setup and run ---- */

static int ring_init(struct loop *l, unsigned entries)
{
	struct io_uring_params p;
	int r;

#ifdef HAVE_IORING_SETUP_DEFER_TASKRUN
	/* DEFER_TASKRUN: completions are processed only when we wait, on this thread: fewer
	 * interruptions of the packet path. Needs SINGLE_ISSUER (6.1+); fall back without. */
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
	p.cq_entries = entries * 4;
	r = io_uring_queue_init_params(entries, &l->ring, &p);
	if (r == 0) {
		l->features.defer_taskrun = true;
		return 0;
	}
#endif
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_CQSIZE;
	p.cq_entries = entries * 4;
	r = io_uring_queue_init_params(entries, &l->ring, &p);
	return r;
}

static void probe_features(struct loop *l)
{
	struct io_uring_probe *probe = io_uring_get_probe_ring(&l->ring);

	if (probe) {
		l->features.msg_ring = io_uring_opcode_supported(probe, IORING_OP_MSG_RING);
		/* Multishot variants share their opcodes; the flag is what the kernel checks.
		 * IORING_OP_SOCKET (5.19) arrived with multishot accept/recvmsg (5.19/6.0), close
		 * enough that its presence is our best cheap proxy for the Version report. The
		 * real check is the first CQE: -EINVAL on a multishot request stops that listener
		 * or stream with an error naming the kernel feature (no recvmmsg fallback). */
		l->features.accept_multishot = io_uring_opcode_supported(probe, IORING_OP_SOCKET);
		l->features.recvmsg_multishot = io_uring_opcode_supported(probe, IORING_OP_SOCKET);
		io_uring_free_probe(probe);
	}
	/* Buffer rings: try to register a tiny one. */
	{
		struct loop_buf_ring *br = NULL;

		if (loop_buf_ring_new(l, 0xffff, 2, 64, &br) == 0) {
			l->features.buf_ring = true;
			loop_buf_ring_free(l, br);
		}
	}
}

int loop_new(unsigned entries, struct loop **ret)
{
	struct loop *l = calloc(1, sizeof(*l));
	int r;

	if (!l)
		return -ENOMEM;
	l->efd = -1;
	r = ring_init(l, entries);
	if (r < 0) {
		free(l);
		return r;
	}
	probe_features(l);
	l->efd = eventfd(0, EFD_CLOEXEC);
	if (l->efd < 0) {
		r = -errno;
		io_uring_queue_exit(&l->ring);
		free(l);
		return r;
	}
	pthread_mutex_init(&l->post_lock, NULL);
	l->timeout_op.fn = timeout_done;
	l->efd_op.fn = efd_done;
	l->now_ms = mono_ms();
	efd_arm(l);
	*ret = l;
	return 0;
}

struct loop *loop_free(struct loop *l)
{
	if (!l)
		return NULL;
	io_uring_queue_exit(&l->ring);
	if (l->efd >= 0)
		close(l->efd);
	while (l->post_head) {
		struct loop_post_item *n = l->post_head->next;

		free(l->post_head);
		l->post_head = n;
	}
	pthread_mutex_destroy(&l->post_lock);
	free(l->heap);
	free(l);
	return NULL;
}

void loop_exit(struct loop *l, int code)
{
	l->exiting = true;
	l->exit_code = code;
}

/* Completions taken from the CQ ring at once when a prefetch hook is set. */
#define DISPATCH_BATCH 64
/* A completion gets stage k of the hook this many completions before its handler runs. */
#define PREFETCH_STRIDE 2

struct cqe_copy {
	struct loop_op *op;
	int res;
	uint32_t flags;
};

/*
 * With a prefetch hook the ready completions are copied out in batches and the hook runs
 * ahead of the handlers: stage k for the completion (LOOP_PREFETCH_STAGES - k) x
 * PREFETCH_STRIDE places ahead, so the cache misses on the state of the next few handlers
 * (each a different stream, its state cold) overlap with the current one's work instead of
 * stalling one after another. The hook only prefetches: an op whose completion is still in the
 * batch has not been handled, so its owner is alive.
 */
static unsigned dispatch_prefetched(struct loop *l)
{
	struct cqe_copy b[DISPATCH_BATCH];
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&l->ring, head, cqe)
	{
		b[n].op = io_uring_cqe_get_data(cqe);
		b[n].res = cqe->res;
		b[n].flags = cqe->flags;
		if (++n == DISPATCH_BATCH)
			break;
	}
	io_uring_cq_advance(&l->ring, n);
	/* prime: the first completions get their stages at once, earliest stage first */
	for (unsigned k = 0; k < LOOP_PREFETCH_STAGES; k++)
		for (unsigned i = 0; i < n && i < (LOOP_PREFETCH_STAGES - k) * PREFETCH_STRIDE; i++)
			if (b[i].op)
				l->prefetch(b[i].op, k);
	for (unsigned i = 0; i < n; i++) {
		for (unsigned k = 0; k < LOOP_PREFETCH_STAGES; k++) {
			unsigned j = i + (LOOP_PREFETCH_STAGES - k) * PREFETCH_STRIDE;

			if (j < n && b[j].op)
				l->prefetch(b[j].op, k);
		}
		if (b[i].op)
			b[i].op->fn(b[i].op, b[i].res, b[i].flags);
	}
	return n;
}

static void dispatch(struct loop *l)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	if (l->prefetch) {
		while (dispatch_prefetched(l) == DISPATCH_BATCH)
			;
		return;
	}
	io_uring_for_each_cqe(&l->ring, head, cqe)
	{
		struct loop_op *op = io_uring_cqe_get_data(cqe);
		int res = cqe->res;
		uint32_t flags = cqe->flags;

		n++;
		/* Advance first: a handler may submit and wait (never here, but cheap). */
		if (op)
			op->fn(op, res, flags);
	}
	io_uring_cq_advance(&l->ring, n);
}

void loop_set_prefetch(struct loop *l, loop_prefetch_fn fn)
{
	l->prefetch = fn;
}

void loop_set_batch(struct loop *l, unsigned nr, unsigned max_us)
{
	l->batch_nr = nr > 1 && max_us ? nr : 1;
	l->batch_us = max_us;
}

/*
 * One wait of the loop. Unbatched: until one completion. Batched: until batch_nr completions
 * or batch_us, whichever comes first. With DEFER_TASKRUN the kernel does not wake a waiter for
 * fewer completions than it asked for, so batch_us is what bounds the delay of a lone packet or
 * of posted work; timers need no bound of their own: a TIMEOUT op that fires always ends the
 * wait (io_uring counts expired timeouts apart from completions).
 */
static int loop_wait(struct loop *l)
{
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts;

	if (l->batch_nr <= 1 || !l->features.defer_taskrun)
		return io_uring_submit_and_wait(&l->ring, 1);
	if (io_uring_cq_ready(&l->ring))
		return io_uring_submit(&l->ring);
	ts.tv_sec = (long long)(l->batch_us / 1000000);
	ts.tv_nsec = (long long)(l->batch_us % 1000000) * 1000;
	return io_uring_submit_and_wait_timeout(&l->ring, &cqe, l->batch_nr, &ts, NULL);
}

int loop_run(struct loop *l)
{
	while (!l->exiting) {
		int r;

		l->now_ms = mono_ms();
		timers_run(l);
		if (l->exiting)
			break;
		timeout_rearm(l);
		r = loop_wait(l);
		if (r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
			log_error("io_uring wait failed: %s", strerror(-r));
			return r;
		}
		l->now_ms = mono_ms();
		dispatch(l);
		l->iterations++;
		l->last_iteration_ms = l->now_ms;
	}
	io_uring_submit(&l->ring);
	return l->exit_code;
}

/* ---- provided buffer rings ---- */

int loop_buf_ring_new(struct loop *l, uint16_t bgid, unsigned nbufs, unsigned bufsize,
		      struct loop_buf_ring **ret)
{
	struct io_uring_buf_reg reg = {0};
	struct loop_buf_ring *b;
	void *mem;
	int r;

	if (nbufs == 0 || (nbufs & (nbufs - 1)) || nbufs > 32768)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->ring_bytes = nbufs * sizeof(struct io_uring_buf);
	/* liburing 2.3 has no io_uring_setup_buf_ring: map the ring ourselves (page aligned). */
	mem = mmap(NULL, b->ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (mem == MAP_FAILED) {
		free(b);
		return -ENOMEM;
	}
	b->br = mem;
	/* Buffers a line more than bufsize apart: a datagram fills the first few lines of its
	 * buffer (a media worker's recvmsg: header, address, timestamp and a G.711 payload, 6
	 * lines), and at a stride of a power of two those lines of every buffer fall into the same
	 * few cache sets (at 2 KiB, 6 of every 32), where they evict one another; one line more
	 * moves each buffer's lines on to the next sets. */
	b->stride = (size_t)bufsize + 64;
	b->bufs = aligned_alloc(64, (size_t)nbufs * b->stride);
	if (!b->bufs) {
		munmap(mem, b->ring_bytes);
		free(b);
		return -ENOMEM;
	}
	reg.ring_addr = (uint64_t)(uintptr_t)mem;
	reg.ring_entries = nbufs;
	reg.bgid = bgid;
	r = io_uring_register_buf_ring(&l->ring, &reg, 0);
	if (r < 0) {
		free(b->bufs);
		munmap(mem, b->ring_bytes);
		free(b);
		return r;
	}
	b->nbufs = nbufs;
	b->bufsize = bufsize;
	b->mask = io_uring_buf_ring_mask(nbufs);
	b->bgid = bgid;
	io_uring_buf_ring_init(b->br);
	for (unsigned i = 0; i < nbufs; i++)
		io_uring_buf_ring_add(b->br, b->bufs + (size_t)i * b->stride, bufsize,
				      (unsigned short)i, b->mask, (int)i);
	io_uring_buf_ring_advance(b->br, (int)nbufs);
	*ret = b;
	return 0;
}

struct loop_buf_ring *loop_buf_ring_free(struct loop *l, struct loop_buf_ring *b)
{
	if (!b)
		return NULL;
	io_uring_unregister_buf_ring(&l->ring, b->bgid);
	munmap(b->br, b->ring_bytes);
	free(b->bufs);
	free(b);
	return NULL;
}

void *loop_buf_ring_buf(struct loop_buf_ring *b, uint16_t bid)
{
	return b->bufs + (size_t)bid * b->stride;
}

unsigned loop_buf_ring_size(const struct loop_buf_ring *b)
{
	return b->bufsize;
}

void loop_buf_ring_recycle(struct loop_buf_ring *b, uint16_t bid)
{
	io_uring_buf_ring_add(b->br, b->bufs + (size_t)bid * b->stride, b->bufsize, bid, b->mask,
			      0);
	io_uring_buf_ring_advance(b->br, 1);
}
