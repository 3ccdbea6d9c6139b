// SPDX-License-Identifier: MIT
/*
 * siprec-web: the web console for the people who use recordings (issue 15). A program of its
 * own so the recorder stays small: it opens the catalog read-only, decrypts through siprec-export
 * (the same storage/keys code, run as a child so the console and the exporter can never disagree
 * on a WAV), reads live state from siprecd's varlink socket, and serves server-rendered pages
 * with libmicrohttpd. Accounts live in a users file of its own (Argon2id hashes); sessions are
 * random tokens in HttpOnly SameSite=Strict cookies; every POST carries the session's CSRF token;
 * every search, playback and download is logged to journald with the user and the call.
 */
#include <argon2.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <json.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sqlite3.h>

#include "siprecd/compliance.h"
#include "siprecd/config.h"
#include "siprecd/keys.h"
#include "siprecd/log.h"
#include "siprecd/s3.h"
#include "web.h"

/* journald MESSAGE_ID of every console access event (search, view, play, download, login). */
#define WEB_ACCESS_MESSAGE_ID "4f0b7e3a9c2d4e5f8a1b6c7d2e3f4a5b"

#define USERS_MAX 256
#define SESSIONS_MAX 1024
#define SESSION_TTL_S (8 * 3600)
#define PARAM_MAX 128	  /* any query or form value */
#define POST_MAX 4096	  /* a whole form body */
#define PAGE_SIZE_MAX 200 /* calls per page */
#define PAGE_MAX 100000
#define LOGIN_FAILS_MAX 5 /* per client address per window */
#define LOGIN_WINDOW_S 60
#define LOGIN_SLOTS 256

enum role { ROLE_VIEWER, ROLE_LISTENER, ROLE_SUPERVISOR, ROLE_ADMIN };
static const char *const role_names[] = {"viewer", "listener", "supervisor", "admin"};

struct user {
	char name[64];
	enum role role;
	bool disabled; /* kept in the file as "!" before the hash, as shadow(5) locks one */
	char hash[192];
};

struct websession {
	char token[65], csrf[65];
	int user;
	time_t expires;
};

static struct {
	const char *config;
	const char *catalog;
	const char *users;
	const char *listen;
	const char *export_bin;
	const char *cache;
	const char *control;
	const char *tls_cert, *tls_key;
	const char *tls_client_ca; /* client-certificate login: the CA that vouches */
	const char *status_cert;   /* the SIP TLS certificate shown on the status page */
	const char *recording_dir; /* its free space is shown on the status page */
	uint64_t rotation_ms;	   /* KEY_ROTATION_INTERVAL */
	/* write-only mode: the X25519 private key (a path: siprec-export gets it too) */
	const char *private_key;
	bool write_only; /* ENCRYPTION_KEY_STORE=public-key */
	/* S3_* of the configuration: recordings offloaded to a bucket are read from there */
	struct s3_target s3;
	bool create_admin;
	const char *add_user, *add_role;
} arg;

static struct user users[USERS_MAX];
static unsigned nusers;
static struct websession sessions[SESSIONS_MAX];
static struct {
	char addr[64];
	time_t start;
	unsigned fails;
} login_slots[LOGIN_SLOTS];
static sqlite3 *db;
static bool https;

/*
 * libmicrohttpd runs a thread per connection, so a WAV being decoded or streamed, or a long
 * file being verified, never holds up another request. Everything shared (the read-only
 * catalog handle, users, sessions, login slots, the log) is used under this one lock, taken for
 * the whole of a request; the slow parts (siprec-export, reading recordings) drop it and work
 * on copies.
 */
static pthread_mutex_t big_lock = PTHREAD_MUTEX_INITIALIZER;

/* WEB_MAX_CONNECTIONS_PER_ADDRESS and WEB_REQUEST_TIMEOUT without a configuration file */
#define WEB_MAX_CONNECTIONS_PER_ADDRESS 8
#define WEB_REQUEST_TIMEOUT_MS 10000

/* ---- small helpers ---- */

struct buf {
	char *p;
	size_t len, cap;
};

static void bput(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;

		while (cap < b->len + n + 1)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (!b->p)
			abort();
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* Appends a string literal (its length known at compile time). */
#define bputs(b, lit) bput(b, "" lit, sizeof(lit) - 1)

static void bprintf(struct buf *b, const char *fmt, ...) _printf_(2, 3);
static void bprintf(struct buf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		bput(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* HTML-escapes s (also safe inside double-quoted attributes). */
static void besc(struct buf *b, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&':
			bputs(b, "&amp;");
			break;
		case '<':
			bputs(b, "&lt;");
			break;
		case '>':
			bputs(b, "&gt;");
			break;
		case '"':
			bputs(b, "&quot;");
			break;
		case '\'':
			bputs(b, "&#39;");
			break;
		default:
			bput(b, s, 1);
		}
	}
}

/* URL-encodes s for a query string. */
static void burl(struct buf *b, const char *s)
{
	for (; s && *s; s++) {
		if (isalnum((unsigned char)*s) || strchr("-_.~", *s))
			bput(b, s, 1);
		else
			bprintf(b, "%%%02X", (unsigned char)*s);
	}
}

/* Copies s into out[n], truncating (callers check lengths that matter first). */
static void scopy(char *out, size_t n, const char *s)
{
	size_t l = strnlen(s, n - 1);

	memcpy(out, s, l);
	out[l] = '\0';
}

static void random_hex(char *out, size_t nbytes)
{
	unsigned char r[64];

	if (nbytes > sizeof(r) || RAND_bytes(r, (int)nbytes) != 1)
		abort();
	for (size_t i = 0; i < nbytes; i++)
		sprintf(out + 2 * i, "%02x", r[i]);
	out[2 * nbytes] = '\0';
}

static void fmt_time(char *out, size_t n, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0 || !gmtime_r(&t, &tm) || !strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(out, n, "-");
}

/* A uuid-like id: hex digits and dashes, 1..64 characters. */
static bool valid_uuid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) && s[i] != '-')
			return false;
	return true;
}

/* "YYYY-MM-DDTHH:MM" (HTML datetime-local, taken as UTC) or "" -> ms; -EINVAL if malformed. */
static int parse_time(const char *s, int64_t *ret_ms)
{
	struct tm tm = {0};
	const char *end;

	if (!s || !*s) {
		*ret_ms = -1;
		return 0;
	}
	end = strptime(s, "%Y-%m-%dT%H:%M", &tm);
	if (end && *end == ':')
		end = strptime(end, ":%S", &tm);
	if (!end || *end)
		return -EINVAL;
	*ret_ms = (int64_t)timegm(&tm) * 1000;
	return 0;
}

static int parse_uint(const char *s, unsigned max, unsigned *ret)
{
	char *end;
	unsigned long v;

	if (!s || !*s) {
		return -ENOENT;
	}
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

static void audit(const char *user, const char *action, const char *session, const char *detail)
{
	char fu[96], fa[64], fs[96], fd[PARAM_MAX * 9 + 32];
	const char *fields[] = {fu, fa, fs, fd, NULL};

	snprintf(fu, sizeof(fu), "SIPREC_WEB_USER=%s", user);
	snprintf(fa, sizeof(fa), "SIPREC_WEB_ACTION=%s", action);
	snprintf(fs, sizeof(fs), "SIPREC_SESSION_ID=%s", session ? session : "");
	snprintf(fd, sizeof(fd), "SIPREC_WEB_DETAIL=%s", detail ? detail : "");
	log_struct_unfiltered(LOG_NOTICE, WEB_ACCESS_MESSAGE_ID, fields, "web: %s %s%s%s", user,
			      action, session ? " " : "", session ? session : "");
}

/*
 * "Who listened to what" goes into the compliance trail too (docs/COMPLIANCE.md): one entry per
 * recording of the call, kind "played" or "exported" (a download), actor "siprec-web:<user>",
 * with the file's sha256. The console reads the catalog read-only; this one short write
 * connection is the exception, as in siprec-export. When the catalog is not writable by this
 * process (or has no trail) the journal line above is the only record, and the log says so.
 */
static void trail_access(const char *user, const char *kind, const char *session)
{
	char actor[96], object[128], sha[TRAIL_HASH_HEX + 1];
	sqlite3 *wdb = NULL;
	sqlite3_stmt *st = NULL;

	snprintf(actor, sizeof(actor), "siprec-web:%s", user);
	if (sqlite3_open_v2(arg.catalog, &wdb, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(wdb,
			       "SELECT r.uuid, r.path, r.sha256 FROM recordings AS r JOIN sessions "
			       "AS s ON s.id = r.session_id WHERE s.uuid = ?1 AND r.deleted_at IS "
			       "NULL",
			       -1, &st, NULL) != SQLITE_OK) {
		log_warning("web: %s of %s by %s is not in the compliance trail: %s", kind, session,
			    user, wdb ? sqlite3_errmsg(wdb) : "cannot open the catalog");
		sqlite3_close(wdb);
		return;
	}
	sqlite3_busy_timeout(wdb, 5000);
	sqlite3_bind_text(st, 1, session, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *uuid = (const char *)sqlite3_column_text(st, 0);
		const char *rel = (const char *)sqlite3_column_text(st, 1);
		const char *cat_sha = (const char *)sqlite3_column_text(st, 2);
		const char *file_sha = NULL, *slash = strrchr(arg.catalog, '/');
		char *path = NULL;

		/* Relative paths in the catalog are relative to its directory. */
		if (rel && (rel[0] == '/' ? !(path = strdup(rel))
					  : asprintf(&path, "%.*s/%s",
						     slash ? (int)(slash - arg.catalog) : 1,
						     slash ? arg.catalog : ".", rel) < 0))
			path = NULL;
		if (path && compliance_file_sha256(path, sha) == 0)
			file_sha = sha;
		else if (path && access(path, F_OK) < 0 && errno == ENOENT && cat_sha &&
			 strlen(cat_sha) == TRAIL_HASH_HEX)
			/* Offloaded to S3: siprec-export played the bucket's copy once its sha256
			 * was the catalog's (s3_recording_open). */
			file_sha = cat_sha;
		snprintf(object, sizeof(object), "recording:%s", uuid ? uuid : "");
		if (trail_append_txn(wdb,
				     &(struct trail_entry){.kind = kind,
							   .actor = actor,
							   .object = object,
							   .reason = "web console",
							   .sha256 = file_sha},
				     NULL) < 0) {
			free(path);
			log_warning("web: %s of %s by %s is not in the compliance trail: %s", kind,
				    session, user, sqlite3_errmsg(wdb));
			break;
		}
		free(path);
	}
	sqlite3_finalize(st);
	sqlite3_close(wdb);
}

/* ---- users file: "NAME ROLE ARGON2ID-ENCODED-HASH" per line, mode 0600 ---- */

static int role_from_name(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, role_names[i]) == 0)
			return i;
	return -EINVAL;
}

static bool valid_username(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= sizeof(users[0].name))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-@", s[i]))
			return false;
	return true;
}

static int users_load(void)
{
	FILE *f = fopen(arg.users, "re");
	char line[512], name[128], role[32], hash[256];

	nusers = 0;
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (fgets(line, sizeof(line), f) && nusers < USERS_MAX) {
		int r;

		if (sscanf(line, "%127s %31s %255s", name, role, hash) != 3 || name[0] == '#')
			continue;
		r = role_from_name(role);
		if (r < 0 || !valid_username(name) || strlen(hash) >= sizeof(users[0].hash))
			continue;
		scopy(users[nusers].name, sizeof(users[0].name), name);
		users[nusers].role = (enum role)r;
		users[nusers].disabled = hash[0] == '!';
		scopy(users[nusers].hash, sizeof(users[0].hash), hash + (hash[0] == '!'));
		nusers++;
	}
	fclose(f);
	return 0;
}

static int users_save(void)
{
	char tmp[PATH_MAX];
	FILE *f;
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", arg.users) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return -errno;
	}
	fprintf(f, "# siprec-web users: NAME ROLE ARGON2ID-HASH (siprec-web --add-user)\n");
	for (unsigned i = 0; i < nusers; i++)
		fprintf(f, "%s %s %s%s\n", users[i].name, role_names[users[i].role],
			users[i].disabled ? "!" : "", users[i].hash);
	if (fflush(f) || fsync(fd)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	return rename(tmp, arg.users) ? -errno : 0;
}

static int set_user(const char *name, enum role role, const char *password)
{
	unsigned char salt[16];
	char hash[192];
	struct user was;
	bool added;
	unsigned i;
	int r;

	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return -EIO;
	/* Argon2id, 3 passes over 64 MiB: RFC 9106's second recommended option. */
	if (argon2id_hash_encoded(3, 1 << 16, 1, password, strlen(password), salt, sizeof(salt), 32,
				  hash, sizeof(hash)) != ARGON2_OK)
		return -EIO;
	for (i = 0; i < nusers; i++)
		if (strcmp(users[i].name, name) == 0)
			break;
	if (i == nusers && nusers == USERS_MAX)
		return -ENOSPC;
	was = users[i];
	added = i == nusers;
	if (added)
		nusers++;
	scopy(users[i].name, sizeof(users[i].name), name);
	users[i].role = role;
	users[i].disabled = false; /* a new password re-enables a disabled account */
	scopy(users[i].hash, sizeof(users[i].hash), hash);
	r = users_save();
	if (r < 0) {
		/* Not saved: not in force either (a login must not take a password the file
		 * does not have, nor keep one the admin meant to replace). */
		if (added)
			nusers--;
		users[i] = was;
	}
	OPENSSL_cleanse(&was, sizeof(was));
	return r;
}

/* Ends every web session of user u (a deleted or disabled account). */
static void sessions_end_user(int u)
{
	for (unsigned i = 0; i < SESSIONS_MAX; i++)
		if (sessions[i].token[0] && sessions[i].user == u)
			OPENSSL_cleanse(&sessions[i], sizeof(sessions[i]));
}

/*
 * Deletes user u once the users file without it is saved: then its sessions end, and the
 * sessions of the users after it follow their index down (sessions name users by index).
 * Under big_lock. 0, or -errno with nothing changed.
 */
static int user_delete(int u)
{
	struct user gone = users[u];
	int r;

	memmove(&users[u], &users[u + 1], (nusers - (unsigned)u - 1) * sizeof(users[0]));
	nusers--;
	r = users_save();
	if (r < 0) {
		memmove(&users[u + 1], &users[u], (nusers - (unsigned)u) * sizeof(users[0]));
		users[u] = gone;
		nusers++;
	} else {
		sessions_end_user(u);
		for (unsigned i = 0; i < SESSIONS_MAX; i++)
			if (sessions[i].token[0] && sessions[i].user > u)
				sessions[i].user--;
		OPENSSL_cleanse(&users[nusers], sizeof(users[0]));
	}
	OPENSSL_cleanse(&gone, sizeof(gone));
	return r;
}

/* Disables (or enables) user u once saved; disabling ends its sessions. 0 or -errno. */
static int user_disable(int u, bool disable)
{
	bool was = users[u].disabled;
	int r;

	users[u].disabled = disable;
	r = users_save();
	if (r < 0)
		users[u].disabled = was;
	else if (disable)
		sessions_end_user(u);
	return r;
}

static int user_find(const char *name)
{
	for (unsigned i = 0; i < nusers; i++)
		if (strcmp(users[i].name, name) == 0)
			return (int)i;
	return -ENOENT;
}

/*
 * Argon2id verifications running, each 64 MiB and a few hundred milliseconds: they run outside
 * big_lock so that a login never stalls the other requests, and at most VERIFY_MAX at once so
 * that parallel logins cannot take the machine's memory.
 */
#define VERIFY_MAX 4
static unsigned verifying;

/*
 * Called with big_lock held; drops it while Argon2id runs. The users table may change in that
 * time: the user is looked up again after, and a hash changed meanwhile (a new password) fails.
 * -EBUSY when VERIFY_MAX verifications already run.
 */
static int user_check(const char *name, const char *password)
{
	/* Same work for an unknown name, so timing does not tell which names exist. */
	static const char dummy[] = "$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHRzYWx0c2FsdA$"
				    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
	char hash[sizeof(users[0].hash)];
	int i = user_find(name);
	bool ok;

	if (verifying >= VERIFY_MAX)
		return -EBUSY;
	scopy(hash, sizeof(hash), i >= 0 ? users[i].hash : dummy);
	verifying++;
	pthread_mutex_unlock(&big_lock);
	ok = argon2id_verify(hash, password, strlen(password)) == ARGON2_OK;
	pthread_mutex_lock(&big_lock);
	verifying--;
	if (i < 0 || !ok)
		return -EACCES;
	i = user_find(name);
	/* A disabled account costs the same work and fails the same way. */
	if (i < 0 || users[i].disabled || strcmp(users[i].hash, hash) != 0)
		return -EACCES;
	return i;
}

/* ---- web sessions ---- */

static struct websession *session_find(struct MHD_Connection *c)
{
	const char *tok = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "siprecweb");
	time_t now = time(NULL);

	if (!tok || strlen(tok) != 64)
		return NULL;
	for (unsigned i = 0; i < SESSIONS_MAX; i++) {
		struct websession *s = &sessions[i];

		if (s->token[0] && s->expires > now && CRYPTO_memcmp(s->token, tok, 64) == 0 &&
		    s->user >= 0 && (unsigned)s->user < nusers && !users[s->user].disabled)
			return s;
	}
	return NULL;
}

static struct websession *session_new(int user)
{
	time_t now = time(NULL);
	struct websession *slot = NULL;

	for (unsigned i = 0; i < SESSIONS_MAX && !slot; i++)
		if (!sessions[i].token[0] || sessions[i].expires <= now)
			slot = &sessions[i];
	if (!slot) /* full: the one closest to expiry goes */
		for (unsigned i = 0; i < SESSIONS_MAX; i++)
			if (!slot || sessions[i].expires < slot->expires)
				slot = &sessions[i];
	random_hex(slot->token, 32);
	random_hex(slot->csrf, 32);
	slot->user = user;
	slot->expires = now + SESSION_TTL_S;
	return slot;
}

/* Login rate limit per client address: LOGIN_FAILS_MAX failures per LOGIN_WINDOW_S. */
static unsigned *login_fails(const char *addr)
{
	time_t now = time(NULL);
	unsigned victim = 0;

	for (unsigned i = 0; i < LOGIN_SLOTS; i++) {
		if (strcmp(login_slots[i].addr, addr) == 0) {
			if (now - login_slots[i].start >= LOGIN_WINDOW_S) {
				login_slots[i].start = now;
				login_slots[i].fails = 0;
			}
			return &login_slots[i].fails;
		}
		if (login_slots[i].start < login_slots[victim].start)
			victim = i;
	}
	scopy(login_slots[victim].addr, sizeof(login_slots[0].addr), addr);
	login_slots[victim].start = now;
	login_slots[victim].fails = 0;
	return &login_slots[victim].fails;
}

static void client_addr(struct MHD_Connection *c, char *out, size_t n)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(out, n, "?");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
			  (socklen_t)n);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
			  out, (socklen_t)n);
}

/* ---- responses ---- */

static enum MHD_Result send_buf(struct MHD_Connection *c, unsigned status, const char *type,
				struct buf *b, const char *cookie)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(b->len, b->p ? b->p : (char *)"",
								 MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	if (!b->p)
		r = MHD_create_response_from_buffer(0, (char *)"", MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "Content-Security-Policy",
				"default-src 'self'; media-src 'self'; object-src 'none'; "
				"frame-ancestors 'none'; form-action 'self'");
	if (cookie)
		MHD_add_response_header(r, "Set-Cookie", cookie);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result redirect(struct MHD_Connection *c, const char *to, const char *cookie)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(0, (char *)"", MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	MHD_add_response_header(r, "Location", to);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	if (cookie)
		MHD_add_response_header(r, "Set-Cookie", cookie);
	ret = MHD_queue_response(c, MHD_HTTP_SEE_OTHER, r);
	MHD_destroy_response(r);
	return ret;
}

static void page_head(struct buf *b, const char *title, const struct websession *s)
{
	bputs(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>");
	besc(b, title);
	bprintf(b, " - siprec-web</title><link rel=\"stylesheet\" href=\"/static/style.css\">"
		   "</head><body>\n");
	if (s) {
		bprintf(b,
			"<nav><a href=\"/calls\">Calls</a> <a href=\"/status\">Status</a> "
			"%s<a href=\"/users\">Users</a> <span class=\"user\">",
			users[s->user].role >= ROLE_SUPERVISOR ? "<a href=\"/holds\">Holds</a> "
							       : "");
		besc(b, users[s->user].name);
		bprintf(b,
			" (%s)</span><form method=\"post\" action=\"/logout\" class=\"inline\">"
			"<input type=\"hidden\" name=\"csrf\" value=\"%s\">"
			"<button>Log out</button></form></nav>\n",
			role_names[users[s->user].role], s->csrf);
	}
	bputs(b, "<h1>");
	besc(b, title);
	bputs(b, "</h1>\n");
}

static enum MHD_Result error_page(struct MHD_Connection *c, unsigned status, const char *msg,
				  const struct websession *s)
{
	struct buf b = {0};

	page_head(&b, status == MHD_HTTP_FORBIDDEN ? "Forbidden" : "Error", s);
	bputs(&b, "<p class=\"error\">");
	besc(&b, msg);
	bputs(&b, "</p></body></html>\n");
	return send_buf(c, status, "text/html; charset=utf-8", &b, NULL);
}

static const char style_css[] =
	"body{font-family:sans-serif;margin:1em 2em;color:#222}"
	"nav{background:#234;padding:.5em;margin:-1em -2em 1em}nav a{color:#fff;margin-right:1em}"
	"nav .user{color:#cde;margin-left:2em}.inline{display:inline;margin-left:1em}"
	"table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em;"
	"text-align:left}th{background:#eef}.error{color:#a00;font-weight:bold}"
	"form.filters input,form.filters select{margin-right:.5em}"
	"td.verdict{font-weight:bold}svg.wave{display:block}";

/* ---- request state (POST bodies) ---- */

struct req {
	struct MHD_PostProcessor *pp;
	char user[PARAM_MAX + 1], password[PARAM_MAX + 1], csrf[PARAM_MAX + 1], role[PARAM_MAX + 1];
	/* the compliance forms: session id, case reference, hold id, reason, AoR, confirm,
	 * enable (drain) */
	char id[PARAM_MAX + 1], case_ref[PARAM_MAX + 1], hold[PARAM_MAX + 1], reason[PARAM_MAX + 1],
		aor[PARAM_MAX + 1], confirm[PARAM_MAX + 1], enable[PARAM_MAX + 1];
	/* holds on an AoR or a time range (kind, from, to); the users page's action */
	char kind[PARAM_MAX + 1], from[PARAM_MAX + 1], to[PARAM_MAX + 1], action[PARAM_MAX + 1];
	size_t body;
	bool too_big;
};

static enum MHD_Result post_field(void *cls, enum MHD_ValueKind kind, const char *key,
				  const char *filename, const char *content_type,
				  const char *transfer_encoding, const char *data, uint64_t off,
				  size_t size)
{
	struct req *rq = cls;
	static const struct {
		const char *key;
		size_t off;
	} fields[] = {
		{"user", offsetof(struct req, user)},
		{"password", offsetof(struct req, password)},
		{"csrf", offsetof(struct req, csrf)},
		{"role", offsetof(struct req, role)},
		{"id", offsetof(struct req, id)},
		{"case", offsetof(struct req, case_ref)},
		{"hold", offsetof(struct req, hold)},
		{"reason", offsetof(struct req, reason)},
		{"aor", offsetof(struct req, aor)},
		{"confirm", offsetof(struct req, confirm)},
		{"enable", offsetof(struct req, enable)},
		{"kind", offsetof(struct req, kind)},
		{"from", offsetof(struct req, from)},
		{"to", offsetof(struct req, to)},
		{"action", offsetof(struct req, action)},
	};
	char *dst = NULL;

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]) && !dst; i++)
		if (strcmp(key, fields[i].key) == 0)
			dst = (char *)rq + fields[i].off;

	if (!dst)
		return MHD_YES;
	if (off + size > PARAM_MAX) {
		rq->too_big = true;
		return MHD_NO;
	}
	memcpy(dst + off, data, size);
	dst[off + size] = '\0';
	return MHD_YES;
}

static struct web_conn *conn_watch(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *si =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return si ? si->socket_context : NULL;
}

/* Each connection is watched by the request deadline (conns.c) from its accept. */
static void conn_notify(void *cls, struct MHD_Connection *c, void **socket_context,
			enum MHD_ConnectionNotificationCode toe)
{
	(void)cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *fi =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		char addr[64];

		client_addr(c, addr, sizeof(addr));
		*socket_context = fi ? web_conn_opened(fi->connect_fd, addr) : NULL;
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		web_conn_closed(*socket_context);
		*socket_context = NULL;
	}
}

static void request_done(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *con_cls;

	/* The deadline of the next request on this connection (keep-alive) starts now. */
	web_conn_answered(conn_watch(c));
	if (!rq)
		return;
	if (rq->pp)
		MHD_destroy_post_processor(rq->pp);
	OPENSSL_cleanse(rq->password, sizeof(rq->password));
	free(rq);
	*con_cls = NULL;
}

/* ---- pages ---- */

static enum MHD_Result page_login(struct MHD_Connection *c, const char *msg, unsigned status)
{
	struct buf b = {0};

	page_head(&b, "Log in", NULL);
	if (msg) {
		bputs(&b, "<p class=\"error\">");
		besc(&b, msg);
		bputs(&b, "</p>");
	}
	bprintf(&b, "<form method=\"post\" action=\"/login\">"
		    "<p><label>User <input name=\"user\" id=\"user\" maxlength=\"63\" "
		    "autocomplete=\"username\" required></label></p>"
		    "<p><label>Password <input type=\"password\" name=\"password\" id=\"password\" "
		    "maxlength=\"128\" autocomplete=\"current-password\" required></label></p>"
		    "<p><button id=\"login\">Log in</button></p></form></body></html>\n");
	return send_buf(c, status, "text/html; charset=utf-8", &b, NULL);
}

/*
 * Client-certificate login (HTTPS with --tls-client-ca): libmicrohttpd asks for a certificate
 * and GnuTLS verifies it against the CA; the user is the first of the certificate's email SANs,
 * DNS SANs and subject CN that names an account. Returns the user index, or with why in why:
 * -ENOENT no certificate, -EACCES not verified, -ESRCH no account.
 */
static int cert_user(struct MHD_Connection *c, char *why, size_t n)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	gnutls_session_t gs = ci ? (gnutls_session_t)ci->tls_session : NULL;
	const gnutls_datum_t *peers;
	unsigned npeers = 0, status = 0;
	gnutls_x509_crt_t crt;
	char names[8][256];
	int nn = 0, r;

	snprintf(why, n, "no client certificate");
	if (!arg.tls_client_ca || !gs || !(peers = gnutls_certificate_get_peers(gs, &npeers)) ||
	    npeers == 0)
		return -ENOENT;
	if (gnutls_certificate_verify_peers2(gs, &status) < 0 || status != 0) {
		gnutls_datum_t out = {0};

		if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &out,
								 0) == 0) {
			snprintf(why, n, "client certificate not verified: %s", out.data);
			gnutls_free(out.data);
		} else {
			snprintf(why, n, "client certificate not verified");
		}
		return -EACCES;
	}
	if (gnutls_x509_crt_init(&crt) < 0)
		return -ENOMEM;
	if (gnutls_x509_crt_import(crt, &peers[0], GNUTLS_X509_FMT_DER) == 0) {
		/* SANs first (email, then DNS), then the subject's CN. */
		for (int want = 0; want < 2; want++)
			for (unsigned i = 0; nn < 7; i++) {
				size_t len = sizeof(names[0]) - 1;
				unsigned type = 0;
				int t = gnutls_x509_crt_get_subject_alt_name2(crt, i, names[nn],
									      &len, &type, NULL);

				if (t < 0)
					break;
				if ((want == 0 && t == GNUTLS_SAN_RFC822NAME) ||
				    (want == 1 && t == GNUTLS_SAN_DNSNAME)) {
					names[nn][len] = '\0';
					nn++;
				}
			}
		size_t len = sizeof(names[0]) - 1;

		if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, names[nn],
						  &len) == 0) {
			names[nn][len] = '\0';
			nn++;
		}
	}
	gnutls_x509_crt_deinit(crt);
	snprintf(why, n, "no account for the client certificate");
	r = -ESRCH;
	for (int k = 0; k < nn && r < 0; k++)
		for (unsigned i = 0; i < nusers; i++)
			if (strcmp(users[i].name, names[k]) == 0) {
				if (users[i].disabled) {
					snprintf(why, n, "the account %.64s is disabled", names[k]);
					return -EACCES;
				}
				snprintf(why, n, "client certificate %.64s", names[k]);
				r = (int)i;
				break;
			}
	return r;
}

static enum MHD_Result session_cookie_redirect(struct MHD_Connection *c, int u)
{
	struct websession *s = session_new(u);
	char cookie[256];

	snprintf(cookie, sizeof(cookie), "siprecweb=%s; Path=/; HttpOnly; SameSite=Strict%s",
		 s->token, https ? "; Secure" : "");
	return redirect(c, "/calls", cookie);
}

/* GET /login: with a client certificate that maps to a user, that user is logged in. */
static enum MHD_Result get_login(struct MHD_Connection *c)
{
	char addr[64], why[256];
	int u;

	if (!arg.tls_client_ca)
		return page_login(c, NULL, MHD_HTTP_OK);
	client_addr(c, addr, sizeof(addr));
	u = cert_user(c, why, sizeof(why));
	if (u < 0) {
		if (u != -ENOENT)
			audit("-", "login-cert-refused", NULL, why);
		return page_login(c, u == -ENOENT ? NULL : why, MHD_HTTP_OK);
	}
	audit(users[u].name, "login-cert", NULL, why);
	return session_cookie_redirect(c, u);
}

static enum MHD_Result do_login(struct MHD_Connection *c, struct req *rq)
{
	char addr[64], cookie[256];
	unsigned *fails;
	int u;

	client_addr(c, addr, sizeof(addr));
	fails = login_fails(addr);
	if (*fails >= LOGIN_FAILS_MAX) {
		audit(rq->user[0] ? rq->user : "-", "login-throttled", NULL, addr);
		return page_login(c, "Too many failed logins from your address: wait a minute.",
				  MHD_HTTP_TOO_MANY_REQUESTS);
	}
	/* Counted as a failure while it runs (big_lock is released during the hash), so that
	 * parallel attempts from one address cannot pass the limit together. */
	(*fails)++;
	u = user_check(rq->user, rq->password);
	OPENSSL_cleanse(rq->password, sizeof(rq->password));
	fails = login_fails(addr); /* the table may have changed meanwhile */
	if (u == -EBUSY) {
		if (*fails)
			(*fails)--;
		return page_login(c, "Too many logins in progress: try again in a moment.",
				  MHD_HTTP_SERVICE_UNAVAILABLE);
	}
	if (u < 0) {
		audit(valid_username(rq->user) ? rq->user : "-", "login-failed", NULL, addr);
		return page_login(c, "Wrong user name or password.", MHD_HTTP_FORBIDDEN);
	}
	if (*fails)
		(*fails)--;
	struct websession *s = session_new(u);

	audit(users[u].name, "login", NULL, addr);
	snprintf(cookie, sizeof(cookie), "siprecweb=%s; Path=/; HttpOnly; SameSite=Strict%s",
		 s->token, https ? "; Secure" : "");
	return redirect(c, "/calls", cookie);
}

static const char *qarg(struct MHD_Connection *c, const char *key, bool *bad)
{
	const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);

	if (v && strlen(v) > PARAM_MAX)
		*bad = true;
	return v && *v ? v : NULL;
}

/* "%...%" LIKE pattern of user text, with %, _ and \ escaped (ESCAPE '\'). */
static void like_pattern(char *out, size_t n, const char *s)
{
	size_t o = 0;

	out[o++] = '%';
	for (; *s && o + 3 < n; s++) {
		if (*s == '%' || *s == '_' || *s == '\\')
			out[o++] = '\\';
		out[o++] = *s;
	}
	out[o++] = '%';
	out[o] = '\0';
}

/*
 * The calls list (docs/WEB.md "Measured"). Two shapes of one query:
 *
 * - scan: sessions newest first through the sessions_started_at index, every filter checked
 *   per session (participant and SRC substrings as correlated EXISTS/LIKE), until a page is
 *   full. Cheap when the filters match many calls: it stops after a page.
 * - set: when a substring filter (participant, SRC) matches few sessions, a first pass over
 *   that one table finds them (at most CANDIDATES_MAX, stopping there), and the query looks up
 *   only those sessions by id (json_each of the ids) and sorts them. A sparse substring no
 *   longer makes the scan read every session of the catalog.
 *
 * A substring (LIKE '%x%') cannot use an index, so each such filter reads its table once at
 * most. The on-hold filter takes the set of held sessions once (the held_recordings view's
 * rule): session holds by uuid, range holds by the started_at index, AoR holds through the
 * participants_aor_nocase index (migration 011: "aor = x COLLATE NOCASE" is the view's
 * "lower(aor) = lower(x)" for ASCII, which is all sqlite's lower() folds) and the blind AoR
 * index of sealed participants (migration 009). Whether a listed call is held is asked per
 * row. On a catalog older than the legal holds both are 0. Durations are whole seconds; a
 * call without an end has none and a duration filter leaves it out.
 */
#define CANDIDATES_MAX 5000

static char *calls_sql_scan, *calls_sql_set, *holds_sql, *holds_page_sql;
static bool have_holds;	    /* the catalog has legal_holds (probed at start) */
static bool have_aor_index; /* ...and legal_hold_aor_index (migration 009) */

/* The SQL of the calls list and of a call's holds, for this catalog's schema; 0 or -ENOMEM. */
static int calls_sql_build(void)
{
	const char *aor_row = have_aor_index
				      ? " OR hp.aor_index IN (SELECT hi.aor_index FROM"
					" legal_hold_aor_index AS hi WHERE hi.hold_id = h.id)"
				      : "";
	const char *aor_set =
		have_aor_index ? " UNION SELECT hp.session_id FROM participants AS hp WHERE"
				 " hp.aor_index IN (SELECT hi.aor_index FROM legal_hold_aor_index"
				 " AS hi JOIN legal_holds AS h ON h.id = hi.hold_id WHERE"
				 " h.released_at IS NULL)"
			       : "";
	char *held_row = NULL, *held_set = NULL;
	int r = -ENOMEM;

	if (!have_holds) {
		held_row = strdup("0");
		held_set = strdup("0");
	} else if (
		asprintf(&held_row,
			 "EXISTS (SELECT 1 FROM legal_holds AS h WHERE h.released_at IS NULL AND ("
			 "(h.kind = 'session' AND h.session_uuid = s.uuid)"
			 " OR (h.kind = 'range' AND s.started_at BETWEEN h.from_at AND h.to_at)"
			 " OR (h.kind = 'aor' AND EXISTS (SELECT 1 FROM participants AS hp"
			 "  WHERE hp.session_id = s.id AND (hp.aor = h.aor COLLATE NOCASE%s)))))",
			 aor_row) < 0 ||
		asprintf(&held_set,
			 "s.id IN (SELECT hs.id FROM legal_holds AS h CROSS JOIN sessions AS hs"
			 "  ON hs.uuid = h.session_uuid WHERE h.kind = 'session' AND"
			 "  h.released_at IS NULL"
			 " UNION SELECT hs.id FROM legal_holds AS h CROSS JOIN sessions AS hs"
			 "  ON hs.started_at BETWEEN h.from_at AND h.to_at"
			 "  WHERE h.kind = 'range' AND h.released_at IS NULL"
			 " UNION SELECT hp.session_id FROM participants AS hp WHERE hp.aor"
			 "  COLLATE NOCASE IN (SELECT h.aor FROM legal_holds AS h WHERE"
			 "  h.kind = 'aor' AND h.released_at IS NULL)%s)",
			 aor_set) < 0) {
		held_row = held_set = NULL;
	}
	if (!held_row || !held_set)
		goto out;
	for (int set = 0; set < 2; set++)
		if (asprintf(set ? &calls_sql_set : &calls_sql_scan,
			     "SELECT s.uuid, s.started_at, s.ended_at, s.state, s.src_addr,"
			     " (SELECT group_concat(coalesce(p.name, '') || ' <' ||"
			     "  coalesce(p.aor, '') || '>', ', ')"
			     "  FROM participants p WHERE p.session_id = s.id),"
			     " EXISTS (SELECT 1 FROM dtmf_events d WHERE d.session_id = s.id), %s"
			     " FROM sessions s"
			     " WHERE (?1 < 0 OR s.started_at >= ?1) AND (?2 < 0 OR s.started_at < "
			     "?2)"
			     " AND (?3 IS NULL OR EXISTS (SELECT 1 FROM participants p WHERE"
			     "  p.session_id = s.id AND (p.name LIKE ?3 ESCAPE '\\'"
			     "  OR p.aor LIKE ?3 ESCAPE '\\')))"
			     " AND (?4 IS NULL OR s.src_addr LIKE ?4 ESCAPE '\\')"
			     " AND (?5 IS NULL OR s.state = ?5)"
			     " AND (?6 = 0 OR s.id IN (SELECT d.session_id FROM dtmf_events d))"
			     " AND (?9 = 0 OR %s)"
			     " AND (?10 < 0 OR (s.ended_at IS NOT NULL AND"
			     "  s.ended_at - s.started_at >= ?10 * 1000))"
			     " AND (?11 < 0 OR (s.ended_at IS NOT NULL AND"
			     "  s.ended_at - s.started_at <= ?11 * 1000))"
			     /* set: the candidates by id, then sorted ("+" keeps sqlite from
			      * walking the started_at index instead) */
			     "%s ORDER BY %ss.started_at DESC, s.id DESC LIMIT ?7 OFFSET ?8",
			     held_row, held_set,
			     set ? " AND s.id IN (SELECT value FROM json_each(?12))" : "",
			     set ? "+" : "") < 0)
			goto out;
	if (asprintf(&holds_sql,
		     "SELECT h.id, h.kind, coalesce(h.session_uuid, h.aor, h.from_at || '..' ||"
		     " h.to_at), h.case_ref, h.placed_by, h.placed_at FROM legal_holds AS h JOIN"
		     " sessions AS s ON s.uuid = ?1 WHERE h.released_at IS NULL AND ("
		     " (h.kind = 'session' AND h.session_uuid = s.uuid)"
		     " OR (h.kind = 'aor' AND EXISTS (SELECT 1 FROM participants AS hp"
		     "  WHERE hp.session_id = s.id AND (hp.aor = h.aor COLLATE NOCASE%s)))"
		     " OR (h.kind = 'range' AND s.started_at BETWEEN h.from_at AND h.to_at))"
		     " ORDER BY h.id",
		     aor_row) < 0)
		goto out;
	/* The holds page: every hold in force and how many calls it keeps. */
	if (asprintf(&holds_page_sql,
		     "SELECT h.id, h.kind, h.session_uuid, h.aor, h.from_at, h.to_at, h.case_ref,"
		     " h.placed_by, h.placed_at, CASE h.kind"
		     "  WHEN 'session' THEN (SELECT count(*) FROM sessions s WHERE s.uuid ="
		     "   h.session_uuid)"
		     "  WHEN 'aor' THEN (SELECT count(DISTINCT hp.session_id) FROM participants hp"
		     "   WHERE hp.aor = h.aor COLLATE NOCASE%s)"
		     "  ELSE (SELECT count(*) FROM sessions s WHERE s.started_at BETWEEN h.from_at"
		     "   AND h.to_at) END"
		     " FROM legal_holds h WHERE h.released_at IS NULL ORDER BY h.id LIMIT 500",
		     aor_row) < 0)
		goto out;
	r = 0;
out:
	free(held_row);
	free(held_set);
	return r;
}

static int id_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The sessions one substring filter matches (sql: ?1 the pattern, ?2 the limit), sorted and
 * without repeats; -E2BIG when there are more than CANDIDATES_MAX (the scan shape is then the
 * better one), -EIO on a database error. Under big_lock.
 */
static int candidates(const char *sql, const char *like, int64_t **ret, size_t *ret_n)
{
	sqlite3_stmt *st = NULL;
	int64_t *ids = NULL;
	size_t n = 0, k = 0;
	int r;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	ids = malloc((CANDIDATES_MAX + 1) * sizeof(*ids));
	if (!ids) {
		sqlite3_finalize(st);
		return -ENOMEM;
	}
	sqlite3_bind_text(st, 1, like, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, CANDIDATES_MAX + 1);
	while ((r = sqlite3_step(st)) == SQLITE_ROW)
		ids[n++] = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (r != SQLITE_DONE || n > CANDIDATES_MAX) {
		free(ids);
		return r != SQLITE_DONE ? -EIO : -E2BIG;
	}
	qsort(ids, n, sizeof(*ids), id_cmp);
	for (size_t i = 0; i < n; i++)
		if (k == 0 || ids[i] != ids[k - 1])
			ids[k++] = ids[i];
	*ret = ids;
	*ret_n = k;
	return 0;
}

/*
 * The set shape's candidates as a JSON array of session ids in json (the intersection when
 * both substring filters are given and few match each), or -E2BIG when neither narrows the
 * catalog down to CANDIDATES_MAX sessions.
 */
static int calls_candidates(const char *who_like, const char *src_like, struct buf *json)
{
	int64_t *a = NULL, *b = NULL;
	size_t na = 0, nb = 0, n = 0;
	int ra = -E2BIG, rb = -E2BIG;

	if (who_like)
		ra = candidates("SELECT p.session_id FROM participants p WHERE p.name LIKE ?1"
				" ESCAPE '\\' OR p.aor LIKE ?1 ESCAPE '\\' LIMIT ?2",
				who_like, &a, &na);
	if (src_like)
		rb = candidates("SELECT s.id FROM sessions s WHERE s.src_addr LIKE ?1 ESCAPE '\\'"
				" LIMIT ?2",
				src_like, &b, &nb);
	if (ra < 0 && rb < 0)
		return ra == -E2BIG ? rb : ra;
	bputs(json, "[");
	if (ra == 0 && rb == 0) {
		for (size_t i = 0, j = 0; i < na && j < nb;)
			if (a[i] < b[j])
				i++;
			else if (a[i] > b[j])
				j++;
			else {
				bprintf(json, "%s%" PRId64, n++ ? "," : "", a[i]);
				i++;
				j++;
			}
	} else {
		int64_t *v = ra == 0 ? a : b;
		size_t nv = ra == 0 ? na : nb;

		for (size_t i = 0; i < nv; i++)
			bprintf(json, "%s%" PRId64, i ? "," : "", v[i]);
	}
	bputs(json, "]");
	free(a);
	free(b);
	return 0;
}

#define DURATION_MAX (7 * 86400) /* seconds: the duration filter's bound */

static enum MHD_Result page_calls(struct MHD_Connection *c, struct websession *s)
{
	bool bad = false;
	const char *from = qarg(c, "from", &bad), *to = qarg(c, "to", &bad),
		   *who = qarg(c, "who", &bad), *src = qarg(c, "src", &bad),
		   *state = qarg(c, "state", &bad), *dtmf = qarg(c, "dtmf", &bad),
		   *pg = qarg(c, "page", &bad), *ps = qarg(c, "size", &bad),
		   *held = qarg(c, "held", &bad), *dmin_s = qarg(c, "dmin", &bad),
		   *dmax_s = qarg(c, "dmax", &bad);
	int64_t t_from, t_to;
	unsigned page = 0, size = 50, dmin = 0, dmax = 0;
	char who_like[PARAM_MAX * 2 + 3], src_like[PARAM_MAX * 2 + 3], detail[PARAM_MAX * 8];
	sqlite3_stmt *st = NULL;
	struct buf b = {0}, q = {0}, set = {0};
	int rows = 0, r;

	if (bad)
		return error_page(c, MHD_HTTP_BAD_REQUEST, "A parameter is too long.", s);
	if (parse_time(from, &t_from) < 0 || parse_time(to, &t_to) < 0)
		return error_page(c, MHD_HTTP_BAD_REQUEST,
				  "Time range: use YYYY-MM-DDTHH:MM (UTC).", s);
	if ((pg && parse_uint(pg, PAGE_MAX, &page) < 0) ||
	    (ps && (parse_uint(ps, PAGE_SIZE_MAX, &size) < 0 || size == 0)))
		return error_page(c, MHD_HTTP_BAD_REQUEST, "page must be 0..100000, size 1..200.",
				  s);
	if (state && strcmp(state, "active") && strcmp(state, "ended") &&
	    strcmp(state, "interrupted") && strcmp(state, "failed"))
		return error_page(c, MHD_HTTP_BAD_REQUEST,
				  "state must be active, ended, interrupted or failed.", s);
	if (dtmf && strcmp(dtmf, "1"))
		return error_page(c, MHD_HTTP_BAD_REQUEST, "dtmf must be 1 or absent.", s);
	if (held && strcmp(held, "1"))
		return error_page(c, MHD_HTTP_BAD_REQUEST, "held must be 1 or absent.", s);
	if ((dmin_s && parse_uint(dmin_s, DURATION_MAX, &dmin) < 0) ||
	    (dmax_s && parse_uint(dmax_s, DURATION_MAX, &dmax) < 0) ||
	    (dmin_s && dmax_s && dmin > dmax))
		return error_page(c, MHD_HTTP_BAD_REQUEST,
				  "Duration: whole seconds 0..604800, minimum at most maximum.", s);
	if (who)
		like_pattern(who_like, sizeof(who_like), who);
	if (src)
		like_pattern(src_like, sizeof(src_like), src);

	snprintf(detail, sizeof(detail),
		 "from=%s to=%s who=%s src=%s state=%s dtmf=%s held=%s dmin=%s dmax=%s page=%u",
		 from ? from : "", to ? to : "", who ? who : "", src ? src : "", state ? state : "",
		 dtmf ? "1" : "0", held ? "1" : "0", dmin_s ? dmin_s : "", dmax_s ? dmax_s : "",
		 page);
	audit(users[s->user].name, "search", NULL, detail);

	page_head(&b, "Calls", s);
	bputs(&b, "<form class=\"filters\" method=\"get\" action=\"/calls\" id=\"filters\">");
	bputs(&b, "From <input type=\"datetime-local\" name=\"from\" value=\"");
	besc(&b, from);
	bputs(&b, "\"> To <input type=\"datetime-local\" name=\"to\" value=\"");
	besc(&b, to);
	bputs(&b, "\"> Participant <input name=\"who\" id=\"who\" maxlength=\"128\" value=\"");
	besc(&b, who);
	bputs(&b, "\"> SRC <input name=\"src\" maxlength=\"128\" value=\"");
	besc(&b, src);
	bputs(&b, "\"> State <select name=\"state\"><option value=\"\">any</option>");
	for (int i = 0; i < 4; i++) {
		static const char *const states[] = {"active", "ended", "interrupted", "failed"};

		bprintf(&b, "<option%s>%s</option>",
			state && !strcmp(state, states[i]) ? " selected" : "", states[i]);
	}
	bputs(&b, "</select> Duration (s) <input name=\"dmin\" id=\"dmin\" type=\"number\" "
		  "min=\"0\" max=\"604800\" size=\"6\" placeholder=\"min\" value=\"");
	besc(&b, dmin_s);
	bputs(&b, "\"> to <input name=\"dmax\" id=\"dmax\" type=\"number\" min=\"0\" "
		  "max=\"604800\" size=\"6\" placeholder=\"max\" value=\"");
	besc(&b, dmax_s);
	bprintf(&b,
		"\"> <label><input type=\"checkbox\" name=\"dtmf\" value=\"1\"%s> has DTMF"
		"</label> <label><input type=\"checkbox\" name=\"held\" id=\"held\" value=\"1\"%s>"
		" on hold</label> <button id=\"search\">Search</button></form>\n",
		dtmf ? " checked" : "", held ? " checked" : "");

	/* A sparse substring filter: its few sessions by id, not a scan of all (see above). */
	if ((who || src) &&
	    calls_candidates(who ? who_like : NULL, src ? src_like : NULL, &set) < 0) {
		free(set.p);
		set = (struct buf){0};
	}
	r = sqlite3_prepare_v2(db, set.p ? calls_sql_set : calls_sql_scan, -1, &st, NULL);
	if (r != SQLITE_OK) {
		free(b.p);
		free(set.p);
		return error_page(c, MHD_HTTP_INTERNAL_SERVER_ERROR, sqlite3_errmsg(db), s);
	}
	if (set.p)
		sqlite3_bind_text(st, 12, set.p, (int)set.len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 1, t_from);
	sqlite3_bind_int64(st, 2, t_to);
	if (who)
		sqlite3_bind_text(st, 3, who_like, -1, SQLITE_STATIC);
	if (src)
		sqlite3_bind_text(st, 4, src_like, -1, SQLITE_STATIC);
	if (state)
		sqlite3_bind_text(st, 5, state, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 6, dtmf ? 1 : 0);
	sqlite3_bind_int(st, 7, (int)size + 1); /* one more: is there a next page? */
	sqlite3_bind_int64(st, 8, (int64_t)page * size);
	sqlite3_bind_int(st, 9, held ? 1 : 0);
	sqlite3_bind_int64(st, 10, dmin_s ? (int64_t)dmin : -1);
	sqlite3_bind_int64(st, 11, dmax_s ? (int64_t)dmax : -1);
	bputs(&b,
	      "<table id=\"calls\"><tr><th>Started (UTC)</th><th>Ended</th><th>Duration</th>"
	      "<th>State</th><th>SRC</th><th>Participants</th><th>DTMF</th><th>Hold</th></tr>\n");
	while ((r = sqlite3_step(st)) == SQLITE_ROW && rows < (int)size) {
		char t0[32], t1[32];
		const char *uuid = (const char *)sqlite3_column_text(st, 0);

		int64_t started = sqlite3_column_int64(st, 1), ended = sqlite3_column_int64(st, 2);
		char dur[32] = "";

		fmt_time(t0, sizeof(t0), started);
		fmt_time(t1, sizeof(t1), ended);
		if (sqlite3_column_type(st, 2) != SQLITE_NULL && ended >= started)
			snprintf(dur, sizeof(dur), "%" PRId64 " s", (ended - started) / 1000);
		bputs(&b, "<tr><td><a class=\"call\" href=\"/call?id=");
		burl(&b, uuid);
		bprintf(&b, "\">%s</a></td><td>%s</td><td class=\"dur\">%s</td><td>", t0, t1, dur);
		besc(&b, (const char *)sqlite3_column_text(st, 3));
		bputs(&b, "</td><td>");
		besc(&b, (const char *)sqlite3_column_text(st, 4));
		bputs(&b, "</td><td>");
		besc(&b, (const char *)sqlite3_column_text(st, 5));
		bprintf(&b, "</td><td>%s</td><td class=\"held\">%s</td></tr>\n",
			sqlite3_column_int(st, 6) ? "yes" : "",
			sqlite3_column_int(st, 7) ? "held" : "");
		rows++;
	}
	bool more = r == SQLITE_ROW;

	sqlite3_finalize(st);
	free(set.p);
	bputs(&b, "</table>\n<p>");
	/* The paging links keep the filters. */
	bputs(&q, "");
	const char *keys[] = {"from", "to", "who", "src", "state", "dtmf", "held", "dmin", "dmax"};
	const char *vals[] = {from, to, who, src, state, dtmf, held, dmin_s, dmax_s};

	for (int i = 0; i < 9; i++)
		if (vals[i]) {
			bprintf(&q, "%s=", keys[i]);
			burl(&q, vals[i]);
			bputs(&q, "&amp;");
		}
	if (page > 0)
		bprintf(&b, "<a id=\"prev\" href=\"/calls?%ssize=%u&amp;page=%u\">Previous</a> ",
			q.p ? q.p : "", size, page - 1);
	bprintf(&b, "Page %u, %d call%s ", page + 1, rows, rows == 1 ? "" : "s");
	if (more)
		bprintf(&b, "<a id=\"next\" href=\"/calls?%ssize=%u&amp;page=%u\">Next</a>",
			q.p ? q.p : "", size, page + 1);
	bputs(&b, "</p></body></html>\n");
	free(q.p);
	return send_buf(c, MHD_HTTP_OK, "text/html; charset=utf-8", &b, NULL);
}

static sqlite3_stmt *prep(const char *sql, const char *uuid)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
	return st;
}

/* Rows of a query as a table: header names, every column HTML-escaped. */
static void table(struct buf *b, const char *id, const char *heads, sqlite3_stmt *st)
{
	int n = 0;

	bprintf(b, "<table id=\"%s\"><tr>", id);
	for (const char *h = heads; *h;) {
		size_t l = strcspn(h, "|");

		bputs(b, "<th>");
		bput(b, h, l);
		bputs(b, "</th>");
		h += l + (h[l] == '|');
	}
	bputs(b, "</tr>\n");
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		bputs(b, "<tr>");
		for (int i = 0; i < sqlite3_column_count(st); i++) {
			bputs(b, "<td>");
			besc(b, (const char *)sqlite3_column_text(st, i));
			bputs(b, "</td>");
		}
		bputs(b, "</tr>\n");
		n++;
	}
	bputs(b, "</table>\n");
	if (st)
		sqlite3_finalize(st);
}

/* ---- legal holds and erasure (docs/COMPLIANCE.md) ---- */

/*
 * The compliance actions write the catalog through the same code as siprecctl (compliance_*),
 * on a short connection of their own (the console's main handle stays read-only), with the
 * actor "siprec-web:<user>" in the trail, so the trail says which console user did it, not just
 * which uid. NULL with the reason in err when the catalog is not writable by this process.
 */
static sqlite3 *catalog_rw(char *err, size_t errlen)
{
	sqlite3 *wdb = NULL;

	if (sqlite3_open_v2(arg.catalog, &wdb, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
	    sqlite3_exec(wdb, "SELECT 1 FROM legal_holds LIMIT 0", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen,
			 "the catalog is not writable by siprec-web or has no legal "
			 "holds (%s)",
			 wdb ? sqlite3_errmsg(wdb) : "out of memory");
		sqlite3_close(wdb);
		return NULL;
	}
	sqlite3_busy_timeout(wdb, 10000);
	return wdb;
}

/* Text of 1..max bytes without control characters (a case reference, a reason, an AoR). */
static bool valid_text(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static void holds_section(struct buf *b, const struct websession *s, const char *id)
{
	bool supervisor = users[s->user].role >= ROLE_SUPERVISOR;
	sqlite3_stmt *st = have_holds ? prep(holds_sql, id) : NULL;
	int n = 0;

	bputs(b, "<h2>Legal holds</h2>\n");
	if (!st) {
		bputs(b, "<p id=\"holds\">This catalog has no legal holds table.</p>\n");
		return;
	}
	bputs(b, "<table id=\"holds\"><tr><th>Hold</th><th>Kind</th><th>On</th><th>Case</th>"
		 "<th>Placed by</th><th>Placed (UTC)</th>");
	if (supervisor)
		bputs(b, "<th>Release</th>");
	bputs(b, "</tr>\n");
	while (sqlite3_step(st) == SQLITE_ROW) {
		char t[32];
		int64_t hid = sqlite3_column_int64(st, 0);

		fmt_time(t, sizeof(t), sqlite3_column_int64(st, 5));
		bprintf(b, "<tr class=\"hold\" data-hold=\"%" PRId64 "\"><td>%" PRId64 "</td>", hid,
			hid);
		for (int i = 1; i <= 4; i++) {
			bputs(b, "<td>");
			besc(b, (const char *)sqlite3_column_text(st, i));
			bputs(b, "</td>");
		}
		bprintf(b, "<td>%s</td>", t);
		if (supervisor) {
			bprintf(b,
				"<td><form method=\"post\" action=\"/hold/release\" "
				"class=\"release\"><input type=\"hidden\" name=\"csrf\" "
				"value=\"%s\"><input type=\"hidden\" name=\"hold\" value=\"%" PRId64
				"\"><input type=\"hidden\" name=\"id\" value=\"",
				s->csrf, hid);
			besc(b, id);
			bputs(b,
			      "\"><input name=\"reason\" maxlength=\"128\" placeholder=\"reason\">"
			      " <button>Release</button></form></td>");
		}
		bputs(b, "</tr>\n");
		n++;
	}
	sqlite3_finalize(st);
	bputs(b, "</table>\n");
	if (n == 0)
		bputs(b, "<p id=\"noholds\">No hold keeps this call.</p>\n");
	if (supervisor) {
		bprintf(b,
			"<form method=\"post\" action=\"/hold\" id=\"placehold\">"
			"<input type=\"hidden\" name=\"csrf\" value=\"%s\"><input type=\"hidden\" "
			"name=\"id\" value=\"",
			s->csrf);
		besc(b, id);
		bputs(b,
		      "\">Case reference <input name=\"case\" id=\"case\" maxlength=\"128\" "
		      "required> <button id=\"hold\">Place a hold on this call</button></form>\n");
		/* Every call of one of this call's participants (the holds page has the rest). */
		st = prep("SELECT DISTINCT p.aor FROM participants p JOIN sessions s ON s.id = "
			  "p.session_id WHERE s.uuid = ?1 AND p.aor IS NOT NULL AND p.aor <> '' "
			  "ORDER BY p.aor",
			  id);
		n = 0;
		while (st && sqlite3_step(st) == SQLITE_ROW) {
			if (n++ == 0)
				bprintf(b,
					"<form method=\"post\" action=\"/hold\" id=\"holdaor\">"
					"<input type=\"hidden\" name=\"csrf\" value=\"%s\"><input "
					"type=\"hidden\" name=\"kind\" value=\"aor\">Every call of "
					"<select name=\"aor\">",
					s->csrf);
			bputs(b, "<option>");
			besc(b, (const char *)sqlite3_column_text(st, 0));
			bputs(b, "</option>");
		}
		sqlite3_finalize(st);
		if (n > 0)
			bputs(b,
			      "</select> Case reference <input name=\"case\" maxlength=\"128\" "
			      "required> <button>Place a hold on this participant</button></form>"
			      "\n<p><a href=\"/holds\">Every hold, and holds on a time range"
			      "</a></p>\n");
	}
}

/* Erasure (admin): one form per participant AoR; it leads to a dry run first (do_erase). */
static void erase_section(struct buf *b, const struct websession *s, const char *id)
{
	sqlite3_stmt *st;

	if (users[s->user].role < ROLE_ADMIN)
		return;
	st = prep("SELECT DISTINCT p.aor FROM participants p JOIN sessions s ON s.id = "
		  "p.session_id WHERE s.uuid = ?1 AND p.aor IS NOT NULL AND p.aor <> '' "
		  "ORDER BY p.aor",
		  id);
	bputs(b, "<h2>Erasure</h2>\n<p>Erase every recording of a participant (GDPR): you see "
		 "what would go before anything is erased.</p>\n");
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		bprintf(b,
			"<form method=\"post\" action=\"/erase\" class=\"erase\"><input "
			"type=\"hidden\" name=\"csrf\" value=\"%s\"><input type=\"hidden\" "
			"name=\"aor\" value=\"",
			s->csrf);
		besc(b, (const char *)sqlite3_column_text(st, 0));
		bputs(b, "\"><button>Erase all recordings of ");
		besc(b, (const char *)sqlite3_column_text(st, 0));
		bputs(b, "</button></form>\n");
	}
	sqlite3_finalize(st);
}

/*
 * POST /hold (kind session with id, aor with aor, range with from and to) and /hold/release
 * (hold; id, when given, is the call page to return to, else /holds). Supervisor and above.
 */

/* An AoR's blind indexes under the key store's data key versions (web_aor_indexes). */
struct aor_idx {
	const char **ptrs;
	size_t n;
};

static int aor_idx_get(const char *aor, struct aor_idx *x)
{
	return web_aor_indexes(aor, &x->ptrs, &x->n);
}

static void aor_idx_free(struct aor_idx *x)
{
	free(x->ptrs);
}
static enum MHD_Result do_hold(struct MHD_Connection *c, struct websession *s, struct req *rq,
			       bool release)
{
	char err[512], actor[96], loc[PARAM_MAX + 16], detail[PARAM_MAX * 4 + 64];
	const char *kind = rq->kind[0] ? rq->kind : "session";
	bool on_call = release ? rq->id[0] != '\0' : strcmp(kind, "session") == 0;
	int64_t t_from = -1, t_to = -1;
	unsigned hid = 0;
	int64_t id = 0;
	sqlite3 *wdb;
	int r;

	if (users[s->user].role < ROLE_SUPERVISOR) {
		audit(users[s->user].name, release ? "release-refused" : "hold-refused",
		      valid_uuid(rq->id) ? rq->id : NULL, NULL);
		return error_page(c, MHD_HTTP_FORBIDDEN,
				  "Only a supervisor places or releases holds.", s);
	}
	if (!release && strcmp(kind, "session") && strcmp(kind, "aor") && strcmp(kind, "range"))
		return error_page(c, MHD_HTTP_BAD_REQUEST, "kind must be session, aor or range.",
				  s);
	if (on_call && !valid_uuid(rq->id))
		return error_page(c, MHD_HTTP_BAD_REQUEST, "id must be a session uuid.", s);
	if (!release && strcmp(kind, "aor") == 0 && !valid_text(rq->aor, PARAM_MAX))
		return error_page(c, MHD_HTTP_BAD_REQUEST,
				  "AoR: 1..128 characters, no control characters.", s);
	/* A range is whole minutes, both ends included (the calls list's from/to format). */
	if (!release && strcmp(kind, "range") == 0 &&
	    (!rq->from[0] || !rq->to[0] || parse_time(rq->from, &t_from) < 0 ||
	     parse_time(rq->to, &t_to) < 0 || t_from < 0 || t_from > t_to))
		return error_page(c, MHD_HTTP_BAD_REQUEST,
				  "Time range: from and to as YYYY-MM-DDTHH:MM (UTC), from at most "
				  "to.",
				  s);
	if (release ? parse_uint(rq->hold, INT32_MAX, &hid) < 0 || hid == 0 ||
			      (rq->reason[0] && !valid_text(rq->reason, PARAM_MAX))
		    : !valid_text(rq->case_ref, PARAM_MAX))
		return error_page(c, MHD_HTTP_BAD_REQUEST,
				  release ? "hold must be a hold id; reason: at most 128 "
					    "characters, no control characters."
					  : "Case reference: 1..128 characters, no control "
					    "characters.",
				  s);
	wdb = catalog_rw(err, sizeof(err));
	if (!wdb)
		return error_page(c, MHD_HTTP_SERVICE_UNAVAILABLE, err, s);
	snprintf(actor, sizeof(actor), "siprec-web:%s", users[s->user].name);
	if (release) {
		r = compliance_hold_release(wdb, hid, actor, rq->reason[0] ? rq->reason : NULL);
		id = hid;
	} else if (!on_call) {
		bool aor = strcmp(kind, "aor") == 0;
		/* to the end of to's minute (or of its second, when it has one) */
		uint64_t to_end = strlen(rq->to) > 16 ? 999 : 59999;
		struct aor_idx ai = {0};

		/* A hold by AoR also keeps the calls of a participant whose metadata is sealed:
		 * it carries the AoR's blind index under every data key version. */
		r = aor ? aor_idx_get(rq->aor, &ai) : 0;
		if (r >= 0)
			r = compliance_hold_add(wdb,
						&(struct compliance_hold){
							.kind = kind,
							.aor = aor ? rq->aor : NULL,
							.from_ms = aor ? 0 : (uint64_t)t_from,
							.to_ms = aor ? 0 : (uint64_t)t_to + to_end,
							.case_ref = rq->case_ref,
							.actor = actor,
							.aor_indexes = ai.ptrs,
							.n_aor_indexes = ai.n},
						&id);
		aor_idx_free(&ai);
	} else {
		sqlite3_stmt *st = NULL;

		/* Only a call the catalog knows: a hold on a typo would keep nothing. */
		r = sqlite3_prepare_v2(wdb, "SELECT 1 FROM sessions WHERE uuid = ?1", -1, &st,
				       NULL) == SQLITE_OK
			    ? 0
			    : -EIO;
		if (r == 0) {
			sqlite3_bind_text(st, 1, rq->id, -1, SQLITE_STATIC);
			r = sqlite3_step(st) == SQLITE_ROW ? 0 : -ENOENT;
		}
		sqlite3_finalize(st);
		if (r == 0)
			r = compliance_hold_add(wdb,
						&(struct compliance_hold){.kind = "session",
									  .session_uuid = rq->id,
									  .case_ref = rq->case_ref,
									  .actor = actor},
						&id);
	}
	sqlite3_close(wdb);
	if (r == -ENOENT)
		return error_page(c, MHD_HTTP_NOT_FOUND,
				  release ? "No such hold." : "No such call.", s);
	if (r == -EALREADY)
		return error_page(c, MHD_HTTP_CONFLICT, "That hold is released already.", s);
	if (r < 0)
		return error_page(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
				  "The catalog refused the change (see the journal).", s);
	if (release)
		snprintf(detail, sizeof(detail), "hold=%" PRId64 " reason=%s", id, rq->reason);
	else if (strcmp(kind, "aor") == 0)
		snprintf(detail, sizeof(detail), "hold=%" PRId64 " case=%s kind=aor aor=%s", id,
			 rq->case_ref, rq->aor);
	else if (strcmp(kind, "range") == 0)
		snprintf(detail, sizeof(detail),
			 "hold=%" PRId64 " case=%s kind=range from=%s to=%s", id, rq->case_ref,
			 rq->from, rq->to);
	else
		snprintf(detail, sizeof(detail), "hold=%" PRId64 " case=%s", id, rq->case_ref);
	audit(users[s->user].name, release ? "hold-released" : "hold-placed",
	      on_call ? rq->id : NULL, detail);
	if (!on_call)
		return redirect(c, "/holds", NULL);
	snprintf(loc, sizeof(loc), "/call?id=%s", rq->id);
	return redirect(c, loc, NULL);
}

/*
 * The holds page (supervisor and above): every hold in force, with how many calls it keeps and
 * a release form, and the forms that place a hold on a participant's AoR (every call of it,
 * past and future) or on a time range of call starts.
 */
static enum MHD_Result page_holds(struct MHD_Connection *c, struct websession *s)
{
	struct buf b = {0};
	sqlite3_stmt *st = NULL;
	int n = 0;

	if (users[s->user].role < ROLE_SUPERVISOR) {
		audit(users[s->user].name, "holds-refused", NULL, NULL);
		return error_page(c, MHD_HTTP_FORBIDDEN, "Only a supervisor sees and places holds.",
				  s);
	}
	page_head(&b, "Legal holds", s);
	bputs(&b, "<table id=\"allholds\"><tr><th>Hold</th><th>Kind</th><th>On</th><th>Case"
		  "</th><th>Placed by</th><th>Placed (UTC)</th><th>Calls kept</th><th>Release"
		  "</th></tr>\n");
	if (have_holds && sqlite3_prepare_v2(db, holds_page_sql, -1, &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			int64_t hid = sqlite3_column_int64(st, 0);
			const char *kind = (const char *)sqlite3_column_text(st, 1);
			char t[32], f[32], to[32];

			bprintf(&b,
				"<tr class=\"hold\" data-hold=\"%" PRId64 "\"><td>%" PRId64
				"</td><td>",
				hid, hid);
			besc(&b, kind);
			bputs(&b, "</td><td>");
			if (kind && strcmp(kind, "session") == 0) {
				bputs(&b, "<a href=\"/call?id=");
				burl(&b, (const char *)sqlite3_column_text(st, 2));
				bputs(&b, "\">");
				besc(&b, (const char *)sqlite3_column_text(st, 2));
				bputs(&b, "</a>");
			} else if (kind && strcmp(kind, "aor") == 0) {
				besc(&b, (const char *)sqlite3_column_text(st, 3));
			} else {
				fmt_time(f, sizeof(f), sqlite3_column_int64(st, 4));
				fmt_time(to, sizeof(to), sqlite3_column_int64(st, 5));
				bprintf(&b, "calls started %s .. %s", f, to);
			}
			bputs(&b, "</td><td>");
			besc(&b, (const char *)sqlite3_column_text(st, 6));
			bputs(&b, "</td><td>");
			besc(&b, (const char *)sqlite3_column_text(st, 7));
			fmt_time(t, sizeof(t), sqlite3_column_int64(st, 8));
			bprintf(&b,
				"</td><td>%s</td><td class=\"kept\">%" PRId64 "</td><td><form "
				"method=\"post\" action=\"/hold/release\" class=\"release\"><input "
				"type=\"hidden\" name=\"csrf\" value=\"%s\"><input type=\"hidden\" "
				"name=\"hold\" value=\"%" PRId64 "\"><input name=\"reason\" "
				"maxlength=\"128\" placeholder=\"reason\"> <button>Release</button>"
				"</form></td></tr>\n",
				t, (int64_t)sqlite3_column_int64(st, 9), s->csrf, hid);
			n++;
		}
	}
	sqlite3_finalize(st);
	bputs(&b, "</table>\n");
	if (!have_holds)
		bputs(&b, "<p id=\"noholds\">This catalog has no legal holds table.</p>\n");
	else if (n == 0)
		bputs(&b, "<p id=\"noholds\">No hold is in force.</p>\n");
	bprintf(&b,
		"<h2>Hold every call of a participant</h2><form method=\"post\" action=\"/hold\" "
		"id=\"holdaor\"><input type=\"hidden\" name=\"csrf\" value=\"%s\"><input "
		"type=\"hidden\" name=\"kind\" value=\"aor\">AoR <input name=\"aor\" "
		"id=\"aor\" maxlength=\"128\" placeholder=\"sip:alice@example.com\" required> "
		"Case reference <input name=\"case\" maxlength=\"128\" required> <button>Place "
		"the hold</button></form>\n<p>Keeps every call where the AoR (any case) is a "
		"participant, and every call of it recorded later, until released.</p>\n"
		"<h2>Hold the calls of a time range</h2><form method=\"post\" action=\"/hold\" "
		"id=\"holdrange\"><input type=\"hidden\" name=\"csrf\" value=\"%s\"><input "
		"type=\"hidden\" name=\"kind\" value=\"range\">Started from <input "
		"type=\"datetime-local\" name=\"from\" required> to <input "
		"type=\"datetime-local\" name=\"to\" required> (UTC, both minutes included) "
		"Case reference <input name=\"case\" maxlength=\"128\" required> <button>Place "
		"the hold</button></form>\n</body></html>\n",
		s->csrf, s->csrf);
	return send_buf(c, MHD_HTTP_OK, "text/html; charset=utf-8", &b, NULL);
}

struct erase_ctx {
	struct buf *b;
	char **sessions; /* whose cached WAVs go */
	size_t n;
};

static void erase_item(void *userdata, const struct compliance_item *it)
{
	struct erase_ctx *e = userdata;

	bputs(e->b, "<tr><td>");
	besc(e->b, it->recording_uuid);
	bputs(e->b, "</td><td>");
	besc(e->b, it->session_uuid);
	bprintf(e->b, "</td><td>%s</td></tr>\n",
		it->held   ? "held: kept"
		: it->done ? "erased"
			   : "would be erased");
	if (it->done && it->session_uuid && valid_uuid(it->session_uuid)) {
		char **v = realloc(e->sessions, (e->n + 1) * sizeof(*v));

		if (v) {
			e->sessions = v;
			e->sessions[e->n] = strdup(it->session_uuid);
			if (e->sessions[e->n])
				e->n++;
		}
	}
}

/*
 * Erasure of one data subject (admin): without confirm=yes a dry run lists what would go, with
 * a form to confirm; with it, compliance_erase_indexed deletes (held recordings stay) and the
 * decrypted WAVs of those calls leave the console's cache. The journal names the subject only by
 * the SHA-256 of its lowercased AoR, as the trail does.
 */
static enum MHD_Result do_erase(struct MHD_Connection *c, struct websession *s, struct req *rq)
{
	bool confirm = strcmp(rq->confirm, "yes") == 0;
	struct compliance_result res = {0};
	char err[512], actor[96], lower[PARAM_MAX + 1], detail[160], subject[65], *base;
	unsigned char md[32];
	struct buf b = {0};
	struct erase_ctx e = {.b = &b};
	struct aor_idx ai = {0};
	sqlite3 *wdb;
	size_t n;
	int r;

	if (users[s->user].role < ROLE_ADMIN) {
		audit(users[s->user].name, "erase-refused", NULL, NULL);
		return error_page(c, MHD_HTTP_FORBIDDEN, "Only an admin erases recordings.", s);
	}
	if (!valid_text(rq->aor, PARAM_MAX) || (rq->confirm[0] && !confirm))
		return error_page(c, MHD_HTTP_BAD_REQUEST,
				  "aor: 1..128 characters, no control characters; confirm: yes or "
				  "absent.",
				  s);
	n = strlen(rq->aor);
	for (size_t i = 0; i <= n; i++)
		lower[i] = (char)tolower((unsigned char)rq->aor[i]);
	EVP_Digest(lower, n, md, NULL, EVP_sha256(), NULL);
	for (size_t i = 0; i < 32; i++)
		sprintf(subject + 2 * i, "%02x", md[i]);
	wdb = catalog_rw(err, sizeof(err));
	if (!wdb)
		return error_page(c, MHD_HTTP_SERVICE_UNAVAILABLE, err, s);
	snprintf(actor, sizeof(actor), "siprec-web:%s", users[s->user].name);
	base = strdup(arg.catalog);
	if (base && strrchr(base, '/'))
		*strrchr(base, '/') = '\0';
	else if (base)
		strcpy(base, ".");
	page_head(&b, confirm ? "Erasure done" : "Erasure: what would go", s);
	bputs(&b, "<table id=\"erase\"><tr><th>Recording</th><th>Call</th><th>Outcome</th></tr>\n");
	/* participants whose metadata is sealed are found by the AoR's blind indexes */
	r = base ? aor_idx_get(rq->aor, &ai) : -ENOMEM;
	if (r >= 0)
		r = compliance_erase_indexed(wdb, rq->aor, ai.ptrs, ai.n, !confirm, actor, base,
					     erase_item, &e, &res);
	aor_idx_free(&ai);
	bputs(&b, "</table>\n");
	sqlite3_close(wdb);
	free(base);
	for (size_t i = 0; i < e.n; i++) {
		char path[PATH_MAX];

		if (snprintf(path, sizeof(path), "%s/%s.wav", arg.cache, e.sessions[i]) <
		    (int)sizeof(path))
			unlink(path);
		free(e.sessions[i]);
	}
	free(e.sessions);
	if (r < 0) {
		free(b.p);
		return error_page(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
				  "The erasure failed (see the journal).", s);
	}
	snprintf(detail, sizeof(detail), "subject-sha256=%s matched=%u %s=%u held=%u failed=%u",
		 subject, res.matched, confirm ? "erased" : "would-erase",
		 confirm ? res.deleted : res.matched - res.held, res.held, res.failed);
	audit(users[s->user].name, confirm ? "erase" : "erase-preview", NULL, detail);
	bprintf(&b,
		"<p id=\"erase-summary\">%u recording%s of this participant: %u %s, %u held "
		"(kept), %u failed.</p>\n",
		res.matched, res.matched == 1 ? "" : "s",
		confirm ? res.deleted : res.matched - res.held,
		confirm ? "erased" : "would be erased", res.held, res.failed);
	if (!confirm && res.matched > res.held) {
		bprintf(&b,
			"<form method=\"post\" action=\"/erase\" id=\"confirm-erase\"><input "
			"type=\"hidden\" name=\"csrf\" value=\"%s\"><input type=\"hidden\" "
			"name=\"aor\" value=\"",
			s->csrf);
		besc(&b, rq->aor);
		bputs(&b, "\"><input type=\"hidden\" name=\"confirm\" value=\"yes\"><button>Erase "
			  "them now (cannot be undone)</button></form>\n");
	}
	bputs(&b, "</body></html>\n");
	return send_buf(c, MHD_HTTP_OK, "text/html; charset=utf-8", &b, NULL);
}

/* ---- the files of a call: integrity verdict and waveform (recording.c) ---- */

#define CALL_FILES_MAX 64

struct call_file {
	char uuid[65], label[65], state[16], reason[65];
	char *path, *sha256;
	bool deleted;
	struct web_rec_check check;
};

/* The session's recordings (under big_lock); returns how many, at most CALL_FILES_MAX. */
static unsigned call_files_load(const char *id, struct call_file *f)
{
	sqlite3_stmt *st = prep(
		have_holds ? "SELECT r.uuid, coalesce(st.label, ''), r.path, r.sha256, r.state,"
			     " r.deleted_at IS NOT NULL, coalesce(r.deleted_reason, '') FROM"
			     " recordings r JOIN sessions s ON s.id = r.session_id LEFT JOIN"
			     " streams st ON st.id = r.stream_id WHERE s.uuid = ?1 ORDER BY r.id"
			   : "SELECT r.uuid, coalesce(st.label, ''), r.path, r.sha256, r.state,"
			     " 0, '' FROM recordings r JOIN sessions s ON s.id = r.session_id"
			     " LEFT JOIN streams st ON st.id = r.stream_id WHERE s.uuid = ?1"
			     " ORDER BY r.id",
		id);
	const char *slash = strrchr(arg.catalog, '/');
	int dirlen = slash ? (int)(slash - arg.catalog) : 1;
	const char *dir = slash ? arg.catalog : ".";
	unsigned n = 0;

	while (st && n < CALL_FILES_MAX && sqlite3_step(st) == SQLITE_ROW) {
		const char *path = (const char *)sqlite3_column_text(st, 2);
		const char *sha = (const char *)sqlite3_column_text(st, 3);
		struct call_file *cf = &f[n];

		memset(cf, 0, sizeof(*cf));
		scopy(cf->uuid, sizeof(cf->uuid), (const char *)sqlite3_column_text(st, 0));
		scopy(cf->label, sizeof(cf->label), (const char *)sqlite3_column_text(st, 1));
		scopy(cf->state, sizeof(cf->state), (const char *)sqlite3_column_text(st, 4));
		cf->deleted = sqlite3_column_int(st, 5);
		scopy(cf->reason, sizeof(cf->reason), (const char *)sqlite3_column_text(st, 6));
		/* Relative paths in the catalog are relative to its directory. */
		if (!path ||
		    (path[0] == '/' ? !(cf->path = strdup(path))
				    : asprintf(&cf->path, "%.*s/%s", dirlen, dir, path) < 0))
			cf->path = NULL;
		cf->sha256 = sha ? strdup(sha) : NULL;
		n++;
	}
	sqlite3_finalize(st);
	return n;
}

/*
 * One file's verdict; a recording whose local file was removed after its upload
 * (S3_DELETE_LOCAL_AFTER, docs/STORAGE.md) is read from the bucket through the storage code
 * siprec-export uses (s3_recording_open: downloaded into the console's private cache, compared
 * with the catalog's verified size and sha256, checked, removed).
 */
static void call_file_check(struct call_file *f, bool want_wave)
{
	char err[1024] = "", *path = NULL;
	bool tmp = false;
	int r;

	if (access(f->path, F_OK) == 0 || errno != ENOENT || !arg.s3.endpoint) {
		web_rec_check(f->path, f->sha256, want_wave, &f->check);
		return;
	}
	r = s3_recording_open(&arg.s3, arg.catalog, f->uuid, f->path, arg.cache, &path, &tmp, err,
			      sizeof(err));
	if (r == -ENOENT) { /* neither on disk nor offloaded */
		web_rec_check(f->path, f->sha256, want_wave, &f->check);
		return;
	}
	if (r < 0) {
		snprintf(f->check.verdict, sizeof(f->check.verdict), "%s",
			 r == -EBADMSG ? "broken" : "unreadable");
		snprintf(f->check.detail, sizeof(f->check.detail), "%s", err);
		return;
	}
	web_rec_check(path, f->sha256, want_wave, &f->check);
	if (strlen(f->check.detail) + 20 < sizeof(f->check.detail))
		strcat(f->check.detail, "; from the bucket");
	if (tmp)
		unlink(path);
	free(path);
}

/* Reads every file (without big_lock: f is this request's own copy). */
static void call_files_check(struct call_file *f, unsigned n, bool want_wave)
{
	for (unsigned i = 0; i < n; i++) {
		if (f[i].deleted) {
			scopy(f[i].check.verdict, sizeof(f[i].check.verdict), "deleted");
			scopy(f[i].check.detail, sizeof(f[i].check.detail), f[i].reason);
		} else if (!f[i].path) {
			scopy(f[i].check.verdict, sizeof(f[i].check.verdict), "missing");
		} else {
			call_file_check(&f[i], want_wave);
			/* A file being written has no FINAL chunk yet: that is no fault. */
			if (strcmp(f[i].state, "writing") == 0 &&
			    strcmp(f[i].check.verdict, "incomplete") == 0)
				scopy(f[i].check.verdict, sizeof(f[i].check.verdict), "recording");
		}
	}
}

static void call_files_render(struct buf *b, struct call_file *f, unsigned n, bool wave)
{
	bputs(b, "<h2>Files</h2>\n<table id=\"files\"><tr><th>Stream</th><th>Recording</th>"
		 "<th>Integrity</th><th>Detail</th>");
	if (wave)
		bputs(b, "<th>Waveform</th>");
	bputs(b, "</tr>\n");
	for (unsigned i = 0; i < n; i++) {
		bputs(b, "<tr class=\"file\"><td>");
		besc(b, f[i].label);
		bputs(b, "</td><td>");
		besc(b, f[i].uuid);
		bputs(b, "</td><td class=\"verdict\">");
		besc(b, f[i].check.verdict);
		bputs(b, "</td><td>");
		besc(b, f[i].check.detail);
		bputs(b, "</td>");
		if (wave) {
			bputs(b, "<td>");
			/* recording.c's SVG: numbers only, nothing from the file or the user. */
			if (f[i].check.svg)
				bput(b, f[i].check.svg, strlen(f[i].check.svg));
			bputs(b, "</td>");
		}
		bputs(b, "</tr>\n");
		free(f[i].path);
		free(f[i].sha256);
		free(f[i].check.svg);
	}
	bputs(b, "</table>\n");
}

static enum MHD_Result page_call(struct MHD_Connection *c, struct websession *s)
{
	const char *id = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "id");
	sqlite3_stmt *st;
	struct buf b = {0};
	char t0[32], t1[32], title[96];
	int64_t started, ended;

	struct call_file *files;
	unsigned nfiles;
	bool wave;

	if (!valid_uuid(id))
		return error_page(c, MHD_HTTP_BAD_REQUEST, "id must be a session uuid.", s);
	/* The files first, read without the lock; then the page, with the session looked up
	 * again (it may have logged out meanwhile). */
	files = calloc(CALL_FILES_MAX, sizeof(*files));
	if (!files)
		return MHD_NO;
	nfiles = call_files_load(id, files);
	wave = users[s->user].role >= ROLE_LISTENER;
	pthread_mutex_unlock(&big_lock);
	call_files_check(files, nfiles, wave);
	pthread_mutex_lock(&big_lock);
	s = session_find(c);
	if (!s) {
		for (unsigned i = 0; i < nfiles; i++) {
			free(files[i].path);
			free(files[i].sha256);
			free(files[i].check.svg);
		}
		free(files);
		return redirect(c, "/login", NULL);
	}
	wave = users[s->user].role >= ROLE_LISTENER;
	st = prep("SELECT started_at, ended_at, state, coalesce(end_reason, ''), "
		  "coalesce(src_addr, ''), coalesce(call_id, ''), coalesce(siprec_session_id, ''), "
		  "coalesce(transport, '') FROM sessions WHERE uuid = ?1",
		  id);
	if (!st || sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		call_files_render(&b, files, nfiles, false);
		free(b.p);
		free(files);
		return error_page(c, MHD_HTTP_NOT_FOUND, "No such call.", s);
	}
	audit(users[s->user].name, "view", id, NULL);
	started = sqlite3_column_int64(st, 0);
	ended = sqlite3_column_int64(st, 1);
	fmt_time(t0, sizeof(t0), started);
	fmt_time(t1, sizeof(t1), ended);
	snprintf(title, sizeof(title), "Call %s", id);
	page_head(&b, title, s);
	bprintf(&b,
		"<table id=\"facts\"><tr><th>Started (UTC)</th><td>%s</td></tr>"
		"<tr><th>Ended</th><td>%s</td></tr>",
		t0, t1);
	if (ended > started)
		bprintf(&b, "<tr><th>Duration</th><td id=\"duration\">%.3f s</td></tr>",
			(double)(ended - started) / 1000.0);
	static const char *const names[] = {"State",   "End reason",	 "SRC",
					    "Call-ID", "SIPREC session", "Transport"};
	for (int i = 0; i < 6; i++) {
		bprintf(&b, "<tr><th>%s</th><td>", names[i]);
		besc(&b, (const char *)sqlite3_column_text(st, 2 + i));
		bputs(&b, "</td></tr>");
	}
	bputs(&b, "</table>\n");
	sqlite3_finalize(st);

	bputs(&b, "<h2>Participants</h2>\n");
	table(&b, "participants", "Participant id|Name|AoR",
	      prep("SELECT p.participant_id, p.name, p.aor FROM participants p JOIN sessions s ON "
		   "s.id = p.session_id WHERE s.uuid = ?1 ORDER BY p.id",
		   id));
	bputs(&b, "<h2>Streams</h2>\n");
	table(&b, "streams", "Label|Sender|Codec|Rate|SRTP|Packets|Lost|State",
	      prep("SELECT st.label, p.name, st.codec, st.clock_rate, st.srtp_suite, st.packets, "
		   "st.lost, st.state FROM streams st JOIN sessions s ON s.id = st.session_id "
		   "LEFT JOIN participants p ON p.id = st.participant_id WHERE s.uuid = ?1 "
		   "ORDER BY st.id",
		   id));
	bputs(&b, "<h2>Correlation ids</h2>\n");
	table(&b, "context", "Source|Name|Value",
	      prep("SELECT c.source, c.name, c.value FROM session_context c JOIN sessions s ON "
		   "s.id = c.session_id WHERE s.uuid = ?1 ORDER BY c.id",
		   id));
	bputs(&b, "<h2>DTMF</h2>\n");
	table(&b, "dtmf", "Digit|At (UTC ms)|Duration (ms)|Stream",
	      prep("SELECT coalesce(d.digit, d.event), d.started_at, d.duration_ms, st.label FROM "
		   "dtmf_events d JOIN sessions s ON s.id = d.session_id LEFT JOIN streams st ON "
		   "st.id = d.stream_id WHERE s.uuid = ?1 ORDER BY d.started_at, d.id",
		   id));
	bputs(&b, "<h2>Audio</h2>\n");
	if (users[s->user].role >= ROLE_LISTENER) {
		bputs(&b, "<audio id=\"player\" controls preload=\"metadata\" src=\"/audio?id=");
		burl(&b, id);
		bputs(&b, "\"></audio> <a id=\"download\" href=\"/audio?id=");
		burl(&b, id);
		bputs(&b, "&amp;download=1\">Download WAV</a>\n");
	} else {
		bputs(&b, "<p id=\"noaudio\">Your role may see the metadata only.</p>\n");
	}
	call_files_render(&b, files, nfiles, wave);
	free(files);
	holds_section(&b, s, id);
	erase_section(&b, s, id);
	bputs(&b, "</body></html>\n");
	return send_buf(c, MHD_HTTP_OK, "text/html; charset=utf-8", &b, NULL);
}

/* The decrypted WAV of a session, made once by siprec-export into the private cache. Runs
 * without big_lock (it waits for the child): uses nothing shared but arg. */
static int session_wav(const char *uuid, char *path, size_t n)
{
	char tmp[PATH_MAX];
	struct stat sb;
	pid_t pid;
	int status;

	static unsigned long serial; /* two requests decoding one call write two files */
	unsigned long me = __atomic_add_fetch(&serial, 1, __ATOMIC_RELAXED);

	if (snprintf(path, n, "%s/%s.wav", arg.cache, uuid) >= (int)n ||
	    snprintf(tmp, sizeof(tmp), "%s/%s.wav.tmp%lu.wav", arg.cache, uuid, me) >=
		    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	if (stat(path, &sb) == 0)
		return 0;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		const char *av[16];
		int a = 0;
		int devnull = open("/dev/null", O_RDWR);

		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 1);
		}
		av[a++] = arg.export_bin;
		if (arg.config) {
			av[a++] = "--config";
			av[a++] = arg.config;
		}
		/* Write-only recordings: the same key file, read by siprec-export's own code. */
		if (arg.private_key) {
			av[a++] = "--private-key";
			av[a++] = arg.private_key;
		}
		av[a++] = "--session";
		av[a++] = uuid;
		av[a++] = "--catalog";
		av[a++] = arg.catalog;
		av[a++] = "-o";
		av[a++] = tmp;
		av[a] = NULL;
		execv(arg.export_bin, (char *const *)av);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		unlink(tmp);
		return -EIO;
	}
	return rename(tmp, path) ? -errno : 0;
}

/* One "bytes=A-B", "bytes=A-" or "bytes=-N" range of a file of size sz; -EINVAL otherwise. */
static int parse_range(const char *h, uint64_t sz, uint64_t *ret_from, uint64_t *ret_to)
{
	uint64_t a, b;
	char *end;

	if (strncmp(h, "bytes=", 6) != 0)
		return -EINVAL;
	h += 6;
	if (*h == '-') {
		if (!isdigit((unsigned char)h[1]))
			return -EINVAL;
		errno = 0;
		b = strtoull(h + 1, &end, 10);
		if (errno || *end || b == 0 || sz == 0)
			return -EINVAL;
		*ret_from = b >= sz ? 0 : sz - b;
		*ret_to = sz - 1;
		return 0;
	}
	if (!isdigit((unsigned char)*h))
		return -EINVAL;
	errno = 0;
	a = strtoull(h, &end, 10);
	if (errno || *end != '-')
		return -EINVAL;
	h = end + 1;
	if (*h) {
		if (!isdigit((unsigned char)*h))
			return -EINVAL;
		b = strtoull(h, &end, 10);
		if (errno || *end || b < a)
			return -EINVAL;
	} else {
		b = sz ? sz - 1 : 0;
	}
	if (a >= sz)
		return -ERANGE;
	*ret_from = a;
	*ret_to = b >= sz ? sz - 1 : b;
	return 0;
}

static enum MHD_Result page_audio(struct MHD_Connection *c, struct websession *s)
{
	const char *id = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "id");
	const char *dl = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "download");
	const char *range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Range");
	char path[PATH_MAX], hdr[128], user[sizeof(users[0].name)];
	sqlite3_stmt *st;
	struct MHD_Response *resp;
	struct stat sb;
	uint64_t from = 0, to = 0;
	unsigned status = MHD_HTTP_OK;
	enum MHD_Result ret;
	int fd, r;

	if (users[s->user].role < ROLE_LISTENER) {
		audit(users[s->user].name, "play-refused", valid_uuid(id) ? id : NULL, NULL);
		return error_page(c, MHD_HTTP_FORBIDDEN, "Your role may not play recordings.", s);
	}
	if (!valid_uuid(id) || (dl && strcmp(dl, "1")))
		return error_page(c, MHD_HTTP_BAD_REQUEST, "id must be a session uuid.", s);
	st = prep("SELECT 1 FROM sessions WHERE uuid = ?1", id);
	r = st ? sqlite3_step(st) : SQLITE_ERROR;
	sqlite3_finalize(st);
	if (r != SQLITE_ROW)
		return error_page(c, MHD_HTTP_NOT_FOUND, "No such call.", s);
	scopy(user, sizeof(user), users[s->user].name);
	pthread_mutex_unlock(&big_lock);
	r = session_wav(id, path, sizeof(path));
	pthread_mutex_lock(&big_lock);
	/* s may have been logged out meanwhile; this request was allowed when it came. */
	s = NULL;
	if (r < 0)
		return error_page(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
				  "siprec-export could not decrypt this call (see the journal).",
				  s);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) < 0) {
		if (fd >= 0)
			close(fd);
		return error_page(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "WAV not readable.", s);
	}
	from = 0;
	to = (uint64_t)sb.st_size - 1;
	if (range) {
		r = parse_range(range, (uint64_t)sb.st_size, &from, &to);
		if (r < 0) {
			close(fd);
			snprintf(hdr, sizeof(hdr), "bytes */%" PRIu64, (uint64_t)sb.st_size);
			resp = MHD_create_response_from_buffer(0, (char *)"",
							       MHD_RESPMEM_PERSISTENT);
			MHD_add_response_header(resp, "Content-Range", hdr);
			ret = MHD_queue_response(c, MHD_HTTP_RANGE_NOT_SATISFIABLE, resp);
			MHD_destroy_response(resp);
			return ret;
		}
		status = MHD_HTTP_PARTIAL_CONTENT;
	}
	/* Audit the start of a playback (first request) and every download, not each seek. */
	if (dl || !range || from == 0) {
		audit(user, dl ? "download" : "play", id, NULL);
		/* Hashes every recording of the call: not under the lock. */
		pthread_mutex_unlock(&big_lock);
		trail_access(user, dl ? "exported" : "played", id);
		pthread_mutex_lock(&big_lock);
	}
	resp = MHD_create_response_from_fd_at_offset64(to - from + 1, fd, from);
	MHD_add_response_header(resp, "Content-Type", "audio/wav");
	MHD_add_response_header(resp, "Accept-Ranges", "bytes");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (status == MHD_HTTP_PARTIAL_CONTENT) {
		snprintf(hdr, sizeof(hdr), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, from, to,
			 (uint64_t)sb.st_size);
		MHD_add_response_header(resp, "Content-Range", hdr);
	}
	if (dl) {
		snprintf(hdr, sizeof(hdr), "attachment; filename=\"%s.wav\"", id);
		MHD_add_response_header(resp, "Content-Disposition", hdr);
	}
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/*
 * One varlink call on siprecd's control socket with params (taken; NULL: none); the reply's
 * parameters, or NULL with the reason in err (a varlink error name, or why the socket failed).
 */
static json_object *varlink_call(const char *method, json_object *params_in, char *err,
				 size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	json_object *req, *reply = NULL, *params = NULL;
	char *rb = NULL;
	size_t rl = 0, cap = 0;
	const char *s;
	int fd;

	snprintf(err, errlen, "no control socket configured");
	if (!arg.control || strlen(arg.control) >= sizeof(sa.sun_path)) {
		json_object_put(params_in);
		return NULL;
	}
	strcpy(sa.sun_path, arg.control);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		json_object_put(params_in);
		return NULL;
	}
	struct timeval tv = {.tv_sec = 2};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, errlen, "%s: %s", arg.control, strerror(errno));
		close(fd);
		json_object_put(params_in);
		return NULL;
	}
	snprintf(err, errlen, "siprecd did not answer");
	req = json_object_new_object();
	json_object_object_add(req, "method", json_object_new_string(method));
	json_object_object_add(req, "parameters", params_in ? params_in : json_object_new_object());
	s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	if (send(fd, s, strlen(s) + 1, MSG_NOSIGNAL) != (ssize_t)strlen(s) + 1)
		goto out;
	for (;;) {
		ssize_t n;

		if (rl == cap) {
			if (cap >= (1 << 20))
				goto out;
			cap = cap ? cap * 2 : 16384;
			rb = realloc(rb, cap);
			if (!rb)
				abort();
		}
		n = recv(fd, rb + rl, cap - rl, 0);
		if (n <= 0)
			goto out;
		if (memchr(rb + rl, '\0', (size_t)n)) {
			rl += (size_t)n;
			break;
		}
		rl += (size_t)n;
	}
	reply = json_tokener_parse(rb);
	if (reply && json_object_object_get_ex(reply, "error", &params)) {
		snprintf(err, errlen, "%s", json_object_get_string(params));
		params = NULL;
	} else if (reply && json_object_object_get_ex(reply, "parameters", &params)) {
		json_object_get(params);
	} else {
		params = NULL;
	}
out:
	json_object_put(reply);
	json_object_put(req);
	free(rb);
	close(fd);
	return params;
}

/* ---- the status page: what `siprecctl status` shows, and more ---- */

static const char *jstr(json_object *o, const char *k)
{
	json_object *v;

	return o && json_object_object_get_ex(o, k, &v) && v ? json_object_get_string(v) : "";
}

static int64_t jint(json_object *o, const char *k)
{
	json_object *v;

	return o && json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

static json_object *jget(json_object *o, const char *k)
{
	json_object *v;

	return o && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

/* "3d 4h", "2h 05m", "12m 30s": the age of a unix-ms instant, or "-". */
static void fmt_age(char *out, size_t n, int64_t ms)
{
	int64_t s = (int64_t)time(NULL) - ms / 1000;

	if (ms <= 0)
		snprintf(out, n, "-");
	else if (s < 0)
		snprintf(out, n, "in the future");
	else if (s < 3600)
		snprintf(out, n, "%" PRId64 "m %02" PRId64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(out, n, "%" PRId64 "h %02" PRId64 "m", s / 3600, s % 3600 / 60);
	else
		snprintf(out, n, "%" PRId64 "d %" PRId64 "h", s / 86400, s % 86400 / 3600);
}

static void row(struct buf *b, const char *th, const char *td)
{
	bputs(b, "<tr><th>");
	besc(b, th);
	bputs(b, "</th><td>");
	besc(b, td);
	bputs(b, "</td></tr>\n");
}

static void daemon_rows(struct buf *b, json_object *v, json_object *h, json_object *live)
{
	char t[256];
	size_t off = 0;

	snprintf(t, sizeof(t), "%s (%s)", jstr(v, "version"), jstr(v, "git"));
	row(b, "siprecd", t);
	row(b, "Control socket", arg.control);
	row(b, "Health", jstr(h, "status"));
	row(b, "Draining", jint(h, "draining") ? "yes: new calls are refused" : "no");
	snprintf(t, sizeof(t), "%zu",
		 live ? json_object_array_length(jget(live, "sessions")) : (size_t)0);
	row(b, "Live sessions", live ? t : "?");
	row(b, "libsrtp2 backend", jstr(v, "srtp_backend"));
	snprintf(t, sizeof(t),
		 "%s (kernel TLS %savailable; %" PRId64 " tx, %" PRId64 " rx connections)",
		 jstr(v, "ktls_mode"),
		 json_object_get_boolean(jget(v, "ktls_available")) ? "" : "not ",
		 jint(v, "ktls_tx_connections"), jint(v, "ktls_rx_connections"));
	row(b, "kTLS", t);
	t[0] = '\0';
	if (jget(v, "io_uring_features")) {
		json_object_object_foreach(jget(v, "io_uring_features"), k, fv)
		{
			int w = snprintf(t + off, sizeof(t) - off, "%s%s%s", off ? " " : "",
					 json_object_get_boolean(fv) ? "+" : "-", k);

			if (w < 0 || (size_t)w >= sizeof(t) - off)
				break;
			off += (size_t)w;
		}
	}
	row(b, "io_uring", t);
}

static void checks_table(struct buf *b, json_object *h)
{
	json_object *checks = jget(h, "checks");

	bputs(b, "<h2>Health checks</h2>\n<table id=\"checks\"><tr><th>Check</th><th>Status</th>"
		 "<th>Detail</th></tr>\n");
	for (size_t i = 0; checks && i < json_object_array_length(checks) && i < 64; i++) {
		json_object *c = json_object_array_get_idx(checks, i);

		bputs(b, "<tr><td>");
		besc(b, jstr(c, "name"));
		bputs(b, "</td><td>");
		besc(b, jstr(c, "status"));
		bputs(b, "</td><td>");
		besc(b, jstr(c, "message"));
		bputs(b, "</td></tr>\n");
	}
	bputs(b, "</table>\n");
}

static void live_table(struct buf *b, json_object *live)
{
	json_object *a = jget(live, "sessions");
	size_t n = a ? json_object_array_length(a) : 0;

	bputs(b, "<h2>Live sessions</h2>\n");
	if (!live) {
		bputs(b, "<p id=\"live\">siprecd does not answer.</p>\n");
		return;
	}
	bputs(b,
	      "<table id=\"live\"><tr><th>Session</th><th>Peer</th><th>Transport</th>"
	      "<th>State</th><th>Started (UTC)</th><th>Participants</th><th>Streams</th></tr>\n");
	for (size_t i = 0; i < n && i < 200; i++) {
		json_object *o = json_object_array_get_idx(a, i), *p = jget(o, "participants"),
			    *st = jget(o, "streams");
		const char *id = jstr(o, "id");
		char t0[32];

		fmt_time(t0, sizeof(t0), jint(o, "started_usec") / 1000);
		bputs(b, "<tr><td>");
		if (valid_uuid(id)) {
			bputs(b, "<a href=\"/call?id=");
			burl(b, id);
			bputs(b, "\">");
			besc(b, id);
			bputs(b, "</a>");
		}
		bputs(b, "</td><td>");
		besc(b, jstr(o, "peer"));
		bputs(b, "</td><td>");
		besc(b, jstr(o, "transport"));
		bputs(b, "</td><td>");
		besc(b, jstr(o, "state"));
		bprintf(b, "</td><td>%s</td><td>%zu</td><td>%zu</td></tr>\n", t0,
			p ? json_object_array_length(p) : (size_t)0,
			st ? json_object_array_length(st) : (size_t)0);
	}
	bputs(b, "</table>\n");
	if (n > 200)
		bprintf(b, "<p>%zu sessions: the first 200 shown.</p>\n", n);
}

static void disk_table(struct buf *b)
{
	struct statvfs sv;

	bputs(b, "<h2>Disk</h2>\n");
	if (!arg.recording_dir || statvfs(arg.recording_dir, &sv) < 0) {
		bputs(b, "<p id=\"disk\">Recording directory unknown or not readable.</p>\n");
		return;
	}
	double total = (double)sv.f_blocks * sv.f_frsize, avail = (double)sv.f_bavail * sv.f_frsize;

	bputs(b, "<table id=\"disk\"><tr><th>Recording directory</th><td>");
	besc(b, arg.recording_dir);
	bprintf(b,
		"</td></tr><tr><th>Free</th><td id=\"diskfree\">%.2f GiB of %.2f GiB (%.0f%%)</td>"
		"</tr></table>\n",
		avail / (1 << 30), total / (1 << 30), total > 0 ? 100.0 * avail / total : 0.0);
}

struct keys_render {
	struct buf *b;
	unsigned n;
};

static int key_row(void *userdata, const struct keys_info *ki)
{
	struct keys_render *kr = userdata;
	char c[32], a[32], r[32];

	if (kr->n++ >= 100)
		return 0;
	fmt_age(c, sizeof(c), (int64_t)ki->created_at);
	fmt_age(a, sizeof(a), (int64_t)ki->activated_at);
	fmt_age(r, sizeof(r), (int64_t)(ki->destroyed_at ? ki->destroyed_at : ki->retired_at));
	bputs(kr->b, "<tr><td>");
	besc(kr->b, ki->key_id);
	bprintf(kr->b, "</td><td>%" PRIu32 "</td><td>", ki->version);
	besc(kr->b, ki->state);
	bputs(kr->b, "</td><td>");
	besc(kr->b, ki->algorithm);
	bputs(kr->b, "</td><td>");
	besc(kr->b, ki->kek_id);
	bprintf(kr->b, "</td><td>%s</td><td>%s</td><td>%s</td></tr>\n", c, a, r);
	return 0;
}

/*
 * Key ids, versions, states and ages (never key material), from siprecd's ListKeys; from the
 * console's own read-only view of the catalog when siprecd does not answer.
 */
static void keys_table(struct buf *b, json_object *lk)
{
	json_object *a = jget(lk, "keys");
	struct keys_render kr = {.b = b};
	int64_t active_ms = 0;

	bputs(b, "<h2>Keys</h2>\n<table id=\"keys\"><tr><th>Key id</th><th>Version</th>"
		 "<th>State</th><th>Algorithm</th><th>KEK</th><th>Created</th><th>Active since"
		 "</th><th>Retired/destroyed</th></tr>\n");
	if (a) {
		for (size_t i = 0; i < json_object_array_length(a) && i < 100; i++) {
			json_object *o = json_object_array_get_idx(a, i);
			struct keys_info ki = {0};

			scopy(ki.key_id, sizeof(ki.key_id), jstr(o, "id"));
			ki.version = (uint32_t)jint(o, "version");
			scopy(ki.state, sizeof(ki.state), jstr(o, "state"));
			scopy(ki.algorithm, sizeof(ki.algorithm), jstr(o, "algorithm"));
			scopy(ki.kek_id, sizeof(ki.kek_id), jstr(o, "kek_id"));
			ki.created_at = (uint64_t)jint(o, "created_usec") / 1000;
			ki.activated_at = (uint64_t)jint(o, "activated_usec") / 1000;
			ki.retired_at = (uint64_t)jint(o, "retired_usec") / 1000;
			ki.destroyed_at = (uint64_t)jint(o, "destroyed_usec") / 1000;
			if (json_object_get_boolean(jget(o, "current")))
				active_ms = (int64_t)ki.activated_at;
			key_row(&kr, &ki);
		}
	} else if (web_keys()) {
		keys_list(web_keys(), key_row, &kr);
	}
	bputs(b, "</table>\n");
	if (web_private_key_id())
		bprintf(b,
			"<p id=\"privkey\">Write-only recordings: this console holds the private "
			"key of %s%s.</p>\n",
			web_private_key_id(),
			arg.write_only ? " (siprecd records in write-only mode)" : "");
	else if (arg.write_only)
		bputs(b, "<p id=\"privkey\">siprecd records in write-only mode and this console "
			 "has no private key (--private-key): recordings cannot be played.</p>\n");
	bprintf(b, "<p id=\"keysource\">%s.",
		a	     ? "From siprecd (ListKeys)"
		: web_keys() ? "From the catalog (siprecd does not answer)"
			     : "siprecd does not answer and no key store is open");
	if (arg.rotation_ms) {
		char due[32];

		bprintf(b, " Data keys rotate every %" PRIu64 " h", arg.rotation_ms / 3600000);
		if (active_ms > 0) {
			fmt_time(due, sizeof(due), active_ms + (int64_t)arg.rotation_ms);
			bprintf(b, "; the next rotation is due at %s UTC", due);
		}
		bputs(b, ".");
	} else {
		bputs(b, " Data keys do not rotate on a schedule (KEY_ROTATION_INTERVAL=0).");
	}
	bputs(b, "</p>\n");
}

/* The SIP TLS certificate: subject, SANs, issuer, validity, serial, fingerprint. */
static void cert_rows(struct buf *b, const char *path)
{
	FILE *f = path && *path ? fopen(path, "re") : NULL;
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	char subj[512], iss[512], nb[64] = "", na[64] = "", sans[1024] = "", fp[100] = "", left[64];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	GENERAL_NAMES *gens;
	int days = 0, secs = 0;
	size_t off = 0;
	BIO *bio;

	if (f)
		fclose(f);
	if (!x) {
		bputs(b, "<p id=\"cert\">No TLS certificate configured or readable.</p>\n");
		return;
	}
	X509_NAME_oneline(X509_get_subject_name(x), subj, sizeof(subj));
	X509_NAME_oneline(X509_get_issuer_name(x), iss, sizeof(iss));
	bio = BIO_new(BIO_s_mem());
	if (bio && ASN1_TIME_print(bio, X509_get0_notBefore(x)))
		BIO_read(bio, nb, sizeof(nb) - 1);
	BIO_free(bio);
	bio = BIO_new(BIO_s_mem());
	if (bio && ASN1_TIME_print(bio, X509_get0_notAfter(x)))
		BIO_read(bio, na, sizeof(na) - 1);
	BIO_free(bio);
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char one[300] = "";

		if (g->type == GEN_DNS || g->type == GEN_URI || g->type == GEN_EMAIL) {
			const ASN1_IA5STRING *s = g->d.ia5;

			snprintf(one, sizeof(one), "%s:%.*s",
				 g->type == GEN_DNS   ? "DNS"
				 : g->type == GEN_URI ? "URI"
						      : "email",
				 s->length > 255 ? 255 : s->length, (const char *)s->data);
		} else if (g->type == GEN_IPADD) {
			char ip[INET6_ADDRSTRLEN] = "?";

			if (g->d.ip->length == 4 || g->d.ip->length == 16)
				inet_ntop(g->d.ip->length == 4 ? AF_INET : AF_INET6, g->d.ip->data,
					  ip, sizeof(ip));
			snprintf(one, sizeof(one), "IP:%s", ip);
		} else {
			continue;
		}
		int w = snprintf(sans + off, sizeof(sans) - off, "%s%s", off ? ", " : "", one);

		if (w < 0 || (size_t)w >= sizeof(sans) - off)
			break;
		off += (size_t)w;
	}
	GENERAL_NAMES_free(gens);
	if (X509_digest(x, EVP_sha256(), md, &mdlen))
		for (unsigned i = 0; i < mdlen && 3 * i + 3 <= sizeof(fp); i++)
			sprintf(fp + 3 * i, "%02X%s", md[i], i + 1 < mdlen ? ":" : "");
	if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)))
		snprintf(left, sizeof(left),
			 days < 0 || secs < 0 ? "expired %d days ago" : "%d days left",
			 days < 0 ? -days : days);
	else
		snprintf(left, sizeof(left), "?");
	bputs(b, "<table id=\"cert\">");
	row(b, "Path", path);
	row(b, "Subject", subj);
	bputs(b, "<tr><th>SANs</th><td id=\"sans\">");
	besc(b, sans);
	bputs(b, "</td></tr>");
	row(b, "Issuer", iss);
	row(b, "Not before", nb);
	bputs(b, "<tr><th>Expires</th><td id=\"expires\">");
	besc(b, na);
	bputs(b, " (");
	besc(b, left);
	bputs(b, ")</td></tr>");
	row(b, "SHA-256 fingerprint", fp);
	bputs(b, "</table>\n");
	X509_free(x);
}

static enum MHD_Result page_status(struct MHD_Connection *c, struct websession *s)
{
	struct buf b = {0};
	char err[256];
	json_object *h = varlink_call("io.siprecd.Health", NULL, err, sizeof(err)),
		    *v = varlink_call("io.siprecd.Version", NULL, err, sizeof(err)),
		    *live = varlink_call("io.siprecd.ListSessions", NULL, err, sizeof(err)),
		    *lk = varlink_call("io.siprecd.ListKeys", NULL, err, sizeof(err));

	page_head(&b, "Status", s);
	if (!h && !v) {
		bputs(&b, "<p class=\"error\" id=\"daemon\">siprecd's control socket ");
		besc(&b, arg.control);
		bputs(&b, " does not answer: ");
		besc(&b, err);
		bputs(&b, "</p>\n");
	} else {
		bputs(&b, "<table id=\"daemon\">");
		daemon_rows(&b, v, h, live);
		bputs(&b, "</table>\n");
	}
	if (users[s->user].role >= ROLE_ADMIN) {
		json_object *dr = NULL;
		bool draining = h && json_object_object_get_ex(h, "draining", &dr) &&
				json_object_get_boolean(dr);

		/* Drain: new INVITEs get 503 while calls in progress record to their end. */
		bprintf(&b,
			"<form method=\"post\" action=\"/drain\" id=\"drainform\"><input "
			"type=\"hidden\" name=\"csrf\" value=\"%s\"><input type=\"hidden\" "
			"name=\"enable\" value=\"%s\"><span id=\"drainstate\">%s</span> "
			"<button id=\"drain\">%s</button></form>\n",
			s->csrf, draining ? "0" : "1",
			draining ? "Draining: new calls are refused." : "Taking new calls.",
			draining ? "Resume taking calls" : "Drain (refuse new calls)");
	}
	if (h)
		checks_table(&b, h);
	live_table(&b, live);
	disk_table(&b);
	keys_table(&b, lk);
	json_object_put(h);
	json_object_put(v);
	json_object_put(live);
	json_object_put(lk);
	bputs(&b, "<h2>SIP TLS certificate</h2>\n");
	cert_rows(&b, arg.status_cert);
	bputs(&b, "</body></html>\n");
	return send_buf(c, MHD_HTTP_OK, "text/html; charset=utf-8", &b, NULL);
}

/* Drain or resume (admin) through siprecd's varlink Drain, as `siprecctl drain`/`resume`. */
static enum MHD_Result do_drain(struct MHD_Connection *c, struct websession *s, struct req *rq)
{
	bool enable = strcmp(rq->enable, "1") == 0;
	json_object *p, *reply;
	char err[256];

	if (users[s->user].role < ROLE_ADMIN) {
		audit(users[s->user].name, "drain-refused", NULL, NULL);
		return error_page(c, MHD_HTTP_FORBIDDEN, "Only an admin drains siprecd.", s);
	}
	if (!enable && strcmp(rq->enable, "0"))
		return error_page(c, MHD_HTTP_BAD_REQUEST, "enable must be 1 or 0.", s);
	p = json_object_new_object();
	json_object_object_add(p, "enable", json_object_new_boolean(enable));
	reply = varlink_call("io.siprecd.Drain", p, err, sizeof(err));
	if (!reply) {
		audit(users[s->user].name, enable ? "drain-failed" : "resume-failed", NULL, err);
		return error_page(c, MHD_HTTP_BAD_GATEWAY, err, s);
	}
	json_object_put(reply);
	audit(users[s->user].name, enable ? "drain" : "resume", NULL, NULL);
	return redirect(c, "/status", NULL);
}

/* Accounts (admin only): the list, and a form that creates a user or sets a role and password. */
static enum MHD_Result page_users(struct MHD_Connection *c, struct websession *s, const char *msg,
				  unsigned status)
{
	struct buf b = {0};

	if (users[s->user].role < ROLE_ADMIN)
		return error_page(c, MHD_HTTP_FORBIDDEN, "Only an admin manages users.", s);
	page_head(&b, "Users", s);
	if (msg) {
		bputs(&b, "<p class=\"error\" id=\"msg\">");
		besc(&b, msg);
		bputs(&b, "</p>");
	}
	bputs(&b, "<table id=\"users\"><tr><th>User</th><th>Role</th><th>State</th><th>Change"
		  "</th></tr>\n");
	for (unsigned i = 0; i < nusers; i++) {
		bputs(&b, "<tr><td>");
		besc(&b, users[i].name);
		bprintf(&b, "</td><td>%s</td><td class=\"ustate\">%s</td><td>",
			role_names[users[i].role], users[i].disabled ? "disabled" : "active");
		/* No buttons on one's own row: an admin does not lock itself out. */
		if ((int)i != s->user)
			for (int k = 0; k < 2; k++) {
				const char *act =
					k == 0 ? (users[i].disabled ? "enable" : "disable")
					       : "delete";

				bprintf(&b,
					"<form method=\"post\" action=\"/users\" class=\"inline "
					"%s\"><input type=\"hidden\" name=\"csrf\" value=\"%s\">"
					"<input type=\"hidden\" name=\"action\" "
					"value=\"%s\"><input "
					"type=\"hidden\" name=\"user\" value=\"",
					act, s->csrf, act);
				besc(&b, users[i].name);
				bprintf(&b, "\"><button>%c%s</button></form>", toupper(act[0]),
					act + 1);
			}
		bputs(&b, "</td></tr>\n");
	}
	bprintf(&b,
		"</table>\n<h2>Add a user or reset one</h2><form method=\"post\" "
		"action=\"/users\"><input type=\"hidden\" name=\"csrf\" value=\"%s\">"
		"User <input name=\"user\" maxlength=\"63\" required> Role <select "
		"name=\"role\"><option>viewer</option><option>listener</option><option>"
		"supervisor</option><option>admin</option></select> Password <input "
		"type=\"password\" name=\"password\" minlength=\"8\" maxlength=\"128\" "
		"autocomplete=\"new-password\" required> <button>Save</button></form>"
		"</body></html>\n",
		s->csrf);
	return send_buf(c, status, "text/html; charset=utf-8", &b, NULL);
}

/*
 * POST /users with action=delete, disable or enable and user=NAME: the account goes (or is
 * locked, or unlocked); its sessions end at once. Not one's own account.
 */
static enum MHD_Result do_user_action(struct MHD_Connection *c, struct websession *s,
				      struct req *rq)
{
	char admin[sizeof(users[0].name)], what[32];
	bool del = strcmp(rq->action, "delete") == 0, dis = strcmp(rq->action, "disable") == 0;
	int u, r;

	if (!del && !dis && strcmp(rq->action, "enable"))
		return page_users(c, s, "action must be delete, disable or enable.",
				  MHD_HTTP_BAD_REQUEST);
	if (!valid_username(rq->user) || (u = user_find(rq->user)) < 0)
		return page_users(c, s, "No such user.", MHD_HTTP_NOT_FOUND);
	if (u == s->user)
		return page_users(c, s, "You cannot delete or disable your own account.",
				  MHD_HTTP_CONFLICT);
	scopy(admin, sizeof(admin), users[s->user].name);
	snprintf(what, sizeof(what), "user-%s", del ? "deleted" : dis ? "disabled" : "enabled");
	/* s is an index into sessions; a delete moves user indices, not sessions. */
	r = del ? user_delete(u) : user_disable(u, dis);
	if (r < 0) {
		return page_users(c, s, "Cannot write the users file.",
				  MHD_HTTP_INTERNAL_SERVER_ERROR);
	}
	audit(admin, what, NULL, rq->user);
	return redirect(c, "/users", NULL);
}

static enum MHD_Result do_users(struct MHD_Connection *c, struct websession *s, struct req *rq)
{
	int role = role_from_name(rq->role), r;
	size_t pl = strlen(rq->password);

	if (users[s->user].role < ROLE_ADMIN) {
		audit(users[s->user].name, "users-refused", NULL,
		      valid_username(rq->user) ? rq->user : NULL);
		return error_page(c, MHD_HTTP_FORBIDDEN, "Only an admin manages users.", s);
	}
	if (rq->action[0])
		return do_user_action(c, s, rq);
	if (!valid_username(rq->user) || role < 0 || pl < 8 || pl > PARAM_MAX) {
		OPENSSL_cleanse(rq->password, sizeof(rq->password));
		return page_users(c, s,
				  "User: letters, digits, . _ - @ (at most 63); role: viewer, "
				  "listener, supervisor or admin; password: 8..128 characters.",
				  MHD_HTTP_BAD_REQUEST);
	}
	r = set_user(rq->user, (enum role)role, rq->password);
	OPENSSL_cleanse(rq->password, sizeof(rq->password));
	if (r < 0)
		return page_users(c, s, "Cannot write the users file.",
				  MHD_HTTP_INTERNAL_SERVER_ERROR);
	/* A password reset ends the account's other sessions: one opened with the old password
	 * (perhaps the reason for the reset) must not outlive it. */
	for (unsigned i = 0, u = (unsigned)user_find(rq->user); i < SESSIONS_MAX; i++)
		if (sessions[i].token[0] && sessions[i].user == (int)u && &sessions[i] != s)
			OPENSSL_cleanse(&sessions[i], sizeof(sessions[i]));
	audit(users[s->user].name, "user-saved", NULL, rq->user);
	return redirect(c, "/users", NULL);
}

/* ---- dispatch ---- */

static enum MHD_Result handle_locked(struct MHD_Connection *c, const char *url, const char *method,
				     const char *upload, size_t *upload_size, void **con_cls)
{
	bool post = strcmp(method, "POST") == 0;
	struct req *rq = *con_cls;
	struct websession *s;

	if (!post && strcmp(method, "GET") && strcmp(method, "HEAD"))
		return error_page(c, MHD_HTTP_METHOD_NOT_ALLOWED, "Method not allowed.", NULL);
	if (post && !rq) {
		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		rq->pp = MHD_create_post_processor(c, 1024, post_field, rq);
		*con_cls = rq;
		return MHD_YES;
	}
	if (post && *upload_size) {
		rq->body += *upload_size;
		if (rq->body > POST_MAX)
			rq->too_big = true;
		if (!rq->too_big && rq->pp)
			MHD_post_process(rq->pp, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	if (post && (rq->too_big || !rq->pp))
		return error_page(c, MHD_HTTP_BAD_REQUEST,
				  "Form too large or not application/x-www-form-urlencoded.", NULL);

	if (strcmp(url, "/static/style.css") == 0) {
		struct buf b = {0};

		bput(&b, style_css, sizeof(style_css) - 1);
		return send_buf(c, MHD_HTTP_OK, "text/css", &b, NULL);
	}
	if (strcmp(url, "/login") == 0)
		return post ? do_login(c, rq) : get_login(c);
	s = session_find(c);
	if (!s)
		return redirect(c, "/login", NULL);
	if (post) {
		/* Every POST carries the session's CSRF token (SameSite=Strict is the second
		 * line, not the only one). */
		if (strlen(rq->csrf) != 64 || CRYPTO_memcmp(rq->csrf, s->csrf, 64) != 0) {
			audit(users[s->user].name, "csrf-rejected", NULL, url);
			return error_page(c, MHD_HTTP_FORBIDDEN, "Missing or wrong CSRF token.", s);
		}
		if (strcmp(url, "/logout") == 0) {
			audit(users[s->user].name, "logout", NULL, NULL);
			memset(s, 0, sizeof(*s));
			return redirect(c, "/login",
					"siprecweb=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
		}
		if (strcmp(url, "/users") == 0)
			return do_users(c, s, rq);
		if (strcmp(url, "/hold") == 0 || strcmp(url, "/hold/release") == 0)
			return do_hold(c, s, rq, url[5] == '/');
		if (strcmp(url, "/erase") == 0)
			return do_erase(c, s, rq);
		if (strcmp(url, "/drain") == 0)
			return do_drain(c, s, rq);
		return error_page(c, MHD_HTTP_NOT_FOUND, "No such action.", s);
	}
	if (strcmp(url, "/") == 0)
		return redirect(c, "/calls", NULL);
	if (strcmp(url, "/calls") == 0)
		return page_calls(c, s);
	if (strcmp(url, "/call") == 0)
		return page_call(c, s);
	if (strcmp(url, "/audio") == 0)
		return page_audio(c, s);
	if (strcmp(url, "/status") == 0)
		return page_status(c, s);
	if (strcmp(url, "/users") == 0)
		return page_users(c, s, NULL, MHD_HTTP_OK);
	if (strcmp(url, "/holds") == 0)
		return page_holds(c, s);
	return error_page(c, MHD_HTTP_NOT_FOUND, "No such page.", s);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	enum MHD_Result r;

	/* Called once the head is in; a form's body follows in further calls, the last with
	 * nothing: only then is the request whole and out of the deadline's reach. */
	web_conn_request(conn_watch(c),
			 strcmp(method, "POST") != 0 || (*con_cls && *upload_size == 0));
	pthread_mutex_lock(&big_lock);
	r = handle_locked(c, url, method, upload, upload_size, con_cls);
	pthread_mutex_unlock(&big_lock);
	return r;
}

/* ---- main ---- */

static void help(void)
{
	printf("Usage: siprec-web [OPTIONS]\n"
	       "\n"
	       "The web console of siprecd's recordings: calls list, call pages with playback,\n"
	       "legal holds, status, users. See docs/WEB.md.\n"
	       "\n"
	       "  -c, --config PATH      siprecd's configuration (catalog, keys, control socket,\n"
	       "                         TLS certificate, S3 for offloaded recordings);\n"
	       "                         passed to siprec-export\n"
	       "      --catalog DB       the catalog (default: the configuration's); read-only\n"
	       "  -u, --users FILE       accounts (default: $STATE_DIRECTORY/web-users, else\n"
	       "                         ./web-users)\n"
	       "  -l, --listen ADDR:PORT address to serve on (default 127.0.0.1:8480; IPv6 in\n"
	       "                         brackets: [::1]:8480)\n"
	       "      --tls-cert PEM     serve HTTPS with this certificate chain...\n"
	       "      --tls-key PEM      ...and this key (else plain HTTP: keep it on loopback\n"
	       "                         behind a TLS reverse proxy)\n"
	       "      --tls-client-ca PEM\n"
	       "                         HTTPS: ask for a client certificate, verified against\n"
	       "                         this CA; one whose email SAN, DNS SAN or subject CN\n"
	       "                         names a user logs that user in without a password\n"
	       "      --private-key PEM  write-only mode: the X25519 private key that opens the\n"
	       "                         recordings (mode 0600; default: the systemd\n"
	       "                         credential recording-private-key when present)\n"
	       "      --export PATH      siprec-export (default: beside siprec-web)\n"
	       "      --cache DIR        decrypted WAVs (default: a private directory under\n"
	       "                         $RUNTIME_DIRECTORY or /tmp, removed at exit)\n"
	       "      --create-admin     create (or reset) the user admin with a random\n"
	       "                         password, print it once, exit\n"
	       "      --add-user NAME ROLE\n"
	       "                         create or update a user (role viewer, listener,\n"
	       "                         supervisor or admin), password read from stdin, exit\n"
	       "      --log TARGET       audit and log target: auto (default), journal, stderr\n"
	       "  -h, --help             this text\n");
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *p = NULL;
	size_t n = 0;

	if (!f)
		return NULL;
	if (getdelim(&p, &n, '\0', f) < 0) {
		free(p);
		p = NULL;
	}
	fclose(f);
	return p;
}

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
	stop = 1;
}

static char cache_owned[PATH_MAX];
static void cache_cleanup(void)
{
	DIR *dir = opendir(cache_owned);
	struct dirent *e;

	while (dir && (e = readdir(dir)))
		if (e->d_name[0] != '.')
			unlinkat(dirfd(dir), e->d_name, 0);
	if (dir)
		closedir(dir);
	rmdir(cache_owned);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"catalog", required_argument, NULL, 'C'},
		{"users", required_argument, NULL, 'u'},
		{"listen", required_argument, NULL, 'l'},
		{"tls-cert", required_argument, NULL, 'T'},
		{"tls-key", required_argument, NULL, 'K'},
		{"tls-client-ca", required_argument, NULL, 'a'},
		{"export", required_argument, NULL, 'e'},
		{"private-key", required_argument, NULL, 'P'},
		{"cache", required_argument, NULL, 'd'},
		{"create-admin", no_argument, NULL, 'A'},
		{"add-user", required_argument, NULL, 'U'},
		{"log", required_argument, NULL, 'L'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct config cfg;
	bool have_cfg = false;
	char *users_owned = NULL, *export_owned = NULL, *uri = NULL;
	char *cert = NULL, *key = NULL, *ca = NULL, *status_cert_owned = NULL, *priv_owned = NULL;
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
	bool v6 = false;
	struct MHD_Daemon *d;
	int o, r, log_target = LOG_TARGET_AUTO;

	while ((o = getopt_long(argc, argv, "c:u:l:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			arg.config = optarg;
			break;
		case 'C':
			arg.catalog = optarg;
			break;
		case 'u':
			arg.users = optarg;
			break;
		case 'l':
			arg.listen = optarg;
			break;
		case 'T':
			arg.tls_cert = optarg;
			break;
		case 'K':
			arg.tls_key = optarg;
			break;
		case 'a':
			arg.tls_client_ca = optarg;
			break;
		case 'e':
			arg.export_bin = optarg;
			break;
		case 'P':
			arg.private_key = optarg;
			break;
		case 'd':
			arg.cache = optarg;
			break;
		case 'A':
			arg.create_admin = true;
			break;
		case 'U':
			arg.add_user = optarg;
			if (optind >= argc) {
				fprintf(stderr, "siprec-web: --add-user NAME ROLE\n");
				return 1;
			}
			arg.add_role = argv[optind++];
			break;
		case 'L':
			log_target = log_target_from_string(optarg);
			if (log_target < 0) {
				fprintf(stderr, "siprec-web: --log auto|journal|stderr\n");
				return 1;
			}
			break;
		case 'h':
			help();
			return 0;
		default:
			return 1;
		}
	}
	log_setup((enum log_target)log_target, LOG_INFO, NULL);
	if (!arg.users) {
		const char *sd = getenv("STATE_DIRECTORY");

		if (asprintf(&users_owned, "%s/web-users", sd ? sd : ".") < 0)
			return 1;
		arg.users = users_owned;
	}
	if (users_load() < 0) {
		fprintf(stderr, "siprec-web: cannot read %s: %m\n", arg.users);
		return 1;
	}
	if (arg.create_admin || arg.add_user) {
		char pw[PARAM_MAX + 2];
		int role = ROLE_ADMIN;
		const char *name = arg.create_admin ? "admin" : arg.add_user;

		if (arg.create_admin) {
			random_hex(pw, 12);
		} else {
			role = role_from_name(arg.add_role);
			if (role < 0 || !valid_username(name)) {
				fprintf(stderr,
					"siprec-web: bad user name or role '%s' (viewer, "
					"listener, supervisor, admin)\n",
					arg.add_role);
				return 1;
			}
			if (!fgets(pw, sizeof(pw), stdin) || !pw[0]) {
				fprintf(stderr, "siprec-web: no password on stdin\n");
				return 1;
			}
			pw[strcspn(pw, "\n")] = '\0';
			if (strlen(pw) < 8 || strlen(pw) > PARAM_MAX) {
				fprintf(stderr, "siprec-web: password must be 8..128 characters\n");
				return 1;
			}
		}
		r = set_user(name, (enum role)role, pw);
		if (r < 0) {
			fprintf(stderr, "siprec-web: cannot write %s: %s\n", arg.users,
				strerror(-r));
			return 1;
		}
		if (arg.create_admin)
			printf("siprec-web: user admin, one-time password: %s\n", pw);
		OPENSSL_cleanse(pw, sizeof(pw));
		return 0;
	}

	FILE *devnull = fopen("/dev/null", "w");

	if (config_load(&cfg, arg.config, NULL, arg.config ? stderr : devnull) == 0)
		have_cfg = true;
	else if (arg.config)
		return 1;
	if (devnull)
		fclose(devnull);
	if (!arg.catalog && have_cfg)
		arg.catalog = cfg.catalog_path;
	if (!arg.catalog) {
		fprintf(stderr, "siprec-web: no catalog (--catalog or --config)\n");
		return 1;
	}
	if (have_cfg) {
		char err[256];

		arg.write_only = strcmp(cfg.encryption_key_store, "public-key") == 0;
		if (cfg.s3_endpoint && *cfg.s3_endpoint)
			arg.s3 = (struct s3_target){
				.endpoint = cfg.s3_endpoint,
				.region = cfg.s3_region,
				.credentials = cfg.s3_credentials,
				.timeout_ms = cfg.s3_timeout_ms,
				.virtual_hosted = strcmp(cfg.s3_addressing, "virtual") == 0};
		/* Integrity verdicts and waveforms read the recordings with siprecd's keys. */
		if (!arg.write_only && web_keys_open(&cfg, err, sizeof(err)) < 0)
			log_warning("web: no key store (%s): integrity verdicts say \"no key\"",
				    err);
	}
	/* libcurl's global state, once, before libmicrohttpd starts its threads (S3 reads). */
	if (arg.s3.endpoint && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "siprec-web: libcurl cannot start\n");
		return 1;
	}
	/* Write-only mode (docs/KEYS.md): siprecd holds only the public key; the console, given
	 * the private key, reads what the recorder cannot. Under systemd it comes as a
	 * credential (LoadCredential=recording-private-key:...), never on the command line. */
	if (!arg.private_key) {
		const char *cd = getenv("CREDENTIALS_DIRECTORY");

		if (cd && *cd && asprintf(&priv_owned, "%s/recording-private-key", cd) > 0 &&
		    access(priv_owned, F_OK) == 0)
			arg.private_key = priv_owned;
	}
	if (arg.private_key) {
		char err[PATH_MAX + 128];

		if (web_private_key_load(arg.private_key, arg.catalog, err, sizeof(err)) < 0) {
			fprintf(stderr, "siprec-web: --private-key: %s\n", err);
			free(users_owned);
			free(priv_owned);
			web_keys_close();
			if (have_cfg)
				config_free(&cfg);
			return 1;
		}
		log_info("web: write-only recordings of %s open with the private key %s",
			 web_private_key_id(), arg.private_key);
	} else if (arg.write_only) {
		log_warning("web: siprecd records in write-only mode and no --private-key was "
			    "given: recordings cannot be played or verified");
	}
	if (have_cfg) {
		arg.control = cfg.control_socket;
		arg.recording_dir = cfg.recording_dir;
		arg.rotation_ms = cfg.key_rotation_interval_ms;
		arg.status_cert = cfg.tls_cert_path;
		/* No TLS_CERT_PATH: siprecd's self-signed pair under STATE_DIRECTORY/tls. */
		if ((!arg.status_cert || !*arg.status_cert) && cfg.state_dir &&
		    asprintf(&status_cert_owned, "%s/tls/cert.pem", cfg.state_dir) > 0)
			arg.status_cert = status_cert_owned;
	}
	if (!arg.export_bin) {
		char self[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		if (n > 0) {
			self[n] = '\0';
			*strrchr(self, '/') = '\0';
			if (asprintf(&export_owned, "%s/siprec-export", self) < 0)
				return 1;
		}
		arg.export_bin = export_owned;
	}
	if (!arg.cache) {
		const char *rd = getenv("RUNTIME_DIRECTORY");

		snprintf(cache_owned, sizeof(cache_owned), "%s/siprec-web.XXXXXX",
			 rd ? rd : "/tmp");
		if (!mkdtemp(cache_owned)) {
			fprintf(stderr, "siprec-web: cannot create a cache directory: %m\n");
			return 1;
		}
		arg.cache = cache_owned;
		atexit(cache_cleanup);
	}
	if (asprintf(&uri, "file:%s?mode=ro", arg.catalog) < 0 ||
	    sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK) {
		fprintf(stderr, "siprec-web: cannot open %s read-only: %s\n", arg.catalog,
			db ? sqlite3_errmsg(db) : "out of memory");
		return 1;
	}
	sqlite3_busy_timeout(db, 2000);
	have_holds = sqlite3_exec(db, "SELECT 1 FROM legal_holds LIMIT 0", NULL, NULL, NULL) ==
		     SQLITE_OK;
	have_aor_index = sqlite3_exec(db, "SELECT 1 FROM legal_hold_aor_index LIMIT 0", NULL, NULL,
				      NULL) == SQLITE_OK;
	if (calls_sql_build() < 0) {
		fprintf(stderr, "siprec-web: out of memory\n");
		return 1;
	}

	/* --listen ADDR:PORT (IPv4) or [ADDR]:PORT (IPv6); loopback by default. */
	{
		const char *l = arg.listen ? arg.listen : "127.0.0.1:8480";
		const char *colon = strrchr(l, ':'), *h = l;
		size_t hl = colon ? (size_t)(colon - l) : 0;
		char host[INET6_ADDRSTRLEN + 1];
		unsigned port;

		if (l[0] == '[') {
			/* [v6]:port: the host is between the brackets */
			v6 = true;
			h = l + 1;
			if (!colon || hl < 2 || l[hl - 1] != ']') {
				fprintf(stderr,
					"siprec-web: --listen wants [IPV6]:PORT, not '%s'\n", l);
				return 1;
			}
			hl -= 2;
		}
		if (!colon || hl >= sizeof(host) || parse_uint(colon + 1, 65535, &port) < 0) {
			fprintf(stderr,
				"siprec-web: --listen wants ADDR:PORT or [IPV6]:PORT, not '%s'\n",
				l);
			return 1;
		}
		memcpy(host, h, hl);
		host[hl] = '\0';
		if (v6 ? inet_pton(AF_INET6, host, &sin6.sin6_addr) != 1
		       : inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
			fprintf(stderr, "siprec-web: --listen: '%s' is not an %s address%s\n", host,
				v6 ? "IPv6" : "IPv4",
				v6 ? "" : " (an IPv6 address goes in brackets: [::1]:8480)");
			return 1;
		}
		sin.sin_port = htons((uint16_t)port);
		sin6.sin6_port = htons((uint16_t)port);
	}
	unsigned flags =
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;

	if (v6)
		flags |= MHD_USE_IPv6; /* the socket is AF_INET6, bound to the one address given */

	if (arg.tls_cert || arg.tls_key) {
		cert = arg.tls_cert ? slurp(arg.tls_cert) : NULL;
		key = arg.tls_key ? slurp(arg.tls_key) : NULL;
		if (!cert || !key) {
			fprintf(stderr,
				"siprec-web: HTTPS needs readable --tls-cert and --tls-key\n");
			return 1;
		}
		if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
			fprintf(stderr, "siprec-web: this libmicrohttpd has no TLS support\n");
			return 1;
		}
		flags |= MHD_USE_TLS;
		https = true;
	}
	if (arg.tls_client_ca) {
		if (!https) {
			fprintf(stderr,
				"siprec-web: --tls-client-ca needs --tls-cert and --tls-key\n");
			return 1;
		}
		ca = slurp(arg.tls_client_ca);
		if (!ca) {
			fprintf(stderr, "siprec-web: cannot read --tls-client-ca %s: %m\n",
				arg.tls_client_ca);
			return 1;
		}
	}
	/*
	 * A thread per connection (at most 64, and a newcomer that takes the place of a waiting
	 * one: conns.c), serialised by big_lock but for the slow parts. One
	 * client address holds at most WEB_MAX_CONNECTIONS_PER_ADDRESS of them (libmicrohttpd
	 * closes more at accept): the socket's address, so behind a proxy the cap is the proxy's
	 * (docs/WEB.md). A request must be whole within WEB_REQUEST_TIMEOUT (conns.c); the 30 s
	 * of inactivity stay for the rest (a client reading an answer slowly).
	 */
	r = web_conns_start(have_cfg ? cfg.web_request_timeout_ms : WEB_REQUEST_TIMEOUT_MS);
	if (r < 0) {
		fprintf(stderr, "siprec-web: cannot start the request deadline's thread: %s\n",
			strerror(-r));
		return 1;
	}
	d = MHD_start_daemon(flags, 0, NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR,
			     v6 ? (const struct sockaddr *)&sin6 : (const struct sockaddr *)&sin,
			     MHD_OPTION_NOTIFY_COMPLETED, request_done, NULL,
			     MHD_OPTION_NOTIFY_CONNECTION, conn_notify, NULL,
			     MHD_OPTION_PER_IP_CONNECTION_LIMIT,
			     (unsigned)(have_cfg ? cfg.web_max_connections_per_address
						 : WEB_MAX_CONNECTIONS_PER_ADDRESS),
			     MHD_OPTION_CONNECTION_LIMIT, WEB_CONNECTIONS_MAX + 1U,
			     MHD_OPTION_CONNECTION_TIMEOUT, 30U, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
			     (size_t)65536, https ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END,
			     cert, MHD_OPTION_HTTPS_MEM_KEY, key,
			     /* a CA makes libmicrohttpd request (not require) a client cert */
			     ca ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, ca, MHD_OPTION_END);
	if (key)
		OPENSSL_cleanse(key, strlen(key));
	if (!d) {
		fprintf(stderr, "siprec-web: cannot listen on %s\n",
			arg.listen ? arg.listen : "127.0.0.1:8480");
		return 1;
	}
	{
		const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
		char host[INET6_ADDRSTRLEN];

		if (v6)
			inet_ntop(AF_INET6, &sin6.sin6_addr, host, sizeof(host));
		else
			inet_ntop(AF_INET, &sin.sin_addr, host, sizeof(host));
		printf("siprec-web: listening on %s://%s%s%s:%u/ (catalog %s, %u users)\n",
		       https ? "https" : "http", v6 ? "[" : "", host, v6 ? "]" : "",
		       di ? di->port : 0, arg.catalog, nusers);
		fflush(stdout);
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	while (!stop)
		pause();
	MHD_stop_daemon(d);
	web_conns_stop();
	sqlite3_close(db);
	free(uri);
	free(cert);
	free(key);
	free(ca);
	free(users_owned);
	free(export_owned);
	free(status_cert_owned);
	free(priv_owned);
	free(calls_sql_scan);
	free(calls_sql_set);
	free(holds_sql);
	free(holds_page_sql);
	web_keys_close();
	if (have_cfg)
		config_free(&cfg);
	return 0;
}
