// SPDX-License-Identifier: MIT
/*
 * The .siprec on-disk format (docs/FORMAT.md): the 4 KiB file header, the frames inside a chunk's
 * plaintext, and sealing/opening a chunk with AES-256-GCM, ChaCha20-Poly1305 or the unencrypted
 * mode (a truncated SHA-256 as a checksum tag). Pure functions over buffers; no I/O.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "siprecd/macro.h"
#include "siprecd/storage.h"
#include "siprecd/str.h"
#include "storage-internal.h"

/* Header field offsets, docs/FORMAT.md "File header". */
#define H_VERSION 8
#define H_HDRLEN 10
#define H_ALG 12
#define H_NONCE 13
#define H_TAG 14
#define H_FLAGS 15
#define H_CHUNK 16
#define H_KEYVER 20
#define H_CLOCK 24
#define H_PT 28
#define H_CREATED 32
#define H_PREFIX 40
#define H_STRINGS 48

#define AD_SIZE 48

struct store_cipher {
	enum store_alg alg;
	uint8_t key[STORE_KEY_SIZE];
	uint8_t header_hash[SHA256_DIGEST_LENGTH];
	EVP_CIPHER_CTX *ctx;
	/* ctx holds the key schedule for sealing (1) or opening (0); -1: not keyed. Keying is
	 * done once: each chunk then only loads its nonce, which also resets the AEAD state. */
	int keyed;
};

const char *store_alg_to_string(enum store_alg alg)
{
	switch (alg) {
	case STORE_ALG_NONE:
		return "none";
	case STORE_ALG_AES_256_GCM:
		return "AES-256-GCM";
	case STORE_ALG_CHACHA20_POLY1305:
		return "ChaCha20-Poly1305";
	}
	return "unknown";
}

int store_alg_from_string(const char *s, enum store_alg *ret)
{
	static const enum store_alg all[] = {STORE_ALG_NONE, STORE_ALG_AES_256_GCM,
					     STORE_ALG_CHACHA20_POLY1305};

	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(all); i++)
		if (strcasecmp(s, store_alg_to_string(all[i])) == 0) {
			*ret = all[i];
			return 0;
		}
	return -EINVAL;
}

const char *store_chunk_status_to_string(enum store_chunk_status s)
{
	switch (s) {
	case STORE_CHUNK_OK:
		return "ok";
	case STORE_CHUNK_AUTH_FAILED:
		return "authentication failed (modified or from another file)";
	case STORE_CHUNK_OUT_OF_ORDER:
		return "out of order (chunk dropped or reordered)";
	case STORE_CHUNK_BAD_HEADER:
		return "malformed chunk header";
	case STORE_CHUNK_TRUNCATED:
		return "truncated";
	case STORE_CHUNK_TRAILING_DATA:
		return "data after the final chunk";
	}
	return "unknown";
}

static int put_string(uint8_t *out, size_t *off, const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	if (n > max || *off + 2 + n > STORE_HEADER_SIZE)
		return -EINVAL;
	store_put_le16(out + *off, (uint16_t)n);
	if (n)
		memcpy(out + *off + 2, s, n);
	*off += 2 + n;
	return 0;
}

static int get_string(const uint8_t *buf, size_t *off, char *dst, size_t max)
{
	size_t n;

	if (*off + 2 > STORE_HEADER_SIZE)
		return -EBADMSG;
	n = store_get_le16(buf + *off);
	if (n > max || *off + 2 + n > STORE_HEADER_SIZE)
		return -EBADMSG;
	memcpy(dst, buf + *off + 2, n);
	dst[n] = 0;
	/* An embedded NUL would let two different headers print the same. */
	if (strlen(dst) != n)
		return -EBADMSG;
	*off += 2 + n;
	return 0;
}

static bool alg_valid(unsigned alg)
{
	return alg == STORE_ALG_NONE || alg == STORE_ALG_AES_256_GCM ||
	       alg == STORE_ALG_CHACHA20_POLY1305;
}

static bool chunk_size_valid(uint32_t cs)
{
	return cs >= STORE_CHUNK_SIZE_MIN && cs <= STORE_CHUNK_SIZE_MAX && cs % STORE_BLOCK == 0;
}

int store_header_encode(const struct store_header *h, uint8_t out[STORE_HEADER_SIZE])
{
	size_t off = H_STRINGS;
	int r;

	if (!alg_valid(h->alg) || !chunk_size_valid(h->chunk_size))
		return -EINVAL;
	memset(out, 0, STORE_HEADER_SIZE);
	memcpy(out, STORE_MAGIC, STORE_MAGIC_LEN);
	store_put_le16(out + H_VERSION, STORE_VERSION);
	store_put_le16(out + H_HDRLEN, STORE_HEADER_SIZE);
	out[H_ALG] = h->alg;
	out[H_NONCE] = STORE_NONCE_SIZE;
	out[H_TAG] = STORE_TAG_SIZE;
	store_put_le32(out + H_CHUNK, h->chunk_size);
	store_put_le32(out + H_KEYVER, h->key_version);
	store_put_le32(out + H_CLOCK, h->clock_rate);
	out[H_PT] = h->payload_type;
	store_put_le64(out + H_CREATED, h->created_ns);
	memcpy(out + H_PREFIX, h->nonce_prefix, 4);
	if ((r = put_string(out, &off, h->key_id, STORE_KEY_ID_MAX)) < 0 ||
	    (r = put_string(out, &off, h->recording_id, STORE_RECORDING_ID_MAX)) < 0 ||
	    (r = put_string(out, &off, h->session_id, STORE_SESSION_ID_MAX)) < 0 ||
	    (r = put_string(out, &off, h->stream_label, STORE_LABEL_MAX)) < 0 ||
	    (r = put_string(out, &off, h->codec, STORE_CODEC_MAX)) < 0 ||
	    (r = put_string(out, &off, h->formats, STORE_FORMATS_MAX)) < 0)
		return r;
	return 0;
}

int store_header_decode(const uint8_t *buf, size_t len, struct store_header *ret)
{
	struct store_header h = {0};
	size_t off = H_STRINGS;

	if (len < STORE_HEADER_SIZE || memcmp(buf, STORE_MAGIC, STORE_MAGIC_LEN) != 0)
		return -EBADMSG;
	h.version = store_get_le16(buf + H_VERSION);
	if (h.version != STORE_VERSION)
		return -EPROTONOSUPPORT;
	if (store_get_le16(buf + H_HDRLEN) != STORE_HEADER_SIZE)
		return -EBADMSG;
	h.alg = buf[H_ALG];
	h.nonce_size = buf[H_NONCE];
	h.tag_size = buf[H_TAG];
	h.chunk_size = store_get_le32(buf + H_CHUNK);
	if (!alg_valid(h.alg) || h.nonce_size != STORE_NONCE_SIZE || h.tag_size != STORE_TAG_SIZE ||
	    buf[H_FLAGS] != 0 || !chunk_size_valid(h.chunk_size))
		return -EBADMSG;
	h.key_version = store_get_le32(buf + H_KEYVER);
	h.clock_rate = store_get_le32(buf + H_CLOCK);
	h.payload_type = buf[H_PT];
	if (buf[H_PT + 1] || buf[H_PT + 2] || buf[H_PT + 3])
		return -EBADMSG;
	h.created_ns = store_get_le64(buf + H_CREATED);
	memcpy(h.nonce_prefix, buf + H_PREFIX, 4);
	if (store_get_le32(buf + H_PREFIX + 4) != 0)
		return -EBADMSG;
	if (get_string(buf, &off, h.key_id, STORE_KEY_ID_MAX) < 0 ||
	    get_string(buf, &off, h.recording_id, STORE_RECORDING_ID_MAX) < 0 ||
	    get_string(buf, &off, h.session_id, STORE_SESSION_ID_MAX) < 0 ||
	    get_string(buf, &off, h.stream_label, STORE_LABEL_MAX) < 0 ||
	    get_string(buf, &off, h.codec, STORE_CODEC_MAX) < 0 ||
	    get_string(buf, &off, h.formats, STORE_FORMATS_MAX) < 0)
		return -EBADMSG;
	/* The padding must be zero so that a header has exactly one encoding. */
	for (; off < STORE_HEADER_SIZE; off++)
		if (buf[off])
			return -EBADMSG;
	*ret = h;
	return 0;
}

/* One "<pt> <enc>/<clock>[/<ch>][ <fmtp>]" line into *ret. */
static int format_parse(const char *line, size_t len, struct store_format *ret)
{
	struct store_format f = {.channels = 1};
	struct str v = str_make(line, len), pt, spec, enc, clock, rest;
	uint32_t u;

	pt = str_next_token(&v);
	spec = str_next_token(&v);
	if (!spec.s || str_to_u32(pt, 127, &u) < 0)
		return -EBADMSG;
	f.pt = (uint8_t)u;
	rest = str_split(spec, '/', &enc);
	if (!rest.s || str_copy(enc, f.encoding, sizeof(f.encoding)) < 0)
		return -EBADMSG;
	rest = str_split(rest, '/', &clock);
	if (str_to_u32(clock, UINT32_MAX, &f.clock_rate) < 0)
		return -EBADMSG;
	if (rest.s) {
		if (str_to_u32(rest, 255, &u) < 0 || u == 0)
			return -EBADMSG;
		f.channels = (uint8_t)u;
	}
	v = str_trim(v);
	if (v.len && str_copy(v, f.fmtp, sizeof(f.fmtp)) < 0)
		return -EBADMSG;
	*ret = f;
	return 0;
}

int store_formats_find(const char *formats, uint8_t pt, struct store_format *ret)
{
	const char *p = formats ? formats : "";

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		struct str first = str_make(p, len);
		uint32_t u;

		first = str_next_token(&first);
		if (first.s && str_to_u32(first, 127, &u) == 0 && u == pt)
			return format_parse(p, len, ret);
		p += len + (nl ? 1 : 0);
	}
	return -ENOENT;
}

int store_formats_next(const char **cursor, struct store_format *ret)
{
	while (*cursor && **cursor) {
		const char *p = *cursor, *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		*cursor = p + len + (nl ? 1 : 0);
		if (format_parse(p, len, ret) == 0)
			return 1;
	}
	return 0;
}

int store_header_format(const struct store_header *h, uint8_t pt, struct store_format *ret)
{
	int r = store_formats_find(h->formats, pt, ret);

	if (r != -ENOENT || h->formats[0] || pt != h->payload_type || !h->codec[0])
		return r;
	*ret = (struct store_format){.pt = pt, .clock_rate = h->clock_rate, .channels = 1};
	memcpy(ret->encoding, h->codec, sizeof(ret->encoding));
	return 0;
}

int store_frame_encode(const struct store_frame *f, uint8_t *buf, size_t cap, size_t *off)
{
	uint8_t *p;

	if (*off > cap || cap - *off < STORE_FRAME_HDR_SIZE + (size_t)f->len)
		return -ENOBUFS;
	p = buf + *off;
	store_put_le16(p, f->type);
	store_put_le16(p + 2, f->len);
	store_put_le64(p + 4, f->arrival_ns);
	store_put_le32(p + 12, f->ssrc);
	store_put_le16(p + 16, f->seq);
	store_put_le32(p + 18, f->rtp_ts);
	p[22] = f->pt;
	p[23] = f->flags;
	if (f->len)
		memcpy(p + STORE_FRAME_HDR_SIZE, f->payload, f->len);
	*off += STORE_FRAME_HDR_SIZE + f->len;
	return 0;
}

int store_frame_decode(const uint8_t *buf, size_t len, size_t *off, struct store_frame *ret)
{
	const uint8_t *p;
	struct store_frame f;

	if (*off >= len)
		return 0;
	if (len - *off < STORE_FRAME_HDR_SIZE)
		return -EBADMSG;
	p = buf + *off;
	f.type = store_get_le16(p);
	f.len = store_get_le16(p + 2);
	if (len - *off - STORE_FRAME_HDR_SIZE < f.len)
		return -EBADMSG;
	f.arrival_ns = store_get_le64(p + 4);
	f.ssrc = store_get_le32(p + 12);
	f.seq = store_get_le16(p + 16);
	f.rtp_ts = store_get_le32(p + 18);
	f.pt = p[22];
	f.flags = p[23];
	f.payload = p + STORE_FRAME_HDR_SIZE;
	*off += STORE_FRAME_HDR_SIZE + f.len;
	*ret = f;
	return 1;
}

int store_cipher_new(enum store_alg alg, const uint8_t *key,
		     const uint8_t header[STORE_HEADER_SIZE], struct store_cipher **ret)
{
	struct store_cipher *c;

	if (!alg_valid(alg) || (alg != STORE_ALG_NONE && !key))
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->alg = alg;
	c->keyed = -1;
	if (alg != STORE_ALG_NONE) {
		memcpy(c->key, key, STORE_KEY_SIZE);
		c->ctx = EVP_CIPHER_CTX_new();
		if (!c->ctx) {
			store_cipher_free(c);
			return -ENOMEM;
		}
	}
	SHA256(header, STORE_HEADER_SIZE, c->header_hash);
	*ret = c;
	return 0;
}

struct store_cipher *store_cipher_free(struct store_cipher *c)
{
	if (!c)
		return NULL;
	EVP_CIPHER_CTX_free(c->ctx);
	OPENSSL_cleanse(c->key, sizeof(c->key));
	free(c);
	return NULL;
}

/* AD = SHA-256(header block) || index || flags || length: binds the chunk to its file and place. */
static void build_ad(const struct store_cipher *c, uint64_t index, uint32_t flags, uint32_t len,
		     uint8_t ad[AD_SIZE])
{
	memcpy(ad, c->header_hash, 32);
	store_put_le64(ad + 32, index);
	store_put_le32(ad + 40, flags);
	store_put_le32(ad + 44, len);
}

static void build_nonce(const uint8_t prefix[4], uint64_t index, uint8_t nonce[STORE_NONCE_SIZE])
{
	memcpy(nonce, prefix, 4);
	store_put_le64(nonce + 4, index);
}

static const EVP_CIPHER *evp_cipher(enum store_alg alg)
{
	return alg == STORE_ALG_AES_256_GCM ? EVP_aes_256_gcm() : EVP_chacha20_poly1305();
}

/* Unencrypted mode: a checksum against accidents, not an authenticator. */
static void checksum_tag(const uint8_t ad[AD_SIZE], const uint8_t *data, size_t len,
			 uint8_t tag[STORE_TAG_SIZE])
{
	uint8_t md[SHA256_DIGEST_LENGTH];
	EVP_MD_CTX *m = EVP_MD_CTX_new();

	/* On allocation failure the tag is left unusable (all zero), so the chunk never verifies.
	 */
	memset(md, 0, sizeof(md));
	if (m && EVP_DigestInit_ex(m, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(m, ad, AD_SIZE) == 1 && EVP_DigestUpdate(m, data, len) == 1)
		EVP_DigestFinal_ex(m, md, NULL);
	EVP_MD_CTX_free(m);
	memcpy(tag, md, STORE_TAG_SIZE);
}

/* One AEAD pass: enc seals in -> out and writes tag; !enc opens and checks tag. 0 or -EBADMSG. */
static int aead(struct store_cipher *c, bool enc, const uint8_t nonce[STORE_NONCE_SIZE],
		const uint8_t ad[AD_SIZE], const uint8_t *in, size_t len, uint8_t *out,
		uint8_t tag[STORE_TAG_SIZE])
{
	int n;

	if (c->keyed != (int)enc) {
		/* The key schedule (and GCM's hash key) once per direction, not once per chunk:
		 * a full init per chunk was ~4,000 instructions and ~60 cache misses a seal. */
		c->keyed = -1;
		if (EVP_CipherInit_ex(c->ctx, evp_cipher(c->alg), NULL, NULL, NULL, enc) != 1 ||
		    EVP_CIPHER_CTX_ctrl(c->ctx, EVP_CTRL_AEAD_SET_IVLEN, STORE_NONCE_SIZE, NULL) !=
			    1 ||
		    EVP_CipherInit_ex(c->ctx, NULL, NULL, c->key, nonce, enc) != 1)
			return -EBADMSG;
		c->keyed = enc;
	} else if (EVP_CipherInit_ex(c->ctx, NULL, NULL, NULL, nonce, enc) != 1) {
		/* a new nonce restarts the AEAD (counter, GHASH/Poly1305, lengths, tag) */
		goto fail;
	}
	if (EVP_CipherUpdate(c->ctx, NULL, &n, ad, AD_SIZE) != 1)
		goto fail;
	if (len && EVP_CipherUpdate(c->ctx, out, &n, in, (int)len) != 1)
		goto fail;
	if (!enc && EVP_CIPHER_CTX_ctrl(c->ctx, EVP_CTRL_AEAD_SET_TAG, STORE_TAG_SIZE, tag) != 1)
		goto fail;
	if (EVP_CipherFinal_ex(c->ctx, out + len, &n) != 1)
		goto fail;
	if (enc && EVP_CIPHER_CTX_ctrl(c->ctx, EVP_CTRL_AEAD_GET_TAG, STORE_TAG_SIZE, tag) != 1)
		goto fail;
	return 0;
fail:
	/* a tag that does not verify, or a failure: the next chunk keys the context afresh
	 * rather than trust what state the failure left in it */
	c->keyed = -1;
	return -EBADMSG;
}

int store_chunk_seal(struct store_cipher *c, const uint8_t nonce_prefix[4], uint64_t index,
		     uint32_t flags, const uint8_t *plain, size_t len, uint8_t *out)
{
	uint8_t ad[AD_SIZE], nonce[STORE_NONCE_SIZE];
	size_t disk = store_chunk_disk_size(len);
	uint8_t *ct = out + STORE_CHUNK_HDR_SIZE;

	if (len > STORE_CHUNK_SIZE_MAX || (flags & ~STORE_CHUNK_FINAL))
		return -EINVAL;
	build_nonce(nonce_prefix, index, nonce);
	build_ad(c, index, flags, (uint32_t)len, ad);
	memcpy(out, STORE_CHUNK_MAGIC, 4);
	store_put_le32(out + 4, flags);
	store_put_le64(out + 8, index);
	store_put_le32(out + 16, (uint32_t)len);
	memcpy(out + 20, nonce, STORE_NONCE_SIZE);
	if (c->alg == STORE_ALG_NONE) {
		if (len)
			memmove(ct, plain, len);
		checksum_tag(ad, ct, len, ct + len);
	} else if (aead(c, true, nonce, ad, plain, len, ct, ct + len) < 0)
		return -EIO;
	memset(ct + len + STORE_TAG_SIZE, 0, disk - STORE_CHUNK_HDR_SIZE - len - STORE_TAG_SIZE);
	return (int)disk;
}

enum store_chunk_status store_chunk_open(struct store_cipher *c, const struct store_header *h,
					 uint64_t index, const uint8_t *in, size_t avail,
					 uint8_t *plain, size_t *ret_len, uint32_t *ret_flags,
					 size_t *ret_disk)
{
	uint8_t ad[AD_SIZE], nonce[STORE_NONCE_SIZE], tag[STORE_TAG_SIZE];
	uint32_t flags, len;
	size_t disk;
	const uint8_t *ct = in + STORE_CHUNK_HDR_SIZE;

	if (avail < STORE_CHUNK_HDR_SIZE)
		return STORE_CHUNK_TRUNCATED;
	if (memcmp(in, STORE_CHUNK_MAGIC, 4) != 0)
		return STORE_CHUNK_BAD_HEADER;
	flags = store_get_le32(in + 4);
	len = store_get_le32(in + 16);
	if ((flags & ~STORE_CHUNK_FINAL) || len > store_chunk_capacity(h->chunk_size))
		return STORE_CHUNK_BAD_HEADER;
	if (store_get_le64(in + 8) != index)
		return STORE_CHUNK_OUT_OF_ORDER;
	build_nonce(h->nonce_prefix, index, nonce);
	/* A nonce other than this file's for this index: the chunk was sealed for another file. */
	if (memcmp(in + 20, nonce, STORE_NONCE_SIZE) != 0)
		return STORE_CHUNK_AUTH_FAILED;
	disk = store_chunk_disk_size(len);
	if (avail < disk)
		return STORE_CHUNK_TRUNCATED;
	build_ad(c, index, flags, len, ad);
	memcpy(tag, ct + len, STORE_TAG_SIZE);
	if (c->alg == STORE_ALG_NONE) {
		uint8_t want[STORE_TAG_SIZE];

		checksum_tag(ad, ct, len, want);
#ifndef FUZZING /* lets the fuzzer reach the frame parser through unencrypted chunks */
		if (CRYPTO_memcmp(want, tag, STORE_TAG_SIZE) != 0)
			return STORE_CHUNK_AUTH_FAILED;
#endif
		if (len)
			memcpy(plain, ct, len);
	} else if (aead(c, false, nonce, ad, ct, len, plain, tag) < 0) {
		OPENSSL_cleanse(plain, len);
		return STORE_CHUNK_AUTH_FAILED;
	}
	for (size_t i = STORE_CHUNK_HDR_SIZE + len + STORE_TAG_SIZE; i < disk; i++)
		if (in[i])
			return STORE_CHUNK_BAD_HEADER;
	*ret_len = len;
	*ret_flags = flags;
	*ret_disk = disk;
	return STORE_CHUNK_OK;
}
