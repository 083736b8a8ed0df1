#!/usr/bin/env bash
# Installs whatever wsteer needs to build, test, run its demo and its benchmarks that this Debian 12
# machine lacks. Only Debian's archive is used. Safe to run again: it installs nothing twice.
#
# WSTEER_DEPS picks the groups (comma-separated; default "all"):
#   build       compile wsteer-agent and wsteerctl (the image's build stage uses only this)
#   runtime     the shared libraries those two binaries load (the image's runtime stage)
#   test        the test suites, the demo and the tools the privileged tests drive
#   bench       scripts/bench: the baselines it compares with, aggregation and chart
#   containers  the image scripts and the image test (scripts/image, tests/image)
#   lint        vagrant validate and shellcheck on the shell scripts (tests/image/lint.sh)
#   all         every group above
# WSTEER_DEPS_LIST=1 prints the selected packages instead. Steps outside apt check `want GROUP`.
set -euo pipefail

build=(
  build-essential cmake pkg-config git
  clang libbpf-dev bpftool libelf-dev zlib1g-dev linux-libc-dev
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libboost-system1.81-dev
  libssl-dev prometheus-cpp-dev libyaml-cpp-dev libcli11-dev libspdlog-dev
)
# What `ldd` lists for build/bin/wsteer-agent and wsteerctl, by owning package (dpkg -S); the
# image build fails when a library is missing from this list.
runtime=(
  libbpf1 libelf1 zlib1g libssl3 libstdc++6 libgcc-s1
  libboost-json1.81.0 libboost-url1.81.0
  libprometheus-cpp-core1.0 libyaml-cpp0.7 libspdlog1.10 libfmt9
)
test=(
  libgtest-dev libgmock-dev libbenchmark-dev
  iproute2 procps util-linux
)
bench=(haproxy nginx jq gnuplot-nox)
# Podman with Debian's runc (crun refuses this machine's hybrid cgroups); mmdebstrap makes the
# base image from the archive, as no registry is reachable; python3 runs the image test's
# WebSocket checker.
containers=(podman buildah runc uidmap conmon mmdebstrap iproute2 python3)
# vagrant-libvirt lets `vagrant validate` check the Vagrantfile's libvirt provider block.
lint=(vagrant vagrant-libvirt shellcheck)

groups="${WSTEER_DEPS:-all}"
known=",build,runtime,test,bench,containers,lint,all,"
IFS=, read -r -a asked <<<"$groups"
for g in "${asked[@]}"; do
  [[ $known == *",$g,"* ]] ||
    { echo "install-deps: unknown group '$g' in WSTEER_DEPS (${known:1:-1})" >&2; exit 2; }
done
# want GROUP: was GROUP asked for (or all)? Steps outside apt can be gated the same way.
want() { [[ ",$groups," == *",$1,"* || ",$groups," == *",all,"* ]]; }

packages=()
want build && packages+=("${build[@]}")
want runtime && packages+=("${runtime[@]}")
want test && packages+=("${test[@]}")
want bench && packages+=("${bench[@]}")
want containers && packages+=("${containers[@]}")
want lint && packages+=("${lint[@]}")
# WSTEER_DEPS_LIST=1: print the selected packages instead of installing them.
if [[ "${WSTEER_DEPS_LIST:-0}" == 1 ]]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi

missing=()
for p in "${packages[@]}"; do
  [[ " ${missing[*]} " == *" $p "* ]] && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "wsteer: installing ${missing[*]}"
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
