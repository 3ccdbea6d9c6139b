// SPDX-License-Identifier: MIT
/*
 * RFC 9562 §5.7 UUIDv7 text form from a time and caller-supplied random bytes (the caller
 * chooses its random source: the SIP thread's pool for session and recording ids).
 */
#include "siprecd/str.h"
#include "siprecd/uuid.h"

void uuid_v7_format(char out[UUID_STR_LEN + 1], uint64_t unix_ms, const uint8_t rnd[10])
{
	uint8_t b[16];

	/* unix_ts_ms: big-endian, so the text sorts by time */
	for (int i = 0; i < 6; i++)
		b[i] = (uint8_t)(unix_ms >> (40 - 8 * i));
	b[6] = (uint8_t)(0x70 | (rnd[0] & 0x0f)); /* ver 7, rand_a */
	b[7] = rnd[1];
	b[8] = (uint8_t)(0x80 | (rnd[2] & 0x3f)); /* var 10, rand_b */
	for (int i = 3; i < 10; i++)
		b[6 + i] = rnd[i];
	/* 8-4-4-4-12 hex digits; each group's NUL is overwritten by the next dash */
	hex_encode(b, 4, out);
	out[8] = '-';
	hex_encode(b + 4, 2, out + 9);
	out[13] = '-';
	hex_encode(b + 6, 2, out + 14);
	out[18] = '-';
	hex_encode(b + 8, 2, out + 19);
	out[23] = '-';
	hex_encode(b + 10, 6, out + 24);
}
