// SPDX-License-Identifier: MIT
/*
 * siprecd's own per-packet path without io_uring, for counting: handle_packet of
 * src/media/worker.c (latch check, SRTP unprotect, RTP parse, sequence accounting, stats,
 * record -> store_writer_add) over N streams visited round robin, as a media worker sees them
 * at N/2 calls. siprecd itself cannot run under valgrind (its media worker blocks in
 * io_uring_enter holding valgrind's lock), so this includes worker.c and calls its static
 * functions directly:
 *
 *   valgrind --tool=callgrind --cache-sim=yes --toggle-collect=bench_packet \
 *       --toggle-collect=bench_flush build/bench/media-packet STREAMS [ROUNDS [CHUNK_SIZE]]
 *
 * bench_packet is one packet. Before it, bench_recv writes the datagram into the next of
 * MEDIA_BUFS buffers as the kernel fills the worker's buffer ring (recvmsg header, address,
 * timestamp, payload; counted only with --toggle-collect=bench_recv, the kernel's share;
 * MP_BUFS and MP_STRIDE in the environment set the ring's size and the buffers' distance). Every
 * 50 rounds (one second of 20 ms packets) bench_flush does what the worker's flush timer does: seal
 * each dirty stream's open chunk and hand its writes over. SQEs come from a stub instead of the
 * worker's ring and complete at once (nothing is written after each file's header). Packets are
 * AES_CM_128_HMAC_SHA1_80, 160 bytes of payload, protected up front (not counted); recordings
 * are AES-256-GCM, 64 KiB chunks (or CHUNK_SIZE bytes: CHUNK_SIZE in siprecd.conf), in a
 * temporary directory removed at the end.
 *
 * MP_PREFETCH=1 runs the worker's prefetch hook (stream_prefetch) ahead of each packet as the
 * loop's dispatch does (stage k for the packet (LOOP_PREFETCH_STAGES - k) x 2 places ahead), so
 * the wall clock shows what the hook hides; callgrind's cache simulation ignores prefetches.
 *
 * output: "media-packet streams=N packets=P ns/pkt=X" (wall clock, for orientation only).
 */
#include <liburing.h>

/* The worker's ring is replaced by bench_sqes below (defined after worker.c's uses). */
#define loop_sqes bench_loop_sqes
struct loop;
static int bench_loop_sqes(struct loop *l, unsigned n, struct io_uring_sqe **ret);

#include "media/worker.c"

#include <ftw.h>
#include <openssl/rand.h>

#include "siprecd/str.h"

#define PAYLOAD_LEN 160
#define PKT_CAP 256
#define FLUSH_ROUNDS 50
#define STUB_SQES 256
#define STUB_INFLIGHT 65536

/* A full ring is submitted, as loop_sqes does (io_uring_submit), so every stream's flush gets
 * its writes handed over, as in siprecd (before, the 257th SQE was refused and most streams'
 * chunks waited for the next flush). */
static struct io_uring_sqe stub_sqes[STUB_SQES];
static unsigned stub_used;
static struct stub_cqe {
	struct loop_op *op;
	int res;
} stub_inflight[STUB_INFLIGHT];
static unsigned stub_head, stub_tail;

static void stub_submit(void)
{
	for (unsigned i = 0; i < stub_used && stub_tail < STUB_INFLIGHT; i++) {
		struct io_uring_sqe *sqe = &stub_sqes[i];

		stub_inflight[stub_tail++] = (struct stub_cqe){
			(struct loop_op *)(uintptr_t)sqe->user_data,
			sqe->opcode == IORING_OP_WRITE ? (int)sqe->len : 0,
		};
	}
	stub_used = 0;
}

static int bench_loop_sqes(struct loop *l, unsigned n, struct io_uring_sqe **ret)
{
	(void)l;
	if (n > STUB_SQES - stub_used)
		stub_submit();
	if (n > STUB_SQES || STUB_INFLIGHT - stub_tail < STUB_SQES)
		return -EBUSY;
	for (unsigned i = 0; i < n; i++) {
		ret[i] = &stub_sqes[stub_used++];
		memset(ret[i], 0, sizeof(*ret[i]));
	}
	return 0;
}

/* Completes every SQE handed out, in order, as the kernel would: writes in full, syncs with 0
 * (a completion may hand out more SQEs: those complete too). */
static void stub_complete(void)
{
	do {
		stub_submit();
		while (stub_head < stub_tail) {
			struct stub_cqe c = stub_inflight[stub_head++];

			if (c.op)
				c.op->fn(c.op, c.res, 0);
		}
		stub_head = stub_tail = 0;
	} while (stub_used);
}

__attribute__((noinline)) void bench_packet(struct media_stream *s, uint8_t *buf, size_t len,
					    uint64_t arrival_ns,
					    const struct sockaddr_storage *src);
__attribute__((noinline)) void bench_packet(struct media_stream *s, uint8_t *buf, size_t len,
					    uint64_t arrival_ns, const struct sockaddr_storage *src)
{
	handle_packet(s, buf, len, arrival_ns, false, src);
}

/*
 * What the kernel writes into the buffer the ring hands it for one datagram, as recv_common
 * reads it: io_uring_recvmsg_out, the source address in the name area (msg_namelen bytes), the
 * SCM_TIMESTAMPNS message in the control area, then the payload; returns the payload.
 */
__attribute__((noinline)) uint8_t *bench_recv(uint8_t *buf, const uint8_t *pkt, size_t len,
					      const struct sockaddr_storage *src);
__attribute__((noinline)) uint8_t *bench_recv(uint8_t *buf, const uint8_t *pkt, size_t len,
					      const struct sockaddr_storage *src)
{
	struct io_uring_recvmsg_out o = {
		.namelen = sizeof(struct sockaddr_in),
		.controllen = CMSG_SPACE(sizeof(struct timespec)),
		.payloadlen = (unsigned)len,
	};
	struct cmsghdr cm = {
		.cmsg_len = CMSG_LEN(sizeof(struct timespec)),
		.cmsg_level = SOL_SOCKET,
		.cmsg_type = SCM_TIMESTAMPNS,
	};
	struct timespec ts;
	uint8_t *name = buf + sizeof(o), *control = name + sizeof(struct sockaddr_storage);
	uint8_t *payload = control + MEDIA_CONTROL_LEN;

	clock_gettime(CLOCK_REALTIME, &ts);
	memcpy(buf, &o, sizeof(o));
	memcpy(name, src, sizeof(struct sockaddr_in));
	memcpy(control, &cm, sizeof(cm));
	memcpy(CMSG_DATA((struct cmsghdr *)control), &ts, sizeof(ts));
	memcpy(payload, pkt, len);
	return payload;
}

/* The flush timer's walk (flush_fired without the timer and the sync group). */
__attribute__((noinline)) void bench_flush(struct media_worker *w);
__attribute__((noinline)) void bench_flush(struct media_worker *w)
{
	for (struct media_stream *s = w->streams; s; s = s->next) {
		if (!s->dirty || !s->writer || s->error)
			continue;
		if (store_writer_flush(s->writer) == 0)
			stream_submit(s, true);
		s->dirty = false;
	}
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static uint64_t now_ns_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int main(int argc, char **argv)
{
	const struct srtp_suite_info *si =
		srtp_suite_by_name(str_from_cstr("AES_CM_128_HMAC_SHA1_80"));
	unsigned streams = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 2000;
	unsigned rounds = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 100;
	unsigned long chunk = argc > 3 ? strtoul(argv[3], NULL, 10) : STORE_CHUNK_SIZE_DEFAULT;
	size_t kl = si ? si->key_len + si->salt_len : 0;
	struct media_pool pool = {.cfg = {.latch = MEDIA_LATCH_SDP, .flush_ms = 1000}};
	struct media_worker w = {.pool = &pool};
	struct media_stream **ss = NULL;
	uint8_t *pkts = NULL, *ring = NULL;
	uint16_t *lens = NULL;
	struct sockaddr_storage src = {0};
	struct sockaddr_in *sin = (struct sockaddr_in *)&src;
	char dir[] = "/var/tmp/media-packet.XXXXXX";
	uint64_t t0, t1, bad = 0;
	unsigned next_buf = 0;
	bool prefetch = getenv("MP_PREFETCH") && atoi(getenv("MP_PREFETCH"));
	/* the buffer ring: MEDIA_BUFS buffers a line more than MEDIA_BUFSZ apart, as
	 * loop_buf_ring_new lays them out, or as these say */
	unsigned nbufs = getenv("MP_BUFS") ? (unsigned)atoi(getenv("MP_BUFS")) : MEDIA_BUFS;
	size_t stride = getenv("MP_STRIDE") ? (size_t)atoi(getenv("MP_STRIDE")) : MEDIA_BUFSZ + 64;
	int r = 1;

	(void)srtp_openssl_mem_init(); /* as siprecd's main() */
	if (!si || streams == 0 || streams > 20000 || rounds < 2 || rounds > 100000 || nbufs == 0 ||
	    nbufs > 65536 || stride < MEDIA_BUFSZ || stride > 65536 ||
	    chunk < STORE_CHUNK_SIZE_MIN || chunk > STORE_CHUNK_SIZE_MAX || chunk % STORE_BLOCK ||
	    srtp_global_init() < 0) {
		fprintf(stderr, "usage: media-packet [STREAMS (1-20000)] [ROUNDS (2-100000)] "
				"[CHUNK_SIZE (4096-16777216, by 4096)]\n");
		return 1;
	}
	if (!mkdtemp(dir)) {
		perror("media-packet: mkdtemp");
		return 1;
	}
	log_set_max_level(LOG_WARNING);
	ss = calloc(streams, sizeof(*ss));
	pkts = malloc((size_t)streams * rounds * PKT_CAP);
	lens = malloc((size_t)streams * rounds * sizeof(*lens));
	ring = aligned_alloc(64, (size_t)nbufs * stride);
	if (!ss || !pkts || !lens || !ring)
		goto out;
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin->sin_port = htons(40000);
	for (unsigned i = 0; i < streams; i++) {
		uint8_t key[SRTP_KEY_SALT_MAX], rkey[STORE_KEY_SIZE];
		/* as media_stream_open allocates it */
		struct media_stream *s = aligned_alloc(_Alignof(struct media_stream), sizeof(*s));
		struct srtp_tx *tx;
		char path[sizeof(dir) + 32];
		uint32_t ssrc = 0x10000000u + i;

		if (s)
			memset(s, 0, sizeof(*s));
		if (!s || RAND_bytes(key, (int)kl) != 1 || RAND_bytes(rkey, sizeof(rkey)) != 1)
			goto out;
		ss[i] = s;
		s->fd = s->rtcp_fd = -1;
		s->recv_op.fn = recv_done; /* what the prefetch hook recognises */
		s->pool = &pool;
		s->w = &w;
		s->rtcp_mux = true;
		s->latch_mode = pool.cfg.latch;
		s->remote = src;
		s->has_remote = true;
		s->session_uuid = s->label = s->recording_uuid = "bench";
		snprintf(path, sizeof(path), "%s/%u.siprec", dir, i);
		s->path = strdup(path);
		if (!s->path || srtp_rx_new(si, key, kl, false, false, false, &s->srtp) < 0 ||
		    srtp_tx_new(si, key, kl, false, false, false, &tx) < 0)
			goto out;
		s->sp = (struct store_params){
			.path = s->path,
			.alg = STORE_ALG_AES_256_GCM,
			.chunk_size = (uint32_t)chunk,
			.key = rkey,
			.key_id = "bench",
			.key_version = 1,
			.recording_id = "bench",
			.session_id = "bench",
			.stream_label = "bench",
			.codec = "PCMU",
			.payload_type = 0,
			.clock_rate = 8000,
		};
		if (store_writer_open(&s->sp, &s->writer) < 0)
			goto out;
		OPENSSL_cleanse(rkey, sizeof(rkey));
		s->next = w.streams;
		w.streams = s;
		stream_submit(s, false); /* the header block */
		stub_complete();
		for (unsigned k = 0; k < rounds; k++) {
			uint8_t *p = pkts + ((size_t)k * streams + i) * PKT_CAP;
			size_t len = 12 + PAYLOAD_LEN;

			p[0] = 0x80;
			p[1] = 0; /* PCMU */
			p[2] = (uint8_t)(k >> 8);
			p[3] = (uint8_t)k;
			put32(p + 4, k * 160);
			put32(p + 8, ssrc);
			memset(p + 12, 0xd5, PAYLOAD_LEN);
			if (srtp_tx_protect_rtp(tx, p, &len, PKT_CAP) < 0)
				goto out;
			lens[(size_t)k * streams + i] = (uint16_t)len;
		}
		srtp_tx_free(tx);
		OPENSSL_cleanse(key, sizeof(key));
	}
	t0 = now_ns_monotonic();
	for (unsigned k = 0; k < rounds; k++) {
		for (unsigned i = 0; i < streams; i++) {
			size_t at = (size_t)k * streams + i;
			uint8_t *buf = ring + (size_t)next_buf * stride;

			next_buf = (next_buf + 1) % nbufs;
			/* the loop's dispatch_prefetched: 2 completions between stages */
			for (unsigned st = 0; prefetch && st < LOOP_PREFETCH_STAGES; st++)
				stream_prefetch(&ss[(i + (LOOP_PREFETCH_STAGES - st) * 2) % streams]
							 ->recv_op,
						st);
			bench_packet(ss[i], bench_recv(buf, pkts + at * PKT_CAP, lens[at], &src),
				     lens[at], realtime_ns(), &src);
			stub_complete();
		}
		if ((k + 1) % FLUSH_ROUNDS == 0) {
			bench_flush(&w);
			stub_complete();
		}
	}
	t1 = now_ns_monotonic();
	for (unsigned i = 0; i < streams; i++) {
		struct media_stream *s = ss[i];

		bad += s->stats.srtp_auth_failures + s->stats.srtp_replays + s->stats.malformed +
		       s->stats.dropped_source + (s->error != 0);
		if (s->stats.packets != rounds)
			bad++;
	}
	printf("media-packet streams=%u packets=%llu ns/pkt=%.1f%s\n", streams,
	       (unsigned long long)streams * rounds, (double)(t1 - t0) / ((double)streams * rounds),
	       bad ? " ERRORS" : "");
	r = bad ? 2 : 0;
out:
	for (unsigned i = 0; ss && i < streams; i++) {
		if (!ss[i])
			continue;
		if (ss[i]->writer) {
			store_writer_finish(ss[i]->writer);
			stream_submit(ss[i], true);
			stub_complete();
			store_writer_close(ss[i]->writer);
		}
		srtp_rx_free(ss[i]->srtp);
		free(ss[i]->path);
		free(ss[i]);
	}
	free(ss);
	free(pkts);
	free(lens);
	free(ring);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (r == 1)
		fprintf(stderr, "media-packet: setup failed\n");
	return r;
}
