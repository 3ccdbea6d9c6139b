/* SPDX-License-Identifier: MIT */
/*
 * Media port allocation over RTP_PORT_MIN..MAX in a random order (RFC 3550 §11: even RTP port,
 * RTCP on the next one). Owned and called by one thread (the SIP thread).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct media_ports {
	uint16_t min;	     /* even */
	unsigned slots;	     /* port pairs in the range */
	unsigned n_used;     /* slots held by this process */
	unsigned last_tries; /* binds attempted by the last media_ports_alloc (tests, logs) */
	uint64_t *used;	     /* bitmap of held slots */
};

/* Range min..max (min rounded down to even). 0, -EINVAL if it holds no pair, -ENOMEM. */
int media_ports_init(struct media_ports *p, uint16_t min, uint16_t max);
void media_ports_done(struct media_ports *p);
/*
 * Picks a free even port in a random order and calls try_bind(userdata, port) on it until one
 * returns >= 0 (the caller binds its sockets there). Slots already held are skipped without a
 * call. Returns 0 and *ret_port (held until media_ports_release), -EADDRINUSE when every slot
 * is held or refused, -EIO when no randomness is available.
 */
int media_ports_alloc(struct media_ports *p, int (*try_bind)(void *userdata, uint16_t port),
		      void *userdata, uint16_t *ret_port);
/* Gives back a port media_ports_alloc returned; others are ignored. */
void media_ports_release(struct media_ports *p, uint16_t port);
