#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit, privileged and e2e.
# Privileged tests need root (CAP_BPF, CAP_NET_ADMIN); without it they skip and say why, unless
# WSTEER_REQUIRE_PRIVILEGED=1 (as in CI), where a skip is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
if [[ $(id -u) -eq 0 ]] && ! mountpoint -q /sys/fs/bpf; then
  mount -t bpf bpf /sys/fs/bpf
fi
cd build
ctest --output-on-failure "$@"
