#!/usr/bin/python3
"""make demo: a demo agent job, fenced with the built-in defaults.

Builds a small world with no route out (two network namespaces joined by a
veth pair: the fence's, and one of made-up hosts in 198.18.0.0/15 and
2001:db8::/32), starts egressd with its default settings but private
directories, runs deploy/demo_agent.py under deploy/policies/demo-agent.json
with `egressctl run`, and prints every decision from the journal. Leaves
nothing behind.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import world as W  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build/normal")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    if os.geteuid() != 0:
        sys.exit("make demo: run as root (BPF programs, cgroups and network namespaces)")
    W.ensure_bpffs()
    world = W.World().up()
    tmp = tempfile.mkdtemp(prefix="ef-demo-")
    pol = os.path.join(tmp, "policies")
    os.makedirs(pol)
    shutil.copy(os.path.join(HERE, "policies", "demo-agent.json"), pol)
    cfg = os.path.join(tmp, "egressd.json")
    with open(cfg, "w") as f:  # the world's resolver; the host's is never used
        json.dump({"dns": {"upstream": [W.DNS_V4]}}, f)
    dirs = ["--policy-dir", pol, "--state-dir", tmp + "/state", "--run-dir", tmp + "/run",
            "--cgroup-root", os.path.join(W.cgroup2_mount(), "ef-demo-" + world.tag),
            "--bpffs-dir", "/sys/fs/bpf/ef-demo-" + world.tag, "--config", cfg]
    sock = tmp + "/run/control.sock"
    daemon = None
    try:
        log = open(tmp + "/egressd.log", "w")
        daemon = subprocess.Popen(world.fence_argv([build + "/egressd"] + dirs), stdout=log,
                                  stderr=log, stdin=subprocess.DEVNULL)
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.1)
        print("$ egressctl run --policy demo-agent --job-id demo -- deploy/demo_agent.py")
        r = subprocess.run(world.fence_argv([build + "/egressctl", "--socket", sock, "run",
                                             "--policy", "demo-agent", "--job-id", "demo",
                                             "--attr", "gen_ai.agent.name=demo-agent", "--",
                                             W.PY, os.path.join(HERE, "demo_agent.py")]))
        print("(exit status %d)\n" % r.returncode)
        for _ in range(50):
            if any(sp["name"] == "egress.job" for sp, _ in W.journal_spans(tmp + "/state")):
                break
            time.sleep(0.2)
        print("decisions recorded by egressd (%s/state/journal, OTLP/JSON spans):" % tmp)
        print("  %-10s %-14s %-36s %-12s %s" % ("DECISION", "SPAN", "DESTINATION", "REASON",
                                                "RULE / PROCESS"))
        for sp, a in W.journal_spans(tmp + "/state"):
            if sp["name"] == "egress.job":
                continue
            if sp["name"] == "egress.probe":
                print("  %-10s %-14s %-36s %-12s %s" % (
                    "FLAGGED", sp["name"], ",".join(a.get("egress.probe.targets") or []),
                    a.get("egress.probe.reason"), "action: %s" % a.get("egress.probe.action")))
                continue
            if sp["name"] == "egress.dns":
                dest = "%s? %s" % (a.get("egress.dns.type"), a.get("dns.question.name"))
            elif "network.peer.address" in a:
                dest = "%s:%s/%s" % (a.get("server.address"), a.get("network.peer.port"),
                                     a.get("network.transport"))
            elif sp["name"] == "egress.tamper":
                dest = a.get("egress.tamper.syscall") or a.get("egress.tamper.via")
            else:
                dest = "socket(%s, %s)" % (a.get("egress.socket.family"),
                                           a.get("egress.socket.type"))
            if a.get("egress.rule"):
                last = a["egress.rule"]
            elif sp["name"] == "egress.dns":  # the proxy answered: no process
                last = "answered %s, never sent upstream" % a.get("egress.dns.rcode")
            else:
                last = "pid %s %s" % (a.get("process.pid"), a.get("process.executable.path"))
            print("  %-10s %-14s %-36s %-12s %s" % (a.get("egress.decision"), sp["name"], dest,
                                                    a.get("egress.reason"), last))
        job = [a for sp, a in W.journal_spans(tmp + "/state") if sp["name"] == "egress.job"]
        if job:
            print("\njob span: %s decisions, %s denied, flagged: %s, trace %s" % (
                job[0].get("egress.decisions"), job[0].get("egress.denied"),
                job[0].get("egress.probe.reason") or "no",
                [sp for sp, _ in W.journal_spans(tmp + "/state") if sp["name"] == "egress.job"][0]["traceId"]))
    finally:
        if daemon and daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(10)
        subprocess.run([build + "/egressd", "--reset", "--force"] + dirs, capture_output=True)
        world.down()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
