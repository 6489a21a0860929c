"""DNS messages by hand (RFC 1035), for the tests' own resolver clients.

Used by probe_dns.py (inside fenced jobs) and world_selftest.py. Nothing
here ever reads /etc/resolv.conf or calls getaddrinfo: every query goes to
the resolver address the caller names. Python 3 stdlib only.

    build_query(name, qtype="A", qid=None, rd=True, edns=None) -> bytes
    parse(msg) -> dict (raises ValueError on a malformed message)
    exchange_udp(server, msg, port=53, timeout=2.0, connected=False) -> dict
    exchange_tcp(server, msg, port=53, timeout=2.0) -> dict
    query(server, name, qtype="A", port=53, tcp=False, connected=False,
          edns=None, timeout=2.0, tcp_fallback=True) -> dict
"""
import errno as E
import ipaddress
import os
import socket
import struct
import time

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28,
         "SRV": 33, "OPT": 41, "ANY": 255}
TYPE_NAMES = {v: k for k, v in TYPES.items()}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED",
          6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH", 10: "NOTZONE", 16: "BADVERS"}
CLASS_IN = 1


def type_num(t):
    if isinstance(t, int):
        return t
    t = str(t).upper()
    if t.startswith("TYPE") and t[4:].isdigit():
        return int(t[4:])
    return TYPES[t]


def type_name(n):
    return TYPE_NAMES.get(n, "TYPE%d" % n)


def rcode_name(n):
    return RCODES.get(n, "RCODE%d" % n)


def encode_name(name):
    """'ok.test' -> b'\\x02ok\\x04test\\x00' (no compression)."""
    name = name.rstrip(".")
    out = b""
    if name:
        for label in name.split("."):
            raw = label.encode("idna") if any(ord(c) > 127 for c in label) else label.encode()
            if not raw or len(raw) > 63:
                raise ValueError("bad label %r in %r" % (label, name))
            out += bytes([len(raw)]) + raw
    return out + b"\x00"


def header(qid, qr=0, opcode=0, aa=0, tc=0, rd=1, ra=0, rcode=0, qd=1, an=0, ns=0, ar=0):
    flags = ((qr & 1) << 15 | (opcode & 15) << 11 | (aa & 1) << 10 | (tc & 1) << 9 |
             (rd & 1) << 8 | (ra & 1) << 7 | (rcode & 15))
    return struct.pack("!HHHHHH", qid & 0xFFFF, flags, qd, an, ns, ar)


def opt_rr(size=1232):
    """An EDNS(0) OPT pseudo-record advertising a UDP payload of `size`."""
    return b"\x00" + struct.pack("!HHIH", TYPES["OPT"], size, 0, 0)


def new_id():
    return struct.unpack("!H", os.urandom(2))[0]


def build_query(name, qtype="A", qid=None, rd=True, edns=None):
    qid = new_id() if qid is None else qid
    msg = header(qid, rd=1 if rd else 0, ar=1 if edns else 0)
    msg += encode_name(name) + struct.pack("!HH", type_num(qtype), CLASS_IN)
    if edns:
        msg += opt_rr(edns)
    return msg


def read_name(msg, off):
    """(name, offset after the name); follows compression pointers, refusing
    loops, pointers out of bounds and names over 255 bytes."""
    labels, jumps, end, total = [], 0, None, 0
    while True:
        if off >= len(msg):
            raise ValueError("name runs past the end of the message")
        n = msg[off]
        if n & 0xC0 == 0xC0:
            if off + 1 >= len(msg):
                raise ValueError("truncated compression pointer")
            ptr = ((n & 0x3F) << 8) | msg[off + 1]
            if end is None:
                end = off + 2
            jumps += 1
            if jumps > 64 or ptr >= len(msg):
                raise ValueError("compression pointer loop or out of bounds")
            off = ptr
            continue
        if n & 0xC0:
            raise ValueError("bad label type 0x%02x" % n)
        off += 1
        if n == 0:
            break
        if off + n > len(msg):
            raise ValueError("label runs past the end of the message")
        labels.append(msg[off:off + n].decode("ascii", "replace"))
        total += n + 1
        if total > 255:
            raise ValueError("name longer than 255 bytes")
        off += n
    return ".".join(labels).lower(), (end if end is not None else off)


def _rdata(msg, typ, off, rdlen):
    rd = msg[off:off + rdlen]
    if typ == TYPES["A"] and rdlen == 4:
        return socket.inet_ntop(socket.AF_INET, rd)
    if typ == TYPES["AAAA"] and rdlen == 16:
        return socket.inet_ntop(socket.AF_INET6, rd)
    if typ in (TYPES["CNAME"], TYPES["NS"], TYPES["PTR"]):
        return read_name(msg, off)[0]
    if typ == TYPES["TXT"]:
        out, i = [], 0
        while i < len(rd):
            n = rd[i]
            out.append(rd[i + 1:i + 1 + n].decode("utf-8", "replace"))
            i += 1 + n
        return out
    return rd.hex()


def parse(msg):
    """A DNS message as a dict; ValueError if it is malformed."""
    if len(msg) < 12:
        raise ValueError("message of %d bytes is shorter than a header" % len(msg))
    qid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", msg[:12])
    d = {"id": qid, "qr": flags >> 15 & 1, "opcode": flags >> 11 & 15, "aa": bool(flags >> 10 & 1),
         "tc": bool(flags >> 9 & 1), "rd": bool(flags >> 8 & 1), "ra": bool(flags >> 7 & 1),
         "rcode": flags & 15, "counts": [qd, an, ns, ar], "questions": [], "answers": [],
         "authority": [], "additional": []}
    off = 12
    for _ in range(qd):
        name, off = read_name(msg, off)
        if off + 4 > len(msg):
            raise ValueError("truncated question")
        t, c = struct.unpack("!HH", msg[off:off + 4])
        off += 4
        d["questions"].append({"name": name, "type": type_name(t), "class": c})
    for sect, count in (("answers", an), ("authority", ns), ("additional", ar)):
        for _ in range(count):
            name, off = read_name(msg, off)
            if off + 10 > len(msg):
                raise ValueError("truncated resource record")
            t, c, ttl, rdlen = struct.unpack("!HHIH", msg[off:off + 10])
            off += 10
            if off + rdlen > len(msg):
                raise ValueError("rdata runs past the end of the message")
            if t == TYPES["OPT"]:
                d["edns"] = {"udp_size": c, "ext_rcode": ttl >> 24}
                d["rcode"] |= (ttl >> 24) << 4
            else:
                d[sect].append({"name": name, "type": type_name(t), "ttl": ttl,
                                "data": _rdata(msg, t, off, rdlen)})
            off += rdlen
    d["rcode_name"] = rcode_name(d["rcode"])
    return d


def synth_name(ip, domain="race.test"):
    """The name dnsmasq 2.90 synthesizes (--synth-domain=DOMAIN,CIDR) for an
    IPv4 address: 198.18.130.7 -> '198-18-130-7.race.test'."""
    return "%s.%s" % (str(ip).replace(".", "-"), domain)


def synth_names(n, net, domain="race.test"):
    """n distinct (name, address) pairs of net, skipping .0 and .255."""
    out = []
    for ip in ipaddress.ip_network(net).hosts():
        if ip.packed[-1] in (0, 255):
            continue
        out.append((synth_name(ip, domain), str(ip)))
        if len(out) == n:
            return out
    raise ValueError("%s has fewer than %d usable addresses" % (net, n))


def family_of(host):
    return socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET


def unmap(addr):
    if addr.startswith("::ffff:") and "." in addr:
        return addr[7:]
    return addr


def _err(d, exc):
    en = getattr(exc, "errno", None) or E.ETIMEDOUT
    d["errno"] = en
    d["err"] = E.errorcode.get(en, str(en))
    return d


def _recv_exact(s, n, deadline):
    buf = b""
    while len(buf) < n:
        s.settimeout(max(0.001, deadline - time.time()))
        ch = s.recv(n - len(buf))
        if not ch:
            raise ConnectionResetError(E.ECONNRESET, "closed after %d of %d bytes" % (len(buf), n))
        buf += ch
    return buf


def exchange_udp(server, msg, port=53, timeout=2.0, connected=False, expect_id=None):
    """Send one datagram, wait for a reply. Returns {"answered", "reply"
    (bytes), "source" / "source_port" (recvfrom), "peer" (getpeername, connected
    sockets), "errno", "err", "rtt_ms"}. Replies whose id does not match
    expect_id (when given) are counted in "stray" and ignored."""
    d = {"transport": "udp", "connected": connected, "answered": False, "reply": None,
         "source": None, "source_port": None, "peer": None, "errno": 0, "err": "", "stray": 0}
    try:
        s = socket.socket(family_of(server), socket.SOCK_DGRAM)
    except OSError as e:
        d["stage"] = "socket"
        return _err(d, e)
    with s:
        t0 = time.time()
        try:
            if connected:
                s.connect((server, port))
                d["peer"] = unmap(s.getpeername()[0])
                d["peer_port"] = s.getpeername()[1]
                d["peer_raw"] = s.getpeername()[0]
                s.send(msg)
            else:
                s.sendto(msg, (server, port))
        except OSError as e:
            d["stage"] = "send"
            return _err(d, e)
        deadline = t0 + timeout
        while True:
            try:
                s.settimeout(max(0.001, deadline - time.time()))
                data, src = s.recvfrom(65535)
            except OSError as e:
                d["stage"] = "recv"
                return _err(d, e)
            if expect_id is not None and (len(data) < 2 or
                                          struct.unpack("!H", data[:2])[0] != expect_id):
                d["stray"] += 1
                continue
            break
        d["rtt_ms"] = (time.time() - t0) * 1000.0
        d["answered"] = True
        d["reply"] = data
        d["source"], d["source_port"] = unmap(src[0]), src[1]
        d["source_raw"] = src[0]  # as recvfrom gave it (an IPv6 socket: ::ffff:a.b.c.d)
        if connected:
            try:  # after the reply too: the fence must keep showing the address asked
                d["peer_after"] = unmap(s.getpeername()[0])
            except OSError:
                pass
    return d


def exchange_tcp(server, msg, port=53, timeout=2.0, prefix=True):
    """One query over TCP (2-byte length prefix unless prefix=False: msg is
    then sent as is). Returns like exchange_udp, with "peer" from getpeername
    and "closed" if the server closed without a full reply."""
    d = {"transport": "tcp", "connected": True, "answered": False, "reply": None,
         "source": None, "source_port": None, "peer": None, "errno": 0, "err": "",
         "closed": False}
    try:
        s = socket.socket(family_of(server), socket.SOCK_STREAM)
    except OSError as e:
        d["stage"] = "socket"
        return _err(d, e)
    with s:
        t0 = time.time()
        deadline = t0 + timeout
        try:
            s.settimeout(timeout)
            s.connect((server, port))
            pn = s.getpeername()
            d["peer"], d["peer_port"] = unmap(pn[0]), pn[1]
            d["peer_raw"] = d["source_raw"] = pn[0]
            d["source"], d["source_port"] = d["peer"], d["peer_port"]
            s.sendall(struct.pack("!H", len(msg)) + msg if prefix else msg)
        except OSError as e:
            d["stage"] = "connect" if d["peer"] is None else "send"
            return _err(d, e)
        try:
            n = struct.unpack("!H", _recv_exact(s, 2, deadline))[0]
            d["reply"] = _recv_exact(s, n, deadline)
            d["answered"] = True
            d["rtt_ms"] = (time.time() - t0) * 1000.0
        except ConnectionResetError as e:
            d["closed"] = True
            d["stage"] = "recv"
            _err(d, e)
        except OSError as e:
            d["stage"] = "recv"
            _err(d, e)
    return d


def summarize(d, qid=None, qname=None, qtype=None):
    """Add the parsed reply's fields to an exchange result (in place)."""
    d.setdefault("rcode", None)
    d.setdefault("tc", None)
    d.setdefault("answers", [])
    if not d.get("answered"):
        return d
    d["reply_len"] = len(d["reply"])
    if len(d["reply"]) >= 12:  # the header alone, for replies whose body does not parse
        rid, flags = struct.unpack("!HH", d["reply"][:4])
        d["id_ok"] = qid is None or rid == qid
        d["qr"] = flags >> 15 & 1
        d["rcode"] = rcode_name(flags & 15)
        d["tc"] = bool(flags >> 9 & 1)
    try:
        m = parse(d["reply"])
    except ValueError as e:
        d["parse_error"] = str(e)
        return d
    d["id_ok"] = qid is None or m["id"] == qid
    d["qr"] = m["qr"]
    d["rcode"] = m["rcode_name"]
    d["tc"] = m["tc"]
    d["aa"] = m["aa"]
    d["answers"] = m["answers"]
    d["question"] = m["questions"][0] if m["questions"] else None
    if qname is not None:
        d["question_ok"] = bool(m["questions"]) and m["questions"][0]["name"] == \
            qname.rstrip(".").lower() and m["questions"][0]["type"] == type_name(type_num(qtype))
    d["addresses"] = [a["data"] for a in m["answers"] if a["type"] in ("A", "AAAA")]
    d["ttls"] = [a["ttl"] for a in m["answers"] if a["type"] in ("A", "AAAA")]
    d["cnames"] = [a["data"] for a in m["answers"] if a["type"] == "CNAME"]
    if "edns" in m:
        d["edns"] = m["edns"]
    return d


def query(server, name, qtype="A", port=53, tcp=False, connected=False, edns=None,
          timeout=2.0, tcp_fallback=True):
    """One question; over UDP a truncated (TC) reply is asked again over TCP
    when tcp_fallback. Returns the exchange result with the parsed fields and
    "udp_tc" (the UDP reply was truncated), "fallback" (TCP was used after it)."""
    qid = new_id()
    msg = build_query(name, qtype, qid=qid, edns=edns)
    if tcp:
        d = summarize(exchange_tcp(server, msg, port, timeout), qid, name, qtype)
    else:
        d = summarize(exchange_udp(server, msg, port, timeout, connected, expect_id=qid),
                      qid, name, qtype)
    d["udp_tc"] = bool(not tcp and d.get("tc"))
    d["fallback"] = False
    if d["udp_tc"] and tcp_fallback:
        udp = d
        qid = new_id()
        d = summarize(exchange_tcp(server, build_query(name, qtype, qid=qid, edns=edns),
                                   port, timeout), qid, name, qtype)
        d["udp_tc"] = True
        d["fallback"] = True
        d["udp_source"] = udp["source"]
        d["udp_answers"] = len(udp["answers"])
    d["server"] = server
    d["port"] = port
    d["name"] = name.rstrip(".").lower()
    d["type"] = type_name(type_num(qtype))
    d.pop("reply", None)
    return d
