#!/usr/bin/env bash
# validate.mjs must refuse what it is there to catch; otherwise a green render test means nothing.
# Usage: validator-selftest.sh NODE VALIDATE_MJS
set -euo pipefail
node=$1 validate=$2
status=0

# expect NAME ok|fail TEXT: runs the validator on stdin, checks its verdict and that its output has TEXT.
expect() {
  local name=$1 verdict=$2 text=$3 output rc=0
  output=$("$node" "$validate" 2>&1) || rc=$?
  if [[ $verdict == ok && $rc -ne 0 ]] || [[ $verdict == fail && $rc -ne 1 ]] || [[ $output != *"$text"* ]]; then
    echo "FAIL $name: expected $verdict with '$text', got exit $rc:" >&2
    echo "$output" >&2
    status=1
  else
    echo "ok   $name"
  fi
}

good='apiVersion: v1
kind: Service
metadata: {name: m, namespace: wsteer}
spec:
  clusterIP: None
  ports: [{name: metrics, port: 9090}]'

expect "a valid Service passes" ok "1 objects, 0 problems" <<<"$good"
expect "a wrong type fails" fail "/spec/ports/0/port must be integer" <<<"${good/port: 9090/port: \"9090\"}"
expect "an unknown field fails" fail "/spec/clusterIp: unknown field" <<<"${good/clusterIP/clusterIp}"
expect "a nested unknown field fails" fail "/spec/ports/0/targetPrt: unknown field" <<<"${good/port: 9090/port: 9090, targetPrt: 1}"
expect "a missing required field fails" fail "must have required property" <<<'apiVersion: apps/v1
kind: DaemonSet
metadata: {name: d}
spec: {template: {spec: {containers: []}}}'
expect "an unknown kind fails" fail "no schema for kind Deployments" <<<'apiVersion: apps/v1
kind: Deployments
metadata: {name: x}'
expect "an unknown apiVersion fails" fail "no schema for kind Widget in apiVersion example.test/v1" <<<'apiVersion: example.test/v1
kind: Widget
metadata: {name: x}'
expect "a ServiceMonitor typo fails" fail "/spec/endpoints/0/relabellings: unknown field" <<<'apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: x}
spec:
  selector: {matchLabels: {a: b}}
  endpoints: [{port: metrics, relabellings: []}]'
scaled='apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: x, namespace: chat}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: chat}
  minReplicaCount: 1
  maxReplicaCount: 5
  triggers:
    - type: metrics-api
      metadata: {url: "http://a.b.svc:9090/v1/scaling?service=chat/chat", valueLocation: connections, targetValue: "100"}'
expect "a valid ScaledObject passes" ok "1 objects, 0 problems" <<<"$scaled"
expect "a ScaledObject typo fails" fail "/spec/scaleTargetRef/nme: unknown field" <<<"${scaled/name: chat\}/nme: chat\}}"
expect "a ScaledObject wrong type fails" fail "/spec/triggers/0/metadata/targetValue must be string" <<<"${scaled/targetValue: ?100?/targetValue: 100}"
expect "a duplicate key fails" fail "Map keys must be unique" <<<'apiVersion: v1
kind: ConfigMap
metadata: {name: a, name: b}'
expect "empty input fails" fail "no objects rendered" <<<''
exit "$status"
