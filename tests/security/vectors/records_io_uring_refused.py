"""The job itself calls io_uring_setup() (plain and SQPOLL) and, if it gets a ring, creates a socket through it and sends the token to a denied host; the refusal must be recorded (reason io_uring; with BPF LSM, the ring's connect is refused and recorded)."""
from vlib import *  # noqa: F401,F403
import _uring as U

POLICY = {"allow": [A4 + ":443"]}
FEATURES = ["io_uring_sqpoll"]
AS = ("nobody", "root")
SINKS_OK = []
DENIED = [(D4, 443, "tcp")]
# any span name: the fix picks it
RECORD = [("*", {"egress.reason": "io_uring"})]
# with BPF LSM the ring is not refused (no seccomp filter): the socket it
# makes is judged like any other, and its connect is refused and recorded
RECORD_BPF_LSM = [("egress.connect", {"egress.decision": "deny", "network.peer.address": D4})]


def through(sqpoll, token):
    fd, params = U.setup(8, sqpoll=sqpoll)
    U.register_sparse_files(fd, 4)
    ring = U.Ring(fd, params)
    sa = ring.put_data(1024, sockaddr_in(D4, 443))
    data = payload(token, "io_uring own")
    buf = ring.put_data(2048, data)
    res = []
    for op, kw in ((U.OP_SOCKET, dict(fd=socket.AF_INET, off=socket.SOCK_STREAM, file_index=1)),
                   (U.OP_CONNECT, dict(fd=0, addr=sa, off=16, flags=U.IOSQE_FIXED_FILE)),
                   (U.OP_SEND, dict(fd=0, addr=buf, length=len(data),
                                    flags=U.IOSQE_FIXED_FILE))):
        ring.submit(op, **kw)
        ring.kick(sqpoll)
        res.append(ring.wait_cqe()[1])
    return str(res)


def job(token, args):
    attempt("io_uring plain", through, False, token)
    attempt("io_uring sqpoll", through, True, token)


if __name__ == "__main__":
    main(globals())
