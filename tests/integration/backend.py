#!/usr/bin/python3
"""A header-mode back-end for kerbgated's integration tests.

It runs in a lab back-end namespace and tells the test what reached it:
which node answered, the X-Kerbgate-* identity and whether it verifies as
docs/backend-verification.md says (its example code: grant and signature,
expiry, freshness, no repeated request id), and, for streaming tests, when the
bytes of a long request body arrived.  Any method is accepted, including
Outlook Anywhere's RPC_IN_DATA and RPC_OUT_DATA.

Under /odd/ it misbehaves on purpose, as real back-ends do, for the tests of
kerbgated's back-end connection pool:
  /odd/conn       names this back-end connection and the Authorization it
                  has seen on it (IIS keeps a connection authenticated)
  /odd/challenge  401 with connection-based WWW-Authenticate (NTLM, Negotiate)
  /odd/drop       closes the connection without answering
  /odd/late       answers, then writes a stray response 0.3 s later

usage: backend.py NODE ADDRESS PORT SECRET_FILE EVENT_LOG [CERT KEY]
With CERT and KEY it speaks TLS ("SSL bridging", as Exchange back-ends do).
"""
import http.server
import os
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse

# The verification is docs/backend-verification.md's own example code.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "docs", "examples"))
import kerbgate_verify  # noqa: E402

NODE, ADDR, PORT, SECRET_FILE, EVENTS = sys.argv[1:6]
VERIFIER = kerbgate_verify.Verifier(open(SECRET_FILE, "rb").read())
NAMES = kerbgate_verify.NAMES
SECRET_STAMP = None


def follow_secrets():
    """A pool secret's change as docs/backend-verification.md tells a
    back-end to make it: SECRET_FILE, and while SECRET_FILE.next exists,
    that one too (either verifies).  Re-read when either file changes."""
    global SECRET_STAMP
    files = [f for f in (SECRET_FILE, SECRET_FILE + ".next")
             if os.path.exists(f)]
    stamp = [(f, os.stat(f).st_mtime_ns, os.stat(f).st_ino) for f in files]
    if stamp != SECRET_STAMP:
        VERIFIER.secrets = [open(f, "rb").read()[:64] for f in files]
        SECRET_STAMP = stamp


def event(line):
    with open(EVENTS, "a") as f:
        f.write("%.3f %s %s\n" % (time.time(), NODE, line))


def verify(h, method, target):
    """The recipe of docs/backend-verification.md, as a word for the test,
    and which secret verified: "current" (SECRET_FILE) or "next"."""
    follow_secrets()
    verdict = VERIFIER.check(None, method, target, h)[0]
    index = getattr(VERIFIER.matched, "index", None)
    return verdict, {0: "current", 1: "next"}.get(index, "none")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def __getattr__(self, name):
        if name.startswith("do_"):
            return self.handle_any
        raise AttributeError(name)

    def reply(self, status, body, extra=()):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def read_chunked(self):
        # Trailer names go to self.trailers; a body cut off before its
        # end sets self.cut (kerbgated refused the rest).
        got = 0
        while True:
            line = self.rfile.readline()
            if not line:
                self.cut = True
                return got
            size = int(line.split(b";")[0], 16)
            if size == 0:
                while True:
                    line = self.rfile.readline()
                    if line == b"":
                        self.cut = True
                        return got
                    if line == b"\r\n":
                        return got
                    self.trailers.append(line.split(b":")[0].decode())
            got += len(self.rfile.read(size))
            self.rfile.readline()

    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or ""):
            return self.read_chunked()
        n = int(self.headers.get("Content-Length") or 0)
        got = 0
        first = True
        while got < n:
            chunk = self.rfile.read1(min(65536, n - got))
            if not chunk:
                break
            if first:
                event("first-body-bytes %s %d" % (self.path, len(chunk)))
                first = False
            got += len(chunk)
        return got

    def odd(self, path):
        """Back-end behaviour the connection pool must survive."""
        event("request %s %s" % (self.command, path))
        conn = "conn: %s:%d\n" % self.client_address
        if self.headers.get("Authorization"):
            # Connection-based auth, as IIS does for NTLM and Negotiate.
            self.conn_auth = self.headers.get("Authorization")
        if path == "/odd/conn":
            return self.reply(200, conn + "conn-auth: %s\n" % getattr(
                self, "conn_auth", "none"))
        if path == "/odd/challenge":
            return self.reply(401, conn, (("WWW-Authenticate", "Negotiate"),
                                          ("WWW-Authenticate", "NTLM")))
        if path == "/odd/drop":
            self.close_connection = True
            return
        if path == "/odd/late":
            sock = self.connection

            def stray():
                time.sleep(0.3)
                try:
                    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n"
                                 b"\r\nLATE-BYTES\n")
                except OSError:
                    pass
            threading.Thread(target=stray, daemon=True).start()
            return self.reply(200, conn)
        return self.reply(404, conn)

    def handle_any(self):
        url = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(url.query)
        if url.path == "/health":
            return self.reply(200, "ok\n")
        if url.path.startswith("/odd/"):
            return self.odd(url.path)
        event("request %s %s user=%s" % (self.command, url.path,
                                         self.headers.get("X-Kerbgate-User")))
        if url.path.startswith("/wait"):
            time.sleep(float(q.get("s", ["1"])[0]))
        if url.path.startswith("/slow-head"):
            # A back-end that writes its response head a few bytes at a
            # time: the proxy must keep its place in the head, not rescan.
            body = b"slow head, whole body\n"
            head = ("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                    "X-Padding: %s\r\nContent-Length: %d\r\n\r\n"
                    % ("p" * 400, len(body))).encode()
            self.close_connection = True
            for i in range(0, len(head), 7):
                self.wfile.write(head[i:i + 7])
                self.wfile.flush()
                time.sleep(0.005)
            self.wfile.write(body)
            self.wfile.flush()
            return
        if url.path.endswith("/chunked-out"):
            # A chunked answer, whatever the request's version.
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"hello ", b"chunked ", b"world\n"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        if url.path.startswith("/stream-out"):
            # RPC_OUT_DATA style: a long response streamed over time.
            n = int(q.get("n", ["5"])[0])
            self.send_response(200)
            self.send_header("Content-Length", str(n * 1024))
            self.end_headers()
            for i in range(n):
                self.wfile.write(b"x" * 1024)
                self.wfile.flush()
                event("sent-chunk %d" % i)
                time.sleep(0.2)
            return
        self.trailers, self.cut = [], False
        got = self.read_body()
        if self.cut:
            event("body-cut %s" % url.path)
            self.close_connection = True
            return
        if self.trailers:
            event("trailers %s %s" % (url.path, ",".join(self.trailers)))
        forged = [k for k in self.headers.keys()
                  if k.lower().startswith("x-kerbgate-") and
                  k.lower() not in [n.lower() for n in NAMES]]
        verdict, which = verify(self.headers, self.command, self.path)
        body = "node: %s\nuser: %s\nsignature: %s\nbody-bytes: %d\n" \
               "extra-kerbgate-headers: %s\nxff: %s\nforwarded: %s\n" \
               "authorization: %s\n" % (
                   NODE, self.headers.get("X-Kerbgate-User", ""),
                   verdict, got,
                   ",".join(forged) or "none",
                   self.headers.get("X-Forwarded-For", ""),
                   self.headers.get("Forwarded", ""),
                   self.headers.get("Authorization", ""))
        # What a replay test needs to send the same identity again.
        for n in NAMES[1:]:
            body += "%s: %s\n" % (n.lower(), self.headers.get(n, ""))
        body += "secret: %s\n" % which
        body += "header-names: %s\ncookie: %s\nxfp: %s\n" % (
            ",".join(self.headers.keys()),
            " | ".join(self.headers.get_all("Cookie") or []),
            ",".join(self.headers.get_all("X-Forwarded-Proto") or []))
        users = self.headers.get_all("X-Kerbgate-User") or []
        if len(users) > 1:
            body += "duplicate-user-headers: %d\n" % len(users)
        self.reply(200, body)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


if __name__ == "__main__":
    # SIGTERM (the tests stop a back-end with pkill) is a normal exit.
    import signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    srv = Server((ADDR, int(PORT)), Handler)
    if len(sys.argv) > 7:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[6], sys.argv[7])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    srv.serve_forever()
