/**
 * The README's code blocks that name a file are verbatim copies of that file,
 * and those files run: a README example cannot drift from tested code.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./support/reference.js";

const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
const blocks = [...readme.matchAll(/```ts\n\/\/ (examples\/[\w/.-]+\.ts)\n([\s\S]*?)```/g)].map((m) => ({ path: m[1]!, body: m[2]! }));

test("README names example files and quotes them verbatim", () => {
  assert.ok(blocks.length >= 2, "README quotes at least the quick start and the calculator service");
  for (const { path, body } of blocks) {
    assert.equal(body, readFileSync(join(repoRoot, path), "utf8"), `README block for ${path} differs from the file`);
  }
});

const run = (rel: string) => execFileSync(process.execPath, [join(repoRoot, "dist", rel)], { encoding: "utf8", timeout: 30_000 });

test("the quick start runs and prints what the README says", () => {
  const out = run("examples/quickstart.js");
  assert.match(out, /^5$/m);
  assert.match(out, /\[INFO\] greeting Ada/);
  assert.match(out, /^Hello, Ada!$/m);
});

test("the calculator example runs over a subprocess", () => {
  const out = run("examples/calculator/client.js");
  assert.match(out, /add\(2, 3\) = 5/);
  assert.match(out, /divide\(1, 0\) failed remotely \(ZeroDivisionError\): ZeroDivisionError: division by zero/);
  assert.match(out, /header: first 10 Fibonacci numbers/);
  assert.match(out, /fibonacci: 0, 1, 1, 2, 3, 5, 8, 13, 21, 34/);
  assert.match(out, /total = 14\.25/);
});
