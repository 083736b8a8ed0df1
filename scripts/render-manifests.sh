#!/usr/bin/env bash
# Renders the plain manifests of k8s/ from the Helm chart helm/wsteer with k8s/values.yaml:
#   k8s/wsteer-daemonset.yaml            Namespace wsteer and everything the agent needs
#   k8s/wsteer-servicemonitor.yaml       the prometheus-operator ServiceMonitor (optional)
#   k8s/grafana-dashboard-configmap.yaml the dashboard for the Grafana sidecar (optional)
#   k8s/grafana-dashboard.json           the dashboard to import by hand (helm/wsteer/dashboards/)
# With --check, renders into a temporary folder and fails (showing the difference) when k8s/ is
# not what the chart renders now. Helm comes from .tools/bin (scripts/install-deps.sh) or $HELM.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
helm=${HELM:-$repo/.tools/bin/helm}
chart=$repo/helm/wsteer
values=$repo/k8s/values.yaml
namespace=wsteer
release=wsteer
generated=(wsteer-daemonset.yaml wsteer-servicemonitor.yaml grafana-dashboard-configmap.yaml grafana-dashboard.json)

check=false
case ${1:-} in
  --check) check=true ;;
  "") ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac
if [[ ! -x $helm ]]; then
  echo "render-manifests: no helm at $helm (run scripts/install-deps.sh)" >&2
  exit 2
fi

header() {
  printf '# Rendered from helm/wsteer with k8s/values.yaml by scripts/render-manifests.sh: do not edit.\n'
  printf '# %s\n' "$@"
}
render() {
  "$helm" template "$release" "$chart" --namespace "$namespace" -f "$values" "$@"
}

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
{
  header "kubectl apply -f k8s/wsteer-daemonset.yaml"
  printf -- '---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n' "$namespace"
  render
} >"$out/wsteer-daemonset.yaml"
{
  header "For the prometheus-operator: kubectl apply -f k8s/wsteer-servicemonitor.yaml"
  render --set metrics.serviceMonitor.enabled=true --show-only templates/servicemonitor.yaml
} >"$out/wsteer-servicemonitor.yaml"
{
  header "For the Grafana sidecar (it loads ConfigMaps labelled grafana_dashboard: \"1\")." \
    "The JSON is k8s/grafana-dashboard.json, a copy of helm/wsteer/dashboards/wsteer.json."
  render --set grafanaDashboard.enabled=true --show-only templates/grafana-dashboard.yaml
} >"$out/grafana-dashboard-configmap.yaml"
cp "$chart/dashboards/wsteer.json" "$out/grafana-dashboard.json"

if $check; then
  status=0
  for f in "${generated[@]}"; do
    if ! diff -u "$repo/k8s/$f" "$out/$f" >"$out/diff" 2>&1; then
      echo "k8s/$f differs from a fresh render of helm/wsteer (run scripts/render-manifests.sh):" >&2
      cat "$out/diff" >&2
      status=1
    fi
  done
  ((status == 0)) && echo "k8s/ matches helm/wsteer rendered with k8s/values.yaml"
  exit "$status"
fi
for f in "${generated[@]}"; do
  cp "$out/$f" "$repo/k8s/$f"
done
echo "rendered ${generated[*]/#/k8s/}"
