#!/usr/bin/python3
"""Hostile clients for kerbgate-mgmtd (tests/integration/test_mgmtd.sh).

  mgmtprobe.py cert WORK NAME KIND      a client certificate from WORK/mgmt-ca
                                        (or signed by WORK/admin for KIND
                                        "by-admin"): KIND is expired,
                                        any-eku, by-admin, newline-cn
  mgmtprobe.py raw PORT WORK CERT [tls1.2|tls1.3] < request
                                        sends the bytes of stdin as they are
                                        over TLS with WORK/CERT.{pem,key}
                                        (CERT "-": none) and prints what
                                        comes back until the server closes;
                                        exit 3 when the handshake fails
  mgmtprobe.py midflight PORT WORK N    an admin handshake from 127.0.0.1
                                        held half-way while N idle
                                        connections from 127.0.0.2 come in,
                                        then finished: its status line (or
                                        "dropped: ...")
  mgmtprobe.py resume PORT WORK VERSION  two admin connections, the second
                                        offering the first one's session:
                                        prints "resumed" or "full handshake"
  mgmtprobe.py hold PORT WORK CERT N    N connections that finish the TLS
                                        handshake with CERT and send nothing;
                                        then one request as the admin: prints
                                        its status line (or "refused")
  mgmtprobe.py webhold WEBPORT APIPORT WORK ADDRS N
                                        the web listener (no client
                                        certificate): N connections from each
                                        of ADDRS (127.0.0.x, comma-separated)
                                        that finish the handshake and send
                                        nothing, a byte, or a head whose
                                        body never comes; then "web:" the status line
                                        of a page request from 127.0.0.1, and
                                        "api:" that of an API request with
                                        WORK/admin.{pem,key} on APIPORT
"""
import datetime
import socket
import ssl
import sys
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def load(work, name):
    with open("%s/%s.pem" % (work, name), "rb") as f:
        crt = x509.load_pem_x509_certificate(f.read())
    with open("%s/%s.key" % (work, name), "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    return crt, key


def make_cert(work, name, kind):
    issuer, ikey = load(work, "admin" if kind == "by-admin" else "mgmt-ca")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cn = "roll\r\nforged=1 action=activate" if kind == "newline-cn" else "roll-" + kind
    start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=1)
    if kind == "expired":
        start, end = now - datetime.timedelta(days=3), now - datetime.timedelta(days=2)
    eku = [x509.ObjectIdentifier("2.5.29.37.0")] if kind == "any-eku" else \
        [ExtendedKeyUsageOID.CLIENT_AUTH]
    crt = (x509.CertificateBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Contoso"),
                                    x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
           .issuer_name(issuer.subject)
           .public_key(key.public_key())
           .serial_number(x509.random_serial_number())
           .not_valid_before(start).not_valid_after(end)
           .add_extension(x509.ExtendedKeyUsage(eku), critical=False)
           .sign(ikey, hashes.SHA256()))
    with open("%s/%s.key" % (work, name), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    pem = crt.public_bytes(serialization.Encoding.PEM)
    if kind == "by-admin":	# the chain, as a client would send it
        pem += issuer.public_bytes(serialization.Encoding.PEM)
    with open("%s/%s.pem" % (work, name), "wb") as f:
        f.write(pem)


def context(work, cert, version=None):
    ctx = ssl.create_default_context(cafile=work + "/mgmt-ca.pem")
    ctx.check_hostname = False
    if cert != "-":
        ctx.load_cert_chain(work + "/" + cert + ".pem", work + "/" + cert + ".key")
    if version == "tls1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    elif version == "tls1.3":
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    return ctx


def connect(port, ctx):
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    return ctx.wrap_socket(s)


def raw(port, work, cert, version):
    data, got = sys.stdin.buffer.read(), b""
    try:
        s = connect(port, context(work, cert, version))
        s.sendall(data)
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
    except (ssl.SSLError, ConnectionError, socket.timeout) as e:
        if not got:
            print("refused: %s" % e)
            return 3
    sys.stdout.buffer.write(got)
    return 0


GET = b"GET /api/v1/credentials HTTP/1.1\r\nHost: x\r\n\r\n"


def answer_then_close(ask, failed, held):
    """Prints the status line ask() gets back (or FAILED: why), then
    closes the held connections."""
    try:
        line = ask().split(b"\r\n", 1)[0].decode()
    except (ssl.SSLError, ConnectionError, socket.timeout) as e:
        line = "%s: %s" % (failed, e)
    print(line)
    for s in held:
        s.close()
    return 0


def hold(port, work, cert, n):
    held = []
    for _ in range(n):
        try:
            held.append(connect(port, context(work, cert)))
        except (ssl.SSLError, ConnectionError, socket.timeout):
            pass
    time.sleep(0.3)

    def ask():
        s = connect(port, context(work, "admin"))
        s.sendall(GET)
        return s.recv(4096)
    return answer_then_close(ask, "refused", held)


def resume(port, work, version):
    ctx = context(work, "admin", version)
    sessions = []
    for _ in range(2):
        s = connect(port, ctx) if not sessions else \
            ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=20),
                            session=sessions[0])
        s.sendall(GET)
        while s.recv(65536):
            pass
        sessions.append(s.session)
        reused = s.session_reused
        s.close()
    print("resumed" if reused else "full handshake")
    return 0


def midflight(port, work, n):
    """The admin's handshake is held half-way (its ClientHello sent, the
    server's answer read) while N idle connections from 127.0.0.2 fill the
    slots; then it is finished and a request is made."""
    held = []
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context(work, "admin").wrap_bio(inc, out)
    raw = socket.create_connection(("127.0.0.1", port), timeout=20)

    def pump(step):
        while True:
            try:
                r = step()
                raw.sendall(out.read())
                return r
            except ssl.SSLWantReadError:
                raw.sendall(out.read())
                data = raw.recv(65536)
                if not data:
                    raise ConnectionError("closed by the server")
                inc.write(data)

    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        raw.sendall(out.read())
    inc.write(raw.recv(65536))		# the server's flight, not answered yet
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.2", 0))
        s.connect(("127.0.0.1", port))
        held.append(s)
    time.sleep(0.5)

    def ask():
        pump(tls.do_handshake)
        pump(lambda: tls.write(GET))
        return pump(lambda: tls.read(4096))
    return answer_then_close(ask, "dropped", held)


def webhold(web_port, api_port, work, addrs, n):
    anyone = ssl.create_default_context()
    anyone.check_hostname = False
    anyone.verify_mode = ssl.CERT_NONE
    held = []
    for a in addrs.split(","):
        for _ in range(n):
            try:
                s = socket.create_connection(("127.0.0.1", web_port), timeout=5,
                                             source_address=(a, 0))
                t = anyone.wrap_socket(s)
                # nothing; a request's first byte; a whole head whose body
                # never comes: none of them may hold a slot for good
                t.sendall([b"", b"G", b"POST /api/v1/web/login HTTP/1.1\r\nHost: x\r\n"
                           b"Content-Length: 100\r\n\r\n"][len(held) % 3])
                held.append(t)
            except (ssl.SSLError, OSError):
                pass
    time.sleep(0.3)
    alive = 0
    for s in held:  # which ones mgmtd kept: a closed one reads EOF at once
        s.setblocking(False)
        try:
            alive += 1 if s.recv(1) else 0
        except ssl.SSLWantReadError:
            alive += 1
        except (ssl.SSLError, OSError):
            pass
    print("held: %d of %d still open" % (alive, len(held)))

    def page():
        s = anyone.wrap_socket(socket.create_connection(("127.0.0.1", web_port), timeout=20))
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        return s.recv(4096)

    def api():
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # is it there, not who it is
        ctx.load_cert_chain(work + "/admin.pem", work + "/admin.key")
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", api_port), timeout=20))
        s.sendall(GET)
        return s.recv(4096)
    for name, ask in (("web", page), ("api", api)):
        try:
            line = ask().split(b"\r\n", 1)[0].decode()
        except (ssl.SSLError, OSError) as e:
            line = "refused: %s" % e
        print("%s: %s" % (name, line))
    for s in held:
        s.close()
    return 0


def main():
    cmd = sys.argv[1]
    if cmd == "cert":
        make_cert(sys.argv[2], sys.argv[3], sys.argv[4])
        return 0
    if cmd == "raw":
        return raw(int(sys.argv[2]), sys.argv[3], sys.argv[4],
                   sys.argv[5] if len(sys.argv) > 5 else None)
    if cmd == "midflight":
        return midflight(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
    if cmd == "resume":
        return resume(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    if cmd == "webhold":
        return webhold(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5],
                       int(sys.argv[6]))
    if cmd == "hold":
        return hold(int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]))
    return 2


if __name__ == "__main__":
    sys.exit(main())
