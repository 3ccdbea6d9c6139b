// SPDX-License-Identifier: MIT
/*
 * The catalog: a queue of write operations fed by any thread, and one catalog thread that owns
 * the sqlite connection and applies everything queued in one transaction per batch (WAL,
 * synchronous=NORMAL: a commit costs no fsync; the WAL is synced at checkpoints, which a
 * checkpointer thread runs beside the commits, and by a syncer thread for the barriers). Callers
 * never wait on sqlite; errors are counted for the health report, never returned to the enqueuer.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include "catalog/catalog-internal.h"
#include "siprecd/catalog.h"
#include "siprecd/compliance.h"
#include "siprecd/lathist.h"
#include "siprecd/log.h"
#include "siprecd/macro.h"

/* An operator's write transaction at the sqlite3 shell holds the lock; wait this long per try. */
#define BUSY_TIMEOUT_MS 5000
#define BUSY_TRIES 6
#define OP_MAX_VALS 20
#define OP_MAX_STMTS 2

enum op_kind {
	OP_SESSION_BEGIN,
	OP_SESSION_END,
	OP_PARTICIPANT,
	OP_STREAM,
	OP_STREAM_STATS,
	OP_RECORDING_BEGIN,
	OP_RECORDING_FINAL,
	OP_METADATA,
	OP_KEY,
	OP_DTMF,
	OP_STREAM_FORMAT,
	OP_CONTEXT,
	OP_MD_WARNING,
	OP_BARRIER, /* no SQL: catalog_barrier's callback, run once the batch is durable */
	_OP_KIND_MAX,
};

enum val_type { VAL_NULL, VAL_INT, VAL_TEXT, VAL_BLOB };

struct val {
	enum val_type type;
	int64_t i;
	const void *p; /* into the op's arena */
	size_t len;
};

struct op {
	struct op *next;
	enum op_kind kind;
	bool wipe; /* carries key material (wrapped keys): cleansed before free */
	void (*barrier_fn)(void *userdata, int result);
	void *barrier_userdata;
	uint64_t queued_us; /* a barrier's: when it was queued (CLOCK_MONOTONIC) */
	uint64_t seq;
	struct op *merged_into; /* folded into this earlier op of its batch: no SQL of its own */
	int result;		/* apply_op's, once applied */
	size_t size;
	unsigned n;
	struct val v[OP_MAX_VALS];
	char arena[];
};

/*
 * One entry per kind: the statements run for it, with ?N bound to the op's N-th value. When
 * must_change is set, the first statement touching no row (unknown uuid or label) fails the op.
 * Updates use coalesce(?N, column) so NULL means "leave as is".
 */
struct op_sql {
	const char *name;
	const char *sql[OP_MAX_STMTS];
	bool must_change;
};

static const struct op_sql op_sql[_OP_KIND_MAX] = {
	[OP_SESSION_BEGIN] =
		{
			"session-begin",
			{"INSERT INTO sessions (uuid, call_id, siprec_session_id, src_addr, "
			 "transport, "
			 "started_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
			 "ON CONFLICT (uuid) DO UPDATE SET call_id = coalesce(excluded.call_id, "
			 "call_id), "
			 "siprec_session_id = coalesce(excluded.siprec_session_id, "
			 "siprec_session_id), "
			 "src_addr = coalesce(excluded.src_addr, src_addr), "
			 "transport = coalesce(excluded.transport, transport)"},
			false,
		},
	[OP_SESSION_END] =
		{
			"session-end",
			{"UPDATE sessions SET ended_at = ?2, state = ?3, end_reason = ?4 WHERE "
			 "uuid = ?1",
			 "UPDATE streams SET state = 'ended' WHERE state != 'ended' AND "
			 "session_id = (SELECT id FROM sessions WHERE uuid = ?1)"},
			true,
		},
	[OP_PARTICIPANT] =
		{
			"participant",
			{"INSERT INTO participants (session_id, participant_id, name, aor, "
			 "aor_index, "
			 "domain_index) VALUES ((SELECT id FROM sessions WHERE uuid = ?1), ?2, ?3, "
			 "?4, "
			 "?5, ?6) ON CONFLICT (session_id, participant_id) DO UPDATE SET "
			 "name = coalesce(excluded.name, name), aor = coalesce(excluded.aor, aor), "
			 "aor_index = coalesce(excluded.aor_index, aor_index), "
			 "domain_index = coalesce(excluded.domain_index, domain_index)"},
			false,
		},
	[OP_STREAM] =
		{
			"stream",
			{"INSERT INTO streams (session_id, label, stream_id, participant_id, "
			 "direction, codec, "
			 "payload_type, clock_rate, srtp_suite, local_port, state) VALUES "
			 "((SELECT id FROM sessions WHERE uuid = ?1), ?2, ?3, "
			 "(SELECT p.id FROM participants AS p JOIN sessions AS s ON s.id = "
			 "p.session_id "
			 "WHERE s.uuid = ?1 AND p.participant_id = ?4), "
			 "?5, ?6, ?7, ?8, nullif(?9, ''), ?10, coalesce(?11, 'active')) "
			 "ON CONFLICT (session_id, label) DO UPDATE SET "
			 "stream_id = coalesce(excluded.stream_id, stream_id), "
			 "participant_id = coalesce(excluded.participant_id, participant_id), "
			 "direction = coalesce(excluded.direction, direction), "
			 "codec = coalesce(excluded.codec, codec), "
			 "payload_type = coalesce(excluded.payload_type, payload_type), "
			 "clock_rate = coalesce(excluded.clock_rate, clock_rate), "
			 "srtp_suite = CASE ?9 WHEN '' THEN NULL "
			 "ELSE coalesce(?9, srtp_suite) END, "
			 "local_port = coalesce(excluded.local_port, local_port), "
			 "state = coalesce(?11, state)"},
			false,
		},
	[OP_STREAM_STATS] =
		{
			"stream-stats",
			{"UPDATE streams SET ssrcs = coalesce(?3, ssrcs), packets = ?4, bytes = "
			 "?5, lost = ?6, "
			 "duplicates = ?7, out_of_order = ?8, srtp_auth_failures = ?9, "
			 "srtp_replays = ?10, "
			 "state = coalesce(?11, state), "
			 "first_packet_at = coalesce(?12, first_packet_at), "
			 "last_packet_at = coalesce(?13, last_packet_at), "
			 "source_addr = coalesce(?14, source_addr), dropped_source = ?15, "
			 "dropped_limit = ?16, unnegotiated_pt = ?17, dtmf_events = ?18 "
			 "WHERE session_id = (SELECT id FROM sessions WHERE uuid = ?1) AND label = "
			 "?2"},
			true,
		},
	[OP_RECORDING_BEGIN] =
		{
			"recording-begin",
			{"INSERT INTO recordings (uuid, session_id, stream_id, path, key_id, "
			 "key_version, "
			 "algorithm, created_at) VALUES (?1, (SELECT id FROM sessions WHERE uuid = "
			 "?2), "
			 "(SELECT st.id FROM streams AS st JOIN sessions AS s ON s.id = "
			 "st.session_id "
			 "WHERE s.uuid = ?2 AND st.label = ?3), ?4, ?5, ?6, ?7, ?8)"},
			false,
		},
	[OP_RECORDING_FINAL] =
		{
			"recording-final",
			{"UPDATE recordings SET size = ?2, chunks = ?3, frames = ?4, "
			 "sha256 = coalesce(?5, sha256), complete = ?6, state = ?7, "
			 "finalized_at = coalesce(?8, finalized_at) WHERE uuid = ?1"},
			true,
		},
	[OP_METADATA] =
		{
			"metadata",
			{"INSERT INTO metadata_snapshots (session_id, seq, received_at, datamode, "
			 "body, "
			 "body_encrypted, json, warnings) VALUES ((SELECT id FROM sessions WHERE "
			 "uuid = ?1), "
			 "?2, ?3, ?4, ?5, ?6, ?7, coalesce(?8, '[]'))",
			 "UPDATE sessions SET metadata_warnings = metadata_warnings + ?9, "
			 "metadata_dialect = coalesce(?10, metadata_dialect) WHERE uuid = ?1"},
			false,
		},
	[OP_KEY] =
		{
			"key",
			{"INSERT INTO keys (key_id, version, algorithm, state, created_at, "
			 "activated_at, "
			 "retired_at, destroyed_at, wrapped, wrap_alg, kek_id) VALUES (?1, ?2, ?3, "
			 "?4, ?5, ?6, "
			 "?7, ?8, CASE WHEN ?4 = 'destroyed' THEN NULL ELSE ?9 END, ?10, ?11) "
			 "ON CONFLICT (key_id, version) DO UPDATE SET algorithm = "
			 "excluded.algorithm, "
			 "state = excluded.state, "
			 "activated_at = coalesce(excluded.activated_at, activated_at), "
			 "retired_at = coalesce(excluded.retired_at, retired_at), "
			 "destroyed_at = coalesce(excluded.destroyed_at, destroyed_at), "
			 "wrapped = CASE WHEN excluded.state = 'destroyed' THEN NULL "
			 "ELSE coalesce(excluded.wrapped, wrapped) END, "
			 "wrap_alg = coalesce(excluded.wrap_alg, wrap_alg), "
			 "kek_id = coalesce(excluded.kek_id, kek_id)"},
			false,
		},
	[OP_DTMF] =
		{
			"dtmf",
			{"INSERT INTO dtmf_events (session_id, stream_id, recording_uuid, event, "
			 "digit, started_at, rtp_timestamp, duration, duration_ms, volume, "
			 "payload_type, ssrc, ended) VALUES ((SELECT id FROM sessions WHERE uuid = "
			 "?1), (SELECT st.id FROM streams AS st JOIN sessions AS s ON s.id = "
			 "st.session_id WHERE s.uuid = ?1 AND st.label = ?2), ?3, ?4, ?5, ?6, ?7, "
			 "?8, ?9, ?10, ?11, ?12, ?13)"},
			false,
		},
	[OP_STREAM_FORMAT] =
		{
			"stream-format",
			{"INSERT INTO stream_formats (stream_id, payload_type, encoding, "
			 "clock_rate, "
			 "channels, fmtp) VALUES ((SELECT st.id FROM streams AS st JOIN sessions "
			 "AS s "
			 "ON s.id = st.session_id WHERE s.uuid = ?1 AND st.label = ?2), ?3, ?4, "
			 "?5, "
			 "?6, ?7) ON CONFLICT (stream_id, payload_type) DO UPDATE SET "
			 "encoding = excluded.encoding, clock_rate = excluded.clock_rate, "
			 "channels = excluded.channels, fmtp = excluded.fmtp"},
			false,
		},
	[OP_CONTEXT] =
		{
			"session-context",
			{"INSERT INTO session_context (session_id, source, name, value) VALUES "
			 "((SELECT id FROM sessions WHERE uuid = ?1), ?2, ?3, ?4) "
			 "ON CONFLICT DO NOTHING"},
			false,
		},
	[OP_MD_WARNING] =
		{
			"metadata-warning",
			{"UPDATE sessions SET metadata_warnings = metadata_warnings + 1 WHERE uuid "
			 "= ?1",
			 "UPDATE metadata_snapshots SET warnings = json_insert(coalesce(warnings, "
			 "'[]'), "
			 "'$[#]', ?2) WHERE id = (SELECT max(m.id) FROM metadata_snapshots AS m "
			 "JOIN "
			 "sessions AS s ON s.id = m.session_id WHERE s.uuid = ?1)"},
			true,
		},
	[OP_BARRIER] = {"barrier", {NULL}, false},
};

struct recovered {
	char *recording_uuid;
	char *session_uuid;
	char *path;
};

/* Transaction control run per op or per batch: prepared once, not parsed by sqlite3_exec each
 * time (the PRAGMAs stay with sqlite3_exec: sqlite applies them when they are prepared). */
enum txn_stmt {
	TXN_BEGIN,
	TXN_COMMIT,
	TXN_ROLLBACK,
	TXN_SAVEPOINT,
	TXN_ROLLBACK_TO,
	TXN_RELEASE,
	_TXN_MAX,
};

static const char *const txn_sql[_TXN_MAX] = {
	[TXN_BEGIN] = "BEGIN IMMEDIATE",      [TXN_COMMIT] = "COMMIT",
	[TXN_ROLLBACK] = "ROLLBACK",	      [TXN_SAVEPOINT] = "SAVEPOINT op",
	[TXN_ROLLBACK_TO] = "ROLLBACK TO op", [TXN_RELEASE] = "RELEASE op",
};

struct catalog {
	sqlite3 *db;
	sqlite3_stmt *stmts[_OP_KIND_MAX][OP_MAX_STMTS];
	sqlite3_stmt *txn[_TXN_MAX];
	struct trail_stmts trail;
	bool sync_full; /* PRAGMA synchronous is FULL now, not NORMAL */

	pthread_mutex_t lock;
	pthread_cond_t wake; /* the catalog thread waits for work */
	pthread_cond_t done; /* catalog_sync waits for done_seq */
	pthread_t thread;
	bool running;
	bool stopping;
	bool stopped;

	/* Everything below is under lock. */
	struct op *head, *tail;
	unsigned depth; /* also read without the lock, atomically, by catalog_queue_depth */
	size_t bytes;
	unsigned max_ops;
	size_t max_bytes;
	uint64_t next_seq; /* seq of the last op queued */
	uint64_t done_seq; /* every op up to this seq is applied or counted failed */
	uint64_t failed_at_sync;
	struct catalog_stats stats;

	struct recovered *recovered;
	size_t n_recovered;
	unsigned recovered_sessions;

	/* The catalog thread's own (read at catalog_stop, after the join): where a barrier's
	 * wait goes. wait: queued -> its batch begins; apply: the batch's statements; commit:
	 * COMMIT with the WAL's sync, without the checkpoint; checkpoint: each one run. */
	struct lat_hist h_wait, h_apply, h_commit, h_ckpt, h_ckpt_bg;
	uint64_t ckpt_us; /* the checkpoint run within the current COMMIT */
	/* Operations failed since the last barrier was resolved: a session's rows can be applied
	 * in a batch before its barrier's (the thread took the queue between them), and the
	 * barrier must still fail (see apply_batch). */
	uint64_t failed_unbarriered;

	/* The checkpointer (see wal_hook): a thread with a connection of its own. */
	char *path;
	pthread_t ckpt_thread;
	bool ckpt_running;
	pthread_cond_t ckpt_wake; /* under lock, as the three below */
	bool ckpt_want;		  /* asked, not started */
	bool ckpt_busy;		  /* running */
	bool ckpt_exit;
	int ckpt_asked_at; /* the catalog thread's: the WAL's frames when it last asked */

	/* The syncer (see sync_thread): barriers whose batch is committed, waiting for the
	 * WAL's fdatasync. */
	pthread_t sync_thread;
	bool sync_running;
	pthread_cond_t sync_wake; /* under lock, as the four below */
	struct op *sync_head, *sync_tail;
	unsigned sync_pending; /* barriers handed over and not called back yet */
	bool sync_exit;
	int sync_error; /* a failed fdatasync: every later barrier fails (see sync_thread) */
	struct lat_hist h_sync;
};

int (*catalog_wal_fdatasync)(int fd) = fdatasync;

/* Starts the write-back of every dirty page of the file and waits for it; no flush of the
 * device's cache, no metadata (the inode's size, new blocks' extents): durable it is not. */
static int db_writeback(int fd)
{
	return sync_file_range(fd, 0, 0,
			       SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
				       SYNC_FILE_RANGE_WAIT_AFTER);
}

int (*catalog_db_writeback)(int fd) = db_writeback;

/* SQLite's default wal_autocheckpoint, and when the WAL starts over (see wal_hook): 48 MiB,
 * below journal_size_limit (a WAL beyond it is truncated when it starts over, then grown again). */
#define CKPT_FRAMES 1000
#define CKPT_RESET_FRAMES (12 * CKPT_FRAMES)

/*
 * A failed sync of the database file by a checkpoint (what: "fsync", SQLite's at the end of a
 * pass that copied the whole WAL; "sync_file_range", the checkpointer's write-back), err its
 * errno (0: unknown, msg says what SQLite said). After a failed write-back the kernel may have
 * dropped the pages (marked clean, their error reported once), and the frames they came from
 * are already counted as copied: the WAL is rewound over them at the next full pass, whose
 * fsync may pass (the error was consumed). Only a fresh open, after a restart, tells what the
 * file holds: so the first one is kept for the health report, as the syncer's (sync_thread).
 */
static void note_db_sync_failed(struct catalog *c, const char *what, int err, const char *msg)
{
	bool first;

	pthread_mutex_lock(&c->lock);
	first = !c->stats.db_sync_failed[0];
	if (first)
		snprintf(c->stats.db_sync_failed, sizeof(c->stats.db_sync_failed), "%s: %s: %s",
			 c->path ? c->path : "database", what, err ? strerror(err) : msg);
	pthread_mutex_unlock(&c->lock);
	if (first)
		log_error("catalog: checkpoint: %s %s: %s: restart siprecd once the volume is "
			  "sound",
			  what, c->path ? c->path : "database", err ? strerror(err) : msg);
}

/* A checkpoint's result: its fsync of the database failed (SQLITE_IOERR_FSYNC) is kept. */
static void checkpoint_result(struct catalog *c, sqlite3 *db, int rc)
{
	if (rc == SQLITE_OK)
		return;
	if (sqlite3_extended_errcode(db) == SQLITE_IOERR_FSYNC)
		note_db_sync_failed(c, "fsync", sqlite3_system_errno(db), sqlite3_errmsg(db));
	else
		log_debug("catalog: checkpoint: %s", sqlite3_errmsg(db));
}

/* On the applying thread, within a COMMIT: a PASSIVE checkpoint, timed. */
static void checkpoint_inline(struct catalog *c, sqlite3 *db, const char *name)
{
	uint64_t t0 = lat_now_us(), us;

	checkpoint_result(
		c, db, sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL));
	us = lat_now_us() - t0;
	c->ckpt_us += us;
	lat_hist_add(&c->h_ckpt, us);
	pthread_mutex_lock(&c->lock);
	c->stats.checkpoints_inline++;
	pthread_mutex_unlock(&c->lock);
}

/*
 * Runs within each COMMIT that wrote to the WAL, once its frames are written (and synced, for a
 * barrier's batch), before COMMIT returns. SQLite's own auto-checkpoint would copy the WAL into
 * the database here each CKPT_FRAMES frames (two fsyncs; 10-20 ms p50, up to 107 ms, at 1,000
 * setups/s on the bench's volume) while the barriers of this batch and of the next wait.
 * Instead the checkpointer thread copies it, on a connection of its own, each time the WAL has
 * grown by CKPT_FRAMES, while batches go on committing here (a PASSIVE checkpoint takes no lock
 * a writer needs). SQLite rewinds the WAL only when a transaction begins with every frame
 * copied, which a checkpoint running beside commits seldom leaves; so once the WAL holds
 * CKPT_RESET_FRAMES, the next commit that finds the checkpointer idle copies what is left itself
 * (the frames of the last batches) and the WAL starts over, kept at its size (overwriting it
 * costs the commit's fdatasync no journal commit, as growing it would). Without the
 * checkpointer (before catalog_start) every checkpoint is inline, as SQLite's.
 */
static int wal_hook(void *userdata, sqlite3 *db, const char *name, int frames)
{
	struct catalog *c = userdata;
	bool inline_now = false;

	if (frames < CKPT_FRAMES)
		return SQLITE_OK;
	if (!c->ckpt_running) {
		checkpoint_inline(c, db, name);
		return SQLITE_OK;
	}
	if (frames < c->ckpt_asked_at)
		c->ckpt_asked_at = 0; /* the WAL started over */
	pthread_mutex_lock(&c->lock);
	if (!c->ckpt_want && !c->ckpt_busy) {
		if (frames >= CKPT_RESET_FRAMES) {
			inline_now = true;
		} else if (frames >= c->ckpt_asked_at + CKPT_FRAMES) {
			c->ckpt_want = true;
			c->ckpt_asked_at = frames;
			pthread_cond_signal(&c->ckpt_wake);
		}
	}
	pthread_mutex_unlock(&c->lock);
	if (inline_now)
		checkpoint_inline(c, db, name);
	return SQLITE_OK;
}

static void *checkpoint_thread(void *userdata)
{
	struct catalog *c = userdata;
	sqlite3 *db = NULL;
	int db_fd = open(c->path, O_RDONLY | O_CLOEXEC);

	/* Its own connection: a checkpoint runs beside the catalog's transactions. It reads
	 * nothing and writes no transaction, so it needs no busy timeout (PASSIVE never waits). */
	if (sqlite3_open_v2(c->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		log_debug("catalog: checkpointer: cannot open %s: %s", c->path,
			  db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		db = NULL;
	} else if (sqlite3_exec(db, "PRAGMA schema_version", NULL, NULL, NULL) != SQLITE_OK) {
		/* A read opens the WAL: until then a checkpoint is a no-op. */
		log_debug("catalog: checkpointer: %s: %s", c->path, sqlite3_errmsg(db));
	}
	pthread_mutex_lock(&c->lock);
	for (;;) {
		uint64_t t0;

		while (!c->ckpt_want && !c->ckpt_exit)
			pthread_cond_wait(&c->ckpt_wake, &c->lock);
		if (c->ckpt_exit)
			break;
		c->ckpt_want = false;
		c->ckpt_busy = true;
		pthread_mutex_unlock(&c->lock);
		t0 = lat_now_us();
		if (db)
			checkpoint_result(c, db,
					  sqlite3_wal_checkpoint_v2(
						  db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL));
		/* A pass that did not copy the whole WAL (commits went on meanwhile) does not
		 * fsync the database: the pages it wrote stay dirty (the kernel writes them back
		 * after 30 s where memory is plenty), and the inline checkpoint that rewinds the
		 * WAL wrote them all back in its fsync of the database, on the catalog thread
		 * (its syncs took 90-250 ms a rewind on the bench's busy volume). Written back
		 * here instead, without a flush: that fsync, which makes them durable before
		 * the WAL is rewound, still runs as before and now finds little to write. */
		if (db_fd >= 0 && catalog_db_writeback(db_fd) < 0)
			note_db_sync_failed(c, "sync_file_range", errno, "");
		lat_hist_add(&c->h_ckpt_bg, lat_now_us() - t0);
		pthread_mutex_lock(&c->lock);
		c->ckpt_busy = false;
		c->stats.checkpoints++;
	}
	pthread_mutex_unlock(&c->lock);
	sqlite3_close(db);
	if (db_fd >= 0)
		close(db_fd);
	return NULL;
}

/*
 * Called on the thread that applies (catalog thread, or the caller before start), right after
 * the SQLite call that failed. A failed write is the operator's problem (the INVITE it belonged
 * to is refused, or a row is missing): logged as an error naming the catalog, rate-limited, and
 * a damaged file says how to check it. A busy database (another writer: siprecctl, the
 * sweeper) is retried, and logged at debug only.
 */
_printf_(2, 3) static void note_error(struct catalog *c, const char *fmt, ...)
{
	static struct log_ratelimit rl = LOG_RATELIMIT_INIT(10, 5);
	char buf[sizeof(c->stats.last_error)];
	int code = c->db ? sqlite3_errcode(c->db) & 0xff : SQLITE_ERROR;
	const char *path = c->path ? c->path : "(opening)";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
		log_debug("catalog: %s", buf);
	else if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB)
		log_ratelimited_rl(
			&rl, LOG_ERR,
			"catalog %s: %s: the file is damaged; stop siprecd and check it with "
			"sqlite3 %s 'PRAGMA integrity_check' (docs/CATALOG.md)",
			path, buf, path);
	else
		log_ratelimited_rl(&rl, LOG_ERR, "catalog %s: %s", path, buf);
	pthread_mutex_lock(&c->lock);
	memcpy(c->stats.last_error, buf, sizeof(buf));
	if ((code == SQLITE_CORRUPT || code == SQLITE_NOTADB) && !c->stats.damaged[0])
		memcpy(c->stats.damaged, buf, sizeof(buf));
	pthread_mutex_unlock(&c->lock);
}

static void op_free(struct op *op)
{
	if (!op)
		return;
	if (op->wipe)
		OPENSSL_cleanse(op, op->size);
	free(op);
}

/* Builds an op's values on the caller's stack; enqueue() then copies them into one allocation. */
struct builder {
	struct val v[OP_MAX_VALS];
	unsigned n;
	size_t extra;
	int err;
};

static struct val *b_next(struct builder *b)
{
	/* The value lists below are fixed per kind; running out is a bug here, not input. */
	if (b->n >= OP_MAX_VALS) {
		b->err = -EINVAL;
		return &b->v[OP_MAX_VALS - 1];
	}
	return &b->v[b->n++];
}

static void b_null(struct builder *b)
{
	*b_next(b) = (struct val){.type = VAL_NULL};
}

static void b_int(struct builder *b, int64_t i)
{
	*b_next(b) = (struct val){.type = VAL_INT, .i = i};
}

/* sqlite integers are signed 64-bit; counters and times past INT64_MAX saturate. */
static void b_u64(struct builder *b, uint64_t u)
{
	b_int(b, u > INT64_MAX ? INT64_MAX : (int64_t)u);
}

static void b_u64_or_null(struct builder *b, uint64_t u)
{
	if (u == 0)
		b_null(b);
	else
		b_u64(b, u);
}

static void b_text(struct builder *b, const char *s)
{
	struct val *v = b_next(b);
	size_t len;

	if (!s) {
		*v = (struct val){.type = VAL_NULL};
		return;
	}
	len = strnlen(s, CATALOG_TEXT_MAX + 1);
	if (len > CATALOG_TEXT_MAX) {
		b->err = -E2BIG;
		return;
	}
	*v = (struct val){.type = VAL_TEXT, .p = s, .len = len};
	b->extra += len + 1;
}

static void b_blob(struct builder *b, const void *p, size_t len)
{
	struct val *v = b_next(b);

	if (!p) {
		*v = (struct val){.type = VAL_NULL};
		return;
	}
	if (len > CATALOG_BLOB_MAX) {
		b->err = -E2BIG;
		return;
	}
	*v = (struct val){.type = VAL_BLOB, .p = p, .len = len};
	b->extra += len;
}

/*
 * Rows a recording cannot do without (the session, its recordings, the keys that open them):
 * past the queue limits they still get a reserve of as much again, so a flood of statistics
 * cannot push them out. Everything else is refused at the limit and counted in stats.dropped.
 */
static bool op_critical(enum op_kind kind)
{
	return kind == OP_SESSION_BEGIN || kind == OP_SESSION_END || kind == OP_RECORDING_BEGIN ||
	       kind == OP_RECORDING_FINAL || kind == OP_KEY || kind == OP_STREAM ||
	       kind == OP_BARRIER;
}

static int enqueue_op(struct catalog *c, struct op *op);

static int enqueue(struct catalog *c, enum op_kind kind, const struct builder *b, bool wipe)
{
	struct op *op;
	size_t size, off = 0;

	if (b->err < 0)
		return b->err;

	size = sizeof(struct op) + b->extra;
	op = malloc(size);
	if (!op)
		return -ENOMEM;
	*op = (struct op){.kind = kind, .wipe = wipe, .size = size, .n = b->n};
	for (unsigned i = 0; i < b->n; i++) {
		op->v[i] = b->v[i];
		if (b->v[i].type == VAL_TEXT || b->v[i].type == VAL_BLOB) {
			if (b->v[i].len)
				memcpy(op->arena + off, b->v[i].p, b->v[i].len);
			op->v[i].p = op->arena + off;
			off += b->v[i].len;
			if (b->v[i].type == VAL_TEXT)
				op->arena[off++] = '\0';
		}
	}

	return enqueue_op(c, op);
}

/* Takes ownership of op, even on failure. */
static int enqueue_op(struct catalog *c, struct op *op)
{
	unsigned max_ops = c->max_ops;
	size_t max_bytes = c->max_bytes, size = op->size;

	if (op_critical(op->kind)) {
		max_ops *= 2;
		max_bytes *= 2;
	}
	pthread_mutex_lock(&c->lock);
	if (c->stopped) {
		pthread_mutex_unlock(&c->lock);
		op_free(op);
		return -ESHUTDOWN;
	}
	if (c->depth >= max_ops || c->bytes + size > max_bytes) {
		c->stats.dropped++;
		pthread_mutex_unlock(&c->lock);
		op_free(op);
		return -EAGAIN;
	}
	op->seq = ++c->next_seq;
	if (c->tail)
		c->tail->next = op;
	else
		c->head = op;
	c->tail = op;
	__atomic_store_n(&c->depth, c->depth + 1, __ATOMIC_RELAXED);
	c->bytes += size;
	c->stats.enqueued++;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

/* Under lock: takes up to CATALOG_BATCH_MAX ops off the queue. */
static struct op *detach_batch(struct catalog *c)
{
	struct op *first = c->head, *last = NULL, *op = c->head;
	unsigned n = 0;

	for (; op && n < CATALOG_BATCH_MAX; op = op->next, n++) {
		c->bytes -= op->size;
		last = op;
	}
	if (!last)
		return NULL;
	c->head = last->next;
	if (!c->head)
		c->tail = NULL;
	last->next = NULL;
	__atomic_store_n(&c->depth, c->depth - n, __ATOMIC_RELAXED);
	return first;
}

static sqlite3_stmt *get_stmt(struct catalog *c, enum op_kind kind, unsigned j)
{
	sqlite3_stmt **st = &c->stmts[kind][j];

	if (!*st && sqlite3_prepare_v3(c->db, op_sql[kind].sql[j], -1, SQLITE_PREPARE_PERSISTENT,
				       st, NULL) != SQLITE_OK) {
		note_error(c, "%s: prepare: %s", op_sql[kind].name, sqlite3_errmsg(c->db));
		*st = NULL;
	}
	return *st;
}

/* Runs one transaction-control statement; returns SQLITE_OK or sqlite's code for the failure. */
static int txn_exec(struct catalog *c, enum txn_stmt t)
{
	sqlite3_stmt **st = &c->txn[t];
	int rc;

	if (!*st) {
		rc = sqlite3_prepare_v3(c->db, txn_sql[t], -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
		if (rc != SQLITE_OK) {
			*st = NULL;
			return rc;
		}
	}
	rc = sqlite3_step(*st);
	sqlite3_reset(*st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int bind_val(sqlite3_stmt *st, int idx, const struct val *v)
{
	switch (v->type) {
	case VAL_INT:
		return sqlite3_bind_int64(st, idx, v->i);
	case VAL_TEXT:
		return sqlite3_bind_text(st, idx, v->p, (int)v->len, SQLITE_STATIC);
	case VAL_BLOB:
		return sqlite3_bind_blob(st, idx, v->p, (int)v->len, SQLITE_STATIC);
	case VAL_NULL:
	default:
		return sqlite3_bind_null(st, idx);
	}
}

static int run_stmt(struct catalog *c, const struct op *op, unsigned j)
{
	sqlite3_stmt *st = get_stmt(c, op->kind, j);
	int np, r;

	if (!st)
		return -EIO;
	np = sqlite3_bind_parameter_count(st);
	for (int i = 1; i <= np; i++) {
		static const struct val null_val = {.type = VAL_NULL};
		const struct val *v = (unsigned)i <= op->n ? &op->v[i - 1] : &null_val;

		if (bind_val(st, i, v) != SQLITE_OK) {
			note_error(c, "%s: bind ?%d: %s", op_sql[op->kind].name, i,
				   sqlite3_errmsg(c->db));
			sqlite3_clear_bindings(st);
			return -EIO;
		}
	}
	r = sqlite3_step(st);
	if (r != SQLITE_DONE)
		note_error(c, "%s: %s", op_sql[op->kind].name, sqlite3_errmsg(c->db));
	sqlite3_reset(st);
	/* The bound text points into the op, which is freed after the batch. */
	sqlite3_clear_bindings(st);
	if (r == SQLITE_BUSY || r == SQLITE_LOCKED)
		return -EBUSY;
	if (r != SQLITE_DONE)
		return -EIO;
	if (j == 0 && op_sql[op->kind].must_change && sqlite3_changes(c->db) == 0) {
		note_error(c, "%s: no such row (%.*s)", op_sql[op->kind].name,
			   op->v[0].type == VAL_TEXT ? (int)MIN(op->v[0].len, 64) : 0,
			   op->v[0].type == VAL_TEXT ? (const char *)op->v[0].p : "");
		return -ENOENT;
	}
	return 0;
}

/* Text value i of op as a C string (NULL for SQL NULL): in the op's arena, where enqueue()
 * ended it with a NUL, when it fits n - 1 bytes; else cut to that, copied into buf. */
static const char *op_text(const struct op *op, unsigned i, char *buf, size_t n)
{
	size_t len;

	if (i >= op->n || op->v[i].type != VAL_TEXT)
		return NULL;
	len = op->v[i].len;
	if (len < n)
		return op->v[i].p;
	memcpy(buf, op->v[i].p, n - 1);
	buf[n - 1] = '\0';
	return buf;
}

/* A recording created or closed goes into the compliance trail in the same transaction
 * (docs/COMPLIANCE.md): the trail then never misses a recording the catalog knows. */
static int trail_op(struct catalog *c, const struct op *op)
{
	char uuid[80], object[96], path[1024], sha[80], state[32];
	struct trail_entry e = {.actor = "siprecd", .object = object};

	if (op->kind != OP_RECORDING_BEGIN && op->kind != OP_RECORDING_FINAL)
		return 0;
	snprintf(object, sizeof(object), "recording:%s", op_text(op, 0, uuid, sizeof(uuid)));
	if (op->kind == OP_RECORDING_BEGIN) {
		e.kind = "created";
		e.reason = op_text(op, 3, path, sizeof(path));
	} else {
		e.reason = op_text(op, 6, state, sizeof(state));
		e.sha256 = op_text(op, 4, sha, sizeof(sha));
		e.kind = e.reason && strcmp(e.reason, "shredded") == 0 ? "shredded" : "finalized";
	}
	if (trail_append_cached(&c->trail, c->db, &e, NULL) < 0) {
		note_error(c, "trail: %s", sqlite3_errmsg(c->db));
		return -EIO;
	}
	return 0;
}

/* Applies one op; multi-statement ops run in a savepoint so they land whole or not at all. */
static int apply_op(struct catalog *c, const struct op *op)
{
	bool multi = op_sql[op->kind].sql[1] != NULL || op->kind == OP_RECORDING_BEGIN ||
		     op->kind == OP_RECORDING_FINAL;
	int r = 0;

	if (op->kind == OP_BARRIER)
		return 0;
	if (multi && txn_exec(c, TXN_SAVEPOINT) != SQLITE_OK) {
		note_error(c, "savepoint: %s", sqlite3_errmsg(c->db));
		return -EIO;
	}
	for (unsigned j = 0; j < OP_MAX_STMTS && op_sql[op->kind].sql[j]; j++) {
		r = run_stmt(c, op, j);
		if (r < 0)
			break;
	}
	if (r == 0)
		r = trail_op(c, op);
	if (multi && !sqlite3_get_autocommit(c->db)) {
		if (r < 0)
			txn_exec(c, TXN_ROLLBACK_TO);
		txn_exec(c, TXN_RELEASE);
	}
	return r;
}

static bool is_busy(int rc)
{
	return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
}

/* Runs BEGIN IMMEDIATE or COMMIT, retrying while another connection (an operator's write at the
 * sqlite3 shell) holds the write lock past busy_timeout. */
static int exec_retry(struct catalog *c, enum txn_stmt t, uint64_t *busy)
{
	for (unsigned tries = 0;; tries++) {
		int rc = txn_exec(c, t);

		if (rc == SQLITE_OK)
			return 0;
		if (!is_busy(rc) || tries + 1 >= BUSY_TRIES) {
			note_error(c, "%s: %s", txn_sql[t], sqlite3_errmsg(c->db));
			return -EIO;
		}
		(*busy)++;
	}
}

static bool same_text(const struct val *a, const struct val *b)
{
	return a->type == VAL_TEXT && b->type == VAL_TEXT && a->len == b->len &&
	       memcmp(a->p, b->p, a->len) == 0;
}

/*
 * session.c queues a session's row twice at the INVITE: first (before the metadata is parsed) and
 * again with the metadata's session id; both are normally in one batch. The second only sets
 * what it does not leave NULL (the upsert's coalesce(excluded.x, x); started_at is the first's),
 * so folding its values into the first gives the same row with one upsert instead of two, and
 * nobody can read the row in between: both commit in this transaction, as they would have. The
 * ops queued between them (metadata, participants, streams) name the session by its uuid only.
 * Only the last SESSIONS_RECENT sessions begun in the batch are looked at. Returns how many were
 * folded.
 */
#define SESSIONS_RECENT 16

static unsigned merge_session_begins(struct op *list)
{
	struct op *recent[SESSIONS_RECENT];
	unsigned n = 0, merged = 0;

	for (struct op *op = list; op; op = op->next) {
		struct op *first = NULL;

		if (op->kind != OP_SESSION_BEGIN || op->n < 5)
			continue;
		for (unsigned i = 0; i < MIN(n, SESSIONS_RECENT) && !first; i++)
			if (same_text(&recent[i]->v[0], &op->v[0]))
				first = recent[i];
		if (!first) {
			recent[n++ % SESSIONS_RECENT] = op;
			continue;
		}
		/* call_id, siprec_session_id, src_addr, transport: they point into op's arena,
		 * freed with the batch after both were applied. */
		for (unsigned k = 1; k <= 4; k++)
			if (op->v[k].type != VAL_NULL)
				first->v[k] = op->v[k];
		op->merged_into = first;
		merged++;
	}
	return merged;
}

/* Applies a detached list in one transaction and frees it (its barriers go to the syncer when
 * on_thread). Returns the last seq handled. */
static uint64_t apply_batch(struct catalog *c, struct op *list, bool on_thread)
{
	uint64_t applied = 0, failed = 0, in_txn = 0, busy = 0, txns = 0, last_seq = 0;
	uint64_t oldest = UINT64_MAX, t_begin, t_commit = 0;
	bool open, gave_up, synced, barrier = false, committed = false;
	/* catalog_sync and catalog_stop drain without the syncer */
	bool defer = on_thread && c->sync_running;
	struct op *deferred = NULL, **dtail = &deferred;
	unsigned merged = merge_session_begins(list), n_deferred = 0;

	for (struct op *op = list; op; op = op->next)
		if (op->kind == OP_BARRIER) {
			barrier = true;
			oldest = MIN(oldest, op->queued_us);
		}
	/*
	 * WAL with synchronous=NORMAL does not sync a commit; a barrier (catalog_barrier) runs
	 * once its batch is durable. With the catalog thread running, every batch commits with
	 * NORMAL and the syncer fdatasyncs the WAL after it, while the next batch is applied here:
	 * the barriers of every batch committed during one fdatasync share the next one (group
	 * commit, pipelined). Without the thread (catalog_sync, catalog_stop), a batch with a
	 * barrier is committed with FULL: the WAL is synced before COMMIT returns. sqlite refuses
	 * to change the level inside a transaction, so it is set before BEGIN.
	 */
	if ((barrier && !defer) != c->sync_full) {
		/* The level then stays from batch to batch. */
		bool full = barrier && !defer;
		const char *sql =
			full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL";

		if (sqlite3_exec(c->db, sql, NULL, NULL, NULL) == SQLITE_OK)
			c->sync_full = full;
		else
			note_error(c, "%s: %s", sql, sqlite3_errmsg(c->db));
	}
	synced = c->sync_full || !barrier || defer;
	t_begin = lat_now_us();
	open = exec_retry(c, TXN_BEGIN, &busy) == 0;
	gave_up = !open;

	for (struct op *op = list; op; op = op->next) {
		last_seq = op->seq;
		if (!open && !gave_up) {
			open = exec_retry(c, TXN_BEGIN, &busy) == 0;
			gave_up = !open;
		}
		if (gave_up) {
			failed++;
			continue;
		}
		/* A folded op shares the fate of the op that carries its values. */
		op->result = op->merged_into ? op->merged_into->result : apply_op(c, op);
		if (op->result == 0) {
			in_txn++;
			continue;
		}
		if (op->merged_into) {
			failed++;
			continue;
		}
		failed++;
		/* Some errors (I/O, disk full) roll the whole transaction back: what this batch
		 * had applied so far is lost, count it so. */
		if (sqlite3_get_autocommit(c->db)) {
			failed += in_txn;
			in_txn = 0;
			open = false;
		}
	}
	if (open) {
		t_commit = lat_now_us();
		c->ckpt_us = 0;
		if (exec_retry(c, TXN_COMMIT, &busy) == 0) {
			applied += in_txn;
			txns++;
			committed = true;
			if (barrier) {
				lat_hist_add(&c->h_wait, t_begin - MIN(oldest, t_begin));
				lat_hist_add(&c->h_apply, t_commit - t_begin);
				lat_hist_add(&c->h_commit, lat_now_us() - t_commit - c->ckpt_us);
			}
		} else {
			if (!sqlite3_get_autocommit(c->db))
				txn_exec(c, TXN_ROLLBACK);
			failed += in_txn;
		}
	}

	/* What the next barrier inherits: this batch's failures when no barrier of its own took
	 * them, or when operations follow its last barrier (which of them failed is not told
	 * apart from a rolled-back transaction's: conservative again). */
	bool after_last_barrier = false;

	for (struct op *op = list; op; op = op->next)
		after_last_barrier = op->kind != OP_BARRIER;
	uint64_t carry = !barrier	      ? c->failed_unbarriered + failed
			 : after_last_barrier ? failed
					      : 0;

	while (list) {
		struct op *next = list->next;

		/* Conservative: any failure in the batch, or in the batches applied since the
		 * last barrier (what was queued before this one), fails its barriers. */
		if (list->kind == OP_BARRIER) {
			list->result =
				committed && synced && failed == 0 && c->failed_unbarriered == 0
					? 0
					: -EIO;
			if (defer) {
				list->next = NULL;
				*dtail = list;
				dtail = &list->next;
				n_deferred++;
				list = next;
				continue;
			}
			list->barrier_fn(list->barrier_userdata, list->result);
		}
		op_free(list);
		list = next;
	}
	c->failed_unbarriered = carry;

	pthread_mutex_lock(&c->lock);
	if (deferred) {
		if (c->sync_tail)
			c->sync_tail->next = deferred;
		else
			c->sync_head = deferred;
		c->sync_tail = container_of(dtail, struct op, next);
		c->sync_pending += n_deferred;
		pthread_cond_signal(&c->sync_wake);
	}
	c->stats.applied += applied;
	c->stats.failed += failed;
	c->stats.transactions += txns;
	c->stats.busy_retries += busy;
	c->stats.merged += merged;
	pthread_mutex_unlock(&c->lock);
	return last_seq;
}

/* Takes batches off the queue and applies them until it is empty; done_seq follows. */
static void drain(struct catalog *c, bool on_thread)
{
	for (;;) {
		struct op *list;
		uint64_t seq;

		pthread_mutex_lock(&c->lock);
		list = detach_batch(c);
		pthread_mutex_unlock(&c->lock);
		if (!list)
			return;
		seq = apply_batch(c, list, on_thread);
		pthread_mutex_lock(&c->lock);
		c->done_seq = seq;
		pthread_cond_broadcast(&c->done);
		pthread_mutex_unlock(&c->lock);
	}
}

/*
 * The syncer: fdatasyncs the WAL for the barriers whose batches were committed (with
 * synchronous=NORMAL: their frames are written, not synced) and then runs them, while the
 * catalog thread applies the next batches. One fdatasync covers every frame written before it
 * started, so each barrier runs after a sync that began after its commit. A checkpoint that
 * copied those frames into the database first synced the WAL and the database itself, and the
 * WAL is only rewound after such a checkpoint. A failed fdatasync fails its barriers and every
 * later one: the pages it could not write may be marked clean by the kernel, and WAL recovery
 * stops at the first frame missing from the chain, losing what follows however well synced.
 */
static void *sync_thread(void *userdata)
{
	struct catalog *c = userdata;
	_cleanup_free_ char *wal = NULL;
	int fd = -1;

	if (asprintf(&wal, "%s-wal", c->path) < 0)
		wal = NULL;
	pthread_mutex_lock(&c->lock);
	for (;;) {
		struct op *list;
		unsigned n = 0;
		uint64_t t0;
		int r;

		while (!c->sync_head && !c->sync_exit)
			pthread_cond_wait(&c->sync_wake, &c->lock);
		if (!c->sync_head)
			break; /* exiting, with nothing left */
		list = c->sync_head;
		c->sync_head = c->sync_tail = NULL;
		r = c->sync_error;
		pthread_mutex_unlock(&c->lock);

		/* The WAL exists: a batch was committed to it. Opened once and kept: SQLite
		 * truncates it in place, never replaces it while the catalog is open. */
		if (fd < 0 && r == 0 && wal)
			fd = open(wal, O_RDONLY | O_CLOEXEC);
		t0 = lat_now_us();
		if (r == 0 && (fd < 0 || catalog_wal_fdatasync(fd) < 0)) {
			r = -errno;
			note_error(c, "%s: fdatasync: %s", wal ? wal : "WAL", strerror(errno));
		}
		lat_hist_add(&c->h_sync, lat_now_us() - t0);
		while (list) {
			struct op *next = list->next;

			list->barrier_fn(list->barrier_userdata, r < 0 ? r : list->result);
			op_free(list);
			list = next;
			n++;
		}
		pthread_mutex_lock(&c->lock);
		if (r < 0 && !c->sync_error) {
			c->sync_error = r;
			/* For the health report: the catalog cannot recover from it in this
			 * process (docs/CONTROL.md "A volume failing"). */
			snprintf(c->stats.sync_failed, sizeof(c->stats.sync_failed),
				 "%s: fdatasync: %s", wal ? wal : "WAL", strerror(-r));
		}
		c->sync_pending -= n;
		pthread_cond_broadcast(&c->done);
	}
	pthread_mutex_unlock(&c->lock);
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void *catalog_thread(void *userdata)
{
	struct catalog *c = userdata;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (!c->head && !c->stopping)
			pthread_cond_wait(&c->wake, &c->lock);
		if (!c->head && c->stopping)
			break;
		pthread_mutex_unlock(&c->lock);
		drain(c, true);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

static int exec_simple(sqlite3 *db, const char *sql, char *errbuf, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		catalog_set_err(errbuf, errlen, "catalog: %s: %s", sql,
				msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

static int journal_mode_cb(void *userdata, int ncol, char **vals, char **names)
{
	bool *wal = userdata;

	*wal = ncol == 1 && vals[0] && strcmp(vals[0], "wal") == 0;
	return 0;
}

static int collect_recovered(struct catalog *c)
{
	sqlite3_stmt *st = NULL;
	int r = 0, rc;

	if (sqlite3_prepare_v2(c->db,
			       "SELECT r.uuid, s.uuid, r.path FROM recordings AS r "
			       "JOIN sessions AS s ON s.id = r.session_id "
			       "WHERE r.state = 'writing' ORDER BY r.id",
			       -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct recovered *n, *e;

		n = reallocarray(c->recovered, c->n_recovered + 1, sizeof(*n));
		if (!n) {
			r = -ENOMEM;
			break;
		}
		c->recovered = n;
		e = &c->recovered[c->n_recovered];
		e->recording_uuid = strdup((const char *)sqlite3_column_text(st, 0));
		e->session_uuid = strdup((const char *)sqlite3_column_text(st, 1));
		e->path = strdup((const char *)sqlite3_column_text(st, 2));
		c->n_recovered++;
		if (!e->recording_uuid || !e->session_uuid || !e->path) {
			r = -ENOMEM;
			break;
		}
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = -EIO;
	sqlite3_finalize(st);
	return r;
}

/* A session still 'active' at open was cut short by a crash or a kill: nobody will end it. */
static int recover(struct catalog *c, char *errbuf, size_t errlen)
{
	int r;

	r = exec_simple(c->db, "BEGIN IMMEDIATE", errbuf, errlen);
	if (r < 0)
		return r;
	r = collect_recovered(c);
	if (r < 0) {
		catalog_set_err(errbuf, errlen, "catalog: recovery: %s", sqlite3_errmsg(c->db));
		goto fail;
	}
	r = exec_simple(c->db,
			"UPDATE recordings SET state = 'interrupted', complete = 0 "
			"WHERE state = 'writing'",
			errbuf, errlen);
	if (r < 0)
		goto fail;
	r = exec_simple(
		c->db,
		"UPDATE streams SET state = 'ended' WHERE state != 'ended' AND session_id IN "
		"(SELECT id FROM sessions WHERE state = 'active')",
		errbuf, errlen);
	if (r < 0)
		goto fail;
	/* ended_at: the last packet seen is the best estimate of when the session stopped. */
	r = exec_simple(
		c->db,
		"UPDATE sessions SET state = 'interrupted', end_reason = 'crash', ended_at = "
		"coalesce((SELECT max(last_packet_at) FROM streams "
		"WHERE session_id = sessions.id), started_at) WHERE state = 'active'",
		errbuf, errlen);
	if (r < 0)
		goto fail;
	c->recovered_sessions = (unsigned)sqlite3_changes(c->db);
	return exec_simple(c->db, "COMMIT", errbuf, errlen);
fail:
	if (!sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

/*
 * SQLite's memory statistics (sqlite3_memory_used, the soft heap limit: siprecd reads neither) take
 * a process-wide mutex around every allocation SQLite makes, and Debian builds SQLite without its
 * lookaside allocator: ~300 malloc/free pairs per call in the catalog thread. The setting exists
 * only before SQLite initializes; in siprecd the first catalog_open (manager_new, one thread) is
 * that moment. Later it fails with SQLITE_MISUSE and changes nothing. So does the page cache of
 * pcache.c (the default one, without a scan of the whole 64 MiB cache at each commit after a
 * page split).
 */
static void sqlite_config_once(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	(void)catalog_pcache_install();
}

int catalog_open(const char *path, char *errbuf, size_t errlen, struct catalog **ret)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct catalog *c;
	bool wal = false;
	int fd, r;

	if (!path || !*path || !ret)
		return -EINVAL;

	/* Create the file ourselves so its mode (and that of -wal/-shm, which sqlite copies from
	 * it) keeps participants' names and numbers from other users. */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		r = -errno;
		catalog_set_err(errbuf, errlen, "catalog: cannot open %s: %s", path, strerror(-r));
		return r;
	}
	close(fd);

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->wake, NULL);
	pthread_cond_init(&c->done, NULL);
	pthread_cond_init(&c->ckpt_wake, NULL);
	pthread_cond_init(&c->sync_wake, NULL);
	c->max_ops = CATALOG_QUEUE_MAX_OPS_DEFAULT;
	c->max_bytes = CATALOG_QUEUE_MAX_BYTES_DEFAULT;

	pthread_once(&once, sqlite_config_once);
	/* NOMUTEX: one thread at a time uses this connection (the opener until catalog_start, then
	 * the catalog thread until catalog_stop joins it), so SQLite need not lock it per call.
	 * Its WAL frames are written a commit at a time (walbuf.c); the other connections (the
	 * checkpointer's, the readers') use the default VFS. */
	if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
			    catalog_walbuf_vfs()) != SQLITE_OK) {
		catalog_set_err(errbuf, errlen, "catalog: cannot open %s: %s", path,
				c->db ? sqlite3_errmsg(c->db) : "out of memory");
		r = -EIO;
		goto fail;
	}
	sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
	/* Readers (the sqlite3 shell) never block the writer nor see half a batch (WAL); NORMAL
	 * syncs only at checkpoints, a power loss may lose the last batches but never corrupts.
	 * secure_delete overwrites destroyed wrapped keys; journal_size_limit truncates a WAL that
	 * grew while a reader held an old snapshot. */
	if (sqlite3_exec(c->db, "PRAGMA journal_mode = WAL", journal_mode_cb, &wal, NULL) !=
		    SQLITE_OK ||
	    !wal) {
		catalog_set_err(errbuf, errlen, "catalog: %s: cannot switch to WAL mode: %s", path,
				sqlite3_errmsg(c->db));
		r = -EIO;
		goto fail;
	}
	/* cache_size: 64 MiB of pages instead of SQLite's 2 MiB. A catalog outgrows 2 MiB within
	 * seconds at 1,000 calls/s, and every index page it must read again is a pread and a WAL
	 * index lookup on the thread the 200 OKs wait on: 10 s at 1,000 setups/s, setup p99
	 * 320-471 ms with 2 MiB, 91-128 ms with 64 MiB; 256 MiB did no better (bench/RESULTS.md,
	 * the lead's final runs of 2026-12-05). Pages are allocated as they are used. */
	r = exec_simple(c->db,
			"PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; "
			"PRAGMA secure_delete = ON; PRAGMA journal_size_limit = 67108864; "
			"PRAGMA cache_size = -65536",
			errbuf, errlen);
	if (r < 0)
		goto fail;
	c->path = strdup(path);
	if (!c->path) {
		r = -ENOMEM;
		goto fail;
	}
	sqlite3_wal_hook(c->db, wal_hook, c);
	r = catalog_migrate(c->db, errbuf, errlen);
	if (r < 0)
		goto fail;
	r = recover(c, errbuf, errlen);
	if (r < 0)
		goto fail;

	*ret = c;
	return 0;
fail:
	catalog_free(c);
	return r;
}

/* SQLite's WAL: a 32-byte header, then frames of a 24-byte header and a page. */
#define WAL_HDR 32
#define WAL_FRAME_HDR 24

int catalog_warm_wal(struct catalog *c, uint64_t *ret_bytes)
{
	static const uint8_t zeros[64 << 10]; /* never written: reads map the zero page */
	struct iovec iov[16];
	sqlite3_stmt *st = NULL;
	_cleanup_free_ char *wal = NULL;
	off_t size, target, at;
	struct stat sb;
	int fd, page = 0, r = 0;

	if (sqlite3_prepare_v2(c->db, "PRAGMA page_size", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		page = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (page <= 0)
		return -EIO;
	if (asprintf(&wal, "%s-wal", c->path) < 0)
		return -ENOMEM;
	/* SQLite created it when it opened the database in WAL mode (and migrations wrote it) */
	fd = open(wal, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &sb) < 0) {
		r = -errno;
		goto out;
	}
	size = sb.st_size;
	target = WAL_HDR + (off_t)(CKPT_RESET_FRAMES + CKPT_FRAMES) * (WAL_FRAME_HDR + page);
	for (size_t i = 0; i < ARRAY_SIZE(iov); i++)
		iov[i] = (struct iovec){.iov_base = (void *)zeros, .iov_len = sizeof(zeros)};
	/* Only past the last frame: a crash's frames stay, and recovery stops at the first
	 * frame whose salt and checksum do not match, as zeros do not. */
	for (at = size; at < target;) {
		size_t left = (size_t)(target - at), n = 0;
		ssize_t w;

		while (n < ARRAY_SIZE(iov) && left > 0) {
			iov[n].iov_len = MIN(left, sizeof(zeros));
			left -= iov[n++].iov_len;
		}
		w = pwritev(fd, iov, (int)n, at);
		if (w < 0) {
			r = -errno;
			goto out;
		}
		at += w;
	}
	if (at > size && fdatasync(fd) < 0) {
		r = -errno;
		goto out;
	}
	if (ret_bytes)
		*ret_bytes = (uint64_t)(at - size);
out:
	close(fd);
	return r;
}

void catalog_set_queue_limits(struct catalog *c, unsigned max_ops, size_t max_bytes)
{
	pthread_mutex_lock(&c->lock);
	if (max_ops)
		c->max_ops = max_ops;
	if (max_bytes)
		c->max_bytes = max_bytes;
	pthread_mutex_unlock(&c->lock);
}

int catalog_start(struct catalog *c)
{
	int r;

	pthread_mutex_lock(&c->lock);
	if (c->running || c->stopped) {
		pthread_mutex_unlock(&c->lock);
		return -EALREADY;
	}
	/* Before the catalog thread, which hands it the barriers once it runs. Without it, a
	 * barrier's batch is committed with synchronous=FULL. */
	if (pthread_create(&c->sync_thread, NULL, sync_thread, c) == 0)
		c->sync_running = true;
	r = -pthread_create(&c->thread, NULL, catalog_thread, c);
	if (r == 0)
		c->running = true;
	/* Without it the catalog thread checkpoints inline, as SQLite would. */
	if (r == 0 && pthread_create(&c->ckpt_thread, NULL, checkpoint_thread, c) == 0)
		c->ckpt_running = true;
	pthread_mutex_unlock(&c->lock);
	if (r == 0)
		pthread_setname_np(c->thread, "siprecd-catalog");
	if (c->ckpt_running)
		pthread_setname_np(c->ckpt_thread, "siprecd-ckpt");
	if (c->sync_running)
		pthread_setname_np(c->sync_thread, "siprecd-sync");
	return r;
}

void catalog_stop(struct catalog *c)
{
	bool join, was_stopped;

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	join = c->running;
	was_stopped = c->stopped;
	c->stopping = true;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
	if (join)
		pthread_join(c->thread, NULL);
	else
		drain(c, false);
	pthread_mutex_lock(&c->lock);
	c->running = false;
	c->stopped = true;
	c->ckpt_exit = true;
	pthread_cond_signal(&c->ckpt_wake);
	c->sync_exit = true;
	pthread_cond_signal(&c->sync_wake);
	pthread_mutex_unlock(&c->lock);
	/* After the catalog thread: it runs the barriers still handed to it, then leaves. */
	if (c->sync_running) {
		pthread_join(c->sync_thread, NULL);
		c->sync_running = false;
	}
	/* After the catalog thread: no commit asks for a checkpoint any more. */
	if (c->ckpt_running) {
		pthread_join(c->ckpt_thread, NULL);
		c->ckpt_running = false;
	}
	/* bench/setup-rate.sh reads this line: operations per transaction is the group commit */
	if (!was_stopped)
		log_info("catalog: %llu operations applied in %llu transactions, %llu failed, "
			 "%llu dropped",
			 (unsigned long long)c->stats.applied,
			 (unsigned long long)c->stats.transactions,
			 (unsigned long long)c->stats.failed, (unsigned long long)c->stats.dropped);
	if (!was_stopped && c->h_wait.count) {
		char a[96], b[96], d[96], e[96], f[96], g[96];

		/* bench/setup-rate.sh reads this line */
		log_info("catalog: barrier batches: queued -> begin %s; statements %s; commit %s; "
			 "WAL fdatasync %s; checkpoints inline %s; checkpointer %s",
			 lat_hist_format(&c->h_wait, a, sizeof(a)),
			 lat_hist_format(&c->h_apply, b, sizeof(b)),
			 lat_hist_format(&c->h_commit, d, sizeof(d)),
			 lat_hist_format(&c->h_sync, g, sizeof(g)),
			 lat_hist_format(&c->h_ckpt, e, sizeof(e)),
			 lat_hist_format(&c->h_ckpt_bg, f, sizeof(f)));
	}
}

struct catalog *catalog_free(struct catalog *c)
{
	if (!c)
		return NULL;
	if (c->db)
		catalog_stop(c);
	for (size_t k = 0; k < _OP_KIND_MAX; k++)
		for (size_t j = 0; j < OP_MAX_STMTS; j++)
			sqlite3_finalize(c->stmts[k][j]);
	for (size_t t = 0; t < _TXN_MAX; t++)
		sqlite3_finalize(c->txn[t]);
	trail_stmts_clear(&c->trail);
	sqlite3_close(c->db);
	while (c->head) {
		struct op *next = c->head->next;

		op_free(c->head);
		c->head = next;
	}
	for (size_t i = 0; i < c->n_recovered; i++) {
		free(c->recovered[i].recording_uuid);
		free(c->recovered[i].session_uuid);
		free(c->recovered[i].path);
	}
	free(c->recovered);
	pthread_cond_destroy(&c->done);
	pthread_cond_destroy(&c->ckpt_wake);
	pthread_cond_destroy(&c->sync_wake);
	free(c->path);
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->lock);
	free(c);
	return NULL;
}

int catalog_session_begin(struct catalog *c, const struct catalog_session *s)
{
	struct builder b = {0};

	if (!s || !s->uuid || !s->started_at)
		return -EINVAL;
	b_text(&b, s->uuid);
	b_text(&b, s->call_id);
	b_text(&b, s->siprec_session_id);
	b_text(&b, s->src_addr);
	b_text(&b, s->transport);
	b_u64(&b, s->started_at);
	return enqueue(c, OP_SESSION_BEGIN, &b, false);
}

static bool one_of(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (strcmp(s, *set) == 0)
			return true;
	return false;
}

int catalog_session_end(struct catalog *c, const char *uuid, uint64_t ended_at, const char *state,
			const char *reason)
{
	static const char *const states[] = {"ended", "interrupted", "failed", NULL};
	struct builder b = {0};

	if (!uuid || !state || !one_of(state, states))
		return -EINVAL;
	b_text(&b, uuid);
	b_u64(&b, ended_at);
	b_text(&b, state);
	b_text(&b, reason);
	return enqueue(c, OP_SESSION_END, &b, false);
}

int catalog_participant_upsert(struct catalog *c, const struct catalog_participant *p)
{
	struct builder b = {0};

	if (!p || !p->session_uuid || !p->participant_id)
		return -EINVAL;
	b_text(&b, p->session_uuid);
	b_text(&b, p->participant_id);
	b_text(&b, p->name);
	b_text(&b, p->aor);
	b_text(&b, p->aor_index);
	b_text(&b, p->domain_index);
	return enqueue(c, OP_PARTICIPANT, &b, false);
}

static const char *const stream_states[] = {"active", "idle", "ended", NULL};

int catalog_stream_upsert(struct catalog *c, const struct catalog_stream *s)
{
	struct builder b = {0};

	if (!s || !s->session_uuid || !s->label || (s->state && !one_of(s->state, stream_states)))
		return -EINVAL;
	b_text(&b, s->session_uuid);
	b_text(&b, s->label);
	b_text(&b, s->stream_id);
	b_text(&b, s->participant_id);
	b_text(&b, s->direction);
	b_text(&b, s->codec);
	if (s->payload_type >= 0 && s->payload_type <= 127)
		b_int(&b, s->payload_type);
	else
		b_null(&b);
	b_u64_or_null(&b, s->clock_rate);
	b_text(&b, s->srtp_suite);
	b_u64_or_null(&b, s->local_port);
	b_text(&b, s->state);
	return enqueue(c, OP_STREAM, &b, false);
}

int catalog_stream_stats(struct catalog *c, const struct catalog_stream_stats *st)
{
	struct builder b = {0};

	if (!st || !st->session_uuid || !st->label ||
	    (st->state && !one_of(st->state, stream_states)))
		return -EINVAL;
	b_text(&b, st->session_uuid);
	b_text(&b, st->label);
	b_text(&b, st->ssrcs);
	b_u64(&b, st->packets);
	b_u64(&b, st->bytes);
	b_u64(&b, st->lost);
	b_u64(&b, st->duplicates);
	b_u64(&b, st->out_of_order);
	b_u64(&b, st->srtp_auth_failures);
	b_u64(&b, st->srtp_replays);
	b_text(&b, st->state);
	b_u64_or_null(&b, st->first_packet_at);
	b_u64_or_null(&b, st->last_packet_at);
	b_text(&b, st->source_addr);
	b_u64(&b, st->dropped_source);
	b_u64(&b, st->dropped_limit);
	b_u64(&b, st->unnegotiated_pt);
	b_u64(&b, st->dtmf_events);
	return enqueue(c, OP_STREAM_STATS, &b, false);
}

int catalog_dtmf_event(struct catalog *c, const struct catalog_dtmf *e)
{
	static const char digits[] = "0123456789*#ABCD";
	struct builder b = {0};
	char digit[2] = {0}, ssrc[9];

	if (!e || !e->session_uuid || !e->label || !e->started_at)
		return -EINVAL;
	if (e->event < 16)
		digit[0] = digits[e->event];
	snprintf(ssrc, sizeof(ssrc), "%08x", e->ssrc);
	b_text(&b, e->session_uuid);
	b_text(&b, e->label);
	b_text(&b, e->recording_uuid);
	b_int(&b, e->event);
	b_text(&b, digit[0] ? digit : NULL);
	b_u64(&b, e->started_at);
	b_u64(&b, e->rtp_timestamp);
	b_u64(&b, e->duration);
	b_u64(&b, e->duration_ms);
	b_int(&b, e->volume);
	b_int(&b, e->payload_type);
	b_text(&b, ssrc);
	b_int(&b, e->ended ? 1 : 0);
	return enqueue(c, OP_DTMF, &b, false);
}

int catalog_recording_begin(struct catalog *c, const struct catalog_recording *r)
{
	struct builder b = {0};

	if (!r || !r->uuid || !r->session_uuid || !r->path || !r->created_at)
		return -EINVAL;
	b_text(&b, r->uuid);
	b_text(&b, r->session_uuid);
	b_text(&b, r->stream_label);
	b_text(&b, r->path);
	b_text(&b, r->key_id);
	if (r->key_id)
		b_u64(&b, r->key_version);
	else
		b_null(&b);
	b_text(&b, r->algorithm);
	b_u64(&b, r->created_at);
	return enqueue(c, OP_RECORDING_BEGIN, &b, false);
}

int catalog_recording_final(struct catalog *c, const struct catalog_recording_final *f)
{
	static const char *const states[] = {"final", "interrupted", "shredded", NULL};
	struct builder b = {0};

	if (!f || !f->uuid || !f->state || !one_of(f->state, states))
		return -EINVAL;
	b_text(&b, f->uuid);
	b_u64(&b, f->size);
	b_u64(&b, f->chunks);
	b_u64(&b, f->frames);
	b_text(&b, f->sha256);
	b_int(&b, f->complete ? 1 : 0);
	b_text(&b, f->state);
	b_u64_or_null(&b, f->finalized_at);
	return enqueue(c, OP_RECORDING_FINAL, &b, false);
}

int catalog_metadata_snapshot(struct catalog *c, const struct catalog_metadata *m)
{
	struct builder b = {0};

	if (!m || !m->session_uuid || !m->received_at)
		return -EINVAL;
	b_text(&b, m->session_uuid);
	b_u64(&b, m->seq);
	b_u64(&b, m->received_at);
	b_text(&b, m->datamode);
	b_blob(&b, m->body, m->body_len);
	b_int(&b, m->body_encrypted ? 1 : 0);
	b_text(&b, m->json);
	b_text(&b, m->warnings);
	b_u64(&b, m->warning_count);
	b_text(&b, m->dialect);
	return enqueue(c, OP_METADATA, &b, false);
}

int catalog_stream_format_add(struct catalog *c, const struct catalog_stream_format *f)
{
	struct builder b = {0};

	if (!f || !f->session_uuid || !f->label || !f->encoding || f->payload_type > 127)
		return -EINVAL;
	b_text(&b, f->session_uuid);
	b_text(&b, f->label);
	b_int(&b, f->payload_type);
	b_text(&b, f->encoding);
	b_u64(&b, f->clock_rate);
	b_u64(&b, f->channels ? f->channels : 1);
	b_text(&b, f->fmtp && *f->fmtp ? f->fmtp : NULL);
	return enqueue(c, OP_STREAM_FORMAT, &b, false);
}

int catalog_metadata_warning(struct catalog *c, const char *session_uuid, const char *warning)
{
	struct builder b = {0};

	if (!session_uuid || !warning)
		return -EINVAL;
	b_text(&b, session_uuid);
	b_text(&b, warning);
	return enqueue(c, OP_MD_WARNING, &b, false);
}

int catalog_session_context_add(struct catalog *c, const char *session_uuid, const char *source,
				const char *name, const char *value)
{
	static const char *const sources[] = {"sip", "metadata", NULL};
	struct builder b = {0};

	if (!session_uuid || !source || !one_of(source, sources) || !name || !*name || !value)
		return -EINVAL;
	b_text(&b, session_uuid);
	b_text(&b, source);
	b_text(&b, name);
	b_text(&b, value);
	return enqueue(c, OP_CONTEXT, &b, false);
}

int catalog_key_upsert(struct catalog *c, const struct catalog_key *k)
{
	static const char *const states[] = {"active", "retired", "destroyed", NULL};
	struct builder b = {0};

	if (!k || !k->key_id || !k->algorithm || !k->state || !one_of(k->state, states))
		return -EINVAL;
	b_text(&b, k->key_id);
	b_u64(&b, k->version);
	b_text(&b, k->algorithm);
	b_text(&b, k->state);
	b_u64(&b, k->created_at);
	b_u64_or_null(&b, k->activated_at);
	b_u64_or_null(&b, k->retired_at);
	b_u64_or_null(&b, k->destroyed_at);
	b_blob(&b, k->wrapped, k->wrapped_len);
	b_text(&b, k->wrap_alg);
	b_text(&b, k->kek_id);
	return enqueue(c, OP_KEY, &b, true);
}

int catalog_barrier(struct catalog *c, void (*fn)(void *userdata, int result), void *userdata)
{
	struct op *op;

	if (!c || !fn)
		return -EINVAL;
	op = calloc(1, sizeof(*op));
	if (!op)
		return -ENOMEM;
	op->kind = OP_BARRIER;
	op->size = sizeof(*op);
	op->barrier_fn = fn;
	op->barrier_userdata = userdata;
	op->queued_us = lat_now_us();
	return enqueue_op(c, op);
}

unsigned catalog_queue_depth(const struct catalog *c)
{
	return __atomic_load_n(&c->depth, __ATOMIC_RELAXED);
}

int catalog_sync(struct catalog *c)
{
	uint64_t target;
	int r = 0;

	pthread_mutex_lock(&c->lock);
	target = c->next_seq;
	if (!c->running) {
		pthread_mutex_unlock(&c->lock);
		drain(c, false);
		pthread_mutex_lock(&c->lock);
	} else {
		/* applied, and the barriers among them run (the syncer's) */
		while (c->done_seq < target || c->sync_pending)
			pthread_cond_wait(&c->done, &c->lock);
	}
	if (c->stats.failed > c->failed_at_sync)
		r = -EIO;
	c->failed_at_sync = c->stats.failed;
	pthread_mutex_unlock(&c->lock);
	return r;
}

void catalog_get_stats(struct catalog *c, struct catalog_stats *ret)
{
	pthread_mutex_lock(&c->lock);
	*ret = c->stats;
	ret->queue_depth = c->depth;
	pthread_mutex_unlock(&c->lock);
}

int catalog_recovered_foreach(struct catalog *c,
			      int (*fn)(void *userdata, const struct catalog_recovered *r),
			      void *userdata)
{
	for (size_t i = 0; i < c->n_recovered; i++) {
		const struct catalog_recovered r = {
			.recording_uuid = c->recovered[i].recording_uuid,
			.session_uuid = c->recovered[i].session_uuid,
			.path = c->recovered[i].path,
		};
		int k = fn(userdata, &r);

		if (k < 0)
			return k;
	}
	return (int)MIN(c->n_recovered, (size_t)INT32_MAX);
}

unsigned catalog_recovered_sessions(const struct catalog *c)
{
	return c->recovered_sessions;
}

int catalog_open_readonly(const char *path, sqlite3 **ret)
{
	sqlite3 *db = NULL;

	if (!path || !ret)
		return -EINVAL;
	if (access(path, F_OK) < 0)
		return -errno;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return -EIO;
	}
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	*ret = db;
	return 0;
}
