/**
 * The HTTP handler on Cloudflare's runtime for real: test/fixtures/workerd-worker.ts
 * (a handler created at module scope, exported as `{ fetch: handler }`) is
 * bundled from src by esbuild for workers and run by workerd (the binary the
 * `miniflare` devDependency ships), listening on loopback. This library's
 * `httpConnect` then calls it: a unary call, a producer stream and an exchange
 * whose state travels in tokens (state classes), and a remote error. workerd forbids
 * random values at global scope, so this fails if any id or key is drawn
 * when the handler is built rather than on first use inside a request.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import { httpConnect, RpcError } from "../src/index.js";
import { Calculator } from "../examples/calculator/service.js";
import { repoRoot } from "./support/reference.js";

async function bundleWorker(): Promise<string> {
  const result = await build({
    entryPoints: [join(repoRoot, "test", "fixtures", "workerd-worker.ts")],
    bundle: true,
    format: "esm",
    platform: "browser",
    conditions: ["workerd", "worker", "browser"],
    target: "es2022",
    write: false,
    logLevel: "silent",
    plugins: [
      {
        // The examples import the package by name: bundle the sources, not dist/.
        name: "vgi-rpc-from-src",
        setup(b) {
          b.onResolve({ filter: /^vgi-rpc$/ }, () => ({ path: join(repoRoot, "src", "index.ts") }));
        },
      },
    ],
  });
  assert.deepEqual(result.errors, []);
  return result.outputFiles[0]!.text;
}

test("a handler created at module scope serves unary calls, producer streams and errors on workerd", { timeout: 90_000 }, async () => {
  const script = await bundleWorker();
  const mf = new Miniflare({
    modules: true,
    script,
    compatibilityDate: "2025-01-01",
    host: "127.0.0.1",
    port: 0,
  });
  try {
    const url = await mf.ready;
    assert.equal(url.hostname, "127.0.0.1");
    const calc = httpConnect(Calculator, url.origin, { timeoutMs: 20_000 });
    try {
      assert.equal(await calc.add({ a: 2, b: 3 }), 5);
      const stream = await calc.fibonacci({ count: 6 });
      assert.deepEqual(stream.header, { count: 6, description: "first 6 Fibonacci numbers" });
      const values: bigint[] = [];
      for await (const batch of stream) for (const v of batch.getChild("value")!) values.push(v as bigint);
      assert.deepEqual(values, [0n, 1n, 1n, 2n, 3n, 5n]);
      // An exchange: every turn is a request carrying the previous turn's tokens, so the lazily drawn key holds.
      const session = await calc.runningTotal();
      try {
        for (const [amount, total] of [[1.5, 1.5], [2.5, 4], [6, 10]] as const) {
          const out = await session.exchange({ amount: [amount] });
          assert.deepEqual([...out.getChild("total")!], [total]);
        }
      } finally {
        await session.close();
      }
      await assert.rejects(calc.divide({ a: 1, b: 0 }), (err: unknown) => {
        assert.ok(err instanceof RpcError, String(err));
        assert.equal(err.errorType, "ZeroDivisionError");
        assert.equal(err.message, "division by zero");
        return true;
      });
      // The server's id, taken on first use, stays the same across requests.
      const health = async () => ((await (await fetch(new URL("/health", url))).json()) as { server_id: string }).server_id;
      const id = await health();
      assert.match(id, /^[0-9a-f]{12}$/);
      assert.equal(await health(), id);
    } finally {
      await calc.close();
    }
  } finally {
    await mf.dispose();
  }
});
