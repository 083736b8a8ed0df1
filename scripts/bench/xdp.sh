#!/usr/bin/env bash
# The XDP front door against nftables doing the same drop, in one run (not part of run.sh: it
# floods a core flat out). A generator namespace sends SYNs from 10.202.1.2 to the agent's listen
# port over one veth pair, as fast as one pinned core can (wsteer-synflood: AF_PACKET, sendmmsg);
# the source is denied by:
#   xdp             wsteer-agent --xdp-interfaces vg --xdp-deny 10.202.1.0/24 (native XDP on veth)
#   nft-ingress     nft, netdev family, ingress hook of the same veth (the earliest nftables hook)
#   nft-prerouting  nft, inet family, prerouting at raw priority (-300), where iptables -t raw acts
#   none            no drop: every SYN reaches the listening socket (SYN cookies, SYN-ACKs), for scale
# For each: frames sent and dropped per second, and CPU per million dropped frames. The drop work
# runs in softirq on the generator's core (veth delivers on the sending CPU), and the generator is
# pinned there and keeps it busy: the CPU is that core's busy time from /proc/stat (cpuN: user,
# system, irq, softirq), so other jobs on the machine count only where they steal that core. The
# softirq share is tick-sampled by the kernel (the generator's own rusage would count those ticks
# again, so it is not added).
#
#   sudo scripts/bench/xdp.sh [--seconds 5] [--reps 3] [--cpu 1] [--out FILE]
#
# Prints a Markdown table (and appends it to --out if given). Needs root, nft, the build's
# wsteer-agent, wsteerctl and wsteer-synflood (build/bin, or $WSTEER_BIN).
set -euo pipefail
{
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BIN=${WSTEER_BIN:-$ROOT/build/bin}
SECONDS_PER_RUN=5 REPS=3 CPU=1 OUT=""
while (($#)); do
  case $1 in
    --seconds) SECONDS_PER_RUN=$2; shift ;;
    --reps) REPS=$2; shift ;;
    --cpu) CPU=$2; shift ;;
    --out) OUT=$2; shift ;;
    -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "unknown option '$1'" >&2; exit 2 ;;
  esac
  shift
done
[[ $(id -u) == 0 ]] || { echo "xdp.sh: needs root (namespaces, XDP, nftables)" >&2; exit 77; }
command -v nft >/dev/null || { echo "xdp.sh: no nft (scripts/install-deps.sh bench)" >&2; exit 77; }
for b in wsteer-agent wsteerctl wsteer-synflood; do
  [[ -x $BIN/$b ]] || { echo "xdp.sh: no $BIN/$b (build first)" >&2; exit 2; }
done

PREFIX="wsx$$"
G=${PREFIX}g D=${PREFIX}d
BPFFS=/sys/fs/bpf/wsteer-benchxdp-$$
WORK=$(mktemp -d)
AGENT_PID=""
cleanup() {
  [[ -n $AGENT_PID ]] && kill "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
  ip netns delete "$G" 2>/dev/null || true
  ip netns delete "$D" 2>/dev/null || true
  rm -rf "$BPFFS" "$WORK"
}
trap cleanup EXIT INT TERM
inns() { local ns=$1; shift; nsenter --net="/run/netns/$ns" "$@"; }

ip netns add "$G"; ip netns add "$D"
inns "$G" ip link set lo up; inns "$D" ip link set lo up
inns "$G" ip link add vg type veth peer name vg netns "$D"
inns "$G" ip addr add 10.202.1.2/24 dev vg; inns "$G" ip link set vg up
inns "$D" ip addr add 10.202.1.1/24 dev vg; inns "$D" ip link set vg up
# (nsenter keeps the root namespace's /sys: ask ip for the MAC.)
DMAC=$(inns "$D" ip -o link show vg | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
echo "b0 10.202.9.9:9000" >"$WORK/endpoints"

start_agent() {  # start_agent [extra flags]
  nsenter --net="/run/netns/$D" "$BIN/wsteer-agent" --listen 10.202.1.1:8080 --endpoints-file "$WORK/endpoints" \
    --metrics-listen 10.202.1.1:9090 --bpffs "$BPFFS" --workers 1 --shutdown-grace 1 --log-level warn "$@" \
    >"$WORK/agent.log" 2>&1 &
  AGENT_PID=$!
  for _ in $(seq 100); do
    inns "$D" bash -c 'exec 3<>/dev/tcp/10.202.1.1/9090' 2>/dev/null && return 0
    sleep 0.1
  done
  echo "agent did not start:"; cat "$WORK/agent.log"; exit 1
}
stop_agent() { kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true; AGENT_PID=""; }

# busy and softirq+irq jiffies of core $CPU
core_jiffies() { awk -v c="cpu$CPU" '$1 == c { print $2 + $3 + $4 + $7 + $8 + $9, $7 + $8 }' /proc/stat; }
hz=$(getconf CLK_TCK)

# measure NAME DROPS_COMMAND: one flood; prints "name sent dropped seconds core_busy_s softirq_s"
measure() {
  local name=$1 drops_cmd=$2 d0 d1 j0 j1 out
  d0=$(eval "$drops_cmd"); j0=$(core_jiffies)
  out=$(taskset -c "$CPU" "$BIN/wsteer-synflood" "$G" vg "$DMAC" 10.202.1.2 10.202.1.1 8080 "$SECONDS_PER_RUN")
  j1=$(core_jiffies); d1=$(eval "$drops_cmd")
  echo "$name $(jq -r .sent <<<"$out") $((d1 - d0)) $(jq -r .seconds <<<"$out") $(awk -v a="$j0" -v b="$j1" -v hz="$hz" \
    'BEGIN { split(a, x, " "); split(b, y, " "); print (y[1] - x[1]) / hz, (y[2] - x[2]) / hz }')"
}

xdp_drops() { "$BIN/wsteerctl" xdp status -o json --bpffs "$BPFFS" | jq '[.packets[] | select(.reason == "deny_list") | .packets] | add'; }
nft_drops() { inns "$D" nft -j list table "$1" wsx | jq '[.nftables[] | .rule? // empty | .expr[] | .counter? // empty | .packets] | add // 0'; }

RESULTS=$WORK/results
: >"$RESULTS"
for rep in $(seq "$REPS"); do
  start_agent --xdp-interfaces vg --xdp-deny 10.202.1.0/24
  measure xdp xdp_drops >>"$RESULTS"
  stop_agent

  start_agent
  inns "$D" nft -f - <<NFT
table netdev wsx {
  chain ingress { type filter hook ingress device "vg" priority -500; policy accept;
    ip saddr 10.202.1.0/24 tcp dport 8080 counter drop
  }
}
NFT
  measure nft-ingress "nft_drops netdev" >>"$RESULTS"
  inns "$D" nft delete table netdev wsx
  inns "$D" nft -f - <<NFT
table inet wsx {
  chain pre { type filter hook prerouting priority -300; policy accept;
    ip saddr 10.202.1.0/24 tcp dport 8080 counter drop
  }
}
NFT
  measure nft-prerouting "nft_drops inet" >>"$RESULTS"
  inns "$D" nft delete table inet wsx
  measure none "echo 0" >>"$RESULTS"
  stop_agent
  echo "rep $rep done" >&2
done

report=$(awk '
  { if (!($1 in n)) name[++k] = $1; n[$1]++; sent[$1] += $2; drop[$1] += $3; secs[$1] += $4; busy[$1] += $5; si[$1] += $6 }
  END {
    print "| drop done by | frames sent/s | dropped/s | dropped | core CPU s per million frames | softirq share |"
    print "|---|---:|---:|---:|---:|---:|"
    for (i = 1; i <= k; i++) { m = name[i]
      printf "| %s | %.0f | %.0f | %.1f%% | %.3f | %.0f%% |\n", m, sent[m] / secs[m], drop[m] / secs[m],
        100 * drop[m] / sent[m], busy[m] / (sent[m] / 1e6), 100 * si[m] / busy[m] }
  }' "$RESULTS")
echo "$report"
echo "(raw, one line per run: name sent dropped seconds core_busy_s softirq_s; $REPS reps of ${SECONDS_PER_RUN} s, core $CPU)"
cat "$RESULTS"
if [[ -n $OUT ]]; then printf '\n%s\n' "$report" >>"$OUT"; fi
}
