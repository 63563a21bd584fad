#!/usr/bin/env bash
# The action's audit step (action.yml runs it; tests/test_ci_integrations.py runs it too).
# Writes the SARIF report, and `exit-code` and `sarif` (whether a report exists) to
# $GITHUB_OUTPUT; it always exits 0 itself, so that the upload runs before the job fails.
set -euo pipefail

: "${INPUT_PATHS:=.}"
: "${INPUT_FAIL_ON:=high}"
: "${INPUT_SARIF_FILE:=secrets-audit.sarif}"
: "${GITHUB_OUTPUT:=/dev/null}"

secrets_bin=secrets
if [[ "${INPUT_SKIP_INSTALL:-false}" != "true" ]]; then
  # A private virtualenv: nothing installed into, or changed for, the job's later steps.
  venv="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/envsecrets-audit-venv"
  "${INPUT_PYTHON:-python3}" -m venv "${venv}"
  "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check \
    "${INPUT_PACKAGE:-${ACTION_ROOT:?}}"
  secrets_bin="${venv}/bin/secrets"
fi

# Paths separated by spaces or newlines (`paths: |` in YAML gives one a line); never globbed.
paths=()
while read -r -a line; do
  paths+=("${line[@]}")
done <<< "${INPUT_PATHS}"
if [[ ${#paths[@]} -eq 0 ]]; then
  paths=(.)
fi
set +e
"${secrets_bin}" audit "${paths[@]}" --format sarif --fail-on "${INPUT_FAIL_ON}" > "${INPUT_SARIF_FILE}"
code=$?
set -e

if [[ ${code} -le 1 ]]; then
  echo "sarif=true" >> "${GITHUB_OUTPUT}"
else
  # Bad input or an AWS error: there is no report to upload; stderr said why.
  rm -f "${INPUT_SARIF_FILE}"
  echo "sarif=false" >> "${GITHUB_OUTPUT}"
  echo "::error title=secrets audit::the audit could not run (exit ${code})"
fi
echo "exit-code=${code}" >> "${GITHUB_OUTPUT}"
