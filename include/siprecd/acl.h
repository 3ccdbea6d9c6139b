/* SPDX-License-Identifier: MIT */
/*
 * Source access control for SIP: a list of IPv4/IPv6 CIDR prefixes a peer's address must fall
 * in, and a per-source table of counters (connections, TLS handshakes, sessions, streams) and an
 * INVITE token bucket. The transport checks the list before a datagram is parsed and when a
 * connection is accepted; the counters bound what one address can hold.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct sip_acl;

/*
 * Parses a comma- or space-separated list of "address[/prefix]" entries (IPv4 or IPv6; an IPv4
 * entry also matches the IPv4-mapped IPv6 form). Host bits past the prefix must be zero, so a
 * typo like 10.0.0.1/8 is refused rather than silently widened. An empty list returns NULL in
 * *ret (allow everyone). On error returns -EINVAL and writes a message naming the bad entry to
 * err (size n). The caller owns *ret (sip_acl_free).
 */
int sip_acl_parse(const char *list, struct sip_acl **ret, char *err, size_t n);
struct sip_acl *sip_acl_free(struct sip_acl *a);
/* True when a is NULL (no list) or peer's address falls in one of its prefixes. */
bool sip_acl_allows(const struct sip_acl *a, const struct sockaddr_storage *peer);
size_t sip_acl_count(const struct sip_acl *a);

enum sip_source_counter {
	SIP_SRC_CONNECTIONS,
	SIP_SRC_HANDSHAKES,
	SIP_SRC_SESSIONS,
	SIP_SRC_STREAMS,
	SIP_SRC_COUNTERS,
};

struct sip_source_stats {
	uint64_t refused[SIP_SRC_COUNTERS]; /* over a per-source limit */
	uint64_t invites_limited;	    /* over the INVITE rate */
	uint64_t table_full;		    /* a new source found no free entry */
	uint32_t sources;		    /* entries in use */
};

struct sip_sources;

/* A table of at most max_sources addresses (entries whose counters are all zero are reused). */
int sip_sources_new(uint32_t max_sources, struct sip_sources **ret);
struct sip_sources *sip_sources_free(struct sip_sources *s);
/*
 * Adds n to counter c of peer's address: 0, or -EUSERS when that would take it past max (0 = no
 * limit; nothing added), -ENOSPC when the table is full. The limit is the caller's, read at each
 * call, so a reload applies to the next check while current holders keep what they have. Every
 * successful add is undone by sip_sources_put with the same n.
 */
int sip_sources_get(struct sip_sources *s, const struct sockaddr_storage *peer,
		    enum sip_source_counter c, uint32_t n, uint32_t max);
void sip_sources_put(struct sip_sources *s, const struct sockaddr_storage *peer,
		     enum sip_source_counter c, uint32_t n);
/* Takes one token of peer's INVITE bucket (refilled at rate per second up to burst; rate 0 = no
 * limit) at now_ms: 0, or -EAGAIN when empty. */
int sip_sources_invite(struct sip_sources *s, const struct sockaddr_storage *peer, uint64_t now_ms,
		       uint32_t rate, uint32_t burst);
void sip_sources_get_stats(const struct sip_sources *s, struct sip_source_stats *ret);
