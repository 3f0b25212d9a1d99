#!/usr/bin/env python3
"""vmconsole.py SOCKET TIMEOUT COMMAND: run COMMAND in the root shell on the
VM's serial console (a QEMU chardev UNIX socket), print its output and exit
with its exit status (124 on timeout).  The end of the output is found by a
marker the command line itself cannot contain once echoed by the tty."""
import os
import re
import socket
import sys
import time

def main():
    path, timeout, command = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    deadline = time.monotonic() + timeout
    tag = "%d" % os.getpid()
    # "@@KG" "tag" ... split by quotes: the echoed line does not match.
    line = '%s; echo "@@KG%s""="$?"@@"\n' % (command, tag)
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
        if m:
            # The output starts after the echoed command line, which ends
            # with '"@@"' (the tty may have wrapped it over several lines).
            end_of_echo = buf.rfind(b'"@@"', 0, m.start())
            out = buf[end_of_echo + 4:m.start()] if end_of_echo >= 0 else buf[:m.start()]
            out = out.decode(errors="replace").replace("\r", "")
            out = out[out.find("\n") + 1:] if "\n" in out else ""
            sys.stdout.write(out)
            return int(m.group(1))
    sys.stdout.write(buf.decode(errors="replace"))
    print("vmconsole: no answer to %r within %ss" % (command, timeout), file=sys.stderr)
    return 124

if __name__ == "__main__":
    sys.exit(main())
