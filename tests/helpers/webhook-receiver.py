#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# A webhook receiver for tests/integration/webhooks.sh, written as docs/WEBHOOKS.md tells a
# receiver to: it recomputes X-Siprecd-Signature (HMAC-SHA256 over "<timestamp>.<body>" with the
# shared secret), refuses a stale timestamp, and checks that the body's id is the
# X-Siprecd-Event-Id header. Usage: webhook-receiver.py PORT SECRET_FILE LOG [FAIL_FIRST_N]
# Answers 500 to the first FAIL_FIRST_N requests, 401 to a bad signature, else 204. Each request
# appends one JSON line to LOG: {"status", "sig_ok", "id", "type", "header_id", "body"}.
import hashlib, hmac, json, sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer

port, secret_file, log_path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
fail_first = int(sys.argv[4]) if len(sys.argv) > 4 else 0
secret = open(secret_file, "rb").read().rstrip(b"\r\n")
seen = 0


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        global seen
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        ts = self.headers.get("X-Siprecd-Timestamp", "")
        sig = self.headers.get("X-Siprecd-Signature", "")
        want = "v1=" + hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        sig_ok = (hmac.compare_digest(sig, want) and ts.isdigit()
                  and abs(time.time() - int(ts)) < 300)
        try:
            ev = json.loads(body)
        except ValueError:
            ev = {}
        seen += 1
        if seen <= fail_first:
            status = 500
        elif not sig_ok or ev.get("id") != self.headers.get("X-Siprecd-Event-Id"):
            status = 401
        else:
            status = 204
        with open(log_path, "a") as f:
            f.write(json.dumps({"status": status, "sig_ok": sig_ok, "id": ev.get("id"),
                                "type": ev.get("type"),
                                "header_id": self.headers.get("X-Siprecd-Event-Id"),
                                "data": ev.get("data")}) + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", port), Handler).serve_forever()
