#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The egress-fence composite action's step (action.yml): the action's inputs
# arrive in FENCE_INPUT_* variables (never pasted into shell text, so a
# value cannot inject commands) and are handed to the shared step script,
# egress-fence-step.sh, the first found of:
#   ../../egress-fence-step.sh   this repository's layout (deploy/ci/), also
#                                as GitHub checks out OWNER/egress-fence@REF
#   LIBEXECDIR/egress-fence/     where `make install` put it on the runner
#                                host (the path is filled in at install, so
#                                a copy of the installed action in a
#                                repository's .github/actions/ finds it)
#   PATH
# Outside GitHub, set the same variables to test it.
#
#   FENCE_INPUT_POLICY, FENCE_INPUT_RUN, FENCE_INPUT_SHELL, FENCE_INPUT_JOB_ID,
#   FENCE_INPUT_ATTRS, FENCE_INPUT_WORKING_DIRECTORY
set -u

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# filled in by make install (LIBEXECDIR); not a path here, in the repository
installed='@LIBEXECDIR@/egress-fence'
places=("$here/../..")
[[ $installed == /* ]] && places+=("$installed")
step=
for d in "${places[@]}"; do
	if [[ -f $d/egress-fence-step.sh ]]; then
		step=$d/egress-fence-step.sh
		break
	fi
done
if [[ -z $step ]]; then
	step=$(command -v egress-fence-step.sh) || {
		printf -v where '%s/, ' "${places[@]}"
		echo "::error title=egress-fence::egress-fence-step.sh is not in ${where}nor in" \
			"PATH on runner ${RUNNER_NAME:-$HOSTNAME}. The step's command did not run."
		exit 125
	}
fi

args=()
[[ -n ${FENCE_INPUT_POLICY:-} ]] && args+=(--policy "$FENCE_INPUT_POLICY")
[[ -n ${FENCE_INPUT_JOB_ID:-} ]] && args+=(--job-id "$FENCE_INPUT_JOB_ID")
[[ -n ${FENCE_INPUT_ATTRS:-} ]] && args+=(--attrs "$FENCE_INPUT_ATTRS")
[[ -n ${FENCE_INPUT_WORKING_DIRECTORY:-} ]] &&
	args+=(--working-directory "$FENCE_INPUT_WORKING_DIRECTORY")
case ${FENCE_INPUT_FAIL_ON_DENY:-false} in
true) args+=(--fail-on-deny) ;;
false | "") ;;
*)
	echo "::error title=egress-fence::the fail-on-deny input must be true or false, not" \
		"\"$FENCE_INPUT_FAIL_ON_DENY\". The step's command did not run."
	exit 125
	;;
esac
case ${FENCE_INPUT_QUIET:-false} in
true) args+=(--quiet) ;;
false | "") ;;
*)
	echo "::error title=egress-fence::the quiet input must be true or false, not" \
		"\"$FENCE_INPUT_QUIET\". The step's command did not run."
	exit 125
	;;
esac
args+=(--shell "${FENCE_INPUT_SHELL:-bash}" --run "${FENCE_INPUT_RUN:-}")

# the inputs are arguments now; the fenced command need not see them
unset FENCE_INPUT_POLICY FENCE_INPUT_RUN FENCE_INPUT_SHELL FENCE_INPUT_JOB_ID \
	FENCE_INPUT_ATTRS FENCE_INPUT_WORKING_DIRECTORY FENCE_INPUT_FAIL_ON_DENY FENCE_INPUT_QUIET
exec bash "$step" "${args[@]}"
