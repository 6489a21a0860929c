#!/bin/sh
# Runs every libFuzzer target of a build for a while:
#   tests/run-fuzz.sh BUILD_DIR SECONDS
# Each BUILD_DIR/fuzz/fuzz_NAME runs for SECONDS on a scratch copy of
# tests/fuzz/corpus/NAME/ (the checked-in seeds are never rewritten). A crash,
# leak, timeout or out-of-memory fails the run; the input that caused it is
# kept in BUILD_DIR/fuzz-artifacts/NAME/.
set -u

build=${1:?usage: tests/run-fuzz.sh BUILD_DIR SECONDS}
secs=${2:-30}
root=$(cd "$(dirname "$0")/.." && pwd)
n=0
failed=0

for f in "$build"/fuzz/fuzz_*; do
	[ -f "$f" ] && [ -x "$f" ] || continue
	n=$((n + 1))
	name=$(basename "$f")
	short=${name#fuzz_}
	seeds=$root/tests/fuzz/corpus/$short
	work=$(mktemp -d "${TMPDIR:-/tmp}/ef-$name.XXXXXX") || exit 1
	mkdir "$work/corpus" "$work/artifacts"
	if [ -d "$seeds" ]; then
		cp -R "$seeds/." "$work/corpus/"
	else
		echo "run-fuzz: warning: no seed corpus $seeds" >&2
	fi
	"$f" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$work/artifacts/" "$work/corpus" >"$work/log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
	if [ "$rc" -eq 0 ]; then
		echo "PASS $name (${runs:-?} runs in ${secs}s)"
	else
		failed=$((failed + 1))
		keep=$build/fuzz-artifacts/$short
		mkdir -p "$keep"
		cp "$work"/artifacts/* "$keep/" 2>/dev/null
		tail -n 60 "$work/log"
		echo "FAIL $name (exit $rc); inputs kept in $keep/"
	fi
	rm -rf "$work"
done

if [ "$n" -eq 0 ]; then
	echo "run-fuzz: no fuzz targets in $build/fuzz" >&2
	exit 1
fi
echo "fuzz: $((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
