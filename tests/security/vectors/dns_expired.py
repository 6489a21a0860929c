"""A learned address after its TTL and grace ran out (ttl.test, TTL 2 s; floor and grace 1 s): the connect with the token is refused and recorded as dns_expired, not no_rule."""
import time

from vlib import *  # noqa: F401,F403

TTL_HOST = "198.18.2.3"
POLICY = {"allow": ["ttl.test:443"]}
AS = ("nobody",)
DAEMON = {"dns": {"upstream": [DNS_V4], "ttl_floor_seconds": 1, "ttl_grace_seconds": 1,
                  "timeout_ms": 1000, "attempts": 2}}
TIMEOUT = 30
SINKS_OK = []
RECORD = [("egress.connect", {"egress.decision": "deny", "egress.reason": "dns_expired",
                              "network.peer.address": TTL_HOST})]


def judge(ev):
    if not any(ff and i["dst"] == TTL_HOST for _t, ff, i, _f in ev.parsed()):
        return ["BROKEN: the control (a connect right after the answer) never reached %s" %
                TTL_HOST]
    return []


def job(token, args):
    addrs = attempt("resolve ttl.test", lambda: dns_addresses(dns_udp(DNS_V4,
                                                                      dns_query_bytes("ttl.test"))))
    out(step="answer", addresses=addrs)
    attempt("connect at once", tcp_send, TTL_HOST, 443, "hello")
    time.sleep(12)  # past the learned-map sweep (10 s): the bug was a sweep first
    attempt("connect after expiry", tcp_send, TTL_HOST, 443, token)


if __name__ == "__main__":
    main(globals())
