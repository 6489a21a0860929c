"""IPv4 loose source route (LSRR) by setsockopt(IP_OPTIONS) on a UDP socket: judged for an allowed host, the datagram leaves for the denied first hop."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":9999/udp"]}
FEATURES = ["ip_srr"]
AS = ("nobody", "root")
SINKS_OK = [A4, A6]  # the allowed host may get it: what matters is where else it went
RECORD = [(("egress.sockopt", "egress.packet"), {"egress.decision": "deny",
                                                  "egress.reason": "reroute"})]
OPT = 131  # IPOPT_LSRR


def job(token, args):
    opt = struct.pack("!BBB4sB", OPT, 7, 4, socket.inet_aton(D4), 1)  # + NOP
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    attempt("setsockopt IP_OPTIONS srr via %s" % D4, s.setsockopt, socket.IPPROTO_IP,
            IP_OPTIONS, opt)
    attempt("sendto %s" % A4, s.sendto, payload(token, "srr"), (A4, 9999))
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    attempt("setsockopt IP_OPTIONS (connected)", c.setsockopt, socket.IPPROTO_IP, IP_OPTIONS, opt)
    attempt("connect %s" % A4, c.connect, (A4, 9999))
    attempt("send", c.send, payload(token, "srr connected"))
    late = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    attempt("connect %s (then the option)" % A4, late.connect, (A4, 9999))
    attempt("setsockopt IP_OPTIONS after connect", late.setsockopt, socket.IPPROTO_IP,
            IP_OPTIONS, opt)
    attempt("send", late.send, payload(token, "srr after connect"))


if __name__ == "__main__":
    main(globals())
