"""A full ring buffer is never silent: lost records are counted and reported."""
import os
import signal
import time

from harness import test, pol, check, wait_until, PY

DENY = ("198.18.2.1", 443)

# 60,000 denied connects: more records than the 8 MiB ring holds while
# egressd is stopped (about 45,000 of 176 bytes)
STORM = r"""
import errno, os, socket, sys, time
go = sys.argv[1]
while not os.path.exists(go):
    time.sleep(0.02)
n = 0
for _ in range(60000):
    s = socket.socket()
    try:
        s.connect(("%s", %d))
    except PermissionError:
        n += 1
    finally:
        s.close()
print(n, flush=True)
""" % DENY


@test(timeout=180)
def ringbuf_full_is_counted_and_reported(ctx):
    d = ctx.daemon({"r": pol(allow=["198.18.1.1:443"])})
    go = ctx.path("go")
    bg = d.spawn("r", [PY, "-c", STORM, go])
    wait_until(lambda: d.ctl_json("jobs")["jobs"], 15, what="the storm job")
    before = d.ctl_json("status")
    os.kill(d.proc.pid, signal.SIGSTOP)
    try:
        open(go, "w").close()
        wait_until(lambda: bg.proc.poll() is not None, 120, what="60,000 denied connects")
    finally:
        os.kill(d.proc.pid, signal.SIGCONT)
    out = bg.output()[0].strip()
    check(out == "60000", "every connect must be denied even with the ring full: %r" % out)
    st = {}

    def reported():
        st.update(d.ctl_json("status"))
        return st["ringbuf_drops"] > before["ringbuf_drops"]
    wait_until(reported, 15, what="ringbuf_drops in egressctl status")
    drops = d.wait_spans("egress.drops", timeout=15)
    total = sum(int(s["egress.dropped.records"]) for s in drops)
    check(total == st["ringbuf_drops"] - before["ringbuf_drops"],
          "egress.drops spans count %d lost records, status says %d" % (
              total, st["ringbuf_drops"] - before["ringbuf_drops"]))
    check(st["decisions"] - before["decisions"] >= 60000,
          "the kernel counted %d decisions, want >= 60000" % (st["decisions"] - before["decisions"]))
    # what was not lost was recorded: records + drops account for every decision
    time.sleep(1.5)
    st = d.ctl_json("status")
    check(st["records"] - before["records"] + st["ringbuf_drops"] - before["ringbuf_drops"]
          == st["decisions"] - before["decisions"],
          "records %d + lost %d != decisions %d" % (
              st["records"] - before["records"], st["ringbuf_drops"] - before["ringbuf_drops"],
              st["decisions"] - before["decisions"]))
