// SPDX-License-Identifier: MIT
/*
 * Webhook delivery (docs/WEBHOOKS.md). Producers (the SIP thread, the compliance code) only
 * append to an in-memory queue; the webhook thread moves the queue into the catalog's outbox
 * table (one row per event and URL) and POSTs due rows with libcurl, so neither sqlite nor HTTP
 * ever runs on a ring. A row stays pending until a 2xx answer: a receiver that is down or
 * answers 500 gets the same body and event id again after an exponential backoff, also after a
 * restart of the daemon (at least once; the event id is the idempotency key).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <sqlite3.h>

#include "siprecd/compliance.h"
#include "siprecd/log.h"
#include "siprecd/macro.h"
#include "siprecd/webhook.h"

#define DUE_BATCH 64				/* rows tried per pass */
#define RESPONSE_MAX 65536			/* answer bytes read (and dropped) at most */
#define KEEP_DELIVERED_MS (7ULL * 86400 * 1000) /* delivered rows are pruned after this */
#define CREDENTIAL_NAME "webhook-secret"
#define TRAIL_BATCH 256	   /* the LIMIT of follow_trail's query */
#define TRAIL_POLL_MS 1000 /* the trail is read this often besides when this process writes it */
#define UUID_LEN 36

struct event {
	struct event *next;
	char id[UUID_LEN + 1];
	uint64_t created_at;
	char *type, *data;
};

struct webhook {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct event *head, **tail; /* under lock */
	unsigned queued;	    /* under lock */
	bool stop;		    /* under lock */
	bool kick;		    /* under lock: the trail moved */
	atomic_bool aborting;	    /* read by curl's progress callback */
	char *urls[WEBHOOK_URLS_MAX];
	int n_urls;
	uint8_t secret[WEBHOOK_SECRET_MAX];
	size_t secret_len;
	uint64_t timeout_ms, retry_min_ms, retry_max_ms;
	sqlite3 *db;
	CURL *curl;
	size_t response_len;
	bool body_started; /* the answer's head is whole: its body began */
	bool response_cut; /* more than RESPONSE_MAX of body: not read, the connection closed */
};

static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;
static struct webhook *global; /* set by webhook_start, cleared by webhook_stop */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void uuid4(char out[UUID_LEN + 1])
{
	uint8_t b[16] = {0};

	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		abort(); /* getrandom cannot fail for 16 bytes once the pool is ready */
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, UUID_LEN + 1,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
		 b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
		 b[15]);
}

/* ---- pure pieces ---- */

int webhook_sign(const uint8_t *secret, size_t secret_len, uint64_t timestamp, const char *body,
		 size_t body_len, char out[WEBHOOK_SIG_HEX + 1])
{
	OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
			       OSSL_PARAM_construct_end()};
	EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *c = m ? EVP_MAC_CTX_new(m) : NULL;
	uint8_t mac[EVP_MAX_MD_SIZE];
	size_t len = 0;
	char ts[24];
	bool ok;

	/* The signed message is "<timestamp>.<body>": a receiver that checks the timestamp's age
	 * refuses a captured request replayed later. */
	snprintf(ts, sizeof(ts), "%llu.", (unsigned long long)timestamp);
	ok = c && EVP_MAC_init(c, secret, secret_len, params) == 1 &&
	     EVP_MAC_update(c, (const uint8_t *)ts, strlen(ts)) == 1 &&
	     EVP_MAC_update(c, (const uint8_t *)body, body_len) == 1 &&
	     EVP_MAC_final(c, mac, &len, sizeof(mac)) == 1 && len == 32;
	EVP_MAC_CTX_free(c);
	EVP_MAC_free(m);
	if (!ok)
		return -EIO;
	for (size_t i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
	OPENSSL_cleanse(mac, sizeof(mac));
	return 0;
}

uint64_t webhook_backoff_ms(unsigned failures, uint64_t retry_min_ms, uint64_t retry_max_ms)
{
	uint64_t d = retry_min_ms;

	for (unsigned i = 1; i < failures && d < retry_max_ms; i++)
		d = d > UINT64_MAX / 2 ? UINT64_MAX : d * 2;
	return d < retry_max_ms ? d : retry_max_ms;
}

static void _printf_(3, 4) set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int webhook_parse_urls(const char *list, char *urls[WEBHOOK_URLS_MAX], char *err, size_t errlen)
{
	const char *p = list ? list : "";
	int n = 0;

	while (*p) {
		const char *end = strchr(p, ','), *s = p, *e;
		char *u;

		if (!end)
			end = p + strlen(p);
		e = end;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		p = *end ? end + 1 : end;
		if (s == e)
			continue;
		if (n == WEBHOOK_URLS_MAX || (size_t)(e - s) > WEBHOOK_URL_MAX) {
			set_err(err, errlen, "WEBHOOK_URLS: %s",
				n == WEBHOOK_URLS_MAX ? "more than 8 URLs"
						      : "a URL longer than 2048 bytes");
			goto fail;
		}
		u = strndup(s, (size_t)(e - s));
		if (!u) {
			set_err(err, errlen, "out of memory");
			goto fail;
		}
		urls[n++] = u;
		if ((strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) ||
		    strchr(u, ' ') || u[strcspn(u, ":") + 3] == '\0' ||
		    u[strcspn(u, ":") + 3] == '/') {
			set_err(err, errlen,
				"WEBHOOK_URLS: '%s' is not an http:// or https:// URL with a host",
				u);
			goto fail;
		}
	}
	return n;
fail:
	while (n > 0)
		free(urls[--n]);
	return -EINVAL;
}

/* ---- producers ---- */

int webhook_event(const char *type, const char *data)
{
	struct json_object *o = NULL;
	struct event *ev;
	int r = 0;

	if (!type || !*type)
		return -EINVAL;
	if (!data)
		data = "{}";
	if (strlen(data) > WEBHOOK_DATA_MAX)
		return -E2BIG;
	if (!__atomic_load_n(&global, __ATOMIC_ACQUIRE))
		return 0;
	/* Checked here, so the body the thread writes is always one JSON document. */
	o = json_tokener_parse(data);
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return -EINVAL;
	}
	pthread_mutex_lock(&global_lock);
	if (!global)
		goto out;
	if (global->queued >= WEBHOOK_QUEUE_MAX) {
		r = -ENOBUFS;
		goto out;
	}
	ev = calloc(1, sizeof(*ev));
	if (!ev || !(ev->type = strdup(type)) || !(ev->data = strdup(data))) {
		if (ev) {
			free(ev->type);
			free(ev);
		}
		r = -ENOMEM;
		goto out;
	}
	uuid4(ev->id);
	ev->created_at = now_ms();
	pthread_mutex_lock(&global->lock);
	*global->tail = ev;
	global->tail = &ev->next;
	global->queued++;
	pthread_cond_signal(&global->cond);
	pthread_mutex_unlock(&global->lock);
out:
	pthread_mutex_unlock(&global_lock);
	json_object_put(o);
	if (r < 0)
		log_warning("webhook event %s dropped: %s", type, strerror(-r));
	return r;
}

static void add_str(struct json_object *o, const char *k, const char *v)
{
	if (v)
		json_object_object_add(o, k, json_object_new_string(v));
}

static void emit(const char *type, struct json_object *o)
{
	if (o)
		webhook_event(type, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

void webhook_session_event(const char *type, const char *session_uuid, const char *call_id,
			   const char *src, const char *reason)
{
	struct json_object *o;

	if (!__atomic_load_n(&global, __ATOMIC_ACQUIRE))
		return;
	o = json_object_new_object();
	if (!o)
		return;
	add_str(o, "session_id", session_uuid);
	add_str(o, "call_id", call_id);
	add_str(o, "src", src);
	add_str(o, "reason", reason);
	emit(type, o);
}

void webhook_recording_finalized(const char *session_uuid, const char *recording_uuid,
				 const char *path, uint64_t size, const char *sha256, bool complete)
{
	struct json_object *o;

	if (!__atomic_load_n(&global, __ATOMIC_ACQUIRE))
		return;
	o = json_object_new_object();
	if (!o)
		return;
	add_str(o, "session_id", session_uuid);
	add_str(o, "recording_id", recording_uuid);
	add_str(o, "path", path);
	json_object_object_add(o, "size", json_object_new_uint64(size));
	add_str(o, "sha256", sha256);
	json_object_object_add(o, "complete", json_object_new_boolean(complete));
	emit(WEBHOOK_RECORDING_FINALIZED, o);
}

/* ---- the outbox ---- */

static int exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

/* Inserts the rows of one event (one per URL); inside a transaction. */
static int insert_event(struct webhook *w, sqlite3_stmt *st, const char *id, const char *type,
			uint64_t created_at, const char *data)
{
	char *body = NULL;
	int r = 0;

	/* data is one JSON object (checked when it was enqueued, or built by json-c). */
	if (asprintf(&body, "{\"id\":\"%s\",\"type\":\"%s\",\"created_at\":%llu,\"data\":%s}", id,
		     type, (unsigned long long)created_at, data) < 0)
		return -ENOMEM;
	for (int i = 0; i < w->n_urls && r == 0; i++) {
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, w->urls[i], -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, body, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, (int64_t)created_at);
		sqlite3_bind_int64(st, 6, (int64_t)created_at);
		if (sqlite3_step(st) != SQLITE_DONE)
			r = -EIO;
	}
	free(body);
	return r;
}

static int begin_insert(struct webhook *w, sqlite3_stmt **ret)
{
	if (exec(w->db, "BEGIN IMMEDIATE") < 0)
		return -EIO;
	if (sqlite3_prepare_v2(w->db,
			       "INSERT OR IGNORE INTO webhook_outbox (event_id, event_type, url, "
			       "body, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?)",
			       -1, ret, NULL) != SQLITE_OK)
		return -EIO;
	return 0;
}

static int end_insert(struct webhook *w, sqlite3_stmt *st, int r, const char *what)
{
	sqlite3_finalize(st);
	if (r == 0 && exec(w->db, "COMMIT") == 0)
		return 0;
	log_error("webhook outbox: %s: %s", what, sqlite3_errmsg(w->db));
	exec(w->db, "ROLLBACK");
	return r < 0 ? r : -EIO;
}

/* Writes the events of list to the outbox, one row per URL, in one transaction. */
static int outbox_insert(struct webhook *w, struct event *list)
{
	sqlite3_stmt *st = NULL;
	int r;

	if (!list)
		return 0;
	r = begin_insert(w, &st);
	for (struct event *e = list; e && r == 0; e = e->next)
		r = insert_event(w, st, e->id, e->type, e->created_at, e->data);
	return end_insert(w, st, r, "writing events");
}

/* The event type of a trail kind, NULL for kinds that are not sent. */
static const char *trail_type(const char *kind)
{
	if (!strcmp(kind, "deleted") || !strcmp(kind, "erased") || !strcmp(kind, "shredded"))
		return WEBHOOK_RECORDING_DELETED;
	if (!strcmp(kind, "held"))
		return WEBHOOK_HOLD_PLACED;
	if (!strcmp(kind, "released"))
		return WEBHOOK_HOLD_RELEASED;
	return NULL;
}

/*
 * Turns the trail entries appended since the cursor (by this daemon or by siprecctl) into
 * outbox rows, and advances the cursor, in one transaction: each entry becomes events exactly
 * once. The event id is derived from the entry's hash, so it is stable as well.
 */
static int follow_trail(struct webhook *w)
{
	sqlite3_stmt *st = NULL, *q = NULL;
	int64_t last = -1;
	int r, s, n = 0;

	/* A read first: the write lock is taken only when there is something to do. */
	if (sqlite3_prepare_v2(w->db,
			       "SELECT coalesce((SELECT max(seq) FROM trail), 0) > "
			       "coalesce((SELECT trail_seq FROM webhook_cursor), -1)",
			       -1, &q, NULL) != SQLITE_OK)
		return -EIO;
	s = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) : 0;
	sqlite3_finalize(q);
	q = NULL;
	if (!s)
		return 0;
	r = begin_insert(w, &st);
	if (r == 0 &&
	    (exec(w->db, "INSERT OR IGNORE INTO webhook_cursor (id, trail_seq) "
			 "SELECT 1, coalesce(max(seq), 0) FROM trail") < 0 ||
	     sqlite3_prepare_v2(
		     w->db,
		     "SELECT seq, at, kind, actor, object, reason, sha256, hash FROM trail "
		     "WHERE seq > (SELECT trail_seq FROM webhook_cursor) AND kind IN "
		     "('deleted', 'erased', 'shredded', 'held', 'released') ORDER BY seq "
		     "LIMIT 256",
		     -1, &q, NULL) != SQLITE_OK))
		r = -EIO;
	while (r == 0 && (s = sqlite3_step(q)) == SQLITE_ROW) {
		const char *kind = (const char *)sqlite3_column_text(q, 2);
		const char *object = (const char *)sqlite3_column_text(q, 4);
		const char *hash = (const char *)sqlite3_column_text(q, 7);
		const char *type = kind ? trail_type(kind) : NULL;
		struct json_object *o;
		char id[UUID_LEN + 1];

		last = sqlite3_column_int64(q, 0);
		n++;
		if (!type || !object || !hash || strlen(hash) < 32)
			continue;
		snprintf(id, sizeof(id), "%.8s-%.4s-%.4s-%.4s-%.12s", hash, hash + 8, hash + 12,
			 hash + 16, hash + 20);
		o = json_object_new_object();
		if (!o) {
			r = -ENOMEM;
			break;
		}
		if (!strncmp(object, "recording:", 10))
			add_str(o, "recording_id", object + 10);
		else if (!strncmp(object, "hold:", 5))
			json_object_object_add(
				o, "hold_id", json_object_new_int64(strtoll(object + 5, NULL, 10)));
		add_str(o, "action", kind);
		add_str(o, "actor", (const char *)sqlite3_column_text(q, 3));
		add_str(o, "reason", (const char *)sqlite3_column_text(q, 5));
		add_str(o, "sha256", (const char *)sqlite3_column_text(q, 6));
		json_object_object_add(o, "trail_seq", json_object_new_int64(last));
		r = insert_event(w, st, id, type, (uint64_t)sqlite3_column_int64(q, 1),
				 json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	}
	sqlite3_finalize(q);
	if (r == 0) {
		char sql[160];

		/* A short batch read up to the trail's end (the write lock is held: nothing was
		 * appended since); a full one up to its last entry. */
		if (n < TRAIL_BATCH)
			snprintf(sql, sizeof(sql),
				 "UPDATE webhook_cursor SET trail_seq = (SELECT coalesce(max(seq), "
				 "0) FROM trail)");
		else
			snprintf(sql, sizeof(sql), "UPDATE webhook_cursor SET trail_seq = %lld",
				 (long long)last);
		r = exec(w->db, sql);
	}
	if (r == 0 && n == TRAIL_BATCH)
		r = 1; /* more to read */
	s = end_insert(w, st, r < 0 ? r : 0, "following the trail");
	return s < 0 ? s : r;
}

/* The compliance hook: a trail entry was appended in this process (inside the writer's
 * transaction): only wake the thread, which reads it after the commit. */
static void trail_appended(void *userdata, const char *kind, const char *json)
{
	struct webhook *w = userdata;

	if (!trail_type(kind))
		return;
	pthread_mutex_lock(&w->lock);
	w->kick = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static void events_free(struct event *e)
{
	while (e) {
		struct event *next = e->next;

		free(e->type);
		free(e->data);
		free(e);
		e = next;
	}
}

/* ---- delivery ---- */

/* The answer's body is read up to RESPONSE_MAX and dropped; beyond it the transfer stops
 * (curl then closes the connection): a receiver answering 2xx with a huge or endless body has
 * still answered 2xx (see post). */
static size_t discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct webhook *w = userdata;

	(void)ptr;
	w->body_started = true;
	w->response_len += size * nmemb;
	if (w->response_len <= RESPONSE_MAX)
		return size * nmemb;
	w->response_cut = true;
	return 0;
}

/* Why an attempt got no answer, for the log and the outbox's last_error. */
static void describe_failure(struct webhook *w, CURLcode rc, const char *cerr, char *err,
			     size_t errlen)
{
	const char *why = *cerr ? cerr : curl_easy_strerror(rc);

	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(err, errlen, "no whole answer within %llu ms (WEBHOOK_TIMEOUT): %s",
			 (unsigned long long)w->timeout_ms, why);
		break;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_UNSUPPORTED_PROTOCOL: /* "Received HTTP/0.9 when not allowed" */
		snprintf(err, errlen, "the answer is not HTTP: %s", why);
		break;
	case CURLE_GOT_NOTHING:
		snprintf(err, errlen, "the connection was closed without an answer: %s", why);
		break;
	default:
		snprintf(err, errlen, "%s", why);
		break;
	}
}

static int progress(void *userdata, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct webhook *w = userdata;

	return atomic_load(&w->aborting) ? 1 : 0;
}

/* One POST. Returns the HTTP status (> 0), or -errno with curl's reason in err. */
static long post(struct webhook *w, const char *url, const char *event_id, const char *type,
		 const char *body, char *err, size_t errlen)
{
	char sig[WEBHOOK_SIG_HEX + 1], h_ts[64], h_sig[96], h_id[80], h_type[96];
	char cerr[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL, *t;
	uint64_t ts = now_ms() / 1000;
	long status = 0;
	CURLcode rc;

	if (webhook_sign(w->secret, w->secret_len, ts, body, strlen(body), sig) < 0) {
		snprintf(err, errlen, "HMAC failed");
		return -EIO;
	}
	snprintf(h_ts, sizeof(h_ts), "X-Siprecd-Timestamp: %llu", (unsigned long long)ts);
	snprintf(h_sig, sizeof(h_sig), "X-Siprecd-Signature: v1=%s", sig);
	snprintf(h_id, sizeof(h_id), "X-Siprecd-Event-Id: %s", event_id);
	snprintf(h_type, sizeof(h_type), "X-Siprecd-Event: %.60s", type);
	const char *lines[] = {
		"Content-Type: application/json", "Expect:", h_ts, h_sig, h_id, h_type};
	for (size_t i = 0; i < ARRAY_SIZE(lines); i++) {
		t = curl_slist_append(hdrs, lines[i]);
		if (!t) {
			curl_slist_free_all(hdrs);
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		hdrs = t;
	}
	w->response_len = 0;
	w->body_started = w->response_cut = false;
	curl_easy_setopt(w->curl, CURLOPT_URL, url);
	curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(w->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl_easy_setopt(w->curl, CURLOPT_ERRORBUFFER, cerr);
	rc = curl_easy_perform(w->curl);
	curl_easy_setopt(w->curl, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &status);
	/* The status line and the head were whole (the body began): that status is the answer,
	 * whether the body went past RESPONSE_MAX (not read) or did not end in time. */
	if ((rc == CURLE_WRITE_ERROR && w->response_cut) ||
	    (rc == CURLE_OPERATION_TIMEDOUT && w->body_started)) {
		if (status > 0) {
			log_debug("webhook: %s answered %ld with a body %s %d bytes: not read "
				  "further",
				  url, status,
				  w->response_cut ? "over"
						  : "not ended within WEBHOOK_TIMEOUT, after",
				  w->response_cut ? RESPONSE_MAX : (int)w->response_len);
			return status;
		}
	}
	if (rc != CURLE_OK) {
		describe_failure(w, rc, cerr, err, errlen);
		return rc == CURLE_ABORTED_BY_CALLBACK ? -ECANCELED : -EIO;
	}
	return status;
}

static int curl_setup(struct webhook *w)
{
	CURL *c = curl_easy_init();

	if (!c)
		return -ENOMEM;
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)w->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)w->timeout_ms);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L); /* a redirect is an answer, not 2xx */
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_USERAGENT, "siprecd-webhook");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, w);
	w->curl = c;
	return 0;
}

static void record_attempt(struct webhook *w, int64_t id, long status, const char *error,
			   bool delivered, int64_t next_at, uint64_t now)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(w->db,
			       "UPDATE webhook_outbox SET attempts = attempts + 1, "
			       "last_attempt_at = ?1, last_status = ?2, last_error = ?3, "
			       "delivered_at = ?4, next_attempt_at = ?5 WHERE id = ?6",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, (int64_t)now);
		if (status > 0)
			sqlite3_bind_int64(st, 2, status);
		if (error)
			sqlite3_bind_text(st, 3, error, -1, SQLITE_STATIC);
		if (delivered)
			sqlite3_bind_int64(st, 4, (int64_t)now);
		sqlite3_bind_int64(st, 5, next_at);
		sqlite3_bind_int64(st, 6, id);
		if (sqlite3_step(st) == SQLITE_DONE) {
			sqlite3_finalize(st);
			return;
		}
	}
	sqlite3_finalize(st);
	log_error("webhook outbox: recording an attempt: %s", sqlite3_errmsg(w->db));
}

/* After a failure, the other pending rows of that URL wait as long as the failed one: a
 * receiver that is down is not hammered once per pending event. */
static void hold_back_url(struct webhook *w, const char *url, int64_t next_at)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(w->db,
			       "UPDATE webhook_outbox SET next_attempt_at = ?1 WHERE url = ?2 "
			       "AND delivered_at IS NULL AND next_attempt_at < ?1",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, next_at);
		sqlite3_bind_text(st, 2, url, -1, SQLITE_STATIC);
		sqlite3_step(st);
	}
	sqlite3_finalize(st);
}

static char *column_dup(sqlite3_stmt *st, int i)
{
	const char *v = (const char *)sqlite3_column_text(st, i);

	return v ? strdup(v) : NULL;
}

/* One pass over the due rows (oldest first). Returns when the next row is due (unix ms; 0 =
 * none pending). */
static uint64_t deliver_due(struct webhook *w)
{
	sqlite3_stmt *st = NULL;
	uint64_t next = 0, now = now_ms();
	struct row {
		int64_t id;
		unsigned attempts;
		char *event_id, *type, *url, *body;
	} rows[DUE_BATCH];
	int n = 0;

	if (sqlite3_prepare_v2(w->db,
			       "SELECT id, attempts, event_id, event_type, url, body FROM "
			       "webhook_outbox WHERE delivered_at IS NULL AND next_attempt_at <= ? "
			       "ORDER BY id LIMIT ?",
			       -1, &st, NULL) != SQLITE_OK)
		goto pending;
	sqlite3_bind_int64(st, 1, (int64_t)now);
	sqlite3_bind_int(st, 2, DUE_BATCH);
	while (n < DUE_BATCH && sqlite3_step(st) == SQLITE_ROW) {
		struct row *r = &rows[n];

		r->id = sqlite3_column_int64(st, 0);
		r->attempts = (unsigned)sqlite3_column_int(st, 1);
		r->event_id = column_dup(st, 2);
		r->type = column_dup(st, 3);
		r->url = column_dup(st, 4);
		r->body = column_dup(st, 5);
		n++;
	}
	sqlite3_finalize(st);
	st = NULL;
	for (int i = 0; i < n; i++) {
		struct row *r = &rows[i];
		char err[CURL_ERROR_SIZE + 32] = "";
		bool skip = false;
		long status;

		if (!r->event_id || !r->type || !r->url || !r->body)
			continue;
		for (int j = 0; j < i && !skip; j++)
			skip = rows[j].url && rows[j].id < 0 && strcmp(rows[j].url, r->url) == 0;
		if (skip || atomic_load(&w->aborting))
			continue;
		status = post(w, r->url, r->event_id, r->type, r->body, err, sizeof(err));
		if (status == -ECANCELED)
			break;
		now = now_ms();
		if (status >= 200 && status < 300) {
			record_attempt(w, r->id, status, NULL, true, (int64_t)now, now);
			log_debug("webhook %s %s delivered to %s (%ld)", r->type, r->event_id,
				  r->url, status);
			continue;
		}
		if (status > 0)
			snprintf(err, sizeof(err), "HTTP status %ld", status);
		int64_t at = (int64_t)(now + webhook_backoff_ms(r->attempts + 1, w->retry_min_ms,
								w->retry_max_ms));
		record_attempt(w, r->id, status, err, false, at, now);
		hold_back_url(w, r->url, at);
		log_warning("webhook %s %s to %s failed (attempt %u): %s; next in %llu ms", r->type,
			    r->event_id, r->url, r->attempts + 1, err,
			    (unsigned long long)(at - (int64_t)now));
		r->id = -1; /* marks the URL failed for the rest of this pass */
	}
	for (int i = 0; i < n; i++) {
		free(rows[i].event_id);
		free(rows[i].type);
		free(rows[i].url);
		free(rows[i].body);
	}
pending:
	if (sqlite3_prepare_v2(w->db,
			       "SELECT MIN(next_attempt_at) FROM webhook_outbox WHERE delivered_at "
			       "IS NULL",
			       -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		next = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return next;
}

static void prune(struct webhook *w)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(w->db, "DELETE FROM webhook_outbox WHERE delivered_at < ?", -1, &st,
			       NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, (int64_t)(now_ms() - KEEP_DELIVERED_MS));
		sqlite3_step(st);
	}
	sqlite3_finalize(st);
}

static void *thread_main(void *arg)
{
	struct webhook *w = arg;
	uint64_t next = 1; /* deliver what an earlier run left at once */

	prune(w);
	for (;;) {
		struct event *list;
		bool stop;

		pthread_mutex_lock(&w->lock);
		while (!w->head && !w->stop && !w->kick && (next == 0 || next > now_ms())) {
			if (next == 0) {
				pthread_cond_wait(&w->cond, &w->lock);
			} else {
				struct timespec ts = {.tv_sec = (time_t)(next / 1000),
						      .tv_nsec = (long)(next % 1000) * 1000000};

				pthread_cond_timedwait(&w->cond, &w->lock, &ts);
			}
		}
		w->kick = false;
		list = w->head;
		w->head = NULL;
		w->tail = &w->head;
		w->queued = 0;
		stop = w->stop;
		pthread_mutex_unlock(&w->lock);
		/* On failure the events stay in memory and are tried again next round. */
		if (outbox_insert(w, list) < 0 && !stop) {
			pthread_mutex_lock(&w->lock);
			struct event *last = list;

			while (last && last->next)
				last = last->next;
			if (last) {
				last->next = w->head;
				if (!w->head)
					w->tail = &last->next;
				w->head = list;
			}
			/* The catalog is locked or failing: wait before trying again. */
			next = now_ms() + w->retry_min_ms;
			struct timespec ts = {.tv_sec = (time_t)(next / 1000),
					      .tv_nsec = (long)(next % 1000) * 1000000};
			if (!w->stop)
				pthread_cond_timedwait(&w->cond, &w->lock, &ts);
			pthread_mutex_unlock(&w->lock);
			continue;
		}
		events_free(list);
		if (stop)
			break;
		while (follow_trail(w) > 0 && !atomic_load(&w->aborting))
			;
		next = deliver_due(w);
		/* siprecctl appends to the trail from another process: look again soon. */
		if (next == 0 || next > now_ms() + TRAIL_POLL_MS)
			next = now_ms() + TRAIL_POLL_MS;
	}
	return NULL;
}

/* ---- start and stop ---- */

static int read_secret(struct webhook *w, const char *path, char *err, size_t errlen)
{
	char cred[4096];
	struct stat sb;
	ssize_t n;
	int fd;

	if (!path || !*path) {
		const char *dir = getenv("CREDENTIALS_DIRECTORY");

		if (!dir) {
			set_err(err, errlen,
				"WEBHOOK_URLS is set but there is no secret: set "
				"WEBHOOK_SECRET_FILE or pass the %s credential",
				CREDENTIAL_NAME);
			return -ENOENT;
		}
		snprintf(cred, sizeof(cred), "%s/%s", dir, CREDENTIAL_NAME);
		path = cred;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int e = errno;

		set_err(err, errlen, "webhook secret %s: %s", path, strerror(e));
		return -e;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || (sb.st_mode & (S_IROTH | S_IWOTH))) {
		close(fd);
		set_err(err, errlen, "webhook secret %s: %s", path,
			"not a regular file, or readable or writable by others (chmod 0600 it)");
		return -EPERM;
	}
	n = read(fd, w->secret, sizeof(w->secret));
	close(fd);
	if (n < 0 || (size_t)n == sizeof(w->secret)) {
		set_err(err, errlen, "webhook secret %s: %s", path,
			n < 0 ? strerror(errno) : "longer than 1023 bytes");
		return -EINVAL;
	}
	while (n > 0 && (w->secret[n - 1] == '\n' || w->secret[n - 1] == '\r'))
		n--;
	if (n < 16) {
		set_err(err, errlen, "webhook secret %s: %s", path,
			"shorter than 16 bytes (use e.g. openssl rand -hex 32)");
		return -EINVAL;
	}
	w->secret_len = (size_t)n;
	return 0;
}

static void webhook_free(struct webhook *w)
{
	if (!w)
		return;
	events_free(w->head);
	for (int i = 0; i < w->n_urls; i++)
		free(w->urls[i]);
	if (w->curl)
		curl_easy_cleanup(w->curl);
	sqlite3_close(w->db);
	OPENSSL_cleanse(w->secret, sizeof(w->secret));
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

int webhook_start(const struct webhook_config *cfg, char *err, size_t errlen)
{
	struct webhook *w;
	pthread_condattr_t ca;
	int r;

	if (!cfg->urls || !*cfg->urls)
		return 0;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_REALTIME);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	w->tail = &w->head;
	w->timeout_ms = cfg->timeout_ms;
	w->retry_min_ms = cfg->retry_min_ms;
	w->retry_max_ms = cfg->retry_max_ms;
	r = webhook_parse_urls(cfg->urls, w->urls, err, errlen);
	if (r < 0)
		goto fail;
	w->n_urls = r;
	if (r == 0) {
		webhook_free(w);
		return 0;
	}
	r = read_secret(w, cfg->secret_file, err, errlen);
	if (r < 0)
		goto fail;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || curl_setup(w) < 0) {
		set_err(err, errlen, "libcurl initialisation failed");
		r = -ENOMEM;
		goto fail;
	}
	if (sqlite3_open_v2(cfg->catalog_path, &w->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		set_err(err, errlen, "catalog %s: %s", cfg->catalog_path, sqlite3_errmsg(w->db));
		r = -EIO;
		goto fail;
	}
	sqlite3_busy_timeout(w->db, 10000);
	/* An event is acknowledged to nobody, but it must survive a power cut once written. */
	exec(w->db, "PRAGMA synchronous = FULL");
	r = -pthread_create(&w->thread, NULL, thread_main, w);
	if (r < 0) {
		set_err(err, errlen, "webhook thread: %s", strerror(-r));
		goto fail;
	}
	pthread_mutex_lock(&global_lock);
	__atomic_store_n(&global, w, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&global_lock);
	compliance_set_event_hook(trail_appended, w);
	log_info("webhooks: %d URL%s, outbox in %s", w->n_urls, w->n_urls == 1 ? "" : "s",
		 cfg->catalog_path);
	return 0;
fail:
	webhook_free(w);
	return r;
}

void webhook_stop(void)
{
	struct webhook *w;

	pthread_mutex_lock(&global_lock);
	w = global;
	__atomic_store_n(&global, NULL, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&global_lock);
	if (!w)
		return;
	compliance_set_event_hook(NULL, NULL); /* returns after a hook call in progress */
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	atomic_store(&w->aborting, true);
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	webhook_free(w);
}
