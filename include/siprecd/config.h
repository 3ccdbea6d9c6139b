/* SPDX-License-Identifier: MIT */
/*
 * Configuration: one key=value file, every key also settable by an environment variable of the
 * same name (the environment wins). Every value is validated before anything listens; errors
 * name the key and the value. The key table in src/config/config.c is the single source of truth
 * for names, defaults, help text and docs/CONFIG.md.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_DEFAULT_PATH "/etc/siprecd/siprecd.conf"

enum srtp_policy { SRTP_POLICY_OFF, SRTP_POLICY_OPTIONAL, SRTP_POLICY_REQUIRED };
enum seal_alg { SEAL_AES_256_GCM = 1, SEAL_CHACHA20_POLY1305 = 2 };
enum tls_verify { TLS_VERIFY_NONE, TLS_VERIFY_REQUEST, TLS_VERIFY_REQUIRE };
/* Which source a media stream accepts packets from (src/media/worker.c). */
enum media_latch { MEDIA_LATCH_SDP, MEDIA_LATCH_FIRST, MEDIA_LATCH_OFF };
/* RFC 4733 telephone-event handling (PCI): keep packets and events, events only, or neither. */
enum dtmf_policy { DTMF_POLICY_RECORD, DTMF_POLICY_EVENTS_ONLY, DTMF_POLICY_DROP };

struct config {
	/* SIP */
	char *sip_address;	/* SIP_LISTEN_ADDRESS, default 127.0.0.1 */
	uint16_t sip_port;	/* SIP_PORT, 5060 */
	bool enable_udp;	/* ENABLE_UDP, true */
	bool enable_tcp;	/* ENABLE_TCP, true */
	bool enable_tls;	/* ENABLE_TLS, true */
	uint16_t tls_port;	/* TLS_PORT, 5061 */
	char *tls_cert_path;	/* TLS_CERT_PATH, "" = self-signed in state dir */
	char *tls_key_path;	/* TLS_KEY_PATH */
	char *tls_key_password; /* TLS_KEY_PASSWORD, secret: passphrase of an encrypted TLS key */
	char *tls_ca_path;	/* TLS_CA_PATH */
	char *tls_crl_path;	/* TLS_CRL_PATH, "" = no revocation check */
	enum tls_verify tls_verify_client; /* TLS_VERIFY_CLIENT none|request|require */
	char *tls_min_version;		   /* TLS_MIN_VERSION 1.2|1.3 */
	char *tls_allowed_peers;	   /* TLS_ALLOWED_PEERS, comma-separated fnmatch patterns */
	uint32_t max_connections;	   /* MAX_CONNECTIONS, 1024 */
	uint32_t max_handshakes;	   /* MAX_HANDSHAKES, 256 */
	uint64_t tcp_idle_timeout_ms;	   /* TCP_IDLE_TIMEOUT, 300s */
	uint64_t tls_handshake_timeout_ms; /* TLS_HANDSHAKE_TIMEOUT, 10s */
	uint32_t max_message_size;	   /* MAX_MESSAGE_SIZE, 65535 */
	uint64_t sip_message_timeout_ms;   /* SIP_MESSAGE_TIMEOUT, 20s */
	uint64_t sip_trying_delay_ms;	   /* SIP_TRYING_DELAY, 100ms */
	uint32_t max_send_queue;	   /* MAX_SEND_QUEUE, 1 MiB */
	uint32_t max_send_queue_msgs;	   /* MAX_SEND_QUEUE_MESSAGES, 1024 */
	char *sip_allow;		   /* SIP_ALLOW, CIDR list, "" = all */
	char *sip_allow_udp;		   /* SIP_ALLOW_UDP, "" = SIP_ALLOW */
	char *sip_allow_tcp;		   /* SIP_ALLOW_TCP, "" = SIP_ALLOW */
	char *sip_allow_tls;		   /* SIP_ALLOW_TLS, "" = SIP_ALLOW */
	uint32_t max_connections_per_source; /* MAX_CONNECTIONS_PER_SOURCE, 64 */
	uint32_t max_handshakes_per_source;  /* MAX_HANDSHAKES_PER_SOURCE, 16 */
	uint32_t invite_rate_per_source;     /* INVITE_RATE_PER_SOURCE, 100/s */
	uint32_t invite_burst_per_source;    /* INVITE_BURST_PER_SOURCE, 200 */
	bool sip_digest_auth;		     /* SIP_DIGEST_AUTH, false */
	char *sip_auth_file;		     /* SIP_AUTH_FILE, "" = credential sip-auth */
	char *sip_auth_realm;		     /* SIP_AUTH_REALM, siprecd */
	char *sip_auth_algorithms;	     /* SIP_AUTH_ALGORITHMS, SHA-256,MD5 */
	uint64_t sip_auth_nonce_lifetime_ms; /* SIP_AUTH_NONCE_LIFETIME, 5m */
	uint32_t sip_auth_max_nonces;	     /* SIP_AUTH_MAX_NONCES, 4096 */

	/* Sessions and media */
	char *media_address;	      /* MEDIA_ADDRESS, "" = routed local address toward the SRC */
	uint16_t rtp_port_min;	      /* RTP_PORT_MIN, 20000 */
	uint16_t rtp_port_max;	      /* RTP_PORT_MAX, 30000 */
	uint32_t media_workers;	      /* MEDIA_WORKERS, 0 = one per CPU */
	uint32_t media_batch;	      /* MEDIA_BATCH, 128 completions */
	uint64_t media_batch_wait_ms; /* MEDIA_BATCH_WAIT, 1ms */
	uint32_t max_sessions;	      /* MAX_SESSIONS, 5000 */
	uint32_t max_sessions_per_source;    /* MAX_SESSIONS_PER_SOURCE, 0 = only MAX_SESSIONS */
	uint32_t max_streams_per_source;     /* MAX_STREAMS_PER_SOURCE, 0 = no limit */
	uint32_t max_streams;		     /* MAX_STREAMS_PER_SESSION, 16 */
	uint32_t max_metadata_size;	     /* MAX_METADATA_SIZE, 65536 */
	uint32_t max_metadata_snapshots;     /* MAX_METADATA_SNAPSHOTS, 64 */
	char *record_sip_headers;	     /* RECORD_SIP_HEADERS, "" */
	uint64_t rtp_timeout_ms;	     /* RTP_TIMEOUT, 30s (stream marked idle) */
	bool rtp_timeout_bye;		     /* RTP_TIMEOUT_ENDS_SESSION, false */
	uint64_t session_silence_timeout_ms; /* SESSION_SILENCE_TIMEOUT, 4h, 0 = never */
	uint64_t shutdown_bye_timeout_ms;    /* SHUTDOWN_BYE_TIMEOUT, 2s */
	uint64_t min_session_expires_ms;     /* MIN_SESSION_EXPIRES, 90s (RFC 4028 Min-SE) */
	uint32_t delayed_offer_streams;	     /* DELAYED_OFFER_STREAMS, 2 */
	enum srtp_policy
		srtp_policy; /* SRTP_POLICY off|optional|required (ENABLE_SRTP=true => optional) */
	bool srtp_sdes_plain_sip;     /* SRTP_ALLOW_SDES_OVER_PLAIN_SIP, false */
	enum media_latch media_latch; /* MEDIA_LATCH sdp|first|off, sdp */
	uint64_t media_max_packets;   /* MEDIA_MAX_STREAM_PACKETS, 0 = no cap */
	uint64_t media_max_bytes;     /* MEDIA_MAX_STREAM_BYTES, 0 = no cap */
	enum dtmf_policy dtmf_policy; /* DTMF_POLICY record|events-only|drop, record */

	/* Storage */
	char *state_dir;     /* STATE_DIRECTORY (systemd sets it), default ~/.local/state/siprecd */
	char *runtime_dir;   /* RUNTIME_DIRECTORY, default $XDG_RUNTIME_DIR/siprecd or state */
	char *recording_dir; /* RECORDING_DIR, default $STATE_DIRECTORY/recordings */
	char *catalog_path;  /* CATALOG_PATH, default $STATE_DIRECTORY/catalog.db */
	uint64_t flush_interval_ms;	    /* FLUSH_INTERVAL, 1s */
	uint32_t chunk_size;		    /* CHUNK_SIZE, 65536, multiple of 4096 */
	bool enable_recording_encryption;   /* ENABLE_RECORDING_ENCRYPTION, true */
	bool enable_metadata_encryption;    /* ENABLE_METADATA_ENCRYPTION, false */
	enum seal_alg encryption_algorithm; /* ENCRYPTION_ALGORITHM AES-256-GCM|CHACHA20-POLY1305 */
	uint64_t min_free_disk_percent;	    /* MIN_FREE_DISK_PERCENT, 5 */

	/* Keys */
	char *encryption_key_store; /* ENCRYPTION_KEY_STORE
				       file|credential|password|memory|public-key */
	char *master_key_path;	    /* MASTER_KEY_PATH, default $STATE_DIRECTORY/keys/master.key */
	char *recording_public_key; /* RECORDING_PUBLIC_KEY, X25519 PEM for write-only mode */
	char *master_password;	    /* MASTER_PASSWORD, secret (prefer the credential) */
	uint64_t key_rotation_interval_ms; /* KEY_ROTATION_INTERVAL, 24h */
	uint32_t pbkdf2_iterations;	   /* PBKDF2_ITERATIONS, 600000 */
	char *kdf;			   /* KEY_DERIVATION argon2id|pbkdf2 */
	bool key_backup_enabled;	   /* KEY_BACKUP_ENABLED, false */
	char *key_backup_path; /* KEY_BACKUP_PATH, default $STATE_DIRECTORY/keys/backups */
	char *key_backup_passphrase_file; /* KEY_BACKUP_PASSPHRASE_FILE, "" = credential */

	/* Compliance */
	char *retention_default;	 /* RETENTION_DEFAULT, "forever" or a duration (7y) */
	uint64_t retention_interval_ms;	 /* RETENTION_INTERVAL, 1h */
	char *trail_signing_key;	 /* TRAIL_SIGNING_KEY, default $STATE_DIRECTORY/... */
	uint64_t trail_sign_interval_ms; /* TRAIL_SIGN_INTERVAL, 1h */

	/* Operations */
	char *control_socket; /* CONTROL_SOCKET, default $RUNTIME_DIRECTORY/control */
	char *control_group;  /* CONTROL_GROUP, "" = only root/owner */
	char *metrics_listen; /* METRICS_LISTEN, "" = off, e.g. 127.0.0.1:9090 */
	uint64_t metrics_request_timeout_ms; /* METRICS_REQUEST_TIMEOUT, 5s */
	uint64_t audit_rate_interval_ms;     /* AUDIT_RATE_LIMIT_INTERVAL, 10s */
	uint32_t audit_rate_burst;	     /* AUDIT_RATE_LIMIT_BURST, 20 */
	int log_level;			     /* LOG_LEVEL, info */
	char *log_target;		     /* LOG_TARGET auto|journal|stderr */

	/* Webhooks (docs/WEBHOOKS.md) */
	char *webhook_urls;	       /* WEBHOOK_URLS, comma-separated, "" = off */
	char *webhook_secret_file;     /* WEBHOOK_SECRET_FILE, "" = the webhook-secret credential */
	uint64_t webhook_timeout_ms;   /* WEBHOOK_TIMEOUT, 10s */
	uint64_t webhook_retry_min_ms; /* WEBHOOK_RETRY_MIN, 1s */
	uint64_t webhook_retry_max_ms; /* WEBHOOK_RETRY_MAX, 1h */

	/* Recordings to S3-compatible object storage (docs/STORAGE.md) */
	char *s3_endpoint;		   /* S3_ENDPOINT, "" = off */
	char *s3_bucket;		   /* S3_BUCKET */
	char *s3_prefix;		   /* S3_PREFIX, "siprecd" */
	char *s3_region;		   /* S3_REGION, us-east-1 */
	char *s3_addressing;		   /* S3_ADDRESSING path|virtual */
	char *s3_credentials;		   /* S3_CREDENTIALS, "" = the s3-credentials credential */
	uint64_t s3_timeout_ms;		   /* S3_TIMEOUT, 10m */
	uint64_t s3_retry_min_ms;	   /* S3_RETRY_MIN, 1s */
	uint64_t s3_retry_max_ms;	   /* S3_RETRY_MAX, 1h */
	uint64_t s3_delete_local_after_ms; /* S3_DELETE_LOCAL_AFTER, 0 = keep */

	/* The web console, siprec-web (docs/WEB.md) */
	uint32_t web_max_connections_per_address; /* WEB_MAX_CONNECTIONS_PER_ADDRESS, 8 */
	uint64_t web_request_timeout_ms;	  /* WEB_REQUEST_TIMEOUT, 10s */

	char *config_path; /* the file that was read, NULL if none (the default path was missing) */
	bool config_explicit; /* config_path was asked for (--config): it must exist on reload */
};

/*
 * Fills c (uninitialised on entry) with defaults, then the file at path (NULL = the default:
 * $CONFIGURATION_DIRECTORY/siprecd.conf under systemd, else CONFIG_DEFAULT_PATH; a missing
 * default file is fine but a missing explicit one is an error), then the environment envp
 * (NULL = the process environment; only names of the key table count). Then derives the
 * directory defaults and runs the cross-field checks. On failure returns -EINVAL (or -errno)
 * after printing one message per problem to err (every problem, not only the first), naming the
 * key and the value; c is then freed. On success the caller owns c and frees it with config_free.
 */
int config_load(struct config *c, const char *path, char *const *envp, FILE *err);
/* Frees the strings of c (secrets wiped first) and zeroes it; accepts NULL. Returns NULL. */
struct config *config_free(struct config *c);
/* Prints the effective configuration as KEY=value lines that config_load reads back; secrets are
 * printed as ******** when set. */
void config_print(const struct config *c, FILE *out);
/* Prints the key table (name, default, description) for --help. */
void config_print_help(FILE *out);
/* Prints the key table as the Markdown table of docs/CONFIG.md. */
void config_print_doc(FILE *out);
/* Called by config_apply for each key whose value differs: applied is true when the new value
 * is now in effect, false for a key that needs a restart (the running value was kept). */
typedef void (*config_change_fn)(void *userdata, const char *key, bool applied);
/*
 * SIGHUP: compares cur (the running configuration) with next (a freshly loaded one) key by key.
 * The values of keys the table marks reloadable are swapped: cur gets the new value and next the
 * old one (so the caller can compare, or put it back with config_swap_key when applying it
 * failed). Restart-only keys stay as they are in cur. Calls fn (may be NULL) for each differing
 * key, in table order. Returns the number of differing keys. next is still freed by the caller.
 */
unsigned config_apply(struct config *cur, struct config *next, config_change_fn fn, void *userdata);
/* Swaps the value of key between a and b; -ENOENT for an unknown key, -EINVAL for a key without
 * a field of its own (ENABLE_SRTP). */
int config_swap_key(struct config *a, struct config *b, const char *key);
/* 1 if key is applied by a reload, 0 if it needs a restart, -ENOENT if unknown. */
int config_key_reloadable(const char *key);
/* Number of keys in the table and the name of key i (NULL past the end); tests and docs. */
size_t config_key_count(void);
const char *config_key_name(size_t i);
