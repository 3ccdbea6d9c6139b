/* SPDX-License-Identifier: MIT */
/*
 * The SIP edge policy of the daemon: transport limits and allowlists from the configuration,
 * per-source admission of new sessions (INVITE rate, sessions, streams), and the log lines for
 * what the transport refuses. Everything here can be re-applied by a reload (edge_apply).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "siprecd/transport.h"

struct config;
struct manager;
struct sip_msg;
struct sip_txn;
struct str;

/* What one session holds of its source's per-source counters (released by edge_session_close). */
struct edge_charge {
	bool session;
	uint32_t streams;
};

/* Transport limits from c. */
void edge_transport_limits(const struct config *c, struct sip_transport_limits *ret);
/* Applies c's allowlists and limits to m->transport (start and SIGHUP); warns when mutual TLS is
 * configured while UDP/TCP accept anyone. 0 or -errno (logged). */
int edge_apply(struct manager *m, const struct config *c);
/* The transport's refusal callback: counts and logs, rate-limited. */
void edge_refused(void *userdata, enum sip_transport_kind kind, const struct sockaddr_storage *peer,
		  enum sip_refusal why);
/*
 * A new-session INVITE from peer: true to go on; false when it was answered here (503 and
 * Retry-After over the per-source INVITE rate).
 */
bool edge_admit_invite(struct manager *m, struct sip_txn *txn, struct sip_msg *req,
		       const struct sockaddr_storage *peer);
/* Charges a new session with the m= lines of sdp to peer: 0, or -EUSERS over a per-source
 * limit (nothing charged; the caller answers 503). */
int edge_session_open(struct manager *m, const struct sockaddr_storage *peer, struct str sdp,
		      struct edge_charge *ch);
/* Re-charges an open session with streams (the non-zero ports of a re-offer, or of the offer we
 * made for an INVITE without SDP): 0, or -EUSERS when the increase would pass
 * MAX_STREAMS_PER_SOURCE (the charge unchanged; the caller refuses the offer). */
int edge_session_streams(struct manager *m, const struct sockaddr_storage *peer, uint32_t streams,
			 struct edge_charge *ch);
void edge_session_close(struct manager *m, const struct sockaddr_storage *peer,
			struct edge_charge *ch);
