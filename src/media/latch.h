/* SPDX-License-Identifier: MIT */
/*
 * Which source a media socket records from (MEDIA_LATCH): the SRC's address from the offer, then
 * the first valid sender's address:port. Inline: it runs for every packet before anything else.
 */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "siprecd/config.h"

/* The source a socket is latched to (issue: RTP was recorded from anyone). */
struct media_latch_state {
	bool set;
	struct sockaddr_storage addr;
};

/* The IPv4 address of sa, also when it is v4-mapped in an IPv6 socket's view; else false. */
static inline bool media_ipv4_of(const struct sockaddr_storage *sa, struct in_addr *ret)
{
	if (sa->ss_family == AF_INET) {
		*ret = ((const struct sockaddr_in *)sa)->sin_addr;
		return true;
	}
	if (sa->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)sa)->sin6_addr)) {
		memcpy(ret, ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr + 12, 4);
		return true;
	}
	return false;
}

static inline bool media_same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	struct in_addr a4, b4;
	bool av4 = media_ipv4_of(a, &a4), bv4 = media_ipv4_of(b, &b4);

	if (av4 || bv4)
		return av4 && bv4 && a4.s_addr == b4.s_addr;
	return a->ss_family == AF_INET6 && b->ss_family == AF_INET6 &&
	       memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		      &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
}

static inline uint16_t media_port_of(const struct sockaddr_storage *a)
{
	return a->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)a)->sin6_port
					: ((const struct sockaddr_in *)a)->sin_port;
}

/*
 * Whether a packet from src may be recorded on a socket latched as l, with mode and the offer's
 * address remote (NULL: none usable). *ret_latch is set when it may and l is not set yet: the
 * caller latches once the packet proved valid (parsed, and authenticated under SRTP), so
 * garbage cannot take the latch. src NULL (no address from the kernel) is allowed.
 */
static inline bool media_latch_allows(enum media_latch mode, const struct media_latch_state *l,
				      const struct sockaddr_storage *remote,
				      const struct sockaddr_storage *src, bool *ret_latch)
{
	*ret_latch = false;
	if (mode == MEDIA_LATCH_OFF || !src)
		return true;
	if (l->set)
		return media_same_ip(&l->addr, src) &&
		       media_port_of(&l->addr) == media_port_of(src);
	/* MEDIA_LATCH=sdp: only the offer's address; its port is learned (NATs and SRCs that
	 * send from another port than they announce). */
	if (remote && mode == MEDIA_LATCH_SDP && !media_same_ip(remote, src))
		return false;
	*ret_latch = true;
	return true;
}
