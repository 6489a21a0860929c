#!/usr/bin/python3
"""`make vmtest`: the named subset of the suite (tests/vm/subset.py) on
Debian 12's stock kernel under qemu, in one VM boot.

    tests/vm/suite.py [--build DIR] [--timeout S] [--kernel PATH] [--out DIR]

Checks first, on the host, that every name in subset.py is one the suites
have (tests/integration/run.py --list, tests/security/run.py --list): a name
they do not know is a FAIL, never a silent skip. Then boots one VM with
tests/vm/run.py, which runs tests/vm/inside.py there: smoke.sh, the
integration subset, the security subset. The guest's output is shown as it
comes, each line after "  vm| ".

The results come back as $VMTEST_OUT/results.json (inside.py); when the
guest dies, hangs or runs out of --timeout there is no such file, and the
PASS/FAIL lines the guest printed before are the results. Every test of the
subset that did not report is a FAIL naming why (the runner's reason: a
panic, the timeout, ...). Prints one line per test, "PASS NAME (S s)" or
"FAIL NAME (S s): why", then the time per group and part, and ends with
exactly one line "N passed, N failed" (smoke counts as one test). Exits 1
if anything failed.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import subset  # noqa: E402

PY = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
# 30 min: the subset takes about 19 on a quiet machine, more beside other work
# (tests/vm/README.md); with the host halves (about 40) well inside CI's 90
DEFAULT_TIMEOUT = 1800
RESULT = re.compile(r"^(PASS|FAIL) (\S+?)(?:: (.*))?$")
PART = re.compile(r"^== vmtest part (\w+)$")


def expected():
    """[(part, group, name)] in the order the guest runs them."""
    out = [("smoke", "smoke", "smoke")]
    for part, groups in (("integration", subset.INTEGRATION), ("security", subset.SECURITY)):
        out += [(part, g, n) for g, ns in groups for n in ns]
    return out


def known_names():
    """{part: set of names the suite has}, from the runners' --list on the host."""
    out = {}
    for part, script in (("integration", "tests/integration/run.py"),
                         ("security", "tests/security/run.py")):
        r = subprocess.run([PY, script, "--list"], cwd=REPO, capture_output=True, text=True,
                           timeout=120)
        if r.returncode != 0:
            raise RuntimeError("%s --list exited %d: %s" % (script, r.returncode,
                                                            r.stderr.strip()[-500:]))
        out[part] = {line.split()[0] for line in r.stdout.splitlines()
                     if line.strip() and "BROKEN:" not in line}
    return out


class Stream(threading.Thread):
    """Shows a pipe's lines as "  vm| LINE" and keeps the PASS/FAIL lines,
    timed on the host from the previous result (or the part's start)."""

    def __init__(self, pipe, sink):
        super().__init__(daemon=True)
        self.pipe, self.sink = pipe, sink
        self.lines = []

    def run(self):
        for raw in self.pipe:
            line = raw.decode(errors="replace").rstrip("\r\n")
            self.lines.append(line)
            self.sink(line)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build/normal")
    ap.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                    help="seconds for the whole VM run (default %d)" % DEFAULT_TIMEOUT)
    ap.add_argument("--kernel", help="passed to run.py")
    ap.add_argument("--out", help="keep the guest's results (results.json, parts.json) here")
    a = ap.parse_args()
    t_start = time.monotonic()

    want = expected()
    results = {}  # (part, name) -> result
    order = []

    def add(part, name, passed, seconds, failure):
        if (part, name) not in results:
            order.append((part, name))
        results[(part, name)] = {"part": part, "name": name, "passed": passed,
                                 "seconds": seconds, "failure": failure}

    for n in subset.duplicates():
        add("subset", n, False, 0, "listed twice in tests/vm/subset.py")
    try:
        known = known_names()
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        known = None
        add("subset", "subset-check", False, 0, "cannot list the suites' names: %s" % e)
    if known is not None:
        for part, _g, n in want:
            if part in known and n not in known[part]:
                add(part, n, False, 0, "`tests/%s/run.py --list` has no %s of this name "
                    "(renamed, removed%s? tests/vm/subset.py names it)" % (
                        part, "test" if part == "integration" else "run",
                        "" if part == "integration" else ", or its vector does not load"))

    # what the guest says as it goes
    state = {"part": None, "t": time.monotonic()}
    lock = threading.Lock()

    def on_stdout(line):
        with lock:
            print("  vm| " + line, flush=True)
            m = PART.match(line)
            if m:
                state["part"], state["t"] = m.group(1), time.monotonic()
                return
            m = RESULT.match(line)
            if m and state["part"]:
                now = time.monotonic()
                key = (state["part"], m.group(2))
                if key not in results:  # a host-side FAIL (an unknown name) stays as it was
                    add(state["part"], m.group(2), m.group(1) == "PASS",
                        round(now - state["t"], 1), m.group(3))
                state["t"] = now

    def on_stderr(line):
        with lock:
            print("  vm| " + line, flush=True)

    outdir = tempfile.mkdtemp(prefix="egress-fence-vmsuite-")
    argv = [PY, os.path.join(HERE, "run.py"), "--timeout", str(a.timeout), "--out", outdir]
    if a.kernel:
        argv += ["--kernel", a.kernel]
    argv += ["--", PY, "tests/vm/inside.py", "--build", a.build]
    print("vmtest: %s" % " ".join(argv), flush=True)
    p = subprocess.Popen(argv, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    so, se = Stream(p.stdout, on_stdout), Stream(p.stderr, on_stderr)
    so.start()
    se.start()
    rc = p.wait()
    so.join()
    se.join()

    # run.py's own lines: why the guest failed, and the boot time
    vm_failure = next((ln[len("vmtest: FAILED: "):] for ln in se.lines
                       if ln.startswith("vmtest: FAILED: ")), None)
    if vm_failure is None and rc == 125 and not os.path.exists(outdir + "/results.json"):
        vm_failure = "tests/vm/run.py exited 125: %s" % (se.lines[-1] if se.lines else "?")
    timing = next((ln for ln in se.lines if ln.startswith("vmtest: status ")), None)

    # the guest's own results win over what the stream showed: they have the
    # runners' times and whole failure messages
    parts = []
    if os.path.exists(outdir + "/results.json"):
        with open(outdir + "/results.json") as f:
            for r in json.load(f):
                add(r["part"], r["name"], r["passed"], r["seconds"], r["failure"])
        if os.path.exists(outdir + "/parts.json"):
            with open(outdir + "/parts.json") as f:
                parts = json.load(f)
    for part, _g, n in want:
        if (part, n) not in results:
            add(part, n, False, 0, "did not report: %s" % (
                vm_failure or "the guest's runner ended (status %d) without its result" % rc))
    if a.out:
        os.makedirs(a.out, exist_ok=True)
        for n in os.listdir(outdir):
            shutil.copy(os.path.join(outdir, n), os.path.join(a.out, n))
    shutil.rmtree(outdir, ignore_errors=True)

    if (vm_failure or rc != 0) and all(r["passed"] for r in results.values()):
        # e.g. the guest died after the last result: still a failure
        add("vm", "vm", False, 0, vm_failure or "tests/vm/run.py exited with status %d" % rc)
    report(want, results, order, parts, vm_failure, timing, time.monotonic() - t_start)
    failed = sum(1 for r in results.values() if not r["passed"])
    print("%d passed, %d failed" % (len(results) - failed, failed), flush=True)
    return 1 if failed or rc != 0 else 0


def report(want, results, order, parts, vm_failure, timing, total):
    group = {(p, n): g for p, g, n in want}
    print("== vmtest results (kernel under qemu; times in the guest)", flush=True)
    for key in order:
        r = results[key]
        line = "%s %s (%.1f s)" % ("PASS" if r["passed"] else "FAIL", r["name"], r["seconds"])
        if not r["passed"]:
            line += ": " + (r["failure"] or "failed")[:1000]
        print(line, flush=True)
    print("== vmtest time per group", flush=True)
    seen = []
    for p, g, _n in want:
        if (p, g) not in seen:
            seen.append((p, g))
    for p, g in seen:
        rs = [r for k, r in results.items() if group.get(k) == g and k[0] == p]
        print("   %-12s %-24s %3d tests, %3d failed, %6.1f s" % (
            p, g, len(rs), sum(1 for r in rs if not r["passed"]),
            sum(r["seconds"] for r in rs)), flush=True)
    for pt in parts:
        tests = sum(r["seconds"] for k, r in results.items() if k[0] == pt["part"])
        print("   part %-12s %6.1f s (%.1f s of it outside the tests: world set-up, start-up)" % (
            pt["part"], pt["seconds"], max(0.0, pt["seconds"] - tests)), flush=True)
    if timing:
        print("   " + timing, flush=True)
    print("   make vmtest's suite.py: %.1f s in all" % total, flush=True)
    if vm_failure:
        print("vmtest: the guest failed: %s" % vm_failure, flush=True)


if __name__ == "__main__":
    sys.exit(main())
