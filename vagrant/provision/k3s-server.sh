#!/usr/bin/env bash
# cp: the k3s server (control plane; it runs pods too), on the lab's private network.
#   k3s-server.sh NODE_IP TOKEN VERSION
set -euo pipefail
# shellcheck source=vagrant/provision/lib.sh
source "$(dirname "$0")/lib.sh"
ip=$1 token=$2 version=$3
iface=$(iface_of "$ip")
[[ -n $iface ]] || { echo "no interface holds $ip" >&2; exit 1; }
K3S_TOKEN="$token" install_k3s "$version" server \
  --node-ip "$ip" --advertise-address "$ip" --flannel-iface "$iface" \
  --write-kubeconfig-mode 0644 --disable traefik
wait_for 300 k3s kubectl get --raw /readyz
echo "k3s server up on $ip ($iface)"
