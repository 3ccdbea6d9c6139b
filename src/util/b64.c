// SPDX-License-Identifier: MIT
/*
 * Base64 for the JSON envelopes (.metadata files, sealed catalog metadata): OpenSSL's block
 * coder, with the padding that EVP_DecodeBlock counts as data taken off again.
 */
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
