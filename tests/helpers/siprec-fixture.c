// SPDX-License-Identifier: MIT
/*
 * Writes an unencrypted .siprec recording of synthetic RTP for the export tests: G.711 tones
 * (each frame with its own payload type), RFC 4733 DTMF events as an SRC sends them, and
 * frames of a codec nobody decodes. Written through the real writer (io_uring), read back by
 * siprec-export like any recording.
 *   siprec-fixture OUT CODEC PT LABEL SESSION RECORDING T0_MS ITEM...
 *   ITEM: pcmu:HZ:MS | pcma:HZ:MS | alawdyn:HZ:MS (A-law on dynamic PT 97) | dtmf:DIGIT:MS |
 *         opaque:PT:MS | gap:MS
 */
#include <errno.h>
#include <liburing.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spandsp/telephony.h>
#include <spandsp/bit_operations.h>
#include <spandsp/g711.h>

#include "siprecd/loop.h"
#include "siprecd/storage.h"

static struct io_uring ring;

static int get_sqes(void *ud, unsigned n, struct io_uring_sqe **ret)
{
	if (io_uring_sq_space_left(&ring) < n)
		return -EBUSY;
	for (unsigned i = 0; i < n; i++)
		ret[i] = io_uring_get_sqe(&ring);
	return 0;
}

static int drain(struct store_writer *w, bool sync)
{
	int r = store_writer_submit(w, get_sqes, NULL, sync);

	if (r < 0)
		return r;
	io_uring_submit(&ring);
	while (store_writer_in_flight(w)) {
		struct io_uring_cqe *cqe;
		struct loop_op *op;
		int res;
		uint32_t flags;

		if (io_uring_wait_cqe(&ring, &cqe) < 0)
			return -EIO;
		op = io_uring_cqe_get_data(cqe);
		res = cqe->res;
		flags = cqe->flags;
		io_uring_cqe_seen(&ring, cqe);
		op->fn(op, res, flags);
		io_uring_submit(&ring);
	}
	return store_writer_error(w);
}

int main(int argc, char **argv)
{
	struct store_params p = {.alg = STORE_ALG_NONE, .key_id = "", .clock_rate = 8000};
	struct store_writer *w;
	uint64_t t0;
	uint32_t ts = 0;
	uint16_t seq = 0;
	size_t sample = 0;
	int r;

	if (argc < 9) {
		fprintf(stderr, "usage: siprec-fixture OUT CODEC PT LABEL SESSION RECORDING T0_MS "
				"ITEM...\n");
		return 1;
	}
	p.path = argv[1];
	p.codec = argv[2];
	p.payload_type = (uint8_t)atoi(argv[3]);
	p.stream_label = argv[4];
	p.session_id = argv[5];
	p.recording_id = argv[6];
	t0 = 1700000000000000000ull + strtoull(argv[7], NULL, 10) * 1000000ull;
	if (io_uring_queue_init(64, &ring, 0) < 0 || store_writer_open(&p, &w) < 0) {
		perror(p.path);
		return 1;
	}
	for (int a = 8; a < argc; a++) {
		char kind[16];
		unsigned v = 0, ms;
		bool alaw;
		uint32_t ev_ts = ts;

		if (sscanf(argv[a], "%15[a-z]:%u:%u", kind, &v, &ms) != 3 &&
		    (sscanf(argv[a], "%15[a-z]:%u", kind, &ms) != 2 || strcmp(kind, "gap") != 0)) {
			fprintf(stderr, "siprec-fixture: bad item %s\n", argv[a]);
			return 1;
		}
		alaw = strcmp(kind, "pcma") == 0 || strcmp(kind, "alawdyn") == 0;
		for (unsigned k = 0; k < ms / 20; k++) {
			uint8_t pay[160];
			struct store_frame f = {STORE_FRAME_RTP,
						160,
						t0 + ts * 125000ull,
						0xabc,
						seq,
						ts,
						0,
						0,
						pay};

			if (strcmp(kind, "gap") == 0) {
				/* Nothing sent: lost packets. */
			} else if (strcmp(kind, "dtmf") == 0) {
				/* RFC 4733 §2.5.1: one timestamp for the whole event, growing
				 * duration, the end packet three times. */
				bool last = k + 1 == ms / 20;
				uint16_t dur = (uint16_t)((k + 1) * 160);

				pay[0] = (uint8_t)v;
				pay[1] = (uint8_t)((last ? 0x80 : 0) | 10);
				pay[2] = (uint8_t)(dur >> 8);
				pay[3] = (uint8_t)dur;
				f = (struct store_frame){STORE_FRAME_RTP,
							 4,
							 t0 + ts * 125000ull,
							 0xabc,
							 seq,
							 ev_ts,
							 101,
							 k == 0,
							 pay};
				for (int rep = 0; rep < (last ? 3 : 1); rep++, seq++) {
					f.seq = seq;
					if (store_writer_add(w, &f) < 0)
						return 1;
				}
			} else {
				for (unsigned i = 0; i < 160; i++) {
					int16_t s = (int16_t)lrint(
						8000.0 * sin(2.0 * M_PI * v * (double)(sample + i) /
							     8000.0));

					pay[i] = alaw ? linear_to_alaw(s)
						 : strcmp(kind, "pcmu") == 0
							 ? linear_to_ulaw(s)
							 : (uint8_t)(i * 37 + k);
				}
				f.pt = strcmp(kind, "alawdyn") == 0 ? 97
				       : strcmp(kind, "pcma") == 0  ? 8
				       : strcmp(kind, "pcmu") == 0  ? 0
								    : (uint8_t)v;
				if (strcmp(kind, "opaque") == 0)
					f.len = 33;
				if (store_writer_add(w, &f) < 0)
					return 1;
				seq++;
			}
			ts += 160;
			sample += 160;
			/* Sealed chunks wait in the writer until submitted: keep it short. */
			if (k % 64 == 63 && drain(w, false) < 0)
				return 1;
		}
		if (drain(w, false) < 0)
			return 1;
	}
	if (store_writer_finish(w) < 0 || (r = drain(w, true)) < 0) {
		fprintf(stderr, "siprec-fixture: %s: write failed\n", p.path);
		return 1;
	}
	store_writer_close(w);
	io_uring_queue_exit(&ring);
	return 0;
}
