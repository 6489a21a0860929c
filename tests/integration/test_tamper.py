"""Tamper resistance: a fenced job, even as root, cannot take the fence down.
Each attempt is refused, becomes an egress.tamper span and flags the job
(probe reason "tamper"); the fence keeps enforcing and egressd stays up.

Two modes (docs/threat-model.md): where the kernel runs BPF LSM programs,
the lsm/ hooks of lsm/tamper.bpf.c refuse (EPERM) and record; elsewhere
egressctl run's guard (cli/guard.c: seccomp, read-only mounts) refuses
(EPERM, EROFS) and the tracepoints record. This machine's kernel refuses
BPF LSM programs: the guard is tested here; `make vmtest` runs these tests
on Debian 12's stock kernel, where BPF LSM is active. Each test asserts the
mode this kernel must give (expected_mode()) and notes which it saw."""
import json
import os
import pwd
import subprocess

from harness import test, pol, allowed, denied, check, eq, wait_until, PY, PROBE
from test_policy_live import as_user

HERE = os.path.dirname(os.path.abspath(__file__))
TAMPER = os.path.join(HERE, "tamper.py")
ALLOW, DENY = "198.18.1.1:443", "198.18.2.1:443"

# op -> errno wanted, per mode ("": allowed; "*": refused with any errno;
# "?": not asserted)
COMMON = {
    "bpf_map_create": "EPERM", "bpf_obj_get": "EPERM",
    "cgroup_mkdir_nested": "", "cgroup_rmdir_nested": "",
    "mount_over_bpffs": "EPERM", "remount_cgroup_rw": "EPERM", "mount_tmpfs": "EPERM",
    "move_mount_clone": "EPERM", "pivot_root": "EPERM",
    "kill_egressd": "EPERM", "tgkill_egressd": "EPERM",
    "tkill_egressd": "EPERM",
    "pidfd_send_signal_proc_dir": "*",
    "ptrace_attach_egressd": "EPERM", "ptrace_seize_egressd": "EPERM",
    "process_vm_readv_egressd": "EPERM", "open_egressd_mem": "*",
    "finit_module": "EPERM|ENOSYS",  # ENOSYS: a kernel without modules
    # an outsider with every capability: the job's smaller root may not
    # trace it (capabilities, both modes), nor take its descriptors
    "ptrace_attach_outsider": "EPERM", "pidfd_getfd_outsider": "EPERM",
    # issue 17: egressd's resources, and a child started in another cgroup
    "setpriority_egressd": "EPERM", "sched_setaffinity_egressd": "EPERM",
    "sched_setscheduler_egressd": "EPERM", "prlimit_egressd": "EPERM",
    "ioprio_set_egressd": "EPERM",
    # the kernel would run /sbin/request-key outside every cgroup
    "request_key_callout": "EPERM",
    # pid 1's mount namespace through /proc/1/root: no ptrace access to it
    "cgroup_procs_via_proc1_root": "*",
}
# what a read-only mount refuses, and how
WRITES = ["cgroup_procs_root", "cgroup_procs_fence_root", "cgroup_procs_relative",
          "cgroup_mkdir_fence_root", "cgroup_rmdir_fence_root", "cgroup_rename_fence_root",
          "cgroup_freeze_fence_root", "pin_unlink", "pin_rename",
          "pin_mkdir", "write_core_pattern", "open_sysrq_trigger", "open_sysfs", "open_tracefs",
          "open_securityfs"]
WANT = {
    "guard": {**COMMON, **{op: "EROFS" for op in WRITES}, **{
        # ENOENT: a kernel without magic sysrq (this machine's)
        "open_sysrq_trigger": "EROFS|ENOENT",
        "umount_bpffs": "EPERM", "kill_every_process": "EPERM", "setns_host_mnt": "*",
        "pidfd_open_egressd": "EPERM",
        # an outsider of the uid the job turns into: the job's Landlock
        # domain (cli/landlock.c) refuses it
        "ptrace_attach_outsider_same_uid": "EPERM",
        # clone3 is refused whole (the flags are behind a pointer): the C
        # library falls back to clone()
        "clone3_into_cgroup_root": "ENOSYS",
        # every process of a user; a file owner set by a pointer
        "setpriority_user": "EPERM", "fcntl_setown_egressd": "EPERM",
        "fcntl_setown_ex": "EPERM", "ioctl_fiosetown": "EPERM"}},
    "bpf_lsm": {**COMMON, **{op: "EPERM" for op in WRITES}, **{
        "open_sysrq_trigger": "EPERM|ENOENT",
        # no hook: a pidfd is no harm, what it is for is refused (task_kill
        # for pidfd_send_signal, ptrace_access_check for pidfd_getfd)
        "pidfd_open_egressd": "?",
        # MNT_EXPIRE on the mount point: refused by the hook before the mark
        "umount_bpffs": "EPERM",
        # kill(-1) reports success when any process got it: egressd did not
        "kill_every_process": "?",
        # the job is in the host's mount namespace already, and may not mount
        "setns_host_mnt": "?",
        "ptrace_attach_outsider_same_uid": "EPERM",
        "clone3_into_cgroup_root": "EPERM",
        # the hooks guard egressd itself: the user's other processes, and
        # owners, may be set; the signal to egressd is refused (sigio)
        "setpriority_user": "?", "fcntl_setown_egressd": "", "fcntl_setown_ex": "",
        "ioctl_fiosetown": ""}},
}

# reason -> the least number of egress.tamper spans the attempts above make
RECORDED = {
    "guard": {"tamper_bpf": 2, "tamper_cgroup": 8, "tamper_pin": 3, "tamper_mount": 6,
              "tamper_signal": 5, "tamper_ptrace": 4, "tamper_kernel": 5,
              "tamper_resource": 6},
    # pin_rename: Debian 12's 6.1 refuses a rename on bpffs by itself (EPERM
    # without egressd, measured), ahead of the inode_rename hook: the fence
    # sees no attempt to record there
    "bpf_lsm": {"tamper_bpf": 2, "tamper_cgroup": 8, "tamper_pin": 2, "tamper_mount": 6,
                "tamper_signal": 5, "tamper_ptrace": 5, "tamper_kernel": 5,
                "tamper_resource": 5},
}

# the BPF LSM hooks of lsm/tamper.bpf.c, each of which the attempts reach. A
# root job keeps no CAP_SYS_ADMIN and fewer capabilities than egressd, so the
# capability LSM refuses umount, move_mount, pivot_root and egressd's nice,
# I/O priority and scheduler ahead of sb_umount, move_mount, sb_pivotroot,
# task_setnice, task_setioprio and task_setscheduler (measured on 6.1): those
# attempts are recorded at the syscall's exit, via "kernel" (RECORDED counts
# them), and the hooks stay for a job whose policy grants more.
HOOKS = ["bpf", "task_kill", "ptrace_access_check", "file_open", "inode_mkdir", "inode_rmdir",
         "inode_unlink", "inode_rename", "sb_mount", "task_alloc", "task_prlimit",
         "file_send_sigiotask", "key_alloc"]

_expected = []


def expected_mode():
    """The tamper protection this kernel must give, found independently of
    egressd: bpf_lsm where "bpf" is an active LSM and the kernel loads lsm
    programs (bpftool's probe), else guard. EF_EXPECT_TAMPER overrides."""
    if _expected:
        return _expected[0]
    why = os.environ.get("EF_EXPECT_TAMPER")
    if why:
        mode, why = why, "EF_EXPECT_TAMPER"
    else:
        try:
            lsm = open("/sys/kernel/security/lsm").read().strip()
        except OSError:
            lsm = ""
        probe = subprocess.run(["bpftool", "feature", "probe", "kernel"], capture_output=True,
                               text=True, timeout=120).stdout
        loads = "eBPF program_type lsm is available" in probe
        mode = "bpf_lsm" if "bpf" in lsm.split(",") and loads else "guard"
        why = "active LSMs %s; lsm programs %s (bpftool)" % (
            lsm or "unknown", "load" if loads else "refused")
    _expected.append((mode, why))
    return _expected[0]


def landlock_expected(mode):
    """What a job's Landlock domain guards here (egress.landlock), found
    independently of egressd: the kernel's Landlock ABI, and the mode."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    abi = libc.syscall(ctypes.c_long(444), None, ctypes.c_long(0), ctypes.c_long(1))
    if abi >= 6:
        return "ptrace,signal,abstract_unix"
    return "ptrace" if abi >= 1 and mode == "guard" else "none"


def check_mode(ctx, st):
    """egressd's tamper_protection (status) is the expected one; noted."""
    want, why = expected_mode()
    ctx.note("tamper protection: %s (expected %s: %s)" % (st.get("mode"), want, why))
    print("    tamper protection seen: %s, expected: %s (%s)" % (st.get("mode"), want, why),
          flush=True)
    eq(st.get("mode"), want, "tamper_protection.mode (expected because %s)" % why)
    return want


def tamper_argv(d, outsiders=()):
    return [PY, TAMPER, str(d.pid), d.ctx.cgroup2, d.cgroup_root, d.bpffs_dir] + [
        str(p.pid) for p in outsiders]


def outsider(ctx, uid):
    """A process outside every job (a sleeper of uid), stopped at cleanup."""
    def become():
        if uid:
            os.setgid(uid)
            os.setuid(uid)
    # it lets any process trace it (Yama's PR_SET_PTRACER_ANY), as crash
    # handlers do: only the fence stands between the job and it then
    p = subprocess.Popen([PY, "-c", "import ctypes, time\n"
                          "ctypes.CDLL(None).prctl(0x59616d61, ctypes.c_ulong(-1), 0, 0, 0)\n"
                          "time.sleep(300)"], preexec_fn=become)
    ctx.procs.append(p)
    return p


def results(r):
    out = {}
    for line in r.out.splitlines():
        if line.startswith("{"):
            x = json.loads(line)
            out[x["op"]] = x
    return out


def check_attempts(res, want):
    bad = []
    for op, err in want.items():
        x = res.get(op)
        if x is None:
            bad.append("%s: no result" % op)
        elif err == "?":
            continue
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


@test(timeout=240)
def test_root_job_cannot_take_the_fence_down(ctx):
    d = ctx.daemon({"t": pol(allow=[ALLOW])})
    mode = check_mode(ctx, d.status()["tamper_protection"])
    # with BPF LSM, what the kernel's own checks refuse ahead of the hooks
    # (capabilities, Yama) is recorded at the syscall's exit: via "kernel"
    via = ("bpf_lsm", "kernel") if mode == "bpf_lsm" else ("guard",)
    pins = sorted(os.listdir(d.bpffs_dir))
    check(os.geteuid() == 0, "the job must run as root for this test")
    outs = [outsider(ctx, 0), outsider(ctx, 65534)]
    r = d.run("t", ["/bin/sh", "-c", '"$@"; exec %s %s connect %s %s' % (
        PY, PROBE, ALLOW, DENY), "sh"] + tamper_argv(d, outs), timeout=150)
    check(r.rc == 0, "the job failed (rc %d): %s" % (r.rc, r.err[-1500:]))
    res = results(r)
    check_attempts(res, WANT[mode])
    for op, err in WANT[mode].items():
        if err == "?" and op in res:
            ctx.note("%s (%s, not asserted): %s" % (op, mode, res[op]["errno"] or "allowed"))
    # the fence still holds, for this job and the next
    allowed(r.get(ALLOW))
    denied(r.get(DENY))
    check(d.alive(), "egressd died: %s" % d.log_tail())
    pins_intact(d, pins)
    for p in outs:
        check(p.poll() is None, "the outsider %d is gone" % p.pid)
    r2 = d.probe("t", "connect", ALLOW, DENY)
    allowed(r2.get(ALLOW))
    denied(r2.get(DENY))
    # every kind of attempt is recorded, as a decision span of the job
    recorded = RECORDED[mode]
    for reason, n in recorded.items():
        # identical attempts of one process fold into one span with egress.count
        wait_until(lambda: sum(int(s.get("egress.count", 1)) for s in d.find(
            "egress.tamper", r.job, where={"egress.reason": reason})) >= n, 10,
            what="%d %s attempts recorded (%s): %s" % (n, reason, mode, [
                (s.get("egress.tamper.syscall") or s.get("egress.tamper.hook"),
                 s.get("egress.count")) for s in d.find(
                    "egress.tamper", r.job, where={"egress.reason": reason})]))
        spans = d.find("egress.tamper", r.job, where={"egress.reason": reason})
        for s in spans:
            eq(s.get("egress.decision"), "deny", "%s span decision" % reason)
            check(s.get("egress.tamper.via") in via, "%s span egress.tamper.via %s, want one "
                  "of %s" % (reason, s.get("egress.tamper.via"), via))
            eq(s.status_code, 2, "%s span status (ERROR)" % reason)
            check(s.get("process.pid") and s.get("process.user.id") in (0, 65534),
                  "%s span lacks the process: %s" % (reason, s.attrs))
    sig = d.find("egress.tamper", r.job, where={"egress.reason": "tamper_signal"})
    check(any(s.get("egress.tamper.target.pid") == d.pid for s in sig),
          "no signal span names egressd's pid %d: %s" % (d.pid, [s.attrs for s in sig]))
    if mode == "bpf_lsm":
        # every hook refused something and said so
        hooks = {s.get("egress.tamper.hook") for s in d.find("egress.tamper", r.job)}
        missing = set(HOOKS) - hooks
        check(not missing, "no egress.tamper span of the hooks %s (seen: %s)" % (
            sorted(missing), sorted(h for h in hooks if h)))
        # the outsider of the job's uid passes the kernel's checks: the
        # ptrace_access_check hook refuses it (the root one the capability
        # LSM refuses first, unrecorded in both modes: no guarded pid)
        traced = {s.get("egress.tamper.target.pid") for s in d.find(
            "egress.tamper", r.job, where={"egress.reason": "tamper_ptrace",
                                           "egress.tamper.via": "bpf_lsm"})}
        check(outs[1].pid in traced, "no ptrace span of the hook names the outsider %d: %s" % (
            outs[1].pid, traced))
    # and flags the job: one egress.probe per kind of attempt
    probes = d.wait_spans("egress.probe", r.job, n=len(recorded),
                          where={"egress.probe.reason": "tamper"})
    subjects = {s.get("egress.probe.subject") for s in probes}
    check(set(recorded) <= subjects, "probe flags %s, want %s" % (subjects, set(recorded)))
    js = d.job_span(r.job)
    eq(js.get("egress.tamper_protection"), mode, "egress.job egress.tamper_protection")
    eq(js.get("egress.landlock"), landlock_expected(mode), "egress.job egress.landlock")
    ctx.note("egress.landlock: %s" % js.get("egress.landlock"))
    eq(js.get("egress.flagged"), True, "egress.job egress.flagged")
    st = d.status()["tamper_protection"]
    check(st["refused"] >= sum(recorded.values()), "status tamper_protection: %s" % st)


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
    check("NoNewPrivs:\t1" in r.stdout, "an unprivileged job gets no_new_privs: %s" %
          r.stdout)
    res = json.loads([x for x in r.stdout.splitlines() if x.startswith("{")][0])
    check(res["bpf"] == -1 and res["errno"] == 1, "bpf() from the job: %s" % res)
    # with BPF LSM before 6.5, kernel.unprivileged_bpf_disabled refuses it
    # ahead of the hook: recorded at the syscall's exit (via "kernel")
    s = d.wait_spans("egress.tamper", job, where={"egress.reason": "tamper_bpf"})
    ctx.note("bpf() refusal recorded via %s" % s[0].get("egress.tamper.via"))
    eq(s[0].get("process.user.id"), 65534, "process.user.id of the tamper span")


@test(timeout=120)
def test_tamper_protection_mode_is_reported(ctx):
    """egressd says which mode it runs in: status, its log at start, and the
    job span; without BPF LSM it says why, as a warning."""
    d = ctx.daemon({"t": pol(allow=[ALLOW])})
    st = d.status()["tamper_protection"]
    mode = check_mode(ctx, st)
    eq(st["bpf_lsm"], mode == "bpf_lsm", "tamper_protection.bpf_lsm")
    log = open(d.log_path, errors="replace").read()
    out = d.ctl("status").stdout
    if mode == "guard":
        check(st.get("why"), "status does not say why BPF LSM is not used: %s" % st)
        check(st.get("attempts_recorded") is True, "the recorders are not attached: %s" % st)
        check("tamper resistance: BPF LSM unavailable" in log and st["why"] in log,
              "egressd does not say at start that BPF LSM is unavailable: %s" % d.log_tail())
        check("tamper" in out and "guard" in out, "`egressctl status` does not show the "
              "tamper protection in use: %s" % out)
    else:
        check("tamper resistance: BPF LSM hooks refuse" in log,
              "egressd does not say at start that the BPF LSM hooks are on: %s" % d.log_tail())
        check("BPF LSM unavailable" not in log, "egressd warns of a missing BPF LSM: %s" %
              d.log_tail())
        check("tamper" in out and "BPF LSM hooks" in out,
              "`egressctl status` does not show the tamper protection in use: %s" % out)
        eq(d.status().get("socket_hook"), "lsm_cgroup/socket_create (all families)",
           "status socket_hook with BPF LSM")
    r = d.probe("t", "info")
    js = d.job_span(r.job)
    eq(js.get("egress.tamper_protection"), mode, "egress.job egress.tamper_protection")
    wait_until(lambda: d.alive(), 1, what="egressd")


FILES_JOB = r'''
import json, os, sys
pol, state, run = sys.argv[1:4]
def attempt(op, fn):
    try:
        fn()
        r = ""
    except OSError as e:
        r = os.strerror(e.errno)
    print(json.dumps({"op": op, "error": r}), flush=True)
def append(p):
    with open(p, "a") as f:
        f.write(" ")
attempt("policy_append", lambda: append(os.path.join(pol, "t.json")))
attempt("policy_create", lambda: open(os.path.join(pol, "evil.json"), "w").close())
attempt("policy_rename", lambda: os.rename(os.path.join(pol, "t.json"),
                                           os.path.join(pol, "t.old")))
attempt("state_create", lambda: open(os.path.join(state, "evil"), "w").close())
for dirpath, _, names in os.walk(state):
    for n in names:
        attempt("state_append", lambda p=os.path.join(dirpath, n): append(p))
        break
attempt("run_create", lambda: open(os.path.join(run, "evil"), "w").close())
attempt("socket_unlink", lambda: os.unlink(os.path.join(run, "control.sock")))
'''


@test(timeout=120)
def test_root_job_cannot_change_the_fence_files(ctx):
    """The fence's own files (policies, state and journal, the run directory
    with the control socket) are read-only in a root job's mount namespace,
    in both modes: only egressctl, through egressd, changes them."""
    d = ctx.daemon({"t": pol(allow=[ALLOW])})
    check(os.geteuid() == 0, "the job must run as root for this test")
    before = open(os.path.join(d.policy_dir, "t.json")).read()
    r = d.run("t", [PY, "-c", FILES_JOB, d.policy_dir, d.state_dir, d.run_dir], timeout=60)
    check(r.rc == 0, "the job failed (rc %d): %s" % (r.rc, r.err[-1500:]))
    res = [json.loads(x) for x in r.out.splitlines() if x.startswith("{")]
    ops = {x["op"] for x in res}
    check({"policy_append", "policy_create", "policy_rename", "state_create", "state_append",
           "run_create", "socket_unlink"} <= ops, "attempts missing: %s" % res)
    for x in res:
        check(x["error"] == "Read-only file system",
              "%s was not refused as read-only: %s" % (x["op"], x["error"] or "allowed"))
    eq(open(os.path.join(d.policy_dir, "t.json")).read(), before, "the policy file")
    check(not os.path.exists(os.path.join(d.policy_dir, "evil.json")), "a policy was created")
    check(os.path.exists(d.sock), "the control socket is gone")
    check(d.alive(), "egressd died: %s" % d.log_tail())
    js = d.job_span(r.job)
    eq(js.get("egress.same_user_isolation"), "root", "egress.same_user_isolation")


DEBUG_JOB = r'''
strace -f -o /dev/null /bin/true && echo "strace_child=ok"
gdb -batch -nx -ex run --args /bin/true 2>&1 | grep -q "exited normally" && echo "gdb_run=ok"
sleep 30 & p=$!
out=$(gdb -batch -nx -ex "set sysroot /" -p $p 2>&1)
case "$out" in *"Operation not permitted"*) echo "gdb_attach=refused: $out";;
  *"(process $p) detached"*) echo "gdb_attach=ok";; *) echo "gdb_attach=? $out";; esac
timeout 2 strace -p $p -o /dev/null 2>/tmp/ef-strace-$$; grep -q "Operation not permitted" \
  /tmp/ef-strace-$$ && echo "strace_attach=refused" || echo "strace_attach=ok"
rm -f /tmp/ef-strace-$$
kill $p
'''


@test(timeout=150)
def test_job_debugs_its_own_processes(ctx):
    """The fence refuses tracing what is outside the job, not debugging the
    job itself: strace and gdb start, and attach to, the job's own
    processes, as root and unprivileged, in both modes."""
    d = ctx.daemon({"t": pol(allow=[ALLOW])})
    for who, r in (("root", d.run("t", ["/bin/sh", "-c", DEBUG_JOB], timeout=60)),
                   ("uid 65534", as_user(d, 65534, "run", "--policy", "t", "--",
                                         "/bin/sh", "-c", DEBUG_JOB, timeout=60))):
        rc = r.rc if hasattr(r, "rc") else r.returncode
        out = r.out if hasattr(r, "out") else r.stdout
        err = r.err if hasattr(r, "err") else r.stderr
        check(rc == 0, "the %s job failed (rc %d): %s" % (who, rc, err[-800:]))
        ctx.note("%s: %s" % (who, " ".join(out.split())))
        for step in ("strace_child", "gdb_run", "gdb_attach", "strace_attach"):
            check("%s=ok" % step in out, "%s as %s: %s" % (step, who, out[-800:]))


FILL_JOB = r'''
import os, sys
fill = sys.argv[1]
n = 0
try:
    with open(os.path.join(fill, "big"), "wb") as f:
        while True:
            f.write(b"\0" * (1 << 20))
            f.flush()
            n += 1
except OSError as e:
    print("filled %d MiB: %s" % (n, os.strerror(e.errno)), flush=True)
'''


@test(timeout=150)
def test_root_job_filling_the_disk_loses_no_record(ctx):
    """A root job fills the filesystem egressd's journal is on: the journal
    reserved its file's blocks when it opened it (fallocate), so the
    records of what the job does next are written all the same."""
    import subprocess as sp
    d = ctx.daemon({"t": pol(allow=[ALLOW])}, start=False,
                   config={"journal": {"max_file_bytes": 4 << 20, "max_files": 4}})
    fs = os.path.join(d.tmp, "fs")
    os.mkdir(fs)
    sp.run(["mount", "-t", "tmpfs", "-o", "size=24m", "ef-fill", fs], check=True)
    try:
        d.state_dir = os.path.join(fs, "state")
        fill = os.path.join(fs, "fill")
        os.mkdir(d.state_dir)
        os.mkdir(fill)
        d.reset_argv = [d.egressd, "--reset", "--force"] + d.dir_args()
        d.start()
        script = "%s -c '%s' %s; for p in 7001 7002 7003 7004 7005; do %s %s connect " \
                 "198.18.2.1:$p; done" % (PY, FILL_JOB.replace("'", "'\"'\"'"), fill, PY, PROBE)
        r = d.run("t", ["/bin/sh", "-c", script], timeout=90)
        check("filled" in r.out and "No space left" in r.out,
              "the job did not fill the filesystem: %s / %s" % (r.out[-600:], r.err[-600:]))
        for p in (7001, 7002, 7003, 7004, 7005):
            wait_until(lambda p=p: d.find("egress.connect", r.job,
                                          where={"server.port": p}), 10,
                       what="the denied connect to port %d recorded on a full disk" % p)
        eq(d.status()["journal"]["write_errors"], 0, "journal.write_errors")
    finally:
        d.stop()
        sp.run(["umount", "-l", fs], check=False)


@test(timeout=150)
def test_policy_turns_tracing_off(ctx):
    """"tracing": false: the job may not debug even its own processes
    (strace, gdb: refused and recorded); without it, it may (above). A job
    may not choose a policy that turns tracing back on."""
    d = ctx.daemon({"t": pol(allow=[ALLOW], tracing=False)})
    r = d.run("t", ["/bin/sh", "-c", DEBUG_JOB], timeout=60)
    ctx.note("tracing off: %s" % " ".join(r.out.split()))
    for step in ("strace_child", "gdb_run", "gdb_attach", "strace_attach"):
        check("%s=ok" % step not in r.out, "%s worked under \"tracing\": false: %s" % (
            step, r.out[-800:]))
    spans = d.wait_spans("egress.tamper", r.job, where={"egress.reason": "tamper_ptrace"})
    check(spans, "no tamper_ptrace record")
    # the policy file says so, and a chosen policy may not undo it
    bad = d.write_policy("bad", {"name": "bad", "allow": [ALLOW], "tracing": "no"})
    v = subprocess.run([d.egressctl, "policy", "validate", bad], capture_output=True, text=True)
    check(v.returncode != 0 and "tracing" in v.stderr + v.stdout,
          "a non-boolean \"tracing\" was not refused: %s" % (v.stdout + v.stderr))


OOM_JOB = r'''
import json, sys
pid = sys.argv[1]
out = {}
for name, value in (("oom_score_adj", "1000"), ("oom_adj", "15"), ("autogroup", "19")):
    try:
        with open("/proc/%s/%s" % (pid, name), "w") as f:
            f.write(value)
        out[name] = "written"
    except OSError as e:
        out[name] = e.strerror
print(json.dumps(out))
'''


@test(timeout=120)
def test_root_job_cannot_make_egressd_the_oom_killers_choice(ctx):
    """A root job may write /proc/PID/oom_score_adj of root's processes:
    raised to 1000 on egressd, the OOM killer would take egressd first
    when the job then exhausts memory; autogroup lowers its session's CPU
    share. Refused in both modes (BPF LSM: file_open, recorded
    tamper_resource; guard: egressd's /proc entries covered); egressd's
    own values are unchanged."""
    d = ctx.daemon({"t": pol(allow=[ALLOW])})
    mode = check_mode(ctx, d.status()["tamper_protection"])
    before = open("/proc/%d/oom_score_adj" % d.pid).read()
    r = d.run("t", [PY, "-c", OOM_JOB, str(d.pid)])
    check(r.rc == 0, "the job failed (rc %d): %s" % (r.rc, r.err[-800:]))
    res = json.loads(r.out.strip().splitlines()[-1])
    for name, got in res.items():
        check(got != "written", "the job wrote egressd's %s" % name)
    eq(open("/proc/%d/oom_score_adj" % d.pid).read(), before, "egressd's oom_score_adj")
    check(d.alive(), "egressd died: %s" % d.log_tail())
    if mode == "bpf_lsm":
        got = d.find("egress.tamper", r.job, where={"egress.reason": "tamper_resource"})
        check(len(got) >= 1, "no tamper_resource record for the attempts: %s" % res)
