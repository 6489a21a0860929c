"""Malformed DNS queries to port 53 carrying the token (a label longer than the message, a compression loop in the question, two questions, an opcode other than QUERY, a response bit set): none may be relayed, and the refusals must be recorded (dns_malformed)."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": ["ok.test:443"]}
AS = ("nobody",)
SINKS_OK = []
RECORD = [("*", {"egress.reason": "dns_malformed"})]


def cases(token):
    t = token.encode()
    hdr = lambda flags=0x0100, qd=1: struct.pack("!HHHHHH", 0x1234, flags, qd, 0, 0, 0)  # noqa: E731
    q = dns_raw_name("ok.test") + struct.pack("!HH", 1, 1)
    return [
        ("label past the end", hdr() + bytes([60]) + t),
        ("compression loop", hdr() + b"\xc0\x0c" + struct.pack("!HH", 1, 1) + t),
        ("two questions", hdr(qd=2) + q + dns_raw_name(token + ".ok.test") + struct.pack(
            "!HH", 1, 1)),
        ("opcode 2 (STATUS)", hdr(flags=0x1100) + dns_raw_name(token + ".ok.test") +
         struct.pack("!HH", 1, 1)),
        ("QR set", hdr(flags=0x8100) + dns_raw_name(token + ".ok.test") + struct.pack("!HH", 1, 1)),
        ("trailing bytes", hdr() + q + t),
    ]


def job(token, args):
    for what, msg in cases(token):
        attempt("udp %s" % what, lambda: len(dns_udp(DNS_V4, msg, timeout=0.5)))
        attempt("tcp %s" % what, lambda: len(dns_tcp(DNS_V4, msg, timeout=1)))


if __name__ == "__main__":
    main(globals())
