"""IPv6 routing header type 0 (deprecated source route) by setsockopt(IPV6_RTHDR): must be refused where set, and recorded."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": ["[%s]:9999/udp" % A6]}
AS = ("nobody", "root")
SINKS_OK = [A4, A6]  # the allowed host may get it: what matters is where else it went
RECORD = [("egress.sockopt", {"egress.decision": "deny", "egress.reason": "reroute"})]


def job(token, args):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    hdr = struct.pack("!BBBBI", 0, 2, 0, 1, 0) + socket.inet_pton(socket.AF_INET6, D6)
    attempt("setsockopt IPV6_RTHDR type 0", s.setsockopt, socket.IPPROTO_IPV6, IPV6_RTHDR, hdr)
    attempt("sendto %s" % A6, s.sendto, payload(token, "rthdr0"), (A6, 9999))


if __name__ == "__main__":
    main(globals())
