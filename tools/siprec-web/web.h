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
/*
 * The blind indexes of aor under every data key version of the open key store
 * (keys_aor_indexes: *ret is one allocation, free it): what a hold or an erasure by AoR compares
 * with participants whose metadata is sealed (ENABLE_METADATA_ENCRYPTION). NULL and 0 without
 * a key store (write-only mode: no data keys, so nothing was sealed under one). 0 or -errno.
 */
int web_aor_indexes(const char *aor, const char ***ret, size_t *ret_n);
/*
 * Write-only mode: loads the X25519 private key at path (PEM; refused when group or others may
 * read it) into locked memory; recordings keyed "pub:..." are then opened through their
 * envelopes in catalog (kept, not copied). -errno with the reason in err (never key material).
 */
int web_private_key_load(const char *path, const char *catalog, char *err, size_t errlen);
/* "pub:<16 hex>" of the loaded private key's public key, or NULL. */
const char *web_private_key_id(void);
/* The open key store, or NULL. */
struct keys *web_keys(void);

struct web_rec_check {
	/* ok, broken, incomplete, missing, unreadable, no key, shredded */
	char verdict[16];
	char detail[384]; /* the chunk and what failed, what was read, or the bucket's error */
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

/*
 * The request deadline (conns.c): a connection must send a whole request within timeout_ms
 * (WEB_REQUEST_TIMEOUT) of its accept or of its previous answer, else its socket is shut down.
 * web_conns_start starts the watching thread (0 or -errno); web_conn_opened registers a
 * connection (fd not owned; addr copied; NULL without memory: then it is not watched);
 * web_conn_request says whether its request is whole yet; web_conn_answered restarts its clock
 * for the next request (keep-alive); web_conn_closed forgets and frees it (NULL is fine).
 */
struct web_conn;
/* Connections open at once; libmicrohttpd is let to accept one more, whose registration closes
 * the oldest connection still waiting for its request (or itself, when all are answering). */
#define WEB_CONNECTIONS_MAX 64
int web_conns_start(uint64_t timeout_ms);
void web_conns_stop(void);
struct web_conn *web_conn_opened(int fd, const char *addr);
void web_conn_request(struct web_conn *w, bool whole);
void web_conn_answered(struct web_conn *w);
void web_conn_closed(struct web_conn *w);
