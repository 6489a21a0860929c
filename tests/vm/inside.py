#!/usr/bin/python3
"""The command `make vmtest` runs inside the VM (tests/vm/suite.py boots it
with tests/vm/run.py):

    tests/vm/inside.py [--build DIR]

runs, in this order, in the one guest:
  1. tests/vm/smoke.sh DIR                          one result, "smoke";
  2. tests/integration/run.py --name ... --json     the subset's tests
                                                    (tests/vm/subset.py);
  3. tests/security/run.py --name ... --json        the subset's runs.
Each part's output goes to stdout as it comes, after a line
"== vmtest part NAME: CMD" and followed by "== vmtest part NAME: N results
in S s"; a result line of smoke is "PASS smoke" or "FAIL smoke: why".
The results, one {"part", "name", "passed", "seconds", "failure"} per test,
go to $VMTEST_OUT/results.json, and the parts' wall times (with their
worlds' set-up) to $VMTEST_OUT/parts.json. A part that ends without its
JSON (a crash of its runner) has its unreported tests added as failed.
Exits 1 if anything failed. Python 3 stdlib only.
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import subset  # noqa: E402

PY = sys.executable or "/usr/bin/python3"


def say(msg):
    print(msg, flush=True)


def stream(argv):
    """Runs argv in the repository, its stdout and stderr to our stdout as they
    come; returns (exit status, the output's lines)."""
    p = subprocess.Popen(argv, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    lines = []
    for raw in p.stdout:
        sys.stdout.buffer.write(raw)
        sys.stdout.flush()
        lines.append(raw.decode(errors="replace").rstrip("\n"))
    return p.wait(), lines


def smoke(build, _jdir):
    t0 = time.monotonic()
    rc, lines = stream(["sh", os.path.join(HERE, "smoke.sh"), build])
    secs = time.monotonic() - t0
    why = next((ln[len("smoke: FAIL: "):] for ln in lines if ln.startswith("smoke: FAIL: ")),
               None)
    if rc != 0:
        why = why or "smoke.sh exited with status %d" % rc
        say("FAIL smoke: %s" % why)
    else:
        why = None
        say("PASS smoke")
    return rc, [{"part": "smoke", "name": "smoke", "passed": why is None,
                 "seconds": round(secs, 1), "failure": why}], ["smoke"]


def whole(r):
    """A failure on one line: a message that goes on over several lines (a list of
    what went wrong) has them after it, not the daemons' logs or the notes."""
    msg = r["failure"]
    if msg and msg.endswith(":"):
        more = [d.strip() for d in r.get("details", [])
                if not d.startswith(("at ", "egressd[", "| ", "note: ", "cleanup: "))]
        msg += " " + "; ".join(more)
    return msg


def integration(build, jdir):
    path = os.path.join(jdir, "integration.json")
    want = subset.names(subset.INTEGRATION)
    argv = [PY, "tests/integration/run.py", "--build", build, "--json", path]
    for n in want:
        argv += ["--name", n]
    rc, _lines = stream(argv)
    got = []
    if os.path.exists(path):
        with open(path) as f:
            got = [{"part": "integration", "name": r["name"], "passed": r["passed"],
                    "seconds": r["seconds"], "failure": whole(r)} for r in json.load(f)]
    return rc, got, want


def security(build, jdir):
    path = os.path.join(jdir, "security.json")
    want = subset.names(subset.SECURITY)
    argv = [PY, "tests/security/run.py", "--build", build, "--json", path]
    for n in want:
        argv += ["--name", n]
    rc, _lines = stream(argv)
    got = []
    if os.path.exists(path):
        with open(path) as f:
            for r in json.load(f):
                name = r["vector"] if r["user"] is None else "%s[%s]" % (r["vector"], r["user"])
                got.append({"part": "security", "name": name, "passed": not r["problems"],
                            "seconds": r["seconds"],
                            "failure": " | ".join(r["problems"]) or None})
    return rc, got, want


def main():
    ap = argparse.ArgumentParser(description="the subset of the suite, inside the VM")
    ap.add_argument("--build", default="build/normal")
    a = ap.parse_args()
    jdir = os.environ.get("VMTEST_OUT") or "/tmp/vmtest-out"
    # egressd needs 15 s or more to load its programs under TCG: the runners' waits for
    # it (20 s) and the tests' own timeouts are stretched, not the fence's
    os.environ.setdefault("EF_TEST_TIME_SCALE", "3")
    os.makedirs(jdir, exist_ok=True)
    results, parts = [], []

    def part(name, fn):
        say("== vmtest part %s" % name)
        t0 = time.monotonic()
        n0 = len(results)
        try:
            rc, got, want = fn(a.build, jdir)
        except Exception as e:  # noqa: BLE001 - reported as the part's failure
            rc, got, want = 1, [{"part": name, "name": name, "passed": False, "seconds": 0,
                                 "failure": "inside.py: %s: %s" % (type(e).__name__, e)}], []
        results.extend(got)
        seen = {r["name"] for r in got}
        for n in want:
            if n not in seen:
                results.append({"part": name, "name": n, "passed": False, "seconds": 0,
                                "failure": "not reported: the %s runner exited with status %d "
                                           "without its result" % (name, rc)})
        secs = time.monotonic() - t0
        parts.append({"part": name, "seconds": round(secs, 1), "results": len(results) - n0})
        say("== vmtest part %s: %d results in %.1f s" % (name, len(results) - n0, secs))
        with open(os.path.join(jdir, "results.json"), "w") as f:
            json.dump(results, f, indent=1)
        with open(os.path.join(jdir, "parts.json"), "w") as f:
            json.dump(parts, f, indent=1)

    part("smoke", smoke)
    part("integration", integration)
    part("security", security)
    return 0 if all(r["passed"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
