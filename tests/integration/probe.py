#!/usr/bin/python3
"""The client that integration tests run inside fenced jobs.

Every result is one JSON line on stdout (or in a log file):
    {"op": ..., "ok": bool, "errno": N, "err": "...", "pid": N, "ppid": N,
     "exe": "/usr/bin/python3.11", "comm": "python3", "uid": 0,
     "cgroup": "/ef-test-xx/job-1", ...}
errno is 0 when ok. Targets are written like policy rules: 198.18.1.1:443,
[2001:db8:1::1]:443, 198.18.1.5:9999/udp.

Subcommands:
  connect HOST PORT [--udp] | connect TARGET...   TCP or connected UDP connect,
                                                  then one echo round trip
  connect-mapped HOST PORT [--udp]                AF_INET6 socket to ::ffff:HOST
  sendto HOST PORT [--count N]                    unconnected UDP datagrams
  socket KIND...                                  try socket(); KIND is one of
                                                  raw raw6 packet icmp icmp6 vsock
                                                  alg xdp unix netlink tcp udp
  loopback                                        TCP and UDP to 127.0.0.1 and ::1
  spawn-tree TARGET...                            child (fork) and grandchild
                                                  (fork+exec) each connect
  daemonize --out FILE [--release FILE] TARGET... double fork + setsid; the
                                                  daemon connects, writes the
                                                  results to FILE, waits for
                                                  RELEASE (or --max-wait)
  nested-cgroup TARGET...                         move into a new child cgroup
                                                  of its own cgroup, then connect
  hold HOST PORT SECONDS --log FILE [--retry TARGET]... [--interval-ms N]
                                                  keep a connection open and
                                                  retry new connects, logging
  info                                            print pid, exe, cgroup
  connect-many TARGET [--count N]                 N TCP connects, one line with
                                                  their latency (p50_us, p99_us)

DNS (raw queries by hand, dnsmsg.py; never getaddrinfo, never resolv.conf:
every query goes to --server, default 198.18.0.53, port 53):
  resolve NAME [--family 4|6|any] [--server ADDR] [--port P] [--tcp]
                                                  A and/or AAAA over UDP (TCP
                                                  if the answer is truncated);
                                                  one line: rcode, addresses,
                                                  ttls, cnames, source (who the
                                                  answer claimed to come from)
  dns-query NAME... --server ADDR [--tcp] [--type A|AAAA|TXT|..] [--connected]
                                 [--edns SIZE] [--port P]
                                                  one query per NAME, as sent
                                                  (no TCP fallback): rcode, tc,
                                                  answers, source (recvfrom),
                                                  peer (getpeername)
  resolve-connect NAME PORT [--server ADDR] [--count N]
                  [--names-from-synth CIDR]       per trial: resolve (A), then at
                                                  once a non-blocking TCP connect
                                                  to the first address; one line
                                                  of counts: allowed (connected
                                                  or ECONNREFUSED), denied
                                                  (EPERM/EACCES), resolve_failed,
                                                  other. With --names-from-synth
                                                  NAME is ignored: N distinct
                                                  names 198-18-X-Y.race.test of
                                                  CIDR, each resolved once
  gai NAME PORT [--server ADDR]                   getaddrinfo's pattern by hand: A
                                                  and AAAA, a UDP connect() to each
                                                  address (RFC 6724 sorting, nothing
                                                  sent), then TCP to the first
  dns-raw HEX... [--server ADDR] [--tcp]          each message as given, one line
                                                  each: reply_hex, source
  dns-garbage --server ADDR [--name N]            hostile queries over UDP and
                                                  TCP, one line each (answered?
                                                  rcode?), then with stalled TCP
                                                  clients open, a normal query
                                                  for ok.test over UDP and TCP

Python 3 stdlib only; never resolves names through the system, so it sends
nothing anywhere but the addresses it is given.
"""
import argparse
import errno as E
import ipaddress
import json
import os
import random
import select
import socket
import struct
import sys
import time

import dnsmsg as D

AF_ALG = 38
AF_VSOCK = 40
AF_XDP = 44
ETH_P_ALL = 0x0003

SOCKET_KINDS = {
    "raw": (socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
    "raw6": (socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6),
    "packet": (socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL)),
    "icmp": (socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP),
    "icmp6": (socket.AF_INET6, socket.SOCK_DGRAM, socket.IPPROTO_ICMPV6),
    "vsock": (AF_VSOCK, socket.SOCK_STREAM, 0),
    "alg": (AF_ALG, socket.SOCK_SEQPACKET, 0),
    "xdp": (AF_XDP, socket.SOCK_RAW, 0),
    "unix": (socket.AF_UNIX, socket.SOCK_STREAM, 0),
    "netlink": (socket.AF_NETLINK, socket.SOCK_RAW, 0),
    "tcp": (socket.AF_INET, socket.SOCK_STREAM, 0),
    "udp": (socket.AF_INET, socket.SOCK_DGRAM, 0),
}


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def own_cgroup():
    """This process's cgroup2 path ("0::" line of /proc/self/cgroup)."""
    for line in _read("/proc/self/cgroup").splitlines():
        if line.startswith("0::"):
            return line[3:]
    return ""


def cgroup2_mount():
    with open("/proc/self/mounts") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 3 and fields[2] == "cgroup2":
                return fields[1].replace("\\040", " ")
    return None


def base(op, **kw):
    d = {"op": op, "ok": False, "errno": 0, "err": "", "pid": os.getpid(), "ppid": os.getppid(),
         "exe": os.readlink("/proc/self/exe"), "comm": _read("/proc/self/comm"),
         "uid": os.getuid(), "cgroup": own_cgroup(), "t": time.time()}
    d.update(kw)
    return d


def set_err(d, exc):
    en = exc.errno
    if en is None:  # socket.timeout carries no errno
        en = E.ETIMEDOUT
    d["ok"] = False
    d["errno"] = en
    d["err"] = E.errorcode.get(en, str(en))
    return d


def emit(d, out=None):
    """One line, written with a single write(2) so forked processes sharing
    stdout never interleave or duplicate buffered output."""
    line = (json.dumps(d, sort_keys=True) + "\n").encode()
    if out is None:
        os.write(1, line)
    else:
        out.write(line)
        out.flush()


def parse_target(text, default_proto="tcp"):
    """'198.18.1.1:443/udp' or '[2001:db8::1]:443' -> (host, port, proto)."""
    proto = default_proto
    if "/" in text.rsplit("]", 1)[-1]:
        text, proto = text.rsplit("/", 1)
    if text.startswith("["):
        host, rest = text[1:].split("]", 1)
        port = rest.lstrip(":")
    else:
        host, port = text.rsplit(":", 1)
    if proto not in ("tcp", "udp"):
        raise SystemExit("probe: bad protocol in %r" % text)
    return host, int(port), proto


def fmt_target(host, port, proto):
    h = "[%s]" % host if ":" in host else host
    return "%s:%d/%s" % (h, port, proto)


def family_of(host):
    return socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET


def targets_from(args, udp=False):
    """Either HOST PORT or a list of TARGETs."""
    proto = "udp" if udp else "tcp"
    if len(args) == 2 and args[1].isdigit():
        return [(args[0], int(args[1]), proto)]
    return [parse_target(a, proto) for a in args]


def do_connect(host, port, proto, timeout=3.0, echo=True, **extra):
    fam = family_of(host)
    d = base("connect", target=fmt_target(host, port, proto), proto=proto,
             family="ipv6" if fam == socket.AF_INET6 else "ipv4", echo=False, **extra)
    stype = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    try:
        s = socket.socket(fam, stype)
    except OSError as e:
        d["stage"] = "socket"
        return set_err(d, e)
    with s:
        s.settimeout(timeout)
        try:
            s.connect((host, port))
        except OSError as e:
            d["stage"] = "connect"
            return set_err(d, e)
        d["ok"] = True
        d["local"] = s.getsockname()[0]
        if echo:
            msg = b"ping %d %f" % (os.getpid(), time.time())
            try:
                s.settimeout(min(timeout, 2.0))
                s.send(msg)
                got = s.recv(4096)
                d["echo"] = got == msg
            except OSError as e:
                d["echo"] = False
                d["echo_err"] = E.errorcode.get(e.errno or E.ETIMEDOUT, str(e.errno))
    return d


def do_sendto(host, port, count, wait=1.0):
    fam = family_of(host)
    d = base("sendto", target=fmt_target(host, port, "udp"), proto="udp",
             family="ipv6" if fam == socket.AF_INET6 else "ipv4", count=count, sent=0, replies=0)
    try:
        s = socket.socket(fam, socket.SOCK_DGRAM)
    except OSError as e:
        d["stage"] = "socket"
        return set_err(d, e)
    with s:
        first_err = None
        for i in range(count):
            try:
                s.sendto(b"dgram %d %d" % (os.getpid(), i), (host, port))
                d["sent"] += 1
            except OSError as e:
                if first_err is None:
                    first_err = e
        if first_err is not None:
            set_err(d, first_err)
        else:
            d["ok"] = True
        s.settimeout(wait)
        deadline = time.time() + wait
        while d["replies"] < d["sent"] and time.time() < deadline:
            try:
                s.settimeout(max(0.01, deadline - time.time()))
                s.recvfrom(4096)
                d["replies"] += 1
            except OSError:
                break
    return d


def do_socket(kind):
    d = base("socket", kind=kind)
    fam, stype, proto = SOCKET_KINDS[kind]
    d.update(family_num=fam, type_num=stype, proto_num=proto)
    try:
        s = socket.socket(fam, stype, proto)
    except OSError as e:
        return set_err(d, e)
    s.close()
    d["ok"] = True
    return d


def do_loopback():
    out = []
    for fam, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        name = "ipv4" if fam == socket.AF_INET else "ipv6"
        try:
            srv = socket.socket(fam, socket.SOCK_STREAM)
            srv.bind((host, 0))
            srv.listen(4)
            port = srv.getsockname()[1]
        except OSError as e:
            out.append(set_err(base("loopback", proto="tcp", family=name, stage="listen"), e))
            continue
        with srv:
            out.append(do_connect(host, port, "tcp", echo=False))
        try:
            u = socket.socket(fam, socket.SOCK_DGRAM)
            u.bind((host, 0))
            port = u.getsockname()[1]
        except OSError as e:
            out.append(set_err(base("loopback", proto="udp", family=name, stage="bind"), e))
            continue
        with u:
            out.append(do_sendto(host, port, 1, wait=0.5))
    return out


def connect_all(targets, **extra):
    for host, port, proto in targets:
        emit(do_connect(host, port, proto, **extra))


def cmd_spawn_tree(targets, raw_targets):
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        try:
            connect_all(targets, role="child")
            gpid = os.fork()
            if gpid == 0:
                # the grandchild execs a fresh interpreter: fork and exec both stay fenced
                os.execv(sys.executable, [sys.executable, os.path.abspath(__file__), "connect",
                                          "--role", "grandchild"] + raw_targets)
            _, st = os.waitpid(gpid, 0)
            os._exit(0 if os.waitstatus_to_exitcode(st) == 0 else 1)
        except BaseException:  # never return into the parent's code
            os._exit(2)
    _, st = os.waitpid(pid, 0)
    emit(base("spawn-tree", ok=os.waitstatus_to_exitcode(st) == 0, child=pid))
    return 0


def write_atomic(path, text):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def cmd_daemonize(a, targets):
    sys.stdout.flush()
    pid = os.fork()
    if pid > 0:
        os.waitpid(pid, 0)  # the intermediate child exits at once
        emit(base("daemonize", ok=True, child=pid))
        return 0
    try:
        os.setsid()
        if os.fork() > 0:
            os._exit(0)
        # the daemon: detach from the job's pipes so the caller sees EOF
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.chdir("/")
        results = [do_connect(h, p, pr, role="daemon") for h, p, pr in targets]
        info = base("daemon", ok=True, sid=os.getsid(0), results=results)
        write_atomic(a.out, json.dumps(info) + "\n")
        deadline = time.time() + a.max_wait
        while time.time() < deadline:
            if a.release and os.path.exists(a.release):
                break
            time.sleep(0.05)
        # connect again just before exiting: still fenced after the long wait
        if a.after:
            late = [do_connect(h, p, pr, role="daemon-late") for h, p, pr in
                    (parse_target(t) for t in a.after)]
            write_atomic(a.out + ".late", json.dumps(late) + "\n")
    finally:
        os._exit(0)


def cmd_nested_cgroup(targets, name):
    mnt = cgroup2_mount()
    before = own_cgroup()
    d = base("nested-cgroup", before=before)
    if not mnt or not before:
        d["err"] = "no cgroup2 mount or no 0:: line in /proc/self/cgroup"
        emit(d)
        return 1
    child = os.path.join(mnt + before.rstrip("/"), name or "nested-%d" % os.getpid())
    try:
        os.mkdir(child)
        d["created"] = child
        with open(os.path.join(child, "cgroup.procs"), "w") as f:
            f.write("%d\n" % os.getpid())
    except OSError as e:
        set_err(d, e)
        emit(d)
        return 1
    d["ok"] = True
    d["cgroup"] = own_cgroup()
    emit(d)
    connect_all(targets, role="nested")
    return 0


def cmd_hold(a):
    log = open(a.log, "ab")
    retry = [parse_target(t) for t in a.retry]
    fam = family_of(a.host)
    d = base("hold-open", target=fmt_target(a.host, a.port, "tcp"))
    held = None
    try:
        held = socket.socket(fam, socket.SOCK_STREAM)
        held.settimeout(3)
        held.connect((a.host, a.port))
        d["ok"] = True
    except OSError as e:
        set_err(d, e)
    emit(d, log)
    emit(d)
    deadline = time.time() + a.seconds
    n = 0
    while time.time() < deadline:
        if a.stop_file and os.path.exists(a.stop_file):
            break
        n += 1
        if held is not None:
            p = base("hold-ping", round=n)
            try:
                msg = b"hold %d" % n
                held.send(msg)
                p["ok"] = held.recv(4096) == msg
            except OSError as e:
                set_err(p, e)
            emit(p, log)
        for h, port, proto in retry:
            r = do_connect(h, port, proto, timeout=1.0, round=n)
            emit(r, log)
        time.sleep(a.interval_ms / 1000.0)
    emit(base("hold-done", ok=True, rounds=n), log)
    log.close()
    return 0


# -- DNS ----------------------------------------------------------------------
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


def cmd_connect_many(a):
    host, port, proto = parse_target(a.target)
    fam = family_of(host)
    lat, errors = [], 0
    for _ in range(a.count):
        s = socket.socket(fam, socket.SOCK_STREAM)
        t = time.perf_counter()
        try:
            s.connect((host, port))
            lat.append(time.perf_counter() - t)
        except OSError:
            errors += 1
        finally:
            s.close()
    lat.sort()
    d = base("connect-many", target=fmt_target(host, port, proto), ok=bool(lat), n=len(lat),
             errors=errors)
    if lat:
        d["p50_us"] = lat[len(lat) // 2] * 1e6
        d["p99_us"] = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e6
    emit(d)
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="probe.py", description="egress-fence test client",
                                 epilog=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("connect")
    p.add_argument("args", nargs="+")
    p.add_argument("--udp", action="store_true")
    p.add_argument("--no-echo", action="store_true")
    p.add_argument("--timeout", type=float, default=3.0)
    p.add_argument("--role", default="main")

    p = sub.add_parser("connect-mapped")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--udp", action="store_true")

    p = sub.add_parser("sendto")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--wait", type=float, default=1.0)

    p = sub.add_parser("socket")
    p.add_argument("kinds", nargs="+", choices=sorted(SOCKET_KINDS))

    sub.add_parser("loopback")
    sub.add_parser("info")

    p = sub.add_parser("spawn-tree")
    p.add_argument("targets", nargs="+")

    p = sub.add_parser("daemonize")
    p.add_argument("--out", required=True)
    p.add_argument("--release")
    p.add_argument("--max-wait", type=float, default=30.0)
    p.add_argument("--after", action="append", default=[],
                   help="TARGET to connect to once released, results in OUT.late")
    p.add_argument("targets", nargs="+")

    p = sub.add_parser("nested-cgroup")
    p.add_argument("--name")
    p.add_argument("targets", nargs="*")

    p = sub.add_parser("hold")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("seconds", type=float)
    p.add_argument("--log", required=True)
    p.add_argument("--retry", action="append", default=[])
    p.add_argument("--interval-ms", type=int, default=200)
    p.add_argument("--stop-file")

    p = sub.add_parser("connect-many")
    p.add_argument("target")
    p.add_argument("--count", type=int, default=100)

    p = sub.add_parser("resolve")
    p.add_argument("name")
    p.add_argument("--family", choices=["4", "6", "any"], default="any")
    p.add_argument("--server", default=DEFAULT_SERVER)
    p.add_argument("--port", type=int, default=53, help="the resolver's port")
    p.add_argument("--tcp", action="store_true")
    p.add_argument("--timeout", type=float, default=2.0)

    p = sub.add_parser("dns-query")
    p.add_argument("names", nargs="+")
    p.add_argument("--server", default=DEFAULT_SERVER)
    p.add_argument("--port", type=int, default=53)
    p.add_argument("--tcp", action="store_true")
    p.add_argument("--type", default="A")
    p.add_argument("--connected", action="store_true", help="connect() the UDP socket")
    p.add_argument("--edns", type=int, help="advertise this UDP payload size (EDNS0)")
    p.add_argument("--timeout", type=float, default=2.0)

    p = sub.add_parser("resolve-connect")
    p.add_argument("name")
    p.add_argument("port", type=int)
    p.add_argument("--server", default=DEFAULT_SERVER)
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--names-from-synth", metavar="CIDR")
    p.add_argument("--timeout", type=float, default=1.0, help="connect timeout")
    p.add_argument("--dns-timeout", type=float, default=2.0)

    p = sub.add_parser("gai")
    p.add_argument("name")
    p.add_argument("port", type=int)
    p.add_argument("--server", default=DEFAULT_SERVER)

    p = sub.add_parser("dns-raw")
    p.add_argument("hex", nargs="+")
    p.add_argument("--server", default=DEFAULT_SERVER)
    p.add_argument("--port", type=int, default=53)
    p.add_argument("--tcp", action="store_true")
    p.add_argument("--timeout", type=float, default=2.0)
    p.add_argument("--gap-ms", type=int, default=0)

    p = sub.add_parser("dns-garbage")
    p.add_argument("--server", default=DEFAULT_SERVER)
    p.add_argument("--port", type=int, default=53)
    p.add_argument("--name", default="garbage.test", help="the name in the hostile questions")
    p.add_argument("--timeout", type=float, default=0.5)

    a = ap.parse_args(argv)
    if a.cmd == "resolve":
        return cmd_resolve(a)
    if a.cmd == "dns-query":
        return cmd_dns_query(a)
    if a.cmd == "resolve-connect":
        return cmd_resolve_connect(a)
    if a.cmd == "dns-raw":
        return cmd_dns_raw(a)
    if a.cmd == "dns-garbage":
        return cmd_dns_garbage(a)
    if a.cmd == "gai":
        return cmd_gai(a)
    if a.cmd == "connect":
        ts = targets_from(a.args, a.udp)
        rs = [do_connect(h, p_, pr, timeout=a.timeout, echo=not a.no_echo, role=a.role)
              for h, p_, pr in ts]
        for r in rs:
            emit(r)
        return 0
    if a.cmd == "connect-mapped":
        emit(do_connect("::ffff:" + a.host, a.port, "udp" if a.udp else "tcp"))
        return 0
    if a.cmd == "sendto":
        emit(do_sendto(a.host, a.port, a.count, a.wait))
        return 0
    if a.cmd == "socket":
        for k in a.kinds:
            emit(do_socket(k))
        return 0
    if a.cmd == "loopback":
        for r in do_loopback():
            emit(r)
        return 0
    if a.cmd == "info":
        emit(base("info", ok=True))
        return 0
    if a.cmd == "spawn-tree":
        return cmd_spawn_tree([parse_target(t) for t in a.targets], a.targets)
    if a.cmd == "daemonize":
        return cmd_daemonize(a, [parse_target(t) for t in a.targets])
    if a.cmd == "nested-cgroup":
        return cmd_nested_cgroup([parse_target(t) for t in a.targets], a.name)
    if a.cmd == "hold":
        return cmd_hold(a)
    if a.cmd == "connect-many":
        return cmd_connect_many(a)
    return 2


if __name__ == "__main__":
    sys.exit(main())
