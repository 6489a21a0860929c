"""IPv4 loose source route on a TCP socket connect()ing to an allowed host: the SYN leaves for the denied first hop."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": [A4 + ":443"]}
FEATURES = ["ip_srr"]
AS = ("nobody", "root")
SINKS_OK = [A4, A6]  # the allowed host may get it: what matters is where else it went
RECORD = [(("egress.sockopt", "egress.packet"), {"egress.decision": "deny",
                                                  "egress.reason": "reroute"})]


def judge(ev):
    bad = [i for _t, ff, i, _f in ev.parsed() if ff and i["proto"] == 6 and i["dst"] == D4]
    return ["LEAK: %d TCP segment(s) left for the denied hop %s (ip options %s)" % (
        len(bad), D4, bad[0]["ipopts"].hex())] if bad else []


def job(token, args):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    opt = struct.pack("!BBB4sB", 131, 7, 4, socket.inet_aton(D4), 1)
    attempt("setsockopt IP_OPTIONS lsrr", s.setsockopt, socket.IPPROTO_IP, IP_OPTIONS, opt)
    attempt("connect %s:443" % A4, s.connect, (A4, 443))
    attempt("send", s.send, payload(token, "lsrr tcp"))
    late = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    late.settimeout(2)
    attempt("connect %s:443 (then the option)" % A4, late.connect, (A4, 443))
    attempt("setsockopt IP_OPTIONS lsrr after connect", late.setsockopt, socket.IPPROTO_IP,
            IP_OPTIONS, opt)
    attempt("send", late.send, payload(token, "lsrr tcp after connect"))


if __name__ == "__main__":
    main(globals())
