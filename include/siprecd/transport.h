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

struct sip_acl;
struct sip_conn;
struct sip_sources;
struct sip_transport;
struct tls_server_ctx;

/* Swappable at run time (sip_transport_set_limits); 0 in a per-source or queue field means no
 * limit there. max_message_size is fixed at creation (it sizes the UDP buffers). */
struct sip_transport_limits {
	uint32_t max_message_size;
	uint32_t max_connections;
	uint32_t max_handshakes;
	uint64_t idle_timeout_ms;
	uint64_t handshake_timeout_ms;
	uint64_t message_timeout_ms; /* from a message's first byte to its last (slow-loris) */
	/* Bytes and messages queued on one connection before it is closed; over half of either,
	 * the connection is not read until its queue is down to a quarter of both. */
	uint32_t max_send_queue;
	uint32_t max_send_queue_msgs;
	uint32_t max_connections_per_source;
	uint32_t max_handshakes_per_source;
};

/* Why the transport turned a peer away or closed its connection (sip_transport_handler.refused). */
enum sip_refusal {
	SIP_REFUSED_ACL,	     /* source address not in the transport's allowlist */
	SIP_REFUSED_CONN_LIMIT,	     /* MAX_CONNECTIONS or MAX_HANDSHAKES reached */
	SIP_REFUSED_SOURCE_LIMIT,    /* per-source connection or handshake limit */
	SIP_REFUSED_SEND_QUEUE,	     /* the peer does not read its responses */
	SIP_REFUSED_MESSAGE_TIMEOUT, /* a message took longer than message_timeout_ms */
	SIP_REFUSED_SEND_STALLED,    /* throttled, and no response taken for message_timeout_ms */
};

struct sip_transport_stats {
	uint64_t udp_datagrams, udp_dropped_oversize;
	uint64_t tcp_accepted, tcp_refused_limit, tcp_closed_idle, tcp_framing_errors;
	uint64_t accept_deferred; /* accepts that failed for want of descriptors or memory */
	uint64_t tls_handshakes_ok, tls_handshakes_failed, tls_handshake_timeouts;
	uint64_t tls12_handshakes, tls13_handshakes; /* successful ones, by version */
	uint64_t tls_ktls_tx, tls_ktls_rx;
	uint64_t send_errors;
	uint64_t acl_refused;	       /* datagrams dropped and connections refused by the ACL */
	uint64_t source_limit_refused; /* connections over a per-source limit */
	uint64_t send_queue_overflows; /* connections closed at a send queue cap (UDP: datagrams) */
	uint64_t send_throttled;       /* times a connection's reading stopped for its send queue */
	uint64_t send_stalled;	       /* connections closed for a throttled queue taking nothing */
	uint64_t message_timeouts;     /* connections closed mid-message */
	uint32_t connections, handshakes;
	uint32_t throttled; /* connections not read now, for their send queue */
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
	 * buf holds what was read of it (valid only during the call), error is sip_stream_frame's.
	 * The handler may answer it with sip_conn_send; after this call nothing more is read and
	 * the connection is closed once what is queued and owed on it is out. Optional. */
	void (*framing_error)(void *userdata, struct sip_conn *conn, int error, const char *buf,
			      size_t len);
	/* A UDP datagram larger than the receive buffer (MAX_MESSAGE_SIZE): buf holds its first
	 * len bytes (valid only during the call), the rest is lost (MSG_TRUNC). The handler may
	 * answer it to peer with sip_conn_send. Optional. */
	void (*datagram_oversize)(void *userdata, struct sip_conn *conn,
				  const struct sockaddr_storage *peer, const char *buf, size_t len);
	/* A TLS handshake failed or a client certificate was refused. Optional. */
	void (*tls_failed)(void *userdata, const struct sockaddr_storage *peer, const char *reason,
			   bool cert_refused);
	/* The transport refused a peer or closed its connection for a limit. Optional; called
	 * for every event, so the handler rate-limits what it logs. */
	void (*refused)(void *userdata, enum sip_transport_kind kind,
			const struct sockaddr_storage *peer, enum sip_refusal why);
};

int sip_transport_new(struct loop *l, const struct sip_transport_limits *lim,
		      const struct sip_transport_handler *h, void *userdata,
		      struct sip_transport **ret);
/* SIGHUP: new connection, handshake and idle limits for what happens from now on (open
 * connections keep their armed timers); max_message_size keeps its value from creation. */
void sip_transport_set_limits(struct sip_transport *t, const struct sip_transport_limits *lim);
/* Stops all listeners and closes all connections (graceful: in-flight sends complete). NULL ok. */
void sip_transport_shutdown(struct sip_transport *t);
/* Closes the TCP and TLS listening sockets only: no new connection is accepted, while the UDP
 * sockets and the connections already open still carry requests and responses (a graceful
 * stop sends its BYEs over them). */
void sip_transport_stop_accepting(struct sip_transport *t);
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
/* Replaces the allowlist of one transport kind (NULL = everyone); takes ownership of acl and
 * frees the previous one. Applies to datagrams and connections from now on. */
void sip_transport_set_acl(struct sip_transport *t, enum sip_transport_kind kind,
			   struct sip_acl *acl);
/* The per-source counter table the transport counts connections in; sessions and the INVITE
 * rate are counted in the same table by the layers above. Owned by t. */
struct sip_sources *sip_transport_sources(struct sip_transport *t);
const char *sip_refusal_name(enum sip_refusal why);

/* Queues buf (copied) on conn; for UDP peer is the destination. 0 or -errno. */
int sip_conn_send(struct sip_conn *c, const struct sockaddr_storage *peer, const char *buf,
		  size_t len);
/* siprecd's own request (a BYE) on conn: as sip_conn_send, but on a TCP/TLS connection whose
 * queue is at a cap it waits (copied) until there is room instead of closing the connection;
 * waiting requests count toward the marks. 0 or -errno (-ENOTCONN: conn is closed). */
int sip_conn_send_request(struct sip_conn *c, const struct sockaddr_storage *peer, const char *buf,
			  size_t len);
void sip_conn_ref(struct sip_conn *c);
void sip_conn_unref(struct sip_conn *c);
/* Answers owed to a TCP/TLS peer (delta > 0 when a request is taken in, < 0 as its answers
 * are queued): they count toward the send queue's high and low marks, so a backlog of INVITEs
 * whose answers come later stops the connection's reading too. */
void sip_conn_owe(struct sip_conn *c, int delta);
/* True while conn has bytes queued to send. */
bool sip_conn_backlogged(const struct sip_conn *c);
enum sip_transport_kind sip_conn_kind(const struct sip_conn *c);
bool sip_conn_reliable(const struct sip_conn *c);
/* The local address the message arrived on (UDP: the listener's address). */
const struct sockaddr_storage *sip_conn_local(const struct sip_conn *c);
/* The peer of a TCP/TLS connection (for UDP, the last datagram's source is passed separately). */
const struct sockaddr_storage *sip_conn_peer(const struct sip_conn *c);
const char *sip_transport_kind_name(enum sip_transport_kind k);
