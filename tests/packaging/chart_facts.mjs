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

console.log(`${problems} problems`);
process.exit(problems ? 1 : 0);
