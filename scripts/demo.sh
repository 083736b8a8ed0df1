#!/usr/bin/env bash
# The wsteer demo: installs what is missing, builds, then in network namespaces of its own runs
# three echo backends, the agent (splice datapath) and a burst of real WebSocket clients, prints
# how the connections spread and where the metrics are, and cleans everything up on Ctrl-C.
# Run as root. WSTEER_DEMO_ONCE=1 (or no terminal) exits after the burst instead of waiting.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

P="wsdemo$$"                       # unique names for this run
BPFFS="/sys/fs/bpf/wsteer-demo-$$"
WORK="$(mktemp -d)"
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait "${pids[@]}" 2>/dev/null || true   # the agent unpins its maps on SIGTERM
  for ns in c a b0 b1 b2; do ip netns delete "$P$ns" 2>/dev/null || true; done
  rm -rf "$WORK" "$BPFFS"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_ns() { local ns=$1; shift; nsenter --net="/run/netns/$P$ns" "$@"; }
# In the background: exec, so that $! is the program itself and cleanup can stop it.
in_ns_bg() { local ns=$1; shift; exec nsenter --net="/run/netns/$P$ns" "$@"; }

# Topology: client c and backends b0..b2, each joined to the agent namespace a by a veth pair.
for ns in c a b0 b1 b2; do ip netns add "$P$ns"; ip -n "$P$ns" link set lo up; done
join() {  # join NS DEV NET
  ip link add "$2" netns "$P$1" type veth peer name "$2" netns "${P}a"
  ip -n "$P$1" addr add "10.78.$3.2/24" dev "$2"; ip -n "$P$1" link set "$2" up
  ip -n "${P}a" addr add "10.78.$3.1/24" dev "$2"; ip -n "${P}a" link set "$2" up
  ip -n "$P$1" route add default via "10.78.$3.1"
}
join c vc 1
for i in 0 1 2; do join "b$i" "vb$i" "1$i"; done

for i in 0 1 2; do
  in_ns_bg "b$i" build/bin/wsteer-demo serve --name "b$i" --host "10.78.1$i.2" --port 9000 >"$WORK/b$i.log" 2>&1 &
  pids+=($!)
  echo "b$i 10.78.1$i.2:9000" >>"$WORK/endpoints"
done

in_ns_bg a build/bin/wsteer-agent --listen 10.78.1.1:8080 --endpoints-file "$WORK/endpoints" \
  --metrics-listen 10.78.1.1:9090 --bpffs "$BPFFS" >"$WORK/agent.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
  in_ns a bash -c 'exec 3<>/dev/tcp/10.78.1.1/9090 && printf "GET /readyz HTTP/1.0\r\n\r\n" >&3 && grep -q "200 OK" <&3' \
    2>/dev/null && break
  sleep 0.1
done

echo
echo "== 300 WebSocket clients through wsteer-agent (Maglev on Sec-WebSocket-Key, splice datapath)"
in_ns c build/bin/wsteer-demo clients --host 10.78.1.1 --port 8080 --count 300
echo
echo "== What the agent counted (its /metrics)"
in_ns a bash -c 'exec 3<>/dev/tcp/10.78.1.1/9090 && printf "GET /metrics HTTP/1.0\r\n\r\n" >&3 && cat <&3' |
  grep -E '^wsteer_(connections_total\{reason="none",result="spliced"|userspace_bytes_total|spliced_bytes_total|backend_connections_total)' || true
echo
echo "Metrics:   nsenter --net=/run/netns/${P}a curl http://10.78.1.1:9090/metrics"
echo "Maps:      bpftool map dump pinned $BPFFS/wsteer_maglev | head"
echo "Agent log: $WORK/agent.log"
if [[ "${WSTEER_DEMO_ONCE:-0}" != 1 && -t 0 ]]; then
  echo "Press Ctrl-C to stop and clean up."
  wait
fi
