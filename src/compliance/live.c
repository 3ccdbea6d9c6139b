// SPDX-License-Identifier: MIT
/*
 * The daemon's compliance thread: it signs the trail head (periodically, at each data key
 * rotation and at shutdown) and runs the retention sweeper at RETENTION_INTERVAL. Both block on
 * sqlite and the file system, so they have a thread and a catalog connection of their own,
 * like the keys rotation thread; the catalog thread keeps appending 'created' and 'finalized'
 * entries in its own transactions (BEGIN IMMEDIATE serializes the chain's writers).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <inttypes.h>

#include <json-c/json.h>

#include "siprecd/compliance.h"
#include "siprecd/keys.h"
#include "siprecd/log.h"

#define JOBS_MAX 64

struct job {
	struct job *next;
	char method[32];
	char actor[64];
	struct json_object *params;
	compliance_done_fn done;
	void *userdata;
};

struct compliance {
	sqlite3 *db;
	struct keys *keys; /* borrowed: the AoR blind indexes */
	void *key;
	char *base_dir;
	int64_t retention_default;
	uint64_t retention_interval_ms, sign_interval_ms;
	pthread_t thread;
	bool started, stop, sign_now, retention_now;
	char sign_reason[32];
	struct job *jobs, **jobs_tail;
	unsigned njobs;
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

int compliance_new(const struct compliance_config *cfg, char *err, size_t errlen,
		   struct compliance **ret)
{
	struct compliance *c;
	pthread_condattr_t ca;
	char *slash;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &ca);
	pthread_condattr_destroy(&ca);
	c->jobs_tail = &c->jobs;
	c->keys = cfg->keys;
	c->retention_interval_ms =
		cfg->retention_interval_ms ? cfg->retention_interval_ms : 3600000;
	c->sign_interval_ms = cfg->sign_interval_ms ? cfg->sign_interval_ms : 3600000;
	if (compliance_parse_keep(cfg->retention_default ? cfg->retention_default : "forever",
				  &c->retention_default) < 0) {
		snprintf(err, errlen,
			 "RETENTION_DEFAULT: '%s' is not forever or a duration (90d, 7y)",
			 cfg->retention_default);
		compliance_free(c);
		return -EINVAL;
	}
	c->key = trail_key_load(cfg->signing_key, true, err, errlen);
	if (!c->key) {
		compliance_free(c);
		return -EACCES;
	}
	c->base_dir = strdup(cfg->catalog_path);
	if (!c->base_dir) {
		compliance_free(c);
		return -ENOMEM;
	}
	slash = strrchr(c->base_dir, '/');
	if (slash && slash != c->base_dir)
		*slash = '\0';
	if (sqlite3_open_v2(cfg->catalog_path, &c->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", cfg->catalog_path, sqlite3_errmsg(c->db));
		compliance_free(c);
		return -EIO;
	}
	sqlite3_busy_timeout(c->db, 30000);
	*ret = c;
	return 0;
}

static void sign(struct compliance *c, const char *reason)
{
	int r = trail_sign_head(c->db, c->key, reason);

	if (r < 0)
		log_error("compliance: signing the trail head (%s) failed: %s", reason,
			  sqlite3_errmsg(c->db));
	else if (r > 0)
		log_debug("compliance: trail head signed (%s)", reason);
}

static void sweep(struct compliance *c)
{
	struct compliance_result res = {0};
	int r = compliance_retention_run_keyed(c->db, c->keys, c->retention_default, 0, false,
					       "siprecd", c->base_dir, NULL, NULL, &res);

	if (r < 0)
		log_error("compliance: retention run failed: %s", strerror(-r));
	else if (res.matched)
		log_notice(
			"compliance: retention: %u recordings expired, %u deleted, %u kept under "
			"legal hold, %u failed",
			res.matched, res.deleted, res.held, res.failed);
	if (res.deleted)
		sign(c, "retention");
}

static struct json_object *jstr(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static void add_item(void *userdata, const struct compliance_item *it)
{
	struct json_object *a = userdata, *o = json_object_new_object();

	json_object_object_add(o, "recording_id", jstr(it->recording_uuid));
	json_object_object_add(o, "session_id", jstr(it->session_uuid ? it->session_uuid : ""));
	json_object_object_add(o, "path", jstr(it->path ? it->path : ""));
	json_object_object_add(o, "reason", jstr(it->reason ? it->reason : ""));
	json_object_object_add(o, "held", json_object_new_boolean(it->held));
	json_object_object_add(o, "deleted", json_object_new_boolean(it->done));
	json_object_array_add(a, o);
}

static void add_problem(void *userdata, const char *problem)
{
	json_object_array_add(userdata, json_object_new_string(problem));
}

/* A parameter of the call: NULL when absent or null. */
static struct json_object *param(struct json_object *p, const char *name, json_type type, bool *bad)
{
	struct json_object *v;

	if (!p || !json_object_object_get_ex(p, name, &v) || json_object_is_type(v, json_type_null))
		return NULL;
	if (!json_object_is_type(v, type)) {
		*bad = true;
		return NULL;
	}
	return v;
}

static const char *invalid(const char *name, struct json_object **ret)
{
	*ret = json_object_new_object();
	json_object_object_add(*ret, "parameter", json_object_new_string(name));
	return "org.varlink.service.InvalidParameter";
}

static const char *failed(const char *why, struct json_object **ret)
{
	*ret = json_object_new_object();
	json_object_object_add(*ret, "reason", json_object_new_string(why));
	return "io.siprecd.ComplianceFailed";
}

static struct json_object *result_json(const struct compliance_result *r, struct json_object *a)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "matched", json_object_new_int64(r->matched));
	json_object_object_add(o, "deleted", json_object_new_int64(r->deleted));
	json_object_object_add(o, "held", json_object_new_int64(r->held));
	json_object_object_add(o, "failed", json_object_new_int64(r->failed));
	json_object_object_add(o, "recordings", a);
	return o;
}

static const char *list_holds(struct compliance *c, struct json_object **ret)
{
	struct json_object *a = json_object_new_array(), *o;
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(
		    c->db,
		    "SELECT h.id, h.kind, coalesce(h.session_uuid, h.aor, h.from_at || '..' || "
		    "h.to_at), h.case_ref, h.placed_by, h.placed_at, (SELECT count(*) FROM "
		    "held_recordings AS r WHERE r.hold_id = h.id) FROM legal_holds AS h WHERE "
		    "h.released_at IS NULL ORDER BY h.id",
		    -1, &st, NULL) != SQLITE_OK) {
		json_object_put(a);
		return failed(sqlite3_errmsg(c->db), ret);
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		o = json_object_new_object();
		json_object_object_add(o, "id", json_object_new_int64(sqlite3_column_int64(st, 0)));
		json_object_object_add(o, "kind", jstr((const char *)sqlite3_column_text(st, 1)));
		json_object_object_add(o, "target", jstr((const char *)sqlite3_column_text(st, 2)));
		json_object_object_add(o, "case_ref",
				       jstr((const char *)sqlite3_column_text(st, 3)));
		json_object_object_add(o, "placed_by",
				       jstr((const char *)sqlite3_column_text(st, 4)));
		json_object_object_add(o, "placed_usec",
				       json_object_new_int64(sqlite3_column_int64(st, 5) * 1000));
		json_object_object_add(o, "recordings",
				       json_object_new_int64(sqlite3_column_int64(st, 6)));
		json_object_array_add(a, o);
	}
	sqlite3_finalize(st);
	*ret = json_object_new_object();
	json_object_object_add(*ret, "holds", a);
	return NULL;
}

/* The blind indexes of aor under every data key version held (keys_aor_indexes): *ret
 * (free it) and their number; 0 without keys. */
static size_t aor_indexes(struct compliance *c, const char *aor, const char ***ret)
{
	size_t n = 0;

	*ret = NULL;
	if (c->keys && keys_aor_indexes(c->keys, aor, ret, &n) < 0)
		return 0;
	return n;
}

static const char *run_job(struct compliance *c, struct job *j, struct json_object **ret)
{
	const char **iptr = NULL;
	size_t nidx;
	struct compliance_result res = {0};
	struct json_object *p = j->params, *v;
	bool bad = false, dry;
	int r;

	if (strcmp(j->method, "RunRetention") == 0 || strcmp(j->method, "Erase") == 0) {
		struct json_object *a;
		const char *aor = NULL;

		v = param(p, "dry_run", json_type_boolean, &bad);
		if (bad)
			return invalid("dry_run", ret);
		dry = v && json_object_get_boolean(v);
		if (j->method[0] == 'E') {
			v = param(p, "aor", json_type_string, &bad);
			aor = v ? json_object_get_string(v) : NULL;
			if (!aor || !*aor || strlen(aor) > 1000)
				return invalid("aor", ret);
		}
		a = json_object_new_array();
		nidx = aor ? aor_indexes(c, aor, &iptr) : 0;
		r = aor ? compliance_erase_indexed(c->db, aor, iptr, nidx, dry, j->actor,
						   c->base_dir, add_item, a, &res)
			: compliance_retention_run_keyed(c->db, c->keys, c->retention_default, 0,
							 dry, j->actor, c->base_dir, add_item, a,
							 &res);
		free(iptr);
		if (r < 0) {
			json_object_put(a);
			return failed(strerror(-r), ret);
		}
		if (res.deleted)
			sign(c, aor ? "erasure" : "retention");
		*ret = result_json(&res, a);
		return NULL;
	}
	if (strcmp(j->method, "PlaceHold") == 0) {
		struct json_object *s = param(p, "session_id", json_type_string, &bad);
		struct json_object *aor = param(p, "aor", json_type_string, &bad);
		struct json_object *from = param(p, "from_usec", json_type_int, &bad);
		struct json_object *to = param(p, "to_usec", json_type_int, &bad);
		struct json_object *cref = param(p, "case_ref", json_type_string, &bad);
		struct compliance_hold h = {.actor = j->actor};
		int64_t id;

		if (bad || !cref || (!!s + !!aor + !!(from && to) != 1) || (!!from != !!to))
			return invalid(bad ? "type" : !cref ? "case_ref" : "session_id", ret);
		h.kind = s ? "session" : aor ? "aor" : "range";
		h.session_uuid = s ? json_object_get_string(s) : NULL;
		h.aor = aor ? json_object_get_string(aor) : NULL;
		if (from && (json_object_get_int64(from) < 0 || json_object_get_int64(to) < 0))
			return invalid("from_usec", ret);
		h.from_ms = from ? (uint64_t)json_object_get_int64(from) / 1000 : 0;
		h.to_ms = to ? (uint64_t)json_object_get_int64(to) / 1000 : 0;
		h.case_ref = json_object_get_string(cref);
		if (h.aor) {
			h.n_aor_indexes = aor_indexes(c, h.aor, &iptr);
			h.aor_indexes = iptr;
		}
		r = compliance_hold_add(c->db, &h, &id);
		free(iptr);
		if (r == -EINVAL)
			return invalid("case_ref", ret);
		if (r < 0)
			return failed(sqlite3_errmsg(c->db), ret);
		*ret = json_object_new_object();
		json_object_object_add(*ret, "id", json_object_new_int64(id));
		return NULL;
	}
	if (strcmp(j->method, "ListHolds") == 0)
		return list_holds(c, ret);
	if (strcmp(j->method, "ReleaseHold") == 0) {
		struct json_object *id = param(p, "id", json_type_int, &bad);
		struct json_object *why = param(p, "reason", json_type_string, &bad);

		if (bad || !id)
			return invalid("id", ret);
		r = compliance_hold_release(c->db, json_object_get_int64(id), j->actor,
					    why ? json_object_get_string(why) : NULL);
		if (r == -ENOENT || r == -EALREADY) {
			*ret = json_object_new_object();
			json_object_object_add(*ret, "id",
					       json_object_new_int64(json_object_get_int64(id)));
			return "io.siprecd.NoSuchHold";
		}
		if (r < 0)
			return r == -EINVAL ? invalid("reason", ret)
					    : failed(sqlite3_errmsg(c->db), ret);
		*ret = json_object_new_object();
		return NULL;
	}
	if (strcmp(j->method, "VerifyTrail") == 0) {
		struct json_object *a = json_object_new_array();
		struct trail_verify tv;

		r = trail_verify(c->db, c->key, c->base_dir, add_problem, a, &tv);
		if (r < 0) {
			json_object_put(a);
			return failed(strerror(-r), ret);
		}
		*ret = json_object_new_object();
		json_object_object_add(*ret, "ok", json_object_new_boolean(r == 0));
		json_object_object_add(*ret, "entries", json_object_new_int64((int64_t)tv.entries));
		json_object_object_add(*ret, "signed_heads",
				       json_object_new_int64((int64_t)tv.heads));
		json_object_object_add(*ret, "unsigned_entries",
				       json_object_new_int64((int64_t)tv.unsigned_entries));
		json_object_object_add(*ret, "recordings_checked",
				       json_object_new_int64((int64_t)tv.files));
		json_object_object_add(*ret, "problems", a);
		return NULL;
	}
	*ret = json_object_new_object();
	json_object_object_add(*ret, "method", json_object_new_string(j->method));
	return "org.varlink.service.MethodNotFound";
}

static void job_free(struct job *j)
{
	json_object_put(j->params);
	free(j);
}

int compliance_call_async(struct compliance *c, const char *method, struct json_object *params,
			  const char *actor, compliance_done_fn done, void *userdata)
{
	struct job *j;

	if (!c)
		return -ESRCH;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	snprintf(j->method, sizeof(j->method), "%s", method);
	snprintf(j->actor, sizeof(j->actor), "%s", actor);
	j->params = json_object_get(params);
	j->done = done;
	j->userdata = userdata;
	pthread_mutex_lock(&c->lock);
	if (c->njobs >= JOBS_MAX || c->stop) {
		pthread_mutex_unlock(&c->lock);
		job_free(j);
		return -EAGAIN;
	}
	*c->jobs_tail = j;
	c->jobs_tail = &j->next;
	c->njobs++;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void *run(void *arg)
{
	struct compliance *c = arg;
	uint64_t next_sign = mono_ms() + c->sign_interval_ms;
	uint64_t next_sweep = mono_ms() + c->retention_interval_ms;

	pthread_mutex_lock(&c->lock);
	while (!c->stop) {
		uint64_t now = mono_ms(), wake = next_sign < next_sweep ? next_sign : next_sweep;
		bool do_sign = c->sign_now || now >= next_sign;
		bool do_sweep = c->retention_now || now >= next_sweep;
		char reason[32];

		if (c->jobs) {
			struct job *j = c->jobs;
			struct json_object *out = NULL;
			const char *err;

			c->jobs = j->next;
			if (!c->jobs)
				c->jobs_tail = &c->jobs;
			c->njobs--;
			pthread_mutex_unlock(&c->lock);
			err = run_job(c, j, &out);
			j->done(j->userdata, err, out);
			job_free(j);
			pthread_mutex_lock(&c->lock);
			continue;
		}
		if (!do_sign && !do_sweep) {
			struct timespec ts = {.tv_sec = (time_t)(wake / 1000),
					      .tv_nsec = (long)(wake % 1000) * 1000000L};

			pthread_cond_timedwait(&c->cond, &c->lock, &ts);
			continue;
		}
		snprintf(reason, sizeof(reason), "%s", c->sign_now ? c->sign_reason : "interval");
		c->sign_now = c->retention_now = false;
		pthread_mutex_unlock(&c->lock);
		if (do_sweep) {
			sweep(c);
			next_sweep = mono_ms() + c->retention_interval_ms;
		}
		if (do_sign) {
			sign(c, reason);
			next_sign = mono_ms() + c->sign_interval_ms;
		}
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int compliance_start(struct compliance *c)
{
	int r = pthread_create(&c->thread, NULL, run, c);

	if (r)
		return -r;
	c->started = true;
	return 0;
}

void compliance_sign_request(struct compliance *c, const char *reason)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->sign_now = true;
	snprintf(c->sign_reason, sizeof(c->sign_reason), "%s", reason);
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

void compliance_retention_request(struct compliance *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	c->retention_now = true;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

struct compliance *compliance_free(struct compliance *c)
{
	if (!c)
		return NULL;
	if (c->started) {
		pthread_mutex_lock(&c->lock);
		c->stop = true;
		pthread_cond_signal(&c->cond);
		pthread_mutex_unlock(&c->lock);
		pthread_join(c->thread, NULL);
	}
	while (c->jobs) {
		struct job *j = c->jobs;

		c->jobs = j->next;
		j->done(j->userdata, "io.siprecd.ComplianceFailed", NULL);
		job_free(j);
	}
	if (c->db && c->key)
		sign(c, "shutdown");
	sqlite3_close(c->db);
	trail_key_free(c->key);
	free(c->base_dir);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c);
	return NULL;
}
