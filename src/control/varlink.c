// SPDX-License-Identifier: MIT
/*
 * The varlink server on the SIP loop: a listening AF_UNIX stream socket (multishot accept), one
 * single-shot recv per connection into a framing buffer, calls dispatched in order, replies
 * queued and sent one at a time. Peer credentials (SO_PEERCRED, SO_PEERGROUPS) decide whether
 * mutating methods are allowed. Subscribe streams audit events ("continues": true).
 */
#include <errno.h>
#include <grp.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "control/control.h"
#include "daemon/manager.h"
#include "siprecd/audit.h"
#include "siprecd/log.h"

#define RECV_SIZE 65536

struct out_msg {
	struct out_msg *next;
	size_t len, off;
	char data[];
};

struct control_conn {
	struct control *srv;
	struct control_conn *prev, *next;
	int fd;
	unsigned refs;
	bool closed, subscribed, recv_armed, sending;
	bool deferred; /* a call's reply is pending (control_defer): dispatch no more */
	struct ucred cred;
	bool privileged;
	struct control_frame frame;
	char rbuf[RECV_SIZE];
	struct out_msg *out_head, *out_tail;
	size_t out_bytes;
	struct loop_op recv_op, send_op;
};

struct control {
	struct manager *m;
	int fd;
	char *path; /* socket file we created, unlinked at stop; NULL when socket-activated */
	struct loop_op accept_op;
	bool accept_armed;
	struct loop_timer accept_retry; /* out of descriptors: accept again later */
	gid_t group;
	bool have_group;
	struct control_conn *conns;
	unsigned n_conns;
};

/*
 * The audit observer runs on any thread and outside audit's lock, so what it touches lives
 * here, not in struct control: it may still run while control_stop frees the server. Events
 * posted to the loop and not yet delivered are freed at stop (the loop frees its queue
 * without running it).
 */
static struct {
	pthread_mutex_t lock;
	struct control *srv; /* NULL once stopped */
	struct event *pending;
	atomic_uint subscribers;
} hub = {.lock = PTHREAD_MUTEX_INITIALIZER};

int control_call_parse(const char *msg, size_t len, struct control_call *ret)
{
	struct json_tokener *tok = json_tokener_new_ex(64);
	struct json_object *o, *v;
	struct control_call c = {0};

	if (!tok)
		return -ENOMEM;
	o = json_tokener_parse_ex(tok, msg, (int)len);
	/* Trailing bytes after the object are as malformed as a broken object. */
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		json_tokener_free(tok);
		json_object_put(o);
		return -EBADMSG;
	}
	json_tokener_free(tok);
	c.obj = o;
	if (!json_object_is_type(o, json_type_object))
		goto bad;
	if (!json_object_object_get_ex(o, "method", &v) ||
	    !json_object_is_type(v, json_type_string))
		goto bad;
	c.method = json_object_get_string(v);
	if (json_object_object_get_ex(o, "parameters", &v) &&
	    !json_object_is_type(v, json_type_null)) {
		if (!json_object_is_type(v, json_type_object))
			goto bad;
		c.parameters = v;
	} else {
		c.parameters = json_object_new_object();
		if (!c.parameters)
			goto bad;
		json_object_object_add(o, "parameters", c.parameters);
	}
	if (json_object_object_get_ex(o, "oneway", &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			goto bad;
		c.oneway = json_object_get_boolean(v);
	}
	if (json_object_object_get_ex(o, "more", &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			goto bad;
		c.more = json_object_get_boolean(v);
	}
	if (json_object_object_get_ex(o, "upgrade", &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			goto bad;
		c.upgrade = json_object_get_boolean(v);
	}
	*ret = c;
	return 0;
bad:
	json_object_put(o);
	return -EBADMSG;
}

static void conn_unref(struct control_conn *c)
{
	if (--c->refs > 0)
		return;
	while (c->out_head) {
		struct out_msg *n = c->out_head->next;

		free(c->out_head);
		c->out_head = n;
	}
	control_frame_done(&c->frame);
	close(c->fd);
	free(c);
}

/* Unlinks c from the server and wakes its in-flight requests (they then drop their refs). */
static void conn_close(struct control_conn *c)
{
	struct control *srv = c->srv;

	if (c->closed)
		return;
	c->closed = true;
	if (c->subscribed)
		atomic_fetch_sub(&hub.subscribers, 1);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->n_conns--;
	shutdown(c->fd, SHUT_RDWR);
	conn_unref(c);
}

static void conn_send_next(struct control_conn *c);

static void send_done(struct loop_op *op, int res, uint32_t flags)
{
	struct control_conn *c = container_of(op, struct control_conn, send_op);
	struct out_msg *o = c->out_head;

	c->sending = false;
	if (res <= 0 || c->closed) {
		if (!c->closed && res != 0)
			log_debug("control: send: %s", strerror(-res));
		conn_close(c);
		conn_unref(c);
		return;
	}
	o->off += (size_t)res;
	c->out_bytes -= (size_t)res;
	if (o->off == o->len) {
		c->out_head = o->next;
		if (!c->out_head)
			c->out_tail = NULL;
		free(o);
	}
	conn_send_next(c);
	conn_unref(c);
}

static void conn_send_next(struct control_conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->sending || c->closed || !c->out_head)
		return;
	sqe = loop_sqe(c->srv->m->loop, &c->send_op);
	if (!sqe) {
		conn_close(c);
		return;
	}
	io_uring_prep_send(sqe, c->fd, c->out_head->data + c->out_head->off,
			   c->out_head->len - c->out_head->off, MSG_NOSIGNAL);
	c->sending = true;
	c->refs++;
}

/* Queues one reply (NUL appended). Drops a reader that lets CONTROL_OUTPUT_MAX pile up. */
static void conn_queue(struct control_conn *c, struct json_object *reply)
{
	size_t len;
	const char *s = json_object_to_json_string_length(reply, JSON_C_TO_STRING_PLAIN, &len);
	struct out_msg *o;

	if (c->closed)
		return;
	if (c->out_bytes + len + 1 > CONTROL_OUTPUT_MAX) {
		log_debug("control: client pid %d not reading its replies: disconnected",
			  (int)c->cred.pid);
		conn_close(c);
		return;
	}
	o = malloc(sizeof(*o) + len + 1);
	if (!o) {
		conn_close(c);
		return;
	}
	o->next = NULL;
	o->len = len + 1;
	o->off = 0;
	memcpy(o->data, s, len + 1); /* json-c NUL-terminates: that is the varlink delimiter */
	if (c->out_tail)
		c->out_tail->next = o;
	else
		c->out_head = o;
	c->out_tail = o;
	c->out_bytes += o->len;
	conn_send_next(c);
}

static struct json_object *reply_new(const char *error, struct json_object *params, bool continues)
{
	struct json_object *r = json_object_new_object();

	if (!r) {
		json_object_put(params);
		return NULL;
	}
	if (error)
		json_object_object_add(r, "error", json_object_new_string(error));
	json_object_object_add(r, "parameters", params ? params : json_object_new_object());
	if (continues)
		json_object_object_add(r, "continues", json_object_new_boolean(true));
	return r;
}

static void conn_reply(struct control_conn *c, const struct control_call *call, const char *error,
		       struct json_object *params, bool continues)
{
	struct json_object *r;

	if (call && call->oneway) {
		json_object_put(params);
		return;
	}
	r = reply_new(error, params, continues);
	if (!r) {
		conn_close(c);
		return;
	}
	conn_queue(c, r);
	json_object_put(r);
}

static struct json_object *param1(const char *name, const char *value)
{
	struct json_object *p = json_object_new_object();

	if (p)
		json_object_object_add(p, name, json_object_new_string(value));
	return p;
}

static struct json_object *get_info(void)
{
	struct json_object *p = json_object_new_object(), *ifs = json_object_new_array();

	json_object_object_add(p, "vendor", json_object_new_string("siprecd"));
	json_object_object_add(p, "product", json_object_new_string("siprecd"));
	json_object_object_add(p, "version", json_object_new_string(SIPRECD_VERSION));
	json_object_object_add(p, "url", json_object_new_string("https://github.com/siprecd"));
	json_object_array_add(ifs, json_object_new_string("org.varlink.service"));
	json_object_array_add(ifs, json_object_new_string("io.siprecd"));
	json_object_object_add(p, "interfaces", ifs);
	return p;
}

static const char varlink_service_idl[] =
	"# The Varlink Service Interface is provided by every varlink service.\n"
	"interface org.varlink.service\n\n"
	"method GetInfo() -> (\n  vendor: string,\n  product: string,\n  version: string,\n"
	"  url: string,\n  interfaces: []string\n)\n\n"
	"method GetInterfaceDescription(interface: string) -> (description: string)\n\n"
	"error InterfaceNotFound (interface: string)\n"
	"error MethodNotFound (method: string)\n"
	"error MethodNotImplemented (method: string)\n"
	"error InvalidParameter (parameter: string)\n"
	"error PermissionDenied ()\n"
	"error ExpectedMore ()\n";

static void dispatch_service(struct control_conn *c, const struct control_call *call,
			     const char *name)
{
	struct json_object *v;

	if (strcmp(name, "GetInfo") == 0) {
		conn_reply(c, call, NULL, get_info(), false);
	} else if (strcmp(name, "GetInterfaceDescription") == 0) {
		const char *ifname, *desc = NULL;

		if (!json_object_object_get_ex(call->parameters, "interface", &v) ||
		    !json_object_is_type(v, json_type_string)) {
			conn_reply(c, call, "org.varlink.service.InvalidParameter",
				   param1("parameter", "interface"), false);
			return;
		}
		ifname = json_object_get_string(v);
		if (strcmp(ifname, "io.siprecd") == 0)
			desc = control_idl;
		else if (strcmp(ifname, "org.varlink.service") == 0)
			desc = varlink_service_idl;
		if (!desc)
			conn_reply(c, call, "org.varlink.service.InterfaceNotFound",
				   param1("interface", ifname), false);
		else
			conn_reply(c, call, NULL, param1("description", desc), false);
	} else {
		conn_reply(c, call, "org.varlink.service.MethodNotFound",
			   param1("method", call->method), false);
	}
}

/* Handles one complete message. Returns < 0 when the connection must be dropped. */
static int conn_dispatch(struct control_conn *c, const char *msg, size_t len)
{
	struct control_call call;
	const char *dot;
	int r;

	r = control_call_parse(msg, len, &call);
	if (r < 0) {
		log_debug("control: malformed message from pid %d: disconnected", (int)c->cred.pid);
		return r;
	}
	dot = strrchr(call.method, '.');
	if (!dot || dot == call.method) {
		conn_reply(c, &call, "org.varlink.service.InterfaceNotFound",
			   param1("interface", call.method), false);
	} else if (strncmp(call.method, "org.varlink.service.", 20) == 0 &&
		   dot == call.method + 19) {
		dispatch_service(c, &call, dot + 1);
	} else if (strncmp(call.method, "io.siprecd.", 11) == 0 && dot == call.method + 10) {
		if (control_method_mutating(call.method) && !c->privileged) {
			log_notice("control: %s refused to uid %u (pid %d): not root, not our uid, "
				   "not in CONTROL_GROUP",
				   call.method, (unsigned)c->cred.uid, (int)c->cred.pid);
			conn_reply(c, &call, "org.varlink.service.PermissionDenied", NULL, false);
		} else if (strcmp(call.method, "io.siprecd.Subscribe") == 0) {
			if (!call.more) {
				conn_reply(c, &call, "org.varlink.service.ExpectedMore", NULL,
					   false);
			} else {
				struct json_object *p = json_object_new_object();

				/* A first reply says the subscription is in place; events follow.
				 */
				json_object_object_add(p, "event",
						       json_object_new_string("subscribed"));
				c->subscribed = true;
				atomic_fetch_add(&hub.subscribers, 1);
				conn_reply(c, NULL, NULL, p, true);
			}
		} else {
			struct control_ctx ctx = {.m = c->srv->m,
						  .privileged = c->privileged,
						  .uid = (unsigned)c->cred.uid,
						  .conn = c,
						  .call = &call};
			struct json_object *p = NULL;
			const char *err = control_method_call(&ctx, &call, &p);

			if (err != control_reply_deferred)
				conn_reply(c, &call, err, p, false);
		}
	} else {
		char ifname[256];

		snprintf(ifname, sizeof(ifname), "%.*s", (int)(dot - call.method), call.method);
		conn_reply(c, &call, "org.varlink.service.InterfaceNotFound",
			   param1("interface", ifname), false);
	}
	c->srv->m->counters.control_calls++;
	json_object_put(call.obj);
	return 0;
}

static void conn_arm_recv(struct control_conn *c);

/* Dispatches the buffered calls. A subscribed connection, or one waiting for a deferred reply,
 * takes no more calls (varlink: replies in call order); anything it sends waits here, within
 * the pending and size limits. */
static void conn_process(struct control_conn *c)
{
	const char *msg;
	size_t len;

	while (!c->closed && !c->subscribed && !c->deferred &&
	       control_frame_next(&c->frame, &msg, &len) > 0)
		if (conn_dispatch(c, msg, len) < 0)
			conn_close(c);
	if (!c->closed && control_frame_pending(&c->frame) > CONTROL_PENDING_MAX) {
		log_debug("control: pid %d: too many pending calls: disconnected",
			  (int)c->cred.pid);
		conn_close(c);
	}
}

/* ---- deferred replies ---- */

const char control_reply_deferred[] = "(deferred)";

struct control_pending {
	struct control_conn *conn; /* holds a reference */
	bool oneway;
};

struct control_pending *control_defer(struct control_ctx *ctx)
{
	struct control_pending *p;

	if (!ctx->conn || ctx->conn->deferred)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->conn = ctx->conn;
	p->oneway = ctx->call && ctx->call->oneway;
	p->conn->refs++;
	p->conn->deferred = true;
	return p;
}

void control_pending_free(struct control_pending *p)
{
	if (!p)
		return;
	p->conn->deferred = false;
	conn_unref(p->conn);
	free(p);
}

void control_pending_reply(struct control_pending *p, const char *error, struct json_object *params)
{
	struct control_conn *c = p->conn;
	struct control_call call = {.oneway = p->oneway};

	c->deferred = false;
	if (!c->closed) {
		conn_reply(c, &call, error, params, false);
		/* Calls that arrived meanwhile; recv stays armed throughout. */
		conn_process(c);
	} else {
		json_object_put(params);
	}
	conn_unref(c);
	free(p);
}

static void recv_done(struct loop_op *op, int res, uint32_t flags)
{
	struct control_conn *c = container_of(op, struct control_conn, recv_op);
	int r;

	c->recv_armed = false;
	if (c->closed || res <= 0) {
		conn_close(c);
		conn_unref(c);
		return;
	}
	r = control_frame_feed(&c->frame, c->rbuf, (size_t)res);
	if (r < 0) {
		log_debug("control: pid %d: %s: disconnected", (int)c->cred.pid,
			  r == -EMSGSIZE ? "message over the size limit" : strerror(-r));
		conn_close(c);
		conn_unref(c);
		return;
	}
	conn_process(c);
	conn_arm_recv(c);
	conn_unref(c);
}

static void conn_arm_recv(struct control_conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->closed || c->recv_armed)
		return;
	sqe = loop_sqe(c->srv->m->loop, &c->recv_op);
	if (!sqe) {
		conn_close(c);
		return;
	}
	io_uring_prep_recv(sqe, c->fd, c->rbuf, sizeof(c->rbuf), 0);
	c->recv_armed = true;
	c->refs++;
}

/* Root, our own uid, or a member of CONTROL_GROUP (primary or supplementary group of the peer
 * process, as the kernel reports them: no NSS lookup on the loop). */
static bool peer_privileged(struct control *srv, int fd, const struct ucred *cr)
{
	gid_t groups[256];
	socklen_t sl = sizeof(groups);

	if (cr->uid == 0 || cr->uid == geteuid())
		return true;
	if (!srv->have_group)
		return false;
	if (cr->gid == srv->group)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &sl) < 0)
		return false;
	for (size_t i = 0; i < sl / sizeof(gid_t); i++)
		if (groups[i] == srv->group)
			return true;
	return false;
}

static void accept_arm(struct control *srv);

/* All CONTROL_CONNECTIONS_MAX slots are taken. When the socket's mode lets others in
 * (docs/CONTROL.md, Permissions), their idle connections must not lock the operator out:
 * a privileged newcomer takes the slot of the oldest unprivileged connection. */
static bool make_room(struct control *srv, const struct control_conn *newcomer)
{
	struct control_conn *victim = NULL;

	if (!newcomer->privileged)
		return false;
	for (struct control_conn *c = srv->conns; c; c = c->next) /* newest first */
		if (!c->privileged)
			victim = c;
	if (!victim)
		return false;
	log_ratelimited(LOG_NOTICE,
			"control: %u connections open: closing one of uid %u pid %d for uid %u",
			srv->n_conns, (unsigned)victim->cred.uid, (int)victim->cred.pid,
			(unsigned)newcomer->cred.uid);
	conn_close(victim);
	return true;
}

static void accept_done(struct loop_op *op, int res, uint32_t flags)
{
	struct control *srv = container_of(op, struct control, accept_op);
	struct control_conn *c;
	bool backoff = false;
	socklen_t sl;

	if (res >= 0) {
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(res);
			goto rearm;
		}
		c->srv = srv;
		c->fd = res;
		c->refs = 1;
		c->recv_op.fn = recv_done;
		c->send_op.fn = send_done;
		control_frame_init(&c->frame, CONTROL_MESSAGE_MAX - 1);
		sl = sizeof(c->cred);
		if (getsockopt(res, SOL_SOCKET, SO_PEERCRED, &c->cred, &sl) < 0)
			c->cred = (struct ucred){.pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1};
		c->privileged = peer_privileged(srv, res, &c->cred);
		if (srv->n_conns >= CONTROL_CONNECTIONS_MAX && !make_room(srv, c)) {
			log_ratelimited(LOG_WARNING,
					"control: %u connections open: refusing uid %u pid %d",
					srv->n_conns, (unsigned)c->cred.uid, (int)c->cred.pid);
			control_frame_done(&c->frame);
			free(c);
			close(res);
			goto rearm;
		}
		c->next = srv->conns;
		if (c->next)
			c->next->prev = c;
		srv->conns = c;
		srv->n_conns++;
		conn_arm_recv(c);
	} else if (loop_accept_starved(res)) {
		log_ratelimited(LOG_WARNING, "control: accept: %s: new connections wait %d ms",
				strerror(-res), LOOP_ACCEPT_RETRY_MS);
		backoff = true;
	} else if (res != -ECANCELED) {
		log_debug("control: accept: %s", strerror(-res));
	}
rearm:
	if (!(flags & IORING_CQE_F_MORE)) {
		srv->accept_armed = false;
		if (srv->fd >= 0 && backoff)
			loop_timer_arm(srv->m->loop, &srv->accept_retry,
				       loop_now_ms(srv->m->loop) + LOOP_ACCEPT_RETRY_MS);
		else if (srv->fd >= 0)
			accept_arm(srv);
	}
}

static void accept_retry_fired(struct loop_timer *tm)
{
	struct control *srv = container_of(tm, struct control, accept_retry);

	if (srv->fd >= 0 && !srv->accept_armed)
		accept_arm(srv);
}

static void accept_arm(struct control *srv)
{
	struct io_uring_sqe *sqe = loop_sqe(srv->m->loop, &srv->accept_op);

	if (!sqe)
		return;
	io_uring_prep_multishot_accept(sqe, srv->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	srv->accept_armed = true;
}

/* ---- event stream ---- */

struct event {
	struct event *prev, *next;
	struct json_object *params;
};

static void event_unlink(struct event *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		hub.pending = e->next;
	if (e->next)
		e->next->prev = e->prev;
}

static void event_deliver(void *arg)
{
	struct event *e = arg;
	struct control *srv;

	pthread_mutex_lock(&hub.lock);
	event_unlink(e);
	srv = hub.srv;
	pthread_mutex_unlock(&hub.lock);

	for (struct control_conn *c = srv ? srv->conns : NULL, *next; c; c = next) {
		next = c->next;
		if (c->subscribed)
			conn_reply(c, NULL, NULL, json_object_get(e->params), true);
	}
	json_object_put(e->params);
	free(e);
}

/* Audit observer: may run on any thread, so the event is copied and posted to the SIP loop. */
static void audit_observed(void *userdata, enum audit_event ev, const char *const *fields,
			   const char *message)
{
	const struct audit_event_info *info = audit_event_info(ev);
	struct event *e;
	struct json_object *f;
	struct timespec ts;

	/* Nobody listening: nothing to copy. */
	if (atomic_load_explicit(&hub.subscribers, memory_order_relaxed) == 0)
		return;
	e = calloc(1, sizeof(*e));
	if (!e || !info) {
		free(e);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	e->params = json_object_new_object();
	f = json_object_new_object();
	for (size_t i = 0; fields && fields[i]; i++) {
		const char *eq = strchr(fields[i], '=');
		char name[64];

		if (!eq || eq == fields[i] || (size_t)(eq - fields[i]) >= sizeof(name))
			continue;
		memcpy(name, fields[i], (size_t)(eq - fields[i]));
		name[eq - fields[i]] = '\0';
		json_object_object_add(f, name, json_object_new_string(eq + 1));
	}
	json_object_object_add(e->params, "event", json_object_new_string(info->name));
	json_object_object_add(e->params, "message_id", json_object_new_string(info->message_id));
	json_object_object_add(e->params, "message",
			       json_object_new_string(message ? message : ""));
	json_object_object_add(
		e->params, "time_usec",
		json_object_new_int64((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000));
	json_object_object_add(e->params, "fields", f);
	pthread_mutex_lock(&hub.lock);
	if (!hub.srv) {
		pthread_mutex_unlock(&hub.lock);
		json_object_put(e->params);
		free(e);
		return;
	}
	e->next = hub.pending;
	if (e->next)
		e->next->prev = e;
	hub.pending = e;
	if (loop_post(hub.srv->m->loop, event_deliver, e) < 0) {
		event_unlink(e);
		json_object_put(e->params);
		free(e);
	}
	pthread_mutex_unlock(&hub.lock);
}

/* ---- start / stop ---- */

static int bind_socket(struct control *srv, const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A stale socket from a previous run (a live daemon would hold the path). */
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0)
		goto fail;
	if (chmod(path, 0660) < 0)
		goto fail;
	if (srv->have_group && chown(path, (uid_t)-1, srv->group) < 0)
		goto fail;
	srv->path = strdup(path);
	srv->fd = fd;
	return 0;
fail : {
	int r = -errno;

	close(fd);
	unlink(path);
	return r;
}
}

int control_start(struct manager *m)
{
	struct config *cfg = m->cfg;
	struct control *srv;
	int r;

	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->m = m;
	srv->fd = -1;
	srv->accept_op.fn = accept_done;
	srv->accept_retry.fn = accept_retry_fired;
	m->control = srv;
	if (cfg->control_group && *cfg->control_group) {
		struct group *g = getgrnam(cfg->control_group);

		if (!g) {
			log_error("CONTROL_GROUP=%s: no such group", cfg->control_group);
			return -ENOENT;
		}
		srv->group = g->gr_gid;
		srv->have_group = true;
	}
	if (m->sd.n[SD_FD_VARLINK] > 0) {
		srv->fd = m->sd.fds[SD_FD_VARLINK][0];
		for (unsigned i = 1; i < m->sd.n[SD_FD_VARLINK]; i++)
			close(m->sd.fds[SD_FD_VARLINK][i]);
		log_info("control socket: socket-activated fd %d", srv->fd);
	} else if (cfg->control_socket && *cfg->control_socket) {
		r = bind_socket(srv, cfg->control_socket);
		if (r < 0) {
			log_error("cannot create control socket %s: %s", cfg->control_socket,
				  strerror(-r));
			return r;
		}
		log_info("control socket: %s", cfg->control_socket);
	}
	if (srv->fd >= 0) {
		accept_arm(srv);
		pthread_mutex_lock(&hub.lock);
		hub.srv = srv;
		pthread_mutex_unlock(&hub.lock);
		audit_set_observer(audit_observed, NULL);
	}
	if (m->sd.n[SD_FD_METRICS] > 0) {
		for (unsigned i = 1; i < m->sd.n[SD_FD_METRICS]; i++)
			close(m->sd.fds[SD_FD_METRICS][i]);
		r = control_metrics_listen(m, m->sd.fds[SD_FD_METRICS][0]);
		if (r < 0) {
			log_error("metrics: socket-activated fd: %s", strerror(-r));
			return r;
		}
		log_info("metrics: socket-activated fd %d", m->sd.fds[SD_FD_METRICS][0]);
	} else if (cfg->metrics_listen && *cfg->metrics_listen) {
		r = control_metrics_listen(m, -1);
		if (r < 0)
			return r;
	}
	return 0;
}

void control_stop(struct manager *m)
{
	struct control *srv = m->control;

	control_metrics_stop(m);
	if (!srv)
		return;
	audit_set_observer(NULL, NULL);
	pthread_mutex_lock(&hub.lock);
	hub.srv = NULL;
	while (hub.pending) {
		struct event *e = hub.pending;

		hub.pending = e->next;
		json_object_put(e->params);
		free(e);
	}
	atomic_store(&hub.subscribers, 0);
	pthread_mutex_unlock(&hub.lock);
	/* Deferred replies drop their connection references first. */
	control_methods_stop(m);
	/* The loop is no longer running: in-flight requests never complete, so every connection
	 * is freed here regardless of its references. */
	while (srv->conns) {
		struct control_conn *c = srv->conns;

		srv->conns = c->next;
		c->refs = 1;
		conn_unref(c);
	}
	loop_timer_disarm(m->loop, &srv->accept_retry);
	if (srv->fd >= 0)
		close(srv->fd);
	if (srv->path) {
		unlink(srv->path);
		free(srv->path);
	}
	free(srv);
	m->control = NULL;
}
