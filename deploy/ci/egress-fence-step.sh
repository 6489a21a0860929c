#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Run one CI step under the egress-fence network fence (`egressctl run`), in
# GitHub Actions (the composite action in github/fence/ calls it) or GitLab
# CI (a job's `script:`), or anywhere else.
#
#   egress-fence-step.sh [OPTIONS] -- CMD [ARG...]
#   egress-fence-step.sh [OPTIONS] --script FILE [--shell SHELL]
#   egress-fence-step.sh [OPTIONS] --run TEXT [--shell SHELL]
#
# OPTIONS
#   --policy NAME|FILE       egressctl's --policy; none: egressd's default for
#                            the caller (access.run, else default.json)
#   --job-id ID              the fence's job id; default: one derived from the
#                            CI job (gh-RUN-ATTEMPT-JOB-XXXXXX, gl-JOBID-XXXXXX)
#   --attr KEY=VALUE         an attribute on the job's spans (repeatable)
#   --attrs TEXT             KEY=VALUE lines (blank lines and #-comments skipped)
#   --working-directory DIR  run there (a relative policy file too)
#   --script FILE            run FILE with SHELL instead of CMD
#   --run TEXT               run TEXT, a script, with SHELL instead of CMD
#   --shell SHELL            for --script and --run, as GitHub's shell: bash
#                            (default; bash --noprofile --norc -e -o pipefail),
#                            sh (sh -e), or a command with {0} for the script
#                            file ("python3 {0}", "bash -x {0}")
#   --fail-on-deny           fail the step (exit 122) when the command succeeded
#                            but anything was refused or flagged
#   --quiet                  no notices of refusals in the log
#
# After the command, the job's report (egressctl report): in GitHub Actions
# appended to $GITHUB_STEP_SUMMARY as markdown; in GitLab CI printed as a
# collapsed section of the job log, and written as JOB.json and JOB.html (a
# page with a timeline) to $EGRESS_FENCE_REPORT_DIR (default
# $CI_PROJECT_DIR/egress-fence-reports,
# the artifact path the example .gitlab-ci.yml declares). Without those
# variables nothing is written. A report that cannot be made (the runner's
# user may not read the journal: egressd's "journal": {"group"}) is said in
# one line and does not change the step's status.
#
# The CI runner's variables (GITHUB_*, CI_*, RUNNER_NAME...) and TRACEPARENT
# are left in the environment: egressctl turns them into cicd.*/vcs.*
# attributes and the job span's parent.
#
# EGRESSCTL names the egressctl binary (default: egressctl in PATH);
# EGRESSCTL_SOCKET, if set, is egressctl's control socket.
#
# Exit status: the command's. 125 when the command did not run: egressctl is
# missing, egressd is down, the policy is invalid or not permitted, or the
# options are wrong; the step then fails with an error annotation
# (GitHub: an ::error:: workflow command) saying so.
set -u -o pipefail

readonly EXIT_FENCE=125
prog=egress-fence

# Which CI, for the form of error messages and the default job id.
if [[ ${GITHUB_ACTIONS:-} == true ]]; then
	ci=github
elif [[ ${GITLAB_CI:-} == true ]]; then
	ci=gitlab
else
	ci=none
fi

info() {
	printf '%s: %s\n' "$prog" "$*" >&2
}

# An error the CI shows where people look: a GitHub annotation (workflow
# commands are read from stdout; %, CR and LF escaped), red in GitLab's log.
error() {
	local msg="$*"

	case $ci in
	github)
		msg=${msg//'%'/'%25'}
		msg=${msg//$'\r'/'%0D'}
		msg=${msg//$'\n'/'%0A'}
		printf '::error title=%s::%s\n' "$prog" "$msg"
		;;
	gitlab)
		printf '\033[31;1mERROR: %s: %s\033[0m\n' "$prog" "$msg" >&2
		;;
	*)
		printf '%s: error: %s\n' "$prog" "$msg" >&2
		;;
	esac
}

# The command did not run: say so and fail the step.
not_run() {
	error "$* The step's command did not run."
	exit "$EXIT_FENCE"
}

usage() {
	sed -n '/^#   egress-fence-step.sh/,/^# EGRESSCTL/p' "$0" | sed 's/^# \{0,1\}//; $d'
}

policy=
job_id=
workdir=
script=
run_text=
has_run=false
shell_arg=bash
cmd=()
attrs=()
run_flags=()

add_attrs_text() {
	local line n=0 key value

	while IFS= read -r line || [[ -n $line ]]; do
		n=$((n + 1))
		line=${line%$'\r'}
		# trim white space
		line=${line#"${line%%[![:space:]]*}"}
		line=${line%"${line##*[![:space:]]}"}
		[[ -z $line || $line == \#* ]] && continue
		key=${line%%=*}
		key=${key%"${key##*[![:space:]]}"}
		if [[ $line != *=* || -z $key ]]; then
			not_run "attrs line $n: want KEY=VALUE, got \"$line\"."
		fi
		value=${line#*=}
		attrs+=("$key=${value#"${value%%[![:space:]]*}"}")
	done <<<"$1"
}

need_value() {
	[[ $# -ge 2 ]] || not_run "$1 needs a value (see $0 --help)."
}

while [[ $# -gt 0 ]]; do
	case $1 in
	--policy)
		need_value "$@"
		policy=$2
		shift 2
		;;
	--job-id)
		need_value "$@"
		job_id=$2
		shift 2
		;;
	--attr)
		need_value "$@"
		[[ $2 == ?*=* ]] || not_run "--attr wants KEY=VALUE, got \"$2\"."
		attrs+=("$2")
		shift 2
		;;
	--attrs)
		need_value "$@"
		add_attrs_text "$2"
		shift 2
		;;
	--working-directory)
		need_value "$@"
		workdir=$2
		shift 2
		;;
	--script)
		need_value "$@"
		script=$2
		shift 2
		;;
	--run)
		need_value "$@"
		run_text=$2
		has_run=true
		shift 2
		;;
	--shell)
		need_value "$@"
		shell_arg=$2
		shift 2
		;;
	--fail-on-deny)
		run_flags+=("$1")
		shift
		;;
	--quiet)
		run_flags+=("$1")
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	--)
		shift
		cmd=("$@")
		break
		;;
	*)
		not_run "unknown option \"$1\" (see $0 --help)."
		;;
	esac
done

# The marker and a --run script live here, removed at exit (in GitHub
# Actions under RUNNER_TEMP, which the runner empties after each job anyway).
tmp=$(mktemp -d "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/egress-fence.XXXXXX") ||
	not_run "cannot create a temporary directory."
trap 'rm -rf -- "$tmp"' EXIT

if $has_run; then
	[[ -z $script ]] || not_run "give --run TEXT or --script FILE, not both."
	# (GitHub does not enforce a composite action's required inputs)
	[[ $run_text == *[![:space:]]* ]] || not_run "nothing to run: the script (--run, the action's run input) is empty."
	script=$tmp/step
	printf '%s\n' "$run_text" >"$script" || not_run "cannot write the step's script to $script."
fi
if [[ -n $script ]]; then
	[[ ${#cmd[@]} -eq 0 ]] || not_run "give --script FILE (or --run TEXT) or -- CMD, not both."
	[[ -r $script ]] || not_run "cannot read the script $script."
	[[ $script == /* ]] || script=$PWD/$script # --working-directory comes next
	case $shell_arg in
	bash) cmd=(bash --noprofile --norc -e -o pipefail "$script") ;;
	sh) cmd=(sh -e "$script") ;;
	*'{0}'*)
		read -r -a cmd <<<"$shell_arg"
		for i in "${!cmd[@]}"; do
			cmd[i]=${cmd[i]//\{0\}/$script}
		done
		;;
	*) not_run "shell \"$shell_arg\" is not supported: bash, sh, or a command with {0} for the script file (\"python3 {0}\")." ;;
	esac
fi
[[ ${#cmd[@]} -gt 0 ]] || not_run "no command: give -- CMD [ARG...] or --script FILE (see $0 --help)."

if [[ -n $workdir ]]; then
	cd -- "$workdir" || not_run "cannot change to the working directory $workdir."
fi

egressctl=${EGRESSCTL:-egressctl}
if ! command -v -- "$egressctl" >/dev/null; then
	not_run "$egressctl not found (PATH=$PATH): is egress-fence installed on runner ${RUNNER_NAME:-${CI_RUNNER_DESCRIPTION:-$HOSTNAME}}?"
fi

# A job id that says which CI job a fenced job belongs to (egressctl jobs,
# egressctl audit --job), unique per step: [A-Za-z0-9._-], at most 64.
if [[ -z $job_id ]]; then
	case $ci in
	github) job_id="gh-${GITHUB_RUN_ID:-0}-${GITHUB_RUN_ATTEMPT:-1}-${GITHUB_JOB:-job}" ;;
	gitlab) job_id="gl-${CI_JOB_ID:-0}" ;;
	*) job_id="step" ;;
	esac
	suffix=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
	job_id=$(printf '%s' "$job_id" | tr -c 'A-Za-z0-9._-' '-' | cut -c1-57)-$suffix
fi

if [[ $ci == github && -n ${GITHUB_OUTPUT:-} ]]; then
	printf 'job-id=%s\n' "$job_id" >>"$GITHUB_OUTPUT"
fi

args=(run --job-id "$job_id" "${run_flags[@]}")
[[ -n $policy ]] && args+=(--policy "$policy")
for a in "${attrs[@]}"; do
	args+=(--attr "$a")
done

# The job's report where the CI shows it (see the header). A report that
# cannot be made is said, never the step's failure.
report() {
	local out dir fmt

	case $ci in
	github)
		[[ -n ${GITHUB_STEP_SUMMARY:-} ]] || return 0
		if out=$("$egressctl" report "$job_id" --format markdown 2>"$tmp/report.err"); then
			printf '%s\n' "$out" >>"$GITHUB_STEP_SUMMARY" ||
				info "cannot append the report to GITHUB_STEP_SUMMARY ($GITHUB_STEP_SUMMARY)."
		else
			info "no report of job $job_id: $(head -c 300 "$tmp/report.err")"
		fi
		;;
	gitlab)
		if out=$("$egressctl" report "$job_id" 2>"$tmp/report.err"); then
			# a collapsed section of the job log (GitLab's section markers),
			# on stderr: the step's stdout may be redirected to a file
			{
				printf '\033[0Ksection_start:%s:egress_fence_report[collapsed=true]\r\033[0K%s\n' \
					"$(date +%s)" "egress-fence: report of job $job_id"
				printf '%s\n' "$out"
				printf '\033[0Ksection_end:%s:egress_fence_report\r\033[0K\n' "$(date +%s)"
			} >&2
		else
			info "no report of job $job_id: $(head -c 300 "$tmp/report.err")"
			return 0
		fi
		dir=${EGRESS_FENCE_REPORT_DIR:-${CI_PROJECT_DIR:+$CI_PROJECT_DIR/egress-fence-reports}}
		[[ -n $dir ]] || return 0
		mkdir -p -- "$dir" || {
			info "cannot create the report directory $dir."
			return 0
		}
		for fmt in json html; do
			"$egressctl" report "$job_id" --format "$fmt" >"$dir/$job_id.$fmt" 2>"$tmp/report.err" ||
				info "cannot write the report to $dir/$job_id.$fmt: $(head -c 300 "$tmp/report.err")"
		done
		;;
	esac
	return 0
}

# The command writes this file first thing, from inside the fence: if it is
# missing after a 125, the 125 was egressctl's (the fence was not set up),
# not the command's own.
marker=$tmp/started

info "fencing the step as job $job_id, policy ${policy:-"(egressd's default)"}"

# In the background so that this shell can forward a cancellation (the runner
# may signal only this process) and report afterwards. A background job of a
# non-interactive shell may start with SIGINT and SIGQUIT ignored and stdin
# on /dev/null: both are put back, so the command sees what it would unfenced.
(
	trap - INT QUIT
	# shellcheck disable=SC2016 # $0 and $@ are the inner sh's
	exec "$egressctl" "${args[@]}" -- /bin/sh -c ': >"$0"; exec "$@"' "$marker" "${cmd[@]}"
) <&0 &
child=$!
interrupted=false
for sig in INT TERM HUP; do
	# shellcheck disable=SC2064 # expand now: the signal's name
	trap "interrupted=true; kill -s $sig $child 2>/dev/null" "$sig"
done

# A trapped signal makes wait return at once (128+N): then wait again for
# the command's own status, which bash keeps for us even if the command
# has ended meanwhile. 127 with the command gone means the signal came just
# after its status was collected: keep that status.
wait "$child"
rc=$?
while $interrupted; do
	interrupted=false
	wait "$child" 2>/dev/null
	r=$?
	if [[ $r -eq 127 ]] && ! kill -0 "$child" 2>/dev/null; then
		break
	fi
	rc=$r
done
trap - INT TERM HUP

if [[ $rc -eq $EXIT_FENCE && ! -e $marker ]]; then
	where=${RUNNER_NAME:-${CI_RUNNER_DESCRIPTION:-$HOSTNAME}}
	not_run "the fence could not be set up (egressctl exited 125: egressd unreachable, or the policy ${policy:-(default)} invalid or not permitted; egressctl's message is above; check \`egressctl status\` on runner $where)."
fi
report
exit "$rc"
