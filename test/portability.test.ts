/**
 * The core (everything reachable from the `vgi-rpc` entry point) uses no
 * Node-only module, so it runs on Bun, Deno, browsers and edge runtimes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { repoRoot } from "./support/reference.js";

/** Follow relative imports from the entry point and collect every module specifier. */
function reachable(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    const text = readFileSync(file, "utf8");
    const specs = [...text.matchAll(/(?:import|export)[^"']*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1] ?? m[2]!);
    seen.set(file, specs);
    for (const s of specs) if (s.startsWith(".")) visit(resolve(dirname(file), s.replace(/\.js$/, ".ts")));
  };
  visit(entry);
  return seen;
}

test("the vgi-rpc entry point reaches no node: module and no Node global", () => {
  const modules = reachable(join(repoRoot, "src", "index.ts"));
  assert.ok(modules.size > 10, "the walk found the core modules");
  for (const [file, specs] of modules) {
    for (const s of specs) {
      assert.ok(!s.startsWith("node:") && !["fs", "net", "child_process", "stream", "buffer", "os", "path"].includes(s), `${file} imports ${s}`);
    }
    // Code only: comments may mention processes and buffers.
    const code = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
    assert.doesNotMatch(code, /\b(Buffer\.|process\.|require\(|__dirname)/, `${file} uses a Node global`);
  }
});
