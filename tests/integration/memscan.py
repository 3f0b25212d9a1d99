#!/usr/bin/python3
"""Searches processes' memory for secrets, as a reviewer with root would:
every readable mapping of /proc/PID/mem, for the bytes of each file.

usage: memscan.py PID[,PID...] FILE...
Prints "PID FILE found" or "PID FILE absent" for each pair, then
"scanned N bytes in PIDs" (so that a scan that read nothing shows).
"""
import sys


def scan(pid, needles):
    found = set()
    total = 0
    with open("/proc/%s/maps" % pid) as maps, \
            open("/proc/%s/mem" % pid, "rb", 0) as mem:
        for line in maps:
            addr, perms = line.split()[:2]
            if not perms.startswith("r"):
                continue
            lo, hi = (int(x, 16) for x in addr.split("-"))
            try:
                mem.seek(lo)
                data = mem.read(hi - lo)
            except (OSError, ValueError, OverflowError):
                continue        # [vvar] and the like
            total += len(data)
            for name, b in needles.items():
                if b in data:
                    found.add(name)
    return found, total


def main():
    pids = [p for p in sys.argv[1].split(",") if p]
    needles = {f: open(f, "rb").read() for f in sys.argv[2:]}
    if not pids or any(len(b) < 16 for b in needles.values()):
        sys.exit("memscan: no process, or a needle under 16 bytes")
    total = 0
    for pid in pids:
        found, n = scan(pid, needles)
        total += n
        for f in needles:
            print("%s %s %s" % (pid, f, "found" if f in found else "absent"))
    print("scanned %d bytes in %d processes" % (total, len(pids)))


main()
