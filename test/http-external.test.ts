/**
 * Upload URLs and external-location inputs over HTTP, against the
 * reference's fake object storage (a real HTTP service on loopback): the
 * server vends URL pairs from a provider, our client uploads requests over
 * the server's cap and sends pointers, and the server fetches them under its
 * URL policy. (The reference's own suite drives the same server from the
 * Python client: scripts/pytest, TestExternal*.)
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import {
  RpcError,
  createHttpHandler,
  httpCapabilities,
  httpConnect,
  makePointer,
  requestUploadUrls,
  serveHttp,
  type HttpListener,
  type HttpServerOptions,
  type UploadUrlProvider,
} from "../src/node.js";
import { ConformanceService } from "../conformance/service.js";
import { conformanceImpl, conformanceStateClasses } from "../conformance/impl.js";
import { encodeStream } from "../src/wire/ipc.js";
import { requestBatch } from "../src/client/connection.js";
import { t } from "../src/schema/types.js";
import { fakeStorageProvider, onlyLoopbackIp } from "../conformance/fake-storage.js";
import { startWorker, stop, type Worker } from "./support/processes.js";
import { referencePython } from "./support/reference.js";

const TIMEOUT = { timeout: 120_000 };
const PROTOCOL = ConformanceService.name;

let storage: Worker;

/** The fake storage's provider, counting the pairs it vends. */
function storageProvider(base: string, calls: { n: number }): UploadUrlProvider {
  const provider = fakeStorageProvider(base);
  return {
    generateUploadUrl(schema) {
      calls.n++;
      return provider.generateUploadUrl(schema);
    },
  };
}

async function objectCount(): Promise<number> {
  const stats = (await (await fetch(`${storage.base}/_stats`)).json()) as { object_count: number };
  return stats.object_count;
}

async function start(options: HttpServerOptions): Promise<{ listener: HttpListener; url: string }> {
  const handler = createHttpHandler(ConformanceService, conformanceImpl(), { stateClasses: conformanceStateClasses, ...options });
  const listener = await serveHttp(handler, { host: "127.0.0.1", port: 0 });
  return { listener, url: listener.url };
}

/** The request batch of `echo_string(value)`, as our client builds it. */
function echoStringRequest(value: string) {
  const def = ConformanceService.methods.echo_string;
  return requestBatch({
    method: "echo_string",
    protocol: PROTOCOL,
    protocolVersion: ConformanceService.protocolVersion,
    schema: def.paramsSchema,
    columns: [t.string.build([value], "value")],
  });
}

before(async () => {
  storage = await startWorker(referencePython(), ["-m", "vgi_rpc.conformance.fake_storage", "--port", "0"], "/_stats");
});
after(async () => {
  await stop(storage);
});

describe("upload URLs", () => {
  let server: { listener: HttpListener; url: string };
  const calls = { n: 0 };
  before(async () => {
    server = await start({
      uploadUrlProvider: storageProvider(storage.base, calls),
      maxUploadBytes: 1 << 20,
      maxRequestBytes: 4096,
      externalInputs: { urlValidator: onlyLoopbackIp },
    });
  });
  after(async () => {
    await server.listener.close();
  });

  test("capabilities advertise upload URLs and the caps", TIMEOUT, async () => {
    const caps = await httpCapabilities(server.url);
    assert.equal(caps.uploadUrlSupport, true);
    assert.equal(caps.maxUploadBytes, 1 << 20);
    assert.equal(caps.maxRequestBytes, 4096);
  });

  test("requestUploadUrls vends usable, method-bound pairs", TIMEOUT, async () => {
    const before = calls.n;
    const pairs = await requestUploadUrls(server.url, { count: 3 });
    assert.equal(pairs.length, 3);
    assert.equal(calls.n - before, 3);
    for (const p of pairs) {
      assert.match(p.uploadUrl, /^http:\/\/127\.0\.0\.1:\d+\/upload\//);
      assert.match(p.downloadUrl, /^http:\/\/127\.0\.0\.1:\d+\/download\//);
      assert.ok(p.expiresAt.getTime() > Date.now(), "expiry survives the timestamp[us, UTC] round trip");
    }
    const put = await fetch(pairs[0]!.uploadUrl, { method: "PUT", body: "payload" });
    assert.equal(put.status, 204);
    assert.equal(await (await fetch(pairs[0]!.downloadUrl)).text(), "payload");
  });

  test("count is clamped to 1..100", TIMEOUT, async () => {
    assert.equal((await requestUploadUrls(server.url, { count: 0 })).length, 1);
    assert.equal((await requestUploadUrls(server.url, { count: 250 })).length, 100);
  });

  test("a unary request over the cap is uploaded and sent as a pointer", TIMEOUT, async () => {
    const big = randomBytes(20_000).toString("hex"); // incompressible: stays over 4096 bytes
    const objects = await objectCount();
    const c = httpConnect(ConformanceService, server.url);
    assert.equal(await c.echo_string({ value: big }), big);
    assert.equal((await objectCount()) - objects, 1, "the request went through storage");
    assert.equal(await c.echo_string({ value: "small" }), "small");
    assert.equal((await objectCount()) - objects, 1, "small requests stay inline");
  });

  test("an exchange input over the cap is uploaded too, and the stream continues", TIMEOUT, async () => {
    const c = httpConnect(ConformanceService, server.url);
    await using session = await c.exchange_scale({ factor: 2 });
    const values = Array.from({ length: 2000 }, () => Math.random());
    const objects = await objectCount();
    const out = await session.exchange({ value: values });
    assert.deepEqual([...out.getChild("value")!].map(Number), values.map((v) => v * 2));
    assert.equal((await objectCount()) - objects, 1);
    const again = await session.exchange({ value: [1.5] });
    assert.deepEqual([...again.getChild("value")!], [3]);
  });

  test("a request that compresses under the cap but decodes over it is uploaded too (the server caps both)", TIMEOUT, async () => {
    const c = httpConnect(ConformanceService, server.url, { compression: "gzip" });
    const objects = await objectCount();
    const text = "compressible ".repeat(2000);
    assert.equal(await c.echo_string({ value: text }), text);
    assert.equal((await objectCount()) - objects, 1);
  });

  test("externalizeLargeRequests: false surfaces the 413", TIMEOUT, async () => {
    const c = httpConnect(ConformanceService, server.url, { externalizeLargeRequests: false });
    await assert.rejects(c.echo_string({ value: randomBytes(20_000).toString("hex") }), /413/);
  });

  test("a pointer the URL policy refuses is the call's error; the server stays usable", TIMEOUT, async () => {
    const inline = echoStringRequest("x");
    const pointer = makePointer(inline.schema, "http://localhost:1/nowhere?X-Amz-Signature=secret", inline.metadata);
    const res = await fetch(`${server.url}/${PROTOCOL}/echo_string`, {
      method: "POST",
      headers: { "Content-Type": "application/vnd.apache.arrow.stream", "X-VGI-Accept-Encoding": "identity" },
      body: encodeStream(inline.schema, [pointer]) as BodyInit,
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("X-VGI-RPC-Error"), "true");
    const text = new TextDecoder("latin1").decode(await res.arrayBuffer());
    assert.match(text, /URL rejected for http:\/\/localhost:1\/nowhere/);
    assert.doesNotMatch(text, /secret|X-Amz/, "signed query parameters never appear in errors");
    assert.equal(await httpConnect(ConformanceService, server.url).echo_string({ value: "still here" }), "still here");
  });
});

describe("external inputs off", () => {
  test("a pointer batch is refused with 400 when the server resolves none", TIMEOUT, async () => {
    const server = await start({});
    try {
      const inline = echoStringRequest("x");
      const pointer = makePointer(inline.schema, `${storage.base}/download/x`, inline.metadata);
      const res = await fetch(`${server.url}/${PROTOCOL}/echo_string`, {
        method: "POST",
        headers: { "Content-Type": "application/vnd.apache.arrow.stream" },
        body: encodeStream(inline.schema, [pointer]) as BodyInit,
      });
      assert.equal(res.status, 400);
      await res.arrayBuffer();
      const caps = await httpCapabilities(server.url);
      assert.equal(caps.uploadUrlSupport, false);
      await assert.rejects(requestUploadUrls(server.url), (e: unknown) => e instanceof RpcError && e.errorType === "NotSupported");
    } finally {
      await server.listener.close();
    }
  });
});
