// SPDX-License-Identifier: MIT
/*
 * siprec-web's view of one recording file: its integrity verdict (every sealed chunk opened
 * through the storage reader, as `siprec-export --verify` does, and the file's sha256 against
 * the catalog's) and a waveform picture (min/max of the decoded PCM per pixel column, as SVG),
 * both from one pass over the file. Also the keys the reader needs: siprecd's key store, opened
 * read-only from its configuration as siprec-export opens it, and in write-only mode the X25519
 * private key that opens the recordings' envelopes (siprecd holds only the public key).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "siprecd/compliance.h"
#include "siprecd/config.h"
#include "siprecd/keys.h"
#include "siprecd/storage.h"
#include "web.h"

static struct keys *keys;
/* Write-only mode: the private key (locked in memory, wiped at exit), its public key's id
 * ("pub:..."), and the catalog that holds the envelopes. */
static uint8_t *priv;
static char priv_id[KEYS_KEY_ID_MAX + 1];
static const char *priv_catalog;
/* keys_refresh replaces key versions in memory: one caller at a time. */
static pthread_mutex_t keys_lock = PTHREAD_MUTEX_INITIALIZER;

int web_keys_open(const struct config *cfg, char *err, size_t errlen)
{
	int r;

	if (strcmp(cfg->encryption_key_store, "public-key") == 0) {
		snprintf(err, errlen,
			 "write-only mode: the recordings open with the private key only");
		return -EKEYREJECTED;
	}
	/* Read-only: a reader never creates or rotates keys. */
	r = keys_open(&(struct keys_options){.store = cfg->encryption_key_store,
					     .catalog_path = cfg->catalog_path,
					     .key_path = cfg->master_key_path,
					     .password = cfg->master_password,
					     .kdf = cfg->kdf,
					     .readonly = true},
		      &keys);
	if (r < 0)
		snprintf(err, errlen, "%s", keys_error());
	return r;
}

int web_aor_indexes(const char *aor, const char ***ret, size_t *ret_n)
{
	int r;

	*ret = NULL;
	*ret_n = 0;
	if (!keys)
		return 0;
	pthread_mutex_lock(&keys_lock);
	/* a data key version rotated in since the console opened the store counts too */
	(void)keys_refresh(keys);
	r = keys_aor_indexes(keys, aor, ret, ret_n);
	pthread_mutex_unlock(&keys_lock);
	return r;
}

void web_keys_close(void)
{
	keys = keys_free(keys);
	if (priv) {
		OPENSSL_cleanse(priv, 32);
		munmap(priv, 4096);
		priv = NULL;
	}
}

int web_private_key_load(const char *path, const char *catalog, char *err, size_t errlen)
{
	uint8_t pub[32];
	size_t n = sizeof(pub);
	EVP_PKEY *pk;
	void *m;
	int r;

	/* A page of its own: locked (not swapped) and left out of core dumps, as the key
	 * store's region. */
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -ENOMEM;
	}
	(void)mlock(m, 4096); /* best effort: RLIMIT_MEMLOCK may refuse */
	(void)madvise(m, 4096, MADV_DONTDUMP);
	/* Refuses a file group or others can read (docs/KEYS.md); errors name the path only. */
	r = keys_x25519_load(path, true, m);
	if (r < 0) {
		snprintf(err, errlen, "%s", keys_error());
		OPENSSL_cleanse(m, 32);
		munmap(m, 4096);
		return r;
	}
	pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, m, 32);
	if (!pk || EVP_PKEY_get_raw_public_key(pk, pub, &n) != 1 || n != 32) {
		EVP_PKEY_free(pk);
		snprintf(err, errlen, "%s: not an X25519 private key", path);
		OPENSSL_cleanse(m, 32);
		munmap(m, 4096);
		return -EBADMSG;
	}
	EVP_PKEY_free(pk);
	keys_public_key_id(pub, priv_id);
	priv = m;
	priv_catalog = catalog;
	return 0;
}

const char *web_private_key_id(void)
{
	return priv ? priv_id : NULL;
}

struct keys *web_keys(void)
{
	return keys;
}

static int lookup_key(void *ud, const char *key_id, uint32_t key_version, const char *rec,
		      uint8_t ret_key[STORE_KEY_SIZE])
{
	struct recording_key rk;
	int r;

	(void)ud;
	/* Write-only: the envelope in the catalog, opened with the private key; nothing else
	 * opens it (a key of another public key id is refused by the envelope's tag). */
	if (strncmp(key_id, "pub:", 4) == 0)
		return priv ? keys_envelope_lookup(priv_catalog, priv, rec, ret_key)
			    : -EKEYREJECTED;
	if (!keys)
		return -ENOKEY;
	pthread_mutex_lock(&keys_lock);
	r = keys_recording_key_get(keys, key_id, key_version, rec, &rk);
	if (r == -ENOKEY && keys_refresh(keys) >= 0) /* a version rotated in since we opened */
		r = keys_recording_key_get(keys, key_id, key_version, rec, &rk);
	pthread_mutex_unlock(&keys_lock);
	if (r < 0)
		return r;
	memcpy(ret_key, rk.key, STORE_KEY_SIZE);
	recording_key_wipe(&rk);
	return 0;
}

static const struct store_key_lookup lookup = {lookup_key, NULL};

/* The waveform: WAVE_W columns, each a vertical line from the column's minimum to its maximum
 * sample, in a WAVE_H-high box (0 in the middle). */
#define WAVE_W 600
#define WAVE_H 64

static char *waveform_svg(const int16_t *pcm, size_t n, unsigned rate, int *ret_peak)
{
	size_t cap = 256 + WAVE_W * 24, len = 0;
	char *svg = malloc(cap);
	int peak = 0;

	if (!svg)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		int a = pcm[i] < 0 ? -(int)pcm[i] : pcm[i];

		if (a > peak)
			peak = a;
	}
	len += (size_t)snprintf(svg + len, cap - len,
				"<svg class=\"wave\" xmlns=\"http://www.w3.org/2000/svg\" "
				"width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
				"data-peak=\"%d\" data-seconds=\"%.3f\"><title>%.1f s</title>"
				"<rect width=\"%d\" height=\"%d\" fill=\"#f4f6fa\"/>"
				"<path stroke=\"#234\" stroke-width=\"1\" d=\"",
				WAVE_W, WAVE_H, WAVE_W, WAVE_H, peak, rate ? (double)n / rate : 0.0,
				rate ? (double)n / rate : 0.0, WAVE_W, WAVE_H);
	for (size_t x = 0; x < WAVE_W && n > 0; x++) {
		size_t a = x * n / WAVE_W, b = (x + 1) * n / WAVE_W;
		int lo = 0, hi = 0;

		for (size_t i = a; i < b; i++) {
			if (pcm[i] < lo)
				lo = pcm[i];
			if (pcm[i] > hi)
				hi = pcm[i];
		}
		/* 32768 maps to half the height; at least one pixel so silence shows as a line. */
		int y0 = WAVE_H / 2 - hi * (WAVE_H / 2) / 32768,
		    y1 = WAVE_H / 2 - lo * (WAVE_H / 2) / 32768;

		if (y1 <= y0)
			y1 = y0 + 1;
		len += (size_t)snprintf(svg + len, cap - len, "M%zu.5 %dV%d", x, y0, y1);
	}
	snprintf(svg + len, cap - len, "\"/></svg>");
	*ret_peak = peak;
	return svg;
}

void web_rec_check(const char *path, const char *sha256, bool want_wave, struct web_rec_check *ret)
{
	struct store_reader *rd = NULL;
	struct store_track *track = NULL;
	struct store_check_result res;
	struct store_frame f;
	struct stat sb;
	int r;

	memset(ret, 0, sizeof(*ret));
	if (stat(path, &sb) < 0) {
		snprintf(ret->verdict, sizeof(ret->verdict),
			 errno == ENOENT ? "missing" : "unreadable");
		snprintf(ret->detail, sizeof(ret->detail), "%s", strerror(errno));
		return;
	}
	r = store_reader_open(path, &lookup, &rd);
	if (r == -ENODATA) {
		/* docs/FORMAT.md: created, and a crash came before its header reached the disk */
		snprintf(ret->verdict, sizeof(ret->verdict), "incomplete");
		snprintf(ret->detail, sizeof(ret->detail),
			 "empty: nothing of it reached the disk before a crash");
		return;
	}
	if (r < 0) {
		bool bad = r == -EBADMSG || r == -EPROTONOSUPPORT;

		snprintf(ret->verdict, sizeof(ret->verdict), "%s",
			 bad		      ? "broken"
			 : r == -EKEYREVOKED  ? "shredded"
			 : r == -ENOKEY	      ? "no key"
			 : r == -EKEYREJECTED ? "no key"
					      : "unreadable");
		snprintf(ret->detail, sizeof(ret->detail), "%s",
			 bad		     ? "not a siprec recording or a damaged header"
			 : r == -EKEYREVOKED ? "its data key was destroyed"
			 : r == -EKEYREJECTED && priv
				 ? "written in write-only mode for another key than --private-key's"
			 : r == -EKEYREJECTED ? "written in write-only mode: --private-key opens it"
					      : strerror(-r));
		return;
	}
	if (want_wave) {
		const struct store_header *h = store_reader_header(rd);
		const char *cur = h->formats;
		struct store_format sf;

		if (store_track_new(h->codec, h->payload_type, &track) == 0)
			while (store_formats_next(&cur, &sf) > 0)
				store_track_map_pt(track, sf.pt, sf.encoding, sf.clock_rate,
						   sf.fmtp[0] ? sf.fmtp : NULL);
	}
	while ((r = store_reader_next_frame(rd, &f)) > 0)
		if (track && store_track_add(track, &f) < 0)
			track = store_track_free(track); /* too long to draw: verify on */
	store_reader_status(rd, &res);
	store_reader_free(rd);
	ret->chunks = res.chunks;
	if (r < 0 || res.failed) {
		snprintf(ret->verdict, sizeof(ret->verdict), "broken");
		if (r == -EBADMSG)
			snprintf(ret->detail, sizeof(ret->detail),
				 "malformed frame inside authentic chunk %" PRId64,
				 res.last_good_index);
		else if (r < 0)
			snprintf(ret->detail, sizeof(ret->detail), "%s", strerror(-r));
		else
			snprintf(ret->detail, sizeof(ret->detail), "chunk %" PRId64 ": %s",
				 res.first_bad_index, store_chunk_status_to_string(res.reason));
	} else if (!res.complete) {
		snprintf(ret->verdict, sizeof(ret->verdict), "incomplete");
		snprintf(ret->detail, sizeof(ret->detail), "readable up to chunk %" PRId64,
			 res.last_good_index);
	} else {
		char hex[TRAIL_HASH_HEX + 1];

		snprintf(ret->verdict, sizeof(ret->verdict), "ok");
		snprintf(ret->detail, sizeof(ret->detail), "%" PRIu64 " chunks, %" PRIu64 " frames",
			 res.chunks, res.frames);
		/* Every chunk is authentic; the whole file must also be the one finalized. */
		if (sha256 && *sha256 &&
		    (compliance_file_sha256(path, hex) < 0 || strcmp(hex, sha256) != 0)) {
			snprintf(ret->verdict, sizeof(ret->verdict), "broken");
			snprintf(ret->detail, sizeof(ret->detail),
				 "sha256 differs from the catalog's");
		}
	}
	if (track && store_track_packets(track) > 0) {
		int16_t *pcm = NULL;
		size_t n = 0;

		if (store_track_render(track, store_track_first_arrival_ns(track), &pcm, &n) == 0)
			ret->svg = waveform_svg(pcm, n, store_track_rate(track), &ret->peak);
		free(pcm);
	}
	store_track_free(track);
}
