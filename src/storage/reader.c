// SPDX-License-Identifier: MIT
/*
 * The verifying reader of .siprec files: checks the header, then opens chunk after chunk in file
 * order and hands out their frames. It stops at the first chunk that fails (its index and the
 * reason are kept), so everything it returned is authentic; a file whose FINAL chunk is missing
 * is "incomplete" but readable up to its last intact chunk. Used by siprec-export and by the
 * daemon's crash check at start (store_file_check).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "siprecd/macro.h"
#include "siprecd/storage.h"

struct store_reader {
	int fd; /* -1 for a memory reader */
	const uint8_t *mem;
	uint64_t size;
	uint64_t off;
	struct store_header h;
	struct store_cipher *cipher;

	uint8_t *raw; /* one on-disk chunk (fd readers) */
	uint8_t *plain;
	size_t plain_len;
	size_t frame_off;
	bool have_plain;

	uint64_t index;
	bool final_seen;
	bool ended;
	struct store_check_result res;
};

static int pread_all(int fd, uint8_t *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done, (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (int)done;
}

static bool is_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/*
 * A file whose header did not decode: 1 when it holds nothing (empty, or every byte zero: the
 * header's write had not reached the disk when a crash came, docs/FORMAT.md "Zeros written
 * ahead"), 0 when a byte is not zero (a damaged header), <0 on I/O error. Only the files that
 * fail come here, so a good file's open reads nothing more.
 */
static int file_all_zero(int fd, uint64_t size)
{
	uint8_t buf[STORE_HEADER_SIZE];

	for (uint64_t off = 0; off < size;) {
		int n = pread_all(fd, buf, (size_t)MIN(size - off, (uint64_t)sizeof(buf)), off);

		if (n < 0)
			return n;
		if (n == 0)
			break; /* shorter than fstat said: cut meanwhile */
		if (!is_zero(buf, (size_t)n))
			return 0;
		off += (uint64_t)n;
	}
	return 1;
}

static int reader_init(struct store_reader *r, const uint8_t *hdr,
		       const struct store_key_lookup *lookup)
{
	uint8_t key[STORE_KEY_SIZE];
	int ret;

	ret = store_header_decode(hdr, STORE_HEADER_SIZE, &r->h);
	if (ret < 0)
		return ret;
	if (r->h.alg != STORE_ALG_NONE) {
		if (!lookup || !lookup->fn)
			return -ENOKEY;
		ret = lookup->fn(lookup->userdata, r->h.key_id, r->h.key_version, r->h.recording_id,
				 key);
		if (ret < 0)
			return ret;
	}
	ret = store_cipher_new(r->h.alg, r->h.alg != STORE_ALG_NONE ? key : NULL, hdr, &r->cipher);
	OPENSSL_cleanse(key, sizeof(key));
	if (ret < 0)
		return ret;
	r->plain = malloc(store_chunk_capacity(r->h.chunk_size));
	if (!r->plain)
		return -ENOMEM;
	if (r->fd >= 0) {
		r->raw = malloc(r->h.chunk_size);
		if (!r->raw)
			return -ENOMEM;
	}
	r->off = STORE_HEADER_SIZE;
	r->res.last_good_index = -1;
	r->res.first_bad_index = -1;
	r->res.file_size = r->size;
	r->res.data_end = STORE_HEADER_SIZE;
	return 0;
}

int store_reader_open(const char *path, const struct store_key_lookup *lookup,
		      struct store_reader **ret)
{
	uint8_t hdr[STORE_HEADER_SIZE];
	struct store_reader *r;
	struct stat st;
	int n;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		n = -errno;
		free(r);
		return n;
	}
	if (fstat(r->fd, &st) < 0) {
		n = -errno;
		goto fail;
	}
	n = -EBADMSG;
	if (!S_ISREG(st.st_mode))
		goto fail;
	r->size = (uint64_t)st.st_size;
	n = pread_all(r->fd, hdr, sizeof(hdr), 0);
	if (n < 0)
		goto fail;
	if ((size_t)n < sizeof(hdr)) {
		n = -EBADMSG;
		goto empty;
	}
	n = reader_init(r, hdr, lookup);
	if (n == -EBADMSG)
		goto empty;
	if (n < 0)
		goto fail;
	*ret = r;
	return 0;
empty:
	/* nothing written, or nothing that reached the disk: not a damaged header */
	if (file_all_zero(r->fd, r->size) > 0)
		n = -ENODATA;
fail:
	store_reader_free(r);
	return n;
}

int store_reader_open_mem(const uint8_t *buf, size_t len, const struct store_key_lookup *lookup,
			  struct store_reader **ret)
{
	struct store_reader *r;
	int n;

	if (len < STORE_HEADER_SIZE || is_zero(buf, STORE_HEADER_SIZE))
		return is_zero(buf, len) ? -ENODATA : -EBADMSG;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->fd = -1;
	r->mem = buf;
	r->size = len;
	n = reader_init(r, buf, lookup);
	if (n < 0) {
		store_reader_free(r);
		return n;
	}
	*ret = r;
	return 0;
}

struct store_reader *store_reader_free(struct store_reader *r)
{
	if (!r)
		return NULL;
	if (r->fd >= 0)
		close(r->fd);
	store_cipher_free(r->cipher);
	if (r->plain) {
		OPENSSL_cleanse(r->plain, store_chunk_capacity(r->h.chunk_size));
		free(r->plain);
	}
	free(r->raw);
	free(r);
	return NULL;
}

const struct store_header *store_reader_header(const struct store_reader *r)
{
	return &r->h;
}

static void fail_chunk(struct store_reader *r, enum store_chunk_status st)
{
	r->res.failed = true;
	r->res.first_bad_index = (int64_t)r->index;
	r->res.reason = st;
	r->ended = true;
}

/* 1 when every byte from r->off to the end of the file is zero, 0 if not, <0 on I/O error. */
static int zero_to_end(struct store_reader *r)
{
	for (uint64_t off = r->off; off < r->size;) {
		size_t n = (size_t)MIN(r->size - off, (uint64_t)r->h.chunk_size);
		const uint8_t *p;

		if (r->fd >= 0) {
			int got = pread_all(r->fd, r->raw, n, off);

			if (got < 0)
				return got;
			if ((size_t)got < n)
				n = (size_t)got;
			if (!n)
				break;
			p = r->raw;
		} else
			p = r->mem + off;
		if (!is_zero(p, n))
			return 0;
		off += n;
	}
	return 1;
}

/* Opens the next chunk into plain: 1 if one was opened, 0 at the end (state recorded), <0 I/O. */
static int next_chunk(struct store_reader *r)
{
	const uint8_t *in;
	size_t avail, len, disk;
	uint32_t flags;
	enum store_chunk_status st;

	if (r->ended)
		return 0;
	if (r->off >= r->size) {
		r->ended = true;
		return 0;
	}
	if (r->final_seen) {
		/* Zeros after the FINAL chunk: its writes reached the disk and the cut that ends
		 * the file there did not (a crash, or a failed sync, before it was durable). The
		 * FINAL chunk authenticates the end of the data, and zeros hold none: complete,
		 * with data_end below file_size. Any other byte is data after the end. */
		int z = zero_to_end(r);

		if (z < 0)
			return z;
		if (z)
			r->ended = true;
		else
			fail_chunk(r, STORE_CHUNK_TRAILING_DATA);
		return 0;
	}
	avail = (size_t)MIN(r->size - r->off, (uint64_t)r->h.chunk_size);
	if (r->fd >= 0) {
		int n = pread_all(r->fd, r->raw, avail, r->off);

		if (n < 0)
			return n;
		avail = (size_t)n;
		in = r->raw;
	} else
		in = r->mem + r->off;
	if (is_zero(in, MIN(avail, (size_t)STORE_CHUNK_HDR_SIZE))) {
		int z = zero_to_end(r);

		if (z < 0)
			return z;
		if (z) {
			/* written ahead by the writer and never reached: the data ends here */
			r->ended = true;
			return 0;
		}
	}
	st = store_chunk_open(r->cipher, &r->h, r->index, in, avail, r->plain, &len, &flags, &disk);
	if (st != STORE_CHUNK_OK) {
		fail_chunk(r, st);
		return 0;
	}
	r->plain_len = len;
	r->frame_off = 0;
	r->have_plain = true;
	r->off += disk;
	r->res.data_end = r->off;
	r->res.chunks++;
	r->res.last_good_index = (int64_t)r->index;
	r->index++;
	if (flags & STORE_CHUNK_FINAL)
		r->final_seen = true;
	return 1;
}

int store_reader_next_frame(struct store_reader *r, struct store_frame *ret)
{
	for (;;) {
		int n;

		if (r->have_plain) {
			n = store_frame_decode(r->plain, r->plain_len, &r->frame_off, ret);
			if (n < 0)
				return n;
			if (n > 0) {
				r->res.frames++;
				return 1;
			}
			r->have_plain = false;
		}
		n = next_chunk(r);
		if (n <= 0)
			return n;
	}
}

void store_reader_status(const struct store_reader *r, struct store_check_result *ret)
{
	*ret = r->res;
	ret->complete = r->ended && r->final_seen && !r->res.failed;
}

double store_reader_progress(const struct store_reader *r)
{
	return r->size ? (double)r->off / (double)r->size : 1.0;
}

int store_file_check(const char *path, const struct store_key_lookup *lookup,
		     struct store_check_result *ret)
{
	struct store_reader *r;
	struct store_frame f;
	int n;

	n = store_reader_open(path, lookup, &r);
	if (n < 0)
		return n;
	while ((n = store_reader_next_frame(r, &f)) > 0)
		;
	if (n == 0)
		store_reader_status(r, ret);
	store_reader_free(r);
	return n;
}
