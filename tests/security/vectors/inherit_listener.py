"""A parent outside the fence hands the fenced command a listening TCP socket; a peer on a denied host connects and the job writes the token to it (accepted sockets keep the listener's cgroup)."""
import time

from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":443"]}
AS = ("nobody",)
SINKS_OK = []
PORT = 7201
RECORD = [("egress.job", {"egress.*inherit*|egress.*closed*": lambda v: bool(v)})]


def outside(token, st):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", PORT))
    s.listen(4)
    st["keep"] = s
    return {"fds": [s.fileno()], "args": [s.fileno()]}


def job(token, args):
    fd = int(args[0])
    s = attempt("socket(fileno=%d)" % fd, socket.socket, fileno=fd)
    ready()
    if s is None:
        time.sleep(1)
        return
    s.settimeout(8)
    c = attempt("accept", lambda: s.accept()[0])
    if c is not None:
        attempt("send to the peer", c.sendall, payload(token, "inherited listener"))
        time.sleep(0.5)


def hosts(token, args):
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.bind((D4, 0))
    c.settimeout(3)
    attempt("connect %s:%d from %s" % (FENCE_V4, PORT, D4), c.connect, (FENCE_V4, PORT))
    attempt("recv", lambda: c.recv(200).decode(errors="replace"))


if __name__ == "__main__":
    main(globals())
