/* SPDX-License-Identifier: MIT */
/*
 * SIP over TLS: OpenSSL server contexts with the project's policy (TLS 1.2 minimum, AEAD only,
 * no tickets, optional client certificates with an allowlist), a non-blocking handshake the
 * event loop drives from poll readiness, and the hand-off of the record layer to kernel TLS
 * (OpenSSL's own kTLS plus our TLS 1.3 receive-key install). See docs/TLS.md.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Upper bounds on what a peer controls: the certificate subject we keep for logs. */
#define TLS_SUBJECT_MAX 256
#define TLS_ALLOWED_PEERS_MAX 64

enum tls_verify_mode {
	TLS_VERIFY_MODE_NONE,	 /* no client certificate asked for */
	TLS_VERIFY_MODE_REQUEST, /* asked for; if presented it must verify against ca_path */
	TLS_VERIFY_MODE_REQUIRE, /* a verified client certificate is mandatory */
};

struct tls_server_params {
	const char *cert_path;	  /* PEM chain; NULL or "" = self-signed in state_dir/tls/ */
	const char *key_path;	  /* PEM key; NULL or "" = same file as cert_path */
	const char *key_password; /* passphrase of an encrypted key_path (copied, wiped); NULL */
	/* PEM bundle to verify client certificates; required when verify is not NONE or
	 * allowed_peers is set (the system trust store is never used for clients). */
	const char *ca_path;
	/* PEM file of one or more CRLs (of the CAs in ca_path); NULL = no revocation check. With
	 * it, a client certificate whose issuer has no valid CRL in the file is refused. */
	const char *crl_path;
	int min_version; /* TLS1_2_VERSION or TLS1_3_VERSION; 0 = TLS 1.2 */
	int verify;	 /* enum tls_verify_mode */
	/* Comma-separated patterns (tls_name_match) matched against each DNS/IP/URI
	 * subjectAltName of the client certificate, and against its subject CN only when it has no
	 * DNS or URI name; NULL or "" = any verified peer. When set, a client without a certificate
	 * is refused whatever verify says. */
	const char *allowed_peers;
	const char *state_dir; /* where tls/cert.pem and tls/key.pem are generated when needed */
};

struct tls_server_ctx;
struct tls_conn;

/*
 * Creates a server context from p (strings are copied). On failure returns -errno and, when
 * ret_error is not NULL, a malloc'ed message naming the file or setting at fault (the caller
 * frees it). When no certificate is configured, loads state_dir/tls/{cert,key}.pem or generates
 * them (EC P-256, one year, CN=siprecd, SAN localhost and 127.0.0.1; key mode 0600).
 */
int tls_server_ctx_new(const struct tls_server_params *p, struct tls_server_ctx **ret,
		       char **ret_error);
/* Frees c; connections created from it keep their own reference on the OpenSSL context. */
struct tls_server_ctx *tls_server_ctx_free(struct tls_server_ctx *c);
/*
 * Re-reads the certificate, key and CA files. New handshakes use the new pair, established
 * connections are not touched. On failure the old pair stays in use and the error is returned
 * as for tls_server_ctx_new.
 */
int tls_server_ctx_reload(struct tls_server_ctx *c, char **ret_error);
/*
 * Replaces every setting of c with p (SIGHUP with a changed TLS_* key): builds a complete new
 * context first, so on failure (returned as for tls_server_ctx_new) c is left exactly as it
 * was. Established connections keep their OpenSSL context; new handshakes use the new one.
 */
int tls_server_ctx_reconfigure(struct tls_server_ctx *c, const struct tls_server_params *p,
			       char **ret_error);
/* '*' matches one or more characters of one DNS label (never a dot), '?' one; the rest is
 * literal, case-insensitive. */
bool tls_name_match(const char *pattern, const char *name);
/* Whether a reason given by tls_conn_error() is a certificate the CRL revokes. */
bool tls_error_is_revoked(const char *reason);
/* notAfter of the served certificate in unix seconds, or -EINVAL if it cannot be read. */
int64_t tls_server_ctx_cert_expiry(const struct tls_server_ctx *c);
/* Path of the certificate in use (the generated one in self-signed mode); owned by c. */
const char *tls_server_ctx_cert_path(const struct tls_server_ctx *c);

enum tls_offload {
	TLS_OFFLOAD_NONE = 0,
	TLS_OFFLOAD_TX = 1 << 0,
	TLS_OFFLOAD_RX = 1 << 1,
	TLS_OFFLOAD_TXRX = TLS_OFFLOAD_TX | TLS_OFFLOAD_RX,
};

/*
 * Wraps an accepted, non-blocking TCP socket fd (not owned: the caller closes it after
 * tls_conn_free). The connection holds a reference on c's current OpenSSL context.
 */
int tls_conn_new(struct tls_server_ctx *c, int fd, struct tls_conn **ret);
/*
 * Advances the handshake. Returns 0 when done (record layer handed to the kernel where it can
 * be), -EAGAIN when it must be called again once tls_conn_want(t) is ready, or on failure
 * -EACCES (client certificate refused: bad, missing or not allowed), -ECONNRESET (peer went
 * away), -EPROTO (anything else); tls_conn_error(t) then says why, for the audit event.
 */
int tls_conn_handshake(struct tls_conn *t);
/* poll(2) events the last -EAGAIN waits for: POLLIN or POLLOUT. */
short tls_conn_want(const struct tls_conn *t);
/* Reason of the last failure, or "" (owned by t, valid until the next call on t). */
const char *tls_conn_error(const struct tls_conn *t);
/* The socket given to tls_conn_new. */
int tls_conn_fd(const struct tls_conn *t);
/*
 * After the handshake: enum tls_offload flags of what the kernel does now. TX and TLS 1.2 RX
 * are OpenSSL's own kTLS; TLS 1.3 RX is installed by tls_conn_handshake. When RX is offloaded
 * the socket may be read with tls_conn_recv_record (or io_uring recvmsg with the same cmsg);
 * when TX is offloaded plain send(2) writes application data.
 */
int tls_conn_offload(const struct tls_conn *t);
/*
 * Reads application data: through the kernel when RX is offloaded (non-data records handled as
 * tls_conn_recv_record does), else SSL_read. Returns bytes (> 0), 0 on close_notify, -EAGAIN
 * (see tls_conn_want), -EKEYEXPIRED (peer sent a post-handshake message such as a TLS 1.3
 * KeyUpdate the kernel cannot follow: close the connection), -ECONNRESET, -EPROTO.
 */
ssize_t tls_conn_read(struct tls_conn *t, void *buf, size_t len);
/* Writes application data (SSL_write; kTLS when TX is offloaded). Bytes written or -errno. */
ssize_t tls_conn_write(struct tls_conn *t, const void *buf, size_t len);
/*
 * Kernel-RX path: one recvmsg(2) on fd asking for the TLS_GET_RECORD_TYPE cmsg. Returns bytes of
 * application data (type 23), 0 on a close_notify alert (type 21), -EAGAIN, -ECONNRESET for any
 * other alert, -EKEYEXPIRED for a handshake record (post-handshake message), -EBADMSG for a
 * record that fails to decrypt, other -errno. *ret_record_type gets the TLS content type.
 */
ssize_t tls_conn_recv_record(int fd, void *buf, size_t len, uint8_t *ret_record_type);

struct tls_peer_info {
	char version[16];	       /* "TLSv1.3" */
	char cipher[64];	       /* OpenSSL name, "TLS_AES_256_GCM_SHA384" */
	char subject[TLS_SUBJECT_MAX]; /* client certificate subject (RFC 2253), "" if none */
	bool verified;		       /* the client certificate verified against the CA */
	int offload;		       /* enum tls_offload */
};
/* Fills *ret after a completed handshake; -EINVAL before. */
int tls_conn_peer_info(const struct tls_conn *t, struct tls_peer_info *ret);
/*
 * Sends close_notify (RFC 8446 §6.1) once, best effort and never blocking: through OpenSSL, or
 * as an alert control record when the kernel holds TX (so call it only when no data send of the
 * caller's is in flight, or the alert could pass it). Call it before shutting the socket down.
 * 0 sent (or sent before), -EAGAIN the socket is full, -errno, -EINVAL before the handshake.
 */
int tls_conn_close_notify(struct tls_conn *t);
/* Sends close_notify best effort (non-blocking) unless sent before, frees t; the fd stays open.
 * Returns NULL. */
struct tls_conn *tls_conn_free(struct tls_conn *t);

/*
 * Probes whether this kernel takes TCP_ULP "tls" with an AES-GCM TX key, on a throwaway loopback
 * TCP connection. Returns 1 (yes), 0 (no: reason, when not NULL, gets e.g. "TCP_ULP tls ENOENT")
 * or -errno when the probe itself could not run.
 */
int tls_ktls_probe(char *reason, size_t reason_len);
/* tls_ktls_probe without the reason; 1 or 0 (a failed probe counts as 0). */
int tls_ktls_available(void);

/* One TCP socket as sock_diag reports it. */
struct tls_diag_entry {
	struct sockaddr_storage local, remote;
	uint32_t inode;
	char ulp[16];	  /* "tls", or "" without a ULP */
	uint16_t version; /* TLS_1_2_VERSION / TLS_1_3_VERSION (linux/tls.h), 0 if none */
	uint16_t cipher;  /* TLS_CIPHER_AES_GCM_128 ..., 0 if none */
	uint16_t txconf;  /* TLS_CONF_BASE / SW / HW / HW_RECORD, 0 if not reported */
	uint16_t rxconf;
};
/* Return < 0 to stop the walk (that value is returned by tls_diag_query). */
typedef int (*tls_diag_fn)(const struct tls_diag_entry *e, void *userdata);
/*
 * Dumps TCP sockets (IPv4 and IPv6) whose local port is local_port (0 = all) through
 * NETLINK_SOCK_DIAG with INET_DIAG_ULP_INFO, calling fn for each. Returns the number of sockets
 * seen or -errno.
 */
int tls_diag_query(uint16_t local_port, tls_diag_fn fn, void *userdata);
