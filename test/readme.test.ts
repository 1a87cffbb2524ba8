/**
 * The README's code blocks that name a file are verbatim copies of that file,
 * and those files run: a README example cannot drift from tested code.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./support/reference.js";
import { httpConnect } from "../src/index.js";
import { Calculator } from "../examples/calculator/service.js";

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

test("the interceptors example times both sides and carries metadata to the handler", () => {
  const out = run("examples/interceptors.js");
  assert.match(out, /^server: sleep \(call\) from trace 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 took \d+ ms$/m);
  assert.match(out, /^client: sleep took \d+ ms$/m);
  assert.match(out, /^slept 20 ms$/m);
  assert.ok(out.indexOf("server: sleep") < out.indexOf("client: sleep"), "the server interceptor finishes inside the client's");
});

test("the calculator example runs over a subprocess", () => {
  const out = run("examples/calculator/client.js");
  assert.match(out, /add\(2, 3\) = 5/);
  assert.match(out, /divide\(1, 0\) failed remotely \(ZeroDivisionError\): division by zero/);
  assert.match(out, /header: first 10 Fibonacci numbers/);
  assert.match(out, /fibonacci: 0, 1, 1, 2, 3, 5, 8, 13, 21, 34/);
  assert.match(out, /total = 14\.25/);
});

test("the calculator HTTP server example listens where it says and serves httpConnect", { timeout: 60_000 }, async () => {
  const child = spawn(process.execPath, [join(repoRoot, "dist", "examples/calculator/http-server.js")], {
    env: { ...process.env, PORT: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`no 'listening on' line within 15 s; stdout: ${out}; stderr: ${stderr}`)), 15_000);
      child.stdout.setEncoding("utf8").on("data", (d: string) => {
        out += d;
        const m = /^listening on (http:\/\/127\.0\.0\.1:(\d+))$/m.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`server exited (${code}) before listening; stderr: ${stderr}`));
      });
    });
    assert.notEqual(new URL(url).port, "0", "PORT=0 picks a free port and prints it");

    const calc = httpConnect(Calculator, url, { timeoutMs: 10_000 });
    try {
      assert.equal(await calc.add({ a: 2, b: 3 }), 5);
      const fib = await calc.fibonacci({ count: 10 });
      assert.equal(fib.header?.description, "first 10 Fibonacci numbers");
      const values = (await fib.collect()).flatMap((b) => [...(b.getChild("value")!.toArray() as BigInt64Array)]);
      assert.deepEqual(values, [0n, 1n, 1n, 2n, 3n, 5n, 8n, 13n, 21n, 34n]);
      const session = await calc.runningTotal();
      const totals: number[] = [];
      for (const amounts of [[1.5, 2.5], [10], [0.25]]) totals.push((await session.exchange({ amount: amounts })).getChild("total")!.get(0) as number);
      await session.close();
      assert.deepEqual(totals, [4, 14, 14.25]);
    } finally {
      await calc.connection.close();
    }
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  }
});
