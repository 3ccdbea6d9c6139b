// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the .siprec reader: header decoding, chunk opening (all three
 * algorithms, with the test-vector key) and frame iteration over arbitrary bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "siprecd/storage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int lookup_fixed(void *ud, const char *key_id, uint32_t kv, const char *rec,
			uint8_t ret_key[STORE_KEY_SIZE])
{
	for (unsigned i = 0; i < STORE_KEY_SIZE; i++)
		ret_key[i] = (uint8_t)i;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct store_key_lookup lookup = {lookup_fixed, NULL};
	struct store_reader *r;
	struct store_check_result res;
	struct store_frame f;
	uint64_t n = 0;

	if (size > 1u << 20)
		return 0;
	if (store_reader_open_mem(data, size, &lookup, &r) < 0)
		return 0;
	while (store_reader_next_frame(r, &f) > 0) {
		/* Touch the payload so ASan checks its bounds. */
		if (f.len)
			n += f.payload[0] + f.payload[f.len - 1];
	}
	store_reader_status(r, &res);
	if (res.complete && res.failed)
		__builtin_trap();
	store_reader_free(r);
	return (int)(n & 0);
}
