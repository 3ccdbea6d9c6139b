-- SPDX-License-Identifier: MIT
-- siprecd catalog, migration 5: what the media path refused or noticed per stream (source
-- latching, per-stream caps, payload types that were not offered), the SSRCs it saw, and the
-- RFC 4733 telephone-events (DTMF digits) it received. Applied by src/catalog/migrate.c.
ALTER TABLE streams ADD COLUMN source_addr TEXT;  -- address:port the stream latched to (MEDIA_LATCH)
ALTER TABLE streams ADD COLUMN dropped_source INTEGER NOT NULL DEFAULT 0; -- from other sources
ALTER TABLE streams ADD COLUMN dropped_limit INTEGER NOT NULL DEFAULT 0;  -- over MEDIA_MAX_STREAM_*
ALTER TABLE streams ADD COLUMN unnegotiated_pt INTEGER NOT NULL DEFAULT 0; -- recorded, pt not offered
ALTER TABLE streams ADD COLUMN dtmf_events INTEGER NOT NULL DEFAULT 0;

-- One row per RFC 4733 event (a DTMF digit or another telephone-event), reported once: at its
-- first end packet (retransmitted end packets are not counted again), or when the next event
-- or the end of the stream cut it short (ended = 0). Written under DTMF_POLICY=record and
-- events-only; never under drop.
CREATE TABLE dtmf_events (
	id INTEGER PRIMARY KEY,
	session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	stream_id INTEGER REFERENCES streams (id) ON DELETE CASCADE,
	recording_uuid TEXT,                 -- the stream's recording (its .siprec file)
	event INTEGER NOT NULL CHECK (event BETWEEN 0 AND 255), -- RFC 4733 §3.2 event code
	digit TEXT,                          -- '0'-'9', '*', '#', 'A'-'D'; NULL for other events
	started_at INTEGER NOT NULL,         -- arrival of the event's first packet (unix ms)
	rtp_timestamp INTEGER NOT NULL,      -- the event's RTP timestamp (its start, RFC 4733 §2.3)
	duration INTEGER NOT NULL,           -- in RTP timestamp units of payload_type's clock
	duration_ms INTEGER NOT NULL,
	volume INTEGER,                      -- power level, -dBm0 (0..63)
	payload_type INTEGER NOT NULL,
	ssrc TEXT NOT NULL,                  -- 8 hex digits
	ended INTEGER NOT NULL CHECK (ended IN (0, 1))
);
CREATE INDEX dtmf_events_session ON dtmf_events (session_id, started_at);
