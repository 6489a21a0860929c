"""A parent outside the fence hands the fenced command an io_uring instance without SQPOLL; the job submits IORING_OP_SOCKET, CONNECT and SEND to a denied host with io_uring_enter() (the operations run in the job's own context)."""
import json

from vlib import *  # noqa: F401,F403
import _uring as U

POLICY = {"allow": [A4 + ":443"]}
FEATURES = ["io_uring_sqpoll"]
AS = ("nobody",)
SINKS_OK = []
DENIED = [(D4, 443, "tcp")]
RECORD = [("egress.job", {"egress.*inherit*|egress.*closed*": lambda v: bool(v)})]


def outside(token, st):
    fd, params = U.setup(8, sqpoll=False)
    U.register_sparse_files(fd, 4)
    st["keep"] = fd
    return {"fds": [fd], "args": [fd, json.dumps({"params": params})]}


def job(token, args):
    fd, info = int(args[0]), json.loads(args[1])
    try:
        os.fstat(fd)
    except OSError as e:
        out(step="inherited ring fd %d" % fd, ok=False, err=err_name(e))
        return
    ring = attempt("map the inherited ring", U.Ring, fd, info["params"])
    if ring is None:
        return
    sa = ring.put_data(1024, sockaddr_in(D4, 443))
    data = payload(token, "io_uring plain")
    buf = ring.put_data(2048, data)
    for step, op, kw in (("socket", U.OP_SOCKET, dict(fd=socket.AF_INET, off=socket.SOCK_STREAM,
                                                       file_index=1)),
                         ("connect", U.OP_CONNECT, dict(fd=0, addr=sa, off=16,
                                                        flags=U.IOSQE_FIXED_FILE)),
                         ("send", U.OP_SEND, dict(fd=0, addr=buf, length=len(data),
                                                  flags=U.IOSQE_FIXED_FILE))):
        ring.submit(op, **kw)
        attempt("io_uring_enter " + step, ring.kick, False)
        out(step=step, cqe=attempt("wait", ring.wait_cqe))


if __name__ == "__main__":
    main(globals())
