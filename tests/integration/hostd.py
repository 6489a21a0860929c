#!/usr/bin/python3
"""The test hosts' servers, run inside the hosts network namespace.

One process, one selector loop:
  - TCP accept-and-echo on [::]:PORT (dual-stack) for each --tcp port;
  - UDP echo on [::]:PORT (dual-stack) for each --udp port. Replies leave
    from the address the datagram was sent to (IPV6_PKTINFO), so that a
    client's connected UDP socket accepts them.
Not port 53: DNS in the hosts ns is a real dnsmasq (world.py), which binds
port 53 of its own two addresses; hostd must stay off that port.

Prints "READY <pid>" on stdout once every socket is bound; if --log is
given, appends one JSON line per accepted connection or received datagram
({"proto", "local", "lport", "peer", "pport"}), so a test can tell whether a
packet reached the hosts at all; datagrams carry their first bytes ("data",
latin-1), and each TCP read is a "tcp-data" line with them (the security
suite looks for its secret token there).

Python 3 stdlib only. Started by world.py as
    nsenter --net=/run/netns/HOSTS /usr/bin/python3 hostd.py --tcp 22,80 --udp 123,9999
"""
import argparse
import json
import os
import selectors
import signal
import socket
import struct
import sys
import time

# Linux values; the socket module lacks some of them on older Pythons.
IPV6_RECVPKTINFO = getattr(socket, "IPV6_RECVPKTINFO", 49)
IPV6_PKTINFO = getattr(socket, "IPV6_PKTINFO", 50)
DATA_LOGGED = 512  # bytes of each datagram / TCP read kept in the log ("data")


def unmap(addr):
    """'::ffff:198.18.1.1' -> '198.18.1.1'; other addresses unchanged."""
    if addr.startswith("::ffff:") and "." in addr:
        return addr[7:]
    return addr


class Hostd:
    def __init__(self, tcp_ports, udp_ports, log_path):
        self.sel = selectors.DefaultSelector()
        self.log = open(log_path, "a", buffering=1) if log_path else None
        for port in tcp_ports:
            s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            s.bind(("::", port))
            s.listen(128)
            s.setblocking(False)
            self.sel.register(s, selectors.EVENT_READ, ("listen", port))
        for port in udp_ports:
            s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
            s.bind(("::", port))
            s.setblocking(False)
            self.sel.register(s, selectors.EVENT_READ, ("udp", port))

    def record(self, proto, local, lport, peer, pport, data=None):
        if self.log:
            e = {"t": time.time(), "proto": proto, "local": unmap(local), "lport": lport,
                 "peer": unmap(peer), "pport": pport}
            if data is not None:  # what arrived, so a test can look for its secret in it
                e["data"] = data[:DATA_LOGGED].decode("latin-1")
            self.log.write(json.dumps(e) + "\n")

    def on_listen(self, s, port):
        try:
            c, peer = s.accept()
        except OSError:
            return
        c.setblocking(False)
        local = c.getsockname()
        self.record("tcp", local[0], local[1], peer[0], peer[1])
        self.sel.register(c, selectors.EVENT_READ, ("conn", port))

    def on_conn(self, c):
        try:
            data = c.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.sel.unregister(c)
            c.close()
            return
        try:  # "tcp-data", not "tcp": tests count connections by proto "tcp"
            local, peer = c.getsockname(), c.getpeername()
            self.record("tcp-data", local[0], local[1], peer[0], peer[1], data)
        except OSError:
            pass
        try:
            c.sendall(data)  # small echoes: the send buffer never fills here
        except OSError:
            self.sel.unregister(c)
            c.close()

    def on_udp(self, s, port):
        while True:
            try:
                data, anc, _flags, peer = s.recvmsg(65536, socket.CMSG_SPACE(20))
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            cmsgs = []
            local = "::"
            for level, typ, val in anc:
                if level == socket.IPPROTO_IPV6 and typ == IPV6_PKTINFO and len(val) >= 20:
                    addr = val[:16]
                    local = socket.inet_ntop(socket.AF_INET6, addr)
                    # reply from the address asked for; ifindex 0 lets routing pick
                    cmsgs = [(socket.IPPROTO_IPV6, IPV6_PKTINFO, addr + struct.pack("@I", 0))]
            self.record("udp", local, port, peer[0], peer[1], data)
            try:
                s.sendmsg([data], cmsgs, 0, peer)
            except OSError:
                pass

    def serve(self):
        while True:
            for key, _ in self.sel.select():
                kind, port = key.data
                if kind == "listen":
                    self.on_listen(key.fileobj, port)
                elif kind == "conn":
                    self.on_conn(key.fileobj)
                else:
                    self.on_udp(key.fileobj, port)


def ports(text):
    return [int(p) for p in text.split(",") if p]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tcp", type=ports, default=[22, 80, 443, 8080, 9000])
    ap.add_argument("--udp", type=ports, default=[123, 9999])
    ap.add_argument("--log", help="append one JSON line per connection/datagram")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    h = Hostd(args.tcp, args.udp, args.log)
    sys.stdout.write("READY %d\n" % os.getpid())
    sys.stdout.flush()
    h.serve()


if __name__ == "__main__":
    main()
