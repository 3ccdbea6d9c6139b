// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the SIPREC multipart/mixed splitter. Input: the Content-Type value on
 * the first line, the body after it. Every returned view must lie inside the inputs, but a
 * base64 part's content, which is its decoding (read whole, for ASan to check its bounds).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "siprecd/siprec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_view(struct str v, const char *buf, size_t len)
{
	if (v.len && (v.s < buf || v.s + v.len > buf + len))
		abort();
}

static void check_part(const struct siprec_body_part *p, const char *ct, size_t ct_len,
		       const char *body, size_t body_len)
{
	if (!p->present)
		return;
	if (p->body.len && (p->body.s < body || p->body.s + p->body.len > body + body_len)) {
		volatile char sum = 0;

		/* decoded: never longer than the part it came from */
		if (p->body.len > body_len)
			abort();
		for (size_t i = 0; i < p->body.len; i++)
			sum ^= p->body.s[i];
	} else {
		check_view(p->body, body, body_len);
	}
	check_view(p->disposition, body, body_len);
	check_view(p->content_id, body, body_len);
	if (p->content_type.s >= ct && p->content_type.s < ct + ct_len)
		check_view(p->content_type, ct, ct_len);
	else
		check_view(p->content_type, body, body_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nl = memchr(data, '\n', size);
	size_t ct_len = nl ? (size_t)(nl - (const char *)data) : size;
	/* copies so that ASan sees any read past either buffer */
	char *ct = malloc(ct_len + 1), *body;
	size_t body_len = nl ? size - ct_len - 1 : 0;
	struct siprec_limits lim = SIPREC_LIMITS_DEFAULT;
	struct siprec_body_parts parts;

	body = malloc(body_len + 1);
	if (!ct || !body)
		abort();
	memcpy(ct, data, ct_len);
	if (body_len)
		memcpy(body, nl + 1, body_len);
	lim.max_part_size = 4096;
	if (siprec_multipart_parse(str_make(ct, ct_len), str_make(body, body_len), &lim, &parts) ==
	    0) {
		check_part(&parts.sdp, ct, ct_len, body, body_len);
		check_part(&parts.metadata, ct, ct_len, body, body_len);
		if (parts.n_parts > lim.max_parts)
			abort();
	}
	free(ct);
	free(body);
	return 0;
}
