#!/usr/bin/env bash
# The socket.io scenario (issue 16): real socket.io servers (tests/node-socketio/server.js), one
# per backend namespace, and socket.io-client clients from the one client namespace (one IP),
# through wsteer (splice datapath, sticky cookie), HAProxy (cookie insert) and nginx (ip_hash).
# For each target and transport mode (default: long-polling, then the upgrade; websocket: only
# WebSocket) it reports sessions per second, how they spread over the servers (largest share over
# the mean), failed sessions and the servers' "Session ID unknown" errors.
#
#   sudo scripts/bench/socketio.sh [--clients 600] [--concurrency 30] [--targets wsteer-splice,haproxy,nginx]
#
# Uses lib/topology.sh and lib/targets.sh (the same namespaces and proxy start/stop as run.sh,
# with the templates of conf/socketio/). Prints a Markdown table on stdout; raw JSON lines and logs
# go to a temp folder kept with WSTEER_BENCH_KEEP=1. Needs scripts/install-deps.sh (bench, test).
set -euo pipefail
{
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/scripts/bench"
CLIENTS=600 CONCURRENCY=30 TARGETS="wsteer-splice,haproxy,nginx"
while (($#)); do
  case $1 in
    --clients) CLIENTS=$2; shift ;;
    --concurrency) CONCURRENCY=$2; shift ;;
    --targets) TARGETS=$2; shift ;;
    -h | --help) sed -n 2,15p "$0"; exit 0 ;;
    *) echo "unknown option '$1'" >&2; exit 2 ;;
  esac
  shift
done
[[ $(id -u) -eq 0 ]] || { echo "socketio.sh needs root (network namespaces, BPF)" >&2; exit 1; }
MODULES="$ROOT/.tools/node-socketio/node_modules"
[[ -d $MODULES/socket.io && -d $MODULES/socket.io-client ]] || { echo "no $MODULES: run scripts/install-deps.sh" >&2; exit 1; }
for tool in node haproxy nginx jq nsenter; do
  command -v "$tool" >/dev/null || { echo "missing '$tool': run scripts/install-deps.sh" >&2; exit 1; }
done
export NODE_PATH="$MODULES"

source "$HERE/lib/topology.sh"
source "$HERE/lib/targets.sh"
BENCH_PREFIX="wsio$$" BENCH_NAMESPACES=() BENCH_BACKENDS=3 BENCH_WORKERS=1
BENCH_WORK="$(mktemp -d /tmp/wsteer-socketio.XXXXXX)"
BENCH_BIN="${WSTEER_BIN:-$ROOT/build/bin}" BENCH_CONF="$HERE/conf/socketio"
ulimit -n 65536 2>/dev/null || true
BENCH_NOFILE=$(ulimit -n)
echo "0123456789abcdef0123456789abcdef" >"$BENCH_WORK/secret"
BENCH_AGENT_ARGS=(--sticky-cookie io-backend --cookie-secret-file "$BENCH_WORK/secret")
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
server_pids=()

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  target_stop
  for pid in "${server_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${server_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  topology_down
  if [[ ${WSTEER_BENCH_KEEP:-0} == 1 ]]; then echo "kept $BENCH_WORK" >&2; else rm -rf "$BENCH_WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

topology_up
: >"$BENCH_WORK/endpoints"
for ((i = 0; i < BENCH_BACKENDS; i++)); do
  in_ns_bg "b$i" node "$ROOT/tests/node-socketio/server.js" "b$i" "$(backend_ip "$i")" "$BENCH_BACKEND_PORT" \
    >"$BENCH_WORK/server-b$i.log" 2>&1 &
  server_pids+=($!)
  echo "b$i $(backend_ip "$i"):$BENCH_BACKEND_PORT" >>"$BENCH_WORK/endpoints"
done
for ((i = 0; i < BENCH_BACKENDS; i++)); do
  for _ in $(seq 100); do grep -q listening "$BENCH_WORK/server-b$i.log" && continue 2; sleep 0.1; done
  echo "socket.io server b$i did not come up:" >&2; cat "$BENCH_WORK/server-b$i.log" >&2; exit 1
done
unknown_sessions() { cat "$BENCH_WORK"/server-b*.log | grep -c 'Session ID unknown' || true; }

echo "| target | transports | sessions/s | failed | b0 / b1 / b2 | largest share / mean | Session ID unknown |"
echo "|---|---|---:|---:|---|---:|---:|"
IFS=, read -r -a targets <<<"$TARGETS"
for t in "${targets[@]}"; do
  for mode in default websocket; do
    target_start "$t" "$BENCH_WORK/$t.$mode.proxy.log" || { echo "| $t | $mode | did not start | | | | |"; target_stop; continue; }
    before=$(unknown_sessions)
    out="$BENCH_WORK/$t.$mode.json"
    in_ns c timeout 300 node "$ROOT/tests/node-socketio/client.js" --url "http://$BENCH_PROXY_IP:$BENCH_PROXY_PORT" \
      --count "$CLIENTS" --concurrency "$CONCURRENCY" --transports "$mode" >"$out" 2>"$BENCH_WORK/$t.$mode.client.log" || true
    target_stop
    unknown=$(($(unknown_sessions) - before))
    jq -r --arg t "$t" --arg mode "$mode" --argjson unknown "$unknown" '
      [.backends.b0 // 0, .backends.b1 // 0, .backends.b2 // 0] as $b
      | ($b | add) as $sum
      | "| \($t) | \($mode) | \(.per_second | floor) | \(.failed) | \($b | map(tostring) | join(" / ")) | "
        + (if $sum > 0 then (($b | max) / ($sum / 3) * 100 | floor) / 100 | tostring else "-" end)
        + " | \($unknown) |"' "$out" || echo "| $t | $mode | no result (see $out) | | | | |"
    jq -c --arg t "$t" --arg mode "$mode" '. + {target: $t}' "$out" >>"$BENCH_WORK/raw.jsonl" 2>/dev/null || true
  done
done
exit 0
}
