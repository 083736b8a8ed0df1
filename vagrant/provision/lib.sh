# Sourced by the lab's provisioning scripts.
# shellcheck shell=bash

# The interface that holds ADDRESS (the lab's private network: eth1 on most boxes, not always).
iface_of() {
  ip -o -4 addr show | awk -v ip="$1" '{ split($4, a, "/"); if (a[1] == ip) { print $2; exit } }'
}

# Runs the k3s installer (get.k3s.io) for VERSION with the given environment and arguments.
install_k3s() {
  local version=$1; shift
  if command -v k3s >/dev/null && k3s --version | grep -qF "${version}"; then
    echo "k3s ${version} is installed"
    return
  fi
  curl -sfL https://get.k3s.io -o /tmp/k3s-install.sh
  INSTALL_K3S_VERSION="$version" sh /tmp/k3s-install.sh "$@"
}

# Waits up to SECONDS for COMMAND to succeed.
wait_for() {
  local seconds=$1; shift
  local end=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < end)) || { echo "timed out after ${seconds}s waiting for: $*" >&2; return 1; }
    sleep 5
  done
}
