#!/usr/bin/python3
"""The integration tests' world (DESIGN.md, "Test world").

Two network namespaces joined by a veth pair, and no route anywhere else:

  fence ns (daemon and jobs)            hosts ns (test hosts and servers)
  198.18.0.1/24  2001:db8::1/64  <-->   198.18.0.2/24  2001:db8::2/64
  routes: 198.18.0.0/15,                extra addresses: 198.18.1.1-9,
          169.254.169.254/32,           198.18.2.1-5, 169.254.169.254,
          10.11.12.13/32,               10.11.12.13, 2001:db8:1::1-5,
          2001:db8::/32,                fd00:ec2::254, fd00::1234
          fd00:ec2::254/128,            DNS: 198.18.0.53, 2001:db8::53
          fd00::1234/128                AnyIP (local routes on lo, every
          via the hosts side            address answers): 198.18.3.0/24,
                                        198.18.128.0/17
                                        servers (hostd.py): TCP echo on
                                        22 80 443 8080 9000, UDP echo on
                                        123 9999, IPv4 and IPv6, on every
                                        address above; dnsmasq on port 53
                                        of the two DNS addresses only

DNS: a real dnsmasq (Debian dnsmasq-base) in the hosts ns, listening on
198.18.0.53 and [2001:db8::53] port 53, UDP and TCP. Authoritative data only:
no upstream, nothing is ever forwarded; other names under .test get NXDOMAIN
(--local=/test/), names elsewhere get REFUSED. Every query is logged
(World.dns_queries()). TTL 300 s unless said otherwise. The records
(DNS_ZONE below):

  ok.test            A 198.18.1.1, AAAA 2001:db8:1::1
  v6only.test        AAAA 2001:db8:1::2 (no A)
  wild.test          A 198.18.1.3 (the apex of *.wild.test)
  a.wild.test        A 198.18.1.2
  x.y.z.wild.test    A 198.18.1.2
  alias.test         CNAME target.other.test (a name no policy lists)
  target.other.test  A 198.18.1.4
  ttl.test           A 198.18.2.3, TTL 2 s
  secret.test        A 198.18.2.4 (for "unlisted, never reaches upstream")
  rebind.test        A 10.11.12.13, AAAA fd00::1234 (private answers)
  rebind-ok.test     A 198.18.2.5 (the public contrast)
  job1.test          A 198.18.2.1
  job2.test          A 198.18.2.2
  big.test           60 x A 198.18.3.1 .. 198.18.3.60: over UDP without EDNS
                     the answer does not fit in 512 bytes, dnsmasq sends 30 of
                     them with TC set; over TCP (or with EDNS) all 60
  D-D-D-D.race.test  synthesized (--synth-domain=race.test,198.18.128.0/17):
                     198-18-130-7.race.test -> A 198.18.130.7 for every
                     address of 198.18.128.0/17 (synth_name(ip) builds one)

Commands enter the fence with `nsenter --net=/run/netns/NAME`, never
`ip netns exec` (which remounts /sys and hides the cgroup2 and bpffs mounts).

One World per test run. Teardown (kill the servers by pid, delete both
namespaces) runs at exit and on SIGTERM/SIGHUP/SIGINT, and is idempotent.

    python3 world.py selftest   build the world, probe every server unfenced,
                                query every DNS record, tear down, check
                                nothing is left
    python3 world.py up         build it and wait for Ctrl-C (for debugging)
"""
import atexit
import json
import os
import re
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

PY = "/usr/bin/python3"
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import dnsmsg  # noqa: E402
PROBE = os.path.join(HERE, "probe.py")
HOSTD = os.path.join(HERE, "hostd.py")

FENCE_V4, HOSTS_V4 = "198.18.0.1", "198.18.0.2"
FENCE_V6, HOSTS_V6 = "2001:db8::1", "2001:db8::2"
REBIND_V4, REBIND_V6 = "10.11.12.13", "fd00::1234"  # private addresses rebind.test names
HOSTS_EXTRA_V4 = (["198.18.1.%d" % i for i in range(1, 10)]
                  + ["198.18.2.%d" % i for i in range(1, 6)] + ["169.254.169.254", REBIND_V4])
HOSTS_EXTRA_V6 = ["2001:db8:1::%d" % i for i in range(1, 6)] + ["fd00:ec2::254", REBIND_V6]
FENCE_ROUTES_V4 = ["198.18.0.0/15", "169.254.169.254/32", REBIND_V4 + "/32"]
FENCE_ROUTES_V6 = ["2001:db8::/32", "fd00:ec2::254/128", REBIND_V6 + "/128"]
TCP_PORTS = [22, 80, 443, 8080, 9000]
UDP_PORTS = [123, 9999]  # not 53: DNS is dnsmasq's
METADATA_V4, METADATA_V6 = "169.254.169.254", "fd00:ec2::254"

# -- DNS (dnsmasq in the hosts ns) ---------------------------------------------
DNS_V4, DNS_V6 = "198.18.0.53", "2001:db8::53"
DNS_TTL = 300  # of every record but ttl.test
BIG_NET = "198.18.3.0/24"  # big.test's addresses; AnyIP in the hosts ns
RACE_DOMAIN, RACE_NET = "race.test", "198.18.128.0/17"  # synthesized names; AnyIP too
ANYIP_V4 = [BIG_NET, RACE_NET]
DNS_ZONE = {
    "ok.test": {"A": ["198.18.1.1"], "AAAA": ["2001:db8:1::1"]},
    "v6only.test": {"AAAA": ["2001:db8:1::2"]},
    "wild.test": {"A": ["198.18.1.3"]},
    "a.wild.test": {"A": ["198.18.1.2"]},
    "x.y.z.wild.test": {"A": ["198.18.1.2"]},
    "alias.test": {"CNAME": "target.other.test"},
    "target.other.test": {"A": ["198.18.1.4"]},
    "ttl.test": {"A": ["198.18.2.3"], "ttl": 2},
    "secret.test": {"A": ["198.18.2.4"]},
    "rebind.test": {"A": [REBIND_V4], "AAAA": [REBIND_V6]},
    "rebind-ok.test": {"A": ["198.18.2.5"]},
    "job1.test": {"A": ["198.18.2.1"]},
    "job2.test": {"A": ["198.18.2.2"]},
    "big.test": {"A": ["198.18.3.%d" % i for i in range(1, 61)]},
    # for `make demo`: what a coding agent looks up
    "api.anthropic.com": {"A": ["198.18.1.5"], "AAAA": ["2001:db8:1::5"]},
    "objects.githubusercontent.com": {"A": ["198.18.1.6"]},
    "paste.example.com": {"A": ["198.18.2.1"]},
}


def synth_name(ip):
    """The name dnsmasq 2.90 synthesizes for an address of RACE_NET:
    198.18.130.7 -> '198-18-130-7.race.test'."""
    return dnsmsg.synth_name(ip, RACE_DOMAIN)


def synth_names(n, net=RACE_NET):
    """n distinct (name, address) pairs of net, skipping .0 and .255."""
    return dnsmsg.synth_names(n, net, RACE_DOMAIN)


def dnsmasq_args():
    """dnsmasq's command line arguments for DNS_ZONE (without paths)."""
    a = []
    for name, rr in DNS_ZONE.items():
        ttl = [str(rr["ttl"])] if "ttl" in rr else []
        if "CNAME" in rr:
            a.append("--cname=%s,%s" % (name, rr["CNAME"]))
            continue
        v4, v6 = list(rr.get("A", [])), list(rr.get("AAAA", []))
        while v4 or v6:  # one host-record per address pair: several give several RRs
            addrs = ([v4.pop(0)] if v4 else []) + ([v6.pop(0)] if v6 else [])
            a.append("--host-record=" + ",".join([name] + addrs + ttl))
    a.append("--synth-domain=%s,%s" % (RACE_DOMAIN, RACE_NET))
    return a


class DnsMark:
    """A point in dnsmasq's log (World.dns_mark()), finer than its 1 s timestamps."""

    def __init__(self, offset):
        self.offset = offset


DNS_LOG_RE = re.compile(r"^(\w{3} [ \d]\d \d\d:\d\d:\d\d) dnsmasq\[(\d+)\]: "
                        r"query\[(\w+)\] (\S+) from (\S+)$")


class WorldError(Exception):
    pass


def tool(name):
    for d in ("/usr/sbin", "/usr/bin", "/sbin", "/bin"):
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return shutil.which(name)


def _mounts():
    with open("/proc/self/mounts") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 3:
                yield fields[0], fields[1].replace("\\040", " "), fields[2]


def cgroup2_mount():
    """The cgroup2 mount point (may be /sys/fs/cgroup or /sys/fs/cgroup/unified)."""
    for _src, mnt, fstype in _mounts():
        if fstype == "cgroup2":
            return mnt
    return None


def bpffs_mounted(path="/sys/fs/bpf"):
    return any(fstype == "bpf" and mnt == path for _s, mnt, fstype in _mounts())


def ensure_bpffs(path="/sys/fs/bpf"):
    """Mount bpffs at path if it is not; returns an error string or None."""
    if bpffs_mounted(path):
        return None
    r = subprocess.run(["mount", "-t", "bpf", "bpf", path], capture_output=True, text=True)
    if r.returncode != 0 or not bpffs_mounted(path):
        return "bpffs is not mounted at %s and `mount -t bpf bpf %s` failed: %s" % (
            path, path, (r.stderr or r.stdout).strip())
    return None


# -- what a run created, written down so that the next run can remove what a
# run killed with SIGKILL (no atexit, no signal handler) left behind -----------
LEDGER_DIR = "/run/ef-test"


def proc_start(pid):
    """Start time of pid (clock ticks since boot) or None: tells reused pids apart."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return None if fields[0] in ("Z", "X") else int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


class Ledger:
    def __init__(self):
        os.makedirs(LEDGER_DIR, exist_ok=True)
        self.path = os.path.join(LEDGER_DIR, "run-%d-%s.json" % (os.getpid(), secrets.token_hex(3)))
        self.doc = {"runner": os.getpid(), "runner_start": proc_start(os.getpid()), "items": []}
        self._save()

    def _save(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.doc, f)
        os.rename(tmp, self.path)

    def add(self, kind, value):
        """kind: netns | pid | cgroup | bpffs | tmp | reset (an argv)."""
        item = {"kind": kind, "value": value}
        if kind == "pid":
            item["start"] = proc_start(value)
        self.doc["items"].append(item)
        self._save()

    def drop(self, kind, value):
        self.doc["items"] = [i for i in self.doc["items"]
                             if not (i["kind"] == kind and i["value"] == value)]
        self._save()


_ledger = None


def ledger():
    global _ledger
    if _ledger is None:
        _ledger = Ledger()
    return _ledger


def remove_cgroup_tree(root, timeout=5.0):
    """Kill what runs in a cgroup subtree (cgroup.kill) and rmdir it bottom-up."""
    deadline = time.time() + timeout
    while os.path.isdir(root) and time.time() < deadline:
        try:
            with open(os.path.join(root, "cgroup.kill"), "w") as f:
                f.write("1")
        except OSError:
            pass
        for d, _dirs, _files in os.walk(root, topdown=False):
            try:
                os.rmdir(d)
            except OSError:
                pass
        if os.path.isdir(root):
            time.sleep(0.1)
    return not os.path.isdir(root)


def sweep(log=lambda m: None):
    """Remove what earlier runs that died without cleaning up left behind."""
    try:
        names = sorted(os.listdir(LEDGER_DIR))
    except FileNotFoundError:
        return
    for name in names:
        path = os.path.join(LEDGER_DIR, name)
        if not name.endswith(".json"):
            continue
        try:
            with open(path) as f:
                doc = json.load(f)
        except (OSError, ValueError):
            continue
        if doc.get("runner_start") is not None and \
                proc_start(doc.get("runner", 0)) == doc["runner_start"]:
            continue  # a run still in progress
        items = doc.get("items", [])
        done = []
        for it in items:  # processes first, by pid (checked against their start time)
            if it["kind"] == "pid" and it.get("start") and proc_start(it["value"]) == it["start"]:
                try:
                    os.kill(it["value"], signal.SIGKILL)
                    done.append("pid %d" % it["value"])
                except OSError:
                    pass
        for it in items:
            if it["kind"] == "reset" and os.access(it["value"][0], os.X_OK):
                try:
                    subprocess.run(it["value"], capture_output=True, timeout=30)
                except (OSError, subprocess.SubprocessError):
                    pass
        for it in items:
            k, v = it["kind"], it["value"]
            if k == "cgroup" and os.path.isdir(v):
                remove_cgroup_tree(v)
                done.append(v)
            elif k in ("bpffs", "tmp") and os.path.isdir(v):
                shutil.rmtree(v, ignore_errors=True)
                done.append(v)
            elif k == "netns" and os.path.exists("/run/netns/" + v):
                subprocess.run([tool("ip"), "netns", "del", v], capture_output=True, timeout=30)
                done.append("netns " + v)
        if done:
            log("removed what an interrupted run (pid %s) left: %s" % (doc.get("runner"),
                                                                       ", ".join(done)))
        try:
            os.unlink(path)
        except OSError:
            pass


def _close_ledger():
    global _ledger
    if _ledger is not None:
        if not _ledger.doc["items"]:
            try:
                os.unlink(_ledger.path)
            except OSError:
                pass
        _ledger = None


_live = []
_handlers_installed = False


def _teardown_all():
    while _live:
        _live[-1].down()
    _close_ledger()


def _on_signal(signum, _frame):
    # unwind through the runner's finally blocks (daemon cleanup), then atexit
    raise SystemExit(128 + signum)


def install_handlers():
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(_teardown_all)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) in (signal.SIG_DFL, None):
            signal.signal(sig, _on_signal)
    # SIGINT already raises KeyboardInterrupt, which unwinds the same way


class World:
    def __init__(self, log=None):
        tag = secrets.token_hex(3)
        self.tag = tag
        self.fence = "ef-fence-" + tag
        self.hosts = "ef-hosts-" + tag
        self.veth_fence = "eff" + tag  # interface names: at most 15 characters
        self.veth_hosts = "efh" + tag
        self.ip = tool("ip")
        self.nsenter = tool("nsenter")
        self.dir = None
        self.hostd = None
        self.hostd_log = None
        self.dnsmasq = None
        self.dns_log_path = None
        self.created = []  # netns names made by this world
        self.log = log or (lambda msg: None)
        self.is_up = False

    # -- running commands -------------------------------------------------
    def fence_argv(self, argv):
        return [self.nsenter, "--net=/run/netns/" + self.fence] + list(argv)

    def hosts_argv(self, argv):
        return [self.nsenter, "--net=/run/netns/" + self.hosts] + list(argv)

    def in_fence(self, argv, timeout=30, **kw):
        """subprocess.run in the fence ns (not fenced by any daemon)."""
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        return subprocess.run(self.fence_argv(argv), timeout=timeout, **kw)

    def probe_unfenced(self, *args, timeout=30):
        """Run probe.py in the fence ns outside any job; returns the JSON lines."""
        r = self.in_fence([PY, PROBE] + list(args), timeout=timeout)
        return parse_lines(r.stdout, r)

    def _ip(self, *args, ns=None):
        argv = [self.ip] + list(args)
        if ns is not None:
            argv = [self.nsenter, "--net=/run/netns/" + ns] + argv
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise WorldError("`%s` failed (%d): %s" % (" ".join(argv), r.returncode,
                                                      (r.stderr or r.stdout).strip()))
        return r.stdout

    # -- lifecycle --------------------------------------------------------
    def up(self, timeout=15):
        if self.is_up:
            return self
        if not self.ip or not self.nsenter:
            raise WorldError("the test world needs `ip` (iproute2) and `nsenter` (util-linux)")
        install_handlers()
        sweep(self.log)
        _live.append(self)
        try:
            self._build(timeout)
        except BaseException:
            self.down()
            raise
        self.is_up = True
        return self

    def _build(self, timeout):
        self.dir = tempfile.mkdtemp(prefix="ef-world-")
        ledger().add("tmp", self.dir)
        stale = [n for n in self.netns_list() if n.startswith(("ef-fence-", "ef-hosts-"))]
        if stale:
            self.log("note: netns of another run (still going, or killed before it wrote its "
                     "ledger; not touched): %s" % " ".join(stale))
        for ns in (self.fence, self.hosts):
            ledger().add("netns", ns)
            self._ip("netns", "add", ns)
            self.created.append(ns)
        F, H = self.fence, self.hosts
        self._ip("link", "add", self.veth_fence, "netns", F, "type", "veth",
                 "peer", "name", self.veth_hosts, "netns", H)
        for ns, dev, v4, v6 in ((F, self.veth_fence, FENCE_V4, FENCE_V6),
                                (H, self.veth_hosts, HOSTS_V4, HOSTS_V6)):
            self._ip("link", "set", "lo", "up", ns=ns)
            self._ip("addr", "add", v4 + "/24", "dev", dev, ns=ns)
            self._ip("-6", "addr", "add", v6 + "/64", "dev", dev, "nodad", ns=ns)
            self._ip("link", "set", dev, "up", ns=ns)
        for a in HOSTS_EXTRA_V4 + [DNS_V4]:
            self._ip("addr", "add", a + "/32", "dev", self.veth_hosts, ns=H)
        for a in HOSTS_EXTRA_V6 + [DNS_V6]:
            self._ip("-6", "addr", "add", a + "/128", "dev", self.veth_hosts, "nodad", ns=H)
        for net in ANYIP_V4:  # every address of these answers (hostd listens on [::])
            self._ip("route", "add", "local", net, "dev", "lo", ns=H)
        for r in FENCE_ROUTES_V4:
            self._ip("route", "add", r, "via", HOSTS_V4, "dev", self.veth_fence, ns=F)
        for r in FENCE_ROUTES_V6:
            self._ip("-6", "route", "add", r, "via", HOSTS_V6, "dev", self.veth_fence, ns=F)
        # ICMP datagram ("ping") sockets: allowed for everyone in the fence ns, so a
        # refused one is the fence's doing, not the default "1 0" range
        r = self.in_fence(["/bin/sh", "-c",
                           "echo '0 2147483647' > /proc/sys/net/ipv4/ping_group_range"])
        if r.returncode != 0:
            raise WorldError("cannot set ping_group_range in the fence ns: " + r.stderr.strip())
        self._start_hostd(timeout)
        self._start_dnsmasq(timeout)

    def _start_hostd(self, timeout):
        self.hostd_log = os.path.join(self.dir, "hostd.jsonl")
        open(self.hostd_log, "w").close()
        err = open(os.path.join(self.dir, "hostd.stderr"), "w")
        self.hostd = subprocess.Popen(
            self.hosts_argv([PY, HOSTD, "--tcp", ",".join(map(str, TCP_PORTS)),
                             "--udp", ",".join(map(str, UDP_PORTS)), "--log", self.hostd_log]),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        ledger().add("pid", self.hostd.pid)
        err.close()
        deadline = time.time() + timeout
        line = b""
        while time.time() < deadline and not line.endswith(b"\n"):
            if self.hostd.poll() is not None:
                break
            rd, _, _ = select.select([self.hostd.stdout], [], [], 0.2)
            if rd:
                ch = os.read(self.hostd.stdout.fileno(), 256)
                if not ch:
                    break
                line += ch
        if not line.startswith(b"READY"):
            with open(os.path.join(self.dir, "hostd.stderr")) as f:
                tail = f.read()[-2000:]
            raise WorldError("hostd.py did not become ready in %ss (exit %s): %s" % (
                timeout, self.hostd.poll(), tail.strip() or line.decode(errors="replace")))

    def _start_dnsmasq(self, timeout):
        exe = tool("dnsmasq")
        if not exe:
            raise WorldError("the test world needs dnsmasq (Debian: apt-get install dnsmasq-base)")
        self.dns_log_path = os.path.join(self.dir, "dnsmasq.log")
        open(self.dns_log_path, "w").close()
        argv = [exe, "--keep-in-foreground", "--conf-file=/dev/null", "--pid-file=",
                "--user=root", "--group=root", "--no-resolv", "--no-poll", "--no-hosts",
                "--bind-interfaces", "--listen-address=" + DNS_V4, "--listen-address=" + DNS_V6,
                "--port=53", "--local=/test/", "--local-ttl=%d" % DNS_TTL, "--log-queries",
                "--log-facility=" + self.dns_log_path] + dnsmasq_args()
        err = open(os.path.join(self.dir, "dnsmasq.stderr"), "w")
        # C locale: dns_log() parses the English month names of its log stamps
        # (local time, as time.mktime reads them: same TZ if one is set)
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}
        if "TZ" in os.environ:
            env["TZ"] = os.environ["TZ"]
        self.dnsmasq = subprocess.Popen(self.hosts_argv(argv), stdin=subprocess.DEVNULL,
                                        stdout=err, stderr=err, env=env)
        ledger().add("pid", self.dnsmasq.pid)
        err.close()
        deadline = time.time() + timeout
        last = "no answer"
        while time.time() < deadline:
            if self.dnsmasq.poll() is not None:
                break
            r = self.in_fence([PY, PROBE, "dns-query", "ok.test", "--server", DNS_V4,
                               "--timeout", "0.3"], timeout=10)
            try:
                (res,) = parse_lines(r.stdout, r)
            except (AssertionError, ValueError) as e:
                last = str(e)
                res = {}
            if res.get("rcode") == "NOERROR":
                return
            last = res.get("err") or res.get("rcode") or last
            time.sleep(0.1)
        with open(os.path.join(self.dir, "dnsmasq.stderr")) as f:
            tail = f.read()[-2000:]
        with open(self.dns_log_path) as f:
            tail += f.read()[-2000:]
        raise WorldError("dnsmasq did not answer in %ss (exit %s; last: %s): %s" % (
            timeout, self.dnsmasq.poll(), last, tail.strip()))

    def down(self):
        """Idempotent; kills only what this world started, by pid."""
        if self in _live:
            _live.remove(self)
        p, self.dnsmasq = self.dnsmasq, None
        if p is not None:
            # dnsmasq forks a child per TCP connection: those first, by pid
            for child in children_of(p.pid):
                try:
                    os.kill(child, signal.SIGKILL)
                except OSError:
                    pass
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(3)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(3)
            ledger().drop("pid", p.pid)
        p, self.hostd = self.hostd, None
        if p is not None:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(3)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(3)
            if p.stdout:
                p.stdout.close()
            ledger().drop("pid", p.pid)
        for ns in reversed(self.created):
            subprocess.run([self.ip, "netns", "del", ns], capture_output=True, timeout=30)
            if not os.path.exists("/run/netns/" + ns):
                ledger().drop("netns", ns)
        self.created = []
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            ledger().drop("tmp", self.dir)
            self.dir = None
        self.is_up = False

    # -- inspection -------------------------------------------------------
    def netns_list(self):
        r = subprocess.run([self.ip, "netns", "list"], capture_output=True, text=True)
        return [line.split()[0] for line in r.stdout.splitlines() if line.strip()]

    def leftovers(self):
        """What of this world still exists (empty list once down)."""
        left = [n for n in (self.fence, self.hosts) if n in self.netns_list()]
        left += ["/run/netns/" + n for n in (self.fence, self.hosts)
                 if os.path.exists("/run/netns/" + n)]
        return left

    def dns_mark(self):
        """The current end of dnsmasq's log, for dns_queries(since=mark)."""
        try:
            return DnsMark(os.path.getsize(self.dns_log_path))
        except (OSError, TypeError):
            return DnsMark(0)

    def dns_log(self, since=None):
        """The queries dnsmasq logged: [{"t", "type", "name", "from", "pid"}].
        since: a DnsMark (exact), or a time.time() value: dnsmasq stamps
        whole seconds, so every query logged in that second or later counts."""
        off = since.offset if isinstance(since, DnsMark) else 0
        out = []
        try:
            with open(self.dns_log_path, "rb") as f:
                f.seek(off)
                data = f.read()
        except (OSError, TypeError):
            return out
        year = time.localtime().tm_year
        for line in data.decode(errors="replace").splitlines():
            m = DNS_LOG_RE.match(line)
            if not m:
                continue
            stamp, pid, qtype, name, src = m.groups()
            t = time.mktime(time.strptime("%d %s" % (year, stamp), "%Y %b %d %H:%M:%S"))
            if t > time.time() + 86400:  # logged last December
                t = time.mktime(time.strptime("%d %s" % (year - 1, stamp), "%Y %b %d %H:%M:%S"))
            if since is not None and not isinstance(since, DnsMark) and t < int(since):
                continue
            out.append({"t": t, "type": qtype, "name": name.rstrip(".").lower(), "from": src,
                        "pid": int(pid)})
        return out

    def dns_queries(self, since=None):
        """The names dnsmasq was asked (lowercase, no trailing dot, in order;
        one entry per query). since: as for dns_log()."""
        return [e["name"] for e in self.dns_log(since)]

    def host_log(self):
        """Connections and datagrams the hosts' servers saw (list of dicts)."""
        try:
            with open(self.hostd_log) as f:
                return [json.loads(line) for line in f if line.endswith("\n")]
        except (OSError, TypeError):
            return []

    def __enter__(self):
        return self.up()

    def __exit__(self, *exc):
        self.down()


def otlp_value(v):
    """An OTLP/JSON AnyValue as Python (arrays as lists)."""
    if "arrayValue" in v:
        return [otlp_value(x) for x in v["arrayValue"].get("values", [])]
    return list(v.values())[0]


def journal_spans(state):
    """Every span in <state>/journal/*, oldest file first, as (span, attrs)
    pairs; a torn last line (egressd still writing) ends a file. For the
    demo and the benchmarks; the tests read the journal through
    harness_daemon.py."""
    out = []
    jdir = os.path.join(state, "journal")
    for name in sorted(os.listdir(jdir)):
        with open(os.path.join(jdir, name)) as f:
            for line in f:
                if not line.endswith("\n"):
                    break
                for rs in json.loads(line)["resourceSpans"]:
                    for ss in rs["scopeSpans"]:
                        for sp in ss["spans"]:
                            out.append((sp, {x["key"]: otlp_value(x["value"])
                                             for x in sp["attributes"]}))
    return out


def children_of(pid):
    """pids whose parent is pid."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(name))
        except (OSError, ValueError, IndexError):
            pass
    return out


def pid_alive(pid):
    """True if pid runs (a zombie is not running: pid 1 here may reap late)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def parse_lines(text, proc=None):
    """JSON lines from probe output; a non-JSON line is an error that names it."""
    out = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            out.append(json.loads(line))
        except ValueError:
            extra = ""
            if proc is not None:
                extra = " (exit %s, stderr: %s)" % (proc.returncode, (proc.stderr or "")[-500:])
            raise AssertionError("probe printed a non-JSON line %r%s" % (line[:200], extra))
    return out


def main(argv):
    if os.geteuid() != 0:
        print("world.py: must run as root", file=sys.stderr)
        return 1
    cmd = argv[1] if len(argv) > 1 else "selftest"
    if cmd == "selftest":
        from world_selftest import selftest
        return selftest()
    if cmd == "up":
        w = World(log=print).up()
        print("fence: nsenter --net=/run/netns/%s   hosts: nsenter --net=/run/netns/%s" % (
            w.fence, w.hosts))
        print("hostd log: %s; dnsmasq (%s, %s) log: %s; Ctrl-C to tear down" % (
            w.hostd_log, DNS_V4, DNS_V6, w.dns_log_path))
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    # world_selftest.py imports world: this very module, not a second copy
    sys.modules.setdefault("world", sys.modules["__main__"])
    sys.exit(main(sys.argv))
