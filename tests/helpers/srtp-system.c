// SPDX-License-Identifier: MIT
/*
 * Test helper: protects deterministic RTP and RTCP packets with Debian's system libsrtp2
 * (libsrtp2.so.1, built against NSS), loaded with dlopen so that nothing of the project's
 * static OpenSSL libsrtp2 is involved, and writes them to stdout for test-srtp to unprotect.
 *
 * usage: srtp-system SUITE KEYSALT_HEX SSRC SEQ0 COUNT
 * output: per packet one byte kind ('R' RTP, 'C' RTCP), two bytes big-endian length, the bytes.
 * The plain packets are the ones srtp_test_rtp_packet() in test-srtp.c rebuilds.
 * Exit 77 when the library or the suite is not available.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <srtp2/srtp.h>

struct lib {
	srtp_err_status_t (*init)(void);
	srtp_err_status_t (*create)(srtp_t *, const srtp_policy_t *);
	srtp_err_status_t (*protect)(srtp_t, void *, int *);
	srtp_err_status_t (*protect_rtcp)(srtp_t, void *, int *);
	void (*set)(srtp_crypto_policy_t *);
	void (*set_rtcp)(srtp_crypto_policy_t *);
};

static const struct {
	const char *name, *rtp, *rtcp;
} suites[] = {
	{"AES_CM_128_HMAC_SHA1_80", "srtp_crypto_policy_set_rtp_default",
	 "srtp_crypto_policy_set_rtp_default"},
	{"AES_CM_128_HMAC_SHA1_32", "srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32",
	 "srtp_crypto_policy_set_rtp_default"},
	{"AES_256_CM_HMAC_SHA1_80", "srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80",
	 "srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80"},
	{"AES_256_CM_HMAC_SHA1_32", "srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32",
	 "srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80"},
	{"AEAD_AES_128_GCM", "srtp_crypto_policy_set_aes_gcm_128_16_auth",
	 "srtp_crypto_policy_set_aes_gcm_128_16_auth"},
	{"AEAD_AES_256_GCM", "srtp_crypto_policy_set_aes_gcm_256_16_auth",
	 "srtp_crypto_policy_set_aes_gcm_256_16_auth"},
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int parse_num(const char *s, unsigned long max, unsigned long *ret)
{
	unsigned long v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (v > (max - (unsigned long)(*s - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	*ret = v;
	return 0;
}

static void emit(char kind, const unsigned char *p, int len)
{
	unsigned char h[3] = {(unsigned char)kind, (unsigned char)(len >> 8), (unsigned char)len};

	fwrite(h, 1, 3, stdout);
	fwrite(p, 1, (size_t)len, stdout);
}

int main(int argc, char **argv)
{
	unsigned char key[64], pkt[512];
	unsigned long ssrc, seq0, count;
	srtp_policy_t policy;
	struct lib l;
	srtp_t s;
	void *h;
	size_t klen, i;
	int n;

	if (argc != 6 || parse_num(argv[3], 0xffffffffUL, &ssrc) < 0 ||
	    parse_num(argv[4], 0xffff, &seq0) < 0 || parse_num(argv[5], 100000, &count) < 0) {
		fprintf(stderr, "usage: srtp-system SUITE KEYSALT_HEX SSRC SEQ0 COUNT\n");
		return 1;
	}
	klen = strlen(argv[2]) / 2;
	if (klen > sizeof(key) || strlen(argv[2]) % 2)
		return 1;
	for (i = 0; i < klen; i++) {
		int a = hexval(argv[2][2 * i]), b = hexval(argv[2][2 * i + 1]);

		if (a < 0 || b < 0)
			return 1;
		key[i] = (unsigned char)(a << 4 | b);
	}

	h = dlopen("libsrtp2.so.1", RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
	if (!h) {
		fprintf(stderr, "srtp-system: %s\n", dlerror());
		return 77;
	}
	l.init = (srtp_err_status_t(*)(void))dlsym(h, "srtp_init");
	l.create = (srtp_err_status_t(*)(srtp_t *, const srtp_policy_t *))dlsym(h, "srtp_create");
	l.protect = (srtp_err_status_t(*)(srtp_t, void *, int *))dlsym(h, "srtp_protect");
	l.protect_rtcp = (srtp_err_status_t(*)(srtp_t, void *, int *))dlsym(h, "srtp_protect_rtcp");
	l.set = l.set_rtcp = NULL;
	for (i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		if (strcmp(argv[1], suites[i].name) == 0) {
			l.set = (void (*)(srtp_crypto_policy_t *))dlsym(h, suites[i].rtp);
			l.set_rtcp = (void (*)(srtp_crypto_policy_t *))dlsym(h, suites[i].rtcp);
		}
	if (!l.init || !l.create || !l.protect || !l.protect_rtcp || !l.set || !l.set_rtcp) {
		fprintf(stderr, "srtp-system: suite %s or symbols unavailable\n", argv[1]);
		return 77;
	}
	if (l.init() != srtp_err_status_ok)
		return 77;
	memset(&policy, 0, sizeof(policy));
	l.set(&policy.rtp);
	l.set_rtcp(&policy.rtcp);
	policy.ssrc.type = ssrc_any_outbound;
	policy.key = key;
	policy.window_size = 1024;
	if (l.create(&s, &policy) != srtp_err_status_ok) {
		fprintf(stderr, "srtp-system: srtp_create(%s) failed\n", argv[1]);
		return 77;
	}
	for (i = 0; i < count; i++) {
		unsigned seq = (unsigned)((seq0 + i) & 0xffff);
		uint32_t ts = (uint32_t)(i * 160);

		/* RTP: V=2, PT 0, marker on the first, 160 bytes of payload. */
		pkt[0] = 0x80;
		pkt[1] = i == 0 ? 0x80 : 0x00;
		pkt[2] = (unsigned char)(seq >> 8);
		pkt[3] = (unsigned char)seq;
		pkt[4] = (unsigned char)(ts >> 24);
		pkt[5] = (unsigned char)(ts >> 16);
		pkt[6] = (unsigned char)(ts >> 8);
		pkt[7] = (unsigned char)ts;
		pkt[8] = (unsigned char)(ssrc >> 24);
		pkt[9] = (unsigned char)(ssrc >> 16);
		pkt[10] = (unsigned char)(ssrc >> 8);
		pkt[11] = (unsigned char)ssrc;
		for (int j = 0; j < 160; j++)
			pkt[12 + j] = (unsigned char)(i * 7 + (size_t)j);
		n = 172;
		if (l.protect(s, pkt, &n) != srtp_err_status_ok)
			return 2;
		emit('R', pkt, n);
		if (i % 50 == 0) {
			/* RTCP: an empty receiver report (RC 0) from this SSRC. */
			memset(pkt, 0, 8);
			pkt[0] = 0x80;
			pkt[1] = 201;
			pkt[3] = 1;
			pkt[4] = (unsigned char)(ssrc >> 24);
			pkt[5] = (unsigned char)(ssrc >> 16);
			pkt[6] = (unsigned char)(ssrc >> 8);
			pkt[7] = (unsigned char)ssrc;
			n = 8;
			if (l.protect_rtcp(s, pkt, &n) != srtp_err_status_ok)
				return 2;
			emit('C', pkt, n);
		}
	}
	fflush(stdout);
	return 0;
}
