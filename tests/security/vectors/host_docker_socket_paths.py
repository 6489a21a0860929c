"""A job reaches dockerd's socket by every other name it has: /var/run/docker.sock, a symlink of its own in /tmp, /proc/self/root/run/docker.sock, and a bind mount of its own in a new user and mount namespace (unprivileged users may make one). Each is a path that resolves in the job's mount namespace, where egressd's cover is on the socket: the attempts are recorded as tamper_runtime, and nothing may arrive."""
import os
import subprocess

from vlib import *  # noqa: F401,F403

globals().update(host_service_vector("/run/docker.sock", users=("nobody", "root")))
RECORD = [("egress.tamper", {"egress.reason": "tamper_runtime",
                             "egress.tamper.socket": "/run/docker.sock"})]


def job(token, args):
    link = "/tmp/efsec-docker-%d.sock" % os.getpid()
    try:
        os.symlink("/run/docker.sock", link)
    except OSError as e:
        print("symlink: %s" % e)
    for p in ("/var/run/docker.sock", link, "/proc/self/root/run/docker.sock"):
        host_service_ask(p, token)
    # a namespace of its own, where the job may bind what it can see
    code = ("import os,socket,sys\n"
            "open('/tmp/efsec-bind-%d','w').close()\n"
            "os.system('mount --bind /run/docker.sock /tmp/efsec-bind-%d')\n"
            "u=socket.socket(socket.AF_UNIX); u.settimeout(2)\n"
            "u.connect('/tmp/efsec-bind-%d'); u.sendall(sys.argv[1].encode()); u.close()\n"
            % ((os.getpid(),) * 3))
    r = subprocess.run(["unshare", "-Urm", "python3", "-c", code, payload(token, "bind").decode()],
                       capture_output=True, text=True, timeout=10)
    print("unshare: %d %s" % (r.returncode, r.stderr.strip()[-300:]))
    try:
        os.unlink(link)
    except OSError:
        pass


if __name__ == "__main__":
    main(globals())
