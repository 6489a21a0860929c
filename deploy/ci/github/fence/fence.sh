#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The egress-fence composite action's step (action.yml): the action's inputs
# arrive in FENCE_INPUT_* variables (never pasted into shell text, so a
# value cannot inject commands) and are handed to the shared step script,
# ../../egress-fence-step.sh, else egress-fence-step.sh in PATH (installed on
# the runner host). Outside GitHub, set the same variables to test it.
#
#   FENCE_INPUT_POLICY, FENCE_INPUT_RUN, FENCE_INPUT_SHELL, FENCE_INPUT_JOB_ID,
#   FENCE_INPUT_ATTRS, FENCE_INPUT_WORKING_DIRECTORY
set -u

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
step=$here/../../egress-fence-step.sh
if [[ ! -f $step ]]; then
	step=$(command -v egress-fence-step.sh) || {
		echo "::error title=egress-fence::egress-fence-step.sh is neither beside the action" \
			"($here/../../) nor in PATH on runner ${RUNNER_NAME:-$HOSTNAME}." \
			"The step's command did not run."
		exit 125
	}
fi

args=()
[[ -n ${FENCE_INPUT_POLICY:-} ]] && args+=(--policy "$FENCE_INPUT_POLICY")
[[ -n ${FENCE_INPUT_JOB_ID:-} ]] && args+=(--job-id "$FENCE_INPUT_JOB_ID")
[[ -n ${FENCE_INPUT_ATTRS:-} ]] && args+=(--attrs "$FENCE_INPUT_ATTRS")
[[ -n ${FENCE_INPUT_WORKING_DIRECTORY:-} ]] &&
	args+=(--working-directory "$FENCE_INPUT_WORKING_DIRECTORY")
args+=(--shell "${FENCE_INPUT_SHELL:-bash}" --run "${FENCE_INPUT_RUN:-}")

# the inputs are arguments now; the fenced command need not see them
unset FENCE_INPUT_POLICY FENCE_INPUT_RUN FENCE_INPUT_SHELL FENCE_INPUT_JOB_ID \
	FENCE_INPUT_ATTRS FENCE_INPUT_WORKING_DIRECTORY
exec bash "$step" "${args[@]}"
