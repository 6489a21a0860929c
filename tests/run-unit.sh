#!/bin/sh
# Runs every unit test binary of a build and says which passed:
#   tests/run-unit.sh BUILD_DIR
# Exits non-zero if any failed, or if there is none to run (a build that
# produced no tests must not look like a green one).
set -u

build=${1:?usage: tests/run-unit.sh BUILD_DIR}
n=0
failed=0

for t in "$build"/tests/test_*; do
	case $t in *.d | *.o) continue ;; esac
	[ -f "$t" ] && [ -x "$t" ] || continue
	n=$((n + 1))
	name=$(basename "$t")
	if "$t"; then
		echo "PASS $name"
	else
		echo "FAIL $name (exit $?)"
		failed=$((failed + 1))
	fi
done

if [ "$n" -eq 0 ]; then
	echo "run-unit: no test binaries in $build/tests" >&2
	exit 1
fi
echo "unit: $((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
