// SPDX-License-Identifier: MIT
/*
 * What happens to recordings at the end of their life: retention runs, erasure of one data
 * subject, and the legal holds that stop both. Each recording is deleted in its own write
 * transaction that re-checks the holds, removes the file, marks the catalog row and appends the
 * trail entry, so a crash leaves either the recording and no entry, or the entry and a row
 * marked deleted (the file may then survive an unlink that did not reach the disk: the verifier
 * does not complain about files that should be gone).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "siprecd/audit.h"
#include "siprecd/compliance.h"
#include "siprecd/keys.h"
#include "siprecd/str.h"

#define CANDIDATES_MAX 1000000u

struct cand {
	char *rec, *ses, *path, *sha, *reason;
	int64_t session_id;
};

struct cands {
	struct cand *v;
	size_t n, cap;
};

static char *dup_col(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);

	return s ? strdup(s) : NULL;
}

static void cands_free(struct cands *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].rec);
		free(c->v[i].ses);
		free(c->v[i].path);
		free(c->v[i].sha);
		free(c->v[i].reason);
	}
	free(c->v);
	*c = (struct cands){0};
}

static struct cand *cands_add(struct cands *c)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct cand *v;

		if (cap > CANDIDATES_MAX)
			return NULL;
		v = realloc(c->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		c->v = v;
		c->cap = cap;
	}
	memset(&c->v[c->n], 0, sizeof(c->v[0]));
	return &c->v[c->n++];
}

static bool is_held(sqlite3 *db, const char *rec)
{
	sqlite3_stmt *st;
	bool held = true; /* when in doubt, keep */

	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM held_recordings WHERE recording_uuid = ?1",
			       -1, &st, NULL) != SQLITE_OK)
		return true;
	sqlite3_bind_text(st, 1, rec, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		held = sqlite3_column_int64(st, 0) > 0;
	sqlite3_finalize(st);
	return held;
}

static void full_path(const char *base_dir, const char *path, char *out, size_t n)
{
	if (path[0] == '/' || !base_dir)
		snprintf(out, n, "%s", path);
	else
		snprintf(out, n, "%s/%s", base_dir, path);
}

static int exec1(sqlite3 *db, const char *sql, const char *a, int64_t i, const char *b)
{
	sqlite3_stmt *st;
	int r;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	if (sqlite3_bind_parameter_count(st) >= 1)
		sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	if (sqlite3_bind_parameter_count(st) >= 2)
		sqlite3_bind_int64(st, 2, i);
	if (sqlite3_bind_parameter_count(st) >= 3)
		sqlite3_bind_text(st, 3, b, -1, SQLITE_STATIC);
	r = sqlite3_step(st) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(st);
	return r;
}

static int64_t count1(sqlite3 *db, const char *sql, int64_t id)
{
	sqlite3_stmt *st;
	int64_t n = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* Deletes one recording in its own transaction. 1 deleted, 0 held, -errno. */
static int delete_one(sqlite3 *db, const struct cand *c, const char *kind, const char *actor,
		      const char *base_dir, bool scrub)
{
	char full[4200], md[4200], object[128];
	uint64_t now = compliance_now_ms();
	struct trail_entry e = {.at = now,
				.kind = kind,
				.actor = actor,
				.object = object,
				.reason = c->reason,
				.sha256 = c->sha};
	int r = 0;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return -EIO;
	if (is_held(db, c->rec)) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return 0;
	}
	full_path(base_dir, c->path, full, sizeof(full));
	if (unlink(full) < 0 && errno != ENOENT)
		r = -errno;
	snprintf(object, sizeof(object), "recording:%s", c->rec);
	if (r == 0)
		r = exec1(db,
			  "UPDATE recordings SET deleted_at = ?2, deleted_reason = ?3 WHERE uuid = "
			  "?1",
			  c->rec, (int64_t)now, c->reason);
	if (r == 0)
		r = trail_append(db, &e, NULL);
	/* The session's last recording: its .metadata goes too, and the session is marked. */
	if (r == 0 && count1(db,
			     "SELECT count(*) FROM recordings WHERE session_id = ?1 AND deleted_at "
			     "IS NULL",
			     c->session_id) == 0) {
		char *slash;

		snprintf(md, sizeof(md), "%s", full);
		slash = strrchr(md, '/');
		if (slash && c->ses) {
			snprintf(slash + 1, sizeof(md) - (size_t)(slash + 1 - md), "%s.metadata",
				 c->ses);
			if (unlink(md) < 0 && errno != ENOENT)
				r = -errno;
		}
		if (r == 0)
			r = exec1(db,
				  "UPDATE sessions SET deleted_at = ?2, deleted_reason = ?3 WHERE "
				  "uuid = ?1",
				  c->ses, (int64_t)now, c->reason);
		if (r == 0 && scrub) {
			char ids[32];

			snprintf(ids, sizeof(ids), "%" PRId64, c->session_id);
			if (exec1(db,
				  "UPDATE participants SET name = NULL, aor = NULL, aor_index = "
				  "NULL "
				  "WHERE "
				  "session_id = CAST(?1 AS INTEGER)",
				  ids, 0, NULL) < 0 ||
			    exec1(db,
				  "DELETE FROM metadata_snapshots WHERE session_id = CAST(?1 AS "
				  "INTEGER)",
				  ids, 0, NULL) < 0 ||
			    exec1(db,
				  "DELETE FROM session_context WHERE session_id = CAST(?1 AS "
				  "INTEGER)",
				  ids, 0, NULL) < 0)
				r = -EIO;
		}
	}
	if (r == 0 && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		r = -EIO;
	if (r < 0) {
		if (!sqlite3_get_autocommit(db))
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return r;
	}
	{
		char f_rec[96], f_ses[96], *f_path = NULL, f_sha[80], f_actor[300],
					   *f_reason = NULL;

		snprintf(f_rec, sizeof(f_rec), "SIPREC_RECORDING_ID=%s", c->rec);
		snprintf(f_ses, sizeof(f_ses), "SIPREC_SESSION_ID=%s", c->ses ? c->ses : "");
		snprintf(f_sha, sizeof(f_sha), "SHA256=%s", c->sha ? c->sha : "");
		snprintf(f_actor, sizeof(f_actor), "ACTOR=%s", actor);
		if (asprintf(&f_path, "RECORDING_PATH=%s", full) >= 0 &&
		    asprintf(&f_reason, "REASON=%s", c->reason ? c->reason : "") >= 0) {
			const char *fields[] = {f_rec,	 f_ses,	   f_path, f_sha,
						f_actor, f_reason, NULL};

			audit_emit(AUDIT_RECORDING_DELETED, fields,
				   "Recording %s deleted by %s: %s", c->rec, actor,
				   c->reason ? c->reason : kind);
		}
		free(f_path);
		free(f_reason);
	}
	return 1;
}

static void report(compliance_item_fn fn, void *userdata, const struct cand *c, bool held,
		   bool done)
{
	struct compliance_item it = {
		.recording_uuid = c->rec,
		.session_uuid = c->ses,
		.path = c->path,
		.sha256 = c->sha,
		.reason = c->reason,
		.held = held,
		.done = done,
	};

	if (fn)
		fn(userdata, &it);
}

/* Deletes (or, dry, lists) every candidate, holds respected. */
static int process(sqlite3 *db, struct cands *cs, bool dry_run, const char *kind, const char *actor,
		   const char *base_dir, bool scrub, compliance_item_fn fn, void *userdata,
		   struct compliance_result *res)
{
	for (size_t i = 0; i < cs->n; i++) {
		const struct cand *c = &cs->v[i];
		int r;

		res->matched++;
		if (dry_run) {
			bool held = is_held(db, c->rec);

			res->held += held;
			report(fn, userdata, c, held, false);
			continue;
		}
		r = delete_one(db, c, kind, actor, base_dir, scrub);
		if (r == 0)
			res->held++;
		else if (r > 0)
			res->deleted++;
		else
			res->failed++;
		report(fn, userdata, c, r == 0, r > 0);
	}
	return 0;
}

/*
 * A policy by an exact AoR or domain also matches sealed participants through its blind
 * indexes under every data key version held; a glob cannot be indexed. Best effort: without
 * keys (or memory) it matches clear AoRs only, as before.
 */
static void policy_index(struct retention_policy *p, struct keys *keys)
{
	const char **idx;
	size_t n;

	if (!keys || !p->match || !p->pattern || strpbrk(p->pattern, "*?[\\") ||
	    (strcmp(p->match, "aor") != 0 && strcmp(p->match, "domain") != 0))
		return;
	if (keys_aor_indexes(keys, p->pattern, &idx, &n) < 0)
		return;
	p->indexes = idx; /* freed by policies_free */
	p->n_indexes = n;
}

static int load_policies(sqlite3 *db, struct retention_policy **ret, size_t *ret_n)
{
	struct retention_policy *v = NULL;
	size_t n = 0;
	sqlite3_stmt *st;
	int s;

	if (sqlite3_prepare_v2(db,
			       "SELECT name, match, pattern, context_name, keep_seconds FROM "
			       "retention_policies ORDER BY id",
			       -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		struct retention_policy *nv = realloc(v, (n + 1) * sizeof(*v));

		if (!nv)
			break;
		v = nv;
		v[n] = (struct retention_policy){
			.name = dup_col(st, 0),
			.match = dup_col(st, 1),
			.pattern = dup_col(st, 2),
			.context_name = dup_col(st, 3),
			.keep_seconds = sqlite3_column_type(st, 4) == SQLITE_NULL
						? COMPLIANCE_FOREVER
						: sqlite3_column_int64(st, 4),
		};
		n++;
	}
	sqlite3_finalize(st);
	*ret = v;
	*ret_n = n;
	return s == SQLITE_DONE ? 0 : -EIO;
}

static void policies_free(struct retention_policy *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((char *)v[i].name);
		free((char *)v[i].match);
		free((char *)v[i].pattern);
		free((char *)v[i].context_name);
		free((void *)v[i].indexes);
	}
	free(v);
}

/* The subject of a session: its participants' AoRs (or their blind indexes), SRC and context,
 * as C arrays. */
struct subject {
	char **aors, **names, **values, **aor_idx, **dom_idx;
	size_t n_aors, n_ctx, n_idx;
};

static void subject_free(struct subject *s)
{
	for (size_t i = 0; i < s->n_idx; i++) {
		free(s->aor_idx[i]);
		free(s->dom_idx[i]);
	}
	free(s->aor_idx);
	free(s->dom_idx);
	for (size_t i = 0; i < s->n_aors; i++)
		free(s->aors[i]);
	for (size_t i = 0; i < s->n_ctx; i++) {
		free(s->names[i]);
		free(s->values[i]);
	}
	free(s->aors);
	free(s->names);
	free(s->values);
	*s = (struct subject){0};
}

static void subject_load(sqlite3 *db, int64_t session_id, struct subject *s)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db,
			       "SELECT aor FROM participants WHERE session_id = ?1 AND aor IS "
			       "NOT NULL LIMIT 256",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, session_id);
		while (sqlite3_step(st) == SQLITE_ROW) {
			char **v = realloc(s->aors, (s->n_aors + 1) * sizeof(char *));

			if (!v)
				break;
			s->aors = v;
			s->aors[s->n_aors++] = dup_col(st, 0);
		}
		sqlite3_finalize(st);
	}
	if (sqlite3_prepare_v2(
		    db,
		    "SELECT aor_index, domain_index FROM participants WHERE session_id = "
		    "?1 AND aor_index IS NOT NULL LIMIT 256",
		    -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, session_id);
		while (sqlite3_step(st) == SQLITE_ROW) {
			char **a = realloc(s->aor_idx, (s->n_idx + 1) * sizeof(char *));
			char **b;

			if (!a)
				break;
			s->aor_idx = a;
			b = realloc(s->dom_idx, (s->n_idx + 1) * sizeof(char *));
			if (!b)
				break;
			s->dom_idx = b;
			s->aor_idx[s->n_idx] = dup_col(st, 0);
			s->dom_idx[s->n_idx++] = dup_col(st, 1);
		}
		sqlite3_finalize(st);
	}
	if (sqlite3_prepare_v2(db,
			       "SELECT name, value FROM session_context WHERE session_id = ?1 "
			       "LIMIT 256",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, session_id);
		while (sqlite3_step(st) == SQLITE_ROW) {
			char **a = realloc(s->names, (s->n_ctx + 1) * sizeof(char *));
			char **b;

			if (!a)
				break;
			s->names = a;
			b = realloc(s->values, (s->n_ctx + 1) * sizeof(char *));
			if (!b)
				break;
			s->values = b;
			s->names[s->n_ctx] = dup_col(st, 0);
			s->values[s->n_ctx++] = dup_col(st, 1);
		}
		sqlite3_finalize(st);
	}
}

int compliance_retention_run(sqlite3 *db, int64_t default_keep, uint64_t now_ms, bool dry_run,
			     const char *actor, const char *base_dir, compliance_item_fn fn,
			     void *userdata, struct compliance_result *ret)
{
	return compliance_retention_run_keyed(db, NULL, default_keep, now_ms, dry_run, actor,
					      base_dir, fn, userdata, ret);
}

int compliance_retention_run_keyed(sqlite3 *db, struct keys *keys, int64_t default_keep,
				   uint64_t now_ms, bool dry_run, const char *actor,
				   const char *base_dir, compliance_item_fn fn, void *userdata,
				   struct compliance_result *ret)
{
	struct compliance_result res = {0};
	struct retention_policy *pol = NULL;
	struct cands cs = {0};
	size_t npol = 0;
	sqlite3_stmt *st;
	int r, s;

	if (!now_ms)
		now_ms = compliance_now_ms();
	r = load_policies(db, &pol, &npol);
	if (r < 0)
		return r;
	for (size_t i = 0; i < npol; i++)
		policy_index(&pol[i], keys);
	if (sqlite3_prepare_v2(db,
			       "SELECT r.uuid, s.uuid, r.path, r.sha256, coalesce(r.finalized_at, "
			       "r.created_at), s.src_addr, s.id FROM recordings AS r JOIN sessions "
			       "AS s ON s.id = r.session_id WHERE r.deleted_at IS NULL AND r.state "
			       "IN ('final', 'interrupted', 'shredded') ORDER BY r.id",
			       -1, &st, NULL) != SQLITE_OK) {
		policies_free(pol, npol);
		return -EIO;
	}
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		struct subject sub = {0};
		struct retention_subject rs;
		uint64_t t = (uint64_t)sqlite3_column_int64(st, 4);
		const char *src = (const char *)sqlite3_column_text(st, 5);
		int64_t keep;
		int which;
		struct cand *c;

		subject_load(db, sqlite3_column_int64(st, 6), &sub);
		rs = (struct retention_subject){
			.aors = (const char *const *)sub.aors,
			.n_aors = sub.n_aors,
			.src = src,
			.context_names = (const char *const *)sub.names,
			.context_values = (const char *const *)sub.values,
			.n_context = sub.n_ctx,
			.aor_indexes = (const char *const *)sub.aor_idx,
			.domain_indexes = (const char *const *)sub.dom_idx,
			.n_aor_indexes = sub.n_idx,
			.n_domain_indexes = sub.n_idx,
		};
		keep = retention_keep(pol, npol, &rs, default_keep, &which);
		subject_free(&sub);
		if (keep == COMPLIANCE_FOREVER || t + (uint64_t)keep * 1000u > now_ms)
			continue;
		c = cands_add(&cs);
		if (!c) {
			r = -ENOMEM;
			break;
		}
		c->rec = dup_col(st, 0);
		c->ses = dup_col(st, 1);
		c->path = dup_col(st, 2);
		c->sha = dup_col(st, 3);
		c->session_id = sqlite3_column_int64(st, 6);
		if (asprintf(&c->reason, "retention:%s", which >= 0 ? pol[which].name : "default") <
		    0)
			c->reason = NULL;
		if (!c->rec || !c->path) {
			r = -ENOMEM;
			break;
		}
	}
	sqlite3_finalize(st);
	policies_free(pol, npol);
	if (r == 0 && s != SQLITE_DONE && s != SQLITE_ROW)
		r = -EIO;
	if (r == 0)
		r = process(db, &cs, dry_run, "deleted", actor, base_dir, false, fn, userdata,
			    &res);
	cands_free(&cs);
	if (r == 0 && !dry_run) {
		char why[160];

		snprintf(why, sizeof(why), "%u deleted, %u held, %u failed", res.deleted, res.held,
			 res.failed);
		trail_append_txn(db,
				 &(struct trail_entry){.kind = "retention-run",
						       .actor = actor,
						       .object = "retention",
						       .reason = why},
				 NULL);
	}
	if (ret)
		*ret = res;
	return r;
}

static void subject_hash(const char *aor, char out[TRAIL_HASH_HEX + 1])
{
	uint8_t h[32];
	unsigned hl = 0;
	char low[1024];
	size_t n = strnlen(aor, sizeof(low) - 1);

	for (size_t i = 0; i < n; i++)
		low[i] = (char)((aor[i] >= 'A' && aor[i] <= 'Z') ? aor[i] + 32 : aor[i]);
	low[n] = '\0';
	EVP_Digest(low, n, h, &hl, EVP_sha256(), NULL);
	hex_encode(h, 32, out);
}

/* The indexes as a JSON array of strings (for json_each): NULL when there is none. */
static char *indexes_json(const char *const *idx, size_t n)
{
	size_t len = 3;
	char *j, *p;

	if (!n)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		/* hex and "v<digits>:" only: nothing to escape */
		if (strspn(idx[i], "v0123456789abcdef:") != strlen(idx[i]))
			return NULL;
		len += strlen(idx[i]) + 3;
	}
	j = malloc(len);
	if (!j)
		return NULL;
	p = j;
	*p++ = '[';
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s\"%s\"", i ? "," : "", idx[i]);
	*p++ = ']';
	*p = '\0';
	return j;
}

int compliance_erase(sqlite3 *db, const char *aor, bool dry_run, const char *actor,
		     const char *base_dir, compliance_item_fn fn, void *userdata,
		     struct compliance_result *ret)
{
	return compliance_erase_indexed(db, aor, NULL, 0, dry_run, actor, base_dir, fn, userdata,
					ret);
}

int compliance_erase_indexed(sqlite3 *db, const char *aor, const char *const *aor_indexes,
			     size_t n_aor_indexes, bool dry_run, const char *actor,
			     const char *base_dir, compliance_item_fn fn, void *userdata,
			     struct compliance_result *ret)
{
	char *ij = NULL;
	struct compliance_result res = {0};
	char subj[TRAIL_HASH_HEX + 1], reason[128], object[96];
	struct cands cs = {0};
	sqlite3_stmt *st;
	int r = 0, s;

	if (!aor || !*aor || strlen(aor) > 1000)
		return -EINVAL;
	ij = indexes_json(aor_indexes, n_aor_indexes);
	if (n_aor_indexes && !ij)
		return -EINVAL;
	subject_hash(aor, subj);
	snprintf(reason, sizeof(reason), "erasure of subject sha256:%s", subj);
	if (sqlite3_prepare_v2(
		    db,
		    "SELECT r.uuid, s.uuid, r.path, r.sha256, s.id FROM recordings AS r "
		    "JOIN sessions AS s ON s.id = r.session_id WHERE r.deleted_at IS NULL "
		    "AND r.state <> 'writing' AND EXISTS (SELECT 1 FROM participants AS p "
		    "WHERE p.session_id = s.id AND (lower(p.aor) = lower(?1) OR p.aor_index IN "
		    "(SELECT value FROM json_each(?2)))) ORDER BY r.id",
		    -1, &st, NULL) != SQLITE_OK) {
		free(ij);
		return -EIO;
	}
	sqlite3_bind_text(st, 1, aor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ij ? ij : "[]", -1, SQLITE_STATIC);
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		struct cand *c = cands_add(&cs);

		if (!c) {
			r = -ENOMEM;
			break;
		}
		c->rec = dup_col(st, 0);
		c->ses = dup_col(st, 1);
		c->path = dup_col(st, 2);
		c->sha = dup_col(st, 3);
		c->session_id = sqlite3_column_int64(st, 4);
		c->reason = strdup(reason);
		if (!c->rec || !c->path || !c->reason) {
			r = -ENOMEM;
			break;
		}
	}
	sqlite3_finalize(st);
	free(ij);
	if (r == 0 && s != SQLITE_DONE && s != SQLITE_ROW)
		r = -EIO;
	if (r == 0)
		r = process(db, &cs, dry_run, "erased", actor, base_dir, true, fn, userdata, &res);
	cands_free(&cs);
	if (r == 0 && !dry_run) {
		char why[160];

		snprintf(object, sizeof(object), "subject:%s", subj);
		snprintf(why, sizeof(why), "erasure request: %u erased, %u held, %u failed",
			 res.deleted, res.held, res.failed);
		trail_append_txn(db,
				 &(struct trail_entry){.kind = "erasure-request",
						       .actor = actor,
						       .object = object,
						       .reason = why},
				 NULL);
	}
	if (ret)
		*ret = res;
	return r;
}

static void hold_audit(enum audit_event ev, int64_t id, const char *case_ref, const char *actor,
		       const char *what)
{
	char f_id[40], *f_case = NULL, *f_actor = NULL, *f_reason = NULL;

	snprintf(f_id, sizeof(f_id), "HOLD_ID=%" PRId64, id);
	if (asprintf(&f_case, "CASE_REF=%s", case_ref ? case_ref : "") >= 0 &&
	    asprintf(&f_actor, "ACTOR=%s", actor) >= 0 &&
	    asprintf(&f_reason, "REASON=%s", what ? what : "") >= 0) {
		const char *fields[] = {f_id, f_case, f_actor, f_reason, NULL};

		audit_emit(ev, fields, "Legal hold %" PRId64 " (case %s) %s by %s: %s", id,
			   case_ref ? case_ref : "",
			   ev == AUDIT_LEGAL_HOLD_PLACED ? "placed" : "released", actor,
			   what ? what : "");
	}
	free(f_case);
	free(f_actor);
	free(f_reason);
}

int compliance_hold_add(sqlite3 *db, const struct compliance_hold *h, int64_t *ret_id)
{
	char object[64], what[1200];
	sqlite3_stmt *st;
	int64_t id = 0;
	int r = -EIO;

	if (!h->kind || !h->case_ref || !*h->case_ref || !h->actor || strlen(h->case_ref) > 256)
		return -EINVAL;
	if (strcmp(h->kind, "session") == 0) {
		if (!h->session_uuid || !*h->session_uuid || strlen(h->session_uuid) > 128)
			return -EINVAL;
		snprintf(what, sizeof(what), "session %s", h->session_uuid);
	} else if (strcmp(h->kind, "aor") == 0) {
		if (!h->aor || !*h->aor || strlen(h->aor) > 1000 || h->n_aor_indexes > KEYS_DEK_MAX)
			return -EINVAL;
		snprintf(what, sizeof(what), "AoR %s", h->aor);
	} else if (strcmp(h->kind, "range") == 0) {
		if (h->from_ms > h->to_ms || h->to_ms > INT64_MAX)
			return -EINVAL;
		snprintf(what, sizeof(what), "sessions started %" PRIu64 "..%" PRIu64 " ms",
			 h->from_ms, h->to_ms);
	} else
		return -EINVAL;
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return -EIO;
	if (sqlite3_prepare_v2(
		    db,
		    "INSERT INTO legal_holds (kind, session_uuid, aor, from_at, to_at, "
		    "case_ref, placed_by, placed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
		    "?8)",
		    -1, &st, NULL) == SQLITE_OK) {
		bool range = strcmp(h->kind, "range") == 0;

		sqlite3_bind_text(st, 1, h->kind, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, strcmp(h->kind, "session") == 0 ? h->session_uuid : NULL,
				  -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, strcmp(h->kind, "aor") == 0 ? h->aor : NULL, -1,
				  SQLITE_STATIC);
		if (range) {
			sqlite3_bind_int64(st, 4, (int64_t)h->from_ms);
			sqlite3_bind_int64(st, 5, (int64_t)h->to_ms);
		}
		sqlite3_bind_text(st, 6, h->case_ref, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 7, h->actor, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 8, (int64_t)compliance_now_ms());
		if (sqlite3_step(st) == SQLITE_DONE) {
			id = sqlite3_last_insert_rowid(db);
			r = 0;
		}
		sqlite3_finalize(st);
	}
	/* Participants known by their blind index only (sealed metadata) are held through it. */
	for (size_t i = 0; r == 0 && strcmp(h->kind, "aor") == 0 && i < h->n_aor_indexes; i++) {
		r = -EIO;
		if (sqlite3_prepare_v2(db,
				       "INSERT OR IGNORE INTO legal_hold_aor_index (hold_id, "
				       "aor_index) VALUES (?1, ?2)",
				       -1, &st, NULL) == SQLITE_OK) {
			sqlite3_bind_int64(st, 1, id);
			sqlite3_bind_text(st, 2, h->aor_indexes[i], -1, SQLITE_STATIC);
			if (sqlite3_step(st) == SQLITE_DONE)
				r = 0;
			sqlite3_finalize(st);
		}
	}
	if (r == 0) {
		char reason[1500];

		snprintf(object, sizeof(object), "hold:%" PRId64, id);
		snprintf(reason, sizeof(reason), "case %s: %s", h->case_ref, what);
		r = trail_append(db,
				 &(struct trail_entry){.kind = "held",
						       .actor = h->actor,
						       .object = object,
						       .reason = reason},
				 NULL);
	}
	if (r == 0 && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		r = -EIO;
	if (r < 0) {
		if (!sqlite3_get_autocommit(db))
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return r;
	}
	hold_audit(AUDIT_LEGAL_HOLD_PLACED, id, h->case_ref, h->actor, what);
	if (ret_id)
		*ret_id = id;
	return 0;
}

int compliance_hold_release(sqlite3 *db, int64_t id, const char *actor, const char *reason)
{
	char object[64], *case_ref = NULL;
	sqlite3_stmt *st;
	int r = -EIO;

	if (!actor || (reason && strlen(reason) > 1000))
		return -EINVAL;
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return -EIO;
	if (sqlite3_prepare_v2(db, "SELECT case_ref, released_at FROM legal_holds WHERE id = ?1",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, id);
		if (sqlite3_step(st) != SQLITE_ROW)
			r = -ENOENT;
		else if (sqlite3_column_type(st, 1) != SQLITE_NULL)
			r = -EALREADY;
		else {
			case_ref = dup_col(st, 0);
			r = 0;
		}
		sqlite3_finalize(st);
	}
	if (r == 0 && sqlite3_prepare_v2(db,
					 "UPDATE legal_holds SET released_at = ?2, released_by = "
					 "?3, release_reason = ?4 WHERE id = ?1",
					 -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, (int64_t)compliance_now_ms());
		sqlite3_bind_text(st, 3, actor, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, reason, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			r = -EIO;
		sqlite3_finalize(st);
	}
	if (r == 0) {
		char why[1400];

		snprintf(object, sizeof(object), "hold:%" PRId64, id);
		snprintf(why, sizeof(why), "case %s: %s", case_ref ? case_ref : "",
			 reason ? reason : "released");
		r = trail_append(db,
				 &(struct trail_entry){.kind = "released",
						       .actor = actor,
						       .object = object,
						       .reason = why},
				 NULL);
	}
	if (r == 0 && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		r = -EIO;
	if (r < 0) {
		if (!sqlite3_get_autocommit(db))
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		free(case_ref);
		return r;
	}
	hold_audit(AUDIT_LEGAL_HOLD_RELEASED, id, case_ref, actor, reason);
	free(case_ref);
	return 0;
}
