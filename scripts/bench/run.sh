#!/usr/bin/env bash
# wsteer side by side: the same WebSocket workloads, with the same load generator and the same
# backends, through a direct route, wsteer (splice and userspace datapaths), HAProxy and nginx.
#
#   sudo scripts/bench/run.sh [--smoke] [--reps 3] [--out docs/benchmarks.md] [--workers 1]
#
# Builds (incrementally), creates network namespaces of its own (client, proxy, backends; see
# lib/topology.sh), starts `wsteer-bench --serve` backends, then runs every workload against every
# target, interleaved (rep 1 of every workload and target, then rep 2, ...), each proxy started
# fresh for each measurement. Raw JSON lines, medians and logs go to a results folder; the
# Markdown report and its chart go to --out. Everything it started or created is removed on exit
# and on Ctrl-C. --smoke: 1 rep of ~1 s per workload with tiny counts, report in a temp dir, exits
# non-zero if any target failed to pass traffic.
set -euo pipefail
# One compound command: bash parses all of it before running, so editing this file during a
# run cannot change what the run does.
{
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/scripts/bench"

usage() {
  cat <<EOF
usage: $0 [options]
  --smoke                 every target and workload for ~1 s, tiny counts, 1 rep; report in a temp dir
  --reps N                repetitions, medians reported (default 3)
  --out FILE              Markdown report (default docs/benchmarks.md; chart beside it)
  --results DIR           raw results folder (default bench-results/<UTC time>)
  --workers N             worker threads of every proxy (default 1)
  --backends N            backends (default 2)
  --backend-threads N     threads of each backend (default: CPUs)
  --client-threads N      threads of the load generator (default: CPUs)
  --duration S            measured seconds per pingpong/stream/churn run (default 10)
  --idle-connections N    connections of the idle workload (default 10000)
  --idle-duration S       measured seconds of the idle workload (default 20)
  --targets LIST          comma-separated subset of: direct,wsteer-splice,wsteer-userspace,haproxy,nginx
  --workloads LIST        comma-separated subset of: pingpong-1,pingpong-100,stream-1,stream-100,idle,churn
  --agent-arg ARG         one more wsteer-agent flag (repeatable), e.g. --agent-arg=--splice-buffer-limit=0
  --note TEXT             a remark printed at the top of the report (e.g. how busy the machine was)
EOF
}

ARGS="$*"
BENCH_SMOKE=0 REPS=3 OUT="" RESULTS="" BENCH_WORKERS=1 BENCH_BACKENDS=2
BENCH_BACKEND_THREADS=$(nproc) BENCH_CLIENT_THREADS=$(nproc)
BENCH_DURATION=10 BENCH_IDLE_CONNECTIONS=10000 BENCH_IDLE_DURATION=20 TARGETS="" WORKLOADS="" NOTE=""
reps_given=0 idle_given=0
BENCH_AGENT_ARGS=()
while (($#)); do
  [[ $1 == --smoke || $1 == -h || $1 == --help || $# -ge 2 ]] || { echo "$1 needs a value" >&2; exit 2; }
  case $1 in
    --smoke) BENCH_SMOKE=1 ;;
    --reps) REPS=$2; reps_given=1; shift ;;
    --out) OUT=$2; shift ;;
    --results) RESULTS=$2; shift ;;
    --workers) BENCH_WORKERS=$2; shift ;;
    --backends) BENCH_BACKENDS=$2; shift ;;
    --backend-threads) BENCH_BACKEND_THREADS=$2; shift ;;
    --client-threads) BENCH_CLIENT_THREADS=$2; shift ;;
    --duration) BENCH_DURATION=$2; shift ;;
    --idle-connections) BENCH_IDLE_CONNECTIONS=$2; idle_given=1; shift ;;
    --idle-duration) BENCH_IDLE_DURATION=$2; shift ;;
    --targets) TARGETS=$2; shift ;;
    --agent-arg=*) BENCH_AGENT_ARGS+=("${1#--agent-arg=}") ;;
    --agent-arg) BENCH_AGENT_ARGS+=("$2"); shift ;;
    --workloads) WORKLOADS=$2; shift ;;
    --note) NOTE=$2; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
for v in REPS BENCH_WORKERS BENCH_BACKENDS BENCH_BACKEND_THREADS BENCH_CLIENT_THREADS BENCH_IDLE_CONNECTIONS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "${v}: expected a positive integer, got '${!v}'" >&2; exit 2; }
done
for v in BENCH_DURATION BENCH_IDLE_DURATION; do
  [[ ${!v} =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "${v}: expected seconds, got '${!v}'" >&2; exit 2; }
done
((BENCH_BACKENDS <= 50)) || { echo "--backends: at most 50" >&2; exit 2; }

source "$HERE/lib/topology.sh"
source "$HERE/lib/targets.sh"
source "$HERE/lib/workloads.sh"
source "$HERE/lib/measure.sh"
BENCH_CONF="$HERE/conf"

BENCH_WARMUP=1
if [[ $BENCH_SMOKE == 1 ]]; then
  ((reps_given)) || REPS=1
  ((idle_given)) || BENCH_IDLE_CONNECTIONS=100
  BENCH_DURATION=1 BENCH_IDLE_DURATION=1 BENCH_WARMUP=0
fi
IFS=, read -r -a targets <<<"${TARGETS:-$(IFS=,; echo "${BENCH_TARGETS_ALL[*]}")}"
IFS=, read -r -a workloads <<<"${WORKLOADS:-$(IFS=,; echo "${BENCH_WORKLOADS_ALL[*]}")}"
for t in "${targets[@]}"; do [[ " ${BENCH_TARGETS_ALL[*]} " == *" $t "* ]] || { echo "unknown target '$t'" >&2; exit 2; }; done
for w in "${workloads[@]}"; do workload_args "$w" >/dev/null || exit 2; done

[[ $(id -u) -eq 0 ]] || { echo "run.sh needs root (network namespaces, BPF)" >&2; exit 1; }
for tool in haproxy nginx jq gnuplot ip nsenter ss; do
  command -v "$tool" >/dev/null || { echo "missing '$tool': run scripts/install-deps.sh" >&2; exit 1; }
done
BENCH_BIN="${WSTEER_BIN:-$ROOT/build/bin}"
# No binaries yet: the project's build. Otherwise bring the two binaries up to date (a no-op when
# current). WSTEER_BIN: use the binaries there as they are.
if [[ -z ${WSTEER_BIN:-} ]]; then
  if [[ -x $BENCH_BIN/wsteer-agent && -x $BENCH_BIN/wsteer-bench ]]; then
    cmake --build "$ROOT/build" -j"$(nproc)" --target wsteer-agent wsteer-bench >/dev/null
  else
    "$ROOT/scripts/build.sh"
  fi
fi
for b in wsteer-agent wsteer-bench; do
  [[ -x $BENCH_BIN/$b ]] || { echo "no $BENCH_BIN/$b: build it (cmake --build build --target $b)" >&2; exit 1; }
done
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
# A proxy holds two descriptors per connection. Raise the limit as far as this machine lets us
# (a container may pin the hard limit) and keep the idle workload within it.
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"
BENCH_NOFILE=$(ulimit -n)
# 45 %: nginx needs a little more than two per proxied WebSocket (at 9,500 connections under a
# 20,000 limit it ran out of worker_connections and answered 500; at 9,000 it did not).
max_idle=$((BENCH_NOFILE * 45 / 100))
if ((BENCH_IDLE_CONNECTIONS > max_idle)); then
  echo "open-file limit $BENCH_NOFILE (hard): the idle workload uses $max_idle connections, not $BENCH_IDLE_CONNECTIONS" >&2
  BENCH_IDLE_CONNECTIONS=$max_idle
fi

BENCH_PREFIX="wsb$$"
BENCH_NAMESPACES=()
BENCH_WORK="$(mktemp -d /tmp/wsteer-bench.XXXXXX)"
STAMP="$(date -u +%Y%m%d-%H%M%S)"
if [[ $BENCH_SMOKE == 1 ]]; then
  RESULTS="${RESULTS:-$BENCH_WORK/results}"
  OUT="${OUT:-$BENCH_WORK/report/benchmarks.md}"
  [[ $(realpath -m "$OUT") != "$ROOT/docs/benchmarks.md" ]] || { echo "--smoke never writes docs/benchmarks.md" >&2; exit 2; }
else
  RESULTS="${RESULTS:-$ROOT/bench-results/$STAMP}"
  OUT="${OUT:-$ROOT/docs/benchmarks.md}"
fi
mkdir -p "$RESULTS" "$(dirname "$OUT")"
RAW="$RESULTS/raw.jsonl"
: >"$RAW"
backend_pids=()
client_pid=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [[ -z $client_pid ]] || { kill "$client_pid" 2>/dev/null; wait "$client_pid" 2>/dev/null; } || true
  target_stop
  for pid in "${backend_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${backend_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  topology_down
  rm -rf /sys/fs/bpf/wsteer-bench-$$-* "$BENCH_WORK/nginx" "$BENCH_WORK/haproxy"
  # a smoke run's report lives in the work dir: keep it when asked to look, otherwise remove it
  if [[ $BENCH_SMOKE == 1 && ${WSTEER_BENCH_KEEP:-0} != 1 ]]; then rm -rf "$BENCH_WORK"
  elif [[ $BENCH_SMOKE == 1 ]]; then echo "kept $BENCH_WORK"
  else rm -rf "$BENCH_WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ---- topology and backends (they stay up for the whole run) ----
topology_up
: >"$BENCH_WORK/endpoints"
for ((i = 0; i < BENCH_BACKENDS; i++)); do
  in_ns_bg "b$i" "$BENCH_BIN/wsteer-bench" --serve "$(backend_ip "$i"):$BENCH_BACKEND_PORT" \
    --threads "$BENCH_BACKEND_THREADS" >"$RESULTS/backend-b$i.log" 2>&1 &
  backend_pids+=($!)
  echo "b$i $(backend_ip "$i"):$BENCH_BACKEND_PORT" >>"$BENCH_WORK/endpoints"
done
for ((i = 0; i < BENCH_BACKENDS; i++)); do
  for _ in $(seq 100); do
    in_ns c bash -c "exec 3<>/dev/tcp/$(backend_ip "$i")/$BENCH_BACKEND_PORT" 2>/dev/null && continue 2
    kill -0 "${backend_pids[$i]}" 2>/dev/null || break
    sleep 0.05
  done
  echo "backend b$i did not come up; its log:" >&2; cat "$RESULTS/backend-b$i.log" >&2; exit 1
done

# ---- one measurement: fresh proxy, one client run, samples, one JSON line ----
failures=0
run_one() {  # run_one REP WORKLOAD TARGET
  local rep=$1 w=$2 t=$3 tag="$2.$3.$1" args url out ready pids cpu0 busy0 t0 rss0 mem0 cpu1 busy1 t1
  local rss_w=0 mem_w=0 nsmem_w=0 inuse_w=0 slab0 slab_w=0 cpu_r="" cpu_s="" ok rc=0 half
  read -r -a args <<<"$(workload_args "$w")"
  url="$(target_url "$t")$(workload_path "$w")"
  out="$RESULTS/$tag.json" ready="$BENCH_WORK/$tag.ready"
  if ! target_start "$t" "$RESULTS/$tag.proxy.log"; then
    log "$tag: $t did not start; see $RESULTS/$tag.proxy.log"
    target_stop
    jq -cn --arg w "$w" --arg t "$t" --argjson rep "$rep" '{workload: $w, target: $t, rep: $rep, ok: false, error: "target did not start"}' >>"$RAW"
    failures=$((failures + 1)); return
  fi
  mapfile -t pids < <(target_pids)
  cpu0=$(proc_cpu_seconds "${pids[@]}") rss0=$(proc_rss_kb "${pids[@]}")
  mem0=$(sockstat_tcp_mem_bytes p) slab0=$(machine_slab_kb) busy0=$(machine_busy_seconds) t0=$(date +%s.%N)

  # timeout: a hung client is a failed measurement, not a hung harness (124 = timed out)
  in_ns_bg c timeout -k 5 "$(workload_time_limit "$w")" "$BENCH_BIN/wsteer-bench" --url "$url" "${args[@]}" \
    --ready-file "$ready" >"$out" 2>"$RESULTS/$tag.client.log" &
  client_pid=$!
  if [[ $w == idle ]]; then
    # While the connections are up: memory once they all are, CPU over the first half of the
    # measured (mostly quiet) period.
    while [[ ! -e $ready ]] && kill -0 "$client_pid" 2>/dev/null; do sleep 0.05; done
    if [[ -e $ready ]]; then
      mapfile -t pids < <(target_pids)
      cpu_r=$(proc_cpu_seconds "${pids[@]}")
      half=$(awk -v d="$BENCH_IDLE_DURATION" 'BEGIN { print d / 2 }')
      sleep "$half"
      rss_w=$(proc_rss_kb "${pids[@]}") mem_w=$(sockstat_tcp_mem_bytes p) slab_w=$(machine_slab_kb)
      nsmem_w=$(ns_socket_mem_bytes p) inuse_w=$(sockstat_tcp_inuse p)
      cpu_s=$(awk -v a="$(proc_cpu_seconds "${pids[@]}")" -v b="$cpu_r" 'BEGIN { printf "%.3f", a - b }')
    fi
  fi
  wait "$client_pid" || rc=$?
  client_pid=""
  mapfile -t pids < <(target_pids)
  cpu1=$(proc_cpu_seconds "${pids[@]}") busy1=$(machine_busy_seconds) t1=$(date +%s.%N)
  [[ -z $TARGET_PID ]] || kill -0 "$TARGET_PID" 2>/dev/null || { log "$tag: $t died during the run"; rc=99; }
  target_stop

  if ((rc == 0)) && jq -e . "$out" >/dev/null 2>&1; then
    ok=$(jq "$(workload_ok_filter "$w")" "$out")
  else
    ok=false
  fi
  jq -cn --arg w "$w" --arg t "$t" --argjson rep "$rep" --argjson ok "$ok" --argjson rc "$rc" \
    --slurpfile bench <(jq -c . "$out" 2>/dev/null || echo null) \
    --argjson procs "${#pids[@]}" --argjson cpu "$(awk -v a="$cpu1" -v b="$cpu0" 'BEGIN { printf "%.3f", a - b }')" \
    --argjson busy "$(awk -v a="$busy1" -v b="$busy0" 'BEGIN { printf "%.3f", a - b }')" \
    --argjson wall "$(awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.3f", a - b }')" \
    --argjson rss0 "$rss0" --argjson rss_w "$rss_w" --argjson mem0 "$mem0" --argjson mem_w "$mem_w" \
    --argjson nsmem_w "$nsmem_w" --argjson inuse_w "$inuse_w" --arg cpu_s "$cpu_s" \
    --argjson slab0 "$slab0" --argjson slab_w "$slab_w" '
    {workload: $w, target: $t, rep: $rep, ok: $ok, exit_code: $rc, bench: $bench[0],
     proxy: {processes: $procs, cpu_seconds: $cpu, rss_kb_before: $rss0},
     machine: {busy_cpu_seconds: $busy, wall_seconds: $wall}}
    | if $w == "idle" then .idle = {rss_kb_while: $rss_w, sockstat_tcp_mem_before: $mem0,
        sockstat_tcp_mem_while: $mem_w, slab_kb_before: $slab0, slab_kb_while: $slab_w,
        proxy_ns_socket_mem_while: $nsmem_w, proxy_ns_tcp_inuse_while: $inuse_w,
        proxy_cpu_seconds_quiet_half: ($cpu_s | if . == "" then null else tonumber end)} else . end' >>"$RAW"
  if [[ $ok == true ]]; then
    log "$tag: ok $(jq -r '[.messages.per_second, .bytes.megabytes_per_second, .handshakes.per_second, .connections.established] | map(tostring) | "msg/s=\(.[0]) MB/s=\(.[1]) hs/s=\(.[2]) conns=\(.[3])"' "$out")"
  else
    log "$tag: FAILED (exit $rc); client log $RESULTS/$tag.client.log, proxy log $RESULTS/$tag.proxy.log"
    tail -n 3 "$RESULTS/$tag.client.log" "$RESULTS/$tag.proxy.log" 2>/dev/null | sed 's/^/    /' >&2 || true
    failures=$((failures + 1))
  fi
}

jq -n --arg args "$ARGS" --arg note "$NOTE" --arg date "$(date -u '+%Y-%m-%d %H:%M UTC')" --argjson reps "$REPS" \
  --argjson workers "$BENCH_WORKERS" --argjson backends "$BENCH_BACKENDS" \
  --argjson backend_threads "$BENCH_BACKEND_THREADS" --argjson client_threads "$BENCH_CLIENT_THREADS" \
  --argjson duration "$BENCH_DURATION" --argjson idle_connections "$BENCH_IDLE_CONNECTIONS" \
  --argjson idle_duration "$BENCH_IDLE_DURATION" --argjson smoke "$BENCH_SMOKE" --argjson nofile "$BENCH_NOFILE" \
  '{command_args: $args, date: $date, reps: $reps, workers: $workers, backends: $backends,
    backend_threads: $backend_threads, client_threads: $client_threads, duration: $duration,
    idle_connections: $idle_connections, idle_duration: $idle_duration, smoke: ($smoke == 1),
    open_file_limit: $nofile, note: (if $note == "" then null else $note end)}' >"$RESULTS/settings.json"
log "results in $RESULTS; ${#targets[@]} targets x ${#workloads[@]} workloads x $REPS reps"
for ((rep = 1; rep <= REPS; rep++)); do
  for w in "${workloads[@]}"; do
    for t in "${targets[@]}"; do run_one "$rep" "$w" "$t"; done
  done
done

# ---- medians and the report ----
jq -s -f "$HERE/aggregate.jq" "$RAW" >"$RESULTS/medians.json"
BENCH_REPS=$REPS "$HERE/report.sh" "$RESULTS" "$OUT"
log "report: $OUT"
if ((failures)); then
  log "$failures measurement(s) did not pass traffic"
  exit 1
fi
exit 0
}
