// SPDX-License-Identifier: MIT
/*
 * The compliance methods of io.siprecd (RunRetention, Erase, PlaceHold, ListHolds, ReleaseHold,
 * VerifyTrail): they block on sqlite and the file system, so the loop only defers the reply and
 * hands the call to the compliance thread (src/compliance/live.c); the actor written to the
 * trail is the caller's uid from SO_PEERCRED.
 */
#include <errno.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/control.h"
#include "daemon/manager.h"
#include "siprecd/compliance.h"
#include "siprecd/log.h"

static const char *const methods[] = {"RunRetention", "Erase",	     "PlaceHold",
				      "ListHolds",    "ReleaseHold", "VerifyTrail"};

struct cop {
	struct cop *next;
	struct control_pending *pending;
	const char *error; /* a static string */
	struct json_object *params;
};

/* Calls in flight; whoever takes an op off this list frees it. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct cop *ops;
static struct loop *ops_loop;

static bool unlink_op(struct cop *op)
{
	for (struct cop **p = &ops; *p; p = &(*p)->next)
		if (*p == op) {
			*p = op->next;
			return true;
		}
	return false;
}

bool control_compliance_method(const char *name)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(name, methods[i]) == 0)
			return true;
	return false;
}

/* On the loop: answer. */
static void finish(void *arg)
{
	struct cop *op = arg;
	bool mine;

	pthread_mutex_lock(&lock);
	mine = unlink_op(op);
	pthread_mutex_unlock(&lock);
	if (!mine)
		return; /* control_compliance_stop took it */
	control_pending_reply(op->pending, op->error, op->params);
	free(op);
}

/* On the compliance thread. */
static void done(void *userdata, const char *error, struct json_object *params)
{
	struct cop *op = userdata;
	bool live = false;

	pthread_mutex_lock(&lock);
	for (struct cop *o = ops; o; o = o->next)
		live |= o == op;
	if (live) {
		op->error = error;
		op->params = params;
		params = NULL;
		if (loop_post(ops_loop, finish, op) < 0) {
			/* ENOMEM: the caller stays unanswered until it disconnects. */
			log_error("control: cannot post a compliance reply (out of memory)");
		}
	}
	pthread_mutex_unlock(&lock);
	json_object_put(params);
}

const char *control_compliance_call(struct control_ctx *ctx, const char *name,
				    const struct control_call *call,
				    struct json_object **ret_params)
{
	struct manager *m = ctx->m;
	char actor[32];
	struct cop *op;
	int r;

	if (!m->compliance) {
		*ret_params = json_object_new_object();
		json_object_object_add(*ret_params, "reason",
				       json_object_new_string("compliance thread not running"));
		return "io.siprecd.NotSupported";
	}
	op = calloc(1, sizeof(*op));
	if (!op || !(op->pending = control_defer(ctx))) {
		free(op);
		*ret_params = json_object_new_object();
		json_object_object_add(*ret_params, "reason",
				       json_object_new_string("cannot defer the reply"));
		return "io.siprecd.ComplianceFailed";
	}
	snprintf(actor, sizeof(actor), "uid:%u", (unsigned)ctx->uid);
	pthread_mutex_lock(&lock);
	ops_loop = m->loop;
	op->next = ops;
	ops = op;
	/* Under the lock: done may run before compliance_call_async returns. */
	r = compliance_call_async(m->compliance, name, call->parameters, actor, done, op);
	if (r < 0)
		unlink_op(op);
	pthread_mutex_unlock(&lock);
	if (r < 0) {
		control_pending_free(op->pending);
		free(op);
		*ret_params = json_object_new_object();
		json_object_object_add(*ret_params, "reason",
				       json_object_new_string(r == -EAGAIN ? "too many calls queued"
									   : strerror(-r)));
		return "io.siprecd.ComplianceFailed";
	}
	return control_reply_deferred;
}

void control_compliance_stop(void)
{
	struct cop *list;

	pthread_mutex_lock(&lock);
	list = ops;
	ops = NULL;
	pthread_mutex_unlock(&lock);
	while (list) {
		struct cop *next = list->next;

		control_pending_free(list->pending);
		json_object_put(list->params);
		free(list);
		list = next;
	}
}
