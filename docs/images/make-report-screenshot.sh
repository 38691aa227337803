#!/usr/bin/env bash
# Makes docs/images/run-report.png: a run against the emulator held to 40 requests/s (burst 10),
# interrupted with Ctrl-C after 8 s, resumed 3 s later, and its HTML page as headless Chromium
# draws it. Usage: docs/images/make-report-screenshot.sh [BUILD_DIR]
set -euo pipefail
build=$(cd "${1:-build/release}" && pwd)
out=$(cd "$(dirname "$0")" && pwd)/run-report.png
work=$(mktemp -d)
trap 'kill "$emu_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
"$build/emulator/chime-emulator" --listen 127.0.0.1:0 --write-ca "$work/ca.pem" --accounts acct-1 \
  --rate 40 --burst 10 --p503 0.01 >"$work/emu.out" 2>&1 &
emu_pid=$!
for _ in $(seq 50); do grep -q listening "$work/emu.out" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$work/emu.out")
export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
for i in $(seq 30000); do echo "person$i@example.com"; done >"$work/staff.txt"
run=("$build/engine/chime-onboard" invite --account-id acct-1 --input "$work/staff.txt"
  --endpoint-url "$url" --ca-bundle "$work/ca.pem" --journal "$work/staff.journal" --yes
  --progress off)
"${run[@]}" & pid=$!
sleep 8; kill -INT "$pid"; wait "$pid" || true
sleep 3
"${run[@]}"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1040,1200 \
  --screenshot="$out" "file://$work/staff.html" 2>/dev/null
echo "wrote $out"
