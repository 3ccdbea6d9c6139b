#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Prints "LO HI": the range of frames siprec-export's WAV of a session must have, computed from
# the catalog alone (not from the exporter): each leg renders packets * samples-per-packet
# samples, and a leg whose first packet arrived 10 ms or more after the other's starts that much
# later (legs closer than that start together: tools/siprec-export, START_JITTER_NS). The
# catalog keeps arrival times in whole milliseconds, so the range is +-1 ms of samples, and
# 9..10 ms apart may fall either side of the threshold.
#   expected-frames.py CATALOG.db SESSION-UUID [SAMPLES-PER-PACKET [RATE]]
import sqlite3
import sys

db, uuid = sys.argv[1], sys.argv[2]
spp = int(sys.argv[3]) if len(sys.argv) > 3 else 160
rate = int(sys.argv[4]) if len(sys.argv) > 4 else 8000
con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
legs = con.execute(
    "SELECT st.first_packet_at, st.packets FROM streams st JOIN sessions s ON s.id = st.session_id "
    "WHERE s.uuid = ? AND st.packets > 0", (uuid,)).fetchall()
if not legs:
    sys.exit(f"expected-frames: no stream with packets for session {uuid}")
origin = min(f for f, _ in legs)
per_ms = rate // 1000
together = max(p * spp for _, p in legs)
apart = max((f - origin) * per_ms + p * spp for f, p in legs)
spread = max(f for f, _ in legs) - origin
if spread < 9:
    lo = hi = together
elif spread > 10:
    lo, hi = apart - per_ms, apart + per_ms
else:
    lo, hi = together, apart + per_ms
print(lo, hi)
