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
                                                  alg xdp kcm rds appletalk unix
                                                  netlink tcp udp
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
import json
import os
import socket
import sys
import time

from probe_base import (base, set_err, emit, parse_target, fmt_target, family_of, targets_from,
                        own_cgroup, cgroup2_mount)
from probe_dns import (DEFAULT_SERVER, cmd_dns_query, cmd_resolve, cmd_resolve_connect, cmd_gai,
                       cmd_dns_raw, cmd_dns_garbage)

AF_APPLETALK = 5
AF_RDS = 21
AF_ALG = 38
AF_VSOCK = 40
AF_KCM = 41
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
    "kcm": (AF_KCM, socket.SOCK_SEQPACKET, 0),
    "rds": (AF_RDS, socket.SOCK_SEQPACKET, 0),
    "appletalk": (AF_APPLETALK, socket.SOCK_DGRAM, 0),
    "unix": (socket.AF_UNIX, socket.SOCK_STREAM, 0),
    "netlink": (socket.AF_NETLINK, socket.SOCK_RAW, 0),
    "tcp": (socket.AF_INET, socket.SOCK_STREAM, 0),
    "udp": (socket.AF_INET, socket.SOCK_DGRAM, 0),
}


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
