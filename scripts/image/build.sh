#!/usr/bin/env bash
# Builds the wsteer-agent image from the project's Dockerfile with podman, on the Debian base that
# make-base.sh makes from the archive (no registry needed): localhost/wsteer-agent:dev.
#   scripts/image/build.sh [extra podman build options]
# WSTEER_IMAGE and WSTEER_BASE_IMAGE override the names; WSTEER_IMAGE_JOBS the compile jobs (2).
# Run as root. apt inside the build uses the host's network (--network host).
set -euo pipefail
# shellcheck source=scripts/image/common.sh
source "$(dirname "$0")/common.sh"

"$WSTEER_IMAGE_DIR/make-base.sh"

start=$(date +%s)
wsteer_podman build \
  --network host \
  --ulimit nofile=16384:16384 --ulimit nproc=4096:4096 \
  --build-arg BASE="$WSTEER_BASE_IMAGE" \
  --build-arg JOBS="${WSTEER_IMAGE_JOBS:-2}" \
  --file "$WSTEER_ROOT/Dockerfile" \
  --tag "$WSTEER_IMAGE" \
  "$@" "$WSTEER_ROOT"
size=$(wsteer_podman image inspect --format '{{.Size}}' "$WSTEER_IMAGE")
echo "wsteer: built $WSTEER_IMAGE in $(($(date +%s) - start)) s, $((size / 1000000)) MB"
