// SPDX-License-Identifier: MIT
/*
 * Unit tests of the SIP server transactions: retransmissions absorbed and answered, ACK
 * matching (non-2xx and 2xx), Timer G backoff, Timer H → no_ack, Timer I/J/L cleanup, CANCEL
 * matching, RFC 2543 matching without the magic cookie, the transaction limit.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "siprecd/macro.h"
#include "siprecd/sip.h"

struct rec {
	unsigned sends, refs, unrefs, no_acks, terminated;
	uint64_t send_times[64];
	char last[256];
};

static struct rec rec;
static uint64_t now;

static int fake_send(void *conn, const struct sockaddr_storage *peer, const char *buf, size_t len)
{
	if (rec.sends < 64)
		rec.send_times[rec.sends] = now;
	rec.sends++;
	snprintf(rec.last, sizeof(rec.last), "%.*s", (int)MIN(len, (size_t)12), buf);
	return (int)len;
}

static void fake_ref(void *conn)
{
	rec.refs++;
}

static void fake_unref(void *conn)
{
	rec.unrefs++;
}

static void fake_no_ack(struct sip_txn *t, void *userdata)
{
	rec.no_acks++;
}

static void fake_terminated(struct sip_txn *t, void *userdata)
{
	rec.terminated++;
}

static const struct sip_txn_ops ops = {
	.send = fake_send,
	.conn_ref = fake_ref,
	.conn_unref = fake_unref,
	.no_ack = fake_no_ack,
	.terminated = fake_terminated,
};

static int conn_token;

/* Builds and parses a request; buffers are static per slot so several can live at once. */
static struct sip_msg *mkreq(int slot, const char *method, const char *branch, const char *cseq_m,
			     unsigned cseq)
{
	static char bufs[4][512];
	static struct sip_msg msgs[4];
	int n = snprintf(bufs[slot], sizeof(bufs[slot]),
			 "%s sip:srs@example.com SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP Client.Example.com:5060;branch=%s\r\n"
			 "From: <sip:a@example.com>;tag=f1\r\n"
			 "To: <sip:srs@example.com>\r\n"
			 "Call-ID: call-1\r\n"
			 "CSeq: %u %s\r\n"
			 "Content-Length: 0\r\n\r\n",
			 method, branch, cseq, cseq_m);

	assert_int_equal(sip_msg_parse(&msgs[slot], bufs[slot], (size_t)n, NULL), 0);
	return &msgs[slot];
}

static struct sip_txn_table *setup_table(unsigned max)
{
	struct sip_txn_table *tbl;

	memset(&rec, 0, sizeof(rec));
	now = 1000;
	assert_int_equal(sip_txn_table_new(&ops, NULL, max, &tbl), 0);
	return tbl;
}

static const char r100[] = "SIP/2.0 100 Trying\r\nContent-Length: 0\r\n\r\n";
static const char r200[] = "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n";
static const char r486[] = "SIP/2.0 486 Busy Here\r\nContent-Length: 0\r\n\r\n";
static const char r487[] = "SIP/2.0 487 Request Terminated\r\nContent-Length: 0\r\n\r\n";

static void test_invite_retransmission(void **state)
{
	struct sip_txn_table *tbl = setup_table(10);
	struct sip_txn *t, *t2;

	assert_int_equal(sip_txn_receive(tbl, mkreq(0, "INVITE", "z9hG4bK1", "INVITE", 1),
					 &conn_token, NULL, false, now, &t),
			 SIP_TXN_NEW);
	assert_int_equal(rec.refs, 1);
	assert_int_equal(sip_txn_state(t), SIP_TXN_PROCEEDING);
	assert_int_equal(sip_txn_method(t), SIP_METHOD_INVITE);
	assert_ptr_equal(sip_txn_conn(t), &conn_token);
	/* retransmission before any response: absorbed, nothing to resend */
	assert_int_equal(sip_txn_receive(tbl, mkreq(1, "INVITE", "z9hG4bK1", "INVITE", 1),
					 &conn_token, NULL, false, now, &t2),
			 SIP_TXN_ABSORBED);
	assert_null(t2);
	assert_int_equal(rec.sends, 0);
	assert_int_equal(sip_txn_respond(t, r100, strlen(r100), now), (int)strlen(r100));
	assert_int_equal(rec.sends, 1);
	/* now the retransmission gets the 100 again; sent-by host compares case-insensitively */
	{
		struct sip_msg *m = mkreq(1, "INVITE", "z9hG4bK1", "INVITE", 1);

		assert_int_equal(sip_txn_receive(tbl, m, &conn_token, NULL, false, now, &t2),
				 SIP_TXN_ABSORBED);
	}
	assert_int_equal(rec.sends, 2);
	assert_string_equal(rec.last, "SIP/2.0 100 ");
	/* a different branch is a different transaction */
	assert_int_equal(sip_txn_receive(tbl, mkreq(2, "INVITE", "z9hG4bK2", "INVITE", 1),
					 &conn_token, NULL, false, now, &t2),
			 SIP_TXN_NEW);
	assert_int_equal(sip_txn_table_count(tbl), 2);
	/* the stored request copy parses back */
	{
		struct sip_msg *copy;

		assert_int_equal(sip_txn_request(t, &copy), 0);
		assert_int_equal(copy->method, SIP_METHOD_INVITE);
	}
	/* only the guard against a TU that never answers is armed (64*T1) */
	assert_int_equal(sip_txn_next_deadline(tbl), now + 64 * 500);
	sip_txn_table_free(tbl);
	assert_int_equal(rec.terminated, 2);
	assert_int_equal(rec.unrefs, 2);
}

static unsigned stalled_calls;
static bool stalled_answers;

static void fake_stalled(struct sip_txn *t, void *userdata)
{
	stalled_calls++;
	if (stalled_answers)
		sip_txn_respond(t, r487, strlen(r487), now);
}

/* A transaction the TU never answers ends after 64*T1: first the TU is asked (ops.stalled),
 * then, still without a final response, it is terminated; nothing stays in Proceeding. */
static void test_tu_stalled(void **state)
{
	struct sip_txn_ops o = ops;
	struct sip_txn_table *tbl;
	struct sip_txn *t1, *t2;
	struct sip_txn_stats st;

	memset(&rec, 0, sizeof(rec));
	now = 1000;
	stalled_calls = 0;
	o.stalled = fake_stalled;
	assert_int_equal(sip_txn_table_new(&o, NULL, 10, &tbl), 0);
	assert_int_equal(sip_txn_receive(tbl, mkreq(0, "INVITE", "z9hG4bKs1", "INVITE", 1),
					 &conn_token, NULL, true, now, &t1),
			 SIP_TXN_NEW);
	assert_int_equal(sip_txn_respond(t1, r100, strlen(r100), now), (int)strlen(r100));
	now += 1000;
	assert_int_equal(sip_txn_receive(tbl, mkreq(1, "INVITE", "z9hG4bKs2", "INVITE", 1),
					 &conn_token, NULL, true, now, &t2),
			 SIP_TXN_NEW);
	sip_txn_table_get_stats(tbl, &st);
	assert_int_equal(st.by_state[SIP_TXN_PROCEEDING], 2);
	/* a final response disarms the guard */
	assert_int_equal(sip_txn_respond(t2, r486, strlen(r486), now), (int)strlen(r486));
	sip_txn_run_timers(tbl, now + 64 * 500 - 1001);
	assert_int_equal(stalled_calls, 0);
	/* t1: the TU does not answer even when asked: terminated */
	stalled_answers = false;
	now = 1000 + 64 * 500;
	assert_int_equal(sip_txn_next_deadline(tbl), now);
	sip_txn_run_timers(tbl, now);
	assert_int_equal(stalled_calls, 1);
	assert_int_equal(rec.terminated, 1);
	sip_txn_table_get_stats(tbl, &st);
	assert_int_equal(st.by_state[SIP_TXN_PROCEEDING], 0);
	assert_int_equal(st.stalled, 1);
	/* a TU that answers when asked keeps its transaction, now Completed */
	assert_int_equal(sip_txn_receive(tbl, mkreq(2, "INVITE", "z9hG4bKs3", "INVITE", 1),
					 &conn_token, NULL, true, now, &t1),
			 SIP_TXN_NEW);
	stalled_answers = true;
	now += 64 * 500;
	sip_txn_run_timers(tbl, now);
	assert_int_equal(stalled_calls, 2);
	assert_int_equal(sip_txn_state(t1), SIP_TXN_COMPLETED);
	sip_txn_table_free(tbl);
}

static void test_non2xx_ack_timer_g_h(void **state)
{
	struct sip_txn_table *tbl = setup_table(10);
	struct sip_txn *t, *t2;
	static const uint64_t expect_g[] = {500, 1000, 2000, 4000, 4000, 4000};
	uint64_t start = now;

	assert_int_equal(sip_txn_receive(tbl, mkreq(0, "INVITE", "z9hG4bKg", "INVITE", 1),
					 &conn_token, NULL, false, now, &t),
			 SIP_TXN_NEW);
	assert_int_equal(sip_txn_respond(t, r486, strlen(r486), now), (int)strlen(r486));
	assert_int_equal(sip_txn_state(t), SIP_TXN_COMPLETED);
	assert_int_equal(sip_txn_respond(t, r486, strlen(r486), now), -EINVAL);
	/* Timer G: T1, doubling, capped at T2 (RFC 3261 §17.2.1) */
	for (size_t i = 0; i < sizeof(expect_g) / sizeof(expect_g[0]); i++) {
		uint64_t d = sip_txn_next_deadline(tbl);
		unsigned before = rec.sends;

		assert_int_equal(d - now, expect_g[i]);
		now = d - 1;
		sip_txn_run_timers(tbl, now);
		assert_int_equal(rec.sends, before);
		now = d;
		sip_txn_run_timers(tbl, now);
		assert_int_equal(rec.sends, before + 1);
	}
	/* Timer H = 64*T1 from the response: no_ack, then terminated */
	while (sip_txn_next_deadline(tbl) < start + 64 * 500) {
		now = sip_txn_next_deadline(tbl);
		sip_txn_run_timers(tbl, now);
	}
	assert_int_equal(rec.no_acks, 0);
	assert_int_equal(sip_txn_next_deadline(tbl), start + 64 * 500);
	now = start + 64 * 500;
	sip_txn_run_timers(tbl, now);
	assert_int_equal(rec.no_acks, 1);
	assert_int_equal(rec.terminated, 1);
	assert_int_equal(sip_txn_table_count(tbl), 0);
	assert_int_equal(sip_txn_next_deadline(tbl), UINT64_MAX);
	sip_txn_table_free(tbl);

	/* with the ACK: Confirmed, retransmissions stop, Timer I = T4 then gone */
	tbl = setup_table(10);
	assert_int_equal(sip_txn_receive(tbl, mkreq(0, "INVITE", "z9hG4bKg", "INVITE", 1),
					 &conn_token, NULL, false, now, &t),
			 SIP_TXN_NEW);
	sip_txn_respond(t, r486, strlen(r486), now);
	now += 500;
	sip_txn_run_timers(tbl, now);
	assert_int_equal(rec.sends, 2);
	assert_int_equal(sip_txn_receive(tbl, mkreq(1, "ACK", "z9hG4bKg", "ACK", 1), &conn_token,
					 NULL, false, now, &t2),
			 SIP_TXN_ABSORBED);
	assert_int_equal(sip_txn_state(t), SIP_TXN_CONFIRMED);
	/* a retransmitted INVITE in Confirmed is absorbed silently */
	assert_int_equal(sip_txn_receive(tbl, mkreq(2, "INVITE", "z9hG4bKg", "INVITE", 1),
					 &conn_token, NULL, false, now, &t2),
			 SIP_TXN_ABSORBED);
	assert_int_equal(sip_txn_next_deadline(tbl), now + 5000);
	now += 5000;
	sip_txn_run_timers(tbl, now);
	assert_int_equal(rec.sends, 2);
	assert_int_equal(rec.no_acks, 0);
	assert_int_equal(sip_txn_table_count(tbl), 0);
	sip_txn_table_free(tbl);
}

static void test_reliable_completed(void **state)
{
	struct sip_txn_table *tbl = setup_table(10);
	struct sip_txn *t, *t2;
	struct sip_msg *copy;

	assert_int_equal(sip_txn_receive(tbl, mkreq(0, "INVITE", "z9hG4bKr", "INVITE", 1),
					 &conn_token, NULL, true, now, &t),
			 SIP_TXN_NEW);
	sip_txn_respond(t, r486, strlen(r486), now);
	/* no Timer G on a reliable transport, only H */
	assert_int_equal(sip_txn_next_deadline(tbl), now + 32000);
	assert_int_equal(sip_txn_request(t, &copy), 0);
	assert_int_equal(sip_txn_receive(tbl, mkreq(1, "ACK", "z9hG4bKr", "ACK", 1), &conn_token,
					 NULL, true, now, &t2),
			 SIP_TXN_ABSORBED);
	/* Confirmed: the copies are gone, a retransmitted INVITE is absorbed unanswered */
	assert_int_equal(sip_txn_request(t, &copy), -ENOENT);
	assert_int_equal(sip_txn_receive(tbl, mkreq(0, "INVITE", "z9hG4bKr", "INVITE", 1),
					 &conn_token, NULL, true, now, &t2),
			 SIP_TXN_ABSORBED);
	assert_int_equal(rec.sends, 1);
	/* Timer I = 0 */
	assert_int_equal(sip_txn_next_deadline(tbl), now);
	sip_txn_run_timers(tbl, now);
	assert_int_equal(sip_txn_table_count(tbl), 0);
	sip_txn_table_free(tbl);
}

static void test_2xx_accepted(void **state)
{
	struct sip_txn_table *tbl = setup_table(10);
	struct sip_txn *t, *t2;
	struct sip_msg *copy;
	uint64_t start = now;

	assert_int_equal(sip_txn_receive(tbl, mkreq(0, "INVITE", "z9hG4bKa", "INVITE", 7),
					 &conn_token, NULL, false, now, &t),
			 SIP_TXN_NEW);
	sip_txn_respond(t, r200, strlen(r200), now);
	assert_int_equal(sip_txn_state(t), SIP_TXN_ACCEPTED);
	now += 500;
	sip_txn_run_timers(tbl, now);
	now += 1000;
	sip_txn_run_timers(tbl, now);
	assert_int_equal(rec.sends, 3);
	assert_string_equal(rec.last, "SIP/2.0 200 ");
	/* a retransmitted INVITE in Accepted is absorbed (RFC 6026) */
	assert_int_equal(sip_txn_receive(tbl, mkreq(1, "INVITE", "z9hG4bKa", "INVITE", 7),
					 &conn_token, NULL, false, now, &t2),
			 SIP_TXN_ABSORBED);
	assert_int_equal(sip_txn_request(t, &copy), 0);
	/* the ACK of a 2xx has its own branch: matched by Call-ID/CSeq/From tag */
	assert_int_equal(sip_txn_receive(tbl, mkreq(2, "ACK", "z9hG4bKnew", "ACK", 7), &conn_token,
					 NULL, false, now, &t2),
			 SIP_TXN_ACK_2XX);
	assert_ptr_equal(t2, t);
	/* acknowledged: the copies are gone; a retransmitted INVITE is still absorbed, unanswered
	 */
	assert_int_equal(sip_txn_request(t, &copy), -ENOENT);
	assert_int_equal(sip_txn_receive(tbl, mkreq(1, "INVITE", "z9hG4bKa", "INVITE", 7),
					 &conn_token, NULL, false, now, &t2),
			 SIP_TXN_ABSORBED);
	assert_int_equal(rec.sends, 3);
	/* retransmission of the 2xx stops; the txn lives until Timer L */
	assert_int_equal(sip_txn_next_deadline(tbl), start + 32000);
	assert_int_equal(sip_txn_receive(tbl, mkreq(2, "ACK", "z9hG4bKnew", "ACK", 7), &conn_token,
					 NULL, false, now, &t2),
			 SIP_TXN_ACK_2XX);
	/* an ACK for another CSeq matches nothing */
	assert_int_equal(sip_txn_receive(tbl, mkreq(3, "ACK", "z9hG4bKother", "ACK", 8),
					 &conn_token, NULL, false, now, &t2),
			 SIP_TXN_ACK_STRAY);
	now = start + 32000;
	sip_txn_run_timers(tbl, now);
	assert_int_equal(rec.no_acks, 0);
	assert_int_equal(sip_txn_table_count(tbl), 0);
	assert_int_equal(rec.sends, 3);
	sip_txn_table_free(tbl);

	/* no ACK at all: the 2xx is retransmitted (even on a reliable hop), then Timer H */
	tbl = setup_table(10);
	start = now;
	assert_int_equal(sip_txn_receive(tbl, mkreq(0, "INVITE", "z9hG4bKa", "INVITE", 7),
					 &conn_token, NULL, true, now, &t),
			 SIP_TXN_NEW);
	sip_txn_respond(t, r200, strlen(r200), now);
	while (sip_txn_next_deadline(tbl) != UINT64_MAX) {
		now = sip_txn_next_deadline(tbl);
		sip_txn_run_timers(tbl, now);
	}
	assert_int_equal(now, start + 32000);
	assert_int_equal(rec.no_acks, 1);
	/* 1 + retransmissions at 0.5, 1.5, 3.5, 7.5, 11.5, ... 31.5 s */
	assert_int_equal(rec.sends, 1 + 10);
	assert_int_equal(rec.send_times[1] - start, 500);
	assert_int_equal(rec.send_times[2] - start, 1500);
	assert_int_equal(rec.send_times[3] - start, 3500);
	assert_int_equal(rec.send_times[4] - start, 7500);
	sip_txn_table_free(tbl);
}

static int owed;
static bool backlogged;

static void fake_owe(void *conn, int delta)
{
	owed += delta;
}

static bool fake_backlogged(void *conn)
{
	return backlogged;
}

/*
 * Over a reliable transport a server transaction tells its connection what it still owes (an
 * INVITE a provisional and a final, others a final), taken back as each is sent or when the
 * transaction ends without one; over UDP nothing. A 2xx is not retransmitted while the
 * connection's queue has not gone out (the peer has not read the last copy).
 */
static void test_answers_owed(void **state)
{
	struct sip_txn_ops o = ops;
	struct sip_txn_table *tbl;
	struct sip_txn *t, *t2;

	memset(&rec, 0, sizeof(rec));
	now = 1000;
	owed = 0;
	backlogged = false;
	o.conn_owe = fake_owe;
	o.conn_backlogged = fake_backlogged;
	assert_int_equal(sip_txn_table_new(&o, NULL, 10, &tbl), 0);
	assert_int_equal(sip_txn_receive(tbl, mkreq(0, "INVITE", "z9hG4bKo1", "INVITE", 1),
					 &conn_token, NULL, true, now, &t),
			 SIP_TXN_NEW);
	assert_int_equal(owed, 2);
	sip_txn_respond(t, r100, strlen(r100), now);
	assert_int_equal(owed, 1);
	sip_txn_respond(t, r100, strlen(r100), now); /* a second provisional owes nothing less */
	assert_int_equal(owed, 1);
	assert_int_equal(sip_txn_receive(tbl, mkreq(1, "OPTIONS", "z9hG4bKo2", "OPTIONS", 1),
					 &conn_token, NULL, true, now, &t2),
			 SIP_TXN_NEW);
	assert_int_equal(owed, 2);
	sip_txn_respond(t2, r200, strlen(r200), now);
	assert_int_equal(owed, 1);
	/* the 2xx: nothing owed; while the queue is backlogged Timer G sends no copy */
	sip_txn_respond(t, r200, strlen(r200), now);
	assert_int_equal(owed, 0);
	rec.sends = 0;
	backlogged = true;
	now += 500;
	sip_txn_run_timers(tbl, now);
	assert_int_equal(rec.sends, 0);
	backlogged = false;
	now += 1000;
	sip_txn_run_timers(tbl, now);
	assert_int_equal(rec.sends, 1);
	/* an INVITE that ends unanswered (table freed) takes back what it owed */
	assert_int_equal(sip_txn_receive(tbl, mkreq(2, "INVITE", "z9hG4bKo3", "INVITE", 2),
					 &conn_token, NULL, true, now, &t),
			 SIP_TXN_NEW);
	assert_int_equal(owed, 2);
	sip_txn_table_free(tbl);
	assert_int_equal(owed, 0);
	/* over UDP nothing is owed */
	assert_int_equal(sip_txn_table_new(&o, NULL, 10, &tbl), 0);
	assert_int_equal(sip_txn_receive(tbl, mkreq(0, "INVITE", "z9hG4bKo4", "INVITE", 1),
					 &conn_token, NULL, false, now, &t),
			 SIP_TXN_NEW);
	assert_int_equal(owed, 0);
	sip_txn_table_free(tbl);
}

static void test_non_invite_timer_j(void **state)
{
	struct sip_txn_table *tbl = setup_table(10);
	struct sip_txn *t, *t2;

	assert_int_equal(sip_txn_receive(tbl, mkreq(0, "OPTIONS", "z9hG4bKo", "OPTIONS", 3),
					 &conn_token, NULL, false, now, &t),
			 SIP_TXN_NEW);
	assert_int_equal(sip_txn_state(t), SIP_TXN_TRYING);
	sip_txn_respond(t, r200, strlen(r200), now);
	assert_int_equal(sip_txn_state(t), SIP_TXN_COMPLETED);
	assert_int_equal(sip_txn_next_deadline(tbl), now + 32000);
	assert_int_equal(sip_txn_receive(tbl, mkreq(1, "OPTIONS", "z9hG4bKo", "OPTIONS", 3),
					 &conn_token, NULL, false, now, &t2),
			 SIP_TXN_ABSORBED);
	assert_int_equal(rec.sends, 2);
	now += 31999;
	sip_txn_run_timers(tbl, now);
	assert_int_equal(sip_txn_table_count(tbl), 1);
	now += 1;
	sip_txn_run_timers(tbl, now);
	assert_int_equal(sip_txn_table_count(tbl), 0);
	assert_int_equal(rec.terminated, 1);
	assert_int_equal(rec.unrefs, 1);

	/* reliable: Timer J = 0 */
	assert_int_equal(sip_txn_receive(tbl, mkreq(0, "BYE", "z9hG4bKb", "BYE", 4), &conn_token,
					 NULL, true, now, &t),
			 SIP_TXN_NEW);
	sip_txn_respond(t, r200, strlen(r200), now);
	sip_txn_run_timers(tbl, now);
	assert_int_equal(sip_txn_table_count(tbl), 0);
	/* set_timers changes T1 */
	sip_txn_table_set_timers(tbl, 100, 0, 0);
	assert_int_equal(sip_txn_receive(tbl, mkreq(0, "BYE", "z9hG4bKc", "BYE", 5), &conn_token,
					 NULL, false, now, &t),
			 SIP_TXN_NEW);
	sip_txn_respond(t, r200, strlen(r200), now);
	assert_int_equal(sip_txn_next_deadline(tbl), now + 6400);
	sip_txn_table_free(tbl);
}

static void test_cancel(void **state)
{
	struct sip_txn_table *tbl = setup_table(10);
	struct sip_txn *inv, *c, *c2, *x;
	struct sip_msg *copy;

	assert_int_equal(sip_txn_receive(tbl, mkreq(0, "INVITE", "z9hG4bKi", "INVITE", 1),
					 &conn_token, NULL, false, now, &inv),
			 SIP_TXN_NEW);
	sip_txn_respond(inv, r100, strlen(r100), now);
	assert_int_equal(sip_txn_receive(tbl, mkreq(1, "CANCEL", "z9hG4bKi", "CANCEL", 1),
					 &conn_token, NULL, false, now, &c),
			 SIP_TXN_CANCEL);
	assert_ptr_not_equal(c, inv);
	assert_ptr_equal(sip_txn_cancel_target(c), inv);
	/* the TU answers 200 to the CANCEL and 487 to the INVITE, built from its stored copy */
	assert_int_equal(sip_txn_request(inv, &copy), 0);
	assert_int_equal(copy->method, SIP_METHOD_INVITE);
	sip_txn_respond(c, r200, strlen(r200), now);
	sip_txn_respond(inv, r487, strlen(r487), now);
	/* a retransmitted CANCEL gets its 200 again */
	assert_int_equal(sip_txn_receive(tbl, mkreq(2, "CANCEL", "z9hG4bKi", "CANCEL", 1),
					 &conn_token, NULL, false, now, &c2),
			 SIP_TXN_ABSORBED);
	assert_string_equal(rec.last, "SIP/2.0 200 ");
	/* a CANCEL for an unknown branch has no target (the TU answers 481) */
	assert_int_equal(sip_txn_receive(tbl, mkreq(3, "CANCEL", "z9hG4bKzz", "CANCEL", 1),
					 &conn_token, NULL, false, now, &x),
			 SIP_TXN_CANCEL);
	assert_null(sip_txn_cancel_target(x));
	sip_txn_table_free(tbl);
}

static void test_rfc2543(void **state)
{
	struct sip_txn_table *tbl = setup_table(10);
	struct sip_txn *t, *t2;

	/* no magic cookie: matched on R-URI, From tag, Call-ID, CSeq, top Via */
	assert_int_equal(sip_txn_receive(tbl, mkreq(0, "INVITE", "old1", "INVITE", 1), &conn_token,
					 NULL, false, now, &t),
			 SIP_TXN_NEW);
	sip_txn_respond(t, r486, strlen(r486), now);
	assert_int_equal(sip_txn_receive(tbl, mkreq(1, "INVITE", "old1", "INVITE", 1), &conn_token,
					 NULL, false, now, &t2),
			 SIP_TXN_ABSORBED);
	assert_int_equal(rec.sends, 2);
	assert_int_equal(sip_txn_receive(tbl, mkreq(1, "INVITE", "old1", "INVITE", 2), &conn_token,
					 NULL, false, now, &t2),
			 SIP_TXN_NEW);
	assert_int_equal(sip_txn_receive(tbl, mkreq(2, "ACK", "old1", "ACK", 1), &conn_token, NULL,
					 false, now, &t2),
			 SIP_TXN_ABSORBED);
	assert_int_equal(sip_txn_state(t), SIP_TXN_CONFIRMED);
	sip_txn_table_free(tbl);
}

static void test_limit(void **state)
{
	struct sip_txn_table *tbl = setup_table(3);
	struct sip_txn *t;
	char branch[32];

	for (int i = 0; i < 3; i++) {
		snprintf(branch, sizeof(branch), "z9hG4bKl%d", i);
		assert_int_equal(sip_txn_receive(tbl, mkreq(0, "OPTIONS", branch, "OPTIONS", 1),
						 &conn_token, NULL, true, now, &t),
				 SIP_TXN_NEW);
	}
	assert_int_equal(sip_txn_receive(tbl, mkreq(0, "OPTIONS", "z9hG4bKl9", "OPTIONS", 1),
					 &conn_token, NULL, true, now, &t),
			 -EBUSY);
	/* a retransmission is still matched at the limit */
	assert_int_equal(sip_txn_receive(tbl, mkreq(0, "OPTIONS", "z9hG4bKl1", "OPTIONS", 1),
					 &conn_token, NULL, true, now, &t),
			 SIP_TXN_ABSORBED);
	assert_int_equal(rec.refs, 3);
	sip_txn_table_free(tbl);
	assert_int_equal(rec.unrefs, 3);
}

/* At the limit, the oldest lingering transaction (acknowledged or answered, waiting only for
 * its timer) gives its slot to a new request; live ones never do. */
static void test_limit_evicts_lingering(void **state)
{
	struct sip_txn_table *tbl = setup_table(3);
	struct sip_txn *a, *b, *c, *t;
	struct sip_txn_stats st;

	/* A: INVITE answered 2xx, not acknowledged (it resends the 2xx: live) */
	assert_int_equal(sip_txn_receive(tbl, mkreq(0, "INVITE", "z9hG4bKi1", "INVITE", 1),
					 &conn_token, NULL, false, now, &a),
			 SIP_TXN_NEW);
	sip_txn_respond(a, r200, strlen(r200), now);
	/* B: INVITE answered 2xx and acknowledged (lingers for Timer L) */
	assert_int_equal(sip_txn_receive(tbl, mkreq(0, "INVITE", "z9hG4bKi2", "INVITE", 2),
					 &conn_token, NULL, false, now, &b),
			 SIP_TXN_NEW);
	sip_txn_respond(b, r200, strlen(r200), now);
	assert_int_equal(sip_txn_receive(tbl, mkreq(1, "ACK", "z9hG4bKa2", "ACK", 2), &conn_token,
					 NULL, false, now, &t),
			 SIP_TXN_ACK_2XX);
	assert_ptr_equal(t, b);
	/* C: OPTIONS answered over UDP (lingers for Timer J) */
	assert_int_equal(sip_txn_receive(tbl, mkreq(0, "OPTIONS", "z9hG4bKo1", "OPTIONS", 3),
					 &conn_token, NULL, false, now, &c),
			 SIP_TXN_NEW);
	sip_txn_respond(c, r200, strlen(r200), now);
	assert_int_equal(sip_txn_table_count(tbl), 3);
	assert_int_equal(rec.terminated, 0);

	/* full: a new request ends B, the oldest lingering */
	assert_int_equal(sip_txn_receive(tbl, mkreq(0, "OPTIONS", "z9hG4bKo2", "OPTIONS", 4),
					 &conn_token, NULL, false, now, &t),
			 SIP_TXN_NEW);
	assert_int_equal(rec.terminated, 1);
	assert_int_equal(sip_txn_table_count(tbl), 3);
	/* C still absorbs its retransmission with its 200 */
	rec.sends = 0;
	assert_int_equal(sip_txn_receive(tbl, mkreq(0, "OPTIONS", "z9hG4bKo1", "OPTIONS", 3),
					 &conn_token, NULL, false, now, &t),
			 SIP_TXN_ABSORBED);
	assert_int_equal(rec.sends, 1);
	/* then C */
	assert_int_equal(sip_txn_receive(tbl, mkreq(0, "OPTIONS", "z9hG4bKo3", "OPTIONS", 5),
					 &conn_token, NULL, false, now, &t),
			 SIP_TXN_NEW);
	assert_int_equal(rec.terminated, 2);
	/* A (live, 2xx unacknowledged) and the two OPTIONS in Trying: none lingers, refused */
	assert_int_equal(sip_txn_receive(tbl, mkreq(0, "OPTIONS", "z9hG4bKo4", "OPTIONS", 6),
					 &conn_token, NULL, false, now, &t),
			 -EBUSY);
	assert_int_equal(sip_txn_state(a), SIP_TXN_ACCEPTED);
	sip_txn_table_get_stats(tbl, &st);
	assert_int_equal(st.evicted, 2);
	assert_int_equal(st.by_state[SIP_TXN_ACCEPTED], 1);
	assert_int_equal(st.by_state[SIP_TXN_TRYING], 2);
	/* the timers of the ones ended early are gone with them */
	while (sip_txn_next_deadline(tbl) != UINT64_MAX)
		sip_txn_run_timers(tbl, sip_txn_next_deadline(tbl));
	sip_txn_table_free(tbl);
	assert_int_equal(rec.unrefs, rec.refs);
}

static void test_many_timers(void **state)
{
	struct sip_txn_table *tbl = setup_table(5000);
	struct sip_txn *t;
	char branch[32];
	uint64_t last = 0;

	/* responses at staggered times: timers must come out in deadline order */
	for (int i = 0; i < 2000; i++) {
		snprintf(branch, sizeof(branch), "z9hG4bKm%d", i);
		assert_int_equal(sip_txn_receive(tbl, mkreq(0, "OPTIONS", branch, "OPTIONS", 1),
						 &conn_token, NULL, false, now, &t),
				 SIP_TXN_NEW);
		sip_txn_respond(t, r200, strlen(r200), now + (uint64_t)((i * 7919) % 2000));
	}
	while (sip_txn_next_deadline(tbl) != UINT64_MAX) {
		uint64_t d = sip_txn_next_deadline(tbl);

		assert_true(d >= last);
		last = d;
		sip_txn_run_timers(tbl, d);
	}
	assert_int_equal(rec.terminated, 2000);
	sip_txn_table_free(tbl);
}

static void test_bad_input(void **state)
{
	struct sip_txn_table *tbl = setup_table(3), *t2;
	struct sip_txn *t;
	struct sip_msg m;
	const char *noVia = "OPTIONS sip:a@b SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n";

	assert_int_equal(sip_txn_table_new(NULL, NULL, 1, &t2), -EINVAL);
	assert_int_equal(sip_msg_parse(&m, noVia, strlen(noVia), NULL), 0);
	assert_int_equal(sip_txn_receive(tbl, &m, &conn_token, NULL, false, now, &t), -EBADMSG);
	assert_int_equal(sip_txn_receive(tbl, mkreq(0, "OPTIONS", "z9hG4bKq", "OPTIONS", 1),
					 &conn_token, NULL, false, now, &t),
			 SIP_TXN_NEW);
	assert_int_equal(sip_txn_respond(t, "HTTP/1.1 200 OK\r\n", 17, now), -EINVAL);
	assert_int_equal(sip_txn_respond(t, "SIP/2.0 099 x\r\n", 15, now), -EINVAL);
	sip_txn_set_tu(t, &conn_token);
	assert_ptr_equal(sip_txn_get_tu(t), &conn_token);
	assert_null(sip_txn_table_free(tbl));
	assert_null(sip_txn_table_free(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invite_retransmission),
		cmocka_unit_test(test_tu_stalled),
		cmocka_unit_test(test_non2xx_ack_timer_g_h),
		cmocka_unit_test(test_reliable_completed),
		cmocka_unit_test(test_2xx_accepted),
		cmocka_unit_test(test_answers_owed),
		cmocka_unit_test(test_non_invite_timer_j),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_rfc2543),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_limit_evicts_lingering),
		cmocka_unit_test(test_many_timers),
		cmocka_unit_test(test_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
