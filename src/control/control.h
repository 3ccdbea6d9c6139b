/* SPDX-License-Identifier: MIT */
/*
 * Operations: the varlink control socket (NUL-terminated JSON over AF_UNIX, io.siprecd plus
 * org.varlink.service), the Prometheus /metrics and /health HTTP listener, and the health
 * report they and the sd_notify STATUS= line share. Everything runs on the SIP thread's loop.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct manager;
struct json_object;

#define CONTROL_MESSAGE_MAX (1024 * 1024) /* one varlink message, NUL included */
#define CONTROL_PENDING_MAX 64		  /* complete calls queued on one connection */
#define CONTROL_CONNECTIONS_MAX 64
#define CONTROL_OUTPUT_MAX (8 * 1024 * 1024) /* unsent replies before a slow reader is dropped */

/*
 * Starts the varlink server (the socket-activated "varlink" fd, else a socket bound at
 * CONTROL_SOCKET, mode 0660, group CONTROL_GROUP) and the metrics listener (socket-activated
 * "metrics" fd, else METRICS_LISTEN when set). Logs what failed; returns 0 or -errno.
 */
int control_start(struct manager *m);
/* Closes both listeners and every connection, removes the socket file it created. Safe to call
 * when control_start failed or never ran. */
void control_stop(struct manager *m);

/* ---- framing (control-frame.c): NUL-terminated messages on a byte stream ---- */

struct control_frame {
	char *buf;
	size_t len, off, cap;
	size_t limit;		/* largest message, NUL excluded */
	size_t scanned;		/* bytes of buf already searched for NULs */
	size_t msg_start;	/* where the unterminated message begins */
	unsigned pending;	/* complete messages not yet taken */
	uint64_t bytes_scanned; /* total searched by feed (tests: stays linear in the input) */
};

void control_frame_init(struct control_frame *f, size_t limit);
void control_frame_done(struct control_frame *f);
/* Appends received bytes. 0, -EMSGSIZE when a message (terminated or not) exceeds the limit,
 * -ENOMEM. After an error the frame must not be fed again. */
int control_frame_feed(struct control_frame *f, const void *data, size_t len);
/* Takes the next complete message: 1 and *ret_msg (NUL-terminated, valid until the next feed),
 * *ret_len (NUL excluded); 0 when no complete message is buffered. */
int control_frame_next(struct control_frame *f, const char **ret_msg, size_t *ret_len);
/* Complete messages buffered and not yet taken. */
unsigned control_frame_pending(const struct control_frame *f);

/* ---- varlink calls (varlink.c) ---- */

struct control_call {
	const char *method;		/* borrowed from the parsed object */
	struct json_object *parameters; /* an object (empty when absent), borrowed */
	bool oneway, more, upgrade;
	struct json_object *obj; /* the whole call; owned, json_object_put */
};

/* Parses one message. 0 and *ret (free ret->obj with json_object_put), or -EBADMSG when it is
 * not JSON, not an object, has no string "method", or fields of the wrong type. */
int control_call_parse(const char *msg, size_t len, struct control_call *ret);

/* Methods (methods.c): fills *ret_params (owned by the caller) and returns NULL, or returns an
 * error name and fills *ret_params with the error's parameters (may stay NULL). */
struct control_conn;
struct control_ctx {
	struct manager *m;
	bool privileged;	   /* peer is root, our uid, or in CONTROL_GROUP */
	unsigned uid;		   /* peer's uid (SO_PEERCRED): the actor in the trail */
	struct control_conn *conn; /* for control_defer; NULL outside a connection (tests) */
	const struct control_call *call;
};
const char *control_method_call(struct control_ctx *ctx, const struct control_call *call,
				struct json_object **ret_params);
/* A method returns this (and leaves *ret_params NULL) when it called control_defer. */
extern const char control_reply_deferred[];

/*
 * Deferred replies, for methods whose work runs off the loop: control_defer takes a handle on
 * ctx's connection and call (NULL without a connection, or on ENOMEM). Until the handle is
 * answered the connection dispatches no further calls, so replies stay in call order; what
 * the client sends meanwhile stays buffered and counts towards CONTROL_PENDING_MAX.
 */
struct control_pending;
struct control_pending *control_defer(struct control_ctx *ctx);
/*
 * Loop thread only. Sends the reply (error NULL for success; params owned, may be NULL; no
 * reply for a oneway call or a connection closed meanwhile), resumes the connection's calls and
 * frees p.
 */
void control_pending_reply(struct control_pending *p, const char *error,
			   struct json_object *params);
/* Frees p without replying (control_stop); the connection is closed by the caller. */
void control_pending_free(struct control_pending *p);
/* Drops work methods left in flight (control_stop, before connections are freed). */
void control_methods_stop(struct manager *m);
/* The compliance methods (compliance-methods.c): whether name (without "io.siprecd.") is one,
 * the call (deferred to the compliance thread), and dropping calls in flight (control_stop). */
bool control_compliance_method(const char *name);
const char *control_compliance_call(struct control_ctx *ctx, const char *name,
				    const struct control_call *call,
				    struct json_object **ret_params);
void control_compliance_stop(void);
/* The io.siprecd interface definition (IDL). */
extern const char control_idl[];
/* True for methods that change state (need a privileged peer). */
bool control_method_mutating(const char *method);

/* ---- health (health.c) ---- */

enum control_health {
	CONTROL_HEALTHY,
	CONTROL_DEGRADED,
	CONTROL_FAILING,
};
const char *control_health_name(enum control_health h);
/* Builds the health report ({"status", "checks": [...]}) into *ret (owned by the caller, may be
 * NULL) and returns the overall state. */
enum control_health control_health_check(struct manager *m, struct json_object **ret);
/* The overall state and, in reason, the names of the checks that are not healthy ("disk
 * failing, catalog degraded"; "" when all are): what unauthenticated HTTP /health shows. */
enum control_health control_health_summary(struct manager *m, char *reason, size_t n);
/* One line for sd_notify STATUS=: "3 calls, 6 streams, kTLS off, disk 82% free". */
void control_status_line(struct manager *m, char *buf, size_t n);
/* kTLS mode as a word ("off", "unavailable", "tx+rx"), probed once. */
const char *control_ktls_mode(struct manager *m);

/* ---- metrics (metrics.c) ---- */

/* Renders the Prometheus text exposition (0.0.4) into a malloc'ed string; NULL on ENOMEM. */
char *control_metrics_render(struct manager *m, size_t *ret_len);
/* Serves the HTTP listener on fd (owned, even on failure). */
int control_metrics_listen(struct manager *m, int fd);
void control_metrics_stop(struct manager *m);
/* SIGHUP with a new METRICS_LISTEN: binds the new address (or none) before closing the old
 * listener, so on failure (-errno, err filled) the old one keeps serving. A socket-activated
 * listener is kept (-EOPNOTSUPP: the socket unit owns the address). */
int control_metrics_reload(struct manager *m, char *err, size_t errlen);
