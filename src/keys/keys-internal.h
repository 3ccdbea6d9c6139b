/* SPDX-License-Identifier: MIT */
/*
 * Private to src/keys/: struct keys (the in-memory key set, its locked secret page, the catalog
 * connection of the key tables and the rotation thread) and helpers shared by its files.
 */
#pragma once

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "siprecd/keys.h"

enum keys_mode {
	KEYS_MODE_LEGACY_FILE, /* keys_open_file: the file key is the data key */
	KEYS_MODE_HIERARCHY,   /* KEK + wrapped DEKs in the catalog */
	KEYS_MODE_MEMORY,      /* one DEK in memory only */
	KEYS_MODE_WRITE_ONLY,  /* X25519 public key */
};

struct keys_dek {
	char key_id[KEYS_KEY_ID_MAX + 1];
	uint32_t version;
	char state[16];
	uint64_t created_at, activated_at, retired_at, destroyed_at;
	bool have_key; /* the key is in secret->dek[slot] */
	unsigned slot;
};

/* Lives in an mmap'ed page range: mlock'ed where the limit allows, MADV_DONTDUMP always. */
struct keys_secret {
	uint8_t kek[32];
	uint8_t dek[KEYS_DEK_MAX][32];
};

struct keys {
	enum keys_mode mode;
	pthread_mutex_t lock; /* deks, active, secret->dek (rotation vs. readers) */
	struct keys_secret *secret;
	bool locked; /* mlock succeeded */
	struct keys_dek *deks;
	unsigned n_deks;
	int active; /* index into deks, -1 = none */
	char kek_id[KEYS_KEY_ID_MAX + 1];
	char source[16];
	sqlite3 *db;
	bool readonly;
	char warning[256];
	/* write-only */
	uint8_t pub[32];
	char pub_id[KEYS_KEY_ID_MAX + 1];
	struct catalog *catalog;
	/* rotation thread */
	pthread_t thread;
	bool thread_running, stop, rotate_now;
	pthread_cond_t cond;
	uint64_t interval_ms;
	bool refresh_now;
	void (*change_fn)(void *userdata, const char *key_id, uint32_t version, bool external);
	void *change_ud;
	/* automatic backups after rotation (NULL = off) */
	char *backup_dir, *backup_pass_file;
	char last_backup[128];
	/* .metadata writes queued for the rotation thread (under lock) */
	struct keys_md_job *md_head, *md_tail;
	unsigned md_pending, md_failed;
	pthread_cond_t md_cond; /* signalled when md_pending drops to 0 */
	/* KEK rotation queued by keys_rekek_async (under lock), run by the rotation thread */
	struct keys_rekek_job *rekek_job;
};

/* live.c: run by the rotation thread. */
void keys_md_run(struct keys *k);      /* writes queued jobs; called and returns with lock held */
void keys_md_free_all(struct keys *k); /* drops (wipes) jobs never written */
int keys_backup_after_rotation(struct keys *k); /* no-op when backups are off */
int keys_backup_check(struct keys *k);		/* the passphrase is readable and the dir exists */
void keys_notify_change(struct keys *k, bool external);

int keys_fail(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
struct keys *keys_alloc(enum keys_mode mode);
int keys_from_hex(const char *in, size_t hexlen, uint8_t *out);
uint64_t keys_now_ms(void);
/* Reads a 256-bit key: 64 hex digits (newline allowed) or 32 raw bytes; refuses group/world
 * access. what names it in errors. */
int keys_read_key_file(const char *path, const char *what, uint8_t ret[32]);
int keys_derive_recording(const uint8_t dek[32], const char *recording_id, uint8_t out[32]);
/* Finds (key_id, version) in k->deks: index or -1. Caller holds k->lock. */
int keys_find(const struct keys *k, const char *key_id, uint32_t version);
int keys_open_or_create_key_file(const char *path, uint8_t ret[32], bool *ret_created);
/* Adds the legacy file key (read-only unless active) as a data key of k. */
int keys_add_legacy(struct keys *k, const uint8_t key[32], bool active);
void keys_rotation_stop(struct keys *k);
/* AES-256-GCM with a 12-byte nonce and a 16-byte tag; open returns -EBADMSG on a bad tag. */
int keys_gcm_seal(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *aad,
		  size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[16]);
int keys_gcm_open(const uint8_t key[32], const uint8_t nonce[12], const uint8_t *aad,
		  size_t aad_len, const uint8_t *in, size_t len, uint8_t *out,
		  const uint8_t tag[16]);
