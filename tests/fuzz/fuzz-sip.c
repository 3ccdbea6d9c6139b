// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the SIP message layer: parse (datagram and stream), validate, every
 * lazy accessor, the value iterator, stream framing (and what an unframed message's answer
 * reads of it) and response building.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "siprecd/sip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(struct sip_msg *m)
{
	static const char *const supported[] = {"siprec", "timer", NULL};
	static const char *const accept[] = {"application/sdp", "multipart/mixed", NULL};
	struct sip_validate_opts o = {supported, accept, false};
	const struct sip_via *via;
	const struct sip_name_addr *na;
	const struct sip_cseq *cseq;
	const struct sip_content_type *ct;
	struct sip_hdr_iter it = {0};
	struct str v, toks[4];
	const char *reason;
	uint32_t u;
	char out[2048];

	sip_msg_via(m, &via);
	sip_msg_from(m, &na);
	sip_msg_to(m, &na);
	sip_msg_contact(m, &na);
	sip_msg_cseq(m, &cseq);
	sip_msg_call_id(m, &v);
	sip_msg_max_forwards(m, &u);
	sip_msg_expires(m, &u);
	sip_msg_content_type(m, &ct);
	sip_msg_tokens(m, SIP_HDR_REQUIRE, toks, 4);
	sip_msg_has_token(m, SIP_HDR_SUPPORTED, "timer");
	while (sip_msg_next_value(m, SIP_HDR_RECORD_ROUTE, &it, &v)) {
		struct sip_name_addr rr;

		sip_name_addr_parse(v, &rr);
	}
	if (m->is_request) {
		struct sockaddr_storage ss = {.ss_family = AF_INET};
		struct sip_response_args a = {.source = &ss, .to_tag = "abc"};

		sip_msg_validate_request(m, &o, &reason);
		sip_response_build(out, sizeof(out), m, 400, NULL, &a);
		sip_response_build(out, 64, m, 200, NULL, &a);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sip_msg m;
	char *buf = malloc(size ? size : 1);
	size_t len;

	if (!buf)
		return 0;
	if (size)
		memcpy(buf, data, size);
	if (sip_msg_parse(&m, buf, size, NULL) >= 0 || m.headers_ok)
		exercise(&m);
	if (sip_msg_parse_flags(&m, buf, size, NULL, SIP_PARSE_STREAM) >= 0)
		exercise(&m);
	for (size_t off = 0; off < size;) {
		int r = sip_stream_frame(buf + off, size - off, NULL, &len);

		if (r < 0) {
			const char *why;
			char *scratch = malloc(size - off + 2);

			sip_stream_frame_status(buf + off, size - off, NULL, &why);
			if (scratch && sip_stream_frame_headers(buf + off, size - off, NULL,
								scratch, size - off + 2, &m) == 0)
				exercise(&m);
			free(scratch);
		}
		if (r <= 0)
			break;
		if (r == SIP_FRAME_MESSAGE &&
		    sip_msg_parse_flags(&m, buf + off, len, NULL, SIP_PARSE_STREAM) >= 0)
			exercise(&m);
		off += len;
	}
	free(buf);
	return 0;
}
