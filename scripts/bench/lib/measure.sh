# What the harness reads about the proxy and the machine (sourced by run.sh). Each function
# prints one number, so run.sh can put it straight into a JSON line.

CLK_TCK=$(getconf CLK_TCK)
PAGE_SIZE=$(getconf PAGESIZE)

# CPU seconds (user + system) burned so far by the given processes, from /proc/PID/stat.
# Fields 14 and 15 after the "(comm)", which may itself hold spaces: cut at the last ')'.
proc_cpu_seconds() {
  local pid total=0 rest
  for pid in "$@"; do
    rest=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    rest=${rest##*) }
    total=$((total + $(awk '{print $12 + $13}' <<<"$rest")))
  done
  awk -v t="$total" -v hz="$CLK_TCK" 'BEGIN { printf "%.3f\n", t / hz }'
}

# Resident memory (VmRSS, KiB) of the given processes, summed.
proc_rss_kb() {
  local pid total=0 kb
  for pid in "$@"; do
    kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || continue
    total=$((total + ${kb:-0}))
  done
  echo "$total"
}

# Busy CPU seconds of the whole machine (every core; user+nice+system+irq+softirq+steal).
# The splice datapath's work runs in softirq context, charged to no process: this catches it.
machine_busy_seconds() {
  awk -v hz="$CLK_TCK" '/^cpu / { printf "%.3f\n", ($2 + $3 + $4 + $7 + $8 + $9) / hz }' /proc/stat
}

# TCP memory in bytes from /proc/net/sockstat ("TCP: ... mem PAGES"). The kernel keeps this
# counter for the whole machine, not per namespace: read it as client + proxy + backend sockets.
sockstat_tcp_mem_bytes() {
  in_ns "$1" awk -v ps="$PAGE_SIZE" '$1 == "TCP:" { for (i = 2; i < NF; i++) if ($i == "mem") print $(i + 1) * ps }' \
    /proc/net/sockstat
}

# TCP sockets in use in one namespace (this one is per namespace).
sockstat_tcp_inuse() {
  in_ns "$1" awk '$1 == "TCP:" { for (i = 2; i < NF; i++) if ($i == "inuse") print $(i + 1) }' /proc/net/sockstat
}

# Memory charged to the TCP sockets of one namespace only, from `ss -tm`: receive queue (r),
# send queue (w), forward-allocated (f) and option memory (o) of every socket, summed.
ns_socket_mem_bytes() {
  in_ns "$1" ss -tmnHa | awk '
    { if (match($0, /skmem:\([^)]*\)/)) {
        n = split(substr($0, RSTART + 6, RLENGTH - 7), f, ",")
        for (i = 1; i <= n; i++) { if (f[i] ~ /^(r|w|f|o)[0-9]/) sum += substr(f[i], 2) }
      } }
    END { printf "%d\n", sum }'
}

# Kernel slab memory (KiB) of the whole machine: where each socket's own structures live (struct
# tcp_sock, inode, file), which an idle connection keeps even with empty queues.
machine_slab_kb() {
  awk '/^Slab:/ { print $2 }' /proc/meminfo
}
