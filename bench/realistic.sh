#!/usr/bin/env bash
# realistic.sh: issue 25's scenarios, each client against a fresh emulator (TLS, ledger on), and
# one table: the limit in force (its integral over the run when it moves), goodput (201 answers)
# as a share of it, the share of requests throttled, the elapsed time against the ideal (the
# work at the limit), and the ledger's verdict (addresses missing, applied twice).
#
#   bench/realistic.sh [BUILD_DIR]             (default build/release)
#
# Environment:
#   REALISTIC_ONLY   comma-separated subset of far,moving,shared,perapi,million (default: all)
#   REALISTIC_PEERS  comma-separated subset of boto3,cli for far and shared (default: both; none)
#   MILLION_N        addresses of the million scenario (default 1000000)
#   FAR_N            addresses of the far-away scenario (default 20000: 10 s of work at 40/s, of
#                    which the blind ramp is ~2 s; 120000 measures a minute)
#   PERAPI_DOUBT     batches left in doubt before the per-API resume (default 100)
#   PEER_THREADS     boto3 thread pool (default 16); CLI_JOBS: parallel -j (default 16)
#   CLI_BATCHES      the AWS CLI peer sends only the first N batches of a scenario (default: all;
#                    each CLI process costs ~1 s of CPU, so its row is CPU-bound on small hosts)
#
# chime-onboard runs with its default pacing (no --connections, no --rate), `--yes --progress
# off`. Peers: bench/peers/boto3_invite.py (legacy retries, a thread pool) and
# bench/peers/aws_cli_invite.sh (AWS CLI v2, one process per 50-address batch, GNU parallel).
# Every command run is printed after the table. Not run in CI (it takes minutes).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build/release}
cli=$(realpath "$build/engine/chime-onboard")
emu=$(realpath "$build/emulator/chime-emulator")
only=${REALISTIC_ONLY:-far,moving,shared,perapi,million}
peers=${REALISTIC_PEERS:-boto3,cli}
million_n=${MILLION_N:-1000000}
far_n=${FAR_N:-20000}
perapi_doubt=${PERAPI_DOUBT:-100}
peer_threads=${PEER_THREADS:-16}
cli_jobs=${CLI_JOBS:-16}
work=$(mktemp -d)
chmod 700 "$work"  # the inputs and ledgers hold addresses
pids=()

cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ -n ${REALISTIC_KEEP:-} ]]; then echo "realistic: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
export XDG_CONFIG_HOME=$work/config XDG_STATE_HOME=$work/state  # no user config, no stray journal
table=$work/table.tsv
commands=$work/commands.txt
notes=$work/notes.txt
: > "$table"; : > "$commands"; : > "$notes"

wanted() { [[ ",$1," == *",$2,"* ]]; }
say() { echo "realistic: $*" >&2; }
# logged: prints a command (as it can be pasted) to the command list, then runs it.
logged() {
  printf '%q ' "$@" | sed 's/ $//' >> "$commands"
  echo >> "$commands"
  "$@"
}

# start_emu NAME FLAGS...: a fresh emulator in $work/NAME; sets url, ca, ledger, emu_pid.
start_emu() {
  local name=$1
  shift
  mkdir -p "$work/$name"
  ca=$work/$name/ca.pem ledger=$work/$name/ledger.tsv
  printf '%q ' "$emu" --listen 127.0.0.1:0 --write-ca "$ca" --ledger "$ledger" --seed 25 "$@" \
    >> "$commands"
  echo "&" >> "$commands"
  "$emu" --listen 127.0.0.1:0 --write-ca "$ca" --ledger "$ledger" --seed 25 "$@" \
    > "$work/$name/emu.out" 2> "$work/$name/emu.err" &
  emu_pid=$!
  pids+=("$emu_pid")
  for _ in $(seq 100); do
    grep -q '^listening' "$work/$name/emu.out" && break
    sleep 0.1
  done
  url=$(sed -n 's/^listening on //p' "$work/$name/emu.out")
  [[ -n $url ]] || { cat "$work/$name/emu.err" >&2; exit 1; }
}
stats() { curl -sf --cacert "$ca" "$url/_emulator/stats"; }
stop_emu() { kill -TERM "$emu_pid" 2>/dev/null || true; wait "$emu_pid" 2>/dev/null || true; }

# sample_stats FILE: the emulator's stats every half second until killed (for shares over time).
sample_stats() {
  while :; do
    stats >> "$1" 2>/dev/null && echo >> "$1"
    sleep 0.5
  done
}

# row SCENARIO CLIENT LIMIT BATCHES EXPECTED_ADDRESSES STATS_BEFORE STATS_AFTER SECONDS NOTE
# LIMIT is a rate (40) or a schedule (20;20:10,40:40); the ledger is $ledger.
row() {
  python3 - "$@" "$ledger" >> "$table" <<'PY'
import json, sys
scenario, client, limit, batches, expected, s0, s1, secs, note, ledger = sys.argv[1:11]
batches, expected, secs = int(batches), int(expected), float(secs)
s0, s1 = json.loads(s0), json.loads(s1)
steps = []
if ";" in limit:
    base, sched = limit.split(";")
    rate0 = float(base)
    steps = [tuple(map(float, x.split(":"))) for x in sched.split(",")]
else:
    rate0 = float(limit)
def rate_at(t):
    r = rate0
    for at, v in steps:
        if at <= t: r = v
    return r
def integral(a, b, dt=0.01):
    n = max(1, int((b - a) / dt))
    return sum(rate_at(a + (i + 0.5) * (b - a) / n) for i in range(n)) * (b - a) / n
a, b = s0["seconds"], s1["seconds"]
in_force = integral(a, b)
# ideal: the time the work takes at the limit from the run's start (the schedule's clock)
t, left = a, float(batches)
while left > 0:
    left -= rate_at(t) * 0.01
    t += 0.01
ideal = t - a
d = lambda k: s1.get(k, 0) - s0.get(k, 0)
ok = s1["requests_by_status"].get("201", 0) - s0["requests_by_status"].get("201", 0)
answered = d("requests")
throttled = d("throttled")
lines = 0
seen = {}
with open(ledger) as f:
    for l in f:
        lines += 1
        k = l.rstrip("\n").split("\t", 1)[1]
        seen[k] = seen.get(k, 0) + 1
missing = expected - len(seen)
twice = sum(1 for v in seen.values() if v > 1)
lim = f"{limit} req/s" if not steps else f"{limit.replace(';', ' then ')}: {in_force:.0f} req"
print("\t".join([scenario, client, lim, f"{100 * ok / in_force:.1f} %",
                 f"{100 * throttled / max(1, answered):.1f} %",
                 f"{secs:.1f} s / {ideal:.1f} s = {secs / ideal:.2f}x",
                 str(missing), str(twice), note]))
PY
}

# engine_cmd NAME ACCOUNT INPUT: chime-onboard invite with default pacing, in the array `cmd`.
engine_cmd() {
  cmd=("$cli" invite --yes --progress off --output json --account-id "$2" --input "$3"
    --endpoint-url "$url" --ca-bundle "$ca" --journal "$work/$1/run.journal")
}
# engine_run NAME ACCOUNT INPUT: runs it; sets rc.
engine_run() {
  engine_cmd "$@"
  rc=0
  logged "${cmd[@]}" >> "$work/$1/summary.json" 2>> "$work/$1/engine.err" || rc=$?
}

# measured SCENARIO CLIENT LIMIT BATCHES EXPECTED NOTE_PREFIX COMMAND...: runs COMMAND between
# two stats readings and adds its row.
measured() {
  local scenario=$1 client=$2 limit=$3 nb=$4 expected=$5 note=$6
  shift 6
  local s0 s1 t0 t1
  s0=$(stats)
  t0=$(date +%s.%N)
  "$@"
  t1=$(date +%s.%N)
  s1=$(stats)
  stop_emu
  row "$scenario" "$client" "$limit" "$nb" "$expected" "$s0" "$s1" \
    "$(echo "$t1 - $t0" | bc)" "$note"
}

# peer_boto3 NAME INPUT ACCOUNT: boto3 legacy retries, PEER_THREADS threads; the note names the
# batches it gave up on.
peer_boto3() {
  logged /usr/bin/python3 "$here/peers/boto3_invite.py" --endpoint-url "$url" --ca "$ca" \
    --input "$2" --account-id "$3" --mode legacy --threads "$peer_threads" --deadline 600 \
    > "$work/$1/boto3.json" 2> "$work/$1/boto3.err" || true
  peer_note=$(python3 -c 'import json, sys; d = json.load(open(sys.argv[1]))
print("threads %d, failed batches %d, unfinished %d" % (d["threads"], d["failed_batches"],
      d["unfinished_batches"]))' "$work/$1/boto3.json" 2>/dev/null ||
    echo "boto3 failed: $(tail -1 "$work/$1/boto3.err" | tr -d '/|')")
}

# cli_subset FILE: the AWS CLI peer's batch lines (CLI_BATCHES of them) in FILE.cli; sets
# cli_nb, the number of batches, and cli_n, of addresses.
cli_subset() {
  head -n "${CLI_BATCHES:-1000000000}" "$1" > "$1.cli"
  cli_nb=$(wc -l < "$1.cli")
  cli_n=$(awk '{ n += NF - 1 } END { print n }' "$1.cli")
}
# peer_cli NAME BATCHES: AWS CLI v2 under GNU parallel.
peer_cli() {
  peer_note="parallel -j$cli_jobs, $(logged "$here/peers/aws_cli_invite.sh" "$url" "$ca" "$2" \
    "$cli_jobs")"
}

# addresses PREFIX N: N addresses, one a line.
addresses() { awk -v p="$1" -v n="$2" 'BEGIN { for (i = 0; i < n; i++) printf "%s%07d@example.com\n", p, i }'; }
# cli_batches ACCOUNT < addresses: the AWS CLI peer's batch lines.
cli_batches() { awk -v a="$1" '{ l = l " " $0; if (NR % 50 == 0) { print a l; l = "" } } END { if (l != "") print a l }'; }

# ---------------------------------------------------------------------------------------------
# far away: 400 ms round trips (±25 %), 40 requests/s, FAR_N addresses (20,000).
if wanted "$only" far; then
  far_flags=(--latency-ms 400 --latency-jitter 0.25 --rate 40)
  mkdir -p "$work/far"
  addresses far "$far_n" > "$work/far/users.txt"
  cli_batches far < "$work/far/users.txt" > "$work/far/batches.txt"
  say "far away: chime-onboard"
  start_emu far-engine "${far_flags[@]}"
  measured far chime-onboard 40 $((far_n / 50)) "$far_n" "" engine_run far-engine far "$work/far/users.txt"
  sed -i "\$s/\$/exit $rc/" "$table"
  if wanted "$peers" boto3; then
    say "far away: boto3"
    start_emu far-boto3 "${far_flags[@]}"
    measured far "boto3 legacy" 40 $((far_n / 50)) "$far_n" "" peer_boto3 far-boto3 "$work/far/users.txt" far
    sed -i "\$s/\$/$peer_note/" "$table"
  fi
  if wanted "$peers" cli; then
    say "far away: AWS CLI"
    start_emu far-cli "${far_flags[@]}"
    cli_subset "$work/far/batches.txt"
    measured far "aws cli v2" 40 "$cli_nb" "$cli_n" "" peer_cli far-cli "$work/far/batches.txt.cli"
    sed -i "\$s/\$/$peer_note/" "$table"
  fi
fi

# ---------------------------------------------------------------------------------------------
# moving limit: 20/s, 10/s from 20 s, 40/s from 40 s; 1,400 requests of work (~60 s).
if wanted "$only" moving; then
  say "moving limit: chime-onboard"
  start_emu moving --rate 20 --rate-schedule 20:10,40:40
  addresses moving 70000 > "$work/moving/users.txt"
  measured moving chime-onboard "20;20:10,40:40" 1400 70000 "" \
    engine_run moving moving "$work/moving/users.txt"
  sed -i "\$s/\$/exit $rc/" "$table"
fi

# ---------------------------------------------------------------------------------------------
# shared limit: three accounts interleaved row by row in one CSV, one limit of 30/s for all.
# Each account's share of the accepted requests is read when half the work is accepted (all
# three still have work then), from stats sampled every half second.
shares() {
  python3 - "$1" "$2" <<'PY'
import json, sys
half = int(sys.argv[2]) / 2
for line in open(sys.argv[1]):
    if not line.strip(): continue
    d = json.loads(line)["accepted_by_account"]
    acc = {k: v for k, v in d.items() if k.startswith("shared-")}
    if sum(acc.values()) >= half:
        total = sum(acc.values())
        print(", shares at half-way " + " ".join(f"{k[7:]} {100 * v / total:.0f} %" for k, v in sorted(acc.items())))
        break
PY
}
if wanted "$only" shared; then
  mkdir -p "$work/shared"
  n_each=10000  # 600 requests in all: 20 s at 30/s
  {
    echo "email,account_id"
    awk -v n=$n_each 'BEGIN { for (i = 0; i < n; i++) for (a = 0; a < 3; a++)
      printf "sh%c%06d@example.com,shared-%c\n", 97 + a, i, 97 + a }'
  } > "$work/shared/users.csv"
  for a in a b c; do
    grep ",shared-$a\$" "$work/shared/users.csv" | cut -d, -f1 | cli_batches "shared-$a"
  done | awk '{ print (NR - 1) % 200, $0 }' | sort -s -n -k1,1 | cut -d' ' -f2- > "$work/shared/batches.txt"
  shared_flags=(--throttle-scope global --rate 30)
  for client in chime-onboard "boto3 legacy" "aws cli v2"; do
    case $client in
      chime-onboard) name=shared-engine ;;
      "boto3 legacy") wanted "$peers" boto3 || continue; name=shared-boto3 ;;
      *) wanted "$peers" cli || continue; name=shared-cli ;;
    esac
    say "shared limit: $client"
    start_emu "$name" "${shared_flags[@]}"
    sample_stats "$work/$name/samples.jsonl" &
    sampler=$!
    pids+=("$sampler")
    run_nb=600
    case $client in
      chime-onboard)
        measured shared "$client" 30 600 30000 "" engine_run "$name" shared-a "$work/shared/users.csv"
        peer_note="exit $rc" ;;
      "boto3 legacy")
        measured shared "$client" 30 600 30000 "" peer_boto3 "$name" "$work/shared/users.csv" shared-a ;;
      *)
        cli_subset "$work/shared/batches.txt"
        run_nb=$cli_nb
        measured shared "$client" 30 "$cli_nb" "$cli_n" "" peer_cli "$name" \
          "$work/shared/batches.txt.cli" ;;
    esac
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    sed -i "\$s/\$/$peer_note$(shares "$work/$name/samples.jsonl" "$run_nb")/" "$table"
  done
fi

# ---------------------------------------------------------------------------------------------
# per-API limits: InviteUsers 20/s, ListUsers 10/s (one bucket each, shared by the accounts).
# The in-doubt batches are made with the emulator's --drop-invites N: the first N InviteUsers are
# applied, then their connection is closed without an answer (a lost response after the write).
# The first run is killed with SIGKILL as soon as the N-th has been dropped, so it cannot settle
# them; `chime-onboard status` then counts the addresses without an outcome, and the resume (the
# same command) must find every dropped batch with ListUsers and invite nobody twice. Ideal time
# of the resume: the invites still to send at 20/s, or one listing of the account's users (200 a
# page) at 10/s, whichever is longer (they use different buckets).
if wanted "$only" perapi; then
  nb=300
  start_emu perapi --throttle-scope api --api-rate InviteUsers=20 --api-rate ListUsers=10 \
    --drop-invites "$perapi_doubt"
  addresses perapi $((nb * 50)) > "$work/perapi/users.txt"
  say "per-API limits: first run, killed once $perapi_doubt batches are in doubt"
  engine_cmd perapi perapi "$work/perapi/users.txt"
  printf '%q ' "${cmd[@]}" >> "$commands"
  echo "&" >> "$commands"
  "${cmd[@]}" > "$work/perapi/first.json" 2> "$work/perapi/first.err" &  # not a function: $! is the engine
  first=$!
  pids+=("$first")
  until ! kill -0 "$first" 2>/dev/null ||
    (($(stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["dropped"])') >= perapi_doubt)); do
    sleep 0.05
  done
  kill -KILL "$first" 2>/dev/null || true
  wait "$first" 2>/dev/null || true
  echo "kill -9 \$!   # the run above, once the emulator's stats show $perapi_doubt dropped" >> "$commands"
  logged "$cli" status --journal "$work/perapi/run.journal" > "$work/perapi/status.txt" 2>&1 || true
  at_resume=$(stats)
  plan=$(python3 - "$at_resume" "$nb" <<'PY'
import json, math, sys
s, nb = json.loads(sys.argv[1]), int(sys.argv[2])
applied = s["invites_applied"]
print(max((nb - applied // 50) / 20, math.ceil(applied / 200) / 10), applied)
PY
)
  ideal=${plan% *} applied=${plan#* }
  say "per-API limits: resume"
  t0=$(date +%s.%N)
  engine_run perapi perapi "$work/perapi/users.txt"
  t1=$(date +%s.%N)
  s1=$(stats)
  stop_emu
  python3 - "$at_resume" "$s1" "$(echo "$t1 - $t0" | bc)" "$ideal" "$applied" "$rc" \
    "$work/perapi/status.txt" "$ledger" "$((nb * 50))" "$perapi_doubt" >> "$table" <<'PY'
import json, re, sys
s0, s1 = json.loads(sys.argv[1]), json.loads(sys.argv[2])
secs, ideal, applied, rc = float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
status = open(sys.argv[7]).read()
ledger, expected, doubt = sys.argv[8], int(sys.argv[9]), sys.argv[10]
m = re.search(r"in doubt\s+([\d,]+) in ([\d,]+) batches", status)
in_doubt = f"{m.group(1)} addresses in {m.group(2)} batches" if m else "? (see status)"
seen = {}
for l in open(ledger):
    k = l.rstrip("\n").split("\t", 1)[1]
    seen[k] = seen.get(k, 0) + 1
d = lambda op: s1["accepted_by_operation"].get(op, 0) - s0["accepted_by_operation"].get(op, 0)
th = s1["throttled"] - s0["throttled"]
answered = s1["requests"] - s0["requests"]
print("\t".join(["per-API resume", "chime-onboard", "InviteUsers 20, ListUsers 10 req/s", "-",
                 f"{100 * th / max(1, answered):.1f} %",
                 f"{secs:.1f} s / {ideal:.1f} s = {secs / ideal:.2f}x",
                 str(expected - len(seen)), str(sum(1 for v in seen.values() if v > 1)),
                 f"exit {rc}; {doubt} batches dropped after apply, {applied} addresses applied "
                 f"before the resume, {in_doubt} in doubt per status; resume sent "
                 f"{d('InviteUsers')} InviteUsers, {d('ListUsers')} ListUsers"]))
PY
fi

# ---------------------------------------------------------------------------------------------
# a million: bench/soak.sh with the limit at 500/s (1 % 503, 0.1 % dropped connections) and the
# engine's default pacing; peak RSS sampled every second, journal bytes per address, and an
# immediate re-run (all done).
if wanted "$only" million; then
  say "a million: bench/soak.sh ($million_n addresses)"
  rc=0
  echo "SOAK_RATE=500 SOAK_FLAGS= $here/soak.sh $build $million_n" >> "$commands"
  SOAK_RATE=500 SOAK_FLAGS="" "$here/soak.sh" "$build" "$million_n" > "$work/million.txt" 2>&1 ||
    rc=$?
  python3 - "$work/million.txt" "$million_n" "$rc" >> "$table" <<'PY'
import re, sys
text, n, rc = open(sys.argv[1]).read(), int(sys.argv[2]), sys.argv[3]
rss = [float(m.group(1)) for m in re.finditer(r"^\d+ ([\d.]+) \d+$", text, re.M)]
m = re.search(r'"elapsed_seconds":([\d.]+)', text)  # the engine's summary
secs = float(m.group(1)) if m else len(rss)
ledger = re.search(r"ledger: (\d+) applied, (\d+) unique", text)
journal = re.search(r"journal: \d+ bytes, ([\d.]+) bytes per address", text)
rerun = re.search(r"re-run \(all done\): ([\d.]+) s", text)
applied, unique = (int(ledger.group(1)), int(ledger.group(2))) if ledger else (0, 0)
half = rss[len(rss) // 2:] or [0]
ideal = n / 50 / 500
req = re.search(r'"requests":(\d+),"throttled":(\d+)', text)  # the engine's own count
throttled = f"{100 * int(req.group(2)) / int(req.group(1)):.1f} %" if req else "-"
print("\t".join(["a million", "chime-onboard", "500 req/s, 1 % 503, 0.1 % drop", "-", throttled,
                 f"{secs:.1f} s / {ideal:.1f} s = {secs / ideal:.2f}x" if secs else "-",
                 str(n - unique), str(applied - unique),
                 f"soak exit {rc}; peak RSS {max(rss or [0]):.1f} MiB (second half "
                 f"{min(half):.1f}-{max(half):.1f}); journal "
                 f"{journal.group(1) if journal else '?'} B/address; re-run "
                 + (f"{float(rerun.group(1)):.2f} s" if rerun else "?")]))
PY
fi

# ---------------------------------------------------------------------------------------------
echo
echo "| scenario | client | limit in force | goodput / limit | throttled | elapsed / ideal | missing | twice | notes |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
sed 's/\t/ | /g; s/^/| /; s/$/ |/' "$table"
echo
echo "commands:"
sed 's/^/  /' "$commands"
