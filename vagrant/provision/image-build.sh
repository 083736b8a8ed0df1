#!/usr/bin/env bash
# cp: builds the agent and demo images from the synced checkout with the project's own scripts
# (mmdebstrap base, podman build), imports them into k3s's containerd, and serves the saved
# archive over HTTP on the private network so the workers can load it (image-load.sh).
#   image-build.sh NODE_IP
set -euo pipefail
ip=$1
cd /wsteer
WSTEER_DEPS=containers scripts/install-deps.sh
scripts/image/build.sh
WSTEER_IMAGE=localhost/wsteer-demo:dev scripts/image/build.sh --target demo

out=/srv/wsteer-images
mkdir -p "$out"
rm -f "$out/images.tar" "$out/images.tar.sha256"
# shellcheck source=scripts/image/common.sh
source scripts/image/common.sh
wsteer_podman save -m -o "$out/images.tar.tmp" localhost/wsteer-agent:dev localhost/wsteer-demo:dev
k3s ctr images import "$out/images.tar.tmp"
(cd "$out" && mv images.tar.tmp images.tar && sha256sum images.tar >images.tar.sha256)

# A transient unit, so the server outlives this script and goes away with the next boot.
systemctl stop wsteer-images-http 2>/dev/null || true
systemd-run --unit wsteer-images-http --collect \
  python3 -m http.server 8000 --bind "$ip" --directory "$out"
echo "images imported on cp and served at http://$ip:8000/images.tar"
