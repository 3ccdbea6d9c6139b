// SPDX-License-Identifier: MIT
/*
 * Unit tests for the catalog: migrations, version guard, the write operations read back with
 * SQL, batching, queue limits, crash recovery, and every query in docs/CATALOG.md run against a
 * filled catalog and compared with the output printed under it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "catalog/catalog-internal.h"
#include "siprecd/catalog.h"
#include "siprecd/compliance.h"
#include "siprecd/macro.h"

static char tmpdir[] = "/tmp/test-catalog.XXXXXX";
static char dbpath[256];
static int db_counter;

/* A fresh database path per test. */
static const char *new_db(void)
{
	snprintf(dbpath, sizeof(dbpath), "%s/c%d.db", tmpdir, ++db_counter);
	return dbpath;
}

/* The source tree: $SRCDIR, or the current directory (make runs tests from the top). */
static const char *srcdir(void)
{
	const char *s = getenv("SRCDIR");

	return s && *s ? s : ".";
}

static struct catalog *open_ok(const char *path)
{
	struct catalog *c = NULL;
	char err[256] = "";
	int r = catalog_open(path, err, sizeof(err), &c);

	if (r < 0)
		fail_msg("catalog_open(%s): %d %s", path, r, err);
	assert_non_null(c);
	return c;
}

/* Runs sql on a read-only connection; returns the rows as "a|b\n" lines (sqlite3 list mode,
 * NULL as empty), malloc'ed. */
static char *query(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char *out = NULL;
	size_t outlen = 0;
	FILE *f;
	int rc;

	assert_int_equal(catalog_open_readonly(path, &db), 0);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("prepare %s: %s", sql, sqlite3_errmsg(db));
	f = open_memstream(&out, &outlen);
	assert_non_null(f);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (int i = 0; i < sqlite3_column_count(st); i++) {
			const unsigned char *t = sqlite3_column_text(st, i);

			fprintf(f, "%s%s", i ? "|" : "", t ? (const char *)t : "");
		}
		fputc('\n', f);
	}
	if (rc != SQLITE_DONE)
		fail_msg("step %s: %s", sql, sqlite3_errmsg(db));
	fclose(f);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return out;
}

static void assert_query(const char *path, const char *sql, const char *expected)
{
	_cleanup_free_ char *got = query(path, sql);

	if (strcmp(got, expected) != 0)
		fail_msg("query: %s\nexpected:\n%sgot:\n%s", sql, expected, got);
}

static int exec_rw(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	int rc;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

static void test_migrations_from_empty(void **state)
{
	const char *path = new_db();
	struct catalog *c = open_ok(path);
	size_t n = 0;
	struct stat stbuf;
	char want[16];

	catalog_migrations(&n);
	assert_true(n >= 2);
	snprintf(want, sizeof(want), "%zu\n", n);
	assert_query(path, "PRAGMA user_version", want);
	assert_query(path, "PRAGMA journal_mode", "wal\n");
	assert_query(path, "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name",
		     "dtmf_events\nkeys\nlegal_hold_aor_index\nlegal_holds\nmetadata_snapshots\n"
		     "participants\n"
		     "recordings\nretention_policies\ns3_cursor\ns3_objects\nsession_context\n"
		     "sessions\nstream_formats\nstreams\ntrail\ntrail_heads\nwebhook_cursor\n"
		     "webhook_outbox\n");
	assert_query(path,
		     "SELECT name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL "
		     "ORDER BY name",
		     "dtmf_events_session\nparticipants_aor\nparticipants_aor_index\n"
		     "participants_aor_nocase\n"
		     "recordings_session\n"
		     "recordings_writing\ns3_objects_pending\nsession_context_lookup\n"
		     "sessions_active\n"
		     "sessions_call_id\nsessions_started_at\ntrail_object\n"
		     "webhook_outbox_pending\n");
	assert_int_equal(stat(path, &stbuf), 0);
	/* Participants' names and numbers: no access for others. */
	assert_int_equal(stbuf.st_mode & 0007, 0);
	assert_null(catalog_free(c));
}

/* The binary must carry exactly the files in sql/, in order (a stale build would not). */
static void test_embedded_matches_sql_dir(void **state)
{
	char dir[512];
	struct dirent **ents = NULL;
	const struct catalog_migration *m;
	size_t n = 0, k = 0;
	int nents;

	snprintf(dir, sizeof(dir), "%s/sql", srcdir());
	nents = scandir(dir, &ents, NULL, alphasort);
	if (nents < 0)
		fail_msg("cannot read %s (set SRCDIR): %m", dir);
	m = catalog_migrations(&n);
	for (int i = 0; i < nents; i++) {
		const char *name = ents[i]->d_name;
		size_t len = strlen(name);

		if (name[0] >= '0' && name[0] <= '9' && len > 4 &&
		    !strcmp(name + len - 4, ".sql")) {
			assert_true(k < n);
			assert_string_equal(m[k].name, name);
			k++;
		}
		free(ents[i]);
	}
	free(ents);
	assert_int_equal(k, n);
}

static void test_reopen_idempotent(void **state)
{
	const char *path = new_db();
	struct catalog *c = open_ok(path);
	const struct catalog_session s = {.uuid = "u1", .started_at = 1000};
	size_t n = 0;
	char want[16];

	assert_int_equal(catalog_session_begin(c, &s), 0);
	assert_int_equal(catalog_session_end(c, "u1", 2000, "ended", "bye"), 0);
	assert_int_equal(catalog_sync(c), 0);
	catalog_free(c);
	for (int i = 0; i < 3; i++) {
		c = open_ok(path);
		assert_int_equal(catalog_recovered_sessions(c), 0);
		catalog_free(c);
	}
	catalog_migrations(&n);
	snprintf(want, sizeof(want), "%zu\n", n);
	assert_query(path, "PRAGMA user_version", want);
	assert_query(path, "SELECT uuid, state, end_reason FROM sessions", "u1|ended|bye\n");
}

static void test_newer_version_refused(void **state)
{
	const char *path = new_db();
	struct catalog *c = open_ok(path);
	char err[256] = "";

	catalog_free(c);
	assert_int_equal(exec_rw(path, "PRAGMA user_version = 99"), SQLITE_OK);
	c = NULL;
	assert_int_equal(catalog_open(path, err, sizeof(err), &c), -EPROTONOSUPPORT);
	assert_null(c);
	assert_non_null(strstr(err, "99 is newer"));
	/* And nothing was touched. */
	assert_query(path, "PRAGMA user_version", "99\n");
}

static void test_broken_migration_rolls_back(void **state)
{
	const char *path;
	struct catalog *c;
	char err[256] = "";

	/* A table in the way of migration 1 on a database at version 0: migration 1 must fail
	 * whole, leaving user_version 0 and no half schema. */
	path = new_db();
	assert_int_equal(exec_rw(path, "CREATE TABLE participants (x)"), SQLITE_OK);
	c = NULL;
	assert_int_equal(catalog_open(path, err, sizeof(err), &c), -EIO);
	assert_non_null(strstr(err, "001-initial.sql"));
	assert_query(path, "PRAGMA user_version", "0\n");
	assert_query(path, "SELECT name FROM sqlite_schema WHERE type = 'table'", "participants\n");
}

/* How many OpenEphemeral (a temporary b-tree) sqlite's plan of sql has, on a read-write
 * connection to path. */
static int ephemerals(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	_cleanup_free_ char *explain = NULL;
	int n = 0;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_true(asprintf(&explain, "EXPLAIN %s", sql) > 0);
	if (sqlite3_prepare_v2(db, explain, -1, &st, NULL) != SQLITE_OK)
		fail_msg("prepare %s: %s", sql, sqlite3_errmsg(db));
	while (sqlite3_step(st) == SQLITE_ROW)
		n += strcmp((const char *)sqlite3_column_text(st, 1), "OpenEphemeral") == 0;
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/*
 * Migration 12: the CHECK lists of sessions, streams and recordings, tested on every INSERT and
 * UPDATE the catalog thread makes, build no temporary b-tree, and still refuse what they refused.
 * A catalog at version 11 with a row in it gets them too, the row kept.
 */
static void test_check_lists(void **state)
{
	static const char *const writes[] = {
		"INSERT INTO sessions (uuid, transport, started_at) VALUES (?1, ?2, ?3)",
		"UPDATE sessions SET ended_at = ?2, state = ?3, end_reason = ?4 WHERE uuid = ?1",
		"UPDATE streams SET state = ?2 WHERE id = ?1",
		"UPDATE recordings SET state = ?2, complete = ?3 WHERE uuid = ?1",
		NULL,
	};
	static const char *const refused[] = {
		"INSERT INTO sessions (uuid, transport, started_at) VALUES ('b', 'sctp', 1)",
		"UPDATE sessions SET state = 'gone' WHERE uuid = 'a'",
		"UPDATE streams SET state = 'paused'",
		"UPDATE recordings SET state = 'lost'",
		NULL,
	};
	const struct catalog_migration *m;
	const char *path = new_db();
	struct catalog *c;
	size_t n = 0;

	/* Version 11, with a session, a stream and a recording written under the old CHECKs. */
	m = catalog_migrations(&n);
	assert_true(n >= 12);
	for (size_t i = 0; i < 11; i++)
		assert_int_equal(exec_rw(path, m[i].sql), SQLITE_OK);
	assert_int_equal(exec_rw(path, "PRAGMA user_version = 11; "
				       "INSERT INTO sessions (uuid, transport, started_at) "
				       "VALUES ('a', 'tls', 1); "
				       "INSERT INTO streams (session_id, label) VALUES (1, '1'); "
				       "INSERT INTO recordings (uuid, session_id, stream_id, path, "
				       "created_at) VALUES ('r', 1, 1, '/x.siprec', 2)"),
			 SQLITE_OK);
	assert_true(ephemerals(path, writes[1]) > 0);
	{
		/* On a connection in defensive mode too (writable_schema refused there). */
		sqlite3 *db = NULL;
		char err[256] = "";
		int on = 0;

		assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
		assert_int_equal(sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL),
				 SQLITE_OK);
		if (catalog_migrate(db, err, sizeof(err)) != 0)
			fail_msg("catalog_migrate in defensive mode: %s", err);
		sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, -1, &on);
		assert_int_equal(on, 1);
		sqlite3_close(db);
	}
	c = open_ok(path);
	catalog_free(c);

	for (size_t i = 0; writes[i]; i++)
		if (ephemerals(path, writes[i]) != 0)
			fail_msg("still a temporary b-tree per run: %s", writes[i]);
	for (size_t i = 0; refused[i]; i++)
		if (exec_rw(path, refused[i]) != SQLITE_CONSTRAINT)
			fail_msg("not refused: %s", refused[i]);
	assert_int_equal(exec_rw(path, "UPDATE sessions SET transport = NULL, state = 'ended'; "
				       "UPDATE streams SET state = 'idle'; "
				       "UPDATE recordings SET state = 'shredded'"),
			 SQLITE_OK);
	assert_query(path,
		     "SELECT s.uuid, s.state, st.state, r.uuid, r.state FROM sessions AS s "
		     "JOIN streams AS st ON st.session_id = s.id "
		     "JOIN recordings AS r ON r.stream_id = st.id",
		     "a|ended|idle|r|shredded\n");
	assert_query(path, "PRAGMA integrity_check", "ok\n");
}

static void add_session(struct catalog *c, const char *uuid, const char *call_id,
			const char *transport, uint64_t started)
{
	const struct catalog_session s = {
		.uuid = uuid,
		.call_id = call_id,
		.siprec_session_id = "hVpd7YQgRW2nD22h7q60JQ==",
		.src_addr = "192.0.2.10:5060",
		.transport = transport,
		.started_at = started,
	};

	assert_int_equal(catalog_session_begin(c, &s), 0);
}

static void add_participant(struct catalog *c, const char *uuid, const char *pid, const char *name,
			    const char *aor)
{
	const struct catalog_participant p = {uuid, pid, name, aor, NULL, NULL};

	assert_int_equal(catalog_participant_upsert(c, &p), 0);
}

static void add_stream(struct catalog *c, const char *uuid, const char *label, const char *pid,
		       uint16_t port)
{
	const struct catalog_stream s = {
		.session_uuid = uuid,
		.label = label,
		.stream_id = label,
		.participant_id = pid,
		.direction = "sendonly",
		.codec = "PCMU",
		.payload_type = 0,
		.clock_rate = 8000,
		.srtp_suite = "AES_CM_128_HMAC_SHA1_80",
		.local_port = port,
	};

	assert_int_equal(catalog_stream_upsert(c, &s), 0);
}

static void add_stats(struct catalog *c, const char *uuid, const char *label, uint64_t packets,
		      uint64_t lost, uint64_t auth_failures, uint64_t first, uint64_t last)
{
	const struct catalog_stream_stats st = {
		.session_uuid = uuid,
		.label = label,
		.ssrcs = "1a2b3c4d",
		.packets = packets,
		.bytes = packets * 172,
		.lost = lost,
		.srtp_auth_failures = auth_failures,
		.first_packet_at = first,
		.last_packet_at = last,
	};

	assert_int_equal(catalog_stream_stats(c, &st), 0);
}

static void add_recording(struct catalog *c, const char *ruuid, const char *uuid, const char *label,
			  uint64_t created)
{
	char path[128];
	const struct catalog_recording r = {
		.uuid = ruuid,
		.session_uuid = uuid,
		.stream_label = label,
		.path = path,
		.key_id = "dk-2023-11",
		.key_version = 3,
		.algorithm = "AES-256-GCM",
		.created_at = created,
	};

	snprintf(path, sizeof(path), "/var/lib/siprecd/recordings/%s.siprec", ruuid);
	assert_int_equal(catalog_recording_begin(c, &r), 0);
}

/*
 * Migration 13: the trail without the index of its UNIQUE (hash), the schema edited in place. A
 * catalog at version 12 keeps its entries (seq, prev and hash as they were: the chain still
 * verifies), the catalog appends after them, the append-only triggers still refuse UPDATE and
 * DELETE, the only index left on the trail is trail_object, and the database is consistent.
 */
static void test_trail_hash_index(void **state)
{
	const struct catalog_migration *m;
	const char *path = new_db();
	_cleanup_free_ char *before = NULL, *first3 = NULL;
	struct trail_verify v = {0};
	struct catalog *c;
	sqlite3 *db = NULL;
	size_t n = 0;

	m = catalog_migrations(&n);
	assert_true(n >= 13);
	for (size_t i = 0; i < 12; i++)
		assert_int_equal(exec_rw(path, m[i].sql), SQLITE_OK);
	assert_int_equal(exec_rw(path, "PRAGMA user_version = 12"), SQLITE_OK);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	for (int i = 0; i < 3; i++)
		assert_int_equal(trail_append(db,
					      &(struct trail_entry){.at = 1000 + (uint64_t)i,
								    .kind = "held",
								    .actor = "uid:0",
								    .object = "hold:1",
								    .reason = "case 7"},
					      NULL),
				 0);
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_query(path,
		     "SELECT group_concat(name) FROM (SELECT name FROM pragma_index_list('trail') "
		     "ORDER BY name)",
		     "sqlite_autoindex_trail_1,trail_object\n");
	before = query(path, "SELECT seq, at, kind, actor, object, reason, sha256, prev, hash "
			     "FROM trail ORDER BY seq");

	c = open_ok(path);
	add_session(c, "s13", "call-13", "tls", 2000);
	add_stream(c, "s13", "1", NULL, 4000);
	add_recording(c, "r13", "s13", "1", 2001);
	catalog_free(c);

	assert_query(path, "PRAGMA user_version", "13\n");
	assert_query(path, "SELECT group_concat(name) FROM pragma_index_list('trail')",
		     "trail_object\n");
	assert_query(path, "SELECT instr(sql, 'UNIQUE') FROM sqlite_schema WHERE name = 'trail'",
		     "0\n");
	first3 = query(path, "SELECT seq, at, kind, actor, object, reason, sha256, prev, hash "
			     "FROM trail WHERE seq <= 3 ORDER BY seq");
	assert_string_equal(first3, before);
	assert_query(path,
		     "SELECT seq, kind, object, prev = (SELECT hash FROM trail WHERE seq = 3) "
		     "FROM trail WHERE seq > 3",
		     "4|created|recording:r13|1\n");
	if (exec_rw(path, "UPDATE trail SET reason = 'x' WHERE seq = 2") != SQLITE_CONSTRAINT)
		fail_msg("an UPDATE of the trail was not refused");
	if (exec_rw(path, "DELETE FROM trail WHERE seq = 4") != SQLITE_CONSTRAINT)
		fail_msg("a DELETE from the trail was not refused");
	assert_int_equal(catalog_open_readonly(path, &db), 0);
	/* the one problem: no public key given, so no signature checked (there are none) */
	assert_int_equal(trail_verify(db, NULL, tmpdir, NULL, NULL, &v), 1);
	sqlite3_close(db);
	assert_int_equal(v.entries, 4);
	assert_int_equal(v.problems, 1);
	assert_query(path, "PRAGMA integrity_check", "ok\n");
}

static void final_recording(struct catalog *c, const char *ruuid, uint64_t size, uint64_t at)
{
	const struct catalog_recording_final f = {
		.uuid = ruuid,
		.size = size,
		.chunks = size / 65536 + 1,
		.frames = size / 172,
		.sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		.complete = true,
		.state = "final",
		.finalized_at = at,
	};

	assert_int_equal(catalog_recording_final(c, &f), 0);
}

static void add_format(struct catalog *c, const char *uuid, const char *label, unsigned pt,
		       const char *enc, uint32_t clock, const char *fmtp)
{
	assert_int_equal(catalog_stream_format_add(c,
						   &(struct catalog_stream_format){
							   .session_uuid = uuid,
							   .label = label,
							   .payload_type = pt,
							   .encoding = enc,
							   .clock_rate = clock,
							   .fmtp = fmtp,
						   }),
			 0);
}

static void add_metadata(struct catalog *c, const char *uuid, uint32_t seq, uint64_t at,
			 const char *warnings, uint32_t nwarn)
{
	static const char xml[] = "<recording xmlns='urn:ietf:params:xml:ns:recording:1'/>";
	const struct catalog_metadata m = {
		.session_uuid = uuid,
		.seq = seq,
		.received_at = at,
		.datamode = seq ? "partial" : "complete",
		.body = xml,
		.body_len = sizeof(xml) - 1,
		.json = "{}",
		.warnings = warnings,
		.warning_count = nwarn,
	};

	assert_int_equal(catalog_metadata_snapshot(c, &m), 0);
}

#define SA "3f0c7a52-8d7e-4c1b-9a55-0000000000a1"
#define SB "3f0c7a52-8d7e-4c1b-9a55-0000000000b2"
#define SC "3f0c7a52-8d7e-4c1b-9a55-0000000000c3"
#define T0 1700000000000ull /* 2023-11-14T22:13:20Z */

/*
 * The catalog docs/CATALOG.md's example outputs are computed from: session A ended normally,
 * session B was cut by a crash (left active, catalog reopened), session C failed the next day.
 */
static void fill_fixture(const char *path)
{
	struct catalog *c = open_ok(path);

	assert_int_equal(catalog_start(c), 0);
	add_session(c, SA, "a84b4c76e66710@pc33.example.com", "tls", T0);
	add_participant(c, SA, "p-alice", "Alice", "sip:alice@example.com");
	add_participant(c, SA, "p-bob", "Bob", "sip:bob@example.net");
	add_stream(c, SA, "1", "p-alice", 20000);
	add_stream(c, SA, "2", "p-bob", 20002);
	add_metadata(c, SA, 0, T0, NULL, 0);
	add_recording(c, "a1", SA, "1", T0 + 20);
	add_recording(c, "a2", SA, "2", T0 + 20);
	add_stats(c, SA, "1", 3275, 0, 0, T0 + 40, T0 + 65480);
	add_stats(c, SA, "2", 3200, 75, 2, T0 + 60, T0 + 65460);
	add_metadata(c, SA, 1, T0 + 30000, "[\"participant p-carol has no nameID\"]", 1);
	final_recording(c, "a1", 540672, T0 + 65500);
	final_recording(c, "a2", 532480, T0 + 65500);
	assert_int_equal(catalog_session_end(c, SA, T0 + 65500, "ended", "bye"), 0);

	add_session(c, SB, "77d0e1f2@sbc.example.org", "udp", T0 + 600000);
	add_participant(c, SB, "p-carol", "Carol", "sip:carol@example.com");
	add_participant(c, SB, "p-alice", NULL, "sip:alice@example.com");
	add_stream(c, SB, "1", "p-carol", 20004);
	add_stream(c, SB, "2", "p-alice", 20006);
	add_format(c, SB, "1", 18, "G729", 8000, "annexb=no");
	add_format(c, SB, "1", 101, "telephone-event", 8000, "0-15");
	add_format(c, SB, "2", 18, "G729", 8000, "annexb=no");
	add_format(c, SB, "2", 8, "PCMA", 8000, NULL);
	add_format(c, SB, "2", 8, "PCMA", 8000, ""); /* a re-offer: replaces, no duplicate */
	assert_int_equal(catalog_session_context_add(c, SB, "sip", "User-to-User",
						     "00FA080010C4E34B5B9E59;encoding=hex"),
			 0);
	assert_int_equal(catalog_session_context_add(c, SB, "sip", "Session-ID",
						     "ab30317f1a784dc48ff824d0d3715d86"),
			 0);
	assert_int_equal(
		catalog_session_context_add(c, SB, "metadata", "ucid", "00FA080010C4E34B5B9E59"),
		0);
	/* the same value twice (an UPDATE repeating it) is one row */
	assert_int_equal(
		catalog_session_context_add(c, SB, "metadata", "ucid", "00FA080010C4E34B5B9E59"),
		0);
	assert_int_equal(catalog_session_context_add(c, SB, "bogus", "x", "y"), -EINVAL);
	add_recording(c, "b1", SB, "1", T0 + 600020);
	add_recording(c, "b2", SB, "2", T0 + 600020);
	add_stats(c, SB, "1", 1500, 12, 0, T0 + 600040, T0 + 630000);
	add_stats(c, SB, "2", 1490, 0, 0, T0 + 600050, T0 + 629990);
	add_metadata(c, SB, 0, T0 + 600000, NULL, 0);
	assert_int_equal(catalog_sync(c), 0);
	catalog_free(c);

	c = open_ok(path);
	assert_int_equal(catalog_recovered_sessions(c), 1);
	add_session(c, SC, "0c1d2e3f@pbx.example.com", "tcp", T0 + 86400000);
	assert_int_equal(catalog_session_end(c, SC, T0 + 86400250, "failed", "sdp-rejected"), 0);
	assert_int_equal(catalog_sync(c), 0);
	catalog_free(c);
}

/* A label mismatch found after the snapshot was stored: counted and appended to its warnings. */
static void test_metadata_warning(void **state)
{
	const char *path = new_db();
	struct catalog *c = open_ok(path);

	assert_int_equal(catalog_start(c), 0);
	add_session(c, SA, "w@x", "udp", T0);
	add_metadata(c, SA, 0, T0, "[\"first\"]", 1);
	assert_int_equal(catalog_metadata_warning(c, SA, "SDP stream 'a' matches no metadata"), 0);
	assert_int_equal(catalog_metadata_warning(c, SA, "SDP stream 'b' matches no metadata"), 0);
	assert_int_equal(catalog_metadata_warning(c, NULL, "x"), -EINVAL);
	assert_int_equal(catalog_sync(c), 0);
	catalog_free(c);
	assert_query(path, "SELECT metadata_warnings FROM sessions", "3\n");
	assert_query(path, "SELECT warnings FROM metadata_snapshots",
		     "[\"first\",\"SDP stream 'a' matches no metadata\","
		     "\"SDP stream 'b' matches no metadata\"]\n");
}

static void test_round_trip(void **state)
{
	const char *path = new_db();
	struct catalog *c;

	fill_fixture(path);
	assert_query(path,
		     "SELECT uuid, call_id, siprec_session_id, src_addr, transport, started_at, "
		     "ended_at, state, end_reason, metadata_warnings FROM sessions ORDER BY id",
		     SA "|a84b4c76e66710@pc33.example.com|hVpd7YQgRW2nD22h7q60JQ==|192.0.2.10:5060|"
			"tls|1700000000000|1700000065500|ended|bye|1\n" SB
			"|77d0e1f2@sbc.example.org|hVpd7YQgRW2nD22h7q60JQ==|192.0.2.10:5060|udp|"
			"1700000600000|1700000630000|interrupted|crash|0\n" SC
			"|0c1d2e3f@pbx.example.com|hVpd7YQgRW2nD22h7q60JQ==|192.0.2.10:5060|tcp|"
			"1700086400000|1700086400250|failed|sdp-rejected|0\n");
	assert_query(
		path,
		"SELECT s.uuid, p.participant_id, p.name, p.aor FROM participants AS p "
		"JOIN sessions AS s ON s.id = p.session_id ORDER BY p.id",
		SA "|p-alice|Alice|sip:alice@example.com\n" SA "|p-bob|Bob|sip:bob@example.net\n" SB
		   "|p-carol|Carol|sip:carol@example.com\n" SB "|p-alice||sip:alice@example.com\n");
	assert_query(
		path,
		"SELECT st.label, st.stream_id, p.participant_id, st.direction, st.codec, "
		"st.payload_type, st.clock_rate, st.srtp_suite, st.local_port, st.ssrcs, "
		"st.packets, st.bytes, st.lost, st.srtp_auth_failures, st.state, "
		"st.first_packet_at, st.last_packet_at FROM streams AS st "
		"LEFT JOIN participants AS p ON p.id = st.participant_id ORDER BY st.id LIMIT 2",
		"1|1|p-alice|sendonly|PCMU|0|8000|AES_CM_128_HMAC_SHA1_80|20000|1a2b3c4d|3275|"
		"563300|0|0|ended|1700000000040|1700000065480\n"
		"2|2|p-bob|sendonly|PCMU|0|8000|AES_CM_128_HMAC_SHA1_80|20002|1a2b3c4d|3200|"
		"550400|75|2|ended|1700000000060|1700000065460\n");
	assert_query(path,
		     "SELECT r.uuid, s.uuid, st.label, r.size, r.chunks, r.complete, r.state, "
		     "r.key_id, r.key_version, r.algorithm, r.finalized_at FROM recordings AS r "
		     "JOIN sessions AS s ON s.id = r.session_id "
		     "LEFT JOIN streams AS st ON st.id = r.stream_id ORDER BY r.id",
		     "a1|" SA "|1|540672|9|1|final|dk-2023-11|3|AES-256-GCM|1700000065500\n"
		     "a2|" SA "|2|532480|9|1|final|dk-2023-11|3|AES-256-GCM|1700000065500\n"
		     "b1|" SB "|1|0|0|0|interrupted|dk-2023-11|3|AES-256-GCM|\n"
		     "b2|" SB "|2|0|0|0|interrupted|dk-2023-11|3|AES-256-GCM|\n");
	assert_query(path,
		     "SELECT seq, datamode, length(body), body_encrypted, json, warnings "
		     "FROM metadata_snapshots ORDER BY id",
		     "0|complete|55|0|{}|[]\n"
		     "1|partial|55|0|{}|[\"participant p-carol has no nameID\"]\n"
		     "0|complete|55|0|{}|[]\n");

	/* Updates leave NULL fields alone; foreign keys hold. */
	c = open_ok(path);
	add_participant(c, SA, "p-bob", NULL, "sip:robert@example.net");
	assert_int_equal(catalog_sync(c), 0);
	catalog_free(c);
	assert_query(path, "SELECT name, aor FROM participants WHERE participant_id = 'p-bob'",
		     "Bob|sip:robert@example.net\n");
	assert_query(path, "PRAGMA foreign_key_check", "");
}

/* Migration 5: the media counters of a stream and its telephone-events (DTMF digits). */
static void test_media_dtmf(void **state)
{
	const char *path = new_db();
	struct catalog *c = open_ok(path);
	const struct catalog_stream_stats st = {
		.session_uuid = SA,
		.label = "1",
		.ssrcs = "1a2b3c4d,0badcafe",
		.packets = 10,
		.source_addr = "192.0.2.10:40000",
		.dropped_source = 400,
		.dropped_limit = 2,
		.unnegotiated_pt = 3,
		.dtmf_events = 2,
	};
	struct catalog_dtmf d = {
		.session_uuid = SA,
		.label = "1",
		.recording_uuid = "a1",
		.event = 11,
		.volume = 10,
		.payload_type = 101,
		.ended = true,
		.ssrc = 0x1a2b3c4d,
		.rtp_timestamp = 8000,
		.duration = 800,
		.duration_ms = 100,
		.started_at = T0 + 1000,
	};

	add_session(c, SA, "call-a", "tls", T0);
	add_stream(c, SA, "1", NULL, 20000);
	assert_int_equal(catalog_stream_stats(c, &st), 0);
	assert_int_equal(catalog_dtmf_event(c, &d), 0);
	d.event = 16; /* flash: not a digit */
	d.ended = false;
	d.started_at = T0 + 2000;
	assert_int_equal(catalog_dtmf_event(c, &d), 0);
	d.started_at = 0;
	assert_int_equal(catalog_dtmf_event(c, &d), -EINVAL);
	assert_int_equal(catalog_sync(c), 0);
	assert_query(path,
		     "SELECT ssrcs, source_addr, dropped_source, dropped_limit, unnegotiated_pt, "
		     "dtmf_events FROM streams",
		     "1a2b3c4d,0badcafe|192.0.2.10:40000|400|2|3|2\n");
	assert_query(
		path,
		"SELECT st.label, d.recording_uuid, d.event, d.digit, d.started_at, "
		"d.rtp_timestamp, d.duration, d.duration_ms, d.volume, d.payload_type, d.ssrc, "
		"d.ended FROM dtmf_events AS d JOIN streams AS st ON st.id = d.stream_id "
		"ORDER BY d.id",
		"1|a1|11|#|1700000001000|8000|800|100|10|101|1a2b3c4d|1\n"
		"1|a1|16||1700000002000|8000|800|100|10|101|1a2b3c4d|0\n");
	catalog_free(c);
}

static void test_keys(void **state)
{
	const char *path = new_db();
	struct catalog *c = open_ok(path);
	static const unsigned char wrapped[] = {0xde, 0xad, 0xbe, 0xef};
	struct catalog_key k = {
		.key_id = "dk-1",
		.version = 1,
		.algorithm = "AES-256-GCM",
		.state = "active",
		.created_at = 10,
		.activated_at = 11,
		.wrapped = wrapped,
		.wrapped_len = sizeof(wrapped),
		.wrap_alg = "AES-256-KW",
		.kek_id = "kek-1",
	};

	assert_int_equal(catalog_key_upsert(c, &k), 0);
	assert_int_equal(catalog_sync(c), 0);
	assert_query(path, "SELECT key_id, version, state, hex(wrapped), kek_id FROM keys",
		     "dk-1|1|active|DEADBEEF|kek-1\n");
	k.state = "destroyed";
	k.destroyed_at = 20;
	assert_int_equal(catalog_key_upsert(c, &k), 0);
	assert_int_equal(catalog_sync(c), 0);
	assert_query(
		path,
		"SELECT state, activated_at, destroyed_at, wrapped IS NULL, wrap_alg FROM keys",
		"destroyed|11|20|1|AES-256-KW\n");
	catalog_free(c);
}

/*
 * A stream's srtp_suite: NULL leaves it (an update of the codec or the sender), "" records
 * plain RTP as NULL: a stream removed with port 0 and restored without a=crypto is plain now.
 */
static void test_stream_srtp_plain(void **state)
{
	const char *path = new_db();
	struct catalog *c = open_ok(path);
	struct catalog_stream s = {
		.session_uuid = "s",
		.label = "1",
		.payload_type = -1,
		.srtp_suite = "AES_CM_128_HMAC_SHA1_80",
	};
	const char *q = "SELECT coalesce(srtp_suite, 'NULL') FROM streams ORDER BY label";

	assert_int_equal(
		catalog_session_begin(c, &(struct catalog_session){.uuid = "s", .started_at = 1}),
		0);
	assert_int_equal(catalog_stream_upsert(c, &s), 0);
	s.label = "2";
	s.srtp_suite = "";
	assert_int_equal(catalog_stream_upsert(c, &s), 0); /* inserted plain */
	assert_int_equal(catalog_sync(c), 0);
	assert_query(path, q, "AES_CM_128_HMAC_SHA1_80\nNULL\n");
	s.label = "1";
	s.srtp_suite = NULL;
	s.codec = "PCMA";
	assert_int_equal(catalog_stream_upsert(c, &s), 0); /* left as it was */
	assert_int_equal(catalog_sync(c), 0);
	assert_query(path, q, "AES_CM_128_HMAC_SHA1_80\nNULL\n");
	s.srtp_suite = "";
	assert_int_equal(catalog_stream_upsert(c, &s), 0); /* restored as plain RTP */
	s.label = "2";
	s.srtp_suite = "AES_256_CM_HMAC_SHA1_80";
	assert_int_equal(catalog_stream_upsert(c, &s), 0); /* restored with SRTP */
	assert_int_equal(catalog_sync(c), 0);
	assert_query(path, q, "NULL\nAES_256_CM_HMAC_SHA1_80\n");
	catalog_free(c);
}

static void test_validation(void **state)
{
	const char *path = new_db();
	struct catalog *c = open_ok(path);
	const struct catalog_session no_uuid = {.started_at = 1};
	const struct catalog_session no_time = {.uuid = "x"};
	const struct catalog_stream bad_state = {.session_uuid = "x", .label = "1", .state = "on"};
	const struct catalog_recording_final bad_final = {.uuid = "x", .state = "writing"};
	const struct catalog_participant no_pid = {.session_uuid = "x"};
	static char big[CATALOG_TEXT_MAX + 2];
	struct catalog_session too_long = {.uuid = big, .started_at = 1};
	struct catalog_stats st;
	static const struct {
		const char *state;
		int ret;
	} ends[] = {
		{"ended", 0},	     {"interrupted", 0}, {"failed", 0},
		{"active", -EINVAL}, {NULL, -EINVAL},
	};

	assert_int_equal(catalog_session_begin(c, &no_uuid), -EINVAL);
	assert_int_equal(catalog_session_begin(c, &no_time), -EINVAL);
	assert_int_equal(catalog_session_begin(c, NULL), -EINVAL);
	assert_int_equal(catalog_stream_upsert(c, &bad_state), -EINVAL);
	assert_int_equal(catalog_recording_final(c, &bad_final), -EINVAL);
	assert_int_equal(catalog_participant_upsert(c, &no_pid), -EINVAL);
	memset(big, 'a', sizeof(big) - 1);
	assert_int_equal(catalog_session_begin(c, &too_long), -E2BIG);
	big[CATALOG_TEXT_MAX] = '\0';
	assert_int_equal(catalog_session_begin(c, &too_long), 0);
	for (size_t i = 0; i < ARRAY_SIZE(ends); i++)
		assert_int_equal(catalog_session_end(c, "nope", 5, ends[i].state, "bye"),
				 ends[i].ret);

	/* Unknown uuids are counted, not fatal: 3 ends (none match), stats for no stream. */
	add_stats(c, "nope", "1", 1, 0, 0, 0, 0);
	assert_int_equal(catalog_sync(c), -EIO);
	catalog_get_stats(c, &st);
	assert_int_equal(st.applied, 1);
	assert_int_equal(st.failed, 4);
	assert_non_null(strstr(st.last_error, "stream-stats: no such row (nope)"));
	/* The next sync reports only new failures. */
	assert_int_equal(catalog_sync(c), 0);
	catalog_free(c);
}

static void test_batching(void **state)
{
	const char *path = new_db();
	struct catalog *c = open_ok(path);
	struct catalog_stats st;
	char uuid[32];

	/* Queued before the thread runs: 10,000 ops are exactly ceil(10000 / BATCH_MAX)
	 * transactions. */
	for (int i = 0; i < 10000; i++) {
		const struct catalog_session s = {.uuid = uuid, .started_at = 1000 + i};

		snprintf(uuid, sizeof(uuid), "b-%d", i);
		assert_int_equal(catalog_session_begin(c, &s), 0);
	}
	assert_int_equal(catalog_queue_depth(c), 10000);
	assert_int_equal(catalog_start(c), 0);
	assert_int_equal(catalog_sync(c), 0);
	catalog_get_stats(c, &st);
	assert_int_equal(st.enqueued, 10000);
	assert_int_equal(st.applied, 10000);
	assert_int_equal(st.failed, 0);
	assert_int_equal(st.transactions, (10000 + CATALOG_BATCH_MAX - 1) / CATALOG_BATCH_MAX);
	assert_int_equal(st.queue_depth, 0);
	assert_int_equal(catalog_queue_depth(c), 0);
	catalog_free(c);
	assert_query(path, "SELECT count(*), min(uuid), max(started_at) FROM sessions",
		     "10000|b-0|10999\n");
}

/*
 * A session's row queued twice in one batch (as session.c does at the INVITE, the second time with
 * the metadata's session id) is written by one upsert carrying both: the row is what the two
 * upserts in a row would leave (the second's non-NULL columns win, started_at is the first's).
 * Twice in two batches, both run.
 */
static void test_session_begin_merged(void **state)
{
	const char *path = new_db();
	struct catalog *c = open_ok(path);
	struct catalog_stats st;

	assert_int_equal(
		catalog_session_begin(c, &(struct catalog_session){.uuid = "m1",
								   .call_id = "c1",
								   .src_addr = "192.0.2.1:5060",
								   .transport = "udp",
								   .started_at = 5}),
		0);
	assert_int_equal(catalog_participant_upsert(
				 c, &(struct catalog_participant){.session_uuid = "m1",
								  .participant_id = "p1",
								  .aor = "sip:alice@example.com"}),
			 0);
	assert_int_equal(catalog_session_begin(
				 c, &(struct catalog_session){.uuid = "other", .started_at = 6}),
			 0);
	assert_int_equal(
		catalog_session_begin(c, &(struct catalog_session){.uuid = "m1",
								   .siprec_session_id = "S1",
								   .src_addr = "192.0.2.2:5061",
								   .transport = "tls",
								   .started_at = 9}),
		0);
	assert_int_equal(catalog_sync(c), 0);
	catalog_get_stats(c, &st);
	assert_int_equal(st.applied, 4);
	assert_int_equal(st.failed, 0);
	assert_int_equal(st.merged, 1);
	assert_query(path,
		     "SELECT uuid, call_id, siprec_session_id, src_addr, transport, started_at, "
		     "(SELECT count(*) FROM participants AS p WHERE p.session_id = s.id) "
		     "FROM sessions AS s ORDER BY id",
		     "m1|c1|S1|192.0.2.2:5061|tls|5|1\nother|||||6|0\n");

	/* In a batch of its own: an upsert of its own. */
	assert_int_equal(catalog_session_begin(c, &(struct catalog_session){.uuid = "m1",
									    .call_id = "c2",
									    .started_at = 10}),
			 0);
	assert_int_equal(catalog_sync(c), 0);
	catalog_get_stats(c, &st);
	assert_int_equal(st.applied, 5);
	assert_int_equal(st.merged, 1);
	catalog_free(c);
	assert_query(
		path,
		"SELECT call_id, siprec_session_id, src_addr, transport, started_at FROM sessions "
		"WHERE uuid = 'm1'",
		"c2|S1|192.0.2.2:5061|tls|5\n");
}

struct producer {
	struct catalog *c;
	int id;
};

static void *producer_main(void *userdata)
{
	struct producer *p = userdata;

	for (int i = 0; i < 2500; i++) {
		char uuid[32];
		const struct catalog_session s = {.uuid = uuid, .started_at = 1 + i};

		snprintf(uuid, sizeof(uuid), "t%d-%d", p->id, i);
		if (catalog_session_begin(p->c, &s) < 0)
			return (void *)1;
	}
	return NULL;
}

static void test_concurrent_producers(void **state)
{
	const char *path = new_db();
	struct catalog *c = open_ok(path);
	struct producer p[4];
	pthread_t t[4];
	struct catalog_stats st;

	assert_int_equal(catalog_start(c), 0);
	for (int i = 0; i < 4; i++) {
		p[i] = (struct producer){c, i};
		assert_int_equal(pthread_create(&t[i], NULL, producer_main, &p[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		void *res;

		assert_int_equal(pthread_join(t[i], &res), 0);
		assert_null(res);
	}
	assert_int_equal(catalog_sync(c), 0);
	catalog_get_stats(c, &st);
	assert_int_equal(st.applied, 10000);
	assert_true(st.transactions >= 1 && st.transactions < st.applied);
	catalog_stop(c);
	assert_int_equal(
		catalog_session_begin(c, &(struct catalog_session){"late", .started_at = 1}),
		-ESHUTDOWN);
	catalog_free(c);
	assert_query(path, "SELECT count(*) FROM sessions", "10000\n");
}

static void test_queue_limits(void **state)
{
	const char *path = new_db();
	struct catalog *c = open_ok(path);
	const struct catalog_session s = {.uuid = "q", .started_at = 1};
	static const unsigned char body[4000];
	const struct catalog_metadata m = {
		.session_uuid = "q", .received_at = 1, .body = body, .body_len = sizeof(body)};
	struct catalog_stats st;

	const struct catalog_stream_stats ss = {.session_uuid = "q", .label = "1"};

	catalog_set_queue_limits(c, 10, 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(catalog_session_begin(c, &s), 0);
	/* at the limit: statistics are refused, the rows a recording needs have a reserve */
	assert_int_equal(catalog_stream_stats(c, &ss), -EAGAIN);
	for (int i = 0; i < 10; i++)
		assert_int_equal(catalog_session_begin(c, &s), 0);
	assert_int_equal(catalog_session_begin(c, &s), -EAGAIN);
	assert_int_equal(catalog_sync(c), 0);
	/* Bytes: two 4 kB bodies fit in 10 kB, the third does not. */
	catalog_set_queue_limits(c, 0, 10000);
	assert_int_equal(catalog_metadata_snapshot(c, &m), 0);
	assert_int_equal(catalog_metadata_snapshot(c, &m), 0);
	assert_int_equal(catalog_metadata_snapshot(c, &m), -EAGAIN);
	catalog_get_stats(c, &st);
	assert_int_equal(st.dropped, 3);
	assert_int_equal(st.enqueued, 22);
	/* Same seq twice: the UNIQUE(session_id, seq) refuses the second. */
	assert_int_equal(catalog_sync(c), -EIO);
	catalog_free(c);
	assert_query(path, "SELECT count(*) FROM sessions", "1\n");
}

struct barrier_rec {
	int calls, result;
};

static void barrier_cb(void *userdata, int result)
{
	struct barrier_rec *b = userdata;

	b->calls++;
	b->result = result;
}

/* A barrier runs once what was queued before it is committed, with the batch's result, and is
 * never refused for the queue limit. */
static void test_barrier(void **state)
{
	const char *path = new_db();
	struct catalog *c = open_ok(path);
	struct barrier_rec ok = {0}, bad = {0};

	/* no catalog thread: catalog_sync applies the queue as one batch, deterministically */
	catalog_set_queue_limits(c, 1, 0);
	assert_int_equal(
		catalog_session_begin(c, &(struct catalog_session){.uuid = "b", .started_at = 1}),
		0);
	assert_int_equal(catalog_barrier(c, barrier_cb, &ok), 0);
	assert_int_equal(catalog_sync(c), 0);
	assert_int_equal(ok.calls, 1);
	assert_int_equal(ok.result, 0);
	assert_query(path, "SELECT count(*) FROM sessions WHERE uuid = 'b'", "1\n");
	/* an operation that fails (no such session) fails the barrier behind it */
	assert_int_equal(catalog_session_end(c, "nope", 2, "ended", "bye"), 0);
	assert_int_equal(catalog_barrier(c, barrier_cb, &bad), 0);
	assert_int_equal(catalog_sync(c), -EIO);
	assert_int_equal(bad.calls, 1);
	assert_int_equal(bad.result, -EIO);
	assert_int_equal(catalog_barrier(NULL, barrier_cb, &bad), -EINVAL);
	catalog_free(c);
}

/*
 * The catalog thread takes whatever is queued when it wakes: a session's rows can be applied in
 * one batch and its barrier in the next. A failure in a batch without a barrier fails the next
 * barrier still, once (a damaged catalog refused the session's row, and the call was answered
 * 200 OK: CI of 66d38e0, catalog-damaged); so does one queued after a batch's last barrier.
 */
static void test_barrier_after_failed_batch(void **state)
{
	const char *path = new_db();
	struct catalog *c = open_ok(path);
	struct barrier_rec b1 = {0}, b2 = {0}, b3 = {0}, b4 = {0};

	/* fails in a batch of its own */
	assert_int_equal(catalog_session_end(c, "nope", 2, "ended", "bye"), 0);
	assert_int_equal(catalog_sync(c), -EIO);
	assert_int_equal(catalog_barrier(c, barrier_cb, &b1), 0);
	assert_int_equal(catalog_sync(c), 0);
	assert_int_equal(b1.calls, 1);
	assert_int_equal(b1.result, -EIO);
	/* carried once: the next barrier, behind nothing that failed, succeeds */
	assert_int_equal(catalog_barrier(c, barrier_cb, &b2), 0);
	assert_int_equal(catalog_sync(c), 0);
	assert_int_equal(b2.calls, 1);
	assert_int_equal(b2.result, 0);
	/* a failure queued after the batch's barrier is the next barrier's */
	assert_int_equal(
		catalog_session_begin(c, &(struct catalog_session){.uuid = "a", .started_at = 1}),
		0);
	assert_int_equal(catalog_barrier(c, barrier_cb, &b3), 0);
	assert_int_equal(catalog_session_end(c, "nope", 2, "ended", "bye"), 0);
	assert_int_equal(catalog_sync(c), -EIO);
	assert_int_equal(b3.result, -EIO); /* its batch failed: conservative */
	assert_int_equal(catalog_barrier(c, barrier_cb, &b4), 0);
	assert_int_equal(catalog_sync(c), 0);
	assert_int_equal(b4.calls, 1);
	assert_int_equal(b4.result, -EIO);
	catalog_free(c);
}

/*
 * A pass-through VFS that counts the syncs of WAL files: whether a commit reached the disk is
 * otherwise invisible to a test (the data is in the page cache either way).
 */
struct count_file {
	sqlite3_file base;
	bool wal;
	bool main_db;
	sqlite3_file *real; /* the real VFS's file, allocated right after this struct */
};

static sqlite3_vfs *real_vfs;
static unsigned wal_syncs;
static bool fail_db_syncs; /* the main database files' syncs fail with EIO */
static unsigned db_syncs_failed;

#define REAL(f) (((struct count_file *)(f))->real)

static int cf_close(sqlite3_file *f)
{
	return REAL(f)->pMethods->xClose(REAL(f));
}
static int cf_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o)
{
	return REAL(f)->pMethods->xRead(REAL(f), b, n, o);
}
static int cf_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o)
{
	return REAL(f)->pMethods->xWrite(REAL(f), b, n, o);
}
static int cf_truncate(sqlite3_file *f, sqlite3_int64 n)
{
	return REAL(f)->pMethods->xTruncate(REAL(f), n);
}
static int cf_sync(sqlite3_file *f, int flags)
{
	if (((struct count_file *)f)->wal)
		__atomic_add_fetch(&wal_syncs, 1, __ATOMIC_RELAXED);
	if (((struct count_file *)f)->main_db &&
	    __atomic_load_n(&fail_db_syncs, __ATOMIC_RELAXED)) {
		__atomic_add_fetch(&db_syncs_failed, 1, __ATOMIC_RELAXED);
		errno = EIO; /* what the unix VFS's xGetLastError reports */
		return SQLITE_IOERR_FSYNC;
	}
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int cf_size(sqlite3_file *f, sqlite3_int64 *n)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), n);
}
static int cf_lock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xLock(REAL(f), l);
}
static int cf_unlock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), l);
}
static int cf_reserved(sqlite3_file *f, int *r)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), r);
}
static int cf_control(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int cf_sector(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int cf_device(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int cf_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **p)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, extend, p);
}
static int cf_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void cf_shm_barrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int cf_shm_unmap(sqlite3_file *f, int del)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

static const sqlite3_io_methods count_io = {
	.iVersion = 2, /* shared memory (WAL), no mmap */
	.xClose = cf_close,
	.xRead = cf_read,
	.xWrite = cf_write,
	.xTruncate = cf_truncate,
	.xSync = cf_sync,
	.xFileSize = cf_size,
	.xLock = cf_lock,
	.xUnlock = cf_unlock,
	.xCheckReservedLock = cf_reserved,
	.xFileControl = cf_control,
	.xSectorSize = cf_sector,
	.xDeviceCharacteristics = cf_device,
	.xShmMap = cf_shm_map,
	.xShmLock = cf_shm_lock,
	.xShmBarrier = cf_shm_barrier,
	.xShmUnmap = cf_shm_unmap,
};

static int cv_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
	struct count_file *cf = (struct count_file *)f;
	int rc;

	cf->real = (sqlite3_file *)(cf + 1);
	cf->wal = flags & SQLITE_OPEN_WAL;
	cf->main_db = flags & SQLITE_OPEN_MAIN_DB;
	rc = real_vfs->xOpen(real_vfs, name, cf->real, flags, out);
	cf->base.pMethods = rc == SQLITE_OK && cf->real->pMethods ? &count_io : NULL;
	return rc;
}
static int cv_delete(sqlite3_vfs *vfs, const char *name, int sync)
{
	return real_vfs->xDelete(real_vfs, name, sync);
}
static int cv_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	return real_vfs->xAccess(real_vfs, name, flags, out);
}
static int cv_full(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	return real_vfs->xFullPathname(real_vfs, name, n, out);
}
static int cv_random(sqlite3_vfs *vfs, int n, char *out)
{
	return real_vfs->xRandomness(real_vfs, n, out);
}
static int cv_sleep(sqlite3_vfs *vfs, int us)
{
	return real_vfs->xSleep(real_vfs, us);
}
static int cv_time(sqlite3_vfs *vfs, double *t)
{
	return real_vfs->xCurrentTime(real_vfs, t);
}
static int cv_error(sqlite3_vfs *vfs, int n, char *out)
{
	return real_vfs->xGetLastError(real_vfs, n, out);
}
static int cv_time64(sqlite3_vfs *vfs, sqlite3_int64 *t)
{
	return real_vfs->xCurrentTimeInt64(real_vfs, t);
}

/* The barrier's promise is durability: its batch is committed with the WAL synced (group
 * commit: one sync for the whole batch), and a batch without a barrier is not synced. */
static sqlite3_vfs count_vfs = {
	.iVersion = 2,
	.mxPathname = 512,
	.zName = "test-count-syncs",
	.xOpen = cv_open,
	.xDelete = cv_delete,
	.xAccess = cv_access,
	.xFullPathname = cv_full,
	.xRandomness = cv_random,
	.xSleep = cv_sleep,
	.xCurrentTime = cv_time,
	.xGetLastError = cv_error,
	.xCurrentTimeInt64 = cv_time64,
};

static void test_barrier_syncs(void **state)
{
	struct barrier_rec b1 = {0}, b2 = {0};
	struct catalog *c;
	const char *path = new_db();
	unsigned before;

	real_vfs = sqlite3_vfs_find(NULL);
	assert_non_null(real_vfs);
	count_vfs.szOsFile = (int)sizeof(struct count_file) + real_vfs->szOsFile;
	assert_int_equal(sqlite3_vfs_register(&count_vfs, 1), SQLITE_OK);
	c = open_ok(path);

	/* no catalog thread: catalog_sync applies the queue as one batch */
	before = wal_syncs;
	assert_int_equal(
		catalog_session_begin(c, &(struct catalog_session){.uuid = "n", .started_at = 1}),
		0);
	assert_int_equal(catalog_sync(c), 0);
	assert_int_equal(wal_syncs, before);

	assert_int_equal(
		catalog_session_begin(c, &(struct catalog_session){.uuid = "s1", .started_at = 1}),
		0);
	assert_int_equal(catalog_barrier(c, barrier_cb, &b1), 0);
	assert_int_equal(
		catalog_session_begin(c, &(struct catalog_session){.uuid = "s2", .started_at = 1}),
		0);
	assert_int_equal(catalog_barrier(c, barrier_cb, &b2), 0);
	assert_int_equal(catalog_sync(c), 0);
	assert_int_equal(b1.calls, 1);
	assert_int_equal(b1.result, 0);
	assert_int_equal(b2.calls, 1);
	assert_int_equal(b2.result, 0);
	assert_int_equal(wal_syncs, before + 1);

	/* back to NORMAL afterwards */
	before = wal_syncs;
	assert_int_equal(
		catalog_session_begin(c, &(struct catalog_session){.uuid = "n2", .started_at = 1}),
		0);
	assert_int_equal(catalog_sync(c), 0);
	assert_int_equal(wal_syncs, before);

	catalog_free(c);
	sqlite3_vfs_unregister(&count_vfs);
	sqlite3_vfs_register(real_vfs, 1);
}

/* The checkpointer's write-back of the database file, counted, then done as it would be. */
static int (*real_writeback)(int fd);
static int writebacks, writebacks_of_db;
static ino_t db_ino;

static int counted_writeback(int fd)
{
	struct stat sb;

	writebacks++; /* the checkpointer's own: read after catalog_free joins it */
	if (fstat(fd, &sb) == 0 && sb.st_ino == db_ino)
		writebacks_of_db++;
	return real_writeback(fd);
}

/*
 * With the catalog thread running, WAL checkpoints run on the checkpointer thread (its own
 * connection), not within the barriers' COMMIT, and the WAL still starts over: its file stays
 * bounded (12,000 frames and a batch) however much is written. After each pass the checkpointer
 * writes the database file's dirty pages back itself, so that the inline checkpoint's fsync of
 * it, on the catalog thread, does not.
 */
/* One round of the checkpointer tests: 200 sessions named PREFIX-ROUND-I begun, a barrier,
 * and the catalog synced. */
static void begin_round(struct catalog *c, const char *prefix, int round, const char *call_id,
			struct barrier_rec *b)
{
	char uuid[32];

	for (int i = 0; i < 200; i++) {
		snprintf(uuid, sizeof(uuid), "%s-%d-%d", prefix, round, i);
		assert_int_equal(
			catalog_session_begin(c, &(struct catalog_session){.uuid = uuid,
									   .call_id = call_id,
									   .started_at = 1}),
			0);
	}
	assert_int_equal(catalog_barrier(c, barrier_cb, b), 0);
	assert_int_equal(catalog_sync(c), 0);
}

static void test_checkpointer(void **state)
{
	const char *path = new_db();
	struct catalog *c = open_ok(path);
	struct catalog_stats st;
	struct barrier_rec b = {0};
	char wal[sizeof(dbpath) + 8], call_id[1001];
	off_t max_wal = 0, frame = 4096 + 24;
	struct stat sb;

	memset(call_id, 'x', sizeof(call_id) - 1);
	call_id[sizeof(call_id) - 1] = '\0';
	snprintf(wal, sizeof(wal), "%s-wal", path);
	assert_int_equal(stat(path, &sb), 0);
	db_ino = sb.st_ino;
	writebacks = writebacks_of_db = 0;
	real_writeback = catalog_db_writeback;
	catalog_db_writeback = counted_writeback;
	assert_int_equal(catalog_start(c), 0);
	for (int round = 0; round < 100; round++) {
		begin_round(c, "w", round, call_id, &b);
		assert_int_equal(stat(wal, &sb), 0);
		max_wal = MAX(max_wal, sb.st_size);
	}
	catalog_get_stats(c, &st);
	assert_int_equal(b.calls, 100);
	assert_int_equal(b.result, 0);
	assert_int_equal(st.failed, 0);
	assert_true(st.checkpoints > 0);
	if (max_wal > 14000 * frame)
		fail_msg("the WAL grew to %lld frames", (long long)(max_wal / frame));
	/* the inline ones: each copies what was written since the checkpointer's last pass */
	assert_true(st.checkpoints_inline > 0);
	assert_true(st.checkpoints_inline < st.checkpoints);
	catalog_free(c);
	catalog_db_writeback = real_writeback;
	/* after the passes (counted before the last ones at catalog_free), of the database file */
	if (writebacks < 1 || writebacks != writebacks_of_db)
		fail_msg("%d write-backs (%d of the database) for %llu checkpointer passes",
			 writebacks, writebacks_of_db, (unsigned long long)st.checkpoints);
	assert_query(path, "SELECT count(*), count(DISTINCT uuid) FROM sessions", "20000|20000\n");
	assert_query(path, "PRAGMA integrity_check", "ok\n");
}

static int failed_writeback(int fd)
{
	errno = EIO;
	return -1;
}

/* Writes rounds of sessions until the checkpointer has run a pass (and done), then stops. */
static void checkpointer_rounds(struct catalog *c, const unsigned *until)
{
	struct barrier_rec b = {0};
	struct catalog_stats st;
	char call_id[1001];
	int round;

	memset(call_id, 'x', sizeof(call_id) - 1);
	call_id[sizeof(call_id) - 1] = '\0';
	assert_int_equal(catalog_start(c), 0);
	for (round = 0; round < 400; round++) {
		begin_round(c, "f", round, call_id, &b);
		catalog_get_stats(c, &st);
		if (st.checkpoints > 0 && (!until || __atomic_load_n(until, __ATOMIC_RELAXED)))
			break;
	}
	assert_true(round < 400);
	catalog_stop(c); /* joins the checkpointer: its last pass is counted */
	assert_int_equal(b.result, 0);
}

/*
 * A failed sync of the database file by the checkpointer is kept, naming the file and the
 * errno, for the health report (the catalog check is failing, health.c), as the syncer's: its
 * write-back after a pass, and SQLite's fsync at the end of a pass that copied the whole WAL.
 */
static void test_checkpointer_sync_failed(void **state)
{
	const char *path = new_db();
	struct catalog *c = open_ok(path);
	struct catalog_stats st;
	char want[sizeof(dbpath) + 64];

	/* the write-back */
	real_writeback = catalog_db_writeback;
	catalog_db_writeback = failed_writeback;
	checkpointer_rounds(c, NULL);
	catalog_db_writeback = real_writeback;
	catalog_get_stats(c, &st);
	snprintf(want, sizeof(want), "%s: sync_file_range: %s", path, strerror(EIO));
	assert_string_equal(st.db_sync_failed, want);
	assert_string_equal(st.sync_failed, ""); /* the WAL's syncs passed */
	catalog_free(c);

	/* SQLite's fsync: the checkpointer's connection opens over the default VFS of the moment
	 * (the catalog's own was opened over the real one, before) */
	path = new_db();
	c = open_ok(path);
	real_vfs = sqlite3_vfs_find(NULL);
	assert_non_null(real_vfs);
	count_vfs.szOsFile = (int)sizeof(struct count_file) + real_vfs->szOsFile;
	assert_int_equal(sqlite3_vfs_register(&count_vfs, 1), SQLITE_OK);
	db_syncs_failed = 0;
	fail_db_syncs = true;
	checkpointer_rounds(c, &db_syncs_failed);
	fail_db_syncs = false;
	sqlite3_vfs_unregister(&count_vfs);
	sqlite3_vfs_register(real_vfs, 1);
	catalog_get_stats(c, &st);
	snprintf(want, sizeof(want), "%s: fsync: %s", path, strerror(EIO));
	assert_string_equal(st.db_sync_failed, want);
	assert_string_equal(st.sync_failed, "");
	catalog_free(c);
	assert_query(path, "PRAGMA integrity_check", "ok\n");
}

/* The syncer's fdatasync, held by the test until it lets it go, or failing. */
static pthread_mutex_t hold_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hold_cond = PTHREAD_COND_INITIALIZER;
static bool hold_on, hold_fail;
static int hold_entered, hold_calls;

static int held_fdatasync(int fd)
{
	pthread_mutex_lock(&hold_lock);
	hold_entered++;
	pthread_cond_broadcast(&hold_cond);
	while (hold_on)
		pthread_cond_wait(&hold_cond, &hold_lock);
	hold_calls++;
	pthread_mutex_unlock(&hold_lock);
	if (hold_fail) {
		errno = EIO;
		return -1;
	}
	return fdatasync(fd);
}

/* Waits (10 s at most: then fails) until the catalog has committed n transactions. */
static void wait_transactions(struct catalog *c, uint64_t n)
{
	struct catalog_stats st;

	for (int i = 0; i < 10000; i++) {
		catalog_get_stats(c, &st);
		if (st.transactions >= n)
			return;
		usleep(1000);
	}
	fail_msg("%llu transactions, waited for %llu", (unsigned long long)st.transactions,
		 (unsigned long long)n);
}

/*
 * With the catalog thread running, a barrier's batch is committed without a sync and the syncer
 * fdatasyncs the WAL after it: the barrier runs only once an fdatasync that began after its
 * commit has returned, and meanwhile the next batches commit. A failed fdatasync fails its
 * barriers and every later one.
 */
static void test_barrier_after_sync(void **state)
{
	const char *path = new_db();
	struct catalog *c = open_ok(path);
	struct barrier_rec b1 = {0}, b2 = {0}, b3 = {0}, b4 = {0};
	struct catalog_stats st0;

	catalog_wal_fdatasync = held_fdatasync;
	hold_on = true;
	hold_fail = false;
	hold_entered = hold_calls = 0;
	assert_int_equal(catalog_start(c), 0);
	assert_int_equal(
		catalog_session_begin(c, &(struct catalog_session){.uuid = "a", .started_at = 1}),
		0);
	assert_int_equal(catalog_barrier(c, barrier_cb, &b1), 0);
	wait_transactions(c, 1);
	for (int i = 0; i < 10000 && !__atomic_load_n(&hold_entered, __ATOMIC_SEQ_CST); i++)
		usleep(1000);
	if (!__atomic_load_n(&hold_entered, __ATOMIC_SEQ_CST))
		fail_msg("no fdatasync of the WAL after the barrier's commit");
	/* committed, its fdatasync held: not run yet; and the catalog goes on committing */
	assert_int_equal(b1.calls, 0);
	assert_int_equal(
		catalog_session_begin(c, &(struct catalog_session){.uuid = "b", .started_at = 1}),
		0);
	assert_int_equal(catalog_barrier(c, barrier_cb, &b2), 0);
	wait_transactions(c, 2);
	assert_int_equal(b1.calls, 0);
	assert_int_equal(b2.calls, 0);
	/* let go: b1 runs after the first fdatasync, b2 (committed during it) after a second */
	pthread_mutex_lock(&hold_lock);
	hold_on = false;
	pthread_cond_broadcast(&hold_cond);
	pthread_mutex_unlock(&hold_lock);
	assert_int_equal(catalog_sync(c), 0);
	assert_int_equal(b1.calls, 1);
	assert_int_equal(b1.result, 0);
	catalog_get_stats(c, &st0);
	assert_string_equal(st0.sync_failed, "");
	assert_int_equal(b2.calls, 1);
	assert_int_equal(b2.result, 0);
	assert_int_equal(hold_calls, 2);

	/* a failed fdatasync fails its barrier, and the ones after it */
	hold_fail = true;
	assert_int_equal(
		catalog_session_begin(c, &(struct catalog_session){.uuid = "c", .started_at = 1}),
		0);
	assert_int_equal(catalog_barrier(c, barrier_cb, &b3), 0);
	assert_int_equal(catalog_sync(c), 0);
	assert_int_equal(b3.calls, 1);
	assert_int_equal(b3.result, -EIO);
	/* ...which the health report reads: the catalog check is failing (health.c) */
	catalog_get_stats(c, &st0);
	assert_non_null(strstr(st0.sync_failed, "-wal: fdatasync: "));
	hold_fail = false;
	assert_int_equal(catalog_barrier(c, barrier_cb, &b4), 0);
	assert_int_equal(catalog_sync(c), 0);
	assert_int_equal(b4.calls, 1);
	assert_int_equal(b4.result, -EIO);
	catalog_free(c);
	catalog_wal_fdatasync = fdatasync;
	assert_query(path, "SELECT group_concat(uuid) FROM sessions", "a,b,c\n");
}

static int collect_cb(void *userdata, const struct catalog_recovered *r)
{
	FILE *f = userdata;

	fprintf(f, "%s %s %s\n", r->recording_uuid, r->session_uuid, r->path);
	return 0;
}

/* A real crash: a child process writes and dies with _exit, leaving the WAL un-checkpointed. */
static void test_crash_recovery(void **state)
{
	const char *path = new_db();
	struct catalog *c;
	char *out = NULL;
	size_t outlen = 0;
	FILE *f;
	pid_t pid;
	int status;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		c = open_ok(path);
		if (catalog_start(c) < 0)
			_exit(2);
		add_session(c, "crashed", "cid", "udp", 5000);
		add_stream(c, "crashed", "1", NULL, 20000);
		add_stats(c, "crashed", "1", 10, 0, 0, 5100, 7000);
		add_recording(c, "r-crashed", "crashed", "1", 5050);
		add_session(c, "done", "cid2", "udp", 5000);
		assert_int_equal(catalog_session_end(c, "done", 6000, "ended", "bye"), 0);
		_exit(catalog_sync(c) == 0 ? 0 : 3);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	c = open_ok(path);
	assert_int_equal(catalog_recovered_sessions(c), 1);
	f = open_memstream(&out, &outlen);
	assert_int_equal(catalog_recovered_foreach(c, collect_cb, f), 1);
	fclose(f);
	assert_string_equal(out,
			    "r-crashed crashed /var/lib/siprecd/recordings/r-crashed.siprec\n");
	free(out);
	catalog_free(c);
	assert_query(path, "SELECT uuid, state, end_reason, ended_at FROM sessions ORDER BY id",
		     "crashed|interrupted|crash|7000\ndone|ended|bye|6000\n");
	assert_query(path, "SELECT state FROM streams", "ended\n");
	assert_query(path, "SELECT uuid, state, complete FROM recordings",
		     "r-crashed|interrupted|0\n");

	/* Recovery happens once. */
	c = open_ok(path);
	assert_int_equal(catalog_recovered_sessions(c), 0);
	assert_int_equal(catalog_recovered_foreach(c, collect_cb, stderr), 0);
	catalog_free(c);
}

/*
 * catalog_warm_wal writes the WAL's working size ahead, past its last frame, once; the frames a
 * crash leaves before the zeros are recovered, and a WAL that starts over keeps the size.
 */
static void test_warm_wal(void **state)
{
	const char *path = new_db();
	const off_t size = 32 + 13000 * (off_t)(24 + 4096);
	char wal[sizeof(dbpath) + 8];
	struct catalog *c;
	struct stat sb;
	uint64_t bytes = 1;
	pid_t pid;
	int status;

	snprintf(wal, sizeof(wal), "%s-wal", path);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* frames before the warm-up (the migrations', a session's) and after it */
		c = open_ok(path);
		add_session(c, "before", "cid", "udp", 5000);
		if (catalog_sync(c) < 0 || stat(wal, &sb) < 0 || sb.st_size <= 32)
			_exit(6);
		if (catalog_warm_wal(c, &bytes) < 0 || bytes == 0)
			_exit(2);
		if (stat(wal, &sb) < 0 || sb.st_size != size || (off_t)sb.st_blocks * 512 < size)
			_exit(3);
		if (catalog_start(c) < 0)
			_exit(4);
		add_session(c, "after", "cid2", "udp", 6000);
		_exit(catalog_sync(c) == 0 ? 0 : 5);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	c = open_ok(path);
	assert_int_equal(catalog_recovered_sessions(c), 2);
	/* already at its size: nothing written */
	assert_int_equal(catalog_warm_wal(c, &bytes), 0);
	assert_int_equal(bytes, 0);
	catalog_free(c);
	assert_query(path, "SELECT uuid, state FROM sessions ORDER BY id",
		     "before|interrupted\nafter|interrupted\n");
	assert_query(path, "PRAGMA integrity_check", "ok\n");
}

/*
 * The catalog's connection writes a commit's WAL frames (two writes each: header, page) in one
 * write, inside the commit frame's own write, before SQLite shows the frames to readers: none is
 * left for the shared-memory barrier that publishes them. A commit larger than the buffer goes
 * in pieces. Readers on other connections see every row, and the WAL recovers after a crash.
 */
static void test_wal_writes_gathered(void **state)
{
	const char *path = new_db();
	struct catalog_walbuf_counts c0, c1, c2;
	static uint8_t body[3000];
	struct catalog *c = open_ok(path);
	char uuid[32], want[64];
	pid_t pid;
	int status;

	catalog_walbuf_counts(&c0);
	add_session(c, "g1", "cid-g1", "tls", 1000);
	add_participant(c, "g1", "p1", "Alice", "sip:alice@example.com");
	add_participant(c, "g1", "p2", "Bob", "sip:bob@example.com");
	assert_int_equal(catalog_sync(c), 0);
	catalog_walbuf_counts(&c1);
	/* frames of several pages (table, indexes), each a header and a page */
	assert_true(c1.asked - c0.asked >= 6);
	assert_int_equal(c1.issued - c0.issued, 1);
	assert_int_equal(c1.late, c0.late);
	assert_query(path, "SELECT count(*) FROM participants", "2\n");

	/* ~1 MiB of frames in one commit: in pieces of at most 124 KiB */
	memset(body, 'x', sizeof(body));
	for (unsigned i = 0; i < 300; i++) {
		snprintf(uuid, sizeof(uuid), "big-%u", i);
		add_session(c, uuid, uuid, "udp", 2000 + i);
		assert_int_equal(catalog_metadata_snapshot(
					 c, &(struct catalog_metadata){.session_uuid = uuid,
								       .received_at = 1,
								       .body = body,
								       .body_len = sizeof(body)}),
				 0);
	}
	assert_int_equal(catalog_sync(c), 0);
	catalog_walbuf_counts(&c2);
	assert_true(c2.issued - c1.issued >= 8);
	assert_true(c2.issued - c1.issued < (c2.asked - c1.asked) / 8);
	assert_int_equal(c2.late, c0.late);
	assert_query(path, "SELECT count(*), sum(length(body)) FROM metadata_snapshots",
		     "300|900000\n");
	catalog_free(c);

	/* a crash after the commits: SQLite recovers them from the WAL as written */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		c = open_ok(path);
		add_session(c, "crashed", "cid-crashed", "tls", 9000);
		_exit(catalog_sync(c) == 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	snprintf(want, sizeof(want), "%d\n", 302);
	assert_query(path, "SELECT count(*) FROM sessions", want);
	assert_query(path, "PRAGMA integrity_check", "ok\n");
}

/*
 * A transaction larger than SQLite's cache spills frames into the WAL before its commit; rolled
 * back, they are never published, and the VFS drops what it still holds of them at the write
 * lock's release instead of writing them. The next transaction writes over them, and readers and
 * the database see only what was committed.
 */
static void test_wal_rollback_dropped(void **state)
{
	const char *path = new_db();
	struct catalog *c = open_ok(path);
	struct catalog_walbuf_counts c0, c1;
	sqlite3 *db = NULL;

	catalog_free(c);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, catalog_walbuf_vfs()),
			 SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "PRAGMA cache_size = 10; CREATE TABLE big (b BLOB); "
				      "INSERT INTO big VALUES (zeroblob(100))",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	catalog_walbuf_counts(&c0);
	/* 300 KiB of rows through a 10-page cache: spilled into the WAL, then rolled back */
	assert_int_equal(
		sqlite3_exec(db,
			     "BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
			     "FROM n WHERE i < 300) INSERT INTO big SELECT randomblob(1000) "
			     "FROM n; ROLLBACK",
			     NULL, NULL, NULL),
		SQLITE_OK);
	catalog_walbuf_counts(&c1);
	assert_true(c1.asked - c0.asked >= 20);
	assert_int_equal(c1.dropped - c0.dropped, 1);
	assert_int_equal(c1.late, c0.late);
	assert_int_equal(
		sqlite3_exec(db, "INSERT INTO big VALUES (zeroblob(200))", NULL, NULL, NULL),
		SQLITE_OK);
	assert_query(path, "SELECT count(*), sum(length(b)) FROM big", "2|300\n");
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	assert_query(path, "PRAGMA integrity_check", "ok\n");
	assert_query(path, "SELECT count(*), sum(length(b)) FROM big", "2|300\n");
}

static bool pc_has(const sqlite3_pcache_methods2 *m, sqlite3_pcache *c, unsigned key)
{
	sqlite3_pcache_page *pg = m->xFetch(c, key, 0);

	if (pg)
		m->xUnpin(c, pg, 0);
	return pg != NULL;
}

static void pc_rekey(const sqlite3_pcache_methods2 *m, sqlite3_pcache *c, unsigned from,
		     unsigned to)
{
	sqlite3_pcache_page *pg = m->xFetch(c, from, 0);

	assert_non_null(pg);
	m->xRekey(c, pg, from, to);
	m->xUnpin(c, pg, 0);
}

/*
 * The page cache (installed by the first catalog_open, before SQLite starts) passes a truncation
 * on only when a page could be at or past its limit: not after a page split's swap through the
 * lock-byte page's number (262,145 with 4 KiB pages), which SQLite's own cache remembers and then
 * scans its whole hash table for at each commit. Pages past the limit are still dropped.
 */
static void test_pcache_truncate(void **state)
{
	const sqlite3_pcache_methods2 *m = catalog_pcache_methods();
	const unsigned temp = 0x40000000u / 4096 + 1;
	unsigned long long s0, p0, s1, p1;
	sqlite3_pcache *c;

	assert_non_null(m);
	c = m->xCreate(4096, 64, 1);
	assert_non_null(c);
	m->xCachesize(c, 100);
	for (unsigned k = 1; k <= 10; k++) {
		sqlite3_pcache_page *pg = m->xFetch(c, k, 2);

		assert_non_null(pg);
		m->xUnpin(c, pg, 0);
	}
	catalog_pcache_counts(&s0, &p0);
	m->xTruncate(c, 11); /* nothing past page 10 */
	catalog_pcache_counts(&s1, &p1);
	assert_int_equal(s1 - s0, 1);
	assert_int_equal(p1 - p0, 0);
	assert_true(pc_has(m, c, 10));

	/* a split's swap of pages 6 and 7 through the temporary number */
	pc_rekey(m, c, 6, temp);
	pc_rekey(m, c, 7, 6);
	pc_rekey(m, c, temp, 7);
	m->xTruncate(c, 11);
	catalog_pcache_counts(&s1, &p1);
	assert_int_equal(s1 - s0, 2);
	assert_int_equal(p1 - p0, 0);
	assert_true(pc_has(m, c, 6) && pc_has(m, c, 7));

	/* a page still at the temporary number is dropped */
	pc_rekey(m, c, 5, temp);
	m->xTruncate(c, 11);
	catalog_pcache_counts(&s1, &p1);
	assert_int_equal(p1 - p0, 1);
	assert_false(pc_has(m, c, temp));
	assert_true(pc_has(m, c, 4));

	/* a page past the limit is dropped, then nothing is left past it */
	{
		sqlite3_pcache_page *pg = m->xFetch(c, 20, 2);

		assert_non_null(pg);
		m->xUnpin(c, pg, 0);
	}
	m->xTruncate(c, 11);
	catalog_pcache_counts(&s1, &p1);
	assert_int_equal(p1 - p0, 2);
	assert_false(pc_has(m, c, 20));
	m->xTruncate(c, 11);
	catalog_pcache_counts(&s1, &p1);
	assert_int_equal(s1 - s0, 3);

	/* everything */
	m->xTruncate(c, 0);
	assert_false(pc_has(m, c, 1));
	assert_int_equal(m->xPagecount(c), 0);
	m->xDestroy(c);
}

/* The operator's shell holds the write lock for a while; the catalog thread waits it out. */
static void test_busy_writer(void **state)
{
	const char *path = new_db();
	struct catalog *c = open_ok(path);
	struct catalog_stats st;
	sqlite3 *op = NULL;

	assert_int_equal(sqlite3_open(path, &op), SQLITE_OK);
	assert_int_equal(sqlite3_exec(op, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(catalog_start(c), 0);
	add_session(c, "busy", NULL, NULL, 1);
	usleep(300 * 1000);
	catalog_get_stats(c, &st);
	assert_int_equal(st.applied, 0);
	assert_int_equal(sqlite3_exec(op, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(op);
	assert_int_equal(catalog_sync(c), 0);
	catalog_get_stats(c, &st);
	assert_int_equal(st.applied, 1);
	catalog_free(c);
}

static void test_readonly(void **state)
{
	const char *path = new_db();
	struct catalog *c = open_ok(path);
	sqlite3 *db = NULL;
	char missing[300];

	snprintf(missing, sizeof(missing), "%s/missing.db", tmpdir);
	assert_int_equal(catalog_open_readonly(missing, &db), -ENOENT);
	assert_null(db);
	assert_int_equal(catalog_open_readonly(path, &db), 0);
	assert_int_equal(sqlite3_exec(db, "DELETE FROM sessions", NULL, NULL, NULL),
			 SQLITE_READONLY);
	sqlite3_close(db);
	catalog_free(c);
}

/*
 * Every ```sql block of docs/CATALOG.md is followed by a ```text block with its output against
 * fill_fixture(); run them all, so the documentation cannot drift from the schema.
 */
static char *fence_body(const char *p, const char *fence, const char **ret_end)
{
	const char *start = strstr(p, fence), *end;

	if (!start)
		return NULL;
	start += strlen(fence);
	end = strstr(start, "\n```");
	if (!end)
		fail_msg("unterminated %s block", fence);
	*ret_end = end + 4;
	return strndup(start, end + 1 - start);
}

static void test_docs_queries(void **state)
{
	const char *path = new_db();
	char docpath[512];
	char *doc = NULL;
	size_t doclen = 0;
	const char *p;
	int nq = 0;
	FILE *f;

	fill_fixture(path);
	snprintf(docpath, sizeof(docpath), "%s/docs/CATALOG.md", srcdir());
	f = fopen(docpath, "re");
	if (!f)
		fail_msg("cannot open %s (set SRCDIR): %m", docpath);
	doc = malloc(1 << 20);
	assert_non_null(doc);
	doclen = fread(doc, 1, (1 << 20) - 1, f);
	doc[doclen] = '\0';
	fclose(f);

	for (p = doc;;) {
		const char *after_sql, *after_text, *next_sql;
		_cleanup_free_ char *sql = fence_body(p, "\n```sql\n", &after_sql);
		_cleanup_free_ char *expected = NULL;

		if (!sql)
			break;
		next_sql = strstr(after_sql, "\n```sql\n");
		expected = fence_body(after_sql, "\n```text\n", &after_text);
		if (!expected || (next_sql && next_sql < after_text))
			fail_msg("docs query without a ```text output block:\n%s", sql);
		assert_query(path, sql, expected);
		nq++;
		p = after_text;
	}
	free(doc);
	assert_true(nq >= 5);
}

static int setup(void **state)
{
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	if (getenv("KEEP_TMP"))
		return 0;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_migrations_from_empty),
		cmocka_unit_test(test_embedded_matches_sql_dir),
		cmocka_unit_test(test_reopen_idempotent),
		cmocka_unit_test(test_newer_version_refused),
		cmocka_unit_test(test_broken_migration_rolls_back),
		cmocka_unit_test(test_check_lists),
		cmocka_unit_test(test_trail_hash_index),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_metadata_warning),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_media_dtmf),
		cmocka_unit_test(test_stream_srtp_plain),
		cmocka_unit_test(test_validation),
		cmocka_unit_test(test_batching),
		cmocka_unit_test(test_session_begin_merged),
		cmocka_unit_test(test_concurrent_producers),
		cmocka_unit_test(test_queue_limits),
		cmocka_unit_test(test_barrier),
		cmocka_unit_test(test_barrier_after_failed_batch),
		cmocka_unit_test(test_barrier_syncs),
		cmocka_unit_test(test_checkpointer),
		cmocka_unit_test(test_checkpointer_sync_failed),
		cmocka_unit_test(test_barrier_after_sync),
		cmocka_unit_test(test_crash_recovery),
		cmocka_unit_test(test_warm_wal),
		cmocka_unit_test(test_wal_writes_gathered),
		cmocka_unit_test(test_wal_rollback_dropped),
		cmocka_unit_test(test_pcache_truncate),
		cmocka_unit_test(test_busy_writer),
		cmocka_unit_test(test_readonly),
		cmocka_unit_test(test_docs_queries),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
