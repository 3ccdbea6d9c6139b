#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# A hostile webhook receiver for tests/integration/webhooks.sh. Usage:
#   webhook-hostile.py MODE PORT LOG
# It reads each request whole, then answers as MODE says:
#   huge     200 with Content-Length: 1 GiB of zeros, sent until the client closes;
#   garbage  a line that is not HTTP, then closes;
#   endless  "HTTP/1.1 200 OK" and a header line every 0.5 s, never ending the head;
#   hugehead "HTTP/1.1 200 OK" and header lines as fast as they go, never ending the head.
# Each request appends one JSON line to LOG: {"mode", "sent"} (bytes of answer sent).
import json, socket, socketserver, sys, time

mode, port, log_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        s = self.request
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                return
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v.strip())
        while len(body) < length:
            chunk = s.recv(65536)
            if not chunk:
                return
            body += chunk
        sent = 0
        try:
            if mode == "huge":
                s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n")
                zeros = b"\0" * 65536
                while sent < 1 << 30:
                    s.sendall(zeros)
                    sent += len(zeros)
            elif mode == "hugehead":
                s.sendall(b"HTTP/1.1 200 OK\r\n")
                line = b"X-Pad: " + b"a" * 1000 + b"\r\n"
                while sent < 1 << 30:
                    s.sendall(line)
                    sent += len(line)
            elif mode == "garbage":
                s.sendall(b"SSH-2.0-OpenSSH_9.2 hello there\r\n\r\n")
                sent = 1
            else:
                s.sendall(b"HTTP/1.1 200 OK\r\n")
                while True:
                    time.sleep(0.5)
                    s.sendall(b"X-Wait: more\r\n")
                    sent += 1
        except OSError:
            pass
        with open(log_path, "a") as f:
            f.write(json.dumps({"mode": mode, "sent": sent}) + "\n")


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


Server(("127.0.0.1", port), Handler).serve_forever()
