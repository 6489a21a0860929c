"""Record erasure: one denied connect (the marker), then 10 s of denied connects to one destination as fast as the job can; the marker span must still be in the journal afterwards (default journal settings) and the flood must be flagged."""
import time

from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":443"]}
AS = ("nobody",)
DAEMON = {}  # default journal settings, its own journal
TIMEOUT = 60
SINKS_OK = []
MARKER = (D4B, 22)
SECONDS = 10
VARY = False


def journal_grep(ev, needles):
    """{needle: occurrences in the journal} (bytes search: the journal is big)."""
    found = dict.fromkeys(needles, 0)
    for path in ev.daemon.journal_files():
        with open(path, "rb") as f:
            data = f.read()
        for n in needles:
            found[n] += data.count(n.encode())
    return found


def judge(ev):
    job = ev.job
    marker_attr = '"network.peer.address","value":{"stringValue":"%s"}' % MARKER[0]
    got = journal_grep(ev, [marker_attr, '"name":"egress.probe"'])
    problems = []
    files = ev.daemon.journal_files()
    size = sum(os.path.getsize(p) for p in files)
    if not got[marker_attr]:
        problems.append("ERASED: the marker span (denied connect to %s:%d before the flood) is "
                        "gone from the journal (%d files, %d MB now)" % (
                            MARKER[0], MARKER[1], len(files), size >> 20))
    if not got['"name":"egress.probe"']:
        problems.append("NOT FLAGGED: no egress.probe span for the flood (job %s)" % job)
    return problems


def job(token, args):
    attempt("marker connect %s:%d" % MARKER, tcp_send, MARKER[0], MARKER[1], token)
    time.sleep(1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    n = 0
    errs = {}
    end = time.time() + SECONDS
    port = 1
    while time.time() < end:
        for _ in range(1000):
            if VARY:
                port = port % 60000 + 1
                if port == 53:  # port 53 is the job's DNS proxy: it connects
                    port = 54
            try:
                s.connect((D4, port if VARY else 443))
                s.close()
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            except OSError as e:
                errs[e.errno] = errs.get(e.errno, 0) + 1
        n += 1000
    out(step="flood", connects=n, seconds=SECONDS,
        errors={err_name(OSError(k, "")): v for k, v in errs.items()})


if __name__ == "__main__":
    main(globals())
