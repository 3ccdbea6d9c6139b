// SPDX-License-Identifier: MIT
/*
 * siprecctl's compliance commands (docs/COMPLIANCE.md): verify-trail, retention, hold, erase.
 * They work on the catalog directly (CATALOG_PATH of the configuration, or --catalog), like
 * siprecd-keys, so they need the catalog's file permissions (the daemon's user or root) and
 * work whether the daemon runs or not; the actor written to the trail is the caller's uid.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "siprecd/compliance.h"
#include "siprecd/config.h"
#include "siprecd/keys.h"
#include "siprecctl.h"

#define EXIT_USAGE 1
#define EXIT_FAILED 2

struct copts {
	const char *catalog, *trail_key, *session, *aor, *case_ref, *reason, *match, *pattern,
		*context_name, *keep;
	uint64_t from_ms, to_ms;
	bool dry_run, has_range;
	char *owned_catalog, *owned_key, *retention_default;
	const char *pos[3];
	int npos;
	struct keys *keys; /* the configuration's key store (read-only), for AoR blind indexes */
};

struct aor_idx {
	const char **ptrs; /* keys_aor_indexes: one allocation */
	size_t n;
};

/*
 * The blind indexes of o->aor under every data key version of the key store, for participants
 * whose metadata is sealed (ENABLE_METADATA_ENCRYPTION). Without the key store (none in the
 * configuration, or not readable by the caller) none, and a warning says what is missed.
 * Free with aor_idx_free.
 */
static void aor_indexes(const struct copts *o, struct aor_idx *ret)
{
	*ret = (struct aor_idx){0};
	if (!o->keys) {
		fprintf(stderr,
			"siprecctl: warning: no key store opened (--config): participants "
			"whose metadata is sealed (ENABLE_METADATA_ENCRYPTION) are not matched\n");
		return;
	}
	if (keys_aor_indexes(o->keys, o->aor, &ret->ptrs, &ret->n) < 0)
		fprintf(stderr, "siprecctl: warning: cannot compute the AoR's blind indexes: "
				"participants whose metadata is sealed are not matched\n");
}

static void aor_idx_free(struct aor_idx *x)
{
	free(x->ptrs);
}

static void report_problem(void *userdata, const char *problem)
{
	(void)userdata;
	printf("TAMPERED: %s\n", problem);
}

static void print_item(void *userdata, const struct compliance_item *it)
{
	const char *verb = userdata;

	printf("%-8s %s session %s %s (%s)\n",
	       it->held	  ? "HELD"
	       : it->done ? verb
			  : (strcmp(verb, "deleted") == 0 || strcmp(verb, "erased") == 0 ? "FAILED"
											 : verb),
	       it->recording_uuid, it->session_uuid ? it->session_uuid : "?", it->path,
	       it->reason ? it->reason : "");
}

static char *dir_of(const char *path)
{
	char *d = strdup(path), *s;

	if (!d)
		return NULL;
	s = strrchr(d, '/');
	if (s == d)
		s[1] = '\0';
	else if (s)
		*s = '\0';
	else
		strcpy(d, ".");
	return d;
}

static int open_db(const struct copts *o, bool rw, sqlite3 **ret)
{
	int flags = rw ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;

	if (sqlite3_open_v2(o->catalog, ret, flags, NULL) != SQLITE_OK) {
		fprintf(stderr, "siprecctl: %s: %s\n", o->catalog, sqlite3_errmsg(*ret));
		sqlite3_close(*ret);
		return -EIO;
	}
	sqlite3_busy_timeout(*ret, 30000);
	if (sqlite3_exec(*ret, "SELECT 1 FROM trail LIMIT 0", NULL, NULL, NULL) != SQLITE_OK) {
		fprintf(stderr,
			"siprecctl: %s: no trail table (a catalog older than migration 6: start "
			"siprecd once to migrate it)\n",
			o->catalog);
		sqlite3_close(*ret);
		return -EPROTONOSUPPORT;
	}
	return 0;
}

static char actor[64];

static int cmd_verify(const struct copts *o)
{
	char err[512] = "", kid[TRAIL_HASH_HEX + 1] = "";
	struct trail_verify v;
	void *pub;
	sqlite3 *db;
	char *base;
	int r;

	pub = trail_pubkey_load(o->trail_key, err, sizeof(err));
	if (!pub)
		fprintf(stderr, "siprecctl: trail key: %s\n", err);
	else
		trail_key_id(pub, kid);
	if (open_db(o, false, &db) < 0) {
		trail_key_free(pub);
		return EXIT_FAILED;
	}
	base = dir_of(o->catalog);
	r = trail_verify(db, pub, base, report_problem, NULL, &v);
	sqlite3_close(db);
	free(base);
	trail_key_free(pub);
	if (r < 0) {
		fprintf(stderr, "siprecctl: verifying the trail: %s\n", strerror(-r));
		return EXIT_FAILED;
	}
	printf("trail: %" PRIu64 " entries, %" PRIu64 " signed heads (key %.16s), last signed "
	       "entry %" PRIu64 ", %" PRIu64 " entries not yet signed, %" PRIu64
	       " recordings checked: %s\n",
	       v.entries, v.heads, *kid ? kid : "none", v.last_signed_seq, v.unsigned_entries,
	       v.files, r == 0 ? "OK" : "PROBLEMS FOUND");
	return r == 0 ? 0 : EXIT_FAILED;
}

static int cmd_retention(struct copts *o)
{
	struct compliance_result res = {0};
	int64_t def;
	sqlite3 *db;
	char *base;
	int r;

	if (o->npos >= 1 && strcmp(o->pos[0], "add") == 0) {
		int64_t keep;
		sqlite3_stmt *st;

		if (o->npos != 2 || !o->match || !o->keep ||
		    compliance_parse_keep(o->keep, &keep) < 0) {
			fprintf(stderr, "siprecctl: retention add NAME --match all|aor|domain|src|"
					"context [--pattern GLOB] [--context-name NAME] --keep "
					"forever|DURATION\n");
			return EXIT_USAGE;
		}
		if (open_db(o, true, &db) < 0)
			return EXIT_FAILED;
		r = sqlite3_prepare_v2(db,
				       "INSERT INTO retention_policies (name, match, pattern, "
				       "context_name, keep_seconds, created_at, created_by) VALUES "
				       "(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
				       -1, &st, NULL);
		if (r == SQLITE_OK) {
			sqlite3_bind_text(st, 1, o->pos[1], -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 2, o->match, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 3, o->pattern, -1, SQLITE_STATIC);
			sqlite3_bind_text(st, 4, o->context_name, -1, SQLITE_STATIC);
			if (keep != COMPLIANCE_FOREVER)
				sqlite3_bind_int64(st, 5, keep);
			sqlite3_bind_int64(st, 6, (int64_t)compliance_now_ms());
			sqlite3_bind_text(st, 7, actor, -1, SQLITE_STATIC);
			r = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
			sqlite3_finalize(st);
		}
		if (r != SQLITE_OK)
			fprintf(stderr, "siprecctl: retention add: %s\n", sqlite3_errmsg(db));
		else
			printf("policy %s added\n", o->pos[1]);
		sqlite3_close(db);
		return r == SQLITE_OK ? 0 : EXIT_FAILED;
	}
	if (o->npos != 1 || strcmp(o->pos[0], "run") != 0) {
		fprintf(stderr, "siprecctl: retention run [--dry-run] | retention add NAME ...\n");
		return EXIT_USAGE;
	}
	if (compliance_parse_keep(o->retention_default ? o->retention_default : "forever", &def) <
	    0) {
		fprintf(stderr, "siprecctl: RETENTION_DEFAULT '%s' is not forever or a duration\n",
			o->retention_default);
		return EXIT_USAGE;
	}
	if (open_db(o, !o->dry_run, &db) < 0)
		return EXIT_FAILED;
	base = dir_of(o->catalog);
	r = compliance_retention_run_keyed(db, o->keys, def, 0, o->dry_run, actor, base, print_item,
					   o->dry_run ? "WOULD-GO" : "deleted", &res);
	sqlite3_close(db);
	free(base);
	if (r < 0) {
		fprintf(stderr, "siprecctl: retention run: %s\n", strerror(-r));
		return EXIT_FAILED;
	}
	printf("retention%s: %u expired, %u %s, %u held, %u failed\n",
	       o->dry_run ? " (dry run)" : "", res.matched,
	       o->dry_run ? res.matched - res.held : res.deleted,
	       o->dry_run ? "would be deleted" : "deleted", res.held, res.failed);
	return res.failed ? EXIT_FAILED : 0;
}

static int cmd_hold(struct copts *o)
{
	sqlite3 *db;
	int r;

	if (o->npos == 1 && strcmp(o->pos[0], "list") == 0) {
		sqlite3_stmt *st;

		if (open_db(o, false, &db) < 0)
			return EXIT_FAILED;
		if (sqlite3_prepare_v2(
			    db,
			    "SELECT h.id, h.kind, coalesce(h.session_uuid, h.aor, h.from_at || "
			    "'..' "
			    "|| h.to_at), h.case_ref, h.placed_by, strftime('%Y-%m-%dT%H:%M:%SZ', "
			    "h.placed_at / 1000.0, 'unixepoch'), (SELECT count(*) FROM "
			    "held_recordings AS r WHERE r.hold_id = h.id) FROM legal_holds AS h "
			    "WHERE h.released_at IS NULL ORDER BY h.id",
			    -1, &st, NULL) != SQLITE_OK) {
			fprintf(stderr, "siprecctl: %s\n", sqlite3_errmsg(db));
			sqlite3_close(db);
			return EXIT_FAILED;
		}
		printf("%-5s %-8s %-40s %-16s %-12s %-20s %s\n", "ID", "KIND", "ON", "CASE",
		       "PLACED-BY", "PLACED", "RECORDINGS");
		while (sqlite3_step(st) == SQLITE_ROW)
			printf("%-5lld %-8s %-40s %-16s %-12s %-20s %lld\n",
			       sqlite3_column_int64(st, 0), sqlite3_column_text(st, 1),
			       sqlite3_column_text(st, 2), sqlite3_column_text(st, 3),
			       sqlite3_column_text(st, 4), sqlite3_column_text(st, 5),
			       sqlite3_column_int64(st, 6));
		sqlite3_finalize(st);
		sqlite3_close(db);
		return 0;
	}
	if (o->npos == 2 && strcmp(o->pos[0], "release") == 0) {
		char *end;
		long long id = strtoll(o->pos[1], &end, 10);

		if (*end || id <= 0) {
			fprintf(stderr, "siprecctl: hold release ID: '%s' is not a hold id\n",
				o->pos[1]);
			return EXIT_USAGE;
		}
		if (open_db(o, true, &db) < 0)
			return EXIT_FAILED;
		r = compliance_hold_release(db, id, actor, o->reason);
		sqlite3_close(db);
		if (r < 0) {
			fprintf(stderr, "siprecctl: hold %lld: %s\n", id,
				r == -ENOENT	 ? "no such hold"
				: r == -EALREADY ? "already released"
						 : strerror(-r));
			return EXIT_FAILED;
		}
		printf("hold %lld released\n", id);
		return 0;
	}
	if (o->npos == 1 && strcmp(o->pos[0], "add") == 0) {
		struct compliance_hold h = {.case_ref = o->case_ref, .actor = actor};
		struct aor_idx ai = {0};
		int64_t id;

		if (!!o->session + !!o->aor + o->has_range != 1 || !o->case_ref) {
			fprintf(stderr,
				"siprecctl: hold add (--session UUID | --aor AOR | --from MS "
				"--to MS) --case REF\n");
			return EXIT_USAGE;
		}
		h.kind = o->session ? "session" : o->aor ? "aor" : "range";
		h.session_uuid = o->session;
		h.aor = o->aor;
		if (o->aor) {
			aor_indexes(o, &ai);
			h.n_aor_indexes = ai.n;
			h.aor_indexes = ai.ptrs;
		}
		h.from_ms = o->from_ms;
		h.to_ms = o->to_ms;
		if (open_db(o, true, &db) < 0) {
			aor_idx_free(&ai);
			return EXIT_FAILED;
		}
		r = compliance_hold_add(db, &h, &id);
		sqlite3_close(db);
		aor_idx_free(&ai);
		if (r < 0) {
			fprintf(stderr, "siprecctl: hold add: %s\n",
				r == -EINVAL ? "invalid hold" : strerror(-r));
			return r == -EINVAL ? EXIT_USAGE : EXIT_FAILED;
		}
		printf("hold %" PRId64 " placed (case %s)\n", id, o->case_ref);
		return 0;
	}
	fprintf(stderr, "siprecctl: hold add|list|release\n");
	return EXIT_USAGE;
}

static int cmd_erase(struct copts *o)
{
	struct compliance_result res = {0};
	struct aor_idx ai;
	sqlite3 *db;
	char *base;
	int r;

	if (!o->aor || o->npos) {
		fprintf(stderr, "siprecctl: erase --aor AOR [--dry-run]\n");
		return EXIT_USAGE;
	}
	aor_indexes(o, &ai);
	if (open_db(o, !o->dry_run, &db) < 0) {
		aor_idx_free(&ai);
		return EXIT_FAILED;
	}
	base = dir_of(o->catalog);
	r = compliance_erase_indexed(db, o->aor, ai.ptrs, ai.n, o->dry_run, actor, base, print_item,
				     o->dry_run ? "WOULD-GO" : "erased", &res);
	aor_idx_free(&ai);
	sqlite3_close(db);
	free(base);
	if (r < 0) {
		fprintf(stderr, "siprecctl: erase: %s\n", strerror(-r));
		return EXIT_FAILED;
	}
	printf("erase%s: %u recordings of %s, %u %s, %u held (kept), %u failed\n",
	       o->dry_run ? " (dry run)" : "", res.matched, o->aor,
	       o->dry_run ? res.matched - res.held : res.deleted,
	       o->dry_run ? "would be erased" : "erased", res.held, res.failed);
	return res.failed ? EXIT_FAILED : 0;
}

static int parse_ms(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || !*s || v > INT64_MAX)
		return -EINVAL;
	*ret = v;
	return 0;
}

int siprecctl_compliance(const char *cmd, int argc, char **argv, const char *config_path)
{
	struct copts o = {0};
	struct config cfg;
	bool have_cfg = false;
	FILE *devnull;
	int r;

	snprintf(actor, sizeof(actor), "uid:%u", (unsigned)getuid());
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		const char **slot = NULL;

		if (strcmp(a, "--dry-run") == 0) {
			o.dry_run = true;
			continue;
		}
		if (strcmp(a, "--catalog") == 0)
			slot = &o.catalog;
		else if (strcmp(a, "--trail-key") == 0)
			slot = &o.trail_key;
		else if (strcmp(a, "--session") == 0)
			slot = &o.session;
		else if (strcmp(a, "--aor") == 0)
			slot = &o.aor;
		else if (strcmp(a, "--case") == 0)
			slot = &o.case_ref;
		else if (strcmp(a, "--reason") == 0)
			slot = &o.reason;
		else if (strcmp(a, "--match") == 0)
			slot = &o.match;
		else if (strcmp(a, "--pattern") == 0)
			slot = &o.pattern;
		else if (strcmp(a, "--context-name") == 0)
			slot = &o.context_name;
		else if (strcmp(a, "--keep") == 0)
			slot = &o.keep;
		else if (strcmp(a, "--from") == 0 || strcmp(a, "--to") == 0) {
			if (!v || parse_ms(v, a[2] == 'f' ? &o.from_ms : &o.to_ms) < 0) {
				fprintf(stderr, "siprecctl: %s takes unix milliseconds\n", a);
				return EXIT_USAGE;
			}
			o.has_range = true;
			i++;
			continue;
		} else if (a[0] == '-' && a[1] == '-') {
			fprintf(stderr, "siprecctl: %s: unknown option '%s'\n", cmd, a);
			return EXIT_USAGE;
		} else {
			if (o.npos >= 3) {
				fprintf(stderr, "siprecctl: %s: too many arguments\n", cmd);
				return EXIT_USAGE;
			}
			o.pos[o.npos++] = a;
			continue;
		}
		if (!v || !*v) {
			fprintf(stderr, "siprecctl: %s needs a value\n", a);
			return EXIT_USAGE;
		}
		*slot = v;
		i++;
	}
	devnull = fopen("/dev/null", "w");
	if (devnull && config_load(&cfg, config_path, NULL, devnull) == 0)
		have_cfg = true;
	if (devnull)
		fclose(devnull);
	if (have_cfg) {
		if (!o.catalog && cfg.catalog_path)
			o.catalog = o.owned_catalog = strdup(cfg.catalog_path);
		if (!o.trail_key && cfg.trail_signing_key &&
		    asprintf(&o.owned_key, "%s.pub", cfg.trail_signing_key) >= 0)
			o.trail_key = o.owned_key;
		if (cfg.retention_default)
			o.retention_default = strdup(cfg.retention_default);
		/* Read-only, as siprec-export opens it: never creates or rotates a key. Write-only
		 * mode holds no data key: no index to compute. */
		if ((o.aor || strcmp(cmd, "retention") == 0) && o.catalog &&
		    strcmp(cfg.encryption_key_store, "public-key") != 0 &&
		    keys_open(&(struct keys_options){.store = cfg.encryption_key_store,
						     .catalog_path = o.catalog,
						     .key_path = cfg.master_key_path,
						     .password = cfg.master_password,
						     .kdf = cfg.kdf,
						     .readonly = true},
			      &o.keys) < 0)
			fprintf(stderr, "siprecctl: key store: %s\n", keys_error());
		config_free(&cfg);
	}
	if (!o.catalog) {
		fprintf(stderr, "siprecctl: no catalog: give --catalog or a configuration\n");
		return EXIT_USAGE;
	}
	if (!o.trail_key) {
		char *d = dir_of(o.catalog);

		if (d && asprintf(&o.owned_key, "%s/trail-signing.key.pub", d) >= 0)
			o.trail_key = o.owned_key;
		free(d);
	}
	if (strcmp(cmd, "verify-trail") == 0)
		r = o.npos ? EXIT_USAGE : cmd_verify(&o);
	else if (strcmp(cmd, "retention") == 0)
		r = cmd_retention(&o);
	else if (strcmp(cmd, "hold") == 0)
		r = cmd_hold(&o);
	else
		r = cmd_erase(&o);
	keys_free(o.keys);
	free(o.owned_catalog);
	free(o.owned_key);
	free(o.retention_default);
	return r;
}
