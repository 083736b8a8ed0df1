#!/usr/bin/env bash
# CTest's entry to the benchmark smoke run (tests/bench/CMakeLists.txt). Without root it skips
# (exit 77) and says why, unless WSTEER_REQUIRE_PRIVILEGED=1 (as CI runs it): then it fails.
set -euo pipefail
if [[ $(id -u) -ne 0 ]]; then
  if [[ ${WSTEER_REQUIRE_PRIVILEGED:-} == 1 ]]; then
    echo "bench_smoke needs root (network namespaces, BPF) and WSTEER_REQUIRE_PRIVILEGED=1: failing" >&2
    exit 1
  fi
  echo "SKIPPED: bench_smoke needs root (network namespaces, BPF)"
  exit 77
fi
exec "$(dirname "$0")/run.sh" --smoke
