#!/usr/bin/env bash
# In-doubt resume (issue 25, "per-API limits"): an account of USERS users and the journal of a
# crashed run with BATCHES batches of 50 in doubt (the first half applied before the crash, the
# second half not), resumed with default flags against the emulator with one bucket per API
# (ListUsers and InviteUsers limited apart, RATE requests/s each unless EMU_LIMITS says
# otherwise). Prints the resume's requests, throttled answers and seconds, and checks the
# ledger: the absent addresses applied once, nobody twice. Not run in CI.
#
# The crash is written by bench_make_in_doubt_journal (intents, no outcomes: what a kill -9
# leaves of batches in flight) so that exactly BATCHES batches are in doubt.
#
#   bench/in_doubt_resume.sh [BUILD_DIR] [CLI]      # CLI: another chime-onboard to compare
#   USERS=10000 BATCHES=100 RATE=10 EMU_LIMITS="--api-rate ListUsers=10" bench/in_doubt_resume.sh
set -euo pipefail
build=${1:-build/release}
cli=${2:-$build/engine/chime-onboard}
emu=$build/emulator/chime-emulator
make_journal=$build/bench/bench_make_in_doubt_journal
users=${USERS:-10000}
batches=${BATCHES:-100}
rate=${RATE:-10}
in_doubt=$((batches * 50))
applied=$((in_doubt / 2))
work=$(mktemp -d)
emu_pid=
trap '[ -n "$emu_pid" ] && kill $emu_pid 2>/dev/null; rm -rf "$work"' EXIT

# Users of the account before the crash: others, then the in-doubt addresses that were applied.
awk -v n=$((users - applied)) 'BEGIN { for (i = 0; i < n; i++) printf "other%06d@example.com\n", i }' > "$work/seed.txt"
awk -v n=$applied 'BEGIN { for (i = 0; i < n; i++) printf "applied%06d@example.com\n", i }' > "$work/applied.txt"
awk -v n=$((in_doubt - applied)) 'BEGIN { for (i = 0; i < n; i++) printf "unapplied%06d@example.com\n", i }' > "$work/unapplied.txt"
cat "$work/applied.txt" >> "$work/seed.txt"
cat "$work/applied.txt" "$work/unapplied.txt" > "$work/users.txt"

emu_cmd=("$emu" --listen 127.0.0.1:0 --write-ca "$work/ca.pem" --accounts acct-1
  --throttle-scope api --rate "$rate" ${EMU_LIMITS:-} --ledger "$work/ledger.tsv")
echo "emulator: ${emu_cmd[*]}"
"${emu_cmd[@]}" > "$work/emu.out" 2>&1 &
emu_pid=$!
for _ in $(seq 50); do grep -q listening "$work/emu.out" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$work/emu.out")
stat() { curl -s --cacert "$work/ca.pem" "$url/_emulator/stats" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
common=(--yes --account-id acct-1 --endpoint-url "$url" --ca-bundle "$work/ca.pem" --progress off --output json)
echo "seed: $users users"
"$cli" invite "${common[@]}" --input "$work/seed.txt" --journal "$work/seed.journal" > /dev/null 2> "$work/seed.err"

"$make_journal" "$work/crashed.journal" acct-1 < "$work/users.txt"
req0=$(stat requests) thr0=$(stat throttled)
resume=("$cli" invite "${common[@]}" --input "$work/users.txt" --journal "$work/crashed.journal"
  --report "$work/report.csv")
echo "resume: ${resume[*]}"
start=$(date +%s.%N)
"${resume[@]}" > "$work/summary.json" 2> "$work/resume.err" && rc=0 || rc=$?
secs=$(echo "$(date +%s.%N) - $start" | bc)
req1=$(stat requests) thr1=$(stat throttled)
kill -TERM $emu_pid; wait $emu_pid || true
emu_pid=

twice=$(awk -F'\t' '$1 == "invite" { n[$3]++ } END { t = 0; for (a in n) if (n[a] > 1) t++; print t }' "$work/ledger.tsv")
unapplied_once=$(awk -F'\t' '$1 == "invite" && $3 ~ /^unapplied/ { n++ } END { print n + 0 }' "$work/ledger.tsv")
printf 'exit %s | %d users, %d batches in doubt (%d addresses, %d applied) | resume: %.1f s, %d requests, %d throttled | ledger: %d of %d absent applied, %d twice\n' \
  "$rc" "$users" "$batches" "$in_doubt" "$applied" "$secs" $((req1 - req0)) $((thr1 - thr0)) \
  "$unapplied_once" $((in_doubt - applied)) "$twice"
grep -i "in doubt by an earlier run" "$work/resume.err" || true
