// SPDX-License-Identifier: MIT
/*
 * The compliance trail: an append-only, hash-chained log in the catalog (table trail), whose
 * head is signed now and then with the recorder's Ed25519 key (table trail_heads), and the
 * verifier that finds edited or removed entries, removed catalog rows and removed or altered
 * files. Triggers refuse UPDATE and DELETE on the trail, but whoever owns the database file can
 * drop them: the chain and the signatures are what make such an edit visible.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "siprecd/audit.h"
#include "siprecd/b64.h"
#include "siprecd/compliance.h"
#include "siprecd/str.h"

static const char zero_hash[TRAIL_HASH_HEX + 1] =
	"0000000000000000000000000000000000000000000000000000000000000000";

/* ---- the event hook ---- */

static pthread_mutex_t hook_lock = PTHREAD_MUTEX_INITIALIZER;
static compliance_event_fn hook_fn;
static void *hook_userdata;

void compliance_set_event_hook(compliance_event_fn fn, void *userdata)
{
	pthread_mutex_lock(&hook_lock);
	__atomic_store_n(&hook_fn, fn, __ATOMIC_RELEASE);
	hook_userdata = userdata;
	pthread_mutex_unlock(&hook_lock);
}

/* Whether anyone observes the trail (webhooks are configured): its JSON is made only then. */
static bool event_hooked(void)
{
	return __atomic_load_n(&hook_fn, __ATOMIC_ACQUIRE) != NULL;
}

void compliance_event(const char *kind, const char *json)
{
	pthread_mutex_lock(&hook_lock);
	if (hook_fn)
		hook_fn(hook_userdata, kind, json);
	pthread_mutex_unlock(&hook_lock);
}

uint64_t compliance_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int compliance_file_sha256(const char *path, char out[TRAIL_HASH_HEX + 1])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t buf[65536], d[32];
	unsigned dl = 0;
	int fd, r = 0;
	ssize_t n;

	if (!md)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		r = -errno;
		EVP_MD_CTX_free(md);
		return r;
	}
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		r = -EIO;
	while (r == 0 && (n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (EVP_DigestUpdate(md, buf, (size_t)n) != 1)
			r = -EIO;
	}
	if (r == 0 && (EVP_DigestFinal_ex(md, d, &dl) != 1 || dl != 32))
		r = -EIO;
	if (r == 0)
		hex_encode(d, 32, out);
	close(fd);
	EVP_MD_CTX_free(md);
	return r;
}

/* ---- hashing ---- */

/*
 * The hash's input is gathered in a buffer and handed to SHA-256 in few pieces: one
 * EVP_DigestUpdate per piece (four per field) and an snprintf per length were three quarters of
 * an entry's hash. A field longer than the buffer goes to SHA-256 directly; the digest is the
 * same either way.
 */
struct hash_buf {
	EVP_MD_CTX *md;
	size_t n;
	char b[1024];
};

static void hb_flush(struct hash_buf *h)
{
	if (h->n)
		EVP_DigestUpdate(h->md, h->b, h->n);
	h->n = 0;
}

static void hb_add(struct hash_buf *h, const void *p, size_t len)
{
	if (len > sizeof(h->b) - h->n) {
		hb_flush(h);
		if (len > sizeof(h->b)) {
			EVP_DigestUpdate(h->md, p, len);
			return;
		}
	}
	memcpy(h->b + h->n, p, len);
	h->n += len;
}

/* v in decimal, as "%" PRIu64 writes it, then c. */
static void hb_dec(struct hash_buf *h, uint64_t v, char c)
{
	char t[21];
	size_t i = sizeof(t);

	t[--i] = c;
	do {
		t[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	hb_add(h, t + i, sizeof(t) - i);
}

/* Each field as "<length>:<bytes>\n" ("-:\n" for NULL), so no two entries share an encoding. */
static void hash_field(struct hash_buf *h, const char *s)
{
	size_t len;

	if (!s) {
		hb_add(h, "-:\n", 3);
		return;
	}
	len = strlen(s);
	hb_dec(h, len, ':');
	hb_add(h, s, len);
	hb_add(h, "\n", 1);
}

static EVP_MD *sha256_alg;

static void sha256_fetch(void)
{
	sha256_alg = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* SHA-256 is fetched once: EVP_sha256() made every EVP_DigestInit_ex look it up anew (~9,000
 * instructions an entry, four entries a call). md is the caller's, reused from entry to entry. */
static void entry_hash(EVP_MD_CTX *md, uint64_t seq, const struct trail_entry *e, const char *prev,
		       char out[TRAIL_HASH_HEX + 1])
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct hash_buf h = {.md = md};
	uint8_t d[32] = {0};
	unsigned dl = 0;

	pthread_once(&once, sha256_fetch);
	if (!md || !sha256_alg || EVP_DigestInit_ex(md, sha256_alg, NULL) != 1) {
		/* Only on ENOMEM: a hash that matches nothing. */
		snprintf(out, TRAIL_HASH_HEX + 1, "%s", "error");
		return;
	}
	hb_add(&h, "siprecd-trail-v1\n", 17);
	hb_dec(&h, seq, '\n');
	hb_dec(&h, e->at, '\n');
	hash_field(&h, e->kind);
	hash_field(&h, e->actor);
	hash_field(&h, e->object);
	hash_field(&h, e->reason);
	hash_field(&h, e->sha256);
	hash_field(&h, prev);
	hb_flush(&h);
	EVP_DigestFinal_ex(md, d, &dl);
	hex_encode(d, 32, out);
}

void trail_entry_hash(uint64_t seq, const struct trail_entry *e, const char *prev,
		      char out[TRAIL_HASH_HEX + 1])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	entry_hash(md, seq, e, prev, out);
	EVP_MD_CTX_free(md);
}

/* "KEYvalue" (value cut to max bytes, NULL as empty) written at *p and NUL-ended; returns it and
 * moves *p past it. */
static const char *put_field(char **p, const char *key, const char *value, size_t max)
{
	char *f = *p;
	size_t kl = strlen(key), vl = value ? strnlen(value, max) : 0;

	memcpy(f, key, kl);
	if (vl)
		memcpy(f + kl, value, vl);
	f[kl + vl] = '\0';
	*p = f + kl + vl + 1;
	return f;
}

/* A copy of src cut to fit dst (a hash read back from the catalog, or the zero hash). */
static void copy_hash(char dst[TRAIL_HASH_HEX + 1], const char *src)
{
	size_t n = strnlen(src, TRAIL_HASH_HEX);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static bool field_ok(const char *s, bool required)
{
	return s ? strlen(s) <= TRAIL_FIELD_MAX && (!required || *s) : !required;
}

static char *entry_json(uint64_t seq, const struct trail_entry *e, const char *hash)
{
	struct json_object *o = json_object_new_object();
	char *out;

	json_object_object_add(o, "seq", json_object_new_int64((int64_t)seq));
	json_object_object_add(o, "at", json_object_new_int64((int64_t)e->at));
	json_object_object_add(o, "kind", json_object_new_string(e->kind));
	json_object_object_add(o, "actor", json_object_new_string(e->actor));
	json_object_object_add(o, "object", json_object_new_string(e->object));
	json_object_object_add(o, "reason", e->reason ? json_object_new_string(e->reason) : NULL);
	json_object_object_add(o, "sha256", e->sha256 ? json_object_new_string(e->sha256) : NULL);
	json_object_object_add(o, "hash", json_object_new_string(hash));
	out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return out;
}

static const char head_sql[] = "SELECT seq, hash FROM trail ORDER BY seq DESC LIMIT 1";
static const char insert_sql[] = "INSERT INTO trail (seq, at, kind, actor, object, reason, sha256, "
				 "prev, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

void trail_stmts_clear(struct trail_stmts *ts)
{
	if (!ts)
		return;
	sqlite3_finalize(ts->head);
	sqlite3_finalize(ts->insert);
	EVP_MD_CTX_free(ts->md);
	*ts = (struct trail_stmts){0};
}

/* The cached statement, prepared on first use (or again for another connection). */
static sqlite3_stmt *stmt_get(struct trail_stmts *ts, sqlite3 *db, sqlite3_stmt **st,
			      const char *sql)
{
	if (ts->db != db) {
		trail_stmts_clear(ts);
		ts->db = db;
	}
	if (!*st &&
	    sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK) {
		sqlite3_finalize(*st);
		*st = NULL;
	}
	return *st;
}

int trail_append_cached(struct trail_stmts *ts, sqlite3 *db, const struct trail_entry *in,
			uint64_t *ret_seq)
{
	struct trail_entry e = *in;
	char prev[TRAIL_HASH_HEX + 1], hash[TRAIL_HASH_HEX + 1];
	sqlite3_stmt *st;
	uint64_t seq = 1;
	int r = -EIO, rc;

	if (!field_ok(e.kind, true) || !field_ok(e.actor, true) || !field_ok(e.object, true))
		return e.kind && e.actor && e.object ? -E2BIG : -EINVAL;
	if (!field_ok(e.reason, false) || !field_ok(e.sha256, false))
		return -E2BIG;
	if (!e.at)
		e.at = compliance_now_ms();
	copy_hash(prev, zero_hash);
	/* The head is read, not remembered: the compliance sweeper, the key and S3 threads and
	 * the tools append on connections of their own. seq is the rowid: this is one seek. */
	st = stmt_get(ts, db, &ts->head, head_sql);
	if (!st)
		return -EIO;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *h = (const char *)sqlite3_column_text(st, 1);

		seq = (uint64_t)sqlite3_column_int64(st, 0) + 1;
		copy_hash(prev, h ? h : "");
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -EIO;
	if (!ts->md)
		ts->md = EVP_MD_CTX_new();
	entry_hash(ts->md, seq, &e, prev, hash);
	st = stmt_get(ts, db, &ts->insert, insert_sql);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, (int64_t)seq);
	sqlite3_bind_int64(st, 2, (int64_t)e.at);
	sqlite3_bind_text(st, 3, e.kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, e.actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, e.object, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, e.reason, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, e.sha256, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, prev, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, hash, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_DONE)
		r = 0;
	sqlite3_reset(st);
	/* The bound text lives on this stack and in the caller's entry. */
	sqlite3_clear_bindings(st);
	if (r < 0)
		return r;
	if (ret_seq)
		*ret_seq = seq;

	{
		/* The fields in one block: an asprintf each was a quarter of the line's cost. */
		size_t need = strlen(e.actor) + strlen(e.object) +
			      (e.reason ? strlen(e.reason) : 0) +
			      (e.sha256 ? strlen(e.sha256) : 0) + 256;
		char seqs[24], *json, *block = malloc(need), *p = block;

		snprintf(seqs, sizeof(seqs), "%" PRIu64, seq);
		if (block) {
			const char *fields[] = {
				put_field(&p, "TRAIL_SEQ=", seqs, sizeof(seqs)),
				put_field(&p, "TRAIL_KIND=", e.kind, 40),
				put_field(&p, "ACTOR=", e.actor, TRAIL_FIELD_MAX),
				put_field(&p, "OBJECT=", e.object, TRAIL_FIELD_MAX),
				put_field(&p, "REASON=", e.reason, TRAIL_FIELD_MAX),
				put_field(&p, "SHA256=", e.sha256, TRAIL_FIELD_MAX),
				put_field(&p, "TRAIL_HASH=", hash, TRAIL_HASH_HEX),
				NULL,
			};

			audit_emit(AUDIT_TRAIL_APPENDED, fields, "Trail entry %s: %s %s by %s",
				   seqs, e.kind, e.object, e.actor);
		}
		free(block);
		json = event_hooked() ? entry_json(seq, &e, hash) : NULL;
		if (json)
			compliance_event(e.kind, json);
		free(json);
	}
	return 0;
}

int trail_append(sqlite3 *db, const struct trail_entry *e, uint64_t *ret_seq)
{
	struct trail_stmts ts = {0};
	int r = trail_append_cached(&ts, db, e, ret_seq);

	trail_stmts_clear(&ts);
	return r;
}

int trail_append_txn(sqlite3 *db, const struct trail_entry *e, uint64_t *ret_seq)
{
	int r;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return -EIO;
	r = trail_append(db, e, ret_seq);
	if (r == 0 && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		r = -EIO;
	if (r < 0 && !sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

/* ---- the key ---- */

static void set_err(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
	(void)fmt; /* always "%s: %s" */
	if (err && errlen)
		snprintf(err, errlen, "%s: %s", a, b);
}

static EVP_PKEY *read_key(const char *path, bool private, char *err, size_t errlen)
{
	EVP_PKEY *k = NULL;
	FILE *f = fopen(path, "re");

	if (!f) {
		set_err(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (private)
		k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	else {
		k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
		if (!k) {
			rewind(f);
			k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		}
	}
	fclose(f);
	if (!k)
		set_err(err, errlen, "%s: %s", path, "not a PEM key");
	else if (EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
		set_err(err, errlen, "%s: %s", path, "not an Ed25519 key");
		EVP_PKEY_free(k);
		k = NULL;
	}
	return k;
}

static int write_pem(const char *path, EVP_PKEY *k, bool private, mode_t mode)
{
	char tmp[4200];
	FILE *f;
	int fd, ok;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(tmp);
		return -ENOMEM;
	}
	ok = private ? PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL)
		     : PEM_write_PUBKEY(f, k);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		ok = 0;
	fclose(f);
	if (!ok || rename(tmp, path) < 0) {
		unlink(tmp);
		return -EIO;
	}
	return 0;
}

void *trail_key_load(const char *path, bool create, char *err, size_t errlen)
{
	char pub[4200];
	struct stat sb;
	EVP_PKEY *k = NULL;
	EVP_PKEY_CTX *kc;
	int r;

	if (snprintf(pub, sizeof(pub), "%s.pub", path) >= (int)sizeof(pub)) {
		set_err(err, errlen, "%s: %s", path, "path too long");
		return NULL;
	}
	if (stat(path, &sb) == 0) {
		if (sb.st_mode & 077) {
			set_err(err, errlen, "%s: %s", path,
				"readable or writable by group or others (chmod 0600)");
			return NULL;
		}
		k = read_key(path, true, err, errlen);
		/* The public half is for verifiers without access to the key: keep it there. */
		if (k && access(pub, F_OK) < 0)
			write_pem(pub, k, false, 0644);
		return k;
	}
	if (errno != ENOENT || !create) {
		set_err(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	kc = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	if (!kc || EVP_PKEY_keygen_init(kc) <= 0 || EVP_PKEY_keygen(kc, &k) <= 0) {
		EVP_PKEY_CTX_free(kc);
		set_err(err, errlen, "%s: %s", path, "Ed25519 key generation failed");
		return NULL;
	}
	EVP_PKEY_CTX_free(kc);
	r = write_pem(path, k, true, 0600);
	if (r == 0)
		r = write_pem(pub, k, false, 0644);
	if (r < 0) {
		set_err(err, errlen, "%s: %s", path, strerror(-r));
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

void *trail_pubkey_load(const char *path, char *err, size_t errlen)
{
	return read_key(path, false, err, errlen);
}

void trail_key_free(void *key)
{
	EVP_PKEY_free(key);
}

int trail_key_id(void *key, char out[TRAIL_HASH_HEX + 1])
{
	uint8_t raw[32], d[32];
	size_t n = sizeof(raw);
	unsigned dl = 0;

	if (!key || EVP_PKEY_get_raw_public_key(key, raw, &n) != 1 || n != 32 ||
	    EVP_Digest(raw, n, d, &dl, EVP_sha256(), NULL) != 1)
		return -EINVAL;
	hex_encode(d, 32, out);
	return 0;
}

static int head_message(char *buf, size_t n, uint64_t seq, const char *hash)
{
	return snprintf(buf, n, "siprecd-trail-head-v1 %" PRIu64 " %s", seq, hash);
}

int trail_sign_head(sqlite3 *db, void *key, const char *reason)
{
	char hash[TRAIL_HASH_HEX + 1] = "", kid[TRAIL_HASH_HEX + 1], msg[160];
	uint8_t sig[64];
	size_t siglen = sizeof(sig);
	sqlite3_stmt *st = NULL;
	uint64_t seq = 0, signed_seq = 0;
	bool own = sqlite3_get_autocommit(db);
	EVP_MD_CTX *md = NULL;
	char *b64 = NULL;
	int r = -EIO, mlen;

	if (!key || trail_key_id(key, kid) < 0)
		return -EINVAL;
	if (own && sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return -EIO;
	if (sqlite3_prepare_v2(db,
			       "SELECT (SELECT seq FROM trail ORDER BY seq DESC LIMIT 1), "
			       "(SELECT hash FROM trail ORDER BY seq DESC LIMIT 1), "
			       "(SELECT max(seq) FROM trail_heads)",
			       -1, &st, NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_step(st) == SQLITE_ROW) {
		seq = (uint64_t)sqlite3_column_int64(st, 0);
		snprintf(hash, sizeof(hash), "%s",
			 sqlite3_column_text(st, 1) ? (const char *)sqlite3_column_text(st, 1)
						    : "");
		signed_seq = (uint64_t)sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	st = NULL;
	if (seq == 0 || seq == signed_seq) {
		r = 0;
		goto out;
	}
	mlen = head_message(msg, sizeof(msg), seq, hash);
	md = EVP_MD_CTX_new();
	if (!md || EVP_DigestSignInit(md, NULL, NULL, NULL, key) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, (const uint8_t *)msg, (size_t)mlen) != 1)
		goto out;
	b64 = b64_encode(sig, siglen);
	if (!b64 || sqlite3_prepare_v2(db,
				       "INSERT INTO trail_heads (seq, hash, signed_at, key_id, "
				       "signature, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
				       -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_int64(st, 1, (int64_t)seq);
	sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (int64_t)compliance_now_ms());
	sqlite3_bind_text(st, 4, kid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, b64, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, reason, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_DONE)
		r = 1;
out:
	sqlite3_finalize(st);
	EVP_MD_CTX_free(md);
	free(b64);
	if (own) {
		if (r >= 0 && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
			r = -EIO;
		if (r < 0 && !sqlite3_get_autocommit(db))
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	}
	return r;
}

/* ---- the verifier ---- */

struct vctx {
	trail_report_fn fn;
	void *userdata;
	struct trail_verify *v;
};

static void problem(struct vctx *c, const char *fmt, ...) _printf_(2, 3);
static void problem(struct vctx *c, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	c->v->problems++;
	if (c->fn)
		c->fn(c->userdata, buf);
}

static const char *col(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

static int verify_chain(sqlite3 *db, struct vctx *c)
{
	char prev[TRAIL_HASH_HEX + 1], h[TRAIL_HASH_HEX + 1];
	sqlite3_stmt *st;
	uint64_t want = 1;
	int s;

	snprintf(prev, sizeof(prev), "%s", zero_hash);
	if (sqlite3_prepare_v2(db,
			       "SELECT seq, at, kind, actor, object, reason, sha256, prev, hash "
			       "FROM trail ORDER BY seq",
			       -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t seq = (uint64_t)sqlite3_column_int64(st, 0);
		struct trail_entry e = {
			.at = (uint64_t)sqlite3_column_int64(st, 1),
			.kind = col(st, 2),
			.actor = col(st, 3),
			.object = col(st, 4),
			.reason = col(st, 5),
			.sha256 = col(st, 6),
		};
		const char *rprev = col(st, 7), *rhash = col(st, 8);

		c->v->entries++;
		if (seq != want)
			problem(c,
				"trail entries %" PRIu64 "-%" PRIu64
				" are missing (deleted from the trail)",
				want, seq - 1);
		if (!rprev || strcmp(rprev, prev) != 0)
			problem(c,
				"trail entry %" PRIu64
				": its prev does not match the hash of the entry before it "
				"(entries removed or rewritten before it)",
				seq);
		trail_entry_hash(seq, &e, rprev ? rprev : "", h);
		if (!rhash || strcmp(rhash, h) != 0)
			problem(c,
				"trail entry %" PRIu64 " (%s %s): edited (its hash does not match)",
				seq, e.kind ? e.kind : "?", e.object ? e.object : "?");
		snprintf(prev, sizeof(prev), "%s", rhash ? rhash : "");
		want = seq + 1;
		c->v->last_seq = seq;
	}
	sqlite3_finalize(st);
	return s == SQLITE_DONE ? 0 : -EIO;
}

static int verify_heads(sqlite3 *db, void *pub, struct vctx *c)
{
	char kid[TRAIL_HASH_HEX + 1] = "", msg[160];
	sqlite3_stmt *st, *q = NULL;
	int s;

	if (pub && trail_key_id(pub, kid) < 0)
		return -EINVAL;
	if (!pub)
		problem(c, "no trail public key: signatures of the trail heads not checked");
	if (sqlite3_prepare_v2(db,
			       "SELECT id, seq, hash, key_id, signature FROM trail_heads "
			       "ORDER BY id",
			       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT hash FROM trail WHERE seq = ?1", -1, &q, NULL) !=
		    SQLITE_OK) {
		sqlite3_finalize(st);
		return -EIO;
	}
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t id = (uint64_t)sqlite3_column_int64(st, 0);
		uint64_t seq = (uint64_t)sqlite3_column_int64(st, 1);
		const char *hash = col(st, 2), *key_id = col(st, 3), *sig64 = col(st, 4);
		uint8_t *sig = NULL;
		size_t siglen = 0;

		c->v->heads++;
		if (!hash || !key_id || !sig64) {
			problem(c, "signed head %" PRIu64 ": incomplete row", id);
			continue;
		}
		if (seq > c->v->last_signed_seq)
			c->v->last_signed_seq = seq;
		sqlite3_bind_int64(q, 1, (int64_t)seq);
		if (sqlite3_step(q) != SQLITE_ROW)
			problem(c,
				"signed head %" PRIu64 ": trail entry %" PRIu64
				" it signed is missing (trail truncated or rows deleted)",
				id, seq);
		else if (!col(q, 0) || strcmp(col(q, 0), hash) != 0)
			problem(c,
				"signed head %" PRIu64 ": trail entry %" PRIu64
				" no longer has the hash that was signed (trail rewritten)",
				id, seq);
		sqlite3_reset(q);
		if (!pub)
			continue;
		if (strcmp(key_id, kid) != 0) {
			problem(c, "signed head %" PRIu64 ": signed by another key (%.16s...)", id,
				key_id);
			continue;
		}
		if (b64_decode(sig64, 256, &sig, &siglen) < 0) {
			problem(c, "signed head %" PRIu64 ": signature is not base64", id);
			continue;
		}
		{
			EVP_MD_CTX *md = EVP_MD_CTX_new();
			int mlen = head_message(msg, sizeof(msg), seq, hash);

			if (!md || EVP_DigestVerifyInit(md, NULL, NULL, NULL, pub) != 1 ||
			    EVP_DigestVerify(md, sig, siglen, (const uint8_t *)msg, (size_t)mlen) !=
				    1)
				problem(c,
					"signed head %" PRIu64 " (entry %" PRIu64
					"): bad signature",
					id, seq);
			EVP_MD_CTX_free(md);
		}
		free(sig);
	}
	sqlite3_finalize(st);
	sqlite3_finalize(q);
	if (c->v->last_seq > c->v->last_signed_seq)
		c->v->unsigned_entries = c->v->last_seq - c->v->last_signed_seq;
	return s == SQLITE_DONE ? 0 : -EIO;
}

/*
 * Every recording whose last lifecycle entry is 'finalized' must still be there: its catalog
 * row (not marked deleted) and its file with the sha256 of that entry.
 */
static int verify_files(sqlite3 *db, const char *base_dir, struct vctx *c)
{
	sqlite3_stmt *st, *q = NULL;
	int s;

	if (sqlite3_prepare_v2(
		    db,
		    "SELECT t.object, t.sha256 FROM trail AS t WHERE t.kind = 'finalized' AND "
		    "t.seq = (SELECT max(seq) FROM trail AS u WHERE u.object = t.object AND u.kind "
		    "IN ('finalized', 'deleted', 'erased', 'shredded', 'offloaded')) ORDER BY "
		    "t.seq",
		    -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT path, deleted_at FROM recordings WHERE uuid = ?1", -1,
			       &q, NULL) != SQLITE_OK) {
		sqlite3_finalize(st);
		return -EIO;
	}
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		const char *object = col(st, 0), *sha = col(st, 1), *uuid, *path;
		char full[4200], got[TRAIL_HASH_HEX + 1];
		int r;

		if (!object || strncmp(object, "recording:", 10) != 0)
			continue;
		uuid = object + 10;
		c->v->files++;
		sqlite3_bind_text(q, 1, uuid, -1, SQLITE_STATIC);
		if (sqlite3_step(q) != SQLITE_ROW) {
			problem(c, "recording %s: its catalog row is missing (deleted by hand)",
				uuid);
			sqlite3_reset(q);
			continue;
		}
		path = col(q, 0);
		if (sqlite3_column_type(q, 1) != SQLITE_NULL)
			problem(c,
				"recording %s: catalog row marked deleted but the trail has no "
				"deletion",
				uuid);
		else if (!path)
			problem(c, "recording %s: catalog row has no path", uuid);
		else {
			if (path[0] == '/' || !base_dir)
				snprintf(full, sizeof(full), "%s", path);
			else
				snprintf(full, sizeof(full), "%s/%s", base_dir, path);
			r = compliance_file_sha256(full, got);
			if (r == -ENOENT)
				problem(c, "recording %s: file %s is missing (deleted by hand)",
					uuid, full);
			else if (r < 0)
				problem(c, "recording %s: file %s: %s", uuid, full, strerror(-r));
			else if (sha && strcmp(sha, got) != 0)
				problem(c,
					"recording %s: file %s was altered (sha256 %s, trail says "
					"%s)",
					uuid, full, got, sha);
		}
		sqlite3_reset(q);
	}
	sqlite3_finalize(st);
	sqlite3_finalize(q);
	return s == SQLITE_DONE ? 0 : -EIO;
}

int trail_verify(sqlite3 *db, void *pub, const char *base_dir, trail_report_fn fn, void *userdata,
		 struct trail_verify *ret)
{
	struct trail_verify v = {0};
	struct vctx c = {fn, userdata, &v};
	int r;

	/* One read transaction: a consistent snapshot while the daemon keeps writing. */
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return -EIO;
	r = verify_chain(db, &c);
	if (r == 0)
		r = verify_heads(db, pub, &c);
	if (r == 0)
		r = verify_files(db, base_dir, &c);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (ret)
		*ret = v;
	if (r < 0)
		return r;
	return v.problems ? 1 : 0;
}
