#!/usr/bin/env bash
# Writes podman's default seccomp profile with bpf() allowed to CAP_BPF and perf_event_open() to
# CAP_PERFMON, as Docker (23.0) and containerd (1.7) already do in theirs:
#   scripts/image/seccomp.sh OUT.json     then   podman run --security-opt seccomp=OUT.json ...
# Debian 12's podman (containers-common 0.50) allows both only with CAP_SYS_ADMIN, so the agent
# would need SYS_ADMIN or no seccomp at all; this keeps every other rule as it is.
set -euo pipefail
out=${1:?usage: seccomp.sh OUT.json}
default=${WSTEER_SECCOMP_DEFAULT:-/usr/share/containers/seccomp.json}
[[ -r $default ]] || { echo "seccomp.sh: no default profile at $default" >&2; exit 1; }
/usr/bin/python3 - "$default" "$out" <<'PY'
import json, sys

src, out = sys.argv[1], sys.argv[2]
profile = json.load(open(src))
gated = {"bpf": "CAP_BPF", "perf_event_open": "CAP_PERFMON"}
rules = []
for rule in profile["syscalls"]:
    # The deny rule for callers without CAP_SYS_ADMIN: take our two syscalls out of it and deny
    # them below only to callers that have neither CAP_SYS_ADMIN nor their own capability.
    if rule.get("action") == "SCMP_ACT_ERRNO" and rule.get("excludes", {}).get("caps") == ["CAP_SYS_ADMIN"]:
        rule = dict(rule, names=[n for n in rule["names"] if n not in gated])
        if not rule["names"]:
            continue
    rules.append(rule)
for name, cap in gated.items():
    rules.append({"names": [name], "action": "SCMP_ACT_ALLOW", "includes": {"caps": [cap]}, "excludes": {}})
    rules.append({"names": [name], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "errno": "EPERM",
                  "includes": {}, "excludes": {"caps": ["CAP_SYS_ADMIN", cap]}})
profile["syscalls"] = rules
with open(out, "w") as f:
    json.dump(profile, f, indent=1)
PY
