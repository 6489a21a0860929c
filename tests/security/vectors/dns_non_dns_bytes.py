"""Bytes that are not DNS at all (the token in plain text, a truncated header, a TCP stream of junk) sent to port 53 of arbitrary addresses: they must not leave, and the refusal must be recorded (dns_malformed)."""
from vlib import *  # noqa: F401,F403

POLICY = {"allow": ["ok.test:443"]}
AS = ("nobody",)
SINKS_OK = []
RECORD = [("*", {"egress.reason": "dns_malformed"})]


def tcp_junk(server, data):
    s = socket.socket(socket.AF_INET6 if ":" in server else socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(1)
    s.connect((server, 53))
    s.sendall(data)
    try:
        return len(s.recv(100))
    except OSError:
        return -1


def job(token, args):
    raw = payload(token, "not dns")
    for server in ("198.18.1.9", DNS_V4, D6):
        attempt("udp junk @%s" % server, lambda: len(dns_udp(server, raw, timeout=0.5)))
        attempt("udp short @%s" % server, lambda: len(dns_udp(server, raw[:7], timeout=0.5)))
        attempt("tcp junk @%s" % server, tcp_junk, server, struct.pack("!H", len(raw)) + raw)
        attempt("tcp stream @%s" % server, tcp_junk, server, raw * 10)


if __name__ == "__main__":
    main(globals())
