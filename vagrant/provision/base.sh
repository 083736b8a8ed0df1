#!/usr/bin/env bash
# Every node: the packages the lab's scripts use, and bpffs mounted (the agent pins its maps there).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends curl ca-certificates python3 >/dev/null
if ! mountpoint -q /sys/fs/bpf; then
  mount -t bpf bpf /sys/fs/bpf
fi
grep -q '^bpf /sys/fs/bpf' /etc/fstab || echo 'bpf /sys/fs/bpf bpf defaults 0 0' >>/etc/fstab
