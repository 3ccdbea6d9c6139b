/* SPDX-License-Identifier: MIT */
/*
 * siprec-web's private interface between main.c (HTTP, pages, accounts) and recording.c (the
 * key store and the per-file integrity verdict and waveform).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct keys;

/* Opens siprecd's key store read-only from cfg; -errno with the reason in err (write-only mode:
 * -EKEYREJECTED). Without it every verdict is "no key". */
int web_keys_open(const struct config *cfg, char *err, size_t errlen);
void web_keys_close(void);
/* The open key store, or NULL. */
struct keys *web_keys(void);

struct web_rec_check {
	/* ok, broken, incomplete, missing, unreadable, no key, shredded */
	char verdict[16];
	char detail[160]; /* the chunk and what failed, or what was read */
	uint64_t chunks;
	char *svg; /* the waveform (malloc'ed), NULL when not asked for or no audio */
	int peak;  /* largest absolute sample drawn */
};
/*
 * Reads the recording at path once: every chunk opened and authenticated, then the whole file's
 * sha256 compared with sha256 (the catalog's, may be NULL); with want_wave, the decoded PCM
 * drawn as SVG. Blocking (reads the whole file): call without the console's lock. Thread-safe.
 */
void web_rec_check(const char *path, const char *sha256, bool want_wave, struct web_rec_check *ret);
