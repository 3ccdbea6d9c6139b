/* SPDX-License-Identifier: MIT */
/* siprec-export's reading of recordings from object storage (s3://bucket/key, docs/STORAGE.md). */
#pragma once

/*
 * Downloads the object *path names ("s3://bucket/key") with the S3_* settings of the
 * configuration (config NULL = the default file) into a temporary file, checks it against its
 * manifest (<key without .siprec>.json: size and sha256), and replaces *path by the file's
 * name, which the caller unlinks. Returns 0, 1 (usage or I/O, message printed) or 2 (the object
 * differs from its manifest).
 */
int export_s3_fetch(char **path, const char *config);
