// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the a=crypto (RFC 4568) value parser: any accepted line must carry keys
 * of exactly its suite's key+salt length, and MKIs consistent across keys.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "siprecd/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sdp_crypto c;
	int r;

	r = sdp_crypto_parse(str_make((const char *)data, size), &c);
	if (r == -EBADMSG || r == -ENOTSUP)
		return 0;
	if (r != 0 || !c.suite || c.n_keys == 0 || c.n_keys > SDP_CRYPTO_MAX_KEYS || c.tag == 0 ||
	    c.tag > 999999999)
		abort();
	for (unsigned i = 0; i < c.n_keys; i++) {
		if (c.keys[i].key_salt_len != c.suite->key_len + c.suite->salt_len)
			abort();
		if (c.n_keys > 1 && c.keys[i].mki_len != c.keys[0].mki_len)
			abort();
	}
	sdp_crypto_wipe(&c);
	return 0;
}
