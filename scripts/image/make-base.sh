#!/usr/bin/env bash
# Makes the Debian 12 (bookworm) base image localhost/wsteer-base:12 with mmdebstrap from the
# Debian mirror this machine's apt already uses, and imports it into podman. No registry is
# needed. Does nothing when the image is already there (WSTEER_REBUILD_BASE=1 makes it again).
# Run as root (mmdebstrap's root mode; podman's root storage).
set -euo pipefail
# shellcheck source=scripts/image/common.sh
source "$(dirname "$0")/common.sh"

if wsteer_image_exists "$WSTEER_BASE_IMAGE" && [[ "${WSTEER_REBUILD_BASE:-0}" != 1 ]]; then
  echo "wsteer: $WSTEER_BASE_IMAGE is present"
  exit 0
fi

# The first URI that serves SUITE in the host's apt sources (one-line or deb822 format).
host_mirror() {
  local suite=$1 fallback=$2 f uri
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -r $f ]] || continue
    uri=$(awk -v s="$suite" '$1 == "deb" { for (i = 2; i < NF; i++) if ($i ~ /^[a-z]+:\/\// && $(i + 1) == s) { print $i; exit } }' "$f")
    [[ -n $uri ]] && { echo "$uri"; return; }
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -r $f ]] || continue
    uri=$(awk -v s="$suite" '
      /^$/ { if (found && u != "") { print u; exit } u = ""; found = 0; next }
      $1 == "URIs:" { u = $2 }
      $1 == "Suites:" { for (i = 2; i <= NF; i++) if ($i == s) found = 1 }
      END { if (found && u != "") print u }' "$f" | head -n1)
    [[ -n $uri ]] && { echo "$uri"; return; }
  done
  echo "$fallback"
}

mirror=$(host_mirror bookworm http://deb.debian.org/debian)
security=$(host_mirror bookworm-security http://deb.debian.org/debian-security)
echo "wsteer: building $WSTEER_BASE_IMAGE from $mirror (security: $security)"

tarball=$(mktemp --suffix=.tar)
trap 'rm -f "$tarball"' EXIT

# variant apt: the Essential set plus apt, enough for a Dockerfile's apt-get install.
# Docs, man pages and locales are left out as in debian:12-slim; apt installs no recommends.
mmdebstrap --variant=apt --mode=root --quiet \
  --aptopt='APT::Install-Recommends "false"' \
  --aptopt='Acquire::Languages "none"' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  bookworm "$tarball" \
  "deb $mirror bookworm main" \
  "deb $mirror bookworm-updates main" \
  "deb $security bookworm-security main"

wsteer_podman import --change 'CMD ["/bin/bash"]' "$tarball" "$WSTEER_BASE_IMAGE" >/dev/null
echo "wsteer: imported $WSTEER_BASE_IMAGE ($(du -h "$tarball" | cut -f1) tar)"
