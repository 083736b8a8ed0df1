#!/usr/bin/env bash
# Checks the lab and the container scripts without booting anything:
#  - `vagrant validate` on vagrant/Vagrantfile with the libvirt provider (Debian's vagrant-libvirt
#    checks that block's settings; VirtualBox is not in Debian, so its block is checked only as
#    Ruby, in a second run that ignores provider settings),
#  - shellcheck on every shell script of the image, the lab and this folder.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
for tool in vagrant shellcheck; do
  command -v "$tool" >/dev/null || { echo "FAIL: no $tool (WSTEER_DEPS=lint scripts/install-deps.sh)" >&2; exit 1; }
done
dot=$(mktemp -d)
trap 'rm -rf "$dot"' EXIT
cd "$ROOT/vagrant"
# Vagrant's state (.vagrant/) goes to a temporary folder, not into the checkout.
VAGRANT_DOTFILE_PATH="$dot" VAGRANT_DEFAULT_PROVIDER=libvirt vagrant validate
VAGRANT_DOTFILE_PATH="$dot" vagrant validate --ignore-provider

cd "$ROOT"
mapfile -t scripts < <(ls scripts/install-deps.sh scripts/image/*.sh vagrant/provision/*.sh tests/image/*.sh)
shellcheck -x "${scripts[@]}"
echo "shellcheck: ${#scripts[@]} scripts clean"
