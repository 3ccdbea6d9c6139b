/* SPDX-License-Identifier: MIT */
/*
 * What the session layer records of real SRCs beyond RFC 7866: every negotiated payload format
 * of a stream, and the call-correlation context of a session (docs/CATALOG.md "Interop").
 */
#pragma once

#include "siprecd/sdp.h"

struct catalog;

/* Queues one stream_formats row per format of md siprecd can name (a=rtpmap or RFC 3551). */
void siprec_catalog_formats(struct catalog *c, const char *session_uuid, const char *label,
			    const struct sdp_media *md);
