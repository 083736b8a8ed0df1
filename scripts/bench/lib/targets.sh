# The five things a benchmark run goes through (sourced by run.sh):
#   direct            client -> backend b0, routed by the proxy ns, no proxy process
#   wsteer-splice     wsteer-agent --datapath splice
#   wsteer-userspace  wsteer-agent --datapath userspace
#   haproxy           Debian's haproxy, mode http, balance hdr(Sec-WebSocket-Key), hash-type consistent
#   nginx             Debian's nginx, hash $http_sec_websocket_key consistent
# Each proxy is started fresh for every measurement, as a process of this script inside the proxy
# ns with its own config, pid, log and temp paths under $BENCH_WORK, and stopped afterwards.
# Needs: BENCH_WORK, BENCH_BIN, BENCH_CONF, BENCH_WORKERS, BENCH_BACKENDS, BENCH_NOFILE, topology.sh.

BENCH_TARGETS_ALL=(direct wsteer-splice wsteer-userspace haproxy nginx)
TARGET_PID=""          # the proxy's main process while one runs
TARGET_SEQ=0           # numbers the agents' bpffs folders within this run

# The base URL a client uses for a target.
target_url() {
  if [[ $1 == direct ]]; then echo "ws://$(backend_ip 0):$BENCH_BACKEND_PORT"
  else echo "ws://$BENCH_PROXY_IP:$BENCH_PROXY_PORT"; fi
}

# Fill a template's @THREADS@ @LISTEN@ @DIR@ @NOFILE@ @MAXCONN@ and @SERVERS@ (one line per backend,
# from a printf format taking name and address).
render() {  # render TEMPLATE OUT DIR SERVER_FORMAT
  local servers="" i
  for ((i = 0; i < BENCH_BACKENDS; i++)); do
    servers+=$(printf "$4" "b$i" "$(backend_ip "$i"):$BENCH_BACKEND_PORT")$'\n'
  done
  SERVERS="${servers%$'\n'}" THREADS="$BENCH_WORKERS" LISTEN="$BENCH_PROXY_IP:$BENCH_PROXY_PORT" DIR="$3" \
    NOFILE="$BENCH_NOFILE" MAXCONN=$(((BENCH_NOFILE - 100) / 2)) awk '
    /^@SERVERS@$/ { print ENVIRON["SERVERS"]; next }
    { for (k in vars) gsub("@" vars[k] "@", ENVIRON[vars[k]]); print }
    BEGIN { split("THREADS LISTEN DIR NOFILE MAXCONN", vars, " ") }' "$1" >"$2"
}

# Wait until something accepts TCP on the proxy address (or /readyz says 200 for the agent).
wait_listening() {  # wait_listening PATH_OR_EMPTY
  local _
  for _ in $(seq 100); do
    kill -0 "$TARGET_PID" 2>/dev/null || return 1
    if [[ -n $1 ]]; then
      in_ns p bash -c "exec 3<>/dev/tcp/$BENCH_PROXY_IP/9090 && printf 'GET $1 HTTP/1.0\r\n\r\n' >&3 && grep -q '200 OK' <&3" \
        2>/dev/null && return 0
    else
      in_ns p bash -c "exec 3<>/dev/tcp/$BENCH_PROXY_IP/$BENCH_PROXY_PORT" 2>/dev/null && return 0
    fi
    sleep 0.05
  done
  return 1
}

target_start() {  # target_start NAME LOGFILE
  local name=$1 log=$2 dir
  TARGET_PID="" TARGET_LOG=$log TARGET_EXTRA_LOG=""
  case $name in
    direct) return 0 ;;
    wsteer-splice | wsteer-userspace)
      TARGET_SEQ=$((TARGET_SEQ + 1))
      TARGET_BPFFS="/sys/fs/bpf/wsteer-bench-$$-$TARGET_SEQ"
      in_ns_bg p "$BENCH_BIN/wsteer-agent" --listen "$BENCH_PROXY_IP:$BENCH_PROXY_PORT" \
        --endpoints-file "$BENCH_WORK/endpoints" --metrics-listen "$BENCH_PROXY_IP:9090" \
        --bpffs "$TARGET_BPFFS" --datapath "${name#wsteer-}" --workers "$BENCH_WORKERS" \
        --shutdown-grace 1 --log-level warn "${BENCH_AGENT_ARGS[@]}" >"$log" 2>&1 &
      TARGET_PID=$!
      wait_listening /readyz ;;
    haproxy)
      dir="$BENCH_WORK/haproxy"; mkdir -p "$dir"
      render "$BENCH_CONF/haproxy.cfg.in" "$dir/haproxy.cfg" "$dir" '    server %s %s'
      # -db: stay in the foreground as one process (no master), so $! is the proxy itself
      in_ns_bg p haproxy -db -f "$dir/haproxy.cfg" >"$log" 2>&1 &
      TARGET_PID=$!
      wait_listening "" ;;
    nginx)
      dir="$BENCH_WORK/nginx"; mkdir -p "$dir/tmp"
      render "$BENCH_CONF/nginx.conf.in" "$dir/nginx.conf" "$dir" '        # %s\n        server %s;'
      : >"$dir/error.log"
      TARGET_EXTRA_LOG="$dir/error.log"   # copied into the run's proxy log when it stops
      in_ns_bg p nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" -g 'daemon off;' >"$log" 2>&1 &
      TARGET_PID=$!
      wait_listening "" ;;
    *) echo "unknown target '$name' (known: ${BENCH_TARGETS_ALL[*]})" >&2; return 2 ;;
  esac
}

# The proxy's processes: the main one and its children (nginx's workers).
target_pids() {
  [[ -n $TARGET_PID ]] || return 0
  echo "$TARGET_PID"
  pgrep -P "$TARGET_PID" || true
}

target_stop() {
  [[ -n $TARGET_PID ]] || return 0
  local _
  kill -TERM "$TARGET_PID" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$TARGET_PID" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$TARGET_PID" 2>/dev/null || true
  wait "$TARGET_PID" 2>/dev/null || true
  [[ -z ${TARGET_BPFFS:-} ]] || rm -rf "$TARGET_BPFFS"   # the agent unpins on SIGTERM; this is for a crash
  [[ -z ${TARGET_EXTRA_LOG:-} ]] || cat "$TARGET_EXTRA_LOG" >>"$TARGET_LOG" 2>/dev/null || true
  TARGET_PID="" TARGET_BPFFS="" TARGET_EXTRA_LOG=""
}
