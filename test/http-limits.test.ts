/**
 * Request-size limits that are on by default: a real zstd bomb (a streamed
 * frame with no declared size, ~70 KB inflating to 2.2 GB), a frame that
 * declares a 2 GB content size, and a real gzip bomb (~1 MB inflating to
 * 1 GiB) against a real handler behind serveHttp with no limits configured.
 * Each answers 413 while the process's memory stays bounded; the
 * decompressed cap is configurable separately from the wire cap.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { createHttpHandler, type HttpServerOptions } from "../src/http/server.js";
import { serveHttp, type HttpListener } from "../src/transport/http-node.js";
import { DEFAULT_MAX_BODY_BYTES, Headers_ } from "../src/http/headers.js";
import { ConformanceService } from "../conformance/service.js";
import { conformanceImpl } from "../conformance/impl.js";
import { makeBatch } from "../src/wire/batches.js";
import { decodeStreamSync, encodeStream } from "../src/wire/ipc.js";
import { Keys } from "../src/wire/keys.js";
import { zstdStored } from "../src/http/zstd.js";
import { gzipEncode } from "../src/core/compression.js";
import { referencePython } from "./support/reference.js";

const ARROW = "application/vnd.apache.arrow.stream";
const MiB = 1024 * 1024;
const run = promisify(execFile);
/**
 * Decoding holds at most the cap (257 MiB by default) before it stops, plus
 * the decoder's transient buffers: far below the 2.2 GB / 1 GiB the bombs
 * expand to. With a small configured cap the growth stays under 200 MB.
 */
const DEFAULT_BOUND_MIB = DEFAULT_MAX_BODY_BYTES / MiB + 160;

/** A compressed stream of `mib` MiB of zeros, made by the reference's Python (zstd without a declared size, or gzip). */
async function pythonBomb(codec: "zstd" | "gzip", mib: number): Promise<Uint8Array> {
  const compressor =
    codec === "zstd"
      ? "import zstandard; c = zstandard.ZstdCompressor(level=3, write_content_size=False).compressobj()"
      : "import zlib; c = zlib.compressobj(9, zlib.DEFLATED, 31)"; // wbits 31: a gzip member
  const script = `import sys\n${compressor}\nz = bytes(1 << 20)\nout = [c.compress(z) for _ in range(${mib})]\nout.append(c.flush())\nsys.stdout.buffer.write(b''.join(out))`;
  const { stdout } = await run(referencePython(), ["-c", script], { encoding: "buffer", maxBuffer: 16 * MiB });
  return new Uint8Array(stdout);
}

/** A single-segment zstd frame declaring `size` bytes of content, with one tiny RLE block (a lie a decoder must not trust). */
function declaredZstd(size: number): Uint8Array {
  const out = new Uint8Array(4 + 1 + 8 + 4);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0xfd2fb528, true);
  out[4] = (3 << 6) | 0x20; // 8-byte Frame_Content_Size, single segment
  view.setBigUint64(5, BigInt(size), true);
  const header = (16 << 3) | (1 << 1) | 1; // RLE block of 16 bytes, last
  out.set([header & 0xff, (header >> 8) & 0xff, header >> 16, 0x41], 13);
  return out;
}

function echoBody(data: Uint8Array): Uint8Array {
  const def = ConformanceService.methods.echo_bytes;
  const schema = def.paramsSchema;
  const md = new Map([
    [Keys.method, "echo_bytes"],
    [Keys.requestVersion, "1"],
    [Keys.protocol, "ConformanceService"],
    [Keys.protocolVersion, "2.0.0"],
  ]);
  return encodeStream(schema, [makeBatch(schema, [def.params.data.build([data], "data")], 1, md)]);
}

async function start(options: HttpServerOptions = {}): Promise<HttpListener> {
  return serveHttp(createHttpHandler(ConformanceService, conformanceImpl(), options), { host: "127.0.0.1", port: 0 });
}

/** POST `body` and report the status, JSON title and the largest RSS growth seen while it ran. */
async function postMeasured(listener: HttpListener, body: Uint8Array, coding: string | null) {
  (globalThis as { gc?: () => void }).gc?.();
  const base = process.memoryUsage().rss;
  let peak = base;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  try {
    const res = await fetch(`${listener.url}/ConformanceService/echo_bytes`, {
      method: "POST",
      body: body as BodyInit,
      headers: { "Content-Type": ARROW, ...(coding ? { "Content-Encoding": coding } : {}) },
    });
    const text = await res.text();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { status: res.status, text, growthMiB: (peak - base) / MiB };
  } finally {
    clearInterval(sampler);
  }
}

describe("HTTP request limits on by default", () => {
  let listener: HttpListener;
  let zstdBomb: Uint8Array;
  let gzipBomb: Uint8Array;
  before(async () => {
    [listener, zstdBomb, gzipBomb] = await Promise.all([start(), pythonBomb("zstd", 2200), pythonBomb("gzip", 1024)]);
  });
  after(() => listener.close());

  test("the default cap is advertised on every response", async () => {
    const res = await fetch(`${listener.url}/health`, { method: "OPTIONS" });
    assert.equal(res.headers.get(Headers_.maxRequestBytes), String(DEFAULT_MAX_BODY_BYTES));
    assert.equal(DEFAULT_MAX_BODY_BYTES, 256 * MiB + MiB);
  });

  test("a zstd bomb with no declared size → 413, decoding stops at the cap, memory stays bounded", { timeout: 60_000 }, async () => {
    assert.ok(zstdBomb.byteLength < 200_000, `bomb is ${zstdBomb.byteLength} bytes`);
    const r = await postMeasured(listener, zstdBomb, "zstd");
    assert.equal(r.status, 413, r.text.slice(0, 200));
    assert.match(r.text, /after decompression/);
    assert.ok(r.growthMiB < DEFAULT_BOUND_MIB, `RSS grew by ${r.growthMiB.toFixed(0)} MiB`);
  });

  test("a zstd frame declaring 2 GB → 413 before anything is allocated", { timeout: 30_000 }, async () => {
    const r = await postMeasured(listener, declaredZstd(2_000_000_000), "zstd");
    assert.equal(r.status, 413, r.text.slice(0, 200));
    assert.ok(r.growthMiB < 50, `RSS grew by ${r.growthMiB.toFixed(0)} MiB`);
  });

  test("a gzip bomb → 413, memory stays bounded", { timeout: 60_000 }, async () => {
    assert.ok(gzipBomb.byteLength < 1.5 * MiB, `bomb is ${gzipBomb.byteLength} bytes`);
    const r = await postMeasured(listener, gzipBomb, "gzip");
    assert.equal(r.status, 413, r.text.slice(0, 200));
    assert.match(r.text, /after decompression/);
    assert.ok(r.growthMiB < DEFAULT_BOUND_MIB, `RSS grew by ${r.growthMiB.toFixed(0)} MiB`);
  });

  test("with a 32 MiB maxDecompressedBytes both bombs → 413 and RSS grows by < 200 MB", { timeout: 60_000 }, async () => {
    await using small = await start({ maxDecompressedBytes: 32 * MiB });
    for (const [bomb, coding] of [[zstdBomb, "zstd"], [gzipBomb, "gzip"]] as const) {
      const r = await postMeasured(small, bomb, coding);
      assert.equal(r.status, 413, coding);
      assert.ok(r.growthMiB < 200, `${coding}: RSS grew by ${r.growthMiB.toFixed(0)} MiB`);
    }
  });

  test("the server keeps serving after the bombs", async () => {
    const res = await fetch(`${listener.url}/ConformanceService/echo_bytes`, {
      method: "POST",
      body: echoBody(new Uint8Array([1, 2, 3])) as BodyInit,
      headers: { "Content-Type": ARROW },
    });
    assert.equal(res.status, 200);
    const batch = decodeStreamSync(new Uint8Array(await res.arrayBuffer())).batches[0]!;
    assert.deepEqual([...(batch.getChild("result")!.get(0) as Uint8Array)], [1, 2, 3]);
  });
});

describe("maxDecompressedBytes is separate from maxRequestBytes", () => {
  test("a body within both caps is served; one decoding past maxDecompressedBytes is 413; options are validated", { timeout: 30_000 }, async () => {
    await using listener = await start({ maxRequestBytes: 1 * MiB, maxDecompressedBytes: 8 * MiB });
    const caps = await fetch(`${listener.url}/health`, { method: "OPTIONS" });
    assert.equal(caps.headers.get(Headers_.maxRequestBytes), String(1 * MiB), "the smaller cap is advertised");
    await using tighter = await start({ maxDecompressedBytes: 2 * MiB });
    const caps2 = await fetch(`${tighter.url}/health`, { method: "OPTIONS" });
    assert.equal(caps2.headers.get(Headers_.maxRequestBytes), String(2 * MiB));
    const plain = await postMeasured(tighter, echoBody(new Uint8Array(3 * MiB)), null);
    assert.equal(plain.status, 413, "an uncompressed body is held to maxDecompressedBytes too");
    const ok = await postMeasured(listener, gzipEncode(echoBody(new Uint8Array(4 * MiB))), "gzip");
    assert.equal(ok.status, 200);
    const stored = await postMeasured(listener, zstdStored(echoBody(new Uint8Array(4 * MiB))), "zstd");
    assert.equal(stored.status, 413, "a 4 MiB stored zstd frame is over the 1 MiB wire cap");
    const over = await postMeasured(listener, gzipEncode(echoBody(new Uint8Array(9 * MiB))), "gzip");
    assert.equal(over.status, 413);
    assert.match(over.text, /limit of 8388608 bytes/);
    assert.throws(() => createHttpHandler(ConformanceService, conformanceImpl(), { maxDecompressedBytes: 0 }), TypeError);
  });
});
