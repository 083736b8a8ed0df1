#!/usr/bin/env bash
# The agent accepts the config.yaml the chart's ConfigMap carries, for every values file: renders
# the ConfigMap, extracts config.yaml, points cookie-secret-file at a throwaway secret, and asks
# wsteer-agent to check it without starting (--check-config), with the environment the DaemonSet
# gives it (POD_NAME and POD_NAMESPACE from the downward API, when it sets them).
# Usage: agent-accepts-config.sh HELM CHART WSTEER_AGENT VALUES_FILE...
set -euo pipefail
helm=$1 chart=$2 agent=$3
shift 3
modules=${WSTEER_NODE_MODULES:-$(cd "$(dirname "$0")/../.." && pwd)/.tools/node/node_modules}

if [[ ! -x $agent ]]; then
  echo "FAIL: no agent binary at $agent (build wsteer-agent)" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
head -c 32 /dev/urandom | base64 >"$work/secret"
status=0
for values in "$@"; do
  "$helm" template wsteer "$chart" --namespace wsteer -f "$values" --show-only templates/configmap.yaml >"$work/cm.yaml"
  WSTEER_NODE_MODULES=$modules node --input-type=module -e '
    import { readFileSync, writeFileSync } from "node:fs";
    import path from "node:path";
    import { pathToFileURL } from "node:url";
    const YAML = await import(pathToFileURL(path.join(process.env.WSTEER_NODE_MODULES, "yaml/dist/index.js")).href);
    const [cm, out, secret] = process.argv.slice(1);
    const config = YAML.parse(YAML.parse(readFileSync(cm, "utf8")).data["config.yaml"]);
    if (config["cookie-secret-file"]) config["cookie-secret-file"] = secret;
    writeFileSync(out, YAML.stringify(config));
  ' "$work/cm.yaml" "$work/config.yaml" "$work/secret"
  env=()
  if "$helm" template wsteer "$chart" --namespace wsteer -f "$values" --show-only templates/daemonset.yaml |
    grep -q "name: POD_NAMESPACE"; then
    env=(POD_NAME=wsteer-agent-test POD_NAMESPACE=wsteer)
  fi
  if output=$(env -u POD_NAME -u POD_NAMESPACE "${env[@]}" "$agent" --check-config --config "$work/config.yaml" 2>&1); then
    echo "ok   $(basename "$values"): the agent accepts its config"
  else
    echo "FAIL $(basename "$values"): the agent refuses the rendered config: $output" >&2
    sed 's/^/    /' "$work/config.yaml" >&2
    status=1
  fi
done
exit "$status"
