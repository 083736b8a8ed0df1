#!/usr/bin/env bash
# w1, w2: loads the images that cp built into this node's containerd (k3s ctr images import).
#   image-load.sh CP_IP
set -euo pipefail
# shellcheck source=vagrant/provision/lib.sh
source "$(dirname "$0")/lib.sh"
cp_ip=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# cp may still be compiling (vagrant up provisions the machines in parallel on libvirt).
echo "waiting for the images from cp (built there: this can take a while)"
wait_for 3600 curl -fsS -o "$tmp/images.tar.sha256" "http://$cp_ip:8000/images.tar.sha256"
curl -fsS -o "$tmp/images.tar" "http://$cp_ip:8000/images.tar"
(cd "$tmp" && sha256sum -c images.tar.sha256)
k3s ctr images import "$tmp/images.tar"
echo "images loaded: $(k3s ctr images ls -q | grep -c '^localhost/wsteer-')"
