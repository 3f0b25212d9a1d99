#!/usr/bin/python3
"""Client-side helpers for kerbgated's integration tests (MIT GSSAPI).

  kgclient.py token SERVICE@HOST [cb-cert.pem]   print a fresh Negotiate token
  kgclient.py tokens SERVICE@HOST N              print N fresh tokens, one a line
  kgclient.py raw HOST PORT [wait]               send stdin verbatim, print reply
  kgclient.py slow HOST PORT SECONDS             send half a head, then wait
  kgclient.py rpcin HOST PORT SERVICE@HOST EVENTS  stream an RPC_IN_DATA body
  kgclient.py twice HOST PORT SERVICE@HOST PAUSE   two requests on one connection
  kgclient.py leg2 HOST PORT SERVICE@HOST       SPNEGO listing NTLM first: the
      Kerberos token goes in a second leg; checks mutual auth and the
      acceptor's mechListMIC with MIT's krb5 mechanism
  kgclient.py many HOST PORT SERVICE@HOST PATH CONNS PER_CONN USER
      CONNS parallel keep-alive connections, PER_CONN requests each (the
      first with a token); prints "requests N ok N wrong-user N errors N",
      where ok means 200 naming USER and wrong-user a 200 naming another
  kgclient.py freshloop HOST PORT SERVICE@HOST PATH USER@REALM PWFILE STOPFILE
      until STOPFILE exists: a new TGT (password, in memory) and so a new
      service ticket for every request, one connection each; prints
      "TIME STATUS" a line (no process start between two requests)
  kgclient.py load HOST PORT SERVICE@HOST SECONDS CONNS  keep-alive load; prints
      "requests N errors N": each connection authenticates once and is
      reopened (with a new token) when the server closes it
"""
import threading
import base64
import hashlib
import socket
import ssl
import sys
import time

import gssapi


def token(target, cert=None):
    name = gssapi.Name(target, gssapi.NameType.hostbased_service)
    cb = None
    if cert:
        der = ssl.PEM_cert_to_DER_cert(open(cert).read())
        cb = gssapi.raw.ChannelBindings(
            application_data=b"tls-server-end-point:" +
            hashlib.sha256(der).digest())
    ctx = gssapi.SecurityContext(name=name, usage="initiate",
                                 mech=gssapi.MechType.kerberos,
                                 flags=gssapi.RequirementFlag.mutual_authentication,
                                 channel_bindings=cb)
    return base64.b64encode(ctx.step()).decode()


def recv_all(s, timeout=10):
    s.settimeout(timeout)
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except socket.timeout:
        pass
    return out


def read_response(s):
    """Reads one response with a Content-Length body from socket s."""
    s.settimeout(20)
    data = b""
    while b"\r\n\r\n" not in data:
        b = s.recv(65536)
        if not b:
            return data.decode(errors="replace")
        data += b
    headlen = data.index(b"\r\n\r\n") + 4
    length = 0
    chunked = False
    for line in data[:headlen].decode(errors="replace").split("\r\n"):
        if line.lower().startswith("content-length:"):
            length = int(line.split(":", 1)[1])
        if line.lower().startswith("transfer-encoding:") and "chunked" in line.lower():
            chunked = True
    if chunked:
        # Read to the last chunk and return the body de-chunked.
        while not data.endswith(b"\r\n0\r\n\r\n") and b"\r\n0\r\n\r\n" not in data[headlen - 2:]:
            b = s.recv(65536)
            if not b:
                break
            data += b
        body, rest = b"", data[headlen:]
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            n = int(size_line.split(b";")[0] or b"0", 16)
            if n == 0:
                break
            body += rest[:n]
            rest = rest[n + 2:]
        return (data[:headlen] + body).decode(errors="replace")
    while len(data) < headlen + length:
        b = s.recv(65536)
        if not b:
            break
        data += b
    return data.decode(errors="replace")


def freshloop(host, port, target, path, user, pwfile, stopfile):
    import os
    password = open(pwfile).read().strip().encode()
    service = gssapi.Name(target, gssapi.NameType.hostbased_service)
    principal = gssapi.Name(user, gssapi.NameType.kerberos_principal)
    while not os.path.exists(stopfile):
        status = "000"
        try:
            creds = gssapi.raw.acquire_cred_with_password(
                principal, password, usage="initiate").creds
            ctx = gssapi.SecurityContext(name=service, usage="initiate", creds=creds,
                                         mech=gssapi.MechType.kerberos)
            tok = base64.b64encode(ctx.step()).decode()
            with socket.create_connection((host, port), timeout=10) as s:
                s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Negotiate %s\r\n"
                           "Connection: close\r\n\r\n" % (path, target.split("@")[1], tok)).encode())
                resp = read_response(s)
            status = resp[9:12] if resp.startswith("HTTP/1.1 ") else "000"
        except (gssapi.exceptions.GSSError, OSError):
            pass
        print("%.6f %s" % (time.time(), status), flush=True)


def load(host, port, target, seconds, conns):
    stats = {"requests": 0, "errors": 0, "reconnects": 0}
    lock = threading.Lock()
    until = time.time() + seconds

    def worker():
        s = None
        while time.time() < until:
            try:
                if s is None:
                    s = socket.create_connection((host, port), timeout=10)
                    auth = "Authorization: Negotiate %s\r\n" % token(target)
                else:
                    auth = ""
                s.sendall(("GET /load HTTP/1.1\r\nHost: mail.corp.contoso.com"
                           "\r\n%s\r\n" % auth).encode())
                r = read_response(s)
                ok = r.startswith("HTTP/1.1 200")
                closing = "Connection: close" in r
                with lock:
                    stats["requests"] += 1
                    if not ok:
                        stats["errors"] += 1
                        sys.stderr.write(r.split("\r\n")[0] + "\n")
                if closing or not ok:
                    s.close()
                    s = None
                    with lock:
                        stats["reconnects"] += 1
            except OSError as e:
                with lock:
                    stats["errors"] += 1
                sys.stderr.write("error: %s\n" % e)
                s = None
        if s is not None:
            s.close()

    threads = [threading.Thread(target=worker) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("requests %d errors %d reconnects %d" % (
        stats["requests"], stats["errors"], stats["reconnects"]))


def der(tag, body):
    n = len(body)
    if n < 128:
        ln = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        ln = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + ln + body


def der_parse(buf):
    """Yields (tag, body) for each TLV in buf."""
    i = 0
    while i < len(buf):
        tag = buf[i]
        n = buf[i + 1]
        i += 2
        if n & 0x80:
            k = n & 0x7f
            n = int.from_bytes(buf[i:i + k], "big")
            i += k
        yield tag, buf[i:i + n]
        i += n


OID_SPNEGO = bytes.fromhex("06062b0601050502")
OID_NTLM = bytes.fromhex("060a2b06010401823702020a")
OID_KRB5 = bytes.fromhex("06092a864886f712010202")


def negotiate_header(resp):
    for line in resp.split("\r\n"):
        if line.lower().startswith("www-authenticate: negotiate "):
            return base64.b64decode(line.split(" ", 2)[2])
    return None


def neg_token_resp_fields(tok):
    """{context tag number: body} of a NegTokenResp ([1] SEQUENCE)."""
    (t1, seq), = der_parse(tok)
    (t2, fields), = der_parse(seq)
    return {t & 0x1f: body for t, body in der_parse(fields)}


def leg2(host, port, target):
    mech_types = der(0x30, OID_NTLM + OID_KRB5)
    init = der(0x60, OID_SPNEGO + der(0xa0, der(0x30, der(0xa0, mech_types))))
    s = socket.create_connection((host, port))
    s.sendall(("GET /leg2 HTTP/1.1\r\nHost: mail.corp.contoso.com\r\n"
               "Authorization: Negotiate %s\r\n\r\n" %
               base64.b64encode(init).decode()).encode())
    first = read_response(s)
    print("leg1: " + first.split("\r\n")[0])
    f = neg_token_resp_fields(negotiate_header(first))
    state = f[0][-1]
    print("leg1 state: %d supportedMech-krb5: %s" % (state, f.get(1) == OID_KRB5))
    name = gssapi.Name(target, gssapi.NameType.hostbased_service)
    ctx = gssapi.SecurityContext(name=name, usage="initiate",
                                 mech=gssapi.MechType.kerberos,
                                 flags=gssapi.RequirementFlag.mutual_authentication)
    ap_req = ctx.step()
    resp = der(0xa1, der(0x30, der(0xa2, der(0x04, ap_req))))
    s.sendall(("GET /leg2 HTTP/1.1\r\nHost: mail.corp.contoso.com\r\n"
               "Authorization: Negotiate %s\r\n\r\n" %
               base64.b64encode(resp).decode()).encode())
    second = read_response(s)
    print("leg2: " + second.split("\r\n")[0])
    f = neg_token_resp_fields(negotiate_header(second))
    print("leg2 state: %d" % f[0][-1])
    (_, ap_rep), = der_parse(f[2])
    ctx.step(ap_rep)
    print("mutual: %s" % ("ok" if ctx.complete else "incomplete"))
    (_, mic), = der_parse(f[3]) if 3 in f else ((None, None),)
    if mic is None:
        print("mic: missing")
    else:
        try:
            ctx.verify_signature(mech_types, mic)
            print("mic: ok")
        except gssapi.exceptions.GSSError as e:
            print("mic: bad (%s)" % e)
    print(second.split("\r\n\r\n", 1)[1])


def many(host, port, target, path, conns, per_conn, user):
    stats = {"requests": 0, "ok": 0, "wrong-user": 0, "errors": 0}
    lock = threading.Lock()

    def worker():
        try:
            s = socket.create_connection((host, port), timeout=20)
        except OSError:
            with lock:
                stats["errors"] += per_conn
            return
        for i in range(per_conn):
            auth = "Authorization: Negotiate %s\r\n" % token(target) if i == 0 else ""
            try:
                s.sendall(("GET %s HTTP/1.1\r\nHost: mail.corp.contoso.com\r\n"
                           "%s\r\n" % (path, auth)).encode())
                r = read_response(s)
            except OSError:
                r = ""
            key = "errors"
            if r.startswith("HTTP/1.1 200"):
                key = "ok" if ("user: %s\n" % user) in r else "wrong-user"
                if key == "wrong-user":
                    sys.stderr.write("wrong user: %r\n" % r[-200:])
            elif r:
                sys.stderr.write(r.split("\r\n")[0] + "\n")
            with lock:
                stats["requests"] += 1
                stats[key] += 1
            if not r or "Connection: close" in r:
                break
        s.close()

    threads = [threading.Thread(target=worker) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("requests %(requests)d ok %(ok)d wrong-user %(wrong-user)d "
          "errors %(errors)d" % stats)


def head(host, port, target, method, host_hdr, extra=""):
    return ("%s %s HTTP/1.1\r\nHost: %s\r\n%s" % (
        method, target, host_hdr, extra)).encode()


def main():
    cmd = sys.argv[1]
    if cmd == "tokens":
        for _ in range(int(sys.argv[3])):
            print(token(sys.argv[2]))
    elif cmd == "token":
        print(token(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None))
    elif cmd == "raw":
        s = socket.create_connection((sys.argv[2], int(sys.argv[3])))
        s.sendall(sys.stdin.buffer.read())
        sys.stdout.buffer.write(recv_all(s, float(sys.argv[4]) if len(sys.argv) > 4 else 5))
    elif cmd == "slow":
        s = socket.create_connection((sys.argv[2], int(sys.argv[3])))
        s.sendall(b"GET / HTTP/1.1\r\nHost: mail.corp.contoso.com\r\nX-Slow: ")
        t0 = time.time()
        for _ in range(int(float(sys.argv[4]) * 2)):
            try:
                s.sendall(b"a")
            except OSError:
                break
            time.sleep(0.5)
        reply = recv_all(s, 2)
        print("closed-after %.1f" % (time.time() - t0))
        sys.stdout.write(reply.decode(errors="replace"))
    elif cmd == "rpcin":
        host, port, target, events = sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
        s = socket.create_connection((host, port))
        s.sendall(("RPC_IN_DATA /rpc/rpcproxy.dll?cas:6001 HTTP/1.1\r\n"
                   "Host: mail.corp.contoso.com\r\nContent-Length: 1073741824\r\n"
                   "Authorization: Negotiate %s\r\n\r\n" % token(target)).encode())
        sent = 0
        for i in range(20):
            s.sendall(b"r" * 4096)
            sent += 4096
            time.sleep(0.1)
        with open(events, "a") as f:
            f.write("%.3f client still-sending %d\n" % (time.time(), sent))
        time.sleep(1)
        s.close()
    elif cmd == "leg2":
        leg2(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif cmd == "many":
        many(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5],
             int(sys.argv[6]), int(sys.argv[7]), sys.argv[8])
    elif cmd == "freshloop":
        freshloop(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6],
                  sys.argv[7], sys.argv[8])
    elif cmd == "load":
        load(sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5]),
             int(sys.argv[6]))
    elif cmd == "twice":
        host, port, target, pause = sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
        s = socket.create_connection((host, port))
        s.sendall(("GET /first HTTP/1.1\r\nHost: mail.corp.contoso.com\r\n"
                   "Authorization: Negotiate %s\r\n\r\n" % token(target)).encode())
        first = read_response(s)
        sys.stdout.write("first-done\n")
        sys.stdout.flush()
        time.sleep(pause)
        s.sendall(b"GET /second HTTP/1.1\r\nHost: mail.corp.contoso.com\r\n\r\n")
        second = read_response(s)
        print(first.split("\r\n")[0])
        print(second.split("\r\n")[0])
        print(second)


if __name__ == "__main__":
    main()
