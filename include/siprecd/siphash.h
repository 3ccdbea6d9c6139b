/* SPDX-License-Identifier: MIT */
/*
 * SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed hash for the tables that peers fill
 * (transactions, sessions, per-source counters). With a random per-boot key a peer cannot
 * choose Call-IDs, branches or addresses that all land in one bucket.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct siphash_key {
	uint64_t k0, k1;
};

/* SipHash-2-4 of data[0..len) under key; the 64-bit result as the reference code's
 * little-endian output bytes read as a little-endian integer. */
uint64_t siphash24(const struct siphash_key *key, const void *data, size_t len);
/* The process-wide key, drawn from getrandom on first use (aborts if the kernel has no
 * entropy source at all: a predictable key would defeat the point). Thread-safe. */
const struct siphash_key *siphash_boot_key(void);
