"""A real dockerd (Debian's docker.io) for the tests of the Docker endpoint,
started in the test world's fence namespace: its containers reach the test
hosts through a bridge (10.213.0.0/24, 2001:db8:213::/64) routed by the
fence namespace, no NAT, no iptables rules. One per test run, made at the
first use and stopped at exit (by pid); its files live under a directory of
its own. The image ef-bb:1 is a rootfs of Debian's busybox-static, imported
with `docker import`: no registry is asked.

Api(path) speaks to it directly, outside every job: the tests judge by what
dockerd itself holds (its containers, their labels and settings), never by
what the job said."""
import atexit
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import world as W

IMAGE = "ef-bb:1"
SHIM_ROOT = "/run/containerd"
SUBNET4 = "10.213.0.0/24"
BIP4 = "10.213.0.1/24"
SUBNET6 = "2001:db8:213::/64"
DOCKERD = "/usr/sbin/dockerd"
DOCKER = "/usr/bin/docker"  # Debian's client (a newer one may come first on PATH)
BUSYBOX = "/bin/busybox"

_one = None


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("docker", timeout=timeout)
        self.path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(self.timeout)
        s.connect(self.path)
        self.sock = s


def missing():
    """What this machine lacks for the Docker tests, or None."""
    for p in (DOCKERD, DOCKER, BUSYBOX, "/usr/bin/containerd", "/usr/sbin/runc"):
        if not os.access(p, os.X_OK):
            return "%s is missing (Debian's docker.io and busybox-static: `make deps`)" % p
    return None


class Dockerd:
    def __init__(self, world):
        self.world = world
        self.tag = secrets.token_hex(3)
        self.dir = tempfile.mkdtemp(prefix="ef-dockerd-")
        # socket paths must stay short (108 bytes)
        self.exec_root = "/run/ef-dk-" + self.tag
        self.sock = os.path.join(self.exec_root, "docker.sock")
        self.proc = None
        self.log_path = os.path.join(self.dir, "dockerd.log")
        shim_dirs_gone()  # an earlier run's, empty
        self.shim_dir_existed = os.path.exists(SHIM_ROOT)

    def start(self, timeout=60):
        os.makedirs(self.exec_root, mode=0o700)
        W.ledger().add("tmp", self.dir)
        W.ledger().add("tmp", self.exec_root)
        if not self.shim_dir_existed:
            W.ledger().add("tmp", SHIM_ROOT)
        fence = "/run/netns/" + self.world.fence
        # the fence ns routes the bridge; the hosts ns routes it back
        self.world.in_fence(["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
        self.world.in_fence(["sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1"])
        for args in (["route", "replace", SUBNET4, "via", "198.18.0.1"],
                     ["-6", "route", "replace", SUBNET6, "via", "2001:db8::1"]):
            subprocess.run(self.world.hosts_argv(["ip"] + args), capture_output=True,
                           timeout=30)
        argv = [self.world.nsenter, "--net=" + fence, DOCKERD,
                "--data-root", os.path.join(self.dir, "data"),
                "--exec-root", self.exec_root,
                "--pidfile", os.path.join(self.exec_root, "dockerd.pid"),
                "-H", "unix://" + self.sock,
                "--iptables=false", "--ip6tables=false", "--ip-masq=false",
                "--bip", BIP4, "--ipv6", "--fixed-cidr-v6", SUBNET6,
                "--userland-proxy=false", "--dns", "198.18.0.53",
                "--storage-driver", "overlay2", "--log-level", "warn"]
        env = dict(os.environ)
        env["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env,
                                         start_new_session=True)
        W.ledger().add("pid", self.proc.pid)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("dockerd exited %s: %s" % (self.proc.returncode,
                                                               self.log_tail()))
            try:
                if self.api("GET", "/_ping")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        else:
            raise AssertionError("dockerd did not answer in %ds: %s" % (timeout,
                                                                        self.log_tail()))
        self.import_image()
        return self

    def log_tail(self, n=1500):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return ""

    def import_image(self):
        root = os.path.join(self.dir, "rootfs")
        for d in ("bin", "etc", "tmp", "proc", "sys", "dev", "work"):
            os.makedirs(os.path.join(root, d), exist_ok=True)
        shutil.copy(BUSYBOX, os.path.join(root, "bin", "busybox"))
        for c in ("sh", "cat", "wget", "nc", "nslookup", "sleep", "echo", "true", "ls", "id",
                  "hostname", "head", "ping", "printf", "grep", "touch", "mkdir", "ip"):
            os.symlink("busybox", os.path.join(root, "bin", c))
        with open(os.path.join(root, "etc", "nsswitch.conf"), "w") as f:
            f.write("hosts: files dns\n")
        with open(os.path.join(root, "etc", "passwd"), "w") as f:
            f.write("root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n")
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        r = subprocess.run(self.cli(["import", "-", IMAGE]), stdin=tar.stdout,
                           capture_output=True, text=True, timeout=120)
        tar.wait()
        if r.returncode != 0:
            raise AssertionError("docker import failed: %s" % r.stderr.strip())

    def cli(self, args):
        """The docker CLI against the real dockerd, outside every job."""
        return [DOCKER, "-H", "unix://" + self.sock] + list(args)

    def api(self, method, path, body=None, timeout=60):
        c = UnixHTTP(self.sock, timeout)
        try:
            data = json.dumps(body).encode() if body is not None else None
            c.request(method, path, body=data,
                      headers={"Content-Type": "application/json"} if data else {})
            r = c.getresponse()
            raw = r.read()
            try:
                doc = json.loads(raw) if raw else None
            except ValueError:
                doc = raw
            return r.status, doc
        finally:
            c.close()

    def containers(self, label=None):
        """Every container dockerd holds (all states), or those of a job."""
        q = "/containers/json?all=1"
        if label:
            q += "&filters=" + json.dumps({"label": ["io.egress-fence.job=" + label]}).replace(
                " ", "")
            import urllib.parse
            q = "/containers/json?all=1&filters=" + urllib.parse.quote(
                json.dumps({"label": ["io.egress-fence.job=" + label]}))
        st, doc = self.api("GET", q)
        return doc if st == 200 else []

    def stop(self):
        try:
            if self.proc and self.proc.poll() is None:
                # its containers first, then dockerd (which stops its containerd)
                try:
                    for c in self.containers():
                        self.api("DELETE", "/containers/%s?force=1&v=1" % c["Id"], timeout=30)
                except (OSError, ValueError, TypeError, KeyError) as e:
                    print("dockerd.py: removing the containers: %r" % e, file=sys.stderr)
                os.killpg(self.proc.pid, signal.SIGTERM)
                try:
                    self.proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(5)
        finally:
            self._cleanup()

    def _cleanup(self):
        if self.proc:
            W.ledger().drop("pid", self.proc.pid)
        subprocess.run(["umount", "-R", "-l", os.path.join(self.dir, "data")],
                       capture_output=True)
        for p in (os.path.join(self.exec_root, "netns"),):
            if os.path.isdir(p):
                for n in os.listdir(p):
                    subprocess.run(["umount", "-l", os.path.join(p, n)], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)
        shutil.rmtree(self.exec_root, ignore_errors=True)
        shim_dirs_gone()
        W.ledger().drop("tmp", SHIM_ROOT)
        W.ledger().drop("tmp", self.dir)
        W.ledger().drop("tmp", self.exec_root)


def shim_dirs_gone():
    """/run/containerd/s and /run/containerd, if nothing is in them: where
    containerd's shims put their sockets whatever dockerd's exec root, left
    behind mode 0600 (and so unsearchable by others) when they are done."""
    for d in (os.path.join(SHIM_ROOT, "s"), SHIM_ROOT):
        try:
            os.rmdir(d)
        except OSError:
            pass


def get(world):
    """The run's dockerd, started at the first call."""
    global _one
    m = missing()
    if m:
        raise AssertionError(m)
    if _one is None:
        _one = Dockerd(world)
        atexit.register(_one.stop)
        _one.start()
    return _one
