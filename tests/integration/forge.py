#!/usr/bin/python3
"""What a compromised relay, or anyone on the back-end network, could send:
identity headers signed with a grant it makes up, and session cookies it
mints itself.  The tests show the back-end's verification (the example code
of docs/backend-verification.md) and the keyholder refuse them.

usage:
  forge.py headers KEY USER VHOST METHOD TARGET SCHEME EXP_OFFSET
      X-Kerbgate-* header lines, one per line, for curl -H.  KEY is a
      pool secret file (the grant key is derived from it, as the keyholder
      does) or "random" (a grant key made up, as a relay would have to).
      EXP_OFFSET: the grant's expiry, in seconds from now (negative: past).
  forge.py cookie KEY_FILE_OR_random USER VHOST EXP_OFFSET
      a kerbgate_session value in the keyholder's format (docs/config.md).
"""
import base64
import hashlib
import hmac
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "docs", "examples"))
import kerbgate_verify as kv  # noqa: E402


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=")


def headers(key, user, vhost, method, target, scheme, offset):
    now = int(time.time())
    gid = os.urandom(16).hex().encode()
    exp = str(now + int(offset)).encode()
    user, vhost = user.encode(), vhost.encode()
    if key == "random":
        gkey = os.urandom(32)
    else:
        gkey = kv.grant_key(open(key, "rb").read()[:64], user, vhost, gid,
                            exp)
    ts = str(now).encode()
    rid = b"forged-" + os.urandom(8).hex().encode()
    sig = kv.signature(gkey, user, ts, rid, scheme.encode(), vhost,
                       method.encode(), target.encode())
    for name, value in (("X-Kerbgate-User", user), ("X-Kerbgate-Time", ts),
                        ("X-Kerbgate-Request-Id", rid),
                        ("X-Kerbgate-Grant", b"v=1; id=%s; exp=%s" % (gid, exp)),
                        ("X-Kerbgate-Signature", b"v3=" + sig)):
        print("%s: %s" % (name, value.decode()))


def cookie(key, user, vhost, offset):
    k = os.urandom(32) if key == "random" else open(key, "rb").read()
    payload = b64(b"%s\n%s\n%d" % (user.encode(), vhost.encode(),
                                   int(time.time()) + int(offset)))
    mac = hmac.new(k, b"kerbgate-cookie-v1\n" + payload, hashlib.sha256)
    print((payload + b"." + b64(mac.digest())).decode())


if __name__ == "__main__":
    if sys.argv[1] == "headers":
        headers(*sys.argv[2:9])
    else:
        cookie(*sys.argv[2:6])
