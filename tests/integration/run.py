#!/usr/bin/python3
"""egress-fence integration tests on the real kernel.

    python3 tests/integration/run.py [--build DIR] [-k SUBSTRING]... [--name NAME]...
                                     [--list] [--keep] [-v] [--json FILE]

Needs root, BTF (/sys/kernel/btf/vmlinux), a cgroup2 mount and bpffs; without
them every test FAILS with a message that names what is missing (nothing is
skipped). Builds one test world (world.py) for the run; every test gets fresh
daemons (class Daemon) with their own dirs, cgroup root and bpffs dir, all
removed afterwards. Prints "PASS name" or "FAIL name: reason" per test (a
failure also prints the tail of each daemon's log) and ends with exactly one
line "N passed, N failed"; exits 1 if anything failed. --name selects by
exact name (a name no test has FAILS, so that a renamed test does not drop
out of a named subset such as tests/vm/subset.py's); --json FILE writes one
{"name", "passed", "seconds", "failure", "details"} per test.

Tests live in test_*.py beside this file and register with @test. Python 3
stdlib only.
"""
import sys

# Test modules `import run`; when this file is __main__ they must get this very
# module (one registry), not a second copy.
if __name__ == "__main__":
    sys.modules.setdefault("run", sys.modules["__main__"])

import argparse
import errno as E
import glob
import importlib
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import world as W  # noqa: E402

PY = W.PY
PROBE = W.PROBE
# EF_TEST_TIME_SCALE=N stretches the waits that depend on the machine's speed rather
# than on the fence (egressd's start, each test's own timeout) N times: under qemu's TCG
# (tests/vm/inside.py) egressd needs 15 s or more to load its programs.
TIME_SCALE = max(1.0, float(os.environ.get("EF_TEST_TIME_SCALE") or 1))
EPERM, EACCES = E.EPERM, E.EACCES

# --------------------------------------------------------------------------
# registry
TESTS = []


def test(fn=None, *, timeout=120):
    """Register a test function f(ctx); its name is the function's name
    without the "test_" prefix."""
    def reg(f):
        name = f.__name__[5:] if f.__name__.startswith("test_") else f.__name__
        if any(t[0] == name for t in TESTS):
            raise RuntimeError("duplicate test name " + name)
        TESTS.append((name, f, timeout))
        return f
    return reg(fn) if fn is not None else reg


class TestTimeout(BaseException):
    pass


class DaemonError(AssertionError):
    pass


# --------------------------------------------------------------------------
# assertions with messages that say what was seen

def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def eq(got, want, what):
    if got != want:
        raise AssertionError("%s: got %r, want %r" % (what, got, want))


def short(res):
    keys = ("op", "role", "target", "kind", "ok", "err", "echo", "pid", "sent", "replies")
    return "{" + ", ".join("%s=%r" % (k, res[k]) for k in keys if k in res) + "}"


def allowed(res, echo=True):
    """The probe's connect/sendto went through (and, for TCP/UDP to a server,
    the echo came back)."""
    check(res["ok"], "expected allowed, got %s" % short(res))
    if echo and res["op"] == "connect":
        check(res.get("echo"), "connected but no echo: %s" % short(res))
    if echo and res["op"] == "sendto":
        check(res["replies"] > 0, "sent but no reply: %s" % short(res))


def not_fenced(res):
    """Not refused by the fence (the server may still refuse: no listener)."""
    check(res["ok"] or res["errno"] not in (EPERM, EACCES),
          "expected not refused by the fence, got %s" % short(res))


def denied(res):
    """connect()/sendto() refused by the fence: EPERM."""
    check(not res["ok"] and res["errno"] == EPERM,
          "expected EPERM (denied), got %s" % short(res))


def refused(res):
    """socket() refused by the fence: EPERM (EACCES accepted)."""
    check(not res["ok"] and res["errno"] in (EPERM, EACCES),
          "expected socket() refused with EPERM/EACCES, got %s" % short(res))


def norm_addr(a):
    """Canonical address text; an IPv4-mapped IPv6 address becomes the IPv4."""
    try:
        ip = ipaddress.ip_address(str(a).strip("[]"))
    except ValueError:
        return a
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return str(ip)


def target(host, port, proto="tcp"):
    return "%s:%d/%s" % ("[%s]" % host if ":" in host else host, port, proto)


# --------------------------------------------------------------------------
# spans (OTLP/JSON journal)

def otlp_value(v):
    if not isinstance(v, dict):
        return v
    if "stringValue" in v:
        return v["stringValue"]
    if "intValue" in v:
        return int(v["intValue"])
    if "boolValue" in v:
        return bool(v["boolValue"])
    if "doubleValue" in v:
        return float(v["doubleValue"])
    if "arrayValue" in v:
        return [otlp_value(x) for x in v["arrayValue"].get("values", [])]
    if "kvlistValue" in v:
        return {kv["key"]: otlp_value(kv.get("value")) for kv in v["kvlistValue"].get("values", [])}
    if "bytesValue" in v:
        return v["bytesValue"]
    return None


def otlp_attrs(lst):
    return {kv["key"]: otlp_value(kv.get("value", {})) for kv in (lst or [])}


class Span:
    def __init__(self, raw, resource, scope, origin):
        self.raw = raw
        self.resource = resource
        self.scope = scope
        self.origin = origin
        self.name = raw.get("name")
        self.trace_id = raw.get("traceId", "")
        self.span_id = raw.get("spanId", "")
        self.parent_id = raw.get("parentSpanId", "") or ""
        self.kind = raw.get("kind")
        self.start = int(raw.get("startTimeUnixNano", 0) or 0)
        self.end = int(raw.get("endTimeUnixNano", 0) or 0)
        st = raw.get("status") or {}
        self.status_code = st.get("code", 0)
        self.status_message = st.get("message", "")
        self.attrs = otlp_attrs(raw.get("attributes"))

    def get(self, k, default=None):
        return self.attrs.get(k, default)

    def __getitem__(self, k):
        return self.attrs[k]

    def __repr__(self):
        keys = ("egress.job.id", "egress.decision", "egress.reason", "network.transport",
                "network.peer.address", "network.peer.port", "process.pid")
        return "<%s %s>" % (self.name, " ".join("%s=%r" % (k, self.attrs[k])
                                                 for k in keys if k in self.attrs))

    def describe(self):
        return "%s status=%s/%r trace=%s span=%s parent=%s attrs=%s" % (
            self.name, self.status_code, self.status_message, self.trace_id, self.span_id,
            self.parent_id, json.dumps(self.attrs, sort_keys=True))


def matches(span, name=None, where=None):
    if name is not None and span.name != name:
        return False
    for k, v in (where or {}).items():
        got = span.attrs.get(k)
        if k.endswith(".address") and got is not None:
            if norm_addr(got) != norm_addr(v):
                return False
        elif got != v:
            return False
    return True


def expect(span, **want):
    """expect(span, decision="deny", reason="no_rule") or with full keys via
    expect(span, **{"egress.rule": "..."}): short names get the egress. prefix."""
    for k, v in want.items():
        key = k if "." in k else "egress." + k
        got = span.attrs.get(key)
        if key.endswith(".address") and got is not None:
            ok = norm_addr(got) == norm_addr(v)
        else:
            ok = got == v
        check(ok, "%s: %s = %r, want %r\n  span: %s" % (span.name, key, got, v, span.describe()))


def is_hex(s, n):
    return isinstance(s, str) and len(s) == n and re.fullmatch("[0-9a-f]+", s) and s != "0" * n


# --------------------------------------------------------------------------
# processes

def own_cgroup(pid="self"):
    try:
        with open("/proc/%s/cgroup" % pid) as f:
            for line in f:
                if line.startswith("0::"):
                    return line[3:].strip()
    except OSError:
        pass
    return None


def ancestors():
    """This process and its ancestors: never to be killed by a cleanup."""
    out, pid = set(), os.getpid()
    while pid > 1 and pid not in out:
        out.add(pid)
        try:
            with open("/proc/%d/stat" % pid) as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return out


RUNNER_CGROUP = own_cgroup()
PROTECTED = ancestors()


def kill_pid(pid, sig=signal.SIGKILL):
    if pid in PROTECTED:
        return False
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


def stop_popen(p, term_wait=5.0):
    """SIGTERM, then SIGKILL; by pid only. Returns the exit status."""
    if p.poll() is None:
        try:
            p.terminate()
            p.wait(term_wait)
        except subprocess.TimeoutExpired:
            p.kill()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass
    return p.poll()


def wait_until(pred, timeout=10.0, interval=0.1, what="condition"):
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.time() >= deadline:
            raise AssertionError("timed out after %gs waiting for %s" % (timeout, what))
        time.sleep(interval)


def read_jsonl(path):
    out = []
    try:
        with open(path) as f:
            for line in f:
                if line.endswith("\n") and line.strip():
                    out.append(json.loads(line))
    except FileNotFoundError:
        pass
    return out


class Result:
    """A finished `egressctl run`."""

    def __init__(self, proc, job, argv):
        self.rc = proc.returncode
        self.out = proc.stdout or ""
        self.err = proc.stderr or ""
        self.job = job
        self.argv = argv
        self._lines = None

    @property
    def lines(self):
        if self._lines is None:
            self._lines = W.parse_lines(self.out, self)
        return self._lines

    @property
    def returncode(self):
        return self.rc

    @property
    def stderr(self):
        return self.err

    def get(self, tgt, role=None):
        """The probe result for a target ('198.18.1.1:443' or with /udp)."""
        want = tgt if "/" in tgt.rsplit("]", 1)[-1] else tgt + "/tcp"
        for r in self.lines:
            if r.get("target") == want and (role is None or r.get("role") == role):
                return r
        raise AssertionError("no probe result for %s%s in %s" % (
            want, "" if role is None else " role " + role, [short(x) for x in self.lines]))

    def describe(self):
        return "rc=%s stdout=%r stderr=%r" % (self.rc, self.out[-600:], self.err[-600:])


class Background:
    """An `egressctl run` left running (stdout/stderr to files)."""

    def __init__(self, proc, job, out, err):
        self.proc, self.job, self.out_path, self.err_path = proc, job, out, err

    def wait(self, timeout=30):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("job %s still running after %ss" % (self.job, timeout))

    def output(self):
        with open(self.out_path) as f1, open(self.err_path) as f2:
            return f1.read(), f2.read()


# --------------------------------------------------------------------------
# the daemon under test

class Daemon:
    """One egressd with its own dirs, in the fence ns. start() waits until
    the control socket answers `egressctl status --json`; cleanup() leaves
    nothing behind (processes killed by pid, --reset, pins, cgroups, dirs)."""

    def __init__(self, ctx, label="d"):
        self.ctx = ctx
        self.world = ctx.world
        self.label = label
        tag = secrets.token_hex(4)
        self.tag = tag
        self.tmp = tempfile.mkdtemp(prefix="ef-test-%s-" % label)
        self.policy_dir = os.path.join(self.tmp, "policies")
        self.state_dir = os.path.join(self.tmp, "state")
        self.run_dir = os.path.join(self.tmp, "run")
        for d in (self.policy_dir, self.state_dir, self.run_dir):
            os.mkdir(d)
        self.cgroup_root = os.path.join(ctx.cgroup2, "ef-test-" + tag)
        self.bpffs_dir = os.path.join("/sys/fs/bpf", "ef-test-" + tag)
        self.sock = os.path.join(self.run_dir, "control.sock")
        self.log_path = os.path.join(self.tmp, "egressd.log")
        self.egressd = os.path.join(ctx.build, "egressd")
        self.egressctl = os.path.join(ctx.build, "egressctl")
        self.config = None
        self.proc = None
        self.env = {}
        self.starts = 0
        self.pids = []  # every egressd started, for the ledger
        self.reset_argv = [self.egressd, "--reset", "--force"] + self.dir_args()
        led = W.ledger()
        led.add("tmp", self.tmp)
        led.add("bpffs", self.bpffs_dir)
        led.add("cgroup", self.cgroup_root)
        led.add("reset", self.reset_argv)

    # -- setup ------------------------------------------------------------
    def policy(self, name, allow=(), deny=(), mode="enforce", **extra):
        """Write <policy-dir>/NAME.json; returns NAME."""
        doc = {"name": name, "mode": mode, "allow": list(allow), "deny": list(deny)}
        doc.update(extra)
        self.write_policy(name, doc)
        return name

    def set_config(self, doc):
        """Write doc (a dict, dumped as JSON) as this daemon's config file
        (<tmp>/egressd.json) and pass it with --config from the next start()
        on. Returns the path."""
        path = os.path.join(self.tmp, "egressd.json")
        with open(path, "w") as f:
            f.write(json.dumps(doc, indent=2) + "\n")
        self.config = path
        return path

    def write_policy(self, name, doc):
        """doc: a dict (dumped as JSON) or raw text. Returns the path."""
        path = os.path.join(self.policy_dir, name + ".json")
        with open(path, "w") as f:
            f.write(doc if isinstance(doc, str) else json.dumps(doc, indent=2) + "\n")
        return path

    def dir_args(self):
        a = ["--policy-dir", self.policy_dir, "--state-dir", self.state_dir,
             "--run-dir", self.run_dir, "--cgroup-root", self.cgroup_root,
             "--bpffs-dir", self.bpffs_dir]
        if self.config:
            a += ["--config", self.config]
        return a

    def _env(self, extra=None):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("OTEL_", "EGRESSCTL_")) and k != "TRACEPARENT"}
        env.update(self.env)
        env.update(extra or {})
        return env

    # -- lifecycle --------------------------------------------------------
    def start(self, extra=(), env=None, timeout=20):
        check(os.access(self.egressd, os.X_OK), "%s is missing or not executable" % self.egressd)
        if self.proc is not None and self.proc.poll() is None:
            raise AssertionError("daemon %s already running" % self.label)
        if env:
            self.env.update(env)
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(b"==== egressd start #%d at %.3f ====\n" % (self.starts, time.time()))
            log.flush()
            self.proc = subprocess.Popen(
                self.world.fence_argv([self.egressd] + self.dir_args() + list(extra)),
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=self._env())
        W.ledger().add("pid", self.proc.pid)
        self.pids.append(self.proc.pid)
        self.ctx.log("started egressd[%s] pid %d" % (self.label, self.proc.pid))
        self.wait_ready(timeout)
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout=20):
        timeout = timeout * TIME_SCALE
        deadline = time.time() + timeout
        last = "control socket %s not there" % self.sock
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise DaemonError("egressd exited with status %s before it was ready: %s" % (
                    self.proc.returncode, self.log_tail(5).strip().replace("\n", " | ")))
            if os.path.exists(self.sock):
                try:
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    s.settimeout(1)
                    s.connect(self.sock)
                    s.close()
                    r = self.ctl("status", "--json", timeout=5)
                    if r.returncode == 0:
                        return
                    last = "`egressctl status --json` exited %d: %s" % (
                        r.returncode, (r.stderr or r.stdout).strip()[:300])
                except OSError as e:
                    last = "connect(%s): %s" % (self.sock, e)
                except subprocess.TimeoutExpired:
                    last = "`egressctl status --json` timed out"
            time.sleep(0.1)
        raise DaemonError("egressd not ready after %ss: %s" % (timeout, last))

    def signal(self, sig):
        check(self.alive(), "egressd[%s] is not running" % self.label)
        os.kill(self.proc.pid, sig)

    def stop(self, timeout=10):
        """SIGTERM, wait, then SIGKILL. Returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.ctx.note("egressd[%s] ignored SIGTERM for %ss; SIGKILL" % (self.label, timeout))
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    def kill9(self):
        check(self.alive(), "egressd[%s] is not running" % self.label)
        self.proc.kill()
        self.proc.wait(5)

    def reset(self, force=False, timeout=30):
        argv = [self.egressd, "--reset"] + (["--force"] if force else []) + self.dir_args()
        return subprocess.run(self.world.fence_argv(argv), capture_output=True, text=True,
                              timeout=timeout, env=self._env(), stdin=subprocess.DEVNULL)

    # -- egressctl ----------------------------------------------------------
    def ctl(self, *args, timeout=20, env=None, sock=True, input=None):
        argv = [self.egressctl] + (["--socket", self.sock] if sock else []) + list(args)
        return subprocess.run(self.world.fence_argv(argv), capture_output=True, text=True,
                              timeout=timeout, env=self._env(env), input=input,
                              stdin=None if input is not None else subprocess.DEVNULL)

    def ctl_json(self, *args, timeout=20):
        r = self.ctl(*(list(args) + ["--json"]), timeout=timeout)
        check(r.returncode == 0, "`egressctl %s --json` exited %d: %s" % (
            " ".join(args), r.returncode, (r.stderr or r.stdout).strip()[:500]))
        try:
            return json.loads(r.stdout)
        except ValueError:
            raise AssertionError("`egressctl %s --json` printed non-JSON: %r" % (
                " ".join(args), r.stdout[:500]))

    def status(self):
        return self.ctl_json("status")

    def jobs(self):
        doc = self.ctl_json("jobs")
        check(isinstance(doc, dict) and isinstance(doc.get("jobs"), list),
              "`egressctl jobs --json`: want {\"jobs\": [...]}, got %r" % (doc,))
        return doc["jobs"]

    def job(self, job_id):
        for j in self.jobs():
            if str(j.get("id")) == job_id:
                return j
        return None

    def run_argv(self, policy, argv, job_id=None, attrs=None, extra=(), sock=True):
        a = [self.egressctl] + (["--socket", self.sock] if sock else []) + ["run"]
        if policy is not None:
            a += ["--policy", policy]
        if job_id is not None:
            a += ["--job-id", job_id]
        for k, v in (attrs or {}).items():
            a += ["--attr", "%s=%s" % (k, v)]
        return a + list(extra) + ["--"] + list(argv)

    def run(self, policy, argv, job_id=None, attrs=None, extra=(), timeout=60, env=None,
            sock=True, cwd=None):
        """`egressctl run` in the fence ns (in `cwd`); returns a Result."""
        job = job_id if job_id is not None else self.ctx.job_id()
        a = self.run_argv(policy, argv, job, attrs, extra, sock)
        self.ctx.log("run: " + " ".join(a))
        try:
            p = subprocess.run(self.world.fence_argv(a), capture_output=True, text=True,
                               timeout=timeout, env=self._env(env), stdin=subprocess.DEVNULL,
                               cwd=cwd)
        except subprocess.TimeoutExpired as e:
            raise AssertionError("`egressctl run` (job %s) did not finish in %ss; stdout %r" % (
                job, timeout, (e.stdout or b"")[-300:]))
        return Result(p, job, a)

    def probe(self, policy, *args, job_id=None, attrs=None, extra=(), timeout=60, env=None,
              rc=0):
        """Run probe.py in a job; asserts the exit status (rc=None: any)."""
        r = self.run(policy, [PY, PROBE] + [str(x) for x in args], job_id, attrs, extra,
                     timeout, env)
        if rc is not None:
            check(r.rc == rc, "`egressctl run ... probe.py %s` exited %d (want %d); stderr: %s" % (
                " ".join(map(str, args)), r.rc, rc, r.err.strip()[-800:]))
        return r

    def spawn(self, policy, argv, job_id=None, attrs=None, extra=(), env=None):
        """`egressctl run` left running in the background."""
        job = job_id if job_id is not None else self.ctx.job_id()
        a = self.run_argv(policy, argv, job, attrs, extra)
        out = self.ctx.path("bg-%s.out" % job)
        err = self.ctx.path("bg-%s.err" % job)
        with open(out, "wb") as fo, open(err, "wb") as fe:
            p = subprocess.Popen(self.world.fence_argv(a), stdin=subprocess.DEVNULL, stdout=fo,
                                 stderr=fe, env=self._env(env))
        self.ctx.procs.append(p)
        W.ledger().add("pid", p.pid)
        return Background(p, job, out, err)

    # -- journal ------------------------------------------------------------
    def journal_files(self):
        return sorted(glob.glob(os.path.join(self.state_dir, "journal", "*.jsonl*")))

    def spans(self):
        out = []
        for path in self.journal_files():
            try:
                f = open(path, errors="replace")
            except FileNotFoundError:
                continue
            with f:
                for n, line in enumerate(f, 1):
                    if not line.endswith("\n"):
                        break  # being written
                    if not line.strip():
                        continue
                    try:
                        req = json.loads(line)
                    except ValueError as e:
                        raise AssertionError("journal %s:%d is not JSON (%s): %r" % (
                            path, n, e, line[:200]))
                    for rs in req.get("resourceSpans", []):
                        res = otlp_attrs((rs.get("resource") or {}).get("attributes"))
                        for ss in rs.get("scopeSpans", []):
                            for sp in ss.get("spans", []):
                                out.append(Span(sp, res, ss.get("scope") or {},
                                                "%s:%d" % (os.path.basename(path), n)))
        return out

    def find(self, name=None, job=None, where=None, **kw):
        """Spans by name, job id and attributes. Attributes go in `where`
        ({"process.parent_pid": 1}) or as keywords with '_' for '.'
        (network_peer_port=443)."""
        w = dict(where or {})
        w.update({k.replace("_", "."): v for k, v in kw.items()})
        if job is not None:
            w["egress.job.id"] = job
        return [s for s in self.spans() if matches(s, name, w)]

    def wait_spans(self, name=None, job=None, n=1, timeout=10, where=None, **kw):
        """Wait until at least n spans match; returns them."""
        deadline = time.time() + timeout
        while True:
            got = self.find(name, job, where, **kw)
            if len(got) >= n or time.time() >= deadline:
                break
            time.sleep(0.1)
        if len(got) < n:
            same_job = [s for s in self.spans() if job is None or s.get("egress.job.id") == job]
            raise AssertionError(
                "after %ss: %d span(s) %s job=%s %s, want %d; spans of that job: %s" % (
                    timeout, len(got), name, job, dict(where or {}, **kw), n,
                    [repr(s) for s in same_job][:12] or "none (journal files: %s)" %
                    (self.journal_files() or "none")))
        return got

    def decision(self, job, host, port, transport="tcp", name=None, timeout=10):
        """The one decision span of a job for a destination."""
        name = name or "egress.connect"
        got = self.wait_spans(name, job, timeout=timeout,
                              where={"network.peer.port": port, "network.transport": transport,
                                     "network.peer.address": host})
        return got[0]

    def job_span(self, job, timeout=10):
        got = self.wait_spans("egress.job", job, timeout=timeout)
        check(len(got) == 1, "job %s has %d egress.job spans, want 1: %s" % (job, len(got), got))
        return got[0]

    # -- logs and cleanup ---------------------------------------------------
    def log_tail(self, n=30):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def cgroup_procs(self):
        """pids in the cgroup root's subtree."""
        pids = []
        for d, _dirs, files in os.walk(self.cgroup_root):
            if "cgroup.procs" in files:
                try:
                    with open(os.path.join(d, "cgroup.procs")) as f:
                        pids += [int(x) for x in f.read().split()]
                except OSError:
                    pass
        return pids

    def rescue_runner(self):
        """If the daemon put the test runner (or an ancestor) in one of its
        cgroups, move it back; returns a problem string or None."""
        caught = [p for p in self.cgroup_procs() if p in PROTECTED]
        for pid in caught:
            try:
                with open(os.path.join(self.ctx.cgroup2 + RUNNER_CGROUP.rstrip("/"),
                                       "cgroup.procs"), "w") as f:
                    f.write("%d\n" % pid)
            except (OSError, TypeError):
                pass
        if caught:
            return "the test runner (pid %s) was in a cgroup of egressd[%s]" % (caught, self.label)
        return None

    def cleanup(self):
        """Leave nothing behind; returns a list of problems found."""
        problems = []
        self.stop()
        for pid in self.pids:
            W.ledger().drop("pid", pid)
        p = self.rescue_runner()
        if p:
            problems.append(p)
        # jobs' processes: everything in our cgroup root's subtree, by pid
        for _ in range(50):
            pids = [x for x in self.cgroup_procs() if x not in PROTECTED]
            if not pids:
                break
            for pid in pids:
                kill_pid(pid)
            time.sleep(0.1)
        if os.path.exists(self.egressd) and (os.path.exists(self.bpffs_dir) or
                                              os.path.exists(self.cgroup_root)):
            try:
                r = self.reset(force=True)
                if r.returncode != 0:
                    self.ctx.note("egressd --reset --force exited %d: %s" % (
                        r.returncode, (r.stderr or r.stdout).strip()[-300:]))
            except subprocess.TimeoutExpired:
                self.ctx.note("egressd --reset --force timed out")
        if os.path.exists(self.bpffs_dir):
            shutil.rmtree(self.bpffs_dir, ignore_errors=True)
            if os.path.exists(self.bpffs_dir):
                problems.append("could not remove " + self.bpffs_dir)
        if os.path.exists(self.cgroup_root):
            p = self.rescue_runner()  # cgroup.kill below must not hit us
            if p and p not in problems:
                problems.append(p)
            if not W.remove_cgroup_tree(self.cgroup_root):
                problems.append("could not remove cgroup " + self.cgroup_root)
        led = W.ledger()
        if not os.path.exists(self.bpffs_dir):
            led.drop("bpffs", self.bpffs_dir)
        if not os.path.exists(self.cgroup_root):
            led.drop("cgroup", self.cgroup_root)
            led.drop("reset", self.reset_argv)
        if not self.ctx.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)
        led.drop("tmp", self.tmp)  # --keep: kept on purpose, not for a later sweep
        return problems


# --------------------------------------------------------------------------
# per-test context

class Ctx:
    def __init__(self, name, build, world, cgroup2, keep=False, verbose=False):
        self.name = name
        self.build = build
        self.world = world
        self.cgroup2 = cgroup2
        self.keep = keep
        self.verbose = verbose
        self.daemons = []
        self.procs = []
        self.notes = []
        self.tmp = tempfile.mkdtemp(prefix="ef-case-")
        W.ledger().add("tmp", self.tmp)
        self.t0 = time.time()
        self._jobs = 0

    def log(self, msg):
        if self.verbose:
            print("    . " + msg, flush=True)

    def note(self, msg):
        self.notes.append(msg)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def job_id(self):
        self._jobs += 1
        return "%s-%d-%s" % (re.sub("[^a-z0-9]+", "-", self.name.lower())[:40], self._jobs,
                             secrets.token_hex(2))

    def daemon(self, policies=None, start=True, label=None, env=None, extra=(), config=None):
        """A fresh Daemon; policies: {name: dict(allow=..., deny=..., ...)};
        config: a dict for Daemon.set_config (the egressd.json)."""
        d = Daemon(self, label or "d%d" % (len(self.daemons) + 1))
        self.daemons.append(d)
        for name, p in (policies or {}).items():
            d.policy(name, **p)
        if config is not None:
            d.set_config(config)
        if start:
            d.start(extra=extra, env=env)
        return d

    def reached(self, host, port, proto="tcp"):
        """Did the hosts' servers see this destination since the test began?"""
        return any(e["t"] >= self.t0 - 0.5 and e["proto"] == proto and e["lport"] == port
                   and norm_addr(e["local"]) == norm_addr(host) for e in self.world.host_log())

    def close(self):
        problems = []
        for p in self.procs:
            stop_popen(p, 2)
            W.ledger().drop("pid", p.pid)
        for d in self.daemons:
            try:
                problems += d.cleanup()
            except Exception as e:  # keep cleaning the others
                problems.append("cleanup of daemon %s: %r" % (d.label, e))
            problems += sanitizer_reports(d.log_path)
        if not self.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)
        W.ledger().drop("tmp", self.tmp)
        now = own_cgroup()
        if now != RUNNER_CGROUP:
            try:
                with open(self.cgroup2 + RUNNER_CGROUP.rstrip("/") + "/cgroup.procs", "w") as f:
                    f.write("%d\n" % os.getpid())
            except (OSError, TypeError):
                pass
            problems.append("the test runner was moved from cgroup %s to %s" % (
                RUNNER_CGROUP, now))
        return problems


def pol(allow=(), deny=(), mode="enforce", **extra):
    d = dict(allow=list(allow), deny=list(deny), mode=mode)
    d.update(extra)
    return d


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "ERROR: UndefinedBehaviorSanitizer")


def sanitizer_reports(log_path):
    """In a SAN=1 build egressd reports memory errors, leaks (at exit) and
    undefined behaviour to stderr, i.e. to its log: any of them fails the test."""
    try:
        with open(log_path, errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    for i, line in enumerate(lines):
        if any(m in line for m in SANITIZER_MARKS):
            return ["sanitizer report in %s: %s" % (log_path, " | ".join(lines[i:i + 8])[:1500])]
    return []


def probe_argv(*args):
    return [PY, PROBE] + [str(a) for a in args]


# --------------------------------------------------------------------------
# pre-checks

def prechecks(build):
    problems = []
    if os.geteuid() != 0:
        problems.append("not running as root (euid %d): BPF, cgroups and netns need root" %
                        os.geteuid())
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        problems.append("/sys/kernel/btf/vmlinux is missing: the kernel has no BTF "
                        "(CONFIG_DEBUG_INFO_BTF), CO-RE programs cannot load")
    if not W.cgroup2_mount():
        problems.append("no cgroup2 mount in /proc/self/mounts (mount -t cgroup2 none "
                        "/sys/fs/cgroup/unified, or boot with a unified hierarchy)")
    if os.geteuid() == 0:
        err = W.ensure_bpffs()
        if err:
            problems.append(err)
    elif not W.bpffs_mounted():
        problems.append("bpffs is not mounted at /sys/fs/bpf (and not root to mount it)")
    for name in ("egressd", "egressctl"):
        p = os.path.join(build, name)
        if not os.access(p, os.X_OK):
            problems.append("%s is missing or not executable: run `make` (BUILD=%s)" % (p, build))
    for t in ("ip", "nsenter", "mount"):
        if not W.tool(t):
            problems.append("`%s` not found: install iproute2 / util-linux" % t)
    if not os.access(PY, os.X_OK):
        problems.append("%s not found: the probe runs under Debian's python3" % PY)
    return problems


# --------------------------------------------------------------------------
# main

def load_tests():
    for path in sorted(glob.glob(os.path.join(HERE, "test_*.py"))):
        importlib.import_module(os.path.basename(path)[:-3])


def where_failed(tb):
    frames = traceback.extract_tb(tb)
    for fr in reversed(frames):
        if os.path.basename(fr.filename).startswith("test_"):
            return "%s:%d" % (os.path.basename(fr.filename), fr.lineno)
    return "%s:%d" % (os.path.basename(frames[-1].filename), frames[-1].lineno) if frames else "?"


def run_one(name, fn, timeout, args, world, cg2):
    ctx = Ctx(name, args.build, world, cg2, keep=args.keep, verbose=args.verbose)
    failure = None
    details = []

    def on_alarm(_sig, _frame):
        raise TestTimeout()

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(timeout * TIME_SCALE))
    try:
        try:
            fn(ctx)
        finally:
            signal.alarm(0)
    except TestTimeout:
        failure = "timed out after %ds" % int(timeout * TIME_SCALE)
        details.append("at " + where_failed(sys.exc_info()[2]))
    except AssertionError as e:
        msg = str(e) or repr(e)
        failure = msg.splitlines()[0][:600] if msg else "assertion failed"
        details += ["at " + where_failed(e.__traceback__)] + msg.splitlines()[1:20]
    except subprocess.TimeoutExpired as e:
        failure = "command timed out after %ss: %s" % (e.timeout, " ".join(map(str, e.cmd))[:300])
        details.append("at " + where_failed(e.__traceback__))
    except Exception as e:
        failure = "%s: %s" % (type(e).__name__, str(e).splitlines()[0][:500] if str(e) else "")
        details += traceback.format_exc().rstrip().splitlines()[-12:]
    finally:
        signal.signal(signal.SIGALRM, old)
        if failure:  # logs before cleanup removes them
            for d in ctx.daemons:
                tail = d.log_tail(25)
                details.append("egressd[%s] log %s (last lines):" % (d.label, d.log_path))
                details += ["| " + line for line in tail.splitlines()] or ["| (empty)"]
        problems = ctx.close()
    if problems and not failure:
        failure = "cleanup: " + "; ".join(problems)
    elif problems:
        details.append("cleanup: " + "; ".join(problems))
    return failure, details + ["note: " + n for n in ctx.notes]


def main(argv=None):
    ap = argparse.ArgumentParser(description="egress-fence integration tests (real kernel)")
    ap.add_argument("--build", default="build/normal", help="dir with egressd and egressctl")
    ap.add_argument("-k", action="append", default=[], metavar="SUBSTRING",
                    help="run only tests whose name contains SUBSTRING (repeatable: any)")
    ap.add_argument("--name", action="append", default=[], metavar="NAME",
                    help="run the test of this exact name (repeatable; with -k: either)")
    ap.add_argument("--list", action="store_true", help="list test names and exit")
    ap.add_argument("--keep", action="store_true", help="keep temp dirs (logs, journals)")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--json", metavar="FILE", help="write the results here")
    args = ap.parse_args(argv)
    b = args.build
    if not os.path.isabs(b) and not os.path.isdir(b) and os.path.isdir(os.path.join(REPO, b)):
        b = os.path.join(REPO, b)
    args.build = os.path.abspath(b)

    load_tests()
    known = {t[0] for t in TESTS}
    unknown = [n for n in args.name if n not in known]
    selected = [t for t in TESTS if (not args.k and not args.name) or t[0] in args.name
                or any(k in t[0] for k in args.k)]
    if args.list:
        for name, _fn, _t in selected:
            print(name)
        return 0
    results = []

    def result(name, failure, seconds=0.0, details=()):
        results.append({"name": name, "passed": failure is None, "seconds": round(seconds, 1),
                        "failure": failure, "details": list(details) if failure else []})

    def finish(passed, failed):
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)
        print("%d passed, %d failed" % (passed, failed), flush=True)
        return 1 if failed else 0

    for n in unknown:
        print("FAIL %s: no test of this name (renamed or removed?)" % n, flush=True)
        result(n, "no test of this name (renamed or removed?)")
    if not selected:
        if not unknown:
            print("no test matches %s" % args.k)
            print("0 passed, 0 failed")
            return 1
        return finish(0, len(unknown))

    passed, failed = 0, len(unknown)
    problems = prechecks(args.build)
    world = None
    if not problems:
        try:
            world = W.World(log=lambda m: print("world: " + m, flush=True)).up()
        except (W.WorldError, OSError, subprocess.SubprocessError) as e:
            problems.append("cannot build the test world: %s" % e)
    if problems:
        for p in problems:
            print("precheck: " + p, flush=True)
        for name, _fn, _t in selected:
            print("FAIL %s: not run: precheck failed: %s" % (name, problems[0]), flush=True)
            result(name, "not run: precheck failed: %s" % problems[0])
        return finish(0, failed + len(selected))

    cg2 = W.cgroup2_mount()
    try:
        for name, fn, timeout in selected:
            t0 = time.time()
            failure, details = run_one(name, fn, timeout, args, world, cg2)
            result(name, failure, time.time() - t0, details)
            if failure:
                failed += 1
                print("FAIL %s: %s" % (name, failure), flush=True)
                for line in details:
                    print("    " + line, flush=True)
            else:
                passed += 1
                print("PASS %s" % name, flush=True)
                ctx_time = "took %.1fs" % (time.time() - t0)
                if args.verbose:
                    print("    " + ctx_time, flush=True)
                for line in details:
                    print("    " + line, flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        failed += 1
    finally:
        world.down()
        left = world.leftovers()
        if left:
            print("world teardown left: %s" % left, flush=True)
    return finish(passed, failed)


if __name__ == "__main__":
    sys.exit(main())
