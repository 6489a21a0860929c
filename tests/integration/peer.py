#!/usr/bin/python3
"""Listeners, relays and clients for the inbound and loopback tests.

Every result is one JSON line on stdout: {"op", "ok", "errno", "err", ...};
servers print "READY <port>" once bound and log one JSON line per accepted
connection to --log ({"peer", "pport", "lport", "got"}: what it received).

  serve --host H [--host H2] --port P --log FILE [--greeting G] [--seconds S]
        [--discard] [--dual] [--nested NAME]
        accept on each H:P; send G to each peer at once, keep what it sends
  relay --listen H --port P --to HOST:PORT --log FILE [--seconds S] [--reuseport]
        an open relay (a proxy, a published container port): each connection
        is forwarded to HOST:PORT both ways
  udp-sink --host H [--port P] --log FILE [--seconds S]
        a UDP socket that logs what it receives
  sendto HOST PORT [--send DATA]
        one unconnected UDP datagram
  connect HOST PORT [--bind SRC] [--timeout T] [--send DATA]
        TCP connect (from SRC if given), send DATA, read until EOF/timeout
  bulk HOST PORT [--mb N] [--no-echo] [--bind SRC]
        send N MiB to an echo server and read them back
  own-hold [--host H] [--seconds S]
        a listener of its own and a connection to it, pinged for S seconds
  own [--nested NAME] [--udp] [--port P] [--reuseport] [--mapped]
        a listener of its own on 127.0.0.1 and [::1] (or bound UDP sockets),
        then connect to it: from this process, or from a child that moved
        into a new child cgroup NAME of its own cgroup first

Python 3 stdlib only.
"""
import argparse
import json
import os
import select
import socket
import sys
import time


def emit(d):
    sys.stdout.write(json.dumps(d) + "\n")
    sys.stdout.flush()


def res(op, **kw):
    d = {"op": op, "ok": False, "errno": 0, "err": ""}
    d.update(kw)
    return d


def set_err(d, e):
    d["ok"] = False
    d["errno"] = getattr(e, "errno", None) or 0
    d["err"] = "%s: %s" % (type(e).__name__, e)
    return d


def fam_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def listen(host, port, udp=False, reuseport=False, dual=False):
    s = socket.socket(fam_of(host), socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuseport:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if ":" in host:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if dual else 1)
    s.bind((host, port))
    if not udp:
        s.listen(16)
    return s


def enter_nested(name):
    child = os.path.join(cgroup2_mount() + own_cgroup().rstrip("/"), name)
    os.mkdir(child)
    with open(os.path.join(child, "cgroup.procs"), "w") as f:
        f.write("%d\n" % os.getpid())


def cmd_serve(a):
    if a.nested:
        enter_nested(a.nested)
    socks = [listen(h, a.port, dual=a.dual) for h in a.host]
    port = socks[0].getsockname()[1]
    print("READY %d" % port, flush=True)
    log = open(a.log, "a")
    conns = {}
    end = time.time() + a.seconds
    while time.time() < end:
        rd, _, _ = select.select(socks + list(conns), [], [], 0.2)
        for s in rd:
            if s in socks:
                c, peer = s.accept()
                conns[c] = {"peer": peer[0], "pport": peer[1], "lport": port, "got": ""}
                try:
                    c.sendall(a.greeting.encode())
                except OSError:
                    pass
                continue
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if data:
                if a.discard:
                    conns[s]["bytes"] = conns[s].get("bytes", 0) + len(data)
                else:
                    conns[s]["got"] += data.decode(errors="replace")
                continue
            log.write(json.dumps(conns.pop(s)) + "\n")
            log.flush()
            s.close()
    for c, info in conns.items():
        log.write(json.dumps(info) + "\n")
        c.close()
    log.close()
    return 0


def pump(a, b):
    """Forward both ways until either side closes."""
    for s in (a, b):
        s.setblocking(False)
    while True:
        rd, _, _ = select.select([a, b], [], [], 5)
        if not rd:
            return
        for s in rd:
            other = b if s is a else a
            try:
                data = s.recv(65536)
            except OSError:
                return
            if not data:
                return
            other.setblocking(True)
            other.sendall(data)
            other.setblocking(False)


def cmd_relay(a):
    srv = listen(a.listen, a.port, reuseport=a.reuseport)
    print("READY %d" % srv.getsockname()[1], flush=True)
    host, port = a.to.rsplit(":", 1)
    host = host.strip("[]")
    log = open(a.log, "a")
    end = time.time() + a.seconds
    while time.time() < end:
        rd, _, _ = select.select([srv], [], [], 0.2)
        if not rd:
            continue
        c, peer = srv.accept()
        entry = {"peer": peer[0], "pport": peer[1], "forwarded": False}
        if os.fork() == 0:
            srv.close()
            try:
                up = socket.create_connection((host, int(port)), timeout=3)
                pump(c, up)
            finally:
                os._exit(0)
        entry["forwarded"] = True
        log.write(json.dumps(entry) + "\n")
        log.flush()
        c.close()
    return 0


def cmd_udp_sink(a):
    s = listen(a.host, a.port, udp=True)
    print("READY %d" % s.getsockname()[1], flush=True)
    log = open(a.log, "a")
    end = time.time() + a.seconds
    while time.time() < end:
        rd, _, _ = select.select([s], [], [], 0.2)
        if rd:
            data, peer = s.recvfrom(65536)
            log.write(json.dumps({"peer": peer[0], "pport": peer[1],
                                  "got": data.decode(errors="replace")}) + "\n")
            log.flush()
    return 0


def cmd_sendto(a):
    d = res("sendto", target="%s:%s" % (a.host, a.port))
    s = socket.socket(fam_of(a.host), socket.SOCK_DGRAM)
    try:
        s.sendto(a.send.encode(), (a.host, a.port))
        d["ok"] = True
    except OSError as e:
        set_err(d, e)
    finally:
        s.close()
    emit(d)
    return 0


def cmd_connect(a):
    d = res("connect", target="%s:%s" % (a.host, a.port), bind=a.bind)
    s = socket.socket(fam_of(a.host), socket.SOCK_STREAM)
    s.settimeout(a.timeout)
    t0 = time.time()
    try:
        if a.bind:
            s.bind((a.bind, 0))
        s.connect((a.host, a.port))
        d["connected"] = True
        if a.send:
            s.sendall(a.send.encode())
        got = b""
        end = time.time() + a.timeout
        while time.time() < end:
            try:
                chunk = s.recv(4096)
            except socket.timeout:
                break
            if not chunk:
                break
            got += chunk
            if a.send and a.send.encode() in got:
                break
        d["data"] = got.decode(errors="replace")
        d["ok"] = True
    except OSError as e:
        set_err(d, e)
    finally:
        s.close()
    d["elapsed"] = round(time.time() - t0, 3)
    emit(d)
    return 0


def cmd_bulk(a):
    """Send --mb MiB to an echo server and read it all back (or, with
    --no-echo, only send them and wait for the server to close)."""
    d = res("bulk", target="%s:%s" % (a.host, a.port))
    total = int(a.mb * 1024 * 1024)
    chunk = b"x" * 65536
    s = socket.socket(fam_of(a.host), socket.SOCK_STREAM)
    s.settimeout(10)
    t0 = time.time()
    try:
        if a.bind:
            s.bind((a.bind, 0))
        s.connect((a.host, a.port))
        sent = got = 0
        if a.no_echo:
            while sent < total:
                sent += s.send(chunk[:min(len(chunk), total - sent)])
            s.shutdown(socket.SHUT_WR)
            while s.recv(65536):
                pass
            got = sent
        s.setblocking(False)
        while got < total:
            want_w = [s] if sent < total else []
            rd, wr, _ = select.select([s], want_w, [], 10)
            if not rd and not wr:
                raise OSError("stalled at %d/%d" % (got, total))
            if wr:
                try:
                    sent += s.send(chunk[:min(len(chunk), total - sent)])
                except BlockingIOError:
                    pass
            if rd:
                data = s.recv(262144)
                if not data:
                    break
                got += len(data)
        d["ok"] = got >= total
        d["bytes"] = got
    except OSError as e:
        set_err(d, e)
    finally:
        s.close()
    d["elapsed"] = round(time.time() - t0, 3)
    emit(d)
    return 0


def own_cgroup():
    with open("/proc/self/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                return line[3:].strip()
    return None


def cgroup2_mount():
    with open("/proc/self/mounts") as f:
        for line in f:
            p = line.split()
            if len(p) > 2 and p[2] == "cgroup2":
                return p[1]
    return None


def try_own(host, port, udp):
    d = res("own", target="%s:%d" % (host, port), proto="udp" if udp else "tcp",
            cgroup=own_cgroup())
    s = socket.socket(fam_of(host), socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        if udp:
            s.sendto(b"ping", (host, port))
        else:
            s.connect((host, port))
        d["ok"] = True
    except OSError as e:
        set_err(d, e)
    finally:
        s.close()
    return d


def cmd_own(a):
    lsn = [listen(h, a.port, a.udp, a.reuseport) for h in ("127.0.0.1", "::1")]
    targets = [(h, s.getsockname()[1]) for h, s in zip(("127.0.0.1", "::1"), lsn)]
    if a.mapped:  # the IPv4 listener through an AF_INET6 socket
        targets.append(("::ffff:127.0.0.1", targets[0][1]))
    if not a.nested:
        for h, p in targets:
            emit(try_own(h, p, a.udp))
        return 0
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        out = []
        try:
            child = os.path.join(cgroup2_mount() + own_cgroup().rstrip("/"), a.nested)
            os.mkdir(child)
            with open(os.path.join(child, "cgroup.procs"), "w") as f:
                f.write("%d\n" % os.getpid())
            for h, p in targets:
                out.append(try_own(h, p, a.udp))
        except OSError as e:
            out.append(set_err(res("own", stage="nested"), e))
        os.write(w, json.dumps(out).encode())
        os._exit(0)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        data += chunk
    os.waitpid(pid, 0)
    for d in json.loads(data or b"[]"):
        emit(d)
    return 0


def cmd_own_hold(a):
    """A listener of its own and a connection to it, pinged every 100 ms
    for --seconds; READY once connected; one result line at the end."""
    import threading
    srv = listen(a.host, 0)
    port = srv.getsockname()[1]

    def echo():
        c, _ = srv.accept()
        while True:
            data = c.recv(4096)
            if not data:
                return
            c.sendall(data)
    threading.Thread(target=echo, daemon=True).start()
    d = res("own-hold", target="%s:%d" % (a.host, port), pings=0)
    try:
        s = socket.create_connection((a.host, port), timeout=2)
        print("READY %d" % port, flush=True)
        end = time.time() + a.seconds
        while time.time() < end:
            s.sendall(b"ping")
            if s.recv(16) != b"ping":
                raise OSError("no echo")
            d["pings"] += 1
            time.sleep(0.1)
        d["ok"] = True
    except OSError as e:
        set_err(d, e)
    emit(d)
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("serve")
    p.add_argument("--host", action="append", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--log", required=True)
    p.add_argument("--greeting", default="hello-from-job\n")
    p.add_argument("--discard", action="store_true", help="count bytes, keep none")
    p.add_argument("--dual", action="store_true", help="[::] takes IPv4 too")
    p.add_argument("--nested", help="listen from a new child cgroup NAME of its own")
    p.add_argument("--seconds", type=float, default=60)
    p = sub.add_parser("relay")
    p.add_argument("--listen", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--to", required=True)
    p.add_argument("--reuseport", action="store_true")
    p.add_argument("--log", required=True)
    p.add_argument("--seconds", type=float, default=60)
    p = sub.add_parser("connect")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--bind")
    p.add_argument("--timeout", type=float, default=3)
    p.add_argument("--send", default="")
    p = sub.add_parser("udp-sink")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--log", required=True)
    p.add_argument("--seconds", type=float, default=60)
    p = sub.add_parser("sendto")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--send", default="datagram")
    p = sub.add_parser("own-hold")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--seconds", type=float, default=5)
    p = sub.add_parser("bulk")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--mb", type=float, default=64)
    p.add_argument("--no-echo", action="store_true")
    p.add_argument("--bind")
    p = sub.add_parser("own")
    p.add_argument("--nested")
    p.add_argument("--udp", action="store_true")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--reuseport", action="store_true")
    p.add_argument("--mapped", action="store_true")
    a = ap.parse_args()
    return {"serve": cmd_serve, "relay": cmd_relay, "connect": cmd_connect,
            "own": cmd_own, "bulk": cmd_bulk, "udp-sink": cmd_udp_sink,
            "sendto": cmd_sendto, "own-hold": cmd_own_hold}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
