"""Tamper resistance, capabilities: a root job keeps the default set of
container runtimes and nothing that reaches around the fence (no
CAP_NET_ADMIN or CAP_NET_RAW to change the network), unless its policy
grants it; lint names what a granted capability lets a job do. The modes
and helpers: test_tamper.py."""
import os
import subprocess

from harness import test, pol, check, eq, wait_until, PY
from test_policy_live import as_user
from test_tamper import ALLOW, check_mode


# linux/capability.h, by number
CAP_NAMES = ["CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
             "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
             "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO",
             "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
             "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE",
             "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
             "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE"]

# Docker's default capability set (policy/caps.c): what a root job keeps
DEFAULT_CAPS = {0: "CHOWN", 1: "DAC_OVERRIDE", 3: "FOWNER", 4: "FSETID", 5: "KILL", 6: "SETGID",
                7: "SETUID", 8: "SETPCAP", 10: "NET_BIND_SERVICE", 18: "SYS_CHROOT",
                27: "MKNOD", 29: "AUDIT_WRITE", 31: "SETFCAP"}


def cap_sets(r):
    st = dict(x.split(":\t", 1) for x in r.out.splitlines() if ":\t" in x)
    return {k: int(st[k], 16) for k in ("CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb")}, st


def cap_bits(m):
    return sorted(b for b in range(64) if m >> b & 1)


@test(timeout=120)
def test_root_job_keeps_no_capability_that_reaches_around_the_fence(ctx):
    """Both modes: a root job keeps the default set of container runtimes
    and nothing else, in its bounding, effective, permitted, inheritable and
    ambient sets (sudo keeps working with that smaller root); CAP_NET_RAW
    with "sockets": {"raw": true}; the policy's "capabilities" add to it; an
    unprivileged job gets no_new_privs."""
    d = ctx.daemon({"t": pol(allow=[ALLOW]), "raw": pol(allow=[ALLOW], sockets={"raw": True}),
                    "grant": pol(allow=[ALLOW], capabilities=["net_admin", "SYS_NICE"])})
    check_mode(ctx, d.status()["tamper_protection"])
    show = ["/bin/sh", "-c", "grep -E '^(Cap|NoNewPrivs)' /proc/self/status"]
    default = sorted(DEFAULT_CAPS)
    for policy, want in (("t", default), ("raw", sorted(default + [13])),
                         ("grant", sorted(default + [12, 23]))):
        r = d.run(policy, show, timeout=60)
        check(r.rc == 0, "job failed: %s" % r.err[-800:])
        sets, st = cap_sets(r)
        for k in ("CapBnd", "CapEff", "CapPrm"):
            eq(cap_bits(sets[k]), want, "%s of a root job under policy %s (%s)" % (k, policy, st))
        eq(sets["CapInh"] & ~sum(1 << b for b in want), 0, "CapInh beyond the set (%s)" % st)
        eq(sets["CapAmb"], 0, "CapAmb of a root job (%s)" % st)
    job = ctx.job_id()
    u = as_user(d, 65534, "run", "--policy", "t", "--job-id", job, "--", "/bin/sh", "-c",
                "grep NoNewPrivs /proc/self/status", timeout=60)
    check(u.returncode == 0, "job failed: %s" % u.stderr[-800:])
    check("NoNewPrivs:\t1" in u.stdout, "an unprivileged job lacks no_new_privs: %s" % u.stdout)


def listener_in_fence(ctx, port):
    """A TCP listener on 127.0.0.1:port in the fence namespace, outside every
    job; it answers each connection with "alive"."""
    code = ("import socket\n"
            "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
            "s.bind(('127.0.0.1', %d)); s.listen(8); print('READY', flush=True)\n"
            "while True:\n"
            "    c, _ = s.accept(); c.sendall(b'alive'); c.close()\n") % port
    p = subprocess.Popen(ctx.world.fence_argv([PY, "-c", code]), stdout=subprocess.PIPE)
    ctx.procs.append(p)
    check(p.stdout.readline().strip() == b"READY", "the outside listener did not start")
    return p


def listener_alive(ctx, port):
    code = ("import socket\n"
            "c = socket.create_connection(('127.0.0.1', %d), timeout=3)\n"
            "print(c.recv(16).decode())\n") % port
    r = subprocess.run(ctx.world.fence_argv([PY, "-c", code]), capture_output=True, text=True,
                       timeout=20)
    return r.stdout.strip() == "alive"


def fence_cmd(ctx, *argv):
    return subprocess.run(ctx.world.fence_argv(list(argv)), capture_output=True, text=True,
                          timeout=20)


CAP_TP = "/sys/kernel/tracing/events/capability/cap_capable"
LINK, TUN, ROUTE, TABLE, PORT = "efcap0", "efcaptun0", "198.51.100.0/24", "efcap_job", 47931
RAW = ("import socket\n"
       "try:\n"
       "    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)\n"
       "    s.sendto(b'\\x08\\x00\\xf7\\xff\\x00\\x00\\x00\\x00', ('%s', 0)); print('raw sent')\n"
       "except OSError as e:\n"
       "    print('raw refused', e.errno)\n") % ALLOW.split(":")[0]


def net_leftovers(ctx):
    """What a job may have left in the fence namespace (the runner's)."""
    left = []
    for name in (LINK, LINK + "p", TUN):
        if fence_cmd(ctx, "ip", "link", "show", name).returncode == 0:
            left.append("link " + name)
    if ROUTE.split("/")[0] in fence_cmd(ctx, "ip", "route", "show", "table", "all").stdout:
        left.append("route " + ROUTE)
    if fence_cmd(ctx, "nft", "list", "table", "ip", TABLE).returncode == 0:
        left.append("nft table " + TABLE)
    return left


def net_cleanup(ctx):
    for name in (LINK, TUN):
        fence_cmd(ctx, "ip", "link", "del", name)
    fence_cmd(ctx, "ip", "route", "del", "blackhole", ROUTE)
    fence_cmd(ctx, "nft", "delete", "table", "ip", TABLE)


@test(timeout=180)
def test_tamper_capability_root_job_cannot_change_the_network(ctx):
    """A root job (both modes) cannot add a link or a tunnel, a route or an
    nft table to the runner's network namespace, destroy another process's
    socket (ss -K: SOCK_DESTROY) or send raw packets without "sockets":
    {"raw": true}: it lacks CAP_NET_ADMIN and CAP_NET_RAW. Judged by the
    namespace afterwards and by the outside listener; each refusal is an
    egress.tamper span (tamper_capability) naming the capability, and flags
    the job. With "capabilities": ["NET_ADMIN"] the link goes in."""
    net_cleanup(ctx)
    d = ctx.daemon({"t": pol(allow=[ALLOW])})
    mode = check_mode(ctx, d.status()["tamper_protection"])
    out = listener_in_fence(ctx, PORT)
    script = ("ip link add %s type veth peer name %sp; echo \"link rc=$?\"; "
              "ip link add %s type vxlan id 42 dstport 4789 remote 198.18.1.1; echo \"tunnel rc=$?\"; "
              "ip route add blackhole %s; echo \"route rc=$?\"; "
              "nft add table ip %s; echo \"nft rc=$?\"; "
              "ss -K -tln 'sport = :%d' >/dev/null; echo \"ss rc=$?\"; "
              "%s -c \"$0\"") % (LINK, LINK, TUN, ROUTE, TABLE, PORT, PY)
    r = d.run("t", ["/bin/sh", "-c", script, RAW], timeout=60)
    ctx.note("the job said: %s" % " | ".join(r.out.splitlines()))
    left = net_leftovers(ctx)
    net_cleanup(ctx)
    eq(left, [], "what a root job changed in the runner's network")
    check(out.poll() is None and listener_alive(ctx, PORT),
          "the outside listener was destroyed by the job's ss -K")
    check("raw refused 1" in r.out, "a raw socket without sockets.raw: %s" % r.out[-400:])
    check(d.alive(), "egressd died: %s" % d.log_tail())
    if not os.path.exists(CAP_TP):
        # before Linux 6.13: refused, not recorded, and egressd says so
        missing = [m.get("feature", "") for m in d.status().get("kernel", {}).get("missing", [])]
        check(any("cap_capable" in m for m in missing),
              "no %s, and egressd's status does not say so: %s" % (CAP_TP, missing))
        ctx.note("no capability/cap_capable tracepoint: refusals not recorded")
        return
    # each refusal is recorded, naming the capability; the process names which attempt
    want = {("ip", "CAP_NET_ADMIN"), ("nft", "CAP_NET_ADMIN"), ("ss", "CAP_NET_ADMIN"),
            ("python3", "CAP_NET_RAW")}

    def seen():
        return {((s.get("process.executable.name") or "").split(".")[0],
                 s.get("egress.tamper.capability"))
                for s in d.find("egress.tamper", r.job,
                                where={"egress.reason": "tamper_capability"})}
    wait_until(lambda: want <= seen(), 10,
               what="capability refusals recorded for %s (seen %s)" % (sorted(want), sorted(seen())))
    for s in d.find("egress.tamper", r.job, where={"egress.reason": "tamper_capability"}):
        eq(s.get("egress.decision"), "deny", "tamper_capability decision")
        eq(s.get("egress.tamper.via"), "capability", "tamper_capability egress.tamper.via")
        eq(s.status_code, 2, "tamper_capability span status (ERROR)")
    d.wait_spans("egress.probe", r.job, where={"egress.probe.reason": "tamper",
                                               "egress.probe.subject": "tamper_capability"})
    ctx.note("mode %s: capability refusals recorded: %s" % (mode, sorted(seen())))


@test(timeout=120)
def test_tamper_capability_granted_by_the_policy_and_linted(ctx):
    """"capabilities": ["NET_ADMIN"] gives a root job CAP_NET_ADMIN: its link
    goes in (removed again); lint warns (policy validate needs --force),
    naming what the capability lets the job do; a capability that reaches
    around the fence is a parse error."""
    net_cleanup(ctx)
    d = ctx.daemon({"na": pol(allow=[ALLOW], capabilities=["NET_ADMIN"])})
    r = d.run("na", ["/bin/sh", "-c", "ip link add %s type veth peer name %sp && "
                     "ip link show %s >/dev/null && echo added; ip link del %s; echo \"del rc=$?\""
                     % (LINK, LINK, LINK, LINK)], timeout=60)
    left = net_leftovers(ctx)
    net_cleanup(ctx)
    check("added" in r.out and "del rc=0" in r.out,
          "a job granted NET_ADMIN could not add its link: %s / %s" % (r.out, r.err[-400:]))
    eq(left, [], "the granted job's link after it removed it")
    eq(d.find("egress.tamper", r.job, where={"egress.reason": "tamper_capability",
                                             "egress.tamper.capability": "CAP_NET_ADMIN"}),
       [], "tamper_capability spans of a granted capability")
    path = os.path.join(d.policy_dir, "na.json")
    v = subprocess.run([d.egressctl, "policy", "validate", path], capture_output=True, text=True)
    check(v.returncode == 1 and "CAP_NET_ADMIN lets a root job reconfigure the runner's network"
          in v.stderr, "lint of a NET_ADMIN grant: rc %d, %s" % (v.returncode, v.stderr))
    v = subprocess.run([d.egressctl, "policy", "validate", "--force", path], capture_output=True,
                       text=True)
    check(v.returncode == 0 and "warning:" in v.stderr, "validate --force: rc %d, %s" % (
        v.returncode, v.stderr))
    bad = ctx.path("bad.json")
    with open(bad, "w") as f:
        f.write('{"name": "bad", "capabilities": ["NET_ADMIN", "cap_bpf"]}\n')
    v = subprocess.run([d.egressctl, "policy", "validate", bad], capture_output=True, text=True)
    check(v.returncode == 1 and "bad.json:1:47: capability CAP_BPF can never be granted"
          in v.stderr, "granting CAP_BPF: rc %d, %s" % (v.returncode, v.stderr))
