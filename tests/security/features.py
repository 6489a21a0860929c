#!/usr/bin/python3
"""Kernel features the vectors depend on, probed in the fence namespace as
root, outside any job (run.py runs `features.py NAME...` there once).

A vector lists what its attack needs in FEATURES; if the kernel lacks one,
the vector fails saying so (an attack that cannot be tried proves nothing,
so it must not pass). Prints one JSON object {name: null | "why missing"}.
"""
import ctypes
import json
import socket
import struct
import sys

IPPROTO_MPTCP, UDP_SEGMENT, IPV6_RTHDR, IP_OPTIONS = 262, 103, 57, 4


def srh():
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    hdr = struct.pack("!BBBBBBH", 0, 4, 4, 1, 1, 0, 0) + \
        socket.inet_pton(socket.AF_INET6, "2001:db8:1::1") + \
        socket.inet_pton(socket.AF_INET6, "2001:db8:1::4")
    s.setsockopt(socket.IPPROTO_IPV6, IPV6_RTHDR, hdr)


def ip_srr():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, IP_OPTIONS,
                 struct.pack("!BBB4sB", 131, 7, 4, socket.inet_aton("198.18.2.4"), 1))


def io_uring_sqpoll():
    sys.path.insert(0, __file__.rsplit("/", 1)[0] + "/vectors")
    import _uring
    fd, _p = _uring.setup(4, sqpoll=True, idle_ms=10)
    _uring.register_sparse_files(fd, 1)


def mptcp():
    socket.socket(socket.AF_INET, socket.SOCK_STREAM, IPPROTO_MPTCP)


def tcp_fastopen():
    with open("/proc/sys/net/ipv4/tcp_fastopen") as f:
        if not int(f.read()) & 1:
            raise OSError("net.ipv4.tcp_fastopen has no client bit (1)")


def udp_gso():
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).setsockopt(socket.IPPROTO_UDP,
                                                               UDP_SEGMENT, 100)


def pidfd_getfd():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(434, 1, 0) < 0 and ctypes.get_errno() == 38:
        raise OSError(38, "pidfd_open: ENOSYS")


def packet():
    socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))


def nftables():
    import os
    if not any(os.access(d + "/nft", os.X_OK) for d in ("/usr/sbin", "/usr/bin", "/sbin")):
        raise OSError("nft not installed (Debian nftables; make deps)")


PROBES = {f.__name__: f for f in (srh, ip_srr, io_uring_sqpoll, mptcp, tcp_fastopen, udp_gso,
                                  pidfd_getfd, packet, nftables)}


def main(names):
    out = {}
    for n in names:
        try:
            PROBES[n]()
            out[n] = None
        except KeyError:
            out[n] = "no probe for feature %r" % n
        except Exception as e:  # noqa: BLE001 - any failure is the reason
            out[n] = "%s: %s" % (type(e).__name__, e)
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
