/* SPDX-License-Identifier: MIT */
/*
 * Compliance (docs/COMPLIANCE.md): the trail (an append-only, hash-chained log in the catalog,
 * its head signed with the recorder's Ed25519 key, and its verifier), legal holds, retention
 * policies with their sweeper, and erasure of one data subject. Everything here works on a
 * sqlite3 connection to the catalog, so the daemon's threads and the tools share it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#include "siprecd/macro.h"

struct keys;

/* ---- the event hook (webhooks and other observers) ---- */

/*
 * Called for every trail entry appended in this process, after it is written (inside the
 * writer's transaction: an observer must not block). kind is the trail kind ("created",
 * "finalized", "deleted", "held", "released", ...), json one object {"seq", "at", "kind",
 * "actor", "object", "reason", "sha256", "hash"}; both borrowed for the call. Thread-safe.
 */
typedef void (*compliance_event_fn)(void *userdata, const char *kind, const char *json);
void compliance_set_event_hook(compliance_event_fn fn, void *userdata);
/* Hands one event to the hook, if any (the trail calls it; others may too). */
void compliance_event(const char *kind, const char *json);

/* ---- the trail ---- */

#define TRAIL_HASH_HEX 64
#define TRAIL_FIELD_MAX 4096 /* actor, object, reason: longer is -E2BIG */

struct trail_entry {
	uint64_t at;	    /* unix ms; 0 = now */
	const char *kind;   /* required */
	const char *actor;  /* required: "siprecd", "uid:1000", a certificate name, a tool */
	const char *object; /* required: "recording:<uuid>", "hold:<id>", ... */
	const char *reason; /* may be NULL */
	const char *sha256; /* lowercase hex of the file concerned, or NULL */
};

/* The hash of entry seq given the previous entry's hash (hex); out gets 64 hex digits + NUL. */
void trail_entry_hash(uint64_t seq, const struct trail_entry *e, const char *prev,
		      char out[TRAIL_HASH_HEX + 1]);

/*
 * Appends one entry. Must run inside a write transaction of db (BEGIN IMMEDIATE), so the chain
 * cannot fork between two writers. Mirrors it to journald (audit event trail-appended) and the
 * event hook. Returns 0 (and *ret_seq if not NULL), -EINVAL, -E2BIG, -EIO.
 */
int trail_append(sqlite3 *db, const struct trail_entry *e, uint64_t *ret_seq);
/*
 * The statements trail_append_cached keeps prepared between calls on one connection (a writer
 * that appends often: the catalog thread). Zero-initialised; trail_stmts_clear finalizes them
 * and must run before the connection is closed.
 */
struct trail_stmts {
	sqlite3 *db;
	sqlite3_stmt *head, *insert;
	struct evp_md_ctx_st *md; /* OpenSSL's EVP_MD_CTX, reused for each entry's hash */
};
/* trail_append with the statements kept in ts (prepared again if db is another connection). */
int trail_append_cached(struct trail_stmts *ts, sqlite3 *db, const struct trail_entry *e,
			uint64_t *ret_seq);
void trail_stmts_clear(struct trail_stmts *ts);
/* trail_append in its own BEGIN IMMEDIATE transaction (tools). */
int trail_append_txn(sqlite3 *db, const struct trail_entry *e, uint64_t *ret_seq);

/* The recorder's Ed25519 trail key: loaded from path (PEM, PKCS#8), or created there with mode
 * 0600 when missing, the public key written beside it as path + ".pub" (PEM, 0644). A key
 * file readable by group or others is refused. Returns an EVP_PKEY * (void * here) or NULL with
 * a reason in err. */
void *trail_key_load(const char *path, bool create, char *err, size_t errlen);
/* Loads a public key (PEM; a private key file works too). NULL with a reason in err. */
void *trail_pubkey_load(const char *path, char *err, size_t errlen);
void trail_key_free(void *key);
/* SHA-256 of the raw public key, hex: trail_heads.key_id. */
int trail_key_id(void *key, char out[TRAIL_HASH_HEX + 1]);

/* Signs the current head if it is not signed yet (inside a write transaction or not: it opens
 * one when db is in autocommit). Returns 1 when a head was signed, 0 when there was nothing new,
 * -errno. */
int trail_sign_head(sqlite3 *db, void *key, const char *reason);

/* The verifier. Each problem found is reported through fn (one line naming the entry, row or
 * file), counted in problems. */
struct trail_verify {
	uint64_t entries, heads, files, problems;
	uint64_t unsigned_entries; /* after the last signed head */
	uint64_t last_seq, last_signed_seq;
};
typedef void (*trail_report_fn)(void *userdata, const char *problem);
/*
 * Checks the chain (each entry's hash and prev, no gaps), every signed head (signature with pub,
 * and that the entry it names is still there with that hash; pub NULL: signatures not checked,
 * reported as one problem), and for every recording the trail says exists (finalized, not
 * deleted/erased/shredded since) that its catalog row is there and not marked deleted, and that
 * its file exists with the sha256 the trail recorded. Relative recording paths are taken
 * relative to base_dir (the catalog's directory). Returns 0 when every check passed, 1 when
 * problems were found, -errno when the check could not run.
 */
int trail_verify(sqlite3 *db, void *pub, const char *base_dir, trail_report_fn fn, void *userdata,
		 struct trail_verify *ret);

/* sha256 of a file, lowercase hex. 0 or -errno. */
int compliance_file_sha256(const char *path, char out[TRAIL_HASH_HEX + 1]);
/* Unix milliseconds, now (CLOCK_REALTIME). */
uint64_t compliance_now_ms(void);

/* ---- retention ---- */

#define COMPLIANCE_FOREVER (-1)

/* "forever" (COMPLIANCE_FOREVER), or a number with an optional unit: s (default), m, h, d, w,
 * y (365 d). 0, or -EINVAL for anything else (negative, overflow, unknown unit). */
int compliance_parse_keep(const char *s, int64_t *ret_seconds);

struct retention_policy {
	const char *name;
	const char *match;	  /* "all", "aor", "domain", "src", "context" */
	const char *pattern;	  /* GLOB (fnmatch); AoR and domain compare case-insensitively */
	const char *context_name; /* match "context" */
	int64_t keep_seconds;	  /* COMPLIANCE_FOREVER or >= 0 */
	/* match "aor" or "domain" with a pattern without glob characters: its blind indexes
	 * under every data key version (keys_aor_indexes), compared with the subject's */
	const char *const *indexes;
	size_t n_indexes;
};

struct retention_subject {
	const char *const *aors; /* participants' AoRs (sip:alice@example.com) */
	size_t n_aors;
	const char *src;					  /* SRC address:port */
	const char *const *context_names, *const *context_values; /* session_context pairs */
	size_t n_context;
	/* participants known by blind indexes only (sealed metadata): of AoRs, of domains */
	const char *const *aor_indexes, *const *domain_indexes;
	size_t n_aor_indexes, n_domain_indexes;
};

/* Whether policy p applies to the recording described by s. */
bool retention_policy_applies(const struct retention_policy *p, const struct retention_subject *s);
/*
 * How long the recording is kept: the longest of the applicable policies (COMPLIANCE_FOREVER
 * beats any duration), or default_keep when none applies. *ret_policy gets the index of the
 * deciding policy, or -1 for the default.
 */
int64_t retention_keep(const struct retention_policy *p, size_t n,
		       const struct retention_subject *s, int64_t default_keep, int *ret_policy);
/* The host part of an AoR ("sip:alice@Example.com:5060;transport=tls" -> "example.com"), in
 * buf; NULL when there is none. */
const char *compliance_aor_domain(const char *aor, char *buf, size_t n);

/* ---- holds, retention runs and erasure (catalog operations; one transaction each) ---- */

struct compliance_item {
	const char *recording_uuid, *session_uuid, *path, *sha256;
	const char *reason; /* why it goes ("retention:<policy>", "erasure"), or why it stays */
	bool held;	    /* under a legal hold: kept */
	bool done;	    /* deleted (not a dry run, and it worked) */
};
typedef void (*compliance_item_fn)(void *userdata, const struct compliance_item *it);

struct compliance_result {
	unsigned matched, deleted, held, failed;
};

/*
 * The retention run: every recording not deleted, final or interrupted, older than what the
 * policies (table retention_policies) and default_keep give it. Held ones are reported and
 * kept. Unless dry_run, each is deleted: file and the session's .metadata (when the session has
 * no recording left), catalog row marked (deleted_at, deleted_reason), a 'deleted' trail entry,
 * and a recording-deleted audit event. base_dir resolves relative paths. now_ms 0 = now.
 */
int compliance_retention_run(sqlite3 *db, int64_t default_keep, uint64_t now_ms, bool dry_run,
			     const char *actor, const char *base_dir, compliance_item_fn fn,
			     void *userdata, struct compliance_result *ret);
/*
 * The same; with keys (borrowed, NULL = none), policies by an exact AoR or domain (no glob
 * character) also apply to participants whose metadata is sealed, through their blind indexes.
 */
int compliance_retention_run_keyed(sqlite3 *db, struct keys *keys, int64_t default_keep,
				   uint64_t now_ms, bool dry_run, const char *actor,
				   const char *base_dir, compliance_item_fn fn, void *userdata,
				   struct compliance_result *ret);
/*
 * Erasure of one data subject: every recording of a session where aor (case-insensitive) is a
 * participant, deleted as above with trail kind 'erased' (held ones kept and reported). The
 * trail names the subject only by the SHA-256 of its lowercased AoR. Sessions left with no
 * recording lose their participants' names and AoRs, their metadata snapshots and context.
 */
int compliance_erase(sqlite3 *db, const char *aor, bool dry_run, const char *actor,
		     const char *base_dir, compliance_item_fn fn, void *userdata,
		     struct compliance_result *ret);
/*
 * The same, also finding participants whose AoR the catalog keeps only as a blind index
 * (ENABLE_METADATA_ENCRYPTION): aor_indexes are the AoR's indexes under every data key version
 * the caller holds (keys_aor_indexes), n_aor_indexes of them (0 = compliance_erase).
 */
int compliance_erase_indexed(sqlite3 *db, const char *aor, const char *const *aor_indexes,
			     size_t n_aor_indexes, bool dry_run, const char *actor,
			     const char *base_dir, compliance_item_fn fn, void *userdata,
			     struct compliance_result *ret);

struct compliance_hold {
	const char *kind; /* "session", "aor", "range" */
	const char *session_uuid, *aor;
	uint64_t from_ms, to_ms;
	const char *case_ref; /* required */
	const char *actor;    /* required */
	/* kind "aor": the AoR's blind indexes (keys_aor_indexes), so that the hold also covers
	 * participants whose metadata is sealed; NULL/0 = none */
	const char *const *aor_indexes;
	size_t n_aor_indexes;
};
/* Places a hold; 0 and *ret_id, -EINVAL (bad or missing field), -EIO. Trail 'held', audit. */
int compliance_hold_add(sqlite3 *db, const struct compliance_hold *h, int64_t *ret_id);
/* Releases hold id: -ENOENT unknown, -EALREADY released already. Trail 'released', audit. */
int compliance_hold_release(sqlite3 *db, int64_t id, const char *actor, const char *reason);

/* ---- the daemon's compliance thread (live.c) ---- */

struct compliance;
struct compliance_config {
	const char *catalog_path;      /* required: the catalog, already migrated */
	const char *signing_key;       /* TRAIL_SIGNING_KEY: created 0600 when missing */
	const char *retention_default; /* RETENTION_DEFAULT */
	uint64_t retention_interval_ms, sign_interval_ms;
	/* borrowed, NULL = none: erasure and holds by AoR also find participants known by their
	 * blind index only (sealed metadata) */
	struct keys *keys;
};
/*
 * Loads (or creates) the trail key and opens a connection of its own to the catalog; the
 * thread starts with compliance_start. -errno with a reason in err (an unreadable key, a bad
 * RETENTION_DEFAULT).
 */
int compliance_new(const struct compliance_config *cfg, char *err, size_t errlen,
		   struct compliance **ret);
/* The thread: signs the trail head every sign interval when it moved, runs the retention
 * sweeper every retention interval (never on a ring: it unlinks files and writes sqlite). */
int compliance_start(struct compliance *c);
/* Asks the thread to sign the head now (after a data key rotation: any thread, never blocks). */
void compliance_sign_request(struct compliance *c, const char *reason);
/* Asks for a retention run now (any thread). */
void compliance_retention_request(struct compliance *c);
/* Stops the thread after a last signature of the head ("shutdown"), closes, frees. NULL ok. */
struct compliance *compliance_free(struct compliance *c);

/*
 * Work for the compliance thread on behalf of a caller (the varlink methods RunRetention, Erase,
 * PlaceHold, ListHolds, ReleaseHold, VerifyTrail): method is that name, params the call's
 * parameters (a json_object, reference taken), actor who asks ("uid:1000"). done runs on the
 * compliance thread with error NULL and the reply parameters (ownership passed), or an error
 * name (io.siprecd.NoSuchHold, InvalidParameter, ComplianceFailed) and its parameters; it is
 * called with error "io.siprecd.ComplianceFailed" for jobs still queued at compliance_free.
 * Returns 0 when queued, -ENOMEM, -EAGAIN (too many queued).
 */
struct json_object;
typedef void (*compliance_done_fn)(void *userdata, const char *error, struct json_object *params);
int compliance_call_async(struct compliance *c, const char *method, struct json_object *params,
			  const char *actor, compliance_done_fn done, void *userdata);
