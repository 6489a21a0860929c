#!/usr/bin/python3
"""The demo's "agent": does what a coding agent does, plus what it should not."""
import errno
import os
import socket

def attempt(what, fn):
    try:
        fn()
        print("  %-52s ok" % what)
    except OSError as e:
        print("  %-52s %s" % (what, errno.errorcode.get(e.errno, e.errno)))

def tcp(addr, port):
    def go():
        with socket.create_connection((addr, port), timeout=3):
            pass
    return go

def name(host, port):
    """getaddrinfo through the job's resolv.conf (taken to the fence's DNS
    proxy whatever it names), then connect to the first address"""
    def go():
        try:
            ai = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)
        except socket.gaierror as e:
            raise OSError(errno.ENOENT, "%s: %s" % (host, e.strerror)) from None
        with socket.create_connection(ai[0][4], timeout=3):
            pass
    return go

def udp(addr, port):
    def go():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"hello", (addr, port))
    return go

def sock(*args):
    def go():
        socket.socket(*args).close()
    return go

print("demo agent (pid %d) in job %s:" % (os.getpid(), os.environ.get("EGRESS_FENCE_JOB_ID")))
attempt("call the model API        api.anthropic.com:443", name("api.anthropic.com", 443))
attempt("fetch a release  objects.githubusercontent.com:443",
        name("objects.githubusercontent.com", 443))
attempt("look up a paste site      paste.example.com (unlisted)", name("paste.example.com", 443))
attempt("push to the code host     198.18.1.2:443", tcp("198.18.1.2", 443))
attempt("ssh to the code host      198.18.1.2:22 (deny rule)", tcp("198.18.1.2", 22))
attempt("exfiltrate to a paste site 198.18.2.1:443", tcp("198.18.2.1", 443))
attempt("read cloud credentials    169.254.169.254:80", tcp("169.254.169.254", 80))
attempt("UDP to an unlisted host   198.18.2.2:9999", udp("198.18.2.2", 9999))
attempt("open a raw socket", sock(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP))
attempt("open a packet socket", sock(17, socket.SOCK_RAW, 0))


def leave_cgroup():
    """write its own pid into the cgroup2 root's cgroup.procs: out of the job"""
    cg = [l.split()[1] for l in open("/proc/self/mounts") if l.split()[2] == "cgroup2"][0]
    with open(os.path.join(cg, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))


def bpf_syscall():
    """bpf(BPF_MAP_CREATE): the first step of rewriting the fence's maps"""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    attr = ctypes.create_string_buffer(128)
    nr = 321 if os.uname().machine == "x86_64" else 280
    if libc.syscall(nr, 0, ctypes.addressof(attr), 128) < 0:
        raise OSError(ctypes.get_errno(), "bpf")


attempt("as root: leave the job's cgroup", leave_cgroup)
attempt("as root: bpf() to detach the fence", bpf_syscall)
if os.fork() == 0:
    attempt("child: IPv6 to an unlisted host [2001:db8:1::1]:443", tcp("2001:db8:1::1", 443))
    os._exit(0)
os.wait()
