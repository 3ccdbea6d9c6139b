// SPDX-License-Identifier: MIT
/*
 * The bare receive baseline of bench/capacity.sh: binds COUNT UDP sockets on 127.0.0.1 ports
 * BASE, BASE+STEP, ... (SO_TIMESTAMPNS and the receive buffer as siprecd's media sockets) and
 * drains them with io_uring multishot recvmsg into one provided buffer ring, counting packets
 * and doing nothing else: no SRTP, no sealing, no writing. Its CPU per packet is the floor that
 * siprecd's full pipeline is compared with.
 *
 * The buffer ring: 4,096 buffers of 2 KiB, 2 KiB apart, the cheapest layout for this bare
 * receive (bench/RESULTS.md, "the lead's final runs" of 2026-12-05: with siprecd's own layout,
 * 512 buffers a line more than 2 KiB apart, it cost 2.65-2.79 against 2.51-2.59 us a packet),
 * so the floor stays the floor. RB_BUFS and RB_STRIDE (environment) set another layout.
 *
 * usage: recv-baseline BASE STEP COUNT     runs until SIGTERM/SIGINT, then prints
 *        "baseline packets=N bytes=B enobufs=E" on stdout; SIGUSR1 prints the same line.
 */
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFSZ 2048
#define BGID 7
#define RCVBUF (512 * 1024)
#define SIG_TAG UINT64_MAX

static struct io_uring ring;
static struct io_uring_buf_ring *br;
static uint8_t *bufs;
static struct msghdr msg;
static uint64_t packets, bytes, enobufs;

static int parse_u(const char *s, unsigned long max, unsigned long *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static struct io_uring_sqe *get_sqe(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

	if (!sqe) {
		io_uring_submit(&ring);
		sqe = io_uring_get_sqe(&ring);
	}
	return sqe;
}

static void arm(int fd)
{
	struct io_uring_sqe *sqe = get_sqe();

	io_uring_prep_recvmsg_multishot(sqe, fd, &msg, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
	io_uring_sqe_set_data64(sqe, (uint64_t)fd);
}

static void report(void)
{
	printf("baseline packets=%llu bytes=%llu enobufs=%llu\n", (unsigned long long)packets,
	       (unsigned long long)bytes, (unsigned long long)enobufs);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	unsigned long base, step, count;
	struct io_uring_params p = {0};
	struct io_uring_buf_reg reg = {0};
	struct signalfd_siginfo si;
	sigset_t mask;
	int sfd, one = 1, rcvbuf = RCVBUF, r;
	unsigned nbufs = 4096;
	size_t stride = BUFSZ;
	void *mem;

	if (argc != 4 || parse_u(argv[1], 65535, &base) < 0 || parse_u(argv[2], 64, &step) < 0 ||
	    parse_u(argv[3], 30000, &count) < 0 || step == 0 || base + step * count > 65536) {
		fprintf(stderr, "usage: recv-baseline BASE STEP COUNT\n");
		return 1;
	}
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
	p.cq_entries = 8192;
	r = io_uring_queue_init_params(1024, &ring, &p);
	if (r < 0) {
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_CQSIZE;
		p.cq_entries = 8192;
		r = io_uring_queue_init_params(1024, &ring, &p);
	}
	if (r < 0) {
		fprintf(stderr, "recv-baseline: io_uring: %s\n", strerror(-r));
		return 1;
	}
	/* The buffer ring, mapped by hand as src/loop/loop.c does (liburing 2.3). */
	if (getenv("RB_BUFS"))
		nbufs = (unsigned)strtoul(getenv("RB_BUFS"), NULL, 10);
	if (getenv("RB_STRIDE"))
		stride = strtoul(getenv("RB_STRIDE"), NULL, 10);
	if (nbufs < 1 || nbufs > 32768 || (nbufs & (nbufs - 1)) || stride < BUFSZ || stride % 64) {
		fprintf(stderr,
			"recv-baseline: RB_BUFS must be a power of two up to 32768 and "
			"RB_STRIDE a multiple of 64 of at least %d\n",
			BUFSZ);
		return 1;
	}
	mem = mmap(NULL, nbufs * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE,
		   MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	bufs = aligned_alloc(64, (size_t)nbufs * stride);
	if (mem == MAP_FAILED || !bufs)
		return 1;
	br = mem;
	reg.ring_addr = (uint64_t)(uintptr_t)mem;
	reg.ring_entries = nbufs;
	reg.bgid = BGID;
	r = io_uring_register_buf_ring(&ring, &reg, 0);
	if (r < 0) {
		fprintf(stderr, "recv-baseline: buffer ring: %s\n", strerror(-r));
		return 1;
	}
	io_uring_buf_ring_init(br);
	for (unsigned i = 0; i < nbufs; i++)
		io_uring_buf_ring_add(br, bufs + (size_t)i * stride, BUFSZ, (unsigned short)i,
				      io_uring_buf_ring_mask(nbufs), (int)i);
	io_uring_buf_ring_advance(br, (int)nbufs);
	msg.msg_namelen = sizeof(struct sockaddr_in);
	msg.msg_controllen = CMSG_SPACE(sizeof(struct timespec));

	for (unsigned long i = 0; i < count; i++) {
		struct sockaddr_in sa = {.sin_family = AF_INET,
					 .sin_port = htons((uint16_t)(base + i * step)),
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			fprintf(stderr, "recv-baseline: port %lu: %s\n", base + i * step,
				strerror(errno));
			return 1;
		}
		setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
		arm(fd);
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	{
		struct io_uring_sqe *sqe = get_sqe();

		io_uring_prep_read(sqe, sfd, &si, sizeof(si), 0);
		io_uring_sqe_set_data64(sqe, SIG_TAG);
	}
	fprintf(stderr, "recv-baseline: %lu sockets from port %lu, ready\n", count, base);

	for (;;) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;

		r = io_uring_submit_and_wait(&ring, 1);
		if (r < 0 && r != -EINTR) {
			fprintf(stderr, "recv-baseline: wait: %s\n", strerror(-r));
			return 1;
		}
		io_uring_for_each_cqe(&ring, head, cqe)
		{
			uint64_t tag = io_uring_cqe_get_data64(cqe);

			seen++;
			if (tag == SIG_TAG) {
				if (si.ssi_signo != SIGUSR1) {
					report();
					return 0;
				}
				report();
				struct io_uring_sqe *sqe = get_sqe();

				io_uring_prep_read(sqe, sfd, &si, sizeof(si), 0);
				io_uring_sqe_set_data64(sqe, SIG_TAG);
				continue;
			}
			if (cqe->res >= 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
				unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
				struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(
					bufs + (size_t)bid * stride, cqe->res, &msg);

				if (o) {
					packets++;
					bytes += io_uring_recvmsg_payload_length(o, cqe->res, &msg);
				}
				io_uring_buf_ring_add(br, bufs + (size_t)bid * stride, BUFSZ,
						      (unsigned short)bid,
						      io_uring_buf_ring_mask(nbufs), 0);
				io_uring_buf_ring_advance(br, 1);
			} else if (cqe->res == -ENOBUFS) {
				enobufs++;
			}
			if (!(cqe->flags & IORING_CQE_F_MORE))
				arm((int)tag);
		}
		io_uring_cq_advance(&ring, seen);
	}
}
