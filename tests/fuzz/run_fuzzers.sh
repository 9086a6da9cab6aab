#!/usr/bin/env bash
# Runs every fuzz target of BUILD_DIR (a -DSKIPTRAIN_FUZZ=ON build) for FUZZ_SECONDS
# each (default 60) on a fresh seed corpus plus what earlier runs found, and prints one
# line per target: executions and crashes. Exits 1 when any target crashed; the crashing
# input is in BUILD_DIR/artifacts/<target>/ (keep it in tests/fuzz/regressions/<target>/).
set -euo pipefail
build=${1:?usage: run_fuzzers.sh BUILD_DIR}
seconds=${FUZZ_SECONDS:-60}
# One thread per fuzzer: the machine is shared, and libFuzzer is single-threaded anyway.
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE

rm -rf "$build/seeds"
"$build/tests/fuzz/make_fuzz_corpus" "$build/seeds"
failed=0
for target in idx cifar checkpoint; do
  corpus="$build/corpus/$target" artifacts="$build/artifacts/$target" log="$build/fuzz_$target.log"
  rm -rf "$artifacts"  # crashes of earlier runs belong in tests/fuzz/regressions by now
  mkdir -p "$corpus" "$artifacts"
  rc=0
  "$build/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" "$build/seeds/$target" >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  crashes=$(find "$artifacts" -type f | wc -l)
  echo "fuzz_$target: ${runs:-?} executions in ${seconds}s, exit $rc, crash inputs in $artifacts: $crashes"
  if [ "$rc" != 0 ]; then
    failed=1
    grep -m1 -A12 -E 'ERROR|runtime error|deadly signal|terminate' "$log" || tail -20 "$log"
  fi
done
exit $failed
