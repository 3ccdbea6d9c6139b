// SPDX-License-Identifier: MIT
/*
 * The upload thread (docs/STORAGE.md). It follows the compliance trail, as the webhook thread
 * does: each 'finalized' entry becomes a row of s3_objects (the outbox, in the same transaction
 * that advances its cursor), each 'deleted'/'erased'/'shredded' entry marks the recording's
 * objects for deletion. Due rows are uploaded (.siprec as is, the session's .metadata, a JSON
 * manifest), read back and compared (size, sha256) before they count as stored; failures back
 * off exponentially. The recording path never waits for any of it: nothing here runs on a
 * ring, and the only thing the daemon hands over is a wake-up.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "siprecd/compliance.h"
#include "siprecd/log.h"
#include "siprecd/macro.h"
#include "siprecd/s3.h"

#include "s3-internal.h"

#define TRAIL_BATCH 256
#define UPLOAD_BATCH 16
#define POLL_MS 1000		       /* the trail is read this often besides the kicks */
#define METADATA_MAX (16u << 20)       /* a .metadata larger than this is not sent */
#define OBJECT_MAX (UINT64_C(1) << 40) /* what a read-back accepts at most */

struct uploader {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop, kick;      /* under lock */
	atomic_bool stopping; /* read between requests, without the lock */
	struct s3_client *client;
	sqlite3 *db;
	char *bucket, *prefix, *base_dir;
	char host[256];
	uint64_t retry_min_ms, retry_max_ms, delete_local_after_ms;
};

static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;
static struct uploader *global;
/* Written by the thread, read by the metrics renderer: no lock on either side. */
static struct {
	atomic_bool running;
	_Atomic uint64_t verified, failed, pending, oldest_pending_ms, local_removed, deleted;
} stats;

int s3_upload_get_stats(struct s3_upload_stats *ret)
{
	if (!atomic_load(&stats.running))
		return -ENOENT;
	*ret = (struct s3_upload_stats){.verified = atomic_load(&stats.verified),
					.failed = atomic_load(&stats.failed),
					.pending = atomic_load(&stats.pending),
					.oldest_pending_ms = atomic_load(&stats.oldest_pending_ms),
					.local_removed = atomic_load(&stats.local_removed),
					.objects_deleted = atomic_load(&stats.deleted)};
	return 0;
}

static uint64_t now_ms(void)
{
	return compliance_now_ms();
}

uint64_t s3_backoff_ms(unsigned failures, uint64_t retry_min_ms, uint64_t retry_max_ms)
{
	uint64_t d = retry_min_ms;

	for (unsigned i = 1; i < failures && d < retry_max_ms; i++)
		d = d > UINT64_MAX / 2 ? UINT64_MAX : d * 2;
	return d < retry_max_ms ? d : retry_max_ms;
}

static int exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

static void rollback(sqlite3 *db)
{
	if (!sqlite3_get_autocommit(db))
		exec(db, "ROLLBACK");
}

static const char *col(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

static char *col_dup(sqlite3_stmt *st, int i)
{
	const char *v = col(st, i);

	return v ? strdup(v) : NULL;
}

static void full_path(const struct uploader *u, const char *path, char *out, size_t n)
{
	if (path[0] == '/')
		snprintf(out, n, "%s", path);
	else
		snprintf(out, n, "%s/%s", u->base_dir, path);
}

/* ---- following the trail ---- */

/* A 'finalized' entry: the recording's outbox row (once; a recording deleted meanwhile, or
 * one whose session is unknown, gets none). Inside the caller's transaction. */
static int queue_recording(struct uploader *u, const char *uuid, uint64_t now)
{
	char key[S3_KEY_MAX + 1], manifest[S3_KEY_MAX + 1], name[128];
	sqlite3_stmt *q = NULL, *ins = NULL;
	int r = 0;

	if (sqlite3_prepare_v2(
		    u->db,
		    "SELECT s.uuid, s.started_at FROM recordings AS r JOIN sessions AS s "
		    "ON s.id = r.session_id WHERE r.uuid = ?1 AND r.deleted_at IS NULL "
		    "AND r.state IN ('final', 'interrupted') AND r.sha256 IS NOT NULL",
		    -1, &q, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(q, 1, uuid, -1, SQLITE_STATIC);
	if (sqlite3_step(q) != SQLITE_ROW)
		goto out;
	snprintf(name, sizeof(name), "%s.siprec", uuid);
	if (s3_object_key(u->prefix, (uint64_t)sqlite3_column_int64(q, 1), col(q, 0), name, key,
			  sizeof(key)) < 0)
		goto bad;
	snprintf(name, sizeof(name), "%s.json", uuid);
	if (s3_object_key(u->prefix, (uint64_t)sqlite3_column_int64(q, 1), col(q, 0), name,
			  manifest, sizeof(manifest)) < 0)
		goto bad;
	if (sqlite3_prepare_v2(u->db,
			       "INSERT OR IGNORE INTO s3_objects (recording_uuid, session_uuid, "
			       "bucket, object_key, manifest_key, queued_at, next_attempt_at) "
			       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
			       -1, &ins, NULL) != SQLITE_OK) {
		r = -EIO;
		goto out;
	}
	sqlite3_bind_text(ins, 1, uuid, -1, SQLITE_STATIC);
	sqlite3_bind_text(ins, 2, col(q, 0), -1, SQLITE_STATIC);
	sqlite3_bind_text(ins, 3, u->bucket, -1, SQLITE_STATIC);
	sqlite3_bind_text(ins, 4, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(ins, 5, manifest, -1, SQLITE_STATIC);
	sqlite3_bind_int64(ins, 6, (int64_t)now);
	r = sqlite3_step(ins) == SQLITE_DONE ? 0 : -EIO;
	goto out;
bad:
	/* uuids are ours; a catalog edited by hand is not a reason to stop the thread */
	log_warning("s3: recording %s: no object key can be made of its session id", uuid);
out:
	sqlite3_finalize(ins);
	sqlite3_finalize(q);
	return r;
}

/* Turns trail entries since the cursor into work; 1 when a full batch was read (more may
 * follow), 0 when caught up, -errno. */
static int follow_trail(struct uploader *u)
{
	sqlite3_stmt *q = NULL, *del = NULL;
	int64_t last = -1;
	int r = 0, s, n = 0;
	uint64_t now = now_ms();
	char sql[128];

	if (sqlite3_prepare_v2(u->db,
			       "SELECT coalesce((SELECT max(seq) FROM trail), 0) > "
			       "coalesce((SELECT trail_seq FROM s3_cursor), 0)",
			       -1, &q, NULL) != SQLITE_OK)
		return -EIO;
	s = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) : 0;
	sqlite3_finalize(q);
	q = NULL;
	if (!s)
		return 0;
	if (exec(u->db, "BEGIN IMMEDIATE") < 0)
		return -EIO;
	if (exec(u->db, "INSERT OR IGNORE INTO s3_cursor (id, trail_seq) VALUES (1, 0)") < 0 ||
	    sqlite3_prepare_v2(u->db,
			       "SELECT seq, kind, object FROM trail WHERE seq > (SELECT trail_seq "
			       "FROM s3_cursor) AND kind IN ('finalized', 'deleted', 'erased', "
			       "'shredded') ORDER BY seq LIMIT 256",
			       -1, &q, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(u->db,
			       "UPDATE s3_objects SET delete_requested_at = ?2, next_attempt_at = "
			       "?2 WHERE recording_uuid = ?1 AND delete_requested_at IS NULL",
			       -1, &del, NULL) != SQLITE_OK)
		r = -EIO;
	while (r == 0 && (s = sqlite3_step(q)) == SQLITE_ROW) {
		const char *kind = col(q, 1), *object = col(q, 2);

		last = sqlite3_column_int64(q, 0);
		n++;
		if (!kind || !object || strncmp(object, "recording:", 10) != 0)
			continue;
		if (!strcmp(kind, "finalized")) {
			r = queue_recording(u, object + 10, now);
		} else {
			sqlite3_reset(del);
			sqlite3_bind_text(del, 1, object + 10, -1, SQLITE_STATIC);
			sqlite3_bind_int64(del, 2, (int64_t)now);
			r = sqlite3_step(del) == SQLITE_DONE ? 0 : -EIO;
		}
	}
	sqlite3_finalize(q);
	sqlite3_finalize(del);
	if (r == 0) {
		/* A short batch read up to the trail's end (the write lock is held). */
		if (n < TRAIL_BATCH)
			snprintf(sql, sizeof(sql),
				 "UPDATE s3_cursor SET trail_seq = (SELECT coalesce(max(seq), 0) "
				 "FROM trail)");
		else
			snprintf(sql, sizeof(sql), "UPDATE s3_cursor SET trail_seq = %" PRId64,
				 last);
		r = exec(u->db, sql);
	}
	if (r == 0 && exec(u->db, "COMMIT") == 0)
		return n == TRAIL_BATCH ? 1 : 0;
	log_error("s3: following the trail: %s", sqlite3_errmsg(u->db));
	rollback(u->db);
	return -EIO;
}

/* ---- one upload ---- */

struct job {
	int64_t id;
	unsigned attempts;
	char *uuid, *session, *key, *manifest, *path, *sha256;
	uint64_t size;
};

static void job_free(struct job *j)
{
	free(j->uuid);
	free(j->session);
	free(j->key);
	free(j->manifest);
	free(j->path);
	free(j->sha256);
}

static int sha256_hex(const void *p, size_t n, char out[S3_SHA256_HEX + 1])
{
	uint8_t h[32];
	unsigned hl = 0;

	if (EVP_Digest(p, n, h, &hl, EVP_sha256(), NULL) != 1 || hl != 32)
		return -EIO;
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
	return 0;
}

/* Reads a whole small file; -ENOENT when it is not there. */
static int read_small(const char *path, size_t max, char **ret, size_t *ret_len)
{
	struct stat sb;
	char *buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > max) {
		close(fd);
		return -EFBIG;
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)sb.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	if (r < 0) {
		free(buf);
		return r;
	}
	*ret = buf;
	*ret_len = got;
	return 0;
}

static void add_text(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

static void add_col(struct json_object *o, const char *k, sqlite3_stmt *st, int i)
{
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_INTEGER:
		json_object_object_add(o, k, json_object_new_int64(sqlite3_column_int64(st, i)));
		break;
	case SQLITE_NULL:
		json_object_object_add(o, k, NULL);
		break;
	default:
		add_text(o, k, col(st, i));
	}
}

/*
 * The manifest: what the catalog knows of the recording that someone holding only the bucket
 * needs (which session, which stream and codec, its size and sha256, its key's id). No names
 * or AoRs: personal data stays in the catalog and the sealed .metadata.
 */
static char *manifest_json(struct uploader *u, const struct job *j, const char *md_key,
			   const char *md_sha, size_t md_len)
{
	struct json_object *o = json_object_new_object(), *rec, *ses, *str, *md = NULL;
	sqlite3_stmt *q = NULL;
	char *out = NULL;

	if (!o ||
	    sqlite3_prepare_v2(
		    u->db,
		    "SELECT s.uuid, s.call_id, s.siprec_session_id, s.src_addr, s.transport, "
		    "s.started_at, s.ended_at, s.end_reason, r.uuid, r.size, r.sha256, "
		    "r.complete, r.state, r.chunks, r.frames, r.algorithm, r.key_id, "
		    "r.key_version, r.created_at, r.finalized_at, t.label, t.codec, "
		    "t.payload_type, t.clock_rate, t.packets, t.lost FROM recordings AS r "
		    "JOIN sessions AS s ON s.id = r.session_id LEFT JOIN streams AS t ON t.id "
		    "= r.stream_id WHERE r.uuid = ?1",
		    -1, &q, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(q, 1, j->uuid, -1, SQLITE_STATIC);
	if (sqlite3_step(q) != SQLITE_ROW)
		goto out;
	ses = json_object_new_object();
	rec = json_object_new_object();
	str = json_object_new_object();
	if (!ses || !rec || !str) {
		json_object_put(ses);
		json_object_put(rec);
		json_object_put(str);
		goto out;
	}
	add_text(o, "format", "siprecd-s3-manifest-1");
	add_text(o, "recorder", u->host);
	static const char *const sk[] = {"id",	     "call_id",	  "siprec_session_id",
					 "src",	     "transport", "started_at",
					 "ended_at", "end_reason"};
	for (int i = 0; i < 8; i++)
		add_col(ses, sk[i], q, i);
	static const char *const rk[] = {"id",	   "size",	  "sha256",	"complete",
					 "state",  "chunks",	  "frames",	"algorithm",
					 "key_id", "key_version", "created_at", "finalized_at"};
	for (int i = 0; i < 12; i++)
		add_col(rec, rk[i], q, 8 + i);
	json_object_object_add(rec, "complete",
			       json_object_new_boolean(sqlite3_column_int(q, 11) != 0));
	add_text(rec, "key", j->key);
	static const char *const tk[] = {"label",      "codec",	  "payload_type",
					 "clock_rate", "packets", "lost"};
	for (int i = 0; i < 6; i++)
		add_col(str, tk[i], q, 20 + i);
	if (md_key) {
		md = json_object_new_object();
		if (md) {
			add_text(md, "key", md_key);
			json_object_object_add(md, "size", json_object_new_int64((int64_t)md_len));
			add_text(md, "sha256", md_sha);
		}
	}
	json_object_object_add(o, "session", ses);
	json_object_object_add(o, "recording", rec);
	json_object_object_add(o, "stream", str);
	json_object_object_add(o, "metadata", md);
	json_object_object_add(o, "bucket", json_object_new_string(u->bucket));
	out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							       JSON_C_TO_STRING_NOSLASHESCAPE));
out:
	sqlite3_finalize(q);
	json_object_put(o);
	return out;
}

/* GETs key back and compares; -EBADMSG (with the reason) when it differs. */
static int verify(struct uploader *u, const char *key, uint64_t size, const char *sha, char *err,
		  size_t errlen)
{
	char got[S3_SHA256_HEX + 1];
	uint64_t n = 0;
	int r = s3_get(u->client, key, -1, OBJECT_MAX, &n, got, err, errlen);

	if (r < 0)
		return r;
	if (n != size || strcmp(got, sha) != 0) {
		s3_set_err(err, errlen,
			   "verify %s: the bucket holds %" PRIu64
			   " bytes, sha256 %s; expected %" PRIu64 " bytes, sha256 %s",
			   key, n, got, size, sha);
		return -EBADMSG;
	}
	return 0;
}

/* Uploads and verifies one recording; 0, or -errno with the reason in err. */
static int upload_one(struct uploader *u, const struct job *j, char *err, size_t errlen,
		      char **ret_md_key)
{
	char full[4200], md_path[4300], md_key[S3_KEY_MAX + 1], md_sha[S3_SHA256_HEX + 1];
	char *md = NULL, *manifest = NULL, *slash, name[128];
	char man_sha[S3_SHA256_HEX + 1];
	size_t md_len = 0;
	struct stat sb;
	bool have_md = false;
	int fd, r;

	full_path(u, j->path, full, sizeof(full));
	fd = open(full, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		s3_set_err(err, errlen, "%s: %s", full, strerror(errno));
		return r;
	}
	if (fstat(fd, &sb) < 0 || (uint64_t)sb.st_size != j->size) {
		s3_set_err(err, errlen, "%s: %lld bytes, the catalog says %" PRIu64, full,
			   (long long)sb.st_size, j->size);
		close(fd);
		return -EBADMSG;
	}
	r = s3_put(u->client, j->key, fd, NULL, j->size, j->sha256, NULL, err, errlen);
	close(fd);
	if (r < 0)
		return r;
	/* The session's sealed .metadata lies beside its recordings (docs/FORMAT.md). */
	snprintf(md_path, sizeof(md_path), "%s", full);
	slash = strrchr(md_path, '/');
	if (slash) {
		snprintf(slash + 1, sizeof(md_path) - (size_t)(slash + 1 - md_path), "%s.metadata",
			 j->session);
		r = read_small(md_path, METADATA_MAX, &md, &md_len);
		if (r < 0 && r != -ENOENT) {
			s3_set_err(err, errlen, "%s: %s", md_path, strerror(-r));
			return r;
		}
		have_md = r == 0;
	}
	if (have_md) {
		snprintf(name, sizeof(name), "%s.metadata", j->session);
		snprintf(md_key, sizeof(md_key), "%.*s%s", (int)(strrchr(j->key, '/') - j->key + 1),
			 j->key, name);
		r = sha256_hex(md, md_len, md_sha);
		if (r == 0)
			r = s3_put(u->client, md_key, -1, md, md_len, md_sha, "application/json",
				   err, errlen);
		if (r < 0)
			goto out;
	}
	manifest = manifest_json(u, j, have_md ? md_key : NULL, md_sha, md_len);
	if (!manifest) {
		s3_set_err(err, errlen, "manifest: %s", sqlite3_errmsg(u->db));
		r = -EIO;
		goto out;
	}
	r = sha256_hex(manifest, strlen(manifest), man_sha);
	if (r == 0)
		r = s3_put(u->client, j->manifest, -1, manifest, strlen(manifest), man_sha,
			   "application/json", err, errlen);
	/* Read back: only what the store returns counts as stored. */
	if (r == 0)
		r = verify(u, j->key, j->size, j->sha256, err, errlen);
	if (r == 0 && have_md)
		r = verify(u, md_key, md_len, md_sha, err, errlen);
	if (r == 0)
		r = verify(u, j->manifest, strlen(manifest), man_sha, err, errlen);
	if (r == 0 && have_md)
		*ret_md_key = strdup(md_key);
out:
	free(md);
	free(manifest);
	return r;
}

static void record_result(struct uploader *u, const struct job *j, int r, const char *err,
			  const char *md_key, uint64_t next_at)
{
	sqlite3_stmt *st = NULL;
	uint64_t now = now_ms();

	if (sqlite3_prepare_v2(
		    u->db,
		    "UPDATE s3_objects SET attempts = attempts + 1, last_attempt_at = "
		    "?2, last_error = ?3, next_attempt_at = ?4, uploaded_at = "
		    "coalesce(?5, uploaded_at), verified_at = ?5, size = ?6, sha256 = ?7, "
		    "metadata_key = coalesce(?8, metadata_key) WHERE id = ?1",
		    -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, j->id);
		sqlite3_bind_int64(st, 2, (int64_t)now);
		if (r < 0)
			sqlite3_bind_text(st, 3, err, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, (int64_t)next_at);
		if (r == 0) {
			sqlite3_bind_int64(st, 5, (int64_t)now);
			sqlite3_bind_int64(st, 6, (int64_t)j->size);
			sqlite3_bind_text(st, 7, j->sha256, -1, SQLITE_STATIC);
		}
		if (md_key)
			sqlite3_bind_text(st, 8, md_key, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_DONE) {
			sqlite3_finalize(st);
			return;
		}
	}
	sqlite3_finalize(st);
	log_error("s3: recording an attempt: %s", sqlite3_errmsg(u->db));
}

/* One pass over the due uploads. */
static void upload_due(struct uploader *u)
{
	struct job jobs[UPLOAD_BATCH] = {0};
	sqlite3_stmt *st = NULL;
	int n = 0;

	if (sqlite3_prepare_v2(u->db,
			       "SELECT o.id, o.attempts, o.recording_uuid, o.session_uuid, "
			       "o.object_key, o.manifest_key, r.path, r.sha256, r.size FROM "
			       "s3_objects AS o JOIN recordings AS r ON r.uuid = o.recording_uuid "
			       "WHERE o.verified_at IS NULL AND o.delete_requested_at IS NULL AND "
			       "o.next_attempt_at <= ?1 ORDER BY o.next_attempt_at, o.id LIMIT 16",
			       -1, &st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int64(st, 1, (int64_t)now_ms());
	while (n < UPLOAD_BATCH && sqlite3_step(st) == SQLITE_ROW) {
		struct job *j = &jobs[n++];

		j->id = sqlite3_column_int64(st, 0);
		j->attempts = (unsigned)sqlite3_column_int(st, 1);
		j->uuid = col_dup(st, 2);
		j->session = col_dup(st, 3);
		j->key = col_dup(st, 4);
		j->manifest = col_dup(st, 5);
		j->path = col_dup(st, 6);
		j->sha256 = col_dup(st, 7);
		j->size = (uint64_t)sqlite3_column_int64(st, 8);
	}
	sqlite3_finalize(st);
	for (int i = 0; i < n && !atomic_load(&u->stopping); i++) {
		struct job *j = &jobs[i];
		char err[1024] = "", *md_key = NULL;
		uint64_t next;
		int r;

		if (!j->uuid || !j->session || !j->key || !j->manifest || !j->path || !j->sha256)
			continue;
		r = upload_one(u, j, err, sizeof(err), &md_key);
		if (r == -ECANCELED)
			break; /* stopping: the row stays due for the next start */
		next = now_ms();
		if (r < 0)
			next += s3_backoff_ms(j->attempts + 1, u->retry_min_ms, u->retry_max_ms);
		record_result(u, j, r, err, md_key, next);
		atomic_fetch_add(r == 0 ? &stats.verified : &stats.failed, 1);
		if (r == 0) {
			log_debug("s3: recording %s stored as s3://%s/%s", j->uuid, u->bucket,
				  j->key);
		} else {
			log_warning("s3: recording %s: attempt %u failed: %s; next in %" PRIu64
				    " ms",
				    j->uuid, j->attempts + 1, err, next - now_ms());
		}
		free(md_key);
		if (r == -EIO) {
			/* The store is down or refuses everything (credentials, 5xx): the other
			 * uploads wait with this one (one request per retry, not one per pending
			 * recording). This one goes last at that time, so one object the store
			 * keeps refusing does not starve the others once it answers again. */
			sqlite3_stmt *h = NULL;

			if (sqlite3_prepare_v2(
				    u->db,
				    "UPDATE s3_objects SET next_attempt_at = CASE id WHEN ?2 "
				    "THEN ?1 + 1 ELSE ?1 END WHERE verified_at IS NULL AND "
				    "delete_requested_at IS NULL AND (next_attempt_at < ?1 OR "
				    "id = ?2)",
				    -1, &h, NULL) == SQLITE_OK) {
				sqlite3_bind_int64(h, 1, (int64_t)next);
				sqlite3_bind_int64(h, 2, j->id);
				sqlite3_step(h);
			}
			sqlite3_finalize(h);
			break;
		}
	}
	for (int i = 0; i < n; i++)
		job_free(&jobs[i]);
}

/* ---- deletions ---- */

static void delete_due(struct uploader *u)
{
	sqlite3_stmt *st = NULL, *done = NULL;
	uint64_t now = now_ms();

	if (sqlite3_prepare_v2(
		    u->db,
		    "SELECT o.id, o.attempts, o.object_key, o.manifest_key, CASE WHEN NOT EXISTS "
		    "(SELECT 1 FROM s3_objects AS p WHERE p.session_uuid = o.session_uuid AND "
		    "p.id <> o.id AND p.delete_requested_at IS NULL) THEN o.session_uuid END, "
		    "o.recording_uuid FROM s3_objects AS o WHERE o.delete_requested_at IS NOT NULL "
		    "AND o.deleted_at IS NULL AND o.next_attempt_at <= ?1 ORDER BY o.id LIMIT 16",
		    -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(u->db,
			       "UPDATE s3_objects SET attempts = attempts + 1, last_attempt_at = "
			       "?2, last_error = ?3, next_attempt_at = ?4, deleted_at = ?5 WHERE "
			       "id = ?1",
			       -1, &done, NULL) != SQLITE_OK) {
		sqlite3_finalize(st);
		return;
	}
	sqlite3_bind_int64(st, 1, (int64_t)now);
	while (!atomic_load(&u->stopping) && sqlite3_step(st) == SQLITE_ROW) {
		const char *key = col(st, 2), *manifest = col(st, 3), *session = col(st, 4);
		char err[1024] = "", md_key[S3_KEY_MAX + 1];
		unsigned attempts = (unsigned)sqlite3_column_int(st, 1);
		int r;

		if (!key || !manifest)
			continue;
		r = s3_delete(u->client, key, err, sizeof(err));
		if (r == 0)
			r = s3_delete(u->client, manifest, err, sizeof(err));
		/* The session's .metadata goes with its last recording. */
		if (r == 0 && session && strrchr(key, '/')) {
			snprintf(md_key, sizeof(md_key), "%.*s%s.metadata",
				 (int)(strrchr(key, '/') - key + 1), key, session);
			r = s3_delete(u->client, md_key, err, sizeof(err));
		}
		if (r == -ECANCELED)
			break;
		now = now_ms();
		sqlite3_reset(done);
		sqlite3_bind_int64(done, 1, sqlite3_column_int64(st, 0));
		sqlite3_bind_int64(done, 2, (int64_t)now);
		if (r < 0) {
			sqlite3_bind_text(done, 3, err, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int64(
				done, 4,
				(int64_t)(now + s3_backoff_ms(attempts + 1, u->retry_min_ms,
							      u->retry_max_ms)));
			sqlite3_bind_null(done, 5);
			atomic_fetch_add(&stats.failed, 1);
			log_warning("s3: deleting the objects of recording %s: %s",
				    col(st, 5) ? col(st, 5) : "?", err);
		} else {
			sqlite3_bind_null(done, 3);
			sqlite3_bind_int64(done, 4, (int64_t)now);
			sqlite3_bind_int64(done, 5, (int64_t)now);
			atomic_fetch_add(&stats.deleted, 1);
			log_info("s3: objects of recording %s deleted (s3://%s/%s)",
				 col(st, 5) ? col(st, 5) : "?", u->bucket, key);
		}
		sqlite3_step(done);
		if (r == -EIO)
			break; /* the store is down: the rest waits for the next pass */
	}
	sqlite3_finalize(st);
	sqlite3_finalize(done);
}

/* ---- local copies ---- */

/*
 * S3_DELETE_LOCAL_AFTER: a recording verified in the bucket that long ago loses its local
 * .siprec, unless a legal hold covers it (held_recordings, checked inside the write
 * transaction, so a hold placed meanwhile wins) or it is being deleted anyway. The trail gets
 * an 'offloaded' entry naming the object, so the verifier stops looking for the file.
 */
static void remove_local(struct uploader *u)
{
	sqlite3_stmt *st = NULL;
	struct item {
		char *uuid, *path, *key, *sha;
	} items[16] = {0};
	int n = 0;

	if (!u->delete_local_after_ms)
		return;
	if (sqlite3_prepare_v2(
		    u->db,
		    "SELECT o.recording_uuid, r.path, o.object_key, o.sha256 FROM "
		    "s3_objects AS o JOIN recordings AS r ON r.uuid = o.recording_uuid "
		    "WHERE o.verified_at IS NOT NULL AND o.verified_at <= ?1 AND "
		    "o.local_deleted_at IS NULL AND o.delete_requested_at IS NULL AND "
		    "r.deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM held_recordings "
		    "AS h WHERE h.recording_uuid = o.recording_uuid) ORDER BY o.id LIMIT "
		    "16",
		    -1, &st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_int64(st, 1, (int64_t)(now_ms() - u->delete_local_after_ms));
	while (n < 16 && sqlite3_step(st) == SQLITE_ROW) {
		items[n].uuid = col_dup(st, 0);
		items[n].path = col_dup(st, 1);
		items[n].key = col_dup(st, 2);
		items[n].sha = col_dup(st, 3);
		n++;
	}
	sqlite3_finalize(st);
	for (int i = 0; i < n && !atomic_load(&u->stopping); i++) {
		struct item *it = &items[i];
		char full[4200], object[128], where[S3_KEY_MAX + 80];
		sqlite3_stmt *q = NULL;
		int r = 0, ok = 0;

		if (!it->uuid || !it->path || !it->key)
			continue;
		if (exec(u->db, "BEGIN IMMEDIATE") < 0)
			break;
		if (sqlite3_prepare_v2(u->db,
				       "SELECT NOT EXISTS (SELECT 1 FROM held_recordings WHERE "
				       "recording_uuid = ?1) AND EXISTS (SELECT 1 FROM recordings "
				       "WHERE uuid = ?1 AND deleted_at IS NULL)",
				       -1, &q, NULL) == SQLITE_OK) {
			sqlite3_bind_text(q, 1, it->uuid, -1, SQLITE_STATIC);
			ok = sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0);
		}
		sqlite3_finalize(q);
		if (!ok) {
			rollback(u->db);
			continue;
		}
		full_path(u, it->path, full, sizeof(full));
		if (unlink(full) < 0 && errno != ENOENT)
			r = -errno;
		snprintf(object, sizeof(object), "recording:%s", it->uuid);
		snprintf(where, sizeof(where), "s3://%s/%s", u->bucket, it->key);
		if (r == 0 &&
		    sqlite3_prepare_v2(u->db,
				       "UPDATE s3_objects SET local_deleted_at = ?2 WHERE "
				       "recording_uuid = ?1",
				       -1, &q, NULL) == SQLITE_OK) {
			sqlite3_bind_text(q, 1, it->uuid, -1, SQLITE_STATIC);
			sqlite3_bind_int64(q, 2, (int64_t)now_ms());
			r = sqlite3_step(q) == SQLITE_DONE ? 0 : -EIO;
			sqlite3_finalize(q);
		}
		if (r == 0)
			r = trail_append(u->db,
					 &(struct trail_entry){.kind = "offloaded",
							       .actor = "siprecd",
							       .object = object,
							       .reason = where,
							       .sha256 = it->sha},
					 NULL);
		if (r == 0 && exec(u->db, "COMMIT") == 0) {
			atomic_fetch_add(&stats.local_removed, 1);
			log_info("s3: recording %s: local file %s removed, kept as %s", it->uuid,
				 full, where);
			continue;
		}
		log_warning("s3: recording %s: local file not removed: %s", it->uuid,
			    r < 0 && r != -EIO ? strerror(-r) : sqlite3_errmsg(u->db));
		rollback(u->db);
	}
	for (int i = 0; i < n; i++) {
		free(items[i].uuid);
		free(items[i].path);
		free(items[i].key);
		free(items[i].sha);
	}
}

/* When the next row is due (unix ms), 0 when none is pending. */
static uint64_t next_due(struct uploader *u)
{
	sqlite3_stmt *st = NULL;
	uint64_t next = 0;

	if (sqlite3_prepare_v2(u->db,
			       "SELECT min(next_attempt_at) FROM s3_objects WHERE verified_at IS "
			       "NULL OR (delete_requested_at IS NOT NULL AND deleted_at IS NULL)",
			       -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		next = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(u->db,
			       "SELECT count(*), coalesce(min(queued_at), 0) FROM s3_objects WHERE "
			       "verified_at IS NULL AND delete_requested_at IS NULL",
			       -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		atomic_store(&stats.pending, (uint64_t)sqlite3_column_int64(st, 0));
		atomic_store(&stats.oldest_pending_ms, (uint64_t)sqlite3_column_int64(st, 1));
	}
	sqlite3_finalize(st);
	return next;
}

static void *thread_main(void *arg)
{
	struct uploader *u = arg;
	uint64_t next = 0;
	bool stop = false;

	for (;;) {
		pthread_mutex_lock(&u->lock);
		while (!u->stop && !u->kick && next > now_ms()) {
			struct timespec ts = {.tv_sec = (time_t)(next / 1000),
					      .tv_nsec = (long)(next % 1000) * 1000000};

			pthread_cond_timedwait(&u->cond, &u->lock, &ts);
		}
		u->kick = false;
		stop = u->stop;
		pthread_mutex_unlock(&u->lock);
		if (stop)
			break;
		while (follow_trail(u) > 0 && !atomic_load(&u->stopping))
			;
		delete_due(u);
		upload_due(u);
		remove_local(u);
		next = next_due(u);
		/* Other processes append to the trail (siprecctl erase): look again soon. */
		if (next == 0 || next > now_ms() + POLL_MS)
			next = now_ms() + POLL_MS;
	}
	return NULL;
}

/* ---- start and stop ---- */

static void uploader_free(struct uploader *u)
{
	if (!u)
		return;
	s3_client_free(u->client);
	sqlite3_close(u->db);
	free(u->bucket);
	free(u->prefix);
	free(u->base_dir);
	pthread_cond_destroy(&u->cond);
	pthread_mutex_destroy(&u->lock);
	free(u);
}

int s3_upload_start(const struct s3_upload_config *cfg, char *err, size_t errlen)
{
	struct uploader *u;
	pthread_condattr_t ca;
	char *slash;
	int r;

	if (!cfg->target.endpoint || !*cfg->target.endpoint)
		return 0;
	if (s3_check_prefix(cfg->prefix) < 0) {
		s3_set_err(
			err, errlen,
			"S3_PREFIX: '%s' is not '/'-separated parts of A-Z a-z 0-9 . _ - (at most "
			"256 bytes, no leading or trailing '/')",
			cfg->prefix);
		return -EINVAL;
	}
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	pthread_mutex_init(&u->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_REALTIME);
	pthread_cond_init(&u->cond, &ca);
	pthread_condattr_destroy(&ca);
	u->retry_min_ms = cfg->retry_min_ms;
	u->retry_max_ms = cfg->retry_max_ms;
	u->delete_local_after_ms = cfg->delete_local_after_ms;
	u->bucket = strdup(cfg->target.bucket ? cfg->target.bucket : "");
	u->prefix = strdup(cfg->prefix ? cfg->prefix : "");
	u->base_dir = strdup(cfg->catalog_path);
	if (!u->bucket || !u->prefix || !u->base_dir) {
		r = -ENOMEM;
		goto fail;
	}
	slash = strrchr(u->base_dir, '/');
	if (slash && slash != u->base_dir)
		*slash = '\0';
	else if (!slash)
		strcpy(u->base_dir, ".");
	if (gethostname(u->host, sizeof(u->host) - 1) < 0)
		snprintf(u->host, sizeof(u->host), "unknown");
	r = s3_client_new(&cfg->target, err, errlen, &u->client);
	if (r < 0)
		goto fail;
	if (sqlite3_open_v2(cfg->catalog_path, &u->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		s3_set_err(err, errlen, "catalog %s: %s", cfg->catalog_path, sqlite3_errmsg(u->db));
		r = -EIO;
		goto fail;
	}
	sqlite3_busy_timeout(u->db, 10000);
	exec(u->db, "PRAGMA synchronous = FULL");
	r = -pthread_create(&u->thread, NULL, thread_main, u);
	if (r < 0) {
		s3_set_err(err, errlen, "s3 upload thread: %s", strerror(-r));
		goto fail;
	}
	pthread_mutex_lock(&global_lock);
	global = u;
	pthread_mutex_unlock(&global_lock);
	atomic_store(&stats.running, true);
	log_info("s3: recordings go to s3://%s/%s%s (%s)", u->bucket, u->prefix,
		 *u->prefix ? "/" : "", cfg->target.endpoint);
	return 0;
fail:
	uploader_free(u);
	return r;
}

void s3_upload_stop(void)
{
	struct uploader *u;

	pthread_mutex_lock(&global_lock);
	u = global;
	global = NULL;
	pthread_mutex_unlock(&global_lock);
	if (!u)
		return;
	atomic_store(&stats.running, false);
	pthread_mutex_lock(&u->lock);
	u->stop = true;
	atomic_store(&u->stopping, true);
	pthread_cond_signal(&u->cond);
	pthread_mutex_unlock(&u->lock);
	s3_client_abort(u->client);
	pthread_join(u->thread, NULL);
	uploader_free(u);
}
