"""The integration tests' harness, what every test_*.py uses: the registry
(@test), assertions that say what was seen, policies (pol), the runner's
own processes and the probe's command line. A test's daemons and context
are in harness_daemon.py, the journal's spans in harness_spans.py; run.py
runs the tests.
"""
import errno as E
import ipaddress
import json
import os
import signal
import subprocess
import time

import world as W

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

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
