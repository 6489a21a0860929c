"""Live notices of refusals, --quiet, the notices file, --fail-on-deny and
the signals and exit status of egressctl run (cli/notices.c, daemon/notices/notices.c).

A notice is judged by the words on the command's stderr (the agent reads
them) and by the JSON file; a refusal is judged as the fence's by the
journal's own decision span, never by the command's exit status."""
import json
import os
import signal
import time

from harness import test, pol, check, eq, PY, PROBE, wait_until, kill_pid

NOTICE = "egress-fence: refused "


def notices(err):
    return [l for l in err.splitlines() if l.startswith("egress-fence: ")]


@test(timeout=150)
def test_notices_once_per_process_destination_reason(ctx):
    d = ctx.daemon(policies={"np": pol(allow=["198.18.1.1:443"])})
    # one process: the allowed host, the denied one twice, a UDP datagram;
    # a second process: the same denied host again; a third: an ICMP socket;
    # a fourth: an unlisted name
    script = ("set +e; {py} {pr} connect 198.18.1.1:443 198.18.2.4:80 198.18.2.4:80 "
              "198.18.1.5:9999/udp; {py} {pr} connect 198.18.2.4:80; {py} {pr} socket icmp; "
              "{py} {pr} resolve secret.test; exit 0").format(py=PY, pr=PROBE)
    r = d.run("np", ["sh", "-c", script])
    eq(r.rc, 0, "the job's exit status: %s" % r.err[-600:])
    lines = notices(r.err)
    with open(ctx.path("notices.txt"), "w") as f:
        f.write(r.err)
    tcp = [l for l in lines if "TCP connection to 198.18.2.4 port 80" in l]
    eq(len(tcp), 2, "notices of the denied TCP host (one a process): %r" % lines)
    check(all(NOTICE in l and "from python3" in l and "(policy np)" in l and
              "This is the fence's policy, not a network fault." in l and
              "To allow it: egressctl policy add np '198.18.2.4:80'" in l for l in tcp),
          "the words of a TCP notice: %r" % tcp)
    check(tcp[0].split("(pid ")[1] != tcp[1].split("(pid ")[1],
          "the two TCP notices are of one process: %r" % tcp)
    udp = [l for l in lines if "UDP datagram to 198.18.1.5 port 9999" in l or
           "UDP connection to 198.18.1.5 port 9999" in l]
    eq(len(udp), 1, "the UDP notice: %r" % lines)
    check("egressctl policy add np '198.18.1.5:9999/udp'" in udp[0], "UDP allow: %r" % udp)
    check(lines.index(tcp[0]) < lines.index(udp[0]),
          "notices out of order (TCP was first): %r" % lines)
    sock = [l for l in lines if "a socket (" in l]
    check(len(sock) == 1 and "icmp" in sock[0].lower() and "\"sockets\" settings" in sock[0], "the raw socket's notice (%s): %r" % (
        ctx.path("notices.txt"), sock))
    dns = [l for l in lines if "DNS query for secret.test (A)" in l]
    check(len(dns) == 1 and "no rule names the host" in dns[0] and
          "egressctl policy add np 'secret.test:443'" in dns[0], "the DNS notice: %r" % lines)
    check(not any("198.18.1.1" in l for l in lines), "a notice of allowed traffic: %r" % lines)
    # the refusals are the fence's: the journal has them
    d.decision(r.job, "198.18.2.4", 80)
    summary = [l for l in lines if l.startswith("egress-fence: job ")]
    check(summary and "egressctl report %s" % r.job in summary[-1],
          "no summary line at the end: %r" % lines)


@test(timeout=120)
def test_notices_quiet_and_json_file(ctx):
    d = ctx.daemon(policies={"np": pol(allow=["198.18.1.1:443"])})
    f = ctx.path("notices.jsonl")
    r = d.probe("np", "connect", "198.18.2.4:80", extra=["--quiet"], rc=None,
                env={"EGRESS_FENCE_NOTICES": f})
    check(not notices(r.err), "--quiet printed notices: %r" % r.err)
    with open(f) as fh:
        got = [json.loads(l) for l in fh if l.strip()]
    eq(len(got), 1, "JSON notices: %r" % got)
    n = got[0]
    eq(n["kind"], "connect", "kind")
    eq(n["decision"], "deny", "decision")
    eq(n["reason"], "no_rule", "reason")
    eq(n["policy"], "np", "policy")
    eq(n["job_id"], r.job, "job id")
    eq(n["destination"], {"address": "198.18.2.4", "port": 80, "transport": "tcp"}, "destination")
    check(n["process"]["executable"].startswith("python3") and n["process"]["pid"] > 1,
          "process: %r" % n)
    eq(n["allow_command"], "egressctl policy add np '198.18.2.4:80'", "allow command")
    # --notices FILE does the same; the option wins over the variable
    g = ctx.path("opt.jsonl")
    r = d.probe("np", "connect", "198.18.2.5:81", extra=["--notices", g], rc=None,
                env={"EGRESS_FENCE_NOTICES": f})
    eq(len(notices(r.err)), 2, "a notice and the summary on stderr: %r" % r.err)
    with open(g) as fh:
        eq(len([l for l in fh if l.strip()]), 1, "the --notices file")
    with open(f) as fh:
        eq(len([l for l in fh if l.strip()]), 1, "the variable's file, untouched")
    # nothing refused: nothing printed, nothing written
    h = ctx.path("none.jsonl")
    r = d.probe("np", "connect", "198.18.1.1:443", extra=["--notices", h])
    check(not notices(r.err), "allowed traffic printed a notice: %r" % r.err)
    eq(os.path.getsize(h), 0, "allowed traffic wrote a notice")
    # an empty variable is no file (as unset): the job runs, notices on stderr
    r = d.probe("np", "connect", "198.18.2.6:82", rc=None, env={"EGRESS_FENCE_NOTICES": ""})
    check(r.rc == 0 and "egress-fence: refused TCP connection to 198.18.2.6" in r.err,
          "EGRESS_FENCE_NOTICES empty: %r" % r.err[-300:])
    # a notices file that cannot be opened: the command does not run
    r = d.run("np", ["sh", "-c", "touch %s" % ctx.path("ran")],
              extra=["--notices", "/nonexistent-dir/n.jsonl"])
    eq(r.rc, 125, "an unwritable notices file: %s" % r.err)
    check("notices file" in r.err and not os.path.exists(ctx.path("ran")),
          "the command ran, or no reason: %r" % r.err)


@test(timeout=150)
def test_fail_on_deny_exit_status(ctx):
    d = ctx.daemon(policies={"np": pol(allow=["198.18.1.1:443"]),
                             "strict": pol(allow=["198.18.1.1:443"], fail_on_deny=True)})
    r = d.probe("np", "connect", "198.18.1.1:443", extra=["--fail-on-deny"])
    eq(r.rc, 0, "--fail-on-deny, nothing denied")
    r = d.probe("np", "connect", "198.18.2.4:80", extra=["--fail-on-deny"], rc=None)
    eq(r.rc, 122, "--fail-on-deny, a denial, the command exited 0: %s" % r.err[-400:])
    check("failing the step (fail on deny): 1 refused" in r.err, "the summary line: %r" % r.err)
    r = d.run("np", ["sh", "-c", "%s %s connect 198.18.2.4:80; exit 3" % (PY, PROBE)],
              extra=["--fail-on-deny"])
    eq(r.rc, 3, "--fail-on-deny keeps the command's own failure")
    r = d.probe("np", "connect", "198.18.2.4:80", rc=None)
    eq(r.rc, 0, "without --fail-on-deny a denial leaves the status alone")
    r = d.probe("strict", "connect", "198.18.2.4:80", rc=None)
    eq(r.rc, 122, "a policy with \"fail_on_deny\": true: %s" % r.err[-300:])
    r = d.probe("strict", "resolve", "secret.test", extra=["--quiet"], rc=None)
    eq(r.rc, 122, "a refused DNS query fails it too")
    check(not [l for l in notices(r.err) if NOTICE in l], "--quiet: %r" % r.err)
    check("failing the step" in r.err, "--quiet keeps the failing line: %r" % r.err)
    # a probe flag: its notice, and counted in the verdict
    d.write_policy("prb", dict(name="prb", **pol(allow=["198.18.1.1:443"],
                                                 probe={"denied_dests": 2})))
    r = d.probe("prb", "connect", "198.18.2.4:80", "198.18.2.5:80", "198.18.2.6:80",
                extra=["--fail-on-deny"], rc=None)
    eq(r.rc, 122, "a probe flag and refusals: %s" % r.err[-300:])
    check("egress-fence: the job is flagged as probing (dest_scan)" in r.err,
          "the flag's notice: %r" % r.err)
    check(", 1 probe flag" in r.err, "the flag in the verdict line: %r" % r.err)
    # audit mode: what enforce would refuse fails it
    d.write_policy("aud", dict(name="aud", **pol(allow=["198.18.1.1:443"], mode="audit")))
    r = d.probe("aud", "connect", "198.18.2.4:80", extra=["--fail-on-deny"], rc=None)
    eq(r.rc, 122, "audit mode, a would-deny: %s" % r.err[-300:])
    check("egress-fence: would refuse TCP connection to 198.18.2.4 port 80" in r.err,
          "the audit notice: %r" % r.err)


@test(timeout=120)
def test_run_signals_and_status_pass_through(ctx):
    d = ctx.daemon(policies={"np": pol(allow=["198.18.1.1:443"])})
    ready = ctx.path("ready")
    got = ctx.path("got")
    prog = ("import signal,sys,time,os\n"
            "def h(s,f):\n"
            "    open(%r,'a').write('%%d\\n' %% s)\n"
            "    if s == signal.SIGTERM: sys.exit(7)\n"
            "for s in (signal.SIGTERM, signal.SIGUSR1, signal.SIGHUP):\n"
            "    signal.signal(s, h)\n"
            "open(%r,'w').write(str(os.getpid()))\n"
            "while True: time.sleep(0.1)\n") % (got, ready)
    bg = d.spawn("np", [PY, "-c", prog])
    wait_until(lambda: os.path.exists(ready) and os.path.getsize(ready), 20, what="the job")
    os.kill(bg.proc.pid, signal.SIGUSR1)
    os.kill(bg.proc.pid, signal.SIGHUP)
    wait_until(lambda: os.path.exists(got) and len(open(got).read().split()) == 2, 10,
               what="SIGUSR1 and SIGHUP forwarded")
    os.kill(bg.proc.pid, signal.SIGTERM)
    eq(bg.wait(20), 7, "the command's exit status after SIGTERM")
    sigs = open(got).read().split()
    # pending together, standard signals are taken lowest number first
    eq(sorted(sigs[:2]), sorted([str(int(signal.SIGUSR1)), str(int(signal.SIGHUP))]),
       "SIGUSR1 and SIGHUP, each once: %r" % sigs)
    eq(sigs[2:], [str(int(signal.SIGTERM))], "then SIGTERM, once")
    # the command killed by a signal: egressctl run dies of the same one
    os.unlink(ready)
    bg = d.spawn("np", [PY, "-c", prog])
    wait_until(lambda: os.path.exists(ready) and os.path.getsize(ready), 20, what="the job")
    kill_pid(int(open(ready).read()), signal.SIGKILL)
    eq(bg.wait(20), -signal.SIGKILL, "egressctl run's status when its command was killed")
    # an egressctl run killed outright takes its command with it
    os.unlink(ready)
    bg = d.spawn("np", [PY, "-c", prog])
    wait_until(lambda: os.path.exists(ready) and os.path.getsize(ready), 20, what="the job")
    child = int(open(ready).read())
    os.kill(bg.proc.pid, signal.SIGKILL)
    bg.wait(20)
    wait_until(lambda: not os.path.exists("/proc/%d" % child), 10,
               what="the command to end with its egressctl run")


@test(timeout=120)
def test_journal_group_lets_the_runner_read_reports(ctx):
    """"journal": {"group"}: the state directory, the journal directory and
    its files get the group (a CI runner's user reads its jobs' reports);
    no one else gets anything; an unknown group stops egressd at start."""
    import grp
    import pwd
    import stat
    import subprocess
    g = grp.getgrnam("nogroup")
    d = ctx.daemon({"np": pol(allow=["198.18.1.1:443"])}, config={"journal": {"group": "nogroup"}})
    r = d.probe("np", "connect", "198.18.2.4:80", rc=None)
    d.job_span(r.job)
    eq(os.stat(d.state_dir).st_gid, g.gr_gid, "the state directory's group")
    st = os.stat(os.path.join(d.state_dir, "journal"))
    eq((st.st_gid, stat.S_IMODE(st.st_mode)), (g.gr_gid, 0o750), "the journal directory")
    files = d.journal_files()
    check(files, "no journal file")
    for f in files:
        st = os.stat(f)
        eq((st.st_gid, stat.S_IMODE(st.st_mode)), (g.gr_gid, 0o640), "group and mode of %s" % f)
    # nobody, in group nogroup, reads the job's report (its way to the state
    # directory opened for the test: the test's own directories are 0700)
    nobody = pwd.getpwnam("nobody")
    for p in (os.path.dirname(d.state_dir.rstrip("/")),):
        os.chmod(p, os.stat(p).st_mode | 0o011)
    rep = subprocess.run(["setpriv", "--reuid=%d" % nobody.pw_uid, "--regid=%d" % g.gr_gid,
                          "--clear-groups", d.egressctl, "report", r.job, "--format", "json",
                          "--state-dir", d.state_dir], capture_output=True, text=True, timeout=30)
    eq(rep.returncode, 0, "egressctl report as nobody:nogroup: %s" % rep.stderr)
    eq(json.loads(rep.stdout)["job"]["id"], r.job, "the report's job")
    outside = grp.getgrnam("daemon").gr_gid
    rep = subprocess.run(["setpriv", "--reuid=%d" % nobody.pw_uid, "--regid=%d" % outside,
                          "--clear-groups", d.egressctl, "report", r.job, "--state-dir",
                          d.state_dir], capture_output=True, text=True, timeout=30)
    check(rep.returncode != 0, "a user outside the group read the journal: %r" % rep.stdout)
    for bad in ("no-such-group-ef", "", -1, True):
        e = ctx.daemon({}, start=False, config={"journal": {"group": bad}})
        try:
            e.start(timeout=10)
        except AssertionError as ex:
            check("journal.group" in str(ex), "the error does not name journal.group: %s" % ex)
        else:
            raise AssertionError("egressd started with journal.group %r" % (bad,))


@test(timeout=120)
def test_run_exec_no_parent(ctx):
    """--exec: egressctl execs the command in its own place (no notices,
    no parent); refused with --fail-on-deny, a notices file, or a policy
    that fails on deny."""
    d = ctx.daemon(policies={"np": pol(allow=["198.18.1.1:443"]),
                             "strict": pol(allow=["198.18.1.1:443"], fail_on_deny=True)})
    r = d.run("np", ["sh", "-c", "echo $PPID; %s %s connect 198.18.2.4:80 >/dev/null" % (
        PY, PROBE)], extra=["--exec"])
    eq(r.rc, 0, "--exec: %s" % r.err)
    check(not notices(r.err), "--exec printed notices: %r" % r.err)
    d.decision(r.job, "198.18.2.4", 80)
    for extra, env, word in ((["--exec", "--fail-on-deny"], None, "--fail-on-deny"),
                             (["--exec"], {"EGRESS_FENCE_NOTICES": ctx.path("n")}, "notices")):
        r = d.run("np", ["touch", ctx.path("ran")], extra=extra, env=env)
        eq(r.rc, 2, "%s: %s" % (extra, r.err))
        check(word in r.err and not os.path.exists(ctx.path("ran")), "%s: %r" % (extra, r.err))
    r = d.run("strict", ["touch", ctx.path("ran")], extra=["--exec"])
    eq(r.rc, 125, "--exec under a fail_on_deny policy: %s" % r.err)
    check("fail_on_deny" in r.err and not os.path.exists(ctx.path("ran")), r.err)


@test(timeout=150)
def test_fail_on_deny_leaves_no_process_to_try_later(ctx):
    """A command that exits 0 and leaves a process behind to try later
    (after the verdict) does not pass --fail-on-deny: the process is ended,
    and the verdict waits for the job's end. One that tries before is
    counted."""
    d = ctx.daemon(policies={"np": pol(allow=["198.18.1.1:443"])})
    late = ctx.path("late-tried")
    r = d.run("np", ["sh", "-c", "(sleep 4; %s %s connect 198.18.2.8:443 >/dev/null; touch %s) "
                     ">/dev/null 2>&1 & exit 0" % (PY, PROBE, late)], extra=["--fail-on-deny"])
    check("ending them for a complete verdict" in r.err, "no word of the leftover: %r" % r.err)
    eq(r.rc, 0, "nothing was refused before the leftover was ended: %s" % r.err[-400:])
    time.sleep(5)
    check(not os.path.exists(late), "the leftover process went on after the verdict")
    wait_until(lambda: not d.jobs(), 10, what="the job to end")
    # a leftover that tries at once: its refusal is in the verdict
    r = d.run("np", ["sh", "-c", "(%s %s connect 198.18.2.8:443; sleep 30) >/dev/null 2>&1 & "
                     "sleep 1; exit 0" % (PY, PROBE)], extra=["--fail-on-deny"])
    eq(r.rc, 122, "a leftover's refusal before the verdict: %s" % r.err[-400:])
    check("1 refused" in r.err, "the count: %r" % r.err)


@test(timeout=120)
def test_parent_out_of_the_jobs_reach(ctx):
    """The job cannot limit, renice or signal egressctl run's parent (it
    would lose the notices file or kill the verdict); an executable name
    that is not UTF-8 still makes a notices file of valid JSON lines."""
    import shutil
    d = ctx.daemon(policies={"np": pol(allow=["198.18.1.1:443"])})
    f = ctx.path("n.jsonl")
    # the job's sh is the parent's child: its parent is egressctl run's
    prog = ("import os,resource,signal,json,errno\n"
            "sup=int(open('/proc/%d/stat' % os.getppid()).read().rsplit(')',1)[1].split()[1])\n"
            "out={}\n"
            "for name,fn in (('prlimit', lambda: resource.prlimit(sup, "
            "resource.RLIMIT_FSIZE, (0,0))), ('setpriority', lambda: os.setpriority("
            "os.PRIO_PROCESS, sup, 19)), ('kill', lambda: os.kill(sup, signal.SIGSTOP))):\n"
            "    try:\n        fn(); out[name]='ok'\n"
            "    except OSError as e:\n        out[name]=errno.errorcode[e.errno]\n"
            "print(json.dumps(out))\n")
    weird = os.path.join(ctx.tmp.encode(), b"py\xff\xfe\xe2\x80\xae")
    shutil.copy(PY, weird)
    os.chmod(weird, 0o755)
    conn = "import socket; s = socket.socket(); s.settimeout(2); s.connect_ex(('198.18.2.4', 80))"
    r = d.run("np", ["sh", "-c", '%s -c "$1" && "$2" -c "$3"' % PY, "sh", prog,
                     weird.decode("utf-8", "surrogateescape"), conn],
        extra=["--notices", f])
    got = json.loads(r.out.strip().splitlines()[0])
    # (the parent's pid, as the job saw it, is not egressd's: kept out of reach on its own)
    eq(got, {"prlimit": "EPERM", "setpriority": "EPERM", "kill": "EPERM"},
       "what the job could do to egressctl run's parent")
    with open(f, "rb") as fh:
        lines = [json.loads(l.decode("utf-8")) for l in fh if l.strip()]
    conns = [n for n in lines if n["kind"] == "connect"]
    check(len(conns) == 1 and conns[0]["destination"]["address"] == "198.18.2.4",
          "the notice of the oddly named executable: %r; stderr %r" % (lines, r.err[-600:]))
    check(conns[0]["process"]["executable"].startswith("py?"),
          "the executable's name: %r" % conns[0]["process"])
    # the attempts on the parent are the job's tampering, recorded
    tampers = sorted(n["reason"] for n in lines if n["kind"] == "tamper")
    eq(tampers, ["tamper_resource", "tamper_resource", "tamper_signal"],
       "the attempts on egressctl run's parent, as notices")
    check("\u202e" not in r.err, "a bidi override reached the notice on stderr: %r" % r.err)


WATCH_FROM_JOB = r"""
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(json.dumps({"op": "watch", "job_id": sys.argv[2]}).encode() + b"\n")
s.settimeout(10)
print(s.makefile().readline(), flush=True)
"""


@test(timeout=150)
def test_watch_bad_requests(ctx):
    """The watch ops fed garbage: each a clear error, the daemon unchanged
    (a real watch on the same daemon still gets its notice). A job may not
    watch, itself or another: refused and recorded as its tampering."""
    import socket
    d = ctx.daemon(policies={"np": pol(allow=["198.18.1.1:443"])})
    ready = ctx.path("ready")
    bg = d.spawn("np", ["sh", "-c", "touch %s; sleep 30" % ready])
    wait_until(lambda: os.path.exists(ready), 20, what="the job")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(d.sock)
    s.settimeout(10)
    f = s.makefile("rwb")

    def ask(obj):
        f.write((obj if isinstance(obj, str) else json.dumps(obj)).encode() + b"\n")
        f.flush()
        return json.loads(f.readline())

    for req, word in (({"op": "watch_summary"}, "watches no job"),
                      ({"op": "watch"}, "\"job_id\" must be a string"),
                      ({"op": "watch", "job_id": 7}, "\"job_id\" must be a string"),
                      ({"op": "watch", "job_id": "no-such-job"}, "no running job"),
                      ({"op": "watch", "job_id": "x" * 5000}, "no running job")):
        rep = ask(req)
        check(rep.get("ok") is False and word in rep.get("error", ""),
              "%r: %r" % (req, rep))
    rep = ask({"op": "watch", "job_id": bg.job})
    check(rep.get("ok") is True and rep.get("job_id") == bg.job, "a good watch: %r" % rep)
    rep = ask({"op": "watch", "job_id": bg.job})
    check(rep.get("ok") is False and "already watches" in rep.get("error", ""),
          "a second watch on one connection: %r" % rep)
    rep = ask({"op": "watch_summary"})
    eq((rep["summary"]["job_id"], rep["summary"]["denied"], rep["summary"]["ended"]),
       (bg.job, 0, False), "the summary of a running job with nothing refused")
    # a fifth watcher of one job, and a sixth
    extra = []
    for i in range(4):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(d.sock)
        c.settimeout(10)
        c.sendall(json.dumps({"op": "watch", "job_id": bg.job}).encode() + b"\n")
        extra.append((c, json.loads(c.makefile().readline())))
    oks = [r.get("ok") for _, r in extra]
    # its own egressctl run and the connection above watch it already
    eq(oks, [True, True, False, False], "watchers of one job (at most 4)")
    check("watchers already" in extra[-1][1].get("error", ""), "the fifth: %r" % extra[-1][1])
    for c, _ in extra:
        c.close()
    s.close()
    # from inside a job: refused, recorded as the job's tampering
    r = d.run("np", [PY, "-c", WATCH_FROM_JOB, d.sock, bg.job])
    rep = json.loads(r.out.strip().splitlines()[-1])
    check(rep.get("ok") is False and "fenced" in rep.get("error", ""),
          "a job's watch request: %r" % rep)
    d.wait_spans("egress.tamper", job=r.job, timeout=10)
    # unchanged: a real job's notice still comes
    r = d.probe("np", "connect", "198.18.2.4:80", rc=None)
    check("egress-fence: refused TCP connection to 198.18.2.4 port 80" in r.err,
          "no notice after the bad requests: %r" % r.err)
    bg.proc.terminate()
