#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Looks for key material where none may be: unwraps every data key of the catalog with the KEK
# (docs/KEYS.md: AES-256-GCM, AAD "siprecd dek v1\0" key_id "\0" be32(version) kek_id) and
# searches the given files (a core dump, logs) and the catalog itself for the raw bytes and the
# hex of the KEK and of every data key. Exit 1 when anything is found.
#   key-bytes-check.py MIN_KEYS CATALOG.db KEKFILE FILE...
import sqlite3, struct, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

min_keys, db, kekf, files = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
kek = bytes.fromhex(open(kekf).read().strip())
c = sqlite3.connect(db)
kek_id = c.execute("SELECT key_id FROM keys WHERE algorithm='KEK' AND state='active'").fetchone()[0]
keys = [kek]
for key_id, v, w in c.execute("SELECT key_id, version, wrapped FROM keys "
                              "WHERE algorithm='AES-256' AND wrapped IS NOT NULL"):
    aad = b"siprecd dek v1\0" + key_id.encode() + b"\0" + struct.pack(">I", v) + kek_id.encode()
    keys.append(AESGCM(kek).decrypt(w[:12], w[12:], aad))
if len(keys) < min_keys:
    sys.exit("expected at least %d keys (the KEK and data keys), got %d" % (min_keys, len(keys)))
found = []
for f in files + [db]:
    b = open(f, "rb").read()
    found += [(i, f) for i, k in enumerate(keys)
              if k in b or k.hex().encode() in b or k.hex().upper().encode() in b]
print("checked %d keys in %d files: %s" % (len(keys), len(files) + 1, found or "none found"))
sys.exit(1 if found else 0)
