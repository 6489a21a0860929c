#!/usr/bin/python3
"""egress-fence adversarial suite: attacks run inside fenced jobs, judged by
what reached the other side.

    python3 tests/security/run.py [--build DIR] [-k SUBSTRING]... [--name NAME[USER]]...
                                  [--user nobody|root] [--list] [--keep] [-v] [--json FILE]

Each vector (vectors/NAME.py) is a small attacker program with a declared
policy, run in a fenced job (`egressctl run --policy P -- python3 NAME.py job
TOKEN`) as uid 65534 and, where the result may differ, as root. Every run
carries a fresh secret token. The verdict comes only from evidence gathered
outside the job:
  - a packet capture of the hosts side of the veth (capture.py): no frame
    carrying the token may go to an address the vector does not list in
    SINKS_OK;
  - the test hosts' own log (World.host_log()): the token in no data the
    hosts' servers received at an address not in SINKS_OK, and no
    connection or datagram to the vector's DENIED destinations while it ran;
  - the daemon's span journal: every RECORD the vector declares is there,
    for the vector's job;
  - the vector's own judge(ev), if any (DNS: dnsmasq's query logs, the
    upstream queries in the capture).
Never by the attacker's exit status or output (printed on failure, to help).

Prints "PASS NAME[user]" or "FAIL NAME[user]: why" per run and ends with
exactly one line "N passed, N failed"; exits 1 if anything failed. A vector
that cannot run (a missing kernel feature, a missing tool) fails saying so.
--name selects by exact name: NAME[USER] one run, NAME every user the vector
runs as; a name the suite does not have FAILS (a named subset such as
tests/vm/subset.py's does not shrink when a vector is renamed).
Reuses tests/integration's world (world.py) and daemon (harness_daemon.py):
one world for the suite, one shared egressd for the vectors that allow it.
"""
import argparse
import fnmatch
import glob
import importlib.util
import ipaddress
import json
import os
import secrets
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
VECDIR = os.path.join(HERE, "vectors")
INTEG = os.path.join(REPO, "tests", "integration")
sys.path.insert(1, INTEG)
sys.path.insert(1, VECDIR)


def _integration_runner():
    """tests/integration/run.py (prechecks) as module "ef_integration_run":
    this file is run.py too, so `import run` would find itself."""
    spec = importlib.util.spec_from_file_location("ef_integration_run",
                                                  os.path.join(INTEG, "run.py"))
    mod = importlib.util.module_from_spec(spec)
    sys.modules["ef_integration_run"] = mod
    spec.loader.exec_module(mod)
    return mod


R = _integration_runner()
import world as W  # noqa: E402
import harness as H  # noqa: E402
from harness_daemon import Ctx  # noqa: E402
import capture  # noqa: E402

PY = W.PY
LAUNCH = os.path.join(HERE, "launch.py")
FEATURES = os.path.join(HERE, "features.py")
CAPTURE = os.path.join(HERE, "capture.py")

# A second dnsmasq in the hosts ns, for records the world's has not:
# any name under tun.test (a tunnel needs answers, not NXDOMAIN, or it is a
# sweep), and AAAA records in the NAT64 prefix.
SECDNS_V4 = "198.18.1.8"
SECDNS_ARGS = ["--address=/tun.test/198.18.1.7",
               "--host-record=nat64meta.test,64:ff9b::a9fe:a9fe",
               "--host-record=nat64priv.test,64:ff9b::a0b:c0d",
               "--host-record=nat64ok.test,64:ff9b::c612:107",
               # the local-use prefix 64:ff9b:1::/48, RFC 6052 layout for a /48: the IPv4
               # address in bits 48-63 and 72-87 (bits 64-71 zero)
               "--host-record=nat64meta48.test,64:ff9b:1:a9fe:a9:fe00::",
               # the control: public whichever RFC 6052 layout reads it (/48 198.18.1.7,
               # /56 18.1.7.1, /64 1.7.1.198, /96 198.18.1.7)
               "--host-record=nat64ok48.test,64:ff9b:1:c612:1:701:c612:107"]
NAT64_HOSTS = ["64:ff9b::a9fe:a9fe", "64:ff9b::a0b:c0d", "64:ff9b::c612:107",
               "64:ff9b:1:a9fe:a9:fe00::", "64:ff9b:1:c612:1:701:c612:107"]
NAT64_ROUTES = ["64:ff9b::/96", "64:ff9b:1::/48"]

SHARED_CONFIG = {"dns": {"upstream": [W.DNS_V4], "timeout_ms": 1000, "attempts": 2}}


# --------------------------------------------------------------------------
# vectors

class Vector:
    def __init__(self, path):
        self.path = path
        self.name = os.path.basename(path)[:-3]
        spec = importlib.util.spec_from_file_location("vec_" + self.name, path)
        self.mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(self.mod)
        m = self.mod
        self.doc = (m.__doc__ or "").strip().splitlines()[0] if m.__doc__ else ""
        self.policy = dict(getattr(m, "POLICY"))
        self.users = tuple(getattr(m, "AS", ("nobody",)))
        self.record = list(getattr(m, "RECORD", []))
        self.record_as = tuple(getattr(m, "RECORD_AS", self.users))  # who must leave a record
        # where egressd runs with BPF LSM, a record of another kind may stand for
        # one of the guard's (what the guard refuses at once, BPF LSM may let
        # start and refuse further on)
        self.record_lsm = list(getattr(m, "RECORD_BPF_LSM", self.record))
        self.sinks_ok = set(norm(a) for a in getattr(m, "SINKS_OK", []))
        self.denied = list(getattr(m, "DENIED", []))
        self.own = getattr(m, "DAEMON", None)  # None: the shared daemon; else its config
        self.timeout = getattr(m, "TIMEOUT", 20)
        self.hosts_role = hasattr(m, "hosts")
        self.needs = list(getattr(m, "NEEDS", []))
        self.features = list(getattr(m, "FEATURES", []))
        for key in ("POLICY",):
            if not hasattr(m, key):
                raise RuntimeError("%s declares no %s" % (path, key))

    @property
    def policy_name(self):
        return "sec-" + self.name.replace("_", "-")


def load_vectors():
    out = []
    for p in sorted(glob.glob(os.path.join(VECDIR, "*.py"))):
        if os.path.basename(p) in ("vlib.py",) or os.path.basename(p).startswith("_"):
            continue
        try:
            out.append(Vector(p))
        except Exception as e:  # noqa: BLE001 - a broken vector is a failure, not a crash
            BROKEN.append((os.path.basename(p)[:-3], "%s: %s" % (type(e).__name__, e)))
    return out


BROKEN = []  # (name, why) of vector files that do not load


def norm(a):
    try:
        ip = ipaddress.ip_address(str(a).strip("[]"))
    except ValueError:
        return str(a)
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return str(ip)


# --------------------------------------------------------------------------
# the capture on the hosts side of the veth

class Capture:
    def __init__(self, world):
        self.world = world
        self.path = os.path.join(world.dir, "veth.cap")
        open(self.path, "wb").close()
        self.proc = subprocess.Popen(world.hosts_argv([PY, CAPTURE, world.veth_hosts, self.path]),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        W.ledger().add("pid", self.proc.pid)
        line = self.proc.stdout.readline()
        if line.strip() != b"READY":
            raise W.WorldError("capture.py did not start: %r %r" % (
                line, self.proc.stderr.read()[-500:] if self.proc.poll() is not None else b""))

    def mark(self):
        """Everything that crossed the veth so far is kept: (offset, frames dropped since
        the last mark)."""
        if self.proc.poll() is not None:
            raise AssertionError("the capture died (exit %s): %s" % (
                self.proc.returncode, self.proc.stderr.read()[-500:]))
        self.proc.stdin.write(b"SYNC\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline().split()
        if len(line) != 3 or line[0] != b"OK":
            raise AssertionError("the capture did not answer SYNC: %r" % line)
        return int(line[1]), int(line[2])

    def frames(self, start, end):
        """From the capture's memory, not its file (a root job can write files)."""
        self.proc.stdin.write(b"DUMP %d %d\n" % (start, end))
        self.proc.stdin.flush()
        head = self.proc.stdout.readline().split()
        if len(head) != 2 or head[0] != b"DATA":
            raise AssertionError("the capture did not answer DUMP: %r" % head)
        n, data = int(head[1]), b""
        while len(data) < n:
            chunk = self.proc.stdout.read(n - len(data))
            if not chunk:
                raise AssertionError("the capture ended inside a DUMP")
            data += chunk
        return capture.frames(data)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(3)
        W.ledger().drop("pid", self.proc.pid)


# --------------------------------------------------------------------------
# world additions: the second dnsmasq, NAT64 addresses

class Extras:
    def __init__(self, world):
        self.world = world
        self.dns = None
        self.dns_log_path = os.path.join(world.dir, "secdns.log")

    def up(self):
        w = self.world
        for a in NAT64_HOSTS:
            w._ip("-6", "addr", "add", a + "/128", "dev", w.veth_hosts, "nodad", ns=w.hosts)
        for net in NAT64_ROUTES:
            w._ip("-6", "route", "add", net, "via", W.HOSTS_V6, "dev", w.veth_fence, ns=w.fence)
        exe = W.tool("dnsmasq")
        open(self.dns_log_path, "w").close()
        argv = [exe, "--keep-in-foreground", "--conf-file=/dev/null", "--pid-file=",
                "--user=root", "--group=root", "--no-resolv", "--no-poll", "--no-hosts",
                "--bind-interfaces", "--listen-address=" + SECDNS_V4, "--port=53",
                "--local=/test/", "--local-ttl=300", "--log-queries",
                "--log-facility=" + self.dns_log_path] + SECDNS_ARGS
        self.dns = subprocess.Popen(w.hosts_argv(argv), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"})
        W.ledger().add("pid", self.dns.pid)
        for _ in range(50):
            r = w.in_fence([PY, W.PROBE, "dns-query", "x.tun.test", "--server", SECDNS_V4,
                            "--timeout", "0.3"], timeout=10)
            if '"NOERROR"' in r.stdout:
                return
            time.sleep(0.1)
        raise W.WorldError("the second dnsmasq (%s) does not answer" % SECDNS_V4)

    def dns_queries(self, since=0):
        """[(name as logged, lowercased)] the second dnsmasq was asked, from byte offset since."""
        out = []
        with open(self.dns_log_path, "rb") as f:
            f.seek(since)
            for line in f.read().decode(errors="replace").splitlines():
                m = W.DNS_LOG_RE.match(line)
                if m:
                    out.append(m.group(4).rstrip(".").lower())
        return out

    def dns_mark(self):
        return os.path.getsize(self.dns_log_path)

    def down(self):
        if self.dns is not None:
            for c in W.children_of(self.dns.pid):
                H.kill_pid(c)
            H.stop_popen(self.dns, 2)
            W.ledger().drop("pid", self.dns.pid)
            self.dns = None


# --------------------------------------------------------------------------
# evidence and verdict

class Evidence:
    """What one run of a vector left outside the job."""

    def __init__(self, vec, user, token, job, daemon, world, extras, frames, t0, t1,
                 dns_mark, secdns_mark, out, err, rc):
        self.vec, self.user, self.token, self.job = vec, user, token, job
        self.daemon, self.world, self.extras = daemon, world, extras
        self.frames, self.t0, self.t1 = frames, t0, t1
        self.dns_mark, self.secdns_mark = dns_mark, secdns_mark
        self.out, self.err, self.rc = out, err, rc
        self._spans = None
        self._parsed = None

    def parsed(self):
        """[(t, from_fence, info, frame)] for the IP frames of the run."""
        if self._parsed is None:
            self._parsed = []
            for t, pkttype, fr in self.frames:
                info = capture.parse(fr)
                if info is not None:
                    self._parsed.append((t, pkttype != capture.PACKET_OUTGOING, info, fr))
        return self._parsed

    def token_frames(self, token=None):
        tok = (token or self.token).encode()
        return [(t, ff, i) for t, ff, i, fr in self.parsed() if tok in fr]

    def leaks(self):
        """Frames from the fence side with the token, to a destination not allowed to get it."""
        return [(t, i) for t, ff, i in self.token_frames()
                if ff and norm(i["dst"]) not in self.vec.sinks_ok]

    def host_hits(self):
        hits = []
        for e in self.world.host_log():
            if not (self.t0 - 0.2 <= e["t"] <= self.t1 + 0.5):
                continue
            for addr, port, proto in self.vec.denied:
                if norm(e["local"]) == norm(addr) and e["lport"] == port and e["proto"] == proto:
                    hits.append(e)
        return hits

    def host_token_hits(self):
        """What the test hosts' servers received with the token in it (hostd logs the first
        bytes of each datagram and TCP read), at an address not in SINKS_OK."""
        return [e for e in self.world.host_log()
                if self.t0 - 0.2 <= e["t"] <= self.t1 + 0.5 and self.token in e.get("data", "")
                and norm(e["local"]) not in self.vec.sinks_ok]

    def spans(self, refresh=False):
        if self._spans is None or refresh:
            self._spans = [s for s in self.daemon.spans() if s.get("egress.job.id") == self.job]
        return self._spans

    def find(self, names, where=None, refresh=False):
        names = (names,) if isinstance(names, str) else tuple(names)
        out = []
        for s in self.spans(refresh):
            if s.name not in names and names != ("*",):
                continue
            ok = True
            for k, v in (where or {}).items():
                want = v if isinstance(v, tuple) else (v,)
                if "*" in k:  # key patterns, "|" between: any attribute they match
                    keys = [a for a in s.attrs
                            if any(fnmatch.fnmatch(a, pat) for pat in k.split("|"))]
                    got = next((s.attrs[a] for a in keys if s.attrs[a]), None)
                else:
                    got = s.attrs.get(k)
                if k.endswith(".address") and got is not None:
                    got, want = norm(got), tuple(norm(x) for x in want)
                if callable(v):
                    ok = ok and bool(v(got))
                elif got not in want:
                    ok = False
            if ok:
                out.append(s)
        return out

    def upstream_queries(self):
        """(qname as sent, raw message) of DNS queries that crossed the veth towards port 53."""
        import struct as _s
        out = []
        for _t, ff, i, fr in self.parsed():
            if not ff or i.get("dport") != 53:
                continue
            msg = fr[i["payload_off"]:]
            if i["proto"] == 6:
                if len(msg) < 2:
                    continue
                msg = msg[2:2 + _s.unpack_from("!H", msg)[0]]
            name = qname_raw(msg)
            if name is not None:
                out.append((name, msg))
        return out


def qname_raw(msg):
    """The question name as its bytes were sent (case kept), or None."""
    if len(msg) < 13:
        return None
    off, labels = 12, []
    while off < len(msg):
        n = msg[off]
        if n == 0:
            return ".".join(labels)
        if n > 63 or off + 1 + n > len(msg):
            return None
        labels.append(msg[off + 1:off + 1 + n].decode("latin-1"))
        off += 1 + n
    return None


def describe_frame(i):
    proto = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmp6", 136: "udplite"}.get(i["proto"],
                                                                              str(i["proto"]))
    extra = ""
    if i.get("rthdr") is not None:
        extra += " rthdr-type-%d" % i["rthdr"]
    if i.get("ipopts"):
        extra += " ipopts=%s" % i["ipopts"][:12].hex()
    return "%s %s:%s -> %s:%s%s" % (proto, i["src"], i["sport"], i["dst"], i["dport"], extra)


def judge(ev):
    """[problem strings]; empty: the vector held."""
    problems = []
    leaks = ev.leaks()
    if leaks:
        dests = sorted(set(describe_frame(i) for _t, i in leaks))
        problems.append("LEAK: %d frame(s) carrying the token crossed the veth: %s" % (
            len(leaks), "; ".join(dests[:4])))
    got = ev.host_token_hits()
    if got:
        problems.append("LEAK: the hosts received the token: %s" % "; ".join(
            "%s %s:%d from %s" % (e["proto"], e["local"], e["lport"], e["peer"])
            for e in got[:4]))
    hits = ev.host_hits()
    if hits:
        problems.append("REACHED: the hosts logged %s" % "; ".join(
            "%s %s:%d from %s" % (e["proto"], e["local"], e["lport"], e["peer"])
            for e in hits[:4]))
    if not hasattr(ev.daemon, "ef_bpf_lsm"):
        ev.daemon.ef_bpf_lsm = bool(ev.daemon.status().get("bpf_lsm"))
    records = ev.vec.record_lsm if ev.daemon.ef_bpf_lsm else ev.vec.record
    for names, where in (records if ev.user in ev.vec.record_as else []):
        if not ev.find(names, where):
            problems.append("NO RECORD: no %s span of the job with %s (the job's spans: %s)" % (
                names if isinstance(names, str) else "|".join(names),
                json.dumps({k: (v if not callable(v) else "<predicate>")
                            for k, v in (where or {}).items()}),
                ", ".join(sorted(set("%s/%s" % (s.name, s.get("egress.reason"))
                                     for s in ev.spans()))) or "none"))
    if hasattr(ev.vec.mod, "judge"):
        extra = ev.vec.mod.judge(ev) or []
        if any(p.startswith("DOCUMENTED") for p in extra):
            # the vector asserts a documented remaining path: the leak is the docs' claim
            problems = [p for p in problems if not p.startswith(("LEAK", "REACHED"))]
            print("    note: %s" % "; ".join(p for p in extra if p.startswith("DOCUMENTED")),
                  flush=True)
            extra = [p for p in extra if not p.startswith("DOCUMENTED")]
        problems += extra
    return problems


# --------------------------------------------------------------------------
# running one vector

class Suite:
    def __init__(self, args, world, cg2, extras, cap):
        self.args, self.world, self.cg2, self.extras, self.cap = args, world, cg2, extras, cap
        self.shared_ctx = None
        self.shared = None
        self.results = []
        self.features = {}

    def probe_features(self, vectors):
        """{feature: None | why missing} for every FEATURES entry, probed once in the fence ns."""
        names = sorted(set(f for v in vectors for f in v.features))
        if not names:
            return
        r = subprocess.run(self.world.fence_argv([PY, FEATURES] + names), capture_output=True,
                           text=True, timeout=30)
        try:
            self.features = json.loads(r.stdout)
        except ValueError:
            self.features = {n: "features.py failed: %s" % r.stderr.strip()[-300:] for n in names}

    def shared_daemon(self, vectors):
        if self.shared is None:
            self.shared_ctx = Ctx("security-shared", self.args.build, self.world, self.cg2,
                                  keep=self.args.keep, verbose=self.args.verbose)
            pols = {v.policy_name: v.policy for v in vectors if v.own is None}
            self.shared = self.shared_ctx.daemon(pols, config=SHARED_CONFIG, label="shared")
            open_for_nobody(self.shared)
        return self.shared

    def close(self):
        problems = []
        if self.shared_ctx is not None:
            problems = self.shared_ctx.close()
        return problems

    def run_one(self, vec, user, vectors):
        """(problems, attacker's stdout, stderr); problems of an own daemon's cleanup
        (a sanitizer report in its log, something left behind) count too."""
        cleanup = []
        problems, out, err = self._run_one(vec, user, vectors, cleanup)
        return problems + ["cleanup: %s" % c for c in cleanup], out, err

    def _run_one(self, vec, user, vectors, cleanup):
        own_ctx = None
        teardown = None
        try:
            if vec.own is None:
                d = self.shared_daemon(vectors)
            else:
                own_ctx = Ctx(vec.name, self.args.build, self.world, self.cg2,
                              keep=self.args.keep, verbose=self.args.verbose)
                cfg = dict(SHARED_CONFIG)
                cfg.update(vec.own)
                d = own_ctx.daemon({vec.policy_name: vec.policy}, config=cfg, label=vec.name)
                open_for_nobody(d)
            missing = [n for n in vec.needs if not W.tool(n)]
            if missing:
                return ["CANNOT RUN: %s not installed (make deps)" % ", ".join(missing)], "", ""
            lacking = ["%s (%s)" % (f, self.features[f]) for f in vec.features
                       if self.features.get(f, "not probed")]
            if lacking:
                return ["CANNOT RUN: the kernel lacks what the attack needs: %s" %
                        "; ".join(lacking)], "", ""
            if hasattr(vec.mod, "setup"):
                teardown = vec.mod.setup(self.world)
            return self.attack(vec, user, d)
        finally:
            if teardown:
                try:
                    teardown()
                except Exception as e:  # noqa: BLE001
                    print("    teardown of %s: %r" % (vec.name, e), flush=True)
            if own_ctx is not None:
                cleanup += own_ctx.close()

    def attack(self, vec, user, d):
        token = "EFSEC%s" % secrets.token_hex(10).upper()
        job = "sec-%s-%s-%s" % (vec.name.replace("_", "-")[:40], user[0], secrets.token_hex(3))
        dns_mark = self.world.dns_mark()
        secdns_mark = self.extras.dns_mark()
        cap0, _ = self.cap.mark()
        t0 = time.time()
        cfg = {"vector": vec.path, "token": token, "job": job, "policy": vec.policy_name,
               "user": user, "egressctl": d.egressctl, "socket": d.sock,
               "timeout": vec.timeout}
        p = subprocess.Popen(self.world.fence_argv([PY, LAUNCH, json.dumps(cfg)]),
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=d._env())
        W.ledger().add("pid", p.pid)
        out = b""
        err = b""
        try:
            if vec.hosts_role:
                out += read_until_ready(p, vec.timeout)
                if b"READY" in out:
                    r = subprocess.run(self.world.hosts_argv([PY, vec.path, "hosts", token]),
                                       capture_output=True, timeout=vec.timeout)
                    out += b"[hosts] " + r.stdout + r.stderr
                else:
                    out += b"[harness] the job never printed READY\n"
            o, e = p.communicate(timeout=vec.timeout + 30)
            out += o
            err += e
        except subprocess.TimeoutExpired:
            H.stop_popen(p, 2)
            err += b"[harness] launcher timed out"
        W.ledger().drop("pid", p.pid)
        t1 = time.time()
        # the job's span is written at its end: once there, its decisions are too
        try:
            H.wait_until(lambda: d.find("egress.job", job=job), timeout=10, interval=0.2,
                         what="the job's egress.job span")
        except AssertionError as e:
            err += ("[harness] %s\n" % e).encode()
        time.sleep(0.3)
        cap1, dropped = self.cap.mark()
        ev = Evidence(vec, user, token, job, d, self.world, self.extras,
                      self.cap.frames(cap0, cap1), t0, t1, dns_mark, secdns_mark,
                      out.decode(errors="replace"), err.decode(errors="replace"), p.returncode)
        cannot = [line for line in ev.out.splitlines() if line.startswith("CANNOT RUN")]
        if dropped:
            cannot.append("EVIDENCE: the capture lost %d frame(s) while the vector ran: what "
                          "crossed the veth is not all known" % dropped)
        return cannot + judge(ev), ev.out, ev.err


def read_until_ready(p, timeout):
    import select
    buf = b""
    deadline = time.time() + timeout
    while time.time() < deadline and b"READY" not in buf:
        rd, _, _ = select.select([p.stdout], [], [], 0.2)
        if rd:
            ch = os.read(p.stdout.fileno(), 4096)
            if not ch:
                break
            buf += ch
        elif p.poll() is not None:
            break
    return buf


def open_for_nobody(d):
    """uid 65534 reaches the control socket (as tests/integration's as_user)."""
    for path in (d.tmp, d.run_dir):
        os.chmod(path, 0o711)
    os.chmod(d.policy_dir, 0o755)


# --------------------------------------------------------------------------
# main

def main(argv=None):
    ap = argparse.ArgumentParser(description="egress-fence adversarial suite")
    ap.add_argument("--build", default="build/normal")
    ap.add_argument("-k", action="append", default=[], metavar="SUBSTRING")
    ap.add_argument("--name", action="append", default=[], metavar="NAME[USER]",
                    help="exact: one run NAME[USER], or every user of vector NAME (repeatable)")
    ap.add_argument("--user", choices=("nobody", "root"), help="only runs as this user")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args(argv)
    b = args.build
    if not os.path.isabs(b) and not os.path.isdir(b) and os.path.isdir(os.path.join(REPO, b)):
        b = os.path.join(REPO, b)
    args.build = os.path.abspath(b)

    vectors = load_vectors()

    def picked(name, user=None):
        if not args.k and not args.name:
            return True
        return (any(k in name for k in args.k) or name in args.name
                or (user is not None and "%s[%s]" % (name, user) in args.name))
    runs = [(v, u) for v in vectors for u in v.users
            if picked(v.name, u) and (args.user is None or u == args.user)]
    broken = [b for b in BROKEN if picked(b[0])
              or any(n.startswith(b[0] + "[") for n in args.name)]
    known = {v.name for v in vectors} | {b[0] for b in BROKEN}
    known |= {"%s[%s]" % (v.name, u) for v in vectors for u in v.users}
    unknown = [n for n in args.name if n not in known
               and not any(n.startswith(b[0] + "[") for b in BROKEN)]
    if args.list:
        for name, why in broken:
            print("%s  BROKEN: %s" % (name, why))
        for v, u in runs:
            print("%s[%s]  %s" % (v.name, u, v.doc))
        return 0
    results = []
    if broken:
        for name, why in broken:
            print("FAIL %s: the vector does not load: %s" % (name, why), flush=True)
            results.append({"vector": name, "user": None, "seconds": 0, "leak": False,
                            "problems": ["the vector does not load: %s" % why]})
    for n in unknown:
        print("FAIL %s: no vector run of this name (renamed or removed?)" % n, flush=True)
        results.append({"vector": n, "user": None, "seconds": 0, "leak": False,
                        "problems": ["no vector run of this name (renamed or removed?)"]})
    if not runs:
        print("no vector matches %s" % (args.k + args.name))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)
        print("0 passed, %d failed" % max(1, len(results)))
        return 1

    problems = R.prechecks(args.build)
    if not W.tool("setpriv"):
        problems.append("`setpriv` not found (util-linux): vectors run as uid 65534")
    world = extras = cap = None
    # what a test dockerd's containerd shims may have left, empty, mode 0600
    # (tests/integration/dockerd.py): the runtime-cover vectors' stand-in at
    # /run/containerd must be reachable by uid 65534
    import dockerd
    dockerd.shim_dirs_gone()
    if not problems:
        try:
            world = W.World(log=lambda m: print("world: " + m, flush=True)).up()
            extras = Extras(world)
            extras.up()
            cap = Capture(world)
        except (W.WorldError, OSError, subprocess.SubprocessError) as e:
            problems.append("cannot build the test world: %s" % e)
    if problems:
        for p in problems:
            print("precheck: " + p, flush=True)
        for v, u in runs:
            print("FAIL %s[%s]: not run: precheck failed: %s" % (v.name, u, problems[0]),
                  flush=True)
            results.append({"vector": v.name, "user": u, "seconds": 0, "leak": False,
                            "problems": ["not run: precheck failed: %s" % problems[0]]})
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)
        print("0 passed, %d failed" % (len(runs) + len(broken) + len(unknown)), flush=True)
        if world:
            world.down()
        return 1

    cg2 = W.cgroup2_mount()
    suite = Suite(args, world, cg2, extras, cap)
    suite.probe_features([v for v, _u in runs])
    passed, failed = 0, len(broken) + len(unknown)
    # vectors with a daemon of their own last: the shared one starts once
    runs.sort(key=lambda r: r[0].own is not None)
    try:
        for v, u in runs:
            t0 = time.time()
            try:
                problems, out, err = suite.run_one(v, u, vectors)
            except AssertionError as e:
                problems, out, err = ["harness: %s" % e], "", ""
            except Exception as e:  # noqa: BLE001
                problems, out, err = ["harness: %r" % e], "", traceback.format_exc()
            name = "%s[%s]" % (v.name, u)
            results.append({"vector": v.name, "user": u, "problems": problems,
                            "leak": any(p.startswith(("LEAK", "REACHED")) for p in problems),
                            "seconds": round(time.time() - t0, 1)})
            if problems:
                failed += 1
                print("FAIL %s: %s" % (name, " | ".join(problems)), flush=True)
                print("    tries: %s" % v.doc, flush=True)
                for line in (out.strip().splitlines()[:12] + err.strip().splitlines()[-6:]):
                    print("    | " + line[:300], flush=True)
            else:
                passed += 1
                print("PASS %s" % name, flush=True)
                if args.verbose:
                    print("    took %.1fs" % (time.time() - t0), flush=True)
                    for line in out.strip().splitlines()[:12]:
                        print("    | " + line[:300], flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        failed += 1
    finally:
        problems = suite.close()
        if problems:  # the shared egressd: a sanitizer report, something left behind
            print("FAIL shared-daemon: %s" % " | ".join(problems), flush=True)
            results.append({"vector": "shared-daemon", "user": None, "seconds": 0,
                            "leak": False, "problems": problems})
            failed += 1
        cap.stop()
        extras.down()
        world.down()
        left = world.leftovers()
        if left:
            print("world teardown left: %s" % left, flush=True)
            results.append({"vector": "world-teardown", "user": None, "seconds": 0,
                            "leak": False, "problems": ["world teardown left: %s" % left]})
            failed += 1
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
