#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Before a CI job: is the egress-fence up on this runner? Exit 0 and print
# the fence's state if egressd answers; otherwise fail the job at once,
# saying why, rather than minutes later at the first fenced step.
#
#   GitHub Actions runner (.env in the runner's directory):
#     ACTIONS_RUNNER_HOOK_JOB_STARTED=/usr/local/libexec/egress-fence/egress-fence-check.sh
#   GitLab Runner (config.toml, [[runners]]):
#     pre_build_script = "/usr/local/libexec/egress-fence/egress-fence-check.sh"
# (where `make install` puts it: LIBEXECDIR/egress-fence, PREFIX/libexec by
# default)
#
# EGRESSCTL names the egressctl binary (default: egressctl in PATH);
# EGRESSCTL_SOCKET, if set, is egressctl's control socket.
# EGRESS_FENCE_REQUIRE_BPF_LSM=true also fails the job unless egressd
# reports its tamper protection enforced by BPF LSM.
set -u -o pipefail

prog=egress-fence

if [[ ${GITHUB_ACTIONS:-} == true ]]; then
	ci=github
elif [[ ${GITLAB_CI:-} == true ]]; then
	ci=gitlab
else
	ci=none
fi
runner=${RUNNER_NAME:-${CI_RUNNER_DESCRIPTION:-$HOSTNAME}}

fail() {
	local msg="$* The job is stopped before it runs anything unfenced."

	case $ci in
	github)
		msg=${msg//'%'/'%25'}
		msg=${msg//$'\n'/'%0A'}
		printf '::error title=%s::%s\n' "$prog" "$msg"
		;;
	gitlab) printf '\033[31;1mERROR: %s: %s\033[0m\n' "$prog" "$msg" >&2 ;;
	*) printf '%s: error: %s\n' "$prog" "$msg" >&2 ;;
	esac
	exit 1
}

# A scalar of `egressctl status --json` (cJSON's layout: one key per line,
# a top-level key indented by one tab, a member of a top-level object by
# two): `get KEY` or `get OBJECT KEY`. Strings lose their quotes; a missing
# key or a value that is not a scalar prints nothing.
get() {
	awk -v obj="${2:+$1}" -v key="${2:-$1}" '
		function val(line) {
			sub(/^[^:]*:[ \t]*/, "", line)
			sub(/,[ \t]*$/, "", line)
			if (line ~ /^[\[{]/)
				return ""
			gsub(/^"|"$/, "", line)
			return line
		}
		obj == "" && index($0, "\t\"" key "\":") == 1 { print val($0); exit }
		obj != "" && index($0, "\t\"" obj "\":") == 1 { inside = 1; next }
		inside && /^\t[^\t]/ { inside = 0 }
		inside && index($0, "\t\t\"" key "\":") == 1 { print val($0); exit }
	' <<<"$status"
}

egressctl=${EGRESSCTL:-egressctl}
command -v -- "$egressctl" >/dev/null ||
	fail "$egressctl is not installed on runner $runner (PATH=$PATH)."

if ! status=$("$egressctl" status --json 2>&1); then
	fail "egressd is not reachable on runner $runner: the fence is down (${status//$'\n'/ }). On the runner: systemctl status egressd; journalctl -u egressd."
fi
[[ $(get ok) == true ]] || fail "egressd on runner $runner gave an unexpected status: ${status:0:300}"

# Tamper protection: read defensively, egressd may be older than this
# script. "tamper_protection": {"bpf_lsm": true|false, "mode": ...}, or a
# plain boolean; anything else is "unknown".
v=$(get tamper_protection)
[[ -n $v ]] || v=$(get tamper_protection bpf_lsm)
mode=$(get tamper_protection mode)
case $v in
true) tamper="BPF LSM active" ;;
false) tamper="BPF LSM inactive${mode:+ (mode $mode)}" ;;
*) tamper=unknown ;;
esac

lsm=$(get bpf_lsm)
case $lsm in
true) sockets="BPF LSM (every socket family)" ;;
false) sockets="cgroup/sock_create + seccomp (BPF LSM off)" ;;
*) sockets=unknown ;;
esac
export_state=$(get export state)
if [[ $(get export enabled) == true ]]; then
	export_line="$(get export endpoint) (${export_state:-unknown})"
else
	export_line="off (journal only)"
fi

printf '%s: the fence is up on runner %s\n' "$prog" "$runner"
printf '  %-18s %s\n' \
	egressd "$(get version), pid $(get pid), up $(get uptime_s)s" \
	"running jobs" "$(get jobs)" \
	"socket checks" "$sockets" \
	"tamper protection" "$tamper" \
	"span export" "$export_line"

if [[ ${EGRESS_FENCE_REQUIRE_BPF_LSM:-} == true && $v != true ]]; then
	fail "tamper protection on runner $runner: $tamper, and EGRESS_FENCE_REQUIRE_BPF_LSM=true."
fi
exit 0
