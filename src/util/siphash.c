// SPDX-License-Identifier: MIT
/*
 * SipHash-2-4, written from the paper's specification ("SipHash: a fast short-input PRF",
 * Aumasson and Bernstein, 2012, §2) and checked against its test vectors and OpenSSL's
 * EVP_MAC "SIPHASH" in tests/unit/test-siphash.c. One call per lookup, no allocation: cheap
 * enough for hash tables on the packet path.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "siprecd/siphash.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND                                                                                   \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = ROTL(v1, 13);                                                                 \
		v1 ^= v0;                                                                          \
		v0 = ROTL(v0, 32);                                                                 \
		v2 += v3;                                                                          \
		v3 = ROTL(v3, 16);                                                                 \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = ROTL(v3, 21);                                                                 \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = ROTL(v1, 17);                                                                 \
		v1 ^= v2;                                                                          \
		v2 = ROTL(v2, 32);                                                                 \
	} while (0)

static uint64_t load_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

uint64_t siphash24(const struct siphash_key *key, const void *data, size_t len)
{
	const uint8_t *in = data;
	uint64_t v0 = 0x736f6d6570736575ULL ^ key->k0;
	uint64_t v1 = 0x646f72616e646f6dULL ^ key->k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ key->k0;
	uint64_t v3 = 0x7465646279746573ULL ^ key->k1;
	uint64_t b = (uint64_t)len << 56, m;
	size_t full = len & ~(size_t)7;

	for (size_t i = 0; i < full; i += 8) {
		m = load_le64(in + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	/* The last 0..7 bytes, little-endian, with the length in the top byte (§2.2). */
	for (size_t i = len & 7; i > 0; i--)
		b |= (uint64_t)in[full + i - 1] << (8 * (i - 1));
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

static struct siphash_key boot_key;
static pthread_once_t boot_once = PTHREAD_ONCE_INIT;

static void boot_key_init(void)
{
	uint8_t b[16];

	/* getrandom blocks only until the pool is initialised, once per boot. */
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		abort();
	boot_key.k0 = load_le64(b);
	boot_key.k1 = load_le64(b + 8);
	memset(b, 0, sizeof(b));
}

const struct siphash_key *siphash_boot_key(void)
{
	pthread_once(&boot_once, boot_key_init);
	return &boot_key;
}
