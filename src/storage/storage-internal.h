/* SPDX-License-Identifier: MIT */
/*
 * Private helpers of src/storage: little-endian loads and stores (the .siprec format is
 * little-endian throughout, docs/FORMAT.md) and the SHA-256 of a block.
 */
#pragma once

#include <stdint.h>

static inline void store_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static inline void store_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (v >> (8 * i)) & 0xff;
}

static inline void store_put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (v >> (8 * i)) & 0xff;
}

static inline uint16_t store_get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t store_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static inline uint64_t store_get_le64(const uint8_t *p)
{
	return (uint64_t)store_get_le32(p) | ((uint64_t)store_get_le32(p + 4) << 32);
}
