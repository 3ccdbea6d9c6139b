// SPDX-License-Identifier: MIT
/*
 * Unit tests for the SRTP wrapper: round trips for every suite, tampering, replay, ROC rollover,
 * the RFC 4568 session parameters, an independent OpenSSL construction of SRTP (RFC 3711 KDF
 * checked against appendix B.3, AES-CM + HMAC-SHA1, RFC 7714 AES-GCM, for RTP and SRTCP) compared
 * byte for byte, that reference's AES-GCM checked against the RFC 7714 §16/§17 vectors (which
 * give session keys, so they test the construction; the KDF has its own B.3 known answer), and
 * packets protected by Debian's system libsrtp2 (NSS) through tests/helpers/srtp-system.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/wait.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "siprecd/macro.h"
#include "siprecd/srtp.h"

#define PKT_CAP 2048

static size_t unhex(const char *h, uint8_t *out, size_t max)
{
	size_t n = strlen(h) / 2;

	assert_true(n <= max);
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

/* The same plain packets the srtp-system helper protects. */
static size_t rtp_packet(uint8_t *p, uint32_t ssrc, uint16_t seq, size_t i)
{
	uint32_t ts = (uint32_t)(i * 160);

	p[0] = 0x80;
	p[1] = i == 0 ? 0x80 : 0x00;
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	p[4] = (uint8_t)(ts >> 24);
	p[5] = (uint8_t)(ts >> 16);
	p[6] = (uint8_t)(ts >> 8);
	p[7] = (uint8_t)ts;
	p[8] = (uint8_t)(ssrc >> 24);
	p[9] = (uint8_t)(ssrc >> 16);
	p[10] = (uint8_t)(ssrc >> 8);
	p[11] = (uint8_t)ssrc;
	for (int j = 0; j < 160; j++)
		p[12 + j] = (uint8_t)(i * 7 + (size_t)j);
	return 172;
}

static size_t rtcp_packet(uint8_t *p, uint32_t ssrc)
{
	memset(p, 0, 8);
	p[0] = 0x80;
	p[1] = 201;
	p[3] = 1;
	p[4] = (uint8_t)(ssrc >> 24);
	p[5] = (uint8_t)(ssrc >> 16);
	p[6] = (uint8_t)(ssrc >> 8);
	p[7] = (uint8_t)ssrc;
	return 8;
}

static void fill_key(uint8_t *k, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		k[i] = (uint8_t)(seed + i * 13);
}

static void test_suite_table(void **state)
{
	static const struct {
		const char *name;
		size_t key, salt;
		unsigned tag;
		bool aead;
	} t[] = {
		{"AES_CM_128_HMAC_SHA1_80", 16, 14, 10, false},
		{"AES_CM_128_HMAC_SHA1_32", 16, 14, 4, false},
		{"AES_256_CM_HMAC_SHA1_80", 32, 14, 10, false},
		{"AES_256_CM_HMAC_SHA1_32", 32, 14, 4, false},
		{"AEAD_AES_128_GCM", 16, 12, 16, true},
		{"AEAD_AES_256_GCM", 32, 12, 16, true},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const struct srtp_suite_info *s = srtp_suite_by_name(str_from_cstr(t[i].name));

		assert_non_null(s);
		assert_string_equal(s->name, t[i].name);
		assert_int_equal(s->key_len, t[i].key);
		assert_int_equal(s->salt_len, t[i].salt);
		assert_int_equal(s->auth_tag_len, t[i].tag);
		assert_int_equal(s->aead, t[i].aead);
		assert_true(s->key_len + s->salt_len <= SRTP_KEY_SALT_MAX);
	}
	assert_null(srtp_suite_by_name(STR_LIT("AES_CM_128_HMAC_SHA1_81")));
	assert_null(srtp_suite_by_name(STR_LIT("aes_cm_128_hmac_sha1_80")));
	assert_null(srtp_suite_by_name(STR_LIT("AES_CM_128_HMAC_SHA1_8")));
	assert_null(srtp_suite_by_name(STR_NULL));
	/* Not offered: libsrtp2's AES-192 KDF is not RFC 6188's (see srtp.c). */
	assert_null(srtp_suite_by_name(STR_LIT("AES_192_CM_HMAC_SHA1_80")));
	assert_non_null(srtp_suite_at(0));
	assert_null(srtp_suite_at(100));
	assert_string_equal(srtp_backend(), "openssl");
	assert_int_equal(srtp_global_init(), 0);
}

static void roundtrip(const struct srtp_suite_info *s, bool unenc, bool unauth)
{
	uint8_t key[SRTP_KEY_SALT_MAX], pkt[PKT_CAP], plain[PKT_CAP];
	struct srtp_tx *tx = NULL;
	struct srtp_rx *rx = NULL;
	size_t klen = s->key_len + s->salt_len;

	fill_key(key, klen, 0x42);
	assert_int_equal(srtp_tx_new(s, key, klen, unenc, false, unauth, &tx), 0);
	assert_int_equal(srtp_rx_new(s, key, klen, unenc, false, unauth, &rx), 0);
	/* 300 packets from seq 65400: the ROC goes 0 -> 1 on the way (RFC 3711 §3.3.1). */
	for (size_t i = 0; i < 300; i++) {
		size_t n = rtp_packet(plain, 0xdeadbeef, (uint16_t)(65400 + i), i), len = n;

		memcpy(pkt, plain, n);
		assert_int_equal(srtp_tx_protect_rtp(tx, pkt, &len, sizeof(pkt)), 0);
		assert_int_equal(len, n + (unauth ? 0 : s->auth_tag_len));
		assert_memory_equal(pkt, plain, 12);
		if (unenc)
			assert_memory_equal(pkt + 12, plain + 12, 160);
		else
			assert_memory_not_equal(pkt + 12, plain + 12, 160);
		assert_int_equal(srtp_rx_unprotect_rtp(rx, pkt, &len), 0);
		assert_int_equal(len, n);
		assert_memory_equal(pkt, plain, n);
	}
	for (size_t i = 0; i < 3; i++) {
		size_t n = rtcp_packet(plain, 0xdeadbeef), len = n;

		memcpy(pkt, plain, n);
		assert_int_equal(srtp_tx_protect_rtcp(tx, pkt, &len, sizeof(pkt)), 0);
		assert_int_equal(len, n + 4 + s->rtcp_auth_tag_len);
		assert_int_equal(srtp_rx_unprotect_rtcp(rx, pkt, &len), 0);
		assert_int_equal(len, n);
		assert_memory_equal(pkt, plain, n);
	}
	assert_null(srtp_tx_free(tx));
	assert_null(srtp_rx_free(rx));
}

static void test_roundtrip(void **state)
{
	const struct srtp_suite_info *s;

	for (size_t i = 0; (s = srtp_suite_at(i)); i++) {
		roundtrip(s, false, false);
		if (!s->aead) {
			roundtrip(s, true, false);
			roundtrip(s, false, true);
			roundtrip(s, true, true);
		}
	}
}

static void test_tamper_and_replay(void **state)
{
	const struct srtp_suite_info *s;

	for (size_t k = 0; (s = srtp_suite_at(k)); k++) {
		uint8_t key[SRTP_KEY_SALT_MAX], pkt[PKT_CAP], copy[PKT_CAP], first[PKT_CAP];
		struct srtp_tx *tx = NULL;
		struct srtp_rx *rx = NULL;
		size_t klen = s->key_len + s->salt_len, len, flen = 0;

		fill_key(key, klen, 7);
		assert_int_equal(srtp_tx_new(s, key, klen, false, false, false, &tx), 0);
		assert_int_equal(srtp_rx_new(s, key, klen, false, false, false, &rx), 0);
		for (size_t i = 0; i < 1100; i++) {
			len = rtp_packet(pkt, 1, (uint16_t)(100 + i), i);
			assert_int_equal(srtp_tx_protect_rtp(tx, pkt, &len, sizeof(pkt)), 0);
			if (i == 0) {
				memcpy(first, pkt, len);
				flen = len;
			}
			/* Corrupt the tag, then a payload byte: both fail authentication. */
			memcpy(copy, pkt, len);
			copy[len - 1] ^= 0x01;
			size_t clen = len;
			assert_int_equal(srtp_rx_unprotect_rtp(rx, copy, &clen), -EBADMSG);
			memcpy(copy, pkt, len);
			copy[20] ^= 0x80;
			clen = len;
			assert_int_equal(srtp_rx_unprotect_rtp(rx, copy, &clen), -EBADMSG);
			/* The genuine packet still passes, once. */
			memcpy(copy, pkt, len);
			clen = len;
			assert_int_equal(srtp_rx_unprotect_rtp(rx, copy, &clen), 0);
			clen = len;
			assert_int_equal(srtp_rx_unprotect_rtp(rx, pkt, &clen), -EALREADY);
		}
		/* Older than the 1024-packet window. */
		len = flen;
		assert_int_equal(srtp_rx_unprotect_rtp(rx, first, &len), -EALREADY);
		/* A truncated packet and a too small buffer. */
		len = 11;
		assert_int_equal(srtp_rx_unprotect_rtp(rx, pkt, &len), -EBADMSG);
		len = rtp_packet(pkt, 1, 5000, 1);
		assert_int_equal(srtp_tx_protect_rtp(tx, pkt, &len, len + 4), -ENOBUFS);
		/* The sender refuses to repeat an index (allow_repeat_tx off). */
		len = rtp_packet(pkt, 1, 5000, 1);
		assert_int_equal(srtp_tx_protect_rtp(tx, pkt, &len, sizeof(pkt)), 0);
		len = rtp_packet(pkt, 1, 5000, 1);
		assert_int_equal(srtp_tx_protect_rtp(tx, pkt, &len, sizeof(pkt)), -EALREADY);
		srtp_tx_free(tx);
		srtp_rx_free(rx);
	}
}

/* RFC 4568 §6.1 / RFC 3711 §3.1: two master keys told apart by a 2-byte MKI carried in every
 * packet; the receiver picks the key by it, a packet with an unknown MKI fails, and a context
 * without MKI cannot read MKI packets (what every packet of an MKI offer did before). */
static void test_mki(void **state)
{
	const struct srtp_suite_info *s = srtp_suite_by_name(STR_LIT("AES_CM_128_HMAC_SHA1_80"));
	uint8_t k1[30], k2[30], pkt[PKT_CAP], copy[PKT_CAP];
	struct srtp_params p = {0};
	struct srtp_tx *tx = NULL;
	struct srtp_rx *rx = NULL, *plain = NULL;
	size_t len, clen;

	fill_key(k1, sizeof(k1), 1);
	fill_key(k2, sizeof(k2), 2);
	p.keys[0] =
		(struct srtp_master_key){.key_salt = k1, .len = 30, .mki = {0, 1}, .mki_len = 2};
	p.keys[1] =
		(struct srtp_master_key){.key_salt = k2, .len = 30, .mki = {0, 2}, .mki_len = 2};
	p.n_keys = 2;
	assert_int_equal(srtp_tx_new_params(s, &p, &tx), 0);
	assert_int_equal(srtp_rx_new_params(s, &p, &rx), 0);
	assert_int_equal(srtp_rx_new(s, k1, 30, false, false, false, &plain), 0);
	for (size_t i = 0; i < 20; i++) {
		if (i == 10)
			assert_int_equal(srtp_tx_select_key(tx, 1), 0);
		len = rtp_packet(pkt, 9, (uint16_t)(i + 1), i);
		assert_int_equal(srtp_tx_protect_rtp(tx, pkt, &len, sizeof(pkt)), 0);
		/* 172 + 2 MKI + 10 tag; the MKI sits before the tag */
		assert_int_equal(len, 184);
		assert_int_equal(pkt[172], 0);
		assert_int_equal(pkt[173], i < 10 ? 1 : 2);
		memcpy(copy, pkt, len);
		clen = len;
		assert_int_equal(srtp_rx_unprotect_rtp(plain, copy, &clen), -EBADMSG);
		if (i == 15) {
			memcpy(copy, pkt, len);
			copy[173] = 3; /* unknown MKI */
			clen = len;
			assert_int_equal(srtp_rx_unprotect_rtp(rx, copy, &clen), -EBADMSG);
		}
		assert_int_equal(srtp_rx_unprotect_rtp(rx, pkt, &len), 0);
		assert_int_equal(len, 172);
		assert_int_equal(pkt[12], (uint8_t)(i * 7));
	}
	/* MKI lengths must agree; several keys need an MKI; no window below 64 */
	p.keys[1].mki_len = 1;
	assert_int_equal(srtp_rx_new_params(s, &p, &plain), -EINVAL);
	p.keys[0].mki_len = p.keys[1].mki_len = 0;
	assert_int_equal(srtp_rx_new_params(s, &p, &plain), -EINVAL);
	p.n_keys = 1;
	p.window = 63;
	assert_int_equal(srtp_rx_new_params(s, &p, &plain), -EINVAL);
	assert_int_equal(srtp_tx_select_key(NULL, 0), -EINVAL);
	srtp_tx_free(tx);
	srtp_rx_free(rx);
	srtp_rx_free(plain);
}

/* RFC 4568 §6.3.7 WSH: the replay window is the offered one. A packet 100 behind the newest is
 * accepted with WSH=128 and refused as too old with WSH=64. */
static void test_wsh(void **state)
{
	const struct srtp_suite_info *s = srtp_suite_by_name(STR_LIT("AES_CM_128_HMAC_SHA1_80"));
	static const uint32_t win[] = {64, 128};
	static const int want[] = {-EALREADY, 0};
	uint8_t key[30], pkt[PKT_CAP], late[PKT_CAP];

	fill_key(key, sizeof(key), 3);
	for (size_t w = 0; w < ARRAY_SIZE(win); w++) {
		struct srtp_params p = {.n_keys = 1, .window = win[w]};
		struct srtp_tx *tx = NULL;
		struct srtp_rx *rx = NULL;
		size_t len, llen = 0;

		p.keys[0] = (struct srtp_master_key){.key_salt = key, .len = 30};
		assert_int_equal(srtp_tx_new_params(s, &p, &tx), 0);
		assert_int_equal(srtp_rx_new_params(s, &p, &rx), 0);
		for (size_t i = 0; i <= 200; i++) {
			len = rtp_packet(pkt, 4, (uint16_t)(i + 1), i);
			assert_int_equal(srtp_tx_protect_rtp(tx, pkt, &len, sizeof(pkt)), 0);
			if (i == 100) { /* held back: arrives after packet 200 */
				memcpy(late, pkt, len);
				llen = len;
				continue;
			}
			assert_int_equal(srtp_rx_unprotect_rtp(rx, pkt, &len), 0);
		}
		assert_int_equal(srtp_rx_unprotect_rtp(rx, late, &llen), want[w]);
		srtp_tx_free(tx);
		srtp_rx_free(rx);
	}
}

/*
 * The replay window against a model of RFC 3711 §3.3.2 (libsrtp2's patched window is a ring,
 * patches/libsrtp2/0004): packets in order, held back and delivered late (inside, at the edge
 * of and beyond the window), duplicated, and after jumps ahead of up to twice the window; each
 * is accepted exactly when the model accepts it. Windows of 64, 96 (not a power of two) and
 * 1024 (the default) packets.
 */
#define REPLAY_N 20000

static void test_replay_window_model(void **state)
{
	const struct srtp_suite_info *s = srtp_suite_by_name(STR_LIT("AES_CM_128_HMAC_SHA1_80"));
	static const uint32_t win[] = {64, 96, 1024};
	static uint8_t pkts[REPLAY_N + 1][192];
	static size_t lens[REPLAY_N + 1];
	static bool seen[REPLAY_N + 1];
	static uint32_t late[4096];
	uint8_t key[30], copy[PKT_CAP];

	fill_key(key, sizeof(key), 9);
	for (size_t w = 0; w < ARRAY_SIZE(win); w++) {
		struct srtp_params p = {.n_keys = 1, .window = win[w]};
		struct srtp_tx *tx = NULL;
		struct srtp_rx *rx = NULL;
		uint32_t n = win[w], top = 0, cursor = 0, rnd = 12345u + (uint32_t)w, nlate = 0;
		unsigned accepted = 0, refused = 0;

		p.keys[0] = (struct srtp_master_key){.key_salt = key, .len = 30};
		assert_int_equal(srtp_tx_new_params(s, &p, &tx), 0);
		assert_int_equal(srtp_rx_new_params(s, &p, &rx), 0);
		for (uint32_t i = 1; i <= REPLAY_N; i++) {
			lens[i] = rtp_packet(pkts[i], 5, (uint16_t)i, i);
			assert_int_equal(srtp_tx_protect_rtp(tx, pkts[i], &lens[i], 192), 0);
		}
		memset(seen, 0, sizeof(seen));
		for (;;) {
			uint32_t x, r;
			size_t len;
			bool want;
			int got;

			rnd = rnd * 1103515245u + 12345u;
			r = (rnd >> 8) % 100;
			if (r < 70 || cursor == 0) {
				x = ++cursor;
			} else if (r < 80) { /* hold back a few, or up to twice the window */
				uint32_t k = 1 + (rnd >> 12) % (r < 79 ? 8 : 2 * n);

				for (uint32_t j = 1; j < k && nlate < ARRAY_SIZE(late); j++)
					late[nlate++] = cursor + j;
				cursor += k;
				x = cursor;
			} else if (r < 90 && nlate) { /* a held-back one, oldest or newest */
				uint32_t j = (rnd >> 16) % 2 ? nlate - 1 : 0;

				x = late[j];
				late[j] = late[--nlate];
			} else if (r < 95) { /* a duplicate of a recent one */
				uint32_t back = (rnd >> 10) % (n + 2);

				x = cursor > back ? cursor - back : cursor;
			} else { /* at the window's edge behind the newest */
				uint32_t back = n - 1 + (rnd >> 10) % 3;

				x = top > back ? top - back : cursor;
			}
			if (x == 0 || x > REPLAY_N)
				break;
			/* RFC 3711 §3.3.2: ahead of the newest, or inside the window and not seen
			 */
			want = x > top || (top - x < n && !seen[x]);
			memcpy(copy, pkts[x], lens[x]);
			len = lens[x];
			got = srtp_rx_unprotect_rtp(rx, copy, &len);
			if (got != (want ? 0 : -EALREADY))
				fail_msg("window %u: index %u (newest %u) %s, expected %s", n, x,
					 top, got == 0 ? "accepted" : "refused",
					 want ? "accepted" : "refused");
			if (want) {
				seen[x] = true;
				top = x > top ? x : top;
				accepted++;
			} else {
				refused++;
			}
		}
		/* the sequence reached every case often */
		if (accepted < 1000 || refused < 50)
			fail_msg("window %u: %u accepted, %u refused", n, accepted, refused);
		srtp_tx_free(tx);
		srtp_rx_free(rx);
	}
}

/*
 * Media workers run libsrtp2 on several threads at once, each on its own sessions; the running
 * HMAC-SHA1 context is per thread (patches/libsrtp2/0005): two threads protecting and
 * unprotecting at the same time must both authenticate every packet.
 */
#define THREAD_PKTS 20000

static void *srtp_thread(void *arg)
{
	const struct srtp_suite_info *s = srtp_suite_by_name(STR_LIT("AES_CM_128_HMAC_SHA1_80"));
	uintptr_t seed = (uintptr_t)arg, bad = 0;
	struct srtp_tx *tx = NULL;
	struct srtp_rx *rx = NULL;
	uint8_t key[30], pkt[PKT_CAP];

	fill_key(key, sizeof(key), (uint8_t)seed);
	if (srtp_tx_new(s, key, sizeof(key), false, false, false, &tx) < 0 ||
	    srtp_rx_new(s, key, sizeof(key), false, false, false, &rx) < 0)
		bad = THREAD_PKTS;
	for (size_t i = 0; !bad && i < THREAD_PKTS; i++) {
		size_t len = rtp_packet(pkt, (uint32_t)seed, (uint16_t)i, i);

		if (srtp_tx_protect_rtp(tx, pkt, &len, sizeof(pkt)) < 0 ||
		    srtp_rx_unprotect_rtp(rx, pkt, &len) < 0)
			bad++;
	}
	srtp_tx_free(tx);
	srtp_rx_free(rx);
	return (void *)bad;
}

static void test_threads(void **state)
{
	pthread_t t[2];
	void *bad[2];

	assert_int_equal(srtp_global_init(), 0);
	for (uintptr_t i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, srtp_thread, (void *)(i + 1)), 0);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(t[i], &bad[i]), 0);
		assert_int_equal((uintptr_t)bad[i], 0);
	}
}

static void test_bad_args(void **state)
{
	const struct srtp_suite_info *cm = srtp_suite_by_name(STR_LIT("AES_CM_128_HMAC_SHA1_80"));
	const struct srtp_suite_info *gcm = srtp_suite_by_name(STR_LIT("AEAD_AES_128_GCM"));
	uint8_t key[SRTP_KEY_SALT_MAX] = {0};
	struct srtp_rx *rx = (struct srtp_rx *)0x1;
	struct srtp_tx *tx = NULL;

	assert_int_equal(srtp_rx_new(cm, key, 29, false, false, false, &rx), -EINVAL);
	assert_int_equal(srtp_rx_new(cm, key, 31, false, false, false, &rx), -EINVAL);
	assert_int_equal(srtp_rx_new(NULL, key, 30, false, false, false, &rx), -EINVAL);
	assert_int_equal(srtp_rx_new(gcm, key, 30, false, false, false, &rx), -EINVAL);
	/* RFC 7714: no UNAUTHENTICATED_SRTP with AEAD. */
	assert_int_equal(srtp_rx_new(gcm, key, 28, false, false, true, &rx), -EINVAL);
	assert_int_equal(srtp_tx_new(gcm, key, 28, false, false, true, &tx), -EINVAL);
	assert_int_equal(srtp_rx_new(gcm, key, 28, true, false, false, &rx), -EINVAL);
	/* UNENCRYPTED_SRTCP stays possible with AEAD. */
	assert_int_equal(srtp_tx_new(gcm, key, 28, false, true, false, &tx), 0);
	tx = srtp_tx_free(tx);
	/* ret_* untouched on failure. */
	assert_ptr_equal(rx, (struct srtp_rx *)0x1);
	assert_null(tx);
	assert_null(srtp_rx_free(NULL));
	assert_null(srtp_tx_free(NULL));
}

/* ---- An independent SRTP built from OpenSSL primitives ---- */

static void aes_ecb(const uint8_t *key, size_t klen, const uint8_t in[16], uint8_t out[16])
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n;

	assert_non_null(c);
	assert_int_equal(EVP_EncryptInit_ex(c,
					    klen == 32	 ? EVP_aes_256_ecb()
					    : klen == 24 ? EVP_aes_192_ecb()
							 : EVP_aes_128_ecb(),
					    NULL, key, NULL),
			 1);
	EVP_CIPHER_CTX_set_padding(c, 0);
	assert_int_equal(EVP_EncryptUpdate(c, out, &n, in, 16), 1);
	EVP_CIPHER_CTX_free(c);
}

/* RFC 3711 §4.3.1 with key_derivation_rate 0: x = label << 48 XOR master salt, then the AES-CM
 * keystream from IV x * 2^16. */
static void kdf(const uint8_t *mkey, size_t klen, const uint8_t *msalt, size_t slen, uint8_t label,
		uint8_t *out, size_t olen)
{
	uint8_t iv[16] = {0}, blk[16];

	memcpy(iv, msalt, slen);
	iv[7] ^= label;
	for (size_t off = 0, ctr = 0; off < olen; off += 16, ctr++) {
		iv[14] = (uint8_t)(ctr >> 8);
		iv[15] = (uint8_t)ctr;
		aes_ecb(mkey, klen, iv, blk);
		memcpy(out + off, blk, MIN(16, olen - off));
	}
}

static void test_rfc3711_b3_kdf(void **state)
{
	uint8_t mk[16], ms[14], want[32], got[32];

	unhex("E1F97A0D3E018BE0D64FA32C06DE4139", mk, sizeof(mk));
	unhex("0EC675AD498AFEEBB6960B3AABE6", ms, sizeof(ms));
	kdf(mk, 16, ms, 14, 0x00, got, 16);
	unhex("C61E7A93744F39EE10734AFE3FF7A087", want, sizeof(want));
	assert_memory_equal(got, want, 16);
	kdf(mk, 16, ms, 14, 0x02, got, 14);
	unhex("30CBBC08863D8C85D49DB34A9AE1", want, sizeof(want));
	assert_memory_equal(got, want, 14);
	kdf(mk, 16, ms, 14, 0x01, got, 20);
	unhex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4", want, sizeof(want));
	assert_memory_equal(got, want, 20);
}

/* RFC 3711 §4.1.1 (AES-CM) and §4.2 (HMAC-SHA1 over packet || ROC). */
static size_t ref_protect_cm(const struct srtp_suite_info *s, const uint8_t *mkey, uint8_t *p,
			     size_t len, uint32_t roc)
{
	uint8_t ck[32], cs[14], ak[20], iv[16] = {0}, mac[20], rocb[4];
	const uint8_t *ms = mkey + s->key_len;
	uint16_t seq = (uint16_t)(p[2] << 8 | p[3]);
	uint8_t buf[PKT_CAP + 4];
	unsigned mlen = 0;
	EVP_CIPHER_CTX *c;
	int n;

	kdf(mkey, s->key_len, ms, 14, 0x00, ck, s->key_len);
	kdf(mkey, s->key_len, ms, 14, 0x01, ak, 20);
	kdf(mkey, s->key_len, ms, 14, 0x02, cs, 14);
	memcpy(iv, cs, 14);
	for (int i = 0; i < 4; i++)
		iv[4 + i] ^= p[8 + i];
	rocb[0] = (uint8_t)(roc >> 24);
	rocb[1] = (uint8_t)(roc >> 16);
	rocb[2] = (uint8_t)(roc >> 8);
	rocb[3] = (uint8_t)roc;
	for (int i = 0; i < 4; i++)
		iv[8 + i] ^= rocb[i];
	iv[12] ^= (uint8_t)(seq >> 8);
	iv[13] ^= (uint8_t)seq;
	c = EVP_CIPHER_CTX_new();
	assert_int_equal(EVP_EncryptInit_ex(c,
					    s->key_len == 32   ? EVP_aes_256_ctr()
					    : s->key_len == 24 ? EVP_aes_192_ctr()
							       : EVP_aes_128_ctr(),
					    NULL, ck, iv),
			 1);
	assert_int_equal(EVP_EncryptUpdate(c, p + 12, &n, p + 12, (int)len - 12), 1);
	EVP_CIPHER_CTX_free(c);
	memcpy(buf, p, len);
	memcpy(buf + len, rocb, 4);
	assert_non_null(HMAC(EVP_sha1(), ak, 20, buf, len + 4, mac, &mlen));
	memcpy(p + len, mac, s->auth_tag_len);
	return len + s->auth_tag_len;
}

/* RFC 7714 AES-GCM with session keys (what the RFC's vectors give): seals in place what follows
 * the first aad_len bytes (the AAD), appends the 16-byte tag, returns the new length. */
static size_t gcm_seal(const uint8_t *ck, size_t klen, const uint8_t iv[12], uint8_t *p,
		       size_t aad_len, const uint8_t *extra_aad, size_t extra_len, size_t len)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n;

	assert_int_equal(EVP_EncryptInit_ex(c, klen == 32 ? EVP_aes_256_gcm() : EVP_aes_128_gcm(),
					    NULL, ck, iv),
			 1);
	assert_int_equal(EVP_EncryptUpdate(c, NULL, &n, p, (int)aad_len), 1);
	if (extra_len)
		assert_int_equal(EVP_EncryptUpdate(c, NULL, &n, extra_aad, (int)extra_len), 1);
	if (len > aad_len)
		assert_int_equal(
			EVP_EncryptUpdate(c, p + aad_len, &n, p + aad_len, (int)(len - aad_len)),
			1);
	assert_int_equal(EVP_EncryptFinal_ex(c, p + len, &n), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, p + len), 1);
	EVP_CIPHER_CTX_free(c);
	return len + 16;
}

/* RFC 7714 §8.1: IV = (00 00 || SSRC || ROC || SEQ) XOR salt; AAD = the RTP header (12 bytes
 * here: no CSRC, no extension). */
static size_t gcm_rtp_session(const uint8_t *ck, size_t klen, const uint8_t cs[12], uint8_t *p,
			      size_t len, uint32_t roc)
{
	uint8_t iv[12] = {0};

	memcpy(iv + 2, p + 8, 4);
	iv[6] = (uint8_t)(roc >> 24);
	iv[7] = (uint8_t)(roc >> 16);
	iv[8] = (uint8_t)(roc >> 8);
	iv[9] = (uint8_t)roc;
	iv[10] = p[2];
	iv[11] = p[3];
	for (int i = 0; i < 12; i++)
		iv[i] ^= cs[i];
	return gcm_seal(ck, klen, iv, p, 12, NULL, 0, len);
}

/* RFC 7714 §9.1: IV = (00 00 || SSRC || 00 00 || 0 || 31-bit SRTCP index) XOR salt; AAD = the
 * first 8 bytes || E || index; encrypted: the rest (E = 1), or nothing and it all goes into the
 * AAD (E = 0, §9.2); the packet ends with the tag, then E || index. */
static size_t gcm_rtcp_session(const uint8_t *ck, size_t klen, const uint8_t cs[12], uint8_t *p,
			       size_t len, uint32_t index, bool encrypt)
{
	uint8_t iv[12] = {0}, ei[4];
	uint32_t e = (encrypt ? 0x80000000u : 0) | index;
	size_t n;

	memcpy(iv + 2, p + 4, 4);
	iv[8] = (uint8_t)(index >> 24);
	iv[9] = (uint8_t)(index >> 16);
	iv[10] = (uint8_t)(index >> 8);
	iv[11] = (uint8_t)index;
	for (int i = 0; i < 12; i++)
		iv[i] ^= cs[i];
	ei[0] = (uint8_t)(e >> 24);
	ei[1] = (uint8_t)(e >> 16);
	ei[2] = (uint8_t)(e >> 8);
	ei[3] = (uint8_t)e;
	n = gcm_seal(ck, klen, iv, p, encrypt ? 8 : len, ei, 4, len);
	memcpy(p + n, ei, 4);
	return n + 4;
}

/* §11: the session keys come from the RFC 3711 KDF with the 96-bit salt zero-padded; RTP
 * labels 0 (key) and 2 (salt), RTCP 3 and 5. */
static void gcm_session_keys(const struct srtp_suite_info *s, const uint8_t *mkey, bool rtcp,
			     uint8_t ck[32], uint8_t cs[12])
{
	uint8_t ms[14] = {0}, salt[16];

	memcpy(ms, mkey + s->key_len, 12);
	kdf(mkey, s->key_len, ms, 14, rtcp ? 0x03 : 0x00, ck, s->key_len);
	kdf(mkey, s->key_len, ms, 14, rtcp ? 0x05 : 0x02, salt, 12);
	memcpy(cs, salt, 12);
}

static size_t ref_protect_gcm(const struct srtp_suite_info *s, const uint8_t *mkey, uint8_t *p,
			      size_t len, uint32_t roc)
{
	uint8_t ck[32], cs[12];

	gcm_session_keys(s, mkey, false, ck, cs);
	return gcm_rtp_session(ck, s->key_len, cs, p, len, roc);
}

/* RFC 3711 §3.4 SRTCP with AES-CM + HMAC-SHA1: labels 3 (key), 4 (auth), 5 (salt); the IV is
 * the RTP one with the SRTCP index in place of the packet index; encrypted: all after the
 * first 8 bytes; then E || index, then the tag over packet || E || index. */
static size_t ref_protect_rtcp_cm(const struct srtp_suite_info *s, const uint8_t *mkey, uint8_t *p,
				  size_t len, uint32_t index)
{
	uint8_t ck[32], cs[14], ak[20], iv[16] = {0}, mac[20];
	const uint8_t *ms = mkey + s->key_len;
	uint32_t e = 0x80000000u | index;
	unsigned mlen = 0;
	EVP_CIPHER_CTX *c;
	int n;

	kdf(mkey, s->key_len, ms, 14, 0x03, ck, s->key_len);
	kdf(mkey, s->key_len, ms, 14, 0x04, ak, 20);
	kdf(mkey, s->key_len, ms, 14, 0x05, cs, 14);
	memcpy(iv, cs, 14);
	for (int i = 0; i < 4; i++)
		iv[4 + i] ^= p[4 + i];
	iv[10] ^= (uint8_t)(index >> 24);
	iv[11] ^= (uint8_t)(index >> 16);
	iv[12] ^= (uint8_t)(index >> 8);
	iv[13] ^= (uint8_t)index;
	c = EVP_CIPHER_CTX_new();
	assert_int_equal(EVP_EncryptInit_ex(c,
					    s->key_len == 32   ? EVP_aes_256_ctr()
					    : s->key_len == 24 ? EVP_aes_192_ctr()
							       : EVP_aes_128_ctr(),
					    NULL, ck, iv),
			 1);
	assert_int_equal(EVP_EncryptUpdate(c, p + 8, &n, p + 8, (int)len - 8), 1);
	EVP_CIPHER_CTX_free(c);
	p[len] = (uint8_t)(e >> 24);
	p[len + 1] = (uint8_t)(e >> 16);
	p[len + 2] = (uint8_t)(e >> 8);
	p[len + 3] = (uint8_t)e;
	assert_non_null(HMAC(EVP_sha1(), ak, 20, p, len + 4, mac, &mlen));
	memcpy(p + len + 4, mac, s->rtcp_auth_tag_len);
	return len + 4 + s->rtcp_auth_tag_len;
}

static size_t ref_protect_rtcp(const struct srtp_suite_info *s, const uint8_t *mkey, uint8_t *p,
			       size_t len, uint32_t index)
{
	uint8_t ck[32], cs[12];

	if (!s->aead)
		return ref_protect_rtcp_cm(s, mkey, p, len, index);
	gcm_session_keys(s, mkey, true, ck, cs);
	return gcm_rtcp_session(ck, s->key_len, cs, p, len, index, true);
}

/* The RTCP sender report of RFC 7714 §17 (56 bytes): something to encrypt. */
static size_t rtcp_sr_packet(uint8_t *p)
{
	return unhex("81c8000d4d6172734e5450314e545032525450200000042a0000e9304c756e61"
		     "deadbeefdeadbeefdeadbeefdeadbeefdeadbeef",
		     p, PKT_CAP);
}

/* RFC 7714 §16 and §17 known answers (session key and salt given directly, as there). */
static void test_rfc7714_vectors(void **state)
{
	static const struct {
		const char *what;
		size_t klen;
		bool rtcp, encrypt;
		const char *want;
	} v[] = {
		{"16.1.1 RTP AEAD_AES_128_GCM", 16, false, true,
		 "8040f17b8041f8d35501a0b2f24de3a3fb34de6cacba861c9d7e4bcabe633bd50d294e6f42a5f47a"
		 "51c7d19b36de3adf8833899d7f27beb16a9152cf765ee4390cce"},
		{"16.2.1 RTP AEAD_AES_256_GCM", 32, false, true,
		 "8040f17b8041f8d35501a0b232b1de78a822fe12ef9f78fa332e33aab18012389a58e2f3b50b2a02"
		 "76ffae0f1ba63799b87b7aa3db36dfffd6b0f9bb7878d7a76c13"},
		{"17.1 SRTCP AEAD_AES_128_GCM", 16, true, true,
		 "81c8000d4d61727363e94885dcdab67ca727d7662f6b7e997ff5c0f76c06f32dc676a5f1730d6fda"
		 "4ce09b4686303ded0bb9275bc84aa45896cf4d2fc5abf87245d9eade800005d4"},
		{"17.2 SRTCP AEAD_AES_256_GCM", 32, true, true,
		 "81c8000d4d617273d50ae4d1f5ce5d304ba297e47d470c282c3ece5dbffe0a50a2eaa5c1110555be"
		 "8415f658c61de0476f1b6fad1d1eb30c4446839f57ff6f6cb26ac3be800005d4"},
		{"17.3 SRTCP AEAD_AES_128_GCM, not encrypted", 16, true, false,
		 "81c8000d4d6172734e5450314e545032525450200000042a0000e9304c756e61deadbeefdeadbeef"
		 "deadbeefdeadbeefdeadbeef841dd9683dd78ec92ae58790125f62b3000005d4"},
		{"17.4 SRTCP AEAD_AES_256_GCM, not encrypted", 32, true, false,
		 "81c8000d4d6172734e5450314e545032525450200000042a0000e9304c756e61deadbeefdeadbeef"
		 "deadbeefdeadbeefdeadbeef91db4afbfeee5a978fab4393ed2615fe000005d4"},
	};
	uint8_t key[32], salt[12], p[PKT_CAP], want[PKT_CAP];

	unhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", key, sizeof(key));
	unhex("517569642070726f2071756f", salt, sizeof(salt));
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n, wn = unhex(v[i].want, want, sizeof(want));

		if (v[i].rtcp) {
			n = gcm_rtcp_session(key, v[i].klen, salt, p, rtcp_sr_packet(p), 0x5d4,
					     v[i].encrypt);
		} else {
			/* "Gallia est omnis divisa in partes tres" (38 bytes after the header). */
			n = unhex(
				"8040f17b8041f8d35501a0b247616c6c696120657374206f6d6e69732064697669"
				"736120696e207061727465732074726573",
				p, sizeof(p));
			n = gcm_rtp_session(key, v[i].klen, salt, p, n, 0);
		}
		if (n != wn || memcmp(p, want, wn))
			fail_msg("RFC 7714 §%s: the reference construction differs", v[i].what);
	}
}

static void test_independent_reference(void **state)
{
	const struct srtp_suite_info *s;

	for (size_t k = 0; (s = srtp_suite_at(k)); k++) {
		uint8_t key[SRTP_KEY_SALT_MAX], ours[PKT_CAP], ref[PKT_CAP];
		struct srtp_tx *tx = NULL;
		struct srtp_rx *rx = NULL;
		size_t klen = s->key_len + s->salt_len;

		fill_key(key, klen, (uint8_t)(0x10 * k + 1));
		assert_int_equal(srtp_tx_new(s, key, klen, false, false, false, &tx), 0);
		assert_int_equal(srtp_rx_new(s, key, klen, false, false, false, &rx), 0);
		for (size_t i = 0; i < 40; i++) {
			uint16_t seq = (uint16_t)(65520 + i);
			uint32_t roc = 65520 + i > 65535 ? 1 : 0;
			size_t n = rtp_packet(ours, 0x01020304, seq, i), len = n, rlen;

			memcpy(ref, ours, n);
			rlen = s->aead ? ref_protect_gcm(s, key, ref, n, roc)
				       : ref_protect_cm(s, key, ref, n, roc);
			assert_int_equal(srtp_tx_protect_rtp(tx, ours, &len, sizeof(ours)), 0);
			if (len != rlen || memcmp(ours, ref, rlen))
				fail_msg("%s differs from the reference at seq %u", s->name, seq);
			assert_int_equal(srtp_rx_unprotect_rtp(rx, ref, &rlen), 0);
			assert_int_equal(rlen, n);
		}
		/* SRTCP: the index is the one our packet carries (E || index before the tag of
		 * AES-CM, at the very end of AES-GCM); it must count up from the first one. */
		for (uint32_t i = 0, first = 0; i < 5; i++) {
			size_t n = rtcp_sr_packet(ours), len = n, rlen, at;
			uint32_t ei;

			memcpy(ref, ours, n);
			assert_int_equal(srtp_tx_protect_rtcp(tx, ours, &len, sizeof(ours)), 0);
			at = s->aead ? len - 4 : len - 4 - s->rtcp_auth_tag_len;
			assert_int_equal(at, s->aead ? n + 16 : n);
			ei = (uint32_t)ours[at] << 24 | (uint32_t)ours[at + 1] << 16 |
			     (uint32_t)ours[at + 2] << 8 | ours[at + 3];
			assert_true(ei & 0x80000000u); /* encrypted */
			if (i == 0)
				first = ei & 0x7fffffffu;
			assert_int_equal(ei & 0x7fffffffu, first + i);
			rlen = ref_protect_rtcp(s, key, ref, n, first + i);
			if (len != rlen || memcmp(ours, ref, rlen))
				fail_msg("%s SRTCP differs from the reference at index %u", s->name,
					 first + i);
			assert_int_equal(srtp_rx_unprotect_rtcp(rx, ref, &rlen), 0);
			assert_int_equal(rlen, n);
		}
		srtp_tx_free(tx);
		srtp_rx_free(rx);
	}
}

/* Every payload length from 0 to 1,500 bytes, RTP and SRTCP, against the reference: the AES-ICM
 * patch (patches/libsrtp2/0002) builds the keystream itself in batches of 32 blocks and keeps
 * the end of a partial block, so lengths that are not a multiple of 16, zero, one batch and
 * more than one batch each take another path through it. */
static void test_every_length(void **state)
{
	const struct srtp_suite_info *s;

	for (size_t k = 0; (s = srtp_suite_at(k)); k++) {
		uint8_t key[SRTP_KEY_SALT_MAX], ours[PKT_CAP], ref[PKT_CAP];
		struct srtp_tx *tx = NULL;
		struct srtp_rx *rx = NULL;
		size_t klen = s->key_len + s->salt_len;
		uint32_t first = 0;

		fill_key(key, klen, (uint8_t)(0x10 * k + 7));
		assert_int_equal(srtp_tx_new(s, key, klen, false, false, false, &tx), 0);
		assert_int_equal(srtp_rx_new(s, key, klen, false, false, false, &rx), 0);
		for (size_t pl = 0; pl <= 1500; pl++) {
			size_t n = 12 + pl, len = n, rlen, at;
			uint32_t ei;

			rtp_packet(ours, 0x0a0b0c0d, (uint16_t)(pl + 1), 1);
			for (size_t j = 0; j < pl; j++)
				ours[12 + j] = (uint8_t)(j * 31 + pl);
			memcpy(ref, ours, n);
			rlen = s->aead ? ref_protect_gcm(s, key, ref, n, 0)
				       : ref_protect_cm(s, key, ref, n, 0);
			assert_int_equal(srtp_tx_protect_rtp(tx, ours, &len, sizeof(ours)), 0);
			if (len != rlen || memcmp(ours, ref, rlen))
				fail_msg(
					"%s RTP differs from the reference with a %zu-byte payload",
					s->name, pl);
			assert_int_equal(srtp_rx_unprotect_rtp(rx, ref, &rlen), 0);
			assert_int_equal(rlen, n);

			n = rtcp_packet(ours, 0x0a0b0c0d) + pl;
			for (size_t j = 0; j < pl; j++)
				ours[8 + j] = (uint8_t)(j * 17 + pl);
			memcpy(ref, ours, n);
			len = n;
			assert_int_equal(srtp_tx_protect_rtcp(tx, ours, &len, sizeof(ours)), 0);
			at = s->aead ? len - 4 : len - 4 - s->rtcp_auth_tag_len;
			ei = (uint32_t)ours[at] << 24 | (uint32_t)ours[at + 1] << 16 |
			     (uint32_t)ours[at + 2] << 8 | ours[at + 3];
			if (pl == 0)
				first = ei & 0x7fffffffu;
			rlen = ref_protect_rtcp(s, key, ref, n, first + (uint32_t)pl);
			if (len != rlen || memcmp(ours, ref, rlen))
				fail_msg("%s SRTCP differs from the reference with a %zu-byte "
					 "payload",
					 s->name, pl);
			assert_int_equal(srtp_rx_unprotect_rtcp(rx, ref, &rlen), 0);
			assert_int_equal(rlen, n);
		}
		srtp_tx_free(tx);
		srtp_rx_free(rx);
	}
}

/* ---- Packets protected by Debian's libsrtp2 (NSS) in a separate process ---- */

static const char *helper_path(char *buf, size_t n)
{
	const char *b = getenv("BUILD");

	snprintf(buf, n, "%s/tests/helpers/srtp-system", b && *b ? b : "build");
	return buf;
}

static void test_system_libsrtp(void **state)
{
	static const char *const names[] = {
		"AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32", "AES_256_CM_HMAC_SHA1_80",
		"AES_256_CM_HMAC_SHA1_32", "AEAD_AES_128_GCM",	      "AEAD_AES_256_GCM",
	};
	char path[256], cmd[512], hex[2 * SRTP_KEY_SALT_MAX + 1];
	unsigned checked = 0;

#ifdef __SANITIZE_ADDRESS__
	/* The helper dlopens Debian's libsrtp2 with RTLD_DEEPBIND (so its symbols do not bind to
	 * our static copy), which AddressSanitizer refuses; the plain build runs this check. */
	print_message(
		"skip: the system-libsrtp2 cross-check cannot run under ASan (RTLD_DEEPBIND)\n");
	skip();
#endif
	helper_path(path, sizeof(path));
	if (access(path, X_OK) < 0) {
		print_message("skip: %s not built\n", path);
		skip();
	}
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		const struct srtp_suite_info *s = srtp_suite_by_name(str_from_cstr(names[k]));
		uint8_t key[SRTP_KEY_SALT_MAX], pkt[PKT_CAP], plain[PKT_CAP], h[3];
		size_t klen = s->key_len + s->salt_len, rtp = 0, rtcp = 0;
		struct srtp_rx *rx = NULL;
		FILE *f;
		int st;

		fill_key(key, klen, (uint8_t)(0x33 + k));
		for (size_t i = 0; i < klen; i++)
			snprintf(hex + 2 * i, 3, "%02x", key[i]);
		/* 200 packets from seq 65500: crosses the rollover. */
		snprintf(cmd, sizeof(cmd), "%s %s %s 305419896 65500 200", path, names[k], hex);
		f = popen(cmd, "r");
		assert_non_null(f);
		assert_int_equal(srtp_rx_new(s, key, klen, false, false, false, &rx), 0);
		while (fread(h, 1, 3, f) == 3) {
			size_t len = (size_t)(h[1] << 8 | h[2]), n;

			assert_true(len <= sizeof(pkt));
			assert_int_equal(fread(pkt, 1, len, f), len);
			if (h[0] == 'R') {
				n = rtp_packet(plain, 305419896, (uint16_t)(65500 + rtp), rtp);
				assert_int_equal(len, n + s->auth_tag_len);
				assert_int_equal(srtp_rx_unprotect_rtp(rx, pkt, &len), 0);
				rtp++;
			} else {
				n = rtcp_packet(plain, 305419896);
				assert_int_equal(srtp_rx_unprotect_rtcp(rx, pkt, &len), 0);
				rtcp++;
			}
			assert_int_equal(len, n);
			assert_memory_equal(pkt, plain, n);
		}
		st = pclose(f);
		srtp_rx_free(rx);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
			print_message("note: system libsrtp2 lacks %s\n", names[k]);
			continue;
		}
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		assert_int_equal(rtp, 200);
		assert_int_equal(rtcp, 4);
		checked++;
	}
	assert_true(checked > 0);
}

static int mem_init_result = -1;

static void swap_bytes(void *a, void *b, size_t n)
{
	uint8_t *x = a, *y = b;

	for (size_t i = 0; i < n; i++) {
		uint8_t t = x[i];

		x[i] = y[i];
		y[i] = t;
	}
}

/*
 * The blocks a receive context notes are its RTP cipher's OpenSSL state, not its RTCP cipher's
 * nor the key derivation's: with the noted EVP_CIPHER_CTX's contents swapped with another
 * session's, RTP packets decrypt with the other session's key (AES-CM: the tag, HMAC-SHA1's,
 * still passes and the payload comes out wrong; AEAD: the tag fails) while RTCP is unaffected;
 * swapped back, RTP decrypts again. The second block is the one the first refers to (the
 * provider's context): a word of the EVP_CIPHER_CTX holds its address.
 */
static void test_openssl_blocks(void **state)
{
	const struct srtp_suite_info *s;

	assert_int_equal(mem_init_result, 0);
	for (size_t k = 0; (s = srtp_suite_at(k)); k++) {
		uint8_t key[SRTP_KEY_SALT_MAX], pkt[PKT_CAP], plain[PKT_CAP];
		struct srtp_rx *rx = NULL, *other = NULL;
		struct srtp_tx *tx = NULL;
		size_t klen = s->key_len + s->salt_len, len, n, blen[2], olen[2];
		const void *b[2], *o[2];
		bool refers = false;
		int r;

		fill_key(key, klen, 0x21);
		assert_int_equal(srtp_tx_new(s, key, klen, false, false, false, &tx), 0);
		assert_int_equal(srtp_rx_new(s, key, klen, false, false, false, &rx), 0);
		fill_key(key, klen, 0x99);
		assert_int_equal(srtp_rx_new(s, key, klen, false, false, false, &other), 0);
		assert_int_equal(srtp_rx_openssl_blocks(rx, b, blen), 2);
		assert_int_equal(srtp_rx_openssl_blocks(other, o, olen), 2);
		assert_int_equal(blen[0], olen[0]);
		assert_int_equal(blen[1], olen[1]);
		for (size_t i = 0; i + sizeof(void *) <= blen[0]; i += sizeof(void *)) {
			const void *w;

			memcpy(&w, (const uint8_t *)b[0] + i, sizeof(w));
			refers |= w == b[1];
		}
		assert_true(refers);

		for (size_t i = 0; i < 3; i++) {
			n = rtp_packet(plain, 0x1234, (uint16_t)(10 + i), i);
			len = n;
			memcpy(pkt, plain, n);
			assert_int_equal(srtp_tx_protect_rtp(tx, pkt, &len, sizeof(pkt)), 0);
			if (i == 1)
				swap_bytes((void *)b[0], (void *)o[0], blen[0]);
			r = srtp_rx_unprotect_rtp(rx, pkt, &len);
			if (i != 1) {
				assert_int_equal(r, 0);
				assert_memory_equal(pkt, plain, n);
				continue;
			}
			if (s->aead) {
				assert_int_equal(r, -EBADMSG);
			} else {
				assert_int_equal(r, 0);
				assert_memory_not_equal(pkt + 12, plain + 12, n - 12);
			}
			n = rtcp_packet(plain, 0x1234);
			len = n;
			memcpy(pkt, plain, n);
			assert_int_equal(srtp_tx_protect_rtcp(tx, pkt, &len, sizeof(pkt)), 0);
			assert_int_equal(srtp_rx_unprotect_rtcp(rx, pkt, &len), 0);
			assert_memory_equal(pkt, plain, n);
			swap_bytes((void *)b[0], (void *)o[0], blen[0]);
		}
		srtp_tx_free(tx);
		srtp_rx_free(rx);
		srtp_rx_free(other);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_openssl_blocks),
		cmocka_unit_test(test_suite_table),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_tamper_and_replay),
		cmocka_unit_test(test_replay_window_model),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_mki),
		cmocka_unit_test(test_wsh),
		cmocka_unit_test(test_rfc3711_b3_kdf),
		cmocka_unit_test(test_rfc7714_vectors),
		cmocka_unit_test(test_independent_reference),
		cmocka_unit_test(test_every_length),
		cmocka_unit_test(test_system_libsrtp),
	};
	/* as siprecd's main() does, before anything uses OpenSSL */
	mem_init_result = srtp_openssl_mem_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
