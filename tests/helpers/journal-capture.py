#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# A stand-in for systemd-journald's native socket: binds PATH, decodes every datagram of the
# native journal protocol (KEY=value lines, and KEY\n<le64 length><bytes>\n for binary values;
# an empty datagram with an SCM_RIGHTS memfd for large entries) and appends one JSON object per
# entry to OUT. Runs until killed.
import array, json, os, socket, struct, sys

path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)


def parse(buf):
    fields, i = {}, 0
    while i < len(buf):
        nl = buf.find(b"\n", i)
        if nl < 0:
            break
        line = buf[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            fields[k.decode()] = v.decode(errors="replace")
            i = nl + 1
        else:
            (n,) = struct.unpack_from("<Q", buf, nl + 1)
            start = nl + 9
            fields[line.decode()] = buf[start:start + n].decode(errors="replace")
            i = start + n + 1
    return fields


with open(out, "a") as f:
    while True:
        fds = array.array("i")
        data, anc, _, _ = s.recvmsg(1 << 20, socket.CMSG_SPACE(4 * fds.itemsize))
        for level, typ, cdata in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                fds.frombytes(cdata[: len(cdata) - (len(cdata) % fds.itemsize)])
        for fd in fds:
            os.lseek(fd, 0, 0)
            chunks = []
            while True:
                c = os.read(fd, 1 << 16)
                if not c:
                    break
                chunks.append(c)
            os.close(fd)
            data = b"".join(chunks)
        f.write(json.dumps(parse(data)) + "\n")
        f.flush()
