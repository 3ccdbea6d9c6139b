// SPDX-License-Identifier: MIT
/*
 * The daemon side of the SIP edge protections (docs/SECURITY.md): builds the transport's
 * allowlists and limits from the configuration, admits new sessions per source (INVITE token
 * bucket, concurrent sessions and streams), and logs what the transport refuses, rate-limited
 * since a peer triggers each one.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "daemon/edge.h"
#include "daemon/manager.h"
#include "siprecd/acl.h"
#include "siprecd/config.h"
#include "siprecd/log.h"
#include "siprecd/macro.h"
#include "siprecd/sip.h"
#include "siprecd/str.h"

void edge_transport_limits(const struct config *c, struct sip_transport_limits *ret)
{
	*ret = (struct sip_transport_limits){
		.max_message_size = c->max_message_size,
		.max_connections = c->max_connections,
		.max_handshakes = c->max_handshakes,
		.idle_timeout_ms = c->tcp_idle_timeout_ms,
		.handshake_timeout_ms = c->tls_handshake_timeout_ms,
		.message_timeout_ms = c->sip_message_timeout_ms,
		.max_send_queue = c->max_send_queue,
		.max_send_queue_msgs = c->max_send_queue_msgs,
		.max_connections_per_source = c->max_connections_per_source,
		.max_handshakes_per_source = c->max_handshakes_per_source,
	};
}

int edge_apply(struct manager *m, const struct config *c)
{
	static const struct {
		enum sip_transport_kind kind;
		const char *key;
		size_t off;
	} lists[] = {
		{SIP_TRANSPORT_UDP, "SIP_ALLOW_UDP", offsetof(struct config, sip_allow_udp)},
		{SIP_TRANSPORT_TCP, "SIP_ALLOW_TCP", offsetof(struct config, sip_allow_tcp)},
		{SIP_TRANSPORT_TLS, "SIP_ALLOW_TLS", offsetof(struct config, sip_allow_tls)},
	};
	struct sip_acl *acl[3] = {NULL};
	struct sip_transport_limits lim;
	bool open_plain = false;
	int r = 0;

	/* Parse every list before replacing any, so a bad reload changes nothing. */
	for (size_t i = 0; i < 3; i++) {
		const char *own = *(char *const *)((const char *)c + lists[i].off);
		const char *v = own && *own ? own : c->sip_allow;
		char err[160];

		r = sip_acl_parse(v ? v : "", &acl[i], err, sizeof(err));
		if (r < 0) {
			log_error("%s: %s", own && *own ? lists[i].key : "SIP_ALLOW",
				  r == -ENOMEM ? "out of memory" : err);
			break;
		}
	}
	if (r < 0) {
		for (size_t i = 0; i < 3; i++)
			sip_acl_free(acl[i]);
		return r;
	}
	for (size_t i = 0; i < 3; i++) {
		if (i != SIP_TRANSPORT_TLS && !acl[i] &&
		    (i == SIP_TRANSPORT_UDP ? c->enable_udp : c->enable_tcp))
			open_plain = true;
		if (acl[i])
			log_info("SIP over %s accepted from %zu address range%s only",
				 sip_transport_kind_name(lists[i].kind), sip_acl_count(acl[i]),
				 sip_acl_count(acl[i]) == 1 ? "" : "s");
		sip_transport_set_acl(m->transport, lists[i].kind, acl[i]);
	}
	/* Client certificates guard port 5061 only: UDP and TCP without an allowlist let anyone
	 * around them. */
	if (c->enable_tls && c->tls_verify_client == TLS_VERIFY_REQUIRE && open_plain &&
	    !c->sip_digest_auth)
		log_warning(
			"TLS_VERIFY_CLIENT=require, but SIP over %s%s%s is open to any address: "
			"set SIP_ALLOW_UDP/SIP_ALLOW_TCP, SIP_DIGEST_AUTH=true, or "
			"ENABLE_UDP=false and ENABLE_TCP=false",
			c->enable_udp && !acl[0] ? "UDP" : "",
			c->enable_udp && !acl[0] && c->enable_tcp && !acl[1] ? " and " : "",
			c->enable_tcp && !acl[1] ? "TCP" : "");
	edge_transport_limits(c, &lim);
	sip_transport_set_limits(m->transport, &lim);
	return 0;
}

void edge_refused(void *userdata, enum sip_transport_kind kind, const struct sockaddr_storage *peer,
		  enum sip_refusal why)
{
	static struct log_ratelimit rl[] = {
		LOG_RATELIMIT_INIT(10, 5), LOG_RATELIMIT_INIT(10, 5), LOG_RATELIMIT_INIT(10, 5),
		LOG_RATELIMIT_INIT(10, 5), LOG_RATELIMIT_INIT(10, 5),
	};
	char p[64];

	if ((unsigned)why >= ARRAY_SIZE(rl))
		return;
	/* One line per reason and interval, so a flood of one kind cannot hide another. */
	log_ratelimited_rl(&rl[why], why == SIP_REFUSED_ACL ? LOG_INFO : LOG_NOTICE,
			   "SIP %s from %s refused: %s", sip_transport_kind_name(kind),
			   sockaddr_to_string(peer, p, sizeof(p)), sip_refusal_name(why));
}

bool edge_admit_invite(struct manager *m, struct sip_txn *txn, struct sip_msg *req,
		       const struct sockaddr_storage *peer)
{
	const struct config *c = m->cfg;
	char p[64];

	if (sip_sources_invite(sip_transport_sources(m->transport), peer, loop_now_ms(m->loop),
			       c->invite_rate_per_source, c->invite_burst_per_source) < 0) {
		static struct log_ratelimit rl = LOG_RATELIMIT_INIT(10, 5);

		m->counters.sessions_refused++;
		log_ratelimited_rl(
			&rl, LOG_NOTICE, "INVITE from %s over INVITE_RATE_PER_SOURCE (%u/s): 503",
			sockaddr_to_string(peer, p, sizeof(p)), c->invite_rate_per_source);
		sipd_respond(m, txn, req, 503, "Rate Limited",
			     &(struct sip_response_args){.extra_headers = "Retry-After: 1\r\n"});
		return false;
	}
	return true;
}

/* m= lines with a non-zero port: the streams a session would open for this offer. */
static uint32_t sdp_streams(struct str sdp)
{
	uint32_t n = 0;

	for (size_t i = 0; i + 2 < sdp.len; i++) {
		if ((i == 0 || sdp.s[i - 1] == '\n') && sdp.s[i] == 'm' && sdp.s[i + 1] == '=') {
			const char *sp = memchr(sdp.s + i, ' ', sdp.len - i);

			if (!sp || sp + 2 > sdp.s + sdp.len || sp[1] != '0' ||
			    (sp[2] != ' ' && sp[2] != '/'))
				n++;
		}
	}
	return n;
}

int edge_session_open(struct manager *m, const struct sockaddr_storage *peer, struct str sdp,
		      struct edge_charge *ch)
{
	struct sip_sources *src = sip_transport_sources(m->transport);
	uint32_t streams = sdp_streams(sdp);
	int r;

	*ch = (struct edge_charge){0};
	r = sip_sources_get(src, peer, SIP_SRC_SESSIONS, 1, m->cfg->max_sessions_per_source);
	if (r < 0)
		return r == -ENOSPC ? -EUSERS : r;
	r = sip_sources_get(src, peer, SIP_SRC_STREAMS, streams, m->cfg->max_streams_per_source);
	if (r < 0) {
		sip_sources_put(src, peer, SIP_SRC_SESSIONS, 1);
		return r == -ENOSPC ? -EUSERS : r;
	}
	ch->session = true;
	ch->streams = streams;
	return 0;
}

void edge_session_close(struct manager *m, const struct sockaddr_storage *peer,
			struct edge_charge *ch)
{
	struct sip_sources *src;

	if (!ch->session || !m->transport)
		return;
	src = sip_transport_sources(m->transport);
	sip_sources_put(src, peer, SIP_SRC_SESSIONS, 1);
	sip_sources_put(src, peer, SIP_SRC_STREAMS, ch->streams);
	*ch = (struct edge_charge){0};
}
