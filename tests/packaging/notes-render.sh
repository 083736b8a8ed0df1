#!/usr/bin/env bash
# NOTES.txt renders (helm template skips it, and helm install needs a cluster): a copy of the
# chart gets a template that passes NOTES.txt through tpl, and the text must name every listen
# port of the values file.
# Usage: notes-render.sh HELM CHART VALUES_FILE...
set -euo pipefail
helm=$1 chart=$2
shift 2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$chart" "$work/chart"
cp "$work/chart/templates/NOTES.txt" "$work/chart/notes.txt"
cat >"$work/chart/templates/zz-notes.yaml" <<'TPL'
# {{ tpl (.Files.Get "notes.txt") . | replace "\n" "\n# " }}
TPL
status=0
for values in "$@"; do
  if ! notes=$("$helm" template wsteer "$work/chart" --namespace wsteer -f "$values" \
      --show-only templates/zz-notes.yaml 2>&1); then
    echo "FAIL $(basename "$values"): NOTES.txt does not render: $notes" >&2
    status=1
    continue
  fi
  # listenPort values of the file, else the chart's default one.
  ports=$(sed -n 's/^ *listenPort: *\([0-9]*\)$/\1/p' "$values")
  for port in ${ports:-8080}; do
    if [[ $notes != *":$port  ->  Service "* ]]; then
      echo "FAIL $(basename "$values"): NOTES.txt does not show listen port $port:" >&2
      echo "$notes" >&2
      status=1
    fi
  done
  ((status)) || echo "ok   $(basename "$values"): NOTES.txt renders"
done
exit "$status"
