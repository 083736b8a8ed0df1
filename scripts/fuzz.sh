#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang into build-fuzz/ and runs each over its seed
# corpus for N seconds (default 30). Fails on the first crash, leak, UBSan report or timeout; the
# input that did it is left in build-fuzz/findings/<target>/ (add it to the corpus as a regression
# input once fixed). New inputs the fuzzer finds go to build-fuzz/corpus/<target>/, not to the tree.
#   scripts/fuzz.sh [seconds-per-target] [target...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
jobs=${WSTEER_JOBS:-2}
cmake -S . -B build-fuzz -DWSTEER_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
targets=("$@")
((${#targets[@]})) || targets=(fuzz_handshake fuzz_sticky_cookie fuzz_endpoints_file fuzz_agent_config fuzz_endpoint_slices)
cmake --build build-fuzz -j"$jobs" --target "${targets[@]}"

export ASAN_OPTIONS="detect_leaks=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}"
for t in "${targets[@]}"; do
  seeds=tests/fuzz/corpus/$t
  work=build-fuzz/corpus/$t
  findings=build-fuzz/findings/$t
  mkdir -p "$work" "$findings"
  echo "fuzz: $t for ${seconds}s (seeds $seeds)"
  # The first folder collects new inputs; the seeds are only read. -timeout: an input taking more
  # than 10 s is a hang. -max_len: the agent reads at most an 8 KiB head; configs and files stay small.
  if ! build-fuzz/fuzz/"$t" "$work" "$seeds" -max_total_time="$seconds" -timeout=10 -max_len=16384 \
      -artifact_prefix="$findings/" -print_final_stats=1 >"build-fuzz/$t.log" 2>&1; then
    tail -n 60 "build-fuzz/$t.log" >&2
    echo "fuzz: $t FAILED; reproducer in $findings/ (log build-fuzz/$t.log)" >&2
    exit 1
  fi
  grep -E "^stat::number_of_executed_units|^stat::new_units_added" "build-fuzz/$t.log" | tr '\n' ' '
  echo
done
echo "fuzz: all ${#targets[@]} targets ran ${seconds}s each without a finding"
