#!/usr/bin/env bash
# The whole suite, as `make test` and CI run it:
#
#   tests/run-all.sh [BUILD]        (BUILD defaults to build/normal)
#
# runs, in order,
#   1. tests/run-unit.sh BUILD                      one PASS/FAIL line per unit binary
#   2. tests/run-fuzz.sh BUILD ${FUZZ_SECONDS:-30}  one PASS/FAIL line per fuzz target
#   3. tests/integration/run.py --build BUILD       one PASS/FAIL line per test (root,
#                                                   BPF, cgroup2 needed: FAILs without)
#   4. tests/security/run.py --build BUILD          one PASS/FAIL line per attack vector
#                                                   and user (the adversarial suite;
#                                                   same needs as 3)
# and counts every "PASS ..." and "FAIL ..." line of the four. A part that exits
# non-zero without printing a FAIL line, or that is missing, counts as one
# failure. The parts' own summary lines are folded into one per part, so the
# output ends with exactly one line "N passed, N failed". Exit status 1 if
# anything failed.
set -u
set -o pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build/normal}
case $build in
/*) ;;
*) [ -d "$build" ] && build="$PWD/$build" || build="$root/$build" ;;
esac
cd "$root" || exit 1

py=/usr/bin/python3
[ -x "$py" ] || py=python3

total_pass=0
total_fail=0
out=$(mktemp -t ef-run-all.XXXXXX)
trap 'rm -f "$out"' EXIT

# part NAME CMD...: run, stream output (minus its summary line), count.
part() {
	local name=$1
	shift
	echo "== $name: $*"
	"$@" 2>&1 </dev/null | tee "$out" | grep --line-buffered -Ev '^([a-z-]+: )?[0-9]+ passed, [0-9]+ failed$'
	local rc=${PIPESTATUS[0]}
	local p f
	p=$(grep -cE '^PASS( |$)' "$out")
	f=$(grep -cE '^FAIL( |$)' "$out")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $name: exited with status $rc without a FAIL line"
		f=1
	fi
	echo "== $name: $p pass, $f fail (exit $rc)"
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
}

# missing NAME PATH: a part whose script is not there is a failure, not a skip
missing() {
	echo "FAIL $1: $2 is missing"
	total_fail=$((total_fail + 1))
}

if [ -f tests/run-unit.sh ]; then
	part unit bash tests/run-unit.sh "$build"
else
	missing unit tests/run-unit.sh
fi

if [ -f tests/run-fuzz.sh ]; then
	part fuzz bash tests/run-fuzz.sh "$build" "${FUZZ_SECONDS:-30}"
else
	missing fuzz tests/run-fuzz.sh
fi

if [ -f tests/integration/run.py ]; then
	part integration "$py" tests/integration/run.py --build "$build"
else
	missing integration tests/integration/run.py
fi

if [ -f tests/security/run.py ]; then
	part security "$py" tests/security/run.py --build "$build"
else
	missing security tests/security/run.py
fi

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
