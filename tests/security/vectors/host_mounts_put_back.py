"""A root job writes through what the host mounted on single files (a container runner's /etc/resolv.conf or /etc/hosts, a `-v /var/run/docker.sock` socket) and through /dev: it appends the token to a host file bind-mounted on a file, hands it to a service whose socket is bind-mounted on a file, and replaces a device node of the host's /dev with a file of its own. Stand-ins outside send whatever reaches them to a denied host. Files are put back read-only, sockets not at all, and /dev is read-only in the root job's mount namespace (cli/overlay.c): nothing may arrive."""
import os
import subprocess
import time

from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":443"]}
AS = ("root",)
SINKS_OK = []
DENIED = [(D4, 443, "tcp")]
TIMEOUT = 60


def outside(token, st):
    tag = "efsec-%d" % os.getpid()
    mdir = "/var/tmp/%s-m" % tag
    src = "/tmp/%s-src" % tag
    node = "/dev/%s" % tag
    os.makedirs(mdir)
    for p in (mdir + "/f", mdir + "/sock"):
        open(p, "w").close()
    with open(src, "w") as f:
        f.write("host\n")
    subprocess.run(["mount", "--bind", src, mdir + "/f"], check=True)
    os.mknod(node, 0o666 | 0o020000, os.makedev(1, 3))
    st.update(tag=tag, mdir=mdir, src=src, node=node)
    # the service behind the socket mounted on a file (host_service binds
    # its socket over an existing path)
    host_service(st, mdir + "/sock", D4, 443)
    pid = os.fork()
    if pid:
        st["pids"].append(pid)
        return {"args": [mdir, node]}
    try:  # the file's and the node's readers
        deadline = time.time() + TIMEOUT - 5
        while time.time() < deadline:
            data = b""
            try:
                got = open(src, "rb").read()
                if got != b"host\n":
                    data += got
            except OSError:
                pass
            try:
                if not os.path.exists(node) or not os.path.stat.S_ISCHR(os.lstat(node).st_mode):
                    data += open(node, "rb").read() if os.path.isfile(node) else b"gone"
            except OSError:
                pass
            if data:
                try:
                    tcp_send(D4, 443, data)
                except OSError:
                    pass
                break
            time.sleep(0.2)
    finally:
        os._exit(0)


def outside_cleanup(st):
    import shutil
    host_service_cleanup(st)
    if st.get("mdir"):
        subprocess.run(["umount", st["mdir"] + "/f"], check=False)
        shutil.rmtree(st["mdir"], ignore_errors=True)
    for p in (st.get("src"), st.get("node"), st.get("node", "x") + "-new"):
        if p and os.path.lexists(p):
            os.unlink(p)


def append(path, data):
    with open(path, "ab") as f:
        f.write(data)


def replace_node(node, data):
    os.unlink(node)
    with open(node, "wb") as f:
        f.write(data)


def job(token, args):
    mdir, node = args[0], args[1]
    line = payload(token, "mounted file")
    attempt("append to the file mounted on " + mdir + "/f", append, mdir + "/f", line)
    host_service_ask(mdir + "/sock", token)
    attempt("replace " + node, replace_node, node, line)
    attempt("make a node in /dev", os.mknod, "/dev/" + os.path.basename(node) + "-new",
            0o666 | 0o020000, os.makedev(1, 3))
    time.sleep(2)


if __name__ == "__main__":
    main(globals())
