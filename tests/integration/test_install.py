"""Installing on a runner host: `make install` / `make uninstall` (PREFIX,
DESTDIR, SYSCONFDIR; modes; config never overwritten nor removed once
edited; as an unprivileged user), the systemd unit (systemd-analyze verify),
the tmpfiles.d file (systemd-tmpfiles), the man pages (groff warnings, and
every command, option and key documented), the installed config and example
policies as egressd takes them, and egressd's readiness notification
(sd_notify: READY=1 once the control socket answers, STOPPING=1 on SIGTERM)
that the unit's Type=notify waits for. The CI scripts and the GitHub
composite action are installed too, and the installed action's fence.sh (or
a copy of it in a repository) runs the installed step script.

Every tool these tests need is in the Makefile's DEB_PKGS (`make deps`);
a missing one is a failure, not a skip."""
import ctypes
import glob
import os
import re
import shutil
import signal
import socket
import stat
import struct
import subprocess
import time

from harness import test, pol, allowed, denied, check, eq, wait_until, REPO

ALLOW, DENY = "198.18.1.1:443", "198.18.2.1:443"
POLICIES = ("ci-agent", "coding-agent", "package-build")
MAN_PAGES = ("man1/egressctl.1", "man5/egress-fence-policy.5", "man8/egressd.8")
CI_SCRIPTS = ("egress-fence-step.sh", "egress-fence-check.sh")
# the GitHub composite action, relative to PREFIX
ACTION = "share/egress-fence/github/fence"
# what `make install DESTDIR=D PREFIX=/usr` puts in D, and the mode of each
TREE_USR = dict({
    "usr/sbin/egressd": 0o755,
    "usr/bin/egressctl": 0o755,
    "usr/lib/systemd/system/egressd.service": 0o644,
    "usr/lib/tmpfiles.d/egress-fence.conf": 0o644,
    "etc/egress-fence/egressd.json": 0o644,
    "usr/%s/action.yml" % ACTION: 0o644,
    "usr/%s/fence.sh" % ACTION: 0o755,
}, **{"usr/share/man/" + m: 0o644 for m in MAN_PAGES},
    **{"usr/libexec/egress-fence/" + s: 0o755 for s in CI_SCRIPTS},
    **{"etc/egress-fence/policies/%s.json" % p: 0o644 for p in POLICIES})
# variables of the Makefile's install section that the environment must not set
MAKE_VARS = ("PREFIX", "DESTDIR", "BINDIR", "SBINDIR", "LIBEXECDIR", "MANDIR",
             "SYSTEMD_UNIT_DIR", "TMPFILES_DIR", "SYSCONFDIR", "INSTALL", "MAKEFLAGS", "MFLAGS",
             "MAKELEVEL")
# unit options that give the service a mount namespace of its own (its
# bpffs and pins would die with it) or take away what egressd does
SANDBOX_OPTIONS = ("ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices",
                   "PrivateMounts", "PrivateNetwork", "ProtectKernelTunables",
                   "ProtectKernelModules", "ProtectKernelLogs", "ProtectControlGroups",
                   "ProtectClock", "ProtectHostname", "ProtectProc", "ReadOnlyPaths",
                   "InaccessiblePaths", "TemporaryFileSystem", "RootDirectory", "RootImage",
                   "RestrictNamespaces", "CapabilityBoundingSet", "AmbientCapabilities",
                   "User", "DynamicUser", "SystemCallFilter", "Delegate", "KillMode",
                   "ExecReload", "MemoryDenyWriteExecute", "RestrictAddressFamilies")


def need(tool):
    path = shutil.which(tool)
    check(path, "`%s` not found: `make deps` installs it (see DEB_PKGS in the Makefile)" % tool)
    return path


def make(ctx, *args, build=None, user=None, repo=REPO, timeout=300):
    """`make -C repo ARGS` with the binaries under test taken as they are
    (-o: not rebuilt, whatever changed since). Returns the CompletedProcess;
    fails unless it exits 0."""
    build = build or ctx.build
    argv = [need("make"), "-C", repo, "--no-print-directory", "BUILD=" + build,
            "-o", build + "/egressd", "-o", build + "/egressctl"] + list(args)
    if user is not None:
        argv = [need("setpriv"), "--reuid=%d" % user, "--regid=%d" % user,
                "--clear-groups", "--"] + argv
    env = {k: v for k, v in os.environ.items() if k not in MAKE_VARS}
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                       stdin=subprocess.DEVNULL)
    check(r.returncode == 0, "`%s` exited %d:\n%s%s" % (
        " ".join(argv), r.returncode, r.stdout[-1500:], r.stderr[-1500:]))
    return r


def files_under(root):
    """{relative path: mode} of every file and symlink under root."""
    out = {}
    for d, _dirs, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            out[os.path.relpath(p, root)] = stat.S_IMODE(os.lstat(p).st_mode)
    return out


def check_tree(root, want, what):
    got = files_under(root)
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    check(not missing, "%s: missing %s" % (what, missing))
    check(not extra, "%s: files nobody asked for: %s" % (what, extra))
    for p, mode in sorted(want.items()):
        check(got[p] == mode, "%s: %s has mode %04o, want %04o" % (what, p, got[p], mode))


def read(path):
    with open(path) as f:
        return f.read()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def unit_settings(text):
    """[(section, key, value)] of a unit file, comments and blanks skipped."""
    out, section = [], None
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        k, _, v = line.partition("=")
        out.append((section, k.strip(), v.strip()))
    return out


def install_usr(ctx, name="dest"):
    """make install DESTDIR=<tmp>/name PREFIX=/usr; returns the DESTDIR."""
    dest = ctx.path(name)
    make(ctx, "install", "DESTDIR=" + dest, "PREFIX=/usr")
    return dest


def run_bin(argv, timeout=30):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def roff_text(path):
    """A man page's source with the escapes that split words removed: for
    checking that a name is documented (rendered text hyphenates)."""
    t = read(path)
    t = re.sub(r"\\f[BIRP]|\\f\(..|\\c|\\&", "", t)
    return t.replace("\\-", "-").replace('"', " ")


def documented(name, text):
    return re.search(r"(?<![\w.-])%s(?![\w-])" % re.escape(name), text) is not None


def render(path):
    """The man page as man(1) prints it, 200 columns, no overstriking."""
    env = dict(os.environ, MANWIDTH="200", MANPAGER="cat", PAGER="cat", LC_ALL="C.UTF-8")
    r = subprocess.run([need("man"), "-l", path], capture_output=True, text=True, env=env,
                       timeout=60, stdin=subprocess.DEVNULL)
    check(r.returncode == 0, "man -l %s exited %d: %s" % (path, r.returncode, r.stderr[-500:]))
    return re.sub(r".\x08", "", r.stdout)


# --------------------------------------------------------------------------
# make install / uninstall

@test
def test_install_tree_modes_and_paths(ctx):
    """make install DESTDIR=D PREFIX=/usr: exactly the expected files with
    their modes; the binaries are the build's; the unit runs /usr/sbin/egressd
    (no --config: the config is where egressd looks); nothing is left
    unsubstituted; the config is deploy/egressd.json as is."""
    dest = install_usr(ctx)
    check_tree(dest, TREE_USR, "make install DESTDIR=%s PREFIX=/usr" % dest)
    for b, where in (("egressd", "usr/sbin"), ("egressctl", "usr/bin")):
        with open(os.path.join(ctx.build, b), "rb") as f1, \
                open(os.path.join(dest, where, b), "rb") as f2:
            check(f1.read() == f2.read(), "installed %s/%s differs from %s/%s" % (
                where, b, ctx.build, b))
    unit = read(os.path.join(dest, "usr/lib/systemd/system/egressd.service"))
    execs = [v for s, k, v in unit_settings(unit) if k == "ExecStart"]
    eq(execs, ["/usr/sbin/egressd"], "ExecStart of the installed unit")
    for rel in TREE_USR:
        if rel.startswith(("usr/sbin", "usr/bin")):
            continue
        text = read(os.path.join(dest, rel))
        left = re.findall(r"@[A-Z_]+@", text)
        check(not left, "%s: left unsubstituted: %s" % (rel, sorted(set(left))))
    eq(read(os.path.join(dest, "etc/egress-fence/egressd.json")),
       read(os.path.join(REPO, "deploy/egressd.json")), "installed egressd.json")
    # the CI scripts and action.yml as they are; fence.sh told where the step script is
    for s in CI_SCRIPTS:
        eq(read(os.path.join(dest, "usr/libexec/egress-fence", s)),
           read(os.path.join(REPO, "deploy/ci", s)), "installed %s" % s)
    eq(read(os.path.join(dest, "usr", ACTION, "action.yml")),
       read(os.path.join(REPO, "deploy/ci/github/fence/action.yml")), "installed action.yml")
    fence_sh = read(os.path.join(REPO, "deploy/ci/github/fence/fence.sh"))
    check("'@LIBEXECDIR@/egress-fence'" in fence_sh,
          "deploy/ci/github/fence/fence.sh no longer has '@LIBEXECDIR@/egress-fence'")
    eq(read(os.path.join(dest, "usr", ACTION, "fence.sh")),
       fence_sh.replace("@LIBEXECDIR@", "/usr/libexec"), "installed fence.sh")
    for p in POLICIES:
        eq(read(os.path.join(dest, "etc/egress-fence/policies/%s.json" % p)),
           read(os.path.join(REPO, "deploy/policies/%s.json" % p)), "installed %s.json" % p)
    tmpfiles = read(os.path.join(dest, "usr/lib/tmpfiles.d/egress-fence.conf"))
    for d in ("/run/egress-fence", "/var/lib/egress-fence", "/etc/egress-fence",
              "/etc/egress-fence/policies"):
        check(re.search(r"^d\s+%s\s" % re.escape(d), tmpfiles, re.M),
              "tmpfiles.d: no line creating %s:\n%s" % (d, tmpfiles))


@test
def test_install_binaries_run_and_every_command_has_help(ctx):
    """The installed egressd and egressctl run; `--help` exits 0 for both,
    for every egressctl command its --help lists, and for every policy
    subcommand."""
    dest = install_usr(ctx)
    egressd = os.path.join(dest, "usr/sbin/egressd")
    egressctl = os.path.join(dest, "usr/bin/egressctl")
    for argv in ([egressd, "--help"], [egressd, "--version"], [egressctl, "--help"],
                 [egressctl, "--version"]):
        r = run_bin(argv)
        eq(r.returncode, 0, "`%s` exit status (stderr %r)" % (" ".join(argv), r.stderr[-300:]))
        check(r.stdout.strip(), "`%s` printed nothing" % " ".join(argv))
    top = run_bin([egressctl, "--help"]).stdout
    cmds = re.findall(r"^  ([a-z]+) ", top.split("commands:", 1)[-1], re.M)
    check(len(cmds) >= 8, "egressctl --help lists only %s" % cmds)
    subs = [["policy", s] for s in ("list", "show", "validate", "diff", "apply", "add",
                                    "remove", "suggest")]
    for c in [[c] for c in cmds] + subs:
        argv = [egressctl, "--socket", ctx.path("nobody-here.sock")] + c + ["--help"]
        r = run_bin(argv)
        check(r.returncode == 0, "`egressctl %s --help` exited %d: %r" % (
            " ".join(c), r.returncode, (r.stderr or r.stdout)[-300:]))
        check(r.stdout.startswith("usage: egressctl %s" % c[0]),
              "`egressctl %s --help` does not start with its usage line: %r" % (
                  " ".join(c), r.stdout[:200]))


@test
def test_install_config_and_policies_taken_by_egressd(ctx):
    """The installed egressd, started with the installed egressd.json (the
    test's own dirs given as flags, which win), runs; the installed example
    policies pass `egressctl policy validate` (the lint included) and are
    compiled by egressd: a job runs under each."""
    dest = install_usr(ctx)
    conf = os.path.join(dest, "etc/egress-fence/egressd.json")
    pdir = os.path.join(dest, "etc/egress-fence/policies")
    egressctl = os.path.join(dest, "usr/bin/egressctl")
    installed = sorted(glob.glob(os.path.join(pdir, "*.json")))
    eq([os.path.basename(p)[:-5] for p in installed], sorted(POLICIES), "installed policies")
    for p in installed:
        r = run_bin([egressctl, "policy", "validate", p])
        check(r.returncode == 0 and ": ok (policy " in r.stdout,
              "`egressctl policy validate %s` exited %d: %s" % (
                  p, r.returncode, (r.stderr or r.stdout).strip()[-500:]))
    d = ctx.daemon(start=False, label="installed")
    d.egressd = os.path.join(dest, "usr/sbin/egressd")
    d.egressctl = egressctl
    d.config = conf
    for p in installed:
        shutil.copy(p, d.policy_dir)
    d.policy("fence-test", allow=[ALLOW])
    d.start()
    st = d.status()
    eq(st.get("policy_dir"), d.policy_dir, "policy_dir of egressd with the installed config "
       "and --policy-dir")
    for name in POLICIES:
        r = d.run(name, ["/bin/true"])
        eq(r.rc, 0, "`egressctl run --policy %s -- /bin/true` under the installed egressd "
           "(stderr %r)" % (name, r.err[-300:]))
    r = d.probe("fence-test", "connect", ALLOW, DENY)
    allowed(r.get(ALLOW))
    denied(r.get(DENY))


@test
def test_install_keeps_edited_config_uninstall_removes_the_rest(ctx):
    """A second make install changes nothing and says nothing; a config file
    edited since is kept (and named); make uninstall removes every installed
    file except the edited ones, and the empty config dirs."""
    dest = install_usr(ctx)
    r = make(ctx, "install", "DESTDIR=" + dest, "PREFIX=/usr")
    check("KEEP" not in r.stdout, "a reinstall over an unchanged tree kept files: %r" % r.stdout)
    conf = os.path.join(dest, "etc/egress-fence/egressd.json")
    pol_edited = os.path.join(dest, "etc/egress-fence/policies/coding-agent.json")
    mine = '{\n  "state_dir": "/srv/egress",\n  "service_name": "runner-7"\n}\n'
    write(conf, mine)
    text = read(pol_edited).replace('"api.openai.com:443",\n', "")
    write(pol_edited, text)
    r = make(ctx, "install", "DESTDIR=" + dest, "PREFIX=/usr")
    eq(read(conf), mine, "egressd.json after a reinstall over an edited one")
    eq(read(pol_edited), text, "coding-agent.json after a reinstall over an edited one")
    for p in (conf, pol_edited):
        check(re.search(r"KEEP\s+%s" % re.escape(p), r.stdout),
              "make install did not say it kept %s: %r" % (p, r.stdout))
    check_tree(dest, TREE_USR, "after the reinstall")
    r = make(ctx, "uninstall", "DESTDIR=" + dest, "PREFIX=/usr")
    left = files_under(dest)
    eq(sorted(left), sorted(os.path.relpath(p, dest) for p in (conf, pol_edited)),
       "files left by make uninstall")
    for p in (conf, pol_edited):
        check(re.search(r"KEEP\s+%s" % re.escape(p), r.stdout),
              "make uninstall did not say it kept %s: %r" % (p, r.stdout))
    # with nothing edited, the config dirs go too
    os.remove(conf)
    os.remove(pol_edited)
    make(ctx, "install", "DESTDIR=" + dest, "PREFIX=/usr")
    make(ctx, "uninstall", "DESTDIR=" + dest, "PREFIX=/usr")
    eq(files_under(dest), {}, "files left by make uninstall of an unedited install")
    check(not os.path.exists(os.path.join(dest, "etc/egress-fence")),
          "make uninstall left the empty %s/etc/egress-fence" % dest)


@test
def test_install_as_unprivileged_user_default_prefix(ctx):
    """Any user can install into a DESTDIR of theirs (nothing is written
    outside it); with the default PREFIX (/usr/local) the binaries go to
    /usr/local, the unit and tmpfiles.d file to /usr/local/lib (both in
    systemd's search paths), the config still to /etc/egress-fence, where
    egressd looks. `make install` on a fresh build dir builds first."""
    nobody = 65534
    # the Makefile, deploy/ and the build's binaries where the user can read
    # them: the checkout itself may be private
    src = ctx.path("src")
    os.chmod(ctx.tmp, 0o755)
    os.mkdir(src)
    shutil.copy(os.path.join(REPO, "Makefile"), src)
    shutil.copytree(os.path.join(REPO, "deploy"), os.path.join(src, "deploy"))
    os.mkdir(os.path.join(src, "build"))
    for b in ("egressd", "egressctl"):
        shutil.copy2(os.path.join(ctx.build, b), os.path.join(src, "build", b))
    dest = ctx.path("dest")
    os.mkdir(dest)
    os.chown(dest, nobody, nobody)
    for d, dirs, files in os.walk(src):
        os.chmod(d, 0o755)
    make(ctx, "install", "DESTDIR=" + dest, build=os.path.join(src, "build"), repo=src,
         user=nobody)
    want = {}
    for rel, mode in TREE_USR.items():
        want[rel.replace("usr/", "usr/local/", 1) if rel.startswith("usr/") else rel] = mode
    check_tree(dest, want, "make install as uid %d, default PREFIX" % nobody)
    for p in files_under(dest):
        eq(os.lstat(os.path.join(dest, p)).st_uid, nobody, "owner of %s" % p)
    unit = read(os.path.join(dest, "usr/local/lib/systemd/system/egressd.service"))
    eq([v for s, k, v in unit_settings(unit) if k == "ExecStart"],
       ["/usr/local/sbin/egressd"], "ExecStart with the default PREFIX")
    # a fresh build dir: install builds the binaries first (dry run)
    fresh = ctx.path("fresh-build")
    env = {k: v for k, v in os.environ.items() if k not in MAKE_VARS}
    r = subprocess.run([need("make"), "-n", "-C", REPO, "--no-print-directory",
                        "BUILD=" + fresh, "install", "DESTDIR=" + ctx.path("never")],
                       capture_output=True, text=True, timeout=120, env=env,
                       stdin=subprocess.DEVNULL)
    eq(r.returncode, 0, "make -n install on a fresh build dir (stderr %r)" % r.stderr[-500:])
    for b in ("egressd", "egressctl"):
        link = r.stdout.find("-o %s/%s " % (fresh, b))
        inst = r.stdout.find("%s/%s %s" % (fresh, b, ctx.path("never")))
        check(link >= 0, "make install on a fresh build dir would not link %s:\n%s" % (
            b, r.stdout[-1500:]))
        check(inst > link, "make install would install %s before linking it" % b)


@test
def test_install_sysconfdir_elsewhere_passes_config(ctx):
    """PREFIX and SYSCONFDIR outside /usr and /etc, no DESTDIR: the unit
    passes --config to the installed config, whose paths follow SYSCONFDIR;
    systemd-analyze verify takes that unit as installed."""
    prefix, sysconf = ctx.path("opt/ef"), ctx.path("opt/etc")
    make(ctx, "install", "PREFIX=" + prefix, "SYSCONFDIR=" + sysconf)
    unit_path = os.path.join(prefix, "lib/systemd/system/egressd.service")
    unit = read(unit_path)
    conf = os.path.join(sysconf, "egress-fence/egressd.json")
    eq([v for s, k, v in unit_settings(unit) if k == "ExecStart"],
       ["%s/sbin/egressd --config %s" % (prefix, conf)], "ExecStart")
    eq(read(conf).count(sysconf + "/egress-fence/policies"), 1,
       "policy_dir in the installed config under SYSCONFDIR=%s:\n%s" % (sysconf, read(conf)))
    check('"/etc/egress-fence' not in read(conf),
          "the installed config still names /etc/egress-fence:\n%s" % read(conf))
    tmpfiles = read(os.path.join(prefix, "lib/tmpfiles.d/egress-fence.conf"))
    check(sysconf + "/egress-fence/policies " in tmpfiles,
          "tmpfiles.d does not create %s/egress-fence/policies:\n%s" % (sysconf, tmpfiles))
    verify_unit(ctx, unit_path, os.path.join(prefix, "share/man"))


# a stand-in egressctl: writes its arguments, and the command line of the
# process that ran it (the step script's bash), one per line; exits 0
STANDIN_EGRESSCTL = """#!/bin/sh
printf '%s\\n' "$@" > "$STANDIN_OUT.args"
tr '\\0' '\\n' < /proc/$PPID/cmdline > "$STANDIN_OUT.parent"
exit 0
"""


def run_action(ctx, fence_sh, bindir, what):
    """bash FENCE_SH as the action's step runs it (GitHub Actions, inputs in
    FENCE_INPUT_*), egressctl the stand-in in bindir. Returns (process,
    the stand-in's arguments or None, its parent's argv or None, the job
    id written to GITHUB_OUTPUT or None)."""
    out = ctx.path("standin-%s" % what)
    gh_out = ctx.path("github-output-%s" % what)
    temp = ctx.path("runner-temp")
    os.makedirs(temp, exist_ok=True)
    open(gh_out, "w").close()
    path = bindir + ":/usr/bin:/bin"
    check(shutil.which("egress-fence-step.sh", path=path) is None,
          "egress-fence-step.sh is in PATH=%s: the test could not tell where fence.sh "
          "found it" % path)
    env = {"PATH": path, "HOME": ctx.tmp, "LC_ALL": "C.UTF-8", "RUNNER_TEMP": temp,
           "GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": gh_out, "GITHUB_RUN_ID": "4242",
           "GITHUB_RUN_ATTEMPT": "1", "GITHUB_JOB": "agent", "RUNNER_NAME": "runner-1",
           "STANDIN_OUT": out, "FENCE_INPUT_RUN": "echo fenced", "FENCE_INPUT_POLICY": "ci-agent",
           "FENCE_INPUT_ATTRS": "gen_ai.agent.name=claude-code", "FENCE_INPUT_SHELL": "bash"}
    ctx.log("action: bash " + fence_sh)
    p = subprocess.run(["/bin/bash", fence_sh], capture_output=True, text=True, timeout=60,
                       env=env, stdin=subprocess.DEVNULL, cwd=ctx.tmp)
    got = []
    for suffix in (".args", ".parent"):
        got.append(read(out + suffix).splitlines() if os.path.exists(out + suffix) else None)
    ids = re.findall(r"^job-id=(.*)$", read(gh_out), re.M)
    return p, got[0], got[1], ids[-1] if ids else None


@test
def test_install_fence_action_runs_installed_step_script(ctx):
    """The installed action's fence.sh runs the installed
    egress-fence-step.sh (LIBEXECDIR/egress-fence, which make install wrote
    into it), from where it is installed and from a copy in a repository's
    .github/actions/ (how a workflow uses it: `uses: ./PATH` must be in the
    workspace): the step script runs egressctl (a stand-in) with the
    action's inputs, and the job id goes to GITHUB_OUTPUT. After make
    uninstall the copy finds no step script: exit 125, an error annotation
    naming where it looked, egressctl not run. (PREFIX in the test's
    directory, no DESTDIR: a DESTDIR tree's fence.sh names the final
    LIBEXECDIR, as it must.)"""
    prefix, sysconf = ctx.path("prefix"), ctx.path("etc")
    make(ctx, "install", "PREFIX=" + prefix, "SYSCONFDIR=" + sysconf)
    step = os.path.join(prefix, "libexec/egress-fence/egress-fence-step.sh")
    action = os.path.join(prefix, ACTION)
    check(os.access(step, os.X_OK), "%s is not installed executable" % step)
    bindir = ctx.path("bin")
    os.mkdir(bindir)
    write(os.path.join(bindir, "egressctl"), STANDIN_EGRESSCTL)
    os.chmod(os.path.join(bindir, "egressctl"), 0o755)
    ws = ctx.path("workspace")
    copy = os.path.join(ws, ".github/actions/egress-fence")
    shutil.copytree(action, copy)

    for what, fence_sh in (("installed", os.path.join(action, "fence.sh")),
                           ("copy", os.path.join(copy, "fence.sh"))):
        p, args, parent, job = run_action(ctx, fence_sh, bindir, what)
        desc = "%s fence.sh: exit %d, stdout %r, stderr %r" % (
            what, p.returncode, p.stdout[-600:], p.stderr[-600:])
        eq(p.returncode, 0, desc)
        check(args is not None and parent is not None, "the stand-in egressctl did not run: "
              + desc)
        eq(parent[:2], ["bash", step], "%s fence.sh: the command line that ran egressctl "
           "(the step script's)" % what)
        check(job and re.match(r"^gh-4242-1-agent-[0-9a-f]{6}$", job),
              "%s fence.sh: job id in GITHUB_OUTPUT: %r" % (what, job))
        check("--" in args, "%s fence.sh: egressctl args without --: %s" % (what, args))
        opts, cmd = args[:args.index("--")], args[args.index("--") + 1:]
        eq(opts, ["run", "--job-id", job, "--policy", "ci-agent", "--attr",
                  "gen_ai.agent.name=claude-code"], "%s fence.sh: egressctl's options" % what)
        check(len(cmd) > 7 and cmd[-7:-1] == ["bash", "--noprofile", "--norc", "-e", "-o",
                                              "pipefail"] and cmd[-1].endswith("/step"),
              "%s fence.sh: the fenced command: %s" % (what, cmd))

    make(ctx, "uninstall", "PREFIX=" + prefix, "SYSCONFDIR=" + sysconf)
    for d in ("libexec/egress-fence", "share/egress-fence"):
        check(not os.path.exists(os.path.join(prefix, d)),
              "make uninstall left %s/%s" % (prefix, d))
    p, args, parent, job = run_action(ctx, os.path.join(copy, "fence.sh"), bindir, "gone")
    desc = "exit %d, stdout %r, stderr %r" % (p.returncode, p.stdout[-600:], p.stderr[-600:])
    eq(p.returncode, 125, "the copied fence.sh with the step script uninstalled: " + desc)
    check(p.stdout.startswith("::error title=egress-fence::egress-fence-step.sh is not in ")
          and os.path.dirname(step) + "/" in p.stdout,
          "no error annotation naming %s/: %s" % (os.path.dirname(step), desc))
    check(args is None, "egressctl ran with no step script: %s" % args)


# --------------------------------------------------------------------------
# the unit, tmpfiles.d, man pages

def verify_unit(ctx, path, manpath):
    """systemd-analyze verify: exit 0 and not one line about this unit (it
    reports unknown keys and bad values on stderr with status 0).
    Documentation= is checked too: MANPATH finds the installed pages."""
    env = dict(os.environ, MANPATH=manpath, SYSTEMD_LOG_COLOR="0", SYSTEMD_PAGER="cat")
    r = subprocess.run([need("systemd-analyze"), "verify", path], capture_output=True,
                       text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)
    out = [line for line in (r.stdout + r.stderr).splitlines() if line.strip()]
    # a line of another unit names that unit (or its file) first
    other = re.compile(r"^(/\S+|[\w@.\\-]+\.(service|socket|target|mount|automount|swap|"
                       r"timer|path|slice|scope|device)):")
    mine = [line for line in out if "egressd" in line or not other.match(line)]
    check(r.returncode == 0 and not mine, "systemd-analyze verify %s exited %d:\n%s" % (
        path, r.returncode, "\n".join(mine or out)[-2000:]))


@test
def test_install_unit_verifies_and_is_right_for_the_fence(ctx):
    """systemd-analyze verify on the installed unit (ExecStart pointed at the
    DESTDIR's binary, man pages from the DESTDIR): no complaint. And what the
    unit must say: Type=notify, restart on failure after 1 s, before the CI
    runners, wanted by multi-user.target, bpffs mounted first, not waiting
    for network-online.target, no sandboxing that would give egressd a
    mount namespace (its pins would die with it) or take away what it does,
    no ExecReload (egressd has nothing to reload), its directories."""
    dest = install_usr(ctx)
    unit_path = os.path.join(dest, "usr/lib/systemd/system/egressd.service")
    unit = read(unit_path)
    vdir = ctx.path("verify")
    os.mkdir(vdir)
    write(os.path.join(vdir, "egressd.service"),
          re.sub(r"^ExecStart=/usr/sbin/egressd", "ExecStart=%s/usr/sbin/egressd" % dest,
                 unit, flags=re.M))
    verify_unit(ctx, os.path.join(vdir, "egressd.service"), os.path.join(dest, "usr/share/man"))

    settings = unit_settings(unit)

    def values(section, key):
        return [v for s, k, v in settings if s == section and k == key]

    def words(section, key):
        return " ".join(values(section, key)).split()

    eq(values("Service", "Type"), ["notify"], "Type=")
    eq(values("Service", "Restart"), ["on-failure"], "Restart=")
    eq(values("Service", "RestartSec"), ["1"], "RestartSec=")
    for runner in ("gitlab-runner.service", "actions.runner.service"):
        check(runner in words("Unit", "Before"), "Before= lacks %s: %s" % (
            runner, values("Unit", "Before")))
    eq(values("Install", "WantedBy"), ["multi-user.target"], "WantedBy=")
    check("/sys/fs/bpf" in words("Unit", "RequiresMountsFor"),
          "RequiresMountsFor= lacks /sys/fs/bpf: %s" % values("Unit", "RequiresMountsFor"))
    for key in ("After", "Wants", "Requires"):
        check("network-online.target" not in words("Unit", key),
              "%s=network-online.target: egressd would wait for the network" % key)
    for s, k, v in settings:
        check(k not in SANDBOX_OPTIONS, "[%s] %s=%s: must not be in egressd's unit (see the "
              "comment at the top of deploy/systemd/egressd.service.in)" % (s, k, v))
    eq(values("Service", "RuntimeDirectory"), ["egress-fence"], "RuntimeDirectory=")
    eq(values("Service", "StateDirectory"), ["egress-fence"], "StateDirectory=")
    eq(values("Service", "ConfigurationDirectory"), ["egress-fence"], "ConfigurationDirectory=")
    eq(values("Service", "LimitMEMLOCK"), ["infinity"], "LimitMEMLOCK=")
    eq(values("Service", "NoNewPrivileges"), ["yes"], "NoNewPrivileges=")


@test
def test_install_tmpfiles_creates_dirs(ctx):
    """systemd-tmpfiles --create on the installed tmpfiles.d file, in a
    scratch root: the run, state and config dirs appear, root's, with their
    modes (the state dir 0750, as egressd makes it); nothing on stderr."""
    dest = install_usr(ctx)
    root = ctx.path("tmpfiles-root")
    os.mkdir(root)
    conf = os.path.join(dest, "usr/lib/tmpfiles.d/egress-fence.conf")
    r = subprocess.run([need("systemd-tmpfiles"), "--create", "--root=" + root, conf],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    check(r.returncode == 0 and not r.stderr.strip(), "systemd-tmpfiles --create %s exited "
          "%d: %s" % (conf, r.returncode, r.stderr.strip()[-1000:]))
    for d, mode in (("run/egress-fence", 0o755), ("var/lib/egress-fence", 0o750),
                    ("etc/egress-fence", 0o755), ("etc/egress-fence/policies", 0o755)):
        p = os.path.join(root, d)
        check(os.path.isdir(p), "systemd-tmpfiles did not create /%s" % d)
        st = os.stat(p)
        eq(stat.S_IMODE(st.st_mode), mode, "mode of /%s" % d)
        eq((st.st_uid, st.st_gid), (0, 0), "owner of /%s" % d)


@test
def test_install_man_pages_render_and_match_the_tools(ctx):
    """Each man page renders with no groff warning; egressctl(1) documents
    every command `egressctl --help` lists and every policy subcommand,
    egressd(8) every option of `egressd --help` and every config key egressd
    accepts, egress-fence-policy(5) every key the policy parser accepts."""
    need("groff")
    for m in MAN_PAGES:
        page = os.path.join(REPO, "deploy/man", os.path.basename(m))
        check(os.path.exists(page), "%s is missing" % page)
        r = subprocess.run([need("man"), "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z",
                            page], capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        check(r.returncode == 0 and not r.stderr.strip(), "man --warnings %s exited %d:\n%s" % (
            page, r.returncode, r.stderr.strip()[-1500:]))
    man = os.path.join(REPO, "deploy/man")

    # egressctl(1): every command and policy subcommand is a tagged paragraph
    text = render(os.path.join(man, "egressctl.1"))
    top = run_bin([os.path.join(ctx.build, "egressctl"), "--help"]).stdout
    cmds = re.findall(r"^  ([a-z]+) ", top.split("commands:", 1)[-1], re.M)
    check(cmds, "egressctl --help lists no command: %r" % top)
    subs = ["policy " + s for s in ("list", "show", "validate", "diff", "apply", "add",
                                    "remove", "suggest")]
    for c in cmds + subs:
        check(re.search(r"^ {7}%s\b" % re.escape(c), text, re.M),
              "egressctl(1) has no paragraph for `egressctl %s`" % c)
    src = roff_text(os.path.join(man, "egressctl.1"))
    for opt in ("--socket", "--json", "--policy", "--job-id", "--attr", "--traceparent",
                "--force", "--deny", "--inbound", "--policy-dir", "--state-dir", "--since",
                "--denied", "--flagged", "--job", "--against", "--wildcard-min",
                "EGRESSCTL_SOCKET"):
        check(documented(opt, src), "egressctl(1) does not mention %s" % opt)

    # egressd(8): options and config keys
    src = roff_text(os.path.join(man, "egressd.8"))
    usage = run_bin([os.path.join(ctx.build, "egressd"), "--help"]).stdout
    opts = sorted(set(re.findall(r"--[a-z][a-z-]*", usage)))
    check(len(opts) >= 8, "egressd --help lists only %s" % opts)
    for o in opts:
        check(documented(o, src), "egressd(8) does not document %s (in `egressd --help`)" % o)
    keys = set()
    for f in ("daemon/main.c", "daemon/dns/dns_learn.c", "daemon/export/export_cfg.c", "daemon/access/access.c"):
        # the lists of keys each section accepts (ef_json_known_keys' "known")
        for arr in re.findall(r"static const char \*const known\[\] = \{(.*?)\};",
                              read(os.path.join(REPO, f)), re.S):
            keys.update(re.findall(r'"(\w+)"', arr))
    check({"policy_dir", "dns", "otlp", "access", "socket_mode", "upstream"} <= keys,
          "the config key lists were not found in daemon/: %s" % sorted(keys))
    for k in sorted(keys):
        check(documented(k, src), "egressd(8) does not document config key %s" % k)

    # egress-fence-policy(5): every key of the policy parser
    src = roff_text(os.path.join(man, "egress-fence-policy.5"))
    pkeys = set(re.findall(r'\{\s*"(\w+)",\s*do_\w+\s*\}',
                           read(os.path.join(REPO, "policy/parse_keys.c"))))
    check({"name", "allow", "deny", "probe", "sockets"} <= pkeys,
          "the policy key tables were not found in policy/parse_keys.c: %s" % sorted(pkeys))
    for k in sorted(pkeys):
        check(documented(k, src), "egress-fence-policy(5) does not document key %s" % k)


# --------------------------------------------------------------------------
# readiness (sd_notify)

CLONE_NEWNET = 0x40000000


def notify_socket(ctx, name, netns=None):
    """A unix datagram socket at path or abstract name ('@x') receiving
    sender credentials; for an abstract name, bound in netns (abstract
    names are per network namespace)."""
    addr = "\0" + name[1:] if name.startswith("@") else name
    if netns is None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(addr)
    else:
        libc = ctypes.CDLL(None, use_errno=True)
        here = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        there = os.open(netns, os.O_RDONLY)
        try:
            if libc.setns(there, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns(%s)" % netns)
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                s.bind(addr)
            finally:
                if libc.setns(here, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns back to the test's netns")
        finally:
            os.close(here)
            os.close(there)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    return s


def recv_notify(s, timeout, d=None):
    """(text, sender pid) of the next datagram, or None after timeout; fails
    if the daemon d exits meanwhile."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        s.settimeout(0.2)
        try:
            data, anc, _flags, _addr = s.recvmsg(4096, socket.CMSG_SPACE(12))
        except socket.timeout:
            if d is not None and d.proc.poll() is not None:
                raise AssertionError("egressd exited with status %s before notifying: %s" % (
                    d.proc.returncode, d.log_tail(5).strip().replace("\n", " | ")))
            continue
        pid = None
        for level, typ, cdata in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", cdata[:12])[0]
        return data.decode("utf-8", "replace"), pid
    return None


def fields(text):
    return dict(line.split("=", 1) for line in text.split("\n") if "=" in line)


def start_no_wait(d, env):
    """Start egressd without Daemon.wait_ready (which polls the control
    socket): the notification alone must say when it is ready."""
    d.wait_ready = lambda timeout=20: None
    d.start(env=env)


def nnp_wrapper(ctx, egressd):
    """egressd under NoNewPrivileges, as the unit runs it (exec: same pid)."""
    path = ctx.path("egressd-nnp")
    write(path, '#!/bin/sh\nexec %s --no-new-privs -- %s "$@"\n' % (need("setpriv"), egressd))
    os.chmod(path, 0o755)
    return path


def readiness(ctx, name, netns=None):
    s = notify_socket(ctx, name, netns)
    try:
        d = ctx.daemon({"p": pol(allow=[ALLOW])}, start=False)
        d.egressd = nnp_wrapper(ctx, d.egressd)
        start_no_wait(d, {"NOTIFY_SOCKET": name})
        got = recv_notify(s, 30, d)
        check(got, "no notification from egressd on NOTIFY_SOCKET=%s in 30 s" % name)
        text, pid = got
        # the moment READY=1 arrives, the control socket must answer
        r = d.ctl("status", "--json", timeout=10)
        f = fields(text)
        eq(f.get("READY"), "1", "first notification %r: READY" % text)
        check(r.returncode == 0, "READY=1 came but `egressctl status` failed (%d): %s" % (
            r.returncode, (r.stderr or r.stdout).strip()[:300]))
        check(f.get("STATUS"), "READY=1 without a STATUS= line: %r" % text)
        eq(pid, d.proc.pid, "sender pid of READY=1 (systemd's NotifyAccess=main wants "
           "egressd's own)")
        with open("/proc/%d/status" % d.proc.pid) as fh:
            check(re.search(r"^NoNewPrivs:\s+1$", fh.read(), re.M),
                  "egressd is not running with no_new_privs (the wrapper did not apply it)")
        # the fence works under NoNewPrivileges=yes
        res = d.probe("p", "connect", ALLOW, DENY)
        allowed(res.get(ALLOW))
        denied(res.get(DENY))
        extra = recv_notify(s, 0.5)
        check(extra is None, "a notification while running: %r" % (extra,))
        d.signal(signal.SIGTERM)
        got = recv_notify(s, 15)
        check(got, "no STOPPING=1 after SIGTERM")
        eq(fields(got[0]).get("STOPPING"), "1", "notification after SIGTERM %r: STOPPING" %
           got[0])
        check("READY" not in fields(got[0]), "READY again on SIGTERM: %r" % got[0])
        d.proc.wait(15)
        eq(d.proc.returncode, 0, "egressd exit status after SIGTERM")
    finally:
        s.close()


@test
def test_sdnotify_ready_after_control_socket_path(ctx):
    """NOTIFY_SOCKET a path (what systemd gives): READY=1 with STATUS= from
    egressd's own pid once the control socket answers, nothing while it
    runs, STOPPING=1 on SIGTERM, exit 0. egressd runs with no_new_privs, as
    the unit's NoNewPrivileges=yes: it loads and fences all the same."""
    readiness(ctx, ctx.path("notify.sock"))


@test
def test_sdnotify_ready_abstract_socket(ctx):
    """NOTIFY_SOCKET an abstract name ('@...'): the same."""
    readiness(ctx, "@ef-notify-%d-%s" % (os.getpid(), os.path.basename(ctx.tmp)),
              netns="/run/netns/" + ctx.world.fence)


@test
def test_sdnotify_unreachable_socket_is_not_fatal(ctx):
    """A NOTIFY_SOCKET nobody listens on, or that is not an address, is
    logged as a warning; egressd starts and fences all the same."""
    for name in (ctx.path("nobody-listens.sock"), "not-an-address"):
        d = ctx.daemon({"p": pol(allow=[ALLOW])}, env={"NOTIFY_SOCKET": name})
        res = d.probe("p", "connect", ALLOW, DENY)
        allowed(res.get(ALLOW))
        denied(res.get(DENY))
        wait_until(lambda: "NOTIFY_SOCKET=" + name in d.log_tail(200), 5,
                   what="a warning naming NOTIFY_SOCKET=%s in egressd's log" % name)
        eq(d.stop(), 0, "egressd exit status with NOTIFY_SOCKET=%s" % name)
