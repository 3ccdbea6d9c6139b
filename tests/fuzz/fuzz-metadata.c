// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the rs-metadata parser and the model operations: parse (the lenient
 * entry point, which runs the strict parser, the stray-'&' recovery pass and the pre-RFC
 * <recording_metadata> dialect), serialise to JSON, look every label up, and merge the
 * document into a fixed complete base and into itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "siprecd/siprec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char base_xml[] =
	"<recording xmlns='urn:ietf:params:xml:ns:recording:1'><datamode>complete</datamode>"
	"<session session_id='s1'/><participant participant_id='p1'><nameID aor='sip:a@x'/>"
	"</participant><stream stream_id='t1' session_id='s1'><label>1</label></stream>"
	"<participantstreamassoc participant_id='p1'><send>t1</send></participantstreamassoc>"
	"</recording>";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct siprec_metadata *md = NULL, *base = NULL;
	char *json = NULL;

	/* a quarter of the inputs run against tiny limits to reach every -E2BIG path */
	struct siprec_limits lim = SIPREC_LIMITS_DEFAULT;

	if ((size & 3) == 3)
		lim = (struct siprec_limits){
			.max_parts = 1,
			.max_part_size = 64,
			.max_body_size = 65536,
			.max_participants = 2,
			.max_streams = 2,
			.max_sessions = 1,
			.max_depth = 4,
			.max_elements = 16,
			.max_attr_len = 8,
			.max_text_len = 8,
			.max_names = 1,
			.max_extensions = 2,
			.max_warnings = 2,
		};
	if (siprec_metadata_parse_lenient((const char *)data, size, &lim, &md) < 0)
		return 0;
	if (siprec_metadata_to_json(md, &json) == 0)
		free(json);
	for (size_t i = 0; i < md->n_streams; i++) {
		const struct siprec_stream_md *s =
			md->streams[i].label ? siprec_metadata_stream_by_label(
						       md, str_from_cstr(md->streams[i].label))
					     : NULL;

		if (md->streams[i].label && !s)
			abort();
		(void)siprec_metadata_sender_of(md, md->streams[i].id);
	}
	if (siprec_metadata_parse(base_xml, sizeof(base_xml) - 1, NULL, &base) == 0) {
		(void)siprec_metadata_merge(base, md);
		if (siprec_metadata_to_json(base, &json) == 0)
			free(json);
		siprec_metadata_free(base);
	}
	(void)siprec_metadata_merge(md, md);
	siprec_metadata_free(md);
	return 0;
}
