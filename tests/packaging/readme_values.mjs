// Every value of the chart is documented: each leaf of helm/wsteer/values.yaml must appear as
// `path` in the first column of a table in helm/wsteer/README.md, and every path the table names
// must exist in values.yaml (no stale rows). Leaves are scalars, empty maps and lists, and lists
// of scalars; a list of maps contributes `list[].key` for each key of its items.
//   node tests/packaging/readme_values.mjs CHART_DIR
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const modules = process.env.WSTEER_NODE_MODULES ?? path.resolve(here, "../../.tools/node/node_modules");
if (!existsSync(path.join(modules, "yaml"))) {
  console.error(`readme_values.mjs: no yaml package under ${modules}: run scripts/install-deps.sh`);
  process.exit(2);
}
const YAML = await import(pathToFileURL(path.join(modules, "yaml/dist/index.js")).href);

const chart = process.argv[2] ?? path.resolve(here, "../../helm/wsteer");
const values = YAML.parse(readFileSync(path.join(chart, "values.yaml"), "utf8"), { uniqueKeys: true });
const readme = readFileSync(path.join(chart, "README.md"), "utf8");

const leaves = new Set();
const paths = new Set();
(function walk(v, at) {
  if (at) paths.add(at);
  const isMap = (x) => x !== null && typeof x === "object" && !Array.isArray(x);
  if (isMap(v) && Object.keys(v).length) {
    for (const [k, child] of Object.entries(v)) walk(child, at ? `${at}.${k}` : k);
  } else if (Array.isArray(v) && v.some(isMap)) {
    const keys = new Map();
    for (const item of v.filter(isMap)) for (const [k, child] of Object.entries(item)) keys.set(k, child);
    for (const [k, child] of keys) walk(child, `${at}[].${k}`);
  } else {
    leaves.add(at);
  }
})(values, "");

// First cells of table rows: | `path` | ... |
const documented = new Set();
for (const m of readme.matchAll(/^\|\s*`([^`]+)`\s*\|/gm)) documented.add(m[1]);

let problems = 0;
for (const leaf of leaves)
  if (!documented.has(leaf)) {
    problems++;
    console.error(`FAIL ${leaf}: a value of values.yaml that README.md does not document`);
  }
for (const row of documented)
  if (!paths.has(row)) {
    problems++;
    console.error(`FAIL ${row}: documented in README.md but not a value of values.yaml`);
  }
console.log(`${leaves.size} values, ${documented.size} documented, ${problems} problems`);
process.exit(problems ? 1 : 0);
