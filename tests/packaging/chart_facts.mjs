// What the chart promises, checked on what it renders for one values file (helm template output
// on stdin): the DaemonSet's privileges and placement, its upgrade and shutdown timing, the RBAC
// it asks for, and an agent config that says what the values say.
//   helm template wsteer helm/wsteer -n wsteer -f VALUES | node chart_facts.mjs CHART VALUES
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const modules = process.env.WSTEER_NODE_MODULES ?? path.resolve(here, "../../.tools/node/node_modules");
if (!existsSync(path.join(modules, "yaml"))) {
  console.error(`chart_facts.mjs: no yaml package under ${modules}: run scripts/install-deps.sh`);
  process.exit(2);
}
const YAML = await import(pathToFileURL(path.join(modules, "yaml/dist/index.js")).href);

const [chart, valuesFile] = process.argv.slice(2);
// Helm's merge: maps merge key by key, anything else (lists included) is replaced.
const isMap = (x) => x !== null && typeof x === "object" && !Array.isArray(x);
const merge = (base, over) => {
  if (!isMap(base) || !isMap(over)) return over === undefined ? base : over;
  const out = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = merge(base[k], v);
  return out;
};
const values = merge(
  YAML.parse(readFileSync(path.join(chart, "values.yaml"), "utf8")),
  YAML.parse(readFileSync(valuesFile, "utf8")) ?? {},
);

const objects = YAML.parseAllDocuments(readFileSync(0, "utf8")).map((d) => d.toJS()).filter(Boolean);
const find = (kind) => objects.filter((o) => o.kind === kind);
let problems = 0;
const check = (what, ok, detail = "") => {
  if (ok) console.log(`ok   ${what}`);
  else {
    problems++;
    console.error(`FAIL ${what}${detail ? ": " + detail : ""}`);
  }
};
// Deep equality, key order aside (toYaml sorts map keys).
const canonical = (x) => (Array.isArray(x) ? x.map(canonical) : isMap(x)
  ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, canonical(x[k])])) : x);
const same = (a, b) => JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));

const [ds] = find("DaemonSet");
const pod = ds.spec.template.spec;
const [agent] = pod.containers;
const sc = agent.securityContext;
check("host network, with cluster DNS", pod.hostNetwork === true && pod.dnsPolicy === "ClusterFirstWithHostNet");
check("root, read-only root filesystem, no privilege", sc.runAsUser === 0 && sc.readOnlyRootFilesystem === true &&
  sc.privileged === false && sc.allowPrivilegeEscalation === false);
check("every capability dropped but the values' ones", same(sc.capabilities.drop, ["ALL"]) &&
  same(sc.capabilities.add ?? [], values.capabilities), JSON.stringify(sc.capabilities));
check("no container ports (host ports would block the surge pod)", agent.ports === undefined);
const volume = (name) => pod.volumes.find((v) => v.name === name);
const mount = (name) => agent.volumeMounts.find((m) => m.name === name);
check("the node's bpffs mounted at /sys/fs/bpf", volume("bpffs")?.hostPath?.path === "/sys/fs/bpf" &&
  mount("bpffs")?.mountPath === "/sys/fs/bpf");
check(`the control socket's /run/wsteer is ${values.controlSocketHostPath ? "the host's " + values.controlSocketHostPath : "an emptyDir"}`,
  (values.controlSocketHostPath ? volume("run")?.hostPath?.path === values.controlSocketHostPath : volume("run")?.emptyDir !== undefined) &&
  mount("run")?.mountPath === "/run/wsteer");
check("liveness /healthz and readiness /readyz on the metrics port",
  agent.livenessProbe.httpGet.path === "/healthz" && agent.readinessProbe.httpGet.path === "/readyz" &&
  agent.livenessProbe.httpGet.port === values.metrics.port && agent.readinessProbe.httpGet.port === values.metrics.port);
check("resources are the values'", same(agent.resources, values.resources));
check(`hand-off ${values.handoff ? "on: --takeover and --idle-after-handoff, control socket on the host" : "off"}`,
  values.handoff ? agent.args.includes("--takeover") && agent.args.includes("--idle-after-handoff") &&
    volume("run")?.hostPath?.path === values.controlSocketHostPath
    : !agent.args.includes("--takeover"));
check("rolling update with surge", ds.spec.updateStrategy.type === "RollingUpdate" &&
  same(ds.spec.updateStrategy.rollingUpdate, values.updateStrategy));
check("on Linux nodes only, plus the values' selector", same(pod.nodeSelector, { "kubernetes.io/os": "linux", ...values.nodeSelector }));
check("the values' tolerations", same(pod.tolerations ?? [], values.tolerations));

const cm = find("ConfigMap").find((c) => c.data?.["config.yaml"]);
const configText = cm.data["config.yaml"];
const config = YAML.parse(configText, { uniqueKeys: true });
check("the pod reads the ConfigMap's config.yaml", volume("config")?.configMap?.name === cm.metadata.name &&
  agent.args.includes(`--config=${mount("config").mountPath}/config.yaml`));
const checksum = createHash("sha256").update(configText.replace(/\n$/, "")).digest("hex");
check("the pod template carries the config's checksum (a change rolls the pods)",
  ds.spec.template.metadata.annotations["checksum/config"] === checksum);
check("terminationGracePeriodSeconds > the agent's shutdown-grace",
  pod.terminationGracePeriodSeconds > config["shutdown-grace"] && config["shutdown-grace"] === values.shutdownGrace);

const host = (addr, port) => (addr.includes(":") ? `[${addr}]:${port}` : `${addr}:${port}`);
check("one agent service per values service, same Service, port and listen port",
  same(config.services.map((s) => [s.service, s.port ?? "", s.listen, s["hash-key"] ?? []]),
       values.services.map((s) => [`${s.namespace}/${s.name}`, String(s.port ?? ""), host(values.listenAddress, s.listenPort), s.hashKey ?? []])),
  JSON.stringify(config.services));
check("global settings are the values'", same(
  [config["hash-key"] ?? [], config["balance-factor"], config["maglev-size"], config["splice-buffer-limit"], config.datapath,
   config["log-level"], config["log-format"], config.workers ?? 0, config.bpffs, config["metrics-listen"]],
  [values.hashKey, values.balanceFactor, values.maglevSize, values.spliceBufferLimit, values.datapath,
   values.logLevel, values.logFormat, values.workers, values.bpffsPath, host(values.metrics.listenAddress, values.metrics.port)]));
if (values.stickyCookie.enabled) {
  const c = values.stickyCookie;
  const secret = volume("cookie-secret")?.secret;
  const item = secret?.items?.find((i) => i.key === c.secretKey);
  check("sticky cookie settings are the values'", same(
    [config["sticky-cookie"], config["cookie-path"], config["cookie-max-age"], config["cookie-same-site"], config["cookie-secure"], config["cookie-http-only"]],
    [c.name, c.path, c.maxAge, c.sameSite, c.secure, c.httpOnly]));
  check("the cookie secret file is the Secret's key, mounted read-only",
    secret?.secretName === c.secretName && item !== undefined && mount("cookie-secret")?.readOnly === true &&
    config["cookie-secret-file"] === `${mount("cookie-secret").mountPath}/${item.path}`);
} else {
  check("no sticky cookie, no secret", config["sticky-cookie"] === undefined && volume("cookie-secret") === undefined);
}

const [role] = find("ClusterRole");
check("RBAC: EndpointSlices get/list/watch and nothing else", same(role.rules,
  [{ apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["get", "list", "watch"] }]));
const [binding] = find("ClusterRoleBinding");
const [sa] = find("ServiceAccount");
check("the binding gives that role to the pods' ServiceAccount", binding.roleRef.name === role.metadata.name &&
  binding.subjects[0].name === sa.metadata.name && pod.serviceAccountName === sa.metadata.name);

const svc = find("Service").find((s) => s.spec.ports.some((p) => p.name === "metrics"));
check("a headless metrics Service selecting the agents", svc?.spec.clusterIP === "None" &&
  Object.entries(svc.spec.selector).every(([k, v]) => ds.spec.template.metadata.labels[k] === v) &&
  svc.spec.ports[0].port === values.metrics.port);
const [monitor] = find("ServiceMonitor");
check(`ServiceMonitor ${values.metrics.serviceMonitor.enabled ? "selects the metrics Service" : "absent"}`,
  values.metrics.serviceMonitor.enabled
    ? Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => svc.metadata.labels[k] === v) &&
        monitor.spec.endpoints[0].port === "metrics"
    : monitor === undefined);
const dashboard = find("ConfigMap").find((c) => c.data?.["wsteer.json"]);
check(`Grafana dashboard ${values.grafanaDashboard.enabled ? "carries dashboards/wsteer.json" : "absent"}`,
  values.grafanaDashboard.enabled
    ? dashboard.metadata.labels.grafana_dashboard === "1" &&
        same(JSON.parse(dashboard.data["wsteer.json"]), JSON.parse(readFileSync(path.join(chart, "dashboards/wsteer.json"), "utf8")))
    : dashboard === undefined);

// Scaling (issue 12): what the agent is told, the identity it gets, and the RBAC that comes with it
// (only with it). The defaults here are the agent's (docs/scaling.md), written out independently
// of the chart's templates.
const scalingDefaults = { mode: "patch", kind: "Deployment", minReplicas: 1, pods: 4, percent: 100,
  scaleDownWindow: "5m", reportStaleAfter: "30s", tolerance: 0.1 };
const scaled = values.services.filter((s) => s.scaling?.enabled === true).map((s) => {
  const c = s.scaling;
  const kind = c.target.kind ?? scalingDefaults.kind;
  return {
    entry: s, service: `${s.namespace}/${s.name}`, namespace: s.namespace, kind, name: c.target.name,
    mode: c.mode ?? scalingDefaults.mode, perPod: c.targetConnectionsPerPod,
    min: c.minReplicas ?? scalingDefaults.minReplicas, max: c.maxReplicas,
    pods: c.scaleUpStep?.pods ?? scalingDefaults.pods, percent: c.scaleUpStep?.percent ?? scalingDefaults.percent,
    window: c.scaleDownWindow ?? scalingDefaults.scaleDownWindow, stale: c.reportStaleAfter ?? scalingDefaults.reportStaleAfter,
    tolerance: c.tolerance ?? scalingDefaults.tolerance,
    lease: `wsteer-scaler.${kind.toLowerCase()}.${s.namespace}.${c.target.name}`,
  };
});
const scalingOn = scaled.length > 0;
const seconds = (d) => typeof d === "number" ? d
  : [...String(d).matchAll(/([0-9]+)([hms]?)/g)].reduce((t, [, n, u]) => t + Number(n) * ({ h: 3600, m: 60 }[u] ?? 1), 0);
check(`a scaling block exactly for the ${scaled.length} services with scaling on`, same(
  config.services.map((s) => s.scaling ?? null),
  values.services.map((s) => {
    const t = scaled.find((x) => x.entry === s);
    return t ? { enabled: true, mode: t.mode, target: { kind: t.kind, name: t.name }, "target-connections-per-pod": t.perPod,
      "min-replicas": t.min, "max-replicas": t.max, "scale-up-step": { pods: t.pods, percent: t.percent },
      "scale-down-window": t.window, "report-stale-after": t.stale, tolerance: t.tolerance } : null;
  })), JSON.stringify(config.services.map((s) => s.scaling)));
const metricsSvcName = `${ds.metadata.name}-metrics`;
const env = Object.fromEntries((agent.env ?? []).map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]));
check("no pod-name or pod-namespace in the config (the agent reads POD_NAME, POD_NAMESPACE)",
  config["pod-name"] === undefined && config["pod-namespace"] === undefined);
if (scalingOn) {
  check("POD_NAME and POD_NAMESPACE from the downward API", env.POD_NAME === "metadata.name" &&
    env.POD_NAMESPACE === "metadata.namespace", JSON.stringify(agent.env));
  const peers = find("Service").find((s) => `${s.metadata.namespace}/${s.metadata.name}` === config["peers-service"]);
  check("peers-service is the headless metrics Service, port named metrics, selecting the agents",
    config["peers-service"] === `wsteer/${metricsSvcName}` && peers?.spec.clusterIP === "None" &&
    peers.spec.ports.some((p) => p.name === "metrics") &&
    Object.entries(peers.spec.selector).every(([k, v]) => ds.spec.template.metadata.labels[k] === v), config["peers-service"]);
  check("scaler-sync-period is the values'", String(config["scaler-sync-period"]) === String(values.scaler.syncPeriod));
} else {
  check("scaling off: no pod env, no peers-service, no scaler-sync-period", agent.env === undefined &&
    config["peers-service"] === undefined && config["scaler-sync-period"] === undefined);
}
const r = values.rebalance;
check(`rebalance ${r.above > 0 ? "settings are the values'" : "off: no rebalance keys"}`, r.above > 0
  ? config["rebalance-above"] === r.above && config["rebalance-rate"] === r.rate && String(config["rebalance-min-age"]) === String(r.minAge) &&
    String(config["rebalance-close-timeout"]) === String(r.closeTimeout)
  : Object.keys(config).every((k) => !k.startsWith("rebalance-")));

// RBAC: Roles exist only for scaling, and name exactly the Leases and the targets.
const roles = find("Role");
const roleBindings = find("RoleBinding");
const bound = (role) => roleBindings.some((b) => b.metadata.namespace === role.metadata.namespace &&
  b.roleRef.kind === "Role" && b.roleRef.name === role.metadata.name &&
  same(b.subjects, [{ kind: "ServiceAccount", name: sa.metadata.name, namespace: "wsteer" }]));
if (!scalingOn || values.rbac.create === false) {
  check("no Role or RoleBinding (scaling off or rbac.create false)", roles.length === 0 && roleBindings.length === 0,
    roles.map((x) => x.metadata.name).join(", "));
} else {
  const leases = [...new Set(scaled.map((t) => t.lease))].sort();
  const leaseRole = roles.find((x) => x.metadata.namespace === "wsteer" && x.rules.some((rule) => rule.resources.includes("leases")));
  check("a Role in the release namespace: leases create, get/update of the scalers' Leases only", leaseRole !== undefined && same(leaseRole.rules, [
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: leases, verbs: ["get", "update"] },
  ]) && bound(leaseRole), JSON.stringify(leaseRole?.rules));
  const patched = scaled.filter((t) => t.mode === "patch");
  const namespaces = [...new Set(patched.map((t) => t.namespace))].sort();
  const scaleRoles = roles.filter((x) => x !== leaseRole);
  check(`a Role per target namespace of mode patch (${namespaces.join(", ") || "none"}) and no other`,
    same(scaleRoles.map((x) => x.metadata.namespace).sort(), namespaces) && roleBindings.length === roles.length);
  for (const ns of namespaces) {
    const role = scaleRoles.find((x) => x.metadata.namespace === ns);
    const expected = ["deployment", "statefulset"].map((kind) => [kind, [...new Set(patched
      .filter((t) => t.namespace === ns && t.kind.toLowerCase() === kind).map((t) => t.name))].sort()])
      .filter(([, names]) => names.length)
      .map(([kind, names]) => ({ apiGroups: ["apps"], resources: [`${kind}s/scale`], resourceNames: names, verbs: ["get", "patch"] }));
    check(`Role ${ns}: get/patch of the scale subresource of its targets only`, role !== undefined &&
      same(role.rules, expected) && bound(role), JSON.stringify(role?.rules));
  }
}

// KEDA: a ScaledObject per mode-keda target when keda.enabled, calling a Service that answers.
const scaledObjects = find("ScaledObject");
const kedaTargets = values.keda.enabled ? scaled.filter((t) => t.mode === "keda") : [];
check(`${kedaTargets.length} ScaledObject(s), one per mode-keda target`, scaledObjects.length === kedaTargets.length);
for (const t of kedaTargets) {
  const so = scaledObjects.find((o) => o.metadata.namespace === t.namespace && o.spec.scaleTargetRef.name === t.name &&
    o.spec.scaleTargetRef.kind === t.kind);
  const trigger = so?.spec.triggers?.[0];
  let url = null;
  try { url = new URL(trigger.metadata.url); } catch { /* reported below */ }
  const [host, svcNs] = url?.hostname.split(".") ?? [];
  const target = find("Service").find((s) => s.metadata.name === host && s.metadata.namespace === svcNs);
  check(`ScaledObject for ${t.kind} ${t.namespace}/${t.name}: apps/v1 target, min/max, metrics-api on connections`,
    so !== undefined && so.spec.scaleTargetRef.apiVersion === "apps/v1" && so.spec.minReplicaCount === t.min &&
    so.spec.maxReplicaCount === t.max && so.spec.triggers.length === 1 && trigger.type === "metrics-api" &&
    trigger.metadata.valueLocation === "connections" && trigger.metadata.targetValue === String(t.perPod) &&
    so.spec.fallback === undefined, JSON.stringify(so?.spec));
  check(`its URL is /v1/scaling?service=${t.service} on a ClusterIP Service of the agents' metrics port`,
    url?.pathname === "/v1/scaling" && url.searchParams.get("service") === t.service && svcNs === "wsteer" &&
    url.hostname === `${host}.wsteer.svc` && target !== undefined && target.spec.clusterIP !== "None" &&
    Object.entries(target.spec.selector).every(([k, v]) => ds.spec.template.metadata.labels[k] === v) &&
    target.spec.ports.some((p) => p.port === Number(url.port) && (p.targetPort ?? p.port) === values.metrics.port),
    trigger?.metadata.url);
  const behavior = so?.spec.advanced?.horizontalPodAutoscalerConfig?.behavior;
  check("its HPA waits the scaleDownWindow before scaling down", behavior?.scaleDown?.stabilizationWindowSeconds === seconds(t.window));
}
const kedaMode = scaled.some((t) => t.mode === "keda");
check(`Services: ${values.metrics.service.enabled ? "the metrics one" : "none"}${kedaMode ? " and the one KEDA calls" : ""}, no other`,
  find("Service").length === (values.metrics.service.enabled ? 1 : 0) + (kedaMode ? 1 : 0));
if (monitor && scalingOn) {
  const selected = find("Service").filter((s) => Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => s.metadata.labels[k] === v));
  check("the ServiceMonitor selects the metrics Service only (not the one KEDA calls)", selected.length === 1 && selected[0] === svc);
}

console.log(`${problems} problems`);
process.exit(problems ? 1 : 0);
