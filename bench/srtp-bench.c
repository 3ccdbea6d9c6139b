// SPDX-License-Identifier: MIT
/*
 * SRTP receive micro-benchmark: ns per srtp_unprotect of a 160-byte G.711 packet at 1, 500 and
 * 4000 streams (one receive context each, packets visited round-robin over the streams as a
 * recorder sees them), for siprecd's own libsrtp2 (.deps, OpenSSL, through src/media/srtp.c)
 * and Debian's system libsrtp2 (libsrtp2.so.1, dlopen'ed with RTLD_DEEPBIND as
 * tests/helpers/srtp-system.c does). Packets are protected once, up front, with siprecd's tx.
 *
 * usage: srtp-bench [SUITE] [STREAMS...]   (default AES_CM_128_HMAC_SHA1_80 1 500 4000)
 * SRTP_BENCH_SYSTEM=0 skips Debian's library (e.g. under valgrind, where NSS takes minutes).
 * output: one line per library and stream count: "srtp <lib> <suite> streams=N ns/pkt=X".
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <srtp2/srtp.h>

#include "siprecd/srtp.h"
#include "siprecd/str.h"

#define PLAIN_LEN 172
#define PKT_CAP 256
#define TARGET_PKTS 200000u /* unprotect calls per measurement */

struct syslib {
	srtp_err_status_t (*init)(void);
	srtp_err_status_t (*create)(srtp_t *, const srtp_policy_t *);
	srtp_err_status_t (*unprotect)(srtp_t, void *, int *);
	srtp_err_status_t (*dealloc)(srtp_t);
	void (*set)(srtp_crypto_policy_t *);
};

static const struct {
	const char *name, *fn;
} sys_suites[] = {
	{"AES_CM_128_HMAC_SHA1_80", "srtp_crypto_policy_set_rtp_default"},
	{"AES_CM_128_HMAC_SHA1_32", "srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32"},
	{"AEAD_AES_128_GCM", "srtp_crypto_policy_set_aes_gcm_128_16_auth"},
	{"AEAD_AES_256_GCM", "srtp_crypto_policy_set_aes_gcm_256_16_auth"},
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int load_system(const char *suite, struct syslib *l)
{
	void *h = dlopen("libsrtp2.so.1", RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);

	if (!h) {
		fprintf(stderr, "srtp-bench: system libsrtp2: %s\n", dlerror());
		return -ENOENT;
	}
	l->init = (srtp_err_status_t(*)(void))dlsym(h, "srtp_init");
	l->create = (srtp_err_status_t(*)(srtp_t *, const srtp_policy_t *))dlsym(h, "srtp_create");
	l->unprotect = (srtp_err_status_t(*)(srtp_t, void *, int *))dlsym(h, "srtp_unprotect");
	l->dealloc = (srtp_err_status_t(*)(srtp_t))dlsym(h, "srtp_dealloc");
	l->set = NULL;
	for (size_t i = 0; i < sizeof(sys_suites) / sizeof(sys_suites[0]); i++)
		if (strcmp(sys_suites[i].name, suite) == 0)
			l->set = (void (*)(srtp_crypto_policy_t *))dlsym(h, sys_suites[i].fn);
	if (!l->init || !l->create || !l->unprotect || !l->dealloc || !l->set)
		return -ENOENT;
	return l->init() == srtp_err_status_ok ? 0 : -EIO;
}

/* Runs one measurement; returns ns per packet, or a negative value on failure. */
static double run(const struct srtp_suite_info *si, struct syslib *sys, unsigned streams)
{
	unsigned rounds = TARGET_PKTS / streams, bad = 0;
	size_t kl = si->key_len + si->salt_len;
	uint8_t *keys = malloc((size_t)streams * kl);
	uint8_t *pkts = malloc((size_t)streams * rounds * PKT_CAP);
	uint16_t *lens = malloc((size_t)streams * rounds * sizeof(*lens));
	void **rx = calloc(streams, sizeof(*rx));
	uint8_t buf[PKT_CAP];
	uint64_t t0, t1;

	if (rounds < 50)
		rounds = 50;
	if (!keys || !pkts || !lens || !rx || RAND_bytes(keys, (int)(streams * kl)) != 1)
		return -1;
	for (unsigned s = 0; s < streams; s++) {
		struct srtp_tx *tx;
		uint32_t ssrc = 0x10000000u + s;

		if (srtp_tx_new(si, keys + s * kl, kl, false, false, false, &tx) < 0)
			return -1;
		for (unsigned r = 0; r < rounds; r++) {
			uint8_t *p = pkts + ((size_t)r * streams + s) * PKT_CAP;
			size_t len = PLAIN_LEN;
			uint32_t ts = r * 160;

			p[0] = 0x80;
			p[1] = 0;
			p[2] = (uint8_t)(r >> 8);
			p[3] = (uint8_t)r;
			p[4] = (uint8_t)(ts >> 24);
			p[5] = (uint8_t)(ts >> 16);
			p[6] = (uint8_t)(ts >> 8);
			p[7] = (uint8_t)ts;
			p[8] = (uint8_t)(ssrc >> 24);
			p[9] = (uint8_t)(ssrc >> 16);
			p[10] = (uint8_t)(ssrc >> 8);
			p[11] = (uint8_t)ssrc;
			memset(p + 12, 0xff, PLAIN_LEN - 12);
			if (srtp_tx_protect_rtp(tx, p, &len, PKT_CAP) < 0)
				return -1;
			lens[(size_t)r * streams + s] = (uint16_t)len;
		}
		srtp_tx_free(tx);
		if (sys) {
			srtp_policy_t pol;

			memset(&pol, 0, sizeof(pol));
			sys->set(&pol.rtp);
			sys->set(&pol.rtcp);
			pol.ssrc.type = ssrc_any_inbound;
			pol.key = keys + s * kl;
			pol.window_size = 1024;
			if (sys->create((srtp_t *)&rx[s], &pol) != srtp_err_status_ok)
				return -1;
		} else if (srtp_rx_new(si, keys + s * kl, kl, false, false, false,
				       (struct srtp_rx **)&rx[s]) < 0) {
			return -1;
		}
	}
	OPENSSL_cleanse(keys, (size_t)streams * kl);
	t0 = now_ns();
	for (unsigned r = 0; r < rounds; r++)
		for (unsigned s = 0; s < streams; s++) {
			size_t i = (size_t)r * streams + s;
			size_t len = lens[i];

			memcpy(buf, pkts + i * PKT_CAP, len);
			if (sys) {
				int l = (int)len;

				bad += sys->unprotect(rx[s], buf, &l) != srtp_err_status_ok;
			} else {
				bad += srtp_rx_unprotect_rtp(rx[s], buf, &len) != 0;
			}
		}
	t1 = now_ns();
	for (unsigned s = 0; s < streams; s++) {
		if (sys)
			sys->dealloc(rx[s]);
		else
			srtp_rx_free(rx[s]);
	}
	free(keys);
	free(pkts);
	free(lens);
	free(rx);
	if (bad) {
		fprintf(stderr, "srtp-bench: %u packets failed to unprotect\n", bad);
		return -1;
	}
	return (double)(t1 - t0) / ((double)rounds * streams);
}

int main(int argc, char **argv)
{
	const char *suite = argc > 1 ? argv[1] : "AES_CM_128_HMAC_SHA1_80";
	unsigned def[] = {1, 500, 4000}, *counts = def, n = 3;
	const struct srtp_suite_info *si = srtp_suite_by_name(str_from_cstr(suite));
	const char *use_sys = getenv("SRTP_BENCH_SYSTEM");
	struct syslib sys;
	bool have_sys;

	(void)srtp_openssl_mem_init(); /* as siprecd's main() */
	if (!si || srtp_global_init() < 0) {
		fprintf(stderr, "srtp-bench: unknown suite %s or libsrtp2 init failed\n", suite);
		return 1;
	}
	if (argc > 2) {
		n = (unsigned)(argc - 2);
		counts = calloc(n, sizeof(*counts));
		for (unsigned i = 0; i < n; i++) {
			char *end;
			unsigned long v = strtoul(argv[i + 2], &end, 10);

			if (*end || v == 0 || v > 100000) {
				fprintf(stderr, "srtp-bench: bad stream count %s\n", argv[i + 2]);
				return 1;
			}
			counts[i] = (unsigned)v;
		}
	}
	have_sys = !(use_sys && strcmp(use_sys, "0") == 0) && load_system(suite, &sys) == 0;
	for (unsigned i = 0; i < n; i++) {
		double ours = run(si, NULL, counts[i]);
		double theirs = have_sys ? run(si, &sys, counts[i]) : -1;

		printf("srtp siprecd-libsrtp2(%s) %s streams=%u ns/pkt=%.1f\n", srtp_backend(),
		       suite, counts[i], ours);
		if (have_sys)
			printf("srtp debian-libsrtp2.so.1 %s streams=%u ns/pkt=%.1f\n", suite,
			       counts[i], theirs);
		else
			printf("srtp debian-libsrtp2.so.1 %s unavailable\n", suite);
		if (ours < 0 || (have_sys && theirs < 0))
			return 2;
	}
	return 0;
}
