"""io_uring by hand (ctypes + mmap, no liburing): enough to create a socket,
connect and send through a ring, from whichever process holds the ring fd.

Not a vector (run.py skips files starting with "_")."""
import ctypes
import mmap
import os
import struct
import time

NR_SETUP, NR_ENTER, NR_REGISTER = 425, 426, 427
IORING_SETUP_SQPOLL = 1 << 1
IORING_OFF_SQ_RING, IORING_OFF_CQ_RING, IORING_OFF_SQES = 0, 0x8000000, 0x10000000
IORING_ENTER_GETEVENTS, IORING_ENTER_SQ_WAKEUP = 1, 2
IORING_REGISTER_FILES = 2
IORING_SQ_NEED_WAKEUP = 1
IOSQE_FIXED_FILE = 1
OP_CONNECT, OP_SEND, OP_SOCKET = 16, 26, 45

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def sys_err(what):
    e = ctypes.get_errno()
    raise OSError(e, "%s: %s" % (what, os.strerror(e)))


def setup(entries=8, sqpoll=False, idle_ms=20000):
    """io_uring_setup(); returns (fd, params dict)."""
    p = ctypes.create_string_buffer(120)
    struct.pack_into("=IIIII", p, 0, 0, 0, IORING_SETUP_SQPOLL if sqpoll else 0, 0, idle_ms)
    fd = libc.syscall(NR_SETUP, entries, p)
    if fd < 0:
        sys_err("io_uring_setup")
    v = struct.unpack_from("=IIIIIII3I", p, 0)
    sq = struct.unpack_from("=IIIIIIIIQ", p, 40)
    cq = struct.unpack_from("=IIIIIIIIQ", p, 80)
    return fd, {"sq_entries": v[0], "cq_entries": v[1], "flags": v[2],
                "sq": dict(zip(("head", "tail", "mask", "entries", "flags", "dropped",
                                "array"), sq[:7])),
                "cq": dict(zip(("head", "tail", "mask", "entries", "overflow", "cqes"), cq[:6]))}


def register_sparse_files(fd, n=4):
    arr = (ctypes.c_int * n)(*([-1] * n))
    if libc.syscall(NR_REGISTER, fd, IORING_REGISTER_FILES, arr, n) < 0:
        sys_err("io_uring_register(FILES)")


class Ring:
    """The rings of an io_uring fd, mapped into this process."""

    def __init__(self, fd, params, data_addr=None):
        self.fd, self.p = fd, params
        sq, cq = params["sq"], params["cq"]
        self.sq_len = sq["array"] + params["sq_entries"] * 4
        self.cq_len = cq["cqes"] + params["cq_entries"] * 16
        self.sqm = mmap.mmap(fd, self.sq_len, mmap.MAP_SHARED,
                             mmap.PROT_READ | mmap.PROT_WRITE, offset=IORING_OFF_SQ_RING)
        self.cqm = mmap.mmap(fd, self.cq_len, mmap.MAP_SHARED,
                             mmap.PROT_READ | mmap.PROT_WRITE, offset=IORING_OFF_CQ_RING)
        self.sqes = mmap.mmap(fd, 4096, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE,
                              offset=IORING_OFF_SQES)
        self.sqes_addr = ctypes.addressof(ctypes.c_char.from_buffer(self.sqes))
        # where the kernel reads buffers: in the ring creator's address space
        # (SQPOLL: the kernel thread uses its mm), so data lives in the shared
        # SQE page, past the 8 entries, at the creator's address of that page
        self.data_addr = data_addr if data_addr is not None else self.sqes_addr
        self.n = 0

    def u32(self, m, off, val=None):
        if val is None:
            return struct.unpack_from("=I", m, off)[0]
        struct.pack_into("=I", m, off, val)

    def put_data(self, off, data):
        self.sqes[off:off + len(data)] = data
        return self.data_addr + off

    def submit(self, opcode, fd, addr=0, length=0, off=0, flags=0, op_flags=0, file_index=0,
               user_data=0):
        sq = self.p["sq"]
        tail = self.u32(self.sqm, sq["tail"])
        idx = tail & self.u32(self.sqm, sq["mask"])
        sqe = struct.pack("=BBHiQQIIQHHiQQ", opcode, flags, 0, fd, off, addr, length, op_flags,
                          user_data, 0, 0, file_index, 0, 0)
        self.sqes[idx * 64:idx * 64 + 64] = sqe
        self.u32(self.sqm, sq["array"] + idx * 4, idx)
        self.u32(self.sqm, sq["tail"], tail + 1)
        self.n += 1

    def kick(self, sqpoll):
        if sqpoll:
            if self.u32(self.sqm, self.p["sq"]["flags"]) & IORING_SQ_NEED_WAKEUP:
                libc.syscall(NR_ENTER, self.fd, 0, 0, IORING_ENTER_SQ_WAKEUP, None, 0)
            return
        if libc.syscall(NR_ENTER, self.fd, 1, 1, IORING_ENTER_GETEVENTS, None, 0) < 0:
            sys_err("io_uring_enter")

    def wait_cqe(self, timeout=3.0):
        cq = self.p["cq"]
        deadline = time.time() + timeout
        while time.time() < deadline:
            head, tail = self.u32(self.cqm, cq["head"]), self.u32(self.cqm, cq["tail"])
            if head != tail:
                off = cq["cqes"] + (head & self.u32(self.cqm, cq["mask"])) * 16
                user_data, res, _fl = struct.unpack_from("=QiI", self.cqm, off)
                self.u32(self.cqm, cq["head"], head + 1)
                return user_data, res
            time.sleep(0.005)
        raise TimeoutError("no completion in %ss" % timeout)
