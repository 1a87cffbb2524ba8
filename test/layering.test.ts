/**
 * The layering docs/ARCHITECTURE.md states is the layering the code has: the
 * layer block at the top of that file is parsed, and every relative import in
 * src/ is checked against it — a module imports only from its own folder and
 * the layers listed above its own, folders sharing a line never import each
 * other, no module of src/ imports from outside it (the conformance worker in
 * conformance/ is not published), and no import cycle exists between modules
 * (type imports included).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { repoRoot } from "./support/reference.js";

const SRC = join(repoRoot, "src");
/** Entry points re-export every layer. */
const ENTRY_POINTS = new Set(["index.ts", "node.ts"]);

/** The layers, top first: each a list of paths relative to src/ (folders end with "/"). */
function layers(): string[][] {
  const doc = readFileSync(join(repoRoot, "docs", "ARCHITECTURE.md"), "utf8");
  const block = /```\n([\s\S]*?)```/.exec(doc);
  assert.ok(block, "docs/ARCHITECTURE.md starts with a layer block");
  return block[1]!
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => [...l.matchAll(/(?<=^|\s)src\/(\S*)/g)].map((m) => m[1]!));
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/** Relative imports of a file, resolved to paths relative to src/ (.js → .ts). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s+"(\.[^"]+)"/g)) {
    out.push(relative(SRC, resolve(dirname(file), m[1]!.replace(/\.js$/, ".ts"))));
  }
  return out;
}

function layerOf(path: string, table: string[][]): { line: number; entry: string } | null {
  for (let line = 0; line < table.length; line++) {
    for (const entry of table[line]!) {
      if (entry.endsWith("/") ? path.startsWith(entry) : path === entry) return { line, entry };
    }
  }
  return null;
}

test("every module imports only from its own layer's folder or the layers above it", () => {
  const table = layers();
  assert.ok(table.length >= 8, "the layer block lists the layers");
  const violations: string[] = [];
  for (const file of sources(SRC)) {
    const from = relative(SRC, file);
    if (ENTRY_POINTS.has(from)) continue;
    const own = layerOf(from, table);
    if (!own) {
      violations.push(`${from}: in no layer of docs/ARCHITECTURE.md`);
      continue;
    }
    for (const to of importsOf(file)) {
      const target = layerOf(to, table);
      if (to.startsWith("..")) violations.push(`${from} → ${to}: imports from outside src/ (the published package ships src/ only)`);
      else if (!target) violations.push(`${from} → ${to}: target in no layer`);
      else if (target.line > own.line) violations.push(`${from} → ${to}: imports a layer below its own`);
      else if (target.line === own.line && target.entry !== own.entry) violations.push(`${from} → ${to}: imports a sibling layer (${target.entry})`);
    }
  }
  assert.deepEqual(violations, []);
});

test("no import cycles between modules", () => {
  const graph = new Map<string, string[]>();
  for (const file of sources(SRC)) graph.set(relative(SRC, file), importsOf(file));
  const state = new Map<string, "open" | "done">();
  const cycles: string[] = [];
  const visit = (node: string, path: string[]) => {
    if (state.get(node) === "done") return;
    if (state.get(node) === "open") {
      cycles.push([...path.slice(path.indexOf(node)), node].join(" → "));
      return;
    }
    state.set(node, "open");
    for (const next of graph.get(node) ?? []) visit(next, [...path, node]);
    state.set(node, "done");
  };
  for (const node of graph.keys()) visit(node, []);
  assert.deepEqual(cycles, []);
});
