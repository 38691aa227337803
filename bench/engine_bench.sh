#!/usr/bin/env bash
# engine_bench.sh: end-to-end throughput of chime-onboard against its emulator, next to wrk (the
# ceiling of one emulator thread) and boto3 thread pools (the peers). Each measurement gets a
# freshly started emulator on 127.0.0.1:0. Results are recorded in bench/RESULTS.md.
#
#   bench/engine_bench.sh [BUILD_DIR]            (default build/release; not run in CI, ~5-8 min)
#
# Scenarios:
#   ceiling    emulator --threads 1, no limit, no latency; CEIL_N addresses (about 2 s of sending, so
#              that start-up — 32 TLS handshakes, the journal — weighs no more than it does in wrk's
#              5 s), --connections 32:
#              adaptive (--rate 0), --fixed-rate --rate 100000, and durability off/batched/strict
#              (fixed rate, so the limiter's ramp does not hide the journal); vs wrk -c32
#              (bench/emulator_wrk.sh, emulator with a ledger as for the engine) replaying one
#              signed 50-address InviteUsers, and replaying WRK_DISTINCT distinct ones (new users:
#              the server work the engine causes); and the same distinct requests replayed through
#              the engine's own HTTPS stack alone (bench_transport: Asio + OpenSSL + Beast, no
#              ingest, signing, journal or decoding), which says how much of any gap is the stack.
#              Every client's CPU per request is reported (wrk's too), and a budget line says how
#              much CPU a request 0.8 x wrk-one leaves the client once the emulator has had what it
#              needs for the engine's requests (client and server share the machine's cores).
#   throttled  emulator --rate 20 --burst 20 (the engine is not told); THR_N addresses.
#   peers      bench/peers/boto3_invite.py, PEER_THREADS threads, retry modes legacy / standard /
#              adaptive, on both the ceiling and the throttled emulator.
#
# Knobs (environment): REPS (3, repetitions of each engine ceiling case and of wrk; medians are
# reported), CEIL_N (1000000), THR_N (20000), PEER_THREADS (32), WRK_SECONDS (5), WRK_DISTINCT
# (CEIL_N / 50 pre-signed requests for the distinct runs: wrk creates as many users as an engine
# run does, then re-invites them; more users make every request of the emulator dearer),
# PEER_DEADLINE (90 s; batches a peer has not finished by then count as lost), KEEP (a directory
# to keep the raw JSON lines, logs and ledgers in).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../build/release}" && pwd)
engine="$build/engine/chime-onboard"
emu="$build/emulator/chime-emulator"
py=/usr/bin/python3
REPS=${REPS:-3}
CEIL_N=${CEIL_N:-1000000}
THR_N=${THR_N:-20000}
CONNS=32
PEER_THREADS=${PEER_THREADS:-32}
WRK_SECONDS=${WRK_SECONDS:-5}
WRK_DISTINCT=${WRK_DISTINCT:-$((CEIL_N / 50))}
PEER_DEADLINE=${PEER_DEADLINE:-90}
for x in "$engine" "$emu"; do [ -x "$x" ] || { echo "no $x (build the release preset first)" >&2; exit 2; }; done
command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 2; }
command -v curl >/dev/null || { echo "curl is not installed" >&2; exit 2; }
$py -c 'import boto3' 2>/dev/null || { echo "$py has no boto3 (apt install python3-boto3)" >&2; exit 2; }

export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_CHIME AWS_CA_BUNDLE AWS_MAX_ATTEMPTS || true

tmp=$(mktemp -d)
emu_pids=()
cleanup() {
  local p
  for p in "${emu_pids[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp -r "$tmp"/. "$KEEP"/ 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
results="$tmp/results.jsonl"
: >"$results"

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# Corpora: distinct generated addresses, one a line.
gen() { awk -v n="$1" -v p="$2" 'BEGIN { for (i = 0; i < n; i++) printf "%s%07d@example.com\n", p, i }'; }
gen "$CEIL_N" ceil >"$tmp/ceil.txt"
gen "$THR_N" thr >"$tmp/thr.txt"

# start_emu NAME [flags]: a fresh emulator (one server thread) with a ledger; sets EMU_PID, EMU_URL.
start_emu() {
  local name=$1; shift
  "$emu" --listen 127.0.0.1:0 --threads 1 --write-ca "$tmp/$name.ca" --ledger "$tmp/$name.ledger" \
    "$@" >"$tmp/$name.emu.out" 2>"$tmp/$name.emu.err" &
  EMU_PID=$!
  emu_pids+=("$EMU_PID")
  EMU_URL=
  for _ in $(seq 100); do
    EMU_URL=$(sed -n 's/^listening on //p' "$tmp/$name.emu.out" 2>/dev/null | head -1)
    [ -n "$EMU_URL" ] && break
    sleep 0.1
  done
  [ -n "$EMU_URL" ] || { cat "$tmp/$name.emu.err" >&2; exit 1; }
}
emu_ticks() { awk '{print $14 + $15}' "/proc/$EMU_PID/stat"; }
emu_stats() { curl -sf --max-time 5 --cacert "$tmp/$1.ca" "$EMU_URL/_emulator/stats"; }
# stop_emu NAME: SIGTERM flushes the ledger. The machine is shared: if the emulator is already gone
# (someone else's pkill), the measurement is void and the script says so.
stop_emu() {
  if ! kill -0 "$EMU_PID" 2>/dev/null; then
    echo "emulator for $1 died during the run (see $tmp/$1.emu.err); result void" >&2
    exit 1
  fi
  kill -TERM "$EMU_PID"
  wait "$EMU_PID" || true
}

# record JSON: one result line (the python below merges the pieces).
record() { echo "$1" >>"$results"; }

# engine_run NAME CORPUS [engine flags]: one invite against a fresh emulator; appends a result line.
engine_run() {
  local name=$1 corpus=$2; shift 2
  local emu_flags=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do emu_flags+=("$1"); shift; done
  shift  # --
  start_emu "$name" "${emu_flags[@]}"
  local t0 t1 rc=0
  t0=$(emu_ticks)
  /usr/bin/time -f '%U %S' -o "$tmp/$name.time" \
    "$engine" invite --yes --input "$corpus" --account-id bench --endpoint-url "$EMU_URL" \
    --ca-bundle "$tmp/$name.ca" --journal "$tmp/$name.wal" --output json --progress off "$@" \
    >"$tmp/$name.json" 2>"$tmp/$name.log" || rc=$?
  t1=$(emu_ticks)
  emu_stats "$name" >"$tmp/$name.stats"
  stop_emu "$name"
  $py - "$name" "$corpus" "$tmp" "$rc" "$t0" "$t1" "$(getconf CLK_TCK)" "$*" >>"$results" <<'PY'
import json, sys, collections
name, corpus, tmp, rc, t0, t1, hz, flags = sys.argv[1:9]
s = json.load(open(f"{tmp}/{name}.json"))
st = json.load(open(f"{tmp}/{name}.stats"))
u, sy = (float(x) for x in open(f"{tmp}/{name}.time").read().split()[-2:])
want = [l.strip() for l in open(corpus) if l.strip()]
seen = collections.Counter(l.rstrip("\n").split("\t")[2] for l in open(f"{tmp}/{name}.ledger") if l.strip())
req = s["requests"]
print(json.dumps({
    "kind": "engine", "name": name, "flags": flags, "rc": int(rc),
    "requests": req, "elapsed": s["elapsed_seconds"], "rps": req / s["elapsed_seconds"],
    "emails_per_second": s["emails_per_second"], "invited": s["invited"], "failed": s["failed"],
    "throttled": s["throttled"], "retries": s["retries"],
    "emu_requests": st["requests"], "emu_201": st["requests_by_status"].get("201", 0),
    "emu_throttled": st["throttled"],
    "engine_cpu_ms_per_req": 1000 * (u + sy) / max(req, 1),
    "emu_cpu_ms_per_req": 1000 * (int(t1) - int(t0)) / int(hz) / max(st["requests"], 1),
    "missing": len(set(want) - set(seen)), "twice": sum(1 for v in seen.values() if v > 1),
}))
PY
}

# peer_run NAME CORPUS MODE [emulator flags]
peer_run() {
  local name=$1 corpus=$2 mode=$3; shift 3
  start_emu "$name" "$@"
  local rc=0
  $py "$here/peers/boto3_invite.py" --endpoint-url "$EMU_URL" --ca "$tmp/$name.ca" --input "$corpus" \
    --account-id bench --mode "$mode" --threads "$PEER_THREADS" --deadline "$PEER_DEADLINE" \
    --lost "$tmp/$name.lost" >"$tmp/$name.json" 2>"$tmp/$name.log" || rc=$?
  emu_stats "$name" >"$tmp/$name.stats"
  stop_emu "$name"
  $py - "$name" "$corpus" "$tmp" "$rc" >>"$results" <<'PY'
import json, sys, collections
name, corpus, tmp, rc = sys.argv[1:5]
p = json.load(open(f"{tmp}/{name}.json"))
st = json.load(open(f"{tmp}/{name}.stats"))
want = [l.strip() for l in open(corpus) if l.strip()]
seen = collections.Counter(l.rstrip("\n").split("\t")[2] for l in open(f"{tmp}/{name}.ledger") if l.strip())
p.update({"kind": "peer", "name": name, "rc": int(rc),
          "emu_requests": st["requests"], "emu_201": st["requests_by_status"].get("201", 0),
          "emu_throttled": st["throttled"],
          "missing": len(set(want) - set(seen)), "twice": sum(1 for v in seen.values() if v > 1)})
print(json.dumps(p))
PY
}

started=$(date -u +%FT%TZ)
log "build $build; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"

# 1. Ceiling -------------------------------------------------------------------------------------
for rep in $(seq "$REPS"); do
  for wrk_mode in one distinct stack; do
    log "ceiling rep $rep/$REPS: wrk -c$CONNS ${WRK_SECONDS}s ($wrk_mode)"
    distinct=0 replayer=
    [ "$wrk_mode" != one ] && distinct=$WRK_DISTINCT
    [ "$wrk_mode" = stack ] && replayer="$build/bench/bench_transport"
    out=$(REPLAY_WITH=$replayer WRK_DISTINCT=$distinct EMULATOR_FLAGS="--ledger $tmp/wrk.ledger" \
      "$here/emulator_wrk.sh" "$build" "$WRK_SECONDS" "$CONNS" 2>&1) || { echo "$out" >&2; exit 1; }
    rm -f "$tmp/wrk.ledger"
    echo "$out" >"$tmp/wrk-$wrk_mode.$rep.out"
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    percpu=$(sed -n 's/.*; \([0-9]*\) req per server CPU-second.*/\1/p' <<<"$out")
    client_ms=$(sed -n 's/.*client CPU \([0-9.]*\) ms\/request.*/\1/p' <<<"$out")
    record "{\"kind\":\"wrk\",\"name\":\"wrk-$wrk_mode\",\"rps\":$rps,\"client_cpu_ms_per_req\":${client_ms:-null},\"emu_cpu_ms_per_req\":$(awk -v p="$percpu" 'BEGIN{print (p>0)?1000/p:0}')}"
  done
  log "ceiling rep $rep/$REPS: engine adaptive"
  engine_run "ceil-adaptive.$rep" "$tmp/ceil.txt" -- --connections "$CONNS" --rate 0
  log "ceiling rep $rep/$REPS: engine fixed 100000 (durability batched/off/strict)"
  engine_run "ceil-fixed-batched.$rep" "$tmp/ceil.txt" -- --connections "$CONNS" --fixed-rate --rate 100000 --durability batched
  engine_run "ceil-fixed-off.$rep" "$tmp/ceil.txt" -- --connections "$CONNS" --fixed-rate --rate 100000 --durability off
  engine_run "ceil-fixed-strict.$rep" "$tmp/ceil.txt" -- --connections "$CONNS" --fixed-rate --rate 100000 --durability strict
done

# 2. Throttled -----------------------------------------------------------------------------------
log "throttled: engine (emulator --rate 20 --burst 20)"
engine_run "thr-engine" "$tmp/thr.txt" --rate 20 --burst 20 -- --connections "$CONNS" --rate 0

# 3. Peers ---------------------------------------------------------------------------------------
for mode in legacy standard adaptive; do
  log "peers: boto3 $mode, $PEER_THREADS threads, ceiling"
  peer_run "ceil-boto3-$mode" "$tmp/ceil.txt" "$mode"
  log "peers: boto3 $mode, $PEER_THREADS threads, throttled"
  peer_run "thr-boto3-$mode" "$tmp/thr.txt" "$mode" --rate 20 --burst 20
done

# Report -----------------------------------------------------------------------------------------
log "done"
$py - "$results" "$started" "$REPS" "$CEIL_N" "$THR_N" "$PEER_THREADS" <<'PY'
import json, os, statistics, sys
path, started, reps, ceil_n, thr_n, threads = sys.argv[1:7]
rows = [json.loads(l) for l in open(path) if l.strip()]
def group(prefix): return [r for r in rows if r["name"].split(".")[0] == prefix]
def med(rs, k): return statistics.median(r[k] for r in rs) if rs else float("nan")
def runs(rs): return ", ".join("%.0f" % r["rps"] for r in rs)

print(f"\nstarted {started}; {reps} repetitions (medians); ceiling {ceil_n} addresses, throttled {thr_n}; "
      f"connections 32; peers {threads} threads\n")
wrk1 = group("wrk-one"); w1 = med(wrk1, "rps")
wrk = group("wrk-distinct"); w = med(wrk, "rps")
print("### Ceiling (emulator --threads 1 with a ledger, no limit, no latency)\n")
print("x wrk-one compares with wrk replaying one signed request (the issue's baseline; after the first, the "
      "server's re-invite path); x wrk with wrk replaying as many distinct requests as the engine sends "
      "(the same users created), then re-inviting them.\n")
def cpu(rs, k):
    v = [r[k] for r in rs if r.get(k) is not None]
    return "%.3f" % statistics.median(v) if v else "-"
print("| client | req/s (median) | runs | x wrk | x wrk-one | client CPU ms/req | emulator CPU ms/req | lost/twice |")
print("|---|---:|---|---:|---:|---:|---:|---|")
print(f"| wrk -c32, distinct signed requests (new users) | {w:.0f} | {runs(wrk)} | 1.00 | {w / w1:.2f} | {cpu(wrk, 'client_cpu_ms_per_req')} | {med(wrk, 'emu_cpu_ms_per_req'):.3f} | - |")
print(f"| wrk -c32, one signed request replayed | {w1:.0f} | {runs(wrk1)} | {w1 / w:.2f} | 1.00 | {cpu(wrk1, 'client_cpu_ms_per_req')} | {med(wrk1, 'emu_cpu_ms_per_req'):.3f} | - |")
stack = group("wrk-stack")
if stack:
    st = med(stack, "rps")
    print(f"| bench_transport -c32 (the engine's HTTPS stack alone), distinct signed requests | {st:.0f} | {runs(stack)} | "
          f"{st / w:.2f} | {st / w1:.2f} | {med(stack, 'client_cpu_ms_per_req'):.3f} | {med(stack, 'emu_cpu_ms_per_req'):.3f} | - |")
for name, label in [("ceil-adaptive", "engine --rate 0 (adaptive)"),
                    ("ceil-fixed-batched", "engine --fixed-rate --rate 100000, batched"),
                    ("ceil-fixed-off", "engine --fixed-rate --rate 100000, --durability off"),
                    ("ceil-fixed-strict", "engine --fixed-rate --rate 100000, --durability strict")]:
    g = group(name)
    if not g: continue
    bad = sum(r["rc"] != 0 for r in g)
    print(f"| {label} | {med(g, 'rps'):.0f} | {runs(g)} | {med(g, 'rps') / w:.2f} | {med(g, 'rps') / w1:.2f} | "
          f"{med(g, 'engine_cpu_ms_per_req'):.3f} | {med(g, 'emu_cpu_ms_per_req'):.3f} | "
          f"{sum(r['missing'] for r in g)}/{sum(r['twice'] for r in g)}{' (rc!=0: %d)' % bad if bad else ''} |")
# What 0.8 x wrk-one leaves the client: the server thread and the client share the machine's cores,
# so at rate R the client may spend (cores - R * server CPU a request) / R a request. The server's
# cost is the one it has for the engine's requests (new users), from the engine's own runs.
fixed = group("ceil-fixed-batched")
if fixed:
    cores, target = os.cpu_count(), 0.8 * w1
    emu = med(fixed, "emu_cpu_ms_per_req")
    budget = (cores * 1000 - target * emu) / target
    print(f"\nbudget at 0.8 x wrk-one ({target:.0f} req/s, {cores} cores, emulator {emu:.3f} ms CPU for each of the "
          f"engine's requests): the emulator alone needs {target * emu / 1000:.2f} cores (one thread: at most 1.00); "
          f"the client may spend {budget:.3f} ms CPU a request; the engine spent {med(fixed, 'engine_cpu_ms_per_req'):.3f}, "
          f"its HTTPS stack alone {cpu(stack, 'client_cpu_ms_per_req') if stack else '-'}")
b, o = med(group("ceil-fixed-batched"), "rps"), med(group("ceil-fixed-off"), "rps")
s = med(group("ceil-fixed-strict"), "rps")
print(f"\njournal overhead (fixed rate, medians): batched vs off {100 * (1 - b / o):+.1f}% "
      f"(target <= 5%); strict vs off {100 * (1 - s / o):+.1f}%")
for name, label in [("ceil-boto3-legacy", "boto3 legacy"), ("ceil-boto3-standard", "boto3 standard"),
                    ("ceil-boto3-adaptive", "boto3 adaptive")]:
    g = group(name)
    if g:
        r = g[0]
        rps = r["emu_requests"] / r["elapsed_seconds"]
        print(f"peer on the ceiling: {label} {threads} threads: {rps:.0f} req/s ({rps / w:.2f} x wrk), "
              f"{r['emails_per_second']:.0f} emails/s")

print("\n### Throttled (emulator --rate 20 --burst 20) and peers\n")
print("| client | scenario | emails/s | goodput (201/s / limit) | throttled (429s / requests) | "
      "batches lost (exception / unfinished) | ledger missing / twice | elapsed s |")
print("|---|---|---:|---:|---:|---|---|---:|")
def line(r, scen, limit):
    if r["kind"] == "engine":
        label, eps, el = "chime-onboard (" + ("fixed" if "fixed" in r["flags"] else "adaptive") + ", 32 conns)", r["emails_per_second"], r["elapsed"]
        lost = f"{r['failed']} addresses failed"
    else:
        label, eps, el = f"boto3 {r['mode']} ({r['threads']} threads)", r["emails_per_second"], r["elapsed_seconds"]
        lost = f"{r['failed_batches']} / {r['unfinished_batches']} of {r['batches']}"
        if r["error_codes"]: lost += " " + json.dumps(r["error_codes"])
    gp = f"{100 * r['emu_201'] / el / limit:.1f}%" if limit else f"{r['emu_201'] / el:.0f} req/s"
    thr = f"{r['emu_throttled']} / {r['emu_requests']} = {100 * r['emu_throttled'] / max(r['emu_requests'], 1):.1f}%"
    print(f"| {label} | {scen} | {eps:.0f} | {gp} | {thr} | {lost} | {r['missing']} / {r['twice']} | {el:.1f} |")
for r in group("thr-engine"): line(r, "throttled", 20)
for m in ("legacy", "standard", "adaptive"):
    for r in group(f"thr-boto3-{m}"): line(r, "throttled", 20)
for r in group("ceil-fixed-batched")[:1]: line(r, "ceiling (fixed, rep 1)", 0)
for r in group("ceil-adaptive")[:1]: line(r, "ceiling (adaptive, rep 1)", 0)
for m in ("legacy", "standard", "adaptive"):
    for r in group(f"ceil-boto3-{m}"): line(r, "ceiling", 0)
PY
