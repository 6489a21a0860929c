"""egressctl report JOB (cli/report.c): one real job's journal as text,
markdown and JSON. The job connects to an allowed address and to unlisted
ones (TCP twice, UDP), and asks for an unlisted name; its CI attribute holds
markup. Judged against the journal's own spans: the trace id, the denials
grouped with their counts and processes, the rules that would allow them,
and the markup escaped. Bad invocations: a usage error or a clear "not in
the journal".

The HTML form (cli/report_html.c) of a job of two processes, one of them run
from an executable with a hostile name, the job's attribute hostile too:
the page is parsed (no script, no event handler, no URL, only the tags the
renderer writes, the hostile values as escaped text), then rendered by
Debian's headless chromium: its screenshot must show the timeline's marks
(found by their exact colours and size) and its DOM must hold no script."""
import html.parser
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import time
import zlib

from harness import test, pol, check, eq, PY, PROBE, SANITIZER_MARKS

HOSTILE = "<script>alert(1)</script>|`x`*y*[z](http://a)\x1b[31m\x9b2J"


def report(d, *args):
    return subprocess.run([d.egressctl, "report"] + list(args) + ["--state-dir", d.state_dir],
                          capture_output=True, text=True, timeout=60)


@test(timeout=120)
def test_report_of_a_real_job(ctx):
    d = ctx.daemon(policies={"rp": pol(allow=["198.18.1.1:443"])})
    job = ctx.job_id()
    r = d.probe("rp", "connect", "198.18.1.1:443", "198.18.2.4:80", "198.18.2.4:80",
                "198.18.1.5:9999/udp", job_id=job, attrs={"gen_ai.agent.name": HOSTILE},
                rc=None)
    d.probe("rp", "resolve", "secret.test", job_id=job + "-dns", rc=None)
    js = d.job_span(job, timeout=20)

    p = report(d, job, "--format", "json")
    eq(p.returncode, 0, "egressctl report --format json: %s" % p.stderr)
    m = json.loads(p.stdout)
    eq(m["job"]["id"], job, "the job's id")
    eq(m["job"]["trace_id"], js.trace_id, "the trace id, as the egress.job span has it")
    eq(m["job"]["state"], "ended", "the job's state")
    eq(m["job"]["attributes"]["egress.policy.name"], "rp", "the policy")
    eq(m["job"]["attributes"]["gen_ai.agent.name"], HOSTILE, "the attribute, as it was")
    check(m["job"]["duration_s"] > 0, "no duration: %r" % m["job"])
    den = {g["destination"]: g for g in m["denied"]}
    g = den.get("198.18.2.4:80/tcp")
    check(g and g["count"] == 2 and g["kind"] == "connect" and g["reason"] == "no_rule",
          "the two denied TCP connects, grouped: %r" % m["denied"])
    check(any(x.startswith("python3") for x in g["processes"]),
          "the process that tried is not named: %r" % g)
    check("198.18.1.5:9999/udp" in den, "the denied UDP destination: %r" % m["denied"])
    check(not any(k.startswith("198.18.1.1:443") for k in den),
          "an allowed destination in the denials: %r" % m["denied"])
    add = m["allow"]["add"]
    check("198.18.2.4:80" in add and "198.18.1.5:9999/udp" in add,
          "the rules that would allow what was denied: %r" % add)
    eq(m["allow"]["policy"], "rp", "the policy the rules are for")

    p = report(d, job)
    eq(p.returncode, 0, "egressctl report (text): %s" % p.stderr)
    for word in ("egress-fence job " + job, "policy     rp (enforce)", js.trace_id,
                 "198.18.2.4:80/tcp  connect  no_rule  x2", "+ \"198.18.2.4:80\""):
        check(word in p.stdout, "%r missing from the text report:\n%s" % (word, p.stdout))
    check("\x1b" not in p.stdout and "\x9b" not in p.stdout,
          "a control character (C0 or C1) reached the text report")

    p = report(d, job, "--format", "markdown")
    eq(p.returncode, 0, "egressctl report --format markdown: %s" % p.stderr)
    out = p.stdout
    # every value a code span: no markup, link or HTML of the job's is
    # rendered; its '|' escaped, so that it makes no cell of its own
    check("``<script>alert(1)</script>\\|`x`*y*[z](http://a) [31m 2J``" in out
          and "\x1b" not in out and "\x9b" not in out, "the job's attribute is not one code span:\n%s" % out)
    row = [l for l in out.splitlines() if l.startswith("| `gen_ai.agent.name`")]
    check(row and row[0].count("|") - row[0].count("\\|") == 3,
          "the attribute's row has cells of its own making: %r" % row)
    check("| `198.18.2.4:80/tcp` | `connect` | `no_rule` | 2 |" in out,
          "the denied destination's row:\n%s" % out)
    diff = out.split("```diff\n", 1)[-1].split("```", 1)[0]
    check("+  \"198.18.2.4:80\",\n" in diff and "+  \"198.18.1.5:9999/udp\",\n" in diff,
          "the rules to add:\n%s" % out)

    # the name asked for and refused, in a job of its own
    p = report(d, job + "-dns", "--format", "json")
    eq(p.returncode, 0, "report of the DNS job: %s" % p.stderr)
    check(any(g["destination"].startswith("secret.test") and g["kind"] == "dns"
              for g in json.loads(p.stdout)["denied"]),
          "the refused name is not among the denials: %s" % p.stdout)


@test(timeout=60)
def test_report_bad_invocations(ctx):
    d = ctx.daemon(policies={"rp": pol(allow=["198.18.1.1:443"])})
    d.probe("rp", "connect", "198.18.1.1:443", rc=None)
    for args, rc, word in (([], 2, "which job"),
                           (["j1", "--format", "xml"], 2, "--format"),
                           (["j1", "--since", "forever"], 2, "--since"),
                           (["j1", "j2"], 2, "unknown argument"),
                           (["j1", "--bogus"], 2, "unknown argument"),
                           (["no-such-job"], 1, "no spans of job no-such-job")):
        p = report(d, *args)
        eq(p.returncode, rc, "egressctl report %s: exit status (%s)" % (args, p.stderr))
        check(word in p.stderr and not p.stdout, "egressctl report %s said %r %r" % (
            args, p.stdout, p.stderr))
    p = subprocess.run([d.egressctl, "report", "j1", "--state-dir", ctx.path("nothing")],
                       capture_output=True, text=True, timeout=30)
    check(p.returncode == 1 and "no journal at" in p.stderr, "a missing journal: %r" % (
        p.stderr,))


# --------------------------------------------------------------------------
# --format html

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
# in the job's attribute: a way out of the cell, script, an event handler, a URL,
# quotes, an entity, C0, C1 and DEL controls, a bidi override
HOSTILE_HTML = ("</code></td><script>alert(1)</script><img src=http://evil.test/x "
                "onerror=alert(2)>\"'&amp;<svg onload=alert(3)>\x1b[31m\x9b2J\x7f\u202e!")
# the name of the executable of one of the job's processes (a lane's label)
HOSTILE_EXE = "py<b onmouseover=alert(4)>'\"&\x1b"
ALLOW_RGB, DENY_RGB = b"\x2e\x7d\x32", b"\xc6\x28\x28"
# cli/report_html.c: allowed and denied marks are 8 x 9 px (the legend's swatches 10 x 10),
# at x = 250 + t / duration * PLOT_W
MARK_W, MARK_H, PLOT_W = 8, 9, 820
# every tag cli/report_html.c writes; anything else came from the job
TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "table", "tr", "th",
        "td", "code", "span", "svg", "rect", "line", "text", "details", "summary", "pre", "ul",
        "li", "tbody"}  # tbody: the HTML parser adds it (chromium's DOM)


def html_escaped(s):
    """s as report_html.c writes it: controls (C0, DEL, C1) and bidi controls
    as '?', & < > " ' as references"""
    out = []
    for ch in s:
        o = ord(ch)
        if o < 0x20 or 0x7f <= o <= 0x9f or 0x202a <= o <= 0x202e or 0x2066 <= o <= 0x2069:
            out.append("?")
        else:
            out.append({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
                        "'": "&#39;"}.get(ch, ch))
    return "".join(out)


class Page(html.parser.HTMLParser):
    """The tags, their attributes, the text and the style sheet of a page."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.tags, self.text, self.css, self._in = [], [], [], None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))
        self._in = tag

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        (self.css if self._in == "style" else self.text).append(data)


def check_inert(page, what):
    """No script, no event handler, no URL that leaves the page; only the
    renderer's own tags."""
    check(not re.search(r"<\s*script", page, re.I), "%s: a script element" % what)
    for tag in re.findall(r"<[a-zA-Z][^>]*>", page):
        check(not re.search(r"\son\w+\s*=", tag, re.I), "%s: an event handler in %r" % (what, tag))
    p = Page(page)
    for tag, attrs in p.tags:
        check(tag in TAGS, "%s: a <%s> the renderer does not write: %r" % (what, tag, attrs))
        for k, v in attrs:
            v = (v or "").lower()
            check(not k.startswith("on"), "%s: <%s %s=%r>" % (what, tag, k, v))
            check(k not in ("src", "href", "xlink:href", "action", "srcset", "style")
                  or v.startswith("data:"), "%s: <%s %s=%r>" % (what, tag, k, v))
            check(not any(u in v for u in ("http:", "https:", "javascript:", "url(")),
                  "%s: a URL in <%s %s=%r>" % (what, tag, k, v))
    css = "".join(p.css).lower()
    check(not any(u in css for u in ("url(", "@import", "http")), "%s: the style sheet "
          "fetches: %r" % (what, css))
    return p


def html_job(ctx):
    """A job of two processes 0.6 s apart, each allowed once and denied once, the
    first run from HOSTILE_EXE, the job's attribute HOSTILE_HTML; its report as
    html (checked inert), and the file it is in."""
    d = ctx.daemon(policies={"rp": pol(allow=["198.18.1.1:443"])})
    exe = os.path.join(ctx.path("bin"), HOSTILE_EXE)
    os.makedirs(os.path.dirname(exe))
    shutil.copy(os.path.realpath(PY), exe)
    job = ctx.job_id()
    d.run("rp", ["/bin/sh", "-c", '"$1" "$2" connect 198.18.1.1:443 198.18.2.4:80; sleep 0.6; '
                 '"$3" "$2" connect 198.18.1.5:9999/udp 198.18.1.1:443', "sh", exe, PROBE, PY],
          job_id=job, attrs={"gen_ai.agent.name": HOSTILE_HTML})
    d.job_span(job, timeout=20)
    p = report(d, job, "--format", "html")
    eq(p.returncode, 0, "egressctl report --format html: %s" % p.stderr)
    check(not any(m in p.stderr for m in SANITIZER_MARKS), "sanitizer: %s" % p.stderr)
    path = ctx.path("report.html")
    with open(path, "w") as f:
        f.write(p.stdout)
    return d, job, p.stdout, path


def chromium_exe():
    exe = shutil.which("chromium")
    check(exe, "chromium not found: the HTML report tests render the page with Debian's "
          "headless chromium (`make deps` installs it, see DEB_PKGS in the Makefile)")
    return exe


def chromium(ctx, *args):
    """Debian's headless chromium on ctx's files; its stdout. As root it needs
    --no-sandbox; its profile and caches go to ctx's dir."""
    exe = chromium_exe()
    home = ctx.path("chromium-home")
    os.makedirs(home, exist_ok=True)
    env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=home, XDG_CACHE_HOME=home)
    argv = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--no-first-run", "--user-data-dir=" + os.path.join(home, "profile"),
            "--force-color-profile=srgb", "--force-device-scale-factor=1"] + list(args)
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        out, err = p.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        raise AssertionError("chromium %s did not finish in 90 s" % " ".join(args))
    check(p.returncode == 0, "chromium %s exited %d: %s" % (
        " ".join(args), p.returncode, err.decode(errors="replace")[-1500:]))
    return out.decode(errors="replace")


def png_rows(data):
    """A PNG (8-bit RGB or RGBA, not interlaced, as chromium writes them):
    (bytes per pixel, its rows unfiltered)."""
    check(data[:8] == b"\x89PNG\r\n\x1a\n", "the screenshot is no PNG: %r" % data[:16])
    pos, idat, hdr = 8, b"", None
    while pos + 8 <= len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", data[pos + 8:pos + 21])
        elif kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    check(hdr and hdr[2] == 8 and hdr[3] in (2, 6) and not hdr[6], "PNG kind %r" % (hdr,))
    w, h, bpp = hdr[0], hdr[1], 3 if hdr[3] == 2 else 4
    raw, stride, rows = zlib.decompress(idat), w * bpp, []
    prev = bytearray(stride)
    for y in range(h):
        f, cur = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride) if f else ():
            a = cur[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                cur[i] = (cur[i] + a) & 255
            elif f == 2:
                cur[i] = (cur[i] + b) & 255
            elif f == 3:
                cur[i] = (cur[i] + ((a + b) >> 1)) & 255
            elif f == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                cur[i] = (cur[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(cur))
        prev = cur
    return bpp, rows


def marks(bpp, rows, rgb):
    """(x, y) of the top of each vertical run of exactly MARK_H pixels of rgb:
    the timeline's marks, not the legend's taller swatches."""
    cols = {}
    for y, row in enumerate(rows):
        i = row.find(rgb)
        while i >= 0:
            if not i % bpp:
                cols.setdefault(i // bpp, []).append(y)
            i = row.find(rgb, i + 1)
    out = []
    for x, ys in cols.items():
        start = 0
        for k in range(1, len(ys) + 1):
            if k == len(ys) or ys[k] != ys[k - 1] + 1:
                if k - start == MARK_H:
                    out.append((x, ys[start]))
                start = k
    return out


@test(timeout=240)
def test_report_html_of_a_real_job(ctx):
    chromium_exe()
    d, job, page, path = html_job(ctx)

    # the model's timeline (--format json)
    p = report(d, job, "--format", "json")
    eq(p.returncode, 0, "egressctl report --format json: %s" % p.stderr)
    m = json.loads(p.stdout)
    check({"job", "denied", "flags", "tamper", "allow", "timeline"} <= set(m), "keys %r" % list(m))
    tl = m["timeline"]
    ds, lanes = tl["decisions"], tl["lanes"]
    check(len(lanes) == 2 and lanes[0].startswith(HOSTILE_EXE + "[")
          and lanes[1].startswith("python3"), "a lane per process, in time order: %r" % lanes)
    ts = [x["t"] for x in ds]
    check(ts == sorted(ts) and all(0 <= t <= tl["duration_s"] for t in ts),
          "decision times not in order or outside the job (%s s): %r" % (tl["duration_s"], ts))
    got = sorted((x["lane"], x["decision"], x["destination"]) for x in ds)
    eq(got, [(0, "allow", "198.18.1.1:443/tcp"), (0, "deny", "198.18.2.4:80/tcp"),
             (1, "allow", "198.18.1.1:443/tcp"), (1, "deny", "198.18.1.5:9999/udp")],
       "the timeline's decisions (lane, decision, destination)")
    check(min(x["t"] for x in ds if x["lane"] == 1) - max(
        x["t"] for x in ds if x["lane"] == 0) >= 0.5, "the second process 0.6 s later: %r" % ds)

    # the page: inert, the job's values as escaped text, what the text form says
    check('<meta http-equiv="Content-Security-Policy" content="%s">' % CSP in page
          and page.index("Content-Security-Policy") < page.index("<style>"),
          "the Content-Security-Policy is not the page's first word:\n%s" % page[:600])
    pg = check_inert(page, "report --format html")
    text = "".join(pg.text)
    check(html_escaped(HOSTILE_HTML) in page and HOSTILE_HTML not in page,
          "the job's attribute is not escaped:\n%s" % page)
    check(html_escaped(HOSTILE_EXE) in page, "the hostile executable's name is not escaped")
    for word in (job, "198.18.2.4:80/tcp", "198.18.1.5:9999/udp", '+  "198.18.2.4:80",',
                 '+  "198.18.1.5:9999/udp",', m["job"]["trace_id"], "Timeline", "Denied"):
        check(word in text, "%r missing from the page's text" % word)
    check(text.count("<script>alert(1)</script>") == 1, "the attribute is not shown as text")

    # chromium's rendering: the marks, by their exact colours and size
    png = ctx.path("report.png")
    chromium(ctx, "--window-size=1200,1600", "--screenshot=" + png, "file://" + path)
    with open(png, "rb") as f:
        bpp, rows = png_rows(f.read())
    inked = sum(1 for r in rows if r != b"\xff" * len(r))
    check(inked > 300, "the screenshot is (almost) blank: %d rows not white" % inked)
    for rgb, what in ((ALLOW_RGB, "allow"), (DENY_RGB, "deny")):
        got = marks(bpp, rows, rgb)
        xs, ys = {x for x, _ in got}, {y for _, y in got}
        check(len(got) >= 2 * MARK_W, "no %s mark (#%s, %d x %d px) in the screenshot %s" % (
            what, rgb.hex(), MARK_W, MARK_H, png))
        # one in each process's lane, as far apart as their times say
        t = [x["t"] for x in sorted(ds, key=lambda x: x["lane"]) if x["decision"] == what]
        want = (t[1] - t[0]) / tl["duration_s"] * PLOT_W + MARK_W - 1
        check(len(ys) == 2 and abs(max(xs) - min(xs) - want) <= 4,
              "the %s marks are not in two lanes %.0f px apart: %r" % (what, want, sorted(got)))


@test(timeout=240)
def test_report_html_dom_has_no_script(ctx):
    chromium_exe()
    d, job, page, path = html_job(ctx)
    dom = chromium(ctx, "--dump-dom", "file://" + path)
    check("<svg" in dom and dom.count("<rect") >= 4, "chromium's DOM has no timeline:\n%s" % dom)
    check_inert(dom, "chromium's DOM of the page")
    check("&lt;script&gt;alert(1)&lt;/script&gt;" in dom and "onerror=alert(2)" in dom,
          "the job's attribute is not text in chromium's DOM:\n%s" % dom)


# --------------------------------------------------------------------------
# nesting: decisions under an agent's tool calls (cli/report_tree.c), with
# and without the agent's own spans (--spans, cli/report_spans.c); hand-made
# journals, as egressd writes them once a decision span is the child of
# the span its process's TRACEPARENT names

from test_audit import anyvalue, state  # noqa: E402

SEC = 10**9


def hexid(n):
    return os.urandom(n).hex()


def otlp_span(trace, sid, parent, name, start, end, attrs=None):
    sp = {"traceId": trace, "spanId": sid, "name": name, "kind": 1,
          "startTimeUnixNano": str(start), "endTimeUnixNano": str(end),
          "attributes": [{"key": k, "value": anyvalue(v)} for k, v in (attrs or {}).items()],
          "status": {}}
    if parent:
        sp["parentSpanId"] = parent
    return sp


def request(spans, service="egress-fence"):
    """one OTLP/JSON ExportTraceServiceRequest"""
    return {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"scope": {"name": service}, "spans": list(spans)}]}]}


class Nest:
    """A job's trace as egressd and a self-tracing agent would write it: the
    job span; the agent's invoke_agent under it and two execute_tool calls
    under that (in the agent's file only); a third tool call whose span the
    agent never exported; decisions of the agent itself (under the job) and
    of each tool's process (under its call)."""

    def __init__(self, job, t0=None):
        self.job = job
        self.t0 = t0 or time.time_ns() - 60 * SEC
        self.trace = hexid(16)
        self.job_sid, self.agent, self.npm, self.git, self.curl = (hexid(8) for _ in range(5))

    def at(self, s):
        return self.t0 + int(s * SEC)

    def decision(self, parent, t, exe, pid, decision, host, port, name="egress.connect"):
        a = {"egress.job.id": self.job, "egress.decision": decision,
             "egress.reason": "rule" if decision == "allow" else "no_rule",
             "process.pid": pid, "process.executable.name": exe}
        if name == "egress.dns":
            a.update({"dns.question.name": host, "egress.dns.type": "A"})
        else:
            a.update({"network.transport": "tcp", "network.peer.address": host,
                      "network.peer.port": port, "server.address": host, "server.port": port})
        return otlp_span(self.trace, hexid(8), parent, name, self.at(t), self.at(t), a)

    def journal(self):
        job = otlp_span(self.trace, self.job_sid, hexid(8), "egress.job", self.at(0), self.at(10),
                        {"egress.job.id": self.job, "egress.policy.name": "demo-agent",
                         "egress.mode": "enforce", "egress.decisions": 5})
        self.decisions = [
            self.decision(self.job_sid, 1.0, "python3", 100, "allow", "198.18.1.5", 443),
            self.decision(self.npm, 2.5, "npm", 201, "allow", "198.18.1.6", 443),
            self.decision(self.git, 4.5, "git", 202, "allow", "198.18.1.2", 443),
            self.decision(self.git, 4.8, "git", 202, "deny", "198.18.1.2", 22),
            self.decision(self.curl, 6.5, "curl", 301, "deny", "paste.example.com", 0,
                          name="egress.dns"),
        ]
        return json.dumps(request(self.decisions + [job])) + "\n"

    def agent_spans(self):
        return [otlp_span(self.trace, self.agent, self.job_sid, "invoke_agent demo-agent",
                          self.at(0.5), self.at(9), {"gen_ai.operation.name": "invoke_agent"}),
                otlp_span(self.trace, self.npm, self.agent, "execute_tool npm install",
                          self.at(2), self.at(3), {"gen_ai.tool.name": "npm install"}),
                otlp_span(self.trace, self.git, self.agent, "execute_tool git push",
                          self.at(4), self.at(5), {"gen_ai.tool.name": "git push"})]

    def state(self, ctx, name="state"):
        return state(ctx, {"journal-0000000001.jsonl": self.journal()}, name=name)


def report_sd(ctx, sd, *args, rc=0):
    p = subprocess.run([os.path.join(ctx.build, "egressctl"), "report"] + list(args)
                       + ["--state-dir", sd], capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    check(not any(m in p.stderr for m in SANITIZER_MARKS), "sanitizer: %s" % p.stderr[-1500:])
    if rc is not None:
        check(p.returncode == rc, "egressctl report %s exited %d, want %d: %s" % (
            " ".join(args), p.returncode, rc, p.stderr[-800:]))
    return p


def model_of(ctx, sd, job, *args):
    p = report_sd(ctx, sd, job, "--format", "json", *args)
    return json.loads(p.stdout)["timeline"], p.stderr


def write_spans(ctx, name, reqs, one_object=False):
    path = ctx.path(name)
    with open(path, "w") as f:
        if one_object:
            json.dump(reqs[0], f, indent=2)
        else:
            for r in reqs:
                f.write(json.dumps(r) + "\n")
    return path


def tree_shape(tl):
    """[(depth, kind, name, [lane labels], [(decision, destination)])] per row"""
    out = []
    for n in tl["tree"]:
        ds = [(d["decision"], d["destination"]) for d in tl["decisions"] if d["row"] == n["row"]]
        out.append((n["depth"], n["kind"], n["name"], [tl["lanes"][i] for i in n["lanes"]],
                    sorted(ds)))
    return out


@test(timeout=60)
def test_report_nests_decisions_by_parent_without_spans(ctx):
    nest = Nest("nest-a")
    sd = nest.state(ctx)
    tl, err = model_of(ctx, sd, nest.job)
    eq(tree_shape(tl), [
        (0, "job", "egress.job", ["python3[100]"], [("allow", "198.18.1.5:443/tcp")]),
        (1, "group", "npm", ["npm[201]"], [("allow", "198.18.1.6:443/tcp")]),
        (1, "group", "git", ["git[202]"], [("allow", "198.18.1.2:443/tcp"),
                                           ("deny", "198.18.1.2:22/tcp")]),
        (1, "group", "curl", ["curl[301]"], [("deny", "paste.example.com (DNS)")])],
       "the rows without --spans: the job's own decisions, then one group per parent span")
    eq([n["span_id"] for n in tl["tree"]], [nest.job_sid, nest.npm, nest.git, nest.curl],
       "each group is its parent span")
    g = tl["tree"][2]
    check(abs(g["t"] - 4.5) < 1e-6 and abs(g["t_end"] - 4.8) < 1e-6,
          "a group spans its decisions: %r" % g)
    # the text form is as it was
    p = report_sd(ctx, sd, nest.job)
    check("198.18.1.2:22/tcp  connect  no_rule  x1" in p.stdout, p.stdout)


@test(timeout=60)
def test_report_spans_file_nests_agent_and_tool_calls(ctx):
    nest = Nest("nest-b")
    sd = nest.state(ctx)
    other = Nest("other")  # another trace, in the same file: left out
    # what a receiver got: the fence's spans (again) and the agent's, other
    # traces too, over two requests
    reqs = [request(nest.decisions[:2] + other.agent_spans()),
            request(nest.agent_spans()[::-1], service="demo-agent")]
    want = [
        (0, "job", "egress.job", ["python3[100]"], [("allow", "198.18.1.5:443/tcp")]),
        (1, "span", "invoke_agent demo-agent", [], []),
        (2, "span", "execute_tool npm install", ["npm[201]"], [("allow", "198.18.1.6:443/tcp")]),
        (2, "span", "execute_tool git push", ["git[202]"], [("allow", "198.18.1.2:443/tcp"),
                                                          ("deny", "198.18.1.2:22/tcp")]),
        (1, "group", "curl", ["curl[301]"], [("deny", "paste.example.com (DNS)")])]
    for label, path in (("lines", write_spans(ctx, "spans.jsonl", reqs)),
                        ("one object", write_spans(ctx, "spans.json", [request(
                            nest.agent_spans())], one_object=True))):
        tl, err = model_of(ctx, sd, nest.job, "--spans", path)
        eq(tree_shape(tl), want, "the tree with --spans (%s)" % label)
        check(not err, "a clean --spans file drew a complaint: %r" % err)
        n = tl["tree"][1]
        check(abs(n["t"] - 0.5) < 1e-6 and abs(n["t_end"] - 9) < 1e-6, "the agent's times %r" % n)


@test(timeout=60)
def test_report_spans_bad_files(ctx):
    """--spans with what is not a file of OTLP/JSON: a clear error (exit 1,
    nothing on stdout); unusable spans in a good file: left out, counted."""
    nest = Nest("nest-c")
    sd = nest.state(ctx)
    big = ctx.path("big.json")
    with open(big, "wb") as f:  # sparse: 33 MiB of NULs
        f.truncate(33 << 20)
    huge_line = ctx.path("huge.jsonl")
    with open(huge_line, "w") as f:
        f.write(json.dumps(request(nest.agent_spans())) + "\n")
        f.write(json.dumps(request([otlp_span(nest.trace, hexid(8), nest.agent, "x" * (5 << 20),
                                              nest.at(1), nest.at(2))])) + "\n")
    files = {"garbage.txt": "hello\n", "policy.json": '{"name": "p", "allow": []}\n',
             "empty.json": "\n\n", "second-line-bad.jsonl":
             json.dumps(request(nest.agent_spans())) + "\n{\"resourceSpans\": [\n",
             "spans-not-list.json": json.dumps({"resourceSpans": [{"scopeSpans": [
                 {"spans": {"spanId": "x"}}]}]})}
    for name, text in files.items():
        with open(ctx.path(name), "w") as f:
            f.write(text)
    for path, word in ((ctx.path("missing.json"), "No such file"),
                       (ctx.path("garbage.txt"), "garbage.txt:1: not JSON"),
                       (ctx.path("policy.json"), "not an OTLP/JSON trace request"),
                       (ctx.path("empty.json"), "empty"),
                       (ctx.path("second-line-bad.jsonl"), "second-line-bad.jsonl:2: not JSON"),
                       (ctx.path("spans-not-list.json"), "spans is not a list"),
                       (huge_line, "huge.jsonl:2: a line of more than 4 MiB"),
                       (big, "larger than 32 MiB"),
                       (ctx.tmp, "Is a directory")):
        for fmt in ("json", "html"):
            p = report_sd(ctx, sd, nest.job, "--format", fmt, "--spans", path, rc=1)
            check(word in p.stderr and not p.stdout, "--spans %s: want %r, got %r %r" % (
                path, word, p.stdout[:200], p.stderr))
    p = subprocess.run([os.path.join(ctx.build, "egressctl"), "report", nest.job,
                        "--state-dir", sd, "--spans"], capture_output=True, text=True, timeout=30)
    check(p.returncode == 2 and "lacks its value" in p.stderr, "--spans without a file: %d %r" % (
        p.returncode, p.stderr))

    # unusable spans: malformed ids and times, another trace, far from the
    # job, a cycle, a span its own parent, a chain too long to follow
    t, good = nest.trace, nest.agent_spans()
    c1, c2, me = hexid(8), hexid(8), hexid(8)
    bad = [otlp_span(t, "xyz", nest.agent, "bad id", nest.at(1), nest.at(2)),
           otlp_span(t, "0" * 16, nest.agent, "zero id", nest.at(1), nest.at(2)),
           otlp_span(t, hexid(8), "short", "bad parent", nest.at(1), nest.at(2)),
           otlp_span(t, hexid(8), nest.agent, "ends first", nest.at(2), nest.at(1)),
           otlp_span(t, hexid(8), nest.agent, "time 0", 0, nest.at(1)),
           otlp_span(t, hexid(8), nest.agent, "time -5", -5, nest.at(1)),
           otlp_span(t, hexid(8), nest.agent, "time 2^64", 2**64 + 5, 2**64 + 6),
           dict(otlp_span(t, hexid(8), nest.agent, "no name", nest.at(1), nest.at(2)), name=7),
           "not a span"]
    far = [otlp_span(t, hexid(8), nest.agent, "in 2200", 7258118400 * SEC, 7258118401 * SEC),
           otlp_span(t, hexid(8), nest.agent, "in 1971", 10**16, 10**16 + 1)]
    loose = [otlp_span(t, c1, c2, "cycle 1", nest.at(1), nest.at(2)),
             otlp_span(t, c2, c1, "cycle 2", nest.at(1), nest.at(2)),
             otlp_span(t, me, me, "its own parent", nest.at(1), nest.at(2)),
             otlp_span(t, hexid(8), hexid(8), "parent unknown", nest.at(1), nest.at(2))]
    chain, parent = [], nest.agent  # 40 deep under the agent: 32 links are followed
    for i in range(40):
        sid = hexid(8)
        chain.append(otlp_span(t, sid, parent, "depth %d" % (i + 2), nest.at(1), nest.at(2)))
        parent = sid
    dup = dict(good[1], name="a second execute_tool npm install")
    path = write_spans(ctx, "mixed.jsonl", [request(good + bad + far + loose + [dup]),
                                            request(chain)])
    tl, err = model_of(ctx, sd, nest.job, "--spans", path)
    for word in ("9 spans left out: malformed", "2 spans left out: with times more than a day"):
        check(word in err, "%r not said: %r" % (word, err))
    names = [n["name"] for n in tl["tree"]]
    check(not any(n.startswith(("bad", "zero", "ends", "time", "in 2", "in 1", "cycle", "its own",
                                "parent unknown", "a second")) for n in names),
          "an unusable span was drawn: %r" % names)
    deep = [n["depth"] for n in tl["tree"] if n["name"].startswith("depth ")]
    eq(max(deep), 32, "the deepest span drawn (REPORT_TREE_DEPTH links followed)")
    eq(tl["spans_unlinked"], 4 + 40 - 31, "spans whose links do not reach the job")
    check(tl.get("tree_more", 0) == 0 and len(tl["tree"]) == 1 + 3 + 31 + 1,
          "rows: %d %r" % (len(tl["tree"]), tl.get("tree_more")))
    # the decision of the tool call never exported: still grouped under the job
    check(nest.curl in [n["span_id"] for n in tl["tree"] if n["kind"] == "group"],
          "the unexported tool call's group: %r" % tl["tree"])

    # only another trace's spans: said, and the report is what it is without
    other = write_spans(ctx, "other.jsonl", [request(Nest("x").agent_spans())])
    tl, err = model_of(ctx, sd, nest.job, "--spans", other)
    check("no spans of trace %s" % nest.trace in err, err)
    eq(len(tl["tree"]), 4, "rows with a file of another trace")

    # more spans than rows: the first REPORT_TREE_ROWS drawn, the rest fold
    many = [otlp_span(t, hexid(8), nest.agent, "tool %03d" % i, nest.at(1 + i / 1000),
                      nest.at(1.5)) for i in range(100)]
    tl, err = model_of(ctx, sd, nest.job, "--spans",
                       write_spans(ctx, "many.jsonl", [request(good + many)]))
    eq(len(tl["tree"]), 64, "rows drawn (REPORT_TREE_ROWS)")
    check(tl["tree_more"] > 0, "no tree_more: %r" % tl.get("tree_more"))
    p = report_sd(ctx, sd, nest.job, "--format", "html", "--spans", ctx.path("many.jsonl"))
    check("more spans are not drawn" in p.stdout, "the page does not say spans were left off")


def nested_page(ctx, hostile=False):
    nest = Nest("nest-h")
    sd = nest.state(ctx)
    spans = nest.agent_spans()
    if hostile:
        spans[2]["name"] = "execute_tool " + HOSTILE_HTML
    path = write_spans(ctx, "spans.jsonl", [request(spans)])
    p = report_sd(ctx, sd, nest.job, "--format", "html", "--spans", path)
    tl, _ = model_of(ctx, sd, nest.job, "--spans", path)
    page = ctx.path("nested.html")
    with open(page, "w") as f:
        f.write(p.stdout)
    return nest, p.stdout, page, tl


@test(timeout=240)
def test_report_html_nested_waterfall(ctx):
    chromium_exe()
    nest, html, path, tl = nested_page(ctx, hostile=True)
    pg = check_inert(html, "the nested report")
    text = "".join(pg.text)
    check(html_escaped("execute_tool " + HOSTILE_HTML)[:40] in html, "the hostile span name "
          "is not escaped")
    # the table: each span's row, then its decisions, indented a level deeper
    rows = re.findall(r'<tr class="(\w+)"><td class="n">[^<]*</td><td (?:colspan="6" )?'
                      r'class="i(\d)">(?:<code>)?([^<]*)', html)
    got = [(k, int(d), v[:30]) for k, d, v in rows]
    eq(got, [("span", 0, "egress.job"), ("allow", 1, "python3[100]"),
             ("span", 1, "invoke_agent demo-agent"),
             ("span", 2, "execute_tool npm install"), ("allow", 3, "npm[201]"),
             ("span", 2, html_escaped("execute_tool " + HOSTILE_HTML)[:30]),
             ("allow", 3, "git[202]"), ("deny", 3, "git[202]"),
             ("span", 1, "curl (span " + nest.curl[:6] + "\u2026)"), ("deny", 2, "curl[301]")],
       "the table's rows (class, indentation, first cell)")
    check("nested under the spans they are children of" in text, "the legend does not say so")
    # chromium: the marks of each tool call's process in the lane under the call
    png = ctx.path("nested.png")
    chromium(ctx, "--window-size=1200,1600", "--screenshot=" + png, "file://" + path)
    with open(png, "rb") as f:
        bpp, prows = png_rows(f.read())
    allow = sorted(marks(bpp, prows, ALLOW_RGB), key=lambda m: m[1])
    deny = sorted(marks(bpp, prows, DENY_RGB), key=lambda m: m[1])
    ay = sorted({y for _, y in allow})
    dy = sorted({y for _, y in deny})
    # rows: 0 job, 1 python3, 2 agent, 3 npm call, 4 npm, 5 git call, 6 git, 7 curl group, 8 curl
    eq(len(ay), 3, "allow marks in three lanes: %r" % allow)
    eq([y - ay[0] for y in ay], [0, 3 * 28, 5 * 28], "the allow marks' lanes (python3, npm, git)")
    eq([y - ay[0] for y in dy], [5 * 28 + 11, 7 * 28 + 11], "the deny marks' lanes (git, curl)")


@test(timeout=30)
def test_report_spans_documented(ctx):
    """--spans is in egressctl report --help, egressctl(1) and the README."""
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    p = subprocess.run([os.path.join(ctx.build, "egressctl"), "report", "--help"],
                       capture_output=True, text=True, timeout=30)
    check("--spans" in p.stdout, "egressctl report --help: %s" % p.stdout)
    with open(os.path.join(repo, "deploy", "man", "egressctl.1")) as f:
        man = f.read().replace("\\-", "-")
    check("--spans" in man, "egressctl(1) does not document report --spans")
    with open(os.path.join(repo, "README.md")) as f:
        readme = f.read()
    check("--spans FILE" in readme, "the README does not document report --spans")
