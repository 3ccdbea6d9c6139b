/* SPDX-License-Identifier: MIT */
/*
 * Recordings in S3-compatible object storage (docs/STORAGE.md): a small S3 client on libcurl
 * (SigV4 by CURLOPT_AWS_SIGV4, path-style URLs, payloads hashed into x-amz-content-sha256) and
 * the daemon's upload thread, which ships every finalized recording from a durable outbox in
 * the catalog, verifies it, deletes objects of erased recordings and removes local copies.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define S3_SHA256_HEX 64
#define S3_KEY_MAX 1024	      /* S3's own limit on an object key, in bytes */
#define S3_BUCKET_MAX 63      /* a DNS-compatible bucket name (3..63) */
#define S3_PREFIX_MAX 256     /* S3_PREFIX */
#define S3_CRED_FIELD_MAX 256 /* access key id, secret */
#define S3_TOKEN_MAX 4096     /* a session token (STS tokens are up to about 2 KiB) */
#define S3_CREDENTIAL_NAME "s3-credentials"

/* Where objects go and how to sign for them; strings borrowed for the call that takes it. */
struct s3_target {
	const char *endpoint;	 /* S3_ENDPOINT: http(s)://host[:port], no path */
	const char *bucket;	 /* S3_BUCKET */
	const char *region;	 /* S3_REGION: signed into SigV4's scope */
	const char *credentials; /* S3_CREDENTIALS: a file; "" = the s3-credentials credential */
	uint64_t timeout_ms;	 /* one request, connect to last byte */
	bool virtual_hosted;	 /* S3_ADDRESSING=virtual: BUCKET.HOST/KEY, else HOST/BUCKET/KEY */
};

/* ---- pure pieces (unit-tested) ---- */

/* A bucket name S3 accepts in a path: 3..63 of [a-z0-9.-], starting and ending alphanumeric.
 * 0 or -EINVAL. */
int s3_check_bucket(const char *bucket);
/* S3_PREFIX: empty, or up to 256 of [A-Za-z0-9._-] in '/'-separated non-empty parts (no
 * leading or trailing '/', no "." or ".." part). 0 or -EINVAL. */
int s3_check_prefix(const char *prefix);
/* S3_ENDPOINT: http:// or https://, a host, an optional port, nothing after. 0 or -EINVAL. */
int s3_check_endpoint(const char *endpoint);
/*
 * The object key of one file of a session: "<prefix>/<YYYY-MM-DD>/<session>/<name>" (the date
 * of started_ms in UTC; no "<prefix>/" when prefix is empty). session and name must be made
 * of [A-Za-z0-9._-]. Returns the length, -EINVAL, or -ENAMETOOLONG when it does not fit n or
 * S3_KEY_MAX.
 */
int s3_object_key(const char *prefix, uint64_t started_ms, const char *session, const char *name,
		  char *out, size_t n);
/*
 * A credentials file: either one line "ACCESS_KEY_ID:SECRET_ACCESS_KEY", or AWS's
 * shared-credentials lines "aws_access_key_id = ..." and "aws_secret_access_key = ..." (a
 * "[section]" line and '#'/';' comments are skipped). Fields are trimmed, at most 255 bytes,
 * without control characters. 0, or -EINVAL with the reason (never the secret) in err.
 */
int s3_parse_credentials(const char *text, size_t len, char id[S3_CRED_FIELD_MAX],
			 char secret[S3_CRED_FIELD_MAX], char *err, size_t errlen);
/*
 * The same, also accepting temporary credentials: an "aws_session_token = ..." line (up to
 * S3_TOKEN_MAX - 1 bytes, no control characters), copied to token ("" when there is none),
 * which is sent as x-amz-security-token.
 */
int s3_parse_credentials_token(const char *text, size_t len, char id[S3_CRED_FIELD_MAX],
			       char secret[S3_CRED_FIELD_MAX], char token[S3_TOKEN_MAX], char *err,
			       size_t errlen);
/*
 * The URL of key: "<endpoint>/<bucket>/<key>" (path style) or, virtual-hosted, the endpoint
 * with "<bucket>." before its host and "/<key>". Its length, or -ENAMETOOLONG.
 */
int s3_object_url(const char *endpoint, const char *bucket, bool virtual_hosted, const char *key,
		  char *out, size_t n);
/* "s3://bucket/key": 0 with the bucket copied out and *ret_key pointing into uri; -EINVAL. */
int s3_parse_uri(const char *uri, char bucket[S3_BUCKET_MAX + 1], const char **ret_key);

/* ---- the client (one thread at a time per client) ---- */

struct s3_client;
/* Reads the credentials and sets up libcurl. -errno with the reason in err (never the
 * secret). */
int s3_client_new(const struct s3_target *t, char *err, size_t errlen, struct s3_client **ret);
struct s3_client *s3_client_free(struct s3_client *c);
/* Makes the request in progress, and every later one, fail with -ECANCELED (any thread). */
void s3_client_abort(struct s3_client *c);

/*
 * PUT key with the body read from fd (size bytes from offset 0) or, when fd < 0, from buf.
 * sha256 (hex) of the body is sent as x-amz-content-sha256, so a store that checks it (AWS,
 * Ceph RGW, MinIO, Garage) refuses a body altered on the way. 0 on a 2xx; -EPROTO when the store
 * refused this request (a 4xx other than 401, 403, 408, 429), -EIO when there was no answer or
 * one that concerns every request (those four, 5xx): the HTTP status and S3's error code, or
 * libcurl's reason, are in err; -ECANCELED when aborted.
 */
int s3_put(struct s3_client *c, const char *key, int fd, const void *buf, uint64_t size,
	   const char *sha256, const char *content_type, char *err, size_t errlen);
/*
 * GET key: the body is written to out_fd (when >= 0) and hashed as it arrives; at most max
 * bytes are accepted. 0 with *ret_size and ret_sha256 (hex); -ENOENT for a 404; -EFBIG past
 * max; -EPROTO or -EIO (as s3_put) with the reason in err; -ECANCELED.
 */
int s3_get(struct s3_client *c, const char *key, int out_fd, uint64_t max, uint64_t *ret_size,
	   char ret_sha256[S3_SHA256_HEX + 1], char *err, size_t errlen);
/* DELETE key: 0 on a 2xx or a 404 (gone already); -EPROTO or -EIO (as s3_put). */
int s3_delete(struct s3_client *c, const char *key, char *err, size_t errlen);

/* ---- reading a recording that may be offloaded (fetch.c) ---- */

/*
 * A file to read the .siprec of one recording from, for the tools that find recordings through
 * the catalog (siprec-export --session, siprec-web): local_path itself when it exists; else,
 * when the catalog (catalog_path, opened read-only) says its local copy was removed after a
 * verified upload (s3_objects.local_deleted_at), the object in the bucket, downloaded into a
 * new temporary file in tmpdir (NULL or "" = $TMPDIR, else /tmp) and compared with the size and
 * sha256 the catalog verified. t gives the endpoint, region, credentials and timeout (t->bucket
 * is ignored: the catalog's row names the bucket); NULL or an empty endpoint = no S3.
 * Returns 0 with *ret_path (malloc'd; the caller frees it) and *ret_temporary (true: a
 * downloaded copy that the caller unlinks when done); -ENOENT when the file is neither on disk
 * nor offloaded (or offloaded but S3 is not configured); -EBADMSG when the object differs from
 * the catalog ("altered in the bucket"); -EPROTO, -EIO (as s3_get) or another -errno. Every
 * failure puts the reason (never a secret) in err. Blocking: never call it on a ring.
 */
int s3_recording_open(const struct s3_target *t, const char *catalog_path,
		      const char *recording_uuid, const char *local_path, const char *tmpdir,
		      char **ret_path, bool *ret_temporary, char *err, size_t errlen);

/* ---- the daemon's upload thread (upload.c) ---- */

struct s3_upload_config {
	struct s3_target target;
	const char *prefix;	  /* S3_PREFIX */
	const char *catalog_path; /* the catalog, migrated; relative paths are beside it */
	uint64_t retry_min_ms, retry_max_ms; /* S3_RETRY_MIN, S3_RETRY_MAX */
	uint64_t delete_local_after_ms;	     /* S3_DELETE_LOCAL_AFTER; 0 = keep local files */
};

/*
 * Starts the upload thread when target.endpoint is set (0 and nothing started otherwise).
 * -errno with the reason in err: a bad endpoint, bucket or prefix, unreadable credentials, no
 * catalog. The thread never runs on a ring and nothing on the recording path waits for it.
 */
int s3_upload_start(const struct s3_upload_config *cfg, char *err, size_t errlen);
/* What the metrics show (docs/CONTROL.md); counters since the start. */
struct s3_upload_stats {
	uint64_t verified;	    /* uploads read back and found equal */
	uint64_t failed;	    /* attempts that failed (upload, verification or deletion) */
	uint64_t pending;	    /* uploads waiting, as of the thread's last pass */
	uint64_t oldest_pending_ms; /* queued_at of the oldest of them (unix ms), 0 = none */
	uint64_t local_removed;	    /* local files removed (S3_DELETE_LOCAL_AFTER) */
	uint64_t objects_deleted;   /* recordings whose objects were deleted */
};
/* The counters of the running thread (any thread, never blocks): 0, or -ENOENT when off. */
int s3_upload_get_stats(struct s3_upload_stats *ret);
/* Stops the thread (an upload in flight is aborted and repeated after the next start). */
void s3_upload_stop(void);
/* The delay before attempt failures + 1: retry_min doubled per failure, capped at retry_max. */
uint64_t s3_backoff_ms(unsigned failures, uint64_t retry_min_ms, uint64_t retry_max_ms);
