/* SPDX-License-Identifier: MIT */
/*
 * The key hierarchy (docs/KEYS.md): data-encryption keys (DEKs, random 256-bit, versioned) are
 * kept in the catalog's keys table only wrapped (AES-256-GCM) by a key-encryption key (KEK) from
 * a key file, a systemd credential or a master password (Argon2id / PBKDF2). Each recording's key
 * is HKDF-SHA256(DEK, "siprecd recording" || recording id). Write-only mode wraps every recording
 * key to an X25519 public key instead. The single key file of keys_open_file stays supported.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct keys; /* opaque */
struct catalog;

#define KEYS_KEY_ID_MAX 63
#define KEYS_RECORDING_ID_MAX 255
/* Versions one store holds at most (older ones must be destroyed before more are created). */
#define KEYS_DEK_MAX 1024

/* Defaults of the password KDFs (OWASP 2023: Argon2id m=19 MiB t=2 p=1; PBKDF2 600,000). */
#define KEYS_ARGON2_M_KIB_DEFAULT 19456u
#define KEYS_ARGON2_T_DEFAULT 2u
#define KEYS_ARGON2_P_DEFAULT 1u
#define KEYS_PBKDF2_ITER_DEFAULT 600000u
#define KEYS_PBKDF2_ITER_MIN 100000u

/* Write-only envelope: ephemeral public key || nonce || sealed recording key || tag. */
#define KEYS_ENVELOPE_SIZE (32 + 12 + 32 + 16)

struct recording_key {
	char key_id[KEYS_KEY_ID_MAX + 1];
	uint32_t key_version;
	uint8_t key[32];
};

/*
 * Opens the key file at path, creating it (O_EXCL, mode 0600, 256 random bits as 64 hex digits)
 * when it does not exist. Refuses a key file that is group- or world-accessible (-EPERM), not a
 * regular file, or malformed (-EBADMSG); keys_error() then says why in words. *ret is owned by
 * the caller (keys_free). This is the legacy provider: the file's key is the data key itself
 * (key id "file:<hex>", version 1), nothing is kept in the catalog.
 */
int keys_open_file(const char *path, struct keys **ret);

struct keys_options {
	/* "file", "credential", "password", "memory" or "public-key" (ENCRYPTION_KEY_STORE). */
	const char *store;
	/* The catalog holding the wrapped keys (already migrated by catalog_open); unused for
	 * "memory". */
	const char *catalog_path;
	/* file: the KEK file (created when missing unless readonly); public-key: the X25519
	 * public key (PEM); password: a file holding the password when password is NULL and no
	 * credential is found. */
	const char *key_path;
	const char *password;	    /* password store (MASTER_PASSWORD); copied and wiped */
	const char *kdf;	    /* "argon2id" (default) or "pbkdf2", for a new password KEK */
	uint32_t pbkdf2_iterations; /* 0 = KEYS_PBKDF2_ITER_DEFAULT */
	uint32_t argon2_m_kib, argon2_t, argon2_p; /* 0 = defaults */
	uint64_t rotation_interval_ms; /* rotate at open when the active DEK is older; 0 = never */
	bool readonly; /* tools: create nothing, rotate nothing, open the catalog read-only */
	/* public-key: the X25519 public key (PEM, RECORDING_PUBLIC_KEY); NULL = key_path. */
	const char *public_key_path;
	/* Not NULL: an encrypted backup (keys_backup) into this directory after each rotation
	 * (KEY_BACKUP_ENABLED, KEY_BACKUP_PATH), under the passphrase read from
	 * backup_passphrase_file or, when that is NULL/"",
	 * $CREDENTIALS_DIRECTORY/backup-passphrase. */
	const char *backup_dir;
	const char *backup_passphrase_file;
};

/*
 * Opens the key store o describes: derives or reads the KEK, checks it against the verifier
 * stored in the catalog (a wrong key or password: -EKEYREJECTED, nothing written), unwraps every
 * DEK that is not destroyed, creates the KEK record and DEK version 1 in an empty catalog, and
 * rotates when the active DEK is older than o->rotation_interval_ms. Blocking (sqlite, KDF): for
 * start-up and tools. *ret is the caller's (keys_free); keys_error() explains a failure.
 */
int keys_open(const struct keys_options *o, struct keys **ret);
/* Stops the rotation thread, wipes and frees k. NULL ok; returns NULL. */
struct keys *keys_free(struct keys *k);
/* A human-readable reason for the last failure of keys_open* / keys_* on this thread. */
const char *keys_error(void);
/* A warning the daemon must log on every start ("" if none), e.g. for the memory store. */
const char *keys_warning(const struct keys *k);
/* The key id of the data key currently used for new recordings (owned by k). */
const char *keys_current_key_id(const struct keys *k);
/* The version of the active data key (1 for the legacy key file). */
uint32_t keys_current_version(const struct keys *k);
/* True in write-only mode (siprecd cannot decrypt what it writes). */
bool keys_write_only(const struct keys *k);

/*
 * Write-only mode stores each recording's envelope in the catalog's keys table through this
 * catalog's queue (never blocking). c is borrowed and must outlive k.
 */
void keys_set_catalog(struct keys *k, struct catalog *c);

/*
 * The key for writing a new recording: HKDF-SHA256 of the active data key with
 * info = "siprecd recording" || recording_id (no salt); in write-only mode a random key whose
 * envelope is queued to the catalog. Never blocks on I/O (a mutex shared with rotation only).
 * Fills *ret (wipe it with recording_key_wipe). -EINVAL for an empty or over-long recording_id.
 */
int keys_recording_key_new(struct keys *k, const char *recording_id, struct recording_key *ret);
/* The key for reading a recording written under key_id/key_version: -ENOKEY if k does not hold
 * that data key, -EKEYREVOKED if it was destroyed (crypto-shredded), -EKEYREJECTED in
 * write-only mode. */
int keys_recording_key_get(struct keys *k, const char *key_id, uint32_t key_version,
			   const char *recording_id, struct recording_key *ret);
void recording_key_wipe(struct recording_key *rk);

/*
 * Creates DEK version max+1, wraps it, retires the active one and activates the new one in one
 * transaction, then switches new recordings to it (recordings in progress keep their key).
 * Emits AUDIT_KEY_ROTATED. Blocking (sqlite): never on the loop thread (see
 * keys_rotation_start). *ret_version (may be NULL) gets the new version.
 */
int keys_rotate_dek(struct keys *k, uint32_t *ret_version);
/*
 * Starts a thread that rotates every interval_ms (counted from the active key's activation)
 * and whenever keys_rotate_request() is called. The thread is stopped by keys_free.
 */
int keys_rotation_start(struct keys *k, uint64_t interval_ms);
/* KEY_ROTATION_INTERVAL on reload: the next rotation is due interval_ms (0 = never) after the
 * active key's activation; wakes the thread so a shorter interval takes effect at once.
 * Non-blocking, safe on the loop. */
void keys_set_rotation_interval(struct keys *k, uint64_t interval_ms);
/* Asks the rotation thread to rotate now; non-blocking, safe on the loop. -ESRCH without it. */
int keys_rotate_request(struct keys *k);

/* How often the rotation thread re-reads the catalog's key state (rotations and destructions
 * made by siprecd-keys while the daemon runs). */
#define KEYS_STATE_POLL_MS 2000u
/*
 * Re-reads the data key rows of the catalog (blocking, sqlite: the rotation thread, or a tool):
 * unwraps versions created elsewhere, wipes versions destroyed elsewhere and switches new
 * recordings to the catalog's active version. Returns 1 if the active version changed, 0 if
 * not, -errno (the in-memory state is then unchanged).
 */
int keys_refresh(struct keys *k);
/* Asks the rotation thread to re-read the key state now (SIGHUP); non-blocking. -ESRCH without
 * the thread. */
int keys_refresh_request(struct keys *k);
/*
 * fn is called on the rotation thread (never the loop) whenever the active data key changes:
 * external = true when the change was made by another process (siprecd-keys). fn must not
 * block; the daemon posts to its loop. Call before keys_rotation_start.
 */
void keys_set_change_callback(struct keys *k,
			      void (*fn)(void *userdata, const char *key_id, uint32_t version,
					 bool external),
			      void *userdata);
/* The file name (in o->backup_dir) of the last automatic backup, "" if none yet. Racy by
 * nature: for logs and tests. */
const char *keys_last_backup(const struct keys *k);

/* ---- metadata sealing (ENABLE_METADATA_ENCRYPTION, docs/KEYS.md) ---- */

struct store_key_lookup;
/*
 * Seals len bytes of plain under rk (the session's key: keys_recording_key_new(session uuid))
 * with AES-256-GCM, a random nonce and associated data aad, into the JSON envelope of the
 * .metadata files (docs/FORMAT.md): *ret_text (malloc'ed, NUL-terminated) on success.
 */
int keys_metadata_seal(const struct recording_key *rk, const char *aad, const void *plain,
		       size_t len, uint64_t created_ms, char **ret_text);
/*
 * Opens such an envelope: the key is asked of lookup for the envelope's key id and version and
 * recording id key_rec_id (the session uuid); aad must be the one it was sealed with.
 * *ret_plain (malloc'ed, NUL-terminated) and *ret_len on success; -EBADMSG if malformed or
 * not authentic, or lookup's error (-ENOKEY, -EKEYREVOKED, ...).
 */
int keys_metadata_open(const char *text, size_t len, const char *key_rec_id, const char *aad,
		       const struct store_key_lookup *lookup, char **ret_plain, size_t *ret_len);
/*
 * Queues the sealed write of json (copied) to path (a .metadata file, replaced atomically) with
 * rk (copied, wiped after use) and the recording id/associated data key_rec_id; the rotation
 * thread writes it with store_metadata_write (blocking: never on the loop). Non-blocking.
 * -ESRCH without the thread, -EAGAIN when too many writes are pending, -ENOMEM.
 */
int keys_metadata_write_async(struct keys *k, const char *path, const struct recording_key *rk,
			      const char *key_rec_id, const char *json);
/* Waits until every queued metadata write is done (tests, shutdown). Returns the number of
 * writes that failed since the last call. Blocking. */
int keys_metadata_flush(struct keys *k);

struct keys_info {
	char key_id[KEYS_KEY_ID_MAX + 1];
	uint32_t version;
	char state[16]; /* "active", "retired", "destroyed", "legacy" */
	char algorithm[32];
	char kek_id[KEYS_KEY_ID_MAX + 1];
	uint64_t created_at, activated_at, retired_at, destroyed_at; /* unix ms, 0 = none */
};
/*
 * Calls fn for every data key version (destroyed ones included), oldest first; stops at fn's
 * first negative return and returns it, else the number of versions. Never any key bytes.
 */
int keys_list(struct keys *k, int (*fn)(void *userdata, const struct keys_info *info),
	      void *userdata);

/*
 * Crypto-shredding: wipes DEK version (of the current key id) from memory and the catalog
 * (secure_delete, WAL checkpointed) and marks its recordings 'shredded'. -EBUSY for the active
 * version (rotate first), -ENOENT if unknown, -EALREADY if destroyed. reason goes to the audit
 * event AUDIT_KEY_DESTROYED. *ret_recordings (may be NULL) gets the recordings shredded.
 */
int keys_destroy_dek(struct keys *k, uint32_t version, const char *reason,
		     unsigned *ret_recordings);

/*
 * KEK rotation: derives the KEK described by o (its store, key_path or password), re-wraps
 * every DEK under it and replaces the KEK record, all in one transaction; recordings are not
 * touched. k then uses the new KEK.
 */
int keys_rekek(struct keys *k, const struct keys_options *o);

/* What keys_rekek_async reports; error is keys_error()'s text when r < 0. */
enum keys_rekek_stage {
	KEYS_REKEK_SOURCE,  /* the new KEK source: file missing, permissions, malformed, same KEK */
	KEYS_REKEK_KDF,	    /* the password KDF failed (memory, parameters) */
	KEYS_REKEK_CATALOG, /* the transaction (sqlite); nothing was changed */
};
struct keys_rekek_result {
	int r;
	enum keys_rekek_stage stage;
	char error[256];
	char kek_id[KEYS_KEY_ID_MAX + 1]; /* the new KEK, on success */
	char source[16];
};
/*
 * keys_rekek on the rotation thread, serialised with rotation and the state re-reads that share
 * its catalog connection (the daemon: never block the loop). o's strings are copied; for the
 * password store o->key_path names the password file (the credential directory is not
 * consulted) unless o->password is set. done runs on the rotation thread, must not block, and
 * is always called once after a 0 return (r = -ECANCELED when keys_free stops the thread
 * first). -EBUSY when a KEK rotation is already queued, -ESRCH without the thread, -EOPNOTSUPP
 * when k has no KEK (memory, write-only, legacy key file), -ENOMEM.
 */
int keys_rekek_async(struct keys *k, const struct keys_options *o,
		     void (*done)(void *userdata, const struct keys_rekek_result *res),
		     void *userdata);

/*
 * Backups: the wrapped key set (KEK records and wrapped DEKs, never a clear key) sealed with
 * AES-256-GCM under Argon2id(passphrase). backup writes path (O_EXCL, mode 0600); verify opens
 * a backup and, when k is not NULL, checks every DEK unwraps under k's KEK; restore imports into
 * the catalog at catalog_path, which must hold no keys yet (-EEXIST). *ret_count: keys.
 */
int keys_backup(struct keys *k, const char *path, const char *passphrase, unsigned *ret_count);
int keys_backup_verify(struct keys *k, const char *path, const char *passphrase,
		       unsigned *ret_count);
int keys_backup_restore(const char *catalog_path, const char *path, const char *passphrase,
			unsigned *ret_count);

/* ---- blind index of participant AoRs (docs/COMPLIANCE.md "Encrypted metadata") ---- */

/* "v<version>:<64 hex>" */
#define KEYS_AOR_INDEX_MAX 80
#define KEYS_AOR_MAX 1000 /* longest AoR indexed, in bytes */
/*
 * The blind index of an AoR under the active data key version: with metadata sealed, the
 * catalog keeps it instead of the AoR, so an erasure or a hold by AoR finds the participant
 * without anything readable at rest. Never blocks (the key set's mutex only). 0; -ENOKEY when
 * there is no data key in memory (write-only mode); -EINVAL for an empty or too long AoR.
 */
int keys_aor_index(struct keys *k, const char *aor, char ret[KEYS_AOR_INDEX_MAX + 1]);
/*
 * The blind index of an AoR under every data key version held (not destroyed): what an erasure,
 * a hold or a retention policy compares with. *ret is one allocation, an array of *ret_n
 * indexes followed by their text: free(*ret) frees all; NULL and 0 when there is none (no data
 * key in memory, write-only mode). 0, -EINVAL, -ENOMEM.
 */
int keys_aor_indexes(struct keys *k, const char *aor, const char ***ret, size_t *ret_n);

/* ---- primitives (exposed for the tests, siprec-export and docs/KEYS.md vectors) ---- */

/*
 * index = "v<version>:" || hex(HMAC-SHA256(HKDF-SHA256(IKM = dek, info = "siprecd aor index
 * v1"), AoR with ASCII letters lowercased and surrounding blanks trimmed)). 0 or -EINVAL/-EIO.
 */
int keys_aor_index_compute(const uint8_t dek[32], uint32_t version, const char *aor,
			   char ret[KEYS_AOR_INDEX_MAX + 1]);

/* HKDF-SHA256 (RFC 5869); salt may be NULL. 0 or -EIO. */
int keys_hkdf_sha256(const uint8_t *ikm, size_t ikm_len, const uint8_t *salt, size_t salt_len,
		     const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len);
/* PBKDF2-HMAC-SHA256. 0 or -EIO. */
int keys_pbkdf2_sha256(const char *pw, size_t pw_len, const uint8_t *salt, size_t salt_len,
		       uint32_t iterations, uint8_t *out, size_t out_len);
/* Argon2id v1.3 with optional secret and associated data (RFC 9106). 0, -EINVAL or -ENOMEM. */
int keys_argon2id(const void *pw, size_t pw_len, const uint8_t *salt, size_t salt_len,
		  const uint8_t *secret, size_t secret_len, const uint8_t *ad, size_t ad_len,
		  uint32_t t, uint32_t m_kib, uint32_t p, uint8_t *out, size_t out_len);
/* Wraps a 32-byte DEK: out = nonce(12) || ciphertext(32) || tag(16), AAD per docs/KEYS.md. */
#define KEYS_WRAPPED_SIZE 60
int keys_dek_wrap(const uint8_t kek[32], const char *kek_id, const char *key_id, uint32_t version,
		  const uint8_t dek[32], uint8_t out[KEYS_WRAPPED_SIZE]);
/* The reverse: -EBADMSG when the tag does not verify (wrong KEK, id or version). */
int keys_dek_unwrap(const uint8_t kek[32], const char *kek_id, const char *key_id, uint32_t version,
		    const uint8_t in[KEYS_WRAPPED_SIZE], uint8_t ret_dek[32]);
/* Write-only envelope of a recording key to the X25519 public key pub (raw 32 bytes). eph_priv
 * NULL = random (tests pass a fixed one for vectors). */
int keys_envelope_seal(const uint8_t pub[32], const uint8_t *eph_priv, const char *recording_id,
		       const uint8_t key[32], uint8_t out[KEYS_ENVELOPE_SIZE]);
/* Opens it with the raw X25519 private key: -EBADMSG if not authentic. */
int keys_envelope_open(const uint8_t priv[32], const char *recording_id,
		       const uint8_t in[KEYS_ENVELOPE_SIZE], uint8_t ret_key[32]);
/* Reads a PEM (or 32-byte raw / 64-hex) X25519 key file: public or private. 0 or -errno. */
int keys_x25519_load(const char *path, bool private_key, uint8_t ret[32]);
/* "pub:" + hex(SHA-256(pub)[0..8]): the key id written into write-only recordings. */
void keys_public_key_id(const uint8_t pub[32], char ret[KEYS_KEY_ID_MAX + 1]);
/*
 * Write-only reading: the recording key of recording_id from the envelope found in the catalog
 * (read-only), opened with the private key. -ENOKEY if there is no envelope.
 */
int keys_envelope_lookup(const char *catalog_path, const uint8_t priv[32], const char *recording_id,
			 uint8_t ret_key[32]);
