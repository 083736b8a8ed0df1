#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit, privileged and e2e; then the fuzzers
# briefly, and the sanitizer build's tests when WSTEER_SANITIZE=1.
# Privileged tests need root (CAP_BPF, CAP_NET_ADMIN); without it they skip and say why, unless
# WSTEER_REQUIRE_PRIVILEGED=1 (as in CI), where a skip is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
if [[ $(id -u) -eq 0 ]] && ! mountpoint -q /sys/fs/bpf; then
  mount -t bpf bpf /sys/fs/bpf
fi
(cd build && ctest --output-on-failure "$@")
# Hardening (README): the fuzzers' short run always (WSTEER_FUZZ_SECONDS per target, 0 skips it);
# the ASan+UBSan build of the unit and e2e tiers when WSTEER_SANITIZE=1.
fuzz_seconds=${WSTEER_FUZZ_SECONDS:-20}
if [[ $fuzz_seconds != 0 ]]; then scripts/fuzz.sh "$fuzz_seconds"; fi
if [[ ${WSTEER_SANITIZE:-0} == 1 ]]; then scripts/sanitize.sh; fi
