#!/usr/bin/python3
"""Scripted client connections for kerbgated's back-end pool tests.

  connprobe.py HOST PORT SRCPORT < steps.json

Every connection is made from the same source port SRCPORT (below the
kernel's ephemeral range, 32768-60999, so that no other client in the
namespace is handed it), so that the
kernel's SO_REUSEPORT hash hands all of them to the same relay worker (and
so to the same back-end connection pool); each is closed with a reset, so
the port is free again at once.  The steps are a JSON list of:
  ["new"]            close the current connection (if any), open another
  ["send", TEXT]     send TEXT on the current connection ("\\n" -> CRLF)
  ["read"]           read one response and print it after "--- response N"
  ["sh", COMMAND]    run a shell command (e.g. to stop the relays a moment)
  ["sleep", SECONDS]
"""
import json
import socket
import struct
import subprocess
import sys
import time


def read_response(s):
    """One response, its body delimited by Content-Length (or close)."""
    s.settimeout(20)
    data = b""
    while b"\r\n\r\n" not in data:
        b = s.recv(65536)
        if not b:
            return data
        data += b
    headlen = data.index(b"\r\n\r\n") + 4
    length = None
    for line in data[:headlen].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    while length is None or len(data) < headlen + length:
        b = s.recv(65536)
        if not b:
            break
        data += b
    return data


def connect(host, port, srcport):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Close with RST: no TIME_WAIT, the same 4-tuple can be used again.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.bind(("", srcport))
    s.connect((host, port))
    return s


def main():
    host, port, srcport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    steps = json.load(sys.stdin)
    s = None
    n = 0
    for step in steps:
        op = step[0]
        if op == "new":
            if s is not None:
                s.close()
            s = connect(host, port, srcport)
        elif op == "send":
            s.sendall(step[1].replace("\r\n", "\n").replace("\n", "\r\n")
                      .encode("latin-1"))
        elif op == "read":
            n += 1
            sys.stdout.write("--- response %d\n" % n)
            sys.stdout.write(read_response(s).decode("latin-1") + "\n")
            sys.stdout.flush()
        elif op == "sh":
            subprocess.run(step[1], shell=True, check=False)
        elif op == "sleep":
            time.sleep(float(step[1]))
    if s is not None:
        s.close()


if __name__ == "__main__":
    main()
