"""Query flood: 5000 queries for distinct allowed names as fast as the job can; the proxy must answer the excess locally (dns_limit) and relay a bounded number upstream."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": ["*.tun.test:443"], "dns": {"upstream": [SECDNS]}}
AS = ("nobody",)
DAEMON = {}  # its own egressd: 5000 spans stay out of the shared journal
TIMEOUT = 60
SINKS_OK = [SECDNS]
FLOOD = 5000
RECORD = [("*", {"egress.reason": "dns_limit"})]


def judge(ev):
    tok = ev.token.lower()
    relayed = [n for n in ev.extras.dns_queries(ev.secdns_mark) if tok in n]
    if len(relayed) >= FLOOD:
        return ["LEAK: all %d flood queries were relayed upstream (no per-job limit)" % len(
            relayed)]
    if not relayed:
        return ["BROKEN: not one flood query reached upstream (the control)"]
    return []


def job(token, args):
    import select
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    answered = sent = 0
    for i in range(FLOOD):
        s.sendto(dns_query_bytes("f%d.%s.tun.test" % (i, token)), (DNS_V4, 53))
        sent += 1
        while select.select([s], [], [], 0 if i % 50 else 0.2)[0]:
            try:
                s.recv(4096)
                answered += 1
            except BlockingIOError:
                break
    while select.select([s], [], [], 1.0)[0]:
        s.recv(4096)
        answered += 1
    out(step="flood", sent=sent, answered=answered)


if __name__ == "__main__":
    main(globals())
