#!/usr/bin/python3
"""Run inside a fenced job (as root): try each way of taking the fence down
and print one JSON line per attempt: {"op", "ok", "errno"}. Every attempt
is harmless if it were to succeed by mistake: signals are 0 (a permission
check), the kernel setting written is its current value, the cgroup write
moves this process back to where it is... (see each op).

usage: tamper.py EGRESSD_PID CGROUP2_MOUNT CGROUP_ROOT BPFFS_DIR
                 [OUTSIDER_ROOT_PID OUTSIDER_NOBODY_PID]

OUTSIDER_*: processes outside the job (root with every capability, and
uid 65534) that the job tries to trace or take a descriptor from.
"""
import ctypes
import errno
import json
import os
import platform
import sys

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

if platform.machine() == "x86_64":
    NR = {"bpf": 321, "pidfd_open": 434, "pidfd_send_signal": 424, "setns": 308,
          "process_vm_readv": 310, "finit_module": 313, "tgkill": 234, "tkill": 200,
          "ptrace": 101, "umount2": 166, "mount": 165, "pidfd_getfd": 438,
          "open_tree": 428, "move_mount": 429, "pivot_root": 155, "clone3": 435,
          "prlimit64": 302, "ioprio_set": 251, "ioprio_get": 252, "request_key": 249}
else:  # aarch64
    NR = {"bpf": 280, "pidfd_open": 434, "pidfd_send_signal": 424, "setns": 268,
          "process_vm_readv": 270, "finit_module": 273, "tgkill": 131, "tkill": 130,
          "ptrace": 117, "umount2": 39, "mount": 40, "pidfd_getfd": 438,
          "open_tree": 428, "move_mount": 429, "pivot_root": 41, "clone3": 435,
          "prlimit64": 261, "ioprio_set": 30, "ioprio_get": 31, "request_key": 218}


def out(op, ok, err=0, **kw):
    d = {"op": op, "ok": ok, "errno": errno.errorcode.get(err, str(err)) if err else ""}
    d.update(kw)
    print(json.dumps(d), flush=True)


def sysc(op, name, *args):
    r = libc.syscall(ctypes.c_long(NR[name]), *[ctypes.c_long(a) for a in args])
    e = ctypes.get_errno() if r < 0 else 0
    out(op, r >= 0, e)
    return r


def py(op, fn):
    try:
        fn()
        out(op, True)
    except OSError as e:
        out(op, False, e.errno)


def write(path, data, relative_to=None):
    def go():
        if relative_to:
            os.chdir(relative_to)
        try:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, data.encode())
            finally:
                os.close(fd)
        finally:
            if relative_to:
                os.chdir("/")
    return go


def main():
    egressd, cg2, cgroot, bpffs = sys.argv[1:5]
    rel = [x for x in open("/proc/self/cgroup").read().splitlines() if x.startswith("0::")]
    jobcg = cg2 + rel[0][3:]
    egressd = int(egressd)
    me = str(os.getpid())

    # bpf(): BPF_MAP_CREATE with an empty attribute buffer, BPF_OBJ_GET of a pin
    attr = ctypes.create_string_buffer(128)
    sysc("bpf_map_create", "bpf", 0, ctypes.addressof(attr), 128)
    path = ctypes.create_string_buffer((bpffs + "/ef_jobs").encode())
    ctypes.memmove(attr, ctypes.byref(ctypes.c_uint64(ctypes.addressof(path))), 8)
    sysc("bpf_obj_get", "bpf", 7, ctypes.addressof(attr), 128)

    # leaving the job's cgroup: to the cgroup2 root, to the fence's root
    # (moving this very process, which is where it already belongs if refused)
    py("cgroup_procs_root", write(os.path.join(cg2, "cgroup.procs"), me))
    py("cgroup_procs_fence_root", write(os.path.join(cgroot, "cgroup.procs"), me))
    py("cgroup_procs_relative", write("cgroup.procs", me, relative_to=cg2))
    # through the root of a process outside the job: its mount namespace,
    # where the cgroup tree is writable (ptrace access to pid 1 needed)
    py("cgroup_procs_via_proc1_root", write("/proc/1/root" + cg2 + "/cgroup.procs", me))
    py("cgroup_mkdir_fence_root", lambda: os.mkdir(os.path.join(cgroot, "evil-" + me)))
    # (the fence's root has the jobs below it: EBUSY, were it let through)
    py("cgroup_rmdir_fence_root", lambda: os.rmdir(cgroot))

    def rename_back():  # renamed back at once, were it let through
        os.rename(cgroot, cgroot + "-x")
        os.rename(cgroot + "-x", cgroot)
    py("cgroup_rename_fence_root", rename_back)
    # changing the fence's cgroups: thawing/freezing the fence root
    py("cgroup_freeze_fence_root", write(os.path.join(cgroot, "cgroup.freeze"), "0"))
    # the job's own cgroup stays usable: a nested cgroup
    nested = os.path.join(jobcg, "nest-" + me)
    py("cgroup_mkdir_nested", lambda: os.mkdir(nested))
    py("cgroup_rmdir_nested", lambda: os.rmdir(nested))

    # the fence's pins
    link = os.path.join(bpffs, "link_ef_connect4")
    py("pin_unlink", lambda: os.unlink(link))
    py("pin_rename", lambda: os.rename(link, link + ".x"))
    py("pin_mkdir", lambda: os.mkdir(os.path.join(bpffs, "evil")))
    # mount calls. Were one let through by mistake, it is undone at once or
    # harms nothing: umount2 with MNT_EXPIRE only marks the mount the first
    # time (EAGAIN); the mounts are undone.
    mp = bpffs
    while not os.path.ismount(mp) and mp != "/":
        mp = os.path.dirname(mp)
    mnt = ctypes.create_string_buffer(mp.encode())
    sysc("umount_bpffs", "umount2", ctypes.addressof(mnt), 4)  # MNT_EXPIRE
    tmpfs = ctypes.create_string_buffer(b"tmpfs")
    over = ctypes.create_string_buffer(bpffs.encode())
    if sysc("mount_over_bpffs", "mount", ctypes.addressof(tmpfs), ctypes.addressof(over),
            ctypes.addressof(tmpfs), 1, 0) >= 0:  # MS_RDONLY
        libc.umount2(over, 2)
    cgm = ctypes.create_string_buffer(cg2.encode())
    sysc("remount_cgroup_rw", "mount", 0, ctypes.addressof(cgm), 0, 32 | 4096 | 0, 0)  # REMOUNT|BIND
    # any mount at all: a job's mounts would reach the host's namespace
    mine = "/tmp/ef-tamper-mnt-" + me
    os.mkdir(mine)
    here = ctypes.create_string_buffer(mine.encode())
    if sysc("mount_tmpfs", "mount", ctypes.addressof(tmpfs), ctypes.addressof(here),
            ctypes.addressof(tmpfs), 0, 0) >= 0:
        libc.umount2(here, 2)
    # a copy of a mount tree attached elsewhere (open_tree + move_mount)
    there = mine + "-to"
    os.mkdir(there)
    fd = libc.syscall(ctypes.c_long(NR["open_tree"]), ctypes.c_long(-100),
                      ctypes.c_char_p(mine.encode()), ctypes.c_long(1))  # OPEN_TREE_CLONE
    if fd < 0:
        out("move_mount_clone", False, ctypes.get_errno(), at="open_tree")
    else:
        to = ctypes.create_string_buffer(there.encode())
        empty = ctypes.create_string_buffer(b"")
        if sysc("move_mount_clone", "move_mount", fd, ctypes.addressof(empty), -100,
                ctypes.addressof(to), 4) >= 0:  # MOVE_MOUNT_F_EMPTY_PATH
            libc.umount2(to, 2)
        os.close(fd)
    # pivot_root onto a directory that is no mount point: EINVAL, were it
    # let through (the hook runs before that check)
    sysc("pivot_root", "pivot_root", ctypes.addressof(here), ctypes.addressof(here))
    os.rmdir(there)
    os.rmdir(mine)

    # signals to egressd (signal 0: a permission check only)
    py("kill_egressd", lambda: os.kill(egressd, 0))
    py("kill_every_process", lambda: os.kill(-1, 0))
    sysc("tgkill_egressd", "tgkill", egressd, egressd, 0)
    sysc("tkill_egressd", "tkill", egressd, 0)
    fd = sysc("pidfd_open_egressd", "pidfd_open", egressd, 0)
    if fd >= 0:
        os.close(fd)

    def proc_dir_pidfd():
        fd = os.open("/proc/%d" % egressd, os.O_RDONLY | os.O_DIRECTORY)
        try:
            if libc.syscall(ctypes.c_long(NR["pidfd_send_signal"]), ctypes.c_long(fd),
                            ctypes.c_long(0), ctypes.c_long(0), ctypes.c_long(0)) < 0:
                raise OSError(ctypes.get_errno(), "pidfd_send_signal")
        finally:
            os.close(fd)
    py("pidfd_send_signal_proc_dir", proc_dir_pidfd)

    # ptrace and memory of egressd
    sysc("ptrace_attach_egressd", "ptrace", 16, egressd, 0, 0)  # PTRACE_ATTACH
    sysc("ptrace_seize_egressd", "ptrace", 0x4206, egressd, 0, 0)  # PTRACE_SEIZE
    buf = ctypes.create_string_buffer(8)
    iov = (ctypes.c_uint64 * 2)(ctypes.addressof(buf), 8)
    riov = (ctypes.c_uint64 * 2)(0x400000, 8)
    sysc("process_vm_readv_egressd", "process_vm_readv", egressd, ctypes.addressof(iov), 1,
         ctypes.addressof(riov), 1, 0)
    py("open_egressd_mem", lambda: os.close(os.open("/proc/%d/mem" % egressd, os.O_RDWR)))

    # other namespaces: the host's mount namespace through pid 1
    def setns_host():
        fd = os.open("/proc/1/ns/mnt", os.O_RDONLY)
        try:
            if libc.syscall(ctypes.c_long(NR["setns"]), ctypes.c_long(fd), ctypes.c_long(0)) < 0:
                raise OSError(ctypes.get_errno(), "setns")
        finally:
            os.close(fd)
    py("setns_host_mnt", setns_host)

    # kernel settings: core_pattern runs a program outside every cgroup
    # (written with its current value); the others are opened for writing
    # and closed unwritten
    cur = open("/proc/sys/kernel/core_pattern").read()
    py("write_core_pattern", write("/proc/sys/kernel/core_pattern", cur))
    for op, path in (("open_sysrq_trigger", "/proc/sysrq-trigger"),
                     ("open_sysfs", "/sys/kernel/mm/transparent_hugepage/enabled"),
                     ("open_tracefs", "/sys/kernel/tracing/tracing_on"),
                     ("open_securityfs", "/sys/kernel/security/lsm")):
        py(op, lambda path=path: os.close(os.open(path, os.O_WRONLY)))
    # loading a kernel module (CAP_SYS_MODULE dropped: EPERM before the fd)
    sysc("finit_module", "finit_module", -1, 0, 0)

    # a key the kernel constructs by running /sbin/request-key outside every
    # cgroup (key.dns_resolver resolves any name it is given); "user" keys
    # whose request-key rule, if any, runs a harmless program
    ktype = ctypes.create_string_buffer(b"user")
    kdesc = ctypes.create_string_buffer(("ef-tamper-%s" % me).encode())
    callout = ctypes.create_string_buffer(b"ef-tamper")
    sysc("request_key_callout", "request_key", ctypes.addressof(ktype), ctypes.addressof(kdesc),
         ctypes.addressof(callout), -2)  # KEY_SPEC_PROCESS_KEYRING
    clone_into_cgroup(cg2)
    resources(egressd)
    sigio(egressd)

    if len(sys.argv) > 6:
        outsiders(int(sys.argv[5]), int(sys.argv[6]))


def clone_into_cgroup(cg2):
    """clone3(CLONE_INTO_CGROUP) into the cgroup2 root: a child outside the
    job (it exits at once, were it let through)."""
    fd = os.open(cg2, os.O_RDONLY | os.O_DIRECTORY)
    args = (ctypes.c_uint64 * 11)()
    args[0] = 0x200000000  # CLONE_INTO_CGROUP
    args[4] = 17  # SIGCHLD
    args[10] = fd
    r = libc.syscall(ctypes.c_long(NR["clone3"]), ctypes.c_void_p(ctypes.addressof(args)),
                     ctypes.c_long(88))
    if r == 0:
        os._exit(0)
    e = ctypes.get_errno() if r < 0 else 0
    if r > 0:
        os.waitpid(r, 0)
    os.close(fd)
    out("clone3_into_cgroup_root", r > 0, e)


def resources(egressd):
    """egressd's priority, scheduling, CPUs, I/O priority and limits. Each
    call sets what is already there (or only reads), were it let through."""
    def setprio():
        os.setpriority(os.PRIO_PROCESS, egressd, os.getpriority(os.PRIO_PROCESS, egressd))
    py("setpriority_egressd", setprio)
    # every process of a user at once (65534: the outsider, not egressd)
    py("setpriority_user", lambda: os.setpriority(os.PRIO_USER, 65534, 0))
    py("sched_setaffinity_egressd",
       lambda: os.sched_setaffinity(egressd, range(os.cpu_count() or 1)))
    py("sched_setscheduler_egressd",
       lambda: os.sched_setscheduler(egressd, os.SCHED_OTHER, os.sched_param(0)))
    old = (ctypes.c_uint64 * 2)()
    sysc("prlimit_egressd", "prlimit64", egressd, 7, 0, ctypes.addressof(old))  # NOFILE, read
    prio = libc.syscall(ctypes.c_long(NR["ioprio_get"]), ctypes.c_long(1), ctypes.c_long(egressd))
    sysc("ioprio_set_egressd", "ioprio_set", 1, egressd, max(prio, 0))  # IOPRIO_WHO_PROCESS


def sigio(egressd):
    """A file whose owner is egressd: its SIGIO (here SIGWINCH, ignored by
    default, were it let through) would go to egressd on each write."""
    import fcntl
    import socket
    r, w = os.pipe()
    py("fcntl_setown_egressd", lambda: fcntl.fcntl(r, fcntl.F_SETOWN, egressd))
    owner = (ctypes.c_int * 2)(1, os.getpid())  # struct f_owner_ex: F_OWNER_PID, self
    res = libc.fcntl(ctypes.c_int(w), ctypes.c_int(15), ctypes.c_void_p(ctypes.addressof(owner)))
    out("fcntl_setown_ex", res >= 0, ctypes.get_errno() if res < 0 else 0)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    me = ctypes.c_int(os.getpid())
    res = libc.ioctl(ctypes.c_int(s.fileno()), ctypes.c_ulong(0x8901),
                     ctypes.c_void_p(ctypes.addressof(me)))  # FIOSETOWN
    out("ioctl_fiosetown", res >= 0, ctypes.get_errno() if res < 0 else 0)
    s.close()
    # where F_SETOWN is not refused (BPF LSM), the signal is, when sent
    if fcntl.fcntl(r, fcntl.F_GETOWN) == egressd:
        fcntl.fcntl(r, 10, 28)  # F_SETSIG SIGWINCH
        fcntl.fcntl(r, fcntl.F_SETFL, fcntl.fcntl(r, fcntl.F_GETFL) | os.O_ASYNC)
        os.write(w, b"x")
    os.close(r)
    os.close(w)


def attach(op, pid):
    """PTRACE_ATTACH, detached at once if it worked by mistake."""
    if sysc(op, "ptrace", 16, pid, 0, 0) >= 0:
        os.waitpid(pid, 0x40000000)  # __WALL
        libc.syscall(ctypes.c_long(NR["ptrace"]), ctypes.c_long(17), ctypes.c_long(pid), 0, 0)


def outsiders(root_pid, nobody_pid):
    """Processes outside the job are fenced by nobody: the job may not trace
    them (and make them send) or copy a descriptor (a socket) out of them."""
    attach("ptrace_attach_outsider", root_pid)
    fd = libc.syscall(ctypes.c_long(NR["pidfd_open"]), ctypes.c_long(root_pid), 0)
    if fd < 0:
        out("pidfd_getfd_outsider", False, ctypes.get_errno())
    else:
        r = sysc("pidfd_getfd_outsider", "pidfd_getfd", fd, 0, 0)
        if r >= 0:
            os.close(r)
        os.close(fd)
    # as the outsider's own uid (a root job can become any uid)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.setgid(65534)
        os.setuid(65534)
        os.dup2(w, 1)
        attach("ptrace_attach_outsider_same_uid", nobody_pid)
        os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    sys.stdout.write(os.read(r, 4096).decode())
    sys.stdout.flush()
    os.close(r)


main()
