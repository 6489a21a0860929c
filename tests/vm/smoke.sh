#!/bin/sh
# The first thing `make vmtest` runs inside the VM (tests/vm/run.py):
#
#   tests/vm/smoke.sh [BUILD]
#
# Checks that the guest is what the fence needs (BPF LSM active, cgroup2 and
# bpffs mounted, the kernel offering lsm programs), then starts BUILD/egressd
# (default build/normal) with its own dirs, asks `egressctl status --json`
# which tamper protection and socket hook it chose, stops it and prints its
# log lines about BPF LSM, the guard and libbpf. Then loads each BPF object
# (fence, tamper) with bpftool on its own and, for one the kernel refuses,
# prints the end of the verifier's log (egressd's log keeps only the first
# line of it). Exits 1 when a check fails or egressd does not start, saying
# which.
set -eu
build=${1:-build/normal}

fail() {
	echo "smoke: FAIL: $*"
	exit 1
}

echo "smoke: kernel $(uname -r)"
lsm=$(cat /sys/kernel/security/lsm)
echo "smoke: active LSMs: $lsm"
case ",$lsm," in
*,bpf,*) ;;
*) fail "bpf is not an active LSM" ;;
esac
for m in /sys/fs/cgroup:cgroup2 /sys/fs/bpf:bpf; do
	t=$(findmnt -n -o FSTYPE "${m%%:*}") || t=none
	[ "$t" = "${m#*:}" ] || fail "${m%%:*} is $t, not ${m#*:}"
	echo "smoke: ${m%%:*} is ${m#*:}"
done
[ -r /sys/kernel/btf/vmlinux ] || fail "no /sys/kernel/btf/vmlinux"
probe=$(bpftool feature probe kernel 2>/dev/null | grep 'program_type lsm') || true
echo "smoke: bpftool: $probe"
echo "$probe" | grep -q "eBPF program_type lsm is available" || fail "no lsm program type"

[ -x "$build/egressd" ] || fail "$build/egressd is missing (make first)"
dir=$(mktemp -d /tmp/smoke.XXXXXX)
mkdir -p "$dir/policies" "$dir/state" "$dir/run"
export EGRESSCTL_SOCKET="$dir/run/control.sock"
dirs="--policy-dir $dir/policies --state-dir $dir/state --run-dir $dir/run
	--cgroup-root /sys/fs/cgroup/egress-fence-smoke --bpffs-dir /sys/fs/bpf/egress-fence-smoke"
# shellcheck disable=SC2086 # $dirs: words on purpose (mktemp's name has no spaces)
"$build/egressd" $dirs >"$dir/egressd.log" 2>&1 &
pid=$!
t0=$(date +%s)
started=no
until "$build/egressctl" status --json >"$dir/status.json" 2>/dev/null; do
	if ! kill -0 "$pid" 2>/dev/null || [ $(($(date +%s) - t0)) -ge 300 ]; then
		break
	fi
	sleep 1
done
if [ -s "$dir/status.json" ]; then
	started=yes
	echo "smoke: egressd answered status after $(($(date +%s) - t0)) s"
	python3 -c '
import json, sys
st = json.load(open(sys.argv[1]))
for k in ("tamper_protection", "socket_hook"):
    print("smoke: status %s: %s" % (k, json.dumps(st.get(k))))
' "$dir/status.json"
	kill "$pid"
else
	echo "smoke: egressd did not answer status within $(($(date +%s) - t0)) s"
	kill "$pid" 2>/dev/null || true
fi
wait "$pid" || true
echo "smoke: egressd log, lines about lsm/tamper/guard/libbpf:"
grep -iE 'lsm|tamper|guard|libbpf|verifier|socket|error' "$dir/egressd.log" | sed 's/^/  /' || true
# shellcheck disable=SC2086
"$build/egressd" --reset --force $dirs >/dev/null 2>&1 || true

for obj in fence tamper; do
	pins=/sys/fs/bpf/smoke-$obj
	mkdir -p "$pins"
	if bpftool prog loadall "$build/$obj.bpf.o" "$pins" >"$dir/$obj.log" 2>&1; then
		echo "smoke: $obj.bpf.o: every program loads"
	else
		echo "smoke: $obj.bpf.o: refused; the verifier's log ends:"
		grep -B12 -m1 'END PROG LOAD LOG' "$dir/$obj.log" | sed 's/^/  /' || tail -5 "$dir/$obj.log"
	fi
	rm -rf "$pins"
done
[ "$started" = yes ] || fail "egressd did not start"
echo "smoke: ok"
