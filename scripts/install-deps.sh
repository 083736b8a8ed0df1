#!/usr/bin/env bash
# Installs whatever wsteer needs to build, test, run its demo and its benchmarks that this Debian 12
# machine lacks. Only Debian's archive is used. Safe to run again: it installs nothing twice.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  clang libbpf-dev bpftool libelf-dev zlib1g-dev linux-libc-dev
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libboost-system1.81-dev
  libssl-dev prometheus-cpp-dev libgtest-dev libgmock-dev libbenchmark-dev
  libyaml-cpp-dev libcli11-dev libspdlog-dev
  iproute2 procps util-linux
  # scripts/bench: the baselines it compares with, the report's aggregation and its chart
  haproxy nginx jq gnuplot-nox
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "wsteer: installing ${missing[*]}"
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
