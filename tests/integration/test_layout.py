"""The source tree as README "Layout" describes it: egressd's parts are a
tree a reader can draw (each part includes only parts below it, and only
their interface header), and no source file has grown past ~800 lines
(../shared/STYLE.md). Read from the source, so a change that breaks either
fails here, with the file and line that did."""

import glob
import os
import re

from harness import test, check, REPO

# egressd's parts, bottom to top (README "Layout"). "state" is egressd.h,
# the daemon's state every part above it shares; "main" is main.c, which
# wires the parts together. A call upward goes through egressd.h's struct
# ef_upcalls, never through an include.
PARTS = ["lib", "export", "state", "registry", "loader", "spans", "access", "notices",
         "probe", "policies", "dns", "tamper", "docker", "decisions", "jobs",
         "policy_change", "control", "main"]

# Sources whose length this test holds to STYLE.md's ~800 lines.
SOURCE_GLOBS = ["daemon/**/*.[ch]", "cli/*.[ch]", "policy/*.[ch]", "bpf/**/*.[ch]",
                "lsm/*.[ch]", "include/*.h", "tests/**/*.[ch]", "tests/**/*.py",
                "bench/*.py", "bench/*.c", "deploy/*.py"]
MAX_LINES = 800

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def part_of(path):
    """The part a file of daemon/ belongs to."""
    rel = os.path.relpath(path, os.path.join(REPO, "daemon"))
    if rel == "egressd.h":
        return "state"
    if rel == "main.c":
        return "main"
    return rel.split(os.sep)[0]


def included_part(inc, here):
    """The part an include names, or None for one outside daemon/ (the
    policy library, include/, generated headers, system headers)."""
    if inc == "egressd.h":
        return "state"
    first = inc.split("/")[0]
    if "/" in inc and first in PARTS:
        return first
    if "/" not in inc and os.path.exists(os.path.join(os.path.dirname(here), inc)):
        return part_of(here)  # a header of its own folder
    return None


def daemon_files():
    return sorted(glob.glob(os.path.join(REPO, "daemon", "**", "*.[ch]"), recursive=True))


@test(timeout=60)
def test_layout_daemon_parts_form_a_tree(ctx):
    """Every include of a file in part P names P itself or a part below it
    in PARTS, and a part below it only by its interface header (X/X.h, or
    any header of lib/ and export/, which are libraries)."""
    files = daemon_files()
    check(len(files) > 50, "daemon/ has only %d files: wrong tree?" % len(files))
    folders = {part_of(f) for f in files}
    unknown = folders - set(PARTS)
    check(not unknown, "parts of daemon/ not in the order of README \"Layout\" (and "
          "PARTS here): %s" % sorted(unknown))
    rank = {p: i for i, p in enumerate(PARTS)}
    bad = []
    for f in files:
        me = part_of(f)
        text = open(f, encoding="utf-8").read()
        for m in INCLUDE.finditer(text):
            inc = m.group(1)
            line = text.count("\n", 0, m.start()) + 1
            where = "%s:%d" % (os.path.relpath(f, REPO), line)
            other = included_part(inc, f)
            if other is None or other == me:
                continue
            if rank[other] > rank[me]:
                bad.append("%s: %s (part %s) includes %s, a part above it" % (
                    where, inc, me, other))
            elif other not in ("lib", "export", "state") and inc != "%s/%s.h" % (other, other):
                bad.append("%s: %s (part %s) includes a private header of %s, not %s/%s.h" % (
                    where, inc, me, other, other, other))
    check(not bad, "the parts of egressd are not a tree:\n  " + "\n  ".join(bad))


@test(timeout=60)
def test_layout_every_part_has_its_interface(ctx):
    """Each part's folder holds its interface header, named after it (lib/
    and export/ are libraries of several)."""
    missing = []
    for p in PARTS:
        if p in ("state", "main", "lib", "export"):
            continue
        h = os.path.join(REPO, "daemon", p, p + ".h")
        if not os.path.exists(h):
            missing.append(os.path.relpath(h, REPO))
    check(not missing, "parts without their interface header: %s" % missing)


@test(timeout=60)
def test_layout_no_source_file_past_800_lines(ctx):
    """STYLE.md: when a file passes ~800 lines, split it along a seam a
    reader would name."""
    long = []
    for pattern in SOURCE_GLOBS:
        for f in glob.glob(os.path.join(REPO, pattern), recursive=True):
            if "/build/" in f or "__pycache__" in f:
                continue
            with open(f, encoding="utf-8", errors="replace") as fh:
                n = sum(1 for _ in fh)
            if n > MAX_LINES:
                long.append("%s (%d lines)" % (os.path.relpath(f, REPO), n))
    check(not long, "past %d lines: %s" % (MAX_LINES, ", ".join(sorted(set(long)))))
