#!/usr/bin/env bash
# ceiling_ab.sh: the engine's ceiling, two builds alternating, to tell whether a change made the
# engine slower. Each run: 1,000,000 generated addresses, a fresh emulator (one thread, a ledger),
# --connections 32, adaptive (--rate 0) and then --fixed-rate --rate 100000 (journal batched).
# Prints one line per run: wall time (start-up and ingest included), the engine's CPU per request
# (user + sys over 20,000 requests), the emulator's CPU and the ledger's line count (1,000,000
# means nobody lost and nobody twice). Compare medians: single runs swing on a shared machine.
#
#   ROUNDS=4 bench/ceiling_ab.sh /work/base/build/release build/release
set -euo pipefail
a=$(cd "$1" && pwd)
b=$(cd "$2" && pwd)
n=1000000
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk -v n=$n 'BEGIN { for (i = 0; i < n; i++) printf "ceil%07d@example.com\n", i }' >"$tmp/c.txt"
export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_CHIME AWS_CA_BUNDLE || true
for i in $(seq "${ROUNDS:-4}"); do
  for d in "$a" "$b"; do
    for mode in adaptive fixed; do
      rm -f "$tmp/ca" "$tmp/out" "$tmp/j" "$tmp/l"
      "$d/emulator/chime-emulator" --listen 127.0.0.1:0 --threads 1 --write-ca "$tmp/ca" \
        --ledger "$tmp/l" >"$tmp/out" 2>/dev/null &
      ep=$!
      url=
      for _ in $(seq 100); do
        url=$(sed -n 's/^listening on //p' "$tmp/out" | head -1)
        [ -n "$url" ] && break
        sleep 0.1
      done
      flags=(--rate 0)
      [ "$mode" = fixed ] && flags=(--fixed-rate --rate 100000 --durability batched)
      s0=$(date +%s.%N)
      /usr/bin/time -f '%U %S' -o "$tmp/t" "$d/engine/chime-onboard" invite --yes --input "$tmp/c.txt" \
        --account-id bench --endpoint-url "$url" --ca-bundle "$tmp/ca" --journal "$tmp/j" \
        --progress off --connections 32 "${flags[@]}" >/dev/null 2>&1 || true
      s1=$(date +%s.%N)
      emu_cpu=$(awk '{print ($14 + $15) / 100}' "/proc/$ep/stat")
      kill -TERM "$ep"
      wait "$ep" || true
      read -r u s <"$tmp/t"
      awk -v r="$i" -v b="$d" -v m="$mode" -v w="$(echo "$s1 - $s0" | bc)" -v u="$u" -v s="$s" \
        -v e="$emu_cpu" -v l="$(wc -l <"$tmp/l")" -v n="$n" 'BEGIN {
          printf "%s %s %s wall %.2f s client_cpu_ms_per_req %.4f emu_cpu_s %s ledger %d\n",
                 r, b, m, w, (u + s) * 1000 / (n / 50), e, l }'
    done
  done
done
