"""A query for an allowed name with the token hidden in sections a query has no use for: a TXT record in the answer, authority and additional sections; none may reach the upstream server."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": ["ok.test:443"]}
AS = ("nobody",)
SINKS_OK = []


def txt(token):
    data = bytes([len(token)]) + token.encode()
    return dns_raw_name("x.ok.test") + struct.pack("!HHIH", 16, 1, 60, len(data)) + data


def job(token, args):
    rr = txt(token)
    for what, counts, kw in (("answer", (1, 0, 0), {"an": rr}),
                             ("authority", (0, 1, 0), {"ns": rr}),
                             ("additional", (0, 0, 1), {"ar": rr})):
        q = dns_query_bytes("ok.test", counts=counts, **kw)
        attempt("udp TXT in %s" % what, lambda: str(dns_addresses(dns_udp(DNS_V4, q))))
        attempt("tcp TXT in %s" % what, lambda: str(dns_addresses(dns_tcp(DNS_V4, q))))


if __name__ == "__main__":
    main(globals())
