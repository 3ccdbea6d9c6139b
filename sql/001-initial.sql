-- SPDX-License-Identifier: MIT
-- siprecd catalog, migration 1: sessions, participants, streams, recordings, metadata snapshots
-- and keys. Every time is an INTEGER of unix milliseconds (UTC); to read one as text use
-- strftime('%Y-%m-%dT%H:%M:%fZ', t / 1000.0, 'unixepoch'). Applied inside one transaction by
-- src/catalog/migrate.c, which then sets PRAGMA user_version = 1. No BEGIN/COMMIT here.

-- One row per SIPREC recording session (RFC 7866 §6.1: one INVITE dialog from the SRC).
CREATE TABLE sessions (
	id INTEGER PRIMARY KEY,
	uuid TEXT NOT NULL UNIQUE,           -- siprecd's recording-session id
	call_id TEXT,                        -- SIP Call-ID of the recording session dialog
	siprec_session_id TEXT,              -- <session session_id=...> from rs-metadata (RFC 7865 §6.1)
	src_addr TEXT,                       -- SRC address:port as seen by siprecd
	transport TEXT CHECK (transport IN ('udp', 'tcp', 'tls')),
	started_at INTEGER NOT NULL,
	ended_at INTEGER,
	state TEXT NOT NULL DEFAULT 'active'
		CHECK (state IN ('active', 'ended', 'interrupted', 'failed')),
	end_reason TEXT,                     -- bye, cancel, timeout, no-ack, shutdown, error, crash, ...
	metadata_warnings INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_started_at ON sessions (started_at);
CREATE INDEX sessions_call_id ON sessions (call_id);
-- Crash recovery looks for sessions left active; a partial index keeps that cheap.
CREATE INDEX sessions_active ON sessions (state) WHERE state = 'active';

-- Participants of the communication session (RFC 7865 §6.6), one row per participant_id.
CREATE TABLE participants (
	id INTEGER PRIMARY KEY,
	session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	participant_id TEXT NOT NULL,        -- <participant participant_id=...>
	name TEXT,                           -- <nameID><name>
	aor TEXT,                            -- <nameID aor=...>
	UNIQUE (session_id, participant_id)  -- also serves lookups by session
);
CREATE INDEX participants_aor ON participants (aor);

-- Media streams (RFC 7865 §6.5), one per SDP m= line, keyed by its a=label (RFC 4574).
CREATE TABLE streams (
	id INTEGER PRIMARY KEY,
	session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	label TEXT NOT NULL,
	stream_id TEXT,                      -- <stream stream_id=...>
	participant_id INTEGER REFERENCES participants (id) ON DELETE SET NULL, -- the sender
	direction TEXT,
	codec TEXT,
	payload_type INTEGER,
	clock_rate INTEGER,
	srtp_suite TEXT,                     -- NULL for plain RTP
	local_port INTEGER,
	ssrcs TEXT,                          -- comma-separated SSRCs seen, 8 hex digits each
	packets INTEGER NOT NULL DEFAULT 0,
	bytes INTEGER NOT NULL DEFAULT 0,
	lost INTEGER NOT NULL DEFAULT 0,
	duplicates INTEGER NOT NULL DEFAULT 0,
	out_of_order INTEGER NOT NULL DEFAULT 0,
	srtp_auth_failures INTEGER NOT NULL DEFAULT 0,
	srtp_replays INTEGER NOT NULL DEFAULT 0,
	state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'idle', 'ended')),
	first_packet_at INTEGER,
	last_packet_at INTEGER,
	UNIQUE (session_id, label)           -- also serves lookups by session
);

-- Recording files (.siprec), normally one per stream.
CREATE TABLE recordings (
	id INTEGER PRIMARY KEY,
	uuid TEXT NOT NULL UNIQUE,
	session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	stream_id INTEGER REFERENCES streams (id) ON DELETE SET NULL,
	path TEXT NOT NULL,
	size INTEGER NOT NULL DEFAULT 0,
	chunks INTEGER NOT NULL DEFAULT 0,
	frames INTEGER NOT NULL DEFAULT 0,
	sha256 TEXT,                         -- lowercase hex of the whole file, once final
	complete INTEGER NOT NULL DEFAULT 0 CHECK (complete IN (0, 1)),
	state TEXT NOT NULL DEFAULT 'writing'
		CHECK (state IN ('writing', 'final', 'interrupted', 'shredded')),
	key_id TEXT,
	key_version INTEGER,
	algorithm TEXT,
	created_at INTEGER NOT NULL,
	finalized_at INTEGER
);
CREATE INDEX recordings_session ON recordings (session_id);
CREATE INDEX recordings_writing ON recordings (state) WHERE state = 'writing';

-- Every rs-metadata document received (RFC 7866 §9.2: the SRC may send updates).
CREATE TABLE metadata_snapshots (
	id INTEGER PRIMARY KEY,
	session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	seq INTEGER NOT NULL,                -- 0, 1, ... in order of arrival within the session
	received_at INTEGER NOT NULL,
	datamode TEXT,                       -- complete or partial (RFC 7865 §6.2)
	body BLOB,                           -- the XML as received, or the sealed blob
	body_encrypted INTEGER NOT NULL DEFAULT 0 CHECK (body_encrypted IN (0, 1)),
	json TEXT,                           -- parsed model
	warnings TEXT NOT NULL DEFAULT '[]', -- JSON array of strings
	UNIQUE (session_id, seq)
);

-- Data keys, wrapped by a key-encryption key. Generic on purpose: the key hierarchy adds its own
-- migrations.
CREATE TABLE keys (
	id INTEGER PRIMARY KEY,
	key_id TEXT NOT NULL,
	version INTEGER NOT NULL,
	algorithm TEXT NOT NULL,
	state TEXT NOT NULL DEFAULT 'active', -- active, retired, destroyed
	created_at INTEGER NOT NULL,
	activated_at INTEGER,
	retired_at INTEGER,
	destroyed_at INTEGER,
	wrapped BLOB,                        -- NULL once destroyed
	wrap_alg TEXT,
	kek_id TEXT,
	UNIQUE (key_id, version)
);
