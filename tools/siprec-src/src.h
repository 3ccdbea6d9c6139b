/* SPDX-License-Identifier: MIT */
/*
 * siprec-src: a SIPREC Session Recording Client (RFC 7866) for tests, interop and load.
 * Private header shared by the tool's files: options, calls, streams, the SIP transport and the
 * media pacer.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "siprecd/srtp.h"

#define SRC_MAX_SUITES 4
#define SRC_STREAMS 2
#define SRC_MAX_PHASES 8 /* key phases reported per stream; later ones add to the last */
#define SRC_MAX_CALLS 100000
#define SRC_SIP_MAX 65536 /* largest SIP message we accept */
#define SRC_PTIME_US 20000
#define SRC_SAMPLES 160 /* 20 ms at 8 kHz */

enum src_transport { SRC_UDP, SRC_TCP, SRC_TLS };

struct src_opts {
	const char *host;
	uint16_t port;
	enum src_transport transport;
	const char *ruri, *from, *local_ip;
	const char *aor[SRC_STREAMS];
	const char *labels[SRC_STREAMS];
	const char *ca, *sni;
	bool insecure;
	int tls_version; /* 0 any (1.2 minimum), 12, 13 */
	int pt;		 /* 0 PCMU, 8 PCMA */
	bool srtp, rtcp_mux;
	unsigned n_suites;
	const struct srtp_suite_info *suites[SRC_MAX_SUITES];
	const char *wav, *wav2;
	bool loop;
	uint64_t duration_ms;			  /* 0: the length of the audio */
	int64_t reinvite_at, pause_at, resume_at; /* ms after the answer, -1 when unset */
	int64_t update_at;
	bool rekey;
	int64_t cancel_after; /* ms after the INVITE, -1 unset */
	unsigned tamper, replay;
	bool json, quiet, progress;
	uint64_t ceiling_ms; /* --ceiling: measure the generator alone, no SIP, no server */
	unsigned spread;     /* --spread: calls' 20 ms ticks spread over this many slots (1 = all at
				once) */
	unsigned calls;
	double rate;
};

/* Audio: both channels pre-encoded to G.711 of the chosen law. */
struct src_audio {
	uint8_t *ch[SRC_STREAMS];
	size_t n; /* samples per channel */
	bool loop;
};

struct src_stream {
	char label[64];
	int chan; /* audio channel */
	uint32_t ssrc;
	uint16_t seq;
	uint32_t ts;
	bool first;
	bool active;   /* answered with a non-zero port */
	bool finished; /* no more audio */
	int sock;      /* index in the media socket pool */
	uint16_t local_port;
	uint16_t remote_port;
	struct sockaddr_storage dst;
	socklen_t dst_len;
	size_t pos;		   /* next sample */
	uint64_t ticks, max_ticks; /* 20 ms ticks since the answer; the call length in ticks */
	/* Offered keys: one per suite of the offer (key || salt); next_* for a --rekey offer. */
	uint8_t keys[SRC_MAX_SUITES][SRTP_KEY_SALT_MAX];
	uint8_t next_keys[SRC_MAX_SUITES][SRTP_KEY_SALT_MAX];
	const struct srtp_suite_info *suite; /* chosen by the answer */
	struct srtp_tx *tx;
	uint64_t packets, bytes, tampered, replayed, send_errors;
	/* One phase per applied SRTP answer (the INVITE's, each re-INVITE's): fingerprints of the
	 * key we send with and of the answer's key, and the packets sent in it, so a test can
	 * prove a re-key without seeing key bytes. */
	struct src_phase {
		char tx_key[17], answer_key[17]; /* hex of SHA-256(key || salt)[0..7] */
		uint64_t packets;
	} phases[SRC_MAX_PHASES];
	unsigned n_phases;
};

enum src_call_state {
	CALL_IDLE,
	CALL_CALLING,	 /* INVITE sent, nothing back */
	CALL_PROCEEDING, /* 1xx received */
	CALL_ACTIVE,	 /* 2xx + ACK */
	CALL_BYE,	 /* BYE sent */
	CALL_DONE,
};

/* One client transaction (RFC 3261 §17.1) with UDP retransmission timers. */
struct src_txn {
	bool active;
	bool invite;
	char method[12];
	char branch[40];
	uint32_t cseq;
	char *msg;
	size_t len;
	uint64_t next_retx, interval, deadline;
	int kind; /* what the request is for, see enum src_txn_kind */
};

enum src_txn_kind {
	TXN_INVITE,
	TXN_REINVITE,
	TXN_PAUSE,
	TXN_RESUME,
	TXN_UPDATE,
	TXN_BYE,
	TXN_CANCEL
};

struct src_call {
	unsigned idx;
	enum src_call_state state;
	char call_id[64];
	char local_tag[24];
	char remote_tag[128];
	char remote_target[256];
	char invite_branch[40];
	uint32_t cseq;
	unsigned sdp_version;
	int status; /* final status of the initial INVITE (0 none yet) */
	char reason[160];
	char warning[256];
	char retry_after[32]; /* of a final non-2xx: an SRC retries or fails over by it */
	bool ok, failed, cancelled;
	bool got_provisional, cancel_pending, cancel_sent;
	bool paused, rekey_pending;
	bool did_reinvite, did_pause, did_resume, did_update;
	unsigned reinvites_ok, updates_ok;
	uint64_t t_start, t_invite, t_answer, t_end;
	char group_id[32], session_id[32], part_id[SRC_STREAMS][32], stream_id[SRC_STREAMS][32];
	struct src_txn inv, nict;
	struct src_stream st[SRC_STREAMS];
};

/* --- call schedule (pace.c) --- */
struct src_pace {
	uint64_t t0; /* when call 0 is due: taken once every call is prepared */
	double rate; /* calls per second */
	unsigned n;  /* calls */
};
/* When call i's INVITE is due (CLOCK_MONOTONIC us). */
uint64_t src_pace_due(const struct src_pace *p, unsigned i);
/* How long the loop may sleep at now (us): until next_tick (the next media tick) or the INVITE of
 * call next (next == p->n: every call started), whichever is first; 0 when one is due. */
uint64_t src_pace_wait_us(const struct src_pace *p, unsigned next, uint64_t next_tick,
			  uint64_t now);

/* --- util (main.c) --- */
uint64_t src_now_us(void);
void src_random(void *buf, size_t n);
/* Random token of n characters [a-z0-9] plus NUL into buf (size n + 1). */
void src_token(char *buf, size_t n);

/* --- SIP transport (transport.c) --- */
struct src_transport_ctx;
int src_transport_open(const struct src_opts *o, struct src_transport_ctx **ret);
struct src_transport_ctx *src_transport_close(struct src_transport_ctx *t);
int src_transport_fd(const struct src_transport_ctx *t);
/* Local address and port as the peer sees them (for Via/Contact/SDP). */
const char *src_transport_local_ip(const struct src_transport_ctx *t);
uint16_t src_transport_local_port(const struct src_transport_ctx *t);
int src_transport_family(const struct src_transport_ctx *t);
const char *src_transport_name(const struct src_transport_ctx *t); /* "UDP", "TCP", "TLS" */
int src_transport_send(struct src_transport_ctx *t, const char *msg, size_t len);
/* True when a send that waited read responses src_transport_read has not handed on yet. */
bool src_transport_pending(const struct src_transport_ctx *t);
/* Reads what is available; calls cb for each complete message. Returns 0, or -errno when the
 * connection is gone. */
int src_transport_read(struct src_transport_ctx *t,
		       void (*cb)(void *ud, const char *msg, size_t len), void *ud);
/* Server address for media defaults. */
const struct sockaddr *src_transport_peer(const struct src_transport_ctx *t, socklen_t *ret_len);

/* --- bodies (body.c) --- */
/* Builds the multipart/mixed body (SDP offer + metadata) into a malloc'ed string. */
char *src_body_offer(const struct src_opts *o, struct src_call *c, const char *local_ip, int family,
		     bool inactive, bool use_next_keys, const char *boundary);
/* Partial metadata (RFC 7865 datamode partial) for an UPDATE. */
char *src_body_partial_metadata(const struct src_opts *o, struct src_call *c);
/* Applies an SDP answer (plain or inside multipart) to the call's streams. use_next_keys: the
 * answer is to a --rekey offer. Returns 0 or -EBADMSG with c->reason set. */
int src_body_apply_answer(const struct src_opts *o, struct src_call *c, const char *ctype,
			  size_t ctype_len, const char *body, size_t len, bool use_next_keys);
void src_call_ids(struct src_call *c);
void src_stream_keys(const struct src_opts *o, struct src_stream *s, bool next);

/* --- media (media.c) --- */
int src_audio_load(const struct src_opts *o, struct src_audio *ret);
void src_audio_free(struct src_audio *a);
uint64_t src_audio_duration_ms(const struct src_audio *a);
int src_media_open(unsigned n_socks, const char *local_ip, int family);
unsigned src_media_nsocks(void);
int src_media_sock_fd(unsigned i);
uint16_t src_media_sock_port(unsigned i);
/* Queues one 20 ms packet for a stream (protecting it); flushes batches as they fill. */
void src_media_tick_stream(const struct src_opts *o, const struct src_audio *a,
			   struct src_stream *s, bool paused);
void src_media_flush(void);
void src_media_drain(unsigned i);
void src_media_close(void);
/* --ceiling: n_streams streams ticked back to back (no pacing) for ms per phase, into a
 * discard socket on local_ip: build only, build + protect, build + protect + sendmmsg; prints
 * packets/s and CPU ns per packet of each phase to f. */
int src_media_ceiling(const struct src_opts *o, const struct src_audio *a, unsigned n_streams,
		      uint64_t ms, const char *local_ip, FILE *f);
