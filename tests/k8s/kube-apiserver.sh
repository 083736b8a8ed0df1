#!/usr/bin/env bash
# The real-server tier of the Kubernetes tests: etcd (Debian's etcd-server) and a kube-apiserver
# (the binary named by WSTEER_KUBE_APISERVER) on the loopback of the network namespace this runs
# in, with RBAC on and a static admin token. The serving certificate the API server makes for
# itself is the CA the clients verify.
#
#   RUN=DIR kube-apiserver.sh start-etcd | start-apiserver | stop-apiserver | stop-all
#
# Files in RUN: admin-token, certs/apiserver.crt, etcd.log, kube-apiserver.log, *.pid.
set -euo pipefail

run=${RUN:?set RUN to the run folder}
etcd_port=${ETCD_PORT:-2379}
apiserver_port=${APISERVER_PORT:-6443}
mkdir -p "$run/certs"

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS > deadline)); then
      echo "kube-apiserver.sh: $what did not come up" >&2
      return 1
    fi
    sleep 0.2
  done
}

stop_pid() {  # stop_pid NAME
  local file="$run/$1.pid"
  [[ -f $file ]] || return 0
  local pid
  pid=$(cat "$file")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$file"
}

case ${1:-} in
  start-etcd)
    etcd --name wsteer-test --data-dir "$run/etcd" \
      --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
      --listen-peer-urls "http://127.0.0.1:$((etcd_port + 1))" \
      --initial-advertise-peer-urls "http://127.0.0.1:$((etcd_port + 1))" \
      --initial-cluster "wsteer-test=http://127.0.0.1:$((etcd_port + 1))" >"$run/etcd.log" 2>&1 &
    echo $! >"$run/etcd.pid"
    wait_for 20 etcd curl -sf "http://127.0.0.1:$etcd_port/health"
    ;;
  start-apiserver)
    binary=${WSTEER_KUBE_APISERVER:?set WSTEER_KUBE_APISERVER to a kube-apiserver binary}
    if [[ ! -f $run/sa.key ]]; then
      openssl genrsa -out "$run/sa.key" 2048 2>/dev/null
      openssl rsa -in "$run/sa.key" -pubout -out "$run/sa.pub" 2>/dev/null
      openssl rand -hex 16 >"$run/admin-token"
      echo "$(cat "$run/admin-token"),admin,admin,\"system:masters\"" >"$run/tokens.csv"
    fi
    "$binary" --etcd-servers="http://127.0.0.1:$etcd_port" \
      --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$apiserver_port" \
      --cert-dir="$run/certs" --token-auth-file="$run/tokens.csv" --authorization-mode=RBAC \
      --service-account-issuer=https://kubernetes.default.svc \
      --service-account-key-file="$run/sa.pub" --service-account-signing-key-file="$run/sa.key" \
      --service-cluster-ip-range=10.96.0.0/24 --endpoint-reconciler-type=none >"$run/kube-apiserver.log" 2>&1 &
    echo $! >"$run/kube-apiserver.pid"
    wait_for 90 kube-apiserver curl -skf -H "Authorization: Bearer $(cat "$run/admin-token")" \
      "https://127.0.0.1:$apiserver_port/readyz"
    ;;
  stop-apiserver) stop_pid kube-apiserver ;;
  stop-all)
    stop_pid kube-apiserver
    stop_pid etcd
    ;;
  *)
    echo "usage: RUN=DIR $0 start-etcd|start-apiserver|stop-apiserver|stop-all" >&2
    exit 2
    ;;
esac
