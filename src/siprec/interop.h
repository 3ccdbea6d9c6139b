/* SPDX-License-Identifier: MIT */
/*
 * What the session layer records of real SRCs beyond RFC 7866: every negotiated payload format
 * of a stream, and the call-correlation context of a session (docs/CATALOG.md "Interop").
 */
#pragma once

#include "siprecd/sdp.h"

struct catalog;

struct siprec_metadata;
struct sip_msg;

/* Queues session_context rows (source 'sip') for the INVITE's User-to-User, Session-ID and
 * Call-Info headers and those named in extra (RECORD_SIP_HEADERS, comma-separated). */
void siprec_catalog_sip_context(struct catalog *c, const char *session_uuid, struct sip_msg *req,
				const char *extra);

/* Queues session_context rows (source 'metadata') for md->context. */
void siprec_catalog_md_context(struct catalog *c, const char *session_uuid,
			       const struct siprec_metadata *md);

/* An SDP stream whose label gives it no sender in the metadata: logged, and a warning in the
 * catalog (sessions.metadata_warnings, the latest snapshot's warnings). */
void siprec_label_warning(struct catalog *c, const char *session_uuid, const char *label);

/* Queues one stream_formats row per format of md siprecd can name (a=rtpmap or RFC 3551). */
void siprec_catalog_formats(struct catalog *c, const char *session_uuid, const char *label,
			    const struct sdp_media *md);
