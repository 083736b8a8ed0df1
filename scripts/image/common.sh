# Sourced by the image scripts and the image test: names and podman settings shared by all.
# shellcheck shell=bash disable=SC2034  # the names are used by the scripts that source this

WSTEER_IMAGE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WSTEER_ROOT="$(cd "$WSTEER_IMAGE_DIR/../.." && pwd)"
WSTEER_BASE_IMAGE="${WSTEER_BASE_IMAGE:-localhost/wsteer-base:12}"
WSTEER_IMAGE="${WSTEER_IMAGE:-localhost/wsteer-agent:dev}"
export CONTAINERS_CONF="$WSTEER_IMAGE_DIR/containers.conf"

# podman with the settings this machine needs, also when containers.conf is not read (an older
# podman, or CONTAINERS_CONF overridden by the caller): the flags repeat the file.
wsteer_podman() {
  podman --runtime runc --cgroup-manager cgroupfs --events-backend file "$@"
}

wsteer_image_exists() {
  wsteer_podman image exists "$1"
}
