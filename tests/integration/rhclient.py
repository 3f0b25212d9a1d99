#!/usr/bin/python3
"""Raw clients for test_relayhttp.sh: how kerbgated reads client input.

  rhclient.py pieces HOST PORT TOTAL FIRST PAUSE [STEP]
      a GET /public/pieces head of TOTAL bytes (X-Pad-N headers of at most
      8000 bytes each), sent as FIRST bytes, then after PAUSE seconds the
      rest in pieces of STEP bytes (default: all) with PAUSE between;
      prints the status line
  rhclient.py raw HOST PORT [WAIT]      send stdin verbatim, print the reply
                                        (until close or WAIT s of silence)
  rhclient.py idle HOST PORT WAIT       connect, send nothing for WAIT s,
                                        print "closed" or "open"
  rhclient.py conns HOST PORT N HOLD    open N connections that send
                                        nothing; after HOLD s print
                                        "open K refused M" (refused: closed
                                        by the server meanwhile)
  rhclient.py keepalive HOST PORT PAUSE two requests on one connection,
                                        PAUSE s apart; prints both status lines
"""
import socket
import sys
import time

HOSTHDR = "mail.corp.contoso.com"


def recv_all(s, timeout):
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
    except OSError:
        pass
    return out


def status_line(data):
    return data.split(b"\r\n", 1)[0].decode(errors="replace")


def padded_head(total):
    start = "GET /public/pieces HTTP/1.1\r\nHost: %s\r\n" % HOSTHDR
    end = "Connection: close\r\n\r\n"
    lines, size, i = [], len(start) + len(end), 0
    while size < total:
        room = total - size
        prefix = "X-Pad-%d: " % i
        if room < len(prefix) + 3:
            # Too little left for another header: lengthen the last one.
            last = lines.pop()
            size -= len(last)
            room += len(last)
            prefix = "X-Pad-%d: " % (i - 1)
        n = min(8000, room - len(prefix) - 2)
        line = prefix + "p" * n + "\r\n"
        lines.append(line)
        size += len(line)
        i += 1
    head = (start + "".join(lines) + end).encode()
    assert len(head) == total, (len(head), total)
    return head


def pieces(host, port, total, first, pause, step):
    head = padded_head(total)
    s = socket.create_connection((host, port))
    s.sendall(head[:first])
    off = first
    while off < len(head):
        time.sleep(pause)
        n = step or len(head) - off
        try:
            s.sendall(head[off:off + n])
        except OSError:
            break       # answered (and closed) before the end
        off += n
    print(status_line(recv_all(s, 10)))


def idle(host, port, wait):
    s = socket.create_connection((host, port))
    time.sleep(wait)
    s.settimeout(1)
    try:
        b = s.recv(1)
        print("closed" if b == b"" else "open (data)")
    except socket.timeout:
        print("open")
    except OSError:
        print("closed")


def conns(host, port, n, hold):
    socks = []
    for _ in range(n):
        socks.append(socket.create_connection((host, port)))
    time.sleep(hold)
    opened = refused = 0
    for s in socks:
        s.settimeout(0.5)
        try:
            b = s.recv(1)
            if b == b"":
                refused += 1
            else:
                opened += 1
        except socket.timeout:
            opened += 1
        except OSError:
            refused += 1
    for s in socks:
        s.close()
    print("open %d refused %d" % (opened, refused))


def keepalive(host, port, pause):
    s = socket.create_connection((host, port))
    req = ("GET /public/ka HTTP/1.1\r\nHost: %s\r\n\r\n" % HOSTHDR).encode()
    for i in range(2):
        if i:
            time.sleep(pause)
        try:
            s.sendall(req)
            print(status_line(recv_all_one(s)))
        except OSError as e:
            print("error %s" % e)


def recv_all_one(s):
    """One response with a Content-Length body."""
    s.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        b = s.recv(65536)
        if not b:
            return data
        data += b
    headlen = data.index(b"\r\n\r\n") + 4
    length = 0
    for line in data[:headlen].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    while len(data) < headlen + length:
        b = s.recv(65536)
        if not b:
            break
        data += b
    return data


def main():
    cmd, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if cmd == "pieces":
        pieces(host, port, int(sys.argv[4]), int(sys.argv[5]),
               float(sys.argv[6]), int(sys.argv[7]) if len(sys.argv) > 7 else 0)
    elif cmd == "raw":
        s = socket.create_connection((host, port))
        s.sendall(sys.stdin.buffer.read())
        wait = float(sys.argv[4]) if len(sys.argv) > 4 else 5
        sys.stdout.buffer.write(recv_all(s, wait))
    elif cmd == "idle":
        idle(host, port, float(sys.argv[4]))
    elif cmd == "conns":
        conns(host, port, int(sys.argv[4]), float(sys.argv[5]))
    elif cmd == "keepalive":
        keepalive(host, port, float(sys.argv[4]))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
