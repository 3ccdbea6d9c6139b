// SPDX-License-Identifier: MIT
/*
 * The daemon side of the SIP edge protections (docs/SECURITY.md): builds the transport's
 * allowlists and limits from the configuration, admits new sessions per source (INVITE token
 * bucket, concurrent sessions and streams), and logs what the transport refuses, rate-limited
 * since a peer triggers each one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "daemon/edge.h"
#include "daemon/manager.h"
#include "siprecd/acl.h"
#include "siprecd/audit.h"
#include "siprecd/auth.h"
#include "siprecd/config.h"
#include "siprecd/log.h"
#include "siprecd/macro.h"
#include "siprecd/sip.h"
#include "siprecd/sockaddr.h"
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

#define CREDS_MAX (1024 * 1024)

/* Reads the credentials file (SIP_AUTH_FILE, else the sip-auth systemd credential) into a
 * malloc'ed buffer the caller wipes. Refuses a file others can read: it holds passwords. */
static int read_credentials(const struct config *c, char **ret, size_t *ret_len, char *path,
			    size_t pathlen)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	struct stat st;
	char *buf;
	size_t len = 0;
	int fd;

	if (*c->sip_auth_file)
		snprintf(path, pathlen, "%s", c->sip_auth_file);
	else if (dir && *dir)
		snprintf(path, pathlen, "%s/sip-auth", dir);
	else
		return -ENOENT;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > CREDS_MAX) {
		close(fd);
		return -EINVAL;
	}
	if (st.st_mode & S_IROTH) {
		close(fd);
		return -EPERM;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);

		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* Builds the digest verifier from c: 0 with *ret (NULL when SIP_DIGEST_AUTH is off), or -errno
 * after logging what is wrong (never a password). */
static int auth_from_config(const struct config *c, struct sip_auth **ret)
{
	char path[4096], err[256];
	char *creds = NULL;
	size_t len = 0;
	int r;

	*ret = NULL;
	if (!c->sip_digest_auth)
		return 0;
	r = read_credentials(c, &creds, &len, path, sizeof(path));
	if (r < 0) {
		if (r == -ENOENT && !*c->sip_auth_file && !getenv("CREDENTIALS_DIRECTORY"))
			log_error("SIP_DIGEST_AUTH=true needs SIP_AUTH_FILE or the sip-auth "
				  "credential (LoadCredential=sip-auth:...)");
		else
			log_error("SIP digest credentials %s: %s", path,
				  r == -EPERM	 ? "readable by others; chmod o-r it"
				  : r == -EINVAL ? "not a regular file of at most 1 MiB"
						 : strerror(-r));
		return r;
	}
	r = sip_auth_new(c->sip_auth_realm, c->sip_auth_algorithms, c->sip_auth_nonce_lifetime_ms,
			 c->sip_auth_max_nonces, creds, len, ret, err, sizeof(err));
	OPENSSL_cleanse(creds, len);
	free(creds);
	if (r < 0) {
		log_error("SIP digest credentials %s: %s", path,
			  r == -ENOMEM ? "out of memory" : err);
		return r;
	}
	log_info("SIP digest authentication of new sessions: %zu user%s from %s, realm \"%s\", "
		 "%s",
		 sip_auth_users(*ret), sip_auth_users(*ret) == 1 ? "" : "s", path,
		 c->sip_auth_realm, c->sip_auth_algorithms);
	return 0;
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
	struct sip_auth *auth = NULL;
	bool open_plain = false;
	int r;

	/* Everything is built before anything is replaced, so a bad reload changes nothing. */
	r = auth_from_config(c, &auth);
	if (r < 0)
		return r;

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
		sip_auth_free(auth);
		return r;
	}
	sip_auth_free(m->sip_auth);
	m->sip_auth = auth;
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
		LOG_RATELIMIT_INIT(10, 5), LOG_RATELIMIT_INIT(10, 5), LOG_RATELIMIT_INIT(10, 5),
	};
	char p[64];

	if ((unsigned)why >= ARRAY_SIZE(rl))
		return;
	/* One line per reason and interval, so a flood of one kind cannot hide another. */
	log_ratelimited_rl(&rl[why], why == SIP_REFUSED_ACL ? LOG_INFO : LOG_NOTICE,
			   "SIP %s from %s refused: %s", sip_transport_kind_name(kind),
			   sockaddr_to_string(peer, p, sizeof(p)), sip_refusal_name(why));
}

/* RFC 3261 §22.4 / RFC 8760: 401 with one challenge per algorithm unless req carries a valid
 * answer. ACK and CANCEL never come here (they are not challenged); in-dialog requests neither:
 * the dialog was authenticated by its INVITE. */
static bool edge_authenticate(struct manager *m, struct sip_txn *txn, struct sip_msg *req,
			      const struct sockaddr_storage *peer)
{
	static struct log_ratelimit rl = LOG_RATELIMIT_INIT(10, 5);
	uint64_t now = loop_now_ms(m->loop);
	char hdrs[1024], p[64];
	struct str user = STR_NULL;
	int r = sip_auth_check(m->sip_auth, req, now, &user);

	if (r == 0)
		return true;
	if (r == -ENOENT || r == -ESTALE)
		m->counters.auth_challenged++;
	else
		m->counters.auth_failed++;
	if (r != -ENOENT && r != -ESTALE) {
		const char *why = r == -EACCES ? "wrong digest credentials"
				  : r == -EALREADY
					  ? "replayed Authorization (nonce count not increased)"
					  : "malformed Authorization";
		char pf[80], cf[300], rf[200];
		const char *fields[] = {pf, cf, rf, NULL};
		unsigned suppressed = 0;
		struct str call_id = STR_NULL;

		/* The user name is the peer's claim; the password and response are never logged. */
		sip_msg_call_id(req, &call_id);
		sockaddr_to_string(peer, p, sizeof(p));
		snprintf(pf, sizeof(pf), "PEER=%s", p);
		snprintf(cf, sizeof(cf), "SIP_CALL_ID=%.*s", (int)MIN(call_id.len, 256),
			 call_id.s ? call_id.s : "");
		snprintf(rf, sizeof(rf), "REASON=%s (user '%.*s')", why, (int)MIN(user.len, 64),
			 user.s ? user.s : "");
		if (log_ratelimit_test(&rl, &suppressed))
			audit_emit(AUDIT_AUTH_FAILURE, fields,
				   "SIP digest authentication from %s: %s", p, why);
	}
	m->counters.sessions_refused++;
	/* A replay gets a fresh nonce with stale=true: a client that reused its nonce count
	 * recovers, a replayer cannot answer it. */
	r = sip_auth_challenge(m->sip_auth, now, r == -ESTALE || r == -EALREADY, hdrs,
			       sizeof(hdrs));
	if (r < 0) {
		sipd_respond(m, txn, req, 500, NULL, NULL);
	} else {
		char tag[SIP_TAG_LEN + 1];
		struct sip_response_args a = {.extra_headers = hdrs};

		/* RFC 3261 §8.2.6.2: a final response carries a To tag. */
		if (sip_tag_generate(tag, sizeof(tag)) == 0)
			a.to_tag = tag;
		sipd_respond(m, txn, req, 401, NULL, &a);
	}
	return false;
}

bool edge_admit_invite(struct manager *m, struct sip_txn *txn, struct sip_msg *req,
		       const struct sockaddr_storage *peer)
{
	const struct config *c = m->cfg;
	char p[64];

	/* The rate first: a flood of unauthenticated INVITEs must not cost an HMAC each. */
	if (sip_sources_invite(sip_transport_sources(m->transport), peer, loop_now_ms(m->loop),
			       c->invite_rate_per_source, c->invite_burst_per_source) < 0) {
		static struct log_ratelimit rl = LOG_RATELIMIT_INIT(10, 5);
		struct sip_response_args a = {.extra_headers = "Retry-After: 1\r\n"};
		char tag[SIP_TAG_LEN + 1];

		m->counters.sessions_refused++;
		m->counters.invites_rate_limited++;
		log_ratelimited_rl(
			&rl, LOG_NOTICE, "INVITE from %s over INVITE_RATE_PER_SOURCE (%u/s): 503",
			sockaddr_to_string(peer, p, sizeof(p)), c->invite_rate_per_source);
		if (sip_tag_generate(tag, sizeof(tag)) == 0)
			a.to_tag = tag;
		sipd_respond(m, txn, req, 503, "Rate Limited", &a);
		return false;
	}
	return !m->sip_auth || edge_authenticate(m, txn, req, peer);
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
	if (r < 0) {
		m->counters.sessions_source_limited++;
		return r == -ENOSPC ? -EUSERS : r;
	}
	r = sip_sources_get(src, peer, SIP_SRC_STREAMS, streams, m->cfg->max_streams_per_source);
	if (r < 0) {
		sip_sources_put(src, peer, SIP_SRC_SESSIONS, 1);
		m->counters.sessions_source_limited++;
		return r == -ENOSPC ? -EUSERS : r;
	}
	ch->session = true;
	ch->streams = streams;
	return 0;
}

int edge_session_streams(struct manager *m, const struct sockaddr_storage *peer, uint32_t streams,
			 struct edge_charge *ch)
{
	struct sip_sources *src;
	int r;

	if (!ch->session || !m->transport || streams == ch->streams)
		return 0;
	src = sip_transport_sources(m->transport);
	if (streams < ch->streams) {
		sip_sources_put(src, peer, SIP_SRC_STREAMS, ch->streams - streams);
	} else {
		r = sip_sources_get(src, peer, SIP_SRC_STREAMS, streams - ch->streams,
				    m->cfg->max_streams_per_source);
		if (r < 0) {
			m->counters.sessions_source_limited++;
			return r == -ENOSPC ? -EUSERS : r;
		}
	}
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
