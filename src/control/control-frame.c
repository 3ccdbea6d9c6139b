// SPDX-License-Identifier: MIT
/*
 * Varlink framing: a byte stream carries JSON messages each terminated by a NUL byte. Received
 * bytes are appended here; complete messages are taken one at a time. A message longer than the
 * limit, terminated or not, is an error (the peer is disconnected), so the buffer never grows
 * past limit plus one receive.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "control/control.h"

void control_frame_init(struct control_frame *f, size_t limit)
{
	*f = (struct control_frame){.limit = limit};
}

void control_frame_done(struct control_frame *f)
{
	free(f->buf);
	*f = (struct control_frame){.limit = f->limit};
}

int control_frame_feed(struct control_frame *f, const void *data, size_t len)
{
	const char *nul;

	if (f->off > 0) {
		memmove(f->buf, f->buf + f->off, f->len - f->off);
		f->len -= f->off;
		f->scanned -= f->off;
		f->msg_start -= f->off;
		f->off = 0;
	}
	if (len > SIZE_MAX / 2 - f->len)
		return -EMSGSIZE;
	if (f->len + len > f->cap) {
		size_t cap = f->cap ? f->cap : 4096;
		char *b;

		while (cap < f->len + len)
			cap *= 2;
		b = realloc(f->buf, cap);
		if (!b)
			return -ENOMEM;
		f->buf = b;
		f->cap = cap;
	}
	memcpy(f->buf + f->len, data, len);
	f->len += len;
	/* Only the new bytes are scanned: a message trickling in a byte at a time must not cost
	 * a rescan of everything before it on each read (quadratic in the message size). Every
	 * complete message, and the unterminated tail, must fit the limit. */
	f->bytes_scanned += f->len - f->scanned;
	while ((nul = memchr(f->buf + f->scanned, '\0', f->len - f->scanned))) {
		if ((size_t)(nul - (f->buf + f->msg_start)) > f->limit)
			return -EMSGSIZE;
		f->pending++;
		f->scanned = f->msg_start = (size_t)(nul - f->buf) + 1;
	}
	f->scanned = f->len;
	if (f->len - f->msg_start > f->limit)
		return -EMSGSIZE;
	return 0;
}

int control_frame_next(struct control_frame *f, const char **ret_msg, size_t *ret_len)
{
	const char *nul;

	/* Without a complete message there is nothing to look for (and no tail to rescan). */
	if (f->pending == 0)
		return 0;
	nul = memchr(f->buf + f->off, '\0', f->len - f->off);
	if (!nul)
		return 0;
	*ret_msg = f->buf + f->off;
	*ret_len = (size_t)(nul - (f->buf + f->off));
	f->off = (size_t)(nul - f->buf) + 1;
	f->pending--;
	return 1;
}

unsigned control_frame_pending(const struct control_frame *f)
{
	return f->pending;
}
