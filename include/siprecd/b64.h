/* SPDX-License-Identifier: MIT */
/*
 * Standard padded base64 (RFC 4648 §4) over OpenSSL's EVP block coder, for the JSON envelopes
 * of sealed metadata, and MIME's Content-Transfer-Encoding: base64 (RFC 2045 §6.8).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* A malloc'ed NUL-terminated encoding of in[0..len), or NULL on allocation failure. */
char *b64_encode(const uint8_t *in, size_t len);
/* Decodes s (at most max characters): 0 with *ret (malloc'ed, caller frees) and *ret_len, or
 * -EBADMSG (NULL, not a multiple of 4, over max, invalid), -ENOMEM. */
int b64_decode(const char *s, size_t max, uint8_t **ret, size_t *ret_len);
/* Decodes MIME base64 s[0..len) (line breaks and whitespace skipped) into out, which has room
 * for at least len bytes: 0 with *ret_len, or -EBADMSG (a character outside the alphabet, data
 * after the padding, a truncated last group), -ENOMEM. */
int b64_decode_mime(const char *s, size_t len, uint8_t *out, size_t *ret_len);
