# raw.jsonl (slurped) -> one object per (workload, target): reps, how many passed traffic, and the
# median of every metric over the reps that did. Used by run.sh: jq -s -f aggregate.jq raw.jsonl
def median: map(select(. != null)) | sort
  | if length == 0 then null
    elif length % 2 == 1 then .[(length - 1) / 2]
    else (.[length / 2 - 1] + .[length / 2]) / 2 end;
def per(a; b): if a == null or b == null or b == 0 then null else a / b end;

# The figures of one run. Proxy CPU per unit of work uses rates (CPU seconds per wall second
# over messages per measured second), because the CPU sample also spans setup and warmup.
def metrics:
  .bench as $b | .proxy as $p | .machine as $m
  | ($b.connections.established) as $conns
  | per($p.cpu_seconds; $m.wall_seconds) as $proxy_cores
  | per($m.busy_cpu_seconds; $m.wall_seconds) as $machine_cores
  | {
      messages_per_second: $b.messages.per_second,
      megabytes_per_second: $b.bytes.megabytes_per_second,
      latency_p50_us: $b.latency_us.p50,
      latency_p99_us: $b.latency_us.p99,
      latency_p999_us: $b.latency_us.p999,
      handshakes_per_second: $b.handshakes.per_second,
      connections_established: $conns,
      proxy_cores: $proxy_cores,
      machine_cores: $machine_cores,
      proxy_cpu_s_per_million_messages: (per($proxy_cores; $b.messages.per_second) | if . then . * 1e6 else . end),
      machine_cpu_s_per_million_messages: (per($machine_cores; $b.messages.per_second) | if . then . * 1e6 else . end),
      proxy_cpu_s_per_gigabyte: (per($proxy_cores; $b.bytes.megabytes_per_second) | if . then . * 1e3 else . end),
      proxy_cpu_ms_per_thousand_handshakes: (per($proxy_cores; $b.handshakes.per_second) | if . then . * 1e6 else . end)
    }
  + (if .idle then
      (.idle) as $i | {
        proxy_rss_mb: ($i.rss_kb_while / 1024),
        proxy_rss_kb_per_connection: per($i.rss_kb_while - $p.rss_kb_before; $conns),
        sockstat_tcp_bytes_per_connection: per($i.sockstat_tcp_mem_while - $i.sockstat_tcp_mem_before; $conns),
        machine_slab_kb_per_connection: per($i.slab_kb_while - $i.slab_kb_before; $conns),
        proxy_ns_socket_bytes_per_connection: per($i.proxy_ns_socket_mem_while; $conns),
        proxy_ns_tcp_sockets: $i.proxy_ns_tcp_inuse_while,
        proxy_cpu_s_quiet_half: $i.proxy_cpu_seconds_quiet_half,
        proxy_cpu_s_total: $p.cpu_seconds
      }
    else {} end)
  # direct has no proxy process: its proxy figures do not exist (not zero)
  | if $p.processes == 0 then with_entries(if (.key | startswith("proxy_")) then .value = null else . end) else . end;

group_by([.workload, .target])
| map(
    (map(select(.ok)) | map(metrics)) as $ok
    | {workload: .[0].workload, target: .[0].target, reps: length, ok_reps: ($ok | length),
       median: (if ($ok | length) == 0 then {}
                else [$ok[0] | keys[]] | map({key: ., value: (. as $k | $ok | map(.[$k]) | median)}) | from_entries
                end)})
