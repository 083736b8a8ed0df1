// Validates every object of a rendered chart (multi-document YAML, a file or stdin) against the
// Kubernetes OpenAPI schemas compiled into kubernetes-models, the prometheus-operator CRDs'
// schemas for monitoring.coreos.com and KEDA's (@kubernetes-models/keda) for keda.sh. Fails on a YAML error (duplicate keys included), on an object
// of a kind it has no schema for, on any schema violation, and on a field the API does not have
// (unknown_fields.mjs). Prints one line per object.
//
//   node tests/packaging/validate.mjs [FILE]   (packages from .tools/node, or $WSTEER_NODE_MODULES)
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import path from "node:path";
import { unknownFields } from "./unknown_fields.mjs";

// The packages live in .tools/node/node_modules (WSTEER_NODE_MODULES), not beside this file.
const here = path.dirname(fileURLToPath(import.meta.url));
const modules = process.env.WSTEER_NODE_MODULES ?? path.resolve(here, "../../.tools/node/node_modules");
if (!existsSync(path.join(modules, "kubernetes-models"))) {
  console.error(`validate.mjs: no kubernetes-models under ${modules}: run scripts/install-deps.sh`);
  process.exit(2);
}
const require = createRequire(path.join(modules, "noop.js"));
const load = async (specifier) => import(pathToFileURL(require.resolve(specifier)).href);
// ESM-only packages: resolve their entry files by path under node_modules.
const importPackageFile = async (pkg, file) => import(pathToFileURL(path.join(modules, pkg, file)).href);

const YAML = await importPackageFile("yaml", "dist/index.js").catch(() => load("yaml"));

// apiVersion -> the module holding its models.
// Core group is "v1"; the others are "group/version", as kubernetes-models lays them out.
const crdPackages = {
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator",
  "keda.sh": "@kubernetes-models/keda",
};
const packageFor = (apiVersion) => crdPackages[apiVersion.split("/").slice(0, -1).join("/")] ?? "kubernetes-models";
// One model file per kind (the group's index would load every model of the group).
const modelsFor = (apiVersion, kind) => importPackageFile(packageFor(apiVersion), `${apiVersion}/${kind}.js`);

const input = readFileSync(process.argv[2] ?? 0, "utf8");
const docs = YAML.parseAllDocuments(input, { uniqueKeys: true, prettyErrors: true });
let failures = 0;
let objects = 0;
const fail = (what, why) => {
  failures++;
  console.error(`FAIL ${what}: ${why}`);
};

for (const [index, doc] of docs.entries()) {
  const where = `document ${index + 1}`;
  if (doc.errors.length) {
    for (const e of doc.errors) fail(where, e.message);
    continue;
  }
  for (const w of doc.warnings) fail(where, w.message);
  const obj = doc.toJS();
  if (obj === null || obj === undefined) continue; // an empty document (e.g. a disabled template)
  objects++;
  if (typeof obj !== "object" || Array.isArray(obj) || !obj.apiVersion || !obj.kind) {
    fail(where, "not a Kubernetes object (apiVersion and kind missing)");
    continue;
  }
  const name = `${obj.kind} ${obj.metadata?.namespace ? obj.metadata.namespace + "/" : ""}${obj.metadata?.name}`;
  let models;
  try {
    if (!/^[A-Za-z0-9]+$/.test(obj.kind) || !/^([a-z0-9.-]+\/)?v[0-9a-z]+$/.test(obj.apiVersion)) throw new Error();
    models = await modelsFor(obj.apiVersion, obj.kind);
  } catch {
    fail(name, `no schema for kind ${obj.kind} in apiVersion ${obj.apiVersion}`);
    continue;
  }
  const Model = models[obj.kind];
  if (typeof Model !== "function" || Model.apiVersion !== obj.apiVersion || Model.kind !== obj.kind) {
    fail(name, `no schema for kind ${obj.kind} in ${obj.apiVersion}`);
    continue;
  }
  if (!obj.metadata?.name) fail(name, "metadata.name is missing");
  const before = failures;
  try {
    new Model(obj).validate();
  } catch (e) {
    const errors = e.errors ?? [{ instancePath: "", message: e.message }];
    for (const err of errors)
      fail(name, `${err.instancePath || "/"} ${err.message}${err.params ? " " + JSON.stringify(err.params) : ""}`);
  }
  const declarations = path.join(modules, packageFor(obj.apiVersion), obj.apiVersion, `${obj.kind}.d.ts`);
  for (const field of unknownFields(obj, declarations, `I${obj.kind}`, modules))
    fail(name, `${field}: unknown field (the API server would refuse or drop it)`);
  if (failures > before) continue;
  console.log(`ok   ${name} (${obj.apiVersion})`);
}

if (objects === 0) fail("input", "no objects rendered");
console.log(`${objects} objects, ${failures} problems`);
process.exit(failures ? 1 : 0);
