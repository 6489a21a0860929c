#!/usr/bin/python3
"""Runs one command inside a VM that boots a distribution kernel (by default
Debian 12's stock kernel, package linux-image-amd64) with this machine's
filesystem as its root, and passes the command's output and exit status back.

    tests/vm/run.py [--kernel PATH] [--timeout S] [--mem MB] [--smp N]
                    [--accel auto|kvm|tcg] [--env KEY=VALUE]... [--out DIR]
                    [--keep] -- CMD [ARG...]

The guest:
  - root: the host's root filesystem, exported read-only over virtio 9p
    (only that filesystem: a non-recursive bind mount of / in a private mount
    namespace, so none of the host's other mounts shows through) under a
    tmpfs overlay, so that the command may write anywhere and nothing reaches
    the host;
  - fresh /proc, /sys, /dev, /dev/pts, /dev/shm, /run, /tmp, cgroup2 at
    /sys/fs/cgroup, bpffs at /sys/fs/bpf, securityfs, debugfs, tracefs;
  - /run/vmtest: a second, writable 9p share (a fresh host temp dir) with the
    job and its result; $VMTEST_OUT (/run/vmtest/out) is copied to --out DIR;
  - 2 vCPUs and 2048 MB unless told otherwise; no network card.
CMD runs as root in the repository (this file's ../..) with PATH, HOME=/root,
LANG=C.UTF-8 and the --env pairs; its stdout and stderr come back on their own
serial ports as it runs. The kernel's console goes to console.log in the run's
temp dir.

Exits with the command's status. When the guest panics, powers off without a
result or does not finish within --timeout, prints why and the tail of the
console log on stderr and exits 125. A missing qemu, kernel or busybox is an
error naming the Debian package (make deps installs them); nothing is skipped.

KVM is used only when it can run a stock kernel: /dev/kvm usable and the CPU
showing vmx or svm (a nested hypervisor that hides them cannot, so such a
machine uses qemu's TCG, 15 to 60 times slower). --accel forces either.

The initramfs (a static busybox, tests/vm/init.sh and the kernel's 9p, virtio
and overlay modules) is built on first use and cached in build/vm/.
"""
import argparse
import glob
import gzip
import hashlib
import json
import lzma
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CACHE = os.path.join(REPO, "build", "vm")
QEMU = "qemu-system-x86_64"
BUSYBOX = "/bin/busybox"
# what /init loads, in this order with their dependencies first
MODULES = ["virtio_pci", "9pnet_virtio", "9p", "overlay"]
GUEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
FAIL = 125


class VMError(Exception):
    pass


def need(cond, what, package):
    if not cond:
        raise VMError("%s is missing: install the Debian package %s (make deps)" % (what, package))


# --------------------------------------------------------------------------
# kernel and modules

def default_kernel():
    """The newest Debian 12 kernel (6.1.x) in /boot, else the newest stock one."""
    def key(p):
        return [int(x) if x.isdigit() else x for x in re.split(r"[.-]", p)]
    stock = sorted(glob.glob("/boot/vmlinuz-*-amd64"), key=key)
    six_one = [k for k in stock if os.path.basename(k).startswith("vmlinuz-6.1.")]
    need(stock, "a stock kernel in /boot (vmlinuz-*-amd64)", "linux-image-amd64")
    return (six_one or stock)[-1]


def kernel_release(kernel):
    base = os.path.basename(os.path.realpath(kernel))
    if not base.startswith("vmlinuz-"):
        raise VMError("cannot tell the kernel release of %s (want /boot/vmlinuz-RELEASE)" % kernel)
    return base[len("vmlinuz-"):]


def module_files(release):
    """The .ko files /init loads, dependencies first, as (name, path)."""
    mdir = "/lib/modules/" + release
    need(os.path.exists(mdir + "/modules.dep"), mdir + "/modules.dep",
         "linux-image-" + release)
    dep, builtin = {}, set()

    def name(path):
        return re.sub(r"\.ko(\.(xz|gz|zst))?$", "", os.path.basename(path)).replace("-", "_")
    with open(mdir + "/modules.dep") as f:
        for line in f:
            mod, _, deps = line.partition(":")
            dep[name(mod)] = (mod, deps.split())
    if os.path.exists(mdir + "/modules.builtin"):
        with open(mdir + "/modules.builtin") as f:
            builtin = {name(x.strip()) for x in f}
    order, seen = [], set()

    def add(n):
        if n in seen or n in builtin:
            return
        if n not in dep:
            raise VMError("the kernel %s has no module %s (in %s/modules.dep)" % (release, n, mdir))
        seen.add(n)
        for d in dep[n][1]:
            add(name(d))
        order.append((n, os.path.join(mdir, dep[n][0])))
    for n in MODULES:
        add(n)
    return order


def read_module(path):
    if path.endswith(".xz"):
        with lzma.open(path) as f:
            return f.read()
    if path.endswith(".gz"):
        with gzip.open(path) as f:
            return f.read()
    if path.endswith(".zst"):
        need(shutil.which("zstd"), "zstd (the kernel's modules are zstd-compressed)", "zstd")
        return subprocess.run(["zstd", "-dc", path], check=True, stdout=subprocess.PIPE).stdout
    with open(path, "rb") as f:
        return f.read()


# --------------------------------------------------------------------------
# initramfs: a newc cpio archive, written here so that neither cpio nor root
# is needed (the /dev/console node is just an entry)

def cpio_entry(name, mode, data=b"", rdev=(0, 0)):
    name_b = name.encode() + b"\0"
    hdr = "070701" + "".join("%08X" % v for v in (
        0, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name_b), 0))
    out = hdr.encode() + name_b
    out += b"\0" * (-len(out) % 4) + data
    return out + b"\0" * (-len(out) % 4)


def build_initramfs(release):
    need(os.path.exists(BUSYBOX), BUSYBOX, "busybox-static")
    with open(BUSYBOX, "rb") as f:
        busybox = f.read()
    # a dynamic busybox (package busybox) would find no libc in the initramfs
    if b"ld-linux" in busybox[:4096] or b"/lib64/ld-" in busybox[:4096]:
        raise VMError("%s is dynamically linked: install the Debian package busybox-static "
                      "(make deps)" % BUSYBOX)
    with open(os.path.join(HERE, "init.sh"), "rb") as f:
        init = f.read()
    mods = [(n, read_module(p)) for n, p in module_files(release)]
    h = hashlib.sha256(busybox + init)
    for n, data in mods:
        h.update(n.encode() + b"\0" + data)
    path = os.path.join(CACHE, "initramfs-%s-%s.cpio" % (release, h.hexdigest()[:12]))
    if os.path.exists(path):
        return path
    d, f, x = stat.S_IFDIR | 0o755, stat.S_IFREG | 0o644, stat.S_IFREG | 0o755
    parts = [cpio_entry(p, d) for p in ("bin", "dev", "proc", "sys", "lib", "lib/modules")]
    parts.append(cpio_entry("dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1)))
    parts.append(cpio_entry("bin/busybox", x, busybox))
    parts.append(cpio_entry("init", x, init))
    for n, data in mods:
        parts.append(cpio_entry("lib/modules/%s.ko" % n, f, data))
    order = "".join("%s.ko\n" % n for n, _ in mods).encode()
    parts.append(cpio_entry("lib/modules/load.order", f, order))
    parts.append(cpio_entry("TRAILER!!!", 0))
    os.makedirs(CACHE, exist_ok=True)
    tmp = path + ".tmp%d" % os.getpid()
    with open(tmp, "wb") as out:
        out.write(b"".join(parts))
    os.rename(tmp, path)
    return path


# --------------------------------------------------------------------------
# qemu

def kvm_usable():
    """KVM runs a stock kernel only with the CPU's own virtualization: a
    nested hypervisor that offers /dev/kvm but hides vmx/svm (as this
    project's CI machines do) does not boot Debian's kernel."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "vmx" in flags or "svm" in flags


def qemu_argv(a, kernel, initrd, tmp, root):
    accel = a.accel if a.accel != "auto" else ("kvm" if kvm_usable() else "tcg")
    if accel == "kvm":
        machine = ["-accel", "kvm", "-cpu", "host"]
    else:
        machine = ["-accel", "tcg,thread=multi", "-cpu", "max"]
    append = "console=ttyS0 panic=-1 " + a.append
    fs = []
    for tag, path, opts in (("efroot", root, "readonly=on"), ("efshare", tmp + "/share", "")):
        fs += ["-fsdev", "local,id=%s,path=%s,security_model=none,multidevs=remap%s" % (
            tag, path, "," + opts if opts else ""),
               "-device", "virtio-9p-pci,fsdev=%s,mount_tag=%s" % (tag, tag)]
    return [QEMU] + machine + [
        "-smp", str(a.smp), "-m", str(a.mem), "-nographic", "-monitor", "none", "-vga", "none",
        "-nic", "none", "-no-reboot", "-kernel", kernel, "-initrd", initrd, "-append", append,
        "-serial", "file:" + tmp + "/console.log",
        "-serial", "file:" + tmp + "/stdout.log",
        "-serial", "file:" + tmp + "/stderr.log"] + fs, accel


def private_root(tmp, argv):
    """Exports only the root filesystem: qemu runs in a private mount
    namespace where <tmp>/root is a non-recursive bind mount of /. Needs
    root (and unshare); without, / is exported as it is, and the guest's own
    /proc, /sys, /dev, /run and /tmp cover what of the host's mounts would
    show through there. Returns (the path to export, the argv to run qemu)."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return "/", argv
    root = tmp + "/root"
    os.mkdir(root)
    # read-only twice: the bind mount, and qemu's readonly=on
    script = 'mount --bind / "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'
    return root, ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
                  root] + argv


class Tail(threading.Thread):
    """Copies what a serial port's log file gains to one of our streams."""

    def __init__(self, path, stream):
        super().__init__(daemon=True)
        self.path, self.stream, self.stop, self.pos = path, stream, threading.Event(), 0

    def pump(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
        except FileNotFoundError:
            return
        if data:
            self.pos += len(data)
            self.stream.buffer.write(data)
            self.stream.flush()

    def run(self):
        while not self.stop.wait(0.2):
            self.pump()
        self.pump()


def console_tail(tmp, n=40):
    try:
        with open(tmp + "/console.log", "rb") as f:
            lines = f.read().decode(errors="replace").replace("\r", "").splitlines()
    except FileNotFoundError:
        return "(no console log)"
    return "\n".join(lines[-n:])


def why_no_result(tmp):
    try:
        with open(tmp + "/console.log", "rb") as f:
            log = f.read().decode(errors="replace")
    except FileNotFoundError:
        log = ""
    for pat, what in ((r"Kernel panic - not syncing: .*", "the guest kernel panicked"),
                      (r"vmtest-init: FAILED: .*", "the initramfs could not set the guest up"),
                      (r"vmtest-guest: FAILED.*", "the guest's PID 1 (tests/vm/guest.py) failed")):
        m = re.search(pat, log)
        if m:
            return "%s: %s" % (what, m.group(0).strip())
    return "the guest powered off without a result"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kernel", help="kernel image (default: newest /boot/vmlinuz-6.1.*-amd64)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds (default 1800)")
    ap.add_argument("--mem", type=int, default=2048, help="MB (default 2048)")
    ap.add_argument("--smp", type=int, default=2, help="vCPUs (default 2)")
    ap.add_argument("--accel", choices=("auto", "kvm", "tcg"), default="auto")
    ap.add_argument("--append", default="", help="more kernel command line")
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--out", metavar="DIR", help="copy what the command left in $VMTEST_OUT here")
    ap.add_argument("--keep", action="store_true", help="keep the run's temp dir (logs, job)")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    if not cmd:
        ap.error("no command (tests/vm/run.py [options] -- CMD [ARG...])")
    try:
        return run(a, cmd)
    except VMError as e:
        print("vmtest: " + str(e), file=sys.stderr)
        return FAIL


def run(a, cmd):
    need(shutil.which(QEMU), QEMU, "qemu-system-x86")
    kernel = a.kernel or default_kernel()
    need(os.path.exists(kernel), kernel, "linux-image-amd64")
    release = kernel_release(kernel)
    initrd = build_initramfs(release)

    tmp = tempfile.mkdtemp(prefix="egress-fence-vm-")
    share = tmp + "/share"
    os.makedirs(share + "/out")
    shutil.copy(os.path.join(HERE, "guest.py"), share + "/guest.py")
    env = {"PATH": GUEST_PATH, "HOME": "/root", "USER": "root", "LOGNAME": "root",
           "LANG": "C.UTF-8", "TERM": "dumb", "VMTEST_OUT": "/run/vmtest/out"}
    for kv in a.env:
        k, sep, v = kv.partition("=")
        if not sep or not k:
            raise VMError("--env wants KEY=VALUE, not %r" % kv)
        env[k] = v
    with open(share + "/job.json", "w") as f:
        json.dump({"argv": cmd, "cwd": REPO, "env": env}, f)

    root, wrap = private_root(tmp, [])
    argv, accel = qemu_argv(a, kernel, initrd, tmp, root)
    argv = wrap + argv
    with open(tmp + "/qemu.argv", "w") as f:
        f.write(" ".join(argv) + "\n")
    print("vmtest: booting %s (%s, %d vCPUs, %d MB) to run: %s" % (
        kernel, accel, a.smp, a.mem, " ".join(cmd)), file=sys.stderr, flush=True)

    tails = [Tail(tmp + "/stdout.log", sys.stdout), Tail(tmp + "/stderr.log", sys.stderr)]
    for t in tails:
        t.start()
    t0 = time.monotonic()
    started = None
    with open(tmp + "/qemu.log", "wb") as qlog:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=qlog, stderr=qlog,
                                start_new_session=True)
    timed_out = False
    try:
        while proc.poll() is None:
            if started is None and os.path.exists(share + "/started.json"):
                started = time.monotonic() - t0
            if time.monotonic() - t0 > a.timeout:
                timed_out = True
                break
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for t in tails:
            t.stop.set()
            t.join()
    total = time.monotonic() - t0

    result = None
    if os.path.exists(share + "/status.json"):
        with open(share + "/status.json") as f:
            result = json.load(f)
    if timed_out:
        why = "the guest did not finish within %g s (--timeout)" % a.timeout
    elif proc.returncode != 0:
        with open(tmp + "/qemu.log", errors="replace") as f:
            why = "qemu exited with status %d: %s" % (proc.returncode, f.read().strip()[-2000:])
    elif result is None:
        why = why_no_result(tmp)
    else:
        why = None
    if why:
        print("vmtest: FAILED: %s\nvmtest: console log %s/console.log, its tail:\n%s" % (
            why, tmp, console_tail(tmp)), file=sys.stderr)
        return FAIL

    if a.out:
        os.makedirs(a.out, exist_ok=True)
        for n in os.listdir(share + "/out"):
            shutil.move(os.path.join(share, "out", n), os.path.join(a.out, n))
    print("vmtest: status %d; boot to command %.1f s (guest uptime %.1f s), command %.1f s, "
          "total %.1f s" % (result["status"], started if started is not None else -1,
                            result["uptime_start"], result["seconds"], total),
          file=sys.stderr)
    if a.keep:
        print("vmtest: kept %s" % tmp, file=sys.stderr)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return result["status"]


if __name__ == "__main__":
    sys.exit(main())
