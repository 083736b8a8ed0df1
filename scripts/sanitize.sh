#!/usr/bin/env bash
# ASan + UBSan (+ LSan) build of everything into build-asan/, then the unit and e2e tiers, and the
# privileged tier when running as root. Any sanitizer report from any process fails the run: the
# test binaries AND the wsteer-agent / echo servers the e2e tests spawn (build-asan/bin, found
# through WSTEER_BIN_DIR) write their reports to build-asan/sanitizer-logs/, checked at the end,
# because a spawned agent's stderr is not always shown by the test that ran it.
#   scripts/sanitize.sh [extra ctest args, e.g. -R session_test]
# The container image test (label image) and the chart checks (packaging) are left out: no C++ of
# ours runs in them under this build.
# Uses the default compiler (gcc), like the main build; the fuzzers (scripts/fuzz.sh) need clang.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=${WSTEER_JOBS:-2}
flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWSTEER_BUILD_BENCHMARKS=OFF \
  -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
cmake --build build-asan -j"$jobs"

if [[ $(id -u) -eq 0 ]] && ! mountpoint -q /sys/fs/bpf; then
  mount -t bpf bpf /sys/fs/bpf
fi
logs=$root/build-asan/sanitizer-logs
rm -rf "$logs" && mkdir -p "$logs"
# halt_on_error: the first report ends the process (with -fno-sanitize-recover UBSan already does).
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0:log_path=$logs/asan:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$logs/ubsan:${UBSAN_OPTIONS:-}"
export LSAN_OPTIONS="suppressions=$root/tests/sanitize/lsan.supp:print_suppressions=0:${LSAN_OPTIONS:-}"
labels='unit|e2e'
[[ $(id -u) -eq 0 ]] && labels='unit|privileged|e2e'
status=0
(cd build-asan && ctest --output-on-failure -L "$labels" -LE "packaging|image" "$@") || status=$?
if compgen -G "$logs/*" >/dev/null; then
  echo "sanitize: sanitizer reports (from tests or the processes they spawned):" >&2
  for f in "$logs"/*; do echo "=== $f" >&2; cat "$f" >&2; done
  status=1
fi
exit $status
