-- SPDX-License-Identifier: MIT
-- siprecd catalog, migration 4: what real Session Recording Clients negotiate and send beyond
-- RFC 7865/7866 (docs/CATALOG.md "Interop"): every payload format answered on a stream, the
-- metadata dialect a session spoke, and the call-correlation context (UUI, Session-ID,
-- Call-Info, vendor ids, configured SIP headers) so recordings can be found by the ids of the
-- systems around the recorder.

-- Every payload format of a stream's SDP answer (siprecd answers all offered formats, so the
-- SRC may send any of them and switch at will; each recorded frame keeps its own payload type).
CREATE TABLE stream_formats (
	id INTEGER PRIMARY KEY,
	stream_id INTEGER NOT NULL REFERENCES streams (id) ON DELETE CASCADE, -- streams.id
	payload_type INTEGER NOT NULL CHECK (payload_type BETWEEN 0 AND 127),
	encoding TEXT NOT NULL,              -- a=rtpmap name as offered, or the RFC 3551 static name
	clock_rate INTEGER NOT NULL,         -- RTP clock (G722: 8000, RFC 3551 §4.5.2)
	channels INTEGER NOT NULL DEFAULT 1,
	fmtp TEXT,                           -- a=fmtp parameters as offered (annexb=no, octet-align=1)
	UNIQUE (stream_id, payload_type)
);

-- rfc7865, recording_metadata (pre-RFC urn:ietf:params:xml:ns:siprec document of BroadWorks and
-- Webex Calling), sip-headers (no body: Cisco CUBE style participants from SIP headers), none.
ALTER TABLE sessions ADD COLUMN metadata_dialect TEXT;

-- Correlation context of a session: SIP headers of the INVITE (User-to-User, Session-ID,
-- Call-Info and the headers named by RECORD_SIP_HEADERS; source 'sip', name as configured) and
-- vendor extension ids found in the metadata (source 'metadata', e.g. name 'ucid' for the
-- Avaya UCID, 'genesys-uuid'). Several values of one name are several rows.
CREATE TABLE session_context (
	id INTEGER PRIMARY KEY,
	session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	source TEXT NOT NULL CHECK (source IN ('sip', 'metadata')),
	name TEXT NOT NULL,
	value TEXT NOT NULL,
	UNIQUE (session_id, source, name, value)
);
-- "which recording belongs to UCID x / to Session-ID y"
CREATE INDEX session_context_lookup ON session_context (name, value);
