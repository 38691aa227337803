#!/usr/bin/env bash
# Soak: N addresses (default 1,000,000) through `chime-onboard invite` against the emulator with
# faults on (503s, dropped connections, throttling). Samples the engine's resident memory and open
# file descriptors every second, then checks the emulator's ledger: every address applied, none
# twice. Not run in CI (it takes minutes); results go to bench/RESULTS.md.
#
#   bench/soak.sh [BUILD_DIR] [ADDRESSES]
#
# Environment: SOAK_RATE (emulator limit, default 2000/s), SOAK_FLAGS (the engine's pacing flags,
# default --connections 16; empty for the engine's defaults), SOAK_KEEP (set: keep the work folder
# and print its path, to look at the journal or profile the re-run). After the check it prints
# the journal's bytes per address, the run's peak resident memory (the kernel's high-water mark,
# which a once-a-second sample can miss at the very end) and the time of an immediate re-run of
# the same command (all done), with its own peak.
set -euo pipefail
build=${1:-build/release}
n=${2:-1000000}
cli=$build/engine/chime-onboard
emu=$build/emulator/chime-emulator
work=$(mktemp -d)
if [[ -n ${SOAK_KEEP:-} ]]; then
  trap 'kill $emu_pid 2>/dev/null || true; echo "work folder kept: $work"' EXIT
else
  trap 'kill $emu_pid 2>/dev/null || true; rm -rf "$work"' EXIT
fi

awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) printf "soak%07d@example.com\n", i }' > "$work/users.txt"

"$emu" --listen 127.0.0.1:0 --write-ca "$work/ca.pem" --accounts soak --rate "${SOAK_RATE:-2000}" --burst "${SOAK_RATE:-2000}" \
  --p503 0.01 --p-drop 0.001 --seed 5 --ledger "$work/ledger.tsv" > "$work/emu.out" 2>&1 &
emu_pid=$!
for _ in $(seq 50); do grep -q listening "$work/emu.out" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$work/emu.out")

export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
start=$(date +%s.%N)
/usr/bin/time -f %M -o "$work/peak_kib" \
  "$cli" invite --yes --account-id soak --input "$work/users.txt" --endpoint-url "$url" \
  --ca-bundle "$work/ca.pem" ${SOAK_FLAGS---connections 16} --progress off --output json \
  --journal "$work/soak.journal" > "$work/summary.json" 2> "$work/engine.err" &
pid=$!
# The engine is time(1)'s child: its memory and descriptors are sampled.
engine=
for _ in $(seq 50); do engine=$(pgrep -P $pid || true); [[ -n $engine ]] && break; sleep 0.02; done

echo "t_s rss_mib fds"
while kill -0 $pid 2>/dev/null; do
  rss=$(awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' /proc/$engine/status 2>/dev/null || echo -)
  fds=$(ls /proc/$engine/fd 2>/dev/null | wc -l)
  printf '%.0f %s %s\n' "$(echo "$(date +%s.%N) - $start" | bc)" "$rss" "$fds"
  sleep 1
done
wait $pid && rc=0 || rc=$?
kill -TERM $emu_pid; wait $emu_pid || true

echo "exit code: $rc"
cat "$work/summary.json"
applied=$(grep -c '^invite' "$work/ledger.tsv" || true)
unique=$(cut -f3 "$work/ledger.tsv" | sort -u | wc -l)
echo "ledger: $applied applied, $unique unique, expected $n"
journal_bytes=$(cat "$work"/soak*.journal | wc -c)
echo "journal: $journal_bytes bytes, $(echo "scale=1; $journal_bytes / $n" | bc) bytes per address"
echo "peak RSS: $(echo "scale=1; $(tail -1 "$work/peak_kib") / 1024" | bc) MiB"
"$emu" --listen 127.0.0.1:0 --write-ca "$work/ca2.pem" --accounts soak > "$work/emu2.out" 2>&1 &
emu_pid=$!
for _ in $(seq 50); do grep -q listening "$work/emu2.out" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$work/emu2.out")
start=$(date +%s.%N)
/usr/bin/time -f %M -o "$work/rerun_peak_kib" \
  "$cli" invite --yes --account-id soak --input "$work/users.txt" --endpoint-url "$url" \
  --ca-bundle "$work/ca2.pem" ${SOAK_FLAGS---connections 16} --progress off --output json \
  --journal "$work/soak.journal" > "$work/rerun.json" 2>> "$work/engine.err" && rerun_rc=0 || rerun_rc=$?
echo "re-run (all done): $(echo "$(date +%s.%N) - $start" | bc) s, exit code $rerun_rc," \
  "peak RSS $(echo "scale=1; $(tail -1 "$work/rerun_peak_kib") / 1024" | bc) MiB"
kill -TERM $emu_pid; wait $emu_pid || true
[[ $unique -eq $n && $applied -eq $n ]] && echo "soak: OK (nothing lost, nobody twice)" || {
  echo "soak: FAILED"; exit 1; }
