"""Bare `make` on a machine that lacks a build tool (a fresh one, before
`make deps`) says in one line that `make deps` installs what is missing and
stops, before building anything, rather than failing in a shell with
"bpftool: not found". The targets that install the tools, or need none,
still run."""
import os
import subprocess

from harness import test, check, eq, REPO
from test_install import MAKE_VARS, need

MESSAGE = "bpftool not found: run `make deps` (installs the build dependencies)"


def path_without(ctx, *missing):
    """a directory of links to every program in PATH but `missing`: a PATH
    of a machine that lacks them"""
    d = ctx.path("bin")
    os.mkdir(d)
    for p in os.environ.get("PATH", "").split(":"):
        if not os.path.isdir(p):
            continue
        for name in os.listdir(p):
            src = os.path.join(p, name)
            dst = os.path.join(d, name)
            if name in missing or os.path.lexists(dst) or not os.access(src, os.X_OK) \
                    or os.path.isdir(src):
                continue
            os.symlink(src, dst)
    return d


def run_make(ctx, path, *args):
    env = {k: v for k, v in os.environ.items() if k not in MAKE_VARS}
    env["PATH"] = path
    return subprocess.run([need("make"), "-C", REPO, "--no-print-directory"] + list(args),
                          capture_output=True, text=True, timeout=120, env=env,
                          stdin=subprocess.DEVNULL)


@test(timeout=120)
def test_make_without_bpftool_says_make_deps(ctx):
    path = path_without(ctx, "bpftool")
    fresh = ctx.path("fresh-build")
    for goal in ([], ["all"], ["fuzz"], ["install", "DESTDIR=" + ctx.path("never")]):
        what = "make %s with no bpftool in PATH" % " ".join(goal)
        r = run_make(ctx, path, "BUILD=" + fresh, *goal)
        check(r.returncode != 0, "%s exited 0:\n%s" % (what, r.stdout[-800:]))
        lines = r.stderr.strip().splitlines()
        eq(len(lines), 1, "%s: lines on stderr (%r)" % (what, r.stderr[-800:]))
        check(MESSAGE in lines[0], "%s says %r, not %r" % (what, lines[0], MESSAGE))
        check("bpftool: not found" not in r.stderr, "%s: a shell's error" % what)
        eq(r.stdout, "", "%s: what it did before stopping" % what)
        check(not os.path.exists(fresh), "%s made %s" % (what, fresh))
    # what needs no build tool, or installs them, is not stopped (dry runs)
    for goal in (["deps"], ["clean"]):
        r = run_make(ctx, path, "-n", "BUILD=" + fresh, *goal)
        eq(r.returncode, 0, "make -n %s with no bpftool in PATH (stderr %r)" % (
            goal[0], r.stderr[-500:]))
        check("not found" not in r.stderr, "make -n %s: %r" % (goal[0], r.stderr))
    # built binaries install without the build's tools
    r = run_make(ctx, path, "-n", "BUILD=" + ctx.build, "-o", ctx.build + "/egressd", "-o",
                 ctx.build + "/egressctl", "install", "DESTDIR=" + ctx.path("never"))
    eq(r.returncode, 0, "make -n install of built binaries with no bpftool in PATH (stderr %r)"
       % r.stderr[-500:])
    # with every tool found, the check says nothing
    r = run_make(ctx, os.environ["PATH"], "-n", "BUILD=" + fresh)
    eq(r.returncode, 0, "make -n with the tools in PATH (stderr %r)" % r.stderr[-500:])
    check("make deps" not in r.stderr, "make -n with the tools in PATH: %r" % r.stderr[-500:])
