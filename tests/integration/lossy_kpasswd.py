#!/usr/bin/env python3
"""A kpasswd relay that loses every answer, for test_roll.sh: it passes each
password change (UDP and TCP) on to the DC, which makes it, and never
answers the client, as when the answer is lost on the way back.

usage: lossy_kpasswd.py LISTEN_ADDR PORT DC_ADDR
"""
import socket
import sys
import threading

addr, port, dc = sys.argv[1], int(sys.argv[2]), sys.argv[3]


def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, port))
    while True:
        req, _ = s.recvfrom(65536)
        f = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        f.settimeout(10)
        f.sendto(req, (dc, 464))
        try:
            f.recvfrom(65536)   # the DC's answer, dropped
        except OSError:
            pass
        f.close()


def tcp_one(c):
    try:
        c.settimeout(10)
        req = c.recv(65536)
        f = socket.create_connection((dc, 464), timeout=10)
        f.sendall(req)
        f.recv(65536)           # the DC's answer, dropped
        f.close()
    except OSError:
        pass
    c.close()


def tcp():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(8)
    while True:
        c, _ = s.accept()
        threading.Thread(target=tcp_one, args=(c,), daemon=True).start()


threading.Thread(target=udp, daemon=True).start()
print("listening", flush=True)
tcp()
