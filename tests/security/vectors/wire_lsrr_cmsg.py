"""IPv4 source routes (LSRR via a denied host, SSRR via the hosts' veth address) as IP_RETOPTS ancillary data of sendmsg() to an allowed host: the datagram leaves for the denied first hop."""
from vlib import *  # noqa: F401,F403

# CAP_NET_RAW granted: a root job lacks it by default (cli/guard.c) and the
# kernel would refuse the source route itself; the wire check is under test
POLICY = {"allow": [A4 + ":9999/udp"], "capabilities": ["NET_RAW"]}
FEATURES = ["ip_srr"]
AS = ("nobody", "root")
SINKS_OK = [A4, A6]  # the allowed host may get it: what matters is where else it went
# uid 65534 has no CAP_NET_RAW: the kernel refuses source routes; root (granted it)
# gets them past every hook but the wire check
RECORD_AS = ("root",)
RECORD = [("egress.packet", {"egress.decision": "deny"})]


def job(token, args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for name, code, hop in (("lsrr", 131, D4), ("ssrr", 137, HOSTS_V4)):
        opt = struct.pack("!BBB4sB", code, 7, 4, socket.inet_aton(hop), 1)
        attempt("sendmsg IP_RETOPTS %s via %s" % (name, hop), s.sendmsg,
                [payload(token, name + " cmsg")], [(socket.IPPROTO_IP, IP_RETOPTS, opt)], 0,
                (A4, 9999))


if __name__ == "__main__":
    main(globals())
