-- SPDX-License-Identifier: MIT
-- siprecd catalog, migration 10: the blind index of the domain of a participant whose metadata
-- is sealed (docs/COMPLIANCE.md "Encrypted metadata"), beside the AoR's (009): 'v<data key
-- version>:' || hex(HMAC-SHA256(key derived from that data key, lowercased host part of the AoR)).
-- Retention policies by exact AoR or exact domain compare these when the AoR is sealed.
-- Applied by src/catalog/migrate.c.
ALTER TABLE participants ADD COLUMN domain_index TEXT;
