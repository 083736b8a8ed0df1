#!/usr/bin/env bash
# cp, after every node is up: installs the chart, deploys the three-replica echo app and runs the
# client Job, then prints how its connections spread over the pods. Safe to run again
# (vagrant ssh cp -c 'sudo /wsteer/vagrant/provision/deploy.sh').
set -euo pipefail
# shellcheck source=vagrant/provision/lib.sh
source "$(dirname "$0")/lib.sh"
HELM_VERSION="${WSTEER_HELM_VERSION:-v3.16.3}"
export KUBECONFIG=/etc/rancher/k3s/k3s.yaml
kubectl() { k3s kubectl "$@"; }
cd /wsteer

if ! command -v helm >/dev/null || ! helm version --short | grep -qF "$HELM_VERSION"; then
  tmp=$(mktemp -d)
  tgz="helm-$HELM_VERSION-linux-amd64.tar.gz"
  curl -fsSL -o "$tmp/$tgz" "https://get.helm.sh/$tgz"
  curl -fsSL -o "$tmp/$tgz.sha256sum" "https://get.helm.sh/$tgz.sha256sum"
  (cd "$tmp" && sha256sum -c "$tgz.sha256sum")
  tar -xzf "$tmp/$tgz" -C "$tmp"
  install -m 0755 "$tmp/linux-amd64/helm" /usr/local/bin/helm
  rm -rf "$tmp"
fi

echo "== waiting for 3 Ready nodes with the wsteer images"
three_ready() { [[ $(kubectl get nodes --no-headers 2>/dev/null | grep -cw Ready) -ge 3 ]]; }
wait_for 1800 three_ready
kubectl get nodes -o wide

echo "== the echo app (3 replicas, one per node where possible)"
kubectl apply -f vagrant/manifests/echo.yaml
kubectl -n wsteer-lab rollout status deployment/ws-echo --timeout=600s
kubectl -n wsteer-lab get pods -o wide

echo "== the wsteer chart"
helm upgrade --install wsteer helm/wsteer --namespace wsteer --create-namespace \
  -f vagrant/values.yaml --wait --timeout 10m
kubectl -n wsteer get pods -o wide

echo "== the client Job: 300 WebSocket connections through the agent on its own node"
kubectl -n wsteer-lab delete job ws-clients --ignore-not-found --wait=true
kubectl apply -f vagrant/manifests/clients-job.yaml
kubectl -n wsteer-lab wait --for=condition=complete job/ws-clients --timeout=300s || {
  kubectl -n wsteer-lab logs job/ws-clients || true
  exit 1
}
kubectl -n wsteer-lab logs job/ws-clients

echo "== what one agent saw (wsteerctl in its pod)"
agent=$(kubectl -n wsteer get pods -l app.kubernetes.io/instance=wsteer -o name | head -n 1)
kubectl -n wsteer exec "$agent" -- wsteerctl backends || true
