-- SPDX-License-Identifier: MIT
-- siprecd catalog, migration 2: read-only views for operators at the sqlite3 shell, with times
-- as ISO-8601 UTC text and durations in seconds. The daemon never writes through them.

CREATE VIEW session_overview AS
SELECT
	s.uuid,
	strftime('%Y-%m-%dT%H:%M:%fZ', s.started_at / 1000.0, 'unixepoch') AS started,
	CASE WHEN s.ended_at IS NULL THEN NULL
		ELSE round((s.ended_at - s.started_at) / 1000.0, 3) END AS duration_s,
	s.state,
	s.end_reason,
	s.transport,
	s.src_addr,
	(SELECT group_concat(coalesce(p.name, p.aor, p.participant_id), ', ')
		FROM (SELECT * FROM participants WHERE session_id = s.id ORDER BY id) AS p)
		AS participants,
	(SELECT count(*) FROM streams WHERE session_id = s.id) AS streams,
	(SELECT count(*) FROM recordings WHERE session_id = s.id) AS recordings,
	(SELECT coalesce(sum(size), 0) FROM recordings WHERE session_id = s.id) AS bytes
FROM sessions AS s;

CREATE VIEW stream_quality AS
SELECT
	s.uuid AS session_uuid,
	st.label,
	p.aor AS sender,
	st.codec,
	st.srtp_suite,
	st.packets,
	st.lost,
	CASE WHEN st.packets + st.lost = 0 THEN 0.0
		ELSE round(100.0 * st.lost / (st.packets + st.lost), 2) END AS loss_pct,
	st.duplicates,
	st.out_of_order,
	st.srtp_auth_failures,
	st.srtp_replays,
	st.state
FROM streams AS st
JOIN sessions AS s ON s.id = st.session_id
LEFT JOIN participants AS p ON p.id = st.participant_id;
