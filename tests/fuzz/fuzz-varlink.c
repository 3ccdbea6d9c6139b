// SPDX-License-Identifier: MIT
/* libFuzzer target for the control socket's input path: NUL framing of a byte stream (fed in
 * pieces whose sizes come from the input) and the varlink call parser on every message. */
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "control/control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct control_frame f;
	size_t off = 0;

	control_frame_init(&f, 4096);
	while (off < size) {
		/* The first byte of each piece says how long the piece is. */
		size_t n = 1 + data[off] % 64;
		const char *msg;
		size_t len;

		if (n > size - off)
			n = size - off;
		if (control_frame_feed(&f, data + off, n) < 0)
			break;
		off += n;
		while (control_frame_next(&f, &msg, &len) == 1) {
			struct control_call call;

			if (control_call_parse(msg, len, &call) == 0)
				json_object_put(call.obj);
		}
	}
	control_frame_done(&f);
	return 0;
}
