"""Ordinary lookups must not trip the tunnel detector: 30 CDN- and registry-shaped names under one domain (static-3, fonts, d1x2y3z4.cdn, registry-1...), twice."""
import time

from vlib import *  # noqa: F401,F403

POLICY = {"allow": ["*.tun.test:443"], "dns": {"upstream": [SECDNS]}}
AS = ("nobody",)
SINKS_OK = [SECDNS]
NAMES = (["static-%d.tun.test" % i for i in range(8)] +
         ["fonts.tun.test", "api.tun.test", "registry-1.tun.test", "auth.tun.test",
          "production.cloudflare.docker.tun.test", "objects.githubusercontent.tun.test",
          "d1x2y3z4abcd.cloudfront.tun.test", "pkg-containers.tun.test",
          "files.pythonhosted.tun.test", "pypi.tun.test", "registry.npmjs.tun.test",
          "deb.debian.tun.test", "security.debian.tun.test", "github.tun.test",
          "codeload.github.tun.test", "uploads.github.tun.test", "ghcr.tun.test",
          "www.tun.test", "cdn.jsdelivr.tun.test", "unpkg.tun.test", "crates.tun.test",
          "index.crates.tun.test"])


def judge(ev):
    flags = ev.find("egress.probe", {"egress.probe.reason": lambda r: r and r.startswith("dns")})
    return ["FALSE POSITIVE: ordinary lookups flagged: %s" % [
        s.get("egress.probe.reason") for s in flags]] if flags else []


def job(token, args):
    for _ in range(2):
        for name in NAMES:
            attempt("query " + name, lambda: len(dns_udp(DNS_V4, dns_query_bytes(name))))
            time.sleep(0.01)


if __name__ == "__main__":
    main(globals())
