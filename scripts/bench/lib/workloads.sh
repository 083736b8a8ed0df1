# The workloads and their wsteer-bench arguments (sourced by run.sh). Every target runs exactly
# the same command line; only the URL differs.
# Needs: BENCH_CLIENT_THREADS, BENCH_DURATION, BENCH_WARMUP, BENCH_IDLE_CONNECTIONS,
# BENCH_IDLE_DURATION (run.sh shrinks them for --smoke).

BENCH_WORKLOADS_ALL=(pingpong-1 pingpong-100 stream-1 stream-100 idle churn)

# Prints the wsteer-bench client arguments of a workload, without --url.
workload_args() {
  local d=$BENCH_DURATION warm=$BENCH_WARMUP idle_n=$BENCH_IDLE_CONNECTIONS idle_d=$BENCH_IDLE_DURATION
  local common=(--threads "$BENCH_CLIENT_THREADS" --json --quiet)
  case $1 in
    pingpong-1)   echo --mode pingpong --size 64 --connections 1 --duration "$d" --warmup "$warm" "${common[@]}" ;;
    pingpong-100) echo --mode pingpong --size 64 --connections 100 --duration "$d" --warmup "$warm" "${common[@]}" ;;
    stream-1)     echo --mode stream --size 16384 --connections 1 --duration "$d" --warmup "$warm" "${common[@]}" ;;
    stream-100)   echo --mode stream --size 16384 --connections 100 --duration "$d" --warmup "$warm" "${common[@]}" ;;
    # mostly idle: every connection sends one small message every 10 s, opened at 2,000/s
    idle)         echo --mode idle --size 64 --rate 0.1 --connections "$idle_n" --connect-rate 2000 \
                    --duration "$idle_d" --warmup 0 "${common[@]}" ;;
    # handshakes per second: 50 connections at a time open, handshake, close, again
    churn)        echo --mode churn --connections 50 --duration "$d" --warmup "$warm" "${common[@]}" ;;
    *) echo "unknown workload '$1' (known: ${BENCH_WORKLOADS_ALL[*]})" >&2; return 2 ;;
  esac
}

# Seconds after which a client run is stopped as hung: warm-up + measuring + opening the idle
# connections at their connect rate + a margin for connect timeouts and closing.
workload_time_limit() {
  case $1 in
    idle) awk -v n="$BENCH_IDLE_CONNECTIONS" -v d="$BENCH_IDLE_DURATION" 'BEGIN { printf "%d\n", n / 2000 + d + 20 }' ;;
    *) awk -v d="$BENCH_DURATION" -v w="$BENCH_WARMUP" 'BEGIN { printf "%d\n", d + w + 20 }' ;;
  esac
}

# The path each workload asks for (the backend echoes /, streams from /source, discards at /sink).
workload_path() {
  case $1 in
    stream-*) echo "/source?size=16384" ;;
    *) echo "/" ;;
  esac
}

# Did the run pass traffic, whole? (jq filter over the wsteer-bench JSON; true/false). `errors`
# counts connections that failed mid-run, e.g. on a corrupted frame.
workload_ok_filter() {
  case $1 in
    pingpong-* | stream-*) echo '(.messages.count > 0) and (.connections.established == .connections.target) and (.connections.failed == 0) and (.errors == 0)' ;;
    idle) echo '(.connections.established == .connections.target) and (.connections.failed == 0) and (.errors == 0)' ;;
    churn) echo '(.handshakes.count > 0) and (.handshakes.failed == 0) and (.errors == 0)' ;;
  esac
}
