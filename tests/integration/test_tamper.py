"""Tamper resistance: a fenced job, even as root, cannot take the fence down.
Each attempt is refused, becomes an egress.tamper span and flags the job
(probe reason "tamper"); the fence keeps enforcing and egressd stays up.

This kernel refuses BPF LSM programs, so what is tested here is the guard
of egressctl run (cli/guard.c) and the recorders (lsm/tamper.bpf.c
tracepoints), and that the missing BPF LSM is reported, not silent."""
import json
import os

from run import test, pol, allowed, denied, check, eq, wait_until, PY, PROBE
from test_policy_live import as_user

HERE = os.path.dirname(os.path.abspath(__file__))
TAMPER = os.path.join(HERE, "tamper.py")
ALLOW, DENY = "198.18.1.1:443", "198.18.2.1:443"

# op -> errno wanted ("" and ok=True: allowed; "*": refused with any errno)
WANT = {
    "bpf_map_create": "EPERM", "bpf_obj_get": "EPERM",
    "cgroup_procs_root": "EROFS", "cgroup_procs_fence_root": "EROFS",
    "cgroup_procs_relative": "EROFS", "cgroup_mkdir_fence_root": "EROFS",
    "cgroup_freeze_fence_root": "EROFS",
    "cgroup_mkdir_nested": "", "cgroup_rmdir_nested": "",
    "pin_unlink": "EROFS", "pin_rename": "EROFS", "pin_mkdir": "EROFS",
    "umount_bpffs": "EPERM", "mount_over_bpffs": "EPERM", "remount_cgroup_rw": "EPERM",
    "kill_egressd": "EPERM", "kill_every_process": "EPERM", "tgkill_egressd": "EPERM",
    "tkill_egressd": "EPERM", "pidfd_open_egressd": "EPERM",
    "pidfd_send_signal_proc_dir": "*",
    "ptrace_attach_egressd": "EPERM", "ptrace_seize_egressd": "EPERM",
    "process_vm_readv_egressd": "EPERM", "open_egressd_mem": "*",
    "setns_host_mnt": "*",
    "write_core_pattern": "EROFS",
    "finit_module": "EPERM|ENOSYS",  # ENOSYS: a kernel without modules
}

# reason -> the least number of egress.tamper spans the attempts above make
RECORDED = {
    "tamper_bpf": 2, "tamper_cgroup": 5, "tamper_pin": 3, "tamper_mount": 3,
    "tamper_signal": 5, "tamper_ptrace": 3, "tamper_kernel": 1,
}


def tamper_argv(d):
    return [PY, TAMPER, str(d.pid), d.ctx.cgroup2, d.cgroup_root, d.bpffs_dir]


def results(r):
    out = {}
    for line in r.out.splitlines():
        if line.startswith("{"):
            x = json.loads(line)
            out[x["op"]] = x
    return out


def check_attempts(res, want=WANT):
    bad = []
    for op, err in want.items():
        x = res.get(op)
        if x is None:
            bad.append("%s: no result" % op)
        elif err == "" and not x["ok"]:
            bad.append("%s: refused (%s), should work" % (op, x["errno"]))
        elif err and x["ok"]:
            bad.append("%s: SUCCEEDED, should be refused" % op)
        elif err not in ("", "*") and x["errno"] not in err.split("|"):
            bad.append("%s: %s, want %s" % (op, x["errno"] or "ok", err))
    check(not bad, "tamper attempts:\n  " + "\n  ".join(bad))


def pins_intact(d, before):
    now = sorted(os.listdir(d.bpffs_dir))
    eq(now, before, "the fence's pins after the attempts")


@test(timeout=180)
def test_root_job_cannot_take_the_fence_down(ctx):
    d = ctx.daemon({"t": pol(allow=[ALLOW])})
    pins = sorted(os.listdir(d.bpffs_dir))
    check(os.geteuid() == 0, "the job must run as root for this test")
    r = d.run("t", ["/bin/sh", "-c", '"$@"; exec %s %s connect %s %s' % (
        PY, PROBE, ALLOW, DENY), "sh"] + tamper_argv(d), timeout=90)
    check(r.rc == 0, "the job failed (rc %d): %s" % (r.rc, r.err[-1500:]))
    res = results(r)
    check_attempts(res)
    # the fence still holds, for this job and the next
    allowed(r.get(ALLOW))
    denied(r.get(DENY))
    check(d.alive(), "egressd died: %s" % d.log_tail())
    pins_intact(d, pins)
    r2 = d.probe("t", "connect", ALLOW, DENY)
    allowed(r2.get(ALLOW))
    denied(r2.get(DENY))
    # every kind of attempt is recorded, as a decision span of the job
    for reason, n in RECORDED.items():
        # identical attempts of one process fold into one span with egress.count
        wait_until(lambda: sum(int(s.get("egress.count", 1)) for s in d.find(
            "egress.tamper", r.job, where={"egress.reason": reason})) >= n, 10,
            what="%d %s attempts recorded" % (n, reason))
        spans = d.find("egress.tamper", r.job, where={"egress.reason": reason})
        for s in spans:
            eq(s.get("egress.decision"), "deny", "%s span decision" % reason)
            eq(s.get("egress.tamper.via"), "guard", "%s span egress.tamper.via" % reason)
            eq(s.status_code, 2, "%s span status (ERROR)" % reason)
            check(s.get("process.pid") and s.get("process.user.id") == 0,
                  "%s span lacks the process: %s" % (reason, s.attrs))
    sig = d.find("egress.tamper", r.job, where={"egress.reason": "tamper_signal",
                                                "egress.tamper.syscall": "kill"})
    check(any(s.get("egress.tamper.target.pid") == d.pid for s in sig),
          "no kill span names egressd's pid %d: %s" % (d.pid, [s.attrs for s in sig]))
    # and flags the job: one egress.probe per kind of attempt
    probes = d.wait_spans("egress.probe", r.job, n=len(RECORDED),
                          where={"egress.probe.reason": "tamper"})
    subjects = {s.get("egress.probe.subject") for s in probes}
    check(set(RECORDED) <= subjects, "probe flags %s, want %s" % (subjects, set(RECORDED)))
    js = d.job_span(r.job)
    eq(js.get("egress.tamper_protection"), "guard", "egress.job egress.tamper_protection")
    eq(js.get("egress.flagged"), True, "egress.job egress.flagged")
    st = d.status()["tamper_protection"]
    check(st["refused"] >= sum(RECORDED.values()), "status tamper_protection: %s" % st)


@test(timeout=120)
def test_job_cannot_use_the_control_socket_against_the_fence(ctx):
    d = ctx.daemon({"t": pol(allow=[ALLOW]), "open": pol(allow=[DENY])})
    ctl = "%s --socket %s" % (d.egressctl, d.sock)
    script = ("%s run --policy open -- %s %s connect %s; echo \"nested rc=$?\"; "
              "%s policy add t %s; echo \"add rc=$?\"; "
              "%s status --json >/dev/null; echo \"status rc=$?\"; "
              "exec %s %s connect %s") % (ctl, PY, PROBE, DENY, ctl, DENY, ctl, PY, PROBE, DENY)
    r = d.run("t", ["/bin/sh", "-c", script], timeout=60)
    check("nested rc=125" in r.out, "a nested egressctl run was not refused: %s / %s" % (
        r.out[-800:], r.err[-800:]))
    check("fenced" in r.err, "the refusal does not say why: %s" % r.err[-800:])
    check("add rc=1" in r.out or "add rc=2" in r.out, "policy add from a job was not refused: "
          "%s" % r.out[-800:])
    check("status rc=0" in r.out, "a job may still read status: %s" % r.out[-800:])
    last = json.loads([x for x in r.out.splitlines() if x.startswith("{")][-1])
    denied(last)
    eq(open(os.path.join(d.policy_dir, "t.json")).read().count(DENY), 0,
       "the policy file after a refused add")
    spans = d.wait_spans("egress.tamper", r.job, n=2, where={"egress.reason": "tamper_control"})
    reqs = sorted(s.get("egress.tamper.request") for s in spans)
    eq(reqs, ["policy_add", "run"], "egress.tamper.request of the control refusals")
    for s in spans:
        eq(s.get("process.executable.name"), "egressctl", "process.executable.name")
        eq(s.get("process.executable.path"), os.path.realpath(d.egressctl),
           "process.executable.path of a control refusal")
    d.wait_spans("egress.probe", r.job, where={"egress.probe.reason": "tamper"})


@test(timeout=120)
def test_tamper_attempt_kills_job_when_policy_says_kill(ctx):
    d = ctx.daemon({"k": pol(allow=[ALLOW], probe={"action": "kill"})})
    r = d.run("k", ["/bin/sh", "-c", '"$@"; sleep 20; echo survived', "sh"] + tamper_argv(d),
              timeout=60)
    check("survived" not in r.out, "the job outlived its tamper attempts (probe action kill)")
    p = d.wait_spans("egress.probe", r.job, where={"egress.probe.reason": "tamper"})
    eq(p[0].get("egress.probe.action"), "kill", "egress.probe.action")


@test(timeout=120)
def test_unprivileged_job_gets_no_new_privs_and_is_recorded(ctx):
    d = ctx.daemon({"t": pol(allow=[ALLOW], mode="audit")})
    script = ("grep NoNewPrivs /proc/self/status; "
              "exec %s -c 'import ctypes,json;l=ctypes.CDLL(None,use_errno=True);"
              "b=ctypes.create_string_buffer(128);"
              "r=l.syscall(321,0,ctypes.addressof(b),128);"
              "print(json.dumps({\"bpf\":r,\"errno\":ctypes.get_errno()}))'") % PY
    job = ctx.job_id()
    r = as_user(d, 65534, "run", "--policy", "t", "--job-id", job, "--", "/bin/sh", "-c", script, timeout=60)
    check(r.returncode == 0, "job failed: %s" % r.stderr[-800:])
    check("NoNewPrivs:\t1" in r.stdout, "an unprivileged job's guard sets no_new_privs: %s" %
          r.stdout)
    res = json.loads([x for x in r.stdout.splitlines() if x.startswith("{")][0])
    check(res["bpf"] == -1 and res["errno"] == 1, "bpf() from the job: %s" % res)
    s = d.wait_spans("egress.tamper", job, where={"egress.reason": "tamper_bpf"})
    eq(s[0].get("process.user.id"), 65534, "process.user.id of the tamper span")


@test(timeout=120)
def test_missing_bpf_lsm_is_reported_not_silent(ctx):
    d = ctx.daemon({"t": pol(allow=[ALLOW])})
    lsm = open("/sys/kernel/security/lsm").read().strip() if os.path.exists(
        "/sys/kernel/security/lsm") else ""
    st = d.status()["tamper_protection"]
    # this kernel refuses BPF LSM programs (see the README): the guard is in use
    eq(st["bpf_lsm"], False, "tamper_protection.bpf_lsm (active LSMs: %s)" % lsm)
    eq(st["mode"], "guard", "tamper_protection.mode")
    check(st.get("why"), "status does not say why BPF LSM is not used: %s" % st)
    check(st.get("attempts_recorded") is True, "the recorders are not attached: %s" % st)
    log = open(d.log_path, errors="replace").read()
    check("tamper resistance: BPF LSM unavailable" in log and st["why"] in log,
          "egressd does not say at start that BPF LSM is unavailable: %s" % d.log_tail())
    out = d.ctl("status").stdout
    check("tamper" in out and "guard" in out, "`egressctl status` does not show the tamper "
          "protection in use: %s" % out)
    r = d.probe("t", "info")
    js = d.job_span(r.job)
    eq(js.get("egress.tamper_protection"), "guard", "egress.job egress.tamper_protection")
    wait_until(lambda: d.alive(), 1, what="egressd")



@test(timeout=120)
def test_malformed_guard_in_reply_never_runs_the_command(ctx):
    """A stand-in egressd answers `run` as egressd would (ok, the caller's
    own cgroup) but with a broken "guard": egressctl must exit 125, say why,
    and never run the command."""
    import socket
    import struct
    import subprocess
    import threading

    egressctl = os.path.join(ctx.build, "egressctl")
    sock_path = ctx.path("fake.sock")
    marker = ctx.path("ran")
    bad = [
        ({"pids": ["12"]}, "malformed guard"),
        ({"pids": [0]}, "malformed guard"),
        ({"pids": [-5]}, "malformed guard"),
        ({"pids": [1e12]}, "malformed guard"),
        ({"pids": list(range(100, 200))}, "malformed guard"),
        ({"pids": "1"}, "malformed guard"),
        ({"pids": [1], "job_cgroup": ctx.path("no-such-cgroup")}, "writable"),
    ]
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(sock_path)
    srv.listen(4)
    replies = []

    def serve():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            with c:
                c.recv(65536)
                pid = struct.unpack("3i", c.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                        12))[0]
                cg = [x[3:] for x in open("/proc/%d/cgroup" % pid).read().splitlines()
                      if x.startswith("0::")][0]
                reply = {"ok": True, "job_id": "fake", "cgroup": cg,
                         "traceparent": "00-%s-%s-01" % ("1" * 32, "2" * 16),
                         "policy": "t", "mode": "enforce", "guard": replies.pop(0)}
                c.sendall((json.dumps(reply) + "\n").encode())
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        for guard, why in bad:
            replies.append(guard)
            p = subprocess.run([egressctl, "--socket", sock_path, "run", "--", "/usr/bin/touch",
                                marker], capture_output=True, text=True, timeout=30,
                               stdin=subprocess.DEVNULL)
            check(p.returncode == 125, "guard %s: egressctl exited %d (want 125): %s" % (
                guard, p.returncode, p.stderr))
            check(why in p.stderr and "not running /usr/bin/touch unfenced" in p.stderr,
                  "guard %s: the message does not say why (%r): %s" % (guard, why, p.stderr))
            check(not os.path.exists(marker), "guard %s: the command ran" % guard)
    finally:
        srv.close()
