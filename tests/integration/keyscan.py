#!/usr/bin/env python3
"""Searches processes' memory for the bytes of private key files.

    keyscan.py KEYFILE[,KEYFILE...] PID [PID...]

For each key file (PEM, unencrypted) the needles are: the file's contents,
its first base64 line, its DER (PKCS#8 and the traditional form), and the
private numbers `openssl pkey -text` prints (the EC scalar; the RSA private
exponent and primes), each big-endian and little-endian (mbedTLS's and
OpenSSL's bignums keep their limbs little-endian).  Every readable mapping
of each PID is read through /proc/PID/mem (root).  Prints one line per PID:
"PID hits N" and the needles found; exits 0.
"""
import re
import subprocess
import sys

PRIVATE_FIELDS = ("priv", "privateExponent", "prime1", "prime2")


def openssl(*args, data=None):
    return subprocess.run(["openssl", *args], input=data, capture_output=True,
                          check=True).stdout


def numbers(text):
    """The private fields of `openssl pkey -text`, as big-endian bytes."""
    out, field, digits = {}, None, ""
    for line in text.splitlines():
        m = re.match(r"^(\w+):\s*$", line)
        if m:
            if field in PRIVATE_FIELDS and digits:
                out[field] = digits
            field, digits = m.group(1), ""
        elif field and re.match(r"^\s+[0-9a-f:]+$", line):
            digits += line.strip().replace(":", "")
        else:
            if field in PRIVATE_FIELDS and digits:
                out[field] = digits
            field, digits = None, ""
    if field in PRIVATE_FIELDS and digits:
        out[field] = digits
    return {k: bytes.fromhex(v).lstrip(b"\0") for k, v in out.items()}


def needles(keyfile):
    pem = open(keyfile, "rb").read()
    body = [l for l in pem.splitlines() if l and not l.startswith(b"-----")]
    n = {"pem file": pem, "pem first base64 line": body[0],
         "der pkcs8": openssl("pkey", "-in", keyfile, "-outform", "DER")}
    text = openssl("pkey", "-in", keyfile, "-text", "-noout").decode()
    kind = "ec" if "priv:" in text else "rsa"
    n["der traditional"] = openssl(kind, "-in", keyfile, "-outform", "DER",
                                   *(["-traditional"] if kind == "rsa" else []))
    for field, be in numbers(text).items():
        n[field + " big-endian"] = be
        n[field + " little-endian"] = be[::-1]
    return {keyfile + ": " + k: v for k, v in n.items()}


def scan(pid, wanted):
    found = set()
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            addr, perms = line.split()[:2]
            if perms[0] != "r" or line.rstrip().endswith("[vvar]"):
                continue
            lo, hi = (int(x, 16) for x in addr.split("-"))
            try:
                mem.seek(lo)
                chunk = mem.read(hi - lo)
            except OSError:
                continue
            for name, needle in wanted.items():
                if name not in found and needle in chunk:
                    found.add(name)
    return found


def main():
    keys, pids = sys.argv[1].split(","), sys.argv[2:]
    wanted = {}
    for k in keys:
        wanted.update(needles(k))
    for pid in pids:
        found = sorted(scan(pid, wanted))
        print(f"{pid} hits {len(found)}" + "".join(f"\n  {f}" for f in found))


if __name__ == "__main__":
    main()
