#!/usr/bin/env bash
# The container image, run the way the DaemonSet runs it, splicing real WebSocket traffic.
#   tests/image/image_e2e.sh BIN_DIR        (BIN_DIR holds the host's wsteer-demo)
# Builds localhost/wsteer-agent:dev when it is absent (scripts/image/build.sh: minutes), then in
# network namespaces of its own (client, agent, two echo backends, joined by veth pairs) runs the
# image with podman: --cap-drop=ALL plus only the capabilities listed in WSTEER_IMAGE_CAPS, the
# default seccomp profile with bpf() gated on CAP_BPF (scripts/image/seccomp.sh), a read-only
# root filesystem, a bpffs folder of its own mounted at /sys/fs/bpf and the config as a
# mounted file. Checks that
#   1. WebSocket traffic flows client -> agent -> backends with every byte compared,
#   2. the kernel carried it: wsteerctl in the container lists the live flow with its bytes, and
#      /metrics counts the bytes as spliced while the agent read only the handshakes,
#   3. the list is minimal: without any one of its capabilities the agent fails.
# Needs root; skips (exit 77) without it, fails instead when WSTEER_REQUIRE_PRIVILEGED=1.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=scripts/image/common.sh
source "$HERE/../../scripts/image/common.sh"
BIN_DIR="${1:-$WSTEER_ROOT/build/bin}"
# The measured minimal set (docs/container.md); override to try another.
CAPS="${WSTEER_IMAGE_CAPS:-BPF,NET_ADMIN,PERFMON}"

skip() {
  if [[ "${WSTEER_REQUIRE_PRIVILEGED:-0}" == 1 ]]; then
    echo "FAIL: cannot run ($1) and WSTEER_REQUIRE_PRIVILEGED=1" >&2
    exit 1
  fi
  echo "SKIP: $1"
  exit 77
}
[[ $(id -u) -eq 0 ]] || skip "needs root (network namespaces, podman's root storage, bpffs)"
command -v podman >/dev/null || skip "podman is not installed (WSTEER_DEPS=containers scripts/install-deps.sh)"
[[ -x "$BIN_DIR/wsteer-demo" ]] || skip "no $BIN_DIR/wsteer-demo (build it: cmake --build build --target wsteer-demo)"
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

if ! wsteer_image_exists "$WSTEER_IMAGE"; then
  echo "== $WSTEER_IMAGE is absent: building it (compiles inside the container, takes minutes)"
  "$WSTEER_ROOT/scripts/image/build.sh" >/dev/null
fi

P="wsimg$$"                                # unique names for this run
BPFDIR="/sys/fs/bpf/wsteer-image-test-$$"  # the container's /sys/fs/bpf
WORK="$(mktemp -d)"
containers=()
pids=()

cleanup() {
  local rc=$?
  for c in "${containers[@]}"; do wsteer_podman rm -f -t 2 "$c" >/dev/null 2>&1 || true; done
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait "${pids[@]}" 2>/dev/null || true
  for ns in c a b0 b1; do ip netns delete "$P$ns" 2>/dev/null || true; done
  rm -rf "$BPFDIR" "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "FAIL: $*" >&2
  for c in "${containers[@]}"; do
    echo "--- logs of $c" >&2
    wsteer_podman logs "$c" 2>&1 | tail -n 20 >&2 || true
  done
  exit 1
}

in_ns() { local ns=$1; shift; nsenter --net="/run/netns/$P$ns" "$@"; }
in_ns_bg() { local ns=$1; shift; exec nsenter --net="/run/netns/$P$ns" "$@"; }

# An HTTP GET inside the agent's namespace: prints the body, fails on a non-200 answer.
http_get() {
  in_ns a /usr/bin/python3 -c 'import sys, urllib.request
sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode())' "$1" 2>/dev/null
}
metric() {  # metric NAME_AND_LABELS: its value in the agent's /metrics (0 when absent)
  http_get http://10.79.1.1:9090/metrics | awk -v m="$1" '$1 == m { printf "%d\n", $2; found = 1 } END { if (!found) print 0 }'
}

# Topology: client c and backends b0, b1, each joined to the agent namespace a by a veth pair.
for ns in c a b0 b1; do ip netns add "$P$ns"; ip -n "$P$ns" link set lo up; done
join() {  # join NS DEV NET
  ip link add "$2" netns "$P$1" type veth peer name "$2" netns "${P}a"
  ip -n "$P$1" addr add "10.79.$3.2/24" dev "$2"; ip -n "$P$1" link set "$2" up
  ip -n "${P}a" addr add "10.79.$3.1/24" dev "$2"; ip -n "${P}a" link set "$2" up
  ip -n "$P$1" route add default via "10.79.$3.1"
}
join c vc 1
join b0 vb0 10
join b1 vb1 11

mkdir -p "$WORK/etc" "$BPFDIR"
# podman's default seccomp profile, with bpf() allowed to CAP_BPF as Docker's and containerd's are
# (Debian 12's podman allows it only with CAP_SYS_ADMIN).
"$WSTEER_IMAGE_DIR/seccomp.sh" "$WORK/seccomp.json"
for i in 0 1; do
  in_ns_bg "b$i" "$BIN_DIR/wsteer-demo" serve --name "b$i" --host "10.79.1$i.2" --port 9000 >"$WORK/b$i.log" 2>&1 &
  pids+=($!)
  echo "b$i 10.79.1$i.2:9000" >>"$WORK/etc/endpoints"
done
cat >"$WORK/etc/wsteer.yaml" <<EOF
listen: 10.79.1.1:8080
endpoints-file: /etc/wsteer/endpoints
metrics-listen: 10.79.1.1:9090
bpffs: /sys/fs/bpf/wsteer
shutdown-grace: 1
EOF

# run_agent NAME CAPS: the image as the DaemonSet runs it, with only CAPS (comma-separated).
run_agent() {
  local name="$1" caps="$2" capflags=()
  [[ -n $caps ]] && capflags=(--cap-add "$caps")
  containers+=("$name")
  wsteer_podman run -d --name "$name" \
    --network "ns:/run/netns/${P}a" \
    --cap-drop ALL "${capflags[@]}" \
    --read-only \
    --security-opt "seccomp=$WORK/seccomp.json" \
    --ulimit nofile=16384:16384 --ulimit nproc=4096:4096 \
    -v "$BPFDIR:/sys/fs/bpf" \
    -v "$WORK/etc:/etc/wsteer:ro" \
    "$WSTEER_IMAGE" --config /etc/wsteer/wsteer.yaml >/dev/null
}
# Waits up to 20 s for the container to be running with /healthz and /readyz at 200.
wait_healthy() {
  local name="$1"
  for _ in $(seq 100); do
    [[ $(wsteer_podman inspect -f '{{.State.Running}}' "$name" 2>/dev/null) == true ]] || return 1
    http_get http://10.79.1.1:9090/healthz >/dev/null && http_get http://10.79.1.1:9090/readyz >/dev/null && return 0
    sleep 0.2
  done
  return 1
}
stop_agent() {
  wsteer_podman rm -f -t 5 "$1" >/dev/null 2>&1 || true
  rm -rf "${BPFDIR:?}/wsteer"
}

echo "== image $WSTEER_IMAGE ($(($(wsteer_podman image inspect -f '{{.Size}}' "$WSTEER_IMAGE") / 1000000)) MB), capabilities $CAPS, read-only root"
agent="${P}-agent"
run_agent "$agent" "$CAPS"
wait_healthy "$agent" || fail "the agent with $CAPS did not become healthy and ready"
effective=$(wsteer_podman exec "$agent" sh -c 'grep CapEff /proc/1/status' | awk '{print $2}')
echo "agent up; its effective capability mask: $effective"

echo "== 200 WebSocket clients through the agent in the container"
in_ns c "$BIN_DIR/wsteer-demo" clients --host 10.79.1.1 --port 8080 --count 200 | tee "$WORK/burst.out"
grep -q '^200 connections echoed, 0 failed' "$WORK/burst.out" || fail "not every client got its echo"
for b in b0 b1; do
  grep -qE "^  $b +[1-9]" "$WORK/burst.out" || fail "backend $b got no connection"
done

echo "== 4 MiB in 64 KiB messages over one connection, every byte compared, flow held open"
in_ns c /usr/bin/python3 "$HERE/ws_check.py" --host 10.79.1.1 --port 8080 --bytes $((4 << 20)) \
  --hold "$WORK/held" --release "$WORK/release" >"$WORK/ws_check.out" 2>&1 &
checker=$!
pids+=("$checker")
for _ in $(seq 300); do [[ -e "$WORK/held" ]] || ! kill -0 "$checker" 2>/dev/null && break; sleep 0.1; done
[[ -e "$WORK/held" ]] || fail "the 4 MiB echo did not complete: $(cat "$WORK/ws_check.out")"
cat "$WORK/ws_check.out"

echo "== wsteerctl in the container sees the live flow"
wsteer_podman exec "$agent" wsteerctl flows | tee "$WORK/flows.out"
flows_json=$(wsteer_podman exec "$agent" wsteerctl flows -o json)
big=$(/usr/bin/python3 -c 'import json, sys
d = json.loads(sys.argv[1])
print(sum(1 for f in d["flows"] if f["bytes_client_to_backend"] >= 4 << 20 and f["bytes_backend_to_client"] >= 4 << 20))' "$flows_json")
((big == 1)) || fail "wsteerctl flows shows no flow that the kernel moved 4 MiB each way on"
wsteer_podman exec "$agent" wsteerctl status >"$WORK/status.out" || fail "wsteerctl status failed: $(cat "$WORK/status.out")"
grep -E '^(agent|verdict|spliced flows):' "$WORK/status.out"
# The program's name needs CAP_SYS_ADMIN (BPF_PROG_GET_FD_BY_ID); its id and attachment do not.
grep -qE '^verdict: .*\(id [0-9]+\) on wsteer_spliced$' "$WORK/status.out" ||
  fail "wsteerctl status shows no verdict program attached to wsteer_spliced"
touch "$WORK/release"
wait "$checker" || fail "ws_check failed: $(cat "$WORK/ws_check.out")"

echo "== the agent's /metrics: the kernel moved the frames, the agent read only the handshakes"
spliced=$(metric 'wsteer_spliced_bytes_total{direction="client_to_backend"}')
userspace=$(metric 'wsteer_userspace_bytes_total{direction="client_to_backend"}')
conns=$(metric 'wsteer_connections_total{reason="none",result="spliced"}')
echo "spliced connections $conns, spliced bytes c>b $spliced, userspace bytes c>b $userspace"
((conns >= 201)) || fail "expected at least 201 spliced connections, the agent counts $conns"
((spliced >= 4 << 20)) || fail "expected at least 4 MiB spliced client to backend, got $spliced"
((userspace < 200 * 1024)) || fail "the agent read $userspace bytes itself: more than the 201 handshakes"
stop_agent "$agent"

# Minimal: without any one capability of the list the agent must fail (exit, or never become
# healthy and ready, or not splice a connection). Each run gets the same config and a fresh folder.
IFS=, read -r -a cap_list <<<"$CAPS"
for drop in "${cap_list[@]}"; do
  rest=$(printf '%s\n' "${cap_list[@]}" | grep -vx "$drop" | paste -sd, -)
  name="${P}-no-${drop,,}"
  echo "== without $drop (only ${rest:-no capabilities})"
  run_agent "$name" "$rest"
  if wait_healthy "$name" &&
    in_ns c /usr/bin/python3 "$HERE/ws_check.py" --host 10.79.1.1 --port 8080 --bytes 65536 >/dev/null 2>&1 &&
    (($(metric 'wsteer_spliced_bytes_total{direction="client_to_backend"}') >= 65536)); then
    fail "the agent spliced traffic without $drop: $CAPS is not minimal"
  fi
  sleep 0.5
  # The first line that names the cause (the agent's own last line is more general).
  echo "fails as it should: $(wsteer_podman logs "$name" 2>&1 |
    grep -m1 -E "cannot use helper|failed to create|Couldn't load|not permitted|cannot mount" || echo "(no log line)")"
  stop_agent "$name"
done

echo "PASS: the image splices WebSocket traffic with exactly $CAPS"
