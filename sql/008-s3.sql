-- SPDX-License-Identifier: MIT
-- siprecd catalog, migration 8: recordings in S3-compatible object storage (docs/STORAGE.md).
-- One row per finalized recording, written by the upload thread when it reads the recording's
-- 'finalized' trail entry: the outbox of its upload (pending while verified_at is NULL,
-- retried with backoff) and, once verified, where the recording lives in the bucket. A
-- recording deleted, erased or shredded gets delete_requested_at, and its objects are deleted.
-- Applied by src/catalog/migrate.c.
CREATE TABLE s3_objects (
	id INTEGER PRIMARY KEY,
	recording_uuid TEXT NOT NULL UNIQUE,
	session_uuid TEXT NOT NULL,
	bucket TEXT NOT NULL,
	object_key TEXT NOT NULL,            -- the .siprec, byte for byte
	manifest_key TEXT NOT NULL,          -- <recording>.json: the catalog facts
	metadata_key TEXT,                   -- the session's .metadata; NULL when it had none
	size INTEGER,                        -- of the .siprec object, as verified
	sha256 TEXT,                         -- of the .siprec object, as verified (= recordings.sha256)
	queued_at INTEGER NOT NULL,          -- unix ms
	attempts INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER NOT NULL,    -- unix ms
	last_attempt_at INTEGER,
	last_error TEXT,                     -- why the last attempt failed (HTTP status, S3 code, ...)
	uploaded_at INTEGER,
	verified_at INTEGER,                 -- read back, size and sha256 equal: NULL = still pending
	local_deleted_at INTEGER,            -- the local .siprec removed (S3_DELETE_LOCAL_AFTER)
	delete_requested_at INTEGER,         -- the recording was deleted/erased/shredded
	deleted_at INTEGER                   -- its objects were deleted from the bucket
);
CREATE INDEX s3_objects_pending ON s3_objects (next_attempt_at)
	WHERE verified_at IS NULL OR (delete_requested_at IS NOT NULL AND deleted_at IS NULL);

-- The last trail entry (finalized, deleted, erased, shredded) turned into s3_objects work. It
-- starts at 0: enabling S3 on a recorder uploads the recordings it already holds.
CREATE TABLE s3_cursor (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	trail_seq INTEGER NOT NULL
);
