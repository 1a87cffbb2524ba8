/**
 * The zstd WASM codec's loader: a codec that cannot load is reported once
 * (reason and consequence) and responses fall back to stored frames; the real
 * codec still loads without a word. The failure is simulated by handing
 * `wasmCodecLoader` a failing import, and for real by bundling zstd.ts with
 * esbuild for Node, where `@bokuweb/zstd-wasm` cannot reach its `.wasm` file.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { decompress } from "fzstd";
import { wasmCodec, wasmCodecLoader, zstdCodecFor } from "../src/http/zstd.js";
import { BodyTooLargeError, decodeBody, prepareDecode } from "../src/core/compression.js";
import { loadedZstdWasm } from "../src/core/zstd-wasm.js";
import { repoRoot } from "./support/reference.js";

const data = new TextEncoder().encode("vgi-rpc ".repeat(1000));

test("a WASM codec that fails to load warns once, with the reason and the consequence", async () => {
  const warnings: string[] = [];
  let loads = 0;
  const codec = wasmCodecLoader(
    () => {
      loads++;
      return Promise.reject(new Error("ENOENT: no such file 'zstd.wasm'"));
    },
    (m) => warnings.push(m),
  );
  for (let i = 0; i < 3; i++) assert.equal(await codec(), null);
  assert.equal(loads, 1, "loaded once");
  assert.equal(warnings.length, 1, warnings.join("\n"));
  assert.match(warnings[0]!, /zstd WebAssembly codec .* could not be loaded \(ENOENT: no such file 'zstd\.wasm'\)/);
  assert.match(warnings[0]!, /sent as stored \(uncompressed\) zstd frames/);
});

test("a WASM codec whose init fails warns once too; one that loads says nothing", async () => {
  const warnings: string[] = [];
  const failing = wasmCodecLoader(
    async () => ({ init: () => Promise.reject(new Error("wasm compile failed")), compress: () => new Uint8Array() }),
    (m) => warnings.push(m),
  );
  assert.equal(await failing(), null);
  assert.equal(await failing(), null);
  assert.deepEqual(warnings.length, 1);
  assert.match(warnings[0]!, /\(wasm compile failed\)/);

  const levels: number[] = [];
  const working = wasmCodecLoader(
    async () => ({ default: { init: async () => {}, compress: (d: Uint8Array, level: number) => (levels.push(level), d.slice(0, 1)) } }),
    (m) => warnings.push(m),
  );
  assert.deepEqual(await (await working())!(data), data.slice(0, 1));
  assert.deepEqual(levels, [1], "level 1, as the reference");
  assert.equal(warnings.length, 1, "no warning from a codec that loads");
});

test("the real WASM codec loads on Node without a warning and round-trips", async () => {
  const warn = console.warn;
  const said: unknown[] = [];
  console.warn = (...args: unknown[]) => void said.push(args);
  try {
    const codec = await wasmCodec();
    assert.ok(codec, "the WASM codec loads from node_modules");
    const frame = codec(data);
    assert.ok(frame.byteLength < data.byteLength / 10, `compressed: ${frame.byteLength} bytes`);
    assert.deepEqual(decompress(frame), data);
  } finally {
    console.warn = warn;
  }
  assert.deepEqual(said, []);
});

test("bundled by esbuild for Node (the .wasm left behind), zstd warns once and sends stored frames", { timeout: 60_000 }, async (t) => {
  if ((await zstdCodecFor(data.byteLength)) === "runtime") return t.skip("this Node has zlib zstd: the WASM codec is never loaded");
  const dir = mkdtempSync(join(tmpdir(), "vgi-zstd-bundle-"));
  try {
    const entry = join(dir, "entry.ts");
    writeFileSync(
      entry,
      `import { zstdEncode } from ${JSON.stringify(join(repoRoot, "src", "http", "zstd.ts"))};\n` +
        `const data = new Uint8Array(5000).fill(7);\n` +
        `const frames = [await zstdEncode(data), await zstdEncode(data)];\n` +
        `console.log(JSON.stringify(frames.map((f) => f.byteLength)));\n`,
    );
    const out = join(dir, "out.mjs");
    await build({ entryPoints: [entry], bundle: true, platform: "node", format: "esm", outfile: out, logLevel: "silent" });
    const run = spawnSync(process.execPath, [out], { cwd: dir, encoding: "utf8", timeout: 30_000 });
    assert.equal(run.status, 0, run.stderr);
    const sizes = JSON.parse(run.stdout) as number[];
    assert.ok(sizes.every((n) => n > 5000), `stored frames are larger than the body: ${sizes}`);
    const lines = run.stderr.split("\n").filter((l) => l.includes("zstd WebAssembly codec"));
    assert.equal(lines.length, 1, run.stderr);
    assert.match(lines[0]!, /could not be loaded \(.+\); zstd responses are sent as stored \(uncompressed\) zstd frames/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("large zstd bodies decode through the WASM codec once prepared, with the same result and the same cap", async () => {
  const big = new Uint8Array(new Float64Array(400_000).map((_, k) => k * 0.25).buffer);
  const codec = (await wasmCodec())!;
  const frame = codec(big);
  await prepareDecode(frame, "zstd");
  assert.ok(loadedZstdWasm(), "the runtime's require loads the WASM decoder on Node");
  assert.deepEqual(decodeBody(frame, "zstd", big.byteLength), big);
  assert.deepEqual(decompress(frame), big, "fzstd agrees");
  assert.throws(() => decodeBody(frame, "zstd", big.byteLength - 1), BodyTooLargeError, "a declared size over the cap is refused before decoding");
  // A frame whose blocks end early is refused by both decoders (the WASM one returns nothing).
  assert.throws(() => decodeBody(frame.subarray(0, frame.byteLength - 100), "zstd", big.byteLength), /not valid zstd/);
});
