-- SPDX-License-Identifier: MIT
-- siprecd catalog, migration 9: finding participants whose metadata is sealed
-- (ENABLE_METADATA_ENCRYPTION; docs/COMPLIANCE.md "Encrypted metadata"). The catalog then keeps no
-- AoR in clear; instead each participant row holds a blind index of its AoR:
-- 'v<data key version>:' || hex(HMAC-SHA256(key derived from that data key, lowercased AoR)).
-- Erasure and holds by AoR compute the index under every data key version they hold and compare.
-- Applied by src/catalog/migrate.c.
ALTER TABLE participants ADD COLUMN aor_index TEXT;
CREATE INDEX participants_aor_index ON participants (aor_index) WHERE aor_index IS NOT NULL;

-- The indexes of a hold's AoR (one per data key version held when it was placed), so that the
-- hold covers participants known only by their index.
CREATE TABLE legal_hold_aor_index (
	hold_id INTEGER NOT NULL REFERENCES legal_holds (id) ON DELETE CASCADE,
	aor_index TEXT NOT NULL,
	PRIMARY KEY (hold_id, aor_index)
) WITHOUT ROWID;

DROP VIEW held_recordings;
CREATE VIEW held_recordings AS
SELECT r.uuid AS recording_uuid, r.key_id, r.key_version, h.id AS hold_id, h.case_ref
FROM recordings AS r
JOIN sessions AS s ON s.id = r.session_id
JOIN legal_holds AS h ON h.released_at IS NULL AND (
	(h.kind = 'session' AND h.session_uuid = s.uuid)
	OR (h.kind = 'aor' AND EXISTS (SELECT 1 FROM participants AS p
		WHERE p.session_id = s.id AND (lower(p.aor) = lower(h.aor)
			OR p.aor_index IN (SELECT hi.aor_index FROM legal_hold_aor_index AS hi
				WHERE hi.hold_id = h.id))))
	OR (h.kind = 'range' AND s.started_at BETWEEN h.from_at AND h.to_at));
