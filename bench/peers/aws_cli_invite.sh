#!/usr/bin/env bash
# aws_cli_invite.sh: what admins script today: the AWS CLI v2, one `aws chime invite-users` per
# 50-address batch, GNU parallel running JOBS of them at once, retries left to the CLI's defaults.
#
#   bench/peers/aws_cli_invite.sh ENDPOINT_URL CA_BUNDLE BATCHES_FILE [JOBS=16]
#
# BATCHES_FILE: one batch a line, "ACCOUNT ADDRESS ADDRESS ..." (space-separated). Prints one line,
# "batches B ok K failed F", and leaves parallel's job log beside BATCHES_FILE (.joblog).
set -euo pipefail
url=$1 ca=$2 batches=$3 jobs=${4:-16}
export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
export AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export AWS_PAGER="" URL=$url CA=$ca

# one_batch: its single argument is a batches line; word splitting makes the account and the list.
one_batch() {
  # shellcheck disable=SC2086
  set -- $1
  local account=$1
  shift
  /usr/bin/aws chime invite-users --endpoint-url "$URL" --ca-bundle "$CA" \
    --account-id "$account" --user-email-list "$@" --output json > /dev/null
}
export -f one_batch

parallel -j "$jobs" --halt never --joblog "$batches.joblog" -a "$batches" one_batch {} \
  2> "$batches.stderr" || true
awk 'NR > 1 { n++; if ($7 == 0) ok++ } END { printf "batches %d ok %d failed %d\n", n, ok, n - ok }' \
  "$batches.joblog"
