// SPDX-License-Identifier: MIT
/*
 * Media port allocation: even ports of RTP_PORT_MIN..MAX (RTCP on the next odd one), handed out
 * in an unpredictable order so a peer that saw one answer cannot guess the next stream's port
 * (issue: ports were sequential). Each allocation walks the slots along a random permutation
 * (random start, random stride coprime with the slot count) and skips, without a syscall, the
 * slots this process already holds; only free-looking slots cost a bind().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "media/ports.h"

int media_ports_init(struct media_ports *p, uint16_t min, uint16_t max)
{
	unsigned lo = min & ~1u;

	memset(p, 0, sizeof(*p));
	if (max < lo + 1)
		return -EINVAL;
	p->min = (uint16_t)lo;
	/* slot i is the pair lo + 2i, lo + 2i + 1; both must be <= max */
	p->slots = ((unsigned)max - lo + 1) / 2;
	p->used = calloc((p->slots + 63) / 64, sizeof(uint64_t));
	return p->used ? 0 : -ENOMEM;
}

void media_ports_done(struct media_ports *p)
{
	free(p->used);
	p->used = NULL;
}

static unsigned gcd(unsigned a, unsigned b)
{
	while (b) {
		unsigned t = a % b;

		a = b;
		b = t;
	}
	return a;
}

static bool slot_used(const struct media_ports *p, unsigned i)
{
	return p->used[i / 64] & (1ULL << (i % 64));
}

int media_ports_alloc(struct media_ports *p, int (*try_bind)(void *userdata, uint16_t port),
		      void *userdata, uint16_t *ret_port)
{
	uint64_t rnd[2];
	unsigned n = p->slots, start, stride, i, tried = 0;

	if (p->n_used >= n)
		return -EADDRINUSE;
	/* Fresh randomness per allocation (OpenSSL's CSPRNG, no syscall): consecutive ports are
	 * unrelated, and no PRNG state can be reconstructed from observed ports. */
	if (RAND_bytes((unsigned char *)rnd, sizeof(rnd)) != 1)
		return -EIO;
	start = (unsigned)(rnd[0] % n);
	stride = n > 1 ? 1 + (unsigned)(rnd[1] % (n - 1)) : 1;
	while (gcd(stride, n) != 1)
		stride = stride % (n - 1) + 1;
	i = start;
	for (unsigned k = 0; k < n; k++, i = (unsigned)(((uint64_t)i + stride) % n)) {
		uint16_t port = (uint16_t)(p->min + 2 * i);

		if (slot_used(p, i))
			continue;
		tried++;
		if (try_bind(userdata, port) < 0)
			continue;
		p->used[i / 64] |= 1ULL << (i % 64);
		p->n_used++;
		p->last_tries = tried;
		*ret_port = port;
		return 0;
	}
	p->last_tries = tried;
	return -EADDRINUSE;
}

void media_ports_release(struct media_ports *p, uint16_t port)
{
	unsigned i;

	if (port < p->min || (port - p->min) % 2)
		return;
	i = (unsigned)(port - p->min) / 2;
	if (i >= p->slots || !slot_used(p, i))
		return;
	p->used[i / 64] &= ~(1ULL << (i % 64));
	p->n_used--;
}
