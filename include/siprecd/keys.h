/* SPDX-License-Identifier: MIT */
/*
 * The key-provider seam: who gives the storage layer a per-recording key. This first provider
 * (src/keys/keyfile.c) holds one 256-bit data key in a mode-0600 file; the later key hierarchy
 * (data keys wrapped by a KEK, kept in the catalog) implements the same functions.
 */
#pragma once

#include <stdint.h>

struct keys; /* opaque */

#define KEYS_KEY_ID_MAX 63
#define KEYS_RECORDING_ID_MAX 255

struct recording_key {
	char key_id[KEYS_KEY_ID_MAX + 1];
	uint32_t key_version;
	uint8_t key[32];
};

/*
 * Opens the key file at path, creating it (O_EXCL, mode 0600, 256 random bits as 64 hex digits)
 * when it does not exist. Refuses a key file that is group- or world-accessible (-EPERM), not a
 * regular file, or malformed (-EBADMSG); keys_error() then says why in words. *ret is owned by
 * the caller (keys_free).
 */
int keys_open_file(const char *path, struct keys **ret);
/* Wipes and frees k. NULL ok; returns NULL. */
struct keys *keys_free(struct keys *k);
/* A human-readable reason for the last failure of keys_open_file on this thread ("" if none). */
const char *keys_error(void);
/* The key id of the data key currently used for new recordings (owned by k). */
const char *keys_current_key_id(const struct keys *k);

/*
 * The key for writing a new recording: HKDF-SHA256 of the current data key with
 * info = "siprecd recording" || recording_id (no salt). Fills *ret (wipe it with
 * recording_key_wipe). -EINVAL for an empty or over-long recording_id.
 */
int keys_recording_key_new(struct keys *k, const char *recording_id, struct recording_key *ret);
/* The key for reading a recording written under key_id/key_version: -ENOKEY if k does not hold
 * that data key. */
int keys_recording_key_get(struct keys *k, const char *key_id, uint32_t key_version,
			   const char *recording_id, struct recording_key *ret);
void recording_key_wipe(struct recording_key *rk);
