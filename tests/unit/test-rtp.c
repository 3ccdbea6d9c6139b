// SPDX-License-Identifier: MIT
/* Unit tests for RTP header parsing, RTCP demultiplexing (RFC 5761) and the per-stream sequence
 * accounting: duplicates, reordering, wrap-around, too-old packets, SSRC changes and loss. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "media/rtp.h"

static void test_parse(void **state)
{
	static const struct {
		const char *name;
		uint8_t pkt[40];
		size_t len;
		int ret;
		size_t off, plen;
		uint8_t pt;
		bool marker;
	} t[] = {
		{"plain",
		 {0x80, 0x00, 0x12, 0x34, 0, 0, 0, 160, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4},
		 16,
		 0,
		 12,
		 4,
		 0,
		 false},
		{"marker, pt 8",
		 {0x80, 0x88, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 9},
		 13,
		 0,
		 12,
		 1,
		 8,
		 true},
		{"two CSRCs",
		 {0x82, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 7, 7},
		 22,
		 0,
		 20,
		 2,
		 0,
		 false},
		{"extension of one word",
		 {0x90, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0, 1, 1, 2, 3, 4, 5},
		 21,
		 0,
		 20,
		 1,
		 0,
		 false},
		{"padding 2",
		 {0xa0, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 5, 6, 0, 2},
		 16,
		 0,
		 12,
		 2,
		 0,
		 false},
		{"too short",
		 {0x80, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0},
		 11,
		 -EBADMSG,
		 0,
		 0,
		 0,
		 false},
		{"version 1",
		 {0x40, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1},
		 13,
		 -EBADMSG,
		 0,
		 0,
		 0,
		 false},
		{"CSRC count past end",
		 {0x8f, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1},
		 13,
		 -EBADMSG,
		 0,
		 0,
		 0,
		 false},
		{"extension past end",
		 {0x90, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0, 9},
		 16,
		 -EBADMSG,
		 0,
		 0,
		 0,
		 false},
		{"padding 0",
		 {0xa0, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 5, 0},
		 14,
		 -EBADMSG,
		 0,
		 0,
		 0,
		 false},
		{"padding past header",
		 {0xa0, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 5, 9},
		 14,
		 -EBADMSG,
		 0,
		 0,
		 0,
		 false},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct rtp_header h;
		int r = rtp_parse(t[i].pkt, t[i].len, &h);

		print_message("%s\n", t[i].name);
		assert_int_equal(r, t[i].ret);
		if (r < 0)
			continue;
		assert_int_equal(h.payload_off, t[i].off);
		assert_int_equal(h.payload_len, t[i].plen);
		assert_int_equal(h.pt, t[i].pt);
		assert_int_equal(h.marker, t[i].marker);
	}
	{
		static const uint8_t p[] = {0x80, 0x00, 0x12, 0x34, 0x01, 0x02, 0x03,
					    0x04, 0xde, 0xad, 0xbe, 0xef, 0xff};
		struct rtp_header h;

		assert_int_equal(rtp_parse(p, sizeof(p), &h), 0);
		assert_int_equal(h.seq, 0x1234);
		assert_int_equal(h.ts, 0x01020304);
		assert_int_equal(h.ssrc, 0xdeadbeef);
	}
}

static void test_rtcp_demux(void **state)
{
	/* RFC 5761 §4: second byte 192-223 is RTCP (SR 200, RR 201, SDES 202, BYE 203, ...). */
	uint8_t p[8] = {0x80, 200, 0, 6, 0, 0, 0, 1};

	assert_true(rtp_is_rtcp(p, sizeof(p)));
	p[1] = 223;
	assert_true(rtp_is_rtcp(p, sizeof(p)));
	p[1] = 0x80 | 96; /* marker + dynamic pt 96 = 224: RTP */
	assert_false(rtp_is_rtcp(p, sizeof(p)));
	p[1] = 0; /* PCMU */
	assert_false(rtp_is_rtcp(p, sizeof(p)));
	p[1] = 201;
	assert_false(rtp_is_rtcp(p, 7)); /* too short */

	/* Without rtcp-mux only SR..APP (200-204): RTP never uses PT 72-76 (RFC 3551 §6). */
	for (int b = 0; b < 256; b++) {
		p[1] = (uint8_t)b;
		assert_int_equal(rtp_is_rtcp_reserved(p, sizeof(p)), b >= 200 && b <= 204);
	}
	p[1] = 200;
	assert_false(rtp_is_rtcp_reserved(p, 7));
	p[0] = 0x40; /* version 1 */
	assert_false(rtp_is_rtcp_reserved(p, sizeof(p)));
}

static void test_seq(void **state)
{
	struct rtp_seq s;

	memset(&s, 0, sizeof(s));
	assert_int_equal(rtp_seq_update(&s, 1, 100), RTP_SEQ_OK);
	assert_int_equal(rtp_seq_update(&s, 1, 101), RTP_SEQ_OK);
	assert_int_equal(rtp_seq_update(&s, 1, 101), RTP_SEQ_DUPLICATE);
	assert_int_equal(rtp_seq_update(&s, 1, 104), RTP_SEQ_OK); /* 102, 103 missing */
	assert_int_equal(rtp_seq_lost(&s), 2);
	assert_int_equal(rtp_seq_update(&s, 1, 102), RTP_SEQ_REORDERED);
	assert_int_equal(rtp_seq_lost(&s), 1);
	assert_int_equal(rtp_seq_update(&s, 1, 102), RTP_SEQ_DUPLICATE);
	assert_int_equal(rtp_seq_update(&s, 1, 103), RTP_SEQ_REORDERED);
	assert_int_equal(rtp_seq_lost(&s), 0);
	assert_int_equal(s.received, 5);
	/* Older than the window: dropped, not counted. */
	for (uint16_t q = 105; q < 105 + RTP_SEQ_WINDOW + 10; q++)
		assert_int_equal(rtp_seq_update(&s, 1, q), RTP_SEQ_OK);
	assert_int_equal(rtp_seq_update(&s, 1, 106), RTP_SEQ_TOO_OLD);
	assert_int_equal(rtp_seq_lost(&s), 0);
}

static void test_seq_wrap(void **state)
{
	struct rtp_seq s;

	memset(&s, 0, sizeof(s));
	assert_int_equal(rtp_seq_update(&s, 7, 65534), RTP_SEQ_OK);
	assert_int_equal(rtp_seq_update(&s, 7, 65535), RTP_SEQ_OK);
	assert_int_equal(rtp_seq_update(&s, 7, 1), RTP_SEQ_OK); /* 0 missing across the wrap */
	assert_int_equal(rtp_seq_lost(&s), 1);
	assert_int_equal(rtp_seq_update(&s, 7, 0), RTP_SEQ_REORDERED);
	assert_int_equal(rtp_seq_lost(&s), 0);
	assert_int_equal(rtp_seq_update(&s, 7, 65535), RTP_SEQ_DUPLICATE);
	/* A packet from before the first one is not counted as lost history. */
	memset(&s, 0, sizeof(s));
	assert_int_equal(rtp_seq_update(&s, 7, 10), RTP_SEQ_OK);
	assert_int_equal(rtp_seq_update(&s, 7, 9), RTP_SEQ_TOO_OLD);
}

static void test_seq_ssrc_change(void **state)
{
	struct rtp_seq s;

	memset(&s, 0, sizeof(s));
	assert_int_equal(rtp_seq_update(&s, 1, 500), RTP_SEQ_OK);
	assert_int_equal(rtp_seq_update(&s, 1, 503), RTP_SEQ_OK);
	assert_int_equal(rtp_seq_lost(&s), 2);
	/* A new SSRC restarts the accounting (the caller carries the old loss forward). */
	assert_int_equal(rtp_seq_update(&s, 2, 9), RTP_SEQ_NEW_SSRC);
	assert_int_equal(rtp_seq_lost(&s), 0);
	assert_int_equal(rtp_seq_update(&s, 2, 10), RTP_SEQ_OK);
	assert_int_equal(rtp_seq_update(&s, 2, 10), RTP_SEQ_DUPLICATE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_rtcp_demux),
		cmocka_unit_test(test_seq),
		cmocka_unit_test(test_seq_wrap),
		cmocka_unit_test(test_seq_ssrc_change),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
