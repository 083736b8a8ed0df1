# Network namespaces of one benchmark run (sourced by run.sh).
#
#   client ns (c) 10.201.1.2 ──veth── 10.201.1.1  proxy ns (p)  10.201.1{i}.1 ──veth── 10.201.1{i}.2 backend ns (b{i})
#
# Every proxy listens on 10.201.1.1 in p. The proxy ns also routes, so `direct` goes
# client -> backend over the same two veth hops, only without a proxy process in between.
# The veth pairs are created inside the namespaces: nothing of this run shows up in the root
# namespace, and the fixed addresses cannot clash with another run (each has its own namespaces).
# Needs: BENCH_PREFIX (unique per run), BENCH_BACKENDS (count).

BENCH_CLIENT_IP=10.201.1.2
BENCH_PROXY_IP=10.201.1.1
BENCH_BACKEND_PORT=9000
BENCH_PROXY_PORT=8080

bench_ns() { echo "${BENCH_PREFIX}$1"; }          # bench_ns c|p|b0.. -> namespace name
# nsenter, not `ip netns exec`: that one remounts /sys and would hide the bpffs the agent pins in.
in_ns() { local ns=$1; shift; nsenter --net="/run/netns/$(bench_ns "$ns")" "$@"; }
# For `in_ns_bg ... &`: exec, so that $! is the program itself (a backgrounded function is a
# subshell; killing that would leave the program running).
in_ns_bg() { local ns=$1; shift; exec nsenter --net="/run/netns/$(bench_ns "$ns")" "$@"; }
backend_ip() { echo "10.201.$((10 + $1)).2"; }

# Many short or many concurrent connections: widen the port range, reuse TIME_WAIT ports for
# outgoing connects, and deepen the accept queues, in this namespace only (they are per netns).
tune_ns() {
  in_ns "$1" sysctl -qw net.ipv4.ip_local_port_range="1024 65000" net.ipv4.tcp_tw_reuse=1 \
    net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535
}

topology_up() {
  local i names=(c p)
  for ((i = 0; i < BENCH_BACKENDS; i++)); do names+=("b$i"); done
  for n in "${names[@]}"; do
    ip netns add "$(bench_ns "$n")"
    BENCH_NAMESPACES+=("$(bench_ns "$n")")
    in_ns "$n" ip link set lo up
    tune_ns "$n"
  done
  in_ns p sysctl -qw net.ipv4.ip_forward=1

  # join NS SUBNET: a veth pair made in NS, its peer moved straight into p
  join() {
    in_ns "$1" ip link add vp type veth peer name "v$1" netns "$(bench_ns p)"
    in_ns "$1" ip addr add "10.201.$2.2/24" dev vp
    in_ns "$1" ip link set vp up
    in_ns p ip addr add "10.201.$2.1/24" dev "v$1"
    in_ns p ip link set "v$1" up
    in_ns "$1" ip route add default via "10.201.$2.1"
  }
  join c 1
  for ((i = 0; i < BENCH_BACKENDS; i++)); do join "b$i" $((10 + i)); done
}

topology_down() {
  local ns
  for ns in "${BENCH_NAMESPACES[@]}"; do ip netns delete "$ns" 2>/dev/null || true; done
  BENCH_NAMESPACES=()
}
