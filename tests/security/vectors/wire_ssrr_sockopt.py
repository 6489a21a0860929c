"""IPv4 strict source route (SSRR) by setsockopt(IP_OPTIONS) on a UDP socket: judged for an allowed host, the datagram leaves for the denied first hop (on-link: the hosts' own veth address, a strict route needs a neighbour)."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":9999/udp"]}
FEATURES = ["ip_srr"]
AS = ("nobody", "root")
SINKS_OK = [A4, A6]  # the allowed host may get it: what matters is where else it went
RECORD = [(("egress.sockopt", "egress.packet"), {"egress.decision": "deny",
                                                  "egress.reason": "reroute"})]
OPT = 137  # IPOPT_SSRR
HOP = HOSTS_V4  # not allowed by the policy


def job(token, args):
    opt = struct.pack("!BBB4sB", OPT, 7, 4, socket.inet_aton(HOP), 1)  # + NOP
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    attempt("setsockopt IP_OPTIONS srr via %s" % HOP, s.setsockopt, socket.IPPROTO_IP,
            IP_OPTIONS, opt)
    attempt("sendto %s" % A4, s.sendto, payload(token, "srr"), (A4, 9999))
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    attempt("setsockopt IP_OPTIONS (connected)", c.setsockopt, socket.IPPROTO_IP, IP_OPTIONS, opt)
    attempt("connect %s" % A4, c.connect, (A4, 9999))
    attempt("send", c.send, payload(token, "srr connected"))


if __name__ == "__main__":
    main(globals())
