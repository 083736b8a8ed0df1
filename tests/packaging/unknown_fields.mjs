// Unknown-field check for rendered objects. The OpenAPI schemas compiled into kubernetes-models
// accept any extra property, but an API server with strict field validation (kubectl's default)
// refuses one, and a lenient one drops it silently: a typo such as `readinesProbe` would pass the
// schema check and do nothing. The models' TypeScript declarations list every field of every
// type, so this walks an object beside its declarations and reports each property they lack.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

const files = new Map(); // .d.ts path -> parsed { imports, interfaces, aliases, exports }

function stripComments(text) {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
}

// Splits "a; b; { c; d; }; e" at the top-level separators.
function splitTop(body, sep) {
  const parts = [];
  let depth = 0;
  let quote = null;
  let cur = "";
  for (const ch of body) {
    if (quote) {
      if (ch === quote) quote = null;
    } else if (ch === '"' || ch === "'") quote = ch;
    else if ("{<([".includes(ch)) depth++;
    else if ("}>)]".includes(ch)) depth--;
    if (!quote && depth === 0 && ch === sep) {
      parts.push(cur.trim());
      cur = "";
    } else cur += ch;
  }
  if (cur.trim()) parts.push(cur.trim());
  return parts;
}

// The properties of an object type body "{ "a"?: T; ... }": name -> type text. null for an index
// signature map ({ [key: string]: T }), which is returned as { map: T }.
function parseMembers(inner) {
  const props = new Map();
  for (const member of splitTop(inner, ";")) {
    const index = member.match(/^\[\s*\w+\s*:\s*string\s*\]\s*:\s*([\s\S]+)$/);
    if (index) return { map: index[1].trim() };
    const prop = member.match(/^"?([^"?:]+)"?\??\s*:\s*([\s\S]+)$/);
    if (prop) props.set(prop[1], prop[2].trim());
  }
  return { props };
}

// Finds the body of "{ ... }" starting at text[open] === "{".
function braceBody(text, open) {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "{") depth++;
    else if (text[i] === "}" && --depth === 0) return text.slice(open + 1, i);
  }
  throw new Error("unbalanced braces");
}

function parseFile(file) {
  if (files.has(file)) return files.get(file);
  const text = stripComments(readFileSync(file, "utf8"));
  const parsed = { file, imports: new Map(), interfaces: new Map(), aliases: new Map(), exports: new Map() };
  for (const m of text.matchAll(/^import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*"([^"]+)"/gm))
    for (const name of m[1].split(",").map((s) => s.trim()).filter(Boolean))
      parsed.imports.set(name.split(/\s+as\s+/).pop(), { spec: m[2], name: name.split(/\s+as\s+/)[0] });
  for (const m of text.matchAll(/^export\s+interface\s+(\w+)(?:\s+extends\s+([\w\s,]+))?\s*\{/gm)) {
    const body = braceBody(text, m.index + m[0].length - 1);
    const extendsList = (m[2] ?? "").split(",").map((s) => s.trim()).filter(Boolean);
    parsed.interfaces.set(m[1], { ...parseMembers(body), extends: extendsList });
  }
  for (const m of text.matchAll(/^export\s+type\s+(\w+)\s*=\s*([^;]+(?:\{[\s\S]*?\})?[^;]*);/gm)) parsed.aliases.set(m[1], m[2].trim());
  for (const m of text.matchAll(/^export\s+type\s*\{([^}]*)\}/gm))
    for (const pair of m[1].split(",").map((s) => s.trim()).filter(Boolean)) {
      const [local, exported] = pair.split(/\s+as\s+/);
      parsed.exports.set(exported ?? local, local);
    }
  files.set(file, parsed);
  return parsed;
}

function resolveSpec(fromFile, spec, modules) {
  const base = spec.startsWith(".") ? path.resolve(path.dirname(fromFile), spec) : path.join(modules, spec);
  for (const candidate of [base.replace(/\.js$/, ".d.ts"), base + ".d.ts", path.join(base, "index.d.ts")])
    if (existsSync(candidate)) return candidate;
  return null;
}

// A type shape: { kind: "object", fields: name -> { type, file } } | { kind: "map", of } | { kind: "array", of } | { kind: "any" }.
function shapeOf(typeText, file, modules, seen = 0) {
  const t = typeText.trim();
  if (seen > 64) return { kind: "any" };
  const array = t.match(/^Array<([\s\S]+)>$/);
  if (array) return { kind: "array", of: () => shapeOf(array[1], file, modules, seen + 1) };
  if (t.startsWith("{") && t.endsWith("}")) {
    const members = parseMembers(t.slice(1, -1));
    if (members.map) return { kind: "map", of: () => shapeOf(members.map, file, modules, seen + 1) };
    return { kind: "object", fields: new Map([...members.props].map(([k, type]) => [k, { type, file }])) };
  }
  if (!/^\w+$/.test(t)) return { kind: "any" }; // unions, literals: the schema check covers them
  const parsed = parseFile(file);
  if (parsed.interfaces.has(t)) {
    const iface = parsed.interfaces.get(t);
    if (iface.map) return { kind: "map", of: () => shapeOf(iface.map, file, modules, seen + 1) };
    const fields = new Map([...iface.props].map(([k, type]) => [k, { type, file }]));
    for (const base of iface.extends) {
      if (base === "TypeMeta") {
        for (const k of ["apiVersion", "kind"]) fields.set(k, { type: "string", file });
        continue;
      }
      const inherited = shapeOf(base, file, modules, seen + 1);
      if (inherited.kind !== "object") return { kind: "any" };
      for (const [k, f] of inherited.fields) if (!fields.has(k)) fields.set(k, f);
    }
    return { kind: "object", fields };
  }
  if (parsed.aliases.has(t)) return shapeOf(parsed.aliases.get(t), file, modules, seen + 1);
  if (parsed.exports.has(t) && parsed.exports.get(t) !== t) return shapeOf(parsed.exports.get(t), file, modules, seen + 1);
  const imported = parsed.imports.get(t);
  if (imported) {
    const target = resolveSpec(file, imported.spec, modules);
    if (!target) return { kind: "any" };
    const exportedName = imported.name;
    const local = parseFile(target).exports.get(exportedName) ?? exportedName;
    return shapeOf(local, target, modules, seen + 1);
  }
  return { kind: "any" }; // string, number, boolean, any, unknown
}

// Every path in `value` that the declarations do not know, e.g. "/spec/template/spec/bogus".
export function unknownFields(value, declarationFile, interfaceName, modules) {
  const found = [];
  const walk = (v, shape, where) => {
    if (v === null || typeof v !== "object") return;
    if (shape.kind === "array") {
      if (Array.isArray(v)) v.forEach((item, i) => walk(item, shape.of(), `${where}/${i}`));
    } else if (shape.kind === "map") {
      for (const [k, item] of Object.entries(v)) walk(item, shape.of(), `${where}/${k}`);
    } else if (shape.kind === "object" && !Array.isArray(v)) {
      for (const [k, item] of Object.entries(v)) {
        const field = shape.fields.get(k);
        if (!field) found.push(`${where}/${k}`);
        else walk(item, shapeOf(field.type, field.file, modules), `${where}/${k}`);
      }
    }
  };
  walk(value, shapeOf(interfaceName, declarationFile, modules), "");
  return found;
}
