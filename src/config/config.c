// SPDX-License-Identifier: MIT
/*
 * Configuration loading. One table of keys (name, type, default, limits, help, secret flag,
 * offset of the field in struct config) drives the file parser, the environment override,
 * validation, --check-config output, --help and the key table of docs/CONFIG.md.
 * Every problem is reported (with the key and the value) before config_load fails.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "siprecd/acl.h"
#include "siprecd/auth.h"
#include "siprecd/config.h"
#include "siprecd/log.h"
#include "siprecd/macro.h"
#include "siprecd/str.h"

/* The file is operator-written, but a runaway file (a log redirected by mistake) must not eat
 * memory. */
#define CONFIG_FILE_MAX (1024 * 1024)
#define DURATION_MS(s) ((uint64_t)(s)*1000ULL)
#define NO_FIELD SIZE_MAX

extern char **environ;

enum key_type {
	T_STRING,   /* free text */
	T_CHOICE,   /* text, one of choices (stored as the canonical spelling) */
	T_PATH,	    /* absolute path or empty */
	T_ADDRESS,  /* IPv4/IPv6 literal (empty allowed when min == 0) */
	T_HOSTPORT, /* address:port or [v6]:port, or empty */
	T_CIDRS,    /* list of address[/prefix], IPv4 or IPv6, or empty */
	T_BOOL,
	T_U32,
	T_U64,
	T_PORT,
	T_DURATION, /* milliseconds in a uint64_t */
	T_ENUM,	    /* index in choices + enum_base, stored in an enum (int-sized) */
	T_LOGLEVEL, /* int */
};

struct config_key {
	const char *name;
	enum key_type type;
	const char *def;     /* default, in the same syntax as the file */
	const char *def_doc; /* how a derived default ("" in def) is computed, for the docs */
	const char *desc;
	bool secret;
	bool colon_list; /* systemd passes STATE_DIRECTORY=a:b; the first entry is ours */
	size_t offset;	 /* of the field in struct config, NO_FIELD for ENABLE_SRTP */
	uint64_t min, max;
	const char *const *choices;
	int enum_base;
	/* RELOAD: SIGHUP applies a new value (read at use, or a reload hook in the manager);
	 * RESTART: a changed value waits for the next start and is warned about. */
	bool reload;
};

#define RELOAD true
#define RESTART false

static const char *const tls_verify_names[] = {"none", "request", "require", NULL};
static const char *const tls_versions[] = {"1.2", "1.3", NULL};
static const char *const srtp_names[] = {"off", "optional", "required", NULL};
static const char *const latch_names[] = {"sdp", "first", "off", NULL};
static const char *const s3_addressing_names[] = {"path", "virtual", NULL};
static const char *const dtmf_names[] = {"record", "events-only", "drop", NULL};
static const char *const seal_names[] = {"AES-256-GCM", "CHACHA20-POLY1305", NULL};
static const char *const key_stores[] = {"file",   "credential", "password",
					 "memory", "public-key", NULL};
static const char *const kdf_names[] = {"argon2id", "pbkdf2", NULL};
static const char *const log_targets[] = {"auto", "journal", "stderr", NULL};

#define F(field) offsetof(struct config, field)

static const struct config_key keys[] = {
	/* SIP */
	{"SIP_LISTEN_ADDRESS", T_ADDRESS, "127.0.0.1", NULL,
	 "Local address for SIP over UDP, TCP and TLS (0.0.0.0 or :: for all).", false, false,
	 F(sip_address), 1, 0, NULL, 0, RESTART},
	{"SIP_PORT", T_PORT, "5060", NULL, "SIP port for UDP and TCP.", false, false, F(sip_port),
	 1, 65535, NULL, 0, RESTART},
	{"ENABLE_UDP", T_BOOL, "true", NULL, "Accept SIP over UDP.", false, false, F(enable_udp), 0,
	 0, NULL, 0, RESTART},
	{"ENABLE_TCP", T_BOOL, "true", NULL, "Accept SIP over TCP.", false, false, F(enable_tcp), 0,
	 0, NULL, 0, RESTART},
	{"ENABLE_TLS", T_BOOL, "true", NULL, "Accept SIP over TLS (SIPS).", false, false,
	 F(enable_tls), 0, 0, NULL, 0, RESTART},
	{"TLS_PORT", T_PORT, "5061", NULL, "SIPS port.", false, false, F(tls_port), 1, 65535, NULL,
	 0, RESTART},
	{"TLS_CERT_PATH", T_PATH, "", "self-signed, generated in the state directory",
	 "PEM certificate chain for SIPS; empty generates a self-signed one.", false, false,
	 F(tls_cert_path), 0, 0, NULL, 0, RELOAD},
	{"TLS_KEY_PATH", T_PATH, "", "generated with the certificate",
	 "PEM private key of TLS_CERT_PATH (set both or neither).", false, false, F(tls_key_path),
	 0, 0, NULL, 0, RELOAD},
	{"TLS_KEY_PASSWORD", T_STRING, "", NULL,
	 "Passphrase of an encrypted TLS_KEY_PATH (secret; prefer a credential).", true, false,
	 F(tls_key_password), 0, 0, NULL, 0, RELOAD},
	{"TLS_CA_PATH", T_PATH, "", NULL,
	 "PEM CA bundle to verify client certificates; must exist when set.", false, false,
	 F(tls_ca_path), 0, 0, NULL, 0, RELOAD},
	{"TLS_CRL_PATH", T_PATH, "", NULL,
	 "PEM file of CRLs of the TLS_CA_PATH CAs; a revoked client certificate is refused.", false,
	 false, F(tls_crl_path), 0, 0, NULL, 0, RELOAD},
	{"TLS_VERIFY_CLIENT", T_ENUM, "none", NULL,
	 "Client certificates: none, request (verify if sent) or require; not none needs "
	 "TLS_CA_PATH.",
	 false, false, F(tls_verify_client), 0, 0, tls_verify_names, TLS_VERIFY_NONE, RELOAD},
	{"TLS_MIN_VERSION", T_CHOICE, "1.2", NULL, "Lowest TLS version accepted: 1.2 or 1.3.",
	 false, false, F(tls_min_version), 0, 0, tls_versions, 0, RELOAD},
	{"TLS_ALLOWED_PEERS", T_STRING, "", NULL,
	 "Comma-separated patterns ('*' = within one DNS label) of client certificate names "
	 "allowed (needs TLS_CA_PATH); empty allows all.",
	 false, false, F(tls_allowed_peers), 0, 0, NULL, 0, RELOAD},
	{"MAX_CONNECTIONS", T_U32, "1024", NULL, "Maximum concurrent TCP and TLS connections.",
	 false, false, F(max_connections), 1, 1000000, NULL, 0, RELOAD},
	{"MAX_HANDSHAKES", T_U32, "256", NULL, "Maximum TLS handshakes in progress.", false, false,
	 F(max_handshakes), 1, 100000, NULL, 0, RELOAD},
	{"TCP_IDLE_TIMEOUT", T_DURATION, "300s", NULL,
	 "Idle TCP/TLS connections are closed after this long.", false, false,
	 F(tcp_idle_timeout_ms), DURATION_MS(1), DURATION_MS(86400), NULL, 0, RELOAD},
	{"TLS_HANDSHAKE_TIMEOUT", T_DURATION, "10s", NULL,
	 "A TLS handshake must finish within this.", false, false, F(tls_handshake_timeout_ms), 100,
	 DURATION_MS(300), NULL, 0, RELOAD},
	{"MAX_MESSAGE_SIZE", T_U32, "65535", NULL, "Largest SIP message accepted, in bytes.", false,
	 false, F(max_message_size), 1024, 1048576, NULL, 0, RELOAD},
	{"SIP_MESSAGE_TIMEOUT", T_DURATION, "20s", NULL,
	 "A SIP message on TCP/TLS must be whole this long after its first byte, or the connection "
	 "is closed (slow senders); a connection throttled for its send queue is closed when the "
	 "queue takes nothing for this long (peers that do not read).",
	 false, false, F(sip_message_timeout_ms), 100, DURATION_MS(3600), NULL, 0, RELOAD},
	{"SIP_TRYING_DELAY", T_DURATION, "100ms", NULL,
	 "An INVITE whose answer (the 200 OK once its recording files exist and its catalog rows "
	 "are durable) is not sent this long after it arrived gets 100 Trying then; an answer "
	 "ready sooner goes out alone (RFC 3261 13.3.1.1). 0 sends 100 Trying at once. At most "
	 "400ms: below T1 (500ms), so an SRC over UDP does not retransmit the INVITE.",
	 false, false, F(sip_trying_delay_ms), 0, 400, NULL, 0, RELOAD},
	{"MAX_SEND_QUEUE", T_U32, "1048576", NULL,
	 "Bytes of responses queued to one TCP/TLS peer before it is disconnected; past half, "
	 "the connection is not read until the queue is down to a quarter (backpressure).",
	 false, false, F(max_send_queue), 65536, 1073741824, NULL, 0, RELOAD},
	{"MAX_SEND_QUEUE_MESSAGES", T_U32, "1024", NULL,
	 "Messages queued to one TCP/TLS peer before it is disconnected; past half, the "
	 "connection is not read until the queue is down to a quarter (backpressure).",
	 false, false, F(max_send_queue_msgs), 16, 1000000, NULL, 0, RELOAD},
	{"SIP_ALLOW", T_CIDRS, "", NULL,
	 "Source addresses (address[/prefix], IPv4 or IPv6, comma-separated) allowed on every SIP "
	 "transport whose own SIP_ALLOW_* is empty; empty allows all.",
	 false, false, F(sip_allow), 0, 0, NULL, 0, RELOAD},
	{"SIP_ALLOW_UDP", T_CIDRS, "", NULL, "Allowlist for SIP over UDP; empty = SIP_ALLOW.",
	 false, false, F(sip_allow_udp), 0, 0, NULL, 0, RELOAD},
	{"SIP_ALLOW_TCP", T_CIDRS, "", NULL, "Allowlist for SIP over TCP; empty = SIP_ALLOW.",
	 false, false, F(sip_allow_tcp), 0, 0, NULL, 0, RELOAD},
	{"SIP_ALLOW_TLS", T_CIDRS, "", NULL, "Allowlist for SIP over TLS; empty = SIP_ALLOW.",
	 false, false, F(sip_allow_tls), 0, 0, NULL, 0, RELOAD},
	{"MAX_CONNECTIONS_PER_SOURCE", T_U32, "64", NULL,
	 "Concurrent TCP and TLS connections from one IP address; 0 = only MAX_CONNECTIONS.", false,
	 false, F(max_connections_per_source), 0, 1000000, NULL, 0, RELOAD},
	{"MAX_HANDSHAKES_PER_SOURCE", T_U32, "16", NULL,
	 "TLS handshakes in progress from one IP address; 0 = only MAX_HANDSHAKES.", false, false,
	 F(max_handshakes_per_source), 0, 100000, NULL, 0, RELOAD},
	{"INVITE_RATE_PER_SOURCE", T_U32, "100", NULL,
	 "New-session INVITEs per second from one IP address (token bucket); 0 = no limit.", false,
	 false, F(invite_rate_per_source), 0, 1000000, NULL, 0, RELOAD},
	{"INVITE_BURST_PER_SOURCE", T_U32, "200", NULL,
	 "INVITEs one IP address may send at once before INVITE_RATE_PER_SOURCE applies.", false,
	 false, F(invite_burst_per_source), 1, 1000000, NULL, 0, RELOAD},
	{"SIP_DIGEST_AUTH", T_BOOL, "false", NULL,
	 "Challenge new-session INVITEs with SIP digest authentication (RFC 3261 §22, RFC 8760).",
	 false, false, F(sip_digest_auth), 0, 0, NULL, 0, RELOAD},
	{"SIP_AUTH_FILE", T_PATH, "", NULL,
	 "Digest credentials, one user:password per line; empty = the sip-auth systemd credential.",
	 false, false, F(sip_auth_file), 0, 0, NULL, 0, RELOAD},
	{"SIP_AUTH_REALM", T_STRING, "siprecd", NULL, "Digest realm offered in challenges.", false,
	 false, F(sip_auth_realm), 0, 0, NULL, 0, RELOAD},
	{"SIP_AUTH_ALGORITHMS", T_STRING, "SHA-256,MD5", NULL,
	 "Digest algorithms offered, in order: SHA-256, MD5 (comma-separated).", false, false,
	 F(sip_auth_algorithms), 0, 0, NULL, 0, RELOAD},
	{"SIP_AUTH_NONCE_LIFETIME", T_DURATION, "5m", NULL,
	 "A digest nonce is accepted this long; older ones get a new challenge with stale=true.",
	 false, false, F(sip_auth_nonce_lifetime_ms), DURATION_MS(1), DURATION_MS(86400), NULL, 0,
	 RELOAD},
	{"SIP_AUTH_MAX_NONCES", T_U32, "4096", NULL,
	 "Answered digest nonces whose count is remembered against replays; the oldest go first.",
	 false, false, F(sip_auth_max_nonces), 1, SIP_AUTH_MAX_NONCES_LIMIT, NULL, 0, RELOAD},

	/* Sessions and media */
	{"MEDIA_ADDRESS", T_ADDRESS, "", "the local address routed toward the SRC",
	 "Local address for RTP and the SDP c= line; empty picks the routed address.", false, false,
	 F(media_address), 0, 0, NULL, 0, RELOAD},
	{"RTP_PORT_MIN", T_PORT, "20000", NULL, "Lowest UDP port for media.", false, false,
	 F(rtp_port_min), 1, 65535, NULL, 0, RESTART},
	{"RTP_PORT_MAX", T_PORT, "30000", NULL,
	 "Highest UDP port for media; the range needs 2 ports per stream of a session.", false,
	 false, F(rtp_port_max), 1, 65535, NULL, 0, RESTART},
	{"MEDIA_WORKERS", T_U32, "0", NULL, "Media worker threads; 0 = one per CPU.", false, false,
	 F(media_workers), 0, 1024, NULL, 0, RESTART},
	{"MEDIA_BATCH", T_U32, "128", NULL,
	 "A media worker sleeps until this many completions (packets) are ready, or "
	 "MEDIA_BATCH_WAIT has passed, or a timer is due: fewer wake-ups under load. 1 = wake for "
	 "every packet.",
	 false, false, F(media_batch), 1, 4096, NULL, 0, RESTART},
	{"MEDIA_BATCH_WAIT", T_DURATION, "1ms", NULL,
	 "Longest a media worker waits for MEDIA_BATCH completions (the most a packet, or a stream "
	 "start, is delayed by batching); 0 = wake for every packet.",
	 false, false, F(media_batch_wait_ms), 0, 100, NULL, 0, RESTART},
	{"MAX_SESSIONS", T_U32, "5000", NULL, "Maximum concurrent recording sessions.", false,
	 false, F(max_sessions), 1, 1000000, NULL, 0, RELOAD},
	{"MAX_SESSIONS_PER_SOURCE", T_U32, "0", NULL,
	 "Concurrent recording sessions from one IP address; 0 = only MAX_SESSIONS.", false, false,
	 F(max_sessions_per_source), 0, 1000000, NULL, 0, RELOAD},
	{"MAX_STREAMS_PER_SOURCE", T_U32, "0", NULL,
	 "Concurrent media streams over the sessions of one IP address; 0 = no limit.", false,
	 false, F(max_streams_per_source), 0, 100000000, NULL, 0, RELOAD},
	{"MAX_STREAMS_PER_SESSION", T_U32, "16", NULL, "Maximum media streams in one session.",
	 false, false, F(max_streams), 1, 256, NULL, 0, RELOAD},
	{"MAX_METADATA_SIZE", T_U32, "65536", NULL, "Largest rs-metadata body accepted, in bytes.",
	 false, false, F(max_metadata_size), 1024, 16777216, NULL, 0, RELOAD},
	{"MAX_METADATA_SNAPSHOTS", T_U32, "64", NULL,
	 "Metadata documents the catalog keeps per session (each re-INVITE or UPDATE may carry "
	 "one); past it the model is still updated, the snapshot is not stored and a warning is "
	 "logged once per session. Bounds what one SRC can write into the catalog.",
	 false, false, F(max_metadata_snapshots), 1, 100000, NULL, 0, RELOAD},
	{"RECORD_SIP_HEADERS", T_STRING, "", NULL,
	 "Comma-separated SIP header names (at most 16) whose INVITE values the catalog keeps per "
	 "session, besides User-to-User, Session-ID and Call-Info.",
	 false, false, F(record_sip_headers), 0, 0, NULL, 0, RELOAD},
	{"RTP_TIMEOUT", T_DURATION, "30s", NULL,
	 "A stream without packets for this long is marked idle.", false, false, F(rtp_timeout_ms),
	 DURATION_MS(1), DURATION_MS(86400), NULL, 0, RELOAD},
	{"RTP_TIMEOUT_ENDS_SESSION", T_BOOL, "false", NULL,
	 "End the session (send BYE) when all its streams time out.", false, false,
	 F(rtp_timeout_bye), 0, 0, NULL, 0, RELOAD},
	{"SESSION_SILENCE_TIMEOUT", T_DURATION, "4h", NULL,
	 "End a session with a BYE when every stream not on hold has been silent and no in-dialog "
	 "request came for this long (an SRC that never sent its BYE); 0 = never.",
	 false, false, F(session_silence_timeout_ms), 0, DURATION_MS(7 * 86400), NULL, 0, RELOAD},
	{"SHUTDOWN_BYE_TIMEOUT", T_DURATION, "2s", NULL,
	 "At a stop (SIGTERM), how long siprecd waits for the SRCs to answer the BYEs it sends for "
	 "the sessions in progress, and for their recordings to be sealed, before it exits anyway "
	 "(never less than 800 ms; keep it well below the unit's TimeoutStopSec).",
	 false, false, F(shutdown_bye_timeout_ms), 0, DURATION_MS(50), NULL, 0, RELOAD},
	{"MIN_SESSION_EXPIRES", T_DURATION, "90s", NULL,
	 "RFC 4028 Min-SE: a Session-Expires below it is answered 422 (the RFC's floor is 90s; "
	 "lower values are for tests).",
	 false, false, F(min_session_expires_ms), DURATION_MS(1), DURATION_MS(86400), NULL, 0,
	 RELOAD},
	{"DELAYED_OFFER_STREAMS", T_U32, "2", NULL,
	 "Audio streams offered to an INVITE without SDP when its metadata names none.", false,
	 false, F(delayed_offer_streams), 1, 64, NULL, 0, RELOAD},
	{"SRTP_POLICY", T_ENUM, "optional", NULL,
	 "off (plain RTP only), optional (SRTP when offered) or required.", false, false,
	 F(srtp_policy), 0, 0, srtp_names, SRTP_POLICY_OFF, RELOAD},
	{"SRTP_ALLOW_SDES_OVER_PLAIN_SIP", T_BOOL, "false", NULL,
	 "With SRTP_POLICY=required, also accept SDES keys (a=crypto) that came over SIP on UDP or "
	 "TCP, where anyone on the signalling path reads them; otherwise only over TLS.",
	 false, false, F(srtp_sdes_plain_sip), 0, 0, NULL, 0, RELOAD},
	{"MEDIA_LATCH", T_ENUM, "sdp", NULL,
	 "Source a stream records from: sdp (only the IP of the offer's c= when it is a unicast "
	 "address, latched to the first port sending from it; else as first), first (the first "
	 "address:port sending valid (S)RTP) or off (any). Others are dropped and counted.",
	 false, false, F(media_latch), 0, 0, latch_names, MEDIA_LATCH_SDP, RESTART},
	{"MEDIA_MAX_STREAM_PACKETS", T_U64, "20000000", NULL,
	 "Packets recorded per stream at most (about 110 h at 50 packets/s); later ones are "
	 "dropped and counted. 0 = no cap.",
	 false, false, F(media_max_packets), 0, UINT64_MAX, NULL, 0, RESTART},
	{"MEDIA_MAX_STREAM_BYTES", T_U64, "4294967296", NULL,
	 "RTP payload bytes recorded per stream at most; later packets are dropped and counted. "
	 "0 = no cap.",
	 false, false, F(media_max_bytes), 0, UINT64_MAX, NULL, 0, RESTART},
	{"DTMF_POLICY", T_ENUM, "record", NULL,
	 "RFC 4733 telephone-event: record (packets in the recording and digits in the catalog), "
	 "events-only (digits in the catalog, packets never written) or drop (neither).",
	 false, false, F(dtmf_policy), 0, 0, dtmf_names, DTMF_POLICY_RECORD, RESTART},
	{"ENABLE_SRTP", T_BOOL, "", "unset",
	 "Compatibility: true = SRTP_POLICY=optional, false = off, unless SRTP_POLICY is set.",
	 false, false, NO_FIELD, 0, 0, NULL, 0, RELOAD},

	/* Storage */
	{"STATE_DIRECTORY", T_PATH, "",
	 "$STATE_DIRECTORY (systemd), else $XDG_STATE_HOME/siprecd, else ~/.local/state/siprecd",
	 "Directory for recordings, keys and the catalog.", false, true, F(state_dir), 0, 0, NULL,
	 0, RESTART},
	{"RUNTIME_DIRECTORY", T_PATH, "",
	 "$RUNTIME_DIRECTORY (systemd), else $XDG_RUNTIME_DIR/siprecd, else <state>/run",
	 "Directory for sockets and other runtime files.", false, true, F(runtime_dir), 0, 0, NULL,
	 0, RESTART},
	{"RECORDING_DIR", T_PATH, "", "<state>/recordings", "Directory of the recording files.",
	 false, false, F(recording_dir), 0, 0, NULL, 0, RESTART},
	{"CATALOG_PATH", T_PATH, "", "<state>/catalog.db", "sqlite3 catalog database.", false,
	 false, F(catalog_path), 0, 0, NULL, 0, RESTART},
	{"FLUSH_INTERVAL", T_DURATION, "1s", NULL,
	 "Recordings are synced to disk at least this often (bounds loss on a crash).", false,
	 false, F(flush_interval_ms), 10, DURATION_MS(3600), NULL, 0, RESTART},
	{"CHUNK_SIZE", T_U32, "65536", NULL,
	 "Bytes per sealed recording chunk: a multiple of 4096 from 4096 to 16 MiB.", false, false,
	 F(chunk_size), 0, UINT32_MAX, NULL, 0, RELOAD},
	{"ENABLE_RECORDING_ENCRYPTION", T_BOOL, "true", NULL, "Encrypt recordings at rest.", false,
	 false, F(enable_recording_encryption), 0, 0, NULL, 0, RELOAD},
	{"ENABLE_METADATA_ENCRYPTION", T_BOOL, "false", NULL,
	 "Seal rs-metadata in the catalog and .metadata files (docs/KEYS.md).", false, false,
	 F(enable_metadata_encryption), 0, 0, NULL, 0, RELOAD},
	{"ENCRYPTION_ALGORITHM", T_ENUM, "AES-256-GCM", NULL,
	 "AEAD for recordings: AES-256-GCM or CHACHA20-POLY1305.", false, false,
	 F(encryption_algorithm), 0, 0, seal_names, SEAL_AES_256_GCM, RELOAD},
	{"MIN_FREE_DISK_PERCENT", T_U64, "5", NULL,
	 "New sessions are refused (INVITE 503, Retry-After: 60; OPTIONS 503) while the "
	 "recording directory has less free space than this (percent, checked at most once a "
	 "second; a disk-space-low audit event at most once a minute). 0 disables the check.",
	 false, false, F(min_free_disk_percent), 0, 100, NULL, 0, RELOAD},

	/* Keys */
	{"ENCRYPTION_KEY_STORE", T_CHOICE, "file", NULL,
	 "Source of the key-encryption key: file, credential, password, memory or public-key.",
	 false, false, F(encryption_key_store), 0, 0, key_stores, 0, RESTART},
	{"MASTER_KEY_PATH", T_PATH, "", "<state>/keys/master.key",
	 "Key-encryption key file (generated with mode 0600 if missing).", false, false,
	 F(master_key_path), 0, 0, NULL, 0, RESTART},
	{"RECORDING_PUBLIC_KEY", T_PATH, "", NULL,
	 "X25519 public key (PEM) of ENCRYPTION_KEY_STORE=public-key (write-only mode).", false,
	 false, F(recording_public_key), 0, 0, NULL, 0, RESTART},
	{"MASTER_PASSWORD", T_STRING, "", NULL,
	 "Password for ENCRYPTION_KEY_STORE=password (secret; prefer the credential).", true, false,
	 F(master_password), 0, 0, NULL, 0, RESTART},
	{"KEY_ROTATION_INTERVAL", T_DURATION, "24h", NULL, "Data keys are rotated this often.",
	 false, false, F(key_rotation_interval_ms), DURATION_MS(60), DURATION_MS(366 * 86400ULL),
	 NULL, 0, RELOAD},
	{"PBKDF2_ITERATIONS", T_U32, "600000", NULL,
	 "PBKDF2-SHA256 iterations for KEY_DERIVATION=pbkdf2.", false, false, F(pbkdf2_iterations),
	 100000, 100000000, NULL, 0, RESTART},
	{"KEY_DERIVATION", T_CHOICE, "argon2id", NULL,
	 "Password key derivation: argon2id or pbkdf2.", false, false, F(kdf), 0, 0, kdf_names, 0,
	 RESTART},
	{"KEY_BACKUP_ENABLED", T_BOOL, "false", NULL,
	 "Write an encrypted key backup after each data key rotation.", false, false,
	 F(key_backup_enabled), 0, 0, NULL, 0, RESTART},
	{"KEY_BACKUP_PATH", T_PATH, "", "<state>/keys/backups",
	 "Directory of the automatic key backups (created with mode 0700).", false, false,
	 F(key_backup_path), 0, 0, NULL, 0, RESTART},
	{"KEY_BACKUP_PASSPHRASE_FILE", T_PATH, "", NULL,
	 "File holding the backup passphrase; empty = the backup-passphrase credential.", false,
	 false, F(key_backup_passphrase_file), 0, 0, NULL, 0, RESTART},

	/* Compliance (docs/COMPLIANCE.md) */
	{"RETENTION_DEFAULT", T_STRING, "forever", NULL,
	 "Retention of a recording no policy applies to: forever, or a duration (90d, 7y).", false,
	 false, F(retention_default), 1, 0, NULL, 0, RESTART},
	{"RETENTION_INTERVAL", T_DURATION, "1h", NULL,
	 "The retention sweeper runs this often (and on demand: siprecctl retention run).", false,
	 false, F(retention_interval_ms), DURATION_MS(1), DURATION_MS(366 * 86400ULL), NULL, 0,
	 RESTART},
	{"TRAIL_SIGNING_KEY", T_PATH, "", "<state>/trail-signing.key",
	 "Ed25519 key signing the trail head (created with mode 0600; public half beside, .pub).",
	 false, false, F(trail_signing_key), 0, 0, NULL, 0, RESTART},
	{"TRAIL_SIGN_INTERVAL", T_DURATION, "1h", NULL,
	 "The trail head is signed this often when it moved (and at each data key rotation).",
	 false, false, F(trail_sign_interval_ms), DURATION_MS(1), DURATION_MS(86400), NULL, 0,
	 RESTART},

	/* Operations */
	{"CONTROL_SOCKET", T_PATH, "", "<runtime>/control",
	 "varlink control socket used by siprecctl.", false, false, F(control_socket), 0, 0, NULL,
	 0, RESTART},
	{"CONTROL_GROUP", T_STRING, "", NULL,
	 "Group allowed to use the control socket; empty = only the owner.", false, false,
	 F(control_group), 0, 0, NULL, 0, RESTART},
	{"METRICS_LISTEN", T_HOSTPORT, "", NULL,
	 "address:port for Prometheus metrics over HTTP; empty = off.", false, false,
	 F(metrics_listen), 0, 0, NULL, 0, RELOAD},
	{"METRICS_REQUEST_TIMEOUT", T_DURATION, "5s", NULL,
	 "A metrics/health HTTP client must send its request and read the answer within this.",
	 false, false, F(metrics_request_timeout_ms), 100, DURATION_MS(300), NULL, 0, RELOAD},
	{"AUDIT_RATE_LIMIT_INTERVAL", T_DURATION, "10s", NULL,
	 "Window of the audit rate limit of events a network peer can trigger.", false, false,
	 F(audit_rate_interval_ms), 100, DURATION_MS(3600), NULL, 0, RELOAD},
	{"AUDIT_RATE_LIMIT_BURST", T_U32, "20", NULL,
	 "Peer-triggered audit events of each kind per window; more are counted and summarised "
	 "(0 = no limit).",
	 false, false, F(audit_rate_burst), 0, 100000, NULL, 0, RELOAD},
	{"LOG_LEVEL", T_LOGLEVEL, "info", NULL, "err, warning, notice, info or debug.", false,
	 false, F(log_level), 0, 0, NULL, 0, RELOAD},
	{"LOG_TARGET", T_CHOICE, "auto", NULL, "auto, journal or stderr.", false, false,
	 F(log_target), 0, 0, log_targets, 0, RESTART},

	/* Webhooks (docs/WEBHOOKS.md) */
	{"WEBHOOK_URLS", T_STRING, "", NULL,
	 "Comma-separated http(s) URLs (at most 8) each event is POSTed to, signed; empty = off.",
	 false, false, F(webhook_urls), 0, 0, NULL, 0, RESTART},
	{"WEBHOOK_SECRET_FILE", T_PATH, "", NULL,
	 "File holding the HMAC-SHA256 signing secret (not readable by others); empty = the "
	 "webhook-secret credential. Required when WEBHOOK_URLS is set.",
	 false, false, F(webhook_secret_file), 0, 0, NULL, 0, RESTART},
	{"WEBHOOK_TIMEOUT", T_DURATION, "10s", NULL,
	 "One delivery attempt (connect, send, answer) must finish within this.", false, false,
	 F(webhook_timeout_ms), 100, DURATION_MS(300), NULL, 0, RESTART},
	{"WEBHOOK_RETRY_MIN", T_DURATION, "1s", NULL,
	 "Delay after the first failed attempt; it doubles after each further failure.", false,
	 false, F(webhook_retry_min_ms), 10, DURATION_MS(3600), NULL, 0, RESTART},
	{"WEBHOOK_RETRY_MAX", T_DURATION, "1h", NULL,
	 "Longest delay between two attempts; an event is retried until delivered.", false, false,
	 F(webhook_retry_max_ms), 10, DURATION_MS(86400), NULL, 0, RESTART},

	/* Recordings to S3-compatible object storage (docs/STORAGE.md) */
	{"S3_ENDPOINT", T_STRING, "", NULL,
	 "http(s)://host[:port] of an S3-compatible store (AWS S3, Ceph RGW, MinIO, Garage) every "
	 "finalized recording is uploaded to; empty = off.",
	 false, false, F(s3_endpoint), 0, 0, NULL, 0, RESTART},
	{"S3_BUCKET", T_STRING, "", NULL, "Bucket of the recordings; required with S3_ENDPOINT.",
	 false, false, F(s3_bucket), 0, 0, NULL, 0, RESTART},
	{"S3_ADDRESSING", T_CHOICE, "path", NULL,
	 "path (ENDPOINT/BUCKET/KEY) or virtual (virtual-hosted style: BUCKET.HOST/KEY, as AWS "
	 "prefers; the bucket name must then be a DNS label without dots under TLS).",
	 false, false, F(s3_addressing), 0, 0, s3_addressing_names, 0, RESTART},
	{"S3_PREFIX", T_STRING, "siprecd", NULL,
	 "Key prefix: objects are <prefix>/<YYYY-MM-DD>/<session>/<recording>.siprec (+ .json, "
	 "<session>.metadata).",
	 false, false, F(s3_prefix), 0, 0, NULL, 0, RESTART},
	{"S3_REGION", T_STRING, "us-east-1", NULL, "Region signed into SigV4 requests.", false,
	 false, F(s3_region), 0, 0, NULL, 0, RESTART},
	{"S3_CREDENTIALS", T_PATH, "", NULL,
	 "File (not readable by others) holding ACCESS_KEY_ID:SECRET or aws_access_key_id/"
	 "aws_secret_access_key lines (and aws_session_token for temporary credentials), re-read "
	 "when it changes; empty = the s3-credentials credential. Never logged.",
	 false, false, F(s3_credentials), 0, 0, NULL, 0, RESTART},
	{"S3_TIMEOUT", T_DURATION, "10m", NULL,
	 "One request (an upload or a read-back of a whole recording) must finish within this.",
	 false, false, F(s3_timeout_ms), 100, DURATION_MS(86400), NULL, 0, RESTART},
	{"S3_RETRY_MIN", T_DURATION, "1s", NULL,
	 "Delay after the first failed upload; it doubles after each further failure.", false,
	 false, F(s3_retry_min_ms), 10, DURATION_MS(3600), NULL, 0, RESTART},
	{"S3_RETRY_MAX", T_DURATION, "1h", NULL,
	 "Longest delay between two attempts; an upload is retried until verified.", false, false,
	 F(s3_retry_max_ms), 10, DURATION_MS(86400), NULL, 0, RESTART},
	{"S3_DELETE_LOCAL_AFTER", T_DURATION, "0", NULL,
	 "Remove the local .siprec this long after its upload was verified (never under a legal "
	 "hold); 0 = keep local files.",
	 false, false, F(s3_delete_local_after_ms), 0, DURATION_MS(3650 * 86400ULL), NULL, 0,
	 RESTART},

	/* The web console, siprec-web (docs/WEB.md): read when it starts. siprecd does not use
	 * them: RELOAD, so that a SIGHUP does not say they wait for a restart of siprecd. */
	{"WEB_MAX_CONNECTIONS_PER_ADDRESS", T_U32, "8", NULL,
	 "siprec-web (read when it starts; siprecd ignores it): connections one client address may "
	 "hold at once (of 64 in all); more are "
	 "closed at accept. Behind a reverse proxy every client is the proxy's address: raise it "
	 "to 64 there and limit clients at the proxy.",
	 false, false, F(web_max_connections_per_address), 1, 64, NULL, 0, RELOAD},
	{"WEB_REQUEST_TIMEOUT", T_DURATION, "10s", NULL,
	 "siprec-web (read when it starts; siprecd ignores it): a client must send a whole request "
	 "(its head, and a form's body) within this "
	 "from the connection's accept or its previous answer, else the connection is closed.",
	 false, false, F(web_request_timeout_ms), 1000, DURATION_MS(300), NULL, 0, RELOAD},
};

_Static_assert(sizeof(enum srtp_policy) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(enum seal_alg) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(enum tls_verify) == sizeof(int), "enums are stored as int");

enum source { SRC_DEFAULT, SRC_FILE, SRC_ENV };

struct load_ctx {
	struct config *c;
	FILE *err;
	char *const *envp;
	const char *origin; /* file path or "environment" */
	unsigned line;
	unsigned errors;
	enum source source[ARRAY_SIZE(keys)];
	unsigned file_line[ARRAY_SIZE(keys)];
	int enable_srtp; /* -1 unset */
};

static void _printf_(2, 3) report(struct load_ctx *x, const char *fmt, ...)
{
	va_list ap;

	x->errors++;
	if (!x->err)
		return;
	if (x->line)
		fprintf(x->err, "%s:%u: ", x->origin, x->line);
	else if (x->origin)
		fprintf(x->err, "%s: ", x->origin);
	va_start(ap, fmt);
	vfprintf(x->err, fmt, ap);
	va_end(ap);
	fputc('\n', x->err);
}

static const char *env_get(char *const *envp, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; envp && envp[i]; i++)
		if (strncmp(envp[i], name, n) == 0 && envp[i][n] == '=')
			return envp[i] + n + 1;
	return NULL;
}

static ssize_t key_find(struct str name)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (str_eq_cstr(name, keys[i].name))
			return (ssize_t)i;
	return -1;
}

/* Levenshtein distance, case-insensitive, for "did you mean"; long names just get no hint. */
static unsigned edit_distance(struct str a, const char *b)
{
	unsigned row[64], prev, tmp;
	size_t bl = strlen(b);

	if (a.len >= 63 || bl >= 63)
		return UINT32_MAX;
	for (size_t j = 0; j <= bl; j++)
		row[j] = (unsigned)j;
	for (size_t i = 1; i <= a.len; i++) {
		prev = row[0];
		row[0] = (unsigned)i;
		for (size_t j = 1; j <= bl; j++) {
			unsigned cost = (a.s[i - 1] | 0x20) == (b[j - 1] | 0x20) ? 0 : 1;

			tmp = row[j];
			row[j] = MIN(MIN(row[j] + 1, row[j - 1] + 1), prev + cost);
			prev = tmp;
		}
	}
	return row[bl];
}

static const char *key_suggest(struct str name)
{
	unsigned best = UINT32_MAX;
	const char *hint = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		unsigned d = edit_distance(name, keys[i].name);

		if (d < best) {
			best = d;
			hint = keys[i].name;
		}
	}
	/* A hint more different than a third of the name is noise. */
	if (best > MAX(2u, (unsigned)name.len / 3))
		return NULL;
	return hint;
}

static void *field_ptr(struct config *c, const struct config_key *k)
{
	return (char *)c + k->offset;
}

static int set_string(struct config *c, const struct config_key *k, const char *v)
{
	char **p = field_ptr(c, k);
	char *n = strdup(v);

	if (!n)
		return -ENOMEM;
	if (*p && k->secret)
		OPENSSL_cleanse(*p, strlen(*p));
	free(*p);
	*p = n;
	return 0;
}

static int choice_index(const char *const *choices, const char *v)
{
	for (int i = 0; choices[i]; i++)
		if (strcasecmp(choices[i], v) == 0)
			return i;
	return -1;
}

static void choices_list(const char *const *choices, const char *sep, char *buf, size_t n)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; choices[i] && off < n; i++)
		off += (size_t)snprintf(buf + off, n - off, "%s%s", i ? sep : "", choices[i]);
}

static bool address_valid(const char *v)
{
	unsigned char a[16];

	return inet_pton(AF_INET, v, a) == 1 || inet_pton(AF_INET6, v, a) == 1;
}

static bool hostport_valid(const char *v)
{
	struct str s = str_from_cstr(v), host, port;
	char buf[64];
	uint32_t p;
	ssize_t i;

	if (s.len && s.s[0] == '[') {
		i = str_chr(s, ']');
		if (i < 0 || (size_t)i + 1 >= s.len || s.s[i + 1] != ':')
			return false;
		host = str_make(s.s + 1, (size_t)i - 1);
		port = str_make(s.s + i + 2, s.len - (size_t)i - 2);
		if (str_copy(host, buf, sizeof(buf)) < 0 || inet_pton(AF_INET6, buf, buf + 32) != 1)
			return false;
	} else {
		i = -1;
		for (size_t j = 0; j < s.len; j++)
			if (s.s[j] == ':')
				i = (ssize_t)j;
		if (i <= 0)
			return false;
		host = str_make(s.s, (size_t)i);
		port = str_make(s.s + i + 1, s.len - (size_t)i - 1);
		if (str_copy(host, buf, sizeof(buf)) < 0 || inet_pton(AF_INET, buf, buf + 32) != 1)
			return false;
	}
	return str_to_u32(port, 65535, &p) == 0 && p > 0;
}

/*
 * Parses v for key k into c. Reports a problem (naming key and value) and returns -EINVAL,
 * leaving the field as it was. The value of a secret is never echoed.
 */
static int key_set(struct load_ctx *x, const struct config_key *k, const char *v)
{
	struct config *c = x->c;
	const char *shown = k->secret ? "(hidden)" : v;
	char list[128];
	uint64_t u;
	bool b;
	int r;

	/* Empty resets to the default, as an empty assignment does in systemd units. */
	if (!*v)
		v = k->def;
	if (k->offset == NO_FIELD) {
		/* ENABLE_SRTP, folded into SRTP_POLICY after all sources are read */
		if (!*v) {
			x->enable_srtp = -1;
			return 0;
		}
		if (parse_bool(v, &b) < 0)
			goto bad_bool;
		x->enable_srtp = b;
		return 0;
	}

	switch (k->type) {
	case T_STRING:
		return set_string(c, k, v);
	case T_PATH:
		if (*v && v[0] != '/') {
			report(x, "%s: '%s' is not an absolute path", k->name, shown);
			return -EINVAL;
		}
		if (k->colon_list && strchr(v, ':')) {
			_cleanup_free_ char *first = strndup(v, strcspn(v, ":"));

			return first ? set_string(c, k, first) : -ENOMEM;
		}
		return set_string(c, k, v);
	case T_ADDRESS:
		if ((*v || k->min) && !address_valid(v)) {
			report(x, "%s: '%s' is not an IPv4 or IPv6 address", k->name, shown);
			return -EINVAL;
		}
		return set_string(c, k, v);
	case T_CIDRS: {
		struct sip_acl *acl = NULL;
		char err[160];

		if (sip_acl_parse(v, &acl, err, sizeof(err)) < 0) {
			report(x, "%s: %s", k->name, err[0] ? err : "cannot parse");
			return -EINVAL;
		}
		sip_acl_free(acl);
		return set_string(c, k, v);
	}
	case T_HOSTPORT:
		if (*v && !hostport_valid(v)) {
			report(x, "%s: '%s' is not address:port (IPv6 as [address]:port)", k->name,
			       shown);
			return -EINVAL;
		}
		return set_string(c, k, v);
	case T_CHOICE:
		r = choice_index(k->choices, v);
		if (r < 0) {
			choices_list(k->choices, ", ", list, sizeof(list));
			report(x, "%s: '%s' is not one of: %s", k->name, shown, list);
			return -EINVAL;
		}
		return set_string(c, k, k->choices[r]);
	case T_ENUM:
		r = choice_index(k->choices, v);
		if (r < 0) {
			choices_list(k->choices, ", ", list, sizeof(list));
			report(x, "%s: '%s' is not one of: %s", k->name, shown, list);
			return -EINVAL;
		}
		*(int *)field_ptr(c, k) = r + k->enum_base;
		return 0;
	case T_LOGLEVEL:
		r = log_level_from_string(v);
		if (r < 0) {
			report(x, "%s: '%s' is not a log level (err, warning, notice, info, debug)",
			       k->name, shown);
			return -EINVAL;
		}
		*(int *)field_ptr(c, k) = r;
		return 0;
	case T_BOOL:
		if (parse_bool(v, &b) < 0)
			goto bad_bool;
		*(bool *)field_ptr(c, k) = b;
		return 0;
	case T_PORT:
	case T_U32:
	case T_U64:
		r = parse_u64(v, UINT64_MAX, &u);
		if (r == -EINVAL) {
			report(x, "%s: '%s' is not a number", k->name, shown);
			return r;
		}
		if (r < 0 || u < k->min || u > k->max) {
			report(x, "%s: %s is out of range (%s%" PRIu64 "..%" PRIu64 ")", k->name,
			       shown, k->type == T_PORT ? "port " : "", k->min, k->max);
			return -EINVAL;
		}
		if (k->type == T_PORT)
			*(uint16_t *)field_ptr(c, k) = (uint16_t)u;
		else if (k->type == T_U32)
			*(uint32_t *)field_ptr(c, k) = (uint32_t)u;
		else
			*(uint64_t *)field_ptr(c, k) = u;
		return 0;
	case T_DURATION:
		r = parse_duration_ms(v, &u);
		if (r < 0) {
			report(x, "%s: '%s' is not a duration (e.g. 500ms, 30s, 5m, 24h, 7d)",
			       k->name, shown);
			return -EINVAL;
		}
		if (u < k->min || u > k->max) {
			report(x, "%s: %s is out of range (%" PRIu64 "ms..%" PRIu64 "ms)", k->name,
			       shown, k->min, k->max);
			return -EINVAL;
		}
		*(uint64_t *)field_ptr(c, k) = u;
		return 0;
	}
	return -EINVAL;

bad_bool:
	report(x, "%s: '%s' is not a boolean (true/false, yes/no, on/off, 1/0)", k->name, shown);
	return -EINVAL;
}

static struct str unquote(struct str v)
{
	if (v.len >= 2 && (v.s[0] == '"' || v.s[0] == '\'') && v.s[v.len - 1] == v.s[0])
		return str_make(v.s + 1, v.len - 2);
	return v;
}

static int read_file(const char *path, char **ret, size_t *ret_len, mode_t *ret_mode)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	size_t len = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EISDIR;
	if (st.st_size > CONFIG_FILE_MAX)
		return -EFBIG;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	*ret_mode = st.st_mode;
	return 0;
}

static void parse_file(struct load_ctx *x, const char *data, size_t len, mode_t mode)
{
	struct str rest = str_make(data, len);
	bool secret_in_file = false;

	x->line = 0;
	while (rest.s && rest.len) {
		struct str line, key, value;
		_cleanup_free_ char *v = NULL;
		ssize_t idx;

		rest = str_split(rest, '\n', &line);
		x->line++;
		line = str_trim(line);
		if (line.len == 0 || line.s[0] == '#')
			continue;
		if (memchr(line.s, '\0', line.len)) {
			report(x, "line contains a NUL byte");
			continue;
		}
		value = str_split(line, '=', &key);
		key = str_trim(key);
		if (!value.s || key.len == 0) {
			report(x, "expected KEY=value, got '%.*s'", STR_FMT(line));
			continue;
		}
		idx = key_find(key);
		if (idx < 0) {
			const char *hint = key_suggest(key);

			if (hint)
				report(x, "unknown key '%.*s' (did you mean %s?)", STR_FMT(key),
				       hint);
			else
				report(x, "unknown key '%.*s'", STR_FMT(key));
			continue;
		}
		if (x->file_line[idx]) {
			report(x, "duplicate key %s (first set on line %u)", keys[idx].name,
			       x->file_line[idx]);
			continue;
		}
		x->file_line[idx] = x->line;
		v = str_dup(unquote(str_trim(value)));
		if (!v) {
			report(x, "out of memory");
			return;
		}
		if (key_set(x, &keys[idx], v) == 0)
			x->source[idx] = SRC_FILE;
		if (keys[idx].secret && *v)
			secret_in_file = true;
		if (keys[idx].secret)
			OPENSSL_cleanse(v, strlen(v));
	}
	x->line = 0;
	if (secret_in_file && (mode & S_IROTH))
		report(x, "contains a secret but is readable by everyone; chmod o-r it");
}

static void parse_env(struct load_ctx *x)
{
	x->origin = "environment";
	x->line = 0;
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const char *v = env_get(x->envp, keys[i].name);

		if (!v)
			continue;
		if (key_set(x, &keys[i], v) == 0)
			x->source[i] = SRC_ENV;
	}
}

static char *path_join(const char *a, const char *b)
{
	char *p;

	if (asprintf(&p, "%s/%s", a, b) < 0)
		return NULL;
	return p;
}

/* Sets *field to base/leaf when the key was left empty. */
static int derive(char **field, const char *base, const char *leaf)
{
	if (*field && **field)
		return 0;
	free(*field);
	*field = path_join(base, leaf);
	return *field ? 0 : -ENOMEM;
}

static int derive_dirs(struct load_ctx *x)
{
	struct config *c = x->c;
	const char *e;

	if (!c->state_dir || !*c->state_dir) {
		_cleanup_free_ char *home = NULL;

		free(c->state_dir);
		c->state_dir = NULL;
		e = env_get(x->envp, "XDG_STATE_HOME");
		/* XDG Base Directory spec: relative values are invalid and ignored. */
		if (e && e[0] == '/') {
			c->state_dir = path_join(e, "siprecd");
		} else {
			e = env_get(x->envp, "HOME");
			if (!e || e[0] != '/') {
				struct passwd pw, *res = NULL;
				char buf[4096];

				if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &res) != 0 ||
				    !res || !pw.pw_dir || pw.pw_dir[0] != '/') {
					x->origin = NULL;
					report(x,
					       "STATE_DIRECTORY: not set and no home directory to "
					       "derive it from");
					return -EINVAL;
				}
				home = strdup(pw.pw_dir);
				e = home;
			}
			if (e && asprintf(&c->state_dir, "%s/.local/state/siprecd", e) < 0)
				c->state_dir = NULL;
		}
		if (!c->state_dir)
			return -ENOMEM;
	}
	if (!c->runtime_dir || !*c->runtime_dir) {
		free(c->runtime_dir);
		e = env_get(x->envp, "XDG_RUNTIME_DIR");
		c->runtime_dir = (e && e[0] == '/') ? path_join(e, "siprecd")
						    : path_join(c->state_dir, "run");
		if (!c->runtime_dir)
			return -ENOMEM;
	}
	if (derive(&c->recording_dir, c->state_dir, "recordings") < 0 ||
	    derive(&c->catalog_path, c->state_dir, "catalog.db") < 0 ||
	    derive(&c->master_key_path, c->state_dir, "keys/master.key") < 0 ||
	    derive(&c->key_backup_path, c->state_dir, "keys/backups") < 0 ||
	    derive(&c->trail_signing_key, c->state_dir, "trail-signing.key") < 0 ||
	    derive(&c->control_socket, c->runtime_dir, "control") < 0)
		return -ENOMEM;
	return 0;
}

static void check_file(struct load_ctx *x, const char *key, const char *path)
{
	if (path && *path && access(path, R_OK) < 0)
		report(x, "%s: '%s': %s", key, path, strerror(errno));
}

static void cross_checks(struct load_ctx *x)
{
	const struct config *c = x->c;
	uint64_t ports;

	x->origin = NULL;
	x->line = 0;
	if (c->rtp_port_min >= c->rtp_port_max) {
		report(x, "RTP_PORT_MIN (%u) must be below RTP_PORT_MAX (%u)", c->rtp_port_min,
		       c->rtp_port_max);
	} else {
		ports = (uint64_t)c->rtp_port_max - c->rtp_port_min + 1;
		if (ports < 2ULL * c->max_streams)
			report(x,
			       "RTP_PORT_MIN..RTP_PORT_MAX (%u..%u) holds %" PRIu64 " ports, fewer "
			       "than 2 * MAX_STREAMS_PER_SESSION (%u)",
			       c->rtp_port_min, c->rtp_port_max, ports, 2 * c->max_streams);
	}
	/* O_DIRECT writes must be 4 KiB aligned. */
	if (c->chunk_size < 4096 || c->chunk_size > 16 * 1024 * 1024 || c->chunk_size % 4096)
		report(x, "CHUNK_SIZE: %u must be a multiple of 4096 between 4096 and 16777216",
		       c->chunk_size);
	if (!*c->tls_cert_path != !*c->tls_key_path)
		report(x, "TLS_CERT_PATH and TLS_KEY_PATH must be set together (%s is empty)",
		       *c->tls_cert_path ? "TLS_KEY_PATH" : "TLS_CERT_PATH");
	if (c->enable_tls) {
		check_file(x, "TLS_CERT_PATH", c->tls_cert_path);
		check_file(x, "TLS_KEY_PATH", c->tls_key_path);
		check_file(x, "TLS_CA_PATH", c->tls_ca_path);
		check_file(x, "TLS_CRL_PATH", c->tls_crl_path);
		/* No fallback to the system trust store: any public CA would vouch for any name. */
		if (c->tls_verify_client != TLS_VERIFY_NONE && !*c->tls_ca_path)
			report(x,
			       "TLS_VERIFY_CLIENT=%s needs TLS_CA_PATH (client certificates are "
			       "verified only against the configured CA)",
			       c->tls_verify_client == TLS_VERIFY_REQUIRE ? "require" : "request");
		if (*c->tls_allowed_peers && !*c->tls_ca_path)
			report(x, "TLS_ALLOWED_PEERS needs TLS_CA_PATH (client certificates are "
				  "verified only against the configured CA)");
		if (*c->tls_crl_path && c->tls_verify_client == TLS_VERIFY_NONE &&
		    !*c->tls_allowed_peers)
			report(x,
			       "TLS_CRL_PATH is set but TLS_VERIFY_CLIENT=none asks for no client "
			       "certificate");
		if (c->enable_tcp && c->tls_port == c->sip_port)
			report(x,
			       "TLS_PORT and SIP_PORT are both %u; TCP and TLS need distinct ports",
			       c->sip_port);
	}
	if (strcmp(c->encryption_key_store, "public-key") == 0 && !*c->recording_public_key)
		report(x, "ENCRYPTION_KEY_STORE=public-key needs RECORDING_PUBLIC_KEY (the X25519 "
			  "public key the recording keys are sealed to)");
	{
		enum sip_auth_alg algs[SIP_AUTH_MAX_ALGS];
		unsigned n;

		if (sip_auth_parse_algorithms(c->sip_auth_algorithms, algs, &n) < 0)
			report(x, "SIP_AUTH_ALGORITHMS: '%s' is not a list of SHA-256 and/or MD5",
			       c->sip_auth_algorithms);
		if (!*c->sip_auth_realm || strpbrk(c->sip_auth_realm, "\"\\\r\n"))
			report(x,
			       "SIP_AUTH_REALM: must be non-empty, without quotes or backslashes");
	}
	{
		/* RFC 3261 §25.1 token characters, so a name can never smuggle a header in */
		const char *h = c->record_sip_headers;
		size_t n = 0, len;

		while (*h) {
			len = strcspn(h, ",");
			n++;
			for (size_t i = 0; i < len; i++)
				if (!isalnum((unsigned char)h[i]) && !strchr("-.!%*_+`'~ ", h[i])) {
					report(x, "RECORD_SIP_HEADERS: '%.*s' is not a header name",
					       (int)MIN(len, 64), h);
					break;
				}
			h += len + (h[len] == ',');
		}
		if (n > 16)
			report(x, "RECORD_SIP_HEADERS: %zu names, at most 16", n);
	}
	if (!c->enable_udp && !c->enable_tcp && !c->enable_tls)
		report(x,
		       "ENABLE_UDP, ENABLE_TCP and ENABLE_TLS are all false: nothing to listen on");
}

static const char *default_path(char *const *envp, char **ret_alloc)
{
	const char *e = env_get(envp, "CONFIGURATION_DIRECTORY");

	*ret_alloc = NULL;
	/* systemd's ConfigurationDirectory= (may be a ':' list; the first is ours) */
	if (e && e[0] == '/') {
		_cleanup_free_ char *dir = strndup(e, strcspn(e, ":"));

		if (dir)
			*ret_alloc = path_join(dir, "siprecd.conf");
		if (*ret_alloc)
			return *ret_alloc;
	}
	return CONFIG_DEFAULT_PATH;
}

int config_load(struct config *c, const char *path, char *const *envp, FILE *err)
{
	struct load_ctx x = {.c = c, .err = err, .envp = envp ? envp : environ, .enable_srtp = -1};
	_cleanup_free_ char *alloc_path = NULL;
	_cleanup_free_ char *data = NULL;
	const char *file = path;
	size_t len = 0;
	mode_t mode = 0;
	int r;

	memset(c, 0, sizeof(*c));
	x.origin = "defaults";
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (key_set(&x, &keys[i], keys[i].def) < 0) {
			config_free(c);
			return -ENOMEM;
		}
	}

	if (!file)
		file = default_path(x.envp, &alloc_path);
	r = read_file(file, &data, &len, &mode);
	if (r == -ENOENT && !path) {
		/* the default file is optional */
	} else if (r < 0) {
		x.origin = NULL;
		report(&x, "cannot read configuration file '%s': %s", file, strerror(-r));
	} else {
		c->config_path = strdup(file);
		c->config_explicit = path != NULL;
		x.origin = file;
		parse_file(&x, data, len, mode);
		OPENSSL_cleanse(data, len);
	}

	parse_env(&x);
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (strcmp(keys[i].name, "SRTP_POLICY") == 0 && x.source[i] == SRC_DEFAULT &&
		    x.enable_srtp >= 0)
			c->srtp_policy = x.enable_srtp ? SRTP_POLICY_OPTIONAL : SRTP_POLICY_OFF;

	r = derive_dirs(&x);
	if (r == -ENOMEM)
		report(&x, "out of memory");
	cross_checks(&x);

	if (x.errors) {
		config_free(c);
		return r == -ENOMEM ? -ENOMEM : -EINVAL;
	}
	return 0;
}

struct config *config_free(struct config *c)
{
	if (!c)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const struct config_key *k = &keys[i];
		char **p;

		if (k->offset == NO_FIELD)
			continue;
		switch (k->type) {
		case T_STRING:
		case T_CHOICE:
		case T_PATH:
		case T_ADDRESS:
		case T_HOSTPORT:
		case T_CIDRS:
			p = field_ptr(c, k);
			if (*p && k->secret)
				OPENSSL_cleanse(*p, strlen(*p));
			free(*p);
			*p = NULL;
			break;
		default:
			break;
		}
	}
	free(c->config_path);
	memset(c, 0, sizeof(*c));
	return NULL;
}

static void format_duration(uint64_t ms, char *buf, size_t n)
{
	static const struct {
		uint64_t mult;
		const char *suffix;
	} units[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};

	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (ms && ms % units[i].mult == 0) {
			snprintf(buf, n, "%" PRIu64 "%s", ms / units[i].mult, units[i].suffix);
			return;
		}
	}
	snprintf(buf, n, "%" PRIu64 "ms", ms);
}

/* The value of key k in c, as the file syntax writes it. */
static void format_value(const struct config *c, const struct config_key *k, char *buf, size_t n)
{
	const void *p = (const char *)c + k->offset;
	const char *s;
	int v;

	buf[0] = '\0';
	switch (k->type) {
	case T_STRING:
	case T_CHOICE:
	case T_PATH:
	case T_ADDRESS:
	case T_HOSTPORT:
	case T_CIDRS:
		s = *(char *const *)p;
		snprintf(buf, n, "%s", s ? s : "");
		break;
	case T_BOOL:
		snprintf(buf, n, "%s", *(const bool *)p ? "true" : "false");
		break;
	case T_PORT:
		snprintf(buf, n, "%u", *(const uint16_t *)p);
		break;
	case T_U32:
		snprintf(buf, n, "%" PRIu32, *(const uint32_t *)p);
		break;
	case T_U64:
		snprintf(buf, n, "%" PRIu64, *(const uint64_t *)p);
		break;
	case T_DURATION:
		format_duration(*(const uint64_t *)p, buf, n);
		break;
	case T_ENUM:
		v = *(const int *)p - k->enum_base;
		for (int i = 0; k->choices[i]; i++)
			if (i == v)
				snprintf(buf, n, "%s", k->choices[i]);
		break;
	case T_LOGLEVEL:
		s = log_level_to_string(*(const int *)p);
		snprintf(buf, n, "%s", s ? s : "info");
		break;
	}
}

void config_print(const struct config *c, FILE *out)
{
	char buf[4096];

	if (c->config_path)
		fprintf(out, "# read from %s\n", c->config_path);
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const struct config_key *k = &keys[i];

		if (k->offset == NO_FIELD)
			continue;
		format_value(c, k, buf, sizeof(buf));
		if (k->secret && buf[0])
			fprintf(out, "%s=********\n", k->name);
		else if (strpbrk(buf, " \t#'\""))
			fprintf(out, "%s=\"%s\"\n", k->name, buf);
		else
			fprintf(out, "%s=%s\n", k->name, buf);
	}
}

static const char *type_doc(const struct config_key *k, const char *sep, char *buf, size_t n)
{
	switch (k->type) {
	case T_STRING:
		return "string";
	case T_PATH:
		return "absolute path";
	case T_ADDRESS:
		return "IP address";
	case T_HOSTPORT:
		return "address:port";
	case T_CIDRS:
		return "address[/prefix] list";
	case T_BOOL:
		return "boolean";
	case T_LOGLEVEL:
		return "log level";
	case T_CHOICE:
	case T_ENUM:
		choices_list(k->choices, sep, buf, n);
		return buf;
	case T_PORT:
		return "port";
	case T_U32:
	case T_U64:
		snprintf(buf, n, "number %" PRIu64 "..%" PRIu64, k->min, k->max);
		return buf;
	case T_DURATION:
		return "duration";
	}
	return "";
}

void config_print_help(FILE *out)
{
	char tbuf[128];

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const struct config_key *k = &keys[i];

		fprintf(out, "  %s=%s\n", k->name, k->def_doc ? "" : k->def);
		fprintf(out, "      %s [%s%s%s]\n", k->desc, type_doc(k, "|", tbuf, sizeof(tbuf)),
			k->def_doc ? "; default: " : "", k->def_doc ? k->def_doc : "");
	}
}

void config_print_doc(FILE *out)
{
	char tbuf[128];

	fprintf(out, "| key | type | default | on reload | description |\n"
		     "| --- | --- | --- | --- | --- |\n");
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const struct config_key *k = &keys[i];

		fprintf(out, "| `%s` | %s | %s%s%s | %s | %s%s |\n", k->name,
			type_doc(k, "\\|", tbuf, sizeof(tbuf)), k->def_doc ? "" : "`",
			k->def_doc ? k->def_doc : k->def, k->def_doc ? "" : "`",
			k->reload ? "applied" : "restart", k->desc,
			k->secret ? " Masked in `--check-config` output." : "");
	}
}

/* Swaps the value of key k between a and b (strings by pointer, so nothing is copied). */
static void swap_field(struct config *a, struct config *b, const struct config_key *k)
{
	size_t n;
	char tmp[sizeof(uint64_t)];

	switch (k->type) {
	case T_STRING:
	case T_CHOICE:
	case T_PATH:
	case T_ADDRESS:
	case T_HOSTPORT:
		n = sizeof(char *);
		break;
	case T_BOOL:
		n = sizeof(bool);
		break;
	case T_PORT:
		n = sizeof(uint16_t);
		break;
	case T_U32:
		n = sizeof(uint32_t);
		break;
	case T_U64:
	case T_DURATION:
		n = sizeof(uint64_t);
		break;
	default: /* T_ENUM, T_LOGLEVEL */
		n = sizeof(int);
		break;
	}
	memcpy(tmp, field_ptr(a, k), n);
	memcpy(field_ptr(a, k), field_ptr(b, k), n);
	memcpy(field_ptr(b, k), tmp, n);
}

static bool key_differs(const struct config *a, const struct config *b, const struct config_key *k)
{
	char va[4096], vb[4096];
	bool differ;

	format_value(a, k, va, sizeof(va));
	format_value(b, k, vb, sizeof(vb));
	differ = strcmp(va, vb) != 0;
	OPENSSL_cleanse(va, sizeof(va));
	OPENSSL_cleanse(vb, sizeof(vb));
	return differ;
}

unsigned config_apply(struct config *cur, struct config *next, config_change_fn fn, void *userdata)
{
	unsigned n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const struct config_key *k = &keys[i];

		if (k->offset == NO_FIELD || !key_differs(cur, next, k))
			continue;
		n++;
		if (k->reload)
			swap_field(cur, next, k);
		if (fn)
			fn(userdata, k->name, k->reload);
	}
	return n;
}

int config_swap_key(struct config *a, struct config *b, const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (strcmp(keys[i].name, key) != 0)
			continue;
		if (keys[i].offset == NO_FIELD)
			return -EINVAL;
		swap_field(a, b, &keys[i]);
		return 0;
	}
	return -ENOENT;
}

int config_key_reloadable(const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (strcmp(keys[i].name, key) == 0)
			return keys[i].reload;
	return -ENOENT;
}

size_t config_key_count(void)
{
	return ARRAY_SIZE(keys);
}

const char *config_key_name(size_t i)
{
	return i < ARRAY_SIZE(keys) ? keys[i].name : NULL;
}
