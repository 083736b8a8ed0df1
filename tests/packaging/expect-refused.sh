#!/usr/bin/env bash
# Passes only when `helm template` refuses a bad values file for the reason its header names:
#   # expect-schema: TEXT     values.schema.json must reject it, with TEXT in Helm's message
#   # expect-template: TEXT   a check in the templates (_helpers.tpl) must fail with TEXT
# Usage: expect-refused.sh HELM CHART VALUES_FILE
set -euo pipefail
helm=$1 chart=$2 values=$3

kind="" expected=""
while IFS= read -r line; do
  if [[ $line =~ ^#\ expect-(schema|template):\ (.+)$ ]]; then
    kind=${BASH_REMATCH[1]} expected=${BASH_REMATCH[2]}
    break
  fi
done <"$values"
if [[ -z $kind ]]; then
  echo "FAIL $values: no '# expect-schema:' or '# expect-template:' line" >&2
  exit 1
fi

if output=$("$helm" template refused "$chart" --namespace wsteer -f "$values" 2>&1); then
  echo "FAIL $values: helm rendered it; it must be refused ($kind: $expected)" >&2
  exit 1
fi
case $kind in
  schema) marker="values don't meet the specifications of the schema" ;;
  template) marker="execution error at" ;;
esac
if [[ $output != *"$marker"* || $output != *"$expected"* ]]; then
  echo "FAIL $values: helm refused it, but not with the $kind error expected ('$expected'):" >&2
  echo "$output" >&2
  exit 1
fi
echo "ok   $values refused: $(grep -m1 -F -- "$expected" <<<"$output")"
