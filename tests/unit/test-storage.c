// SPDX-License-Identifier: MIT
/*
 * Unit tests of the .siprec format: header and frame coding, chunk seal/open, every kind of
 * tampering reported with its index, the io_uring writer on a real disk (alignment of every
 * write), the checked-in test vectors (tests/data/vectors), and the .metadata envelope.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <liburing.h>
#include <openssl/sha.h>

#include "siprecd/loop.h"
#include "siprecd/macro.h"
#include "siprecd/storage.h"

static const uint8_t test_key[32] = {0,	 1,  2,	 3,  4,	 5,  6,	 7,  8,	 9,  10,
				     11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
				     22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

static int lookup_fixed(void *ud, const char *key_id, uint32_t kv, const char *rec,
			uint8_t ret_key[32])
{
	memcpy(ret_key, test_key, 32);
	return 0;
}
static const struct store_key_lookup lookup = {lookup_fixed, NULL};

static char tmpdir[256];

static int setup_dir(void **state)
{
	/* Not /tmp: it may be tmpfs, and the writer's O_DIRECT path is what is under test. */
	snprintf(tmpdir, sizeof(tmpdir), "/var/tmp/test-storage-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int teardown_dir(void **state)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void fill_header(struct store_header *h, enum store_alg alg)
{
	memset(h, 0, sizeof(*h));
	h->alg = alg;
	h->chunk_size = STORE_BLOCK;
	h->key_version = 1;
	h->clock_rate = 8000;
	h->payload_type = 0;
	h->created_ns = 1700000000000000000ull;
	memcpy(h->nonce_prefix, "\xa1\xb2\xc3\xd4", 4);
	strcpy(h->key_id, "test:vector");
	strcpy(h->recording_id, "6f9619ff-8b86-d011-b42d-00c04fc964ff");
	strcpy(h->session_id, "cs-0001");
	strcpy(h->stream_label, "1");
	strcpy(h->codec, "PCMU");
}

static void test_header_roundtrip(void **state)
{
	uint8_t buf[STORE_HEADER_SIZE], copy[STORE_HEADER_SIZE];
	struct store_header h, d;

	fill_header(&h, STORE_ALG_CHACHA20_POLY1305);
	assert_int_equal(store_header_encode(&h, buf), 0);
	assert_memory_equal(buf, "SIPREC\0\1", 8);
	assert_int_equal(store_header_decode(buf, sizeof(buf), &d), 0);
	assert_int_equal(d.alg, STORE_ALG_CHACHA20_POLY1305);
	assert_int_equal(d.chunk_size, STORE_BLOCK);
	assert_int_equal(d.clock_rate, 8000);
	assert_int_equal(d.created_ns, 1700000000000000000ull);
	assert_string_equal(d.recording_id, h.recording_id);
	assert_string_equal(d.codec, "PCMU");
	assert_string_equal(d.stream_label, "1");

	/* Table of single-byte corruptions and the expected verdict. */
	static const struct {
		size_t off;
		uint8_t val;
		int ret;
	} t[] = {
		{0, 'X', -EBADMSG},		      /* magic */
		{7, 2, -EBADMSG},		      /* magic's version byte */
		{8, 2, -EPROTONOSUPPORT},	      /* format version */
		{11, 0, -EBADMSG},		      /* header length */
		{12, 3, -EBADMSG},		      /* algorithm */
		{13, 16, -EBADMSG},		      /* nonce size */
		{14, 8, -EBADMSG},		      /* tag size */
		{15, 1, -EBADMSG},		      /* reserved flags */
		{17, 0x11, -EBADMSG},		      /* chunk size not a multiple of 4096 */
		{29, 1, -EBADMSG},		      /* reserved */
		{44, 1, -EBADMSG},		      /* reserved */
		{48, 200, -EBADMSG},		      /* key id length over its limit */
		{STORE_HEADER_SIZE - 1, 1, -EBADMSG}, /* non-zero padding */
		{28, 8, 0},			      /* payload type: any value */
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memcpy(copy, buf, sizeof(buf));
		copy[t[i].off] = t[i].val;
		assert_int_equal(store_header_decode(copy, sizeof(copy), &d), t[i].ret);
	}
	assert_int_equal(store_header_decode(buf, sizeof(buf) - 1, &d), -EBADMSG);
	strcpy(h.codec, "0123456789012345678901234567890"); /* 31: at the limit */
	assert_int_equal(store_header_encode(&h, buf), 0);
	h.chunk_size = 5000;
	assert_int_equal(store_header_encode(&h, buf), -EINVAL);
}

/* The payload map (docs/FORMAT.md): after the codec string, and absent (zero padding) in
 * files written before it, which therefore decode unchanged (see test_vectors). */
static void test_header_formats(void **state)
{
	uint8_t buf[STORE_HEADER_SIZE], old[STORE_HEADER_SIZE];
	struct store_header h, d;
	struct store_format f;
	char big[STORE_FORMATS_MAX + 2];

	fill_header(&h, STORE_ALG_NONE);
	h.key_id[0] = 0;
	assert_int_equal(store_header_encode(&h, old), 0);
	strcpy(h.codec, "G729");
	h.payload_type = 18;
	strcpy(h.formats, "18 G729/8000 annexb=no\n8 PCMA/8000\n96 opus/48000/2\n"
			  "101 telephone-event/8000 0-15");
	assert_int_equal(store_header_encode(&h, buf), 0);
	assert_int_equal(store_header_decode(buf, sizeof(buf), &d), 0);
	assert_string_equal(d.formats, h.formats);
	{
		/* the map is a sixth string right after the codec: up to it, the header of the same
		 * recording without a map is byte for byte the same, and its u16 length sits where
		 * an old file has zero padding */
		struct store_header h2;
		uint8_t b2[STORE_HEADER_SIZE];
		size_t at = 48 + 2 + 2 + 36 + 2 + 7 + 2 + 1 + 2 + 4;

		fill_header(&h2, STORE_ALG_NONE);
		h2.key_id[0] = 0;
		strcpy(h2.formats, "0 PCMU/8000");
		assert_int_equal(store_header_encode(&h2, b2), 0);
		assert_memory_equal(b2, old, at);
		assert_int_equal(b2[at], 11);
		assert_int_equal(old[at], 0);
		assert_memory_equal(b2 + at + 2, "0 PCMU/8000", 11);
	}

	assert_int_equal(store_header_format(&d, 18, &f), 0);
	assert_string_equal(f.encoding, "G729");
	assert_int_equal(f.clock_rate, 8000);
	assert_int_equal(f.channels, 1);
	assert_string_equal(f.fmtp, "annexb=no");
	assert_int_equal(store_header_format(&d, 8, &f), 0);
	assert_string_equal(f.encoding, "PCMA");
	assert_string_equal(f.fmtp, "");
	assert_int_equal(store_header_format(&d, 96, &f), 0);
	assert_int_equal(f.clock_rate, 48000);
	assert_int_equal(f.channels, 2);
	assert_int_equal(store_header_format(&d, 101, &f), 0);
	assert_string_equal(f.encoding, "telephone-event");
	assert_string_equal(f.fmtp, "0-15");
	assert_int_equal(store_header_format(&d, 0, &f), -ENOENT);

	/* an old file: only its one codec, by its payload type */
	assert_int_equal(store_header_decode(old, sizeof(old), &d), 0);
	assert_string_equal(d.formats, "");
	assert_int_equal(store_header_format(&d, 0, &f), 0);
	assert_string_equal(f.encoding, "PCMU");
	assert_int_equal(f.clock_rate, 8000);
	assert_int_equal(store_header_format(&d, 8, &f), -ENOENT);

	assert_int_equal(store_formats_find("18 G729", 18, &f), -EBADMSG);
	assert_int_equal(store_formats_find("18 G729/x", 18, &f), -EBADMSG);
	assert_int_equal(store_formats_find("200 X/8000\n18 G729/8000", 18, &f), 0);
	assert_int_equal(store_formats_find("", 18, &f), -ENOENT);
	{
		const char *cur = "0 PCMU/8000\nbad\n96 opus/48000/2 stereo=1";
		unsigned n = 0;

		while (store_formats_next(&cur, &f) > 0)
			n += f.pt;
		assert_int_equal(n, 96); /* 0 + 96, the malformed line skipped */
		assert_string_equal(f.fmtp, "stereo=1");
	}

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	memcpy(h.formats, big, STORE_FORMATS_MAX);
	h.formats[STORE_FORMATS_MAX] = 0;
	assert_int_equal(store_header_encode(&h, buf), 0); /* at the limit */
}

static void test_frames(void **state)
{
	uint8_t buf[100], payload[40];
	struct store_frame f = {STORE_FRAME_RTP, 40, 123456789,		 0xdeadbeef, 65535,
				0x01020304,	 96, STORE_FRAME_MARKER, payload},
			   g;
	size_t off = 0;

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)i;
	assert_int_equal(store_frame_encode(&f, buf, sizeof(buf), &off), 0);
	assert_int_equal(off, 64);
	assert_int_equal(store_frame_encode(&f, buf, sizeof(buf), &off), -ENOBUFS);
	/* Little-endian on disk. */
	assert_int_equal(buf[0], 1);
	assert_int_equal(buf[2], 40);
	assert_int_equal(buf[12], 0xef);
	off = 0;
	assert_int_equal(store_frame_decode(buf, 64, &off, &g), 1);
	assert_int_equal(g.type, f.type);
	assert_int_equal(g.len, 40);
	assert_int_equal(g.arrival_ns, f.arrival_ns);
	assert_int_equal(g.ssrc, f.ssrc);
	assert_int_equal(g.seq, f.seq);
	assert_int_equal(g.rtp_ts, f.rtp_ts);
	assert_int_equal(g.pt, 96);
	assert_int_equal(g.flags, STORE_FRAME_MARKER);
	assert_memory_equal(g.payload, payload, 40);
	assert_int_equal(store_frame_decode(buf, 64, &off, &g), 0);
	off = 0;
	assert_int_equal(store_frame_decode(buf, 63, &off, &g), -EBADMSG);
	off = 0;
	assert_int_equal(store_frame_decode(buf, 10, &off, &g), -EBADMSG);
}

static void test_chunk_roundtrip(void **state)
{
	static const enum store_alg algs[] = {STORE_ALG_NONE, STORE_ALG_AES_256_GCM,
					      STORE_ALG_CHACHA20_POLY1305};
	uint8_t hdr[STORE_HEADER_SIZE], out[2 * STORE_BLOCK], plain[STORE_BLOCK], back[STORE_BLOCK];
	struct store_header h;

	for (size_t i = 0; i < sizeof(plain); i++)
		plain[i] = (uint8_t)(i * 7);
	for (size_t a = 0; a < 3; a++) {
		struct store_cipher *c;
		size_t lens[] = {0, 1, 100, store_chunk_capacity(STORE_BLOCK)};

		fill_header(&h, algs[a]);
		assert_int_equal(store_header_encode(&h, hdr), 0);
		assert_int_equal(store_cipher_new(algs[a], test_key, hdr, &c), 0);
		for (size_t k = 0; k < 4; k++) {
			size_t len = 0, disk = 0;
			uint32_t flags = 0;
			int n = store_chunk_seal(c, h.nonce_prefix, 5, STORE_CHUNK_FINAL, plain,
						 lens[k], out);

			assert_int_equal(n, STORE_BLOCK);
			if (algs[a] != STORE_ALG_NONE && lens[k] > 16)
				assert_memory_not_equal(out + STORE_CHUNK_HDR_SIZE, plain, 16);
			assert_int_equal(store_chunk_open(c, &h, 5, out, (size_t)n, back, &len,
							  &flags, &disk),
					 STORE_CHUNK_OK);
			assert_int_equal(len, lens[k]);
			assert_int_equal(flags, STORE_CHUNK_FINAL);
			assert_int_equal(disk, STORE_BLOCK);
			assert_memory_equal(back, plain, lens[k]);
			assert_int_equal(store_chunk_open(c, &h, 4, out, (size_t)n, back, &len,
							  &flags, &disk),
					 STORE_CHUNK_OUT_OF_ORDER);
			assert_int_equal(store_chunk_open(c, &h, 5, out, (size_t)n - 1, back, &len,
							  &flags, &disk),
					 STORE_CHUNK_TRUNCATED);
			/* Clearing the FINAL flag changes the associated data. */
			out[4] = 0;
			assert_int_equal(store_chunk_open(c, &h, 5, out, (size_t)n, back, &len,
							  &flags, &disk),
					 STORE_CHUNK_AUTH_FAILED);
		}
		store_cipher_free(c);
	}
}

/*
 * A cipher is keyed once and then only loads each chunk's nonce: every chunk it seals must be
 * the bytes a freshly keyed cipher seals for the same index, and must open with one, also after
 * it opened chunks (the other direction), failed to open a tampered one, and sealed others;
 * sealed in place, the bytes are the same.
 */
static void test_chunk_keyed_once(void **state)
{
	static const enum store_alg algs[] = {STORE_ALG_AES_256_GCM, STORE_ALG_CHACHA20_POLY1305};
	static const size_t lens[] = {100, 0, 3000, 1, 4000, 17};
	enum { N = ARRAY_SIZE(lens) };
	uint8_t hdr[STORE_HEADER_SIZE], plain[STORE_BLOCK], back[STORE_BLOCK];
	uint8_t sealed[N][2 * STORE_BLOCK], b_out[2 * STORE_BLOCK];
	int n[N];
	struct store_header h;

	for (size_t i = 0; i < sizeof(plain); i++)
		plain[i] = (uint8_t)(i * 13 + 1);
	for (size_t a = 0; a < ARRAY_SIZE(algs); a++) {
		struct store_cipher *kept, *fresh;
		size_t len = 0, disk = 0;
		uint32_t flags = 0;

		fill_header(&h, algs[a]);
		assert_int_equal(store_header_encode(&h, hdr), 0);
		assert_int_equal(store_cipher_new(algs[a], test_key, hdr, &kept), 0);
		/* seals in a row on one cipher (the nonce loaded alone from the second on) */
		for (size_t k = 0; k < N; k++) {
			n[k] = store_chunk_seal(kept, h.nonce_prefix, k, 0, plain + k, lens[k],
						sealed[k]);
			assert_true(n[k] > 0);
		}
		for (size_t k = 0; k < N; k++) {
			assert_int_equal(store_cipher_new(algs[a], test_key, hdr, &fresh), 0);
			assert_int_equal(store_chunk_seal(fresh, h.nonce_prefix, k, 0, plain + k,
							  lens[k], b_out),
					 n[k]);
			assert_memory_equal(sealed[k], b_out, (size_t)n[k]);
			assert_int_equal(store_chunk_open(fresh, &h, k, sealed[k], (size_t)n[k],
							  back, &len, &flags, &disk),
					 STORE_CHUNK_OK);
			store_cipher_free(fresh);
		}
		/* opens in a row on the same cipher (its other direction), a failed one between */
		for (size_t k = 0; k < N; k++) {
			if (k % 2) {
				sealed[k][STORE_CHUNK_HDR_SIZE] ^= 1;
				assert_int_equal(store_chunk_open(kept, &h, k, sealed[k],
								  (size_t)n[k], back, &len, &flags,
								  &disk),
						 STORE_CHUNK_AUTH_FAILED);
				sealed[k][STORE_CHUNK_HDR_SIZE] ^= 1;
			}
			assert_int_equal(store_chunk_open(kept, &h, k, sealed[k], (size_t)n[k],
							  back, &len, &flags, &disk),
					 STORE_CHUNK_OK);
			assert_int_equal(len, lens[k]);
			assert_memory_equal(back, plain + k, lens[k]);
		}
		/* in place (plain at out + STORE_CHUNK_HDR_SIZE, as the writer seals): the same */
		for (size_t k = 0; k < N; k++) {
			memset(b_out, 0xee, sizeof(b_out));
			memcpy(b_out + STORE_CHUNK_HDR_SIZE, plain + k, lens[k]);
			assert_int_equal(store_chunk_seal(kept, h.nonce_prefix, k, 0,
							  b_out + STORE_CHUNK_HDR_SIZE, lens[k],
							  b_out),
					 n[k]);
			assert_memory_equal(sealed[k], b_out, (size_t)n[k]);
		}
		/* and seals again as a fresh cipher would */
		assert_int_equal(
			store_chunk_seal(kept, h.nonce_prefix, 2, 0, plain + 2, lens[2], b_out),
			n[2]);
		assert_memory_equal(sealed[2], b_out, (size_t)n[2]);
		store_cipher_free(kept);
	}
}

/* ---- a stand-in for the loop: a plain io_uring and CQE dispatch to struct loop_op ---- */

struct ring {
	struct io_uring ring;
	struct io_uring_sqe *handed[256];
	unsigned nhanded;
	unsigned writes, dirsyncs, datasyncs;
	unsigned outstanding; /* SQEs submitted whose CQE has not been dispatched */
	bool fail_next_write;
};

static int ring_get_sqes(void *ud, unsigned n, struct io_uring_sqe **ret)
{
	struct ring *r = ud;

	if (io_uring_sq_space_left(&r->ring) < n || r->nhanded + n > 256)
		return -EBUSY;
	for (unsigned i = 0; i < n; i++) {
		ret[i] = io_uring_get_sqe(&r->ring);
		r->handed[r->nhanded++] = ret[i];
	}
	return 0;
}

static void ring_check_handed(struct ring *r)
{
	for (unsigned i = 0; i < r->nhanded; i++) {
		struct io_uring_sqe *s = r->handed[i];

		if (s->opcode == IORING_OP_FSYNC && !(s->fsync_flags & IORING_FSYNC_DATASYNC))
			r->dirsyncs++;
		if (s->opcode == IORING_OP_FSYNC && (s->fsync_flags & IORING_FSYNC_DATASYNC))
			r->datasyncs++;
		if (s->opcode != IORING_OP_WRITE)
			continue;
		r->writes++;
		assert_int_equal(s->off % STORE_BLOCK, 0);
		assert_int_equal(s->len % STORE_BLOCK, 0);
		assert_int_equal(s->addr % STORE_BLOCK, 0);
		if (r->fail_next_write) {
			/* An invalid fd makes the kernel fail this write like a broken disk. */
			s->fd = -1;
			r->fail_next_write = false;
		}
	}
	r->nhanded = 0;
}

static void ring_run(struct ring *r, struct store_writer *w)
{
	for (;;) {
		struct io_uring_cqe *cqe;
		struct loop_op *op;
		int res;
		uint32_t flags;

		ring_check_handed(r);
		assert_true(io_uring_submit(&r->ring) >= 0);
		if (!store_writer_in_flight(w))
			break;
		assert_int_equal(io_uring_wait_cqe(&r->ring, &cqe), 0);
		op = io_uring_cqe_get_data(cqe);
		res = cqe->res;
		flags = cqe->flags;
		io_uring_cqe_seen(&r->ring, cqe);
		op->fn(op, res, flags);
	}
}

static bool ring_init(struct ring *r)
{
	memset(r, 0, sizeof(*r));
	return io_uring_queue_init(64, &r->ring, 0) == 0;
}

static void make_frame(struct store_frame *f, uint8_t *payload, unsigned i, uint16_t len)
{
	for (unsigned k = 0; k < len; k++)
		payload[k] = (uint8_t)(i + k);
	*f = (struct store_frame){STORE_FRAME_RTP,
				  len,
				  1700000000000000000ull + i * 20000000ull,
				  0x11223344,
				  (uint16_t)i,
				  i * 160,
				  0,
				  0,
				  payload};
}

/* Writes nframes frames (160-byte payloads) to path through io_uring. Returns the writer's
 * SHA-256 in sha. */
static void write_file(const char *path, enum store_alg alg, unsigned nframes, bool finish,
		       uint8_t sha[32])
{
	struct store_params p = {
		.path = path,
		.alg = alg,
		.key = test_key,
		.key_id = "test:key",
		.key_version = 1,
		.recording_id = "rec-1",
		.session_id = "sess-1",
		.stream_label = "1",
		.codec = "PCMU",
		.clock_rate = 8000,
		.chunk_size = STORE_BLOCK,
	};
	struct store_writer *w;
	struct ring r;
	uint8_t payload[160];

	if (!ring_init(&r))
		skip();
	assert_int_equal(store_writer_open(&p, &w), 0);
	assert_int_equal(store_writer_open(&p, &w), -EEXIST);
	for (unsigned i = 0; i < nframes; i++) {
		struct store_frame f;

		make_frame(&f, payload, i, sizeof(payload));
		assert_int_equal(store_writer_add(w, &f), 0);
		if (i % 50 == 49) {
			assert_true(store_writer_submit(w, ring_get_sqes, &r, i % 100 == 99) >= 0);
			ring_run(&r, w);
		}
	}
	if (finish) {
		assert_int_equal(store_writer_finish(w), 0);
		assert_int_equal(store_writer_add(w, &(struct store_frame){.type = 1}), -EPIPE);
		assert_int_equal(store_writer_sha256(w, sha), 0);
	} else {
		assert_int_equal(store_writer_flush(w), 0);
		assert_int_equal(store_writer_sha256(w, sha), -EAGAIN);
	}
	assert_true(store_writer_submit(w, ring_get_sqes, &r, true) > 0);
	assert_int_equal(store_writer_close(w), -EBUSY);
	ring_run(&r, w);
	assert_int_equal(store_writer_error(w), 0);
	assert_int_equal(store_writer_pending(w), 0);
	assert_true(store_writer_direct(w));
	/* the directory entry is made durable once, with the first fdatasync */
	assert_int_equal(r.dirsyncs, 1);
	assert_int_equal(store_writer_durable_final(w), finish);
	{
		const struct store_writer_stats *s = store_writer_stats(w);
		struct stat st;

		assert_int_equal(s->frames, nframes);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0600);
		assert_int_equal(st.st_size % STORE_BLOCK, 0);
		assert_int_equal(s->bytes_written, store_writer_file_size(w));
		assert_int_equal(s->bytes_written, STORE_BLOCK * (1 + s->chunks));
		/* Finished, the file is cut to its data; before, zeros are written ahead of it. */
		if (finish)
			assert_int_equal((uint64_t)st.st_size, s->bytes_written);
		else
			assert_true((uint64_t)st.st_size > s->bytes_written);
		assert_true(s->lat_count > 0);
		assert_true(s->last_durable_ns > 0);
		assert_true(store_lat_quantile_us(s, 0.99) >= store_lat_quantile_us(s, 0.5));
	}
	assert_int_equal(store_writer_close(w), 0);
	io_uring_queue_exit(&r.ring);
}

static uint8_t *slurp(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*ret_len = (size_t)n;
	return buf;
}

/* The CQEs the handed SQEs will post: none for one that posts only on failure (the directory's
 * fsync linked before a shared FINAL fdatasync, STORE_FINAL_COMMIT) */
static unsigned handed_cqes(const struct ring *r)
{
	unsigned n = 0;

	for (unsigned i = 0; i < r->nhanded; i++)
		n += !(r->handed[i]->flags & IOSQE_CQE_SKIP_SUCCESS);
	return n;
}

/* Submits and dispatches until every SQE handed out (by any writer or group) completed. */
static void ring_drain(struct ring *r)
{
	for (;;) {
		struct io_uring_cqe *cqe;
		struct loop_op *op;
		int res;
		uint32_t flags;

		r->outstanding += handed_cqes(r);
		ring_check_handed(r);
		assert_true(io_uring_submit(&r->ring) >= 0);
		if (!r->outstanding)
			break;
		assert_int_equal(io_uring_wait_cqe(&r->ring, &cqe), 0);
		op = io_uring_cqe_get_data(cqe);
		res = cqe->res;
		flags = cqe->flags;
		io_uring_cqe_seen(&r->ring, cqe);
		r->outstanding--;
		op->fn(op, res, flags);
	}
}

static bool handed_has_fsync(const struct ring *r)
{
	for (unsigned i = 0; i < r->nhanded; i++)
		if (r->handed[i]->opcode == IORING_OP_FSYNC)
			return true;
	return false;
}

/*
 * Two writers of one sync group: each flush interval writes their chunks without a linked
 * fdatasync, and one fdatasync, prepared only once both writes completed, makes both durable.
 */
/* Writes w's FINAL chunk through r, closes it and checks the file is complete (in *res). */
static void finish_checked(struct store_writer *w, const char *path, struct ring *r,
			   struct store_check_result *res)
{
	assert_int_equal(store_writer_finish(w), 0);
	assert_true(store_writer_submit(w, ring_get_sqes, r, true) > 0);
	ring_drain(r);
	assert_true(store_writer_durable_final(w));
	assert_int_equal(store_writer_close(w), 0);
	assert_int_equal(store_file_check(path, &lookup, res), 0);
	assert_true(res->complete);
}

static void test_writer_group(void **state)
{
	enum {
		ROUNDS = 12,
		FRAMES = 10
	}; /* one block a round: no zeros ahead needed after the first */
	struct store_writer *w[2];
	struct store_sync_group *g;
	struct ring r;
	uint8_t payload[160];
	char path[2][300];

	if (!ring_init(&r))
		skip();
	assert_int_equal(store_sync_group_new(&g), 0);
	for (int k = 0; k < 2; k++) {
		struct store_params p = {.alg = STORE_ALG_AES_256_GCM,
					 .key = test_key,
					 .key_id = "k",
					 .recording_id = k ? "g1" : "g0",
					 .codec = "PCMU",
					 .chunk_size = STORE_BLOCK};

		snprintf(path[k], sizeof(path[k]), "%s/group%d.siprec", tmpdir, k);
		p.path = path[k];
		assert_int_equal(store_writer_open(&p, &w[k]), 0);
		assert_int_equal(store_writer_join(w[k], g), 0);
		/* the header, with the zeros ahead: the file's first sync is deferred */
		assert_true(store_writer_submit(w[k], ring_get_sqes, &r, false) > 0);
		assert_false(handed_has_fsync(&r));
	}
	ring_drain(&r);
	assert_int_equal(r.dirsyncs + r.datasyncs, 0);
	/* the next submit carries it, nothing else to write: a sync of the file and of its
	 * directory, once */
	for (int k = 0; k < 2; k++)
		assert_int_equal(store_writer_submit(w[k], ring_get_sqes, &r, false), 2);
	ring_drain(&r);
	assert_int_equal(r.dirsyncs, 2);
	assert_int_equal(r.datasyncs, 2);
	for (int k = 0; k < 2; k++)
		assert_int_equal(store_writer_submit(w[k], ring_get_sqes, &r, false), 0);
	r.datasyncs = 0;
	for (unsigned round = 0; round < ROUNDS; round++) {
		for (int k = 0; k < 2; k++) {
			struct store_frame f;

			for (unsigned i = 0; i < FRAMES; i++) {
				make_frame(&f, payload, round * FRAMES + i, sizeof(payload));
				assert_int_equal(store_writer_add(w[k], &f), 0);
			}
			assert_int_equal(store_writer_flush(w[k]), 0);
			/* the chunk's write alone, no fdatasync linked */
			assert_int_equal(store_writer_submit(w[k], ring_get_sqes, &r, true), 1);
		}
		store_sync_group_request(g, ring_get_sqes, &r);
		/* the writes are not done yet: the group's sync waits for them */
		assert_false(handed_has_fsync(&r));
		ring_drain(&r);
		assert_int_equal(r.datasyncs, round + 1);
		assert_int_equal(store_sync_group_syncs(g), round + 1);
		for (int k = 0; k < 2; k++) {
			assert_int_equal(store_writer_stats(w[k])->lat_count, round + 1);
			assert_true(store_writer_stats(w[k])->last_durable_ns > 0);
		}
	}
	/* Nothing written since: a request prepares no sync. */
	store_sync_group_request(g, ring_get_sqes, &r);
	ring_drain(&r);
	assert_int_equal(store_sync_group_syncs(g), ROUNDS);
	for (int k = 0; k < 2; k++) {
		struct store_check_result res;

		finish_checked(w[k], path[k], &r, &res);
		assert_int_equal(res.frames, ROUNDS * FRAMES);
		assert_int_equal(res.file_size, STORE_BLOCK * (1 + ROUNDS + 1));
	}
	/* the FINAL chunks took a sync of their own files */
	assert_int_equal(r.datasyncs, ROUNDS + 2);
	store_sync_group_free(g);
	io_uring_queue_exit(&r.ring);
}

/*
 * Files created through a group (store_params.group) share their directory's fsync: the first
 * sync of three files created before it began takes one directory fsync, and none of them
 * completes its first sync (in flight > 0) before that fsync's CQE; a file created after it
 * takes a new one.
 */
/* store_writer_set_idle_fn's callback: counts its calls in *ud. */
static void count_idle(void *ud)
{
	(*(unsigned *)ud)++;
}

static void test_writer_group_dir(void **state)
{
	unsigned idle[4] = {0};
	struct store_writer *w[4];
	struct store_sync_group *g;
	struct ring r;
	char path[4][300];
	void *held = NULL;

	if (!ring_init(&r))
		skip();
	assert_int_equal(store_sync_group_new(&g), 0);
	for (int k = 0; k < 4; k++) {
		struct store_params p = {.alg = STORE_ALG_AES_256_GCM,
					 .key = test_key,
					 .key_id = "k",
					 .recording_id = "gd",
					 .codec = "PCMU",
					 .chunk_size = STORE_BLOCK,
					 .group = g};

		snprintf(path[k], sizeof(path[k]), "%s/groupdir%d.siprec", tmpdir, k);
		p.path = path[k];
		if (k == 3)
			break;
		assert_int_equal(store_writer_open(&p, &w[k]), 0);
		if (!store_writer_direct(w[k]))
			skip();
		store_writer_set_idle_fn(w[k], count_idle, &idle[k]);
		/* joined at open: the directory is the group's */
		assert_int_equal(store_writer_join(w[k], g), -EALREADY);
	}
	/* the header and the zeros ahead, without a sync: the file's first is deferred */
	for (int k = 0; k < 3; k++)
		assert_true(store_writer_submit(w[k], ring_get_sqes, &r, false) > 0);
	assert_false(handed_has_fsync(&r));
	ring_drain(&r);
	assert_int_equal(r.dirsyncs + r.datasyncs, 0);
	for (int k = 0; k < 3; k++)
		assert_int_equal(idle[k], 1);
	/* the next submit, nothing to write: each file's fdatasync, one directory fsync for all */
	for (int k = 0; k < 3; k++)
		assert_true(store_writer_submit(w[k], ring_get_sqes, &r, false) > 0);
	for (unsigned i = 0; i < r.nhanded; i++) {
		struct io_uring_sqe *q = r.handed[i];

		if (q->opcode == IORING_OP_FSYNC && !(q->fsync_flags & IORING_FSYNC_DATASYNC)) {
			assert_null(held);
			held = (void *)(uintptr_t)q->user_data;
		}
	}
	assert_non_null(held);
	/* Every CQE but the directory's: no file's first sync is complete without it. */
	r.outstanding += handed_cqes(&r);
	ring_check_handed(&r);
	assert_true(io_uring_submit(&r.ring) >= 0);
	while (r.outstanding > 0) {
		struct io_uring_cqe *cqe;
		struct loop_op *op;
		int res;

		assert_int_equal(io_uring_wait_cqe(&r.ring, &cqe), 0);
		op = io_uring_cqe_get_data(cqe);
		res = cqe->res;
		io_uring_cqe_seen(&r.ring, cqe);
		r.outstanding--;
		if (op == held) {
			/* the directory's fsync: dispatched last, below */
			assert_int_equal(res, 0);
			continue;
		}
		op->fn(op, res, 0);
	}
	for (int k = 0; k < 3; k++) {
		assert_int_equal(store_writer_in_flight(w[k]), 1);
		/* waiting for the directory: not idle (a closing stream would be finalized) */
		assert_int_equal(idle[k], 1);
	}
	assert_int_equal(store_sync_group_dir_syncs(g), 0);
	((struct loop_op *)held)->fn(held, 0, 0);
	ring_drain(&r);
	assert_int_equal(r.dirsyncs, 1);
	assert_int_equal(store_sync_group_dir_syncs(g), 1);
	for (int k = 0; k < 3; k++) {
		assert_int_equal(store_writer_in_flight(w[k]), 0);
		assert_int_equal(idle[k], 2);
	}
	/* A file created after that fsync began needs another. */
	{
		struct store_params p = {.alg = STORE_ALG_NONE,
					 .recording_id = "gd3",
					 .codec = "PCMU",
					 .chunk_size = STORE_BLOCK,
					 .path = path[3],
					 .group = g};

		assert_int_equal(store_writer_open(&p, &w[3]), 0);
		assert_true(store_writer_submit(w[3], ring_get_sqes, &r, false) > 0);
		ring_drain(&r);
		assert_int_equal(r.dirsyncs, 1);
		assert_true(store_writer_submit(w[3], ring_get_sqes, &r, false) > 0);
		ring_drain(&r);
		assert_int_equal(r.dirsyncs, 2);
		assert_int_equal(store_sync_group_dir_syncs(g), 2);
		assert_int_equal(store_writer_in_flight(w[3]), 0);
	}
	for (int k = 0; k < 4; k++) {
		struct store_check_result res;

		finish_checked(w[k], path[k], &r, &res);
	}
	/* no more directory fsyncs: every entry was durable already */
	assert_int_equal(r.dirsyncs, 2);
	store_sync_group_free(g);
	io_uring_queue_exit(&r.ring);
}

/*
 * A recording shorter than a flush interval, as the media worker writes it (header submitted at
 * open, FINAL at the end): one fdatasync of the file and one fsync of its directory in all,
 * with the FINAL chunk; the header's chain carries none.
 */
static void test_writer_short(void **state)
{
	struct store_sync_group *g;
	struct store_params p = {.alg = STORE_ALG_AES_256_GCM,
				 .key = test_key,
				 .key_id = "k",
				 .recording_id = "short",
				 .codec = "PCMU"};
	struct store_check_result res;
	struct store_writer *w;
	uint8_t payload[160];
	char path[300];
	struct ring r;

	if (!ring_init(&r))
		skip();
	assert_int_equal(store_sync_group_new(&g), 0);
	/* the FINAL's own fdatasync, as without a journal */
	store_sync_group_set_journaled(g, 0);
	snprintf(path, sizeof(path), "%s/short.siprec", tmpdir);
	p.path = path;
	p.group = g;
	assert_int_equal(store_writer_open(&p, &w), 0);
	if (!store_writer_direct(w))
		skip();
	assert_true(store_writer_submit(w, ring_get_sqes, &r, false) > 0);
	assert_false(handed_has_fsync(&r));
	ring_drain(&r);
	for (unsigned i = 0; i < 10; i++) {
		struct store_frame f;

		make_frame(&f, payload, i, sizeof(payload));
		assert_int_equal(store_writer_add(w, &f), 0);
	}
	finish_checked(w, path, &r, &res);
	assert_int_equal(res.frames, 10);
	assert_int_equal(r.datasyncs, 1);
	assert_int_equal(r.dirsyncs, 1);
	store_sync_group_free(g);
	io_uring_queue_exit(&r.ring);
}

/*
 * The FINAL chunk takes no block for frames that will not come: a finished short recording
 * holds one chunk block (its FINAL chunk's, back from the write, kept as the spare), not two.
 */
static void test_writer_final_block(void **state)
{
	struct store_params p = {.alg = STORE_ALG_AES_256_GCM,
				 .key = test_key,
				 .key_id = "k",
				 .recording_id = "finalblock",
				 .codec = "PCMU"};
	struct store_check_result res;
	struct store_writer *w;
	uint8_t payload[160];
	char path[300];
	struct ring r;

	if (!ring_init(&r))
		skip();
	snprintf(path, sizeof(path), "%s/finalblock.siprec", tmpdir);
	p.path = path;
	assert_int_equal(store_writer_open(&p, &w), 0);
	store_writer_submit(w, ring_get_sqes, &r, false);
	ring_drain(&r);
	for (unsigned i = 0; i < 10; i++) {
		struct store_frame f;

		make_frame(&f, payload, i, sizeof(payload));
		assert_int_equal(store_writer_add(w, &f), 0);
	}
	assert_int_equal(store_writer_finish(w), 0);
	assert_true(store_writer_submit(w, ring_get_sqes, &r, true) > 0);
	ring_drain(&r);
	assert_int_equal(store_writer_in_flight(w), 0);
	assert_int_equal(store_writer_blocks_held(w), STORE_CHUNK_SIZE_DEFAULT);
	assert_int_equal(store_writer_close(w), 0);
	assert_int_equal(store_file_check(path, &lookup, &res), 0);
	assert_true(res.complete);
	assert_int_equal(res.frames, 10);
	io_uring_queue_exit(&r.ring);
}

static bool is_datasync(const struct io_uring_sqe *q)
{
	return q->opcode == IORING_OP_FSYNC && (q->fsync_flags & IORING_FSYNC_DATASYNC);
}

static bool is_zero_stretch(const struct io_uring_sqe *q)
{
	return q->opcode == IORING_OP_WRITE && q->len > STORE_HEADER_SIZE;
}

/*
 * Submits what was handed out and dispatches one CQE at a time until nothing is outstanding,
 * counting the requests match() picks while they are in flight: returns the most in flight at
 * once, and their number in *ret_total.
 */
static unsigned ring_dispatch_counting(struct ring *r, bool (*match)(const struct io_uring_sqe *),
				       unsigned *ret_total)
{
	void *picked[64];
	unsigned n = 0, out = 0, most = 0;

	for (;;) {
		struct io_uring_cqe *cqe;
		struct loop_op *op;
		int res;

		for (unsigned i = 0; i < r->nhanded; i++)
			if (match(r->handed[i])) {
				assert_true(n < ARRAY_SIZE(picked));
				picked[n++] = (void *)(uintptr_t)r->handed[i]->user_data;
				out++;
			}
		most = MAX(most, out);
		r->outstanding += handed_cqes(r);
		ring_check_handed(r);
		assert_true(io_uring_submit(&r->ring) >= 0);
		if (!r->outstanding)
			break;
		assert_int_equal(io_uring_wait_cqe(&r->ring, &cqe), 0);
		op = io_uring_cqe_get_data(cqe);
		res = cqe->res;
		io_uring_cqe_seen(&r->ring, cqe);
		r->outstanding--;
		/* (a completed op's memory may serve a later op: each is matched once) */
		for (unsigned i = 0; i < n; i++)
			if (picked[i] == op) {
				picked[i] = NULL;
				out--;
				break;
			}
		op->fn(op, res, 0);
	}
	*ret_total = n;
	return most;
}

/*
 * A group keeps at most max_syncs of its members' own fdatasyncs in flight (the rest would wait
 * in io-wq's list, walked by every cancellation): five FINAL chunks with room for two, the
 * others wait (counted in flight, not closable) and go as slots free up, in order.
 */
static void test_writer_group_slots(void **state)
{
	enum { N = 5, MAX = 2 };
	struct store_writer *w[N];
	struct store_sync_group *g;
	unsigned nsyncs, most;
	uint8_t payload[160];
	char path[N][300];
	struct ring r;

	if (!ring_init(&r))
		skip();
	assert_int_equal(store_sync_group_new(&g), 0);
	store_sync_group_set_max_syncs(g, MAX);
	store_sync_group_set_journaled(g, 0); /* FINAL chunks syncing themselves */
	for (int k = 0; k < N; k++) {
		struct store_params p = {.alg = STORE_ALG_AES_256_GCM,
					 .key = test_key,
					 .key_id = "k",
					 .recording_id = "slots",
					 .codec = "PCMU",
					 .group = g};
		struct store_frame f;

		snprintf(path[k], sizeof(path[k]), "%s/slots%d.siprec", tmpdir, k);
		p.path = path[k];
		assert_int_equal(store_writer_open(&p, &w[k]), 0);
		if (!store_writer_direct(w[k]))
			skip();
		assert_true(store_writer_submit(w[k], ring_get_sqes, &r, false) > 0);
		ring_drain(&r);
		make_frame(&f, payload, 0, sizeof(payload));
		assert_int_equal(store_writer_add(w[k], &f), 0);
		assert_int_equal(store_writer_finish(w[k]), 0);
	}
	for (int k = 0; k < N; k++) {
		int n = store_writer_submit(w[k], ring_get_sqes, &r, true);

		if (k < MAX)
			assert_true(n > 0);
		else {
			/* waits for a slot: nothing prepared, one request in flight */
			assert_int_equal(n, 0);
			assert_int_equal(store_writer_in_flight(w[k]), 1);
			assert_false(store_writer_closable(w[k], 0));
		}
	}
	most = ring_dispatch_counting(&r, is_datasync, &nsyncs);
	assert_int_equal(most, MAX);
	assert_int_equal(nsyncs, N);
	for (int k = 0; k < N; k++) {
		struct store_check_result res;

		assert_true(store_writer_durable_final(w[k]));
		assert_int_equal(store_writer_close(w[k]), 0);
		assert_int_equal(store_file_check(path[k], &lookup, &res), 0);
		assert_true(res.complete);
	}
	store_sync_group_free(g);
	io_uring_queue_exit(&r.ring);
}

/*
 * The zeros a new file's first chain writes ahead (an appending write, which io-wq runs) take
 * a slot too, though that chain carries no fdatasync, of a pool four times max_syncs: with one
 * sync slot, seven new files' first chains put at most four stretches of zeros in flight; the
 * others wait (counted in flight, not closable) and go as the stretches complete.
 */
static void test_writer_group_slots_ahead(void **state)
{
	enum { N = 7, MAX = 1, AHEAD = 4 * MAX };
	struct store_writer *w[N];
	struct store_sync_group *g;
	unsigned nzeros, most;
	char path[N][300];
	struct ring r;

	if (!ring_init(&r))
		skip();
	assert_int_equal(store_sync_group_new(&g), 0);
	store_sync_group_set_max_syncs(g, MAX);
	for (int k = 0; k < N; k++) {
		struct store_params p = {.alg = STORE_ALG_AES_256_GCM,
					 .key = test_key,
					 .key_id = "k",
					 .recording_id = "ahead",
					 .codec = "PCMU",
					 .group = g};
		int n;

		snprintf(path[k], sizeof(path[k]), "%s/ahead%d.siprec", tmpdir, k);
		p.path = path[k];
		assert_int_equal(store_writer_open(&p, &w[k]), 0);
		if (!store_writer_direct(w[k]))
			skip();
		n = store_writer_submit(w[k], ring_get_sqes, &r, false);
		if (k < AHEAD)
			assert_true(n > 0);
		else {
			assert_int_equal(n, 0);
			assert_int_equal(store_writer_in_flight(w[k]), 1);
			assert_false(store_writer_closable(w[k], 0));
		}
	}
	/* the stretches of zeros: the writes past the header's block */
	most = ring_dispatch_counting(&r, is_zero_stretch, &nzeros);
	assert_int_equal(most, AHEAD);
	assert_int_equal(nzeros, N);
	for (int k = 0; k < N; k++) {
		struct store_check_result res;

		assert_int_equal(store_writer_in_flight(w[k]), 0);
		finish_checked(w[k], path[k], &r, &res);
	}
	store_sync_group_free(g);
	io_uring_queue_exit(&r.ring);
}

/*
 * Dispatches every CQE but that of the first fdatasync handed out while *held is NULL (its CQE is
 * reaped, and kept for the caller to dispatch), until nothing else is outstanding.
 */
static void ring_drain_holding(struct ring *r, void **held)
{
	for (;;) {
		struct io_uring_cqe *cqe;
		struct loop_op *op;
		int res;

		for (unsigned i = 0; i < r->nhanded; i++) {
			struct io_uring_sqe *q = r->handed[i];

			if (!*held && q->opcode == IORING_OP_FSYNC &&
			    (q->fsync_flags & IORING_FSYNC_DATASYNC))
				*held = (void *)(uintptr_t)q->user_data;
		}
		r->outstanding += handed_cqes(r);
		ring_check_handed(r);
		assert_true(io_uring_submit(&r->ring) >= 0);
		if (!r->outstanding)
			break;
		assert_int_equal(io_uring_wait_cqe(&r->ring, &cqe), 0);
		op = io_uring_cqe_get_data(cqe);
		res = cqe->res;
		io_uring_cqe_seen(&r->ring, cqe);
		r->outstanding--;
		if ((void *)op == *held) {
			assert_int_equal(res, 0);
			continue;
		}
		op->fn(op, res, 0);
	}
}

/*
 * FINAL syncs shared (on a journaled filesystem: assumed here, the tests' directory may have no
 * journal): a FINAL chunk's chain carries no fdatasync; once written, one fdatasync stands for
 * every member cut before it was prepared (first syncs and directory entries included: no
 * directory fsync). A member cut while that sync is in flight is not durable at its CQE: it
 * waits (in flight, not closable) for the next one.
 */
/* writes TEXT into the file PATH (made with its directories under tmpdir's fake /proc) */
static void put_file(const char *path, const char *text)
{
	char cmd[PATH_MAX + 32];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
	assert_int_equal(system(cmd), 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* FINAL syncs shared by one fdatasync on an ext4 with a journal and without fast commits, after a
 * directory's fsync with them (or not known), not at all without a journal: fc_info read from a
 * /proc tree of the test's own (the journal's entry in fs/jbd2, the counts in fs/ext4) */
static void test_final_sync_detect(void **state)
{
	static const char fc_zero[] = "fc stats:\n0 commits\n0 ineligible\n0 numblks\n"
				      "0us avg_commit_time\nIneligible reasons:\n"
				      "\"Extended attributes changed\":\t0\n";
	char proc[300], path[PATH_MAX], link[64], target[256], *name;
	struct statfs sf;
	struct stat st;
	ssize_t n;
	int dfd;

	(void)state;
	assert_int_equal(store_fc_info_used(fc_zero), 0);
	assert_int_equal(store_fc_info_used("fc stats:\n3 commits\n0 ineligible\n7 numblks\n"), 1);
	assert_int_equal(store_fc_info_used("fc stats:\n0 commits\n2 ineligible\n0 numblks\n"), 1);
	assert_int_equal(store_fc_info_used("fc stats:\n0 commits\n0 numblks\n"), -1);
	assert_int_equal(store_fc_info_used("0 transactions (0 requested)\n"), -1);
	assert_int_equal(store_fc_info_used(""), -1);

	dfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	assert_int_equal(fstatfs(dfd, &sf), 0);
	assert_int_equal(fstat(dfd, &st), 0);
	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(st.st_dev), minor(st.st_dev));
	n = readlink(link, target, sizeof(target) - 1);
	if (sf.f_type != EXT4_SUPER_MAGIC || n <= 0) {
		close(dfd);
		skip();
	}
	target[n] = '\0';
	name = strrchr(target, '/');
	name = name ? name + 1 : target;
	snprintf(proc, sizeof(proc), "%s/proc", tmpdir);
	/* no journal listed */
	snprintf(path, sizeof(path), "%s/fs/ext4/%s/fc_info", proc, name);
	put_file(path, fc_zero);
	snprintf(path, sizeof(path), "%s/fs/jbd2/%sp1-8/info", proc, name);
	put_file(path, "");
	assert_int_equal(store_final_sync(dfd, proc), STORE_FINAL_OWN);
	/* a journal, no fast commit counted (the probe changes nothing in a fake fc_info) */
	snprintf(path, sizeof(path), "%s/fs/jbd2/%s-8/info", proc, name);
	put_file(path, "");
	assert_int_equal(store_final_sync(dfd, proc), STORE_FINAL_SHARED);
	/* fast commits counted, or fallen back to full commits */
	snprintf(path, sizeof(path), "%s/fs/ext4/%s/fc_info", proc, name);
	put_file(path, "fc stats:\n12 commits\n0 ineligible\n12 numblks\n");
	assert_int_equal(store_final_sync(dfd, proc), STORE_FINAL_COMMIT);
	put_file(path, "fc stats:\n0 commits\n1 ineligible\n0 numblks\n");
	assert_int_equal(store_final_sync(dfd, proc), STORE_FINAL_COMMIT);
	/* not known is taken as fast_commit */
	put_file(path, "something else\n");
	assert_int_equal(store_final_sync(dfd, proc), STORE_FINAL_COMMIT);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(store_final_sync(dfd, proc), STORE_FINAL_COMMIT);
	close(dfd);
}

/* journaled: 1 (STORE_FINAL_SHARED) or 2 (STORE_FINAL_COMMIT: each shared fdatasync linked
 * after a directory's fsync) */
static void final_shared(int journaled)
{
	struct store_writer *w[2];
	struct store_sync_group *g;
	uint8_t payload[160];
	char path[2][300];
	void *held = NULL;
	struct ring r;

	if (!ring_init(&r))
		skip();
	assert_int_equal(store_sync_group_new(&g), 0);
	store_sync_group_set_journaled(g, journaled);
	for (int k = 0; k < 2; k++) {
		struct store_params p = {.alg = STORE_ALG_AES_256_GCM,
					 .key = test_key,
					 .key_id = "k",
					 .recording_id = "fin",
					 .codec = "PCMU",
					 .chunk_size = STORE_BLOCK,
					 .group = g};

		snprintf(path[k], sizeof(path[k]), "%s/finshared%d-%d.siprec", tmpdir, journaled,
			 k);
		p.path = path[k];
		assert_int_equal(store_writer_open(&p, &w[k]), 0);
		if (!store_writer_direct(w[k]))
			skip();
		assert_true(store_writer_submit(w[k], ring_get_sqes, &r, false) > 0);
		ring_drain(&r);
		for (unsigned i = 0; i < 10; i++) {
			struct store_frame f;

			make_frame(&f, payload, i, sizeof(payload));
			assert_int_equal(store_writer_add(w[k], &f), 0);
		}
		assert_int_equal(store_writer_finish(w[k]), 0);
	}
	/* A's FINAL chain: its write alone; written, the shared sync is prepared and held */
	assert_int_equal(store_writer_submit(w[0], ring_get_sqes, &r, true), 1);
	assert_false(handed_has_fsync(&r));
	ring_drain_holding(&r, &held);
	assert_non_null(held);
	assert_int_equal(r.datasyncs, 1);
	assert_int_equal(r.dirsyncs, journaled == 2 ? 1 : 0);
	assert_int_equal(store_writer_in_flight(w[0]), 1);
	assert_false(store_writer_closable(w[0], 0));
	assert_false(store_writer_durable_final(w[0]));
	assert_true(store_sync_group_in_flight(g));
	/* B is cut and written while it is in flight: no second sync beside it */
	assert_int_equal(store_writer_submit(w[1], ring_get_sqes, &r, true), 1);
	ring_drain_holding(&r, &held);
	assert_int_equal(r.datasyncs, 1);
	assert_int_equal(store_writer_in_flight(w[1]), 1);
	/* its CQE: A is durable, B (cut after it began) is not, and takes the next one */
	((struct loop_op *)held)->fn(held, 0, 0);
	assert_int_equal(store_sync_group_final_syncs(g), 1);
	assert_true(store_writer_durable_final(w[0]));
	assert_int_equal(store_writer_in_flight(w[0]), 0);
	assert_false(store_writer_durable_final(w[1]));
	assert_int_equal(store_writer_in_flight(w[1]), 1);
	assert_true(handed_has_fsync(&r));
	ring_drain(&r);
	assert_int_equal(store_sync_group_final_syncs(g), 2);
	assert_true(store_writer_durable_final(w[1]));
	assert_int_equal(r.datasyncs, 2);
	assert_int_equal(r.dirsyncs, journaled == 2 ? 2 : 0);
	assert_int_equal(store_sync_group_final_commits(g), journaled == 2 ? 2 : 0);
	for (int k = 0; k < 2; k++) {
		struct store_check_result res;

		assert_true(store_writer_stats(w[k])->lat_count > 0);
		assert_int_equal(store_writer_close(w[k]), 0);
		assert_int_equal(store_file_check(path[k], &lookup, &res), 0);
		assert_true(res.complete);
		assert_int_equal(res.frames, 10);
	}
	assert_false(store_sync_group_in_flight(g));
	store_sync_group_free(g);
	io_uring_queue_exit(&r.ring);
}

static void test_writer_final_shared(void **state)
{
	(void)state;
	final_shared(1);
}

static void test_writer_final_commit(void **state)
{
	(void)state;
	final_shared(2);
}

/*
 * Writers on one thread recycle their blocks (of the default chunk size: the open chunk's and the
 * sealed chunks'; of one block: the headers): two rounds of four writers open at once, their
 * frames interleaved, the second round on the first one's blocks. Each file must hold exactly its
 * own frames: a buffer handed to two writers at once, or reused while its write is in flight, mixes
 * them or fails the chunks' authentication.
 */
static void test_writer_recycle(void **state)
{
	enum { N = 4, FRAMES = 20 };
	struct ring r;

	if (!ring_init(&r))
		skip();
	for (int round = 0; round < 2; round++) {
		struct store_writer *w[N];
		char path[N][300];

		for (int k = 0; k < N; k++) {
			struct store_params p = {.alg = STORE_ALG_AES_256_GCM,
						 .key = test_key,
						 .key_id = "k",
						 .recording_id = "rc",
						 .codec = "PCMU"}; /* the default chunk size */

			snprintf(path[k], sizeof(path[k]), "%s/recycle%d-%d.siprec", tmpdir, round,
				 k);
			p.path = path[k];
			assert_int_equal(store_writer_open(&p, &w[k]), 0);
		}
		for (unsigned i = 0; i < FRAMES; i++) {
			for (int k = 0; k < N; k++) {
				uint8_t payload[160];
				struct store_frame f;

				make_frame(&f, payload, i, sizeof(payload));
				memset(payload, 0x40 + round * N + k, sizeof(payload));
				assert_int_equal(store_writer_add(w[k], &f), 0);
				/* a short chunk (one block) every 10 frames, as a flush would */
				if (i % 10 == 9) {
					assert_int_equal(store_writer_flush(w[k]), 0);
					assert_true(store_writer_submit(w[k], ring_get_sqes, &r,
									true) >= 0);
				}
			}
			ring_drain(&r);
		}
		for (int k = 0; k < N; k++) {
			struct store_check_result res;
			struct store_reader *rd;
			struct store_frame f;
			unsigned n = 0;

			finish_checked(w[k], path[k], &r, &res);
			assert_int_equal(res.frames, FRAMES);
			assert_int_equal(store_reader_open(path[k], &lookup, &rd), 0);
			while (store_reader_next_frame(rd, &f) == 1) {
				assert_int_equal(f.seq, n);
				assert_int_equal(f.len, 160);
				for (unsigned b = 0; b < f.len; b++)
					assert_int_equal(f.payload[b], 0x40 + round * N + k);
				n++;
			}
			assert_int_equal(n, FRAMES);
			store_reader_free(rd);
		}
	}
	io_uring_queue_exit(&r.ring);
}

static void test_writer_reader(void **state)
{
	static const enum store_alg algs[] = {STORE_ALG_NONE, STORE_ALG_AES_256_GCM,
					      STORE_ALG_CHACHA20_POLY1305};

	for (size_t a = 0; a < 3; a++) {
		char path[300];
		uint8_t sha[32], md[32];
		struct store_check_result res;
		struct store_reader *rd;
		struct store_frame f;
		size_t len;
		uint8_t *data;
		unsigned i = 0;

		snprintf(path, sizeof(path), "%s/w%zu.siprec", tmpdir, a);
		write_file(path, algs[a], 500, true, sha);
		data = slurp(path, &len);
		SHA256(data, len, md);
		assert_memory_equal(sha, md, 32);
		free(data);

		assert_int_equal(store_reader_open(path, &lookup, &rd), 0);
		assert_string_equal(store_reader_header(rd)->codec, "PCMU");
		while (store_reader_next_frame(rd, &f) == 1) {
			uint8_t payload[160];
			struct store_frame e;

			make_frame(&e, payload, i++, sizeof(payload));
			assert_int_equal(f.seq, e.seq);
			assert_int_equal(f.rtp_ts, e.rtp_ts);
			assert_int_equal(f.arrival_ns, e.arrival_ns);
			assert_int_equal(f.len, 160);
			assert_memory_equal(f.payload, payload, 160);
		}
		assert_int_equal(i, 500);
		store_reader_status(rd, &res);
		assert_true(res.complete);
		assert_false(res.failed);
		assert_int_equal(res.frames, 500);
		assert_true(store_reader_progress(rd) == 1.0);
		store_reader_free(rd);

		assert_int_equal(store_file_check(path, &lookup, &res), 0);
		assert_true(res.complete);
		assert_int_equal(res.last_good_index, (int64_t)res.chunks - 1);
	}
}

/*
 * Chunks are sealed in place and blocks recycled (a writer's frames go into a block that becomes
 * the chunk as written; the next frames go to the other block, and move back into the first when
 * its write completes): chunks of growing and shrinking sizes, some sealed while an earlier
 * block is still waiting for its write, frames added while a write is in flight, must all land
 * whole and in order.
 */
static void test_writer_recycled_blocks(void **state)
{
	/* frames per chunk; 0: seal twice before the ring runs (two blocks pending at once) */
	static const unsigned plan[] = {300, 2, 40, 0, 150, 1, 0, 330, 7, 7};
	struct store_params p = {
		.path = NULL,
		.alg = STORE_ALG_AES_256_GCM,
		.key = test_key,
		.key_id = "test:key",
		.key_version = 1,
		.recording_id = "rec-1",
		.session_id = "sess-1",
		.stream_label = "1",
		.codec = "PCMU",
		.clock_rate = 8000,
	};
	char path[300];
	struct store_check_result res;
	struct store_reader *rd;
	struct store_writer *w;
	struct store_frame f;
	struct ring r;
	uint8_t payload[160], sha[32], md[32], *data;
	unsigned n = 0, i = 0;
	size_t len;

	if (!ring_init(&r))
		skip();
	snprintf(path, sizeof(path), "%s/recycled.siprec", tmpdir);
	p.path = path;
	assert_int_equal(store_writer_open(&p, &w), 0);
	for (size_t k = 0; k < ARRAY_SIZE(plan); k++) {
		unsigned frames = plan[k] ? plan[k] : 3;

		for (unsigned j = 0; j < frames; j++, n++) {
			make_frame(&f, payload, n, sizeof(payload));
			assert_int_equal(store_writer_add(w, &f), 0);
		}
		assert_int_equal(store_writer_flush(w), 0);
		if (!plan[k]) {
			for (unsigned j = 0; j < 5; j++, n++) {
				make_frame(&f, payload, n, sizeof(payload));
				assert_int_equal(store_writer_add(w, &f), 0);
			}
			assert_int_equal(store_writer_flush(w), 0);
			assert_int_equal(store_writer_pending(w), 2);
		}
		assert_true(store_writer_submit(w, ring_get_sqes, &r, k % 3 == 0) >= 0);
		/* frames that come while the write is in flight (moved when it completes) */
		for (unsigned j = 0; j < k % 3; j++, n++) {
			make_frame(&f, payload, n, sizeof(payload));
			assert_int_equal(store_writer_add(w, &f), 0);
		}
		ring_run(&r, w);
	}
	assert_int_equal(store_writer_finish(w), 0);
	assert_true(store_writer_submit(w, ring_get_sqes, &r, true) >= 0);
	ring_run(&r, w);
	assert_int_equal(store_writer_sha256(w, sha), 0);
	assert_int_equal(store_writer_close(w), 0);
	io_uring_queue_exit(&r.ring);

	data = slurp(path, &len);
	SHA256(data, len, md);
	assert_memory_equal(sha, md, 32);
	free(data);
	assert_int_equal(store_reader_open(path, &lookup, &rd), 0);
	while (store_reader_next_frame(rd, &f) == 1) {
		struct store_frame e;

		make_frame(&e, payload, i++, sizeof(payload));
		assert_int_equal(f.seq, e.seq);
		assert_int_equal(f.len, 160);
		assert_memory_equal(f.payload, payload, 160);
	}
	assert_int_equal(i, n);
	store_reader_status(rd, &res);
	assert_true(res.complete);
	assert_false(res.failed);
	assert_int_equal(res.chunks, ARRAY_SIZE(plan) + 2 + 1);
	store_reader_free(rd);
}

static void test_writer_unfinished(void **state)
{
	char path[300];
	uint8_t sha[32];
	struct store_check_result res;

	snprintf(path, sizeof(path), "%s/unfinished.siprec", tmpdir);
	write_file(path, STORE_ALG_AES_256_GCM, 120, false, sha);
	assert_int_equal(store_file_check(path, &lookup, &res), 0);
	assert_false(res.complete);
	assert_false(res.failed);
	assert_int_equal(res.frames, 120);
	assert_int_equal(res.first_bad_index, -1);
	/* the data ends before the zeros written ahead of it */
	assert_true(res.data_end < res.file_size);
	assert_int_equal(res.data_end, STORE_BLOCK * (1 + res.chunks));

	/* A byte that is not zero after the data is not written-ahead space: bad-header. */
	{
		int fd = open(path, O_WRONLY);
		uint8_t one = 1;

		assert_true(fd >= 0);
		assert_int_equal(pwrite(fd, &one, 1, (off_t)res.file_size - 1), 1);
		close(fd);
		assert_int_equal(store_file_check(path, &lookup, &res), 0);
		assert_true(res.failed);
		assert_int_equal(res.reason, STORE_CHUNK_BAD_HEADER);
		assert_int_equal(res.frames, 120);
	}
}

/* Writes len bytes of buf at off into path (created if need be), or cuts it to off when buf is
 * NULL. */
static void file_put(const char *path, const void *buf, size_t len, off_t off)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0600);

	assert_true(fd >= 0);
	if (buf)
		assert_int_equal(pwrite(fd, buf, len, off), (ssize_t)len);
	else
		assert_int_equal(ftruncate(fd, off), 0);
	close(fd);
}

/* A file created and left empty or all zeros by a crash before its header's write reached the
 * disk holds nothing (-ENODATA); a header with any byte that is not zero and does not decode is
 * damaged (-EBADMSG), even when the rest of the file is zeros. */
static void test_reader_empty(void **state)
{
	static const uint8_t zeros[3 * STORE_BLOCK];
	char path[300];
	uint8_t sha[32], one = 1, *buf;
	struct store_check_result res;
	struct store_reader *rd = NULL;

	snprintf(path, sizeof(path), "%s/empty.siprec", tmpdir);
	unlink(path);
	file_put(path, NULL, 0, 0);
	assert_int_equal(store_file_check(path, &lookup, &res), -ENODATA);
	assert_int_equal(store_reader_open(path, &lookup, &rd), -ENODATA);
	assert_null(rd);
	/* the size reached the disk, the data did not: zeros */
	file_put(path, zeros, sizeof(zeros), 0);
	assert_int_equal(store_file_check(path, &lookup, &res), -ENODATA);
	file_put(path, NULL, 0, 100); /* shorter than a header */
	assert_int_equal(store_file_check(path, &lookup, &res), -ENODATA);
	assert_int_equal(store_reader_open_mem(zeros, sizeof(zeros), &lookup, &rd), -ENODATA);
	assert_int_equal(store_reader_open_mem(zeros, 0, &lookup, &rd), -ENODATA);

	/* a short file with a byte that is not zero: damaged */
	file_put(path, &one, 1, 50);
	assert_int_equal(store_file_check(path, &lookup, &res), -EBADMSG);
	/* a zero header before data: damaged (the writer's header goes first) */
	unlink(path);
	file_put(path, zeros, sizeof(zeros), 0);
	file_put(path, &one, 1, STORE_BLOCK + 7);
	assert_int_equal(store_file_check(path, &lookup, &res), -EBADMSG);
	buf = calloc(1, sizeof(zeros));
	assert_non_null(buf);
	buf[STORE_BLOCK + 7] = 1;
	assert_int_equal(store_reader_open_mem(buf, sizeof(zeros), &lookup, &rd), -EBADMSG);
	free(buf);

	/* a real header with one bad byte, the rest of the file zeros: damaged */
	unlink(path);
	write_file(path, STORE_ALG_AES_256_GCM, 10, false, sha);
	file_put(path, NULL, 0, STORE_BLOCK);
	assert_int_equal(store_file_check(path, &lookup, &res), 0);
	assert_int_equal(res.chunks, 0);
	file_put(path, zeros, 2 * STORE_BLOCK, STORE_BLOCK);
	file_put(path, &one, 1, 9); /* the version's high byte */
	assert_int_equal(store_file_check(path, &lookup, &res), -EPROTONOSUPPORT);
	file_put(path, zeros, 1, 9);
	file_put(path, &one, 1, 0); /* the magic */
	assert_int_equal(store_file_check(path, &lookup, &res), -EBADMSG);
	unlink(path);
}

static void test_writer_io_error(void **state)
{
	struct store_params p = {.alg = STORE_ALG_AES_256_GCM,
				 .key = test_key,
				 .key_id = "k",
				 .recording_id = "r",
				 .codec = "PCMU",
				 .chunk_size = STORE_BLOCK};
	char path[300];
	struct store_writer *w;
	struct ring r;
	uint8_t payload[160];
	struct store_frame f;

	if (!ring_init(&r))
		skip();
	snprintf(path, sizeof(path), "%s/ioerr.siprec", tmpdir);
	p.path = path;
	assert_int_equal(store_writer_open(&p, &w), 0);
	make_frame(&f, payload, 0, sizeof(payload));
	assert_int_equal(store_writer_add(w, &f), 0);
	assert_int_equal(store_writer_flush(w), 0);
	r.fail_next_write = true;
	/* zeros written ahead, two writes, the fdatasync and the first fsync of the directory */
	assert_int_equal(store_writer_submit(w, ring_get_sqes, &r, true), 5);
	ring_run(&r, w);
	assert_int_equal(store_writer_error(w), -EBADF);
	assert_int_equal(store_writer_add(w, &f), -EBADF);
	assert_int_equal(store_writer_submit(w, ring_get_sqes, &r, true), -EBADF);
	assert_false(store_writer_durable_final(w));
	/* Frames that can never fit a chunk are refused without failing the writer. */
	assert_int_equal(store_writer_close(w), 0);
	io_uring_queue_exit(&r.ring);
}

/*
 * A stream is closed only once no request of its writer is in flight (issue 11 item 7): the
 * completions are faked here, delivered one at a time, so the check sees the window the kernel
 * leaves between a failed write's CQE and its cancelled successors' (or a stalled disk's).
 */
static void test_writer_close_in_flight(void **state)
{
	struct store_params p = {.alg = STORE_ALG_AES_256_GCM,
				 .key = test_key,
				 .key_id = "k",
				 .recording_id = "r",
				 .codec = "PCMU",
				 .chunk_size = STORE_BLOCK};
	struct loop_op *ops[16];
	char path[300];
	struct store_writer *w;
	struct ring r;
	uint8_t payload[160];
	struct store_frame f;
	unsigned n, idle = 0;

	if (!ring_init(&r))
		skip();
	snprintf(path, sizeof(path), "%s/inflight.siprec", tmpdir);
	p.path = path;
	assert_int_equal(store_writer_open(&p, &w), 0);
	store_writer_set_idle_fn(w, count_idle, &idle);
	make_frame(&f, payload, 0, sizeof(payload));
	assert_int_equal(store_writer_add(w, &f), 0);
	assert_int_equal(store_writer_finish(w), 0);
	assert_true(store_writer_closable(w, 0) == false); /* the FINAL chunk waits */
	n = (unsigned)store_writer_submit(w, ring_get_sqes, &r, true);
	assert_true(n >= 3 && n <= 16);
	assert_int_equal(r.nhanded, n);
	/* never submitted to the kernel: these SQEs only carry the writer's loop_ops */
	for (unsigned i = 0; i < n; i++)
		ops[i] = (struct loop_op *)(uintptr_t)r.handed[i]->user_data;
	r.nhanded = 0;
	assert_int_equal(store_writer_in_flight(w), n);
	assert_false(store_writer_closable(w, 0));
	assert_false(store_writer_closable(w, -EIO)); /* the stream's own error changes nothing */
	/* The first write fails (ENOSPC): the writer has failed, its successors are still out. */
	ops[0]->fn(ops[0], -ENOSPC, 0);
	assert_int_equal(store_writer_error(w), -ENOSPC);
	assert_int_equal(store_writer_in_flight(w), n - 1);
	assert_false(store_writer_closable(w, -ENOSPC));
	assert_int_equal(store_writer_close(w), -EBUSY);
	for (unsigned i = 1; i + 1 < n; i++) {
		ops[i]->fn(ops[i], -ECANCELED, 0);
		assert_false(store_writer_closable(w, -ENOSPC));
	}
	/* the media worker finalizes a closing stream when told its writer is idle: not before
	 * the last CQE, and then once */
	assert_int_equal(idle, 0);
	ops[n - 1]->fn(ops[n - 1], -ECANCELED, 0);
	assert_int_equal(idle, 1);
	assert_int_equal(store_writer_in_flight(w), 0);
	assert_true(store_writer_closable(w, -ENOSPC));
	assert_false(store_writer_durable_final(w));
	assert_int_equal(store_writer_close(w), 0);
	io_uring_queue_exit(&r.ring);
}

/* ---- tampering: each kind reported with its index ---- */

static void check_mem(const uint8_t *buf, size_t len, bool complete, bool failed, int64_t bad,
		      enum store_chunk_status reason, int64_t last_good)
{
	struct store_reader *rd;
	struct store_check_result res;
	struct store_frame f;

	assert_int_equal(store_reader_open_mem(buf, len, &lookup, &rd), 0);
	while (store_reader_next_frame(rd, &f) == 1)
		;
	store_reader_status(rd, &res);
	assert_int_equal(res.complete, complete);
	assert_int_equal(res.failed, failed);
	assert_int_equal(res.first_bad_index, bad);
	if (failed)
		assert_int_equal(res.reason, reason);
	assert_int_equal(res.last_good_index, last_good);
	store_reader_free(rd);
}

static void test_tamper(void **state)
{
	char p1[300], p2[300];
	uint8_t sha[32], *a, *b, *t;
	size_t alen, blen;
	const size_t B = STORE_BLOCK;
	int64_t last;

	snprintf(p1, sizeof(p1), "%s/t1.siprec", tmpdir);
	snprintf(p2, sizeof(p2), "%s/t2.siprec", tmpdir);
	/* 22 frames of 184 bytes fill a 4 KiB chunk: 100 frames = 4 full chunks and a FINAL one
	 * with 12 frames. */
	write_file(p1, STORE_ALG_AES_256_GCM, 100, true, sha);
	write_file(p2, STORE_ALG_AES_256_GCM, 100, true, sha);
	a = slurp(p1, &alen);
	b = slurp(p2, &blen);
	assert_int_equal(alen, 6 * B);
	last = (int64_t)(alen / B) - 2;
	t = malloc(alen);

	check_mem(a, alen, true, false, -1, 0, last);

	memcpy(t, a, alen); /* a bit flipped in chunk 2's ciphertext */
	t[B + 2 * B + STORE_CHUNK_HDR_SIZE + 10] ^= 0x04;
	check_mem(t, alen, false, true, 2, STORE_CHUNK_AUTH_FAILED, 1);

	memcpy(t, a, alen); /* chunks 1 and 2 swapped */
	memcpy(t + 2 * B, a + 3 * B, B);
	memcpy(t + 3 * B, a + 2 * B, B);
	check_mem(t, alen, false, true, 1, STORE_CHUNK_OUT_OF_ORDER, 0);

	memcpy(t, a, alen); /* swapped, and the clear indexes rewritten to match */
	memcpy(t + 2 * B, a + 3 * B, B);
	memcpy(t + 3 * B, a + 2 * B, B);
	t[2 * B + 8] = 1;
	t[3 * B + 8] = 2;
	check_mem(t, alen, false, true, 1, STORE_CHUNK_AUTH_FAILED, 0);

	memcpy(t, a, 3 * B); /* chunk 2 dropped */
	memcpy(t + 3 * B, a + 4 * B, alen - 4 * B);
	check_mem(t, alen - B, false, true, 2, STORE_CHUNK_OUT_OF_ORDER, 1);

	memcpy(t, a, alen); /* chunk 3 copied from another file */
	memcpy(t + 4 * B, b + 4 * B, B);
	check_mem(t, alen, false, true, 3, STORE_CHUNK_AUTH_FAILED, 2);

	memcpy(t, a, alen); /* the same, with the other file's nonce prefix patched in */
	memcpy(t + 4 * B, b + 4 * B, B);
	memcpy(t + 4 * B + 20, a + 4 * B + 20, 4);
	check_mem(t, alen, false, true, 3, STORE_CHUNK_AUTH_FAILED, 2);

	check_mem(a, 4 * B + 100, false, true, 3, STORE_CHUNK_TRUNCATED, 2); /* cut inside 3 */
	check_mem(a, 4 * B + 10, false, true, 3, STORE_CHUNK_TRUNCATED, 2);  /* inside its header */
	check_mem(a, alen - B, false, false, -1, 0, last - 1);		     /* FINAL removed */
	check_mem(a, B, false, false, -1, 0, -1);			     /* header only */

	t = realloc(t, alen + B); /* zeros after FINAL: its cut did not reach the disk; complete */
	memcpy(t, a, alen);
	memset(t + alen, 0, B);
	check_mem(t, alen + B, true, false, -1, 0, last);
	t[alen + B - 1] = 1; /* a byte of data after FINAL */
	check_mem(t, alen + B, false, true, last + 1, STORE_CHUNK_TRAILING_DATA, last);
	memset(t + alen, 0, B); /* a block of data after FINAL */
	memcpy(t + alen, a + B, B);
	check_mem(t, alen + B, false, true, last + 1, STORE_CHUNK_TRAILING_DATA, last);

	memcpy(t, a, alen); /* non-zero padding after the FINAL chunk's tag */
	t[alen - 1] ^= 1;
	check_mem(t, alen, false, true, last, STORE_CHUNK_BAD_HEADER, last - 1);

	free(t);
	free(a);
	free(b);
}

/* ---- test vectors: generated here, checked in under tests/data/vectors ---- */

static const char *const vector_names[] = {"v1-none.siprec", "v1-aes-256-gcm.siprec",
					   "v1-chacha20-poly1305.siprec"};

/* The documented plaintext (docs/FORMAT.md "Test vectors"): chunk 0 holds three RTP frames,
 * chunk 1 (FINAL) one EVENT frame (a gap marker). */
static void vector_frame(unsigned i, struct store_frame *f)
{
	static const uint8_t pay[3][4] = {
		{0xff, 0xfe, 0x7f, 0x00}, {0x01, 0x02, 0x03, 0x04}, {0xaa, 0xbb, 0xcc, 0xdd}};
	static const uint8_t gap[1] = {STORE_EVENT_GAP};

	if (i < 3)
		*f = (struct store_frame){STORE_FRAME_RTP,
					  4,
					  1700000000000000000ull + i * 20000000ull,
					  0x01020304,
					  (uint16_t)(1000 + i),
					  160000u + i * 160,
					  0,
					  i == 0 ? STORE_FRAME_MARKER : 0,
					  pay[i]};
	else
		*f = (struct store_frame){
			STORE_FRAME_EVENT, 1, 1700000000100000000ull, 0x01020304, 0, 0, 0, 0, gap};
}

static size_t build_vector(enum store_alg alg, uint8_t *out)
{
	struct store_header h;
	struct store_cipher *c;
	uint8_t plain[256];
	size_t off = 0, n = STORE_HEADER_SIZE;
	struct store_frame f;

	fill_header(&h, alg);
	if (alg == STORE_ALG_NONE)
		h.key_id[0] = 0;
	assert_int_equal(store_header_encode(&h, out), 0);
	assert_int_equal(store_cipher_new(alg, test_key, out, &c), 0);
	for (unsigned i = 0; i < 3; i++) {
		vector_frame(i, &f);
		assert_int_equal(store_frame_encode(&f, plain, sizeof(plain), &off), 0);
	}
	n += (size_t)store_chunk_seal(c, h.nonce_prefix, 0, 0, plain, off, out + n);
	off = 0;
	vector_frame(3, &f);
	assert_int_equal(store_frame_encode(&f, plain, sizeof(plain), &off), 0);
	n += (size_t)store_chunk_seal(c, h.nonce_prefix, 1, STORE_CHUNK_FINAL, plain, off, out + n);
	store_cipher_free(c);
	return n;
}

static void test_vectors(void **state)
{
	static const enum store_alg algs[] = {STORE_ALG_NONE, STORE_ALG_AES_256_GCM,
					      STORE_ALG_CHACHA20_POLY1305};
	const char *src = getenv("SIPRECD_SRCDIR") ? getenv("SIPRECD_SRCDIR") : ".";
	bool regen = getenv("SIPRECD_WRITE_VECTORS") != NULL;

	for (size_t a = 0; a < 3; a++) {
		uint8_t gen[3 * STORE_BLOCK];
		size_t n = build_vector(algs[a], gen), len;
		char path[512];
		uint8_t *disk;
		struct store_reader *rd;
		struct store_frame f, e;
		unsigned i = 0;

		assert_int_equal(n, 3 * STORE_BLOCK);
		snprintf(path, sizeof(path), "%s/tests/data/vectors/%s", src, vector_names[a]);
		if (regen) {
			FILE *fp = fopen(path, "wb");

			assert_non_null(fp);
			assert_int_equal(fwrite(gen, 1, n, fp), n);
			fclose(fp);
		}
		disk = slurp(path, &len);
		assert_int_equal(len, n);
		assert_memory_equal(disk, gen, n);
		assert_int_equal(store_reader_open_mem(disk, len, &lookup, &rd), 0);
		while (store_reader_next_frame(rd, &f) == 1) {
			vector_frame(i++, &e);
			assert_int_equal(f.type, e.type);
			assert_int_equal(f.len, e.len);
			assert_int_equal(f.arrival_ns, e.arrival_ns);
			assert_int_equal(f.ssrc, e.ssrc);
			assert_int_equal(f.seq, e.seq);
			assert_int_equal(f.rtp_ts, e.rtp_ts);
			assert_int_equal(f.flags, e.flags);
			assert_memory_equal(f.payload, e.payload, e.len);
		}
		assert_int_equal(i, 4);
		{
			struct store_check_result res;

			store_reader_status(rd, &res);
			assert_true(res.complete);
		}
		store_reader_free(rd);
		free(disk);
	}
}

static void test_metadata(void **state)
{
	char path[300], *plain = NULL;
	const char *json = "{\"participants\":[{\"aor\":\"sip:alice@example.com\"}]}";

	snprintf(path, sizeof(path), "%s/rec-1.metadata", tmpdir);
	assert_int_equal(store_metadata_write(path, STORE_ALG_AES_256_GCM, test_key, "test:key", 1,
					      "rec-1", json, 1700000000000000000ull),
			 0);
	assert_int_equal(store_metadata_write(path, STORE_ALG_AES_256_GCM, test_key, "test:key", 1,
					      "rec-1", json, 0),
			 -EEXIST);
	assert_int_equal(store_metadata_read(path, &lookup, "rec-1", &plain), 0);
	assert_string_equal(plain, json);
	free(plain);
	/* Another recording's id as associated data: refused. */
	assert_int_equal(store_metadata_read(path, &lookup, "rec-2", &plain), -EBADMSG);
	assert_int_equal(store_metadata_write(path, STORE_ALG_NONE, test_key, "k", 1, "r", json, 0),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_roundtrip),
		cmocka_unit_test(test_header_formats),
		cmocka_unit_test(test_frames),
		cmocka_unit_test(test_chunk_roundtrip),
		cmocka_unit_test(test_chunk_keyed_once),
		cmocka_unit_test(test_writer_reader),
		cmocka_unit_test(test_writer_recycled_blocks),
		cmocka_unit_test(test_writer_unfinished),
		cmocka_unit_test(test_reader_empty),
		cmocka_unit_test(test_writer_io_error),
		cmocka_unit_test(test_writer_close_in_flight),
		cmocka_unit_test(test_writer_group),
		cmocka_unit_test(test_writer_group_dir),
		cmocka_unit_test(test_writer_recycle),
		cmocka_unit_test(test_writer_short),
		cmocka_unit_test(test_writer_final_block),
		cmocka_unit_test(test_writer_group_slots),
		cmocka_unit_test(test_writer_group_slots_ahead),
		cmocka_unit_test(test_writer_final_shared),
		cmocka_unit_test(test_writer_final_commit),
		cmocka_unit_test(test_final_sync_detect),
		cmocka_unit_test(test_tamper),
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_metadata),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
