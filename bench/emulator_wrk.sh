#!/usr/bin/env bash
# emulator_wrk.sh: req/s of one emulator thread for a signed 50-address InviteUsers over
# keep-alive TLS, SigV4 verification on. Signs with python3 botocore, replays with wrk.
#
#   bench/emulator_wrk.sh [BUILD_DIR] [DURATION_S] [CONNECTIONS]
#   bench/emulator_wrk.sh build/emu 10 32
#
# Extra emulator flags can be passed in EMULATOR_FLAGS (e.g. "--ledger /tmp/l.tsv").
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build/emu}
duration=${2:-10}
conns=${3:-32}
emu="$build/emulator/chime-emulator"
[ -x "$emu" ] || { echo "no $emu (build chime-emulator first)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'kill -TERM $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
# shellcheck disable=SC2086
"$emu" --listen 127.0.0.1:0 --threads 1 --write-ca "$tmp/ca.pem" ${EMULATOR_FLAGS:-} >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 100); do grep -q '^listening on ' "$tmp/out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$tmp/out" | head -1)
[ -n "$url" ] || { cat "$tmp/err" >&2; exit 1; }

/usr/bin/python3 - "$url" "$tmp/request" <<'PY'
import datetime, json, sys
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
url, out = sys.argv[1], sys.argv[2]
path = "/accounts/bench-account/users?operation=add"
body = json.dumps({"UserEmailList": [f"user{i:02d}@example.com" for i in range(50)],
                   "UserType": "PrivateUser"})
req = AWSRequest(method="POST", url=url + path, data=body,
                 headers={"Content-Type": "application/json"})
SigV4Auth(Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
          "chime", "us-east-1").add_auth(req)
host = url.split("://", 1)[1]
with open(out, "w") as f:
    f.write(f"POST {path}\n")
    f.write(f"Host: {host}\n")
    for k in ("Content-Type", "X-Amz-Date", "Authorization"):
        f.write(f"{k}: {req.headers[k]}\n")
    f.write("\n")
    f.write(body)
PY

# One request through curl first, so a signing problem shows as an error, not as a fast 401 run.
status=$(WRK_REQUEST_FILE="$tmp/request" /usr/bin/python3 - "$url" "$tmp/ca.pem" "$tmp/request" <<'PY'
import http.client, ssl, sys
url, ca, path = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(path).read()
head, body = text.split("\n\n", 1)
lines = head.split("\n")
method, target = lines[0].split(" ", 1)
headers = dict(l.split(": ", 1) for l in lines[1:])
host = url.split("://", 1)[1]
c = http.client.HTTPSConnection(host, context=ssl.create_default_context(cafile=ca))
c.request(method, target, body=body.encode(), headers=headers)
print(c.getresponse().status)
PY
)
[ "$status" = 201 ] || { echo "signed request got HTTP $status, expected 201" >&2; exit 1; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
ticks0=$(cpu_ticks)
echo "wrk -t1 -c$conns -d${duration}s against $url (emulator --threads 1, SigV4 on, 50 addresses/request)"
WRK_REQUEST_FILE="$tmp/request" wrk -t1 -c"$conns" -d"${duration}s" --latency -s "$here/wrk_invite.lua" "$url" | tee "$tmp/wrk"
ticks1=$(cpu_ticks)
rps=$(awk '/^Requests\/sec:/ {print $2}' "$tmp/wrk")
reqs=$(awk '/requests in/ {print $1}' "$tmp/wrk")
hz=$(getconf CLK_TCK)
# The machine may be shared: also report requests per CPU-second the server thread actually got.
cpu_s=$(awk -v a="$ticks0" -v b="$ticks1" -v hz="$hz" 'BEGIN {printf "%.2f", (b - a) / hz}')
per_cpu=$(awk -v r="$reqs" -v c="$cpu_s" 'BEGIN {if (c > 0) printf "%.0f", r / c; else print "n/a"}')
echo "emulator: $rps req/s wall clock with one server thread; $per_cpu req per server CPU-second ($reqs requests in ${cpu_s} CPU-s)"
curl -s --cacert "$tmp/ca.pem" "$url/_emulator/stats" 2>/dev/null && echo || true
if grep -q "Non-2xx" "$tmp/wrk"; then echo "some responses were not 201" >&2; exit 1; fi
