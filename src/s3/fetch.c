// SPDX-License-Identifier: MIT
/*
 * Opening a recording that may live only in the bucket (docs/STORAGE.md): the readers that find
 * a recording through the catalog (siprec-export --session, siprec-web) ask here for a file
 * they can read. The local .siprec when it is there; once S3_DELETE_LOCAL_AFTER removed it,
 * the object the catalog names, downloaded into a temporary file and compared with the size
 * and sha256 the upload thread verified, so a copy altered in the bucket is never read as good.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "siprecd/macro.h"
#include "siprecd/s3.h"

#include "s3-internal.h"

struct offloaded {
	char bucket[S3_BUCKET_MAX + 1];
	char key[S3_KEY_MAX + 1];
	char sha256[S3_SHA256_HEX + 1];
	uint64_t size;
};

/* The verified object of a recording whose local file was removed: 0, -ENOENT, -EIO. */
static int find_offloaded(const char *catalog_path, const char *recording_uuid,
			  struct offloaded *ret, char *err, size_t errlen)
{
	static const char q[] = "SELECT bucket, object_key, size, sha256 FROM s3_objects "
				"WHERE recording_uuid = ?1 AND verified_at IS NOT NULL AND "
				"local_deleted_at IS NOT NULL AND delete_requested_at IS NULL";
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char *uri = NULL;
	int r;

	if (asprintf(&uri, "file:%s?mode=ro", catalog_path) < 0)
		return -ENOMEM;
	if (sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK) {
		s3_set_err(err, errlen, "%.900s: %s", catalog_path,
			   db ? sqlite3_errmsg(db) : "cannot open");
		r = -EIO;
		goto out;
	}
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK) {
		/* A catalog from before migration 8 has no s3_objects: nothing was offloaded. */
		r = -ENOENT;
		goto out;
	}
	sqlite3_bind_text(st, 1, recording_uuid, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	if (r == SQLITE_DONE) {
		r = -ENOENT;
	} else if (r != SQLITE_ROW) {
		s3_set_err(err, errlen, "%.900s: %s", catalog_path, sqlite3_errmsg(db));
		r = -EIO;
	} else {
		const char *b = (const char *)sqlite3_column_text(st, 0);
		const char *k = (const char *)sqlite3_column_text(st, 1);
		const char *h = (const char *)sqlite3_column_text(st, 3);

		if (!b || !k || !h || strlen(b) > S3_BUCKET_MAX || strlen(k) > S3_KEY_MAX ||
		    strlen(h) != S3_SHA256_HEX || sqlite3_column_int64(st, 2) < 0) {
			s3_set_err(err, errlen,
				   "%.900s: recording %.64s: a malformed s3_objects row",
				   catalog_path, recording_uuid);
			r = -EBADMSG;
		} else {
			strcpy(ret->bucket, b);
			strcpy(ret->key, k);
			strcpy(ret->sha256, h);
			ret->size = (uint64_t)sqlite3_column_int64(st, 2);
			r = 0;
		}
	}
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(uri);
	return r;
}

int s3_recording_open(const struct s3_target *t, const char *catalog_path,
		      const char *recording_uuid, const char *local_path, const char *tmpdir,
		      char **ret_path, bool *ret_temporary, char *err, size_t errlen)
{
	char sha[S3_SHA256_HEX + 1], tmp[4096], cerr[1024] = "";
	struct s3_client *c = NULL;
	struct offloaded o;
	struct stat sb;
	uint64_t size = 0;
	char *path;
	int fd, r;

	if (!local_path || !recording_uuid || !catalog_path)
		return -EINVAL;
	if (stat(local_path, &sb) == 0 || errno != ENOENT) {
		/* There (or there but unreadable: the reader names that error). */
		path = strdup(local_path);
		if (!path)
			return -ENOMEM;
		*ret_path = path;
		*ret_temporary = false;
		return 0;
	}
	r = find_offloaded(catalog_path, recording_uuid, &o, err, errlen);
	if (r == -ENOENT) {
		s3_set_err(err, errlen,
			   "%.900s: no such file, and the catalog has no copy in a bucket",
			   local_path);
		return r;
	}
	if (r < 0)
		return r;
	if (!t || !t->endpoint || !*t->endpoint) {
		s3_set_err(err, errlen,
			   "%.900s: removed locally, stored as s3://%s/%.900s, but the "
			   "configuration has "
			   "no S3_ENDPOINT",
			   local_path, o.bucket, o.key);
		return -ENOENT;
	}
	{
		struct s3_target bt = *t;

		bt.bucket = o.bucket;
		r = s3_client_new(&bt, cerr, sizeof(cerr), &c);
	}
	if (r < 0) {
		s3_set_err(err, errlen, "%s", cerr);
		return r;
	}
	if (!tmpdir || !*tmpdir)
		tmpdir = getenv("TMPDIR");
	if (snprintf(tmp, sizeof(tmp), "%s/siprec-s3-XXXXXX.siprec",
		     tmpdir && *tmpdir ? tmpdir : "/tmp") >= (int)sizeof(tmp)) {
		s3_set_err(err, errlen, "the temporary directory's name is too long");
		r = -ENAMETOOLONG;
		goto out;
	}
	fd = mkstemps(tmp, 7);
	if (fd < 0) {
		r = -errno;
		s3_set_err(err, errlen, "%.900s: %s", tmp, strerror(-r));
		goto out;
	}
	/* At most the verified size plus one byte: a larger object fails (-EFBIG) early. */
	r = s3_get(c, o.key, fd, o.size + 1, &size, sha, cerr, sizeof(cerr));
	if (close(fd) < 0 && r == 0) {
		r = -errno;
		snprintf(cerr, sizeof(cerr), "%.900s: %s", tmp, strerror(-r));
	}
	if (r == -EFBIG || (r == 0 && (size != o.size || strcmp(sha, o.sha256) != 0))) {
		s3_set_err(err, errlen,
			   "s3://%s/%.900s differs from the catalog's verified copy (%llu bytes, "
			   "sha256 "
			   "%s): altered in the bucket",
			   o.bucket, o.key, (unsigned long long)o.size, o.sha256);
		r = -EBADMSG;
	} else if (r < 0) {
		s3_set_err(err, errlen, "s3://%s/%.900s: %s", o.bucket, o.key, cerr);
	}
	if (r < 0) {
		unlink(tmp);
		goto out;
	}
	path = strdup(tmp);
	if (!path) {
		unlink(tmp);
		r = -ENOMEM;
		goto out;
	}
	*ret_path = path;
	*ret_temporary = true;
	r = 0;
out:
	s3_client_free(c);
	return r;
}
