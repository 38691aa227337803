#!/usr/bin/env bash
# run_fuzzers.sh BUILD_DIR SECONDS: runs every fuzz_* target in BUILD_DIR/tests for SECONDS each,
# starting from a temporary copy of its seed corpus (tests/fuzz/corpus/<name>/; the repository is
# never modified), and prints a table of executions/s and coverage (libFuzzer's final cov:/ft:).
# Exits non-zero if any target crashed, leaked, timed out or ran out of memory; the input that did
# it is kept and its path printed. Logs stay in the work folder (printed at the end).
#   tests/fuzz/run_fuzzers.sh build/fuzz 60
#   FUZZ_ONLY=normalize tests/fuzz/run_fuzzers.sh build/fuzz 10     # one target
set -uo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 BUILD_DIR SECONDS" >&2
  exit 2
fi
build=$(cd "$1" && pwd) || exit 2
seconds=$2
here=$(cd "$(dirname "$0")" && pwd)
work=${FUZZ_WORK_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/onboard-fuzz.XXXXXX")}
mkdir -p "$work"

# Longest input per target: enough for several records / a full request, small enough to stay fast.
declare -A max_len=(
  [corpus_reader]=4096 [normalize]=512 [chime_decode]=4096 [http_response]=4096
  [journal_replay]=8192 [sigv4_verify]=2048 [emulator_service]=4096
)

mapfile -t targets < <(find "$build/tests" -maxdepth 1 -type f -name 'fuzz_*' -perm -u+x | sort)
if [[ ${#targets[@]} -eq 0 ]]; then
  echo "no fuzz_* executables in $build/tests (build the 'fuzz' preset first)" >&2
  exit 2
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=0
rows=()
for exe in "${targets[@]}"; do
  name=$(basename "$exe"); name=${name#fuzz_}
  [[ -n "${FUZZ_ONLY:-}" && "$name" != "$FUZZ_ONLY" ]] && continue
  corpus="$work/$name/corpus"; artifacts="$work/$name/artifacts/"; log="$work/$name/fuzz.log"
  mkdir -p "$corpus" "$artifacts"
  [[ -d "$here/corpus/$name" ]] && cp -r "$here/corpus/$name/." "$corpus/"
  seeds=$(find "$corpus" -type f | wc -l)
  echo "== fuzz_$name: ${seconds}s from $seeds seeds" >&2
  start=$(date +%s.%N)
  # (cd: libFuzzer writes crash-*/leak-*/timeout-* under -artifact_prefix, nothing in the cwd)
  (cd "$work/$name" && "$exe" "$corpus" -max_total_time="$seconds" -max_len="${max_len[$name]:-4096}" \
      -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$artifacts" -print_final_stats=1 \
      -close_fd_mask=1) >"$log" 2>&1
  rc=$?
  elapsed=$(echo "$(date +%s.%N) - $start" | bc)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  # The last status line ("#N DONE cov: X ft: Y corp: ...") or the last pulse.
  last=$(grep -E '^#[0-9]+.*cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
  cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last"); ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$last")
  status=ok
  crash=$(find "$artifacts" -type f 2>/dev/null | head -1)
  if [[ $rc -ne 0 || -n "$crash" ]]; then
    status="FAIL(rc=$rc)"
    failed=1
    echo "!! fuzz_$name failed (exit $rc); input: ${crash:-<none saved>}; log: $log" >&2
    grep -E 'ERROR: |runtime error|SUMMARY|Test unit written' "$log" | head -5 >&2
  fi
  rows+=("$(printf '%-18s %10s %10s %7s %7s %12s %7.0f  %s' "$name" "${execs:-?}" "${eps:-?}" \
              "${cov:-?}" "${ft:-?}" "${corp:-?}" "$elapsed" "$status${crash:+ $crash}")")
done

printf '\n%-18s %10s %10s %7s %7s %12s %7s  %s\n' target execs execs/s cov ft corpus seconds status
for r in "${rows[@]}"; do echo "$r"; done
echo "(work folder with logs and corpora: $work)"
exit $failed
