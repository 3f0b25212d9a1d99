#!/usr/bin/env python3
"""vmconsole.py SOCKET TIMEOUT COMMAND: run COMMAND in the root shell on the
VM's serial console (a QEMU chardev UNIX socket), print its output and exit
with its exit status (124 on timeout).  The end of the output is found by a
start and an end marker the command prints; their echoed forms (in the
command line the tty echoes, perhaps wrapped) cannot match them."""
import os
import re
import socket
import sys
import time

def main():
    path, timeout, command = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    deadline = time.monotonic() + timeout
    tag = "%d" % os.getpid()
    # Quotes split the markers in the echoed line: only the printed ones match.
    line = 'echo "@@KS""%s@@"; %s; echo "@@KG%s""="$?"@@"\n' % (tag, command, tag)
    start = re.compile(rb"@@KS" + tag.encode() + rb"@@\r?\n")
    pattern = re.compile(rb"@@KG" + tag.encode() + rb"=(\d+)@@")
    while True:
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            break
        except OSError:
            if time.monotonic() > deadline:
                print("vmconsole: cannot connect to %s" % path, file=sys.stderr)
                return 124
            time.sleep(0.5)
    s.settimeout(0.5)
    s.sendall(b"\n" + line.encode())
    buf = b""
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            break
        buf += chunk
        m = pattern.search(buf)
        s0 = start.search(buf)
        if m and s0 and s0.end() <= m.start():
            out = buf[s0.end():m.start()].decode(errors="replace").replace("\r", "")
            sys.stdout.write(out)
            return int(m.group(1))
    sys.stdout.write(buf.decode(errors="replace"))
    print("vmconsole: no answer to %r within %ss" % (command, timeout), file=sys.stderr)
    return 124

if __name__ == "__main__":
    sys.exit(main())
