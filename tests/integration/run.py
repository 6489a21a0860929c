#!/usr/bin/python3
"""egress-fence integration tests on the real kernel.

    python3 tests/integration/run.py [--build DIR] [-k SUBSTRING]... [--name NAME]...
                                     [--list] [--keep] [-v] [--json FILE]

Needs root, BTF (/sys/kernel/btf/vmlinux), a cgroup2 mount and bpffs; without
them every test FAILS with a message that names what is missing (nothing is
skipped). Builds one test world (world.py) for the run; every test gets fresh
daemons (harness_daemon.py's Daemon) with their own dirs, cgroup root and
bpffs dir, all removed afterwards. Prints "PASS name" or "FAIL name: reason"
per test (a failure also prints the tail of each daemon's log) and ends with
exactly one line "N passed, N failed"; exits 1 if anything failed. --name
selects by exact name (a name no test has FAILS, so that a renamed test does
not drop out of a named subset such as tests/vm/subset.py's); --json FILE
writes one {"name", "passed", "seconds", "failure", "details"} per test.

Tests live in test_*.py beside this file and register with @test. What they
use is beside them too: harness.py (@test, assertions, pol, the runner's own
processes), harness_spans.py (the journal's spans, expect), harness_daemon.py
(Daemon, Ctx); world.py the world (its self-test in world_selftest.py);
probe.py the client jobs run (probe_base.py, probe_dns.py). Python 3 stdlib
only.
"""
import argparse
import glob
import importlib
import json
import os
import signal
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import world as W  # noqa: E402
from harness import REPO, PY, TIME_SCALE, TESTS, TestTimeout  # noqa: E402
from harness_daemon import Ctx  # noqa: E402

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
