"""Verifies the identity kerbgated forwards to a header-mode back-end.

The recipe of docs/backend-verification.md, as a module a Python back-end
can use as it is (standard library only).  The lab's recording back-end
(tests/integration/backend.py) runs this very file against real requests.

    v = Verifier(open("/etc/kerbgate/cas.secret", "rb").read(),
                 appliance={"10.77.0.30"},
                 aliases={b"mail": b"mail.corp.contoso.com"})
    verdict, user = v.check(peer, method, target, headers)
    if verdict != "valid":
        refuse with 403

headers is an email.message.Message (http.server's self.headers) or
anything with get_all(name); method and target are the request line's,
as str decoded as ISO-8859-1 (http.server and WSGI do), target exactly as
sent (in WSGI: REQUEST_URI or RAW_URI, never PATH_INFO).

Verdicts: "valid" (user is the verified principal), "absent" (no kerbgate
header at all: an anonymous request), "bad" (missing, repeated or
malformed header, wrong peer, or a signature that does not verify),
"expired" (the grant's end has passed: kerbgated never signs with an
expired grant, so this is a replay or a forgery), "stale" (the time is
more than max_age seconds off), "replayed" (a request id seen before).
"""
import hashlib
import hmac
import re
import threading
import time

NAMES = ("X-Kerbgate-User", "X-Kerbgate-Time", "X-Kerbgate-Request-Id",
         "X-Kerbgate-Grant", "X-Kerbgate-Signature")
GRANT = re.compile(rb"v=1; id=([0-9a-f]{32}); exp=([1-9][0-9]{0,19})\Z")


def grant_key(secret, user, vhost, grant_id, expiry):
    """The grant's key: HMAC-SHA256 under the pool secret (bytes)."""
    msg = b"\n".join((b"kerbgate-grant-v1", user, vhost, grant_id, expiry))
    return hmac.new(secret, msg, hashlib.sha256).digest()


def signature(key, user, ts, rid, scheme, vhost, method, target):
    """Lowercase hex HMAC-SHA256 over the kerbgate-v3 string (bytes)."""
    msg = b"\n".join((b"kerbgate-v3", user, ts, rid, scheme, vhost,
                      method, target))
    return hmac.new(key, msg, hashlib.sha256).hexdigest().encode()


def vhost_of(host, aliases):
    """The virtual host a Host value names: no port, no trailing dot,
    lower case, an alias mapped to its vhost's name (bytes)."""
    name = host.lower().split(b":")[0]
    if name.endswith(b"."):
        name = name[:-1]
    return aliases.get(name, name)


class Verifier:
    def __init__(self, secret, appliance=None, aliases=None, max_age=30):
        # The same bytes as the appliance's; during a change of the pool's
        # secret, a list of two: the new one and the old one.
        self.secrets = [s[:64] for s in
                        (secret if isinstance(secret, (list, tuple))
                         else [secret])]
        self.matched = threading.local()  # which of them verified, last
        self.appliance = appliance    # peers allowed; None: not checked
        self.aliases = aliases or {}
        self.max_age = max_age
        self.seen = {}                # request id -> forget after
        self.lock = threading.Lock()

    def first_time(self, rid):
        now = time.time()
        with self.lock:
            for k in [k for k, t in self.seen.items() if t < now]:
                del self.seen[k]
            if rid in self.seen:
                return False
            self.seen[rid] = now + 2 * self.max_age + 1
            return True

    def check(self, peer, method, target, headers):
        """(verdict, user): user is a str only when verdict is "valid"."""
        values = [headers.get_all(n) or [] for n in NAMES]
        if all(len(v) == 0 for v in values):
            return "absent", None
        proto = headers.get_all("X-Forwarded-Proto") or []
        host = headers.get_all("Host") or []
        if (self.appliance is not None and peer not in self.appliance) or \
                any(len(v) != 1 for v in values) or len(proto) != 1 or \
                len(host) != 1:
            return "bad", None
        user, ts, rid, grant, sig = (v[0].encode("latin-1") for v in values)
        m = GRANT.match(grant)
        if m is None or not sig.startswith(b"v3=") or not ts.isdigit():
            return "bad", None
        grant_id, expiry = m.groups()
        vhost = vhost_of(host[0].encode("latin-1"), self.aliases)
        self.matched.index = None
        for i, secret in enumerate(self.secrets):
            key = grant_key(secret, user, vhost, grant_id, expiry)
            want = signature(key, user, ts, rid, proto[0].encode("latin-1"),
                             vhost, method.encode("latin-1"),
                             target.encode("latin-1"))
            if hmac.compare_digest(want, sig[3:]):
                self.matched.index = i
                break
        else:
            return "bad", None
        now = time.time()
        if now >= int(expiry):
            return "expired", None
        if abs(now - int(ts)) > self.max_age:
            return "stale", None
        if not self.first_time(rid):
            return "replayed", None
        return "valid", user.decode("utf-8")
