// SPDX-License-Identifier: MIT
/*
 * Source allowlists (CIDR prefixes, IPv4 and IPv6) and the per-source counter table behind the
 * per-address limits on connections, handshakes, sessions, streams and the INVITE rate. The table
 * is keyed with SipHash under the per-boot key, since spoofed UDP sources are attacker-chosen.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "siprecd/acl.h"
#include "siprecd/macro.h"
#include "siprecd/siphash.h"

#define ACL_MAX_ENTRIES 4096
#define SEPARATORS ", \t\r\n"

struct acl_entry {
	uint8_t addr[16]; /* IPv4 as an IPv4-mapped IPv6 address */
	unsigned prefix;  /* 0..128, in the mapped space */
};

struct sip_acl {
	size_t n;
	struct acl_entry e[];
};

/* Puts peer's address into the IPv6 space (IPv4 as ::ffff:a.b.c.d). False for other families. */
static bool addr16(const struct sockaddr_storage *sa, uint8_t out[16])
{
	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)sa;

		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &s->sin_addr, 4);
		return true;
	}
	if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)sa;

		memcpy(out, &s->sin6_addr, 16);
		return true;
	}
	return false;
}

static bool prefix_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[full] ^ b[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static int parse_entry(const char *tok, struct acl_entry *e, char *err, size_t n)
{
	char buf[INET6_ADDRSTRLEN + 8];
	char *slash;
	unsigned long bits;
	bool v4;

	if (strlen(tok) >= sizeof(buf)) {
		snprintf(err, n, "'%s' is not an address or address/prefix", tok);
		return -EINVAL;
	}
	strcpy(buf, tok);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	memset(e->addr, 0, sizeof(e->addr));
	if (inet_pton(AF_INET, buf, e->addr + 12) == 1) {
		v4 = true;
		e->addr[10] = e->addr[11] = 0xff;
	} else if (inet_pton(AF_INET6, buf, e->addr) == 1) {
		v4 = false;
	} else {
		snprintf(err, n, "'%s' is not an IPv4 or IPv6 address", tok);
		return -EINVAL;
	}
	bits = v4 ? 32 : 128;
	if (slash) {
		char *end;

		if (!*slash || *slash < '0' || *slash > '9') {
			snprintf(err, n, "'%s': bad prefix length", tok);
			return -EINVAL;
		}
		bits = strtoul(slash, &end, 10);
		if (*end || bits > (v4 ? 32UL : 128UL)) {
			snprintf(err, n, "'%s': prefix length must be 0..%u", tok, v4 ? 32 : 128);
			return -EINVAL;
		}
	}
	e->prefix = (unsigned)bits + (v4 ? 96 : 0);
	/* Host bits set past the prefix are a typo more often than intent: refuse. */
	{
		uint8_t masked[16];

		memcpy(masked, e->addr, 16);
		for (unsigned i = e->prefix; i < 128; i++)
			masked[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
		if (memcmp(masked, e->addr, 16) != 0) {
			snprintf(err, n, "'%s' has host bits set past the prefix length", tok);
			return -EINVAL;
		}
	}
	return 0;
}

int sip_acl_parse(const char *list, struct sip_acl **ret, char *err, size_t n)
{
	struct sip_acl *a;
	char *copy, *save = NULL, *tok;
	size_t cap = 1;
	int r = 0;

	if (n)
		err[0] = '\0';
	/* One entry per separator at most: count every character strtok_r splits on. */
	for (const char *p = list; *p; p++)
		cap += strchr(SEPARATORS, *p) != NULL;
	if (cap > ACL_MAX_ENTRIES) {
		snprintf(err, n, "more than %d entries", ACL_MAX_ENTRIES);
		return -EINVAL;
	}
	a = calloc(1, sizeof(*a) + cap * sizeof(a->e[0]));
	copy = strdup(list);
	if (!a || !copy) {
		free(a);
		free(copy);
		return -ENOMEM;
	}
	for (tok = strtok_r(copy, SEPARATORS, &save); tok;
	     tok = strtok_r(NULL, SEPARATORS, &save)) {
		r = parse_entry(tok, &a->e[a->n], err, n);
		if (r < 0)
			break;
		a->n++;
	}
	free(copy);
	if (r < 0 || a->n == 0) {
		free(a);
		a = NULL;
	}
	if (r == 0)
		*ret = a;
	return r;
}

struct sip_acl *sip_acl_free(struct sip_acl *a)
{
	free(a);
	return NULL;
}

size_t sip_acl_count(const struct sip_acl *a)
{
	return a ? a->n : 0;
}

bool sip_acl_allows(const struct sip_acl *a, const struct sockaddr_storage *peer)
{
	uint8_t addr[16];

	if (!a)
		return true;
	if (!addr16(peer, addr))
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (prefix_match(a->e[i].addr, addr, a->e[i].prefix))
			return true;
	return false;
}

/* ---- per-source counters ---- */

struct source {
	struct source *next;
	uint8_t addr[16];
	uint32_t count[SIP_SRC_COUNTERS];
	double tokens;
	uint64_t refill_ms;
};

struct sip_sources {
	uint32_t rate, burst; /* of the last INVITE check, to tell a refilled bucket */
	struct source **buckets;
	size_t n_buckets; /* power of two */
	uint32_t max, used;
	struct sip_source_stats stats;
};

int sip_sources_new(uint32_t max_sources, struct sip_sources **ret)
{
	struct sip_sources *s = calloc(1, sizeof(*s));
	size_t nb = 64;

	if (!s)
		return -ENOMEM;
	while (nb < max_sources && nb < (1u << 20))
		nb <<= 1;
	s->buckets = calloc(nb, sizeof(*s->buckets));
	if (!s->buckets) {
		free(s);
		return -ENOMEM;
	}
	s->n_buckets = nb;
	s->max = max_sources;
	*ret = s;
	return 0;
}

struct sip_sources *sip_sources_free(struct sip_sources *s)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < s->n_buckets; i++)
		while (s->buckets[i]) {
			struct source *n = s->buckets[i]->next;

			free(s->buckets[i]);
			s->buckets[i] = n;
		}
	free(s->buckets);
	free(s);
	return NULL;
}

static struct source **chain(struct sip_sources *s, const uint8_t addr[16])
{
	return &s->buckets[siphash24(siphash_boot_key(), addr, 16) & (s->n_buckets - 1)];
}

static bool source_idle(const struct sip_sources *s, const struct source *e, uint64_t now_ms)
{
	for (int i = 0; i < SIP_SRC_COUNTERS; i++)
		if (e->count[i])
			return false;
	/* A bucket not yet refilled still remembers a recent burst: keep it. */
	if (s->rate && e->refill_ms) {
		double full = MAX(s->burst, s->rate);
		double t =
			e->tokens + (double)(now_ms - MIN(now_ms, e->refill_ms)) * s->rate / 1000.0;

		return t >= full;
	}
	return true;
}

static void drop_if_idle(struct sip_sources *s, struct source **pp, uint64_t now_ms)
{
	struct source *e = *pp;

	if (source_idle(s, e, now_ms)) {
		*pp = e->next;
		free(e);
		s->used--;
	}
}

static struct source *lookup(struct sip_sources *s, const struct sockaddr_storage *peer,
			     bool create, uint64_t now_ms)
{
	uint8_t addr[16];
	struct source **pp, *e;

	if (!addr16(peer, addr))
		return NULL;
	pp = chain(s, addr);
	for (struct source **q = pp; *q;) {
		e = *q;
		if (memcmp(e->addr, addr, 16) == 0)
			return e;
		/* Idle neighbours are dropped on the way, so the table cleans itself. */
		if (source_idle(s, e, now_ms)) {
			drop_if_idle(s, q, now_ms);
			continue;
		}
		q = &e->next;
	}
	if (!create)
		return NULL;
	if (s->used >= s->max) {
		s->stats.table_full++;
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	memcpy(e->addr, addr, 16);
	e->next = *pp;
	*pp = e;
	s->used++;
	return e;
}

int sip_sources_get(struct sip_sources *s, const struct sockaddr_storage *peer,
		    enum sip_source_counter c, uint32_t n, uint32_t max)
{
	struct source *e = lookup(s, peer, true, 0);

	if (!e)
		return -ENOSPC;
	if (max && (uint64_t)e->count[c] + n > max) {
		s->stats.refused[c]++;
		return -EUSERS;
	}
	e->count[c] += n;
	return 0;
}

void sip_sources_put(struct sip_sources *s, const struct sockaddr_storage *peer,
		     enum sip_source_counter c, uint32_t n)
{
	struct source *e = lookup(s, peer, false, 0);

	if (e)
		e->count[c] -= MIN(n, e->count[c]);
}

int sip_sources_invite(struct sip_sources *s, const struct sockaddr_storage *peer, uint64_t now_ms,
		       uint32_t rate, uint32_t burst_max)
{
	double burst = MAX(burst_max, rate);
	struct source *e;

	s->rate = rate;
	s->burst = burst_max;
	if (!rate)
		return 0;
	e = lookup(s, peer, true, now_ms);
	if (!e)
		return -EAGAIN; /* table full of live sources: a flood, not a customer */
	if (!e->refill_ms) {
		e->tokens = burst;
	} else if (now_ms > e->refill_ms) {
		e->tokens += (double)(now_ms - e->refill_ms) * rate / 1000.0;
		e->tokens = MIN(e->tokens, burst);
	}
	e->refill_ms = MAX(now_ms, 1);
	if (e->tokens < 1.0) {
		s->stats.invites_limited++;
		return -EAGAIN;
	}
	e->tokens -= 1.0;
	return 0;
}

void sip_sources_get_stats(const struct sip_sources *s, struct sip_source_stats *ret)
{
	*ret = s->stats;
	ret->sources = s->used;
}
