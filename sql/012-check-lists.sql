-- SPDX-License-Identifier: MIT
-- siprecd catalog, migration 12: the CHECK constraints on sessions.transport, sessions.state,
-- streams.state and recordings.state written as "x = 'a' OR x = 'b' OR ..." instead of
-- "x IN ('a', 'b', ...)". The two accept and refuse the same values (NULL passes both). The
-- difference is what SQLite 3.40 runs: an IN list of three or more constants in a CHECK builds a
-- temporary b-tree every time the constraint is tested, and the catalog thread tests eight of them
-- for each call (its INSERTs and UPDATEs of these tables: 30% of its instructions). Comparisons
-- build nothing.
--
-- A CHECK constraint lives only in the table's CREATE statement (no row or index depends on it),
-- so the statement is edited in place as SQLite documents for such changes ("Making Other Kinds
-- Of Table Schema Changes", lang_altertable.html): PRAGMA writable_schema, then RESET, which
-- turns it off and re-reads the schema on this connection. replace() leaves a statement that
-- does not hold the exact text of migration 1 as it was. Applied by src/catalog/migrate.c.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema SET sql = replace(replace(sql,
	'CHECK (transport IN (''udp'', ''tcp'', ''tls''))',
	'CHECK (transport = ''udp'' OR transport = ''tcp'' OR transport = ''tls'')'),
	'CHECK (state IN (''active'', ''ended'', ''interrupted'', ''failed''))',
	'CHECK (state = ''active'' OR state = ''ended'' OR state = ''interrupted'' OR state = ''failed'')')
	WHERE type = 'table' AND name = 'sessions';
UPDATE sqlite_schema SET sql = replace(sql,
	'CHECK (state IN (''active'', ''idle'', ''ended''))',
	'CHECK (state = ''active'' OR state = ''idle'' OR state = ''ended'')')
	WHERE type = 'table' AND name = 'streams';
UPDATE sqlite_schema SET sql = replace(sql,
	'CHECK (state IN (''writing'', ''final'', ''interrupted'', ''shredded''))',
	'CHECK (state = ''writing'' OR state = ''final'' OR state = ''interrupted'' OR state = ''shredded'')')
	WHERE type = 'table' AND name = 'recordings';
PRAGMA writable_schema = RESET;
-- Every CREATE or DROP increments the schema cookie: other connections open on this catalog
-- (an operator's sqlite3 shell) then re-read the schema too, as the documented procedure asks.
CREATE TABLE migration_012_schema_bump (x);
DROP TABLE migration_012_schema_bump;
