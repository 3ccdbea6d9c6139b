-- SPDX-License-Identifier: MIT
-- siprecd catalog, migration 11: participants by AoR without regard to ASCII case. Holds by AoR
-- (held_recordings, the web console's on-hold filter and holds page) and erasure compare AoRs
-- case-insensitively; "aor = ? COLLATE NOCASE" finds them through this index where
-- "lower(aor) = lower(?)" reads every participant (sqlite's lower() and NOCASE both fold ASCII
-- only, so the two agree). Applied by src/catalog/migrate.c.
CREATE INDEX participants_aor_nocase ON participants (aor COLLATE NOCASE);
