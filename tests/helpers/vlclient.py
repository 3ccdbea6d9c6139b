# SPDX-License-Identifier: MIT
"""A small varlink client for the integration tests' python pieces: one connection to siprecd's
control socket, NUL-framed JSON calls of io.siprecd methods, and an ok/FAIL line printer that
the shell side turns into checks."""
import json
import socket


class Varlink:
    def __init__(self, path, timeout=20):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.s.settimeout(timeout)
        self.buf = b""

    def call(self, method, params=None):
        """Calls io.siprecd.METHOD and returns the whole reply (parameters, or error)."""
        self.s.sendall(json.dumps({"method": "io.siprecd." + method,
                                   "parameters": params or {}}).encode() + b"\0")
        while b"\0" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError
            self.buf += d
        m, _, self.buf = self.buf.partition(b"\0")
        return json.loads(m)


def out(name, ok):
    print(("ok " if ok else "FAIL ") + name)
