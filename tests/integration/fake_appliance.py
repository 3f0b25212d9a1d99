#!/usr/bin/env python3
"""A lying management API for test_roll.sh: mutual TLS like kerbgate-mgmtd,
but it answers 200 {"ok": true} to every change without making it, and lists
one credential, the kvno given on the command line, as active.  kerbgate-roll
must notice that the appliance does not hold what it said it staged before
it sets a password in AD.

usage: fake_appliance.py ADDR PORT CERT KEY CLIENT_CA KVNO
"""
import http.server
import json
import ssl
import sys
import time

addr, port, cert, key, client_ca, kvno = sys.argv[1:7]
since = int(time.time()) - 86400


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, obj):
        body = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.answer({"ok": True, "credentials": {"kvnos": [
            {"kvno": int(kvno), "state": "active", "since": since}]}})

    def change(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.answer({"ok": True, "message": "done (not really)"})

    do_PUT = change
    do_POST = change

    def log_message(self, fmt, *args):
        sys.stderr.write("fake appliance: " + fmt % args + "\n")


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ctx.load_verify_locations(client_ca)
ctx.verify_mode = ssl.CERT_REQUIRED
srv = http.server.HTTPServer((addr, int(port)), Handler)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("listening", flush=True)
srv.serve_forever()
