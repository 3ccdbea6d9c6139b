// SPDX-License-Identifier: MIT
/*
 * Base64 for the JSON envelopes (.metadata files, sealed catalog metadata): OpenSSL's block
 * coder, with the padding that EVP_DecodeBlock counts as data taken off again; and MIME's
 * (RFC 2045 §6.8, lines broken anywhere) through OpenSSL's streaming decoder.
 */
#include <limits.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "siprecd/b64.h"

char *b64_encode(const uint8_t *in, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);

	if (out)
		EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return out;
}

int b64_decode(const char *s, size_t max, uint8_t **ret, size_t *ret_len)
{
	size_t len = s ? strlen(s) : 0, pad = 0;
	uint8_t *out;
	int n;

	if (!s || len % 4 || len > max)
		return -EBADMSG;
	out = malloc(len / 4 * 3 + 1);
	if (!out)
		return -ENOMEM;
	n = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
	if (n < 0) {
		free(out);
		return -EBADMSG;
	}
	if (len && s[len - 1] == '=')
		pad++;
	if (len > 1 && s[len - 2] == '=')
		pad++;
	*ret = out;
	*ret_len = (size_t)n - pad;
	return 0;
}

int b64_decode_mime(const char *s, size_t len, uint8_t *out, size_t *ret_len)
{
	EVP_ENCODE_CTX *ctx;
	int n = 0, f = 0, r;

	if (len > INT_MAX / 2)
		return -EBADMSG;
	ctx = EVP_ENCODE_CTX_new();
	if (!ctx)
		return -ENOMEM;
	EVP_DecodeInit(ctx);
	/* Line breaks and other whitespace are skipped; any other character outside the
	 * alphabet, data after the padding, or a last group short of 4 characters fails. */
	r = EVP_DecodeUpdate(ctx, out, &n, (const unsigned char *)s, (int)len);
	if (r >= 0)
		r = EVP_DecodeFinal(ctx, out + n, &f);
	EVP_ENCODE_CTX_free(ctx);
	if (r < 0)
		return -EBADMSG;
	*ret_len = (size_t)n + (size_t)f;
	return 0;
}
