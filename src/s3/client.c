// SPDX-License-Identifier: MIT
/*
 * A small S3 client (docs/STORAGE.md): PUT, GET and DELETE of one object on an S3-compatible
 * store with path-style URLs, signed by libcurl's SigV4 (CURLOPT_AWS_SIGV4), each body's
 * sha256 carried in x-amz-content-sha256 and every GET hashed as it arrives, so the caller can
 * compare what the store holds with what the catalog says. Blocking: its callers are the
 * upload thread and the tools, never a ring.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "siprecd/macro.h"
#include "siprecd/s3.h"

#include "s3-internal.h"

#define CRED_FILE_MAX 4096
#define ERROR_BODY_MAX 1024 /* of an error answer, kept to name S3's error code */
/* sha256 of the empty body: the payload hash of a GET or DELETE */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct s3_client {
	CURL *curl;
	char *endpoint, *bucket;
	bool vhost;
	char sigv4[128];
	char id[S3_CRED_FIELD_MAX], secret[S3_CRED_FIELD_MAX];
	char token[S3_TOKEN_MAX];
	/* the credentials file, re-read when it changes (temporary credentials are renewed) */
	char *cred_path;
	struct stat cred_st;
	uint64_t timeout_ms;
	atomic_bool aborting;
	/* per request */
	int fd;
	const uint8_t *buf;
	uint64_t size, pos, max;
	int out_fd;
	EVP_MD_CTX *md;
	bool too_big, write_failed;
	char errbody[ERROR_BODY_MAX + 1];
	size_t errbody_len;
	long status;
};

void s3_set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---- pure pieces ---- */

static bool alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

int s3_check_bucket(const char *b)
{
	size_t n = b ? strlen(b) : 0;

	if (n < 3 || n > S3_BUCKET_MAX || !alnum_lower(b[0]) || !alnum_lower(b[n - 1]))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!alnum_lower(b[i]) && b[i] != '.' && b[i] != '-')
			return -EINVAL;
	return 0;
}

/* '/'-separated parts of name_char, none empty, "." or ".." */
static int check_path(const char *p, size_t max)
{
	size_t n = strlen(p), part = 0;

	if (n > max)
		return -EINVAL;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || p[i] == '/') {
			if (part == 0 || (part == 1 && p[i - 1] == '.') ||
			    (part == 2 && p[i - 1] == '.' && p[i - 2] == '.'))
				return -EINVAL;
			part = 0;
			continue;
		}
		if (!name_char(p[i]))
			return -EINVAL;
		part++;
	}
	return 0;
}

int s3_check_prefix(const char *prefix)
{
	if (!prefix || !*prefix)
		return 0;
	return check_path(prefix, S3_PREFIX_MAX);
}

int s3_check_endpoint(const char *e)
{
	const char *host;
	size_t n;

	if (!e)
		return -EINVAL;
	if (!strncmp(e, "http://", 7))
		host = e + 7;
	else if (!strncmp(e, "https://", 8))
		host = e + 8;
	else
		return -EINVAL;
	n = strlen(host);
	if (n == 0 || n > 255 || host[0] == ':' || host[0] == '/')
		return -EINVAL;
	/* A host, [IPv6] or a name, and an optional port; no path, query, user or spaces. */
	for (size_t i = 0; i < n; i++)
		if (!name_char(host[i]) && host[i] != ':' && host[i] != '[' && host[i] != ']')
			return -EINVAL;
	return 0;
}

int s3_object_key(const char *prefix, uint64_t started_ms, const char *session, const char *name,
		  char *out, size_t n)
{
	time_t t = (time_t)(started_ms / 1000);
	struct tm tm;
	int len;

	if (s3_check_prefix(prefix) < 0 || !session || !name || !*session || !*name ||
	    strchr(session, '/') || strchr(name, '/') || check_path(session, 255) < 0 ||
	    check_path(name, 255) < 0 || !gmtime_r(&t, &tm))
		return -EINVAL;
	len = snprintf(out, n, "%s%s%04d-%02d-%02d/%s/%s", prefix && *prefix ? prefix : "",
		       prefix && *prefix ? "/" : "", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		       session, name);
	if (len < 0 || (size_t)len >= n || len > S3_KEY_MAX)
		return -ENAMETOOLONG;
	return len;
}

static const char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int set_field_max(char *out, size_t max, const char *v, const char *what, char *err,
			 size_t errlen)
{
	size_t n = strlen(v);

	if (n == 0 || n >= max) {
		s3_set_err(err, errlen, "the %s is %s", what, n ? "too long" : "empty");
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
			s3_set_err(err, errlen, "the %s has a control character", what);
			return -EINVAL;
		}
	memcpy(out, v, n + 1);
	return 0;
}

static int set_field(char out[S3_CRED_FIELD_MAX], const char *v, const char *what, char *err,
		     size_t errlen)
{
	return set_field_max(out, S3_CRED_FIELD_MAX, v, what, err, errlen);
}

int s3_parse_credentials(const char *text, size_t len, char id[S3_CRED_FIELD_MAX],
			 char secret[S3_CRED_FIELD_MAX], char *err, size_t errlen)
{
	char *token = malloc(S3_TOKEN_MAX);
	int r;

	if (!token)
		return -ENOMEM;
	r = s3_parse_credentials_token(text, len, id, secret, token, err, errlen);
	OPENSSL_cleanse(token, S3_TOKEN_MAX);
	free(token);
	return r;
}

int s3_parse_credentials_token(const char *text, size_t len, char id[S3_CRED_FIELD_MAX],
			       char secret[S3_CRED_FIELD_MAX], char token[S3_TOKEN_MAX], char *err,
			       size_t errlen)
{
	char *copy, *line, *save = NULL;
	bool have_id = false, have_secret = false;
	int r = 0;

	token[0] = '\0';
	if (memchr(text, '\0', len)) {
		s3_set_err(err, errlen, "a NUL byte in the file");
		return -EINVAL;
	}
	copy = strndup(text, len);
	if (!copy)
		return -ENOMEM;
	for (line = strtok_r(copy, "\n", &save); line && r == 0;
	     line = strtok_r(NULL, "\n", &save)) {
		const char *l = trim(line);
		char *eq, *colon;

		if (!*l || *l == '#' || *l == ';' || *l == '[')
			continue;
		eq = strchr(l, '=');
		colon = strchr(l, ':');
		if (eq) {
			char *k = (char *)l;

			*eq = '\0';
			k = (char *)trim(k);
			if (!strcmp(k, "aws_access_key_id")) {
				r = set_field(id, trim(eq + 1), "access key id", err, errlen);
				have_id = r == 0;
			} else if (!strcmp(k, "aws_secret_access_key")) {
				r = set_field(secret, trim(eq + 1), "secret access key", err,
					      errlen);
				have_secret = r == 0;
			} else if (!strcmp(k, "aws_session_token")) {
				r = set_field_max(token, S3_TOKEN_MAX, trim(eq + 1),
						  "session token", err, errlen);
			}
			/* other keys of a shared-credentials file (region, ...) are not ours */
		} else if (colon && !have_id && !have_secret) {
			*colon = '\0';
			r = set_field(id, trim((char *)l), "access key id", err, errlen);
			if (r == 0)
				r = set_field(secret, trim(colon + 1), "secret access key", err,
					      errlen);
			have_id = have_secret = r == 0;
		} else {
			s3_set_err(err, errlen,
				   "a line that is neither ACCESS_KEY_ID:SECRET nor aws_..._key = "
				   "...");
			r = -EINVAL;
		}
	}
	OPENSSL_cleanse(copy, len);
	free(copy);
	if (r < 0)
		OPENSSL_cleanse(token, S3_TOKEN_MAX);
	if (r == 0 && (!have_id || !have_secret)) {
		s3_set_err(err, errlen, "no %s", have_id ? "secret access key" : "access key id");
		r = -EINVAL;
	}
	return r;
}

int s3_parse_uri(const char *uri, char bucket[S3_BUCKET_MAX + 1], const char **ret_key)
{
	const char *b, *slash;

	if (!uri || strncmp(uri, "s3://", 5) != 0)
		return -EINVAL;
	b = uri + 5;
	slash = strchr(b, '/');
	if (!slash || slash - b > S3_BUCKET_MAX)
		return -EINVAL;
	memcpy(bucket, b, (size_t)(slash - b));
	bucket[slash - b] = '\0';
	if (s3_check_bucket(bucket) < 0 || check_path(slash + 1, S3_KEY_MAX) < 0)
		return -EINVAL;
	*ret_key = slash + 1;
	return 0;
}

int s3_object_url(const char *endpoint, const char *bucket, bool virtual_hosted, const char *key,
		  char *out, size_t n)
{
	const char *host = strstr(endpoint, "://");
	int l;

	if (!virtual_hosted || !host)
		l = snprintf(out, n, "%s/%s/%s", endpoint, bucket, key);
	else
		l = snprintf(out, n, "%.*s%s.%s/%s", (int)(host + 3 - endpoint), endpoint, bucket,
			     host + 3, key);
	return l < 0 || (size_t)l >= n ? -ENAMETOOLONG : l;
}

/* ---- the client ---- */

static int read_credentials(struct s3_client *c, const char *path, char *err, size_t errlen)
{
	char cred[4096], buf[CRED_FILE_MAX];
	struct stat sb;
	ssize_t n;
	int fd, r;

	if (!path || !*path) {
		const char *dir = getenv("CREDENTIALS_DIRECTORY");

		if (!dir) {
			s3_set_err(err, errlen,
				   "S3_ENDPOINT is set but there are no credentials: set "
				   "S3_CREDENTIALS or pass the %s credential",
				   S3_CREDENTIAL_NAME);
			return -ENOENT;
		}
		snprintf(cred, sizeof(cred), "%s/%s", dir, S3_CREDENTIAL_NAME);
		path = cred;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int e = errno;

		s3_set_err(err, errlen, "S3 credentials %s: %s", path, strerror(e));
		return -e;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || (sb.st_mode & (S_IROTH | S_IWOTH))) {
		close(fd);
		s3_set_err(err, errlen, "S3 credentials %s: %s", path,
			   "not a regular file, or readable or writable by others (chmod 0600 it)");
		return -EPERM;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0 || (size_t)n == sizeof(buf)) {
		s3_set_err(err, errlen, "S3 credentials %s: %s", path,
			   n < 0 ? strerror(errno) : "longer than 4095 bytes");
		OPENSSL_cleanse(buf, sizeof(buf));
		return -EINVAL;
	}
	{
		char why[160] = "";

		r = s3_parse_credentials_token(buf, (size_t)n, c->id, c->secret, c->token, why,
					       sizeof(why));
		if (r < 0)
			s3_set_err(err, errlen, "S3 credentials %s: %s", path, why);
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	if (r == 0) {
		c->cred_st = sb;
		if (!c->cred_path || strcmp(c->cred_path, path) != 0) {
			free(c->cred_path);
			c->cred_path = strdup(path);
			if (!c->cred_path)
				r = -ENOMEM;
		}
	}
	return r;
}

/* Temporary credentials are renewed by rewriting the file (or the credential): re-read it
 * before a request when it changed. A file that became unreadable keeps the last ones. */
static void credentials_refresh(struct s3_client *c)
{
	char err[256], id[S3_CRED_FIELD_MAX], secret[S3_CRED_FIELD_MAX], *token;
	struct stat sb;

	if (!c->cred_path || stat(c->cred_path, &sb) < 0 ||
	    (sb.st_ino == c->cred_st.st_ino && sb.st_dev == c->cred_st.st_dev &&
	     sb.st_size == c->cred_st.st_size && sb.st_mtim.tv_sec == c->cred_st.st_mtim.tv_sec &&
	     sb.st_mtim.tv_nsec == c->cred_st.st_mtim.tv_nsec))
		return;
	token = malloc(S3_TOKEN_MAX);
	if (!token)
		return;
	memcpy(id, c->id, sizeof(id));
	memcpy(secret, c->secret, sizeof(secret));
	memcpy(token, c->token, S3_TOKEN_MAX);
	if (read_credentials(c, c->cred_path, err, sizeof(err)) < 0) {
		/* half written, or broken: the last good ones go on */
		memcpy(c->id, id, sizeof(id));
		memcpy(c->secret, secret, sizeof(secret));
		memcpy(c->token, token, S3_TOKEN_MAX);
	}
	OPENSSL_cleanse(id, sizeof(id));
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(token, S3_TOKEN_MAX);
	free(token);
}

struct s3_client *s3_client_free(struct s3_client *c)
{
	if (!c)
		return NULL;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	EVP_MD_CTX_free(c->md);
	free(c->endpoint);
	free(c->bucket);
	free(c->cred_path);
	OPENSSL_cleanse(c->token, sizeof(c->token));
	OPENSSL_cleanse(c->secret, sizeof(c->secret));
	OPENSSL_cleanse(c->id, sizeof(c->id));
	free(c);
	return NULL;
}

void s3_client_abort(struct s3_client *c)
{
	if (c)
		atomic_store(&c->aborting, true);
}

static int progress(void *userdata, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct s3_client *c = userdata;

	return atomic_load(&c->aborting) ? 1 : 0;
}

int s3_client_new(const struct s3_target *t, char *err, size_t errlen, struct s3_client **ret)
{
	struct s3_client *c;
	int r;

	if (s3_check_endpoint(t->endpoint) < 0) {
		s3_set_err(err, errlen, "S3_ENDPOINT: '%s' is not http(s)://host[:port]",
			   t->endpoint ? t->endpoint : "");
		return -EINVAL;
	}
	if (s3_check_bucket(t->bucket) < 0) {
		s3_set_err(err, errlen,
			   "S3_BUCKET: '%s' is not a bucket name (3..63 of a-z 0-9 . -)",
			   t->bucket ? t->bucket : "");
		return -EINVAL;
	}
	if (!t->region || !*t->region || strlen(t->region) > 64 ||
	    strspn(t->region, "abcdefghijklmnopqrstuvwxyz0123456789-_") != strlen(t->region)) {
		s3_set_err(err, errlen, "S3_REGION: '%s' is not a region name (e.g. us-east-1)",
			   t->region ? t->region : "");
		return -EINVAL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->endpoint = strdup(t->endpoint);
	c->bucket = strdup(t->bucket);
	c->vhost = t->virtual_hosted;
	c->md = EVP_MD_CTX_new();
	if (!c->endpoint || !c->bucket || !c->md) {
		r = -ENOMEM;
		goto fail;
	}
	/* a trailing '/' of the endpoint would make "//bucket" */
	while (strlen(c->endpoint) > 8 && c->endpoint[strlen(c->endpoint) - 1] == '/')
		c->endpoint[strlen(c->endpoint) - 1] = '\0';
	snprintf(c->sigv4, sizeof(c->sigv4), "aws:amz:%s:s3", t->region);
	r = read_credentials(c, t->credentials, err, errlen);
	if (r < 0)
		goto fail;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(c->curl = curl_easy_init())) {
		s3_set_err(err, errlen, "libcurl initialisation failed");
		r = -ENOMEM;
		goto fail;
	}
	c->timeout_ms = t->timeout_ms ? t->timeout_ms : 600000;
	*ret = c;
	return 0;
fail:
	s3_client_free(c);
	return r;
}

static size_t read_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct s3_client *c = userdata;
	size_t want = size * nmemb;
	ssize_t n;

	if (c->pos >= c->size)
		return 0;
	if (want > c->size - c->pos)
		want = (size_t)(c->size - c->pos);
	if (c->fd < 0) {
		memcpy(ptr, c->buf + c->pos, want);
		n = (ssize_t)want;
	} else {
		n = pread(c->fd, ptr, want, (off_t)c->pos);
		/* a file that shrank under us: the request fails rather than sending less */
		if (n <= 0)
			return CURL_READFUNC_ABORT;
	}
	c->pos += (uint64_t)n;
	return (size_t)n;
}

/* The body of a 2xx GET goes to out_fd and the hash; any other answer's to errbody. */
static size_t write_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct s3_client *c = userdata;
	size_t n = size * nmemb;
	long status = 0;

	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		size_t room = ERROR_BODY_MAX - c->errbody_len;

		if (n < room)
			room = n;
		memcpy(c->errbody + c->errbody_len, ptr, room);
		c->errbody_len += room;
		c->errbody[c->errbody_len] = '\0';
		return n;
	}
	if (!c->md) /* not a GET: dropped */
		return n;
	if (c->pos + n > c->max) {
		c->too_big = true;
		return 0;
	}
	c->pos += n;
	EVP_DigestUpdate(c->md, ptr, n);
	for (size_t done = 0; c->out_fd >= 0 && done < n;) {
		ssize_t w = write(c->out_fd, ptr + done, n - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			c->write_failed = true;
			return 0;
		}
		done += (size_t)w;
	}
	return n;
}

/* S3's error answer names its code: <Code>NoSuchBucket</Code>. */
static void status_error(struct s3_client *c, const char *method, const char *key, char *err,
			 size_t errlen)
{
	const char *b = strstr(c->errbody, "<Code>"), *e = b ? strstr(b, "</Code>") : NULL;
	int n = b && e && e - b - 6 < 64 ? (int)(e - b - 6) : 0;

	s3_set_err(err, errlen, "%s %s/%s: HTTP status %ld%s%.*s", method, c->bucket, key,
		   c->status, n ? " " : "", n, n ? b + 6 : "");
}

/* A refusal of this one request (400 XAmzContentSHA256Mismatch, 409, 413, ...) is -EPROTO; what
 * concerns every request (401/403: credentials or policy, 408, 429, 5xx) is -EIO. */
static int status_errno(long status)
{
	if (status >= 400 && status <= 499 && status != 401 && status != 403 && status != 408 &&
	    status != 429)
		return -EPROTO;
	return -EIO;
}

/*
 * One request. payload_sha256 is the body's hash (the empty one without a body). 0 after any
 * HTTP answer (c->status has it), -errno when there was none.
 */
static int request(struct s3_client *c, const char *method, const char *key,
		   const char *payload_sha256, const char *content_type, bool upload, char *err,
		   size_t errlen)
{
	char url[2048], h_sha[96], h_type[128], cerr[CURL_ERROR_SIZE] = "";
	char h_token[S3_TOKEN_MAX + 32];
	struct curl_slist *hdrs = NULL, *t;
	CURLcode rc;
	const char *lines[4];
	size_t nl = 0;
	int r = 0;

	if (atomic_load(&c->aborting))
		return -ECANCELED;
	/* Keys also come from the catalog (s3_objects.object_key) and from siprec-export's
	 * s3:// URIs: one with "..", '?', '#', blanks or control characters would name another
	 * object, or another bucket with the same credentials, once in the URL. */
	if (check_path(key, S3_KEY_MAX) < 0) {
		s3_set_err(err, errlen, "%s %s/%.64s...: not an object key this client makes",
			   method, c->bucket, key);
		return -EINVAL;
	}
	if (s3_object_url(c->endpoint, c->bucket, c->vhost, key, url, sizeof(url)) < 0) {
		s3_set_err(err, errlen, "object key too long");
		return -ENAMETOOLONG;
	}
	credentials_refresh(c);
	/* Temporary credentials: the session token goes in its header, which libcurl signs
	 * with the others it is given (AWS: X-Amz-Security-Token). */
	if (c->token[0]) {
		snprintf(h_token, sizeof(h_token), "x-amz-security-token: %s", c->token);
		lines[nl++] = h_token;
	}
	/* S3 wants the payload hash signed in every request; "Expect:" saves a round trip. */
	snprintf(h_sha, sizeof(h_sha), "x-amz-content-sha256: %s", payload_sha256);
	lines[nl++] = h_sha;
	lines[nl++] = "Expect:";
	if (content_type) {
		snprintf(h_type, sizeof(h_type), "Content-Type: %s", content_type);
		lines[nl++] = h_type;
	}
	for (size_t i = 0; i < nl; i++) {
		t = curl_slist_append(hdrs, lines[i]);
		if (!t) {
			curl_slist_free_all(hdrs);
			return -ENOMEM;
		}
		hdrs = t;
	}
	c->errbody_len = 0;
	c->errbody[0] = '\0';
	c->status = 0;
	c->too_big = c->write_failed = false;
	/* Every request starts from libcurl's defaults: no option of the last one leaks in. */
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)c->timeout_ms);
	curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "siprecd-s3");
	curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, progress);
	curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, c);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c->curl, CURLOPT_AWS_SIGV4, c->sigv4);
	curl_easy_setopt(c->curl, CURLOPT_USERNAME, c->id);
	curl_easy_setopt(c->curl, CURLOPT_PASSWORD, c->secret);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, write_body);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, cerr);
	if (upload) {
		curl_easy_setopt(c->curl, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c->curl, CURLOPT_READFUNCTION, read_body);
		curl_easy_setopt(c->curl, CURLOPT_READDATA, c);
		curl_easy_setopt(c->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)c->size);
	} else if (!strcmp(method, "DELETE")) {
		curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, "DELETE");
	}
	rc = curl_easy_perform(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(hdrs);
	if (c->token[0])
		OPENSSL_cleanse(h_token, sizeof(h_token));
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &c->status);
	if (rc != CURLE_OK) {
		if (rc == CURLE_ABORTED_BY_CALLBACK)
			r = -ECANCELED;
		else if (c->too_big)
			r = -EFBIG;
		else
			r = -EIO;
		s3_set_err(err, errlen, "%s %s/%s: %s", method, c->bucket, key,
			   c->too_big	     ? "larger than expected"
			   : c->write_failed ? "cannot write the body out"
			   : *cerr	     ? cerr
					     : curl_easy_strerror(rc));
	}
	return r;
}

int s3_put(struct s3_client *c, const char *key, int fd, const void *buf, uint64_t size,
	   const char *sha256, const char *content_type, char *err, size_t errlen)
{
	EVP_MD_CTX *md = c->md;
	int r;

	c->fd = fd;
	c->buf = buf;
	c->size = size;
	c->pos = 0;
	c->md = NULL; /* write_body: a PUT's answer body is dropped */
	r = request(c, "PUT", key, sha256, content_type ? content_type : "application/octet-stream",
		    true, err, errlen);
	c->md = md;
	if (r < 0)
		return r;
	if (c->status < 200 || c->status > 299) {
		status_error(c, "PUT", key, err, errlen);
		return status_errno(c->status);
	}
	return 0;
}

int s3_get(struct s3_client *c, const char *key, int out_fd, uint64_t max, uint64_t *ret_size,
	   char ret_sha256[S3_SHA256_HEX + 1], char *err, size_t errlen)
{
	uint8_t h[32];
	unsigned hl = 0;
	int r;

	c->out_fd = out_fd;
	c->pos = 0;
	c->max = max;
	if (EVP_DigestInit_ex(c->md, EVP_sha256(), NULL) != 1)
		return -EIO;
	r = request(c, "GET", key, EMPTY_SHA256, NULL, false, err, errlen);
	if (r < 0)
		return r;
	if (c->status == 404) {
		s3_set_err(err, errlen, "GET %s/%s: no such object", c->bucket, key);
		return -ENOENT;
	}
	if (c->status < 200 || c->status > 299) {
		status_error(c, "GET", key, err, errlen);
		return status_errno(c->status);
	}
	if (EVP_DigestFinal_ex(c->md, h, &hl) != 1 || hl != 32)
		return -EIO;
	for (int i = 0; i < 32; i++)
		snprintf(ret_sha256 + 2 * i, 3, "%02x", h[i]);
	*ret_size = c->pos;
	return 0;
}

int s3_delete(struct s3_client *c, const char *key, char *err, size_t errlen)
{
	EVP_MD_CTX *md = c->md;
	int r;

	c->md = NULL;
	r = request(c, "DELETE", key, EMPTY_SHA256, NULL, false, err, errlen);
	c->md = md;
	if (r < 0)
		return r;
	if (c->status == 404 || (c->status >= 200 && c->status <= 299))
		return 0;
	status_error(c, "DELETE", key, err, errlen);
	return status_errno(c->status);
}
