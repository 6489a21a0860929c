"""A root job renames away the directory its copy-on-write /run has for a runtime that is not running yet (/run/crio, made for the cover), then waits for the runtime to start on the host: a directory new in the overlay leaves no whiteout behind, so the host's new one may show through (a socket seen through overlayfs is not one a connect reaches, so that alone does not leak; it would lose the cover's message and record). The directory made for the cover is now a mount point (a tmpfs) that cannot be renamed (EBUSY): nothing may arrive."""
import os
import shutil
import time

from vlib import *  # noqa: F401,F403

PATH = "/run/crio/crio.sock"
MOVED = "/run/efsec-crio-moved"
POLICY = {"allow": [A4 + ":443"]}
AS = ("root",)
SINKS_OK = []
DENIED = [(D4, 443, "tcp")]
TIMEOUT = 30


def outside(token, st):
    if os.path.lexists(os.path.dirname(PATH)):
        raise RuntimeError("CANNOT RUN: %s exists on this host" % os.path.dirname(PATH))
    pid = os.fork()
    if pid:
        st["pids"].append(pid)
        return {"args": []}
    try:  # the runtime starts 1.5 s after the job
        time.sleep(1.5)
        sub = {"pids": []}
        host_service(sub, PATH, D4, 443)
        time.sleep(15)
    finally:
        os._exit(0)


def outside_cleanup(st):
    shutil.rmtree(os.path.dirname(PATH), ignore_errors=True)


def job(token, args):
    def move():
        os.rename(os.path.dirname(PATH), MOVED)
    attempt("rename %s away" % os.path.dirname(PATH), move)
    time.sleep(3.5)
    for p in (MOVED + "/crio.sock", PATH):
        host_service_ask(p, token)


if __name__ == "__main__":
    main(globals())
