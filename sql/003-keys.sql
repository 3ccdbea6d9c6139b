-- SPDX-License-Identifier: MIT
-- Key hierarchy (docs/KEYS.md). The keys table holds three kinds of rows, told apart by
-- algorithm: 'AES-256' data keys (wrapped is the DEK under the KEK), 'KEK' records (no key
-- material: which source, the password KDF and its salt and parameters, and a verifier so a
-- wrong key or password is refused), and 'X25519-envelope' rows of write-only mode (key_id
-- 'env:<recording uuid>', wrapped is that recording's key sealed to the public key kek_id).
ALTER TABLE keys ADD COLUMN kdf TEXT;          -- KEK rows: 'argon2id', 'pbkdf2' or NULL (raw key)
ALTER TABLE keys ADD COLUMN kdf_salt BLOB;     -- KEK rows: 16 random bytes
ALTER TABLE keys ADD COLUMN kdf_params TEXT;   -- KEK rows: 'm=19456,t=2,p=1' or 'i=600000'
ALTER TABLE keys ADD COLUMN verifier BLOB;     -- KEK rows: HMAC-SHA256(KEK, label || kek_id)
