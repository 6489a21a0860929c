"""PID 1 of the test VM (tests/vm/run.py), run by the initramfs's /init once
the new root is mounted. Python 3 stdlib only; the host's python3 is the
guest's, through the read-only 9p root.

Reads the job from the results share (/run/vmtest/job.json: argv, cwd, env),
runs it as root with stdin /dev/null, stdout on the second serial port
(ttyS1) and stderr on the third (ttyS2), which the runner copies to its own
stdout and stderr as they come. As PID 1 it reaps every orphan the job
leaves, so that exit and cgroup bookkeeping inside the job behave as on a
host. When the job's own process ends, what is left of its processes is
killed, the result goes to /run/vmtest/status.json and the VM powers off.

Anything that goes wrong here is printed on the console (ttyS0, the log the
runner shows on failure) and the VM powers off without a status, which the
runner reports as a failure."""
import ctypes
import json
import os
import signal
import subprocess
import sys
import termios
import time
import traceback
import tty

SHARE = "/run/vmtest"
RB_POWER_OFF = 0x4321FEDC


def uptime():
    with open("/proc/uptime") as f:
        return float(f.read().split()[0])


def say(msg):
    print("vmtest-guest: " + msg, flush=True)


def write_json(name, obj):
    tmp = os.path.join(SHARE, name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, os.path.join(SHARE, name))


def open_port(path):
    """A serial port as a byte pipe: raw, so that "\\n" is not sent as
    "\\r\\n" and nothing is echoed or interpreted."""
    fd = os.open(path, os.O_WRONLY | os.O_NOCTTY)
    tty.setraw(fd)
    attr = termios.tcgetattr(fd)
    attr[4] = attr[5] = termios.B115200
    termios.tcsetattr(fd, termios.TCSANOW, attr)
    return fd


def setup():
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["hostname", "egress-fence-vm"], check=False)


def reap_all(seconds):
    """Reaps children until none is left (True) or the time is up."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                time.sleep(0.05)
        except ChildProcessError:
            return True
    return False


def run(job):
    out = open_port("/dev/ttyS1")
    err = open_port("/dev/ttyS2")
    null = os.open("/dev/null", os.O_RDONLY)
    t0 = uptime()
    write_json("started.json", {"uptime": t0})
    say("running %s in %s" % (job["argv"], job["cwd"]))
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            os.dup2(null, 0)
            os.dup2(out, 1)
            os.dup2(err, 2)
            os.chdir(job["cwd"])
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
            os.execvpe(job["argv"][0], job["argv"], job["env"])
        except OSError as e:
            os.write(2, ("vmtest: cannot run %s: %s\n" % (job["argv"][0], e)).encode())
            os._exit(127 if isinstance(e, FileNotFoundError) else 126)
        os._exit(126)
    status = None
    while status is None:
        try:
            p, st = os.wait()
        except ChildProcessError:
            break
        if p == pid:
            status = os.waitstatus_to_exitcode(st)
    t1 = uptime()
    if status is None:
        raise RuntimeError("the command's process vanished without an exit status")
    # what the job left behind, so that nothing writes after the result
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(-1, sig)
        except ProcessLookupError:
            break
        if reap_all(3):
            break
    for fd in (out, err):
        termios.tcdrain(fd)
    if status < 0:
        status = 128 - status
    say("command exited with status %d after %.1f s" % (status, t1 - t0))
    write_json("status.json", {"status": status, "uptime_start": t0, "seconds": t1 - t0})


def main():
    try:
        setup()
        with open(os.path.join(SHARE, "job.json")) as f:
            job = json.load(f)
        run(job)
    except BaseException:
        say("FAILED:")
        traceback.print_exc(file=sys.stdout)
        sys.stdout.flush()
    os.sync()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.reboot(RB_POWER_OFF)
    say("reboot(RB_POWER_OFF) failed: %s" % os.strerror(ctypes.get_errno()))
    while True:
        time.sleep(60)


if __name__ == "__main__":
    main()
