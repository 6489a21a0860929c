#!/usr/bin/python3
"""Wire-check vectors, run inside a fenced job (or unfenced, for contrast).

    wire_vec.py VECTOR ARGS...

Prints one JSON object per attempt: {"vec", "ok", "errno", ...}. Its exit
status and output are never the evidence: the tests judge by what the
hosts' servers logged and what crossed the veth (wirecap.py).

Vectors (Linux constants spelled out: Python's socket module lacks some):
  sockopt NAME               one setsockopt (see SOCKOPTS)
  mcast_ssm GROUP TAG        MCAST_JOIN_SOURCE_GROUP (SOL_IPV6) to GROUP with
                             sources spelling TAG, 16 bytes each
  cmsg_srr lsrr|ssrr HOP DST PORT [TAG]
                             UDP sendmsg to DST with an IP_RETOPTS source
                             route through HOP (the kernel sends to HOP)
  cmsg_rthdr6 TYPE HOP DST PORT [TAG]
                             UDP sendmsg with an IPV6_RTHDR cmsg
  tcp HOST PORT TAG          connect, send TAG, read the echo
  udp HOST PORT TAG          unconnected sendto
  udpc HOST PORT TAG         connected UDP, send, read the echo
  tfo HOST PORT TAG          TCP Fast Open: sendto MSG_FASTOPEN, read the echo
  gso HOST PORT TAG          UDP_SEGMENT: one sendto, three 100-byte datagrams
  cork A B PORT TAG          UDP_CORK, sendto A then B, uncork
  more A B PORT TAG          sendto A with MSG_MORE, then B
  listen PORT SECONDS        accept one TCP connection, send "job-says-hello"
  ping HOST                  ICMP datagram socket, one echo, wait for the reply
  raw6_rthdr TYPE HOP DST PORT TAG
                             raw IPv6 (IPV6_HDRINCL) UDP datagram with a
                             routing header (root, "raw": true)
"""
import errno
import json
import socket
import struct
import sys
import time

SOL_IP, SOL_IPV6, SOL_UDP = 0, 41, 17
IP_OPTIONS, IP_RETOPTS, IP_MSFILTER = 4, 7, 41
IPV6_2292RTHDR, IPV6_2292PKTOPTIONS, IPV6_NEXTHOP, IPV6_RTHDR = 5, 6, 9, 57
IPV6_V6ONLY, IPV6_HDRINCL = 26, 36
IP_ADD_MEMBERSHIP, IP_DROP_MEMBERSHIP, IP_UNBLOCK_SOURCE, IP_BLOCK_SOURCE = 35, 36, 37, 38
IP_ADD_SOURCE_MEMBERSHIP = 39
MCAST_JOIN_GROUP, MCAST_BLOCK_SOURCE, MCAST_UNBLOCK_SOURCE, MCAST_LEAVE_GROUP = 42, 43, 44, 45
MCAST_JOIN_SOURCE_GROUP, MCAST_MSFILTER = 46, 48
IPV6_ADD_MEMBERSHIP, IPV6_DROP_MEMBERSHIP, IPV6_JOIN_ANYCAST = 20, 21, 27
TCP_CONGESTION = 13
UDP_CORK = 1
SO_ATTACH_FILTER = 26
MSG_MORE = 0x8000
MSG_FASTOPEN = 0x20000000
UDP_SEGMENT = 103


def out(**kw):
    print(json.dumps(kw), flush=True)


def attempt(vec, fn, **extra):
    try:
        r = fn()
        out(vec=vec, ok=True, errno=0, result=r, **extra)
    except OSError as e:
        out(vec=vec, ok=False, errno=e.errno, err=errno.errorcode.get(e.errno, str(e.errno)),
            **extra)


def a6(host):
    return socket.inet_pton(socket.AF_INET6, host)


def rthdr(typ, hops):
    """A routing header of TYPE naming HOPS (IPv6 strings)."""
    if typ == 4:  # SRH: segments list in reverse, last_entry, flags, tag
        segs = b"".join(a6(h) for h in reversed(hops))
        n = len(hops)
        return struct.pack("!BBBBBBH", 0, 2 * n, 4, n - 1, n - 1, 0, 0) + segs
    body = b"".join(a6(h) for h in hops)
    return struct.pack("!BBBBI", 0, 2 * len(hops), typ, len(hops), 0) + body


def srr(kind, hops):
    t = 0x83 if kind == "lsrr" else 0x89
    addrs = b"".join(socket.inet_aton(h) for h in hops)
    o = bytes([t, 3 + len(addrs), 4]) + addrs
    return o + b"\x01" * (-len(o) % 4)  # NOP padding to a multiple of 4


def ss(host):
    """A struct sockaddr_storage (128 bytes) holding HOST, port 0."""
    if ":" in host:
        sa = struct.pack("=H2sI16sI", socket.AF_INET6, b"", 0, a6(host), 0)
    else:
        sa = struct.pack("=H2s4s", socket.AF_INET, b"", socket.inet_aton(host))
    return sa + b"\0" * (128 - len(sa))


def group_req(group, *sources):
    """struct group_req / group_source_req: ifindex, padding, group, source."""
    return struct.pack("=I4x", 0) + ss(group) + b"".join(ss(s) for s in sources)


def group_filter(group, *sources):
    return (struct.pack("=I4x", 0) + ss(group) + struct.pack("=II", 1, len(sources))
            + b"".join(ss(s) for s in sources))


def mreq(*addrs):
    """struct ip_mreq / ip_mreq_source: group, interface[, source]."""
    return b"".join(socket.inet_aton(a) for a in addrs)


def mreq6(group):
    return a6(group) + struct.pack("=i", 0)


def tag_sources(tag):
    """IPv6 addresses whose 16 bytes spell TAG."""
    b = tag.encode()
    b += b"\0" * (-len(b) % 16)
    return [socket.inet_ntop(socket.AF_INET6, b[i:i + 16]) for i in range(0, len(b), 16)]


def sockfor(host, kind=socket.SOCK_DGRAM):
    return socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, kind)


SOCKOPTS = {
    # re-routing: refused by the fence
    "rthdr0": (socket.AF_INET6, SOL_IPV6, IPV6_RTHDR, lambda: rthdr(0, ["2001:db8:1::2"])),
    "rthdr2": (socket.AF_INET6, SOL_IPV6, IPV6_RTHDR,
               lambda: struct.pack("!BBBBI", 0, 2, 2, 1, 0) + a6("2001:db8:1::2")),
    "rthdr4": (socket.AF_INET6, SOL_IPV6, IPV6_RTHDR,
               lambda: rthdr(4, ["2001:db8:1::2", "2001:db8:1::1"])),
    "2292rthdr": (socket.AF_INET6, SOL_IPV6, IPV6_2292RTHDR, lambda: struct.pack("i", 1)),
    "2292pktoptions": (socket.AF_INET6, SOL_IPV6, IPV6_2292PKTOPTIONS,
                       lambda: struct.pack("@QiI", 16 + 24, SOL_IPV6, IPV6_RTHDR)
                       + rthdr(0, ["2001:db8:1::2"])[:24]),
    "nexthop": (socket.AF_INET6, SOL_IPV6, IPV6_NEXTHOP,
                lambda: struct.pack("!HHI16sI", socket.AF_INET6, 0, 0, a6("2001:db8:1::2"), 0)),
    "ipopt_lsrr": (socket.AF_INET, SOL_IP, IP_OPTIONS, lambda: srr("lsrr", ["198.18.2.1"])),
    "ipopt_ssrr": (socket.AF_INET, SOL_IP, IP_OPTIONS, lambda: srr("ssrr", ["198.18.2.1"])),
    "ipopt_lsrr6": (socket.AF_INET6, SOL_IP, IP_OPTIONS, lambda: srr("lsrr", ["198.18.2.1"])),
    "ipopt_nop": (socket.AF_INET, SOL_IP, IP_OPTIONS, lambda: b"\x01\x01\x01\x00"),
    # multicast joins and source filters: refused unless "multicast": true
    "ip_add_membership": (socket.AF_INET, SOL_IP, IP_ADD_MEMBERSHIP,
                          lambda: mreq("239.1.2.3", "0.0.0.0")),
    "ip_unblock_source": (socket.AF_INET, SOL_IP, IP_UNBLOCK_SOURCE,
                          lambda: mreq("239.1.2.3", "0.0.0.0", "198.18.1.1")),
    "ip_block_source": (socket.AF_INET, SOL_IP, IP_BLOCK_SOURCE,
                        lambda: mreq("239.1.2.3", "0.0.0.0", "198.18.1.1")),
    "ip_add_source_membership": (socket.AF_INET, SOL_IP, IP_ADD_SOURCE_MEMBERSHIP,
                                 lambda: mreq("232.1.2.3", "0.0.0.0", "198.18.1.1")),
    "ip_msfilter": (socket.AF_INET, SOL_IP, IP_MSFILTER,
                    lambda: mreq("232.1.2.3", "0.0.0.0") + struct.pack("=II", 1, 1)
                    + socket.inet_aton("198.18.1.1")),
    "mcast_join_group": (socket.AF_INET, SOL_IP, MCAST_JOIN_GROUP,
                         lambda: group_req("239.1.2.3")),
    "mcast_block_source": (socket.AF_INET, SOL_IP, MCAST_BLOCK_SOURCE,
                           lambda: group_req("239.1.2.3", "198.18.1.1")),
    "mcast_unblock_source": (socket.AF_INET, SOL_IP, MCAST_UNBLOCK_SOURCE,
                             lambda: group_req("239.1.2.3", "198.18.1.1")),
    "mcast_join_source_group": (socket.AF_INET, SOL_IP, MCAST_JOIN_SOURCE_GROUP,
                                lambda: group_req("232.1.2.3", "198.18.1.1")),
    "mcast_msfilter": (socket.AF_INET, SOL_IP, MCAST_MSFILTER,
                       lambda: group_filter("232.1.2.3", "198.18.1.1")),
    "ipv6_add_membership": (socket.AF_INET6, SOL_IPV6, IPV6_ADD_MEMBERSHIP,
                            lambda: mreq6("ff0e::1:2:3")),
    "ipv6_join_anycast": (socket.AF_INET6, SOL_IPV6, IPV6_JOIN_ANYCAST,
                          lambda: mreq6("2001:db8:1::77")),
    "mcast_join_group6": (socket.AF_INET6, SOL_IPV6, MCAST_JOIN_GROUP,
                          lambda: group_req("ff0e::1:2:3")),
    "mcast_block_source6": (socket.AF_INET6, SOL_IPV6, MCAST_BLOCK_SOURCE,
                            lambda: group_req("ff0e::1:2:3", "2001:db8:1::1")),
    "mcast_unblock_source6": (socket.AF_INET6, SOL_IPV6, MCAST_UNBLOCK_SOURCE,
                              lambda: group_req("ff0e::1:2:3", "2001:db8:1::1")),
    "mcast_join_source_group6": (socket.AF_INET6, SOL_IPV6, MCAST_JOIN_SOURCE_GROUP,
                                 lambda: group_req("ff3e::1:2:3", "2001:db8:1::1")),
    "mcast_msfilter6": (socket.AF_INET6, SOL_IPV6, MCAST_MSFILTER,
                        lambda: group_filter("ff3e::1:2:3", "2001:db8:1::1")),
    # leaving: untouched (nothing was joined: the kernel's own answer)
    "ip_drop_membership": (socket.AF_INET, SOL_IP, IP_DROP_MEMBERSHIP,
                           lambda: mreq("239.1.2.3", "0.0.0.0")),
    "mcast_leave_group": (socket.AF_INET, SOL_IP, MCAST_LEAVE_GROUP,
                          lambda: group_req("239.1.2.3")),
    "ipv6_drop_membership": (socket.AF_INET6, SOL_IPV6, IPV6_DROP_MEMBERSHIP,
                             lambda: mreq6("ff0e::1:2:3")),
    # ordinary: must behave exactly as unfenced
    "rthdr_clear": (socket.AF_INET6, SOL_IPV6, IPV6_RTHDR, lambda: b""),
    "ipopt_clear": (socket.AF_INET, SOL_IP, IP_OPTIONS, lambda: b""),
    "reuseaddr": (socket.AF_INET, socket.SOL_SOCKET, socket.SO_REUSEADDR,
                  lambda: struct.pack("i", 1)),
    "v6only": (socket.AF_INET6, SOL_IPV6, IPV6_V6ONLY, lambda: struct.pack("i", 1)),
    "nodelay": ("tcp", socket.IPPROTO_TCP, socket.TCP_NODELAY, lambda: struct.pack("i", 1)),
    "sndbuf": (socket.AF_INET, socket.SOL_SOCKET, socket.SO_SNDBUF,
               lambda: struct.pack("i", 65536)),
    # over a page: the program never sees it whole and must pass it through
    "congestion_big": ("tcp", socket.IPPROTO_TCP, TCP_CONGESTION,
                       lambda: b"reno" + b"\0" * 5000),
    # over a page, a multicast filter: refused all the same (by its name)
    "msfilter_big": (socket.AF_INET, SOL_IP, IP_MSFILTER,
                     lambda: struct.pack("=4s4sII", socket.inet_aton("239.1.2.3"),
                                         socket.inet_aton("0.0.0.0"), 1, 1200)
                     + b"\x01\x02\x03\x04" * 1200),
}


def cmd_sockopt(name):
    fam, level, opt, val = SOCKOPTS[name]
    if fam == "tcp":
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    else:
        s = socket.socket(fam, socket.SOCK_DGRAM)
    v = val()

    def go():
        s.setsockopt(level, opt, v)
        if name in ("reuseaddr", "nodelay", "v6only"):
            return struct.unpack("i", s.getsockopt(level, opt, 4))[0]
        if name == "sndbuf":
            return struct.unpack("i", s.getsockopt(level, opt, 4))[0]
        if name == "congestion_big":
            return s.getsockopt(level, opt, 16).rstrip(b"\0").decode()
        return len(v)
    attempt("sockopt", go, name=name)


def cmd_attach_filter(n):
    """SO_ATTACH_FILTER with an N-instruction classic BPF filter (accept all)."""
    import ctypes
    ins = struct.pack("HBBI", 0x06, 0, 0, 0xffffffff)  # ret #-1 ... padded with ret
    prog = ctypes.create_string_buffer(ins * n)
    fprog = struct.pack("HL", n, ctypes.addressof(prog))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    attempt("sockopt", lambda: s.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog) or n,
            name="attach_filter_%d" % n)


def cmd_cmsg_srr(kind, hop, dst, port, tag="srr"):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    opt = srr(kind, [hop])
    attempt("cmsg_srr", lambda: s.sendmsg([tag.encode()], [(SOL_IP, IP_RETOPTS, opt)], 0,
                                          (dst, int(port))), kind=kind)


def cmd_cmsg_rthdr6(typ, hop, dst, port, tag="rthdr6"):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    typ = int(typ)
    h = rthdr(typ, [hop]) if typ != 2 else struct.pack("!BBBBI", 0, 2, 2, 1, 0) + a6(hop)
    attempt("cmsg_rthdr6", lambda: s.sendmsg([tag.encode()], [(SOL_IPV6, IPV6_RTHDR, h)], 0,
                                             (dst, int(port))), type=typ)


def cmd_tcp(host, port, tag):
    def go():
        s = sockfor(host, socket.SOCK_STREAM)
        s.settimeout(3)
        s.connect((host, int(port)))
        s.sendall(tag.encode())
        return s.recv(100).decode(errors="replace")
    attempt("tcp", go, target="%s:%s" % (host, port))


def cmd_udp(host, port, tag):
    s = sockfor(host)
    attempt("udp", lambda: s.sendto(tag.encode(), (host, int(port))),
            target="%s:%s" % (host, port))


def cmd_udpc(host, port, tag):
    def go():
        s = sockfor(host)
        s.settimeout(2)
        s.connect((host, int(port)))
        s.send(tag.encode())
        return s.recv(100).decode(errors="replace")
    attempt("udpc", go, target="%s:%s" % (host, port))


def cmd_tfo(host, port, tag):
    """TCP Fast Open: the destination goes in with the data (sendto
    MSG_FASTOPEN); the connect hook judges it there."""
    def go():
        s = sockfor(host, socket.SOCK_STREAM)
        s.sendto(tag.encode(), MSG_FASTOPEN, (host, int(port)))  # blocking: no EINPROGRESS
        s.settimeout(3)
        return s.recv(100).decode(errors="replace")
    attempt("tfo", go, target="%s:%s" % (host, port))


def cmd_gso(host, port, tag):
    """UDP GSO: one send, several datagrams of 100 bytes on the wire."""
    def go():
        s = sockfor(host)
        s.setsockopt(SOL_UDP, UDP_SEGMENT, 100)
        payload = (tag.encode() + b"-" * 100)[:100] * 3
        return s.sendto(payload, (host, int(port)))
    attempt("gso", go, target="%s:%s" % (host, port))


def cmd_cork(how, a, b, port, tag):
    s = sockfor(a)
    port = int(port)
    if how == "cork":
        s.setsockopt(SOL_UDP, UDP_CORK, 1)
        attempt("cork_a", lambda: s.sendto((tag + "-a").encode(), (a, port)))
        attempt("cork_b", lambda: s.sendto((tag + "-b").encode(), (b, port)))
        attempt("uncork", lambda: s.setsockopt(SOL_UDP, UDP_CORK, 0))
    else:
        attempt("more_a", lambda: s.sendto((tag + "-a").encode(), MSG_MORE, (a, port)))
        attempt("more_b", lambda: s.sendto((tag + "-b").encode(), (b, port)))
    time.sleep(0.3)


def cmd_listen(port, seconds):
    srv = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("::", int(port)))
    srv.listen(4)
    srv.settimeout(float(seconds))
    out(vec="listening", ok=True, errno=0)

    def go():
        c, peer = srv.accept()
        c.settimeout(3)
        c.sendall(b"job-says-hello")
        got = c.recv(100)
        time.sleep(0.5)
        return {"peer": peer[0], "got": got.decode(errors="replace")}
    attempt("accept", go)


def cmd_ping(host):
    def go():
        v6 = ":" in host
        s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM,
                          socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
        s.settimeout(2)
        pkt = struct.pack("!BBHHH", 128 if v6 else 8, 0, 0, 0, 1) + b"wire-ping"
        s.sendto(pkt, (host, 0))
        return len(s.recv(200))
    attempt("ping", go, target=host)


def csum(data):
    if len(data) % 2:
        data += b"\0"
    t = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while t >> 16:
        t = (t & 0xffff) + (t >> 16)
    return ~t & 0xffff


def cmd_raw6_rthdr(typ, hop, dst, port, tag):
    def go():
        s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
        s.setsockopt(SOL_IPV6, IPV6_HDRINCL, 1)
        src = "2001:db8::1"
        payload = tag.encode()
        udp = struct.pack("!HHHH", 40000, int(port), 8 + len(payload), 0) + payload
        pseudo = a6(dst) + a6(src) + struct.pack("!I3xB", len(udp), 17)
        udp = udp[:6] + struct.pack("!H", csum(pseudo + udp)) + udp[8:]
        # type 4 lists every segment, the first hop included; type 0 the hops after it
        rh = rthdr(4, [hop, dst]) if int(typ) == 4 else rthdr(int(typ), [dst])
        rh = bytes([17]) + rh[1:]
        body = rh + udp
        ip6 = struct.pack("!IHBB16s16s", 6 << 28, len(body), 43, 64, a6(src), a6(hop))
        return s.sendto(ip6 + body, (hop, 0))
    attempt("raw6_rthdr", go, type=int(typ))


def main(argv):
    v, a = argv[0], argv[1:]
    if v == "sockopt":
        for name in a:
            cmd_sockopt(name)
    elif v == "attach_filter":
        cmd_attach_filter(int(a[0]))
    elif v == "cmsg_srr":
        cmd_cmsg_srr(*a)
    elif v == "cmsg_rthdr6":
        cmd_cmsg_rthdr6(*a)
    elif v == "tcp":
        cmd_tcp(*a)
    elif v == "udp":
        cmd_udp(*a)
    elif v == "udpc":
        cmd_udpc(*a)
    elif v == "tfo":
        cmd_tfo(*a)
    elif v == "gso":
        cmd_gso(*a)
    elif v in ("cork", "more"):
        cmd_cork(v, *a)
    elif v == "listen":
        cmd_listen(*a)
    elif v == "ping":
        cmd_ping(*a)
    elif v == "raw6_rthdr":
        cmd_raw6_rthdr(*a)
    else:
        raise SystemExit("unknown vector " + v)


if __name__ == "__main__":
    main(sys.argv[1:])
