#!/usr/bin/python3
"""A TLS back-end that requires Extended Protection, as Exchange does.

It accepts `Authorization: Negotiate` with MIT's GSS-API acceptor (its own
keytab, KRB5_KTNAME) and refuses any token that is not bound to its own
certificate (RFC 5929 tls-server-end-point): a wrong binding fails in the
acceptor, a missing one is refused because MIT then does not report
GSS_C_CHANNEL_BOUND_FLAG.  Answers "user: <principal>" or 401.

usage: ep_backend.py ADDRESS PORT CERT KEY
"""
import base64
import hashlib
import http.server
import socketserver
import ssl
import sys

import gssapi

ADDR, PORT, CERT, KEY = sys.argv[1:5]
DER = ssl.PEM_cert_to_DER_cert(open(CERT).read())
BINDINGS = gssapi.raw.ChannelBindings(
    application_data=b"tls-server-end-point:" + hashlib.sha256(DER).digest())
CHANNEL_BOUND = 2048    # GSS_C_CHANNEL_BOUND_FLAG (MIT krb5 1.19+)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, body, extra=()):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/health":
            return self.reply(200, "ok\n")
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Negotiate "):
            return self.reply(401, "no token\n", [("WWW-Authenticate", "Negotiate")])
        try:
            ctx = gssapi.SecurityContext(usage="accept", channel_bindings=BINDINGS)
            out = ctx.step(base64.b64decode(auth[10:]))
            bound = ctx.complete and ctx.actual_flags & CHANNEL_BOUND
        except Exception as e:      # a bad binding, a bad token: all refused
            return self.reply(401, "refused: %s\n" % e)
        if not bound:
            return self.reply(401, "refused: token not bound to this certificate\n")
        extra = [("WWW-Authenticate", "Negotiate " + base64.b64encode(out).decode())] if out else []
        self.reply(200, "node: ep-cas1\nuser: %s\ntls: %s\n" % (
            ctx.initiator_name, self.connection.version()), extra)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


if __name__ == "__main__":
    srv = Server((ADDR, int(PORT)), Handler)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(CERT, KEY)
    if len(sys.argv) > 5 and sys.argv[5] == "1.2":     # an older back-end
        tls.maximum_version = ssl.TLSVersion.TLSv1_2
    srv.socket = tls.wrap_socket(srv.socket, server_side=True)
    srv.serve_forever()
