-- SPDX-License-Identifier: MIT
-- siprecd catalog, migration 7: the webhook outbox (docs/WEBHOOKS.md). One row per event and
-- URL, written by the webhook thread before the first attempt, so an event survives receiver
-- outages and daemon restarts; delivered_at is set on a 2xx answer. Applied by
-- src/catalog/migrate.c.
CREATE TABLE webhook_outbox (
	id INTEGER PRIMARY KEY,
	event_id TEXT NOT NULL,              -- X-Siprecd-Event-Id: the same for every URL and retry
	event_type TEXT NOT NULL,            -- session.started, recording.finalized, ...
	url TEXT NOT NULL,
	body TEXT NOT NULL,                  -- the JSON POSTed, byte for byte on every attempt
	created_at INTEGER NOT NULL,         -- unix ms, when the event happened
	attempts INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER NOT NULL,    -- unix ms
	last_attempt_at INTEGER,
	last_status INTEGER,                 -- HTTP status of the last attempt, NULL without one
	last_error TEXT,
	delivered_at INTEGER,                -- unix ms of the 2xx answer; NULL = still pending
	UNIQUE (event_id, url)
);
CREATE INDEX webhook_outbox_pending ON webhook_outbox (next_attempt_at) WHERE delivered_at IS NULL;

-- The compliance trail (006) is followed, not hooked: deletions, erasures, shredding and legal
-- holds made by any process (the sweeper, siprecctl) become events. trail_seq is the last trail
-- entry turned into outbox rows, advanced in the same transaction as the rows it produced; it
-- starts at the trail's end when webhooks are first enabled (no history replayed).
CREATE TABLE webhook_cursor (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	trail_seq INTEGER NOT NULL
);
