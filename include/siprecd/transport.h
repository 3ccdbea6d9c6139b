/* SPDX-License-Identifier: MIT */
/*
 * SIP transports on the io_uring loop: UDP listeners (multishot recvmsg into a provided buffer
 * ring), TCP listeners (multishot accept) and connections (multishot recv, Content-Length
 * framing, idle timeout, connection limit), and TLS connections layered on the same connection
 * object. Complete messages are handed to one callback; responses go back through
 * sip_conn_send on the connection (or UDP socket) the request came in on.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "siprecd/loop.h"

enum sip_transport_kind {
	SIP_TRANSPORT_UDP,
	SIP_TRANSPORT_TCP,
	SIP_TRANSPORT_TLS,
};

struct sip_conn;
struct sip_transport;
struct tls_server_ctx;

struct sip_transport_limits {
	uint32_t max_message_size;
	uint32_t max_connections;
	uint32_t max_handshakes;
	uint64_t idle_timeout_ms;
	uint64_t handshake_timeout_ms;
};

struct sip_transport_stats {
	uint64_t udp_datagrams, udp_dropped_oversize;
	uint64_t tcp_accepted, tcp_refused_limit, tcp_closed_idle, tcp_framing_errors;
	uint64_t tls_handshakes_ok, tls_handshakes_failed, tls_handshake_timeouts;
	uint64_t tls12_handshakes, tls13_handshakes; /* successful ones, by version */
	uint64_t tls_ktls_tx, tls_ktls_rx;
	uint64_t send_errors;
	uint32_t connections, handshakes;
};

/*
 * Called for each complete message. buf is valid only during the call (it points into a
 * receive buffer); peer is the source address. conn may be referenced with sip_conn_ref to keep
 * it past the call.
 */
struct sip_transport_handler {
	void (*message)(void *userdata, struct sip_conn *conn, const struct sockaddr_storage *peer,
			char *buf, size_t len);
	/* A stream message that could not be framed (bad/missing Content-Length, too large):
	 * the connection is closed after this call; the handler may count it. Optional. */
	void (*framing_error)(void *userdata, struct sip_conn *conn, int error);
	/* A TLS handshake failed or a client certificate was refused. Optional. */
	void (*tls_failed)(void *userdata, const struct sockaddr_storage *peer, const char *reason,
			   bool cert_refused);
};

int sip_transport_new(struct loop *l, const struct sip_transport_limits *lim,
		      const struct sip_transport_handler *h, void *userdata,
		      struct sip_transport **ret);
/* SIGHUP: new connection, handshake and idle limits for what happens from now on (open
 * connections keep their armed timers); max_message_size keeps its value from creation. */
void sip_transport_set_limits(struct sip_transport *t, const struct sip_transport_limits *lim);
/* Stops all listeners and closes all connections (graceful: in-flight sends complete). NULL ok. */
void sip_transport_shutdown(struct sip_transport *t);
/* Frees everything, connections still referenced included: call only after the loop has
 * stopped dispatching completions and before loop_free. NULL ok; returns NULL. */
struct sip_transport *sip_transport_free(struct sip_transport *t);

/* Adds a listening socket. Takes ownership of fd, even on failure. For TLS, tls must be set
 * (not owned; must outlive the transport). */
int sip_transport_add_listener(struct sip_transport *t, enum sip_transport_kind kind, int fd,
			       struct tls_server_ctx *tls);
/* Creates, binds and listens on addr:port; returns the fd through ret_fd (owned by t). */
int sip_transport_bind(struct sip_transport *t, enum sip_transport_kind kind, const char *addr,
		       uint16_t port, struct tls_server_ctx *tls);
void sip_transport_get_stats(const struct sip_transport *t, struct sip_transport_stats *ret);

/* Queues buf (copied) on conn; for UDP peer is the destination. 0 or -errno. */
int sip_conn_send(struct sip_conn *c, const struct sockaddr_storage *peer, const char *buf,
		  size_t len);
void sip_conn_ref(struct sip_conn *c);
void sip_conn_unref(struct sip_conn *c);
enum sip_transport_kind sip_conn_kind(const struct sip_conn *c);
bool sip_conn_reliable(const struct sip_conn *c);
/* The local address the message arrived on (UDP: the listener's address). */
const struct sockaddr_storage *sip_conn_local(const struct sip_conn *c);
const char *sip_transport_kind_name(enum sip_transport_kind k);
/* Formats "ip:port" (IPv6 as [ip]:port) into buf of size n. */
const char *sockaddr_to_string(const struct sockaddr_storage *sa, char *buf, size_t n);
