#!/usr/bin/env bash
# emulator_wrk.sh: req/s of one emulator thread for signed 50-address InviteUsers requests over
# keep-alive TLS, SigV4 verification on. Signs with python3 botocore, replays with wrk.
#
#   bench/emulator_wrk.sh [BUILD_DIR] [DURATION_S] [CONNECTIONS]
#   bench/emulator_wrk.sh build/emu 10 32
#   WRK_DISTINCT=40000 EMULATOR_FLAGS="--ledger /tmp/l.tsv" bench/emulator_wrk.sh build/emu 10 32
#
# By default wrk replays one request, so after the first the emulator only sees known addresses
# (its cheap re-invite path). WRK_DISTINCT=N pre-signs N requests with 50 new addresses each and
# replays them in turn, so the emulator creates users as it does for the engine; make N at least
# the number of requests wrk will send (the summary says how many addresses were re-invites).
# Besides wrk's own output, a "wrk: client CPU ... ms/request" line says what the client spent.
# Extra emulator flags go in EMULATOR_FLAGS (e.g. "--ledger /tmp/l.tsv", as the engine runs use).
# REPLAY_WITH=BUILD/bench/bench_transport replays the same requests through the engine's own HTTPS
# stack (bench/transport_bench.cpp) instead of wrk, with the same output lines; REPLAY_ARGS are
# added to its command line (e.g. "--threads 2").
# Signatures are valid for the emulator's 5-minute clock-skew window, counted from signing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build/emu}
duration=${2:-10}
conns=${3:-32}
distinct=${WRK_DISTINCT:-0}
emu="$build/emulator/chime-emulator"
[ -x "$emu" ] || { echo "no $emu (build chime-emulator first)" >&2; exit 2; }
replayer=${REPLAY_WITH:-}
if [ -n "$replayer" ]; then
  [ -x "$replayer" ] || { echo "REPLAY_WITH: no $replayer" >&2; exit 2; }
else
  command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 2; }
fi
[[ "$distinct" =~ ^[0-9]+$ ]] || { echo "WRK_DISTINCT must be a number of requests" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'kill -TERM $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
# shellcheck disable=SC2086
"$emu" --listen 127.0.0.1:0 --threads 1 --write-ca "$tmp/ca.pem" ${EMULATOR_FLAGS:-} >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 100); do grep -q '^listening on ' "$tmp/out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$tmp/out" | head -1)
[ -n "$url" ] || { cat "$tmp/err" >&2; exit 1; }

# $tmp/check: one request for the check below. $tmp/requests: what wrk replays, one request or
# (WRK_DISTINCT) N of them separated by lines holding only "%%"; a request is "METHOD PATH",
# "Name: value" header lines, an empty line, then the body on one line.
/usr/bin/python3 - "$url" "$tmp/check" "$tmp/requests" "$distinct" <<'PY'
import json, os, sys
from concurrent.futures import ProcessPoolExecutor
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
url, check_file, requests_file, distinct = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
path = "/accounts/bench-account/users?operation=add"
host = url.split("://", 1)[1]
auth = SigV4Auth(Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
                 "chime", "us-east-1")

def signed(addresses):
    body = json.dumps({"UserEmailList": addresses, "UserType": "PrivateUser"})
    req = AWSRequest(method="POST", url=url + path, data=body,
                     headers={"Content-Type": "application/json"})
    auth.add_auth(req)
    head = [f"POST {path}", f"Host: {host}"]
    head += [f"{k}: {req.headers[k]}" for k in ("Content-Type", "X-Amz-Date", "Authorization")]
    return "\n".join(head) + "\n\n" + body

def batch(k):  # the k-th request's addresses; every request has the same body length
    return [f"u{k:07d}.{i:02d}@example.com" for i in range(50)]

def signed_range(bounds):  # requests [first, last)
    return "\n%%\n".join(signed(batch(k)) for k in range(*bounds))

if distinct == 0:
    text = signed(batch(0))
    with open(check_file, "w") as f: f.write(text)
    with open(requests_file, "w") as f: f.write(text)
else:
    with open(check_file, "w") as f:
        f.write(signed([f"check.{i:02d}@example.com" for i in range(50)]))
    # Signing is pure Python (about 0.3 ms a request): spread it over the cores.
    step = 5000
    chunks = [(k, min(k + step, distinct)) for k in range(0, distinct, step)]
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool, open(requests_file, "w") as f:
        for i, text in enumerate(pool.map(signed_range, chunks)):
            f.write(("\n%%\n" if i else "") + text)
PY

# One request through Python first, so a signing problem shows as an error, not as a fast 401 run.
status=$(/usr/bin/python3 - "$url" "$tmp/ca.pem" "$tmp/check" <<'PY'
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

stat_of() {  # stat_of NAME: one counter from the emulator's stats endpoint
  curl -s --cacert "$tmp/ca.pem" "$url/_emulator/stats" |
    /usr/bin/python3 -c "import json, sys; print(json.load(sys.stdin)['$1'])"
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
applied0=$(stat_of invites_applied)
dups0=$(stat_of duplicates_applied)
ticks0=$(cpu_ticks)
if [ "$distinct" -gt 0 ]; then mode="$distinct distinct pre-signed requests in turn"; else mode="one request replayed"; fi
if [ -n "$replayer" ]; then
  echo "$(basename "$replayer") -c$conns -d${duration}s against $url (emulator --threads 1 ${EMULATOR_FLAGS:-}, SigV4 on, 50 addresses/request, $mode)"
  "$replayer" --url "$url" --ca-bundle "$tmp/ca.pem" --requests "$tmp/requests" \
    --connections "$conns" --seconds "$duration" ${REPLAY_ARGS:-} | tee "$tmp/replay"
  # The same two lines as wrk's output, for the parsing below and for callers.
  awk '{for (i = 1; i <= NF; i++) if ($i == "req/s;") print "Requests/sec: " $(i - 1); print $2 " requests in"}' \
    "$tmp/replay" | tee "$tmp/wrk"
else
  echo "wrk -t1 -c$conns -d${duration}s against $url (emulator --threads 1 ${EMULATOR_FLAGS:-}, SigV4 on, 50 addresses/request, $mode)"
  # In a subshell, so that `times` reports wrk's CPU alone (the subshell's children: wrk).
  (
    WRK_REQUEST_FILE="$tmp/requests" WRK_DISTINCT="$distinct" WRK_THREADS=1 \
      wrk -t1 -c"$conns" -d"${duration}s" --latency -s "$here/wrk_invite.lua" "$url" >"$tmp/wrk"
    times >"$tmp/times"
  )
  cat "$tmp/wrk"
  # `times`' second line: the children's user and system time, as "0m2.480s 0m1.490s".
  client_s=$(awk 'NR == 2 {t = 0; for (i = 1; i <= 2; i++) {split($i, a, /[ms]/); t += a[1] * 60 + a[2]} printf "%.3f", t}' "$tmp/times")
  reqs=$(awk '/requests in/ {print $1}' "$tmp/wrk")
  awk -v c="$client_s" -v r="$reqs" 'BEGIN {if (r > 0) printf "wrk: client CPU %.3f ms/request (%.2f CPU-s for %d requests)\n", 1000 * c / r, c, r}'
fi
ticks1=$(cpu_ticks)
applied=$(( $(stat_of invites_applied) - applied0 ))
dups=$(( $(stat_of duplicates_applied) - dups0 ))
rps=$(awk '/^Requests\/sec:/ {print $2}' "$tmp/wrk")
reqs=$(awk '/requests in/ {print $1}' "$tmp/wrk")
hz=$(getconf CLK_TCK)
# The machine may be shared: also report requests per CPU-second the server thread actually got.
cpu_s=$(awk -v a="$ticks0" -v b="$ticks1" -v hz="$hz" 'BEGIN {printf "%.2f", (b - a) / hz}')
per_cpu=$(awk -v r="$reqs" -v c="$cpu_s" 'BEGIN {if (c > 0) printf "%.0f", r / c; else print "n/a"}')
ms_per=$(awk -v r="$reqs" -v c="$cpu_s" 'BEGIN {if (r > 0) printf "%.3f", 1000 * c / r; else print "n/a"}')
echo "emulator: $rps req/s wall clock with one server thread; $per_cpu req per server CPU-second ($reqs requests in ${cpu_s} CPU-s, ${ms_per} ms CPU/request)"
echo "addresses applied during the run: $applied, of which re-invites of known addresses: $dups"
curl -s --cacert "$tmp/ca.pem" "$url/_emulator/stats" 2>/dev/null && echo || true
if grep -q "Non-2xx" "$tmp/wrk"; then echo "some responses were not 201" >&2; exit 1; fi
