#!/usr/bin/env bash
# Renders the chart with one values file and pipes the manifests into a command (a checker).
# Usage: render-into.sh HELM CHART VALUES_FILE COMMAND [ARG...]
set -euo pipefail
helm=$1 chart=$2 values=$3
shift 3
"$helm" template wsteer "$chart" --namespace wsteer -f "$values" | "$@"
