/* SPDX-License-Identifier: MIT */
/*
 * RFC 9562 UUIDv7: a 48-bit Unix time in milliseconds, then 74 random bits. Time-ordered, so the
 * catalog's UNIQUE indexes on session and recording uuids take each insert on their right-most
 * pages instead of a random leaf of a b-tree that grows with every call.
 */
#pragma once

#include <stdint.h>

#define UUID_STR_LEN 36

/*
 * Formats the UUIDv7 of unix_ms (its low 48 bits) and rnd (10 bytes: rnd[0]'s low 4 bits and
 * rnd[1] are rand_a, rnd[2]'s low 6 bits and rnd[3..9] rand_b; the rest is replaced by the
 * version and variant bits) into out, lowercase, NUL-terminated. Two uuids of different
 * milliseconds sort (strcmp) in the order of their times.
 */
void uuid_v7_format(char out[UUID_STR_LEN + 1], uint64_t unix_ms, const uint8_t rnd[10]);
