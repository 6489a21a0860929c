"""The daemon under test (Daemon: one egressd with its own dirs, cgroup root
and bpffs dir), what `egressctl run` left (Result, Background) and the
per-test context (Ctx) that starts daemons and cleans up after them."""
import glob
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

import world as W
from harness import (TIME_SCALE, PY, PROBE, DaemonError, check, short, norm_addr, own_cgroup,
                     RUNNER_CGROUP, PROTECTED, kill_pid, stop_popen, sanitizer_reports)
from harness_spans import otlp_attrs, Span, matches


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
