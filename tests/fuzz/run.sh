#!/usr/bin/env bash
# Runs the fuzz targets of tests/fuzz for a bounded time each, or the ThreadSanitizer tests.
#
#   tests/fuzz/run.sh [fuzz]   builds build-fuzz (clang, AIGW_FUZZ=ON: ASan+UBSan+libFuzzer) and
#                              runs every target for AIGW_FUZZ_SECONDS (default 60) from its
#                              committed corpus, AIGW_FUZZ_JOBS (default 2) targets at a time,
#                              leak detection on. A crash, leak, timeout or out-of-memory input is
#                              copied to tests/fuzz/regressions/<target>/ (commit it: ctest replays
#                              it in every build) and the script fails.
#   tests/fuzz/run.sh tsan     builds build-tsan (AIGW_TSAN=ON) and runs the tests that exercise
#                              threads (the MCP server loop and its reader thread, the HTTP client's
#                              curl multi and batches, the ARM client's concurrent requests and
#                              polling, the change pipeline) under ThreadSanitizer; a report fails.
# AIGW_FUZZ_TARGETS limits the fuzz run to some targets ("policy mcp"). Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
mode=${1:-fuzz}
jobs=${AIGW_FUZZ_JOBS:-2}

if [ "$mode" = tsan ]; then
  # e2e.concurrency: the real binary's worker threads under concurrent calls (issue 15)
  # e2e.failover_drill: a drill's worker leaving its lane, the recovery thread, deferred signals (issue 18)
  tests='unit\.test_(mcp|http_client|arm_client|arm_polling|tools_change|tools_change_sim|tools_drill)$|e2e\.(concurrency|failover_drill)$'
  cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DAIGW_TSAN=ON >/dev/null
  cmake --build build-tsan -j"$jobs" --target apim-sim test_mcp test_http_client test_arm_client test_arm_polling \
    test_tools_change test_tools_change_sim test_tools_drill azure-ai-gateway-mcp aigw-engine
  # halt at the first report: a data race fails the test instead of scrolling by
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$root/tests/fuzz/tsan.supp ${TSAN_OPTIONS:-}" \
    ctest --test-dir build-tsan -j"$jobs" --output-on-failure -R "$tests"
  exit 0
fi
[ "$mode" = fuzz ] || { echo "usage: $0 [fuzz|tsan]" >&2; exit 2; }

seconds=${AIGW_FUZZ_SECONDS:-60}
targets=${AIGW_FUZZ_TARGETS:-"policy mcp parsers token sim"}
cc=${AIGW_FUZZ_CC:-clang}
command -v "$cc" >/dev/null || { echo "$0: $cc not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }
CC=$cc cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DAIGW_FUZZ=ON >/dev/null
cmake --build build-fuzz -j"$jobs" --target $(for t in $targets; do printf 'fuzz_%s ' "$t"; done)

out=build-fuzz/fuzz-runs
rm -rf "$out"
mkdir -p "$out"
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}"

run_one() {
  local t=$1 dir=$out/$1
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp tests/fuzz/corpus/"$t"/* "$dir/corpus/"
  mkdir -p tests/fuzz/regressions/"$t"
  local rc=0
  build-fuzz/tests/fuzz/fuzz_"$t" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2560 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$dir/artifacts/" "$dir/corpus" tests/fuzz/regressions/"$t" \
    >"$dir/log" 2>&1 || rc=$?
  echo "$rc" >"$dir/rc"
}

running=0
for t in $targets; do
  if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); fi
  run_one "$t" &
  running=$((running + 1))
done
wait

failed=0
printf '%-8s %10s %8s %8s %7s %8s  %s\n' target execs exec/s cov ft corpus result
for t in $targets; do
  log=$out/$t/log
  rc=$(cat "$out/$t/rc")
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+[[:space:]]+(DONE|NEW|REDUCE|pulse|INITED)' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
  eps=$(sed -n 's/.* exec\/s: \([0-9]*\).*/\1/p' <<<"$last")
  result=ok
  if [ "$rc" != 0 ]; then
    failed=1
    result="FAILED (exit $rc)"
    mkdir -p tests/fuzz/regressions/"$t"
    for a in "$out/$t"/artifacts/*; do
      [ -e "$a" ] || continue
      cp "$a" tests/fuzz/regressions/"$t"/
      result="$result: kept tests/fuzz/regressions/$t/$(basename "$a")"
    done
    echo "---- fuzz_$t log (last 60 lines) ----" >&2
    tail -60 "$log" >&2
  fi
  printf '%-8s %10s %8s %8s %7s %8s  %s\n' "$t" "${execs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result"
done | tee "$out/summary"
grep -q FAILED "$out/summary" && failed=1
exit $failed
