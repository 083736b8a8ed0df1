#!/usr/bin/env bash
# w1, w2: k3s agents joining the server on cp.
#   k3s-agent.sh NODE_IP SERVER_IP TOKEN VERSION
set -euo pipefail
# shellcheck source=vagrant/provision/lib.sh
source "$(dirname "$0")/lib.sh"
ip=$1 server=$2 token=$3 version=$4
iface=$(iface_of "$ip")
[[ -n $iface ]] || { echo "no interface holds $ip" >&2; exit 1; }
# The agent waits for the server itself; this only waits for its API port to answer.
wait_for 1200 curl -sk "https://$server:6443/ping"
K3S_URL="https://$server:6443" K3S_TOKEN="$token" install_k3s "$version" agent \
  --node-ip "$ip" --flannel-iface "$iface"
echo "k3s agent up on $ip ($iface), server $server"
