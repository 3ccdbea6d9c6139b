// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the recording metadata siprecd takes from SIP headers when an INVITE
 * carries no rs-metadata body (docs/METADATA.md: CUCM's From parameters, X-Cisco-Recording-
 * Participant and X-Recording-Participant): a SIP message in, the model and its JSON.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "siprecd/sip.h"
#include "siprecd/siprec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sip_msg m;
	struct siprec_limits lim = SIPREC_LIMITS_DEFAULT;
	struct siprec_metadata *md = NULL;
	char *buf = malloc(size ? size : 1), *json = NULL;

	if (!buf)
		return 0;
	if (size)
		memcpy(buf, data, size);
	/* a small model limit reaches the limit paths with short inputs */
	lim.max_participants = 4;
	lim.max_streams = 4;
	if ((sip_msg_parse(&m, buf, size, NULL) >= 0 || m.headers_ok) &&
	    siprec_metadata_from_headers(&m, &lim, &md) > 0) {
		if (siprec_metadata_to_json(md, &json) == 0)
			free(json);
		siprec_metadata_free(md);
	}
	free(buf);
	return 0;
}
