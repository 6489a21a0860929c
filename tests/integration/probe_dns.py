"""probe.py's DNS commands (resolve, dns-query, resolve-connect, gai,
dns-raw, dns-garbage): raw queries by hand through dnsmsg.py, never
getaddrinfo, never resolv.conf."""
import errno as E
import ipaddress
import random
import select
import socket
import struct
import time

import dnsmsg as D
from probe_base import base, emit, family_of

DEFAULT_SERVER = "198.18.0.53"


def dns_result(op, q, server, port):
    """A dnsmsg.query result as a probe line."""
    d = base(op)
    q = dict(q)
    en = q.pop("errno", 0)
    d.update(q)
    d["errno"] = en
    ip = ipaddress.ip_address(server)
    want = str(ip.ipv4_mapped) if ip.version == 6 and ip.ipv4_mapped else str(ip)
    d["source_ok"] = bool(q.get("answered")) and q.get("source") == want and \
        q.get("source_port") == port
    d["ok"] = bool(q.get("answered")) and q.get("id_ok", False) and \
        q.get("question_ok", False) and "parse_error" not in q
    return d


def cmd_dns_query(a):
    for name in a.names:
        q = D.query(a.server, name, a.type, port=a.port, tcp=a.tcp, connected=a.connected,
                    edns=a.edns, timeout=a.timeout, tcp_fallback=False)
        emit(dns_result("dns-query", q, a.server, a.port))
    return 0


def cmd_resolve(a):
    types = {"4": ["A"], "6": ["AAAA"], "any": ["A", "AAAA"]}[a.family]
    d = base("resolve", name=a.name.rstrip(".").lower(), server=a.server, port=a.port,
             family=a.family, addresses=[], ttls=[], cnames=[], queries=[], rcode=None,
             source=None, source_ok=True, udp_tc=False, fallback=False)
    ok = True
    for t in types:
        q = D.query(a.server, a.name, t, port=a.port, tcp=a.tcp, timeout=a.timeout)
        r = dns_result("resolve", q, a.server, a.port)
        keep = ("type", "rcode", "addresses", "ttls", "cnames", "source", "source_port",
                "source_ok", "peer", "transport", "tc", "udp_tc", "fallback", "err", "ok",
                "rtt_ms")
        d["queries"].append({k: r.get(k) for k in keep})
        ok = ok and r["ok"] and r["source_ok"]
        if r["errno"] and not d["errno"]:
            d["errno"], d["err"] = r["errno"], r["err"]
        d["addresses"] += r.get("addresses") or []
        d["ttls"] += r.get("ttls") or []
        d["cnames"] += [c for c in r.get("cnames") or [] if c not in d["cnames"]]
        d["source"] = d["source"] or r.get("source")
        d["source_ok"] = d["source_ok"] and r["source_ok"]
        d["udp_tc"] = d["udp_tc"] or r.get("udp_tc", False)
        d["fallback"] = d["fallback"] or r.get("fallback", False)
    rcodes = [q["rcode"] for q in d["queries"]]
    # NOERROR if any type had it (v6only.test has no A but is no NXDOMAIN)
    d["rcode"] = "NOERROR" if "NOERROR" in rcodes else rcodes[0]
    d["ok"] = ok
    emit(d)
    return 0


def nb_connect(host, port, timeout):
    """Non-blocking TCP connect; returns "connected" or an errno name. RST
    close (SO_LINGER 0): no TIME_WAIT pile-up over thousands of trials."""
    try:
        s = socket.socket(family_of(host), socket.SOCK_STREAM)
    except OSError as e:
        return E.errorcode.get(e.errno, str(e.errno))
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.setblocking(False)
        rc = s.connect_ex((host, port))
        if rc == E.EINPROGRESS:
            _, w, _ = select.select([], [s], [], timeout)
            if not w:
                return "ETIMEDOUT"
            rc = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        return "connected" if rc == 0 else E.errorcode.get(rc, str(rc))
    finally:
        s.close()


def cmd_resolve_connect(a):
    if a.names_from_synth:
        names = [n for n, _ip in D.synth_names(a.count, a.names_from_synth)]
        label = "synth:" + a.names_from_synth
    else:
        names = [a.name] * a.count
        label = a.name
    d = base("resolve-connect", name=label, port=a.port, server=a.server, count=len(names),
             allowed=0, denied=0, resolve_failed=0, other=0, wrong_answer=0, outcomes={},
             examples=[])
    t0 = time.time()
    for name in names:
        q = D.query(a.server, name, "A", timeout=a.dns_timeout)
        addrs = q.get("addresses") or []
        if not q.get("answered") or q.get("rcode") != "NOERROR" or not addrs:
            d["resolve_failed"] += 1
            outcome = "resolve:" + (q.get("rcode") or q.get("err") or "no address")
            addr = None
        else:
            addr = addrs[0]
            if a.names_from_synth and addr != name.split(".")[0].replace("-", "."):
                d["wrong_answer"] += 1
            outcome = nb_connect(addr, a.port, a.timeout)
            if outcome in ("connected", "ECONNREFUSED"):
                d["allowed"] += 1
            elif outcome in ("EPERM", "EACCES"):
                d["denied"] += 1
            else:
                d["other"] += 1
        d["outcomes"][outcome] = d["outcomes"].get(outcome, 0) + 1
        if outcome not in ("connected", "ECONNREFUSED") and len(d["examples"]) < 5:
            d["examples"].append({"name": name, "address": addr, "outcome": outcome,
                                  "t": time.time()})
    d["elapsed_s"] = round(time.time() - t0, 3)
    d["ok"] = d["allowed"] == len(names)
    emit(d)
    return 0


def cmd_gai(a):
    """What glibc's getaddrinfo() and a client do, without the system
    resolver: A and AAAA from the server, then (RFC 6724 sorting) a UDP
    socket connect()ed to each address on the port, nothing sent, then a TCP
    connect to the first address."""
    d = base("gai", name=a.name, port=a.port, addresses=[], sort_probes={}, connect=None)
    for qt in ("A", "AAAA"):
        q = D.query(a.server, a.name, qt, timeout=2.0)
        d["addresses"] += q.get("addresses") or []
    for addr in d["addresses"]:
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_DGRAM)
        try:
            s.connect((addr, a.port))
            d["sort_probes"][addr] = "ok"
        except OSError as e:
            d["sort_probes"][addr] = E.errorcode.get(e.errno, str(e.errno))
        finally:
            s.close()
    if d["addresses"]:
        d["connect"] = nb_connect(d["addresses"][0], a.port, 1.0)
    d["ok"] = d["connect"] in ("connected", "ECONNREFUSED")
    emit(d)
    return 0


def garbage_cases(name):
    """(case, transport, bytes to send) of hostile DNS input."""
    rnd = random.Random(53)
    q = D.encode_name(name) + struct.pack("!HH", 1, 1)
    h = D.header
    udp = [
        ("empty", b""),
        ("short-header", h(0x1001)[:5]),
        ("header-only-qd0", h(0x1002, qd=0)),
        ("header-only-qd1", h(0x1003)),
        ("pointer-loop", h(0x1004) + b"\xc0\x0c" + struct.pack("!HH", 1, 1)),
        ("pointer-out-of-bounds", h(0x1005) + b"\xff\xff" + struct.pack("!HH", 1, 1)),
        ("label-past-end", h(0x1006) + b"\x3fabc"),
        ("name-too-long", h(0x1007) + b"".join(b"\x3f" + b"a" * 63 for _ in range(5))
         + b"\x00" + struct.pack("!HH", 1, 1)),
        ("qdcount-2", h(0x1008, qd=2) + q + q),
        ("qr-set", h(0x1009, qr=1, an=0) + q),
        ("opcode-5", h(0x100a, opcode=5) + q),
        ("ancount-lies", h(0x100b, an=40) + q),
        ("random-4000", bytes(rnd.getrandbits(8) for _ in range(4000))),
        ("http-get", b"GET / HTTP/1.1\r\nHost: garbage.test\r\n\r\n"),
        ("tls-hello", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(32)),
        ("compression-loop-2", h(0x100c) + b"\x01a\xc0\x0e" + struct.pack("!HH", 1, 1)),
        ("huge-counts", h(0x100d, qd=1, an=65535) + q),
    ]
    out = [(c, "udp", m) for c, m in udp]
    # over TCP the same messages, properly framed, and broken framing
    out += [(c, "tcp", struct.pack("!H", len(m)) + m) for c, m in udp if c != "empty"]
    out += [("tcp-len-0", "tcp", b"\x00\x00"),
            ("tcp-http-get", "tcp", b"GET / HTTP/1.1\r\nHost: garbage.test\r\n\r\n"),
            ("tcp-len-0-twice", "tcp", b"\x00\x00\x00\x00"),
            ("tcp-short-message", "tcp", struct.pack("!H", 100) + h(0x1010) + q[:4]),
            ("tcp-70000-bytes", "tcp", b"\xff\xff" + bytes(rnd.getrandbits(8)
                                                           for _ in range(70000)))]
    return out


def garbage_one(server, port, case, transport, data, timeout):
    d = base("dns-garbage", case=case, transport=transport, sent=len(data), answered=False,
             closed=False, rcode=None, qr=None)
    if transport == "udp":
        r = D.exchange_udp(server, data, port, timeout)
    else:
        r = D.exchange_tcp(server, data, port, timeout, prefix=False)
    if r.get("stage") in ("socket", "connect", "send") and r["errno"]:
        d["stage"] = r["stage"]
        d["errno"], d["err"] = r["errno"], r["err"]
        if r["stage"] == "send":  # the server hung up on (or stopped reading) a long write
            d["ok"] = True
            d["closed"] = r["errno"] in (E.ECONNRESET, E.EPIPE)
        emit(d)
        return
    D.summarize(r)
    d["ok"] = True
    d["answered"] = r["answered"]
    d["closed"] = r.get("closed", False)
    for k in ("rcode", "qr", "tc", "reply_len", "parse_error", "source"):
        if r.get(k) is not None:
            d[k] = r[k]
    if not r["answered"]:
        d["err"] = r["err"]
    emit(d)


def cmd_dns_raw(a):
    """Each HEX message as is (TCP: framed), one line each with the reply's
    bytes (reply_hex) and where it came from."""
    for h in a.hex:
        msg = bytes.fromhex(h)
        if a.tcp:
            r = D.exchange_tcp(a.server, msg, a.port, a.timeout)
        else:
            r = D.exchange_udp(a.server, msg, a.port, a.timeout)
        d = base("dns-raw", transport=r["transport"], sent=len(msg), answered=r["answered"],
                 source=r.get("source"), source_port=r.get("source_port"), err=r.get("err"))
        d["ok"] = r["answered"]
        d["reply_hex"] = r["reply"].hex() if r.get("reply") else None
        emit(d)
        if a.gap_ms:
            time.sleep(a.gap_ms / 1000.0)
    return 0


def cmd_dns_garbage(a):
    for case, transport, data in garbage_cases(a.name):
        garbage_one(a.server, a.port, case, transport, data, a.timeout)
    # clients that stall mid-message must not block the others
    stalled = []
    for i in range(4):
        try:
            s = socket.create_connection((a.server, a.port), timeout=2)
            s.send(b"\x00" if i % 2 else b"\x00\x20" + D.header(0x2000 + i))
            stalled.append(s)
        except OSError:
            pass
    for tcp in (False, True):
        q = D.query(a.server, "ok.test", "A", port=a.port, tcp=tcp, timeout=a.timeout * 4)
        r = dns_result("dns-garbage-final", q, a.server, a.port)
        r["stalled_clients"] = len(stalled)
        r["ok"] = r["ok"] and r.get("rcode") == "NOERROR" and bool(r.get("addresses"))
        emit(r)
    for s in stalled:
        s.close()
    return 0
