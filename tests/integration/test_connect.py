"""TCP connect decisions: IPv4, IPv6, IPv4-mapped, deny rules, metadata,
audit mode, ports and protocols, loopback."""
from harness import test, pol, allowed, denied, not_fenced, check, eq, EPERM
from harness_spans import expect


@test
def test_tcp_ipv4_allow_deny(ctx):
    d = ctx.daemon({"t": pol(allow=["198.18.1.1:443", "198.18.2.0/30:80"])})
    r = d.probe("t", "connect", "198.18.1.1:443", "198.18.1.2:443", "198.18.1.1:80",
                "198.18.2.1:80", "198.18.2.4:80")
    allowed(r.get("198.18.1.1:443"))
    denied(r.get("198.18.1.2:443"))  # other host
    denied(r.get("198.18.1.1:80"))  # other port
    allowed(r.get("198.18.2.1:80"))  # inside the /30
    denied(r.get("198.18.2.4:80"))  # just outside it
    check(not ctx.reached("198.18.1.2", 443), "a denied SYN reached 198.18.1.2:443")
    expect(d.decision(r.job, "198.18.1.1", 443), decision="allow", reason="rule")
    expect(d.decision(r.job, "198.18.1.2", 443), decision="deny", reason="no_rule")
    expect(d.decision(r.job, "198.18.2.1", 80), decision="allow", reason="rule",
           rule="198.18.2.0/30:80")
    expect(d.decision(r.job, "198.18.2.4", 80), decision="deny", reason="no_rule")


@test
def test_tcp_ipv6_allow_deny(ctx):
    d = ctx.daemon({"t": pol(allow=["[2001:db8:1::1]:443", "[2001:db8:1::]/126:80"])})
    r = d.probe("t", "connect", "[2001:db8:1::1]:443", "[2001:db8:1::2]:443",
                "[2001:db8:1::1]:22", "[2001:db8:1::3]:80", "[2001:db8:1::4]:80",
                "198.18.1.1:443")
    allowed(r.get("[2001:db8:1::1]:443"))
    denied(r.get("[2001:db8:1::2]:443"))
    denied(r.get("[2001:db8:1::1]:22"))
    allowed(r.get("[2001:db8:1::3]:80"))
    denied(r.get("[2001:db8:1::4]:80"))
    denied(r.get("198.18.1.1:443"))  # no IPv4 rule: IPv6 rules never cover IPv4
    s = d.decision(r.job, "2001:db8:1::1", 443)
    expect(s, decision="allow", reason="rule", rule="[2001:db8:1::1]:443")
    expect(s, **{"network.type": "ipv6"})
    expect(d.decision(r.job, "2001:db8:1::2", 443), decision="deny", reason="no_rule",
           **{"network.type": "ipv6"})
    expect(d.decision(r.job, "2001:db8:1::4", 80), decision="deny")


@test
def test_ipv4_mapped_judged_as_ipv4(ctx):
    # [::]/0 is an IPv6 rule: it must not open the IPv4-mapped space
    d = ctx.daemon({"t": pol(allow=["198.18.1.0/24:443", "198.18.1.5:9999/udp", "[::]/0:8080"],
                             deny=["198.18.1.2:443"])})
    r = d.probe("t", "connect", "[::ffff:198.18.1.1]:443", "[::ffff:198.18.1.2]:443",
                "[::ffff:198.18.2.1]:443", "[::ffff:198.18.1.4]:8080",
                "[::ffff:198.18.1.5]:9999/udp", "[::ffff:198.18.1.6]:9999/udp")
    for x in r.lines:
        eq(x["family"], "ipv6", "probe socket family for %s" % x["target"])
    allowed(r.get("[::ffff:198.18.1.1]:443"))
    denied(r.get("[::ffff:198.18.1.2]:443"))
    denied(r.get("[::ffff:198.18.2.1]:443"))
    denied(r.get("[::ffff:198.18.1.4]:8080"))
    allowed(r.get("[::ffff:198.18.1.5]:9999/udp"))
    denied(r.get("[::ffff:198.18.1.6]:9999/udp"))
    # span address: either the IPv4 or the mapped form (norm_addr accepts both)
    s = d.decision(r.job, "198.18.1.1", 443)
    expect(s, decision="allow", reason="rule", rule="198.18.1.0/24:443")
    check(s["network.type"] == "ipv4" or s["network.peer.address"].startswith("::ffff:"),
          "mapped connect: network.type %r, address %r" % (
              s.get("network.type"), s.get("network.peer.address")))
    expect(d.decision(r.job, "198.18.1.2", 443), decision="deny", reason="deny_rule",
           rule="198.18.1.2:443")
    expect(d.decision(r.job, "198.18.1.4", 8080), decision="deny", reason="no_rule")
    expect(d.decision(r.job, "198.18.1.6", 9999, "udp"), decision="deny")
    # connect-mapped spelling too (AF_INET6 socket to ::ffff:a.b.c.d)
    r = d.probe("t", "connect-mapped", "198.18.1.3", "443")
    allowed(r.lines[0])


@test
def test_deny_beats_allow(ctx):
    d = ctx.daemon({"t": pol(allow=["198.18.0.0/15:*", "198.18.2.3:443"],
                             deny=["198.18.2.0/24:*"])})
    r = d.probe("t", "connect", "198.18.1.1:443", "198.18.1.9:22", "198.18.2.1:443",
                "198.18.2.3:443", "198.18.2.5:80")
    allowed(r.get("198.18.1.1:443"))
    allowed(r.get("198.18.1.9:22"))
    denied(r.get("198.18.2.1:443"))
    denied(r.get("198.18.2.3:443"))  # even a more specific allow loses to deny
    denied(r.get("198.18.2.5:80"))
    expect(d.decision(r.job, "198.18.1.1", 443), decision="allow", reason="rule",
           rule="198.18.0.0/15:*")
    for h, p in (("198.18.2.1", 443), ("198.18.2.3", 443), ("198.18.2.5", 80)):
        s = d.decision(r.job, h, p)
        expect(s, decision="deny", reason="deny_rule", rule="198.18.2.0/24:*")
        eq(s.status_code, 2, "status code of a denial")


@test
def test_metadata_denied_unless_named(ctx):
    d = ctx.daemon({
        "wide": pol(allow=["169.254.0.0/16:*", "[fd00::]/8:*", "0.0.0.0/0:80", "198.18.1.1:443"]),
        "named": pol(allow=["169.254.169.254:80", "[fd00:ec2::254]:80"]),
    })
    r = d.probe("wide", "connect", "169.254.169.254:80", "[fd00:ec2::254]:80",
                "[::ffff:169.254.169.254]:80", "198.18.1.1:443")
    denied(r.get("169.254.169.254:80"))
    denied(r.get("[fd00:ec2::254]:80"))
    denied(r.get("[::ffff:169.254.169.254]:80"))
    allowed(r.get("198.18.1.1:443"))
    check(not ctx.reached("169.254.169.254", 80), "a denied connect reached the metadata host")
    expect(d.decision(r.job, "169.254.169.254", 80), decision="deny", reason="metadata")
    expect(d.decision(r.job, "fd00:ec2::254", 80), decision="deny", reason="metadata")
    r = d.probe("named", "connect", "169.254.169.254:80", "[fd00:ec2::254]:80",
                "169.254.169.254:443")
    allowed(r.get("169.254.169.254:80"))
    allowed(r.get("[fd00:ec2::254]:80"))
    denied(r.get("169.254.169.254:443"))  # named, but not this port
    expect(d.decision(r.job, "169.254.169.254", 80), decision="allow", reason="rule",
           rule="169.254.169.254:80")
    expect(d.decision(r.job, "fd00:ec2::254", 80), decision="allow", reason="rule",
           rule="[fd00:ec2::254]:80")


@test
def test_audit_mode_records_would_deny(ctx):
    d = ctx.daemon({"a": pol(allow=["198.18.1.1:443"], mode="audit")})
    r = d.probe("a", "connect", "198.18.1.1:443", "198.18.1.2:443",
                "[2001:db8:1::2]:80", "198.18.1.3:9999/udp")
    for x in r.lines:
        allowed(x)  # audit: nothing is blocked
    check(ctx.reached("198.18.1.2", 443), "audit mode: 198.18.1.2:443 should reach the host")
    expect(d.decision(r.job, "198.18.1.1", 443), decision="allow", reason="rule", mode="audit")
    s = d.decision(r.job, "198.18.1.2", 443)
    expect(s, decision="would_deny", reason="no_rule", mode="audit")
    check(s.status_code != 2, "would_deny is not an error: status %s" % s.status_code)
    expect(d.decision(r.job, "2001:db8:1::2", 80), decision="would_deny")
    expect(d.decision(r.job, "198.18.1.3", 9999, "udp"), decision="would_deny")
    # raw sockets too: audit allows them and records what enforce would refuse
    r = d.probe("a", "socket", "raw")
    check(r.lines[0]["ok"], "audit mode: raw socket should be created: %s" % r.lines[0])
    expect(d.wait_spans("egress.socket", r.job)[0], decision="would_deny", reason="raw_socket")


@test
def test_ports_ranges_and_protocol(ctx):
    d = ctx.daemon({"p": pol(allow=["198.18.1.3:8000-8100", "198.18.1.4:80,443",
                                    "198.18.1.5:443/udp", "198.18.1.6:*/udp",
                                    "198.18.1.7:9999/any", "198.18.1.8:*"])})
    # (not port 53 here: the fence sends port 53 to its DNS proxy, test_dns.py)
    r = d.probe("p", "connect", "--no-echo", "--timeout", "2",
                "198.18.1.3:8080", "198.18.1.3:8000", "198.18.1.3:8100",
                "198.18.1.3:7999", "198.18.1.3:8101", "198.18.1.3:9000", "198.18.1.3:8080/udp",
                "198.18.1.4:80", "198.18.1.4:443", "198.18.1.4:22", "198.18.1.4:8080",
                "198.18.1.5:443", "198.18.1.5:443/udp", "198.18.1.5:123/udp",
                "198.18.1.6:443", "198.18.1.6:9999/udp", "198.18.1.6:123/udp",
                "198.18.1.7:9999", "198.18.1.7:9999/udp", "198.18.1.7:123/udp",
                "198.18.1.8:22", "198.18.1.8:9000", "198.18.1.8:9999/udp")
    yes = ["198.18.1.3:8080", "198.18.1.3:8000", "198.18.1.3:8100", "198.18.1.4:80",
           "198.18.1.4:443", "198.18.1.5:443/udp", "198.18.1.6:9999/udp", "198.18.1.6:123/udp",
           "198.18.1.7:9999", "198.18.1.7:9999/udp", "198.18.1.8:22", "198.18.1.8:9000"]
    no = ["198.18.1.3:7999", "198.18.1.3:8101", "198.18.1.3:9000", "198.18.1.3:8080/udp",
          "198.18.1.4:22", "198.18.1.4:8080", "198.18.1.5:443", "198.18.1.5:123/udp",
          "198.18.1.6:443", "198.18.1.7:123/udp", "198.18.1.8:9999/udp"]
    for t in yes:
        not_fenced(r.get(t))  # 8000/8100/tcp 9999 have no listener: ECONNREFUSED is fine
    for t in no:
        denied(r.get(t))
    expect(d.decision(r.job, "198.18.1.5", 443, "tcp"), decision="deny", reason="no_rule")
    expect(d.decision(r.job, "198.18.1.5", 443, "udp"), decision="allow",
           rule="198.18.1.5:443/udp")
    expect(d.decision(r.job, "198.18.1.3", 8100), decision="allow", rule="198.18.1.3:8000-8100")
    expect(d.decision(r.job, "198.18.1.3", 8101), decision="deny")


@test
def test_loopback(ctx):
    d = ctx.daemon({"lo": pol(allow=["198.18.1.1:443"]),
                    "nolo": pol(allow=["198.18.1.1:443"], loopback=False)})
    r = d.probe("lo", "loopback")
    eq(len(r.lines), 4, "loopback results")
    for x in r.lines:
        check(x["ok"], "loopback true (default): %s should work: %s" % (x.get("target"), x))
    r = d.probe("nolo", "loopback")
    tcp = [x for x in r.lines if x.get("proto") == "tcp"]
    eq(len(tcp), 2, "tcp loopback results")
    for x in r.lines:
        check(not x["ok"] and x["errno"] == EPERM,
              "loopback false: %s should be denied, got %s" % (x.get("target"), x))
