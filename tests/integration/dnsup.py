#!/usr/bin/python3
"""A recording stand-in upstream resolver for the DNS proxy's tests.

    python3 dnsup.py ADDR PORT LOG MODE

Listens on ADDR:PORT over UDP and TCP (run it in the fence ns on loopback,
where egressd's proxy can reach it) and appends, per query received, one JSON
line to LOG: {"t", "transport", "hex"} (the query's bytes exactly as they
arrived). Answers every query with one A record 198.18.1.1 (TTL 300) whose
owner points at the question, the question spelt per MODE:

  echo   as received (what dnsmasq and most resolvers do)
  lower  lowercased (an upstream that does not keep case, or a spoofer who
         guessed the id but not the 0x20 spelling)
  aaaa=ADDR  as received; an AAAA question gets AAAA ADDR (a DNS64 answer,
         say) instead of the A record

Prints "ready" on stdout once both sockets listen. Python 3 stdlib only.
"""
import ipaddress
import json
import select
import socket
import struct
import sys
import time


def question_end(q):
    i = 12
    while i < len(q) and q[i]:
        i += q[i] + 1
    return i + 1 + 4


def answer(q, mode):
    if len(q) < 17:
        return None
    end = question_end(q)
    if end > len(q):
        return None
    name = q[12:end - 4]
    if mode == "lower":
        name = bytes(c + 32 if 65 <= c <= 90 else c for c in name)
    hdr = q[:2] + struct.pack("!HHHHH", 0x8180 | (q[2] & 0x01) << 8, 1, 1, 0, 0)
    qtype = struct.unpack("!H", q[end - 4:end - 2])[0]
    if mode.startswith("aaaa=") and qtype == 28:
        rr = struct.pack("!HHHIH", 0xc00c, 28, 1, 300, 16) + \
            ipaddress.IPv6Address(mode[5:]).packed
    else:
        rr = struct.pack("!HHHIH", 0xc00c, 1, 1, 300, 4) + bytes([198, 18, 1, 1])
    return hdr + name + q[end - 4:end] + rr


def main(argv):
    addr, port, log, mode = argv[1], int(argv[2]), argv[3], argv[4]
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    u = socket.socket(fam, socket.SOCK_DGRAM)
    u.bind((addr, port))
    t = socket.socket(fam, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind((addr, port))
    t.listen(16)
    out = open(log, "a", buffering=1)
    print("ready", flush=True)

    def record(transport, q):
        out.write(json.dumps({"t": time.time(), "transport": transport, "hex": q.hex()}) + "\n")

    while True:
        r, _, _ = select.select([u, t], [], [], 1.0)
        if u in r:
            q, src = u.recvfrom(65535)
            record("udp", q)
            a = answer(q, mode)
            if a:
                u.sendto(a, src)
        if t in r:
            c, _ = t.accept()
            c.settimeout(2)
            try:
                n = struct.unpack("!H", c.recv(2, socket.MSG_WAITALL))[0]
                q = c.recv(n, socket.MSG_WAITALL)
                record("tcp", q)
                a = answer(q, mode)
                if a:
                    c.sendall(struct.pack("!H", len(a)) + a)
            except (OSError, struct.error):
                pass
            c.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
