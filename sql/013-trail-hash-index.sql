-- SPDX-License-Identifier: MIT
-- siprecd catalog, migration 13: the trail without the index of its UNIQUE (hash). No query
-- reads a trail entry by its hash (the head is read by seq; the verification walks the entries
-- by seq, recomputing each hash from the entry's fields, seq and prev), and uniqueness proves
-- nothing the chain does not: an entry copied to another seq no longer hashes right. What proves
-- the trail is the chain and its signed heads (docs/COMPLIANCE.md "The trail"). Each entry's
-- hash, a SHA-256, went to a random leaf of that index: a third of the catalog's WAL writes at
-- 1,000 calls/s (4 entries a call).
--
-- SQLite cannot drop the index of a UNIQUE constraint, and rebuilding the table would copy the
-- whole trail at the upgrade (22 s for a million entries on the bench machine). Instead, as
-- migration 12 does and SQLite documents for changes no row depends on ("Making Other Kinds Of
-- Table Schema Changes", lang_altertable.html), the schema is edited in place: the constraint's
-- index (sqlite_autoindex_trail_1: the keys (hash, rowid), as CREATE UNIQUE INDEX ... (hash)
-- makes them) becomes a named index of its own and UNIQUE leaves the table's statement, both
-- or neither (only where the statement holds migration 6's text); RESET re-reads the schema,
-- and the named index is then dropped as any index is, its pages freed. The rows, the
-- trail_object index and the append-only triggers are not touched. Applied by
-- src/catalog/migrate.c, in one transaction.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET name = 'trail_hash_013',
	sql = 'CREATE UNIQUE INDEX trail_hash_013 ON trail (hash)'
	WHERE type = 'index' AND name = 'sqlite_autoindex_trail_1' AND tbl_name = 'trail'
	AND sql IS NULL
	AND (SELECT instr(sql, char(9) || 'hash TEXT NOT NULL UNIQUE' || char(10) || ')')
		FROM sqlite_schema WHERE type = 'table' AND name = 'trail') > 0;
UPDATE sqlite_schema SET sql = replace(sql,
	char(9) || 'hash TEXT NOT NULL UNIQUE' || char(10) || ')',
	char(9) || 'hash TEXT NOT NULL' || char(10) || ')')
	WHERE type = 'table' AND name = 'trail'
	AND EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'index' AND name = 'trail_hash_013');
PRAGMA writable_schema = RESET;
DROP INDEX IF EXISTS trail_hash_013;
