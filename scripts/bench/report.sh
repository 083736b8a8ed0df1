#!/usr/bin/env bash
# Writes the Markdown report and its chart from a results folder of scripts/bench/run.sh.
#   scripts/bench/report.sh RESULTS_DIR OUT.md
# RESULTS_DIR holds medians.json and raw.jsonl (and settings.json, written by run.sh). The chart
# goes beside OUT.md as <name>-throughput.png and the raw lines as <name>-raw.jsonl, so the
# report, its picture and its data travel together.
set -euo pipefail
RESULTS=$1 OUT=$2
MEDIANS="$RESULTS/medians.json"
[[ -s $MEDIANS ]] || { echo "no $MEDIANS" >&2; exit 1; }
HERE="$(cd "$(dirname "$0")" && pwd)"
OUTDIR="$(cd "$(dirname "$OUT")" && pwd)"
BASE="$(basename "$OUT" .md)"
PNG="$BASE-throughput.png"
RAWCOPY="$BASE-raw.jsonl"
SETTINGS="$RESULTS/settings.json"

cp "$RESULTS/raw.jsonl" "$OUTDIR/$RAWCOPY"

# ---- the chart: stream throughput and ping-pong rate per target ----
DAT="$RESULTS/chart.dat"
: >"$DAT"
for t in direct wsteer-splice wsteer-userspace haproxy nginx; do
  jq -e --arg t "$t" 'any(.[]; .target == $t)' "$MEDIANS" >/dev/null || continue
  jq -r --arg t "$t" '
    def m(w; k): ((map(select(.workload == w and .target == $t))[0].median[k]) // 0);
    [$t, m("stream-1"; "megabytes_per_second"), m("stream-100"; "megabytes_per_second"),
     (m("pingpong-1"; "messages_per_second") / 1000), (m("pingpong-100"; "messages_per_second") / 1000)] | @tsv' \
    "$MEDIANS" >>"$DAT"
done
gnuplot <<EOF
set terminal pngcairo size 1200,520 font "sans,10"
set output "$OUTDIR/$PNG"
set datafile separator "\t"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key below
set yrange [0:*]
set offsets 0, 0, graph 0.08, 0
set xtics rotate by -20
set multiplot layout 1,2 title "wsteer side by side (medians)"
set title "stream, 16 KiB messages"
set ylabel "MB/s"
plot "$DAT" using 2:xtic(1) title "1 connection", "" using 3 title "100 connections"
set title "ping-pong, 64 B"
set ylabel "thousand round trips/s"
plot "$DAT" using 4:xtic(1) title "1 connection", "" using 5 title "100 connections"
unset multiplot
EOF

# ---- tables ----
# table WORKLOAD COLUMNS: COLUMNS is a JSON array of [header, metric, decimals, ratios], ratios
# being false, true ("× direct" and "× HAProxy" beside the figure) or "haproxy" (only the latter).
table() {
  jq -r --arg w "$1" --argjson cols "$2" '
    def fmt(n): if . == null then "—" else ((. * pow(10; n) | round) / pow(10; n) | tostring) end;
    def two: (. * 100 | round) as $n | ($n / 100 | floor | tostring) + "." + ($n % 100 | tostring | if length == 1 then "0" + . else . end);
    def ratio(a; b): if a == null or b == null or b == 0 then "—" else (a / b | two) + "×" end;
    def heads: if .[3] == true then .[0], "× direct", "× HAProxy" elif .[3] == "haproxy" then .[0], "× HAProxy" else .[0] end;
    map(select(.workload == $w)) as $rows
    | if ($rows | length) == 0 then "_not run_"
      else
      ($rows | map(select(.target == "direct"))[0].median // {}) as $d
      | ($rows | map(select(.target == "haproxy"))[0].median // {}) as $h
      | (["target"] + ($cols | map(heads))) as $head
      | ($head | "| " + join(" | ") + " |"),
        ($head | map("---") | "|" + join("|") + "|"),
        (["direct", "wsteer-splice", "wsteer-userspace", "haproxy", "nginx"][] as $t
         | $rows | map(select(.target == $t))[0] // empty
         | . as $r
         | ["**" + $t + "**" + (if $r.ok_reps < $r.reps then " (\($r.ok_reps)/\($r.reps) reps passed)" else "" end)]
           + ($cols | map(. as $c | $r.median[$c[1]] as $v
               | if $c[3] == true then ($v | fmt($c[2])), ratio($v; $d[$c[1]]), ratio($v; $h[$c[1]])
                 elif $c[3] == "haproxy" then ($v | fmt($c[2])), ratio($v; $h[$c[1]])
                 else ($v | fmt($c[2])) end))
         | "| " + join(" | ") + " |")
      end' "$MEDIANS"
}

setting() { jq -r ".$1" "$SETTINGS"; }
cpu_model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
ram=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
haproxy_v=$(haproxy -v 2>/dev/null | awk 'NR == 1 { print $3 }')
nginx_v=$(nginx -v 2>&1 | sed 's|.*nginx/||')
commit=$(git -C "$HERE" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$HERE" status --porcelain -- agent bpf 2>/dev/null | grep -q . && echo " (agent or bpf modified)" || true)

{
cat <<EOF
# wsteer benchmarks: side by side

Written by \`scripts/bench/run.sh $(setting command_args)\` on $(setting date). Every figure is the
**median of $(setting reps) repetition(s)**; the raw lines (one JSON object per measurement) are in
[\`$RAWCOPY\`]($RAWCOPY). Run it again (as root): \`scripts/bench/run.sh\` (\`--help\` for options).
$(setting note | sed -e '/^null$/d' -e 's/^/\n> /')

| | |
|---|---|
| machine | $cpu_model, $(nproc) CPUs, $ram RAM |
| kernel | $(uname -r) |
| wsteer | $commit$dirty |
| HAProxy | $haproxy_v (Debian package) |
| nginx | $nginx_v (Debian package) |
| proxy worker threads | $(setting workers) (wsteer \`--workers\`, HAProxy \`nbthread\`, nginx \`worker_processes\`) |
| backends | $(setting backends) × \`wsteer-bench --serve\`, $(setting backend_threads) thread(s) each |
| load generator | \`wsteer-bench\`, $(setting client_threads) thread(s) |
| pinning | none: client, proxy and backends share every CPU |

## How it runs

Network namespaces of the run's own: a client, a proxy and one per backend, joined by veth pairs.
Every proxy listens in the proxy namespace; \`direct\` is the client talking to backend b0 routed
through that same namespace (same two veth hops, no proxy process). The proxies hash
\`Sec-WebSocket-Key\` onto a consistent ring over the backends (wsteer: Maglev; HAProxy:
\`balance hdr(Sec-WebSocket-Key)\` + \`hash-type consistent\`; nginx: \`hash \$http_sec_websocket_key
consistent\`). Each proxy is started fresh for every measurement; the order is rep 1 of every
workload and target, then rep 2, and so on. Configurations: \`scripts/bench/conf/\`.

Ratios: **× direct** and **× HAProxy** divide the target's figure by direct's and HAProxy's (above
1 is more throughput, or more latency/CPU/memory, depending on the column).

## Throughput and latency

![throughput](${PNG})

### Ping-pong, 64 B, 1 connection
EOF
cols_pp='[["round trips/s","messages_per_second",0,true],["p50 µs","latency_p50_us",0,false],["p99 µs","latency_p99_us",0,true],["p99.9 µs","latency_p999_us",0,false],["proxy CPU s / M msgs","proxy_cpu_s_per_million_messages",1,false],["machine CPU s / M msgs","machine_cpu_s_per_million_messages",1,false]]'
echo; table pingpong-1 "$cols_pp"
echo; echo "### Ping-pong, 64 B, 100 connections"; echo
table pingpong-100 "$cols_pp"
cols_st='[["MB/s","megabytes_per_second",1,true],["proxy CPU s / GB","proxy_cpu_s_per_gigabyte",2,false],["proxy cores busy","proxy_cores",2,false],["machine cores busy","machine_cores",2,false]]'
echo; echo "### Stream, 16 KiB messages backend → client, 1 connection"; echo
table stream-1 "$cols_st"
echo; echo "### Stream, 16 KiB messages backend → client, 100 connections"; echo
table stream-100 "$cols_st"
cat <<EOF

## Scale: $(setting idle_connections) mostly idle connections

Each connection sends a 64 B message every 10 s. Memory is read once every connection is up,
halfway through the quiet period: VmRSS of the proxy's processes (/proc/PID/status), the memory of
the TCP sockets in the proxy namespace (\`ss -tm\`: receive + send queues, forward allocation,
options) and /proc/net/sockstat's \`TCP mem\`, both buffer memory, which idle sockets hardly hold;
and the kernel's slab memory (/proc/meminfo \`Slab\`), where every socket's own structures live.
The last two the kernel counts for the whole machine: they include the client's and the backends'
sockets (direct shows that part; a proxy's own share is its row minus direct's) and anything else
the machine did meanwhile. CPU is utime + stime of the proxy's processes (/proc/PID/stat) over the
quiet half and over the whole run (handshakes included).

EOF
table idle '[["connections","connections_established",0,false],["proxy RSS MB","proxy_rss_mb",1,"haproxy"],["RSS KiB / conn","proxy_rss_kb_per_connection",2,"haproxy"],["proxy-ns socket B / conn","proxy_ns_socket_bytes_per_connection",0,false],["sockstat TCP B / conn (all ns)","sockstat_tcp_bytes_per_connection",0,false],["kernel slab KiB / conn (all ns)","machine_slab_kb_per_connection",2,false],["proxy CPU s, quiet half","proxy_cpu_s_quiet_half",2,false],["proxy CPU s, whole run","proxy_cpu_s_total",2,false]]'
cat <<EOF

## Churn: handshakes per second

50 connections at a time, each opening, completing the WebSocket handshake and closing.

EOF
table churn '[["handshakes/s","handshakes_per_second",0,true],["proxy CPU ms / 1k handshakes","proxy_cpu_ms_per_thousand_handshakes",1,false],["machine cores busy","machine_cores",2,false]]'
cat <<EOF

## Reading these numbers

- Client, proxy and backends share the same $(nproc) CPUs: on a small machine every figure is
  partly the load generator's and the backends' cost, and ratios compress toward 1.
- Proxy CPU is what the proxy's own processes were charged. The splice datapath moves bytes in
  softirq context, charged to no process, so its proxy CPU is near zero by construction; the
  **machine** columns (all CPUs busy, from /proc/stat) include that work and are the fair comparison.
- CPU per unit of work uses rates: (CPU seconds / wall seconds) / (messages, bytes or handshakes
  per measured second); the wall time includes connection setup and warm-up.
- Medians of few repetitions on a shared machine: differences under ~10 % are noise.
EOF
} >"$OUT"
