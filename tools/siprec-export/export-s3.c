// SPDX-License-Identifier: MIT
/*
 * siprec-export s3://bucket/key: the recording is fetched with the daemon's own S3 client and
 * configuration into a temporary file, compared with the manifest the upload thread wrote
 * beside it, and then read exactly as a file on disk (the same seals, the same export).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json.h>

#include "export-s3.h"
#include "siprecd/config.h"
#include "siprecd/s3.h"

#define MANIFEST_MAX (1u << 20)

/* The manifest's recording.size and .sha256; 0, -ENOENT (no manifest), -errno. */
static int read_manifest(struct s3_client *c, const char *key, uint64_t *ret_size,
			 char ret_sha[S3_SHA256_HEX + 1], char *err, size_t errlen)
{
	char mkey[S3_KEY_MAX + 1], sha[S3_SHA256_HEX + 1], *text = NULL;
	struct json_object *o = NULL, *rec, *v;
	size_t klen = strlen(key);
	uint64_t n = 0;
	FILE *f;
	int r;

	if (klen < 7 || strcmp(key + klen - 7, ".siprec") != 0 || klen - 7 + 6 > S3_KEY_MAX)
		return -ENOENT;
	snprintf(mkey, sizeof(mkey), "%.*s.json", (int)(klen - 7), key);
	f = tmpfile();
	if (!f)
		return -errno;
	r = s3_get(c, mkey, fileno(f), MANIFEST_MAX, &n, sha, err, errlen);
	if (r == 0) {
		text = calloc(1, (size_t)n + 1);
		if (!text || pread(fileno(f), text, (size_t)n, 0) != (ssize_t)n)
			r = -EIO;
	}
	fclose(f);
	if (r == 0) {
		o = json_tokener_parse(text);
		if (!json_object_object_get_ex(o, "recording", &rec) ||
		    !json_object_object_get_ex(rec, "size", &v) ||
		    !json_object_is_type(v, json_type_int)) {
			snprintf(err, errlen, "%.900s: not a siprecd manifest", mkey);
			r = -EBADMSG;
		} else {
			*ret_size = (uint64_t)json_object_get_int64(v);
			if (!json_object_object_get_ex(rec, "sha256", &v) ||
			    !json_object_is_type(v, json_type_string) ||
			    json_object_get_string_len(v) != S3_SHA256_HEX) {
				snprintf(err, errlen, "%.900s: no sha256 of the recording", mkey);
				r = -EBADMSG;
			} else {
				memcpy(ret_sha, json_object_get_string(v), S3_SHA256_HEX + 1);
			}
		}
	}
	json_object_put(o);
	free(text);
	return r;
}

int export_s3_fetch(char **path, const char *config)
{
	char bucket[S3_BUCKET_MAX + 1], err[1024] = "", sha[S3_SHA256_HEX + 1];
	char msha[S3_SHA256_HEX + 1], tmp[4096];
	const char *key, *dir = getenv("TMPDIR");
	struct s3_client *c = NULL;
	uint64_t size = 0, msize = 0;
	struct config cfg;
	int fd, r, status = 1;

	if (s3_parse_uri(*path, bucket, &key) < 0) {
		fprintf(stderr,
			"siprec-export: %s: not s3://BUCKET/KEY (a bucket name, a key of A-Z a-z "
			"0-9 . _ - /)\n",
			*path);
		return 1;
	}
	if (config_load(&cfg, config, NULL, stderr) < 0)
		return 1;
	if (!cfg.s3_endpoint || !*cfg.s3_endpoint) {
		fprintf(stderr, "siprec-export: %s: the configuration has no S3_ENDPOINT\n", *path);
		config_free(&cfg);
		return 1;
	}
	r = s3_client_new(
		&(struct s3_target){.endpoint = cfg.s3_endpoint,
				    .bucket = bucket,
				    .region = cfg.s3_region,
				    .credentials = cfg.s3_credentials,
				    .timeout_ms = cfg.s3_timeout_ms,
				    .virtual_hosted = !strcmp(cfg.s3_addressing, "virtual")},
		err, sizeof(err), &c);
	config_free(&cfg);
	if (r < 0) {
		fprintf(stderr, "siprec-export: %s\n", err);
		return 1;
	}
	snprintf(tmp, sizeof(tmp), "%s/siprec-export-XXXXXX.siprec", dir && *dir ? dir : "/tmp");
	fd = mkstemps(tmp, 7);
	if (fd < 0) {
		fprintf(stderr, "siprec-export: %s: %s\n", tmp, strerror(errno));
		goto out;
	}
	r = s3_get(c, key, fd, UINT64_MAX, &size, sha, err, sizeof(err));
	if (close(fd) < 0 && r == 0) {
		snprintf(err, sizeof(err), "%.900s: %s", tmp, strerror(errno));
		r = -EIO;
	}
	if (r < 0) {
		fprintf(stderr, "siprec-export: %s: %s\n", *path, err);
		unlink(tmp);
		goto out;
	}
	r = read_manifest(c, key, &msize, msha, err, sizeof(err));
	if (r == -ENOENT) {
		fprintf(stderr,
			"siprec-export: %s: no manifest beside it; only the file's own seals are "
			"checked\n",
			*path);
	} else if (r < 0) {
		fprintf(stderr, "siprec-export: %s: manifest: %s\n", *path, err);
		unlink(tmp);
		goto out;
	} else if (msize != size || strcmp(msha, sha) != 0) {
		fprintf(stderr,
			"siprec-export: %s: the object is %" PRIu64 " bytes, sha256 %s; its "
			"manifest says %" PRIu64 " bytes, sha256 %s: altered in the bucket\n",
			*path, size, sha, msize, msha);
		unlink(tmp);
		status = 2;
		goto out;
	}
	free(*path);
	*path = strdup(tmp);
	if (!*path) {
		unlink(tmp);
		goto out;
	}
	status = 0;
out:
	s3_client_free(c);
	return status;
}
