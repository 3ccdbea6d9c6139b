/* SPDX-License-Identifier: MIT */
/*
 * SIPREC recording sessions (RFC 7866): one per dialog created by an SRC's INVITE. A session
 * owns its metadata model, its streams (a media_stream each, with a recording file), its SDP
 * answer state, and its catalog rows; it ends on BYE, CANCEL, Timer H, or shutdown.
 */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>

#include "siprecd/sip.h"
#include "siprecd/str.h"

struct manager;
struct sessions;
struct session;
struct sip_conn;

int sessions_new(struct manager *m, struct sessions **ret);
void sessions_free(struct sessions *ss);
void sessions_count(const struct sessions *ss, unsigned *ret_calls, unsigned *ret_streams);
/* Ends every session (BYE to the SRC, recordings finalized); done() runs on the SIP thread
 * once the last recording is durable (at once when there is none). */
void sessions_shutdown(struct sessions *ss, void (*done)(struct manager *m));
/* The session of a dialog: Call-ID plus our tag (the request's To tag). NULL if none. */
struct session *sessions_find(struct sessions *ss, struct str call_id, struct str local_tag);
/* Same by Call-ID alone (CANCEL and ACK before the To tag is known to the peer). */
struct session *sessions_find_call(struct sessions *ss, struct str call_id);

/* A new INVITE (no To tag): sets the session up and answers through txn. */
void session_invite(struct sessions *ss, struct sip_txn *txn, struct sip_msg *req,
		    struct sip_conn *conn, const struct sockaddr_storage *peer);
/* In-dialog requests. */
void session_reinvite(struct session *s, struct sip_txn *txn, struct sip_msg *req);
void session_update(struct session *s, struct sip_txn *txn, struct sip_msg *req);
void session_bye(struct session *s, struct sip_txn *txn, struct sip_msg *req);
void session_ack(struct session *s);
/* CANCEL of the INVITE still pending (487 sent by the caller). */
void session_cancel(struct session *s);
/* Timer H: our 2xx was never ACKed. */
void session_no_ack(struct session *s);
/* Response to a request we sent (BYE). */
void session_response(struct session *s, struct sip_msg *resp);
