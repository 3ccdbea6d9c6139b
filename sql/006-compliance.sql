-- SPDX-License-Identifier: MIT
-- siprecd catalog, migration 6: compliance (docs/COMPLIANCE.md). Retention policies, legal
-- holds, deletion marks on sessions and recordings, and the trail: an append-only, hash-chained
-- log of every recording created, finalized, exported, held, released, deleted, shredded and
-- erased, whose head is signed with the recorder's Ed25519 key (trail_heads). The daemon never
-- deletes a catalog row of a recording: it marks it.

ALTER TABLE sessions ADD COLUMN deleted_at INTEGER;    -- every recording of it deleted/erased
ALTER TABLE sessions ADD COLUMN deleted_reason TEXT;
ALTER TABLE recordings ADD COLUMN deleted_at INTEGER;  -- file and .metadata removed (ms)
ALTER TABLE recordings ADD COLUMN deleted_reason TEXT; -- 'retention:<policy>', 'erasure', ...

-- Retention: the longest applicable policy wins (NULL keep_seconds = forever); a recording no
-- policy applies to keeps RETENTION_DEFAULT. match: 'all'; 'aor' (a participant's AoR, GLOB,
-- case-insensitive); 'domain' (the host part of a participant's AoR, GLOB); 'src' (the SRC's
-- address:port, GLOB); 'context' (session_context: name = context_name, value GLOB pattern).
CREATE TABLE retention_policies (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	match TEXT NOT NULL CHECK (match IN ('all', 'aor', 'domain', 'src', 'context')),
	pattern TEXT,
	context_name TEXT,
	keep_seconds INTEGER CHECK (keep_seconds IS NULL OR keep_seconds >= 0),
	created_at INTEGER NOT NULL,
	created_by TEXT NOT NULL,
	CHECK (match = 'all' OR pattern IS NOT NULL),
	CHECK (match <> 'context' OR context_name IS NOT NULL)
);

-- Legal holds: on one session (session_uuid), on a participant AoR (case-insensitive, every
-- session it appears in), or on the sessions started in [from_at, to_at]. A hold in force has
-- released_at NULL; it is never deleted, and its release is the only update allowed.
CREATE TABLE legal_holds (
	id INTEGER PRIMARY KEY,
	kind TEXT NOT NULL CHECK (kind IN ('session', 'aor', 'range')),
	session_uuid TEXT,
	aor TEXT,
	from_at INTEGER,
	to_at INTEGER,
	case_ref TEXT NOT NULL,
	placed_by TEXT NOT NULL,
	placed_at INTEGER NOT NULL,
	released_at INTEGER,
	released_by TEXT,
	release_reason TEXT,
	CHECK (kind <> 'session' OR session_uuid IS NOT NULL),
	CHECK (kind <> 'aor' OR aor IS NOT NULL),
	CHECK (kind <> 'range' OR (from_at IS NOT NULL AND to_at IS NOT NULL AND from_at <= to_at))
);
CREATE TRIGGER legal_holds_no_delete BEFORE DELETE ON legal_holds
BEGIN
	SELECT RAISE(ABORT, 'legal holds are never deleted: release them');
END;
CREATE TRIGGER legal_holds_release_only BEFORE UPDATE ON legal_holds
WHEN OLD.released_at IS NOT NULL OR NEW.released_at IS NULL OR NEW.kind IS NOT OLD.kind
	OR NEW.session_uuid IS NOT OLD.session_uuid OR NEW.aor IS NOT OLD.aor
	OR NEW.from_at IS NOT OLD.from_at OR NEW.to_at IS NOT OLD.to_at
	OR NEW.case_ref IS NOT OLD.case_ref OR NEW.placed_by IS NOT OLD.placed_by
	OR NEW.placed_at IS NOT OLD.placed_at
BEGIN
	SELECT RAISE(ABORT, 'a legal hold can only be released, once');
END;

-- Every recording under a hold in force, with the hold (one row per recording and hold).
CREATE VIEW held_recordings AS
SELECT r.uuid AS recording_uuid, r.key_id, r.key_version, h.id AS hold_id, h.case_ref
FROM recordings AS r
JOIN sessions AS s ON s.id = r.session_id
JOIN legal_holds AS h ON h.released_at IS NULL AND (
	(h.kind = 'session' AND h.session_uuid = s.uuid)
	OR (h.kind = 'aor' AND EXISTS (SELECT 1 FROM participants AS p
		WHERE p.session_id = s.id AND lower(p.aor) = lower(h.aor)))
	OR (h.kind = 'range' AND s.started_at BETWEEN h.from_at AND h.to_at));

-- Crypto-shredding (siprecd-keys destroy) refuses a key version holding a held recording,
-- whoever writes the catalog.
CREATE TRIGGER keys_no_destroy_held BEFORE UPDATE OF state ON keys
WHEN NEW.state = 'destroyed' AND OLD.state <> 'destroyed' AND EXISTS (
	SELECT 1 FROM held_recordings AS hr JOIN recordings AS r ON r.uuid = hr.recording_uuid
	WHERE hr.key_id = NEW.key_id AND hr.key_version = NEW.version AND r.deleted_at IS NULL)
BEGIN
	SELECT RAISE(ABORT, 'legal hold: this key version protects a held recording');
END;

-- The trail. hash = SHA-256 of the entry's fields and prev (docs/COMPLIANCE.md "The trail"),
-- prev = hash of the entry before (64 zeros for the first). kind: created, finalized,
-- exported, held, released, deleted, shredded, erased, retention-run, signed. object:
-- 'recording:<uuid>', 'hold:<id>', 'key:<id>/<version>', 'subject:<sha256 of the AoR>'.
CREATE TABLE trail (
	seq INTEGER PRIMARY KEY,
	at INTEGER NOT NULL,
	kind TEXT NOT NULL,
	actor TEXT NOT NULL,              -- 'siprecd', 'uid:1000', a certificate name, a tool
	object TEXT NOT NULL,
	reason TEXT,
	sha256 TEXT,                      -- of the file, where one is concerned
	prev TEXT NOT NULL,
	hash TEXT NOT NULL UNIQUE
);
CREATE INDEX trail_object ON trail (object);
CREATE TRIGGER trail_no_update BEFORE UPDATE ON trail
BEGIN
	SELECT RAISE(ABORT, 'the trail is append-only');
END;
CREATE TRIGGER trail_no_delete BEFORE DELETE ON trail
BEGIN
	SELECT RAISE(ABORT, 'the trail is append-only');
END;

-- Signed heads: the Ed25519 signature of the recorder's trail key over
-- "siprecd-trail-head-v1 <seq> <hash>" (key_id: SHA-256 of the raw public key, hex).
CREATE TABLE trail_heads (
	id INTEGER PRIMARY KEY,
	seq INTEGER NOT NULL,
	hash TEXT NOT NULL,
	signed_at INTEGER NOT NULL,
	key_id TEXT NOT NULL,
	signature TEXT NOT NULL,          -- base64
	reason TEXT                       -- 'interval', 'key-rotation', 'shutdown', 'retention', ...
);
CREATE TRIGGER trail_heads_no_update BEFORE UPDATE ON trail_heads
BEGIN
	SELECT RAISE(ABORT, 'signed trail heads are append-only');
END;
CREATE TRIGGER trail_heads_no_delete BEFORE DELETE ON trail_heads
BEGIN
	SELECT RAISE(ABORT, 'signed trail heads are append-only');
END;
