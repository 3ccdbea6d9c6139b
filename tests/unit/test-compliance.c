// SPDX-License-Identifier: MIT
/*
 * Compliance logic: the trail's hash chain and signed heads (and that the verifier names an
 * edited entry, a removed entry, a forged signature, a removed catalog row and a removed or
 * altered file), retention policy matching (longest wins, forever, default), legal holds
 * stopping the retention run, erasure and key destruction, and the event hook.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "siprecd/catalog.h"
#include "siprecd/compliance.h"

static char tmpdir[] = "/tmp/test-compliance.XXXXXX";
static int counter;

struct fixture {
	char path[256];
	sqlite3 *db;
	void *key;
	char problems[8192];
	unsigned nproblems;
};

/* An entry's hash against a value computed apart (Python's hashlib over the documented
 * encoding: "siprecd-trail-v1\n<seq>\n<at>\n", then each field as "<length>:<bytes>\n" or "-:\n"
 * for NULL, in the order kind, actor, object, reason, sha256, prev): a verifier that recomputes
 * with the same function would not notice the digest itself changing. */
static void test_entry_hash_known_answer(void **state)
{
	char prev[TRAIL_HASH_HEX + 1], out[TRAIL_HASH_HEX + 1];

	(void)state;
	memset(prev, '0', TRAIL_HASH_HEX);
	prev[TRAIL_HASH_HEX] = '\0';
	for (int i = 0; i < 2; i++) { /* the second with the digest already fetched */
		trail_entry_hash(7,
				 &(struct trail_entry){
					 .at = 1764856800123u,
					 .kind = "created",
					 .actor = "siprecd",
					 .object = "recording:r-1",
					 .reason = "/var/lib/siprecd/recordings/r-1.siprec",
				 },
				 prev, out);
		assert_string_equal(
			out, "fe20d42a8f1bb48e4e4fc9e68e3825eaf7b6e885f632bb74ed8f6e856712dd32");
	}
}

/* The same, with fields longer than the hash's 1 KiB input buffer (a 1,010-byte object that
 * leaves it part full, a 3,000-byte reason that goes past it), seq 2^64 - 1 and at 0 (one digit):
 * Python's hashlib over the same encoding gives this digest. */
static void test_entry_hash_long_fields(void **state)
{
	char prev[TRAIL_HASH_HEX + 1], out[TRAIL_HASH_HEX + 1], object[1011], reason[3001];

	(void)state;
	memset(prev, 'f', TRAIL_HASH_HEX);
	prev[TRAIL_HASH_HEX] = '\0';
	memcpy(object, "recording:", 10);
	memset(object + 10, 'x', 1000);
	object[1010] = '\0';
	for (int i = 0; i < 3000; i++)
		reason[i] = (char)('a' + i % 26);
	reason[3000] = '\0';
	trail_entry_hash(UINT64_MAX,
			 &(struct trail_entry){
				 .at = 0,
				 .kind = "finalized",
				 .actor = "siprecd",
				 .object = object,
				 .reason = reason,
				 .sha256 =
					 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b"
					 "7852b855",
			 },
			 prev, out);
	assert_string_equal(out,
			    "6d8bf422897d3cf73d89f327f2d0f75a351976d441af52f65bd50adb78bff303");
}

static void collect(void *userdata, const char *problem)
{
	struct fixture *f = userdata;
	size_t n = strlen(f->problems);

	snprintf(f->problems + n, sizeof(f->problems) - n, "%s\n", problem);
	f->nproblems++;
}

static int verify(struct fixture *f)
{
	f->problems[0] = '\0';
	f->nproblems = 0;
	return trail_verify(f->db, f->key, tmpdir, collect, f, NULL);
}

static void exec_ok(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
}

static void open_fixture(struct fixture *f)
{
	struct catalog *c = NULL;
	char err[256] = "", key[300];

	memset(f, 0, sizeof(*f));
	snprintf(f->path, sizeof(f->path), "%s/c%d.db", tmpdir, ++counter);
	assert_int_equal(catalog_open(f->path, err, sizeof(err), &c), 0);
	catalog_free(c);
	assert_int_equal(sqlite3_open(f->path, &f->db), SQLITE_OK);
	snprintf(key, sizeof(key), "%s/k%d.key", tmpdir, counter);
	f->key = trail_key_load(key, true, err, sizeof(err));
	assert_non_null(f->key);
}

static void close_fixture(struct fixture *f)
{
	sqlite3_close(f->db);
	trail_key_free(f->key);
}

static void append(sqlite3 *db, const char *kind, const char *object, const char *sha)
{
	struct trail_entry e = {.kind = kind, .actor = "test", .object = object, .sha256 = sha};

	assert_int_equal(trail_append_txn(db, &e, NULL), 0);
}

/* A session with one participant and one final recording whose file exists. */
static void add_recording(struct fixture *f, const char *ses, const char *rec, const char *aor,
			  uint64_t finalized_at, char sha_out[TRAIL_HASH_HEX + 1])
{
	char sql[2048], file[300], object[128];
	FILE *fp;

	snprintf(file, sizeof(file), "%s/%s.siprec", tmpdir, rec);
	fp = fopen(file, "w");
	assert_non_null(fp);
	fprintf(fp, "recording %s\n", rec);
	fclose(fp);
	assert_int_equal(compliance_file_sha256(file, sha_out), 0);
	snprintf(sql, sizeof(sql),
		 "INSERT OR IGNORE INTO sessions (uuid, started_at, src_addr) VALUES ('%s', %llu, "
		 "'192.0.2.1:5060');"
		 "INSERT INTO participants (session_id, participant_id, aor) VALUES ((SELECT id "
		 "FROM sessions WHERE uuid = '%s'), '%s-p', '%s');"
		 "INSERT INTO recordings (uuid, session_id, path, sha256, state, created_at, "
		 "finalized_at) VALUES ('%s', (SELECT id FROM sessions WHERE uuid = '%s'), "
		 "'%s.siprec', '%s', 'final', %llu, %llu);",
		 ses, (unsigned long long)finalized_at, ses, rec, aor, rec, ses, rec, sha_out,
		 (unsigned long long)finalized_at, (unsigned long long)finalized_at);
	exec_ok(f->db, sql);
	snprintf(object, sizeof(object), "recording:%s", rec);
	append(f->db, "created", object, NULL);
	append(f->db, "finalized", object, sha_out);
}

static void test_chain_and_signature(void **state)
{
	struct fixture f;
	char sha[TRAIL_HASH_HEX + 1], file[300];
	(void)state;

	open_fixture(&f);
	assert_int_equal(verify(&f), 0);
	add_recording(&f, "s1", "r1", "sip:alice@example.com", 1000, sha);
	add_recording(&f, "s2", "r2", "sip:bob@example.com", 1000, sha);
	assert_int_equal(trail_sign_head(f.db, f.key, "test"), 1);
	/* nothing new: no second signature */
	assert_int_equal(trail_sign_head(f.db, f.key, "test"), 0);
	append(f.db, "exported", "recording:r1", NULL);
	assert_int_equal(verify(&f), 0);

	/* the triggers refuse edits */
	assert_int_not_equal(
		sqlite3_exec(f.db, "UPDATE trail SET reason = 'x' WHERE seq = 2", NULL, NULL, NULL),
		SQLITE_OK);
	assert_int_not_equal(
		sqlite3_exec(f.db, "DELETE FROM trail WHERE seq = 5", NULL, NULL, NULL), SQLITE_OK);

	/* a file removed by hand */
	snprintf(file, sizeof(file), "%s/r2.siprec", tmpdir);
	assert_int_equal(unlink(file), 0);
	assert_int_equal(verify(&f), 1);
	assert_non_null(strstr(f.problems, "recording r2: file"));
	assert_non_null(strstr(f.problems, "missing"));
	assert_int_equal(f.nproblems, 1);

	/* a file altered */
	{
		FILE *fp = fopen(file, "w");

		fputs("something else\n", fp);
		fclose(fp);
	}
	assert_int_equal(verify(&f), 1);
	assert_non_null(strstr(f.problems, "recording r2: file"));
	assert_non_null(strstr(f.problems, "altered"));

	/* a catalog row removed by hand */
	exec_ok(f.db, "DELETE FROM recordings WHERE uuid = 'r2'");
	assert_int_equal(verify(&f), 1);
	assert_non_null(strstr(f.problems, "recording r2: its catalog row is missing"));

	/* a trail entry edited (the operator dropped the trigger first) */
	exec_ok(f.db, "DROP TRIGGER trail_no_update; DROP TRIGGER trail_no_delete");
	exec_ok(f.db, "UPDATE trail SET actor = 'nobody' WHERE seq = 2");
	assert_int_equal(verify(&f), 1);
	assert_non_null(strstr(f.problems, "trail entry 2 (finalized recording:r1): edited"));

	close_fixture(&f);
}

/* trail_append_cached keeps its statements between appends, yet follows the head another
 * connection moved (the compliance, key and S3 threads append on their own): one chain, no
 * fork, no duplicate seq. */
static void test_cached_append_two_writers(void **state)
{
	struct trail_stmts ts = {0};
	struct fixture f;
	sqlite3 *other = NULL;
	uint64_t seq = 0;
	(void)state;

	open_fixture(&f);
	assert_int_equal(sqlite3_open(f.path, &other), SQLITE_OK);
	for (unsigned i = 0; i < 3; i++) {
		struct trail_entry e = {
			.kind = "created", .actor = "siprecd", .object = "recording:c"};

		exec_ok(f.db, "BEGIN IMMEDIATE");
		assert_int_equal(trail_append_cached(&ts, f.db, &e, &seq), 0);
		assert_int_equal(trail_append_cached(&ts, f.db, &e, &seq), 0);
		exec_ok(f.db, "COMMIT");
		assert_int_equal(seq, 3 * i + 2);
		/* the statements are kept: not prepared again per append */
		assert_ptr_equal(ts.db, f.db);
		assert_non_null(ts.head);
		assert_non_null(ts.insert);
		append(other, "deleted", "recording:o", NULL);
	}
	assert_int_equal(verify(&f), 0);
	{
		sqlite3_stmt *st = NULL;

		assert_int_equal(sqlite3_prepare_v2(f.db, "SELECT count(*), max(seq) FROM trail",
						    -1, &st, NULL),
				 SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(st, 0), 9);
		assert_int_equal(sqlite3_column_int(st, 1), 9);
		sqlite3_finalize(st);
	}
	trail_stmts_clear(&ts);
	assert_null(ts.head);
	sqlite3_close(other);
	close_fixture(&f);
}

static void test_rewrite_and_truncation(void **state)
{
	struct fixture f;
	char sha[TRAIL_HASH_HEX + 1];
	(void)state;

	open_fixture(&f);
	add_recording(&f, "s1", "r1", "sip:alice@example.com", 1000, sha);
	add_recording(&f, "s2", "r2", "sip:bob@example.com", 1000, sha);
	assert_int_equal(trail_sign_head(f.db, f.key, "test"), 1);
	exec_ok(f.db, "DROP TRIGGER trail_no_update; DROP TRIGGER trail_no_delete");

	/* deleting an entry in the middle breaks the next one's prev and leaves a gap */
	exec_ok(f.db, "DELETE FROM trail WHERE seq = 2");
	assert_int_equal(verify(&f), 1);
	assert_non_null(strstr(f.problems, "trail entries 2-2 are missing"));
	assert_non_null(strstr(f.problems, "trail entry 3: its prev does not match"));
	close_fixture(&f);

	/* removing the tail (and the file's last trace) is caught by the signed head */
	open_fixture(&f);
	add_recording(&f, "s1", "r1", "sip:alice@example.com", 1000, sha);
	assert_int_equal(trail_sign_head(f.db, f.key, "test"), 1);
	exec_ok(f.db, "DROP TRIGGER trail_no_delete");
	exec_ok(f.db, "DELETE FROM trail WHERE seq = 2");
	assert_int_equal(verify(&f), 1);
	assert_non_null(strstr(f.problems, "signed head 1: trail entry 2 it signed is missing"));
	close_fixture(&f);

	/* a forged signature (or one by another key) */
	open_fixture(&f);
	add_recording(&f, "s1", "r1", "sip:alice@example.com", 1000, sha);
	assert_int_equal(trail_sign_head(f.db, f.key, "test"), 1);
	exec_ok(f.db, "DROP TRIGGER trail_heads_no_update");
	exec_ok(f.db, "UPDATE trail_heads SET signature = CASE substr(signature, 1, 1) WHEN 'A' "
		      "THEN 'B' ELSE 'A' END || substr(signature, 2)");
	assert_int_equal(verify(&f), 1);
	assert_non_null(strstr(f.problems, "signed head 1 (entry 2): bad signature"));
	close_fixture(&f);

	/* a rewritten trail re-signed with another key than the recorder's */
	open_fixture(&f);
	add_recording(&f, "s1", "r1", "sip:alice@example.com", 1000, sha);
	{
		char err[256], path[300];
		void *other;

		snprintf(path, sizeof(path), "%s/other.key", tmpdir);
		other = trail_key_load(path, true, err, sizeof(err));
		assert_non_null(other);
		assert_int_equal(trail_sign_head(f.db, other, "forged"), 1);
		trail_key_free(other);
	}
	assert_int_equal(verify(&f), 1);
	assert_non_null(strstr(f.problems, "signed head 1: signed by another key"));
	close_fixture(&f);
}

static void test_policies(void **state)
{
	const char *aors[] = {"sip:alice@Trading.example.com;transport=tls", "tel:+15551234"};
	const char *names[] = {"ucid"}, *values[] = {"00001234"};
	struct retention_subject s = {.aors = aors,
				      .n_aors = 2,
				      .src = "192.0.2.1:5060",
				      .context_names = names,
				      .context_values = values,
				      .n_context = 1};
	struct retention_policy p[] = {
		{"all", "all", NULL, NULL, 30, NULL, 0},
		{"traders", "domain", "trading.example.com", NULL, 7 * 365 * 86400, NULL, 0},
		{"bob", "aor", "sip:bob@*", NULL, COMPLIANCE_FOREVER, NULL, 0},
		{"src", "src", "192.0.2.*", NULL, 100, NULL, 0},
		{"ucid", "context", "0000*", "UCID", 200, NULL, 0},
	};
	char dom[64];
	int64_t v;
	int which;
	(void)state;

	assert_int_equal(compliance_parse_keep("forever", &v), 0);
	assert_int_equal(v, COMPLIANCE_FOREVER);
	assert_int_equal(compliance_parse_keep("7y", &v), 0);
	assert_int_equal(v, 7 * 365 * 86400LL);
	assert_int_equal(compliance_parse_keep("90d", &v), 0);
	assert_int_equal(v, 90 * 86400LL);
	assert_int_equal(compliance_parse_keep("5", &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(compliance_parse_keep("-5", &v), -EINVAL);
	assert_int_equal(compliance_parse_keep("5x", &v), -EINVAL);
	assert_int_equal(compliance_parse_keep("5dd", &v), -EINVAL);
	assert_int_equal(compliance_parse_keep("99999999999999999999y", &v), -EINVAL);
	assert_int_equal(compliance_parse_keep("", &v), -EINVAL);

	assert_string_equal(compliance_aor_domain(aors[0], dom, sizeof(dom)),
			    "trading.example.com");
	assert_null(compliance_aor_domain("tel:+15551234", dom, sizeof(dom)));
	assert_string_equal(compliance_aor_domain("sip:[2001:db8::1]:5060", dom, sizeof(dom)),
			    "[2001:db8::1]");

	/* the longest applicable wins */
	assert_int_equal(retention_keep(p, 5, &s, 10, &which), 7 * 365 * 86400LL);
	assert_int_equal(which, 1);
	/* a policy that does not apply is ignored, even when longer */
	assert_false(retention_policy_applies(&p[2], &s));
	assert_true(retention_policy_applies(&p[3], &s));
	assert_true(retention_policy_applies(&p[4], &s));
	/* forever beats any duration */
	aors[1] = "sip:Bob@example.net";
	assert_int_equal(retention_keep(p, 5, &s, 10, &which), COMPLIANCE_FOREVER);
	assert_int_equal(which, 2);
	/* no policy: the default */
	assert_int_equal(retention_keep(p + 1, 1, &(struct retention_subject){0}, 10, &which), 10);
	assert_int_equal(which, -1);
	/* sealed participants: an exact policy matches through the blind indexes, AoR with AoR
	 * and domain with domain only */
	{
		const char *pidx[] = {"v1:aa", "v2:bb"}, *sa[] = {"v2:bb"}, *sd[] = {"v2:cc"};
		struct retention_policy ap = {"x", "aor", "sip:x@y", NULL, 5, pidx, 2};
		struct retention_policy dp = {"d", "domain", "y", NULL, 5, pidx, 2};
		struct retention_subject ss = {.aor_indexes = sa,
					       .domain_indexes = sd,
					       .n_aor_indexes = 1,
					       .n_domain_indexes = 1};

		assert_true(retention_policy_applies(&ap, &ss));
		assert_false(retention_policy_applies(&dp, &ss));
		sd[0] = "v1:aa";
		assert_true(retention_policy_applies(&dp, &ss));
		ss.n_aor_indexes = 0;
		assert_false(retention_policy_applies(&ap, &ss));
	}
}

struct events {
	unsigned n;
	char last_kind[32];
};

static void on_event(void *userdata, const char *kind, const char *json)
{
	struct events *e = userdata;

	e->n++;
	snprintf(e->last_kind, sizeof(e->last_kind), "%s", kind);
	assert_non_null(strstr(json, "\"hash\""));
}

static void item_count(void *userdata, const struct compliance_item *it)
{
	(void)it;
	(*(unsigned *)userdata)++;
}

static void test_retention_holds_erasure(void **state)
{
	struct compliance_result res;
	struct fixture f;
	struct events ev = {0};
	char sha[TRAIL_HASH_HEX + 1], file[300];
	int64_t hold;
	unsigned seen = 0;
	(void)state;

	open_fixture(&f);
	compliance_set_event_hook(on_event, &ev);
	add_recording(&f, "s1", "old-alice", "sip:alice@example.com", 1000, sha);
	add_recording(&f, "s2", "old-bob", "sip:bob@example.com", 1000, sha);
	add_recording(&f, "s3", "new-alice", "sip:alice@example.com", 100000000, sha);
	add_recording(&f, "s4", "old-carol", "sip:carol@keep.example", 1000, sha);
	assert_int_equal(ev.n, 8);
	exec_ok(f.db, "INSERT INTO retention_policies (name, match, pattern, keep_seconds, "
		      "created_at, created_by) VALUES ('keep-domain', 'domain', 'keep.example', "
		      "NULL, 0, 'test')");

	/* A hold on bob: the sweeper keeps old-bob. */
	assert_int_equal(compliance_hold_add(f.db,
					     &(struct compliance_hold){.kind = "aor",
								       .aor = "SIP:BOB@example.com",
								       .case_ref = "CASE-1",
								       .actor = "test"},
					     &hold),
			 0);
	assert_string_equal(ev.last_kind, "held");
	/* dry run: lists, deletes nothing */
	assert_int_equal(compliance_retention_run(f.db, 10, 50000, true, "test", tmpdir, item_count,
						  &seen, &res),
			 0);
	assert_int_equal(res.matched, 2);
	assert_int_equal(res.held, 1);
	assert_int_equal(res.deleted, 0);
	assert_int_equal(seen, 2);
	snprintf(file, sizeof(file), "%s/old-alice.siprec", tmpdir);
	assert_int_equal(access(file, F_OK), 0);

	assert_int_equal(
		compliance_retention_run(f.db, 10, 50000, false, "test", tmpdir, NULL, NULL, &res),
		0);
	assert_int_equal(res.deleted, 1);
	assert_int_equal(res.held, 1);
	assert_int_not_equal(access(file, F_OK), 0);
	snprintf(file, sizeof(file), "%s/old-bob.siprec", tmpdir);
	assert_int_equal(access(file, F_OK), 0);
	assert_int_equal(verify(&f), 0);

	/* Erasure respects the hold too; then, released, bob goes. */
	assert_int_equal(compliance_erase(f.db, "sip:bob@example.com", false, "test", tmpdir, NULL,
					  NULL, &res),
			 0);
	assert_int_equal(res.matched, 1);
	assert_int_equal(res.held, 1);
	assert_int_equal(access(file, F_OK), 0);
	assert_int_equal(compliance_hold_release(f.db, hold, "test", "case closed"), 0);
	assert_int_equal(compliance_hold_release(f.db, hold, "test", "again"), -EALREADY);
	assert_int_equal(compliance_hold_release(f.db, 999, "test", NULL), -ENOENT);
	assert_int_equal(compliance_erase(f.db, "sip:Bob@example.com", false, "test", tmpdir, NULL,
					  NULL, &res),
			 0);
	assert_int_equal(res.deleted, 1);
	assert_int_not_equal(access(file, F_OK), 0);
	/* alice's recent recording and carol's were not touched */
	snprintf(file, sizeof(file), "%s/new-alice.siprec", tmpdir);
	assert_int_equal(access(file, F_OK), 0);
	snprintf(file, sizeof(file), "%s/old-carol.siprec", tmpdir);
	assert_int_equal(access(file, F_OK), 0);
	assert_int_equal(verify(&f), 0);

	/* a hold cannot be deleted, nor edited other than released */
	assert_int_not_equal(sqlite3_exec(f.db, "DELETE FROM legal_holds", NULL, NULL, NULL),
			     SQLITE_OK);
	compliance_set_event_hook(NULL, NULL);
	close_fixture(&f);
}

static void test_hold_blocks_key_destroy(void **state)
{
	struct fixture f;
	char sha[TRAIL_HASH_HEX + 1];
	(void)state;

	open_fixture(&f);
	add_recording(&f, "s1", "r1", "sip:alice@example.com", 1000, sha);
	exec_ok(f.db, "UPDATE recordings SET key_id = 'k', key_version = 1;"
		      "INSERT INTO keys (key_id, version, algorithm, state, created_at) VALUES "
		      "('k', 1, 'AES-256', 'retired', 0)");
	assert_int_equal(compliance_hold_add(f.db,
					     &(struct compliance_hold){.kind = "session",
								       .session_uuid = "s1",
								       .case_ref = "CASE-2",
								       .actor = "test"},
					     NULL),
			 0);
	assert_int_not_equal(
		sqlite3_exec(f.db, "UPDATE keys SET state = 'destroyed'", NULL, NULL, NULL),
		SQLITE_OK);
	assert_non_null(strstr(sqlite3_errmsg(f.db), "legal hold"));
	exec_ok(f.db, "UPDATE legal_holds SET released_at = 1, released_by = 't'");
	exec_ok(f.db, "UPDATE keys SET state = 'destroyed'");
	close_fixture(&f);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];
	(void)state;

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry_hash_known_answer),
		cmocka_unit_test(test_entry_hash_long_fields),
		cmocka_unit_test(test_chain_and_signature),
		cmocka_unit_test(test_cached_append_two_writers),
		cmocka_unit_test(test_rewrite_and_truncation),
		cmocka_unit_test(test_policies),
		cmocka_unit_test(test_retention_holds_erasure),
		cmocka_unit_test(test_hold_blocks_key_destroy),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
