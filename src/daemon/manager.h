/* SPDX-License-Identifier: MIT */
/*
 * The manager owns everything the daemon runs: the SIP loop, transports, transactions, the
 * SIPREC session table, media workers, the catalog thread and the key store. main() creates it,
 * starts it and runs its loop.
 */
#pragma once

#include <stdint.h>

#include "siprecd/config.h"
#include "siprecd/loop.h"
#include "siprecd/sd.h"

struct manager;
struct sip_txn_table;
struct sip_transport;
struct catalog;
struct keys;
struct tls_server_ctx;
struct sessions;
struct media_pool;
struct control;
struct metrics;
struct net_route;

struct manager_counters {
	uint64_t requests, responses_sent, parse_errors, dropped_unparseable;
	uint64_t options, invites, byes, cancels, updates, unsupported_methods;
	uint64_t sessions_total, sessions_refused;
	/* daemon/edge.c: INVITEs answered 401 (no or stale credentials) or refused (wrong ones),
	 * over the per-source INVITE rate, over the per-source session or stream limit */
	uint64_t auth_challenged, auth_failed, invites_rate_limited, sessions_source_limited;
	uint64_t control_calls;
};

struct manager {
	struct config *cfg;
	struct loop *loop;
	struct sip_transport *transport;
	struct sip_txn_table *txns;
	struct catalog *catalog;
	struct keys *keys;
	struct compliance *compliance; /* trail signer, retention sweeper (src/compliance/) */
	struct tls_server_ctx *tls;
	struct sessions *sessions;
	struct media_pool *media;
	struct control *control; /* varlink socket (src/control/) */
	struct metrics *metrics; /* Prometheus /metrics and /health, NULL when off */
	struct net_route *route; /* routed source for SDP c= (src/net/route.c) */
	struct sd_fds sd;

	int signal_fd;
	struct loop_op signal_op;
	uint8_t siginfo[128];
	struct loop_timer watchdog_timer;
	uint64_t watchdog_ms;
	struct loop_timer status_timer;
	struct loop_timer txn_timer;
	struct loop_timer stop_timer;
	uint64_t stop_started_ms;    /* loop time of manager_stop */
	struct tls_watch *tls_watch; /* certificate files watch, expiry and sock_diag log */
	struct sip_auth *sip_auth;   /* SIP_DIGEST_AUTH verifier, NULL when off (daemon/edge.c) */
	bool stopping;
	bool draining; /* siprecctl drain: new INVITEs get 503, sessions in progress finish */
	/* disk_fault_generation() and each directory's disk_fault.gen last logged */
	uint64_t disk_fault_gen, disk_fault_seen[2];
	/* sessions_totals.recording_errors when a synced probe last proved the recording volume
	 * (the recordings check is degraded while the count is above it) */
	uint64_t recording_errors_cleared;
	struct manager_counters counters;
	char status[768];
	char reload_status[128]; /* appended to STATUS= after a reload that failed or waits */
};

/* Creates the manager from a validated configuration (not owned; must outlive the manager):
 * state directories, key store, catalog. Errors are logged once, naming what failed. */
int manager_new(struct config *cfg, struct manager **ret);
/* Opens or takes the listening sockets, starts threads, sends READY=1. */
int manager_start(struct manager *m);
/* Runs the SIP loop until SIGTERM/SIGINT; returns 0 on a clean stop. */
int manager_run(struct manager *m);
struct manager *manager_free(struct manager *m);
/* Stops gracefully: STOPPING=1, sessions ended and recordings finalized, then the loop exits. */
void manager_stop(struct manager *m);
/* SIGHUP: RELOADING=1, re-reads and validates the configuration file; an invalid one is logged
 * (every problem) and changes nothing; otherwise every reloadable key is applied, a changed
 * restart-only key is warned about, certificates and the key state are re-read. READY=1 with a
 * STATUS= that says when the reload failed. */
void manager_reload(struct manager *m);
/* Recomputes the one-line status ("3 calls, 6 streams, ...") and sends STATUS=. */
void manager_update_status(struct manager *m);

/* Logs a change of a watched directory's fault (diskfault.h) and sends the new STATUS=; called
 * from the sessions' 1-s tick and the status timer. */
void manager_disk_fault_check(struct manager *m);

/* The SIP request/response handling (sipd.c). */
int sipd_init(struct manager *m);
void sipd_done(struct manager *m);
void sipd_run_timers(struct manager *m);
/* A recording write failed (ENOSPC?): the next INVITE checks the free disk space afresh. */
void sipd_disk_recheck(void);

struct sip_msg;
struct sip_txn;
struct sip_response_args;
struct sip_transport_handler;
extern const struct sip_transport_handler sipd_transport_handler;
/* Builds a response to req and sends it within txn (copied; retransmitted as the state machine
 * says). Returns the send result or -errno. */
int sipd_respond(struct manager *m, struct sip_txn *txn, struct sip_msg *req, unsigned code,
		 const char *reason, const struct sip_response_args *args);
